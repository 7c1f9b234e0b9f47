// AVX2+FMA twin of pc_ga_edge_side_ref (global_align.c) on the fused block layout (x16 y16 z16 w16 per block):
// two 8-lane halves per block, no shuffles; per-lane float accumulators folded into double every 32 blocks
// (256 pixels per lane group, fixed order: deterministic). sqrt and division are exact IEEE ops here, as in the
// reference. Built with -mavx2 -mfma (file name suffix); only called when pc_cpu_has_avx2_fma().
#include <immintrin.h>
#include <math.h>

#include "core/common.h"
#include "geometry/global_align_internal.h"

static inline double hsum8(__m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    return ((double)t[0] + t[1]) + ((double)t[2] + t[3]) + (((double)t[4] + t[5]) + ((double)t[6] + t[7]));
}

double pc_ga_edge_side_avx2(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                            float scale, int with_grad, double *gA) {
    const float *X0 = X, *X1 = X + stride, *X2 = X + 2 * stride;
    float *G0 = gX, *G1 = gX + stride, *G2 = gX + 2 * stride;
    const __m256 a0 = _mm256_set1_ps(A[0]), a1 = _mm256_set1_ps(A[1]), a2 = _mm256_set1_ps(A[2]);
    const __m256 a3 = _mm256_set1_ps(A[3]), a4 = _mm256_set1_ps(A[4]), a5 = _mm256_set1_ps(A[5]);
    const __m256 a6 = _mm256_set1_ps(A[6]), a7 = _mm256_set1_ps(A[7]), a8 = _mm256_set1_ps(A[8]);
    const __m256 b0 = _mm256_set1_ps(A[9]), b1 = _mm256_set1_ps(A[10]), b2 = _mm256_set1_ps(A[11]);
    const __m256 vs = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
    double loss = 0;
    const int64_t n = nblk * 2; // 8-lane steps
    int64_t q = 0;
    while (q < n) {
        int64_t qe = PC_MIN(n, q + 32);
        __m256 ls = zero;
        __m256 s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero;
        __m256 s6 = zero, s7 = zero, s8 = zero, s9 = zero, s10 = zero, s11 = zero;
        for (; q < qe; q++) {
            const float *f = F + (q >> 1) * (PC_GA_BLK * 4) + (q & 1) * 8;
            const int64_t p = q * 8;
            __m256 px = _mm256_loadu_ps(f), py = _mm256_loadu_ps(f + PC_GA_BLK);
            __m256 pz = _mm256_loadu_ps(f + 2 * PC_GA_BLK), wn = _mm256_loadu_ps(f + 3 * PC_GA_BLK);
            __m256 qx = _mm256_fmadd_ps(a0, px, _mm256_fmadd_ps(a1, py, _mm256_fmadd_ps(a2, pz, b0)));
            __m256 qy = _mm256_fmadd_ps(a3, px, _mm256_fmadd_ps(a4, py, _mm256_fmadd_ps(a5, pz, b1)));
            __m256 qz = _mm256_fmadd_ps(a6, px, _mm256_fmadd_ps(a7, py, _mm256_fmadd_ps(a8, pz, b2)));
            __m256 rx = _mm256_sub_ps(_mm256_loadu_ps(X0 + p), qx);
            __m256 ry = _mm256_sub_ps(_mm256_loadu_ps(X1 + p), qy);
            __m256 rz = _mm256_sub_ps(_mm256_loadu_ps(X2 + p), qz);
            __m256 n2 = _mm256_fmadd_ps(rx, rx, _mm256_fmadd_ps(ry, ry, _mm256_mul_ps(rz, rz)));
            __m256 nrm = _mm256_sqrt_ps(n2);
            ls = _mm256_fmadd_ps(nrm, wn, ls);
            if (!with_grad) continue;
            __m256 g = _mm256_div_ps(_mm256_mul_ps(wn, vs), nrm);
            g = _mm256_and_ps(g, _mm256_cmp_ps(nrm, zero, _CMP_GT_OQ));
            __m256 gx = _mm256_mul_ps(g, rx), gy = _mm256_mul_ps(g, ry), gz = _mm256_mul_ps(g, rz);
            if (with_grad == 2) { // first edge side of this tile: overwrite dL/dX
                _mm256_storeu_ps(G0 + p, gx);
                _mm256_storeu_ps(G1 + p, gy);
                _mm256_storeu_ps(G2 + p, gz);
            } else {
                _mm256_storeu_ps(G0 + p, _mm256_add_ps(_mm256_loadu_ps(G0 + p), gx));
                _mm256_storeu_ps(G1 + p, _mm256_add_ps(_mm256_loadu_ps(G1 + p), gy));
                _mm256_storeu_ps(G2 + p, _mm256_add_ps(_mm256_loadu_ps(G2 + p), gz));
            }
            s0 = _mm256_fmadd_ps(gx, px, s0);
            s1 = _mm256_fmadd_ps(gx, py, s1);
            s2 = _mm256_fmadd_ps(gx, pz, s2);
            s3 = _mm256_add_ps(gx, s3);
            s4 = _mm256_fmadd_ps(gy, px, s4);
            s5 = _mm256_fmadd_ps(gy, py, s5);
            s6 = _mm256_fmadd_ps(gy, pz, s6);
            s7 = _mm256_add_ps(gy, s7);
            s8 = _mm256_fmadd_ps(gz, px, s8);
            s9 = _mm256_fmadd_ps(gz, py, s9);
            s10 = _mm256_fmadd_ps(gz, pz, s10);
            s11 = _mm256_add_ps(gz, s11);
        }
        loss += hsum8(ls);
        if (with_grad) {
            gA[0] -= hsum8(s0), gA[1] -= hsum8(s1), gA[2] -= hsum8(s2), gA[3] -= hsum8(s3);
            gA[4] -= hsum8(s4), gA[5] -= hsum8(s5), gA[6] -= hsum8(s6), gA[7] -= hsum8(s7);
            gA[8] -= hsum8(s8), gA[9] -= hsum8(s9), gA[10] -= hsum8(s10), gA[11] -= hsum8(s11);
        }
    }
    return loss;
}
