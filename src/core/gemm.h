// General matrix multiply, f32 accumulation. The one GEMM entry point that
// linear layers, attention and convolutions (im2col / implicit) go through.
//
//   C(M,N) = alpha * op(A)(M,K) · op(B)(K,N) + beta * C  [+ bias(N) broadcast over rows]
//
// op(X) = X when trans = 0 (X stored row-major with leading dimension ld),
// X^T when trans = 1. A and B may be F32, F16 or BF16 (weights converted on
// the fly while packing); C is always F32. beta = 0 means C is write-only
// (may hold garbage/NaN on entry).
#ifndef PC_CORE_GEMM_H
#define PC_CORE_GEMM_H

#include "core/common.h"

typedef struct pc_mat {
    const void *data;
    pc_dtype dtype;   // PC_F32, PC_F16 or PC_BF16
    int64_t ld;       // leading dimension (row stride, in elements) of the stored matrix
    int trans;        // 0: stored as op(X); 1: stored transposed
} pc_mat;

static inline pc_mat pc_mat_f32(const float *p, int64_t ld, int trans) {
    pc_mat m = {p, PC_F32, ld, trans};
    return m;
}

// Fast path: blocked, packed, SIMD micro-kernels chosen at run time
// (AVX-512 / AVX2+FMA / scalar), threads split over (M, N) tiles.
void pc_gemm(pc_pool *pool, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K, float alpha,
             float beta, const float *bias);
// Plain triple loop (double accumulation): the reference the tests compare against.
void pc_gemm_ref(float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                 const float *bias);
// batch independent GEMMs; stride* are element offsets between batch items.
void pc_gemm_batched(pc_pool *pool, float *C, int64_t ldc, int64_t strideC, pc_mat A, int64_t strideA, pc_mat B,
                     int64_t strideB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     const float *bias);

// Which micro-kernel pc_gemm uses on this machine ("avx512", "avx2", "scalar").
const char *pc_gemm_isa(void);

#endif
