// Portable GEMM micro-kernel (4 x 16 tile) for CPUs without AVX2: plain C
// whose inner loops over the 16 columns the compiler vectorises for the
// baseline (SSE2 on x86-64).
#include "core/gemm_internal.h"

#define GP_MR 4
#define GP_NR 16
#define GP_NAME(x) scalar_##x
#define GP_F16(h) pc_f16_to_f32(h)
#include "core/gemm_pack.h"

static void kern_4x16_full(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, int64_t ldc,
                      float alpha, float beta, const float *bias) {
    float acc[GP_MR][GP_NR];
    memset(acc, 0, sizeof(acc));
    for (int64_t k = 0; k < kc; k++) {
        const float *bk = b + k * GP_NR, *ak = a + k * GP_MR;
        for (int r = 0; r < GP_MR; r++) {
            float ar = ak[r];
            for (int j = 0; j < GP_NR; j++) acc[r][j] += ar * bk[j];
        }
    }
    for (int r = 0; r < GP_MR; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < GP_NR; j++) {
            float v = alpha * acc[r][j];
            if (beta != 0.0f) v = beta * cr[j] + v;
            if (bias) v += bias[j];
            cr[j] = v;
        }
    }
}

static void kern_4x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta,
                      const float *bias, int m, int n) {
    if (m == GP_MR && n == GP_NR) {
        kern_4x16_full(kc, a, b, c, ldc, alpha, beta, bias);
        return;
    }
    _Alignas(64) float tmp[GP_MR * GP_NR];  // (MR, NR)
    kern_4x16_full(kc, a, b, tmp, GP_NR, 1.0f, 0.0f, NULL);
    pc_gemm_merge_tile(c, ldc, tmp, GP_NR, m, n, alpha, beta, bias);
}

static const pc_gemm_impl g_scalar = {"scalar", GP_MR, GP_NR, 256, 256, 512, kern_4x16, scalar_pack_a_generic,
                                      scalar_pack_b_generic};

const pc_gemm_impl *pc_gemm_impl_scalar(void) { return &g_scalar; }
