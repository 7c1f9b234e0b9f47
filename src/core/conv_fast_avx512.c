// AVX-512 packers of the implicit-GEMM convolution (conv_fast.c): one 32-pixel row of the virtual
// im2col matrix per K index, read straight from the input with masked loads (zero padding), shuffles for
// stride 2 (even lanes) and for 2x nearest upsampling (each source lane twice). NR = 32 (gemm_avx512.c).
#include "core/conv_fast_internal.h"

#include <immintrin.h>

#define NR 32

// Lanes [lo, hi) of a 64-lane mask (empty when hi <= lo).
static inline uint64_t range64(int64_t lo, int64_t hi) {
    if (lo < 0) lo = 0;
    if (hi > 64) hi = 64;
    if (hi <= lo) return 0;
    uint64_t m = hi >= 64 ? ~0ull : ((1ull << hi) - 1ull);
    return m & ~((1ull << lo) - 1ull);
}

// p + i floats without forming an out-of-bounds pointer in C (masked lanes are never touched).
static inline const float *fptr(const float *p, int64_t i) {
    return (const float *)(const void *)((uintptr_t)p + (uintptr_t)(i * (int64_t)sizeof(float)));
}

// Lanes n < 32 of one im2col row: up(x) row `row` (NULL: a padding row) at upsampled columns
// iw(n) = (ow0 + n)*stride - pad_l + kw, zero where iw is outside [0, Wu) or n >= nv.
static inline __attribute__((always_inline)) void row32(const pc_convf_geo *g, const float *row, int64_t ow0,
                                                        int64_t nv, int64_t kw, __m512 *lo, __m512 *hi) {
    if (!row) {
        *lo = *hi = _mm512_setzero_ps();
        return;
    }
    if (g->stride == 1 && g->up == 1) {
        int64_t b = ow0 - g->pad_l + kw;  // x column of lane 0
        uint64_t m = range64(-b, PC_MIN(nv, g->W - b));
        *lo = _mm512_maskz_loadu_ps((__mmask16)m, fptr(row, b));
        *hi = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), fptr(row, b + 16));
        return;
    }
    if (g->stride == 2 && g->up == 1) {  // lane n <- x[b + 2n]: load 64 columns, keep the even ones
        int64_t b = 2 * ow0 - g->pad_l + kw;
        uint64_t m = range64(-b, PC_MIN(2 * nv, g->W - b));
        __m512 a0 = _mm512_maskz_loadu_ps((__mmask16)m, fptr(row, b));
        __m512 a1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), fptr(row, b + 16));
        __m512 a2 = _mm512_maskz_loadu_ps((__mmask16)(m >> 32), fptr(row, b + 32));
        __m512 a3 = _mm512_maskz_loadu_ps((__mmask16)(m >> 48), fptr(row, b + 48));
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        *lo = _mm512_permutex2var_ps(a0, even, a1);
        *hi = _mm512_permutex2var_ps(a2, even, a3);
        return;
    }
    if (g->stride == 1 && g->up == 2) {  // lane n <- x[(b + n) >> 1]
        int64_t b = ow0 - g->pad_l + kw, s0 = b >= 0 ? b / 2 : -((1 - b) / 2);  // floor(b / 2)
        uint64_t m = range64(-s0, PC_MIN((int64_t)17, g->W - s0));
        __m512 a0 = _mm512_maskz_loadu_ps((__mmask16)m, fptr(row, s0));
        __m512 a1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), fptr(row, s0 + 16));
        uint64_t om = range64(-b, PC_MIN(nv, g->Wu - b));  // lanes whose upsampled column is inside
        __m512i idx = _mm512_srli_epi32(
            _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                             _mm512_set1_epi32((int)(b - 2 * s0))),
            1);
        __m512i idx2 = _mm512_add_epi32(idx, _mm512_set1_epi32(8));
        *lo = _mm512_maskz_permutex2var_ps((__mmask16)om, a0, idx, a1);
        *hi = _mm512_maskz_permutex2var_ps((__mmask16)(om >> 16), a0, idx2, a1);
        return;
    }
    float t[NR];
    for (int64_t n = 0; n < NR; n++) {
        int64_t iw = (ow0 + n) * g->stride - g->pad_l + kw;
        t[n] = (n < nv && iw >= 0 && iw < g->Wu) ? row[iw / g->up] : 0.0f;
    }
    *lo = _mm512_loadu_ps(t);
    *hi = _mm512_loadu_ps(t + 16);
}

// Walks k = (ci*k + kh)*k + kw from k0 with counters instead of divisions.
typedef struct kwalk {
    int64_t ci, kh, kw;
} kwalk;

static inline kwalk kw_start(const pc_convf_geo *g, int64_t k0) {
    kwalk w = {k0 / (g->k * g->k), (k0 / g->k) % g->k, k0 % g->k};
    return w;
}
static inline void kw_next(const pc_convf_geo *g, kwalk *w) {
    if (++w->kw == g->k) {
        w->kw = 0;
        if (++w->kh == g->k) {
            w->kh = 0;
            w->ci++;
        }
    }
}
// x row for (ci, kh) at output row oh, NULL for padding.
static inline const float *row_of(const pc_convf_geo *g, const kwalk *w, int64_t oh) {
    int64_t ih = oh * g->stride - g->pad_t + w->kh;
    if (ih < 0 || ih >= g->Hu) return NULL;
    return g->x + (w->ci * g->H + ih / g->up) * g->W;
}

// Panel geometry of np (<= PANELS_MAX) consecutive panels from p0.
#define PANELS_MAX 64
static void panels_of(const pc_convf_geo *g, int64_t p0, int64_t np, int64_t *oh, int64_t *ow0, int64_t *nv) {
    for (int64_t p = 0; p < np; p++) {
        oh[p] = (p0 + p) / g->ppr;
        ow0[p] = ((p0 + p) % g->ppr) * NR;
        nv[p] = PC_MIN((int64_t)NR, g->OW - ow0[p]);
    }
}

// (always_inline: as a separate static function GCC deems it pure and drops the calls.)
// Software prefetch of the x row PF_CH channels ahead (same kh, same columns) when a row segment is first
// touched (kw == 0): the input rows of one channel lie H*W floats apart, a pattern the hardware
// prefetchers do not follow, and the packer would otherwise wait on DRAM for every row.
#define PF_CH 4
static inline __attribute__((always_inline)) void prefetch_ahead(const pc_convf_geo *g, const kwalk *w, int64_t oh, int64_t ow0, int64_t nv) {
    if (w->kw != 0 || w->ci + PF_CH >= g->Cin) return;
    int64_t ih = oh * g->stride - g->pad_t + w->kh;
    if (ih < 0 || ih >= g->Hu) return;
    const float *row = g->x + ((w->ci + PF_CH) * g->H + ih / g->up) * g->W;
    int64_t c0 = ow0 * g->stride - g->pad_l, c1 = (ow0 + nv - 1) * g->stride - g->pad_l + g->k;  // [c0, c1)
    c0 = PC_MAX((int64_t)0, c0) / g->up;
    c1 = (PC_MIN(g->Wu, c1) - 1) / g->up;
    for (int64_t c = c0 & ~(int64_t)15; c <= c1; c += 16) _mm_prefetch((const char *)(row + c), _MM_HINT_T0);
}

// K outermost, panels inside: for one k the panels of an output row read one contiguous stretch of an
// input row (a stream the prefetcher follows), instead of kc scattered rows per panel.
// The common case: stride 1, no upsampling, all panels in one output row, k <= KMAX. Per k one row
// pointer and, per panel, two masked loads (lane masks precomputed per kw) and two stores.
#define KMAX 7
static void pack_row_s1(float *dq, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t nq, int64_t oh,
                        const int64_t *ow0, const int64_t *nv) {
    uint32_t msk[KMAX][PANELS_MAX];
    for (int64_t kw = 0; kw < g->k; kw++)
        for (int64_t p = 0; p < nq; p++) {
            int64_t b = ow0[p] - g->pad_l + kw;
            msk[kw][p] = (uint32_t)range64(-b, PC_MIN(nv[p], g->W - b));
        }
    int64_t c0 = PC_MAX((int64_t)0, ow0[0] - g->pad_l), c1 = PC_MIN(g->W, ow0[nq - 1] + nv[nq - 1] - g->pad_l + g->k);
    kwalk w = kw_start(g, k0);
    const __m512 z = _mm512_setzero_ps();
    for (int64_t t = 0; t < kc; t++) {
        int64_t ih = oh - g->pad_t + w.kh;
        float *d = dq + t * NR;
        if (ih < 0 || ih >= g->H) {
            for (int64_t p = 0; p < nq; p++, d += NR * kc) {
                _mm512_store_ps(d, z);
                _mm512_store_ps(d + 16, z);
            }
        } else {
            const float *row = g->x + (w.ci * g->H + ih) * g->W;
            if (w.kw == 0 && w.ci + PF_CH < g->Cin) {  // see prefetch_ahead
                const float *pr = row + PF_CH * g->H * g->W;
                for (int64_t c = c0 & ~(int64_t)15; c < c1; c += 16) _mm_prefetch((const char *)(pr + c), _MM_HINT_T0);
            }
            const uint32_t *m = msk[w.kw];
            const float *src = fptr(row, w.kw - g->pad_l);
            for (int64_t p = 0; p < nq; p++, d += NR * kc) {
                const float *sp = fptr(src, ow0[p]);
                _mm512_store_ps(d, _mm512_maskz_loadu_ps((__mmask16)m[p], sp));
                _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps((__mmask16)(m[p] >> 16), fptr(sp, 16)));
            }
        }
        kw_next(g, &w);
    }
}

void pc_convf_pack_avx512(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np) {
    int64_t oh[PANELS_MAX], ow0[PANELS_MAX], nv[PANELS_MAX];
    for (int64_t q0 = 0; q0 < np; q0 += PANELS_MAX) {
        int64_t nq = PC_MIN((int64_t)PANELS_MAX, np - q0);
        panels_of(g, p0 + q0, nq, oh, ow0, nv);
        float *dq = dst + q0 * NR * kc;
        if (g->stride == 1 && g->up == 1 && g->k <= KMAX && oh[0] == oh[nq - 1]) {
            pack_row_s1(dq, g, k0, kc, nq, oh[0], ow0, nv);
            continue;
        }
        kwalk w = kw_start(g, k0);
        for (int64_t t = 0; t < kc; t++) {
            for (int64_t p = 0; p < nq; p++) {
                __m512 lo, hi;
                prefetch_ahead(g, &w, oh[p], ow0[p], nv[p]);
                row32(g, row_of(g, &w, oh[p]), ow0[p], nv[p], w.kw, &lo, &hi);
                float *d = dq + p * NR * kc + t * NR;
                _mm512_store_ps(d, lo);
                _mm512_store_ps(d + 16, hi);
            }
            kw_next(g, &w);
        }
    }
}

// Two rows r0, r1 (16 lanes each) -> 16 32-bit slots holding the bf16 pair (r0[i] low, r1[i] high),
// rounded to nearest even.
static inline __m512 pair16(__m512 r0, __m512 r1) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i h = (__m512i)_mm512_cvtne2ps_pbh(r1, r0);  // 16-bit elements 0..15 = r0, 16..31 = r1
    return _mm512_castsi512_ps(_mm512_permutexvar_epi16(idx, h));
}

void pc_convf_pack_bf16_avx512(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np) {
    int64_t oh[PANELS_MAX], ow0[PANELS_MAX], nv[PANELS_MAX];
    for (int64_t q0 = 0; q0 < np; q0 += PANELS_MAX) {
        int64_t nq = PC_MIN((int64_t)PANELS_MAX, np - q0);
        panels_of(g, p0 + q0, nq, oh, ow0, nv);
        float *dq = dst + q0 * NR * kc;
        kwalk w = kw_start(g, k0);
        for (int64_t t = 0; t < kc; t += 2) {
            kwalk w1 = w;
            kw_next(g, &w1);
            for (int64_t p = 0; p < nq; p++) {
                __m512 lo0, hi0, lo1, hi1;
                prefetch_ahead(g, &w, oh[p], ow0[p], nv[p]);
                prefetch_ahead(g, &w1, oh[p], ow0[p], nv[p]);
                row32(g, row_of(g, &w, oh[p]), ow0[p], nv[p], w.kw, &lo0, &hi0);
                if (t + 1 < kc)
                    row32(g, row_of(g, &w1, oh[p]), ow0[p], nv[p], w1.kw, &lo1, &hi1);
                else
                    lo1 = hi1 = _mm512_setzero_ps();
                float *d = dq + p * NR * kc + (t / 2) * NR;
                _mm512_store_ps(d, pair16(lo0, lo1));
                _mm512_store_ps(d + 16, pair16(hi0, hi1));
            }
            w = w1;
            kw_next(g, &w);
        }
    }
}

void pc_convf_fill_avx512(float *c, const float *r, float bv, int64_t n) {
    const __m512 vb = _mm512_set1_ps(bv);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = (__mmask16)range64(0, n - i);
        __m512 v = r ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, r + i), vb) : vb;
        _mm512_mask_storeu_ps(c + i, m, v);
    }
}

// ---- tail panels -------------------------------------------------------------------------------
// The last A micro-panel of a layer holds Cout mod 14 real rows (128 = 9*14 + 2, 256 = 18*14 + 4,
// 512 = 36*14 + 8); the 14-row kernel would spend a full panel's FMAs on it. ROWS-row variants over the
// same packed A (row stride 14, rows past Cout zero) and B panels, same operation order as kern_14x32
// (acc = fma(a, b, acc) over k, then c = acc or c + acc): bit-identical results, fewer FMAs.
#define A_MR 14
static inline __attribute__((always_inline)) void kern_rows(const int ROWS, int64_t kc, const float *restrict a,
                                                            const float *restrict b, float *restrict c, int64_t ldc,
                                                            float beta, int m, int n) {
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; r++) {
            __m512 t = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(t, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(t, b1, acc[r][1]);
        }
        a += A_MR;
        b += NR;
    }
    __mmask16 mlo = (__mmask16)range64(0, n), mhi = (__mmask16)range64(0, n - 16);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) {
        if (r >= m) break;
        float *cr = c + r * ldc;
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (beta != 0.0f) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mlo, cr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mhi, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, mlo, v0);
        _mm512_mask_storeu_ps(cr + 16, mhi, v1);
    }
}

int pc_convf_kern_tail_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float beta, int m,
                              int n) {
    if (beta != 0.0f && beta != 1.0f) return 0;
    switch (m) {
    case 1:
    case 2: kern_rows(2, kc, a, b, c, ldc, beta, m, n); return 1;
    case 3:
    case 4: kern_rows(4, kc, a, b, c, ldc, beta, m, n); return 1;
    case 5:
    case 6: kern_rows(6, kc, a, b, c, ldc, beta, m, n); return 1;
    case 7:
    case 8: kern_rows(8, kc, a, b, c, ldc, beta, m, n); return 1;
    default: return 0;
    }
}
