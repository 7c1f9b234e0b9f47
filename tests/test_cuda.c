// CUDA backend (src/cuda/) against the CPU kernels (src/core/ops.h, gemm.h).
//
// Without a usable GPU (no device, no driver, or a build without CUDA — CI
// always) it checks that the API refuses cleanly with a message, prints
// "SKIP: no CUDA device (...)" and exits 77 (ctest: skipped), locally and
// under CI alike: CI has no GPU by design. On a GPU every kernel is compared
// with its CPU twin on random data (inputs pre-rounded to bf16 where the GPU
// reads bf16, so only the GPU's own arithmetic is measured); every output is
// poisoned with NaN first, so an unwritten element fails.
//
// Tolerances (|got - want| <= atol + rtol*|want|, values of order 1):
//   f32 GEMM 1e-4 (f32 accumulation over K <= 1024 vs a double reference);
//   TF32 GEMM 3e-2 (10-bit mantissas); bf16 GEMM with f32 output 1e-3 (bf16
//   products are exact in f32: only accumulation order); bf16 output adds one
//   bf16 rounding, 2^-9 relative: rtol 8e-3; attention 5e-3 + 1e-2 rel (the
//   probabilities are rounded to bf16 before P·V, as FlashAttention does),
//   bf16 output 1e-2 + 2e-2 rel; norms/activations f32 1e-4, bf16 output 2^-8; RoPE2D f32 1e-4 (GPU
//   powf/cosf/sinf within 2 ulp at angles up to ~40 rad), bf16 output 1e-2 + 8e-3 rel.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "cuda/cuda_backend.h"
#include "testutil.h"

static pc_test_rng rng = {20261127};
static pc_cuda_ctx *cu;
static pc_error err;

static float *hrnd(int64_t n, float scale) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!x) pc_test_fatal("out of memory");
    pc_test_fill(&rng, x, (size_t)n, scale);
    return x;
}
static float *hzeros(int64_t n) {
    float *x = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!x) pc_test_fatal("out of memory");
    return x;
}
// Round to the values a bf16 (or f16) copy holds, so the CPU reference sees what the GPU sees.
static void hround(float *x, int64_t n, pc_dtype dt) {
    for (int64_t i = 0; i < n; i++)
        if (dt == PC_BF16)
            x[i] = pc_bf16_to_f32(pc_f32_to_bf16(x[i]));
        else if (dt == PC_F16)
            x[i] = pc_f16_to_f32(pc_f32_to_f16(x[i]));
}
static void *dalloc(int64_t n, pc_dtype dt) {
    void *p = NULL;
    pc_test_ok(pc_cuda_alloc(cu, &p, (size_t)(n > 0 ? n : 1) * pc_dtype_size(dt), &err), &err, "pc_cuda_alloc");
    return p;
}
// Device copy of host f32 data as dtype dt.
static void *dput(const float *x, int64_t n, pc_dtype dt) {
    void *d = dalloc(n, dt);
    pc_test_ok(pc_cuda_upload_raw(cu, d, dt, x, PC_F32, n, &err), &err, "pc_cuda_upload_raw");
    return d;
}
static void dpoison(void *d, pc_dtype dt, int64_t n) {
    float *nan = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!nan) pc_test_fatal("out of memory");
    for (int64_t i = 0; i < n; i++) nan[i] = NAN;
    pc_test_ok(pc_cuda_upload_raw(cu, d, dt, nan, PC_F32, n, &err), &err, "poison");
    free(nan);
}
static void dget(float *out, const void *d, pc_dtype dt, int64_t n) {
    pc_test_ok(pc_cuda_download_raw_f32(cu, out, d, dt, n, &err), &err, "pc_cuda_download_raw_f32");
}

// ---- without a GPU -----------------------------------------------------------------

static void test_no_device(void) {
    pc_cuda_ctx *c = (pc_cuda_ctx *)1;
    pc_error e;
    e.msg[0] = 0;
    pc_status st = pc_cuda_ctx_create(&c, 0, 1 << 20, &e);
    PC_CHECK(st != PC_OK && c == NULL && e.msg[0], "ctx_create refuses without a device: %s (%s)", pc_status_str(st),
             e.msg);
    pc_cuda_props p;
    e.msg[0] = 0;
    st = pc_cuda_device_info(&p, 0, &e);
    PC_CHECK(st != PC_OK && e.msg[0], "device_info refuses: %s", e.msg);
    PC_CHECK(pc_cuda_device_count() == 0, "device_count is 0");
    if (!pc_cuda_built()) {
        e.msg[0] = 0;
        st = pc_cuda_layer_norm(NULL, NULL, PC_F32, NULL, PC_F32, NULL, NULL, 1, 1, 1e-5f, &e);
        PC_CHECK(st == PC_ERR_UNSUPPORTED && strstr(e.msg, "built without CUDA"),
                 "kernels answer 'built without CUDA': %s", e.msg);
    }
    pc_cuda_ctx_free(NULL);
}

// ---- runtime -------------------------------------------------------------------------

static void test_runtime(void) {
    const pc_cuda_props *p = pc_cuda_ctx_props(cu);
    printf("device %d: %s, cc %d.%d, %d SMs, %.1f GiB, smem/block %zu\n", p->index, p->name, p->cc_major, p->cc_minor,
           p->sm_count, (double)p->total_bytes / (1 << 30), p->smem_per_block_optin);
    PC_CHECK(p->cc_major >= 1 && p->sm_count > 0 && p->total_bytes > 0 && p->name[0], "device properties are sane");

    size_t mark = pc_cuda_arena_mark(cu);
    void *a = NULL, *b = NULL;
    pc_test_ok(pc_cuda_alloc(cu, &a, 3, &err), &err, "alloc 3 bytes");
    pc_test_ok(pc_cuda_alloc(cu, &b, 10, &err), &err, "alloc 10 bytes");
    PC_CHECK(((uintptr_t)a % 256) == 0 && ((uintptr_t)b % 256) == 0 && (char *)b - (char *)a == 256,
             "arena: 256-byte aligned bump allocation");
    void *big = NULL;
    pc_status st = pc_cuda_alloc(cu, &big, pc_cuda_arena_capacity(cu), &err);
    PC_CHECK(st == PC_ERR_MEMORY && big == NULL && strstr(err.msg, "requested"), "arena: overflow -> PC_ERR_MEMORY: %s",
             err.msg);
    pc_cuda_arena_reset(cu, mark);
    PC_CHECK(pc_cuda_arena_mark(cu) == mark && pc_cuda_arena_peak(cu) >= mark + 266, "arena: reset to mark, peak kept");

    // Upload/download: F32 exact; F32 -> BF16 rounds like pc_f32_to_bf16 (ties, tiny, huge values included).
    int64_t n = 4500007;  // odd; > 4 Mi f32, so a converting upload takes two 16 MiB scratch chunks
    float *x = hrnd(n, 3.0f), *y = hzeros(n), *want = hzeros(n);
    x[0] = 1.00390625f;  // bf16 tie: 1 + 2^-8 -> 1 (even)
    x[1] = 1.01171875f;  // 1 + 3*2^-8 -> 1 + 2^-6 (even)
    x[2] = 1e-30f, x[3] = -3e38f, x[4] = 0.0f, x[5] = -0.0f;
    int64_t shape[2] = {1, n};
    pc_tensor h = pc_tensor_view(x, PC_F32, 2, shape);
    pc_cuda_tensor t;
    pc_test_ok(pc_cuda_upload(cu, &t, &h, PC_F32, &err), &err, "upload f32");
    pc_test_ok(pc_cuda_download_f32(cu, y, &t, &err), &err, "download f32");
    PC_CHECK(!memcmp(x, y, (size_t)n * 4), "upload/download f32 is exact");
    pc_test_ok(pc_cuda_upload(cu, &t, &h, PC_BF16, &err), &err, "upload f32 -> bf16");
    pc_test_ok(pc_cuda_download_f32(cu, y, &t, &err), &err, "download bf16");
    for (int64_t i = 0; i < n; i++) want[i] = pc_bf16_to_f32(pc_f32_to_bf16(x[i]));
    PC_CHECK(!memcmp(want, y, (size_t)n * 4), "f32 -> bf16 on the device == pc_f32_to_bf16 (round to nearest even)");
    // F16 host -> F32 device; BF16 host -> BF16 device (exact).
    uint16_t *h16 = malloc((size_t)n * 2);
    if (!h16) pc_test_fatal("out of memory");
    for (int64_t i = 0; i < n; i++) h16[i] = pc_f32_to_f16(x[i] * 0.1f), want[i] = pc_f16_to_f32(h16[i]);
    h = pc_tensor_view(h16, PC_F16, 2, shape);
    pc_test_ok(pc_cuda_upload(cu, &t, &h, PC_F32, &err), &err, "upload f16 -> f32");
    pc_test_ok(pc_cuda_download_f32(cu, y, &t, &err), &err, "download");
    PC_CHECK(!memcmp(want, y, (size_t)n * 4), "f16 -> f32 on the device is exact");
    for (int64_t i = 0; i < n; i++) h16[i] = pc_f32_to_bf16(x[i]), want[i] = pc_bf16_to_f32(h16[i]);
    h = pc_tensor_view(h16, PC_BF16, 2, shape);
    pc_test_ok(pc_cuda_upload(cu, &t, &h, PC_BF16, &err), &err, "upload bf16 -> bf16");
    pc_test_ok(pc_cuda_download_f32(cu, y, &t, &err), &err, "download");
    PC_CHECK(!memcmp(want, y, (size_t)n * 4), "bf16 -> bf16 upload is exact");
    // A strided (transposed) host view is made contiguous first.
    int64_t s2[2] = {3, 5};
    float m[15];
    for (int i = 0; i < 15; i++) m[i] = (float)i;
    pc_tensor mv = pc_tensor_view(m, PC_F32, 2, s2), mt;
    int perm[2] = {1, 0};
    pc_test_ok(pc_tensor_permute(&mt, &mv, perm, &err), &err, "permute");
    pc_test_ok(pc_cuda_upload(cu, &t, &mt, PC_F32, &err), &err, "upload transposed view");
    pc_test_ok(pc_cuda_download_f32(cu, y, &t, &err), &err, "download");
    int ok = t.ndim == 2 && t.shape[0] == 5 && t.shape[1] == 3;
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 3; c++) ok &= y[r * 3 + c] == m[c * 5 + r];
    PC_CHECK(ok, "strided host view uploads in logical order");
    // Bad requests fail with a message, nothing crashes.
    st = pc_cuda_upload(cu, &t, &h, PC_I32, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "upload to I32 refused: %s", err.msg);
    st = pc_cuda_device_info(&(pc_cuda_props){0}, 9999, &err);
    PC_CHECK(st == PC_ERR_ARG, "device 9999 refused: %s", err.msg);
    free(h16), free(x), free(y), free(want);
    pc_cuda_arena_reset(cu, mark);
}

// ---- GEMM -----------------------------------------------------------------------------

typedef struct {
    int64_t M, N, K, lda, ldb, ldc;
    pc_dtype ab, c;
    int flags, bias;
    float alpha, beta;
} gemm_case;

static void run_gemm(const gemm_case *g) {
    size_t mark = pc_cuda_arena_mark(cu);
    int64_t M = g->M, N = g->N, K = g->K;
    float *A = hrnd(M * g->lda, 1.0f), *B = hrnd(N * g->ldb, 1.0f), *bias = hrnd(N, 1.0f);
    float *C0 = hrnd(M * g->ldc, 1.0f), *ref = hzeros(M * g->ldc), *got = hzeros(M * g->ldc);
    hround(A, M * g->lda, g->ab), hround(B, N * g->ldb, g->ab);
    hround(C0, M * g->ldc, g->c);  // what the GPU's C holds before a beta != 0 product
    void *dA = dput(A, M * g->lda, g->ab), *dB = dput(B, N * g->ldb, g->ab);
    float *dbias = g->bias ? dput(bias, N, PC_F32) : NULL;
    void *dC = g->beta != 0 ? dput(C0, M * g->ldc, g->c) : dalloc(M * g->ldc, g->c);
    if (g->beta == 0) dpoison(dC, g->c, M * g->ldc);
    pc_status st = pc_cuda_gemm_nt(cu, dC, g->c, g->ldc, dA, g->lda, dB, g->ldb, g->ab, dbias, M, N, K, g->alpha,
                                   g->beta, g->flags, &err);
    char name[128];
    snprintf(name, sizeof name, "gemm %s->%s%s M%lld N%lld K%lld%s%s", pc_dtype_name(g->ab), pc_dtype_name(g->c),
             g->flags & PC_CUDA_GEMM_TF32 ? " tf32" : "", (long long)M, (long long)N, (long long)K,
             g->bias ? " +bias" : "", g->beta != 0 ? " beta" : "");
    if (st != PC_OK) {
        PC_CHECK(0, "%s: %s", name, err.msg);
    } else {
        dget(got, dC, g->c, M * g->ldc);
        memcpy(ref, C0, (size_t)(M * g->ldc) * 4);
        pc_gemm_ref(ref, g->ldc, pc_mat_f32(A, g->lda, 0), pc_mat_f32(B, g->ldb, 1), M, N, K, g->alpha, g->beta,
                    g->bias ? bias : NULL);
        // Compare the M x N window only (padding columns past N are not written when beta = 0).
        float *gw = hzeros(M * N), *rw = hzeros(M * N);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) gw[i * N + j] = got[i * g->ldc + j], rw[i * N + j] = ref[i * g->ldc + j];
        double atol = 1e-3, rtol = 1e-3;
        if (g->ab == PC_F32) atol = rtol = (g->flags & PC_CUDA_GEMM_TF32) ? 3e-2 : 1e-4;
        if (g->c != PC_F32) atol = 1e-2, rtol = 8e-3;
        pc_test_close(name, gw, rw, (size_t)(M * N), atol, rtol);
        free(gw), free(rw);
    }
    free(A), free(B), free(bias), free(C0), free(ref), free(got);
    pc_cuda_arena_reset(cu, mark);
}

static void test_gemm(void) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 129}, {128, 256, 64}, {257, 384, 1024}};
    for (size_t s = 0; s < PC_ARRAY_LEN(shapes); s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        gemm_case g = {M, N, K, K, K, N, PC_BF16, PC_F32, 0, (int)(s % 2), 1.0f, 0.0f};
        run_gemm(&g);
        g.c = PC_BF16, g.bias = 1;
        run_gemm(&g);
        g.ab = PC_F32, g.c = PC_F32, g.bias = (int)(s % 2);
        run_gemm(&g);
        g.flags = PC_CUDA_GEMM_TF32;
        run_gemm(&g);
    }
    // strided operands (row pitch > row length), alpha/beta accumulate, f16
    gemm_case g1 = {45, 70, 96, 104, 112, 80, PC_BF16, PC_F32, 0, 1, 0.5f, 1.0f};
    run_gemm(&g1);
    gemm_case g2 = {64, 96, 128, 128, 128, 96, PC_F16, PC_F16, 0, 1, 1.0f, 0.0f};
    run_gemm(&g2);
    // The plan cache: the same problem again with other operands and a bias at
    // another address (one 4 bytes off 16-byte alignment: staged) must use them.
    {
        size_t mark = pc_cuda_arena_mark(cu);
        int64_t M = 48, N = 40, K = 64;
        float *A = hrnd(M * K, 1), *B = hrnd(N * K, 1), *b1 = hrnd(N + 1, 1), *ref = hzeros(M * N), *got = hzeros(M * N);
        hround(A, M * K, PC_BF16), hround(B, N * K, PC_BF16);
        void *dA = dput(A, M * K, PC_BF16), *dB = dput(B, N * K, PC_BF16), *dC = dalloc(M * N, PC_F32);
        float *db = dput(b1, N + 1, PC_F32);
        int ok = 1;
        for (int pass = 0; pass < 3 && ok; pass++) {
            const float *bias = pass == 0 ? db : db + 1;  // pass 1: new (misaligned) pointer, pass 2: cache hit
            dpoison(dC, PC_F32, M * N);
            pc_status st = pc_cuda_gemm_nt(cu, dC, PC_F32, N, dA, K, dB, K, PC_BF16, bias, M, N, K, 1, 0, 0, &err);
            if (st != PC_OK) {
                PC_CHECK(0, "gemm plan cache pass %d: %s", pass, err.msg);
                ok = 0;
                break;
            }
            dget(got, dC, PC_F32, M * N);
            pc_gemm_ref(ref, N, pc_mat_f32(A, K, 0), pc_mat_f32(B, K, 1), M, N, K, 1, 0, pass == 0 ? b1 : b1 + 1);
            char name[64];
            snprintf(name, sizeof name, "gemm plan cache, bias %s", pass == 0 ? "aligned" : "at +4 bytes");
            ok = pc_test_close(name, got, ref, (size_t)(M * N), 1e-3, 1e-3);
        }
        free(A), free(B), free(b1), free(ref), free(got);
        pc_cuda_arena_reset(cu, mark);
    }
    // bad arguments are refused
    pc_status st = pc_cuda_gemm_nt(cu, NULL, PC_I32, 4, NULL, 4, NULL, 4, PC_BF16, NULL, 4, 4, 4, 1, 0, 0, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "gemm: C I32 refused: %s", err.msg);
    st = pc_cuda_gemm_nt(cu, NULL, PC_F32, 4, NULL, 3, NULL, 4, PC_BF16, NULL, 4, 4, 4, 1, 0, 0, &err);
    PC_CHECK(st == PC_ERR_ARG, "gemm: lda < K refused: %s", err.msg);
}

// ---- attention ------------------------------------------------------------------------

// packed: q, k, v interleaved per token as (B, N, 3, H, D) (Nq == Nk); else (B, H, N, D) each.
static void run_attention(int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, pc_dtype odt, int packed) {
    size_t mark = pc_cuda_arena_mark(cu);
    char name[128];
    snprintf(name, sizeof name, "attention B%lld H%lld Nq%lld Nk%lld D%lld ->%s%s", (long long)B, (long long)H,
             (long long)Nq, (long long)Nk, (long long)D, pc_dtype_name(odt), packed ? " packed" : "");
    int64_t nq = B * H * Nq * D, nk = B * H * Nk * D;
    float *q, *k, *v;
    pc_attn_view hq, hk, hv;
    pc_cuda_attn_view dq, dk, dv;
    float *qkv = NULL;
    void *dqkv = NULL, *dqb = NULL, *dkb = NULL, *dvb = NULL;
    if (packed) {
        int64_t n = B * Nq * 3 * H * D;
        qkv = hrnd(n, 2.0f);
        hround(qkv, n, PC_BF16);
        dqkv = dput(qkv, n, PC_BF16);
        int64_t sb = Nq * 3 * H * D, sn = 3 * H * D;
        pc_attn_view t0 = {qkv, sb, D, sn}, t1 = {qkv + H * D, sb, D, sn}, t2 = {qkv + 2 * H * D, sb, D, sn};
        hq = t0, hk = t1, hv = t2;
        pc_cuda_attn_view u0 = {dqkv, PC_BF16, sb, D, sn};
        pc_cuda_attn_view u1 = {(char *)dqkv + H * D * 2, PC_BF16, sb, D, sn};
        pc_cuda_attn_view u2 = {(char *)dqkv + 2 * H * D * 2, PC_BF16, sb, D, sn};
        dq = u0, dk = u1, dv = u2;
        q = k = v = NULL;
    } else {
        q = hrnd(nq, 2.0f), k = hrnd(nk, 2.0f), v = hrnd(nk, 1.0f);
        hround(q, nq, PC_BF16), hround(k, nk, PC_BF16), hround(v, nk, PC_BF16);
        dqb = dput(q, nq, PC_BF16), dkb = dput(k, nk, PC_BF16), dvb = dput(v, nk, PC_BF16);
        hq = pc_attn_bhnd(q, H, Nq, D), hk = pc_attn_bhnd(k, H, Nk, D), hv = pc_attn_bhnd(v, H, Nk, D);
        pc_cuda_attn_view u0 = {dqb, PC_BF16, H * Nq * D, Nq * D, D};
        pc_cuda_attn_view u1 = {dkb, PC_BF16, H * Nk * D, Nk * D, D};
        pc_cuda_attn_view u2 = {dvb, PC_BF16, H * Nk * D, Nk * D, D};
        dq = u0, dk = u1, dv = u2;
    }
    float *ref = hzeros(nq), *got = hzeros(nq);
    void *dout = dalloc(nq, odt);
    dpoison(dout, odt, nq);
    pc_cuda_attn_view dov = {dout, odt, H * Nq * D, Nq * D, D};
    float scale = 1.0f / sqrtf((float)D);
    pc_status st = pc_cuda_attention(cu, dov, dq, dk, dv, B, H, Nq, Nk, D, scale, &err);
    if (st != PC_OK) {
        PC_CHECK(0, "%s: %s", name, err.msg);
    } else {
        dget(got, dout, odt, nq);
        pc_attention_ref(pc_attn_bhnd(ref, H, Nq, D), hq, hk, hv, B, H, Nq, Nk, D, scale);
        if (odt == PC_F32)
            pc_test_close(name, got, ref, (size_t)nq, 5e-3, 1e-2);
        else
            pc_test_close(name, got, ref, (size_t)nq, 1e-2, 2e-2);
    }
    free(q), free(k), free(v), free(qkv), free(ref), free(got);
    pc_cuda_arena_reset(cu, mark);
}

static void test_attention(void) {
    run_attention(1, 2, 1, 1, 64, PC_F32, 0);
    run_attention(2, 3, 77, 100, 64, PC_F32, 0);
    run_attention(1, 2, 200, 333, 128, PC_F32, 0);
    run_attention(1, 2, 128, 64, 128, PC_BF16, 0);
    run_attention(2, 2, 130, 130, 64, PC_F32, 1);
    run_attention(1, 1, 1024, 1024, 64, PC_BF16, 1);
    run_attention(2, 4, 192, 192, 32, PC_F32, 1);  // head dim 32: the tiny DUSt3R golden model
    run_attention(1, 3, 12, 40, 32, PC_BF16, 0);
    pc_cuda_attn_view z = {NULL, PC_BF16, 0, 0, 0};
    pc_status st = pc_cuda_attention(cu, z, z, z, z, 1, 1, 1, 1, 96, 1.0f, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "attention: D 96 refused: %s", err.msg);
}

// ---- RoPE2D -----------------------------------------------------------------------------

// croco RoPE2D on a (B, H, N, D) view: bhnd layout, or packed tokens (B, N, 3, H, D) rotating the k part.
static void run_rope(int64_t B, int64_t H, int64_t Hp, int64_t Wp, int64_t D, pc_dtype dt, int packed) {
    size_t mark = pc_cuda_arena_mark(cu);
    int64_t N = Hp * Wp, n = packed ? B * N * 3 * H * D : B * H * N * D;
    float *x = hrnd(n, 2.0f), *ref = hzeros(n), *got = hzeros(n);
    int64_t *pos = malloc((size_t)(B * N * 2) * sizeof(int64_t));
    if (!pos) pc_test_fatal("out of memory");
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) pos[(b * N + i) * 2] = i / Wp, pos[(b * N + i) * 2 + 1] = i % Wp;
    hround(x, n, dt);
    memcpy(ref, x, (size_t)n * sizeof(float));
    void *dx = dput(x, n, dt);
    size_t es = pc_dtype_size(dt);
    pc_attn_view hv = packed ? pc_attn_tokens(ref, N, 3 * H * D, H * D, D) : pc_attn_bhnd(ref, H, N, D);
    pc_cuda_attn_view dv = {packed ? (char *)dx + (size_t)(H * D) * es : dx, dt, hv.sb, hv.sh, hv.sn};
    pc_status st = pc_cuda_rope2d(cu, dv, B, H, N, D, Wp, 100.0f, &err);
    char name[128];
    snprintf(name, sizeof name, "rope2d B%lld H%lld grid %lldx%lld D%lld %s%s", (long long)B, (long long)H,
             (long long)Hp, (long long)Wp, (long long)D, pc_dtype_name(dt), packed ? " packed (k of qkv)" : "");
    if (st != PC_OK) {
        PC_CHECK(0, "%s: %s", name, err.msg);
    } else {
        dget(got, dx, dt, n);
        pc_rope2d_ref(hv, pos, B, H, N, D, 100.0f);  // untouched q/v columns stay equal in both
        pc_test_close(name, got, ref, (size_t)n, dt == PC_F32 ? 1e-4 : 1e-2, dt == PC_F32 ? 1e-4 : 8e-3);
    }
    free(x), free(ref), free(got), free(pos);
    pc_cuda_arena_reset(cu, mark);
}

static void test_rope(void) {
    run_rope(1, 2, 3, 5, 8, PC_F32, 0);
    run_rope(2, 16, 24, 32, 64, PC_F32, 0);  // DUSt3R ViT-L encoder at 512x384
    run_rope(2, 4, 3, 4, 32, PC_BF16, 1);    // tiny model, packed qkv
    run_rope(1, 12, 24, 32, 64, PC_BF16, 1);
    pc_cuda_attn_view z = {NULL, PC_F32, 0, 0, 0};
    pc_status st = pc_cuda_rope2d(cu, z, 1, 1, 1, 6, 1, 100.0f, &err);
    PC_CHECK(st == PC_ERR_ARG, "rope2d: D not a multiple of 4 refused: %s", err.msg);
}

// ---- norms and elementwise --------------------------------------------------------------

static void test_layer_norm(void) {
    static const int64_t shapes[][2] = {{1, 1}, {37, 77}, {64, 1024}, {5, 3000}};
    for (size_t s = 0; s < PC_ARRAY_LEN(shapes); s++)
        for (int bf = 0; bf < 2; bf++) {
            size_t mark = pc_cuda_arena_mark(cu);
            int64_t M = shapes[s][0], C = shapes[s][1];
            pc_dtype dt = bf ? PC_BF16 : PC_F32;
            float *x = hrnd(M * C, 3.0f), *g = hrnd(C, 1.0f), *b = hrnd(C, 1.0f), *ref = hzeros(M * C),
                  *got = hzeros(M * C);
            for (int64_t i = 0; i < M * C; i++) x[i] += 0.5f;  // nonzero mean
            hround(x, M * C, dt);
            void *dx = dput(x, M * C, dt), *dy = dalloc(M * C, dt);
            float *dg = dput(g, C, PC_F32), *db = dput(b, C, PC_F32);
            dpoison(dy, dt, M * C);
            int aff = s != 1;
            pc_status st = pc_cuda_layer_norm(cu, dy, dt, dx, dt, aff ? dg : NULL, aff ? db : NULL, M, C, 1e-6f, &err);
            char name[96];
            snprintf(name, sizeof name, "layer_norm M%lld C%lld %s%s", (long long)M, (long long)C, pc_dtype_name(dt),
                     aff ? "" : " no affine");
            if (st != PC_OK) {
                PC_CHECK(0, "%s: %s", name, err.msg);
            } else {
                dget(got, dy, dt, M * C);
                pc_layer_norm_ref(ref, x, aff ? g : NULL, aff ? b : NULL, M, C, 1e-6f);
                pc_test_close(name, got, ref, (size_t)(M * C), bf ? 2e-2 : 1e-4, bf ? 8e-3 : 1e-4);
            }
            free(x), free(g), free(b), free(ref), free(got);
            pc_cuda_arena_reset(cu, mark);
        }
}

static void test_group_norm(void) {
    // (B, C, S, G): small, odd spatial size, the UNet's first level (320 ch, 16 frames of 40x64)
    static const int64_t cases[][4] = {{2, 64, 1000, 32}, {1, 6, 7, 3}, {1, 320, 16 * 40 * 64, 32}};
    for (size_t s = 0; s < PC_ARRAY_LEN(cases); s++)
        for (int mode = 0; mode < 3; mode++) {  // 0: f32, 1: f32 + SiLU in place, 2: bf16 + SiLU
            size_t mark = pc_cuda_arena_mark(cu);
            int64_t B = cases[s][0], C = cases[s][1], S = cases[s][2], G = cases[s][3], n = B * C * S;
            pc_dtype dt = mode == 2 ? PC_BF16 : PC_F32;
            int silu = mode > 0, inplace = mode == 1;
            float *x = hrnd(n, 2.0f), *g = hrnd(C, 1.0f), *b = hrnd(C, 1.0f), *ref = hzeros(n), *got = hzeros(n);
            for (int64_t i = 0; i < n; i++) x[i] += 1.0f;
            hround(x, n, dt);
            void *dx = dput(x, n, dt), *dy = inplace ? dx : dalloc(n, dt);
            float *dg = dput(g, C, PC_F32), *db = dput(b, C, PC_F32);
            if (!inplace) dpoison(dy, dt, n);
            pc_status st = pc_cuda_group_norm(cu, dy, dt, dx, dt, dg, db, B, C, S, G, 1e-5f, silu, &err);
            char name[96];
            snprintf(name, sizeof name, "group_norm B%lld C%lld S%lld G%lld %s%s%s", (long long)B, (long long)C,
                     (long long)S, (long long)G, pc_dtype_name(dt), silu ? " +silu" : "", inplace ? " in place" : "");
            if (st != PC_OK) {
                PC_CHECK(0, "%s: %s", name, err.msg);
            } else {
                dget(got, dy, dt, n);
                pc_group_norm_ref(ref, x, g, b, B, C, S, G, 1e-5f, silu);
                pc_test_close(name, got, ref, (size_t)n, dt == PC_BF16 ? 2e-2 : 1e-4, dt == PC_BF16 ? 8e-3 : 1e-4);
            }
            free(x), free(g), free(b), free(ref), free(got);
            pc_cuda_arena_reset(cu, mark);
        }
    pc_status st = pc_cuda_group_norm(cu, NULL, PC_F32, NULL, PC_F32, NULL, NULL, 1, 10, 4, 3, 1e-5f, 0, &err);
    PC_CHECK(st == PC_ERR_ARG, "group_norm: G not dividing C refused: %s", err.msg);
}

static void test_elementwise(void) {
    int64_t n = 300007;
    for (int bf = 0; bf < 2; bf++) {
        size_t mark = pc_cuda_arena_mark(cu);
        pc_dtype dt = bf ? PC_BF16 : PC_F32;
        float *x = hrnd(n, 6.0f), *x2 = hrnd(n, 6.0f), *ref = hzeros(n), *got = hzeros(n);
        hround(x, n, dt), hround(x2, n, dt);
        void *dx = dput(x, n, dt), *dx2 = dput(x2, n, dt), *dy = dalloc(n, dt);
        double atol = bf ? 1e-2 : 1e-5, rtol = bf ? 8e-3 : 1e-5;
        char name[64];
        for (int op = 0; op < 2; op++) {
            dpoison(dy, dt, n);
            pc_status st = pc_cuda_unary(cu, dy, dt, dx, dt, n, op ? PC_CUDA_SILU : PC_CUDA_GELU, &err);
            snprintf(name, sizeof name, "%s %s", op ? "silu" : "gelu(erf)", pc_dtype_name(dt));
            if (st != PC_OK) {
                PC_CHECK(0, "%s: %s", name, err.msg);
                continue;
            }
            dget(got, dy, dt, n);
            if (op)
                pc_silu_ref(ref, x, n);
            else
                pc_gelu_ref(ref, x, n);
            pc_test_close(name, got, ref, (size_t)n, atol, rtol);
        }
        dpoison(dy, dt, n);
        pc_status st = pc_cuda_add(cu, dy, dt, dx, dt, dx2, dt, n, &err);
        snprintf(name, sizeof name, "add %s", pc_dtype_name(dt));
        if (st != PC_OK) {
            PC_CHECK(0, "%s: %s", name, err.msg);
        } else {
            dget(got, dy, dt, n);
            for (int64_t i = 0; i < n; i++) ref[i] = x[i] + x2[i];
            pc_test_close(name, got, ref, (size_t)n, bf ? 2e-2 : 0, bf ? 4e-3 : 0);
        }
        // mixed: f32 + bf16 -> f32, in place on a
        if (bf) {
            float *da = dput(x2, n, PC_F32);
            st = pc_cuda_add(cu, da, PC_F32, da, PC_F32, dx, PC_BF16, n, &err);
            if (st != PC_OK) {
                PC_CHECK(0, "add f32+bf16 in place: %s", err.msg);
            } else {
                dget(got, da, PC_F32, n);
                for (int64_t i = 0; i < n; i++) ref[i] = x2[i] + x[i];
                pc_test_close("add f32 += bf16 (in place)", got, ref, (size_t)n, 0, 0);
            }
        }
        free(x), free(x2), free(ref), free(got);
        pc_cuda_arena_reset(cu, mark);
    }
}

int main(void) {
    int n = 0;
    pc_error why;
    if (pc_cuda_probe(&n, &why) != PC_OK) {
        test_no_device();
        if (pc_test_finish() != 0) return 1;
        printf("SKIP: no CUDA device (%s)\n", why.msg);
        return 77;  // CI has no GPU by design: skipped there too, never failed
    }
    pc_test_ok(pc_cuda_ctx_create(&cu, 0, (size_t)512 << 20, &err), &err, "pc_cuda_ctx_create");
    test_runtime();
    test_gemm();
    test_attention();
    test_rope();
    test_layer_norm();
    test_group_norm();
    test_elementwise();
    pc_test_ok(pc_cuda_sync(cu, &err), &err, "final sync");
    pc_cuda_ctx_free(cu);
    return pc_test_finish();
}
