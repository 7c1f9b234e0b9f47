/* posecrafter public API: the Feature Matching Selector (PoseCrafter §3.3).
 *
 * For every candidate frame t: ORB (2000 keypoints) on the frame, brute-force
 * Hamming matching (cross-checked) against input A and against input B, a
 * RANSAC fundamental matrix on each match set, N_A(t), N_B(t) = inlier counts,
 * S(t) = N_A(t) + N_B(t). The selection is the k frames with the largest S
 * among those with S >= threshold, inputs excluded, ties broken by the lower
 * frame index (deterministic for any thread count).
 *
 * Why a fundamental matrix: generated frames have no known intrinsics (the
 * video model does not keep a fixed focal), so an essential matrix would need
 * an invented K; F needs none and its inlier count measures exactly "how much
 * of this frame is rigidly consistent with A (B)", which is what FMS ranks.
 *
 *     pc_fms_options o;
 *     pc_fms_options_default(&o);
 *     int idx[6], nsel;
 *     pc_fms_frame_stats st[75];
 *     pc_fms_select(pool, frames, 75, &imgA, &imgB, 6, PC_FMS_DEFAULT_THRESHOLD, &o,
 *                   idx, &nsel, st, &err);
 *     for (int i = 0; i < nsel; i++) printf("frame %d S=%d\n", idx[i], st[idx[i]].score);
 */
#ifndef POSECRAFTER_FMS_H
#define POSECRAFTER_FMS_H
#include "posecrafter/core.h"
#include "posecrafter/features.h"
#include "posecrafter/geometry.h"
#include "posecrafter/image.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Default minimum score S = N_A + N_B for a frame to be selectable. Measured
 * with ORB-2000, cross-check, F-RANSAC 1 px: frames that do NOT see the
 * scene of A and B still get S = 21..59 (28 ScanNet photos of other scenes
 * against a ScanNet pair, 1000 iterations), 54..61 (3 ScanNet photos against
 * a templeRing pair, tests/cli_select.sh) and up to 67-70 (synthetic scenes
 * with other textures, bench_fms / tests/test_fms.c): F fits ~5% of random
 * matches within 1 px. Frames of the same scene scored >= 224 (mean 542) on
 * 60 synthetic views at yaw 0..45 deg (bench_fms), 253..825 on templeRing
 * views between A and B. 100 sits above every unrelated frame seen, with
 * margin, and far below the related ones. */
#define PC_FMS_DEFAULT_THRESHOLD 100

typedef struct pc_fms_options {
    pc_orb_params orb;        /* nfeatures 2000, OpenCV defaults otherwise */
    pc_match_params match;    /* cross-check on, no ratio test */
    pc_ransac_options ransac; /* fundamental-matrix RANSAC: 1 px Sampson, max 500 iterations, seed 0 */
    const uint8_t *exclude;   /* (n) optional: 1 = frame is an input / not selectable */
    int exclude_duplicates;   /* 1 (default): a frame pixel-identical to A or B is excluded */
} pc_fms_options;

typedef struct pc_fms_frame_stats {
    int n_keypoints;
    int matches_a, matches_b; /* cross-checked matches to A, to B */
    int inliers_a, inliers_b; /* N_A, N_B */
    int score;                /* S = N_A + N_B */
    int excluded;             /* 1 when the frame could not be selected (input / duplicate) */
    int selected;             /* 1 when it is in the selection */
} pc_fms_frame_stats;

void pc_fms_options_default(pc_fms_options *o);

/* Score every frame and select up to k. frames: n images (any size; gray,
 * RGB or RGBA); img_a, img_b: the two inputs. out_indices (k) receives the
 * selected frame indices, best first; *out_n_selected their count (may be
 * < k). stats (n) may be NULL. opt NULL = defaults. pool NULL = one thread. */
pc_status pc_fms_select(pc_pool *pool, const pc_image *frames, int n, const pc_image *img_a, const pc_image *img_b,
                        int k, int threshold, const pc_fms_options *opt, int *out_indices, int *out_n_selected,
                        pc_fms_frame_stats *stats, pc_error *err);

/* Building block shared with the classical pose path: ORB on an image of any
 * channel count (converted to gray with OpenCV's weights). */
pc_status pc_orb_detect_image(pc_orb_features *out, const pc_image *img, const pc_orb_params *p, pc_error *err);
/* Same with reusable scratch memory (one workspace per thread). */
pc_status pc_orb_detect_image_ws(pc_orb_features *out, pc_orb_workspace *ws, const pc_image *img,
                                 const pc_orb_params *p, pc_error *err);

/* ---- classical two-view pose (the baseline every pose paper reports) ----
 * ORB on both images, Hamming matches (cross-check + ratio 0.9), five-point LO-RANSAC on
 * the essential matrix with the given intrinsics, cheirality (geometry.h). */
typedef struct pc_classical_options {
    pc_orb_params orb;        /* nfeatures 2000 */
    pc_match_params match;    /* cross-check + Lowe ratio 0.9 */
    pc_ransac_options ransac; /* geometry defaults (1 px, 0.999, LO, refinement, seed 0), max 1000 iterations */
} pc_classical_options;

typedef struct pc_classical_stats {
    int keypoints_a, keypoints_b, matches;
    double t_orb, t_match, t_ransac, t_total; /* seconds */
} pc_classical_stats;

void pc_classical_options_default(pc_classical_options *o);
/* X_B = R X_A + t (out->R, out->t unit norm), out->n_inliers. stats may be NULL.
 * pool (may be NULL) runs the two ORBs side by side and the matcher. */
pc_status pc_classical_pose(pc_relpose *out, pc_classical_stats *stats, pc_pool *pool, const pc_image *img_a,
                            const pc_image *img_b, const pc_intrinsics *Ka, const pc_intrinsics *Kb,
                            const pc_classical_options *opt, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
