/* posecrafter public API: ORB features and brute-force Hamming matching.
 *
 * ORB follows OpenCV 4.6's cv::ORB with its defaults (nfeatures 500 there,
 * 2000 for PoseCrafter's FMS): 8-level pyramid with scale 1.2 (bit-exact
 * bilinear resize), FAST-9 (threshold 20) with 3x3 non-max suppression,
 * Harris re-ranking (block 7, k 0.04), intensity-centroid orientation over a
 * radius-15 disc, 7x7 sigma-2 Gaussian blur, rBRIEF with the learned 256-pair
 * pattern. Keypoint coordinates are in level-0 (input image) pixels.
 * Like OpenCV 4.6 there is no grid bucketing: keypoints spread over the image
 * only through the per-level budgets. Measured on ScanNet photos (1296x968 and
 * 512x320): keypoints, angles, responses and descriptors identical to
 * OpenCV 4.6's for the same gray image (dev/orb_vs_opencv.cpp).
 *
 *     pc_orb_params p;
 *     pc_orb_default_params(&p);
 *     p.nfeatures = 2000;
 *     pc_orb_features fa = {0}, fb = {0};
 *     pc_orb_detect(&fa, grayA, wA, hA, wA, &p, &err);   // 8-bit gray, row stride in bytes
 *     pc_orb_detect(&fb, grayB, wB, hB, wB, &p, &err);
 *     pc_match_params mp;
 *     pc_match_default_params(&mp);
 *     pc_match *m = malloc(fa.n * sizeof *m);
 *     int nm;
 *     pc_match_hamming(pool, m, &nm, fa.desc, fa.n, fb.desc, fb.n, &mp, &err);
 *     // m[k].a indexes fa.kp, m[k].b indexes fb.kp
 *     pc_orb_features_free(&fa);  pc_orb_features_free(&fb);
 */
#ifndef POSECRAFTER_FEATURES_H
#define POSECRAFTER_FEATURES_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#define PC_ORB_DESC_BYTES 32 /* 256-bit rBRIEF */

typedef struct pc_keypoint {
    float x, y;     /* level-0 pixel coordinates (OpenCV convention: pixel centres at integers) */
    float size;     /* patch diameter at level 0 (31 * scale^octave) */
    float angle;    /* degrees in [0, 360), OpenCV fastAtan2 convention */
    float response; /* Harris response */
    int octave;     /* pyramid level */
} pc_keypoint;

typedef struct pc_orb_params {
    int nfeatures;      /* total keypoint budget over all levels (OpenCV default 500) */
    float scale_factor; /* pyramid decimation ratio, 1.2 */
    int nlevels;        /* 8 */
    int edge_threshold; /* 31: keypoints closer to a level's border are dropped */
    int fast_threshold; /* 20 */
    int harris;         /* 1: rank by Harris (ORB::HARRIS_SCORE); 0: by FAST score */
} pc_orb_params;

typedef struct pc_orb_features {
    int n;           /* number of keypoints */
    pc_keypoint *kp; /* (n) */
    uint8_t *desc;   /* (n, 32) */
} pc_orb_features;

void pc_orb_default_params(pc_orb_params *p);
/* Detect keypoints and compute descriptors on an 8-bit gray image. Replaces
 * whatever out held (frees it first). Images smaller than the border leave
 * out->n = 0 (not an error). */
pc_status pc_orb_detect(pc_orb_features *out, const uint8_t *gray, int w, int h, int stride, const pc_orb_params *p,
                        pc_error *err);
/* Convert interleaved 8-bit RGB (or gray when channels == 1) to gray with
 * OpenCV's COLOR_RGB2GRAY fixed-point weights. out: (h, w). */
void pc_rgb_to_gray_u8(uint8_t *out, const uint8_t *rgb, int w, int h, int channels);
void pc_orb_features_free(pc_orb_features *f);

/* Scratch memory reused by repeated detections (one per thread): zero-initialise,
 * pass to pc_orb_detect_ws, release with pc_orb_workspace_free. */
typedef struct pc_orb_workspace {
    void *mem;
    size_t cap;
    uint8_t *gray; /* gray conversion buffer (pc_orb_detect_image_ws) */
    size_t gray_cap;
} pc_orb_workspace;
pc_status pc_orb_detect_ws(pc_orb_features *out, pc_orb_workspace *ws, const uint8_t *gray, int w, int h, int stride,
                           const pc_orb_params *p, pc_error *err);
void pc_orb_workspace_free(pc_orb_workspace *ws);

/* ---- brute-force Hamming matching ---------------------------------------- */
typedef struct pc_match {
    int a, b; /* index into set A (query) and set B (train) */
    int dist; /* Hamming distance in bits */
} pc_match;

typedef struct pc_match_params {
    int cross_check; /* keep a->b only when b's best is a too (OpenCV BFMatcher crossCheck) */
    float ratio;     /* Lowe ratio test: best < ratio * second best; <= 0 or >= 1 disables */
    int max_dist;    /* drop matches with distance > max_dist (256 disables) */
} pc_match_params;

/* cross_check = 1, ratio = 0 (off), max_dist = 256. */
void pc_match_default_params(pc_match_params *p);
/* Match every descriptor of A to its nearest in B. out must hold na entries;
 * matches come sorted by a. Ties go to the lowest index. Deterministic for any
 * thread count. */
pc_status pc_match_hamming(pc_pool *pool, pc_match *out, int *n_out, const uint8_t *desc_a, int na,
                           const uint8_t *desc_b, int nb, const pc_match_params *p, pc_error *err);
/* Plain scalar reference of pc_match_hamming (same results). */
pc_status pc_match_hamming_ref(pc_match *out, int *n_out, const uint8_t *desc_a, int na, const uint8_t *desc_b, int nb,
                               const pc_match_params *p, pc_error *err);
/* Hamming distance of two 32-byte descriptors. */
int pc_hamming256(const uint8_t *a, const uint8_t *b);

/* ---- MASt3R dense-descriptor matching (mast3r.fast_nn.fast_reciprocal_NNs) ---------------------------
 * Reciprocal nearest neighbours between two descriptor maps desc1 (H1, W1, D) and desc2 (H2, W2, D), as
 * upstream runs it for MASt3R's demo and sparse_ga: queries are view 1's pixels on the grid
 * (S/2 + S*i, S/2 + S*j), the similarity is the float32 dot product, the NN is its argmax with the lowest
 * index on ties (brute force, as cdistMatcher with dist='dot'), and the loop runs forward (1 -> 2) and back
 * (2 -> 1) until a query's chain stops moving, at most 10 rounds; queries still moving are dropped. The
 * matches are the distinct (idx1, idx2) pairs of flat pixel indices (y * W + x), sorted by idx1 then idx2
 * (merge_corres). *idx1, *idx2 are malloc'ed (free them); *n the count. Threads over the queries; the result
 * does not depend on the thread count. The dot products use FMA where the CPU has it, so a pair whose
 * best and second-best similarities differ by less than about 1e-6 may pick the other neighbour than
 * PyTorch's matmul does. */
typedef struct pc_frnn_stats {
    int n_calls;            /* brute-force NN calls made (two per round, a call with no query skipped) */
    int query_sizes[20];    /* queries per call, in order (upstream's notyet counts) */
    int rounds;             /* loop rounds run (<= 10) */
    int64_t n_queries;      /* grid queries */
} pc_frnn_stats;
pc_status pc_frnn_match(int32_t **idx1, int32_t **idx2, int64_t *n, const float *desc1, int H1, int W1,
                        const float *desc2, int H2, int W2, int D, int subsample, pc_pool *pool, pc_frnn_stats *stats,
                        pc_error *err);

/* mast3r: sparse_ga.extract_correspondences for one image pair (1, 2) from its symmetric inference: d11, q11 =
 * head 1 of decode(1, 2) (image 1's descriptors, desc_conf), d21, q21 = head 2 of decode(1, 2) (image 2's),
 * d22, q22 = head 1 of decode(2, 1), d12, q12 = head 2 of decode(2, 1). Four reciprocal searches (11 <-> 21,
 * 12 <-> 22, each way), merged: the distinct (idx1, idx2) pairs sorted by (idx1, idx2), each with the
 * confidence sqrt(q1 * q2) of its first occurrence. *idx1, *idx2, *conf are malloc'ed. */
pc_status pc_mast3r_correspondences(int32_t **idx1, int32_t **idx2, float **conf, int64_t *n, const float *d11,
                                    const float *q11, const float *d21, const float *q21, const float *d22,
                                    const float *q22, const float *d12, const float *q12, int H1, int W1, int H2,
                                    int W2, int D, int subsample, pc_pool *pool, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
