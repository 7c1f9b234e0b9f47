// posecrafter align: DUSt3R global alignment of N views (dust3r: global_aligner + compute_global_alignment).
//
//   posecrafter align --pairs DIR [-o OUT] [--graph G] [--niter 300] [--lr 0.01] [--schedule cosine|linear]
//                     [--min-conf 3] [--threads N]
//   posecrafter align --model M.pth img1 ... imgN -o OUT [--size 512] [--graph G] [--device auto|cpu|cuda|emu]
//                     [same options]
//     (load_images(size) preprocessing, make_pairs(G, symmetrize), DUSt3R inference via pc_dust3r_pairs; the
//      PLY carries the preprocessed images' colours)
//
// --pairs DIR reads saved pairwise predictions (all views the same size H x W):
//   DIR/edges.npy         (E, 2) int64 or int32   (i, j) = (view1, view2) of each prediction
//   DIR/pred1_pts3d.npy   (E, H, W, 3) float32    view i's points in camera i's frame
//   DIR/pred1_conf.npy    (E, H, W) float32
//   DIR/pred2_pts3d.npy   (E, H, W, 3) float32    view j's points in camera i's frame
//   DIR/pred2_conf.npy    (E, H, W) float32
//   DIR/names.txt         optional, one image file name per line (N lines)
// N = 1 + the largest index in edges. With --graph, only the pairs of that scene graph (dust3r: make_pairs,
// symmetrized) are used, in the graph's order; each must be present in edges.npy. Two views with the two
// symmetric edges use PairViewer (as upstream's demo does), more use PointCloudOptimizer with MST init.
// Writes OUT/cameras.json, OUT/cameras.txt, OUT/images.txt, OUT/points3D.txt (COLMAP text, IMAGE_ID = 1..N in
// view order) and OUT/points.ply (world points of pixels with im_conf > min-conf).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "pipeline/pipeline_internal.h"
#include "posecrafter.h"

static const char align_usage_text[] =
    "usage: posecrafter align --pairs DIR [-o OUT] [--graph complete|swin-K|logwin-K|oneref-ID]\n"
    "                         [--niter 300] [--lr 0.01] [--schedule cosine|linear] [--min-conf 3] [--threads N]\n"
    "       posecrafter align --model M.pth img1 ... imgN [-o OUT] [--size 512] [--graph complete]\n"
    "                         [--device auto|cpu|cuda|emu] [same options]\n"
    "--pairs DIR: edges.npy (E,2), pred1_pts3d.npy (E,H,W,3), pred1_conf.npy (E,H,W), pred2_pts3d.npy,\n"
    "             pred2_conf.npy, optional names.txt. Writes cameras.json, COLMAP text model, points.ply.\n\n";

static int load_npy(pc_tensor *t, const char *dir, const char *name, pc_error *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return pc_npy_load(t, path, err) != PC_OK;
}

// The command's alignment options on top of dust3r's defaults.
static pc_align_opts align_opts(int niter, double lr, const char *sched, double min_conf) {
    pc_align_opts o;
    pc_align_opts_default(&o);
    o.niter = niter;
    o.lr = lr;
    o.schedule = strcmp(sched, "linear") ? PC_ALIGN_COSINE : PC_ALIGN_LINEAR;
    o.min_conf_thr = (float)min_conf;
    return o;
}

// Index of view `v` ("3" or a file name matching names[k] or its base name), or -1.
static int view_index(const char *v, const char *const *names, int n) {
    long idx;
    if (pc_cli_parse_long(v, 0, n - 1, &idx)) return (int)idx;
    for (int k = 0; k < n; k++) {
        const char *sl = strrchr(names[k], '/'), *b = sl ? sl + 1 : names[k];
        if (!strcmp(v, names[k]) || !strcmp(v, b)) return k;
    }
    return -1;
}

// --K specs and an --intrinsics JSON into known[n] (fx = 0: unknown). Returns 0, or 2 after an error message.
static int resolve_known(pc_intrinsics *known, int n, const char *const *names, const char *const *specs, int nspec,
                         const char *json_path) {
    memset(known, 0, sizeof(*known) * (size_t)n);
    if (json_path) {
        FILE *f = fopen(json_path, "rb");
        char *buf = NULL;
        long len = -1;
        if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f);
        if (f && len >= 0 && len < (1 << 24) && fseek(f, 0, SEEK_SET) == 0 && (buf = (char *)malloc((size_t)len + 1)) &&
            fread(buf, 1, (size_t)len, f) == (size_t)len)
            buf[len] = 0;
        else
            free(buf), buf = NULL;
        if (f) fclose(f);
        cJSON *root = buf ? cJSON_Parse(buf) : NULL;
        free(buf);
        if (!root || !cJSON_IsObject(root)) {
            fprintf(stderr, "align: %s: %s\n", json_path, root ? "expected an object {view: K}" : "cannot read it as JSON");
            cJSON_Delete(root);
            return 2;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, root) {
            const int k = view_index(it->string, names, n);
            double v[4] = {0, 0, 0, 0};
            int ok = k >= 0;
            const char *keys[4] = {"fx", "fy", "cx", "cy"};
            for (int q = 0; ok && q < 4; q++) {
                const cJSON *x = cJSON_IsArray(it) ? cJSON_GetArrayItem(it, q) : cJSON_GetObjectItemCaseSensitive(it, keys[q]);
                ok = cJSON_IsNumber(x) && (cJSON_IsArray(it) ? cJSON_GetArraySize(it) == 4 : 1);
                if (ok) v[q] = x->valuedouble;
            }
            ok = ok && v[0] > 0 && v[1] > 0;
            if (!ok) {
                fprintf(stderr, "align: %s: entry '%s': %s\n", json_path, it->string,
                        k < 0 ? "no such view (give a 0-based index or an image file name)"
                              : "expected [fx, fy, cx, cy] or {\"fx\", \"fy\", \"cx\", \"cy\"} with fx, fy > 0");
                cJSON_Delete(root);
                return 2;
            }
            known[k] = (pc_intrinsics){v[0], v[1], v[2], v[3]};
        }
        cJSON_Delete(root);
    }
    for (int q = 0; q < nspec; q++) {
        char view[1024];
        const char *c = strrchr(specs[q], ':');
        pc_intrinsics K;
        if (!c || (size_t)(c - specs[q]) >= sizeof(view) || !pc_cli_parse_K(c + 1, &K)) {
            fprintf(stderr, "align: --K '%s': expected VIEW:fx,fy,cx,cy\n", specs[q]);
            return 2;
        }
        memcpy(view, specs[q], (size_t)(c - specs[q]));
        view[c - specs[q]] = 0;
        const int k = view_index(view, names, n);
        if (k < 0) {
            fprintf(stderr, "align: --K '%s': no view '%s' (give a 0-based index or an image file name)\n", specs[q], view);
            return 2;
        }
        known[k] = K;
    }
    return 0;
}

// Shared by --pairs and --model: global alignment (or PairViewer) and the writers.
static int run_align(int N, int *hs, int *ws, pc_align_edge *edges, int n_use, const char *const *names,
                     const uint8_t *const *rgb, const pc_intrinsics *known, int niter, double lr, const char *sched,
                     double min_conf, int threads, const char *out) {
    pc_error err;
    int rc = 1;
    pc_pool *pool = NULL;
    pc_align *ga = NULL;
    pc_align_result res = {0};
    float **pts = NULL;
    uint8_t **masks = NULL;
    pc_align_intrinsics *intr = (pc_align_intrinsics *)calloc((size_t)N, sizeof(*intr));
    if (!intr) return 1;
    for (int k = 0; k < N; k++)  // --pairs: K is already in the pointmaps' pixels
        if (known[k].fx > 0) intr[k] = (pc_align_intrinsics){1, 0.5 * (known[k].fx + known[k].fy), known[k].cx, known[k].cy};
    pc_align_input in = {N, hs, ws, n_use, edges, intr};
    const pc_align_opts o = align_opts(niter, lr, sched, min_conf);
    if (pc_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    if (pc_align_create(&ga, &in, &o, pool, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    if (N == 2 && n_use == 2) {
        if (pc_align_pairviewer(&res, &in, &o, &err)) {
            fprintf(stderr, "align: %s\n", err.msg);
            goto done;
        }
        fprintf(stderr, "align: 2 views: PairViewer\n");
    } else {
        double t0 = pc_time_sec(), loss = 0;
        if (pc_align_init_mst(ga, &err) || pc_align_optimize(ga, NULL, &loss, &err) || pc_align_get_result(&res, ga, &err)) {
            fprintf(stderr, "align: %s\n", err.msg);
            goto done;
        }
        fprintf(stderr, "align: %d views, %d edges, %d iterations: loss %.6g (%.2f s)\n", N, n_use, niter, loss,
                pc_time_sec() - t0);
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "align: cannot create %s\n", out);
        goto done;
    }
    if (pc_align_result_pts3d(&pts, &res, hs, ws, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    masks = (uint8_t **)calloc((size_t)N, sizeof(uint8_t *));
    if (!masks) { fprintf(stderr, "align: out of memory\n"); goto done; }
    for (int k = 0; k < N; k++) {
        masks[k] = (uint8_t *)malloc((size_t)hs[k] * ws[k]);
        if (!masks[k]) { fprintf(stderr, "align: out of memory\n"); goto done; }
        const float *ic = pc_align_im_conf(ga, k);
        for (int64_t p = 0; p < (int64_t)hs[k] * ws[k]; p++) masks[k][p] = ic[p] > o.min_conf_thr;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/cameras.json", out);
    if (pc_align_write_cameras_json(path, &res, hs, ws, (const char *const *)names, &err) ||
        pc_align_write_colmap(out, &res, hs, ws, (const char *const *)names, (const float *const *)pts, rgb,
                              (const uint8_t *const *)masks, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    snprintf(path, sizeof(path), "%s/points.ply", out);
    if (pc_align_write_ply(path, N, hs, ws, (const float *const *)pts, rgb, (const uint8_t *const *)masks, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    for (int k = 0; k < N; k++)
        printf("view %d %s: focal %.4f%s  centre (%.5f %.5f %.5f)\n", k, names[k], res.focals[k],
               intr[k].known ? " (fixed)" : "", res.c2w[k][3], res.c2w[k][7], res.c2w[k][11]);
    rc = 0;
done:
    free(intr);
    if (pts)
        for (int k = 0; k < N; k++) free(pts[k]);
    free(pts);
    if (masks)
        for (int k = 0; k < N; k++) free(masks[k]);
    free(masks);
    pc_align_result_free(&res);
    pc_align_free(ga);
    pc_pool_free(pool);
    return rc;
}

// --model: DUSt3R on the pairs of the scene graph (dust3r: make_pairs + inference), then the alignment and
// the writers: the pipeline's reconstruction step (src/pipeline/recon.c) with this command's options.
static int align_from_model(const char *model, const char **paths, int n, int size, const char *graph, int niter,
                            double lr, const char *sched, double min_conf, int threads, const char *out,
                            const char *device, const char *const *kspecs, int nk, const char *kjson, int sparse) {
    pc_error err;
    int rc = 1;
    pc_pool *pool = NULL;
    pc_dust3r *net = NULL;
    pc_recon rec;
    memset(&rec, 0, sizeof(rec));
    if (n < 2) {
        fprintf(stderr, "align: --model needs at least 2 images\n");
        return 2;
    }
    pc_image *imgs = (pc_image *)calloc((size_t)n, sizeof(pc_image));
    const char **base = (const char **)calloc((size_t)n, sizeof(char *));  // file names without directories
    pc_intrinsics *known = (pc_intrinsics *)calloc((size_t)n, sizeof(pc_intrinsics));
    if (!imgs || !base || !known) {
        fprintf(stderr, "align: out of memory\n");
        goto done;
    }
    if ((rc = resolve_known(known, n, paths, kspecs, nk, kjson)) != 0) goto done;
    rc = 1;
    int n_known = 0;
    for (int k = 0; k < n; k++) n_known += known[k].fx > 0;
    if (pc_pool_create(&pool, threads, &err) || pc_dust3r_load(&net, model, pool, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    err.msg[0] = 0;
    if (pc_dust3r_set_device(net, device, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    if (err.msg[0])
        fprintf(stderr, "align: DUSt3R on the %s (GPU not used: %s)\n", pc_dust3r_get_device(net), err.msg);
    else
        fprintf(stderr, "align: DUSt3R on the %s\n", pc_dust3r_get_device(net));
    for (int k = 0; k < n; k++) {
        if (pc_image_load(&imgs[k], paths[k], &err)) {
            fprintf(stderr, "align: %s\n", err.msg);
            goto done;
        }
        const char *sl = strrchr(paths[k], '/');
        base[k] = sl ? sl + 1 : paths[k];
    }
    const pc_align_opts o = align_opts(niter, lr, sched, min_conf);
    const double t0 = pc_time_sec();
    if (sparse && !pc_dust3r_has_desc(net)) {
        fprintf(stderr, "align: --sparse needs a MASt3R checkpoint (%s has no local-feature head)\n", model);
        goto done;
    }
    pc_sga_opts so;
    pc_sga_opts_default(&so);
    so.matching_conf_thr = 0;  // mast3r's demo
    if (sparse ? pc_recon_run_sparse(&rec, net, pool, imgs, n, size, &so, n_known ? known : NULL, &err)
               : pc_recon_run(&rec, net, pool, imgs, n, size, graph, &o, n_known ? known : NULL, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    if (rec.sparse)
        fprintf(stderr, "align: %d views, MASt3R sparse global alignment: final 2-D loss %.6g (%.2f s with MASt3R)\n", n,
                rec.loss, pc_time_sec() - t0);
    else if (rec.pairviewer)
        fprintf(stderr, "align: 2 views: PairViewer (%.2f s with DUSt3R)\n", pc_time_sec() - t0);
    else
        fprintf(stderr, "align: %d views, graph %s, %d iterations: loss %.6g (%.2f s with DUSt3R)\n", n, graph, niter,
                rec.loss, pc_time_sec() - t0);
    if (pc_recon_write(&rec, out, base, sparse ? 1.5f : o.min_conf_thr, &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    for (int k = 0; k < n; k++)
        printf("view %d %s: focal %.4f%s  centre (%.5f %.5f %.5f)\n", k, base[k], rec.res.focals[k],
               known[k].fx > 0 ? " (fixed)" : "", rec.res.c2w[k][3], rec.res.c2w[k][7], rec.res.c2w[k][11]);
    rc = 0;
done:
    free(known);
    pc_recon_free(&rec);
    if (imgs)
        for (int k = 0; k < n; k++) pc_image_free(&imgs[k]);
    free(imgs);
    free(base);
    pc_dust3r_free(net);
    pc_pool_free(pool);
    return rc;
}

int pc_cmd_align(int argc, char **argv) {
    const char *pairs_dir = NULL, *model = NULL, *out = ".", *graph = NULL, *sched = "cosine", *device = "auto";
    int niter = 300, threads = 0;
    double lr = 0.01, min_conf = 3;
    int n_img = 0, size = 512, sparse = 0;
    const char **imgs = (const char **)calloc((size_t)argc, sizeof(char *));
    const char **kspecs = (const char **)calloc((size_t)argc, sizeof(char *)), *kjson = NULL;
    int nk = 0;
    if (!imgs || !kspecs) {
        free(imgs);
        free(kspecs);
        return 1;
    }
    int sched_i = 0, dev = 0;
    static const char *const sched_names[] = {"cosine", "linear", NULL};
    static const char *const dev_names[] = {"auto", "cpu", "cuda", "emu", NULL};
    const pc_opt opts[] = {
        PC_OPT_STRING(0, "pairs", &pairs_dir, "DIR", "pairwise predictions to align (see above)"),
        PC_OPT_STRING(0, "model", &model, "M.pth", "DUSt3R / MASt3R checkpoint: run it on the images first"),
        PC_OPT_STRING('o', NULL, &out, "OUT", "output folder"),
        PC_OPT_STRING(0, "graph", &graph, "G", "scene graph: complete | swin-K | logwin-K | oneref-ID (default complete)"),
        PC_OPT_INT(0, "niter", &niter, 0, 1000000, "N", "alignment iterations"),
        PC_OPT_DOUBLE(0, "lr", &lr, 1e-12, 1e6, "LR", "learning rate"),
        PC_OPT_CHOICE(0, "schedule", &sched_i, sched_names, NULL, "S", "learning-rate schedule"),
        PC_OPT_DOUBLE(0, "min-conf", &min_conf, -1e30, 1e30, "C", "confidence threshold of the points written"),
        PC_OPT_INT(0, "threads", &threads, 0, 1024, "N", "worker threads (0: all CPUs)"),
        PC_OPT_INT(0, "size", &size, 16, 4096, "N", "--model: load_images size"),
        PC_OPT_CHOICE(0, "device", &dev, dev_names, NULL, "D", "--model: where DUSt3R's encoder/decoders run (auto: GPU when present)"),
        PC_OPT_STRINGS(0, "K", kspecs, &nk, argc, "V:fx,fy,cx,cy",
                       "known intrinsics of view V (0-based index, or the image's file name), repeatable;\n"
                       "--model: pixels of the image file (mapped through load_images' resize + crop);\n"
                       "--pairs: pixels of the pointmaps. Held fixed in the alignment (one focal: the mean)"),
        PC_OPT_STRING(0, "intrinsics", &kjson, "F.json",
                      "the same for many views: {\"V\": [fx, fy, cx, cy] or {\"fx\":..,\"fy\":..,\"cx\":..,\"cy\":..}}"),
        PC_OPT_FLAG(0, "sparse", &sparse,
                    "with a MASt3R --model, MASt3R's sparse global alignment (mast3r demo: complete graph,\n"
                    "matches, coarse 3-D + fine 2-D stages, 300 + 300 iterations) instead of the dense one"),
        PC_OPT_END(),
    };
    const pc_opts_cmd cmd = {"align", align_usage_text, imgs, argc, &n_img, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) {
        free(imgs);
        free(kspecs);
        return prc;
    }
    sched = sched_names[sched_i];
    device = dev_names[dev];
    if (model && !pairs_dir) {
        int r = align_from_model(model, imgs, n_img, size, graph ? graph : "complete", niter, lr, sched, min_conf,
                                 threads, out, device, kspecs, nk, kjson, sparse);
        free(imgs);
        free(kspecs);
        return r;
    }
    free(imgs);
    if (!pairs_dir || n_img > 0) {
        pc_opts_help(stderr, opts, &cmd);
        free(kspecs);
        return 2;
    }
    pc_error err;
    pc_tensor te = {0}, p1 = {0}, c1 = {0}, p2 = {0}, c2 = {0}, te64 = {0};
    int rc = 1;
    pc_align_edge *edges = NULL;
    int *pairs = NULL, *hs = NULL, *ws = NULL;
    char **names = NULL;
    pc_intrinsics *known = NULL;
    int N = 0;
    if (load_npy(&te, pairs_dir, "edges.npy", &err) || load_npy(&p1, pairs_dir, "pred1_pts3d.npy", &err) ||
        load_npy(&c1, pairs_dir, "pred1_conf.npy", &err) || load_npy(&p2, pairs_dir, "pred2_pts3d.npy", &err) ||
        load_npy(&c2, pairs_dir, "pred2_conf.npy", &err)) {
        fprintf(stderr, "align: %s\n", err.msg);
        goto done;
    }
    if (pc_tensor_to(&te64, &te, PC_F64, &err)) {
        fprintf(stderr, "align: edges.npy: %s\n", err.msg);
        goto done;
    }
    int64_t E = te.ndim == 2 && te.shape[1] == 2 ? te.shape[0] : -1;
    if (E < 1 || E > 100000 || p1.ndim != 4 || p1.dtype != PC_F32 || p1.shape[0] != E || p1.shape[3] != 3 ||
        c1.ndim != 3 || c1.dtype != PC_F32 || p2.ndim != 4 || p2.dtype != PC_F32 || c2.ndim != 3 || c2.dtype != PC_F32 ||
        memcmp(p1.shape, p2.shape, 4 * sizeof(int64_t)) || memcmp(c1.shape, c2.shape, 3 * sizeof(int64_t)) ||
        memcmp(c1.shape, p1.shape, 3 * sizeof(int64_t))) {
        fprintf(stderr, "align: %s: expected edges (E,2), pred*_pts3d (E,H,W,3) float32, pred*_conf (E,H,W) float32\n",
                pairs_dir);
        goto done;
    }
    int64_t H = p1.shape[1], W = p1.shape[2], HW = H * W;
    if (H < 1 || W < 1 || H > 65536 || W > 65536) {
        fprintf(stderr, "align: bad image size %lldx%lld\n", (long long)W, (long long)H);
        goto done;
    }
    const double *ev = (const double *)te64.data;
    for (int64_t e = 0; e < 2 * E; e++) {
        if (ev[e] < 0 || ev[e] > 100000 || ev[e] != (double)(int)ev[e]) {
            fprintf(stderr, "align: edges.npy has a bad index %g\n", ev[e]);
            goto done;
        }
        if ((int)ev[e] + 1 > N) N = (int)ev[e] + 1;
    }
    // edge list: all of edges.npy, or the pairs of --graph in its order
    int n_use = (int)E;
    int maxp = 4 * N * N + 16;
    pairs = (int *)malloc(sizeof(int) * 2 * (size_t)maxp);
    edges = (pc_align_edge *)calloc((size_t)maxp, sizeof(pc_align_edge));
    if (!pairs || !edges) goto oom;
    if (graph) {
        if (pc_align_make_pairs(pairs, maxp, &n_use, N, graph, 1, &err)) {
            fprintf(stderr, "align: %s\n", err.msg);
            goto done;
        }
    } else {
        for (int e = 0; e < n_use; e++) pairs[2 * e] = (int)ev[2 * e], pairs[2 * e + 1] = (int)ev[2 * e + 1];
    }
    for (int q = 0; q < n_use; q++) {
        int found = -1;
        for (int64_t e = 0; e < E && found < 0; e++)
            if ((int)ev[2 * e] == pairs[2 * q] && (int)ev[2 * e + 1] == pairs[2 * q + 1]) found = (int)e;
        if (found < 0) {
            fprintf(stderr, "align: pair (%d,%d) of graph '%s' is not in edges.npy\n", pairs[2 * q], pairs[2 * q + 1],
                    graph ? graph : "");
            goto done;
        }
        edges[q] = (pc_align_edge){pairs[2 * q], pairs[2 * q + 1], (const float *)p1.data + (size_t)found * HW * 3,
                                   (const float *)c1.data + (size_t)found * HW,
                                   (const float *)p2.data + (size_t)found * HW * 3,
                                   (const float *)c2.data + (size_t)found * HW};
    }
    hs = (int *)malloc(sizeof(int) * (size_t)N);
    ws = (int *)malloc(sizeof(int) * (size_t)N);
    names = (char **)calloc((size_t)N, sizeof(char *));
    if (!hs || !ws || !names) goto oom;
    for (int k = 0; k < N; k++) hs[k] = (int)H, ws[k] = (int)W;
    {
        char path[4096];
        snprintf(path, sizeof(path), "%s/names.txt", pairs_dir);
        FILE *f = fopen(path, "r");
        char line[1024];
        for (int k = 0; k < N; k++) {
            if (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\r\n")] = 0;
            } else {
                snprintf(line, sizeof(line), "view_%d", k);
            }
            names[k] = strdup(line);
            if (!names[k]) {
                if (f) fclose(f);
                goto oom;
            }
        }
        if (f) fclose(f);
    }
    known = (pc_intrinsics *)calloc((size_t)N, sizeof(pc_intrinsics));
    if (!known) goto oom;
    if ((rc = resolve_known(known, N, (const char *const *)names, kspecs, nk, kjson)) != 0) goto done;
    rc = 1;
    if (run_align(N, hs, ws, edges, n_use, (const char *const *)names, NULL, known, niter, lr, sched, min_conf,
                  threads, out))
        goto done;
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "align: out of memory\n");
done:
    free(kspecs);
    free(known);
    if (names)
        for (int k = 0; k < N; k++) free(names[k]);
    free(names);
    free(pairs);
    free(edges);
    free(hs);
    free(ws);
    pc_tensor_free(&te);
    pc_tensor_free(&te64);
    pc_tensor_free(&p1);
    pc_tensor_free(&c1);
    pc_tensor_free(&p2);
    pc_tensor_free(&c2);
    return rc;
}
