// Internal: the nearest-neighbour scan behind pc_frnn_match (frnn.c), written once in frnn_vec.c over GCC
// vector extensions and compiled for 4 (SSE2), 8 (AVX2+FMA) and 16 (AVX-512) lanes, plus a plain
// reference. The database is packed in blocks of VW rows, transposed: dbT[blk][d][lane] = db[blk*VW + lane][d]
// (padding lanes are zero and never win: their index is >= n).
#ifndef PC_FEATURES_FRNN_INTERNAL_H
#define PC_FEATURES_FRNN_INTERNAL_H
#include <stdint.h>

// For each query q (D floats): the database row with the largest dot product, lowest index on exact ties
// (torch.max's first index; upstream's 8192-row blocks keep the earlier block on ties: the same rule).
// Rows of NaN similarity never win. best_sim may be NULL.
typedef void (*pc_frnn_scan_fn)(const float *q, int64_t nq, int D, const float *dbT, int64_t n, int32_t *best_idx,
                                float *best_sim);
// db row-major (n, D); fused: fmaf dot products (bit-identical to v8 / v16), else multiply + add (v4).
void pc_frnn_scan_ref(const float *q, int64_t nq, int D, const float *db, int64_t n, int fused, int32_t *best_idx,
                      float *best_sim);
void pc_frnn_scan_v4(const float *q, int64_t nq, int D, const float *dbT, int64_t n, int32_t *best_idx, float *best_sim);
void pc_frnn_scan_v8(const float *q, int64_t nq, int D, const float *dbT, int64_t n, int32_t *best_idx, float *best_sim);
void pc_frnn_scan_v16(const float *q, int64_t nq, int D, const float *dbT, int64_t n, int32_t *best_idx,
                      float *best_sim);
// Pack db (n, D) into dbT for VW lanes: ceil(n / VW) * D * VW floats.
void pc_frnn_pack(float *dbT, const float *db, int64_t n, int D, int VW);

#endif
