// Evaluation data: pair lists (SuperGlue text or JSON-lines manifest) and the
// append-only results file of `posecrafter eval`.
#define _GNU_SOURCE
#include "posecrafter/eval.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"

#define MAX_LINE (1 << 16)
#define MAX_PAIRS (1 << 22)

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void dirname_of(char *out, size_t n, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, n, ".");
    } else if (slash == path) {
        snprintf(out, n, "/");
    } else {
        snprintf(out, n, "%.*s", (int)(slash - path), path);
    }
}

static pc_status join_path(char *out, size_t n, const char *root, const char *rel, pc_error *err) {
    int w = rel[0] == '/' ? snprintf(out, n, "%s", rel) : snprintf(out, n, "%s/%s", root, rel);
    if (w < 0 || (size_t)w >= n) return pc_err(err, PC_ERR_ARG, "image path too long: %s", rel);
    return PC_OK;
}

// dataset name: first path component of the listed image name, or the pair
// list's file stem when the names have no folder
static void dataset_of(char *out, size_t n, const char *rel, const char *list_path) {
    const char *slash = strchr(rel, '/');
    if (slash) {
        snprintf(out, n, "%.*s", (int)PC_MIN((size_t)(slash - rel), n - 1), rel);
        return;
    }
    const char *base = strrchr(list_path, '/');
    base = base ? base + 1 : list_path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, n, "%.*s", (int)PC_MIN(len, n - 1), base);
}

static int is_rotation(const double R[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double d = 0;
            for (int k = 0; k < 3; k++) d += R[i * 3 + k] * R[j * 3 + k];
            if (fabs(d - (i == j)) > 1e-3) return 0;
        }
    double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
    return fabs(det - 1) < 1e-3;
}

static pc_status parse_superglue_line(pc_eval_pair *p, char *line, const char *file, size_t lineno, pc_error *err) {
    char *tok[64];
    int nt = 0;
    for (char *s = strtok(line, " \t\r\n"); s && nt < 64; s = strtok(NULL, " \t\r\n")) tok[nt++] = s;
    if (nt != 38)
        return pc_err(err, PC_ERR_FORMAT, "%s:%zu: expected 38 fields (img0 img1 rot0 rot1 K0[9] K1[9] T_0to1[16]), found %d",
                      file, lineno, nt);
    if (strlen(tok[0]) >= PC_EVAL_PATH_MAX || strlen(tok[1]) >= PC_EVAL_PATH_MAX)
        return pc_err(err, PC_ERR_FORMAT, "%s:%zu: image name too long", file, lineno);
    snprintf(p->img0, sizeof(p->img0), "%s", tok[0]);
    snprintf(p->img1, sizeof(p->img1), "%s", tok[1]);
    double v[36];
    for (int i = 0; i < 36; i++) {
        char *end;
        v[i] = strtod(tok[2 + i], &end);
        if (*end || !isfinite(v[i])) return pc_err(err, PC_ERR_FORMAT, "%s:%zu: field %d ('%s') is not a finite number", file, lineno, 3 + i, tok[2 + i]);
    }
    p->rot0 = (int)v[0];
    p->rot1 = (int)v[1];
    if (v[0] != p->rot0 || v[1] != p->rot1 || p->rot0 < 0 || p->rot0 > 3 || p->rot1 < 0 || p->rot1 > 3)
        return pc_err(err, PC_ERR_FORMAT, "%s:%zu: rot0/rot1 must be 0..3 (90-degree steps)", file, lineno);
    memcpy(p->K0, v + 2, sizeof(p->K0));
    memcpy(p->K1, v + 11, sizeof(p->K1));
    const double *T = v + 20;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) p->R[i * 3 + j] = T[i * 4 + j];
        p->t[i] = T[i * 4 + 3];
    }
    if (!is_rotation(p->R)) return pc_err(err, PC_ERR_FORMAT, "%s:%zu: T_0to1's 3x3 block is not a rotation", file, lineno);
    if (p->K0[0] <= 0 || p->K0[4] <= 0 || p->K1[0] <= 0 || p->K1[4] <= 0)
        return pc_err(err, PC_ERR_FORMAT, "%s:%zu: focal lengths must be positive", file, lineno);
    return PC_OK;
}

static int json_numbers(const cJSON *a, double *out, int n) {
    // accepts a flat array of n numbers or an array of rows
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (cJSON_IsArray(e)) {
            const cJSON *f;
            cJSON_ArrayForEach(f, e) {
                if (!cJSON_IsNumber(f) || k >= n) return 0;
                out[k++] = f->valuedouble;
            }
        } else {
            if (!cJSON_IsNumber(e) || k >= n) return 0;
            out[k++] = e->valuedouble;
        }
    }
    return k == n;
}

static int json_intrinsics(const cJSON *a, double K[9]) {
    double v[9];
    if (json_numbers(a, v, 9)) {
        memcpy(K, v, sizeof(v));
        return 1;
    }
    if (json_numbers(a, v, 4)) {  // fx, fy, cx, cy
        double k[9] = {v[0], 0, v[2], 0, v[1], v[3], 0, 0, 1};
        memcpy(K, k, sizeof(k));
        return 1;
    }
    return 0;
}

// Manifest line: {"img0":..,"img1":..,"K0":..,"K1":..,"c2w0":4x4,"c2w1":4x4,"dataset":..}
// or with "T_0to1" (4x4) instead of the two cam-to-world poses.
static pc_status parse_manifest_line(pc_eval_pair *p, const char *line, const char *file, size_t lineno, pc_error *err) {
    cJSON *j = cJSON_Parse(line);
    pc_status st = PC_OK;
    if (!j || !cJSON_IsObject(j)) {
        st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: not a JSON object", file, lineno);
        goto done;
    }
    const cJSON *i0 = cJSON_GetObjectItemCaseSensitive(j, "img0"), *i1 = cJSON_GetObjectItemCaseSensitive(j, "img1");
    if (!cJSON_IsString(i0) || !cJSON_IsString(i1) || strlen(i0->valuestring) >= PC_EVAL_PATH_MAX ||
        strlen(i1->valuestring) >= PC_EVAL_PATH_MAX) {
        st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: \"img0\"/\"img1\" must be strings", file, lineno);
        goto done;
    }
    snprintf(p->img0, sizeof(p->img0), "%s", i0->valuestring);
    snprintf(p->img1, sizeof(p->img1), "%s", i1->valuestring);
    if (!json_intrinsics(cJSON_GetObjectItemCaseSensitive(j, "K0"), p->K0) ||
        !json_intrinsics(cJSON_GetObjectItemCaseSensitive(j, "K1"), p->K1)) {
        st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: \"K0\"/\"K1\" must be 3x3 or [fx, fy, cx, cy]", file, lineno);
        goto done;
    }
    double T[16];
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(j, "T_0to1");
    if (tj) {
        if (!json_numbers(tj, T, 16)) {
            st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: \"T_0to1\" must be 4x4", file, lineno);
            goto done;
        }
    } else {
        double A[16], B[16];
        if (!json_numbers(cJSON_GetObjectItemCaseSensitive(j, "c2w0"), A, 16) ||
            !json_numbers(cJSON_GetObjectItemCaseSensitive(j, "c2w1"), B, 16)) {
            st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: need \"T_0to1\" or both \"c2w0\" and \"c2w1\" (4x4 camera-to-world)", file,
                        lineno);
            goto done;
        }
        // T_0to1 = inv(c2w1) * c2w0: X1 = R1^T (R0 X0 + t0 - t1)
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int k = 0; k < 3; k++) s += B[k * 4 + r] * A[k * 4 + c];
                T[r * 4 + c] = s;
            }
            double s = 0;
            for (int k = 0; k < 3; k++) s += B[k * 4 + r] * (A[k * 4 + 3] - B[k * 4 + 3]);
            T[r * 4 + 3] = s;
        }
    }
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) p->R[r * 3 + c] = T[r * 4 + c];
        p->t[r] = T[r * 4 + 3];
    }
    if (!is_rotation(p->R)) {
        st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: relative rotation is not orthonormal", file, lineno);
        goto done;
    }
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(j, "dataset");
    if (cJSON_IsString(ds)) snprintf(p->dataset, sizeof(p->dataset), "%s", ds->valuestring);
    const cJSON *r0 = cJSON_GetObjectItemCaseSensitive(j, "rot0"), *r1 = cJSON_GetObjectItemCaseSensitive(j, "rot1");
    p->rot0 = cJSON_IsNumber(r0) ? r0->valueint & 3 : 0;
    p->rot1 = cJSON_IsNumber(r1) ? r1->valueint & 3 : 0;
done:
    cJSON_Delete(j);
    return st;
}

pc_status pc_eval_pairs_load(pc_eval_pair **pairs, size_t *n, const char *path, const char *root, pc_error *err) {
    *pairs = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot open pair list %s: %s", path, strerror(errno));
    char *line = (char *)malloc(MAX_LINE);
    size_t cap = 0, cnt = 0, lineno = 0;
    pc_eval_pair *ps = NULL;
    pc_status st = PC_OK;
    while (line && fgets(line, MAX_LINE, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == MAX_LINE - 1 && line[len - 1] != '\n') {
            st = pc_err(err, PC_ERR_FORMAT, "%s:%zu: line longer than %d bytes", path, lineno, MAX_LINE);
            break;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == 0) continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 256;
            if (nc > MAX_PAIRS) {
                st = pc_err(err, PC_ERR_FORMAT, "%s: more than %d pairs", path, MAX_PAIRS);
                break;
            }
            pc_eval_pair *np = (pc_eval_pair *)realloc(ps, nc * sizeof(*ps));
            if (!np) {
                st = pc_err(err, PC_ERR_MEMORY, "out of memory reading %s", path);
                break;
            }
            ps = np;
            cap = nc;
        }
        pc_eval_pair *p = &ps[cnt];
        memset(p, 0, sizeof(*p));
        st = *s == '{' ? parse_manifest_line(p, s, path, lineno, err) : parse_superglue_line(p, s, path, lineno, err);
        if (st != PC_OK) break;
        snprintf(p->id, sizeof(p->id), "%s %s", p->img0, p->img1);
        if (!p->dataset[0]) dataset_of(p->dataset, sizeof(p->dataset), p->img0, path);
        cnt++;
    }
    if (!line) st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    free(line);
    fclose(f);
    if (st == PC_OK && cnt == 0) st = pc_err(err, PC_ERR_FORMAT, "%s: no pairs", path);
    if (st != PC_OK) {
        free(ps);
        return st;
    }
    // Resolve image paths: against root, else the list's directory, else its parent.
    char base[PC_EVAL_PATH_MAX], tmp[PC_EVAL_PATH_MAX];
    if (root) {
        snprintf(base, sizeof(base), "%s", root);
    } else {
        dirname_of(base, sizeof(base), path);
        if (ps[0].img0[0] != '/') {
            st = join_path(tmp, sizeof(tmp), base, ps[0].img0, err);
            if (st == PC_OK && !file_exists(tmp)) {
                char parent[PC_EVAL_PATH_MAX];
                int w = snprintf(parent, sizeof(parent), "%s/..", base);
                if (w > 0 && (size_t)w < sizeof(parent)) snprintf(base, sizeof(base), "%s", parent);
            }
        }
    }
    for (size_t i = 0; i < cnt && st == PC_OK; i++) {
        st = join_path(tmp, sizeof(tmp), base, ps[i].img0, err);
        if (st == PC_OK) snprintf(ps[i].img0, sizeof(ps[i].img0), "%s", tmp);
        if (st == PC_OK) st = join_path(tmp, sizeof(tmp), base, ps[i].img1, err);
        if (st == PC_OK) snprintf(ps[i].img1, sizeof(ps[i].img1), "%s", tmp);
    }
    if (st != PC_OK) {
        free(ps);
        return st;
    }
    *pairs = ps;
    *n = cnt;
    return PC_OK;
}

void pc_eval_pairs_free(pc_eval_pair *pairs) { free(pairs); }

// ---- results file ------------------------------------------------------------

static cJSON *num_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

pc_status pc_eval_result_append(const char *path, const pc_eval_result *r, pc_error *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", r->id);
    cJSON_AddStringToObject(j, "dataset", r->dataset);
    cJSON_AddStringToObject(j, "method", r->method);
    cJSON_AddNumberToObject(j, "run", r->run);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddBoolToObject(j, "ok", r->ok);
    if (r->ok) {
        cJSON_AddNumberToObject(j, "err_R", r->err_R);
        cJSON_AddNumberToObject(j, "err_t", r->err_t);
        cJSON *R = cJSON_CreateArray();
        for (int i = 0; i < 3; i++) cJSON_AddItemToArray(R, num_array(r->R + 3 * i, 3));
        cJSON_AddItemToObject(j, "R", R);
        cJSON_AddItemToObject(j, "t", num_array(r->t, 3));
    } else {
        cJSON_AddStringToObject(j, "error", r->error);
    }
    cJSON_AddNumberToObject(j, "yaw", r->yaw);
    cJSON_AddNumberToObject(j, "rot", r->rot);
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return pc_err(err, PC_ERR_MEMORY, "out of memory formatting a result");
    size_t len = strlen(s);
    char *line = (char *)malloc(len + 2);
    if (!line) {
        cJSON_free(s);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    memcpy(line, s, len);
    line[len] = '\n';
    cJSON_free(s);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        free(line);
        return pc_err(err, PC_ERR_IO, "cannot open results file %s: %s", path, strerror(errno));
    }
    // One write() of the whole line on an O_APPEND descriptor: a kill cannot split it.
    ssize_t w = write(fd, line, len + 1);
    int sync_rc = fsync(fd);
    close(fd);
    free(line);
    if (w != (ssize_t)(len + 1) || sync_rc != 0) return pc_err(err, PC_ERR_IO, "short write to results file %s", path);
    return PC_OK;
}

static int parse_result(pc_eval_result *r, const char *line) {
    memset(r, 0, sizeof(*r));
    cJSON *j = cJSON_Parse(line);
    if (!j) return 0;
    int ok = 0;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"), *ds = cJSON_GetObjectItemCaseSensitive(j, "dataset"),
                *me = cJSON_GetObjectItemCaseSensitive(j, "method"), *run = cJSON_GetObjectItemCaseSensitive(j, "run"),
                *okj = cJSON_GetObjectItemCaseSensitive(j, "ok"), *yaw = cJSON_GetObjectItemCaseSensitive(j, "yaw"),
                *rot = cJSON_GetObjectItemCaseSensitive(j, "rot"), *sec = cJSON_GetObjectItemCaseSensitive(j, "seconds"),
                *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (!cJSON_IsString(id) || !cJSON_IsString(ds) || !cJSON_IsString(me) || !cJSON_IsNumber(run) || !cJSON_IsBool(okj) ||
        !cJSON_IsNumber(yaw) || !cJSON_IsNumber(rot) || !cJSON_IsNumber(sec))
        goto done;
    if (strlen(id->valuestring) >= sizeof(r->id) || strlen(ds->valuestring) >= sizeof(r->dataset) ||
        strlen(me->valuestring) >= sizeof(r->method))
        goto done;
    snprintf(r->id, sizeof(r->id), "%s", id->valuestring);
    snprintf(r->dataset, sizeof(r->dataset), "%s", ds->valuestring);
    snprintf(r->method, sizeof(r->method), "%s", me->valuestring);
    r->run = run->valueint;
    r->seed = cJSON_IsNumber(seed) ? (unsigned long long)seed->valuedouble : 0;
    r->ok = cJSON_IsTrue(okj);
    r->yaw = yaw->valuedouble;
    r->rot = rot->valuedouble;
    r->seconds = sec->valuedouble;
    if (r->ok) {
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(j, "err_R"), *et = cJSON_GetObjectItemCaseSensitive(j, "err_t");
        if (!cJSON_IsNumber(er) || !cJSON_IsNumber(et)) goto done;
        r->err_R = er->valuedouble;
        r->err_t = et->valuedouble;
        if (!json_numbers(cJSON_GetObjectItemCaseSensitive(j, "R"), r->R, 9) ||
            !json_numbers(cJSON_GetObjectItemCaseSensitive(j, "t"), r->t, 3))
            goto done;
    } else {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (cJSON_IsString(e)) snprintf(r->error, sizeof(r->error), "%s", e->valuestring);
    }
    ok = 1;
done:
    cJSON_Delete(j);
    return ok;
}

pc_status pc_eval_results_read(pc_eval_result **out, size_t *n, size_t *n_corrupt, const char *path, FILE *report,
                               pc_error *err) {
    *out = NULL;
    *n = 0;
    *n_corrupt = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return PC_OK;  // nothing done yet
        return pc_err(err, PC_ERR_IO, "cannot open results file %s: %s", path, strerror(errno));
    }
    char *line = (char *)malloc(MAX_LINE);
    pc_eval_result *rs = NULL;
    size_t cap = 0, cnt = 0, lineno = 0;
    pc_status st = line ? PC_OK : pc_err(err, PC_ERR_MEMORY, "out of memory");
    while (st == PC_OK && fgets(line, MAX_LINE, f)) {
        lineno++;
        size_t len = strlen(line);
        int complete = len > 0 && line[len - 1] == '\n';
        if (!complete && len == MAX_LINE - 1) {  // swallow the rest of an over-long line
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') {
            }
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 256;
            pc_eval_result *nr = (pc_eval_result *)realloc(rs, nc * sizeof(*rs));
            if (!nr) {
                st = pc_err(err, PC_ERR_MEMORY, "out of memory reading %s", path);
                break;
            }
            rs = nr;
            cap = nc;
        }
        if (!complete || !parse_result(&rs[cnt], line)) {
            (*n_corrupt)++;
            if (report)
                fprintf(report, "%s:%zu: corrupt result line (%s); the pair will be counted as not done\n", path, lineno,
                        complete ? "not a valid result object" : "truncated");
            continue;
        }
        cnt++;
    }
    free(line);
    fclose(f);
    if (st != PC_OK) {
        free(rs);
        return st;
    }
    *out = rs;
    *n = cnt;
    return PC_OK;
}
