// posecrafter dust3r --model M.pth A.jpg B.jpg -o out/ [--size 512] [--threads N] [--conf-thr 3]
//                   [--device auto|cpu|cuda|emu]
// posecrafter mast3r --model M.pth A.jpg B.jpg -o out/ [same options] [--subsample 8]
//
// DUSt3R (or MASt3R) on one ordered pair. Writes, in out/:
//   pts3d_1.npy (H,W,3)  view 1's points in camera 1's frame      conf_1.npy (H,W)
//   pts3d_2.npy (H,W,3)  view 2's points in camera 1's frame      conf_2.npy (H,W)
//   cloud.ply            both views' points with conf > --conf-thr, coloured by the input pixels
//   depth_1.png, depth_2.png  z in camera 1's frame (near = bright, 2nd..98th percentile)
//   conf_1.png, conf_2.png    confidence (1 = black, max = white)
// mast3r also writes (the MASt3R checkpoint's local features):
//   desc_1.npy, desc_2.npy (H,W,D)  unit descriptors     desc_conf_1.npy, desc_conf_2.npy (H,W)
//   matches.txt          fast_reciprocal_NNs(subsample 8): "x1 y1 x2 y2" per line, pixels of the network input
//   matches.png          the two inputs side by side with the matches drawn
// Model and images are loaded and the network is run before anything is written; a failure while
// writing removes the files already written (and out/ when this command created it).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static const char usage_mast3r[] =
    "usage: posecrafter mast3r --model M.pth A.jpg B.jpg -o OUT_DIR [--size 512] [--threads N] "
    "[--conf-thr 3] [--device auto|cpu|cuda|emu] [--subsample 8]\n"
    "  MASt3R pointmaps (both in camera A's frame), dense descriptors and their reciprocal matches.\n"
    "  writes pts3d_1/2.npy, conf_1/2.npy, desc_1/2.npy (H,W,D), desc_conf_1/2.npy, matches.txt\n"
    "  (x1 y1 x2 y2, pixels of the network input), matches.png, cloud.ply, depth/conf previews\n";
static const char usage_dust3r[] =
    "usage: posecrafter dust3r --model M.pth A.jpg B.jpg -o OUT_DIR [--size 512] [--threads N] "
    "[--conf-thr 3] [--device auto|cpu|cuda|emu]\n"
    "  DUSt3R pointmaps for the ordered pair (A, B), both in camera A's frame.\n";

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// 8-bit grey visualisation of v (n values): lo..hi -> 255..0 (invert) or 0..255.
static pc_status save_vis(const char *path, const float *v, int64_t stride, int H, int W, float lo, float hi, int invert,
                          pc_error *err) {
    pc_image img = {0};
    pc_status st = pc_image_alloc(&img, W, H, 1, err);
    if (st != PC_OK) return st;
    float span = hi > lo ? hi - lo : 1.0f;
    for (int64_t i = 0; i < (int64_t)H * W; i++) {
        float t = (v[i * stride] - lo) / span;
        if (!(t >= 0)) t = 0;  // NaN -> 0
        if (t > 1) t = 1;
        if (invert) t = 1 - t;
        img.data[i] = (uint8_t)lrintf(t * 255.0f);
    }
    st = pc_image_save_png(&img, path, err);
    pc_image_free(&img);
    return st;
}

// Percentile p in [0, 1] of n values with the given stride (finite ones only).
static float percentile(const float *v, int64_t stride, int64_t n, float p) {
    float *tmp = (float *)malloc((size_t)n * sizeof(float));
    if (!tmp) return 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i * stride])) tmp[m++] = v[i * stride];
    float r = 0;
    if (m > 0) {
        qsort(tmp, (size_t)m, sizeof(float), cmp_float);
        r = tmp[(int64_t)(p * (float)(m - 1) + 0.5f)];
    }
    free(tmp);
    return r;
}

typedef struct written {
    char paths[24][1200];
    int n;
} written;

static void join(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static pc_status write_outputs(const char *dir, pc_dust3r_pair_out *res, const pc_image *u8[2], float thr, written *w,
                               pc_error *err) {
    pc_status st = PC_OK;
    char path[1200];
    const char *pts_names[2] = {"pts3d_1.npy", "pts3d_2.npy"}, *conf_names[2] = {"conf_1.npy", "conf_2.npy"};
    const char *depth_png[2] = {"depth_1.png", "depth_2.png"}, *conf_png[2] = {"conf_1.png", "conf_2.png"};
    for (int v = 0; v < 2 && st == PC_OK; v++) {
        join(path, sizeof(path), dir, pts_names[v]);
        if ((st = pc_npy_save(path, &res->view[v].pts3d, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
        join(path, sizeof(path), dir, conf_names[v]);
        if ((st = pc_npy_save(path, &res->view[v].conf, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
    }
    // shared depth range over both views so the two PNGs compare
    int64_t n0 = res->view[0].conf.shape[0] * res->view[0].conf.shape[1];
    int64_t n1 = res->view[1].conf.shape[0] * res->view[1].conf.shape[1];
    const float *z0 = (const float *)res->view[0].pts3d.data + 2, *z1 = (const float *)res->view[1].pts3d.data + 2;
    float lo = fminf(percentile(z0, 3, n0, 0.02f), percentile(z1, 3, n1, 0.02f));
    float hi = fmaxf(percentile(z0, 3, n0, 0.98f), percentile(z1, 3, n1, 0.98f));
    float cmax = fmaxf(percentile((const float *)res->view[0].conf.data, 1, n0, 1.0f),
                       percentile((const float *)res->view[1].conf.data, 1, n1, 1.0f));
    for (int v = 0; v < 2 && st == PC_OK; v++) {
        int H = (int)res->view[v].conf.shape[0], W = (int)res->view[v].conf.shape[1];
        join(path, sizeof(path), dir, depth_png[v]);
        if ((st = save_vis(path, (const float *)res->view[v].pts3d.data + 2, 3, H, W, lo, hi, 1, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
        join(path, sizeof(path), dir, conf_png[v]);
        if ((st = save_vis(path, (const float *)res->view[v].conf.data, 1, H, W, 1.0f, cmax, 0, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
    }
    if (st != PC_OK) return st;
    // coloured, confidence-thresholded point cloud of both views (camera 1's frame)
    size_t total = (size_t)(n0 + n1), k = 0;
    float *xyz = (float *)malloc(total * 3 * sizeof(float));
    uint8_t *rgb = (uint8_t *)malloc(total * 3);
    if (!xyz || !rgb) {
        free(xyz);
        free(rgb);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    for (int v = 0; v < 2; v++) {
        int64_t nv = v ? n1 : n0;
        const float *p = (const float *)res->view[v].pts3d.data, *c = (const float *)res->view[v].conf.data;
        for (int64_t i = 0; i < nv; i++) {
            if (!(c[i] > thr) || !isfinite(p[3 * i]) || !isfinite(p[3 * i + 1]) || !isfinite(p[3 * i + 2])) continue;
            memcpy(xyz + 3 * k, p + 3 * i, 3 * sizeof(float));
            memcpy(rgb + 3 * k, u8[v]->data + 3 * i, 3);
            k++;
        }
    }
    join(path, sizeof(path), dir, "cloud.ply");
    st = pc_ply_save(path, xyz, rgb, k, err);
    if (st == PC_OK) {
        strcpy(w->paths[w->n++], path);
        printf("cloud.ply: %zu of %zu points with conf > %g\n", k, total, (double)thr);
    }
    free(xyz);
    free(rgb);
    return st;
}

// One coloured line (Bresenham) into an RGB image.
static void draw_line(pc_image *im, int x0, int y0, int x1, int y1, const uint8_t c[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        if (x0 >= 0 && y0 >= 0 && x0 < im->w && y0 < im->h) memcpy(im->data + 3 * ((size_t)y0 * im->w + x0), c, 3);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

// MASt3R extras: descriptors, their reciprocal matches (text + drawing).
static pc_status write_mast3r(const char *dir, pc_dust3r_pair_out *res, const pc_image *u8[2], int subsample,
                              pc_pool *pool, written *w, pc_error *err) {
    char path[1200];
    const char *dn[2] = {"desc_1.npy", "desc_2.npy"}, *cn[2] = {"desc_conf_1.npy", "desc_conf_2.npy"};
    pc_status st = PC_OK;
    for (int v = 0; v < 2 && st == PC_OK; v++) {
        join(path, sizeof(path), dir, dn[v]);
        if ((st = pc_npy_save(path, &res->view[v].desc, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
        join(path, sizeof(path), dir, cn[v]);
        if ((st = pc_npy_save(path, &res->view[v].desc_conf, err)) != PC_OK) break;
        strcpy(w->paths[w->n++], path);
    }
    if (st != PC_OK) return st;
    const pc_tensor *d1 = &res->view[0].desc, *d2 = &res->view[1].desc;
    const int H1 = (int)d1->shape[0], W1 = (int)d1->shape[1], H2 = (int)d2->shape[0], W2 = (int)d2->shape[1];
    int32_t *i1 = NULL, *i2 = NULL;
    int64_t n = 0;
    pc_frnn_stats fs;
    double t0 = pc_time_sec();
    st = pc_frnn_match(&i1, &i2, &n, (const float *)d1->data, H1, W1, (const float *)d2->data, H2, W2,
                       (int)d1->shape[2], subsample, pool, &fs, err);
    if (st != PC_OK) return st;
    printf("matches: %lld reciprocal of %lld grid queries (subsample %d, %d rounds, %.2f s)\n", (long long)n,
           (long long)fs.n_queries, subsample, fs.rounds, pc_time_sec() - t0);
    join(path, sizeof(path), dir, "matches.txt");
    FILE *f = fopen(path, "w");
    if (!f) st = pc_err(err, PC_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    for (int64_t k = 0; f && k < n; k++) fprintf(f, "%d %d %d %d\n", i1[k] % W1, i1[k] / W1, i2[k] % W2, i2[k] / W2);
    if (f && fclose(f) != 0) st = pc_err(err, PC_ERR_IO, "cannot write %s", path);
    if (st == PC_OK) strcpy(w->paths[w->n++], path);
    // side by side, a hue per match along the first image's rows
    pc_image im = {0};
    if (st == PC_OK) st = pc_image_alloc(&im, W1 + W2, H1 > H2 ? H1 : H2, 3, err);
    if (st == PC_OK) {
        memset(im.data, 0, (size_t)im.w * im.h * 3);
        for (int y = 0; y < H1; y++) memcpy(im.data + 3 * (size_t)y * im.w, u8[0]->data + 3 * (size_t)y * W1, 3 * (size_t)W1);
        for (int y = 0; y < H2; y++)
            memcpy(im.data + 3 * ((size_t)y * im.w + W1), u8[1]->data + 3 * (size_t)y * W2, 3 * (size_t)W2);
        const int64_t step = n > 400 ? (n + 399) / 400 : 1;  // at most ~400 lines stay readable
        for (int64_t k = 0; k < n; k += step) {
            const double h = 6.0 * (double)(i1[k] / W1) / H1;
            const int hi = (int)h % 6;
            const double fr = h - floor(h);
            const uint8_t q = (uint8_t)(255 * (1 - fr)), t = (uint8_t)(255 * fr);
            const uint8_t pal[6][3] = {{255, t, 0}, {q, 255, 0}, {0, 255, t}, {0, q, 255}, {t, 0, 255}, {255, 0, q}};
            draw_line(&im, i1[k] % W1, i1[k] / W1, W1 + i2[k] % W2, i2[k] / W2, pal[hi]);
        }
        join(path, sizeof(path), dir, "matches.png");
        st = pc_image_save_png(&im, path, err);
        if (st == PC_OK) strcpy(w->paths[w->n++], path);
    }
    pc_image_free(&im);
    free(i1);
    free(i2);
    return st;
}

static int run_pair_cmd(int argc, char **argv, int mast3r);

int pc_cmd_dust3r(int argc, char **argv) { return run_pair_cmd(argc, argv, 0); }
int pc_cmd_mast3r(int argc, char **argv) { return run_pair_cmd(argc, argv, 1); }

static int run_pair_cmd(int argc, char **argv, int mast3r) {
    const char *cmd = mast3r ? "posecrafter mast3r" : "posecrafter dust3r";
    int subsample = 8;
    const char *model = NULL, *out = NULL, *imgs[2] = {NULL, NULL};
    int size = 512, threads = 0, nimg = 0;
    float thr = 3.0f;
    int dev = 0;
    static const char *const dev_names[] = {"auto", "cpu", "cuda", "emu", NULL};
    pc_opt opts[] = {
        PC_OPT_STRING('m', "model", &model, "M",
                      mast3r ? "MASt3R checkpoint, e.g. MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth"
                             : "DUSt3R / MASt3R checkpoint (.pth or .safetensors)"),
        PC_OPT_STRING('o', "out", &out, "DIR", "output folder"),
        PC_OPT_INT(0, "size", &size, 16, 4096, "N", "load_images size: long side, or 224 (short side + centre crop)"),
        PC_OPT_INT(0, "threads", &threads, 0, 1024, "N", "worker threads (0: all CPUs)"),
        PC_OPT_CHOICE(0, "device", &dev, dev_names, NULL, "D", "where the encoder/decoders run (auto: GPU when present)"),
        PC_OPT_FLOAT(0, "conf-thr", &thr, -1e30, 1e30, "T", "confidence threshold for cloud.ply"),
        PC_OPT_INT(0, "subsample", &subsample, 1, 256, "N", "query grid step of fast_reciprocal_NNs (as mast3r's demo)"),
        PC_OPT_END(),
    };
    if (!mast3r) opts[PC_ARRAY_LEN(opts) - 2] = (pc_opt)PC_OPT_END();  // --subsample is MASt3R's
    const pc_opts_cmd oc = {mast3r ? "mast3r" : "dust3r", mast3r ? usage_mast3r : usage_dust3r, imgs, 2, &nimg, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &oc);
    if (prc >= 0) return prc;
    const char *device = dev_names[dev];
    if (!model || !out || nimg != 2) {
        pc_opts_help(stderr, opts, &oc);
        return 2;
    }

    pc_error err;
    pc_pool *pool = NULL;
    pc_dust3r *net = NULL;
    pc_image u8[2] = {{0}};
    pc_tensor x[2] = {{0}};
    pc_dust3r_pair_out res;
    memset(&res, 0, sizeof(res));
    int rc = 1, made_dir = 0;
    written w;
    w.n = 0;
    pc_status st = pc_pool_create(&pool, threads, &err);
    if (st == PC_OK) st = pc_dust3r_load(&net, model, pool, &err);
    if (st == PC_OK && mast3r && !pc_dust3r_has_desc(net))
        st = pc_err(&err, PC_ERR_UNSUPPORTED, "%s is a DUSt3R checkpoint (no local-feature head): use posecrafter dust3r",
                    model);
    if (st == PC_OK) {
        err.msg[0] = 0;
        st = pc_dust3r_set_device(net, device, &err);
        if (st == PC_OK && err.msg[0])
            printf("device: %s (GPU not used: %s)\n", pc_dust3r_get_device(net), err.msg);
        else if (st == PC_OK)
            printf("device: %s\n", pc_dust3r_get_device(net));
    }
    for (int v = 0; v < 2 && st == PC_OK; v++) st = pc_dust3r_load_image(&u8[v], &x[v], imgs[v], size, 0, &err);
    if (st == PC_OK) {
        const pc_dust3r_config *c = pc_dust3r_get_config(net);
        printf("model: %s, enc %d x %d, dec %d x %d, %s head, %lld parameters\n", model, c->enc_depth, c->enc_dim,
               c->dec_depth, c->dec_dim,
               c->head == PC_DUST3R_HEAD_DPT ? "dpt" : c->head == PC_DUST3R_HEAD_LINEAR ? "linear" : "catmlp+dpt",
               (long long)pc_dust3r_num_params(net));
        printf("images: %s %dx%d, %s %dx%d\n", imgs[0], u8[0].w, u8[0].h, imgs[1], u8[1].w, u8[1].h);
        double t0 = pc_time_sec();
        st = pc_dust3r_pair(net, &x[0], &x[1], &res, &err);
        if (st == PC_OK) printf("inference: %.2f s\n", pc_time_sec() - t0);
    }
    if (st == PC_OK) {
        struct stat sb;
        if (stat(out, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) st = pc_err(&err, PC_ERR_IO, "%s exists and is not a directory", out);
        } else if (mkdir(out, 0777) == 0) {
            made_dir = 1;
        } else {
            st = pc_err(&err, PC_ERR_IO, "cannot create directory %s: %s", out, strerror(errno));
        }
    }
    if (st == PC_OK) {
        const pc_image *cols[2] = {&u8[0], &u8[1]};
        st = write_outputs(out, &res, cols, thr, &w, &err);
        if (st == PC_OK && mast3r) st = write_mast3r(out, &res, cols, subsample, pool, &w, &err);
        if (st != PC_OK) {  // nothing half-written: remove what this run wrote
            for (int i = 0; i < w.n; i++) remove(w.paths[i]);
            if (made_dir) rmdir(out);
        }
    }
    if (st == PC_OK) {
        printf("wrote %d files to %s\n", w.n, out);
        rc = 0;
    } else {
        fprintf(stderr, "%s: error: %s\n", cmd, err.msg);
    }
    pc_dust3r_pair_out_free(&res);
    for (int v = 0; v < 2; v++) {
        pc_tensor_free(&x[v]);
        pc_image_free(&u8[v]);
    }
    pc_dust3r_free(net);
    pc_pool_free(pool);
    return rc;
}
