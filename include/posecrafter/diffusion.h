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
/* Convolution precision: PC_F32 (the default, golden-matched) or the opt-in PC_BF16: every convolution's
 * weights and inputs (Winograd-transformed ones for the 3x3 stride-1 layers) rounded to bf16 (nearest
 * even), products accumulated in f32 (vdpbf16ps; on CPUs without AVX512_BF16 it computes in f32).
 * GroupNorm, attention and the 1x1 attention projections stay f32. Not f32-exact: about 3 significant
 * digits per conv (a random-weight VAE decode differs from f32 by ~3.5% normwise). PC_ERR_ARG for other
 * dtypes. */
pc_status pc_vae_set_compute(pc_vae *vae, pc_dtype dt);
pc_dtype pc_vae_get_compute(const pc_vae *vae);

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

/* ---- DDIM sampling loop (DDIMSampler.sample -> ddim_sampling -> p_sample_ddim) ----------------------- */

/* The denoiser of one branch: out (B, n) = model(x (B, n), t) with the conditioning of `branch`
 * (0 = cond, 1 = uncond), both held by ctx. For DynamiCrafter: UNet(cat(x, c_concat), t, context, fs). */
typedef pc_status (*pc_ddim_model_fn)(void *ctx, float *out, const float *x, int64_t B, int64_t t, int branch,
                                      pc_error *err);

/* What one finished step reports (pointers valid during the callback only; NULL where not computed:
 * v_uncond / v_cfg without CFG). Arrays hold B * n values. */
typedef struct pc_ddim_step_info {
    int i, S;                       /* step i of S (sampling order, t descends) */
    pc_ddim_step_params p;
    const float *x_in, *v_cond, *v_uncond, *v_guided, *e_t, *pred_x0_raw, *pred_x0, *noise, *x_out;
    double elapsed_s;               /* since the loop started */
} pc_ddim_step_info;
/* Nonzero return cancels the loop (pc_ddim_sample then fails with PC_ERR_ARG "cancelled"). */
typedef int (*pc_ddim_step_fn)(void *ctx, const pc_ddim_step_info *info);

typedef struct pc_ddim_sample_opts {
    float cfg_scale;          /* unconditional_guidance_scale 7.5; 1.0 = cond branch only (no CFG) */
    float guidance_rescale;   /* 0.7 (0 = off) */
    int v_param;              /* 1: the model predicts v (DynamiCrafter); 0: eps */
    uint64_t seed;            /* pc_randn seed for x_T and the per-step noise when not injected */
    /* Injected noise (golden tests): x_T (B * n) and step_noise[i] (B * n) for step i = 0..S-1. Either may be
     * NULL (then drawn from pc_randn in upstream order: x_T first, then one draw per step). */
    const float *x_T;
    const float *const *step_noise;
    pc_ddim_step_fn on_step;  /* may be NULL */
    void *on_step_ctx;
} pc_ddim_sample_opts;

/* Defaults: cfg 7.5, rescale 0.7, v_param 1, seed 12306 (run_application.sh interp), no injection. */
void pc_ddim_sample_opts_default(pc_ddim_sample_opts *o);

/* DDIMSampler.ddim_sampling: x (B, n) <- x_T, then for i = 0..S-1 (t = d->timesteps[S-1-i]): v_cond (and
 * v_uncond when cfg_scale != 1) from `model`, pc_ddim_cfg, pc_ddim_step with one N(0,1) draw per step
 * (also at the last step, as upstream). On return x holds the final latent (`samples`). */
pc_status pc_ddim_sample(float *x, int64_t B, int64_t n, const pc_ddpm_schedule *s, const pc_ddim_table *d,
                         const pc_ddim_sample_opts *o, pc_ddim_model_fn model, void *model_ctx, pc_error *err);

/* ---- DynamiCrafter generative frame interpolation (scripts/evaluation/inference.py, interp=True) ----- */

struct pc_unet;
struct pc_clip;
struct pc_clip_tokenizer;

typedef struct pc_interp_models {   /* all borrowed */
    struct pc_unet *unet;
    pc_vae *vae;
    struct pc_clip *clip;
    const struct pc_clip_tokenizer *tok;
} pc_interp_models;

typedef struct pc_interp_opts {
    int T;                     /* video_length 16 (A x T/2 then B x T/2) */
    int steps;                 /* 50 */
    double eta;                /* 1.0 */
    pc_ddim_spacing spacing;   /* uniform_trailing */
    int64_t fs;                /* frame_stride / fps condition: 5 */
    const char *prompt;        /* "" */
    pc_ddim_sample_opts ddim;  /* cfg 7.5, rescale 0.7, seed, injected DDIM noise, step callback */
    /* Injected VAE posterior noise (T, 4, h, w) for DiagonalGaussianDistribution.sample of every frame (only
     * frames 0 and T-1 are used); NULL = drawn from pc_randn(seed ^ 0x5641455f4e4f4953) */
    const float *posterior_noise;
    pc_ddpm_config sched;      /* pc_ddpm_config_default */
} pc_interp_opts;

void pc_interp_opts_default(pc_interp_opts *o);

/* Optional intermediates (each may be NULL): cond_ctx / uncond_ctx (L, w) with L = 77 + n_queries
 * (uncond_ctx stays zero when cfg_scale == 1: no unconditional branch), c_concat (4, T, h, w), samples
 * (4, T, h, w). */
typedef struct pc_interp_trace {
    float *cond_ctx, *uncond_ctx, *c_concat, *samples;
    int64_t L, ctx_dim;        /* out: context length and width */
} pc_interp_trace;

/* image_guided_synthesis(interp=True) for one pair: image_a / image_b (3, H, W) in [-1, 1] -> video
 * (3, T, H, W), decode_first_stage(samples), not clamped. H, W multiples of 8 * 2^(unet levels - 1).
 * Only frames 0 (A) and T-1 (B) are VAE-encoded: upstream encodes all T frames but keeps those two.
 * Batch 1. The models are used one call at a time (not re-entrant). */
pc_status pc_interp_run(const pc_interp_models *m, const pc_interp_opts *o, float *video, const float *image_a,
                        const float *image_b, int64_t H, int64_t W, pc_interp_trace *trace, pc_error *err);

/* save_results: clamp(-1, 1), (x + 1) / 2 * 255, truncated to uint8: frame t of video (3, T, H, W) ->
 * rgb (H, W, 3). */
void pc_interp_frame_to_u8(uint8_t *rgb, const float *video, int64_t T, int64_t t, int64_t H, int64_t W);

struct pc_image;
/* load_data_prompts' transform for an RGB image (EXIF already applied): transforms.Resize(min(H, W))
 * (PIL bilinear; short side -> min(H, W), long side truncated) then CenterCrop((H, W)), which pads with
 * black where the resized image is smaller (e.g. 4:3 photos at 512x320). cover = 1: scale to cover
 * H x W first (no padding; not upstream). out_u8 (zeroed or a valid image; replaced): the RGB crop;
 * x (may be NULL): (3, H, W) = (u8 / 255 - 0.5) / 0.5. */
pc_status pc_interp_preprocess(struct pc_image *out_u8, float *x, const struct pc_image *rgb, int H, int W, int cover,
                               pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_DIFFUSION_H */
