// libFuzzer target: the zip reader (central directory, zip64, local headers,
// inflate) and torch zip checkpoints on top of it. Seeds: fuzz/corpus/zip.
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pc_error err;
    pc_zip *z;
    if (pc_zip_open(&z, data, size, "fuzz", &err) == PC_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < pc_zip_count(z); i++) {
            size_t nl;
            const char *nm = pc_zip_name(z, i, &nl);
            if (nl) sink ^= (uint8_t)nm[nl - 1];
            if (pc_zip_find(z, nm, nl) != (long)i) __builtin_trap();  // names are unique
            const uint8_t *d;
            size_t n;
            if (pc_zip_data(z, i, &d, &n, &err) == PC_OK && n) sink ^= (uint8_t)(d[0] ^ d[n - 1]);
        }
        (void)sink;
        pc_zip_close(z);
    }
    pc_checkpoint *ck;
    if (pc_checkpoint_open_memory(&ck, data, size, "fuzz", &err) == PC_OK) {
        pc_fuzz_touch(ck);
        pc_checkpoint_close(ck);
    }
    return 0;
}
