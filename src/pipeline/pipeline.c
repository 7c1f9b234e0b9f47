// The PoseCrafter pipeline (paper §3): interpolation -> relay reconstruction -> trajectory + render ->
// ViewCrafter -> frame selection -> final DUSt3R + global alignment. See include/posecrafter/pipeline.h.
//
// Frames travel between stages as 8-bit RGB (what upstream saves and reloads between its scripts, and what
// the PNG stage cache holds), so a resumed run computes exactly what a fresh one does.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"
#include "pipeline/pipeline_internal.h"
#include "posecrafter/eval.h"

enum { ST_PREPARE = 1, ST_INTERP, ST_RELAY, ST_RENDER, ST_HVG, ST_SELECT, ST_POSE };
static const char *const stage_names[PC_PIPELINE_STAGES + 1] = {"",      "prepare", "interp", "relay",
                                                                "render", "hvg",     "select", "pose"};

void pc_pipeline_opts_default(pc_pipeline_opts *o) {
    memset(o, 0, sizeof(*o));
    o->W = 512;
    o->H = 320;
    o->cover = 1;
    pc_interp_opts_default(&o->interp);
    o->dust3r_size = 512;
    pc_align_opts_default(&o->ga);
    o->ga.niter = 300;
    o->ga.lr = 0.01;
    o->ga.schedule = PC_ALIGN_LINEAR;  // ViewCrafter: schedule 'linear'
    o->ga.min_conf_thr = 3;
    o->traj = pc_traj_default();
    pc_viewcrafter_opts_default(&o->vc);
    o->hvg = 1;
    o->selector = PC_SELECT_FMS;
    o->k = 6;
    o->fms_threshold = PC_FMS_DEFAULT_THRESHOLD;
    o->scs_subsets = 5;
    pc_sga_opts_default(&o->sga);
    o->sga.matching_conf_thr = 0;  // mast3r's demo
    o->seed = 12306;
    o->use_cache = 1;
}

void pc_pipeline_result_free(pc_pipeline_result *r) {
    if (!r) return;
    free(r->selected);
    free(r->scores);
    r->selected = NULL;
    r->scores = NULL;
}

// ---- run state -------------------------------------------------------------------------------------------

typedef struct {
    const pc_pipeline_opts *o;
    const pc_model_files *mf;
    pc_pool *pool;
    pc_pipeline_result *res;
    int stage;
    double t_stage, t_start;
    const char *dir;                // the output folder, NULL: none (nothing is read or written)
    pc_image a, b;                  // prepared inputs (H, W, 3)
    pc_image a_rgb, b_rgb;          // the inputs as given, RGB
    pc_image *interp;               // (T) interpolation frames
    int T;
    pc_camera relay_cam[4];         // relay cameras at the DUSt3R working size
    int relay_W, relay_H;           // DUSt3R working size of the relay frames
    pc_image relay_img[4];          // relay frames cropped to the ViewCrafter aspect
    float *cloud;                   // (P, 6) xyz + rgb in [0, 1]
    int64_t P;
    pc_image *renders;              // (Tv) renders at the ViewCrafter size (evidence)
    pc_image *hvg;                  // (Tv) ViewCrafter frames
    int Tv;
    uint64_t key_interp, key_relay;  // each stage's key enters the next one's
    pc_dust3r *dust3r;              // loaded once for stages 3 and 6/7
} run_t;

static void emit_ex(run_t *r, const char *msg, int step, int n_steps, int cached, int done) {
    if (!r->o->on_event) return;
    pc_pipeline_event ev = {r->stage, PC_PIPELINE_STAGES, stage_names[r->stage], msg, step, n_steps,
                            pc_time_sec() - r->t_stage, cached, done};
    r->o->on_event(r->o->on_event_ctx, &ev);
}

static void emit(run_t *r, const char *msg, int step, int n_steps, int cached) {
    emit_ex(r, msg, step, n_steps, cached, 0);
}

static void stage_begin(run_t *r, int stage, const char *msg) {
    r->stage = stage;
    r->t_stage = pc_time_sec();
    emit(r, msg, 0, 0, 0);
}

static void stage_end(run_t *r, int cached, const char *msg) {
    pc_pipeline_stage_time *s = &r->res->stages[r->stage - 1];
    s->name = stage_names[r->stage];
    s->seconds = pc_time_sec() - r->t_stage;
    s->cached = cached;
    emit_ex(r, msg, 0, 0, cached, 1);
}

static int on_ddim_step(void *ctx, const pc_ddim_step_info *info) {
    emit((run_t *)ctx, NULL, info->i + 1, info->S, 0);
    return 0;
}

// OUT/name (malloc), or NULL when out of memory
static char *out_path(const run_t *r, const char *name) { return pc_path_join(r->dir, name); }

// pc_image_save_png to a path made by pc_path_join
static pc_status save_png(const pc_image *img, const char *dir, const char *name, pc_error *err) {
    char *p = pc_path_join(dir, name);
    pc_status st = p ? pc_image_save_png(img, p, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
    free(p);
    return st;
}

static void free_frames(pc_image *f, int n) {
    if (!f) return;
    for (int i = 0; i < n; i++) pc_image_free(&f[i]);
    free(f);
}

// video (3, T, H, W) in about [-1, 1] -> T RGB frames (save_results' clamp and truncation)
static pc_status video_to_frames(pc_image *frames, const float *video, int T, int H, int W, pc_error *err) {
    for (int t = 0; t < T; t++) {
        pc_status st = pc_image_alloc(&frames[t], W, H, 3, err);
        if (st != PC_OK) return st;
        pc_interp_frame_to_u8(frames[t].data, video, T, t, H, W);
    }
    return PC_OK;
}

// The reconstruction backbone's checkpoint (DUSt3R or MASt3R: one model type, pc_dust3r).
static const char *recon_file(const run_t *r) {
    return r->o->backbone != PC_BACKBONE_DUST3R ? r->mf->mast3r : r->mf->dust3r;
}

// Confidence a point of a reconstruction needs to enter the rendered cloud and the PLY: min_conf_thr (3) of
// the dense alignment's per-pixel confidence, or for the sparse one mast3r's demo default 1.5 on its
// canonical confidence (sum (C - 0.999)^2 / sum (C - 0.999), about one less than C).
static float cloud_thr(const run_t *r) { return r->o->backbone == PC_BACKBONE_MAST3R_SPARSE ? 1.5f : r->o->ga.min_conf_thr; }

// One reconstruction of this run: DUSt3R / MASt3R + the dense global alignment, or MASt3R's sparse one.
static pc_status recon(run_t *r, pc_recon *rc, const pc_image *views, int n, const pc_intrinsics *known,
                       pc_error *err) {
    if (r->o->backbone == PC_BACKBONE_MAST3R_SPARSE)
        return pc_recon_run_sparse(rc, r->dust3r, r->pool, views, n, r->o->dust3r_size, &r->o->sga, known, err);
    return pc_recon_run(rc, r->dust3r, r->pool, views, n, r->o->dust3r_size, NULL, &r->o->ga, known, err);
}

static pc_status load_dust3r(run_t *r, pc_error *err) {
    if (r->dust3r) return PC_OK;
    const char *name = pc_backbone_name(r->o->backbone);
    char msg0[64];
    snprintf(msg0, sizeof(msg0), "loading %s", name);
    emit(r, msg0, 0, 0, 0);
    pc_status st = pc_dust3r_load(&r->dust3r, recon_file(r), r->pool, err);
    const int want_m = r->o->backbone != PC_BACKBONE_DUST3R;
    if (st == PC_OK && want_m != pc_dust3r_has_desc(r->dust3r))
        st = pc_err(err, PC_ERR_ARG, "%s is a %s checkpoint, not %s (--backbone %s)", recon_file(r),
                    pc_dust3r_has_desc(r->dust3r) ? "MASt3R" : "DUSt3R", want_m ? "MASt3R" : "DUSt3R",
                    r->o->backbone == PC_BACKBONE_MAST3R ? "mast3r"
                                                          : r->o->backbone == PC_BACKBONE_MAST3R_SPARSE ? "mast3r-sparse"
                                                                                                       : "dust3r");
    if (st != PC_OK) {
        pc_dust3r_free(r->dust3r);
        r->dust3r = NULL;
        pc_err_prefix(err, st, "%s model: ", name);
        return st;
    }
    pc_dust3r_set_desc_output(r->dust3r, 0);  // the dense alignment reads pointmaps and confidences only
    if (r->o->device && strcmp(r->o->device, "cpu")) {
        pc_error e2;
        memset(&e2, 0, sizeof(e2));
        st = pc_dust3r_set_device(r->dust3r, r->o->device, &e2);
        if (st != PC_OK) return pc_err(err, st, "%s device '%s': %s", name, r->o->device, e2.msg);
        char msg[1200];
        snprintf(msg, sizeof(msg), "%s runs on the %s%s%s", name, pc_dust3r_get_device(r->dust3r), e2.msg[0] ? ": " : "",
                 e2.msg);
        emit(r, msg, 0, 0, 0);
    }
    return PC_OK;
}

// A DynamiCrafter-family model set of this run (interp or ViewCrafter files), bound zero-copy.
static pc_status bundle_load(const run_t *r, pc_diffusion_bundle *bd, const char *const *files, int n,
                             pc_error *err) {
    return pc_diffusion_bundle_load(bd, files, n, r->mf->vocab, &r->mf->ucfg, &r->mf->ccfg, 0.18215, r->pool, err);
}

// Model set for a diffusion stage. With diffusion_bf16, its GEMMs (the pool switch) and VAE convolutions run
// in bf16 until diffusion_end, which restores the pool's setting (*bf16_was) and frees the models.
static pc_status diffusion_begin(run_t *r, const char *what, pc_diffusion_bundle *bd, const char *const *files, int n,
                                 int *bf16_was, pc_error *err) {
    emit(r, what, 0, 0, 0);
    *bf16_was = pc_pool_gemm_bf16(r->pool);
    pc_status st = bundle_load(r, bd, files, n, err);
    if (st != PC_OK || !r->o->diffusion_bf16) return st;
    pc_pool_set_gemm_bf16(r->pool, 1);
    if (pc_vae_set_compute(bd->m.vae, PC_BF16) != PC_OK) st = pc_err(err, PC_ERR_UNSUPPORTED, "VAE: bf16 compute refused");
    return st;
}

static void diffusion_end(run_t *r, pc_diffusion_bundle *bd, int bf16_was) {
    pc_pool_set_gemm_bf16(r->pool, bf16_was);
    pc_diffusion_bundle_free(bd);
}

// Bind every model once before any work (zero-copy, well under a second even for the 10 GB checkpoints), so a
// wrong or incomplete file fails now, not after an hour of diffusion. DUSt3R stays loaded (its weights are
// read from the memory map only when used).
static pc_status check_models(run_t *r, pc_error *err) {
    emit(r, "checking the model files", 0, 0, 0);
    pc_status st = load_dust3r(r, err);
    for (int v = 0; v < 1 + r->o->hvg && st == PC_OK; v++) {
        pc_diffusion_bundle bd;
        st = bundle_load(r, &bd, v ? r->mf->vc : r->mf->interp, v ? r->mf->n_vc : r->mf->n_interp, err);
        if (st == PC_OK) pc_diffusion_bundle_free(&bd);
        else pc_err_prefix(err, st, "%s model: ", v ? "ViewCrafter" : "DynamiCrafter");
    }
    return st;
}

// ---- stage 1: prepare ------------------------------------------------------------------------------------

static pc_status stage_prepare(run_t *r, const pc_image *A, const pc_image *B, pc_error *err) {
    stage_begin(r, ST_PREPARE, "resize + centre crop of A and B, model check");
    const pc_pipeline_opts *o = r->o;
    pc_status st = pc_image_to_rgb(&r->a_rgb, A, err);
    if (st == PC_OK) st = pc_image_to_rgb(&r->b_rgb, B, err);
    if (st == PC_OK) st = pc_interp_preprocess(&r->a, NULL, &r->a_rgb, o->H, o->W, o->cover, err);
    if (st == PC_OK) st = pc_interp_preprocess(&r->b, NULL, &r->b_rgb, o->H, o->W, o->cover, err);
    if (st == PC_OK && r->dir) {
        char *d = out_path(r, "inputs");
        st = d ? pc_pipe_mkdir(d, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        if (st == PC_OK) st = save_png(&r->a, d, "A.png", err);
        if (st == PC_OK) st = save_png(&r->b, d, "B.png", err);
        free(d);
    }
    if (st == PC_OK) st = check_models(r, err);
    if (st == PC_OK) stage_end(r, 0, "done");
    return st;
}

// ---- stage 2: DynamiCrafter interpolation ----------------------------------------------------------------

// The part of a diffusion stage's key that both diffusion stages share: sampler options, seed, schedule
// (field by field: the structs have padding), head sizes and the identity of the model files.
static pc_status key_diffusion(pc_stage *sg, const run_t *r, int steps, double eta, int spacing, int64_t fs,
                               const char *prompt, const pc_ddim_sample_opts *d, const pc_ddpm_config *sc,
                               const char *const *files, int n, pc_error *err) {
    const pc_model_files *mf = r->mf;
    const pc_key_field f[] = {
        PC_KEY_I("steps", steps),
        PC_KEY_D("eta", eta),
        PC_KEY_I("timestep spacing", spacing),
        PC_KEY_I("frame stride", fs),
        PC_KEY_S("prompt", prompt),
        PC_KEY_D("cfg scale", d->cfg_scale),
        PC_KEY_D("guidance rescale", d->guidance_rescale),
        PC_KEY_I("v-parametrisation", d->v_param),
        PC_KEY_I("sampler seed", d->seed),
        PC_KEY_I("seed", r->o->seed),
        PC_KEY_I("bf16", r->o->diffusion_bf16),
        PC_KEY_I("schedule timesteps", sc->timesteps),
        PC_KEY_D("schedule linear start", sc->linear_start),
        PC_KEY_D("schedule linear end", sc->linear_end),
        PC_KEY_I("schedule zero-SNR rescale", sc->rescale_zero_snr),
        PC_KEY_I("schedule dynamic rescale", sc->use_dynamic_rescale),
        PC_KEY_D("schedule base scale", sc->base_scale),
        PC_KEY_I("schedule turning step", sc->turning_step),
        PC_KEY_I("unet head channels", mf->ucfg.num_head_channels),
        PC_KEY_I("clip heads", mf->ccfg.text_heads * 1000000 + mf->ccfg.vision_heads * 1000 + mf->ccfg.resampler_heads),
    };
    pc_status st = pc_stage_key_add(sg, f, (int)PC_ARRAY_LEN(f), err);
    for (int i = 0; i < n && st == PC_OK; i++) {
        const pc_key_field ff = PC_KEY_F("model file", files[i]);
        st = pc_stage_key_add(sg, &ff, 1, err);
    }
    return st;
}

// 1 when the stage holds its finished frames (loaded into frames); else 0, frames zeroed.
static int cached_frames(const pc_stage *sg, pc_image *frames, int n, int W, int H) {
    if (!pc_stage_cached(sg)) return 0;
    pc_error e2;
    if (pc_frames_load(frames, n, sg->dir, "frame", W, H, &e2) == PC_OK) return 1;
    memset(frames, 0, sizeof(pc_image) * (size_t)n);
    return 0;
}

// A frame stage (interp, hvg) once its key is built (*st: how that went): allocates the n frames, then
// either loads them from the cache (returns 1: the stage is done and closed) or clears the folder for a
// fresh run (returns 0; on failure *st is set and the stage closed).
static int frames_from_cache(run_t *r, pc_stage *sg, pc_image **frames, int n, int W, int H, pc_status *st,
                             pc_error *err) {
    if (*st == PC_OK) {
        *frames = (pc_image *)calloc((size_t)n, sizeof(pc_image));
        if (!*frames) *st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    if (*st == PC_OK && cached_frames(sg, *frames, n, W, H)) {
        pc_stage_close(sg);
        stage_end(r, 1, "cached");
        return 1;
    }
    if (*st == PC_OK) *st = pc_stage_begin(sg, err);
    if (*st != PC_OK) pc_stage_close(sg);
    return 0;
}

static float *u8_to_unit(const pc_image *img) {  // (3, H, W) in [-1, 1]: (u8 / 255 - 0.5) / 0.5
    const size_t hw = (size_t)img->w * img->h;
    float *x = (float *)malloc(hw * 3 * sizeof(float));
    if (!x) return NULL;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < 3; c++) x[c * hw + p] = ((float)img->data[p * 3 + c] / 255.0f - 0.5f) / 0.5f;
    return x;
}

static pc_status stage_interp(run_t *r, pc_error *err) {
    const pc_pipeline_opts *o = r->o;
    stage_begin(r, ST_INTERP, "DynamiCrafter interpolation");
    pc_stage sg;
    pc_status st = pc_stage_open(&sg, r->dir, "interp", "interp/1", o->use_cache, err);
    const pc_key_field key[] = {
        PC_KEY_B("image A", r->a.data, (size_t)r->a.w * r->a.h * 3),
        PC_KEY_B("image B", r->b.data, (size_t)r->b.w * r->b.h * 3),
        PC_KEY_I("frames", o->interp.T),
    };
    if (st == PC_OK) st = pc_stage_key_add(&sg, key, (int)PC_ARRAY_LEN(key), err);
    if (st == PC_OK)
        st = key_diffusion(&sg, r, o->interp.steps, o->interp.eta, o->interp.spacing, o->interp.fs, o->interp.prompt,
                           &o->interp.ddim, &o->interp.sched, r->mf->interp, r->mf->n_interp, err);
    r->key_interp = pc_stage_key(&sg);
    r->T = o->interp.T;
    if (frames_from_cache(r, &sg, &r->interp, r->T, o->W, o->H, &st, err)) return PC_OK;
    if (st != PC_OK) return st;
    pc_diffusion_bundle bd;
    int bf16_was = 0;
    st = diffusion_begin(r, "loading DynamiCrafter", &bd, r->mf->interp, r->mf->n_interp, &bf16_was, err);
    if (st != PC_OK) {
        diffusion_end(r, &bd, bf16_was);
        pc_stage_close(&sg);
        return st;
    }
    pc_interp_opts io = o->interp;
    io.ddim.seed = o->seed;
    io.ddim.on_step = on_ddim_step;
    io.ddim.on_step_ctx = r;
    const size_t n = (size_t)3 * o->W * o->H;
    float *xa = u8_to_unit(&r->a), *xb = u8_to_unit(&r->b);
    float *video = (float *)malloc(n * (size_t)r->T * sizeof(float));
    if (!xa || !xb || !video) st = pc_err(err, PC_ERR_MEMORY, "out of memory for %d frames", r->T);
    if (st == PC_OK) st = pc_interp_run(&bd.m, &io, video, xa, xb, o->H, o->W, NULL, err);
    diffusion_end(r, &bd, bf16_was);
    if (st == PC_OK) st = video_to_frames(r->interp, video, r->T, o->H, o->W, err);
    free(xa);
    free(xb);
    free(video);
    if (st == PC_OK && sg.dir) st = pc_frames_save(r->interp, r->T, sg.dir, "frame", err);
    if (st == PC_OK) st = pc_stage_commit(&sg, err);
    pc_stage_close(&sg);
    if (st == PC_OK) stage_end(r, 0, "done");
    return st;
}

// ---- stage 3: relay frames -> DUSt3R + GA ---------------------------------------------------------------

// Largest centred crop of img with the aspect W / H of the ViewCrafter frames.
static pc_status crop_to_aspect(pc_image *out, const pc_image *img, int W, int H, pc_error *err) {
    int cw = img->w, ch = img->h;
    if ((int64_t)img->w * H > (int64_t)img->h * W)
        cw = (int)((double)img->h * W / H + 0.5);
    else
        ch = (int)((double)img->w * H / W + 0.5);
    const int x0 = (img->w - cw) / 2, y0 = (img->h - ch) / 2;
    return pc_image_crop(out, img, x0, y0, x0 + cw, y0 + ch, err);
}

static pc_status relay_save(run_t *r, const pc_stage *sg, pc_error *err) {
    int64_t shc[2] = {4, 22}, shp[2] = {r->P, 6};
    double cams[4 * 22];
    for (int k = 0; k < 4; k++) {
        double *c = cams + 22 * k;
        memcpy(c, r->relay_cam[k].c2w, 16 * sizeof(double));
        c[16] = r->relay_cam[k].fx, c[17] = r->relay_cam[k].fy, c[18] = r->relay_cam[k].cx, c[19] = r->relay_cam[k].cy;
        c[20] = r->relay_W, c[21] = r->relay_H;
    }
    pc_tensor tc = pc_tensor_view(cams, PC_F64, 2, shc), tp = pc_tensor_view(r->cloud, PC_F32, 2, shp);
    char *pc = pc_stage_file(sg, "relay_cameras.npy"), *pp = pc_stage_file(sg, "relay_cloud.npy");
    pc_status st = (!pc || !pp) ? pc_err(err, PC_ERR_MEMORY, "out of memory") : PC_OK;
    if (st == PC_OK) st = pc_npy_save(pc, &tc, err);
    if (st == PC_OK) st = pc_npy_save(pp, &tp, err);
    free(pc);
    free(pp);
    return st;
}

static pc_status relay_load(run_t *r, const pc_stage *sg, pc_error *err) {
    pc_tensor tc = {0}, tp = {0};
    char *pc = pc_stage_file(sg, "relay_cameras.npy"), *pp = pc_stage_file(sg, "relay_cloud.npy");
    pc_status st = (!pc || !pp) ? pc_err(err, PC_ERR_MEMORY, "out of memory") : PC_OK;
    if (st == PC_OK) st = pc_npy_load(&tc, pc, err);
    if (st == PC_OK && (tc.dtype != PC_F64 || tc.ndim != 2 || tc.shape[0] != 4 || tc.shape[1] != 22))
        st = pc_err(err, PC_ERR_FORMAT, "%s: expected (4, 22) float64", pc);
    if (st == PC_OK) st = pc_npy_load(&tp, pp, err);
    if (st == PC_OK && (tp.dtype != PC_F32 || tp.ndim != 2 || tp.shape[1] != 6 || tp.shape[0] < 1))
        st = pc_err(err, PC_ERR_FORMAT, "%s: expected (P, 6) float32", pp);
    free(pc);
    free(pp);
    if (st == PC_OK) {
        const double *c = (const double *)tc.data;
        for (int k = 0; k < 4; k++) {
            memcpy(r->relay_cam[k].c2w, c + 22 * k, 16 * sizeof(double));
            r->relay_cam[k].fx = c[22 * k + 16], r->relay_cam[k].fy = c[22 * k + 17];
            r->relay_cam[k].cx = c[22 * k + 18], r->relay_cam[k].cy = c[22 * k + 19];
        }
        r->relay_W = (int)c[20], r->relay_H = (int)c[21];
        r->P = tp.shape[0];
        r->cloud = (float *)malloc((size_t)r->P * 6 * sizeof(float));
        if (!r->cloud) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        else memcpy(r->cloud, tp.data, (size_t)r->P * 6 * sizeof(float));
    }
    pc_tensor_free(&tc);
    pc_tensor_free(&tp);
    return st;
}

static pc_status stage_relay(run_t *r, int vc_W, int vc_H, pc_error *err) {
    const pc_pipeline_opts *o = r->o;
    stage_begin(r, ST_RELAY, o->backbone == PC_BACKBONE_MAST3R        ? "relay frames -> MASt3R + global alignment"
                             : o->backbone == PC_BACKBONE_MAST3R_SPARSE ? "relay frames -> MASt3R + sparse global alignment"
                                                                        : "relay frames -> DUSt3R + global alignment");
    const int idx[4] = {0, 1, r->T - 2, r->T - 1};
    pc_status st = PC_OK;
    for (int k = 0; k < 4 && st == PC_OK; k++) st = crop_to_aspect(&r->relay_img[k], &r->interp[idx[k]], vc_W, vc_H, err);
    if (st != PC_OK) return st;
    pc_stage sg;
    st = pc_stage_open(&sg, r->dir, "relay", "relay/1", o->use_cache, err);
    const pc_key_field key[] = {
        PC_KEY_I("interp key", r->key_interp),
        PC_KEY_I("dust3r size", o->dust3r_size),
        PC_KEY_I("viewcrafter size", vc_W * 100000 + vc_H),
        PC_KEY_I("ga iterations", o->ga.niter),
        PC_KEY_D("ga lr", o->ga.lr),
        PC_KEY_D("ga lr min", o->ga.lr_min),
        PC_KEY_I("ga schedule", o->ga.schedule),
        PC_KEY_D("ga min conf", o->ga.min_conf_thr),
        PC_KEY_I("ga seed", o->ga.seed),
    };
    // the backbone enters only when it is not DUSt3R: keys of DUSt3R runs stay as they were
    const pc_key_field key_backbone[] = {PC_KEY_I("backbone", o->backbone)};
    const pc_key_field key_sparse[] = {
        PC_KEY_D("sga lr1", o->sga.lr1), PC_KEY_I("sga niter1", o->sga.niter1),
        PC_KEY_D("sga lr2", o->sga.lr2), PC_KEY_I("sga niter2", o->sga.niter2),
        PC_KEY_I("sga opt pp", o->sga.opt_pp), PC_KEY_I("sga opt depth", o->sga.opt_depth),
        PC_KEY_D("sga matching conf", o->sga.matching_conf_thr), PC_KEY_I("sga subsample", o->sga.subsample),
    };
    const pc_key_field key_model[] = {PC_KEY_F("reconstruction model", recon_file(r))};
    if (st == PC_OK) st = pc_stage_key_add(&sg, key, (int)PC_ARRAY_LEN(key), err);
    if (st == PC_OK && o->backbone != PC_BACKBONE_DUST3R) st = pc_stage_key_add(&sg, key_backbone, 1, err);
    if (st == PC_OK && o->backbone == PC_BACKBONE_MAST3R_SPARSE)
        st = pc_stage_key_add(&sg, key_sparse, (int)PC_ARRAY_LEN(key_sparse), err);
    if (st == PC_OK) st = pc_stage_key_add(&sg, key_model, 1, err);
    r->key_relay = pc_stage_key(&sg);
    if (st == PC_OK && pc_stage_cached(&sg)) {
        pc_error e2;
        if (relay_load(r, &sg, &e2) == PC_OK) {
            pc_stage_close(&sg);
            stage_end(r, 1, "cached");
            return PC_OK;
        }
        free(r->cloud);
        r->cloud = NULL;
    }
    if (st == PC_OK) st = pc_stage_begin(&sg, err);
    if (st == PC_OK) st = load_dust3r(r, err);
    if (st != PC_OK) {
        pc_stage_close(&sg);
        return st;
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "%s on 12 pairs of the 4 relay frames, then global alignment", pc_backbone_name(o->backbone));
    emit(r, msg, 0, 0, 0);
    pc_recon rc;
    st = recon(r, &rc, r->relay_img, 4, NULL, err);
    if (st != PC_OK) {
        pc_stage_close(&sg);
        return st;
    }
    r->relay_W = rc.W[0], r->relay_H = rc.H[0];
    for (int k = 0; k < 4; k++) {
        if (rc.W[k] != r->relay_W || rc.H[k] != r->relay_H) st = pc_err(err, PC_ERR_SHAPE, "relay frames differ in size");
        pc_camera *c = &r->relay_cam[k];
        for (int q = 0; q < 16; q++) c->c2w[q] = rc.res.c2w[k][q];
        c->fx = c->fy = rc.res.focals[k];
        c->cx = rc.res.pp[k][0], c->cy = rc.res.pp[k][1];
    }
    // confidence-masked point cloud with the frames' colours
    int64_t P = 0;
    const size_t hw = (size_t)r->relay_W * r->relay_H;
    for (int k = 0; k < 4 && st == PC_OK; k++)
        for (size_t p = 0; p < hw; p++) P += rc.conf[k][p] > cloud_thr(r);
    if (st == PC_OK && P == 0)
        st = pc_err(err, PC_ERR_NUMERIC, "relay reconstruction: no point has confidence above %g",
                    (double)cloud_thr(r));
    if (st == PC_OK) {
        r->cloud = (float *)malloc((size_t)P * 6 * sizeof(float));
        if (!r->cloud) st = pc_err(err, PC_ERR_MEMORY, "out of memory for %lld points", (long long)P);
    }
    if (st == PC_OK) {
        int64_t q = 0;
        for (int k = 0; k < 4; k++)
            for (size_t p = 0; p < hw; p++)
                if (rc.conf[k][p] > cloud_thr(r)) {
                    float *c = r->cloud + 6 * q++;
                    for (int e = 0; e < 3; e++) c[e] = rc.pts[k][3 * p + e];
                    for (int e = 0; e < 3; e++) c[3 + e] = rc.u8[k].data[3 * p + e] / 255.0f;
                }
        r->P = P;
    }
    if (st == PC_OK && sg.dir) {
        static const char *const names[4] = {"relay_0.png", "relay_1.png", "relay_2.png", "relay_3.png"};
        st = pc_recon_write(&rc, sg.dir, names, cloud_thr(r), err);
        if (st == PC_OK) st = relay_save(r, &sg, err);
        if (st == PC_OK) st = pc_frames_save(rc.u8, 4, sg.dir, "relay", err);
        if (st == PC_OK) st = pc_stage_commit(&sg, err);
    }
    pc_stage_close(&sg);
    pc_recon_free(&rc);
    if (st == PC_OK) stage_end(r, 0, "done");
    return st;
}

// ---- stage 4: trajectory + render ------------------------------------------------------------------------

// Evidence of the render stage: the camera path (docs/PIPELINE.md, renders/trajectory.json). Values at 9
// significant digits (float precision and a bit), the file's precision since it was first written.
static double sig9(double v) {
    char b[32];
    snprintf(b, sizeof(b), "%.9g", v);
    return strtod(b, NULL);
}

static pc_status write_trajectory(const char *dir, const pc_camera *path, int n, int W, int H, int Wd, int Hd,
                                  const int key_frames[4], pc_error *err) {
    cJSON *doc = cJSON_CreateObject(), *cams = NULL;
    pc_status st = doc ? PC_OK : pc_err(err, PC_ERR_MEMORY, "out of memory");
    if (st == PC_OK) {
        cJSON_AddNumberToObject(doc, "width", W);
        cJSON_AddNumberToObject(doc, "height", H);
        cJSON_AddNumberToObject(doc, "render_width", Wd);
        cJSON_AddNumberToObject(doc, "render_height", Hd);
        cJSON_AddItemToObject(doc, "key_frames", cJSON_CreateIntArray(key_frames, 4));
        cams = cJSON_AddArrayToObject(doc, "cameras");
    }
    for (int t = 0; t < n && cams; t++) {
        cJSON *c = cJSON_CreateObject();
        if (!c) break;
        cJSON_AddItemToArray(cams, c);
        double m[16];
        for (int q = 0; q < 16; q++) m[q] = sig9(path[t].c2w[q]);
        cJSON_AddItemToObject(c, "cam2world", cJSON_CreateDoubleArray(m, 16));
        cJSON_AddNumberToObject(c, "fx", sig9(path[t].fx));
        cJSON_AddNumberToObject(c, "fy", sig9(path[t].fy));
        cJSON_AddNumberToObject(c, "cx", sig9(path[t].cx));
        cJSON_AddNumberToObject(c, "cy", sig9(path[t].cy));
    }
    if (st == PC_OK && (!cams || cJSON_GetArraySize(cams) != n)) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    char *p = st == PC_OK ? pc_path_join(dir, "trajectory.json") : NULL;
    if (st == PC_OK && !p) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    if (st == PC_OK) st = pc_evidence_json(p, doc, err);
    free(p);
    cJSON_Delete(doc);
    return st;
}

static pc_status stage_render(run_t *r, int vc_W, int vc_H, float **renders_out, pc_error *err) {
    const pc_pipeline_opts *o = r->o;
    stage_begin(r, ST_RENDER, "camera trajectory and point-cloud renders");
    const int n = pc_traj_count(4, &o->traj);
    if (n < 2 || n > 1024) return pc_err(err, PC_ERR_ARG, "trajectory: bad options (%d poses)", n);
    pc_camera *path = (pc_camera *)calloc((size_t)n, sizeof(pc_camera));
    const int Hd = r->relay_H, Wd = r->relay_W;
    float *small = (float *)malloc((size_t)n * Hd * Wd * 3 * sizeof(float));       // (n, Hd, Wd, 3)
    float *big = (float *)malloc((size_t)n * vc_H * vc_W * 3 * sizeof(float));     // (n, H, W, 3)
    float *sub[4] = {NULL, NULL, NULL, NULL};
    pc_image up = {0};
    pc_status st = PC_OK;
    if (!path || !small || !big) st = pc_err(err, PC_ERR_MEMORY, "out of memory for %d renders", n);
    if (st == PC_OK) st = pc_traj_interpolate(path, n, r->relay_cam, 4, &o->traj, err);
    if (st == PC_OK) {
        emit(r, "rendering", 0, 0, 0);
        float *xyz = (float *)malloc((size_t)r->P * 3 * sizeof(float)), *rgb = (float *)malloc((size_t)r->P * 3 * sizeof(float));
        if (!xyz || !rgb) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        for (int64_t p = 0; p < r->P && st == PC_OK; p++)
            for (int e = 0; e < 3; e++) xyz[3 * p + e] = r->cloud[6 * p + e], rgb[3 * p + e] = r->cloud[6 * p + 3 + e];
        pc_render_settings rs = pc_render_viewcrafter(Hd, Wd);
        if (st == PC_OK) st = pc_render_points(r->pool, small, xyz, rgb, r->P, path, n, &rs, NULL, err);
        free(xyz);
        free(rgb);
    }
    if (st == PC_OK) st = pc_render_upsample(r->pool, big, small, n, Hd, Wd, vc_H, vc_W, err);
    // the relay frames replace the renders at their key positions (ViewCrafter: render_results[i] = img_ori)
    int key_frames[4];
    pc_traj_key_frames(key_frames, 4, &o->traj);
    for (int k = 0; k < 4 && st == PC_OK; k++) {
        st = pc_image_resize(&up, &r->relay_img[k], vc_W, vc_H, PC_RESAMPLE_BILINEAR, err);
        sub[k] = (float *)malloc((size_t)vc_W * vc_H * 3 * sizeof(float));
        if (st == PC_OK && !sub[k]) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        for (size_t p = 0; st == PC_OK && p < (size_t)vc_W * vc_H * 3; p++) sub[k][p] = up.data[p] / 255.0f;
        pc_image_free(&up);
    }
    if (st == PC_OK) pc_render_substitute(big, n, vc_H, vc_W, (const float *const *)sub, key_frames, 4);
    if (st == PC_OK) {
        r->Tv = n;
        r->renders = (pc_image *)calloc((size_t)n, sizeof(pc_image));
        if (!r->renders) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        for (int t = 0; t < n && st == PC_OK; t++) {
            st = pc_image_alloc(&r->renders[t], vc_W, vc_H, 3, err);
            const float *f = big + (size_t)t * vc_W * vc_H * 3;
            for (size_t p = 0; st == PC_OK && p < (size_t)vc_W * vc_H * 3; p++) {
                float v = f[p] * 255.0f + 0.5f;
                r->renders[t].data[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    if (st == PC_OK && r->dir) {
        char *d = out_path(r, "renders");
        st = d ? pc_frames_save(r->renders, n, d, "render", err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        if (st == PC_OK) st = write_trajectory(d, path, n, vc_W, vc_H, Wd, Hd, key_frames, err);
        free(d);
    }
    free(path);
    free(small);
    for (int k = 0; k < 4; k++) free(sub[k]);
    if (st == PC_OK) {
        *renders_out = big;
        stage_end(r, 0, "done");
    } else {
        free(big);
    }
    return st;
}

// ---- stage 5: ViewCrafter --------------------------------------------------------------------------------

static pc_status stage_hvg(run_t *r, const float *renders, int vc_W, int vc_H, pc_error *err) {
    const pc_pipeline_opts *o = r->o;
    stage_begin(r, ST_HVG, "ViewCrafter diffusion over the renders");
    pc_stage sg;
    pc_status st = pc_stage_open(&sg, r->dir, "hvg", "hvg/1", o->use_cache, err);
    const pc_key_field key[] = {
        PC_KEY_I("relay key", r->key_relay),
        PC_KEY_I("trajectory rotation", o->traj.rot),
        PC_KEY_I("trajectory spacing", o->traj.spacing),
        PC_KEY_I("trajectory poses", o->traj.n),
        PC_KEY_I("trajectory viewcrafter quirks", o->traj.vc_quirks),
        PC_KEY_I("viewcrafter size", vc_W * 100000 + vc_H),
        PC_KEY_I("condition frame", o->vc.cond_frame),
    };
    if (st == PC_OK) st = pc_stage_key_add(&sg, key, (int)PC_ARRAY_LEN(key), err);
    if (st == PC_OK)
        st = key_diffusion(&sg, r, o->vc.steps, o->vc.eta, o->vc.spacing, o->vc.fs, o->vc.prompt, &o->vc.ddim,
                           &o->vc.sched, r->mf->vc, r->mf->n_vc, err);
    const int n = r->Tv;
    if (frames_from_cache(r, &sg, &r->hvg, n, vc_W, vc_H, &st, err)) return PC_OK;
    if (st != PC_OK) return st;
    pc_diffusion_bundle bd;
    int bf16_was = 0;
    st = diffusion_begin(r, "loading ViewCrafter", &bd, r->mf->vc, r->mf->n_vc, &bf16_was, err);
    if (st != PC_OK) {
        diffusion_end(r, &bd, bf16_was);
        pc_stage_close(&sg);
        return st;
    }
    // one clip over the whole path (TOTAL), or one per relay pair (PER_SEGMENT, ViewCrafter's own layout)
    const int seg = o->traj.spacing == PC_TRAJ_PER_SEGMENT ? o->traj.n : n;
    const int n_clips = o->traj.spacing == PC_TRAJ_PER_SEGMENT ? 3 : 1;
    const size_t fsz = (size_t)vc_W * vc_H;
    float *in = (float *)malloc(3 * fsz * (size_t)seg * sizeof(float));   // (3, seg, H, W)
    float *out = (float *)malloc(3 * fsz * (size_t)seg * sizeof(float));  // (3, seg, H, W)
    pc_image *clip = (pc_image *)calloc((size_t)seg, sizeof(pc_image));
    if (!in || !out || !clip) st = pc_err(err, PC_ERR_MEMORY, "out of memory for %d frames of %dx%d", seg, vc_W, vc_H);
    pc_viewcrafter_opts vo = o->vc;
    vo.ddim.seed = o->seed;
    vo.ddim.on_step = on_ddim_step;
    vo.ddim.on_step_ctx = r;
    int written = 0;
    for (int c = 0; c < n_clips && st == PC_OK; c++) {
        const int f0 = c * (seg - 1);
        const int len = f0 + seg <= n ? seg : n - f0;
        // renders (n, H, W, 3) in [0, 1] -> (3, len, H, W) in [-1, 1]
        for (int t = 0; t < len; t++)
            for (size_t p = 0; p < fsz; p++)
                for (int e = 0; e < 3; e++)
                    in[((size_t)e * len + t) * fsz + p] = renders[((size_t)(f0 + t) * fsz + p) * 3 + e] * 2.0f - 1.0f;
        if (n_clips > 1) {
            char msg[64];
            snprintf(msg, sizeof(msg), "clip %d of %d", c + 1, n_clips);
            emit(r, msg, 0, 0, 0);
        }
        st = pc_viewcrafter_run(&bd.m, &vo, out, in, len, vc_H, vc_W, NULL, err);
        if (st == PC_OK) st = video_to_frames(clip, out, len, vc_H, vc_W, err);
        // frames shared by two clips (the relay keys) keep the first clip's version
        for (int t = 0; t < len && st == PC_OK; t++) {
            if (f0 + t < written) {
                pc_image_free(&clip[t]);
                continue;
            }
            r->hvg[f0 + t] = clip[t];
            memset(&clip[t], 0, sizeof(pc_image));
        }
        if (st == PC_OK) written = f0 + len;
    }
    diffusion_end(r, &bd, bf16_was);
    for (int t = 0; t < seg && clip; t++) pc_image_free(&clip[t]);
    free(clip);
    free(in);
    free(out);
    if (st == PC_OK && written != n) st = pc_err(err, PC_ERR_ARG, "ViewCrafter clips cover %d of %d frames", written, n);
    if (st == PC_OK && sg.dir) st = pc_frames_save(r->hvg, n, sg.dir, "frame", err);
    if (st == PC_OK) st = pc_stage_commit(&sg, err);
    pc_stage_close(&sg);
    if (st == PC_OK) stage_end(r, 0, "done");
    return st;
}

// ---- stage 6: selection ----------------------------------------------------------------------------------

// Relative pose A -> B (views 0 and 1) of a reconstruction.
static void recon_relpose(const pc_recon *rc, double R[9], double t[3]) {
    float Rf[9], tf[3];
    pc_align_relative_pose(Rf, tf, rc->res.c2w[0], rc->res.c2w[1]);
    for (int i = 0; i < 9; i++) R[i] = Rf[i];
    for (int i = 0; i < 3; i++) t[i] = tf[i];
}

// Images for DUSt3R of the final stage: A, B as given, then the chosen candidates.
static pc_status final_views(run_t *r, const pc_image *cand, const int *sel, int n_sel, pc_image **views) {
    *views = (pc_image *)calloc((size_t)n_sel + 2, sizeof(pc_image));
    if (!*views) return PC_ERR_MEMORY;
    (*views)[0] = r->a_rgb;  // shallow copies: not freed through views
    (*views)[1] = r->b_rgb;
    for (int i = 0; i < n_sel; i++) (*views)[2 + i] = cand[sel[i]];
    return PC_OK;
}

// Known intrinsics for the final-stage views (A, B, then frames: unknown), or NULL when neither is given.
static pc_intrinsics *final_known(const run_t *r, int n) {
    if (!(r->o->K[0].fx > 0) && !(r->o->K[1].fx > 0)) return NULL;
    pc_intrinsics *K = (pc_intrinsics *)calloc((size_t)n, sizeof(pc_intrinsics));
    if (K) K[0] = r->o->K[0], K[1] = r->o->K[1];
    return K;
}


static pc_status select_scs(run_t *r, const pc_image *cand, int nc, int k, int *sel, int *n_sel, double *scores,
                            pc_recon *best_rc, pc_error *err) {
    const int M = r->o->scs_subsets;
    if (M < 2 || M > 64) return pc_err(err, PC_ERR_ARG, "scs: %d subsets, need 2 .. 64", M);
    if (k > nc) k = nc;
    int *subs = (int *)calloc((size_t)M * k, sizeof(int));
    double (*Rs)[9] = (double(*)[9])calloc((size_t)M, sizeof(*Rs));
    double (*ts)[3] = (double(*)[3])calloc((size_t)M, sizeof(*ts));
    int *perm = (int *)malloc(sizeof(int) * (size_t)nc);
    pc_recon *rcs = (pc_recon *)calloc((size_t)M, sizeof(pc_recon));
    pc_status st = (!subs || !Rs || !ts || !perm || !rcs) ? pc_err(err, PC_ERR_MEMORY, "out of memory") : PC_OK;
    uint64_t seed = r->o->seed ^ 0x5343535f53454c45ULL;
    for (int m = 0; m < M && st == PC_OK; m++) {
        for (int i = 0; i < nc; i++) perm[i] = i;
        for (int i = 0; i < k; i++) {  // partial Fisher-Yates: k distinct frames
            const int j = i + (int)(pc_splitmix64(&seed) % (uint64_t)(nc - i));
            const int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        memcpy(subs + (size_t)m * k, perm, sizeof(int) * (size_t)k);
        char msg[96];
        snprintf(msg, sizeof(msg), "self-consistency: pose from subset %d of %d", m + 1, M);
        emit(r, msg, m, M, 0);
        pc_image *views = NULL;
        if (final_views(r, cand, subs + (size_t)m * k, k, &views) != PC_OK) {
            st = pc_err(err, PC_ERR_MEMORY, "out of memory");
            break;
        }
        pc_intrinsics *known = final_known(r, k + 2);
        st = recon(r, &rcs[m], views, k + 2, known, err);
        free(known);
        free(views);
        if (st == PC_OK) recon_relpose(&rcs[m], Rs[m], ts[m]);
    }
    int best = 0;
    double best_cost = INFINITY;
    for (int m = 0; m < M && st == PC_OK; m++) {  // the medoid: least summed disagreement with the others
        double cost = 0;
        for (int q = 0; q < M; q++)
            if (q != m) cost += pc_eval_rot_error_deg(Rs[m], Rs[q]) + pc_eval_trans_error_deg(ts[m], ts[q], 0);
        if (cost < best_cost) best_cost = cost, best = m;
    }
    if (st == PC_OK) {
        for (int i = 0; i < nc; i++) scores[i] = 0;
        for (int m = 0; m < M; m++)
            for (int i = 0; i < k; i++) scores[subs[(size_t)m * k + i]] += m == best ? 1.0 : 0.0;
        memcpy(sel, subs + (size_t)best * k, sizeof(int) * (size_t)k);
        *n_sel = k;
        *best_rc = rcs[best];
        memset(&rcs[best], 0, sizeof(pc_recon));
    }
    for (int m = 0; m < M && rcs; m++) pc_recon_free(&rcs[m]);
    free(rcs);
    free(subs);
    free(Rs);
    free(ts);
    free(perm);
    return st;
}

static pc_status select_conf(run_t *r, const pc_image *cand, int nc, double *scores, pc_error *err) {
    pc_status st = PC_OK;
    pc_image rgb = {0};
    pc_tensor x[3];
    memset(x, 0, sizeof(x));
    pc_image u8 = {0};
    st = pc_dust3r_preprocess(&u8, &x[0], &r->a_rgb, r->o->dust3r_size, 0, err);
    pc_image_free(&u8);
    if (st == PC_OK) st = pc_dust3r_preprocess(&u8, &x[1], &r->b_rgb, r->o->dust3r_size, 0, err);
    pc_image_free(&u8);
    for (int c = 0; c < nc && st == PC_OK; c++) {
        emit(r, NULL, c + 1, nc, 0);
        st = pc_image_to_rgb(&rgb, &cand[c], err);
        if (st == PC_OK) st = pc_dust3r_preprocess(&u8, &x[2], &rgb, r->o->dust3r_size, 0, err);
        pc_image_free(&rgb);
        pc_image_free(&u8);
        const pc_tensor *xp[3] = {&x[0], &x[1], &x[2]};
        const int pairs[2][2] = {{0, 2}, {1, 2}};
        pc_dust3r_pair_out outs[2];
        memset(outs, 0, sizeof(outs));
        if (st == PC_OK) st = pc_dust3r_pairs(r->dust3r, xp, 3, pairs, 2, outs, err);
        double s = 0;
        for (int e = 0; e < 2 && st == PC_OK; e++) {  // mean confidence of the frame's pixels in both pairs
            const pc_tensor *cf = &outs[e].view[1].conf;
            const int64_t m = pc_tensor_numel(cf);
            double acc = 0;
            for (int64_t i = 0; i < m; i++) acc += ((const float *)cf->data)[i];
            s += m ? acc / (double)m : 0;
        }
        scores[c] = s / 2;
        for (int e = 0; e < 2; e++) pc_dust3r_pair_out_free(&outs[e]);
        pc_tensor_free(&x[2]);
    }
    for (int i = 0; i < 3; i++) pc_tensor_free(&x[i]);
    return st;
}

static void top_k(const double *scores, const uint8_t *excluded, int n, int k, int *sel, int *n_sel) {
    *n_sel = 0;
    for (int q = 0; q < k; q++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (excluded && excluded[i]) continue;
            int taken = 0;
            for (int j = 0; j < *n_sel; j++) taken |= sel[j] == i;
            if (taken) continue;
            if (best < 0 || scores[i] > scores[best]) best = i;  // ties: lower index
        }
        if (best < 0) break;
        sel[(*n_sel)++] = best;
    }
}

static pc_status write_selection(run_t *r, const pc_fms_frame_stats *fs, int nc, const uint8_t *is_sel, pc_error *err) {
    char *p = out_path(r, "selection.tsv");
    if (!p) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    FILE *f = fopen(p, "w");
    if (!f) {
        pc_status st = pc_err(err, PC_ERR_IO, "cannot write %s", p);
        free(p);
        return st;
    }
    fprintf(f, "# selector %s, candidates from %s, k %d%s\n", pc_selector_name(r->o->selector),
            r->res->candidates_from, r->o->k, r->o->selector == PC_SELECT_FMS ? "" : " (FMS statistics for reference)");
    fprintf(f, "frame\tkeypoints\tmatches_a\tinliers_a\tmatches_b\tinliers_b\tfms_score\tselector_score\tselected\n");
    for (int i = 0; i < nc; i++)
        fprintf(f, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.6g\t%d\n", i, fs[i].n_keypoints, fs[i].matches_a, fs[i].inliers_a,
                fs[i].matches_b, fs[i].inliers_b, fs[i].score, r->res->scores[i], is_sel[i]);
    pc_status st = fclose(f) != 0 ? pc_err(err, PC_ERR_IO, "cannot write %s", p) : PC_OK;
    free(p);
    return st;
}

// ---- stage 7: final pose ---------------------------------------------------------------------------------

static pc_status finish_pose(run_t *r, pc_recon *rc, pc_error *err) {
    pc_pipeline_result *res = r->res;
    recon_relpose(rc, res->R, res->t_scene);
    const double nt = sqrt(res->t_scene[0] * res->t_scene[0] + res->t_scene[1] * res->t_scene[1] +
                           res->t_scene[2] * res->t_scene[2]);
    if (!(nt > 0) || !isfinite(nt)) return pc_err(err, PC_ERR_NUMERIC, "final reconstruction: A and B coincide");
    for (int i = 0; i < 3; i++) res->t[i] = res->t_scene[i] / nt;
    for (int v = 0; v < 2; v++) {
        pc_recon_intrinsics(rc, v, &res->fx[v], &res->fy[v], &res->cx[v], &res->cy[v]);
        res->K_fixed[v] = r->o->K[v].fx > 0;
        if (res->K_fixed[v]) {  // held fixed: report the values given (the alignment used their mean focal)
            res->fx[v] = r->o->K[v].fx, res->fy[v] = r->o->K[v].fy;
            res->cx[v] = r->o->K[v].cx, res->cy[v] = r->o->K[v].cy;
        }
        res->width[v] = rc->map[v][0];
        res->height[v] = rc->map[v][1];
    }
    res->final_loss = rc->loss;
    if (r->dir) {
        const char **names = (const char **)calloc((size_t)rc->n, sizeof(char *));
        char(*buf)[32] = (char(*)[32])calloc((size_t)rc->n, 32);
        pc_status st = (!names || !buf) ? pc_err(err, PC_ERR_MEMORY, "out of memory") : PC_OK;
        for (int k = 0; k < rc->n && st == PC_OK; k++) {
            if (k < 2)
                snprintf(buf[k], 32, "%s", k ? "B" : "A");
            else
                snprintf(buf[k], 32, "%s_%02d", res->candidates_from, res->selected[k - 2]);
            names[k] = buf[k];
        }
        char *d = st == PC_OK ? out_path(r, "final") : NULL;
        if (st == PC_OK && !d) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        if (st == PC_OK) st = pc_recon_write(rc, d, names, cloud_thr(r), err);
        free(d);
        free(names);
        free(buf);
        return st;
    }
    return PC_OK;
}

static pc_status stage_select_and_pose(run_t *r, pc_error *err) {
    const pc_pipeline_opts *o = r->o;
    pc_pipeline_result *res = r->res;
    const pc_image *cand = o->hvg ? r->hvg : r->interp;
    const int nc = o->hvg ? r->Tv : r->T;
    res->candidates_from = o->hvg ? "hvg" : "interp";
    res->n_candidates = nc;
    stage_begin(r, ST_SELECT, o->selector == PC_SELECT_FMS ? "Feature Matching Selector" : pc_selector_name(o->selector));
    pc_fms_frame_stats *fs = (pc_fms_frame_stats *)calloc((size_t)nc, sizeof(*fs));
    uint8_t *is_sel = (uint8_t *)calloc((size_t)nc, 1);
    res->scores = (double *)calloc((size_t)nc, sizeof(double));
    res->selected = (int *)calloc((size_t)nc + 1, sizeof(int));
    pc_recon rc;
    memset(&rc, 0, sizeof(rc));
    int have_rc = 0;
    pc_status st = (!fs || !is_sel || !res->scores || !res->selected) ? pc_err(err, PC_ERR_MEMORY, "out of memory")
                                                                      : PC_OK;
    const int k = o->k < nc ? o->k : nc;
    // FMS statistics always (the selection table shows them for every selector)
    int fms_n = 0;
    if (st == PC_OK) {
        pc_fms_options fo;
        pc_fms_options_default(&fo);
        st = pc_fms_select(r->pool, cand, nc, &r->a, &r->b, k, o->fms_threshold, &fo, res->selected, &fms_n, fs, err);
    }
    if (st == PC_OK) {
        switch (o->selector) {
        case PC_SELECT_FMS:
            for (int i = 0; i < nc; i++) res->scores[i] = fs[i].score;
            res->n_selected = fms_n;
            break;
        case PC_SELECT_ALL:
            for (int i = 0; i < nc; i++) res->scores[i] = 1, res->selected[i] = i;
            res->n_selected = nc;
            break;
        case PC_SELECT_CONF:
            st = load_dust3r(r, err);
            if (st == PC_OK) st = select_conf(r, cand, nc, res->scores, err);
            if (st == PC_OK) top_k(res->scores, NULL, nc, k, res->selected, &res->n_selected);
            break;
        case PC_SELECT_SCS:
            st = load_dust3r(r, err);
            if (st == PC_OK && k < 1) st = pc_err(err, PC_ERR_ARG, "scs needs k >= 1");
            if (st == PC_OK) st = select_scs(r, cand, nc, k, res->selected, &res->n_selected, res->scores, &rc, err);
            have_rc = st == PC_OK;
            break;
        }
    }
    for (int i = 0; i < res->n_selected && st == PC_OK; i++) is_sel[res->selected[i]] = 1;
    if (st == PC_OK && r->dir) st = write_selection(r, fs, nc, is_sel, err);
    if (st == PC_OK && r->dir) {
        char *p = out_path(r, "contact_sheet.png");
        st = p ? pc_contact_sheet(p, &r->a, &r->b, cand, nc, is_sel, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        free(p);
    }
    if (st == PC_OK) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%d of %d frames selected", res->n_selected, nc);
        stage_end(r, 0, msg);
    }
    free(fs);
    free(is_sel);
    if (st != PC_OK) {
        pc_recon_free(&rc);
        return st;
    }

    stage_begin(r, ST_POSE,
                o->backbone == PC_BACKBONE_MAST3R          ? "MASt3R + global alignment over A, B and the selected frames"
                : o->backbone == PC_BACKBONE_MAST3R_SPARSE ? "MASt3R + sparse global alignment over A, B and the selected frames"
                                                           : "DUSt3R + global alignment over A, B and the selected frames");
    if (!have_rc) {
        pc_image *views = NULL;
        st = load_dust3r(r, err);
        if (st == PC_OK && final_views(r, cand, res->selected, res->n_selected, &views) != PC_OK)
            st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        pc_intrinsics *known = final_known(r, res->n_selected + 2);
        if (st == PC_OK)
            st = recon(r, &rc, views, res->n_selected + 2, known, err);
        free(known);
        free(views);
    }
    if (st == PC_OK) st = finish_pose(r, &rc, err);
    pc_recon_free(&rc);
    if (st == PC_OK) stage_end(r, 0, "done");
    return st;
}

// ---- driver ----------------------------------------------------------------------------------------------

pc_status pc_pipeline_run(pc_pipeline_result *res, const pc_model_files *mf, const pc_pipeline_opts *o,
                          const pc_image *A, const pc_image *B, pc_pool *pool, pc_error *err) {
    if (!res || !mf || !o || !A || !B || !A->data || !B->data) return pc_err(err, PC_ERR_ARG, "pc_pipeline_run: NULL argument");
    memset(res, 0, sizeof(*res));
    if (o->W < 16 || o->H < 16 || o->W > 4096 || o->H > 4096)
        return pc_err(err, PC_ERR_ARG, "pipeline: frame size %dx%d out of range", o->W, o->H);
    if (o->interp.T < 4 || o->interp.T % 2) return pc_err(err, PC_ERR_ARG, "pipeline: need an even T >= 4 interpolation frames");
    if (o->k < 0 || o->k > 256) return pc_err(err, PC_ERR_ARG, "pipeline: k = %d out of range", o->k);
    if (!(o->backbone != PC_BACKBONE_DUST3R ? mf->mast3r : mf->dust3r) || !mf->n_interp || !mf->vocab ||
        (o->hvg && !mf->n_vc))
        return pc_err(err, PC_ERR_NOT_FOUND, "pipeline: model files missing (see pc_model_files_find)");
    const int vc_W = mf->vc_W > 0 ? mf->vc_W : 1024, vc_H = mf->vc_H > 0 ? mf->vc_H : 576;
    run_t r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.mf = mf;
    r.pool = pool;
    r.res = res;
    r.t_start = pc_time_sec();
    r.dir = o->out_dir && o->out_dir[0] ? o->out_dir : NULL;
    float *renders = NULL;
    pc_status st = r.dir ? pc_pipe_mkdir(r.dir, err) : PC_OK;
    if (st == PC_OK) st = stage_prepare(&r, A, B, err);
    if (st == PC_OK) st = stage_interp(&r, err);
    if (st == PC_OK && o->hvg) st = stage_relay(&r, vc_W, vc_H, err);
    if (st == PC_OK && o->hvg) st = stage_render(&r, vc_W, vc_H, &renders, err);
    if (st == PC_OK && o->hvg) st = stage_hvg(&r, renders, vc_W, vc_H, err);
    free(renders);
    if (st == PC_OK) st = stage_select_and_pose(&r, err);
    res->total_s = pc_time_sec() - r.t_start;
    res->peak_rss = pc_peak_rss_bytes();
    if (st == PC_OK && r.dir) {
        char *p = out_path(&r, "pose.json");
        st = p ? pc_pipeline_write_json(p, res, o, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        free(p);
    }
    pc_dust3r_free(r.dust3r);
    pc_image_free(&r.a);
    pc_image_free(&r.b);
    pc_image_free(&r.a_rgb);
    pc_image_free(&r.b_rgb);
    free_frames(r.interp, r.T);
    free_frames(r.renders, r.Tv);
    free_frames(r.hvg, r.Tv);
    for (int k = 0; k < 4; k++) pc_image_free(&r.relay_img[k]);
    free(r.cloud);
    if (st != PC_OK) pc_pipeline_result_free(res);
    return st;
}
