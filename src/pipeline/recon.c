// DUSt3R + global alignment over a set of images (dust3r demo: load_images -> make_pairs(complete,
// symmetrize) -> inference -> global_aligner -> compute_global_alignment(init='mst')), as the pipeline
// uses it for the relay frames (stage 3), the final pose (stage 7) and the SCS selector.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "pipeline/pipeline_internal.h"

void pc_recon_free(pc_recon *r) {
    if (!r) return;
    for (int k = 0; k < r->n; k++) {
        if (r->u8) pc_image_free(&r->u8[k]);
        if (r->pts) free(r->pts[k]);
        if (r->conf) free(r->conf[k]);
    }
    free(r->u8);
    free(r->pts);
    free(r->conf);
    free(r->H);
    free(r->W);
    free(r->map);
    pc_align_result_free(&r->res);
    memset(r, 0, sizeof(*r));
}

// A K in pixels of the image given to pc_recon_run, in pixels of DUSt3R's input (the inverse of
// pc_recon_intrinsics): scaled by the resize, pixel centres through Pillow's (u + 0.5) mapping, minus the crop.
static pc_align_intrinsics to_working(const int m[6], const pc_intrinsics *K) {
    const double sx = (double)m[2] / m[0], sy = (double)m[3] / m[1];
    pc_align_intrinsics w = {1, 0.5 * (K->fx * sx + K->fy * sy), (K->cx + 0.5) * sx - 0.5 - m[4],
                             (K->cy + 0.5) * sy - 0.5 - m[5]};
    return w;
}

pc_status pc_recon_run(pc_recon *r, pc_dust3r *net, pc_pool *pool, const pc_image *imgs, int n, int size,
                       const char *graph, const pc_align_opts *o, const pc_intrinsics *known, pc_error *err) {
    memset(r, 0, sizeof(*r));
    if (!net || !imgs || n < 2 || n > 256 || size < 16)
        return pc_err(err, PC_ERR_ARG, "reconstruction: need 2 .. 256 images and a DUSt3R model");
    pc_status st = PC_OK;
    const int maxp = n * (n - 1);
    pc_tensor *x = (pc_tensor *)calloc((size_t)n, sizeof(pc_tensor));
    const pc_tensor **xp = (const pc_tensor **)calloc((size_t)n, sizeof(pc_tensor *));
    int *pairs = (int *)calloc((size_t)maxp * 2, sizeof(int));
    pc_dust3r_pair_out *outs = (pc_dust3r_pair_out *)calloc((size_t)maxp, sizeof(pc_dust3r_pair_out));
    pc_align_edge *edges = (pc_align_edge *)calloc((size_t)maxp, sizeof(pc_align_edge));
    pc_image rgb = {0};
    pc_align *ga = NULL;
    int np = 0;
    r->n = n;
    r->H = (int *)calloc((size_t)n, sizeof(int));
    r->W = (int *)calloc((size_t)n, sizeof(int));
    r->map = (int(*)[6])calloc((size_t)n, sizeof(*r->map));
    r->u8 = (pc_image *)calloc((size_t)n, sizeof(pc_image));
    r->pts = (float **)calloc((size_t)n, sizeof(float *));
    r->conf = (float **)calloc((size_t)n, sizeof(float *));
    if (!x || !xp || !pairs || !outs || !edges || !r->H || !r->W || !r->map || !r->u8 || !r->pts || !r->conf) {
        st = pc_err(err, PC_ERR_MEMORY, "reconstruction: out of memory");
        goto done;
    }
    for (int k = 0; k < n && st == PC_OK; k++) {
        st = pc_image_to_rgb(&rgb, &imgs[k], err);
        if (st == PC_OK) st = pc_dust3r_preprocess(&r->u8[k], &x[k], &rgb, size, 0, err);
        pc_image_free(&rgb);
        if (st != PC_OK) break;
        xp[k] = &x[k];
        r->H[k] = r->u8[k].h;
        r->W[k] = r->u8[k].w;
        // load_images: long side -> size (Python round, half to even), then a centred crop
        const int W0 = imgs[k].w, H0 = imgs[k].h, S = W0 > H0 ? W0 : H0;
        const int Wn = (int)nearbyint((double)W0 * size / S), Hn = (int)nearbyint((double)H0 * size / S);
        r->map[k][0] = W0, r->map[k][1] = H0, r->map[k][2] = Wn, r->map[k][3] = Hn;
        r->map[k][4] = Wn / 2 - r->W[k] / 2, r->map[k][5] = Hn / 2 - r->H[k] / 2;
    }
    if (st == PC_OK) st = pc_align_make_pairs(pairs, maxp, &np, n, graph ? graph : "complete", 1, err);
    if (st == PC_OK) st = pc_dust3r_pairs(net, xp, n, (const int(*)[2])pairs, np, outs, err);
    for (int e = 0; e < np && st == PC_OK; e++) {
        const int i = pairs[2 * e], j = pairs[2 * e + 1];
        const pc_dust3r_view_pred *v = outs[e].view;
        for (int s = 0; s < 2; s++) {
            const int k = s ? j : i;
            if (v[s].pts3d.dtype != PC_F32 || v[s].conf.dtype != PC_F32 || !pc_tensor_is_contiguous(&v[s].pts3d) ||
                !pc_tensor_is_contiguous(&v[s].conf) ||
                pc_tensor_numel(&v[s].pts3d) != (int64_t)r->H[k] * r->W[k] * 3 ||
                pc_tensor_numel(&v[s].conf) != (int64_t)r->H[k] * r->W[k])
                st = pc_err(err, PC_ERR_SHAPE, "reconstruction: DUSt3R output of pair (%d,%d) has a bad shape", i, j);
        }
        edges[e] = (pc_align_edge){i, j, (const float *)v[0].pts3d.data, (const float *)v[0].conf.data,
                                   (const float *)v[1].pts3d.data, (const float *)v[1].conf.data};
    }
    // per-view confidence = max over the edges that contain the view (dust3r: im_conf)
    for (int k = 0; k < n && st == PC_OK; k++) {
        const size_t hw = (size_t)r->H[k] * r->W[k];
        r->conf[k] = (float *)malloc(hw * sizeof(float));
        if (!r->conf[k]) {
            st = pc_err(err, PC_ERR_MEMORY, "reconstruction: out of memory");
            break;
        }
        for (size_t p = 0; p < hw; p++) r->conf[k][p] = 0;
        for (int e = 0; e < np; e++)
            for (int s = 0; s < 2; s++)
                if ((s ? edges[e].j : edges[e].i) == k) {
                    const float *c = s ? edges[e].conf_j : edges[e].conf_i;
                    for (size_t p = 0; p < hw; p++) r->conf[k][p] = c[p] > r->conf[k][p] ? c[p] : r->conf[k][p];
                }
    }
    pc_align_intrinsics *intr = known ? (pc_align_intrinsics *)calloc((size_t)n, sizeof(*intr)) : NULL;
    if (known && !intr && st == PC_OK) st = pc_err(err, PC_ERR_MEMORY, "reconstruction: out of memory");
    for (int k = 0; intr && k < n && st == PC_OK; k++) {
        if (!(known[k].fx > 0)) continue;
        if (!(known[k].fy > 0) || !isfinite(known[k].fx + known[k].fy + known[k].cx + known[k].cy)) {
            st = pc_err(err, PC_ERR_ARG, "reconstruction: intrinsics of view %d are invalid (fx %g fy %g cx %g cy %g)", k,
                        known[k].fx, known[k].fy, known[k].cx, known[k].cy);
            break;
        }
        intr[k] = to_working(r->map[k], &known[k]);
        r->n_known++;
    }
    if (st == PC_OK) {
        pc_align_input in = {n, r->H, r->W, np, edges, intr};
        if (n == 2 && np == 2) {
            r->pairviewer = 1;
            st = pc_align_pairviewer(&r->res, &in, o, err);
        } else {
            st = pc_align_create(&ga, &in, o, pool, err);
            if (st == PC_OK) st = pc_align_init_mst(ga, err);
            if (st == PC_OK) st = pc_align_optimize(ga, NULL, &r->loss, err);
            if (st == PC_OK) st = pc_align_get_result(&r->res, ga, err);
        }
    }
    if (st == PC_OK) {
        float **pts = NULL;
        st = pc_align_result_pts3d(&pts, &r->res, r->H, r->W, err);
        if (st == PC_OK) {
            for (int k = 0; k < n; k++) r->pts[k] = pts[k];
            free(pts);
        }
    }
    free(intr);
done:
    pc_align_free(ga);
    for (int e = 0; e < np && outs; e++) pc_dust3r_pair_out_free(&outs[e]);
    if (x)
        for (int k = 0; k < n; k++) pc_tensor_free(&x[k]);
    free(x);
    free(xp);
    free(pairs);
    free(outs);
    free(edges);
    if (st != PC_OK) pc_recon_free(r);
    return st;
}

void pc_recon_intrinsics(const pc_recon *r, int k, double *fx, double *fy, double *cx, double *cy) {
    const int *m = r->map[k];
    const double sx = (double)m[2] / m[0], sy = (double)m[3] / m[1];
    const double f = r->res.focals[k];
    // working pixel u (centre at u) = resized pixel u + x0; resized -> original: (u + 0.5) / s - 0.5
    *fx = f / sx;
    *fy = f / sy;
    *cx = (r->res.pp[k][0] + m[4] + 0.5) / sx - 0.5;
    *cy = (r->res.pp[k][1] + m[5] + 0.5) / sy - 0.5;
}

pc_status pc_recon_write(const pc_recon *r, const char *dir, const char *const *names, float min_conf, pc_error *err) {
    pc_status st = pc_pipe_mkdir(dir, err);
    const uint8_t **rgb = (const uint8_t **)calloc((size_t)r->n, sizeof(uint8_t *));
    uint8_t **masks = (uint8_t **)calloc((size_t)r->n, sizeof(uint8_t *));
    char path[4200];
    if (st == PC_OK && (!rgb || !masks)) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    for (int k = 0; k < r->n && st == PC_OK; k++) {
        const size_t hw = (size_t)r->H[k] * r->W[k];
        rgb[k] = r->u8[k].data;
        masks[k] = (uint8_t *)malloc(hw);
        if (!masks[k]) {
            st = pc_err(err, PC_ERR_MEMORY, "out of memory");
            break;
        }
        for (size_t p = 0; p < hw; p++) masks[k][p] = r->conf[k][p] > min_conf;
    }
    if (st == PC_OK) {
        snprintf(path, sizeof(path), "%s/cameras.json", dir);
        st = pc_align_write_cameras_json(path, &r->res, r->H, r->W, names, err);
    }
    if (st == PC_OK)
        st = pc_align_write_colmap(dir, &r->res, r->H, r->W, names, (const float *const *)r->pts, rgb,
                                   (const uint8_t *const *)masks, err);
    if (st == PC_OK) {
        snprintf(path, sizeof(path), "%s/points.ply", dir);
        st = pc_align_write_ply(path, r->n, r->H, r->W, (const float *const *)r->pts, rgb,
                                (const uint8_t *const *)masks, err);
    }
    if (masks)
        for (int k = 0; k < r->n; k++) free(masks[k]);
    free(masks);
    free(rgb);
    return st;
}
