// AVX-512 register loop for pc_cpu_fma_peak (built with -mavx512f ...).
#include "core/cpu_peak_internal.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

#define D(i) __m512 a##i = _mm512_set1_ps(0.01f * (float)(i));
#define F(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define S(i) s = _mm512_add_ps(s, a##i);
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) \
    M(12) M(13) M(14) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23)

double pc_peak_loop_avx512(long long iters, float *sink) {
    ALL(D)
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    double t0 = pc_cpu_thread_seconds();
    for (long long it = 0; it < iters; it++) {
        ALL(F)
    }
    double t = pc_cpu_thread_seconds() - t0;
    __m512 s = _mm512_setzero_ps();
    ALL(S)
    *sink = _mm512_reduce_add_ps(s);
    return t;
}
#else
double pc_peak_loop_avx512(long long iters, float *sink) {
    (void)iters;
    *sink = 0;
    return 0;
}
#endif
