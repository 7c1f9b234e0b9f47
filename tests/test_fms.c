// Feature Matching Selector (PoseCrafter §3.3) and the classical ORB + five-point pose,
// on synthetic scenes with exact ground truth (geometry/synth.h):
//   - FMS: frames of the same scene as A and B score far above frames of other scenes;
//     the selection is top-k by S over the threshold, inputs and duplicates excluded,
//     identical for 1 and 2 threads
//   - classical pose on a synthetic pair recovers R and the direction of t
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geometry/synth.h"
#include "posecrafter.h"
#include "testutil.h"

#define W 512
#define H 320

// img_b of a synthetic pair (yaw from A's camera), as an RGB pc_image; a_out (optional) gets img_a.
static void synth_view(pc_image *b_out, pc_image *a_out, double yaw, double offset, uint64_t seed) {
    pc_synth_params sp;
    pc_synth_params_default(&sp);
    sp.width = W;
    sp.height = H;
    sp.yaw_deg = yaw;
    sp.offset = offset;
    sp.seed = seed;
    pc_synth_pair s;
    pc_error err;
    pc_test_ok(pc_synth_pair_make(&s, &sp, &err), &err, "pc_synth_pair_make");
    pc_test_ok(pc_image_alloc(b_out, W, H, 3, &err), &err, "alloc");
    memcpy(b_out->data, s.img_b, (size_t)W * H * 3);
    if (a_out) {
        pc_test_ok(pc_image_alloc(a_out, W, H, 3, &err), &err, "alloc");
        memcpy(a_out->data, s.img_a, (size_t)W * H * 3);
    }
    pc_synth_pair_free(&s);
}

static void test_fms(void) {
    pc_image A = {0}, B = {0};
    synth_view(&B, &A, 40, 0, 3);  // A: yaw 0, B: yaw 40, scene seed 3
    // frames: 0..4 same scene at yaw 10..35 (between A and B), 5..7 other scenes, 8 = copy of A, 9 = yaw 70
    enum { N = 10 };
    pc_image F[N];
    memset(F, 0, sizeof F);
    const double yaws[5] = {10, 20, 25, 30, 35};
    for (int i = 0; i < 5; i++) synth_view(&F[i], NULL, yaws[i], 0, 3);
    for (int i = 5; i < 8; i++) synth_view(&F[i], NULL, 20, 0, 100 + (uint64_t)i);
    pc_error err;
    pc_test_ok(pc_image_alloc(&F[8], W, H, 3, &err), &err, "alloc");
    memcpy(F[8].data, A.data, (size_t)W * H * 3);
    synth_view(&F[9], NULL, 70, 0, 3);

    pc_fms_options o;
    pc_fms_options_default(&o);
    pc_fms_frame_stats s1[N], s2[N];
    int sel1[6], sel2[6], n1 = 0, n2 = 0;
    const int k = 3, thr = PC_FMS_DEFAULT_THRESHOLD;
    pc_test_ok(pc_fms_select(NULL, F, N, &A, &B, k, thr, &o, sel1, &n1, s1, &err), &err, "fms 1 thread");
    pc_pool *pool = NULL;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    pc_test_ok(pc_fms_select(pool, F, N, &A, &B, k, thr, &o, sel2, &n2, s2, &err), &err, "fms 2 threads");
    for (int i = 0; i < N; i++)
        printf("info: frame %d: kp %d, matches A %d, N_A %d, matches B %d, N_B %d, S %d%s%s\n", i, s1[i].n_keypoints,
               s1[i].matches_a, s1[i].inliers_a, s1[i].matches_b, s1[i].inliers_b, s1[i].score,
               s1[i].selected ? " selected" : "", s1[i].excluded ? " excluded" : "");
    PC_CHECK(n1 == n2 && !memcmp(sel1, sel2, sizeof(int) * (size_t)n1) && !memcmp(s1, s2, sizeof s1),
             "fms: same stats and selection with 1 and 2 threads");
    int min_same = 1 << 30, max_other = 0;
    for (int i = 0; i < 5; i++) min_same = s1[i].score < min_same ? s1[i].score : min_same;
    for (int i = 5; i < 8; i++) max_other = s1[i].score > max_other ? s1[i].score : max_other;
    PC_CHECK(min_same >= 2 * thr && max_other < thr,
             "fms: same-scene frames score >= %d (min %d), other scenes < threshold %d (max %d)", 2 * thr, min_same,
             thr, max_other);
    PC_CHECK(s1[8].excluded && !s1[8].selected, "fms: a frame identical to A is excluded (S %d)", s1[8].score);
    // selection = the k best non-excluded frames by S, best first, all over the threshold
    int ok = n1 == k;
    for (int j = 0; j < n1 && ok; j++) {
        int i = sel1[j];
        ok &= !s1[i].excluded && s1[i].score >= thr && (j == 0 || s1[sel1[j - 1]].score >= s1[i].score);
        for (int q = 0; q < N; q++)
            if (!s1[q].excluded && !s1[q].selected && s1[q].score > s1[i].score) ok = 0;
    }
    PC_CHECK(ok, "fms: top-%d by S: %d %d %d", k, sel1[0], n1 > 1 ? sel1[1] : -1, n1 > 2 ? sel1[2] : -1);
    for (int j = 0; j < n1; j++)
        PC_CHECK(sel1[j] < 5 || sel1[j] == 9, "fms: selected frame %d is of the same scene", sel1[j]);
    // explicit exclusion and a threshold nobody passes
    uint8_t ex[N] = {0};
    ex[sel1[0]] = 1;
    o.exclude = ex;
    int sel3[6], n3 = 0;
    pc_test_ok(pc_fms_select(pool, F, N, &A, &B, k, thr, &o, sel3, &n3, s2, &err), &err, "fms exclude");
    int hit = 0;
    for (int j = 0; j < n3; j++) hit |= sel3[j] == sel1[0];
    PC_CHECK(n3 == k && !hit && sel3[0] == sel1[1], "fms: --exclude of the best frame selects the next ones");
    pc_test_ok(pc_fms_select(pool, F, N, &A, &B, k, 1 << 20, &o, sel3, &n3, s2, &err), &err, "fms high threshold");
    PC_CHECK(n3 == 0, "fms: threshold above every score selects nothing (%d)", n3);
    PC_CHECK(pc_fms_select(pool, F, -1, &A, &B, k, thr, &o, sel3, &n3, NULL, &err) == PC_ERR_ARG,
             "fms: n < 0 rejected (%s)", err.msg);
    pc_pool_free(pool);
    for (int i = 0; i < N; i++) pc_image_free(&F[i]);
    pc_image_free(&A);
    pc_image_free(&B);
}

static void test_classical_pose(void) {
    const double yaws[2] = {15, 30};
    for (int c = 0; c < 2; c++) {
        pc_synth_params sp;
        pc_synth_params_default(&sp);
        sp.width = 640;
        sp.height = 480;
        sp.yaw_deg = yaws[c];
        sp.seed = 5 + (uint64_t)c;
        pc_synth_pair s;
        pc_error err;
        pc_test_ok(pc_synth_pair_make(&s, &sp, &err), &err, "synth pair");
        pc_image A = {640, 480, 3, s.img_a}, B = {640, 480, 3, s.img_b};
        pc_relpose pose;
        pc_classical_stats cs;
        pc_test_ok(pc_classical_pose(&pose, &cs, NULL, &A, &B, &s.K, &s.K, NULL, &err), &err, "classical pose");
        double eR = pc_eval_rot_error_deg(pose.R, s.R), et = pc_eval_trans_error_deg(pose.t, s.t, 0);
        PC_CHECK(eR < 2.0 && et < 3.0,
                 "classical pose, synthetic yaw %.0f: rotation error %.3f deg (tol 2), translation direction %.3f deg "
                 "(tol 3); %d inliers / %d matches, %d / %d keypoints",
                 yaws[c], eR, et, pose.n_inliers, cs.matches, cs.keypoints_a, cs.keypoints_b);
        pc_synth_pair_free(&s);
    }
}

int main(void) {
    test_fms();
    test_classical_pose();
    return pc_test_finish();
}
