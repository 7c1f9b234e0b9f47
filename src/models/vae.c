// KL autoencoder of DynamiCrafter (lvdm.models.autoencoder.AutoencoderKL over
// lvdm/modules/networks/ae_modules.py Encoder / Decoder), inference only, one frame at a time
// (LatentDiffusion perframe_ae).
//
// Weights are bound by their state_dict names ("first_stage_model.encoder.down.0.block.1.conv2.weight")
// through an nn binder, so a missing or misshaped key is reported by name. The architecture comes from
// tensor shapes. Activations live in one arena: two "slots" of the largest activation (the current
// tensor and the next one, ping-pong) plus per-block scratch above them, sized by a dry run of the same
// code for the frame size at hand. No allocation happens inside a forward pass.
#define _DEFAULT_SOURCE  // madvise(MADV_HUGEPAGE)
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/arena.h"
#include "core/common.h"
#include "core/rng.h"
#include "core/conv_fast.h"
#include "core/ops.h"
#include "models/vae_internal.h"
#include "nn/nn.h"
#include "posecrafter/io.h"

#define VAE_MAX_BLOCKS 8
#define VAE_GROUPS 32
#define VAE_EPS 1e-6f  // ae_modules.Normalize: GroupNorm(32, C, eps=1e-6)

// snprintf for key names (truncation cannot happen with upstream names; a truncated key would
// simply not be found and be reported by name).
static void kfmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kfmt(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

// ae_modules.ResnetBlock (temb_channels = 0, dropout inactive at inference).
typedef struct vae_resblock {
    const float *n1w, *n1b;   // (cin)
    pc_nn_conv2d conv1;       // (cout, cin, 3, 3)
    const float *n2w, *n2b;   // (cout)
    pc_nn_conv2d conv2;       // (cout, cout, 3, 3)
    pc_nn_conv2d nin;         // (cout, cin, 1, 1) when cin != cout
    int has_nin;
    int64_t cin, cout;
} vae_resblock;

// ae_modules.AttnBlock: single-head spatial self-attention with 1x1 conv projections.
typedef struct vae_attn {
    const float *nw, *nb;              // (c)
    pc_nn_conv2d q, k, v, proj_out;    // (c, c, 1, 1)
    int64_t c;
} vae_attn;

typedef struct vae_level {
    vae_resblock block[VAE_MAX_BLOCKS];
    int n_blocks;
    int has_resample;          // encoder: downsample.conv (3x3 s2, pad (0,1,0,1)); decoder: upsample.conv
    pc_nn_conv2d resample;     // (c, c, 3, 3)
} vae_level;

struct pc_vae {
    pc_vae_config cfg;
    pc_pool *pool;
    pc_checkpoint *own_ck;     // opened by pc_vae_load
    pc_nn_binder binder;
    int64_t n_params;
    // random model: owned state dict
    pc_nn_store rnd;  // owned random tensors (random model)

    // encoder
    pc_nn_conv2d enc_conv_in;                   // (ch, in, 3, 3)
    vae_level down[PC_VAE_MAX_LEVELS];
    vae_resblock enc_mid1, enc_mid2;
    vae_attn enc_attn;
    const float *enc_norm_w, *enc_norm_b;       // (C_last)
    pc_nn_conv2d enc_conv_out;                  // (2 z, C_last, 3, 3)
    pc_nn_conv2d quant_conv;                    // (2 e, 2 z, 1, 1)
    // decoder
    pc_nn_conv2d post_quant_conv;               // (z, e, 1, 1)
    pc_nn_conv2d dec_conv_in;                   // (C_last, z, 3, 3)
    vae_resblock dec_mid1, dec_mid2;
    vae_attn dec_attn;
    vae_level up[PC_VAE_MAX_LEVELS];            // up[i] = level i (run from n_levels-1 down to 0)
    const float *dec_norm_w, *dec_norm_b;       // (ch * ch_mult[0])
    pc_nn_conv2d dec_conv_out;                  // (out_ch, ch * ch_mult[0], 3, 3)

    pc_arena arena;
    pc_convf_prec prec;        // convolutions: f32 (default) or opt-in bf16 (pc_vae_set_compute)
    pc_vae_trace_fn trace;
    void *trace_ctx;
    double last_flops;
};

// ---- state_dict key list --------------------------------------------------------------------

typedef struct key_visitor {
    pc_vae_key_fn fn;
    void *ctx;
    const char *prefix;
    int stop;
} key_visitor;

static void kv_emit(key_visitor *kv, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    if (kv->stop) return;
    char key[256];
    kfmt(key, sizeof(key), "%s%s", kv->prefix, name);
    int64_t shape[4] = {d0, d1, d2, d3};
    kv->stop = kv->fn(kv->ctx, key, ndim, shape);
}
static void kv_conv(key_visitor *kv, const char *p, int64_t cout, int64_t cin, int64_t k) {
    char n[200];
    kfmt(n, sizeof(n), "%s.weight", p);
    kv_emit(kv, n, 4, cout, cin, k, k);
    kfmt(n, sizeof(n), "%s.bias", p);
    kv_emit(kv, n, 1, cout, 0, 0, 0);
}
static void kv_norm(key_visitor *kv, const char *p, int64_t c) {
    char n[200];
    kfmt(n, sizeof(n), "%s.weight", p);
    kv_emit(kv, n, 1, c, 0, 0, 0);
    kfmt(n, sizeof(n), "%s.bias", p);
    kv_emit(kv, n, 1, c, 0, 0, 0);
}
static void kv_resblock(key_visitor *kv, const char *p, int64_t cin, int64_t cout) {
    char n[200];
    kfmt(n, sizeof(n), "%s.norm1", p);
    kv_norm(kv, n, cin);
    kfmt(n, sizeof(n), "%s.conv1", p);
    kv_conv(kv, n, cout, cin, 3);
    kfmt(n, sizeof(n), "%s.norm2", p);
    kv_norm(kv, n, cout);
    kfmt(n, sizeof(n), "%s.conv2", p);
    kv_conv(kv, n, cout, cout, 3);
    if (cin != cout) {
        kfmt(n, sizeof(n), "%s.nin_shortcut", p);
        kv_conv(kv, n, cout, cin, 1);
    }
}
static void kv_attn(key_visitor *kv, const char *p, int64_t c) {
    static const char *const parts[4] = {"q", "k", "v", "proj_out"};
    char n[200];
    kfmt(n, sizeof(n), "%s.norm", p);
    kv_norm(kv, n, c);
    for (int i = 0; i < 4; i++) {
        kfmt(n, sizeof(n), "%s.%s", p, parts[i]);
        kv_conv(kv, n, c, c, 1);
    }
}
static void kv_mid(key_visitor *kv, const char *p, int64_t c) {
    char n[200];
    kfmt(n, sizeof(n), "%s.mid.block_1", p);
    kv_resblock(kv, n, c, c);
    kfmt(n, sizeof(n), "%s.mid.attn_1", p);
    kv_attn(kv, n, c);
    kfmt(n, sizeof(n), "%s.mid.block_2", p);
    kv_resblock(kv, n, c, c);
}

void pc_vae_visit_keys(const pc_vae_config *cfg, const char *prefix, pc_vae_key_fn fn, void *ctx) {
    key_visitor kv = {fn, ctx, prefix ? prefix : "", 0};
    const int L = cfg->n_levels, ch = cfg->ch, nrb = cfg->num_res_blocks;
    char n[200];
    // Encoder
    kv_conv(&kv, "encoder.conv_in", ch, cfg->in_channels, 3);
    int64_t block_in = ch;
    for (int i = 0; i < L; i++) {
        int64_t bin = (int64_t)ch * (i ? cfg->ch_mult[i - 1] : 1), bout = (int64_t)ch * cfg->ch_mult[i];
        for (int j = 0; j < nrb; j++) {
            kfmt(n, sizeof(n), "encoder.down.%d.block.%d", i, j);
            kv_resblock(&kv, n, j ? bout : bin, bout);
        }
        if (i != L - 1) {
            kfmt(n, sizeof(n), "encoder.down.%d.downsample.conv", i);
            kv_conv(&kv, n, bout, bout, 3);
        }
        block_in = bout;
    }
    kv_mid(&kv, "encoder", block_in);
    kv_norm(&kv, "encoder.norm_out", block_in);
    kv_conv(&kv, "encoder.conv_out", 2 * (int64_t)cfg->z_channels, block_in, 3);
    // Decoder
    int64_t top = (int64_t)ch * cfg->ch_mult[L - 1];
    kv_conv(&kv, "decoder.conv_in", top, cfg->z_channels, 3);
    kv_mid(&kv, "decoder", top);
    // state_dict order is up.0, up.1, ...; each level's input width is the output of the level above.
    for (int i = 0; i < L; i++) {
        int64_t bout = (int64_t)ch * cfg->ch_mult[i];
        int64_t bin = (i == L - 1) ? top : (int64_t)ch * cfg->ch_mult[i + 1];
        for (int j = 0; j < nrb + 1; j++) {
            kfmt(n, sizeof(n), "decoder.up.%d.block.%d", i, j);
            kv_resblock(&kv, n, j ? bout : bin, bout);
        }
        if (i != 0) {
            kfmt(n, sizeof(n), "decoder.up.%d.upsample.conv", i);
            kv_conv(&kv, n, bout, bout, 3);
        }
    }
    int64_t c0 = (int64_t)ch * cfg->ch_mult[0];
    kv_norm(&kv, "decoder.norm_out", c0);
    kv_conv(&kv, "decoder.conv_out", cfg->out_ch, c0, 3);
    kv_conv(&kv, "quant_conv", 2 * (int64_t)cfg->embed_dim, 2 * (int64_t)cfg->z_channels, 1);
    kv_conv(&kv, "post_quant_conv", cfg->z_channels, cfg->embed_dim, 1);
}

// ---- architecture from shapes ----------------------------------------------------------------

static pc_status shape_of(pc_nn_binder *b, const char *pfx, const char *name, int want_ndim, int64_t *shape,
                          pc_error *err) {
    char key[256];
    kfmt(key, sizeof(key), "%s%s", pfx, name);
    int nd = 0;
    pc_status st = pc_nn_shape(b, key, &nd, shape, err);
    if (st != PC_OK) return st;
    if (nd != want_ndim) return pc_err(err, PC_ERR_SHAPE, "VAE tensor '%s' has %d dims, expected %d", key, nd, want_ndim);
    return PC_OK;
}
static int has_key(pc_nn_binder *b, const char *pfx, const char *name) {
    char key[256];
    kfmt(key, sizeof(key), "%s%s", pfx, name);
    return pc_nn_has(b, key);
}

static pc_status detect_config(pc_nn_binder *b, const char *pfx, pc_vae_config *cfg, pc_error *err) {
    int64_t s[PC_MAX_DIMS];
    char n[200];
    pc_status st;
    memset(cfg, 0, sizeof(*cfg));
    if ((st = shape_of(b, pfx, "encoder.conv_in.weight", 4, s, err)) != PC_OK) return st;
    cfg->ch = (int)s[0];
    cfg->in_channels = (int)s[1];
    int L = 0;
    for (;;) {
        kfmt(n, sizeof(n), "encoder.down.%d.block.0.conv1.weight", L);
        if (!has_key(b, pfx, n)) break;
        if (++L > PC_VAE_MAX_LEVELS)
            return pc_err(err, PC_ERR_UNSUPPORTED, "VAE: more than %d encoder levels", PC_VAE_MAX_LEVELS);
    }
    if (L == 0) return pc_err(err, PC_ERR_NOT_FOUND, "VAE: tensor '%sencoder.down.0.block.0.conv1.weight' not found", pfx);
    cfg->n_levels = L;
    int nrb = 0;
    for (;;) {
        kfmt(n, sizeof(n), "encoder.down.0.block.%d.conv1.weight", nrb);
        if (!has_key(b, pfx, n)) break;
        if (++nrb >= VAE_MAX_BLOCKS)
            return pc_err(err, PC_ERR_UNSUPPORTED, "VAE: more than %d res blocks per level", VAE_MAX_BLOCKS - 1);
    }
    cfg->num_res_blocks = nrb;
    for (int i = 0; i < L; i++) {
        kfmt(n, sizeof(n), "encoder.down.%d.block.0.conv1.weight", i);
        if ((st = shape_of(b, pfx, n, 4, s, err)) != PC_OK) return st;
        if (cfg->ch <= 0 || s[0] % cfg->ch)
            return pc_err(err, PC_ERR_SHAPE, "VAE: '%s%s' has %lld output channels, not a multiple of ch = %d", pfx, n,
                          (long long)s[0], cfg->ch);
        cfg->ch_mult[i] = (int)(s[0] / cfg->ch);
        // attn_resolutions: the DynamiCrafter configs have none outside the middle block.
        kfmt(n, sizeof(n), "encoder.down.%d.attn.0.q.weight", i);
        if (has_key(b, pfx, n))
            return pc_err(err, PC_ERR_UNSUPPORTED, "VAE: '%s%s': attention inside levels (attn_resolutions) is not supported",
                          pfx, n);
        kfmt(n, sizeof(n), "decoder.up.%d.attn.0.q.weight", i);
        if (has_key(b, pfx, n))
            return pc_err(err, PC_ERR_UNSUPPORTED, "VAE: '%s%s': attention inside levels (attn_resolutions) is not supported",
                          pfx, n);
    }
    if ((st = shape_of(b, pfx, "encoder.conv_out.weight", 4, s, err)) != PC_OK) return st;
    if (s[0] % 2)
        return pc_err(err, PC_ERR_UNSUPPORTED, "VAE: '%sencoder.conv_out.weight' has %lld outputs; only double_z is supported",
                      pfx, (long long)s[0]);
    cfg->z_channels = (int)(s[0] / 2);
    if ((st = shape_of(b, pfx, "quant_conv.weight", 4, s, err)) != PC_OK) return st;
    if (s[0] % 2) return pc_err(err, PC_ERR_SHAPE, "VAE: '%squant_conv.weight' has an odd number of outputs", pfx);
    cfg->embed_dim = (int)(s[0] / 2);
    if ((st = shape_of(b, pfx, "decoder.conv_out.weight", 4, s, err)) != PC_OK) return st;
    cfg->out_ch = (int)s[0];
    cfg->scale_factor = 0.18215;
    return PC_OK;
}

// ---- binding ---------------------------------------------------------------------------------

static pc_status bind_conv(pc_vae *v, pc_nn_conv2d *c, const char *pfx, const char *name, int64_t cin, int64_t cout,
                           int64_t k, int64_t stride, int64_t pad, pc_error *err) {
    char key[256];
    kfmt(key, sizeof(key), "%s%s", pfx, name);
    pc_status st = pc_nn_conv2d_bind(&v->binder, c, key, cin, cout, k, stride, pad, 1, err);
    if (st == PC_OK) v->n_params += cout * cin * k * k + cout;
    return st;
}
static pc_status bind_norm(pc_vae *v, const float **w, const float **bb, const char *pfx, const char *name, int64_t c,
                           pc_error *err) {
    char key[256];
    kfmt(key, sizeof(key), "%s%s.weight", pfx, name);
    pc_status st = pc_nn_bind_vector(&v->binder, w, key, c, err);
    if (st != PC_OK) return st;
    kfmt(key, sizeof(key), "%s%s.bias", pfx, name);
    st = pc_nn_bind_vector(&v->binder, bb, key, c, err);
    if (st == PC_OK) v->n_params += 2 * c;
    return st;
}
static pc_status bind_resblock(pc_vae *v, vae_resblock *r, const char *pfx, const char *p, int64_t cin, int64_t cout,
                               pc_error *err) {
    char n[200];
    pc_status st;
    r->cin = cin;
    r->cout = cout;
    kfmt(n, sizeof(n), "%s.norm1", p);
    if ((st = bind_norm(v, &r->n1w, &r->n1b, pfx, n, cin, err)) != PC_OK) return st;
    kfmt(n, sizeof(n), "%s.conv1", p);
    if ((st = bind_conv(v, &r->conv1, pfx, n, cin, cout, 3, 1, 1, err)) != PC_OK) return st;
    kfmt(n, sizeof(n), "%s.norm2", p);
    if ((st = bind_norm(v, &r->n2w, &r->n2b, pfx, n, cout, err)) != PC_OK) return st;
    kfmt(n, sizeof(n), "%s.conv2", p);
    if ((st = bind_conv(v, &r->conv2, pfx, n, cout, cout, 3, 1, 1, err)) != PC_OK) return st;
    r->has_nin = cin != cout;
    if (r->has_nin) {
        kfmt(n, sizeof(n), "%s.nin_shortcut", p);
        if ((st = bind_conv(v, &r->nin, pfx, n, cin, cout, 1, 1, 0, err)) != PC_OK) return st;
    }
    return PC_OK;
}
static pc_status bind_attn(pc_vae *v, vae_attn *a, const char *pfx, const char *p, int64_t c, pc_error *err) {
    char n[200];
    pc_status st;
    a->c = c;
    kfmt(n, sizeof(n), "%s.norm", p);
    if ((st = bind_norm(v, &a->nw, &a->nb, pfx, n, c, err)) != PC_OK) return st;
    pc_nn_conv2d *convs[4] = {&a->q, &a->k, &a->v, &a->proj_out};
    static const char *const parts[4] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) {
        kfmt(n, sizeof(n), "%s.%s", p, parts[i]);
        if ((st = bind_conv(v, convs[i], pfx, n, c, c, 1, 1, 0, err)) != PC_OK) return st;
    }
    return PC_OK;
}

static pc_status bind_all(pc_vae *v, const char *pfx, pc_error *err) {
    const pc_vae_config *cfg = &v->cfg;
    const int L = cfg->n_levels, ch = cfg->ch, nrb = cfg->num_res_blocks;
    char n[200];
    pc_status st;
    if ((st = bind_conv(v, &v->enc_conv_in, pfx, "encoder.conv_in", cfg->in_channels, ch, 3, 1, 1, err)) != PC_OK)
        return st;
    int64_t block_in = ch;
    for (int i = 0; i < L; i++) {
        vae_level *lv = &v->down[i];
        int64_t bout = (int64_t)ch * cfg->ch_mult[i];
        lv->n_blocks = nrb;
        for (int j = 0; j < nrb; j++) {
            kfmt(n, sizeof(n), "encoder.down.%d.block.%d", i, j);
            if ((st = bind_resblock(v, &lv->block[j], pfx, n, block_in, bout, err)) != PC_OK) return st;
            block_in = bout;
        }
        lv->has_resample = i != L - 1;
        if (lv->has_resample) {
            kfmt(n, sizeof(n), "encoder.down.%d.downsample.conv", i);
            // padding (0, 1, 0, 1) is applied explicitly before this unpadded stride-2 conv
            if ((st = bind_conv(v, &lv->resample, pfx, n, bout, bout, 3, 2, 0, err)) != PC_OK) return st;
        }
    }
    if ((st = bind_resblock(v, &v->enc_mid1, pfx, "encoder.mid.block_1", block_in, block_in, err)) != PC_OK) return st;
    if ((st = bind_attn(v, &v->enc_attn, pfx, "encoder.mid.attn_1", block_in, err)) != PC_OK) return st;
    if ((st = bind_resblock(v, &v->enc_mid2, pfx, "encoder.mid.block_2", block_in, block_in, err)) != PC_OK) return st;
    if ((st = bind_norm(v, &v->enc_norm_w, &v->enc_norm_b, pfx, "encoder.norm_out", block_in, err)) != PC_OK) return st;
    if ((st = bind_conv(v, &v->enc_conv_out, pfx, "encoder.conv_out", block_in, 2 * (int64_t)cfg->z_channels, 3, 1, 1,
                        err)) != PC_OK)
        return st;
    if ((st = bind_conv(v, &v->quant_conv, pfx, "quant_conv", 2 * (int64_t)cfg->z_channels, 2 * (int64_t)cfg->embed_dim,
                        1, 1, 0, err)) != PC_OK)
        return st;

    if ((st = bind_conv(v, &v->post_quant_conv, pfx, "post_quant_conv", cfg->embed_dim, cfg->z_channels, 1, 1, 0,
                        err)) != PC_OK)
        return st;
    block_in = (int64_t)ch * cfg->ch_mult[L - 1];
    if ((st = bind_conv(v, &v->dec_conv_in, pfx, "decoder.conv_in", cfg->z_channels, block_in, 3, 1, 1, err)) != PC_OK)
        return st;
    if ((st = bind_resblock(v, &v->dec_mid1, pfx, "decoder.mid.block_1", block_in, block_in, err)) != PC_OK) return st;
    if ((st = bind_attn(v, &v->dec_attn, pfx, "decoder.mid.attn_1", block_in, err)) != PC_OK) return st;
    if ((st = bind_resblock(v, &v->dec_mid2, pfx, "decoder.mid.block_2", block_in, block_in, err)) != PC_OK) return st;
    for (int i = L - 1; i >= 0; i--) {
        vae_level *lv = &v->up[i];
        int64_t bout = (int64_t)ch * cfg->ch_mult[i];
        lv->n_blocks = nrb + 1;
        for (int j = 0; j < nrb + 1; j++) {
            kfmt(n, sizeof(n), "decoder.up.%d.block.%d", i, j);
            if ((st = bind_resblock(v, &lv->block[j], pfx, n, block_in, bout, err)) != PC_OK) return st;
            block_in = bout;
        }
        lv->has_resample = i != 0;
        if (lv->has_resample) {
            kfmt(n, sizeof(n), "decoder.up.%d.upsample.conv", i);
            if ((st = bind_conv(v, &lv->resample, pfx, n, bout, bout, 3, 1, 1, err)) != PC_OK) return st;
        }
    }
    if ((st = bind_norm(v, &v->dec_norm_w, &v->dec_norm_b, pfx, "decoder.norm_out", block_in, err)) != PC_OK) return st;
    return bind_conv(v, &v->dec_conv_out, pfx, "decoder.conv_out", block_in, cfg->out_ch, 3, 1, 1, err);
}

static pc_status validate_config(const pc_vae_config *c, pc_error *err) {
    if (c->n_levels < 1 || c->n_levels > PC_VAE_MAX_LEVELS)
        return pc_err(err, PC_ERR_ARG, "VAE config: n_levels %d out of range [1, %d]", c->n_levels, PC_VAE_MAX_LEVELS);
    if (c->num_res_blocks < 1 || c->num_res_blocks >= VAE_MAX_BLOCKS)
        return pc_err(err, PC_ERR_ARG, "VAE config: num_res_blocks %d out of range [1, %d]", c->num_res_blocks,
                      VAE_MAX_BLOCKS - 1);
    if (c->ch <= 0 || c->ch % VAE_GROUPS)
        return pc_err(err, PC_ERR_SHAPE, "VAE config: ch = %d must be a positive multiple of %d (GroupNorm groups)", c->ch,
                      VAE_GROUPS);
    for (int i = 0; i < c->n_levels; i++)
        if (c->ch_mult[i] <= 0 || c->ch_mult[i] > 64)
            return pc_err(err, PC_ERR_SHAPE, "VAE config: ch_mult[%d] = %d out of range", i, c->ch_mult[i]);
    if (c->in_channels <= 0 || c->out_ch <= 0 || c->z_channels <= 0 || c->embed_dim <= 0 || c->in_channels > 64 ||
        c->out_ch > 64 || c->z_channels > 1024 || c->embed_dim > 1024)
        return pc_err(err, PC_ERR_SHAPE, "VAE config: channel counts out of range (in %d, out %d, z %d, embed %d)",
                      c->in_channels, c->out_ch, c->z_channels, c->embed_dim);
    return PC_OK;
}

void pc_vae_config_default(pc_vae_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->in_channels = 3;
    cfg->out_ch = 3;
    cfg->ch = 128;
    cfg->n_levels = 4;
    cfg->ch_mult[0] = 1;
    cfg->ch_mult[1] = 2;
    cfg->ch_mult[2] = 4;
    cfg->ch_mult[3] = 4;
    cfg->num_res_blocks = 2;
    cfg->z_channels = 4;
    cfg->embed_dim = 4;
    cfg->scale_factor = 0.18215;
}

pc_status pc_vae_create_from_source(pc_vae **out, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx, const char *prefix,
                                    pc_pool *pool, pc_error *err) {
    *out = NULL;
    pc_vae *v = (pc_vae *)calloc(1, sizeof(*v));
    if (!v) return pc_err(err, PC_ERR_MEMORY, "VAE: out of memory");
    v->pool = pool;
    v->binder.get = get;
    v->binder.find = find;
    v->binder.ctx = ctx;
    const char *pfx = prefix;
    if (!pfx) {  // auto: DynamiCrafter checkpoints use first_stage_model., a standalone VAE none
        char key[128];
        kfmt(key, sizeof(key), "first_stage_model.encoder.conv_in.weight");
        pfx = find(ctx, key) ? "first_stage_model." : (find(ctx, "encoder.conv_in.weight") ? "" : "first_stage_model.");
    }
    pc_status st = detect_config(&v->binder, pfx, &v->cfg, err);
    if (st == PC_OK) st = validate_config(&v->cfg, err);
    if (st == PC_OK) st = bind_all(v, pfx, err);
    if (st != PC_OK) {
        pc_vae_free(v);
        return st;
    }
    *out = v;
    return PC_OK;
}

pc_status pc_vae_from_checkpoint(pc_vae **vae, const pc_checkpoint *ck, const char *prefix, pc_pool *pool,
                                 pc_error *err) {
    if (!vae || !ck) return pc_err(err, PC_ERR_ARG, "pc_vae_from_checkpoint: NULL argument");
    return pc_vae_create_from_source(vae, pc_nn_ck_get, pc_nn_ck_find, (void *)ck, prefix, pool, err);
}

pc_status pc_vae_load(pc_vae **vae, const char *path, pc_pool *pool, pc_error *err) {
    if (!vae || !path) return pc_err(err, PC_ERR_ARG, "pc_vae_load: NULL argument");
    *vae = NULL;
    pc_checkpoint *ck;
    pc_status st = pc_checkpoint_open(&ck, path, err);
    if (st != PC_OK) return st;
    st = pc_vae_from_checkpoint(vae, ck, NULL, pool, err);
    if (st != PC_OK) {
        pc_checkpoint_close(ck);
        return st;
    }
    (*vae)->own_ck = ck;
    return PC_OK;
}

// ---- random model ----------------------------------------------------------------------------

static float unif(uint64_t *s) { return (float)((double)(pc_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0); }

typedef struct rnd_build {
    pc_nn_store *store;
    uint64_t seed;
    pc_status st;
    pc_error *err;
} rnd_build;

static int rnd_add(void *ctx, const char *name, int ndim, const int64_t *shape) {
    rnd_build *rb = (rnd_build *)ctx;
    pc_tensor *t = pc_nn_store_add(rb->store, name, PC_F32, ndim, shape, rb->err);
    if (!t) {
        rb->st = PC_ERR_MEMORY;
        return 1;
    }
    // PyTorch-default-like scale: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv weights and biases;
    // norm weights 1 + U(-0.1, 0.1), norm biases U(-0.1, 0.1).
    uint64_t s = rb->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)rb->store->n);
    float *p = pc_tensor_f32(t);
    int64_t n = pc_tensor_numel(t);
    int is_norm = strstr(name, "norm") != NULL;
    int is_weight = strstr(name, ".weight") != NULL;
    if (ndim == 4) {
        float bound = 1.0f / sqrtf((float)(shape[1] * shape[2] * shape[3]));
        for (int64_t i = 0; i < n; i++) p[i] = bound * unif(&s);
    } else if (is_norm) {
        for (int64_t i = 0; i < n; i++) p[i] = (is_weight ? 1.0f : 0.0f) + 0.1f * unif(&s);
    } else {
        for (int64_t i = 0; i < n; i++) p[i] = 0.05f * unif(&s);
    }
    return 0;
}

pc_status pc_vae_create_random(pc_vae **vae, const pc_vae_config *cfg, uint64_t seed, pc_pool *pool, pc_error *err) {
    if (!vae || !cfg) return pc_err(err, PC_ERR_ARG, "pc_vae_create_random: NULL argument");
    *vae = NULL;
    pc_status st = validate_config(cfg, err);
    if (st != PC_OK) return st;
    pc_nn_store store = {0};
    rnd_build rb = {&store, seed, PC_OK, err};
    pc_vae_visit_keys(cfg, "", rnd_add, &rb);
    if (rb.st != PC_OK) {
        pc_nn_store_free(&store);
        return rb.st;
    }
    pc_vae *v;
    st = pc_vae_create_from_source(&v, pc_nn_store_get, pc_nn_store_find, &store, "", pool, err);
    if (st != PC_OK) {
        pc_nn_store_free(&store);
        return st;
    }
    v->rnd = store;  // the model owns its state dict from here on
    v->binder.ctx = &v->rnd;
    v->cfg.scale_factor = cfg->scale_factor > 0 ? cfg->scale_factor : 0.18215;
    *vae = v;
    return PC_OK;
}

void pc_vae_free(pc_vae *v) {
    if (!v) return;
    pc_arena_free(&v->arena);
    pc_nn_binder_free(&v->binder);
    pc_nn_store_free(&v->rnd);
    if (v->own_ck) pc_checkpoint_close(v->own_ck);
    free(v);
}

const pc_vae_config *pc_vae_get_config(const pc_vae *v) { return &v->cfg; }
void pc_vae_set_scale_factor(pc_vae *v, double s) { v->cfg.scale_factor = s; }
int64_t pc_vae_num_params(const pc_vae *v) { return v->n_params; }
int pc_vae_downscale(const pc_vae *v) { return 1 << (v->cfg.n_levels - 1); }
double pc_vae_last_flops(const pc_vae *v) { return v->last_flops; }
size_t pc_vae_arena_bytes(const pc_vae *v) { return v->arena.size; }
pc_status pc_vae_set_compute(pc_vae *v, pc_dtype dt) {
    if (!v || (dt != PC_F32 && dt != PC_BF16)) return PC_ERR_ARG;
    v->prec = dt == PC_BF16 ? PC_CONVF_BF16 : PC_CONVF_F32;
    return PC_OK;
}
pc_dtype pc_vae_get_compute(const pc_vae *v) { return v->prec == PC_CONVF_BF16 ? PC_BF16 : PC_F32; }
void pc_vae_set_trace(pc_vae *v, pc_vae_trace_fn fn, void *ctx) {
    v->trace = fn;
    v->trace_ctx = ctx;
}

// ---- forward ---------------------------------------------------------------------------------

// One forward pass over a frame: the current activation sits in slot[cur], ops write slot[cur ^ 1]
// and swap. In a dry run the slots are NULL and slot_need records the largest activation.
typedef struct vae_run {
    pc_nn_exec ex;
    const pc_vae *v;
    float *slot[2];
    int cur;
    size_t slot_cap, slot_need;  // floats
    double flops;
} vae_run;

static float *run_next(vae_run *r, size_t n) {
    if (n > r->slot_need) r->slot_need = n;
    if (!r->ex.dry && n > r->slot_cap) {
        pc_nn_fail(&r->ex, pc_err(r->ex.err, PC_ERR_MEMORY, "VAE: activation slot too small (%zu > %zu floats)", n,
                                  r->slot_cap));
        return NULL;
    }
    return r->slot[r->cur ^ 1];
}
static void run_swap(vae_run *r) { r->cur ^= 1; }

static void run_trace(vae_run *r, const char *name, int64_t C, int64_t H, int64_t W) {
    if (!r->v->trace || !pc_nn_ok(&r->ex)) return;
    int64_t shape[4] = {1, C, H, W};
    r->v->trace(r->v->trace_ctx, name, r->slot[r->cur], 4, shape);
}

// y = conv(up(x)) + bias (+ res): conv c on x (cin, H, W), nearest upsampling by `up` first, and `pad_br`
// extra zero rows / columns at the bottom / right (Downsample's F.pad (0, 1, 0, 1)). core/conv_fast.h:
// Winograd F(2x2, 3x3) for the 3x3 stride-1 layers (ResnetBlock convs, Upsample, conv_in/out where wide
// enough), an implicit GEMM for the rest; no im2col matrix, no padded or upsampled copy of x.
static void run_conv_ex(vae_run *r, const pc_nn_conv2d *c, float *y, const float *x, int64_t H, int64_t W, int64_t up,
                        int64_t pad_br, const float *res) {
    pc_convf_desc d = {c->cin, H, W, c->cout, c->k, c->stride, c->pad, c->pad, c->pad + pad_br, c->pad + pad_br, up};
    int64_t OH, OW;
    pc_convf_out_size(&d, &OH, &OW);
    r->flops += 2.0 * (double)c->cin * (double)c->cout * (double)(c->k * c->k) * (double)(OH * OW);
    size_t mark = pc_arena_mark(r->ex.arena);
    size_t wsb = pc_convf_workspace(&d, r->v->prec, pc_pool_size(r->ex.pool));
    float *ws = pc_nn_alloc(&r->ex, (wsb + sizeof(float) - 1) / sizeof(float));
    if (pc_nn_ok(&r->ex)) {
        pc_status st = pc_convf(r->ex.pool, y, x, c->w, c->b, res, &d, r->v->prec, ws, wsb, r->ex.err);
        if (st != PC_OK) pc_nn_fail(&r->ex, st);
    }
    pc_arena_reset(r->ex.arena, mark);
}
static void run_conv(vae_run *r, const pc_nn_conv2d *c, float *y, const float *x, int64_t H, int64_t W) {
    run_conv_ex(r, c, y, x, H, W, 1, 0, NULL);
}

// ResnetBlock: h = conv1(silu(gn1(x))); h = conv2(silu(gn2(h))); out = shortcut(x) + h.
// The shortcut (x or nin_shortcut(x)) is written first and conv2 accumulates onto it: no extra add pass.
static void run_resblock(vae_run *r, const vae_resblock *b, int64_t H, int64_t W) {
    const int64_t HW = H * W;
    const float *x = r->slot[r->cur];
    float *out = run_next(r, (size_t)(b->cout * HW));
    size_t mark = pc_arena_mark(r->ex.arena);
    float *t = pc_nn_alloc(&r->ex, (size_t)((b->cin > b->cout ? b->cin : b->cout) * HW));
    if (pc_nn_ok(&r->ex)) pc_group_norm(r->ex.pool, t, x, b->n1w, b->n1b, 1, b->cin, HW, VAE_GROUPS, VAE_EPS, 1);
    run_conv(r, &b->conv1, out, t, H, W);
    if (pc_nn_ok(&r->ex)) pc_group_norm(r->ex.pool, t, out, b->n2w, b->n2b, 1, b->cout, HW, VAE_GROUPS, VAE_EPS, 1);
    if (b->has_nin) {
        run_conv(r, &b->nin, out, x, H, W);
        run_conv_ex(r, &b->conv2, out, t, H, W, 1, 0, out);
    } else {
        run_conv_ex(r, &b->conv2, out, t, H, W, 1, 0, x);
    }
    pc_arena_reset(r->ex.arena, mark);
    run_swap(r);
}

// AttnBlock: h = gn(x); q, k, v = 1x1 convs; w = softmax(q^T k * C^-0.5) over keys; out = x + proj_out(v w^T).
// Computed token-major (N, C) so the 1x1 convs are linear layers and the attention is pc_attention
// (online softmax, never N x N).
static void run_attn(vae_run *r, const vae_attn *a, int64_t H, int64_t W) {
    const int64_t C = a->c, N = H * W;
    const float *x = r->slot[r->cur];
    float *out = run_next(r, (size_t)(C * N));
    size_t mark = pc_arena_mark(r->ex.arena);
    float *h = pc_nn_alloc(&r->ex, (size_t)(C * N));   // (C, N)
    float *t = pc_nn_alloc(&r->ex, (size_t)(C * N));   // (N, C)
    float *q = pc_nn_alloc(&r->ex, (size_t)(C * N));   // (N, C)
    float *k = pc_nn_alloc(&r->ex, (size_t)(C * N));   // (N, C)
    float *vv = pc_nn_alloc(&r->ex, (size_t)(C * N));  // (N, C)
    float *o = pc_nn_alloc(&r->ex, (size_t)(C * N));   // (N, C)
    r->flops += 4.0 * 2.0 * (double)N * (double)C * (double)C + 4.0 * (double)N * (double)N * (double)C;
    if (pc_nn_ok(&r->ex)) {
        pc_group_norm(r->ex.pool, h, x, a->nw, a->nb, 1, C, N, VAE_GROUPS, VAE_EPS, 0);
        pc_transpose(r->ex.pool, t, h, 1, C, N);
        pc_linear(r->ex.pool, q, t, a->q.w, a->q.b, N, C, C);
        pc_linear(r->ex.pool, k, t, a->k.w, a->k.b, N, C, C);
        pc_linear(r->ex.pool, vv, t, a->v.w, a->v.b, N, C, C);
        pc_status st = pc_attention(r->ex.pool, pc_attn_bhnd(o, 1, N, C), pc_attn_bhnd(q, 1, N, C),
                                    pc_attn_bhnd(k, 1, N, C), pc_attn_bhnd(vv, 1, N, C), 1, 1, N, N, C,
                                    1.0f / sqrtf((float)C), r->ex.err);
        if (st != PC_OK) pc_nn_fail(&r->ex, st);
    }
    if (pc_nn_ok(&r->ex)) {
        pc_linear(r->ex.pool, t, o, a->proj_out.w, a->proj_out.b, N, C, C);
        pc_transpose(r->ex.pool, h, t, 1, N, C);
        pc_add(r->ex.pool, out, x, h, C * N);
    }
    pc_arena_reset(r->ex.arena, mark);
    run_swap(r);
}

// Downsample (with_conv): F.pad(x, (0, 1, 0, 1)) then 3x3 stride-2 conv without padding.
static void run_downsample(vae_run *r, const pc_nn_conv2d *c, int64_t C, int64_t *H, int64_t *W) {
    const int64_t OH = pc_nn_conv2d_out(c, *H + 1), OW = pc_nn_conv2d_out(c, *W + 1);
    float *out = run_next(r, (size_t)(C * OH * OW));
    run_conv_ex(r, c, out, r->slot[r->cur], *H, *W, 1, 1, NULL);
    run_swap(r);
    *H = OH;
    *W = OW;
}

// Upsample (with_conv): F.interpolate(scale_factor=2, mode='nearest') then 3x3 conv, padding 1.
static void run_upsample(vae_run *r, const pc_nn_conv2d *c, int64_t C, int64_t *H, int64_t *W) {
    const int64_t OH = 2 * *H, OW = 2 * *W;
    float *out = run_next(r, (size_t)(C * OH * OW));
    run_conv_ex(r, c, out, r->slot[r->cur], *H, *W, 2, 0, NULL);
    run_swap(r);
    *H = OH;
    *W = OW;
}

// norm_out + swish + conv_out (encoder / decoder end).
static void run_out(vae_run *r, const float *nw, const float *nb, const pc_nn_conv2d *c, int64_t H, int64_t W) {
    const int64_t HW = H * W;
    const float *x = r->slot[r->cur];
    float *out = run_next(r, (size_t)(c->cout * HW));
    size_t mark = pc_arena_mark(r->ex.arena);
    float *s = pc_nn_alloc(&r->ex, (size_t)(c->cin * HW));
    if (pc_nn_ok(&r->ex)) pc_group_norm(r->ex.pool, s, x, nw, nb, 1, c->cin, HW, VAE_GROUPS, VAE_EPS, 1);
    run_conv(r, c, out, s, H, W);
    pc_arena_reset(r->ex.arena, mark);
    run_swap(r);
}

// A plain conv from the current slot into the next.
static void run_conv_step(vae_run *r, const pc_nn_conv2d *c, int64_t H, int64_t W) {
    float *out = run_next(r, (size_t)(c->cout * pc_nn_conv2d_out(c, H) * pc_nn_conv2d_out(c, W)));
    run_conv(r, c, out, r->slot[r->cur], H, W);
    run_swap(r);
}

// Encoder.forward + quant_conv on the frame already in slot[cur]; leaves moments (2e, H/8, W/8) there.
static void encoder_forward(vae_run *r, int64_t H, int64_t W) {
    const pc_vae *v = r->v;
    char name[64];
    run_conv_step(r, &v->enc_conv_in, H, W);
    run_trace(r, "enc.conv_in_out", v->enc_conv_in.cout, H, W);
    for (int i = 0; i < v->cfg.n_levels; i++) {
        const vae_level *lv = &v->down[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            run_resblock(r, &lv->block[j], H, W);
            kfmt(name, sizeof(name), "enc.down%d.block%d_out", i, j);
            run_trace(r, name, lv->block[j].cout, H, W);
        }
        if (lv->has_resample) {
            run_downsample(r, &lv->resample, lv->resample.cout, &H, &W);
            kfmt(name, sizeof(name), "enc.down%d.downsample_out", i);
            run_trace(r, name, lv->resample.cout, H, W);
        }
    }
    const int64_t C = v->enc_mid1.cout;
    run_resblock(r, &v->enc_mid1, H, W);
    run_trace(r, "enc.mid.block_1_out", C, H, W);
    run_attn(r, &v->enc_attn, H, W);
    run_trace(r, "enc.mid.attn_1_out", C, H, W);
    run_resblock(r, &v->enc_mid2, H, W);
    run_trace(r, "enc.mid.block_2_out", C, H, W);
    run_out(r, v->enc_norm_w, v->enc_norm_b, &v->enc_conv_out, H, W);
    run_trace(r, "enc.out", v->enc_conv_out.cout, H, W);
    run_conv_step(r, &v->quant_conv, H, W);
    run_trace(r, "moments", v->quant_conv.cout, H, W);
}

// post_quant_conv + Decoder.forward on the unscaled latent in slot[cur]; leaves the image there.
static void decoder_forward(vae_run *r, int64_t H, int64_t W) {
    const pc_vae *v = r->v;
    char name[64];
    run_conv_step(r, &v->post_quant_conv, H, W);
    run_trace(r, "dec.post_quant_conv_out", v->post_quant_conv.cout, H, W);
    run_conv_step(r, &v->dec_conv_in, H, W);
    run_trace(r, "dec.conv_in_out", v->dec_conv_in.cout, H, W);
    const int64_t C = v->dec_mid1.cout;
    run_resblock(r, &v->dec_mid1, H, W);
    run_trace(r, "dec.mid.block_1_out", C, H, W);
    run_attn(r, &v->dec_attn, H, W);
    run_trace(r, "dec.mid.attn_1_out", C, H, W);
    run_resblock(r, &v->dec_mid2, H, W);
    run_trace(r, "dec.mid.block_2_out", C, H, W);
    for (int i = v->cfg.n_levels - 1; i >= 0; i--) {
        const vae_level *lv = &v->up[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            run_resblock(r, &lv->block[j], H, W);
            kfmt(name, sizeof(name), "dec.up%d.block%d_out", i, j);
            run_trace(r, name, lv->block[j].cout, H, W);
        }
        if (lv->has_resample) {
            run_upsample(r, &lv->resample, lv->resample.cout, &H, &W);
            kfmt(name, sizeof(name), "dec.up%d.upsample_out", i);
            run_trace(r, name, lv->resample.cout, H, W);
        }
    }
    run_out(r, v->dec_norm_w, v->dec_norm_b, &v->dec_conv_out, H, W);
    // tanh_out = False, give_pre_end = False in the DynamiCrafter configs
}

// Copy a frame with channel stride cs into contiguous dst (C, HW) / back.
static void gather(float *dst, const float *src, int64_t C, int64_t HW, int64_t cs) {
    for (int64_t c = 0; c < C; c++) memcpy(dst + c * HW, src + c * cs, (size_t)HW * sizeof(float));
}

typedef enum { RUN_ENCODE = 0, RUN_DECODE = 1 } run_kind;

// Ask for transparent huge pages on the activation arena (Linux, THP in "madvise" mode): the convolution
// packers read one row per input channel, rows H*W floats apart, and with 4 KiB pages nearly every one
// of those reads also misses the TLB. A hint only; failure is harmless.
static void arena_advise_huge(pc_arena *a) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t b = ((uintptr_t)a->base + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)a->base + a->size) & ~(uintptr_t)4095;
    if (e > b) (void)madvise((void *)b, e - b, MADV_HUGEPAGE);
#else
    (void)a;
#endif
}

// Dry-run the pass for this frame size, make sure the arena fits, then run it for real with the input
// copied into the first slot. On success the result is in r->slot[r->cur].
static pc_status run_pass(pc_vae *v, vae_run *r, run_kind kind, const float *in, int64_t in_C, int64_t in_cs,
                          int64_t H, int64_t W, pc_error *err) {
    pc_arena meas;
    pc_arena_init_measure(&meas);
    memset(r, 0, sizeof(*r));
    r->v = v;
    r->ex = (pc_nn_exec){.pool = v->pool, .arena = &meas, .dry = 1, .st = PC_OK, .err = err};
    r->slot_need = (size_t)(in_C * H * W);
    if (kind == RUN_ENCODE)
        encoder_forward(r, H, W);
    else
        decoder_forward(r, H, W);
    if (r->ex.st != PC_OK) return r->ex.st;
    size_t slot = (r->slot_need + 15) & ~(size_t)15;
    size_t need = 2 * slot * sizeof(float) + meas.peak + 4096;
    if (!v->arena.base || v->arena.size < need) {
        pc_arena_free(&v->arena);
        pc_status st = pc_arena_init(&v->arena, need, err);
        if (st != PC_OK) return st;
        arena_advise_huge(&v->arena);
    }
    pc_arena_reset(&v->arena, 0);
    memset(r, 0, sizeof(*r));
    r->v = v;
    r->ex = (pc_nn_exec){.pool = v->pool, .arena = &v->arena, .dry = 0, .st = PC_OK, .err = err};
    r->slot[0] = pc_arena_f32(&v->arena, slot);
    r->slot[1] = pc_arena_f32(&v->arena, slot);
    r->slot_cap = slot;
    if (!r->slot[0] || !r->slot[1]) return pc_err(err, PC_ERR_MEMORY, "VAE: activation arena exhausted");
    gather(r->slot[0], in, in_C, H * W, in_cs);
    if (kind == RUN_ENCODE)
        encoder_forward(r, H, W);
    else
        decoder_forward(r, H, W);
    v->last_flops = r->flops;
    return r->ex.st;
}

static pc_status check_dims(const pc_vae *v, int64_t H, int64_t W, int need_multiple, const char *what, pc_error *err) {
    const int64_t f = pc_vae_downscale(v);
    const int64_t lim = 1 << 16;
    if (H <= 0 || W <= 0 || H > lim || W > lim)
        return pc_err(err, PC_ERR_ARG, "%s: size %lld x %lld out of range", what, (long long)H, (long long)W);
    if (need_multiple && (H % f || W % f))
        return pc_err(err, PC_ERR_ARG, "%s: size %lld x %lld is not a multiple of %lld", what, (long long)H,
                      (long long)W, (long long)f);
    if (!need_multiple && (H * f > lim || W * f > lim))
        return pc_err(err, PC_ERR_ARG, "%s: latent %lld x %lld too large", what, (long long)H, (long long)W);
    return PC_OK;
}

pc_status pc_vae_encode_frame(pc_vae *v, float *mean, float *logvar, float *std, int64_t out_cs, const float *image,
                              int64_t img_cs, int64_t H, int64_t W, pc_error *err) {
    if (!v || !image) return pc_err(err, PC_ERR_ARG, "pc_vae_encode_frame: NULL argument");
    pc_status st = check_dims(v, H, W, 1, "VAE encode", err);
    if (st != PC_OK) return st;
    if (img_cs <= 0) img_cs = H * W;
    vae_run r;
    if ((st = run_pass(v, &r, RUN_ENCODE, image, v->cfg.in_channels, img_cs, H, W, err)) != PC_OK) return st;
    const int64_t f = pc_vae_downscale(v), hw = (H / f) * (W / f), E = v->cfg.embed_dim;
    if (out_cs <= 0) out_cs = hw;
    const float *mom = r.slot[r.cur];  // (2E, h, w): mean then logvar (torch.chunk(moments, 2, dim=1))
    for (int64_t c = 0; c < E; c++) {
        const float *mu = mom + c * hw, *lv = mom + (E + c) * hw;
        for (int64_t i = 0; i < hw; i++) {
            // DiagonalGaussianDistribution: logvar = clamp(logvar, -30, 20); std = exp(0.5 * logvar)
            float l = lv[i] < -30.0f ? -30.0f : (lv[i] > 20.0f ? 20.0f : lv[i]);
            if (mean) mean[c * out_cs + i] = mu[i];
            if (logvar) logvar[c * out_cs + i] = l;
            if (std) std[c * out_cs + i] = expf(0.5f * l);
        }
    }
    return PC_OK;
}

pc_status pc_vae_decode_frame(pc_vae *v, float *image, int64_t img_cs, const float *z, int64_t z_cs, int64_t h,
                              int64_t w, pc_error *err) {
    if (!v || !image || !z) return pc_err(err, PC_ERR_ARG, "pc_vae_decode_frame: NULL argument");
    pc_status st = check_dims(v, h, w, 0, "VAE decode", err);
    if (st != PC_OK) return st;
    if (z_cs <= 0) z_cs = h * w;
    vae_run r;
    if ((st = run_pass(v, &r, RUN_DECODE, z, v->cfg.embed_dim, z_cs, h, w, err)) != PC_OK) return st;
    const int64_t f = pc_vae_downscale(v), HW = (h * f) * (w * f);
    if (img_cs <= 0) img_cs = HW;
    for (int64_t c = 0; c < v->cfg.out_ch; c++)
        memcpy(image + c * img_cs, r.slot[r.cur] + c * HW, (size_t)HW * sizeof(float));
    return PC_OK;
}

pc_status pc_vae_encode_video(pc_vae *v, float *z, const float *video, const float *noise, int64_t T, int64_t H,
                              int64_t W, pc_error *err) {
    if (!v || !z || !video) return pc_err(err, PC_ERR_ARG, "pc_vae_encode_video: NULL argument");
    if (T <= 0 || T > 4096) return pc_err(err, PC_ERR_ARG, "pc_vae_encode_video: T = %lld out of range", (long long)T);
    pc_status st = check_dims(v, H, W, 1, "VAE encode", err);
    if (st != PC_OK) return st;
    const int64_t f = pc_vae_downscale(v), hw = (H / f) * (W / f), E = v->cfg.embed_dim;
    // get_first_stage_encoding: self.scale_factor * z, a Python float applied in float32
    const float sf = (float)v->cfg.scale_factor;
    float *mean = (float *)malloc((size_t)(2 * E * hw) * sizeof(float));  // (E, h, w) mean, then std
    if (!mean) return pc_err(err, PC_ERR_MEMORY, "VAE encode: out of memory");
    float *sd = mean + E * hw;
    for (int64_t t = 0; t < T && st == PC_OK; t++) {
        st = pc_vae_encode_frame(v, mean, NULL, sd, hw, video + t * H * W, T * H * W, H, W, err);
        if (st != PC_OK) break;
        for (int64_t c = 0; c < E; c++) {
            float *zc = z + (c * T + t) * hw;  // (E, T, h, w)
            const float *mu = mean + c * hw, *s = sd + c * hw;
            if (noise) {
                // DiagonalGaussianDistribution.sample: mean + std * noise
                const float *nz = noise + (t * E + c) * hw;
                for (int64_t i = 0; i < hw; i++) {
                    float sn = s[i] * nz[i];
                    float x = mu[i] + sn;
                    zc[i] = sf * x;
                }
            } else {
                for (int64_t i = 0; i < hw; i++) zc[i] = sf * mu[i];
            }
        }
    }
    free(mean);
    return st;
}

pc_status pc_vae_decode_video(pc_vae *v, float *video, const float *z, int64_t T, int64_t h, int64_t w,
                              pc_error *err) {
    if (!v || !z || !video) return pc_err(err, PC_ERR_ARG, "pc_vae_decode_video: NULL argument");
    if (T <= 0 || T > 4096) return pc_err(err, PC_ERR_ARG, "pc_vae_decode_video: T = %lld out of range", (long long)T);
    pc_status st = check_dims(v, h, w, 0, "VAE decode", err);
    if (st != PC_OK) return st;
    const int64_t f = pc_vae_downscale(v), hw = h * w, HW = (h * f) * (w * f), E = v->cfg.embed_dim;
    float *zt = (float *)malloc((size_t)(E * hw) * sizeof(float));
    if (!zt) return pc_err(err, PC_ERR_MEMORY, "VAE decode: out of memory");
    // decode_core: (1. / scale_factor) * z, the reciprocal taken in double then applied in float32
    const float inv = (float)(1.0 / v->cfg.scale_factor);
    for (int64_t t = 0; t < T && st == PC_OK; t++) {
        for (int64_t c = 0; c < E; c++)
            for (int64_t i = 0; i < hw; i++) zt[c * hw + i] = inv * z[(c * T + t) * hw + i];
        st = pc_vae_decode_frame(v, video + t * HW, T * HW, zt, hw, h, w, err);
    }
    free(zt);
    return st;
}
