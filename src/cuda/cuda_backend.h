// CUDA backend kernels (internal API; the public part — devices, context,
// arena, upload/download — is include/posecrafter/cuda.h).
//
// Every call queues work on the context's stream and returns without waiting;
// pc_cuda_sync / pc_cuda_download_* wait and report asynchronous errors.
// Pointers are device pointers (arena memory or pc_cuda_tensor.data). Each
// kernel has a CPU twin in src/core/ops.h / gemm.h; tests/test_cuda.c
// compares them. Without CUDA (PC_CUDA=OFF) every call returns
// PC_ERR_UNSUPPORTED "built without CUDA" (src/cuda/cuda_stub.c).
//
// Precision: "bf16" operands are rounded to bf16 (nearest even) before use;
// every product is accumulated in f32. Activation dtypes (x, y) may be PC_F32
// or PC_BF16 (PC_F16 where noted); parameters (gamma, beta, bias) are f32.
#ifndef PC_CUDA_BACKEND_H
#define PC_CUDA_BACKEND_H

#include "posecrafter/core.h"
#include "posecrafter/cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- GEMM (cuBLASLt) ------------------------------------------------------------
// C (M, N) = alpha * A (M, K) · B (N, K)^T + beta * C [+ bias (N), broadcast over rows]
// i.e. torch.nn.Linear with A = x, B = weight. Row-major with leading
// dimensions lda, ldb, ldc (elements; ld >= row length).
//   abdt PC_BF16 (or PC_F16): A and B in that dtype, f32 accumulation, C PC_F32, PC_BF16 or PC_F16.
//   abdt PC_F32: A, B, C f32; full f32 arithmetic, or TF32 tensor cores with PC_CUDA_GEMM_TF32.
// bias: f32 device vector or NULL. beta = 0: C is write-only. C must not overlap A, B, bias.
enum { PC_CUDA_GEMM_DEFAULT = 0, PC_CUDA_GEMM_TF32 = 1 };
pc_status pc_cuda_gemm_nt(pc_cuda_ctx *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda,
                          const void *B, int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K,
                          float alpha, float beta, int flags, pc_error *err);

// ---- attention --------------------------------------------------------------------
// A strided (B, H, N, D) device view (as pc_attn_view in core/ops.h): element
// (b, h, n, d) at data[b*sb + h*sh + n*sn + d], d contiguous.
typedef struct pc_cuda_attn_view {
    void *data;
    pc_dtype dtype;
    int64_t sb, sh, sn;
} pc_cuda_attn_view;

// o = softmax(q k^T * scale) v per (b, h), flash-style (online softmax over
// key blocks; never an Nq x Nk matrix). q, k, v PC_BF16; o PC_BF16 or PC_F32.
// D = 32, 64 or 128; every view's data 16-byte aligned and sb, sh, sn multiples of 8.
// Scores and the running sums are f32; the probabilities are rounded to bf16
// before the P·V product (as in FlashAttention-2). o must not overlap q, k, v.
pc_status pc_cuda_attention(pc_cuda_ctx *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                            pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale,
                            pc_error *err);

// ---- rotary position embedding ------------------------------------------------------
// croco/dust3r RoPE2D in place on a (B, H, N, D) view t (q or k; F32, BF16 or F16),
// same arithmetic as pc_rope2d (src/core/ops.h). Positions are croco's
// PositionGetter grid, identical for every batch item: token n sits at
// (y, x) = (n / grid_w, n % grid_w). D must be a multiple of 4.
pc_status pc_cuda_rope2d(pc_cuda_ctx *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D,
                         int64_t grid_w, float base, pc_error *err);

// ---- normalisation ----------------------------------------------------------------
// torch.nn.LayerNorm over the last dim: x, y (M, C); gamma/beta (C) f32 or NULL. y may equal x.
pc_status pc_cuda_layer_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                             const float *beta, int64_t M, int64_t C, float eps, pc_error *err);
// torch.nn.GroupNorm on x, y (B, C, S), G groups; gamma/beta (C) or NULL; silu != 0
// applies SiLU after the affine (the UNet/VAE "norm + SiLU" pair). y may equal x.
pc_status pc_cuda_group_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                             const float *beta, int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu,
                             pc_error *err);

// ---- elementwise (y may equal an input) ------------------------------------------
typedef enum pc_cuda_unary_op {
    PC_CUDA_GELU = 0,  // exact: 0.5 x (1 + erf(x / sqrt 2))
    PC_CUDA_SILU,      // x * sigmoid(x)
    PC_CUDA_COPY,      // dtype conversion only
    PC_CUDA_RELU       // max(x, 0)
} pc_cuda_unary_op;
// y (n) = op(x); x, y PC_F32, PC_BF16 or PC_F16.
pc_status pc_cuda_unary(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n,
                        pc_cuda_unary_op op, pc_error *err);
// y (n) = a + b; any of PC_F32, PC_BF16, PC_F16 each.
pc_status pc_cuda_add(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b,
                      pc_dtype bdt, int64_t n, pc_error *err);
// y (M, N) += bias (N) (f32), y PC_F32 / PC_BF16 / PC_F16.
pc_status pc_cuda_add_bias(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, int64_t ldy, const float *bias, int64_t M,
                           int64_t N, pc_error *err);

// ---- layout -------------------------------------------------------------------------
// y[i] = x[i] over dims[0..ndim) (ndim <= PC_CUDA_COPY_MAXDIM), strides in elements for each side, dtype
// conversion included: permute, transpose, slice, concat, pixel shuffle. y must not overlap x.
#define PC_CUDA_COPY_MAXDIM 6
pc_status pc_cuda_copy_strided(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const int64_t *ystride, const void *x,
                               pc_dtype xdt, const int64_t *xstride, const int64_t *dims, int ndim, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
