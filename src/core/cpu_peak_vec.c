// The register-only multiply-add loop of pc_cpu_fma_peak, written once over the vector layer and compiled
// here for the baseline (4 lanes: SSE2 has no FMA, so a multiply and an add per lane) and by
// cpu_peak_avx2.c / cpu_peak_avx512.c (8 / 16 lanes, fused). Independent accumulator chains cover the
// FMA latency times its pipes: 12 of the 16 registers below AVX-512, 24 of its 32.
#ifndef PC_VW
#define PC_VW 4
#define PC_VSUF v4
#endif

#include "core/cpu_peak_internal.h"
#include "core/vec.h"

#define D(i) vf a##i = splat(0.01f * (float)(i));
#define F(i) a##i = vfma(a##i, x, y);
#define S(i) s = s + a##i;
#define ALL12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#if PC_VW == 16
#define ALL(M) ALL12(M) M(12) M(13) M(14) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23)
#define CHAINS 24
#else
#define ALL(M) ALL12(M)
#define CHAINS 12
#endif

double VNAME(pc_peak_loop)(long long iters, int *chains, float *sink) {
    ALL(D)
    const vf x = splat(0.999999f), y = splat(1e-7f);
    const double t0 = pc_cpu_thread_seconds();
    for (long long it = 0; it < iters; it++) {
        ALL(F)
    }
    const double t = pc_cpu_thread_seconds() - t0;
    vf s = splat(0);
    ALL(S)
    *sink = hsum(s);
    *chains = CHAINS;
    return t;
}
