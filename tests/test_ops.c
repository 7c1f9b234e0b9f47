// Fast kernels (ops.c) vs their reference twins (ops_ref.c) on random shapes,
// odd sizes included, with 1 and 2 threads; F32/F16/BF16 weights; attention
// over a long key sequence (blocked path) and strided token-major views.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "testutil.h"

static pc_test_rng rng = {12345};

static float *rnd(int64_t n, float scale) {
    float *x = malloc((size_t)PC_MAX(n, 1) * sizeof(float));
    if (!x) pc_test_fatal("out of memory");
    pc_test_fill(&rng, x, (size_t)n, scale);
    return x;
}
static float *zeros(int64_t n) {
    float *x = calloc((size_t)PC_MAX(n, 1), sizeof(float));
    if (!x) pc_test_fatal("out of memory");
    return x;
}

// Weights of n elements in dtype dt (random in [-scale, scale)).
static void *rnd_w(int64_t n, pc_dtype dt, float scale) {
    float *f = rnd(n, scale);
    if (dt == PC_F32) return f;
    uint16_t *h = malloc((size_t)PC_MAX(n, 1) * 2);
    if (!h) pc_test_fatal("out of memory");
    for (int64_t i = 0; i < n; i++) h[i] = dt == PC_F16 ? pc_f32_to_f16(f[i]) : pc_f32_to_bf16(f[i]);
    free(f);
    return h;
}

static const char *dtn(pc_dtype dt) { return pc_dtype_name(dt); }

// GEMM-based kernels: f32 accumulation over K terms vs double reference.
#define GTOL 2e-5, 1e-4

static void test_linear(pc_pool *pool) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 129}, {64, 48, 96}, {3, 257, 31}};
    const pc_dtype dts[3] = {PC_F32, PC_F16, PC_BF16};
    for (size_t s = 0; s < PC_ARRAY_LEN(shapes); s++)
        for (int t = 0; t < 3; t++) {
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *x = rnd(M * K, 1), *b = rnd(N, 1), *y = zeros(M * N), *r = zeros(M * N);
            void *w = rnd_w(N * K, dts[t], 0.5f);
            pc_wt W = {w, dts[t]};
            pc_linear(pool, y, x, W, s % 2 ? b : NULL, M, N, K);
            pc_linear_ref(r, x, W, s % 2 ? b : NULL, M, N, K);
            char name[96];
            snprintf(name, sizeof name, "linear M%lld N%lld K%lld %s", (long long)M, (long long)N, (long long)K, dtn(dts[t]));
            pc_test_close(name, y, r, (size_t)(M * N), GTOL);
            free(x), free(b), free(y), free(r), free(w);
        }
    // strided: write into columns [5, 5+N) of rows of length 40, read x rows of length 50
    int64_t M = 9, N = 17, K = 23;
    float *x = rnd(M * 50, 1), *y = zeros(M * 40), *xc = zeros(M * K), *r = zeros(M * N), *yc = zeros(M * N);
    float *w = rnd(N * K, 0.5f);
    for (int64_t m = 0; m < M; m++) memcpy(xc + m * K, x + m * 50 + 3, (size_t)K * 4);
    pc_linear_strided(pool, y + 5, 40, x + 3, 50, pc_wt_f32(w), NULL, M, N, K);
    pc_linear_ref(r, xc, pc_wt_f32(w), NULL, M, N, K);
    for (int64_t m = 0; m < M; m++) memcpy(yc + m * N, y + m * 40 + 5, (size_t)N * 4);
    pc_test_close("linear strided (ldx 50, ldy 40)", yc, r, (size_t)(M * N), GTOL);
    free(x), free(y), free(xc), free(r), free(yc), free(w);
}

typedef struct {
    int64_t B, Cin, H, W, Cout, KH, KW, sh, sw, ph, pw, dh, dw, g;
} conv_case;

static void test_conv2d(pc_pool *pool) {
    static const conv_case cases[] = {
        {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},       // 3x3 same
        {1, 4, 11, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2},      // stride 2, groups 2
        {1, 8, 5, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1},       // pointwise (direct GEMM)
        {2, 6, 4, 7, 9, 1, 1, 1, 1, 0, 0, 1, 1, 3},       // pointwise, groups 3
        {1, 6, 9, 13, 4, 5, 3, 1, 2, 2, 1, 2, 1, 2},      // dilation, asymmetric
        {1, 5, 10, 10, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5},     // depthwise
        {1, 3, 16, 16, 7, 4, 4, 4, 4, 0, 0, 1, 1, 1},     // patch embed
        {1, 4, 9, 8, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1},       // 1x1 stride 2
        {1, 3, 6, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1},       // 3x3 s2 p1 (ceil)
        {1, 256, 31, 40, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},   // several row tiles
        {1, 32, 3, 2, 4, 7, 7, 1, 1, 3, 3, 1, 1, 1},      // kernel larger than input
        {5, 16, 5, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1},     // small outputs: images batched in columns
        {7, 8, 3, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 1},       // pointwise, batched
        {3, 6, 9, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2},       // batched, strided, groups 2
        {20, 4, 5, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},      // batched in groups of 7, 7, 6
    };
    const pc_dtype dts[3] = {PC_F32, PC_F16, PC_BF16};
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        const conv_case *c = &cases[i];
        pc_conv2d_desc d = {c->B, c->Cin, c->H, c->W, c->Cout, c->KH, c->KW, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->g};
        pc_dtype dt = dts[i % 3];
        int64_t OH, OW, nw = c->Cout * (c->Cin / c->g) * c->KH * c->KW;
        pc_conv2d_out_size(&d, &OH, &OW);
        int64_t n = c->B * c->Cout * OH * OW;
        float *x = rnd(c->B * c->Cin * c->H * c->W, 1), *b = rnd(c->Cout, 1), *y = zeros(n), *r = zeros(n);
        void *w = rnd_w(nw, dt, 0.3f);
        pc_wt W = {w, dt};
        pc_error err;
        // every other case passes a caller workspace
        size_t wsb = pc_conv2d_workspace(&d);
        void *ws = (i % 2 && wsb) ? malloc(wsb) : NULL;
        pc_test_ok(pc_conv2d(pool, y, x, W, i % 3 ? b : NULL, &d, ws, ws ? wsb : 0, &err), &err, "conv2d");
        pc_conv2d_ref(r, x, W, i % 3 ? b : NULL, &d);
        char name[128];
        snprintf(name, sizeof name, "conv2d B%lld %lld->%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld %s",
                 (long long)c->B, (long long)c->Cin, (long long)c->Cout, (long long)c->H, (long long)c->W,
                 (long long)c->KH, (long long)c->KW, (long long)c->sh, (long long)c->sw, (long long)c->ph,
                 (long long)c->pw, (long long)c->dh, (long long)c->dw, (long long)c->g, dtn(dt));
        pc_test_close(name, y, r, (size_t)n, GTOL);
        free(x), free(b), free(y), free(r), free(w), free(ws);
    }
    // bad descriptors are rejected, not crashed on
    pc_error err;
    pc_conv2d_desc bad = pc_conv2d_make(1, 3, 4, 4, 4, 3, 3, 1, 0, 0);
    bad.groups = 2;
    PC_CHECK(pc_conv2d(pool, NULL, NULL, pc_wt_f32(NULL), NULL, &bad, NULL, 0, &err) == PC_ERR_ARG,
             "conv2d rejects groups not dividing channels: %s", err.msg);
    bad = pc_conv2d_make(1, 3, 2, 2, 4, 5, 5, 1, 0, 0);
    PC_CHECK(pc_conv2d(pool, NULL, NULL, pc_wt_f32(NULL), NULL, &bad, NULL, 0, &err) == PC_ERR_SHAPE,
             "conv2d rejects kernel larger than padded input: %s", err.msg);
}

static void test_convt2d(pc_pool *pool) {
    // B, Cin, H, W, Cout, KH, KW, stride, pad, out_pad, dil, groups
    static const int64_t cases[][12] = {
        {1, 8, 5, 7, 6, 4, 4, 4, 0, 0, 1, 1},   // DPT act_postprocess[0]
        {2, 6, 6, 5, 4, 2, 2, 2, 0, 0, 1, 1},   // DPT act_postprocess[1]
        {1, 4, 5, 5, 6, 3, 3, 2, 1, 1, 1, 2},   // overlapping, groups 2
        {1, 3, 4, 6, 2, 5, 3, 3, 2, 0, 2, 1},   // dilation
        {1, 5, 3, 3, 3, 1, 1, 1, 0, 0, 1, 1},   // 1x1
        {1, 2, 70, 40, 64, 2, 2, 2, 0, 0, 1, 1},   // several row tiles
    };
    const pc_dtype dts[3] = {PC_F32, PC_BF16, PC_F16};
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        const int64_t *c = cases[i];
        pc_convt2d_desc d = pc_convt2d_make(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        d.out_pad_h = d.out_pad_w = c[9];
        d.dil_h = d.dil_w = c[10];
        d.groups = c[11];
        pc_dtype dt = dts[i % 3];
        int64_t OH, OW;
        pc_convt2d_out_size(&d, &OH, &OW);
        int64_t n = d.B * d.Cout * OH * OW;
        float *x = rnd(d.B * d.Cin * d.H * d.W, 1), *b = rnd(d.Cout, 1), *y = zeros(n), *r = zeros(n);
        void *w = rnd_w(d.Cin * (d.Cout / d.groups) * d.KH * d.KW, dt, 0.3f);
        pc_wt W = {w, dt};
        pc_error err;
        pc_test_ok(pc_convt2d(pool, y, x, W, i % 2 ? NULL : b, &d, NULL, 0, &err), &err, "convt2d");
        pc_convt2d_ref(r, x, W, i % 2 ? NULL : b, &d);
        char name[128];
        snprintf(name, sizeof name, "conv_transpose2d %lld->%lld %lldx%lld k%lldx%lld s%lld p%lld op%lld d%lld g%lld %s",
                 (long long)c[1], (long long)c[4], (long long)c[2], (long long)c[3], (long long)c[5], (long long)c[6],
                 (long long)c[7], (long long)c[8], (long long)c[9], (long long)c[10], (long long)c[11], dtn(dt));
        pc_test_close(name, y, r, (size_t)n, GTOL);
        free(x), free(b), free(y), free(r), free(w);
    }
}

static void test_conv3d(pc_pool *pool) {
    // B, Cin, T, HW, Cout, KT, pad
    static const int64_t cases[][7] = {
        {2, 5, 6, 7, 4, 3, 1}, {1, 3, 5, 9, 6, 1, 0}, {1, 4, 7, 3, 2, 5, 2}, {1, 4, 3, 5, 3, 2, 0}, {1, 64, 16, 700, 3, 3, 1},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        const int64_t *c = cases[i];
        int64_t OT = c[2] + 2 * c[6] - c[5] + 1, n = c[0] * c[4] * OT * c[3];
        pc_dtype dt = i % 2 ? PC_F16 : PC_F32;
        float *x = rnd(c[0] * c[1] * c[2] * c[3], 1), *b = rnd(c[4], 1), *y = zeros(n), *r = zeros(n);
        void *w = rnd_w(c[4] * c[1] * c[5], dt, 0.3f);
        pc_wt W = {w, dt};
        pc_error err;
        pc_test_ok(pc_conv3d_t(pool, y, x, W, b, c[0], c[1], c[2], c[3], c[4], c[5], c[6], NULL, 0, &err), &err, "conv3d");
        pc_conv3d_t_ref(r, x, W, b, c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
        char name[96];
        snprintf(name, sizeof name, "conv3d (%lld,1,1) B%lld C%lld->%lld T%lld HW%lld pad %lld %s", (long long)c[5],
                 (long long)c[0], (long long)c[1], (long long)c[4], (long long)c[2], (long long)c[3], (long long)c[6],
                 dtn(dt));
        pc_test_close(name, y, r, (size_t)n, GTOL);
        free(x), free(b), free(y), free(r), free(w);
    }
}

static void test_norms(pc_pool *pool) {
    static const int64_t ln[][2] = {{1, 1}, {5, 7}, {33, 768}, {300, 1024}, {4, 1023}};
    for (size_t i = 0; i < PC_ARRAY_LEN(ln); i++) {
        int64_t M = ln[i][0], C = ln[i][1];
        float *x = rnd(M * C, 3), *g = rnd(C, 1), *b = rnd(C, 1), *y = zeros(M * C), *r = zeros(M * C);
        for (int64_t j = 0; j < M * C; j++) x[j] += 2.0f;  // non-zero mean
        const float *gg = i % 2 ? g : NULL, *bb = i % 3 ? b : NULL;
        pc_layer_norm(pool, y, x, gg, bb, M, C, 1e-6f);
        pc_layer_norm_ref(r, x, gg, bb, M, C, 1e-6f);
        char name[64];
        snprintf(name, sizeof name, "layer_norm M%lld C%lld", (long long)M, (long long)C);
        pc_test_close(name, y, r, (size_t)(M * C), 1e-5, 1e-5);
        // in place
        pc_layer_norm(pool, x, x, gg, bb, M, C, 1e-6f);
        pc_test_close("  in place", x, r, (size_t)(M * C), 1e-5, 1e-5);
        free(x), free(g), free(b), free(y), free(r);
    }
    // B, C, S, G
    static const int64_t gn[][4] = {{1, 4, 1, 1}, {2, 6, 7, 3}, {1, 320, 40 * 64, 32}, {2, 64, 17, 32}, {1, 9, 13, 9}};
    for (size_t i = 0; i < PC_ARRAY_LEN(gn); i++) {
        int64_t B = gn[i][0], C = gn[i][1], S = gn[i][2], G = gn[i][3], n = B * C * S;
        float *x = rnd(n, 2), *g = rnd(C, 1), *b = rnd(C, 1), *y = zeros(n), *r = zeros(n);
        for (int64_t j = 0; j < n; j++) x[j] += 1.0f;
        for (int silu = 0; silu < 2; silu++) {
            const float *gg = (i + silu) % 2 ? g : NULL, *bb = (i + silu) % 2 ? b : NULL;
            pc_group_norm(pool, y, x, gg, bb, B, C, S, G, 1e-5f, silu);
            pc_group_norm_ref(r, x, gg, bb, B, C, S, G, 1e-5f, silu);
            char name[80];
            snprintf(name, sizeof name, "group_norm B%lld C%lld S%lld G%lld%s", (long long)B, (long long)C, (long long)S,
                     (long long)G, silu ? " + silu" : "");
            pc_test_close(name, y, r, (size_t)n, 1e-5, 1e-5);
        }
        free(x), free(g), free(b), free(y), free(r);
    }
    static const int64_t sm[][2] = {{1, 1}, {3, 17}, {64, 2560}, {2, 77}};
    for (size_t i = 0; i < PC_ARRAY_LEN(sm); i++) {
        int64_t M = sm[i][0], N = sm[i][1];
        float *x = rnd(M * N, 20), *y = zeros(M * N), *r = zeros(M * N);
        pc_softmax(pool, y, x, M, N);
        pc_softmax_ref(r, x, M, N);
        char name[64];
        snprintf(name, sizeof name, "softmax M%lld N%lld", (long long)M, (long long)N);
        pc_test_close(name, y, r, (size_t)(M * N), 1e-7, 1e-5);
        free(x), free(y), free(r);
    }
}

static void test_activations(pc_pool *pool) {
    const int64_t ns[] = {1, 15, 17, 100003};
    for (size_t i = 0; i < PC_ARRAY_LEN(ns); i++) {
        int64_t n = ns[i];
        float *x = rnd(n, 8), *y = zeros(n), *r = zeros(n);
        if (n > 100) x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -1e-8f;
        char name[64];
        pc_gelu(pool, y, x, n);
        pc_gelu_ref(r, x, n);
        snprintf(name, sizeof name, "gelu n%lld", (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 2e-6);
        pc_silu(pool, y, x, n);
        pc_silu_ref(r, x, n);
        snprintf(name, sizeof name, "silu n%lld", (long long)n);
        pc_test_close(name, y, r, (size_t)n, 1e-6, 2e-6);
        pc_relu(pool, y, x, n);
        pc_relu_ref(r, x, n);
        snprintf(name, sizeof name, "relu n%lld", (long long)n);
        pc_test_close(name, y, r, (size_t)n, 0, 0);
        pc_silu_ref(r, x, n);
        pc_silu(pool, x, x, n);  // in place
        pc_test_close("  silu in place", x, r, (size_t)n, 1e-6, 2e-6);
        free(x), free(y), free(r);
    }
    static const int64_t gg[][2] = {{1, 1}, {5, 13}, {77, 1280}};
    for (size_t i = 0; i < PC_ARRAY_LEN(gg); i++) {
        int64_t M = gg[i][0], F = gg[i][1];
        float *h = rnd(M * 2 * F, 4), *y = zeros(M * F), *r = zeros(M * F);
        pc_geglu(pool, y, h, M, F);
        pc_geglu_ref(r, h, M, F);
        char name[64];
        snprintf(name, sizeof name, "geglu M%lld F%lld", (long long)M, (long long)F);
        pc_test_close(name, y, r, (size_t)(M * F), 1e-6, 2e-6);
        free(h), free(y), free(r);
    }
    // elementwise helpers against plain loops
    int64_t n = 40001;
    float *a = rnd(n, 1), *b = rnd(n, 1), *y = zeros(n), *r = zeros(n);
    pc_add(pool, y, a, b, n);
    for (int64_t i = 0; i < n; i++) r[i] = a[i] + b[i];
    pc_test_close("add", y, r, (size_t)n, 0, 0);
    pc_mul(pool, y, a, b, n);
    for (int64_t i = 0; i < n; i++) r[i] = a[i] * b[i];
    pc_test_close("mul", y, r, (size_t)n, 0, 0);
    pc_scale(pool, y, a, 0.3f, n);
    for (int64_t i = 0; i < n; i++) r[i] = 0.3f * a[i];
    pc_test_close("scale", y, r, (size_t)n, 0, 0);
    memcpy(y, b, (size_t)n * 4);
    pc_axpy(pool, y, a, -1.5f, n);
    for (int64_t i = 0; i < n; i++) r[i] = b[i] + -1.5f * a[i];
    pc_test_close("axpy", y, r, (size_t)n, 0, 0);
    // channel bias on (3, 7, 1904)
    memcpy(y, a, (size_t)n * 4);
    pc_add_channel_bias(pool, y, b, 3, 7, 1904);
    for (int64_t i = 0; i < 3 * 7 * 1904; i++) r[i] = a[i] + b[i / 1904 % 7];
    pc_test_close("add_channel_bias", y, r, (size_t)(3 * 7 * 1904), 0, 0);
    free(a), free(b), free(y), free(r);
}

static void test_attention(pc_pool *pool) {
    // B, H, Nq, Nk, D
    static const int64_t cases[][5] = {
        {1, 1, 1, 1, 8}, {2, 3, 5, 7, 16}, {1, 2, 130, 77, 40}, {1, 1, 70, 4096, 64}, {2, 2, 257, 300, 64}, {1, 3, 65, 513, 33},
    };
    pc_error err;
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        int64_t B = cases[i][0], H = cases[i][1], Nq = cases[i][2], Nk = cases[i][3], D = cases[i][4];
        float *q = rnd(B * H * Nq * D, 2), *k = rnd(B * H * Nk * D, 2), *v = rnd(B * H * Nk * D, 1);
        float *o = zeros(B * H * Nq * D), *r = zeros(B * H * Nq * D);
        float scale = 1.0f / sqrtf((float)D);
        pc_test_ok(pc_attention(pool, pc_attn_bhnd(o, H, Nq, D), pc_attn_bhnd(q, H, Nq, D), pc_attn_bhnd(k, H, Nk, D),
                                pc_attn_bhnd(v, H, Nk, D), B, H, Nq, Nk, D, scale, &err),
                   &err, "attention");
        pc_attention_ref(pc_attn_bhnd(r, H, Nq, D), pc_attn_bhnd(q, H, Nq, D), pc_attn_bhnd(k, H, Nk, D),
                         pc_attn_bhnd(v, H, Nk, D), B, H, Nq, Nk, D, scale);
        char name[96];
        snprintf(name, sizeof name, "attention B%lld H%lld Nq%lld Nk%lld D%lld", (long long)B, (long long)H, (long long)Nq,
                 (long long)Nk, (long long)D);
        pc_test_close(name, o, r, (size_t)(B * H * Nq * D), 2e-6, 1e-4);
        free(q), free(k), free(v), free(o), free(r);
    }
    {  // packed qkv (B, N, 3, H, D) self-attention, output token-major (B, N, H*D)
        int64_t B = 2, N = 300, H = 3, D = 24, row = 3 * H * D;
        float *qkv = rnd(B * N * row, 2), *o = zeros(B * N * H * D), *r = zeros(B * N * H * D);
        pc_attn_view q = pc_attn_tokens(qkv, N, row, 0, D), k = pc_attn_tokens(qkv, N, row, H * D, D),
                     v = pc_attn_tokens(qkv, N, row, 2 * H * D, D), ov = pc_attn_tokens(o, N, H * D, 0, D),
                     rv = pc_attn_tokens(r, N, H * D, 0, D);
        pc_test_ok(pc_attention(pool, ov, q, k, v, B, H, N, N, D, 0.2f, &err), &err, "attention");
        pc_attention_ref(rv, q, k, v, B, H, N, N, D, 0.2f);
        pc_test_close("attention packed qkv (B,N,3,H,D) -> (B,N,H*D)", o, r, (size_t)(B * N * H * D), 2e-6, 1e-4);
        free(qkv), free(o), free(r);
    }
    {  // large logits: the online softmax must rescale without overflow
        int64_t Nq = 9, Nk = 1000, D = 16;
        float *q = rnd(Nq * D, 30), *k = rnd(Nk * D, 30), *v = rnd(Nk * D, 1), *o = zeros(Nq * D), *r = zeros(Nq * D);
        pc_test_ok(pc_attention(pool, pc_attn_bhnd(o, 1, Nq, D), pc_attn_bhnd(q, 1, Nq, D), pc_attn_bhnd(k, 1, Nk, D),
                                pc_attn_bhnd(v, 1, Nk, D), 1, 1, Nq, Nk, D, 1.0f, &err),
                   &err, "attention");
        pc_attention_ref(pc_attn_bhnd(r, 1, Nq, D), pc_attn_bhnd(q, 1, Nq, D), pc_attn_bhnd(k, 1, Nk, D),
                         pc_attn_bhnd(v, 1, Nk, D), 1, 1, Nq, Nk, D, 1.0f);
        pc_test_close("attention with logits up to ~1e4", o, r, (size_t)(Nq * D), 1e-5, 1e-3);
        free(q), free(k), free(v), free(o), free(r);
    }
}

static void test_rope(pc_pool *pool) {
    // B, H, N, D
    static const int64_t cases[][4] = {{1, 1, 1, 4}, {2, 3, 7, 32}, {2, 12, 24 * 32, 64}, {1, 2, 5, 12}};
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        int64_t B = cases[i][0], H = cases[i][1], N = cases[i][2], D = cases[i][3], n = B * H * N * D;
        int64_t *pos = malloc((size_t)(B * N * 2) * sizeof(int64_t));
        if (!pos) pc_test_fatal("oom");
        for (int64_t j = 0; j < B * N; j++) {
            pos[2 * j] = j % N / 32;
            pos[2 * j + 1] = (int64_t)(pc_test_next(&rng) % 64);
        }
        float *t = rnd(n, 1), *r = malloc((size_t)n * sizeof(float));
        if (!r) pc_test_fatal("oom");
        memcpy(r, t, (size_t)n * sizeof(float));
        pc_rope2d(pool, pc_attn_bhnd(t, H, N, D), pos, B, H, N, D, 100.0f);
        pc_rope2d_ref(pc_attn_bhnd(r, H, N, D), pos, B, H, N, D, 100.0f);
        char name[64];
        snprintf(name, sizeof name, "rope2d B%lld H%lld N%lld D%lld", (long long)B, (long long)H, (long long)N, (long long)D);
        pc_test_close(name, t, r, (size_t)n, 0, 0);
        free(t), free(r), free(pos);
    }
    {  // on q inside a packed (B, N, 3, H, D) buffer: only q's columns change
        int64_t B = 1, N = 6, H = 2, D = 8, row = 3 * H * D;
        int64_t pos[12] = {0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1};
        float *qkv = rnd(B * N * row, 1), *t = malloc((size_t)(B * N * row) * sizeof(float));
        float *q = malloc((size_t)(H * N * D) * sizeof(float));
        if (!t || !q) pc_test_fatal("oom");
        memcpy(t, qkv, (size_t)(B * N * row) * sizeof(float));
        for (int64_t h = 0; h < H; h++)
            for (int64_t nn = 0; nn < N; nn++) memcpy(q + (h * N + nn) * D, qkv + nn * row + h * D, (size_t)D * 4);
        pc_rope2d(pool, pc_attn_tokens(t, N, row, 0, D), pos, B, H, N, D, 100.0f);
        pc_rope2d_ref(pc_attn_bhnd(q, H, N, D), pos, B, H, N, D, 100.0f);
        int same = 1;
        for (int64_t nn = 0; nn < N; nn++) {
            for (int64_t h = 0; h < H; h++)
                same &= !memcmp(q + (h * N + nn) * D, t + nn * row + h * D, (size_t)D * 4);
            same &= !memcmp(qkv + nn * row + H * D, t + nn * row + H * D, (size_t)(2 * H * D) * 4);
        }
        PC_CHECK(same, "rope2d on a strided q view inside packed qkv (k, v untouched)");
        free(qkv), free(t), free(q);
    }
}

static void test_resample(pc_pool *pool) {
    // NC, H, W, OH, OW, align, scale
    static const double cases[][7] = {
        {3, 5, 7, 10, 14, 1, 2}, {3, 5, 7, 10, 14, 0, 2}, {2, 9, 4, 4, 11, 0, 0}, {1, 1, 1, 3, 5, 1, 0},
        {2, 6, 6, 1, 1, 1, 0},   {4, 33, 17, 49, 25, 0, 1.5}, {64, 40, 64, 80, 128, 1, 2},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        int64_t NC = (int64_t)cases[i][0], H = (int64_t)cases[i][1], W = (int64_t)cases[i][2];
        int64_t OH = (int64_t)cases[i][3], OW = (int64_t)cases[i][4];
        int ac = (int)cases[i][5];
        double s = cases[i][6];
        float *x = rnd(NC * H * W, 1), *y = zeros(NC * OH * OW), *r = zeros(NC * OH * OW);
        char name[96];
        pc_resize_bilinear(pool, y, x, NC, H, W, OH, OW, ac, s, s);
        pc_resize_bilinear_ref(r, x, NC, H, W, OH, OW, ac, s, s);
        snprintf(name, sizeof name, "bilinear %lldx%lld -> %lldx%lld ac=%d scale=%g", (long long)H, (long long)W,
                 (long long)OH, (long long)OW, ac, s);
        pc_test_close(name, y, r, (size_t)(NC * OH * OW), 0, 0);
        pc_upsample_nearest(pool, y, x, NC, H, W, OH, OW, s, s);
        pc_upsample_nearest_ref(r, x, NC, H, W, OH, OW, s, s);
        snprintf(name, sizeof name, "nearest %lldx%lld -> %lldx%lld scale=%g", (long long)H, (long long)W, (long long)OH,
                 (long long)OW, s);
        pc_test_close(name, y, r, (size_t)(NC * OH * OW), 0, 0);
        free(x), free(y), free(r);
    }
    static const int64_t ps[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 2}, {1, 4, 40, 64, 3}};
    for (size_t i = 0; i < PC_ARRAY_LEN(ps); i++) {
        int64_t B = ps[i][0], C = ps[i][1], H = ps[i][2], W = ps[i][3], rr = ps[i][4], n = B * C * H * W * rr * rr;
        float *x = rnd(n, 1), *y = zeros(n), *r = zeros(n);
        pc_pixel_shuffle(pool, y, x, B, C, H, W, rr);
        pc_pixel_shuffle_ref(r, x, B, C, H, W, rr);
        char name[64];
        snprintf(name, sizeof name, "pixel_shuffle B%lld C%lld %lldx%lld r%lld", (long long)B, (long long)C, (long long)H,
                 (long long)W, (long long)rr);
        pc_test_close(name, y, r, (size_t)n, 0, 0);
        free(x), free(y), free(r);
    }
}

static void test_layout(pc_pool *pool) {
    static const int64_t tr[][3] = {{1, 1, 1}, {2, 37, 70}, {3, 768, 64}};
    for (size_t i = 0; i < PC_ARRAY_LEN(tr); i++) {
        int64_t B = tr[i][0], R = tr[i][1], C = tr[i][2], n = B * R * C;
        float *x = rnd(n, 1), *y = zeros(n), *r = zeros(n), *back = zeros(n);
        pc_transpose(pool, y, x, B, R, C);
        pc_transpose_ref(r, x, B, R, C);
        char name[64];
        snprintf(name, sizeof name, "transpose B%lld %lldx%lld", (long long)B, (long long)R, (long long)C);
        pc_test_close(name, y, r, (size_t)n, 0, 0);
        pc_transpose(pool, back, y, B, C, R);
        pc_test_close("  round trip", back, x, (size_t)n, 0, 0);
        free(x), free(y), free(r), free(back);
    }
    {  // permute (B, N, 3, H, D) -> (3, B, H, N, D) through a tensor view
        int64_t shape[5] = {2, 5, 3, 4, 7}, n = 2 * 5 * 3 * 4 * 7;
        float *x = rnd(n, 1), *y = zeros(n), *r = zeros(n);
        pc_tensor t = pc_tensor_view(x, PC_F32, 5, shape), p;
        const int perm[5] = {2, 0, 3, 1, 4};
        pc_error err;
        pc_test_ok(pc_tensor_permute(&p, &t, perm, &err), &err, "permute view");
        pc_test_ok(pc_copy_strided(pool, y, &p, &err), &err, "copy_strided");
        int64_t i = 0;
        for (int64_t s = 0; s < 3; s++)
            for (int64_t b = 0; b < 2; b++)
                for (int64_t h = 0; h < 4; h++)
                    for (int64_t nn = 0; nn < 5; nn++)
                        for (int64_t d = 0; d < 7; d++) r[i++] = x[(((b * 5 + nn) * 3 + s) * 4 + h) * 7 + d];
        pc_test_close("copy_strided permute (2,0,3,1,4)", y, r, (size_t)n, 0, 0);
        free(x), free(y), free(r);
    }
    {  // concat / slice along channels
        int64_t B = 2, S = 11, Cs[3] = {3, 1, 5}, Ct = 9;
        float *a = rnd(B * 3 * S, 1), *b = rnd(B * 1 * S, 1), *c = rnd(B * 5 * S, 1), *y = zeros(B * Ct * S);
        float *r = zeros(B * Ct * S), *sl = zeros(B * Ct * S);
        const float *xs[3] = {a, b, c};
        pc_concat_channels(pool, y, xs, Cs, 3, B, S);
        for (int64_t bb = 0; bb < B; bb++) {
            memcpy(r + (bb * Ct) * S, a + bb * 3 * S, (size_t)(3 * S) * 4);
            memcpy(r + (bb * Ct + 3) * S, b + bb * S, (size_t)S * 4);
            memcpy(r + (bb * Ct + 4) * S, c + bb * 5 * S, (size_t)(5 * S) * 4);
        }
        pc_test_close("concat_channels 3+1+5", y, r, (size_t)(B * Ct * S), 0, 0);
        pc_slice_channels(pool, sl, y, B, Ct, S, 4, 5);
        pc_test_close("slice_channels [4, 9)", sl, c, (size_t)(B * 5 * S), 0, 0);
        free(a), free(b), free(c), free(y), free(r), free(sl);
    }
}

// The fast kernels split work so that each output element is computed the
// same way whatever the thread count: 1 and 2 threads give identical bits.
static void test_thread_invariance(pc_pool *pool2) {
    pc_error err;
    pc_conv2d_desc d = pc_conv2d_make(1, 64, 23, 37, 48, 3, 3, 1, 1, 1);
    int64_t n = 48 * 23 * 37;
    float *x = rnd(64 * 23 * 37, 1), *w = rnd(48 * 64 * 9, 0.2f), *b = rnd(48, 1), *y1 = zeros(n), *y2 = zeros(n);
    pc_test_ok(pc_conv2d(NULL, y1, x, pc_wt_f32(w), b, &d, NULL, 0, &err), &err, "conv2d");
    pc_test_ok(pc_conv2d(pool2, y2, x, pc_wt_f32(w), b, &d, NULL, 0, &err), &err, "conv2d");
    PC_CHECK(!memcmp(y1, y2, (size_t)n * 4), "conv2d: 1 and 2 threads bit-identical");
    free(x), free(w), free(b), free(y1), free(y2);
    int64_t H = 3, N = 200, Nk = 333, D = 64;
    float *q = rnd(H * N * D, 1), *k = rnd(H * Nk * D, 1), *v = rnd(H * Nk * D, 1), *o1 = zeros(H * N * D),
          *o2 = zeros(H * N * D);
    for (int t = 0; t < 2; t++)
        pc_test_ok(pc_attention(t ? pool2 : NULL, pc_attn_bhnd(t ? o2 : o1, H, N, D), pc_attn_bhnd(q, H, N, D),
                                pc_attn_bhnd(k, H, Nk, D), pc_attn_bhnd(v, H, Nk, D), 1, H, N, Nk, D, 0.125f, &err),
                   &err, "attention");
    PC_CHECK(!memcmp(o1, o2, (size_t)(H * N * D) * 4), "attention: 1 and 2 threads bit-identical");
    free(q), free(k), free(v), free(o1), free(o2);
    n = 2 * 64 * 333;
    x = rnd(n, 1), y1 = zeros(n), y2 = zeros(n);
    pc_group_norm(NULL, y1, x, NULL, NULL, 2, 64, 333, 32, 1e-5f, 1);
    pc_group_norm(pool2, y2, x, NULL, NULL, 2, 64, 333, 32, 1e-5f, 1);
    PC_CHECK(!memcmp(y1, y2, (size_t)n * 4), "group_norm + silu: 1 and 2 threads bit-identical");
    free(x), free(y1), free(y2);
}

int main(void) {
    pc_error err;
    pc_pool *pool2 = NULL;
    pc_test_ok(pc_pool_create(&pool2, 2, &err), &err, "pool");
    for (int t = 0; t < 2; t++) {
        pc_pool *pool = t ? pool2 : NULL;
        printf("-- %d thread%s\n", t + 1, t ? "s" : "");
        test_linear(pool);
        test_conv2d(pool);
        test_convt2d(pool);
        test_conv3d(pool);
        test_norms(pool);
        test_activations(pool);
        test_attention(pool);
        test_rope(pool);
        test_resample(pool);
        test_layout(pool);
    }
    test_thread_invariance(pool2);
    pc_pool_free(pool2);
    return pc_test_finish();
}
