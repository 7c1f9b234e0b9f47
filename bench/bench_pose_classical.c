// bench_pose_classical [PAIRS.txt [IMAGE_DIR]]: our ORB + five-point LO-RANSAC
// against OpenCV's ORB + findEssentialMat + recoverPose (when built with
// OpenCV) on SuperGlue's 15 ScanNet sample pairs with ground truth.
// Pair file format (SuperGlue): img0 img1 rot0 rot1 K0[9] K1[9] T_0to1[16].
// Metrics as SuperGlue: pose error = max(rotation error, translation-direction
// error with sign ambiguity), AUC@5/10/20; failures count as +inf.
// Ours runs with pc_classical_options_default (cross-check + Lowe ratio 0.9, LO-RANSAC max 1000
// iterations); env PC_BENCH_ITERS / PC_BENCH_RATIO override. OpenCV runs the plain SuperGlue-style
// baseline (BFMatcher crossCheck, findEssentialMat prob 0.99999 with its default 1000-iteration cap).
// Timing: gray images in memory -> pose, single thread for both sides
// (OpenCV: cv::setNumThreads(1)), best of `reps` runs per pair, measured as
// the calling thread's CPU time (the machine is shared; wall time is noisy).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/cpu.h"
#include "posecrafter.h"

#ifdef PC_HAVE_OPENCV
int pc_bench_opencv_threads(int n);
int pc_bench_opencv_pose(const unsigned char *gray_a, int wa, int ha, const unsigned char *gray_b, int wb, int hb,
                         const double Ka[4], const double Kb[4], int nfeatures, double thr_px, double R[9], double t[3],
                         int *inliers, int *matches, double *seconds);
#endif

#define MAX_PAIRS 256

typedef struct {
    char a[512], b[512];
    double Ka[4], Kb[4], R[9], t[3];
} pair_gt;

static int read_pairs(const char *path, pair_gt *p, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *tok[64];
        int nt = 0;
        for (char *s = strtok(line, " \t\r\n"); s && nt < 64; s = strtok(NULL, " \t\r\n")) tok[nt++] = s;
        if (nt < 38) continue;
        double v[36];
        for (int i = 0; i < 36; i++) v[i] = atof(tok[2 + i]);
        snprintf(p[n].a, sizeof p[n].a, "%s", tok[0]);
        snprintf(p[n].b, sizeof p[n].b, "%s", tok[1]);
        // v[0], v[1]: EXIF rotations (all 0 in this file); K0 = v[2..10], K1 = v[11..19], T = v[20..35]
        const double *K0 = v + 2, *K1 = v + 11, *T = v + 20;
        double ka[4] = {K0[0], K0[4], K0[2], K0[5]}, kb[4] = {K1[0], K1[4], K1[2], K1[5]};
        memcpy(p[n].Ka, ka, sizeof ka);
        memcpy(p[n].Kb, kb, sizeof kb);
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) p[n].R[3 * r + c] = T[4 * r + c];
            p[n].t[r] = T[4 * r + 3];
        }
        n++;
    }
    fclose(f);
    return n;
}

static double thread_cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void to_gray(uint8_t **out, const pc_image *img) {
    *out = (uint8_t *)malloc((size_t)img->w * img->h);
    if (*out) pc_rgb_to_gray_u8(*out, img->data, img->w, img->h, img->c);
}

int main(int argc, char **argv) {
    char pairs_path[1024], img_dir[1024];
    const char *shared = getenv("PC_SHARED_DIR") ? getenv("PC_SHARED_DIR") : "../shared";
    snprintf(pairs_path, sizeof pairs_path, "%s", argc > 1 ? argv[1] : "");
    if (argc <= 1)
        snprintf(pairs_path, sizeof pairs_path,
                 "%s/data/SuperGluePretrainedNetwork/assets/scannet_sample_pairs_with_gt.txt", shared);
    if (argc > 2)
        snprintf(img_dir, sizeof img_dir, "%s", argv[2]);
    else
        snprintf(img_dir, sizeof img_dir, "%s/data/SuperGluePretrainedNetwork/assets/scannet_sample_images", shared);
    // PC_BENCH_RESIZE=WxH: resize both images first (SuperGlue evaluates ScanNet at 640x480); default 640x480,
    // for the default ScanNet file, none for a file given on the command line; "0" keeps the stored size
    int rw = argc > 1 ? 0 : 640, rh = argc > 1 ? 0 : 480;
    if (getenv("PC_BENCH_RESIZE") && sscanf(getenv("PC_BENCH_RESIZE"), "%dx%d", &rw, &rh) != 2) rw = rh = 0;
    int reps = getenv("PC_BENCH_REPS") ? atoi(getenv("PC_BENCH_REPS")) : 3;
    if (reps < 1) reps = 1;
    static pair_gt P[MAX_PAIRS];
    int n = read_pairs(pairs_path, P, MAX_PAIRS);
    if (n <= 0) {
        fprintf(stderr, "bench_pose_classical: cannot read pairs from %s\n", pairs_path);
        return 1;
    }
    pc_classical_options opt;
    pc_classical_options_default(&opt);
    if (getenv("PC_BENCH_ITERS")) opt.ransac.max_iters = atoi(getenv("PC_BENCH_ITERS"));
    if (getenv("PC_BENCH_RATIO")) opt.match.ratio = (float)atof(getenv("PC_BENCH_RATIO"));  // ours only; 0 = off
    printf("bench_pose_classical: %d pairs from %s (cpu: %s)\n", n, pairs_path, pc_cpu_features());
    if (rw > 0)
        printf("images resized to %dx%d (bilinear), K scaled as SuperGlue's scale_intrinsics\n", rw, rh);
    else
        printf("images at stored size\n");
    printf(
        "ORB nfeatures %d, cross-checked matching, threshold %.1f px, ours: LO-RANSAC max %d iters, ratio test %.2f; "
        "best of %d runs, 1 thread\n",
        opt.orb.nfeatures, opt.ransac.threshold, opt.ransac.max_iters, (double)opt.match.ratio, reps);
#ifdef PC_HAVE_OPENCV
    pc_bench_opencv_threads(1);
    printf("%-58s | %5s %5s %6s %6s %7s | %5s %5s %6s %6s %7s\n", "pair", "match", "inl", "eR", "et", "ms", "match",
           "inl", "eR", "et", "ms");
    printf("%-58s | %-34s | %-34s\n", "", "ours (ORB + 5-pt LO-RANSAC)", "OpenCV 4.6 (ORB + findEssentialMat)");
#else
    printf("(built without OpenCV: only our side)\n");
    printf("%-58s | %5s %5s %6s %6s %7s\n", "pair", "match", "inl", "eR", "et", "ms");
#endif
    double err_ours[MAX_PAIRS], t_ours = 0, t_orb = 0, t_match = 0, t_ransac = 0;
#ifdef PC_HAVE_OPENCV
    double err_cv[MAX_PAIRS], t_cv = 0;
#endif
    for (int i = 0; i < n; i++) {
        char pa[1600], pb[1600];
        int la = snprintf(pa, sizeof pa, "%s/%s", img_dir, P[i].a), lb = snprintf(pb, sizeof pb, "%s/%s", img_dir, P[i].b);
        if (la < 0 || lb < 0 || (size_t)la >= sizeof pa || (size_t)lb >= sizeof pb) {
            fprintf(stderr, "bench_pose_classical: image path too long for pair %d in %s\n", i + 1, pairs_path);
            return 1;
        }
        pc_image A = {0}, B = {0};
        pc_error err;
        if (pc_image_load(&A, pa, &err) != PC_OK || pc_image_load(&B, pb, &err) != PC_OK) {
            fprintf(stderr, "bench_pose_classical: %s\n", err.msg);
            return 1;
        }
        if (rw > 0 && rh > 0) {
            // SuperGlue's --resize: K rows scaled by new/old size (utils.scale_intrinsics)
            pc_image A2 = {0}, B2 = {0};
            double sxa = (double)rw / A.w, sya = (double)rh / A.h, sxb = (double)rw / B.w, syb = (double)rh / B.h;
            if (pc_image_resize(&A2, &A, rw, rh, PC_RESAMPLE_BILINEAR, &err) != PC_OK ||
                pc_image_resize(&B2, &B, rw, rh, PC_RESAMPLE_BILINEAR, &err) != PC_OK) {
                fprintf(stderr, "bench_pose_classical: %s\n", err.msg);
                return 1;
            }
            pc_image_free(&A);
            pc_image_free(&B);
            A = A2;
            B = B2;
            P[i].Ka[0] *= sxa, P[i].Ka[2] *= sxa, P[i].Ka[1] *= sya, P[i].Ka[3] *= sya;
            P[i].Kb[0] *= sxb, P[i].Kb[2] *= sxb, P[i].Kb[1] *= syb, P[i].Kb[3] *= syb;
        }
        pc_intrinsics Ka = {P[i].Ka[0], P[i].Ka[1], P[i].Ka[2], P[i].Ka[3]};
        pc_intrinsics Kb = {P[i].Kb[0], P[i].Kb[1], P[i].Kb[2], P[i].Kb[3]};
        // ours: the gray conversion is part of the timed path (pc_classical_pose takes RGB)
        pc_relpose pose;
        pc_classical_stats cs;
        double best = 1e30, t_orb_i = 0, t_match_i = 0, t_ransac_i = 0;
        pc_status st = PC_OK;
        for (int r = 0; r < reps; r++) {
            double t0 = thread_cpu_sec();
            st = pc_classical_pose(&pose, &cs, NULL, &A, &B, &Ka, &Kb, &opt, &err);
            double dt = thread_cpu_sec() - t0;
            if (dt < best) {
                best = dt;
                t_orb_i = cs.t_orb;
                t_match_i = cs.t_match;
                t_ransac_i = cs.t_ransac;
            }
        }
        t_orb += t_orb_i;
        t_match += t_match_i;
        t_ransac += t_ransac_i;
        t_ours += best;
        double eR = INFINITY, et = INFINITY;
        if (st == PC_OK && pose.n_inliers > 0) {
            eR = pc_eval_rot_error_deg(pose.R, P[i].R);
            et = pc_eval_trans_error_deg(pose.t, P[i].t, 1);
        }
        err_ours[i] = fmax(eR, et);
        char name[64];
        snprintf(name, sizeof name, "%.28s/%.28s", P[i].a, P[i].b);
        printf("%-58s | %5d %5d %6.1f %6.1f %7.1f", name, cs.matches, st == PC_OK ? pose.n_inliers : 0, eR, et,
               best * 1e3);
#ifdef PC_HAVE_OPENCV
        uint8_t *ga = NULL, *gb = NULL;
        to_gray(&ga, &A);
        to_gray(&gb, &B);
        double R[9], t[3], bcv = 1e30, sec;
        int inl = 0, nm = 0, rc = 1;
        for (int r = 0; r < reps && ga && gb; r++) {
            double c0 = thread_cpu_sec();
            rc = pc_bench_opencv_pose(ga, A.w, A.h, gb, B.w, B.h, P[i].Ka, P[i].Kb, opt.orb.nfeatures,
                                      opt.ransac.threshold, R, t, &inl, &nm, &sec);
            sec = thread_cpu_sec() - c0;
            if (sec < bcv) bcv = sec;
        }
        t_cv += bcv;
        double eR2 = INFINITY, et2 = INFINITY;
        if (rc == 0) {
            eR2 = pc_eval_rot_error_deg(R, P[i].R);
            et2 = pc_eval_trans_error_deg(t, P[i].t, 1);
        }
        err_cv[i] = fmax(eR2, et2);
        printf(" | %5d %5d %6.1f %6.1f %7.1f", nm, inl, eR2, et2, bcv * 1e3);
        free(ga);
        free(gb);
#else
        (void)to_gray;
#endif
        printf("\n");
        pc_image_free(&A);
        pc_image_free(&B);
    }
    double thr[3] = {5, 10, 20}, auc_o[3];
    pc_error err;
    if (pc_eval_pose_auc(auc_o, err_ours, n, thr, 3, &err) != PC_OK) {
        fprintf(stderr, "bench_pose_classical: %s\n", err.msg);
        return 1;
    }
#ifdef PC_HAVE_OPENCV
    double auc_c[3];
    if (pc_eval_pose_auc(auc_c, err_cv, n, thr, 3, &err) != PC_OK) {
        fprintf(stderr, "bench_pose_classical: %s\n", err.msg);
        return 1;
    }
#endif
    printf("\n%-28s %8s %8s %8s %12s\n", "method", "AUC@5", "AUC@10", "AUC@20", "CPU ms/pair");
    printf("%-28s %8.2f %8.2f %8.2f %12.1f\n", "ours ORB+5pt LO-RANSAC", 100 * auc_o[0], 100 * auc_o[1], 100 * auc_o[2],
           1e3 * t_ours / n);
    printf("  ours per pair (wall, best run): ORB (2 images) %.1f ms, matching %.1f ms, RANSAC %.1f ms\n",
           1e3 * t_orb / n, 1e3 * t_match / n, 1e3 * t_ransac / n);
#ifdef PC_HAVE_OPENCV
    printf("%-28s %8.2f %8.2f %8.2f %12.1f\n", "OpenCV ORB+findEssentialMat", 100 * auc_c[0], 100 * auc_c[1],
           100 * auc_c[2], 1e3 * t_cv / n);
    printf("speed-up (OpenCV time / ours): %.2fx\n", t_cv / t_ours);
#else
    printf("(OpenCV side not built: install libopencv-dev and reconfigure for the comparison)\n");
#endif
    return 0;
}
