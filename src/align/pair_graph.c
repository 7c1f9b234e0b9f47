// Pair graphs for DUSt3R (dust3r/image_pairs.py: make_pairs).
//
// swin/logwin collect pairs in a Python set and iterate it, so their order is CPython's set-table order.
// We emulate CPython >= 3.8: tuple hash (xxHash-style, Objects/tupleobject.c), set insertion with 9 linear
// probes and perturbation (Objects/setobject.c), growth to 4x used when 3/5 full.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/align.h"

static uint64_t py_tuple2_hash(int64_t a, int64_t b) {
    const uint64_t P1 = 11400714785074694791ull, P2 = 14029467366897019727ull, P5 = 2870177450012600261ull;
    uint64_t acc = P5;
    int64_t items[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        uint64_t lane = (uint64_t)(items[k] == -1 ? -2 : items[k]); // hash(int) for small ints
        acc += lane * P2;
        acc = (acc << 31) | (acc >> 33);
        acc *= P1;
    }
    acc += 2 ^ (P5 ^ 3527539ull);
    if (acc == (uint64_t)-1) return 1546275796ull;
    return acc;
}

typedef struct {
    int used; // 0 empty
    int a, b;
    uint64_t h;
} py_slot;

typedef struct {
    py_slot *t;
    size_t mask;
    size_t fill, used;
} py_set;

static void set_insert_clean(py_slot *t, size_t mask, py_slot e) {
    size_t perturb = (size_t)e.h, i = (size_t)e.h & mask;
    for (;;) {
        if (!t[i].used) {
            t[i] = e;
            return;
        }
        if (i + 9 <= mask)
            for (int j = 1; j <= 9; j++)
                if (!t[i + j].used) {
                    t[i + j] = e;
                    return;
                }
        perturb >>= 5;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

static int set_resize(py_set *s, size_t minused) {
    size_t newsize = 8;
    while (newsize <= minused) newsize <<= 1;
    py_slot *nt = (py_slot *)calloc(newsize, sizeof(py_slot));
    if (!nt) return 0;
    for (size_t k = 0; k <= s->mask; k++)
        if (s->t[k].used) set_insert_clean(nt, newsize - 1, s->t[k]);
    free(s->t);
    s->t = nt;
    s->mask = newsize - 1;
    s->fill = s->used;
    return 1;
}

static int set_add(py_set *s, int a, int b) {
    uint64_t h = py_tuple2_hash(a, b);
    size_t perturb = (size_t)h, i = (size_t)h & s->mask;
    for (;;) {
        size_t probes = (i + 9 <= s->mask) ? 9 : 0;
        size_t k = i;
        for (size_t q = 0; q <= probes; q++, k++) {
            py_slot *e = &s->t[k];
            if (!e->used) {
                e->used = 1, e->a = a, e->b = b, e->h = h;
                s->fill++, s->used++;
                if (s->fill * 5 < s->mask * 3) return 1;
                return set_resize(s, s->used > 50000 ? s->used * 2 : s->used * 4);
            }
            if (e->h == h && e->a == a && e->b == b) return 1;
        }
        perturb >>= 5;
        i = (i * 5 + 1 + perturb) & s->mask;
    }
}

// int(scene_graph.split('-')[1]) with a fallback
static int parse_k(const char *g, int fallback, int *ok) {
    const char *d = strchr(g, '-');
    *ok = 0;
    if (!d) return fallback;
    d++;
    const char *e = strchr(d, '-');
    size_t len = e ? (size_t)(e - d) : strlen(d);
    if (len == 0 || len > 9) return fallback;
    int v = 0, neg = 0;
    size_t p = 0;
    if (d[0] == '-' || d[0] == '+') neg = d[0] == '-', p = 1;
    if (p == len) return fallback;
    for (; p < len; p++) {
        if (d[p] < '0' || d[p] > '9') return fallback;
        v = v * 10 + (d[p] - '0');
    }
    *ok = 1;
    return neg ? -v : v;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

pc_status pc_align_make_pairs(int *pairs, int max_pairs, int *n_pairs, int n, const char *g, int symmetrize,
                              pc_error *err) {
    *n_pairs = 0;
    if (n < 1 || n > 100000 || !g) return pc_err(err, PC_ERR_ARG, "make_pairs: bad arguments (%d views)", n);
    int cnt = 0;
#define PUSH(a_, b_)                                                                                     \
    do {                                                                                                 \
        if (cnt >= max_pairs) return pc_err(err, PC_ERR_ARG, "make_pairs: more than %d pairs", max_pairs); \
        pairs[2 * cnt] = (a_);                                                                           \
        pairs[2 * cnt + 1] = (b_);                                                                       \
        cnt++;                                                                                           \
    } while (0)
    if (!strcmp(g, "complete")) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) PUSH(i, j);
    } else if (!strncmp(g, "swin", 4) || !strncmp(g, "logwin", 6)) {
        int logwin = !strncmp(g, "logwin", 6);
        int cyclic = !ends_with(g, "noncyclic");
        int ok;
        int win = parse_k(g, 3, &ok);
        if (win < 0 || win > 30) return pc_err(err, PC_ERR_ARG, "make_pairs: window %d out of range", win);
        py_set s = {(py_slot *)calloc(8, sizeof(py_slot)), 7, 0, 0};
        if (!s.t) return pc_err(err, PC_ERR_MEMORY, "make_pairs: out of memory");
        for (int i = 0; i < n; i++) {
            if (!logwin) {
                for (int j = 1; j <= win; j++) {
                    int idx = i + j;
                    if (cyclic) idx %= n;
                    if (idx >= n) continue;
                    if (!set_add(&s, i < idx ? i : idx, i < idx ? idx : i)) goto oom;
                }
            } else {
                int js[64], nj = 0;
                for (int k = 0; k < win; k++) js[nj++] = i - (1 << k);
                for (int k = 0; k < win; k++) js[nj++] = i + (1 << k);
                for (int q = 0; q < nj; q++) {
                    int j = js[q];
                    if (cyclic) j = ((j % n) + n) % n; // Python modulo
                    if (j < 0 || j >= n || j == i) continue;
                    if (!set_add(&s, i < j ? i : j, i < j ? j : i)) goto oom;
                }
            }
        }
        for (size_t k = 0; k <= s.mask; k++)
            if (s.t[k].used) {
                if (cnt >= max_pairs) {
                    free(s.t);
                    return pc_err(err, PC_ERR_ARG, "make_pairs: more than %d pairs", max_pairs);
                }
                pairs[2 * cnt] = s.t[k].a;
                pairs[2 * cnt + 1] = s.t[k].b;
                cnt++;
            }
        free(s.t);
        goto sym;
    oom:
        free(s.t);
        return pc_err(err, PC_ERR_MEMORY, "make_pairs: out of memory");
    } else if (!strncmp(g, "oneref", 6)) {
        int ok, ref = 0;
        if (strchr(g, '-')) {
            ref = parse_k(g, 0, &ok);
            if (!ok) return pc_err(err, PC_ERR_ARG, "make_pairs: bad reference id in '%s'", g);
        }
        if (ref < 0 || ref >= n) return pc_err(err, PC_ERR_ARG, "make_pairs: reference %d out of range", ref);
        for (int j = 0; j < n; j++)
            if (j != ref) PUSH(ref, j);
    } else {
        return pc_err(err, PC_ERR_ARG, "make_pairs: unknown scene graph '%s'", g);
    }
sym:
    if (symmetrize) {
        int m = cnt;
        for (int p = 0; p < m; p++) PUSH(pairs[2 * p + 1], pairs[2 * p]);
    }
#undef PUSH
    *n_pairs = cnt;
    return PC_OK;
}
