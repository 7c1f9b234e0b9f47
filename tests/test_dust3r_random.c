// dust3r without golden data: small random models built in memory.
// - linear head (dust3r: LinearPts3d + postprocess) checked against a naive re-implementation fed with the
//   traced, normalised decoder output;
// - two views of different sizes (portrait + landscape: the un-batched encoder path);
// - BF16 / F16 weight matrices give outputs close to F32 weights;
// - same inputs and thread count -> bit-identical outputs.
#include "testutil.h"
#include "models/dust3r_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pc_dust3r_config small_cfg(pc_dust3r_head_type head) {
    pc_dust3r_config c;
    memset(&c, 0, sizeof(c));
    c.patch = 16;
    c.enc_dim = 64, c.enc_depth = 2, c.enc_heads = 2, c.enc_mlp = 256;
    c.dec_dim = 48, c.dec_depth = 2, c.dec_heads = 2, c.dec_mlp = 192;
    c.rope_base = 100.0f;
    c.ln_eps = 1e-6f;
    c.head = head;
    c.dpt_layer_dims[0] = 8, c.dpt_layer_dims[1] = 16, c.dpt_layer_dims[2] = 24, c.dpt_layer_dims[3] = 32;
    c.dpt_feature_dim = 16, c.dpt_last_dim = 8;
    c.depth_mode = PC_DUST3R_DEPTH_EXP, c.conf_mode = PC_DUST3R_CONF_EXP;
    c.conf_vmin = 1.0f, c.conf_vmax = INFINITY;
    return c;
}

static void make_img(pc_tensor *t, int64_t H, int64_t W, uint64_t seed) {
    pc_error err;
    int64_t s[4] = {1, 3, H, W};
    pc_test_ok(pc_tensor_alloc(t, PC_F32, 4, s, &err), &err, "alloc");
    pc_test_rng r = {seed};
    pc_test_fill(&r, (float *)t->data, (size_t)(3 * H * W), 1.0f);
}

typedef struct {
    float *dec[2];  // traced normalised last decoder output per view
    int64_t n[2];
} grab_ctx;

static void grab(void *p, const char *name, const float *data, int ndim, const int64_t *shape) {
    grab_ctx *g = (grab_ctx *)p;
    for (int v = 0; v < 2; v++) {
        char want[32];
        snprintf(want, sizeof(want), "dec%d_2", v + 1);
        if (strcmp(name, want) != 0) continue;
        int64_t n = 1;
        for (int i = 0; i < ndim; i++) n *= shape[i];
        free(g->dec[v]);
        g->dec[v] = (float *)malloc((size_t)n * sizeof(float));
        memcpy(g->dec[v], data, (size_t)n * sizeof(float));
        g->n[v] = n;
    }
}

// dust3r: LinearPts3d.forward + postprocess, straight from the formulas, in double:
// feat = tok W^T + b (N, 4*p*p); pixel (y, x) of channel ch = feat[token (y/p, x/p)][ch*p*p + (y%p)*p + x%p].
static void naive_linear_head(const pc_dust3r *net, int v, const float *tok, int64_t H, int64_t W, float *pts,
                              float *conf) {
    char key[64];
    snprintf(key, sizeof(key), "downstream_head%d.proj.weight", v + 1);
    const pc_tensor *w = pc_dust3r_find_tensor(net, key);
    snprintf(key, sizeof(key), "downstream_head%d.proj.bias", v + 1);
    const pc_tensor *b = pc_dust3r_find_tensor(net, key);
    if (!w || !b || w->dtype != PC_F32) pc_test_fatal("linear head weights not found");
    const float *W_ = (const float *)w->data, *B_ = (const float *)b->data;
    int64_t p = 16, D = w->shape[1], Wp = W / p;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            int64_t n = (y / p) * Wp + x / p;
            double r[4];
            for (int ch = 0; ch < 4; ch++) {
                int64_t o = ch * p * p + (y % p) * p + x % p;
                double acc = B_[o];
                for (int64_t k = 0; k < D; k++) acc += (double)tok[n * D + k] * W_[o * D + k];
                r[ch] = acc;
            }
            double d = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
            double f = expm1(d) / (d > 1e-8 ? d : 1e-8);
            for (int k = 0; k < 3; k++) pts[(y * W + x) * 3 + k] = (float)(r[k] * f);
            conf[y * W + x] = (float)(1.0 + exp(r[3]));
        }
}

static void test_linear_head(pc_pool *pool) {
    pc_error err;
    pc_dust3r_config cfg = small_cfg(PC_DUST3R_HEAD_LINEAR);
    pc_dust3r *net;
    pc_test_ok(pc_dust3r_create_random(&net, &cfg, 7, PC_F32, pool, &err), &err, "create linear model");
    pc_tensor a, b;
    make_img(&a, 48, 64, 1);
    make_img(&b, 48, 64, 2);
    grab_ctx g = {{NULL, NULL}, {0, 0}};
    pc_dust3r_set_trace(net, grab, &g);
    pc_dust3r_pair_out out;
    pc_test_ok(pc_dust3r_pair(net, &a, &b, &out, &err), &err, "linear pair");
    PC_CHECK(g.dec[0] && g.dec[1] && g.n[0] == 12 * 48, "traced the normalised decoder output of both views");
    int ok = 1;
    for (int v = 0; v < 2 && g.dec[v]; v++) {
        const float *p = (const float *)out.view[v].pts3d.data, *c = (const float *)out.view[v].conf.data;
        for (int64_t i = 0; i < 48 * 64; i++) ok &= isfinite(p[3 * i]) && c[i] >= 1.0f;
    }
    PC_CHECK(ok, "linear head: finite points, conf >= 1");
    float *pts = (float *)malloc(48 * 64 * 3 * sizeof(float)), *conf = (float *)malloc(48 * 64 * sizeof(float));
    for (int v = 0; v < 2 && g.dec[v]; v++) {
        naive_linear_head(net, v, g.dec[v], 48, 64, pts, conf);
        pc_test_close("linear head pts3d vs naive (dust3r: LinearPts3d)", (const float *)out.view[v].pts3d.data, pts,
                      48 * 64 * 3, 1e-5, 1e-4);
        pc_test_close("linear head conf vs naive", (const float *)out.view[v].conf.data, conf, 48 * 64, 1e-5, 1e-4);
    }
    free(pts);
    free(conf);
    pc_dust3r_pair_out out2;
    pc_test_ok(pc_dust3r_pair(net, &a, &b, &out2, &err), &err, "linear pair again");
    int same = 1;
    for (int v = 0; v < 2; v++)
        same &= !memcmp(out.view[v].pts3d.data, out2.view[v].pts3d.data, 48 * 64 * 3 * sizeof(float)) &&
                !memcmp(out.view[v].conf.data, out2.view[v].conf.data, 48 * 64 * sizeof(float));
    PC_CHECK(same, "same inputs and threads -> bit-identical outputs");
    pc_dust3r_pair_out_free(&out2);
    pc_dust3r_pair_out_free(&out);
    pc_dust3r_set_trace(net, NULL, NULL);
    free(g.dec[0]);
    free(g.dec[1]);
    pc_tensor_free(&a);
    pc_tensor_free(&b);
    pc_dust3r_free(net);
}

static void test_dpt_shapes_and_dtypes(pc_pool *pool) {
    pc_error err;
    pc_dust3r_config cfg = small_cfg(PC_DUST3R_HEAD_DPT);
    pc_dust3r *f32, *bf16, *f16;
    pc_test_ok(pc_dust3r_create_random(&f32, &cfg, 11, PC_F32, pool, &err), &err, "create f32");
    pc_test_ok(pc_dust3r_create_random(&bf16, &cfg, 11, PC_BF16, pool, &err), &err, "create bf16");
    pc_test_ok(pc_dust3r_create_random(&f16, &cfg, 11, PC_F16, pool, &err), &err, "create f16");
    const pc_dust3r_config *c = pc_dust3r_get_config(f32);
    PC_CHECK(c->dpt_hooks[0] == 0 && c->dpt_hooks[1] == 1 && c->dpt_hooks[2] == 1 && c->dpt_hooks[3] == 2,
             "hooks [0, L*2/4, L*3/4, L] for L = 2");
    // odd token grid (5 x 7) and a portrait second view of another size: un-batched encoder, crop path
    pc_tensor a, b;
    make_img(&a, 80, 112, 3);
    make_img(&b, 112, 80, 4);
    pc_dust3r_pair_out o32, o16, ob;
    pc_test_ok(pc_dust3r_pair(f32, &a, &b, &o32, &err), &err, "f32 pair (80x112 + 112x80)");
    PC_CHECK(o32.view[0].pts3d.shape[0] == 80 && o32.view[0].pts3d.shape[1] == 112 &&
                 o32.view[1].pts3d.shape[0] == 112 && o32.view[1].pts3d.shape[1] == 80 &&
                 o32.view[1].conf.shape[0] == 112,
             "output shapes follow each view's size");
    int ok = 1;
    for (int v = 0; v < 2; v++)
        for (int64_t i = 0; i < pc_tensor_numel(&o32.view[v].pts3d); i++)
            ok &= isfinite(((const float *)o32.view[v].pts3d.data)[i]) != 0;
    PC_CHECK(ok, "finite outputs");
    pc_test_ok(pc_dust3r_pair(bf16, &a, &b, &ob, &err), &err, "bf16 pair");
    pc_test_ok(pc_dust3r_pair(f16, &a, &b, &o16, &err), &err, "f16 pair");
    for (int v = 0; v < 2; v++) {
        size_t n = (size_t)pc_tensor_numel(&o32.view[v].pts3d);
        // weights rounded to 8 (bf16) / 11 (f16) mantissa bits; the random net's exp depth amplifies errors
        // on large points, so compare normwise: |got - want| <= tol * max|want|
        const float *w32 = (const float *)o32.view[v].pts3d.data;
        double mx = 0;
        for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(w32[i]));
        pc_test_close("bf16 weights vs f32 weights (pts3d, atol 3e-2 max|x|)", (const float *)ob.view[v].pts3d.data,
                      w32, n, 3e-2 * mx, 0);
        pc_test_close("f16 weights vs f32 weights (pts3d, atol 4e-3 max|x|)", (const float *)o16.view[v].pts3d.data,
                      w32, n, 4e-3 * mx, 0);
    }
    // bad image: not a multiple of the patch size
    pc_tensor bad;
    make_img(&bad, 40, 64, 5);
    pc_dust3r_pair_out ox;
    pc_status st = pc_dust3r_pair(f32, &bad, &b, &ox, &err);
    PC_CHECK(st == PC_ERR_SHAPE, "image 40x64 rejected: %s", err.msg);
    pc_tensor_free(&bad);
    pc_dust3r_pair_out_free(&o32);
    pc_dust3r_pair_out_free(&ob);
    pc_dust3r_pair_out_free(&o16);
    pc_tensor_free(&a);
    pc_tensor_free(&b);
    pc_dust3r_free(f32);
    pc_dust3r_free(bf16);
    pc_dust3r_free(f16);
}

int main(void) {
    pc_error err;
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    test_linear_head(pool);
    test_dpt_shapes_and_dtypes(pool);
    pc_pool_free(pool);
    return pc_test_finish();
}
