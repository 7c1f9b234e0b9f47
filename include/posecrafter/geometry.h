/* posecrafter public API: two-view geometry.
 *
 * Robust estimation from pixel correspondences with LO-RANSAC (MSAC scoring,
 * local optimisation by least-squares refits on the inliers, adaptive
 * iteration count, our own seeded PRNG: same input + seed -> same output).
 *
 * Pose convention used everywhere in posecrafter: X_B = R * X_A + t maps a 3-D
 * point from camera A's frame to camera B's frame, OpenCV axes (x right,
 * y down, z forward). R is row-major 3x3, t has unit norm (scale is not
 * observable from two views). Epipolar convention: x_B^T E x_A = 0 with
 * E = [t]_x R (normalised coordinates), x_B^T F x_A = 0 (pixels),
 * x_B ~ H x_A (pixels). Every function here is reentrant (no global state,
 * the PRNG lives on the stack): call them from several threads at once.
 *
 *     pc_ransac_options o;
 *     pc_ransac_options_default(&o);        // 1 px, 0.999, seed 0
 *     pc_intrinsics K = {fx, fy, cx, cy};
 *     pc_relpose pose;
 *     pc_status st = pc_relpose_estimate(&pose, mask, pa, pb, n, &K, &K, &o, &err);
 *     // pose.R, pose.t, pose.n_inliers; mask[i] = 1 for inliers
 */
#ifndef POSECRAFTER_GEOMETRY_H
#define POSECRAFTER_GEOMETRY_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Pinhole intrinsics in pixels. */
typedef struct pc_intrinsics {
    double fx, fy, cx, cy;
} pc_intrinsics;

typedef struct pc_ransac_options {
    double threshold;  /* inlier threshold in pixels (Sampson distance for E/F,
                          transfer distance in image B for H) */
    double confidence; /* stop when P(an all-inlier sample was drawn) >= this */
    int max_iters;     /* hard cap on sampling iterations */
    int min_iters;     /* at least this many (before adaptive stopping) */
    int lo_iters;      /* local-optimisation refits per new best model; 0 = plain MSAC */
    int refine;        /* relpose only: final Gauss-Newton on Sampson error (1 = on) */
    uint64_t seed;     /* PRNG seed (splitmix64 -> xoshiro256**) */
} pc_ransac_options;

/* threshold 1.0, confidence 0.999, max_iters 10000, min_iters 50, lo_iters 10,
 * refine 1, seed 0. */
void pc_ransac_options_default(pc_ransac_options *o);

typedef struct pc_relpose {
    double R[9];    /* X_B = R X_A + t, row-major */
    double t[3];    /* unit norm */
    double E[9];    /* essential matrix [t]_x R, x_B^T E x_A = 0 (normalised coords) */
    int n_inliers;  /* epipolar inliers that also pass the cheirality test */
    int n_matches;  /* n */
    int iters;      /* RANSAC sampling iterations run */
} pc_relpose;

/* Relative pose from pixel correspondences pts_a[i] <-> pts_b[i], each (n, 2)
 * (x, y) in pixels, with intrinsics Ka, Kb. Five-point (Nister) LO-RANSAC on
 * the essential matrix, then R, t chosen by cheirality (points in front of
 * both cameras) and optionally refined. inlier_mask (n) may be NULL; it gets 1
 * for the final inliers. The threshold is converted to normalised units with
 * the mean focal length (as OpenCV findEssentialMat does).
 * Errors: PC_ERR_ARG for NULL/invalid input (n < 0, non-positive focal),
 * PC_ERR_NUMERIC when n < 5 or no pose has >= 5 inliers (out->n_inliers = 0,
 * out->R = I, out->t = 0 then). */
pc_status pc_relpose_estimate(pc_relpose *out, uint8_t *inlier_mask, const float *pts_a, const float *pts_b,
                              int n, const pc_intrinsics *Ka, const pc_intrinsics *Kb,
                              const pc_ransac_options *opt, pc_error *err);

/* Fundamental matrix (7-point minimal solver, normalised 8-point refits) from
 * pixel correspondences (n, 2). F (9, row-major) gets x_B^T F x_A = 0, unit
 * Frobenius norm, rank 2. With n < 8 or no model: PC_OK, *n_inliers = 0,
 * F zero, mask all 0 (so a frame selector can count inliers without special
 * cases). PC_ERR_ARG for NULL / negative n. */
pc_status pc_fundamental_ransac(double F[9], uint8_t *inlier_mask, int *n_inliers, const float *pts_a,
                                const float *pts_b, int n, const pc_ransac_options *opt, pc_error *err);

/* Homography x_B ~ H x_A (4-point normalised DLT; refits on inliers), H[8] = 1
 * when possible. Inlier test: |x_B - H x_A| <= threshold (pixels). Same
 * conventions for n < 4 / no model as pc_fundamental_ransac. */
pc_status pc_homography_ransac(double H[9], uint8_t *inlier_mask, int *n_inliers, const float *pts_a,
                               const float *pts_b, int n, const pc_ransac_options *opt, pc_error *err);

/* Absolute pose (PnP) of a pinhole camera: world points X (n, 3) seen at pixels uv (n, 2). LO-RANSAC as
 * above over the P3P minimal solver (Grunert), local optimisation and refits by Gauss-Newton on the
 * reprojection error of the inliers; inlier: reprojection error < opt->threshold pixels with the point in
 * front of the camera. R, t: world-to-camera (X_cam = R X + t, row-major R). inlier_mask (n) may be NULL.
 * Errors: PC_ERR_ARG for NULL/invalid input (n < 0, fx, fy not finite and > 0), PC_ERR_NUMERIC when
 * n < 4 or no pose has >= 4 inliers (out->n_inliers = 0, R = I, t = 0 then), PC_ERR_MEMORY. */
typedef struct pc_abspose {
    double R[9];
    double t[3];
    int n_inliers;
    int iters; /* RANSAC sampling iterations run */
} pc_abspose;

pc_status pc_abspose_estimate(pc_abspose *out, uint8_t *inlier_mask, const float *X, const float *uv, int64_t n,
                              const pc_intrinsics *K, const pc_ransac_options *opt, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
