// DUSt3R inference (naver/dust3r AsymmetricCroCo3DStereo): a siamese ViT
// encoder with RoPE2D, two cross-attending decoders and one prediction head
// per view (DPT or linear), then the pointmap/confidence post-processing.
// MASt3R (naver/mast3r AsymmetricMASt3R) is the same trunk with the 'catmlp+dpt'
// head: the DPT plus a local-feature MLP (mast3r: Cat_MLP_LocalFeatures_DPT_Pts3d).
//
// The forward reads top to bottom like dust3r/model.py:
//   encode (patch_embed, enc_blocks, enc_norm)            -> _encode_image
//   decode (decoder_embed, dec_blocks / dec_blocks2, dec_norm) -> _decoder
//   head   (DPT: act_postprocess, layer_rn, refinenets, head; or linear) -> _downstream_head
//   postprocess (reg_dense_depth, reg_dense_conf)         -> heads/postprocess.py
// Activations come from one arena, sized by a dry run of the same code.
// One code path for every device: the trunk (encode, decode) runs on the backend that
// pc_dust3r_set_device chose (nn/backend.h: cpu, cuda, emu); the heads run on the cpu backend, reading
// host copies of the tokens they hook (convolutions other than the patch embedding are not on the GPU
// yet), and postprocess is host code.
#include "models/dust3r_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/rng.h"
#include "nn/nn.h"
#include "posecrafter/io.h"

// ---- model ------------------------------------------------------------------------------

typedef struct dpt_fusion {  // croco: FeatureFusionBlock_custom
    pc_nn_conv2d rcu1_conv1, rcu1_conv2;  // resConfUnit1 (unused by refinenet4)
    pc_nn_conv2d rcu2_conv1, rcu2_conv2;  // resConfUnit2
    pc_nn_conv2d out_conv;                // 1x1
} dpt_fusion;

typedef struct dpt_head {  // dust3r: DPTOutputAdapter_fix inside PixelwiseTaskWithDPT
    pc_nn_conv2d act_proj[4];  // act_postprocess.k.0: 1x1, dim_tokens[k] -> layer_dims[k]
    pc_nn_convt2d act_up0;     // act_postprocess.0.1: ConvTranspose k4 s4
    pc_nn_convt2d act_up1;     // act_postprocess.1.1: ConvTranspose k2 s2
    pc_nn_conv2d act_down3;    // act_postprocess.3.1: 3x3 s2 p1
    pc_nn_conv2d layer_rn[4];  // scratch.layer_rn.k: 3x3, no bias
    dpt_fusion refinenet[4];   // scratch.refinenet{k+1}
    pc_nn_conv2d head0, head2, head4;  // head.0 (3x3), head.2 (3x3), head.4 (1x1)
} dpt_head;

struct pc_dust3r {
    pc_dust3r_config cfg;
    int out_ch;                 // 3 + has_conf
    pc_pool *pool;              // borrowed
    pc_checkpoint *ck;          // owned (NULL for a random model)
    pc_nn_store rnd;            // owned random tensors (random model)
    pc_nn_binder binder;
    int64_t n_params;

    pc_nn_conv2d patch_embed;   // (enc_dim, 3, p, p), stride p
    pc_nn_vit_block *enc;       // (enc_depth)
    pc_nn_layernorm enc_norm;
    pc_nn_linear decoder_embed; // (dec_dim, enc_dim)
    pc_nn_decoder_block *dec[2];  // dec_blocks (view 1), dec_blocks2 (view 2)
    pc_nn_layernorm dec_norm;
    dpt_head dpt[2];
    pc_nn_linear lin[2];        // linear head proj: (out_ch * p * p, dec_dim)
    pc_nn_linear loc_fc1[2];    // MASt3R head_local_features.fc1: (hidden, enc_dim + dec_dim)
    pc_nn_linear loc_fc2[2];    // MASt3R head_local_features.fc2: ((desc_dim + two_confs) * p * p, hidden)
    int raw_ch;                 // channels of the raw head output: out_ch (+ desc_dim + two_confs for MASt3R)
    int want_desc;              // MASt3R: return desc / desc_conf (pc_dust3r_set_desc_output)

    pc_arena arena;
    pc_nn_backend *dev;         // trunk backend when not the cpu (owned; weights placed on it)
    double enc_s, dec_s;        // wall time of the last encode / decode on it
    pc_dust3r_trace_fn trace;
    void *trace_ctx;
};

void pc_dust3r_set_trace(pc_dust3r *net, pc_dust3r_trace_fn fn, void *ctx) {
    net->trace = fn;
    net->trace_ctx = ctx;
}

const pc_tensor *pc_dust3r_find_tensor(const pc_dust3r *net, const char *name) {
    return net->binder.find(net->binder.ctx, name);
}

const pc_dust3r_config *pc_dust3r_get_config(const pc_dust3r *net) { return &net->cfg; }
void pc_dust3r_set_desc_output(pc_dust3r *net, int on) {
    if (net) net->want_desc = on != 0;
}
int pc_dust3r_get_desc_output(const pc_dust3r *net) { return net && net->want_desc; }
int pc_dust3r_has_desc(const pc_dust3r *net) { return net && net->cfg.head == PC_DUST3R_HEAD_CATMLP_DPT; }
int64_t pc_dust3r_num_params(const pc_dust3r *net) { return net->n_params; }
size_t pc_dust3r_arena_bytes(const pc_dust3r *net) { return net->arena.size; }

static pc_status place_trunk(pc_nn_backend *be, void *model, int measuring, pc_error *err) {
    pc_dust3r *net = (pc_dust3r *)model;
    const pc_dust3r_config *c = &net->cfg;
    pc_status st = pc_nn_conv2d_place(be, &net->patch_embed, measuring, err);
    for (int i = 0; i < c->enc_depth && st == PC_OK; i++) st = pc_nn_vit_block_place(be, &net->enc[i], measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &net->enc_norm, measuring, err);
    if (st == PC_OK) st = pc_nn_linear_place(be, &net->decoder_embed, measuring, err);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < c->dec_depth && st == PC_OK; i++)
            st = pc_nn_decoder_block_place(be, &net->dec[v][i], measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &net->dec_norm, measuring, err);
    return st;
}

pc_status pc_dust3r_set_device(pc_dust3r *net, const char *device, pc_error *err) {
    if (!net || !device) return pc_err(err, PC_ERR_ARG, "pc_dust3r_set_device: NULL argument");
    return pc_nn_set_device(&net->dev, device, net->pool, place_trunk, net, err);
}

const char *pc_dust3r_get_device(const pc_dust3r *net) { return net && net->dev ? net->dev->name : "cpu"; }

void pc_dust3r_get_device_info(const pc_dust3r *net, pc_dust3r_device_info *info) {
    memset(info, 0, sizeof(*info));
    if (!net || !net->dev) return;
    info->on_cuda = 1;
    snprintf(info->name, sizeof(info->name), "%s", (const char *)net->dev->ctx);
    net->dev->memory(net->dev, &info->weight_bytes, &info->act_arena_bytes, &info->act_peak_bytes);
    info->enc_s = net->enc_s;
    info->dec_s = net->dec_s;
}

// ---- args.model parsing ---------------------------------------------------------------------

// Value text after "key=" in a Python call string, or NULL.
static const char *kw_find(const char *s, const char *key) {
    size_t n = strlen(key);
    for (const char *p = strstr(s, key); p; p = strstr(p + 1, key)) {
        if (p > s && !(p[-1] == '(' || p[-1] == ',' || isspace((unsigned char)p[-1]))) continue;
        const char *q = p + n;
        while (isspace((unsigned char)*q)) q++;
        if (*q != '=') continue;
        q++;
        while (isspace((unsigned char)*q)) q++;
        return q;
    }
    return NULL;
}

// Quoted string value -> buf. Returns 1 on success.
static int kw_str(const char *s, const char *key, char *buf, size_t n) {
    const char *v = kw_find(s, key);
    if (!v || (*v != '\'' && *v != '"')) return 0;
    char q = *v++;
    size_t i = 0;
    while (*v && *v != q && i + 1 < n) buf[i++] = *v++;
    buf[i] = 0;
    return *v == q;
}

static int kw_int(const char *s, const char *key, long *out) {
    const char *v = kw_find(s, key);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v) return 0;
    *out = x;
    return 1;
}

// ('mode', vmin, vmax) -> mode, vmin, vmax. Returns 1 on success, -1 when the value is None.
static int kw_mode(const char *s, const char *key, char *mode, size_t n, double *vmin, double *vmax) {
    const char *v = kw_find(s, key);
    if (!v) return 0;
    if (!strncmp(v, "None", 4)) return -1;
    if (*v != '(' && *v != '[') return 0;
    v++;
    while (isspace((unsigned char)*v)) v++;
    if (*v != '\'' && *v != '"') return 0;
    char q = *v++;
    size_t i = 0;
    while (*v && *v != q && i + 1 < n) mode[i++] = *v++;
    mode[i] = 0;
    if (*v != q) return 0;
    v++;
    double b[2];
    for (int k = 0; k < 2; k++) {
        while (isspace((unsigned char)*v) || *v == ',') v++;
        char *end;
        b[k] = strtod(v, &end);  // accepts inf / -inf
        if (end == v) return 0;
        v = end;
    }
    *vmin = b[0];
    *vmax = b[1];
    return 1;
}

pc_status pc_dust3r_parse_args(const char *args, pc_dust3r_config *cfg, pc_error *err) {
    char buf[128];
    long v;
    double lo, hi;
    const char *open = strchr(args, '(');
    if (!open) return pc_err(err, PC_ERR_FORMAT, "model args '%.80s' are not a constructor call", args);
    size_t nlen = (size_t)(open - args);
    while (nlen && isspace((unsigned char)args[nlen - 1])) nlen--;
    const int is_dust3r = nlen == strlen("AsymmetricCroCo3DStereo") && !strncmp(args, "AsymmetricCroCo3DStereo", nlen);
    const int is_mast3r = nlen == strlen("AsymmetricMASt3R") && !strncmp(args, "AsymmetricMASt3R", nlen);
    if (!is_dust3r && !is_mast3r)
        return pc_err(err, PC_ERR_UNSUPPORTED,
                      "model class '%.*s' is not supported (expected AsymmetricCroCo3DStereo or AsymmetricMASt3R)",
                      (int)PC_MIN(nlen, 60), args);
    cfg->mast3r = is_mast3r;
    // Defaults of AsymmetricCroCo3DStereo / CroCoNet when a keyword is absent.
    if (!kw_str(args, "pos_embed", buf, sizeof(buf))) strcpy(buf, "cosine");
    if (strncmp(buf, "RoPE", 4) != 0)
        return pc_err(err, PC_ERR_UNSUPPORTED, "pos_embed='%s' is not supported (only RoPE<freq>)", buf);
    char *end;
    cfg->rope_base = strtof(buf + 4, &end);
    if (end == buf + 4 || *end || !(cfg->rope_base > 0))
        return pc_err(err, PC_ERR_FORMAT, "pos_embed='%s': bad RoPE frequency", buf);
    if (!kw_str(args, "head_type", buf, sizeof(buf))) strcpy(buf, "linear");
    if (!strcmp(buf, "dpt")) cfg->head = PC_DUST3R_HEAD_DPT;
    else if (!strcmp(buf, "linear")) cfg->head = PC_DUST3R_HEAD_LINEAR;
    else if (!strcmp(buf, "catmlp+dpt") && is_mast3r) cfg->head = PC_DUST3R_HEAD_CATMLP_DPT;
    else
        return pc_err(err, PC_ERR_UNSUPPORTED, "head_type='%s' is not supported (dpt, linear%s)", buf,
                      is_mast3r ? " or catmlp+dpt" : "");
    if (!kw_str(args, "output_mode", buf, sizeof(buf))) strcpy(buf, "pts3d");
    cfg->desc_dim = 0;
    if (cfg->head == PC_DUST3R_HEAD_CATMLP_DPT) {  // mast3r: 'pts3d+desc<D>'
        char *e2;
        long d = strncmp(buf, "pts3d+desc", 10) ? 0 : strtol(buf + 10, &e2, 10);
        if (d <= 0 || d > 1024 || *e2)
            return pc_err(err, PC_ERR_UNSUPPORTED, "output_mode='%s' is not supported with catmlp+dpt (pts3d+desc<D>)", buf);
        cfg->desc_dim = (int)d;
        char dm[32];
        if (kw_str(args, "desc_mode", dm, sizeof(dm)) && strcmp(dm, "norm") != 0)
            return pc_err(err, PC_ERR_UNSUPPORTED, "desc_mode='%s' is not supported (norm)", dm);
        const char *tc = kw_find(args, "two_confs");
        cfg->two_confs = tc && !strncmp(tc, "True", 4);
    } else if (strcmp(buf, "pts3d") != 0) {
        return pc_err(err, PC_ERR_UNSUPPORTED, "output_mode='%s' is not supported with head_type dpt/linear (pts3d)",
                      buf);
    }
    int r = kw_mode(args, "depth_mode", buf, sizeof(buf), &lo, &hi);
    if (r == 0 && kw_find(args, "depth_mode")) return pc_err(err, PC_ERR_FORMAT, "cannot parse depth_mode in model args");
    if (r == -1) return pc_err(err, PC_ERR_UNSUPPORTED, "depth_mode=None is not supported");
    if (r == 0) strcpy(buf, "exp"), lo = -INFINITY, hi = INFINITY;
    if (!(isinf(lo) && lo < 0 && isinf(hi) && hi > 0))
        return pc_err(err, PC_ERR_UNSUPPORTED, "depth_mode bounds (%g, %g) are not supported (upstream asserts none)",
                      lo, hi);
    if (!strcmp(buf, "exp")) cfg->depth_mode = PC_DUST3R_DEPTH_EXP;
    else if (!strcmp(buf, "square")) cfg->depth_mode = PC_DUST3R_DEPTH_SQUARE;
    else if (!strcmp(buf, "linear")) cfg->depth_mode = PC_DUST3R_DEPTH_LINEAR;
    else return pc_err(err, PC_ERR_UNSUPPORTED, "depth_mode '%s' is not supported", buf);
    r = kw_mode(args, "conf_mode", buf, sizeof(buf), &lo, &hi);
    if (r == 0 && kw_find(args, "conf_mode")) return pc_err(err, PC_ERR_FORMAT, "cannot parse conf_mode in model args");
    if (r == 0) strcpy(buf, "exp"), lo = 1, hi = INFINITY;
    if (r == -1) {
        cfg->conf_mode = PC_DUST3R_CONF_NONE;
    } else if (!strcmp(buf, "exp")) {
        cfg->conf_mode = PC_DUST3R_CONF_EXP;
    } else if (!strcmp(buf, "sigmoid")) {
        cfg->conf_mode = PC_DUST3R_CONF_SIGMOID;
    } else {
        return pc_err(err, PC_ERR_UNSUPPORTED, "conf_mode '%s' is not supported", buf);
    }
    cfg->conf_vmin = (float)lo;
    cfg->conf_vmax = (float)hi;
    if (cfg->head == PC_DUST3R_HEAD_CATMLP_DPT) {  // desc_conf_mode: absent or None -> conf_mode (AsymmetricMASt3R)
        cfg->desc_conf_mode = cfg->conf_mode, cfg->desc_conf_vmin = cfg->conf_vmin, cfg->desc_conf_vmax = cfg->conf_vmax;
        r = kw_mode(args, "desc_conf_mode", buf, sizeof(buf), &lo, &hi);
        if (r == 0 && kw_find(args, "desc_conf_mode"))
            return pc_err(err, PC_ERR_FORMAT, "cannot parse desc_conf_mode in model args");
        if (r == 1) {
            if (!strcmp(buf, "exp")) cfg->desc_conf_mode = PC_DUST3R_CONF_EXP;
            else if (!strcmp(buf, "sigmoid")) cfg->desc_conf_mode = PC_DUST3R_CONF_SIGMOID;
            else return pc_err(err, PC_ERR_UNSUPPORTED, "desc_conf_mode '%s' is not supported", buf);
            cfg->desc_conf_vmin = (float)lo;
            cfg->desc_conf_vmax = (float)hi;
        }
        if (cfg->two_confs && cfg->desc_conf_mode == PC_DUST3R_CONF_NONE)
            return pc_err(err, PC_ERR_UNSUPPORTED, "two_confs=True needs a desc_conf_mode");
    }
    cfg->enc_heads = kw_int(args, "enc_num_heads", &v) ? (int)v : 12;
    cfg->dec_heads = kw_int(args, "dec_num_heads", &v) ? (int)v : 16;
    if (cfg->enc_heads <= 0 || cfg->dec_heads <= 0)
        return pc_err(err, PC_ERR_FORMAT, "model args: number of heads must be positive");
    cfg->landscape_only = 1;
    const char *lv = kw_find(args, "landscape_only");
    if (lv && !strncmp(lv, "False", 5)) cfg->landscape_only = 0;
    if (kw_str(args, "patch_embed_cls", buf, sizeof(buf)) && strcmp(buf, "PatchEmbedDust3R") != 0 &&
        strcmp(buf, "ManyAR_PatchEmbed") != 0)
        return pc_err(err, PC_ERR_UNSUPPORTED, "patch_embed_cls='%s' is not supported", buf);
    return PC_OK;
}

// ---- architecture from shapes + binding -------------------------------------------------------

static int64_t count_blocks(pc_nn_binder *b, const char *prefix) {
    char key[256];
    int64_t n = 0;
    for (;;) {
        snprintf(key, sizeof(key), "%s.%lld.norm1.weight", prefix, (long long)n);
        if (!pc_nn_has(b, key)) return n;
        n++;
    }
}

static pc_status heads_for(int64_t dim, int *heads, const char *what, pc_error *err) {
    if (*heads <= 0) {  // no args: the head_dim 64 convention of the published models
        if (dim % 64) return pc_err(err, PC_ERR_UNSUPPORTED, "%s dim %lld: number of heads unknown (no model args)",
                                    what, (long long)dim);
        *heads = (int)(dim / 64);
    }
    if (dim % *heads || (dim / *heads) % 4)
        return pc_err(err, PC_ERR_SHAPE, "%s dim %lld is not divisible into %d heads of a multiple of 4", what,
                      (long long)dim, *heads);
    return PC_OK;
}

static pc_status bind_dpt(pc_dust3r *net, pc_nn_binder *b, dpt_head *h, int v, pc_error *err) {
    pc_dust3r_config *c = &net->cfg;
    char pre[128], key[256];
    pc_status st;
    snprintf(pre, sizeof(pre), "downstream_head%d.dpt", v + 1);
    int64_t dim_tokens[4] = {c->enc_dim, c->dec_dim, c->dec_dim, c->dec_dim};
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof(key), "%s.act_postprocess.%d.0", pre, k);
        if ((st = pc_nn_conv2d_bind(b, &h->act_proj[k], key, dim_tokens[k], c->dpt_layer_dims[k], 1, 1, 0, 1, err)))
            return st;
    }
    snprintf(key, sizeof(key), "%s.act_postprocess.0.1", pre);
    if ((st = pc_nn_convt2d_bind(b, &h->act_up0, key, c->dpt_layer_dims[0], c->dpt_layer_dims[0], 4, 4, 1, err)))
        return st;
    snprintf(key, sizeof(key), "%s.act_postprocess.1.1", pre);
    if ((st = pc_nn_convt2d_bind(b, &h->act_up1, key, c->dpt_layer_dims[1], c->dpt_layer_dims[1], 2, 2, 1, err)))
        return st;
    snprintf(key, sizeof(key), "%s.act_postprocess.3.1", pre);
    if ((st = pc_nn_conv2d_bind(b, &h->act_down3, key, c->dpt_layer_dims[3], c->dpt_layer_dims[3], 3, 2, 1, 1, err)))
        return st;
    int64_t F = c->dpt_feature_dim;
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof(key), "%s.scratch.layer_rn.%d.weight", pre, k);
        if (pc_nn_has(b, key))
            snprintf(key, sizeof(key), "%s.scratch.layer_rn.%d", pre, k);
        else  // the same tensor under its other (aliased) name
            snprintf(key, sizeof(key), "%s.scratch.layer%d_rn", pre, k + 1);
        if ((st = pc_nn_conv2d_bind(b, &h->layer_rn[k], key, c->dpt_layer_dims[k], F, 3, 1, 1, 0, err))) return st;
    }
    for (int k = 0; k < 4; k++) {
        dpt_fusion *f = &h->refinenet[k];
        memset(f, 0, sizeof(*f));
        if (k != 3) {  // refinenet4 gets a single input: its resConfUnit1 is never used
            snprintf(key, sizeof(key), "%s.scratch.refinenet%d.resConfUnit1.conv1", pre, k + 1);
            if ((st = pc_nn_conv2d_bind(b, &f->rcu1_conv1, key, F, F, 3, 1, 1, 1, err))) return st;
            snprintf(key, sizeof(key), "%s.scratch.refinenet%d.resConfUnit1.conv2", pre, k + 1);
            if ((st = pc_nn_conv2d_bind(b, &f->rcu1_conv2, key, F, F, 3, 1, 1, 1, err))) return st;
        }
        snprintf(key, sizeof(key), "%s.scratch.refinenet%d.resConfUnit2.conv1", pre, k + 1);
        if ((st = pc_nn_conv2d_bind(b, &f->rcu2_conv1, key, F, F, 3, 1, 1, 1, err))) return st;
        snprintf(key, sizeof(key), "%s.scratch.refinenet%d.resConfUnit2.conv2", pre, k + 1);
        if ((st = pc_nn_conv2d_bind(b, &f->rcu2_conv2, key, F, F, 3, 1, 1, 1, err))) return st;
        snprintf(key, sizeof(key), "%s.scratch.refinenet%d.out_conv", pre, k + 1);
        if ((st = pc_nn_conv2d_bind(b, &f->out_conv, key, F, F, 1, 1, 0, 1, err))) return st;
    }
    snprintf(key, sizeof(key), "%s.head.0", pre);
    if ((st = pc_nn_conv2d_bind(b, &h->head0, key, F, F / 2, 3, 1, 1, 1, err))) return st;
    snprintf(key, sizeof(key), "%s.head.2", pre);
    if ((st = pc_nn_conv2d_bind(b, &h->head2, key, F / 2, c->dpt_last_dim, 3, 1, 1, 1, err))) return st;
    snprintf(key, sizeof(key), "%s.head.4", pre);
    return pc_nn_conv2d_bind(b, &h->head4, key, c->dpt_last_dim, net->out_ch, 1, 1, 0, 1, err);
}

// mast3r: head_local_features = Mlp(enc_dim + dec_dim -> hidden -> (desc_dim + two_confs) * p^2) per head;
// widths from the tensors (upstream's factory hard-codes 4 x (enc + dec) hidden).
static pc_status bind_local_features(pc_dust3r *net, pc_nn_binder *b, pc_error *err) {
    pc_dust3r_config *c = &net->cfg;
    char key[128];
    int nd;
    int64_t sh[PC_MAX_DIMS];
    pc_status st;
    if (c->patch != 16) return pc_err(err, PC_ERR_UNSUPPORTED, "the catmlp+dpt head needs patch size 16 (got %d)", c->patch);
    if ((st = pc_nn_shape(b, "downstream_head1.head_local_features.fc1.weight", &nd, sh, err))) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "tensor 'downstream_head1.head_local_features.fc1.weight' must be 2-D");
    c->local_mlp_hidden = (int)sh[0];
    const int64_t pp = (int64_t)c->patch * c->patch, out = (int64_t)(c->desc_dim + c->two_confs) * pp;
    for (int v = 0; v < 2; v++) {
        snprintf(key, sizeof(key), "downstream_head%d.head_local_features.fc1", v + 1);
        if ((st = pc_nn_linear_bind(b, &net->loc_fc1[v], key, c->enc_dim + c->dec_dim, c->local_mlp_hidden, 1, err)))
            return st;
        snprintf(key, sizeof(key), "downstream_head%d.head_local_features.fc2", v + 1);
        if ((st = pc_nn_linear_bind(b, &net->loc_fc2[v], key, c->local_mlp_hidden, out, 1, err))) return st;
    }
    net->raw_ch = net->out_ch + c->desc_dim + c->two_confs;
    return PC_OK;
}

// Read the widths the shapes imply, then bind every tensor (cfg's arg-derived fields already set).
static pc_status build(pc_dust3r *net, pc_error *err) {
    pc_nn_binder *b = &net->binder;
    pc_dust3r_config *c = &net->cfg;
    pc_status st;
    int nd;
    int64_t sh[PC_MAX_DIMS];
    char key[256];

    if ((st = pc_nn_shape(b, "patch_embed.proj.weight", &nd, sh, err))) return st;
    if (nd != 4 || sh[1] != 3 || sh[2] != sh[3] || sh[2] <= 0)
        return pc_err(err, PC_ERR_SHAPE, "tensor 'patch_embed.proj.weight' must be (C, 3, p, p)");
    c->enc_dim = (int)sh[0];
    c->patch = (int)sh[2];
    if ((st = pc_nn_shape(b, "decoder_embed.weight", &nd, sh, err))) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "tensor 'decoder_embed.weight' must be 2-D");
    c->dec_dim = (int)sh[0];
    c->enc_depth = (int)count_blocks(b, "enc_blocks");
    c->dec_depth = (int)count_blocks(b, "dec_blocks");
    if (c->enc_depth < 1) return pc_err(err, PC_ERR_NOT_FOUND, "tensor 'enc_blocks.0.norm1.weight' is missing");
    if (c->dec_depth < 1) return pc_err(err, PC_ERR_NOT_FOUND, "tensor 'dec_blocks.0.norm1.weight' is missing");
    if ((st = heads_for(c->enc_dim, &c->enc_heads, "encoder", err))) return st;
    if ((st = heads_for(c->dec_dim, &c->dec_heads, "decoder", err))) return st;
    if (c->ln_eps <= 0) c->ln_eps = 1e-6f;
    net->out_ch = 3 + (c->conf_mode != PC_DUST3R_CONF_NONE);

    // encoder
    if ((st = pc_nn_conv2d_bind(b, &net->patch_embed, "patch_embed.proj", 3, c->enc_dim, c->patch, c->patch, 0, 1, err)))
        return st;
    net->patch_embed.exact = 1;  // the image patches keep full precision on every device
    net->enc = (pc_nn_vit_block *)calloc((size_t)c->enc_depth, sizeof(*net->enc));
    net->dec[0] = (pc_nn_decoder_block *)calloc((size_t)c->dec_depth, sizeof(*net->dec[0]));
    net->dec[1] = (pc_nn_decoder_block *)calloc((size_t)c->dec_depth, sizeof(*net->dec[1]));
    if (!net->enc || !net->dec[0] || !net->dec[1]) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    for (int i = 0; i < c->enc_depth; i++) {
        snprintf(key, sizeof(key), "enc_blocks.%d", i);
        if ((st = pc_nn_vit_block_bind(b, &net->enc[i], key, c->enc_dim, c->enc_heads, c->ln_eps, err))) return st;
    }
    c->enc_mlp = (int)net->enc[0].mlp.fc1.out;
    if ((st = pc_nn_layernorm_bind(b, &net->enc_norm, "enc_norm", c->enc_dim, c->ln_eps, err))) return st;

    // decoders: dec_blocks drives view 1, dec_blocks2 view 2 (upstream duplicates dec_blocks when absent)
    if ((st = pc_nn_linear_bind(b, &net->decoder_embed, "decoder_embed", c->enc_dim, c->dec_dim, 1, err))) return st;
    int has2 = pc_nn_has(b, "dec_blocks2.0.norm1.weight");
    if (has2 && count_blocks(b, "dec_blocks2") != c->dec_depth)
        return pc_err(err, PC_ERR_SHAPE, "dec_blocks2 has %lld blocks but dec_blocks has %d",
                      (long long)count_blocks(b, "dec_blocks2"), c->dec_depth);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < c->dec_depth; i++) {
            snprintf(key, sizeof(key), "%s.%d", (v == 1 && has2) ? "dec_blocks2" : "dec_blocks", i);
            if ((st = pc_nn_decoder_block_bind(b, &net->dec[v][i], key, c->dec_dim, c->dec_heads, c->ln_eps, err)))
                return st;
        }
    c->dec_mlp = (int)net->dec[0][0].mlp.fc1.out;
    if ((st = pc_nn_layernorm_bind(b, &net->dec_norm, "dec_norm", c->dec_dim, c->ln_eps, err))) return st;

    // heads
    int has_dpt = pc_nn_has(b, "downstream_head1.dpt.head.0.weight");
    int has_lin = pc_nn_has(b, "downstream_head1.proj.weight");
    const int dpt_like = c->head == PC_DUST3R_HEAD_DPT || c->head == PC_DUST3R_HEAD_CATMLP_DPT;
    if (dpt_like && !has_dpt)
        return pc_err(err, PC_ERR_NOT_FOUND, "head_type is %s but tensor 'downstream_head1.dpt.head.0.weight' is missing",
                      c->head == PC_DUST3R_HEAD_DPT ? "dpt" : "catmlp+dpt");
    if (c->head == PC_DUST3R_HEAD_LINEAR && !has_lin)
        return pc_err(err, PC_ERR_NOT_FOUND, "head_type is linear but tensor 'downstream_head1.proj.weight' is missing");
    net->raw_ch = net->out_ch;
    if (dpt_like) {
        if (c->patch != 16)
            return pc_err(err, PC_ERR_UNSUPPORTED, "the DPT head needs patch size 16 (got %d)", c->patch);
        for (int k = 0; k < 4; k++) {
            snprintf(key, sizeof(key), "downstream_head1.dpt.act_postprocess.%d.0.weight", k);
            if ((st = pc_nn_shape(b, key, &nd, sh, err))) return st;
            c->dpt_layer_dims[k] = (int)sh[0];
        }
        snprintf(key, sizeof(key), "downstream_head1.dpt.scratch.layer_rn.0.weight");
        if (!pc_nn_has(b, key)) snprintf(key, sizeof(key), "downstream_head1.dpt.scratch.layer1_rn.weight");
        if ((st = pc_nn_shape(b, key, &nd, sh, err))) return st;
        c->dpt_feature_dim = (int)sh[0];
        if ((st = pc_nn_shape(b, "downstream_head1.dpt.head.2.weight", &nd, sh, err))) return st;
        c->dpt_last_dim = (int)sh[0];
        if (c->dpt_feature_dim % 2)
            return pc_err(err, PC_ERR_SHAPE, "DPT feature_dim %d is odd", c->dpt_feature_dim);
        int L = c->dec_depth;  // dust3r: create_dpt_head hooks_idx
        c->dpt_hooks[0] = 0;
        c->dpt_hooks[1] = L * 2 / 4;
        c->dpt_hooks[2] = L * 3 / 4;
        c->dpt_hooks[3] = L;
        for (int v = 0; v < 2; v++)
            if ((st = bind_dpt(net, b, &net->dpt[v], v, err))) return st;
        if (c->head == PC_DUST3R_HEAD_CATMLP_DPT && (st = bind_local_features(net, b, err))) return st;
    } else {
        for (int v = 0; v < 2; v++) {
            snprintf(key, sizeof(key), "downstream_head%d.proj", v + 1);
            int64_t outd = (int64_t)net->out_ch * c->patch * c->patch;
            if ((st = pc_nn_linear_bind(b, &net->lin[v], key, c->dec_dim, outd, 1, err))) return st;
        }
    }
    return PC_OK;
}

static void count_params(pc_dust3r *net) {
    // every bound tensor of the source except the unused ones and aliases
    int64_t n = 0;
    size_t cnt = net->ck ? pc_checkpoint_count(net->ck) : net->rnd.n;
    for (size_t i = 0; i < cnt; i++) {
        const char *name = net->ck ? pc_checkpoint_name(net->ck, i) : net->rnd.names[i];
        const pc_tensor *t = net->ck ? pc_checkpoint_tensor(net->ck, i) : &net->rnd.t[i];
        if (strstr(name, "_rn.weight") && strstr(name, "scratch.layer") && !strstr(name, "layer_rn")) continue;
        if (!strcmp(name, "mask_token")) continue;
        n += pc_tensor_numel(t);
    }
    net->n_params = n;
}

void pc_dust3r_free(pc_dust3r *net) {
    if (!net) return;
    pc_nn_backend_close(net->dev);
    pc_arena_free(&net->arena);
    pc_nn_binder_free(&net->binder);
    free(net->enc);
    free(net->dec[0]);
    free(net->dec[1]);
    if (net->ck) pc_checkpoint_close(net->ck);
    pc_nn_store_free(&net->rnd);
    free(net);
}

pc_status pc_dust3r_load(pc_dust3r **out, const char *path, pc_pool *pool, pc_error *err) {
    if (!out || !path) return pc_err(err, PC_ERR_ARG, "pc_dust3r_load: NULL argument");
    *out = NULL;
    pc_dust3r *net = (pc_dust3r *)calloc(1, sizeof(*net));
    if (!net) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    net->pool = pool;
    pc_status st = pc_checkpoint_open(&net->ck, path, err);
    if (st != PC_OK) {
        free(net);
        return st;
    }
    const char *args = pc_checkpoint_meta(net->ck, "args.model");
    if (!args) args = pc_checkpoint_meta(net->ck, "args");
    if (!args) args = pc_checkpoint_meta(net->ck, "model_args");
    pc_dust3r_config *c = &net->cfg;
    net->binder.get = pc_nn_ck_get;
    net->binder.find = pc_nn_ck_find;
    net->binder.ctx = net->ck;
    if (args) {
        st = pc_dust3r_parse_args(args, c, err);
    } else {  // bare state dict: the published DUSt3R conventions
        c->rope_base = 100.0f;
        c->head = pc_checkpoint_find(net->ck, "downstream_head1.dpt.head.0.weight") ? PC_DUST3R_HEAD_DPT
                                                                                     : PC_DUST3R_HEAD_LINEAR;
        c->depth_mode = PC_DUST3R_DEPTH_EXP;
        c->conf_mode = PC_DUST3R_CONF_EXP;
        c->conf_vmin = 1.0f;
        c->conf_vmax = INFINITY;
        c->landscape_only = 0;
        const pc_tensor *fc2 = pc_checkpoint_find(net->ck, "downstream_head1.head_local_features.fc2.weight");
        if (fc2 && fc2->ndim == 2 && fc2->shape[0] % 256 == 0 && fc2->shape[0] / 256 > 1) {
            // the published MASt3R: 'pts3d+desc24', two_confs=True, desc_conf_mode=('exp', 0, inf)
            c->mast3r = 1;
            c->head = PC_DUST3R_HEAD_CATMLP_DPT;
            c->two_confs = 1;
            c->desc_dim = (int)(fc2->shape[0] / 256) - 1;
            c->desc_conf_mode = PC_DUST3R_CONF_EXP;
            c->desc_conf_vmin = 0.0f;
            c->desc_conf_vmax = INFINITY;
        }
    }
    net->want_desc = 1;
    if (st == PC_OK) st = build(net, err);
    if (st != PC_OK) {
        if (err && !strstr(err->msg, path)) pc_err_prefix(err, st, "%s: ", path);
        pc_dust3r_free(net);
        return st;
    }
    count_params(net);
    *out = net;
    return PC_OK;
}

// ---- random model ----------------------------------------------------------------------------

typedef struct rnd_builder {
    pc_dust3r *net;
    uint64_t seed;
    pc_dtype wdtype;  // dtype of weight matrices
    pc_status st;
    pc_error *err;
} rnd_builder;


// kind: 0 weight (uniform, std ~ gain/sqrt(fan_in)), 1 bias (small), 2 norm weight (~1)
static void rnd_add(rnd_builder *rb, const char *name, int ndim, const int64_t *shape, int kind) {
    pc_dust3r *net = rb->net;
    if (rb->st != PC_OK) return;
    pc_dtype dt = (kind == 0 && ndim >= 2) ? rb->wdtype : PC_F32;
    pc_tensor *t = pc_nn_store_add(&net->rnd, name, dt, ndim, shape, rb->err);
    if (!t) {
        rb->st = PC_ERR_MEMORY;
        return;
    }
    int64_t n = pc_tensor_numel(t), fan_in = n / shape[0];
    if (kind == 0 && ndim == 4 && !strstr(name, "act_postprocess.0.1") && !strstr(name, "act_postprocess.1.1")) {
        fan_in = shape[1] * shape[2] * shape[3];
    } else if (kind == 0 && ndim == 4) {
        fan_in = shape[0];  // ConvTranspose: (Cin, Cout, k, k)
    }
    float scale = kind == 0 ? (float)(sqrt(3.0 / (double)(fan_in > 0 ? fan_in : 1))) : kind == 1 ? 0.02f : 0.1f;
    uint64_t s = rb->seed ^ (0x1234567ull * (uint64_t)net->rnd.n);
    for (int64_t i = 0; i < n; i++) {
        float u = (float)((double)(pc_splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
        float x = (kind == 2 ? 1.0f : 0.0f) + scale * u;
        if (dt == PC_BF16) ((uint16_t *)t->data)[i] = pc_f32_to_bf16(x);
        else if (dt == PC_F16) ((uint16_t *)t->data)[i] = pc_f32_to_f16(x);
        else ((float *)t->data)[i] = x;
    }
}

static void rnd_linear(rnd_builder *rb, const char *pre, int64_t out, int64_t in) {
    char k[320];
    int64_t w[2] = {out, in}, b[1] = {out};
    snprintf(k, sizeof(k), "%s.weight", pre);
    rnd_add(rb, k, 2, w, 0);
    snprintf(k, sizeof(k), "%s.bias", pre);
    rnd_add(rb, k, 1, b, 1);
}
static void rnd_norm(rnd_builder *rb, const char *pre, int64_t dim) {
    char k[320];
    int64_t s[1] = {dim};
    snprintf(k, sizeof(k), "%s.weight", pre);
    rnd_add(rb, k, 1, s, 2);
    snprintf(k, sizeof(k), "%s.bias", pre);
    rnd_add(rb, k, 1, s, 1);
}
static void rnd_conv(rnd_builder *rb, const char *pre, int64_t a, int64_t b_, int64_t kk, int bias) {
    char k[320];
    int64_t w[4] = {a, b_, kk, kk}, bs[1] = {a};
    snprintf(k, sizeof(k), "%s.weight", pre);
    rnd_add(rb, k, 4, w, 0);
    if (bias) {
        if (strstr(pre, "act_postprocess.0.1") || strstr(pre, "act_postprocess.1.1")) bs[0] = b_;
        snprintf(k, sizeof(k), "%s.bias", pre);
        rnd_add(rb, k, 1, bs, 1);
    }
}

pc_status pc_dust3r_create_random(pc_dust3r **out, const pc_dust3r_config *cfg_in, uint64_t seed, pc_dtype wdtype,
                                  pc_pool *pool, pc_error *err) {
    if (!out || !cfg_in) return pc_err(err, PC_ERR_ARG, "pc_dust3r_create_random: NULL argument");
    *out = NULL;
    const pc_dust3r_config *c = cfg_in;
    if (c->patch <= 0 || c->enc_dim <= 0 || c->dec_dim <= 0 || c->enc_depth <= 0 || c->dec_depth <= 0 ||
        c->enc_heads <= 0 || c->dec_heads <= 0 || c->enc_mlp <= 0 || c->dec_mlp <= 0)
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_create_random: sizes must be positive");
    if (c->head != PC_DUST3R_HEAD_LINEAR && (c->dpt_feature_dim <= 0 || c->dpt_last_dim <= 0 || c->dpt_layer_dims[0] <= 0 ||
                                          c->dpt_layer_dims[1] <= 0 || c->dpt_layer_dims[2] <= 0 ||
                                          c->dpt_layer_dims[3] <= 0))
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_create_random: DPT widths must be positive");
    if (c->head == PC_DUST3R_HEAD_CATMLP_DPT && (c->desc_dim <= 0 || c->local_mlp_hidden <= 0 || c->patch != 16))
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_create_random: catmlp+dpt needs desc_dim, local_mlp_hidden and patch 16");
    pc_dust3r *net = (pc_dust3r *)calloc(1, sizeof(*net));
    if (!net) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    net->pool = pool;
    net->cfg = *c;
    if (wdtype != PC_F32 && wdtype != PC_F16 && wdtype != PC_BF16) {
        free(net);
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_create_random: weight dtype must be F32, F16 or BF16");
    }
    net->want_desc = 1;
    rnd_builder rb = {net, seed, wdtype, PC_OK, err};
    char k[200];
    int64_t E = c->enc_dim, D = c->dec_dim, p = c->patch;
    int oc = 3 + (c->conf_mode != PC_DUST3R_CONF_NONE);
    rnd_conv(&rb, "patch_embed.proj", E, 3, p, 1);
    for (int i = 0; i < c->enc_depth; i++) {
        snprintf(k, sizeof(k), "enc_blocks.%d.norm1", i), rnd_norm(&rb, k, E);
        snprintf(k, sizeof(k), "enc_blocks.%d.attn.qkv", i), rnd_linear(&rb, k, 3 * E, E);
        snprintf(k, sizeof(k), "enc_blocks.%d.attn.proj", i), rnd_linear(&rb, k, E, E);
        snprintf(k, sizeof(k), "enc_blocks.%d.norm2", i), rnd_norm(&rb, k, E);
        snprintf(k, sizeof(k), "enc_blocks.%d.mlp.fc1", i), rnd_linear(&rb, k, c->enc_mlp, E);
        snprintf(k, sizeof(k), "enc_blocks.%d.mlp.fc2", i), rnd_linear(&rb, k, E, c->enc_mlp);
    }
    rnd_norm(&rb, "enc_norm", E);
    rnd_linear(&rb, "decoder_embed", D, E);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < c->dec_depth; i++) {
            const char *pre = v ? "dec_blocks2" : "dec_blocks";
            snprintf(k, sizeof(k), "%s.%d.norm1", pre, i), rnd_norm(&rb, k, D);
            snprintf(k, sizeof(k), "%s.%d.attn.qkv", pre, i), rnd_linear(&rb, k, 3 * D, D);
            snprintf(k, sizeof(k), "%s.%d.attn.proj", pre, i), rnd_linear(&rb, k, D, D);
            snprintf(k, sizeof(k), "%s.%d.cross_attn.projq", pre, i), rnd_linear(&rb, k, D, D);
            snprintf(k, sizeof(k), "%s.%d.cross_attn.projk", pre, i), rnd_linear(&rb, k, D, D);
            snprintf(k, sizeof(k), "%s.%d.cross_attn.projv", pre, i), rnd_linear(&rb, k, D, D);
            snprintf(k, sizeof(k), "%s.%d.cross_attn.proj", pre, i), rnd_linear(&rb, k, D, D);
            snprintf(k, sizeof(k), "%s.%d.norm2", pre, i), rnd_norm(&rb, k, D);
            snprintf(k, sizeof(k), "%s.%d.norm3", pre, i), rnd_norm(&rb, k, D);
            snprintf(k, sizeof(k), "%s.%d.norm_y", pre, i), rnd_norm(&rb, k, D);
            snprintf(k, sizeof(k), "%s.%d.mlp.fc1", pre, i), rnd_linear(&rb, k, c->dec_mlp, D);
            snprintf(k, sizeof(k), "%s.%d.mlp.fc2", pre, i), rnd_linear(&rb, k, D, c->dec_mlp);
        }
    rnd_norm(&rb, "dec_norm", D);
    for (int v = 0; v < 2; v++) {
        if (c->head == PC_DUST3R_HEAD_LINEAR) {
            snprintf(k, sizeof(k), "downstream_head%d.proj", v + 1);
            rnd_linear(&rb, k, (int64_t)oc * p * p, D);
            continue;
        }
        const int *L = c->dpt_layer_dims;
        int64_t F = c->dpt_feature_dim, dt[4] = {E, D, D, D};
        for (int j = 0; j < 4; j++) {
            snprintf(k, sizeof(k), "downstream_head%d.dpt.act_postprocess.%d.0", v + 1, j);
            rnd_conv(&rb, k, L[j], dt[j], 1, 1);
        }
        snprintf(k, sizeof(k), "downstream_head%d.dpt.act_postprocess.0.1", v + 1), rnd_conv(&rb, k, L[0], L[0], 4, 1);
        snprintf(k, sizeof(k), "downstream_head%d.dpt.act_postprocess.1.1", v + 1), rnd_conv(&rb, k, L[1], L[1], 2, 1);
        snprintf(k, sizeof(k), "downstream_head%d.dpt.act_postprocess.3.1", v + 1), rnd_conv(&rb, k, L[3], L[3], 3, 1);
        for (int j = 0; j < 4; j++) {
            snprintf(k, sizeof(k), "downstream_head%d.dpt.scratch.layer_rn.%d", v + 1, j);
            rnd_conv(&rb, k, F, L[j], 3, 0);
        }
        for (int j = 1; j <= 4; j++) {
            const char *units[4] = {"resConfUnit1.conv1", "resConfUnit1.conv2", "resConfUnit2.conv1",
                                    "resConfUnit2.conv2"};
            for (int u = (j == 4 ? 2 : 0); u < 4; u++) {
                snprintf(k, sizeof(k), "downstream_head%d.dpt.scratch.refinenet%d.%s", v + 1, j, units[u]);
                rnd_conv(&rb, k, F, F, 3, 1);
            }
            snprintf(k, sizeof(k), "downstream_head%d.dpt.scratch.refinenet%d.out_conv", v + 1, j);
            rnd_conv(&rb, k, F, F, 1, 1);
        }
        snprintf(k, sizeof(k), "downstream_head%d.dpt.head.0", v + 1), rnd_conv(&rb, k, F / 2, F, 3, 1);
        snprintf(k, sizeof(k), "downstream_head%d.dpt.head.2", v + 1), rnd_conv(&rb, k, c->dpt_last_dim, F / 2, 3, 1);
        snprintf(k, sizeof(k), "downstream_head%d.dpt.head.4", v + 1), rnd_conv(&rb, k, oc, c->dpt_last_dim, 1, 1);
        if (c->head == PC_DUST3R_HEAD_CATMLP_DPT) {
            snprintf(k, sizeof(k), "downstream_head%d.head_local_features.fc1", v + 1);
            rnd_linear(&rb, k, c->local_mlp_hidden, E + D);
            snprintf(k, sizeof(k), "downstream_head%d.head_local_features.fc2", v + 1);
            rnd_linear(&rb, k, (int64_t)(c->desc_dim + c->two_confs) * p * p, c->local_mlp_hidden);
        }
    }
    pc_status st = rb.st;
    net->binder.get = pc_nn_store_get;
    net->binder.find = pc_nn_store_find;
    net->binder.ctx = &net->rnd;
    if (st == PC_OK) st = build(net, err);
    if (st != PC_OK) {
        pc_dust3r_free(net);
        return st;
    }
    count_params(net);
    *out = net;
    return PC_OK;
}

// ---- forward --------------------------------------------------------------------------------

// dust3r: _encode_image. img (B, 3, H, W) -> out (B, N, enc_dim), both host f32; views[b] names batch item b
// in traces. Runs on ex's backend.
static void encode(pc_dust3r *net, pc_nn_exec *ex, const float *img, int64_t B, int64_t H, int64_t W, float *out,
                   const int *views) {
    const pc_dust3r_config *c = &net->cfg;
    int64_t Hp = H / c->patch, Wp = W / c->patch, N = Hp * Wp, E = c->enc_dim;
    const int64_t shape[3] = {1, N, E};
    double t0 = pc_time_sec();
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t x = pc_nn_write(ex, img, B * 3 * H * W);  // (B, 3, H, W)
    pc_nn_t t = pc_nn_output(ex, out, B * N * E);     // (B, N, E) f32, the residual stream
    pc_nn_patch_embed_forward(ex, &net->patch_embed, t, x, B, H, W);
    for (int64_t b = 0; b < B; b++) pc_nn_trace(ex, pc_nn_at(t, b * N * E), 3, shape, "patch%d", views[b] + 1);
    for (int i = 0; i < c->enc_depth; i++) {
        pc_nn_vit_block_forward(ex, &net->enc[i], c->rope_base, t, Wp, B, N);
        for (int64_t b = 0; b < B; b++)
            pc_nn_trace(ex, pc_nn_at(t, b * N * E), 3, shape, "enc%d_blk%d", views[b] + 1, i);
    }
    pc_nn_layernorm_forward(ex, &net->enc_norm, t, t, B * N);
    for (int64_t b = 0; b < B; b++) pc_nn_trace(ex, pc_nn_at(t, b * N * E), 3, shape, "enc%d", views[b] + 1);
    pc_nn_read_into(ex, out, t, B * N * E);
    pc_nn_mark_reset(ex, mark);
    if (pc_nn_ok(ex)) net->enc_s = pc_time_sec() - t0;
}

// croco: ResidualConvUnit_custom. y (F, h, w) = x + conv2(relu(conv1(relu(x)))).
static void rcu(pc_nn_exec *ex, const pc_nn_conv2d *c1, const pc_nn_conv2d *c2, pc_nn_t y, pc_nn_t x, int64_t h,
                int64_t w) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t n = c1->cin * h * w;
    pc_nn_t t1 = pc_nn_new_f32(ex, n), t2 = pc_nn_new_f32(ex, n);  // (F, h, w) each
    pc_nn_unary(ex, t1, x, n, PC_NN_RELU);
    pc_nn_conv2d_forward(ex, c1, t2, t1, 1, h, w);
    pc_nn_unary(ex, t2, t2, n, PC_NN_RELU);
    pc_nn_conv2d_forward(ex, c2, t1, t2, 1, h, w);
    pc_nn_add(ex, y, x, t1, n);
    pc_nn_mark_reset(ex, mark);
}

// croco: FeatureFusionBlock_custom. out (F, 2h, 2w); x0 (path, absent: p == NULL) and x1 (F, h, w).
static void fusion(pc_nn_exec *ex, const dpt_fusion *f, pc_nn_t out, pc_nn_t x0, pc_nn_t x1, int has_x0, int64_t h,
                   int64_t w) {
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t F = f->out_conv.cin, n = F * h * w;
    pc_nn_t s = pc_nn_new_f32(ex, n);      // (F, h, w)
    pc_nn_t u = pc_nn_new_f32(ex, 4 * n);  // (F, 2h, 2w)
    if (has_x0) {  // output = xs[0] + resConfUnit1(xs[1])
        rcu(ex, &f->rcu1_conv1, &f->rcu1_conv2, s, x1, h, w);
        pc_nn_add(ex, s, s, x0, n);
        rcu(ex, &f->rcu2_conv1, &f->rcu2_conv2, s, s, h, w);
    } else {
        rcu(ex, &f->rcu2_conv1, &f->rcu2_conv2, s, x1, h, w);
    }
    pc_nn_resize_bilinear(ex, u, s, F, h, w, 2 * h, 2 * w, 1, 2.0, 2.0);
    pc_nn_conv2d_forward(ex, &f->out_conv, out, u, 1, 2 * h, 2 * w);
    pc_nn_mark_reset(ex, mark);
}

// dust3r: DPTOutputAdapter_fix.forward. toks[i] (N, dims) for i in [enc, dec_1 .. dec_L]; raw (out_ch, H, W).
static void dpt_forward(pc_dust3r *net, pc_nn_exec *ex, const dpt_head *h, int v, const pc_nn_t *toks, int64_t Hp,
                        int64_t Wp, pc_nn_t raw) {
    const pc_dust3r_config *c = &net->cfg;
    int64_t N = Hp * Wp, F = c->dpt_feature_dim;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t lh[4], lw[4];
    pc_nn_t rn[4];
    for (int k = 0; k < 4; k++) {
        const pc_nn_conv2d *proj = &h->act_proj[k];
        int64_t Ck = proj->cout;
        lh[k] = k == 0 ? 4 * Hp : k == 1 ? 2 * Hp : k == 2 ? Hp : pc_nn_conv2d_out(&h->act_down3, Hp);
        lw[k] = k == 0 ? 4 * Wp : k == 1 ? 2 * Wp : k == 2 ? Wp : pc_nn_conv2d_out(&h->act_down3, Wp);
        rn[k] = pc_nn_new_f32(ex, F * lh[k] * lw[k]);  // (F, lh, lw), kept for the fusion
        pc_nn_mark m2 = pc_nn_mark_get(ex);
        pc_nn_t x = pc_nn_new_f32(ex, proj->cin * N);  // (Dk, Hp, Wp)
        pc_nn_t a = pc_nn_new_f32(ex, Ck * N);         // (Ck, Hp, Wp)
        pc_nn_t act = k == 2 ? a : pc_nn_new_f32(ex, Ck * lh[k] * lw[k]);
        pc_nn_transpose(ex, x, toks[c->dpt_hooks[k]], 1, N, proj->cin);  // tokens -> NCHW
        pc_nn_conv2d_forward(ex, proj, a, x, 1, Hp, Wp);
        if (k == 0) pc_nn_convt2d_forward(ex, &h->act_up0, act, a, 1, Hp, Wp);
        if (k == 1) pc_nn_convt2d_forward(ex, &h->act_up1, act, a, 1, Hp, Wp);
        if (k == 3) pc_nn_conv2d_forward(ex, &h->act_down3, act, a, 1, Hp, Wp);
        pc_nn_trace(ex, act, 4, (int64_t[]){1, Ck, lh[k], lw[k]}, "dpt%d_act%d", v + 1, k + 1);
        pc_nn_conv2d_forward(ex, &h->layer_rn[k], rn[k], act, 1, lh[k], lw[k]);
        pc_nn_trace(ex, rn[k], 4, (int64_t[]){1, F, lh[k], lw[k]}, "dpt%d_rn%d", v + 1, k + 1);
        pc_nn_mark_reset(ex, m2);
    }
    // path_4 = refinenet4(layers[3]) cropped to layers[2]'s size (odd token counts)
    pc_nn_t none = {NULL, PC_F32};
    pc_nn_t p4 = pc_nn_new_f32(ex, F * 4 * lh[3] * lw[3]);  // (F, 2 lh3, 2 lw3)
    fusion(ex, &h->refinenet[3], p4, none, rn[3], 0, lh[3], lw[3]);
    pc_nn_trace(ex, p4, 4, (int64_t[]){1, F, 2 * lh[3], 2 * lw[3]}, "dpt%d_refinenet4", v + 1);
    pc_nn_t p4c = pc_nn_new_f32(ex, F * lh[2] * lw[2]);  // (F, lh2, lw2)
    if (ex->st == PC_OK && (2 * lh[3] < lh[2] || 2 * lw[3] < lw[2]))
        pc_nn_fail(ex, pc_err(ex->err, PC_ERR_SHAPE, "DPT: refinenet4 output smaller than layer 3"));
    const int64_t cd[3] = {F, lh[2], lw[2]}, cys[3] = {lh[2] * lw[2], lw[2], 1};
    const int64_t cxs[3] = {4 * lh[3] * lw[3], 2 * lw[3], 1};
    pc_nn_copy(ex, p4c, cys, p4, cxs, cd, 3);
    pc_nn_t p3 = pc_nn_new_f32(ex, F * 4 * lh[2] * lw[2]);
    fusion(ex, &h->refinenet[2], p3, p4c, rn[2], 1, lh[2], lw[2]);
    pc_nn_trace(ex, p3, 4, (int64_t[]){1, F, 2 * lh[2], 2 * lw[2]}, "dpt%d_refinenet3", v + 1);
    pc_nn_t p2 = pc_nn_new_f32(ex, F * 4 * lh[1] * lw[1]);
    fusion(ex, &h->refinenet[1], p2, p3, rn[1], 1, lh[1], lw[1]);
    pc_nn_trace(ex, p2, 4, (int64_t[]){1, F, 2 * lh[1], 2 * lw[1]}, "dpt%d_refinenet2", v + 1);
    pc_nn_t p1 = pc_nn_new_f32(ex, F * 4 * lh[0] * lw[0]);
    fusion(ex, &h->refinenet[0], p1, p2, rn[0], 1, lh[0], lw[0]);
    pc_nn_trace(ex, p1, 4, (int64_t[]){1, F, 2 * lh[0], 2 * lw[0]}, "dpt%d_refinenet1", v + 1);
    // head: conv3x3 -> bilinear x2 (align_corners) -> conv3x3 -> ReLU -> conv1x1
    int64_t h1 = 2 * lh[0], w1 = 2 * lw[0], F2 = h->head0.cout, Ld = h->head2.cout;
    pc_nn_t t0 = pc_nn_new_f32(ex, F2 * h1 * w1);
    pc_nn_conv2d_forward(ex, &h->head0, t0, p1, 1, h1, w1);
    pc_nn_trace(ex, t0, 4, (int64_t[]){1, F2, h1, w1}, "dpt%d_head0", v + 1);
    pc_nn_t t1 = pc_nn_new_f32(ex, F2 * 4 * h1 * w1);
    pc_nn_resize_bilinear(ex, t1, t0, F2, h1, w1, 2 * h1, 2 * w1, 1, 2.0, 2.0);
    pc_nn_trace(ex, t1, 4, (int64_t[]){1, F2, 2 * h1, 2 * w1}, "dpt%d_head1", v + 1);
    pc_nn_t t3 = pc_nn_new_f32(ex, Ld * 4 * h1 * w1);
    pc_nn_conv2d_forward(ex, &h->head2, t3, t1, 1, 2 * h1, 2 * w1);
    pc_nn_unary(ex, t3, t3, Ld * 4 * h1 * w1, PC_NN_RELU);
    pc_nn_trace(ex, t3, 4, (int64_t[]){1, Ld, 2 * h1, 2 * w1}, "dpt%d_head3", v + 1);
    pc_nn_conv2d_forward(ex, &h->head4, raw, t3, 1, 2 * h1, 2 * w1);
    pc_nn_mark_reset(ex, mark);
}

// pixel_shuffle(p) of per-token features: raw[ch, hy*p + i, wx*p + j] = feat[hy*Wp + wx, (ch*p + i)*p + j].
// feat (N, ldf) with oc*p*p used columns; raw (oc, Hp*p, Wp*p).
static void pixel_shuffle(pc_nn_exec *ex, pc_nn_t raw, pc_nn_t feat, int64_t ldf, int64_t oc, int64_t Hp, int64_t Wp,
                          int64_t p) {
    const int64_t W = Wp * p;
    const int64_t dims[5] = {oc, Hp, p, Wp, p};
    const int64_t ys[5] = {Hp * p * W, p * W, W, p, 1};
    const int64_t xs[5] = {p * p, Wp * ldf, p, ldf, 1};
    pc_nn_copy(ex, raw, ys, feat, xs, dims, 5);
}

// dust3r: LinearPts3d.forward before postprocess: proj then pixel_shuffle(patch). raw (out_ch, H, W).
static void linear_head_forward(pc_dust3r *net, pc_nn_exec *ex, const pc_nn_linear *l, pc_nn_t tok, int64_t Hp,
                                int64_t Wp, pc_nn_t raw) {
    int64_t p = net->cfg.patch, N = Hp * Wp;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t feat = pc_nn_new_f32(ex, N * l->out);  // (N, oc*p*p)
    pc_nn_linear_forward(ex, l, feat, l->out, tok, l->in, N, 0);
    pixel_shuffle(ex, raw, feat, l->out, net->out_ch, Hp, Wp, p);
    pc_nn_mark_reset(ex, mark);
}

// mast3r: Cat_MLP_LocalFeatures_DPT_Pts3d, the local-feature half: fc2(GELU(fc1([enc | dec_L]))) per token,
// pixel-shuffled by the patch size into raw_local ((desc_dim + two_confs), H, W), the channels after the DPT's.
// enc (N, enc_dim) after enc_norm; dec (N, dec_dim) after dec_norm.
static void local_head_forward(pc_dust3r *net, pc_nn_exec *ex, int v, pc_nn_t enc, pc_nn_t dec, int64_t Hp,
                               int64_t Wp, pc_nn_t raw_local) {
    const pc_dust3r_config *c = &net->cfg;
    const pc_nn_linear *fc1 = &net->loc_fc1[v], *fc2 = &net->loc_fc2[v];
    int64_t p = c->patch, N = Hp * Wp, E = c->enc_dim, D = c->dec_dim, oc = fc2->out / (p * p);
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t cat = pc_nn_new_f32(ex, N * (E + D));  // (N, E + D): the encoder tokens first
    pc_nn_t hid = pc_nn_new_f32(ex, N * fc1->out);  // (N, hidden)
    pc_nn_t out = pc_nn_new_f32(ex, N * fc2->out);  // (N, oc * p * p)
    const int64_t de[2] = {N, E}, dd[2] = {N, D}, ys[2] = {E + D, 1}, es[2] = {E, 1}, ds[2] = {D, 1};
    pc_nn_copy(ex, cat, ys, enc, es, de, 2);
    pc_nn_copy(ex, pc_nn_at(cat, E), ys, dec, ds, dd, 2);
    pc_nn_linear_forward(ex, fc1, hid, fc1->out, cat, E + D, N, 0);
    pc_nn_trace(ex, hid, 3, (int64_t[]){1, N, fc1->out}, "desc_mlp_fc1_%d", v + 1);
    pc_nn_unary(ex, hid, hid, N * fc1->out, PC_NN_GELU);  // exact (erf) GELU
    pc_nn_trace(ex, hid, 3, (int64_t[]){1, N, fc1->out}, "desc_mlp_hidden%d", v + 1);
    pc_nn_linear_forward(ex, fc2, out, fc2->out, hid, fc1->out, N, 0);
    pixel_shuffle(ex, raw_local, out, fc2->out, oc, Hp, Wp, p);
    pc_nn_mark_reset(ex, mark);
}

// dust3r: reg_dense_conf for one channel value.
static inline float dense_conf(pc_dust3r_conf_mode mode, float vmin, float vmax, float x) {
    if (mode == PC_DUST3R_CONF_EXP) return vmin + PC_MIN(expf(x), vmax - vmin);
    return (vmax - vmin) / (1.0f + expf(-x)) + vmin;
}

// mast3r: catmlp_dpt_head.postprocess, the descriptor part. raw (raw_ch, H, W) channels [x y z conf | desc_0 ..
// desc_{D-1} | desc_conf]; desc (H, W, D) = the D channels over their L2 norm (no epsilon: a zero vector gives
// NaN as upstream); desc_conf (H, W) = desc_conf_mode of its own channel (two_confs) or a copy of conf.
static void postprocess_desc(const pc_dust3r_config *c, int oc, const float *raw, const float *conf, int64_t H,
                             int64_t W, float *desc, float *desc_conf) {
    const int64_t HW = H * W, Dd = c->desc_dim;
    const float *r = raw + (int64_t)oc * HW;
    for (int64_t i = 0; i < HW; i++) {
        float ss = 0;
        for (int64_t d = 0; d < Dd; d++) ss += r[d * HW + i] * r[d * HW + i];
        const float nrm = sqrtf(ss);
        for (int64_t d = 0; d < Dd; d++) desc[i * Dd + d] = r[d * HW + i] / nrm;
        desc_conf[i] = c->two_confs ? dense_conf(c->desc_conf_mode, c->desc_conf_vmin, c->desc_conf_vmax, r[Dd * HW + i])
                                    : conf[i];
    }
}

// dust3r: postprocess (reg_dense_depth, reg_dense_conf). raw (oc, H, W) -> pts (H, W, 3), conf (H, W).
static void postprocess(const pc_dust3r_config *c, int oc, const float *raw, int64_t H, int64_t W, float *pts,
                        float *conf) {
    int64_t HW = H * W;
    for (int64_t i = 0; i < HW; i++) {
        float x = raw[i], y = raw[HW + i], z = raw[2 * HW + i];
        if (c->depth_mode == PC_DUST3R_DEPTH_LINEAR) {
            pts[3 * i] = x, pts[3 * i + 1] = y, pts[3 * i + 2] = z;
        } else {
            float d = sqrtf(x * x + y * y + z * z);
            float f = (c->depth_mode == PC_DUST3R_DEPTH_EXP ? expm1f(d) : d * d) / PC_MAX(d, 1e-8f);
            pts[3 * i] = x * f, pts[3 * i + 1] = y * f, pts[3 * i + 2] = z * f;
        }
        conf[i] = oc < 4 ? 1.0f : dense_conf(c->conf_mode, c->conf_vmin, c->conf_vmax, raw[3 * HW + i]);
    }
}

// dust3r: _decoder + _downstream_head for one pair of encoded views.
// e[v] (N_v, enc_dim) host f32 at (Hp[v], Wp[v]) tokens; raw[v] (raw_ch, H_v, W_v) host f32.
// The decoders run on ex's backend; the heads on the cpu backend over host copies of the hooked layers.
static void decode_heads(pc_dust3r *net, pc_nn_exec *ex, const float *const e[2], const int64_t Hp[2],
                         const int64_t Wp[2], float *const raw[2]) {
    const pc_dust3r_config *c = &net->cfg;
    int L = c->dec_depth;
    int64_t E = c->enc_dim, D = c->dec_dim, N[2] = {Hp[0] * Wp[0], Hp[1] * Wp[1]};
    if (L > 64) {
        if (ex->st == PC_OK) pc_nn_fail(ex, pc_err(ex->err, PC_ERR_UNSUPPORTED, "decoder depth %d > 64", L));
        return;
    }
    double t0 = pc_time_sec();
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t f[2][64 + 1];  // (N_v, D) f32 per layer: decoder_embed, then each block's output
    for (int v = 0; v < 2; v++) {
        const int64_t shape[3] = {1, N[v], D};
        pc_nn_t ev = pc_nn_write(ex, e[v], N[v] * E);  // (N, E)
        for (int k = 0; k <= L; k++) f[v][k] = pc_nn_new_f32(ex, N[v] * D);
        pc_nn_linear_forward(ex, &net->decoder_embed, f[v][0], D, ev, E, N[v], 0);
        pc_nn_trace(ex, f[v][0], 3, shape, "dec%d_embed", v + 1);
    }
    for (int k = 0; k < L; k++)
        for (int v = 0; v < 2; v++) {  // both sides read the previous pair
            int o = 1 - v;
            pc_nn_decoder_block_forward(ex, &net->dec[v][k], c->rope_base, f[v][k + 1], f[v][k], Wp[v], N[v], f[o][k],
                                        Wp[o], N[o], 1);
            pc_nn_trace(ex, f[v][k + 1], 3, (int64_t[]){1, N[v], D}, k + 1 == L ? "dec%d_%d_prenorm" : "dec%d_%d",
                        v + 1, k + 1);
        }
    for (int v = 0; v < 2; v++) {
        pc_nn_layernorm_forward(ex, &net->dec_norm, f[v][L], f[v][L], N[v]);
        pc_nn_trace(ex, f[v][L], 3, (int64_t[]){1, N[v], D}, "dec%d_%d", v + 1, L);
    }
    // host copies of what the heads read: [enc, dec_1, ..., dec_L (normed)] at the DPT hooks, dec_L always
    unsigned char need[64 + 1] = {0};
    need[L] = 1;
    if (c->head != PC_DUST3R_HEAD_LINEAR)
        for (int i = 0; i < 4; i++) need[c->dpt_hooks[i]] = 1;
    pc_nn_backend *trunk = ex->be;
    pc_nn_t toks[2][64 + 1];
    for (int v = 0; v < 2; v++) {
        ex->be = trunk;
        const float *h[64 + 1] = {NULL};
        for (int k = 1; k <= L; k++)
            if (need[k]) h[k] = pc_nn_read(ex, f[v][k], N[v] * D);
        ex->be = NULL;  // the cpu backend: host tensors
        toks[v][0] = pc_nn_write(ex, e[v], N[v] * E);
        for (int k = 1; k <= L; k++) toks[v][k] = pc_nn_write(ex, h[k], N[v] * D);
    }
    if (pc_nn_ok(ex)) net->dec_s = pc_time_sec() - t0;
    for (int v = 0; v < 2; v++) {
        int64_t n = (int64_t)net->raw_ch * Hp[v] * Wp[v] * c->patch * c->patch;
        pc_nn_t r = pc_nn_output(ex, raw[v], n);
        if (c->head == PC_DUST3R_HEAD_LINEAR) {
            linear_head_forward(net, ex, &net->lin[v], toks[v][L], Hp[v], Wp[v], r);
        } else {
            dpt_forward(net, ex, &net->dpt[v], v, toks[v], Hp[v], Wp[v], r);
            if (c->head == PC_DUST3R_HEAD_CATMLP_DPT)  // its channels follow the DPT's (torch.cat dim 1)
                local_head_forward(net, ex, v, toks[v][0], toks[v][L], Hp[v], Wp[v],
                                   pc_nn_at(r, (int64_t)net->out_ch * Hp[v] * Wp[v] * c->patch * c->patch));
        }
        pc_nn_trace(ex, r, 4, (int64_t[]){1, net->raw_ch, Hp[v] * c->patch, Wp[v] * c->patch}, "pred%d_raw", v + 1);
    }
    ex->be = trunk;
    pc_nn_mark_reset(ex, mark);
}

// Validate an input image tensor; returns H, W and the data pointer.
static pc_status check_image(const pc_dust3r *net, const pc_tensor *t, const char *what, int64_t *H, int64_t *W,
                             const float **data, pc_error *err) {
    if (!t || !t->data) return pc_err(err, PC_ERR_ARG, "%s: NULL image", what);
    int nd = t->ndim;
    if (!(nd == 3 || (nd == 4 && t->shape[0] == 1)) || t->shape[nd - 3] != 3)
        return pc_err(err, PC_ERR_SHAPE, "%s: image must be (1, 3, H, W) or (3, H, W)", what);
    if (t->dtype != PC_F32 || !pc_tensor_is_contiguous(t))
        return pc_err(err, PC_ERR_SHAPE, "%s: image must be contiguous float32", what);
    *H = t->shape[nd - 2];
    *W = t->shape[nd - 1];
    int p = net->cfg.patch;
    if (*H <= 0 || *W <= 0 || *H % p || *W % p)
        return pc_err(err, PC_ERR_SHAPE, "%s: image size %lldx%lld is not a multiple of the patch size %d", what,
                      (long long)*W, (long long)*H, p);
    if (*H / p * (*W / p) > 65536) return pc_err(err, PC_ERR_SHAPE, "%s: image too large", what);
    *data = (const float *)t->data;
    return PC_OK;
}

// Make sure the arena can hold a run measured by `measure` (dry run of the same code).
static pc_status ensure_arena(pc_dust3r *net, size_t need, pc_error *err) {
    if (net->arena.base && net->arena.size >= need) return PC_OK;
    pc_arena_free(&net->arena);
    return pc_arena_init(&net->arena, need, err);
}

// The outputs of one view (descriptors only from MASt3R with descriptor output on), post-processed from raw.
static pc_status view_out(const pc_dust3r *net, pc_dust3r_view_pred *o, const float *raw, int64_t H, int64_t W,
                          pc_error *err) {
    int64_t s3[3] = {H, W, 3}, s2[2] = {H, W}, sd[3] = {H, W, net->cfg.desc_dim};
    const int desc = net->want_desc && net->cfg.head == PC_DUST3R_HEAD_CATMLP_DPT;
    pc_status st = pc_tensor_alloc(&o->pts3d, PC_F32, 3, s3, err);
    if (st == PC_OK) st = pc_tensor_alloc(&o->conf, PC_F32, 2, s2, err);
    if (st == PC_OK && desc) st = pc_tensor_alloc(&o->desc, PC_F32, 3, sd, err);
    if (st == PC_OK && desc) st = pc_tensor_alloc(&o->desc_conf, PC_F32, 2, s2, err);
    if (st != PC_OK) return st;
    postprocess(&net->cfg, net->out_ch, raw, H, W, (float *)o->pts3d.data, (float *)o->conf.data);
    if (desc)
        postprocess_desc(&net->cfg, net->out_ch, raw, (const float *)o->conf.data, H, W, (float *)o->desc.data,
                         (float *)o->desc_conf.data);
    return PC_OK;
}

void pc_dust3r_pair_out_free(pc_dust3r_pair_out *out) {
    if (!out) return;
    for (int v = 0; v < 2; v++) {
        pc_tensor_free(&out->view[v].pts3d);
        pc_tensor_free(&out->view[v].conf);
        pc_tensor_free(&out->view[v].desc);
        pc_tensor_free(&out->view[v].desc_conf);
    }
}

// Encoded images: each (N, enc_dim) in its own buffer.
typedef struct enc_cache {
    float **tok;
    int64_t *H, *W;
    int n;
} enc_cache;

// Run (or dry-run) the decoder+heads for a pair; raw outputs in the arena.
static void run_pair_tail(pc_dust3r *net, pc_nn_exec *ex, const float *e1, int64_t H1, int64_t W1, const float *e2,
                          int64_t H2, int64_t W2, float **raw_out) {
    int p = net->cfg.patch;
    const float *e[2] = {e1, e2};
    int64_t Hp[2] = {H1 / p, H2 / p}, Wp[2] = {W1 / p, W2 / p};
    raw_out[0] = pc_nn_alloc(ex, (size_t)(net->raw_ch * H1 * W1));  // (raw_ch, H, W)
    raw_out[1] = pc_nn_alloc(ex, (size_t)(net->raw_ch * H2 * W2));
    float *const raw[2] = {raw_out[0], raw_out[1]};
    decode_heads(net, ex, e, Hp, Wp, raw);
}

typedef struct {
    pc_dust3r_pair_out *outs;
} collect_ctx;

static pc_status collect(void *p, int i, pc_dust3r_pair_out *out, pc_error *err) {
    (void)err;
    ((collect_ctx *)p)->outs[i] = *out;  // ownership moves to the caller's array
    return PC_OK;
}

pc_status pc_dust3r_pairs(pc_dust3r *net, const pc_tensor *const *imgs, int n_imgs, const int (*pairs)[2],
                          int n_pairs, pc_dust3r_pair_out *outs, pc_error *err) {
    if (n_pairs > 0 && !outs) return pc_err(err, PC_ERR_ARG, "pc_dust3r_pairs: bad arguments");
    for (int i = 0; i < n_pairs; i++) memset(&outs[i], 0, sizeof(outs[i]));
    collect_ctx cc = {outs};
    pc_status st = pc_dust3r_pairs_each(net, imgs, n_imgs, pairs, n_pairs, collect, &cc, err);
    if (st != PC_OK)
        for (int i = 0; i < n_pairs; i++) pc_dust3r_pair_out_free(&outs[i]);
    return st;
}

pc_status pc_dust3r_pairs_each(pc_dust3r *net, const pc_tensor *const *imgs, int n_imgs, const int (*pairs)[2],
                               int n_pairs, pc_dust3r_pair_fn fn, void *ctx, pc_error *err) {
    if (!net || !imgs || n_imgs <= 0 || (n_pairs > 0 && (!pairs || !fn)))
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_pairs: bad arguments");
    pc_status st = PC_OK;
    const pc_dust3r_config *c = &net->cfg;
    for (int i = 0; i < n_pairs; i++) {
        if (pairs[i][0] < 0 || pairs[i][0] >= n_imgs || pairs[i][1] < 0 || pairs[i][1] >= n_imgs)
            return pc_err(err, PC_ERR_ARG, "pc_dust3r_pairs: pair %d indexes a missing image", i);
    }
    enc_cache ec = {0};
    ec.n = n_imgs;
    ec.tok = (float **)calloc((size_t)n_imgs, sizeof(float *));
    ec.H = (int64_t *)calloc((size_t)n_imgs, sizeof(int64_t));
    ec.W = (int64_t *)calloc((size_t)n_imgs, sizeof(int64_t));
    const float **data = (const float **)calloc((size_t)n_imgs, sizeof(float *));
    char *used = (char *)calloc((size_t)n_imgs, 1);
    if (!ec.tok || !ec.H || !ec.W || !data || !used) {
        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_pairs; i++) used[pairs[i][0]] = used[pairs[i][1]] = 1;
    for (int i = 0; i < n_imgs && st == PC_OK; i++) {
        if (!used[i]) continue;
        char what[32];
        snprintf(what, sizeof(what), "image %d", i);
        st = check_image(net, imgs[i], what, &ec.H[i], &ec.W[i], &data[i], err);
    }
    if (st != PC_OK) goto done;
    // size the arena once for the largest stage (dry runs of the same code)
    {
        pc_arena meas;
        size_t need = 0;
        pc_nn_exec dry = {net->pool, &meas, 1, PC_OK, err, net->dev, NULL, NULL};
        for (int i = 0; i < n_imgs; i++) {
            if (!used[i]) continue;
            int view = 0;
            pc_nn_measure_begin(&dry, &meas);
            encode(net, &dry, NULL, 1, ec.H[i], ec.W[i], NULL, &view);
            need = PC_MAX(need, meas.peak);
        }
        for (int i = 0; i < n_pairs; i++) {
            float *raw[2];
            int a = pairs[i][0], b = pairs[i][1];
            pc_nn_measure_begin(&dry, &meas);
            run_pair_tail(net, &dry, NULL, ec.H[a], ec.W[a], NULL, ec.H[b], ec.W[b], raw);
            need = PC_MAX(need, meas.peak);
        }
        if ((st = dry.st) != PC_OK) goto done;
        if ((st = ensure_arena(net, need + 4096, err)) != PC_OK) goto done;
        if ((st = pc_nn_reserve(&dry, err)) != PC_OK) goto done;
    }
    pc_nn_exec ex = {net->pool, &net->arena, 0, PC_OK, err, net->dev, net->trace, net->trace_ctx};
    for (int i = 0; i < n_imgs && st == PC_OK; i++) {
        if (!used[i]) continue;
        size_t n = (size_t)(ec.H[i] / c->patch * (ec.W[i] / c->patch) * c->enc_dim);
        ec.tok[i] = (float *)pc_aligned_alloc(n * sizeof(float));
        if (!ec.tok[i]) {
            st = pc_err(err, PC_ERR_MEMORY, "out of memory for encoder outputs");
            break;
        }
        int view = i == (n_pairs > 0 ? pairs[0][1] : -1) ? 1 : 0;  // trace names follow the first pair
        pc_arena_reset(&net->arena, 0);
        encode(net, &ex, data[i], 1, ec.H[i], ec.W[i], ec.tok[i], &view);
        st = ex.st;
    }
    for (int i = 0; i < n_pairs && st == PC_OK; i++) {
        int a = pairs[i][0], b = pairs[i][1];
        float *raw[2];
        pc_arena_reset(&net->arena, 0);
        run_pair_tail(net, &ex, ec.tok[a], ec.H[a], ec.W[a], ec.tok[b], ec.H[b], ec.W[b], raw);
        if ((st = ex.st) != PC_OK) break;
        int64_t Hs[2] = {ec.H[a], ec.H[b]}, Ws[2] = {ec.W[a], ec.W[b]};
        pc_dust3r_pair_out po;
        memset(&po, 0, sizeof(po));
        for (int v = 0; v < 2 && st == PC_OK; v++) st = view_out(net, &po.view[v], raw[v], Hs[v], Ws[v], err);
        if (st == PC_OK) st = fn(ctx, i, &po, err);  // the callback owns po now
        else pc_dust3r_pair_out_free(&po);
    }
    pc_arena_reset(&net->arena, 0);
done:
    if (ec.tok)
        for (int i = 0; i < n_imgs; i++) pc_aligned_free(ec.tok[i]);
    free(ec.tok);
    free(ec.H);
    free(ec.W);
    free(data);
    free(used);
    return st;
}

pc_status pc_dust3r_pair(pc_dust3r *net, const pc_tensor *img1, const pc_tensor *img2, pc_dust3r_pair_out *out,
                         pc_error *err) {
    if (!net || !out) return pc_err(err, PC_ERR_ARG, "pc_dust3r_pair: NULL argument");
    memset(out, 0, sizeof(*out));
    int64_t H[2], W[2];
    const float *d[2];
    pc_status st = check_image(net, img1, "image 1", &H[0], &W[0], &d[0], err);
    if (st == PC_OK) st = check_image(net, img2, "image 2", &H[1], &W[1], &d[1], err);
    if (st != PC_OK) return st;
    const pc_dust3r_config *c = &net->cfg;
    int same = H[0] == H[1] && W[0] == W[1];
    int64_t n[2] = {H[0] / c->patch * (W[0] / c->patch) * c->enc_dim, H[1] / c->patch * (W[1] / c->patch) * c->enc_dim};

    // One code path, run twice: dry (measure the arena), then for real.
    for (int pass = 0; pass < 2; pass++) {
        pc_arena meas;
        pc_nn_exec ex = {net->pool, &net->arena, 0, PC_OK, err, net->dev, net->trace, net->trace_ctx};
        if (pass == 0) {
            pc_nn_measure_begin(&ex, &meas);
        } else {
            pc_arena_reset(&net->arena, 0);
        }
        float *e[2];
        e[0] = pc_nn_alloc(&ex, (size_t)(n[0] + n[1]));  // (2, N, E) when same shape
        e[1] = ex.dry ? NULL : e[0] + n[0];
        if (same) {  // dust3r: _encode_image_pairs batches both images
            float *in = pc_nn_alloc(&ex, (size_t)(2 * 3 * H[0] * W[0]));
            if (pc_nn_ok(&ex)) {
                memcpy(in, d[0], (size_t)(3 * H[0] * W[0]) * sizeof(float));
                memcpy(in + 3 * H[0] * W[0], d[1], (size_t)(3 * H[1] * W[1]) * sizeof(float));
            }
            int views[2] = {0, 1};
            size_t mark = pc_arena_mark(ex.arena);
            encode(net, &ex, in, 2, H[0], W[0], e[0], views);
            pc_arena_reset(ex.arena, mark);
        } else {
            for (int v = 0; v < 2; v++) {
                int view = v;
                encode(net, &ex, d[v], 1, H[v], W[v], e[v], &view);
            }
        }
        float *raw[2];
        run_pair_tail(net, &ex, e[0], H[0], W[0], e[1], H[1], W[1], raw);
        if (pass == 0) {
            if ((st = ex.st) != PC_OK) return st;
            if ((st = ensure_arena(net, meas.peak + 4096, err)) != PC_OK) return st;
            if ((st = pc_nn_reserve(&ex, err)) != PC_OK) return st;
            continue;
        }
        if ((st = ex.st) != PC_OK) break;
        for (int v = 0; v < 2 && st == PC_OK; v++) st = view_out(net, &out->view[v], raw[v], H[v], W[v], err);
    }
    pc_arena_reset(&net->arena, 0);
    if (st != PC_OK) pc_dust3r_pair_out_free(out);
    return st;
}
