// The register-only multiply-add loops behind pc_cpu_fma_peak (core/cpu.h): one per lane count, built from
// cpu_peak_vec.c. Each runs `iters` iterations of *chains independent accumulator chains and returns the
// calling thread's CPU seconds; *sink keeps the result alive.
#ifndef PC_CORE_CPU_PEAK_INTERNAL_H
#define PC_CORE_CPU_PEAK_INTERNAL_H

double pc_cpu_thread_seconds(void);
double pc_peak_loop_v4(long long iters, int *chains, float *sink);   // baseline: mul + add
double pc_peak_loop_v8(long long iters, int *chains, float *sink);   // AVX2 + FMA
double pc_peak_loop_v16(long long iters, int *chains, float *sink);  // AVX-512

#endif
