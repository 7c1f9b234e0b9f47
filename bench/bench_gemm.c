// GEMM throughput: pc_gemm (and the opt-in pc_gemm_bf16) vs OpenBLAS
// cblas_sgemm at transformer / UNet shapes, 1 and 2 threads, best of several
// repeats, as a fraction of the fp32 FMA peak measured by a pure register-FMA
// loop on this CPU. Two tables: wall clock, and GFLOP per CPU-second (which
// stays meaningful when other processes share the cores).
//
//   bench_gemm [reps]        prints a markdown table
#include "core/common.h"
#include "core/cpu.h"
#include "core/gemm.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef PC_HAVE_OPENBLAS
#include <cblas.h>
#endif

static double cpu_sec(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PEAK_ITERS 20000000LL
// 24 independent accumulator chains in named registers: enough to cover FMA
// latency x pipes. No memory operands in the loop.
#define PK_DECL(i) __m512 a##i = _mm512_set1_ps((float)(i));
#define PK_FMA(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define PK_SUM(i) s += _mm512_reduce_add_ps(a##i);
#define PK_ALL(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) \
    F(12) F(13) F(14) F(15) F(16) F(17) F(18) F(19) F(20) F(21) F(22) F(23)
__attribute__((target("avx512f"))) static double fma_loop_avx512(void) {
    PK_ALL(PK_DECL)
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    double t0 = cpu_sec(CLOCK_THREAD_CPUTIME_ID);  // CPU time: robust to other processes on the machine
    for (long long it = 0; it < PEAK_ITERS; it++) {
        PK_ALL(PK_FMA)
    }
    double t = cpu_sec(CLOCK_THREAD_CPUTIME_ID) - t0;
    float s = 0;
    PK_ALL(PK_SUM)
    if (s == 12345.678f) printf(" ");  // keep the result alive
    return (double)PEAK_ITERS * 24 * 16 * 2 / t / 1e9;
}
#endif

typedef struct {
    double gflops[64];
} peak_ctx;

static void peak_task(void *p, int ith, int nth) {
    (void)nth;
    peak_ctx *c = (peak_ctx *)p;
#if defined(__x86_64__) && defined(__GNUC__)
    c->gflops[ith] = pc_cpu_has_avx512f() ? fma_loop_avx512() : 0.0;
#else
    c->gflops[ith] = 0.0;
#endif
}

// Pure-FMA throughput of one core per CPU-second: best over 3 runs on each of the pool's threads.
static double measure_peak(pc_pool *pool) {
    int n = pc_pool_size(pool);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        peak_ctx c;
        memset(&c, 0, sizeof(c));
        pc_pool_run(pool, peak_task, &c);
        for (int i = 0; i < n; i++) best = PC_MAX(best, c.gflops[i]);
    }
    return best;
}

typedef struct {
    double wall, cpu;  // GFLOP/s by wall clock; GFLOP per CPU-second (per busy core)
} rate;

typedef struct {
    const char *what;
    int64_t M, N, K;
    int ta, tb;     // trans flags (row-major storage)
    pc_dtype bdt;   // dtype of B (weights)
} shape;

static const shape g_shapes[] = {
    {"ViT-L linear (qkv/proj), 768 tok", 768, 1024, 1024, 0, 1, PC_F32},
    {"ViT-L MLP up", 768, 4096, 1024, 0, 1, PC_F32},
    {"ViT-L MLP down", 768, 1024, 4096, 0, 1, PC_F32},
    {"DUSt3R pair tokens linear", 3072, 1024, 1024, 0, 1, PC_F32},
    {"UNet 320-ch linear", 2560, 320, 320, 0, 1, PC_F32},
    {"UNet 320->1280 (GEGLU-ish)", 2560, 1280, 320, 0, 1, PC_F32},
    {"UNet conv3x3 320ch as im2col GEMM", 2560, 320, 2880, 0, 1, PC_F32},
    {"attention Q K^T (1 head)", 768, 768, 64, 0, 1, PC_F32},
    {"cross-attn Q K^T, 77 text tokens", 2560, 77, 64, 0, 1, PC_F32},
    {"attention P V (1 head)", 768, 64, 768, 0, 0, PC_F32},
    {"ViT-L linear, BF16 weights", 768, 1024, 1024, 0, 1, PC_BF16},
};

static rate time_ours(pc_pool *pool, const shape *s, float *C, const float *A, const void *B, int reps, int bf16) {
    double bw = 1e30, bc = 1e30;
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    pc_mat a = pc_mat_f32(A, lda, s->ta), b = {B, s->bdt, ldb, s->tb};
    for (int r = -1; r < reps; r++) {  // r = -1: warm-up, not counted
        double t0 = pc_time_sec(), c0 = cpu_sec(CLOCK_PROCESS_CPUTIME_ID);
        (bf16 ? pc_gemm_bf16 : pc_gemm)(pool, C, s->N, a, b, s->M, s->N, s->K, 1.0f, 0.0f, NULL);
        double t = pc_time_sec() - t0, c = cpu_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r >= 0 && t < bw) bw = t;
        if (r >= 0 && c < bc) bc = c;
    }
    double fl = 2.0 * (double)s->M * (double)s->N * (double)s->K / 1e9;
    rate o = {fl / bw, fl / bc};
    return o;
}

#ifdef PC_HAVE_OPENBLAS
// CPU time includes OpenBLAS's worker threads spinning while they wait: that is CPU they take.
static rate time_blas(int nth, const shape *s, float *C, const float *A, const float *B, int reps) {
    openblas_set_num_threads(nth);
    double bw = 1e30, bc = 1e30;
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    for (int r = -1; r < reps; r++) {  // r = -1: warm-up, not counted
        double t0 = pc_time_sec(), c0 = cpu_sec(CLOCK_PROCESS_CPUTIME_ID);
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->M,
                    (int)s->N, (int)s->K, 1.0f, A, lda, B, ldb, 0.0f, C, (int)s->N);
        double t = pc_time_sec() - t0, c = cpu_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r >= 0 && t < bw) bw = t;
        if (r >= 0 && c < bc) bc = c;
    }
    double fl = 2.0 * (double)s->M * (double)s->N * (double)s->K / 1e9;
    rate o = {fl / bw, fl / bc};
    return o;
}
#endif

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    rate o1, o2, b1, b2, h1, h2;  // ours f32, OpenBLAS, ours bf16 path; 1 / 2 threads
    int has_blas, has_bf16;
} result;

static void fmt(char *buf, size_t n, int ok, double v) {
    if (ok)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "n/a");
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 1;
    pc_error err;
    pc_pool *pool2;
    if (pc_pool_create(&pool2, 2, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("cpu features: %s; pc_gemm micro-kernel: %s\n", pc_cpu_features(), pc_gemm_isa());
    // Peak per core, measured before and after the shapes; the larger reading is used.
    double peak_a = PC_MAX(measure_peak(NULL), measure_peak(pool2));

    enum { NS = PC_ARRAY_LEN(g_shapes) };
    result res[NS];
    memset(res, 0, sizeof(res));
    pc_test_rng rng = {1};
    for (size_t i = 0; i < NS; i++) {
        const shape *s = &g_shapes[i];
        result *r = &res[i];
        size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->K * s->N), nc = (size_t)(s->M * s->N);
        float *A = (float *)pc_aligned_alloc(na * 4), *B = (float *)pc_aligned_alloc(nb * 4);
        float *C = (float *)pc_aligned_alloc(nc * 4);
        uint16_t *Bh = (uint16_t *)pc_aligned_alloc(nb * 2);
        pc_test_fill(&rng, A, na, 1.0f);
        pc_test_fill(&rng, B, nb, 1.0f);
        for (size_t j = 0; j < nb; j++) Bh[j] = pc_f32_to_bf16(B[j]);
        memset(C, 0, nc * 4);
        const void *Bp = s->bdt == PC_F32 ? (const void *)B : (const void *)Bh;
        r->o1 = time_ours(NULL, s, C, A, Bp, reps, 0);
        r->o2 = time_ours(pool2, s, C, A, Bp, reps, 0);
        if (pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16)) {
            r->has_bf16 = 1;
            r->h1 = time_ours(NULL, s, C, A, Bp, reps, 1);
            r->h2 = time_ours(pool2, s, C, A, Bp, reps, 1);
        }
#ifdef PC_HAVE_OPENBLAS
        if (s->bdt == PC_F32) {
            r->has_blas = 1;
            r->b1 = time_blas(1, s, C, A, B, reps);
            r->b2 = time_blas(2, s, C, A, B, reps);
            openblas_set_num_threads(1);
            pause_ms(300);  // let OpenBLAS's spinning workers go to sleep before our next run
        }
#endif
        pc_aligned_free(A), pc_aligned_free(B), pc_aligned_free(C), pc_aligned_free(Bh);
    }
    double peak_b = PC_MAX(measure_peak(NULL), measure_peak(pool2));
    double peak = PC_MAX(peak_a, peak_b);
    printf("fp32 FMA peak per core, measured (AVX-512 register FMA loop, per CPU-second, before / after the shapes): "
           "%.1f / %.1f GFLOP/s\n", peak_a, peak_b);
    printf("nominal: 2 x 512-bit FMA pipes x 16 lanes x 2 flop = 64 flop/cycle/core; at 2.0 GHz 128 GFLOP/s/core, "
           "256 for 2 cores (clock implied by the measured peak: %.2f GHz)\n", peak / 64.0);
    printf("best of %d repeats (+1 warm-up). bf16 = pc_gemm_bf16 (operands rounded to bf16, f32 accumulation).\n",
           reps);

    printf("\nA. Wall clock, GFLOP/s (%% peak = of the measured per-core peak x threads)\n\n");
    printf("| shape (M x N x K, op) | what | ours 1t | %% peak | OpenBLAS 1t | ours 2t | %% of 2-core peak | "
           "OpenBLAS 2t | ours bf16 1t | ours bf16 2t |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < NS; i++) {
        const shape *s = &g_shapes[i];
        const result *r = &res[i];
        char b1[32], b2[32], h1[32], h2[32];
        fmt(b1, sizeof b1, r->has_blas, r->b1.wall), fmt(b2, sizeof b2, r->has_blas, r->b2.wall);
        fmt(h1, sizeof h1, r->has_bf16, r->h1.wall), fmt(h2, sizeof h2, r->has_bf16, r->h2.wall);
        printf("| %lldx%lldx%lld %s%s%s | %s | %.1f | %.0f%% | %s | %.1f | %.0f%% | %s | %s | %s |\n", (long long)s->M,
               (long long)s->N, (long long)s->K, s->ta ? "T" : "N", s->tb ? "T" : "N",
               s->bdt == PC_BF16 ? " (B bf16)" : "", s->what, r->o1.wall, 100.0 * r->o1.wall / peak, b1, r->o2.wall,
               100.0 * r->o2.wall / (2 * peak), b2, h1, h2);
    }
    printf("\nB. Per CPU-second (GFLOP per second of CPU time used; on a shared machine this is what a core "
           "delivers while it runs us; %% = of the per-core peak)\n\n");
    printf("| shape | ours 1t | %% peak | OpenBLAS 1t | ours 2t | %% peak | OpenBLAS 2t | ours bf16 1t | ours bf16 2t |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < NS; i++) {
        const shape *s = &g_shapes[i];
        const result *r = &res[i];
        char b1[32], b2[32], h1[32], h2[32];
        fmt(b1, sizeof b1, r->has_blas, r->b1.cpu), fmt(b2, sizeof b2, r->has_blas, r->b2.cpu);
        fmt(h1, sizeof h1, r->has_bf16, r->h1.cpu), fmt(h2, sizeof h2, r->has_bf16, r->h2.cpu);
        printf("| %lldx%lldx%lld %s%s%s | %.1f | %.0f%% | %s | %.1f | %.0f%% | %s | %s | %s |\n", (long long)s->M,
               (long long)s->N, (long long)s->K, s->ta ? "T" : "N", s->tb ? "T" : "N",
               s->bdt == PC_BF16 ? " (B bf16)" : "", r->o1.cpu, 100.0 * r->o1.cpu / peak, b1, r->o2.cpu,
               100.0 * r->o2.cpu / peak, b2, h1, h2);
    }
    pc_pool_free(pool2);
    return 0;
}
