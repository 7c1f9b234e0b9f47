// posecrafter pose A.jpg B.jpg [--models DIR] [-o OUT] [options]: the PoseCrafter pipeline end to end
// (include/posecrafter/pipeline.h, docs/PIPELINE.md). Progress per stage and per diffusion step on stderr;
// the pose as text (or JSON with --json) on stdout; all evidence and the stage cache in OUT.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: posecrafter pose A.jpg B.jpg [--models DIR] [-o OUT_DIR] [options]\n"
            "       posecrafter pose --list-models [--models DIR] [--viewcrafter V] [--no-hvg]\n"
            "       posecrafter pose --classical A.jpg B.jpg --K fx,fy,cx,cy [...]   (no models; --classical --help)\n\n"
            "Relative pose of B with respect to A by PoseCrafter: DynamiCrafter interpolation, DUSt3R on the relay\n"
            "frames, point-cloud renders along a camera path, ViewCrafter, Feature Matching Selector, DUSt3R +\n"
            "global alignment over A, B and the selected frames. Prints X_B = R X_A + t (t of unit norm).\n\n"
            "models (found in --models DIR or $POSECRAFTER_MODELS by their published names; a missing one is named):\n"
            "  --models DIR        folder with DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth (or .safetensors),\n"
            "                      dynamicrafter_512_interp_v1/model.ckpt, model_sparse.ckpt (ViewCrafter),\n"
            "                      bpe_simple_vocab_16e6.txt.gz; scripts/get_models.sh DIR downloads them\n"
            "  --list-models       print the file found for each model (or what is missing) and exit: 0 when\n"
            "                      all are there, 1 when one is missing\n"
            "  --viewcrafter V     sparse (default, model_sparse.ckpt 576x1024) | 25 (model.ckpt) | 512 (model_512.ckpt)\n"
            "  --dust3r F, --mast3r F, --interp-model F, --vc-model F, --vocab F   explicit files (the diffusion\n"
            "                      model flags may repeat for split checkpoints); --head-channels N,\n"
            "                      --clip-heads T,V,R for non-standard sizes\n"
            "  --backbone B        dust3r (default) | mast3r | mast3r-sparse: the model of the relay and final\n"
            "                      reconstructions; mast3r: its pointmaps through the dense global alignment,\n"
            "                      mast3r-sparse: MASt3R's sparse global alignment on its matches; both look for\n"
            "                      MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth (--mast3r F)\n"
            "output:\n"
            "  -o, --out DIR       evidence + stage cache (default: pose_<A>_<B>); --no-cache recomputes everything\n"
            "  --json              print the pose JSON (also written to OUT/pose.json)\n"
            "selection:\n"
            "  --selector S        fms (default) | scs (InterPose self-consistency) | all | conf (DUSt3R confidence)\n"
            "  --k N               frames to keep (6)      --fms-threshold S   minimum N_A + N_B (%d)\n"
            "  --scs-subsets M     subsets for scs (5)     --no-hvg            select among the DynamiCrafter frames\n"
            "generation:\n"
            "  --seed N (12306)    --steps N (50, both diffusions)   --interp-steps N   --vc-steps N   --cfg S (7.5)\n"
            "  --frames T (16)     --poses N (25)   --spacing total|per-segment (total: one ViewCrafter clip of N\n"
            "                      poses over the whole relay path; per-segment: N per relay pair, ViewCrafter's layout)\n"
            "  --size WxH (512x320) interpolation size   --vc-size WxH (from --viewcrafter)   --fit cover|pad\n"
            "  --prompt S          interpolation prompt (\"\")\n"
            "  --bf16              diffusion GEMMs and VAE convolutions with bf16 operands (faster on AVX512_BF16\n"
            "                      CPUs; not f32-exact)\n"
            "reconstruction:\n"
            "  --K-a fx,fy,cx,cy   known intrinsics of A in pixels of the file (after EXIF orientation): mapped\n"
            "  --K-b fx,fy,cx,cy   through the same resize + crop as the image and held fixed in the final global\n"
            "                      alignment (one focal: the mean of fx and fy); pose.json says which were fixed\n"
            "  --dust3r-size N (512)   --niter N (300)   --threads N (all CPUs)\n"
            "  --device auto|cpu|cuda  where DUSt3R runs (auto: a CUDA GPU when present); diffusion runs on the CPU\n",
            PC_FMS_DEFAULT_THRESHOLD);
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
    o.device = "auto";  // the CLI uses a GPU for DUSt3R when there is one
    pc_model_files mf;
    pc_model_files_default(&mf);
    const char *models_dir = getenv("POSECRAFTER_MODELS"), *out = NULL, *imgs[2] = {NULL, NULL};
    int nimg = 0, json = 0, list_models = 0, threads = 0, have_vc_size = 0, steps_i = -1, steps_v = -1;
    pc_vc_variant variant = PC_VC_SPARSE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has = i + 1 < argc;
        const char *v = has ? argv[i + 1] : "";
        long lv;
        int ok = 1, used = 1;
        int ch[3], w, h;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--list-models")) {
            list_models = 1, used = 0;
        } else if (!strcmp(a, "--json")) {
            json = 1, used = 0;
        } else if (!strcmp(a, "--no-hvg")) {
            o.hvg = 0, used = 0;
        } else if (!strcmp(a, "--no-cache")) {
            o.use_cache = 0, used = 0;
        } else if (!strcmp(a, "--bf16")) {
            o.diffusion_bf16 = 1, used = 0;
        } else if (!has && a[0] == '-' && a[1]) {
            fprintf(stderr, "posecrafter pose: %s needs a value (or is unknown)\n", a);
            return 2;
        } else if (!strcmp(a, "--models")) {
            models_dir = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--dust3r")) {
            mf.dust3r = v;
        } else if (!strcmp(a, "--interp-model") || !strcmp(a, "--vc-model")) {
            const int is_vc = !strcmp(a, "--vc-model");
            int *n = is_vc ? &mf.n_vc : &mf.n_interp;
            if (*n == PC_MAX_MODEL_PARTS) {
                fprintf(stderr, "posecrafter pose: at most %d files for %s\n", PC_MAX_MODEL_PARTS, a);
                return 2;
            }
            (is_vc ? mf.vc : mf.interp)[(*n)++] = v;
        } else if (!strcmp(a, "--vocab")) {
            mf.vocab = v;
        } else if (!strcmp(a, "--viewcrafter")) {
            ok = !strcmp(v, "sparse") || !strcmp(v, "25") || !strcmp(v, "512");
            variant = !strcmp(v, "25") ? PC_VC_25 : !strcmp(v, "512") ? PC_VC_512 : PC_VC_SPARSE;
        } else if (!strcmp(a, "--backbone")) {
            ok = !strcmp(v, "dust3r") || !strcmp(v, "mast3r") || !strcmp(v, "mast3r-sparse");
            o.backbone = !strcmp(v, "mast3r")          ? PC_BACKBONE_MAST3R
                         : !strcmp(v, "mast3r-sparse") ? PC_BACKBONE_MAST3R_SPARSE
                                                       : PC_BACKBONE_DUST3R;
            mf.want_mast3r = o.backbone != PC_BACKBONE_DUST3R;
        } else if (!strcmp(a, "--mast3r")) {
            mf.mast3r = v;
        } else if (!strcmp(a, "--selector")) {
            ok = 1;
            if (!strcmp(v, "fms")) o.selector = PC_SELECT_FMS;
            else if (!strcmp(v, "scs")) o.selector = PC_SELECT_SCS;
            else if (!strcmp(v, "all")) o.selector = PC_SELECT_ALL;
            else if (!strcmp(v, "conf")) o.selector = PC_SELECT_CONF;
            else ok = 0;
        } else if (!strcmp(a, "--k")) {
            ok = pc_cli_parse_long(v, 1, 256, &lv), o.k = (int)lv;
        } else if (!strcmp(a, "--fms-threshold")) {
            ok = pc_cli_parse_long(v, 0, 100000, &lv), o.fms_threshold = (int)lv;
        } else if (!strcmp(a, "--scs-subsets")) {
            ok = pc_cli_parse_long(v, 2, 64, &lv), o.scs_subsets = (int)lv;
        } else if (!strcmp(a, "--seed")) {
            ok = pc_cli_parse_long(v, 0, 0x7fffffffL, &lv), o.seed = (uint64_t)lv;
        } else if (!strcmp(a, "--steps")) {
            ok = pc_cli_parse_long(v, 1, 1000, &lv), steps_i = steps_v = (int)lv;
        } else if (!strcmp(a, "--interp-steps")) {
            ok = pc_cli_parse_long(v, 1, 1000, &lv), steps_i = (int)lv;
        } else if (!strcmp(a, "--vc-steps")) {
            ok = pc_cli_parse_long(v, 1, 1000, &lv), steps_v = (int)lv;
        } else if (!strcmp(a, "--cfg")) {
            char *end;
            const double c = strtod(v, &end);
            ok = end != v && !*end && c >= 0 && c <= 100;
            o.interp.ddim.cfg_scale = o.vc.ddim.cfg_scale = (float)c;
        } else if (!strcmp(a, "--frames")) {
            ok = pc_cli_parse_long(v, 4, 256, &lv) && lv % 2 == 0, o.interp.T = (int)lv;
        } else if (!strcmp(a, "--poses")) {
            ok = pc_cli_parse_long(v, 2, 256, &lv), o.traj.n = (int)lv;
        } else if (!strcmp(a, "--spacing")) {
            ok = !strcmp(v, "total") || !strcmp(v, "per-segment");
            o.traj.spacing = !strcmp(v, "per-segment") ? PC_TRAJ_PER_SEGMENT : PC_TRAJ_TOTAL;
        } else if (!strcmp(a, "--size") || !strcmp(a, "--vc-size")) {
            ok = sscanf(v, "%dx%d", &w, &h) == 2 && w >= 16 && h >= 16 && w <= 4096 && h <= 4096;
            if (!strcmp(a, "--size")) o.W = w, o.H = h;
            else mf.vc_W = w, mf.vc_H = h, have_vc_size = 1;
        } else if (!strcmp(a, "--fit")) {
            ok = !strcmp(v, "cover") || !strcmp(v, "pad");
            o.cover = !strcmp(v, "cover");
        } else if (!strcmp(a, "--prompt")) {
            o.interp.prompt = v;
        } else if (!strcmp(a, "--device")) {
            ok = !strcmp(v, "cpu") || !strcmp(v, "cuda") || !strcmp(v, "auto");
            o.device = v;
        } else if (!strcmp(a, "--dust3r-size")) {
            ok = pc_cli_parse_long(v, 32, 2048, &lv) && lv % 16 == 0, o.dust3r_size = (int)lv;
        } else if (!strcmp(a, "--niter")) {
            ok = pc_cli_parse_long(v, 0, 100000, &lv), o.ga.niter = (int)lv;
        } else if (!strcmp(a, "--threads")) {
            ok = pc_cli_parse_long(v, 0, 1024, &lv), threads = (int)lv;
        } else if (!strcmp(a, "--head-channels")) {
            ok = pc_cli_parse_long(v, 1, 4096, &lv), mf.ucfg.num_head_channels = (int)lv;
        } else if (!strcmp(a, "--K-a") || !strcmp(a, "--K-b")) {
            pc_intrinsics *K = &o.K[a[4] == 'b'];
            ok = pc_cli_parse_K(v, K);
        } else if (!strcmp(a, "--clip-heads")) {
            ok = sscanf(v, "%d,%d,%d", &ch[0], &ch[1], &ch[2]) == 3 && ch[0] > 0 && ch[1] > 0 && ch[2] > 0;
            mf.ccfg.text_heads = ch[0], mf.ccfg.vision_heads = ch[1], mf.ccfg.resampler_heads = ch[2];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "posecrafter pose: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else {
            used = 0;
            if (nimg == 2) {
                fprintf(stderr, "posecrafter pose: more than two images ('%s')\n", a);
                return 2;
            }
            imgs[nimg++] = a;
        }
        if (!ok) {
            fprintf(stderr, "posecrafter pose: bad value '%s' for %s\n", v, a);
            return 2;
        }
        i += used;
    }
    if (nimg != 2 && !list_models) {
        usage(stderr);
        return 2;
    }
    if (steps_i > 0) o.interp.steps = steps_i;
    if (steps_v > 0) o.vc.steps = steps_v;
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
