// Where nn layers run: a backend is a table of ops (ggml-backend's idea, in eager form: no graph, each op
// runs when called). Model code calls the nn layers (nn.h) and the tensor helpers below; the layers call
// these ops; only a backend file includes a kernel header. Adding an op to a backend never touches a model.
//
// Backends (one struct each, created with the functions at the end):
//   cpu   today's kernels (src/core): the activation arena is the exec's host arena, weights are read in
//         place from the checkpoint's memory map. Every model's golden test runs here with its tolerance.
//   cuda  src/cuda kernels (cuBLASLt GEMMs, flash attention, ...): weights uploaded once (matrices bf16,
//         vectors f32), its own device arena sized by the dry run. Built without CUDA it fails to open.
//   emu   the cuda backend's host code exactly (src/nn/backend_device.c) over a CPU emulation of each CUDA
//         kernel (src/nn/device_emu.c): buffers in their device dtypes in a separate arena, rounded where the
//         kernels round. It is how a machine without a GPU checks the code path a GPU runs.
//
// A tensor on a backend is a pc_nn_t: a pointer into that backend's memory and a dtype. Model code never
// dereferences it; host code gets data out through pc_nn_read / pc_nn_trace and in through pc_nn_write.
#ifndef PC_NN_BACKEND_H
#define PC_NN_BACKEND_H

#include "core/arena.h"
#include "core/common.h"

typedef struct pc_nn_t {
    void *p;      // backend memory (NULL in a dry run)
    pc_dtype dt;  // PC_F32, PC_BF16 or PC_F16
} pc_nn_t;

// The element `off` elements after t.
static inline pc_nn_t pc_nn_at(pc_nn_t t, int64_t off) {
    pc_nn_t r = {t.p ? (char *)t.p + off * (int64_t)pc_dtype_size(t.dt) : NULL, t.dt};
    return r;
}

// A weight as the ops see it: the host copy (checkpoint view; what the cpu backend reads) and the copy the
// backend placed on its device (dev.p == NULL until pc_nn_place_* ran for a device backend).
typedef struct pc_nn_w {
    const void *host;
    pc_dtype hdt;
    pc_nn_t dev;
} pc_nn_w;

// Strided (B, H, N, D) view, d contiguous: element (b, h, n, d) at t + b*sb + h*sh + n*sn + d.
typedef struct pc_nn_view {
    pc_nn_t t;
    int64_t sb, sh, sn;
} pc_nn_view;

// Heads of a token buffer (B, N, ld) whose head h starts at column off + h*D.
static inline pc_nn_view pc_nn_heads(pc_nn_t base, int64_t N, int64_t ld, int64_t off, int64_t D) {
    pc_nn_view v = {pc_nn_at(base, off), N * ld, D, ld};
    return v;
}

typedef enum pc_nn_unary_op { PC_NN_GELU = 0, PC_NN_SILU, PC_NN_RELU, PC_NN_COPY } pc_nn_unary_op;

#define PC_NN_MAXDIM 6

struct pc_nn_exec;
typedef struct pc_nn_backend pc_nn_backend;

// Ops are called in dry runs too: there they only allocate the scratch they need (so the dry run measures
// it) and return. Nothing is called once ex has failed. A failure is recorded in ex (pc_nn_fail) with its
// message in ex->err; an op a backend does not have fails with PC_ERR_UNSUPPORTED naming op and backend.
struct pc_nn_backend {
    const char *name;  // "cpu", "cuda", "emu"
    pc_dtype act;      // dtype of the intermediate activations the layers allocate (the residual stream is f32)
    void *ctx;         // backend state

    // ---- memory --------------------------------------------------------------------------------------
    // Activation memory. On the cpu backend this is ex->arena; a device backend has its own arena, which
    // counts (and hands out NULL) while ex->dry, then pc_nn_reserve sizes it to the peak of that dry run.
    void *(*alloc)(struct pc_nn_exec *ex, size_t bytes);
    size_t (*mark)(struct pc_nn_exec *ex);
    void (*reset)(struct pc_nn_exec *ex, size_t mark);
    pc_status (*reserve)(pc_nn_backend *be, pc_error *err);  // after a dry run; clears the count
    void (*measure)(pc_nn_backend *be);                      // before a dry run: count from zero
    // Host <-> backend copies, converting dtypes (f32 host side).
    void (*upload)(struct pc_nn_exec *ex, pc_nn_t dst, const float *src, int64_t n);
    void (*download)(struct pc_nn_exec *ex, float *dst, pc_nn_t src, int64_t n);
    // Weights: give w->dev a device copy of n values of w->host, as dt (PC_F32 for vectors and for the
    // weights kept exact). measuring: only add up the bytes (pc_nn_place_weights runs the model's placement
    // twice: count, then copy). NULL on the cpu backend, which reads w->host.
    pc_status (*place)(pc_nn_backend *be, pc_nn_w *w, int64_t n, pc_dtype dt, int measuring, pc_error *err);
    pc_status (*place_commit)(pc_nn_backend *be, pc_error *err);  // allocate what the counting pass added up
    void (*free)(pc_nn_backend *be);
    // Device memory in use (bytes): weights placed, activation arena capacity and its high-water mark.
    void (*memory)(const pc_nn_backend *be, size_t *weights, size_t *arena, size_t *peak);

    // ---- ops ---------------------------------------------------------------------------------------
    // torch.nn.Linear: y (M, N) [row stride ldy] (+)= x (M, K) [ldx] W^T + b; W (N, K) stored row-major,
    // b (N) f32 or NULL (b.host == NULL). accumulate: y += (the residual stream).
    void (*linear)(struct pc_nn_exec *ex, pc_nn_t y, int64_t ldy, pc_nn_t x, int64_t ldx, const pc_nn_w *W,
                   const pc_nn_w *b, int64_t M, int64_t N, int64_t K, int accumulate);
    // torch.nn.LayerNorm over the last dim: y, x (M, C); gamma, beta (C) f32. y may equal x.
    void (*layer_norm)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *gamma, const pc_nn_w *beta,
                       int64_t M, int64_t C, float eps);
    // torch.nn.GroupNorm on (B, C, S), G groups; silu: SiLU after the affine. y may equal x.
    void (*group_norm)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *gamma, const pc_nn_w *beta,
                       int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu);
    // o = softmax(q k^T scale) v per (b, h), flash-style: never an Nq x Nk buffer.
    void (*attention)(struct pc_nn_exec *ex, pc_nn_view o, pc_nn_view q, pc_nn_view k, pc_nn_view v, int64_t B,
                      int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale);
    // croco RoPE2D in place; token n at croco's PositionGetter grid (y, x) = (n / grid_w, n % grid_w).
    void (*rope2d)(struct pc_nn_exec *ex, pc_nn_view t, int64_t B, int64_t H, int64_t N, int64_t D, int64_t grid_w,
                   float base);
    // y (n) = op(x); y may equal x.
    void (*unary)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t n, pc_nn_unary_op op);
    // y (n) = a + b; y may equal a or b.
    void (*add)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t a, pc_nn_t b, int64_t n);
    // y[i0..i5] = x[i0..i5] over dims (up to PC_NN_MAXDIM, unused dims 1), strides in elements: permute,
    // transpose, slice, concat, pixel shuffle. y and x must not overlap.
    void (*copy)(struct pc_nn_exec *ex, pc_nn_t y, const int64_t *ystride, pc_nn_t x, const int64_t *xstride,
                 const int64_t *dims, int ndim);
    // torch.nn.Conv2d (groups 1, dilation 1) on NCHW: y (B, Cout, Ho, Wo) = conv(x (B, Cin, H, W)).
    void (*conv2d)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                   int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride, int64_t pad);
    // torch.nn.ConvTranspose2d (groups 1, padding 0), W (Cin, Cout, k, k): y (B, Cout, (H-1)s+k, (W-1)s+k).
    void (*convt2d)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                    int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride);
    // F.interpolate(mode='bilinear') of NC planes (H, W) -> (OH, OW); align_corners as torch; sh, sw: the
    // scale factors torch was given (they set the source coordinates when align_corners is false).
    void (*resize_bilinear)(struct pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                            int64_t OW, int align_corners, double sh, double sw);
};

// ---- backends -------------------------------------------------------------------------------------------

// The cpu backend (no state of its own: pool and arena come from the exec).
const pc_nn_backend *pc_nn_backend_cpu(void);
// A device backend on CUDA device `device`: PC_ERR_UNSUPPORTED (with the reason) without CUDA or a GPU.
pc_status pc_nn_backend_cuda_open(pc_nn_backend **out, int device, pc_error *err);
// The emulated device (the cuda backend's host code over CPU twins of its kernels); pool may be NULL.
pc_status pc_nn_backend_emu_open(pc_nn_backend **out, pc_pool *pool, pc_error *err);
// Frees a backend from an _open call (the cpu backend is static: no-op).
void pc_nn_backend_close(pc_nn_backend *be);
// 1 for a backend with its own memory (weights must be placed; data moves through read/write).
static inline int pc_nn_backend_is_device(const pc_nn_backend *be) { return be && be->place != NULL; }

#endif
