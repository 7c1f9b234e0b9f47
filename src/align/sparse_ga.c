// MASt3R's sparse global alignment (mast3r/cloud_opt/sparse_ga.py: prepare_canonical_data, canonical_view,
// anchor_depth_offsets, condense_data, the 'hclust-ward' kinematic chain, sparse_scene_optimizer with
// make_K_cam_depth / make_pts3d / loss_3d / loss_2d), with the gradients written out by hand instead of
// autograd. Float32 parameters and Adam state as upstream; sums of the losses in double.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "align/global_align_internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#include "posecrafter/sparse_ga.h"

void pc_sga_opts_default(pc_sga_opts *o) {
    o->lr1 = 0.07, o->niter1 = 300;
    o->lr2 = 0.01, o->niter2 = 300;
    o->opt_pp = 1, o->opt_depth = 1;
    o->matching_conf_thr = 5.0f;
    o->subsample = 8;
}

// ---- per-image data ------------------------------------------------------------------------------------

typedef struct {
    int partner;          // image index
    int64_t off, n;       // slice of this image's points
    const int32_t *pix;   // (n) flat pixel indices (this image)
    const float *conf;    // (n) match confidences
} sga_part;

typedef struct {
    int H, W, gh, gw;     // image size, anchor grid
    float bf;             // base focal (canonical Weiszfeld)
    float med;            // median anchor depth
    float *canon;         // (H W 3)
    float *canon2;        // (H W) relative depth ('avg-angle')
    float *cconf;         // (H W) sum c^2 / sum c
    float *core;          // (gh gw) canonical anchor depths (absolute)
    // points: every correspondence pixel of this image, partner by partner (img_anchors)
    sga_part part[64];
    int n_part;
    int64_t np;
    float *uv;            // (np, 2) pixel x, y
    int32_t *pix;         // (np) flat index
    int32_t *aidx;        // (np) anchor index
    float *off;           // (np) canonical depth offset w.r.t. the anchor
} sga_view;

typedef struct {          // one term list of the losses: points of img i (slice) vs points of img j (slice)
    int i, j;
    int64_t off_i, off_j, n;
    float *conf;          // (n) sqrt(conf_i * conf_j)
} sga_slice;

// ---- canonical view (mast3r: canonical_view, mode 'avg-angle') -----------------------------------------

// pixel (y, x) of the S x S cell (cy, cx) at offset (i, j): pixel_unshuffle's channel i * S + j
static pc_status canonical_view(sga_view *v, const float *const *X, const float *const *C, int n, int S,
                                pc_error *err) {
    const int H = v->H, W = v->W;
    const int64_t HW = (int64_t)H * W;
    v->canon = (float *)malloc(sizeof(float) * (size_t)HW * 3);
    v->canon2 = (float *)malloc(sizeof(float) * (size_t)HW);
    v->cconf = (float *)malloc(sizeof(float) * (size_t)HW);
    float *csum = (float *)malloc(sizeof(float) * (size_t)HW);
    if (!v->canon || !v->canon2 || !v->cconf || !csum) {
        free(csum);
        return pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
    }
    // canon = sum_n (C - 0.999) X / sum_n (C - 0.999)
    for (int64_t p = 0; p < HW; p++) {
        float num[3] = {0, 0, 0}, den = 0, sq = 0;
        for (int k = 0; k < n; k++) {
            const float c = C[k][p] - 0.999f;
            for (int d = 0; d < 3; d++) num[d] += c * X[k][p * 3 + d];
            den += c;
            sq += c * c;
        }
        for (int d = 0; d < 3; d++) v->canon[p * 3 + d] = num[d] / den;
        csum[p] = den;
        v->cconf[p] = sq / den;
    }
    // canon2: per cell, the confidence-weighted mean angle of each pixel's depth to the cell centre's
    const int half = S / 2;
    for (int cy = 0; cy * S < H; cy++)
        for (int cx = 0; cx * S < W; cx++) {
            const int yc = cy * S + half, xc = cx * S + half;
            if (yc >= H || xc >= W) continue;
            const int64_t pc = (int64_t)yc * W + xc;
            const float zc_canon = v->canon[pc * 3 + 2];
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) {
                    const int y = cy * S + i, x = cx * S + j;
                    if (y >= H || x >= W) continue;
                    const int64_t p = (int64_t)y * W + x;
                    float sa = 0, sc = 0, sr = 0;
                    for (int k = 0; k < n; k++) {
                        const float *Xk = X[k];
                        float zc = Xk[pc * 3 + 2];
                        if (zc < 1.1920928955078125e-07f) zc = 1.1920928955078125e-07f;  // clip(min=eps)
                        const float dx = Xk[p * 3] - Xk[pc * 3], dy = Xk[p * 3 + 1] - Xk[pc * 3 + 1];
                        float r = sqrtf(dx * dx + dy * dy);
                        if (r < 1e-8f) r = 1e-8f;
                        const float ang = atanf((Xk[p * 3 + 2] - zc) / r);
                        const float c = C[k][p] - 0.999f;
                        sa += c * ang;
                        sc += c;
                        sr += r;
                    }
                    const float avg = sa / sc, rad = sr / (float)n;
                    v->canon2[p] = 1 + rad * tanf(avg) / zc_canon;
                }
        }
    free(csum);
    return PC_OK;
}

// ---- kinematic chain ('hclust-ward') -------------------------------------------------------------------

// scipy linkage(method='ward') on a condensed distance matrix, naive Lance-Williams (N is small): merges
// in order of increasing distance, lowest cluster ids first on ties; ids >= N are merged clusters.
static void ward_linkage(int (*Z)[2], const double *D0, int N) {
    const int M = 2 * N - 1;
    double *D = (double *)calloc((size_t)M * M, sizeof(double));
    int *size = (int *)calloc((size_t)M, sizeof(int)), *alive = (int *)calloc((size_t)M, sizeof(int));
    for (int i = 0; i < N; i++) {
        size[i] = 1, alive[i] = 1;
        for (int j = 0; j < N; j++) D[i * M + j] = D0[i * N + j];
    }
    for (int step = 0; step < N - 1; step++) {
        int bi = -1, bj = -1;
        double best = INFINITY;
        for (int i = 0; i < N + step; i++)
            for (int j = i + 1; j < N + step; j++)
                if (alive[i] && alive[j] && D[i * M + j] < best) best = D[i * M + j], bi = i, bj = j;
        const int u = N + step;
        Z[step][0] = bi, Z[step][1] = bj;
        for (int k = 0; k < u; k++) {
            if (!alive[k] || k == bi || k == bj) continue;
            const double T = size[k] + size[bi] + size[bj], dks = D[k * M + bi], dkt = D[k * M + bj];
            const double d = sqrt(((size[k] + size[bi]) * dks * dks + (size[k] + size[bj]) * dkt * dkt -
                                   size[k] * best * best) / T);
            D[k * M + u] = D[u * M + k] = d;
        }
        alive[bi] = alive[bj] = 0, alive[u] = 1, size[u] = size[bi] + size[bj];
    }
    free(D), free(size), free(alive);
}

// scipy breadth_first_order(tree, start, directed=False) on the MST stored as (i < j) edges: a node's
// neighbours are its larger-index ones (the stored row), then its smaller-index ones (the transpose).
static void bfs(const unsigned char *adj, int N, int start, int *order, int *pred) {
    int head = 0, tail = 0;
    for (int k = 0; k < N; k++) pred[k] = -9999;
    order[tail++] = start;
    pred[start] = -1;
    while (head < tail) {
        const int u = order[head++];
        for (int pass = 0; pass < 2; pass++)
            for (int w = 0; w < N; w++) {
                if (w == u || !adj[u * N + w] || pred[w] != -9999) continue;
                if ((pass == 0) != (w > u)) continue;
                pred[w] = u;
                order[tail++] = w;
            }
    }
}

// mast3r: the 'hclust-ward' tree from the match counts, then compute_min_spanning_tree's root and edges.
static void kinematic_chain(const double *scores, const int *n_patches, int N, int *root, int (*edges)[2]) {
    double *pws = (double *)calloc((size_t)N * N, sizeof(double)), *dist = (double *)calloc((size_t)N * N, sizeof(double));
    unsigned char *tree = (unsigned char *)calloc((size_t)N * N, 1);
    int(*Z)[2] = (int(*)[2])calloc((size_t)N, sizeof(*Z));
    int *new_to_old = (int *)calloc((size_t)2 * N, sizeof(int));
    int *order = (int *)calloc((size_t)N, sizeof(int)), *pred = (int *)calloc((size_t)N, sizeof(int));
    int *r1 = (int *)calloc((size_t)N, sizeof(int)), *r2 = (int *)calloc((size_t)N, sizeof(int));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            const double mx = 3.0 * (n_patches[i] < n_patches[j] ? n_patches[i] : n_patches[j]);
            double w = scores[i * N + j] / mx;
            if (w > 1) w = 1;
            pws[i * N + j] = i == j ? 1.0 : (double)(float)w;
            dist[i * N + j] = pws[i * N + j] != 0 ? 1 - pws[i * N + j] : 2;
        }
    for (int i = 0; i < N; i++) dist[i * N + i] = 0;  // squareform takes the off-diagonal part
    ward_linkage(Z, dist, N);
    for (int i = 0; i < N; i++) new_to_old[i] = i;
    for (int s = 0; s < N - 1; s++) {
        const int a = new_to_old[Z[s][0]], b = new_to_old[Z[s][1]];
        tree[a * N + b] = tree[b * N + a] = 1;
        double sa = 0, sb = 0;
        for (int k = 0; k < N; k++) sa += pws[a * N + k], sb += pws[b * N + k];
        const int best = sa > sb ? a : b;
        new_to_old[N + s] = best;
        for (int k = 0; k < N; k++) pws[best * N + k] = fmax(pws[a * N + k], pws[b * N + k]);
    }
    // the tree is its own spanning tree; root = the node farthest from every leaf (three BFS passes)
    bfs(tree, N, 0, order, pred);
    for (int k = 0; k < N; k++) r1[order[k]] = k;
    int a1 = 0;
    for (int k = 1; k < N; k++) a1 = r1[k] > r1[a1] ? k : a1;
    bfs(tree, N, a1, order, pred);
    for (int k = 0; k < N; k++) r2[order[k]] = k;
    int a2 = 0;
    for (int k = 1; k < N; k++) a2 = r2[k] > r2[a2] ? k : a2;
    bfs(tree, N, a2, order, pred);
    for (int k = 0; k < N; k++) r1[order[k]] = k;
    int rt = 0;
    for (int k = 1; k < N; k++) rt = (r1[k] < r2[k] ? r1[k] : r2[k]) > (r1[rt] < r2[rt] ? r1[rt] : r2[rt]) ? k : rt;
    bfs(tree, N, rt, order, pred);
    *root = rt;
    for (int k = 1; k < N; k++) edges[k - 1][0] = pred[order[k]], edges[k - 1][1] = order[k];
    free(pws), free(dist), free(tree), free(Z), free(new_to_old), free(order), free(pred), free(r1), free(r2);
}

// ---- the optimiser ---------------------------------------------------------------------------------------

// gamma_loss(g) = (|x - y| + o)^g - o^g with o = (1/g)^(1/(g-1)); value and d/d|x - y|
static inline void gamma_fn(double *val, double *dval, float l, double g) {
    const double o = pow(1.0 / g, 1.0 / (g - 1.0));
    const float b = l + (float)o;
    *val = (double)(powf(b, (float)g) - (float)pow(o, g));
    *dval = g * pow((double)b, g - 1);
}

typedef struct {
    int N;
    sga_view *v;
    sga_slice *sl;        // loss_3d terms (imgs_slices order)
    int nsl;
    sga_slice *sl2;       // loss_2d terms: (own image i, its pixels; partner j's points)
    int nsl2;
    int root;
    int (*edges)[2];
    // parameters (float32, as upstream's nn.Parameters): per image
    float (*pp)[2], *lf, (*q)[4], (*t)[3], *ls, **cd;
    float *fmin, *fmax;
    unsigned char *fixed_K;  // (N) 1: focal and principal point given, not optimised
    // gradients
    double (*g_pp)[2], *g_lf, (*g_q)[4], (*g_t)[3], *g_ls, **g_cd;
    // forward state of one evaluation
    double *f, *F, *s, *z, (*R)[9], (*qn)[4], *qnorm, (*RT)[9], (*tT)[3], (*off)[3], (*Rc)[9], (*tc)[3], g;
    double (*ppf)[2];     // the principal points (fractions) this forward used
    double **depth;       // N x (gh gw)
    double **P;           // N x (np 3) world points
    double **gP;          // N x (np 3)
} sga_ctx;

// make_K_cam_depth + make_pts3d: the cameras, anchor depths and world points of the current parameters.
static void forward(sga_ctx *c) {
    const int N = c->N;
    double smin = INFINITY;
    for (int i = 0; i < N; i++) {
        const sga_view *v = &c->v[i];
        c->ppf[i][0] = c->pp[i][0], c->ppf[i][1] = c->pp[i][1];
        c->F[i] = (double)expf(c->lf[i]);
        c->f[i] = fmin(fmax(c->F[i], c->fmin[i]), c->fmax[i]);
        c->s[i] = (double)expf(c->ls[i]);
        smin = fmin(smin, c->s[i]);
        c->z[i] = c->s[i] * v->med * c->f[i] / v->bf;
        double n2 = 0;
        for (int k = 0; k < 4; k++) n2 += (double)c->q[i][k] * c->q[i][k];
        c->qnorm[i] = fmax(sqrt(n2), 1e-12);  // F.normalize
        for (int k = 0; k < 4; k++) c->qn[i][k] = c->q[i][k] / c->qnorm[i];
        pc_quat_to_rot_roma(c->R[i], c->qn[i]);
    }
    c->g = 1.0 / smin;
    // the kinematic chain: T_root = [R | t]_root, T_child = T_parent [R | t]_child
    const int r = c->root;
    memcpy(c->RT[r], c->R[r], sizeof(c->RT[r]));
    for (int k = 0; k < 3; k++) c->tT[r][k] = c->t[r][k];
    for (int e = 0; e < N - 1; e++) {
        const int a = c->edges[e][0], b = c->edges[e][1];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double s = 0;
                for (int k = 0; k < 3; k++) s += c->RT[a][i * 3 + k] * c->R[b][k * 3 + j];
                c->RT[b][i * 3 + j] = s;
            }
            double s = c->tT[a][i];
            for (int k = 0; k < 3; k++) s += c->RT[a][i * 3 + k] * c->t[b][k];
            c->tT[b][i] = s;
        }
    }
    for (int i = 0; i < N; i++) {
        const sga_view *v = &c->v[i];
        const double f = c->f[i];
        c->off[i][0] = c->z[i] * (v->W / f * (0.5 - c->pp[i][0]));
        c->off[i][1] = c->z[i] * (v->H / f * (0.5 - c->pp[i][1]));
        c->off[i][2] = c->z[i];
        memcpy(c->Rc[i], c->RT[i], sizeof(c->Rc[i]));
        for (int k = 0; k < 3; k++) {
            double ro = 0;
            for (int m = 0; m < 3; m++) ro += c->RT[i][k * 3 + m] * c->off[i][m];
            c->tc[i][k] = c->g * (c->tT[i][k] - ro);
        }
        const int na = v->gh * v->gw;
        for (int a = 0; a < na; a++)  // depth_mode 'add'
            c->depth[i][a] = c->g * (c->z[i] + ((double)c->cd[i][a] - 1) * (v->med * c->s[i]));
        const double cx = c->pp[i][0] * v->W, cy = c->pp[i][1] * v->H, ratio = v->bf / f;
        for (int64_t p = 0; p < v->np; p++) {
            const double o2 = 1 + ((double)v->off[p] - 1) * ratio;
            const double zp = c->depth[i][v->aidx[p]] * o2;
            const double X[3] = {zp * (v->uv[2 * p] - cx) / f, zp * (v->uv[2 * p + 1] - cy) / f, zp};
            for (int k = 0; k < 3; k++)
                c->P[i][p * 3 + k] =
                    c->Rc[i][k * 3] * X[0] + c->Rc[i][k * 3 + 1] * X[1] + c->Rc[i][k * 3 + 2] * X[2] + c->tc[i][k];
        }
    }
}

// loss_3d: sum_k conf_k gamma(|P_i[k] - P_j[k]|) / sum conf, and dL/dP.
static double loss_3d(sga_ctx *c, double gam) {
    double num = 0, den = 0;
    for (int s = 0; s < c->nsl; s++) {
        const sga_slice *L = &c->sl[s];
        for (int64_t k = 0; k < L->n; k++) den += L->conf[k];
    }
    if (den == 0) return 0;
    for (int s = 0; s < c->nsl; s++) {
        const sga_slice *L = &c->sl[s];
        const double *Pi = c->P[L->i] + L->off_i * 3, *Pj = c->P[L->j] + L->off_j * 3;
        double *gi = c->gP[L->i] + L->off_i * 3, *gj = c->gP[L->j] + L->off_j * 3;
        for (int64_t k = 0; k < L->n; k++) {
            const double d[3] = {Pi[k * 3] - Pj[k * 3], Pi[k * 3 + 1] - Pj[k * 3 + 1], Pi[k * 3 + 2] - Pj[k * 3 + 2]};
            const double l = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            double val, dv;
            gamma_fn(&val, &dv, (float)l, gam);
            num += L->conf[k] * val;
            if (l > 0) {
                const double w = L->conf[k] * dv / l / den;
                for (int m = 0; m < 3; m++) gi[k * 3 + m] += w * d[m], gj[k * 3 + m] -= w * d[m];
            }
        }
    }
    return num / den;
}

// Gradient accumulator for the cameras' derived quantities (before the chain / parameter backward).
typedef struct {
    double (*gRc)[9], (*gtc)[3], *gf, *gcx, *gcy, **gdepth;
} cam_grads;

// loss_2d: each image's own pixels vs the reprojection (K w2cam) of its partners' points.
static double loss_2d(sga_ctx *c, double gam, cam_grads *cg) {
    double num = 0, den = 0;
    for (int s = 0; s < c->nsl2; s++)
        for (int64_t k = 0; k < c->sl2[s].n; k++) den += c->sl2[s].conf[k];
    if (den == 0) return 0;
    for (int s = 0; s < c->nsl2; s++) {
        const sga_slice *L = &c->sl2[s];
        const int i = L->i;
        const sga_view *vi = &c->v[i];
        const double *Rc = c->Rc[i], *tc = c->tc[i], f = c->f[i], cx = c->pp[i][0] * vi->W, cy = c->pp[i][1] * vi->H;
        const double *Pj = c->P[L->j] + L->off_j * 3;
        double *gj = c->gP[L->j] + L->off_j * 3;
        for (int64_t k = 0; k < L->n; k++) {
            const double q[3] = {Pj[k * 3] - tc[0], Pj[k * 3 + 1] - tc[1], Pj[k * 3 + 2] - tc[2]};
            double y[3];  // camera i's frame: Rc^T (P - tc)
            for (int m = 0; m < 3; m++) y[m] = Rc[m] * q[0] + Rc[3 + m] * q[1] + Rc[6 + m] * q[2];
            const double r[3] = {f * y[0] + cx * y[2], f * y[1] + cy * y[2], y[2]};
            const int zc = r[2] < 1e-3;
            const double zz = zc ? 1e-3 : r[2];
            double uv[2] = {r[0] / zz, r[1] / zz};
            int clip[2];
            for (int m = 0; m < 2; m++) {
                clip[m] = uv[m] < -1000 || uv[m] > 2000;
                uv[m] = uv[m] < -1000 ? -1000 : uv[m] > 2000 ? 2000 : uv[m];
            }
            const double px = vi->uv[2 * (L->off_i + k)], py = vi->uv[2 * (L->off_i + k) + 1];
            const double d[2] = {px - uv[0], py - uv[1]};
            const double l = sqrt(d[0] * d[0] + d[1] * d[1]);
            double val, dv;
            gamma_fn(&val, &dv, (float)l, gam);
            num += L->conf[k] * val;
            if (!(l > 0)) continue;
            const double w = L->conf[k] * dv / l / den;
            double guv[2] = {-w * d[0], -w * d[1]};
            for (int m = 0; m < 2; m++)
                if (clip[m]) guv[m] = 0;
            double gr[3] = {guv[0] / zz, guv[1] / zz, 0};
            if (!zc) gr[2] = -(guv[0] * r[0] + guv[1] * r[1]) / (zz * zz);
            const double gy[3] = {f * gr[0], f * gr[1], cx * gr[0] + cy * gr[1] + gr[2]};
            cg->gf[i] += gr[0] * y[0] + gr[1] * y[1];
            cg->gcx[i] += gr[0] * y[2];
            cg->gcy[i] += gr[1] * y[2];
            double gq[3];
            for (int m = 0; m < 3; m++) gq[m] = Rc[m * 3] * gy[0] + Rc[m * 3 + 1] * gy[1] + Rc[m * 3 + 2] * gy[2];
            for (int m = 0; m < 3; m++) {
                gj[k * 3 + m] += gq[m];
                cg->gtc[i][m] -= gq[m];
                for (int n = 0; n < 3; n++) cg->gRc[i][m * 3 + n] += q[m] * gy[n];
            }
        }
    }
    return num / den;
}

// Backward from dL/dP (and the 2-D loss's direct camera gradients in cg) to the parameters.
static void backward(sga_ctx *c, cam_grads *cg) {
    const int N = c->N;
    double g_g = 0, *g_s = (double *)calloc((size_t)N, sizeof(double)), *g_z = (double *)calloc((size_t)N, sizeof(double));
    double(*g_RT)[9] = (double(*)[9])calloc((size_t)N, sizeof(*g_RT)), (*g_tT)[3] = (double(*)[3])calloc((size_t)N, sizeof(*g_tT));
    double(*g_R)[9] = (double(*)[9])calloc((size_t)N, sizeof(*g_R));
    for (int i = 0; i < N; i++) {
        const sga_view *v = &c->v[i];
        const double f = c->f[i], cx = c->pp[i][0] * v->W, cy = c->pp[i][1] * v->H, ratio = v->bf / f;
        double *gdep = cg->gdepth[i];
        // points: P = Rc X + tc, X = zp ((u - cx)/f, (v - cy)/f, 1), zp = depth[a] o2, o2 = 1 + (o - 1) bf / f
        for (int64_t p = 0; p < v->np; p++) {
            const double *gp = c->gP[i] + p * 3;
            if (gp[0] == 0 && gp[1] == 0 && gp[2] == 0) continue;
            const double o2 = 1 + ((double)v->off[p] - 1) * ratio, dep = c->depth[i][v->aidx[p]], zp = dep * o2;
            const double ex = (v->uv[2 * p] - cx) / f, ey = (v->uv[2 * p + 1] - cy) / f;
            const double X[3] = {zp * ex, zp * ey, zp};
            double gX[3];
            for (int m = 0; m < 3; m++) {
                cg->gtc[i][m] += gp[m];
                for (int n = 0; n < 3; n++) cg->gRc[i][m * 3 + n] += gp[m] * X[n];
            }
            for (int n = 0; n < 3; n++) gX[n] = c->Rc[i][n] * gp[0] + c->Rc[i][3 + n] * gp[1] + c->Rc[i][6 + n] * gp[2];
            const double gzp = gX[0] * ex + gX[1] * ey + gX[2];
            // d ex / df = -ex / f, d ex / dcx = -1 / f
            cg->gf[i] += -(gX[0] * ex + gX[1] * ey) * zp / f;
            cg->gcx[i] += -gX[0] * zp / f;
            cg->gcy[i] += -gX[1] * zp / f;
            gdep[v->aidx[p]] += gzp * o2;
            cg->gf[i] += gzp * dep * (-((double)v->off[p] - 1) * v->bf / (f * f));
        }
        // depth[a] = g (z + (cd[a] - 1) med s)
        const int na = v->gh * v->gw;
        for (int a = 0; a < na; a++) {
            const double gd = gdep[a];
            if (gd == 0) continue;
            g_g += gd * (c->z[i] + ((double)c->cd[i][a] - 1) * (v->med * c->s[i]));
            g_z[i] += gd * c->g;
            c->g_cd[i][a] += gd * c->g * v->med * c->s[i];
            g_s[i] += gd * c->g * ((double)c->cd[i][a] - 1) * v->med;
        }
        // cam2w: Rc = RT, tc = g (tT - RT off), off = z (W/f (0.5 - ppx), H/f (0.5 - ppy), 1)
        double ro[3];
        for (int k = 0; k < 3; k++) {
            ro[k] = 0;
            for (int m = 0; m < 3; m++) ro[k] += c->RT[i][k * 3 + m] * c->off[i][m];
        }
        double goff[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            const double gt = cg->gtc[i][k];
            g_g += gt * (c->tT[i][k] - ro[k]);
            g_tT[i][k] += c->g * gt;
            for (int m = 0; m < 3; m++) {
                g_RT[i][k * 3 + m] += -c->g * gt * c->off[i][m];
                goff[m] += -c->g * c->RT[i][k * 3 + m] * gt;
            }
        }
        for (int k = 0; k < 9; k++) g_RT[i][k] += cg->gRc[i][k];
        const double ax = v->W / f * (0.5 - c->pp[i][0]), ay = v->H / f * (0.5 - c->pp[i][1]);
        g_z[i] += goff[0] * ax + goff[1] * ay + goff[2];
        cg->gf[i] += -(goff[0] * ax + goff[1] * ay) * c->z[i] / f;
        c->g_pp[i][0] += -goff[0] * c->z[i] * v->W / f;
        c->g_pp[i][1] += -goff[1] * c->z[i] * v->H / f;
        // cx = ppx W, cy = ppy H
        c->g_pp[i][0] += cg->gcx[i] * v->W;
        c->g_pp[i][1] += cg->gcy[i] * v->H;
        // z = s med f / bf
        g_s[i] += g_z[i] * v->med * f / v->bf;
        cg->gf[i] += g_z[i] * c->s[i] * v->med / v->bf;
        // f = clip(exp(lf), fmin, fmax)
        if (c->F[i] >= c->fmin[i] && c->F[i] <= c->fmax[i]) c->g_lf[i] += cg->gf[i] * c->F[i];
    }
    // the chain, children first
    for (int e = N - 2; e >= 0; e--) {
        const int a = c->edges[e][0], b = c->edges[e][1];
        // RT_b = RT_a R_b, tT_b = RT_a t_b + tT_a
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double sa = 0, sr = 0;
                for (int k = 0; k < 3; k++) {
                    sa += g_RT[b][i * 3 + k] * c->R[b][j * 3 + k];
                    sr += c->RT[a][k * 3 + i] * g_RT[b][k * 3 + j];
                }
                g_RT[a][i * 3 + j] += sa + g_tT[b][i] * c->t[b][j];
                g_R[b][i * 3 + j] += sr;
            }
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += c->RT[a][k * 3 + j] * g_tT[b][k];
            c->g_t[b][j] += s;
        }
        for (int k = 0; k < 3; k++) g_tT[a][k] += g_tT[b][k];
    }
    const int r = c->root;
    for (int k = 0; k < 9; k++) g_R[r][k] += g_RT[r][k];
    for (int k = 0; k < 3; k++) c->g_t[r][k] += g_tT[r][k];
    for (int i = 0; i < N; i++) {  // R = rot(q / |q|)
        double gn[4];
        pc_quat_to_rot_roma_backward(gn, c->qn[i], g_R[i]);
        double dot = 0;
        for (int k = 0; k < 4; k++) dot += gn[k] * c->qn[i][k];
        for (int k = 0; k < 4; k++) c->g_q[i][k] += (gn[k] - c->qn[i][k] * dot) / c->qnorm[i];
    }
    // g = 1 / min(s): the min's gradient split evenly over the tied minima (torch's min() backward)
    double smin = INFINITY;
    int nmin = 0;
    for (int i = 0; i < N; i++) smin = fmin(smin, c->s[i]);
    for (int i = 0; i < N; i++) nmin += c->s[i] == smin;
    for (int i = 0; i < N; i++)
        if (c->s[i] == smin) g_s[i] += -g_g / (smin * smin) / nmin;
    for (int i = 0; i < N; i++) c->g_ls[i] += g_s[i] * c->s[i];
    free(g_s), free(g_z), free(g_RT), free(g_tT), free(g_R);
}

// torch.optim.Adam(lr, betas (0.9, 0.9), eps 1e-8) on one float parameter.
static inline void adam1(float *p, float *m, float *v, double g, double lr, int step) {
    const float gf = (float)g;
    *m = *m * 0.9f + gf * 0.1f;
    *v = *v * 0.9f + 0.1f * gf * gf;
    const double bc1 = 1 - pow(0.9, step), bc2 = 1 - pow(0.9, step);
    const float denom = sqrtf(*v) / (float)sqrt(bc2) + 1e-8f;
    *p = *p - (float)(lr / bc1) * (*m / denom);
}

typedef struct {
    float (*pp)[2], *lf, (*q)[4], (*t)[3], *ls, **cd;
} adam_moments;

static void zero_grads(sga_ctx *c, cam_grads *cg) {
    for (int i = 0; i < c->N; i++) {
        memset(c->g_pp[i], 0, sizeof(c->g_pp[i]));
        c->g_lf[i] = c->g_ls[i] = 0;
        memset(c->g_q[i], 0, sizeof(c->g_q[i]));
        memset(c->g_t[i], 0, sizeof(c->g_t[i]));
        const sga_view *v = &c->v[i];
        memset(c->g_cd[i], 0, sizeof(double) * (size_t)(v->gh * v->gw));
        memset(c->gP[i], 0, sizeof(double) * (size_t)(v->np * 3));
        memset(cg->gRc[i], 0, sizeof(cg->gRc[i]));
        memset(cg->gtc[i], 0, sizeof(cg->gtc[i]));
        cg->gf[i] = cg->gcx[i] = cg->gcy[i] = 0;
        memset(cg->gdepth[i], 0, sizeof(double) * (size_t)(v->gh * v->gw));
    }
}

// One stage (mast3r: optimize_loop). fine = 0: loss_3d, quats / trans / sizes trained; fine = 1: loss_2d,
// everything trained (pp with opt_pp, depths with opt_depth). Records loss and lr per iteration; leaves the
// forward state of the last iteration's start in c (upstream's returned K, cam2w, depthmaps, pts3d).
static pc_status stage(sga_ctx *c, cam_grads *cg, int fine, double lr_base, int niter, double gam, const pc_sga_opts *o,
                       float *loss_out, float *lr_out, pc_error *err) {
    const int N = c->N;
    adam_moments M1, M2;
    memset(&M1, 0, sizeof(M1)), memset(&M2, 0, sizeof(M2));
    pc_status st = PC_OK;
    adam_moments *ms[2] = {&M1, &M2};
    for (int k = 0; k < 2; k++) {
        ms[k]->pp = (float(*)[2])calloc((size_t)N, sizeof(*ms[k]->pp));
        ms[k]->lf = (float *)calloc((size_t)N, sizeof(float));
        ms[k]->q = (float(*)[4])calloc((size_t)N, sizeof(*ms[k]->q));
        ms[k]->t = (float(*)[3])calloc((size_t)N, sizeof(*ms[k]->t));
        ms[k]->ls = (float *)calloc((size_t)N, sizeof(float));
        ms[k]->cd = (float **)calloc((size_t)N, sizeof(float *));
        if (!ms[k]->pp || !ms[k]->lf || !ms[k]->q || !ms[k]->t || !ms[k]->ls || !ms[k]->cd) st = PC_ERR_MEMORY;
        for (int i = 0; ms[k]->cd && i < N; i++) {
            ms[k]->cd[i] = (float *)calloc((size_t)(c->v[i].gh * c->v[i].gw), sizeof(float));
            if (!ms[k]->cd[i]) st = PC_ERR_MEMORY;
        }
    }
    if (st != PC_OK) st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
    for (int it = 0; it < (niter ? niter : 1) && st == PC_OK; it++) {
        forward(c);
        if (niter == 0) break;
        const double alpha = (double)it / niter, lr = (lr_base) * (1 + cos(alpha * M_PI)) / 2;  // cosine_schedule to 0
        zero_grads(c, cg);
        const double loss = fine ? loss_2d(c, gam, cg) : loss_3d(c, gam);
        if (loss_out) loss_out[it] = (float)loss;
        if (lr_out) lr_out[it] = (float)lr;
        if (loss != loss) break;  // NaN: upstream stops
        backward(c, cg);
        const int step = it + 1;
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < 4; k++) adam1(&c->q[i][k], &M1.q[i][k], &M2.q[i][k], c->g_q[i][k], lr, step);
            for (int k = 0; k < 3; k++) adam1(&c->t[i][k], &M1.t[i][k], &M2.t[i][k], c->g_t[i][k], lr, step);
            adam1(&c->ls[i], &M1.ls[i], &M2.ls[i], c->g_ls[i], lr, step);
            if (fine && !c->fixed_K[i]) {
                if (o->opt_pp)
                    for (int k = 0; k < 2; k++) adam1(&c->pp[i][k], &M1.pp[i][k], &M2.pp[i][k], c->g_pp[i][k], lr, step);
                adam1(&c->lf[i], &M1.lf[i], &M2.lf[i], c->g_lf[i], lr, step);
            }
            if (fine) {
                if (o->opt_depth)
                    for (int a = 0; a < c->v[i].gh * c->v[i].gw; a++)
                        adam1(&c->cd[i][a], &M1.cd[i][a], &M2.cd[i][a], c->g_cd[i][a], lr, step);
            }
        }
        for (int i = 0; i < N; i++) {  // quats[i].data /= quats[i].data.norm()
            float n2 = 0;
            for (int k = 0; k < 4; k++) n2 += c->q[i][k] * c->q[i][k];
            const float n = sqrtf(n2);
            for (int k = 0; k < 4; k++) c->q[i][k] /= n;
        }
    }
    for (int k = 0; k < 2; k++) {
        if (ms[k]->cd)
            for (int i = 0; i < N; i++) free(ms[k]->cd[i]);
        free(ms[k]->pp), free(ms[k]->lf), free(ms[k]->q), free(ms[k]->t), free(ms[k]->ls), free(ms[k]->cd);
    }
    return st;
}

// ---- the whole alignment -----------------------------------------------------------------------------

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void pc_sga_result_free(pc_sga_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n_views; i++) {
        if (r->core_depth) free(r->core_depth[i]);
        if (r->depth) free(r->depth[i]);
        if (r->pts_pixel) free(r->pts_pixel[i]);
        if (r->anchor_offset) free(r->anchor_offset[i]);
        if (r->pts3d) free(r->pts3d[i]);
        if (r->canon2) free(r->canon2[i]);
        if (r->cconf) free(r->cconf[i]);
    }
    free(r->H), free(r->W), free(r->canon2), free(r->cconf);
    free(r->c2w), free(r->K), free(r->edges), free(r->base_focal), free(r->grid_h), free(r->grid_w);
    free(r->core_depth), free(r->depth), free(r->n_pts), free(r->pts_pixel), free(r->anchor_offset), free(r->pts3d);
    free(r->loss_coarse), free(r->lr_coarse), free(r->loss_fine), free(r->lr_fine);
    memset(r, 0, sizeof(*r));
}

// Find the ordered pair (a, b) in the list, or -1.
static int find_pair(const pc_sga_input *in, int a, int b) {
    for (int p = 0; p < in->n_pairs; p++)
        if (in->pairs[p].a == a && in->pairs[p].b == b) return p;
    return -1;
}

pc_status pc_sga_run(pc_sga_result *res, const pc_sga_input *in, const pc_sga_opts *opts, pc_error *err) {
    if (!res) return pc_err(err, PC_ERR_ARG, "pc_sga_run: NULL result");
    memset(res, 0, sizeof(*res));
    pc_sga_opts o;
    if (opts) o = *opts;
    else pc_sga_opts_default(&o);
    if (!in || in->n_views < 2 || in->n_views > 64 || in->n_pairs < 1 || !in->pairs || !in->H || !in->W)
        return pc_err(err, PC_ERR_ARG, "sparse GA: need 2 .. 64 views and their pairs");
    if (o.subsample < 2 || o.subsample % 2 || o.niter1 < 0 || o.niter2 < 0)
        return pc_err(err, PC_ERR_ARG, "sparse GA: bad options (subsample %d, niter %d / %d)", o.subsample, o.niter1,
                      o.niter2);
    const int N = in->n_views, S = o.subsample;
    for (int k = 0; k < N; k++)
        if (in->H[k] < S || in->W[k] < S || in->H[k] % S || in->W[k] % S || in->H[k] > 8192 || in->W[k] > 8192)
            return pc_err(err, PC_ERR_ARG, "sparse GA: view %d is %dx%d, not a multiple of the subsample %d", k,
                          in->W[k], in->H[k], S);
    for (int p = 0; p < in->n_pairs; p++) {
        const pc_sga_pair *q = &in->pairs[p];
        if (q->a < 0 || q->a >= N || q->b < 0 || q->b >= N || q->a == q->b || !q->X_a || !q->C_a || !q->X_b || !q->C_b ||
            (q->n_corr > 0 && (!q->corr_a || !q->corr_b || !q->corr_conf)) || q->n_corr < 0)
            return pc_err(err, PC_ERR_ARG, "sparse GA: pair %d is malformed", p);
        if (find_pair(in, q->b, q->a) < 0)
            return pc_err(err, PC_ERR_ARG, "sparse GA: pair (%d, %d) has no reverse (the pair list must be symmetrized)",
                          q->a, q->b);
        for (int64_t k = 0; k < q->n_corr; k++)
            if (q->corr_a[k] < 0 || q->corr_a[k] >= in->H[q->a] * in->W[q->a] || q->corr_b[k] < 0 ||
                q->corr_b[k] >= in->H[q->b] * in->W[q->b])
                return pc_err(err, PC_ERR_ARG, "sparse GA: pair (%d, %d), correspondence %lld is outside the image",
                              q->a, q->b, (long long)k);
    }
    pc_status st = PC_OK;
    sga_view *V = (sga_view *)calloc((size_t)N, sizeof(sga_view));
    double *scores = (double *)calloc((size_t)N * N, sizeof(double));
    int *npatch = (int *)calloc((size_t)N, sizeof(int));
    sga_slice *sl = (sga_slice *)calloc((size_t)in->n_pairs, sizeof(sga_slice));
    sga_slice *sl2 = (sga_slice *)calloc((size_t)in->n_pairs * 2, sizeof(sga_slice));
    const float **Xs = (const float **)calloc((size_t)in->n_pairs, sizeof(float *));
    const float **Cs = (const float **)calloc((size_t)in->n_pairs, sizeof(float *));
    sga_ctx c;
    memset(&c, 0, sizeof(c));
    cam_grads cg;
    memset(&cg, 0, sizeof(cg));
    if (!V || !scores || !npatch || !sl || !sl2 || !Xs || !Cs) {
        st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
        goto done;
    }
    // prepare_canonical_data: per image, its head-1 maps over the pairs it is in, and its partners' pixels
    for (int v = 0; v < N && st == PC_OK; v++) {
        sga_view *w = &V[v];
        w->H = in->H[v], w->W = in->W[v];
        w->gh = (w->H - S / 2 + S - 1) / S, w->gw = (w->W - S / 2 + S - 1) / S;
        npatch[v] = (w->W / S) * (w->H / S);
        int n = 0;
        for (int p = 0; p < in->n_pairs; p++) {
            const pc_sga_pair *q = &in->pairs[p];
            if (q->a != v && q->b != v) continue;
            const int other = q->a == v ? q->b : q->a;
            const pc_sga_pair *own = q->a == v ? q : &in->pairs[find_pair(in, v, other)];  // forward/v/other
            Xs[n] = own->X_a, Cs[n] = own->C_a, n++;
            // pixels[other] = this image's side of the correspondences (dict: first key position, last value)
            int k = 0;
            while (k < w->n_part && w->part[k].partner != other) k++;
            if (k == w->n_part) {
                if (w->n_part == 64) {
                    st = pc_err(err, PC_ERR_UNSUPPORTED, "sparse GA: view %d has more than 64 partners", v);
                    break;
                }
                w->n_part++;
            }
            w->part[k].partner = other;
            w->part[k].pix = q->a == v ? q->corr_a : q->corr_b;
            w->part[k].conf = q->corr_conf;
            w->part[k].n = q->n_corr;
            scores[q->a * N + q->b] = scores[q->b * N + q->a] = (double)q->n_corr;  // score[2]: the count
        }
        if (st != PC_OK) break;
        if (n == 0) {
            st = pc_err(err, PC_ERR_ARG, "sparse GA: view %d is in no pair", v);
            break;
        }
        if ((st = canonical_view(w, Xs, Cs, n, S, err)) != PC_OK) break;
        w->bf = (float)pc_ga_estimate_focal(w->canon, w->H, w->W, w->W / 2.0, w->H / 2.0, 0.5, 3.5);
        w->core = (float *)malloc(sizeof(float) * (size_t)(w->gh * w->gw));
        int64_t np = 0;
        for (int k = 0; k < w->n_part; k++) w->part[k].off = np, np += w->part[k].n;
        w->np = np;
        w->uv = (float *)malloc(sizeof(float) * (size_t)(2 * np + 2));
        w->pix = (int32_t *)malloc(sizeof(int32_t) * (size_t)(np + 1));
        w->aidx = (int32_t *)malloc(sizeof(int32_t) * (size_t)(np + 1));
        w->off = (float *)malloc(sizeof(float) * (size_t)(np + 1));
        if (!w->core || !w->uv || !w->pix || !w->aidx || !w->off) {
            st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
            break;
        }
        for (int y = 0; y < w->gh; y++)
            for (int x = 0; x < w->gw; x++)
                w->core[y * w->gw + x] = w->canon[((int64_t)(S / 2 + S * y) * w->W + S / 2 + S * x) * 3 + 2];
        // anchor_depth_offsets on canon2: the anchor of a pixel is its S x S cell's centre
        for (int k = 0; k < w->n_part; k++)
            for (int64_t j = 0; j < w->part[k].n; j++) {
                const int64_t p = w->part[k].off + j;
                const int32_t pix = w->part[k].pix[j], px = pix % w->W, py = pix / w->W;
                const int32_t a = (py / S) * w->gw + px / S;
                const float ref = w->canon2[(int64_t)(S / 2 + S * (a / w->gw)) * w->W + S / 2 + S * (a % w->gw)];
                w->uv[2 * p] = (float)px, w->uv[2 * p + 1] = (float)py;
                w->pix[p] = pix, w->aidx[p] = a;
                w->off[p] = w->canon2[pix] / ref;
            }
    }
    if (st != PC_OK) goto done;
    // condense_data: the loss terms in the pair list's order
    int nsl = 0, nsl2 = 0;
    for (int p = 0; p < in->n_pairs; p++) {
        const pc_sga_pair *q = &in->pairs[p];
        const sga_part *pa = NULL, *pb = NULL;
        for (int k = 0; k < V[q->a].n_part; k++)
            if (V[q->a].part[k].partner == q->b) pa = &V[q->a].part[k];
        for (int k = 0; k < V[q->b].n_part; k++)
            if (V[q->b].part[k].partner == q->a) pb = &V[q->b].part[k];
        if (!pa || !pb || pa->n != pb->n) {
            st = pc_err(err, PC_ERR_ARG, "sparse GA: pair (%d, %d) and its reverse disagree on the correspondences", q->a,
                        q->b);
            goto done;
        }
        sga_slice L = {q->a, q->b, pa->off, pb->off, pa->n, (float *)malloc(sizeof(float) * (size_t)(pa->n + 1))};
        if (!L.conf) {
            st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
            goto done;
        }
        float mx = -INFINITY;
        for (int64_t k = 0; k < pa->n; k++) {
            L.conf[k] = sqrtf(pa->conf[k] * pb->conf[k]);
            mx = fmaxf(mx, L.conf[k]);
        }
        if (!(mx > o.matching_conf_thr)) {  // upstream falls back to a sparse DUSt3R loss: not ported
            free(L.conf);
            st = pc_err(err, PC_ERR_UNSUPPORTED,
                        "sparse GA: views %d and %d have no match with confidence > %g (upstream's DUSt3R fallback loss "
                        "is not ported; use the dense alignment)",
                        q->a, q->b, (double)o.matching_conf_thr);
            goto done;
        }
        sl[nsl++] = L;
        // loss_2d: corres2d[a] += (a's pixels, conf, b, b's slice); corres2d[b] += (b's pixels, conf, a, a's slice)
        sl2[nsl2++] = (sga_slice){q->a, q->b, pa->off, pb->off, pa->n, L.conf};
        sl2[nsl2++] = (sga_slice){q->b, q->a, pb->off, pa->off, pa->n, L.conf};
    }
    // corres2d is visited image by image: order the 2-D terms by their own image (stable)
    for (int a = 1; a < nsl2; a++) {
        sga_slice x = sl2[a];
        int b = a - 1;
        while (b >= 0 && sl2[b].i > x.i) sl2[b + 1] = sl2[b], b--;
        sl2[b + 1] = x;
    }
    c.N = N, c.v = V, c.sl = sl, c.nsl = nsl, c.sl2 = sl2, c.nsl2 = nsl2;
    c.edges = (int(*)[2])calloc((size_t)N, sizeof(*c.edges));
    c.pp = (float(*)[2])calloc((size_t)N, sizeof(*c.pp)), c.lf = (float *)calloc((size_t)N, sizeof(float));
    c.q = (float(*)[4])calloc((size_t)N, sizeof(*c.q)), c.t = (float(*)[3])calloc((size_t)N, sizeof(*c.t));
    c.ls = (float *)calloc((size_t)N, sizeof(float)), c.cd = (float **)calloc((size_t)N, sizeof(float *));
    c.fmin = (float *)calloc((size_t)N, sizeof(float)), c.fmax = (float *)calloc((size_t)N, sizeof(float));
    c.fixed_K = (unsigned char *)calloc((size_t)N, 1);
    c.g_pp = (double(*)[2])calloc((size_t)N, sizeof(*c.g_pp)), c.g_lf = (double *)calloc((size_t)N, sizeof(double));
    c.g_q = (double(*)[4])calloc((size_t)N, sizeof(*c.g_q)), c.g_t = (double(*)[3])calloc((size_t)N, sizeof(*c.g_t));
    c.g_ls = (double *)calloc((size_t)N, sizeof(double)), c.g_cd = (double **)calloc((size_t)N, sizeof(double *));
    c.f = (double *)calloc((size_t)N, sizeof(double)), c.F = (double *)calloc((size_t)N, sizeof(double));
    c.s = (double *)calloc((size_t)N, sizeof(double)), c.z = (double *)calloc((size_t)N, sizeof(double));
    c.R = (double(*)[9])calloc((size_t)N, sizeof(*c.R)), c.qn = (double(*)[4])calloc((size_t)N, sizeof(*c.qn));
    c.qnorm = (double *)calloc((size_t)N, sizeof(double));
    c.RT = (double(*)[9])calloc((size_t)N, sizeof(*c.RT)), c.tT = (double(*)[3])calloc((size_t)N, sizeof(*c.tT));
    c.off = (double(*)[3])calloc((size_t)N, sizeof(*c.off));
    c.ppf = (double(*)[2])calloc((size_t)N, sizeof(*c.ppf));
    c.Rc = (double(*)[9])calloc((size_t)N, sizeof(*c.Rc)), c.tc = (double(*)[3])calloc((size_t)N, sizeof(*c.tc));
    c.depth = (double **)calloc((size_t)N, sizeof(double *)), c.P = (double **)calloc((size_t)N, sizeof(double *));
    c.gP = (double **)calloc((size_t)N, sizeof(double *));
    cg.gRc = (double(*)[9])calloc((size_t)N, sizeof(*cg.gRc)), cg.gtc = (double(*)[3])calloc((size_t)N, sizeof(*cg.gtc));
    cg.gf = (double *)calloc((size_t)N, sizeof(double)), cg.gcx = (double *)calloc((size_t)N, sizeof(double));
    cg.gcy = (double *)calloc((size_t)N, sizeof(double)), cg.gdepth = (double **)calloc((size_t)N, sizeof(double *));
    if (!c.edges || !c.pp || !c.lf || !c.q || !c.t || !c.ls || !c.cd || !c.fmin || !c.fmax || !c.fixed_K || !c.g_pp || !c.g_lf ||
        !c.g_q || !c.g_t || !c.g_ls || !c.g_cd || !c.f || !c.F || !c.s || !c.z || !c.R || !c.qn || !c.qnorm || !c.RT ||
        !c.tT || !c.off || !c.ppf || !c.Rc || !c.tc || !c.depth || !c.P || !c.gP || !cg.gRc || !cg.gtc || !cg.gf || !cg.gcx ||
        !cg.gcy || !cg.gdepth) {
        st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
        goto done;
    }
    for (int i = 0; i < N; i++) {
        const sga_view *w = &V[i];
        const int na = w->gh * w->gw;
        c.cd[i] = (float *)malloc(sizeof(float) * (size_t)na);
        c.g_cd[i] = (double *)malloc(sizeof(double) * (size_t)na);
        c.depth[i] = (double *)malloc(sizeof(double) * (size_t)na);
        cg.gdepth[i] = (double *)malloc(sizeof(double) * (size_t)na);
        c.P[i] = (double *)malloc(sizeof(double) * (size_t)(w->np * 3 + 3));
        c.gP[i] = (double *)malloc(sizeof(double) * (size_t)(w->np * 3 + 3));
        if (!c.cd[i] || !c.g_cd[i] || !c.depth[i] || !cg.gdepth[i] || !c.P[i] || !c.gP[i]) {
            st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
            goto done;
        }
    }
    kinematic_chain(scores, npatch, N, &c.root, c.edges);
    // sparse_scene_optimizer's init: identity rotations, zero translations and log sizes, pp (0.5, 0.5),
    // log focal = log(base focal), anchor depths over their (lower) median
    for (int i = 0; i < N; i++) {
        sga_view *w = &V[i];
        const int na = w->gh * w->gw;
        float *tmp = (float *)malloc(sizeof(float) * (size_t)na);
        if (!tmp) {
            st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
            goto done;
        }
        memcpy(tmp, w->core, sizeof(float) * (size_t)na);
        qsort(tmp, (size_t)na, sizeof(float), cmp_float);
        w->med = tmp[(na - 1) / 2];
        free(tmp);
        for (int a = 0; a < na; a++) c.cd[i][a] = w->core[a] / w->med;
        c.q[i][0] = c.q[i][1] = c.q[i][2] = 0, c.q[i][3] = 1;
        c.pp[i][0] = (float)((float)(w->W / 2.0) / (float)w->W), c.pp[i][1] = (float)((float)(w->H / 2.0) / (float)w->H);
        const pc_align_intrinsics *K = in->intrinsics && in->intrinsics[i].known ? &in->intrinsics[i] : NULL;
        if (K) {  // init[img]['intrinsics']: base focal and principal point from K
            if (!(K->f > 0 && isfinite(K->f) && isfinite(K->cx) && isfinite(K->cy))) {
                st = pc_err(err, PC_ERR_ARG, "sparse GA: known intrinsics of view %d are invalid", i);
                goto done;
            }
            w->bf = (float)K->f;
            c.pp[i][0] = (float)K->cx, c.pp[i][1] = (float)K->cy;
            c.pp[i][0] /= (float)w->W, c.pp[i][1] /= (float)w->H;
            c.fixed_K[i] = 1;
        }
        c.lf[i] = logf(w->bf);
        const float diag = sqrtf((float)w->W * w->W + (float)w->H * w->H);
        c.fmin[i] = 0.25f * diag, c.fmax[i] = 10 * diag;
    }
    res->n_views = N;
    res->niter1 = o.niter1, res->niter2 = o.niter2;
    res->loss_coarse = (float *)calloc((size_t)o.niter1 + 1, sizeof(float));
    res->lr_coarse = (float *)calloc((size_t)o.niter1 + 1, sizeof(float));
    res->loss_fine = (float *)calloc((size_t)o.niter2 + 1, sizeof(float));
    res->lr_fine = (float *)calloc((size_t)o.niter2 + 1, sizeof(float));
    if (!res->loss_coarse || !res->lr_coarse || !res->loss_fine || !res->lr_fine) {
        st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
        goto done;
    }
    st = stage(&c, &cg, 0, o.lr1, o.niter1, 1.5, &o, res->loss_coarse, res->lr_coarse, err);
    if (st == PC_OK && o.niter2) st = stage(&c, &cg, 1, o.lr2, o.niter2, 0.5, &o, res->loss_fine, res->lr_fine, err);
    if (st != PC_OK) goto done;
    // the state at the start of the last iteration (c's forward state), as upstream returns it
    res->c2w = (float(*)[16])calloc((size_t)N, sizeof(*res->c2w));
    res->K = (float(*)[9])calloc((size_t)N, sizeof(*res->K));
    res->edges = (int(*)[2])calloc((size_t)N, sizeof(*res->edges));
    res->base_focal = (float *)calloc((size_t)N, sizeof(float));
    res->grid_h = (int *)calloc((size_t)N, sizeof(int)), res->grid_w = (int *)calloc((size_t)N, sizeof(int));
    res->core_depth = (float **)calloc((size_t)N, sizeof(float *)), res->depth = (float **)calloc((size_t)N, sizeof(float *));
    res->n_pts = (int64_t *)calloc((size_t)N, sizeof(int64_t));
    res->pts_pixel = (int32_t **)calloc((size_t)N, sizeof(int32_t *));
    res->anchor_offset = (float **)calloc((size_t)N, sizeof(float *)), res->pts3d = (float **)calloc((size_t)N, sizeof(float *));
    res->H = (int *)calloc((size_t)N, sizeof(int)), res->W = (int *)calloc((size_t)N, sizeof(int));
    res->canon2 = (float **)calloc((size_t)N, sizeof(float *)), res->cconf = (float **)calloc((size_t)N, sizeof(float *));
    if (!res->c2w || !res->K || !res->edges || !res->base_focal || !res->grid_h || !res->grid_w || !res->core_depth ||
        !res->depth || !res->n_pts || !res->pts_pixel || !res->anchor_offset || !res->pts3d || !res->H || !res->W ||
        !res->canon2 || !res->cconf) {
        st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
        goto done;
    }
    res->root = c.root;
    for (int e = 0; e < N - 1; e++) res->edges[e][0] = c.edges[e][0], res->edges[e][1] = c.edges[e][1];
    for (int i = 0; i < N; i++) {
        const sga_view *w = &V[i];
        const int na = w->gh * w->gw;
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) res->c2w[i][r * 4 + k] = (float)c.Rc[i][r * 3 + k];
            res->c2w[i][r * 4 + 3] = (float)c.tc[i][r];
        }
        res->c2w[i][15] = 1;
        const float K[9] = {(float)c.f[i], 0, (float)(c.ppf[i][0] * w->W), 0, (float)c.f[i],
                            (float)(c.ppf[i][1] * w->H), 0, 0, 1};
        memcpy(res->K[i], K, sizeof(K));
        res->base_focal[i] = w->bf;
        res->H[i] = w->H, res->W[i] = w->W;
        res->canon2[i] = w->canon2, res->cconf[i] = w->cconf;  // handed over
        V[i].canon2 = V[i].cconf = NULL;
        res->grid_h[i] = w->gh, res->grid_w[i] = w->gw;
        res->n_pts[i] = w->np;
        res->core_depth[i] = (float *)malloc(sizeof(float) * (size_t)na);
        res->depth[i] = (float *)malloc(sizeof(float) * (size_t)na);
        res->pts_pixel[i] = (int32_t *)malloc(sizeof(int32_t) * (size_t)(w->np + 1));
        res->anchor_offset[i] = (float *)malloc(sizeof(float) * (size_t)(w->np + 1));
        res->pts3d[i] = (float *)malloc(sizeof(float) * (size_t)(w->np * 3 + 3));
        if (!res->core_depth[i] || !res->depth[i] || !res->pts_pixel[i] || !res->anchor_offset[i] || !res->pts3d[i]) {
            st = pc_err(err, PC_ERR_MEMORY, "sparse GA: out of memory");
            goto done;
        }
        memcpy(res->core_depth[i], w->core, sizeof(float) * (size_t)na);
        for (int a = 0; a < na; a++) res->depth[i][a] = (float)c.depth[i][a];
        memcpy(res->pts_pixel[i], w->pix, sizeof(int32_t) * (size_t)w->np);
        memcpy(res->anchor_offset[i], w->off, sizeof(float) * (size_t)w->np);
        for (int64_t p = 0; p < w->np * 3; p++) res->pts3d[i][p] = (float)c.P[i][p];
    }
done:
    if (st != PC_OK) pc_sga_result_free(res);
    for (int i = 0; V && i < N; i++) {
        free(V[i].canon), free(V[i].canon2), free(V[i].cconf), free(V[i].core), free(V[i].uv), free(V[i].pix),
            free(V[i].aidx), free(V[i].off);
        if (c.cd) free(c.cd[i]);
        if (c.g_cd) free(c.g_cd[i]);
        if (c.depth) free(c.depth[i]);
        if (c.P) free(c.P[i]);
        if (c.gP) free(c.gP[i]);
        if (cg.gdepth) free(cg.gdepth[i]);
    }
    for (int k = 0; sl && k < in->n_pairs; k++) free(sl[k].conf);
    free(V), free(scores), free(npatch), free(sl), free(sl2), free(Xs), free(Cs);
    free(c.edges), free(c.pp), free(c.lf), free(c.q), free(c.t), free(c.ls), free(c.cd), free(c.fmin), free(c.fmax);
    free(c.fixed_K);
    free(c.g_pp), free(c.g_lf), free(c.g_q), free(c.g_t), free(c.g_ls), free(c.g_cd), free(c.f), free(c.F), free(c.s);
    free(c.z), free(c.R), free(c.qn), free(c.qnorm), free(c.RT), free(c.tT), free(c.off), free(c.ppf), free(c.Rc), free(c.tc);
    free(c.depth), free(c.P), free(c.gP);
    free(cg.gRc), free(cg.gtc), free(cg.gf), free(cg.gcx), free(cg.gcy), free(cg.gdepth);
    return st;
}

void pc_sga_dense(const pc_sga_result *r, int k, int S, float *pts, float *depth) {
    const int H = r->H[k], W = r->W[k], gw = r->grid_w[k];
    const float *K = r->K[k], *c2w = r->c2w[k], *c2 = r->canon2[k];
    const double f = K[0], cx = K[2], cy = K[5], ratio = r->base_focal[k] / f;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const int64_t p = (int64_t)y * W + x;
            const int a = (y / S) * gw + x / S;
            const float ref = c2[(int64_t)(S / 2 + S * (a / gw)) * W + S / 2 + S * (a % gw)];
            const double o2 = 1 + ((double)(c2[p] / ref) - 1) * ratio, z = r->depth[k][a] * o2;
            const double X[3] = {z * (x - cx) / f, z * (y - cy) / f, z};
            if (depth) depth[p] = (float)z;
            for (int m = 0; m < 3; m++)
                pts[p * 3 + m] = (float)(c2w[m * 4] * X[0] + c2w[m * 4 + 1] * X[1] + c2w[m * 4 + 2] * X[2] + c2w[m * 4 + 3]);
        }
}
