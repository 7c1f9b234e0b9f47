// Robust two-view estimation from pixel correspondences: relative pose
// (essential, five-point LO-RANSAC + cheirality + Sampson refinement),
// fundamental matrix and homography (public API: posecrafter/geometry.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "geometry/linalg.h"
#include "geometry/ransac.h"
#include "geometry/solvers.h"

typedef struct {
    const double *xa, *xb;  // (n, 2)
    double *ga, *gb;        // gather buffers (n, 2)
} pair_ctx;

static void gather(pair_ctx *c, const int *idx, int k) {
    for (int i = 0; i < k; i++) {
        c->ga[2 * i] = c->xa[2 * idx[i]];
        c->ga[2 * i + 1] = c->xa[2 * idx[i] + 1];
        c->gb[2 * i] = c->xb[2 * idx[i]];
        c->gb[2 * i + 1] = c->xb[2 * idx[i] + 1];
    }
}

// A minimal sample with two coincident points (in either image) has a
// rank-deficient constraint matrix: its "solutions" are arbitrary.
static int distinct_sample(const pair_ctx *c, const int *s, int k, double min_d2) {
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            const double *a1 = c->xa + 2 * s[i], *a2 = c->xa + 2 * s[j];
            const double *b1 = c->xb + 2 * s[i], *b2 = c->xb + 2 * s[j];
            double da = (a1[0] - a2[0]) * (a1[0] - a2[0]) + (a1[1] - a2[1]) * (a1[1] - a2[1]);
            double db = (b1[0] - b2[0]) * (b1[0] - b2[0]) + (b1[1] - b2[1]) * (b1[1] - b2[1]);
            if (da <= min_d2 || db <= min_d2) return 0;
        }
    return 1;
}
// normalised coordinates: 1e-12 ~ (1e-6 of the focal length)^2
static int e_sample_ok(void *ctx, const int *s) { return distinct_sample(ctx, s, 5, 1e-12); }
// pixels
static int f_sample_ok(void *ctx, const int *s) { return distinct_sample(ctx, s, 7, 1e-6); }

// ---- essential estimator ----------------------------------------------------------
static int e_minimal(void *ctx, const int *s, double *models) {
    pair_ctx *c = ctx;
    double a[10], b[10];
    for (int i = 0; i < 5; i++) {
        a[2 * i] = c->xa[2 * s[i]], a[2 * i + 1] = c->xa[2 * s[i] + 1];
        b[2 * i] = c->xb[2 * s[i]], b[2 * i + 1] = c->xb[2 * s[i] + 1];
    }
    double E[10 * 9], R[9], t[3];
    int ne = pc_solve_essential_5pt(E, a, b), nk = 0;
    // keep only E with a factorisation that puts all 5 sample points in front
    // of both cameras (PoseLib checks cheirality on the sample the same way):
    // fewer, better models to score
    for (int k = 0; k < ne; k++)
        if (pc_essential_recover_pose(R, t, E + 9 * k, a, b, 5, NULL, NULL, 1e6) == 5)
            memcpy(models + 9 * nk++, E + 9 * k, 9 * sizeof(double));
    return nk;
}
static double epi_residual(void *ctx, const double *m, int i) {
    pair_ctx *c = ctx;
    return pc_sampson_sq(m, c->xa + 2 * i, c->xb + 2 * i);
}
static int e_refit(void *ctx, const int *idx, int k, const double *in, double *out) {
    pair_ctx *c = ctx;
    (void)in;
    gather(c, idx, k);
    return pc_solve_essential_8pt(out, c->ga, c->gb, NULL, k);
}

// ---- fundamental estimator -----------------------------------------------------------
static int f_minimal(void *ctx, const int *s, double *models) {
    pair_ctx *c = ctx;
    double a[14], b[14];
    for (int i = 0; i < 7; i++) {
        a[2 * i] = c->xa[2 * s[i]], a[2 * i + 1] = c->xa[2 * s[i] + 1];
        b[2 * i] = c->xb[2 * s[i]], b[2 * i + 1] = c->xb[2 * s[i] + 1];
    }
    return pc_solve_fundamental_7pt(models, a, b);
}
static int f_refit(void *ctx, const int *idx, int k, const double *in, double *out) {
    pair_ctx *c = ctx;
    (void)in;
    gather(c, idx, k);
    return pc_solve_fundamental_8pt(out, c->ga, c->gb, NULL, k);
}

// ---- homography estimator -------------------------------------------------------------
static int h_minimal(void *ctx, const int *s, double *models) {
    pair_ctx *c = ctx;
    double a[8], b[8];
    for (int i = 0; i < 4; i++) {
        a[2 * i] = c->xa[2 * s[i]], a[2 * i + 1] = c->xa[2 * s[i] + 1];
        b[2 * i] = c->xb[2 * s[i]], b[2 * i + 1] = c->xb[2 * s[i] + 1];
    }
    return pc_solve_homography_dlt(models, a, b, 4);
}
static double h_residual(void *ctx, const double *H, int i) {
    pair_ctx *c = ctx;
    const double *a = c->xa + 2 * i, *b = c->xb + 2 * i;
    double w = H[6] * a[0] + H[7] * a[1] + H[8];
    if (!(fabs(w) > 1e-12)) return 1e300;
    double u = (H[0] * a[0] + H[1] * a[1] + H[2]) / w - b[0];
    double v = (H[3] * a[0] + H[4] * a[1] + H[5]) / w - b[1];
    return u * u + v * v;
}
static int h_refit(void *ctx, const int *idx, int k, const double *in, double *out) {
    pair_ctx *c = ctx;
    (void)in;
    gather(c, idx, k);
    return pc_solve_homography_dlt(out, c->ga, c->gb, k);
}
static int collinear3(const double *x, int i, int j, int k) {
    double ux = x[2 * j] - x[2 * i], uy = x[2 * j + 1] - x[2 * i + 1];
    double vx = x[2 * k] - x[2 * i], vy = x[2 * k + 1] - x[2 * i + 1];
    double cr = fabs(ux * vy - uy * vx), nn = (ux * ux + uy * uy) + (vx * vx + vy * vy);
    return cr <= 1e-6 * nn;
}
static int h_sample_ok(void *ctx, const int *s) {
    pair_ctx *c = ctx;
    static const int tri[4][3] = {{0, 1, 2}, {0, 1, 3}, {0, 2, 3}, {1, 2, 3}};
    for (int t = 0; t < 4; t++) {
        int i = s[tri[t][0]], j = s[tri[t][1]], k = s[tri[t][2]];
        if (collinear3(c->xa, i, j, k) || collinear3(c->xb, i, j, k)) return 0;
    }
    return 1;
}

// ---- shared plumbing ----------------------------------------------------------------------
static pc_status check_pairs(const float *pa, const float *pb, int n, const pc_ransac_options *opt, pc_error *err) {
    if (n < 0) return pc_err(err, PC_ERR_ARG, "geometry: negative correspondence count %d", n);
    if (n > 0 && (!pa || !pb)) return pc_err(err, PC_ERR_ARG, "geometry: NULL point array");
    if (!opt) return pc_err(err, PC_ERR_ARG, "geometry: NULL options");
    if (!(opt->threshold > 0) || !isfinite(opt->threshold))
        return pc_err(err, PC_ERR_ARG, "geometry: threshold must be > 0 (got %g)", opt->threshold);
    if (!(opt->confidence > 0 && opt->confidence < 1))
        return pc_err(err, PC_ERR_ARG, "geometry: confidence must be in (0, 1) (got %g)", opt->confidence);
    for (int i = 0; i < 2 * n; i++)
        if (!isfinite(pa[i]) || !isfinite(pb[i]))
            return pc_err(err, PC_ERR_ARG, "geometry: non-finite coordinate at correspondence %d", i / 2);
    return PC_OK;
}

static pc_status alloc_ctx(pair_ctx *c, double **buf, int n, pc_error *err) {
    size_t cnt = (size_t)(n > 0 ? n : 1) * 8;
    *buf = malloc(cnt * sizeof(double));
    if (!*buf) return pc_err(err, PC_ERR_MEMORY, "geometry: out of memory for %d correspondences", n);
    c->xa = *buf;
    c->xb = *buf + 2 * (size_t)n;
    c->ga = *buf + 4 * (size_t)n;
    c->gb = *buf + 6 * (size_t)n;
    return PC_OK;
}

static pc_status robust_fit(double M[9], uint8_t *mask, int *n_inliers, const float *pa, const float *pb, int n,
                            const pc_ransac_options *opt, int kind, pc_error *err) {
    if (!M || !n_inliers) return pc_err(err, PC_ERR_ARG, "geometry: NULL output");
    pc_status st = check_pairs(pa, pb, n, opt, err);
    if (st != PC_OK) return st;
    memset(M, 0, 9 * sizeof(double));
    *n_inliers = 0;
    if (mask && n > 0) memset(mask, 0, (size_t)n);
    int need = kind == 0 ? 8 : 4;
    if (n < need) return PC_OK;
    pair_ctx c;
    double *buf;
    if ((st = alloc_ctx(&c, &buf, n, err)) != PC_OK) return st;
    double *xa = (double *)c.xa, *xb = (double *)c.xb;
    for (int i = 0; i < 2 * n; i++) xa[i] = pa[i], xb[i] = pb[i];
    pc_ransac_problem p = {0};
    p.n = n;
    p.model_size = 9;
    p.ctx = &c;
    if (kind == 0) {
        p.sample_size = 7;
        p.refit_min = 8;
        p.solve_minimal = f_minimal;
        p.residual_sq = epi_residual;
        p.refit = f_refit;
        p.sample_ok = f_sample_ok;
    } else {
        p.sample_size = 4;
        p.refit_min = 4;
        p.solve_minimal = h_minimal;
        p.residual_sq = h_residual;
        p.refit = h_refit;
        p.sample_ok = h_sample_ok;
    }
    pc_ransac_result res;
    double model[PC_RANSAC_MAX_MODEL];
    int ok = pc_ransac_run(&p, opt, opt->threshold * opt->threshold, model, mask, &res);
    free(buf);
    if (ok < 0) return pc_err(err, PC_ERR_MEMORY, "geometry: out of memory in RANSAC");
    if (ok) {
        memcpy(M, model, 9 * sizeof(double));
        *n_inliers = res.n_inliers;
    }
    return PC_OK;
}

pc_status pc_fundamental_ransac(double F[9], uint8_t *inlier_mask, int *n_inliers, const float *pts_a,
                                const float *pts_b, int n, const pc_ransac_options *opt, pc_error *err) {
    return robust_fit(F, inlier_mask, n_inliers, pts_a, pts_b, n, opt, 0, err);
}

pc_status pc_homography_ransac(double H[9], uint8_t *inlier_mask, int *n_inliers, const float *pts_a,
                               const float *pts_b, int n, const pc_ransac_options *opt, pc_error *err) {
    return robust_fit(H, inlier_mask, n_inliers, pts_a, pts_b, n, opt, 1, err);
}

// ---- relative pose ------------------------------------------------------------------------
static void pose_to_e(double E[9], const double R[9], const double t[3]) {
    double S[9];
    pc_m3_skew(S, t);
    pc_m3_mul(E, S, R);
}

// Signed Sampson residual (its square is pc_sampson_sq).
static double sampson_signed(const double *M, const double *a, const double *b) {
    double Ma0 = M[0] * a[0] + M[1] * a[1] + M[2];
    double Ma1 = M[3] * a[0] + M[4] * a[1] + M[5];
    double Ma2 = M[6] * a[0] + M[7] * a[1] + M[8];
    double Mtb0 = M[0] * b[0] + M[3] * b[1] + M[6];
    double Mtb1 = M[1] * b[0] + M[4] * b[1] + M[7];
    double r = b[0] * Ma0 + b[1] * Ma1 + Ma2;
    double d = Ma0 * Ma0 + Ma1 * Ma1 + Mtb0 * Mtb0 + Mtb1 * Mtb1;
    return d > 0 ? r / sqrt(d) : 0.0;
}

// Perturb (R, t) by d = (omega (3), tangent step (2)).
static void pose_step(double Ro[9], double to[3], const double R[9], const double t[3], const double d[5]) {
    double dR[9];
    pc_axis_angle_to_rot(dR, d);
    pc_m3_mul(Ro, dR, R);
    double b1[3], b2[3], e[3] = {0, 0, 0};
    int k = 0;
    if (fabs(t[1]) < fabs(t[k])) k = 1;
    if (fabs(t[2]) < fabs(t[k])) k = 2;
    e[k] = 1;
    pc_v3_cross(b1, t, e);
    pc_v3_normalize(b1);
    pc_v3_cross(b2, t, b1);
    for (int i = 0; i < 3; i++) to[i] = t[i] + d[3] * b1[i] + d[4] * b2[i];
    pc_v3_normalize(to);
}

static double sampson_cost(const double R[9], const double t[3], const double *xa, const double *xb,
                           const uint8_t *mask, int n) {
    double E[9], s = 0;
    pose_to_e(E, R, t);
    for (int i = 0; i < n; i++)
        if (mask[i]) s += pc_sampson_sq(E, xa + 2 * i, xb + 2 * i);
    return s;
}

// Levenberg-Marquardt on the Sampson error of the inliers (5 dof, numeric Jacobian).
static void refine_pose(double R[9], double t[3], const double *xa, const double *xb, const uint8_t *mask, int n) {
    double cost = sampson_cost(R, t, xa, xb, mask, n), lambda = 1e-3;
    const double h = 1e-7;
    for (int iter = 0; iter < 20; iter++) {
        double E0[9], Ek[5][9], JtJ[25] = {0}, Jtr[5] = {0};
        pose_to_e(E0, R, t);
        for (int k = 0; k < 5; k++) {
            double d[5] = {0, 0, 0, 0, 0}, Rk[9], tk[3];
            d[k] = h;
            pose_step(Rk, tk, R, t, d);
            pose_to_e(Ek[k], Rk, tk);
        }
        for (int i = 0; i < n; i++) {
            if (!mask[i]) continue;
            const double *a = xa + 2 * i, *b = xb + 2 * i;
            double r = sampson_signed(E0, a, b), J[5];
            for (int k = 0; k < 5; k++) J[k] = (sampson_signed(Ek[k], a, b) - r) / h;
            for (int p = 0; p < 5; p++) {
                Jtr[p] += J[p] * r;
                for (int q = 0; q < 5; q++) JtJ[p * 5 + q] += J[p] * J[q];
            }
        }
        int improved = 0;
        for (int tries = 0; tries < 6 && !improved; tries++) {
            double A[25], g[5], d[5];
            memcpy(A, JtJ, sizeof(A));
            for (int p = 0; p < 5; p++) {
                A[p * 5 + p] += lambda * (JtJ[p * 5 + p] + 1e-12);
                g[p] = -Jtr[p];
            }
            if (!pc_solve(d, A, g, 5)) {
                lambda *= 10;
                continue;
            }
            double R2[9], t2[3];
            pose_step(R2, t2, R, t, d);
            double c2 = sampson_cost(R2, t2, xa, xb, mask, n);
            if (c2 < cost) {
                double rel = (cost - c2) / (cost + 1e-300);
                memcpy(R, R2, sizeof(R2));
                memcpy(t, t2, sizeof(t2));
                cost = c2;
                lambda = fmax(lambda * 0.1, 1e-10);
                improved = 1;
                if (rel < 1e-10) return;
            } else {
                lambda *= 10;
            }
        }
        if (!improved) return;
    }
}

// Inliers: Sampson below threshold and positive depth in both cameras.
static int pose_inliers(uint8_t *mask, const double R[9], const double t[3], const double *xa, const double *xb, int n,
                        double thr_sq) {
    double E[9];
    pose_to_e(E, R, t);
    int k = 0;
    for (int i = 0; i < n; i++) {
        mask[i] = 0;
        if (!(pc_sampson_sq(E, xa + 2 * i, xb + 2 * i) < thr_sq)) continue;
        double da, db;
        if (!pc_triangulate_depths(&da, &db, R, t, xa + 2 * i, xb + 2 * i)) continue;
        if (da > 0 && db > 0) mask[i] = 1, k++;
    }
    return k;
}

pc_status pc_relpose_estimate(pc_relpose *out, uint8_t *inlier_mask, const float *pts_a, const float *pts_b, int n,
                              const pc_intrinsics *Ka, const pc_intrinsics *Kb, const pc_ransac_options *opt,
                              pc_error *err) {
    if (!out || !Ka || !Kb) return pc_err(err, PC_ERR_ARG, "relpose: NULL argument");
    memset(out, 0, sizeof(*out));
    pc_m3_identity(out->R);
    out->n_matches = n;
    pc_status st = check_pairs(pts_a, pts_b, n, opt, err);
    if (st != PC_OK) return st;
    const pc_intrinsics *Ks[2] = {Ka, Kb};
    for (int k = 0; k < 2; k++)
        if (!(Ks[k]->fx > 0 && Ks[k]->fy > 0) || !isfinite(Ks[k]->fx + Ks[k]->fy + Ks[k]->cx + Ks[k]->cy))
            return pc_err(err, PC_ERR_ARG, "relpose: intrinsics %c need finite fx, fy > 0 (got %g, %g)", 'A' + k,
                          Ks[k]->fx, Ks[k]->fy);
    if (inlier_mask && n > 0) memset(inlier_mask, 0, (size_t)n);
    if (n < 5) return pc_err(err, PC_ERR_NUMERIC, "relpose: need at least 5 correspondences, got %d", n);
    pair_ctx c;
    double *buf;
    if ((st = alloc_ctx(&c, &buf, n, err)) != PC_OK) return st;
    uint8_t *m1 = malloc(2 * (size_t)n);
    if (!m1) {
        free(buf);
        return pc_err(err, PC_ERR_MEMORY, "relpose: out of memory");
    }
    uint8_t *m2 = m1 + n;
    double *xa = (double *)c.xa, *xb = (double *)c.xb;
    for (int i = 0; i < n; i++) {
        xa[2 * i] = (pts_a[2 * i] - Ka->cx) / Ka->fx;
        xa[2 * i + 1] = (pts_a[2 * i + 1] - Ka->cy) / Ka->fy;
        xb[2 * i] = (pts_b[2 * i] - Kb->cx) / Kb->fx;
        xb[2 * i + 1] = (pts_b[2 * i + 1] - Kb->cy) / Kb->fy;
    }
    // opencv: findEssentialMat divides the pixel threshold by the focal length
    double f = 0.25 * (Ka->fx + Ka->fy + Kb->fx + Kb->fy);
    double thr = opt->threshold / f, thr_sq = thr * thr;
    pc_ransac_problem p = {0};
    p.n = n;
    p.sample_size = 5;
    p.model_size = 9;
    p.refit_min = 8;
    p.ctx = &c;
    p.solve_minimal = e_minimal;
    p.residual_sq = epi_residual;
    p.refit = e_refit;
    p.sample_ok = e_sample_ok;
    pc_ransac_result res;
    double E[PC_RANSAC_MAX_MODEL];
    int ok = pc_ransac_run(&p, opt, thr_sq, E, m1, &res);
    out->iters = res.iters;
    if (ok < 0) {
        st = pc_err(err, PC_ERR_MEMORY, "relpose: out of memory in RANSAC");
        goto done;
    }
    if (!ok) {
        st = pc_err(err, PC_ERR_NUMERIC, "relpose: no essential matrix found from %d correspondences", n);
        goto done;
    }
    double R[9], t[3];
    // choose the decomposition like opencv recoverPose (distanceThresh 50)
    int cnt = pc_essential_recover_pose(R, t, E, xa, xb, n, m1, NULL, 50.0);
    if (cnt < 5) {
        st = pc_err(err, PC_ERR_NUMERIC, "relpose: only %d of %d inliers pass cheirality", cnt, res.n_inliers);
        goto done;
    }
    int k = pose_inliers(m2, R, t, xa, xb, n, thr_sq);
    if (opt->refine && k >= 6) {
        double R2[9], t2[3];
        memcpy(R2, R, sizeof(R));
        memcpy(t2, t, sizeof(t));
        refine_pose(R2, t2, xa, xb, m2, n);
        // re-select inliers with the refined pose; keep it unless it loses support
        int k2 = pose_inliers(m1, R2, t2, xa, xb, n, thr_sq);
        if (k2 >= k) {
            memcpy(R, R2, sizeof(R));
            memcpy(t, t2, sizeof(t));
            memcpy(m2, m1, (size_t)n);
            k = k2;
        }
    }
    if (k < 5) {
        st = pc_err(err, PC_ERR_NUMERIC, "relpose: only %d inliers in front of both cameras", k);
        goto done;
    }
    memcpy(out->R, R, sizeof(R));
    memcpy(out->t, t, sizeof(t));
    pose_to_e(out->E, R, t);
    out->n_inliers = k;
    if (inlier_mask) memcpy(inlier_mask, m2, (size_t)n);
    st = PC_OK;
done:
    free(m1);
    free(buf);
    return st;
}
