// A device backend: the host side of running nn ops on a GPU, written once over a kernel table
// (device.h). With pc_nn_devk_cuda it drives the real GPU; with pc_nn_devk_emu the same code runs over CPU
// twins of the kernels, which is how CI checks this file (weight placement, arena planning, dtype
// conversions, views, strides) without a GPU.
//
// Memory: weights in one device arena filled by pc_nn_place_weights (count, allocate once, copy);
// activations in a second arena sized by the model's dry run (pc_nn_reserve). Precision: matrices bf16,
// vectors and exact weights f32; activations the layers allocate with pc_nn_new_act are bf16; products
// accumulate in f32 (cuBLASLt, flash attention); the residual stream the models keep is f32.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"
#include "nn/nn.h"

typedef struct dev {
    pc_nn_backend be;  // first: the backend handed out is this struct
    const pc_nn_devk *k;
    int device;
    pc_pool *pool;
    void *wctx, *actx;          // weights, activations
    size_t wcount;              // placement's counting pass (bytes)
    size_t meas_used, meas_peak;  // dry runs (bytes, same 256-byte rounding as the arenas)
    size_t act_peak;
    char label[sizeof(((pc_cuda_props *)0)->name)];
} dev;

static dev *D(const pc_nn_exec *ex) { return (dev *)ex->be; }
static size_t al256(size_t n) { return (n + 255) & ~(size_t)255; }

static void fail(pc_nn_exec *ex, pc_status st) {
    if (st != PC_OK) pc_nn_fail(ex, st);
}

// ---- memory -------------------------------------------------------------------------------------

static void *d_alloc(pc_nn_exec *ex, size_t bytes) {
    dev *d = D(ex);
    if (ex->dry) {
        d->meas_used = al256(d->meas_used) + bytes;
        if (d->meas_used > d->meas_peak) d->meas_peak = d->meas_used;
        return NULL;
    }
    if (ex->st != PC_OK) return NULL;
    if (!d->actx) {
        fail(ex, pc_err(ex->err, PC_ERR_ARG, "%s: activation arena used before pc_nn_reserve", d->k->name));
        return NULL;
    }
    void *p = NULL;
    fail(ex, d->k->alloc(d->actx, &p, bytes ? bytes : 1, ex->err));
    return p;
}
static size_t d_mark(pc_nn_exec *ex) {
    dev *d = D(ex);
    return ex->dry ? d->meas_used : d->actx ? d->k->mark(d->actx) : 0;
}
static void d_reset(pc_nn_exec *ex, size_t m) {
    dev *d = D(ex);
    if (ex->dry)
        d->meas_used = m;
    else if (d->actx)
        d->k->reset(d->actx, m);
}
static void d_measure(pc_nn_backend *be) { ((dev *)be)->meas_used = 0; }

static pc_status d_reserve(pc_nn_backend *be, pc_error *err) {
    dev *d = (dev *)be;
    size_t need = d->meas_peak + 4096;
    d->meas_peak = d->meas_used = 0;
    if (d->actx) d->act_peak = PC_MAX(d->act_peak, d->k->peak(d->actx));
    if (!d->actx || d->k->capacity(d->actx) < need) {
        if (d->actx) d->k->close(d->actx);
        d->actx = NULL;
        pc_status st = d->k->open(&d->actx, d->device, need + need / 8 + ((size_t)1 << 20), d->pool, err);
        if (st != PC_OK) return pc_err_prefix(err, st, "%s activation arena (%.1f MiB): ", d->k->name,
                                              (double)need / (1 << 20));
    }
    d->k->reset(d->actx, 0);
    return PC_OK;
}

static void d_upload(pc_nn_exec *ex, pc_nn_t dst, const float *src, int64_t n) {
    if (ex->dry || ex->st != PC_OK) return;
    fail(ex, D(ex)->k->upload(D(ex)->actx, dst.p, dst.dt, src, PC_F32, n, ex->err));
}
static void d_download(pc_nn_exec *ex, float *dst, pc_nn_t src, int64_t n) {
    if (ex->dry || ex->st != PC_OK) return;
    fail(ex, D(ex)->k->download(D(ex)->actx, dst, src.p, src.dt, n, ex->err));
}

static pc_status d_place(pc_nn_backend *be, pc_nn_w *w, int64_t n, pc_dtype dt, int measuring, pc_error *err) {
    dev *d = (dev *)be;
    if (!w->host) return PC_OK;
    size_t bytes = (size_t)n * pc_dtype_size(dt);
    if (measuring) {
        d->wcount = al256(d->wcount) + bytes;
        return PC_OK;
    }
    void *p = NULL;
    pc_status st = d->k->alloc(d->wctx, &p, bytes, err);
    if (st == PC_OK) st = d->k->upload(d->wctx, p, dt, w->host, w->hdt, n, err);
    if (st != PC_OK) return st;
    w->dev.p = p;
    w->dev.dt = dt;
    return PC_OK;
}

static pc_status d_place_commit(pc_nn_backend *be, pc_error *err) {
    dev *d = (dev *)be;
    if (d->wctx) d->k->close(d->wctx);
    d->wctx = NULL;
    pc_status st = d->k->open(&d->wctx, d->device, d->wcount + 4096, d->pool, err);
    d->wcount = 0;
    return st;
}

static void d_free(pc_nn_backend *be) {
    dev *d = (dev *)be;
    if (d->actx) d->k->close(d->actx);
    if (d->wctx) d->k->close(d->wctx);
    free(d);
}

static void d_memory(const pc_nn_backend *be, size_t *w, size_t *a, size_t *p) {
    const dev *d = (const dev *)be;
    *w = d->wctx ? d->k->mark(d->wctx) : 0;
    *a = d->actx ? d->k->capacity(d->actx) : 0;
    *p = PC_MAX(d->act_peak, d->actx ? d->k->peak(d->actx) : 0);
}

// ---- ops -----------------------------------------------------------------------------------------

static const void *wdev(pc_nn_exec *ex, const pc_nn_w *w, const char *op) {
    if (!w || !w->host) return NULL;
    if (!w->dev.p)
        fail(ex, pc_err(ex->err, PC_ERR_ARG, "%s on %s: a weight was not placed on the device", op,
                        D(ex)->k->name));
    return w->dev.p;
}

static pc_cuda_attn_view cv(pc_nn_view v) {
    pc_cuda_attn_view r = {v.t.p, v.t.dt, v.sb, v.sh, v.sn};
    return r;
}

static void d_linear(pc_nn_exec *ex, pc_nn_t y, int64_t ldy, pc_nn_t x, int64_t ldx, const pc_nn_w *W,
                     const pc_nn_w *b, int64_t M, int64_t N, int64_t K, int accumulate) {
    dev *d = D(ex);
    pc_dtype wdt = W->dev.dt;
    pc_nn_t a = x;
    int64_t lda = ldx;
    size_t mark = d_mark(ex);
    if (x.dt != wdt) {  // cuBLASLt takes both operands in one dtype: convert the input once
        a.p = d_alloc(ex, (size_t)(M * K) * pc_dtype_size(wdt));
        a.dt = wdt;
        lda = K;
        if (!ex->dry && ex->st == PC_OK) {
            const int64_t dims[2] = {M, K}, ys[2] = {K, 1}, xs[2] = {ldx, 1};
            fail(ex, d->k->copy(d->actx, a.p, wdt, ys, x.p, x.dt, xs, dims, 2, ex->err));
        }
    }
    if (!ex->dry && ex->st == PC_OK) {
        const void *w = wdev(ex, W, "linear");
        const float *bias = (const float *)wdev(ex, b, "linear bias");
        if (ex->st == PC_OK)
            fail(ex, d->k->gemm_nt(d->actx, y.p, y.dt, ldy, a.p, lda, w, K, wdt, bias, M, N, K, 1.0f,
                                   accumulate ? 1.0f : 0.0f, PC_CUDA_GEMM_DEFAULT, ex->err));
    }
    d_reset(ex, mark);
}

static void d_layer_norm(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *g, const pc_nn_w *b, int64_t M,
                         int64_t C, float eps) {
    if (ex->dry) return;
    const float *gd = (const float *)wdev(ex, g, "layer_norm"), *bd = (const float *)wdev(ex, b, "layer_norm");
    if (ex->st == PC_OK)
        fail(ex, D(ex)->k->layer_norm(D(ex)->actx, y.p, y.dt, x.p, x.dt, gd, bd, M, C, eps, ex->err));
}

static void d_group_norm(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *g, const pc_nn_w *b, int64_t B,
                         int64_t C, int64_t S, int64_t G, float eps, int silu) {
    if (ex->dry) return;
    const float *gd = (const float *)wdev(ex, g, "group_norm"), *bd = (const float *)wdev(ex, b, "group_norm");
    if (ex->st == PC_OK)
        fail(ex, D(ex)->k->group_norm(D(ex)->actx, y.p, y.dt, x.p, x.dt, gd, bd, B, C, S, G, eps, silu, ex->err));
}

// dst[..., :D] = src[..., :D] for (B, H, N, D) views (into a zero-padded buffer, or its first D columns back).
static void pad_copy(pc_nn_exec *ex, pc_nn_view dst, pc_nn_view src, int64_t B, int64_t H, int64_t N, int64_t Dh) {
    const int64_t dims[4] = {B, H, N, Dh}, ys[4] = {dst.sb, dst.sh, dst.sn, 1}, xs[4] = {src.sb, src.sh, src.sn, 1};
    fail(ex, D(ex)->k->copy(D(ex)->actx, dst.t.p, dst.t.dt, ys, src.t.p, src.t.dt, xs, dims, 4, ex->err));
}

// The flash kernel has head dims 32, 64 and 128. Other head dims (CLIP ViT-H: 80; the tiny golden models:
// 16, 20) run zero-padded to the next of those: zero columns add nothing to q k^T, and the padded output
// columns are dropped (the scale stays the true D's).
static void d_attention(pc_nn_exec *ex, pc_nn_view o, pc_nn_view q, pc_nn_view k, pc_nn_view v, int64_t B, int64_t H,
                        int64_t Nq, int64_t Nk, int64_t Dh, float scale) {
    dev *d = D(ex);
    int64_t Dp = Dh <= 32 ? 32 : Dh <= 64 ? 64 : 128;
    if (Dh == Dp || Dh > 128) {
        if (!ex->dry) fail(ex, d->k->attention(d->actx, cv(o), cv(q), cv(k), cv(v), B, H, Nq, Nk, Dh, scale, ex->err));
        return;
    }
    size_t mark = d_mark(ex);
    const int64_t nq = B * H * Nq * Dp, nk = B * H * Nk * Dp, total = 2 * nq + 2 * nk;
    pc_nn_t buf = {d_alloc(ex, (size_t)total * 2), PC_BF16};  // q (B, H, Nq, Dp) | k, v (B, H, Nk, Dp) | o
    pc_nn_t zero = {d_alloc(ex, sizeof(float)), PC_F32};
    if (!ex->dry && ex->st == PC_OK) {
        pc_nn_t bq = buf, bk = pc_nn_at(buf, nq), bv = pc_nn_at(buf, nq + nk), bo = pc_nn_at(buf, nq + 2 * nk);
        pc_nn_view pq = {bq, H * Nq * Dp, Nq * Dp, Dp}, pk = {bk, H * Nk * Dp, Nk * Dp, Dp};
        pc_nn_view pv = {bv, H * Nk * Dp, Nk * Dp, Dp}, po = {bo, H * Nq * Dp, Nq * Dp, Dp};
        static const float z = 0.0f;
        const int64_t zd[1] = {total}, ys[1] = {1}, xs[1] = {0};  // broadcast the zero over the padded buffers
        fail(ex, d->k->upload(d->actx, zero.p, PC_F32, &z, PC_F32, 1, ex->err));
        if (ex->st == PC_OK) fail(ex, d->k->copy(d->actx, buf.p, PC_BF16, ys, zero.p, PC_F32, xs, zd, 1, ex->err));
        pad_copy(ex, pq, q, B, H, Nq, Dh);
        pad_copy(ex, pk, k, B, H, Nk, Dh);
        pad_copy(ex, pv, v, B, H, Nk, Dh);
        if (ex->st == PC_OK)
            fail(ex, d->k->attention(d->actx, cv(po), cv(pq), cv(pk), cv(pv), B, H, Nq, Nk, Dp, scale, ex->err));
        pad_copy(ex, o, po, B, H, Nq, Dh);
    }
    d_reset(ex, mark);
}

static void d_rope2d(pc_nn_exec *ex, pc_nn_view t, int64_t B, int64_t H, int64_t N, int64_t Dh, int64_t grid_w,
                     float base) {
    if (ex->dry) return;
    fail(ex, D(ex)->k->rope2d(D(ex)->actx, cv(t), B, H, N, Dh, grid_w, base, ex->err));
}

static void d_unary(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t n, pc_nn_unary_op op) {
    if (ex->dry) return;
    pc_cuda_unary_op c = op == PC_NN_GELU   ? PC_CUDA_GELU
                         : op == PC_NN_SILU ? PC_CUDA_SILU
                         : op == PC_NN_RELU ? PC_CUDA_RELU
                                            : PC_CUDA_COPY;
    fail(ex, D(ex)->k->unary(D(ex)->actx, y.p, y.dt, x.p, x.dt, n, c, ex->err));
}

static void d_add(pc_nn_exec *ex, pc_nn_t y, pc_nn_t a, pc_nn_t b, int64_t n) {
    if (ex->dry) return;
    fail(ex, D(ex)->k->add(D(ex)->actx, y.p, y.dt, a.p, a.dt, b.p, b.dt, n, ex->err));
}

static void d_copy(pc_nn_exec *ex, pc_nn_t y, const int64_t *ys, pc_nn_t x, const int64_t *xs, const int64_t *dims,
                   int ndim) {
    if (ex->dry) return;
    fail(ex, D(ex)->k->copy(D(ex)->actx, y.p, y.dt, ys, x.p, x.dt, xs, dims, ndim, ex->err));
}

static void unsupported(pc_nn_exec *ex, const char *op, const char *detail) {
    if (ex->dry || ex->st != PC_OK) return;
    fail(ex, pc_err(ex->err, PC_ERR_UNSUPPORTED, "%s on the %s backend: %s", op, D(ex)->k->name, detail));
}

// Conv2d with kernel == stride and no padding (patch embeddings): patchify with a strided copy, one GEMM
// into tokens (B, N, Cout), transposed to NCHW. Other convolutions are not on the device yet.
static void d_conv2d(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                     int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride, int64_t pad) {
    if (k != stride || pad != 0) {
        unsupported(ex, "conv2d", "only kernel == stride, no padding (patch embeddings) so far");
        return;
    }
    dev *d = D(ex);
    int64_t Ho = (H - k) / k + 1, Wo = (Wd - k) / k + 1, N = Ho * Wo, K = Cin * k * k;
    pc_dtype wdt = W->dev.dt;
    size_t mark = d_mark(ex);
    pc_nn_t pt = {d_alloc(ex, (size_t)(B * N * K) * pc_dtype_size(wdt)), wdt};  // (B, Ho, Wo, Cin, k, k)
    pc_nn_t tok = {d_alloc(ex, (size_t)(B * N * Cout) * pc_dtype_size(y.dt)), y.dt};  // (B, N, Cout)
    if (!ex->dry && ex->st == PC_OK) {
        const int64_t dims[6] = {B, Ho, Wo, Cin, k, k};
        const int64_t ps[6] = {N * K, Wo * K, K, k * k, k, 1};
        const int64_t xs[6] = {Cin * H * Wd, k * Wd, k, H * Wd, Wd, 1};
        d_copy(ex, pt, ps, x, xs, dims, 6);
        const void *w = wdev(ex, W, "conv2d");
        const float *bias = (const float *)wdev(ex, b, "conv2d bias");
        if (ex->st == PC_OK)
            fail(ex, d->k->gemm_nt(d->actx, tok.p, tok.dt, Cout, pt.p, K, w, K, wdt, bias, B * N, Cout, K, 1.0f, 0.0f,
                                   PC_CUDA_GEMM_DEFAULT, ex->err));
        const int64_t td[3] = {B, Cout, N}, ys[3] = {Cout * N, N, 1}, ts[3] = {N * Cout, 1, Cout};
        d_copy(ex, y, ys, tok, ts, td, 3);
    }
    d_reset(ex, mark);
}

static void d_convt2d(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, const pc_nn_w *W, const pc_nn_w *b, int64_t B,
                      int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t k, int64_t stride) {
    (void)y, (void)x, (void)W, (void)b, (void)B, (void)Cin, (void)H, (void)Wd, (void)Cout, (void)k, (void)stride;
    unsupported(ex, "conv_transpose2d", "not on the device yet");
}

static void d_resize_bilinear(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                              int64_t OW, int align_corners, double sh, double sw) {
    (void)y, (void)x, (void)NC, (void)H, (void)W, (void)OH, (void)OW, (void)align_corners, (void)sh, (void)sw;
    unsupported(ex, "bilinear resize", "not on the device yet");
}

pc_status pc_nn_backend_device_open(pc_nn_backend **out, const pc_nn_devk *k, int device, pc_pool *pool,
                                    pc_error *err) {
    *out = NULL;
    pc_cuda_props props;
    pc_status st = k->props(&props, device, err);
    if (st != PC_OK) return st;
    dev *d = (dev *)calloc(1, sizeof(*d));
    if (!d) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    d->k = k;
    d->device = device;
    d->pool = pool;
    snprintf(d->label, sizeof(d->label), "%s", props.name);
    pc_nn_backend *be = &d->be;
    be->name = k->name;
    be->act = PC_BF16;
    be->ctx = d->label;
    be->alloc = d_alloc;
    be->mark = d_mark;
    be->reset = d_reset;
    be->reserve = d_reserve;
    be->measure = d_measure;
    be->upload = d_upload;
    be->download = d_download;
    be->place = d_place;
    be->place_commit = d_place_commit;
    be->free = d_free;
    be->memory = d_memory;
    be->linear = d_linear;
    be->layer_norm = d_layer_norm;
    be->group_norm = d_group_norm;
    be->attention = d_attention;
    be->rope2d = d_rope2d;
    be->unary = d_unary;
    be->add = d_add;
    be->copy = d_copy;
    be->conv2d = d_conv2d;
    be->convt2d = d_convt2d;
    be->resize_bilinear = d_resize_bilinear;
    *out = be;
    return PC_OK;
}

// ---- the cuda kernel table: src/cuda's API as it is -----------------------------------------------

static pc_status cu_open(void **ctx, int device, size_t bytes, pc_pool *pool, pc_error *err) {
    (void)pool;
    return pc_cuda_ctx_create((pc_cuda_ctx **)ctx, device, bytes, err);
}
static void cu_close(void *c) { pc_cuda_ctx_free((pc_cuda_ctx *)c); }
static pc_status cu_alloc(void *c, void **p, size_t n, pc_error *e) { return pc_cuda_alloc((pc_cuda_ctx *)c, p, n, e); }
static size_t cu_mark(const void *c) { return pc_cuda_arena_mark((const pc_cuda_ctx *)c); }
static void cu_reset(void *c, size_t m) { pc_cuda_arena_reset((pc_cuda_ctx *)c, m); }
static size_t cu_cap(const void *c) { return pc_cuda_arena_capacity((const pc_cuda_ctx *)c); }
static size_t cu_peak(const void *c) { return pc_cuda_arena_peak((const pc_cuda_ctx *)c); }
static pc_status cu_sync(void *c, pc_error *e) { return pc_cuda_sync((pc_cuda_ctx *)c, e); }
static pc_status cu_upload(void *c, void *dst, pc_dtype ddt, const void *src, pc_dtype sdt, int64_t n, pc_error *e) {
    return pc_cuda_upload_raw((pc_cuda_ctx *)c, dst, ddt, src, sdt, n, e);
}
static pc_status cu_download(void *c, float *dst, const void *src, pc_dtype sdt, int64_t n, pc_error *e) {
    return pc_cuda_download_raw_f32((pc_cuda_ctx *)c, dst, src, sdt, n, e);
}
static pc_status cu_gemm(void *c, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda, const void *B,
                         int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K, float alpha,
                         float beta, int flags, pc_error *e) {
    return pc_cuda_gemm_nt((pc_cuda_ctx *)c, C, cdt, ldc, A, lda, B, ldb, abdt, bias, M, N, K, alpha, beta, flags, e);
}
static pc_status cu_attn(void *c, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k, pc_cuda_attn_view v,
                         int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t Dh, float scale, pc_error *e) {
    return pc_cuda_attention((pc_cuda_ctx *)c, o, q, k, v, B, H, Nq, Nk, Dh, scale, e);
}
static pc_status cu_rope(void *c, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t Dh, int64_t gw,
                         float base, pc_error *e) {
    return pc_cuda_rope2d((pc_cuda_ctx *)c, t, B, H, N, Dh, gw, base, e);
}
static pc_status cu_ln(void *c, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *g, const float *b,
                       int64_t M, int64_t C, float eps, pc_error *e) {
    return pc_cuda_layer_norm((pc_cuda_ctx *)c, y, ydt, x, xdt, g, b, M, C, eps, e);
}
static pc_status cu_gn(void *c, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *g, const float *b,
                       int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu, pc_error *e) {
    return pc_cuda_group_norm((pc_cuda_ctx *)c, y, ydt, x, xdt, g, b, B, C, S, G, eps, silu, e);
}
static pc_status cu_unary(void *c, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n, pc_cuda_unary_op op,
                          pc_error *e) {
    return pc_cuda_unary((pc_cuda_ctx *)c, y, ydt, x, xdt, n, op, e);
}
static pc_status cu_add(void *c, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b, pc_dtype bdt,
                        int64_t n, pc_error *e) {
    return pc_cuda_add((pc_cuda_ctx *)c, y, ydt, a, adt, b, bdt, n, e);
}
static pc_status cu_copy(void *c, void *y, pc_dtype ydt, const int64_t *ys, const void *x, pc_dtype xdt,
                         const int64_t *xs, const int64_t *dims, int ndim, pc_error *e) {
    return pc_cuda_copy_strided((pc_cuda_ctx *)c, y, ydt, ys, x, xdt, xs, dims, ndim, e);
}

const pc_nn_devk pc_nn_devk_cuda = {
    "cuda",   cu_open,   cu_close, pc_cuda_device_info, cu_alloc, cu_mark, cu_reset, cu_cap,   cu_peak,
    cu_sync,  cu_upload, cu_download, cu_gemm, cu_attn,  cu_rope,  cu_ln,    cu_gn,   cu_unary, cu_add,
    cu_copy,
};

pc_status pc_nn_backend_cuda_open(pc_nn_backend **out, int device, pc_error *err) {
    *out = NULL;
    int n = 0;
    pc_status st = pc_cuda_probe(&n, err);
    if (st != PC_OK) return st;
    if (device < 0 || device >= n)
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA device %d does not exist (%d found)", device, n);
    return pc_nn_backend_device_open(out, &pc_nn_devk_cuda, device, NULL, err);
}

pc_status pc_nn_backend_emu_open(pc_nn_backend **out, pc_pool *pool, pc_error *err) {
    return pc_nn_backend_device_open(out, &pc_nn_devk_emu, 0, pool, err);
}
