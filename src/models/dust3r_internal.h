// DUSt3R internals shared with the tests: a trace hook that sees every
// intermediate tensor under the names used by the golden pair.safetensors
// ("patch1", "enc1_blk0", "enc1", "dec1_embed", "dec1_1" .. "dec1_4_prenorm",
// "dec1_4", "dpt1_act1", "dpt1_rn1", "dpt1_refinenet4" (before the crop),
// "dpt1_head0", "dpt1_head1", "dpt1_head3", "pred1_raw"; view 2 likewise).
#ifndef PC_MODELS_DUST3R_INTERNAL_H
#define PC_MODELS_DUST3R_INTERNAL_H

#include "posecrafter/dust3r.h"

// data is contiguous float32 of the given shape (batch dim 1 included).
typedef void (*pc_dust3r_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);
void pc_dust3r_set_trace(pc_dust3r *net, pc_dust3r_trace_fn fn, void *ctx);

// A tensor of the model's source (checkpoint or random state dict) by state_dict name, or NULL.
const pc_tensor *pc_dust3r_find_tensor(const pc_dust3r *net, const char *name);

// Parse an args.model string into cfg fields that come from args (head type, modes, heads, rope);
// exposed for tests. Returns PC_ERR_UNSUPPORTED / PC_ERR_FORMAT with a message on bad input.
pc_status pc_dust3r_parse_args(const char *args, pc_dust3r_config *cfg, pc_error *err);

// Where the transformer ran and what it held on the GPU (pc_dust3r_set_device "cuda"); all zero on the CPU.
// Device memory held = weight_bytes + act_arena_bytes + 2 x 48 MiB (cuBLASLt workspace + scratch per context).
typedef struct pc_dust3r_device_info {
    int on_cuda;
    char name[256];          // GPU name
    size_t weight_bytes;     // weights arena (bf16 matrices, f32 vectors, f32 patch embedding)
    size_t act_arena_bytes;  // activation arena capacity
    size_t act_peak_bytes;   // largest activation use so far
    double enc_s, dec_s;     // wall time of the last GPU encode / decode call (uploads and downloads included)
} pc_dust3r_device_info;
void pc_dust3r_get_device_info(const pc_dust3r *net, pc_dust3r_device_info *info);

#endif
