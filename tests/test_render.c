// Tests for src/render/render.c (pipeline step 5) against
// golden/dynamicrafter/viewcrafter_render.safetensors (pytorch3d 0.7.5
// PointsRasterizer.transform, rasterize_points (naive), PointsRenderer weights,
// AlphaCompositor, F.interpolate bilinear; ViewCrafter setup_renderer/render_pcd),
// plus hand-computed cases: one point's exact footprint and weights, occlusion
// order, two overlapping points composited by hand, z ties, background,
// a brute-force reference on random points, thread-count determinism, and the
// input-frame substitution.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "testutil.h"

static const pc_checkpoint *g_ck;

static const pc_tensor *need(const char *name, pc_dtype dt, int64_t numel) {
    const pc_tensor *t = pc_checkpoint_find(g_ck, name);
    if (!t) pc_test_fatal("golden tensor '%s' missing", name);
    if (t->dtype != dt || pc_tensor_numel(t) != numel || !pc_tensor_is_contiguous(t))
        pc_test_fatal("golden tensor '%s': dtype %s numel %lld, expected %s %lld", name, pc_dtype_name(t->dtype),
                      (long long)pc_tensor_numel(t), pc_dtype_name(dt), (long long)numel);
    return t;
}

static void close_rel(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
    pc_test_close(name, got, want, n, rtol * m, 0);
}

// Brute force over all pixels and points (rasterize_points_python, written plainly).
static void raster_naive(int32_t *idx, float *zb, float *ds, const float *p, int P, int H, int W, float r, int K) {
    const int S = H < W ? H : W;
    const float r2 = r * r;  // float32 like _format_radius
    for (int yi = 0; yi < H; yi++)
        for (int xi = 0; xi < W; xi++) {
            const float yf = (float)((H - 2.0 * yi - 1) / S), xf = (float)((W - 2.0 * xi - 1) / S);
            int32_t *id = idx + ((int64_t)yi * W + xi) * K;
            float *z = zb + ((int64_t)yi * W + xi) * K, *d = ds + ((int64_t)yi * W + xi) * K;
            int n = 0;
            for (int k = 0; k < K; k++) id[k] = -1, z[k] = -1, d[k] = -1;
            for (int q = 0; q < P; q++) {
                if (p[3 * q + 2] < 0) continue;
                const float dx = p[3 * q] - xf, dy = p[3 * q + 1] - yf;
                const float dx2 = dx * dx, dy2 = dy * dy, d2 = dx2 + dy2;
                if (!(d2 < r2)) continue;
                // insert by (z, index)
                int at = n;
                while (at > 0 && z[at - 1] > p[3 * q + 2]) at--;
                if (at >= K) continue;
                for (int m = (n < K ? n : K - 1); m > at; m--) id[m] = id[m - 1], z[m] = z[m - 1], d[m] = d[m - 1];
                id[at] = q, z[at] = p[3 * q + 2], d[at] = d2;
                if (n < K) n++;
            }
        }
}

static void golden_case(pc_pool *pool) {
    const int H = 12, W = 20, K = 10, NV = 4, P = 410;
    pc_render_settings rs = {H, W, 0.24, K};
    const float *pts = need("points_packed", PC_F32, P * 3)->data;
    const float *cols = need("colors_packed", PC_F32, P * 3)->data;
    const double *gR = need("cams.R", PC_F64, NV * 9)->data, *gT = need("cams.T", PC_F64, NV * 3)->data;
    const float *gf = need("cams.focal_length", PC_F32, NV * 2)->data;
    const float *gp = need("cams.principal_point", PC_F32, NV * 2)->data;
    const int64_t *views = need("views", PC_I64, NV)->data;

    // Cameras from our own trajectory: generate_traj_interp(c2ws, ..., 25), views 0, 8, 16, 24.
    const float *c2w = need("c2ws", PC_F32, 32)->data, *fo = need("focals", PC_F32, 2)->data;
    const float *pp = need("principal_points", PC_F32, 4)->data;
    pc_camera keys[2], path[25];
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 16; k++) keys[i].c2w[k] = c2w[16 * i + k];
        keys[i].fx = keys[i].fy = fo[i], keys[i].cx = pp[2 * i], keys[i].cy = pp[2 * i + 1];
    }
    pc_traj_opts to = pc_traj_viewcrafter(25);
    pc_error err;
    pc_test_ok(pc_traj_interpolate(path, 25, keys, 2, &to, &err), &err, "trajectory");
    pc_p3d_camera cam[4], gcam[4];
    double R[4 * 9], T[4 * 3];
    for (int v = 0; v < NV; v++) {
        PC_CHECK(views[v] >= 0 && views[v] < 25, "view index %lld", (long long)views[v]);
        pc_camera_p3d_rt(R + 9 * v, T + 3 * v, &path[views[v]]);
        pc_camera_to_p3d(&cam[v], &path[views[v]], H, W);
        for (int k = 0; k < 9; k++) gcam[v].R[k] = (float)gR[9 * v + k];
        for (int k = 0; k < 3; k++) gcam[v].T[k] = (float)gT[3 * v + k];
        gcam[v].focal[0] = gf[2 * v], gcam[v].focal[1] = gf[2 * v + 1];
        gcam[v].pp[0] = gp[2 * v], gcam[v].pp[1] = gp[2 * v + 1];
        gcam[v].H = H, gcam[v].W = W;
    }
    pc_test_close_f64("cams.R (from our trajectory)", R, gR, NV * 9, 1e-9, 0);
    pc_test_close_f64("cams.T (from our trajectory)", T, gT, NV * 3, 1e-9, 0);
    float mats[4][4 * 16];
    for (int v = 0; v < NV; v++)
        pc_p3d_matrices(&cam[v], mats[0] + 16 * v, mats[1] + 16 * v, mats[2] + 16 * v, mats[3] + 16 * v);
    close_rel("cams.world_to_view", mats[0], need("cams.world_to_view", PC_F32, NV * 16)->data, NV * 16, 1e-5);
    close_rel("cams.projection", mats[1], need("cams.projection", PC_F32, NV * 16)->data, NV * 16, 1e-5);
    close_rel("cams.ndc_camera_transform", mats[2], need("cams.ndc_camera_transform", PC_F32, NV * 16)->data,
              NV * 16, 1e-5);
    close_rel("cams.full_projection", mats[3], need("cams.full_projection", PC_F32, NV * 16)->data, NV * 16, 1e-5);

    // PointsRasterizer.transform
    float *ndc = malloc((size_t)NV * P * 3 * sizeof(float));
    for (int v = 0; v < NV; v++) pc_p3d_project(ndc + (int64_t)v * P * 3, pts, P, &cam[v]);
    const float *gndc = need("points_ndc", PC_F32, NV * P * 3)->data;
    close_rel("points_ndc (PointsRasterizer.transform)", ndc, gndc, (size_t)NV * P * 3, 1e-5);

    // Fragments from our projection (end to end) — idx exact, zbuf/dists 1e-6 rel.
    const int64_t nf = (int64_t)H * W * K;
    int32_t *idx = malloc((size_t)NV * nf * 4);
    float *zb = malloc((size_t)NV * nf * 4), *ds = malloc((size_t)NV * nf * 4);
    for (int v = 0; v < NV; v++)
        pc_test_ok(pc_render_rasterize(pool, idx + v * nf, zb + v * nf, ds + v * nf, ndc + (int64_t)v * P * 3, P, &rs,
                                       &err),
                   &err, "rasterize");
    const int32_t *gidx = need("frag.idx", PC_I32, NV * nf)->data;
    int64_t bad = 0, first = -1;
    // pytorch3d returns packed indices: cloud v's points start at v * P.
    for (int64_t i = 0; i < NV * nf; i++)
        if ((idx[i] < 0 ? -1 : idx[i] + (int32_t)(i / nf) * P) != gidx[i]) {
            if (first < 0) first = i;
            bad++;
        }
    PC_CHECK(bad == 0, "frag.idx exact: %lld of %lld differ (first at %lld)", (long long)bad, (long long)(NV * nf),
             (long long)first);
    close_rel("frag.zbuf", zb, need("frag.zbuf", PC_F32, NV * nf)->data, (size_t)(NV * nf), 1e-6);
    close_rel("frag.dists", ds, need("frag.dists", PC_F32, NV * nf)->data, (size_t)(NV * nf), 1e-6);

    // Teacher-forced: rasterize the golden NDC points -> dists bit-exact expected.
    int32_t *idx2 = malloc((size_t)NV * nf * 4);
    float *ds2 = malloc((size_t)NV * nf * 4);
    for (int v = 0; v < NV; v++)
        pc_test_ok(pc_render_rasterize(pool, idx2 + v * nf, NULL, ds2 + v * nf, gndc + (int64_t)v * P * 3, P, &rs, &err),
                   &err, "rasterize golden ndc");
    bad = 0;
    for (int64_t i = 0; i < NV * nf; i++) bad += (idx2[i] < 0 ? -1 : idx2[i] + (int32_t)(i / nf) * P) != gidx[i];
    PC_CHECK(bad == 0, "frag.idx exact from golden points_ndc (%lld differ)", (long long)bad);
    close_rel("frag.dists from golden points_ndc", ds2, need("frag.dists", PC_F32, NV * nf)->data, (size_t)(NV * nf),
              1e-6);

    // Teacher-forced compositing: golden fragments (packed idx made local) -> images.
    {
        float *img0 = malloc((size_t)NV * H * W * 3 * 4);
        const float *gds = need("frag.dists", PC_F32, NV * nf)->data;
        for (int64_t i = 0; i < NV * nf; i++) idx2[i] = gidx[i] < 0 ? -1 : gidx[i] - (int32_t)(i / nf) * P;
        for (int v = 0; v < NV; v++)
            pc_render_composite(pool, img0 + (int64_t)v * H * W * 3, idx2 + v * nf, gds + v * nf, cols, 3, &rs, NULL);
        pc_test_close("images from golden fragments (AlphaCompositor)", img0, need("images", PC_F32, NV * H * W * 3)->data,
                      (size_t)NV * H * W * 3, 1e-5, 0);
        free(img0);
    }

    // Full render (our cameras), images and 2x upsampling.
    float *img = malloc((size_t)NV * H * W * 3 * 4), *up = malloc((size_t)NV * 4 * H * W * 3 * 4);
    pc_test_ok(pc_render_points(pool, img, pts, cols, P, &path[0], 1, &rs, NULL, &err), &err, "render view 0");
    pc_camera sel[4];
    for (int v = 0; v < NV; v++) sel[v] = path[views[v]];
    pc_test_ok(pc_render_points(pool, img, pts, cols, P, sel, NV, &rs, NULL, &err), &err, "render");
    const float *gimg = need("images", PC_F32, NV * H * W * 3)->data;
    pc_test_close("images (AlphaCompositor)", img, gimg, (size_t)NV * H * W * 3, 1e-5, 0);
    pc_test_ok(pc_render_upsample(pool, up, img, NV, H, W, 2 * H, 2 * W, &err), &err, "upsample");
    pc_test_close("images_upsampled (F.interpolate bilinear)", up,
                  need("images_upsampled", PC_F32, NV * 4 * H * W * 3)->data, (size_t)NV * 4 * H * W * 3, 1e-5, 0);
    // Same from the golden cameras (float32 R/T as stored).
    pc_test_ok(pc_render_points_p3d(pool, img, pts, cols, P, gcam, NV, &rs, NULL, &err), &err, "render golden cams");
    pc_test_close("images (golden cameras)", img, gimg, (size_t)NV * H * W * 3, 1e-5, 0);

    free(ndc), free(idx), free(zb), free(ds), free(idx2), free(ds2), free(img), free(up);
}

static void hand_cases(pc_pool *pool) {
    pc_error err;
    // Single point at the NDC centre of pixel (row 3, col 5) of a 10x16 image, radius
    // just under one pixel pitch (2/S = 0.2 NDC): only the pixel itself is hit, weight 1.
    {
        const int H = 10, W = 16, K = 4, S = 10;
        pc_render_settings rs = {H, W, 0.19, K};
        const int yi = 3, xi = 5;
        float p[3] = {(float)((W - 2.0 * xi - 1) / S), (float)((H - 2.0 * yi - 1) / S), 2.5f};
        int32_t idx[10 * 16 * 4];
        float zb[10 * 16 * 4], ds[10 * 16 * 4];
        pc_test_ok(pc_render_rasterize(pool, idx, zb, ds, p, 1, &rs, &err), &err, "single point");
        int hits = 0, where = -1;
        for (int i = 0; i < H * W; i++)
            if (idx[i * K] == 0) hits++, where = i;
        PC_CHECK(hits == 1 && where == yi * W + xi, "single point hits exactly pixel (3,5) (%d hits, at %d)", hits,
                 where);
        PC_CHECK(zb[where * K] == 2.5f && ds[where * K] == 0.0f && idx[where * K + 1] == -1,
                 "single point: z 2.5, dist 0, one slot");
        // radius 0.25: the 4-neighbours at 0.2 are in (d2 0.04 < 0.0625), diagonals (0.08) out
        pc_render_settings r2 = {H, W, 0.25, K};
        pc_test_ok(pc_render_rasterize(pool, idx, zb, ds, p, 1, &r2, &err), &err, "single point r .25");
        hits = 0;
        int ok4 = 1;
        for (int i = 0; i < H * W; i++)
            if (idx[i * K] == 0) {
                hits++;
                int y = i / W, x = i % W;
                if (abs(y - yi) + abs(x - xi) > 1) ok4 = 0;
            }
        PC_CHECK(hits == 5 && ok4, "radius 0.25: footprint is the pixel and its 4 neighbours (%d hits)", hits);
        // weights: centre 1, neighbour 1 - 0.04/0.0625 = 0.36, colour (1, .5, .25)
        float col[3] = {1, 0.5f, 0.25f}, img[10 * 16 * 3];
        pc_render_composite(pool, img, idx, ds, col, 3, &r2, NULL);
        const float *c0 = img + (yi * W + xi) * 3, *c1 = img + (yi * W + xi + 1) * 3;
        float w1 = 1.0f - ds[(yi * W + xi + 1) * K] / (float)(0.25 * 0.25);
        PC_CHECK(c0[0] == 1.0f && c0[1] == 0.5f && fabsf(c1[0] - 0.36f) < 1e-6f && c1[0] == w1 &&
                     fabsf(c1[2] - 0.09f) < 1e-6f,
                 "weights: centre %.6f, neighbour %.6f (1 - 0.04/0.0625 = 0.36)", c0[0], c1[0]);
        PC_CHECK(img[0] == 0 && img[1] == 0, "no background colour: empty pixel is 0");
        float bg[3] = {0.2f, 0.3f, 0.4f};
        pc_render_composite(pool, img, idx, ds, col, 3, &r2, bg);
        PC_CHECK(img[0] == 0.2f && img[2] == 0.4f && c0[0] == 1.0f, "background colour on empty pixels only");
        // behind the camera: skipped
        p[2] = -1.0f;
        pc_test_ok(pc_render_rasterize(pool, idx, zb, ds, p, 1, &r2, &err), &err, "z < 0");
        hits = 0;
        for (int i = 0; i < H * W; i++) hits += idx[i * K] >= 0;
        PC_CHECK(hits == 0, "point with z < 0 is not drawn");
    }
    // Occlusion and compositing by hand: three points on the same pixel centre offset
    // so that d2 = 0, 0.01, 0.02 with r = 0.2 (r2 0.04): alphas 1 - d2/r2.
    {
        const int H = 4, W = 4, K = 2, S = 4;
        pc_render_settings rs = {H, W, 0.2, K};
        const float xc = (float)((W - 2.0 * 1 - 1) / S), yc = (float)((H - 2.0 * 2 - 1) / S);  // pixel (2, 1)
        // index 0: far, index 1: near, index 2: middle (K = 2 drops the far one)
        float p[9] = {xc, yc, 5.0f, xc + 0.1f, yc, 1.0f, xc, yc + 0.1f, 3.0f};
        float col[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        int32_t idx[4 * 4 * 2];
        float ds[4 * 4 * 2], zb[4 * 4 * 2], img[4 * 4 * 3];
        pc_test_ok(pc_render_rasterize(pool, idx, zb, ds, p, 3, &rs, &err), &err, "occlusion");
        const int px = (2 * W + 1) * K;
        PC_CHECK(idx[px] == 1 && idx[px + 1] == 2 && zb[px] == 1.0f && zb[px + 1] == 3.0f,
                 "occlusion: nearest first (idx %d, %d; z %.1f, %.1f), far point dropped with K = 2", idx[px],
                 idx[px + 1], zb[px], zb[px + 1]);
        pc_render_composite(pool, img, idx, ds, col, 3, &rs, NULL);
        const float rr = (float)(0.2 * 0.2);
        float a1 = 1.0f - ds[px] / rr, a2 = 1.0f - ds[px + 1] / rr;
        const float *c = img + (2 * W + 1) * 3;
        // C = a1 col1 + (1 - a1) a2 col2
        PC_CHECK(fabsf(a1 - 0.75f) < 1e-5f && fabsf(a2 - 0.75f) < 1e-5f, "alphas 0.75, 0.75 (%.6f %.6f)", a1, a2);
        PC_CHECK(c[0] == 0 && c[1] == a1 && c[2] == (1.0f * (1.0f - a1)) * a2,
                 "front-to-back compositing: (%.6f %.6f %.6f), want (0, %.6f, %.6f)", c[0], c[1], c[2], a1,
                 (1 - a1) * a2);
        // z ties: equal z keeps the smaller index first
        p[5] = 5.0f, p[8] = 5.0f;  // all three at z = 5
        pc_test_ok(pc_render_rasterize(pool, idx, zb, ds, p, 3, &rs, &err), &err, "ties");
        PC_CHECK(idx[px] == 0 && idx[px + 1] == 1, "z ties: smaller index first (%d, %d)", idx[px], idx[px + 1]);
    }
    // Random cloud vs brute force, non-square, K = 10, and thread-count determinism.
    {
        const int H = 24, W = 40, K = 10, P = 3000;
        pc_render_settings rs = {H, W, 0.09, K};
        pc_test_rng rng = {7};
        float *p = malloc(P * 3 * sizeof(float));
        for (int i = 0; i < P; i++) {
            p[3 * i] = 1.8f * pc_test_uniform(&rng);
            p[3 * i + 1] = 1.1f * pc_test_uniform(&rng);
            p[3 * i + 2] = (i % 50 == 0) ? -0.5f : (float)(int)(8 + 4 * pc_test_uniform(&rng));  // many z ties
        }
        const int64_t nf = (int64_t)H * W * K;
        int32_t *i1 = malloc(nf * 4), *i2 = malloc(nf * 4), *i3 = malloc(nf * 4);
        float *z1 = malloc(nf * 4), *z2 = malloc(nf * 4), *d1 = malloc(nf * 4), *d2 = malloc(nf * 4);
        float *z3 = malloc(nf * 4), *d3 = malloc(nf * 4);
        raster_naive(i1, z1, d1, p, P, H, W, (float)rs.radius, K);
        pc_test_ok(pc_render_rasterize(pool, i2, z2, d2, p, P, &rs, &err), &err, "random");
        pc_test_ok(pc_render_rasterize(NULL, i3, z3, d3, p, P, &rs, &err), &err, "random 1 thread");
        int same = memcmp(i1, i2, nf * 4) == 0 && memcmp(z1, z2, nf * 4) == 0 && memcmp(d1, d2, nf * 4) == 0;
        int full = 0;
        for (int i = 0; i < H * W; i++) full += i1[i * K + K - 1] >= 0;
        PC_CHECK(same, "random cloud (ties in z, points behind): bit-identical to brute force (%d full pixels)", full);
        PC_CHECK(memcmp(i2, i3, nf * 4) == 0 && memcmp(d2, d3, nf * 4) == 0, "pool vs single thread bit-identical");
        free(p), free(i1), free(i2), free(i3), free(z1), free(z2), free(z3), free(d1), free(d2), free(d3);
    }
    // Substitution: frames 0 and 2 of 3 replaced.
    {
        float fr[3 * 2 * 2 * 3] = {0}, a[12], b[12];
        for (int i = 0; i < 12; i++) a[i] = 1, b[i] = 2;
        const float *im[2] = {a, b};
        int at[2] = {0, 2};
        pc_render_substitute(fr, 3, 2, 2, im, at, 2);
        PC_CHECK(fr[0] == 1 && fr[11] == 1 && fr[12] == 0 && fr[24] == 2 && fr[35] == 2, "input-frame substitution");
    }
    // Channels-last upsampling == core pc_resize_bilinear_ref on planar data, bit for bit
    // (odd sizes and a non-integer ratio too).
    {
        const int N = 2, H = 7, W = 11, OH = 17, OW = 20;
        float x[2 * 7 * 11 * 3], y[2 * 17 * 20 * 3], xp[2 * 3 * 7 * 11], yp[2 * 3 * 17 * 20], yr[2 * 17 * 20 * 3];
        pc_test_rng rng = {11};
        pc_test_fill(&rng, x, sizeof x / sizeof x[0], 1.0f);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < H * W; p++)
                for (int ch = 0; ch < 3; ch++) xp[(n * 3 + ch) * H * W + p] = x[(n * H * W + p) * 3 + ch];
        pc_resize_bilinear_ref(yp, xp, N * 3, H, W, OH, OW, 0, 0.0, 0.0);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < OH * OW; p++)
                for (int ch = 0; ch < 3; ch++) yr[(n * OH * OW + p) * 3 + ch] = yp[(n * 3 + ch) * OH * OW + p];
        pc_test_ok(pc_render_upsample(pool, y, x, N, H, W, OH, OW, &err), &err, "upsample");
        pc_test_close("upsample vs pc_resize_bilinear_ref", y, yr, sizeof y / sizeof y[0], 0, 0);
    }
    // Bad settings
    pc_render_settings bad = {12, 20, 0.0, 10};
    int32_t id1[1];
    PC_CHECK(pc_render_rasterize(pool, id1, NULL, NULL, NULL, 0, &bad, &err) == PC_ERR_ARG, "radius 0 rejected: %s",
             err.msg);
}

int main(void) {
    pc_pool *pool;
    pc_error err;
    pc_test_ok(pc_pool_create(&pool, 3, &err), &err, "pool");
    hand_cases(pool);
    char path[1024];
    pc_test_shared_path(path, sizeof path, "golden/dynamicrafter/viewcrafter_render.safetensors");
    pc_checkpoint *ck;
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open viewcrafter_render");
    g_ck = ck;
    golden_case(pool);
    pc_checkpoint_close(ck);
    pc_pool_free(pool);
    return pc_test_finish();
}
