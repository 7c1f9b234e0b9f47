// mast3r: fast_nn.fast_reciprocal_NNs(desc1, desc2, subsample_or_initxy1=S, device, dist='dot',
// block_size=2**13) with ret_xy=False, pixel_tol=0: grid queries in view 1, forward / backward brute-force
// NN until the chains stop moving (max_iter 10), then merge_corres (distinct pairs sorted by (idx1, idx2)).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/cpu.h"
#include "features/frnn_internal.h"
#include "posecrafter/features.h"

typedef struct {
    pc_frnn_scan_fn fn;
    const float *q;     // (nq, D) gathered queries
    int64_t nq;
    int D;
    const float *dbT;   // packed database
    int64_t n;
    int32_t *out;       // (nq)
} scan_task;

static void scan_worker(void *p, int ith, int nth) {
    const scan_task *t = (const scan_task *)p;
    // contiguous chunks of 4 queries (the kernel's block): the same queries meet the same code on any split
    const int64_t blocks = (t->nq + 3) / 4, b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
    const int64_t q0 = b0 * 4, q1 = PC_MIN(b1 * 4, t->nq);
    if (q1 > q0) t->fn(t->q + q0 * t->D, q1 - q0, t->D, t->dbT, t->n, t->out + q0, NULL);
}

// The NN in `db` (packed dbT, n rows) of the rows `sel` of `src` (D floats each): out[k] for sel[k].
static void nn_call(pc_pool *pool, pc_frnn_scan_fn fn, float *qbuf, const float *src, const int32_t *sel, int64_t m,
                    int D, const float *dbT, int64_t n, int32_t *out) {
    for (int64_t k = 0; k < m; k++) memcpy(qbuf + k * D, src + (int64_t)sel[k] * D, (size_t)D * sizeof(float));
    scan_task t = {fn, qbuf, m, D, dbT, n, out};
    pc_pool_run(pool, scan_worker, &t);
}

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    uint64_t key;
    int64_t pos;  // position in the concatenation: the first occurrence wins (np.unique return_index)
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = (const keyed *)a, *y = (const keyed *)b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

pc_status pc_frnn_match(int32_t **idx1, int32_t **idx2, int64_t *n_out, const float *desc1, int H1, int W1,
                        const float *desc2, int H2, int W2, int D, int subsample, pc_pool *pool, pc_frnn_stats *stats,
                        pc_error *err) {
    if (!idx1 || !idx2 || !n_out || !desc1 || !desc2)
        return pc_err(err, PC_ERR_ARG, "pc_frnn_match: NULL argument");
    *idx1 = *idx2 = NULL;
    *n_out = 0;
    if (H1 < 1 || W1 < 1 || H2 < 1 || W2 < 1 || (int64_t)H1 * W1 > INT32_MAX || (int64_t)H2 * W2 > INT32_MAX ||
        D < 1 || D > 4096 || subsample < 1)
        return pc_err(err, PC_ERR_ARG, "pc_frnn_match: bad sizes (%dx%d, %dx%d, D %d, subsample %d)", W1, H1, W2, H2, D,
                      subsample);
    pc_frnn_stats st_local;
    pc_frnn_stats *stt = stats ? stats : &st_local;
    memset(stt, 0, sizeof(*stt));
    const int VW = pc_cpu_has_avx512f() ? 16 : pc_cpu_has_avx2_fma() ? 8 : 4;
    const pc_frnn_scan_fn fn = VW == 16 ? pc_frnn_scan_v16 : VW == 8 ? pc_frnn_scan_v8 : pc_frnn_scan_v4;
    const int64_t n1 = (int64_t)H1 * W1, n2 = (int64_t)H2 * W2;
    const int S = subsample;
    int64_t nq = 0;
    for (int y = S / 2; y < H1; y += S)
        for (int x = S / 2; x < W1; x += S) nq++;
    stt->n_queries = nq;
    float *dbT1 = (float *)pc_aligned_alloc(sizeof(float) * (size_t)((n1 + VW - 1) / VW * D * VW));
    float *dbT2 = (float *)pc_aligned_alloc(sizeof(float) * (size_t)((n2 + VW - 1) / VW * D * VW));
    int32_t *xy1 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));
    int32_t *xy2 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));
    int32_t *old1 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));
    int32_t *old2 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));
    int32_t *sel = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));   // the rows queried in this call
    int32_t *res = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nq + 1));
    int64_t *who = (int64_t *)malloc(sizeof(int64_t) * (size_t)(nq + 1));   // query number of each row
    unsigned char *notyet = (unsigned char *)malloc((size_t)(nq + 1));
    float *qbuf = (float *)malloc(sizeof(float) * (size_t)((nq + 4) * D));
    uint64_t *keys = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(nq + 1));
    pc_status st = PC_OK;
    if (!dbT1 || !dbT2 || !xy1 || !xy2 || !old1 || !old2 || !sel || !res || !who || !notyet || !qbuf || !keys) {
        st = pc_err(err, PC_ERR_MEMORY, "pc_frnn_match: out of memory (%lld queries, %lld + %lld pixels)",
                    (long long)nq, (long long)n1, (long long)n2);
        goto done;
    }
    pc_frnn_pack(dbT1, desc1, n1, D, VW);
    pc_frnn_pack(dbT2, desc2, n2, D, VW);
    {
        int64_t k = 0;
        for (int y = S / 2; y < H1; y += S)
            for (int x = S / 2; x < W1; x += S) xy1[k++] = x + W1 * y;  // ascending: np.unique is a no-op
    }
    for (int64_t k = 0; k < nq; k++) xy2[k] = -1, old1[k] = xy1[k], old2[k] = -1, notyet[k] = 1;
    for (int round = 0; round < 10; round++) {
        // forward: xy2[notyet] = NN in view 2 of desc1[xy1[notyet]]; notyet &= xy2 != old_xy2
        int64_t m = 0;
        for (int64_t k = 0; k < nq; k++)
            if (notyet[k]) who[m] = k, sel[m++] = xy1[k];
        if (m == 0) break;
        if (stt->n_calls < 20) stt->query_sizes[stt->n_calls] = (int)m;
        stt->n_calls++;
        nn_call(pool, fn, qbuf, desc1, sel, m, D, dbT2, n2, res);
        for (int64_t r = 0; r < m; r++) xy2[who[r]] = res[r];
        for (int64_t k = 0; k < nq; k++) notyet[k] &= old2[k] != xy2[k];
        // backward: xy1[notyet] = NN in view 1 of desc2[xy2[notyet]]; notyet &= xy1 != old_xy1
        m = 0;
        for (int64_t k = 0; k < nq; k++)
            if (notyet[k]) who[m] = k, sel[m++] = xy2[k];
        if (m > 0) {
            if (stt->n_calls < 20) stt->query_sizes[stt->n_calls] = (int)m;
            stt->n_calls++;
            nn_call(pool, fn, qbuf, desc2, sel, m, D, dbT1, n1, res);
            for (int64_t r = 0; r < m; r++) xy1[who[r]] = res[r];
        }
        for (int64_t k = 0; k < nq; k++) notyet[k] &= old1[k] != xy1[k];
        stt->rounds = round + 1;
        int any = 0;
        for (int64_t k = 0; k < nq && !any; k++) any = notyet[k];
        if (!any || round + 1 == 10) break;
        memcpy(old2, xy2, sizeof(int32_t) * (size_t)nq);
        memcpy(old1, xy1, sizeof(int32_t) * (size_t)nq);
    }
    // merge_corres: np.unique over (idx1 << 32 | idx2) of the converged queries
    int64_t nk = 0;
    for (int64_t k = 0; k < nq; k++)
        if (!notyet[k] && xy1[k] >= 0 && xy2[k] >= 0) keys[nk++] = (uint64_t)(uint32_t)xy1[k] << 32 | (uint32_t)xy2[k];
    qsort(keys, (size_t)nk, sizeof(uint64_t), cmp_u64);
    int64_t nu = 0;
    for (int64_t k = 0; k < nk; k++)
        if (nu == 0 || keys[k] != keys[nu - 1]) keys[nu++] = keys[k];
    *idx1 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nu + 1));
    *idx2 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nu + 1));
    if (!*idx1 || !*idx2) {
        free(*idx1), free(*idx2);
        *idx1 = *idx2 = NULL;
        st = pc_err(err, PC_ERR_MEMORY, "pc_frnn_match: out of memory");
        goto done;
    }
    for (int64_t k = 0; k < nu; k++) (*idx1)[k] = (int32_t)(keys[k] >> 32), (*idx2)[k] = (int32_t)(keys[k] & 0xffffffffu);
    *n_out = nu;
done:
    pc_aligned_free(dbT1);
    pc_aligned_free(dbT2);
    free(xy1), free(xy2), free(old1), free(old2), free(sel), free(res), free(who), free(notyet), free(qbuf), free(keys);
    return st;
}

pc_status pc_mast3r_correspondences(int32_t **idx1, int32_t **idx2, float **conf, int64_t *n_out, const float *d11,
                                    const float *q11, const float *d21, const float *q21, const float *d22,
                                    const float *q22, const float *d12, const float *q12, int H1, int W1, int H2,
                                    int W2, int D, int subsample, pc_pool *pool, pc_error *err) {
    if (!idx1 || !idx2 || !conf || !n_out || !d11 || !q11 || !d21 || !q21 || !d22 || !q22 || !d12 || !q12)
        return pc_err(err, PC_ERR_ARG, "pc_mast3r_correspondences: NULL argument");
    *idx1 = *idx2 = NULL, *conf = NULL, *n_out = 0;
    // searches in upstream's order: (A, B) = (d11, d21) and (d12, d22); each A -> B then B -> A
    const float *A[2] = {d11, d12}, *B[2] = {d21, d22}, *QA[2] = {q11, q12}, *QB[2] = {q21, q22};
    int32_t *ra[4] = {0}, *rb[4] = {0};
    int64_t rn[4] = {0};
    pc_status st = PC_OK;
    for (int s = 0; s < 2 && st == PC_OK; s++) {
        st = pc_frnn_match(&ra[2 * s], &rb[2 * s], &rn[2 * s], A[s], H1, W1, B[s], H2, W2, D, subsample, pool, NULL, err);
        if (st == PC_OK)  // B -> A: its first array indexes image 2
            st = pc_frnn_match(&rb[2 * s + 1], &ra[2 * s + 1], &rn[2 * s + 1], B[s], H2, W2, A[s], H1, W1, D, subsample,
                               pool, NULL, err);
    }
    int64_t total = rn[0] + rn[1] + rn[2] + rn[3], nu = 0;
    keyed *ks = st == PC_OK ? (keyed *)malloc(sizeof(keyed) * (size_t)(total + 1)) : NULL;
    float *qc = st == PC_OK ? (float *)malloc(sizeof(float) * (size_t)(total + 1)) : NULL;
    if (st == PC_OK && (!ks || !qc)) st = pc_err(err, PC_ERR_MEMORY, "pc_mast3r_correspondences: out of memory");
    if (st == PC_OK) {
        int64_t p = 0;
        for (int k = 0; k < 4; k++)
            for (int64_t i = 0; i < rn[k]; i++, p++) {
                const int s = k / 2;
                ks[p].key = (uint64_t)(uint32_t)ra[k][i] << 32 | (uint32_t)rb[k][i];
                ks[p].pos = p;
                qc[p] = sqrtf(QA[s][ra[k][i]] * QB[s][rb[k][i]]);  // float32 as numpy's
            }
        qsort(ks, (size_t)total, sizeof(keyed), cmp_keyed);
        *idx1 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total + 1));
        *idx2 = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total + 1));
        *conf = (float *)malloc(sizeof(float) * (size_t)(total + 1));
        if (!*idx1 || !*idx2 || !*conf) {
            st = pc_err(err, PC_ERR_MEMORY, "pc_mast3r_correspondences: out of memory");
        } else {
            for (int64_t i = 0; i < total; i++) {
                if (nu > 0 && ks[i].key == ks[i - 1].key) continue;  // a later duplicate
                (*idx1)[nu] = (int32_t)(ks[i].key >> 32), (*idx2)[nu] = (int32_t)(ks[i].key & 0xffffffffu);
                (*conf)[nu] = qc[ks[i].pos];
                nu++;
            }
        }
    }
    if (st != PC_OK) {
        free(*idx1), free(*idx2), free(*conf);
        *idx1 = *idx2 = NULL, *conf = NULL, nu = 0;
    }
    *n_out = nu;
    for (int k = 0; k < 4; k++) free(ra[k]), free(rb[k]);
    free(ks);
    free(qc);
    return st;
}
