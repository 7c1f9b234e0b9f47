// Internal: row scans of the brute-force Hamming matcher, one per ISA.
// Every scan visits rows [a0, a1) of A against all of B and produces, per row,
// the best match packed as (dist << 32 | b) and the second-best distance; and
// lowers col[b] to min(col[b], dist << 32 | a) for the cross-check. Packing
// the index under the distance makes ties go to the lowest index.
#ifndef PC_FEATURES_MATCH_INTERNAL_H
#define PC_FEATURES_MATCH_INTERNAL_H
#include <stdint.h>

// B transposed in blocks of 8 descriptors: btr[blk][q][lane] holds 64-bit word
// q (0..3) of descriptor 8*blk + lane; padding lanes are all-ones and masked.
typedef struct {
    const uint8_t *da;    // (na, 32)
    const uint8_t *db;    // (nb, 32)
    const uint64_t *btr;  // (ceil(nb / 8), 4, 8)
    int nb;
} pc_match_scan_args;

typedef void (*pc_match_scan_fn)(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                                 uint64_t *col);

void pc_match_scan_scalar(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col);
void pc_match_scan_popcnt(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col);
void pc_match_scan_avx512(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col);

#endif
