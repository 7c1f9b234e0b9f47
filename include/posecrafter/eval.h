/* posecrafter public API: relative-pose metrics.
 *
 * Poses follow posecrafter/geometry.h: X_B = R X_A + t (OpenCV axes).
 *
 * Definitions (explicit, since papers differ):
 *  - rotation error: geodesic angle of R_est^T R_gt in degrees,
 *    acos(clip((trace - 1) / 2)) (SuperGlue angle_error_mat).
 *  - translation error: angle between t_est and t_gt in degrees (SuperGlue
 *    angle_error_vec). With sign_ambiguous = 1 it is min(e, 180 - e), as
 *    SuperGlue's compute_pose_error does for E-based poses (t up to sign);
 *    PoseCrafter/InterPose-style evaluation of a full pose uses 0. A zero or
 *    non-finite vector (failed estimate) gives 180 (90 when sign_ambiguous).
 *  - MRE / MTE: MEAN rotation / translation error over the pairs (the
 *    summary also gives medians).
 *  - R@x / T@x: fraction of pairs with error < x degrees, x in {5, 15, 30}.
 *  - AUC@30 (PoseCrafter): min(rot AUC@30, trans AUC@30), each the normalised
 *    area under the cumulative error curve up to 30 degrees, computed exactly
 *    like SuperGlue's pose_auc (trapezoid rule on the sorted errors).
 *  - pose AUC@5/10/20 (SuperGlue): pose_auc on max(rot err, trans err).
 *  - yaw: see pc_eval_yaw_deg. Yaw bins are [lo, hi): a yaw equal to hi
 *    counts only when hi >= 90 (so [50,65], [65,90] partition [50,90]).
 */
#ifndef POSECRAFTER_EVAL_H
#define POSECRAFTER_EVAL_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Geodesic rotation error in degrees, [0, 180]. R row-major 3x3. */
double pc_eval_rot_error_deg(const double R_est[9], const double R_gt[9]);
/* Angle between translation directions in degrees (see header comment). */
double pc_eval_trans_error_deg(const double t_est[3], const double t_gt[3], int sign_ambiguous);

/* SuperGlue pose_auc: for each threshold thr[k] (> 0), the area under the
 * recall-vs-error curve on [0, thr] divided by thr. errors (n) may hold +inf
 * (failed pairs; NaN counts as +inf). n = 0 gives 0. Returns PC_ERR_MEMORY
 * when the sort buffer cannot be allocated, PC_ERR_ARG on bad arguments. */
pc_status pc_eval_pose_auc(double *aucs, const double *errors, int n, const double *thr, int n_thr, pc_error *err);

/* Relative yaw of camera B w.r.t. camera A from a pose (X_B = R X_A + t), in
 * degrees, [0, 180]: the angle between the two optical axes after projecting
 * B's axis onto A's horizontal (x-z) plane, i.e. |atan2(d.x, d.z)| with
 * d = R^T (0, 0, 1) (B's viewing direction in A's frame). Rotation about the
 * vertical y axis only -> exactly that angle. */
double pc_eval_yaw_deg(const double R[9]);
/* 1 when yaw is in the bin [lo, hi) (hi itself included when hi >= 90). */
int pc_eval_in_yaw_bin(double yaw, double lo, double hi);

typedef struct pc_eval_summary {
    int n;                  /* pairs summarised */
    double mre, mte;        /* mean rotation / translation error (deg) */
    double med_re, med_te;  /* medians (deg) */
    double r_at[3];         /* R@5, R@15, R@30: fraction in [0, 1] */
    double t_at[3];         /* T@5, T@15, T@30 */
    double auc30_rot, auc30_trans;
    double auc30;           /* min(auc30_rot, auc30_trans) (PoseCrafter) */
    double auc_pose[3];     /* SuperGlue AUC@5, @10, @20 on max(eR, et) */
} pc_eval_summary;

/* Summarise per-pair errors (degrees, n each). A failed pair may be +inf
 * (AUCs and R@/T@ handle it; MRE/MTE then become inf: pass 180 instead when
 * finite means are wanted). yaw (n)
 * and the bin [yaw_lo, yaw_hi) select a subset; yaw = NULL uses every pair.
 * A subset with no pairs gives n = 0 and zeros. */
pc_status pc_eval_summarize(pc_eval_summary *s, const double *rot_err, const double *trans_err, const double *yaw,
                            int n, double yaw_lo, double yaw_hi, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
