// Feature Matching Selector (PoseCrafter §3.3, "FMS"): rank candidate frames
// by how many RANSAC-verified ORB matches they share with input A plus with
// input B, keep the top k over a threshold. Work is split by frame (ORB, two
// matchings and two RANSACs per frame, single-threaded inside), handed out
// through an atomic counter; each frame's numbers depend only on its own
// pixels, so results do not depend on the thread count or timing.
#include "core/common.h"
#include "pipeline/fms_internal.h"
#include "posecrafter/fms.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void pc_fms_options_default(pc_fms_options *o) {
    memset(o, 0, sizeof(*o));
    pc_orb_default_params(&o->orb);
    o->orb.nfeatures = 2000;
    pc_match_default_params(&o->match);
    pc_ransac_options_default(&o->ransac);
    o->ransac.threshold = 1.0;
    // 500: bench_fms measured S of same-scene frames min 224 / mean 542 (vs 224 / 555 at 1000) and
    // other scenes max 67 either way, at 70% of the CPU time; the count is a ranking signal only
    o->ransac.max_iters = 500;
    o->ransac.seed = 0;
    o->exclude = NULL;
    o->exclude_duplicates = 1;
}

pc_status pc_orb_detect_image_ws(pc_orb_features *out, pc_orb_workspace *ws, const pc_image *img,
                                 const pc_orb_params *p, pc_error *err) {
    if (!ws || !img || !img->data || img->w <= 0 || img->h <= 0 || img->c < 1 || img->c > 4)
        return pc_err(err, PC_ERR_ARG, "orb: bad image (%d x %d x %d)", img ? img->w : 0, img ? img->h : 0,
                      img ? img->c : 0);
    size_t npix = (size_t)img->w * (size_t)img->h;
    if (ws->gray_cap < npix) {
        free(ws->gray);
        ws->gray = (uint8_t *)malloc(npix);
        ws->gray_cap = ws->gray ? npix : 0;
        if (!ws->gray) return pc_err(err, PC_ERR_MEMORY, "orb: out of memory for a %d x %d image", img->w, img->h);
    }
    uint8_t *gray = ws->gray;
    if (img->c >= 3) {
        pc_rgb_to_gray_u8(gray, img->data, img->w, img->h, img->c);
    } else {
        for (size_t i = 0; i < npix; i++) gray[i] = img->data[i * (size_t)img->c];  // gray (+ alpha)
    }
    return pc_orb_detect_ws(out, ws, gray, img->w, img->h, img->w, p, err);
}

pc_status pc_orb_detect_image(pc_orb_features *out, const pc_image *img, const pc_orb_params *p, pc_error *err) {
    pc_orb_workspace ws;
    memset(&ws, 0, sizeof(ws));
    pc_status st = pc_orb_detect_image_ws(out, &ws, img, p, err);
    pc_orb_workspace_free(&ws);
    return st;
}

static int same_pixels(const pc_image *a, const pc_image *b) {
    return a->w == b->w && a->h == b->h && a->c == b->c &&
           !memcmp(a->data, b->data, (size_t)a->w * (size_t)a->h * (size_t)a->c);
}

typedef struct {
    const pc_image *frames;
    int n;
    const pc_fms_options *opt;
    const pc_orb_features *fa, *fb;
    pc_fms_frame_stats *stats;  // (n)
    atomic_int next;
    atomic_int failed;
    pc_status status;
    pc_error err;  // first failure
} fms_task;

// Inliers of a fundamental matrix fitted to the matches between f and g.
static pc_status count_inliers(int *n_matches, int *n_inliers, const pc_orb_features *f, const pc_orb_features *g,
                               const pc_fms_options *opt, pc_match *m, float *pa, float *pb, pc_error *err) {
    int nm = 0;
    pc_status st = pc_match_hamming(NULL, m, &nm, f->desc, f->n, g->desc, g->n, &opt->match, err);
    if (st != PC_OK) return st;
    for (int i = 0; i < nm; i++) {
        pa[2 * i] = f->kp[m[i].a].x;
        pa[2 * i + 1] = f->kp[m[i].a].y;
        pb[2 * i] = g->kp[m[i].b].x;
        pb[2 * i + 1] = g->kp[m[i].b].y;
    }
    *n_matches = nm;
    double F[9];
    // x_g^T F x_f = 0; the count is symmetric in practice, direction is irrelevant for S
    return pc_fundamental_ransac(F, NULL, n_inliers, pa, pb, nm, &opt->ransac, err);
}

static void fms_worker(void *ctx, int ith, int nth) {
    fms_task *t = (fms_task *)ctx;
    pc_orb_features f = {0, NULL, NULL};
    pc_orb_workspace ws;
    memset(&ws, 0, sizeof(ws));
    pc_match *m = NULL;
    float *pa = NULL, *pb = NULL;
    int cap = 0;
    pc_error err;
    for (;;) {
        int i = atomic_fetch_add(&t->next, 1);
        if (i >= t->n || atomic_load(&t->failed)) break;
        pc_fms_frame_stats *s = &t->stats[i];
        pc_status st = pc_orb_detect_image_ws(&f, &ws, &t->frames[i], &t->opt->orb, &err);
        if (st == PC_OK && f.n > cap) {
            cap = f.n;
            free(m);
            free(pa);
            free(pb);
            m = (pc_match *)malloc(sizeof(pc_match) * (size_t)cap);
            pa = (float *)malloc(sizeof(float) * 2 * (size_t)cap);
            pb = (float *)malloc(sizeof(float) * 2 * (size_t)cap);
            if (!m || !pa || !pb) {
                cap = 0;
                st = pc_err(&err, PC_ERR_MEMORY, "fms: out of memory for %d matches", f.n);
            }
        }
        s->n_keypoints = f.n;
        if (st == PC_OK) st = count_inliers(&s->matches_a, &s->inliers_a, &f, t->fa, t->opt, m, pa, pb, &err);
        if (st == PC_OK) st = count_inliers(&s->matches_b, &s->inliers_b, &f, t->fb, t->opt, m, pa, pb, &err);
        if (st != PC_OK) {
            if (atomic_fetch_add(&t->failed, 1) == 0) {
                t->status = st;
                pc_err(&t->err, st, "fms: frame %d: %s", i, err.msg);
            }
            break;
        }
        s->score = s->inliers_a + s->inliers_b;
    }
    pc_orb_features_free(&f);
    pc_orb_workspace_free(&ws);
    free(m);
    free(pa);
    free(pb);
    (void)ith;
    (void)nth;
}

typedef struct {
    const pc_image *img[2];
    pc_orb_features *out[2];
    const pc_orb_params *p;
    pc_status st[2];
    pc_error err[2];
} inputs_task;

static void inputs_worker(void *ctx, int ith, int nth) {
    inputs_task *t = (inputs_task *)ctx;
    for (int i = ith; i < 2; i += nth) t->st[i] = pc_orb_detect_image(t->out[i], t->img[i], t->p, &t->err[i]);
}

pc_status pc_orb_detect_two(pc_pool *pool, pc_orb_features *out_a, pc_orb_features *out_b, const pc_image *img_a,
                            const pc_image *img_b, const pc_orb_params *p, pc_error *err) {
    inputs_task it;
    memset(&it, 0, sizeof(it));
    it.img[0] = img_a;
    it.img[1] = img_b;
    it.out[0] = out_a;
    it.out[1] = out_b;
    it.p = p;
    pc_pool_run(pool, inputs_worker, &it);
    for (int i = 0; i < 2; i++)
        if (it.st[i] != PC_OK) return pc_err(err, it.st[i], "image %c: %s", "AB"[i], it.err[i].msg);
    return PC_OK;
}

pc_status pc_fms_select(pc_pool *pool, const pc_image *frames, int n, const pc_image *img_a, const pc_image *img_b,
                        int k, int threshold, const pc_fms_options *opt, int *out_indices, int *out_n_selected,
                        pc_fms_frame_stats *stats, pc_error *err) {
    if (!out_n_selected || !img_a || !img_b || n < 0 || (n > 0 && !frames) || k < 0 || (k > 0 && !out_indices))
        return pc_err(err, PC_ERR_ARG, "fms: bad arguments (n %d, k %d)", n, k);
    *out_n_selected = 0;
    pc_fms_options defaults;
    if (!opt) {
        pc_fms_options_default(&defaults);
        opt = &defaults;
    }
    pc_fms_frame_stats *st = stats;
    if (!st) {
        st = (pc_fms_frame_stats *)calloc((size_t)(n ? n : 1), sizeof(*st));
        if (!st) return pc_err(err, PC_ERR_MEMORY, "fms: out of memory for %d frames", n);
    } else {
        memset(st, 0, sizeof(*st) * (size_t)n);
    }
    pc_orb_features fa = {0, NULL, NULL}, fb = {0, NULL, NULL};
    pc_status status = PC_OK;

    status = pc_orb_detect_two(pool, &fa, &fb, img_a, img_b, &opt->orb, err);
    if (status != PC_OK) pc_err_prefix(err, status, "fms: input ");

    if (status == PC_OK && n > 0) {
        fms_task *t = (fms_task *)calloc(1, sizeof(*t));
        if (!t) {
            status = pc_err(err, PC_ERR_MEMORY, "fms: out of memory");
        } else {
            t->frames = frames;
            t->n = n;
            t->opt = opt;
            t->fa = &fa;
            t->fb = &fb;
            t->stats = st;
            atomic_init(&t->next, 0);
            atomic_init(&t->failed, 0);
            pc_pool_run(pool, fms_worker, t);
            if (atomic_load(&t->failed)) status = pc_err(err, t->status, "%s", t->err.msg);
            free(t);
        }
    }

    if (status == PC_OK) {
        for (int i = 0; i < n; i++) {
            st[i].excluded =
                (opt->exclude && opt->exclude[i]) ||
                (opt->exclude_duplicates && (same_pixels(&frames[i], img_a) || same_pixels(&frames[i], img_b)));
        }
        // top k by S (>= threshold), ties to the lower index: repeated selection, n is small
        int nsel = 0;
        while (nsel < k) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (st[i].excluded || st[i].selected || st[i].score < threshold) continue;
                if (best < 0 || st[i].score > st[best].score) best = i;
            }
            if (best < 0) break;
            st[best].selected = 1;
            out_indices[nsel++] = best;
        }
        *out_n_selected = nsel;
    }
    pc_orb_features_free(&fa);
    pc_orb_features_free(&fb);
    if (st != stats) free(st);
    return status;
}
