// The vector layer of the kernels that are written once and compiled per ISA (ops_vec.c, frnn_vec.c,
// cpu_peak_vec.c, the global alignment's kernels): GCC vector extensions of PC_VW float lanes, which the
// including file sets before including this header (4: baseline SSE2, 8: an *_avx2.c file, 16: an
// *_avx512.c file; each gets its ISA flags from CMake). Functions are static inline, so each build has its
// own copies; VNAME(f) appends the lane suffix to the symbols a build exports.
#ifndef PC_CORE_VEC_H
#define PC_CORE_VEC_H

#ifndef PC_VW
#error "define PC_VW (4, 8 or 16) and PC_VSUF before including core/vec.h"
#endif

#include <stdint.h>
#include <string.h>

#define PC_CAT2(a, b) a##_##b
#define PC_CAT(a, b) PC_CAT2(a, b)
#define VNAME(n) PC_CAT(n, PC_VSUF)

typedef float vf __attribute__((vector_size(PC_VW * 4)));
typedef int32_t vi __attribute__((vector_size(PC_VW * 4)));

// a*b + c. ISO C mode compiles with -ffp-contract=off, so fused multiply-add
// is requested explicitly where the ISA has it (SSE2 has none: multiply, then add).
// vsqrt: the correctly rounded IEEE square root of every lane.
#if PC_VW == 16
#include <immintrin.h>
static inline vf vfma(vf a, vf b, vf c) { return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline vf vsqrt(vf a) { return (vf)_mm512_sqrt_ps((__m512)a); }
#elif PC_VW == 8
#include <immintrin.h>
static inline vf vfma(vf a, vf b, vf c) { return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
static inline vf vsqrt(vf a) { return (vf)_mm256_sqrt_ps((__m256)a); }
#else
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
#if PC_VW == 4 && defined(__SSE2__)
#include <emmintrin.h>
static inline vf vsqrt(vf a) { return (vf)_mm_sqrt_ps((__m128)a); }
#else
#include <math.h>
static inline vf vsqrt(vf a) {
    for (int i = 0; i < PC_VW; i++) a[i] = sqrtf(a[i]);
    return a;
}
#endif
#endif

static inline vf ld(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf splat(float a) {
    vf r;  // element-wise fill: becomes one broadcast ((vf){0} + a would add -0 + 0)
    for (int i = 0; i < PC_VW; i++) r[i] = a;
    return r;
}
static inline vi splati(int32_t a) {
    vi r;
    for (int i = 0; i < PC_VW; i++) r[i] = a;
    return r;
}
static inline vf vsel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
static inline vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
static inline vf vmin(vf a, vf b) { return vsel(a < b, a, b); }
static inline float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < PC_VW; i++) s += v[i];
    return s;
}
static inline float hmax(vf v) {
    float s = v[0];
    for (int i = 1; i < PC_VW; i++) s = v[i] > s ? v[i] : s;
    return s;
}

#endif
