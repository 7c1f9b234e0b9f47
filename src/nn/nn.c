// Transformer / convolution layers bound to state_dict keys (see nn.h).
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
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

// pc_gemm operand for a stored (out, in) weight used transposed.
static pc_mat weight_t(const pc_nn_linear *l) {
    pc_mat m = {l->w.data, l->w.dtype, l->in, 1};
    return m;
}

void pc_nn_linear_forward(pc_nn_exec *ex, const pc_nn_linear *l, float *y, int64_t ldy, const float *x, int64_t ldx,
                          int64_t M) {
    if (!pc_nn_ok(ex)) return;
    pc_linear_strided(ex->pool, y, ldy, x, ldx, l->w, l->b, M, l->out, l->in);
}

// y (+)= x W^T + b: accumulation goes through pc_gemm's beta.
static void linear_acc(pc_nn_exec *ex, const pc_nn_linear *l, float *y, int64_t ldy, const float *x, int64_t ldx,
                       int64_t M, int accumulate) {
    if (!pc_nn_ok(ex)) return;
    if (!accumulate) {
        pc_linear_strided(ex->pool, y, ldy, x, ldx, l->w, l->b, M, l->out, l->in);
        return;
    }
    pc_gemm(ex->pool, y, ldy, pc_mat_f32(x, ldx, 0), weight_t(l), M, l->out, l->in, 1.0f, 1.0f, l->b);
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

void pc_nn_layernorm_forward(pc_nn_exec *ex, const pc_nn_layernorm *l, float *y, const float *x, int64_t M) {
    if (!pc_nn_ok(ex)) return;
    pc_layer_norm(ex->pool, y, x, l->w, l->b, M, l->dim, l->eps);
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

void pc_nn_mlp_forward(pc_nn_exec *ex, const pc_nn_mlp *m, float *y, const float *x, int64_t M, int accumulate) {
    size_t mark = pc_arena_mark(ex->arena);
    float *h = pc_nn_alloc(ex, (size_t)(M * m->fc1.out));  // (M, hidden)
    if (pc_nn_ok(ex)) {
        pc_linear(ex->pool, h, x, m->fc1.w, m->fc1.b, M, m->fc1.out, m->fc1.in);
        pc_gelu(ex->pool, h, h, M * m->fc1.out);
        linear_acc(ex, &m->fc2, y, m->fc2.out, h, m->fc2.in, M, accumulate);
    }
    pc_arena_reset(ex->arena, mark);
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

// o (B, Nq, dim) = softmax(q k^T scale) v per head; q/k/v token-major with row strides.
static void attend(pc_nn_exec *ex, const pc_nn_attention *a, float *o, float *q, int64_t ldq, float *k, int64_t ldk,
                   float *v, int64_t ldv, int64_t B, int64_t Nq, int64_t Nk) {
    int64_t D = a->head_dim, H = a->heads;
    pc_attn_view vo = pc_attn_tokens(o, Nq, a->dim, 0, D);
    pc_attn_view vq = pc_attn_tokens(q, Nq, ldq, 0, D);
    pc_attn_view vk = pc_attn_tokens(k, Nk, ldk, 0, D);
    pc_attn_view vv = pc_attn_tokens(v, Nk, ldv, 0, D);
    pc_status st = pc_attention(ex->pool, vo, vq, vk, vv, B, H, Nq, Nk, D, a->scale, ex->err);
    if (st != PC_OK) pc_nn_fail(ex, st);
}

void pc_nn_self_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, float *y, const float *x,
                                  const int64_t *pos, int64_t B, int64_t N, int accumulate) {
    size_t mark = pc_arena_mark(ex->arena);
    int64_t C = a->dim, D = a->head_dim, H = a->heads;
    float *qkv = pc_nn_alloc(ex, (size_t)(B * N * 3 * C));  // (B, N, 3, H, D)
    float *o = pc_nn_alloc(ex, (size_t)(B * N * C));        // (B, N, H, D)
    if (pc_nn_ok(ex)) {
        pc_linear(ex->pool, qkv, x, a->qkv.w, a->qkv.b, B * N, 3 * C, C);
        if (rope_base > 0) {
            pc_rope2d(ex->pool, pc_attn_tokens(qkv, N, 3 * C, 0, D), pos, B, H, N, D, rope_base);
            pc_rope2d(ex->pool, pc_attn_tokens(qkv, N, 3 * C, C, D), pos, B, H, N, D, rope_base);
        }
        attend(ex, a, o, qkv, 3 * C, qkv + C, 3 * C, qkv + 2 * C, 3 * C, B, N, N);
        linear_acc(ex, &a->proj, y, C, o, C, B * N, accumulate);
    }
    pc_arena_reset(ex->arena, mark);
}

void pc_nn_cross_attention_forward(pc_nn_exec *ex, const pc_nn_attention *a, float rope_base, float *y,
                                   const float *xq, const int64_t *qpos, int64_t Nq, const float *xkv,
                                   const int64_t *kpos, int64_t Nk, int64_t B, int accumulate) {
    size_t mark = pc_arena_mark(ex->arena);
    int64_t C = a->dim, D = a->head_dim, H = a->heads;
    float *q = pc_nn_alloc(ex, (size_t)(B * Nq * C));  // (B, Nq, H, D)
    float *k = pc_nn_alloc(ex, (size_t)(B * Nk * C));  // (B, Nk, H, D)
    float *v = pc_nn_alloc(ex, (size_t)(B * Nk * C));  // (B, Nk, H, D)
    float *o = pc_nn_alloc(ex, (size_t)(B * Nq * C));  // (B, Nq, H, D)
    if (pc_nn_ok(ex)) {
        pc_linear(ex->pool, q, xq, a->q.w, a->q.b, B * Nq, C, C);
        pc_linear(ex->pool, k, xkv, a->k.w, a->k.b, B * Nk, C, C);
        pc_linear(ex->pool, v, xkv, a->v.w, a->v.b, B * Nk, C, C);
        if (rope_base > 0) {
            pc_rope2d(ex->pool, pc_attn_tokens(q, Nq, C, 0, D), qpos, B, H, Nq, D, rope_base);
            pc_rope2d(ex->pool, pc_attn_tokens(k, Nk, C, 0, D), kpos, B, H, Nk, D, rope_base);
        }
        attend(ex, a, o, q, C, k, C, v, C, B, Nq, Nk);
        linear_acc(ex, &a->proj, y, C, o, C, B * Nq, accumulate);
    }
    pc_arena_reset(ex->arena, mark);
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

void pc_nn_vit_block_forward(pc_nn_exec *ex, const pc_nn_vit_block *blk, float rope_base, float *x, const int64_t *pos,
                             int64_t B, int64_t N) {
    size_t mark = pc_arena_mark(ex->arena);
    int64_t M = B * N;
    float *t = pc_nn_alloc(ex, (size_t)(M * blk->norm1.dim));  // (B, N, C)
    pc_nn_layernorm_forward(ex, &blk->norm1, t, x, M);
    pc_nn_self_attention_forward(ex, &blk->attn, rope_base, x, t, pos, B, N, 1);
    pc_nn_layernorm_forward(ex, &blk->norm2, t, x, M);
    pc_nn_mlp_forward(ex, &blk->mlp, x, t, M, 1);
    pc_arena_reset(ex->arena, mark);
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

void pc_nn_decoder_block_forward(pc_nn_exec *ex, const pc_nn_decoder_block *blk, float rope_base, float *xout,
                                 const float *x, const int64_t *xpos, int64_t Nx, const float *y, const int64_t *ypos,
                                 int64_t Ny, int64_t B) {
    size_t mark = pc_arena_mark(ex->arena);
    int64_t C = blk->norm1.dim, Mx = B * Nx, My = B * Ny;
    float *t = pc_nn_alloc(ex, (size_t)(Mx * C));                          // (B, Nx, C)
    float *yn = blk->has_norm_y ? pc_nn_alloc(ex, (size_t)(My * C)) : NULL;  // (B, Ny, C)
    if (pc_nn_ok(ex)) memcpy(xout, x, (size_t)(Mx * C) * sizeof(float));
    pc_nn_layernorm_forward(ex, &blk->norm1, t, xout, Mx);
    pc_nn_self_attention_forward(ex, &blk->attn, rope_base, xout, t, xpos, B, Nx, 1);
    if (blk->has_norm_y) pc_nn_layernorm_forward(ex, &blk->norm_y, yn, y, My);
    pc_nn_layernorm_forward(ex, &blk->norm2, t, xout, Mx);
    pc_nn_cross_attention_forward(ex, &blk->cross_attn, rope_base, xout, t, xpos, Nx, blk->has_norm_y ? yn : y, ypos,
                                  Ny, B, 1);
    pc_nn_layernorm_forward(ex, &blk->norm3, t, xout, Mx);
    pc_nn_mlp_forward(ex, &blk->mlp, xout, t, Mx, 1);
    pc_arena_reset(ex->arena, mark);
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

void pc_nn_conv2d_forward(pc_nn_exec *ex, const pc_nn_conv2d *c, float *y, const float *x, int64_t B, int64_t H,
                          int64_t W) {
    size_t mark = pc_arena_mark(ex->arena);
    pc_conv2d_desc d = pc_conv2d_make(B, c->cin, H, W, c->cout, c->k, c->k, c->stride, c->pad, c->pad);
    size_t wsb = pc_conv2d_workspace(&d);
    float *ws = wsb ? pc_nn_alloc(ex, (wsb + sizeof(float) - 1) / sizeof(float)) : NULL;
    if (pc_nn_ok(ex)) {
        pc_status st = pc_conv2d(ex->pool, y, x, c->w, c->b, &d, ws, wsb, ex->err);
        if (st != PC_OK) pc_nn_fail(ex, st);
    }
    pc_arena_reset(ex->arena, mark);
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

void pc_nn_convt2d_forward(pc_nn_exec *ex, const pc_nn_convt2d *c, float *y, const float *x, int64_t B, int64_t H,
                           int64_t W) {
    size_t mark = pc_arena_mark(ex->arena);
    pc_convt2d_desc d = pc_convt2d_make(B, c->cin, H, W, c->cout, c->k, c->k, c->stride, 0);
    size_t wsb = pc_convt2d_workspace(&d);
    float *ws = wsb ? pc_nn_alloc(ex, (wsb + sizeof(float) - 1) / sizeof(float)) : NULL;
    if (pc_nn_ok(ex)) {
        pc_status st = pc_convt2d(ex->pool, y, x, c->w, c->b, &d, ws, wsb, ex->err);
        if (st != PC_OK) pc_nn_fail(ex, st);
    }
    pc_arena_reset(ex->arena, mark);
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
