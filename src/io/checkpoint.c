// Checkpoint container: one API over safetensors and torch.save files.
//
// The file is mapped read-only once; tensors are views into the mapping (or,
// for deflated zip entries and misaligned safetensors data, into buffers the
// checkpoint owns). Names go into an open-addressing hash index so that a
// 2500-key model resolves each lookup in O(1).
#define _DEFAULT_SOURCE
#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PC_META_MAX 100000

struct pc_checkpoint {
    char *path;
    const char *format;
    void *map;  // non-NULL when we mmapped the file
    size_t map_size;
    pc_zip *zip;

    size_t n, cap;
    char **names;
    pc_tensor *tensors;
    uint32_t *index;  // slot -> tensor index + 1; 0 = empty
    size_t index_cap; // power of two

    size_t nmeta, meta_cap;
    char **meta_keys, **meta_vals;

    void **owned;
    size_t nowned, owned_cap;
};

const char *pc_ckpt_label(const pc_checkpoint *ck) { return ck->path ? ck->path : "<memory>"; }

static char *dup_n(const char *s, size_t n) {
    char *r = (char *)malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    size_t bytes;
    if (!pc_mul_size(nc, elem, &bytes)) return 0;
    void *p = realloc(*arr, bytes);
    if (!p) return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

static long index_lookup(const pc_checkpoint *ck, const char *name, size_t len) {
    if (!ck->index_cap) return -1;
    size_t mask = ck->index_cap - 1;
    for (size_t s = pc_hash_bytes(name, len) & mask;; s = (s + 1) & mask) {
        uint32_t v = ck->index[s];
        if (!v) return -1;
        const char *nm = ck->names[v - 1];
        if (strlen(nm) == len && !memcmp(nm, name, len)) return (long)(v - 1);
    }
}

static void index_put(pc_checkpoint *ck, size_t i) {
    size_t mask = ck->index_cap - 1;
    const char *nm = ck->names[i];
    size_t s = pc_hash_bytes(nm, strlen(nm)) & mask;
    while (ck->index[s]) s = (s + 1) & mask;
    ck->index[s] = (uint32_t)(i + 1);
}

pc_status pc_ckpt_add_tensor(pc_checkpoint *ck, const char *name, size_t name_len, const pc_tensor *t, pc_error *err) {
    if (memchr(name, 0, name_len))
        return pc_err(err, PC_ERR_FORMAT, "file %s: tensor name contains a NUL byte", pc_ckpt_label(ck));
    if (index_lookup(ck, name, name_len) >= 0)
        return pc_err(err, PC_ERR_FORMAT, "file %s: duplicate tensor name '%.*s'", pc_ckpt_label(ck),
                      (int)PC_MIN(name_len, 200), name);
    if (ck->n >= UINT32_MAX - 1) return pc_err(err, PC_ERR_FORMAT, "file %s: too many tensors", pc_ckpt_label(ck));
    size_t c1 = ck->cap, c2 = ck->cap;
    if (!grow((void **)&ck->names, &c1, ck->n + 1, sizeof(char *)) ||
        !grow((void **)&ck->tensors, &c2, ck->n + 1, sizeof(pc_tensor)))
        return pc_err(err, PC_ERR_MEMORY, "out of memory adding tensor %zu", ck->n);
    ck->cap = PC_MIN(c1, c2);
    char *nm = dup_n(name, name_len);
    if (!nm) return pc_err(err, PC_ERR_MEMORY, "out of memory adding tensor %zu", ck->n);
    ck->names[ck->n] = nm;
    ck->tensors[ck->n] = *t;
    ck->tensors[ck->n].alloc = NULL;  // data belongs to the mapping or to ck->owned
    ck->n++;
    if (ck->n * 2 > ck->index_cap) {  // keep load factor <= 1/2
        size_t nc = ck->index_cap ? ck->index_cap * 2 : 64;
        while (ck->n * 2 > nc) nc *= 2;
        uint32_t *idx = (uint32_t *)calloc(nc, sizeof(uint32_t));
        if (!idx) {
            ck->n--;
            free(nm);
            return pc_err(err, PC_ERR_MEMORY, "out of memory indexing tensors");
        }
        free(ck->index);
        ck->index = idx;
        ck->index_cap = nc;
        for (size_t i = 0; i < ck->n; i++) index_put(ck, i);
    } else {
        index_put(ck, ck->n - 1);
    }
    return PC_OK;
}

pc_status pc_ckpt_add_meta(pc_checkpoint *ck, const char *key, size_t key_len, const char *val, size_t val_len,
                           pc_error *err) {
    if (ck->nmeta >= PC_META_MAX)
        return pc_err(err, PC_ERR_FORMAT, "file %s: more than %d metadata entries", pc_ckpt_label(ck), PC_META_MAX);
    size_t c1 = ck->meta_cap, c2 = ck->meta_cap;
    if (!grow((void **)&ck->meta_keys, &c1, ck->nmeta + 1, sizeof(char *)) ||
        !grow((void **)&ck->meta_vals, &c2, ck->nmeta + 1, sizeof(char *)))
        return pc_err(err, PC_ERR_MEMORY, "out of memory adding metadata");
    ck->meta_cap = PC_MIN(c1, c2);
    char *k = dup_n(key, key_len), *v = dup_n(val, val_len);
    if (!k || !v) {
        free(k);
        free(v);
        return pc_err(err, PC_ERR_MEMORY, "out of memory adding metadata");
    }
    ck->meta_keys[ck->nmeta] = k;
    ck->meta_vals[ck->nmeta] = v;
    ck->nmeta++;
    return PC_OK;
}

pc_status pc_ckpt_own(pc_checkpoint *ck, void *buf, pc_error *err) {
    if (!grow((void **)&ck->owned, &ck->owned_cap, ck->nowned + 1, sizeof(void *))) {
        pc_aligned_free(buf);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    ck->owned[ck->nowned++] = buf;
    return PC_OK;
}

void pc_checkpoint_close(pc_checkpoint *ck) {
    if (!ck) return;
    for (size_t i = 0; i < ck->n; i++) free(ck->names[i]);
    free(ck->names);
    free(ck->tensors);
    free(ck->index);
    for (size_t i = 0; i < ck->nmeta; i++) {
        free(ck->meta_keys[i]);
        free(ck->meta_vals[i]);
    }
    free(ck->meta_keys);
    free(ck->meta_vals);
    for (size_t i = 0; i < ck->nowned; i++) pc_aligned_free(ck->owned[i]);
    free(ck->owned);
    pc_zip_close(ck->zip);
    if (ck->map) munmap(ck->map, ck->map_size);
    free(ck->path);
    free(ck);
}

// Legacy torch.save files start with a protocol-2 pickle of this magic number.
static const uint8_t k_legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                         0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static pc_status parse_any(pc_checkpoint *ck, const uint8_t *buf, size_t n, int fd, pc_error *err) {
    if (n >= 4 && buf[0] == 'P' && buf[1] == 'K' &&
        ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6))) {
        ck->format = "torch-zip";
        return pc_torchzip_parse(ck, buf, n, fd, &ck->zip, err);
    }
    if (n >= sizeof(k_legacy_magic) && !memcmp(buf, k_legacy_magic, sizeof(k_legacy_magic))) {
        ck->format = "torch-legacy";
        return pc_torchlegacy_parse(ck, buf, n, err);
    }
    if (pc_safetensors_sniff(buf, n)) {
        ck->format = "safetensors";
        return pc_safetensors_parse(ck, buf, n, err);
    }
    if (n >= 262 && !memcmp(buf + 257, "ustar", 5))
        return pc_err(err, PC_ERR_UNSUPPORTED, "file %s: tar-based torch checkpoint (torch < 0.4) is not supported",
                      pc_ckpt_label(ck));
    if (n < 8)
        return pc_err(err, PC_ERR_FORMAT, "file %s: too short (%zu bytes) to be a checkpoint", pc_ckpt_label(ck), n);
    return pc_err(err, PC_ERR_FORMAT,
                  "file %s: unknown checkpoint format (not safetensors, not a torch zip, not a legacy torch file; "
                  "first bytes %02x %02x %02x %02x)",
                  pc_ckpt_label(ck), buf[0], buf[1], buf[2], buf[3]);
}

static pc_status new_ckpt(pc_checkpoint **out, const char *label, pc_error *err) {
    pc_checkpoint *ck = (pc_checkpoint *)calloc(1, sizeof(*ck));
    if (!ck) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    ck->path = dup_n(label, strlen(label));
    if (!ck->path) {
        free(ck);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    *out = ck;
    return PC_OK;
}

pc_status pc_checkpoint_new_empty(pc_checkpoint **ck, const char *label, pc_error *err) {
    *ck = NULL;
    return new_ckpt(ck, label ? label : "<memory>", err);
}

pc_status pc_checkpoint_open_memory(pc_checkpoint **out, const void *data, size_t size, const char *label,
                                    pc_error *err) {
    if (!out || (!data && size)) return pc_err(err, PC_ERR_ARG, "pc_checkpoint_open_memory: NULL argument");
    *out = NULL;
    pc_checkpoint *ck;
    pc_status st = new_ckpt(&ck, label ? label : "<memory>", err);
    if (st != PC_OK) return st;
    static const uint8_t empty[1] = {0};
    st = parse_any(ck, data ? (const uint8_t *)data : empty, size, -1, err);
    if (st != PC_OK) {
        pc_checkpoint_close(ck);
        return st;
    }
    *out = ck;
    return PC_OK;
}

pc_status pc_checkpoint_open(pc_checkpoint **out, const char *path, pc_error *err) {
    if (!out || !path) return pc_err(err, PC_ERR_ARG, "pc_checkpoint_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return pc_err(err, e == ENOENT ? PC_ERR_NOT_FOUND : PC_ERR_IO, "cannot open %s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return pc_err(err, PC_ERR_IO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return pc_err(err, PC_ERR_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return pc_err(err, PC_ERR_MEMORY, "%s is too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    pc_checkpoint *ck;
    pc_status st = new_ckpt(&ck, path, err);
    if (st != PC_OK) {
        close(fd);
        return st;
    }
    const uint8_t *buf;
    static const uint8_t empty[1] = {0};
    if (size == 0) {
        buf = empty;
    } else {
        // Read-only private mapping: pages are loaded lazily, so opening a
        // 10 GB checkpoint touches only its headers / pickle.
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            pc_checkpoint_close(ck);
            return pc_err(err, PC_ERR_IO, "cannot mmap %s (%zu bytes): %s", path, size, strerror(e));
        }
        ck->map = m;
        ck->map_size = size;
        buf = (const uint8_t *)m;
    }
    // While parsing we touch only headers (and the pickle); keep readahead from
    // pulling in tensor data around each touch, then restore it for the loader.
    if (ck->map) madvise(ck->map, size, MADV_RANDOM);
    st = parse_any(ck, buf, size, fd, err);
    if (ck->map) madvise(ck->map, size, MADV_NORMAL);
    close(fd);
    if (st != PC_OK) {
        pc_checkpoint_close(ck);
        return st;
    }
    *out = ck;
    return PC_OK;
}

const char *pc_checkpoint_path(const pc_checkpoint *ck) { return ck->path; }
const char *pc_checkpoint_format(const pc_checkpoint *ck) { return ck->format; }
size_t pc_checkpoint_count(const pc_checkpoint *ck) { return ck->n; }
const char *pc_checkpoint_name(const pc_checkpoint *ck, size_t i) { return i < ck->n ? ck->names[i] : NULL; }
const pc_tensor *pc_checkpoint_tensor(const pc_checkpoint *ck, size_t i) { return i < ck->n ? &ck->tensors[i] : NULL; }

const pc_tensor *pc_checkpoint_find(const pc_checkpoint *ck, const char *name) {
    if (!ck || !name) return NULL;
    long i = index_lookup(ck, name, strlen(name));
    return i < 0 ? NULL : &ck->tensors[i];
}

static void fmt_shape(char *out, size_t n, int ndim, const int64_t *shape) {
    size_t k = 0;
    k += (size_t)snprintf(out + k, n - k, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(out + k, n - k, ndim == 1 ? ",)" : ")");
}

pc_status pc_checkpoint_get(const pc_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                            const pc_tensor **out, pc_error *err) {
    if (out) *out = NULL;
    if (!ck || !name) return pc_err(err, PC_ERR_ARG, "pc_checkpoint_get: NULL argument");
    const pc_tensor *t = pc_checkpoint_find(ck, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "file %s: tensor '%s' not found", pc_ckpt_label(ck), name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (shape && shape[i] != -1 && shape[i] != t->shape[i]) ok = 0;
    if (!ok) {
        char got[256], want[256];
        fmt_shape(got, sizeof(got), t->ndim, t->shape);
        if (shape) {
            fmt_shape(want, sizeof(want), ndim, shape);
        } else {
            snprintf(want, sizeof(want), "rank %d", ndim);
        }
        return pc_err(err, PC_ERR_SHAPE, "file %s: tensor '%s' has shape %s, expected %s", pc_ckpt_label(ck), name, got,
                      want);
    }
    if (out) *out = t;
    return PC_OK;
}

size_t pc_checkpoint_meta_count(const pc_checkpoint *ck) { return ck->nmeta; }
const char *pc_checkpoint_meta_key(const pc_checkpoint *ck, size_t i) { return i < ck->nmeta ? ck->meta_keys[i] : NULL; }
const char *pc_checkpoint_meta_value(const pc_checkpoint *ck, size_t i) {
    return i < ck->nmeta ? ck->meta_vals[i] : NULL;
}
const char *pc_checkpoint_meta(const pc_checkpoint *ck, const char *key) {
    if (!ck || !key) return NULL;
    for (size_t i = 0; i < ck->nmeta; i++)
        if (!strcmp(ck->meta_keys[i], key)) return ck->meta_vals[i];
    return NULL;
}

const char *pc_checkpoint_model_args(const pc_checkpoint *ck) {
    const char *m = pc_checkpoint_meta(ck, "args.model");
    return m ? m : pc_checkpoint_meta(ck, "args");
}
