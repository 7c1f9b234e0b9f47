/* posecrafter public API: dataset evaluation harness (`posecrafter eval`).
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
#ifndef POSECRAFTER_EVALUATE_H
#define POSECRAFTER_EVALUATE_H

#include <stddef.h>
#include <stdio.h>
#include "posecrafter/core.h"

#ifdef __cplusplus
extern "C" {
#endif

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
