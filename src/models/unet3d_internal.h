// DynamiCrafter 3-D UNet internals shared with the tests: a trace hook that sees the embeddings and every
// block output under the golden unet_tiny.safetensors names without the "dbg." prefix
// ("time_embed_out", "fps_embed_out", "input_block_00_out", "init_attn_out", "middle_block_out",
// "output_block_11_out"), and a constructor over any tensor source.
#ifndef PC_MODELS_UNET3D_INTERNAL_H
#define PC_MODELS_UNET3D_INTERNAL_H

#include "nn/nn.h"
#include "posecrafter/unet.h"

// data: contiguous float32; blocks are ((b t), c, h, w) (ndim 4), embeddings (b, time_embed_dim) (ndim 2).
typedef void (*pc_unet_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);
void pc_unet_set_trace(pc_unet *unet, pc_unet_trace_fn fn, void *ctx);

// Build from a tensor source (get/find by full key = prefix + upstream name); the source must outlive the
// model. cfg: the given fields (NULL = defaults).
pc_status pc_unet_create_from_source(pc_unet **unet, pc_nn_get_fn get, pc_nn_find_fn find, void *ctx,
                                     const char *prefix, const pc_unet_config *cfg, pc_pool *pool, pc_error *err);

#endif
