// posecrafter pose A.jpg B.jpg [--models DIR] [-o OUT] [options]: the PoseCrafter pipeline end to end
// (include/posecrafter/pipeline.h, docs/PIPELINE.md). Progress per stage and per diffusion step on stderr;
// the pose as text (or JSON with --json) on stdout; all evidence and the stage cache in OUT.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static const char usage_text[] =
    "usage: posecrafter pose A.jpg B.jpg [--models DIR] [-o OUT_DIR] [options]\n"
    "       posecrafter pose --list-models [--models DIR] [--viewcrafter V] [--no-hvg]\n"
    "       posecrafter pose --classical A.jpg B.jpg --K fx,fy,cx,cy [...]   (no models; --classical --help)\n\n"
    "Relative pose of B with respect to A by PoseCrafter: DynamiCrafter interpolation, DUSt3R on the relay\n"
    "frames, point-cloud renders along a camera path, ViewCrafter, Feature Matching Selector, DUSt3R +\n"
    "global alignment over A, B and the selected frames. Prints X_B = R X_A + t (t of unit norm).\n\n";

// --steps N sets both diffusions' steps, in command-line order with --interp-steps / --vc-steps
typedef struct {
    int *a, *b;
} two_ints;
static int set_both_steps(void *ctx, const char *v) {
    long x;
    if (!pc_cli_parse_long(v, 1, 1000, &x)) return 0;
    *((two_ints *)ctx)->a = *((two_ints *)ctx)->b = (int)x;
    return 1;
}
typedef struct {
    float *a, *b;
} two_floats;
static int set_both_cfg(void *ctx, const char *v) {
    double x;
    if (!pc_cli_parse_double(v, 0.0, 100.0, &x)) return 0;
    *((two_floats *)ctx)->a = *((two_floats *)ctx)->b = (float)x;
    return 1;
}

typedef struct {
    double base;     // stage time when the current step sequence started
    int in_steps;
} progress_t;


static void on_event(void *vctx, const pc_pipeline_event *ev) {
    progress_t *p = (progress_t *)vctx;
    if (ev->msg) {
        if (p->in_steps) fputc('\n', stderr);
        p->in_steps = 0;
        p->base = ev->stage_elapsed_s;
        if (ev->cached)
            fprintf(stderr, "[%d/%d %s] loaded from the stage cache\n", ev->stage, ev->n_stages, ev->name);
        else if (ev->done)
            fprintf(stderr, "[%d/%d %s] %s (%.1f s)\n", ev->stage, ev->n_stages, ev->name, ev->msg, ev->stage_elapsed_s);
        else
            fprintf(stderr, "[%d/%d %s] %s ...\n", ev->stage, ev->n_stages, ev->name, ev->msg);
        fflush(stderr);
        return;
    }
    if (ev->n_steps <= 0) return;
    const int W = 30, fill = ev->step * W / ev->n_steps;
    char bar[64], el[32], eta[32];
    for (int k = 0; k < W; k++) bar[k] = k < fill ? '#' : '-';
    bar[W] = 0;
    const double run = ev->stage_elapsed_s - p->base, per = ev->step > 0 ? run / ev->step : 0;
    pc_cli_fmt_time(el, sizeof(el), run);
    pc_cli_fmt_time(eta, sizeof(eta), per * (ev->n_steps - ev->step));
    fprintf(stderr, "\r    [%s] %d/%d %.1f s/step elapsed %s ETA %s   ", bar, ev->step, ev->n_steps, per, el, eta);
    p->in_steps = 1;
    fflush(stderr);
}


static void stem(char *out, size_t cap, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

int pc_cmd_pose_pipeline(int argc, char **argv) {
    pc_pipeline_opts o;
    pc_pipeline_opts_default(&o);
    pc_model_files mf;
    pc_model_files_default(&mf);
    const char *models_dir = getenv("POSECRAFTER_MODELS"), *out = NULL;
    int json = 0, list_models = 0, threads = 0, have_vc_size = 0, dev = 2;
    int steps_i = o.interp.steps, steps_v = o.vc.steps;
    int size[2] = {o.W, o.H}, vc_size[2] = {1024, 576};
    int variant = PC_VC_SPARSE, backbone = o.backbone, selector = o.selector, spacing = o.traj.spacing;
    int hvg = o.hvg, use_cache = o.use_cache, bf16 = o.diffusion_bf16, cover = o.cover;
    static const char *const vc_names[] = {"sparse", "25", "512", NULL};
    static const int vc_values[] = {PC_VC_SPARSE, PC_VC_25, PC_VC_512};
    static const char *const bb_names[] = {"dust3r", "mast3r", "mast3r-sparse", NULL};
    static const int bb_values[] = {PC_BACKBONE_DUST3R, PC_BACKBONE_MAST3R, PC_BACKBONE_MAST3R_SPARSE};
    static const char *const sel_names[] = {"fms", "scs", "all", "conf", NULL};
    static const int sel_values[] = {PC_SELECT_FMS, PC_SELECT_SCS, PC_SELECT_ALL, PC_SELECT_CONF};
    static const char *const sp_names[] = {"total", "per-segment", NULL};
    static const int sp_values[] = {PC_TRAJ_TOTAL, PC_TRAJ_PER_SEGMENT};
    static const char *const fit_names[] = {"cover", "pad", NULL};
    static const int fit_values[] = {1, 0};
    static const char *const dev_names[] = {"cpu", "cuda", "auto", "emu", NULL};
    two_ints steps = {&steps_i, &steps_v};
    two_floats cfg = {&o.interp.ddim.cfg_scale, &o.vc.ddim.cfg_scale};
    const pc_opt opts[] = {
        PC_OPT_GROUP("models (found in --models DIR or $POSECRAFTER_MODELS by their published names; a missing one is named):"),
        PC_OPT_STRING(0, "models", &models_dir, "DIR",
                      "folder with DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth (or .safetensors),\n"
                      "dynamicrafter_512_interp_v1/model.ckpt, model_sparse.ckpt (ViewCrafter),\n"
                      "bpe_simple_vocab_16e6.txt.gz; scripts/get_models.sh DIR downloads them"),
        PC_OPT_FLAG(0, "list-models", &list_models,
                    "print the file found for each model (or what is missing) and exit: 0 when\n"
                    "all are there, 1 when one is missing"),
        PC_OPT_CHOICE(0, "viewcrafter", &variant, vc_names, vc_values, "V",
                      "sparse (model_sparse.ckpt 576x1024) | 25 (model.ckpt) | 512 (model_512.ckpt)"),
        PC_OPT_STRING(0, "dust3r", &mf.dust3r, "F", "explicit DUSt3R checkpoint"),
        PC_OPT_STRING(0, "mast3r", &mf.mast3r, "F", "explicit MASt3R checkpoint"),
        PC_OPT_STRINGS(0, "interp-model", mf.interp, &mf.n_interp, PC_MAX_MODEL_PARTS, "F",
                       "explicit DynamiCrafter checkpoint (repeat for split checkpoints)"),
        PC_OPT_STRINGS(0, "vc-model", mf.vc, &mf.n_vc, PC_MAX_MODEL_PARTS, "F",
                       "explicit ViewCrafter checkpoint (repeat for split checkpoints)"),
        PC_OPT_STRING(0, "vocab", &mf.vocab, "F", "explicit CLIP BPE vocabulary"),
        PC_OPT_INT(0, "head-channels", &mf.ucfg.num_head_channels, 1, 4096, "N", "UNet attention head size, for non-standard models"),
        PC_OPT_CALLBACK(0, "clip-heads", pc_cli_opt_clip_heads, &mf.ccfg, "T,V,R", "three positive whole numbers T,V,R",
                        "CLIP text, vision and resampler heads, for non-standard models"),
        PC_OPT_CHOICE(0, "backbone", &backbone, bb_names, bb_values, "B",
                      "the model of the relay and final reconstructions; mast3r: its pointmaps\n"
                      "through the dense global alignment, mast3r-sparse: MASt3R's sparse global\n"
                      "alignment on its matches; both look for\n"
                      "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth (--mast3r F)"),
        PC_OPT_GROUP("output:"),
        PC_OPT_STRING('o', "out", &out, "DIR", "evidence + stage cache (default: pose_<A>_<B>)"),
        PC_OPT_SET(0, "no-cache", &use_cache, 0, "recompute every stage"),
        PC_OPT_FLAG(0, "json", &json, "print the pose JSON (also written to OUT/pose.json)"),
        PC_OPT_GROUP("selection:"),
        PC_OPT_CHOICE(0, "selector", &selector, sel_names, sel_values, "S",
                      "fms | scs (InterPose self-consistency) | all | conf (DUSt3R confidence)"),
        PC_OPT_INT(0, "k", &o.k, 1, 256, "N", "frames to keep"),
        PC_OPT_INT(0, "fms-threshold", &o.fms_threshold, 0, 100000, "S", "minimum N_A + N_B"),
        PC_OPT_INT(0, "scs-subsets", &o.scs_subsets, 2, 64, "M", "subsets for scs"),
        PC_OPT_SET(0, "no-hvg", &hvg, 0, "select among the DynamiCrafter frames (no ViewCrafter)"),
        PC_OPT_GROUP("generation:"),
        PC_OPT_U64(0, "seed", &o.seed, 0, 0x7fffffff, "N", "seed of both diffusions"),
        PC_OPT_CALLBACK(0, "steps", set_both_steps, &steps, "N", "a whole number in [1, 1000]",
                        "DDIM steps of both diffusions"),
        PC_OPT_INT(0, "interp-steps", &steps_i, 1, 1000, "N", "DDIM steps of the interpolation"),
        PC_OPT_INT(0, "vc-steps", &steps_v, 1, 1000, "N", "DDIM steps of ViewCrafter"),
        PC_OPT_CALLBACK(0, "cfg", set_both_cfg, &cfg, "S", "a number in [0, 100]", "classifier-free guidance scale (7.5)"),
        PC_OPT_INT_MULT(0, "frames", &o.interp.T, 4, 256, 2, "T", "interpolation frames"),
        PC_OPT_INT(0, "poses", &o.traj.n, 2, 256, "N", "ViewCrafter poses"),
        PC_OPT_CHOICE(0, "spacing", &spacing, sp_names, sp_values, "S",
                      "total: one ViewCrafter clip of N poses over the whole relay path;\n"
                      "per-segment: N per relay pair, ViewCrafter's layout"),
        PC_OPT_SIZE(0, "size", size, 16, 4096, "interpolation size"),
        PC_OPT_SIZE_SEEN(0, "vc-size", vc_size, 16, 4096, &have_vc_size, "ViewCrafter size (default: from --viewcrafter)"),
        PC_OPT_CHOICE(0, "fit", &cover, fit_names, fit_values, "F", "cover (centre crop) | pad"),
        PC_OPT_STRING(0, "prompt", &o.interp.prompt, "S", "interpolation prompt"),
        PC_OPT_FLAG(0, "bf16", &bf16,
                    "diffusion GEMMs and VAE convolutions with bf16 operands (faster on\n"
                    "AVX512_BF16 CPUs; not f32-exact)"),
        PC_OPT_GROUP("reconstruction:"),
        PC_OPT_CALLBACK(0, "K-a", pc_cli_opt_K, &o.K[0], "fx,fy,cx,cy", "fx,fy,cx,cy in pixels with fx, fy > 0",
                        "known intrinsics of A in pixels of the file (after EXIF orientation): mapped\n"
                        "through the same resize + crop as the image and held fixed in the final global\n"
                        "alignment (one focal: the mean of fx and fy); pose.json says which were fixed"),
        PC_OPT_CALLBACK(0, "K-b", pc_cli_opt_K, &o.K[1], "fx,fy,cx,cy", "fx,fy,cx,cy in pixels with fx, fy > 0",
                        "known intrinsics of B, as --K-a"),
        PC_OPT_INT_MULT(0, "dust3r-size", &o.dust3r_size, 32, 2048, 16, "N", "DUSt3R input size"),
        PC_OPT_INT(0, "niter", &o.ga.niter, 0, 100000, "N", "global alignment iterations"),
        PC_OPT_INT(0, "threads", &threads, 0, 1024, "N", "worker threads (0: all CPUs)"),
        PC_OPT_CHOICE(0, "device", &dev, dev_names, NULL, "D",
                      "where DUSt3R runs (auto: a CUDA GPU when present); diffusion runs on the CPU"),
        PC_OPT_END(),
    };
    const char *imgs[2] = {NULL, NULL};
    int nimg = 0;
    const pc_opts_cmd cmd = {"pose", usage_text, imgs, 2, &nimg, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    o.backbone = (pc_backbone)backbone;
    mf.want_mast3r = o.backbone != PC_BACKBONE_DUST3R;
    o.selector = (pc_selector)selector;
    o.traj.spacing = spacing;
    o.hvg = hvg, o.use_cache = use_cache, o.diffusion_bf16 = bf16, o.cover = cover;
    o.W = size[0], o.H = size[1];
    o.device = dev_names[dev];
    if (have_vc_size) mf.vc_W = vc_size[0], mf.vc_H = vc_size[1];
    if (nimg != 2 && !list_models) {
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    o.interp.steps = steps_i;
    o.vc.steps = steps_v;
    const int keep_W = mf.vc_W, keep_H = mf.vc_H;
    pc_error err;
    memset(&err, 0, sizeof(err));
    if (pc_model_files_find(&mf, models_dir, variant, o.hvg, &err) != PC_OK) {
        fprintf(stderr, "posecrafter pose: %s\n(without models: posecrafter pose --classical A B --K fx,fy,cx,cy)\n",
                err.msg);
        return 1;
    }
    if (list_models) {
        if (mf.want_mast3r) printf("mast3r: %s\n", mf.mast3r);
        else printf("dust3r: %s\n", mf.dust3r);
        for (int i = 0; i < mf.n_interp; i++) printf("dynamicrafter: %s\n", mf.interp[i]);
        for (int i = 0; o.hvg && i < mf.n_vc; i++) printf("viewcrafter: %s\n", mf.vc[i]);
        printf("vocab: %s\n", mf.vocab);
        return 0;
    }
    if (have_vc_size) mf.vc_W = keep_W, mf.vc_H = keep_H;
    char out_buf[1024];
    if (!out) {
        char sa[256], sb[256];
        stem(sa, sizeof(sa), imgs[0]);
        stem(sb, sizeof(sb), imgs[1]);
        snprintf(out_buf, sizeof(out_buf), "pose_%s_%s", sa, sb);
        out = out_buf;
    }
    o.out_dir = out;
    progress_t prog = {0, 0};
    o.on_event = on_event;
    o.on_event_ctx = &prog;
    pc_image A = {0}, B = {0};
    pc_pool *pool = NULL;
    pc_pipeline_result r;
    memset(&r, 0, sizeof(r));
    int rc = 1;
    pc_status st = pc_image_load(&A, imgs[0], &err);
    if (st == PC_OK) st = pc_image_load(&B, imgs[1], &err);
    if (st == PC_OK) st = pc_pool_create(&pool, threads, &err);
    if (st == PC_OK) {
        fprintf(stderr,
                "posecrafter pose: %s (%dx%d) -> %s (%dx%d); %d threads; output %s\n"
                "  %s %s\n  DynamiCrafter %s%s\n  ViewCrafter %s%s (%dx%d)\n",
                imgs[0], A.w, A.h, imgs[1], B.w, B.h, pc_pool_size(pool), out, pc_backbone_name(o.backbone),
                mf.want_mast3r ? mf.mast3r : mf.dust3r, mf.interp[0],
                mf.n_interp > 1 ? " (+ parts)" : "", o.hvg ? mf.vc[0] : "(off: --no-hvg)",
                o.hvg && mf.n_vc > 1 ? " (+ parts)" : "", mf.vc_W, mf.vc_H);
        st = pc_pipeline_run(&r, &mf, &o, &A, &B, pool, &err);
    }
    if (st == PC_OK) {
        if (json) {
            st = pc_pipeline_write_json(NULL, &r, &o, &err);
        } else {
            printf("PoseCrafter pose (X_B = R X_A + t), selector %s: %d of %d %s frames\n", pc_selector_name(o.selector),
                   r.n_selected, r.n_candidates, r.candidates_from);
            for (int i = 0; i < 3; i++)
                printf("R[%d] = % .6f % .6f % .6f\n", i, r.R[3 * i], r.R[3 * i + 1], r.R[3 * i + 2]);
            printf("t    = % .6f % .6f % .6f\n", r.t[0], r.t[1], r.t[2]);
            printf("K_A  = fx %.2f fy %.2f cx %.2f cy %.2f   K_B = fx %.2f fy %.2f cx %.2f cy %.2f\n", r.fx[0], r.fy[0],
                   r.cx[0], r.cy[0], r.fx[1], r.fy[1], r.cx[1], r.cy[1]);
        }
        fprintf(stderr, "total %.1f s, peak memory %.2f GiB; evidence in %s/ (pose.json, contact_sheet.png)\n",
                r.total_s, (double)r.peak_rss / (1024.0 * 1024 * 1024), out);
        rc = st == PC_OK ? 0 : 1;
    }
    if (st != PC_OK) fprintf(stderr, "posecrafter pose: %s\n", err.msg);
    pc_pipeline_result_free(&r);
    pc_pool_free(pool);
    pc_image_free(&A);
    pc_image_free(&B);
    return rc;
}
