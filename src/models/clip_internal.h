// CLIP / Resampler internals shared by clip.c, resampler.c and the tests: the model struct and a trace
// hook that sees intermediate outputs under the golden names without "dbg." ("vit.ln_pre_out",
// "vit.block0_out", "text.block0_out", "resampler.proj_in_out", "resampler.layer0_attn_out",
// "resampler.layer0_ff_out", ...). Traced data is contiguous float32 with a leading batch dim.
#ifndef PC_MODELS_CLIP_INTERNAL_H
#define PC_MODELS_CLIP_INTERNAL_H

#include "nn/nn.h"
#include "posecrafter/clip.h"

typedef pc_nn_trace_fn pc_clip_trace_fn;
void pc_clip_set_trace(pc_clip *clip, pc_clip_trace_fn fn, void *ctx);

// open_clip ResidualAttentionBlock (ls_1/ls_2 identity, no ln_attn): nn.MultiheadAttention with packed
// q, k, v; MLP c_fc -> GELU (exact erf) -> c_proj.
typedef struct pc_clip_block {
    pc_nn_layernorm ln1, ln2;  // ln_1, ln_2 (w)
    pc_nn_linear in_proj;      // attn.in_proj_weight / _bias (3w, w): q, k, v rows in that order
    pc_nn_linear out_proj;     // attn.out_proj (w, w)
    pc_nn_linear fc;           // mlp.c_fc (mlp, w)
    pc_nn_linear proj;         // mlp.c_proj (w, mlp)
} pc_clip_block;

typedef struct pc_clip_tower {
    int64_t width, heads, layers, mlp;
    pc_clip_block *blocks;  // (layers)
} pc_clip_tower;

// lvdm Resampler layer: PerceiverAttention (norm1 on x, norm2 on latents, to_q / to_kv / to_out, no
// biases) + FeedForward (LayerNorm, Linear, GELU, Linear; keys .1.0, .1.1, .1.3).
typedef struct pc_resampler_layer {
    pc_nn_layernorm n1, n2;  // 0.norm1, 0.norm2 (dim)
    pc_nn_linear to_q;       // (inner, dim)
    pc_nn_linear to_kv;      // (2 inner, dim)
    pc_nn_linear to_out;     // (dim, inner)
    pc_nn_layernorm ff_ln;   // 1.0 (dim)
    pc_nn_linear ff1;        // 1.1 (ff, dim)
    pc_nn_linear ff2;        // 1.3 (dim, ff)
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
    pc_arena arena;      // host activations, sized by each call's dry run
    pc_nn_backend *dev;  // backend of the forwards when not the cpu (owned; weights placed on it)
    // text tower (FrozenOpenCLIPEmbedder)
    int has_text;
    pc_clip_tower text;
    int64_t t_ctx, t_vocab, t_run;  // context 77, vocab 49408, blocks run (layers - layer_skip)
    pc_wt tok_emb;                  // (vocab, w), gathered on the host
    pc_wt t_pos;                    // (ctx, w)
    pc_nn_layernorm lnf;            // ln_final (w)
    // vision tower (FrozenOpenCLIPImageEmbedderV2)
    int has_vision;
    pc_clip_tower vis;
    int64_t v_patch, v_size, v_grid, v_tokens;  // 14, 224, 16, 257
    pc_nn_linear conv1;                         // conv1 (w, 3, p, p), no bias, as a Linear over patches (w, 3 p p)
    pc_nn_param cls;                            // class_embedding (w)
    pc_nn_param v_pos;                          // positional_embedding (tokens, w)
    pc_nn_layernorm ln_pre;                     // (w)
    // Resampler (image_proj_model)
    int has_rs;
    int64_t r_dim, r_emb, r_out, r_inner, r_heads, r_depth, r_nq, r_ff;
    pc_nn_param latents;                // (1, nq, dim)
    pc_nn_linear proj_in, proj_out;     // (dim, emb), (out, dim)
    pc_nn_layernorm norm_out;           // (out)
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

// resampler.c: bind image_proj_model.* (cfg->resampler_prefix set as clip->prefix by the caller); place its
// weights on a device backend.
pc_status pc_clip_bind_resampler(pc_clip *clip, pc_error *err);
pc_status pc_clip_place_resampler(pc_nn_backend *be, pc_clip *clip, int measuring, pc_error *err);

#endif
