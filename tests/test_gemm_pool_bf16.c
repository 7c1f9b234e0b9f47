// The pool-level bf16 switch (pc_pool_set_gemm_bf16): off = pc_gemm is the exact f32 GEMM; on = every pc_gemm
// and pc_gemm_batched on that pool computes what pc_gemm_bf16 computes (on CPUs without AVX512_BF16: f32).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "testutil.h"

static void fill(float *x, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

int main(void) {
    pc_error err;
    pc_pool *pool = NULL;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    const int64_t M = 67, N = 45, K = 131, batch = 4;
    float *A = malloc(sizeof(float) * batch * M * K), *B = malloc(sizeof(float) * batch * N * K);
    float *c32 = calloc((size_t)(batch * M * N), 4), *c16 = calloc((size_t)(batch * M * N), 4);
    float *cp = calloc((size_t)(batch * M * N), 4), *cb = calloc((size_t)(batch * M * N), 4);
    fill(A, batch * M * K, 1);
    fill(B, batch * N * K, 2);
    PC_CHECK(pc_pool_gemm_bf16(pool) == 0 && pc_pool_gemm_bf16(NULL) == 0, "the switch is off by default");
    pc_gemm(pool, c32, N, pc_mat_f32(A, K, 0), pc_mat_f32(B, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    pc_gemm_bf16(pool, c16, N, pc_mat_f32(A, K, 0), pc_mat_f32(B, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    pc_pool_set_gemm_bf16(pool, 1);
    PC_CHECK(pc_pool_gemm_bf16(pool) == 1, "switch on");
    pc_gemm(pool, cp, N, pc_mat_f32(A, K, 0), pc_mat_f32(B, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    PC_CHECK(memcmp(cp, c16, sizeof(float) * M * N) == 0, "switch on: pc_gemm == pc_gemm_bf16 bit for bit");
    // batched: both the per-item-thread path (batch 4 >= 2 threads) and the result of each item
    pc_gemm_batched(pool, cb, N, M * N, pc_mat_f32(A, K, 0), M * K, pc_mat_f32(B, K, 1), N * K, batch, M, N, K, 1.0f,
                    0.0f, NULL);
    int same = 1;
    for (int64_t b = 0; b < batch; b++) {
        float *one = calloc((size_t)(M * N), 4);
        pc_gemm_bf16(NULL, one, N, pc_mat_f32(A + b * M * K, K, 0), pc_mat_f32(B + b * N * K, K, 1), M, N, K, 1.0f, 0.0f,
                     NULL);
        same &= memcmp(one, cb + b * M * N, sizeof(float) * M * N) == 0;
        free(one);
    }
    PC_CHECK(same, "switch on: pc_gemm_batched items == pc_gemm_bf16");
    double worst = 0;
    for (int64_t i = 0; i < M * N; i++) worst = fmax(worst, fabs((double)cp[i] - c32[i]));
    PC_CHECK(worst < 0.15, "bf16 vs f32 within bf16 rounding (worst %.3g, K %lld)", worst, (long long)K);
    pc_pool_set_gemm_bf16(pool, 0);
    pc_gemm(pool, cp, N, pc_mat_f32(A, K, 0), pc_mat_f32(B, K, 1), M, N, K, 1.0f, 0.0f, NULL);
    PC_CHECK(memcmp(cp, c32, sizeof(float) * M * N) == 0, "switch off again: exact f32 result");
    free(A), free(B), free(c32), free(c16), free(cp), free(cb);
    pc_pool_free(pool);
    return pc_test_finish();
}
