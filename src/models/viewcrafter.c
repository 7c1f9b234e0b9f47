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
#include "models/hybrid.h"

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

pc_status pc_viewcrafter_run(const pc_interp_models *m, const pc_viewcrafter_opts *o, float *video,
                             const float *renders, int64_t T, int64_t H, int64_t W, pc_interp_trace *trace,
                             pc_error *err) {
    if (!m || !o || !video || !renders || !m->unet || !m->vae || !m->clip || !m->tok)
        return pc_err(err, PC_ERR_ARG, "pc_viewcrafter_run: NULL argument");
    if (T < 1 || T > 256) return pc_err(err, PC_ERR_ARG, "viewcrafter: %lld frames, need 1 .. 256", (long long)T);
    if (o->cond_frame < 0 || o->cond_frame >= T)
        return pc_err(err, PC_ERR_ARG, "viewcrafter: condition frame %d outside 0 .. %lld", o->cond_frame,
                      (long long)(T - 1));
    pc_hybrid_dims dm;
    pc_status st = pc_hybrid_check(&dm, m, H, W, "viewcrafter", err);
    if (st != PC_OK) return st;
    const int64_t E = dm.E, D = dm.D, L = dm.L;
    const int cfg = o->ddim.cfg_scale != 1.0f;
    const int64_t n = E * T * dm.h * dm.w;

    // one block: ctx cond + uncond (L, D); c_concat, x (n each), xc (2n); zero image (3, H, W)
    const size_t total = (size_t)(2 * L * D + 4 * n + 3 * H * W);
    float *blk = (float *)calloc(total, sizeof(float));
    if (!blk) return pc_err(err, PC_ERR_MEMORY, "viewcrafter: out of memory (%zu floats)", total);
    float *ctx_c = blk, *ctx_u = ctx_c + L * D, *cc = ctx_u + L * D, *x = cc + n, *xc = x + n,
          *zero_img = xc + 2 * n;
    float *post = NULL;
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

    // ---- DDIM (ViewCrafter's sampler copy: prev0_is_one), decode ----
    {
        pc_hybrid_sampling smp = {&o->sched, o->steps, o->spacing, o->eta, 1, &o->ddim, o->fs};
        st = pc_hybrid_sample_decode(m, &smp, &dm, T, x, xc, cc, ctx_c, ctx_u, trace, video, "viewcrafter", err);
    }
done:
    free(post);
    free(blk);
    return st;
}
