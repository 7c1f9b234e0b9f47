// DUSt3R global alignment: the PointCloudOptimizer (dust3r/cloud_opt/optimizer.py, base_opt.py).
//
// Loss (dust3r: PointCloudOptimizer.forward, dist='l1', conf='log'):
//   L = sum_e sum_p log(conf_i) |X_i[p] - A_e pred_i[p]| / sum_e H_i W_i  +  (same for the j side)
// X_k[p] = R_k (d (u-cx)/f, d (v-cy)/f, d) + T_k with d = exp(depth param), f = exp(param/20);
// A_e = s_e [R_e | T_e]. Gradients are derived by hand (see pc_align_loss) and reproduce PyTorch
// autograd, including its zero derivative of sign(x)*expm1(|x|) at x = 0 (the frozen root camera).
//
// Threading: every view's pixel range is split into nth contiguous pieces; worker t handles piece t of
// every view for every edge, so dL/dX needs no locks, and per-worker partial sums are reduced in
// worker order: deterministic for a fixed thread count.
#include "geometry/global_align_internal.h"

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

// roma: unitquat_to_rotmat (homogeneous form), q XYZW already normalised.
static void quat_to_rot(double R[9], const double q[4]) {
    double x = q[0], y = q[1], z = q[2], w = q[3];
    double x2 = x * x, y2 = y * y, z2 = z * z, w2 = w * w;
    R[0] = x2 - y2 - z2 + w2;
    R[3] = 2 * (x * y + z * w);
    R[6] = 2 * (x * z - y * w);
    R[1] = 2 * (x * y - z * w);
    R[4] = -x2 + y2 - z2 + w2;
    R[7] = 2 * (y * z + x * w);
    R[2] = 2 * (x * z + y * w);
    R[5] = 2 * (y * z - x * w);
    R[8] = -x2 - y2 + z2 + w2;
}

// dL/dn for R(n) above, given gR = dL/dR (row-major).
static void quat_rot_backward(double gn[4], const double n[4], const double g[9]) {
    double x = n[0], y = n[1], z = n[2], w = n[3];
    // each R entry's gradient wrt (x, y, z, w), times 2
    const double d[9][4] = {
        {x, -y, -z, w},  {y, x, -w, -z}, {z, w, x, y},
        {y, x, w, z},    {-x, y, -z, w}, {-w, z, y, -x},
        {z, -w, x, -y},  {w, z, y, x},   {-x, -y, z, w},
    };
    for (int c = 0; c < 4; c++) {
        double s = 0;
        for (int k = 0; k < 9; k++) s += g[k] * d[k][c];
        gn[c] = 2 * s;
    }
}

static double signed_expm1(double x) { return x > 0 ? expm1(x) : (x < 0 ? -expm1(-x) : 0.0); }
static double signed_log1p(double x) { return x > 0 ? log1p(x) : (x < 0 ? -log1p(-x) : 0.0); }
// d/dx of sign(x)*expm1(|x|) as PyTorch autograd computes it: 0 at x == 0.
static double signed_expm1_grad(double x) { return x != 0 ? exp(fabs(x)) : 0.0; }

// dust3r: BasePCOptimizer._get_poses on one (q, t') -> R, T; also returns n = q/|q| and |q|.
static void pose_from_param(double R[9], double T[3], double n[4], double *qnorm, const float *p) {
    double q[4] = {p[0], p[1], p[2], p[3]};
    double nq = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int c = 0; c < 4; c++) n[c] = nq > 0 ? q[c] / nq : 0;
    quat_to_rot(R, n);
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
    for (int e = 0; e < ga->E; e++) {
        if (ga->w_i) free(ga->w_i[e]);
        if (ga->w_j) free(ga->w_j[e]);
    }
    for (int k = 0; k < ga->N; k++) {
        if (ga->im_conf) free(ga->im_conf[k]);
        if (ga->X) free(ga->X[k]);
        if (ga->gX) free(ga->gX[k]);
    }
    free(ga->w_i);
    free(ga->w_j);
    free(ga->im_conf);
    free(ga->X);
    free(ga->gX);
    free(ga->H);
    free(ga->W);
    free(ga->hw);
    free(ga->edges);
    free(ga->dm_off);
    free(ga->P);
    free(ga->G);
    free(ga->M1);
    free(ga->M2);
    free(ga->pp);
    free(ga->part);
    free(ga);
}

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
    ga->simd = pc_cpu_has_avx2_fma();
    ga->H = (int *)calloc((size_t)N, sizeof(int));
    ga->W = (int *)calloc((size_t)N, sizeof(int));
    ga->hw = (int64_t *)calloc((size_t)N, sizeof(int64_t));
    ga->dm_off = (size_t *)calloc((size_t)N, sizeof(size_t));
    ga->edges = (pc_align_edge *)calloc((size_t)E, sizeof(pc_align_edge));
    ga->w_i = (float **)calloc((size_t)E, sizeof(float *));
    ga->w_j = (float **)calloc((size_t)E, sizeof(float *));
    ga->im_conf = (float **)calloc((size_t)N, sizeof(float *));
    ga->X = (float **)calloc((size_t)N, sizeof(float *));
    ga->gX = (float **)calloc((size_t)N, sizeof(float *));
    ga->pp = (float *)calloc((size_t)N * 2, sizeof(float));
    if (!ga->H || !ga->W || !ga->hw || !ga->dm_off || !ga->edges || !ga->w_i || !ga->w_j || !ga->im_conf ||
        !ga->X || !ga->gX || !ga->pp)
        goto oom;
    size_t total_hw = 0;
    for (int k = 0; k < N; k++) {
        ga->H[k] = in->heights[k];
        ga->W[k] = in->widths[k];
        ga->hw[k] = (int64_t)ga->H[k] * ga->W[k];
        ga->dm_off[k] = total_hw;
        total_hw += (size_t)ga->hw[k];
        ga->pp[2 * k] = (float)(ga->W[k] / 2.0);
        ga->pp[2 * k + 1] = (float)(ga->H[k] / 2.0);
        ga->im_conf[k] = (float *)calloc((size_t)ga->hw[k], sizeof(float));
        ga->X[k] = (float *)malloc((size_t)ga->hw[k] * 3 * sizeof(float));
        ga->gX[k] = (float *)malloc((size_t)ga->hw[k] * 3 * sizeof(float));
        if (!ga->im_conf[k] || !ga->X[k] || !ga->gX[k]) goto oom;
    }
    ga->total_area_i = ga->total_area_j = 0;
    for (int e = 0; e < E; e++) {
        ga->edges[e] = in->edges[e];
        int i = ga->edges[e].i, j = ga->edges[e].j;
        ga->total_area_i += (double)ga->hw[i];
        ga->total_area_j += (double)ga->hw[j];
        ga->w_i[e] = (float *)malloc((size_t)ga->hw[i] * sizeof(float));
        ga->w_j[e] = (float *)malloc((size_t)ga->hw[j] * sizeof(float));
        if (!ga->w_i[e] || !ga->w_j[e]) goto oom;
        for (int64_t p = 0; p < ga->hw[i]; p++) {
            float c = ga->edges[e].conf_i[p];
            ga->w_i[e][p] = logf(c);
            // dust3r: _compute_img_conf (im_conf starts at zeros, torch.maximum)
            if (c > ga->im_conf[i][p] || c != c) ga->im_conf[i][p] = c;
        }
        for (int64_t p = 0; p < ga->hw[j]; p++) {
            float c = ga->edges[e].conf_j[p];
            ga->w_j[e][p] = logf(c);
            if (c > ga->im_conf[j][p] || c != c) ga->im_conf[j][p] = c;
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

// Phase A: world points of every view (dust3r: depth_to_pts3d), and zero dL/dX.
static void phase_points(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    for (int k = 0; k < ga->N; k++) {
        int64_t b, e;
        pc_split_range(ga->hw[k], ith, nth, &b, &e);
        const float *R = c->im_R + k * 9, *T = c->im_T + k * 3;
        float f = c->im_f[k], cx = ga->pp[2 * k], cy = ga->pp[2 * k + 1];
        const float *dp = ga->P + ga->off_dm + ga->dm_off[k];
        int64_t hw = ga->hw[k];
        float *X0 = ga->X[k], *X1 = X0 + hw, *X2 = X1 + hw; // SoA planes
        int W = ga->W[k];
        int64_t ui = b % W, vi = b / W;
        for (int64_t p = b; p < e; p++) {
            float d = expf(dp[p]);
            float u = (float)ui, v = (float)vi;
            if (++ui == W) ui = 0, vi++;
            float xc = d * (u - cx) / f, yc = d * (v - cy) / f, zc = d;
            X0[p] = R[0] * xc + R[1] * yc + R[2] * zc + T[0];
            X1[p] = R[3] * xc + R[4] * yc + R[5] * zc + T[1];
            X2[p] = R[6] * xc + R[7] * yc + R[8] * zc + T[2];
        }
        if (c->with_grad)
            for (int q = 0; q < 3; q++) memset(ga->gX[k] + q * hw + b, 0, (size_t)(e - b) * sizeof(float));
    }
}

// One edge side over pixels [b, e): residuals against X, loss sum, dL/dX and dL/dA (12 sums).
// X, gX: SoA planes of stride hw. Plain reference; pc_ga_edge_side_avx2 is the fast twin.
double pc_ga_edge_side_ref(const float *X, float *gX, int64_t hw, const float *pred, const float *w, const float *A,
                           int64_t b, int64_t e, float scale, int with_grad, double *gA) {
    const float a0 = A[0], a1 = A[1], a2 = A[2], a3 = A[3], a4 = A[4], a5 = A[5];
    const float a6 = A[6], a7 = A[7], a8 = A[8], b0 = A[9], b1 = A[10], b2 = A[11];
    const float *X0 = X, *X1 = X + hw, *X2 = X + 2 * hw;
    float *G0 = gX, *G1 = gX + hw, *G2 = gX + 2 * hw;
    double loss = 0;
    if (!with_grad) {
        for (int64_t p = b; p < e; p++) {
            float px = pred[p * 3], py = pred[p * 3 + 1], pz = pred[p * 3 + 2];
            float rx = X0[p] - (a0 * px + a1 * py + a2 * pz + b0);
            float ry = X1[p] - (a3 * px + a4 * py + a5 * pz + b1);
            float rz = X2[p] - (a6 * px + a7 * py + a8 * pz + b2);
            loss += (double)(sqrtf(rx * rx + ry * ry + rz * rz) * w[p]);
        }
        return loss;
    }
    // float accumulators over blocks of 256 pixels, folded into double
    int64_t p = b;
    while (p < e) {
        int64_t pe = PC_MIN(e, p + 256);
        float s[12] = {0};
        float ls = 0;
        for (; p < pe; p++) {
            float px = pred[p * 3], py = pred[p * 3 + 1], pz = pred[p * 3 + 2];
            float rx = X0[p] - (a0 * px + a1 * py + a2 * pz + b0);
            float ry = X1[p] - (a3 * px + a4 * py + a5 * pz + b1);
            float rz = X2[p] - (a6 * px + a7 * py + a8 * pz + b2);
            float nrm = sqrtf(rx * rx + ry * ry + rz * rz);
            float wn = w[p];
            ls += nrm * wn;
            float g = nrm > 0 ? wn * scale / nrm : 0.0f;
            float gx = g * rx, gy = g * ry, gz = g * rz;
            G0[p] += gx;
            G1[p] += gy;
            G2[p] += gz;
            s[0] += gx * px; s[1] += gx * py; s[2] += gx * pz; s[3] += gx;
            s[4] += gy * px; s[5] += gy * py; s[6] += gy * pz; s[7] += gy;
            s[8] += gz * px; s[9] += gz * py; s[10] += gz * pz; s[11] += gz;
        }
        loss += ls;
        for (int k = 0; k < 12; k++) gA[k] -= s[k];
    }
    return loss;
}

// Phase B: residuals of every edge on this worker's pixel pieces. Pixels are visited in tiles of 1024 and
// every edge side on the tile's view runs before the next tile, so X and dL/dX stay in cache while the
// predictions stream through once (the loop is memory-bound).
static void phase_edges(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    double *part = ga->part + (size_t)ith * ga->part_stride;
    memset(part, 0, ga->part_stride * sizeof(double));
    pc_ga_edge_fn fn = ga->simd ? pc_ga_edge_side_avx2 : pc_ga_edge_side_ref;
    double li = 0, lj = 0;
    for (int k = 0; k < ga->N; k++) {
        int64_t b, en;
        pc_split_range(ga->hw[k], ith, nth, &b, &en);
        for (int64_t t0 = b; t0 < en; t0 += 1024) {
            int64_t t1 = PC_MIN(en, t0 + 1024);
            for (int e = 0; e < ga->E; e++) {
                const pc_align_edge *ed = &ga->edges[e];
                double *gA = part + (size_t)e * 12; // rows of A = (sR | sT): index r*4 + c
                if (ed->i == k)
                    li += fn(ga->X[k], ga->gX[k], ga->hw[k], ed->pts_i, ga->w_i[e], c->pw_A + e * 12, t0, t1,
                             c->inv_area_i, c->with_grad, gA);
                if (ed->j == k)
                    lj += fn(ga->X[k], ga->gX[k], ga->hw[k], ed->pts_j, ga->w_j[e], c->pw_A + e * 12, t0, t1,
                             c->inv_area_j, c->with_grad, gA);
            }
        }
    }
    double *pl = part + ga->part_stride - 2;
    pl[0] = li;
    pl[1] = lj;
}

// Phase C: chain dL/dX to depth params (per pixel), and per-view sums for pose and focal.
static void phase_views(void *vctx, int ith, int nth) {
    loss_ctx *c = (loss_ctx *)vctx;
    pc_align *ga = c->ga;
    double *part = ga->part + (size_t)ith * ga->part_stride + (size_t)ga->E * 12;
    for (int k = 0; k < ga->N; k++) {
        int64_t b, e;
        pc_split_range(ga->hw[k], ith, nth, &b, &e);
        const float *R = c->im_R + k * 9;
        float f = c->im_f[k], cx = ga->pp[2 * k], cy = ga->pp[2 * k + 1];
        const float *dp = ga->P + ga->off_dm + ga->dm_off[k];
        float *gd = ga->G + ga->off_dm + ga->dm_off[k];
        int64_t hw = ga->hw[k];
        const float *gX0 = ga->gX[k], *gX1 = gX0 + hw, *gX2 = gX1 + hw;
        int W = ga->W[k];
        double *acc = part + (size_t)k * 14; // gR (9) | gT (3) | gfocal-sum (1) | spare
        int64_t p = b;
        while (p < e) {
            int64_t pe = PC_MIN(e, p + 256);
            float s[13] = {0};
            int64_t ui = p % W, vi = p / W;
            for (; p < pe; p++) {
                float d = expf(dp[p]);
                float u = (float)ui, v = (float)vi;
                if (++ui == W) ui = 0, vi++;
                float xc = d * (u - cx) / f, yc = d * (v - cy) / f, zc = d;
                float gx = gX0[p], gy = gX1[p], gz = gX2[p];
                // R^T gX
                float hx = R[0] * gx + R[3] * gy + R[6] * gz;
                float hy = R[1] * gx + R[4] * gy + R[7] * gz;
                float hz = R[2] * gx + R[5] * gy + R[8] * gz;
                gd[p] = hx * xc + hy * yc + hz * zc;
                s[0] += gx * xc; s[1] += gx * yc; s[2] += gx * zc;
                s[3] += gy * xc; s[4] += gy * yc; s[5] += gy * zc;
                s[6] += gz * xc; s[7] += gz * yc; s[8] += gz * zc;
                s[9] += gx; s[10] += gy; s[11] += gz;
                s[12] += hx * xc + hy * yc;
            }
            for (int q = 0; q < 13; q++) acc[q] += s[q];
        }
    }
}

double pc_align_loss(pc_align *ga, int with_grad) {
    int N = ga->N, E = ga->E;
    // Per-iteration camera quantities (small; stack-free heap would be a malloc per call: use VLAs
    // bounded by the sizes checked at create time through a single scratch allocation).
    size_t nflt = (size_t)N * 13 + (size_t)E * 12;
    float *scr = (float *)malloc(nflt * sizeof(float));
    double *pwR = (double *)malloc((size_t)E * 21 * sizeof(double));
    double *imR = (double *)malloc((size_t)N * 17 * sizeof(double));
    if (!scr || !pwR || !imR) {
        free(scr);
        free(pwR);
        free(imR);
        return NAN;
    }
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
        memset(ga->G, 0, ga->np * sizeof(float));
        // pairwise poses: reduce the 12 sums of dL/dA in worker order
        double *gs = (double *)malloc((size_t)E * sizeof(double));
        if (!gs) {
            free(scr);
            free(pwR);
            free(imR);
            return NAN;
        }
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
            quat_rot_backward(gn, n, gR);
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
        free(gs);

        pc_pool_run(ga->pool, phase_views, &c);
        for (int k = 0; k < N; k++) {
            double acc[13] = {0};
            for (int t = 0; t < ga->nth; t++) {
                const double *p = ga->part + (size_t)t * ga->part_stride + (size_t)E * 12 + (size_t)k * 14;
                for (int q = 0; q < 13; q++) acc[q] += p[q];
            }
            double *n = imR + (size_t)k * 17 + 12, qn = imR[(size_t)k * 17 + 16];
            double gn[4], gq[4];
            quat_rot_backward(gn, n, acc);
            normalize_backward(gq, n, qn, gn);
            float *G = ga->G + ga->off_im + (size_t)k * 7;
            const float *P = ga->P + ga->off_im + (size_t)k * 7;
            for (int q = 0; q < 4; q++) G[q] = (float)gq[q];
            for (int q = 0; q < 3; q++) G[4 + q] = (float)(acc[9 + q] * signed_expm1_grad(P[4 + q]));
            // d/d(param) with f = exp(param / focal_break): dXc_xy/df = -Xc_xy / f
            ga->G[ga->off_f + k] = (float)(-acc[12] / ga->o.focal_break);
        }
    }
    free(scr);
    free(pwR);
    free(imR);
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
        pc_ga_rotmat_to_quat(q, R);
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
        pc_ga_rotmat_to_quat(q, R);
        float *P = ga->P + ga->off_im + (size_t)k * 7;
        for (int c = 0; c < 4; c++) P[c] = (float)q[c];
        for (int c = 0; c < 3; c++) P[4 + c] = (float)signed_log1p(T[c]);
        if (mst->focals[k] > 0) ga->P[ga->off_f + k] = ga->o.focal_break * (float)log(mst->focals[k]);
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

void pc_align_set_simd(pc_align *ga, int enable) { ga->simd = enable && pc_cpu_has_avx2_fma(); }
