// Core engine: tensor views/copies/conversions, thread pool, arena.
#include "testutil.h"
#include "core/arena.h"
#include "core/common.h"

#include <math.h>
#include <string.h>

typedef struct {
    int64_t n;
    int64_t *out;  // (n,) each element written by exactly one worker
    int hits[64];
} pool_ctx;

static void pool_task(void *p, int ith, int nth) {
    pool_ctx *c = (pool_ctx *)p;
    int64_t b, e;
    pc_split_range(c->n, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) c->out[i] += i * 3 + 1;
    c->hits[ith]++;
}

static void test_pool(void) {
    pc_error err;
    for (int nt = 1; nt <= 5; nt++) {
        pc_pool *pool;
        pc_test_ok(pc_pool_create(&pool, nt, &err), &err, "pool");
        int64_t out[1001];
        memset(out, 0, sizeof(out));
        pool_ctx c = {1001, out, {0}};
        for (int rep = 0; rep < 50; rep++) pc_pool_run(pool, pool_task, &c);
        int ok = 1;
        for (int64_t i = 0; i < 1001; i++) ok &= out[i] == 50 * (i * 3 + 1);
        for (int t = 0; t < nt; t++) ok &= c.hits[t] == 50;
        PC_CHECK(ok, "thread pool with %d threads covers every index exactly once per run", nt);
        pc_pool_free(pool);
    }
    int64_t b, e, total = 0;
    for (int i = 0; i < 7; i++) {
        pc_split_range(3, i, 7, &b, &e);
        total += e - b;
    }
    PC_CHECK(total == 3, "split_range with more workers than items");
}

static void test_tensor(void) {
    pc_error err;
    pc_tensor t;
    int64_t shape[3] = {2, 3, 4};
    pc_test_ok(pc_tensor_alloc(&t, PC_F32, 3, shape, &err), &err, "alloc");
    float *x = pc_tensor_f32(&t);
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    PC_CHECK(pc_tensor_is_contiguous(&t) && pc_tensor_numel(&t) == 24, "alloc contiguous, numel 24");

    pc_tensor p, c;
    int perm[3] = {2, 0, 1};
    pc_test_ok(pc_tensor_permute(&p, &t, perm, &err), &err, "permute");
    PC_CHECK(!pc_tensor_is_contiguous(&p) && p.shape[0] == 4 && p.shape[1] == 2 && p.shape[2] == 3, "permute shape (4,2,3)");
    pc_test_ok(pc_tensor_to(&c, &p, PC_F32, &err), &err, "contiguous copy");
    float *y = pc_tensor_f32(&c);
    int ok = 1;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int d = 0; d < 3; d++) ok &= y[(a * 2 + b) * 3 + d] == x[(b * 3 + d) * 4 + a];
    PC_CHECK(ok, "permuted contiguous copy matches index math");
    pc_tensor_free(&c);

    pc_tensor nv;
    pc_test_ok(pc_tensor_narrow(&nv, &t, 1, 1, 2, &err), &err, "narrow");
    pc_test_ok(pc_tensor_to(&c, &nv, PC_F64, &err), &err, "narrow to f64");
    double *z = (double *)c.data;
    PC_CHECK(c.shape[1] == 2 && z[0] == 4.0 && z[4] == 8.0 && z[8] == 16.0, "narrow(1, 1, 2) + f64 convert");
    pc_tensor_free(&c);
    PC_CHECK(pc_tensor_narrow(&nv, &t, 1, 2, 2, &err) == PC_ERR_ARG, "narrow out of range is rejected: %s", err.msg);

    pc_tensor r;
    int64_t rs[2] = {6, -1};
    pc_test_ok(pc_tensor_reshape(&r, &t, 2, rs, &err), &err, "reshape");
    PC_CHECK(r.shape[1] == 4, "reshape infers -1");
    int64_t bad[2] = {5, 5};
    PC_CHECK(pc_tensor_reshape(&r, &t, 2, bad, &err) == PC_ERR_SHAPE, "reshape to wrong size rejected: %s", err.msg);

    const pc_tensor *parts[2] = {&t, &t};
    pc_test_ok(pc_tensor_cat(&c, parts, 2, 1, &err), &err, "cat");
    y = pc_tensor_f32(&c);
    PC_CHECK(c.shape[1] == 6 && y[0] == 0 && y[12] == 0 && y[24] == 12 && y[47] == 23, "cat along dim 1");
    pc_tensor_free(&c);
    pc_tensor_free(&t);

    int64_t huge[2] = {INT64_MAX / 2, 16};
    PC_CHECK(pc_tensor_alloc(&t, PC_F32, 2, huge, &err) == PC_ERR_MEMORY, "overflowing size rejected: %s", err.msg);
}

static void test_half(void) {
    // Exhaustive round trip over every finite f16 bit pattern.
    int ok = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        float f = pc_f16_to_f32((uint16_t)h);
        uint16_t back = pc_f32_to_f16(f);
        if (back != h && !(f == 0.0f && (back & 0x7fff) == 0)) ok = 0;
    }
    PC_CHECK(ok, "f16 -> f32 -> f16 round trip for all finite values");
    PC_CHECK(pc_f16_to_f32(0x3c00) == 1.0f && pc_f16_to_f32(0xc000) == -2.0f && pc_f16_to_f32(0x0001) == ldexpf(1, -24),
             "f16 known values (1, -2, smallest subnormal)");
    PC_CHECK(pc_f32_to_f16(65520.0f) == 0x7c00 && pc_f32_to_f16(1e-9f) == 0, "f16 overflow to inf, underflow to 0");
    PC_CHECK(pc_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00 && pc_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02,
             "f16 round to nearest even");
    PC_CHECK(pc_bf16_to_f32(pc_f32_to_bf16(3.140625f)) == 3.140625f && pc_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80 &&
                 pc_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82,
             "bf16 exact values and round to nearest even");
}

static void test_arena(void) {
    pc_error err;
    pc_arena a;
    pc_test_ok(pc_arena_init(&a, 1000, &err), &err, "arena");
    void *p1 = pc_arena_alloc(&a, 10);
    size_t m = pc_arena_mark(&a);
    void *p2 = pc_arena_alloc(&a, 100);
    PC_CHECK(p1 && p2 && ((uintptr_t)p2 % 64) == 0 && (char *)p2 - (char *)p1 == 64, "arena alignment 64");
    PC_CHECK(pc_arena_alloc(&a, 2000) == NULL, "arena returns NULL when full");
    pc_arena_reset(&a, m);
    PC_CHECK(pc_arena_alloc(&a, 100) == p2 && a.peak == 64 + 128, "arena reset reuses memory, peak recorded");
    pc_arena_free(&a);
    pc_arena_init_measure(&a);
    pc_arena_alloc(&a, 10);
    pc_arena_alloc(&a, 70);
    PC_CHECK(a.peak == 64 + 128, "measuring arena counts peak");
}

int main(void) {
    test_tensor();
    test_half();
    test_pool();
    test_arena();
    return pc_test_finish();
}
