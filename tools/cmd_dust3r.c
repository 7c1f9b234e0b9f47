// posecrafter dust3r --model M.pth A.jpg B.jpg -o out/ [--size 512] [--threads N] [--conf-thr 3]
//                   [--device auto|cpu|cuda]
//
// DUSt3R on one ordered pair. Writes, in out/:
//   pts3d_1.npy (H,W,3)  view 1's points in camera 1's frame      conf_1.npy (H,W)
//   pts3d_2.npy (H,W,3)  view 2's points in camera 1's frame      conf_2.npy (H,W)
//   cloud.ply            both views' points with conf > --conf-thr, coloured by the input pixels
//   depth_1.png, depth_2.png  z in camera 1's frame (near = bright, 2nd..98th percentile)
//   conf_1.png, conf_2.png    confidence (1 = black, max = white)
// Model and images are loaded and the network is run before anything is written; a failure while
// writing removes the files already written (and out/ when this command created it).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: posecrafter dust3r --model M.pth A.jpg B.jpg -o OUT_DIR [--size 512] [--threads N] "
            "[--conf-thr 3] [--device auto|cpu|cuda]\n"
            "  DUSt3R pointmaps for the ordered pair (A, B), both in camera A's frame.\n"
            "  --model     DUSt3R checkpoint (.pth or .safetensors)\n"
            "  --size      load_images size: long side (512) or 224 (short side + centre crop)\n"
            "  --threads   worker threads (default: all CPUs)\n"
            "  --device    where the encoder/decoders run: auto (GPU when present, default), cpu, cuda\n"
            "  --conf-thr  confidence threshold for cloud.ply (default 3)\n");
}

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
    char paths[16][1200];
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

int pc_cmd_dust3r(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *imgs[2] = {NULL, NULL};
    int size = 512, threads = 0, nimg = 0;
    const char *device = "auto";
    float thr = 3.0f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "--model") || !strcmp(a, "-m")) && i + 1 < argc) {
            model = argv[++i];
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--size") && i + 1 < argc) {
            char *end;
            long s = strtol(argv[++i], &end, 10);
            if (*end || s < 16 || s > 4096) {
                fprintf(stderr, "posecrafter dust3r: bad --size '%s'\n", argv[i]);
                return 2;
            }
            size = (int)s;
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 0 || t > 1024) {
                fprintf(stderr, "posecrafter dust3r: bad --threads '%s'\n", argv[i]);
                return 2;
            }
            threads = (int)t;
        } else if (!strcmp(a, "--device") && i + 1 < argc) {
            device = argv[++i];
            if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda")) {
                fprintf(stderr, "posecrafter dust3r: bad --device '%s' (auto, cpu or cuda)\n", device);
                return 2;
            }
        } else if (!strcmp(a, "--conf-thr") && i + 1 < argc) {
            char *end;
            thr = strtof(argv[++i], &end);
            if (*end) {
                fprintf(stderr, "posecrafter dust3r: bad --conf-thr '%s'\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "posecrafter dust3r: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (nimg < 2) {
            imgs[nimg++] = a;
        } else {
            fprintf(stderr, "posecrafter dust3r: too many images ('%s')\n", a);
            return 2;
        }
    }
    if (!model || !out || nimg != 2) {
        usage(stderr);
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
               c->dec_depth, c->dec_dim, c->head == PC_DUST3R_HEAD_DPT ? "dpt" : "linear",
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
        if (st != PC_OK) {  // nothing half-written: remove what this run wrote
            for (int i = 0; i < w.n; i++) remove(w.paths[i]);
            if (made_dir) rmdir(out);
        }
    }
    if (st == PC_OK) {
        printf("wrote %d files to %s\n", w.n, out);
        rc = 0;
    } else {
        fprintf(stderr, "posecrafter dust3r: error: %s\n", err.msg);
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
