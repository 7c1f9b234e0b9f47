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

typedef struct {
    pc_cpu_peak per_thread[64];
} peak_ctx;

static void peak_task(void *p, int ith, int nth) {
    (void)nth;
    peak_ctx *c = (peak_ctx *)p;
    if (ith < 64) c->per_thread[ith] = pc_cpu_fma_peak(0.15);
}

// Register-FMA throughput of one core per CPU-second, for the ISA the GEMM runs (pc_cpu_fma_peak):
// best over the pool's threads.
static pc_cpu_peak measure_peak(pc_pool *pool) {
    int n = pc_pool_size(pool);
    peak_ctx c;
    memset(&c, 0, sizeof(c));
    pc_pool_run(pool, peak_task, &c);
    pc_cpu_peak best = c.per_thread[0];
    for (int i = 1; i < n && i < 64; i++)
        if (c.per_thread[i].gflops > best.gflops) best = c.per_thread[i];
    return best;
}

static double max_peak(pc_pool *pool) {
    pc_cpu_peak a = measure_peak(NULL), b = measure_peak(pool);
    return PC_MAX(a.gflops, b.gflops);
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

#ifdef PC_HAVE_OPENBLAS
static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

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
#ifndef PC_HAVE_OPENBLAS
    printf("(built without OpenBLAS: the OpenBLAS columns say n/a; install libopenblas-dev and reconfigure)\n");
#endif
    // Peak per core, measured before and after the shapes; the larger reading is used.
    const pc_cpu_peak peak_isa = pc_cpu_fma_peak(0.05);
    double peak_a = max_peak(pool2);

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
    double peak_b = max_peak(pool2);
    double peak = PC_MAX(peak_a, peak_b);
    printf("fp32 peak per core, measured (%s register loop, %d lanes, per CPU-second, before / after the shapes): "
           "%.1f / %.1f GFLOP/s\n", peak_isa.isa, peak_isa.lanes, peak_a, peak_b);
    printf("(the %% peak columns divide by this measured rate; none assumes a clock or a pipe count)\n");
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
