// Internals shared by the implicit-GEMM convolution driver (conv_fast.c) and its vector packers
// (conv_fast_avx512.c). Not part of the API.
#ifndef PC_CORE_CONV_FAST_INTERNAL_H
#define PC_CORE_CONV_FAST_INTERNAL_H

#include "core/conv_fast.h"

// Geometry of one call, in the coordinates of the upsampled input (Hu = H*up, Wu = W*up).
typedef struct pc_convf_geo {
    const float *x;                 // (Cin, H, W)
    int64_t Cin, H, W, k, stride, pad_t, pad_l, up, Hu, Wu;
    int64_t OH, OW, ppr;            // output size, panels per output row (ceil(OW / NR))
} pc_convf_geo;

// Pack rows [k0, k0+kc) of the implicit B (k = (ci*k + kh)*k + kw, column = output pixel) for the np
// output panels p0.. (panel p: output row p / ppr, columns (p % ppr)*NR .. +NR, never crossing a row),
// each panel kc x NR floats k-major at dst + (p - p0)*NR*kc; columns past OW are zero.
// f32 layout: dst[k*NR + c]. bf16 layout: 32-bit slot [(k/2)*NR + c] holds the bf16 pair (k even low,
// k+1 high), an odd kc padded with zero (gemm_avx512.c's BF16 panel layout).
typedef void (*pc_convf_pack_fn)(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np);

void pc_convf_pack_avx512(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np);
void pc_convf_pack_bf16_avx512(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np);

// c[i] = r[i] + bv (r NULL: bv) for i < n; r may be c.
void pc_convf_fill_avx512(float *c, const float *r, float bv, int64_t n);

// Winograd F(2x2, 3x3) path (conv_wino_avx512.c): 3x3, stride 1, pad 1, up 1 or 2, Cin and Cout >= 16.
// bf16 (U, V rounded to bf16, vdpbf16ps): also Cin <= 512 (one K block). Needs AVX512_BF16.
int pc_convf_wino_ok(const pc_convf_desc *d);
int pc_convf_wino_bf16_ok(const pc_convf_desc *d);
size_t pc_convf_wino_workspace(const pc_convf_desc *d, int bf16, int nthreads);
// ws: at least pc_convf_wino_workspace bytes (any alignment). Needs AVX-512F.
void pc_convf_wino_run(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                       const pc_convf_desc *d, int bf16, void *ws);

// Rows m <= 8 of one AVX-512 f32 micro-tile (A panel row stride 14, B panel 32 wide), beta 0 or 1, alpha 1,
// no bias: bit-identical to the 14x32 kernel on those rows. Returns 0 (nothing done) for other m / beta.
int pc_convf_kern_tail_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float beta, int m,
                              int n);

#endif
