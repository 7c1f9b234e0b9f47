// Shared by interp.c and viewcrafter.c: see hybrid.h.
#include "models/hybrid.h"

#include <string.h>

#include "posecrafter/clip.h"
#include "posecrafter/unet.h"

pc_status pc_hybrid_check(pc_hybrid_dims *d, const pc_interp_models *m, int64_t H, int64_t W, const char *what,
                          pc_error *err) {
    const pc_unet_config *uc = pc_unet_get_config(m->unet);
    const pc_vae_config *vc = pc_vae_get_config(m->vae);
    const int64_t f = pc_vae_downscale(m->vae), E = vc->embed_dim;
    const int64_t unet_f = (int64_t)1 << (uc->n_levels - 1);
    if (H < f || W < f || H % (f * unet_f) || W % (f * unet_f) || H > 8192 || W > 8192)
        return pc_err(err, PC_ERR_ARG, "%s: image %lldx%lld must be a multiple of %lld (VAE x UNet downscale)", what,
                      (long long)W, (long long)H, (long long)(f * unet_f));
    if (uc->out_channels != E || uc->in_channels != 2 * E)
        return pc_err(err, PC_ERR_SHAPE, "%s: UNet in/out channels %d/%d do not fit VAE latents of %lld (hybrid: 2x)",
                      what, uc->in_channels, uc->out_channels, (long long)E);
    const int64_t D = pc_clip_text_width(m->clip);
    if (D != uc->context_dim || pc_clip_resampler_out_dim(m->clip) != D)
        return pc_err(err, PC_ERR_SHAPE, "%s: CLIP context width %lld / Resampler %lld != UNet context_dim %d", what,
                      (long long)D, (long long)pc_clip_resampler_out_dim(m->clip), uc->context_dim);
    d->f = f;
    d->E = E;
    d->D = D;
    d->L = PC_CLIP_CONTEXT + pc_clip_resampler_queries(m->clip);
    d->h = H / f;
    d->w = W / f;
    return PC_OK;
}

typedef struct {
    pc_unet *unet;
    const float *c_concat;  // (E, T, h, w)
    const float *ctx[2];    // cond, uncond: (L, D)
    int64_t L, E, T, h, w, fs;
    float *xc;  // (2E, T, h, w) UNet input
    const char *what;
} unet_branch_ctx;

// LatentDiffusion.apply_model -> DiffusionWrapper.forward (hybrid): xc = cat([x] + c_concat, dim=1),
// cc = cat(c_crossattn, 1), then UNet(xc, t, context=cc, fs=fs).
static pc_status unet_model(void *vctx, float *out, const float *x, int64_t B, int64_t t, int branch, pc_error *err) {
    unet_branch_ctx *c = (unet_branch_ctx *)vctx;
    if (B != 1) return pc_err(err, PC_ERR_UNSUPPORTED, "%s: batch size %lld (only 1)", c->what, (long long)B);
    const int64_t n = c->E * c->T * c->h * c->w;
    memcpy(c->xc, x, sizeof(float) * (size_t)n);
    memcpy(c->xc + n, c->c_concat, sizeof(float) * (size_t)n);
    const int64_t ts = t, fs = c->fs;
    return pc_unet_forward(c->unet, out, c->xc, 1, c->T, c->h, c->w, &ts, c->ctx[branch ? 1 : 0], c->L, &fs, err);
}

pc_status pc_hybrid_sample_decode(const pc_interp_models *m, const pc_hybrid_sampling *s, const pc_hybrid_dims *d,
                                  int64_t T, float *x, float *xc, const float *cc, const float *ctx_c,
                                  const float *ctx_u, pc_interp_trace *trace, float *video, const char *what,
                                  pc_error *err) {
    const int64_t n = d->E * T * d->h * d->w;
    pc_ddpm_schedule sched;
    pc_ddim_table tab;
    pc_status st = pc_ddpm_schedule_init(&sched, s->sched, err);
    if (st != PC_OK) return st;
    st = pc_ddim_table_init(&tab, &sched, s->steps, s->spacing, s->eta, s->prev0_is_one, err);
    if (st != PC_OK) {
        pc_ddpm_schedule_free(&sched);
        return st;
    }
    unet_branch_ctx uctx = {m->unet, cc, {ctx_c, ctx_u}, d->L, d->E, T, d->h, d->w, s->fs, xc, what};
    st = pc_ddim_sample(x, 1, n, &sched, &tab, s->ddim, unet_model, &uctx, err);
    pc_ddim_table_free(&tab);
    pc_ddpm_schedule_free(&sched);
    if (st != PC_OK) return st;
    if (trace) {
        trace->L = d->L;
        trace->ctx_dim = d->D;
        if (trace->cond_ctx) memcpy(trace->cond_ctx, ctx_c, sizeof(float) * (size_t)(d->L * d->D));
        if (trace->uncond_ctx) memcpy(trace->uncond_ctx, ctx_u, sizeof(float) * (size_t)(d->L * d->D));
        if (trace->c_concat) memcpy(trace->c_concat, cc, sizeof(float) * (size_t)n);
        if (trace->samples) memcpy(trace->samples, x, sizeof(float) * (size_t)n);
    }
    // decode_first_stage: (E, T, h, w) -> (3, T, H, W), per frame
    return pc_vae_decode_video(m->vae, video, x, T, d->h, d->w, err);
}
