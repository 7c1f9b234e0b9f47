// Relative-pose metrics (definitions in include/posecrafter/eval.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/eval.h"

#define PC_EVAL_RAD2DEG (180.0 / 3.14159265358979323846)

// superglue: angle_error_mat
double pc_eval_rot_error_deg(const double R_est[9], const double R_gt[9]) {
    // trace(R_est^T R_gt) = sum_ij R_est[ij] R_gt[ij]
    double tr = 0;
    for (int i = 0; i < 9; i++) tr += R_est[i] * R_gt[i];
    double c = (tr - 1.0) / 2.0;
    if (!isfinite(c)) return 180.0;
    c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
    return fabs(acos(c)) * PC_EVAL_RAD2DEG;
}

// superglue: angle_error_vec (+ the min(e, 180 - e) of compute_pose_error)
double pc_eval_trans_error_deg(const double a[3], const double b[3], int sign_ambiguous) {
    double na = sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
    double nb = sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]);
    double n = na * nb;
    double e;
    if (!(n > 0) || !isfinite(n)) {
        e = 180.0;
    } else {
        double c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / n;
        if (!isfinite(c)) c = -1.0;
        c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
        e = acos(c) * PC_EVAL_RAD2DEG;
    }
    if (sign_ambiguous) e = fmin(e, 180.0 - e);
    return e;
}

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

// superglue: pose_auc
pc_status pc_eval_pose_auc(double *aucs, const double *errors, int n, const double *thr, int n_thr, pc_error *err) {
    if (n < 0 || n_thr < 0 || (n > 0 && !errors) || (n_thr > 0 && (!aucs || !thr)))
        return pc_err(err, PC_ERR_ARG, "pose_auc: bad arguments (n=%d, n_thr=%d)", n, n_thr);
    for (int k = 0; k < n_thr; k++)
        if (!(thr[k] > 0)) return pc_err(err, PC_ERR_ARG, "pose_auc: threshold %d must be > 0 (got %g)", k, thr[k]);
    if (n == 0) {
        for (int k = 0; k < n_thr; k++) aucs[k] = 0.0;
        return PC_OK;
    }
    // e = [0, sorted errors], r = [0, 1/n, 2/n, ..., 1]
    double *e = malloc(((size_t)n + 1) * sizeof(double));
    if (!e) return pc_err(err, PC_ERR_MEMORY, "pose_auc: out of memory (%d errors)", n);
    e[0] = 0.0;
    for (int i = 0; i < n; i++) e[i + 1] = isnan(errors[i]) ? INFINITY : errors[i];
    qsort(e + 1, (size_t)n, sizeof(double), cmp_double);
    for (int k = 0; k < n_thr; k++) {
        double t = thr[k];
        // last = searchsorted(e, t, side='left'): count of e[j] < t
        int last = 0;
        while (last < n + 1 && e[last] < t) last++;
        // curve points (e[j], j/n) for j < last, then (t, (last-1)/n)
        double area = 0;
        for (int j = 0; j + 1 < last; j++) area += (e[j + 1] - e[j]) * ((double)j + (double)(j + 1)) / (2.0 * n);
        double rl = (double)(last - 1) / n;
        area += (t - e[last - 1]) * rl;  // trapezoid with equal ends
        aucs[k] = area / t;
    }
    free(e);
    return PC_OK;
}

double pc_eval_yaw_deg(const double R[9]) {
    // d = R^T (0, 0, 1) = third row of R
    double dx = R[6], dz = R[8];
    if (!isfinite(dx) || !isfinite(dz)) return NAN;
    return fabs(atan2(dx, dz)) * PC_EVAL_RAD2DEG;
}

int pc_eval_in_yaw_bin(double yaw, double lo, double hi) {
    if (!(yaw >= lo)) return 0;
    if (yaw < hi) return 1;
    return yaw == hi && hi >= 90.0;
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

pc_status pc_eval_summarize(pc_eval_summary *s, const double *rot_err, const double *trans_err, const double *yaw,
                            int n, double yaw_lo, double yaw_hi, pc_error *err) {
    if (!s || n < 0 || (n > 0 && (!rot_err || !trans_err)))
        return pc_err(err, PC_ERR_ARG, "eval_summarize: bad arguments (n=%d)", n);
    memset(s, 0, sizeof(*s));
    if (n == 0) return PC_OK;
    double *buf = malloc(3 * (size_t)n * sizeof(double));
    if (!buf) return pc_err(err, PC_ERR_MEMORY, "eval_summarize: out of memory (%d pairs)", n);
    double *er = buf, *et = buf + n, *emax = buf + 2 * (size_t)n;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (yaw && !pc_eval_in_yaw_bin(yaw[i], yaw_lo, yaw_hi)) continue;
        er[m] = isnan(rot_err[i]) ? INFINITY : rot_err[i];
        et[m] = isnan(trans_err[i]) ? INFINITY : trans_err[i];
        emax[m] = fmax(er[m], et[m]);
        m++;
    }
    s->n = m;
    pc_status st = PC_OK;
    if (m > 0) {
        static const double at[3] = {5, 15, 30}, sg[3] = {5, 10, 20}, t30 = 30;
        for (int i = 0; i < m; i++) {
            s->mre += er[i];
            s->mte += et[i];
            for (int k = 0; k < 3; k++) {
                s->r_at[k] += er[i] < at[k];
                s->t_at[k] += et[i] < at[k];
            }
        }
        s->mre /= m;
        s->mte /= m;
        for (int k = 0; k < 3; k++) {
            s->r_at[k] /= m;
            s->t_at[k] /= m;
        }
        if ((st = pc_eval_pose_auc(&s->auc30_rot, er, m, &t30, 1, err)) == PC_OK &&
            (st = pc_eval_pose_auc(&s->auc30_trans, et, m, &t30, 1, err)) == PC_OK &&
            (st = pc_eval_pose_auc(s->auc_pose, emax, m, sg, 3, err)) == PC_OK) {
            s->auc30 = fmin(s->auc30_rot, s->auc30_trans);
            s->med_re = median_of(er, m);
            s->med_te = median_of(et, m);
        }
    }
    free(buf);
    return st;
}
