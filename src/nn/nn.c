// Transformer / convolution layers bound to state_dict keys (see nn.h).
#include "nn/nn.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posecrafter/io.h"

// ---- binding -------------------------------------------------------------------

void pc_nn_binder_free(pc_nn_binder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_owned; i++) pc_tensor_free(&b->owned[i]);
    free(b->owned);
    b->owned = NULL;
    b->n_owned = b->cap_owned = 0;
}

// Keep an owned F32 contiguous copy of t; returns its data.
static pc_status keep_f32_copy(pc_nn_binder *b, const pc_tensor *t, const char *name, const float **out,
                               pc_error *err) {
    if (b->n_owned == b->cap_owned) {
        size_t cap = b->cap_owned ? b->cap_owned * 2 : 16;
        pc_tensor *n = (pc_tensor *)realloc(b->owned, cap * sizeof(*n));
        if (!n) return pc_err(err, PC_ERR_MEMORY, "out of memory while converting tensor '%s'", name);
        b->owned = n;
        b->cap_owned = cap;
    }
    pc_tensor *dst = &b->owned[b->n_owned];
    memset(dst, 0, sizeof(*dst));
    pc_status st = pc_tensor_to(dst, t, PC_F32, err);
    if (st != PC_OK) return pc_err_prefix(err, st, "tensor '%s': ", name);
    b->n_owned++;
    *out = (const float *)dst->data;
    return PC_OK;
}

pc_status pc_nn_bind_weight(pc_nn_binder *b, pc_wt *w, const char *name, int ndim, const int64_t *shape,
                            pc_error *err) {
    const pc_tensor *t;
    pc_status st = b->get(b->ctx, name, ndim, shape, &t, err);
    if (st != PC_OK) return st;
    if (pc_tensor_is_contiguous(t) && (t->dtype == PC_F32 || t->dtype == PC_F16 || t->dtype == PC_BF16)) {
        w->data = t->data;
        w->dtype = t->dtype;
        return PC_OK;
    }
    if (t->dtype != PC_F32 && t->dtype != PC_F16 && t->dtype != PC_BF16 && t->dtype != PC_F64)
        return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has dtype %s, expected a floating-point type", name,
                      pc_dtype_name(t->dtype));
    const float *p;
    st = keep_f32_copy(b, t, name, &p, err);
    if (st != PC_OK) return st;
    w->data = p;
    w->dtype = PC_F32;
    return PC_OK;
}

pc_status pc_nn_bind_vector(pc_nn_binder *b, const float **v, const char *name, int64_t n, pc_error *err) {
    const pc_tensor *t;
    int64_t shape[1] = {n};
    pc_status st = b->get(b->ctx, name, 1, shape, &t, err);
    if (st != PC_OK) return st;
    if (t->dtype == PC_F32 && pc_tensor_is_contiguous(t)) {
        *v = (const float *)t->data;
        return PC_OK;
    }
    if (t->dtype != PC_F16 && t->dtype != PC_BF16 && t->dtype != PC_F64 && t->dtype != PC_F32)
        return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has dtype %s, expected a floating-point type", name,
                      pc_dtype_name(t->dtype));
    return keep_f32_copy(b, t, name, v, err);
}

pc_status pc_nn_bind_f32(pc_nn_binder *b, const float **v, const char *name, int ndim, const int64_t *shape,
                         pc_error *err) {
    const pc_tensor *t;
    pc_status st = b->get(b->ctx, name, ndim, shape, &t, err);
    if (st != PC_OK) return st;
    if (t->dtype == PC_F32 && pc_tensor_is_contiguous(t)) {
        *v = (const float *)t->data;
        return PC_OK;
    }
    if (t->dtype != PC_F16 && t->dtype != PC_BF16 && t->dtype != PC_F64 && t->dtype != PC_F32)
        return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has dtype %s, expected a floating-point type", name,
                      pc_dtype_name(t->dtype));
    return keep_f32_copy(b, t, name, v, err);
}

pc_status pc_nn_shape(pc_nn_binder *b, const char *name, int *ndim, int64_t *shape, pc_error *err) {
    const pc_tensor *t = b->find(b->ctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s' is missing", name);
    *ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
    return PC_OK;
}

#define KEY(buf, prefix, suffix) snprintf(buf, sizeof(buf), "%s.%s", prefix, suffix)

// ---- execution -------------------------------------------------------------------

float *pc_nn_alloc(pc_nn_exec *ex, size_t n) {
    float *p = pc_arena_f32(ex->arena, n ? n : 1);
    if (!p && !ex->dry && ex->st == PC_OK) {
        ex->st = pc_err(ex->err, PC_ERR_MEMORY, "activation arena exhausted (%zu of %zu bytes used, %zu floats asked)",
                        ex->arena->used, ex->arena->size, n);
    }
    return p;
}

void pc_nn_fail(pc_nn_exec *ex, pc_status st) {
    if (ex->st == PC_OK) ex->st = st;
}

// ---- backend tensors ------------------------------------------------------------------

pc_nn_t pc_nn_new(pc_nn_exec *ex, pc_dtype dt, int64_t n) {
    pc_nn_t t = {NULL, dt};
    if (ex->st != PC_OK) return t;
    size_t bytes = (size_t)(n > 0 ? n : 1) * pc_dtype_size(dt);
    t.p = pc_nn_be(ex)->alloc(ex, bytes);
    if (!t.p && !ex->dry && ex->st == PC_OK) {
        if (ex->be)
            pc_nn_fail(ex, pc_err(ex->err, PC_ERR_MEMORY, "%s backend: activation arena exhausted (%zu bytes asked)",
                                  pc_nn_be(ex)->name, bytes));
        else
            pc_nn_fail(ex, pc_err(ex->err, PC_ERR_MEMORY,
                                  "activation arena exhausted (%zu of %zu bytes used, %zu bytes asked)",
                                  ex->arena->used, ex->arena->size, bytes));
    }
    return t;
}

pc_nn_mark pc_nn_mark_get(pc_nn_exec *ex) {
    pc_nn_mark m = {pc_arena_mark(ex->arena), ex->be ? ex->be->mark(ex) : 0};
    return m;
}

void pc_nn_mark_reset(pc_nn_exec *ex, pc_nn_mark m) {
    if (ex->be) ex->be->reset(ex, m.dev);
    pc_arena_reset(ex->arena, m.host);
}

const float *pc_nn_read(pc_nn_exec *ex, pc_nn_t t, int64_t n) {
    if (!pc_nn_be(ex)->place && t.dt == PC_F32) return pc_nn_ok(ex) ? (const float *)t.p : NULL;
    float *h = pc_nn_alloc(ex, (size_t)n);  // host copy in the host arena
    pc_nn_read_into(ex, h, t, n);
    return pc_nn_ok(ex) ? h : NULL;
}

void pc_nn_read_into(pc_nn_exec *ex, float *dst, pc_nn_t t, int64_t n) {
    if (!pc_nn_ok(ex)) return;
    pc_nn_be(ex)->download(ex, dst, t, n);
}

pc_nn_t pc_nn_output(pc_nn_exec *ex, float *host, int64_t n) {
    if (!ex->be) {
        pc_nn_t t = {host, PC_F32};
        return t;
    }
    return pc_nn_new_f32(ex, n);
}

pc_nn_t pc_nn_write(pc_nn_exec *ex, const float *src, int64_t n) {
    if (!ex->be) {  // cpu: the host memory is the tensor
        pc_nn_t t = {(void *)(uintptr_t)src, PC_F32};
        return t;
    }
    pc_nn_t t = pc_nn_new_f32(ex, n);
    if (pc_nn_ok(ex)) ex->be->upload(ex, t, src, n);
    return t;
}

void pc_nn_trace(pc_nn_exec *ex, pc_nn_t t, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (!ex->trace || !pc_nn_ok(ex)) return;
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (!pc_nn_backend_is_device(pc_nn_be(ex)) && t.dt == PC_F32) {
        ex->trace(ex->trace_ctx, name, (const float *)t.p, ndim, shape);
        return;
    }
    // a device tensor: staged through the heap, since the dry run that sized the host arena traced nothing
    float *h = (float *)malloc((size_t)n * sizeof(float));
    if (!h) {
        pc_nn_fail(ex, pc_err(ex->err, PC_ERR_MEMORY, "trace '%s': out of memory", name));
        return;
    }
    pc_nn_read_into(ex, h, t, n);
    if (pc_nn_ok(ex)) ex->trace(ex->trace_ctx, name, h, ndim, shape);
    free(h);
}

void pc_nn_measure_begin(pc_nn_exec *dry, pc_arena *meas) {
    pc_arena_init_measure(meas);
    dry->arena = meas;
    dry->dry = 1;
    if (dry->be) dry->be->measure(dry->be);
}

pc_status pc_nn_reserve(pc_nn_exec *ex, pc_error *err) { return ex->be ? ex->be->reserve(ex->be, err) : PC_OK; }

// ---- ops ------------------------------------------------------------------------------

void pc_nn_unary(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t n, pc_nn_unary_op op) {
    if (ex->st == PC_OK) pc_nn_be(ex)->unary(ex, y, x, n, op);
}

void pc_nn_add(pc_nn_exec *ex, pc_nn_t y, pc_nn_t a, pc_nn_t b, int64_t n) {
    if (ex->st == PC_OK) pc_nn_be(ex)->add(ex, y, a, b, n);
}

void pc_nn_copy(pc_nn_exec *ex, pc_nn_t y, const int64_t *ystride, pc_nn_t x, const int64_t *xstride,
                const int64_t *dims, int ndim) {
    if (ex->st != PC_OK) return;
    if (ndim < 1 || ndim > PC_NN_MAXDIM) {
        pc_nn_fail(ex, pc_err(ex->err, PC_ERR_ARG, "pc_nn_copy: %d dims (at most %d)", ndim, PC_NN_MAXDIM));
        return;
    }
    pc_nn_be(ex)->copy(ex, y, ystride, x, xstride, dims, ndim);
}

void pc_nn_transpose(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t B, int64_t R, int64_t C) {
    const int64_t dims[3] = {B, C, R}, ys[3] = {C * R, R, 1}, xs[3] = {R * C, 1, C};
    pc_nn_copy(ex, y, ys, x, xs, dims, 3);
}

void pc_nn_resize_bilinear(pc_nn_exec *ex, pc_nn_t y, pc_nn_t x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                           int64_t OW, int align_corners, double sh, double sw) {
    if (ex->st == PC_OK) pc_nn_be(ex)->resize_bilinear(ex, y, x, NC, H, W, OH, OW, align_corners, sh, sw);
}

// ---- running a forward ----------------------------------------------------------------------

pc_status pc_nn_run(pc_nn_backend *be, pc_pool *pool, pc_arena *arena, pc_nn_trace_fn trace, void *trace_ctx,
                    pc_nn_forward_fn fn, void *args, pc_error *err) {
    pc_arena meas;
    pc_nn_exec dry = {.pool = pool, .st = PC_OK, .err = err, .be = be};
    pc_nn_measure_begin(&dry, &meas);
    fn(&dry, args);
    if (dry.st != PC_OK) return dry.st;
    size_t need = meas.peak + 4096;
    if (!arena->base || arena->size < need) {
        pc_arena_free(arena);
        pc_status st = pc_arena_init(arena, need, err);
        if (st != PC_OK) return st;
    }
    pc_status st = pc_nn_reserve(&dry, err);
    if (st != PC_OK) return st;
    pc_arena_reset(arena, 0);
    pc_nn_exec ex = {.pool = pool, .arena = arena, .st = PC_OK, .err = err, .be = be, .trace = trace,
                     .trace_ctx = trace_ctx};
    fn(&ex, args);
    pc_arena_reset(arena, 0);
    return ex.st;
}

void pc_nn_sdpa(pc_nn_exec *ex, pc_nn_view o, pc_nn_view q, pc_nn_view k, pc_nn_view v, int64_t B, int64_t H,
                int64_t Nq, int64_t Nk, int64_t D, float scale, int causal) {
    if (ex->st != PC_OK) return;
    const pc_nn_backend *be = pc_nn_be(ex);
    if (!causal) {
        be->attention(ex, o, q, k, v, B, H, Nq, Nk, D, scale);
        return;
    }
    for (int64_t i = 0; i < Nq && ex->st == PC_OK; i++) {  // keys > i weigh exactly 0 under the -inf mask
        pc_nn_view qi = q, oi = o;
        qi.t = pc_nn_at(q.t, i * q.sn);
        oi.t = pc_nn_at(o.t, i * o.sn);
        be->attention(ex, oi, qi, k, v, B, H, 1, PC_MIN(i + 1, Nk), D, scale);
    }
}

static pc_status place(pc_nn_backend *be, pc_nn_t *dev, const void *host, pc_dtype hdt, int64_t n, pc_dtype dt,
                       int measuring, pc_error *err);

// ---- parameters used as activations ---------------------------------------------------------

pc_status pc_nn_param_place(pc_nn_backend *be, pc_nn_param *p, int measuring, pc_error *err) {
    return place(be, &p->dev, p->host, PC_F32, p->n, PC_F32, measuring, err);
}

pc_nn_t pc_nn_param_t(const pc_nn_exec *ex, const pc_nn_param *p) {
    if (pc_nn_backend_is_device(pc_nn_be(ex))) return p->dev;
    pc_nn_t t = {(void *)(uintptr_t)p->host, PC_F32};
    return t;
}

// ---- weight placement ------------------------------------------------------------------

pc_status pc_nn_place_weights(pc_nn_backend *be, pc_nn_place_fn fn, void *model, pc_error *err) {
    if (!pc_nn_backend_is_device(be)) return PC_OK;
    pc_status st = fn(be, model, 1, err);
    if (st == PC_OK) st = be->place_commit(be, err);
    if (st == PC_OK) st = fn(be, model, 0, err);
    if (st != PC_OK) return pc_err_prefix(err, st, "weights to the %s device: ", be->name);
    return PC_OK;
}

// Place n host values as dt into *dev (dev untouched on a measuring pass).
static pc_status place(pc_nn_backend *be, pc_nn_t *dev, const void *host, pc_dtype hdt, int64_t n, pc_dtype dt,
                       int measuring, pc_error *err) {
    if (!host) return PC_OK;
    pc_nn_w w = {host, hdt, {NULL, dt}};
    pc_status st = be->place(be, &w, n, dt, measuring, err);
    if (st == PC_OK && !measuring) *dev = w.dev;
    return st;
}

// ---- linear / layer norm -------------------------------------------------------------

pc_status pc_nn_linear_bind(pc_nn_binder *b, pc_nn_linear *l, const char *prefix, int64_t in, int64_t out, int bias,
                            pc_error *err) {
    char key[256];
    KEY(key, prefix, "weight");
    int64_t shape[2] = {out > 0 ? out : -1, in > 0 ? in : -1};
    pc_status st = pc_nn_bind_weight(b, &l->w, key, 2, shape, err);
    if (st != PC_OK) return st;
    const pc_tensor *t = b->find(b->ctx, key);
    l->out = t->shape[0];
    l->in = t->shape[1];
    l->b = NULL;
    KEY(key, prefix, "bias");
    if (bias == 1 || (bias == -1 && pc_nn_has(b, key))) {
        st = pc_nn_bind_vector(b, &l->b, key, l->out, err);
        if (st != PC_OK) return st;
    }
    return PC_OK;
}

static pc_nn_w wref(const void *host, pc_dtype hdt, pc_nn_t dev) {
    pc_nn_w w = {host, hdt, dev};
    return w;
}

// The backend's weight dtype for matrices: bf16 on a device unless the layer is kept exact.
static pc_dtype mat_dt(int exact) { return exact ? PC_F32 : PC_BF16; }

void pc_nn_linear_forward(pc_nn_exec *ex, const pc_nn_linear *l, pc_nn_t y, int64_t ldy, pc_nn_t x, int64_t ldx,
                          int64_t M, int accumulate) {
    if (ex->st != PC_OK) return;
    pc_nn_w w = wref(l->w.data, l->w.dtype, l->dw), b = wref(l->b, PC_F32, l->db);
    pc_nn_be(ex)->linear(ex, y, ldy, x, ldx, &w, l->b ? &b : NULL, M, l->out, l->in, accumulate);
}

pc_status pc_nn_linear_place(pc_nn_backend *be, pc_nn_linear *l, int measuring, pc_error *err) {
    pc_status st = place(be, &l->dw, l->w.data, l->w.dtype, l->in * l->out, mat_dt(l->exact), measuring, err);
    if (st == PC_OK) st = place(be, &l->db, l->b, PC_F32, l->out, PC_F32, measuring, err);
    return st;
}

pc_status pc_nn_layernorm_bind(pc_nn_binder *b, pc_nn_layernorm *l, const char *prefix, int64_t dim, float eps,
                               pc_error *err) {
    char key[256];
    l->dim = dim;
    l->eps = eps;
    KEY(key, prefix, "weight");
    pc_status st = pc_nn_bind_vector(b, &l->w, key, dim, err);
    if (st != PC_OK) return st;
    KEY(key, prefix, "bias");
    return pc_nn_bind_vector(b, &l->b, key, dim, err);
}

void pc_nn_layernorm_forward(pc_nn_exec *ex, const pc_nn_layernorm *l, pc_nn_t y, pc_nn_t x, int64_t M) {
    if (ex->st != PC_OK) return;
    pc_nn_w g = wref(l->w, PC_F32, l->dw), b = wref(l->b, PC_F32, l->db);
    pc_nn_be(ex)->layer_norm(ex, y, x, &g, &b, M, l->dim, l->eps);
}

pc_status pc_nn_layernorm_place(pc_nn_backend *be, pc_nn_layernorm *l, int measuring, pc_error *err) {
    pc_status st = place(be, &l->dw, l->w, PC_F32, l->dim, PC_F32, measuring, err);
    if (st == PC_OK) st = place(be, &l->db, l->b, PC_F32, l->dim, PC_F32, measuring, err);
    return st;
}

// ---- MLP -------------------------------------------------------------------------------

pc_status pc_nn_mlp_bind(pc_nn_binder *b, pc_nn_mlp *m, const char *prefix, int64_t dim, pc_error *err) {
    char key[256];
    KEY(key, prefix, "fc1");
    pc_status st = pc_nn_linear_bind(b, &m->fc1, key, dim, -1, -1, err);
    if (st != PC_OK) return st;
    KEY(key, prefix, "fc2");
    return pc_nn_linear_bind(b, &m->fc2, key, m->fc1.out, dim, -1, err);
}

// timm Mlp: y (+)= fc2(gelu(fc1(x))); the hidden layer in the backend's activation dtype.
void pc_nn_mlp_forward(pc_nn_exec *ex, const pc_nn_mlp *m, pc_nn_t y, pc_nn_t x, int64_t M, int accumulate) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t h = pc_nn_new_act(ex, M * m->fc1.out);  // (M, hidden)
    pc_nn_linear_forward(ex, &m->fc1, h, m->fc1.out, x, m->fc1.in, M, 0);
    pc_nn_unary(ex, h, h, M * m->fc1.out, PC_NN_GELU);
    pc_nn_linear_forward(ex, &m->fc2, y, m->fc2.out, h, m->fc2.in, M, accumulate);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_nn_mlp_place(pc_nn_backend *be, pc_nn_mlp *m, int measuring, pc_error *err) {
    pc_status st = pc_nn_linear_place(be, &m->fc1, measuring, err);
    if (st == PC_OK) st = pc_nn_linear_place(be, &m->fc2, measuring, err);
    return st;
}

// ---- attention -----------------------------------------------------------------------------

pc_status pc_nn_attention_bind(pc_nn_binder *b, pc_nn_attention *a, const char *prefix, int64_t dim, int64_t heads,
                               int cross, pc_error *err) {
    char key[256];
    pc_status st;
    memset(a, 0, sizeof(*a));
    if (heads <= 0 || dim % heads != 0)
        return pc_err(err, PC_ERR_SHAPE, "%s: embedding dim %lld is not divisible by %lld heads", prefix,
                      (long long)dim, (long long)heads);
    a->dim = dim;
    a->heads = heads;
    a->head_dim = dim / heads;
    a->scale = (float)pow((double)a->head_dim, -0.5);
    a->cross = cross;
    if (cross) {
        KEY(key, prefix, "projq");
        if ((st = pc_nn_linear_bind(b, &a->q, key, dim, dim, -1, err)) != PC_OK) return st;
        KEY(key, prefix, "projk");
        if ((st = pc_nn_linear_bind(b, &a->k, key, dim, dim, -1, err)) != PC_OK) return st;
        KEY(key, prefix, "projv");
        if ((st = pc_nn_linear_bind(b, &a->v, key, dim, dim, -1, err)) != PC_OK) return st;
    } else {
        KEY(key, prefix, "qkv");
        if ((st = pc_nn_linear_bind(b, &a->qkv, key, dim, 3 * dim, -1, err)) != PC_OK) return st;
    }
    KEY(key, prefix, "proj");
    return pc_nn_linear_bind(b, &a->proj, key, dim, dim, -1, err);
}

// o (B, Nq, dim) = softmax(q k^T scale) v per head, RoPE on q and k first; q/k/v token-major with row
// strides (ldq, ldk, ldv) and their heads at column 0 of each.
static void attend(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, pc_nn_t o, pc_nn_t q, int64_t ldq,
                   int64_t qw, pc_nn_t k, int64_t ldk, int64_t kw, pc_nn_t v, int64_t ldv, int64_t B, int64_t Nq,
                   int64_t Nk) {
    if (ex->st != PC_OK) return;
    const pc_nn_backend *be = pc_nn_be(ex);
    int64_t D = a->head_dim, H = a->heads;
    pc_nn_view vq = pc_nn_heads(q, Nq, ldq, 0, D), vk = pc_nn_heads(k, Nk, ldk, 0, D);
    if (rope_base > 0) {
        be->rope2d(ex, vq, B, H, Nq, D, qw, rope_base);
        be->rope2d(ex, vk, B, H, Nk, D, kw, rope_base);
    }
    if (ex->st == PC_OK)
        be->attention(ex, pc_nn_heads(o, Nq, a->dim, 0, D), vq, vk, pc_nn_heads(v, Nk, ldv, 0, D), B, H, Nq, Nk, D,
                      a->scale);
}

void pc_nn_self_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, pc_nn_t y, pc_nn_t x,
                                  int64_t grid_w, int64_t B, int64_t N, int accumulate) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t C = a->dim;
    pc_nn_t qkv = pc_nn_new_act(ex, B * N * 3 * C);  // (B, N, 3, H, D)
    pc_nn_t o = pc_nn_new_act(ex, B * N * C);        // (B, N, H, D)
    pc_nn_linear_forward(ex, &a->qkv, qkv, 3 * C, x, C, B * N, 0);
    attend(ex, a, rope_base, o, qkv, 3 * C, grid_w, pc_nn_at(qkv, C), 3 * C, grid_w, pc_nn_at(qkv, 2 * C), 3 * C, B,
           N, N);
    pc_nn_linear_forward(ex, &a->proj, y, C, o, C, B * N, accumulate);
    pc_nn_mark_reset(ex, mark);
}

void pc_nn_cross_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, pc_nn_t y,
                                   pc_nn_t xq, int64_t qw, int64_t Nq, pc_nn_t xkv, int64_t kw, int64_t Nk, int64_t B,
                                   int accumulate) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t C = a->dim;
    pc_nn_t q = pc_nn_new_act(ex, B * Nq * C);  // (B, Nq, H, D)
    pc_nn_t k = pc_nn_new_act(ex, B * Nk * C);  // (B, Nk, H, D)
    pc_nn_t v = pc_nn_new_act(ex, B * Nk * C);  // (B, Nk, H, D)
    pc_nn_t o = pc_nn_new_act(ex, B * Nq * C);  // (B, Nq, H, D)
    pc_nn_linear_forward(ex, &a->q, q, C, xq, C, B * Nq, 0);
    pc_nn_linear_forward(ex, &a->k, k, C, xkv, C, B * Nk, 0);
    pc_nn_linear_forward(ex, &a->v, v, C, xkv, C, B * Nk, 0);
    attend(ex, a, rope_base, o, q, C, qw, k, C, kw, v, C, B, Nq, Nk);
    pc_nn_linear_forward(ex, &a->proj, y, C, o, C, B * Nq, accumulate);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_nn_attention_place(pc_nn_backend *be, pc_nn_attention *a, int measuring, pc_error *err) {
    pc_status st;
    if (a->cross) {
        if ((st = pc_nn_linear_place(be, &a->q, measuring, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_place(be, &a->k, measuring, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_place(be, &a->v, measuring, err)) != PC_OK) return st;
    } else {
        if ((st = pc_nn_linear_place(be, &a->qkv, measuring, err)) != PC_OK) return st;
    }
    return pc_nn_linear_place(be, &a->proj, measuring, err);
}

// ---- blocks -----------------------------------------------------------------------------------

pc_status pc_nn_vit_block_bind(pc_nn_binder *b, pc_nn_vit_block *blk, const char *prefix, int64_t dim, int64_t heads,
                               float eps, pc_error *err) {
    char key[256];
    pc_status st;
    KEY(key, prefix, "norm1");
    if ((st = pc_nn_layernorm_bind(b, &blk->norm1, key, dim, eps, err)) != PC_OK) return st;
    KEY(key, prefix, "attn");
    if ((st = pc_nn_attention_bind(b, &blk->attn, key, dim, heads, 0, err)) != PC_OK) return st;
    KEY(key, prefix, "norm2");
    if ((st = pc_nn_layernorm_bind(b, &blk->norm2, key, dim, eps, err)) != PC_OK) return st;
    KEY(key, prefix, "mlp");
    return pc_nn_mlp_bind(b, &blk->mlp, key, dim, err);
}

void pc_nn_vit_block_forward(pc_nn_exec *ex, const pc_nn_vit_block *blk, float rope_base, pc_nn_t x, int64_t grid_w,
                             int64_t B, int64_t N) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t M = B * N;
    pc_nn_t t = pc_nn_new_act(ex, M * blk->norm1.dim);  // (B, N, C)
    pc_nn_layernorm_forward(ex, &blk->norm1, t, x, M);
    pc_nn_self_attention_forward(ex, &blk->attn, rope_base, x, t, grid_w, B, N, 1);
    pc_nn_layernorm_forward(ex, &blk->norm2, t, x, M);
    pc_nn_mlp_forward(ex, &blk->mlp, x, t, M, 1);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_nn_vit_block_place(pc_nn_backend *be, pc_nn_vit_block *blk, int measuring, pc_error *err) {
    pc_status st = pc_nn_layernorm_place(be, &blk->norm1, measuring, err);
    if (st == PC_OK) st = pc_nn_attention_place(be, &blk->attn, measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &blk->norm2, measuring, err);
    if (st == PC_OK) st = pc_nn_mlp_place(be, &blk->mlp, measuring, err);
    return st;
}

pc_status pc_nn_decoder_block_bind(pc_nn_binder *b, pc_nn_decoder_block *blk, const char *prefix, int64_t dim,
                                   int64_t heads, float eps, pc_error *err) {
    char key[256];
    pc_status st;
    KEY(key, prefix, "norm1");
    if ((st = pc_nn_layernorm_bind(b, &blk->norm1, key, dim, eps, err)) != PC_OK) return st;
    KEY(key, prefix, "attn");
    if ((st = pc_nn_attention_bind(b, &blk->attn, key, dim, heads, 0, err)) != PC_OK) return st;
    KEY(key, prefix, "cross_attn");
    if ((st = pc_nn_attention_bind(b, &blk->cross_attn, key, dim, heads, 1, err)) != PC_OK) return st;
    KEY(key, prefix, "norm2");
    if ((st = pc_nn_layernorm_bind(b, &blk->norm2, key, dim, eps, err)) != PC_OK) return st;
    KEY(key, prefix, "norm3");
    if ((st = pc_nn_layernorm_bind(b, &blk->norm3, key, dim, eps, err)) != PC_OK) return st;
    KEY(key, prefix, "norm_y.weight");
    blk->has_norm_y = pc_nn_has(b, key);
    if (blk->has_norm_y) {
        KEY(key, prefix, "norm_y");
        if ((st = pc_nn_layernorm_bind(b, &blk->norm_y, key, dim, eps, err)) != PC_OK) return st;
    }
    KEY(key, prefix, "mlp");
    return pc_nn_mlp_bind(b, &blk->mlp, key, dim, err);
}

void pc_nn_decoder_block_forward(pc_nn_exec *ex, const pc_nn_decoder_block *blk, float rope_base, pc_nn_t xout,
                                 pc_nn_t x, int64_t xw, int64_t Nx, pc_nn_t y, int64_t yw, int64_t Ny, int64_t B) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t C = blk->norm1.dim, Mx = B * Nx, My = B * Ny;
    pc_nn_t t = pc_nn_new_act(ex, Mx * C);  // (B, Nx, C)
    // (B, Ny, C): norm_y(y), or y itself on a backend whose activations are f32 like y
    int own_y = blk->has_norm_y || pc_nn_be(ex)->act != y.dt;
    pc_nn_t yn = own_y ? pc_nn_new_act(ex, My * C) : y;
    pc_nn_unary(ex, xout, x, Mx * C, PC_NN_COPY);
    pc_nn_layernorm_forward(ex, &blk->norm1, t, xout, Mx);
    pc_nn_self_attention_forward(ex, &blk->attn, rope_base, xout, t, xw, B, Nx, 1);
    if (blk->has_norm_y)
        pc_nn_layernorm_forward(ex, &blk->norm_y, yn, y, My);
    else if (own_y)
        pc_nn_unary(ex, yn, y, My * C, PC_NN_COPY);
    pc_nn_layernorm_forward(ex, &blk->norm2, t, xout, Mx);
    pc_nn_cross_attention_forward(ex, &blk->cross_attn, rope_base, xout, t, xw, Nx, yn, yw, Ny, B, 1);
    pc_nn_layernorm_forward(ex, &blk->norm3, t, xout, Mx);
    pc_nn_mlp_forward(ex, &blk->mlp, xout, t, Mx, 1);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_nn_decoder_block_place(pc_nn_backend *be, pc_nn_decoder_block *blk, int measuring, pc_error *err) {
    pc_status st = pc_nn_layernorm_place(be, &blk->norm1, measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &blk->norm2, measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &blk->norm3, measuring, err);
    if (st == PC_OK && blk->has_norm_y) st = pc_nn_layernorm_place(be, &blk->norm_y, measuring, err);
    if (st == PC_OK) st = pc_nn_attention_place(be, &blk->attn, measuring, err);
    if (st == PC_OK) st = pc_nn_attention_place(be, &blk->cross_attn, measuring, err);
    if (st == PC_OK) st = pc_nn_mlp_place(be, &blk->mlp, measuring, err);
    return st;
}

// ---- convolutions ---------------------------------------------------------------------------

pc_status pc_nn_conv2d_bind(pc_nn_binder *b, pc_nn_conv2d *c, const char *prefix, int64_t cin, int64_t cout, int64_t k,
                            int64_t stride, int64_t pad, int bias, pc_error *err) {
    char key[256];
    KEY(key, prefix, "weight");
    int64_t shape[4] = {cout > 0 ? cout : -1, cin > 0 ? cin : -1, k, k};
    pc_status st = pc_nn_bind_weight(b, &c->w, key, 4, shape, err);
    if (st != PC_OK) return st;
    const pc_tensor *t = b->find(b->ctx, key);
    c->cout = t->shape[0];
    c->cin = t->shape[1];
    c->k = k;
    c->stride = stride;
    c->pad = pad;
    c->b = NULL;
    KEY(key, prefix, "bias");
    if (bias == 1 || (bias == -1 && pc_nn_has(b, key))) return pc_nn_bind_vector(b, &c->b, key, c->cout, err);
    return PC_OK;
}

void pc_nn_conv2d_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                          int64_t W) {
    if (ex->st != PC_OK) return;
    pc_nn_w w = wref(c->w.data, c->w.dtype, c->dw), b = wref(c->b, PC_F32, c->db);
    pc_nn_be(ex)->conv2d(ex, y, x, &w, c->b ? &b : NULL, B, c->cin, H, W, c->cout, c->k, c->stride, c->pad);
}

pc_status pc_nn_conv2d_place(pc_nn_backend *be, pc_nn_conv2d *c, int measuring, pc_error *err) {
    pc_status st = place(be, &c->dw, c->w.data, c->w.dtype, c->cout * c->cin * c->k * c->k, mat_dt(c->exact),
                         measuring, err);
    if (st == PC_OK) st = place(be, &c->db, c->b, PC_F32, c->cout, PC_F32, measuring, err);
    return st;
}

void pc_nn_patch_embed_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                               int64_t W) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t N = pc_nn_conv2d_out(c, H) * pc_nn_conv2d_out(c, W);
    pc_nn_t t = pc_nn_new(ex, y.dt, B * c->cout * N);  // (B, Cout, Ho, Wo)
    pc_nn_conv2d_forward(ex, c, t, x, B, H, W);
    pc_nn_transpose(ex, y, t, B, c->cout, N);  // -> (B, N, Cout)
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_nn_convt2d_bind(pc_nn_binder *b, pc_nn_convt2d *c, const char *prefix, int64_t cin, int64_t cout,
                             int64_t k, int64_t stride, int bias, pc_error *err) {
    char key[256];
    KEY(key, prefix, "weight");
    int64_t shape[4] = {cin > 0 ? cin : -1, cout > 0 ? cout : -1, k, k};
    pc_status st = pc_nn_bind_weight(b, &c->w, key, 4, shape, err);
    if (st != PC_OK) return st;
    const pc_tensor *t = b->find(b->ctx, key);
    c->cin = t->shape[0];
    c->cout = t->shape[1];
    c->k = k;
    c->stride = stride;
    c->b = NULL;
    KEY(key, prefix, "bias");
    if (bias == 1 || (bias == -1 && pc_nn_has(b, key))) return pc_nn_bind_vector(b, &c->b, key, c->cout, err);
    return PC_OK;
}

void pc_nn_convt2d_forward(pc_nn_exec *ex, const pc_nn_convt2d *c, pc_nn_t y, pc_nn_t x, int64_t B, int64_t H,
                           int64_t W) {
    if (ex->st != PC_OK) return;
    pc_nn_w w = wref(c->w.data, c->w.dtype, c->dw), b = wref(c->b, PC_F32, c->db);
    pc_nn_be(ex)->convt2d(ex, y, x, &w, c->b ? &b : NULL, B, c->cin, H, W, c->cout, c->k, c->stride);
}

pc_status pc_nn_convt2d_place(pc_nn_backend *be, pc_nn_convt2d *c, int measuring, pc_error *err) {
    pc_status st = place(be, &c->dw, c->w.data, c->w.dtype, c->cin * c->cout * c->k * c->k, PC_BF16, measuring, err);
    if (st == PC_OK) st = place(be, &c->db, c->b, PC_F32, c->cout, PC_F32, measuring, err);
    return st;
}

// ---- binder sources ------------------------------------------------------------

pc_status pc_nn_ck_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                       pc_error *err) {
    return pc_checkpoint_get((const pc_checkpoint *)ctx, name, ndim, shape, out, err);
}

const pc_tensor *pc_nn_ck_find(void *ctx, const char *name) {
    return pc_checkpoint_find((const pc_checkpoint *)ctx, name);
}

pc_tensor *pc_nn_store_add(pc_nn_store *s, const char *name, pc_dtype dt, int ndim, const int64_t *shape,
                           pc_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        pc_tensor *t = (pc_tensor *)realloc(s->t, cap * sizeof(*t));
        if (t) s->t = t;
        char **nm = (char **)realloc(s->names, cap * sizeof(*nm));
        if (nm) s->names = nm;
        if (!t || !nm) {
            pc_err(err, PC_ERR_MEMORY, "in-memory weights: out of memory");
            return NULL;
        }
        s->cap = cap;
    }
    pc_tensor *t = &s->t[s->n];
    if (pc_tensor_alloc(t, dt, ndim, shape, err) != PC_OK) return NULL;
    s->names[s->n] = strdup(name);
    if (!s->names[s->n]) {
        pc_tensor_free(t);
        pc_err(err, PC_ERR_MEMORY, "in-memory weights: out of memory");
        return NULL;
    }
    s->n++;
    return t;
}

const pc_tensor *pc_nn_store_find(void *ctx, const char *name) {
    const pc_nn_store *s = (const pc_nn_store *)ctx;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) return &s->t[i];
    return NULL;
}

pc_status pc_nn_store_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err) {
    const pc_tensor *t = pc_nn_store_find(ctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "in-memory weights: tensor '%s' not found", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) return pc_err(err, PC_ERR_SHAPE, "in-memory weights: tensor '%s' has an unexpected shape", name);
    *out = t;
    return PC_OK;
}

void pc_nn_store_free(pc_nn_store *s) {
    for (size_t i = 0; i < s->n; i++) {
        pc_tensor_free(&s->t[i]);
        free(s->names[i]);
    }
    free(s->t);
    free(s->names);
    memset(s, 0, sizeof(*s));
}

// ---- choosing a model's backend ---------------------------------------------------------------

pc_status pc_nn_set_device(pc_nn_backend **slot, const char *name, pc_pool *pool, pc_nn_place_fn fn, void *model,
                           pc_error *err) {
    if (!slot || !name) return pc_err(err, PC_ERR_ARG, "set_device: NULL argument");
    int cuda = !strcmp(name, "cuda"), autod = !strcmp(name, "auto"), emu = !strcmp(name, "emu");
    if (!cuda && !autod && !emu && strcmp(name, "cpu") != 0)
        return pc_err(err, PC_ERR_ARG, "unknown device '%s' (cpu, cuda, auto or emu)", name);
    const char *want = emu ? "emu" : "cuda";
    if (*slot && strcmp(name, "cpu") != 0 && !strcmp((*slot)->name, want)) return PC_OK;
    pc_nn_backend_close(*slot);
    *slot = NULL;
    if (!cuda && !autod && !emu) return PC_OK;
    pc_nn_backend *be = NULL;
    pc_status st = emu ? pc_nn_backend_emu_open(&be, pool, err) : pc_nn_backend_cuda_open(&be, 0, err);
    if (st == PC_OK) st = pc_nn_place_weights(be, fn, model, err);
    if (st != PC_OK) {
        pc_nn_backend_close(be);
        if (autod) return PC_OK;  // auto: stay on the cpu, the reason stays in err
        return pc_err_prefix(err, st, "device %s: ", want);
    }
    *slot = be;
    return PC_OK;
}
