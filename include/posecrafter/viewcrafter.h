/* posecrafter public API: ViewCrafter's video diffusion step (Drexubery/ViewCrafter, viewcrafter.py
 * ViewCrafter.run_diffusion -> utils/diffusion_utils.py image_guided_synthesis with its own
 * lvdm/models/samplers/ddim.py copy). Same UNet / VAE / CLIP / Resampler as DynamiCrafter
 * (pc_interp_models); what differs from the interpolation pipeline (pc_interp_run):
 *   - c_concat = VAE latents of ALL render frames (not the first/last-frame layout);
 *   - CLIP image tokens of the reference frame condition_index[0] (frame 0);
 *   - fs 10, prompt "Rotating view of a scene";
 *   - DDIM: scale_arr with base_scale 0.3 and ViewCrafter's ddim_scale_arr_prev[0] = scale_arr[0] = 1.0
 *     ("fix a bug"), so the last step multiplies pred_x0 by 1 / scale_arr[t_0] (pc_ddim_table_init with
 *     prev0_is_one = 1). The rest of p_sample_ddim is identical to DynamiCrafter's.
 *
 *     pc_viewcrafter_opts o;  pc_viewcrafter_opts_default(&o);      // 50 steps, cfg 7.5, fs 10
 *     // renders (3, T, H, W) in [-1, 1], frame 0 = the reference image (T = 25 at 576x1024 upstream)
 *     pc_viewcrafter_run(&models, &o, video, renders, T, H, W, NULL, &err);  // video (3, T, H, W)
 */
#ifndef POSECRAFTER_VIEWCRAFTER_H
#define POSECRAFTER_VIEWCRAFTER_H

#include "posecrafter/diffusion.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_viewcrafter_opts {
    int steps;                 /* ddim_steps 50 */
    double eta;                /* ddim_eta 1.0 */
    pc_ddim_spacing spacing;   /* uniform_trailing */
    int64_t fs;                /* frame stride condition: 10 */
    const char *prompt;        /* "Rotating view of a scene" */
    int cond_frame;            /* condition_index[0]: 0 (the reference image) */
    pc_ddim_sample_opts ddim;  /* cfg 7.5, guidance_rescale 0.7, seed, injected DDIM noise, step callback */
    /* Injected VAE posterior noise (T, 4, h, w), one DiagonalGaussianDistribution.sample draw per frame;
     * NULL = drawn from pc_randn(ddim.seed ^ 0x5641455f4e4f4953), T * 4 * h * w values in frame order. */
    const float *posterior_noise;
    pc_ddpm_config sched;      /* pc_ddpm_config_default with base_scale 0.3 (inference_pvd_1024.yaml) */
} pc_viewcrafter_opts;

void pc_viewcrafter_opts_default(pc_viewcrafter_opts *o);

/* image_guided_synthesis as ViewCrafter.run_diffusion calls it, batch 1: renders (3, T, H, W) in [-1, 1]
 * -> video (3, T, H, W) = decode_first_stage(samples), not clamped. H, W multiples of 8 * 2^(unet levels
 * - 1); 1 <= T <= 256. trace (may be NULL; its arrays may be NULL): cond_ctx / uncond_ctx (L, w),
 * c_concat (4, T, h, w), samples (4, T, h, w). The models are used one call at a time (not re-entrant). */
pc_status pc_viewcrafter_run(const pc_interp_models *m, const pc_viewcrafter_opts *o, float *video,
                             const float *renders, int64_t T, int64_t H, int64_t W, pc_interp_trace *trace,
                             pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_VIEWCRAFTER_H */
