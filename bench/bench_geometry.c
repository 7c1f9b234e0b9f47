// Timings of the two-view geometry core: minimal solvers and LO-RANSAC
// relative pose / fundamental / homography on synthetic correspondences.
// Usage: bench_geometry [n_matches] [outlier_fraction] [pose]  ("pose": relpose only, for profiling)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "geometry/linalg.h"
#include "geometry/ransac.h"
#include "geometry/solvers.h"
#include "testutil.h"

static double urand(pc_test_rng *r) { return (double)pc_test_uniform(r); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    double out_frac = argc > 2 ? atof(argv[2]) : 0.5;
    if (n < 10 || n > 1000000) n = 2000;
    pc_test_rng rng = {99};
    pc_intrinsics K = {500, 500, 320, 240};
    float *pa = malloc((size_t)n * 2 * sizeof(float)), *pb = malloc((size_t)n * 2 * sizeof(float));
    double R[9], t[3], aa[3] = {0.1, 0.4, 0.05};
    pc_axis_angle_to_rot(R, aa);
    t[0] = 1, t[1] = 0.1, t[2] = 0.2;
    pc_v3_normalize(t);
    for (int i = 0; i < n;) {
        if (0.5 * (urand(&rng) + 1) < out_frac) {
            pa[2 * i] = (float)(320 + 320 * urand(&rng)), pa[2 * i + 1] = (float)(240 + 240 * urand(&rng));
            pb[2 * i] = (float)(320 + 320 * urand(&rng)), pb[2 * i + 1] = (float)(240 + 240 * urand(&rng));
            i++;
            continue;
        }
        double X[3] = {3 * urand(&rng), 2 * urand(&rng), 6 + 3 * urand(&rng)}, Y[3];
        pc_m3_mulv(Y, R, X);
        for (int k = 0; k < 3; k++) Y[k] += t[k];
        pa[2 * i] = (float)(K.fx * X[0] / X[2] + K.cx + 0.5 * urand(&rng));
        pa[2 * i + 1] = (float)(K.fy * X[1] / X[2] + K.cy + 0.5 * urand(&rng));
        pb[2 * i] = (float)(K.fx * Y[0] / Y[2] + K.cx + 0.5 * urand(&rng));
        pb[2 * i + 1] = (float)(K.fy * Y[1] / Y[2] + K.cy + 0.5 * urand(&rng));
        i++;
    }
    // minimal solvers
    double xa[10], xb[10], E[90];
    for (int i = 0; i < 5; i++) {
        xa[2 * i] = (pa[2 * i] - K.cx) / K.fx, xa[2 * i + 1] = (pa[2 * i + 1] - K.cy) / K.fy;
        xb[2 * i] = (pb[2 * i] - K.cx) / K.fx, xb[2 * i + 1] = (pb[2 * i + 1] - K.cy) / K.fy;
    }
    int reps = 20000, tot = 0;
    double t0 = pc_time_sec();
    for (int r = 0; r < reps; r++) tot += pc_solve_essential_5pt(E, xa, xb);
    double t5 = (pc_time_sec() - t0) / reps;
    double pxa[14], pxb[14], F[27];
    for (int i = 0; i < 14; i++) pxa[i] = pa[i], pxb[i] = pb[i];
    t0 = pc_time_sec();
    for (int r = 0; r < reps; r++) tot += pc_solve_fundamental_7pt(F, pxa, pxb);
    double t7 = (pc_time_sec() - t0) / reps;
    printf("| solver | us/call |\n|---|---|\n| 5-point essential | %.2f |\n| 7-point fundamental | %.2f |\n", t5 * 1e6,
           t7 * 1e6);
    // robust estimators
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    pc_error err = {{0}};
    uint8_t *mask = malloc((size_t)n);
    printf("\nn = %d matches, %.0f%% outliers, threshold 1 px\n\n| estimator | ms/call | inliers | iters |\n|---|---|---|---|\n",
           n, out_frac * 100);
    int runs = 10;
    pc_relpose pose = {0};
    t0 = pc_time_sec();
    clock_t c0 = clock();
    for (int r = 0; r < runs; r++) {
        o.seed = (uint64_t)r;
        if (pc_relpose_estimate(&pose, mask, pa, pb, n, &K, &K, &o, &err) != PC_OK) printf("relpose: %s\n", err.msg);
    }
    printf("| relpose (5-pt LO-RANSAC + refine) | %.2f (cpu %.2f) | %d | %d |\n", (pc_time_sec() - t0) / runs * 1e3,
           (double)(clock() - c0) / CLOCKS_PER_SEC / runs * 1e3, pose.n_inliers, pose.iters);
    if (argc > 3 && !strcmp(argv[3], "pose")) return 0;
    o.refine = 0;
    t0 = pc_time_sec();
    for (int r = 0; r < runs; r++) pc_relpose_estimate(&pose, mask, pa, pb, n, &K, &K, &o, &err);
    printf("| relpose, no refine | %.2f | %d | %d |\n", (pc_time_sec() - t0) / runs * 1e3, pose.n_inliers, pose.iters);
    int ninl = 0;
    double M[9];
    t0 = pc_time_sec();
    for (int r = 0; r < runs; r++) pc_fundamental_ransac(M, mask, &ninl, pa, pb, n, &o, &err);
    printf("| fundamental (7-pt LO-RANSAC) | %.2f | %d | - |\n", (pc_time_sec() - t0) / runs * 1e3, ninl);
    t0 = pc_time_sec();
    for (int r = 0; r < runs; r++) pc_homography_ransac(M, mask, &ninl, pa, pb, n, &o, &err);
    printf("| homography (4-pt LO-RANSAC, non-planar scene) | %.2f | %d | - |\n", (pc_time_sec() - t0) / runs * 1e3, ninl);
    free(pa);
    free(pb);
    free(mask);
    return tot < 0;
}
