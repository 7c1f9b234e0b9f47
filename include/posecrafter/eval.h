/* posecrafter public API: evaluation (src/eval). Three sections below:
 *   1. metrics: rotation / translation errors, yaw, recalls, AUCs, per-bin summaries;
 *   2. the dataset harness of `posecrafter eval`: pair lists, JSON-lines results, the recall plot;
 *   3. converters from public datasets' layouts to pair lists.
 *
 * ---- 1. metrics ----
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
#include <stddef.h>
#include <stdio.h>
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


/* ---- 2. dataset evaluation harness (`posecrafter eval`) ----------------------------
 *
 * Pairs come from a SuperGlue-format pair list (one pair per line, 38 fields:
 * img0 img1 rot0 rot1 K0[9] K1[9] T_0to1[16], T row-major with X1 = R·X0 + t)
 * or from a JSON-lines manifest (docs/EVAL.md). Results are one JSON object
 * per (pair, run), appended atomically, so an interrupted evaluation resumes
 * where it stopped; shards (i/n) run deterministic slices that
 * pc_eval_results_merge joins again.
 *
 *     pc_eval_pair *pairs; size_t n;
 *     if (pc_eval_pairs_load(&pairs, &n, "eval_set_v1.txt", NULL, &err) != PC_OK) ...
 *     ...
 *     pc_eval_pairs_free(pairs);
 */

#define PC_EVAL_PATH_MAX 1024

typedef struct pc_eval_pair {
    char id[2 * PC_EVAL_PATH_MAX + 2]; /* "img0 img1" exactly as listed: the pair's identity in results */
    char img0[PC_EVAL_PATH_MAX];       /* resolved paths */
    char img1[PC_EVAL_PATH_MAX];
    char dataset[64];                  /* from the manifest, or derived from the path's first component */
    int rot0, rot1;                    /* EXIF-like rotation in 90° clockwise steps */
    double K0[9], K1[9];               /* row-major intrinsics of the stored image files */
    double R[9], t[3];                 /* ground truth: X1 = R·X0 + t (OpenCV axes) */
} pc_eval_pair;

/* Load a pair list. Format is chosen by content: a line starting with '{' is a
 * JSON-lines manifest, otherwise SuperGlue text. Relative image paths are
 * resolved against root; root NULL = the list's directory, or its parent when
 * the first image is not found there (lists in shared/data/derived/ name paths
 * relative to shared/data/). */
pc_status pc_eval_pairs_load(pc_eval_pair **pairs, size_t *n, const char *path, const char *root, pc_error *err);
void pc_eval_pairs_free(pc_eval_pair *pairs);

/* Deterministic shard: pair index p belongs to shard i of n (1-based) when p % n == i - 1. */
static inline int pc_eval_in_shard(size_t p, int shard_i, int shard_n) {
    return shard_n <= 1 || (int)(p % (size_t)shard_n) == shard_i - 1;
}

/* One result line. */
typedef struct pc_eval_result {
    char id[2 * PC_EVAL_PATH_MAX + 2];
    char dataset[64];
    char method[32];
    int run;
    unsigned long long seed;
    int ok;              /* 0: the estimator failed (error holds why); counts as maximal error */
    double err_R, err_t; /* degrees; meaningful when ok */
    double yaw;          /* ground-truth relative yaw, degrees */
    double rot;          /* ground-truth rotation angle, degrees */
    double R[9], t[3];   /* estimate */
    double seconds;
    char error[256];
} pc_eval_result;

/* Append one line (single write + fsync, so a killed run never leaves half a line). */
pc_status pc_eval_result_append(const char *path, const pc_eval_result *r, pc_error *err);

/* Read a results file. Corrupt lines are not skipped silently: each one is
 * reported on `report` (may be NULL) with its line number and counted in
 * *n_corrupt. */
pc_status pc_eval_results_read(pc_eval_result **out, size_t *n, size_t *n_corrupt, const char *path, FILE *report,
                               pc_error *err);

/* PNG with the cumulative error curves (recall vs error, 0..30 degrees) of
 * every method in the results, rotation on the left, translation on the
 * right, one colour per method with a legend. */
pc_status pc_eval_plot_png(const char *path, const pc_eval_result *r, size_t n, pc_error *err);

/* ---- 3. converters ------------------------------------------------------------------- */

/* Convert a dataset as its publisher lays it out into a JSON-lines pair
 * manifest (docs/EVAL.md) with paths relative to root:
 *   "cambridge": <scene>/dataset_test.txt (+ reconstruction.nvm focals; else f = 1670, 1920x1080)
 *   "scannet":   <scene>/{color/N.jpg, pose/N.txt, intrinsic/intrinsic_color.txt}, every stride-th frame
 *   "dl3dv":     [<scene>/]transforms.json (nerfstudio, OpenGL axes)
 *   "navi":      <object>/{multiview*,video*}/annotations.json
 * Pairs: all (i < j) within a scene whose ground-truth relative yaw lies in
 * [yaw_lo, yaw_hi]; when max_pairs > 0, a seeded random subset of that many
 * per scene. */
pc_status pc_eval_convert(const char *format, const char *root, const char *out_path, double yaw_lo, double yaw_hi,
                          int max_pairs, uint64_t seed, int stride, size_t *n_written, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
