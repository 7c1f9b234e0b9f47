// DUSt3R's transformer on a CUDA GPU (src/models/dust3r_cuda.c): the ViT
// encoder (patch embedding, blocks, enc_norm) and both cross-attending
// decoders (decoder_embed, dec_blocks / dec_blocks2). dust3r.c calls it from
// encode() and decode_heads() when pc_dust3r_set_device chose "cuda"; the
// DPT / linear heads and the post-processing stay on the CPU and read the
// decoder tokens this module downloads.
//
// Weights are uploaded once at creation into their own device arena (matrices
// bf16, norm parameters and biases f32; the patch embedding f32). Activations
// live in a second context whose arena is sized by a dry run of the same code
// before each call and grows (context re-created) when a call needs more.
// Precision: residual stream f32; GEMM inputs and q/k/v bf16 with f32
// accumulation; LayerNorm statistics, softmax and RoPE angles in f32.
#ifndef PC_MODELS_DUST3R_CUDA_H
#define PC_MODELS_DUST3R_CUDA_H

#include "models/dust3r_internal.h"
#include "nn/nn.h"

typedef struct pc_dust3r_cuda pc_dust3r_cuda;

// The bound transformer layers of a model (borrowed for the creation only).
typedef struct pc_dust3r_cuda_layers {
    const pc_dust3r_config *cfg;
    const pc_nn_conv2d *patch_embed;    // (E, 3, p, p)
    const pc_nn_vit_block *enc;         // (enc_depth)
    const pc_nn_layernorm *enc_norm;    // (E)
    const pc_nn_linear *decoder_embed;  // (D, E)
    const pc_nn_decoder_block *dec[2];  // (dec_depth) each: dec_blocks, dec_blocks2
} pc_dust3r_cuda_layers;

// Bind CUDA device `device` and upload the weights. PC_ERR_UNSUPPORTED when
// built without CUDA, without a device, or for head dims the attention kernel
// lacks (it has 32, 64, 128).
pc_status pc_dust3r_cuda_create(pc_dust3r_cuda **out, const pc_dust3r_cuda_layers *layers, int device, pc_error *err);
void pc_dust3r_cuda_free(pc_dust3r_cuda *g);

// dust3r: _encode_image. img (B, 3, H, W) host f32 -> out (B, N, E) host f32 (after enc_norm).
// trace: NULL, or called like the CPU encoder ("patch<v>", "enc<v>_blk<i>", "enc<v>", v = views[b] + 1),
// which downloads every stage (debugging / golden tests only).
pc_status pc_dust3r_cuda_encode(pc_dust3r_cuda *g, const float *img, int64_t B, int64_t H, int64_t W, float *out,
                                pc_dust3r_trace_fn trace, void *trace_ctx, const int *views, pc_error *err);

// dust3r: _decoder for one pair. e[v] (N_v, E) host f32 at (Hp[v], Wp[v]) patches. For k = 0..L
// (L = dec_depth) with want[k] != 0, f[v][k] (N_v, D) host f32 receives decoder_embed's output (k = 0)
// or block k's output; f[v][L] is taken BEFORE dec_norm (dust3r.c applies it, as on the CPU).
pc_status pc_dust3r_cuda_decode(pc_dust3r_cuda *g, const float *const e[2], const int64_t Hp[2], const int64_t Wp[2],
                                float *const *const f[2], const unsigned char *want, pc_error *err);

void pc_dust3r_cuda_info(const pc_dust3r_cuda *g, pc_dust3r_device_info *info);

#endif
