// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016) for 3x3 / stride 1 / pad 1 layers, optionally after 2x nearest upsampling: 16 multiplies
// per 2x2 output tile and channel pair instead of 36, so the GEMM work is 2.25x smaller than a direct
// convolution's. Per output tile (rows 2th.., cols 2tw..; input rows 2th-1 .. 2th+2 of up(x)):
//   U = G g G^T (4x4 per (co, ci)),  V = B^T d B (4x4 per (ci, tile)),
//   M[xi] (Cout, tiles) = U[xi] (Cout, Cin) x V[xi] (Cin, tiles)   for the 16 positions xi,
//   y (2x2) = A^T M A + bias + res
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// The 16 GEMMs use the 14x32 AVX-512 micro-kernel (gemm_avx512.c); the input transform writes its
// panels directly (16 tiles per vector), the output transform reads the GEMM tiles back. Tiles of one
// tile-row are grouped in panels of 32, blocks of WINO_PANELS panels per step; the work is split over
// whole panels and each tile's arithmetic does not depend on the split: bit-identical for any thread
// count. Not bit-identical to the direct convolution (different rounding; relative error ~1e-6).
#include "core/conv_fast_internal.h"

#include "core/gemm_internal.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#define NR 32            // tiles per panel (the micro-kernel's column count)
#define WINO_PANELS 4    // panels per block: 128 tiles = 512 output pixels
#define WINO_PF 4        // software prefetch distance, in channels

int pc_convf_wino_ok(const pc_convf_desc *d) {
    return d->k == 3 && d->stride == 1 && d->pad_t == 1 && d->pad_l == 1 && d->pad_b == 1 && d->pad_r == 1 &&
           (d->up == 1 || d->up == 2) && d->Cin >= 16 && d->Cout >= 16;
}

typedef struct wino_plan {
    const pc_gemm_impl *im;
    int bf16;  // U and V rounded to bf16 pairs (gemm_avx512.c's BF16 panel layout), vdpbf16ps kernel
    int64_t Cin, Cout, Mpad, nkb, TH, TW, ppr, OH, OW;
    size_t a_floats, v_floats, c_floats;  // packed U; per thread: V block, GEMM output block
} wino_plan;

static void make_plan(wino_plan *pl, const pc_convf_desc *d, int bf16) {
    memset(pl, 0, sizeof(*pl));
    pl->bf16 = bf16;
    pl->im = bf16 ? pc_gemm_impl_avx512_bf16() : pc_gemm_impl_avx512();
    pl->Cin = d->Cin;
    pl->Cout = d->Cout;
    pl->Mpad = (d->Cout + pl->im->mr - 1) / pl->im->mr * pl->im->mr;
    pl->nkb = (d->Cin + pl->im->kc - 1) / pl->im->kc;
    pl->OH = d->H * d->up;
    pl->OW = d->W * d->up;
    pl->TH = (pl->OH + 1) / 2;
    pl->TW = (pl->OW + 1) / 2;
    pl->ppr = (pl->TW + NR - 1) / NR;
    pl->a_floats = ((size_t)16 * (size_t)(pl->Mpad * d->Cin) + 15) / 16 * 16;
    pl->v_floats = (size_t)16 * (size_t)d->Cin * WINO_PANELS * NR;
    pl->c_floats = (size_t)16 * (size_t)d->Cout * WINO_PANELS * NR;
}

// bf16: one K block only (Cin <= the bf16 kernel's KC), so that channel pairs never straddle blocks.
int pc_convf_wino_bf16_ok(const pc_convf_desc *d) {
    return pc_convf_wino_ok(d) && d->Cin <= pc_gemm_impl_avx512_bf16()->kc;
}

size_t pc_convf_wino_workspace(const pc_convf_desc *d, int bf16, int nthreads) {
    wino_plan pl;
    make_plan(&pl, d, bf16);
    if (nthreads < 1) nthreads = 1;
    return (pl.a_floats + (size_t)nthreads * (pl.v_floats + pl.c_floats)) * sizeof(float) + PC_ALIGN;
}

typedef struct wino_job {
    const wino_plan *pl;
    pc_wt w;
    const float *x, *bias, *res;
    float *y, *apack, *thr;  // thr: per-thread V and C blocks
    int64_t H, W, up;
    atomic_llong next;  // next block of panels to take (see conv_task)
} wino_job;

static inline __mmask16 lanes_in(int64_t lo, int64_t hi) {  // lanes i in [lo, hi) of 16
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
// bf16 panel element (k, r): 16-bit half (k & 1) of 32-bit slot (k / 2) * MR + r.
static inline void bf16_at(float *panel, int64_t k, int r, int MR, uint16_t v) {
    uint16_t h[1] = {v};
    memcpy((char *)panel + (size_t)(((k / 2) * MR + r) * 2 + (k & 1)) * sizeof(uint16_t), h, sizeof(uint16_t));
}

// U[xi] = G g G^T of each (co, ci) 3x3 kernel g, written straight into the micro-kernel's packed A
// layout (as conv_fast.c packs a weight matrix): for xi, K block [k0, k0+kc) and MR panel ir, element
// (ci, r) at apack + xi*Mpad*Cin + Mpad*k0 + ir*kc + (ci - k0)*MR + r; rows past Cout are zero.
static void weights_task(void *ctx, int ith, int nth) {
    const wino_job *j = (const wino_job *)ctx;
    const wino_plan *pl = j->pl;
    const int MR = pl->im->mr;
    const int64_t Cin = pl->Cin, Cout = pl->Cout, xs = pl->Mpad * Cin;
    const float *wf = j->w.dtype == PC_F32 ? (const float *)j->w.data : NULL;
    int64_t pb, pe;
    pc_split_range(pl->Mpad / MR, ith, nth, &pb, &pe);
    for (int64_t pan = pb; pan < pe; pan++) {
        int64_t ir = pan * MR;
        for (int64_t kb = 0; kb < pl->nkb; kb++) {
            int64_t k0, k1;
            pc_split_range(Cin, (int)kb, (int)pl->nkb, &k0, &k1);
            float *blk = j->apack + pl->Mpad * k0 + ir * (k1 - k0);
            if (wf && !pl->bf16 && MR <= 16 && Cin * 9 * MR < ((int64_t)1 << 30)) {
                // f32: the MR rows of the panel as lanes (gathers at stride Cin*9), one masked store per xi
                const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                       _mm512_set1_epi32((int)(Cin * 9)));
                const __mmask16 rows = lanes_in(0, PC_MIN((int64_t)MR, Cout - ir)), st = lanes_in(0, MR);
                const __m512 half = _mm512_set1_ps(0.5f);
                for (int64_t ci = k0; ci < k1; ci++) {
                    const float *g0 = wf + (ir * Cin + ci) * 9;
                    __m512 g[9], t[4][3];
                    for (int q = 0; q < 9; q++)
                        g[q] = rows ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rows, idx, g0 + q, 4)
                                    : _mm512_setzero_ps();
                    for (int c = 0; c < 3; c++) {  // t = G g (4x3), same operation order as the scalar code
                        t[0][c] = g[c];
                        t[1][c] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g[c], g[3 + c]), g[6 + c]));
                        t[2][c] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g[c], g[3 + c]), g[6 + c]));
                        t[3][c] = g[6 + c];
                    }
                    float *dst = blk + (ci - k0) * MR;
                    for (int rr = 0; rr < 4; rr++) {  // U = t G^T (4x4)
                        float *u = dst + (rr * 4) * xs;
                        _mm512_mask_storeu_ps(u, st, t[rr][0]);
                        _mm512_mask_storeu_ps(u + xs, st,
                                              _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(t[rr][0], t[rr][1]), t[rr][2])));
                        _mm512_mask_storeu_ps(u + 2 * xs, st,
                                              _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(t[rr][0], t[rr][1]), t[rr][2])));
                        _mm512_mask_storeu_ps(u + 3 * xs, st, t[rr][2]);
                    }
                }
                continue;
            }
            for (int64_t ci = k0; ci < k1; ci++)
                for (int r = 0; r < MR; r++) {
                    int64_t co = ir + r;
                    float *dst = blk + (ci - k0) * MR + r;
                    if (co >= Cout) {
                        for (int xi = 0; xi < 16; xi++) {
                            if (pl->bf16)
                                bf16_at(blk + xi * xs, ci - k0, r, MR, 0);
                            else
                                dst[xi * xs] = 0.0f;
                        }
                        continue;
                    }
                    float g[9], t[4][3], u[16];
                    int64_t gi = (co * Cin + ci) * 9;
                    for (int q = 0; q < 9; q++) g[q] = wf ? wf[gi + q] : pc_wt_get(j->w, gi + q);
                    for (int c = 0; c < 3; c++) {  // t = G g (4x3)
                        t[0][c] = g[c];
                        t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                        t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                        t[3][c] = g[6 + c];
                    }
                    for (int rr = 0; rr < 4; rr++) {  // U = t G^T (4x4)
                        u[rr * 4 + 0] = t[rr][0];
                        u[rr * 4 + 1] = 0.5f * (t[rr][0] + t[rr][1] + t[rr][2]);
                        u[rr * 4 + 2] = 0.5f * (t[rr][0] - t[rr][1] + t[rr][2]);
                        u[rr * 4 + 3] = t[rr][2];
                    }
                    if (pl->bf16) {
                        for (int xi = 0; xi < 16; xi++) bf16_at(blk + xi * xs, ci - k0, r, MR, pc_f32_to_bf16(u[xi]));
                    } else {
                        for (int xi = 0; xi < 16; xi++) dst[xi * xs] = u[xi];
                    }
                }
            if (pl->bf16 && ((k1 - k0) & 1))  // odd K block: the last pair's high half is zero
                for (int r = 0; r < MR; r++)
                    for (int xi = 0; xi < 16; xi++) bf16_at(blk + xi * xs, k1 - k0, r, MR, 0);
        }
    }
}

static inline const float *fptr(const float *p, int64_t i) {
    return (const float *)(const void *)((uintptr_t)p + (uintptr_t)(i * (int64_t)sizeof(float)));
}

// The 4 input columns (2tw-1 .. 2tw+2 of up(x)) of tiles tw0 .. tw0+15, for one row `row` of x (NULL: zero).
static inline __attribute__((always_inline)) void tile_cols(const float *row, int64_t W, int64_t up, int64_t tw0,
                                                            __m512 d[4]) {
    if (!row) {
        d[0] = d[1] = d[2] = d[3] = _mm512_setzero_ps();
        return;
    }
    if (up == 2) {  // up(x) column u = 2tw - 1 + j -> x column tw + floor((j - 1) / 2)
        __m512 l = _mm512_maskz_loadu_ps(lanes_in(-(tw0 - 1), W - (tw0 - 1)), fptr(row, tw0 - 1));
        __m512 c = _mm512_maskz_loadu_ps(lanes_in(-tw0, W - tw0), fptr(row, tw0));
        __m512 r = _mm512_maskz_loadu_ps(lanes_in(-(tw0 + 1), W - (tw0 + 1)), fptr(row, tw0 + 1));
        d[0] = l;
        d[1] = c;
        d[2] = c;
        d[3] = r;
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t b = 2 * tw0 - 1;  // x column of (tile tw0, j = 0)
    __m512 a0 = _mm512_maskz_loadu_ps(lanes_in(-b, W - b), fptr(row, b));
    __m512 a1 = _mm512_maskz_loadu_ps(lanes_in(-(b + 16), W - (b + 16)), fptr(row, b + 16));
    __m512 c0 = _mm512_maskz_loadu_ps(lanes_in(-(b + 2), W - (b + 2)), fptr(row, b + 2));
    __m512 c1 = _mm512_maskz_loadu_ps(lanes_in(-(b + 18), W - (b + 18)), fptr(row, b + 18));
    d[0] = _mm512_permutex2var_ps(a0, even, a1);
    d[1] = _mm512_permutex2var_ps(a0, odd, a1);
    d[2] = _mm512_permutex2var_ps(c0, even, c1);
    d[3] = _mm512_permutex2var_ps(c0, odd, c1);
}

// Two rows r0, r1 (16 lanes each) -> 16 32-bit slots holding the bf16 pair (r0[i] low, r1[i] high),
// rounded to nearest even (as conv_fast_avx512.c).
static inline __m512 pair16(__m512 r0, __m512 r1) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i h = (__m512i)_mm512_cvtne2ps_pbh(r1, r0);
    return _mm512_castsi512_ps(_mm512_permutexvar_epi16(idx, h));
}

// V block for panels p0 .. p0+np: V[(xi*np + p)*Cin*NR + ci*NR + lane] (k-major panels of the micro-kernel);
// bf16: 32-bit slot (ci/2)*NR + lane holds the pair (ci even, ci + 1).
static void input_transform(const wino_job *j, float *V, int64_t p0, int64_t np) {
    const wino_plan *pl = j->pl;
    const int64_t Cin = pl->Cin, Hu = j->H * j->up, xs = np * Cin * NR;  // xs: stride between xi planes
    for (int64_t p = 0; p < np; p++) {
        int64_t th = (p0 + p) / pl->ppr, twp = ((p0 + p) % pl->ppr) * NR;
        // x columns this panel reads: [c0, c1)
        int64_t c0 = j->up == 1 ? 2 * twp - 1 : twp - 1, c1 = j->up == 1 ? 2 * twp + 2 * NR + 1 : twp + NR + 1;
        c0 = PC_MAX((int64_t)0, c0);
        c1 = PC_MIN(j->W, c1);
        for (int h = 0; h < 2; h++) {
            __m512 prev[16];
            for (int64_t ci = 0; ci < Cin; ci++) {
                const float *rows[4];
                for (int r = 0; r < 4; r++) {
                    int64_t u = 2 * th - 1 + r;  // row of up(x)
                    rows[r] = (u < 0 || u >= Hu) ? NULL : j->x + (ci * j->H + u / j->up) * j->W;
                    // the rows of one channel lie H*W floats apart (no hardware prefetcher follows that)
                    if (h == 0 && rows[r] && ci + WINO_PF < Cin)
                        for (int64_t c = c0 & ~(int64_t)15; c < c1; c += 16)
                            _mm_prefetch((const char *)(rows[r] + WINO_PF * j->H * j->W + c), _MM_HINT_T0);
                }
                __m512 d[4][4], t[4][4], v[16];
                for (int r = 0; r < 4; r++) tile_cols(rows[r], j->W, j->up, twp + 16 * h, d[r]);
                for (int c = 0; c < 4; c++) {  // t = B^T d (over rows)
                    t[0][c] = _mm512_sub_ps(d[0][c], d[2][c]);
                    t[1][c] = _mm512_add_ps(d[1][c], d[2][c]);
                    t[2][c] = _mm512_sub_ps(d[2][c], d[1][c]);
                    t[3][c] = _mm512_sub_ps(d[1][c], d[3][c]);
                }
                for (int r = 0; r < 4; r++) {  // v = t B (over columns)
                    v[r * 4 + 0] = _mm512_sub_ps(t[r][0], t[r][2]);
                    v[r * 4 + 1] = _mm512_add_ps(t[r][1], t[r][2]);
                    v[r * 4 + 2] = _mm512_sub_ps(t[r][2], t[r][1]);
                    v[r * 4 + 3] = _mm512_sub_ps(t[r][1], t[r][3]);
                }
                if (!pl->bf16) {
                    float *base = V + p * Cin * NR + ci * NR + 16 * h;
                    for (int xi = 0; xi < 16; xi++) _mm512_store_ps(base + xi * xs, v[xi]);
                } else if (!(ci & 1) && ci + 1 < Cin) {
                    for (int xi = 0; xi < 16; xi++) prev[xi] = v[xi];
                } else {
                    float *base = V + p * Cin * NR + (ci / 2) * NR + 16 * h;
                    for (int xi = 0; xi < 16; xi++)
                        _mm512_store_ps(base + xi * xs, (ci & 1) ? pair16(prev[xi], v[xi])
                                                                 : pair16(v[xi], _mm512_setzero_ps()));
                }
            }
        }
    }
}

// y tiles of panels p0 .. p0+np from Cs[(xi*Cout + co)*NT + p*NR + lane] (NT = np*NR), + bias + res.
static void output_transform(const wino_job *j, const float *Cs, int64_t p0, int64_t np) {
    const wino_plan *pl = j->pl;
    const int64_t Cout = pl->Cout, NT = np * NR, OH = pl->OH, OW = pl->OW, OHW = OH * OW;
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int64_t p = 0; p < np; p++) {
        int64_t th = (p0 + p) / pl->ppr, twp = ((p0 + p) % pl->ppr) * NR;
        for (int64_t co = 0; co < Cout; co++) {
            __m512 vb = _mm512_set1_ps(j->bias ? j->bias[co] : 0.0f);
            if (co + 2 < Cout)  // the GEMM results of channel co + 2 (16 planes, written long before)
                for (int xi = 0; xi < 16; xi++)
                    _mm_prefetch((const char *)(Cs + (xi * Cout + co + 2) * NT + p * NR), _MM_HINT_T0),
                        _mm_prefetch((const char *)(Cs + (xi * Cout + co + 2) * NT + p * NR + 16), _MM_HINT_T0);
            if (co + WINO_PF < Cout)  // output (and residual) rows WINO_PF channels ahead
                for (int r = 0; r < 2 && 2 * th + r < OH; r++) {
                    int64_t off = (co + WINO_PF) * OHW + (2 * th + r) * OW;
                    for (int64_t c = 2 * twp; c < PC_MIN(OW, 2 * twp + 2 * NR); c += 16) {
                        __builtin_prefetch(j->y + off + c, 1, 3);
                        if (j->res && j->res != j->y) __builtin_prefetch(j->res + off + c, 0, 3);
                    }
                }
            for (int h = 0; h < 2; h++) {
                int64_t tw0 = twp + 16 * h, oc = 2 * tw0;  // first output column
                if (oc >= OW) break;
                __m512 m[16];
                const float *src = Cs + co * NT + p * NR + 16 * h;
                for (int xi = 0; xi < 16; xi++) m[xi] = _mm512_load_ps(src + xi * Cout * NT);
                __m512 t0[4], t1[4];
                for (int c = 0; c < 4; c++) {  // over rows: A^T m
                    t0[c] = _mm512_add_ps(_mm512_add_ps(m[c], m[4 + c]), m[8 + c]);
                    t1[c] = _mm512_sub_ps(_mm512_sub_ps(m[4 + c], m[8 + c]), m[12 + c]);
                }
                __m512 yr[2][2];
                yr[0][0] = _mm512_add_ps(_mm512_add_ps(t0[0], t0[1]), t0[2]);
                yr[0][1] = _mm512_sub_ps(_mm512_sub_ps(t0[1], t0[2]), t0[3]);
                yr[1][0] = _mm512_add_ps(_mm512_add_ps(t1[0], t1[1]), t1[2]);
                yr[1][1] = _mm512_sub_ps(_mm512_sub_ps(t1[1], t1[2]), t1[3]);
                __mmask16 m0 = lanes_in(0, OW - oc), m1 = lanes_in(0, OW - oc - 16);
                for (int r = 0; r < 2; r++) {
                    int64_t oh = 2 * th + r;
                    if (oh >= OH) break;
                    int64_t off = co * OHW + oh * OW + oc;
                    __m512 v0 = _mm512_add_ps(_mm512_permutex2var_ps(yr[r][0], lo_idx, yr[r][1]), vb);
                    __m512 v1 = _mm512_add_ps(_mm512_permutex2var_ps(yr[r][0], hi_idx, yr[r][1]), vb);
                    if (j->res) {
                        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, j->res + off));
                        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, fptr(j->res + off, 16)));
                    }
                    _mm512_mask_storeu_ps(j->y + off, m0, v0);
                    _mm512_mask_storeu_ps((float *)(uintptr_t)fptr(j->y + off, 16), m1, v1);
                }
            }
        }
    }
}

static void conv_task(void *ctx, int ith, int nth) {
    (void)nth;
    wino_job *j = (wino_job *)ctx;
    const wino_plan *pl = j->pl;
    const pc_gemm_impl *im = pl->im;
    const int MR = im->mr;
    const int64_t Cin = pl->Cin, Cout = pl->Cout;
    float *V = j->thr + (size_t)ith * (pl->v_floats + pl->c_floats), *Cs = V + pl->v_floats;
    // Blocks of WINO_PANELS panels come from a shared counter: a thread slowed by other work on the
    // machine takes fewer; each tile's arithmetic is the same whichever thread computes it.
    const int64_t pe = pl->TH * pl->ppr, nblk = (pe + WINO_PANELS - 1) / WINO_PANELS;
    for (;;) {
        int64_t blk = (int64_t)atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (blk >= nblk) break;
        int64_t p0 = blk * WINO_PANELS, np = PC_MIN((int64_t)WINO_PANELS, pe - p0), NT = np * NR;
        input_transform(j, V, p0, np);
        for (int xi = 0; xi < 16; xi++) {
            const float *Vx = V + xi * np * Cin * NR;
            const float *Ax = j->apack + xi * pl->Mpad * Cin;
            float *Cx = Cs + xi * Cout * NT;
            for (int64_t kb = 0; kb < pl->nkb; kb++) {
                int64_t k0, k1;
                pc_split_range(Cin, (int)kb, (int)pl->nkb, &k0, &k1);
                int64_t kc = k1 - k0;
                float beta = kb == 0 ? 0.0f : 1.0f;
                const float *ab = Ax + pl->Mpad * k0;
                for (int64_t ir = 0; ir < Cout; ir += MR) {
                    int mv = (int)PC_MIN((int64_t)MR, Cout - ir);
                    const float *a = ab + ir * kc;
                    for (int64_t p = 0; p < np; p++) {
                        const float *bpn = Vx + p * Cin * NR + (pl->bf16 ? k0 / 2 : k0) * NR;  // bf16: k0 = 0
                        float *c = Cx + ir * NT + p * NR;
                        if (pl->bf16 || !(mv < MR && pc_convf_kern_tail_avx512(kc, a, bpn, c, NT, beta, mv, NR)))
                            im->kern(kc, a, bpn, c, NT, 1.0f, beta, NULL, mv, NR);
                    }
                }
            }
        }
        output_transform(j, Cs, p0, np);
    }
}

void pc_convf_wino_run(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                       const pc_convf_desc *d, int bf16, void *ws) {
    wino_plan pl;
    make_plan(&pl, d, bf16);
    float *base = (float *)(((uintptr_t)ws + PC_ALIGN - 1) & ~(uintptr_t)(PC_ALIGN - 1));
    wino_job j;
    memset(&j, 0, sizeof(j));
    j.pl = &pl;
    j.w = w;
    j.x = x;
    j.bias = bias;
    j.res = res;
    j.y = y;
    j.apack = base;
    j.thr = base + pl.a_floats;
    j.H = d->H;
    j.W = d->W;
    j.up = d->up;
    atomic_init(&j.next, 0);
    pc_pool_run(pool, weights_task, &j);
    pc_pool_run(pool, conv_task, &j);
}
