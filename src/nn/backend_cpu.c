// The cpu backend: each op is the src/core kernel the layers called before backends existed, so a model
// on this backend computes bit for bit what it computed then. Tensors are f32 host memory from ex->arena;
// weights are read where they were bound (the checkpoint's memory map or a converted copy).
#include <stdint.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "nn/nn.h"

static float *F(pc_nn_t t) { return (float *)t.p; }

// Scratch from the host arena; counted in a dry run (NULL there), PC_ERR_MEMORY when a real run runs out.
static void *scratch(pc_nn_exec *ex, size_t bytes) {
    void *p = pc_arena_alloc(ex->arena, bytes ? bytes : 1);
    if (!p && !ex->dry) pc_nn_fail(ex, pc_err(ex->err, PC_ERR_MEMORY, "activation arena exhausted (%zu bytes asked)", bytes));
    return p;
}

static void *cpu_alloc(pc_nn_exec *ex, size_t bytes) { return pc_arena_alloc(ex->arena, bytes ? bytes : 1); }
static size_t cpu_mark(pc_nn_exec *ex) { return pc_arena_mark(ex->arena); }
static void cpu_reset(pc_nn_exec *ex, size_t m) { pc_arena_reset(ex->arena, m); }

static pc_status cpu_reserve(pc_nn_backend *be, pc_error *err) {
    (void)be, (void)err;
    return PC_OK;  // the host arena is the caller's (pc_nn_measure_end sizes it)
}
static void cpu_measure(pc_nn_backend *be) { (void)be; }

static void cpu_upload(pc_nn_exec *ex, pc_nn_t dst, const float *src, int64_t n) {
    (void)ex;
    if (F(dst) != src) memcpy(dst.p, src, (size_t)n * sizeof(float));
}
static void cpu_download(pc_nn_exec *ex, float *dst, pc_nn_t src, int64_t n) {
    (void)ex;
    if (dst != F(src)) memcpy(dst, src.p, (size_t)n * sizeof(float));
}

static void cpu_memory(const pc_nn_backend *be, size_t *w, size_t *a, size_t *p) {
    (void)be;
    *w = *a = *p = 0;
}

static pc_wt host_wt(const pc_nn_w *w) {
    pc_wt r = {w->host, w->hdt};
    return r;
}
static const float *host_vec(const pc_nn_w *b) { return b ? (const float *)b->host : NULL; }

static void cpu_linear(pc_nn_exec *ex, pc_nn_t y, int64_t ldy, pc_nn_t x, int64_t ldx, const pc_nn_w *W,
                       const pc_nn_w *b, int64_t M, int64_t N, int64_t K, int accumulate) {
    if (ex->dry) return;
    if (!accumulate) {
        pc_linear_strided(ex->pool, F(y), ldy, F(x), ldx, host_wt(W), host_vec(b), M, N, K);
        return;
    }
    pc_mat wt = {W->host, W->hdt, K, 1};  // the stored (N, K) weight, used transposed; beta = 1 accumulates
    pc_gemm(ex->pool, F(y), ldy, pc_mat_f32(F(x), ldx, 0), wt, M, N, K, 1.0f, 1.0f, host_vec(b));
}

static void cpu_layer_norm(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *g, const pc_nn_w *b, int64_t M,
                           int64_t C, float eps) {
    if (ex->dry) return;
    pc_layer_norm(ex->pool, F(y), F(x), host_vec(g), host_vec(b), M, C, eps);
}

static void cpu_group_norm(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *g, const pc_nn_w *b, int64_t B,
                           int64_t C, int64_t S, int64_t G, float eps, int silu) {
    if (ex->dry) return;
    pc_group_norm(ex->pool, F(y), F(x), host_vec(g), host_vec(b), B, C, S, G, eps, silu);
}

static pc_attn_view av(pc_nn_view v) {
    pc_attn_view a = {F(v.t), v.sb, v.sh, v.sn};
    return a;
}

static void cpu_attention(pc_nn_exec *ex, pc_nn_view o, pc_nn_view q, pc_nn_view k, pc_nn_view v, int64_t B,
                          int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale) {
    if (ex->dry) return;
    pc_status st = pc_attention(ex->pool, av(o), av(q), av(k), av(v), B, H, Nq, Nk, D, scale, ex->err);
    if (st != PC_OK) pc_nn_fail(ex, st);
}

static void cpu_rope2d(pc_nn_exec *ex, pc_nn_view t, int64_t B, int64_t H, int64_t N, int64_t D, int64_t grid_w,
                       float base) {
    size_t mark = pc_arena_mark(ex->arena);
    int64_t *pos = (int64_t *)scratch(ex, (size_t)(B * N * 2) * sizeof(int64_t));  // (B, N, 2) (y, x)
    if (!ex->dry && pos) {
        for (int64_t b = 0; b < B; b++)  // croco: PositionGetter
            for (int64_t n = 0; n < N; n++) {
                pos[(b * N + n) * 2 + 0] = n / grid_w;
                pos[(b * N + n) * 2 + 1] = n % grid_w;
            }
        pc_rope2d(ex->pool, av(t), pos, B, H, N, D, base);
    }
    pc_arena_reset(ex->arena, mark);
}

static void cpu_unary(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t n, pc_nn_unary_op op) {
    if (ex->dry) return;
    switch (op) {
    case PC_NN_GELU: pc_gelu(ex->pool, F(y), F(x), n); break;
    case PC_NN_SILU: pc_silu(ex->pool, F(y), F(x), n); break;
    case PC_NN_RELU: pc_relu(ex->pool, F(y), F(x), n); break;
    case PC_NN_COPY:
        if (y.p != x.p) memcpy(y.p, x.p, (size_t)n * sizeof(float));
        break;
    }
}

static void cpu_add(pc_nn_exec *ex, pc_nn_t y, pc_nn_t a, pc_nn_t b, int64_t n) {
    if (ex->dry) return;
    pc_add(ex->pool, F(y), F(a), F(b), n);
}

// Strided copy; the innermost dim goes through memcpy when both sides are contiguous there.
static void cpu_copy(pc_nn_exec *ex, pc_nn_t y, const int64_t *ys, pc_nn_t x, const int64_t *xs, const int64_t *dims,
                     int ndim) {
    if (ex->dry) return;
    int64_t d[PC_NN_MAXDIM], sy[PC_NN_MAXDIM], sx[PC_NN_MAXDIM];
    for (int i = 0; i < PC_NN_MAXDIM; i++) {  // right-aligned: dim PC_NN_MAXDIM-1 is the innermost
        int j = i - (PC_NN_MAXDIM - ndim);
        d[i] = j >= 0 ? dims[j] : 1;
        sy[i] = j >= 0 ? ys[j] : 0;
        sx[i] = j >= 0 ? xs[j] : 0;
    }
    float *Y = F(y);
    const float *X = F(x);
    if (ndim == 3 && ys[2] == 1 && xs[1] == 1 && ys[1] == dims[2] && xs[2] == dims[1] && ys[0] == dims[1] * dims[2] &&
        xs[0] == ys[0]) {  // (B, R, C) -> (B, C, R): the blocked, threaded transpose kernel
        pc_transpose(ex->pool, Y, X, dims[0], dims[2], dims[1]);
        return;
    }
    const int64_t n5 = d[5];
    const int rows = sy[5] == 1 && sx[5] == 1;
    for (int64_t i0 = 0; i0 < d[0]; i0++)
        for (int64_t i1 = 0; i1 < d[1]; i1++)
            for (int64_t i2 = 0; i2 < d[2]; i2++)
                for (int64_t i3 = 0; i3 < d[3]; i3++)
                    for (int64_t i4 = 0; i4 < d[4]; i4++) {
                        float *yr = Y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3] + i4 * sy[4];
                        const float *xr = X + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3] + i4 * sx[4];
                        if (rows) {
                            memcpy(yr, xr, (size_t)n5 * sizeof(float));
                        } else {
                            for (int64_t i5 = 0; i5 < n5; i5++) yr[i5 * sy[5]] = xr[i5 * sx[5]];
                        }
                    }
}

static void cpu_conv2d(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                       int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride, int64_t pad) {
    size_t mark = pc_arena_mark(ex->arena);
    pc_conv2d_desc d = pc_conv2d_make(B, Cin, H, Wd, Cout, k, k, stride, pad, pad);
    size_t wsb = pc_conv2d_workspace(&d);
    void *ws = wsb ? scratch(ex, wsb) : NULL;
    if (!ex->dry && ex->st == PC_OK) {
        pc_status st = pc_conv2d(ex->pool, F(y), F(x), host_wt(W), host_vec(b), &d, ws, wsb, ex->err);
        if (st != PC_OK) pc_nn_fail(ex, st);
    }
    pc_arena_reset(ex->arena, mark);
}

static void cpu_convt2d(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                        int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride) {
    size_t mark = pc_arena_mark(ex->arena);
    pc_convt2d_desc d = pc_convt2d_make(B, Cin, H, Wd, Cout, k, k, stride, 0);
    size_t wsb = pc_convt2d_workspace(&d);
    void *ws = wsb ? scratch(ex, wsb) : NULL;
    if (!ex->dry && ex->st == PC_OK) {
        pc_status st = pc_convt2d(ex->pool, F(y), F(x), host_wt(W), host_vec(b), &d, ws, wsb, ex->err);
        if (st != PC_OK) pc_nn_fail(ex, st);
    }
    pc_arena_reset(ex->arena, mark);
}

static void cpu_resize_bilinear(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, int align_corners, double sh, double sw) {
    if (ex->dry) return;
    pc_resize_bilinear(ex->pool, F(y), F(x), NC, H, W, OH, OW, align_corners, sh, sw);
}

static const pc_nn_backend cpu_backend = {
    .name = "cpu",
    .act = PC_F32,
    .alloc = cpu_alloc,
    .mark = cpu_mark,
    .reset = cpu_reset,
    .reserve = cpu_reserve,
    .measure = cpu_measure,
    .upload = cpu_upload,
    .download = cpu_download,
    .memory = cpu_memory,
    .linear = cpu_linear,
    .layer_norm = cpu_layer_norm,
    .group_norm = cpu_group_norm,
    .attention = cpu_attention,
    .rope2d = cpu_rope2d,
    .unary = cpu_unary,
    .add = cpu_add,
    .copy = cpu_copy,
    .conv2d = cpu_conv2d,
    .convt2d = cpu_convt2d,
    .resize_bilinear = cpu_resize_bilinear,
};

const pc_nn_backend *pc_nn_backend_cpu(void) { return &cpu_backend; }

void pc_nn_backend_close(pc_nn_backend *be) {
    if (be && be->free) be->free(be);
}
