// libFuzzer target: the non-executing unpickler and the torch state_dict layer
// (storages resolved to a fixed 4 KiB buffer), plus legacy torch files.
// Seeds: fuzz/corpus/pickle.
#include "fuzz_common.h"

#include <stdalign.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static alignas(64) uint8_t g_storage[4096];

static pc_status fake_resolve(void *ctx, const char *key, size_t key_len, const uint8_t **out, size_t *n,
                              pc_error *err) {
    (void)ctx;
    if (key_len && key[0] == 'x') return pc_err(err, PC_ERR_FORMAT, "storage '%.*s' missing", (int)key_len, key);
    *out = g_storage;
    *n = key_len && key[0] == '1' ? 24 : sizeof(g_storage);  // some storages are small
    return PC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pc_error err;
    pc_pickle *pk;
    size_t used;
    if (pc_pickle_load(&pk, data, size, &used, "fuzz", &err) == PC_OK) {
        if (used > size) __builtin_trap();
        char repr[512];
        pc_pk_repr(pc_pickle_root(pk), repr, sizeof(repr));
        pc_checkpoint *ck;
        if (pc_checkpoint_new_empty(&ck, "fuzz", &err) == PC_OK) {
            if (pc_torch_collect(ck, pc_pickle_root(pk), fake_resolve, NULL, &err) == PC_OK) pc_fuzz_touch(ck);
            pc_checkpoint_close(ck);
        }
        pc_pickle_free(pk);
    }
    pc_checkpoint *ck;
    if (pc_checkpoint_open_memory(&ck, data, size, "fuzz", &err) == PC_OK) {  // legacy torch files
        pc_fuzz_touch(ck);
        pc_checkpoint_close(ck);
    }
    return 0;
}
