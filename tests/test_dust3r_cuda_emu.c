// tests/test_dust3r_cuda.c's golden check run WITHOUT a GPU, against a host emulation of the CUDA backend
// API (include/posecrafter/cuda.h + src/cuda/cuda_backend.h) defined below. The emulation stores device
// buffers in their device dtypes (bf16 really is 16 bits) and rounds where the GPU kernels round (GEMM
// outputs, LayerNorm / GELU / RoPE outputs, uploads), with f32 accumulation; it does not round the
// attention probabilities to bf16 (the GPU kernel does). So it checks the host side of
// src/models/dust3r_cuda.c - weight upload and fusion, arena planning (dry run vs real run), strides and
// offsets of the q/k/v views, RoPE grid positions, residual accumulation, downloads and traces - and
// measures the error that bf16 activations alone cause against the golden dump. It proves nothing about
// the CUDA kernels themselves (tests/test_cuda.c compares those with their CPU twins on a GPU).
// PC_DUST3R_CUDA_EMU_VITL=1 also runs the ViT-L-size comparison with the CPU path (minutes, ~4 GB of RAM).
//
// The linker takes these definitions instead of the library's src/cuda objects (runtime/kernels or the
// stub), which are then never pulled from the static library: every pc_cuda_* symbol that
// src/models/dust3r.c and dust3r_cuda.c use is defined here.
#define PC_DUST3R_CUDA_EMU 1

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "cuda/cuda_backend.h"

struct pc_cuda_ctx {
    char *arena;
    size_t cap, used, peak;
    pc_cuda_props props;
};

static float eload(const void *p, pc_dtype dt, int64_t i) {
    if (dt == PC_F32) return ((const float *)p)[i];
    if (dt == PC_BF16) return pc_bf16_to_f32(((const uint16_t *)p)[i]);
    return pc_f16_to_f32(((const uint16_t *)p)[i]);
}
static void estore(void *p, pc_dtype dt, int64_t i, float v) {
    if (dt == PC_F32)
        ((float *)p)[i] = v;
    else if (dt == PC_BF16)
        ((uint16_t *)p)[i] = pc_f32_to_bf16(v);
    else
        ((uint16_t *)p)[i] = pc_f32_to_f16(v);
}

int pc_cuda_built(void) { return 1; }
int pc_cuda_device_count(void) { return 1; }
pc_status pc_cuda_probe(int *count, pc_error *err) {
    (void)err;
    if (count) *count = 1;
    return PC_OK;
}
pc_status pc_cuda_device_info(pc_cuda_props *out, int device, pc_error *err) {
    (void)err;
    memset(out, 0, sizeof(*out));
    out->index = device;
    snprintf(out->name, sizeof(out->name), "host emulation of the CUDA backend");
    out->cc_major = 9, out->sm_count = 1;
    out->total_bytes = out->free_bytes = (size_t)64 << 30;  // host memory, allocated on use
    return PC_OK;
}
pc_status pc_cuda_ctx_create(pc_cuda_ctx **ctx, int device, size_t arena_bytes, pc_error *err) {
    pc_cuda_ctx *c = (pc_cuda_ctx *)calloc(1, sizeof(*c));
    if (!c) return pc_err(err, PC_ERR_MEMORY, "emulated ctx: out of memory");
    c->cap = arena_bytes;
    c->arena = arena_bytes ? (char *)pc_aligned_alloc((arena_bytes + 255) & ~(size_t)255) : NULL;
    if (arena_bytes && !c->arena) {
        free(c);
        return pc_err(err, PC_ERR_MEMORY, "emulated arena of %zu bytes: out of memory", arena_bytes);
    }
    pc_cuda_device_info(&c->props, device, err);
    *ctx = c;
    return PC_OK;
}
void pc_cuda_ctx_free(pc_cuda_ctx *ctx) {
    if (!ctx) return;
    pc_aligned_free(ctx->arena);
    free(ctx);
}
pc_status pc_cuda_sync(pc_cuda_ctx *ctx, pc_error *err) {
    (void)ctx, (void)err;
    return PC_OK;
}
const pc_cuda_props *pc_cuda_ctx_props(const pc_cuda_ctx *ctx) { return ctx ? &ctx->props : NULL; }
pc_status pc_cuda_alloc(pc_cuda_ctx *ctx, void **dptr, size_t bytes, pc_error *err) {
    size_t start = (ctx->used + 255) & ~(size_t)255;
    if (bytes > ctx->cap || start > ctx->cap - bytes)
        return pc_err(err, PC_ERR_MEMORY, "emulated arena: %zu bytes requested, %zu used of %zu", bytes, ctx->used,
                      ctx->cap);
    *dptr = ctx->arena + start;
    memset(*dptr, 0xff, bytes);  // NaN poison: an unwritten buffer shows up
    ctx->used = start + bytes;
    if (ctx->used > ctx->peak) ctx->peak = ctx->used;
    return PC_OK;
}
size_t pc_cuda_arena_mark(const pc_cuda_ctx *ctx) { return ctx ? ctx->used : 0; }
void pc_cuda_arena_reset(pc_cuda_ctx *ctx, size_t mark) {
    if (ctx && mark <= ctx->used) ctx->used = mark;
}
size_t pc_cuda_arena_capacity(const pc_cuda_ctx *ctx) { return ctx ? ctx->cap : 0; }
size_t pc_cuda_arena_peak(const pc_cuda_ctx *ctx) { return ctx ? ctx->peak : 0; }
pc_status pc_cuda_upload_raw(pc_cuda_ctx *ctx, void *dst, pc_dtype dst_dt, const void *src, pc_dtype src_dt, int64_t n,
                             pc_error *err) {
    (void)ctx, (void)err;
    for (int64_t i = 0; i < n; i++) estore(dst, dst_dt, i, eload(src, src_dt, i));
    return PC_OK;
}
pc_status pc_cuda_download_raw_f32(pc_cuda_ctx *ctx, float *host, const void *src, pc_dtype src_dt, int64_t n,
                                   pc_error *err) {
    (void)ctx, (void)err;
    for (int64_t i = 0; i < n; i++) host[i] = eload(src, src_dt, i);
    return PC_OK;
}

pc_status pc_cuda_gemm_nt(pc_cuda_ctx *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda,
                          const void *B, int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K,
                          float alpha, float beta, int flags, pc_error *err) {
    (void)ctx, (void)flags;
    if (lda < K || ldb < K || ldc < N) return pc_err(err, PC_ERR_ARG, "emulated gemm: bad leading dimensions");
    float *acc = (float *)malloc((size_t)(M * N) * sizeof(float));
    if (!acc) return pc_err(err, PC_ERR_MEMORY, "emulated gemm: out of memory");
    pc_mat a = {A, abdt, lda, 0}, b = {B, abdt, ldb, 1};
    pc_gemm(NULL, acc, N, a, b, M, N, K, 1.0f, 0.0f, NULL);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float v = alpha * acc[i * N + j];
            if (beta != 0) v += beta * eload(C, cdt, i * ldc + j);
            if (bias) v += cdt == PC_F32 ? bias[j] : eload((uint16_t[]){pc_f32_to_bf16(bias[j])}, PC_BF16, 0);
            estore(C, cdt, i * ldc + j, v);
        }
    free(acc);
    return PC_OK;
}

pc_status pc_cuda_attention(pc_cuda_ctx *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                            pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale,
                            pc_error *err) {
    (void)ctx;
    if (D != 32 && D != 64 && D != 128) return pc_err(err, PC_ERR_UNSUPPORTED, "emulated attention: head dim");
    float *fq = (float *)malloc((size_t)(B * H * Nq * D) * 2 * sizeof(float));
    float *fk = (float *)malloc((size_t)(B * H * Nk * D) * 2 * sizeof(float));
    if (!fq || !fk) return pc_err(err, PC_ERR_MEMORY, "emulated attention: out of memory");
    float *fo = fq + B * H * Nq * D, *fv = fk + B * H * Nk * D;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            for (int64_t n = 0; n < Nq; n++)
                for (int64_t d = 0; d < D; d++)
                    fq[((b * H + h) * Nq + n) * D + d] = eload(q.data, q.dtype, b * q.sb + h * q.sh + n * q.sn + d);
            for (int64_t n = 0; n < Nk; n++)
                for (int64_t d = 0; d < D; d++) {
                    fk[((b * H + h) * Nk + n) * D + d] = eload(k.data, k.dtype, b * k.sb + h * k.sh + n * k.sn + d);
                    fv[((b * H + h) * Nk + n) * D + d] = eload(v.data, v.dtype, b * v.sb + h * v.sh + n * v.sn + d);
                }
        }
    pc_status st = pc_attention(NULL, pc_attn_bhnd(fo, H, Nq, D), pc_attn_bhnd(fq, H, Nq, D),
                                pc_attn_bhnd(fk, H, Nk, D), pc_attn_bhnd(fv, H, Nk, D), B, H, Nq, Nk, D, scale, err);
    for (int64_t b = 0; b < B && st == PC_OK; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t n = 0; n < Nq; n++)
                for (int64_t d = 0; d < D; d++)
                    estore(o.data, o.dtype, b * o.sb + h * o.sh + n * o.sn + d, fo[((b * H + h) * Nq + n) * D + d]);
    free(fq);
    free(fk);
    return st;
}

pc_status pc_cuda_rope2d(pc_cuda_ctx *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D,
                         int64_t grid_w, float base, pc_error *err) {
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
                        float a = eload(t.data, t.dtype, at + i), bb = eload(t.data, t.dtype, at + i + q);
                        estore(t.data, t.dtype, at + i, a * c - bb * s);
                        estore(t.data, t.dtype, at + i + q, bb * c + a * s);
                    }
                }
    return PC_OK;
}

pc_status pc_cuda_layer_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                             const float *beta, int64_t M, int64_t C, float eps, pc_error *err) {
    (void)ctx;
    float *row = (float *)malloc((size_t)C * 2 * sizeof(float));
    if (!row) return pc_err(err, PC_ERR_MEMORY, "emulated layer norm: out of memory");
    for (int64_t m = 0; m < M; m++) {
        for (int64_t c = 0; c < C; c++) row[c] = eload(x, xdt, m * C + c);
        pc_layer_norm_ref(row + C, row, gamma, beta, 1, C, eps);
        for (int64_t c = 0; c < C; c++) estore(y, ydt, m * C + c, row[C + c]);
    }
    free(row);
    return PC_OK;
}

pc_status pc_cuda_unary(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n,
                        pc_cuda_unary_op op, pc_error *err) {
    (void)ctx, (void)err;
    for (int64_t i = 0; i < n; i++) {
        float v = eload(x, xdt, i);
        if (op == PC_CUDA_GELU) v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        if (op == PC_CUDA_SILU) v = v / (1.0f + expf(-v));
        estore(y, ydt, i, v);
    }
    return PC_OK;
}

#include "test_dust3r_cuda.c"
