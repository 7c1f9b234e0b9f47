// AVX-512 GEMM micro-kernels: 14 x 32 tile. 28 zmm accumulators, 2 zmm for
// the B row, 1 for the broadcast A element (vbroadcastss from the packed
// panel): 31 of 32 registers, 28 FMAs per 2 vector loads + 14 broadcasts per
// k step. Edge tiles use masked loads/stores in the epilogue. Also the
// opt-in BF16 variant (vdpbf16ps) at the end of the file.
#include "core/gemm_internal.h"

#include <immintrin.h>

#define GP_MR 14
#define GP_NR 32
#define GP_NAME(x) avx512_##x
#define GP_F16(h) _cvtsh_ss(h)
#include "core/gemm_pack.h"

// Epilogue for 16 columns of one row; lanes outside mk are neither read nor written.
static inline void out16(float *c, __m512 acc, __mmask16 mk, __m512 va, __m512 vb, float beta, const float *bias) {
    if (!mk) return;
    __m512 v;
    if (beta == 0.0f)
        v = _mm512_mul_ps(va, acc);
    else if (beta == 1.0f)
        v = _mm512_fmadd_ps(va, acc, _mm512_maskz_loadu_ps(mk, c));
    else
        v = _mm512_fmadd_ps(va, acc, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mk, c)));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, bias));
    _mm512_mask_storeu_ps(c, mk, v);
}

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u); }

static void kern_14x32(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, int64_t ldc,
                       float alpha, float beta, const float *bias, int m, int n) {
    __m512 z = _mm512_setzero_ps();
    __m512 c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z, c4a = z, c4b = z;
    __m512 c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z, c8a = z, c8b = z, c9a = z, c9b = z;
    __m512 c10a = z, c10b = z, c11a = z, c11b = z, c12a = z, c12b = z, c13a = z, c13b = z;
#define STEP(r)                                 \
    t = _mm512_set1_ps(a[r]);                   \
    c##r##a = _mm512_fmadd_ps(t, b0, c##r##a);  \
    c##r##b = _mm512_fmadd_ps(t, b1, c##r##b);
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), t;
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6)
        STEP(7) STEP(8) STEP(9) STEP(10) STEP(11) STEP(12) STEP(13)
        a += GP_MR;
        b += GP_NR;
    }
#undef STEP
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mlo = lanes(n), mhi = lanes(n - 16);
#define OUT(r)                                                                   \
    if (r < m) {                                                                 \
        out16(c + r * ldc, c##r##a, mlo, va, vb, beta, bias);                    \
        out16(c + r * ldc + 16, c##r##b, mhi, va, vb, beta, bias ? bias + 16 : NULL); \
    }
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4) OUT(5) OUT(6) OUT(7) OUT(8) OUT(9) OUT(10) OUT(11) OUT(12) OUT(13)
#undef OUT
}

// ---- packing: vector loads (F16/BF16 converted in registers) and 16x16
// in-register transposes for the K-contiguous cases (x W^T needs both).

// Up to 16 consecutive elements (lanes in mask) of a row as floats; other lanes 0.
static inline __attribute__((always_inline)) __m512 load16(const void *p, pc_dtype dt, __mmask16 mask) {
    if (dt == PC_F32) return _mm512_maskz_loadu_ps(mask, p);
    __m256i h = _mm256_maskz_loadu_epi16(mask, p);
    if (dt == PC_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

// r[i] = row i (16 floats) -> r[j] = column j.
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 16; g += 4) {  // u[g + j]: rows g..g+3 at column 4l + j of 128-bit lane l
        u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

// Transpose n (<= 16) rows src[0..n) of length kc (dtype dt) into dst[k*ds + x], x < width lanes.
static void pack_rows_t(float *dst, int64_t ds, __mmask16 wmask, const char *src, int64_t ld_bytes, int64_t n,
                        int64_t kc, pc_dtype dt) {
    size_t es = dt == PC_F32 ? 4 : 2;
    for (int64_t k = 0; k < kc; k += 16) {
        int64_t kk = PC_MIN((int64_t)16, kc - k);
        __mmask16 km = lanes(kk);
        __m512 r[16];
#pragma GCC unroll 16
        for (int x = 0; x < 16; x++)
            r[x] = x < n ? load16(src + x * ld_bytes + (size_t)k * es, dt, km) : _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int x = 0; x < 16; x++)  // next-but-one chunk of each row: 16 strided streams defeat the prefetcher
            if (x < n) _mm_prefetch(src + x * ld_bytes + (size_t)(k + 64) * es, _MM_HINT_T0);
        transpose16(r);
#pragma GCC unroll 16
        for (int t = 0; t < 16; t++)  // constant indices keep r[] in registers
            if (t < kk) _mm512_mask_storeu_ps(dst + (k + t) * ds, wmask, r[t]);
    }
}

static void pack_a_avx512(float *dst, const pc_mat *A, int64_t m0, int64_t mb, int64_t k0, int64_t kc) {
    size_t es = pc_dtype_size(A->dtype);
    for (int64_t i0 = 0; i0 < mb; i0 += GP_MR) {
        float *d = dst + i0 * kc;
        int64_t rows = PC_MIN((int64_t)GP_MR, mb - i0);
        if (!A->trans) {
            const char *src = (const char *)A->data + ((size_t)((m0 + i0) * A->ld + k0)) * es;
            pack_rows_t(d, GP_MR, lanes(GP_MR), src, A->ld * (int64_t)es, rows, kc, A->dtype);
        } else {
            const char *src = (const char *)A->data + ((size_t)(k0 * A->ld + m0 + i0)) * es;
            __mmask16 rm = lanes(rows);
            for (int64_t k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(d + k * GP_MR, lanes(GP_MR), load16(src + (size_t)(k * A->ld) * es, A->dtype, rm));
        }
    }
}

static void pack_b_avx512(float *dst, const pc_mat *B, int64_t k0, int64_t kc, int64_t n0, int64_t nb) {
    size_t es = pc_dtype_size(B->dtype);
    for (int64_t j0 = 0; j0 < nb; j0 += GP_NR) {
        float *d = dst + j0 * kc;
        int64_t cols = PC_MIN((int64_t)GP_NR, nb - j0);
        if (B->trans) {  // rows of B are columns of op(B): transpose 16 at a time
            const char *src = (const char *)B->data + ((size_t)((n0 + j0) * B->ld + k0)) * es;
            int64_t ldb = B->ld * (int64_t)es;
            pack_rows_t(d, GP_NR, 0xffff, src, ldb, PC_MIN(cols, (int64_t)16), kc, B->dtype);
            if (cols > 16)
                pack_rows_t(d + 16, GP_NR, 0xffff, src + 16 * ldb, ldb, cols - 16, kc, B->dtype);
            else
                for (int64_t k = 0; k < kc; k++) _mm512_store_ps(d + k * GP_NR + 16, _mm512_setzero_ps());
        } else {
            const char *src = (const char *)B->data + ((size_t)(k0 * B->ld + n0 + j0)) * es;
            __mmask16 lo = lanes(cols), hi = lanes(cols - 16 > 0 ? cols - 16 : 0);
            for (int64_t k = 0; k < kc; k++) {
                const char *p = src + (size_t)(k * B->ld) * es;
                _mm512_store_ps(d + k * GP_NR, load16(p, B->dtype, lo));
                _mm512_store_ps(d + k * GP_NR + 16, load16(p + 16 * es, B->dtype, hi));
            }
        }
    }
}

static const pc_gemm_impl g_avx512 = {"avx512", GP_MR, GP_NR, 320, 256, 14 * 64, kern_14x32, pack_a_avx512,
                                      pack_b_avx512};

const pc_gemm_impl *pc_gemm_impl_avx512(void) { return &g_avx512; }

// ---- opt-in BF16 path (AVX512_BF16, vdpbf16ps) ---------------------------
// Operands are rounded to bf16 (round to nearest even) while packing; products
// of bf16 pairs accumulate in f32. Packed layout: as the f32 one, but each
// 32-bit slot holds a K pair (element 2p in the low half, 2p+1 in the high
// half): A panel slot [p*MR + r], B panel slot [p*NR + c]; an odd K is padded
// with a zero. The packed panels take half the f32 space, so the driver's
// panel strides (kc floats per row/column) still fit.

// Rows src[0..n) (n <= 16) of length kc: K pairs transposed into dst[p*ds + x], x < width lanes.
static void pack_rows_t_bf16(float *dst, int64_t ds, __mmask16 wmask, const char *src, int64_t ld_bytes, int64_t n,
                             int64_t kc, pc_dtype dt) {
    size_t es = dt == PC_F32 ? 4 : 2;
    for (int64_t k = 0; k < kc; k += 32) {
        int64_t kk = PC_MIN((int64_t)32, kc - k), np = (kk + 1) / 2;
        __mmask16 mlo = lanes(kk), mhi = lanes(kk > 16 ? kk - 16 : 0);
        __m512 r[16];
#pragma GCC unroll 16
        for (int x = 0; x < 16; x++) {
            if (x < n) {
                const char *p = src + x * ld_bytes + (size_t)k * es;
                __m512bh h = _mm512_cvtne2ps_pbh(load16(p + 16 * es, dt, mhi), load16(p, dt, mlo));
                r[x] = (__m512)h;
            } else {
                r[x] = _mm512_setzero_ps();
            }
        }
#pragma GCC unroll 16
        for (int x = 0; x < 16; x++)  // see pack_rows_t
            if (x < n) _mm_prefetch(src + x * ld_bytes + (size_t)(k + 64) * es, _MM_HINT_T0);
        transpose16(r);
#pragma GCC unroll 16
        for (int t = 0; t < 16; t++)
            if (t < np) _mm512_mask_storeu_ps(dst + (k / 2 + t) * ds, wmask, r[t]);
    }
}

// Two rows r0, r1 (16 lanes each, as floats) -> 16 slots (r0[i] | r1[i] << 16) as bf16 pairs.
static inline __m512 pair16(__m512 r0, __m512 r1) {
    static const uint16_t idx[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __m512i h = (__m512i)_mm512_cvtne2ps_pbh(r1, r0);  // elements 0..15 = r0, 16..31 = r1
    return _mm512_castsi512_ps(_mm512_permutexvar_epi16(_mm512_loadu_si512(idx), h));
}

static void pack_a_bf16(float *dst, const pc_mat *A, int64_t m0, int64_t mb, int64_t k0, int64_t kc) {
    size_t es = pc_dtype_size(A->dtype);
    for (int64_t i0 = 0; i0 < mb; i0 += GP_MR) {
        float *d = dst + i0 * kc;
        int64_t rows = PC_MIN((int64_t)GP_MR, mb - i0);
        if (!A->trans) {
            const char *src = (const char *)A->data + ((size_t)((m0 + i0) * A->ld + k0)) * es;
            pack_rows_t_bf16(d, GP_MR, lanes(GP_MR), src, A->ld * (int64_t)es, rows, kc, A->dtype);
        } else {
            const char *src = (const char *)A->data + ((size_t)(k0 * A->ld + m0 + i0)) * es;
            __mmask16 rm = lanes(rows);
            for (int64_t k = 0; k < kc; k += 2) {
                __m512 r0 = load16(src + (size_t)(k * A->ld) * es, A->dtype, rm);
                __m512 r1 = k + 1 < kc ? load16(src + (size_t)((k + 1) * A->ld) * es, A->dtype, rm) : _mm512_setzero_ps();
                _mm512_mask_storeu_ps(d + (k / 2) * GP_MR, lanes(GP_MR), pair16(r0, r1));
            }
        }
    }
}

static void pack_b_bf16(float *dst, const pc_mat *B, int64_t k0, int64_t kc, int64_t n0, int64_t nb) {
    size_t es = pc_dtype_size(B->dtype);
    for (int64_t j0 = 0; j0 < nb; j0 += GP_NR) {
        float *d = dst + j0 * kc;
        int64_t cols = PC_MIN((int64_t)GP_NR, nb - j0);
        if (B->trans) {
            const char *src = (const char *)B->data + ((size_t)((n0 + j0) * B->ld + k0)) * es;
            int64_t ldb = B->ld * (int64_t)es;
            pack_rows_t_bf16(d, GP_NR, 0xffff, src, ldb, PC_MIN(cols, (int64_t)16), kc, B->dtype);
            if (cols > 16)
                pack_rows_t_bf16(d + 16, GP_NR, 0xffff, src + 16 * ldb, ldb, cols - 16, kc, B->dtype);
            else
                for (int64_t p = 0; p < (kc + 1) / 2; p++) _mm512_store_ps(d + p * GP_NR + 16, _mm512_setzero_ps());
        } else {
            const char *src = (const char *)B->data + ((size_t)(k0 * B->ld + n0 + j0)) * es;
            __mmask16 lo = lanes(cols), hi = lanes(cols - 16 > 0 ? cols - 16 : 0);
            for (int64_t k = 0; k < kc; k += 2) {
                const char *p0 = src + (size_t)(k * B->ld) * es, *p1 = p0 + (size_t)B->ld * es;
                int has1 = k + 1 < kc;
                __m512 z = _mm512_setzero_ps();
                _mm512_store_ps(d + (k / 2) * GP_NR,
                                pair16(load16(p0, B->dtype, lo), has1 ? load16(p1, B->dtype, lo) : z));
                _mm512_store_ps(d + (k / 2) * GP_NR + 16, pair16(load16(p0 + 16 * es, B->dtype, hi),
                                                                  has1 ? load16(p1 + 16 * es, B->dtype, hi) : z));
            }
        }
    }
}

static void kern_bf16_14x32(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                            int64_t ldc, float alpha, float beta, const float *bias, int m, int n) {
    __m512 z = _mm512_setzero_ps();
    __m512 c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z, c4a = z, c4b = z;
    __m512 c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z, c8a = z, c8b = z, c9a = z, c9b = z;
    __m512 c10a = z, c10b = z, c11a = z, c11b = z, c12a = z, c12b = z, c13a = z, c13b = z;
    const uint32_t *ap = (const uint32_t *)(const void *)a;
    int64_t np = (kc + 1) / 2;
#define STEP(r)                                                    \
    t = (__m512bh)_mm512_set1_epi32((int)ap[r]);                    \
    c##r##a = _mm512_dpbf16_ps(c##r##a, t, b0);                     \
    c##r##b = _mm512_dpbf16_ps(c##r##b, t, b1);
#pragma GCC unroll 2
    for (int64_t p = 0; p < np; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16), t;
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6)
        STEP(7) STEP(8) STEP(9) STEP(10) STEP(11) STEP(12) STEP(13)
        ap += GP_MR;
        b += GP_NR;
    }
#undef STEP
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mlo = lanes(n), mhi = lanes(n - 16);
#define OUT(r)                                                                   \
    if (r < m) {                                                                 \
        out16(c + r * ldc, c##r##a, mlo, va, vb, beta, bias);                    \
        out16(c + r * ldc + 16, c##r##b, mhi, va, vb, beta, bias ? bias + 16 : NULL); \
    }
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4) OUT(5) OUT(6) OUT(7) OUT(8) OUT(9) OUT(10) OUT(11) OUT(12) OUT(13)
#undef OUT
}

// K block 512: a bf16 A micro-panel of 512 x 14 takes the same 14 KiB of L1 as 256 f32.
static const pc_gemm_impl g_avx512_bf16 = {"avx512_bf16", GP_MR, GP_NR, 512, 256, 14 * 64, kern_bf16_14x32,
                                           pack_a_bf16, pack_b_bf16};

const pc_gemm_impl *pc_gemm_impl_avx512_bf16(void) { return &g_avx512_bf16; }
