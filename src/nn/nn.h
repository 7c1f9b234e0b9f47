// Reusable neural-network layers bound to PyTorch state_dict names.
//
// A layer is a small struct of weight views (pointing into a memory-mapped
// checkpoint, or into owned copies when a dtype/layout conversion was needed)
// plus its sizes. Binding goes through a pc_nn_binder, which looks tensors up
// by their exact upstream key ("enc_blocks.0.attn.qkv.weight") and checks
// their shapes, so a missing or misshaped tensor is reported with its name.
//
// Forward functions run on a pc_nn_exec: thread pool + activation arena. An
// exec in "dry" mode (measuring arena) performs every allocation but no
// compute, so a model sizes its arena once by running the real code path.
//
// Matrices (Linear / conv weights) stay in their stored dtype (F32, F16 or
// BF16) and reach the kernels (core/ops.h) as pc_wt; vectors (biases, norm
// parameters) are converted to F32 at bind time.
//
//     pc_nn_vit_block blk;
//     st = pc_nn_vit_block_bind(&binder, &blk, "enc_blocks.0", 1024, 16, 1e-6f, err);
//     ...
//     pc_nn_vit_block_forward(&ex, &blk, 100.f, x, pos, B, N, &st, err);  // x (B, N, 1024) in place
#ifndef PC_NN_NN_H
#define PC_NN_NN_H

#include "core/arena.h"
#include "core/common.h"
#include "core/ops.h"

// ---- binding ---------------------------------------------------------------

// Returns the tensor named `name` checked against ndim/shape (-1 = any), or an
// error naming the key (PC_ERR_NOT_FOUND / PC_ERR_SHAPE).
typedef pc_status (*pc_nn_get_fn)(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                                  pc_error *err);
// The tensor named `name`, or NULL when absent.
typedef const pc_tensor *(*pc_nn_find_fn)(void *ctx, const char *name);

typedef struct pc_nn_binder {
    pc_nn_get_fn get;
    pc_nn_find_fn find;
    void *ctx;
    // Owned tensors created while binding (dtype/layout conversions); freed by pc_nn_binder_free.
    pc_tensor *owned;
    size_t n_owned, cap_owned;
} pc_nn_binder;

void pc_nn_binder_free(pc_nn_binder *b);

// Binder sources shared by every model. Over an open checkpoint (ctx = the
// const pc_checkpoint *): pc_checkpoint_get / find.
pc_status pc_nn_ck_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                       pc_error *err);
const pc_tensor *pc_nn_ck_find(void *ctx, const char *name);

// An owned, named set of tensors: the in-memory state dict of a model built
// with deterministic random weights (benchmarks, tests). ctx = the pc_nn_store *.
typedef struct pc_nn_store {
    pc_tensor *t;   // (n)
    char **names;   // (n)
    size_t n, cap;
} pc_nn_store;

// Append a zero-filled tensor named `name`; NULL (and err) when out of memory.
pc_tensor *pc_nn_store_add(pc_nn_store *s, const char *name, pc_dtype dt, int ndim, const int64_t *shape,
                           pc_error *err);
const pc_tensor *pc_nn_store_find(void *ctx, const char *name);
pc_status pc_nn_store_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err);
void pc_nn_store_free(pc_nn_store *s);

// Bind `name` as a weight array: shape checked (-1 = any), converted to a
// contiguous F32 copy unless it is already contiguous F32/F16/BF16.
pc_status pc_nn_bind_weight(pc_nn_binder *b, pc_wt *w, const char *name, int ndim, const int64_t *shape,
                            pc_error *err);
// Bind a 1-D vector of length n as F32 (converted when stored otherwise).
pc_status pc_nn_bind_vector(pc_nn_binder *b, const float **v, const char *name, int64_t n, pc_error *err);
// Shape of `name`; PC_ERR_NOT_FOUND names the key when absent.
pc_status pc_nn_shape(pc_nn_binder *b, const char *name, int *ndim, int64_t *shape, pc_error *err);
static inline int pc_nn_has(pc_nn_binder *b, const char *name) { return b->find(b->ctx, name) != NULL; }

// ---- execution context -------------------------------------------------------

typedef struct pc_nn_exec {
    pc_pool *pool;    // may be NULL (single-threaded)
    pc_arena *arena;  // activations
    int dry;          // 1: allocate only (measuring arena), compute nothing
    pc_status st;     // first failure (PC_OK while all is well)
    pc_error *err;
} pc_nn_exec;

// Arena allocation of n floats; in dry mode returns NULL and only counts.
// A real arena that runs out sets ex->st = PC_ERR_MEMORY and returns NULL;
// callers check pc_nn_ok(ex) before computing.
float *pc_nn_alloc(pc_nn_exec *ex, size_t n);
// 1 when computation should proceed (not dry, no failure so far).
static inline int pc_nn_ok(const pc_nn_exec *ex) { return !ex->dry && ex->st == PC_OK; }
// Record a kernel failure (first one wins).
void pc_nn_fail(pc_nn_exec *ex, pc_status st);

// ---- layers ------------------------------------------------------------------

// torch.nn.Linear: y = x W^T + b, W (out, in).
typedef struct pc_nn_linear {
    pc_wt w;            // (out, in)
    const float *b;     // (out,) or NULL
    int64_t in, out;
} pc_nn_linear;
// in / out <= 0: taken from the tensor. bias: 1 required, 0 absent, -1 optional.
pc_status pc_nn_linear_bind(pc_nn_binder *b, pc_nn_linear *l, const char *prefix, int64_t in, int64_t out, int bias,
                            pc_error *err);
// y (M, out) with row stride ldy = x (M, in) with row stride ldx.
void pc_nn_linear_forward(pc_nn_exec *ex, const pc_nn_linear *l, float *y, int64_t ldy, const float *x, int64_t ldx,
                          int64_t M);

// torch.nn.LayerNorm over the last dim.
typedef struct pc_nn_layernorm {
    const float *w, *b;  // (dim,)
    int64_t dim;
    float eps;
} pc_nn_layernorm;
pc_status pc_nn_layernorm_bind(pc_nn_binder *b, pc_nn_layernorm *l, const char *prefix, int64_t dim, float eps,
                               pc_error *err);
// y (M, dim) = LN(x (M, dim)); y may equal x.
void pc_nn_layernorm_forward(pc_nn_exec *ex, const pc_nn_layernorm *l, float *y, const float *x, int64_t M);

// timm/croco Mlp: fc2(gelu(fc1(x))), exact (erf) GELU. Hidden width from fc1's shape.
typedef struct pc_nn_mlp {
    pc_nn_linear fc1, fc2;
} pc_nn_mlp;
pc_status pc_nn_mlp_bind(pc_nn_binder *b, pc_nn_mlp *m, const char *prefix, int64_t dim, pc_error *err);
// y (M, dim) (+)= mlp(x (M, dim)); y must not alias x when accumulating.
void pc_nn_mlp_forward(pc_nn_exec *ex, const pc_nn_mlp *m, float *y, const float *x, int64_t M, int accumulate);

// croco Attention (fused qkv, output laid out [3][heads][head_dim]) and
// CrossAttention (projq / projk / projv); both end with proj.
typedef struct pc_nn_attention {
    pc_nn_linear qkv;        // self-attention: (3*dim, dim)
    pc_nn_linear q, k, v;    // cross-attention: (dim, dim) each
    pc_nn_linear proj;       // (dim, dim)
    int cross;
    int64_t dim, heads, head_dim;
    float scale;             // head_dim^-0.5
} pc_nn_attention;
pc_status pc_nn_attention_bind(pc_nn_binder *b, pc_nn_attention *a, const char *prefix, int64_t dim, int64_t heads,
                               int cross, pc_error *err);
// RoPE2D (croco semantics, see pc_rope2d) with the given base; base <= 0: no RoPE.
// Self-attention on B sequences of N tokens: y (B, N, dim) (+)= attn(x); pos (B, N, 2) (y, x).
void pc_nn_self_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, float *y, const float *x,
                                  const int64_t *pos, int64_t B, int64_t N, int accumulate);
// Cross-attention: queries from xq (B, Nq, dim) at qpos, keys/values from xkv (B, Nk, dim) at kpos.
void pc_nn_cross_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, float *y,
                                   const float *xq, const int64_t *qpos, int64_t Nq, const float *xkv,
                                   const int64_t *kpos, int64_t Nk, int64_t B, int accumulate);

// Pre-norm ViT block (croco: Block): x += attn(norm1(x)); x += mlp(norm2(x)).
typedef struct pc_nn_vit_block {
    pc_nn_layernorm norm1, norm2;
    pc_nn_attention attn;
    pc_nn_mlp mlp;
} pc_nn_vit_block;
pc_status pc_nn_vit_block_bind(pc_nn_binder *b, pc_nn_vit_block *blk, const char *prefix, int64_t dim, int64_t heads,
                               float eps, pc_error *err);
// In place on x (B, N, dim).
void pc_nn_vit_block_forward(pc_nn_exec *ex, const pc_nn_vit_block *blk, float rope_base, float *x, const int64_t *pos,
                             int64_t B, int64_t N);

// Pre-norm decoder block with cross-attention (croco: DecoderBlock):
// x += attn(norm1(x)); y_ = norm_y(y); x += cross_attn(norm2(x), y_, y_); x += mlp(norm3(x)).
typedef struct pc_nn_decoder_block {
    pc_nn_layernorm norm1, norm2, norm3, norm_y;
    int has_norm_y;  // norm_im2_in_dec
    pc_nn_attention attn, cross_attn;
    pc_nn_mlp mlp;
} pc_nn_decoder_block;
pc_status pc_nn_decoder_block_bind(pc_nn_binder *b, pc_nn_decoder_block *blk, const char *prefix, int64_t dim,
                                   int64_t heads, float eps, pc_error *err);
// xout (B, Nx, dim) = block(x, y); xout must not alias x or y.
void pc_nn_decoder_block_forward(pc_nn_exec *ex, const pc_nn_decoder_block *blk, float rope_base, float *xout,
                                 const float *x, const int64_t *xpos, int64_t Nx, const float *y, const int64_t *ypos,
                                 int64_t Ny, int64_t B);

// torch.nn.Conv2d (groups 1, dilation 1, square kernel) on NCHW.
typedef struct pc_nn_conv2d {
    pc_wt w;          // (Cout, Cin, k, k)
    const float *b;   // (Cout,) or NULL
    int64_t cin, cout, k, stride, pad;
} pc_nn_conv2d;
// cin/cout <= 0: taken from the tensor. bias as in pc_nn_linear_bind.
pc_status pc_nn_conv2d_bind(pc_nn_binder *b, pc_nn_conv2d *c, const char *prefix, int64_t cin, int64_t cout, int64_t k,
                            int64_t stride, int64_t pad, int bias, pc_error *err);
static inline int64_t pc_nn_conv2d_out(const pc_nn_conv2d *c, int64_t in) {
    return (in + 2 * c->pad - c->k) / c->stride + 1;
}
// y (B, Cout, Ho, Wo) = conv(x (B, Cin, H, W)).
void pc_nn_conv2d_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, float *y, const float *x, int64_t B, int64_t H,
                          int64_t W);

// torch.nn.ConvTranspose2d (groups 1, no padding), weight (Cin, Cout, k, k).
typedef struct pc_nn_convt2d {
    pc_wt w;
    const float *b;   // (Cout,) or NULL
    int64_t cin, cout, k, stride;
} pc_nn_convt2d;
pc_status pc_nn_convt2d_bind(pc_nn_binder *b, pc_nn_convt2d *c, const char *prefix, int64_t cin, int64_t cout,
                             int64_t k, int64_t stride, int bias, pc_error *err);
static inline int64_t pc_nn_convt2d_out(const pc_nn_convt2d *c, int64_t in) { return (in - 1) * c->stride + c->k; }
// y (B, Cout, Ho, Wo) = convT(x (B, Cin, H, W)).
void pc_nn_convt2d_forward(pc_nn_exec *ex, const pc_nn_convt2d *c, float *y, const float *x, int64_t B, int64_t H,
                           int64_t W);

#endif
