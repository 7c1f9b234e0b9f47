// CPU twins of the CUDA kernels (the emu kernel table of device.h): the device backend's host code runs
// over them unchanged, so a machine without a GPU runs the exact op sequence, dtypes, views and arena
// plan that the GPU runs. Each twin stores its outputs in the device dtype (a bf16 buffer really is 16
// bits) and rounds where its kernel rounds:
//   gemm_nt     operands as stored (bf16 or f32), f32 accumulation, alpha/beta/bias epilogue, one rounding
//               to the output dtype (cuBLASLt: the bias is added in the output type);
//   attention   FlashAttention-2's arithmetic as src/cuda/attention.cu does it: blocks of 64 keys, base-2
//               online softmax in f32, the probabilities rounded to bf16 before P·V, f32 accumulator;
//   layer/group norm, unary, add, copy, rope2d: f32 arithmetic on loaded values, rounded on store.
// Buffers come from this context's own arena, poisoned with NaN on allocation, so a read of memory no op
// wrote shows up. The twins are checks, not a fast path: GEMM uses the threaded CPU GEMM, the rest is
// plain loops; scratch for a kernel's internals is malloc'd per call like a kernel's shared memory would be.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "nn/device.h"

typedef struct emu {
    char *arena;
    size_t cap, used, peak;
    pc_pool *pool;
} emu;

static float ld(const void *p, pc_dtype dt, int64_t i) {
    if (dt == PC_F32) return ((const float *)p)[i];
    if (dt == PC_BF16) return pc_bf16_to_f32(((const uint16_t *)p)[i]);
    return pc_f16_to_f32(((const uint16_t *)p)[i]);
}
static void st(void *p, pc_dtype dt, int64_t i, float v) {
    if (dt == PC_F32)
        ((float *)p)[i] = v;
    else if (dt == PC_BF16)
        ((uint16_t *)p)[i] = pc_f32_to_bf16(v);
    else
        ((uint16_t *)p)[i] = pc_f32_to_f16(v);
}
static int float_dt(pc_dtype dt) { return dt == PC_F32 || dt == PC_BF16 || dt == PC_F16; }

static pc_status e_props(pc_cuda_props *out, int device, pc_error *err) {
    (void)err;
    memset(out, 0, sizeof(*out));
    out->index = device;
    snprintf(out->name, sizeof(out->name), "emulated device (CPU twins of the CUDA kernels)");
    out->cc_major = 9, out->sm_count = 1;
    out->total_bytes = out->free_bytes = (size_t)64 << 30;  // host memory, allocated on use
    return PC_OK;
}

static pc_status e_open(void **ctx, int device, size_t bytes, pc_pool *pool, pc_error *err) {
    (void)device;
    emu *c = (emu *)calloc(1, sizeof(*c));
    if (!c) return pc_err(err, PC_ERR_MEMORY, "emulated device: out of memory");
    c->cap = bytes;
    c->pool = pool;
    c->arena = bytes ? (char *)pc_aligned_alloc((bytes + 255) & ~(size_t)255) : NULL;
    if (bytes && !c->arena) {
        free(c);
        return pc_err(err, PC_ERR_MEMORY, "emulated device: arena of %zu bytes: out of memory", bytes);
    }
    *ctx = c;
    return PC_OK;
}
static void e_close(void *ctx) {
    emu *c = (emu *)ctx;
    if (!c) return;
    pc_aligned_free(c->arena);
    free(c);
}
static pc_status e_alloc(void *ctx, void **p, size_t bytes, pc_error *err) {
    emu *c = (emu *)ctx;
    size_t start = (c->used + 255) & ~(size_t)255;
    if (bytes > c->cap || start > c->cap - bytes)
        return pc_err(err, PC_ERR_MEMORY, "emulated device arena: %zu bytes requested, %zu used of %zu", bytes,
                      c->used, c->cap);
    *p = c->arena + start;
    memset(*p, 0xff, bytes);  // NaN poison
    c->used = start + bytes;
    if (c->used > c->peak) c->peak = c->used;
    return PC_OK;
}
static size_t e_mark(const void *ctx) { return ((const emu *)ctx)->used; }
static void e_reset(void *ctx, size_t m) {
    emu *c = (emu *)ctx;
    if (m <= c->used) c->used = m;
}
static size_t e_cap(const void *ctx) { return ((const emu *)ctx)->cap; }
static size_t e_peak(const void *ctx) { return ((const emu *)ctx)->peak; }
static pc_status e_sync(void *ctx, pc_error *err) {
    (void)ctx, (void)err;
    return PC_OK;
}

static pc_status e_upload(void *ctx, void *dst, pc_dtype ddt, const void *src, pc_dtype sdt, int64_t n,
                          pc_error *err) {
    (void)ctx;
    if (!float_dt(ddt) || !float_dt(sdt)) return pc_err(err, PC_ERR_UNSUPPORTED, "emulated upload: dtype");
    for (int64_t i = 0; i < n; i++) st(dst, ddt, i, ld(src, sdt, i));
    return PC_OK;
}
static pc_status e_download(void *ctx, float *dst, const void *src, pc_dtype sdt, int64_t n, pc_error *err) {
    (void)ctx;
    if (!float_dt(sdt)) return pc_err(err, PC_ERR_UNSUPPORTED, "emulated download: dtype");
    for (int64_t i = 0; i < n; i++) dst[i] = ld(src, sdt, i);
    return PC_OK;
}

static pc_status e_gemm(void *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda, const void *B,
                        int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta, int flags, pc_error *err) {
    (void)flags;
    emu *c = (emu *)ctx;
    if (lda < K || ldb < K || ldc < N) return pc_err(err, PC_ERR_ARG, "emulated gemm: bad leading dimensions");
    float *acc = (float *)pc_aligned_alloc((size_t)(M * N) * sizeof(float));  // (M, N)
    if (!acc) return pc_err(err, PC_ERR_MEMORY, "emulated gemm: out of memory");
    pc_mat a = {A, abdt, lda, 0}, b = {B, abdt, ldb, 1};
    pc_gemm(c->pool, acc, N, a, b, M, N, K, 1.0f, 0.0f, NULL);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float v = alpha * acc[i * N + j];
            if (beta != 0) v += beta * ld(C, cdt, i * ldc + j);
            if (bias) v += cdt == PC_F32 ? bias[j] : pc_bf16_to_f32(pc_f32_to_bf16(bias[j]));
            st(C, cdt, i * ldc + j, v);
        }
    pc_aligned_free(acc);
    return PC_OK;
}

typedef struct attn_job {
    pc_cuda_attn_view o, q, k, v;
    int64_t B, H, Nq, Nk, D;
    float scale_log2;
    int fail;
} attn_job;

static void attn_task(void *p, int ith, int nth) {
    attn_job *j = (attn_job *)p;
    const int64_t D = j->D, BK = 64;
    float *q = (float *)malloc((size_t)(3 * D + BK) * sizeof(float));
    if (!q) {
        j->fail = 1;
        return;
    }
    float *o = q + D, *pv = o + D, *s = pv + D;
    int64_t r0, r1;
    pc_split_range(j->B * j->H * j->Nq, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r % j->Nq, bh = r / j->Nq, h = bh % j->H, b = bh / j->H;
        for (int64_t d = 0; d < D; d++) q[d] = ld(j->q.data, j->q.dtype, b * j->q.sb + h * j->q.sh + n * j->q.sn + d);
        for (int64_t d = 0; d < D; d++) o[d] = 0;
        float m = -INFINITY, l = 0;
        for (int64_t k0 = 0; k0 < j->Nk; k0 += BK) {
            int64_t nk = PC_MIN(BK, j->Nk - k0);
            float mx = -INFINITY;
            for (int64_t t = 0; t < nk; t++) {
                int64_t kb = b * j->k.sb + h * j->k.sh + (k0 + t) * j->k.sn;
                float acc = 0;
                for (int64_t d = 0; d < D; d++) acc += q[d] * ld(j->k.data, j->k.dtype, kb + d);
                s[t] = acc * j->scale_log2;
                mx = fmaxf(mx, s[t]);
            }
            float m_new = fmaxf(m, mx), alpha = exp2f(m - m_new), sum = 0;
            for (int64_t d = 0; d < D; d++) pv[d] = 0;
            for (int64_t t = 0; t < nk; t++) {
                float pr = exp2f(s[t] - m_new);
                sum += pr;
                float pb = pc_bf16_to_f32(pc_f32_to_bf16(pr));  // P is bf16 for the tensor-core P·V
                int64_t vb = b * j->v.sb + h * j->v.sh + (k0 + t) * j->v.sn;
                for (int64_t d = 0; d < D; d++) pv[d] += pb * ld(j->v.data, j->v.dtype, vb + d);
            }
            l = l * alpha + sum;
            m = m_new;
            for (int64_t d = 0; d < D; d++) o[d] = o[d] * alpha + pv[d];
        }
        for (int64_t d = 0; d < D; d++)
            st(j->o.data, j->o.dtype, b * j->o.sb + h * j->o.sh + n * j->o.sn + d, o[d] / l);
    }
    free(q);
}

static pc_status e_attn(void *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                        pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale,
                        pc_error *err) {
    emu *c = (emu *)ctx;
    if (D != 32 && D != 64 && D != 128)
        return pc_err(err, PC_ERR_UNSUPPORTED, "emulated attention: head dim %lld (the kernel has 32, 64, 128)",
                      (long long)D);
    if (q.dtype != PC_BF16 || k.dtype != PC_BF16 || v.dtype != PC_BF16)
        return pc_err(err, PC_ERR_UNSUPPORTED, "emulated attention: q, k, v must be bf16 (as the kernel's)");
    if (Nk <= 0) return pc_err(err, PC_ERR_ARG, "emulated attention: no keys");
    attn_job j = {o, q, k, v, B, H, Nq, Nk, D, scale * 1.4426950408889634f, 0};
    pc_pool_run(c->pool, attn_task, &j);
    return j.fail ? pc_err(err, PC_ERR_MEMORY, "emulated attention: out of memory") : PC_OK;
}

static pc_status e_rope(void *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D, int64_t grid_w,
                        float base, pc_error *err) {
    (void)ctx, (void)err;
    int64_t d = D / 2, q = d / 2;
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                for (int half = 0; half < 2; half++) {
                    float p = half ? (float)(n % grid_w) : (float)(n / grid_w);
                    int64_t at = b * t.sb + h * t.sh + n * t.sn + half * d;
                    for (int64_t i = 0; i < q; i++) {
                        float ang = p * (1.0f / powf(base, (float)(2 * i) / (float)d));
                        float c = cosf(ang), s = sinf(ang);
                        float a = ld(t.data, t.dtype, at + i), bb = ld(t.data, t.dtype, at + i + q);
                        st(t.data, t.dtype, at + i, a * c - bb * s);
                        st(t.data, t.dtype, at + i + q, bb * c + a * s);
                    }
                }
    return PC_OK;
}

static pc_status e_ln(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                      const float *beta, int64_t M, int64_t C, float eps, pc_error *err) {
    (void)ctx;
    float *row = (float *)malloc((size_t)C * 2 * sizeof(float));
    if (!row) return pc_err(err, PC_ERR_MEMORY, "emulated layer norm: out of memory");
    for (int64_t m = 0; m < M; m++) {
        for (int64_t c = 0; c < C; c++) row[c] = ld(x, xdt, m * C + c);
        pc_layer_norm_ref(row + C, row, gamma, beta, 1, C, eps);
        for (int64_t c = 0; c < C; c++) st(y, ydt, m * C + c, row[C + c]);
    }
    free(row);
    return PC_OK;
}

static pc_status e_gn(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                      const float *beta, int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu,
                      pc_error *err) {
    (void)ctx;
    int64_t n = C * S;
    float *buf = (float *)malloc((size_t)n * 2 * sizeof(float));
    if (!buf) return pc_err(err, PC_ERR_MEMORY, "emulated group norm: out of memory");
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < n; i++) buf[i] = ld(x, xdt, b * n + i);
        pc_group_norm_ref(buf + n, buf, gamma, beta, 1, C, S, G, eps, silu);
        for (int64_t i = 0; i < n; i++) st(y, ydt, b * n + i, buf[n + i]);
    }
    free(buf);
    return PC_OK;
}

static pc_status e_unary(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n,
                         pc_cuda_unary_op op, pc_error *err) {
    (void)ctx, (void)err;
    for (int64_t i = 0; i < n; i++) {
        float v = ld(x, xdt, i);
        if (op == PC_CUDA_GELU) v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        if (op == PC_CUDA_SILU) v = v / (1.0f + expf(-v));
        if (op == PC_CUDA_RELU) v = v > 0.0f ? v : 0.0f;
        st(y, ydt, i, v);
    }
    return PC_OK;
}

static pc_status e_add(void *ctx, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b, pc_dtype bdt,
                       int64_t n, pc_error *err) {
    (void)ctx, (void)err;
    for (int64_t i = 0; i < n; i++) st(y, ydt, i, ld(a, adt, i) + ld(b, bdt, i));
    return PC_OK;
}

static pc_status e_copy(void *ctx, void *y, pc_dtype ydt, const int64_t *ys, const void *x, pc_dtype xdt,
                        const int64_t *xs, const int64_t *dims, int ndim, pc_error *err) {
    (void)ctx;
    if (ndim < 1 || ndim > PC_CUDA_COPY_MAXDIM) return pc_err(err, PC_ERR_ARG, "emulated copy: ndim %d", ndim);
    int64_t total = 1;
    for (int k = 0; k < ndim; k++) total *= dims[k];
    for (int64_t i = 0; i < total; i++) {  // the kernel's index walk: last dim fastest
        int64_t r = i, oy = 0, ox = 0;
        for (int k = ndim - 1; k >= 0; k--) {
            int64_t idx = r % dims[k];
            r /= dims[k];
            oy += idx * ys[k];
            ox += idx * xs[k];
        }
        st(y, ydt, oy, ld(x, xdt, ox));
    }
    return PC_OK;
}

const pc_nn_devk pc_nn_devk_emu = {
    "emu",  e_open,   e_close,    e_props, e_alloc, e_mark, e_reset, e_cap,   e_peak, e_sync,
    e_upload, e_download, e_gemm, e_attn,  e_rope,  e_ln,   e_gn,    e_unary, e_add,  e_copy,
};
