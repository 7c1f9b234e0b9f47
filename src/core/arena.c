#include "core/arena.h"

#include <string.h>

pc_status pc_arena_init(pc_arena *a, size_t capacity, pc_error *err) {
    memset(a, 0, sizeof(*a));
    a->base = (char *)pc_aligned_alloc(capacity);
    if (!a->base) return pc_err(err, PC_ERR_MEMORY, "cannot reserve %zu bytes of activation memory", capacity);
    a->size = capacity;
    return PC_OK;
}

void pc_arena_init_measure(pc_arena *a) {
    memset(a, 0, sizeof(*a));
    a->measuring = 1;
}

void pc_arena_free(pc_arena *a) {
    pc_aligned_free(a->base);
    memset(a, 0, sizeof(*a));
}

void *pc_arena_alloc(pc_arena *a, size_t bytes) {
    size_t need;
    if (!pc_add_size(bytes, PC_ALIGN - 1, &need)) return NULL;
    need &= ~(size_t)(PC_ALIGN - 1);
    if (a->measuring) {
        a->used += need;
        if (a->used > a->peak) a->peak = a->used;
        return NULL;
    }
    if (need > a->size - a->used) return NULL;
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *pc_arena_f32(pc_arena *a, size_t count) {
    size_t bytes;
    if (!pc_mul_size(count, sizeof(float), &bytes)) return NULL;
    return (float *)pc_arena_alloc(a, bytes);
}
