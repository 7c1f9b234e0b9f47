// Pose metrics vs hand-computed values (superglue: angle_error_mat,
// angle_error_vec, compute_pose_error, pose_auc; PoseCrafter AUC@30, yaw bins).
#include <math.h>

#include "testutil.h"
#include "geometry/linalg.h"

static void rot_y(double R[9], double deg) {
    double a[3] = {0, deg * 3.14159265358979323846 / 180.0, 0};
    pc_axis_angle_to_rot(R, a);
}

int main(void) {
    double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, R[9];
    rot_y(R, 37.0);
    PC_CHECK(fabs(pc_eval_rot_error_deg(R, I) - 37.0) < 1e-9, "rot error of Ry(37) vs I = %.12f", pc_eval_rot_error_deg(R, I));
    double R2[9];
    rot_y(R2, 10.0);
    PC_CHECK(fabs(pc_eval_rot_error_deg(R, R2) - 27.0) < 1e-9, "rot error Ry(37) vs Ry(10) = 27");
    double a[3] = {1, 0, 0}, b[3] = {1, 1, 0}, c[3] = {-1, 0, 0}, z[3] = {0, 0, 0};
    PC_CHECK(fabs(pc_eval_trans_error_deg(a, b, 0) - 45.0) < 1e-12, "t angle (1,0,0) vs (1,1,0) = 45");
    PC_CHECK(fabs(pc_eval_trans_error_deg(a, c, 0) - 180.0) < 1e-12, "t angle opposite = 180");
    PC_CHECK(fabs(pc_eval_trans_error_deg(a, c, 1) - 0.0) < 1e-12, "t angle opposite, sign-ambiguous = 0");
    double d[3] = {-1, -1, 0};
    PC_CHECK(fabs(pc_eval_trans_error_deg(a, d, 1) - 45.0) < 1e-12, "135 deg sign-ambiguous -> 45");
    PC_CHECK(pc_eval_trans_error_deg(a, z, 0) == 180.0, "zero vector -> 180");

    // pose_auc by hand: errors {3, 1, 100, 2}, thr 5:
    // e = [0,1,2,3,5], r = [0,.25,.5,.75,.75] -> area 2.625 -> 0.525
    // thr 2.5: e = [0,1,2,2.5], r = [0,.25,.5,.5] -> .125 + .375 + .25 = .75 -> 0.3
    // thr 200: e=[0,1,2,3,100,200], r=[0,.25,.5,.75,1,1]: .125+.375+.625+84.875+100 = 186 -> 0.93
    double errs[4] = {3, 1, 100, 2}, th[3] = {5, 2.5, 200}, auc[3], want[3] = {0.525, 0.3, 0.93};
    pc_error err = {{0}};
    pc_test_ok(pc_eval_pose_auc(auc, errs, 4, th, 3, &err), &err, "pose_auc");
    pc_test_close_f64("pose_auc hand values", auc, want, 3, 1e-12, 0);
    double errs_inf[2] = {INFINITY, 1.0}, auc1, th10 = 10;
    // e=[0,1,inf] r=[0,.5,1]: last=2 -> e=[0,1,10], r=[0,.5,.5]: .25 + 4.5 = 4.75 -> .475
    pc_test_ok(pc_eval_pose_auc(&auc1, errs_inf, 2, &th10, 1, &err), &err, "pose_auc inf");
    PC_CHECK(fabs(auc1 - 0.475) < 1e-12, "pose_auc with a failed pair (inf) = %.6f (want 0.475)", auc1);
    // error exactly at the threshold is excluded (searchsorted left)
    double e5 = 5.0, th5 = 5.0;
    pc_test_ok(pc_eval_pose_auc(&auc1, &e5, 1, &th5, 1, &err), &err, "pose_auc edge");
    PC_CHECK(auc1 == 0.0, "pose_auc error == thr gives 0");

    // yaw
    double Ry[9];
    rot_y(Ry, 60.0);
    PC_CHECK(fabs(pc_eval_yaw_deg(Ry) - 60.0) < 1e-9, "yaw of Ry(60) = %.9f", pc_eval_yaw_deg(Ry));
    rot_y(Ry, -75.0);
    PC_CHECK(fabs(pc_eval_yaw_deg(Ry) - 75.0) < 1e-9, "yaw of Ry(-75) = 75");
    double Rx[9], ax[3] = {0.3, 0, 0};
    pc_axis_angle_to_rot(Rx, ax);
    PC_CHECK(fabs(pc_eval_yaw_deg(Rx)) < 1e-12, "pitch only -> yaw 0");
    PC_CHECK(pc_eval_in_yaw_bin(50, 50, 65) && !pc_eval_in_yaw_bin(65, 50, 65) && pc_eval_in_yaw_bin(65, 65, 90) &&
                 pc_eval_in_yaw_bin(90, 65, 90) && pc_eval_in_yaw_bin(90, 50, 90) && !pc_eval_in_yaw_bin(49.9, 50, 90),
             "yaw bins [lo, hi), 90 inclusive");

    // summary: 4 pairs, rot {1, 10, 20, 40}, trans {2, 4, 40, 3}, yaw {55, 70, 80, 10}
    double re[4] = {1, 10, 20, 40}, te[4] = {2, 4, 40, 3}, yaw[4] = {55, 70, 80, 10};
    pc_eval_summary s;
    pc_test_ok(pc_eval_summarize(&s, re, te, NULL, 4, 0, 0, &err), &err, "summarize");
    PC_CHECK(s.n == 4 && fabs(s.mre - 17.75) < 1e-12 && fabs(s.mte - 12.25) < 1e-12, "MRE 17.75, MTE 12.25");
    PC_CHECK(fabs(s.med_re - 15) < 1e-12 && fabs(s.med_te - 3.5) < 1e-12, "medians 15, 3.5");
    PC_CHECK(s.r_at[0] == 0.25 && s.r_at[1] == 0.5 && s.r_at[2] == 0.75, "R@5/15/30 = .25/.5/.75");
    PC_CHECK(s.t_at[0] == 0.75 && s.t_at[1] == 0.75 && s.t_at[2] == 0.75, "T@5/15/30 = .75");
    // rot AUC@30: e=[0,1,10,20,30] r=[0,.25,.5,.75,.75]: .125+3.375+6.25+7.5 = 17.25 -> .575
    // trans AUC@30: e=[0,2,3,4,30] r=[0,.25,.5,.75,.75]: .25+.375+.625+19.5 = 20.75 -> .691666
    PC_CHECK(fabs(s.auc30_rot - 0.575) < 1e-12 && fabs(s.auc30_trans - 20.75 / 30) < 1e-12 && s.auc30 == s.auc30_rot,
             "AUC@30 = min(rot .575, trans .6917) (got %.6f, %.6f)", s.auc30_rot, s.auc30_trans);
    // max errors {2, 10, 40, 40}: AUC@5: e=[0,2,5] r=[0,.25,.25] -> .25 + .75 = 1.0 -> .2
    PC_CHECK(fabs(s.auc_pose[0] - 0.2) < 1e-12, "SuperGlue AUC@5 on max(eR, et) = %.6f (want 0.2)", s.auc_pose[0]);
    pc_test_ok(pc_eval_summarize(&s, re, te, yaw, 4, 50, 90, &err), &err, "summarize bin");
    PC_CHECK(s.n == 3 && fabs(s.mre - 31.0 / 3) < 1e-12, "yaw bin [50,90]: 3 pairs, MRE %.4f", s.mre);
    pc_test_ok(pc_eval_summarize(&s, re, te, yaw, 4, 65, 90, &err), &err, "summarize bin 2");
    PC_CHECK(s.n == 2 && fabs(s.mre - 15) < 1e-12, "yaw bin [65,90]: 2 pairs");
    return pc_test_finish();
}
