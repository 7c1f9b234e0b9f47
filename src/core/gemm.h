// General matrix multiply, f32 accumulation. The one GEMM entry point that
// linear layers, attention and convolutions (im2col / implicit) go through.
//
//   C(M,N) = alpha * op(A)(M,K) · op(B)(K,N) + beta * C  [+ bias(N) broadcast over rows]
//
// op(X) = X when trans = 0 (X stored row-major with leading dimension ld),
// X^T when trans = 1. A and B may be F32, F16 or BF16 (weights converted on
// the fly while packing); C is always F32. beta = 0 means C is write-only
// (may hold garbage/NaN on entry). C must not overlap A, B or bias.
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

// Opt-in reduced-precision GEMM, same contract as pc_gemm except that A and B
// are rounded to bf16 (as PyTorch bf16 autocast would) and the products are
// accumulated in f32: about 2x the f32 throughput on AVX512_BF16 CPUs. Where
// the CPU lacks AVX512_BF16 it computes the f32 pc_gemm instead.
void pc_gemm_bf16(pc_pool *pool, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K,
                  float alpha, float beta, const float *bias);

// Micro-kernel choice for pc_gemm_ex (tests and benchmarks force each path).
typedef enum pc_gemm_isa_id {
    PC_GEMM_ISA_AUTO = 0,  // best this CPU supports (what pc_gemm uses)
    PC_GEMM_ISA_SCALAR,    // portable C, auto-vectorised for the baseline
    PC_GEMM_ISA_AVX2,      // AVX2 + FMA, 6x16 tile
    PC_GEMM_ISA_AVX512,    // AVX-512F, 14x32 tile
    PC_GEMM_ISA_AVX512_BF16  // opt-in, NOT f32-exact: A and B rounded to bf16 (nearest even) while
                             // packing, vdpbf16ps products accumulated in f32 (needs avx512_bf16)
} pc_gemm_isa_id;
// 1 when this CPU (and OS) can run that micro-kernel.
int pc_gemm_isa_supported(pc_gemm_isa_id isa);
const char *pc_gemm_isa_name(pc_gemm_isa_id isa);
// pc_gemm with an explicit micro-kernel; PC_ERR_UNSUPPORTED (C untouched) when
// the CPU lacks it. Results are bit-identical for any thread count (the split
// is over whole MR x NR tiles and the K blocking depends only on K).
// Scratch: each worker allocates its packing buffers once per call (about
// (mb + nb) * kc floats, < 3 MiB; small products use 32 KiB of the worker's
// stack instead, no allocation); if that allocation fails the worker falls
// back to pc_gemm_ref for its part of C.
pc_status pc_gemm_ex(pc_pool *pool, pc_gemm_isa_id isa, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M,
                     int64_t N, int64_t K, float alpha, float beta, const float *bias);

#endif
