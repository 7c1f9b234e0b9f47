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
//     pc_nn_vit_block_forward(&ex, &blk, 100.f, x, Wp, B, N);  // x (B, N, 1024) f32 pc_nn_t, in place
//
// Forwards take pc_nn_t tensors and run on ex->be (backend.h): the same layer code on the cpu, on CUDA and
// on the emulated device. A device backend needs the weights placed first (pc_nn_*_place through
// pc_nn_place_weights); the cpu backend reads them where they were bound.
#ifndef PC_NN_NN_H
#define PC_NN_NN_H

#include "core/arena.h"
#include "core/common.h"
#include "core/ops.h"
#include "nn/backend.h"

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
// Bind `name` (ndim/shape checked, -1 = any) as contiguous F32, converting when stored otherwise.
pc_status pc_nn_bind_f32(pc_nn_binder *b, const float **v, const char *name, int ndim, const int64_t *shape,
                         pc_error *err);
// Shape of `name`; PC_ERR_NOT_FOUND names the key when absent.
pc_status pc_nn_shape(pc_nn_binder *b, const char *name, int *ndim, int64_t *shape, pc_error *err);
static inline int pc_nn_has(pc_nn_binder *b, const char *name) { return b->find(b->ctx, name) != NULL; }

// ---- execution context -------------------------------------------------------

// A golden-trace hook: called with the host copy of a named activation (pc_nn_trace).
typedef void (*pc_nn_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);

typedef struct pc_nn_exec {
    pc_pool *pool;    // may be NULL (single-threaded)
    pc_arena *arena;  // host activations (and the cpu backend's tensors)
    int dry;          // 1: allocate only (measuring arena), compute nothing
    pc_status st;     // first failure (PC_OK while all is well)
    pc_error *err;
    pc_nn_backend *be;        // where pc_nn_t tensors live and ops run; NULL: the cpu backend
    pc_nn_trace_fn trace;     // golden hook (NULL: off)
    void *trace_ctx;
} pc_nn_exec;

// Arena allocation of n floats; in dry mode returns NULL and only counts.
// A real arena that runs out sets ex->st = PC_ERR_MEMORY and returns NULL;
// callers check pc_nn_ok(ex) before computing.
float *pc_nn_alloc(pc_nn_exec *ex, size_t n);
// 1 when computation should proceed (not dry, no failure so far).
static inline int pc_nn_ok(const pc_nn_exec *ex) { return !ex->dry && ex->st == PC_OK; }
// Record a kernel failure (first one wins).
void pc_nn_fail(pc_nn_exec *ex, pc_status st);
// The backend the exec runs on.
static inline const pc_nn_backend *pc_nn_be(const pc_nn_exec *ex) { return ex->be ? ex->be : pc_nn_backend_cpu(); }

// ---- backend tensors ---------------------------------------------------------------
// n values of dtype dt on the exec's backend ({NULL, dt} in a dry run or once failed).
pc_nn_t pc_nn_new(pc_nn_exec *ex, pc_dtype dt, int64_t n);
static inline pc_nn_t pc_nn_new_f32(pc_nn_exec *ex, int64_t n) { return pc_nn_new(ex, PC_F32, n); }
// In the backend's activation dtype (f32 on the cpu, bf16 on a GPU).
static inline pc_nn_t pc_nn_new_act(pc_nn_exec *ex, int64_t n) { return pc_nn_new(ex, pc_nn_be(ex)->act, n); }
// Marks over both memories (host arena, backend arena).
typedef struct pc_nn_mark {
    size_t host, dev;
} pc_nn_mark;
pc_nn_mark pc_nn_mark_get(pc_nn_exec *ex);
void pc_nn_mark_reset(pc_nn_exec *ex, pc_nn_mark m);
// Host f32 values of t (n of them): t itself on the cpu backend (f32), else a download into the host arena.
// NULL in a dry run.
const float *pc_nn_read(pc_nn_exec *ex, pc_nn_t t, int64_t n);
// The same, into caller memory.
void pc_nn_read_into(pc_nn_exec *ex, float *dst, pc_nn_t t, int64_t n);
// A tensor whose values end up in host memory `host` (n floats): host itself on the cpu backend, a new
// backend tensor otherwise; pc_nn_read_into(ex, host, t, n) brings them back (a no-op on the cpu).
pc_nn_t pc_nn_output(pc_nn_exec *ex, float *host, int64_t n);
// n host f32 values on the backend: the host pointer itself on the cpu backend, else an upload.
pc_nn_t pc_nn_write(pc_nn_exec *ex, const float *src, int64_t n);
// Hand the activation t (shape[0..ndim)) to ex->trace under the printf-formatted name. No-op without a hook.
void pc_nn_trace(pc_nn_exec *ex, pc_nn_t t, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
// Dry runs: pc_nn_measure_begin makes `dry` a dry exec counting host memory in *meas (from zero) and
// device memory from zero too (the device keeps the largest peak over all dry runs since the last
// reserve); the caller sizes its host arena from meas->peak, and pc_nn_reserve sizes the device arena.
void pc_nn_measure_begin(pc_nn_exec *dry, pc_arena *meas);
pc_status pc_nn_reserve(pc_nn_exec *ex, pc_error *err);

// ---- ops on backend tensors (see backend.h for each op's contract) -------------------
void pc_nn_unary(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t n, pc_nn_unary_op op);
void pc_nn_add(pc_nn_exec *ex, pc_nn_t y, pc_nn_t a, pc_nn_t b, int64_t n);
void pc_nn_copy(pc_nn_exec *ex, pc_nn_t y, const int64_t *ystride, pc_nn_t x, const int64_t *xstride,
                const int64_t *dims, int ndim);
// y (B, C, R) = x (B, R, C) transposed per batch item (tokens <-> NCHW).
void pc_nn_transpose(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t B, int64_t R, int64_t C);
void pc_nn_resize_bilinear(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                           int64_t OW, int align_corners, double sh, double sw);

// ---- choosing a model's backend ------------------------------------------------------------
// A model's weight placement: walks its layers with pc_nn_*_place (see pc_nn_place_weights).
typedef pc_status (*pc_nn_place_fn)(pc_nn_backend *be, void *model, int measuring, pc_error *err);
// Move a model to the backend named `name` ("cpu", "cuda", "auto", "emu"): *slot holds the model's
// backend (NULL: cpu); the old one is closed, the new one opened and the weights placed through fn.
// "cuda" without CUDA or a GPU fails with PC_ERR_UNSUPPORTED and leaves the model on the cpu; "auto" then
// stays on the cpu, returns PC_OK and leaves the reason in err. The same name twice is a no-op.
pc_status pc_nn_set_device(pc_nn_backend **slot, const char *name, pc_pool *pool, pc_nn_place_fn fn, void *model,
                           pc_error *err);

// ---- running a forward ------------------------------------------------------------------
// The model's one code path run twice: dry (measures host and device memory), then for real on `arena`
// (grown when the dry run needs more) with the trace hook. Returns the first failure.
typedef void (*pc_nn_forward_fn)(pc_nn_exec *ex, void *args);
pc_status pc_nn_run(pc_nn_backend *be, pc_pool *pool, pc_arena *arena, pc_nn_trace_fn trace, void *trace_ctx,
                    pc_nn_forward_fn fn, void *args, pc_error *err);

// ---- attention on views ---------------------------------------------------------------------
// o = softmax(q k^T scale) v over (B, H, N, D) views; causal: query i sees keys [0, i] (the additive -inf
// mask of a causal nn.MultiheadAttention), run as one call per query row.
void pc_nn_sdpa(pc_nn_exec *ex, pc_nn_view o, pc_nn_view q, pc_nn_view k, pc_nn_view v, int64_t B, int64_t H,
                int64_t Nq, int64_t Nk, int64_t D, float scale, int causal);

// ---- parameters used as activations (positional embeddings, class tokens, latents) -------------
typedef struct pc_nn_param {
    const float *host;  // (n) f32, as bound
    int64_t n;
    pc_nn_t dev;        // the device copy once placed
} pc_nn_param;
pc_status pc_nn_param_place(pc_nn_backend *be, pc_nn_param *p, int measuring, pc_error *err);
// The parameter as a tensor on ex's backend (the host array on the cpu backend).
pc_nn_t pc_nn_param_t(const pc_nn_exec *ex, const pc_nn_param *p);

// ---- weight placement ----------------------------------------------------------------
// A model's placement walks its layers with pc_nn_*_place; pc_nn_place_weights runs it twice on a device
// backend (count the bytes, allocate once, copy) and not at all on the cpu backend.
pc_status pc_nn_place_weights(pc_nn_backend *be, pc_nn_place_fn fn, void *model, pc_error *err);

// ---- layers ------------------------------------------------------------------

// torch.nn.Linear: y = x W^T + b, W (out, in).
typedef struct pc_nn_linear {
    pc_wt w;            // (out, in)
    const float *b;     // (out,) or NULL
    int64_t in, out;
    pc_nn_t dw, db;     // device copies: (out, in) in the backend's weight dtype, (out) f32
    int exact;          // 1: placed as f32 (inputs that keep full precision, e.g. the image patches)
} pc_nn_linear;
// in / out <= 0: taken from the tensor. bias: 1 required, 0 absent, -1 optional.
pc_status pc_nn_linear_bind(pc_nn_binder *b, pc_nn_linear *l, const char *prefix, int64_t in, int64_t out, int bias,
                            pc_error *err);
// y (M, out) with row stride ldy (+)= x (M, in) with row stride ldx; accumulate: y += (residual).
void pc_nn_linear_forward(pc_nn_exec *ex, const pc_nn_linear *l, pc_nn_t y, int64_t ldy, pc_nn_t x, int64_t ldx,
                          int64_t M, int accumulate);
pc_status pc_nn_linear_place(pc_nn_backend *be, pc_nn_linear *l, int measuring, pc_error *err);

// torch.nn.LayerNorm over the last dim.
typedef struct pc_nn_layernorm {
    const float *w, *b;  // (dim,)
    int64_t dim;
    float eps;
    pc_nn_t dw, db;      // device copies (dim) f32
} pc_nn_layernorm;
pc_status pc_nn_layernorm_bind(pc_nn_binder *b, pc_nn_layernorm *l, const char *prefix, int64_t dim, float eps,
                               pc_error *err);
// y (M, dim) = LN(x (M, dim)); y may equal x.
void pc_nn_layernorm_forward(pc_nn_exec *ex, const pc_nn_layernorm *l, pc_nn_t y, pc_nn_t x, int64_t M);
pc_status pc_nn_layernorm_place(pc_nn_backend *be, pc_nn_layernorm *l, int measuring, pc_error *err);

// timm/croco Mlp: fc2(gelu(fc1(x))), exact (erf) GELU. Hidden width from fc1's shape.
typedef struct pc_nn_mlp {
    pc_nn_linear fc1, fc2;
} pc_nn_mlp;
pc_status pc_nn_mlp_bind(pc_nn_binder *b, pc_nn_mlp *m, const char *prefix, int64_t dim, pc_error *err);
// y (M, dim) (+)= mlp(x (M, dim)); y must not alias x when accumulating.
void pc_nn_mlp_forward(pc_nn_exec *ex, const pc_nn_mlp *m, pc_nn_t y, pc_nn_t x, int64_t M, int accumulate);
pc_status pc_nn_mlp_place(pc_nn_backend *be, pc_nn_mlp *m, int measuring, pc_error *err);

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
// RoPE2D (croco semantics, see pc_rope2d) with the given base; base <= 0: no RoPE. Token positions are
// croco's PositionGetter grid of width grid_w (row-major patches).
// Self-attention on B sequences of N tokens: y (B, N, dim) (+)= attn(x).
void pc_nn_self_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, pc_nn_t y, pc_nn_t x,
                                  int64_t grid_w, int64_t B, int64_t N, int accumulate);
// Cross-attention: queries from xq (B, Nq, dim) on a grid of width qw, keys/values from xkv (B, Nk, dim) (kw).
void pc_nn_cross_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, pc_nn_t y,
                                   pc_nn_t xq, int64_t qw, int64_t Nq, pc_nn_t xkv, int64_t kw, int64_t Nk, int64_t B,
                                   int accumulate);
pc_status pc_nn_attention_place(pc_nn_backend *be, pc_nn_attention *a, int measuring, pc_error *err);

// Pre-norm ViT block (croco: Block): x += attn(norm1(x)); x += mlp(norm2(x)).
typedef struct pc_nn_vit_block {
    pc_nn_layernorm norm1, norm2;
    pc_nn_attention attn;
    pc_nn_mlp mlp;
} pc_nn_vit_block;
pc_status pc_nn_vit_block_bind(pc_nn_binder *b, pc_nn_vit_block *blk, const char *prefix, int64_t dim, int64_t heads,
                               float eps, pc_error *err);
// In place on x (B, N, dim) f32, tokens on a grid of width grid_w.
void pc_nn_vit_block_forward(pc_nn_exec *ex, const pc_nn_vit_block *blk, float rope_base, pc_nn_t x, int64_t grid_w,
                             int64_t B, int64_t N);
pc_status pc_nn_vit_block_place(pc_nn_backend *be, pc_nn_vit_block *blk, int measuring, pc_error *err);

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
// xout (B, Nx, dim) = block(x, y), all f32; x on a grid of width xw, y of width yw; xout must not alias x or y.
void pc_nn_decoder_block_forward(pc_nn_exec *ex, const pc_nn_decoder_block *blk, float rope_base, pc_nn_t xout,
                                 pc_nn_t x, int64_t xw, int64_t Nx, pc_nn_t y, int64_t yw, int64_t Ny, int64_t B);
pc_status pc_nn_decoder_block_place(pc_nn_backend *be, pc_nn_decoder_block *blk, int measuring, pc_error *err);

// torch.nn.Conv2d (groups 1, dilation 1, square kernel) on NCHW.
typedef struct pc_nn_conv2d {
    pc_wt w;          // (Cout, Cin, k, k)
    const float *b;   // (Cout,) or NULL
    int64_t cin, cout, k, stride, pad;
    pc_nn_t dw, db;   // device copies
    int exact;        // 1: placed as f32
} pc_nn_conv2d;
// cin/cout <= 0: taken from the tensor. bias as in pc_nn_linear_bind.
pc_status pc_nn_conv2d_bind(pc_nn_binder *b, pc_nn_conv2d *c, const char *prefix, int64_t cin, int64_t cout, int64_t k,
                            int64_t stride, int64_t pad, int bias, pc_error *err);
static inline int64_t pc_nn_conv2d_out(const pc_nn_conv2d *c, int64_t in) {
    return (in + 2 * c->pad - c->k) / c->stride + 1;
}
// y (B, Cout, Ho, Wo) = conv(x (B, Cin, H, W)).
void pc_nn_conv2d_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                          int64_t W);
pc_status pc_nn_conv2d_place(pc_nn_backend *be, pc_nn_conv2d *c, int measuring, pc_error *err);
// croco PatchEmbed: y (B, N, Cout) tokens = conv(x)(B, Cout, N) transposed; N = Ho * Wo.
void pc_nn_patch_embed_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                               int64_t W);

// torch.nn.ConvTranspose2d (groups 1, no padding), weight (Cin, Cout, k, k).
typedef struct pc_nn_convt2d {
    pc_wt w;          // (Cin, Cout, k, k)
    const float *b;   // (Cout,) or NULL
    int64_t cin, cout, k, stride;
    pc_nn_t dw, db;   // device copies
} pc_nn_convt2d;
pc_status pc_nn_convt2d_bind(pc_nn_binder *b, pc_nn_convt2d *c, const char *prefix, int64_t cin, int64_t cout,
                             int64_t k, int64_t stride, int bias, pc_error *err);
static inline int64_t pc_nn_convt2d_out(const pc_nn_convt2d *c, int64_t in) { return (in - 1) * c->stride + c->k; }
// y (B, Cout, Ho, Wo) = convT(x (B, Cin, H, W)).
void pc_nn_convt2d_forward(pc_nn_exec *ex, const pc_nn_convt2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                           int64_t W);
pc_status pc_nn_convt2d_place(pc_nn_backend *be, pc_nn_convt2d *c, int measuring, pc_error *err);

#endif
