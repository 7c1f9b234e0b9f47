// ViewCrafter diffusion (pc_viewcrafter_run) vs viewcrafter_ddim.safetensors (README §4.5): ViewCrafter's
// image_guided_synthesis with its own DDIM copy, T = 5 "renders" at 128x192, all frames as c_concat, prompt
// "Rotating view of a scene", CLIP of frame 0, 5 steps, eta 1, cfg 7.5, rescale 0.7, fs 10, base_scale 0.3.
// 1. Schedule and tables: buffers.scale_arr (base 0.3), ddim5.* / ddim50.* with scale_arr_prev[0] = 1.0
//    (ViewCrafter's prev0), the per-step scalars step.*: exact or 1 ulp.
// 2. Replay: pc_ddim_sample with a fake model returning the recorded v_cond / v_uncond; every step's
//    v_guided, e_t, pred_x0_raw, pred_x0, x_out and `samples` at 1e-6 normwise (the formulas alone: 2.4e-7).
// 3. Full run with the tiny UNet / VAE / CLIP and the recorded posterior noise, x_T and step noise:
//    contexts and c_concat 1e-4; step 0 v_cond / v_uncond 1e-4, v_guided / x_out 5e-4; later steps are
//    free-running (1e-3, v_guided 2e-3); samples 1e-3. The golden has no `decoded` (README §4.5): the video is
//    checked against decode_first_stage of the golden samples at 2e-3.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "testutil.h"

static int close_norm(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    return pc_test_close(name, got, want, n, rtol * mx, 0.0);
}

static const pc_tensor *need_t(const pc_checkpoint *ck, const char *name, pc_dtype dt, int64_t n) {
    const pc_tensor *t = pc_checkpoint_find(ck, name);
    if (!t || t->dtype != dt || !pc_tensor_is_contiguous(t) || (n && pc_tensor_numel(t) != n))
        pc_test_fatal("golden tensor '%s' missing / wrong dtype or size", name);
    return t;
}

static const float *need(const pc_checkpoint *ck, const char *name, int64_t n) {
    return pc_tensor_f32(need_t(ck, name, PC_F32, n));
}

// ---- 1. schedule / tables ----------------------------------------------------------------------------

static void check_table(const pc_checkpoint *g, const pc_ddim_table *d, const char *pre) {
    char k[64];
    const int S = d->S;
    snprintf(k, sizeof(k), "%s.timesteps", pre);
    const int64_t *ts = (const int64_t *)need_t(g, k, PC_I64, S)->data;
    int ok = 1;
    for (int i = 0; i < S; i++) ok &= ts[i] == d->timesteps[i];
    PC_CHECK(ok, "viewcrafter %s: timesteps exact", k);
    struct {
        const char *name;
        const float *got;
    } cols[] = {{"alphas", d->alphas},       {"alphas_prev", d->alphas_prev},
                {"sigmas", d->sigmas},       {"sqrt_one_minus_alphas", d->sqrt_one_minus_alphas},
                {"scale_arr", d->scale_arr}, {"scale_arr_prev", d->scale_arr_prev}};
    for (size_t j = 0; j < sizeof(cols) / sizeof(cols[0]); j++) {
        char label[96];
        snprintf(k, sizeof(k), "%s.%s", pre, cols[j].name);
        snprintf(label, sizeof(label), "viewcrafter %s", k);
        pc_test_close(label, cols[j].got, need(g, k, S), (size_t)S, 0.0, 1.2e-7);  // <= 1 ulp
    }
    PC_CHECK(d->scale_arr_prev[0] == 1.0f, "viewcrafter %s: scale_arr_prev[0] = scale_arr[0] = 1.0 (got %.9g)", pre,
             d->scale_arr_prev[0]);
}

// ---- 2. replay ----------------------------------------------------------------------------------------

typedef struct {
    const pc_checkpoint *g;
    const int64_t *step_t;
    int S;
    int64_t n;
    int calls;
} replay_ctx;

static pc_status replay_model(void *vctx, float *out, const float *x, int64_t B, int64_t t, int branch, pc_error *err) {
    replay_ctx *c = (replay_ctx *)vctx;
    (void)x;
    int i = -1;
    for (int k = 0; k < c->S; k++)
        if (c->step_t[k] == t) i = k;
    if (i < 0 || B != 1)
        return pc_err(err, PC_ERR_ARG, "replay: unexpected t = %lld / B = %lld", (long long)t, (long long)B);
    char k[64];
    snprintf(k, sizeof(k), "step%d.%s", i, branch ? "v_uncond" : "v_cond");
    memcpy(out, need(c->g, k, c->n), sizeof(float) * (size_t)c->n);
    c->calls++;
    return PC_OK;
}

typedef struct {
    const pc_checkpoint *g;
    int64_t n;
    int full;  // 0: replay (1e-6), 1: full model run
    int steps_seen;
} step_ctx;

static int on_step(void *vctx, const pc_ddim_step_info *info) {
    step_ctx *c = (step_ctx *)vctx;
    const int i = info->i;
    char k[64], label[96];
    // step scalars (float32, exact)
    const float *sa = need(c->g, "step.a_t", 5), *sp = need(c->g, "step.a_prev", 5),
                *ss = need(c->g, "step.sigma_t", 5), *sm = need(c->g, "step.sqrt_one_minus_at", 5),
                *sc = need(c->g, "step.scale_t", 5), *spv = need(c->g, "step.prev_scale_t", 5);
    const int64_t *st = (const int64_t *)need_t(c->g, "step.t", PC_I64, 5)->data;
    const int64_t *si = (const int64_t *)need_t(c->g, "step.index", PC_I64, 5)->data;
    if (!c->full)
        PC_CHECK(info->p.t == st[i] && info->p.index == si[i] && info->p.a_t == sa[i] && info->p.a_prev == sp[i] &&
                     info->p.sigma_t == ss[i] && info->p.sqrt_one_minus_at == sm[i] && info->p.scale_t == sc[i] &&
                     info->p.prev_scale_t == spv[i],
                 "viewcrafter step%d scalars exact (t %lld, scale %.7g / prev %.7g)", i, (long long)info->p.t,
                 info->p.scale_t, info->p.prev_scale_t);
    const double m0 = c->full ? (i == 0 ? 1e-4 : 1e-3) : 1e-6;
    const double m1 = c->full ? (i == 0 ? 5e-4 : 2e-3) : 1e-6;
    const double m2 = c->full ? (i == 0 ? 5e-4 : 1e-3) : 1e-6;
    struct {
        const char *name;
        const float *got;
        double tol;
    } cols[] = {{"v_cond", info->v_cond, m0},      {"v_uncond", info->v_uncond, m0},
                {"v_guided", info->v_guided, m1},  {"e_t", info->e_t, m1},
                {"pred_x0_raw", info->pred_x0_raw, m1}, {"pred_x0", info->pred_x0, m1},
                {"x_out", info->x_out, m2}};
    for (size_t j = 0; j < sizeof(cols) / sizeof(cols[0]); j++) {
        if (!c->full && j < 2) continue;  // replayed
        snprintf(k, sizeof(k), "step%d.%s", i, cols[j].name);
        snprintf(label, sizeof(label), "viewcrafter %s %s", c->full ? "run" : "replay", k);
        PC_CHECK(cols[j].got != NULL, "%s computed", label);
        if (cols[j].got) close_norm(label, cols[j].got, need(c->g, k, c->n), (size_t)c->n, cols[j].tol);
    }
    snprintf(k, sizeof(k), "step%d.noise", i);
    PC_CHECK(info->noise == need(c->g, k, c->n), "viewcrafter step%d: the injected noise array is used", i);
    c->steps_seen++;
    return 0;
}

int main(void) {
    char gp[1024], up[1024], vp[1024], cp[1024], bpe[1024];
    pc_test_shared_path(gp, sizeof(gp), "golden/dynamicrafter/viewcrafter_ddim.safetensors");
    pc_test_shared_path(up, sizeof(up), "golden/dynamicrafter/unet_tiny.ckpt");
    pc_test_shared_path(vp, sizeof(vp), "golden/dynamicrafter/vae_tiny.ckpt");
    pc_test_shared_path(cp, sizeof(cp), "golden/dynamicrafter/clip_tiny.ckpt");
    pc_test_shared_path(bpe, sizeof(bpe), "golden/dynamicrafter/bpe_simple_vocab_16e6.txt.gz");
    pc_error err;
    pc_checkpoint *g;
    pc_test_ok(pc_checkpoint_open(&g, gp, &err), &err, "open viewcrafter_ddim.safetensors");
    const int64_t T = 5, H = 128, W = 192, h = 16, w = 24, E = 4, n = E * T * h * w, L = 141, D = 64;

    // ---- 1. schedule and tables ----
    pc_viewcrafter_opts o;
    pc_viewcrafter_opts_default(&o);
    PC_CHECK(o.steps == 50 && o.eta == 1.0 && o.fs == 10 && o.cond_frame == 0 && o.sched.base_scale == 0.3 &&
                 o.ddim.cfg_scale == 7.5f && o.ddim.guidance_rescale == 0.7f &&
                 o.spacing == PC_DDIM_UNIFORM_TRAILING && !strcmp(o.prompt, "Rotating view of a scene"),
             "defaults = ViewCrafter run_diffusion (50 steps, eta 1, cfg 7.5, rescale 0.7, fs 10, base_scale 0.3)");
    pc_ddpm_schedule s;
    pc_test_ok(pc_ddpm_schedule_init(&s, &o.sched, &err), &err, "schedule (base 0.3)");
    PC_CHECK(s.n_scale == 1400, "scale_arr has 1400 entries (%d)", s.n_scale);
    pc_test_close("viewcrafter buffers.scale_arr", s.scale_arr, need(g, "buffers.scale_arr", 1400), 1400, 0.0, 1.2e-7);
    pc_ddim_table d5, d50;
    pc_test_ok(pc_ddim_table_init(&d5, &s, 5, PC_DDIM_UNIFORM_TRAILING, 1.0, 1, &err), &err, "ddim 5");
    pc_test_ok(pc_ddim_table_init(&d50, &s, 50, PC_DDIM_UNIFORM_TRAILING, 1.0, 1, &err), &err, "ddim 50");
    check_table(g, &d5, "ddim5");
    check_table(g, &d50, "ddim50");
    const float last_rescale = d5.scale_arr_prev[0] / d5.scale_arr[0];
    PC_CHECK(fabsf(last_rescale - 1.536f) < 1e-3f, "last step rescales pred_x0 by 1 / scale_arr[199] = %.4f",
             last_rescale);
    pc_ddim_table_free(&d50);

    // ---- 2. replay of the recorded model outputs ----
    const float *noise[5];
    for (int i = 0; i < 5; i++) {
        char k[32];
        snprintf(k, sizeof(k), "step%d.noise", i);
        noise[i] = need(g, k, n);
    }
    {
        replay_ctx rc = {g, (const int64_t *)need_t(g, "step.t", PC_I64, 5)->data, 5, n, 0};
        step_ctx sc = {g, n, 0, 0};
        pc_ddim_sample_opts so = o.ddim;
        so.x_T = need(g, "x_T", n);
        so.step_noise = noise;
        so.on_step = on_step;
        so.on_step_ctx = &sc;
        float *x = malloc(sizeof(float) * (size_t)n);
        pc_test_ok(pc_ddim_sample(x, 1, n, &s, &d5, &so, replay_model, &rc, &err), &err, "pc_ddim_sample (replay)");
        close_norm("viewcrafter replay samples", x, need(g, "samples", n), (size_t)n, 1e-6);
        PC_CHECK(rc.calls == 10 && sc.steps_seen == 5, "replay: 10 model calls, 5 steps (%d, %d)", rc.calls,
                 sc.steps_seen);
        free(x);
    }

    // ---- 3. full pipeline with the tiny models ----
    pc_checkpoint *uck, *cck;
    pc_test_ok(pc_checkpoint_open(&uck, up, &err), &err, "open unet_tiny.ckpt");
    pc_test_ok(pc_checkpoint_open(&cck, cp, &err), &err, "open clip_tiny.ckpt");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    pc_unet_config ucfg;
    pc_unet_config_default(&ucfg);
    ucfg.num_head_channels = 16;  // tiny config (meta_viewcrafter.json)
    pc_clip_config ccfg;
    pc_clip_config_default(&ccfg);
    ccfg.text_heads = 4;
    ccfg.vision_heads = 4;
    ccfg.resampler_heads = 3;
    pc_interp_models m = {0};
    pc_clip_tokenizer *tok;
    pc_test_ok(pc_unet_from_checkpoint(&m.unet, uck, NULL, &ucfg, pool, &err), &err, "bind UNet");
    pc_test_ok(pc_vae_load(&m.vae, vp, pool, &err), &err, "load VAE");
    pc_test_ok(pc_clip_from_checkpoint(&m.clip, cck, &ccfg, pool, &err), &err, "bind CLIP");
    pc_test_ok(pc_clip_tokenizer_load(&tok, bpe, &err), &err, "tokenizer");
    m.tok = tok;

    o.steps = 5;
    o.posterior_noise = need(g, "vae.posterior_noise", T * E * h * w);
    o.ddim.x_T = need(g, "x_T", n);
    o.ddim.step_noise = noise;
    step_ctx sc = {g, n, 1, 0};
    o.ddim.on_step = on_step;
    o.ddim.on_step_ctx = &sc;
    const float *renders = need(g, "videos", 3 * T * H * W);

    float *cond = malloc(sizeof(float) * (size_t)(2 * L * D + 2 * n + 6 * T * H * W));
    float *uncond = cond + L * D, *cc = uncond + L * D, *samples = cc + n, *video = samples + n,
          *ref_video = video + 3 * T * H * W;
    pc_interp_trace tr = {cond, uncond, cc, samples, 0, 0};
    pc_test_ok(pc_viewcrafter_run(&m, &o, video, renders, T, H, W, &tr, &err), &err, "pc_viewcrafter_run");
    PC_CHECK(tr.L == L && tr.ctx_dim == D && sc.steps_seen == 5, "context (%lld, %lld), 5 steps", (long long)tr.L,
             (long long)tr.ctx_dim);
    close_norm("viewcrafter cond.c_crossattn", cond, need(g, "cond.c_crossattn", L * D), (size_t)(L * D), 1e-4);
    close_norm("viewcrafter uncond.c_crossattn", uncond, need(g, "uncond.c_crossattn", L * D), (size_t)(L * D), 1e-4);
    close_norm("viewcrafter c_concat (all frames)", cc, need(g, "c_concat", n), (size_t)n, 1e-4);
    close_norm("viewcrafter samples (free-running, 5 steps)", samples, need(g, "samples", n), (size_t)n, 1e-3);
    pc_test_ok(pc_vae_decode_video(m.vae, ref_video, need(g, "samples", n), T, h, w, &err), &err,
               "decode golden samples");
    close_norm("viewcrafter decoded vs decode(golden samples)", video, ref_video, (size_t)(3 * T * H * W), 2e-3);

    // ---- 4. teacher-forced: the UNet on each recorded step input with the golden conditioning ----
    {
        float *xc = malloc(sizeof(float) * (size_t)(7 * n));
        float *vc = xc + 2 * n, *vu = vc + n, *v = vu + n, *x0 = v + n, *xo = x0 + n;
        const int64_t *st = (const int64_t *)need_t(g, "step.t", PC_I64, 5)->data;
        const int64_t fs = 10;
        PC_CHECK(((const int64_t *)need_t(g, "fs", PC_I64, 1)->data)[0] == fs, "golden fs = 10");
        memcpy(xc + n, need(g, "c_concat", n), sizeof(float) * (size_t)n);
        for (int i = 0; i < 5; i++) {
            char k[64], label[96];
            snprintf(k, sizeof(k), "step%d.x_in", i);
            memcpy(xc, need(g, k, n), sizeof(float) * (size_t)n);
            pc_test_ok(pc_unet_forward(m.unet, vc, xc, 1, T, h, w, &st[i], need(g, "cond.c_crossattn", L * D), L, &fs,
                                       &err),
                       &err, "UNet cond");
            pc_test_ok(pc_unet_forward(m.unet, vu, xc, 1, T, h, w, &st[i], need(g, "uncond.c_crossattn", L * D), L,
                                       &fs, &err),
                       &err, "UNet uncond");
            pc_ddim_cfg(v, vc, vu, 1, n, 7.5f, 0.0f);
            struct {
                const char *name;
                const float *got;
                double tol;
            } cols[] = {{"v_cond", vc, 1e-4}, {"v_uncond", vu, 1e-4}, {"v_cfg", v, 5e-4}};
            for (size_t j = 0; j < 3; j++) {
                snprintf(k, sizeof(k), "step%d.%s", i, cols[j].name);
                snprintf(label, sizeof(label), "viewcrafter teacher-forced %s", k);
                close_norm(label, cols[j].got, need(g, k, n), (size_t)n, cols[j].tol);
            }
            pc_ddim_cfg(v, vc, vu, 1, n, 7.5f, 0.7f);
            const pc_ddim_step_params p = pc_ddim_step_params_at(&d5, &s, i);
            snprintf(k, sizeof(k), "step%d.noise", i);
            pc_ddim_step(&p, 1, xo, x0, NULL, NULL, xc, v, need(g, k, n), n);
            struct {
                const char *name;
                const float *got;
            } c2[] = {{"v_guided", v}, {"pred_x0", x0}, {"x_out", xo}};
            for (size_t j = 0; j < 3; j++) {
                snprintf(k, sizeof(k), "step%d.%s", i, c2[j].name);
                snprintf(label, sizeof(label), "viewcrafter teacher-forced %s", k);
                close_norm(label, c2[j].got, need(g, k, n), (size_t)n, 5e-4);
            }
        }
        free(xc);
    }
    pc_ddim_table_free(&d5);
    pc_ddpm_schedule_free(&s);

    // seeded path (no injected noise anywhere), 1 step: runs and gives a finite video
    {
        pc_viewcrafter_opts o1;
        pc_viewcrafter_opts_default(&o1);
        o1.steps = 1;
        pc_test_ok(pc_viewcrafter_run(&m, &o1, video, renders, T, H, W, NULL, &err), &err, "seeded 1-step run");
        int finite = 1;
        for (int64_t i = 0; i < 3 * T * H * W; i++) finite &= isfinite(video[i]) != 0;
        PC_CHECK(finite, "seeded run: finite video");
    }

    // bad arguments are refused
    o.cond_frame = 5;
    PC_CHECK(pc_viewcrafter_run(&m, &o, video, renders, T, H, W, NULL, &err) == PC_ERR_ARG,
             "condition frame 5 of 5 refused: %s", err.msg);
    o.cond_frame = 0;
    PC_CHECK(pc_viewcrafter_run(&m, &o, video, renders, T, 100, W, NULL, &err) == PC_ERR_ARG, "H = 100 refused: %s",
             err.msg);
    PC_CHECK(pc_viewcrafter_run(&m, &o, video, renders, 0, H, W, NULL, &err) == PC_ERR_ARG, "T = 0 refused: %s",
             err.msg);

    free(cond);
    pc_clip_tokenizer_free(tok);
    pc_clip_free(m.clip);
    pc_vae_free(m.vae);
    pc_unet_free(m.unet);
    pc_pool_free(pool);
    pc_checkpoint_close(cck);
    pc_checkpoint_close(uck);
    pc_checkpoint_close(g);
    return pc_test_finish();
}
