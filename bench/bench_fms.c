// bench_fms: Feature Matching Selector speed, the target: 75 frames of
// 512x320 against inputs A and B in < 1 s on 2 cores. Frames are synthetic
// views (geometry/synth.h) of the scene of A and B at yaw 0..45 deg plus views
// of other scenes. Prints wall time and process CPU time (the machine may be
// shared: CPU time / threads is the undisturbed lower bound) per thread count.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "geometry/synth.h"
#include "posecrafter.h"

#define W 512
#define H 320
#define NF 75

static int view(pc_image *b, pc_image *a, double yaw, double offset, uint64_t seed, pc_error *err) {
    pc_synth_params sp;
    pc_synth_params_default(&sp);
    sp.width = W;
    sp.height = H;
    sp.yaw_deg = yaw;
    sp.offset = offset;
    sp.seed = seed;
    pc_synth_pair s;
    if (pc_synth_pair_make(&s, &sp, err) != PC_OK) return 1;
    if (pc_image_alloc(b, W, H, 3, err) != PC_OK) return 1;
    memcpy(b->data, s.img_b, (size_t)W * H * 3);
    if (a) {
        if (pc_image_alloc(a, W, H, 3, err) != PC_OK) return 1;
        memcpy(a->data, s.img_a, (size_t)W * H * 3);
    }
    pc_synth_pair_free(&s);
    return 0;
}

static double cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1) reps = 1;
    pc_fms_options opt;
    pc_fms_options_default(&opt);
    if (argc > 2) opt.ransac.max_iters = atoi(argv[2]);  // experiment: F-RANSAC iteration cap
    static pc_fms_frame_stats st[NF];
    pc_error err;
    pc_image A = {0}, B = {0}, F[NF];
    memset(F, 0, sizeof F);
    if (view(&B, &A, 40, 0, 3, &err)) goto fail;
    for (int i = 0; i < NF; i++) {
        // 60 frames of the scene (yaw 0..45, small sideways offsets), 15 of other scenes
        int ok = i < 60 ? view(&F[i], NULL, 45.0 * i / 59, 0.05 * (i % 3), 3, &err)
                        : view(&F[i], NULL, 20, 0, 1000 + (uint64_t)i, &err);
        if (ok) goto fail;
    }
    printf(
        "bench_fms: %d frames of %dx%d vs A and B, ORB-2000, cross-check, F-RANSAC (%.1f px, <= %d iters), best of "
        "%d\n",
        NF, W, H, opt.ransac.threshold, opt.ransac.max_iters, reps);
    printf("%8s %10s %10s %14s %6s\n", "threads", "wall s", "cpu s", "cpu/threads s", "sel");
    for (int nt = 1; nt <= 2; nt++) {
        pc_pool *pool = NULL;
        if (pc_pool_create(&pool, nt, &err) != PC_OK) goto fail;
        double best_wall = 1e30, best_cpu = 1e30;
        int sel[6], nsel = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = pc_time_sec(), c0 = cpu_sec();
            if (pc_fms_select(pool, F, NF, &A, &B, 6, PC_FMS_DEFAULT_THRESHOLD, &opt, sel, &nsel, st, &err) != PC_OK)
                goto fail;
            double t1 = pc_time_sec(), c1 = cpu_sec();
            if (t1 - t0 < best_wall) best_wall = t1 - t0;
            if (c1 - c0 < best_cpu) best_cpu = c1 - c0;
        }
        printf("%8d %10.3f %10.3f %14.3f %6d\n", nt, best_wall, best_cpu, best_cpu / nt, nsel);
        pc_pool_free(pool);
    }
    {
        // score separation: frames of the scene (0..59) vs frames of other scenes (60..74)
        int min_in = 1 << 30, max_out = 0;
        double mean_in = 0;
        for (int i = 0; i < NF; i++) {
            if (i < 60) {
                min_in = st[i].score < min_in ? st[i].score : min_in;
                mean_in += st[i].score / 60.0;
            } else {
                max_out = st[i].score > max_out ? st[i].score : max_out;
            }
        }
        printf("S: same scene min %d mean %.0f; other scenes max %d (threshold %d)\n", min_in, mean_in, max_out,
               PC_FMS_DEFAULT_THRESHOLD);
    }
    // stage split, single thread: ORB alone on all 77 images
    {
        pc_orb_params p;
        pc_orb_default_params(&p);
        p.nfeatures = 2000;
        pc_orb_features f = {0, NULL, NULL};
        double c0 = cpu_sec();
        for (int i = 0; i < NF; i++)
            if (pc_orb_detect_image(&f, &F[i], &p, &err) != PC_OK) goto fail;
        double c1 = cpu_sec();
        printf("ORB alone: %.2f ms CPU per 512x320 frame (%d keypoints on the last)\n", 1e3 * (c1 - c0) / NF, f.n);
        pc_orb_features_free(&f);
    }
    for (int i = 0; i < NF; i++) pc_image_free(&F[i]);
    pc_image_free(&A);
    pc_image_free(&B);
    return 0;
fail:
    fprintf(stderr, "bench_fms: %s\n", err.msg);
    return 1;
}
