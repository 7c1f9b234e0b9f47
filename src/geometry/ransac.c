// LO-RANSAC (see ransac.h); its sampling draws from core/rng.h.
#include "geometry/ransac.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pc_ransac_options_default(pc_ransac_options *o) {
    o->threshold = 1.0;
    o->confidence = 0.999;
    o->max_iters = 10000;
    o->min_iters = 50;
    o->lo_iters = 10;
    o->refine = 1;
    o->seed = 0;
}

// ---- LO-RANSAC ----------------------------------------------------------------------
// MSAC cost; stops early once it exceeds `bound`. *n_inl counts inliers seen.
static double msac_cost(const pc_ransac_problem *p, const double *model, double thr_sq, double bound, int *n_inl) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < p->n; i++) {
        double r = p->residual_sq(p->ctx, model, i);
        if (r < thr_sq) {
            s += r;
            k++;
        } else {
            s += thr_sq;
        }
        if (s > bound) break;
    }
    *n_inl = k;
    return s;
}

static int collect_inliers(const pc_ransac_problem *p, const double *model, double thr_sq, int *idx) {
    int k = 0;
    for (int i = 0; i < p->n; i++)
        if (p->residual_sq(p->ctx, model, i) < thr_sq) idx[k++] = i;
    return k;
}

static int iters_needed(int n_inl, int n, int s, double conf, int max_iters) {
    if (n <= 0 || n_inl <= 0) return max_iters;
    double w = (double)n_inl / n, ws = pow(w, s);
    if (ws >= 1.0 - 1e-15) return 0;
    if (!(ws > 0)) return max_iters;
    double k = log(1.0 - conf) / log1p(-ws);
    if (!(k < (double)max_iters)) return max_iters;
    return (int)ceil(k);
}

// Locally optimise `model` (cost *cost, inliers *n_inl) in place.
static void local_optimize(const pc_ransac_problem *p, const pc_ransac_options *opt, double thr_sq, double *model,
                           double *cost, int *n_inl, int *idx, int *sub, pc_rng *rng) {
    double cand[PC_RANSAC_MAX_MODEL];
    int ms = p->model_size;
    int n_in = collect_inliers(p, model, thr_sq, idx);
    for (int it = 0; it < opt->lo_iters; it++) {
        const int *use = idx;
        int n_use = n_in;
        if (it > 0) {
            // inner RANSAC: a random non-minimal subset of the current inliers
            int want = n_in / 2;
            if (want > 12 * p->sample_size) want = 12 * p->sample_size;
            if (want < p->refit_min) want = p->refit_min;
            if (want >= n_in) break;
            // partial Fisher-Yates on a copy
            memcpy(sub, idx, (size_t)n_in * sizeof(int));
            for (int k = 0; k < want; k++) {
                int j = k + (int)pc_rng_below(rng, (uint32_t)(n_in - k));
                int tmp = sub[k];
                sub[k] = sub[j];
                sub[j] = tmp;
            }
            use = sub;
            n_use = want;
        }
        if (n_use < p->refit_min) break;
        if (!p->refit(p->ctx, use, n_use, model, cand)) continue;
        // one more least-squares pass on the candidate's own inliers
        int nc;
        double c = msac_cost(p, cand, thr_sq, INFINITY, &nc);
        if (it > 0 && nc >= p->refit_min) {
            double cand2[PC_RANSAC_MAX_MODEL];
            int n2 = collect_inliers(p, cand, thr_sq, sub);
            if (n2 >= p->refit_min && p->refit(p->ctx, sub, n2, cand, cand2)) {
                int nc2;
                double c2 = msac_cost(p, cand2, thr_sq, INFINITY, &nc2);
                if (c2 < c) {
                    memcpy(cand, cand2, (size_t)ms * sizeof(double));
                    c = c2;
                    nc = nc2;
                }
            }
        }
        if (c < *cost) {
            memcpy(model, cand, (size_t)ms * sizeof(double));
            *cost = c;
            *n_inl = nc;
            n_in = collect_inliers(p, model, thr_sq, idx);
        } else if (it == 0) {
            // the plain refit did not help; still try the inner samples
            continue;
        }
    }
}

int pc_ransac_run(const pc_ransac_problem *p, const pc_ransac_options *opt, double thr_sq, double *best_model,
                  uint8_t *mask, pc_ransac_result *res) {
    pc_ransac_result r0 = {0, 0, 0, INFINITY};
    if (res) *res = r0;
    if (mask && p->n > 0) memset(mask, 0, (size_t)p->n);
    if (p->n < p->sample_size || p->sample_size > PC_RANSAC_MAX_SAMPLE || p->model_size > PC_RANSAC_MAX_MODEL ||
        p->sample_size < 1)
        return 0;
    int *idx = malloc(2 * (size_t)p->n * sizeof(int));
    if (!idx) return -1;
    int *sub = idx + p->n;
    pc_rng rng;
    pc_rng_seed(&rng, opt->seed);
    double models[PC_RANSAC_MAX_MODELS * PC_RANSAC_MAX_MODEL];
    double best_cost = INFINITY;
    int best_inl = 0, have = 0, n_lo = 0;
    int max_iters = opt->max_iters > 0 ? opt->max_iters : 1;
    int needed = max_iters, it;
    int sample[PC_RANSAC_MAX_SAMPLE];
    for (it = 0; it < max_iters; it++) {
        if (it >= needed && it >= opt->min_iters) break;
        // distinct random indices
        for (int k = 0; k < p->sample_size; k++) {
            int dup;
            do {
                sample[k] = (int)pc_rng_below(&rng, (uint32_t)p->n);
                dup = 0;
                for (int j = 0; j < k; j++) dup |= sample[j] == sample[k];
            } while (dup);
        }
        if (p->sample_ok && !p->sample_ok(p->ctx, sample)) continue;
        int nm = p->solve_minimal(p->ctx, sample, models);
        for (int m = 0; m < nm && m < PC_RANSAC_MAX_MODELS; m++) {
            double *model = models + m * p->model_size;
            int ninl;
            double c = msac_cost(p, model, thr_sq, best_cost, &ninl);
            if (!(c < best_cost)) continue;
            memcpy(best_model, model, (size_t)p->model_size * sizeof(double));
            best_cost = c;
            best_inl = ninl;
            have = 1;
            if (opt->lo_iters > 0 && ninl >= p->refit_min) {
                local_optimize(p, opt, thr_sq, best_model, &best_cost, &best_inl, idx, sub, &rng);
                n_lo++;
            }
            needed = iters_needed(best_inl, p->n, p->sample_size, opt->confidence, max_iters);
        }
    }
    int ok = have && best_inl >= p->sample_size;
    if (ok && mask)
        for (int i = 0; i < p->n; i++) mask[i] = p->residual_sq(p->ctx, best_model, i) < thr_sq;
    if (res) {
        res->n_inliers = ok ? best_inl : 0;
        res->iters = it;
        res->n_lo = n_lo;
        res->score = best_cost;
    }
    free(idx);
    return ok;
}
