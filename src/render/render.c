// Point-cloud renderer with pytorch3d 0.7.5 semantics as ViewCrafter uses it
// (pipeline step 5): PointsRasterizer (naive, bin_size 0) + PointsRenderer's
// weights + AlphaCompositor, then F.interpolate(bilinear) to the model size.
//
// Rasterisation is pixel-exact to pytorch3d's rasterize_points_python / the CPU
// kernel: the same float32 pixel centres (computed in double, as the python
// reference does, then rounded), the same strict dist2 < r^2 test in float32,
// and the same (z, index) order for the K kept hits. Instead of testing every
// point at every pixel we bucket points by the image rows their disc can touch
// (conservative range, exact test afterwards) and keep, per pixel, a sorted
// list of K slots. Buckets list points in increasing index, so ties in z keep
// the smaller index exactly as the reference does.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "render/render.h"
#include "posecrafter/render.h"

#define PC_RENDER_MAX_K 32

pc_render_settings pc_render_viewcrafter(int H, int W) {
    pc_render_settings s = {H, W, 0.01, 10};
    return s;
}

// pytorch3d pix_to_non_square_ndc(i, S1, S2), in double as the python reference computes it.
static double pix_to_ndc(int i, int S1, int S2) {
    double range = 2.0;
    if (S1 > S2) range = ((double)S1 / S2) * range;
    double off = range / 2.0;
    return -off + (range * i + off) / S1;
}

static pc_status check_settings(const pc_render_settings *s, pc_error *err) {
    if (!s || s->H < 1 || s->W < 1 || s->H > 16384 || s->W > 16384 || s->K < 1 || s->K > PC_RENDER_MAX_K ||
        !(s->radius > 0) || !isfinite(s->radius))
        return pc_err(err, PC_ERR_ARG, "render: bad settings (H %d, W %d, K %d, radius %g; want sizes 1..16384, K 1..%d)",
                      s ? s->H : 0, s ? s->W : 0, s ? s->K : 0, s ? s->radius : 0.0, PC_RENDER_MAX_K);
    return PC_OK;
}

// Conservative range of pixel indices i (0..n-1) whose centre c(i) = (n - 2i - 1) / S
// lies within r of p (one pixel of slack each side; the exact test decides).
// Returns 0 when empty.
static inline int pix_range(int *lo, int *hi, float p, double r, int n, int S) {
    double a = ((double)n - 1.0 - ((double)p + r) * S) * 0.5;
    double b = ((double)n - 1.0 - ((double)p - r) * S) * 0.5;
    if (!(b >= -1.0) || !(a <= n)) return 0;  // also rejects NaN
    // a, b in [-1 - 2rS, n + 2rS] here, so the int conversions are safe for sane r;
    // clamp first anyway. (int) truncation, - 1 / + 1: slack covers floor/ceil.
    if (a < -2) a = -2;
    if (b > n + 1) b = n + 1;
    int l = (int)a - 1, h = (int)b + 1;
    if (l < 0) l = 0;
    if (h > n - 1) h = n - 1;
    if (l > h) return 0;
    *lo = l, *hi = h;
    return 1;
}

typedef struct raster_ctx {
    const float *pts;
    int64_t P;
    const pc_render_settings *s;
    double r;
    float r2;
    const float *xf, *yf;   // (W), (H) pixel centres
    int64_t *counts;        // (nth, H) per-thread row counts, then start offsets
    int64_t *row_start;     // (H + 1)
    int32_t *list;          // bucket entries
    int16_t *rng;           // (P, 4) ylo, yhi, xlo, xhi; ylo > yhi when the point is not drawn
    int32_t *idx;
    float *zbuf, *dists;
    char *scratch;          // (nth) per-thread slot arrays, scratch_bytes each
    size_t scratch_bytes;
} raster_ctx;

static void raster_count(void *vctx, int ith, int nth) {
    raster_ctx *c = vctx;
    int64_t b, e;
    pc_split_range(c->P, ith, nth, &b, &e);
    const int H = c->s->H, W = c->s->W, S = c->s->H < c->s->W ? c->s->H : c->s->W;
    int64_t *cnt = c->counts + (int64_t)ith * H;
    memset(cnt, 0, (size_t)H * sizeof *cnt);
    for (int64_t p = b; p < e; p++) {
        const float *q = c->pts + 3 * p;
        int16_t *rg = c->rng + 4 * p;
        int ylo, yhi, xlo, xhi;
        rg[0] = 1, rg[1] = 0;
        if (!(q[2] >= 0) || !isfinite(q[0]) || !isfinite(q[1])) continue;
        if (!pix_range(&ylo, &yhi, q[1], c->r, H, S) || !pix_range(&xlo, &xhi, q[0], c->r, W, S)) continue;
        rg[0] = (int16_t)ylo, rg[1] = (int16_t)yhi, rg[2] = (int16_t)xlo, rg[3] = (int16_t)xhi;
        for (int y = ylo; y <= yhi; y++) cnt[y]++;
    }
}

static void raster_fill(void *vctx, int ith, int nth) {
    raster_ctx *c = vctx;
    int64_t b, e;
    pc_split_range(c->P, ith, nth, &b, &e);
    int64_t *pos = c->counts + (int64_t)ith * c->s->H;
    for (int64_t p = b; p < e; p++) {
        const int16_t *rg = c->rng + 4 * p;
        for (int y = rg[0]; y <= rg[1]; y++) c->list[pos[y]++] = (int32_t)p;
    }
}

static void raster_rows(void *vctx, int ith, int nth) {
    raster_ctx *c = vctx;
    const int H = c->s->H, W = c->s->W, K = c->s->K;
    int64_t b, e;
    pc_split_range(H, ith, nth, &b, &e);
    // Per-row slots of this worker: z, dist, index (W, K) and a count per pixel.
    char *base = c->scratch + (size_t)ith * c->scratch_bytes;
    float *sz = (float *)base, *sd = sz + (size_t)W * K;
    int32_t *si = (int32_t *)(sd + (size_t)W * K);
    int *cnt = (int *)(si + (size_t)W * K);
    for (int64_t yi = b; yi < e; yi++) {
        const float yfv = c->yf[yi];
        const int32_t *lst = c->list + c->row_start[yi];
        const int64_t nl = c->row_start[yi + 1] - c->row_start[yi];
        memset(cnt, 0, (size_t)W * sizeof *cnt);
        for (int64_t li = 0; li < nl; li++) {
            const int32_t p = lst[li];
            const float px = c->pts[3 * (int64_t)p], py = c->pts[3 * (int64_t)p + 1], pz = c->pts[3 * (int64_t)p + 2];
            int lo = c->rng[4 * (int64_t)p + 2], hi = c->rng[4 * (int64_t)p + 3];
            const float dy = py - yfv;
            const float dy2 = dy * dy;
            for (int xi = lo; xi <= hi; xi++) {
                const float dx = px - c->xf[xi];
                const float dx2 = dx * dx;
                const float d2 = dx2 + dy2;
                if (!(d2 < c->r2)) continue;
                const int j = xi;
                float *z = sz + j * K, *d = sd + j * K;
                int32_t *id = si + j * K;
                int n = cnt[j];
                if (n == K && !(pz < z[K - 1])) continue;
                int at = n < K ? n : K - 1;
                while (at > 0 && z[at - 1] > pz) {
                    z[at] = z[at - 1], d[at] = d[at - 1], id[at] = id[at - 1];
                    at--;
                }
                z[at] = pz, d[at] = d2, id[at] = p;
                if (n < K) cnt[j] = n + 1;
            }
        }
        for (int xi = 0; xi < W; xi++) {
            const int j = xi;
            const int64_t o = ((int64_t)yi * W + xi) * K;
            for (int k = 0; k < K; k++) {
                const int have = k < cnt[j];
                c->idx[o + k] = have ? si[j * K + k] : -1;
                if (c->zbuf) c->zbuf[o + k] = have ? sz[j * K + k] : -1.0f;
                if (c->dists) c->dists[o + k] = have ? sd[j * K + k] : -1.0f;
            }
        }
    }
}

// Workspace owned across frames by pc_render_points.
typedef struct raster_ws {
    float *xf, *yf;
    int64_t *counts, *row_start;
    int32_t *list;
    int64_t list_cap;
    int16_t *rng;
    int64_t rng_cap;
    char *scratch;
    size_t scratch_bytes;
    int nth;
} raster_ws;

static void ws_free(raster_ws *w) {
    free(w->xf), free(w->yf), free(w->counts), free(w->row_start), free(w->list), free(w->scratch), free(w->rng);
    memset(w, 0, sizeof *w);
}

static pc_status rasterize_ws(pc_pool *pool, raster_ws *w, int32_t *idx, float *zbuf, float *dists, const float *pts,
                              int64_t P, const pc_render_settings *s, pc_error *err) {
    const int H = s->H, W = s->W;
    if (P < 0 || P > INT32_MAX) return pc_err(err, PC_ERR_ARG, "render: %lld points (max %d)", (long long)P, INT32_MAX);
    int nth = pc_pool_size(pool);
    if (!w->xf) {
        w->xf = malloc((size_t)W * sizeof(float));
        w->yf = malloc((size_t)H * sizeof(float));
        w->counts = malloc((size_t)nth * H * sizeof(int64_t));
        w->row_start = malloc((size_t)(H + 1) * sizeof(int64_t));
        w->nth = nth;
        w->scratch_bytes = (size_t)W * s->K * (2 * sizeof(float) + sizeof(int32_t)) + (size_t)W * sizeof(int);
        w->scratch = malloc((size_t)nth * w->scratch_bytes);
        if (!w->xf || !w->yf || !w->counts || !w->row_start || !w->scratch) return pc_err(err, PC_ERR_MEMORY, "render: out of memory");
        for (int xi = 0; xi < W; xi++) w->xf[xi] = (float)pix_to_ndc(W - 1 - xi, W, H);
        for (int yi = 0; yi < H; yi++) w->yf[yi] = (float)pix_to_ndc(H - 1 - yi, H, W);
    }
    if (P > w->rng_cap) {
        free(w->rng);
        w->rng = malloc((size_t)P * 4 * sizeof(int16_t));
        if (!w->rng) {
            w->rng_cap = 0;
            return pc_err(err, PC_ERR_MEMORY, "render: out of memory (%lld points)", (long long)P);
        }
        w->rng_cap = P;
    }
    raster_ctx c = {0};
    c.rng = w->rng;
    c.pts = pts, c.P = P, c.s = s, c.r = s->radius;
    {
        const float rf = (float)s->radius;  // _format_radius: float32 tensor, squared in float32
        c.r2 = rf * rf;
    }
    c.xf = w->xf, c.yf = w->yf, c.counts = w->counts, c.row_start = w->row_start;
    c.idx = idx, c.zbuf = zbuf, c.dists = dists;
    c.scratch = w->scratch, c.scratch_bytes = w->scratch_bytes;
    pc_pool_run(pool, raster_count, &c);
    // Offsets: row-major over (row, thread) so each row lists points in index order.
    int64_t tot = 0;
    for (int y = 0; y < H; y++) {
        w->row_start[y] = tot;
        for (int t = 0; t < nth; t++) {
            int64_t n = w->counts[(int64_t)t * H + y];
            w->counts[(int64_t)t * H + y] = tot;
            tot += n;
        }
    }
    w->row_start[H] = tot;
    if (tot > w->list_cap) {
        free(w->list);
        w->list = malloc((size_t)(tot > 0 ? tot : 1) * sizeof(int32_t));
        if (!w->list) {
            w->list_cap = 0;
            return pc_err(err, PC_ERR_MEMORY, "render: out of memory (%lld bucket entries)", (long long)tot);
        }
        w->list_cap = tot;
    }
    c.list = w->list;
    pc_pool_run(pool, raster_fill, &c);
    pc_pool_run(pool, raster_rows, &c);
    return PC_OK;
}

pc_status pc_render_rasterize(pc_pool *pool, int32_t *idx, float *zbuf, float *dists, const float *pts_ndc, int64_t P,
                              const pc_render_settings *s, pc_error *err) {
    pc_status st = check_settings(s, err);
    if (st != PC_OK) return st;
    if (!idx || (P > 0 && !pts_ndc)) return pc_err(err, PC_ERR_ARG, "pc_render_rasterize: NULL buffer");
    raster_ws w = {0};
    st = rasterize_ws(pool, &w, idx, zbuf, dists, pts_ndc, P, s, err);
    ws_free(&w);
    return st;
}

// ---- compositing -------------------------------------------------------------------

typedef struct comp_ctx {
    float *img;
    const int32_t *idx;
    const float *dists, *feat, *bg;
    int C;
    const pc_render_settings *s;
} comp_ctx;

static void comp_rows(void *vctx, int ith, int nth) {
    comp_ctx *c = vctx;
    const int K = c->s->K, C = c->C;
    const int64_t npix = (int64_t)c->s->H * c->s->W;
    // PointsRenderer: weights = 1 - dists2 / (r * r), r*r a python double -> float32 divisor.
    const float rr = (float)(c->s->radius * c->s->radius);
    int64_t b, e;
    pc_split_range(npix, ith, nth, &b, &e);
    for (int64_t p = b; p < e; p++) {
        float *out = c->img + p * C;
        const int32_t *id = c->idx + p * K;
        const float *d = c->dists + p * K;
        for (int ch = 0; ch < C; ch++) out[ch] = 0;
        if (c->bg && id[0] < 0) {
            for (int ch = 0; ch < C; ch++) out[ch] = c->bg[ch];
            continue;
        }
        // alpha_composite_cpu: front to back, skipping empty slots.
        float cum = 1.0f;
        for (int k = 0; k < K; k++) {
            if (id[k] < 0) continue;
            const float q = d[k] / rr;
            const float a = 1.0f - q;
            const float *f = c->feat + (int64_t)id[k] * C;
            const float ca = cum * a;
            for (int ch = 0; ch < C; ch++) out[ch] += ca * f[ch];
            cum = cum * (1.0f - a);
        }
    }
}

void pc_render_composite(pc_pool *pool, float *img, const int32_t *idx, const float *dists, const float *feat, int C,
                         const pc_render_settings *s, const float *bg) {
    comp_ctx c = {img, idx, dists, feat, bg, C, s};
    pc_pool_run(pool, comp_rows, &c);
}

// ---- full render -------------------------------------------------------------------

typedef struct proj_ctx {
    float *out;
    const float *pts;
    int64_t P;
    const pc_p3d_camera *cam;
} proj_ctx;

static void proj_chunk(void *vctx, int ith, int nth) {
    proj_ctx *c = vctx;
    int64_t b, e;
    pc_split_range(c->P, ith, nth, &b, &e);
    pc_p3d_project(c->out + 3 * b, c->pts + 3 * b, e - b, c->cam);
}

pc_status pc_render_points_p3d(pc_pool *pool, float *images, const float *pts, const float *cols, int64_t P,
                               const pc_p3d_camera *cams, int n_cams, const pc_render_settings *s, const float *bg,
                               pc_error *err) {
    pc_status st = check_settings(s, err);
    if (st != PC_OK) return st;
    if (!images || !cams || n_cams < 0 || (P > 0 && (!pts || !cols)))
        return pc_err(err, PC_ERR_ARG, "pc_render_points: NULL buffer or bad camera count %d", n_cams);
    const int64_t npix = (int64_t)s->H * s->W;
    float *ndc = malloc((size_t)(P > 0 ? P : 1) * 3 * sizeof(float));  // (P, 3)
    int32_t *idx = malloc((size_t)npix * s->K * sizeof(int32_t));    // (H, W, K)
    float *dists = malloc((size_t)npix * s->K * sizeof(float));      // (H, W, K)
    raster_ws w = {0};
    if (!ndc || !idx || !dists) {
        st = pc_err(err, PC_ERR_MEMORY, "render: out of memory (%lld points, %dx%d)", (long long)P, s->H, s->W);
        goto done;
    }
    for (int v = 0; v < n_cams; v++) {
        if (cams[v].H != s->H || cams[v].W != s->W) {
            st = pc_err(err, PC_ERR_ARG, "render: camera %d image_size %dx%d != render size %dx%d", v, cams[v].H,
                        cams[v].W, s->H, s->W);
            goto done;
        }
        proj_ctx pc = {ndc, pts, P, &cams[v]};
        pc_pool_run(pool, proj_chunk, &pc);
        st = rasterize_ws(pool, &w, idx, NULL, dists, ndc, P, s, err);
        if (st != PC_OK) goto done;
        pc_render_composite(pool, images + (int64_t)v * npix * 3, idx, dists, cols, 3, s, bg);
    }
done:
    ws_free(&w);
    free(ndc), free(idx), free(dists);
    return st;
}

pc_status pc_render_points(pc_pool *pool, float *images, const float *pts, const float *cols, int64_t P,
                           const pc_camera *cams, int n_cams, const pc_render_settings *s, const float *bg,
                           pc_error *err) {
    pc_status st = check_settings(s, err);
    if (st != PC_OK) return st;
    if (!cams || n_cams < 0 || n_cams > 1000000) return pc_err(err, PC_ERR_ARG, "pc_render_points: bad cameras");
    pc_p3d_camera *pc = malloc((size_t)(n_cams > 0 ? n_cams : 1) * sizeof *pc);
    if (!pc) return pc_err(err, PC_ERR_MEMORY, "render: out of memory");
    for (int v = 0; v < n_cams; v++) pc_camera_to_p3d(&pc[v], &cams[v], s->H, s->W);
    st = pc_render_points_p3d(pool, images, pts, cols, P, pc, n_cams, s, bg, err);
    free(pc);
    return st;
}

// ---- upsampling and substitution ---------------------------------------------------------

// Same arithmetic as core/ops.c pc_resize_bilinear (PyTorch area_pixel_compute_source_index,
// align_corners=False, scale = in/out in float32), on channels-last frames.
static void up_index(float sc, int dst, int in, int *i0, int *i1, float *l1) {
    float src = sc * ((float)dst + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    float l = src - (float)i;
    *l1 = l < 0 ? 0 : l > 1 ? 1 : l;
}

typedef struct up_ctx {
    float *out;
    const float *in;
    int N, H, W, OH, OW;
} up_ctx;

static void up_rows(void *vctx, int ith, int nth) {
    up_ctx *c = vctx;
    const float sh = (float)c->H / (float)c->OH, sw = (float)c->W / (float)c->OW;
    int64_t b, e;
    pc_split_range((int64_t)c->N * c->OH, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        const int n = (int)(r / c->OH), oh = (int)(r % c->OH);
        int h0, h1;
        float lh;
        up_index(sh, oh, c->H, &h0, &h1, &lh);
        const float *x0 = c->in + (((int64_t)n * c->H + h0) * c->W) * 3;
        const float *x1 = c->in + (((int64_t)n * c->H + h1) * c->W) * 3;
        float *y = c->out + r * c->OW * 3;
        for (int ow = 0; ow < c->OW; ow++) {
            int w0, w1;
            float lw;
            up_index(sw, ow, c->W, &w0, &w1, &lw);
            for (int ch = 0; ch < 3; ch++)
                y[3 * ow + ch] = (1 - lh) * ((1 - lw) * x0[3 * w0 + ch] + lw * x0[3 * w1 + ch]) +
                                 lh * ((1 - lw) * x1[3 * w0 + ch] + lw * x1[3 * w1 + ch]);
        }
    }
}

pc_status pc_render_upsample(pc_pool *pool, float *out, const float *in, int N, int H, int W, int OH, int OW,
                             pc_error *err) {
    if (N < 0 || H < 1 || W < 1 || OH < 1 || OW < 1 || H > 16384 || W > 16384 || OH > 16384 || OW > 16384 || !out ||
        !in)
        return pc_err(err, PC_ERR_ARG, "pc_render_upsample: bad sizes %d x %dx%d -> %dx%d", N, H, W, OH, OW);
    up_ctx c = {out, in, N, H, W, OH, OW};
    pc_pool_run(pool, up_rows, &c);
    return PC_OK;
}

void pc_render_substitute(float *frames, int N, int H, int W, const float *const *images, const int *frame_idx,
                          int n_images) {
    const size_t fsz = (size_t)H * W * 3;
    for (int j = 0; j < n_images; j++) {
        if (frame_idx[j] < 0 || frame_idx[j] >= N || !images[j]) continue;
        memcpy(frames + (size_t)frame_idx[j] * fsz, images[j], fsz * sizeof(float));
    }
}
