// DDPM noise schedule and DDIM sampler arithmetic of DynamiCrafter (lvdm/models/ddpm3d.py
// DDPM.register_schedule, LatentVisualDiffusion.__init__ scale_arr; lvdm/models/utils_diffusion.py
// make_beta_schedule, rescale_zero_terminal_snr, make_ddim_timesteps, make_ddim_sampling_parameters,
// rescale_noise_cfg; lvdm/models/samplers/ddim.py DDIMSampler.make_schedule / p_sample_ddim).
//
// Precision follows upstream: the schedule in float64 (numpy / torch.float64) cast to float32 buffers;
// the sampler tables mix float32 torch tensors and float64 numpy arrays exactly as upstream does; every
// per-step operation is float32 in upstream's order (the build is ISO C: no FMA contraction).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"
#include "posecrafter/diffusion.h"

void pc_ddpm_config_default(pc_ddpm_config *cfg) {
    cfg->timesteps = 1000;
    cfg->linear_start = 0.00085;
    cfg->linear_end = 0.012;
    cfg->rescale_zero_snr = 1;
    cfg->use_dynamic_rescale = 1;
    cfg->base_scale = 0.7;
    cfg->turning_step = 400;
}

void pc_ddpm_schedule_free(pc_ddpm_schedule *s) {
    if (!s) return;
    free(s->betas_f64);
    free(s->scale_arr);
    memset(s, 0, sizeof(*s));
}

// torch.linspace(start, end, steps, dtype=float64): the CPU kernel fills the first half forward from
// start and the second half backward from end.
static void torch_linspace(double *y, double start, double end, int n) {
    if (n == 1) {
        y[0] = start;
        return;
    }
    const double step = (end - start) / (double)(n - 1);
    const int half = n / 2;
    for (int i = 0; i < n; i++) y[i] = i < half ? start + step * (double)i : end - step * (double)(n - i - 1);
}

// np.linspace(start, stop, num) (endpoint=True): y[i] = i * step + start, y[-1] = stop.
static void np_linspace(double *y, double start, double stop, int n) {
    if (n == 1) {
        y[0] = start;
        return;
    }
    const double step = (stop - start) / (double)(n - 1);
    for (int i = 0; i < n; i++) y[i] = (double)i * step + start;
    y[n - 1] = stop;
}

pc_status pc_ddpm_schedule_init(pc_ddpm_schedule *s, const pc_ddpm_config *cfg, pc_error *err) {
    memset(s, 0, sizeof(*s));
    const int T = cfg->timesteps;
    if (T < 2 || T > 100000) return pc_err(err, PC_ERR_ARG, "DDPM schedule: timesteps = %d out of range [2, 100000]", T);
    if (!(cfg->linear_start > 0) || !(cfg->linear_end > cfg->linear_start) || !(cfg->linear_end < 1))
        return pc_err(err, PC_ERR_ARG, "DDPM schedule: need 0 < linear_start (%g) < linear_end (%g) < 1",
                      cfg->linear_start, cfg->linear_end);
    if (cfg->use_dynamic_rescale && (cfg->turning_step < 1 || cfg->turning_step > 100000 || !(cfg->base_scale > 0)))
        return pc_err(err, PC_ERR_ARG, "DDPM schedule: dynamic rescale needs turning_step >= 1 and base_scale > 0");
    // one block: 2 double arrays + 5 float arrays
    char *blk = (char *)calloc(1, (size_t)T * (2 * sizeof(double) + 5 * sizeof(float)));
    if (!blk) return pc_err(err, PC_ERR_MEMORY, "DDPM schedule: out of memory");
    s->T = T;
    s->betas_f64 = (double *)blk;
    s->alphas_cumprod_f64 = s->betas_f64 + T;
    float *f = (float *)(s->alphas_cumprod_f64 + T);
    s->betas = f;
    s->alphas_cumprod = f + T;
    s->alphas_cumprod_prev = f + 2 * T;
    s->sqrt_alphas_cumprod = f + 3 * T;
    s->sqrt_one_minus_alphas_cumprod = f + 4 * T;

    double *b = s->betas_f64, *ac = s->alphas_cumprod_f64;
    // make_beta_schedule('linear'): linspace(start ** 0.5, end ** 0.5, T, float64) ** 2
    torch_linspace(b, pow(cfg->linear_start, 0.5), pow(cfg->linear_end, 0.5), T);
    for (int i = 0; i < T; i++) b[i] = b[i] * b[i];
    if (cfg->rescale_zero_snr) {
        // rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1), numpy float64; ac is scratch here
        double prod = 1.0;
        for (int i = 0; i < T; i++) {
            prod *= 1.0 - b[i];
            ac[i] = sqrt(prod);  // alphas_bar_sqrt
        }
        const double a0 = ac[0], aT = ac[T - 1];
        for (int i = 0; i < T; i++) ac[i] -= aT;
        const double k = a0 / (a0 - aT);
        for (int i = 0; i < T; i++) ac[i] *= k;
        for (int i = 0; i < T; i++) ac[i] = ac[i] * ac[i];  // alphas_bar
        // alphas = cat(ab[0:1], ab[1:] / ab[:-1]); betas = 1 - alphas (back to front: ac still needed)
        for (int i = T - 1; i >= 1; i--) b[i] = 1.0 - ac[i] / ac[i - 1];
        b[0] = 1.0 - ac[0];
    }
    // register_schedule: alphas_cumprod = np.cumprod(1 - betas)
    double prod = 1.0;
    for (int i = 0; i < T; i++) {
        prod *= 1.0 - b[i];
        ac[i] = prod;
    }
    for (int i = 0; i < T; i++) {
        s->betas[i] = (float)b[i];
        s->alphas_cumprod[i] = (float)ac[i];
        s->alphas_cumprod_prev[i] = (float)(i ? ac[i - 1] : 1.0);
        s->sqrt_alphas_cumprod[i] = (float)sqrt(ac[i]);
        s->sqrt_one_minus_alphas_cumprod[i] = (float)sqrt(1.0 - ac[i]);
    }
    if (cfg->use_dynamic_rescale) {
        // scale_arr = cat(np.linspace(1.0, base, turning_step), np.full(T, base)), float32
        const int n = cfg->turning_step + T;
        s->scale_arr = (float *)malloc((size_t)n * sizeof(float));
        double *tmp = (double *)malloc((size_t)cfg->turning_step * sizeof(double));
        if (!s->scale_arr || !tmp) {
            free(tmp);
            pc_ddpm_schedule_free(s);
            return pc_err(err, PC_ERR_MEMORY, "DDPM schedule: out of memory");
        }
        np_linspace(tmp, 1.0, cfg->base_scale, cfg->turning_step);
        for (int i = 0; i < cfg->turning_step; i++) s->scale_arr[i] = (float)tmp[i];
        for (int i = cfg->turning_step; i < n; i++) s->scale_arr[i] = (float)cfg->base_scale;
        free(tmp);
        s->n_scale = n;
    }
    return PC_OK;
}

void pc_ddim_table_free(pc_ddim_table *d) {
    if (!d) return;
    free(d->timesteps);
    memset(d, 0, sizeof(*d));
}

// make_ddim_timesteps; returns the count (may differ from S for 'uniform', as upstream) or -1.
static int ddim_timesteps(int64_t *ts, int cap, int S, int T, pc_ddim_spacing sp) {
    int n = 0;
    if (sp == PC_DDIM_UNIFORM) {
        // c = T // S; range(0, T, c) + 1
        const int c = T / S;
        if (c < 1) return -1;
        for (int t = 0; t < T; t += c) {
            if (n >= cap) return -1;
            ts[n++] = t + 1;
        }
        return n;
    }
    // uniform_trailing: np.flip(np.round(np.arange(T, 0, -c))).astype(int64) - 1, c = T / S.
    // np.arange with a float step: length ceil((stop - start) / step); element 1 = start + step,
    // element i >= 2 = start + i * (element1 - start).
    const double c = (double)T / (double)S, start = (double)T, step = -c;
    const double len_d = ceil((0.0 - start) / step);
    if (!(len_d >= 1) || len_d > cap) return -1;
    n = (int)len_d;
    const double d1 = (start + step) - start;
    for (int i = 0; i < n; i++) {
        double v = i == 0 ? start : (i == 1 ? start + step : start + (double)i * d1);
        ts[n - 1 - i] = (int64_t)nearbyint(v) - 1;  // np.round: half to even (default rounding mode)
    }
    return n;
}

pc_status pc_ddim_table_init(pc_ddim_table *d, const pc_ddpm_schedule *s, int S, pc_ddim_spacing spacing, double eta,
                             int prev0_is_one, pc_error *err) {
    memset(d, 0, sizeof(*d));
    if (!s || !s->alphas_cumprod) return pc_err(err, PC_ERR_ARG, "DDIM: schedule not initialised");
    if (S < 1 || S > s->T) return pc_err(err, PC_ERR_ARG, "DDIM: %d steps out of range [1, %d]", S, s->T);
    if (spacing != PC_DDIM_UNIFORM && spacing != PC_DDIM_UNIFORM_TRAILING)
        return pc_err(err, PC_ERR_ARG, "DDIM: unknown timestep spacing %d", (int)spacing);
    if (!(eta >= 0) || eta > 100) return pc_err(err, PC_ERR_ARG, "DDIM: eta = %g out of range", eta);
    const int cap = s->T + 2;
    // one block: timesteps (int64) + sigmas_f64 (double) + 6 float arrays
    char *blk = (char *)calloc(1, (size_t)cap * (sizeof(int64_t) + sizeof(double) + 6 * sizeof(float)));
    if (!blk) return pc_err(err, PC_ERR_MEMORY, "DDIM: out of memory");
    d->timesteps = (int64_t *)blk;
    d->sigmas_f64 = (double *)(d->timesteps + cap);
    float *f = (float *)(d->sigmas_f64 + cap);
    d->alphas = f;
    d->alphas_prev = f + cap;
    d->sigmas = f + 2 * cap;
    d->sqrt_one_minus_alphas = f + 3 * cap;
    int n = ddim_timesteps(d->timesteps, cap, S, s->T, spacing);
    if (n < 1) {
        pc_ddim_table_free(d);
        return pc_err(err, PC_ERR_ARG, "DDIM: cannot make %d timesteps over %d", S, s->T);
    }
    for (int i = 0; i < n; i++)
        if (d->timesteps[i] < 0 || d->timesteps[i] >= s->T) {
            long long t = (long long)d->timesteps[i];
            pc_ddim_table_free(d);
            return pc_err(err, PC_ERR_ARG, "DDIM: %d steps give timestep %lld outside [0, %d)", S, t, s->T);
        }
    d->S = n;
    const float *ac = s->alphas_cumprod;  // the float32 model buffer, as DDIMSampler reads it
    for (int i = 0; i < n; i++) {
        const float a = ac[d->timesteps[i]];
        const double ap = (double)(i ? ac[d->timesteps[i - 1]] : ac[0]);  // numpy float64 of float32 values
        d->alphas[i] = a;
        d->alphas_prev[i] = (float)ap;
        // sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev)):
        // 1 - alphas is a float32 torch op; ndarray / tensor runs Tensor.__rtruediv__, which is
        // self.reciprocal() * other: a float32 reciprocal times the float64 array; the rest is float64.
        const float one_m_a = 1.0f - a;
        const float recip = 1.0f / one_m_a;
        const double q = (double)recip * (1.0 - ap);
        const double r = 1.0 - (double)a / ap;
        d->sigmas_f64[i] = eta * sqrt(q * r);
        d->sigmas[i] = (float)d->sigmas_f64[i];
        d->sqrt_one_minus_alphas[i] = sqrtf(1.0f - a);  // np.sqrt(1. - ddim_alphas) on a float32 tensor
    }
    if (s->scale_arr) {
        d->scale_arr = f + 4 * cap;
        d->scale_arr_prev = f + 5 * cap;
        for (int i = 0; i < n; i++) d->scale_arr[i] = s->scale_arr[d->timesteps[i]];
        // DynamiCrafter: cat([arr[0:1], arr[:-1]]); ViewCrafter: prev[0] = scale_arr[0]
        d->scale_arr_prev[0] = prev0_is_one ? s->scale_arr[0] : d->scale_arr[0];
        for (int i = 1; i < n; i++) d->scale_arr_prev[i] = d->scale_arr[i - 1];
    }
    return PC_OK;
}

pc_ddim_step_params pc_ddim_step_params_at(const pc_ddim_table *d, const pc_ddpm_schedule *s, int i) {
    pc_ddim_step_params p;
    memset(&p, 0, sizeof(p));
    if (i < 0) i = 0;
    if (i >= d->S) i = d->S - 1;
    const int index = d->S - 1 - i;  // ddim_sampling: index = total_steps - i - 1
    p.index = index;
    p.t = d->timesteps[index];
    p.a_t = d->alphas[index];
    p.a_prev = d->alphas_prev[index];
    p.sigma_t = d->sigmas[index];
    p.sqrt_one_minus_at = d->sqrt_one_minus_alphas[index];
    p.dynamic_rescale = d->scale_arr != NULL;
    p.scale_t = d->scale_arr ? d->scale_arr[index] : 1.0f;
    p.prev_scale_t = d->scale_arr ? d->scale_arr_prev[index] : 1.0f;
    p.sqrt_ac_t = s->sqrt_alphas_cumprod[p.t];
    p.sqrt_1m_ac_t = s->sqrt_one_minus_alphas_cumprod[p.t];
    return p;
}

// torch.std (unbiased) of n float32 values, accumulated in double, rounded to float32.
static float std_unbiased(const float *x, int64_t n) {
    if (n < 2) return NAN;  // torch gives nan for one element
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const double mean = sum / (double)n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double dv = (double)x[i] - mean;
        ss += dv * dv;
    }
    return (float)sqrt(ss / (double)(n - 1));
}

void pc_ddim_cfg(float *out, const float *v_cond, const float *v_uncond, int64_t B, int64_t n, float scale,
                 float guidance_rescale) {
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * n;
        const float *c = v_cond + b * n, *u = v_uncond + b * n;
        // std(c) first: out may alias v_cond
        const float std_c = guidance_rescale > 0.0f ? std_unbiased(c, n) : 0.0f;
        // model_output = e_t_uncond + scale * (e_t_cond - e_t_uncond)
        for (int64_t i = 0; i < n; i++) {
            const float diff = c[i] - u[i];
            const float sd = scale * diff;
            o[i] = u[i] + sd;
        }
        if (guidance_rescale > 0.0f) {
            // rescale_noise_cfg: r * cfg * (std_text / std_cfg) + (1 - r) * cfg
            const float std_cfg = std_unbiased(o, n);
            const float ratio = std_c / std_cfg;
            const float keep = (float)(1.0 - (double)guidance_rescale);
            for (int64_t i = 0; i < n; i++) {
                const float resc = o[i] * ratio;
                const float a = guidance_rescale * resc;
                const float bb = keep * o[i];
                o[i] = a + bb;
            }
        }
    }
}

void pc_ddim_eps_from_v(float *e, const float *x, const float *v, float sqrt_ac, float sqrt_1m_ac, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float a = sqrt_ac * v[i];
        const float b = sqrt_1m_ac * x[i];
        e[i] = a + b;
    }
}

void pc_ddim_x0_from_v(float *x0, const float *x, const float *v, float sqrt_ac, float sqrt_1m_ac, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float a = sqrt_ac * x[i];
        const float b = sqrt_1m_ac * v[i];
        x0[i] = a - b;
    }
}

void pc_ddim_step(const pc_ddim_step_params *p, int v_param, float *x_prev, float *pred_x0, float *e_t,
                  float *pred_x0_raw, const float *x, const float *model_out, const float *noise, int64_t n) {
    // float32 scalars as p_sample_ddim builds them with torch.full
    const float rescale = p->dynamic_rescale ? p->prev_scale_t / p->scale_t : 1.0f;
    const float sig2 = p->sigma_t * p->sigma_t;
    const float one_m_ap = 1.0f - p->a_prev;
    float dir_arg = one_m_ap - sig2;
    if (dir_arg < 0.0f) dir_arg = 0.0f;  // exactly 0 (or 5.96e-8) at t = T-1; never let rounding make a NaN
    const float dir_coef = sqrtf(dir_arg);
    const float sqrt_ap = sqrtf(p->a_prev);
    const float sqrt_at = sqrtf(p->a_t);
    for (int64_t i = 0; i < n; i++) {
        const float xi = x[i], mo = model_out[i];
        float e, x0;
        if (v_param) {
            const float e1 = p->sqrt_ac_t * mo, e2 = p->sqrt_1m_ac_t * xi;
            e = e1 + e2;  // predict_eps_from_z_and_v
            const float x1 = p->sqrt_ac_t * xi, x2 = p->sqrt_1m_ac_t * mo;
            x0 = x1 - x2;  // predict_start_from_z_and_v
        } else {
            e = mo;
            const float t1 = p->sqrt_one_minus_at * e;
            x0 = (xi - t1) / sqrt_at;
        }
        if (e_t) e_t[i] = e;
        if (pred_x0_raw) pred_x0_raw[i] = x0;
        if (p->dynamic_rescale) x0 = x0 * rescale;
        if (pred_x0) pred_x0[i] = x0;
        const float dir_xt = dir_coef * e;
        const float nz = noise ? p->sigma_t * noise[i] : 0.0f;
        const float a = sqrt_ap * x0;
        const float s = a + dir_xt;
        x_prev[i] = s + nz;
    }
}

// ---- seeded normal generator -------------------------------------------------------------------

static uint64_t rn_next(pc_randn *r) { return pc_splitmix64(&r->state); }

void pc_randn_seed(pc_randn *r, uint64_t seed) {
    r->state = seed;
    r->has_spare = 0;
    r->spare = 0.0;
}

void pc_randn_fill(pc_randn *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (r->has_spare) {
            r->has_spare = 0;
            x[i] = (float)r->spare;
            continue;
        }
        // Box-Muller on u1 in (0, 1], u2 in [0, 1)
        const double u1 = ((double)(rn_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
        const double u2 = (double)(rn_next(r) >> 11) * (1.0 / 9007199254740992.0);
        const double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        x[i] = (float)(rad * cos(th));
        r->spare = rad * sin(th);
        r->has_spare = 1;
    }
}
