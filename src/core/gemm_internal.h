// Internals shared by the GEMM driver (gemm.c) and its per-ISA kernels
// (gemm_scalar.c, gemm_avx2.c, gemm_avx512.c). Not part of the public API.
//
// Data layout of the packed operands (BLIS/GotoBLAS style):
//   packed A block: ceil(mb/MR) micro-panels, each kc x MR floats, k-major
//                   (panel[k*MR + r] = op(A)(i0 + r, k0 + k)), rows past M zero
//   packed B block: ceil(nb/NR) micro-panels, each kc x NR floats, k-major
//                   (panel[k*NR + c] = op(B)(k0 + k, j0 + c)), cols past N zero
// Packing converts F16/BF16 to F32, so the kernels only ever see F32.
#ifndef PC_CORE_GEMM_INTERNAL_H
#define PC_CORE_GEMM_INTERNAL_H

#include "core/gemm.h"

// Micro-kernel: acc(MR x NR) = sum_k a[k*MR + r] * b[k*NR + c], then
//   c[r*ldc + j] = alpha*acc + (beta == 0 ? 0 : beta*c[r*ldc + j]) + (bias ? bias[j] : 0)
// for r < m, j < n (m <= MR, n <= NR: edge tiles; nothing outside is read or
// written; beta == 0: C is not read). a and b are 64-byte aligned.
typedef void (*pc_gemm_kern_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha,
                                float beta, const float *bias, int m, int n);
typedef void (*pc_gemm_pack_a_fn)(float *dst, const pc_mat *A, int64_t m0, int64_t mb, int64_t k0, int64_t kc);
typedef void (*pc_gemm_pack_b_fn)(float *dst, const pc_mat *B, int64_t k0, int64_t kc, int64_t n0, int64_t nb);

typedef struct pc_gemm_impl {
    const char *name;
    int mr, nr;      // register tile
    int64_t kc;      // K block: A micro-panel (kc x MR) stays in L1
    int64_t nb;      // N block: packed B block (kc x nb) stays in L2
    int64_t mb;      // M block: packed A block (mb x kc) stays in L3
    pc_gemm_kern_fn kern;
    pc_gemm_pack_a_fn pack_a;
    pc_gemm_pack_b_fn pack_b;
} pc_gemm_impl;

// Edge-tile epilogue for kernels that computed acc into tmp (row stride nr).
static inline void pc_gemm_merge_tile(float *c, int64_t ldc, const float *tmp, int nr, int m, int n, float alpha,
                                      float beta, const float *bias) {
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) {
            float v = alpha * tmp[r * nr + j];
            if (beta != 0.0f) v = beta * c[r * ldc + j] + v;
            if (bias) v += bias[j];
            c[r * ldc + j] = v;
        }
}

const pc_gemm_impl *pc_gemm_impl_scalar(void);
const pc_gemm_impl *pc_gemm_impl_avx2(void);
const pc_gemm_impl *pc_gemm_impl_avx512(void);
const pc_gemm_impl *pc_gemm_impl_avx512_bf16(void);  // operands rounded to bf16 (opt-in)

#endif
