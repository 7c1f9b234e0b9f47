// Dataset converters (posecrafter eval-convert) on hand-made miniature
// examples of each publisher's layout: the manifest must give back the exact
// relative poses of the cameras the files were written from.
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posecrafter/eval.h"
#include "testutil.h"

#define NV 4

// Ground-truth cameras (OpenCV axes): yaw about y of 0, 30, 70, 100 degrees, small pitch, varied centres.
static void make_cams(double c2w[NV][16]) {
    static const double yaw[NV] = {0, 30, 70, 100}, pitch[NV] = {0, 5, -4, 8};
    for (int k = 0; k < NV; k++) {
        double a = yaw[k] * M_PI / 180, b = pitch[k] * M_PI / 180;
        double Ry[9] = {cos(a), 0, sin(a), 0, 1, 0, -sin(a), 0, cos(a)};
        double Rx[9] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
        double *m = c2w[k];
        memset(m, 0, 16 * sizeof(double));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double s = 0;
                for (int l = 0; l < 3; l++) s += Ry[i * 3 + l] * Rx[l * 3 + j];
                m[i * 4 + j] = s;
            }
        m[3] = 0.5 * k - 1, m[7] = 0.1 * k, m[11] = 2.0 - 0.3 * k, m[15] = 1;
    }
}

static void rot_to_quat_wxyz(double q[4], const double *m, int stride) {  // m: 3x3 with row stride
#define M(i, j) m[(i) * stride + (j)]
    double tr = M(0, 0) + M(1, 1) + M(2, 2);
    if (tr > 0) {
        double s = sqrt(tr + 1) * 2;
        q[0] = s / 4, q[1] = (M(2, 1) - M(1, 2)) / s, q[2] = (M(0, 2) - M(2, 0)) / s, q[3] = (M(1, 0) - M(0, 1)) / s;
    } else if (M(0, 0) > M(1, 1) && M(0, 0) > M(2, 2)) {
        double s = sqrt(1 + M(0, 0) - M(1, 1) - M(2, 2)) * 2;
        q[0] = (M(2, 1) - M(1, 2)) / s, q[1] = s / 4, q[2] = (M(0, 1) + M(1, 0)) / s, q[3] = (M(0, 2) + M(2, 0)) / s;
    } else if (M(1, 1) > M(2, 2)) {
        double s = sqrt(1 + M(1, 1) - M(0, 0) - M(2, 2)) * 2;
        q[0] = (M(0, 2) - M(2, 0)) / s, q[1] = (M(0, 1) + M(1, 0)) / s, q[2] = s / 4, q[3] = (M(1, 2) + M(2, 1)) / s;
    } else {
        double s = sqrt(1 + M(2, 2) - M(0, 0) - M(1, 1)) * 2;
        q[0] = (M(1, 0) - M(0, 1)) / s, q[1] = (M(0, 2) + M(2, 0)) / s, q[2] = (M(1, 2) + M(2, 1)) / s, q[3] = s / 4;
    }
#undef M
}

// world-to-camera rotation (transpose of c2w's 3x3) and translation
static void w2c(double R[9], double t[3], const double *c2w) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) R[i * 3 + j] = c2w[j * 4 + i];
    for (int i = 0; i < 3; i++) t[i] = -(R[i * 3] * c2w[3] + R[i * 3 + 1] * c2w[7] + R[i * 3 + 2] * c2w[11]);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) pc_test_fatal("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

// Check every manifest pair against the relative pose of the cameras it names.
static void check_manifest(const char *name, const char *manifest, const char *root, double c2w[NV][16], size_t expect) {
    pc_eval_pair *pairs;
    size_t n;
    pc_error err;
    pc_test_ok(pc_eval_pairs_load(&pairs, &n, manifest, root, &err), &err, name);
    double worst = 0;
    for (size_t p = 0; p < n; p++) {
        // view index = the digit before the extension in the file name
        const char *d0 = strrchr(pairs[p].img0, '.') - 1, *d1 = strrchr(pairs[p].img1, '.') - 1;
        int i = *d0 - '0', j = *d1 - '0';
        if (i < 0 || i >= NV || j < 0 || j >= NV) pc_test_fatal("%s: unexpected image name %s", name, pairs[p].img0);
        double R0[9], t0[3], R1[9], t1[3];
        w2c(R0, t0, c2w[i]);
        w2c(R1, t1, c2w[j]);
        for (int r = 0; r < 3; r++) {  // T_0to1 = w2c1 * c2w0
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int k = 0; k < 3; k++) s += R1[r * 3 + k] * c2w[i][k * 4 + c];
                worst = fmax(worst, fabs(s - pairs[p].R[r * 3 + c]));
            }
            double s = t1[r];
            for (int k = 0; k < 3; k++) s += R1[r * 3 + k] * c2w[i][k * 4 + 3];
            worst = fmax(worst, fabs(s - pairs[p].t[r]));
        }
    }
    PC_CHECK(n == expect && worst < 1e-6, "%s: %zu pairs (expected %zu), worst pose error %.2g", name, n, expect, worst);
    pc_eval_pairs_free(pairs);
}

int main(void) {
    char tmpl[] = "/tmp/pc_convert_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) pc_test_fatal("mkdtemp");
    double c2w[NV][16];
    make_cams(c2w);
    char path[512], text[8192], out[512];
    pc_error err;
    size_t n;
    int np = NV * (NV - 1) / 2;

    // ScanNet: pose/N.txt is cam-to-world, intrinsic_color.txt 4x4
    snprintf(path, sizeof(path), "%s/scannet", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/scannet/scene0000_00", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/scannet/scene0000_00/pose", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/scannet/scene0000_00/intrinsic", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/scannet/scene0000_00/intrinsic/intrinsic_color.txt", dir);
    write_file(path, "1170.2 0 647.7 0\n0 1170.2 483.7 0\n0 0 1 0\n0 0 0 1\n");
    for (int k = 0; k < NV; k++) {
        char *p = text;
        for (int r = 0; r < 4; r++) p += sprintf(p, "%.17g %.17g %.17g %.17g\n", c2w[k][r * 4], c2w[k][r * 4 + 1], c2w[k][r * 4 + 2], c2w[k][r * 4 + 3]);
        snprintf(path, sizeof(path), "%s/scannet/scene0000_00/pose/%d.txt", dir, k);
        write_file(path, text);
    }
    snprintf(path, sizeof(path), "%s/scannet/scene0000_00/pose/9.txt", dir);  // lost tracking: skipped
    write_file(path, "-inf -inf -inf -inf\n-inf -inf -inf -inf\n-inf -inf -inf -inf\n0 0 0 1\n");
    snprintf(path, sizeof(path), "%s/scannet", dir);
    snprintf(out, sizeof(out), "%s/scannet.jsonl", dir);
    pc_test_ok(pc_eval_convert("scannet", path, out, 0, 180, 0, 0, 1, &n, &err), &err, "convert scannet");
    check_manifest("scannet (pose/*.txt cam-to-world)", out, path, c2w, (size_t)np);
    pc_test_ok(pc_eval_convert("scannet", path, out, 50, 90, 0, 0, 1, &n, &err), &err, "convert scannet yaw");
    // yaw differences 30,70,100,40,70,30 -> in [50,90]: (0,2) 70 and (1,3) 70
    check_manifest("scannet yaw filter [50,90]", out, path, c2w, 2);
    pc_test_ok(pc_eval_convert("scannet", path, out, 0, 180, 2, 7, 1, &n, &err), &err, "convert scannet max");
    check_manifest("scannet --max-pairs 2", out, path, c2w, 2);

    // Cambridge: dataset_test.txt with centre + world-to-camera quaternion (W P Q R)
    snprintf(path, sizeof(path), "%s/cambridge", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/cambridge/KingsCollege", dir);
    mkdir(path, 0755);
    char *p = text + sprintf(text, "Visual Landmark Dataset V1\nImageFile, Camera Position [X Y Z W P Q R]\n\n");
    for (int k = 0; k < NV; k++) {
        double R[9], t[3], q[4];
        w2c(R, t, c2w[k]);
        rot_to_quat_wxyz(q, R, 3);
        p += sprintf(p, "seq1/frame0000%d.png %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n", k, c2w[k][3], c2w[k][7], c2w[k][11], q[0], q[1], q[2], q[3]);
    }
    snprintf(path, sizeof(path), "%s/cambridge/KingsCollege/dataset_test.txt", dir);
    write_file(path, text);
    snprintf(path, sizeof(path), "%s/cambridge/KingsCollege/reconstruction.nvm", dir);
    write_file(path, "NVM_V3\n\n4\nseq1/frame00000.jpg 1671.5 1 0 0 0 0 0 0 0 0\nseq1/frame00001.jpg 1672.5 1 0 0 0 0 0 0 0 0\n");
    snprintf(path, sizeof(path), "%s/cambridge", dir);
    snprintf(out, sizeof(out), "%s/cambridge.jsonl", dir);
    pc_test_ok(pc_eval_convert("cambridge", path, out, 0, 180, 0, 0, 1, &n, &err), &err, "convert cambridge");
    check_manifest("cambridge (centre + w2c quaternion)", out, path, c2w, (size_t)np);
    {
        pc_eval_pair *pairs;
        size_t m;
        pc_test_ok(pc_eval_pairs_load(&pairs, &m, out, path, &err), &err, "load");
        PC_CHECK(pairs[0].K0[0] == 1671.5 && pairs[0].K1[0] == 1672.5 && pairs[1].K1[0] == 1670.0 && pairs[0].K0[2] == 960,
                 "cambridge focal from reconstruction.nvm, fallback 1670, pp at the image centre");
        pc_eval_pairs_free(pairs);
    }

    // DL3DV / nerfstudio: transforms.json, cam-to-world in OpenGL axes (y up, z backward)
    snprintf(path, sizeof(path), "%s/dl3dv", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/dl3dv/0a1b2c", dir);
    mkdir(path, 0755);
    p = text + sprintf(text, "{\"fl_x\": 500, \"fl_y\": 501, \"cx\": 480, \"cy\": 270, \"w\": 960, \"h\": 540, \"frames\": [");
    for (int k = 0; k < NV; k++) {
        p += sprintf(p, "%s{\"file_path\": \"images/frame_0000%d.png\", \"transform_matrix\": [", k ? "," : "", k);
        for (int r = 0; r < 4; r++)
            p += sprintf(p, "%s[%.17g, %.17g, %.17g, %.17g]", r ? "," : "", c2w[k][r * 4], -c2w[k][r * 4 + 1], -c2w[k][r * 4 + 2], c2w[k][r * 4 + 3]);
        p += sprintf(p, "]}");
    }
    sprintf(p, "]}");
    snprintf(path, sizeof(path), "%s/dl3dv/0a1b2c/transforms.json", dir);
    write_file(path, text);
    snprintf(path, sizeof(path), "%s/dl3dv", dir);
    snprintf(out, sizeof(out), "%s/dl3dv.jsonl", dir);
    pc_test_ok(pc_eval_convert("dl3dv", path, out, 0, 180, 0, 0, 1, &n, &err), &err, "convert dl3dv");
    check_manifest("dl3dv (transforms.json, OpenGL axes)", out, path, c2w, (size_t)np);

    // NAVI: annotations.json with object-to-camera q (w,x,y,z), t
    snprintf(path, sizeof(path), "%s/navi", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/navi/3d_dollhouse_sink", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/navi/3d_dollhouse_sink/multiview-00-pixel_5", dir);
    mkdir(path, 0755);
    p = text + sprintf(text, "[");
    for (int k = 0; k < NV; k++) {
        double R[9], t[3], q[4];
        w2c(R, t, c2w[k]);
        rot_to_quat_wxyz(q, R, 3);
        p += sprintf(p, "%s{\"object_id\": \"3d_dollhouse_sink\", \"camera\": {\"q\": [%.17g, %.17g, %.17g, %.17g], \"t\": [%.17g, %.17g, %.17g], "
                        "\"focal_length\": 3024.0, \"camera_model\": \"pixel_5\"}, \"filename\": \"00%d.jpg\", \"image_size\": [3024, 4032]}",
                     k ? "," : "", q[0], q[1], q[2], q[3], t[0], t[1], t[2], k);
    }
    sprintf(p, "]");
    snprintf(path, sizeof(path), "%s/navi/3d_dollhouse_sink/multiview-00-pixel_5/annotations.json", dir);
    write_file(path, text);
    snprintf(path, sizeof(path), "%s/navi", dir);
    snprintf(out, sizeof(out), "%s/navi.jsonl", dir);
    pc_test_ok(pc_eval_convert("navi", path, out, 0, 180, 0, 0, 1, &n, &err), &err, "convert navi");
    check_manifest("navi (object-to-camera q, t)", out, path, c2w, (size_t)np);

    // malformed inputs: clear errors naming the file
    snprintf(path, sizeof(path), "%s/navi/3d_dollhouse_sink/multiview-00-pixel_5/annotations.json", dir);
    write_file(path, "[{\"camera\": {\"q\": [1, 0, 0]}}]");
    snprintf(path, sizeof(path), "%s/navi", dir);
    PC_CHECK(pc_eval_convert("navi", path, out, 0, 180, 0, 0, 1, &n, &err) == PC_ERR_FORMAT && strstr(err.msg, "annotations.json"),
             "malformed NAVI annotation: %s", err.msg);
    PC_CHECK(pc_eval_convert("colmap", path, out, 0, 180, 0, 0, 1, &n, &err) == PC_ERR_ARG, "unknown format: %s", err.msg);
    snprintf(path, sizeof(path), "%s/scannet", dir);
    PC_CHECK(pc_eval_convert("dl3dv", path, out, 0, 180, 0, 0, 1, &n, &err) == PC_ERR_NOT_FOUND, "wrong layout: %s", err.msg);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("(could not remove %s)\n", dir);
    return pc_test_finish();
}
