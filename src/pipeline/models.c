// Model sets for the pipeline: one DynamiCrafter-family bundle from one or several checkpoint files, and
// the published file names the pipeline looks for in a models folder.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "posecrafter/pipeline.h"

// First open checkpoint holding key, or NULL.
static const pc_checkpoint *holder(pc_checkpoint *const *ck, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (pc_checkpoint_find(ck[i], key)) return ck[i];
    return NULL;
}

pc_status pc_diffusion_bundle_load(pc_diffusion_bundle *b, const char *const *files, int n, const char *vocab,
                                   const pc_unet_config *ucfg, const pc_clip_config *ccfg, double scale_factor,
                                   pc_pool *pool, pc_error *err) {
    memset(b, 0, sizeof(*b));
    if (n < 1 || n > PC_MAX_MODEL_PARTS || !files || !vocab)
        return pc_err(err, PC_ERR_ARG, "diffusion model: need 1 .. %d checkpoint files and a vocab file",
                      PC_MAX_MODEL_PARTS);
    pc_unet_config uc;
    pc_clip_config cc;
    if (ucfg) uc = *ucfg; else pc_unet_config_default(&uc);
    if (ccfg) cc = *ccfg; else pc_clip_config_default(&cc);
    pc_status st = PC_OK;
    for (int i = 0; i < n && st == PC_OK; i++) {
        st = pc_checkpoint_open(&b->ck[i], files[i], err);
        if (st == PC_OK) b->n_ck++;
    }
    if (st == PC_OK) st = pc_clip_tokenizer_load(&b->tok, vocab, err);
    if (st == PC_OK) {
        const pc_checkpoint *cu = holder(b->ck, n, "model.diffusion_model.out.2.weight");
        const pc_checkpoint *cv = holder(b->ck, n, "first_stage_model.decoder.conv_out.weight");
        const pc_checkpoint *ct = holder(b->ck, n, "cond_stage_model.model.token_embedding.weight");
        const pc_checkpoint *ci = holder(b->ck, n, "embedder.model.visual.conv1.weight");
        const pc_checkpoint *cr = holder(b->ck, n, "image_proj_model.latents");
        if (!cu || !cv || !ct || !ci || !cr) {
            st = pc_err(err, PC_ERR_NOT_FOUND,
                        "%s%s: missing part(s):%s%s%s%s%s (DynamiCrafter keys model.diffusion_model.*, "
                        "first_stage_model.*, cond_stage_model.model.*, embedder.model.visual.*, image_proj_model.*)",
                        files[0], n > 1 ? " (and the other parts)" : "", cu ? "" : " UNet", cv ? "" : " VAE",
                        ct ? "" : " text", ci ? "" : " ViT", cr ? "" : " Resampler");
        } else if (ct != ci || ct != cr) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "the text tower, ViT and Resampler must be in one checkpoint file");
        } else {
            st = pc_unet_from_checkpoint(&b->m.unet, cu, "model.diffusion_model.", &uc, pool, err);
            if (st == PC_OK) st = pc_vae_from_checkpoint(&b->m.vae, cv, "first_stage_model.", pool, err);
            if (st == PC_OK) pc_vae_set_scale_factor(b->m.vae, scale_factor);
            if (st == PC_OK) st = pc_clip_from_checkpoint(&b->m.clip, ct, &cc, pool, err);
            b->m.tok = b->tok;
        }
    }
    if (st != PC_OK) pc_diffusion_bundle_free(b);
    return st;
}

void pc_diffusion_bundle_free(pc_diffusion_bundle *b) {
    if (!b) return;
    pc_clip_free(b->m.clip);
    pc_vae_free(b->m.vae);
    pc_unet_free(b->m.unet);
    pc_clip_tokenizer_free(b->tok);
    for (int i = 0; i < b->n_ck; i++) pc_checkpoint_close(b->ck[i]);
    memset(b, 0, sizeof(*b));
}

void pc_model_files_default(pc_model_files *mf) {
    memset(mf, 0, sizeof(*mf));
    pc_unet_config_default(&mf->ucfg);
    pc_clip_config_default(&mf->ccfg);
    mf->vc_W = 1024;
    mf->vc_H = 576;
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

// First of the candidate names (relative to dir) that exists, copied into buf; NULL when none.
static const char *first_existing(char *buf, size_t cap, const char *dir, const char *const *names, int n) {
    for (int i = 0; dir && i < n; i++) {
        snprintf(buf, cap, "%s/%s", dir, names[i]);
        if (is_file(buf)) return buf;
    }
    return NULL;
}

pc_status pc_model_files_find(pc_model_files *mf, const char *dir, pc_vc_variant variant, int need_vc,
                              pc_error *err) {
    if (!mf || (variant != PC_VC_SPARSE && variant != PC_VC_25 && variant != PC_VC_512))
        return pc_err(err, PC_ERR_ARG, "pc_model_files_find: bad arguments");
    if (variant == PC_VC_512) mf->vc_W = 512, mf->vc_H = 320;
    char missing[3000] = "";
    size_t ml = 0;
#define PC_MISSING(...)                                                                    \
    do {                                                                                   \
        if (ml < sizeof(missing)) ml += (size_t)snprintf(missing + ml, sizeof(missing) - ml, __VA_ARGS__); \
    } while (0)
    if (dir && !*dir) dir = NULL;
    if (mf->want_mast3r && !mf->mast3r) {
        static const char *const n[] = {"MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth",
                                        "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.safetensors",
                                        "checkpoints/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth"};
        mf->mast3r = first_existing(mf->buf[4], sizeof(mf->buf[4]), dir, n, 3);
        if (!mf->mast3r)
            PC_MISSING("\n  MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth  (naver/mast3r README: "
                       "https://download.europe.naverlabs.com/ComputerVision/MASt3R/"
                       "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth; or Hugging Face "
                       "naver/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric)");
    }
    if (!mf->want_mast3r && !mf->dust3r) {
        static const char *const n[] = {"DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth",
                                        "DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors",
                                        "checkpoints/DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth"};
        mf->dust3r = first_existing(mf->buf[0], sizeof(mf->buf[0]), dir, n, 3);
        if (!mf->dust3r)
            PC_MISSING("\n  DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth  (naver/dust3r README: "
                       "https://download.europe.naverlabs.com/ComputerVision/DUSt3R/"
                       "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth)");
    }
    if (!mf->n_interp) {
        static const char *const n[] = {"dynamicrafter_512_interp_v1/model.ckpt", "dynamicrafter_512_interp.ckpt",
                                        "dynamicrafter_512_interp.safetensors",
                                        "checkpoints/dynamicrafter_512_interp_v1/model.ckpt"};
        const char *p = first_existing(mf->buf[1], sizeof(mf->buf[1]), dir, n, 4);
        if (p)
            mf->interp[mf->n_interp++] = p;
        else
            PC_MISSING("\n  dynamicrafter_512_interp_v1/model.ckpt  (Hugging Face Doubiiu/DynamiCrafter_512_Interp, "
                       "file model.ckpt)");
    }
    if (need_vc && !mf->n_vc) {
        static const char *const sp[] = {"model_sparse.ckpt", "ViewCrafter_25_sparse/model_sparse.ckpt",
                                         "checkpoints/model_sparse.ckpt"};
        static const char *const v25[] = {"model.ckpt", "ViewCrafter_25/model.ckpt", "checkpoints/model.ckpt"};
        static const char *const v512[] = {"model_512.ckpt", "ViewCrafter_25_512/model_512.ckpt",
                                           "checkpoints/model_512.ckpt"};
        const char *const *n = variant == PC_VC_SPARSE ? sp : variant == PC_VC_25 ? v25 : v512;
        const char *p = first_existing(mf->buf[2], sizeof(mf->buf[2]), dir, n, 3);
        if (p)
            mf->vc[mf->n_vc++] = p;
        else
            PC_MISSING("\n  %s  (Hugging Face Drexubery/%s, file %s; or run with --no-hvg)", n[0],
                       variant == PC_VC_SPARSE ? "ViewCrafter_25_sparse" : variant == PC_VC_25 ? "ViewCrafter_25"
                                                                                              : "ViewCrafter_25_512",
                       n[0]);
    }
    if (!mf->vocab) {
        static const char *const n[] = {"bpe_simple_vocab_16e6.txt.gz"};
        mf->vocab = first_existing(mf->buf[3], sizeof(mf->buf[3]), dir, n, 1);
        if (!mf->vocab)
            PC_MISSING("\n  bpe_simple_vocab_16e6.txt.gz  (the CLIP BPE merges: github mlfoundations/open_clip, "
                       "src/open_clip/bpe_simple_vocab_16e6.txt.gz)");
    }
#undef PC_MISSING
    if (ml && !dir)
        return pc_err(err, PC_ERR_NOT_FOUND,
                      "no models folder given (--models DIR or $POSECRAFTER_MODELS); the pipeline needs:%s", missing);
    if (ml) return pc_err(err, PC_ERR_NOT_FOUND, "models folder %s lacks:%s", dir, missing);
    return PC_OK;
}
