/* posecrafter public API: latent video diffusion parts of DynamiCrafter (Doubiiu/DynamiCrafter, lvdm):
 * the KL autoencoder (first stage) and the DDPM/DDIM schedule and sampler arithmetic.
 *
 * KL-VAE (lvdm.models.autoencoder.AutoencoderKL with ae_modules Encoder/Decoder), run one frame at a
 * time as upstream's perframe_ae. The architecture (ch, ch_mult, num_res_blocks, z_channels,
 * embed_dim) is read from tensor shapes under "first_stage_model." (or without prefix).
 *
 *     pc_vae *vae;
 *     if (pc_vae_load(&vae, "model.ckpt", pool, &err) != PC_OK) ...        // keys first_stage_model.*
 *     // video (3, T, 320, 512) in [-1, 1]; noise (T, 4, 40, 64), one N(0,1) draw per frame
 *     pc_vae_encode_video(vae, z, video, noise, T, 320, 512, &err);        // z (4, T, 40, 64) = 0.18215 * sample
 *     pc_vae_decode_video(vae, video, z, T, 40, 64, &err);                 // video (3, T, 320, 512), not clamped
 *     pc_vae_free(vae);
 * A pc_vae is not re-entrant (it owns one activation arena): one call at a time per model.
 *
 * DDIM (lvdm/models/samplers/ddim.py DDIMSampler, v-parameterisation, CFG with guidance_rescale,
 * DynamiCrafter's dynamic x0 rescale). The UNet is not called here: one sampling step is
 * (x (1, 4, T, h, w) starts as x_T = N(0,1) noise; n = numel(x))
 *
 *     pc_ddpm_schedule s;  pc_ddim_table d;
 *     pc_ddpm_config cfg;  pc_ddpm_config_default(&cfg);
 *     pc_ddpm_schedule_init(&s, &cfg, &err);
 *     pc_ddim_table_init(&d, &s, 50, PC_DDIM_UNIFORM_TRAILING, 1.0, 0, &err);   // eta 1
 *     pc_randn rng;  pc_randn_seed(&rng, 12306);
 *     for (int i = 0; i < d.S; i++) {                      // sampling order: t = 999 ... 19
 *         pc_ddim_step_params p = pc_ddim_step_params_at(&d, &s, i);
 *         ... v_cond = UNet(x, p.t, cond), v_uncond = UNet(x, p.t, uncond) ...
 *         pc_ddim_cfg(v, v_cond, v_uncond, 1, n, 7.5f, 0.7f);     // guidance 7.5, guidance_rescale 0.7
 *         pc_randn_fill(&rng, noise, n);                             // or injected noise
 *         pc_ddim_step(&p, 1, x, pred_x0, NULL, NULL, x, v, noise, n);  // x <- x_prev (in place)
 *     }
 *     pc_ddim_table_free(&d);  pc_ddpm_schedule_free(&s);
 */
#ifndef POSECRAFTER_DIFFUSION_H
#define POSECRAFTER_DIFFUSION_H

#include <stdint.h>
#include "posecrafter/core.h"
#include "posecrafter/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- KL autoencoder ------------------------------------------------------------------------- */

#define PC_VAE_MAX_LEVELS 8

typedef struct pc_vae_config {
    int in_channels;               /* 3 */
    int out_ch;                    /* 3 */
    int ch;                        /* 128 (tiny golden: 32) */
    int n_levels;                  /* len(ch_mult): 4 */
    int ch_mult[PC_VAE_MAX_LEVELS];/* [1, 2, 4, 4] */
    int num_res_blocks;            /* 2 (decoder levels have num_res_blocks + 1) */
    int z_channels;                /* 4 (encoder outputs 2 * z_channels: double_z) */
    int embed_dim;                 /* 4 */
    double scale_factor;           /* 0.18215 (LatentDiffusion.scale_factor, from the yaml) */
} pc_vae_config;

typedef struct pc_vae pc_vae;

/* The real DynamiCrafter 512 first stage: ch 128, ch_mult [1,2,4,4], 2 res blocks, z 4, embed 4. */
void pc_vae_config_default(pc_vae_config *cfg);

/* Load from a checkpoint file (.ckpt / .safetensors); tensors under "first_stage_model." or unprefixed.
 * pool: borrowed, may be NULL; it must outlive the model. Missing / misshaped tensors fail with a
 * message naming the key. scale_factor is set to 0.18215 (change it with pc_vae_set_scale_factor). */
pc_status pc_vae_load(pc_vae **vae, const char *path, pc_pool *pool, pc_error *err);
/* Same on an open checkpoint (borrowed: keep it open while the model is used), e.g. the full
 * DynamiCrafter checkpoint shared with the UNet. prefix: "first_stage_model." or "" (NULL: auto). */
pc_status pc_vae_from_checkpoint(pc_vae **vae, const pc_checkpoint *ck, const char *prefix, pc_pool *pool,
                                 pc_error *err);
/* Deterministic pseudo-random weights (benchmarks, tests); cfg gives the architecture. */
pc_status pc_vae_create_random(pc_vae **vae, const pc_vae_config *cfg, uint64_t seed, pc_pool *pool,
                               pc_error *err);
void pc_vae_free(pc_vae *vae);
const pc_vae_config *pc_vae_get_config(const pc_vae *vae);
void pc_vae_set_scale_factor(pc_vae *vae, double scale_factor);
/* Number of parameters bound. */
int64_t pc_vae_num_params(const pc_vae *vae);
/* Spatial downsampling factor 2^(n_levels - 1) (8). */
int pc_vae_downscale(const pc_vae *vae);
/* Floating-point operations (multiply-add = 2) of the last encode / decode of one frame. */
double pc_vae_last_flops(const pc_vae *vae);
/* Activation arena bytes currently reserved. */
size_t pc_vae_arena_bytes(const pc_vae *vae);

/* One frame: AutoencoderKL.encode -> DiagonalGaussianDistribution. image (in_channels, H, W) with
 * channel stride img_cs (H*W for a contiguous frame, T*H*W for frame t of a (C, T, H, W) video);
 * H, W multiples of pc_vae_downscale(). Outputs (embed_dim, H/8, W/8) with channel stride out_cs
 * (0 = contiguous); any may be NULL: mean, logvar clamped to [-30, 20], std = exp(0.5 logvar). */
pc_status pc_vae_encode_frame(pc_vae *vae, float *mean, float *logvar, float *std, int64_t out_cs,
                              const float *image, int64_t img_cs, int64_t H, int64_t W, pc_error *err);
/* One frame: AutoencoderKL.decode(z) = decoder(post_quant_conv(z)) on the UNSCALED latent
 * z (embed_dim, h, w), channel stride z_cs (0 = contiguous); image (out_ch, 8h, 8w), channel stride
 * img_cs (0 = contiguous). Not clamped. */
pc_status pc_vae_decode_frame(pc_vae *vae, float *image, int64_t img_cs, const float *z, int64_t z_cs,
                              int64_t h, int64_t w, pc_error *err);

/* LatentDiffusion.encode_first_stage with perframe_ae: video (in_channels, T, H, W) -> z (embed_dim,
 * T, H/8, W/8) = scale_factor * (mean + std * noise). noise (T, embed_dim, H/8, W/8): the per-frame
 * N(0,1) draws of DiagonalGaussianDistribution.sample, in frame order; NULL = posterior mode (mean). */
pc_status pc_vae_encode_video(pc_vae *vae, float *z, const float *video, const float *noise, int64_t T,
                              int64_t H, int64_t W, pc_error *err);
/* LatentDiffusion.decode_first_stage with perframe_ae: z (embed_dim, T, h, w) scaled latents ->
 * video (out_ch, T, 8h, 8w) = decode((1 / scale_factor) * z) per frame. */
pc_status pc_vae_decode_video(pc_vae *vae, float *video, const float *z, int64_t T, int64_t h, int64_t w,
                              pc_error *err);

/* ---- DDPM schedule (lvdm DDPM.register_schedule, LatentVisualDiffusion.scale_arr) -------------- */

typedef struct pc_ddpm_config {
    int timesteps;            /* 1000 */
    double linear_start;      /* 0.00085 */
    double linear_end;        /* 0.012 */
    int rescale_zero_snr;     /* rescale_betas_zero_snr: 1 */
    int use_dynamic_rescale;  /* 1 */
    double base_scale;        /* 0.7 (ViewCrafter: 0.3) */
    int turning_step;         /* 400 */
} pc_ddpm_config;

/* DynamiCrafter 512 (interp) values, as in configs/inference_512_v1.0.yaml. */
void pc_ddpm_config_default(pc_ddpm_config *cfg);

typedef struct pc_ddpm_schedule {
    int T;
    double *betas_f64;                /* (T) make_beta_schedule('linear') [-> rescale_zero_terminal_snr] */
    double *alphas_cumprod_f64;       /* (T) cumprod(1 - betas) */
    /* float32 model buffers (float64 maths, then cast): */
    float *betas, *alphas_cumprod, *alphas_cumprod_prev;        /* (T) */
    float *sqrt_alphas_cumprod, *sqrt_one_minus_alphas_cumprod; /* (T) */
    float *scale_arr;                 /* (n_scale) = cat(linspace(1, base, turning), full(T, base)); NULL if off */
    int n_scale;
} pc_ddpm_schedule;

pc_status pc_ddpm_schedule_init(pc_ddpm_schedule *s, const pc_ddpm_config *cfg, pc_error *err);
void pc_ddpm_schedule_free(pc_ddpm_schedule *s);

/* ---- DDIM sampler tables (DDIMSampler.make_schedule) --------------------------------------------- */

typedef enum pc_ddim_spacing {
    PC_DDIM_UNIFORM = 0,          /* 'uniform': range(0, T, T // S) + 1 */
    PC_DDIM_UNIFORM_TRAILING = 1  /* 'uniform_trailing': round(arange(T, 0, -T/S))[::-1] - 1 */
} pc_ddim_spacing;

typedef struct pc_ddim_table {
    int S;
    int64_t *timesteps;           /* (S) ascending */
    float *alphas;                /* (S) alphas_cumprod[ts] (float32 buffer) */
    float *alphas_prev;           /* (S) [ac[0]] + ac[ts[:-1]] */
    double *sigmas_f64;           /* (S) eta * sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev)), float64 */
    float *sigmas;                /* (S) float32 rounding of sigmas_f64 (what each step uses) */
    float *sqrt_one_minus_alphas; /* (S) sqrt(1 - alphas) in float32 */
    float *scale_arr;             /* (S) scale_arr[ts]; NULL without dynamic rescale */
    float *scale_arr_prev;        /* (S) scale_arr[ts[i-1]], [0] = scale_arr[ts[0]] (or 1.0, see below) */
} pc_ddim_table;

/* prev0_is_one: ViewCrafter's variant (scale_arr_prev[0] = scale_arr[0] = 1.0); DynamiCrafter: 0. */
pc_status pc_ddim_table_init(pc_ddim_table *d, const pc_ddpm_schedule *s, int S, pc_ddim_spacing spacing,
                             double eta, int prev0_is_one, pc_error *err);
void pc_ddim_table_free(pc_ddim_table *d);

/* The float32 scalars of one p_sample_ddim call. i = sampling step 0..S-1 (index = S-1-i, t descends). */
typedef struct pc_ddim_step_params {
    int64_t t;                 /* DDPM timestep (999 first) */
    int index;                 /* index into the tables */
    float a_t, a_prev, sigma_t, sqrt_one_minus_at;
    float scale_t, prev_scale_t;          /* dynamic rescale (1, 1 when off) */
    float sqrt_ac_t, sqrt_1m_ac_t;        /* model buffers at t (v <-> eps / x0 conversions) */
    int dynamic_rescale;
} pc_ddim_step_params;

pc_ddim_step_params pc_ddim_step_params_at(const pc_ddim_table *d, const pc_ddpm_schedule *s, int i);

/* Classifier-free guidance on B items of n values each:
 * out = u + scale (c - u); if guidance_rescale > 0, then rescale_noise_cfg:
 * out = r * out * std(c) / std(out) + (1 - r) * out, std unbiased over each item. out may alias u or c. */
void pc_ddim_cfg(float *out, const float *v_cond, const float *v_uncond, int64_t B, int64_t n, float scale,
                 float guidance_rescale);
/* DDPM.predict_eps_from_z_and_v: e = sa * v + s1m * x.  predict_start_from_z_and_v: x0 = sa * x - s1m * v. */
void pc_ddim_eps_from_v(float *e, const float *x, const float *v, float sqrt_ac, float sqrt_1m_ac, int64_t n);
void pc_ddim_x0_from_v(float *x0, const float *x, const float *v, float sqrt_ac, float sqrt_1m_ac, int64_t n);

/* One p_sample_ddim update after the model call. model_out: v (v_param = 1) or eps (v_param = 0);
 * noise: N(0,1) (NULL = no noise term). Writes x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) e
 * + sigma noise and pred_x0 (after the dynamic rescale); e_t / pred_x0_raw may be NULL. n values (any
 * batch); outputs must not alias x or model_out except x_prev == x. Float32 arithmetic in upstream order. */
void pc_ddim_step(const pc_ddim_step_params *p, int v_param, float *x_prev, float *pred_x0, float *e_t,
                  float *pred_x0_raw, const float *x, const float *model_out, const float *noise, int64_t n);

/* Seeded standard-normal generator of our own (not torch's): splitmix64 + Box-Muller in double. */
typedef struct pc_randn { uint64_t state; int has_spare; double spare; } pc_randn;
void pc_randn_seed(pc_randn *r, uint64_t seed);
void pc_randn_fill(pc_randn *r, float *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_DIFFUSION_H */
