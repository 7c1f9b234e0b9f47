// KL-VAE internals shared with the tests: a trace hook that sees every block output under the names of
// the golden vae_tiny.safetensors without the "dbg." prefix ("enc.conv_in_out", "enc.down0.block1_out",
// "enc.down0.downsample_out", "enc.mid.attn_1_out", "enc.out", "moments", "dec.post_quant_conv_out",
// "dec.up3.block2_out", "dec.up3.upsample_out", ...), and a constructor over any tensor source.
#ifndef PC_MODELS_VAE_INTERNAL_H
#define PC_MODELS_VAE_INTERNAL_H

#include "nn/nn.h"
#include "posecrafter/diffusion.h"

// data: contiguous float32 (C, H, W) of one frame; shape has ndim = 4 with a leading batch of 1.
typedef void (*pc_vae_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);
void pc_vae_set_trace(pc_vae *vae, pc_vae_trace_fn fn, void *ctx);


// Build from a tensor source (get/find by full key = prefix + upstream name). The source must outlive
// the model. Used by the loaders and by tests that hide or reshape keys.
pc_status pc_vae_create_from_source(pc_vae **vae, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx,
                                    const char *prefix, pc_pool *pool, pc_error *err);

// Every state_dict key of a config in upstream order, with its shape (for the random model and a
// key-set test). fn returns nonzero to stop.
typedef int (*pc_vae_key_fn)(void *ctx, const char *name, int ndim, const int64_t *shape);
void pc_vae_visit_keys(const pc_vae_config *cfg, const char *prefix, pc_vae_key_fn fn, void *ctx);

#endif
