// LO-RANSAC estimators on synthetic pixel correspondences with noise and
// outliers: relative pose (pc_relpose_estimate), fundamental, homography, absolute pose (PnP).
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "geometry/linalg.h"
#include "geometry/ransac.h"
#include "geometry/solvers.h"

static double urand(pc_test_rng *r) { return (double)pc_test_uniform(r); }

static double gauss(pc_test_rng *r) {
    double u1 = 0.5 * (urand(r) + 1.0) + 1e-12, u2 = 0.5 * (urand(r) + 1.0);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

// n correspondences in a 640x480 image pair, the first n_in inliers (pixel
// noise sigma), the rest uniform random. Shuffled deterministic order: inliers
// at even indices first half... kept simple: outliers are every other index.
static void make_pairs(pc_test_rng *rng, float *pa, float *pb, uint8_t *is_in, int n, double outlier_frac,
                       double sigma, const pc_intrinsics *K, double R[9], double t[3]) {
    double aa[3] = {0.3 * urand(rng), 0.5 * urand(rng), 0.1 * urand(rng)};
    pc_axis_angle_to_rot(R, aa);
    t[0] = urand(rng), t[1] = 0.3 * urand(rng), t[2] = 0.3 * urand(rng);
    pc_v3_normalize(t);
    for (int i = 0; i < n;) {
        int out = urand(rng) * 0.5 + 0.5 < outlier_frac;
        if (out) {
            pa[2 * i] = (float)(320 + 320 * urand(rng));
            pa[2 * i + 1] = (float)(240 + 240 * urand(rng));
            pb[2 * i] = (float)(320 + 320 * urand(rng));
            pb[2 * i + 1] = (float)(240 + 240 * urand(rng));
            is_in[i++] = 0;
            continue;
        }
        double X[3] = {3 * urand(rng), 2 * urand(rng), 5 + 3 * urand(rng)}, Y[3];
        pc_m3_mulv(Y, R, X);
        for (int k = 0; k < 3; k++) Y[k] += t[k];
        if (Y[2] < 1) continue;
        pa[2 * i] = (float)(K->fx * X[0] / X[2] + K->cx + sigma * gauss(rng));
        pa[2 * i + 1] = (float)(K->fy * X[1] / X[2] + K->cy + sigma * gauss(rng));
        pb[2 * i] = (float)(K->fx * Y[0] / Y[2] + K->cx + sigma * gauss(rng));
        pb[2 * i + 1] = (float)(K->fy * Y[1] / Y[2] + K->cy + sigma * gauss(rng));
        is_in[i++] = 1;
    }
}

static double rot_err_deg(const double A[9], const double B[9]) {
    double D[9];
    pc_m3_mul_at(D, A, B);
    return pc_rot_angle_deg(D);
}
static double t_err_deg(const double a[3], const double b[3]) {
    double c = pc_v3_dot(a, b) / (pc_v3_norm(a) * pc_v3_norm(b));
    c = fmax(-1, fmin(1, c));
    return acos(c) * 180.0 / 3.14159265358979323846;
}

static void test_relpose(pc_test_rng *rng) {
    enum { N = 400 };
    static float pa[2 * N], pb[2 * N];
    uint8_t is_in[N], mask[N];
    pc_intrinsics K = {500, 500, 320, 240};
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    o.threshold = 1.0;
    double worst_r = 0, worst_t = 0, worst_recall = 1, worst_prec = 1;
    int fails = 0, trials = 20;
    for (int tr = 0; tr < trials; tr++) {
        double R[9], t[3];
        make_pairs(rng, pa, pb, is_in, N, 0.5, 0.5, &K, R, t);
        pc_relpose pose;
        pc_error err = {{0}};
        o.seed = (uint64_t)tr;
        pc_status st = pc_relpose_estimate(&pose, mask, pa, pb, N, &K, &K, &o, &err);
        if (st != PC_OK) {
            fails++;
            printf("  relpose trial %d failed: %s\n", tr, err.msg);
            continue;
        }
        worst_r = fmax(worst_r, rot_err_deg(pose.R, R));
        worst_t = fmax(worst_t, t_err_deg(pose.t, t));
        int tp = 0, nin = 0, npos = 0;
        for (int i = 0; i < N; i++) {
            nin += is_in[i];
            npos += mask[i];
            tp += is_in[i] && mask[i];
        }
        worst_recall = fmin(worst_recall, (double)tp / nin);
        worst_prec = fmin(worst_prec, (double)tp / (npos ? npos : 1));
        if (pose.n_inliers != npos) fails++;
    }
    PC_CHECK(fails == 0, "relpose: %d/%d trials failed", fails, trials);
    PC_CHECK(worst_r < 0.5 && worst_t < 3.0,
             "relpose 50%% outliers, 0.5 px noise: worst rot err %.3f deg (tol 0.5), worst t err %.3f deg (tol 3)",
             worst_r, worst_t);
    PC_CHECK(worst_recall > 0.9 && worst_prec > 0.9, "relpose inlier recall %.3f, precision %.3f (tol 0.9)",
             worst_recall, worst_prec);

    // determinism: same seed, same output
    double R[9], t[3];
    make_pairs(rng, pa, pb, is_in, N, 0.5, 0.5, &K, R, t);
    pc_relpose p1, p2;
    pc_error err = {{0}};
    o.seed = 42;
    pc_test_ok(pc_relpose_estimate(&p1, NULL, pa, pb, N, &K, &K, &o, &err), &err, "relpose run 1");
    pc_test_ok(pc_relpose_estimate(&p2, NULL, pa, pb, N, &K, &K, &o, &err), &err, "relpose run 2");
    PC_CHECK(memcmp(&p1, &p2, sizeof(p1)) == 0, "relpose deterministic for a fixed seed");

    // noise-free, no outliers: essentially exact
    make_pairs(rng, pa, pb, is_in, 100, 0.0, 0.0, &K, R, t);
    pc_test_ok(pc_relpose_estimate(&p1, NULL, pa, pb, 100, &K, &K, &o, &err), &err, "relpose exact");
    PC_CHECK(rot_err_deg(p1.R, R) < 1e-3 && t_err_deg(p1.t, t) < 1e-2 && p1.n_inliers == 100,
             "relpose noise-free: rot err %.2g deg, t err %.2g deg, %d/100 inliers", rot_err_deg(p1.R, R),
             t_err_deg(p1.t, t), p1.n_inliers);

    // bad input
    PC_CHECK(pc_relpose_estimate(&p1, NULL, pa, pb, 4, &K, &K, &o, &err) == PC_ERR_NUMERIC, "relpose n=4 -> NUMERIC");
    pc_intrinsics Kbad = {0, 500, 320, 240};
    PC_CHECK(pc_relpose_estimate(&p1, NULL, pa, pb, 100, &Kbad, &K, &o, &err) == PC_ERR_ARG, "relpose fx=0 -> ARG");
    // pure outliers: no crash, either an error or few inliers
    make_pairs(rng, pa, pb, is_in, 200, 1.0, 0.0, &K, R, t);
    pc_status st = pc_relpose_estimate(&p1, NULL, pa, pb, 200, &K, &K, &o, &err);
    PC_CHECK(st == PC_ERR_NUMERIC || (st == PC_OK && p1.n_inliers < 100), "relpose on pure outliers: %s, %d inliers",
             pc_status_str(st), p1.n_inliers);
}

static void test_fundamental_homography(pc_test_rng *rng) {
    enum { N = 400 };
    static float pa[2 * N], pb[2 * N];
    uint8_t is_in[N], mask[N];
    pc_intrinsics K = {500, 500, 320, 240};
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    double R[9], t[3];
    make_pairs(rng, pa, pb, is_in, N, 0.5, 0.5, &K, R, t);
    double F[9];
    int ninl;
    pc_error err = {{0}};
    pc_test_ok(pc_fundamental_ransac(F, mask, &ninl, pa, pb, N, &o, &err), &err, "fundamental ransac");
    int tp = 0, nin = 0;
    for (int i = 0; i < N; i++) tp += mask[i] && is_in[i], nin += is_in[i];
    PC_CHECK(tp > 0.85 * nin && ninl < nin * 1.15, "F RANSAC 50%% outliers: %d inliers (true %d, %d correct)", ninl,
             nin, tp);
    // homography: plane z = 6 seen by both cameras (pure plane -> exact H)
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (urand(rng) > 0.0) {  // ~50% outliers
            pa[2 * i] = (float)(320 + 320 * urand(rng)), pa[2 * i + 1] = (float)(240 + 240 * urand(rng));
            pb[2 * i] = (float)(320 + 320 * urand(rng)), pb[2 * i + 1] = (float)(240 + 240 * urand(rng));
            is_in[i] = 0;
            continue;
        }
        double X[3] = {3 * urand(rng), 2 * urand(rng), 6}, Y[3];
        pc_m3_mulv(Y, R, X);
        for (int k = 0; k < 3; k++) Y[k] += t[k];
        pa[2 * i] = (float)(K.fx * X[0] / X[2] + K.cx + 0.3 * gauss(rng));
        pa[2 * i + 1] = (float)(K.fy * X[1] / X[2] + K.cy + 0.3 * gauss(rng));
        pb[2 * i] = (float)(K.fx * Y[0] / Y[2] + K.cx + 0.3 * gauss(rng));
        pb[2 * i + 1] = (float)(K.fy * Y[1] / Y[2] + K.cy + 0.3 * gauss(rng));
        is_in[i] = 1;
        n++;
    }
    double H[9];
    o.threshold = 2.0;
    pc_test_ok(pc_homography_ransac(H, mask, &ninl, pa, pb, N, &o, &err), &err, "homography ransac");
    tp = 0;
    for (int i = 0; i < N; i++) tp += mask[i] && is_in[i];
    PC_CHECK(tp > 0.9 * n && ninl < n * 1.1, "H RANSAC ~50%% outliers: %d inliers (true %d, %d correct)", ninl, n, tp);
    // too few points: PC_OK, zero inliers
    PC_CHECK(pc_fundamental_ransac(F, mask, &ninl, pa, pb, 5, &o, &err) == PC_OK && ninl == 0, "F with n=5: 0 inliers");
    PC_CHECK(pc_homography_ransac(H, NULL, &ninl, pa, pb, 0, &o, &err) == PC_OK && ninl == 0, "H with n=0: 0 inliers");
}

// Degenerate inputs must not crash, loop forever or claim a pose.
static void test_degenerate(pc_test_rng *rng) {
    enum { N = 60 };
    float pa[2 * N], pb[2 * N];
    pc_intrinsics K = {500, 500, 320, 240};
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    pc_error err = {{0}};
    pc_relpose pose;
    // every correspondence identical
    for (int i = 0; i < N; i++) pa[2 * i] = 100, pa[2 * i + 1] = 200, pb[2 * i] = 110, pb[2 * i + 1] = 190;
    pc_status st = pc_relpose_estimate(&pose, NULL, pa, pb, N, &K, &K, &o, &err);
    PC_CHECK(st == PC_ERR_NUMERIC, "relpose, all points identical -> NUMERIC (%s: %s)", pc_status_str(st), err.msg);
    int ninl = -1;
    double M[9];
    st = pc_fundamental_ransac(M, NULL, &ninl, pa, pb, N, &o, &err);
    PC_CHECK(st == PC_OK && ninl == 0, "F, all points identical -> 0 inliers (%d)", ninl);
    st = pc_homography_ransac(M, NULL, &ninl, pa, pb, N, &o, &err);
    PC_CHECK(st == PC_OK && ninl == 0, "H, all points identical -> 0 inliers (%d)", ninl);
    // all points on one image line (collinear): H refused, no crash for E/F
    for (int i = 0; i < N; i++) {
        double u = 320 + 300 * urand(rng);
        pa[2 * i] = (float)u, pa[2 * i + 1] = (float)(0.5 * u + 10);
        pb[2 * i] = (float)(u + 5), pb[2 * i + 1] = (float)(0.5 * u + 12);
    }
    st = pc_homography_ransac(M, NULL, &ninl, pa, pb, N, &o, &err);
    PC_CHECK(st == PC_OK && ninl == 0, "H, collinear points -> 0 inliers (%d)", ninl);
    st = pc_relpose_estimate(&pose, NULL, pa, pb, N, &K, &K, &o, &err);
    PC_CHECK(st == PC_OK || st == PC_ERR_NUMERIC, "relpose, collinear points: returns (%s)", pc_status_str(st));
    // pure rotation (no translation): E is degenerate, but R must still come out right when a pose is returned
    double R[9], aa[3] = {0.05, 0.2, -0.03};
    pc_axis_angle_to_rot(R, aa);
    for (int i = 0; i < N; i++) {
        double X[3] = {2 * urand(rng), 1.5 * urand(rng), 5 + 2 * urand(rng)}, Y[3];
        pc_m3_mulv(Y, R, X);
        pa[2 * i] = (float)(K.fx * X[0] / X[2] + K.cx), pa[2 * i + 1] = (float)(K.fy * X[1] / X[2] + K.cy);
        pb[2 * i] = (float)(K.fx * Y[0] / Y[2] + K.cx), pb[2 * i + 1] = (float)(K.fy * Y[1] / Y[2] + K.cy);
    }
    st = pc_relpose_estimate(&pose, NULL, pa, pb, N, &K, &K, &o, &err);
    PC_CHECK(st == PC_ERR_NUMERIC || (st == PC_OK && isfinite(pose.R[0]) && fabs(pc_v3_norm(pose.t) - 1) < 1e-9),
             "relpose, pure rotation: no crash, finite output (%s, rot err %.3f deg)", pc_status_str(st),
             st == PC_OK ? rot_err_deg(pose.R, R) : -1.0);
    // NaN input -> ARG
    pa[7] = NAN;
    PC_CHECK(pc_relpose_estimate(&pose, NULL, pa, pb, N, &K, &K, &o, &err) == PC_ERR_ARG, "relpose, NaN -> ARG");
    o.threshold = -1;
    PC_CHECK(pc_fundamental_ransac(M, NULL, &ninl, pb, pb, N, &o, &err) == PC_ERR_ARG, "F, threshold -1 -> ARG");
}

// PnP: 300 points seen by a known camera with 0.5 px noise, 40% outliers.
static void test_abspose(pc_test_rng *rng) {
    enum { N = 300 };
    float X[3 * N], uv[2 * N];
    uint8_t mask[N], is_in[N];
    pc_intrinsics K = {520, 510, 330, 235};
    double R[9], t[3] = {0.4, -0.2, 1.0}, aa[3] = {0.3, -0.5, 0.2};
    pc_axis_angle_to_rot(R, aa);
    for (int i = 0; i < N; i++) {
        double c[3] = {3 * urand(rng), 2 * urand(rng), 6 + 2 * urand(rng)}, w[3], d[3];
        for (int r = 0; r < 3; r++) d[r] = c[r] - t[r];
        pc_m3_mulv_t(w, R, d);
        for (int r = 0; r < 3; r++) X[3 * i + r] = (float)w[r];
        is_in[i] = (i % 5) >= 2;
        double u = K.fx * c[0] / c[2] + K.cx + 0.5 * gauss(rng), v = K.fy * c[1] / c[2] + K.cy + 0.5 * gauss(rng);
        if (!is_in[i]) u = 330 + 320 * urand(rng), v = 235 + 240 * urand(rng);
        uv[2 * i] = (float)u, uv[2 * i + 1] = (float)v;
    }
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    o.threshold = 3;
    o.seed = 5;
    pc_error err = {{0}};
    pc_abspose ps;
    pc_status st = pc_abspose_estimate(&ps, mask, X, uv, N, &K, &o, &err);
    double dt = 0;
    for (int k = 0; k < 3; k++) dt = fmax(dt, fabs(ps.t[k] - t[k]));
    int agree = 0;
    for (int i = 0; i < N; i++) agree += mask[i] == is_in[i];
    PC_CHECK(st == PC_OK && ps.n_inliers >= 170 && ps.n_inliers <= 190 && rot_err_deg(ps.R, R) < 0.2 && dt < 0.02 &&
                 agree >= N - 10,
             "abspose: %d inliers (180 true), mask agrees on %d/%d, rot err %.3f deg, max|dt| %.3g (%s)",
             ps.n_inliers, agree, N, rot_err_deg(ps.R, R), dt, pc_status_str(st));
    pc_abspose ps2;
    pc_abspose_estimate(&ps2, NULL, X, uv, N, &K, &o, &err);
    PC_CHECK(memcmp(&ps, &ps2, sizeof(ps)) == 0, "abspose: same seed, same pose");
    st = pc_abspose_estimate(&ps, mask, X, uv, 3, &K, &o, &err);
    PC_CHECK(st == PC_ERR_NUMERIC && ps.n_inliers == 0, "abspose, 3 points -> NUMERIC (%s)", err.msg);
    pc_intrinsics Kbad = {0, 500, 320, 240};
    PC_CHECK(pc_abspose_estimate(&ps, NULL, X, uv, N, &Kbad, &o, &err) == PC_ERR_ARG, "abspose, fx 0 -> ARG (%s)", err.msg);
    o.threshold = -1;
    PC_CHECK(pc_abspose_estimate(&ps, NULL, X, uv, N, &K, &o, &err) == PC_ERR_ARG, "abspose, threshold -1 -> ARG");
}

static void test_rng(void) {
    pc_rng r;
    pc_rng_seed(&r, 1);
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) hist[pc_rng_below(&r, 10)]++;
    int lo = hist[0], hi = hist[0];
    for (int k = 1; k < 10; k++) lo = hist[k] < lo ? hist[k] : lo, hi = hist[k] > hi ? hist[k] : hi;
    PC_CHECK(lo > 9500 && hi < 10500, "rng_below(10) histogram within 5%% (min %d, max %d)", lo, hi);
}

int main(void) {
    pc_test_rng rng = {2024};
    test_rng();
    test_relpose(&rng);
    test_fundamental_homography(&rng);
    test_degenerate(&rng);
    test_abspose(&rng);
    return pc_test_finish();
}
