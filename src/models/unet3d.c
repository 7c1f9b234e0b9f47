// DynamiCrafter 3-D UNet (lvdm/modules/networks/openaimodel3d.py UNetModel, lvdm/modules/attention.py).
//
// Layout: the network works on frames ((b t), c, h, w), frame-major as upstream. Temporal pieces
// (TemporalConvBlock, TemporalTransformer) swap to (b, c, t, h w) so that GroupNorm's statistics span all
// frames and the (3, 1, 1) Conv3d runs on its natural layout.
//
// Weights are bound by their exact state_dict names through an nn binder (views into the mapped checkpoint;
// F32 / F16 / BF16 matrices go to the GEMM as stored). The block structure comes from which keys exist:
// input_blocks.i.j / middle_block.j / output_blocks.i.j with j = ResBlock (in_layers), Downsample (op),
// Upsample (conv) or a transformer (proj_in); the first transformer of a block is the SpatialTransformer,
// the second the TemporalTransformer (upstream order). Activations: one arena, sized by a dry run of the
// same code path: two ping-pong slots for the decoder, the skip tensors hs[], then per-layer temporaries.
#include "models/unet3d_internal.h"
#include "core/rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/conv_fast.h"
#include "core/gemm.h"
#include "core/ops.h"

enum { L_CONV, L_RES, L_SPATIAL, L_TEMPORAL, L_DOWN, L_UP };

typedef struct u_attn {
    pc_nn_linear q, k, v, out, k_ip, v_ip;
    int has_ip;
    int64_t heads, dh, inner;
    float scale;
} u_attn;

typedef struct u_tblock {
    pc_nn_layernorm n1, n2, n3;
    u_attn a1, a2;
    pc_nn_linear ff1, ff2;  // GEGLU proj (2F, D), out (D, F)
} u_tblock;

typedef struct u_xf {
    int64_t c, inner;
    const float *gn_w, *gn_b;
    pc_nn_linear proj_in, proj_out;  // Linear or Conv1d (k = 1) weights
    int depth;
    u_tblock *blk;
} u_xf;

typedef struct u_res {
    int64_t cin, cout;
    const float *gn1_w, *gn1_b, *gn2_w, *gn2_b;
    pc_nn_conv2d conv1, conv2, skip;
    int has_skip;
    pc_nn_linear emb;
    int has_tconv;
    const float *tgn_w[4], *tgn_b[4];
    pc_wt tw[4];
    const float *tb[4];
} u_res;

typedef struct u_layer {
    int kind;
    u_res res;
    u_xf xf;
    pc_nn_conv2d conv;  // conv_in / Downsample.op / Upsample.conv
} u_layer;

typedef struct u_block {
    int n;
    u_layer *l;
} u_block;

#define U_MAX_BLOCKS 64

struct pc_unet {
    pc_unet_config cfg;
    pc_pool *pool;
    pc_nn_binder binder;
    pc_nn_linear te1, te2, fe1, fe2;
    int has_fs;
    u_xf init_attn;
    int has_init_attn;
    u_block in[U_MAX_BLOCKS], mid, out[U_MAX_BLOCKS];
    int n_in, n_out;
    const float *out_gn_w, *out_gn_b;
    pc_nn_conv2d out_conv;
    pc_arena arena;
    int64_t n_params;
    double flops;
    pc_unet_trace_fn trace;
    void *trace_ctx;
    pc_checkpoint *own_ck;
    pc_nn_store rnd;  // owned random weights (pc_unet_create_random)
};

// ---- binding ------------------------------------------------------------------------------------

typedef struct u_bind {
    pc_nn_binder *b;
    const char *pfx;
    pc_error *err;
    int64_t n_params;
} u_bind;

static void kfmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kfmt(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static const pc_tensor *u_find(u_bind *ub, const char *name) {
    char key[320];
    kfmt(key, sizeof(key), "%s%s", ub->pfx, name);
    return ub->b->find(ub->b->ctx, key);
}

// Vector (n) at pfx+name.
static pc_status u_vec(u_bind *ub, const float **v, const char *name, int64_t n) {
    char key[320];
    kfmt(key, sizeof(key), "%s%s", ub->pfx, name);
    pc_status st = pc_nn_bind_vector(ub->b, v, key, n, ub->err);
    if (st == PC_OK) ub->n_params += n;
    return st;
}

// Linear at pfx+name (.weight (out, in) or Conv1d (out, in, 1); .bias when bias).
static pc_status u_linear(u_bind *ub, pc_nn_linear *l, const char *name, int64_t in, int64_t out, int bias) {
    char key[320];
    kfmt(key, sizeof(key), "%s%s.weight", ub->pfx, name);
    const pc_tensor *t = ub->b->find(ub->b->ctx, key);
    int ndim = (t && t->ndim == 3) ? 3 : 2;
    int64_t shape[3] = {out > 0 ? out : -1, in > 0 ? in : -1, 1};
    pc_status st = pc_nn_bind_weight(ub->b, &l->w, key, ndim, shape, ub->err);
    if (st != PC_OK) return st;
    t = ub->b->find(ub->b->ctx, key);
    l->out = t->shape[0];
    l->in = t->shape[1];
    ub->n_params += l->out * l->in;
    l->b = NULL;
    if (bias) {
        kfmt(key, sizeof(key), "%s.bias", name);
        return u_vec(ub, &l->b, key, l->out);
    }
    return PC_OK;
}

static pc_status u_conv(u_bind *ub, pc_nn_conv2d *c, const char *name, int64_t cin, int64_t cout, int64_t k,
                        int64_t stride, int64_t pad) {
    char key[320];
    kfmt(key, sizeof(key), "%s%s", ub->pfx, name);
    pc_status st = pc_nn_conv2d_bind(ub->b, c, key, cin, cout, k, stride, pad, 1, ub->err);
    if (st == PC_OK) ub->n_params += c->cout * c->cin * k * k + c->cout;
    return st;
}

static pc_status bind_res(u_bind *ub, u_res *r, const char *p, int64_t cin, int64_t ted) {
    char k[256];
    pc_status st;
    const pc_tensor *t;
    kfmt(k, sizeof(k), "%s.in_layers.2.weight", p);
    if (!(t = u_find(ub, k)) || t->ndim != 4)
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%s%s' is missing or not a conv weight", ub->pfx, k);
    r->cin = cin;
    r->cout = t->shape[0];
    kfmt(k, sizeof(k), "%s.in_layers.0.weight", p);
    if ((st = u_vec(ub, &r->gn1_w, k, cin)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.in_layers.0.bias", p);
    if ((st = u_vec(ub, &r->gn1_b, k, cin)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.in_layers.2", p);
    if ((st = u_conv(ub, &r->conv1, k, cin, r->cout, 3, 1, 1)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.emb_layers.1", p);
    if ((st = u_linear(ub, &r->emb, k, ted, r->cout, 1)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.out_layers.0.weight", p);
    if ((st = u_vec(ub, &r->gn2_w, k, r->cout)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.out_layers.0.bias", p);
    if ((st = u_vec(ub, &r->gn2_b, k, r->cout)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.out_layers.3", p);
    if ((st = u_conv(ub, &r->conv2, k, r->cout, r->cout, 3, 1, 1)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.skip_connection.weight", p);
    r->has_skip = u_find(ub, k) != NULL;
    if (r->has_skip) {
        kfmt(k, sizeof(k), "%s.skip_connection", p);
        if ((st = u_conv(ub, &r->skip, k, cin, r->cout, 1, 1, 0)) != PC_OK) return st;
    } else if (cin != r->cout) {
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%s%s.skip_connection.weight' is missing (%lld -> %lld channels)",
                      ub->pfx, p, (long long)cin, (long long)r->cout);
    }
    if (r->cout % 32 || cin % 32)
        return pc_err(ub->err, PC_ERR_SHAPE, "UNet: %s%s has %lld -> %lld channels, not multiples of 32 (GroupNorm 32)",
                      ub->pfx, p, (long long)cin, (long long)r->cout);
    kfmt(k, sizeof(k), "%s.temopral_conv.conv1.0.weight", p);
    r->has_tconv = u_find(ub, k) != NULL;
    if (r->has_tconv) {
        for (int i = 0; i < 4; i++) {
            int ci = i == 0 ? 2 : 3;  // conv1: GN, SiLU, Conv3d; conv2..4: GN, SiLU, Dropout, Conv3d
            kfmt(k, sizeof(k), "%s.temopral_conv.conv%d.0.weight", p, i + 1);
            if ((st = u_vec(ub, &r->tgn_w[i], k, r->cout)) != PC_OK) return st;
            kfmt(k, sizeof(k), "%s.temopral_conv.conv%d.0.bias", p, i + 1);
            if ((st = u_vec(ub, &r->tgn_b[i], k, r->cout)) != PC_OK) return st;
            char key[320];
            kfmt(key, sizeof(key), "%s%s.temopral_conv.conv%d.%d.weight", ub->pfx, p, i + 1, ci);
            int64_t shape[5] = {r->cout, r->cout, 3, 1, 1};
            if ((st = pc_nn_bind_weight(ub->b, &r->tw[i], key, 5, shape, ub->err)) != PC_OK) return st;
            ub->n_params += r->cout * r->cout * 3;
            kfmt(k, sizeof(k), "%s.temopral_conv.conv%d.%d.bias", p, i + 1, ci);
            if ((st = u_vec(ub, &r->tb[i], k, r->cout)) != PC_OK) return st;
        }
    }
    return PC_OK;
}

static pc_status bind_attn(u_bind *ub, u_attn *a, const char *p, int64_t dim, int64_t heads, int64_t dh, int ip) {
    char k[256];
    pc_status st;
    a->heads = heads;
    a->dh = dh;
    a->inner = heads * dh;
    a->scale = (float)pow((double)dh, -0.5);
    kfmt(k, sizeof(k), "%s.to_q", p);
    if ((st = u_linear(ub, &a->q, k, dim, a->inner, 0)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.to_k", p);
    if ((st = u_linear(ub, &a->k, k, -1, a->inner, 0)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.to_v", p);
    if ((st = u_linear(ub, &a->v, k, a->k.in, a->inner, 0)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.to_out.0", p);
    if ((st = u_linear(ub, &a->out, k, a->inner, dim, 1)) != PC_OK) return st;
    a->has_ip = 0;
    kfmt(k, sizeof(k), "%s.relative_position_k.embeddings_table", p);
    if (u_find(ub, k))
        return pc_err(ub->err, PC_ERR_UNSUPPORTED, "UNet: '%s%s' present: use_relative_position is not supported",
                      ub->pfx, k);
    if (ip) {
        kfmt(k, sizeof(k), "%s.to_k_ip.weight", p);
        if (u_find(ub, k)) {
            a->has_ip = 1;
            kfmt(k, sizeof(k), "%s.to_k_ip", p);
            if ((st = u_linear(ub, &a->k_ip, k, a->k.in, a->inner, 0)) != PC_OK) return st;
            kfmt(k, sizeof(k), "%s.to_v_ip", p);
            if ((st = u_linear(ub, &a->v_ip, k, a->k.in, a->inner, 0)) != PC_OK) return st;
        }
        kfmt(k, sizeof(k), "%s.alpha", p);
        if (u_find(ub, k))
            return pc_err(ub->err, PC_ERR_UNSUPPORTED,
                          "UNet: '%s%s' present: image_cross_attention_scale_learnable is not supported", ub->pfx, k);
    }
    return PC_OK;
}

// Spatial (temporal = 0) or temporal transformer at p on c channels.
static pc_status bind_xf(u_bind *ub, u_xf *x, const char *p, int64_t c, int64_t heads, int64_t dh, int temporal,
                         int64_t ctx_dim) {
    char k[256];
    pc_status st;
    x->c = c;
    x->inner = heads * dh;
    kfmt(k, sizeof(k), "%s.norm.weight", p);
    if ((st = u_vec(ub, &x->gn_w, k, c)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.norm.bias", p);
    if ((st = u_vec(ub, &x->gn_b, k, c)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.proj_in", p);
    if ((st = u_linear(ub, &x->proj_in, k, c, x->inner, 1)) != PC_OK) return st;
    kfmt(k, sizeof(k), "%s.proj_out", p);
    if ((st = u_linear(ub, &x->proj_out, k, x->inner, c, 1)) != PC_OK) return st;
    int depth = 0;
    for (;;) {
        kfmt(k, sizeof(k), "%s.transformer_blocks.%d.norm1.weight", p, depth);
        if (!u_find(ub, k)) break;
        depth++;
    }
    if (depth == 0)
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%s%s.transformer_blocks.0.norm1.weight' is missing",
                      ub->pfx, p);
    x->depth = depth;
    x->blk = (u_tblock *)calloc((size_t)depth, sizeof(u_tblock));
    if (!x->blk) return pc_err(ub->err, PC_ERR_MEMORY, "UNet: out of memory");
    int64_t D = x->inner;
    for (int d = 0; d < depth; d++) {
        u_tblock *b = &x->blk[d];
        char q[256];
        kfmt(q, sizeof(q), "%s.transformer_blocks.%d", p, d);
        const char *nn[3] = {"norm1", "norm2", "norm3"};
        pc_nn_layernorm *ln[3] = {&b->n1, &b->n2, &b->n3};
        for (int i = 0; i < 3; i++) {
            ln[i]->dim = D;
            ln[i]->eps = 1e-5f;
            kfmt(k, sizeof(k), "%s.%s.weight", q, nn[i]);
            if ((st = u_vec(ub, &ln[i]->w, k, D)) != PC_OK) return st;
            kfmt(k, sizeof(k), "%s.%s.bias", q, nn[i]);
            if ((st = u_vec(ub, &ln[i]->b, k, D)) != PC_OK) return st;
        }
        kfmt(k, sizeof(k), "%s.attn1", q);
        if ((st = bind_attn(ub, &b->a1, k, D, heads, dh, 0)) != PC_OK) return st;
        if (b->a1.k.in != D)
            return pc_err(ub->err, PC_ERR_SHAPE, "UNet: '%s%s.to_k.weight' has %lld inputs, expected %lld (self-attention)",
                          ub->pfx, k, (long long)b->a1.k.in, (long long)D);
        kfmt(k, sizeof(k), "%s.attn2", q);
        if ((st = bind_attn(ub, &b->a2, k, D, heads, dh, !temporal)) != PC_OK) return st;
        int64_t want = temporal ? D : ctx_dim;
        if (b->a2.k.in != want)
            return pc_err(ub->err, PC_ERR_SHAPE, "UNet: '%s%s.to_k.weight' has %lld inputs, expected %lld", ub->pfx, k,
                          (long long)b->a2.k.in, (long long)want);
        kfmt(k, sizeof(k), "%s.ff.net.0.proj", q);
        if ((st = u_linear(ub, &b->ff1, k, D, -1, 1)) != PC_OK) return st;
        if (b->ff1.out % 2)
            return pc_err(ub->err, PC_ERR_SHAPE, "UNet: '%s%s.weight' has an odd output width (GEGLU)", ub->pfx, k);
        kfmt(k, sizeof(k), "%s.ff.net.2", q);
        if ((st = u_linear(ub, &b->ff2, k, b->ff1.out / 2, D, 1)) != PC_OK) return st;
    }
    return PC_OK;
}

static pc_status bind_block(u_bind *ub, u_block *blk, const char *p, int64_t *ch, pc_unet_config *cfg, int is_first) {
    char k[256];
    pc_status st;
    int n = 0;
    for (;;) {
        // a layer exists when one of the kinds we know has its first key there
        const char *probes[] = {"weight", "in_layers.0.weight", "op.weight", "conv.weight", "norm.weight"};
        int found = 0;
        for (int i = 0; i < 5 && !found; i++) {
            char q[300];
            kfmt(q, sizeof(q), "%s.%d.%s", p, n, probes[i]);
            found = u_find(ub, q) != NULL;
        }
        if (!found) break;
        n++;
    }
    if (n == 0) return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: no tensors under '%s%s.0.'", ub->pfx, p);
    blk->l = (u_layer *)calloc((size_t)n, sizeof(u_layer));
    if (!blk->l) return pc_err(ub->err, PC_ERR_MEMORY, "UNet: out of memory");
    blk->n = n;
    int n_xf = 0;
    for (int j = 0; j < n; j++) {
        u_layer *L = &blk->l[j];
        char q[256];
        kfmt(q, sizeof(q), "%s.%d", p, j);
        kfmt(k, sizeof(k), "%s.in_layers.0.weight", q);
        if (u_find(ub, k)) {
            L->kind = L_RES;
            if ((st = bind_res(ub, &L->res, q, *ch, cfg->time_embed_dim)) != PC_OK) return st;
            *ch = L->res.cout;
            continue;
        }
        kfmt(k, sizeof(k), "%s.op.weight", q);
        if (u_find(ub, k)) {
            L->kind = L_DOWN;
            kfmt(k, sizeof(k), "%s.op", q);
            if ((st = u_conv(ub, &L->conv, k, *ch, -1, 3, 2, 1)) != PC_OK) return st;
            *ch = L->conv.cout;
            continue;
        }
        kfmt(k, sizeof(k), "%s.conv.weight", q);
        if (u_find(ub, k)) {
            L->kind = L_UP;
            kfmt(k, sizeof(k), "%s.conv", q);
            if ((st = u_conv(ub, &L->conv, k, *ch, -1, 3, 1, 1)) != PC_OK) return st;
            *ch = L->conv.cout;
            continue;
        }
        kfmt(k, sizeof(k), "%s.norm.weight", q);
        if (u_find(ub, k)) {
            int temporal = n_xf == 1 && cfg->temporal_attention;
            if (n_xf >= 2) return pc_err(ub->err, PC_ERR_FORMAT, "UNet: more than two transformers in '%s%s'", ub->pfx, p);
            n_xf++;
            L->kind = temporal ? L_TEMPORAL : L_SPATIAL;
            if (*ch % cfg->num_head_channels)
                return pc_err(ub->err, PC_ERR_SHAPE, "UNet: %s%s: %lld channels not divisible by num_head_channels %d",
                              ub->pfx, q, (long long)*ch, cfg->num_head_channels);
            if (*ch % 32)
                return pc_err(ub->err, PC_ERR_SHAPE, "UNet: %s%s: %lld channels not a multiple of 32", ub->pfx, q,
                              (long long)*ch);
            int64_t heads = *ch / cfg->num_head_channels;
            if ((st = bind_xf(ub, &L->xf, q, *ch, heads, cfg->num_head_channels, temporal, cfg->context_dim)) != PC_OK)
                return st;
            if (!temporal && L->xf.blk[0].a2.has_ip) cfg->image_cross_attention = 1;
            continue;
        }
        kfmt(k, sizeof(k), "%s.weight", q);
        if (is_first && j == 0 && u_find(ub, k)) {
            L->kind = L_CONV;
            if ((st = u_conv(ub, &L->conv, q, cfg->in_channels, cfg->model_channels, 3, 1, 1)) != PC_OK) return st;
            *ch = L->conv.cout;
            continue;
        }
        return pc_err(ub->err, PC_ERR_FORMAT, "UNet: unknown layer kind at '%s%s'", ub->pfx, q);
    }
    return PC_OK;
}

static void free_block(u_block *b) {
    for (int j = 0; j < b->n; j++) free(b->l[j].xf.blk);
    free(b->l);
    b->l = NULL;
    b->n = 0;
}

void pc_unet_config_default(pc_unet_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->num_head_channels = 64;
    cfg->init_attn_heads = 8;
    cfg->temporal_attention = 1;
    cfg->text_context_len = 77;
    cfg->image_tokens_per_frame = 16;
    cfg->image_cross_attention_scale = 1.0f;
    cfg->default_fs = 24;
    // the rest is from shapes; the 512-interp values for pc_unet_create_random
    cfg->in_channels = 8;
    cfg->out_channels = 4;
    cfg->model_channels = 320;
    cfg->time_embed_dim = 1280;
    cfg->context_dim = 1024;
    cfg->n_levels = 4;
    cfg->channel_mult[0] = 1;
    cfg->channel_mult[1] = 2;
    cfg->channel_mult[2] = 4;
    cfg->channel_mult[3] = 4;
    cfg->num_res_blocks = 2;
    cfg->fs_condition = 1;
    cfg->image_cross_attention = 1;
    cfg->init_attn = 1;
}

static pc_status bind_all(pc_unet *u, u_bind *ub) {
    pc_unet_config *c = &u->cfg;
    pc_status st;
    const pc_tensor *t = u_find(ub, "input_blocks.0.0.weight");
    if (!t || t->ndim != 4)
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%sinput_blocks.0.0.weight' is missing or not 4-D",
                      ub->pfx);
    c->model_channels = (int)t->shape[0];
    c->in_channels = (int)t->shape[1];
    t = u_find(ub, "time_embed.0.weight");
    if (!t || t->ndim != 2)
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%stime_embed.0.weight' is missing or not 2-D", ub->pfx);
    c->time_embed_dim = (int)t->shape[0];
    if (c->model_channels % 2 || c->model_channels % 32)
        return pc_err(ub->err, PC_ERR_SHAPE, "UNet: model_channels %d is not a multiple of 32", c->model_channels);
    if ((st = u_linear(ub, &u->te1, "time_embed.0", c->model_channels, c->time_embed_dim, 1)) != PC_OK) return st;
    if ((st = u_linear(ub, &u->te2, "time_embed.2", c->time_embed_dim, c->time_embed_dim, 1)) != PC_OK) return st;
    u->has_fs = u_find(ub, "fps_embedding.0.weight") != NULL;
    c->fs_condition = u->has_fs;
    if (u->has_fs) {
        if ((st = u_linear(ub, &u->fe1, "fps_embedding.0", c->model_channels, c->time_embed_dim, 1)) != PC_OK) return st;
        if ((st = u_linear(ub, &u->fe2, "fps_embedding.2", c->time_embed_dim, c->time_embed_dim, 1)) != PC_OK)
            return st;
    }
    // context_dim from the first spatial attn2.to_k we can find
    c->context_dim = 0;
    for (int i = 0; i < U_MAX_BLOCKS && !c->context_dim; i++) {
        char k[128];
        kfmt(k, sizeof(k), "input_blocks.%d.1.transformer_blocks.0.attn2.to_k.weight", i);
        t = u_find(ub, k);
        if (t && t->ndim == 2) c->context_dim = (int)t->shape[1];
    }
    if (!c->context_dim) {
        t = u_find(ub, "middle_block.1.transformer_blocks.0.attn2.to_k.weight");
        if (t && t->ndim == 2) c->context_dim = (int)t->shape[1];
    }
    int64_t ch = c->in_channels;
    int64_t chans[U_MAX_BLOCKS];
    u->n_in = 0;
    int levels = 1;
    for (int i = 0; i < U_MAX_BLOCKS; i++) {
        char p[64], k[128];
        kfmt(p, sizeof(p), "input_blocks.%d", i);
        kfmt(k, sizeof(k), "input_blocks.%d.0.weight", i);
        int has = u_find(ub, k) != NULL;
        kfmt(k, sizeof(k), "input_blocks.%d.0.in_layers.0.weight", i);
        has |= u_find(ub, k) != NULL;
        kfmt(k, sizeof(k), "input_blocks.%d.0.op.weight", i);
        has |= u_find(ub, k) != NULL;
        if (!has) break;
        if ((st = bind_block(ub, &u->in[i], p, &ch, c, i == 0)) != PC_OK) return st;
        u->n_in = i + 1;
        chans[i] = ch;
        if (u->in[i].l[0].kind == L_DOWN) levels++;
        if (i == 0) {
            u->has_init_attn = u_find(ub, "init_attn.0.norm.weight") != NULL;
            c->init_attn = u->has_init_attn;
            if (u->has_init_attn) {
                if ((st = bind_xf(ub, &u->init_attn, "init_attn.0", ch, c->init_attn_heads, c->num_head_channels, 1,
                                  0)) != PC_OK)
                    return st;
            }
        }
    }
    if (u->n_in < 2) return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%sinput_blocks.1.0.in_layers.0.weight' is missing", ub->pfx);
    c->n_levels = levels;
    if (levels > PC_UNET_MAX_LEVELS) return pc_err(ub->err, PC_ERR_SHAPE, "UNet: %d levels (max %d)", levels, PC_UNET_MAX_LEVELS);
    // res blocks per level: blocks between downsamples
    c->num_res_blocks = 0;
    for (int i = 1; i < u->n_in && u->in[i].l[0].kind == L_RES; i++) c->num_res_blocks++;
    {
        int lev = 0;
        for (int i = 1; i < u->n_in; i++) {
            if (u->in[i].l[0].kind == L_DOWN) lev++;
            else c->channel_mult[lev] = (int)(chans[i] / c->model_channels);
        }
    }
    if ((st = bind_block(ub, &u->mid, "middle_block", &ch, c, 0)) != PC_OK) return st;
    // output blocks: input channels = ch + skip channels, popped in reverse
    int sp = u->n_in;
    u->n_out = 0;
    for (int i = 0; i < U_MAX_BLOCKS; i++) {
        char p[64], k[128];
        kfmt(p, sizeof(p), "output_blocks.%d", i);
        kfmt(k, sizeof(k), "output_blocks.%d.0.in_layers.0.weight", i);
        if (!u_find(ub, k)) break;
        if (sp == 0) return pc_err(ub->err, PC_ERR_FORMAT, "UNet: more output blocks than skip connections");
        ch += chans[--sp];
        if ((st = bind_block(ub, &u->out[i], p, &ch, c, 0)) != PC_OK) return st;
        u->n_out = i + 1;
    }
    if (sp != 0)
        return pc_err(ub->err, PC_ERR_NOT_FOUND, "UNet: tensor '%soutput_blocks.%d.0.in_layers.0.weight' is missing",
                      ub->pfx, u->n_out);
    if ((st = u_vec(ub, &u->out_gn_w, "out.0.weight", ch)) != PC_OK) return st;
    if ((st = u_vec(ub, &u->out_gn_b, "out.0.bias", ch)) != PC_OK) return st;
    if ((st = u_conv(ub, &u->out_conv, "out.2", ch, -1, 3, 1, 1)) != PC_OK) return st;
    c->out_channels = (int)u->out_conv.cout;
    if (c->image_cross_attention && c->text_context_len <= 0)
        return pc_err(ub->err, PC_ERR_ARG, "UNet: text_context_len must be positive");
    return PC_OK;
}

pc_status pc_unet_create_from_source(pc_unet **out, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx,
                                     const char *prefix, const pc_unet_config *cfg, pc_pool *pool, pc_error *err) {
    *out = NULL;
    pc_unet *u = (pc_unet *)calloc(1, sizeof(*u));
    if (!u) return pc_err(err, PC_ERR_MEMORY, "UNet: out of memory");
    if (cfg) u->cfg = *cfg;
    else pc_unet_config_default(&u->cfg);
    if (u->cfg.num_head_channels <= 0 || u->cfg.init_attn_heads <= 0 || u->cfg.text_context_len <= 0 ||
        u->cfg.image_tokens_per_frame <= 0) {
        free(u);
        return pc_err(err, PC_ERR_ARG, "UNet config: num_head_channels, init_attn_heads, text_context_len and "
                                       "image_tokens_per_frame must be positive");
    }
    u->cfg.image_cross_attention = 0;
    u->pool = pool;
    u->binder.get = get;
    u->binder.find = find;
    u->binder.ctx = ctx;
    const char *pfx = prefix;
    if (!pfx) pfx = find(ctx, "model.diffusion_model.input_blocks.0.0.weight") ? "model.diffusion_model." : "";
    u_bind ub = {&u->binder, pfx, err, 0};
    pc_status st = bind_all(u, &ub);
    if (st != PC_OK) {
        pc_unet_free(u);
        return st;
    }
    u->n_params = ub.n_params;
    *out = u;
    return PC_OK;
}

pc_status pc_unet_from_checkpoint(pc_unet **unet, const pc_checkpoint *ck, const char *prefix,
                                  const pc_unet_config *cfg, pc_pool *pool, pc_error *err) {
    if (!unet || !ck) return pc_err(err, PC_ERR_ARG, "pc_unet_from_checkpoint: NULL argument");
    return pc_unet_create_from_source(unet, pc_nn_ck_get, pc_nn_ck_find, (void *)ck, prefix, cfg, pool, err);
}

pc_status pc_unet_load(pc_unet **unet, const char *path, const pc_unet_config *cfg, pc_pool *pool, pc_error *err) {
    if (!unet || !path) return pc_err(err, PC_ERR_ARG, "pc_unet_load: NULL argument");
    *unet = NULL;
    pc_checkpoint *ck;
    pc_status st = pc_checkpoint_open(&ck, path, err);
    if (st != PC_OK) return st;
    st = pc_unet_from_checkpoint(unet, ck, NULL, cfg, pool, err);
    if (st != PC_OK) {
        pc_checkpoint_close(ck);
        return st;
    }
    (*unet)->own_ck = ck;
    return PC_OK;
}

void pc_unet_free(pc_unet *u) {
    if (!u) return;
    pc_arena_free(&u->arena);
    pc_nn_binder_free(&u->binder);
    for (int i = 0; i < U_MAX_BLOCKS; i++) {  // also blocks of a failed bind (calloc'ed: empty ones are zero)
        free_block(&u->in[i]);
        free_block(&u->out[i]);
    }
    free_block(&u->mid);
    free(u->init_attn.blk);
    if (u->own_ck) pc_checkpoint_close(u->own_ck);
    pc_nn_store_free(&u->rnd);
    free(u);
}

const pc_unet_config *pc_unet_get_config(const pc_unet *u) { return &u->cfg; }
int64_t pc_unet_num_params(const pc_unet *u) { return u->n_params; }
double pc_unet_last_flops(const pc_unet *u) { return u->flops; }
size_t pc_unet_arena_bytes(const pc_unet *u) { return u->arena.size; }
void pc_unet_set_trace(pc_unet *u, pc_unet_trace_fn fn, void *ctx) {
    u->trace = fn;
    u->trace_ctx = ctx;
}

// ---- small kernels ------------------------------------------------------------------------------

// y (B, Q, P, S) = x (B, P, Q, S) with S-element rows moved whole.
typedef struct swap_ctx {
    float *y;
    const float *x;
    int64_t B, P, Q, S;
} swap_ctx;

static void swap_task(void *vctx, int ith, int nth) {
    swap_ctx *c = (swap_ctx *)vctx;
    int64_t b0, b1;
    pc_split_range(c->B * c->P * c->Q, ith, nth, &b0, &b1);
    for (int64_t r = b0; r < b1; r++) {  // r indexes x rows (b, p, q)
        int64_t q = r % c->Q, p = (r / c->Q) % c->P, b = r / (c->P * c->Q);
        memcpy(c->y + ((b * c->Q + q) * c->P + p) * c->S, c->x + r * c->S, (size_t)c->S * sizeof(float));
    }
}

static void swap_pq(pc_pool *pool, float *y, const float *x, int64_t B, int64_t P, int64_t Q, int64_t S) {
    swap_ctx c = {y, x, B, P, Q, S};
    pc_pool_run(pool, swap_task, &c);
}

// ---- forward ------------------------------------------------------------------------------------

typedef struct u_run {
    pc_nn_exec ex;
    pc_unet *u;
    int64_t B, T;
    const float *ctx;      // (B, L, Dc)
    int64_t L;
    int per_frame;         // L == text + T * image_tokens_per_frame
    const float *emb_silu; // (B, ted) SiLU(emb)
    double flops;
} u_run;

static int ok(u_run *r) { return pc_nn_ok(&r->ex); }

static void lin(u_run *r, const pc_nn_linear *l, float *y, const float *x, int64_t M) {
    r->flops += 2.0 * (double)M * (double)l->in * (double)l->out;
    if (!ok(r)) return;
    pc_linear(r->ex.pool, y, x, l->w, l->b, M, l->out, l->in);
}

// y (M, out) += x W^T + b
static void lin_acc(u_run *r, const pc_nn_linear *l, float *y, const float *x, int64_t M) {
    r->flops += 2.0 * (double)M * (double)l->in * (double)l->out;
    if (!ok(r)) return;
    pc_mat W = {l->w.data, l->w.dtype, l->in, 1};
    pc_gemm(r->ex.pool, y, l->out, pc_mat_f32(x, l->in, 0), W, M, l->out, l->in, 1.0f, 1.0f, l->b);
}

// Frames tiled into one large image for the stride-1 "same" convs: pc_convf's panels never cross an output
// row, so narrow frames (the UNet's deeper levels) waste most of each 32-wide panel, and the Winograd weight
// transform runs once per call. Frame (a, b) of a Gr x Gc grid sits at rows a*(H+pad), columns b*(W+pad) of
// xs (cin, Gr*(H+pad), Gc*(W+pad)); the pad rows / columns between frames are zero, so every frame sees its
// own zero padding. Output frame (a, b) is at rows a*(H+pad)*up, columns b*(W+pad)*up of ys; the separator
// outputs are computed and dropped.
typedef struct grid_ctx {
    float *xs;        // stacked (C, HS, WS)
    float *y;         // unstack: (n, C, OH, OW)
    const float *x;   // stack: (n, C, H, W); unstack: NULL
    const float *bias, *res;  // unstack: bias (n, C) or NULL, res like y or NULL
    int64_t n, C, H, W, Gc, PH, PW, HS, WS;  // frame (H, W) at rows a*PH, cols b*PW
} grid_ctx;

static void stack_task(void *vctx, int ith, int nth) {  // xs (C, HS, WS) <- x (n, C, H, W), zeros elsewhere
    grid_ctx *c = (grid_ctx *)vctx;
    int64_t c0, c1, HW = c->H * c->W;
    pc_split_range(c->C, ith, nth, &c0, &c1);
    for (int64_t ci = c0; ci < c1; ci++) {
        float *d = c->xs + ci * c->HS * c->WS;
        memset(d, 0, (size_t)(c->HS * c->WS) * sizeof(float));
        for (int64_t g = 0; g < c->n; g++) {
            const float *src = c->x + (g * c->C + ci) * HW;
            float *dg = d + (g / c->Gc) * c->PH * c->WS + (g % c->Gc) * c->PW;
            for (int64_t h = 0; h < c->H; h++) memcpy(dg + h * c->WS, src + h * c->W, (size_t)c->W * sizeof(float));
        }
    }
}

static void unstack_task(void *vctx, int ith, int nth) {  // y (n, C, H, W) <- ys (C, HS, WS) + bias + res
    grid_ctx *c = (grid_ctx *)vctx;
    int64_t r0, r1, HW = c->H * c->W;
    pc_split_range(c->n * c->C, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {  // r = (g, co)
        int64_t g = r / c->C, co = r % c->C;
        const float *s = c->xs + co * c->HS * c->WS + (g / c->Gc) * c->PH * c->WS + (g % c->Gc) * c->PW;
        float *d = c->y + r * HW;
        const float *rs = c->res ? c->res + r * HW : NULL;
        float bv = c->bias ? c->bias[r] : 0.0f;
        for (int64_t h = 0; h < c->H; h++) {
            const float *sh = s + h * c->WS;
            float *dh = d + h * c->W;
            if (rs)
                for (int64_t j = 0; j < c->W; j++) dh[j] = sh[j] + bv + rs[h * c->W + j];
            else
                for (int64_t j = 0; j < c->W; j++) dh[j] = sh[j] + bv;
        }
    }
}

static void convf_run(u_run *r, const pc_convf_desc *d, pc_wt w, float *y, const float *x, const float *bias,
                      const float *res, pc_convf_prec prec, void *ws, size_t wsb) {
    if (!ok(r)) return;
    pc_status st = pc_convf(r->ex.pool, y, x, w, bias, res, d, prec, ws, wsb, r->ex.err);
    if (st != PC_OK) pc_nn_fail(&r->ex, st);
}

typedef struct fin_ctx {
    float *y;
    const float *o, *bias, *cb, *res;  // bias (N / fpb, C) or NULL (then cb (C) or NULL); res NULL or like y
    int64_t N, C, HW, fpb;
} fin_ctx;

static void finish_task(void *vctx, int ith, int nth) {  // y = o + bias + res, any of o / res may be y
    fin_ctx *c = (fin_ctx *)vctx;
    int64_t r0, r1;
    pc_split_range(c->N * c->C, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {  // r = (f, co)
        int64_t f = r / c->C, co = r % c->C;
        float bv = c->bias ? c->bias[(f / c->fpb) * c->C + co] : c->cb ? c->cb[co] : 0.0f;
        const float *o = c->o + r * c->HW, *rs = c->res ? c->res + r * c->HW : NULL;
        float *d = c->y + r * c->HW;
        if (rs)
            for (int64_t j = 0; j < c->HW; j++) d[j] = o[j] + bv + rs[j];
        else
            for (int64_t j = 0; j < c->HW; j++) d[j] = o[j] + bv;
    }
}

// The im2col + pc_gemm convolution (core/ops.h pc_conv2d, all frames side by side in one GEMM) with conv_ex's
// bias / res semantics (up 1 only): better than pc_convf for small frames, where pc_convf's per-call weight
// transform / packing outweighs the GEMM, and for the stride-2 and narrow-channel layers.
static void conv_im2col(u_run *r, const pc_nn_conv2d *c, float *y, const float *x, int64_t N, int64_t H, int64_t W,
                        const float *bias, int64_t fpb, const float *res, int64_t OHW) {
    pc_conv2d_desc d = pc_conv2d_make(N, c->cin, H, W, c->cout, c->k, c->k, c->stride, c->pad, c->pad);
    size_t wsb = pc_conv2d_workspace(&d);
    float *ws = wsb ? pc_nn_alloc(&r->ex, (wsb + sizeof(float) - 1) / sizeof(float)) : NULL;
    int fuse = bias || res;
    float *o = res == y ? pc_nn_alloc(&r->ex, (size_t)(N * c->cout * OHW)) : y;  // (N, cout, OHW)
    if (!ok(r)) return;
    pc_status st = pc_conv2d(r->ex.pool, o, x, c->w, fuse ? NULL : c->b, &d, ws, wsb, r->ex.err);
    if (st != PC_OK) {
        pc_nn_fail(&r->ex, st);
        return;
    }
    if (fuse) {
        fin_ctx fc = {y, o, bias, c->b, res, N, c->cout, OHW, fpb};
        pc_pool_run(r->ex.pool, finish_task, &fc);
    }
}

// dst (n) = w as float32: pc_convf's Winograd weight transform has a vector path for f32 weights only.
typedef struct cvt_ctx {
    float *dst;
    pc_wt w;
    int64_t n;
} cvt_ctx;

static void cvt_task(void *vctx, int ith, int nth) {
    cvt_ctx *c = (cvt_ctx *)vctx;
    int64_t i0, i1;
    pc_split_range(c->n, ith, nth, &i0, &i1);
    if (c->w.dtype == PC_BF16) {  // bf16 -> f32 is exact: the high half of the f32 bits
        const uint16_t *s = (const uint16_t *)c->w.data;
        for (int64_t i = i0; i < i1; i++) {
            uint32_t u = (uint32_t)s[i] << 16;
            memcpy(c->dst + i, &u, sizeof(u));
        }
    } else {
        for (int64_t i = i0; i < i1; i++) c->dst[i] = pc_wt_get(c->w, i);
    }
}

// Columns per output row that pc_convf computes for a stacked width of gc frames: 32-wide panels, of
// 2-column Winograd tiles (3x3 layers with >= 16 channels) or of output pixels.
static int64_t grid_cols(const pc_nn_conv2d *c, int64_t W, int64_t up, int64_t gc) {
    int64_t ow = (gc * (W + c->pad) - c->pad) * up;
    int wino = c->k == 3 && c->cin >= 16 && c->cout >= 16;
    return wino ? (ow + 63) / 64 * 64 : (ow + 31) / 32 * 32;
}

// y (N, cout, OH, OW) = conv(up(x)) + bias + res through core/conv_fast.h (Winograd F(2x2, 3x3) for the 3x3
// stride-1 layers, implicit GEMM otherwise; no im2col matrix, no upsampled copy). x (N, cin, H, W); up: nearest
// upsampling folded into the conv (Upsample), 1 = none. bias: NULL = the conv's own; else (N / fpb, cout),
// frame f takes row f / fpb (conv bias + time embedding fused). res: NULL or (N, cout, OH, OW), may be y.
// Precision follows the pool's GEMM switch (pc_pool_gemm_bf16). Stride-1 "same" convs run on a grid of frames
// (grid from the sizes only: same result for any thread count), 1x1 convs as one row per frame, the others
// frame by frame.
static void conv_ex(u_run *r, const pc_nn_conv2d *c, float *y, const float *x, int64_t N, int64_t H, int64_t W,
                    int64_t up, const float *bias, int64_t fpb, const float *res) {
    pc_convf_desc d = pc_convf_make(c->cin, H, W, c->cout, c->k, c->stride, c->pad);
    d.up = up;
    int64_t OH, OW;
    pc_convf_out_size(&d, &OH, &OW);
    r->flops += 2.0 * (double)N * (double)OH * (double)OW * (double)c->cout * (double)c->cin * (double)(c->k * c->k);
    pc_convf_prec prec = pc_pool_gemm_bf16(r->ex.pool) ? PC_CONVF_BF16 : PC_CONVF_F32;
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t xs = c->cin * H * W, ys = c->cout * OH * OW;
    int64_t Gc = 1, Gr = 1;
    int same = c->stride == 1 && c->pad >= 1 && c->k == 2 * c->pad + 1;
    // pc_convf where it wins (measured per layer on the DynamiCrafter-512 shapes, bench_unet): Winograd layers
    // with >= 128 output pixels per frame, 1x1 convs with >= 512, and every Upsample conv (no upsampled copy);
    // im2col + GEMM (all frames in one GEMM, weights packed once) for the rest: the 5x8 level, the stride-2
    // Downsample convs, conv_in (8 channels)
    int wino = c->k == 3 && c->stride == 1 && c->pad == 1 && c->cin >= 16 && c->cout >= 16;
    int pw = c->k == 1 && c->stride == 1 && c->pad == 0;
    if (up == 1 && !(wino && OH * OW >= 128) && !(pw && OH * OW >= 512)) {
        conv_im2col(r, c, y, x, N, H, W, bias, fpb, res, OH * OW);
        pc_arena_reset(r->ex.arena, mark);
        return;
    }
    if (same) {
        // columns: fewest computed panel columns over all frames (ceil(N / gc) rows of gc frames), ties to wider
        int64_t best = -1;
        for (int64_t gc = 1; gc <= N && gc * (W + c->pad) * up <= 4096; gc++) {
            int64_t cost = (N + gc - 1) / gc * grid_cols(c, W, up, gc);
            if (best < 0 || cost <= best) best = cost, Gc = gc;
        }
        // rows: as many as fit 32 MiB per stacked buffer
        int64_t PH = H + c->pad, PW = W + c->pad;
        int64_t per = PC_MAX(c->cin * PH * (Gc * PW), c->cout * PH * up * up * (Gc * PW));  // floats per grid row
        Gr = PC_MIN((N + Gc - 1) / Gc, PC_MAX((int64_t)1, ((int64_t)8 << 20) / per));
    }
    pc_wt wt = c->w;
    if (wino && wt.dtype != PC_F32) {  // f16 / bf16 weights: one f32 copy per call, for the vector transform
        float *wf = pc_nn_alloc(&r->ex, (size_t)(c->cout * c->cin * 9));  // (cout, cin, 3, 3)
        cvt_ctx cc = {wf, wt, c->cout * c->cin * 9};
        if (ok(r)) pc_pool_run(r->ex.pool, cvt_task, &cc);
        wt = pc_wt_f32(wf);
    }
    if (same && Gr * Gc > 1) {
        int64_t PH = H + c->pad, PW = W + c->pad, HS = Gr * PH - c->pad, WS = Gc * PW - c->pad, G = Gr * Gc;
        pc_convf_desc ds = pc_convf_make(c->cin, HS, WS, c->cout, c->k, 1, c->pad);
        ds.up = up;
        size_t wsb = pc_convf_workspace(&ds, prec, pc_pool_size(r->ex.pool));
        float *ws = pc_nn_alloc(&r->ex, (wsb + sizeof(float) - 1) / sizeof(float));
        float *xst = pc_nn_alloc(&r->ex, (size_t)(c->cin * HS * WS));            // (cin, HS, WS)
        float *yst = pc_nn_alloc(&r->ex, (size_t)(c->cout * HS * up * WS * up));  // (cout, HS up, WS up)
        float *bb = pc_nn_alloc(&r->ex, (size_t)(G * c->cout));                   // (G, cout)
        for (int64_t f0 = 0; f0 < N && ok(r); f0 += G) {
            int64_t n = PC_MIN(G, N - f0), hs = (n + Gc - 1) / Gc * PH - c->pad;  // fewer rows for a last, partial grid
            grid_ctx sc = {xst, NULL, x + f0 * xs, NULL, NULL, n, c->cin, H, W, Gc, PH, PW, hs, WS};
            pc_pool_run(r->ex.pool, stack_task, &sc);
            ds.H = hs;
            convf_run(r, &ds, wt, yst, xst, NULL, NULL, prec, ws, wsb);
            const float *bp = NULL;
            if (bias || c->b) {
                for (int64_t i = 0; i < n; i++)
                    memcpy(bb + i * c->cout, bias ? bias + ((f0 + i) / fpb) * c->cout : c->b, (size_t)c->cout * sizeof(float));
                bp = bb;
            }
            grid_ctx uc = {yst, y + f0 * ys, NULL, bp, res ? res + f0 * ys : NULL, n, c->cout, OH, OW, Gc, PH * up, PW * up,
                           hs * up, WS * up};
            if (ok(r)) pc_pool_run(r->ex.pool, unstack_task, &uc);
        }
    } else {
        if (c->k == 1 && c->stride == 1 && c->pad == 0 && up == 1) {  // 1x1: each frame as one row of H*W pixels
            d.H = 1;
            d.W = H * W;
        }
        size_t wsb = pc_convf_workspace(&d, prec, pc_pool_size(r->ex.pool));
        float *ws = pc_nn_alloc(&r->ex, (wsb + sizeof(float) - 1) / sizeof(float));
        for (int64_t f = 0; f < N; f++)
            convf_run(r, &d, wt, y + f * ys, x + f * xs, bias ? bias + (f / fpb) * c->cout : c->b,
                      res ? res + f * ys : NULL, prec, ws, wsb);
    }
    pc_arena_reset(r->ex.arena, mark);
}

static void conv(u_run *r, const pc_nn_conv2d *c, float *y, const float *x, int64_t N, int64_t H, int64_t W) {
    conv_ex(r, c, y, x, N, H, W, 1, NULL, 1, NULL);
}

static void attend(u_run *r, pc_attn_view o, pc_attn_view q, pc_attn_view k, pc_attn_view v, int64_t nb, int64_t H,
                   int64_t Nq, int64_t Nk, int64_t D, float scale) {
    r->flops += 4.0 * (double)nb * (double)H * (double)Nq * (double)Nk * (double)D;
    if (!ok(r)) return;
    pc_status st = pc_attention(r->ex.pool, o, q, k, v, nb, H, Nq, Nk, D, scale, r->ex.err);
    if (st != PC_OK) pc_nn_fail(&r->ex, st);
}

// Token geometry of a transformer: B*T*HW tokens of width ld. Spatial: sequences = frames (tokens frame-major,
// (bt, hw)); temporal: tokens ordered (b, t, hw), sequences = (b, hw) over t.
typedef struct u_geom {
    int temporal;
    int64_t B, T, HW;
} u_geom;

// o (M, inner) = self-attention over the sequences of g for q, k, v (M, inner).
static void self_attn(u_run *r, const u_attn *a, const u_geom *g, float *o, float *q, float *k, float *v) {
    int64_t ld = a->inner, D = a->dh, H = a->heads;
    if (!g->temporal) {
        int64_t sb = g->HW * ld;
        pc_attn_view vo = {o, sb, D, ld}, vq = {q, sb, D, ld}, vk = {k, sb, D, ld}, vv = {v, sb, D, ld};
        attend(r, vo, vq, vk, vv, g->B * g->T, H, g->HW, g->HW, D, a->scale);
        return;
    }
    for (int64_t b = 0; b < g->B; b++) {
        int64_t off = b * g->T * g->HW * ld, sn = g->HW * ld;
        pc_attn_view vo = {o + off, ld, D, sn}, vq = {q + off, ld, D, sn}, vk = {k + off, ld, D, sn},
                     vv = {v + off, ld, D, sn};
        attend(r, vo, vq, vk, vv, g->HW, H, g->T, g->T, D, a->scale);
    }
}

// z (M, D) += attn(t) where t = LN(z) (M, D). cross: spatial attn2 with the run's context.
static void attn_forward(u_run *r, const u_attn *a, const u_geom *g, float *z, const float *t, int64_t M, int cross) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t I = a->inner, D = a->dh, H = a->heads;
    float *q = pc_nn_alloc(&r->ex, (size_t)(M * I));  // (M, heads*dh)
    float *o = pc_nn_alloc(&r->ex, (size_t)(M * I));
    lin(r, &a->q, q, t, M);
    if (!cross) {
        float *k = pc_nn_alloc(&r->ex, (size_t)(M * I));
        float *v = pc_nn_alloc(&r->ex, (size_t)(M * I));
        lin(r, &a->k, k, t, M);
        lin(r, &a->v, v, t, M);
        self_attn(r, a, g, o, q, k, v);
    } else {
        // upstream: text keys from context[:, :77] (to_k/to_v), image keys from context[:, 77:] (to_k_ip/to_v_ip),
        // two separate softmaxes, out = out_txt + scale * out_ip. Frames of batch b share the text keys (stride 0);
        // per-frame image tokens: frame f sees image rows [16 f, 16 f + 16).
        const pc_unet_config *c = &r->u->cfg;
        int64_t Lt = c->text_context_len, Li = r->L - Lt, Dc = a->k.in;
        int64_t nf = g->T, HW = g->HW, sb = HW * I;
        float *kt = pc_nn_alloc(&r->ex, (size_t)(Lt * I));  // (Lt, I)
        float *vt = pc_nn_alloc(&r->ex, (size_t)(Lt * I));
        float *ki = NULL, *vi = NULL, *oi = NULL;
        int use_ip = a->has_ip && Li > 0;
        if (use_ip) {
            ki = pc_nn_alloc(&r->ex, (size_t)(Li * I));  // (Li, I)
            vi = pc_nn_alloc(&r->ex, (size_t)(Li * I));
            oi = pc_nn_alloc(&r->ex, (size_t)(M * I));
        }
        for (int64_t b = 0; b < g->B; b++) {
            const float *cb = r->ctx + b * r->L * Dc;
            lin(r, &a->k, kt, cb, Lt);
            lin(r, &a->v, vt, cb, Lt);
            int64_t off = b * nf * sb;
            pc_attn_view vo = {o + off, sb, D, I}, vq = {q + off, sb, D, I};
            pc_attn_view vk = {kt, 0, D, I}, vv = {vt, 0, D, I};
            attend(r, vo, vq, vk, vv, nf, H, HW, Lt, D, a->scale);
            if (use_ip) {
                lin(r, &a->k_ip, ki, cb + Lt * Dc, Li);
                lin(r, &a->v_ip, vi, cb + Lt * Dc, Li);
                int64_t nk = r->per_frame ? c->image_tokens_per_frame : Li;
                int64_t ksb = r->per_frame ? nk * I : 0;
                pc_attn_view wo = {oi + off, sb, D, I};
                pc_attn_view wk = {ki, ksb, D, I}, wv = {vi, ksb, D, I};
                attend(r, wo, vq, wk, wv, nf, H, HW, nk, D, a->scale);
            }
        }
        if (use_ip && ok(r)) pc_axpy(r->ex.pool, o, oi, c->image_cross_attention_scale, M * I);
    }
    lin_acc(r, &a->out, z, o, M);
    pc_arena_reset(r->ex.arena, mark);
}

// BasicTransformerBlock on z (M, D) in place.
static void tblock_forward(u_run *r, const u_tblock *b, const u_geom *g, float *z, int64_t M, int temporal) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t D = b->n1.dim;
    float *t = pc_nn_alloc(&r->ex, (size_t)(M * D));
    if (ok(r)) pc_layer_norm(r->ex.pool, t, z, b->n1.w, b->n1.b, M, D, b->n1.eps);
    attn_forward(r, &b->a1, g, z, t, M, 0);
    if (ok(r)) pc_layer_norm(r->ex.pool, t, z, b->n2.w, b->n2.b, M, D, b->n2.eps);
    attn_forward(r, &b->a2, g, z, t, M, !temporal);
    if (ok(r)) pc_layer_norm(r->ex.pool, t, z, b->n3.w, b->n3.b, M, D, b->n3.eps);
    // FeedForward (GEGLU) in row chunks to bound the (rows, 8D) hidden buffer
    int64_t F = b->ff2.in, chunk = M < 4096 ? M : 4096;
    float *h = pc_nn_alloc(&r->ex, (size_t)(chunk * 2 * F));
    float *gl = pc_nn_alloc(&r->ex, (size_t)(chunk * F));
    for (int64_t m0 = 0; m0 < M; m0 += chunk) {
        int64_t m = M - m0 < chunk ? M - m0 : chunk;
        lin(r, &b->ff1, h, t + m0 * D, m);
        if (ok(r)) pc_geglu(r->ex.pool, gl, h, m, F);
        lin_acc(r, &b->ff2, z + m0 * D, gl, m);
    }
    pc_arena_reset(r->ex.arena, mark);
}

// SpatialTransformer / TemporalTransformer on x ((b t), c, hw) in place.
static void xf_forward(u_run *r, const u_xf *xf, float *x, int64_t HW, int temporal) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t B = r->B, T = r->T, C = xf->c, I = xf->inner, M = B * T * HW;
    float *a = pc_nn_alloc(&r->ex, (size_t)(M * C));    // normed, channel-major
    float *tok = pc_nn_alloc(&r->ex, (size_t)(M * C));  // tokens (M, C)
    float *z = pc_nn_alloc(&r->ex, (size_t)(M * I));    // (M, inner)
    u_geom g = {temporal, B, T, HW};
    if (ok(r)) {
        if (!temporal) {
            pc_group_norm(r->ex.pool, a, x, xf->gn_w, xf->gn_b, B * T, C, HW, 32, 1e-6f, 0);
            pc_transpose(r->ex.pool, tok, a, B * T, C, HW);  // (bt, hw, c)
        } else {
            swap_pq(r->ex.pool, tok, x, B, T, C, HW);  // (b, c, t, hw)
            pc_group_norm(r->ex.pool, a, tok, xf->gn_w, xf->gn_b, B, C, T * HW, 32, 1e-6f, 0);
            pc_transpose(r->ex.pool, tok, a, B, C, T * HW);  // (b, t hw, c)
        }
    }
    lin(r, &xf->proj_in, z, tok, M);
    for (int d = 0; d < xf->depth; d++) tblock_forward(r, &xf->blk[d], &g, z, M, temporal);
    lin(r, &xf->proj_out, tok, z, M);
    if (ok(r)) {
        if (!temporal) {
            pc_transpose(r->ex.pool, a, tok, B * T, HW, C);
        } else {
            pc_transpose(r->ex.pool, a, tok, B, T * HW, C);  // (b, c, t, hw)
            swap_pq(r->ex.pool, tok, a, B, C, T, HW);        // (b, t, c, hw)
            float *swp = a;
            a = tok;
            tok = swp;
        }
        pc_add(r->ex.pool, x, x, a, M * C);
    }
    pc_arena_reset(r->ex.arena, mark);
}

// TemporalConvBlock on y ((b t), c, hw) in place: identity + 4 x [GN(32) over (c, t, hw), SiLU, Conv3d (3,1,1)].
static void tconv_forward(u_run *r, const u_res *res, float *y, int64_t HW) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t B = r->B, T = r->T, C = res->cout, n = B * T * C * HW;
    float *a = pc_nn_alloc(&r->ex, (size_t)n);
    float *g = pc_nn_alloc(&r->ex, (size_t)n);
    float *c = pc_nn_alloc(&r->ex, (size_t)n);
    size_t wsb = pc_conv3d_t_workspace(C, 3, T, HW);
    float *ws = wsb ? pc_nn_alloc(&r->ex, (wsb + sizeof(float) - 1) / sizeof(float)) : NULL;
    if (ok(r)) swap_pq(r->ex.pool, a, y, B, T, C, HW);  // (b, c, t, hw)
    const float *cur = a;
    for (int i = 0; i < 4; i++) {
        r->flops += 2.0 * (double)B * T * HW * (double)C * C * 3;
        if (!ok(r)) continue;
        pc_group_norm(r->ex.pool, g, cur, res->tgn_w[i], res->tgn_b[i], B, C, T * HW, 32, 1e-5f, 1);
        pc_status st = pc_conv3d_t(r->ex.pool, c, g, res->tw[i], res->tb[i], B, C, T, HW, C, 3, 1, ws, wsb, r->ex.err);
        if (st != PC_OK) pc_nn_fail(&r->ex, st);
        cur = c;
    }
    if (ok(r)) {
        swap_pq(r->ex.pool, g, c, B, C, T, HW);
        pc_add(r->ex.pool, y, y, g, n);
    }
    pc_arena_reset(r->ex.arena, mark);
}

// ResBlock: x ((b t), cin, h, w) -> y ((b t), cout, h, w).
static void res_forward(u_run *r, const u_res *res, float *y, const float *x, int64_t H, int64_t W) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t N = r->B * r->T, HW = H * W, Ci = res->cin, Co = res->cout;
    float *hn = pc_nn_alloc(&r->ex, (size_t)(N * (Ci > Co ? Ci : Co) * HW));
    float *h = pc_nn_alloc(&r->ex, (size_t)(N * Co * HW));
    float *eo = pc_nn_alloc(&r->ex, (size_t)(r->B * Co));
    if (ok(r)) pc_group_norm(r->ex.pool, hn, x, res->gn1_w, res->gn1_b, N, Ci, HW, 32, 1e-5f, 1);
    // conv1's bias and the time embedding (emb_layers) fused into one per-batch bias: h = conv1(hn) + b + e[b]
    lin(r, &res->emb, eo, r->emb_silu, r->B);
    if (ok(r) && res->conv1.b)
        for (int64_t b = 0; b < r->B; b++) pc_add(NULL, eo + b * Co, eo + b * Co, res->conv1.b, Co);
    conv_ex(r, &res->conv1, h, hn, N, H, W, 1, eo, r->T, NULL);
    if (ok(r)) pc_group_norm(r->ex.pool, hn, h, res->gn2_w, res->gn2_b, N, Co, HW, 32, 1e-5f, 1);
    // out = skip(x) + conv2(hn): the skip path is written (or read) first, conv2 accumulates onto it
    if (res->has_skip) {
        conv(r, &res->skip, y, x, N, H, W);
        conv_ex(r, &res->conv2, y, hn, N, H, W, 1, NULL, 1, y);
    } else {
        conv_ex(r, &res->conv2, y, hn, N, H, W, 1, NULL, 1, x);
    }
    pc_arena_reset(r->ex.arena, mark);
    if (res->has_tconv) tconv_forward(r, res, y, HW);
}

// Output shape of a layer.
static void layer_out(const u_layer *L, int64_t *C, int64_t *H, int64_t *W) {
    switch (L->kind) {
    case L_RES: *C = L->res.cout; break;
    case L_CONV: *C = L->conv.cout; break;
    case L_DOWN: *C = L->conv.cout; *H = pc_nn_conv2d_out(&L->conv, *H); *W = pc_nn_conv2d_out(&L->conv, *W); break;
    case L_UP: *C = L->conv.cout; *H *= 2; *W *= 2; break;
    default: break;
    }
}

// Run a block: x (N, C, H, W) -> dst; C/H/W updated. dst must not alias x.
static void block_forward(u_run *r, const u_block *blk, float *dst, const float *x, int64_t *C, int64_t *H, int64_t *W) {
    size_t mark = pc_arena_mark(r->ex.arena);
    int64_t N = r->B * r->T;
    int last_np = -1;  // last non-in-place layer
    for (int j = 0; j < blk->n; j++)
        if (blk->l[j].kind != L_SPATIAL && blk->l[j].kind != L_TEMPORAL) last_np = j;
    const float *cur = x;
    float *curw = NULL;
    if (last_np < 0) {  // transformers only: work on dst
        if (ok(r)) memcpy(dst, x, (size_t)(N * *C * *H * *W) * sizeof(float));
        cur = curw = dst;
    }
    for (int j = 0; j < blk->n; j++) {
        const u_layer *L = &blk->l[j];
        if (L->kind == L_SPATIAL || L->kind == L_TEMPORAL) {
            xf_forward(r, &L->xf, curw, *H * *W, L->kind == L_TEMPORAL);
            continue;
        }
        int64_t c2 = *C, h2 = *H, w2 = *W;
        layer_out(L, &c2, &h2, &w2);
        float *y = j == last_np ? dst : pc_nn_alloc(&r->ex, (size_t)(N * c2 * h2 * w2));
        switch (L->kind) {
        case L_RES: res_forward(r, &L->res, y, cur, *H, *W); break;
        case L_CONV:
        case L_DOWN: conv(r, &L->conv, y, cur, N, *H, *W); break;
        case L_UP: conv_ex(r, &L->conv, y, cur, N, *H, *W, 2, NULL, 1, NULL); break;  // 2x nearest folded in
        default: break;
        }
        *C = c2;
        *H = h2;
        *W = w2;
        cur = curw = y;
    }
    pc_arena_reset(r->ex.arena, mark);
}

static void trace(u_run *r, const char *name, const float *p, int64_t C, int64_t H, int64_t W) {
    if (!r->u->trace || !ok(r)) return;
    int64_t shape[4] = {r->B * r->T, C, H, W};
    r->u->trace(r->u->trace_ctx, name, p, 4, shape);
}

// cos first, then sin (lvdm timestep_embedding), float32 as upstream.
static void timestep_embedding(float *e, int64_t t, int dim) {
    int half = dim / 2;
    float nl = (float)(-log(10000.0));
    for (int i = 0; i < half; i++) {
        float f = expf(nl * (float)i / (float)half);
        float a = (float)t * f;
        e[i] = (float)cos((double)a);
        e[half + i] = (float)sin((double)a);
    }
    if (dim % 2) e[dim - 1] = 0.0f;
}

typedef struct u_inputs {
    const float *x;
    const int64_t *ts, *fs;
    float *out;
    int64_t H, W;
} u_inputs;

static void run_all(u_run *r, const u_inputs *in, int64_t slot_n) {
    pc_unet *u = r->u;
    const pc_unet_config *c = &u->cfg;
    int64_t B = r->B, T = r->T, N = B * T, ted = c->time_embed_dim, mc = c->model_channels;
    float *slot[2];
    slot[0] = pc_nn_alloc(&r->ex, (size_t)slot_n);
    slot[1] = pc_nn_alloc(&r->ex, (size_t)slot_n);
    float *emb = pc_nn_alloc(&r->ex, (size_t)(B * ted));
    float *emb_s = pc_nn_alloc(&r->ex, (size_t)(B * ted));
    r->emb_silu = emb_s;
    {
        size_t mark = pc_arena_mark(r->ex.arena);
        float *te = pc_nn_alloc(&r->ex, (size_t)(B * mc));
        float *h1 = pc_nn_alloc(&r->ex, (size_t)(B * ted));
        float *f2 = pc_nn_alloc(&r->ex, (size_t)(B * ted));
        if (ok(r))
            for (int64_t b = 0; b < B; b++) timestep_embedding(te + b * mc, in->ts[b], (int)mc);
        lin(r, &u->te1, h1, te, B);
        if (ok(r)) pc_silu(r->ex.pool, h1, h1, B * ted);
        lin(r, &u->te2, emb, h1, B);
        if (u->trace && ok(r)) {
            int64_t s2[2] = {B, ted};
            u->trace(u->trace_ctx, "time_embed_out", emb, 2, s2);
        }
        if (u->has_fs) {
            if (ok(r))
                for (int64_t b = 0; b < B; b++)
                    timestep_embedding(te + b * mc, in->fs ? in->fs[b] : (int64_t)c->default_fs, (int)mc);
            lin(r, &u->fe1, h1, te, B);
            if (ok(r)) pc_silu(r->ex.pool, h1, h1, B * ted);
            lin(r, &u->fe2, f2, h1, B);
            if (u->trace && ok(r)) {
                int64_t s2[2] = {B, ted};
                u->trace(u->trace_ctx, "fps_embed_out", f2, 2, s2);
            }
            if (ok(r)) pc_add(r->ex.pool, emb, emb, f2, B * ted);
        }
        if (ok(r)) pc_silu(r->ex.pool, emb_s, emb, B * ted);
        pc_arena_reset(r->ex.arena, mark);
    }
    int64_t C = c->in_channels, H = in->H, W = in->W;
    float *hs[U_MAX_BLOCKS];
    int64_t hC[U_MAX_BLOCKS], hH[U_MAX_BLOCKS], hW[U_MAX_BLOCKS];
    {
        // x (B, C, T, HW) -> slot[0] ((b t), C, HW)
        if (ok(r)) swap_pq(r->ex.pool, slot[0], in->x, B, C, T, H * W);
    }
    const float *cur = slot[0];
    char name[64];
    for (int i = 0; i < u->n_in; i++) {
        int64_t c2 = C, h2 = H, w2 = W;
        for (int j = 0; j < u->in[i].n; j++) layer_out(&u->in[i].l[j], &c2, &h2, &w2);
        hs[i] = pc_nn_alloc(&r->ex, (size_t)(N * c2 * h2 * w2));
        block_forward(r, &u->in[i], hs[i], cur, &C, &H, &W);
        kfmt(name, sizeof(name), "input_block_%02d_out", i);
        trace(r, name, hs[i], C, H, W);
        if (i == 0 && u->has_init_attn) {
            xf_forward(r, &u->init_attn, hs[0], H * W, 1);
            trace(r, "init_attn_out", hs[0], C, H, W);
        }
        hC[i] = C;
        hH[i] = H;
        hW[i] = W;
        cur = hs[i];
    }
    int s = 0;
    block_forward(r, &u->mid, slot[s], cur, &C, &H, &W);
    trace(r, "middle_block_out", slot[s], C, H, W);
    int sp = u->n_in;
    for (int i = 0; i < u->n_out; i++) {
        size_t mark = pc_arena_mark(r->ex.arena);
        --sp;
        if (hH[sp] != H || hW[sp] != W) {
            if (r->ex.st == PC_OK)
                r->ex.st = pc_err(r->ex.err, PC_ERR_SHAPE, "UNet: output block %d: skip is %lldx%lld, h is %lldx%lld", i,
                                  (long long)hH[sp], (long long)hW[sp], (long long)H, (long long)W);
            return;
        }
        float *cat = pc_nn_alloc(&r->ex, (size_t)(N * (C + hC[sp]) * H * W));
        if (ok(r)) {
            const float *xs[2] = {slot[s], hs[sp]};
            int64_t Cs[2] = {C, hC[sp]};
            pc_concat_channels(r->ex.pool, cat, xs, Cs, 2, N, H * W);
        }
        C += hC[sp];
        block_forward(r, &u->out[i], slot[s ^ 1], cat, &C, &H, &W);
        s ^= 1;
        kfmt(name, sizeof(name), "output_block_%02d_out", i);
        trace(r, name, slot[s], C, H, W);
        pc_arena_reset(r->ex.arena, mark);
    }
    // out: GN + SiLU + conv -> ((b t), Cout, HW) -> (B, Cout, T, HW)
    {
        float *hn = pc_nn_alloc(&r->ex, (size_t)(N * C * H * W));
        float *y = pc_nn_alloc(&r->ex, (size_t)(N * u->out_conv.cout * H * W));
        if (ok(r)) pc_group_norm(r->ex.pool, hn, slot[s], u->out_gn_w, u->out_gn_b, N, C, H * W, 32, 1e-5f, 1);
        conv(r, &u->out_conv, y, hn, N, H, W);
        if (ok(r)) swap_pq(r->ex.pool, in->out, y, B, T, u->out_conv.cout, H * W);
    }
}

// Largest block output (floats) for the ping-pong slots; also checks the spatial size.
static pc_status plan(const pc_unet *u, int64_t N, int64_t H, int64_t W, int64_t *slot_n, pc_error *err) {
    int64_t C = u->cfg.in_channels, mx = N * C * H * W;
    for (int i = 0; i < u->n_in; i++)
        for (int j = 0; j < u->in[i].n; j++) {
            const u_layer *L = &u->in[i].l[j];
            if (L->kind == L_DOWN && (H % 2 || W % 2))
                return pc_err(err, PC_ERR_SHAPE, "UNet: latent %lldx%lld at input block %d is not divisible by 2", (long long)H,
                              (long long)W, i);
            layer_out(L, &C, &H, &W);
            if (N * C * H * W > mx) mx = N * C * H * W;
        }
    int64_t Cm = C;
    for (int j = 0; j < u->mid.n; j++) layer_out(&u->mid.l[j], &Cm, &H, &W);
    C = Cm;
    if (N * C * H * W > mx) mx = N * C * H * W;
    for (int i = 0; i < u->n_out; i++) {
        const u_block *b = &u->out[i];
        C = b->l[0].res.cin;  // after the concat
        for (int j = 0; j < b->n; j++) {
            layer_out(&b->l[j], &C, &H, &W);
            if (N * C * H * W > mx) mx = N * C * H * W;
        }
    }
    *slot_n = mx;
    return PC_OK;
}

pc_status pc_unet_forward(pc_unet *u, float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t W,
                          const int64_t *timesteps, const float *context, int64_t L, const int64_t *fs,
                          pc_error *err) {
    if (!u || !out || !x || !timesteps || !context) return pc_err(err, PC_ERR_ARG, "pc_unet_forward: NULL argument");
    const pc_unet_config *c = &u->cfg;
    if (B <= 0 || T <= 0 || H <= 0 || W <= 0 || B > 1024 || T > 4096 || H > 4096 || W > 4096)
        return pc_err(err, PC_ERR_ARG, "pc_unet_forward: bad size B %lld T %lld H %lld W %lld", (long long)B,
                      (long long)T, (long long)H, (long long)W);
    if (L < c->text_context_len || L > 1 << 20)
        return pc_err(err, PC_ERR_ARG, "pc_unet_forward: context length %lld < text_context_len %d", (long long)L,
                      c->text_context_len);
    int64_t slot_n = 0;
    pc_status st = plan(u, B * T, H, W, &slot_n, err);
    if (st != PC_OK) return st;
    u_inputs in = {x, timesteps, fs, out, H, W};
    u_run r;
    memset(&r, 0, sizeof(r));
    r.u = u;
    r.B = B;
    r.T = T;
    r.ctx = context;
    r.L = L;
    r.per_frame = L == (int64_t)c->text_context_len + T * (int64_t)c->image_tokens_per_frame;
    // dry run to size the arena
    pc_arena meas;
    pc_arena_init_measure(&meas);
    r.ex = (pc_nn_exec){.pool = u->pool, .arena = &meas, .dry = 1, .st = PC_OK, .err = err};
    run_all(&r, &in, slot_n);
    size_t need = meas.peak + 4096;
    if (!u->arena.base || u->arena.size < need) {
        pc_arena_free(&u->arena);
        st = pc_arena_init(&u->arena, need, err);
        if (st != PC_OK) return st;
    }
    pc_arena_reset(&u->arena, 0);
    memset(&r, 0, sizeof(r));
    r.u = u;
    r.B = B;
    r.T = T;
    r.ctx = context;
    r.L = L;
    r.per_frame = L == (int64_t)c->text_context_len + T * (int64_t)c->image_tokens_per_frame;
    r.ex = (pc_nn_exec){.pool = u->pool, .arena = &u->arena, .dry = 0, .st = PC_OK, .err = err};
    run_all(&r, &in, slot_n);
    u->flops = r.flops;
    return r.ex.st;
}

// ---- random weights -----------------------------------------------------------------------------

// A state dict generated in memory, in the real key layout (openaimodel3d.py UNetModel.__init__ order).
typedef struct rnd_sd {
    pc_nn_store store;
    pc_dtype wdtype;
    uint64_t seed;
    pc_status st;
    pc_error *err;
} rnd_sd;


typedef struct fill_ctx {
    void *p;
    pc_dtype dt;
    int64_t n;
    float base, scale;
    uint64_t seed;
} fill_ctx;

// Element i is a function of (seed, i) only: the same weights for any thread count.
static void fill_task(void *vctx, int ith, int nth) {
    fill_ctx *c = (fill_ctx *)vctx;
    int64_t b0, b1;
    pc_split_range(c->n, ith, nth, &b0, &b1);
    for (int64_t i = b0; i < b1; i++) {
        uint64_t s = c->seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ull);
        float u = (float)((double)(pc_splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
        float v = c->base + c->scale * u;
        if (c->dt == PC_F32) ((float *)c->p)[i] = v;
        else if (c->dt == PC_BF16) ((uint16_t *)c->p)[i] = pc_f32_to_bf16(v);
        else ((uint16_t *)c->p)[i] = pc_f32_to_f16(v);
    }
}

static void rnd_add(rnd_sd *r, pc_pool *pool, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3, int64_t d4) {
    if (r->st != PC_OK) return;
    int64_t shape[5] = {d0, d1, d2, d3, d4};
    int64_t n = 1, fan_in = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int i = 1; i < ndim; i++) fan_in *= shape[i];
    pc_dtype dt = ndim >= 2 ? r->wdtype : PC_F32;  // vectors stay F32 (no bind-time copies)
    size_t idx = r->store.n;
    pc_tensor *t = pc_nn_store_add(&r->store, name, dt, ndim, shape, r->err);
    if (!t) {
        r->st = PC_ERR_MEMORY;
        return;
    }
    size_t len = strlen(name);
    int is_norm_w = ndim == 1 && len > 7 && !strcmp(name + len - 7, ".weight");
    fill_ctx fc = {t->data, dt, n, 0.0f, 0.0f, r->seed ^ ((uint64_t)idx * 0x9E3779B97F4A7C15ull)};
    if (ndim >= 2) fc.scale = 1.0f / sqrtf((float)fan_in);  // PyTorch's default Linear/Conv bound
    else if (is_norm_w) fc.base = 1.0f, fc.scale = 0.1f;
    else fc.scale = 0.05f;
    pc_pool_run(pool, fill_task, &fc);
}

static void rnd_vec(rnd_sd *r, pc_pool *pool, const char *p, const char *what, int64_t n) {
    char k[320];
    kfmt(k, sizeof(k), "%s.%s.weight", p, what);
    rnd_add(r, pool, k, 1, n, 0, 0, 0, 0);
    kfmt(k, sizeof(k), "%s.%s.bias", p, what);
    rnd_add(r, pool, k, 1, n, 0, 0, 0, 0);
}

static void rnd_lin(rnd_sd *r, pc_pool *pool, const char *p, const char *what, int64_t out, int64_t in, int bias) {
    char k[320];
    kfmt(k, sizeof(k), "%s.%s.weight", p, what);
    rnd_add(r, pool, k, 2, out, in, 0, 0, 0);
    if (bias) {
        kfmt(k, sizeof(k), "%s.%s.bias", p, what);
        rnd_add(r, pool, k, 1, out, 0, 0, 0, 0);
    }
}

static void rnd_conv(rnd_sd *r, pc_pool *pool, const char *p, const char *what, int64_t out, int64_t in, int64_t k_) {
    char k[320];
    kfmt(k, sizeof(k), "%s.%s.weight", p, what);
    rnd_add(r, pool, k, 4, out, in, k_, k_, 0);
    kfmt(k, sizeof(k), "%s.%s.bias", p, what);
    rnd_add(r, pool, k, 1, out, 0, 0, 0, 0);
}

static void rnd_res(rnd_sd *r, pc_pool *pool, const char *p, int64_t cin, int64_t cout, int64_t ted) {
    rnd_vec(r, pool, p, "in_layers.0", cin);
    rnd_conv(r, pool, p, "in_layers.2", cout, cin, 3);
    rnd_lin(r, pool, p, "emb_layers.1", cout, ted, 1);
    rnd_vec(r, pool, p, "out_layers.0", cout);
    rnd_conv(r, pool, p, "out_layers.3", cout, cout, 3);
    if (cin != cout) rnd_conv(r, pool, p, "skip_connection", cout, cin, 1);
    for (int i = 0; i < 4; i++) {
        char w[64], k[320];
        kfmt(w, sizeof(w), "temopral_conv.conv%d.0", i + 1);
        rnd_vec(r, pool, p, w, cout);
        kfmt(k, sizeof(k), "%s.temopral_conv.conv%d.%d.weight", p, i + 1, i == 0 ? 2 : 3);
        rnd_add(r, pool, k, 5, cout, cout, 3, 1, 1);
        kfmt(k, sizeof(k), "%s.temopral_conv.conv%d.%d.bias", p, i + 1, i == 0 ? 2 : 3);
        rnd_add(r, pool, k, 1, cout, 0, 0, 0, 0);
    }
}

// conv1d: init_attn's Conv1d projections (out, in, 1).
static void rnd_xf(rnd_sd *r, pc_pool *pool, const char *p, int64_t c, int64_t inner, int64_t ctx, int conv1d) {
    char k[320];
    rnd_vec(r, pool, p, "norm", c);
    if (conv1d) {
        kfmt(k, sizeof(k), "%s.proj_in.weight", p);
        rnd_add(r, pool, k, 3, inner, c, 1, 0, 0);
        kfmt(k, sizeof(k), "%s.proj_in.bias", p);
        rnd_add(r, pool, k, 1, inner, 0, 0, 0, 0);
    } else {
        rnd_lin(r, pool, p, "proj_in", inner, c, 1);
    }
    char b[300];
    kfmt(b, sizeof(b), "%s.transformer_blocks.0", p);
    rnd_lin(r, pool, b, "attn1.to_q", inner, inner, 0);
    rnd_lin(r, pool, b, "attn1.to_k", inner, inner, 0);
    rnd_lin(r, pool, b, "attn1.to_v", inner, inner, 0);
    rnd_lin(r, pool, b, "attn1.to_out.0", inner, inner, 1);
    rnd_lin(r, pool, b, "ff.net.0.proj", 8 * inner, inner, 1);
    rnd_lin(r, pool, b, "ff.net.2", inner, 4 * inner, 1);
    rnd_lin(r, pool, b, "attn2.to_q", inner, inner, 0);
    rnd_lin(r, pool, b, "attn2.to_k", inner, ctx ? ctx : inner, 0);
    rnd_lin(r, pool, b, "attn2.to_v", inner, ctx ? ctx : inner, 0);
    rnd_lin(r, pool, b, "attn2.to_out.0", inner, inner, 1);
    if (ctx) {
        rnd_lin(r, pool, b, "attn2.to_k_ip", inner, ctx, 0);
        rnd_lin(r, pool, b, "attn2.to_v_ip", inner, ctx, 0);
    }
    rnd_vec(r, pool, b, "norm1", inner);
    rnd_vec(r, pool, b, "norm2", inner);
    rnd_vec(r, pool, b, "norm3", inner);
    if (conv1d) {
        kfmt(k, sizeof(k), "%s.proj_out.weight", p);
        rnd_add(r, pool, k, 3, c, inner, 1, 0, 0);
        kfmt(k, sizeof(k), "%s.proj_out.bias", p);
        rnd_add(r, pool, k, 1, c, 0, 0, 0, 0);
    } else {
        rnd_lin(r, pool, p, "proj_out", c, inner, 1);
    }
}

// Every key of UNetModel with attention at levels 0 .. n_levels-2, temporal conv / attention, init_attn,
// fs embedding and image cross-attention (the 512-interp switches).
static void rnd_build(rnd_sd *r, pc_pool *pool, const pc_unet_config *a) {
    int64_t mc = a->model_channels, ted = 4 * mc, ctx = a->context_dim;
    int nl = a->n_levels, nr = a->num_res_blocks;
    char p[64];
    rnd_lin(r, pool, "time_embed", "0", ted, mc, 1);
    rnd_lin(r, pool, "time_embed", "2", ted, ted, 1);
    rnd_lin(r, pool, "fps_embedding", "0", ted, mc, 1);
    rnd_lin(r, pool, "fps_embedding", "2", ted, ted, 1);
    rnd_conv(r, pool, "input_blocks.0", "0", mc, a->in_channels, 3);
    rnd_xf(r, pool, "init_attn.0", mc, (int64_t)a->init_attn_heads * a->num_head_channels, 0, 1);
    int64_t chans[U_MAX_BLOCKS];
    int nc = 0, bi = 1;
    chans[nc++] = mc;
    int64_t ch = mc;
    for (int lev = 0; lev < nl; lev++) {
        for (int i = 0; i < nr; i++, bi++) {
            kfmt(p, sizeof(p), "input_blocks.%d.0", bi);
            rnd_res(r, pool, p, ch, a->channel_mult[lev] * mc, ted);
            ch = a->channel_mult[lev] * mc;
            if (lev < nl - 1) {
                kfmt(p, sizeof(p), "input_blocks.%d.1", bi);
                rnd_xf(r, pool, p, ch, ch, ctx, 0);
                kfmt(p, sizeof(p), "input_blocks.%d.2", bi);
                rnd_xf(r, pool, p, ch, ch, 0, 0);
            }
            chans[nc++] = ch;
        }
        if (lev != nl - 1) {
            kfmt(p, sizeof(p), "input_blocks.%d.0", bi++);
            rnd_conv(r, pool, p, "op", ch, ch, 3);
            chans[nc++] = ch;
        }
    }
    rnd_res(r, pool, "middle_block.0", ch, ch, ted);
    rnd_xf(r, pool, "middle_block.1", ch, ch, ctx, 0);
    rnd_xf(r, pool, "middle_block.2", ch, ch, 0, 0);
    rnd_res(r, pool, "middle_block.3", ch, ch, ted);
    int ob = 0;
    for (int lev = nl - 1; lev >= 0; lev--) {
        for (int i = 0; i <= nr; i++, ob++) {
            int64_t ich = chans[--nc];
            kfmt(p, sizeof(p), "output_blocks.%d.0", ob);
            rnd_res(r, pool, p, ch + ich, a->channel_mult[lev] * mc, ted);
            ch = a->channel_mult[lev] * mc;
            int j = 1;
            if (lev < nl - 1) {
                kfmt(p, sizeof(p), "output_blocks.%d.1", ob);
                rnd_xf(r, pool, p, ch, ch, ctx, 0);
                kfmt(p, sizeof(p), "output_blocks.%d.2", ob);
                rnd_xf(r, pool, p, ch, ch, 0, 0);
                j = 3;
            }
            if (lev && i == nr) {
                kfmt(p, sizeof(p), "output_blocks.%d.%d", ob, j);
                rnd_conv(r, pool, p, "conv", ch, ch, 3);
            }
        }
    }
    rnd_vec(r, pool, "out", "0", ch);
    rnd_conv(r, pool, "out", "2", a->out_channels, mc, 3);
}

pc_status pc_unet_create_random(pc_unet **unet, const pc_unet_config *arch, pc_dtype wdtype, uint64_t seed,
                                pc_pool *pool, pc_error *err) {
    if (!unet || !arch) return pc_err(err, PC_ERR_ARG, "pc_unet_create_random: NULL argument");
    *unet = NULL;
    if (wdtype != PC_F32 && wdtype != PC_F16 && wdtype != PC_BF16)
        return pc_err(err, PC_ERR_ARG, "pc_unet_create_random: weight dtype must be F32, F16 or BF16");
    if (arch->model_channels <= 0 || arch->model_channels % 32 || arch->n_levels < 1 ||
        arch->n_levels > PC_UNET_MAX_LEVELS || arch->num_res_blocks < 1 || arch->num_res_blocks > 8 ||
        arch->in_channels <= 0 || arch->out_channels <= 0 || arch->context_dim <= 0 || arch->num_head_channels <= 0 ||
        arch->init_attn_heads <= 0)
        return pc_err(err, PC_ERR_ARG, "pc_unet_create_random: architecture out of range");
    for (int i = 0; i < arch->n_levels; i++)
        if (arch->channel_mult[i] <= 0 || arch->channel_mult[i] > 64)
            return pc_err(err, PC_ERR_ARG, "pc_unet_create_random: channel_mult[%d] out of range", i);
    rnd_sd r;
    memset(&r, 0, sizeof(r));
    r.wdtype = wdtype;
    r.seed = seed;
    r.err = err;
    rnd_build(&r, pool, arch);
    if (r.st != PC_OK) {
        pc_nn_store_free(&r.store);
        return r.st;
    }
    pc_unet *u;
    pc_status st = pc_unet_create_from_source(&u, pc_nn_store_get, pc_nn_store_find, &r.store, "", arch, pool, err);
    if (st != PC_OK) {
        pc_nn_store_free(&r.store);
        return st;
    }
    u->rnd = r.store;  // the model owns its state dict from here on
    u->binder.ctx = &u->rnd;
    *unet = u;
    return PC_OK;
}
