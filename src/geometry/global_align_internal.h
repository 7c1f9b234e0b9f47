// Internal pieces shared by global_align*.c and pnp.c (dust3r/cloud_opt).
#ifndef PC_GEOMETRY_GLOBAL_ALIGN_INTERNAL_H
#define PC_GEOMETRY_GLOBAL_ALIGN_INTERNAL_H

#include <stdint.h>
#include "posecrafter/align.h"

struct pc_align {
    int N, E;
    int *H, *W;          // (N)
    int64_t *hw;         // (N) H*W
    pc_align_edge *edges; // (E) copy of the input descriptors (arrays borrowed)
    pc_align_opts o;
    pc_pool *pool;
    int nth;
    int simd;            // 1: AVX2+FMA edge kernel
    float **w_i, **w_j;  // (E) x (HW) log-confidence weights (dust3r: _weight_i/_weight_j)
    float **im_conf;     // (N) x (HW)
    double total_area_i, total_area_j;

    // parameters, flat: pw_poses (E,8) | im_poses (N,7) | depth maps (sum HW) | focals (N)
    size_t np;
    size_t off_pw, off_im, off_dm, off_f;
    size_t *dm_off;      // (N) offset of view k's depth map inside the depth block
    float *P, *G, *M1, *M2; // params, grads, Adam moments
    int adam_t;
    float *pp;           // (N,2) principal points (W/2, H/2)

    // scratch
    float **X;           // (N) x (HW,3) world points of the current params
    float **gX;          // (N) x (HW,3) dL/dX
    double *part;        // (nth, part_stride) per-thread partial sums
    size_t part_stride;
};

// One edge side: loss sum of w |X - A pred| over pixels [b, e) and, with_grad, dL/dX += and dL/dA -= (12 sums,
// row r of (sR | sT) at r*4 + c). X, gX: 3 SoA planes of stride hw; pred (hw, 3); A = sR (9, row-major) | sT (3).
typedef double (*pc_ga_edge_fn)(const float *X, float *gX, int64_t hw, const float *pred, const float *w,
                                const float *A, int64_t b, int64_t e, float scale, int with_grad, double *gA);
double pc_ga_edge_side_ref(const float *X, float *gX, int64_t hw, const float *pred, const float *w, const float *A,
                           int64_t b, int64_t e, float scale, int with_grad, double *gA);
double pc_ga_edge_side_avx2(const float *X, float *gX, int64_t hw, const float *pred, const float *w, const float *A,
                            int64_t b, int64_t e, float scale, int with_grad, double *gA);

// Weighted Umeyama with scale, in double (roma: rigid_points_registration):
// find s, R, T minimising sum w |y - (s R x + T)|^2. x, y (n,3), w (n) or NULL.
int pc_ga_register(double R[9], double T[3], double *s, const float *x, const float *y, const float *w, int64_t n);
// dust3r: estimate_focal_knowing_depth(focal_mode='weiszfeld') for one (H,W,3) pointmap.
double pc_ga_estimate_focal(const float *pts, int H, int W, double ppx, double ppy, double min_focal,
                            double max_focal);
// roma: rotmat_to_unitquat (SciPy branch scheme, no sign canonicalisation). q XYZW.
void pc_ga_rotmat_to_quat(double q[4], const double R[9]);
// 3x3 SVD A = U diag(S) V^T (S >= 0 descending), det(U) = det(V) = +1, with the sign of the
// smallest singular value carrying det(A) (S[2] may be negative): the "special" SVD.
void pc_ga_svd3_special(double U[9], double S[3], double V[9], const double A[9]);

// PnP-RANSAC (our own: Grunert P3P minimal solver + RANSAC + Gauss-Newton refinement on inliers).
// world points X (n,3), pixels uv (n,2), pinhole focal f, principal point (cx, cy).
// Output: world-to-camera R, t. Returns the inlier count (0 on failure).
int pc_ga_pnp_ransac(double R[9], double t[3], const float *X, const float *uv, int64_t n, double f, double cx,
                  double cy, int iters, double reproj_thr, uint64_t seed);
// P3P: bearing vectors fb (3,3) (unit rows), world points Xw (3,3). Up to 4 solutions (R, t world->cam).
int pc_ga_p3p(double Rs[4][9], double ts[4][3], const double fb[9], const double Xw[9]);

#endif
