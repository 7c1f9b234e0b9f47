// DUSt3R encoder + decoders on a CUDA GPU (see dust3r_cuda.h). Host C over the
// kernel API of src/cuda/cuda_backend.h; in a build without CUDA every kernel
// call answers PC_ERR_UNSUPPORTED and pc_dust3r_cuda_create fails cleanly.
//
// The op sequence mirrors src/nn/nn.c (croco Block / DecoderBlock) and
// src/models/dust3r.c (encode, decode_heads) one to one:
//   patch embed: host patchify (B*N, 3*p*p) -> f32 GEMM with the conv weight as (E, 3*p*p)
//   Block:        x += proj(attn(rope(qkv(LN1(x)))));  x += fc2(gelu(fc1(LN2(x))))
//   DecoderBlock: x += self-attn(LN1(x)); x += cross-attn(LN2(x), norm_y(y)); x += mlp(LN3(x))
// Buffers: x (the residual stream) f32; LN outputs, q/k/v, attention output and
// the MLP hidden layer bf16; projections accumulate into x (GEMM beta = 1).
#include "models/dust3r_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "cuda/cuda_backend.h"

// ---- device weights ----------------------------------------------------------------

typedef struct glin {  // torch.nn.Linear on the device
    void *w;           // (out, in) bf16
    const float *b;    // (out) f32 or NULL
    int64_t in, out;
} glin;

typedef struct gln {  // torch.nn.LayerNorm
    const float *w, *b;  // (dim) f32
    int64_t dim;
    float eps;
} gln;

typedef struct gvit {  // croco: Block
    gln n1, n2;
    glin qkv, proj, fc1, fc2;
} gvit;

typedef struct gdec {  // croco: DecoderBlock; cross-attention projk|projv fused into one (2D, D) GEMM
    gln n1, n2, n3, ny;
    int has_ny;
    glin qkv, proj, cq, ckv, cproj, fc1, fc2;
} gdec;

struct pc_dust3r_cuda {
    pc_dust3r_config cfg;
    int device;
    pc_cuda_ctx *wctx;  // weights arena (filled once)
    pc_cuda_ctx *actx;  // activations: stream, cuBLASLt, arena (re-created larger when needed)
    size_t weight_bytes, act_peak;
    float *patch_w;     // (E, 3*p*p) f32
    const float *patch_b;
    gvit *enc;          // (enc_depth)
    gln enc_norm;
    glin dec_embed;
    gdec *dec[2];       // (dec_depth) each
    float *host;        // staging: patchified image, trace downloads
    size_t host_n;
    double enc_s, dec_s;
};

// Upload helper: a dry pass (cu == NULL) only adds up the bytes, the real pass allocates and copies.
typedef struct wup {
    pc_cuda_ctx *cu;
    size_t bytes;
    pc_status st;
    pc_error *err;
} wup;

static void *wup_alloc(wup *u, size_t bytes) {
    if (u->st != PC_OK) return NULL;
    if (!u->cu) {
        u->bytes += (bytes + 255) & ~(size_t)255;
        return NULL;
    }
    void *d = NULL;
    u->st = pc_cuda_alloc(u->cu, &d, bytes, u->err);
    return d;
}

static void wup_copy(wup *u, void *dst, pc_dtype ddt, const void *src, pc_dtype sdt, int64_t n) {
    if (u->st != PC_OK || !u->cu) return;
    u->st = pc_cuda_upload_raw(u->cu, dst, ddt, src, sdt, n, u->err);
}

static const float *wup_vec(wup *u, const float *v, int64_t n) {
    if (!v) return NULL;
    void *d = wup_alloc(u, (size_t)n * sizeof(float));
    wup_copy(u, d, PC_F32, v, PC_F32, n);
    return (const float *)d;
}

static glin wup_linear(wup *u, const pc_nn_linear *l) {
    glin g = {NULL, NULL, l->in, l->out};
    g.w = wup_alloc(u, (size_t)(l->in * l->out) * 2);
    wup_copy(u, g.w, PC_BF16, l->w.data, l->w.dtype, l->in * l->out);
    g.b = wup_vec(u, l->b, l->out);
    return g;
}

// Two Linears with the same input as one: rows of a, then rows of b (a missing bias uploads as zeros).
static glin wup_linear2(wup *u, const pc_nn_linear *a, const pc_nn_linear *b) {
    glin g = {NULL, NULL, a->in, a->out + b->out};
    g.w = wup_alloc(u, (size_t)(g.in * g.out) * 2);
    if (u->cu && u->st == PC_OK) {
        wup_copy(u, g.w, PC_BF16, a->w.data, a->w.dtype, a->in * a->out);
        wup_copy(u, (char *)g.w + (size_t)(a->in * a->out) * 2, PC_BF16, b->w.data, b->w.dtype, b->in * b->out);
    }
    if (!a->b && !b->b) return g;
    float *bias = (float *)wup_alloc(u, (size_t)g.out * sizeof(float));
    if (u->cu && u->st == PC_OK) {
        float *h = (float *)calloc((size_t)g.out, sizeof(float));
        if (!h) {
            u->st = pc_err(u->err, PC_ERR_MEMORY, "out of host memory");
            return g;
        }
        if (a->b) memcpy(h, a->b, (size_t)a->out * sizeof(float));
        if (b->b) memcpy(h + a->out, b->b, (size_t)b->out * sizeof(float));
        wup_copy(u, bias, PC_F32, h, PC_F32, g.out);
        free(h);
    }
    g.b = bias;
    return g;
}

static gln wup_ln(wup *u, const pc_nn_layernorm *l) {
    gln g = {wup_vec(u, l->w, l->dim), wup_vec(u, l->b, l->dim), l->dim, l->eps};
    return g;
}

static void upload_all(pc_dust3r_cuda *g, const pc_dust3r_cuda_layers *L, wup *u) {
    const pc_dust3r_config *c = &g->cfg;
    const pc_nn_conv2d *pe = L->patch_embed;
    int64_t K = pe->cin * pe->k * pe->k;  // conv weight (E, 3, p, p) = matrix (E, 3*p*p)
    g->patch_w = (float *)wup_alloc(u, (size_t)(pe->cout * K) * sizeof(float));
    wup_copy(u, g->patch_w, PC_F32, pe->w.data, pe->w.dtype, pe->cout * K);
    g->patch_b = wup_vec(u, pe->b, pe->cout);
    for (int i = 0; i < c->enc_depth; i++) {
        const pc_nn_vit_block *b = &L->enc[i];
        gvit *d = &g->enc[i];
        d->n1 = wup_ln(u, &b->norm1);
        d->qkv = wup_linear(u, &b->attn.qkv);
        d->proj = wup_linear(u, &b->attn.proj);
        d->n2 = wup_ln(u, &b->norm2);
        d->fc1 = wup_linear(u, &b->mlp.fc1);
        d->fc2 = wup_linear(u, &b->mlp.fc2);
    }
    g->enc_norm = wup_ln(u, L->enc_norm);
    g->dec_embed = wup_linear(u, L->decoder_embed);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < c->dec_depth; i++) {
            const pc_nn_decoder_block *b = &L->dec[v][i];
            gdec *d = &g->dec[v][i];
            d->n1 = wup_ln(u, &b->norm1);
            d->qkv = wup_linear(u, &b->attn.qkv);
            d->proj = wup_linear(u, &b->attn.proj);
            d->has_ny = b->has_norm_y;
            if (b->has_norm_y) d->ny = wup_ln(u, &b->norm_y);
            d->n2 = wup_ln(u, &b->norm2);
            d->cq = wup_linear(u, &b->cross_attn.q);
            d->ckv = wup_linear2(u, &b->cross_attn.k, &b->cross_attn.v);
            d->cproj = wup_linear(u, &b->cross_attn.proj);
            d->n3 = wup_ln(u, &b->norm3);
            d->fc1 = wup_linear(u, &b->mlp.fc1);
            d->fc2 = wup_linear(u, &b->mlp.fc2);
        }
}

static int head_dim_ok(int64_t dim, int64_t heads) {
    if (heads <= 0 || dim % heads) return 0;
    int64_t d = dim / heads;
    return d == 32 || d == 64 || d == 128;
}

void pc_dust3r_cuda_free(pc_dust3r_cuda *g) {
    if (!g) return;
    pc_cuda_ctx_free(g->actx);
    pc_cuda_ctx_free(g->wctx);
    free(g->enc);
    free(g->dec[0]);
    free(g->dec[1]);
    free(g->host);
    free(g);
}

pc_status pc_dust3r_cuda_create(pc_dust3r_cuda **out, const pc_dust3r_cuda_layers *L, int device, pc_error *err) {
    if (!out || !L || !L->cfg) return pc_err(err, PC_ERR_ARG, "pc_dust3r_cuda_create: NULL argument");
    *out = NULL;
    const pc_dust3r_config *c = L->cfg;
    if (!head_dim_ok(c->enc_dim, c->enc_heads) || !head_dim_ok(c->dec_dim, c->dec_heads))
        return pc_err(err, PC_ERR_UNSUPPORTED,
                      "DUSt3R on CUDA: head dims %d/%d and %d/%d: the attention kernel has head dims 32, 64 and 128",
                      c->enc_dim, c->enc_heads, c->dec_dim, c->dec_heads);
    if (L->patch_embed->cin != 3 || L->patch_embed->k != c->patch || L->patch_embed->stride != c->patch ||
        L->patch_embed->pad != 0)
        return pc_err(err, PC_ERR_UNSUPPORTED, "DUSt3R on CUDA: patch embedding is not a %dx%d stride-%d conv",
                      c->patch, c->patch, c->patch);
    pc_dust3r_cuda *g = (pc_dust3r_cuda *)calloc(1, sizeof(*g));
    if (!g) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    g->cfg = *c;
    g->device = device;
    g->enc = (gvit *)calloc((size_t)c->enc_depth, sizeof(gvit));
    g->dec[0] = (gdec *)calloc((size_t)c->dec_depth, sizeof(gdec));
    g->dec[1] = (gdec *)calloc((size_t)c->dec_depth, sizeof(gdec));
    pc_status st = PC_OK;
    if (!g->enc || !g->dec[0] || !g->dec[1]) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    wup u = {NULL, 0, PC_OK, err};
    if (st == PC_OK) {
        upload_all(g, L, &u);  // dry: bytes
        st = u.st;
    }
    if (st == PC_OK) st = pc_cuda_ctx_create(&g->wctx, device, u.bytes + 4096, err);
    if (st == PC_OK) {
        wup real = {g->wctx, 0, PC_OK, err};
        upload_all(g, L, &real);
        st = real.st;
    }
    if (st != PC_OK) {
        pc_err_prefix(err, st, "DUSt3R weights to CUDA device %d: ", device);
        pc_dust3r_cuda_free(g);
        return st;
    }
    g->weight_bytes = pc_cuda_arena_mark(g->wctx);
    *out = g;
    return PC_OK;
}

void pc_dust3r_cuda_info(const pc_dust3r_cuda *g, pc_dust3r_device_info *info) {
    memset(info, 0, sizeof(*info));
    if (!g) return;
    info->on_cuda = 1;
    const pc_cuda_props *p = pc_cuda_ctx_props(g->wctx);
    if (p) snprintf(info->name, sizeof(info->name), "%s", p->name);
    info->weight_bytes = g->weight_bytes;
    info->act_arena_bytes = pc_cuda_arena_capacity(g->actx);
    info->act_peak_bytes = g->act_peak;
    info->enc_s = g->enc_s;
    info->dec_s = g->dec_s;
}

// ---- execution: one code path, run dry (sizes the arena) then for real ---------------------

typedef struct gx {
    pc_cuda_ctx *cu;    // NULL: dry run
    size_t used, peak;  // dry-run bookkeeping (same 256-byte rounding as pc_cuda_alloc)
    pc_status st;
    pc_error *err;
} gx;

static void *gx_alloc(gx *x, size_t bytes) {
    if (x->st != PC_OK) return NULL;
    if (!x->cu) {
        x->used = ((x->used + 255) & ~(size_t)255) + bytes;
        if (x->used > x->peak) x->peak = x->used;
        return NULL;
    }
    void *p = NULL;
    x->st = pc_cuda_alloc(x->cu, &p, bytes, x->err);
    return p;
}
static size_t gx_mark(const gx *x) { return x->cu ? pc_cuda_arena_mark(x->cu) : x->used; }
static void gx_reset(gx *x, size_t m) {
    if (x->cu)
        pc_cuda_arena_reset(x->cu, m);
    else
        x->used = m;
}
static int gx_run(const gx *x) { return x->cu && x->st == PC_OK; }
static void gx_do(gx *x, pc_status st) {
    if (x->st == PC_OK) x->st = st;
}

// y (M, l->out) [ydt, row stride ldy] (+)= x (M, l->in) bf16 [ldx] W^T + b
static void g_linear(gx *x, const glin *l, void *y, pc_dtype ydt, int64_t ldy, const void *in, int64_t ldx, int64_t M,
                     int accumulate) {
    if (!gx_run(x)) return;
    gx_do(x, pc_cuda_gemm_nt(x->cu, y, ydt, ldy, in, ldx, l->w, l->in, PC_BF16, l->b, M, l->out, l->in, 1.0f,
                             accumulate ? 1.0f : 0.0f, PC_CUDA_GEMM_DEFAULT, x->err));
}

static void g_ln(gx *x, const gln *l, void *y, pc_dtype ydt, const void *in, pc_dtype xdt, int64_t M) {
    if (!gx_run(x)) return;
    gx_do(x, pc_cuda_layer_norm(x->cu, y, ydt, in, xdt, l->w, l->b, M, l->dim, l->eps, x->err));
}

static pc_cuda_attn_view tok_view(void *base, int64_t N, int64_t ld, int64_t off, int64_t Dh) {
    pc_cuda_attn_view v = {(char *)base + off * 2, PC_BF16, N * ld, Dh, ld};  // bf16 tokens (B, N, ld), head h at off + h*Dh
    return v;
}

// o (B, Nq, C) bf16 = attention of q (B, Nq, heads at qoff of rows ldq) over k/v; RoPE on q (grid qw) and k (grid kw)
static void g_attend(gx *x, float rope_base, void *o, void *q, int64_t ldq, int64_t qoff, int64_t Nq, int64_t qw,
                     void *k, int64_t ldk, int64_t koff, void *v, int64_t ldv, int64_t voff, int64_t Nk, int64_t kw,
                     int64_t B, int64_t H, int64_t Dh) {
    if (!gx_run(x)) return;
    pc_cuda_attn_view vq = tok_view(q, Nq, ldq, qoff, Dh), vk = tok_view(k, Nk, ldk, koff, Dh);
    pc_cuda_attn_view vv = tok_view(v, Nk, ldv, voff, Dh), vo = tok_view(o, Nq, H * Dh, 0, Dh);
    if (rope_base > 0) {
        gx_do(x, pc_cuda_rope2d(x->cu, vq, B, H, Nq, Dh, qw, rope_base, x->err));
        gx_do(x, pc_cuda_rope2d(x->cu, vk, B, H, Nk, Dh, kw, rope_base, x->err));
    }
    if (x->st == PC_OK)
        gx_do(x, pc_cuda_attention(x->cu, vo, vq, vk, vv, B, H, Nq, Nk, Dh, 1.0f / sqrtf((float)Dh), x->err));
}

// x (M, C) f32 += fc2(gelu(fc1(t))), t (M, C) bf16
static void g_mlp(gx *x, const glin *fc1, const glin *fc2, float *xr, const void *t, int64_t M) {
    size_t mark = gx_mark(x);
    void *h = gx_alloc(x, (size_t)(M * fc1->out) * 2);  // (M, hidden) bf16
    g_linear(x, fc1, h, PC_BF16, fc1->out, t, fc1->in, M, 0);
    if (gx_run(x)) gx_do(x, pc_cuda_unary(x->cu, h, PC_BF16, h, PC_BF16, M * fc1->out, PC_CUDA_GELU, x->err));
    g_linear(x, fc2, xr, PC_F32, fc2->out, h, fc2->in, M, 1);
    gx_reset(x, mark);
}

// croco: Block, in place on xr (B, N, C) f32; tokens on a grid of width Wp.
static void g_vit_block(gx *x, const gvit *b, float rope_base, float *xr, int64_t B, int64_t N, int64_t Wp, int64_t H) {
    int64_t C = b->qkv.in, M = B * N, Dh = C / H;
    size_t mark = gx_mark(x);
    void *t = gx_alloc(x, (size_t)(M * C) * 2);        // (B, N, C) bf16
    void *qkv = gx_alloc(x, (size_t)(M * 3 * C) * 2);  // (B, N, 3, H, Dh) bf16
    void *o = gx_alloc(x, (size_t)(M * C) * 2);        // (B, N, H, Dh) bf16
    g_ln(x, &b->n1, t, PC_BF16, xr, PC_F32, M);
    g_linear(x, &b->qkv, qkv, PC_BF16, 3 * C, t, C, M, 0);
    g_attend(x, rope_base, o, qkv, 3 * C, 0, N, Wp, qkv, 3 * C, C, qkv, 3 * C, 2 * C, N, Wp, B, H, Dh);
    g_linear(x, &b->proj, xr, PC_F32, C, o, C, M, 1);
    g_ln(x, &b->n2, t, PC_BF16, xr, PC_F32, M);
    g_mlp(x, &b->fc1, &b->fc2, xr, t, M);
    gx_reset(x, mark);
}

// croco: DecoderBlock (batch 1). xout (Nx, C) f32 = block(xin at grid width xw, y (Ny, C) f32 at grid width yw).
static void g_dec_block(gx *x, const gdec *b, float rope_base, float *xout, const float *xin, int64_t Nx, int64_t xw,
                        const float *y, int64_t Ny, int64_t yw, int64_t H) {
    int64_t C = b->qkv.in, Dh = C / H;
    size_t mark = gx_mark(x);
    void *t = gx_alloc(x, (size_t)(Nx * C) * 2);        // (Nx, C) bf16
    void *qkv = gx_alloc(x, (size_t)(Nx * 3 * C) * 2);  // (Nx, 3, H, Dh) bf16
    void *o = gx_alloc(x, (size_t)(Nx * C) * 2);        // (Nx, H, Dh) bf16
    void *yn = gx_alloc(x, (size_t)(Ny * C) * 2);       // (Ny, C) bf16
    void *kv = gx_alloc(x, (size_t)(Ny * 2 * C) * 2);   // (Ny, 2, H, Dh) bf16
    if (gx_run(x)) gx_do(x, pc_cuda_unary(x->cu, xout, PC_F32, xin, PC_F32, Nx * C, PC_CUDA_COPY, x->err));
    // self-attention
    g_ln(x, &b->n1, t, PC_BF16, xout, PC_F32, Nx);
    g_linear(x, &b->qkv, qkv, PC_BF16, 3 * C, t, C, Nx, 0);
    g_attend(x, rope_base, o, qkv, 3 * C, 0, Nx, xw, qkv, 3 * C, C, qkv, 3 * C, 2 * C, Nx, xw, 1, H, Dh);
    g_linear(x, &b->proj, xout, PC_F32, C, o, C, Nx, 1);
    // cross-attention: queries from norm2(x), keys/values from norm_y(y)
    if (b->has_ny)
        g_ln(x, &b->ny, yn, PC_BF16, y, PC_F32, Ny);
    else if (gx_run(x))
        gx_do(x, pc_cuda_unary(x->cu, yn, PC_BF16, y, PC_F32, Ny * C, PC_CUDA_COPY, x->err));
    g_ln(x, &b->n2, t, PC_BF16, xout, PC_F32, Nx);
    void *q = qkv;  // (Nx, C) bf16, reusing the self-attention buffer
    g_linear(x, &b->cq, q, PC_BF16, C, t, C, Nx, 0);
    g_linear(x, &b->ckv, kv, PC_BF16, 2 * C, yn, C, Ny, 0);
    g_attend(x, rope_base, o, q, C, 0, Nx, xw, kv, 2 * C, 0, kv, 2 * C, C, Ny, yw, 1, H, Dh);
    g_linear(x, &b->cproj, xout, PC_F32, C, o, C, Nx, 1);
    // MLP
    g_ln(x, &b->n3, t, PC_BF16, xout, PC_F32, Nx);
    g_mlp(x, &b->fc1, &b->fc2, xout, t, Nx);
    gx_reset(x, mark);
}

// ---- host staging, activation context ----------------------------------------------------

static pc_status host_reserve(pc_dust3r_cuda *g, size_t n, pc_error *err) {
    if (g->host_n >= n) return PC_OK;
    float *h = (float *)realloc(g->host, n * sizeof(float));
    if (!h) return pc_err(err, PC_ERR_MEMORY, "out of host memory (%zu floats of GPU staging)", n);
    g->host = h;
    g->host_n = n;
    return PC_OK;
}

// Make the activation arena at least `need` bytes (a new context when it is smaller), empty it.
static pc_status act_reserve(pc_dust3r_cuda *g, size_t need, pc_error *err) {
    if (!g->actx || pc_cuda_arena_capacity(g->actx) < need) {
        pc_cuda_ctx_free(g->actx);
        g->actx = NULL;
        pc_status st = pc_cuda_ctx_create(&g->actx, g->device, need + need / 8 + ((size_t)1 << 20), err);
        if (st != PC_OK) return pc_err_prefix(err, st, "DUSt3R activations on CUDA: ");
    }
    pc_cuda_arena_reset(g->actx, 0);
    return PC_OK;
}

// Download (M, C) f32 rows of a device buffer and hand each batch item to the trace hook.
static void g_trace(gx *x, pc_dust3r_cuda *g, pc_dust3r_trace_fn trace, void *tctx, const char *fmt, int blk,
                    const int *views, const float *d, int64_t B, int64_t N, int64_t C) {
    if (!trace || !gx_run(x)) return;
    gx_do(x, pc_cuda_download_raw_f32(x->cu, g->host, d, PC_F32, B * N * C, x->err));
    if (x->st != PC_OK) return;
    for (int64_t b = 0; b < B; b++) {
        char name[64];
        if (blk >= 0)
            snprintf(name, sizeof(name), fmt, views[b] + 1, blk);
        else
            snprintf(name, sizeof(name), fmt, views[b] + 1);
        int64_t shape[3] = {1, N, C};
        trace(tctx, name, g->host + b * N * C, 3, shape);
    }
}

// ---- encoder -------------------------------------------------------------------------------

static void g_encode(gx *x, pc_dust3r_cuda *g, int64_t B, int64_t Hp, int64_t Wp, float *out, pc_dust3r_trace_fn trace,
                     void *tctx, const int *views) {
    const pc_dust3r_config *c = &g->cfg;
    int64_t N = Hp * Wp, E = c->enc_dim, K = 3 * (int64_t)c->patch * c->patch, M = B * N;
    float *patches = (float *)gx_alloc(x, (size_t)(M * K) * sizeof(float));  // (B, N, 3*p*p) f32
    float *xr = (float *)gx_alloc(x, (size_t)(M * E) * sizeof(float));       // (B, N, E) f32
    if (gx_run(x)) gx_do(x, pc_cuda_upload_raw(x->cu, patches, PC_F32, g->host, PC_F32, M * K, x->err));
    // dust3r: PatchEmbedDust3R (conv k=p, s=p) as a GEMM, in f32 (the input image keeps full precision)
    if (gx_run(x))
        gx_do(x, pc_cuda_gemm_nt(x->cu, xr, PC_F32, E, patches, K, g->patch_w, K, PC_F32, g->patch_b, M, E, K, 1.0f, 0.0f,
                                 PC_CUDA_GEMM_DEFAULT, x->err));
    g_trace(x, g, trace, tctx, "patch%d", -1, views, xr, B, N, E);
    for (int i = 0; i < c->enc_depth; i++) {
        g_vit_block(x, &g->enc[i], c->rope_base, xr, B, N, Wp, c->enc_heads);
        g_trace(x, g, trace, tctx, "enc%d_blk%d", i, views, xr, B, N, E);
    }
    g_ln(x, &g->enc_norm, xr, PC_F32, xr, PC_F32, M);
    g_trace(x, g, trace, tctx, "enc%d", -1, views, xr, B, N, E);
    if (gx_run(x)) gx_do(x, pc_cuda_download_raw_f32(x->cu, out, xr, PC_F32, M * E, x->err));
}

pc_status pc_dust3r_cuda_encode(pc_dust3r_cuda *g, const float *img, int64_t B, int64_t H, int64_t W, float *out,
                                pc_dust3r_trace_fn trace, void *trace_ctx, const int *views, pc_error *err) {
    if (!g || !img || !out || !views || B <= 0) return pc_err(err, PC_ERR_ARG, "pc_dust3r_cuda_encode: bad arguments");
    double t0 = pc_time_sec();
    const pc_dust3r_config *c = &g->cfg;
    int64_t p = c->patch, Hp = H / p, Wp = W / p, N = Hp * Wp, K = 3 * p * p;
    size_t nh = (size_t)PC_MAX(B * N * K, B * N * c->enc_dim);
    pc_status st = host_reserve(g, nh, err);
    if (st != PC_OK) return st;
    // patchify on the host: row (b, y*Wp + x), column (ch, i, j) like the conv weight (E, 3, p, p)
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++) {
            int64_t hy = n / Wp, wx = n % Wp;
            float *row = g->host + (b * N + n) * K;
            for (int64_t ch = 0; ch < 3; ch++)
                for (int64_t i = 0; i < p; i++)
                    memcpy(row + (ch * p + i) * p, img + ((b * 3 + ch) * H + hy * p + i) * W + wx * p,
                           (size_t)p * sizeof(float));
        }
    gx dry = {NULL, 0, 0, PC_OK, err};
    g_encode(&dry, g, B, Hp, Wp, out, NULL, NULL, views);
    if ((st = act_reserve(g, dry.peak + 4096, err)) != PC_OK) return st;
    gx x = {g->actx, 0, 0, PC_OK, err};
    g_encode(&x, g, B, Hp, Wp, out, trace, trace_ctx, views);
    g->act_peak = PC_MAX(g->act_peak, pc_cuda_arena_peak(g->actx));
    pc_cuda_arena_reset(g->actx, 0);
    g->enc_s = pc_time_sec() - t0;
    return x.st;
}

// ---- decoders --------------------------------------------------------------------------------

static void g_decode(gx *x, pc_dust3r_cuda *g, const float *const e[2], const int64_t Hp[2], const int64_t Wp[2],
                     float *const *const f[2], const unsigned char *want) {
    const pc_dust3r_config *c = &g->cfg;
    int L = c->dec_depth;
    int64_t E = c->enc_dim, D = c->dec_dim, N[2] = {Hp[0] * Wp[0], Hp[1] * Wp[1]};
    float *fd[2][64 + 1];  // (N_v, D) f32 per layer output, kept for the hooks
    for (int v = 0; v < 2; v++) {
        for (int k = 0; k <= L; k++) fd[v][k] = (float *)gx_alloc(x, (size_t)(N[v] * D) * sizeof(float));
        size_t mark = gx_mark(x);  // the layer buffers stay; the bf16 encoder tokens go after the embedding
        void *eb = gx_alloc(x, (size_t)(N[v] * E) * 2);  // (N, E) bf16
        if (gx_run(x)) gx_do(x, pc_cuda_upload_raw(x->cu, eb, PC_BF16, e[v], PC_F32, N[v] * E, x->err));
        g_linear(x, &g->dec_embed, fd[v][0], PC_F32, D, eb, E, N[v], 0);  // dust3r: decoder_embed
        gx_reset(x, mark);
    }
    for (int k = 0; k < L; k++)
        for (int v = 0; v < 2; v++) {  // both sides read the previous pair
            int o = 1 - v;
            g_dec_block(x, &g->dec[v][k], c->rope_base, fd[v][k + 1], fd[v][k], N[v], Wp[v], fd[o][k], N[o], Wp[o],
                        c->dec_heads);
        }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k <= L; k++)
            if (want[k] && f[v][k] && gx_run(x))
                gx_do(x, pc_cuda_download_raw_f32(x->cu, f[v][k], fd[v][k], PC_F32, N[v] * D, x->err));
}

pc_status pc_dust3r_cuda_decode(pc_dust3r_cuda *g, const float *const e[2], const int64_t Hp[2], const int64_t Wp[2],
                                float *const *const f[2], const unsigned char *want, pc_error *err) {
    if (!g || !e || !e[0] || !e[1] || !f || !want) return pc_err(err, PC_ERR_ARG, "pc_dust3r_cuda_decode: bad arguments");
    if (g->cfg.dec_depth > 64) return pc_err(err, PC_ERR_UNSUPPORTED, "decoder depth %d > 64", g->cfg.dec_depth);
    double t0 = pc_time_sec();
    gx dry = {NULL, 0, 0, PC_OK, err};
    g_decode(&dry, g, e, Hp, Wp, f, want);
    pc_status st = act_reserve(g, dry.peak + 4096, err);
    if (st != PC_OK) return st;
    gx x = {g->actx, 0, 0, PC_OK, err};
    g_decode(&x, g, e, Hp, Wp, f, want);
    g->act_peak = PC_MAX(g->act_peak, pc_cuda_arena_peak(g->actx));
    pc_cuda_arena_reset(g->actx, 0);
    g->dec_s = pc_time_sec() - t0;
    return x.st;
}
