// pc_cpu_fma_peak: the fp32 multiply-add rate one core reaches with the widest
// vector unit the GEMM dispatches to (AVX-512, AVX2+FMA, else SSE2 mul+add, or
// plain C off x86), measured with register-only loops. It is the denominator of
// every "% of peak" figure (bench_gemm, posecrafter devices), so it follows the
// ISA that actually runs rather than assuming AVX-512.
#include "core/cpu.h"
#include "core/cpu_peak_internal.h"

#include <time.h>

double pc_cpu_thread_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);  // CPU time: robust to other processes on the machine
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#define D(i) __m128 a##i = _mm_set1_ps(0.01f * (float)(i));
#define F(i) a##i = _mm_add_ps(_mm_mul_ps(a##i, x), y);
#define S(i) s = _mm_add_ps(s, a##i);
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define BASE_LANES 4
#define BASE_NAME "sse2 (mul+add)"
// Baseline x86-64: no FMA instruction, so a multiply and an add per lane.
static double loop_base(long long iters, float *sink) {
    ALL(D)
    __m128 x = _mm_set1_ps(0.999999f), y = _mm_set1_ps(1e-7f);
    double t0 = pc_cpu_thread_seconds();
    for (long long it = 0; it < iters; it++) {
        ALL(F)
    }
    double t = pc_cpu_thread_seconds() - t0;
    __m128 s = _mm_setzero_ps();
    ALL(S)
    float v[4];
    _mm_storeu_ps(v, s);
    *sink = v[0] + v[3];
    return t;
}
#else
#define BASE_LANES 1
#define BASE_NAME "scalar"
static double loop_base(long long iters, float *sink) {
    float a[PC_PEAK_CHAINS_SSE];
    for (int i = 0; i < PC_PEAK_CHAINS_SSE; i++) a[i] = 0.01f * (float)i;
    const float x = 0.999999f, y = 1e-7f;
    double t0 = pc_cpu_thread_seconds();
    for (long long it = 0; it < iters; it++)
        for (int i = 0; i < PC_PEAK_CHAINS_SSE; i++) a[i] = a[i] * x + y;
    double t = pc_cpu_thread_seconds() - t0;
    float s = 0;
    for (int i = 0; i < PC_PEAK_CHAINS_SSE; i++) s += a[i];
    *sink = s;
    return t;
}
#endif

pc_cpu_peak pc_cpu_fma_peak(double min_seconds) {
    pc_cpu_peak p = {0, BASE_NAME, BASE_LANES, 0};
    double (*loop)(long long, float *) = loop_base;
    int chains = PC_PEAK_CHAINS_SSE;
    if (pc_cpu_has_avx512f()) {
        loop = pc_peak_loop_avx512, chains = PC_PEAK_CHAINS_AVX512, p.isa = "avx512", p.lanes = 16;
    } else if (pc_cpu_has_avx2_fma()) {
        loop = pc_peak_loop_avx2, chains = PC_PEAK_CHAINS_AVX2, p.isa = "avx2+fma", p.lanes = 8;
    }
    // Chunks of at least 20 ms (the clock's resolution is far finer), best chunk wins.
    long long iters = 1 << 20;
    double spent = 0;
    float sink = 0;
    for (int round = 0; round < 1000 && (spent < min_seconds || p.gflops == 0); round++) {
        double t = loop(iters, &sink);
        spent += t;
        if (t < 0.02) {
            iters *= 2;
            continue;
        }
        double g = (double)iters * chains * p.lanes * 2.0 / t / 1e9;
        if (g > p.gflops) p.gflops = g;
    }
    p.checksum = sink;
    return p;
}
