// posecrafter pose A B [--models DIR] [-o OUT] ...: the PoseCrafter pipeline (cmd_pose_pipeline.c);
// posecrafter pose --classical A B --K fx,fy,cx,cy [--K2 ...] [--json]: the classical estimator (ORB +
// five-point LO-RANSAC), here. Both report X_B = R X_A + t.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static const char usage_text[] =
    "usage: posecrafter pose --classical A.jpg B.jpg --K fx,fy,cx,cy [--K2 fx,fy,cx,cy] [--json]\n"
    "                        [--nfeatures 2000] [--threshold PX] [--seed S] [--threads N]\n\n"
    "Relative camera pose of B with respect to A: X_B = R X_A + t (OpenCV axes), t of unit norm.\n";

static int pose_classical(int argc, char **argv) {
    int classical = 0, json = 0, have_k = 0, have_k2 = 0, threads = 0, nfeatures = 2000;
    double threshold = 1.0;
    uint64_t seed = 0;
    const char *pa = NULL, *pb = NULL;
    pc_intrinsics K1 = {0, 0, 0, 0}, K2 = {0, 0, 0, 0};
    const pc_opt opts[] = {
        PC_OPT_FLAG(0, "classical", &classical,
                    "ORB-2000 + Hamming matching (cross-check, ratio 0.9) + five-point LO-RANSAC (max 1000\n"
                    "iterations) + cheirality\n"
                    "(without --classical: the PoseCrafter pipeline, see posecrafter pose --help)"),
        PC_OPT_CALLBACK(0, "K", pc_cli_opt_K, &K1, "fx,fy,cx,cy", "fx,fy,cx,cy in pixels with fx, fy > 0",
                        "intrinsics of A in pixels of the file as stored (also B's unless --K2)"),
        PC_OPT_CALLBACK(0, "K2", pc_cli_opt_K, &K2, "fx,fy,cx,cy", "fx,fy,cx,cy in pixels with fx, fy > 0",
                        "intrinsics of B"),
        PC_OPT_DOUBLE(0, "threshold", &threshold, 1e-6, 999.999, "PX", "RANSAC inlier threshold in pixels"),
        PC_OPT_U64(0, "seed", &seed, 0, 9007199254740992.0, "S", "RANSAC seed"),
        PC_OPT_INT(0, "nfeatures", &nfeatures, 1, 100000, "N", "ORB keypoints per image"),
        PC_OPT_INT(0, "threads", &threads, 0, 256, "N", "worker threads (0: all CPUs)"),
        PC_OPT_FLAG(0, "json", &json, "one JSON object on stdout: R (3x3 row-major), t, inliers, matches, timings"),
        PC_OPT_END(),
    };
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    const pc_opts_cmd cmd = {"pose", usage_text, pos, 2, &npos, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    pa = pos[0], pb = pos[1];
    have_k = K1.fx > 0, have_k2 = K2.fx > 0;
    if (!pa || !pb || !have_k) {
        fprintf(stderr, "posecrafter pose: need A, B and --K fx,fy,cx,cy\n\n");
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    if (!have_k2) K2 = K1;
    pc_error err;
    pc_image A = {0}, B = {0};
    pc_pool *pool = NULL;
    int rc = 1;
    double t0 = pc_time_sec();
    if (pc_image_load(&A, pa, &err) != PC_OK || pc_image_load(&B, pb, &err) != PC_OK) {
        fprintf(stderr, "posecrafter pose: %s\n", err.msg);
        goto done;
    }
    double t_load = pc_time_sec() - t0;
    if (pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "posecrafter pose: %s\n", err.msg);
        goto done;
    }
    pc_classical_options opt;
    pc_classical_options_default(&opt);
    opt.orb.nfeatures = nfeatures;
    opt.ransac.threshold = threshold;
    opt.ransac.seed = seed;
    pc_relpose pose;
    pc_classical_stats cs;
    pc_status st = pc_classical_pose(&pose, &cs, pool, &A, &B, &K1, &K2, &opt, &err);
    if (st != PC_OK) {
        fprintf(stderr, "posecrafter pose: %s (keypoints %d / %d, matches %d)\n", err.msg, cs.keypoints_a,
                cs.keypoints_b, cs.matches);
        goto done;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "method", "classical");
        cJSON *R = cJSON_CreateArray();
        for (int r = 0; r < 3; r++) cJSON_AddItemToArray(R, cJSON_CreateDoubleArray(pose.R + 3 * r, 3));
        cJSON_AddItemToObject(root, "R", R);
        cJSON_AddItemToObject(root, "t", cJSON_CreateDoubleArray(pose.t, 3));
        cJSON_AddNumberToObject(root, "inliers", pose.n_inliers);
        cJSON_AddNumberToObject(root, "matches", cs.matches);
        cJSON *kp = cJSON_CreateArray();
        cJSON_AddItemToArray(kp, cJSON_CreateNumber(cs.keypoints_a));
        cJSON_AddItemToArray(kp, cJSON_CreateNumber(cs.keypoints_b));
        cJSON_AddItemToObject(root, "keypoints", kp);
        cJSON_AddNumberToObject(root, "ransac_iters", pose.iters);
        cJSON *tm = cJSON_CreateObject();
        cJSON_AddNumberToObject(tm, "load", t_load);
        cJSON_AddNumberToObject(tm, "orb", cs.t_orb);
        cJSON_AddNumberToObject(tm, "match", cs.t_match);
        cJSON_AddNumberToObject(tm, "ransac", cs.t_ransac);
        cJSON_AddNumberToObject(tm, "total", cs.t_total);
        cJSON_AddItemToObject(root, "timings_s", tm);
        char *txt = cJSON_PrintUnformatted(root);
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(root);
    } else {
        printf("classical pose (X_B = R X_A + t): %d inliers of %d matches (keypoints %d / %d)\n", pose.n_inliers,
               cs.matches, cs.keypoints_a, cs.keypoints_b);
        for (int r = 0; r < 3; r++)
            printf("R[%d] = % .6f % .6f % .6f\n", r, pose.R[3 * r], pose.R[3 * r + 1], pose.R[3 * r + 2]);
        printf("t    = % .6f % .6f % .6f\n", pose.t[0], pose.t[1], pose.t[2]);
        printf("time: orb %.1f ms, match %.1f ms, ransac %.1f ms, total %.1f ms\n", cs.t_orb * 1e3, cs.t_match * 1e3,
               cs.t_ransac * 1e3, cs.t_total * 1e3);
    }
    rc = 0;
done:
    pc_pool_free(pool);
    pc_image_free(&A);
    pc_image_free(&B);
    return rc;
}

int pc_cmd_pose(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--classical")) return pose_classical(argc, argv);
    return pc_cmd_pose_pipeline(argc, argv);
}
