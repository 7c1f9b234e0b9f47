// DynamiCrafter generative frame interpolation: scripts/evaluation/inference.py image_guided_synthesis with
// interp=True, conditioning_key 'hybrid', uncond_type 'empty_seq', as run_application.sh interp calls it.
//
//   videos     = A x T/2 ++ B x T/2 along T                       (load_data_prompts(interp=True))
//   c_cross    = cat(text(prompt), Resampler(ViT(frame 0)))      (1, 77 + 16 T, 1024)
//   uc_cross   = cat(text(""),     Resampler(ViT(zeros)))        (only when cfg != 1)
//   z          = encode_first_stage(videos): per frame, 0.18215 (mean + std randn)
//   c_concat   = zeros; [:, :, 0] = z[:, :, 0]; [:, :, -1] = z[:, :, -1]   (same for cond and uncond)
//   samples    = DDIM(UNet(cat(x, c_concat), t, context, fs))
//   video      = decode_first_stage(samples), per frame
//
// Frames 1 .. T-2 of the VAE encoding are never used by upstream (it encodes them and throws them away), so
// only frame 0 (A) and frame T-1 (B) are encoded here, each with its own posterior noise draw.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/image.h"
#include "posecrafter/clip.h"
#include "posecrafter/diffusion.h"
#include "posecrafter/unet.h"
#include "models/hybrid.h"

void pc_interp_opts_default(pc_interp_opts *o) {
    memset(o, 0, sizeof(*o));
    o->T = 16;
    o->steps = 50;
    o->eta = 1.0;
    o->spacing = PC_DDIM_UNIFORM_TRAILING;
    o->fs = 5;
    o->prompt = "";
    pc_ddim_sample_opts_default(&o->ddim);
    pc_ddpm_config_default(&o->sched);
}

pc_status pc_interp_run(const pc_interp_models *m, const pc_interp_opts *o, float *video, const float *image_a,
                        const float *image_b, int64_t H, int64_t W, pc_interp_trace *trace, pc_error *err) {
    if (!m || !o || !video || !image_a || !image_b || !m->unet || !m->vae || !m->clip || !m->tok)
        return pc_err(err, PC_ERR_ARG, "pc_interp_run: NULL argument");
    const int64_t T = o->T;
    if (T < 2 || T > 256 || T % 2)
        return pc_err(err, PC_ERR_ARG, "interp: video_length %lld must be even, in [2, 256]", (long long)T);
    pc_hybrid_dims dm;
    pc_status st = pc_hybrid_check(&dm, m, H, W, "interp", err);
    if (st != PC_OK) return st;
    const int64_t E = dm.E, D = dm.D, L = dm.L;
    const int cfg = o->ddim.cfg_scale != 1.0f;
    const int64_t h = dm.h, w = dm.w, hw = h * w, n = E * T * hw;

    // one block: ctx cond + uncond (L, D); c_concat, x, xc (2n); video2 (3, 2, H, W); noise2 (2, E, h, w);
    // z2 (E, 2, h, w); zero image (3, H, W)
    const size_t total = (size_t)(2 * L * D + 4 * n + 6 * H * W + 4 * E * hw + 3 * H * W);
    float *blk = (float *)calloc(total, sizeof(float));
    if (!blk) return pc_err(err, PC_ERR_MEMORY, "interp: out of memory (%zu floats)", total);
    float *ctx_c = blk, *ctx_u = ctx_c + L * D, *cc = ctx_u + L * D, *x = cc + n, *xc = x + n, *vid2 = xc + 2 * n,
          *nz2 = vid2 + 6 * H * W, *z2 = nz2 + 2 * E * hw, *zero_img = z2 + 2 * E * hw;
    float *post = NULL;
    int64_t ids[PC_CLIP_CONTEXT], ids_u[PC_CLIP_CONTEXT];

    // ---- cross-attention contexts: prompt + CLIP(frame 0 = A); "" + CLIP(zeros_like(A)) ----
    st = pc_clip_tokenize(m->tok, o->prompt ? o->prompt : "", ids, PC_CLIP_CONTEXT, NULL, err);
    if (st == PC_OK) st = pc_clip_tokenize(m->tok, "", ids_u, PC_CLIP_CONTEXT, NULL, err);
    if (st == PC_OK) st = pc_clip_cross_context(m->clip, ctx_c, ids, image_a, 0, H, W, err);
    if (st == PC_OK && cfg) st = pc_clip_cross_context(m->clip, ctx_u, ids_u, zero_img, 0, H, W, err);
    if (st != PC_OK) goto done;

    // ---- c_concat: posterior samples of frame 0 (A) and frame T-1 (B) ----
    for (int ch = 0; ch < 3; ch++) {  // (3, 2, H, W): frame 0 = A, frame 1 = B
        memcpy(vid2 + (ch * 2 + 0) * H * W, image_a + ch * H * W, sizeof(float) * (size_t)(H * W));
        memcpy(vid2 + (ch * 2 + 1) * H * W, image_b + ch * H * W, sizeof(float) * (size_t)(H * W));
    }
    if (o->posterior_noise) {
        memcpy(nz2, o->posterior_noise, sizeof(float) * (size_t)(E * hw));
        memcpy(nz2 + E * hw, o->posterior_noise + (T - 1) * E * hw, sizeof(float) * (size_t)(E * hw));
    } else {
        // one draw per frame of the whole video, as upstream; only frames 0 and T-1 are kept
        post = (float *)malloc(sizeof(float) * (size_t)(T * E * hw));
        if (!post) {
            st = pc_err(err, PC_ERR_MEMORY, "interp: out of memory");
            goto done;
        }
        pc_randn r;
        pc_randn_seed(&r, o->ddim.seed ^ 0x5641455f4e4f4953ull);
        pc_randn_fill(&r, post, T * E * hw);
        memcpy(nz2, post, sizeof(float) * (size_t)(E * hw));
        memcpy(nz2 + E * hw, post + (T - 1) * E * hw, sizeof(float) * (size_t)(E * hw));
    }
    st = pc_vae_encode_video(m->vae, z2, vid2, nz2, 2, H, W, err);  // z2 (E, 2, h, w), scaled
    if (st != PC_OK) goto done;
    for (int64_t c = 0; c < E; c++) {  // img_cat_cond (E, T, h, w): zeros except the first and last frame
        memcpy(cc + (c * T + 0) * hw, z2 + (c * 2 + 0) * hw, sizeof(float) * (size_t)hw);
        memcpy(cc + (c * T + T - 1) * hw, z2 + (c * 2 + 1) * hw, sizeof(float) * (size_t)hw);
    }

    {
        pc_hybrid_sampling smp = {&o->sched, o->steps, o->spacing, o->eta, 0, &o->ddim, o->fs};
        st = pc_hybrid_sample_decode(m, &smp, &dm, T, x, xc, cc, ctx_c, ctx_u, trace, video, "interp", err);
    }
done:
    free(post);
    free(blk);
    return st;
}

void pc_interp_frame_to_u8(uint8_t *rgb, const float *video, int64_t T, int64_t t, int64_t H, int64_t W) {
    // save_results_seperate: clamp(-1, 1); (x + 1.0) / 2.0; (x * 255).to(torch.uint8) (truncation)
    for (int64_t y = 0; y < H; y++)
        for (int64_t xx = 0; xx < W; xx++)
            for (int c = 0; c < 3; c++) {
                float v = video[((c * T + t) * H + y) * W + xx];
                v = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
                if (v != v) v = -1.0f;  // NaN: black rather than undefined
                const float a = (v + 1.0f) / 2.0f;
                const float b = a * 255.0f;
                rgb[(y * W + xx) * 3 + c] = (uint8_t)b;
            }
}

// torchvision transforms.Resize(min(H, W)) on a PIL image (bilinear, PIL's antialiasing resampler), then
// transforms.CenterCrop((H, W)), which zero-pads a side that is too small before cropping. cover = 1 scales
// so the image covers H x W instead (no padding; not upstream).
pc_status pc_interp_preprocess(pc_image *out_u8, float *x, const pc_image *rgb, int H, int W, int cover,
                               pc_error *err) {
    if (!out_u8 || !rgb || !rgb->data || rgb->c != 3 || rgb->w < 1 || rgb->h < 1 || H < 1 || W < 1 || H > 8192 ||
        W > 8192)
        return pc_err(err, PC_ERR_ARG, "pc_interp_preprocess: need an RGB image and a size in [1, 8192]");
    int nw, nh;
    if (cover) {
        const double s = fmax((double)W / rgb->w, (double)H / rgb->h);
        nw = (int)ceil(rgb->w * s - 1e-9);
        nh = (int)ceil(rgb->h * s - 1e-9);
        nw = nw < W ? W : nw;
        nh = nh < H ? H : nh;
    } else {
        // _compute_resized_output_size: short side -> min(H, W), long = int(requested * long / short)
        const int req = H < W ? H : W;
        const int sh = rgb->w <= rgb->h ? rgb->w : rgb->h, lo = rgb->w <= rgb->h ? rgb->h : rgb->w;
        if (sh == req) {
            nw = rgb->w;
            nh = rgb->h;
        } else {
            const int nl = (int)((double)req * (double)lo / (double)sh);
            nw = rgb->w <= rgb->h ? req : nl;
            nh = rgb->w <= rgb->h ? nl : req;
        }
        if (nw < 1 || nh < 1 || nw > 65535 || nh > 65535)
            return pc_err(err, PC_ERR_ARG, "interp preprocess: resize to %dx%d out of range", nw, nh);
    }
    pc_image rs = {0}, crop = {0};
    pc_status st = pc_image_resize(&rs, rgb, nw, nh, PC_RESAMPLE_BILINEAR, err);
    if (st != PC_OK) return st;
    // CenterCrop: pad (left = (W - w) // 2, top = (H - h) // 2) with 0 where the image is smaller
    const int pw = W > nw ? W : nw, ph = H > nh ? H : nh;
    const int padl = W > nw ? (W - nw) / 2 : 0, padt = H > nh ? (H - nh) / 2 : 0;
    st = pc_image_alloc(&crop, W, H, 3, err);
    if (st != PC_OK) {
        pc_image_free(&rs);
        return st;
    }
    // crop_top = int(round((ph - H) / 2.0)), half to even, in the padded image
    const int top = (int)nearbyint((ph - H) / 2.0), left = (int)nearbyint((pw - W) / 2.0);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) {
            const int sy = y + top - padt, sx = xx + left - padl;    // in the resized image
            if (sy < 0 || sy >= nh || sx < 0 || sx >= nw) continue;  // padding: black
            memcpy(crop.data + ((size_t)y * W + xx) * 3, rs.data + ((size_t)sy * nw + sx) * 3, 3);
        }
    pc_image_free(&rs);
    if (x) {
        // ToTensor (u8 / 255) then Normalize(0.5, 0.5), each op rounded to float32
        const size_t hw = (size_t)W * H;
        for (int ch = 0; ch < 3; ch++)
            for (size_t i = 0; i < hw; i++) {
                float v = (float)crop.data[i * 3 + ch] / 255.0f;
                v = v - 0.5f;
                x[ch * hw + i] = v / 0.5f;
            }
    }
    pc_image_free(out_u8);
    *out_u8 = crop;
    return PC_OK;
}
