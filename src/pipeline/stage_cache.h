// The pipeline's stage cache: each stage that is worth keeping (interp, relay, hvg) owns a folder
// OUT/<name>/ with its results and a stage.key file. The key is a 64-bit FNV-1a hash over the named
// fields that determine the result (inputs, options, the identity of the model files, the key of the
// stage it builds on), declared as a table per stage. A stage is reused only when its key file matches;
// the key is removed before a stage recomputes and written last (atomically), so a crash in between
// leaves a folder that is never mistaken for a finished one.
#ifndef PC_PIPELINE_STAGE_CACHE_H
#define PC_PIPELINE_STAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "posecrafter/core.h"

// 64-bit FNV-1a
typedef struct {
    uint64_t h;
} pc_hash;
void pc_hash_init(pc_hash *h);
void pc_hash_bytes(pc_hash *h, const void *p, size_t n);
void pc_hash_str(pc_hash *h, const char *s);  // length, then the bytes (NULL hashes as "")
void pc_hash_i64(pc_hash *h, int64_t v);
void pc_hash_f64(pc_hash *h, double v);       // -0 and +0 alike
// size + the first and last 1 MiB of the file (cheap identity of a multi-GB checkpoint)
pc_status pc_hash_file_id(pc_hash *h, const char *path, pc_error *err);

// One field of a stage key. The name documents the field and names it in errors; the hash covers the
// value only, in table order.
typedef enum { PC_KEY_INT, PC_KEY_REAL, PC_KEY_STR, PC_KEY_BYTES, PC_KEY_FILE } pc_key_kind;
typedef struct {
    const char *name;
    pc_key_kind kind;
    int64_t i;
    double d;
    const void *p;  // STR, FILE: a string; BYTES: n bytes
    size_t n;
} pc_key_field;
#define PC_KEY_I(nm, v) {(nm), PC_KEY_INT, (int64_t)(v), 0, NULL, 0}
#define PC_KEY_D(nm, v) {(nm), PC_KEY_REAL, 0, (double)(v), NULL, 0}
#define PC_KEY_S(nm, s) {(nm), PC_KEY_STR, 0, 0, (s), 0}
#define PC_KEY_B(nm, ptr, len) {(nm), PC_KEY_BYTES, 0, 0, (ptr), (len)}
#define PC_KEY_F(nm, path) {(nm), PC_KEY_FILE, 0, 0, (path), 0}

typedef struct {
    const char *name;  // "interp", "relay", "hvg"
    char *dir;         // OUT/<name> (malloc), NULL when the run has no output folder
    int use_cache;     // 0: always recompute (the result is still stored)
    pc_hash h;         // the key so far
} pc_stage;

// Start a stage's key with its version tag (e.g. "interp/1": bump it when the stored format changes).
// out_dir NULL: nothing is read or written. PC_ERR_MEMORY only.
pc_status pc_stage_open(pc_stage *s, const char *out_dir, const char *name, const char *version, int use_cache,
                        pc_error *err);
void pc_stage_close(pc_stage *s);
// Add n fields to the key. Errors: a FILE field that cannot be read (the message names the field).
pc_status pc_stage_key_add(pc_stage *s, const pc_key_field *f, int n, pc_error *err);
static inline uint64_t pc_stage_key(const pc_stage *s) { return s->h.h; }
// 1 when the folder holds a finished result under this key (and the cache may be used).
int pc_stage_cached(const pc_stage *s);
// Before computing: create the folder and remove its old key.
pc_status pc_stage_begin(const pc_stage *s, pc_error *err);
// After storing every file: write the key (tmp file + rename).
pc_status pc_stage_commit(const pc_stage *s, pc_error *err);
// "dir/file" (malloc; NULL when out of memory or the stage has no folder).
char *pc_stage_file(const pc_stage *s, const char *file);

#endif
