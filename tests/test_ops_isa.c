// Every vector build of the row primitives (ops_vec.c at 4 lanes, ops_avx2.c
// at 8, ops_avx512.c at 16) against the reference kernels, so the builds this
// CPU does not pick at run time are tested too (each where the CPU supports it).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ops.h"
#include "testutil.h"

#define DECL(S)                                                                                                      \
    void pc_ops_gelu_##S(float *y, const float *x, int64_t n);                                                      \
    void pc_ops_silu_##S(float *y, const float *x, int64_t n);                                                      \
    void pc_ops_affine_##S(float *y, const float *x, int64_t n, float a, float b, int silu);                        \
    void pc_ops_geglu_##S(float *y, const float *a, const float *g, int64_t n);                                     \
    float pc_ops_max_##S(const float *x, int64_t n);                                                                \
    float pc_ops_exp_sum_##S(float *y, const float *x, int64_t n, float m);                                         \
    float pc_ops_sum_##S(const float *x, int64_t n);                                                                \
    float pc_ops_sumsq_dev_##S(const float *x, int64_t n, float mean);                                              \
    void pc_ops_norm_row_##S(float *y, const float *x, int64_t n, float mean, float inv, const float *g,             \
                             const float *b);                                                                       \
    int64_t pc_ops_attn_scratch_##S(int64_t D);                                                                     \
    void pc_ops_attn_block_##S(float *o, int64_t osn, const float *q, int64_t qsn, const float *k, int64_t ksn,      \
                               const float *v, int64_t vsn, int64_t nq, int64_t Nk, int64_t D, float scale,         \
                               float *scratch);

DECL(v4)
DECL(v8)
DECL(v16)

typedef struct {
    const char *name;
    int ok;
    void (*gelu)(float *, const float *, int64_t);
    void (*silu)(float *, const float *, int64_t);
    void (*affine)(float *, const float *, int64_t, float, float, int);
    void (*geglu)(float *, const float *, const float *, int64_t);
    float (*max)(const float *, int64_t);
    float (*exp_sum)(float *, const float *, int64_t, float);
    float (*sum)(const float *, int64_t);
    float (*sumsq_dev)(const float *, int64_t, float);
    void (*norm_row)(float *, const float *, int64_t, float, float, const float *, const float *);
    int64_t (*attn_scratch)(int64_t);
    void (*attn_block)(float *, int64_t, const float *, int64_t, const float *, int64_t, const float *, int64_t, int64_t,
                       int64_t, int64_t, float, float *);
} isa;

#define ISA(S, OK)                                                                                                   \
    {#S, OK, pc_ops_gelu_##S, pc_ops_silu_##S, pc_ops_affine_##S, pc_ops_geglu_##S, pc_ops_max_##S,                   \
     pc_ops_exp_sum_##S, pc_ops_sum_##S, pc_ops_sumsq_dev_##S, pc_ops_norm_row_##S, pc_ops_attn_scratch_##S,          \
     pc_ops_attn_block_##S}

static pc_test_rng rng = {99};

static float *rnd(int64_t n, float s) {
    float *x = malloc((size_t)PC_MAX(n, 1) * sizeof(float));
    if (!x) pc_test_fatal("oom");
    pc_test_fill(&rng, x, (size_t)n, s);
    return x;
}

static void test_isa(const isa *I) {
    char name[96];
    const int64_t ns[] = {1, 3, 16, 31, 1000};
    for (size_t t = 0; t < PC_ARRAY_LEN(ns); t++) {
        int64_t n = ns[t];
        float *x = rnd(n, 6), *g = rnd(n, 3), *y = rnd(n, 1), *r = rnd(n, 1);
        I->gelu(y, x, n);
        pc_gelu_ref(r, x, n);
        snprintf(name, sizeof name, "%s gelu n%lld", I->name, (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 2e-6);
        I->silu(y, x, n);
        pc_silu_ref(r, x, n);
        snprintf(name, sizeof name, "%s silu n%lld", I->name, (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 2e-6);
        I->affine(y, x, n, 0.7f, -0.2f, 1);
        for (int64_t i = 0; i < n; i++) g[i] = x[i] * 0.7f - 0.2f;
        pc_silu_ref(r, g, n);
        snprintf(name, sizeof name, "%s affine + silu n%lld", I->name, (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 2e-6);
        {
            float *h = rnd(2 * n, 4), *gy = rnd(n, 1), *gr = rnd(n, 1);
            pc_geglu_ref(gr, h, 1, n);
            I->geglu(gy, h, h + n, n);
            snprintf(name, sizeof name, "%s geglu n%lld", I->name, (long long)n);
            pc_test_close(name, gy, gr, (size_t)n, 1e-6, 2e-6);
            free(h), free(gy), free(gr);
        }
        double mx = -INFINITY, s = 0, e = 0;
        for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx, s += x[i];
        float got = I->max(x, n);
        PC_CHECK(got == (float)mx, "%s max n%lld: %g vs %g", I->name, (long long)n, got, mx);
        got = I->sum(x, n);
        PC_CHECK(fabs(got - s) <= 1e-5 * (1 + fabs(s)) + 1e-6 * n, "%s sum n%lld: %g vs %g", I->name, (long long)n, got, s);
        double mean = s / (double)n, q = 0;
        for (int64_t i = 0; i < n; i++) q += (x[i] - (float)mean) * (x[i] - (float)mean);
        got = I->sumsq_dev(x, n, (float)mean);
        PC_CHECK(fabs(got - q) <= 1e-5 * q + 1e-6, "%s sumsq_dev n%lld: %g vs %g", I->name, (long long)n, got, q);
        float es = I->exp_sum(y, x, n, (float)mx);
        for (int64_t i = 0; i < n; i++) r[i] = (float)exp(x[i] - mx), e += r[i];
        snprintf(name, sizeof name, "%s exp(x - max) n%lld", I->name, (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-7, 2e-6);
        PC_CHECK(fabs(es - e) <= 1e-5 * e, "%s exp_sum n%lld: %g vs %g", I->name, (long long)n, es, e);
        I->norm_row(y, x, n, 0.3f, 1.7f, g, x);
        for (int64_t i = 0; i < n; i++) r[i] = (x[i] - 0.3f) * 1.7f * g[i] + x[i];
        snprintf(name, sizeof name, "%s norm_row n%lld", I->name, (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 1e-6);
        free(x), free(g), free(y), free(r);
    }
    // attention block: several query counts (tails), key counts over one block, head dims
    static const int64_t ac[][3] = {{1, 1, 8}, {5, 300, 64}, {64, 513, 40}, {37, 77, 33}, {64, 256, 64}, {13, 1000, 80}};
    for (size_t t = 0; t < PC_ARRAY_LEN(ac); t++) {
        int64_t nq = ac[t][0], Nk = ac[t][1], D = ac[t][2], ld = D + 3;  // strided rows
        float *q = rnd(nq * ld, 2), *k = rnd(Nk * ld, 2), *v = rnd(Nk * ld, 1), *o = rnd(nq * D, 1), *r = rnd(nq * D, 1);
        float *scratch = malloc((size_t)I->attn_scratch(D) * sizeof(float));
        if (!scratch) pc_test_fatal("oom");
        float sc = 1.0f / sqrtf((float)D);
        I->attn_block(o, D, q, ld, k, ld, v, ld, nq, Nk, D, sc, scratch);
        pc_attn_view qv = {q, 0, 0, ld}, kv = {k, 0, 0, ld}, vv = {v, 0, 0, ld}, rv = {r, 0, 0, D};
        pc_attention_ref(rv, qv, kv, vv, 1, 1, nq, Nk, D, sc);
        snprintf(name, sizeof name, "%s attention block nq%lld Nk%lld D%lld", I->name, (long long)nq, (long long)Nk,
                 (long long)D);
        pc_test_close(name, o, r, (size_t)(nq * D), 2e-6, 1e-4);
        free(q), free(k), free(v), free(o), free(r), free(scratch);
    }
}

int main(void) {
    const isa isas[3] = {ISA(v4, 1), ISA(v8, pc_cpu_has_avx2_fma()), ISA(v16, pc_cpu_has_avx512f())};
    for (int i = 0; i < 3; i++) {
        if (!isas[i].ok) {
            printf("-- %s: not supported by this CPU, skipped\n", isas[i].name);
            continue;
        }
        printf("-- %s\n", isas[i].name);
        test_isa(&isas[i]);
    }
    return pc_test_finish();
}
