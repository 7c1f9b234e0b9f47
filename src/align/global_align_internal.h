// Internal pieces shared by the global alignment files in src/align (dust3r/cloud_opt).
#ifndef PC_GEOMETRY_GLOBAL_ALIGN_INTERNAL_H
#define PC_GEOMETRY_GLOBAL_ALIGN_INTERNAL_H

#include <stdint.h>
#include "geometry/linalg.h"
#include "posecrafter/align.h"

struct pc_align {
    int N, E;
    int *H, *W;          // (N)
    int64_t *hw;         // (N) H*W
    int64_t *hwp;        // (N) hw rounded up to PC_GA_BLK: plane stride of X, gX, D
    pc_align_edge *edges; // (E) copy of the input descriptors (arrays borrowed)
    pc_align_opts o;
    pc_pool *pool;
    int nth;
    int simd;            // 0: plain reference, 1: AVX2+FMA, 2: AVX-512 edge kernel
    float **im_conf;     // (N) x (HW)
    double total_area_i, total_area_j;

    // Edge data, fused and laid out in the order phase_edges reads it (one linear stream per worker):
    // view k -> tile t (PC_GA_TILE pixels) -> every edge side on view k (vs order) -> blocks of PC_GA_BLK
    // pixels, each block = pred x[16] | y[16] | z[16] | w[16] (w = log conf; 0 in padding lanes).
    // Offset of (k, t, side s): F_off[k] + (t * TILE_BLKS * nside_k + s * nblk(t)) * PC_GA_BLK * 4.
    float *F;
    size_t *F_off;       // (N)
    int *vs_off;         // (N+1) view k's edge sides are vs[vs_off[k] .. vs_off[k+1])
    int *vs;             // (2E) e * 2 + side (0: i, 1: j), in edge order

    // parameters, flat: pw_poses (E,8) | im_poses (N,7) | depth maps (sum HW) | focals (N)
    size_t np;
    size_t off_pw, off_im, off_dm, off_f;
    size_t *dm_off;      // (N) offset of view k's depth map inside the depth block
    float *P, *G, *M1, *M2; // params, grads, Adam moments
    int adam_t;
    float *pp;           // (N,2) principal points: (W/2, H/2), or the user's (pc_align_intrinsics)
    unsigned char *f_fixed; // (N) 1: focal preset by the user, never optimised nor overwritten by the init

    // scratch (allocated once at create: nothing is allocated per iteration)
    float **X;           // (N) x (3, hwp) world points of the current params, SoA planes
    float **gX;          // (N) x (3, hwp) dL/dX
    float **D;           // (N) x (hwp) exp(depth param) of the current params
    float *cam_f;        // (N*13 + E*12) per-iteration camera quantities (loss_ctx)
    double *cam_d;       // (E*21 + N*17 + E) pose helpers in double
    double *part;        // (nth, part_stride) per-thread partial sums
    size_t part_stride;
};

#define PC_GA_BLK 16                  // pixels per block of the fused edge layout
#define PC_GA_TILE 1024               // pixels per tile (X, dL/dX of a tile stay in L1/L2)
#define PC_GA_TILE_BLKS (PC_GA_TILE / PC_GA_BLK)

// One edge side on nblk blocks (nblk * 16 pixels) of fused data F: loss sum of w |X - A pred| and, with_grad,
// dL/dX += (with_grad = 1) or = (with_grad = 2: the tile's first edge side, so dL/dX needs no zeroing pass)
// and dL/dA -= (12 sums, row r of (sR | sT) at r*4 + c). X, gX: 3 SoA planes of stride `stride`, pointing at
// the first pixel; A = sR (9, row-major) | sT (3). Padding lanes (w = 0, pred = 0) contribute nothing.
typedef double (*pc_ga_edge_fn)(const float *X, float *gX, int64_t stride, const float *F, const float *A,
                                int64_t nblk, float scale, int with_grad, double *gA);
double pc_ga_edge_side_ref(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                           float scale, int with_grad, double *gA);
// The fast twins, written once in global_align_vec.h: _v8 (AVX2+FMA) and _v16 (AVX-512). views_row and exp
// only in the 16-lane build.
double pc_ga_edge_side_v8(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                          float scale, int with_grad, double *gA);
double pc_ga_edge_side_v16(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                           float scale, int with_grad, double *gA);
// World points of one row segment of n pixels at u = u0 .., v; R row-major world-from-camera rotation.
void pc_ga_points_row_v8(float *X0, float *X1, float *X2, const float *D, int64_t n, int u0, float v, const float *R,
                         const float *T, float f, float cx, float cy);
void pc_ga_points_row_v16(float *X0, float *X1, float *X2, const float *D, int64_t n, int u0, float v, const float *R,
                          const float *T, float f, float cx, float cy);
void pc_ga_views_row_v16(float *gd, double *acc, const float *D, const float *gX0, const float *gX1, const float *gX2,
                         int64_t n, int u0, float v, const float *R, float f, float cx, float cy);
// y = exp(x), within 1 ulp of expf (measured).
void pc_ga_exp_v16(float *y, const float *x, int64_t n);
void pc_ga_adam_v8(float *P, float *M1, float *M2, const float *G, int64_t n, float b1, float b2, float step_size,
                   float bc2_sqrt);
void pc_ga_adam_v16(float *P, float *M1, float *M2, const float *G, int64_t n, float b1, float b2, float step_size,
                    float bc2_sqrt);

// Weighted Umeyama with scale, in double (roma: rigid_points_registration):
// find s, R, T minimising sum w |y - (s R x + T)|^2. x, y (n,3), w (n) or NULL.
int pc_ga_register(double R[9], double T[3], double *s, const float *x, const float *y, const float *w, int64_t n);
// dust3r fast_pnp's input: the pixels of a view (hw pixels, rows of W) with confidence above thr, as world
// points X (n, 3) taken from pts (hw, 3) and pixel coordinates uv (n, 2). X, uv: malloc'd (NULL when none).
// Returns n, or -1 when out of memory.
int64_t pc_ga_confident_points(float **X, float **uv, const float *pts, const float *conf, int64_t hw, int W,
                               float thr);
// dust3r: estimate_focal_knowing_depth(focal_mode='weiszfeld') for one (H,W,3) pointmap.
double pc_ga_estimate_focal(const float *pts, int H, int W, double ppx, double ppy, double min_focal,
                            double max_focal);

#endif
