// DDIM sampling loop of DynamiCrafter: lvdm/models/samplers/ddim.py DDIMSampler.sample -> ddim_sampling ->
// p_sample_ddim (classifier-free guidance with the unconditional branch, rescale_noise_cfg, v -> eps / x0,
// dynamic x0 rescale, eta noise). The per-step arithmetic lives in ddim.c; this file owns the loop, the
// order of the random draws (x_T first, then one draw per step, including the last) and the model calls
// (cond first, then uncond, as p_sample_ddim).
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "posecrafter/diffusion.h"

void pc_ddim_sample_opts_default(pc_ddim_sample_opts *o) {
    memset(o, 0, sizeof(*o));
    o->cfg_scale = 7.5f;
    o->guidance_rescale = 0.7f;
    o->v_param = 1;
    o->seed = 12306;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pc_status pc_ddim_sample(float *x, int64_t B, int64_t n, const pc_ddpm_schedule *s, const pc_ddim_table *d,
                         const pc_ddim_sample_opts *o, pc_ddim_model_fn model, void *model_ctx, pc_error *err) {
    if (!x || !s || !d || !o || !model) return pc_err(err, PC_ERR_ARG, "pc_ddim_sample: NULL argument");
    if (B < 1 || n < 2 || B > ((int64_t)1 << 40) / n)
        return pc_err(err, PC_ERR_ARG, "pc_ddim_sample: bad size B = %lld, n = %lld", (long long)B, (long long)n);
    if (d->S < 1 || !d->timesteps) return pc_err(err, PC_ERR_ARG, "pc_ddim_sample: DDIM table not initialised");
    for (int i = 0; i < d->S; i++)
        if (d->timesteps[i] < 0 || d->timesteps[i] >= s->T)
            return pc_err(err, PC_ERR_ARG, "pc_ddim_sample: timestep %lld outside the schedule (%d)",
                          (long long)d->timesteps[i], s->T);
    const int cfg = o->cfg_scale != 1.0f;  // p_sample_ddim: CFG unless the scale is exactly 1
    const int64_t N = B * n;
    // scratch: v_cond, v_uncond, v (guided), e_t, pred_x0_raw, pred_x0, noise, x_in copy; (B, n) each
    float *buf = (float *)malloc((size_t)N * 8 * sizeof(float));
    if (!buf) return pc_err(err, PC_ERR_MEMORY, "pc_ddim_sample: out of memory (%lld values)", (long long)(8 * N));
    float *vc = buf, *vu = buf + N, *v = buf + 2 * N, *e = buf + 3 * N, *x0r = buf + 4 * N, *x0 = buf + 5 * N,
          *nz = buf + 6 * N, *xin = buf + 7 * N;
    pc_randn rng;
    pc_randn_seed(&rng, o->seed);
    // ddim_sampling: img = torch.randn(shape) unless x_T is given
    if (o->x_T)
        memmove(x, o->x_T, (size_t)N * sizeof(float));
    else
        pc_randn_fill(&rng, x, N);
    const double t0 = now_s();
    pc_status st = PC_OK;
    for (int i = 0; i < d->S && st == PC_OK; i++) {
        const pc_ddim_step_params p = pc_ddim_step_params_at(d, s, i);
        memcpy(xin, x, (size_t)N * sizeof(float));
        st = model(model_ctx, vc, xin, B, p.t, 0, err);
        if (st != PC_OK) break;
        if (cfg) {
            st = model(model_ctx, vu, xin, B, p.t, 1, err);
            if (st != PC_OK) break;
            pc_ddim_cfg(v, vc, vu, B, n, o->cfg_scale, o->guidance_rescale);
        } else {
            memcpy(v, vc, (size_t)N * sizeof(float));
        }
        // noise_like(x.shape): one unit-normal draw per step (multiplied by sigma_t inside the step)
        const float *noise = nz;
        if (o->step_noise) {
            if (!o->step_noise[i]) {
                st = pc_err(err, PC_ERR_ARG, "pc_ddim_sample: injected noise of step %d is NULL", i);
                break;
            }
            noise = o->step_noise[i];
        } else {
            pc_randn_fill(&rng, nz, N);
        }
        pc_ddim_step(&p, o->v_param, x, x0, e, x0r, xin, v, noise, N);
        if (o->on_step) {
            pc_ddim_step_info info;
            memset(&info, 0, sizeof(info));
            info.i = i;
            info.S = d->S;
            info.p = p;
            info.x_in = xin;
            info.v_cond = vc;
            info.v_uncond = cfg ? vu : NULL;
            info.v_guided = v;
            info.e_t = e;
            info.pred_x0_raw = x0r;
            info.pred_x0 = x0;
            info.noise = noise;
            info.x_out = x;
            info.elapsed_s = now_s() - t0;
            if (o->on_step(o->on_step_ctx, &info))
                st = pc_err(err, PC_ERR_ARG, "DDIM sampling cancelled at step %d", i);
        }
    }
    free(buf);
    return st;
}
