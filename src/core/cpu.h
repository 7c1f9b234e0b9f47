// Run-time CPU feature detection (x86-64: cpuid + xgetbv, so a feature counts
// only when the OS also saves the registers it needs). Results are computed
// once and cached; every call after the first is a load.
#ifndef PC_CORE_CPU_H
#define PC_CORE_CPU_H

// AVX2 + FMA3 + F16C, with OS support for YMM state.
int pc_cpu_has_avx2_fma(void);
// AVX-512 F/BW/DQ/VL, with OS support for ZMM/opmask state.
int pc_cpu_has_avx512f(void);
// AVX-512 BF16 (vdpbf16ps) on top of pc_cpu_has_avx512f().
int pc_cpu_has_avx512_bf16(void);
// One line naming the features above that this CPU has ("avx512f avx512_bf16 avx2 fma").
const char *pc_cpu_features(void);

// fp32 multiply-add peak of one core for the widest vector unit the GEMM uses
// here: AVX-512 (16 lanes), AVX2+FMA (8 lanes), else SSE2 mul+add (4 lanes).
typedef struct pc_cpu_peak {
    double gflops;    // GFLOP per CPU-second of one core (best 20 ms chunk of register-only FMAs)
    const char *isa;  // "avx512", "avx2+fma", "sse2 (mul+add)" or "scalar"
    int lanes;        // fp32 lanes per instruction
    float checksum;   // the loops' result (kept so the compiler cannot drop them)
} pc_cpu_peak;
// Runs for about min_seconds of the calling thread's CPU time (0.1 s is plenty).
pc_cpu_peak pc_cpu_fma_peak(double min_seconds);

#endif
