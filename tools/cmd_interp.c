// posecrafter interp --model dynamicrafter_512_interp.ckpt A.jpg B.jpg -o frames/ [--steps 50] [--cfg 7.5]
//                    [--seed 12306] [--prompt ""] [--fs 5] [--eta 1.0] [--rescale 0.7] [--frames 16]
//                    [--size 512x320] [--fit pad|cover] [--vocab bpe_simple_vocab_16e6.txt.gz] [--threads N]
//                    [--config configs/inference_512_v1.0.yaml]
//
// DynamiCrafter-512 generative frame interpolation between two photos (scripts/run_application.sh interp
// settings by default). Writes frame_00.png .. frame_<T-1>.png (H x W) and contact_sheet.png (4 columns, half
// size) into the output folder, and a progress bar with ETA per DDIM step on stderr.
// --model may be given several times: each part (UNet model.diffusion_model.*, VAE first_stage_model.*,
// text tower cond_stage_model.*, ViT embedder.*, Resampler image_proj_model.*) is taken from the first file
// that holds it. --head-channels / --clip-heads set the head sizes that shapes cannot give (tiny test models).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"
#include "posecrafter/clip.h"
#include "posecrafter/diffusion.h"
#include "posecrafter/unet.h"

#define MAX_MODELS PC_MAX_MODEL_PARTS

static const char usage_text[] =
    "usage: posecrafter interp --model M.ckpt A.jpg B.jpg -o OUT_DIR [options]\n"
    "  DynamiCrafter-512 interpolation: T frames from A to B (frame_XX.png + contact_sheet.png).\n";


static int on_step(void *vctx, const pc_ddim_step_info *info) {
    const int *T = (const int *)vctx;
    const int done = info->i + 1, W = 30;
    const int fill = done * W / info->S;
    char bar[64], el[32], eta[32];
    for (int k = 0; k < W; k++) bar[k] = k < fill ? '#' : '-';
    bar[W] = 0;
    const double per = info->elapsed_s / done;
    pc_cli_fmt_time(el, sizeof(el), info->elapsed_s);
    pc_cli_fmt_time(eta, sizeof(eta), per * (info->S - done));
    fprintf(stderr, "\rDDIM [%s] %d/%d t=%-4lld %.1f s/step elapsed %s ETA %s   ", bar, done, info->S,
            (long long)info->p.t, per, el, eta);
    if (done == info->S) fprintf(stderr, "\ndecoding %d frames ...\n", *T);
    fflush(stderr);
    return 0;
}



// ---- --config: the values we need from an upstream inference yaml (configs/inference_512_v1.0.yaml) ----
// A block-style YAML subset: "key: scalar" / "key: [a, b]" lines, nesting by indentation, '#' comments.
// Each line's full dotted path (model.params.unet_config.params.num_head_channels) is matched exactly.

typedef struct {
    pc_interp_opts *o;
    pc_unet_config *ucfg;
    pc_clip_config *ccfg;
    double scale_factor;
    int H, W, have_size;
    char msg[256];
} yaml_ctx;

static void strip(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        memmove(s, s + 1, n - 2);
        s[n - 2] = 0;
    }
}

static int yaml_bool(const char *v) {
    return !strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1");
}

// Returns 0 when the value is unusable (message in c->msg).
static int yaml_apply(yaml_ctx *c, const char *path, const char *v) {
    const char *mp = "model.params.", *up = "model.params.unet_config.params.";
    char *end;
    if (!strncmp(path, up, strlen(up))) {
        const char *k = path + strlen(up);
        if (!strcmp(k, "num_head_channels")) c->ucfg->num_head_channels = (int)strtol(v, &end, 10);
        if (!strcmp(k, "default_fs")) c->ucfg->default_fs = (int)strtol(v, &end, 10);
        return c->ucfg->num_head_channels > 0;
    }
    if (!strcmp(path, "model.params.image_proj_stage_config.params.heads")) {
        c->ccfg->resampler_heads = (int)strtol(v, &end, 10);
        return c->ccfg->resampler_heads > 0;
    }
    if (!strcmp(path, "model.params.cond_stage_config.params.layer")) {
        if (!strcmp(v, "penultimate"))
            c->ccfg->text_layer_skip = 1;
        else if (!strcmp(v, "last"))
            c->ccfg->text_layer_skip = 0;
        else
            return snprintf(c->msg, sizeof(c->msg), "text layer '%s' not supported", v), 0;
        return 1;
    }
    if (strncmp(path, mp, strlen(mp))) return 1;
    const char *k = path + strlen(mp);
    pc_ddpm_config *sc = &c->o->sched;
    if (!strcmp(k, "linear_start"))
        sc->linear_start = strtod(v, &end);
    else if (!strcmp(k, "linear_end"))
        sc->linear_end = strtod(v, &end);
    else if (!strcmp(k, "timesteps"))
        sc->timesteps = (int)strtol(v, &end, 10);
    else if (!strcmp(k, "rescale_betas_zero_snr"))
        sc->rescale_zero_snr = yaml_bool(v);
    else if (!strcmp(k, "use_dynamic_rescale"))
        sc->use_dynamic_rescale = yaml_bool(v);
    else if (!strcmp(k, "base_scale"))
        sc->base_scale = strtod(v, &end);
    else if (!strcmp(k, "scale_factor"))
        c->scale_factor = strtod(v, &end);
    else if (!strcmp(k, "parameterization")) {
        if (strcmp(v, "v") && strcmp(v, "eps")) return snprintf(c->msg, sizeof(c->msg), "parameterization '%s'", v), 0;
        c->o->ddim.v_param = !strcmp(v, "v");
    } else if (!strcmp(k, "uncond_type") && strcmp(v, "empty_seq")) {
        return snprintf(c->msg, sizeof(c->msg), "uncond_type '%s' not supported (only empty_seq)", v), 0;
    } else if (!strcmp(k, "conditioning_key") && strcmp(v, "hybrid")) {
        return snprintf(c->msg, sizeof(c->msg), "conditioning_key '%s' not supported (only hybrid)", v), 0;
    } else if (!strcmp(k, "image_size")) {
        int h, w;
        if (sscanf(v, "[%d , %d]", &h, &w) != 2 || h < 1 || w < 1 || h > 1024 || w > 1024)
            return snprintf(c->msg, sizeof(c->msg), "image_size '%s' (want [h, w])", v), 0;
        c->H = 8 * h;
        c->W = 8 * w;
        c->have_size = 1;
    }
    return 1;
}

static pc_status yaml_load(yaml_ctx *c, const char *path, pc_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
    char line[1024], keys[16][128];
    int indent[16], depth = 0, lineno = 0;
    pc_status st = PC_OK;
    while (st == PC_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        int ind = 0;
        while (line[ind] == ' ') ind++;
        char *key = line + ind, *colon = strchr(key, ':');
        if (!*key || *key == '\n' || *key == '\r' || *key == '-' || !colon) continue;  // blank, list item, other
        *colon = 0;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t') val++;
        strip(key);
        strip(val);
        while (depth > 0 && indent[depth - 1] >= ind) depth--;
        if (depth == 16 || strlen(key) >= sizeof(keys[0])) {
            st = pc_err(err, PC_ERR_FORMAT, "config %s:%d: nesting too deep or key too long", path, lineno);
            break;
        }
        char full[16 * 130] = "";
        for (int i = 0; i < depth; i++) {
            strcat(full, keys[i]);
            strcat(full, ".");
        }
        strcat(full, key);
        if (*val) {
            if (!yaml_apply(c, full, val))
                st = pc_err(err, PC_ERR_UNSUPPORTED, "config %s:%d: %s: %s", path, lineno, full,
                            c->msg[0] ? c->msg : "bad value");
        } else {
            memcpy(keys[depth], key, strlen(key) + 1);  // strlen(key) < sizeof(keys[0]): checked above
            indent[depth++] = ind;
        }
    }
    fclose(f);
    return st;
}

static pc_status save_outputs(const char *out, const float *video, int T, int H, int W, pc_error *err) {
    pc_image fr = {0}, half = {0}, sheet = {0};
    const int cols = T < 4 ? T : 4, rows = (T + cols - 1) / cols;
    const int hw = W / 2 > 0 ? W / 2 : 1, hh = H / 2 > 0 ? H / 2 : 1;
    pc_status st = pc_image_alloc(&fr, W, H, 3, err);
    if (st == PC_OK) st = pc_image_alloc(&sheet, cols * hw, rows * hh, 3, err);
    char path[4200];
    for (int t = 0; t < T && st == PC_OK; t++) {
        pc_interp_frame_to_u8(fr.data, video, T, t, H, W);
        snprintf(path, sizeof(path), "%s/frame_%02d.png", out, t);
        st = pc_image_save_png(&fr, path, err);
        if (st == PC_OK) st = pc_image_resize(&half, &fr, hw, hh, PC_RESAMPLE_BILINEAR, err);
        if (st != PC_OK) break;
        const int x0 = (t % cols) * hw, y0 = (t / cols) * hh;
        for (int y = 0; y < hh; y++)
            memcpy(sheet.data + ((size_t)(y0 + y) * sheet.w + x0) * 3, half.data + (size_t)y * hw * 3, (size_t)hw * 3);
        pc_image_free(&half);
    }
    if (st == PC_OK) {
        snprintf(path, sizeof(path), "%s/contact_sheet.png", out);
        st = pc_image_save_png(&sheet, path, err);
    }
    pc_image_free(&fr);
    pc_image_free(&half);
    pc_image_free(&sheet);
    return st;
}

int pc_cmd_interp(int argc, char **argv) {
    const char *models[MAX_MODELS], *out = NULL, *vocab = NULL, *imgs[2] = {NULL, NULL};
    int nmodels = 0, nimg = 0, threads = 0, cover = 0, H = 320, W = 512, bf16 = 0;
    pc_interp_opts o;
    pc_interp_opts_default(&o);
    pc_unet_config ucfg;
    pc_unet_config_default(&ucfg);
    pc_clip_config ccfg;
    pc_clip_config_default(&ccfg);
    double scale_factor = 0.18215;
    // --config first: the command-line options below override its values
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            pc_error cerr;
            yaml_ctx yc;
            memset(&yc, 0, sizeof(yc));
            yc.o = &o;
            yc.ucfg = &ucfg;
            yc.ccfg = &ccfg;
            yc.scale_factor = scale_factor;
            if (yaml_load(&yc, argv[i + 1], &cerr) != PC_OK) {
                fprintf(stderr, "posecrafter interp: %s\n", cerr.msg);
                return 1;
            }
            scale_factor = yc.scale_factor;
            if (!(scale_factor > 0 && scale_factor < 100)) {
                fprintf(stderr, "posecrafter interp: %s: scale_factor %g out of range\n", argv[i + 1], scale_factor);
                return 1;
            }
            if (yc.have_size) {
                H = yc.H;
                W = yc.W;
            }
        }
    int size[2] = {W, H};
    int fs = (int)o.fs;
    const char *config = NULL;
    static const char *const fit_names[] = {"pad", "cover", NULL};
    const pc_opt opts[] = {
        PC_OPT_STRINGS(0, "model", models, &nmodels, MAX_MODELS, "M",
                       "DynamiCrafter checkpoint (.ckpt / .safetensors); repeat for split files"),
        PC_OPT_STRING('o', "out", &out, "DIR", "output folder"),
        PC_OPT_STRING(0, "config", &config, "Y", "upstream inference yaml (default: inference_512_v1.0.yaml values built in)"),
        PC_OPT_STRING(0, "vocab", &vocab, "F", "CLIP BPE merges (bpe_simple_vocab_16e6.txt.gz); default: next to the model"),
        PC_OPT_STRING(0, "prompt", &o.prompt, "S", "text prompt"),
        PC_OPT_INT(0, "steps", &o.steps, 1, 1000, "N", "DDIM steps"),
        PC_OPT_FLOAT(0, "cfg", &o.ddim.cfg_scale, 0.0, 100.0, "S", "guidance scale"),
        PC_OPT_U64(0, "seed", &o.ddim.seed, 0, 0x7fffffff, "N", "noise seed"),
        PC_OPT_DOUBLE(0, "eta", &o.eta, 0.0, 10.0, "E", "DDIM eta"),
        PC_OPT_FLOAT(0, "rescale", &o.ddim.guidance_rescale, 0.0, 1.0, "R", "guidance rescale"),
        PC_OPT_INT(0, "fs", &fs, 0, 1000, "N", "frame-stride/fps condition"),
        PC_OPT_INT_MULT(0, "frames", &o.T, 2, 256, 2, "T", "video length"),
        PC_OPT_SIZE(0, "size", size, 1, 8192, "frame size"),
        PC_OPT_CHOICE(0, "fit", &cover, fit_names, NULL, "F",
                      "pad: upstream Resize(short side)+CenterCrop (black bars on 4:3); cover: fill"),
        PC_OPT_INT(0, "threads", &threads, 0, 1024, "N", "worker threads (0: all CPUs)"),
        PC_OPT_FLAG(0, "bf16", &bf16, "GEMMs and VAE convolutions with bf16 operands (faster on AVX512_BF16 CPUs;\nnot f32-exact)"),
        PC_OPT_INT(0, "head-channels", &ucfg.num_head_channels, 1, 4096, "N", "UNet head size, for non-standard models"),
        PC_OPT_CALLBACK(0, "clip-heads", pc_cli_opt_clip_heads, &ccfg, "T,V,R", "three positive whole numbers T,V,R",
                        "CLIP text, vision and resampler heads, for non-standard models (16,16,12)"),
        PC_OPT_END(),
    };
    const pc_opts_cmd cmd = {"interp", usage_text, imgs, 2, &nimg, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    (void)config;  // read above, before the other options
    W = size[0], H = size[1];
    o.fs = fs;
    if (!nmodels || !out || nimg != 2) {
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    char vocab_buf[4200];
    if (!vocab) {  // default: the merges file next to the (first) model
        const char *slash = strrchr(models[0], '/');
        int dl = slash ? (int)(slash - models[0]) : 0;
        snprintf(vocab_buf, sizeof(vocab_buf), "%.*s%sbpe_simple_vocab_16e6.txt.gz", dl, models[0], slash ? "/" : "");
        vocab = vocab_buf;
    }

    pc_error err;
    memset(&err, 0, sizeof(err));
    pc_pool *pool = NULL;
    pc_diffusion_bundle bd;
    memset(&bd, 0, sizeof(bd));
    pc_image rgb[2] = {{0}}, crop[2] = {{0}};
    float *x = NULL, *video = NULL;
    int rc = 1;
    pc_status st = pc_pool_create(&pool, threads, &err);
    if (st == PC_OK) pc_pool_set_gemm_bf16(pool, bf16);
    if (st == PC_OK)
        st = pc_diffusion_bundle_load(&bd, models, nmodels, vocab, &ucfg, &ccfg, scale_factor, pool, &err);
    if (st == PC_OK && bf16 && pc_vae_set_compute(bd.m.vae, PC_BF16) != PC_OK)
        st = pc_err(&err, PC_ERR_UNSUPPORTED, "VAE: bf16 compute refused");
    pc_interp_models m = bd.m;
    if (st == PC_OK) {
        const int64_t q = pc_clip_resampler_queries(m.clip);
        if (q != 16 * (int64_t)o.T)
            fprintf(stderr,
                    "note: the Resampler makes %lld image tokens, not 16 x %d frames: every frame sees them all\n",
                    (long long)q, o.T);
        const size_t n = (size_t)3 * H * W;
        x = (float *)malloc(sizeof(float) * 2 * n);
        video = (float *)malloc(sizeof(float) * n * (size_t)o.T);
        if (!x || !video) st = pc_err(&err, PC_ERR_MEMORY, "out of memory for %dx%d x %d frames", W, H, o.T);
        for (int v = 0; v < 2 && st == PC_OK; v++) {
            st = pc_image_load(&rgb[v], imgs[v], &err);
            if (st == PC_OK) st = pc_interp_preprocess(&crop[v], x + v * n, &rgb[v], H, W, cover, &err);
        }
    }
    if (st == PC_OK) {
        struct stat sb;
        if (stat(out, &sb) != 0) {
            if (mkdir(out, 0755) != 0) st = pc_err(&err, PC_ERR_IO, "cannot create %s: %s", out, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode)) {
            st = pc_err(&err, PC_ERR_IO, "%s exists and is not a folder", out);
        }
    }
    if (st == PC_OK) {
        const pc_unet_config *uc = pc_unet_get_config(m.unet);
        fprintf(stderr, "model: UNet %d ch x [%d levels], %lld + %lld (VAE) parameters; %d threads\n",
                uc->model_channels, uc->n_levels, (long long)pc_unet_num_params(m.unet),
                (long long)pc_vae_num_params(m.vae), pc_pool_size(pool));
        fprintf(
            stderr,
            "interp: %s (%dx%d) -> %s (%dx%d), %d frames %dx%d, %d steps, cfg %.2f, rescale %.2f, seed %llu, fs %lld\n",
            imgs[0], rgb[0].w, rgb[0].h, imgs[1], rgb[1].w, rgb[1].h, o.T, W, H, o.steps, (double)o.ddim.cfg_scale,
            (double)o.ddim.guidance_rescale, (unsigned long long)o.ddim.seed, (long long)o.fs);
        fprintf(stderr,
                "config: head channels %d, resampler heads %d, text layer %s, %s-prediction, %d timesteps, "
                "zero-SNR %d, dynamic rescale %d (base %.2f), scale factor %.5f\n",
                ucfg.num_head_channels, ccfg.resampler_heads, ccfg.text_layer_skip ? "penultimate" : "last",
                o.ddim.v_param ? "v" : "eps", o.sched.timesteps, o.sched.rescale_zero_snr, o.sched.use_dynamic_rescale,
                o.sched.base_scale, scale_factor);
        fprintf(stderr, "encoding the prompt, CLIP image tokens and VAE latents ...\n");
        o.ddim.on_step = on_step;
        o.ddim.on_step_ctx = &o.T;
        const double t0 = pc_time_sec();
        st = pc_interp_run(&m, &o, video, x, x + (size_t)3 * H * W, H, W, NULL, &err);
        if (st == PC_OK) {
            fprintf(stderr, "generated in %.1f s\n", pc_time_sec() - t0);
            st = save_outputs(out, video, o.T, H, W, &err);
        }
        if (st == PC_OK) {
            printf("wrote %s/frame_00.png .. frame_%02d.png (%dx%d) and %s/contact_sheet.png\n", out, o.T - 1, W, H,
                   out);
            rc = 0;
        }
    }
    if (st != PC_OK) fprintf(stderr, "posecrafter interp: %s\n", err.msg);
    free(x);
    free(video);
    for (int v = 0; v < 2; v++) {
        pc_image_free(&rgb[v]);
        pc_image_free(&crop[v]);
    }
    pc_diffusion_bundle_free(&bd);
    pc_pool_free(pool);
    return rc;
}
