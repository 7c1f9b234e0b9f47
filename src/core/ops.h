// CPU kernels for the neural-network layers of DUSt3R, the diffusion UNet/VAE
// and CLIP. f32 activations in contiguous PyTorch layouts (outermost first);
// weights as (pointer, dtype) so F16/BF16 checkpoints are used without a
// conversion pass (pc_gemm converts while packing).
//
// Every fast kernel pc_X has a plain reference twin pc_X_ref (single-threaded,
// straightforward loops, double accumulation where it matters) that the tests
// compare against. Fast kernels take a pc_pool (NULL = single-threaded) and
// split work by (ith, nth): results are deterministic for a fixed thread count.
//
// Conventions: output first, then const inputs, then sizes. Unless a comment
// says otherwise, the output must not alias an input; the elementwise helpers
// (pc_add, pc_mul, pc_scale, activations, softmax, norms) allow y == x.
//
// Example (a UNet ResBlock's first half):
//     pc_group_norm(pool, h, x, gn_w, gn_b, B, C, H*W, 32, 1e-5f, 1);   // norm + SiLU
//     pc_conv2d_desc d = pc_conv2d_make(B, C, H, W, Cout, 3, 3, 1, 1, 1, 1);
//     st = pc_conv2d(pool, y, h, pc_wt_of(&conv_w), conv_b, &d, NULL, 0, err);
#ifndef PC_CORE_OPS_H
#define PC_CORE_OPS_H

#include "core/common.h"

// ---- weights ------------------------------------------------------------------
// A weight array: contiguous PyTorch layout, dtype PC_F32, PC_F16 or PC_BF16.
typedef struct pc_wt {
    const void *data;
    pc_dtype dtype;
} pc_wt;

static inline pc_wt pc_wt_f32(const float *p) {
    pc_wt w = {p, PC_F32};
    return w;
}
// View of a (contiguous) weight tensor.
static inline pc_wt pc_wt_of(const pc_tensor *t) {
    pc_wt w = {t->data, t->dtype};
    return w;
}
// Element i of w as float.
float pc_wt_get(pc_wt w, int64_t i);
// w advanced by i elements.
pc_wt pc_wt_offset(pc_wt w, int64_t i);

// ---- linear -------------------------------------------------------------------
// y(M,N) = x(M,K) · W(N,K)^T + b(N)   (torch.nn.Linear; b may be NULL)
void pc_linear(pc_pool *pool, float *y, const float *x, pc_wt W, const float *b, int64_t M, int64_t N, int64_t K);
void pc_linear_ref(float *y, const float *x, pc_wt W, const float *b, int64_t M, int64_t N, int64_t K);
// Same with row strides (elements) for x and y, e.g. to write into a slice of
// a wider buffer: y[m*ldy + n], x[m*ldx + k].
void pc_linear_strided(pc_pool *pool, float *y, int64_t ldy, const float *x, int64_t ldx, pc_wt W, const float *b,
                       int64_t M, int64_t N, int64_t K);

// ---- convolutions -------------------------------------------------------------
// torch.nn.Conv2d on NCHW: x (B, Cin, H, W), weight (Cout, Cin/groups, KH, KW),
// bias (Cout) or NULL, y (B, Cout, OH, OW) with
// OH = (H + 2*pad_h - dil_h*(KH-1) - 1) / stride_h + 1 (same for W).
typedef struct pc_conv2d_desc {
    int64_t B, Cin, H, W;
    int64_t Cout, KH, KW;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    int64_t groups;
} pc_conv2d_desc;

// dilation 1, groups 1.
pc_conv2d_desc pc_conv2d_make(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                              int64_t stride, int64_t pad_h, int64_t pad_w);
// Validates d (positive sizes, groups divide channels, output non-empty).
pc_status pc_conv2d_check(const pc_conv2d_desc *d, pc_error *err);
void pc_conv2d_out_size(const pc_conv2d_desc *d, int64_t *OH, int64_t *OW);
// Workspace bytes pc_conv2d wants (0 for 1x1/stride-1/no-pad convs on
// outputs of >= 256 pixels). Bounded: the column buffer is tiled over output
// rows; outputs under 256 pixels batch up to ceil(512/(OH*OW)) images in one
// GEMM (so this depends on d->B only up to that group size).
size_t pc_conv2d_workspace(const pc_conv2d_desc *d);
// ws: caller workspace of ws_bytes >= pc_conv2d_workspace(d), or NULL to
// allocate one for the duration of the call (PC_ERR_MEMORY on failure).
pc_status pc_conv2d(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const pc_conv2d_desc *d,
                    void *ws, size_t ws_bytes, pc_error *err);
void pc_conv2d_ref(float *y, const float *x, pc_wt w, const float *bias, const pc_conv2d_desc *d);

// torch.nn.ConvTranspose2d on NCHW: x (B, Cin, H, W), weight (Cin, Cout/groups,
// KH, KW), bias (Cout) or NULL, y (B, Cout, OH, OW) with
// OH = (H-1)*stride_h - 2*pad_h + dil_h*(KH-1) + out_pad_h + 1.
typedef struct pc_convt2d_desc {
    int64_t B, Cin, H, W;
    int64_t Cout, KH, KW;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, out_pad_h, out_pad_w;
    int64_t groups;
} pc_convt2d_desc;

pc_convt2d_desc pc_convt2d_make(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                                int64_t stride, int64_t pad);
pc_status pc_convt2d_check(const pc_convt2d_desc *d, pc_error *err);
void pc_convt2d_out_size(const pc_convt2d_desc *d, int64_t *OH, int64_t *OW);
size_t pc_convt2d_workspace(const pc_convt2d_desc *d);
pc_status pc_convt2d(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const pc_convt2d_desc *d,
                     void *ws, size_t ws_bytes, pc_error *err);
void pc_convt2d_ref(float *y, const float *x, pc_wt w, const float *bias, const pc_convt2d_desc *d);

// torch.nn.Conv3d with a (KT, 1, 1) kernel, stride 1, padding (pad_t, 0, 0):
// the UNet's temporal convolution. x (B, Cin, T, H, W), weight (Cout, Cin, KT, 1, 1),
// bias (Cout) or NULL, y (B, Cout, OT, H, W), OT = T + 2*pad_t - KT + 1.
size_t pc_conv3d_t_workspace(int64_t Cin, int64_t KT, int64_t T, int64_t HW);
pc_status pc_conv3d_t(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, int64_t B, int64_t Cin,
                      int64_t T, int64_t HW, int64_t Cout, int64_t KT, int64_t pad_t, void *ws, size_t ws_bytes,
                      pc_error *err);
void pc_conv3d_t_ref(float *y, const float *x, pc_wt w, const float *bias, int64_t B, int64_t Cin, int64_t T, int64_t HW,
                     int64_t Cout, int64_t KT, int64_t pad_t);

// ---- normalisation ------------------------------------------------------------
// torch.nn.LayerNorm over the last dim: x, y (M, C); gamma/beta (C) or NULL.
void pc_layer_norm(pc_pool *pool, float *y, const float *x, const float *gamma, const float *beta, int64_t M, int64_t C,
                   float eps);
void pc_layer_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int64_t M, int64_t C, float eps);

// torch.nn.GroupNorm: x, y (B, C, S) where S = product of the spatial dims
// (H*W, or T*H*W for video); G groups of C/G channels; gamma/beta (C) or NULL.
// silu != 0 applies SiLU to the result (the UNet/VAE "norm + SiLU" pair).
void pc_group_norm(pc_pool *pool, float *y, const float *x, const float *gamma, const float *beta, int64_t B, int64_t C,
                   int64_t S, int64_t G, float eps, int silu);
void pc_group_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int64_t B, int64_t C, int64_t S,
                       int64_t G, float eps, int silu);

// Softmax over the last dim: x, y (M, N).
void pc_softmax(pc_pool *pool, float *y, const float *x, int64_t M, int64_t N);
void pc_softmax_ref(float *y, const float *x, int64_t M, int64_t N);

// ---- activations (y may equal x) ---------------------------------------------
// Exact GELU: 0.5 x (1 + erf(x / sqrt 2))   (nn.GELU(), approximate='none').
void pc_gelu(pc_pool *pool, float *y, const float *x, int64_t n);
void pc_gelu_ref(float *y, const float *x, int64_t n);
// SiLU: x * sigmoid(x).
void pc_silu(pc_pool *pool, float *y, const float *x, int64_t n);
void pc_silu_ref(float *y, const float *x, int64_t n);
void pc_relu(pc_pool *pool, float *y, const float *x, int64_t n);
void pc_relu_ref(float *y, const float *x, int64_t n);
// GEGLU (diffusers/LDM): h = proj(x) (M, 2F); a, gate = h.chunk(2, -1);
// y (M, F) = a * gelu(gate)  (a = first F columns, gate = last F columns).
void pc_geglu(pc_pool *pool, float *y, const float *h, int64_t M, int64_t F);
void pc_geglu_ref(float *y, const float *h, int64_t M, int64_t F);

// ---- attention ----------------------------------------------------------------
// A strided (B, H, N, D) view of q, k, v or the output: element (b, h, n, d) is
// at data[b*sb + h*sh + n*sn + d] (d contiguous). Examples:
//   (B, H, N, D) contiguous:        sb = H*N*D, sh = N*D, sn = D
//   tokens (B, N, H*D):             sb = N*H*D, sh = D,   sn = H*D
//   packed qkv (B, N, 3, H, D):     q = base, k = base + H*D, v = base + 2*H*D,
//                                   sb = N*3*H*D, sh = D, sn = 3*H*D
typedef struct pc_attn_view {
    float *data;
    int64_t sb, sh, sn;
} pc_attn_view;

static inline pc_attn_view pc_attn_bhnd(float *p, int64_t H, int64_t N, int64_t D) {
    pc_attn_view v = {p, H * N * D, N * D, D};
    return v;
}
// Token-major (B, N, row) with head h at column off + h*D, row length ld.
static inline pc_attn_view pc_attn_tokens(float *p, int64_t N, int64_t ld, int64_t off, int64_t D) {
    pc_attn_view v = {p + off, N * ld, D, ld};
    return v;
}

// o = softmax(q k^T * scale) v per (b, h): q (B,H,Nq,D), k/v (B,H,Nk,D), o (B,H,Nq,D).
// Flash-style: key blocks with an online softmax; memory per worker is
// O(block*D + block*block), never Nq x Nk. o must not overlap q, k or v.
// Returns PC_ERR_MEMORY if the per-worker scratch cannot be allocated.
pc_status pc_attention(pc_pool *pool, pc_attn_view o, pc_attn_view q, pc_attn_view k, pc_attn_view v, int64_t B,
                       int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale, pc_error *err);
// Reference: full score row per query (double accumulation).
void pc_attention_ref(pc_attn_view o, pc_attn_view q, pc_attn_view k, pc_attn_view v, int64_t B, int64_t H, int64_t Nq,
                      int64_t Nk, int64_t D, float scale);

// ---- rotary position embedding --------------------------------------------------
// croco/dust3r RoPE2D, in place on a (B, H, N, D) view t (q or k):
// pos (B, N, 2) int64 holds (y, x) per token. The first D/2 channels rotate by
// y, the last D/2 by x; within a half of size d = D/2:
//   inv_freq[i] = 1 / base^(2i/d), angle = pos * inv_freq (float32), duplicated cat(f, f);
//   out = t*cos + rotate_half(t)*sin, rotate_half(u) = cat(-u[d/2:], u[:d/2]).
// D must be a multiple of 4.
void pc_rope2d(pc_pool *pool, pc_attn_view t, const int64_t *pos, int64_t B, int64_t H, int64_t N, int64_t D, float base);
void pc_rope2d_ref(pc_attn_view t, const int64_t *pos, int64_t B, int64_t H, int64_t N, int64_t D, float base);

// ---- resampling -----------------------------------------------------------------
// F.interpolate(mode='bilinear') on x (NC, H, W) -> y (NC, OH, OW), NC = B*C.
// align_corners = 1: src = dst*(in-1)/(out-1). align_corners = 0: src =
// (dst+0.5)*r - 0.5 clamped at 0, where r = 1/scale when the caller passed
// scale_factor (scale_h/scale_w > 0; PyTorch uses it, not in/out) else in/out.
// Callers using scale_factor compute OH = floor(H*scale_h) themselves.
void pc_resize_bilinear(pc_pool *pool, float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, int align_corners, double scale_h, double scale_w);
void pc_resize_bilinear_ref(float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                            int align_corners, double scale_h, double scale_w);
// F.interpolate(mode='nearest'): src = min(floor(dst * r), in-1), r as above
// (PyTorch nearest_idx: identity when out == in, dst >> 1 when out == 2*in).
void pc_upsample_nearest(pc_pool *pool, float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, double scale_h, double scale_w);
void pc_upsample_nearest_ref(float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                             double scale_h, double scale_w);
// F.pixel_shuffle: x (B, C*r*r, H, W) -> y (B, C, H*r, W*r).
void pc_pixel_shuffle(pc_pool *pool, float *y, const float *x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t r);
void pc_pixel_shuffle_ref(float *y, const float *x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t r);

// ---- layout helpers -----------------------------------------------------------
// Batched transpose: x (B, R, C) -> y (B, C, R). Tokens (B, N, C) -> NCHW is
// pc_transpose(y, x, B, N, C); NCHW -> tokens is pc_transpose(y, x, B, C, H*W).
void pc_transpose(pc_pool *pool, float *y, const float *x, int64_t B, int64_t R, int64_t C);
void pc_transpose_ref(float *y, const float *x, int64_t B, int64_t R, int64_t C);
// Copy any strided f32 tensor view into contiguous y (numel(x) floats).
// Permute = pc_tensor_permute (a view) then pc_copy_strided.
pc_status pc_copy_strided(pc_pool *pool, float *y, const pc_tensor *x, pc_error *err);
// Concatenate along dim 1: xs[i] (B, Cs[i], S) -> y (B, sum Cs, S).
void pc_concat_channels(pc_pool *pool, float *y, const float *const *xs, const int64_t *Cs, int n, int64_t B, int64_t S);
// Slice along dim 1: y (B, len, S) = x[:, start:start+len, :] of x (B, C, S).
void pc_slice_channels(pc_pool *pool, float *y, const float *x, int64_t B, int64_t C, int64_t S, int64_t start,
                       int64_t len);

// ---- elementwise (y may equal a, b or x) -----------------------------------------
void pc_add(pc_pool *pool, float *y, const float *a, const float *b, int64_t n);  // y = a + b
void pc_mul(pc_pool *pool, float *y, const float *a, const float *b, int64_t n);  // y = a * b
void pc_scale(pc_pool *pool, float *y, const float *x, float s, int64_t n);       // y = s * x
void pc_axpy(pc_pool *pool, float *y, const float *x, float a, int64_t n);        // y += a * x
// Per-channel bias: y (B, C, S) += b[c].
void pc_add_channel_bias(pc_pool *pool, float *y, const float *b, int64_t B, int64_t C, int64_t S);

#endif
