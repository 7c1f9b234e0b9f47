// pc_cpu_fma_peak: the fp32 multiply-add rate one core reaches with the widest
// vector unit the GEMM dispatches to (AVX-512, AVX2+FMA, else SSE2 mul+add),
// measured with register-only loops (cpu_peak_vec.c). It is the denominator of
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

pc_cpu_peak pc_cpu_fma_peak(double min_seconds) {
#if defined(__x86_64__) || defined(__i386__)
    pc_cpu_peak p = {0, "sse2 (mul+add)", 4, 0};
#else
    pc_cpu_peak p = {0, "scalar", 4, 0};
#endif
    double (*loop)(long long, int *, float *) = pc_peak_loop_v4;
    if (pc_cpu_has_avx512f()) {
        loop = pc_peak_loop_v16, p.isa = "avx512", p.lanes = 16;
    } else if (pc_cpu_has_avx2_fma()) {
        loop = pc_peak_loop_v8, p.isa = "avx2+fma", p.lanes = 8;
    }
    // Chunks of at least 20 ms (the clock's resolution is far finer), best chunk wins.
    long long iters = 1 << 20;
    double spent = 0;
    float sink = 0;
    int chains = 0;
    for (int round = 0; round < 1000 && (spent < min_seconds || p.gflops == 0); round++) {
        const double t = loop(iters, &chains, &sink);
        spent += t;
        if (t < 0.02) {
            iters *= 2;
            continue;
        }
        const double g = (double)iters * chains * p.lanes * 2.0 / t / 1e9;
        if (g > p.gflops) p.gflops = g;
    }
    p.checksum = sink;
    return p;
}
