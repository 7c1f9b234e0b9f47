// mast3r: sparse_global_alignment vs the upstream dump (golden/mast3r/pose.safetensors sga_* / sgac_*, and
// matches.safetensors ext_*), at 368x512 and 64x48, with the demo's call (lr1 0.07 / niter1 100, lr2 0.014 /
// niter2 100, matching_conf_thr 0, subsample 8, hclust-ward, opt_depth):
//   1. the tiny MASt3R on the pairs [(1,0), (0,1)] (make_pairs order), extract_correspondences: the 4
//      reciprocal searches' counts and the merged correspondences (pixels exactly, confidences);
//   2. canonical views: base focals, anchor depths, anchor offsets;
//   3. the coarse stage alone (niter2 = 0): loss curve (the README's best check, rtol 1e-5), relative pose,
//      points in camera 1's frame, depths;
//   4. the full run: coarse + fine loss curves, relative pose, intrinsics, depths, points (normwise 5e-2 after
//      the noisy 2-D stage, as the README suggests). World-frame outputs are gauge-free upstream and are not
//      compared.
#include "testutil.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float *G(pc_checkpoint *g, const char *prefix, const char *name) {
    char k[96];
    snprintf(k, sizeof(k), "%s%s", prefix, name);
    return (const float *)pc_test_need(g, k)->data;
}

// normwise: max|got - want| / max|want|
static void close_norm(const char *what, const float *got, const float *want, size_t n, double tol) {
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) md = fmax(md, fabs((double)got[i] - want[i])), mw = fmax(mw, fabs((double)want[i]));
    PC_CHECK(md <= tol * mw, "%-44s normwise %.3g (tol %.0e), max abs %.3g", what, md / (mw > 0 ? mw : 1), tol, md);
}

static void rel_pose(float out[16], const float *c0, const float *c1) {  // inv(c0) @ c1
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int q = 0; q < 3; q++) s += (double)c0[q * 4 + r] * (c1[q * 4 + c] - (c == 3 ? c0[q * 4 + 3] : 0));
            out[r * 4 + c] = (float)s;
        }
    out[12] = out[13] = out[14] = 0, out[15] = 1;
}

// world points -> camera 1's frame (view 0)
static void to_cam1(float *out, const float *pts, int64_t n, const float *c0) {
    for (int64_t p = 0; p < n; p++)
        for (int r = 0; r < 3; r++) {
            double s = 0;
            for (int q = 0; q < 3; q++) s += (double)c0[q * 4 + r] * (pts[p * 3 + q] - c0[q * 4 + 3]);
            out[p * 3 + r] = (float)s;
        }
}

static void run(pc_dust3r *net, pc_pool *pool, pc_checkpoint *gp, pc_checkpoint *gm, pc_checkpoint *gs,
                const char *prefix, int H, int W) {
    pc_error err;
    char what[160];
    pc_tensor img[2] = {{0}, {0}};
    for (int v = 0; v < 2; v++) {
        char k[48];
        snprintf(k, sizeof(k), "%simg%d_u8", prefix, v + 1);
        pc_test_dust3r_input(&img[v], pc_test_need(gp, k));
    }
    const int pairs[2][2] = {{1, 0}, {0, 1}};
    const pc_tensor *imgs[2] = {&img[0], &img[1]};
    pc_dust3r_pair_out o[2];
    pc_dust3r_set_desc_output(net, 1);
    pc_test_ok(pc_dust3r_pairs(net, imgs, 2, pairs, 2, o, &err), &err, "inference");
    // extract_correspondences for the pair (image 2, image 1): d11 = head 1 of decode(1, 0), ...
    int32_t *i2, *i1;
    float *cf;
    int64_t n;
    pc_test_ok(pc_mast3r_correspondences(&i2, &i1, &cf, &n, pc_tensor_f32(&o[0].view[0].desc),
                                         pc_tensor_f32(&o[0].view[0].desc_conf), pc_tensor_f32(&o[0].view[1].desc),
                                         pc_tensor_f32(&o[0].view[1].desc_conf), pc_tensor_f32(&o[1].view[0].desc),
                                         pc_tensor_f32(&o[1].view[0].desc_conf), pc_tensor_f32(&o[1].view[1].desc),
                                         pc_tensor_f32(&o[1].view[1].desc_conf), H, W, H, W, 24, 8, pool, &err),
               &err, "correspondences");
    char k[64];
    snprintf(k, sizeof(k), "%sext_xy_im2", prefix);
    const pc_tensor *gx2 = pc_test_need(gm, k);
    const int32_t *x2 = (const int32_t *)gx2->data, *x1 = (const int32_t *)G(gm, prefix, "ext_xy_im1");
    int same = n == gx2->shape[0];
    for (int64_t q = 0; same && q < n; q++)
        same = i2[q] == x2[2 * q] + W * x2[2 * q + 1] && i1[q] == x1[2 * q] + W * x1[2 * q + 1];
    PC_CHECK(same, "%sextract_correspondences: %lld merged matches (golden %lld), every pixel pair equal in order", prefix,
             (long long)n, (long long)gx2->shape[0]);
    if (!same) pc_test_fatal("the correspondences differ: the alignment checks below would be meaningless");
    snprintf(what, sizeof(what), "%sext_conf (sqrt(q1 q2) of the first occurrence)", prefix);
    pc_test_close(what, cf, G(gm, prefix, "ext_conf"), (size_t)n, 1e-5, 1e-5);

    pc_sga_pair sp[2] = {
        {1, 0, pc_tensor_f32(&o[0].view[0].pts3d), pc_tensor_f32(&o[0].view[0].conf), pc_tensor_f32(&o[0].view[1].pts3d),
         pc_tensor_f32(&o[0].view[1].conf), i2, i1, cf, n},
        {0, 1, pc_tensor_f32(&o[1].view[0].pts3d), pc_tensor_f32(&o[1].view[0].conf), pc_tensor_f32(&o[1].view[1].pts3d),
         pc_tensor_f32(&o[1].view[1].conf), i1, i2, cf, n}};
    int hs[2] = {H, H}, ws[2] = {W, W};
    pc_sga_input in = {2, hs, ws, 2, sp, NULL};
    pc_sga_opts so;
    pc_sga_opts_default(&so);
    so.lr1 = 0.07, so.niter1 = 100, so.lr2 = 0.014, so.niter2 = 100, so.matching_conf_thr = 0;
    for (int full = 0; full < 2; full++) {
        so.niter2 = full ? 100 : 0;
        const char *tag = full ? "sga_" : "sgac_";
        char pre[16];
        snprintf(pre, sizeof(pre), "%s%s", prefix, tag);
        pc_sga_result r;
        double t0 = pc_time_sec();
        pc_test_ok(pc_sga_run(&r, &in, &so, &err), &err, "pc_sga_run");
        printf("  %s%s: %.2f s\n", prefix, full ? "sparse GA (100 + 100 iterations)" : "coarse only", pc_time_sec() - t0);
        if (!full) {
            PC_CHECK(r.root == 0 && r.edges[0][0] == 0 && r.edges[0][1] == 1, "%skinematic chain: root 0, edge (0, 1)",
                     prefix);
            for (int v = 0; v < 2; v++) {
                char nm[48];
                snprintf(nm, sizeof(nm), "sga_base_focal%d", v + 1);
                snprintf(what, sizeof(what), "%s%s (Weiszfeld, [0.5, 3.5] x)", prefix, nm);
                pc_test_close(what, &r.base_focal[v], G(gs, prefix, nm), 1, 0, 1e-5);
                snprintf(nm, sizeof(nm), "sga_core_depth%d", v + 1);
                snprintf(what, sizeof(what), "%s%s (anchor depths)", prefix, nm);
                pc_test_close(what, r.core_depth[v], G(gs, prefix, nm), (size_t)(r.grid_h[v] * r.grid_w[v]), 0, 1e-5);
                snprintf(nm, sizeof(nm), "sga_anchor_offset%d", v + 1);
                snprintf(what, sizeof(what), "%s%s (canon2 offsets)", prefix, nm);
                pc_test_close(what, r.anchor_offset[v], G(gs, prefix, nm), (size_t)r.n_pts[v], 1e-5, 1e-5);
            }
        }
        snprintf(what, sizeof(what), "%slr_coarse (cosine to 0)", pre);
        pc_test_close(what, r.lr_coarse, G(gs, pre, "lr_coarse"), 100, 1e-9, 1e-6);
        snprintf(what, sizeof(what), "%sloss_coarse (3-D, gamma 1.5)", pre);
        pc_test_close(what, r.loss_coarse, G(gs, pre, "loss_coarse"), 100, 0, 1e-5);
        if (full) {
            snprintf(what, sizeof(what), "%slr_fine", pre);
            pc_test_close(what, r.lr_fine, G(gs, pre, "lr_fine"), 100, 1e-9, 1e-6);
            snprintf(what, sizeof(what), "%sloss_fine (2-D, gamma 0.5)", pre);
            pc_test_close(what, r.loss_fine, G(gs, pre, "loss_fine"), 100, 0, prefix[0] ? 1e-2 : 1e-3);
        }
        float rel[16], pc[1335 * 3];
        rel_pose(rel, r.c2w[0], r.c2w[1]);
        const double tol = full ? 5e-2 : 1e-4;
        snprintf(what, sizeof(what), "%srel_c2w", pre);
        if (full) close_norm(what, rel, G(gs, pre, "rel_c2w"), 16, tol);
        else pc_test_close(what, rel, G(gs, pre, "rel_c2w"), 16, 1e-4, 1e-4);
        for (int v = 0; v < 2; v++) {
            char nm[48];
            snprintf(nm, sizeof(nm), "pts3d%d_cam1", v + 1);
            to_cam1(pc, r.pts3d[v], r.n_pts[v], r.c2w[0]);
            snprintf(what, sizeof(what), "%s%s", pre, nm);
            if (full) close_norm(what, pc, G(gs, pre, nm), (size_t)r.n_pts[v] * 3, tol);
            else pc_test_close(what, pc, G(gs, pre, nm), (size_t)r.n_pts[v] * 3, 1e-4, 1e-4);
            snprintf(nm, sizeof(nm), "depthmap%d", v + 1);
            snprintf(what, sizeof(what), "%s%s", pre, nm);
            if (full) close_norm(what, r.depth[v], G(gs, pre, nm), (size_t)(r.grid_h[v] * r.grid_w[v]), tol);
            else pc_test_close(what, r.depth[v], G(gs, pre, nm), (size_t)(r.grid_h[v] * r.grid_w[v]), 1e-4, 1e-4);
        }
        if (full) {  // densified (get_dense_pts3d): at the correspondence pixels, the same points as the sparse ones
            float *dense = malloc(sizeof(float) * (size_t)H * W * 3), *dp = malloc(sizeof(float) * (size_t)r.n_pts[1] * 3);
            pc_sga_dense(&r, 1, 8, dense, NULL);
            for (int64_t q = 0; q < r.n_pts[1]; q++) memcpy(dp + 3 * q, dense + 3 * (int64_t)r.pts_pixel[1][q], 12);
            snprintf(what, sizeof(what), "%spc_sga_dense == the sparse points at their pixels", prefix);
            pc_test_close(what, dp, r.pts3d[1], (size_t)r.n_pts[1] * 3, 1e-5, 1e-5);
            free(dense), free(dp);
        }
        float K[18];
        memcpy(K, r.K[0], sizeof(float) * 9), memcpy(K + 9, r.K[1], sizeof(float) * 9);
        snprintf(what, sizeof(what), "%sintrinsics", pre);
        if (full) close_norm(what, K, G(gs, pre, "intrinsics"), 18, 2e-2);
        else pc_test_close(what, K, G(gs, pre, "intrinsics"), 18, 1e-4, 1e-5);
        pc_sga_result_free(&r);
    }
    free(i1), free(i2), free(cf);
    for (int e = 0; e < 2; e++) pc_dust3r_pair_out_free(&o[e]);
    pc_tensor_free(&img[0]), pc_tensor_free(&img[1]);
}

int main(void) {
    char pp[1024], pm[1024], ps[1024], tp[1024];
    pc_test_shared_path(pp, sizeof(pp), "golden/mast3r/pair.safetensors");
    pc_test_shared_path(pm, sizeof(pm), "golden/mast3r/matches.safetensors");
    pc_test_shared_path(ps, sizeof(ps), "golden/mast3r/pose.safetensors");
    pc_test_shared_path(tp, sizeof(tp), "golden/mast3r/tiny.pth");
    pc_error err;
    pc_checkpoint *gp, *gm, *gs;
    pc_test_ok(pc_checkpoint_open(&gp, pp, &err), &err, "open pair");
    pc_test_ok(pc_checkpoint_open(&gm, pm, &err), &err, "open matches");
    pc_test_ok(pc_checkpoint_open(&gs, ps, &err), &err, "open pose");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    pc_dust3r *net;
    pc_test_ok(pc_dust3r_load(&net, tp, pool, &err), &err, "load tiny MASt3R");
    run(net, pool, gp, gm, gs, "s64_", 48, 64);
#ifndef PC_TEST_SANITIZED  // the 368x512 run (four 90-GFLOP reciprocal searches) in the Release suite only
    run(net, pool, gp, gm, gs, "", 368, 512);
#else
    puts("  (sanitizer build: the 368x512 run is in the Release suite only)");
#endif
    pc_dust3r_free(net);
    pc_pool_free(pool);
    pc_checkpoint_close(gp), pc_checkpoint_close(gm), pc_checkpoint_close(gs);
    return pc_test_finish();
}
