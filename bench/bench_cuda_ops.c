// CUDA backend throughput (src/cuda/): cuBLASLt GEMM TFLOP/s at the
// transformer / UNet shapes of this project, flash attention at 2560 tokens
// (the UNet's first level: 16 frames of 40x64 latents), and the memory-bound
// norms / activations in GB/s. Random data (never zeros); operands rotate
// among several copies when one set would sit in L2; each figure is the median
// of 5 batches of >= 25 ms, timed with a stream sync around each batch.
//
//   bench_cuda_ops [--quick]     prints markdown tables; exits 0 with a
//                                message when there is no CUDA device
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "cuda/cuda_backend.h"
#include "testutil.h"

static pc_cuda_ctx *cu;
static pc_test_rng rng = {7};
static int quick;

typedef pc_status (*op_fn)(void *arg, pc_error *err);

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Median seconds per call of fn(arg), or -1 (message printed) on error.
static double time_op(op_fn fn, void *arg, const char *what) {
    pc_error err;
    pc_status st = PC_OK;
    for (int i = 0; i < 3 && st == PC_OK; i++) st = fn(arg, &err);  // warm-up: module load, heuristics, clocks
    if (st == PC_OK) st = pc_cuda_sync(cu, &err);
    int reps = 1;
    double t = 0;
    while (st == PC_OK) {  // calibrate: a batch of >= 25 ms (5 ms with --quick)
        double t0 = pc_time_sec();
        for (int i = 0; i < reps && st == PC_OK; i++) st = fn(arg, &err);
        if (st == PC_OK) st = pc_cuda_sync(cu, &err);
        t = pc_time_sec() - t0;
        if (t >= (quick ? 0.005 : 0.025) || reps >= (1 << 16)) break;
        reps *= 2;
    }
    double batch[5];
    int nb = quick ? 3 : 5;
    for (int b = 0; b < nb && st == PC_OK; b++) {
        double t0 = pc_time_sec();
        for (int i = 0; i < reps && st == PC_OK; i++) st = fn(arg, &err);
        if (st == PC_OK) st = pc_cuda_sync(cu, &err);
        batch[b] = (pc_time_sec() - t0) / reps;
    }
    if (st != PC_OK) {
        printf("  (%s failed: %s)\n", what, err.msg);
        return -1;
    }
    qsort(batch, (size_t)nb, sizeof(double), cmp_dbl);
    return batch[nb / 2];
}

// n random values in [-scale, scale) uploaded as dtype dt.
static void *drand(int64_t n, pc_dtype dt, float scale) {
    float *h = malloc((size_t)n * sizeof(float));
    if (!h) pc_test_fatal("out of host memory");
    pc_test_fill(&rng, h, (size_t)n, scale);
    void *d = NULL;
    pc_error err;
    pc_test_ok(pc_cuda_alloc(cu, &d, (size_t)n * pc_dtype_size(dt), &err), &err, "pc_cuda_alloc");
    pc_test_ok(pc_cuda_upload_raw(cu, d, dt, h, PC_F32, n, &err), &err, "upload");
    free(h);
    return d;
}

// ---- GEMM ------------------------------------------------------------------------------

#define NSETS 4
typedef struct {
    int64_t M, N, K;
    pc_dtype ab, c;
    int flags, nsets, it;
    void *A[NSETS], *B[NSETS], *C[NSETS];
    float *bias;
} gemm_arg;

static pc_status gemm_call(void *p, pc_error *err) {
    gemm_arg *g = p;
    int s = g->it++ % g->nsets;
    return pc_cuda_gemm_nt(cu, g->C[s], g->c, g->N, g->A[s], g->K, g->B[s], g->K, g->ab, g->bias, g->M, g->N, g->K,
                           1.0f, 0.0f, g->flags, err);
}

// TFLOP/s of C = A·B^T + bias at (M, N, K) with the given dtypes, or -1.
static double bench_gemm(int64_t M, int64_t N, int64_t K, pc_dtype ab, pc_dtype c, int flags) {
    size_t mark = pc_cuda_arena_mark(cu);
    gemm_arg g;
    memset(&g, 0, sizeof g);
    g.M = M, g.N = N, g.K = K, g.ab = ab, g.c = c, g.flags = flags;
    size_t set_bytes = (size_t)((M + N) * K) * pc_dtype_size(ab) + (size_t)(M * N) * pc_dtype_size(c);
    g.nsets = set_bytes < ((size_t)192 << 20) ? NSETS : 1;  // beat the 50-60 MB L2
    for (int s = 0; s < g.nsets; s++) {
        g.A[s] = drand(M * K, ab, 1.0f);
        g.B[s] = drand(N * K, ab, 1.0f);
        pc_error err;
        pc_test_ok(pc_cuda_alloc(cu, &g.C[s], (size_t)(M * N) * pc_dtype_size(c), &err), &err, "alloc C");
    }
    g.bias = drand(N, PC_F32, 1.0f);
    double t = time_op(gemm_call, &g, "gemm");
    pc_cuda_arena_reset(cu, mark);
    return t > 0 ? 2.0 * (double)M * (double)N * (double)K / t / 1e12 : -1;
}

static void gemm_table(void) {
    static const struct {
        const char *what;
        int64_t M, N, K;
    } shapes[] = {
        {"DUSt3R enc qkv (2x768 tokens)", 1536, 3072, 1024},
        {"DUSt3R enc mlp fc1", 1536, 4096, 1024},
        {"DUSt3R enc mlp fc2", 1536, 1024, 4096},
        {"DUSt3R dec mlp fc1 (768)", 1536, 3072, 768},
        {"UNet L1 attn q/k/v/out (16x40x64)", 40960, 320, 320},
        {"UNet L1 GEGLU proj", 40960, 2560, 320},
        {"UNet L1 ff out", 40960, 320, 1280},
        {"UNet L4 qkv (16x5x8 tokens)", 640, 1280, 1280},
        {"UNet L3 ff proj (16x10x16)", 2560, 10240, 1280},
        {"square 8192 (peak)", 8192, 8192, 8192},
    };
    printf("\n## GEMM C = A·B^T + bias (cuBLASLt), TFLOP/s\n\n");
    printf("| shape | M | N | K | bf16->bf16 | bf16->f32 | tf32 | f32 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    size_t n = quick ? 3 : PC_ARRAY_LEN(shapes);
    for (size_t i = 0; i < n; i++) {
        int64_t M = shapes[i].M, N = shapes[i].N, K = shapes[i].K;
        double r[4] = {bench_gemm(M, N, K, PC_BF16, PC_BF16, 0), bench_gemm(M, N, K, PC_BF16, PC_F32, 0),
                       bench_gemm(M, N, K, PC_F32, PC_F32, PC_CUDA_GEMM_TF32), bench_gemm(M, N, K, PC_F32, PC_F32, 0)};
        printf("| %s | %lld | %lld | %lld |", shapes[i].what, (long long)M, (long long)N, (long long)K);
        for (int j = 0; j < 4; j++) {
            if (r[j] > 0)
                printf(" %.1f |", r[j]);
            else
                printf(" err |");
        }
        printf("\n");
        fflush(stdout);
    }
}

// ---- attention -------------------------------------------------------------------------

typedef struct {
    int64_t B, H, N, D;
    pc_cuda_attn_view o, q, k, v;
} attn_arg;

static pc_status attn_call(void *p, pc_error *err) {
    attn_arg *a = p;
    return pc_cuda_attention(cu, a->o, a->q, a->k, a->v, a->B, a->H, a->N, a->N, a->D, 1.0f / sqrtf((float)a->D), err);
}

static void attn_table(void) {
    static const struct {
        const char *what;
        int64_t B, H, N, D;
    } shapes[] = {
        {"UNet L1 spatial (16 frames x 2560 tok, 5 heads)", 16, 5, 2560, 64},
        {"2560 tokens, 16 heads, D 64", 1, 16, 2560, 64},
        {"2560 tokens, 8 heads, D 128", 1, 8, 2560, 128},
        {"2560 tokens, 16x8 heads, D 128", 16, 8, 2560, 128},
        {"DUSt3R enc (2 views x 768 tok, 16 heads)", 2, 16, 768, 64},
        {"UNet temporal (2560 x 16 frames, 5 heads)", 2560, 5, 16, 64},
    };
    printf("\n## Flash attention forward (bf16 in, f32 accumulate, bf16 out), packed (B, N, 3, H, D) qkv\n\n");
    printf("| case | B | H | N | D | ms | TFLOP/s |\n|---|---:|---:|---:|---:|---:|---:|\n");
    size_t n = quick ? 2 : PC_ARRAY_LEN(shapes);
    for (size_t i = 0; i < n; i++) {
        size_t mark = pc_cuda_arena_mark(cu);
        attn_arg a;
        a.B = shapes[i].B, a.H = shapes[i].H, a.N = shapes[i].N, a.D = shapes[i].D;
        int64_t HD = a.H * a.D, sb = a.N * 3 * HD, sn = 3 * HD;
        char *qkv = drand(a.B * sb, PC_BF16, 2.0f);
        void *out = NULL;
        pc_error err;
        pc_test_ok(pc_cuda_alloc(cu, &out, (size_t)(a.B * a.N * HD) * 2, &err), &err, "alloc o");
        pc_cuda_attn_view q = {qkv, PC_BF16, sb, a.D, sn}, k = {qkv + HD * 2, PC_BF16, sb, a.D, sn},
                          v = {qkv + 2 * HD * 2, PC_BF16, sb, a.D, sn}, o = {out, PC_BF16, a.N * HD, a.D, HD};
        a.q = q, a.k = k, a.v = v, a.o = o;
        double t = time_op(attn_call, &a, "attention");
        double flops = 4.0 * (double)(a.B * a.H) * (double)a.N * (double)a.N * (double)a.D;
        printf("| %s | %lld | %lld | %lld | %lld |", shapes[i].what, (long long)a.B, (long long)a.H, (long long)a.N,
               (long long)a.D);
        if (t > 0)
            printf(" %.3f | %.1f |\n", t * 1e3, flops / t / 1e12);
        else
            printf(" err | err |\n");
        fflush(stdout);
        pc_cuda_arena_reset(cu, mark);
    }
}

// ---- memory-bound ops ------------------------------------------------------------------

typedef struct {
    int kind;  // 0 layer norm, 1 group norm + SiLU, 2 GELU, 3 add
    pc_dtype dt;
    int64_t a, b, c;  // LN: M, C; GN: B, C, S; GELU/add: n
    void *x, *y, *z;
    float *g, *beta;
} mem_arg;

static pc_status mem_call(void *p, pc_error *err) {
    mem_arg *m = p;
    switch (m->kind) {
    case 0:
        return pc_cuda_layer_norm(cu, m->y, m->dt, m->x, m->dt, m->g, m->beta, m->a, m->b, 1e-6f, err);
    case 1:
        return pc_cuda_group_norm(cu, m->y, m->dt, m->x, m->dt, m->g, m->beta, m->a, m->b, m->c, 32, 1e-5f, 1, err);
    case 2:
        return pc_cuda_unary(cu, m->y, m->dt, m->x, m->dt, m->a, PC_CUDA_GELU, err);
    default:
        return pc_cuda_add(cu, m->y, m->dt, m->x, m->dt, m->z, m->dt, m->a, err);
    }
}

static void mem_table(void) {
    static const struct {
        const char *what;
        int kind;
        int64_t a, b, c;
        double passes;  // bytes moved / (n * dtype size): reads + writes of the minimal algorithm
    } cases[] = {
        {"LayerNorm (40960 x 320)", 0, 40960, 320, 1, 2},
        {"LayerNorm (1536 x 1024)", 0, 1536, 1024, 1, 2},
        {"GroupNorm+SiLU (1, 320, 16x40x64), G 32", 1, 1, 320, 40960, 2},
        {"GELU (40960 x 1280)", 2, 40960 * 1280, 1, 1, 2},
        {"add (40960 x 320)", 3, 40960 * 320, 1, 1, 3},
    };
    printf("\n## Memory-bound kernels, GB/s of the minimal traffic (each input read once, output written once)\n\n");
    printf("| op | f32 ms | f32 GB/s | bf16 ms | bf16 GB/s |\n|---|---:|---:|---:|---:|\n");
    size_t n = quick ? 2 : PC_ARRAY_LEN(cases);
    for (size_t i = 0; i < n; i++) {
        printf("| %s |", cases[i].what);
        for (int bf = 0; bf < 2; bf++) {
            size_t mark = pc_cuda_arena_mark(cu);
            mem_arg m;
            memset(&m, 0, sizeof m);
            m.kind = cases[i].kind, m.dt = bf ? PC_BF16 : PC_F32;
            m.a = cases[i].a, m.b = cases[i].b, m.c = cases[i].c;
            int64_t ne = m.a * m.b * m.c;
            int64_t C = m.kind == 0 ? m.b : m.kind == 1 ? m.b : 1;
            m.x = drand(ne, m.dt, 2.0f), m.y = drand(ne, m.dt, 1.0f), m.z = drand(ne, m.dt, 1.0f);
            m.g = drand(C, PC_F32, 1.0f), m.beta = drand(C, PC_F32, 1.0f);
            double t = time_op(mem_call, &m, cases[i].what);
            double bytes = cases[i].passes * (double)ne * (double)pc_dtype_size(m.dt);
            if (t > 0)
                printf(" %.3f | %.0f |", t * 1e3, bytes / t / 1e9);
            else
                printf(" err | err |");
            pc_cuda_arena_reset(cu, mark);
        }
        printf("\n");
        fflush(stdout);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: bench_cuda_ops [--quick]\n");
            return 2;
        }
    }
    pc_error err;
    int n = 0;
    printf("cuda build: %s\n", pc_cuda_build_info());
    if (pc_cuda_probe(&n, &err) != PC_OK) {
        printf("%s: nothing to measure\n", err.msg);
        return 0;
    }
    pc_test_ok(pc_cuda_ctx_create(&cu, 0, (size_t)6 << 30, &err), &err, "pc_cuda_ctx_create (6 GiB arena)");
    const pc_cuda_props *p = pc_cuda_ctx_props(cu);
    printf("device 0: %s, cc %d.%d, %d SMs, %.1f GiB, L2 %.0f MiB, driver %d, runtime %d\n", p->name, p->cc_major,
           p->cc_minor, p->sm_count, (double)p->total_bytes / (1 << 30), (double)p->l2_bytes / (1 << 20),
           p->driver_version, p->runtime_version);
    gemm_table();
    attn_table();
    mem_table();
    pc_cuda_ctx_free(cu);
    return 0;
}
