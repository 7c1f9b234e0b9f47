// posecrafter select A B FRAME... [-k 6] [--threshold T] [--json]: the Feature
// Matching Selector (PoseCrafter §3.3) over a set of frames.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static const char usage_text[] =
    "usage: posecrafter select A.jpg B.jpg FRAME... [-k 6] [--threshold T] [--exclude I,J,...]\n"
    "                          [--nfeatures 2000] [--threads N] [--json]\n\n"
    "Feature Matching Selector (PoseCrafter 3.3): ORB on every frame, cross-checked Hamming matches to A and\n"
    "to B, fundamental-matrix RANSAC inliers N_A, N_B; S = N_A + N_B. Prints the table and the k frames with\n"
    "the largest S among those with S >= T (ties: lower index). Frames identical to A or B, and the indices\n"
    "given to --exclude (0-based, in FRAME order), are never selected.\n\n";

int pc_cmd_select(int argc, char **argv) {
    int k = 6, threshold = PC_FMS_DEFAULT_THRESHOLD, json = 0, threads = 0, nfeatures = 2000;
    const char *exclude_list = NULL;
    const char **paths = (const char **)calloc((size_t)argc, sizeof(char *));
    int np = 0;
    if (!paths) return 1;
    const pc_opt opts[] = {
        PC_OPT_INT('k', NULL, &k, 0, 1000000000, "N", "frames to select"),
        PC_OPT_INT(0, "threshold", &threshold, -1000000000, 1000000000, "T", "minimum S"),
        PC_OPT_STRING(0, "exclude", &exclude_list, "LIST",
                      "comma-separated frame indices to leave out (e.g. the inputs inside a video)"),
        PC_OPT_INT(0, "nfeatures", &nfeatures, 1, 100000, "N", "ORB keypoints per image"),
        PC_OPT_INT(0, "threads", &threads, 0, 256, "N", "worker threads (0: all CPUs)"),
        PC_OPT_FLAG(0, "json", &json, "one JSON object on stdout instead of the table"),
        PC_OPT_END(),
    };
    const pc_opts_cmd cmd = {"select", usage_text, paths, argc, &np, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) {
        free(paths);
        return prc;
    }
    if (np < 3) {
        fprintf(stderr, "posecrafter select: need A, B and at least one frame\n\n");
        pc_opts_help(stderr, opts, &cmd);
        free(paths);
        return 2;
    }
    int n = np - 2, rc = 1, nsel = 0;
    pc_error err;
    pc_image A = {0}, B = {0};
    pc_image *frames = (pc_image *)calloc((size_t)n, sizeof(pc_image));
    pc_fms_frame_stats *stats = (pc_fms_frame_stats *)calloc((size_t)n, sizeof(pc_fms_frame_stats));
    uint8_t *excl = (uint8_t *)calloc((size_t)n, 1);
    int *sel = (int *)calloc((size_t)(k ? k : 1), sizeof(int));
    pc_pool *pool = NULL;
    if (!frames || !stats || !excl || !sel) {
        fprintf(stderr, "posecrafter select: out of memory\n");
        goto done;
    }
    if (exclude_list) {
        const char *s = exclude_list;
        while (*s) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || v >= n || (*end && *end != ',')) {
                fprintf(stderr, "posecrafter select: bad --exclude '%s' (0-based frame indices < %d)\n", exclude_list,
                        n);
                rc = 2;
                goto done;
            }
            excl[v] = 1;
            s = *end ? end + 1 : end;
        }
    }
    double t0 = pc_time_sec();
    if (pc_image_load(&A, paths[0], &err) != PC_OK || pc_image_load(&B, paths[1], &err) != PC_OK) {
        fprintf(stderr, "posecrafter select: %s\n", err.msg);
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (pc_image_load(&frames[i], paths[2 + i], &err) != PC_OK) {
            fprintf(stderr, "posecrafter select: %s\n", err.msg);
            goto done;
        }
    double t1 = pc_time_sec();
    if (pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "posecrafter select: %s\n", err.msg);
        goto done;
    }
    pc_fms_options opt;
    pc_fms_options_default(&opt);
    opt.orb.nfeatures = nfeatures;
    opt.exclude = excl;
    if (pc_fms_select(pool, frames, n, &A, &B, k, threshold, &opt, sel, &nsel, stats, &err) != PC_OK) {
        fprintf(stderr, "posecrafter select: %s\n", err.msg);
        goto done;
    }
    double t2 = pc_time_sec();
    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *sj = cJSON_CreateArray(),
              *sp = cJSON_CreateArray();
        cJSON_AddStringToObject(root, "A", paths[0]);
        cJSON_AddStringToObject(root, "B", paths[1]);
        cJSON_AddNumberToObject(root, "k", k);
        cJSON_AddNumberToObject(root, "threshold", threshold);
        cJSON_AddStringToObject(root, "model", "fundamental");
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "index", i);
            cJSON_AddStringToObject(o, "path", paths[2 + i]);
            cJSON_AddNumberToObject(o, "keypoints", stats[i].n_keypoints);
            cJSON_AddNumberToObject(o, "matches_a", stats[i].matches_a);
            cJSON_AddNumberToObject(o, "N_A", stats[i].inliers_a);
            cJSON_AddNumberToObject(o, "matches_b", stats[i].matches_b);
            cJSON_AddNumberToObject(o, "N_B", stats[i].inliers_b);
            cJSON_AddNumberToObject(o, "S", stats[i].score);
            cJSON_AddBoolToObject(o, "excluded", stats[i].excluded);
            cJSON_AddBoolToObject(o, "selected", stats[i].selected);
            cJSON_AddItemToArray(arr, o);
        }
        for (int i = 0; i < nsel; i++) {
            cJSON_AddItemToArray(sj, cJSON_CreateNumber(sel[i]));
            cJSON_AddItemToArray(sp, cJSON_CreateString(paths[2 + sel[i]]));
        }
        cJSON_AddItemToObject(root, "frames", arr);
        cJSON_AddItemToObject(root, "selected", sj);
        cJSON_AddItemToObject(root, "selected_paths", sp);
        cJSON *tm = cJSON_CreateObject();
        cJSON_AddNumberToObject(tm, "load", t1 - t0);
        cJSON_AddNumberToObject(tm, "select", t2 - t1);
        cJSON_AddItemToObject(root, "timings_s", tm);
        char *txt = cJSON_PrintUnformatted(root);
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(root);
    } else {
        printf("FMS: %d frames vs A=%s, B=%s (ORB-%d, cross-checked matches, F-RANSAC 1 px)\n", n, paths[0], paths[1],
               nfeatures);
        printf("%5s %6s %8s %6s %8s %6s %6s  %s\n", "index", "kp", "match_A", "N_A", "match_B", "N_B", "S", "frame");
        for (int i = 0; i < n; i++)
            printf("%5d %6d %8d %6d %8d %6d %6d  %s%s%s\n", i, stats[i].n_keypoints, stats[i].matches_a,
                   stats[i].inliers_a, stats[i].matches_b, stats[i].inliers_b, stats[i].score, paths[2 + i],
                   stats[i].selected ? "  [selected]" : "", stats[i].excluded ? "  (excluded)" : "");
        printf("selected %d of k=%d (threshold S >= %d):", nsel, k, threshold);
        for (int i = 0; i < nsel; i++) printf(" %d", sel[i]);
        printf("\n");
        printf("time: load %.3f s, select %.3f s (%d threads)\n", t1 - t0, t2 - t1, pc_pool_size(pool));
    }
    rc = 0;
done:
    pc_pool_free(pool);
    pc_image_free(&A);
    pc_image_free(&B);
    if (frames)
        for (int i = 0; i < n; i++) pc_image_free(&frames[i]);
    free(frames);
    free(stats);
    free(excl);
    free(sel);
    free(paths);
    return rc;
}
