// Register-only FMA loops behind pc_cpu_fma_peak (core/cpu.h), one per ISA.
// Each runs `iters` iterations of `PC_PEAK_CHAINS_*` independent accumulator
// chains and returns the calling thread's CPU seconds; *sink keeps the result alive.
#ifndef PC_CORE_CPU_PEAK_INTERNAL_H
#define PC_CORE_CPU_PEAK_INTERNAL_H

#define PC_PEAK_CHAINS_AVX512 24  // of 32 zmm registers
#define PC_PEAK_CHAINS_AVX2 12    // of 16 ymm registers (two hold the operands)
#define PC_PEAK_CHAINS_SSE 12     // of 16 xmm registers

double pc_cpu_thread_seconds(void);
double pc_peak_loop_avx512(long long iters, float *sink);  // 16 lanes x (mul + add fused)
double pc_peak_loop_avx2(long long iters, float *sink);    // 8 lanes x (mul + add fused)

#endif
