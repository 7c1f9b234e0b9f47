// GEMM: every micro-kernel path this CPU has (scalar / AVX2 / AVX-512, each
// forced through pc_gemm_ex) against pc_gemm_ref (double accumulation) on
// random shapes: tiny, odd, 1, 0, multi-block; all trans and F32/F16/BF16
// combinations; beta 0 (C pre-filled with NaN) / 1 / other; alpha; bias;
// ldc > N (padding must stay untouched); 1 and 3 threads; bit-identical
// results across thread counts; pc_gemm_batched.
#include "testutil.h"
#include "core/cpu.h"
#include "core/gemm.h"
// the vector layer, 4-lane build (what every baseline x86-64 file compiles)
#define PC_VW 4
#define PC_VSUF v4
#include "core/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float SENTINEL = 12345.0f;

typedef struct {
    int64_t M, N, K;
    pc_dtype ta, tb;
    int transA, transB;
    float alpha, beta;
    int use_bias;
    int64_t ldc_pad;
} gcase;

// Store a float matrix op(X) (rows x cols) in dtype dt, transposed or not.
// Returns the raw buffer and writes the rounded float values (what the kernel sees) to vals.
static void *make_mat(pc_test_rng *r, pc_dtype dt, int trans, int64_t rows, int64_t cols, int64_t *ld) {
    int64_t pad = (int64_t)(pc_test_next(r) % 3);
    int64_t srows = trans ? cols : rows, scols = trans ? rows : cols;
    *ld = scols + pad;
    size_t n = (size_t)(srows * *ld + 1);
    void *buf = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        float v = pc_test_uniform(r);
        if (dt == PC_F32) ((float *)buf)[i] = v;
        else if (dt == PC_F16) ((uint16_t *)buf)[i] = pc_f32_to_f16(v);
        else ((uint16_t *)buf)[i] = pc_f32_to_bf16(v);
    }
    return buf;
}

static uint16_t *round_bf16(const void *p, pc_dtype dt, int64_t n) {
    uint16_t *o = (uint16_t *)malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) {
        float v = dt == PC_F32 ? ((const float *)p)[i]
                  : dt == PC_F16 ? pc_f16_to_f32(((const uint16_t *)p)[i])
                                 : pc_bf16_to_f32(((const uint16_t *)p)[i]);
        o[i] = pc_f32_to_bf16(v);
    }
    return o;
}

static pc_dtype pick_dtype(pc_test_rng *r) {
    static const pc_dtype d[] = {PC_F32, PC_F32, PC_F16, PC_BF16};
    return d[pc_test_next(r) % 4];
}

static int64_t pick_dim(pc_test_rng *r, int64_t big) {
    static const int64_t small[] = {1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 31, 32, 33, 47, 64, 65, 97};
    uint64_t u = pc_test_next(r) % 10;
    if (u < 7) return small[pc_test_next(r) % PC_ARRAY_LEN(small)];
    return 1 + (int64_t)(pc_test_next(r) % (uint64_t)big);
}

// Runs one case; compares rows step apart (all rows when step == 1). Returns worst err / tol.
static double run_case(pc_pool *pool, pc_gemm_isa_id isa, const gcase *g, pc_test_rng *r, int64_t step) {
    int64_t lda, ldb;
    void *a = make_mat(r, g->ta, g->transA, g->M, g->K, &lda);
    void *b = make_mat(r, g->tb, g->transB, g->K, g->N, &ldb);
    pc_mat A = {a, g->ta, lda, g->transA}, B = {b, g->tb, ldb, g->transB};
    // The bf16 path rounds its operands to bf16: the reference gets the same rounded values.
    pc_mat Ar = A, Br = B;
    uint16_t *ar = NULL, *br = NULL;
    if (isa == PC_GEMM_ISA_AVX512_BF16) {
        int64_t na = (g->transA ? g->K : g->M) * lda + 1, nb = (g->transB ? g->N : g->K) * ldb + 1;
        ar = round_bf16(a, g->ta, na);
        br = round_bf16(b, g->tb, nb);
        Ar.data = ar, Ar.dtype = PC_BF16;
        Br.data = br, Br.dtype = PC_BF16;
    }
    int64_t ldc = g->N + g->ldc_pad;
    size_t nc = (size_t)(g->M * ldc + 1);
    float *c = (float *)malloc(nc * 4), *c0 = (float *)malloc(nc * 4), *want = (float *)malloc(nc * 4);
    float *bias = (float *)malloc((size_t)(g->N + 1) * 4);
    pc_test_fill(r, bias, (size_t)g->N + 1, 1.0f);
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = 0; j < ldc; j++)
            c0[i * ldc + j] = j >= g->N ? SENTINEL : (g->beta == 0.0f ? NAN : pc_test_uniform(r));
    memcpy(c, c0, nc * 4);
    memcpy(want, c0, nc * 4);
    pc_status st = pc_gemm_ex(pool, isa, c, ldc, A, B, g->M, g->N, g->K, g->alpha, g->beta, g->use_bias ? bias : NULL);
    double worst = st == PC_OK ? 0.0 : INFINITY;
    // tolerance: fp32 accumulation of K products of |x| <= 1, plus the epilogue terms
    double tol = 2e-7 * (double)(g->K + 8) * (fabs(g->alpha) + 1.0) + 1e-6;
    for (int64_t i = 0; i < g->M; i++) {
        if (i % step != 0 && i != g->M - 1) continue;
        pc_mat Ai = Ar;
        int64_t off = g->transA ? i : i * lda;
        Ai.data = (const char *)Ar.data + (size_t)off * pc_dtype_size(Ar.dtype);
        pc_gemm_ref(want + i * ldc, ldc, Ai, Br, 1, g->N, g->K, g->alpha, g->beta, g->use_bias ? bias : NULL);
        for (int64_t j = 0; j < ldc; j++) {
            float got = c[i * ldc + j], w = want[i * ldc + j];
            double e = j >= g->N ? (got == SENTINEL ? 0.0 : INFINITY) : fabs((double)got - (double)w) / tol;
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
    }
    free(a), free(b), free(c), free(c0), free(want), free(bias), free(ar), free(br);
    return worst;
}

static void test_random(pc_gemm_isa_id isa, pc_pool *pool, int nth, uint64_t seed, int ncases) {
    pc_test_rng r = {seed};
    double worst = 0;
    int bad = 0;
    char what[256] = "";
    for (int t = 0; t < ncases; t++) {
        gcase g;
        g.M = pick_dim(&r, 120);
        g.N = pick_dim(&r, 120);
        g.K = pick_dim(&r, 300);
        if (t % 17 == 5) g.K = 600;  // several K blocks
        g.ta = pick_dtype(&r);
        g.tb = pick_dtype(&r);
        g.transA = (int)(pc_test_next(&r) & 1);
        g.transB = (int)(pc_test_next(&r) & 1);
        static const float betas[] = {0.0f, 1.0f, 0.5f};
        g.beta = betas[pc_test_next(&r) % 3];
        g.alpha = (pc_test_next(&r) & 1) ? 1.0f : -0.75f;
        g.use_bias = (int)(pc_test_next(&r) & 1);
        g.ldc_pad = (pc_test_next(&r) & 1) ? (int64_t)(pc_test_next(&r) % 5) : 0;
        double e = run_case(pool, isa, &g, &r, 1);
        if (!(e <= 1.0)) {
            bad++;
            snprintf(what, sizeof(what), " first bad: M=%lld N=%lld K=%lld dt=%d,%d trans=%d,%d beta=%g bias=%d",
                     (long long)g.M, (long long)g.N, (long long)g.K, g.ta, g.tb, g.transA, g.transB, g.beta,
                     g.use_bias);
        }
        if (!(e <= worst)) worst = e;
    }
    PC_CHECK(bad == 0, "gemm %s, %d threads: %d random shapes vs pc_gemm_ref, worst err/tol %.3g (tol 2e-7*(K+8)*(|alpha|+1)+1e-6)%s",
             pc_gemm_isa_name(isa), nth, ncases, worst, what);
}

// Shapes larger than one M/N/K block, checked on sampled rows.
static void test_blocks(pc_gemm_isa_id isa, pc_pool *pool, int nth) {
    static const gcase cs[] = {
        {1000, 600, 520, PC_F32, PC_F32, 0, 1, 1.0f, 0.0f, 1, 3},   // x W^T (linear layer), 3 K blocks
        {931, 545, 300, PC_F32, PC_BF16, 0, 1, 1.0f, 1.0f, 0, 0},   // bf16 weights, residual add
        {300, 1100, 257, PC_F16, PC_F32, 1, 0, 0.5f, 0.25f, 1, 0},
    };
    pc_test_rng r = {77 + (uint64_t)isa};
    double worst = 0;
    for (size_t i = 0; i < PC_ARRAY_LEN(cs); i++) {
        double e = run_case(pool, isa, &cs[i], &r, 29);
        if (!(e <= worst)) worst = e;
    }
    PC_CHECK(worst <= 1.0, "gemm %s, %d threads: multi-block shapes (sampled rows), worst err/tol %.3g", pc_gemm_isa_name(isa),
             nth, worst);
}

// The same product with 1 and 3 threads must agree bit for bit.
static void test_determinism(pc_gemm_isa_id isa, pc_pool *pool3) {
    int64_t M = 203, N = 170, K = 700;
    pc_test_rng r = {99};
    float *a = (float *)malloc((size_t)(M * K) * 4), *b = (float *)malloc((size_t)(N * K) * 4);
    float *c1 = (float *)malloc((size_t)(M * N) * 4), *c3 = (float *)malloc((size_t)(M * N) * 4);
    pc_test_fill(&r, a, (size_t)(M * K), 1.0f);
    pc_test_fill(&r, b, (size_t)(N * K), 1.0f);
    pc_gemm_ex(NULL, isa, c1, N, pc_mat_f32(a, K, 0), pc_mat_f32(b, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    pc_gemm_ex(pool3, isa, c3, N, pc_mat_f32(a, K, 0), pc_mat_f32(b, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    PC_CHECK(memcmp(c1, c3, (size_t)(M * N) * 4) == 0, "gemm %s: 1 and 3 threads give bit-identical C (%lldx%lldx%lld)",
             pc_gemm_isa_name(isa), (long long)M, (long long)N, (long long)K);
    free(a), free(b), free(c1), free(c3);
}

static void test_degenerate(void) {
    float c[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30};
    float a = 0, bm = 0;
    // K = 0: C = beta*C + bias
    pc_gemm(NULL, c, 3, pc_mat_f32(&a, 0, 0), pc_mat_f32(&bm, 3, 0), 2, 3, 0, 1.0f, 2.0f, bias);
    int ok = c[0] == 12 && c[2] == 36 && c[5] == 42;
    float n[2] = {NAN, NAN};
    pc_gemm(NULL, n, 2, pc_mat_f32(&a, 0, 0), pc_mat_f32(&bm, 2, 0), 1, 2, 0, 1.0f, 0.0f, NULL);
    ok &= n[0] == 0 && n[1] == 0;
    // M = 0 / N = 0: nothing touched
    pc_gemm(NULL, c, 3, pc_mat_f32(&a, 1, 0), pc_mat_f32(&bm, 3, 0), 0, 3, 1, 1.0f, 0.0f, NULL);
    pc_gemm(NULL, c, 3, pc_mat_f32(&a, 1, 0), pc_mat_f32(&bm, 3, 0), 2, 0, 1, 1.0f, 0.0f, NULL);
    ok &= c[0] == 12 && c[5] == 42;
    PC_CHECK(ok, "gemm degenerate shapes: K=0 gives beta*C+bias (NaN C with beta 0 -> 0), M=0/N=0 touch nothing");
}

static void test_batched(pc_pool *pool) {
    int64_t batch = 6, M = 37, N = 29, K = 64;
    pc_test_rng r = {5};
    float *a = (float *)malloc((size_t)(batch * M * K) * 4), *b = (float *)malloc((size_t)(batch * N * K) * 4);
    float *c = (float *)malloc((size_t)(batch * M * N) * 4), *w = (float *)malloc((size_t)(batch * M * N) * 4);
    pc_test_fill(&r, a, (size_t)(batch * M * K), 1.0f);
    pc_test_fill(&r, b, (size_t)(batch * N * K), 1.0f);
    for (int rep = 0; rep < 2; rep++) {  // rep 0: per item over the pool; rep 1: items spread over threads
        int64_t nb = rep ? batch : 1;
        pc_gemm_batched(pool, c, N, M * N, pc_mat_f32(a, K, 0), M * K, pc_mat_f32(b, K, 1), N * K, nb, M, N, K, 0.125f,
                        0.0f, NULL);
        for (int64_t i = 0; i < nb; i++)
            pc_gemm_ref(w + i * M * N, N, pc_mat_f32(a + i * M * K, K, 0), pc_mat_f32(b + i * N * K, K, 1), M, N, K,
                        0.125f, 0.0f, NULL);
        pc_test_close(rep ? "gemm batched (6 attention-like items, NT)" : "gemm batched (1 item)", c, w,
                      (size_t)(nb * M * N), 1e-5, 1e-5);
    }
    free(a), free(b), free(c), free(w);
}

// core/vec.h (4 lanes): axpy with a scalar tail, max, reductions.
static void test_simd(void) {
    float x[37], y[37], want[37];
    pc_test_rng r = {3};
    pc_test_fill(&r, x, 37, 1.0f);
    pc_test_fill(&r, y, 37, 1.0f);
    for (int i = 0; i < 37; i++) want[i] = y[i] + 0.5f * x[i] > 0.1f ? y[i] + 0.5f * x[i] : 0.1f;
    int i = 0;
    for (; i + PC_VW <= 37; i += PC_VW) st(y + i, vmax(vfma(ld(x + i), splat(0.5f), ld(y + i)), splat(0.1f)));
    for (; i < 37; i++) y[i] = fmaxf(x[i] * 0.5f + y[i], 0.1f);
    float ones[PC_VW];
    for (int k = 0; k < PC_VW; k++) ones[k] = (float)(k + 1);
    float s = hsum(ld(ones)), m = hmax(ld(ones));
    PC_CHECK(s == (float)(PC_VW * (PC_VW + 1) / 2) && m == (float)PC_VW, "vec.h (%d lanes): reductions", PC_VW);
    pc_test_close("vec.h axpy + max with tail", y, want, 37, 1e-6, 1e-6);
}

int main(void) {
    pc_error err;
    pc_pool *pool3;
    pc_test_ok(pc_pool_create(&pool3, 3, &err), &err, "pool");
    printf("cpu: %s; pc_gemm uses %s\n", pc_cpu_features(), pc_gemm_isa());
    PC_CHECK(strcmp(pc_gemm_isa(), pc_cpu_has_avx512f() ? "avx512" : pc_cpu_has_avx2_fma() ? "avx2" : "scalar") == 0,
             "pc_gemm picks the best supported micro-kernel");
    static const pc_gemm_isa_id isas[] = {PC_GEMM_ISA_SCALAR, PC_GEMM_ISA_AVX2, PC_GEMM_ISA_AVX512,
                                          PC_GEMM_ISA_AVX512_BF16};
    for (size_t i = 0; i < PC_ARRAY_LEN(isas); i++) {
        pc_gemm_isa_id isa = isas[i];
        if (!pc_gemm_isa_supported(isa)) {
            float c = 0, x = 0;
            PC_CHECK(pc_gemm_ex(NULL, isa, &c, 1, pc_mat_f32(&x, 1, 0), pc_mat_f32(&x, 1, 0), 1, 1, 1, 1, 0, NULL) ==
                         PC_ERR_UNSUPPORTED,
                     "gemm %s not supported here: pc_gemm_ex says PC_ERR_UNSUPPORTED", pc_gemm_isa_name(isa));
            continue;
        }
        test_random(isa, NULL, 1, 1000 + i, 60);
        test_random(isa, pool3, 3, 2000 + i, 40);
        test_blocks(isa, NULL, 1);  // one worker: several M blocks (MB) per worker
        test_blocks(isa, pool3, 3);
        test_determinism(isa, pool3);
    }
    test_degenerate();
    test_batched(pool3);
    test_simd();
    pc_pool_free(pool3);
    return pc_test_finish();
}
