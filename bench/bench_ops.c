// Throughput of the hot kernels at UNet/VAE shapes: conv2d 3x3 (320 ch,
// 40x64 latent), the same as a bare GEMM (what im2col + GEMM can at best reach),
// attention over 2560 tokens (d = 64), group norm, and a few others.
//
//   bench_ops [threads] [reps]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "testutil.h"

static float *rnd(int64_t n, float s, pc_test_rng *r) {
    float *x = pc_aligned_alloc((size_t)n * sizeof(float));
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    pc_test_fill(r, x, (size_t)n, s);
    return x;
}

typedef void (*bench_fn)(void *ctx, pc_pool *pool);

static double cpu_sec(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// Wall and CPU seconds of the best run. On a loaded machine the CPU time
// stays close to what the kernel would take with its cores to itself (the
// pool's idle workers sleep on a condition variable, so they add nothing).
typedef struct {
    double wall, cpu;
} timing;

static timing best_time(bench_fn fn, void *ctx, pc_pool *pool, int reps) {
    fn(ctx, pool);  // warm-up
    double best = 1e30, bestc = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = pc_time_sec(), c0 = cpu_sec();
        fn(ctx, pool);
        double t = pc_time_sec() - t0, c = cpu_sec() - c0;
        if (t < best) best = t;
        if (c < bestc) bestc = c;
    }
    timing r = {best, bestc};
    return r;
}

// One table row: wall ms, GFLOP/s from wall time, and GFLOP per CPU second
// (per-core throughput, robust to other processes on the machine).
static void row(const char *name, timing t, double flops) {
    printf("%-44s %9.2f %9.1f %9.1f\n", name, t.wall * 1e3, flops / t.wall * 1e-9, flops / t.cpu * 1e-9);
}
static void row_bw(const char *name, timing t, double bytes) {
    printf("%-44s %9.3f %9.1f %9.1f  GB/s\n", name, t.wall * 1e3, bytes / t.wall * 1e-9, bytes / t.cpu * 1e-9);
}

typedef struct {
    pc_conv2d_desc d;
    float *x, *y, *b;
    pc_wt w;
    void *ws;
    size_t wsb;
} conv_b;

static void run_conv(void *p, pc_pool *pool) {
    conv_b *c = p;
    pc_error err;
    if (pc_conv2d(pool, c->y, c->x, c->w, c->b, &c->d, c->ws, c->wsb, &err) != PC_OK) {
        fprintf(stderr, "conv2d: %s\n", err.msg);
        exit(1);
    }
}

typedef struct {
    float *C, *A, *B;
    int64_t M, N, K;
} gemm_b;

static void run_gemm(void *p, pc_pool *pool) {
    gemm_b *g = p;
    pc_gemm(pool, g->C, g->N, pc_mat_f32(g->A, g->K, 0), pc_mat_f32(g->B, g->N, 0), g->M, g->N, g->K, 1.0f, 0.0f, NULL);
}

typedef struct {
    float *q, *k, *v, *o;
    int64_t B, H, Nq, Nk, D;
} attn_b;

static void run_attn(void *p, pc_pool *pool) {
    attn_b *a = p;
    pc_error err;
    if (pc_attention(pool, pc_attn_bhnd(a->o, a->H, a->Nq, a->D), pc_attn_bhnd(a->q, a->H, a->Nq, a->D),
                     pc_attn_bhnd(a->k, a->H, a->Nk, a->D), pc_attn_bhnd(a->v, a->H, a->Nk, a->D), a->B, a->H, a->Nq,
                     a->Nk, a->D, 1.0f / sqrtf((float)a->D), &err) != PC_OK) {
        fprintf(stderr, "attention: %s\n", err.msg);
        exit(1);
    }
}

typedef struct {
    float *x, *y, *g, *b;
    int64_t B, C, S, G;
    int silu;
} gn_b;

static void run_gn(void *p, pc_pool *pool) {
    gn_b *g = p;
    pc_group_norm(pool, g->y, g->x, g->g, g->b, g->B, g->C, g->S, g->G, 1e-5f, g->silu);
}
static void run_ln(void *p, pc_pool *pool) {
    gn_b *g = p;
    pc_layer_norm(pool, g->y, g->x, g->g, g->b, g->S, g->C, 1e-5f);
}
static void run_gelu(void *p, pc_pool *pool) {
    gn_b *g = p;
    pc_gelu(pool, g->y, g->x, g->C * g->S);
}

typedef struct {
    float *x, *y, *b;
    pc_wt w;
    int64_t Cin, Cout, T, HW;
} c3_b;

static void run_c3(void *p, pc_pool *pool) {
    c3_b *c = p;
    pc_error err;
    if (pc_conv3d_t(pool, c->y, c->x, c->w, c->b, 1, c->Cin, c->T, c->HW, c->Cout, 3, 1, NULL, 0, &err) != PC_OK) {
        fprintf(stderr, "conv3d: %s\n", err.msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 5;
    pc_error err;
    pc_pool *pool = NULL;
    if (pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pc_test_rng r = {7};
    printf("bench_ops: %d thread(s), best of %d, gemm isa %s\n", pc_pool_size(pool), reps, pc_gemm_isa());
    printf("%-44s %9s %9s %9s\n", "kernel", "wall ms", "GFLOP/s", "per-cpu-s");

    // conv2d 3x3, 320 -> 320, 40x64, pad 1 (UNet level 1 / SD latent 320x512)
    const int64_t C = 320, H = 40, W = 64, HW = H * W;
    conv_b cv = {pc_conv2d_make(1, C, H, W, C, 3, 3, 1, 1, 1), rnd(C * HW, 1, &r), rnd(C * HW, 1, &r), rnd(C, 1, &r),
                 pc_wt_f32(rnd(C * C * 9, 0.05f, &r)), NULL, 0};
    cv.wsb = pc_conv2d_workspace(&cv.d);
    cv.ws = pc_aligned_alloc(cv.wsb);
    double fl = 2.0 * C * C * 9 * HW;
    timing t = best_time(run_conv, &cv, pool, reps);
    row("conv2d 3x3 320->320 40x64 f32 w", t, fl);
    uint16_t *wh = malloc((size_t)(C * C * 9) * 2);
    for (int64_t i = 0; i < C * C * 9; i++) wh[i] = pc_f32_to_f16(((const float *)cv.w.data)[i]);
    pc_wt wf32 = cv.w;
    cv.w = (pc_wt){wh, PC_F16};
    t = best_time(run_conv, &cv, pool, reps);
    row("conv2d 3x3 320->320 40x64 f16 w", t, fl);
    cv.w = wf32;
    // the same FLOPs as one GEMM (upper bound for im2col + GEMM)
    gemm_b gm = {pc_aligned_alloc((size_t)(C * HW) * 4), rnd(C * C * 9, 1, &r), rnd(C * 9 * HW, 1, &r), C, HW, C * 9};
    t = best_time(run_gemm, &gm, pool, reps);
    row("  gemm M320 N2560 K2880 (same FLOPs)", t, fl);
    // 1x1 conv 320 -> 320
    conv_b c1 = cv;
    c1.d = pc_conv2d_make(1, C, H, W, C, 1, 1, 1, 0, 0);
    t = best_time(run_conv, &c1, pool, reps);
    row("conv2d 1x1 320->320 40x64", t, 2.0 * C * C * HW);
    // UNet lowest level: 3x3 1280 -> 1280 at 5x8, 16 frames (images batched into the GEMM columns)
    {
        int64_t c = 1280, h = 5, w = 8, B = 16;
        conv_b cb = {pc_conv2d_make(B, c, h, w, c, 3, 3, 1, 1, 1), rnd(B * c * h * w, 1, &r), rnd(B * c * h * w, 1, &r),
                     rnd(c, 1, &r), pc_wt_f32(rnd(c * c * 9, 0.05f, &r)), NULL, 0};
        t = best_time(run_conv, &cb, pool, reps);
        row("conv2d 3x3 1280->1280 5x8 B16", t, 2.0 * c * c * 9 * h * w * B);
        pc_aligned_free(cb.x), pc_aligned_free(cb.y), pc_aligned_free(cb.b), pc_aligned_free((void *)cb.w.data);
    }
    // VAE decoder: 3x3 128 -> 128 at 320x512 (full resolution)
    {
        int64_t c = 128, h = 320, w = 512;
        conv_b cb = {pc_conv2d_make(1, c, h, w, c, 3, 3, 1, 1, 1), rnd(c * h * w, 1, &r), rnd(c * h * w, 1, &r),
                     rnd(c, 1, &r), pc_wt_f32(rnd(c * c * 9, 0.05f, &r)), NULL, 0};
        t = best_time(run_conv, &cb, pool, reps > 2 ? 2 : reps);
        row("conv2d 3x3 128->128 320x512 (VAE, own ws)", t, 2.0 * c * c * 9 * h * w);
        pc_aligned_free(cb.x), pc_aligned_free(cb.y), pc_aligned_free(cb.b), pc_aligned_free((void *)cb.w.data);
    }
    // temporal conv (3,1,1) 320 ch, 16 frames of 10x16
    {
        c3_b c3 = {rnd(C * 16 * 160, 1, &r), rnd(C * 16 * 160, 1, &r), rnd(C, 1, &r), pc_wt_f32(rnd(C * C * 3, 0.05f, &r)),
                   C, C, 16, 160};
        t = best_time(run_c3, &c3, pool, reps);
        row("conv3d (3,1,1) 320->320 T16 10x16", t, 2.0 * C * C * 3 * 16 * 160);
        pc_aligned_free(c3.x), pc_aligned_free(c3.y), pc_aligned_free(c3.b), pc_aligned_free((void *)c3.w.data);
    }

    // attention: 2560 tokens, 5 heads of 64 (UNet level-1 spatial self-attention, one frame)
    {
        int64_t B = 1, Hh = 5, N = 2560, D = 64;
        attn_b a = {rnd(B * Hh * N * D, 1, &r), rnd(B * Hh * N * D, 1, &r), rnd(B * Hh * N * D, 1, &r),
                    rnd(B * Hh * N * D, 1, &r), B, Hh, N, N, D};
        double afl = 4.0 * B * Hh * N * N * D;
        t = best_time(run_attn, &a, pool, reps);
        row("attention B1 H5 N2560 D64 (self)", t, afl);
        a.Nk = 77;
        t = best_time(run_attn, &a, pool, reps);
        row("attention B1 H5 Nq2560 Nk77 D64 (cross)", t, 4.0 * Hh * N * 77 * D);
        a.H = 1;
        a.Nq = 9216;
        a.Nk = 2560;
        t = best_time(run_attn, &a, pool, reps > 2 ? 2 : reps);
        row("attention B1 H1 Nq9216 Nk2560 D64", t, 4.0 * 9216 * 2560 * D);
        pc_aligned_free(a.q), pc_aligned_free(a.k), pc_aligned_free(a.v), pc_aligned_free(a.o);
    }

    // group norm (B1, 320, 40x64, 32 groups) and + SiLU; GB/s = read + write
    {
        gn_b g = {cv.x, cv.y, rnd(C, 1, &r), rnd(C, 1, &r), 1, C, HW, 32, 0};
        t = best_time(run_gn, &g, pool, reps);
        row_bw("group_norm 320x2560 G32", t, 2.0 * 4 * C * HW);
        g.silu = 1;
        t = best_time(run_gn, &g, pool, reps);
        row_bw("group_norm + silu 320x2560 G32", t, 2.0 * 4 * C * HW);
        t = best_time(run_ln, &g, pool, reps);
        row_bw("layer_norm 2560x320", t, 2.0 * 4 * C * HW);
        t = best_time(run_gelu, &g, pool, reps);
        row_bw("gelu 819200", t, 2.0 * 4 * C * HW);
        pc_aligned_free(g.g), pc_aligned_free(g.b);
    }
    pc_aligned_free(cv.x), pc_aligned_free(cv.y), pc_aligned_free(cv.b), pc_aligned_free((void *)wf32.data);
    pc_aligned_free(cv.ws), free(wh);
    pc_aligned_free(gm.A), pc_aligned_free(gm.B), pc_aligned_free(gm.C);
    pc_pool_free(pool);
    return 0;
}
