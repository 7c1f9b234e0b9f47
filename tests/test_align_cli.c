// posecrafter align --pairs DIR: writes the golden GA pairwise predictions as .npy (the documented layout),
// runs the CLI ($PC_BIN) and checks cameras.json, the COLMAP text model and the PLY.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posecrafter.h"
#include "testutil.h"

static void save(const char *dir, const char *name, const pc_tensor *t) {
    char p[1024];
    pc_error err;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    pc_test_ok(pc_npy_save(p, t, &err), &err, name);
}

static long file_size(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

int main(void) {
    char path[2048];
    const char *bin = getenv("PC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("skip: PC_BIN (posecrafter binary) not available\n");
        return 77;
    }
    pc_test_shared_path(path, sizeof(path), "golden/dust3r/ga.safetensors");
    pc_error err;
    pc_checkpoint *ck;
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open ga.safetensors");
    char dir[] = "/tmp/pc_align_cli_XXXXXX";
    if (!mkdtemp(dir)) pc_test_fatal("mkdtemp failed");
    const char *keys[5][2] = {{"edges", "edges.npy"},
                              {"pw_pred1_pts3d", "pred1_pts3d.npy"},
                              {"pw_pred1_conf", "pred1_conf.npy"},
                              {"pw_pred2_pts3d_in_other_view", "pred2_pts3d.npy"},
                              {"pw_pred2_conf", "pred2_conf.npy"}};
    for (int k = 0; k < 5; k++) {
        const pc_tensor *t = pc_checkpoint_find(ck, keys[k][0]);
        if (!t) pc_test_fatal("missing %s", keys[k][0]);
        save(dir, keys[k][1], t);
    }
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s align --pairs %s -o %s/out --threads 2 > %s/log.txt 2>&1", bin, dir, dir, dir);
    int rc = system(cmd);
    PC_CHECK(rc == 0, "posecrafter align --pairs (exit %d)", rc);
    char out[1100];
    snprintf(out, sizeof(out), "%s/out", dir);
    PC_CHECK(file_size(out, "cameras.json") > 100, "cameras.json written");
    PC_CHECK(file_size(out, "cameras.txt") > 50 && file_size(out, "images.txt") > 50 && file_size(out, "points3D.txt") > 100,
             "COLMAP text model written");
    PC_CHECK(file_size(out, "points.ply") > 1000, "points.ply written");
    // focal of view 0 in cameras.txt vs upstream's final focal (our PnP init: within 1%)
    snprintf(path, sizeof(path), "%s/cameras.txt", out);
    FILE *f = fopen(path, "r");
    char line[512];
    float fx[4] = {0};
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        if (line[0] != '#' && n < 4) {
            int id, w, h;
            char model[32];
            float fy, cx, cy;
            if (sscanf(line, "%d %31s %d %d %f %f %f %f", &id, model, &w, &h, &fx[n], &fy, &cx, &cy) == 8) n++;
        }
    if (f) fclose(f);
    PC_CHECK(n == 4, "cameras.txt has 4 PINHOLE cameras");
    const pc_tensor *ff = pc_checkpoint_find(ck, "final_focals");
    if (ff) pc_test_close("CLI focals vs upstream final_focals", fx, (const float *)ff->data, 4, 0, 1e-2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    pc_checkpoint_close(ck);
    return pc_test_finish();
}
