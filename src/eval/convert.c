// Dataset converters for `posecrafter eval`: read the publishers' layouts of
// Cambridge Landmarks, ScanNet, DL3DV-10K (nerfstudio transforms.json) and
// NAVI (annotations.json), and write the JSON-lines pair manifest
// (docs/EVAL.md) with per-image cam-to-world poses in OpenCV axes.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "core/rng.h"
#include "posecrafter/eval.h"

#define MAX_VIEWS 100000
#define MAX_FILE_BYTES (256u << 20)

typedef struct {
    char image[PC_EVAL_PATH_MAX];  // relative to the converter's root
    char scene[128];
    double K[4];                   // fx, fy, cx, cy
    double c2w[16];                // OpenCV axes, row-major
} view;

typedef struct {
    view *v;
    size_t n, cap;
} view_list;

static pc_status push_view(view_list *l, const view *v, pc_error *err) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        if (nc > MAX_VIEWS) return pc_err(err, PC_ERR_FORMAT, "more than %d views", MAX_VIEWS);
        view *nv = (view *)realloc(l->v, nc * sizeof(view));
        if (!nv) return pc_err(err, PC_ERR_MEMORY, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = *v;
    return PC_OK;
}

static char *read_text(const char *path, pc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        pc_err(err, PC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || (unsigned long)len > MAX_FILE_BYTES) {
        fclose(f);
        pc_err(err, PC_ERR_FORMAT, "%s: unreadable or larger than %u bytes", path, MAX_FILE_BYTES);
        return NULL;
    }
    char *buf = (char *)malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        pc_err(err, PC_ERR_IO, "cannot read %s", path);
        return NULL;
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

// q = (w, x, y, z) unit quaternion -> row-major rotation
static void quat_wxyz_to_R(double R[9], const double q_in[4]) {
    double n = sqrt(q_in[0] * q_in[0] + q_in[1] * q_in[1] + q_in[2] * q_in[2] + q_in[3] * q_in[3]);
    double w = q_in[0] / n, x = q_in[1] / n, y = q_in[2] / n, z = q_in[3] / n;
    R[0] = 1 - 2 * (y * y + z * z), R[1] = 2 * (x * y - w * z), R[2] = 2 * (x * z + w * y);
    R[3] = 2 * (x * y + w * z), R[4] = 1 - 2 * (x * x + z * z), R[5] = 2 * (y * z - w * x);
    R[6] = 2 * (x * z - w * y), R[7] = 2 * (y * z + w * x), R[8] = 1 - 2 * (x * x + y * y);
}

// world-to-camera (R, t) -> cam-to-world 4x4
static void w2c_to_c2w(double c2w[16], const double R[9], const double t[3]) {
    memset(c2w, 0, 16 * sizeof(double));
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) c2w[i * 4 + j] = R[j * 3 + i];
        c2w[i * 4 + 3] = -(R[0 * 3 + i] * t[0] + R[1 * 3 + i] * t[1] + R[2 * 3 + i] * t[2]);
    }
    c2w[15] = 1;
}

// snprintf that reports truncation (paths from the dataset are untrusted lengths)
static int fmt_ok(char *out, size_t n, const char *fmt, ...) PC_PRINTF(3, 4);
static int fmt_ok(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return w >= 0 && (size_t)w < n;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Sorted subdirectory (or file, when want_dirs = 0) names of dir.
static char **list_dir(const char *dir, int want_dirs, size_t *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[2 * PC_EVAL_PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (want_dirs ? !is_dir(p) : !is_file(p)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = (char **)realloc(names, cap * sizeof(char *));
            if (!nn) break;
            names = nn;
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (names) qsort(names, *n, sizeof(char *), cmp_name);
    return names;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

// ---- Cambridge Landmarks: <scene>/dataset_test.txt (3 header lines, then
// "seqN/frameXXXXX.png X Y Z W P Q R": camera centre and world-to-camera
// rotation quaternion) + reconstruction.nvm for per-image focal lengths.
static double nvm_focal(const char *nvm_text, const char *image) {
    // NVM_V3: "<name> <focal> <qw> <qx> <qy> <qz> <cx> <cy> <cz> <radial> 0"; names end in .jpg
    char stem[PC_EVAL_PATH_MAX];
    snprintf(stem, sizeof(stem), "%s", image);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = 0;
    size_t sl = strlen(stem);
    for (const char *p = nvm_text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, stem, sl) && p[sl] == '.') {
            const char *sp = strpbrk(p, " \t");
            if (sp) return strtod(sp, NULL);
        }
    }
    return 0;
}

static pc_status convert_cambridge(view_list *out, const char *root, const char *split, double focal, double w,
                                   double h, pc_error *err) {
    size_t ns;
    char **scenes = list_dir(root, 1, &ns);
    pc_status st = PC_OK;
    int found = 0;
    for (size_t s = 0; s < ns && st == PC_OK; s++) {
        char path[3 * PC_EVAL_PATH_MAX];
        if (!fmt_ok(path, sizeof(path), "%s/%s/dataset_%s.txt", root, scenes[s], split)) continue;
        if (!is_file(path)) continue;
        found = 1;
        char *txt = read_text(path, err);
        if (!txt) {
            st = PC_ERR_IO;
            break;
        }
        char *nvm = fmt_ok(path, sizeof(path), "%s/%s/reconstruction.nvm", root, scenes[s]) && is_file(path)
                        ? read_text(path, NULL)
                        : NULL;
        int lineno = 0;
        for (char *line = txt, *next; line && *line && st == PC_OK; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            if (++lineno <= 3) continue;  // header: title, column names, blank line
            char name[PC_EVAL_PATH_MAX];
            double c[3], q[4];
            if (strspn(line, " \t\r") == strlen(line)) continue;
            if (sscanf(line, "%1000s %lf %lf %lf %lf %lf %lf %lf", name, &c[0], &c[1], &c[2], &q[0], &q[1], &q[2], &q[3]) != 8) {
                st = pc_err(err, PC_ERR_FORMAT, "%s/%s/dataset_%s.txt:%d: expected 'image X Y Z W P Q R'", root, scenes[s], split,
                            lineno);
                break;
            }
            view v;
            memset(&v, 0, sizeof(v));
            if (!fmt_ok(v.image, sizeof(v.image), "%s/%s", scenes[s], name)) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
            if (!fmt_ok(v.scene, sizeof(v.scene), "cambridge/%s", scenes[s])) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
            double f = nvm ? nvm_focal(nvm, name) : 0;
            if (f <= 0) f = focal;
            v.K[0] = v.K[1] = f;
            v.K[2] = w / 2, v.K[3] = h / 2;
            double R[9], t[3];
            quat_wxyz_to_R(R, q);
            for (int i = 0; i < 3; i++) t[i] = -(R[i * 3] * c[0] + R[i * 3 + 1] * c[1] + R[i * 3 + 2] * c[2]);
            w2c_to_c2w(v.c2w, R, t);
            st = push_view(out, &v, err);
        }
        free(txt);
        free(nvm);
    }
    free_names(scenes, ns);
    if (st == PC_OK && !found)
        st = pc_err(err, PC_ERR_NOT_FOUND, "%s: no <scene>/dataset_%s.txt found (Cambridge Landmarks layout)", root, split);
    return st;
}

// ---- ScanNet: <scene>/color/<n>.jpg, <scene>/pose/<n>.txt (4x4 cam-to-world),
// <scene>/intrinsic/intrinsic_color.txt (4x4). Frames with non-finite poses are skipped.
static int read_matrix(const char *path, double *m, int count) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int k = 0;
    while (k < count && fscanf(f, "%lf", &m[k]) == 1) k++;
    fclose(f);
    for (int i = 0; i < k; i++)
        if (!isfinite(m[i])) return 0;
    return k == count;
}

static pc_status convert_scannet(view_list *out, const char *root, int stride, pc_error *err) {
    size_t ns;
    char **scenes = list_dir(root, 1, &ns);
    pc_status st = PC_OK;
    int found = 0;
    for (size_t s = 0; s < ns && st == PC_OK; s++) {
        char path[3 * PC_EVAL_PATH_MAX];
        double K[16];
        if (!fmt_ok(path, sizeof(path), "%s/%s/intrinsic/intrinsic_color.txt", root, scenes[s])) continue;
        if (!read_matrix(path, K, 16)) continue;
        found = 1;
        if (!fmt_ok(path, sizeof(path), "%s/%s/pose", root, scenes[s])) continue;
        size_t nf;
        char **files = list_dir(path, 0, &nf);
        // numeric order of frame ids
        long *ids = (long *)malloc((nf + 1) * sizeof(long));
        size_t nid = 0;
        for (size_t i = 0; i < nf && ids; i++) {
            char *end;
            long id = strtol(files[i], &end, 10);
            if (end != files[i] && !strcmp(end, ".txt")) ids[nid++] = id;
        }
        for (size_t i = 1; i < nid; i++)
            for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
                long t = ids[j];
                ids[j] = ids[j - 1];
                ids[j - 1] = t;
            }
        for (size_t i = 0; i < nid && st == PC_OK; i += (size_t)stride) {
            view v;
            memset(&v, 0, sizeof(v));
            if (!fmt_ok(path, sizeof(path), "%s/%s/pose/%ld.txt", root, scenes[s], ids[i])) continue;
            if (!read_matrix(path, v.c2w, 16)) continue;  // ScanNet marks lost tracking with -inf
            if (!fmt_ok(v.image, sizeof(v.image), "%s/color/%ld.jpg", scenes[s], ids[i])) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
            if (!fmt_ok(v.scene, sizeof(v.scene), "scannet/%s", scenes[s])) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
            v.K[0] = K[0], v.K[1] = K[5], v.K[2] = K[2], v.K[3] = K[6];
            st = push_view(out, &v, err);
        }
        free(ids);
        free_names(files, nf);
    }
    free_names(scenes, ns);
    if (st == PC_OK && !found)
        st = pc_err(err, PC_ERR_NOT_FOUND, "%s: no <scene>/intrinsic/intrinsic_color.txt found (ScanNet layout)", root);
    return st;
}

// ---- DL3DV-10K / nerfstudio: <scene>/transforms.json with fl_x, fl_y, cx, cy
// (global or per frame) and frames[].transform_matrix (cam-to-world, OpenGL
// axes: x right, y up, z backward) -> OpenCV by flipping the y and z axes.
static int json_num(const cJSON *o, const char *k, double *v) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(e)) return 0;
    *v = e->valuedouble;
    return 1;
}

static pc_status dl3dv_scene(view_list *out, const char *root, const char *scene, const char *json_path, pc_error *err) {
    char *txt = read_text(json_path, err);
    if (!txt) return PC_ERR_IO;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) return pc_err(err, PC_ERR_FORMAT, "%s: not valid JSON", json_path);
    pc_status st = PC_OK;
    double g[4] = {0, 0, 0, 0};
    int have_g = json_num(j, "fl_x", &g[0]) && json_num(j, "fl_y", &g[1]) && json_num(j, "cx", &g[2]) && json_num(j, "cy", &g[3]);
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(j, "frames");
    if (!cJSON_IsArray(frames)) st = pc_err(err, PC_ERR_FORMAT, "%s: no \"frames\" array", json_path);
    const cJSON *fr;
    int idx = 0;
    cJSON_ArrayForEach(fr, frames) {
        if (st != PC_OK) break;
        view v;
        memset(&v, 0, sizeof(v));
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(fr, "file_path");
        const cJSON *tm = cJSON_GetObjectItemCaseSensitive(fr, "transform_matrix");
        double K[4];
        int have_k = json_num(fr, "fl_x", &K[0]) && json_num(fr, "fl_y", &K[1]) && json_num(fr, "cx", &K[2]) && json_num(fr, "cy", &K[3]);
        if (!have_k && have_g) memcpy(K, g, sizeof(K)), have_k = 1;
        double M[16];
        int k = 0;
        const cJSON *row, *e;
        cJSON_ArrayForEach(row, tm) {
            cJSON_ArrayForEach(e, row) {
                if (k < 16 && cJSON_IsNumber(e)) M[k] = e->valuedouble;
                k++;
            }
        }
        if (!cJSON_IsString(fp) || k != 16 || !have_k) {
            st = pc_err(err, PC_ERR_FORMAT, "%s: frame %d needs file_path, a 4x4 transform_matrix and fl_x/fl_y/cx/cy", json_path, idx);
            break;
        }
        const char *rel = fp->valuestring;
        if (!strncmp(rel, "./", 2)) rel += 2;
        if (!fmt_ok(v.image, sizeof(v.image), "%s%s%s", strcmp(scene, ".") ? scene : "", strcmp(scene, ".") ? "/" : "", rel)) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
        if (!fmt_ok(v.scene, sizeof(v.scene), "dl3dv/%s", scene)) {
                st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", root);
                break;
            }
        memcpy(v.K, K, sizeof(K));
        memcpy(v.c2w, M, sizeof(M));
        for (int r = 0; r < 3; r++) v.c2w[r * 4 + 1] = -M[r * 4 + 1], v.c2w[r * 4 + 2] = -M[r * 4 + 2];
        st = push_view(out, &v, err);
        idx++;
    }
    cJSON_Delete(j);
    return st;
}

static pc_status convert_dl3dv(view_list *out, const char *root, pc_error *err) {
    char path[3 * PC_EVAL_PATH_MAX];
    if (fmt_ok(path, sizeof(path), "%s/transforms.json", root) && is_file(path)) return dl3dv_scene(out, root, ".", path, err);
    size_t ns;
    char **scenes = list_dir(root, 1, &ns);
    pc_status st = PC_OK;
    int found = 0;
    for (size_t s = 0; s < ns && st == PC_OK; s++) {
        if (!fmt_ok(path, sizeof(path), "%s/%s/transforms.json", root, scenes[s])) continue;
        if (!is_file(path)) continue;
        found = 1;
        st = dl3dv_scene(out, root, scenes[s], path, err);
    }
    free_names(scenes, ns);
    if (st == PC_OK && !found) st = pc_err(err, PC_ERR_NOT_FOUND, "%s: no transforms.json found (DL3DV / nerfstudio layout)", root);
    return st;
}

// ---- NAVI: <object>/<scene>/annotations.json, a list of
// {"camera": {"q": [w,x,y,z], "t": [...], "focal_length": f}, "filename", "image_size": [h, w]}
// where (q, t) map object coordinates to the camera (world-to-camera).
static pc_status navi_scene(view_list *out, const char *obj, const char *scene, const char *json_path, pc_error *err) {
    char *txt = read_text(json_path, err);
    if (!txt) return PC_ERR_IO;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return pc_err(err, PC_ERR_FORMAT, "%s: expected a JSON list of annotations", json_path);
    }
    pc_status st = PC_OK;
    const cJSON *a;
    int idx = 0;
    cJSON_ArrayForEach(a, j) {
        const cJSON *cam = cJSON_GetObjectItemCaseSensitive(a, "camera");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(a, "filename");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(a, "image_size");
        double q[4], t[3], f;
        int nq = 0, nt = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cam, "q")) if (nq < 4 && cJSON_IsNumber(e)) q[nq++] = e->valuedouble;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cam, "t")) if (nt < 3 && cJSON_IsNumber(e)) t[nt++] = e->valuedouble;
        if (nq != 4 || nt != 3 || !json_num(cam, "focal_length", &f) || !cJSON_IsString(fn) || cJSON_GetArraySize(sz) != 2) {
            st = pc_err(err, PC_ERR_FORMAT, "%s: annotation %d needs camera.q[4], camera.t[3], camera.focal_length, filename, image_size",
                        json_path, idx);
            break;
        }
        view v;
        memset(&v, 0, sizeof(v));
        if (!fmt_ok(v.image, sizeof(v.image), "%s/%s/images/%s", obj, scene, fn->valuestring)) {
            st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", json_path);
            break;
        }
        if (!fmt_ok(v.scene, sizeof(v.scene), "navi/%s/%s", obj, scene)) {
            st = pc_err(err, PC_ERR_FORMAT, "path too long in %s", json_path);
            break;
        }
        double hgt = cJSON_GetArrayItem(sz, 0)->valuedouble, wid = cJSON_GetArrayItem(sz, 1)->valuedouble;
        v.K[0] = v.K[1] = f;
        v.K[2] = wid / 2, v.K[3] = hgt / 2;
        double R[9];
        quat_wxyz_to_R(R, q);
        w2c_to_c2w(v.c2w, R, t);
        st = push_view(out, &v, err);
        if (st != PC_OK) break;
        idx++;
    }
    cJSON_Delete(j);
    return st;
}

static pc_status convert_navi(view_list *out, const char *root, pc_error *err) {
    size_t no;
    char **objs = list_dir(root, 1, &no);
    pc_status st = PC_OK;
    int found = 0;
    for (size_t o = 0; o < no && st == PC_OK; o++) {
        char dir[3 * PC_EVAL_PATH_MAX];
        if (!fmt_ok(dir, sizeof(dir), "%s/%s", root, objs[o])) continue;
        size_t ns;
        char **scenes = list_dir(dir, 1, &ns);
        for (size_t s = 0; s < ns && st == PC_OK; s++) {
            if (strncmp(scenes[s], "multiview", 9) && strncmp(scenes[s], "video", 5)) continue;  // wild_set: no shared scene
            char path[4 * PC_EVAL_PATH_MAX];
            if (!fmt_ok(path, sizeof(path), "%s/%s/annotations.json", dir, scenes[s])) continue;
            if (!is_file(path)) continue;
            found = 1;
            st = navi_scene(out, objs[o], scenes[s], path, err);
        }
        free_names(scenes, ns);
    }
    free_names(objs, no);
    if (st == PC_OK && !found)
        st = pc_err(err, PC_ERR_NOT_FOUND, "%s: no <object>/multiview*/annotations.json found (NAVI layout)", root);
    return st;
}

// ---- pairing -----------------------------------------------------------------

static void relative(double T[16], const double *c2w0, const double *c2w1) {
    // T_0to1 = inv(c2w1) · c2w0
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += c2w1[k * 4 + r] * (c2w0[k * 4 + c] - (c == 3 ? c2w1[k * 4 + 3] : 0));
            T[r * 4 + c] = s;
        }
    }
}


static void add_matrix(cJSON *o, const char *key, const double *m, int rows, int cols) {
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int c = 0; c < cols; c++) cJSON_AddItemToArray(row, cJSON_CreateNumber(m[r * cols + c]));
        cJSON_AddItemToArray(a, row);
    }
    cJSON_AddItemToObject(o, key, a);
}

pc_status pc_eval_convert(const char *format, const char *root, const char *out_path, double yaw_lo, double yaw_hi,
                          int max_pairs, uint64_t seed, int stride, size_t *n_written, pc_error *err) {
    view_list l = {0};
    pc_status st;
    *n_written = 0;
    if (!is_dir(root)) return pc_err(err, PC_ERR_IO, "dataset root %s is not a folder", root);
    if (!strcmp(format, "cambridge"))
        st = convert_cambridge(&l, root, "test", 1670.0, 1920, 1080, err);
    else if (!strcmp(format, "scannet"))
        st = convert_scannet(&l, root, stride > 0 ? stride : 1, err);
    else if (!strcmp(format, "dl3dv"))
        st = convert_dl3dv(&l, root, err);
    else if (!strcmp(format, "navi"))
        st = convert_navi(&l, root, err);
    else
        return pc_err(err, PC_ERR_ARG, "unknown dataset format '%s' (cambridge, scannet, dl3dv, navi)", format);
    if (st != PC_OK) {
        free(l.v);
        return st;
    }
    char tmp[PC_EVAL_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(l.v);
        return pc_err(err, PC_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    // Per scene: every pair (i < j) in the yaw range; a seeded shuffle then keeps max_pairs.
    size_t *cand = NULL, cap = 0;
    for (size_t s0 = 0; s0 < l.n && st == PC_OK;) {
        size_t s1 = s0;
        while (s1 < l.n && !strcmp(l.v[s1].scene, l.v[s0].scene)) s1++;
        size_t nc = 0;
        for (size_t i = s0; i < s1; i++)
            for (size_t j = i + 1; j < s1; j++) {
                double T[16], R[9];
                relative(T, l.v[i].c2w, l.v[j].c2w);
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 3; c++) R[r * 3 + c] = T[r * 4 + c];
                double yaw = pc_eval_yaw_deg(R);
                if (yaw < yaw_lo || yaw > yaw_hi) continue;
                if (nc + 2 > cap) {
                    cap = cap ? 2 * cap : 1024;
                    size_t *nc2 = (size_t *)realloc(cand, cap * sizeof(size_t));
                    if (!nc2) {
                        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
                        break;
                    }
                    cand = nc2;
                }
                cand[nc++] = i;
                cand[nc++] = j;
            }
        size_t npairs = nc / 2, keep = max_pairs > 0 && (size_t)max_pairs < npairs ? (size_t)max_pairs : npairs;
        uint64_t rs = seed ^ (uint64_t)s0;
        if (keep < npairs) {
            for (size_t k = 0; k < keep; k++) {  // partial Fisher-Yates picks the subset
                size_t r = k + (size_t)(pc_splitmix64(&rs) % (npairs - k));
                size_t a = cand[2 * r], b = cand[2 * r + 1];
                cand[2 * r] = cand[2 * k], cand[2 * r + 1] = cand[2 * k + 1];
                cand[2 * k] = a, cand[2 * k + 1] = b;
            }
            for (size_t k = 1; k < keep; k++)  // then back to (i, j) order
                for (size_t m = k; m > 0 && (cand[2 * m - 2] > cand[2 * m] ||
                                             (cand[2 * m - 2] == cand[2 * m] && cand[2 * m - 1] > cand[2 * m + 1]));
                     m--) {
                    size_t a = cand[2 * m], b = cand[2 * m + 1];
                    cand[2 * m] = cand[2 * m - 2], cand[2 * m + 1] = cand[2 * m - 1];
                    cand[2 * m - 2] = a, cand[2 * m - 1] = b;
                }
        }
        for (size_t k = 0; k < keep && st == PC_OK; k++) {
            const view *a = &l.v[cand[2 * k]], *b = &l.v[cand[2 * k + 1]];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "img0", a->image);
            cJSON_AddStringToObject(o, "img1", b->image);
            cJSON_AddItemToObject(o, "K0", cJSON_CreateDoubleArray(a->K, 4));
            cJSON_AddItemToObject(o, "K1", cJSON_CreateDoubleArray(b->K, 4));
            add_matrix(o, "c2w0", a->c2w, 4, 4);
            add_matrix(o, "c2w1", b->c2w, 4, 4);
            cJSON_AddStringToObject(o, "dataset", a->scene);
            char *s = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (!s || fprintf(f, "%s\n", s) < 0) st = pc_err(err, PC_ERR_IO, "cannot write %s", tmp);
            cJSON_free(s);
            (*n_written)++;
        }
        s0 = s1;
    }
    free(cand);
    free(l.v);
    if (fclose(f) != 0 && st == PC_OK) st = pc_err(err, PC_ERR_IO, "cannot write %s", tmp);
    if (st == PC_OK && rename(tmp, out_path) != 0) st = pc_err(err, PC_ERR_IO, "cannot rename %s", tmp);
    if (st != PC_OK) remove(tmp);
    return st;
}
