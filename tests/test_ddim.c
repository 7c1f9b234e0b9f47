// DynamiCrafter DDPM schedule and DDIM sampler arithmetic vs ddim.safetensors (and ViewCrafter's
// variant vs viewcrafter_ddim.safetensors):
//   lvdm make_beta_schedule + rescale_zero_terminal_snr + register_schedule buffers, scale_arr;
//   DDIMSampler.make_schedule tables for 5 and 50 'uniform_trailing' steps (eta 1);
//   p_sample_ddim per step, teacher-forced from the recorded x_in, v_cond, v_uncond and noise:
//   CFG (7.5) + rescale_noise_cfg (0.7), v -> eps / x0, dynamic rescale, x_prev.
// Schedules: exact or <= 1 ulp (README §8). Per-step tensors: the formulas alone reproduce the golden to
// ~2.4e-7 (README §4.4); checked at 1e-6 normwise here (the UNet-included acceptance is 5e-4).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int close_norm(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    return pc_test_close(name, got, want, n, rtol * mx, 0.0);
}

static const pc_tensor *need(const pc_checkpoint *ck, const char *name, pc_dtype dt) {
    const pc_tensor *t = pc_checkpoint_find(ck, name);
    if (!t || t->dtype != dt || !pc_tensor_is_contiguous(t)) pc_test_fatal("golden tensor '%s' missing / wrong dtype", name);
    return t;
}

// Distance in units in the last place between two floats (0 when bit-identical or both zero).
static int64_t ulps(float a, float b) {
    if (a == b) return 0;
    if (isnan(a) || isnan(b)) return INT64_MAX;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return la > lb ? la - lb : lb - la;
}

static void check_ulps(const char *name, const float *got, const float *want, int64_t n, int64_t max_ulps) {
    int64_t worst = 0, at = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t u = ulps(got[i], want[i]);
        if (u > worst) {
            worst = u;
            at = i;
        }
    }
    PC_CHECK(worst <= max_ulps, "%-34s n=%lld worst %lld ulp (limit %lld) at [%lld]: got %.9g want %.9g", name,
             (long long)n, (long long)worst, (long long)max_ulps, (long long)at, (double)got[at], (double)want[at]);
}

static void check_buffers(const pc_checkpoint *g, const pc_ddpm_schedule *s) {
    const int T = s->T;
    PC_CHECK(T == 1000, "T = %d", T);
    pc_test_close_f64("sched.betas_f64", s->betas_f64, (const double *)need(g, "sched.betas_f64", PC_F64)->data,
                      (size_t)T, 1e-15, 1e-12);
    pc_test_close_f64("sched.alphas_cumprod_f64", s->alphas_cumprod_f64,
                      (const double *)need(g, "sched.alphas_cumprod_f64", PC_F64)->data, (size_t)T, 1e-15, 1e-12);
    PC_CHECK(s->alphas_cumprod_f64[T - 1] == 0.0 && s->betas_f64[T - 1] == 1.0,
             "zero terminal SNR: alphas_cumprod[999] = %g, betas[999] = %.17g", s->alphas_cumprod_f64[T - 1],
             s->betas_f64[T - 1]);
    check_ulps("buffers.betas", s->betas, pc_tensor_f32(need(g, "buffers.betas", PC_F32)), T, 1);
    check_ulps("buffers.alphas_cumprod", s->alphas_cumprod, pc_tensor_f32(need(g, "buffers.alphas_cumprod", PC_F32)), T,
               1);
    check_ulps("buffers.alphas_cumprod_prev", s->alphas_cumprod_prev,
               pc_tensor_f32(need(g, "buffers.alphas_cumprod_prev", PC_F32)), T, 1);
    check_ulps("buffers.sqrt_alphas_cumprod", s->sqrt_alphas_cumprod,
               pc_tensor_f32(need(g, "buffers.sqrt_alphas_cumprod", PC_F32)), T, 1);
    check_ulps("buffers.sqrt_one_minus_alphas_cumprod", s->sqrt_one_minus_alphas_cumprod,
               pc_tensor_f32(need(g, "buffers.sqrt_one_minus_alphas_cumprod", PC_F32)), T, 1);
}

static void check_table(const pc_checkpoint *g, const char *tag, const pc_ddim_table *d, int S) {
    char k[64], label[96];
    PC_CHECK(d->S == S, "%s: %d steps (want %d)", tag, d->S, S);
    if (d->S != S) return;
    snprintf(k, sizeof(k), "%s.timesteps", tag);
    const int64_t *ts = (const int64_t *)need(g, k, PC_I64)->data;
    int same = 1;
    for (int i = 0; i < S; i++) same &= d->timesteps[i] == ts[i];
    PC_CHECK(same, "%s: timesteps exact (%lld, %lld, ..., %lld)", k, (long long)d->timesteps[0],
             (long long)d->timesteps[S > 1 ? 1 : 0], (long long)d->timesteps[S - 1]);
    struct {
        const char *name;
        const float *got;
    } cols[] = {{"alphas", d->alphas},
                {"alphas_prev", d->alphas_prev},
                {"sigmas", d->sigmas},
                {"sqrt_one_minus_alphas", d->sqrt_one_minus_alphas},
                {"scale_arr", d->scale_arr},
                {"scale_arr_prev", d->scale_arr_prev}};
    for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
        snprintf(k, sizeof(k), "%s.%s", tag, cols[c].name);
        snprintf(label, sizeof(label), "%s", k);
        check_ulps(label, cols[c].got, pc_tensor_f32(need(g, k, PC_F32)), S, 1);
    }
}

// Teacher-forced p_sample_ddim of every recorded step.
static void check_steps(const pc_checkpoint *g, const char *file, const pc_ddim_table *d, const pc_ddpm_schedule *s) {
    const int S = d->S;
    const int64_t *st = (const int64_t *)need(g, "step.t", PC_I64)->data;
    const int64_t *si = (const int64_t *)need(g, "step.index", PC_I64)->data;
    float sc[6][8];
    const char *names[6] = {"step.a_t", "step.a_prev", "step.sigma_t", "step.sqrt_one_minus_at", "step.scale_t",
                            "step.prev_scale_t"};
    int ok_ts = 1;
    for (int i = 0; i < S && i < 8; i++) {
        pc_ddim_step_params p = pc_ddim_step_params_at(d, s, i);
        ok_ts &= p.t == st[i] && p.index == si[i];
        sc[0][i] = p.a_t;
        sc[1][i] = p.a_prev;
        sc[2][i] = p.sigma_t;
        sc[3][i] = p.sqrt_one_minus_at;
        sc[4][i] = p.scale_t;
        sc[5][i] = p.prev_scale_t;
    }
    PC_CHECK(ok_ts, "%s: step.t / step.index exact (t = %lld first, %lld last)", file, (long long)st[0],
             (long long)st[S - 1]);
    char label[128];
    for (int c = 0; c < 6; c++) {
        snprintf(label, sizeof(label), "%s %s", file, names[c]);
        check_ulps(label, sc[c], pc_tensor_f32(need(g, names[c], PC_F32)), S, 0);
    }

    const pc_tensor *x0t = need(g, "step0.x_in", PC_F32);
    const int64_t n = pc_tensor_numel(x0t);  // batch 1: (1, 4, T, h, w)
    float *buf = malloc(sizeof(float) * (size_t)n * 6);
    float *vcfg = buf, *e = buf + n, *px0r = buf + 2 * n, *px0 = buf + 3 * n, *xo = buf + 4 * n, *tmp = buf + 5 * n;
    for (int i = 0; i < S; i++) {
        char k[64];
#define G(nm) (snprintf(k, sizeof(k), "step%d." nm, i), pc_tensor_f32(need(g, k, PC_F32)))
        const float *x = G("x_in"), *vc = G("v_cond"), *vu = G("v_uncond"), *nz = G("noise");
        pc_ddim_step_params p = pc_ddim_step_params_at(d, s, i);
        // plain CFG, then with guidance_rescale (in place on a copy: out may alias v_cond)
        pc_ddim_cfg(vcfg, vc, vu, 1, n, 7.5f, 0.0f);
        snprintf(label, sizeof(label), "%s step%d.v_cfg", file, i);
        close_norm(label, vcfg, G("v_cfg"), (size_t)n, 1e-6);
        memcpy(tmp, vc, sizeof(float) * (size_t)n);
        pc_ddim_cfg(tmp, tmp, vu, 1, n, 7.5f, 0.7f);
        snprintf(label, sizeof(label), "%s step%d.v_guided", file, i);
        close_norm(label, tmp, G("v_guided"), (size_t)n, 1e-6);
        pc_ddim_step(&p, 1, xo, px0, e, px0r, x, tmp, nz, n);
        snprintf(label, sizeof(label), "%s step%d.e_t", file, i);
        close_norm(label, e, G("e_t"), (size_t)n, 1e-6);
        snprintf(label, sizeof(label), "%s step%d.pred_x0_raw", file, i);
        close_norm(label, px0r, G("pred_x0_raw"), (size_t)n, 1e-6);
        snprintf(label, sizeof(label), "%s step%d.pred_x0", file, i);
        close_norm(label, px0, G("pred_x0"), (size_t)n, 1e-6);
        snprintf(label, sizeof(label), "%s step%d.x_out", file, i);
        close_norm(label, xo, G("x_out"), (size_t)n, 1e-6);
        // the standalone v conversions agree with the step
        pc_ddim_eps_from_v(vcfg, x, tmp, p.sqrt_ac_t, p.sqrt_1m_ac_t, n);
        int same = !memcmp(vcfg, e, sizeof(float) * (size_t)n);
        pc_ddim_x0_from_v(vcfg, x, tmp, p.sqrt_ac_t, p.sqrt_1m_ac_t, n);
        same &= !memcmp(vcfg, px0r, sizeof(float) * (size_t)n);
        PC_CHECK(same, "%s step%d: pc_ddim_eps_from_v / x0_from_v bit-identical to the step's e_t / pred_x0_raw", file, i);
        int finite = 1;
        for (int64_t j = 0; j < n; j++) finite &= isfinite(xo[j]) != 0;
        PC_CHECK(finite, "%s step%d: x_out finite (dir coefficient %.9g at t = %lld)", file, i,
                 (double)sqrtf(fmaxf(0.0f, (1.0f - p.a_prev) - p.sigma_t * p.sigma_t)), (long long)p.t);
#undef G
    }
    free(buf);
}

static void test_dynamicrafter(void) {
    char path[1024];
    pc_test_shared_path(path, sizeof(path), "golden/dynamicrafter/ddim.safetensors");
    pc_error err;
    pc_checkpoint *g;
    pc_test_ok(pc_checkpoint_open(&g, path, &err), &err, "open ddim.safetensors");
    pc_ddpm_config cfg;
    pc_ddpm_config_default(&cfg);
    pc_ddpm_schedule s;
    pc_test_ok(pc_ddpm_schedule_init(&s, &cfg, &err), &err, "schedule");
    check_buffers(g, &s);
    check_ulps("buffers.scale_arr", s.scale_arr, pc_tensor_f32(need(g, "buffers.scale_arr", PC_F32)), 1400, 0);
    pc_ddim_table d5, d50;
    pc_test_ok(pc_ddim_table_init(&d5, &s, 5, PC_DDIM_UNIFORM_TRAILING, 1.0, 0, &err), &err, "ddim 5");
    pc_test_ok(pc_ddim_table_init(&d50, &s, 50, PC_DDIM_UNIFORM_TRAILING, 1.0, 0, &err), &err, "ddim 50");
    check_table(g, "ddim5", &d5, 5);
    check_table(g, "ddim50", &d50, 50);
    // README §6.7: the direction coefficient at t = 999 is exactly 0 (5 steps) / 5.96e-8 (50 steps) in float32
    pc_ddim_step_params p5 = pc_ddim_step_params_at(&d5, &s, 0), p50 = pc_ddim_step_params_at(&d50, &s, 0);
    float c5 = (1.0f - p5.a_prev) - p5.sigma_t * p5.sigma_t, c50 = (1.0f - p50.a_prev) - p50.sigma_t * p50.sigma_t;
    PC_CHECK(c5 == 0.0f && fabsf(c50 - 5.96e-8f) < 1e-9f, "1 - a_prev - sigma^2 at t = 999: %.3g (5 steps), %.3g (50)",
             (double)c5, (double)c50);
    check_steps(g, "ddim", &d5, &s);
    pc_ddim_table_free(&d5);
    pc_ddim_table_free(&d50);

    // 'uniform' spacing (upstream default): range(0, 1000, 20) + 1
    pc_ddim_table du;
    pc_test_ok(pc_ddim_table_init(&du, &s, 50, PC_DDIM_UNIFORM, 0.0, 0, &err), &err, "ddim 50 uniform");
    PC_CHECK(du.S == 50 && du.timesteps[0] == 1 && du.timesteps[49] == 981 && du.sigmas[10] == 0.0f,
             "uniform spacing: 1 .. 981, eta 0 gives sigma 0");
    pc_ddim_table_free(&du);
    // upstream would index past the schedule ('uniform', 3 steps -> 1, 334, 667, 1000): refused
    PC_CHECK(pc_ddim_table_init(&du, &s, 3, PC_DDIM_UNIFORM, 1.0, 0, &err) == PC_ERR_ARG, "uniform 3 steps refused: %s",
             err.msg);
    PC_CHECK(pc_ddim_table_init(&du, &s, 0, PC_DDIM_UNIFORM_TRAILING, 1.0, 0, &err) == PC_ERR_ARG, "0 steps refused");
    pc_ddpm_schedule_free(&s);
    pc_checkpoint_close(g);
}

static void test_viewcrafter(void) {
    char path[1024];
    pc_test_shared_path(path, sizeof(path), "golden/dynamicrafter/viewcrafter_ddim.safetensors");
    pc_error err;
    pc_checkpoint *g;
    pc_test_ok(pc_checkpoint_open(&g, path, &err), &err, "open viewcrafter_ddim.safetensors");
    pc_ddpm_config cfg;
    pc_ddpm_config_default(&cfg);
    cfg.base_scale = 0.3;
    pc_ddpm_schedule s;
    pc_test_ok(pc_ddpm_schedule_init(&s, &cfg, &err), &err, "schedule (base 0.3)");
    check_ulps("viewcrafter buffers.scale_arr", s.scale_arr, pc_tensor_f32(need(g, "buffers.scale_arr", PC_F32)), 1400, 0);
    pc_ddim_table d5, d50;
    pc_test_ok(pc_ddim_table_init(&d5, &s, 5, PC_DDIM_UNIFORM_TRAILING, 1.0, 1, &err), &err, "ddim 5");
    pc_test_ok(pc_ddim_table_init(&d50, &s, 50, PC_DDIM_UNIFORM_TRAILING, 1.0, 1, &err), &err, "ddim 50");
    check_table(g, "ddim5", &d5, 5);
    check_table(g, "ddim50", &d50, 50);
    check_steps(g, "viewcrafter", &d5, &s);
    pc_ddim_table_free(&d5);
    pc_ddim_table_free(&d50);
    pc_ddpm_schedule_free(&s);
    pc_checkpoint_close(g);
}

static void test_randn(void) {
    enum { N = 200000 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    pc_randn r;
    pc_randn_seed(&r, 12306);
    pc_randn_fill(&r, x, N / 2);
    pc_randn_fill(&r, x + N / 2, N / 2);  // split fills continue the same stream
    pc_randn_seed(&r, 12306);
    pc_randn_fill(&r, y, N);
    PC_CHECK(!memcmp(x, y, sizeof(float) * N), "randn: same seed, same stream");
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += x[i];
    m /= N;
    for (int i = 0; i < N; i++) v += (x[i] - m) * (x[i] - m);
    v /= N - 1;
    PC_CHECK(fabs(m) < 0.01 && fabs(v - 1.0) < 0.02, "randn: mean %.4f, variance %.4f", m, v);
    free(x);
    free(y);
}

int main(void) {
    test_randn();
    test_dynamicrafter();
    test_viewcrafter();
    return pc_test_finish();
}
