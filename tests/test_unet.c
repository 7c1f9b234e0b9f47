// DynamiCrafter 3-D UNet vs the golden unet_tiny.safetensors (official lvdm code, tiny random weights):
// time / fs embeddings, every input / middle / output block output, init_attn, the final v-prediction for the
// per-frame image-token layout (141 = 77 + 4*16 tokens, T = 4) and the ViewCrafter whole-context case
// (T = 5, every frame sees all 141 tokens). Acceptance: max|c - ref| <= 1e-4 * max|ref| (README section 8).
// Also: missing / misshaped keys fail with a message naming the key.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/unet3d_internal.h"
#include "testutil.h"

#define RTOL 1e-4

static double max_abs(const float *p, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)p[i]) > m) m = fabs((double)p[i]);
    return m;
}

static const pc_tensor *want(const pc_checkpoint *g, const char *name) {
    const pc_tensor *t = pc_checkpoint_find(g, name);
    if (!t) pc_test_fatal("golden tensor '%s' missing", name);
    return t;
}

static size_t numel(const pc_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

static void compare(const char *name, const float *got, const pc_tensor *w) {
    const float *wp = (const float *)w->data;
    size_t n = numel(w);
    pc_test_close(name, got, wp, n, RTOL * max_abs(wp, n), 0.0);
}

typedef struct trace_ctx {
    const pc_checkpoint *g;
    int seen;
} trace_ctx;

static void on_trace(void *vctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    trace_ctx *c = (trace_ctx *)vctx;
    char key[128];
    snprintf(key, sizeof(key), "dbg.%s", name);
    const pc_tensor *w = pc_checkpoint_find(c->g, key);
    if (!w) return;
    int same = w->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = w->shape[i] == shape[i];
    PC_CHECK(same, "%s: shape matches the golden", key);
    if (!same) return;
    compare(key, data, w);
    c->seen++;
}

// A tensor source over the checkpoint that hides one key or reports a wrong shape for it.
typedef struct fake_src {
    const pc_checkpoint *ck;
    const char *hide;
    const char *bad;
    pc_tensor badt;
} fake_src;

static const pc_tensor *fake_find(void *vctx, const char *name) {
    fake_src *f = (fake_src *)vctx;
    if (f->hide && !strcmp(name, f->hide)) return NULL;
    const pc_tensor *t = pc_checkpoint_find(f->ck, name);
    if (t && f->bad && !strcmp(name, f->bad)) {
        f->badt = *t;
        f->badt.shape[1] += 1;
        return &f->badt;
    }
    return t;
}

static pc_status fake_get(void *vctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err) {
    const pc_tensor *t = fake_find(vctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s' is missing", name);
    int okk = t->ndim == ndim;
    for (int i = 0; okk && i < ndim; i++) okk = shape[i] < 0 || shape[i] == t->shape[i];
    if (!okk) return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has the wrong shape", name);
    *out = t;
    return PC_OK;
}

int main(void) {
    char ckp[1024], gp[1024];
    pc_test_shared_path(ckp, sizeof(ckp), "golden/dynamicrafter/unet_tiny.ckpt");
    pc_test_shared_path(gp, sizeof(gp), "golden/dynamicrafter/unet_tiny.safetensors");
    pc_error err;
    pc_checkpoint *ck, *g;
    pc_test_ok(pc_checkpoint_open(&ck, ckp, &err), &err, "open unet_tiny.ckpt");
    pc_test_ok(pc_checkpoint_open(&g, gp, &err), &err, "open unet_tiny.safetensors");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");

    // tiny config (meta_dynamicrafter.json): num_head_channels 16; the rest as the 512 yaml
    pc_unet_config cfg;
    pc_unet_config_default(&cfg);
    cfg.num_head_channels = 16;
    pc_unet *u;
    pc_test_ok(pc_unet_from_checkpoint(&u, ck, NULL, &cfg, pool, &err), &err, "bind UNet");
    const pc_unet_config *c = pc_unet_get_config(u);
    PC_CHECK(c->model_channels == 32 && c->n_levels == 4 && c->channel_mult[0] == 1 && c->channel_mult[1] == 1 &&
                 c->channel_mult[2] == 2 && c->channel_mult[3] == 2 && c->num_res_blocks == 2 && c->context_dim == 64 &&
                 c->in_channels == 8 && c->out_channels == 4 && c->time_embed_dim == 128 && c->fs_condition &&
                 c->image_cross_attention && c->init_attn,
             "config from shapes: mc %d levels %d mult [%d %d %d %d] res %d ctx %d in %d out %d ted %d",
             c->model_channels, c->n_levels, c->channel_mult[0], c->channel_mult[1], c->channel_mult[2],
             c->channel_mult[3], c->num_res_blocks, c->context_dim, c->in_channels, c->out_channels, c->time_embed_dim);
    printf("params bound: %lld\n", (long long)pc_unet_num_params(u));

    // case 1: DynamiCrafter interp layout, per-frame image tokens
    {
        const pc_tensor *x = want(g, "x"), *ts = want(g, "timesteps"), *ctx = want(g, "context"), *fs = want(g, "fs"),
                        *out = want(g, "out");
        int64_t B = x->shape[0], T = x->shape[2], H = x->shape[3], W = x->shape[4], L = ctx->shape[1];
        float *y = (float *)malloc(numel(out) * sizeof(float));
        trace_ctx tc = {g, 0};
        pc_unet_set_trace(u, on_trace, &tc);
        pc_test_ok(pc_unet_forward(u, y, (const float *)x->data, B, T, H, W, (const int64_t *)ts->data,
                                   (const float *)ctx->data, L, (const int64_t *)fs->data, &err),
                   &err, "forward (per-frame context)");
        PC_CHECK(tc.seen == 2 + 1 + 12 + 1 + 12, "traced %d golden dbg tensors (want 28)", tc.seen);
        compare("out", y, out);
        printf("flops %.3g, arena %.1f MB\n", pc_unet_last_flops(u), pc_unet_arena_bytes(u) / 1048576.0);
        pc_unet_set_trace(u, NULL, NULL);
        free(y);
    }
    // case 2: ViewCrafter layout, 5 frames, whole context per frame
    {
        const pc_tensor *x = want(g, "vc.x"), *ts = want(g, "vc.timesteps"), *ctx = want(g, "vc.context"),
                        *fs = want(g, "vc.fs"), *out = want(g, "vc.out");
        int64_t B = x->shape[0], T = x->shape[2], H = x->shape[3], W = x->shape[4], L = ctx->shape[1];
        float *y = (float *)malloc(numel(out) * sizeof(float));
        pc_test_ok(pc_unet_forward(u, y, (const float *)x->data, B, T, H, W, (const int64_t *)ts->data,
                                   (const float *)ctx->data, L, (const int64_t *)fs->data, &err),
                   &err, "forward (whole context)");
        compare("vc.out", y, out);
        free(y);
    }
    // batch of 2 (CFG-style): item 0 = the golden case, item 1 = other x / t / fs / context; each item must
    // equal its own B = 1 run (no mixing across the batch in emb, context slicing or temporal layers)
    {
        const pc_tensor *x = want(g, "x"), *ctx = want(g, "context"), *out = want(g, "out");
        size_t nx = numel(x), nc = numel(ctx), no = numel(out);
        float *x2 = (float *)malloc(2 * nx * sizeof(float)), *c2 = (float *)malloc(2 * nc * sizeof(float));
        float *y2 = (float *)malloc(2 * no * sizeof(float)), *y1 = (float *)malloc(no * sizeof(float));
        memcpy(x2, x->data, nx * sizeof(float));
        memcpy(c2, ctx->data, nc * sizeof(float));
        pc_test_rng rng = {5};
        pc_test_fill(&rng, x2 + nx, nx, 1.0f);
        pc_test_fill(&rng, c2 + nc, nc, 1.0f);
        int64_t ts2[2] = {599, 321}, fs2[2] = {5, 17};
        pc_test_ok(pc_unet_forward(u, y2, x2, 2, 4, 16, 24, ts2, c2, 141, fs2, &err), &err, "forward B=2");
        pc_test_ok(pc_unet_forward(u, y1, x2 + nx, 1, 4, 16, 24, ts2 + 1, c2 + nc, 141, fs2 + 1, &err), &err,
                   "forward item 1 alone");
        compare("B=2 item 0 vs golden out", y2, out);
        pc_test_close("B=2 item 1 vs its B=1 run", y2 + no, y1, no, 1e-5 * max_abs(y1, no), 0.0);
        free(x2);
        free(c2);
        free(y2);
        free(y1);
    }
    pc_unet_free(u);

    // errors name the key
    {
        const char *hide = "model.diffusion_model.input_blocks.4.0.emb_layers.1.weight";
        fake_src f = {ck, hide, NULL, {0}};
        pc_unet *v = NULL;
        pc_status st = pc_unet_create_from_source(&v, fake_get, fake_find, &f, NULL, &cfg, NULL, &err);
        PC_CHECK(st == PC_ERR_NOT_FOUND && strstr(err.msg, hide) && !v, "missing key reported: %s", err.msg);
        const char *bad = "model.diffusion_model.output_blocks.3.0.out_layers.3.weight";
        fake_src f2 = {ck, NULL, bad, {0}};
        st = pc_unet_create_from_source(&v, fake_get, fake_find, &f2, NULL, &cfg, NULL, &err);
        PC_CHECK(st == PC_ERR_SHAPE && strstr(err.msg, bad) && !v, "misshaped key reported: %s", err.msg);
        pc_unet_config c2 = cfg;
        c2.num_head_channels = 12;  // 32 channels not divisible
        fake_src f3 = {ck, NULL, NULL, {0}};
        st = pc_unet_create_from_source(&v, fake_get, fake_find, &f3, NULL, &c2, NULL, &err);
        PC_CHECK(st != PC_OK && !v, "bad num_head_channels rejected: %s", err.msg);
    }
    // random-weight model (bench): same key set and shapes as the real layout at the tiny sizes; bf16 weights
    // give the same output as their f32 values up to the activation rounding
    {
        pc_unet_config a = cfg;
        a.model_channels = 32;
        a.channel_mult[0] = 1, a.channel_mult[1] = 1, a.channel_mult[2] = 2, a.channel_mult[3] = 2;
        a.context_dim = 64;
        pc_unet *rf, *rb;
        pc_test_ok(pc_unet_create_random(&rf, &a, PC_F32, 7, pool, &err), &err, "random UNet f32");
        pc_test_ok(pc_unet_create_random(&rb, &a, PC_BF16, 7, pool, &err), &err, "random UNet bf16");
        pc_unet *ut;
        pc_test_ok(pc_unet_from_checkpoint(&ut, ck, NULL, &cfg, NULL, &err), &err, "bind UNet again");
        PC_CHECK(pc_unet_num_params(rf) == pc_unet_num_params(ut), "random model binds %lld params, checkpoint %lld",
                 (long long)pc_unet_num_params(rf), (long long)pc_unet_num_params(ut));
        size_t nck = pc_checkpoint_count(ck);
        PC_CHECK(pc_unet_num_params(ut) > 0 && nck == 1514, "checkpoint has %zu keys", nck);
        const pc_tensor *x = want(g, "x"), *ts = want(g, "timesteps"), *ctx = want(g, "context"), *fs = want(g, "fs");
        size_t n = numel(want(g, "out"));
        float *y1 = (float *)malloc(n * sizeof(float)), *y2 = (float *)malloc(n * sizeof(float));
        pc_test_ok(pc_unet_forward(rf, y1, (const float *)x->data, 1, 4, 16, 24, (const int64_t *)ts->data,
                                   (const float *)ctx->data, 141, (const int64_t *)fs->data, &err), &err, "random f32 fwd");
        pc_test_ok(pc_unet_forward(rb, y2, (const float *)x->data, 1, 4, 16, 24, (const int64_t *)ts->data,
                                   (const float *)ctx->data, 141, (const int64_t *)fs->data, &err), &err, "random bf16 fwd");
        int finite = 1;
        for (size_t i = 0; i < n; i++) finite &= isfinite(y1[i]) && isfinite(y2[i]);
        PC_CHECK(finite && max_abs(y1, n) > 0.01, "random model output finite, max|y| %.3g", max_abs(y1, n));
        // bf16 weights differ from the f32 ones by <= 2^-9 relative: outputs agree loosely
        pc_test_close("random bf16 vs f32 weights", y2, y1, n, 0.05 * max_abs(y1, n), 0.0);
        free(y1);
        free(y2);
        pc_unet_free(ut);
        pc_unet_free(rf);
        pc_unet_free(rb);
    }
    pc_pool_free(pool);
    pc_checkpoint_close(g);
    pc_checkpoint_close(ck);
    return pc_test_finish();
}
