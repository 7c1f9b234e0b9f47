/* posecrafter public API: DUSt3R global alignment (dust3r/cloud_opt).
 *
 * Input: N views (H_k, W_k) and E directed pairwise predictions. Edge e = (i, j)
 * is one DUSt3R run with view1 = i, view2 = j:
 *   pts_i  (H_i, W_i, 3)  view i's pixels in camera i's frame   (pred1 'pts3d')
 *   conf_i (H_i, W_i)     their confidence (>= 1)
 *   pts_j  (H_j, W_j, 3)  view j's pixels in camera i's frame   (pred2 'pts3d_in_other_view')
 *   conf_j (H_j, W_j)
 * The arrays are borrowed: they must outlive the pc_align object.
 *
 *     pc_align_opts o; pc_align_opts_default(&o);
 *     pc_align *ga;
 *     if (pc_align_create(&ga, &in, &o, pool, &err)) ...
 *     if (pc_align_init_mst(ga, &err)) ...          // dust3r: init_minimum_spanning_tree
 *     if (pc_align_optimize(ga, NULL, &err)) ...     // dust3r: global_alignment_loop
 *     pc_align_cam2world(ga, k, c2w);  pc_align_focal(ga, k); ...
 *     pc_align_free(ga);
 *
 * Conventions: camera-to-world 4x4 row-major [R | t], OpenCV axes (x right,
 * y down, z forward); pixel (u, v) = (column, row), integer pixel centres;
 * principal point (W/2, H/2). Quaternions XYZW. Relative pose A->B in the
 * project's convention: X_B = R X_A + t.
 */
#ifndef POSECRAFTER_ALIGN_H
#define POSECRAFTER_ALIGN_H
#include <stdint.h>
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_align_edge {
    int i, j;
    const float *pts_i;   /* (H_i, W_i, 3) */
    const float *conf_i;  /* (H_i, W_i) */
    const float *pts_j;   /* (H_j, W_j, 3) in camera i's frame */
    const float *conf_j;  /* (H_j, W_j) */
} pc_align_edge;

/* Intrinsics a user knows for one view, in that view's pixels (the network input, after resize and crop).
 * One focal per view, as the optimizer models it (use (fx + fy) / 2). */
typedef struct pc_align_intrinsics {
    int known;        /* 0: estimated (Weiszfeld init, then optimised); 1: fixed to f, (cx, cy) */
    double f, cx, cy;
} pc_align_intrinsics;

typedef struct pc_align_input {
    int n_views;
    const int *heights;  /* (N) */
    const int *widths;   /* (N) */
    int n_edges;
    const pc_align_edge *edges; /* (E) */
    /* (N) or NULL. Views with known = 1 keep that focal and principal point through the optimisation
     * (dust3r: ModularPointCloudOptimizer.preset_focal + preset_principal_point for those images; the
     * MST init still estimates its own focals for registration and PnP, as upstream's does, and the
     * init keeps the preset values); PairViewer uses them for its PnP and reports them. */
    const pc_align_intrinsics *intrinsics;
} pc_align_input;

typedef enum { PC_ALIGN_COSINE = 0, PC_ALIGN_LINEAR = 1 } pc_align_schedule;

typedef struct pc_align_opts {
    int niter;              /* 300 */
    double lr;              /* 0.01 */
    double lr_min;          /* 1e-6 */
    pc_align_schedule schedule; /* cosine */
    float min_conf_thr;     /* 3 */
    float base_scale;       /* 0.5 */
    float pw_break;         /* 20 (adaptors are not optimised: kept for completeness) */
    float focal_break;      /* 20 */
    int niter_pnp;          /* 10 (MST init PnP-RANSAC iterations) */
    uint64_t seed;          /* RANSAC sampling seed */
} pc_align_opts;

void pc_align_opts_default(pc_align_opts *o);

/* ---- pair graphs (dust3r: make_pairs) -------------------------------------
 * scene_graph: "complete", "swin[-k][-noncyclic]", "logwin[-k][-noncyclic]", "oneref[-id]".
 * Writes up to max_pairs (i, j) pairs (view1, view2) into pairs[2*p], in
 * upstream's order (swin/logwin iterate a CPython set of (i, j) tuples: the
 * order is emulated for CPython >= 3.8 tuple hashing). symmetrize appends the
 * reversed pairs. *n_pairs gets the count. */
pc_status pc_align_make_pairs(int *pairs, int max_pairs, int *n_pairs, int n_views, const char *scene_graph,
                              int symmetrize, pc_error *err);

/* ---- PointCloudOptimizer -------------------------------------------------- */
typedef struct pc_align pc_align;

pc_status pc_align_create(pc_align **ga, const pc_align_input *in, const pc_align_opts *opts, pc_pool *pool,
                          pc_error *err);
void pc_align_free(pc_align *ga);

/* Result of the MST stage (dust3r: minimum_spanning_tree), before scale normalisation. */
typedef struct pc_align_mst {
    int n_views;
    int n_tree;            /* N - 1 when connected */
    int (*tree)[2];        /* (n_tree, 2) edges in processing order */
    float **pts3d;         /* N x (H_k*W_k*3) world points */
    double *focals;        /* (N) Weiszfeld estimates, unclipped (dust3r: min_focal=0, max_focal=inf) */
    unsigned char *has_focal; /* (N) 1 where focals[k] was set (upstream: k in im_focals) */
    double (*c2w)[16];     /* (N, 16) */
    int *pnp;              /* (N) 1 when the pose came from PnP-RANSAC, 2 when PnP failed (identity) */
} pc_align_mst;

pc_status pc_align_mst_compute(pc_align *ga, pc_align_mst *mst, pc_error *err);
void pc_align_mst_free(pc_align_mst *mst);
/* dust3r: init_from_pts3d (pairwise poses by registration, scale normalisation, depth/pose/focal params). */
pc_status pc_align_init_from_mst(pc_align *ga, const pc_align_mst *mst, pc_error *err);
/* Both of the above. */
pc_status pc_align_init_mst(pc_align *ga, pc_error *err);

/* Kernel choice for the optimizer: 1 = fastest the CPU has (AVX-512, else AVX2+FMA; default), 0 = the plain
 * reference everywhere, 2 = force AVX2. */
void pc_align_set_simd(pc_align *ga, int enable);
/* Loss at the current parameters; with_grad also fills the gradient. */
double pc_align_loss(pc_align *ga, int with_grad);
/* One Adam step at learning rate lr (computes the loss/gradient first; returns the loss before the step). */
double pc_align_step(pc_align *ga, double lr);
/* The learning rate of iteration it (0-based) of niter under opts. */
double pc_align_lr(const pc_align_opts *o, int it);
/* Full loop (dust3r: global_alignment_loop). loss_curve (niter) may be NULL.
 * *final_loss (may be NULL) = loss of the last iteration before its step, as upstream returns. */
pc_status pc_align_optimize(pc_align *ga, float *loss_curve, double *final_loss, pc_error *err);

/* Raw parameters and their gradients (float, same layout as upstream's tensors):
 * pw_poses (E, 8) [qx qy qz qw t't't' log s]; im_poses (N, 7); im_depthmaps: per view (H_k*W_k) log depth;
 * im_focals (N) = focal_break * log f. */
typedef enum { PC_ALIGN_PW_POSES = 0, PC_ALIGN_IM_POSES, PC_ALIGN_IM_DEPTHMAPS, PC_ALIGN_IM_FOCALS } pc_align_param;
float *pc_align_params(pc_align *ga, pc_align_param which, int64_t *count);
float *pc_align_grads(pc_align *ga, pc_align_param which, int64_t *count);
/* depth map param of view k (H_k*W_k) */
float *pc_align_depth_param(pc_align *ga, int k);

int pc_align_n_views(const pc_align *ga);
int pc_align_n_edges(const pc_align *ga);
/* Derived quantities. */
void pc_align_cam2world(const pc_align *ga, int k, float c2w[16]);
float pc_align_focal(const pc_align *ga, int k);
void pc_align_pp(const pc_align *ga, int k, float pp[2]);
void pc_align_depthmap(const pc_align *ga, int k, float *depth /* (H_k*W_k) */);
void pc_align_pts3d(const pc_align *ga, int k, float *pts /* (H_k*W_k*3) */);
void pc_align_pw_pose(const pc_align *ga, int e, float c2w_scaled[16]);
float pc_align_pw_scale(const pc_align *ga, int e);
/* Per-view max confidence over the edges (dust3r: im_conf). */
const float *pc_align_im_conf(const pc_align *ga, int k);

/* ---- PairViewer (exactly two views, symmetrized edges (0,1),(1,0)) -------- */
typedef struct pc_align_result {
    int n_views;
    float (*c2w)[16];  /* (N, 16) */
    float *focals;     /* (N) */
    float (*pp)[2];    /* (N, 2) */
    float **depth;     /* N x (H_k*W_k) */
} pc_align_result;

pc_status pc_align_pairviewer(pc_align_result *res, const pc_align_input *in, const pc_align_opts *opts,
                              pc_error *err);
/* Fill a result from an optimised pc_align. */
pc_status pc_align_get_result(pc_align_result *res, const pc_align *ga, pc_error *err);
void pc_align_result_free(pc_align_result *res);

/* PnP-RANSAC used by the MST init and PairViewer (stands in for cv2.solvePnPRansac(SQPNP)): pc_abspose_estimate
 * (LO-RANSAC over P3P, posecrafter/geometry.h) with `iters` samples, square pixels of focal f, principal point
 * (cx, cy). X (n,3) world points, uv (n,2) pixels. Output world-to-camera R (row-major), t. Returns the inlier
 * count (reprojection error < thr px), 0 on failure. */
int pc_align_pnp_ransac(double R[9], double t[3], const float *X, const float *uv, int64_t n, double f, double cx,
                        double cy, int iters, double thr, uint64_t seed);

/* Relative pose A->B from two camera-to-world poses: X_B = R X_A + t. */
void pc_align_relative_pose(float R[9], float t[3], const float c2w_a[16], const float c2w_b[16]);

/* ---- writers ----------------------------------------------------------------
 * cameras.json: [{"file", "cam2world" (4x4), "fx", "fy", "cx", "cy", "width", "height"}] per view.
 * COLMAP text model in dir: cameras.txt (PINHOLE), images.txt (IMAGE_ID = 1..N, world-to-camera qvec/tvec),
 * points3D.txt (merged points). PLY: merged point cloud.
 * Merged cloud: world points of every view's pixels with im_conf > min_conf_thr (or every pixel when masks
 * is NULL). names (N) are the image file names; rgb (N x H*W*3 u8) may be NULL. */
pc_status pc_align_write_cameras_json(const char *path, const pc_align_result *res, const int *heights,
                                      const int *widths, const char *const *names, pc_error *err);
pc_status pc_align_write_colmap(const char *dir, const pc_align_result *res, const int *heights,
                                const int *widths, const char *const *names, const float *const *pts,
                                const uint8_t *const *rgb, const uint8_t *const *masks, pc_error *err);
/* World points of every view from a result (N x H*W*3), owned by the caller (free each, then the array). */
pc_status pc_align_result_pts3d(float ***pts, const pc_align_result *res, const int *heights, const int *widths,
                                pc_error *err);
/* Merge masked points (and colours) into one buffer and save a PLY. */
pc_status pc_align_write_ply(const char *path, int n_views, const int *heights, const int *widths,
                             const float *const *pts, const uint8_t *const *rgb, const uint8_t *const *masks,
                             pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
