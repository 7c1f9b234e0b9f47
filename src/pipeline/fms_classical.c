// Classical relative pose: ORB + Hamming matching (cross-check + ratio test) + five-point
// LO-RANSAC (pc_relpose_estimate). The same front end as FMS, with known
// intrinsics; the counterpart of OpenCV's ORB + BFMatcher(crossCheck) +
// findEssentialMat + recoverPose.
#include "core/common.h"
#include "pipeline/fms_internal.h"
#include "posecrafter/fms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pc_classical_options_default(pc_classical_options *o) {
    memset(o, 0, sizeof(*o));
    pc_orb_default_params(&o->orb);
    o->orb.nfeatures = 2000;
    pc_match_default_params(&o->match);
    // Lowe ratio 0.9 on top of the cross-check and OpenCV's RANSAC iteration cap (findEssentialMat's
    // maxIters 1000). bench_pose_classical on the 122 pairs of shared/data/derived/eval_set_v1, AUC@5/10/20
    // and CPU ms per pair, before the keypoint-centre fix (kp_centre): ratio 0.9 / 1000 iters 7.49/10.14/13.43
    // at 59 ms; ratio 0.8 / 1000 5.20/8.26/11.87 at 63 ms; ratio 0.8 / 10000 5.88/9.01/12.66 at 152 ms; no
    // ratio / 1000 5.15/7.34/9.27 at 113 ms; no ratio / 10000 8.24/12.11/15.01 at 339 ms. With kp_centre,
    // ratio 0.9 / 1000: 8.38/11.83/15.76 at 64 ms. OpenCV ORB + findEssentialMat: 3.35/7.33/11.00 at 238-279 ms.
    o->match.ratio = 0.9f;
    pc_ransac_options_default(&o->ransac);
    o->ransac.max_iters = 1000;
}

// OpenCV reports a level-l keypoint at (x_l * s, y_l * s), s = scale^l, but pyramid pixel x_l covers
// level-0 pixel centre (x_l + 0.5) * s - 0.5 (resize's half-pixel convention): shift by (s - 1) / 2.
static float kp_centre(float v, int octave, float scale_factor) {
    float s = (float)pow((double)scale_factor, (double)octave);
    return v + 0.5f * (s - 1.0f);
}

pc_status pc_classical_pose(pc_relpose *out, pc_classical_stats *stats, pc_pool *pool, const pc_image *img_a,
                            const pc_image *img_b, const pc_intrinsics *Ka, const pc_intrinsics *Kb,
                            const pc_classical_options *opt, pc_error *err) {
    if (!out || !img_a || !img_b || !Ka || !Kb) return pc_err(err, PC_ERR_ARG, "classical pose: NULL argument");
    pc_classical_options defaults;
    if (!opt) {
        pc_classical_options_default(&defaults);
        opt = &defaults;
    }
    pc_classical_stats s;
    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    double t0 = pc_time_sec();
    pc_orb_features fa = {0, NULL, NULL}, fb = {0, NULL, NULL};
    pc_match *m = NULL;
    float *pa = NULL, *pb = NULL;
    pc_status st = PC_OK;

    st = pc_orb_detect_two(pool, &fa, &fb, img_a, img_b, &opt->orb, err);
    double t1 = pc_time_sec();
    s.keypoints_a = fa.n;
    s.keypoints_b = fb.n;
    if (st == PC_OK) {
        int cap = fa.n ? fa.n : 1;
        m = (pc_match *)malloc(sizeof(pc_match) * (size_t)cap);
        pa = (float *)malloc(sizeof(float) * 2 * (size_t)cap);
        pb = (float *)malloc(sizeof(float) * 2 * (size_t)cap);
        if (!m || !pa || !pb) st = pc_err(err, PC_ERR_MEMORY, "classical pose: out of memory");
    }
    int nm = 0;
    if (st == PC_OK) st = pc_match_hamming(pool, m, &nm, fa.desc, fa.n, fb.desc, fb.n, &opt->match, err);
    double t2 = pc_time_sec();
    s.matches = nm;
    if (st == PC_OK) {
        for (int i = 0; i < nm; i++) {
            const pc_keypoint *ka = &fa.kp[m[i].a], *kb = &fb.kp[m[i].b];
            float sf = opt->orb.scale_factor;
            pa[2 * i] = kp_centre(ka->x, ka->octave, sf);
            pa[2 * i + 1] = kp_centre(ka->y, ka->octave, sf);
            pb[2 * i] = kp_centre(kb->x, kb->octave, sf);
            pb[2 * i + 1] = kp_centre(kb->y, kb->octave, sf);
        }
        st = pc_relpose_estimate(out, NULL, pa, pb, nm, Ka, Kb, &opt->ransac, err);
    }
    double t3 = pc_time_sec();
    s.t_orb = t1 - t0;
    s.t_match = t2 - t1;
    s.t_ransac = t3 - t2;
    s.t_total = t3 - t0;
    if (stats) *stats = s;
    pc_orb_features_free(&fa);
    pc_orb_features_free(&fb);
    free(m);
    free(pa);
    free(pb);
    return st;
}
