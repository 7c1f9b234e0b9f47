// PairViewer (dust3r/cloud_opt/pair_viewer.py) and the world points of an alignment result. (Its files,
// cameras.json, COLMAP text and PLY, are written by io/align_writers.c.)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "align/global_align_internal.h"
#include "posecrafter/io.h"

// ---- PairViewer ---------------------------------------------------------------------------

pc_status pc_align_pairviewer(pc_align_result *res, const pc_align_input *in, const pc_align_opts *opts,
                              pc_error *err) {
    memset(res, 0, sizeof(*res));
    pc_align_opts o;
    if (opts) o = *opts;
    else pc_align_opts_default(&o);
    if (!in || in->n_views != 2 || in->n_edges != 2)
        return pc_err(err, PC_ERR_ARG, "PairViewer needs exactly 2 views and the 2 symmetric edges");
    int e01 = -1, e10 = -1; // edge "0_1" and "1_0"
    for (int e = 0; e < 2; e++) {
        if (in->edges[e].i == 0 && in->edges[e].j == 1) e01 = e;
        if (in->edges[e].i == 1 && in->edges[e].j == 0) e10 = e;
    }
    if (e01 < 0 || e10 < 0) return pc_err(err, PC_ERR_ARG, "PairViewer needs edges (0,1) and (1,0)");
    pc_align *ga;
    pc_status st = pc_align_create(&ga, in, &o, NULL, err); // for im_conf
    if (st != PC_OK) return st;
    res->n_views = 2;
    res->c2w = (float(*)[16])calloc(2, sizeof(*res->c2w));
    res->focals = (float *)calloc(2, sizeof(float));
    res->pp = (float(*)[2])calloc(2, sizeof(*res->pp));
    res->depth = (float **)calloc(2, sizeof(float *));
    if (!res->c2w || !res->focals || !res->pp || !res->depth) goto oom;
    double rel[2][16];
    double confs[2];
    for (int i = 0; i < 2; i++) {
        const pc_align_edge *eij = &in->edges[i == 0 ? e01 : e10]; // edge (i, 1-i)
        const pc_align_edge *eji = &in->edges[i == 0 ? e10 : e01]; // edge (1-i, i)
        int H = ga->H[i], W = ga->W[i];
        int64_t hw = ga->hw[i];
        double a = 0, b = 0;
        for (int64_t p = 0; p < hw; p++) a += eij->conf_i[p];
        for (int64_t p = 0; p < ga->hw[1 - i]; p++) b += eij->conf_j[p];
        confs[i] = (double)((float)(a / hw) * (float)(b / ga->hw[1 - i]));
        const pc_align_intrinsics *K = in->intrinsics && in->intrinsics[i].known ? &in->intrinsics[i] : NULL;
        double f = K ? K->f : pc_ga_estimate_focal(eij->pts_i, H, W, W / 2.0, H / 2.0, 0.0, INFINITY);
        const double ppx = K ? K->cx : W / 2.0, ppy = K ? K->cy : H / 2.0;
        res->focals[i] = (float)f;
        res->pp[i][0] = (float)ppx;
        res->pp[i][1] = (float)ppy;
        // pose of camera i in camera (1-i)'s frame, from view i's points predicted in that frame
        for (int q = 0; q < 16; q++) rel[i][q] = (q % 5 == 0);
        float *X = NULL, *uv = NULL;
        const int64_t cnt = pc_ga_confident_points(&X, &uv, eji->pts_j, ga->im_conf[i], hw, W, o.min_conf_thr);
        if (cnt < 0) goto oom;
        if (cnt >= 4) {
            double R[9], t[3];
            int inl = pc_align_pnp_ransac(R, t, X, uv, cnt, f, ppx, ppy, 100, 5.0, o.seed + 7u * (uint64_t)i);
            if (inl > 0)
                for (int r = 0; r < 3; r++) {
                    for (int c = 0; c < 3; c++) rel[i][r * 4 + c] = R[c * 3 + r];
                    rel[i][r * 4 + 3] = -(R[r] * t[0] + R[3 + r] * t[1] + R[6 + r] * t[2]);
                }
        }
        free(X);
        free(uv);
    }
    // the more confident direction's camera is the world
    int ref = confs[0] > confs[1] ? 0 : 1, oth = 1 - ref;
    const pc_align_edge *eref = &in->edges[ref == 0 ? e01 : e10]; // edge (ref, oth)
    for (int q = 0; q < 16; q++) {
        res->c2w[ref][q] = (float)(q % 5 == 0);
        res->c2w[oth][q] = (float)rel[oth][q];
    }
    res->depth[ref] = (float *)malloc((size_t)ga->hw[ref] * sizeof(float));
    res->depth[oth] = (float *)malloc((size_t)ga->hw[oth] * sizeof(float));
    if (!res->depth[ref] || !res->depth[oth]) goto oom;
    for (int64_t p = 0; p < ga->hw[ref]; p++) res->depth[ref][p] = eref->pts_i[p * 3 + 2];
    {
        const double *P = rel[oth]; // depth = z of inv(P) X = R^T (X - t)
        for (int64_t p = 0; p < ga->hw[oth]; p++) {
            const float *X = eref->pts_j + p * 3;
            res->depth[oth][p] =
                (float)(P[2] * (X[0] - P[3]) + P[6] * (X[1] - P[7]) + P[10] * (X[2] - P[11]));
        }
    }
    pc_align_free(ga);
    return PC_OK;
oom:
    pc_align_free(ga);
    pc_align_result_free(res);
    return pc_err(err, PC_ERR_MEMORY, "PairViewer: out of memory");
}

// ---- result -> points -------------------------------------------------------------------------

pc_status pc_align_result_pts3d(float ***out, const pc_align_result *res, const int *heights, const int *widths,
                                pc_error *err) {
    float **pts = (float **)calloc((size_t)res->n_views, sizeof(float *));
    if (!pts) return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
    for (int k = 0; k < res->n_views; k++) {
        int64_t hw = (int64_t)heights[k] * widths[k];
        pts[k] = (float *)malloc((size_t)hw * 3 * sizeof(float));
        if (!pts[k]) {
            for (int q = 0; q < k; q++) free(pts[q]);
            free(pts);
            return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
        }
        const float *P = res->c2w[k];
        float f = res->focals[k], cx = res->pp[k][0], cy = res->pp[k][1];
        for (int64_t p = 0; p < hw; p++) {
            float d = res->depth[k][p];
            float x = d * ((float)(p % widths[k]) - cx) / f, y = d * ((float)(p / widths[k]) - cy) / f, z = d;
            for (int r = 0; r < 3; r++) pts[k][p * 3 + r] = P[r * 4] * x + P[r * 4 + 1] * y + P[r * 4 + 2] * z + P[r * 4 + 3];
        }
    }
    *out = pts;
    return PC_OK;
}
