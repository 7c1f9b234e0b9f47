// ORB keypoints + rBRIEF descriptors, following OpenCV 4.6 cv::ORB
// (modules/features2d/src/orb.cpp, fast.cpp) step by step so that keypoints
// and descriptors come out close to OpenCV's:
//   pyramid:      level i = resize(level i-1, INTER_LINEAR_EXACT), sizes round(W / 1.2^i)
//   budget:       nfeatures split over levels by the geometric series of 1/1.2
//   detection:    FAST-9 (threshold 20, 3x3 non-max) on each level, border 31 removed,
//                 best 2n by FAST score kept, re-scored by Harris (7x7, k 0.04), best n kept
//   orientation:  intensity centroid on the radius-15 disc (OpenCV's umax table)
//   descriptor:   7x7 sigma-2 Gaussian (float, reflect-101), rotated 256-pair test
// The pixel loops (resize, blur) only vectorize at -O3 with GCC 12.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "core/common.h"
#include "features/orb_pattern.h"
#include "posecrafter/features.h"

#include <float.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ORB_BORDER 32  // OpenCV: max(edgeThreshold, max(halfPatch, 9/2)) + 1
#define ORB_HALF_PATCH 15
#define ORB_MAX_LEVELS 16
#define ORB_PI 3.14159265358979323846

void pc_orb_default_params(pc_orb_params *p) {
    p->nfeatures = 500;
    p->scale_factor = 1.2f;
    p->nlevels = 8;
    p->edge_threshold = 31;
    p->fast_threshold = 20;
    p->harris = 1;
}

void pc_orb_features_free(pc_orb_features *f) {
    if (!f) return;
    free(f->kp);
    free(f->desc);
    f->kp = NULL;
    f->desc = NULL;
    f->n = 0;
}

void pc_rgb_to_gray_u8(uint8_t *out, const uint8_t *rgb, int w, int h, int channels) {
    // OpenCV cvtColor RGB2GRAY for 8U: weights 0.299/0.587/0.114 in Q14, rounded.
    size_t n = (size_t)w * (size_t)h;
    if (channels == 1) {
        memcpy(out, rgb, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgb + i * (size_t)channels;
        out[i] = (uint8_t)((p[0] * 4899 + p[1] * 9617 + p[2] * 1868 + (1 << 13)) >> 14);
    }
}

// OpenCV cvRound: round half to even (the SSE conversion under the default
// rounding mode, exactly what OpenCV's cvRound does on x86-64).
static inline int cv_round(float v) {
#ifdef __SSE2__
    return _mm_cvtss_si32(_mm_set_ss(v));
#else
    return (int)lrintf(v);
#endif
}

// OpenCV fastAtan2: polynomial atan2 in degrees, [0, 360).
static float fast_atan2_deg(float y, float x) {
    const float r2d = (float)(180.0 / ORB_PI);
    const float p1 = 0.9997878412794807f * r2d, p3 = -0.3258083974640975f * r2d;
    const float p5 = 0.1555786518463281f * r2d, p7 = -0.04432655554792128f * r2d;
    float ax = fabsf(x), ay = fabsf(y), a, c, c2;
    if (ax >= ay) {
        c = ay / (ax + (float)DBL_EPSILON);
        c2 = c * c;
        a = (((p7 * c2 + p5) * c2 + p3) * c2 + p1) * c;
    } else {
        c = ax / (ay + (float)DBL_EPSILON);
        c2 = c * c;
        a = 90.f - (((p7 * c2 + p5) * c2 + p3) * c2 + p1) * c;
    }
    if (x < 0) a = 180.f - a;
    if (y < 0) a = 360.f - a;
    return a;
}

// A padded 8-bit image: data points at pixel (0,0); ORB_BORDER pixels of
// reflect-101 border on every side.
typedef struct {
    uint8_t *data;
    int w, h, stride;
} level_img;

static int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * n - 2 - i;
    }
    return i;
}

// copyMakeBorder(..., BORDER_REFLECT_101) in place around the inner w x h.
static void fill_border(level_img *L) {
    int w = L->w, h = L->h, s = L->stride, B = ORB_BORDER;
    for (int y = 0; y < h; y++) {
        uint8_t *row = L->data + (ptrdiff_t)y * s;
        for (int x = 1; x <= B; x++) {
            row[-x] = row[reflect101(-x, w)];
            row[w - 1 + x] = row[reflect101(w - 1 + x, w)];
        }
    }
    for (int y = 1; y <= B; y++) {
        memcpy(L->data - (ptrdiff_t)y * s - B, L->data + (ptrdiff_t)reflect101(-y, h) * s - B, (size_t)(w + 2 * B));
        memcpy(L->data + (ptrdiff_t)(h - 1 + y) * s - B, L->data + (ptrdiff_t)reflect101(h - 1 + y, h) * s - B,
               (size_t)(w + 2 * B));
    }
}

// cv::resize(..., INTER_LINEAR_EXACT) for 8-bit gray: bilinear with weights
// rounded to Q8, horizontal pass kept in Q8 (16 bit), vertical in Q16, rounded.
// xofs/xw: (dw) and (dw, 2) scratch; hrow: (2, dw) scratch.
static void resize_linear_exact(level_img *dst, const level_img *src, int *xofs, uint16_t *xw, int *yofs, uint16_t *yw,
                                uint32_t *hrow) {
    int sw = src->w, sh = src->h, dw = dst->w, dh = dst->h;
    double sx = 1.0 / ((double)dw / sw), sy = 1.0 / ((double)dh / sh);
    for (int x = 0; x < dw; x++) {
        double f = (x + 0.5) * sx - 0.5;
        int i = (int)floor(f);
        f -= i;
        if (i < 0) {
            i = 0;
            f = 0;
        }
        if (i >= sw - 1) {
            i = sw - 1;
            f = 0;
        }
        int a1 = (int)lrint(f * 256.0);
        xofs[x] = i;
        xw[2 * x] = (uint16_t)(256 - a1);
        xw[2 * x + 1] = (uint16_t)a1;
    }
    for (int y = 0; y < dh; y++) {
        double f = (y + 0.5) * sy - 0.5;
        int i = (int)floor(f);
        f -= i;
        if (i < 0) {
            i = 0;
            f = 0;
        }
        if (i >= sh - 1) {
            i = sh - 1;
            f = 0;
        }
        int b1 = (int)lrint(f * 256.0);
        yofs[y] = i;
        yw[2 * y] = (uint16_t)(256 - b1);
        yw[2 * y + 1] = (uint16_t)b1;
    }
    uint32_t *h0 = hrow, *h1 = hrow + dw;
    int cached0 = -1, cached1 = -1;
    for (int y = 0; y < dh; y++) {
        int r0 = yofs[y], r1 = PC_MIN(r0 + 1, sh - 1);
        // horizontal pass for the two source rows (reuse what the last row computed)
        if (cached0 != r0) {
            if (cached1 == r0) {
                uint32_t *t = h0;
                h0 = h1;
                h1 = t;
                cached0 = r0;
                cached1 = -1;
            } else {
                const uint8_t *s = src->data + (ptrdiff_t)r0 * src->stride;
                for (int x = 0; x < dw; x++) {
                    int i = xofs[x];
                    h0[x] = (uint32_t)(s[i] * xw[2 * x] + s[i + 1] * xw[2 * x + 1]);  // s[sw]: border, weight 0
                }
                cached0 = r0;
            }
        }
        if (cached1 != r1) {
            const uint8_t *s = src->data + (ptrdiff_t)r1 * src->stride;
            for (int x = 0; x < dw; x++) {
                int i = xofs[x];
                h1[x] = (uint32_t)(s[i] * xw[2 * x] + s[i + 1] * xw[2 * x + 1]);
            }
            cached1 = r1;
        }
        uint8_t *d = dst->data + (ptrdiff_t)y * dst->stride;
        uint32_t b0 = yw[2 * y], b1 = yw[2 * y + 1];
        for (int x = 0; x < dw; x++) {
            uint32_t v = (h0[x] * b0 + h1[x] * b1 + (1u << 15)) >> 16;
            d[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

// ---- FAST-9 -----------------------------------------------------------------
// Circle of 16 pixels, radius 3, in circular order (OpenCV makeOffsets, 16).
static const int fast_dx[16] = {0, 1, 2, 3, 3, 3, 2, 1, 0, -1, -2, -3, -3, -3, -2, -1};
static const int fast_dy[16] = {3, 3, 2, 1, 0, -1, -2, -3, -3, -3, -2, -1, 0, 1, 2, 3};

// 1 when the 16-bit circular mask has 9 contiguous set bits.
static inline int has_arc9(uint32_t m) {
    uint32_t a = m | (m << 16);
    uint32_t r2 = a & (a >> 1);
    uint32_t r4 = r2 & (r2 >> 2);
    uint32_t r8 = r4 & (r4 >> 4);
    uint32_t r9 = r8 & (a >> 8);
    return (r9 & 0xFFFFu) != 0;
}

// fast.cpp cornerScore<16>: the largest threshold for which the pixel is still
// a corner, i.e. max over 9-arcs of min |difference| (same sign), minus one.
static int fast_score(const int *d) {
    // sliding min / max over the 16 circular windows of 9: windows of 2, 4, 8, then + 1
    int e[32], mn2[32], mx2[32], mn4[16], mx4[16];
    for (int k = 0; k < 16; k++) e[k] = e[k + 16] = d[k];
    for (int k = 0; k < 31; k++) {
        mn2[k] = e[k] < e[k + 1] ? e[k] : e[k + 1];
        mx2[k] = e[k] > e[k + 1] ? e[k] : e[k + 1];
    }
    for (int k = 0; k < 16; k++) {
        mn4[k] = mn2[k] < mn2[k + 2] ? mn2[k] : mn2[k + 2];
        mx4[k] = mx2[k] > mx2[k + 2] ? mx2[k] : mx2[k + 2];
    }
    int best = 0;
    for (int k = 0; k < 16; k++) {
        int a = mn4[k], b = mn4[(k + 4) & 15], c = e[k + 8];
        int mn = a < b ? a : b;
        mn = mn < c ? mn : c;  // bright arc k..k+8: every d >= mn
        int a2 = mx4[k], b2 = mx4[(k + 4) & 15];
        int mx = a2 > b2 ? a2 : b2;
        mx = mx > c ? mx : c;  // dark arc: every -d >= -mx
        if (mn > best) best = mn;
        if (-mx > best) best = -mx;
    }
    return best - 1;
}

typedef struct {
    int x, y;  // level coordinates
    float response;
    float angle;
} cand;

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = (const cand *)pa, *b = (const cand *)pb;
    if (a->response != b->response) return a->response > b->response ? -1 : 1;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    return a->x < b->x ? -1 : (a->x > b->x);
}

// KeyPointsFilter::retainBest: keep the best n by response plus every point
// tied with the n-th. Sorted output (response desc, then y, x).
static int retain_best(cand *c, int count, int n) {
    if (n < 0 || count <= n) {
        qsort(c, (size_t)count, sizeof(cand), cand_cmp);
        return count;
    }
    if (n == 0) return 0;
    qsort(c, (size_t)count, sizeof(cand), cand_cmp);
    float thr = c[n - 1].response;
    int k = n;
    while (k < count && c[k].response >= thr) k++;
    return k;
}

// Full FAST-9 test of one pixel: its score, or 0 when it is not a corner.
static inline uint8_t fast_full(const uint8_t *p, const int *ofs, int thr) {
    int v = p[0], hi = v + thr, lo = v - thr;
    int d[16];
    uint32_t mb = 0, md = 0;
    for (int k = 0; k < 16; k++) {
        int q = p[ofs[k]];
        d[k] = q - v;
        mb |= (uint32_t)(q > hi) << k;
        md |= (uint32_t)(q < lo) << k;
    }
    if (!has_arc9(mb) && !has_arc9(md)) return 0;
    return (uint8_t)fast_score(d);
}

// FAST-9 with non-max suppression on one level, keeping only points at least
// `edge` pixels from the level border (runByImageBorder). score: (h, w) scratch
// zeroed here. Returns the number of candidates written (<= cap).
static int fast_detect(cand *out, int cap, const level_img *L, int thr, int edge, uint8_t *score) {
    int w = L->w, h = L->h, s = L->stride;
    int ofs[16];
    for (int k = 0; k < 16; k++) ofs[k] = fast_dy[k] * s + fast_dx[k];
    // scores are needed on [edge-1, dim-edge] for the 3x3 non-max of [edge, dim-edge)
    int y0 = PC_MAX(edge - 1, 3), y1 = PC_MIN(h - edge + 1, h - 3);
    int x0 = PC_MAX(edge - 1, 3), x1 = PC_MIN(w - edge + 1, w - 3);
    if (y1 <= y0 || x1 <= x0) return 0;
    for (int y = y0 - 1; y <= y1; y++) memset(score + (size_t)y * w + x0 - 1, 0, (size_t)(x1 - x0 + 2));
    for (int y = y0; y < y1; y++) {
        const uint8_t *row = L->data + (ptrdiff_t)y * s;
        uint8_t *srow = score + (size_t)y * w;
        int x = x0;
#ifdef __SSE2__
        // 16 pixels at a time, OpenCV's necessary condition: every opposite pair (k, k+8) of the circle
        // has a member in any 9-arc, so a bright (dark) corner needs a bright (dark) pixel in each pair.
        const __m128i vt = _mm_set1_epi8((char)thr), zero = _mm_setzero_si128();
        for (; x + 16 <= x1; x += 16) {
            const uint8_t *p = row + x;
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i hi = _mm_adds_epu8(v, vt), lo = _mm_subs_epu8(v, vt);
            __m128i allb = _mm_set1_epi8(-1), alld = allb;
            static const int order[8] = {0, 4, 2, 6, 1, 3, 5, 7};  // compass pairs first: most pixels fail early
            for (int q = 0; q < 8; q++) {
                int k = order[q];
                __m128i c0 = _mm_loadu_si128((const __m128i *)(p + ofs[k]));
                __m128i c1 = _mm_loadu_si128((const __m128i *)(p + ofs[k + 8]));
                // bright: c > hi <=> subs(c, hi) != 0; dark: c < lo <=> subs(lo, c) != 0
                __m128i nb = _mm_and_si128(_mm_cmpeq_epi8(_mm_subs_epu8(c0, hi), zero),
                                           _mm_cmpeq_epi8(_mm_subs_epu8(c1, hi), zero));  // neither bright
                __m128i nd = _mm_and_si128(_mm_cmpeq_epi8(_mm_subs_epu8(lo, c0), zero),
                                           _mm_cmpeq_epi8(_mm_subs_epu8(lo, c1), zero));  // neither dark
                allb = _mm_andnot_si128(nb, allb);
                alld = _mm_andnot_si128(nd, alld);
                if (q == 1 && !_mm_movemask_epi8(_mm_or_si128(allb, alld))) break;
            }
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(allb, alld));
            while (m) {
                int xx = x + __builtin_ctz(m);
                m &= m - 1;
                srow[xx] = fast_full(row + xx, ofs, thr);
            }
        }
#endif
        for (; x < x1; x++) {
            const uint8_t *p = row + x;
            int v = p[0], hi = v + thr, lo = v - thr;
            int c0 = p[ofs[0]], c4 = p[ofs[4]], c8 = p[ofs[8]], c12 = p[ofs[12]];
            int nb = (c0 > hi) + (c4 > hi) + (c8 > hi) + (c12 > hi);
            int nd = (c0 < lo) + (c4 < lo) + (c8 < lo) + (c12 < lo);
            if (nb < 2 && nd < 2) continue;
            srow[x] = fast_full(p, ofs, thr);
        }
    }
    int n = 0;
    for (int y = edge; y < h - edge; y++) {
        const uint8_t *sr = score + (size_t)y * w;
        for (int x = edge; x < w - edge; x++) {
            int sc = sr[x];
            if (!sc) continue;
            const uint8_t *up = sr - w, *dn = sr + w;
            if (sc > sr[x - 1] && sc > sr[x + 1] && sc > up[x - 1] && sc > up[x] && sc > up[x + 1] && sc > dn[x - 1] &&
                sc > dn[x] && sc > dn[x + 1]) {
                if (n < cap) {
                    out[n].x = x;
                    out[n].y = y;
                    out[n].response = (float)sc;
                    out[n].angle = 0;
                }
                n++;
            }
        }
    }
    return PC_MIN(n, cap);
}

// orb.cpp HarrisResponses (block 7, Sobel-like 3x3 derivatives, k = 0.04).
static float harris_response(const level_img *L, int x, int y) {
    const int block = 7, r = block / 2;
    int s = L->stride;
    float scale = 1.0f / ((1 << 2) * block * 255.0f);
    float scale4 = scale * scale * scale * scale;
    int a = 0, b = 0, c = 0;
    for (int i = 0; i < block; i++) {
        const uint8_t *ptr = L->data + (ptrdiff_t)(y - r + i) * s + (x - r);
        for (int j = 0; j < block; j++, ptr++) {
            int ix = (ptr[1] - ptr[-1]) * 2 + (ptr[-s + 1] - ptr[-s - 1]) + (ptr[s + 1] - ptr[s - 1]);
            int iy = (ptr[s] - ptr[-s]) * 2 + (ptr[s - 1] - ptr[-s - 1]) + (ptr[s + 1] - ptr[-s + 1]);
            a += ix * ix;
            b += iy * iy;
            c += ix * iy;
        }
    }
    float fa = (float)a, fb = (float)b, fc = (float)c;
    return (fa * fb - fc * fc - 0.04f * (fa + fb) * (fa + fb)) * scale4;
}

// orb.cpp IC_Angle over the circular patch given by umax.
static float ic_angle(const level_img *L, int x, int y, const int *umax) {
    int m01 = 0, m10 = 0, s = L->stride;
    const uint8_t *c = L->data + (ptrdiff_t)y * s + x;
    for (int u = -ORB_HALF_PATCH; u <= ORB_HALF_PATCH; u++) m10 += u * c[u];
    for (int v = 1; v <= ORB_HALF_PATCH; v++) {
        int vsum = 0, d = umax[v];
        for (int u = -d; u <= d; u++) {
            int vp = c[u + v * s], vm = c[u - v * s];
            vsum += vp - vm;
            m10 += u * (vp + vm);
        }
        m01 += v * vsum;
    }
    return fast_atan2_deg((float)m01, (float)m10);
}

// Gaussian 7x7, sigma 2, as cv::getGaussianKernel(7, 2, CV_32F) builds it.
static void gauss7_kernel(float k[7]) {
    double g[7], sum = 0;
    for (int i = 0; i < 7; i++) {
        double x = i - 3;
        g[i] = exp(-0.5 / (2.0 * 2.0) * x * x);
        sum += g[i];
    }
    for (int i = 0; i < 7; i++) k[i] = (float)(g[i] * (1.0 / sum));
}

static void gauss_row(float *o, const uint8_t *r, int w, const float k[7]) {
    for (int x = 0; x < w; x++)
        o[x] = k[3] * (float)r[x + 3] + k[0] * (float)(r[x] + r[x + 6]) + k[1] * (float)(r[x + 1] + r[x + 5]) +
               k[2] * (float)(r[x + 2] + r[x + 4]);
}

// Blur the inner w x h of L (its border holds reflect-101 copies) into dst
// (w x h, row stride w). ORB blurs a pyramid ROI in place, which in OpenCV
// 4.6 takes the float separable-filter path (not the bit-exact fixed-point
// one): float rows, float columns, symmetric taps paired, rounded to nearest.
// ring: (7, w) scratch holding the horizontally filtered rows y-3 .. y+3.
static void gauss_blur(uint8_t *dst, const level_img *L, float *ring, const float k[7]) {
    int w = L->w, h = L->h, s = L->stride;
    for (int y = -3; y < 3; y++) gauss_row(ring + (size_t)((y + 7) % 7) * w, L->data + (ptrdiff_t)y * s - 3, w, k);
    for (int y = 0; y < h; y++) {
        gauss_row(ring + (size_t)((y + 3) % 7) * w, L->data + (ptrdiff_t)(y + 3) * s - 3, w, k);
        const float *r0 = ring + (size_t)((y + 4) % 7) * w, *r1 = ring + (size_t)((y + 5) % 7) * w;
        const float *r2 = ring + (size_t)((y + 6) % 7) * w, *r3 = ring + (size_t)(y % 7) * w;
        const float *r4 = ring + (size_t)((y + 1) % 7) * w, *r5 = ring + (size_t)((y + 2) % 7) * w;
        const float *r6 = ring + (size_t)((y + 3) % 7) * w;
        uint8_t *o = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float v = k[3] * r3[x] + k[0] * (r0[x] + r6[x]) + k[1] * (r1[x] + r5[x]) + k[2] * (r2[x] + r4[x]);
            // round half to even without a libm call (|v| < 2^22): vectorizes
            v = (v + 12582912.0f) - 12582912.0f;
            o[x] = (uint8_t)(v < 0.f ? 0 : v > 255.f ? 255 : (int)v);
        }
    }
}

// The 512 test points of the pattern as floats: point 2i is (x1, y1) of pair i, 2i+1 is (x2, y2).
typedef struct {
    float x[512], y[512];
} orb_points;

static void orb_points_init(orb_points *pt) {
    for (int i = 0; i < 256; i++) {
        pt->x[2 * i] = pc_orb_pattern31[i][0];
        pt->y[2 * i] = pc_orb_pattern31[i][1];
        pt->x[2 * i + 1] = pc_orb_pattern31[i][2];
        pt->y[2 * i + 1] = pc_orb_pattern31[i][3];
    }
}

// orb.cpp computeOrbDescriptor, WTA_K = 2: bit i = I(p1 rotated) < I(p2 rotated), the
// rotated offsets rounded with cvRound (x = px*a - py*b, y = px*b + py*a in float).
static void orb_descriptor(uint8_t *desc, const uint8_t *img, int stride, int x, int y, float angle_deg,
                           const orb_points *pt) {
    float ang = angle_deg * (float)(ORB_PI / 180.f);
    float a = (float)cos(ang), b = (float)sin(ang);
    const uint8_t *c = img + (ptrdiff_t)y * stride + x;
    int off[512];
#ifdef __SSE2__
    const __m128 va = _mm_set1_ps(a), vb = _mm_set1_ps(b), vs = _mm_set1_ps((float)stride);
    for (int j = 0; j < 512; j += 4) {
        __m128 px = _mm_loadu_ps(pt->x + j), py = _mm_loadu_ps(pt->y + j);
        __m128i ix = _mm_cvtps_epi32(_mm_sub_ps(_mm_mul_ps(px, va), _mm_mul_ps(py, vb)));
        __m128i iy = _mm_cvtps_epi32(_mm_add_ps(_mm_mul_ps(px, vb), _mm_mul_ps(py, va)));
        // iy * stride + ix is an integer below 2^24 in magnitude: exact in float
        __m128 o = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(iy), vs), _mm_cvtepi32_ps(ix));
        _mm_storeu_si128((__m128i *)(off + j), _mm_cvtps_epi32(o));
    }
#else
    for (int j = 0; j < 512; j++)
        off[j] = cv_round(pt->x[j] * b + pt->y[j] * a) * stride + cv_round(pt->x[j] * a - pt->y[j] * b);
#endif
    for (int i = 0; i < 32; i++) {
        int val = 0;
        const int *o = off + 16 * i;
        for (int j = 0; j < 8; j++) val |= (c[o[2 * j]] < c[o[2 * j + 1]]) << j;
        desc[i] = (uint8_t)val;
    }
}

pc_status pc_orb_detect_ws(pc_orb_features *out, pc_orb_workspace *ws, const uint8_t *gray, int w, int h, int stride,
                           const pc_orb_params *p, pc_error *err) {
    pc_orb_features_free(out);
    if (!ws || !gray || !p || w <= 0 || h <= 0 || stride < w)
        return pc_err(err, PC_ERR_ARG, "orb: bad image (%d x %d, stride %d)", w, h, stride);
    if (p->nlevels < 1 || p->nlevels > ORB_MAX_LEVELS || !(p->scale_factor > 1.0f) || p->scale_factor > 16.0f ||
        p->nfeatures < 0 || p->nfeatures > 1000000 || p->edge_threshold < 20 || p->edge_threshold > ORB_BORDER ||
        p->fast_threshold < 0 || p->fast_threshold > 254)
        return pc_err(
            err, PC_ERR_ARG,
            "orb: bad parameters (nfeatures %d in [0,1e6], nlevels %d in [1,%d], scale %g in (1,16], edge %d in "
            "[20,%d], fast %d in [0,254])",
            p->nfeatures, p->nlevels, ORB_MAX_LEVELS, (double)p->scale_factor, p->edge_threshold, ORB_BORDER,
            p->fast_threshold);
    if (w > (1 << 15) || h > (1 << 15)) return pc_err(err, PC_ERR_ARG, "orb: image %d x %d too large", w, h);

    const int nl = p->nlevels, B = ORB_BORDER, edge = p->edge_threshold;
    // ---- per-level sizes and budgets (orb.cpp computeKeyPoints)
    float lscale[ORB_MAX_LEVELS];
    int lw[ORB_MAX_LEVELS], lh[ORB_MAX_LEVELS], nper[ORB_MAX_LEVELS];
    double sf = (double)p->scale_factor;
    size_t pyr_bytes = 0, maxpix = 0;
    for (int l = 0; l < nl; l++) {
        lscale[l] = (float)pow(sf, (double)l);
        lw[l] = cv_round((float)w / lscale[l]);
        lh[l] = cv_round((float)h / lscale[l]);
        if (lw[l] < 1) lw[l] = 1;
        if (lh[l] < 1) lh[l] = 1;
        pyr_bytes += (size_t)(lw[l] + 2 * B) * (size_t)(lh[l] + 2 * B);
        if ((size_t)lw[l] * lh[l] > maxpix) maxpix = (size_t)lw[l] * lh[l];
    }
    {
        float factor = (float)(1.0 / sf);
        float nd = (float)p->nfeatures * (1 - factor) / (1 - (float)pow((double)factor, (double)nl));
        int sum = 0;
        for (int l = 0; l < nl - 1; l++) {
            nper[l] = cv_round(nd);
            sum += nper[l];
            nd *= factor;
        }
        nper[nl - 1] = PC_MAX(p->nfeatures - sum, 0);
    }

    // ---- scratch
    size_t maxw = (size_t)lw[0] + 2 * B, maxh = (size_t)lh[0] + 2 * B;
    int cand_cap = 0;
    for (int l = 0; l < nl; l++) cand_cap = PC_MAX(cand_cap, (lw[l] + 1) * (lh[l] + 1) / 4 + 16);
    int kept_cap = nl * 16 + 2 * p->nfeatures + 64;
    // all scratch in one block, reused across calls through the workspace (no page faults per frame)
    size_t sz_pyr = (pyr_bytes + 63) & ~(size_t)63, sz_pix = (maxpix + 63) & ~(size_t)63;
    size_t sz_h = (sizeof(float) * 7 * maxw + 63) & ~(size_t)63;
    size_t sz_ofs = (sizeof(int) * (maxw + maxh) * 2 + 63) & ~(size_t)63;
    size_t sz_w = (sizeof(uint16_t) * (maxw + maxh) * 2 + 63) & ~(size_t)63;
    size_t sz_hr = (sizeof(uint32_t) * maxw * 2 + 63) & ~(size_t)63;
    size_t sz_c = (sizeof(cand) * (size_t)cand_cap + 63) & ~(size_t)63;
    size_t need = sz_pyr + 2 * sz_pix + sz_h + sz_ofs + sz_w + sz_hr + sz_c;
    if (ws->cap < need) {
        pc_aligned_free(ws->mem);
        ws->mem = pc_aligned_alloc(need);
        ws->cap = ws->mem ? need : 0;
    }
    uint8_t *base = (uint8_t *)ws->mem;
    uint8_t *pyr = base, *score = NULL, *blur = NULL;
    float *hbuf = NULL;
    int *ofs = NULL;
    uint16_t *wts = NULL;
    uint32_t *hrow = NULL;
    cand *cands = NULL;
    if (base) {
        score = base + sz_pyr;
        blur = score + sz_pix;
        hbuf = (float *)(blur + sz_pix);
        ofs = (int *)((uint8_t *)hbuf + sz_h);
        wts = (uint16_t *)((uint8_t *)ofs + sz_ofs);
        hrow = (uint32_t *)((uint8_t *)wts + sz_w);
        cands = (cand *)((uint8_t *)hrow + sz_hr);
    }
    cand *kept = (cand *)malloc(sizeof(cand) * (size_t)kept_cap);
    pc_status st = PC_OK;
    if (!base || !kept) {
        st = pc_err(err, PC_ERR_MEMORY, "orb: out of memory for a %d x %d image", w, h);
        goto done;
    }

    // ---- pyramid (unblurred, reflect-101 borders)
    level_img L[ORB_MAX_LEVELS];
    {
        size_t off = 0;
        for (int l = 0; l < nl; l++) {
            L[l].w = lw[l];
            L[l].h = lh[l];
            L[l].stride = lw[l] + 2 * B;
            L[l].data = pyr + off + (size_t)B * L[l].stride + B;
            off += (size_t)L[l].stride * (size_t)(lh[l] + 2 * B);
        }
        for (int y = 0; y < h; y++)
            memcpy(L[0].data + (ptrdiff_t)y * L[0].stride, gray + (size_t)y * stride, (size_t)w);
        fill_border(&L[0]);
        for (int l = 1; l < nl; l++) {
            resize_linear_exact(&L[l], &L[l - 1], ofs, wts, ofs + maxw, wts + 2 * maxw, hrow);
            fill_border(&L[l]);
        }
    }

    // umax: end of each row of the radius-15 disc, made symmetric (orb.cpp)
    int umax[ORB_HALF_PATCH + 2];
    {
        int hp = ORB_HALF_PATCH, v, v0;
        int vmax = (int)floorf(hp * sqrtf(2.f) / 2 + 1), vmin = (int)ceilf(hp * sqrtf(2.f) / 2);
        for (v = 0; v <= vmax; ++v) umax[v] = (int)lrint(sqrt((double)hp * hp - v * v));
        for (v = hp, v0 = 0; v >= vmin; --v) {
            while (umax[v0] == umax[v0 + 1]) ++v0;
            umax[v] = v0;
            ++v0;
        }
    }

    // ---- detection per level
    int total = 0;
    int lstart[ORB_MAX_LEVELS + 1];
    for (int l = 0; l < nl; l++) {
        lstart[l] = total;
        if (nper[l] == 0) continue;
        int nc = fast_detect(cands, cand_cap, &L[l], p->fast_threshold, edge, score);
        if (p->harris) {
            nc = retain_best(cands, nc, 2 * nper[l]);
            for (int i = 0; i < nc; i++) cands[i].response = harris_response(&L[l], cands[i].x, cands[i].y);
        }
        nc = retain_best(cands, nc, nper[l]);
        if (total + nc > kept_cap) {
            int ncap = (total + nc) * 2;
            cand *nk = (cand *)realloc(kept, sizeof(cand) * (size_t)ncap);
            if (!nk) {
                st = pc_err(err, PC_ERR_MEMORY, "orb: out of memory for keypoints");
                goto done;
            }
            kept = nk;
            kept_cap = ncap;
        }
        for (int i = 0; i < nc; i++) {
            cands[i].angle = ic_angle(&L[l], cands[i].x, cands[i].y, umax);
            kept[total + i] = cands[i];
        }
        total += nc;
    }
    lstart[nl] = total;

    out->kp = (pc_keypoint *)malloc(sizeof(pc_keypoint) * (size_t)(total ? total : 1));
    out->desc = (uint8_t *)malloc((size_t)PC_ORB_DESC_BYTES * (size_t)(total ? total : 1));
    if (!out->kp || !out->desc) {
        pc_orb_features_free(out);
        st = pc_err(err, PC_ERR_MEMORY, "orb: out of memory for %d keypoints", total);
        goto done;
    }

    // ---- descriptors on the blurred levels
    float gk[7];
    gauss7_kernel(gk);
    orb_points pts;
    orb_points_init(&pts);
    for (int l = 0; l < nl; l++) {
        if (lstart[l + 1] == lstart[l]) continue;
        gauss_blur(blur, &L[l], hbuf, gk);
        for (int i = lstart[l]; i < lstart[l + 1]; i++) {
            const cand *c = &kept[i];
            pc_keypoint *k = &out->kp[i];
            k->x = (float)c->x * lscale[l];
            k->y = (float)c->y * lscale[l];
            k->size = 31.0f * lscale[l];
            k->angle = c->angle;
            k->response = c->response;
            k->octave = l;
            orb_descriptor(out->desc + (size_t)i * PC_ORB_DESC_BYTES, blur, lw[l], c->x, c->y, c->angle, &pts);
        }
    }
    out->n = total;

done:
    free(kept);
    return st;
}

void pc_orb_workspace_free(pc_orb_workspace *ws) {
    if (!ws) return;
    pc_aligned_free(ws->mem);
    free(ws->gray);
    memset(ws, 0, sizeof(*ws));
}

pc_status pc_orb_detect(pc_orb_features *out, const uint8_t *gray, int w, int h, int stride, const pc_orb_params *p,
                        pc_error *err) {
    pc_orb_workspace ws = {NULL, 0, NULL, 0};
    pc_status st = pc_orb_detect_ws(out, &ws, gray, w, h, stride, p, err);
    pc_orb_workspace_free(&ws);
    return st;
}
