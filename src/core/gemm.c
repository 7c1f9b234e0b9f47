// Provisional pc_gemm: forwards to the reference. Replaced by the blocked,
// packed, SIMD implementation.
#include "core/gemm.h"

void pc_gemm(pc_pool *pool, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K, float alpha,
             float beta, const float *bias) {
    (void)pool;
    pc_gemm_ref(C, ldc, A, B, M, N, K, alpha, beta, bias);
}

void pc_gemm_batched(pc_pool *pool, float *C, int64_t ldc, int64_t strideC, pc_mat A, int64_t strideA, pc_mat B,
                     int64_t strideB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     const float *bias) {
    size_t ea = pc_dtype_size(A.dtype), eb = pc_dtype_size(B.dtype);
    for (int64_t b = 0; b < batch; b++) {
        pc_mat a = A, bm = B;
        a.data = (const char *)A.data + (size_t)(b * strideA) * ea;
        bm.data = (const char *)B.data + (size_t)(b * strideB) * eb;
        pc_gemm(pool, C + b * strideC, ldc, a, bm, M, N, K, alpha, beta, bias);
    }
}

const char *pc_gemm_isa(void) { return "scalar"; }
