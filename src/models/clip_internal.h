// CLIP / Resampler internals shared by clip.c, resampler.c and the tests: the model struct and a trace
// hook that sees intermediate outputs under the golden names without "dbg." ("vit.ln_pre_out",
// "vit.block0_out", "text.block0_out", "resampler.proj_in_out", "resampler.layer0_attn_out",
// "resampler.layer0_ff_out", ...). Traced data is contiguous float32 with a leading batch dim.
#ifndef PC_MODELS_CLIP_INTERNAL_H
#define PC_MODELS_CLIP_INTERNAL_H

#include "nn/nn.h"
#include "posecrafter/clip.h"

typedef void (*pc_clip_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);
void pc_clip_set_trace(pc_clip *clip, pc_clip_trace_fn fn, void *ctx);

// open_clip ResidualAttentionBlock (ls_1/ls_2 identity, no ln_attn): nn.MultiheadAttention with packed
// q, k, v; MLP c_fc -> GELU (exact erf) -> c_proj.
typedef struct pc_clip_block {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;  // (w)
    pc_wt in_proj_w;                             // (3w, w): q, k, v rows in that order
    const float *in_proj_b;                      // (3w)
    pc_wt out_w;                                 // (w, w)
    const float *out_b;                          // (w)
    pc_wt fc_w;                                  // (mlp, w)
    const float *fc_b;                           // (mlp)
    pc_wt proj_w;                                // (w, mlp)
    const float *proj_b;                         // (w)
} pc_clip_block;

typedef struct pc_clip_tower {
    int64_t width, heads, layers, mlp;
    pc_clip_block *blocks;  // (layers)
} pc_clip_tower;

// lvdm Resampler layer: PerceiverAttention (norm1 on x, norm2 on latents, to_q / to_kv / to_out, no
// biases) + FeedForward (LayerNorm, Linear, GELU, Linear; keys .1.0, .1.1, .1.3).
typedef struct pc_resampler_layer {
    const float *n1_w, *n1_b, *n2_w, *n2_b;  // (dim)
    pc_wt to_q;                              // (inner, dim)
    pc_wt to_kv;                             // (2 inner, dim)
    pc_wt to_out;                            // (dim, inner)
    const float *ff_ln_w, *ff_ln_b;          // (dim)
    pc_wt ff1;                               // (ff, dim)
    pc_wt ff2;                               // (dim, ff)
} pc_resampler_layer;

struct pc_clip {
    pc_clip_config cfg;
    pc_pool *pool;
    pc_nn_get_fn src_get;  // tensor source (full keys)
    pc_nn_find_fn src_find;
    void *src_ctx;
    const char *prefix;  // current binding prefix
    pc_nn_binder binder;
    pc_clip_trace_fn trace;
    void *trace_ctx;
    // text tower (FrozenOpenCLIPEmbedder)
    int has_text;
    pc_clip_tower text;
    int64_t t_ctx, t_vocab, t_run;  // context 77, vocab 49408, blocks run (layers - layer_skip)
    pc_wt tok_emb;                  // (vocab, w)
    pc_wt t_pos;                    // (ctx, w)
    const float *lnf_w, *lnf_b;     // (w)
    // vision tower (FrozenOpenCLIPImageEmbedderV2)
    int has_vision;
    pc_clip_tower vis;
    int64_t v_patch, v_size, v_grid, v_tokens;  // 14, 224, 16, 257
    pc_wt conv1;                                // (w, 3, p, p), no bias
    const float *cls;                           // (w)
    pc_wt v_pos;                                // (tokens, w)
    const float *ln_pre_w, *ln_pre_b;           // (w)
    // Resampler (image_proj_model)
    int has_rs;
    int64_t r_dim, r_emb, r_out, r_inner, r_heads, r_depth, r_nq, r_ff;
    pc_wt latents;                      // (1, nq, dim)
    pc_nn_linear proj_in, proj_out;     // (dim, emb), (out, dim)
    const float *norm_out_w, *norm_out_b;  // (out)
    pc_resampler_layer *r_layers;       // (depth)
};

// Build from any tensor source (get/find by full key); the source must outlive the model. Used by
// pc_clip_from_checkpoint and by tests that bind the real-size key set.
pc_status pc_clip_create_from_source(pc_clip **clip, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx,
                                     const pc_clip_config *cfg, pc_pool *pool, pc_error *err);
// Shape of prefix + name (PC_ERR_NOT_FOUND names the full key).
// The binder's source (clip_parts.c): names relative to the current part's prefix, full keys to the
// checkpoint source.
pc_status pc_clip_src_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err);
const pc_tensor *pc_clip_src_find(void *ctx, const char *name);
pc_status pc_clip_shape(pc_clip *clip, const char *name, int *ndim, int64_t *shape, pc_error *err);

// resampler.c: bind image_proj_model.* (cfg->resampler_prefix set as clip->prefix by the caller).
pc_status pc_clip_bind_resampler(pc_clip *clip, pc_error *err);
void pc_clip_trace(pc_clip *clip, const char *name, const float *data, int64_t B, int64_t N, int64_t C);

#endif
