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

#endif
