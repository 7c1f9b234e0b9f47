// Timing of pipeline steps 4-5: the 25-pose trajectory through 4 relay cameras
// and the ViewCrafter point renderer (pytorch3d semantics, radius 0.01 NDC,
// K = 10) of a ~1M-point cloud, then the bilinear x2 upsampling to model size.
// Usage: bench_render [n_points] [H] [W] [threads...]   (default 1000000 320 512, threads 1 and all)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "geometry/linalg.h"
#include "testutil.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
// Process CPU time (all threads): on a loaded shared machine the wall time of a
// 1-thread run overstates the cost, so both are printed.
static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    long P = argc > 1 ? atol(argv[1]) : 1000000;
    int H = argc > 2 ? atoi(argv[2]) : 320, W = argc > 3 ? atoi(argv[3]) : 512;
    if (P < 1 || P > 50000000 || H < 8 || W < 8 || H > 4096 || W > 4096) {
        fprintf(stderr, "bad arguments\n");
        return 1;
    }
    // A DUSt3R-like cloud: 4 views' depth maps back-projected (wavy surface, depth 2..4),
    // as many grid points as asked.
    float *pts = malloc((size_t)P * 3 * sizeof(float)), *cols = malloc((size_t)P * 3 * sizeof(float));
    pc_test_rng rng = {3};
    const int g = (int)ceil(sqrt((double)P));
    for (long i = 0; i < P; i++) {
        double u = (double)(i % g) / g - 0.5, v = (double)(i / g) / g - 0.5;
        double z = 3 + 0.6 * sin(7 * u) * cos(5 * v) + 0.02 * pc_test_uniform(&rng);
        pts[3 * i] = (float)(2.2 * u * z), pts[3 * i + 1] = (float)(1.4 * v * z), pts[3 * i + 2] = (float)z;
        cols[3 * i] = (float)(0.5 + 0.5 * sin(20 * u)), cols[3 * i + 1] = (float)(0.5 + 0.5 * cos(17 * v));
        cols[3 * i + 2] = 0.5f;
    }
    // 4 relay cameras turning around the cloud centre.
    pc_camera keys[4];
    for (int j = 0; j < 4; j++) {
        double aa[3] = {0.02 * j, -0.12 * j, 0.01 * j}, R[9];
        pc_axis_angle_to_rot(R, aa);
        memset(&keys[j], 0, sizeof keys[j]);
        double c[3] = {0, 0, 3}, o[3];
        pc_m3_mulv(o, R, (double[3]){0, 0, -3});
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) keys[j].c2w[4 * r + k] = R[3 * r + k];
            keys[j].c2w[4 * r + 3] = c[r] + o[r];
        }
        keys[j].c2w[15] = 1;
        keys[j].fx = keys[j].fy = 0.9 * W, keys[j].cx = W / 2.0, keys[j].cy = H / 2.0;
    }
    pc_error err;
    pc_traj_opts to = pc_traj_default();
    pc_camera path[25];
    double t0 = now();
    for (int rep = 0; rep < 1000; rep++)
        if (pc_traj_interpolate(path, 25, keys, 4, &to, &err) != PC_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_traj = (now() - t0) / 1000;
    printf("trajectory: 25 poses through 4 keys (SLERP, total): %.2f us\n", 1e6 * t_traj);

    pc_render_settings rs = pc_render_viewcrafter(H, W);
    float *img = malloc((size_t)25 * H * W * 3 * sizeof(float));
    float *up = malloc((size_t)25 * 4 * H * W * 3 * sizeof(float));
    int nthr[8], nt = 0;
    for (int a = 4; a < argc && nt < 8; a++) nthr[nt++] = atoi(argv[a]);
    if (nt == 0) nthr[nt++] = 1, nthr[nt++] = 0;
    printf("render: %ld points, 25 frames at %dx%d, radius %.2f NDC, K %d, then x2 bilinear to %dx%d\n", P, H, W,
           rs.radius, rs.K, 2 * H, 2 * W);
    printf("| threads | render 25 frames wall (s) | CPU (s) | per frame wall (ms) | upsample 25 wall (ms) | CPU (ms) | covered px %% |\n"
           "|---|---|---|---|---|---|---|\n");
    float *ref = NULL;
    for (int t = 0; t < nt; t++) {
        pc_pool *pool = NULL;
        if (pc_pool_create(&pool, nthr[t], &err) != PC_OK) return fprintf(stderr, "%s\n", err.msg), 1;
        double ca = cpu(), a = now();
        if (pc_render_points(pool, img, pts, cols, P, path, 25, &rs, NULL, &err) != PC_OK)
            return fprintf(stderr, "%s\n", err.msg), 1;
        double b = now(), cb = cpu();
        if (pc_render_upsample(pool, up, img, 25, H, W, 2 * H, 2 * W, &err) != PC_OK)
            return fprintf(stderr, "%s\n", err.msg), 1;
        double c = now(), cc = cpu();
        long cov = 0;
        for (long i = 0; i < (long)H * W; i++) cov += img[3 * i] > 0 || img[3 * i + 1] > 0;
        int same = 1;
        if (!ref) {
            ref = malloc((size_t)25 * H * W * 3 * sizeof(float));
            memcpy(ref, img, (size_t)25 * H * W * 3 * sizeof(float));
        } else {
            same = memcmp(ref, img, (size_t)25 * H * W * 3 * sizeof(float)) == 0;
        }
        printf("| %d | %.3f | %.3f | %.1f | %.1f | %.1f | %.1f |%s\n", pc_pool_size(pool), b - a, cb - ca,
               1e3 * (b - a) / 25, 1e3 * (c - b), 1e3 * (cc - cb), 100.0 * cov / ((double)H * W),
               same ? "" : "  (differs from the first run!)");
        pc_pool_free(pool);
    }
    free(ref), free(pts), free(cols), free(img), free(up);
    return 0;
}
