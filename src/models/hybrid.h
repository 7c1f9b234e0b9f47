// What DynamiCrafter interpolation and ViewCrafter share: LatentVisualDiffusion with conditioning_key
// 'hybrid' — model compatibility checks, the DDIM loop over UNet(cat(x, c_concat), t, context, fs) with a
// cond / uncond context, the trace copy-out and the per-frame VAE decode. Each caller builds its own
// contexts and c_concat (that is where the two pipelines differ).
#ifndef PC_MODELS_HYBRID_H
#define PC_MODELS_HYBRID_H

#include "core/common.h"
#include "posecrafter/diffusion.h"

typedef struct pc_hybrid_dims {
    int64_t f;     // VAE downscale factor
    int64_t E;     // latent channels
    int64_t D, L;  // context width and length (77 text + Resampler queries)
    int64_t h, w;  // latent size
} pc_hybrid_dims;

// Checks that UNet, VAE and CLIP fit each other and an H x W frame; `what` prefixes the messages.
pc_status pc_hybrid_check(pc_hybrid_dims *d, const pc_interp_models *m, int64_t H, int64_t W, const char *what,
                          pc_error *err);

typedef struct pc_hybrid_sampling {
    const pc_ddpm_config *sched;
    int steps;
    pc_ddim_spacing spacing;
    double eta;
    int prev0_is_one;  // ViewCrafter's sampler copy: ddim_scale_arr_prev[0] = 1
    const pc_ddim_sample_opts *ddim;
    int64_t fs;
} pc_hybrid_sampling;

// DDIM from x (E, T, h, w; overwritten with the samples), contexts ctx_c / ctx_u (L, D) and c_concat cc
// (E, T, h, w); xc is (2E, T, h, w) scratch. Fills trace (may be NULL), then decodes into video (3, T, H, W).
pc_status pc_hybrid_sample_decode(const pc_interp_models *m, const pc_hybrid_sampling *s, const pc_hybrid_dims *d,
                                  int64_t T, float *x, float *xc, const float *cc, const float *ctx_c,
                                  const float *ctx_u, pc_interp_trace *trace, float *video, const char *what,
                                  pc_error *err);

#endif
