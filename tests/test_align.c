// Global alignment vs upstream DUSt3R (dust3r/cloud_opt): MST init, init state, loss, gradients (golden and
// finite differences), Adam snapshots, loss curve, final state, PairViewer, pair graphs.
// Golden: ../shared/golden/dust3r/ga.safetensors (4 views, 48x64, 12 edges; README there).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "align/global_align_internal.h"
#include "posecrafter.h"
#include "testutil.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const pc_checkpoint *g_ck;

static const float *T(const char *name) {
    const pc_tensor *t = pc_checkpoint_find(g_ck, name);
    if (!t) pc_test_fatal("golden tensor '%s' missing", name);
    if (t->dtype != PC_F32 || !pc_tensor_is_contiguous(t)) pc_test_fatal("golden tensor '%s' is not contiguous F32", name);
    return (const float *)t->data;
}

// Normwise check: max|got - want| / max|want| <= tol.
static int close_normwise(const char *name, const float *got, const float *want, size_t n, double tol) {
    double md = 0, mw = 0;
    size_t wi = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs((double)got[k] - want[k]);
        if (d > md || d != d) md = d, wi = k;
        if (fabs(want[k]) > mw) mw = fabs(want[k]);
    }
    double r = mw > 0 ? md / mw : md;
    int ok = r <= tol;
    PC_CHECK(ok, "%s: normwise %.3g (max abs %.3g at %zu, got %.6g want %.6g) tol %.1g", name, r, md, wi,
             n ? got[wi] : 0.f, n ? want[wi] : 0.f, tol);
    return ok;
}

// Snapshot check: atol where |init_grad| > 1e-6, else atol_flat.
static void close_masked(const char *name, const float *got, const float *want, const float *grad, size_t n, double atol,
                         double atol_flat) {
    double worst = 0, worst_flat = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs((double)got[k] - want[k]);
        if (fabs(grad[k]) > 1e-6) worst = fmax(worst, d);
        else worst_flat = fmax(worst_flat, d);
    }
    PC_CHECK(worst <= atol && worst_flat <= atol_flat, "%s: max abs %.3g (|grad|>1e-6, tol %.1g), %.3g elsewhere (tol %.1g)",
             name, worst, atol, worst_flat, atol_flat);
}

static double rot_angle_deg(const float *A, const float *B) { // 4x4 poses
    double tr = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) tr += (double)A[r * 4 + c] * B[r * 4 + c];
    double x = (tr - 1) / 2;
    x = x > 1 ? 1 : (x < -1 ? -1 : x);
    return acos(x) * 180 / M_PI;
}

static void test_pair_graphs(void) {
    static const struct {
        int n;
        const char *g;
        int np;
        int p[192];
    } cases[] = {
        {5, "swin", 10, {0,1, 2,4, 1,2, 0,4, 3,4, 0,3, 1,4, 2,3, 0,2, 1,3}},
        {6, "swin-2-noncyclic", 9, {0,1, 2,4, 1,2, 3,4, 2,3, 0,2, 4,5, 1,3, 3,5}},
        {7, "logwin", 21, {3,4, 4,6, 0,2, 0,5, 1,6, 2,5, 1,3, 4,5, 5,6, 3,6, 0,1, 2,4, 1,2, 0,4, 1,5, 3,5, 0,3, 1,4, 0,6, 2,3, 2,6}},
        {9, "logwin-2-noncyclic", 15, {0,1, 2,4, 1,2, 3,4, 6,8, 4,6, 5,7, 2,3, 6,7, 0,2, 4,5, 5,6, 7,8, 1,3, 3,5}},
        {20, "swin-4", 80, {8,9, 11,14, 13,17, 7,10, 18,19, 3,6, 14,15, 8,11, 9,10, 2,4, 0,16, 1,17, 15,16, 14,17, 9,12, 1,19, 15,18, 16,17, 12,13, 5,7, 0,2, 3,19, 1,3, 13,14, 16,19, 12,15, 5,9, 1,5, 13,16, 7,9, 3,5, 2,6, 0,18, 7,11, 3,7, 4,6, 14,16, 17,18, 10,12, 1,18, 6,8, 5,6, 4,8, 14,18, 1,2, 0,4, 10,14, 11,13, 2,19, 6,10, 12,14, 8,10, 1,4, 2,3, 11,15, 3,4, 12,16, 8,12, 9,11, 2,5, 0,17, 15,17, 4,5, 0,1, 10,11, 9,13, 0,19, 6,7, 15,19, 16,18, 4,7, 5,8, 0,3, 17,19, 10,13, 11,12, 2,18, 13,15, 6,9, 7,8}},
        {24, "logwin-4", 96, {16,20, 8,9, 14,22, 17,21, 9,17, 0,23, 13,17, 15,23, 18,19, 20,22, 14,15, 9,10, 2,4, 5,21, 0,16, 1,17, 15,16, 12,20, 13,21, 16,17, 7,23, 12,13, 5,7, 22,23, 0,2, 3,19, 1,3, 13,14, 1,21, 5,9, 4,20, 1,5, 19,20, 7,9, 1,23, 2,22, 3,5, 6,22, 20,21, 3,23, 2,6, 7,11, 3,7, 4,6, 21,22, 14,16, 5,13, 17,18, 10,12, 1,9, 0,20, 6,8, 5,6, 4,8, 14,18, 1,2, 0,4, 10,14, 11,13, 2,10, 0,22, 6,10, 12,14, 3,11, 8,10, 2,3, 11,15, 3,4, 18,20, 12,16, 4,12, 8,12, 9,11, 0,8, 19,21, 10,18, 15,17, 6,14, 4,5, 18,22, 0,1, 10,11, 9,13, 19,23, 11,19, 6,7, 15,19, 16,18, 7,15, 21,23, 17,19, 8,16, 11,12, 2,18, 13,15, 7,8}},
    };
    pc_error err;
    int pairs[2 * 400], np;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pc_test_ok(pc_align_make_pairs(pairs, 400, &np, cases[c].n, cases[c].g, 1, &err), &err, "make_pairs");
        int ok = np == 2 * cases[c].np;
        for (int p = 0; ok && p < cases[c].np; p++)
            ok = pairs[2 * p] == cases[c].p[2 * p] && pairs[2 * p + 1] == cases[c].p[2 * p + 1] &&
                 pairs[2 * (p + cases[c].np)] == cases[c].p[2 * p + 1] && pairs[2 * (p + cases[c].np) + 1] == cases[c].p[2 * p];
        PC_CHECK(ok, "make_pairs n=%d '%s': %d pairs in CPython 3.11 set order + symmetrized", cases[c].n, cases[c].g, np);
    }
    // complete: the golden edge order for 4 views
    static const int want[24] = {1,0, 2,0, 2,1, 3,0, 3,1, 3,2, 0,1, 0,2, 1,2, 0,3, 1,3, 2,3};
    pc_test_ok(pc_align_make_pairs(pairs, 400, &np, 4, "complete", 1, &err), &err, "make_pairs complete");
    PC_CHECK(np == 12 && !memcmp(pairs, want, sizeof(want)), "make_pairs complete 4 views = golden 'edges' order");
    pc_test_ok(pc_align_make_pairs(pairs, 400, &np, 4, "oneref-2", 0, &err), &err, "make_pairs oneref");
    PC_CHECK(np == 3 && pairs[0] == 2 && pairs[1] == 0 && pairs[4] == 2 && pairs[5] == 3, "make_pairs oneref-2");
}

// Synthetic P3P / PnP-RANSAC check: known pose, noisy inliers + outliers.
static void test_pnp(void) {
    pc_test_rng rng = {42};
    int n = 400;
    float *X = malloc(sizeof(float) * 3 * n), *uv = malloc(sizeof(float) * 2 * n);
    double aa[3] = {0.1, -0.2, 0.05}, t[3] = {0.3, -0.1, 2.0};
    double th = sqrt(aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]), k[3] = {aa[0] / th, aa[1] / th, aa[2] / th};
    double c = cos(th), s = sin(th), v = 1 - c, R[9] = {
        c + k[0] * k[0] * v, k[0] * k[1] * v - k[2] * s, k[0] * k[2] * v + k[1] * s,
        k[1] * k[0] * v + k[2] * s, c + k[1] * k[1] * v, k[1] * k[2] * v - k[0] * s,
        k[2] * k[0] * v - k[1] * s, k[2] * k[1] * v + k[0] * s, c + k[2] * k[2] * v};
    double f = 300, cx = 160, cy = 120;
    for (int p = 0; p < n; p++) {
        double xc[3] = {pc_test_uniform(&rng) * 1.5, pc_test_uniform(&rng) * 1.0, 3 + pc_test_uniform(&rng)};
        double xw[3];
        for (int r = 0; r < 3; r++) xw[r] = R[r] * (xc[0] - t[0]) + R[3 + r] * (xc[1] - t[1]) + R[6 + r] * (xc[2] - t[2]);
        for (int r = 0; r < 3; r++) X[p * 3 + r] = (float)xw[r];
        uv[p * 2] = (float)(f * xc[0] / xc[2] + cx + 0.3 * pc_test_uniform(&rng));
        uv[p * 2 + 1] = (float)(f * xc[1] / xc[2] + cy + 0.3 * pc_test_uniform(&rng));
        if (p % 4 == 3) uv[p * 2] += 50 + 40 * pc_test_uniform(&rng); // 25% outliers
    }
    double Re[9], te[3];
    int inl = pc_align_pnp_ransac(Re, te, X, uv, n, f, cx, cy, 10, 5.0, 1);
    double dr = 0, dt = 0;
    for (int q = 0; q < 9; q++) dr = fmax(dr, fabs(Re[q] - R[q]));
    for (int q = 0; q < 3; q++) dt = fmax(dt, fabs(te[q] - t[q]));
    PC_CHECK(inl >= 290 && inl <= 310 && dr < 5e-3 && dt < 2e-2, "PnP-RANSAC synthetic: %d/400 inliers (300 true), max|dR| %.2g, max|dt| %.2g", inl, dr, dt);
    free(X);
    free(uv);
}


// Views of different sizes (portrait + landscape), a consistent synthetic scene with noise: MST init,
// finite-difference gradient, 60 iterations with the linear schedule; the loss must drop and stay finite.
static void test_mixed_sizes(void) {
    enum { NV = 3 };
    const int hs[NV] = {12, 16, 10}, ws[NV] = {16, 12, 14};
    double Rk[NV][9], Tk[NV][3], f = 14;
    pc_test_rng rng = {7};
    float *world[NV];
    for (int k = 0; k < NV; k++) {
        double a = 0.1 * (k - 1), c = cos(a), s = sin(a);
        double R[9] = {c, 0, s, 0, 1, 0, -s, 0, c};
        memcpy(Rk[k], R, sizeof(R));
        Tk[k][0] = 0.2 * k, Tk[k][1] = -0.05 * k, Tk[k][2] = 0.03 * k;
        int hw = hs[k] * ws[k];
        world[k] = malloc(sizeof(float) * 3 * hw);
        for (int p = 0; p < hw; p++) {
            double u = p % ws[k], v = p / ws[k], d = 2 + 0.2 * sin(u + v);
            double xc[3] = {d * (u - ws[k] / 2.0) / f, d * (v - hs[k] / 2.0) / f, d};
            for (int r = 0; r < 3; r++) world[k][p * 3 + r] = (float)(Rk[k][r * 3] * xc[0] + Rk[k][r * 3 + 1] * xc[1] + Rk[k][r * 3 + 2] * xc[2] + Tk[k][r]);
        }
    }
    int pairs[2 * 6], np;
    pc_error err;
    pc_test_ok(pc_align_make_pairs(pairs, 6, &np, NV, "complete", 1, &err), &err, "pairs");
    pc_align_edge edges[6];
    float *bufs[24];
    int nb = 0;
    for (int e = 0; e < np; e++) {
        int i = pairs[2 * e], j = pairs[2 * e + 1];
        double sc = 0.7 + 0.1 * e;
        float *pt[2], *cf[2];
        for (int side = 0; side < 2; side++) {
            int k = side ? j : i, hw = hs[k] * ws[k];
            pt[side] = bufs[nb++] = malloc(sizeof(float) * 3 * hw);
            cf[side] = bufs[nb++] = malloc(sizeof(float) * hw);
            for (int p = 0; p < hw; p++) {
                double X[3] = {world[k][p * 3] - Tk[i][0], world[k][p * 3 + 1] - Tk[i][1], world[k][p * 3 + 2] - Tk[i][2]};
                for (int r = 0; r < 3; r++)
                    pt[side][p * 3 + r] = (float)(sc * (Rk[i][r] * X[0] + Rk[i][3 + r] * X[1] + Rk[i][6 + r] * X[2]) + 0.01 * pc_test_uniform(&rng));
                cf[side][p] = (float)(2.5 + 2 * pc_test_uniform(&rng));
            }
        }
        edges[e] = (pc_align_edge){i, j, pt[0], cf[0], pt[1], cf[1]};
    }
    pc_align_input in = {NV, hs, ws, np, edges, NULL};
    pc_align_opts o;
    pc_align_opts_default(&o);
    o.schedule = PC_ALIGN_LINEAR;
    o.niter = 60;
    pc_align *ga;
    pc_test_ok(pc_align_create(&ga, &in, &o, NULL, &err), &err, "create mixed");
    pc_test_ok(pc_align_init_mst(ga, &err), &err, "mst mixed");
    double l0 = pc_align_loss(ga, 1);
    // a few steps first: right after the MST init the root edge's residuals are exactly 0 (|r| kinks)
    for (int it = 0; it < 5; it++) pc_align_step(ga, 0.01);
    pc_align_loss(ga, 1);
    // finite differences on every focal and pose parameter and a few depths
    double worst = 0;
    const pc_align_param grp[3] = {PC_ALIGN_IM_POSES, PC_ALIGN_IM_FOCALS, PC_ALIGN_PW_POSES};
    for (int gi = 0; gi < 3; gi++) {
        int64_t n;
        float *P = pc_align_params(ga, grp[gi], &n), *G = pc_align_grads(ga, grp[gi], &n);
        float *gc = malloc(sizeof(float) * n);
        memcpy(gc, G, sizeof(float) * n);
        for (int64_t q = 0; q < n; q++) {
            float p0 = P[q];
            P[q] = p0 + 1e-3f;
            double lp = pc_align_loss(ga, 0);
            P[q] = p0 - 1e-3f;
            double lm = pc_align_loss(ga, 0);
            P[q] = p0;
            double fd = (lp - lm) / ((double)(p0 + 1e-3f) - (double)(p0 - 1e-3f));
            // t' == 0 exactly (the MST root camera): autograd's sign(0) quirk gives 0 where the FD does not
            int trans = (grp[gi] == PC_ALIGN_IM_POSES && q % 7 >= 4) || (grp[gi] == PC_ALIGN_PW_POSES && q % 8 >= 4 && q % 8 < 7);
            if (trans && p0 == 0) {
                PC_CHECK(gc[q] == 0, "frozen root: gradient of t'=0 entry %lld is exactly 0", (long long)q);
                continue;
            }
            double rel = fabs(fd - gc[q]) / fmax(fabs(fd), 1e-4);
            if (rel > 2e-2) printf("   FD group %d [%lld]: analytic %.6g fd %.6g (param %.6g)\n", gi, (long long)q, gc[q], fd, p0);
            if (rel > worst) worst = rel;
        }
        free(gc);
        pc_align_loss(ga, 1);
    }
    PC_CHECK(worst < 2e-2, "mixed sizes (12x16, 16x12, 10x14): finite-difference gradient, worst rel err %.3g (tol 2e-2)", worst);
    double lf;
    pc_test_ok(pc_align_optimize(ga, NULL, &lf, &err), &err, "optimize mixed");
    PC_CHECK(isfinite(lf) && lf < l0, "mixed sizes: loss %.4g -> %.4g after 60 linear-schedule iterations", l0, lf);
    float fo = pc_align_focal(ga, 1);
    PC_CHECK(isfinite(fo) && fo > 5 && fo < 50, "mixed sizes: focal of the portrait view %.3g (true %.3g up to scale-free noise)", fo, f);
    pc_align_result res;
    pc_test_ok(pc_align_get_result(&res, ga, &err), &err, "result");
    float **pts;
    pc_test_ok(pc_align_result_pts3d(&pts, &res, hs, ws, &err), &err, "pts");
    float direct[3 * 16 * 12];
    pc_align_pts3d(ga, 1, direct);
    pc_test_close("result_pts3d == pc_align_pts3d (view 1)", pts[1], direct, 3 * 16 * 12, 1e-5, 1e-5);
    for (int k = 0; k < NV; k++) free(pts[k]);
    free(pts);
    pc_align_result_free(&res);
    // relative pose convention: X_B = R X_A + t
    float c2wa[16], c2wb[16], R[9], t[3];
    pc_align_cam2world(ga, 0, c2wa);
    pc_align_cam2world(ga, 1, c2wb);
    pc_align_relative_pose(R, t, c2wa, c2wb);
    float xa[3] = {0.3f, -0.2f, 2.0f}, xw[3], xb[3], xb2[3];
    for (int r = 0; r < 3; r++) xw[r] = c2wa[r * 4] * xa[0] + c2wa[r * 4 + 1] * xa[1] + c2wa[r * 4 + 2] * xa[2] + c2wa[r * 4 + 3];
    for (int r = 0; r < 3; r++) // world -> cam b
        xb[r] = c2wb[r] * (xw[0] - c2wb[3]) + c2wb[4 + r] * (xw[1] - c2wb[7]) + c2wb[8 + r] * (xw[2] - c2wb[11]);
    for (int r = 0; r < 3; r++) xb2[r] = R[r * 3] * xa[0] + R[r * 3 + 1] * xa[1] + R[r * 3 + 2] * xa[2] + t[r];
    pc_test_close("relative pose X_B = R X_A + t", xb2, xb, 3, 1e-5, 1e-5);
    pc_align_free(ga);
    for (int q = 0; q < nb; q++) free(bufs[q]);
    for (int k = 0; k < NV; k++) free(world[k]);
}

// Fused edge layout and kernel twins on sizes that span several 1024-pixel tiles and are not multiples of 16
// (padded blocks), plus a view without edges: the loss equals a direct double-precision evaluation of
// sum_e w |X - A pred| / area through the public API, and the reference / AVX2 / AVX-512 kernels and 1 vs 2
// threads agree on loss and gradient.
static void test_layout_twins(void) {
    enum { NV = 4, NE = 4 };
    const int hs[NV] = {45, 33, 40, 7}, ws[NV] = {50, 40, 41, 9};
    const int ij[NE][2] = {{0, 1}, {1, 0}, {2, 0}, {1, 2}};
    pc_test_rng rng = {11};
    pc_align_edge edges[NE];
    float *bufs[4 * NE];
    int nb = 0;
    for (int e = 0; e < NE; e++) {
        float *pt[2], *cf[2];
        for (int side = 0; side < 2; side++) {
            int hw = hs[ij[e][side]] * ws[ij[e][side]];
            pt[side] = bufs[nb++] = malloc(sizeof(float) * 3 * hw);
            cf[side] = bufs[nb++] = malloc(sizeof(float) * hw);
            for (int p = 0; p < hw; p++) {
                for (int r = 0; r < 3; r++) pt[side][p * 3 + r] = (float)((r == 2 ? 2 : 0) + 0.5 * pc_test_uniform(&rng));
                cf[side][p] = (float)(1.1 + 3 * (pc_test_uniform(&rng) + 1));
            }
        }
        edges[e] = (pc_align_edge){ij[e][0], ij[e][1], pt[0], cf[0], pt[1], cf[1]};
    }
    pc_align_input in = {NV, hs, ws, NE, edges, NULL};
    pc_align_opts o;
    pc_align_opts_default(&o);
    pc_error err;
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    pc_align *ga[4];
    for (int q = 0; q < 4; q++) pc_test_ok(pc_align_create(&ga[q], &in, &o, q == 3 ? pool : NULL, &err), &err, "create layout");
    // a non-trivial state: random poses, scales, depths, focals (the same in every instance)
    int64_t n;
    float *P = pc_align_params(ga[0], PC_ALIGN_PW_POSES, &n);
    for (int64_t q = 0; q < n; q++) P[q] = (float)(q % 8 == 3 ? 1 : 0.2) * (float)(1 + 0.3 * pc_test_uniform(&rng));
    P = pc_align_params(ga[0], PC_ALIGN_IM_POSES, &n);
    for (int64_t q = 0; q < n; q++) P[q] = (float)(q % 7 == 3 ? 1 : 0.1) * (float)(1 + 0.5 * pc_test_uniform(&rng));
    P = pc_align_params(ga[0], PC_ALIGN_IM_DEPTHMAPS, &n);
    for (int64_t q = 0; q < n; q++) P[q] = (float)(0.7 + 0.1 * pc_test_uniform(&rng));
    P = pc_align_params(ga[0], PC_ALIGN_IM_FOCALS, &n);
    for (int64_t q = 0; q < n; q++) P[q] = (float)(20 * log(60.0) + pc_test_uniform(&rng));
    const pc_align_param grp[4] = {PC_ALIGN_PW_POSES, PC_ALIGN_IM_POSES, PC_ALIGN_IM_DEPTHMAPS, PC_ALIGN_IM_FOCALS};
    for (int q = 1; q < 4; q++)
        for (int gi = 0; gi < 4; gi++) {
            const float *src = pc_align_params(ga[0], grp[gi], &n);
            memcpy(pc_align_params(ga[q], grp[gi], &n), src, sizeof(float) * (size_t)n);
        }
    // direct evaluation (double) of the loss
    double li = 0, lj = 0, ai = 0, aj = 0;
    for (int e = 0; e < NE; e++) {
        float A[16];
        pc_align_pw_pose(ga[0], e, A);
        for (int side = 0; side < 2; side++) {
            int k = ij[e][side], hw = hs[k] * ws[k];
            float *X = malloc(sizeof(float) * 3 * hw);
            pc_align_pts3d(ga[0], k, X);
            const float *pr = side ? edges[e].pts_j : edges[e].pts_i, *cf = side ? edges[e].conf_j : edges[e].conf_i;
            double acc = 0;
            for (int p = 0; p < hw; p++) {
                double r2 = 0;
                for (int r = 0; r < 3; r++) {
                    double y = (double)A[r * 4] * pr[p * 3] + (double)A[r * 4 + 1] * pr[p * 3 + 1] + (double)A[r * 4 + 2] * pr[p * 3 + 2] + A[r * 4 + 3];
                    r2 += (X[p * 3 + r] - y) * (X[p * 3 + r] - y);
                }
                acc += log((double)cf[p]) * sqrt(r2);
            }
            if (side) lj += acc, aj += hw;
            else li += acc, ai += hw;
            free(X);
        }
    }
    float direct = (float)(li / ai + lj / aj);
    pc_align_set_simd(ga[0], 0); // plain reference
    pc_align_set_simd(ga[1], 2); // AVX2 (where the CPU has it)
    pc_align_set_simd(ga[2], 1); // fastest (AVX-512 where the CPU has it)
    pc_align_set_simd(ga[3], 1); // fastest, 2 threads
    float l[4];
    for (int q = 0; q < 4; q++) l[q] = (float)pc_align_loss(ga[q], 0);
    pc_test_close("layout: reference loss == direct evaluation (tiles, padding, edgeless view)", &l[0], &direct, 1, 0, 1e-5);
    const char *nm[4] = {"reference", "AVX2", "fastest", "fastest, 2 threads"};
    for (int q = 1; q < 4; q++) {
        char name[128];
        snprintf(name, sizeof(name), "layout: %s vs reference loss (no grad)", nm[q]);
        pc_test_close(name, &l[q], &l[0], 1, 0, 1e-6);
    }
    for (int q = 0; q < 4; q++) l[q] = (float)pc_align_loss(ga[q], 1);
    for (int q = 1; q < 4; q++) {
        char name[128];
        snprintf(name, sizeof(name), "layout: %s vs reference loss (with grad)", nm[q]);
        pc_test_close(name, &l[q], &l[0], 1, 0, 1e-6);
        for (int gi = 0; gi < 4; gi++) {
            int64_t cnt;
            snprintf(name, sizeof(name), "layout: %s vs reference gradient, group %d", nm[q], gi);
            const float *gq = pc_align_grads(ga[q], grp[gi], &cnt), *g0 = pc_align_grads(ga[0], grp[gi], &cnt);
            close_normwise(name, gq, g0, (size_t)cnt, 1e-5);
        }
    }
    {
        const float *gd = pc_align_grads(ga[2], PC_ALIGN_IM_DEPTHMAPS, &n);
        int64_t off = 45 * 50 + 33 * 40 + 40 * 41, bad = 0;
        for (int p = 0; p < 7 * 9; p++) bad += gd[off + p] != 0;
        PC_CHECK(bad == 0 && n == off + 63, "layout: the edgeless view's depth gradient is exactly 0 (%lld nonzero)", (long long)bad);
    }
    // a few Adam steps stay in agreement (the Adam twin is bitwise equal to the plain loop)
    for (int it = 0; it < 3; it++)
        for (int q = 0; q < 4; q++) l[q] = (float)pc_align_step(ga[q], 0.01);
    for (int q = 1; q < 4; q++) {
        char name[128];
        snprintf(name, sizeof(name), "layout: %s vs reference, loss after 3 Adam steps", nm[q]);
        pc_test_close(name, &l[q], &l[0], 1, 0, 1e-6);
    }
    for (int q = 0; q < 4; q++) pc_align_free(ga[q]);
    pc_pool_free(pool);
    for (int q = 0; q < nb; q++) free(bufs[q]);
}

// The AVX-512 exp used for the depth maps vs libm expf: within 1 ulp, NaN / inf / underflow handled.
static void test_exp_twin(void) {
    if (!pc_cpu_has_avx512f()) {
        printf("  skip exp twin: no AVX-512\n");
        return;
    }
    enum { N = 20011 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -100.f + 200.f * (float)i / N;
    x[0] = NAN, x[1] = INFINITY, x[2] = -INFINITY, x[3] = 0, x[4] = 88.7f, x[5] = 89.5f;
    pc_ga_exp_v16(y, x, N - 3); // odd length: masked tail; the last 3 stay untouched
    y[N - 3] = y[N - 2] = y[N - 1] = 123;
    pc_ga_exp_v16(y + N - 3, x + N - 3, 0);
    long worst = 0;
    int special_ok = isnan(y[0]) && isinf(y[1]) && y[2] == 0 && y[3] == 1 && isinf(y[5]) && y[N - 1] == 123;
    for (int i = 1; i < N - 3; i++) {
        float r = expf(x[i]);
        int32_t a, b;
        memcpy(&a, &r, 4);
        memcpy(&b, &y[i], 4);
        long d = labs((long)a - (long)b);
        if (d > worst) worst = d;
    }
    PC_CHECK(worst <= 1 && special_ok, "exp twin (AVX-512) vs expf: worst %ld ulp (tol 1), specials %s", worst, special_ok ? "ok" : "WRONG");
}

int main(void) {
    test_exp_twin();
    test_pair_graphs();
    test_pnp();
    test_mixed_sizes();
    test_layout_twins();

    char path[1024];
    pc_test_shared_path(path, sizeof(path), "golden/dust3r/ga.safetensors");
    pc_error err;
    pc_checkpoint *ck;
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open ga.safetensors");
    g_ck = ck;
    const int N = 4, E = 12, H = 48, W = 64, HW = H * W;
    const pc_tensor *te = pc_checkpoint_find(ck, "edges");
    PC_CHECK(te && te->dtype == PC_I64 && te->shape[0] == E, "edges tensor");
    const int64_t *ed = (const int64_t *)te->data;
    const float *p1 = T("pw_pred1_pts3d"), *c1 = T("pw_pred1_conf"), *p2 = T("pw_pred2_pts3d_in_other_view"),
                *c2 = T("pw_pred2_conf");
    pc_align_edge edges[12];
    for (int e = 0; e < E; e++) {
        edges[e].i = (int)ed[2 * e];
        edges[e].j = (int)ed[2 * e + 1];
        edges[e].pts_i = p1 + (size_t)e * HW * 3;
        edges[e].conf_i = c1 + (size_t)e * HW;
        edges[e].pts_j = p2 + (size_t)e * HW * 3;
        edges[e].conf_j = c2 + (size_t)e * HW;
    }
    int hs[4] = {H, H, H, H}, ws[4] = {W, W, W, W};
    pc_align_input in = {N, hs, ws, E, edges, NULL};
    pc_align_opts o;
    pc_align_opts_default(&o);
    pc_align *ga;
    pc_test_ok(pc_align_create(&ga, &in, &o, NULL, &err), &err, "create");
    for (int k = 0; k < N; k++) pc_test_close("im_conf (dust3r: _compute_img_conf)", pc_align_im_conf(ga, k), T("im_conf") + k * HW, HW, 0, 0);

    // ---- MST (dust3r: minimum_spanning_tree) ----
    pc_align_mst mst;
    pc_test_ok(pc_align_mst_compute(ga, &mst, &err), &err, "mst");
    const int64_t *me = (const int64_t *)pc_checkpoint_find(ck, "mst_edges")->data;
    int tree_ok = mst.n_tree == 3;
    for (int q = 0; tree_ok && q < 3; q++) tree_ok = mst.tree[q][0] == me[2 * q] && mst.tree[q][1] == me[2 * q + 1];
    PC_CHECK(tree_ok, "mst_edges: (%d,%d) (%d,%d) (%d,%d) want (2,3) (1,3) (2,0)", mst.tree[0][0], mst.tree[0][1],
             mst.tree[1][0], mst.tree[1][1], mst.tree[2][0], mst.tree[2][1]);
    float mf[4];
    for (int k = 0; k < N; k++) mf[k] = (float)mst.focals[k];
    pc_test_close("mst_focals (weiszfeld + previous-edge quirk)", mf, T("mst_focals"), 4, 1e-4, 1e-4);
    for (int k = 0; k < N; k++) {
        char nm[128];
        snprintf(nm, sizeof(nm), "mst_pts3d[%d]", k);
        pc_test_close(nm, mst.pts3d[k], T("mst_pts3d") + (size_t)k * HW * 3, (size_t)HW * 3, 1e-4, 1e-4);
    }
    const float *gmc = T("mst_im_poses_c2w");
    for (int k = 0; k < N; k++) {
        float c2w[16];
        for (int q = 0; q < 16; q++) c2w[q] = (float)mst.c2w[k][q];
        char nm[128];
        if (!mst.pnp[k]) {
            snprintf(nm, sizeof(nm), "mst_im_poses_c2w[%d] (registration)", k);
            pc_test_close(nm, c2w, gmc + k * 16, 16, 1e-4, 1e-4);
        } else {
            // our PnP-RANSAC (not OpenCV's): report rotation/centre agreement
            double ang = rot_angle_deg(c2w, gmc + k * 16), dc = 0, nc = 0;
            for (int r = 0; r < 3; r++) {
                dc += pow(c2w[r * 4 + 3] - gmc[k * 16 + r * 4 + 3], 2);
                nc += pow(gmc[k * 16 + r * 4 + 3], 2);
            }
            PC_CHECK(mst.pnp[k] == 1 && ang < 1.0 && sqrt(dc) < 0.05 * sqrt(nc) + 1e-3,
                     "mst_im_poses_c2w[%d] via our PnP-RANSAC: rotation %.3g deg, centre %.3g (|c| %.3g) vs OpenCV (tol 1 deg, 5%%)",
                     k, ang, sqrt(dc), sqrt(nc));
            for (int q = 0; q < 16; q++) mst.c2w[k][q] = gmc[k * 16 + q]; // inject OpenCV's pose for the exact checks
        }
    }
    pc_test_ok(pc_align_init_from_mst(ga, &mst, &err), &err, "init_from_pts3d");
    pc_align_mst_free(&mst);

    // ---- init state (dust3r: init_from_pts3d) ----
    int64_t n;
    pc_test_close("init_param_pw_poses", pc_align_params(ga, PC_ALIGN_PW_POSES, &n), T("init_param_pw_poses"), E * 8, 1e-4, 1e-4);
    pc_test_close("init_param_im_poses", pc_align_params(ga, PC_ALIGN_IM_POSES, &n), T("init_param_im_poses"), N * 7, 1e-4, 1e-4);
    pc_test_close("init_param_im_depthmaps", pc_align_params(ga, PC_ALIGN_IM_DEPTHMAPS, &n), T("init_param_im_depthmaps"), N * HW, 1e-4, 1e-4);
    pc_test_close("init_param_im_focals", pc_align_params(ga, PC_ALIGN_IM_FOCALS, &n), T("init_param_im_focals"), N, 1e-4, 1e-4);
    float buf[4 * 3072 * 3], tmp[16 * 12];
    for (int k = 0; k < N; k++) pc_align_cam2world(ga, k, tmp + 16 * k);
    pc_test_close("init_im_poses_c2w", tmp, T("init_im_poses_c2w"), 64, 1e-4, 1e-4);
    for (int k = 0; k < N; k++) tmp[k] = pc_align_focal(ga, k);
    pc_test_close("init_focals", tmp, T("init_focals"), 4, 1e-4, 1e-4);
    for (int k = 0; k < N; k++) pc_align_pp(ga, k, tmp + 2 * k);
    pc_test_close("init_pp", tmp, T("init_pp"), 8, 0, 0);
    for (int k = 0; k < N; k++) pc_align_depthmap(ga, k, buf + k * HW);
    pc_test_close("init_depthmaps", buf, T("init_depthmaps"), N * HW, 1e-4, 1e-4);
    for (int k = 0; k < N; k++) pc_align_pts3d(ga, k, buf + k * HW * 3);
    pc_test_close("init_pts3d", buf, T("init_pts3d"), N * HW * 3, 1e-4, 1e-4);
    for (int e = 0; e < E; e++) pc_align_pw_pose(ga, e, tmp + 16 * e);
    pc_test_close("init_pw_poses_scaled_c2w", tmp, T("init_pw_poses_scaled_c2w"), E * 16, 1e-4, 1e-4);
    for (int e = 0; e < E; e++) tmp[e] = pc_align_pw_scale(ga, e);
    pc_test_close("init_pw_scale", tmp, T("init_pw_scale"), E, 1e-4, 1e-4);

    // ---- loss and gradient at init (dust3r: PointCloudOptimizer.forward / autograd) ----
    float loss = (float)pc_align_loss(ga, 1);
    pc_test_close("init_loss", &loss, T("init_loss"), 1, 0, 1e-5);
    close_normwise("init_grad_pw_poses", pc_align_grads(ga, PC_ALIGN_PW_POSES, &n), T("init_grad_pw_poses"), E * 8, 1e-3);
    close_normwise("init_grad_im_poses", pc_align_grads(ga, PC_ALIGN_IM_POSES, &n), T("init_grad_im_poses"), N * 7, 1e-3);
    close_normwise("init_grad_im_depthmaps", pc_align_grads(ga, PC_ALIGN_IM_DEPTHMAPS, &n), T("init_grad_im_depthmaps"), N * HW, 1e-3);
    close_normwise("init_grad_im_focals", pc_align_grads(ga, PC_ALIGN_IM_FOCALS, &n), T("init_grad_im_focals"), N, 1e-3);
    {
        const float *g = pc_align_grads(ga, PC_ALIGN_IM_POSES, &n);
        PC_CHECK(g[2 * 7 + 3] == 0 && g[2 * 7 + 4] == 0 && g[2 * 7 + 5] == 0 && g[2 * 7 + 6] == 0,
                 "frozen root camera: grad im_poses[2, 3:7] == 0 exactly (autograd quirk)");
    }

    // ---- finite differences (central, double-accumulated loss) on a sample of parameters ----
    // (on a separate instance after 5 Adam steps: right after the MST init many residuals sit exactly at the
    // |r| = 0 kink, e.g. the root edge's, where the finite difference is not the derivative)
    {
        pc_align *fdga;
        pc_test_ok(pc_align_create(&fdga, &in, &o, NULL, &err), &err, "create fd");
        pc_test_ok(pc_align_init_mst(fdga, &err), &err, "init fd");
        for (int it = 0; it < 5; it++) pc_align_step(fdga, 0.01);
        const pc_align_param groups[4] = {PC_ALIGN_PW_POSES, PC_ALIGN_IM_POSES, PC_ALIGN_IM_DEPTHMAPS, PC_ALIGN_IM_FOCALS};
        const char *gname[4] = {"pw_poses", "im_poses", "im_depthmaps", "im_focals"};
        const int idx[4][6] = {{0, 5, 7, 27, 60, 95}, {0, 2, 5, 7, 24, 27}, {100, 3072 + 1500, 6144 + 17, 9216 + 3000, 2000, 5000}, {0, 1, 2, 3, 0, 3}};
        const double hs_[4] = {1e-3, 1e-3, 1e-4, 1e-3}; // depth: small h, its |r| kinks are per pixel
        double worst = 0;
        pc_align_loss(fdga, 1);
        for (int gi = 0; gi < 4; gi++) {
            float *P = pc_align_params(fdga, groups[gi], &n);
            float *G = pc_align_grads(fdga, groups[gi], &n);
            float gcopy[6];
            for (int q = 0; q < 6; q++) gcopy[q] = G[idx[gi][q]];
            for (int q = 0; q < 6; q++) {
                float *p = &P[idx[gi][q]], p0 = *p;
                float h = (float)hs_[gi];
                *p = p0 + h;
                double lp = pc_align_loss(fdga, 0);
                *p = p0 - h;
                double lm = pc_align_loss(fdga, 0);
                *p = p0;
                double fd = (lp - lm) / ((double)(p0 + h) - (double)(p0 - h));
                double rel = fabs(fd - gcopy[q]) / fmax(fabs(fd), 1e-5);
                if (rel > worst) worst = rel;
                if (rel > 5e-3) printf("   FD %s[%d]: analytic %.6g fd %.6g\n", gname[gi], idx[gi][q], gcopy[q], fd);
            }
        }
        PC_CHECK(worst < 2e-2, "finite-difference gradient check (24 params): worst rel err %.3g (tol 2e-2)", worst);
        pc_align_free(fdga);
    }

    // ---- Adam snapshots ----
    const float *gpw = T("init_grad_pw_poses"), *gim = T("init_grad_im_poses"), *gdm = T("init_grad_im_depthmaps"), *gf = T("init_grad_im_focals");
    float curve[300];
    for (int it = 0; it < 300; it++) {
        curve[it] = (float)pc_align_step(ga, pc_align_lr(&o, it));
        if (it == 0 || it == 9) {
            const char *pre = it == 0 ? "it1" : "it10";
            char nm[64];
            snprintf(nm, sizeof(nm), "%s_pw_poses", pre);
            close_masked(nm, pc_align_params(ga, PC_ALIGN_PW_POSES, &n), T(it == 0 ? "it1_pw_poses" : "it10_pw_poses"), gpw, E * 8, it == 0 ? 1e-5 : 5e-5, 1e-2);
            snprintf(nm, sizeof(nm), "%s_im_poses", pre);
            close_masked(nm, pc_align_params(ga, PC_ALIGN_IM_POSES, &n), T(it == 0 ? "it1_im_poses" : "it10_im_poses"), gim, N * 7, it == 0 ? 1e-5 : 5e-5, 1e-2);
            snprintf(nm, sizeof(nm), "%s_im_depthmaps", pre);
            close_masked(nm, pc_align_params(ga, PC_ALIGN_IM_DEPTHMAPS, &n), T(it == 0 ? "it1_im_depthmaps" : "it10_im_depthmaps"), gdm, N * HW, it == 0 ? 1e-5 : 5e-5, 1e-2);
            snprintf(nm, sizeof(nm), "%s_im_focals", pre);
            close_masked(nm, pc_align_params(ga, PC_ALIGN_IM_FOCALS, &n), T(it == 0 ? "it1_im_focals" : "it10_im_focals"), gf, N, it == 0 ? 1e-5 : 5e-5, 1e-2);
        }
    }
    float lrs[300];
    for (int it = 0; it < 300; it++) lrs[it] = (float)pc_align_lr(&o, it);
    pc_test_close("lr_curve (cosine)", lrs, T("lr_curve"), 300, 0, 1e-6);
    pc_test_close("loss_curve", curve, T("loss_curve"), 300, 0, 1e-2);
    pc_test_close("final_loss (it 299, before its step)", &curve[299], T("final_loss"), 1, 0, 1e-4);
    float lpost = (float)pc_align_loss(ga, 0);
    pc_test_close("final_loss_post", &lpost, T("final_loss_post"), 1, 0, 1e-4);
    for (int k = 0; k < N; k++) tmp[k] = pc_align_focal(ga, k);
    pc_test_close("final_focals", tmp, T("final_focals"), 4, 0, 5e-3);
    for (int k = 0; k < N; k++) pc_align_cam2world(ga, k, tmp + 16 * k);
    pc_test_close("final_im_poses_c2w", tmp, T("final_im_poses_c2w"), 64, 5e-3, 0);
    {
        double worst = 0;
        for (int k = 0; k < N; k++) worst = fmax(worst, rot_angle_deg(tmp + 16 * k, T("final_im_poses_c2w") + 16 * k));
        PC_CHECK(worst < 0.1, "final rotations within %.3g deg of upstream (tol 0.1 deg)", worst);
    }
    for (int k = 0; k < N; k++) pc_align_depthmap(ga, k, buf + k * HW);
    pc_test_close("final_depthmaps", buf, T("final_depthmaps"), N * HW, 0, 1e-2);
    for (int k = 0; k < N; k++) pc_align_pts3d(ga, k, buf + k * HW * 3);
    pc_test_close("final_pts3d", buf, T("final_pts3d"), N * HW * 3, 5e-3, 0);
    for (int e = 0; e < E; e++) tmp[e] = pc_align_pw_scale(ga, e);
    pc_test_close("final_pw_scale", tmp, T("final_pw_scale"), E, 0, 1e-3);
    pc_align_free(ga);

    // ---- determinism across thread counts: 2 threads, 20 steps, compare against 1 thread ----
    {
        pc_pool *pool;
        pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
        pc_align *a1, *a2;
        pc_test_ok(pc_align_create(&a1, &in, &o, NULL, &err), &err, "create 1");
        pc_test_ok(pc_align_create(&a2, &in, &o, pool, &err), &err, "create 2");
        pc_test_ok(pc_align_init_mst(a1, &err), &err, "init 1");
        pc_test_ok(pc_align_init_mst(a2, &err), &err, "init 2");
        double l1 = 0, l2 = 0;
        for (int it = 0; it < 20; it++) {
            l1 = pc_align_step(a1, pc_align_lr(&o, it));
            l2 = pc_align_step(a2, pc_align_lr(&o, it));
        }
        float f1 = (float)l1, f2 = (float)l2;
        pc_test_close("1 vs 2 threads, loss after 20 steps", &f2, &f1, 1, 0, 1e-5);
        // fastest kernels (AVX-512 or AVX2) vs the plain reference: same loss and gradient
        pc_align_set_simd(a1, 0);
        pc_align_set_simd(a2, 1);
        float r1 = (float)pc_align_loss(a1, 1), r2 = (float)pc_align_loss(a2, 1);
        pc_test_close("edge kernel: simd vs reference loss", &r2, &r1, 1, 0, 1e-6);
        const pc_align_param grp[4] = {PC_ALIGN_PW_POSES, PC_ALIGN_IM_POSES, PC_ALIGN_IM_DEPTHMAPS, PC_ALIGN_IM_FOCALS};
        for (int gi = 0; gi < 4; gi++) {
            int64_t cnt;
            float *ga1 = pc_align_grads(a1, grp[gi], &cnt), *ga2 = pc_align_grads(a2, grp[gi], &cnt);
            close_normwise("edge kernel: simd vs reference gradient", ga2, ga1, (size_t)cnt, 1e-4);
        }
        pc_align_free(a1);
        pc_align_free(a2);
        pc_pool_free(pool);
    }

    // ---- end to end with our own PnP (no injection): MST + 300 iterations vs upstream's final state ----
    {
        pc_align *a;
        pc_test_ok(pc_align_create(&a, &in, &o, NULL, &err), &err, "create e2e");
        pc_test_ok(pc_align_init_mst(a, &err), &err, "init e2e");
        double fl;
        pc_test_ok(pc_align_optimize(a, NULL, &fl, &err), &err, "optimize e2e");
        float fo[4], c2w[16];
        double worst_rot = 0, worst_c = 0;
        for (int k = 0; k < N; k++) {
            fo[k] = pc_align_focal(a, k);
            pc_align_cam2world(a, k, c2w);
            const float *g = T("final_im_poses_c2w") + 16 * k;
            worst_rot = fmax(worst_rot, rot_angle_deg(c2w, g));
            for (int r = 0; r < 3; r++) worst_c = fmax(worst_c, fabs(c2w[r * 4 + 3] - g[r * 4 + 3]));
        }
        pc_test_close("end-to-end (our PnP) final_focals", fo, T("final_focals"), 4, 0, 1e-2);
        PC_CHECK(worst_rot < 0.5 && worst_c < 0.02,
                 "end-to-end (our PnP) final poses: rotation within %.3g deg (tol 0.5), centres within %.3g (tol 0.02)",
                 worst_rot, worst_c);
        float flf = (float)fl;
        pc_test_close("end-to-end (our PnP) final_loss", &flf, T("final_loss"), 1, 0, 1e-2);
        pc_align_free(a);
    }

    // ---- PairViewer on views 0, 1 (edges rows 6 = (0,1) and 0 = (1,0)) ----
    {
        pc_align_edge pe[2] = {edges[0], edges[6]};
        // pv_edges order [(1,0), (0,1)]
        int h2[2] = {H, H}, w2[2] = {W, W};
        pc_align_input pin = {2, h2, w2, 2, pe, NULL};
        pc_align_result res;
        pc_test_ok(pc_align_pairviewer(&res, &pin, &o, &err), &err, "pairviewer");
        pc_test_close("pv_focals", res.focals, T("pv_focals"), 2, 1e-4, 1e-5);
        float pp[4] = {res.pp[0][0], res.pp[0][1], res.pp[1][0], res.pp[1][1]};
        pc_test_close("pv_pp", pp, T("pv_pp"), 4, 0, 0);
        const float *gp = T("pv_im_poses_c2w");
        pc_test_close("pv_im_poses_c2w[1] (identity, reference camera)", res.c2w[1], gp + 16, 16, 0, 0);
        pc_test_close("pv_depthmaps[1] (reference camera: pred z)", res.depth[1], T("pv_depthmaps") + HW, HW, 1e-4, 1e-5);
        double ang = rot_angle_deg(res.c2w[0], gp);
        double dc = 0, nc = 0;
        for (int r = 0; r < 3; r++) {
            dc += pow(res.c2w[0][r * 4 + 3] - gp[r * 4 + 3], 2);
            nc += pow(gp[r * 4 + 3], 2);
        }
        PC_CHECK(ang < 2.0 && sqrt(dc) < 0.1 * sqrt(nc) + 1e-3,
                 "pv_im_poses_c2w[0] via our PnP-RANSAC: rotation %.3g deg, centre %.3g (|c| %.3g) vs OpenCV SQPnP (tol 2 deg, 10%%)",
                 ang, sqrt(dc), sqrt(nc));
        pc_test_close("pv_depthmaps[0] (through our PnP pose; loose)", res.depth[0], T("pv_depthmaps"), HW, 5e-2, 5e-2);
        pc_align_result_free(&res);
    }
    pc_checkpoint_close(ck);
    return pc_test_finish();
}
