// mast3r: fast_reciprocal_NNs (pc_frnn_match) vs the upstream dump (golden/mast3r/matches.safetensors), and
// the NN scan's vector builds vs the plain reference.
//  - kernel twins: random unit descriptors with planted exact ties: every build picks the same (lowest) index
//    and, against the reference of the same rounding (fmaf for AVX2/AVX-512, mul+add for SSE2), the same
//    similarity bit for bit; 1 and 2 threads give the same matches;
//  - 64x48: the golden full descriptor maps in, the golden matches and per-call query counts out, exactly;
//  - 368x512: our own descriptors of the pair (tiny model), the 327 golden matches out; a difference is
//    allowed only for a match whose golden margin (best - second best similarity) is below 1e-5.
#include "testutil.h"
#include "core/common.h"
#include "core/cpu.h"
#include "features/frnn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_twins(void) {
    enum { N = 1003, Q = 37, D = 24 };
    pc_test_rng rng = {77};
    float *db = malloc(sizeof(float) * N * D), *q = malloc(sizeof(float) * Q * D);
    for (int i = 0; i < N * D; i++) db[i] = pc_test_uniform(&rng);
    for (int r = 0; r < N; r++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += db[r * D + d] * db[r * D + d];
        for (int d = 0; d < D; d++) db[r * D + d] = (float)(db[r * D + d] / sqrt(s));
    }
    for (int i = 0; i < Q; i++) memcpy(q + i * D, db + ((i * 97) % N) * D, sizeof(float) * D);
    // exact ties: rows 5, 700 and 1001 identical; query 0 is that row -> index 5 must win
    memcpy(db + 700 * D, db + 5 * D, sizeof(float) * D);
    memcpy(db + 1001 * D, db + 5 * D, sizeof(float) * D);
    memcpy(q, db + 1001 * D, sizeof(float) * D);
    int32_t ref_f[Q], ref_m[Q], got[Q];
    float sref_f[Q], sref_m[Q], sg[Q];
    pc_frnn_scan_ref(q, Q, D, db, N, 1, ref_f, sref_f);
    pc_frnn_scan_ref(q, Q, D, db, N, 0, ref_m, sref_m);
    PC_CHECK(ref_f[0] == 5 && ref_m[0] == 5, "reference: exact ties go to the lowest index (5 of 5, 700, 1001)");
    struct {
        int vw;
        pc_frnn_scan_fn fn;
        int ok;
    } builds[3] = {{4, pc_frnn_scan_v4, 1}, {8, pc_frnn_scan_v8, pc_cpu_has_avx2_fma()}, {16, pc_frnn_scan_v16, pc_cpu_has_avx512f()}};
    for (int b = 0; b < 3; b++) {
        if (!builds[b].ok) {
            printf("  skip %d-lane build (CPU lacks it)\n", builds[b].vw);
            continue;
        }
        const int vw = builds[b].vw;
        float *dbT = malloc(sizeof(float) * ((N + vw - 1) / vw) * D * vw);
        pc_frnn_pack(dbT, db, N, D, vw);
        builds[b].fn(q, Q, D, dbT, N, got, sg);
        const int32_t *ri = vw == 4 ? ref_m : ref_f;
        const float *rs = vw == 4 ? sref_m : sref_f;
        int same_i = 1, same_s = 1;
        for (int i = 0; i < Q; i++) same_i &= got[i] == ri[i], same_s &= memcmp(&sg[i], &rs[i], 4) == 0;
        PC_CHECK(same_i && same_s && got[0] == 5, "%d-lane scan == reference (%s): same indices, bit-identical similarities, tie -> 5",
                 vw, vw == 4 ? "mul+add" : "fmaf");
        free(dbT);
    }
    free(db);
    free(q);
}

static void to_xy(int32_t *xy, const int32_t *idx, int64_t n, int W) {
    for (int64_t k = 0; k < n; k++) xy[2 * k] = idx[k] % W, xy[2 * k + 1] = idx[k] / W;
}

// Compare our matches with the golden (x, y) lists; returns the number of differing matches whose golden
// margin is >= tol (a true error) and prints the rest.
static int compare_matches(const char *what, const int32_t *i1, const int32_t *i2, int64_t n, int W1, int W2,
                           pc_checkpoint *g, const char *prefix, double tol) {
    char k[64];
    snprintf(k, sizeof(k), "%sfrnn_xy1", prefix);
    const pc_tensor *g1 = pc_test_need(g, k);
    snprintf(k, sizeof(k), "%sfrnn_xy2", prefix);
    const pc_tensor *g2 = pc_test_need(g, k);
    snprintf(k, sizeof(k), "%sfrnn_margin12", prefix);
    const float *m12 = (const float *)pc_test_need(g, k)->data;
    snprintf(k, sizeof(k), "%sfrnn_margin21", prefix);
    const float *m21 = (const float *)pc_test_need(g, k)->data;
    const int64_t ng = g1->shape[0];
    const int32_t *x1 = (const int32_t *)g1->data, *x2 = (const int32_t *)g2->data;
    int32_t *xy1 = malloc(sizeof(int32_t) * 2 * (size_t)(n + 1)), *xy2 = malloc(sizeof(int32_t) * 2 * (size_t)(n + 1));
    to_xy(xy1, i1, n, W1);
    to_xy(xy2, i2, n, W2);
    int hard = 0, soft = 0, extra = 0;
    for (int64_t a = 0; a < ng; a++) {  // golden matches we miss
        int found = 0;
        for (int64_t b = 0; b < n && !found; b++)
            found = xy1[2 * b] == x1[2 * a] && xy1[2 * b + 1] == x1[2 * a + 1] && xy2[2 * b] == x2[2 * a] &&
                    xy2[2 * b + 1] == x2[2 * a + 1];
        if (found) continue;
        double m = fmin(m12[a], m21[a]);
        if (m < tol) soft++;
        else hard++;
        printf("   golden match (%d,%d)-(%d,%d) missing, margin %.3g\n", x1[2 * a], x1[2 * a + 1], x2[2 * a],
               x2[2 * a + 1], m);
    }
    extra = (int)(n - (ng - hard - soft));
    PC_CHECK(hard == 0 && (tol > 0 || (soft == 0 && n == ng)),
             "%s: %lld matches vs %lld golden (sorted by idx1, idx2); missing with margin >= %.0e: %d, below: %d, "
             "ours not in the golden: %d",
             what, (long long)n, (long long)ng, tol, hard, soft, extra);
    int sorted = 1;
    for (int64_t b = 1; b < n; b++)
        sorted &= i1[b - 1] < i1[b] || (i1[b - 1] == i1[b] && i2[b - 1] < i2[b]);
    PC_CHECK(sorted, "%s: distinct pairs sorted by (idx1, idx2) (merge_corres)", what);
    free(xy1);
    free(xy2);
    return hard;
}

static void check_sizes(const char *what, const pc_frnn_stats *s, pc_checkpoint *g, const char *key) {
    const pc_tensor *t = pc_test_need(g, key);
    const int64_t *v = (const int64_t *)t->data;
    int ok = s->n_calls == t->shape[0];
    for (int k = 0; ok && k < s->n_calls && k < 20; k++) ok = s->query_sizes[k] == v[k];
    char got[256] = "", want[256] = "";
    for (int k = 0; k < s->n_calls && k < 20; k++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%d ", s->query_sizes[k]);
    for (int k = 0; k < t->shape[0]; k++) snprintf(want + strlen(want), sizeof(want) - strlen(want), "%lld ", (long long)v[k]);
    PC_CHECK(ok, "%s: queries per NN call [%s] == upstream's [%s]", what, got, want);
}

int main(void) {
    test_twins();
    char mp[1024], pp[1024], tp[1024];
    pc_test_shared_path(mp, sizeof(mp), "golden/mast3r/matches.safetensors");
    pc_test_shared_path(pp, sizeof(pp), "golden/mast3r/pair.safetensors");
    pc_test_shared_path(tp, sizeof(tp), "golden/mast3r/tiny.pth");
    pc_error err;
    pc_checkpoint *gm, *gp;
    pc_test_ok(pc_checkpoint_open(&gm, mp, &err), &err, "open matches.safetensors");
    pc_test_ok(pc_checkpoint_open(&gp, pp, &err), &err, "open pair.safetensors");
    pc_pool *pool1 = NULL, *pool2;
    pc_test_ok(pc_pool_create(&pool2, 2, &err), &err, "pool");

    // 64x48 on the golden descriptors
    const pc_tensor *d1 = pc_test_need(gp, "s64_pred1_desc"), *d2 = pc_test_need(gp, "s64_pred2_desc");
    int32_t *i1, *i2;
    int64_t n;
    pc_frnn_stats stats;
    pc_test_ok(pc_frnn_match(&i1, &i2, &n, (const float *)d1->data, 48, 64, (const float *)d2->data, 48, 64, 24, 8, pool2,
                             &stats, &err),
               &err, "frnn s64");
    check_sizes("64x48", &stats, gm, "s64_frnn_query_sizes");
    compare_matches("64x48 (golden descriptors)", i1, i2, n, 64, 64, gm, "s64_", 0);
    free(i1), free(i2);

#ifdef PC_TEST_SANITIZED
    puts("  (sanitizer build: the 368x512 matching, 2 x 90 GFLOP, runs in the Release suite only)");
    pc_pool_free(pool2);
    pc_checkpoint_close(gm);
    pc_checkpoint_close(gp);
    return pc_test_finish();
#endif
    // 368x512 on our descriptors from the tiny model
    pc_dust3r *net;
    pc_test_ok(pc_dust3r_load(&net, tp, pool2, &err), &err, "load tiny MASt3R");
    pc_tensor img[2] = {{0}, {0}};
    for (int v = 0; v < 2; v++) {
        char k[32];
        snprintf(k, sizeof(k), "img%d_u8", v + 1);
        pc_test_dust3r_input(&img[v], pc_test_need(gp, k));
    }
    pc_dust3r_pair_out out;
    pc_test_ok(pc_dust3r_pair(net, &img[0], &img[1], &out, &err), &err, "pair");
    const float *e1 = (const float *)out.view[0].desc.data, *e2 = (const float *)out.view[1].desc.data;
    double t0 = pc_time_sec();
    pc_test_ok(pc_frnn_match(&i1, &i2, &n, e1, 368, 512, e2, 368, 512, 24, 8, pool2, &stats, &err), &err, "frnn 512");
    printf("  fast_reciprocal_NNs at 368x512 (2944 queries, 188416-pixel maps, %d calls): %.3f s on 2 threads\n",
           stats.n_calls, pc_time_sec() - t0);
    check_sizes("368x512", &stats, gm, "frnn_query_sizes");
    compare_matches("368x512 (our descriptors)", i1, i2, n, 512, 512, gm, "", 1e-5);
    int32_t *j1, *j2;
    int64_t n1;
    pc_test_ok(pc_frnn_match(&j1, &j2, &n1, e1, 368, 512, e2, 368, 512, 24, 8, pool1, NULL, &err), &err, "frnn 1 thread");
    PC_CHECK(n1 == n && !memcmp(i1, j1, sizeof(int32_t) * (size_t)n) && !memcmp(i2, j2, sizeof(int32_t) * (size_t)n),
             "1 thread == 2 threads (%lld matches)", (long long)n);
    free(i1), free(i2), free(j1), free(j2);
    // bad arguments
    memset(&err, 0, sizeof(err));
    PC_CHECK(pc_frnn_match(&i1, &i2, &n, e1, 368, 512, e2, 368, 512, 0, 8, pool2, NULL, &err) == PC_ERR_ARG,
             "D = 0 refused: %s", err.msg);
    pc_dust3r_pair_out_free(&out);
    pc_tensor_free(&img[0]), pc_tensor_free(&img[1]);
    pc_dust3r_free(net);
    pc_pool_free(pool2);
    pc_checkpoint_close(gm);
    pc_checkpoint_close(gp);
    return pc_test_finish();
}
