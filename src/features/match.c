// Brute-force Hamming matcher for 256-bit binary descriptors (OpenCV
// BFMatcher(NORM_HAMMING) semantics: nearest neighbour, optional crossCheck,
// optional Lowe ratio on the two nearest). One pass over the na x nb distance
// matrix gives both directions: rows give A->B, a per-thread column minimum
// gives B->A for the cross-check. Popcount: AVX-512 VPOPCNTDQ, else POPCNT,
// else portable bit counting, chosen at run time.
#include "core/common.h"
#include "core/cpu.h"
#include "features/match_internal.h"
#include "posecrafter/features.h"

#include <stdlib.h>
#include <string.h>

void pc_match_default_params(pc_match_params *p) {
    p->cross_check = 1;
    p->ratio = 0.0f;
    p->max_dist = 256;
}

static inline int popcount64(uint64_t x) {
    return __builtin_popcountll(x);
}

int pc_hamming256(const uint8_t *a, const uint8_t *b) {
    uint64_t qa[4], qb[4];
    memcpy(qa, a, 32);
    memcpy(qb, b, 32);
    return popcount64(qa[0] ^ qb[0]) + popcount64(qa[1] ^ qb[1]) + popcount64(qa[2] ^ qb[2]) +
           popcount64(qa[3] ^ qb[3]);
}

void pc_match_scan_scalar(const pc_match_scan_args *s, int a0, int a1, uint64_t *row_best, uint32_t *row_second,
                          uint64_t *col) {
    for (int a = a0; a < a1; a++) {
        uint64_t best = UINT64_MAX;
        uint32_t second = UINT32_MAX;
        for (int b = 0; b < s->nb; b++) {
            uint64_t d = (uint64_t)pc_hamming256(s->da + (size_t)a * 32, s->db + (size_t)b * 32);
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

static int has_vpopcntdq(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    return pc_cpu_has_avx512f() && __builtin_cpu_supports("avx512vpopcntdq");
#else
    return 0;
#endif
}

typedef struct {
    pc_match_scan_args args;
    pc_match_scan_fn fn;
    int na;
    uint64_t *row_best;    // (na)
    uint32_t *row_second;  // (na)
    uint64_t *cols;        // (nth, nb) per-thread column minima
} match_task;

static void match_worker(void *ctx, int ith, int nth) {
    match_task *t = (match_task *)ctx;
    int64_t b0, b1;
    pc_split_range(t->na, ith, nth, &b0, &b1);
    uint64_t *col = t->cols + (size_t)ith * (size_t)t->args.nb;
    for (int j = 0; j < t->args.nb; j++) col[j] = UINT64_MAX;
    if (b1 > b0) t->fn(&t->args, (int)b0, (int)b1, t->row_best, t->row_second, col);
}

// Turn the scan results into the match list (shared by the fast path and the reference).
static int finish_matches(pc_match *out, int na, const uint64_t *row_best, const uint32_t *row_second,
                          const uint64_t *col, const pc_match_params *p) {
    int n = 0;
    int use_ratio = p->ratio > 0.0f && p->ratio < 1.0f;
    for (int a = 0; a < na; a++) {
        uint64_t bp = row_best[a];
        if (bp == UINT64_MAX) continue;
        int b = (int)(uint32_t)bp, d = (int)(bp >> 32);
        if (d > p->max_dist) continue;
        if (p->cross_check && (uint32_t)col[b] != (uint32_t)a) continue;
        if (use_ratio && !(row_second[a] != UINT32_MAX && (float)d < p->ratio * (float)row_second[a])) continue;
        out[n].a = a;
        out[n].b = b;
        out[n].dist = d;
        n++;
    }
    return n;
}

static pc_status check_args(pc_match *out, int *n_out, const uint8_t *da, int na, const uint8_t *db, int nb,
                            const pc_match_params *p, pc_error *err) {
    if (!n_out || !p || na < 0 || nb < 0 || (na > 0 && (!out || !da)) || (nb > 0 && !db))
        return pc_err(err, PC_ERR_ARG, "match: bad arguments (na %d, nb %d)", na, nb);
    *n_out = 0;
    return PC_OK;
}

pc_status pc_match_hamming(pc_pool *pool, pc_match *out, int *n_out, const uint8_t *da, int na, const uint8_t *db,
                           int nb, const pc_match_params *p, pc_error *err) {
    pc_status st = check_args(out, n_out, da, na, db, nb, p, err);
    if (st != PC_OK || na == 0 || nb == 0) return st;
    int nth = pc_pool_size(pool);
    match_task t;
    memset(&t, 0, sizeof(t));
    t.args.da = da;
    t.args.db = db;
    t.args.nb = nb;
    t.na = na;
    int nblk = (nb + 7) / 8;
    uint64_t *btr = NULL;
    if (has_vpopcntdq()) {
        t.fn = pc_match_scan_avx512;
        btr = (uint64_t *)pc_aligned_alloc(sizeof(uint64_t) * 32 * (size_t)nblk);
        if (!btr) return pc_err(err, PC_ERR_MEMORY, "match: out of memory (nb %d)", nb);
        for (int blk = 0; blk < nblk; blk++)
            for (int lane = 0; lane < 8; lane++) {
                int b = blk * 8 + lane;
                for (int q = 0; q < 4; q++) {
                    uint64_t v = UINT64_MAX;
                    if (b < nb) memcpy(&v, db + (size_t)b * 32 + 8 * q, 8);
                    btr[(size_t)blk * 32 + q * 8 + lane] = v;
                }
            }
        t.args.btr = btr;
    } else if (pc_cpu_has_avx2_fma()) {
        t.fn = pc_match_scan_popcnt;
    } else {
        t.fn = pc_match_scan_scalar;
    }
    t.row_best = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)na);
    t.row_second = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)na);
    t.cols = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)nb * (size_t)nth);
    if (!t.row_best || !t.row_second || !t.cols) {
        st = pc_err(err, PC_ERR_MEMORY, "match: out of memory (na %d, nb %d)", na, nb);
        goto done;
    }
    pc_pool_run(pool, match_worker, &t);
    for (int i = 1; i < nth; i++) {
        const uint64_t *c = t.cols + (size_t)i * nb;
        for (int j = 0; j < nb; j++)
            if (c[j] < t.cols[j]) t.cols[j] = c[j];
    }
    *n_out = finish_matches(out, na, t.row_best, t.row_second, t.cols, p);
done:
    pc_aligned_free(btr);
    free(t.row_best);
    free(t.row_second);
    free(t.cols);
    return st;
}

pc_status pc_match_hamming_ref(pc_match *out, int *n_out, const uint8_t *da, int na, const uint8_t *db, int nb,
                               const pc_match_params *p, pc_error *err) {
    pc_status st = check_args(out, n_out, da, na, db, nb, p, err);
    if (st != PC_OK || na == 0 || nb == 0) return st;
    uint64_t *row_best = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)na);
    uint32_t *row_second = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)na);
    uint64_t *col = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)nb);
    if (!row_best || !row_second || !col) {
        st = pc_err(err, PC_ERR_MEMORY, "match: out of memory (na %d, nb %d)", na, nb);
    } else {
        // plain double loop: nearest and second nearest per row, nearest per column
        for (int b = 0; b < nb; b++) col[b] = UINT64_MAX;
        for (int a = 0; a < na; a++) {
            int bd = 1 << 30, bi = -1, sd = 1 << 30;
            for (int b = 0; b < nb; b++) {
                int d = pc_hamming256(da + (size_t)a * 32, db + (size_t)b * 32);
                if (d < bd) {
                    sd = bd;
                    bd = d;
                    bi = b;
                } else if (d < sd) {
                    sd = d;
                }
                if ((uint64_t)d < (col[b] >> 32) || col[b] == UINT64_MAX) col[b] = (uint64_t)d << 32 | (uint32_t)a;
            }
            row_best[a] = (uint64_t)bd << 32 | (uint32_t)bi;
            row_second[a] = sd == (1 << 30) ? UINT32_MAX : (uint32_t)sd;
        }
        *n_out = finish_matches(out, na, row_best, row_second, col, p);
    }
    free(row_best);
    free(row_second);
    free(col);
    return st;
}
