// The pipeline's stage cache (stage_cache.h): FNV-1a keys over named fields, stage.key files.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "pipeline/evidence.h"
#include "pipeline/stage_cache.h"

void pc_hash_init(pc_hash *h) { h->h = 0xcbf29ce484222325ULL; }

void pc_hash_bytes(pc_hash *h, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    uint64_t v = h->h;
    for (size_t i = 0; i < n; i++) v = (v ^ b[i]) * 0x100000001b3ULL;
    h->h = v;
}

void pc_hash_str(pc_hash *h, const char *s) {
    s = s ? s : "";
    pc_hash_i64(h, (int64_t)strlen(s));
    pc_hash_bytes(h, s, strlen(s));
}

void pc_hash_i64(pc_hash *h, int64_t v) { pc_hash_bytes(h, &v, sizeof(v)); }

void pc_hash_f64(pc_hash *h, double v) {
    if (v == 0) v = 0;  // -0 and +0 hash alike
    pc_hash_bytes(h, &v, sizeof(v));
}

pc_status pc_hash_file_id(pc_hash *h, const char *path, pc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return pc_err(err, PC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = (uint8_t *)malloc(CHUNK);
    if (!buf) {
        fclose(f);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    pc_status st = PC_OK;
    if (fseeko(f, 0, SEEK_END) != 0) st = pc_err(err, PC_ERR_IO, "cannot seek in %s", path);
    const off_t size = st == PC_OK ? ftello(f) : 0;
    pc_hash_i64(h, (int64_t)size);
    for (int part = 0; part < 2 && st == PC_OK; part++) {
        const off_t at = part == 0 ? 0 : (size > CHUNK ? size - CHUNK : 0);
        if (fseeko(f, at, SEEK_SET) != 0) st = pc_err(err, PC_ERR_IO, "cannot seek in %s", path);
        const size_t got = st == PC_OK ? fread(buf, 1, CHUNK, f) : 0;
        pc_hash_bytes(h, buf, got);
    }
    free(buf);
    fclose(f);
    return st;
}

pc_status pc_stage_open(pc_stage *s, const char *out_dir, const char *name, const char *version, int use_cache,
                        pc_error *err) {
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->use_cache = use_cache;
    pc_hash_init(&s->h);
    pc_hash_str(&s->h, version);
    if (out_dir && out_dir[0]) {
        s->dir = pc_path_join(out_dir, name);
        if (!s->dir) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    return PC_OK;
}

void pc_stage_close(pc_stage *s) {
    free(s->dir);
    s->dir = NULL;
}

pc_status pc_stage_key_add(pc_stage *s, const pc_key_field *f, int n, pc_error *err) {
    for (int i = 0; i < n; i++) {
        switch (f[i].kind) {
        case PC_KEY_INT: pc_hash_i64(&s->h, f[i].i); break;
        case PC_KEY_REAL: pc_hash_f64(&s->h, f[i].d); break;
        case PC_KEY_STR: pc_hash_str(&s->h, (const char *)f[i].p); break;
        case PC_KEY_BYTES: pc_hash_bytes(&s->h, f[i].p, f[i].n); break;
        case PC_KEY_FILE: {
            pc_status st = pc_hash_file_id(&s->h, (const char *)f[i].p, err);
            if (st != PC_OK) return pc_err_prefix(err, st, "%s stage key (%s): ", s->name, f[i].name);
            break;
        }
        }
    }
    return PC_OK;
}

char *pc_stage_file(const pc_stage *s, const char *file) { return s->dir ? pc_path_join(s->dir, file) : NULL; }

int pc_stage_cached(const pc_stage *s) {
    if (!s->dir || !s->use_cache) return 0;
    char *path = pc_stage_file(s, "stage.key");
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return 0;
    char line[64] = "", want[32];
    const int ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    snprintf(want, sizeof(want), "%016llx", (unsigned long long)pc_stage_key(s));
    return ok && !strncmp(line, want, 16);
}

pc_status pc_stage_begin(const pc_stage *s, pc_error *err) {
    if (!s->dir) return PC_OK;
    pc_status st = pc_pipe_mkdir(s->dir, err);
    if (st != PC_OK) return st;
    char *path = pc_stage_file(s, "stage.key");
    if (!path) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    remove(path);
    free(path);
    return PC_OK;
}

pc_status pc_stage_commit(const pc_stage *s, pc_error *err) {
    if (!s->dir) return PC_OK;
    char *path = pc_stage_file(s, "stage.key"), *tmp = pc_stage_file(s, "stage.key.tmp");
    pc_status st = PC_OK;
    if (!path || !tmp) {
        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
    } else {
        FILE *f = fopen(tmp, "w");
        if (!f) {
            st = pc_err(err, PC_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        } else {
            const int ok = fprintf(f, "%016llx\n", (unsigned long long)pc_stage_key(s)) > 0;
            if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) st = pc_err(err, PC_ERR_IO, "cannot write %s", path);
        }
    }
    free(path);
    free(tmp);
    return st;
}
