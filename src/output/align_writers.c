// The files of an alignment result (declared in include/posecrafter/align.h): cameras.json, the COLMAP text
// model (cameras.txt, images.txt, points3D.txt) and a binary PLY of the confident points. src/output sits
// above geometry and io: the pipeline and the CLI write their reconstructions through it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "geometry/linalg.h"
#include "posecrafter/align.h"
#include "posecrafter/io.h"

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

pc_status pc_align_write_cameras_json(const char *path, const pc_align_result *res, const int *heights,
                                      const int *widths, const char *const *names, pc_error *err) {
    FILE *f = fopen(path, "w");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot write %s", path);
    fprintf(f, "[\n");
    for (int k = 0; k < res->n_views; k++) {
        fprintf(f, "  {\"file\": ");
        json_str(f, names ? names[k] : "");
        fprintf(f, ", \"width\": %d, \"height\": %d,\n   \"cam2world\": [", widths[k], heights[k]);
        for (int r = 0; r < 4; r++) {
            fprintf(f, "%s[", r ? ", " : "");
            for (int c = 0; c < 4; c++) fprintf(f, "%s%.9g", c ? ", " : "", res->c2w[k][r * 4 + c]);
            fprintf(f, "]");
        }
        fprintf(f, "],\n   \"fx\": %.9g, \"fy\": %.9g, \"cx\": %.9g, \"cy\": %.9g}%s\n", res->focals[k], res->focals[k],
                res->pp[k][0], res->pp[k][1], k + 1 < res->n_views ? "," : "");
    }
    fprintf(f, "]\n");
    if (fclose(f) != 0) return pc_err(err, PC_ERR_IO, "error writing %s", path);
    return PC_OK;
}

// Merged masked cloud; returns count (or -1 on OOM) and owned buffers.
static int64_t merge_cloud(float **oxyz, uint8_t **orgb, int n_views, const int *heights, const int *widths,
                           const float *const *pts, const uint8_t *const *rgb, const uint8_t *const *masks) {
    int64_t total = 0;
    for (int k = 0; k < n_views; k++) {
        int64_t hw = (int64_t)heights[k] * widths[k];
        for (int64_t p = 0; p < hw; p++) total += !masks || masks[k][p];
    }
    float *xyz = (float *)malloc((size_t)(total ? total : 1) * 3 * sizeof(float));
    uint8_t *c = rgb ? (uint8_t *)malloc((size_t)(total ? total : 1) * 3) : NULL;
    if (!xyz || (rgb && !c)) {
        free(xyz);
        free(c);
        return -1;
    }
    int64_t m = 0;
    for (int k = 0; k < n_views; k++) {
        int64_t hw = (int64_t)heights[k] * widths[k];
        for (int64_t p = 0; p < hw; p++) {
            if (masks && !masks[k][p]) continue;
            memcpy(xyz + m * 3, pts[k] + p * 3, 3 * sizeof(float));
            if (c) memcpy(c + m * 3, rgb[k] + p * 3, 3);
            m++;
        }
    }
    *oxyz = xyz;
    *orgb = c;
    return total;
}

pc_status pc_align_write_ply(const char *path, int n_views, const int *heights, const int *widths,
                             const float *const *pts, const uint8_t *const *rgb, const uint8_t *const *masks,
                             pc_error *err) {
    float *xyz;
    uint8_t *c;
    int64_t n = merge_cloud(&xyz, &c, n_views, heights, widths, pts, rgb, masks);
    if (n < 0) return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
    pc_status st = pc_ply_save(path, xyz, c, (size_t)n, err);
    free(xyz);
    free(c);
    return st;
}

pc_status pc_align_write_colmap(const char *dir, const pc_align_result *res, const int *heights,
                                const int *widths, const char *const *names, const float *const *pts,
                                const uint8_t *const *rgb, const uint8_t *const *masks, pc_error *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/cameras.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot write %s", path);
    fprintf(f, "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n");
    fprintf(f, "# Number of cameras: %d\n", res->n_views);
    for (int k = 0; k < res->n_views; k++)
        fprintf(f, "%d PINHOLE %d %d %.9g %.9g %.9g %.9g\n", k + 1, widths[k], heights[k], res->focals[k],
                res->focals[k], res->pp[k][0], res->pp[k][1]);
    if (fclose(f) != 0) return pc_err(err, PC_ERR_IO, "error writing %s", path);

    snprintf(path, sizeof(path), "%s/images.txt", dir);
    f = fopen(path, "w");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot write %s", path);
    fprintf(f, "# Image list with two lines of data per image:\n");
    fprintf(f, "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n#   POINTS2D[] as (X, Y, POINT3D_ID)\n");
    fprintf(f, "# Number of images: %d, mean observations per image: 0\n", res->n_views);
    for (int k = 0; k < res->n_views; k++) {
        // world-to-camera: R^T, -R^T t
        const float *P = res->c2w[k];
        double Rw[9], tw[3], q[4];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) Rw[r * 3 + c] = P[c * 4 + r];
            tw[r] = -(P[0 * 4 + r] * (double)P[3] + P[1 * 4 + r] * (double)P[7] + P[2 * 4 + r] * (double)P[11]) + 0.0;
        }
        pc_rot_to_quat_roma(q, Rw);
        if (q[3] < 0)
            for (int c = 0; c < 4; c++) q[c] = -q[c];
        fprintf(f, "%d %.12g %.12g %.12g %.12g %.12g %.12g %.12g %d %s\n\n", k + 1, q[3], q[0], q[1], q[2], tw[0], tw[1],
                tw[2], k + 1, names ? names[k] : "");
    }
    if (fclose(f) != 0) return pc_err(err, PC_ERR_IO, "error writing %s", path);

    snprintf(path, sizeof(path), "%s/points3D.txt", dir);
    f = fopen(path, "w");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot write %s", path);
    float *xyz = NULL;
    uint8_t *c = NULL;
    int64_t n = pts ? merge_cloud(&xyz, &c, res->n_views, heights, widths, pts, rgb, masks) : 0;
    if (n < 0) {
        fclose(f);
        return pc_err(err, PC_ERR_MEMORY, "align: out of memory");
    }
    fprintf(f, "# 3D point list with one line of data per point:\n");
    fprintf(f, "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n");
    fprintf(f, "# Number of points: %lld, mean track length: 0\n", (long long)n);
    for (int64_t p = 0; p < n; p++)
        fprintf(f, "%lld %.7g %.7g %.7g %d %d %d 0\n", (long long)(p + 1), xyz[p * 3], xyz[p * 3 + 1], xyz[p * 3 + 2],
                c ? c[p * 3] : 128, c ? c[p * 3 + 1] : 128, c ? c[p * 3 + 2] : 128);
    free(xyz);
    free(c);
    if (fclose(f) != 0) return pc_err(err, PC_ERR_IO, "error writing %s", path);
    return PC_OK;
}
