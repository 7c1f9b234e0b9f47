// AVX-512 twin of pc_ga_edge_side_ref (global_align.c) on the fused block layout: one block (16 pixels:
// x16 y16 z16 w16) per step, 4 aligned loads, no shuffles, all constants and the 13 accumulators in registers,
// software prefetch PF_DIST blocks ahead (the loop is bound by the edge-data stream: measured 25 -> 17 ms per
// 352 MB pass). |r| and w/|r| use exact sqrt and divide as the reference (vrsqrt14 + Newton measured no faster
// and drifts by ulps). Lanes with |r| = 0 get a zero gradient, as autograd's norm backward. Per-lane float
// accumulators are folded into double every 32 blocks (fixed order: deterministic).
// Built with -mavx512f... (file name suffix); only called when pc_cpu_has_avx512f().
#include <immintrin.h>

#include "core/common.h"
#include "geometry/global_align_internal.h"

#ifndef PF_DIST
#define PF_DIST 32
#endif

static inline double hsum16(__m512 v) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

double pc_ga_edge_side_avx512(const float *X, float *gX, int64_t stride, const float *F, const float *A,
                              int64_t nblk, float scale, int with_grad, double *gA) {
    const float *X0 = X, *X1 = X + stride, *X2 = X + 2 * stride;
    float *G0 = gX, *G1 = gX + stride, *G2 = gX + 2 * stride;
    const __m512 a0 = _mm512_set1_ps(A[0]), a1 = _mm512_set1_ps(A[1]), a2 = _mm512_set1_ps(A[2]);
    const __m512 a3 = _mm512_set1_ps(A[3]), a4 = _mm512_set1_ps(A[4]), a5 = _mm512_set1_ps(A[5]);
    const __m512 a6 = _mm512_set1_ps(A[6]), a7 = _mm512_set1_ps(A[7]), a8 = _mm512_set1_ps(A[8]);
    const __m512 b0 = _mm512_set1_ps(A[9]), b1 = _mm512_set1_ps(A[10]), b2 = _mm512_set1_ps(A[11]);
    const __m512 vs = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
    double loss = 0;
    int64_t q = 0;
    while (q < nblk) {
        int64_t qe = PC_MIN(nblk, q + 32);
        __m512 ls = zero;
        __m512 s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero;
        __m512 s6 = zero, s7 = zero, s8 = zero, s9 = zero, s10 = zero, s11 = zero;
        for (; q < qe; q++) {
            const float *f = F + q * (PC_GA_BLK * 4);
            const int64_t p = q * PC_GA_BLK;
            // the fused stream continues linearly into the next call: fetch PF_DIST blocks ahead (a hint;
            // never faults past the end)
            _mm_prefetch((const char *)(f + PF_DIST * PC_GA_BLK * 4), _MM_HINT_T0);
            _mm_prefetch((const char *)(f + PF_DIST * PC_GA_BLK * 4 + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(f + PF_DIST * PC_GA_BLK * 4 + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(f + PF_DIST * PC_GA_BLK * 4 + 48), _MM_HINT_T0);
            __m512 px = _mm512_loadu_ps(f), py = _mm512_loadu_ps(f + PC_GA_BLK);
            __m512 pz = _mm512_loadu_ps(f + 2 * PC_GA_BLK), wn = _mm512_loadu_ps(f + 3 * PC_GA_BLK);
            __m512 qx = _mm512_fmadd_ps(a0, px, _mm512_fmadd_ps(a1, py, _mm512_fmadd_ps(a2, pz, b0)));
            __m512 qy = _mm512_fmadd_ps(a3, px, _mm512_fmadd_ps(a4, py, _mm512_fmadd_ps(a5, pz, b1)));
            __m512 qz = _mm512_fmadd_ps(a6, px, _mm512_fmadd_ps(a7, py, _mm512_fmadd_ps(a8, pz, b2)));
            __m512 rx = _mm512_sub_ps(_mm512_loadu_ps(X0 + p), qx);
            __m512 ry = _mm512_sub_ps(_mm512_loadu_ps(X1 + p), qy);
            __m512 rz = _mm512_sub_ps(_mm512_loadu_ps(X2 + p), qz);
            __m512 n2 = _mm512_fmadd_ps(rx, rx, _mm512_fmadd_ps(ry, ry, _mm512_mul_ps(rz, rz)));
            __m512 nrm = _mm512_sqrt_ps(n2);
            ls = _mm512_fmadd_ps(nrm, wn, ls);
            if (!with_grad) continue;
            __mmask16 nz = _mm512_cmp_ps_mask(nrm, zero, _CMP_GT_OQ);
            __m512 g = _mm512_maskz_div_ps(nz, _mm512_mul_ps(wn, vs), nrm);
            __m512 gx = _mm512_mul_ps(g, rx), gy = _mm512_mul_ps(g, ry), gz = _mm512_mul_ps(g, rz);
            if (with_grad == 2) { // first edge side of this tile: overwrite dL/dX
                _mm512_storeu_ps(G0 + p, gx);
                _mm512_storeu_ps(G1 + p, gy);
                _mm512_storeu_ps(G2 + p, gz);
            } else {
                _mm512_storeu_ps(G0 + p, _mm512_add_ps(_mm512_loadu_ps(G0 + p), gx));
                _mm512_storeu_ps(G1 + p, _mm512_add_ps(_mm512_loadu_ps(G1 + p), gy));
                _mm512_storeu_ps(G2 + p, _mm512_add_ps(_mm512_loadu_ps(G2 + p), gz));
            }
            s0 = _mm512_fmadd_ps(gx, px, s0);
            s1 = _mm512_fmadd_ps(gx, py, s1);
            s2 = _mm512_fmadd_ps(gx, pz, s2);
            s3 = _mm512_add_ps(gx, s3);
            s4 = _mm512_fmadd_ps(gy, px, s4);
            s5 = _mm512_fmadd_ps(gy, py, s5);
            s6 = _mm512_fmadd_ps(gy, pz, s6);
            s7 = _mm512_add_ps(gy, s7);
            s8 = _mm512_fmadd_ps(gz, px, s8);
            s9 = _mm512_fmadd_ps(gz, py, s9);
            s10 = _mm512_fmadd_ps(gz, pz, s10);
            s11 = _mm512_add_ps(gz, s11);
        }
        loss += hsum16(ls);
        if (with_grad) {
            gA[0] -= hsum16(s0), gA[1] -= hsum16(s1), gA[2] -= hsum16(s2), gA[3] -= hsum16(s3);
            gA[4] -= hsum16(s4), gA[5] -= hsum16(s5), gA[6] -= hsum16(s6), gA[7] -= hsum16(s7);
            gA[8] -= hsum16(s8), gA[9] -= hsum16(s9), gA[10] -= hsum16(s10), gA[11] -= hsum16(s11);
        }
    }
    return loss;
}

// Twin of points_row_ref (global_align.c): world points of one row segment of n pixels, u = u0 .. u0+n-1.
// Same operations in the same order (no FMA contraction under -std=c11): bitwise equal to the reference.
void pc_ga_points_row_avx512(float *X0, float *X1, float *X2, const float *D, int64_t n, int u0, float v,
                             const float *R, const float *T, float f, float cx, float cy) {
    const __m512 vf = _mm512_set1_ps(f), vcx = _mm512_set1_ps(cx), vyv = _mm512_set1_ps(v - cy);
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 d = _mm512_maskz_loadu_ps(m, D + i);
        __m512 u = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_set1_epi32(u0 + (int)i)), iota);
        __m512 xc = _mm512_div_ps(_mm512_mul_ps(d, _mm512_sub_ps(u, vcx)), vf);
        __m512 yc = _mm512_div_ps(_mm512_mul_ps(d, vyv), vf), zc = d;
        for (int r = 0; r < 3; r++) {
            __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(R[r * 3]), xc), _mm512_mul_ps(_mm512_set1_ps(R[r * 3 + 1]), yc));
            x = _mm512_add_ps(_mm512_add_ps(x, _mm512_mul_ps(_mm512_set1_ps(R[r * 3 + 2]), zc)), _mm512_set1_ps(T[r]));
            _mm512_mask_storeu_ps((r == 0 ? X0 : r == 1 ? X1 : X2) + i, m, x);
        }
    }
}

// Twin of views_row_ref: dL/d(depth param) of one row segment (written to gd) and the 13 per-view sums
// (added to acc; float per lane, folded into double every 16 blocks).
void pc_ga_views_row_avx512(float *gd, double *acc, const float *D, const float *gX0, const float *gX1,
                            const float *gX2, int64_t n, int u0, float v, const float *R, float f, float cx,
                            float cy) {
    const __m512 vf = _mm512_set1_ps(f), vcx = _mm512_set1_ps(cx), vyv = _mm512_set1_ps(v - cy);
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 r0 = _mm512_set1_ps(R[0]), r1 = _mm512_set1_ps(R[1]), r2 = _mm512_set1_ps(R[2]);
    __m512 r3 = _mm512_set1_ps(R[3]), r4 = _mm512_set1_ps(R[4]), r5 = _mm512_set1_ps(R[5]);
    __m512 r6 = _mm512_set1_ps(R[6]), r7 = _mm512_set1_ps(R[7]), r8 = _mm512_set1_ps(R[8]);
    int64_t i = 0;
    while (i < n) {
        int64_t ie = PC_MIN(n, i + 256);
        __m512 s[13];
        for (int q = 0; q < 13; q++) s[q] = _mm512_setzero_ps();
        for (; i < ie; i += 16) {
            __mmask16 m = ie - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ie - i)) - 1);
            __m512 d = _mm512_maskz_loadu_ps(m, D + i);
            __m512 u = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_set1_epi32(u0 + (int)i)), iota);
            __m512 xc = _mm512_div_ps(_mm512_mul_ps(d, _mm512_sub_ps(u, vcx)), vf);
            __m512 yc = _mm512_div_ps(_mm512_mul_ps(d, vyv), vf), zc = d;
            __m512 gx = _mm512_maskz_loadu_ps(m, gX0 + i), gy = _mm512_maskz_loadu_ps(m, gX1 + i);
            __m512 gz = _mm512_maskz_loadu_ps(m, gX2 + i);
            __m512 hx = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(r0, gx), _mm512_mul_ps(r3, gy)), _mm512_mul_ps(r6, gz));
            __m512 hy = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(r1, gx), _mm512_mul_ps(r4, gy)), _mm512_mul_ps(r7, gz));
            __m512 hz = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(r2, gx), _mm512_mul_ps(r5, gy)), _mm512_mul_ps(r8, gz));
            __m512 hxy = _mm512_add_ps(_mm512_mul_ps(hx, xc), _mm512_mul_ps(hy, yc));
            _mm512_mask_storeu_ps(gd + i, m, _mm512_add_ps(hxy, _mm512_mul_ps(hz, zc)));
            // masked-off lanes hold zeros (maskz loads), so they add nothing below
            s[0] = _mm512_fmadd_ps(gx, xc, s[0]); s[1] = _mm512_fmadd_ps(gx, yc, s[1]); s[2] = _mm512_fmadd_ps(gx, zc, s[2]);
            s[3] = _mm512_fmadd_ps(gy, xc, s[3]); s[4] = _mm512_fmadd_ps(gy, yc, s[4]); s[5] = _mm512_fmadd_ps(gy, zc, s[5]);
            s[6] = _mm512_fmadd_ps(gz, xc, s[6]); s[7] = _mm512_fmadd_ps(gz, yc, s[7]); s[8] = _mm512_fmadd_ps(gz, zc, s[8]);
            s[9] = _mm512_add_ps(s[9], gx); s[10] = _mm512_add_ps(s[10], gy); s[11] = _mm512_add_ps(s[11], gz);
            s[12] = _mm512_add_ps(s[12], hxy);
        }
        for (int q = 0; q < 13; q++) acc[q] += hsum16(s[q]);
    }
}

// Twin of the Adam loop in pc_align_step (torch 1.13 single-tensor Adam): the same float operations in the same
// order, so bitwise equal to it.
void pc_ga_adam_avx512(float *P, float *M1, float *M2, const float *G, int64_t n, float b1, float b2,
                       float step_size, float bc2_sqrt) {
    const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), c1 = _mm512_set1_ps(1 - b1);
    const __m512 c2 = _mm512_set1_ps(1 - b2), vss = _mm512_set1_ps(-step_size), vbc = _mm512_set1_ps(bc2_sqrt);
    const __m512 eps = _mm512_set1_ps(1e-8f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 g = _mm512_maskz_loadu_ps(m, G + i);
        __m512 m1 = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, M1 + i), vb1), _mm512_mul_ps(g, c1));
        __m512 m2 = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, M2 + i), vb2),
                                  _mm512_mul_ps(_mm512_mul_ps(g, g), c2));
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(m2), vbc), eps);
        __m512 p = _mm512_add_ps(_mm512_maskz_loadu_ps(m, P + i), _mm512_mul_ps(vss, _mm512_div_ps(m1, den)));
        _mm512_mask_storeu_ps(M1 + i, m, m1);
        _mm512_mask_storeu_ps(M2 + i, m, m2);
        _mm512_mask_storeu_ps(P + i, m, p);
    }
}

// y = exp(x) for n floats (the depth maps, dust3r: exp of the log-depth params): Cody-Waite reduction
// x = n ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial (truncation < 5e-9 relative), 2^n by vscalefps.
// Measured within 1 ulp of glibc expf over 2M points in [-100, 100] (the reference phase uses libm expf);
// NaN stays NaN, overflow gives inf, underflow 0.
void pc_ga_exp_avx512(float *y, const float *x, int64_t n) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f), ln2hi = _mm512_set1_ps(0.693359375f);
    const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f), lo = _mm512_set1_ps(-104.0f), hi = _mm512_set1_ps(89.0f);
    const __m512 c7 = _mm512_set1_ps(1.0f / 5040), c6 = _mm512_set1_ps(1.0f / 720), c5 = _mm512_set1_ps(1.0f / 120);
    const __m512 c4 = _mm512_set1_ps(1.0f / 24), c3 = _mm512_set1_ps(1.0f / 6), c2 = _mm512_set1_ps(0.5f);
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        __m512 xc = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(k, ln2hi, xc);
        r = _mm512_fnmadd_ps(k, ln2lo, r);
        __m512 p = _mm512_fmadd_ps(c7, r, c6);
        p = _mm512_fmadd_ps(p, r, c5);
        p = _mm512_fmadd_ps(p, r, c4);
        p = _mm512_fmadd_ps(p, r, c3);
        p = _mm512_fmadd_ps(p, r, c2);
        p = _mm512_fmadd_ps(p, r, one);
        p = _mm512_fmadd_ps(p, r, one);
        __m512 out = _mm512_mask_mov_ps(_mm512_scalef_ps(p, k), nan, v);
        _mm512_mask_storeu_ps(y + i, m, out);
    }
}
