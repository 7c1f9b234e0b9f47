// Hamming row scan with the POPCNT instruction (built with -mpopcnt; called
// only when the CPU has AVX2, which implies POPCNT on every x86-64 that ships).
#include "features/match_internal.h"

#include <nmmintrin.h>
#include <string.h>

void pc_match_scan_popcnt(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col) {
    for (int a = a0; a < a1; a++) {
        uint64_t qa[4];
        memcpy(qa, s->da + (size_t)a * 32, 32);
        uint64_t best = UINT64_MAX;
        uint32_t second = UINT32_MAX;
        const uint8_t *pb = s->db;
        for (int b = 0; b < s->nb; b++, pb += 32) {
            uint64_t qb[4];
            memcpy(qb, pb, 32);
            uint64_t d = (uint64_t)(_mm_popcnt_u64(qa[0] ^ qb[0]) + _mm_popcnt_u64(qa[1] ^ qb[1]) +
                                    _mm_popcnt_u64(qa[2] ^ qb[2]) + _mm_popcnt_u64(qa[3] ^ qb[3]));
            uint64_t pk = d << 32 | (uint32_t)b;
            if (pk < best) {
                if ((uint32_t)(best >> 32) < second) second = (uint32_t)(best >> 32);
                best = pk;
            } else if ((uint32_t)d < second) {
                second = (uint32_t)d;
            }
            uint64_t pc = d << 32 | (uint32_t)a;
            if (pc < col[b]) col[b] = pc;
        }
        row_best[a] = best;
        row_second[a] = second;
    }
}
