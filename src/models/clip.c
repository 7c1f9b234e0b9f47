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
        if ((st = bind_vec(c, &b->ln1_w, K("ln_1.weight"), w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->ln1_b, K("ln_1.bias"), w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->ln2_w, K("ln_2.weight"), w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->ln2_b, K("ln_2.bias"), w, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &b->in_proj_w, K("attn.in_proj_weight"), 3 * w, w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->in_proj_b, K("attn.in_proj_bias"), 3 * w, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &b->out_w, K("attn.out_proj.weight"), w, w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->out_b, K("attn.out_proj.bias"), w, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &b->fc_w, K("mlp.c_fc.weight"), t->mlp, w, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->fc_b, K("mlp.c_fc.bias"), t->mlp, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &b->proj_w, K("mlp.c_proj.weight"), w, t->mlp, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &b->proj_b, K("mlp.c_proj.bias"), w, err)) != PC_OK) return st;
#undef K
    }
    return PC_OK;
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
    if ((st = bind_vec(c, &c->lnf_w, "ln_final.weight", w, err)) != PC_OK) return st;
    if ((st = bind_vec(c, &c->lnf_b, "ln_final.bias", w, err)) != PC_OK) return st;
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
    int64_t cs[4] = {w, 3, p, p};
    if ((st = pc_nn_bind_weight(&c->binder, &c->conv1, "conv1.weight", 4, cs, err)) != PC_OK) return st;
    if ((st = bind_vec(c, &c->cls, "class_embedding", w, err)) != PC_OK) return st;
    if ((st = bind_mat(c, &c->v_pos, "positional_embedding", c->v_tokens, w, err)) != PC_OK) return st;
    if ((st = bind_vec(c, &c->ln_pre_w, "ln_pre.weight", w, err)) != PC_OK) return st;
    if ((st = bind_vec(c, &c->ln_pre_b, "ln_pre.bias", w, err)) != PC_OK) return st;
    if ((st = bind_tower(c, &c->vis, w, c->cfg.vision_heads, err)) != PC_OK) return st;
    c->has_vision = 1;
    return PC_OK;
}

void pc_clip_free(pc_clip *c) {
    if (!c) return;
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

// ---- resblock --------------------------------------------------------------------------------

// Scratch floats one resblock needs for M = B*N tokens.
static size_t block_scratch(const pc_clip_tower *t, int64_t M) {
    return (size_t)M * (size_t)(t->width + 3 * t->width + t->width + (t->mlp > t->width ? t->mlp : t->width));
}

// x (B, N, w) in place. causal: additive -inf mask above the diagonal (text tower).
static pc_status block_forward(pc_clip *c, const pc_clip_tower *t, const pc_clip_block *b, float *x, int64_t B,
                               int64_t N, int causal, float *scratch, pc_error *err) {
    const int64_t w = t->width, H = t->heads, D = w / H, M = B * N;
    float *h = scratch;          // (M, w)
    float *qkv = h + M * w;      // (M, 3w)
    float *o = qkv + M * 3 * w;  // (M, w)
    float *f = o + M * w;        // (M, max(mlp, w))
    pc_pool *pool = c->pool;
    pc_layer_norm(pool, h, x, b->ln1_w, b->ln1_b, M, w, LN_EPS);
    pc_linear(pool, qkv, h, b->in_proj_w, b->in_proj_b, M, 3 * w, w);
    // torch MHA scales q by D^-0.5 before q k^T; softmax over keys.
    const float scale = 1.0f / sqrtf((float)D);
    pc_attn_view q = pc_attn_tokens(qkv, N, 3 * w, 0, D);
    pc_attn_view k = pc_attn_tokens(qkv, N, 3 * w, w, D);
    pc_attn_view v = pc_attn_tokens(qkv, N, 3 * w, 2 * w, D);
    pc_attn_view ov = pc_attn_tokens(o, N, w, 0, D);
    pc_status st;
    if (!causal) {
        st = pc_attention(pool, ov, q, k, v, B, H, N, N, D, scale, err);
        if (st != PC_OK) return st;
    } else {
        // The -inf mask makes keys > i weigh exactly 0: query i attends to keys [0, i].
        for (int64_t i = 0; i < N; i++) {
            pc_attn_view qi = q, oi = ov;
            qi.data += i * q.sn;
            oi.data += i * ov.sn;
            st = pc_attention(pool, oi, qi, k, v, B, H, 1, i + 1, D, scale, err);
            if (st != PC_OK) return st;
        }
    }
    pc_linear(pool, h, o, b->out_w, b->out_b, M, w, w);
    pc_add(pool, x, x, h, M * w);
    pc_layer_norm(pool, h, x, b->ln2_w, b->ln2_b, M, w, LN_EPS);
    pc_linear(pool, f, h, b->fc_w, b->fc_b, M, t->mlp, w);
    pc_gelu(pool, f, f, M * t->mlp);
    pc_linear(pool, h, f, b->proj_w, b->proj_b, M, w, t->mlp);
    pc_add(pool, x, x, h, M * w);
    return PC_OK;
}

// ---- text ------------------------------------------------------------------------------------

pc_status pc_clip_encode_text(pc_clip *c, float *out, const int64_t *tokens, int64_t B, pc_error *err) {
    if (!c || !out || !tokens || B < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_text: bad argument");
    if (!c->has_text) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_text: text tower not loaded");
    const int64_t N = c->t_ctx, w = c->text.width, M = B * N;
    for (int64_t i = 0; i < M; i++)
        if (tokens[i] < 0 || tokens[i] >= c->t_vocab)
            return pc_err(err, PC_ERR_ARG, "CLIP text: token id %lld at %lld outside [0, %lld)", (long long)tokens[i],
                          (long long)i, (long long)c->t_vocab);
    float *scratch = (float *)malloc(sizeof(float) * block_scratch(&c->text, M));
    if (!scratch) return pc_err(err, PC_ERR_MEMORY, "CLIP text: out of memory (%lld tokens)", (long long)M);
    float *x = out;  // (B, N, w), worked on in place
    for (int64_t i = 0; i < M; i++) {
        int64_t n = i % N;
        for (int64_t j = 0; j < w; j++)
            x[i * w + j] = pc_wt_get(c->tok_emb, tokens[i] * w + j) + pc_wt_get(c->t_pos, n * w + j);
    }
    pc_status st = PC_OK;
    for (int64_t l = 0; l < c->t_run && st == PC_OK; l++) {
        st = block_forward(c, &c->text, &c->text.blocks[l], x, B, N, 1, scratch, err);
        char name[64];
        snprintf(name, sizeof(name), "text.block%d_out", (int)l);
        if (st == PC_OK) pc_clip_trace(c, name, x, B, N, w);
    }
    if (st == PC_OK) pc_layer_norm(c->pool, x, x, c->lnf_w, c->lnf_b, M, w, LN_EPS);
    free(scratch);
    return st;
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

pc_status pc_clip_vision_forward(pc_clip *c, float *tokens, const float *pre, int64_t B, pc_error *err) {
    if (!c || !tokens || !pre || B < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_vision_forward: bad argument");
    if (!c->has_vision) return pc_err(err, PC_ERR_ARG, "pc_clip_vision_forward: vision tower not loaded");
    const int64_t w = c->vis.width, p = c->v_patch, G = c->v_grid, S = c->v_size, N = c->v_tokens, M = B * N;
    const int64_t K = 3 * p * p, P = B * G * G;
    size_t n_scr = block_scratch(&c->vis, M);
    size_t n_patch = (size_t)(P * K + P * w);
    float *scratch = (float *)malloc(sizeof(float) * (n_scr > n_patch ? n_scr : n_patch));
    if (!scratch) return pc_err(err, PC_ERR_MEMORY, "CLIP vision: out of memory (%lld images)", (long long)B);
    // conv1 (stride = kernel = p, no bias) as im2col + GEMM; columns in (c, ky, kx) order like the weight.
    float *cols = scratch, *emb = scratch + P * K;  // (P, K), (P, w)
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t gy = 0; gy < G; gy++)
            for (int64_t gx = 0; gx < G; gx++) {
                float *col = cols + ((bi * G + gy) * G + gx) * K;
                for (int64_t ch = 0; ch < 3; ch++)
                    for (int64_t ky = 0; ky < p; ky++)
                        memcpy(col + (ch * p + ky) * p, pre + ((bi * 3 + ch) * S + gy * p + ky) * S + gx * p,
                               sizeof(float) * (size_t)p);
            }
    pc_linear(c->pool, emb, cols, c->conv1, NULL, P, w, K);
    float *x = tokens;  // (B, N, w)
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t n = 0; n < N; n++) {
            float *row = x + (bi * N + n) * w;
            const float *src = n == 0 ? c->cls : emb + (bi * G * G + n - 1) * w;
            for (int64_t j = 0; j < w; j++) row[j] = src[j] + pc_wt_get(c->v_pos, n * w + j);
        }
    pc_layer_norm(c->pool, x, x, c->ln_pre_w, c->ln_pre_b, M, w, LN_EPS);
    pc_clip_trace(c, "vit.ln_pre_out", x, B, N, w);
    pc_status st = PC_OK;
    for (int64_t l = 0; l < c->vis.layers && st == PC_OK; l++) {
        st = block_forward(c, &c->vis, &c->vis.blocks[l], x, B, N, 0, scratch, err);
        char name[64];
        snprintf(name, sizeof(name), "vit.block%d_out", (int)l);
        if (st == PC_OK) pc_clip_trace(c, name, x, B, N, w);
    }
    free(scratch);
    return st;
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
