// Internal interfaces of the checkpoint readers (src/io/{checkpoint,safetensors,zip,pickle}.c).
//
// Every reader parses bytes that are already in memory (a read-only mmap of the
// file, or a caller's buffer for the fuzz targets) and never trusts a length,
// offset or count it reads: each is checked against the buffer before use.
#ifndef PC_IO_INTERNAL_H
#define PC_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "posecrafter/io.h"

// ---- small helpers ---------------------------------------------------------

static inline uint16_t pc_rd_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t pc_rd_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t pc_rd_u64le(const uint8_t *p) { return (uint64_t)pc_rd_u32le(p) | ((uint64_t)pc_rd_u32le(p + 4) << 32); }

// FNV-1a, for the name indexes.
static inline uint64_t pc_hash_bytes(const void *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// ---- checkpoint builder (checkpoint.c) ---------------------------------------
// The format readers fill a pc_checkpoint through these. Names and metadata are
// copied; tensor data stays where the reader points it (the mapping or a buffer
// handed over with pc_ckpt_own).

pc_status pc_ckpt_add_tensor(pc_checkpoint *ck, const char *name, size_t name_len, const pc_tensor *t, pc_error *err);
pc_status pc_ckpt_add_meta(pc_checkpoint *ck, const char *key, size_t key_len, const char *val, size_t val_len,
                           pc_error *err);
// Hand a pc_aligned_alloc'd buffer to the checkpoint; freed at close. On failure frees buf.
pc_status pc_ckpt_own(pc_checkpoint *ck, void *buf, pc_error *err);
// Label for messages (the path, or "<memory>").
const char *pc_ckpt_label(const pc_checkpoint *ck);

// An empty checkpoint (for the fuzz targets that drive one reader directly).
pc_status pc_checkpoint_new_empty(pc_checkpoint **ck, const char *label, pc_error *err);

// Open a checkpoint from a caller's buffer (not copied: it must outlive the
// checkpoint). Same content sniffing as pc_checkpoint_open. Used by the fuzz
// targets and the tests.
pc_status pc_checkpoint_open_memory(pc_checkpoint **ck, const void *data, size_t size, const char *label,
                                    pc_error *err);

// ---- safetensors (safetensors.c) ---------------------------------------------
#define PC_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)
// 1 when buf looks like safetensors (u64 header length that fits, then '{').
int pc_safetensors_sniff(const uint8_t *buf, size_t n);
pc_status pc_safetensors_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, pc_error *err);

// ---- zip (zip.c) -------------------------------------------------------------
typedef struct pc_zip pc_zip;
#define PC_ZIP_MAX_ENTRIES (1u << 22)
pc_status pc_zip_open(pc_zip **z, const uint8_t *buf, size_t n, const char *label, pc_error *err);
// Same, reading the scattered local headers with pread(fd) (fd = the file buf maps; -1: none).
pc_status pc_zip_open_fd(pc_zip **z, const uint8_t *buf, size_t n, int fd, const char *label, pc_error *err);
void pc_zip_close(pc_zip *z);
size_t pc_zip_count(const pc_zip *z);
// Entry name (not NUL-terminated) and its length.
const char *pc_zip_name(const pc_zip *z, size_t i, size_t *len);
// Uncompressed size as declared in the central directory.
uint64_t pc_zip_size(const pc_zip *z, size_t i);
// Index of the entry with this exact name, or -1.
long pc_zip_find(const pc_zip *z, const char *name, size_t len);
// Entry content: stored entries are views into buf; deflated ones are inflated
// once into a buffer owned by the zip (kept until pc_zip_close).
pc_status pc_zip_data(pc_zip *z, size_t i, const uint8_t **data, size_t *size, pc_error *err);

// ---- pickle (pickle.c) -------------------------------------------------------
// A non-executing unpickler: it builds a tree of plain values and never imports
// or calls anything. Globals are kept as names; the few torch rebuild functions
// a state_dict needs are recognised by name and turned into tensor records.
typedef enum {
    PC_PK_NONE,
    PC_PK_BOOL,
    PC_PK_INT,
    PC_PK_BIGINT,  // integer wider than 64 bits (value not kept)
    PC_PK_FLOAT,
    PC_PK_STR,
    PC_PK_BYTES,
    PC_PK_TUPLE,
    PC_PK_LIST,
    PC_PK_DICT,    // items[2k] = key, items[2k+1] = value, in insertion order
    PC_PK_GLOBAL,  // module / name
    PC_PK_OBJECT,  // result of calling a global we do not interpret; state from BUILD
    PC_PK_STORAGE, // torch persistent id ('storage', type, key, location, numel)
    PC_PK_TENSOR,  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
    PC_PK_MARK     // internal: a MARK on the stack
} pc_pk_kind;

typedef struct pc_pval pc_pval;

typedef struct {
    pc_pval *storage;  // PC_PK_STORAGE
    int64_t offset;    // in elements
    int ndim;
    int64_t size[PC_MAX_DIMS];
    int64_t stride[PC_MAX_DIMS];
} pc_pk_tensor;

struct pc_pval {
    pc_pk_kind kind;
    union {
        int64_t i;  // BOOL, INT
        double f;
        struct {
            const char *s;  // STR (UTF-8), BYTES; not NUL-terminated
            size_t len;
        } str;
        struct {
            pc_pval **items;
            size_t n, cap;
        } seq;  // TUPLE, LIST, DICT
        struct {
            const char *mod, *name;
            size_t mod_len, name_len;
        } glob;
        struct {
            pc_pval *cls, *args, *state;
        } obj;
        struct {
            int dtype;  // pc_dtype, or -1 for a storage type we do not know
            const char *type_name;  // e.g. "FloatStorage"
            size_t type_len;
            const char *key;
            size_t key_len;
            int64_t numel;
        } storage;
        pc_pk_tensor *tensor;
    } u;
};

typedef struct pc_pickle pc_pickle;
// Parse one pickle from buf[0..n). *used = bytes consumed up to and including STOP.
// The values point into buf, which must outlive the pc_pickle.
pc_status pc_pickle_load(pc_pickle **pk, const uint8_t *buf, size_t n, size_t *used, const char *label,
                         pc_error *err);
pc_pval *pc_pickle_root(const pc_pickle *pk);
void pc_pickle_free(pc_pickle *pk);
// Dict lookup by string key (NULL when absent or d is not a dict).
pc_pval *pc_pk_dict_get(const pc_pval *d, const char *key);
// Python-like repr of a value into out (always NUL-terminated, truncated to n).
void pc_pk_repr(const pc_pval *v, char *out, size_t n);

// Turn an unpickled torch object into checkpoint tensors and metadata.
// resolve(ctx, key, key_len, &data, &size, err) gives the bytes of storage `key`.
typedef pc_status (*pc_storage_resolver)(void *ctx, const char *key, size_t key_len, const uint8_t **data,
                                         size_t *size, pc_error *err);
pc_status pc_torch_collect(pc_checkpoint *ck, const pc_pval *root, pc_storage_resolver resolve, void *ctx,
                           pc_error *err);

// Torch zip archive (torch.save since 1.6): zip + data.pkl + data/<key>.
// fd: the mapped file, for pread of zip local headers (-1 when parsing memory).
pc_status pc_torchzip_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, int fd, pc_zip **zip_out,
                            pc_error *err);
// Legacy torch.save format (pickle stream + raw storages).
pc_status pc_torchlegacy_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, pc_error *err);

#endif
