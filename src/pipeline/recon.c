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

// load_images for view k into r (u8, network input x, size and the mapping back to the input's pixels).
static pc_status prepare_view(pc_recon *r, int k, const pc_image *img, pc_tensor *x, int size, pc_error *err) {
    pc_image rgb = {0};
    pc_status st = pc_image_to_rgb(&rgb, img, err);
    if (st == PC_OK) st = pc_dust3r_preprocess(&r->u8[k], x, &rgb, size, 0, err);
    pc_image_free(&rgb);
    if (st != PC_OK) return st;
    r->H[k] = r->u8[k].h;
    r->W[k] = r->u8[k].w;
    // load_images: long side -> size (Python round, half to even), then a centred crop
    const int W0 = img->w, H0 = img->h, S = W0 > H0 ? W0 : H0;
    const int Wn = (int)nearbyint((double)W0 * size / S), Hn = (int)nearbyint((double)H0 * size / S);
    r->map[k][0] = W0, r->map[k][1] = H0, r->map[k][2] = Wn, r->map[k][3] = Hn;
    r->map[k][4] = Wn / 2 - r->W[k] / 2, r->map[k][5] = Hn / 2 - r->H[k] / 2;
    return PC_OK;
}

static pc_status recon_alloc(pc_recon *r, int n, pc_error *err) {
    r->n = n;
    r->H = (int *)calloc((size_t)n, sizeof(int));
    r->W = (int *)calloc((size_t)n, sizeof(int));
    r->map = (int(*)[6])calloc((size_t)n, sizeof(*r->map));
    r->u8 = (pc_image *)calloc((size_t)n, sizeof(pc_image));
    r->pts = (float **)calloc((size_t)n, sizeof(float *));
    r->conf = (float **)calloc((size_t)n, sizeof(float *));
    if (!r->H || !r->W || !r->map || !r->u8 || !r->pts || !r->conf)
        return pc_err(err, PC_ERR_MEMORY, "reconstruction: out of memory");
    return PC_OK;
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
    pc_align *ga = NULL;
    int np = 0;
    st = recon_alloc(r, n, err);
    if (st == PC_OK && (!x || !xp || !pairs || !outs || !edges))
        st = pc_err(err, PC_ERR_MEMORY, "reconstruction: out of memory");
    if (st != PC_OK) goto done;
    for (int k = 0; k < n && st == PC_OK; k++) {
        st = prepare_view(r, k, &imgs[k], &x[k], size, err);
        xp[k] = &x[k];
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
    char *path = NULL;
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
        path = pc_path_join(dir, "cameras.json");
        st = path ? pc_align_write_cameras_json(path, &r->res, r->H, r->W, names, err)
                  : pc_err(err, PC_ERR_MEMORY, "out of memory");
        free(path);
    }
    if (st == PC_OK)
        st = pc_align_write_colmap(dir, &r->res, r->H, r->W, names, (const float *const *)r->pts, rgb,
                                   (const uint8_t *const *)masks, err);
    if (st == PC_OK) {
        path = pc_path_join(dir, "points.ply");
        st = path ? pc_align_write_ply(path, r->n, r->H, r->W, (const float *const *)r->pts, rgb,
                                       (const uint8_t *const *)masks, err)
                  : pc_err(err, PC_ERR_MEMORY, "out of memory");
        free(path);
    }
    if (masks)
        for (int k = 0; k < r->n; k++) free(masks[k]);
    free(masks);
    free(rgb);
    return st;
}

// ---- MASt3R sparse alignment ---------------------------------------------------------------------------

typedef struct {
    int n_pairs;
    const int (*order)[2];      // the inference order: each unordered pair's two ordered pairs in a row
    pc_dust3r_pair_out *outs;   // (n_pairs) in inference order, descriptors freed once used
    int32_t **ci, **cj;         // per unordered pair (u = k / 2): correspondences (first image, second)
    float **cc;
    int64_t *cn;
    const int *W, *H;
    pc_pool *pool;
    int S;                      // fast_reciprocal_NNs subsample
} sparse_ctx;

static pc_status on_pair(void *p, int k, pc_dust3r_pair_out *out, pc_error *err) {
    sparse_ctx *c = (sparse_ctx *)p;
    c->outs[k] = *out;
    if (k % 2 == 0) return PC_OK;  // wait for the reverse pair
    const int u = k / 2, a = c->order[k - 1][0], b = c->order[k - 1][1];
    pc_dust3r_pair_out *o1 = &c->outs[k - 1], *o2 = &c->outs[k];  // decode(a, b), decode(b, a)
    pc_status st = pc_mast3r_correspondences(
        &c->ci[u], &c->cj[u], &c->cc[u], &c->cn[u], pc_tensor_f32(&o1->view[0].desc), pc_tensor_f32(&o1->view[0].desc_conf),
        pc_tensor_f32(&o1->view[1].desc), pc_tensor_f32(&o1->view[1].desc_conf), pc_tensor_f32(&o2->view[0].desc),
        pc_tensor_f32(&o2->view[0].desc_conf), pc_tensor_f32(&o2->view[1].desc), pc_tensor_f32(&o2->view[1].desc_conf),
        c->H[a], c->W[a], c->H[b], c->W[b], (int)o1->view[0].desc.shape[2], c->S, c->pool, err);
    for (int q = 0; q < 2; q++)
        for (int v = 0; v < 2; v++) {
            pc_tensor_free(&c->outs[k - 1 + q].view[v].desc);
            pc_tensor_free(&c->outs[k - 1 + q].view[v].desc_conf);
        }
    return st;
}

pc_status pc_recon_run_sparse(pc_recon *r, pc_dust3r *net, pc_pool *pool, const pc_image *imgs, int n, int size,
                              const pc_sga_opts *so, const pc_intrinsics *known, pc_error *err) {
    memset(r, 0, sizeof(*r));
    if (!net || !imgs || n < 2 || n > 64 || size < 16)
        return pc_err(err, PC_ERR_ARG, "sparse reconstruction: need 2 .. 64 images and a MASt3R model");
    if (!pc_dust3r_has_desc(net))
        return pc_err(err, PC_ERR_ARG, "sparse reconstruction: the model has no local-feature head (MASt3R needed)");
    const int maxp = n * (n - 1), nu = maxp / 2;
    pc_status st = recon_alloc(r, n, err);
    pc_tensor *x = (pc_tensor *)calloc((size_t)n, sizeof(pc_tensor));
    const pc_tensor **xp = (const pc_tensor **)calloc((size_t)n, sizeof(pc_tensor *));
    int *pairs = (int *)calloc((size_t)maxp * 2, sizeof(int));
    int(*order)[2] = (int(*)[2])calloc((size_t)maxp, sizeof(*order));
    int *ord_of = (int *)calloc((size_t)maxp, sizeof(int));  // upstream pair p -> its inference index
    pc_sga_pair *sp = (pc_sga_pair *)calloc((size_t)maxp, sizeof(pc_sga_pair));
    pc_align_intrinsics *intr = known ? (pc_align_intrinsics *)calloc((size_t)n, sizeof(*intr)) : NULL;
    sparse_ctx c = {maxp, NULL, NULL, NULL, NULL, NULL, NULL, r->W, r->H, pool, so ? so->subsample : 8};
    c.outs = (pc_dust3r_pair_out *)calloc((size_t)maxp, sizeof(pc_dust3r_pair_out));
    c.ci = (int32_t **)calloc((size_t)nu, sizeof(int32_t *)), c.cj = (int32_t **)calloc((size_t)nu, sizeof(int32_t *));
    c.cc = (float **)calloc((size_t)nu, sizeof(float *)), c.cn = (int64_t *)calloc((size_t)nu, sizeof(int64_t));
    int np = 0, was_desc = 1;
    pc_sga_result sr;
    memset(&sr, 0, sizeof(sr));
    if (st == PC_OK && (!x || !xp || !pairs || !order || !ord_of || !sp || (known && !intr) || !c.outs || !c.ci ||
                        !c.cj || !c.cc || !c.cn))
        st = pc_err(err, PC_ERR_MEMORY, "sparse reconstruction: out of memory");
    for (int k = 0; k < n && st == PC_OK; k++) {
        st = prepare_view(r, k, &imgs[k], &x[k], size, err);
        xp[k] = &x[k];
    }
    // upstream's pair list (make_pairs complete, symmetrized); inference in unordered-pair order
    if (st == PC_OK) st = pc_align_make_pairs(pairs, maxp, &np, n, "complete", 1, err);
    if (st == PC_OK && np != maxp) st = pc_err(err, PC_ERR_ARG, "sparse reconstruction: unexpected pair list");
    for (int u = 0; u < nu && st == PC_OK; u++) {
        const int a = pairs[2 * u], b = pairs[2 * u + 1];
        order[2 * u][0] = a, order[2 * u][1] = b, order[2 * u + 1][0] = b, order[2 * u + 1][1] = a;
        for (int p = 0; p < np; p++) {
            if (pairs[2 * p] == a && pairs[2 * p + 1] == b) ord_of[p] = 2 * u;
            if (pairs[2 * p] == b && pairs[2 * p + 1] == a) ord_of[p] = 2 * u + 1;
        }
    }
    c.order = (const int(*)[2])order;
    if (st == PC_OK) {
        was_desc = pc_dust3r_get_desc_output(net);
        pc_dust3r_set_desc_output(net, 1);
        st = pc_dust3r_pairs_each(net, xp, n, (const int(*)[2])order, maxp, on_pair, &c, err);
    }
    for (int p = 0; p < np && st == PC_OK; p++) {
        const int k = ord_of[p], u = k / 2, fwd = k % 2 == 0;  // fwd: the pair as its correspondences were made
        const pc_dust3r_pair_out *o = &c.outs[k];
        sp[p] = (pc_sga_pair){order[k][0], order[k][1], pc_tensor_f32((pc_tensor *)&o->view[0].pts3d),
                              pc_tensor_f32((pc_tensor *)&o->view[0].conf), pc_tensor_f32((pc_tensor *)&o->view[1].pts3d),
                              pc_tensor_f32((pc_tensor *)&o->view[1].conf), fwd ? c.ci[u] : c.cj[u],
                              fwd ? c.cj[u] : c.ci[u], c.cc[u], c.cn[u]};
    }
    for (int k = 0; intr && k < n && st == PC_OK; k++) {
        if (!(known[k].fx > 0)) continue;
        intr[k] = to_working(r->map[k], &known[k]);
        r->n_known++;
    }
    if (st == PC_OK) {
        pc_sga_input in = {n, r->H, r->W, np, sp, intr};
        st = pc_sga_run(&sr, &in, so, err);
    }
    if (st == PC_OK) {  // the dense outputs the pipeline and the writers read
        r->sparse = 1;
        const int nf = so && so->niter2 ? so->niter2 : 0;
        r->loss = nf ? sr.loss_fine[nf - 1] : (so && so->niter1 ? sr.loss_coarse[so->niter1 - 1] : 0);
        pc_align_result *res = &r->res;
        res->n_views = n;
        res->c2w = (float(*)[16])calloc((size_t)n, sizeof(*res->c2w));
        res->focals = (float *)calloc((size_t)n, sizeof(float));
        res->pp = (float(*)[2])calloc((size_t)n, sizeof(*res->pp));
        res->depth = (float **)calloc((size_t)n, sizeof(float *));
        if (!res->c2w || !res->focals || !res->pp || !res->depth) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        for (int k = 0; k < n && st == PC_OK; k++) {
            const size_t hw = (size_t)r->H[k] * r->W[k];
            memcpy(res->c2w[k], sr.c2w[k], sizeof(res->c2w[k]));
            res->focals[k] = sr.K[k][0];
            res->pp[k][0] = sr.K[k][2], res->pp[k][1] = sr.K[k][5];
            res->depth[k] = (float *)malloc(hw * sizeof(float));
            r->pts[k] = (float *)malloc(hw * 3 * sizeof(float));
            r->conf[k] = (float *)malloc(hw * sizeof(float));
            if (!res->depth[k] || !r->pts[k] || !r->conf[k]) {
                st = pc_err(err, PC_ERR_MEMORY, "out of memory");
                break;
            }
            pc_sga_dense(&sr, k, so ? so->subsample : 8, r->pts[k], res->depth[k]);
            memcpy(r->conf[k], sr.cconf[k], hw * sizeof(float));
        }
    }
    pc_dust3r_set_desc_output(net, was_desc);
    pc_sga_result_free(&sr);
    for (int k = 0; c.outs && k < maxp; k++) pc_dust3r_pair_out_free(&c.outs[k]);
    for (int u = 0; u < nu && c.ci; u++) free(c.ci[u]), free(c.cj[u]), free(c.cc[u]);
    if (x)
        for (int k = 0; k < n; k++) pc_tensor_free(&x[k]);
    free(x), free(xp), free(pairs), free(order), free(ord_of), free(sp), free(intr);
    free(c.outs), free(c.ci), free(c.cj), free(c.cc), free(c.cn);
    if (st != PC_OK) pc_recon_free(r);
    return st;
}
