// Tiny SIMD layer for elementwise float kernels, built on GCC/Clang vector
// extensions so one source compiles to the widest vectors the including
// file's flags allow: 16 lanes in *_avx512.c, 8 in *_avx2.c, 4 (SSE2) in
// baseline x86-64 files, and plain scalar code elsewhere (PC_SIMD_W = 1).
// Run-time choice between those builds is the caller's job (pc_cpu_has_*()).
//
//   for (i = 0; i + PC_SIMD_W <= n; i += PC_SIMD_W)
//       pc_vf_store(y + i, pc_vf_fma(pc_vf_load(x + i), pc_vf_set1(a), pc_vf_load(y + i)));
//   for (; i < n; i++) y[i] += a * x[i];      // or pc_vf_load_n / pc_vf_store_n
//
// Loads and stores are unaligned-safe (memcpy). Lane order is memory order.
#ifndef PC_CORE_SIMD_H
#define PC_CORE_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__AVX512F__))
#define PC_SIMD_W 16
#elif defined(__GNUC__) && defined(__AVX2__)
#define PC_SIMD_W 8
#elif defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
#define PC_SIMD_W 4
#else
#define PC_SIMD_W 1
#endif

#if PC_SIMD_W > 1
typedef float pc_vf __attribute__((vector_size(PC_SIMD_W * 4)));
typedef int32_t pc_vi __attribute__((vector_size(PC_SIMD_W * 4)));
#else
typedef float pc_vf;
typedef int32_t pc_vi;
#endif

static inline pc_vf pc_vf_load(const float *p) {
    pc_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void pc_vf_store(float *p, pc_vf v) { memcpy(p, &v, sizeof v); }
static inline pc_vf pc_vf_set1(float x) { return (pc_vf){0} + x; }
static inline pc_vf pc_vf_zero(void) { return pc_vf_set1(0.0f); }
// First n (< PC_SIMD_W) elements; the other lanes are 0 on load and untouched on store.
static inline pc_vf pc_vf_load_n(const float *p, int n) {
    float t[PC_SIMD_W] = {0};
    memcpy(t, p, (size_t)n * sizeof(float));
    return pc_vf_load(t);
}
static inline void pc_vf_store_n(float *p, pc_vf v, int n) {
    float t[PC_SIMD_W];
    pc_vf_store(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
// a*b + c. Contracted to one FMA where the target has it (and -ffp-contract allows).
static inline pc_vf pc_vf_fma(pc_vf a, pc_vf b, pc_vf c) { return a * b + c; }
#if PC_SIMD_W > 1
static inline pc_vf pc_vf_select(pc_vi mask, pc_vf a, pc_vf b) {  // mask lanes -1: a, 0: b
    return (pc_vf)(((pc_vi)a & mask) | ((pc_vi)b & ~mask));
}
static inline pc_vf pc_vf_max(pc_vf a, pc_vf b) { return pc_vf_select((pc_vi)(a > b), a, b); }
static inline pc_vf pc_vf_min(pc_vf a, pc_vf b) { return pc_vf_select((pc_vi)(a < b), a, b); }
#else
static inline pc_vf pc_vf_max(pc_vf a, pc_vf b) { return a > b ? a : b; }
static inline pc_vf pc_vf_min(pc_vf a, pc_vf b) { return a < b ? a : b; }
#endif
// Sum of the lanes in a fixed order (pairwise halves), so results do not depend on the caller.
static inline float pc_vf_reduce_add(pc_vf v) {
    float t[PC_SIMD_W];
    pc_vf_store(t, v);
    for (int w = PC_SIMD_W / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] += t[i + w];
    return t[0];
}
static inline float pc_vf_reduce_max(pc_vf v) {
    float t[PC_SIMD_W];
    pc_vf_store(t, v);
    float m = t[0];
    for (int i = 1; i < PC_SIMD_W; i++) m = t[i] > m ? t[i] : m;
    return m;
}

#endif
