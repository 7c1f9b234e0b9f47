// Bump allocator for activations. A model sizes it once (dry run or known
// bound), then every forward allocates from it and resets to a mark: no
// malloc in hot loops.
#ifndef PC_CORE_ARENA_H
#define PC_CORE_ARENA_H

#include "core/common.h"

typedef struct pc_arena {
    char *base;
    size_t size;   // capacity in bytes
    size_t used;   // bytes handed out
    size_t peak;   // high-water mark
    int measuring; // dry run: only count, hand out no memory
} pc_arena;

// Reserve capacity bytes (64-byte aligned block).
pc_status pc_arena_init(pc_arena *a, size_t capacity, pc_error *err);
// A measuring arena hands out NULL and only records the peak; use it for a
// dry run, then pc_arena_init with the measured peak.
void pc_arena_init_measure(pc_arena *a);
void pc_arena_free(pc_arena *a);
// 64-byte aligned block, or NULL when full (or when measuring).
void *pc_arena_alloc(pc_arena *a, size_t bytes);
float *pc_arena_f32(pc_arena *a, size_t count);
static inline size_t pc_arena_mark(const pc_arena *a) { return a->used; }
static inline void pc_arena_reset(pc_arena *a, size_t mark) { a->used = mark; }

#endif
