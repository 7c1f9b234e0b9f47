// Known intrinsics in the global alignment (pc_align_input.intrinsics; dust3r:
// ModularPointCloudOptimizer.preset_focal + preset_principal_point for some images) on a synthetic scene
// at 384x512 with known cameras. The "network" pointmaps carry what DUSt3R gets wrong on real photos: each
// pair's pointmaps are stretched sideways by its own factor (a focal that disagrees from pair to pair, up to
// +-8 %) and carry 0.3 % depth noise. With the true K of views 0 and 1 fixed:
//  - their focals and principal points stay exactly the given ones through MST init and 300 iterations;
//  - the other views are still estimated;
//  - the relative pose 0 -> 1 is no worse than without K.
// PairViewer with known K: reports the given K and uses it for its PnP.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "posecrafter.h"
#include "testutil.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define H 384
#define W 512
#define HW (H * W)
#define NV 4

static double c2w_true[NV][16];
static const double F_TRUE = 480, CX_TRUE = 262.5, CY_TRUE = 187.0;

static double noise(pc_test_rng *r) {
    double s = 0;
    for (int k = 0; k < 4; k++) s += pc_test_uniform(r);
    return s * sqrt(3.0 / 4.0);
}

static void make_cameras(void) {
    for (int k = 0; k < NV; k++) {
        double a = 0.09 * k - 0.1, b = 0.03 * (k % 2), c = cos(a), s = sin(a), cb = cos(b), sb = sin(b);
        double Ry[9] = {c, 0, s, 0, 1, 0, -s, 0, c}, Rx[9] = {1, 0, 0, 0, cb, -sb, 0, sb, cb}, R[9];
        for (int r = 0; r < 3; r++)
            for (int q = 0; q < 3; q++) R[r * 3 + q] = Ry[r * 3] * Rx[q] + Ry[r * 3 + 1] * Rx[3 + q] + Ry[r * 3 + 2] * Rx[6 + q];
        double t[3] = {0.35 * k - 0.5, 0.04 * k, 0.06 * (k % 3)};
        memset(c2w_true[k], 0, sizeof(c2w_true[k]));
        for (int r = 0; r < 3; r++) {
            for (int q = 0; q < 3; q++) c2w_true[k][r * 4 + q] = R[r * 3 + q];
            c2w_true[k][r * 4 + 3] = t[r];
        }
        c2w_true[k][15] = 1;
    }
}

// Depth along view k's pixel (u, v): a smooth surface, 4-6 units away.
static double depth(int k, double u, double v) {
    return 5 + 0.7 * sin(0.011 * u + 0.5 * k) * cos(0.013 * v) + 0.25 * sin(0.037 * (u - v));
}

// The net's pointmap for edge (i = cam): view src's pixels in camera cam's frame. The true 3-D point of each
// pixel (true K, true pose, the surface + 0.3 % noise), moved into camera cam, then stretched sideways by
// the pair's factor `lat` and scaled by the pair's `scale`.
static void pointmap(float *out, int cam, int src, double scale, double lat, pc_test_rng *rng) {
    const double *mc = c2w_true[cam], *ms = c2w_true[src];
    for (int p = 0; p < HW; p++) {
        double u = p % W, v = p / W, d = depth(src, u, v) * (1 + 0.003 * noise(rng));
        double xs[3] = {d * (u - CX_TRUE) / F_TRUE, d * (v - CY_TRUE) / F_TRUE, d}, X[3];
        for (int r = 0; r < 3; r++) X[r] = ms[r * 4] * xs[0] + ms[r * 4 + 1] * xs[1] + ms[r * 4 + 2] * xs[2] + ms[r * 4 + 3];
        double Y[3] = {X[0] - mc[3], X[1] - mc[7], X[2] - mc[11]}, Z[3];
        for (int r = 0; r < 3; r++) Z[r] = mc[r] * Y[0] + mc[4 + r] * Y[1] + mc[8 + r] * Y[2];
        out[p * 3] = (float)(scale * lat * Z[0]);
        out[p * 3 + 1] = (float)(scale * lat * Z[1]);
        out[p * 3 + 2] = (float)(scale * Z[2]);
    }
}

static double rot_err_rel(const float *a0, const float *a1, const double *b0, const double *b1) {
    double Ra[9], Rb[9], tr = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double x = 0, y = 0;
            for (int q = 0; q < 3; q++) x += a0[q * 4 + r] * a1[q * 4 + c], y += b0[q * 4 + r] * b1[q * 4 + c];
            Ra[r * 3 + c] = x, Rb[r * 3 + c] = y;
        }
    for (int q = 0; q < 9; q++) tr += Ra[q] * Rb[q];
    return acos(fmin(1, fmax(-1, (tr - 1) / 2))) * 180 / M_PI;
}

// Angle between the true and estimated direction of camera 1's centre in camera 0's frame.
static double trans_err_rel(const float *a0, const float *a1, const double *b0, const double *b1) {
    double da[3], db[3], na = 0, nb = 0, dot = 0;
    for (int r = 0; r < 3; r++) {
        double xa = 0, xb = 0;
        for (int q = 0; q < 3; q++) {
            xa += a0[q * 4 + r] * (a1[q * 4 + 3] - a0[q * 4 + 3]);
            xb += b0[q * 4 + r] * (b1[q * 4 + 3] - b0[q * 4 + 3]);
        }
        da[r] = xa, db[r] = xb;
    }
    for (int r = 0; r < 3; r++) na += da[r] * da[r], nb += db[r] * db[r], dot += da[r] * db[r];
    return acos(fmin(1, fmax(-1, dot / sqrt(na * nb)))) * 180 / M_PI;
}

int main(void) {
    make_cameras();
    int pairs[2 * NV * NV], np;
    pc_error err;
    pc_test_ok(pc_align_make_pairs(pairs, NV * NV, &np, NV, "complete", 1, &err), &err, "pairs");
    pc_align_edge edges[NV * NV];
    float *bufs[4 * NV * NV];
    int nb = 0, hs[NV], ws[NV];
    pc_test_rng rng = {99};
    for (int k = 0; k < NV; k++) hs[k] = H, ws[k] = W;
    for (int e = 0; e < np; e++) {
        int i = pairs[2 * e], j = pairs[2 * e + 1];
        float *pi = malloc(sizeof(float) * 3 * HW), *pj = malloc(sizeof(float) * 3 * HW);
        float *ci = malloc(sizeof(float) * HW), *cj = malloc(sizeof(float) * HW);
        double sc = 0.8 + 0.05 * e, lat = 1 + 0.08 * pc_test_uniform(&rng);
        pointmap(pi, i, i, sc, lat, &rng);
        pointmap(pj, i, j, sc, lat, &rng);
        for (int p = 0; p < HW; p++) ci[p] = (float)(5 + 2 * pc_test_uniform(&rng)), cj[p] = (float)(5 + 2 * pc_test_uniform(&rng));
        edges[e] = (pc_align_edge){i, j, pi, ci, pj, cj};
        bufs[nb++] = pi, bufs[nb++] = pj, bufs[nb++] = ci, bufs[nb++] = cj;
    }
    pc_align_opts o;
    pc_align_opts_default(&o);
    o.schedule = PC_ALIGN_LINEAR;  // the pipeline's (ViewCrafter's) settings
    pc_align_intrinsics known[NV] = {{1, F_TRUE, CX_TRUE, CY_TRUE}, {1, F_TRUE, CX_TRUE, CY_TRUE}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    double erot[2], etr[2], f0[2], f2[2];
    for (int use = 0; use < 2; use++) {
        pc_align_input in = {NV, hs, ws, np, edges, use ? known : NULL};
        pc_align *ga;
        pc_test_ok(pc_align_create(&ga, &in, &o, NULL, &err), &err, "create");
        pc_test_ok(pc_align_init_mst(ga, &err), &err, "mst");
        if (use) {
            float pp[2];
            pc_align_pp(ga, 0, pp);
            PC_CHECK(fabs(pc_align_focal(ga, 0) - F_TRUE) < 1e-3 && pp[0] == (float)CX_TRUE && pp[1] == (float)CY_TRUE,
                     "after the MST init, view 0 keeps the given K: f %.4f pp (%.2f, %.2f)", pc_align_focal(ga, 0), pp[0],
                     pp[1]);
        }
        double loss;
        pc_test_ok(pc_align_optimize(ga, NULL, &loss, &err), &err, "optimize");
        float c0[16], c1[16];
        pc_align_cam2world(ga, 0, c0);
        pc_align_cam2world(ga, 1, c1);
        erot[use] = rot_err_rel(c0, c1, c2w_true[0], c2w_true[1]);
        etr[use] = trans_err_rel(c0, c1, c2w_true[0], c2w_true[1]);
        f0[use] = pc_align_focal(ga, 0);
        f2[use] = pc_align_focal(ga, 2);
        if (use) {
            float pp0[2], pp1[2], pp2[2];
            pc_align_pp(ga, 0, pp0), pc_align_pp(ga, 1, pp1), pc_align_pp(ga, 2, pp2);
            PC_CHECK(fabs(f0[1] - F_TRUE) < 1e-3 && fabs(pc_align_focal(ga, 1) - F_TRUE) < 1e-3,
                     "after 300 iterations the fixed focals are the given %.1f: %.4f, %.4f", F_TRUE, f0[1],
                     pc_align_focal(ga, 1));
            PC_CHECK(pp0[0] == (float)CX_TRUE && pp0[1] == (float)CY_TRUE && pp1[0] == (float)CX_TRUE &&
                         pp2[0] == (float)(W / 2.0) && pp2[1] == (float)(H / 2.0),
                     "principal points: views 0, 1 the given (%.1f, %.1f), view 2 (W/2, H/2)", pp0[0], pp0[1]);
            pc_align_result res;
            pc_test_ok(pc_align_get_result(&res, ga, &err), &err, "result");
            PC_CHECK(fabsf(res.focals[0] - (float)F_TRUE) < 1e-3f && res.pp[1][1] == (float)CY_TRUE,
                     "pc_align_get_result reports them (%.4f, pp y %.2f)", res.focals[0], res.pp[1][1]);
            pc_align_result_free(&res);
        }
        printf("   %s: rotation error %.3f deg, translation direction %.3f deg, focal 0: %.1f, focal 2: %.1f (loss %.4g)\n",
               use ? "true K of views 0, 1 fixed" : "no K", erot[use], etr[use], f0[use], f2[use], loss);
        pc_align_free(ga);
    }
    PC_CHECK(fabs(f0[0] - F_TRUE) > 1e-2 && fabs(f0[0] / F_TRUE - 1) < 0.1,
             "without K the focal of view 0 is estimated: %.2f (true %.0f)", f0[0], F_TRUE);
    PC_CHECK(fabs(f2[1] - f2[0]) > 1e-3 && fabs(f2[1] / F_TRUE - 1) < 0.1,
             "with K, the views without one are still estimated (view 2: %.2f, %.2f without K)", f2[1], f2[0]);
    PC_CHECK(erot[1] <= erot[0] + 0.02 && etr[1] <= etr[0] + 0.05,
             "with the true K fixed the pose error does not grow: rotation %.3f -> %.3f deg, translation %.3f -> %.3f deg",
             erot[0], erot[1], etr[0], etr[1]);

    // PairViewer: two views, the two symmetric edges (0,1) and (1,0)
    {
        pc_align_edge pe[2];
        int q = 0;
        for (int e = 0; e < np; e++)
            if ((edges[e].i == 0 && edges[e].j == 1) || (edges[e].i == 1 && edges[e].j == 0)) pe[q++] = edges[e];
        pc_align_input pin = {2, hs, ws, 2, pe, known};
        pc_align_result res;
        pc_test_ok(pc_align_pairviewer(&res, &pin, &o, &err), &err, "pairviewer");
        PC_CHECK(res.focals[0] == (float)F_TRUE && res.focals[1] == (float)F_TRUE && res.pp[0][0] == (float)CX_TRUE &&
                     res.pp[1][1] == (float)CY_TRUE,
                 "PairViewer with known K reports it: f %.2f %.2f, pp (%.2f, %.2f)", res.focals[0], res.focals[1],
                 res.pp[0][0], res.pp[0][1]);
        double er = rot_err_rel(res.c2w[0], res.c2w[1], c2w_true[0], c2w_true[1]);
        PC_CHECK(er < 1.0, "PairViewer with known K: rotation error %.3f deg (tol 1)", er);
        pc_align_result_free(&res);
    }
    pc_align_intrinsics bad[NV] = {{1, -5, 0, 0}};
    pc_align_input bin = {NV, hs, ws, np, edges, bad};
    pc_align *ga = NULL;
    memset(&err, 0, sizeof(err));
    PC_CHECK(pc_align_create(&ga, &bin, &o, NULL, &err) != PC_OK && strstr(err.msg, "view 0"),
             "a non-positive known focal is refused: %s", err.msg);
    for (int q = 0; q < nb; q++) free(bufs[q]);
    return pc_test_finish();
}
