// Hamming row scan with AVX-512 VPOPCNTDQ: 8 descriptors of B per step from
// the transposed layout, distances as 64-bit lanes packed with their index so
// that one unsigned min tracks both the best match per row and per column.
#include "features/match_internal.h"

#include <immintrin.h>
#include <string.h>

void pc_match_scan_avx512(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col) {
    const int nblk = (s->nb + 7) / 8;
    const int tail = s->nb - (nblk - 1) * 8;  // valid lanes in the last block
    const __mmask8 tail_mask = (__mmask8)((1u << tail) - 1u);
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i all = _mm512_set1_epi64(-1);
    for (int a = a0; a < a1; a++) {
        uint64_t qa[4];
        memcpy(qa, s->da + (size_t)a * 32, 32);
        const __m512i q0 = _mm512_set1_epi64((long long)qa[0]), q1 = _mm512_set1_epi64((long long)qa[1]);
        const __m512i q2 = _mm512_set1_epi64((long long)qa[2]), q3 = _mm512_set1_epi64((long long)qa[3]);
        const __m512i ava = _mm512_set1_epi64(a);
        __m512i best = all, second = all;
        __m512i bidx = lane;
        const uint64_t *bt = s->btr;
        for (int blk = 0; blk < nblk; blk++, bt += 32) {
            __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_si512(bt), q0));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_si512(bt + 8), q1)));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_si512(bt + 16), q2)));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_si512(bt + 24), q3)));
            __m512i dh = _mm512_slli_epi64(d, 32);
            __m512i pr = _mm512_or_si512(dh, bidx);
            __m512i pc = _mm512_or_si512(dh, ava);
            if (blk == nblk - 1 && tail < 8) {
                pr = _mm512_mask_mov_epi64(all, tail_mask, pr);
                __m512i c = _mm512_maskz_loadu_epi64(tail_mask, col + (size_t)blk * 8);
                _mm512_mask_storeu_epi64(col + (size_t)blk * 8, tail_mask, _mm512_min_epu64(c, pc));
            } else {
                __m512i c = _mm512_loadu_si512(col + (size_t)blk * 8);
                _mm512_storeu_si512(col + (size_t)blk * 8, _mm512_min_epu64(c, pc));
            }
            second = _mm512_min_epu64(second, _mm512_max_epu64(best, pr));
            best = _mm512_min_epu64(best, pr);
            bidx = _mm512_add_epi64(bidx, _mm512_set1_epi64(8));
        }
        uint64_t bmin = _mm512_reduce_min_epu64(best);
        // second best: every lane's second, and the best of the lanes that lost
        __mmask8 win = _mm512_cmpeq_epu64_mask(best, _mm512_set1_epi64((long long)bmin));
        __m512i others = _mm512_mask_mov_epi64(best, win, all);
        uint64_t smin = _mm512_reduce_min_epu64(_mm512_min_epu64(second, others));
        row_best[a] = bmin;
        row_second[a] = smin == UINT64_MAX ? UINT32_MAX : (uint32_t)(smin >> 32);
    }
}
