// lvdm/modules/encoders/resampler.py Resampler (DynamiCrafter image_proj_model): perceiver-style
// pooling of the ViT tokens into num_queries * video_length latents.
//
//   latents = self.latents.repeat(B)            (1, nq, dim), nq = num_queries * video_length
//   x = proj_in(x)                              (B, N, dim)
//   for (attn, ff) in layers:
//       latents = attn(x, latents) + latents    PerceiverAttention
//       latents = ff(latents) + latents         LayerNorm -> Linear -> GELU -> Linear (no biases)
//   return norm_out(proj_out(latents))          (B, nq, output_dim)
//
// PerceiverAttention(x, latents): x = norm1(x); l = norm2(latents); q = to_q(l);
// k, v = to_kv(cat(x, l) along tokens).chunk(2, -1); heads split as (B, len, heads, dh);
// softmax((q dh^-1/4)(k dh^-1/4)^T) v -> to_out. We scale once by dh^-1/2 (same maths, rounding
// differs far below the 1e-4 tolerance).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip_internal.h"

#define LN_EPS 1e-5f

static pc_status bind_vec(pc_clip *c, const float **v, const char *name, int64_t n, pc_error *err) {
    return pc_nn_bind_vector(&c->binder, v, name, n, err);
}

static pc_status bind_mat(pc_clip *c, pc_wt *w, const char *name, int64_t r, int64_t k, pc_error *err) {
    int64_t shape[2] = {r, k};
    return pc_nn_bind_weight(&c->binder, w, name, 2, shape, err);
}

pc_status pc_clip_bind_resampler(pc_clip *c, pc_error *err) {
    int nd = 0;
    int64_t s[8];
    pc_status st = pc_clip_shape(c, "latents", &nd, s, err);
    if (st != PC_OK) return st;
    if (nd != 3 || s[0] != 1) return pc_err(err, PC_ERR_SHAPE, "%slatents: expected (1, nq, dim)", c->prefix);
    c->r_nq = s[1];
    c->r_dim = s[2];
    int64_t ls[3] = {1, c->r_nq, c->r_dim};
    if ((st = pc_nn_bind_weight(&c->binder, &c->latents, "latents", 3, ls, err)) != PC_OK) return st;
    if ((st = pc_nn_linear_bind(&c->binder, &c->proj_in, "proj_in", -1, c->r_dim, 1, err)) != PC_OK) return st;
    c->r_emb = c->proj_in.in;
    if ((st = pc_nn_linear_bind(&c->binder, &c->proj_out, "proj_out", c->r_dim, -1, 1, err)) != PC_OK) return st;
    c->r_out = c->proj_out.out;
    if ((st = bind_vec(c, &c->norm_out_w, "norm_out.weight", c->r_out, err)) != PC_OK) return st;
    if ((st = bind_vec(c, &c->norm_out_b, "norm_out.bias", c->r_out, err)) != PC_OK) return st;
    char key[256];
    for (c->r_depth = 0;; c->r_depth++) {
        snprintf(key, sizeof(key), "layers.%d.0.to_q.weight", (int)c->r_depth);
        if (!pc_nn_has(&c->binder, key) || c->r_depth > 1024) break;
    }
    if (c->r_depth < 1) return pc_err(err, PC_ERR_NOT_FOUND, "%s: no layers.*", c->prefix);
    if ((st = pc_clip_shape(c, "layers.0.0.to_q.weight", &nd, s, err)) != PC_OK) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "%slayers.0.0.to_q.weight is not 2-D", c->prefix);
    c->r_inner = s[0];
    c->r_heads = c->cfg.resampler_heads;
    if (c->r_heads <= 0 || c->r_inner % c->r_heads)
        return pc_err(err, PC_ERR_SHAPE, "%s: inner width %lld not divisible by %lld heads", c->prefix,
                      (long long)c->r_inner, (long long)c->r_heads);
    if ((st = pc_clip_shape(c, "layers.0.1.1.weight", &nd, s, err)) != PC_OK) return st;
    if (nd != 2) return pc_err(err, PC_ERR_SHAPE, "%slayers.0.1.1.weight is not 2-D", c->prefix);
    c->r_ff = s[0];
    c->r_layers = (pc_resampler_layer *)calloc((size_t)c->r_depth, sizeof(pc_resampler_layer));
    if (!c->r_layers) return pc_err(err, PC_ERR_MEMORY, "Resampler: out of memory");
    const int64_t d = c->r_dim, in = c->r_inner, ff = c->r_ff;
    for (int64_t i = 0; i < c->r_depth; i++) {
        pc_resampler_layer *L = &c->r_layers[i];
#define K(sfx) (snprintf(key, sizeof(key), "layers.%d." sfx, (int)i), key)
        if ((st = bind_vec(c, &L->n1_w, K("0.norm1.weight"), d, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &L->n1_b, K("0.norm1.bias"), d, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &L->n2_w, K("0.norm2.weight"), d, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &L->n2_b, K("0.norm2.bias"), d, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &L->to_q, K("0.to_q.weight"), in, d, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &L->to_kv, K("0.to_kv.weight"), 2 * in, d, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &L->to_out, K("0.to_out.weight"), d, in, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &L->ff_ln_w, K("1.0.weight"), d, err)) != PC_OK) return st;
        if ((st = bind_vec(c, &L->ff_ln_b, K("1.0.bias"), d, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &L->ff1, K("1.1.weight"), ff, d, err)) != PC_OK) return st;
        if ((st = bind_mat(c, &L->ff2, K("1.3.weight"), d, ff, err)) != PC_OK) return st;
#undef K
    }
    c->has_rs = 1;
    return PC_OK;
}

pc_status pc_clip_resample(pc_clip *c, float *out, const float *tokens, int64_t B, int64_t N, pc_error *err) {
    if (!c || !out || !tokens || B < 1 || N < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_resample: bad argument");
    if (!c->has_rs) return pc_err(err, PC_ERR_ARG, "pc_clip_resample: Resampler not loaded");
    const int64_t d = c->r_dim, nq = c->r_nq, in = c->r_inner, H = c->r_heads, dh = in / H, ff = c->r_ff;
    const int64_t Nk = N + nq;
    pc_pool *pool = c->pool;
    size_t n = (size_t)(B * N * d            // xin (B, N, d)
                        + B * nq * d         // lat (B, nq, d)
                        + B * Nk * d         // kvin (B, N + nq, d)
                        + B * nq * in        // q (B, nq, inner)
                        + B * Nk * 2 * in    // kv (B, N + nq, 2 inner)
                        + B * nq * in        // o (B, nq, inner)
                        + B * nq * d         // a (B, nq, d)
                        + B * nq * ff);      // f (B, nq, ff)
    float *buf = (float *)malloc(sizeof(float) * n);
    if (!buf) return pc_err(err, PC_ERR_MEMORY, "Resampler: out of memory (%lld x %lld tokens)", (long long)B,
                            (long long)N);
    float *xin = buf, *lat = xin + B * N * d, *kvin = lat + B * nq * d, *q = kvin + B * Nk * d;
    float *kv = q + B * nq * in, *o = kv + B * Nk * 2 * in, *a = o + B * nq * in, *f = a + B * nq * d;
    pc_linear(pool, xin, tokens, c->proj_in.w, c->proj_in.b, B * N, d, c->r_emb);
    pc_clip_trace(c, "resampler.proj_in_out", xin, B, N, d);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < nq * d; i++) lat[b * nq * d + i] = pc_wt_get(c->latents, i);
    const float scale = 1.0f / sqrtf((float)dh);
    pc_status st = PC_OK;
    for (int64_t l = 0; l < c->r_depth && st == PC_OK; l++) {
        const pc_resampler_layer *L = &c->r_layers[l];
        for (int64_t b = 0; b < B; b++) {  // kvin[b] = cat(norm1(x[b]), norm2(latents[b]))
            pc_layer_norm(pool, kvin + b * Nk * d, xin + b * N * d, L->n1_w, L->n1_b, N, d, LN_EPS);
            pc_layer_norm(pool, kvin + (b * Nk + N) * d, lat + b * nq * d, L->n2_w, L->n2_b, nq, d, LN_EPS);
            pc_linear(pool, q + b * nq * in, kvin + (b * Nk + N) * d, L->to_q, NULL, nq, in, d);
        }
        pc_linear(pool, kv, kvin, L->to_kv, NULL, B * Nk, 2 * in, d);
        st = pc_attention(pool, pc_attn_tokens(o, nq, in, 0, dh), pc_attn_tokens(q, nq, in, 0, dh),
                          pc_attn_tokens(kv, Nk, 2 * in, 0, dh), pc_attn_tokens(kv, Nk, 2 * in, in, dh), B, H, nq, Nk,
                          dh, scale, err);
        if (st != PC_OK) break;
        pc_linear(pool, a, o, L->to_out, NULL, B * nq, d, in);
        char name[64];
        snprintf(name, sizeof(name), "resampler.layer%d_attn_out", (int)l);
        pc_clip_trace(c, name, a, B, nq, d);
        pc_add(pool, lat, lat, a, B * nq * d);
        pc_layer_norm(pool, a, lat, L->ff_ln_w, L->ff_ln_b, B * nq, d, LN_EPS);
        pc_linear(pool, f, a, L->ff1, NULL, B * nq, ff, d);
        pc_gelu(pool, f, f, B * nq * ff);
        pc_linear(pool, a, f, L->ff2, NULL, B * nq, d, ff);
        snprintf(name, sizeof(name), "resampler.layer%d_ff_out", (int)l);
        pc_clip_trace(c, name, a, B, nq, d);
        pc_add(pool, lat, lat, a, B * nq * d);
    }
    if (st == PC_OK) {
        pc_linear(pool, out, lat, c->proj_out.w, c->proj_out.b, B * nq, c->r_out, d);
        pc_layer_norm(pool, out, out, c->norm_out_w, c->norm_out_b, B * nq, c->r_out, LN_EPS);
    }
    free(buf);
    return st;
}
