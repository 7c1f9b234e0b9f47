// The global alignment's fast kernels (twins of the plain references in global_align.c), written once over
// the vector layer (core/vec.h): an include-only template (like core/gemm_pack.h) that global_align_avx2.c
// (8 lanes) and global_align_avx512.c (16 lanes) compile with their ISA flags:
//   edge_side  the loss / gradient of one edge side on the fused block layout (x16 y16 z16 w16 per block):
//              PC_VW lanes per step, per-lane float accumulators folded into double every 32 steps (fixed
//              order: deterministic), software prefetch 32 blocks ahead (the loop is bound by the edge-data
//              stream). |r| and w/|r| are exact sqrt and divide as in the reference; lanes with |r| = 0 get a
//              zero gradient, as autograd's norm backward.
//   points_row world points of one row segment: the reference's operations in its order (no FMA contraction
//              under -std=c11), so bitwise equal to it.
//   adam       torch 1.13's single-tensor Adam: the reference's float operations, bitwise equal to it.
//   views_row, exp (16 lanes only; the 8-lane build keeps the references there, so AVX2 results stay
//              bitwise those of the reference): the per-view sums folded into double every 16 blocks, and
//              exp within 1 ulp of libm's.
#ifndef PC_VW
#error "global_align_vec.h is included by global_align_avx2.c / global_align_avx512.c only"
#endif

#include "align/global_align_internal.h"
#include "core/common.h"
#include "core/vec.h"

// Lane sum in double, in the order the earlier intrinsics builds used (so their results are kept bit for bit).
static inline double hsum_d(vf v) {
#if PC_VW == 16  // _mm512_cvtps_pd halves, then _mm512_reduce_add_pd's tree
    double t[8];
    for (int i = 0; i < 8; i++) t[i] = (double)v[i] + (double)v[i + 8];
    const double u0 = t[4] + t[0], u1 = t[5] + t[1], u2 = t[6] + t[2], u3 = t[7] + t[3];
    return (u2 + u0) + (u3 + u1);
#elif PC_VW == 8
    return ((double)v[0] + v[1]) + ((double)v[2] + v[3]) + (((double)v[4] + v[5]) + ((double)v[6] + v[7]));
#else
    double s = 0;
    for (int i = 0; i < PC_VW; i++) s += v[i];
    return s;
#endif
}

// The first n (< PC_VW) lanes from p, zeros elsewhere / the first n lanes to p.
static inline vf ld_n(const float *p, int64_t n) {
    float t[PC_VW] = {0};
    memcpy(t, p, (size_t)n * sizeof(float));
    return ld(t);
}
static inline void st_n(float *p, vf v, int64_t n) {
    float t[PC_VW];
    st(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
static inline vf iota(void) {
    vf r;
    for (int i = 0; i < PC_VW; i++) r[i] = (float)i;
    return r;
}

double VNAME(pc_ga_edge_side)(const float *X, float *gX, int64_t stride, const float *F, const float *A, int64_t nblk,
                              float scale, int with_grad, double *gA) {
    const float *X0 = X, *X1 = X + stride, *X2 = X + 2 * stride;
    float *G0 = gX, *G1 = gX + stride, *G2 = gX + 2 * stride;
    const vf a0 = splat(A[0]), a1 = splat(A[1]), a2 = splat(A[2]), a3 = splat(A[3]), a4 = splat(A[4]);
    const vf a5 = splat(A[5]), a6 = splat(A[6]), a7 = splat(A[7]), a8 = splat(A[8]);
    const vf b0 = splat(A[9]), b1 = splat(A[10]), b2 = splat(A[11]), vs = splat(scale), zero = splat(0);
    const int per_blk = PC_GA_BLK / PC_VW;  // steps per 16-pixel block
    const int64_t n = nblk * per_blk;
    double loss = 0;
    int64_t q = 0;
    while (q < n) {
        const int64_t qe = PC_MIN(n, q + 32);
        vf ls = zero, s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero;
        vf s6 = zero, s7 = zero, s8 = zero, s9 = zero, s10 = zero, s11 = zero;
        for (; q < qe; q++) {
            const float *f = F + (q / per_blk) * (PC_GA_BLK * 4) + (q % per_blk) * PC_VW;
            const int64_t p = q * PC_VW;
            if (q % per_blk == 0) {  // a hint, never faults past the end: the stream continues into the next call
                const char *pf = (const char *)(f + 32 * PC_GA_BLK * 4);
                __builtin_prefetch(pf), __builtin_prefetch(pf + 64), __builtin_prefetch(pf + 128), __builtin_prefetch(pf + 192);
            }
            const vf px = ld(f), py = ld(f + PC_GA_BLK), pz = ld(f + 2 * PC_GA_BLK), wn = ld(f + 3 * PC_GA_BLK);
            const vf qx = vfma(a0, px, vfma(a1, py, vfma(a2, pz, b0)));
            const vf qy = vfma(a3, px, vfma(a4, py, vfma(a5, pz, b1)));
            const vf qz = vfma(a6, px, vfma(a7, py, vfma(a8, pz, b2)));
            const vf rx = ld(X0 + p) - qx, ry = ld(X1 + p) - qy, rz = ld(X2 + p) - qz;
            const vf nrm = vsqrt(vfma(rx, rx, vfma(ry, ry, rz * rz)));
            ls = vfma(nrm, wn, ls);
            if (!with_grad) continue;
            const vf g = vsel(nrm > zero, (wn * vs) / nrm, zero);
            const vf gx = g * rx, gy = g * ry, gz = g * rz;
            if (with_grad == 2) {  // the first edge side of this tile: overwrite dL/dX
                st(G0 + p, gx), st(G1 + p, gy), st(G2 + p, gz);
            } else {
                st(G0 + p, ld(G0 + p) + gx), st(G1 + p, ld(G1 + p) + gy), st(G2 + p, ld(G2 + p) + gz);
            }
            s0 = vfma(gx, px, s0), s1 = vfma(gx, py, s1), s2 = vfma(gx, pz, s2), s3 = gx + s3;
            s4 = vfma(gy, px, s4), s5 = vfma(gy, py, s5), s6 = vfma(gy, pz, s6), s7 = gy + s7;
            s8 = vfma(gz, px, s8), s9 = vfma(gz, py, s9), s10 = vfma(gz, pz, s10), s11 = gz + s11;
        }
        loss += hsum_d(ls);
        if (with_grad) {
            gA[0] -= hsum_d(s0), gA[1] -= hsum_d(s1), gA[2] -= hsum_d(s2), gA[3] -= hsum_d(s3);
            gA[4] -= hsum_d(s4), gA[5] -= hsum_d(s5), gA[6] -= hsum_d(s6), gA[7] -= hsum_d(s7);
            gA[8] -= hsum_d(s8), gA[9] -= hsum_d(s9), gA[10] -= hsum_d(s10), gA[11] -= hsum_d(s11);
        }
    }
    return loss;
}

void VNAME(pc_ga_points_row)(float *X0, float *X1, float *X2, const float *D, int64_t n, int u0, float v,
                             const float *R, const float *T, float f, float cx, float cy) {
    const vf vfoc = splat(f), vcx = splat(cx), vyv = splat(v - cy), io = iota();
    for (int64_t i = 0; i < n; i += PC_VW) {
        const int64_t m = PC_MIN((int64_t)PC_VW, n - i);
        const vf d = m == PC_VW ? ld(D + i) : ld_n(D + i, m);
        const vf u = splat((float)(u0 + (int)i)) + io;
        const vf xc = (d * (u - vcx)) / vfoc, yc = (d * vyv) / vfoc, zc = d;
        float *out[3] = {X0 + i, X1 + i, X2 + i};
        for (int r = 0; r < 3; r++) {
            const vf x = ((splat(R[r * 3]) * xc + splat(R[r * 3 + 1]) * yc) + splat(R[r * 3 + 2]) * zc) + splat(T[r]);
            if (m == PC_VW) st(out[r], x);
            else st_n(out[r], x, m);
        }
    }
}

void VNAME(pc_ga_adam)(float *P, float *M1, float *M2, const float *G, int64_t n, float b1, float b2, float step_size,
                       float bc2_sqrt) {
    const vf vb1 = splat(b1), vb2 = splat(b2), c1 = splat(1 - b1), c2 = splat(1 - b2), vss = splat(-step_size);
    const vf vbc = splat(bc2_sqrt), eps = splat(1e-8f);
    for (int64_t i = 0; i < n; i += PC_VW) {
        const int64_t m = PC_MIN((int64_t)PC_VW, n - i);
        const int full = m == PC_VW;
        const vf g = full ? ld(G + i) : ld_n(G + i, m);
        const vf m1 = (full ? ld(M1 + i) : ld_n(M1 + i, m)) * vb1 + g * c1;
        const vf m2 = (full ? ld(M2 + i) : ld_n(M2 + i, m)) * vb2 + (g * g) * c2;
        const vf den = vsqrt(m2) / vbc + eps;
        const vf p = (full ? ld(P + i) : ld_n(P + i, m)) + vss * (m1 / den);
        if (full) st(M1 + i, m1), st(M2 + i, m2), st(P + i, p);
        else st_n(M1 + i, m1, m), st_n(M2 + i, m2, m), st_n(P + i, p, m);
    }
}

#if PC_VW == 16
void VNAME(pc_ga_views_row)(float *gd, double *acc, const float *D, const float *gX0, const float *gX1,
                            const float *gX2, int64_t n, int u0, float v, const float *R, float f, float cx, float cy) {
    const vf vfoc = splat(f), vcx = splat(cx), vyv = splat(v - cy), io = iota();
    const vf r0 = splat(R[0]), r1 = splat(R[1]), r2 = splat(R[2]), r3 = splat(R[3]), r4 = splat(R[4]);
    const vf r5 = splat(R[5]), r6 = splat(R[6]), r7 = splat(R[7]), r8 = splat(R[8]);
    int64_t i = 0;
    while (i < n) {
        const int64_t ie = PC_MIN(n, i + 256);
        vf s[13];
        for (int q = 0; q < 13; q++) s[q] = splat(0);
        for (; i < ie; i += PC_VW) {
            const int64_t m = PC_MIN((int64_t)PC_VW, ie - i);
            const int full = m == PC_VW;
            // masked-off lanes load zeros, so they add nothing below
            const vf d = full ? ld(D + i) : ld_n(D + i, m);
            const vf u = splat((float)(u0 + (int)i)) + io;
            const vf xc = (d * (u - vcx)) / vfoc, yc = (d * vyv) / vfoc, zc = d;
            const vf gx = full ? ld(gX0 + i) : ld_n(gX0 + i, m), gy = full ? ld(gX1 + i) : ld_n(gX1 + i, m);
            const vf gz = full ? ld(gX2 + i) : ld_n(gX2 + i, m);
            const vf hx = (r0 * gx + r3 * gy) + r6 * gz, hy = (r1 * gx + r4 * gy) + r7 * gz, hz = (r2 * gx + r5 * gy) + r8 * gz;
            const vf hxy = hx * xc + hy * yc, out = hxy + hz * zc;
            if (full) st(gd + i, out);
            else st_n(gd + i, out, m);
            s[0] = vfma(gx, xc, s[0]), s[1] = vfma(gx, yc, s[1]), s[2] = vfma(gx, zc, s[2]);
            s[3] = vfma(gy, xc, s[3]), s[4] = vfma(gy, yc, s[4]), s[5] = vfma(gy, zc, s[5]);
            s[6] = vfma(gz, xc, s[6]), s[7] = vfma(gz, yc, s[7]), s[8] = vfma(gz, zc, s[8]);
            s[9] = s[9] + gx, s[10] = s[10] + gy, s[11] = s[11] + gz;
            s[12] = s[12] + hxy;
        }
        for (int q = 0; q < 13; q++) acc[q] += hsum_d(s[q]);
    }
}

// y = exp(x) (the depth maps: exp of the log-depth params): Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2,
// degree-7 Taylor polynomial, times 2^k in two exact halves (so 2^k needs no range check and denormal
// results round once). Measured within 1 ulp of glibc expf over 2M points in [-100, 100]; NaN stays NaN,
// overflow gives inf, underflow 0.
void VNAME(pc_ga_exp)(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += PC_VW) {
        const int64_t m = PC_MIN((int64_t)PC_VW, n - i);
        const vf v = m == PC_VW ? ld(x + i) : ld_n(x + i, m);
        const vi nan = v != v;
        const vf xc = vmin(vmax(v, splat(-104.0f)), splat(89.0f));
        const vf k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest even
        vf r = vfma(-k, splat(0.693359375f), xc);
        r = vfma(-k, splat(-2.12194440e-4f), r);
        vf p = vfma(splat(1.0f / 5040), r, splat(1.0f / 720));
        p = vfma(p, r, splat(1.0f / 120));
        p = vfma(p, r, splat(1.0f / 24));
        p = vfma(p, r, splat(1.0f / 6));
        p = vfma(p, r, splat(0.5f));
        p = vfma(p, r, splat(1.0f));
        p = vfma(p, r, splat(1.0f));
        const vi ki = __builtin_convertvector(k, vi), k1 = ki >> 1, k2 = ki - k1;
        const vf out = vsel(nan, v, (p * (vf)((k1 + 127) << 23)) * (vf)((k2 + 127) << 23));
        if (m == PC_VW) st(y + i, out);
        else st_n(y + i, out, m);
    }
}
#endif
