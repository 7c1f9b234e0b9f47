/* posecrafter public API: MASt3R's sparse global alignment (mast3r/cloud_opt/sparse_ga.py,
 * sparse_global_alignment with kinematic_mode 'hclust-ward').
 *
 * Input: N views and, for every ordered pair (a, b) of a symmetrized pair list (dust3r/mast3r make_pairs
 * order), MASt3R's decode(a, b): head 1 (image a in its own frame) and head 2 (image b in a's frame)
 * pointmaps and confidences, plus the pair's correspondences (pc_mast3r_correspondences) as flat pixel
 * indices of a and of b. From those it builds, as upstream does:
 *   - a canonical pointmap per image (confidence-weighted mean of its head-1 maps, 'avg-angle' relative depths
 *     on the subsample grid), its focal (Weiszfeld, clipped to [0.5, 3.5] x the 60-degree focal) and anchor
 *     depths on the grid [S/2::S, S/2::S];
 *   - every correspondence pixel attached to its anchor with a depth offset;
 *   - a kinematic chain (Ward clustering of the match counts, its spanning tree, the most central root);
 * then optimises, with Adam (betas 0.9, 0.9) and cosine schedules,
 *   coarse: rotations, translations and scales of the chain, 3-D distance between matched points
 *           (gamma loss 1.5, match-confidence weighted);
 *   fine:   + focals, principal points and anchor depths, 2-D reprojection error (gamma loss 0.5).
 * The result is taken at the start of the last iteration of the last stage, as upstream returns it.
 *
 *     pc_sga_opts o; pc_sga_opts_default(&o);
 *     pc_sga_result r;
 *     if (pc_sga_run(&r, &in, &o, &err)) ...
 *     // r.c2w[k] (4x4 cam-to-world), r.K[k] (3x3); relative pose: inv(c2w[0]) c2w[1]
 *     pc_sga_result_free(&r);
 *
 * Known limits: a pair whose matches all have confidence <= matching_conf_thr needs upstream's sparse DUSt3R
 * fallback loss, which is not ported: such a pair makes pc_sga_run fail with PC_ERR_UNSUPPORTED naming it.
 * shared_intrinsics and the low-rank depth option are not ported either.
 */
#ifndef POSECRAFTER_SPARSE_GA_H
#define POSECRAFTER_SPARSE_GA_H
#include <stdint.h>
#include "posecrafter/core.h"
#include "posecrafter/align.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_sga_opts {
    double lr1;              /* 0.07  coarse (3-D) stage */
    int niter1;              /* 300 */
    double lr2;              /* 0.01  fine (2-D) stage */
    int niter2;              /* 300 (0: coarse only) */
    int opt_pp;              /* 1 */
    int opt_depth;           /* 1 */
    float matching_conf_thr; /* 5 (sparse_scene_optimizer's default; mast3r's demo passes 0) */
    int subsample;           /* 8 */
} pc_sga_opts;

void pc_sga_opts_default(pc_sga_opts *o);

typedef struct pc_sga_pair {
    int a, b;                 /* ordered pair: decode(a, b) */
    const float *X_a, *C_a;   /* (H_a, W_a, 3), (H_a, W_a): head 1, image a in its own frame */
    const float *X_b, *C_b;   /* (H_b, W_b, 3), (H_b, W_b): head 2, image b in a's frame */
    const int32_t *corr_a;    /* (n_corr) flat pixel indices in a (y * W_a + x) */
    const int32_t *corr_b;    /* (n_corr) the matching pixels in b */
    const float *corr_conf;   /* (n_corr) match confidence */
    int64_t n_corr;
} pc_sga_pair;

typedef struct pc_sga_input {
    int n_views;
    const int *H, *W;         /* (N) image sizes (multiples of subsample) */
    int n_pairs;
    const pc_sga_pair *pairs; /* ordered pairs, each unordered pair in both orders */
    /* (N) or NULL: views whose focal and principal point are known (pixels of the view). They replace the
     * Weiszfeld base focal and the centred principal point at init (upstream's init[img]['intrinsics']) and,
     * beyond upstream, stay fixed in the fine stage. */
    const pc_align_intrinsics *intrinsics;
} pc_sga_input;

typedef struct pc_sga_result {
    int n_views;
    float (*c2w)[16];         /* (N, 4, 4) cam-to-world, row-major */
    float (*K)[9];            /* (N, 3, 3) */
    int root;                 /* kinematic chain: root image and (parent, child) edges in BFS order */
    int (*edges)[2];          /* (N - 1) */
    float *base_focal;        /* (N) Weiszfeld focal of the canonical pointmap (the init) */
    int *grid_h, *grid_w;     /* (N) anchor grid */
    float **core_depth;       /* N x (grid_h * grid_w): canonical anchor depths (before the median scaling) */
    float **depth;            /* N x (grid_h * grid_w): optimised anchor depths */
    int64_t *n_pts;           /* (N) correspondence points of each image (over its partners) */
    int32_t **pts_pixel;      /* N x n_pts: flat pixel index */
    float **anchor_offset;    /* N x n_pts: canonical depth relative to the anchor's */
    float **pts3d;            /* N x (n_pts, 3) world points of the correspondence pixels */
    int *H, *W;               /* (N) */
    float **canon2;           /* N x (H W): canonical relative depths (for pc_sga_dense) */
    float **cconf;            /* N x (H W): canonical confidence sum (C-0.999)^2 / sum (C-0.999) */
    float *loss_coarse, *lr_coarse;  /* (niter1) loss at iteration t (before its step) and its lr */
    float *loss_fine, *lr_fine;      /* (niter2) */
    int niter1, niter2;
} pc_sga_result;

pc_status pc_sga_run(pc_sga_result *res, const pc_sga_input *in, const pc_sga_opts *o, pc_error *err);
/* Every pixel of view k in world coordinates (mast3r: SparseGA.get_dense_pts3d without clean_depth): each
 * pixel rides on its anchor's optimised depth with its canonical offset. pts (H W 3), depth (H W) or NULL. */
void pc_sga_dense(const pc_sga_result *res, int k, int subsample, float *pts, float *depth);
void pc_sga_result_free(pc_sga_result *res);

#ifdef __cplusplus
}
#endif
#endif
