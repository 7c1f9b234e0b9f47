// OpenCLIP text and vision towers as DynamiCrafter uses them (lvdm/modules/encoders/condition.py,
// open_clip v2.22 transformer.py), plus the kornia preprocess of FrozenOpenCLIPImageEmbedderV2.
//
// Text (FrozenOpenCLIPEmbedder.encode_with_transformer): x = token_embedding(ids) + positional_embedding;
// resblocks[0 .. L-1-layer_idx] with the additive causal mask (layer "penultimate": layer_idx 1);
// ln_final. No text_projection.
// Vision (FrozenOpenCLIPImageEmbedderV2.encode_with_vision_transformer): conv1 (patch p, no bias) ->
// cat(class_embedding, patches) + positional_embedding -> ln_pre -> resblocks; all tokens, no
// ln_post / proj.
// Resblock: x += out_proj(MHA(ln_1(x))); x += c_proj(gelu(c_fc(ln_2(x)))). LayerNorm eps 1e-5.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip_internal.h"

#define LN_EPS 1e-5f

void pc_clip_config_default(pc_clip_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->text_heads = 16;
    cfg->text_layer_skip = 1;
    cfg->vision_heads = 16;
    cfg->vision_patch = 14;
    cfg->vision_image_size = 224;
    cfg->resampler_heads = 12;
    cfg->load_text = cfg->load_vision = cfg->load_resampler = 1;
    cfg->text_prefix = "cond_stage_model.model.";
    cfg->vision_prefix = "embedder.model.visual.";
    cfg->resampler_prefix = "image_proj_model.";
}

static pc_status bind_vec(pc_clip *c, const float **v, const char *name, int64_t n, pc_error *err) {
    return pc_nn_bind_vector(&c->binder, v, name, n, err);
}

static pc_status bind_mat(pc_clip *c, pc_wt *w, const char *name, int64_t r, int64_t k, pc_error *err) {
    int64_t shape[2] = {r, k};
    return pc_nn_bind_weight(&c->binder, w, name, 2, shape, err);
}

static int64_t count_blocks(pc_clip *c, const char *fmt) {
    char key[256];
    int64_t n = 0;
    for (;; n++) {
        snprintf(key, sizeof(key), fmt, (int)n);
        if (!c->binder.find(c->binder.ctx, key) || n > 4096) break;
    }
    return n;
}

// transformer.resblocks.* of width w; heads from the config.
static pc_status bind_tower(pc_clip *c, pc_clip_tower *t, int64_t w, int64_t heads, pc_error *err) {
    t->width = w;
    t->heads = heads;
    if (heads <= 0 || w % heads)
        return pc_err(err, PC_ERR_SHAPE, "%s: width %lld is not divisible by %lld heads", c->prefix, (long long)w,
                      (long long)heads);
    t->layers = count_blocks(c, "transformer.resblocks.%d.ln_1.weight");
    if (t->layers < 1) return pc_err(err, PC_ERR_NOT_FOUND, "%s: no transformer.resblocks.*", c->prefix);
    int nd = 0;
    int64_t shp[8];
    pc_status st = pc_clip_shape(c, "transformer.resblocks.0.mlp.c_fc.weight", &nd, shp, err);
    if (st != PC_OK) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "%stransformer.resblocks.0.mlp.c_fc.weight is not 2-D", c->prefix);
    t->mlp = shp[0];
    t->blocks = (pc_clip_block *)calloc((size_t)t->layers, sizeof(pc_clip_block));
    if (!t->blocks) return pc_err(err, PC_ERR_MEMORY, "CLIP: out of memory");
    for (int64_t i = 0; i < t->layers; i++) {
        pc_clip_block *b = &t->blocks[i];
        char k[256];
#define K(s) (snprintf(k, sizeof(k), "transformer.resblocks.%d." s, (int)i), k)
        if ((st = pc_nn_layernorm_bind(&c->binder, &b->ln1, K("ln_1"), w, LN_EPS, err)) != PC_OK) return st;
        if ((st = pc_nn_layernorm_bind(&c->binder, &b->ln2, K("ln_2"), w, LN_EPS, err)) != PC_OK) return st;
        // nn.MultiheadAttention keeps its packed projection as in_proj_weight / in_proj_bias
        b->in_proj.in = w, b->in_proj.out = 3 * w;
        if ((st = bind_mat(c, &b->in_proj.w, K("attn.in_proj_weight"), 3 * w, w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->in_proj.b, K("attn.in_proj_bias"), 3 * w, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &b->out_proj, K("attn.out_proj"), w, w, 1, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &b->fc, K("mlp.c_fc"), w, t->mlp, 1, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &b->proj, K("mlp.c_proj"), t->mlp, w, 1, err)) != PC_OK) return st;
#undef K
    }
    return PC_OK;
}

static pc_status place_tower(pc_nn_backend *be, pc_clip_tower *t, int measuring, pc_error *err) {
    pc_status st = PC_OK;
    for (int64_t i = 0; i < t->layers && st == PC_OK; i++) {
        pc_clip_block *b = &t->blocks[i];
        st = pc_nn_layernorm_place(be, &b->ln1, measuring, err);
        if (st == PC_OK) st = pc_nn_layernorm_place(be, &b->ln2, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &b->in_proj, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &b->out_proj, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &b->fc, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &b->proj, measuring, err);
    }
    return st;
}

static pc_status bind_text(pc_clip *c, pc_error *err) {
    int nd = 0;
    int64_t s[8];
    pc_status st = pc_clip_shape(c, "token_embedding.weight", &nd, s, err);
    if (st != PC_OK) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "%stoken_embedding.weight is not 2-D", c->prefix);
    c->t_vocab = s[0];
    int64_t w = s[1];
    if ((st = pc_clip_shape(c, "positional_embedding", &nd, s, err)) != PC_OK) return st;
    if (nd != 2 || s[1] != w)
        return pc_err(err, PC_ERR_SHAPE, "%spositional_embedding: expected (ctx, %lld)", c->prefix, (long long)w);
    c->t_ctx = s[0];
    if ((st = bind_mat(c, &c->tok_emb, "token_embedding.weight", c->t_vocab, w, err)) != PC_OK) return st;
    if ((st = bind_mat(c, &c->t_pos, "positional_embedding", c->t_ctx, w, err)) != PC_OK) return st;
    if ((st = bind_tower(c, &c->text, w, c->cfg.text_heads, err)) != PC_OK) return st;
    if ((st = pc_nn_layernorm_bind(&c->binder, &c->lnf, "ln_final", w, LN_EPS, err)) != PC_OK) return st;
    if (c->cfg.text_layer_skip < 0 || c->cfg.text_layer_skip >= c->text.layers)
        return pc_err(err, PC_ERR_ARG, "CLIP text: layer skip %d invalid for %lld layers", c->cfg.text_layer_skip,
                      (long long)c->text.layers);
    c->t_run = c->text.layers - c->cfg.text_layer_skip;
    c->has_text = 1;
    return PC_OK;
}

static pc_status bind_vision(pc_clip *c, pc_error *err) {
    int nd = 0;
    int64_t s[8];
    pc_status st = pc_clip_shape(c, "conv1.weight", &nd, s, err);
    if (st != PC_OK) return st;
    int64_t p = c->cfg.vision_patch, size = c->cfg.vision_image_size;
    if (nd != 4 || s[1] != 3 || s[2] != p || s[3] != p)
        return pc_err(err, PC_ERR_SHAPE, "%sconv1.weight: expected (w, 3, %lld, %lld)", c->prefix, (long long)p,
                      (long long)p);
    if (p <= 0 || size <= 0 || size % p) return pc_err(err, PC_ERR_ARG, "CLIP vision: image size not a multiple of patch");
    int64_t w = s[0];
    c->v_patch = p;
    c->v_size = size;
    c->v_grid = size / p;
    c->v_tokens = c->v_grid * c->v_grid + 1;
    int64_t cs[4] = {w, 3, p, p}, ps[2] = {c->v_tokens, w};
    if ((st = pc_nn_bind_weight(&c->binder, &c->conv1.w, "conv1.weight", 4, cs, err)) != PC_OK) return st;
    c->conv1.in = 3 * p * p, c->conv1.out = w;  // the (w, 3, p, p) kernel read as (w, 3 p p) rows
    if ((st = bind_vec(c, &c->cls.host, "class_embedding", w, err)) != PC_OK) return st;
    c->cls.n = w;
    if ((st = pc_nn_bind_f32(&c->binder, &c->v_pos.host, "positional_embedding", 2, ps, err)) != PC_OK) return st;
    c->v_pos.n = c->v_tokens * w;
    if ((st = pc_nn_layernorm_bind(&c->binder, &c->ln_pre, "ln_pre", w, LN_EPS, err)) != PC_OK) return st;
    if ((st = bind_tower(c, &c->vis, w, c->cfg.vision_heads, err)) != PC_OK) return st;
    c->has_vision = 1;
    return PC_OK;
}

void pc_clip_free(pc_clip *c) {
    if (!c) return;
    pc_nn_backend_close(c->dev);
    pc_arena_free(&c->arena);
    free(c->text.blocks);
    free(c->vis.blocks);
    free(c->r_layers);
    pc_nn_binder_free(&c->binder);
    free(c);
}

pc_status pc_clip_from_checkpoint(pc_clip **out, const pc_checkpoint *ck, const pc_clip_config *cfg, pc_pool *pool,
                                  pc_error *err) {
    if (!out || !ck) return pc_err(err, PC_ERR_ARG, "pc_clip_from_checkpoint: NULL argument");
    return pc_clip_create_from_source(out, pc_nn_ck_get, pc_nn_ck_find, (void *)ck, cfg, pool, err);
}

pc_status pc_clip_create_from_source(pc_clip **out, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx,
                                     const pc_clip_config *cfg, pc_pool *pool, pc_error *err) {
    if (!out || !get || !find) return pc_err(err, PC_ERR_ARG, "pc_clip_create_from_source: NULL argument");
    *out = NULL;
    pc_clip *c = (pc_clip *)calloc(1, sizeof(*c));
    if (!c) return pc_err(err, PC_ERR_MEMORY, "CLIP: out of memory");
    if (cfg) c->cfg = *cfg;
    else pc_clip_config_default(&c->cfg);
    if (!c->cfg.text_prefix) c->cfg.text_prefix = "";
    if (!c->cfg.vision_prefix) c->cfg.vision_prefix = "";
    if (!c->cfg.resampler_prefix) c->cfg.resampler_prefix = "";
    c->pool = pool;
    c->src_get = get;
    c->src_find = find;
    c->src_ctx = ctx;
    c->binder.get = pc_clip_src_get;
    c->binder.find = pc_clip_src_find;
    c->binder.ctx = c;
    pc_status st = PC_OK;
    if (c->cfg.load_text) {
        c->prefix = c->cfg.text_prefix;
        st = bind_text(c, err);
    }
    if (st == PC_OK && c->cfg.load_vision) {
        c->prefix = c->cfg.vision_prefix;
        st = bind_vision(c, err);
    }
    if (st == PC_OK && c->cfg.load_resampler) {
        c->prefix = c->cfg.resampler_prefix;
        st = pc_clip_bind_resampler(c, err);
    }
    if (st != PC_OK) {
        pc_clip_free(c);
        return st;
    }
    *out = c;
    return PC_OK;
}

int64_t pc_clip_text_width(const pc_clip *c) { return c->has_text ? c->text.width : 0; }
int64_t pc_clip_vision_width(const pc_clip *c) { return c->has_vision ? c->vis.width : 0; }
int64_t pc_clip_vision_tokens(const pc_clip *c) { return c->has_vision ? c->v_tokens : 0; }
int64_t pc_clip_resampler_queries(const pc_clip *c) { return c->has_rs ? c->r_nq : 0; }
int64_t pc_clip_resampler_out_dim(const pc_clip *c) { return c->has_rs ? c->r_out : 0; }

static pc_status place_all(pc_nn_backend *be, void *model, int measuring, pc_error *err) {
    pc_clip *c = (pc_clip *)model;
    pc_status st = PC_OK;
    if (c->has_text) {
        st = place_tower(be, &c->text, measuring, err);
        if (st == PC_OK) st = pc_nn_layernorm_place(be, &c->lnf, measuring, err);
    }
    if (st == PC_OK && c->has_vision) {
        st = pc_nn_linear_place(be, &c->conv1, measuring, err);
        if (st == PC_OK) st = pc_nn_param_place(be, &c->cls, measuring, err);
        if (st == PC_OK) st = pc_nn_param_place(be, &c->v_pos, measuring, err);
        if (st == PC_OK) st = pc_nn_layernorm_place(be, &c->ln_pre, measuring, err);
        if (st == PC_OK) st = place_tower(be, &c->vis, measuring, err);
    }
    if (st == PC_OK && c->has_rs) st = pc_clip_place_resampler(be, c, measuring, err);
    return st;
}

pc_status pc_clip_set_device(pc_clip *c, const char *device, pc_error *err) {
    if (!c || !device) return pc_err(err, PC_ERR_ARG, "pc_clip_set_device: NULL argument");
    return pc_nn_set_device(&c->dev, device, c->pool, place_all, c, err);
}

const char *pc_clip_get_device(const pc_clip *c) { return c && c->dev ? c->dev->name : "cpu"; }

// ---- resblock --------------------------------------------------------------------------------

// x (B, N, w) f32 in place. causal: additive -inf mask above the diagonal (text tower).
static void block_forward(pc_nn_exec *ex, const pc_clip_tower *t, const pc_clip_block *b, pc_nn_t x, int64_t B,
                          int64_t N, int causal) {
    const int64_t w = t->width, H = t->heads, D = w / H, M = B * N;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t h = pc_nn_new_act(ex, M * w);        // (M, w)
    pc_nn_t qkv = pc_nn_new_act(ex, M * 3 * w);  // (M, 3, H, D)
    pc_nn_t o = pc_nn_new_act(ex, M * w);        // (M, H, D)
    pc_nn_t f = pc_nn_new_act(ex, M * t->mlp);   // (M, mlp)
    pc_nn_layernorm_forward(ex, &b->ln1, h, x, M);
    pc_nn_linear_forward(ex, &b->in_proj, qkv, 3 * w, h, w, M, 0);
    // torch MHA scales q by D^-0.5 before q k^T; softmax over keys.
    pc_nn_sdpa(ex, pc_nn_heads(o, N, w, 0, D), pc_nn_heads(qkv, N, 3 * w, 0, D), pc_nn_heads(qkv, N, 3 * w, w, D),
               pc_nn_heads(qkv, N, 3 * w, 2 * w, D), B, H, N, N, D, 1.0f / sqrtf((float)D), causal);
    pc_nn_linear_forward(ex, &b->out_proj, h, w, o, w, M, 0);
    pc_nn_add(ex, x, x, h, M * w);
    pc_nn_layernorm_forward(ex, &b->ln2, h, x, M);
    pc_nn_linear_forward(ex, &b->fc, f, t->mlp, h, w, M, 0);
    pc_nn_unary(ex, f, f, M * t->mlp, PC_NN_GELU);
    pc_nn_linear_forward(ex, &b->proj, h, w, f, t->mlp, M, 0);
    pc_nn_add(ex, x, x, h, M * w);
    pc_nn_mark_reset(ex, mark);
}

// ---- text ------------------------------------------------------------------------------------

typedef struct text_args {
    pc_clip *c;
    float *out;  // (B, N, w)
    int64_t B;
} text_args;

static void text_forward(pc_nn_exec *ex, void *p) {
    text_args *a = (text_args *)p;
    pc_clip *c = a->c;
    const int64_t N = c->t_ctx, w = c->text.width, M = a->B * N;
    pc_nn_t x = pc_nn_write(ex, a->out, M * w);  // the embeddings the caller's buffer holds, worked on in place
    for (int64_t l = 0; l < c->t_run; l++) {
        block_forward(ex, &c->text, &c->text.blocks[l], x, a->B, N, 1);
        pc_nn_trace(ex, x, 3, (int64_t[]){a->B, N, w}, "text.block%d_out", (int)l);
    }
    pc_nn_layernorm_forward(ex, &c->lnf, x, x, M);
    pc_nn_read_into(ex, a->out, x, M * w);
}

pc_status pc_clip_encode_text(pc_clip *c, float *out, const int64_t *tokens, int64_t B, pc_error *err) {
    if (!c || !out || !tokens || B < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_text: bad argument");
    if (!c->has_text) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_text: text tower not loaded");
    const int64_t N = c->t_ctx, w = c->text.width, M = B * N;
    for (int64_t i = 0; i < M; i++)
        if (tokens[i] < 0 || tokens[i] >= c->t_vocab)
            return pc_err(err, PC_ERR_ARG, "CLIP text: token id %lld at %lld outside [0, %lld)", (long long)tokens[i],
                          (long long)i, (long long)c->t_vocab);
    for (int64_t i = 0; i < M; i++) {  // token_embedding(ids) + positional_embedding, gathered on the host
        int64_t n = i % N;
        for (int64_t j = 0; j < w; j++)
            out[i * w + j] = pc_wt_get(c->tok_emb, tokens[i] * w + j) + pc_wt_get(c->t_pos, n * w + j);
    }
    text_args a = {c, out, B};
    pc_status st = pc_nn_run(c->dev, c->pool, &c->arena, c->trace, c->trace_ctx, text_forward, &a, err);
    return st == PC_OK ? st : pc_err_prefix(err, st, "CLIP text: ");
}

// ---- preprocess (kornia resize + normalize) -------------------------------------------------------

// kornia get_gaussian_kernel1d in float32: x = arange(k) - k//2 (+0.5 if k even), exp(-x^2 / (2 s^2)),
// normalised to sum 1.
static void gaussian_1d(double *g, int k, double sigma) {
    double sum = 0;
    for (int i = 0; i < k; i++) {
        double x = (double)(i - k / 2) + ((k % 2 == 0) ? 0.5 : 0.0);
        g[i] = exp(-(x * x) / (2.0 * (sigma * sigma)));
        sum += g[i];
    }
    for (int i = 0; i < k; i++) g[i] /= sum;
}

static int64_t reflect(int64_t i, int64_t n) {  // torch 'reflect' padding (no edge repeat), |pad| < n
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

// torch upsample_bicubic2d (align_corners=True): per output index the 4 clamped source indices and
// weights, computed in float like the CPU kernel (A = -0.75).
static void cubic_table(int64_t *idx, double *wt, int64_t in, int64_t out) {
    const double A = -0.75;
    double scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
    for (int64_t o = 0; o < out; o++) {
        double real = scale * (double)o;
        double fl = floor(real);
        int64_t i0 = (int64_t)fl;
        double t = real - fl;
        double x1 = t, x2 = 1.0 - t;
        double y1 = x1 + 1.0, y2 = x2 + 1.0;
        wt[o * 4 + 0] = ((A * y1 - 5 * A) * y1 + 8 * A) * y1 - 4 * A;
        wt[o * 4 + 1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1;
        wt[o * 4 + 2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
        wt[o * 4 + 3] = ((A * y2 - 5 * A) * y2 + 8 * A) * y2 - 4 * A;
        for (int j = 0; j < 4; j++) {
            int64_t s = i0 - 1 + j;
            idx[o * 4 + j] = s < 0 ? 0 : (s > in - 1 ? in - 1 : s);
        }
    }
}

typedef struct pre_task {
    float *out;
    const float *img;
    int64_t NC, H, W, S;
    int kx, ky;
    const double *gx, *gy;
    float *tmp;  // (nth, 2, H, W)
    const int64_t *ix, *iy;
    const double *wx, *wy;
} pre_task;

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static void pre_run(void *ctx, int ith, int nth) {
    pre_task *t = (pre_task *)ctx;
    const int64_t H = t->H, W = t->W, S = t->S;
    float *a = t->tmp + (size_t)ith * 2 * H * W, *b = a + H * W;
    int64_t lo, hi;
    pc_split_range(t->NC, ith, nth, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        const float *src = t->img + p * H * W;
        if (t->kx > 0) {  // kornia filter2d_separable: x pass then y pass, reflect padding, cross-correlation
            int rx = t->kx / 2, ry = t->ky / 2;
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    double s = 0;
                    for (int q = 0; q < t->kx; q++) s += t->gx[q] * (double)src[y * W + reflect(x + q - rx, W)];
                    a[y * W + x] = (float)s;
                }
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    double s = 0;
                    for (int q = 0; q < t->ky; q++) s += t->gy[q] * (double)a[reflect(y + q - ry, H) * W + x];
                    b[y * W + x] = (float)s;
                }
            src = b;
        }
        int c = (int)(p % 3);
        float *dst = t->out + p * S * S;
        for (int64_t oy = 0; oy < S; oy++)
            for (int64_t ox = 0; ox < S; ox++) {
                // upsample_generic_Nd: sum over the 4 rows of (row weight * sum over the 4 columns)
                double acc = 0;
                for (int i = 0; i < 4; i++) {
                    const float *row = src + t->iy[oy * 4 + i] * W;
                    double r = 0;
                    for (int j = 0; j < 4; j++) r += row[t->ix[ox * 4 + j]] * t->wx[ox * 4 + j];
                    acc += r * t->wy[oy * 4 + i];
                }
                double v = (acc + 1.0) / 2.0;
                dst[oy * S + ox] = (float)((v - CLIP_MEAN[c]) / CLIP_STD[c]);
            }
    }
}

pc_status pc_clip_preprocess(pc_pool *pool, float *out, const float *image, int64_t B, int64_t H, int64_t W,
                             int64_t size, pc_error *err) {
    if (!out || !image || B < 1 || H < 2 || W < 2 || size < 2 || H > (1 << 15) || W > (1 << 15) || size > 4096)
        return pc_err(err, PC_ERR_ARG, "pc_clip_preprocess: bad argument (B %lld, H %lld, W %lld, size %lld)",
                      (long long)B, (long long)H, (long long)W, (long long)size);
    pre_task t;
    memset(&t, 0, sizeof(t));
    t.out = out;
    t.img = image;
    t.NC = B * 3;
    t.H = H;
    t.W = W;
    t.S = size;
    double gx[64], gy[64];
    // kornia resize(antialias=True): blur only when downscaling along some axis.
    double fy = (double)H / (double)size, fx = (double)W / (double)size;
    if (fy > 1.0 || fx > 1.0) {
        double sy = (fy - 1.0) / 2.0, sx = (fx - 1.0) / 2.0;
        sy = sy > 0.001 ? sy : 0.001;
        sx = sx > 0.001 ? sx : 0.001;
        int ky = (int)(4.0 * sy > 3.0 ? 4.0 * sy : 3.0), kx = (int)(4.0 * sx > 3.0 ? 4.0 * sx : 3.0);
        if (ky % 2 == 0) ky++;
        if (kx % 2 == 0) kx++;
        if (kx > 63 || ky > 63 || kx / 2 >= W || ky / 2 >= H)
            return pc_err(err, PC_ERR_UNSUPPORTED, "CLIP preprocess: %lldx%lld -> %lld needs a %dx%d blur kernel",
                          (long long)H, (long long)W, (long long)size, ky, kx);
        gaussian_1d(gy, ky, sy);
        gaussian_1d(gx, kx, sx);
        t.kx = kx;
        t.ky = ky;
        t.gx = gx;
        t.gy = gy;
    }
    int nth = pc_pool_size(pool);
    int64_t *ix = (int64_t *)malloc(sizeof(int64_t) * 8 * (size_t)size);
    double *wx = (double *)malloc(sizeof(double) * 8 * (size_t)size);
    float *tmp = t.kx ? (float *)malloc(sizeof(float) * 2 * (size_t)(H * W) * (size_t)nth) : NULL;
    if (!ix || !wx || (t.kx && !tmp)) {
        free(ix);
        free(wx);
        free(tmp);
        return pc_err(err, PC_ERR_MEMORY, "CLIP preprocess: out of memory");
    }
    cubic_table(ix, wx, W, size);
    cubic_table(ix + 4 * size, wx + 4 * size, H, size);
    t.ix = ix;
    t.wx = wx;
    t.iy = ix + 4 * size;
    t.wy = wx + 4 * size;
    t.tmp = tmp;
    pc_pool_run(pool, pre_run, &t);
    free(ix);
    free(wx);
    free(tmp);
    return PC_OK;
}

// ---- vision ----------------------------------------------------------------------------------

typedef struct vision_args {
    pc_clip *c;
    float *tokens;     // (B, N, w)
    const float *pre;  // (B, 3, S, S)
    int64_t B;
} vision_args;

static void vision_forward(pc_nn_exec *ex, void *p) {
    vision_args *a = (vision_args *)p;
    pc_clip *c = a->c;
    const int64_t B = a->B, w = c->vis.width, pt = c->v_patch, G = c->v_grid, S = c->v_size, N = c->v_tokens;
    const int64_t M = B * N, K = 3 * pt * pt, P = B * G * G;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t img = pc_nn_write(ex, a->pre, B * 3 * S * S);  // (B, 3, S, S)
    pc_nn_t cols = pc_nn_new_f32(ex, P * K);               // (B, G, G, 3, p, p): patches in the weight's order
    pc_nn_t emb = pc_nn_new_f32(ex, P * w);                // (B, G*G, w)
    pc_nn_t x = pc_nn_output(ex, a->tokens, M * w);        // (B, N, w)
    // conv1 (stride = kernel = p, no bias) as patchify + GEMM
    const int64_t dims[6] = {B, G, G, 3, pt, pt};
    const int64_t cs[6] = {G * G * K, G * K, K, pt * pt, pt, 1};
    const int64_t is[6] = {3 * S * S, pt * S, pt, S * S, S, 1};
    pc_nn_copy(ex, cols, cs, img, is, dims, 6);
    pc_nn_linear_forward(ex, &c->conv1, emb, w, cols, K, P, 0);
    // cat(class_embedding, patches) + positional_embedding
    pc_nn_t cls = pc_nn_param_t(ex, &c->cls), pos = pc_nn_param_t(ex, &c->v_pos);
    for (int64_t b = 0; b < B; b++) {
        pc_nn_t xb = pc_nn_at(x, b * N * w);
        pc_nn_unary(ex, xb, cls, w, PC_NN_COPY);
        pc_nn_unary(ex, pc_nn_at(xb, w), pc_nn_at(emb, b * G * G * w), G * G * w, PC_NN_COPY);
        pc_nn_add(ex, xb, xb, pos, N * w);
    }
    pc_nn_layernorm_forward(ex, &c->ln_pre, x, x, M);
    pc_nn_trace(ex, x, 3, (int64_t[]){B, N, w}, "vit.ln_pre_out");
    for (int64_t l = 0; l < c->vis.layers; l++) {
        block_forward(ex, &c->vis, &c->vis.blocks[l], x, B, N, 0);
        pc_nn_trace(ex, x, 3, (int64_t[]){B, N, w}, "vit.block%d_out", (int)l);
    }
    pc_nn_read_into(ex, a->tokens, x, M * w);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_clip_vision_forward(pc_clip *c, float *tokens, const float *pre, int64_t B, pc_error *err) {
    if (!c || !tokens || !pre || B < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_vision_forward: bad argument");
    if (!c->has_vision) return pc_err(err, PC_ERR_ARG, "pc_clip_vision_forward: vision tower not loaded");
    vision_args a = {c, tokens, pre, B};
    pc_status st = pc_nn_run(c->dev, c->pool, &c->arena, c->trace, c->trace_ctx, vision_forward, &a, err);
    return st == PC_OK ? st : pc_err_prefix(err, st, "CLIP vision: ");
}

pc_status pc_clip_encode_image(pc_clip *c, float *tokens, const float *image, int64_t B, int64_t H, int64_t W,
                               pc_error *err) {
    if (!c || !tokens || !image || B < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_image: bad argument");
    if (!c->has_vision) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_image: vision tower not loaded");
    const int64_t S = c->v_size;
    float *pre = (float *)malloc(sizeof(float) * (size_t)(B * 3 * S * S));  // (B, 3, S, S)
    if (!pre) return pc_err(err, PC_ERR_MEMORY, "CLIP image: out of memory");
    pc_status st = pc_clip_preprocess(c->pool, pre, image, B, H, W, S, err);
    if (st == PC_OK) st = pc_clip_vision_forward(c, tokens, pre, B, err);
    free(pre);
    return st;
}

pc_status pc_clip_cross_context(pc_clip *c, float *out, const int64_t *tokens, const float *image, int64_t img_cs,
                                int64_t H, int64_t W, pc_error *err) {
    if (!c || !out || !tokens || !image || H < 2 || W < 2 || img_cs < 0)
        return pc_err(err, PC_ERR_ARG, "pc_clip_cross_context: bad argument");
    if (!c->has_text || !c->has_vision || !c->has_rs)
        return pc_err(err, PC_ERR_ARG, "pc_clip_cross_context: needs the text tower, the ViT and the Resampler");
    if (c->text.width != c->r_out || c->r_emb != c->vis.width)
        return pc_err(err, PC_ERR_SHAPE,
                      "pc_clip_cross_context: text width %lld != Resampler out %lld or ViT width %lld != Resampler "
                      "input %lld",
                      (long long)c->text.width, (long long)c->r_out, (long long)c->vis.width, (long long)c->r_emb);
    if (img_cs == 0) img_cs = H * W;
    if (img_cs < H * W) return pc_err(err, PC_ERR_ARG, "pc_clip_cross_context: channel stride < H*W");
    const int64_t N = c->v_tokens, vw = c->vis.width;
    float *img = (float *)malloc(sizeof(float) * (size_t)(3 * H * W + N * vw));  // (3, H, W) + (N, vw)
    if (!img) return pc_err(err, PC_ERR_MEMORY, "pc_clip_cross_context: out of memory");
    float *tok = img + 3 * H * W;
    for (int ch = 0; ch < 3; ch++) memcpy(img + ch * H * W, image + ch * img_cs, sizeof(float) * (size_t)(H * W));
    pc_status st = pc_clip_encode_text(c, out, tokens, 1, err);
    if (st == PC_OK) st = pc_clip_encode_image(c, tok, img, 1, H, W, err);
    if (st == PC_OK) st = pc_clip_resample(c, out + c->t_ctx * c->text.width, tok, 1, N, err);
    free(img);
    return st;
}
