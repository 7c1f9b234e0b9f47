// CPU feature detection: cpuid leaves 1 and 7, xgetbv(0) for the OS-enabled
// register state. Cached in one atomic int (a pure function of the machine, so
// the benign first-call race computes the same value in every thread).
#include "core/cpu.h"

#include <stdatomic.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum {
    F_AVX2_FMA = 1 << 0,
    F_AVX512F = 1 << 1,
    F_AVX512_BF16 = 1 << 2,
    F_VALID = 1 << 30,
};

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    // xgetbv with ecx = 0 (XCR0); encoded as bytes so no -mxsave is needed.
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int detect(void) {
    unsigned int a, b, c, d;
    int f = F_VALID;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return f;
    unsigned long long xcr0 = xgetbv0();
    int ymm_ok = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, NULL) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    if (ymm_ok && avx2 && fma && f16c) f |= F_AVX2_FMA;
    if (zmm_ok && (f & F_AVX2_FMA) && avx512f && avx512dq && avx512bw && avx512vl) {
        f |= F_AVX512F;
        unsigned int a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1, (void)c1, (void)d1;
        if ((a1 >> 5) & 1) f |= F_AVX512_BF16;
    }
    return f;
}
#else
enum { F_AVX2_FMA = 1, F_AVX512F = 2, F_AVX512_BF16 = 4, F_VALID = 1 << 30 };
static int detect(void) { return F_VALID; }
#endif

static atomic_int g_features;  // 0 until detected; a cache of a machine constant

static int features(void) {
    int f = atomic_load_explicit(&g_features, memory_order_relaxed);
    if (!f) {
        f = detect();
        atomic_store_explicit(&g_features, f, memory_order_relaxed);
    }
    return f;
}

int pc_cpu_has_avx2_fma(void) { return (features() & F_AVX2_FMA) != 0; }
int pc_cpu_has_avx512f(void) { return (features() & F_AVX512F) != 0; }
int pc_cpu_has_avx512_bf16(void) { return (features() & F_AVX512_BF16) != 0; }

const char *pc_cpu_features(void) {
    int f = features();
    if (f & F_AVX512_BF16) return "avx512f avx512_bf16 avx2 fma";
    if (f & F_AVX512F) return "avx512f avx2 fma";
    if (f & F_AVX2_FMA) return "avx2 fma";
    return "baseline";
}
