// DUSt3R global alignment: the PointCloudOptimizer (dust3r/cloud_opt/optimizer.py, base_opt.py).
//
// Loss (dust3r: PointCloudOptimizer.forward, dist='l1', conf='log'):
//   L = sum_e sum_p log(conf_i) |X_i[p] - A_e pred_i[p]| / sum_e H_i W_i  +  (same for the j side)
// X_k[p] = R_k (d (u-cx)/f, d (v-cy)/f, d) + T_k with d = exp(depth param), f = exp(param/20);
// A_e = s_e [R_e | T_e]. Gradients are derived by hand (see pc_align_loss) and reproduce PyTorch
// autograd, including its zero derivative of sign(x)*expm1(|x|) at x = 0 (the frozen root camera).
//
// Threading: every view's tiles (PC_GA_TILE pixels) are split into nth contiguous pieces; worker t handles piece
// t of every view for every edge, so dL/dX needs no locks, and per-worker partial sums are reduced in
// worker order: deterministic for a fixed thread count.
// Speed: the per-edge data (pred xyz + log-conf weight) is copied once at create into one fused fp32 array in
// exactly the order the edge pass reads it (global_align_internal.h), so each iteration streams it linearly
// (16 B per pixel per edge side); world points and depths are computed once per view per iteration; all
// per-iteration scratch is allocated at create. Kernels: plain reference here, AVX2 and AVX-512 twins.
#include "align/global_align_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/cpu.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void pc_align_opts_default(pc_align_opts *o) {
    memset(o, 0, sizeof(*o));
    o->niter = 300;
    o->lr = 0.01;
    o->lr_min = 1e-6;
    o->schedule = PC_ALIGN_COSINE;
    o->min_conf_thr = 3.0f;
    o->base_scale = 0.5f;
    o->pw_break = 20.0f;
    o->focal_break = 20.0f;
    o->niter_pnp = 10;
    o->seed = 0;
}

// ---- small pose helpers --------------------------------------------------------


static double signed_expm1(double x) { return x > 0 ? expm1(x) : (x < 0 ? -expm1(-x) : 0.0); }
static double signed_log1p(double x) { return x > 0 ? log1p(x) : (x < 0 ? -log1p(-x) : 0.0); }
// d/dx of sign(x)*expm1(|x|) as PyTorch autograd computes it: 0 at x == 0.
static double signed_expm1_grad(double x) { return x != 0 ? exp(fabs(x)) : 0.0; }

// dust3r: BasePCOptimizer._get_poses on one (q, t') -> R, T; also returns n = q/|q| and |q|.
static void pose_from_param(double R[9], double T[3], double n[4], double *qnorm, const float *p) {
    double q[4] = {p[0], p[1], p[2], p[3]};
    double nq = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int c = 0; c < 4; c++) n[c] = nq > 0 ? q[c] / nq : 0;
    pc_quat_to_rot_roma(R, n);
    for (int c = 0; c < 3; c++) T[c] = signed_expm1(p[4 + c]);
    if (qnorm) *qnorm = nq;
}

// dL/dq from dL/dn for n = q/|q|.
static void normalize_backward(double gq[4], const double n[4], double nq, const double gn[4]) {
    double dot = n[0] * gn[0] + n[1] * gn[1] + n[2] * gn[2] + n[3] * gn[3];
    for (int c = 0; c < 4; c++) gq[c] = nq > 0 ? (gn[c] - n[c] * dot) / nq : 0;
}

static double pw_norm_factor(const pc_align *ga) {
    // dust3r: get_pw_norm_scale_factor = exp(log(base_scale) - mean(log s)), in float32 as upstream
    float mean = 0;
    double acc = 0;
    for (int e = 0; e < ga->E; e++) acc += ga->P[ga->off_pw + (size_t)e * 8 + 7];
    mean = (float)(acc / ga->E);
    return (double)expf((float)log((double)ga->o.base_scale) - mean);
}

// ---- create / free -------------------------------------------------------------

void pc_align_free(pc_align *ga) {
    if (!ga) return;
    for (int k = 0; k < ga->N; k++) {
        if (ga->im_conf) free(ga->im_conf[k]);
        if (ga->X) free(ga->X[k]);
        if (ga->gX) free(ga->gX[k]);
        if (ga->D) free(ga->D[k]);
    }
    free(ga->im_conf);
    free(ga->X);
    free(ga->gX);
    free(ga->D);
    free(ga->F);
    free(ga->F_off);
    free(ga->vs_off);
    free(ga->vs);
    free(ga->H);
    free(ga->W);
    free(ga->hw);
    free(ga->hwp);
    free(ga->edges);
    free(ga->dm_off);
    free(ga->P);
    free(ga->G);
    free(ga->M1);
    free(ga->M2);
    free(ga->pp);
    free(ga->f_fixed);
    free(ga->cam_f);
    free(ga->cam_d);
    free(ga->part);
    free(ga);
}

// 64-byte aligned, zero-filled; n counts floats.
static float *falloc_zero(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = (float *)aligned_alloc(64, bytes ? bytes : 64);
    if (p) memset(p, 0, bytes);
    return p;
}

static int best_simd(void) { return pc_cpu_has_avx512f() ? 2 : (pc_cpu_has_avx2_fma() ? 1 : 0); }

pc_status pc_align_create(pc_align **out, const pc_align_input *in, const pc_align_opts *opts, pc_pool *pool,
                          pc_error *err) {
    *out = NULL;
    if (!in || in->n_views < 1 || in->n_views > 100000 || in->n_edges < 1 || in->n_edges > 10000000 ||
        !in->heights || !in->widths || !in->edges)
        return pc_err(err, PC_ERR_ARG, "align: need >= 1 view and >= 1 edge (got %d views, %d edges)",
                      in ? in->n_views : 0, in ? in->n_edges : 0);
    int N = in->n_views, E = in->n_edges;
    for (int k = 0; k < N; k++)
        if (in->heights[k] < 1 || in->widths[k] < 1 || in->heights[k] > 65536 || in->widths[k] > 65536)
            return pc_err(err, PC_ERR_ARG, "align: view %d has bad size %dx%d", k, in->heights[k], in->widths[k]);
    for (int e = 0; e < E; e++) {
        const pc_align_edge *ed = &in->edges[e];
        if (ed->i < 0 || ed->i >= N || ed->j < 0 || ed->j >= N || ed->i == ed->j)
            return pc_err(err, PC_ERR_ARG, "align: edge %d = (%d, %d) is invalid for %d views", e, ed->i, ed->j, N);
        if (!ed->pts_i || !ed->pts_j || !ed->conf_i || !ed->conf_j)
            return pc_err(err, PC_ERR_ARG, "align: edge %d has a NULL array", e);
    }
    pc_align *ga = (pc_align *)calloc(1, sizeof(*ga));
    if (!ga) return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
    ga->N = N;
    ga->E = E;
    if (opts) ga->o = *opts;
    else pc_align_opts_default(&ga->o);
    ga->pool = pool;
    ga->nth = pc_pool_size(pool);
    ga->simd = best_simd();
    ga->H = (int *)calloc((size_t)N, sizeof(int));
    ga->W = (int *)calloc((size_t)N, sizeof(int));
    ga->hw = (int64_t *)calloc((size_t)N, sizeof(int64_t));
    ga->hwp = (int64_t *)calloc((size_t)N, sizeof(int64_t));
    ga->dm_off = (size_t *)calloc((size_t)N, sizeof(size_t));
    ga->edges = (pc_align_edge *)calloc((size_t)E, sizeof(pc_align_edge));
    ga->im_conf = (float **)calloc((size_t)N, sizeof(float *));
    ga->X = (float **)calloc((size_t)N, sizeof(float *));
    ga->gX = (float **)calloc((size_t)N, sizeof(float *));
    ga->D = (float **)calloc((size_t)N, sizeof(float *));
    ga->pp = (float *)calloc((size_t)N * 2, sizeof(float));
    ga->f_fixed = (unsigned char *)calloc((size_t)N, 1);
    ga->F_off = (size_t *)calloc((size_t)N, sizeof(size_t));
    ga->vs_off = (int *)calloc((size_t)N + 1, sizeof(int));
    ga->vs = (int *)calloc((size_t)E * 2, sizeof(int));
    ga->cam_f = (float *)calloc((size_t)N * 13 + (size_t)E * 12, sizeof(float));
    ga->cam_d = (double *)calloc((size_t)E * 22 + (size_t)N * 17, sizeof(double));
    if (!ga->H || !ga->W || !ga->hw || !ga->hwp || !ga->dm_off || !ga->edges || !ga->im_conf || !ga->X ||
        !ga->gX || !ga->D || !ga->pp || !ga->f_fixed || !ga->F_off || !ga->vs_off || !ga->vs || !ga->cam_f || !ga->cam_d)
        goto oom;
    size_t total_hw = 0;
    for (int k = 0; k < N; k++) {
        ga->H[k] = in->heights[k];
        ga->W[k] = in->widths[k];
        ga->hw[k] = (int64_t)ga->H[k] * ga->W[k];
        ga->hwp[k] = (ga->hw[k] + PC_GA_BLK - 1) / PC_GA_BLK * PC_GA_BLK;
        ga->dm_off[k] = total_hw;
        total_hw += (size_t)ga->hw[k];
        ga->pp[2 * k] = (float)(ga->W[k] / 2.0);
        ga->pp[2 * k + 1] = (float)(ga->H[k] / 2.0);
        ga->im_conf[k] = (float *)calloc((size_t)ga->hw[k], sizeof(float));
        ga->X[k] = falloc_zero((size_t)ga->hwp[k] * 3);
        ga->gX[k] = falloc_zero((size_t)ga->hwp[k] * 3);
        ga->D[k] = falloc_zero((size_t)ga->hwp[k]);
        if (!ga->im_conf[k] || !ga->X[k] || !ga->gX[k] || !ga->D[k]) goto oom;
    }
    // edge sides per view, in edge order (i side before j side: the order the sums were always taken in)
    for (int e = 0; e < E; e++) ga->edges[e] = in->edges[e];
    {
        int q = 0;
        for (int k = 0; k < N; k++) {
            ga->vs_off[k] = q;
            for (int e = 0; e < E; e++) {
                if (ga->edges[e].i == k) ga->vs[q++] = e * 2;
                if (ga->edges[e].j == k) ga->vs[q++] = e * 2 + 1;
            }
        }
        ga->vs_off[N] = q;
    }
    size_t nF = 0;
    for (int k = 0; k < N; k++) {
        ga->F_off[k] = nF;
        nF += (size_t)(ga->vs_off[k + 1] - ga->vs_off[k]) * (size_t)(ga->hwp[k] / PC_GA_BLK) * PC_GA_BLK * 4;
    }
    // not zero-filled: the fill below writes every element (padding lanes explicitly)
    ga->F = (float *)aligned_alloc(64, (nF * sizeof(float) + 63) / 64 * 64 + 64);
    if (!ga->F) goto oom;
    ga->total_area_i = ga->total_area_j = 0;
    for (int e = 0; e < E; e++) {
        ga->total_area_i += (double)ga->hw[ga->edges[e].i];
        ga->total_area_j += (double)ga->hw[ga->edges[e].j];
    }
    // fill F in its own (linear) order: view -> tile -> side -> pixel
    for (int k = 0; k < N; k++) {
        int nside = ga->vs_off[k + 1] - ga->vs_off[k];
        int64_t hw = ga->hw[k], ntile = (hw + PC_GA_TILE - 1) / PC_GA_TILE;
        float *blk0 = ga->F + ga->F_off[k];
        for (int64_t t = 0; t < ntile; t++) {
            int64_t p0 = t * PC_GA_TILE, p1 = PC_MIN(hw, p0 + PC_GA_TILE);
            int64_t nb = (p1 - p0 + PC_GA_BLK - 1) / PC_GA_BLK;
            for (int s = 0; s < nside; s++) {
                int e = ga->vs[ga->vs_off[k] + s] >> 1, side = ga->vs[ga->vs_off[k] + s] & 1;
                const float *pred = side ? ga->edges[e].pts_j : ga->edges[e].pts_i;
                const float *conf = side ? ga->edges[e].conf_j : ga->edges[e].conf_i;
                float *im_conf = ga->im_conf[k];
                memset(blk0 + (nb - 1) * PC_GA_BLK * 4, 0, PC_GA_BLK * 4 * sizeof(float)); // padding lanes: 0
                for (int64_t p = p0; p < p1; p++) {
                    float *blk = blk0 + ((p - p0) / PC_GA_BLK) * PC_GA_BLK * 4;
                    int l = (int)((p - p0) % PC_GA_BLK);
                    float c = conf[p];
                    blk[l] = pred[p * 3];
                    blk[PC_GA_BLK + l] = pred[p * 3 + 1];
                    blk[2 * PC_GA_BLK + l] = pred[p * 3 + 2];
                    blk[3 * PC_GA_BLK + l] = logf(c); // dust3r: _weight_i/_weight_j (conf_trf 'log')
                    // dust3r: _compute_img_conf (im_conf starts at zeros, torch.maximum)
                    if (c > im_conf[p] || c != c) im_conf[p] = c;
                }
                blk0 += nb * PC_GA_BLK * 4;
            }
        }
    }
    ga->off_pw = 0;
    ga->off_im = (size_t)E * 8;
    ga->off_dm = ga->off_im + (size_t)N * 7;
    ga->off_f = ga->off_dm + total_hw;
    ga->np = ga->off_f + (size_t)N;
    ga->P = (float *)calloc(ga->np, sizeof(float));
    ga->G = (float *)calloc(ga->np, sizeof(float));
    ga->M1 = (float *)calloc(ga->np, sizeof(float));
    ga->M2 = (float *)calloc(ga->np, sizeof(float));
    ga->part_stride = (size_t)E * 12 + (size_t)N * 14 + 2;
    ga->part = (double *)calloc((size_t)ga->nth * ga->part_stride, sizeof(double));
    if (!ga->P || !ga->G || !ga->M1 || !ga->M2 || !ga->part) goto oom;
    // Neutral start (upstream draws random values that the MST init overwrites): identity poses,
    // unit scales, depth 1, focal = max(H, W).
    for (int e = 0; e < E; e++) ga->P[ga->off_pw + (size_t)e * 8 + 3] = 1;
    for (int k = 0; k < N; k++) {
        ga->P[ga->off_im + (size_t)k * 7 + 3] = 1;
        ga->P[ga->off_f + k] = ga->o.focal_break * logf((float)PC_MAX(ga->H[k], ga->W[k]));
    }
    for (int k = 0; in->intrinsics && k < N; k++) {
        const pc_align_intrinsics *K = &in->intrinsics[k];
        if (!K->known) continue;
        if (!(K->f > 0 && isfinite(K->f) && isfinite(K->cx) && isfinite(K->cy))) {
            pc_align_free(ga);
            return pc_err(err, PC_ERR_ARG, "align: known intrinsics of view %d are invalid (f %g, pp %g, %g)", k, K->f,
                          K->cx, K->cy);
        }
        // dust3r: _set_focal (focal_break * log f) and _set_principal_point, then requires_grad_(False)
        ga->P[ga->off_f + k] = ga->o.focal_break * (float)log(K->f);
        ga->pp[2 * k] = (float)K->cx;
        ga->pp[2 * k + 1] = (float)K->cy;
        ga->f_fixed[k] = 1;
    }
    *out = ga;
    return PC_OK;
oom:
    pc_align_free(ga);
    return pc_err(err, PC_ERR_MEMORY, "align: out of memory (%d views, %d edges)", N, E);
}

int pc_align_n_views(const pc_align *ga) { return ga->N; }
int pc_align_n_edges(const pc_align *ga) { return ga->E; }
const float *pc_align_im_conf(const pc_align *ga, int k) { return ga->im_conf[k]; }

float *pc_align_params(pc_align *ga, pc_align_param which, int64_t *count) {
    return pc_align_grads(ga, which, count) - ga->G + ga->P;
}

float *pc_align_grads(pc_align *ga, pc_align_param which, int64_t *count) {
    size_t off = 0, n = 0;
    switch (which) {
    case PC_ALIGN_PW_POSES: off = ga->off_pw; n = (size_t)ga->E * 8; break;
    case PC_ALIGN_IM_POSES: off = ga->off_im; n = (size_t)ga->N * 7; break;
    case PC_ALIGN_IM_DEPTHMAPS: off = ga->off_dm; n = ga->off_f - ga->off_dm; break;
    case PC_ALIGN_IM_FOCALS: off = ga->off_f; n = (size_t)ga->N; break;
    }
    if (count) *count = (int64_t)n;
    return ga->G + off;
}

float *pc_align_depth_param(pc_align *ga, int k) { return ga->P + ga->off_dm + ga->dm_off[k]; }

// ---- derived quantities ------------------------------------------------------------

void pc_align_cam2world(const pc_align *ga, int k, float c2w[16]) {
    double R[9], T[3], n[4];
    pose_from_param(R, T, n, NULL, ga->P + ga->off_im + (size_t)k * 7);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) c2w[r * 4 + c] = (float)R[r * 3 + c];
        c2w[r * 4 + 3] = (float)T[r];
    }
    c2w[12] = c2w[13] = c2w[14] = 0;
    c2w[15] = 1;
}

float pc_align_focal(const pc_align *ga, int k) { return expf(ga->P[ga->off_f + k] / ga->o.focal_break); }

void pc_align_pp(const pc_align *ga, int k, float pp[2]) {
    pp[0] = ga->pp[2 * k];
    pp[1] = ga->pp[2 * k + 1];
}

void pc_align_depthmap(const pc_align *ga, int k, float *depth) {
    const float *p = ga->P + ga->off_dm + ga->dm_off[k];
    for (int64_t i = 0; i < ga->hw[k]; i++) depth[i] = expf(p[i]);
}

void pc_align_pts3d(const pc_align *ga, int k, float *pts) {
    float c2w[16];
    pc_align_cam2world(ga, k, c2w);
    float f = pc_align_focal(ga, k), cx = ga->pp[2 * k], cy = ga->pp[2 * k + 1];
    const float *p = ga->P + ga->off_dm + ga->dm_off[k];
    int W = ga->W[k];
    for (int64_t i = 0; i < ga->hw[k]; i++) {
        float d = expf(p[i]);
        float xc = d * ((float)(i % W) - cx) / f, yc = d * ((float)(i / W) - cy) / f, zc = d;
        for (int r = 0; r < 3; r++)
            pts[i * 3 + r] = c2w[r * 4] * xc + c2w[r * 4 + 1] * yc + c2w[r * 4 + 2] * zc + c2w[r * 4 + 3];
    }
}

float pc_align_pw_scale(const pc_align *ga, int e) {
    return expf(ga->P[ga->off_pw + (size_t)e * 8 + 7]) * (float)pw_norm_factor(ga);
}

void pc_align_pw_pose(const pc_align *ga, int e, float c2w[16]) {
    double R[9], T[3], n[4];
    pose_from_param(R, T, n, NULL, ga->P + ga->off_pw + (size_t)e * 8);
    float s = pc_align_pw_scale(ga, e);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) c2w[r * 4 + c] = s * (float)R[r * 3 + c];
        c2w[r * 4 + 3] = s * (float)T[r];
    }
    c2w[12] = c2w[13] = c2w[14] = 0;
    c2w[15] = 1;
}

// ---- loss and gradient -----------------------------------------------------------------

typedef struct {
    pc_align *ga;
    float *im_R;   // (N, 9) float rotations
    float *im_T;   // (N, 3)
    float *im_f;   // (N)
    float *pw_A;   // (E, 12) s R | s T
    int with_grad;
    float inv_area_i, inv_area_j;
} loss_ctx;

// This worker's pixel range of view k: whole tiles, split in worker order.
static void worker_range(const pc_align *ga, int k, int ith, int nth, int64_t *b, int64_t *e) {
    int64_t ntile = (ga->hw[k] + PC_GA_TILE - 1) / PC_GA_TILE, tb, te;
    pc_split_range(ntile, ith, nth, &tb, &te);
    *b = PC_MIN(ga->hw[k], tb * PC_GA_TILE);
    *e = PC_MIN(ga->hw[k], te * PC_GA_TILE);
}

// One row segment of n pixels (u = u0 .. u0+n-1, row v): world points from the depths D (dust3r: depth_to_pts3d).
static void points_row_ref(float *X0, float *X1, float *X2, const float *D, int64_t n, int u0, float v,
                           const float *R, const float *T, float f, float cx, float cy) {
    for (int64_t i = 0; i < n; i++) {
        float d = D[i], u = (float)(u0 + (int)i);
        float xc = d * (u - cx) / f, yc = d * (v - cy) / f, zc = d;
        X0[i] = R[0] * xc + R[1] * yc + R[2] * zc + T[0];
        X1[i] = R[3] * xc + R[4] * yc + R[5] * zc + T[1];
        X2[i] = R[6] * xc + R[7] * yc + R[8] * zc + T[2];
    }
}

// Phase A: world points of every view, and zero dL/dX.
static void phase_points(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    for (int k = 0; k < ga->N; k++) {
        int64_t b, e;
        worker_range(ga, k, ith, nth, &b, &e);
        const float *R = c->im_R + k * 9, *T = c->im_T + k * 3;
        float f = c->im_f[k], cx = ga->pp[2 * k], cy = ga->pp[2 * k + 1];
        const float *dp = ga->P + ga->off_dm + ga->dm_off[k];
        int64_t hwp = ga->hwp[k];
        float *X0 = ga->X[k], *X1 = X0 + hwp, *X2 = X1 + hwp; // SoA planes
        float *D = ga->D[k];
        int W = ga->W[k];
        // depths, kept for phase_views
        if (ga->simd == 2) pc_ga_exp_v16(D + b, dp + b, e - b);
        else
            for (int64_t p = b; p < e; p++) D[p] = expf(dp[p]);
        for (int64_t p = b; p < e;) {
            int u0 = (int)(p % W);
            int64_t n = PC_MIN(e - p, (int64_t)(W - u0));
            float v = (float)(p / W);
            if (ga->simd == 2) pc_ga_points_row_v16(X0 + p, X1 + p, X2 + p, D + p, n, u0, v, R, T, f, cx, cy);
            else if (ga->simd == 1) pc_ga_points_row_v8(X0 + p, X1 + p, X2 + p, D + p, n, u0, v, R, T, f, cx, cy);
            else points_row_ref(X0 + p, X1 + p, X2 + p, D + p, n, u0, v, R, T, f, cx, cy);
            p += n;
        }
        // dL/dX: the first edge side of each tile overwrites it (with_grad = 2); a view without edges needs zeros
        if (c->with_grad && ga->vs_off[k + 1] == ga->vs_off[k])
            for (int q = 0; q < 3; q++) memset(ga->gX[k] + q * hwp + b, 0, (size_t)(e - b) * sizeof(float));
    }
}

// One edge side on nblk fused blocks: residuals against X, loss sum, dL/dX and dL/dA (12 sums).
// Plain reference; pc_ga_edge_side_v8 / _v16 (global_align_vec.h) are the fast twins.
double pc_ga_edge_side_ref(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                           float scale, int with_grad, double *gA) {
    const float a0 = A[0], a1 = A[1], a2 = A[2], a3 = A[3], a4 = A[4], a5 = A[5];
    const float a6 = A[6], a7 = A[7], a8 = A[8], b0 = A[9], b1 = A[10], b2 = A[11];
    const float *X0 = X, *X1 = X + stride, *X2 = X + 2 * stride;
    float *G0 = gX, *G1 = gX + stride, *G2 = gX + 2 * stride;
    const int64_t n = nblk * PC_GA_BLK;
#define PRED_(p, c) F[((p) / PC_GA_BLK) * PC_GA_BLK * 4 + (c) * PC_GA_BLK + (p) % PC_GA_BLK]
    double loss = 0;
    if (!with_grad) {
        for (int64_t p = 0; p < n; p++) {
            float px = PRED_(p, 0), py = PRED_(p, 1), pz = PRED_(p, 2), wn = PRED_(p, 3);
            float rx = X0[p] - (a0 * px + a1 * py + a2 * pz + b0);
            float ry = X1[p] - (a3 * px + a4 * py + a5 * pz + b1);
            float rz = X2[p] - (a6 * px + a7 * py + a8 * pz + b2);
            loss += (double)(sqrtf(rx * rx + ry * ry + rz * rz) * wn);
        }
        return loss;
    }
    // float accumulators over blocks of 256 pixels, folded into double
    int64_t p = 0;
    while (p < n) {
        int64_t pe = PC_MIN(n, p + 256);
        float s[12] = {0};
        float ls = 0;
        for (; p < pe; p++) {
            float px = PRED_(p, 0), py = PRED_(p, 1), pz = PRED_(p, 2), wn = PRED_(p, 3);
            float rx = X0[p] - (a0 * px + a1 * py + a2 * pz + b0);
            float ry = X1[p] - (a3 * px + a4 * py + a5 * pz + b1);
            float rz = X2[p] - (a6 * px + a7 * py + a8 * pz + b2);
            float nrm = sqrtf(rx * rx + ry * ry + rz * rz);
            ls += nrm * wn;
            float g = nrm > 0 ? wn * scale / nrm : 0.0f;
            float gx = g * rx, gy = g * ry, gz = g * rz;
            if (with_grad == 2) G0[p] = gx, G1[p] = gy, G2[p] = gz;
            else G0[p] += gx, G1[p] += gy, G2[p] += gz;
            s[0] += gx * px; s[1] += gx * py; s[2] += gx * pz; s[3] += gx;
            s[4] += gy * px; s[5] += gy * py; s[6] += gy * pz; s[7] += gy;
            s[8] += gz * px; s[9] += gz * py; s[10] += gz * pz; s[11] += gz;
        }
        loss += ls;
        for (int k = 0; k < 12; k++) gA[k] -= s[k];
    }
#undef PRED_
    return loss;
}

// Phase B: residuals of every edge on this worker's tiles. Every edge side on the tile's view runs before the
// next tile, so X and dL/dX stay in cache, and the fused edge data is laid out in exactly this order: each
// worker reads one linear stream per view (the loop is bound by that stream).
static void phase_edges(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    double *part = ga->part + (size_t)ith * ga->part_stride;
    memset(part, 0, ga->part_stride * sizeof(double));
    pc_ga_edge_fn fn = ga->simd == 2 ? pc_ga_edge_side_v16 : ga->simd == 1 ? pc_ga_edge_side_v8 : pc_ga_edge_side_ref;
    double li = 0, lj = 0;
    for (int k = 0; k < ga->N; k++) {
        int64_t ntile = (ga->hw[k] + PC_GA_TILE - 1) / PC_GA_TILE, tb, te;
        pc_split_range(ntile, ith, nth, &tb, &te);
        int nside = ga->vs_off[k + 1] - ga->vs_off[k];
        const int *vs = ga->vs + ga->vs_off[k];
        int64_t nblk_all = ga->hwp[k] / PC_GA_BLK, hwp = ga->hwp[k];
        for (int64_t t = tb; t < te; t++) {
            int64_t nb = PC_MIN((int64_t)PC_GA_TILE_BLKS, nblk_all - t * PC_GA_TILE_BLKS);
            const float *Ft = ga->F + ga->F_off[k] + (size_t)(t * PC_GA_TILE_BLKS * nside) * PC_GA_BLK * 4;
            const float *Xt = ga->X[k] + t * PC_GA_TILE;
            float *gXt = ga->gX[k] + t * PC_GA_TILE;
            for (int s = 0; s < nside; s++) {
                int e = vs[s] >> 1, side = vs[s] & 1;
                const float *Fs = Ft + (size_t)(s * nb) * PC_GA_BLK * 4;
                double *gA = part + (size_t)e * 12; // rows of A = (sR | sT): index r*4 + c
                int wg = c->with_grad ? (s == 0 ? 2 : 1) : 0;
                if (side == 0)
                    li += fn(Xt, gXt, hwp, Fs, c->pw_A + e * 12, nb, c->inv_area_i, wg, gA);
                else
                    lj += fn(Xt, gXt, hwp, Fs, c->pw_A + e * 12, nb, c->inv_area_j, wg, gA);
            }
        }
    }
    double *pl = part + ga->part_stride - 2;
    pl[0] = li;
    pl[1] = lj;
}

// One row segment: dL/d(depth param) into gd (through X = R Xc + T, Xc = d (.., .., 1), d = exp(param)) and
// the per-view sums acc (13): dL/dR = gX Xc^T (9), dL/dT = gX (3), and sum (R^T gX)_xy Xc_xy for the focal.
static void views_row_ref(float *gd, double *acc, const float *D, const float *gX0, const float *gX1,
                          const float *gX2, int64_t n, int u0, float v, const float *R, float f, float cx, float cy) {
    int64_t i = 0;
    while (i < n) {
        int64_t ie = PC_MIN(n, i + 256);
        float s[13] = {0};
        for (; i < ie; i++) {
            float d = D[i], u = (float)(u0 + (int)i);
            float xc = d * (u - cx) / f, yc = d * (v - cy) / f, zc = d;
            float gx = gX0[i], gy = gX1[i], gz = gX2[i];
            // R^T gX
            float hx = R[0] * gx + R[3] * gy + R[6] * gz;
            float hy = R[1] * gx + R[4] * gy + R[7] * gz;
            float hz = R[2] * gx + R[5] * gy + R[8] * gz;
            gd[i] = hx * xc + hy * yc + hz * zc;
            s[0] += gx * xc; s[1] += gx * yc; s[2] += gx * zc;
            s[3] += gy * xc; s[4] += gy * yc; s[5] += gy * zc;
            s[6] += gz * xc; s[7] += gz * yc; s[8] += gz * zc;
            s[9] += gx; s[10] += gy; s[11] += gz;
            s[12] += hx * xc + hy * yc;
        }
        for (int q = 0; q < 13; q++) acc[q] += s[q];
    }
}

// Phase C: chain dL/dX to depth params (per pixel), and per-view sums for pose and focal.
static void phase_views(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    double *part = ga->part + (size_t)ith * ga->part_stride + (size_t)ga->E * 12;
    for (int k = 0; k < ga->N; k++) {
        int64_t b, e;
        worker_range(ga, k, ith, nth, &b, &e);
        const float *R = c->im_R + k * 9;
        float f = c->im_f[k], cx = ga->pp[2 * k], cy = ga->pp[2 * k + 1];
        const float *D = ga->D[k];
        float *gd = ga->G + ga->off_dm + ga->dm_off[k];
        int64_t hwp = ga->hwp[k];
        const float *gX0 = ga->gX[k], *gX1 = gX0 + hwp, *gX2 = gX1 + hwp;
        int W = ga->W[k];
        double *acc = part + (size_t)k * 14; // gR (9) | gT (3) | gfocal-sum (1) | spare
        memset(acc, 0, 14 * sizeof(double));
        for (int64_t p = b; p < e;) {
            int u0 = (int)(p % W);
            int64_t n = PC_MIN(e - p, (int64_t)(W - u0));
            float v = (float)(p / W);
            if (ga->simd == 2)
                pc_ga_views_row_v16(gd + p, acc, D + p, gX0 + p, gX1 + p, gX2 + p, n, u0, v, R, f, cx, cy);
            else views_row_ref(gd + p, acc, D + p, gX0 + p, gX1 + p, gX2 + p, n, u0, v, R, f, cx, cy);
            p += n;
        }
    }
}

double pc_align_loss(pc_align *ga, int with_grad) {
    int N = ga->N, E = ga->E;
    // per-iteration camera quantities: scratch allocated at create
    float *scr = ga->cam_f;    // (N*13 + E*12)
    double *pwR = ga->cam_d;   // (E, 21): R | T | n | |q| | s
    double *imR = pwR + (size_t)E * 21; // (N, 17): R | T | n | |q|
    double *gs = imR + (size_t)N * 17;  // (E)
    loss_ctx c;
    c.ga = ga;
    c.im_R = scr;
    c.im_T = scr + (size_t)N * 9;
    c.im_f = scr + (size_t)N * 12;
    c.pw_A = scr + (size_t)N * 13;
    c.with_grad = with_grad;
    c.inv_area_i = (float)(1.0 / ga->total_area_i);
    c.inv_area_j = (float)(1.0 / ga->total_area_j);
    for (int k = 0; k < N; k++) {
        double *R = imR + (size_t)k * 17, *T = R + 9, *n = R + 12;
        pose_from_param(R, T, n, &R[16], ga->P + ga->off_im + (size_t)k * 7);
        for (int q = 0; q < 9; q++) c.im_R[k * 9 + q] = (float)R[q];
        for (int q = 0; q < 3; q++) c.im_T[k * 3 + q] = (float)T[q];
        c.im_f[k] = expf(ga->P[ga->off_f + k] / ga->o.focal_break);
    }
    double nf = pw_norm_factor(ga);
    for (int e = 0; e < E; e++) {
        double *R = pwR + (size_t)e * 21, *T = R + 9, *n = R + 12, *s = R + 17;
        const float *pp = ga->P + ga->off_pw + (size_t)e * 8;
        pose_from_param(R, T, n, &R[16], pp);
        float sf = expf(pp[7]) * (float)nf;
        s[0] = sf;
        for (int r = 0; r < 3; r++) {
            for (int q = 0; q < 3; q++) c.pw_A[e * 12 + r * 3 + q] = sf * (float)R[r * 3 + q];
            c.pw_A[e * 12 + 9 + r] = sf * (float)T[r];
        }
    }
    pc_pool_run(ga->pool, phase_points, &c);
    pc_pool_run(ga->pool, phase_edges, &c);
    double li = 0, lj = 0;
    for (int t = 0; t < ga->nth; t++) {
        const double *pl = ga->part + (size_t)t * ga->part_stride + ga->part_stride - 2;
        li += pl[0];
        lj += pl[1];
    }
    double loss = li / ga->total_area_i + lj / ga->total_area_j;
    if (with_grad) {
        // pairwise poses: reduce the 12 sums of dL/dA in worker order
        for (int e = 0; e < E; e++) {
            double gA[12] = {0};
            for (int t = 0; t < ga->nth; t++) {
                const double *p = ga->part + (size_t)t * ga->part_stride + (size_t)e * 12;
                for (int q = 0; q < 12; q++) gA[q] += p[q];
            }
            // gA layout: row r -> [r*4 + 0..2] = d/d(sR)_r., [r*4 + 3] = d/d(sT)_r
            double *R = pwR + (size_t)e * 21, *T = R + 9, *n = R + 12, qn = R[16], s = R[17];
            double gR[9], gT[3], gsum = 0;
            for (int r = 0; r < 3; r++) {
                for (int q = 0; q < 3; q++) {
                    gR[r * 3 + q] = s * gA[r * 4 + q];
                    gsum += gA[r * 4 + q] * R[r * 3 + q];
                }
                gT[r] = s * gA[r * 4 + 3];
                gsum += gA[r * 4 + 3] * T[r];
            }
            gs[e] = gsum * s; // d/d(log s_e) through exp, before the mean term
            double gn[4], gq[4];
            pc_quat_to_rot_roma_backward(gn, n, gR);
            normalize_backward(gq, n, qn, gn);
            float *G = ga->G + ga->off_pw + (size_t)e * 8;
            const float *P = ga->P + ga->off_pw + (size_t)e * 8;
            for (int q = 0; q < 4; q++) G[q] = (float)gq[q];
            for (int q = 0; q < 3; q++) G[4 + q] = (float)(gT[q] * signed_expm1_grad(P[4 + q]));
        }
        double gmean = 0;
        for (int e = 0; e < E; e++) gmean += gs[e];
        gmean /= E;
        for (int e = 0; e < E; e++) ga->G[ga->off_pw + (size_t)e * 8 + 7] = (float)(gs[e] - gmean);

        // every depth gradient is written by phase_views; pose and focal gradients below
        pc_pool_run(ga->pool, phase_views, &c);
        for (int k = 0; k < N; k++) {
            double acc[13] = {0};
            for (int t = 0; t < ga->nth; t++) {
                const double *p = ga->part + (size_t)t * ga->part_stride + (size_t)E * 12 + (size_t)k * 14;
                for (int q = 0; q < 13; q++) acc[q] += p[q];
            }
            double *n = imR + (size_t)k * 17 + 12, qn = imR[(size_t)k * 17 + 16];
            double gn[4], gq[4];
            pc_quat_to_rot_roma_backward(gn, n, acc);
            normalize_backward(gq, n, qn, gn);
            float *G = ga->G + ga->off_im + (size_t)k * 7;
            const float *P = ga->P + ga->off_im + (size_t)k * 7;
            for (int q = 0; q < 4; q++) G[q] = (float)gq[q];
            for (int q = 0; q < 3; q++) G[4 + q] = (float)(acc[9 + q] * signed_expm1_grad(P[4 + q]));
            // d/d(param) with f = exp(param / focal_break): dXc_xy/df = -Xc_xy / f
            // a preset focal is not a parameter (requires_grad False): no gradient, so Adam never moves it
            ga->G[ga->off_f + k] = ga->f_fixed[k] ? 0.0f : (float)(-acc[12] / ga->o.focal_break);
        }
    }
    return loss;
}

// ---- Adam and schedules ----------------------------------------------------------

double pc_align_lr(const pc_align_opts *o, int it) {
    double t = o->niter > 0 ? (double)it / o->niter : 0;
    if (o->schedule == PC_ALIGN_LINEAR) return o->lr + (o->lr_min - o->lr) * t; // dust3r: linear_schedule
    return o->lr_min + (o->lr - o->lr_min) * (1 + cos(t * M_PI)) / 2;            // dust3r: cosine_schedule
}

double pc_align_step(pc_align *ga, double lr) {
    double loss = pc_align_loss(ga, 1);
    // torch 1.13 Adam (single-tensor path), betas (0.9, 0.9), eps 1e-8, no weight decay
    const float b1 = 0.9f, b2 = 0.9f;
    ga->adam_t++;
    double bc1 = 1 - pow(0.9, ga->adam_t), bc2 = 1 - pow(0.9, ga->adam_t);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    if (ga->simd) {  // bitwise the loop below
        (ga->simd == 2 ? pc_ga_adam_v16 : pc_ga_adam_v8)(ga->P, ga->M1, ga->M2, ga->G, (int64_t)ga->np, b1, b2,
                                                       step_size, bc2_sqrt);
        return loss;
    }
    for (size_t q = 0; q < ga->np; q++) {
        float g = ga->G[q];
        ga->M1[q] = ga->M1[q] * b1 + g * (1 - b1);
        ga->M2[q] = ga->M2[q] * b2 + g * g * (1 - b2);
        float denom = sqrtf(ga->M2[q]) / bc2_sqrt + 1e-8f;
        ga->P[q] += -step_size * (ga->M1[q] / denom);
    }
    return loss;
}

pc_status pc_align_optimize(pc_align *ga, float *loss_curve, double *final_loss, pc_error *err) {
    double loss = INFINITY;
    for (int it = 0; it < ga->o.niter; it++) {
        loss = pc_align_step(ga, pc_align_lr(&ga->o, it));
        if (loss_curve) loss_curve[it] = (float)loss;
        if (!isfinite(loss))
            return pc_err(err, PC_ERR_NUMERIC, "align: loss is not finite at iteration %d", it);
    }
    if (final_loss) *final_loss = loss;
    return PC_OK;
}

// ---- init from the MST point clouds (dust3r: init_from_pts3d) ---------------------

pc_status pc_align_init_from_mst(pc_align *ga, const pc_align_mst *mst, pc_error *err) {
    if (!mst || mst->n_views != ga->N) return pc_err(err, PC_ERR_ARG, "align: MST result does not match views");
    for (int e = 0; e < ga->E; e++) {
        const pc_align_edge *ed = &ga->edges[e];
        double R[9], T[3], s;
        if (!pc_ga_register(R, T, &s, ed->pts_i, mst->pts3d[ed->i], ed->conf_i, ga->hw[ed->i]) || !(s > 0))
            return pc_err(err, PC_ERR_NUMERIC, "align: registration of edge %d (%d,%d) failed", e, ed->i, ed->j);
        double q[4];
        pc_rot_to_quat_roma(q, R);
        float *P = ga->P + ga->off_pw + (size_t)e * 8;
        for (int c = 0; c < 4; c++) P[c] = (float)q[c];
        for (int c = 0; c < 3; c++) P[4 + c] = (float)signed_log1p(T[c] / s);
        P[7] = (float)log(s);
    }
    double sf = pw_norm_factor(ga);
    for (int k = 0; k < ga->N; k++) {
        double R[9], T[3];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) R[r * 3 + c] = (float)mst->c2w[k][r * 4 + c];
            T[r] = (float)((float)mst->c2w[k][r * 4 + 3] * (float)sf);
        }
        float *dp = ga->P + ga->off_dm + ga->dm_off[k];
        const float *X = mst->pts3d[k];
        for (int64_t p = 0; p < ga->hw[k]; p++) {
            double x = (float)(X[p * 3] * (float)sf) - T[0], y = (float)(X[p * 3 + 1] * (float)sf) - T[1],
                   z = (float)(X[p * 3 + 2] * (float)sf) - T[2];
            double depth = R[2] * x + R[5] * y + R[8] * z; // (R^T (X - T)).z
            float lg = logf((float)depth);
            if (isnan(lg) || (isinf(lg) && lg < 0)) lg = 0; // nan_to_num(neginf=0)
            if (isinf(lg)) lg = 3.4028234663852886e38f;
            dp[p] = lg;
        }
        double q[4];
        pc_rot_to_quat_roma(q, R);
        float *P = ga->P + ga->off_im + (size_t)k * 7;
        for (int c = 0; c < 4; c++) P[c] = (float)q[c];
        for (int c = 0; c < 3; c++) P[4 + c] = (float)signed_log1p(T[c]);
        const int has_f = mst->has_focal ? mst->has_focal[k] : mst->focals[k] > 0;
        if (has_f && !(mst->focals[k] > 0 && isfinite(mst->focals[k])))  // upstream would start from log(0) = -inf
            return pc_err(err, PC_ERR_NUMERIC, "align: the focal estimated for view %d is %g (a degenerate pointmap)",
                          k, mst->focals[k]);
        // _set_focal without force: a preset focal is kept
        if (has_f && !ga->f_fixed[k]) ga->P[ga->off_f + k] = ga->o.focal_break * (float)log(mst->focals[k]);
    }
    memset(ga->M1, 0, ga->np * sizeof(float));
    memset(ga->M2, 0, ga->np * sizeof(float));
    ga->adam_t = 0;
    return PC_OK;
}

pc_status pc_align_init_mst(pc_align *ga, pc_error *err) {
    pc_align_mst mst;
    pc_status st = pc_align_mst_compute(ga, &mst, err);
    if (st != PC_OK) return st;
    st = pc_align_init_from_mst(ga, &mst, err);
    pc_align_mst_free(&mst);
    return st;
}

// ---- results --------------------------------------------------------------------

void pc_align_result_free(pc_align_result *res) {
    if (!res) return;
    if (res->depth)
        for (int k = 0; k < res->n_views; k++) free(res->depth[k]);
    free(res->depth);
    free(res->c2w);
    free(res->focals);
    free(res->pp);
    memset(res, 0, sizeof(*res));
}

pc_status pc_align_get_result(pc_align_result *res, const pc_align *ga, pc_error *err) {
    memset(res, 0, sizeof(*res));
    res->n_views = ga->N;
    res->c2w = (float(*)[16])calloc((size_t)ga->N, sizeof(*res->c2w));
    res->focals = (float *)calloc((size_t)ga->N, sizeof(float));
    res->pp = (float(*)[2])calloc((size_t)ga->N, sizeof(*res->pp));
    res->depth = (float **)calloc((size_t)ga->N, sizeof(float *));
    if (!res->c2w || !res->focals || !res->pp || !res->depth) goto oom;
    for (int k = 0; k < ga->N; k++) {
        pc_align_cam2world(ga, k, res->c2w[k]);
        res->focals[k] = pc_align_focal(ga, k);
        pc_align_pp(ga, k, res->pp[k]);
        res->depth[k] = (float *)malloc((size_t)ga->hw[k] * sizeof(float));
        if (!res->depth[k]) goto oom;
        pc_align_depthmap(ga, k, res->depth[k]);
    }
    return PC_OK;
oom:
    pc_align_result_free(res);
    return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
}

void pc_align_relative_pose(float R[9], float t[3], const float a[16], const float b[16]) {
    // X_B = Rb^T (Ra X_A + ta - tb)  =>  R = Rb^T Ra, t = Rb^T (ta - tb)
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += (double)b[k * 4 + r] * a[k * 4 + c];
            R[r * 3 + c] = (float)s;
        }
        double s = 0;
        for (int k = 0; k < 3; k++) s += (double)b[k * 4 + r] * ((double)a[k * 4 + 3] - b[k * 4 + 3]);
        t[r] = (float)s;
    }
}

// enable: 0 plain reference, 1 the fastest kernel this CPU has, 2 AVX2 even where AVX-512 is available.
void pc_align_set_simd(pc_align *ga, int enable) {
    int best = best_simd();
    ga->simd = enable == 0 ? 0 : (enable == 2 ? PC_MIN(best, 1) : best);
}
