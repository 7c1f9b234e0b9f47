// The brute-force dot-product NN scan of pc_frnn_match (mast3r: cdistMatcher / bruteforce_reciprocal_nns with
// dist='dot'), written once with GCC vector extensions and compiled for the baseline here (4 lanes) and by
// frnn_avx2.c / frnn_avx512.c (8 / 16 lanes). Four queries share every database load; per lane the running
// best is replaced only on a strictly larger similarity, so each lane keeps its lowest index among ties and
// the final cross-lane pick (largest, then lowest index) is the global lowest-index argmax.
#ifndef PC_VW
#define PC_VW 4
#define PC_VSUF v4
#endif

#include "features/frnn_internal.h"
#include "core/vec.h"

#include <math.h>
#include <string.h>

// Cross-lane pick: largest similarity, lowest index among equals; lanes with index >= n are padding.
static inline void pick(vf bs, vi bi, int64_t n, int32_t *idx, float *sim) {
    float s = -INFINITY;
    int32_t k = -1;
    for (int l = 0; l < PC_VW; l++) {
        if (bi[l] < 0 || bi[l] >= n) continue;
        if (k < 0 || bs[l] > s || (bs[l] == s && bi[l] < k)) s = bs[l], k = bi[l];
    }
    *idx = k;
    if (sim) *sim = s;
}

#define QB 4       // queries per register pass (share every database load)
#define QBLK 64    // queries per cache block
#define CHUNK 2048 // database rows per chunk (D = 24: 192 KiB, resident in L2 while QBLK queries sweep it)

void VNAME(pc_frnn_scan)(const float *q, int64_t nq, int D, const float *dbT, int64_t n, int32_t *best_idx,
                         float *best_sim) {
    const int64_t nblk = (n + PC_VW - 1) / PC_VW, cblk = CHUNK / PC_VW;
    vi lane;
    for (int l = 0; l < PC_VW; l++) lane[l] = l;
    vf bs[QBLK];  // running best per query and lane, kept across the database chunks
    vi bi[QBLK];
    for (int64_t qb = 0; qb < nq; qb += QBLK) {
        const int nbq = nq - qb < QBLK ? (int)(nq - qb) : QBLK;
        for (int j = 0; j < QBLK; j++) bs[j] = splat(-INFINITY), bi[j] = splati(-1);
        for (int64_t c0 = 0; c0 < nblk; c0 += cblk) {  // chunks in ascending order: ties keep the earlier index
            const int64_t c1 = c0 + cblk < nblk ? c0 + cblk : nblk;
            for (int g = 0; g < nbq; g += QB) {
                const float *qq[QB];
                for (int j = 0; j < QB; j++) qq[j] = q + (qb + (g + j < nbq ? g + j : g)) * D;
                vf s0 = bs[g], s1 = bs[g + 1], s2 = bs[g + 2], s3 = bs[g + 3];
                vi i0 = bi[g], i1 = bi[g + 1], i2 = bi[g + 2], i3 = bi[g + 3];
                for (int64_t b = c0; b < c1; b++) {
                    const float *col = dbT + b * (int64_t)D * PC_VW;
                    vf a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
                    for (int d = 0; d < D; d++) {
                        const vf x = ld(col + d * PC_VW);
                        a0 = vfma(splat(qq[0][d]), x, a0);
                        a1 = vfma(splat(qq[1][d]), x, a1);
                        a2 = vfma(splat(qq[2][d]), x, a2);
                        a3 = vfma(splat(qq[3][d]), x, a3);
                    }
                    const vi idx = lane + splati((int32_t)(b * PC_VW));
                    vi m;  // strict: the earlier index stays on ties (and NaN never wins)
                    m = a0 > s0, s0 = (vf)((m & (vi)a0) | (~m & (vi)s0)), i0 = (m & idx) | (~m & i0);
                    m = a1 > s1, s1 = (vf)((m & (vi)a1) | (~m & (vi)s1)), i1 = (m & idx) | (~m & i1);
                    m = a2 > s2, s2 = (vf)((m & (vi)a2) | (~m & (vi)s2)), i2 = (m & idx) | (~m & i2);
                    m = a3 > s3, s3 = (vf)((m & (vi)a3) | (~m & (vi)s3)), i3 = (m & idx) | (~m & i3);
                }
                bs[g] = s0, bs[g + 1] = s1, bs[g + 2] = s2, bs[g + 3] = s3;
                bi[g] = i0, bi[g + 1] = i1, bi[g + 2] = i2, bi[g + 3] = i3;
            }
        }
        for (int j = 0; j < nbq; j++) pick(bs[j], bi[j], n, &best_idx[qb + j], best_sim ? &best_sim[qb + j] : NULL);
    }
}

#if PC_VW == 4
// The plain reference twin (row-major database, one query at a time, a single running best). fused: the dot
// product with fmaf, as the AVX2/AVX-512 builds compute it (bit-identical to them); 0: multiply then add,
// as the SSE2 build.
void pc_frnn_scan_ref(const float *q, int64_t nq, int D, const float *db, int64_t n, int fused, int32_t *best_idx,
                      float *best_sim) {
    for (int64_t i = 0; i < nq; i++) {
        float bs = -INFINITY;
        int32_t bi = -1;
        for (int64_t r = 0; r < n; r++) {
            float s = 0;
            for (int d = 0; d < D; d++) {
                if (fused) {
                    s = fmaf(q[i * D + d], db[r * D + d], s);
                } else {
                    const volatile float p = q[i * D + d] * db[r * D + d];  // rounded product, as SSE2's mulps
                    s += p;
                }
            }
            if (bi < 0 ? s == s : s > bs) bs = s, bi = (int32_t)r;
        }
        best_idx[i] = bi;
        if (best_sim) best_sim[i] = bs;
    }
}

void pc_frnn_pack(float *dbT, const float *db, int64_t n, int D, int VW) {
    const int64_t nblk = (n + VW - 1) / VW;
    memset(dbT, 0, sizeof(float) * (size_t)(nblk * D * VW));
    for (int64_t r = 0; r < n; r++)
        for (int d = 0; d < D; d++) dbT[(r / VW) * D * VW + d * VW + r % VW] = db[r * D + d];
}
#endif
