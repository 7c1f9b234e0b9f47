// Absolute pose (PnP) by LO-RANSAC over the P3P minimal solver (PoseLib's shape: a minimal solver in
// p3p.c, the robust loop in ransac.c, a least-squares refit here). The refit is Gauss-Newton on the
// reprojection error in pixels, parametrised by a rotation increment (left-multiplied) and t.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "geometry/linalg.h"
#include "geometry/ransac.h"
#include "geometry/solvers.h"

typedef struct {
    const float *X;   // (n, 3) world points
    const float *uv;  // (n, 2) pixels
    double fx, fy, cx, cy;
} pnp_ctx;

// model: R (9, row-major) then t (3)
enum { PNP_MODEL = 12 };

static int pnp_minimal(void *vctx, const int *sample, double *models) {
    const pnp_ctx *c = (const pnp_ctx *)vctx;
    double f[9], Xw[9];
    for (int k = 0; k < 3; k++) {
        const int i = sample[k];
        double b[3] = {(c->uv[i * 2] - c->cx) / c->fx, (c->uv[i * 2 + 1] - c->cy) / c->fy, 1.0};
        pc_v3_normalize(b);
        memcpy(f + k * 3, b, sizeof(b));
        for (int r = 0; r < 3; r++) Xw[k * 3 + r] = c->X[i * 3 + r];
    }
    double R[4][9], t[4][3];
    const int ns = pc_solve_p3p(R, t, f, Xw);
    for (int s = 0; s < ns; s++) {
        memcpy(models + s * PNP_MODEL, R[s], 9 * sizeof(double));
        memcpy(models + s * PNP_MODEL + 9, t[s], 3 * sizeof(double));
    }
    return ns;
}

static double pnp_residual_sq(void *vctx, const double *m, int i) {
    const pnp_ctx *c = (const pnp_ctx *)vctx;
    const double x = c->X[i * 3], y = c->X[i * 3 + 1], z = c->X[i * 3 + 2];
    const double zc = m[6] * x + m[7] * y + m[8] * z + m[11];
    if (!(zc > 0)) return INFINITY;  // behind the camera: never an inlier
    const double xc = m[0] * x + m[1] * y + m[2] * z + m[9];
    const double yc = m[3] * x + m[4] * y + m[5] * z + m[10];
    const double du = c->fx * xc / zc + c->cx - c->uv[i * 2], dv = c->fy * yc / zc + c->cy - c->uv[i * 2 + 1];
    return du * du + dv * dv;
}

// Gauss-Newton on sum |proj(R X + t) - uv|^2 over idx, from model_in; update R <- exp([w]_x) R, t <- t + dt.
static int pnp_refit(void *vctx, const int *idx, int n_idx, const double *model_in, double *model_out) {
    const pnp_ctx *c = (const pnp_ctx *)vctx;
    double R[9], t[3];
    memcpy(R, model_in, sizeof(R));
    memcpy(t, model_in + 9, sizeof(t));
    for (int it = 0; it < 10; it++) {
        double A[36] = {0}, b[6] = {0};
        int used = 0;
        for (int q = 0; q < n_idx; q++) {
            const int p = idx[q];
            const double Xp[3] = {c->X[p * 3], c->X[p * 3 + 1], c->X[p * 3 + 2]};
            double r[3];
            pc_m3_mulv(r, R, Xp);
            const double xc = r[0] + t[0], yc = r[1] + t[1], zc = r[2] + t[2];
            if (!(zc > 1e-12)) continue;
            const double iz = 1 / zc;
            const double e[2] = {c->fx * xc * iz + c->cx - c->uv[p * 2], c->fy * yc * iz + c->cy - c->uv[p * 2 + 1]};
            // d(proj)/d(X_cam) times d(X_cam)/d(w, t) = [-[R X]_x | I]
            const double Jp[2][3] = {{c->fx * iz, 0, -c->fx * xc * iz * iz}, {0, c->fy * iz, -c->fy * yc * iz * iz}};
            const double Jw[3][3] = {{0, r[2], -r[1]}, {-r[2], 0, r[0]}, {r[1], -r[0], 0}};
            double J[2][6];
            for (int k = 0; k < 2; k++) {
                for (int m = 0; m < 3; m++) J[k][m] = Jp[k][0] * Jw[0][m] + Jp[k][1] * Jw[1][m] + Jp[k][2] * Jw[2][m];
                for (int m = 0; m < 3; m++) J[k][3 + m] = Jp[k][m];
            }
            for (int k = 0; k < 2; k++)
                for (int a = 0; a < 6; a++) {
                    b[a] -= J[k][a] * e[k];
                    for (int m = 0; m < 6; m++) A[a * 6 + m] += J[k][a] * J[k][m];
                }
            used++;
        }
        if (used < 3) return 0;
        double dx[6];
        if (!pc_solve(dx, A, b, 6)) break;
        double Rd[9], Rn[9];
        pc_axis_angle_to_rot(Rd, dx);
        pc_m3_mul(Rn, Rd, R);
        memcpy(R, Rn, sizeof(Rn));
        for (int k = 0; k < 3; k++) t[k] += dx[3 + k];
        if (fabs(dx[0]) + fabs(dx[1]) + fabs(dx[2]) < 1e-12 && fabs(dx[3]) + fabs(dx[4]) + fabs(dx[5]) < 1e-12) break;
    }
    for (int k = 0; k < 9; k++)
        if (!isfinite(R[k])) return 0;
    if (!isfinite(t[0]) || !isfinite(t[1]) || !isfinite(t[2])) return 0;
    memcpy(model_out, R, sizeof(R));
    memcpy(model_out + 9, t, sizeof(t));
    return 1;
}

pc_status pc_abspose_estimate(pc_abspose *out, uint8_t *inlier_mask, const float *X, const float *uv, int64_t n,
                              const pc_intrinsics *K, const pc_ransac_options *opt, pc_error *err) {
    if (!out || !K || !opt || (n > 0 && (!X || !uv))) return pc_err(err, PC_ERR_ARG, "abspose: NULL argument");
    memset(out, 0, sizeof(*out));
    pc_m3_identity(out->R);
    if (n < 0 || n > INT32_MAX) return pc_err(err, PC_ERR_ARG, "abspose: bad point count %lld", (long long)n);
    if (!(K->fx > 0) || !(K->fy > 0) || !isfinite(K->fx) || !isfinite(K->fy) || !isfinite(K->cx) || !isfinite(K->cy))
        return pc_err(err, PC_ERR_ARG, "abspose: intrinsics need finite fx, fy > 0 (got %g, %g)", K->fx, K->fy);
    if (!(opt->threshold > 0) || !isfinite(opt->threshold))
        return pc_err(err, PC_ERR_ARG, "abspose: threshold must be a positive number of pixels (got %g)", opt->threshold);
    if (inlier_mask && n > 0) memset(inlier_mask, 0, (size_t)n);
    if (n < 4) return pc_err(err, PC_ERR_NUMERIC, "abspose: need at least 4 correspondences, got %lld", (long long)n);
    pnp_ctx c = {X, uv, K->fx, K->fy, K->cx, K->cy};
    const pc_ransac_problem p = {(int)n, 3, PNP_MODEL, 4, &c, pnp_minimal, pnp_residual_sq, pnp_refit, NULL};
    double model[PNP_MODEL];
    pc_ransac_result r;
    const int ok = pc_ransac_run(&p, opt, opt->threshold * opt->threshold, model, inlier_mask, &r);
    if (ok < 0) return pc_err(err, PC_ERR_MEMORY, "abspose: out of memory");
    out->iters = r.iters;
    if (!ok || r.n_inliers < 4) {
        if (inlier_mask) memset(inlier_mask, 0, (size_t)n);
        return pc_err(err, PC_ERR_NUMERIC, "abspose: no pose with 4 or more inliers among %lld points", (long long)n);
    }
    memcpy(out->R, model, sizeof(out->R));
    memcpy(out->t, model + 9, sizeof(out->t));
    out->n_inliers = r.n_inliers;
    return PC_OK;
}
