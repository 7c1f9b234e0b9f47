// Direct 2-D convolution of one NCHW image as an implicit GEMM: the GEMM's B operand (K = Cin*k*k rows,
// one column per output pixel) is packed straight from the input image into the micro-kernel's panels,
// with the zero padding, stride and an optional nearest-neighbour upsampling folded into the packing, so
// no im2col matrix and no padded / upsampled copy of the input is ever written. The weights are the A
// operand (M = Cout), packed once per call; bias and a residual are added in the same pass.
//
//   y (Cout, OH, OW) = conv(up(x)) + bias[co] + res
//   up(x): x (Cin, H, W) repeated up x up (F.interpolate(scale_factor=up, mode='nearest')); up = 1: x
//   OH = (H*up + pad_t + pad_b - k) / stride + 1, OW likewise with pad_l, pad_r
//
// Uses the pc_gemm micro-kernels (gemm_internal.h): AVX-512 14x32 with a vector packer
// (conv_fast_avx512.c), otherwise the AVX2 / scalar kernels with a plain C packer. pc_convf itself takes
// the Winograd F(2x2, 3x3) path (conv_wino_avx512.c, pc_convf_winograd below) for 3x3 / stride 1 / pad 1
// layers with >= 16 channels on AVX-512 CPUs: 2.25x fewer multiplies, rounding differs slightly. The work is split over
// whole output panels and the K blocking depends on K only: results are bit-identical for any thread
// count. PC_CONVF_BF16 (opt-in, not f32-exact) rounds weights and inputs to bf16 and accumulates in f32
// (vdpbf16ps); where the CPU lacks AVX512_BF16 it computes in f32.
#ifndef PC_CORE_CONV_FAST_H
#define PC_CORE_CONV_FAST_H

#include "core/gemm.h"
#include "core/ops.h"

typedef struct pc_convf_desc {
    int64_t Cin, H, W;                   // input (Cin, H, W)
    int64_t Cout, k;                     // square kernel: weight (Cout, Cin, k, k)
    int64_t stride;                      // >= 1
    int64_t pad_t, pad_l, pad_b, pad_r;  // zero padding of the (upsampled) input, >= 0
    int64_t up;                          // nearest upsampling factor applied first, >= 1
} pc_convf_desc;

typedef enum pc_convf_prec { PC_CONVF_F32 = 0, PC_CONVF_BF16 = 1 } pc_convf_prec;

// Symmetric padding, no upsampling (torch.nn.Conv2d(Cin, Cout, k, stride, pad)).
pc_convf_desc pc_convf_make(int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t k, int64_t stride, int64_t pad);
pc_status pc_convf_check(const pc_convf_desc *d, pc_error *err);
void pc_convf_out_size(const pc_convf_desc *d, int64_t *OH, int64_t *OW);
// Bytes of workspace pc_convf wants for this descriptor, precision and pool size.
size_t pc_convf_workspace(const pc_convf_desc *d, pc_convf_prec prec, int nthreads);
// ws: caller workspace of ws_bytes >= pc_convf_workspace(d, prec, pc_pool_size(pool)), or NULL (then one
// allocation per call). bias (Cout) or NULL. res (Cout, OH, OW) or NULL; res may be y itself (accumulate
// into y) but must not overlap x; y must not overlap x.
pc_status pc_convf(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                   const pc_convf_desc *d, pc_convf_prec prec, void *ws, size_t ws_bytes, pc_error *err);
// pc_convf with an explicit micro-kernel (tests force each path): PC_GEMM_ISA_AUTO = the best f32 one,
// PC_GEMM_ISA_AVX512_BF16 = the bf16 path. PC_ERR_UNSUPPORTED when the CPU lacks it. ws may be NULL.
pc_status pc_convf_ex(pc_pool *pool, pc_gemm_isa_id isa, float *y, const float *x, pc_wt w, const float *bias,
                      const float *res, const pc_convf_desc *d, void *ws, size_t ws_bytes, pc_error *err);
// Winograd F(2x2, 3x3) (Lavin & Gray 2016): 2.25x fewer multiplies for 3x3 / stride 1 / pad 1 layers
// (up 1 or 2) with Cin, Cout >= 16. f32: not bit-identical to the direct path (relative error ~1e-6).
// PC_CONVF_BF16: the transformed weights and inputs rounded to bf16, f32 accumulation; needs
// AVX512_BF16 and Cin <= 512. PC_ERR_UNSUPPORTED without the ISA or for other layers. pc_convf takes
// this path wherever it applies (either precision), the direct implicit GEMM otherwise. ws may be NULL.
pc_status pc_convf_winograd(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                            const pc_convf_desc *d, pc_convf_prec prec, void *ws, size_t ws_bytes, pc_error *err);
// Reference twin: plain loops, double accumulation (prec ignored; y must not overlap x; res may be y).
void pc_convf_ref(float *y, const float *x, pc_wt w, const float *bias, const float *res, const pc_convf_desc *d);

#endif
