// Binary little-endian PLY point cloud writer (MeshLab / Open3D / CloudCompare read it).
#include "io/io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pc_status pc_ply_save(const char *path, const float *xyz, const uint8_t *rgb, size_t n, pc_error *err) {
    if (!path || (!xyz && n)) return pc_err(err, PC_ERR_ARG, "pc_ply_save: NULL argument");
    size_t plen = strlen(path);
    char *tmp = (char *)malloc(plen + 5);
    if (!tmp) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        pc_status st = pc_err(err, PC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fprintf(f,
                     "ply\nformat binary_little_endian 1.0\ncomment written by posecrafter\n"
                     "element vertex %zu\nproperty float x\nproperty float y\nproperty float z\n%s"
                     "end_header\n",
                     n, rgb ? "property uchar red\nproperty uchar green\nproperty uchar blue\n" : "") > 0;
    // One record = 12 (+3) bytes; write in blocks to keep fwrite calls few.
    unsigned char block[15 * 1024];
    size_t rec = rgb ? 15 : 12, per = sizeof(block) / rec;
    for (size_t i = 0; ok && i < n; i += per) {
        size_t m = PC_MIN(per, n - i);
        for (size_t j = 0; j < m; j++) {
            unsigned char *r = block + j * rec;
            memcpy(r, xyz + 3 * (i + j), 12);  // x86 / ARM: little-endian already
            if (rgb) memcpy(r + 12, rgb + 3 * (i + j), 3);
        }
        ok = fwrite(block, rec, m, f) == m;
    }
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        free(tmp);
        return pc_err(err, PC_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    free(tmp);
    return PC_OK;
}
