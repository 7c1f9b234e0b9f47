// AVX2 + FMA GEMM micro-kernel: 6 x 16 tile (12 ymm accumulators, 2 for B,
// 1 broadcast of A), the classic Haswell-era shape.
#include "core/gemm_internal.h"

#include <immintrin.h>

#define GP_MR 6
#define GP_NR 16
#define GP_NAME(x) avx2_##x
#define GP_F16(h) _cvtsh_ss(h)
#include "core/gemm_pack.h"

static inline __m256 epi8(__m256 acc, float *c, __m256 va, __m256 vb, float beta, const float *bias) {
    __m256 v;
    if (beta == 0.0f)
        v = _mm256_mul_ps(va, acc);
    else if (beta == 1.0f)
        v = _mm256_fmadd_ps(va, acc, _mm256_loadu_ps(c));
    else
        v = _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_loadu_ps(c)));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    return v;
}

static void kern_6x16_full(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, int64_t ldc,
                      float alpha, float beta, const float *bias) {
    __m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
    __m256 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
#define STEP(r)                                 \
    t = _mm256_broadcast_ss(a + r);             \
    c##r##a = _mm256_fmadd_ps(t, b0, c##r##a);  \
    c##r##b = _mm256_fmadd_ps(t, b1, c##r##b);
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), t;
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        a += GP_MR;
        b += GP_NR;
    }
#undef STEP
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#define OUT(r)                                                                                           \
    _mm256_storeu_ps(c + r * ldc, epi8(c##r##a, c + r * ldc, va, vb, beta, bias));                        \
    _mm256_storeu_ps(c + r * ldc + 8, epi8(c##r##b, c + r * ldc + 8, va, vb, beta, bias ? bias + 8 : NULL));
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4) OUT(5)
#undef OUT
}

static void kern_6x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta,
                      const float *bias, int m, int n) {
    if (m == GP_MR && n == GP_NR) {
        kern_6x16_full(kc, a, b, c, ldc, alpha, beta, bias);
        return;
    }
    _Alignas(64) float tmp[GP_MR * GP_NR];  // (MR, NR)
    kern_6x16_full(kc, a, b, tmp, GP_NR, 1.0f, 0.0f, NULL);
    pc_gemm_merge_tile(c, ldc, tmp, GP_NR, m, n, alpha, beta, bias);
}

// ---- packing: 8-wide loads (F16/BF16 converted in registers) and 8x8 transposes.

// Up to 8 consecutive elements (n of them) of a row as floats; other lanes 0.
static inline __m256 load8(const void *p, pc_dtype dt, int64_t n) {
    if (n <= 0) return _mm256_setzero_ps();
    if (dt == PC_F32) {
        if (n >= 8) return _mm256_loadu_ps((const float *)p);
        static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        return _mm256_maskload_ps((const float *)p, _mm256_loadu_si256((const __m256i *)(const void *)(m + 8 - n)));
    }
    __m128i h;
    if (n >= 8) {
        h = _mm_loadu_si128((const __m128i *)p);
    } else {
        uint16_t t[8] = {0};
        memcpy(t, p, (size_t)n * 2);
        h = _mm_loadu_si128((const __m128i *)(const void *)t);
    }
    if (dt == PC_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Store the first w (6 or 8) lanes of v.
static inline void store_w(float *d, __m256 v, int w) {
    if (w == 8) {
        _mm256_storeu_ps(d, v);
    } else {
        _mm_storeu_ps(d, _mm256_castps256_ps128(v));
        _mm_storel_pi((__m64 *)(void *)(d + 4), _mm256_extractf128_ps(v, 1));
    }
}

// Transpose rows src[0..n) (n <= 8) of length kc into dst[k*ds + x], x < w (6 or 8).
static void pack_rows_t8(float *dst, int64_t ds, int w, const char *src, int64_t ld_bytes, int64_t n, int64_t kc,
                         pc_dtype dt) {
    size_t es = dt == PC_F32 ? 4 : 2;
    for (int64_t k = 0; k < kc; k += 8) {
        int64_t kk = PC_MIN((int64_t)8, kc - k);
        __m256 r[8];
#pragma GCC unroll 8
        for (int x = 0; x < 8; x++) r[x] = x < n ? load8(src + x * ld_bytes + (size_t)k * es, dt, kk) : _mm256_setzero_ps();
        transpose8(r);
#pragma GCC unroll 8
        for (int t = 0; t < 8; t++)
            if (t < kk) store_w(dst + (k + t) * ds, r[t], w);
    }
}

static void pack_a_avx2(float *dst, const pc_mat *A, int64_t m0, int64_t mb, int64_t k0, int64_t kc) {
    size_t es = pc_dtype_size(A->dtype);
    for (int64_t i0 = 0; i0 < mb; i0 += GP_MR) {
        float *d = dst + i0 * kc;
        int64_t rows = PC_MIN((int64_t)GP_MR, mb - i0);
        if (!A->trans) {
            const char *src = (const char *)A->data + ((size_t)((m0 + i0) * A->ld + k0)) * es;
            pack_rows_t8(d, GP_MR, GP_MR, src, A->ld * (int64_t)es, rows, kc, A->dtype);
        } else {
            const char *src = (const char *)A->data + ((size_t)(k0 * A->ld + m0 + i0)) * es;
            for (int64_t k = 0; k < kc; k++)
                store_w(d + k * GP_MR, load8(src + (size_t)(k * A->ld) * es, A->dtype, rows), GP_MR);
        }
    }
}

static void pack_b_avx2(float *dst, const pc_mat *B, int64_t k0, int64_t kc, int64_t n0, int64_t nb) {
    size_t es = pc_dtype_size(B->dtype);
    for (int64_t j0 = 0; j0 < nb; j0 += GP_NR) {
        float *d = dst + j0 * kc;
        int64_t cols = PC_MIN((int64_t)GP_NR, nb - j0);
        if (B->trans) {
            const char *src = (const char *)B->data + ((size_t)((n0 + j0) * B->ld + k0)) * es;
            int64_t ldb = B->ld * (int64_t)es;
            pack_rows_t8(d, GP_NR, 8, src, ldb, PC_MIN(cols, (int64_t)8), kc, B->dtype);
            if (cols > 8)
                pack_rows_t8(d + 8, GP_NR, 8, src + 8 * ldb, ldb, cols - 8, kc, B->dtype);
            else
                for (int64_t k = 0; k < kc; k++) _mm256_store_ps(d + k * GP_NR + 8, _mm256_setzero_ps());
        } else {
            const char *src = (const char *)B->data + ((size_t)(k0 * B->ld + n0 + j0)) * es;
            for (int64_t k = 0; k < kc; k++) {
                const char *p = src + (size_t)(k * B->ld) * es;
                _mm256_store_ps(d + k * GP_NR, load8(p, B->dtype, cols));
                _mm256_store_ps(d + k * GP_NR + 8, load8(p + 8 * es, B->dtype, cols - 8));
            }
        }
    }
}

static const pc_gemm_impl g_avx2 = {"avx2", GP_MR, GP_NR, 256, 384, 768, kern_6x16, pack_a_avx2, pack_b_avx2};

const pc_gemm_impl *pc_gemm_impl_avx2(void) { return &g_avx2; }
