// Synthetic textured scene rendered from two pinhole cameras (see synth.h).
#include "geometry/synth.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "geometry/linalg.h"

#define SYN_PI 3.14159265358979323846

typedef struct {
    double o[3], e1[3], e2[3], n[3];  // corner, edges, normal
    double l1, l2;                    // edge lengths
    int id;                           // texture id
} quad;

enum { MAX_QUADS = 32 };

typedef struct {
    quad q[MAX_QUADS];
    int nq;
    uint64_t seed;
} scene;

static void add_quad(scene *s, const double o[3], const double e1[3], const double e2[3]) {
    if (s->nq >= MAX_QUADS) return;
    quad *q = &s->q[s->nq];
    memcpy(q->o, o, sizeof(q->o));
    memcpy(q->e1, e1, sizeof(q->e1));
    memcpy(q->e2, e2, sizeof(q->e2));
    pc_v3_cross(q->n, e1, e2);
    pc_v3_normalize(q->n);
    q->l1 = pc_v3_norm(e1);
    q->l2 = pc_v3_norm(e2);
    q->id = s->nq++;
}

// axis-aligned box [lo, hi]
static void add_box(scene *s, const double lo[3], const double hi[3]) {
    double dx = hi[0] - lo[0], dy = hi[1] - lo[1], dz = hi[2] - lo[2];
    double ex[3] = {dx, 0, 0}, ey[3] = {0, dy, 0}, ez[3] = {0, 0, dz};
    double o1[3] = {lo[0], lo[1], hi[2]}, o2[3] = {hi[0], lo[1], lo[2]}, o3[3] = {lo[0], hi[1], lo[2]};
    add_quad(s, lo, ex, ey);  // z = lo (front)
    add_quad(s, o1, ex, ey);  // z = hi
    add_quad(s, lo, ez, ey);  // x = lo
    add_quad(s, o2, ez, ey);  // x = hi
    add_quad(s, lo, ex, ez);  // y = lo (top)
    add_quad(s, o3, ex, ez);  // y = hi
}

static uint64_t hash3(uint64_t seed, int64_t a, int64_t b, int64_t c) {
    return pc_mix64(seed ^ ((uint64_t)a * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)b * 0xC2B2AE3D27D4EB4Full) ^
                    ((uint64_t)c * 0x165667B19E3779F9ull));
}

// Two scales of random cells (in world units on the face) -> RGB in [0, 1].
static void texture(const scene *s, int id, double u, double v, double rgb[3]) {
    const double s1 = 0.23, s2 = 0.071;
    int64_t i1 = (int64_t)floor(u / s1), j1 = (int64_t)floor(v / s1);
    int64_t i2 = (int64_t)floor(u / s2 + 0.37), j2 = (int64_t)floor(v / s2 + 0.61);
    uint64_t h1 = hash3(s->seed, id * 7 + 1, i1, j1), h2 = hash3(s->seed + 99, id * 7 + 3, i2, j2);
    // most small cells inherit the big cell's colour, some get their own: T- and L-junctions
    int own = (h2 & 3) == 0;
    for (int k = 0; k < 3; k++) {
        double c1 = (double)((h1 >> (8 * k)) & 255) / 255.0;
        double c2 = (double)((h2 >> (8 * k + 8)) & 255) / 255.0;
        rgb[k] = own ? c2 : c1;
    }
}

// Nearest hit along o + s d; returns 0 on miss. rgb and depth along d.
static int cast(const scene *s, const double o[3], const double d[3], double rgb[3], double *tt) {
    double best = INFINITY;
    int bi = -1;
    double bu = 0, bv = 0;
    for (int k = 0; k < s->nq; k++) {
        const quad *q = &s->q[k];
        double den = pc_v3_dot(q->n, d);
        if (fabs(den) < 1e-12) continue;
        double w[3] = {q->o[0] - o[0], q->o[1] - o[1], q->o[2] - o[2]};
        double t = pc_v3_dot(q->n, w) / den;
        if (!(t > 1e-9) || t >= best) continue;
        double P[3] = {o[0] + t * d[0] - q->o[0], o[1] + t * d[1] - q->o[1], o[2] + t * d[2] - q->o[2]};
        double a = pc_v3_dot(P, q->e1) / (q->l1 * q->l1), b = pc_v3_dot(P, q->e2) / (q->l2 * q->l2);
        if (a < 0 || a > 1 || b < 0 || b > 1) continue;
        best = t;
        bi = k;
        bu = a * q->l1;
        bv = b * q->l2;
    }
    if (bi < 0) return 0;
    texture(s, s->q[bi].id, bu, bv, rgb);
    *tt = best;
    return 1;
}

// Render camera with centre c and camera-to-world rotation Rcw.
static void render(const scene *s, const pc_intrinsics *K, const double c[3], const double Rcw[9], int W, int H,
                   uint8_t *img, float *depth) {
    static const double sub[4][2] = {{-0.25, -0.25}, {0.25, -0.25}, {-0.25, 0.25}, {0.25, 0.25}};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double acc[3] = {0, 0, 0};
            for (int k = 0; k < 4; k++) {
                double dc[3] = {(x + sub[k][0] - K->cx) / K->fx, (y + sub[k][1] - K->cy) / K->fy, 1.0}, dw[3];
                pc_m3_mulv(dw, Rcw, dc);
                double rgb[3] = {0.5, 0.5, 0.5}, t;
                cast(s, c, dw, rgb, &t);
                for (int j = 0; j < 3; j++) acc[j] += rgb[j];
            }
            for (int j = 0; j < 3; j++) {
                double v = acc[j] * 0.25 * 255.0 + 0.5;
                img[((size_t)y * W + x) * 3 + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            if (depth) {
                // depth at the pixel centre (dc has z = 1, so the ray parameter is the z-depth)
                double dc[3] = {(x - K->cx) / K->fx, (y - K->cy) / K->fy, 1.0}, dw[3], rgb[3], t;
                pc_m3_mulv(dw, Rcw, dc);
                depth[(size_t)y * W + x] = cast(s, c, dw, rgb, &t) ? (float)t : 0.0f;
            }
        }
}

void pc_synth_params_default(pc_synth_params *p) {
    memset(p, 0, sizeof(*p));
    p->width = 640;
    p->height = 480;
    p->focal = 0;
    p->yaw_deg = 20;
    p->depth = 4;
    p->offset = 0;
    p->pitch_deg = 0;
    p->seed = 1;
}

void pc_synth_pair_free(pc_synth_pair *p) {
    if (!p) return;
    free(p->img_a);
    free(p->img_b);
    free(p->depth_a);
    free(p->depth_b);
    memset(p, 0, sizeof(*p));
}

int pc_synth_project_b(const pc_synth_pair *s, const double X[3], double uv[2]) {
    double Y[3];
    pc_m3_mulv(Y, s->R, X);
    for (int k = 0; k < 3; k++) Y[k] += s->t[k];
    if (!(Y[2] > 1e-9)) return 0;
    uv[0] = s->K.fx * Y[0] / Y[2] + s->K.cx;
    uv[1] = s->K.fy * Y[1] / Y[2] + s->K.cy;
    return 1;
}

pc_status pc_synth_pair_make(pc_synth_pair *out, const pc_synth_params *p, pc_error *err) {
    if (!out || !p) return pc_err(err, PC_ERR_ARG, "synth: NULL argument");
    memset(out, 0, sizeof(*out));
    if (p->width < 8 || p->height < 8 || p->width > 8192 || p->height > 8192)
        return pc_err(err, PC_ERR_ARG, "synth: image size %dx%d out of range [8, 8192]", p->width, p->height);
    if (!(p->depth > 0.5) || !isfinite(p->yaw_deg) || !isfinite(p->offset) || !isfinite(p->pitch_deg))
        return pc_err(err, PC_ERR_ARG, "synth: depth must be > 0.5 and angles finite");
    int W = p->width, H = p->height;
    double f = p->focal > 0 ? p->focal : 0.9 * W;
    pc_intrinsics K = {f, f, 0.5 * W - 0.5, 0.5 * H - 0.5};
    scene s;
    memset(&s, 0, sizeof(s));
    s.seed = p->seed;
    double D = p->depth;
    // floor y = +1 (large), boxes around C = (0, 0, D)
    {
        double o[3] = {-3 * D, 1.0, -D}, e1[3] = {6 * D, 0, 0}, e2[3] = {0, 0, 5 * D};
        add_quad(&s, o, e1, e2);
        double lo1[3] = {-0.8, -0.6, D - 0.8}, hi1[3] = {0.8, 1.0, D + 0.8};
        add_box(&s, lo1, hi1);
        double lo2[3] = {1.2, 0.1, D + 0.5}, hi2[3] = {2.0, 1.0, D + 1.3};
        add_box(&s, lo2, hi2);
        double lo3[3] = {-2.2, -0.3, D + 0.2}, hi3[3] = {-1.3, 1.0, D + 1.5};
        add_box(&s, lo3, hi3);
        // back wall far behind the boxes
        double ow[3] = {-3 * D, -3.0, 2.2 * D}, w1[3] = {6 * D, 0, 0}, w2[3] = {0, 4.0, 0};
        add_quad(&s, ow, w1, w2);
    }
    size_t npix = (size_t)W * H;
    out->img_a = malloc(npix * 3);
    out->img_b = malloc(npix * 3);
    out->depth_a = malloc(npix * sizeof(float));
    out->depth_b = malloc(npix * sizeof(float));
    if (!out->img_a || !out->img_b || !out->depth_a || !out->depth_b) {
        pc_synth_pair_free(out);
        return pc_err(err, PC_ERR_MEMORY, "synth: out of memory for %dx%d images", W, H);
    }
    out->width = W;
    out->height = H;
    out->K = K;
    // camera B: orbit by yaw about the vertical through C, then pitch, then shift
    double yaw = p->yaw_deg * SYN_PI / 180.0, pitch = p->pitch_deg * SYN_PI / 180.0;
    double ay[3] = {0, yaw, 0}, ax[3] = {pitch, 0, 0}, Ry[9], Rx[9], Rcw[9];
    pc_axis_angle_to_rot(Ry, ay);
    pc_axis_angle_to_rot(Rx, ax);
    pc_m3_mul(Rcw, Ry, Rx);
    double zc[3] = {Ry[2], Ry[5], Ry[8]}, xc[3] = {Rcw[0], Rcw[3], Rcw[6]};
    double cB[3];
    for (int k = 0; k < 3; k++) cB[k] = (k == 2 ? D : 0.0) - D * zc[k] + p->offset * xc[k];
    double cA[3] = {0, 0, 0}, I[9];
    pc_m3_identity(I);
    render(&s, &K, cA, I, W, H, out->img_a, out->depth_a);
    render(&s, &K, cB, Rcw, W, H, out->img_b, out->depth_b);
    // X_B = Rcw^T (X_A - cB)
    pc_m3_transpose(out->R, Rcw);
    pc_m3_mulv(out->t, out->R, cB);
    for (int k = 0; k < 3; k++) out->t[k] = -out->t[k];
    return PC_OK;
}
