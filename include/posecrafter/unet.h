/* posecrafter public API: DynamiCrafter's 3-D UNet (lvdm/modules/networks/openaimodel3d.py UNetModel with
 * lvdm/modules/attention.py SpatialTransformer / TemporalTransformer, image cross-attention, temporal
 * convolutions, fs embedding and init_attn), the v-prediction network of the 512 interpolation model.
 *
 * The architecture (in/out channels, model_channels, channel_mult, res blocks per level, which blocks have
 * transformers, context_dim, transformer depth) is read from the tensor shapes under
 * "model.diffusion_model." (or unprefixed). Values that shapes cannot give come from pc_unet_config
 * (defaults = configs/inference_512_v1.0.yaml: num_head_channels 64, init_attn 8 heads, default_fs 24).
 *
 *     pc_unet_config cfg;  pc_unet_config_default(&cfg);          // tiny golden: cfg.num_head_channels = 16
 *     pc_unet *u;
 *     if (pc_unet_load(&u, "model.ckpt", &cfg, pool, &err) != PC_OK) ...
 *     // x (B, 8, T, h, w), context (B, L, 1024) with L = 77 + 16 T (per-frame image tokens) or any other
 *     // L >= 77 (every frame sees the whole context), timesteps / fs (B) -> out (B, 4, T, h, w)
 *     pc_unet_forward(u, out, x, B, T, h, w, ts, context, L, fs, &err);
 *     pc_unet_free(u);
 * A pc_unet is not re-entrant (it owns one activation arena): one forward at a time per model.
 */
#ifndef POSECRAFTER_UNET_H
#define POSECRAFTER_UNET_H

#include <stdint.h>
#include "posecrafter/core.h"
#include "posecrafter/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PC_UNET_MAX_LEVELS 8

typedef struct pc_unet_config {
    /* given (not derivable from shapes) */
    int num_head_channels;      /* 64 (tiny golden: 16); heads = ch / num_head_channels */
    int init_attn_heads;        /* 8 (init_attn = TemporalTransformer(mc, 8, num_head_channels)) */
    int temporal_attention;     /* 1: the 2nd transformer of a block is temporal */
    int text_context_len;       /* 77 */
    int image_tokens_per_frame; /* 16 (the hard-coded l_context == 77 + t*16 test) */
    float image_cross_attention_scale; /* 1.0 (image_cross_attention_scale_learnable is off) */
    int default_fs;             /* 24 (used when fs == NULL) */
    /* derived from shapes by the loader (ignored on input) */
    int in_channels, out_channels, model_channels, time_embed_dim, context_dim;
    int n_levels, channel_mult[PC_UNET_MAX_LEVELS], num_res_blocks;
    int fs_condition, image_cross_attention, init_attn;
} pc_unet_config;

typedef struct pc_unet pc_unet;

/* configs/inference_512_v1.0.yaml values for the given fields. */
void pc_unet_config_default(pc_unet_config *cfg);

/* Load from a checkpoint file; cfg may be NULL (defaults). pool: borrowed, may be NULL. */
pc_status pc_unet_load(pc_unet **unet, const char *path, const pc_unet_config *cfg, pc_pool *pool, pc_error *err);
/* Same on an open checkpoint (borrowed: keep it open). prefix: "model.diffusion_model." or "" (NULL: auto). */
pc_status pc_unet_from_checkpoint(pc_unet **unet, const pc_checkpoint *ck, const char *prefix,
                                  const pc_unet_config *cfg, pc_pool *pool, pc_error *err);
/* Deterministic pseudo-random weights in the real key layout, stored as wdtype (PC_F32, PC_F16, PC_BF16);
 * the architecture comes from arch's model_channels, channel_mult, n_levels, num_res_blocks, in/out
 * channels, context_dim (attention at levels 0 .. n_levels-2, as the 512 model). For benchmarks. */
pc_status pc_unet_create_random(pc_unet **unet, const pc_unet_config *arch, pc_dtype wdtype, uint64_t seed,
                                pc_pool *pool, pc_error *err);
void pc_unet_free(pc_unet *unet);
const pc_unet_config *pc_unet_get_config(const pc_unet *unet);
int64_t pc_unet_num_params(const pc_unet *unet);
/* Floating-point operations (multiply-add = 2) of the last forward (convs, linears, attention). */
double pc_unet_last_flops(const pc_unet *unet);
size_t pc_unet_arena_bytes(const pc_unet *unet);

/* UNetModel.forward(x, timesteps, context, fs). x (B, in_channels, T, H, W), H and W divisible by
 * 2^(n_levels-1); timesteps (B); context (B, L, context_dim), L >= text_context_len; fs (B) or NULL
 * (default_fs). out (B, out_channels, T, H, W). */
pc_status pc_unet_forward(pc_unet *unet, float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t W,
                          const int64_t *timesteps, const float *context, int64_t L, const int64_t *fs,
                          pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_UNET_H */
