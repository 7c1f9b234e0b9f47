// Shared by the libFuzzer targets: read every tensor view's first and last
// element so AddressSanitizer sees any view that points outside its buffer.
#ifndef PC_FUZZ_COMMON_H
#define PC_FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>

#include "io/io_internal.h"

static inline void pc_fuzz_touch(const pc_checkpoint *ck) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < pc_checkpoint_count(ck); i++) {
        const pc_tensor *t = pc_checkpoint_tensor(ck, i);
        const char *name = pc_checkpoint_name(ck, i);
        sink ^= (uint8_t)name[strlen(name) / 2];
        if (pc_tensor_numel(t) == 0) continue;
        size_t es = pc_dtype_size(t->dtype);
        int64_t last = 0;
        for (int d = 0; d < t->ndim; d++) last += (t->shape[d] - 1) * t->strides[d];
        const uint8_t *p = (const uint8_t *)t->data;
        sink ^= p[0];
        sink ^= p[last * (int64_t)es + (int64_t)es - 1];
    }
    for (size_t i = 0; i < pc_checkpoint_meta_count(ck); i++) {
        const char *k = pc_checkpoint_meta_key(ck, i), *v = pc_checkpoint_meta_value(ck, i);
        sink ^= (uint8_t)(k[0] ^ v[strlen(v) / 2]);
    }
    (void)sink;
}

#endif
