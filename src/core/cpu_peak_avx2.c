// AVX2 + FMA register loop for pc_cpu_fma_peak (built with -mavx2 -mfma).
#include "core/cpu_peak_internal.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define D(i) __m256 a##i = _mm256_set1_ps(0.01f * (float)(i));
#define F(i) a##i = _mm256_fmadd_ps(a##i, x, y);
#define S(i) s = _mm256_add_ps(s, a##i);
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

double pc_peak_loop_avx2(long long iters, float *sink) {
    ALL(D)
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    double t0 = pc_cpu_thread_seconds();
    for (long long it = 0; it < iters; it++) {
        ALL(F)
    }
    double t = pc_cpu_thread_seconds() - t0;
    __m256 s = _mm256_setzero_ps();
    ALL(S)
    float v[8];
    _mm256_storeu_ps(v, s);
    *sink = v[0] + v[7];
    return t;
}
#else
double pc_peak_loop_avx2(long long iters, float *sink) {
    (void)iters;
    *sink = 0;
    return 0;
}
#endif
