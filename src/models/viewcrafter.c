// ViewCrafter video diffusion: viewcrafter.py ViewCrafter.run_diffusion -> utils/diffusion_utils.py
// image_guided_synthesis (conditioning_key 'hybrid', uncond_type 'empty_seq') with ViewCrafter's own
// lvdm/models/samplers/ddim.py.
//
//   c_cross    = cat(text(prompt), Resampler(ViT(renders[:, :, condition_index[0]])))   (1, 77 + nq, w)
//   uc_cross   = cat(text(""),     Resampler(ViT(zeros_like(that frame))))         (only when cfg != 1)
//   z          = get_latent_z(renders): per frame, 0.18215 (mean + std randn)
//   c_concat   = z (all frames; the same for cond and uncond)
//   samples    = DDIM(UNet(cat(x, c_concat), t, context, fs)), dynamic rescale with base_scale 0.3 and
//                ddim_scale_arr_prev[0] = scale_arr[0] (ViewCrafter's "fix a bug": prev0_is_one)
//   video      = decode_first_stage(samples), per frame
//
// The UNet gives every frame the whole context when L != 77 + 16 T (ViewCrafter_25: 333 != 477); that
// choice is made inside pc_unet_forward exactly as upstream's openaimodel3d does.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/clip.h"
#include "posecrafter/diffusion.h"
#include "posecrafter/unet.h"
#include "posecrafter/viewcrafter.h"

void pc_viewcrafter_opts_default(pc_viewcrafter_opts *o) {
    memset(o, 0, sizeof(*o));
    o->steps = 50;
    o->eta = 1.0;
    o->spacing = PC_DDIM_UNIFORM_TRAILING;
    o->fs = 10;
    o->prompt = "Rotating view of a scene";
    o->cond_frame = 0;
    pc_ddim_sample_opts_default(&o->ddim);
    pc_ddpm_config_default(&o->sched);
    o->sched.base_scale = 0.3;  // configs/inference_pvd_1024.yaml
}

typedef struct {
    pc_unet *unet;
    const float *c_concat;  // (E, T, h, w)
    const float *ctx[2];    // cond, uncond: (L, D)
    int64_t L, E, T, h, w, fs;
    float *xc;  // (2E, T, h, w) UNet input
} vc_unet_ctx;

// LatentDiffusion.apply_model -> DiffusionWrapper.forward (hybrid): UNet(cat([x, c_concat], 1), t, cc, fs).
static pc_status vc_unet_model(void *vctx, float *out, const float *x, int64_t B, int64_t t, int branch,
                               pc_error *err) {
    vc_unet_ctx *c = (vc_unet_ctx *)vctx;
    if (B != 1) return pc_err(err, PC_ERR_UNSUPPORTED, "viewcrafter: batch size %lld (only 1)", (long long)B);
    const int64_t n = c->E * c->T * c->h * c->w;
    memcpy(c->xc, x, sizeof(float) * (size_t)n);
    memcpy(c->xc + n, c->c_concat, sizeof(float) * (size_t)n);
    const int64_t ts = t, fs = c->fs;
    return pc_unet_forward(c->unet, out, c->xc, 1, c->T, c->h, c->w, &ts, c->ctx[branch ? 1 : 0], c->L, &fs, err);
}

pc_status pc_viewcrafter_run(const pc_interp_models *m, const pc_viewcrafter_opts *o, float *video,
                             const float *renders, int64_t T, int64_t H, int64_t W, pc_interp_trace *trace,
                             pc_error *err) {
    if (!m || !o || !video || !renders || !m->unet || !m->vae || !m->clip || !m->tok)
        return pc_err(err, PC_ERR_ARG, "pc_viewcrafter_run: NULL argument");
    if (T < 1 || T > 256) return pc_err(err, PC_ERR_ARG, "viewcrafter: %lld frames, need 1 .. 256", (long long)T);
    if (o->cond_frame < 0 || o->cond_frame >= T)
        return pc_err(err, PC_ERR_ARG, "viewcrafter: condition frame %d outside 0 .. %lld", o->cond_frame,
                      (long long)(T - 1));
    const pc_unet_config *uc = pc_unet_get_config(m->unet);
    const pc_vae_config *vc = pc_vae_get_config(m->vae);
    const int64_t f = pc_vae_downscale(m->vae), E = vc->embed_dim;
    const int64_t unet_f = (int64_t)1 << (uc->n_levels - 1);
    if (H < f || W < f || H % (f * unet_f) || W % (f * unet_f) || H > 8192 || W > 8192)
        return pc_err(err, PC_ERR_ARG,
                      "viewcrafter: image %lldx%lld must be a multiple of %lld (VAE x UNet downscale)", (long long)W,
                      (long long)H, (long long)(f * unet_f));
    if (uc->out_channels != E || uc->in_channels != 2 * E)
        return pc_err(err, PC_ERR_SHAPE,
                      "viewcrafter: UNet in/out channels %d/%d do not fit VAE latents of %lld (hybrid: 2x)",
                      uc->in_channels, uc->out_channels, (long long)E);
    const int64_t D = pc_clip_text_width(m->clip), L = PC_CLIP_CONTEXT + pc_clip_resampler_queries(m->clip);
    if (D != uc->context_dim || pc_clip_resampler_out_dim(m->clip) != D)
        return pc_err(err, PC_ERR_SHAPE,
                      "viewcrafter: CLIP context width %lld / Resampler %lld != UNet context_dim %d", (long long)D,
                      (long long)pc_clip_resampler_out_dim(m->clip), uc->context_dim);
    const int cfg = o->ddim.cfg_scale != 1.0f;
    const int64_t h = H / f, w = W / f, hw = h * w, n = E * T * hw;

    // one block: ctx cond + uncond (L, D); c_concat, x (n each), xc (2n); zero image (3, H, W)
    const size_t total = (size_t)(2 * L * D + 4 * n + 3 * H * W);
    float *blk = (float *)calloc(total, sizeof(float));
    if (!blk) return pc_err(err, PC_ERR_MEMORY, "viewcrafter: out of memory (%zu floats)", total);
    float *ctx_c = blk, *ctx_u = ctx_c + L * D, *cc = ctx_u + L * D, *x = cc + n, *xc = x + n,
          *zero_img = xc + 2 * n;
    float *post = NULL;
    pc_status st = PC_OK;
    int64_t ids[PC_CLIP_CONTEXT], ids_u[PC_CLIP_CONTEXT];

    // ---- cross-attention contexts: prompt + CLIP(reference frame); "" + CLIP(zeros_like(frame)) ----
    st = pc_clip_tokenize(m->tok, o->prompt ? o->prompt : "", ids, PC_CLIP_CONTEXT, NULL, err);
    if (st == PC_OK) st = pc_clip_tokenize(m->tok, "", ids_u, PC_CLIP_CONTEXT, NULL, err);
    if (st == PC_OK)
        st = pc_clip_cross_context(m->clip, ctx_c, ids, renders + (int64_t)o->cond_frame * H * W, T * H * W, H, W,
                                   err);
    if (st == PC_OK && cfg) st = pc_clip_cross_context(m->clip, ctx_u, ids_u, zero_img, 0, H, W, err);
    if (st != PC_OK) goto done;

    // ---- c_concat = get_latent_z(videos): every frame, each with its own posterior draw ----
    {
        const float *noise = o->posterior_noise;
        if (!noise) {
            post = (float *)malloc(sizeof(float) * (size_t)n);
            if (!post) {
                st = pc_err(err, PC_ERR_MEMORY, "viewcrafter: out of memory");
                goto done;
            }
            pc_randn r;
            pc_randn_seed(&r, o->ddim.seed ^ 0x5641455f4e4f4953ull);
            pc_randn_fill(&r, post, n);
            noise = post;
        }
        st = pc_vae_encode_video(m->vae, cc, renders, noise, T, H, W, err);  // (E, T, h, w), scaled
        if (st != PC_OK) goto done;
    }

    // ---- DDIM (ViewCrafter's sampler copy: prev0_is_one) ----
    {
        pc_ddpm_schedule s;
        pc_ddim_table d;
        st = pc_ddpm_schedule_init(&s, &o->sched, err);
        if (st != PC_OK) goto done;
        st = pc_ddim_table_init(&d, &s, o->steps, o->spacing, o->eta, 1, err);
        if (st != PC_OK) {
            pc_ddpm_schedule_free(&s);
            goto done;
        }
        vc_unet_ctx uctx = {m->unet, cc, {ctx_c, ctx_u}, L, E, T, h, w, o->fs, xc};
        st = pc_ddim_sample(x, 1, n, &s, &d, &o->ddim, vc_unet_model, &uctx, err);
        pc_ddim_table_free(&d);
        pc_ddpm_schedule_free(&s);
        if (st != PC_OK) goto done;
    }
    if (trace) {
        trace->L = L;
        trace->ctx_dim = D;
        if (trace->cond_ctx) memcpy(trace->cond_ctx, ctx_c, sizeof(float) * (size_t)(L * D));
        if (trace->uncond_ctx) memcpy(trace->uncond_ctx, ctx_u, sizeof(float) * (size_t)(L * D));
        if (trace->c_concat) memcpy(trace->c_concat, cc, sizeof(float) * (size_t)n);
        if (trace->samples) memcpy(trace->samples, x, sizeof(float) * (size_t)n);
    }
    // ---- decode_first_stage: (E, T, h, w) -> (3, T, H, W) ----
    st = pc_vae_decode_video(m->vae, video, x, T, h, w, err);
done:
    free(post);
    free(blk);
    return st;
}
