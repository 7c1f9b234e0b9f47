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

pc_status pc_clip_bind_resampler(pc_clip *c, pc_error *err) {
    int nd = 0;
    int64_t s[8];
    pc_status st = pc_clip_shape(c, "latents", &nd, s, err);
    if (st != PC_OK) return st;
    if (nd != 3 || s[0] != 1) return pc_err(err, PC_ERR_SHAPE, "%slatents: expected (1, nq, dim)", c->prefix);
    c->r_nq = s[1];
    c->r_dim = s[2];
    int64_t ls[3] = {1, c->r_nq, c->r_dim};
    if ((st = pc_nn_bind_f32(&c->binder, &c->latents.host, "latents", 3, ls, err)) != PC_OK) return st;
    c->latents.n = c->r_nq * c->r_dim;
    if ((st = pc_nn_linear_bind(&c->binder, &c->proj_in, "proj_in", -1, c->r_dim, 1, err)) != PC_OK) return st;
    c->r_emb = c->proj_in.in;
    if ((st = pc_nn_linear_bind(&c->binder, &c->proj_out, "proj_out", c->r_dim, -1, 1, err)) != PC_OK) return st;
    c->r_out = c->proj_out.out;
    if ((st = pc_nn_layernorm_bind(&c->binder, &c->norm_out, "norm_out", c->r_out, LN_EPS, err)) != PC_OK) return st;
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
        if ((st = pc_nn_layernorm_bind(&c->binder, &L->n1, K("0.norm1"), d, LN_EPS, err)) != PC_OK) return st;
        if ((st = pc_nn_layernorm_bind(&c->binder, &L->n2, K("0.norm2"), d, LN_EPS, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &L->to_q, K("0.to_q"), d, in, 0, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &L->to_kv, K("0.to_kv"), d, 2 * in, 0, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &L->to_out, K("0.to_out"), in, d, 0, err)) != PC_OK) return st;
        if ((st = pc_nn_layernorm_bind(&c->binder, &L->ff_ln, K("1.0"), d, LN_EPS, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &L->ff1, K("1.1"), d, ff, 0, err)) != PC_OK) return st;
        if ((st = pc_nn_linear_bind(&c->binder, &L->ff2, K("1.3"), ff, d, 0, err)) != PC_OK) return st;
#undef K
    }
    c->has_rs = 1;
    return PC_OK;
}

pc_status pc_clip_place_resampler(pc_nn_backend *be, pc_clip *c, int measuring, pc_error *err) {
    pc_status st = pc_nn_param_place(be, &c->latents, measuring, err);
    if (st == PC_OK) st = pc_nn_linear_place(be, &c->proj_in, measuring, err);
    if (st == PC_OK) st = pc_nn_linear_place(be, &c->proj_out, measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &c->norm_out, measuring, err);
    for (int64_t i = 0; i < c->r_depth && st == PC_OK; i++) {
        pc_resampler_layer *L = &c->r_layers[i];
        st = pc_nn_layernorm_place(be, &L->n1, measuring, err);
        if (st == PC_OK) st = pc_nn_layernorm_place(be, &L->n2, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &L->to_q, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &L->to_kv, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &L->to_out, measuring, err);
        if (st == PC_OK) st = pc_nn_layernorm_place(be, &L->ff_ln, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &L->ff1, measuring, err);
        if (st == PC_OK) st = pc_nn_linear_place(be, &L->ff2, measuring, err);
    }
    return st;
}

typedef struct rs_args {
    pc_clip *c;
    float *out;           // (B, nq, out_dim)
    const float *tokens;  // (B, N, emb)
    int64_t B, N;
} rs_args;

static void resample_forward(pc_nn_exec *ex, void *p) {
    rs_args *ra = (rs_args *)p;
    pc_clip *c = ra->c;
    const int64_t B = ra->B, N = ra->N, d = c->r_dim, nq = c->r_nq, in = c->r_inner, H = c->r_heads, dh = in / H;
    const int64_t ff = c->r_ff, Nk = N + nq;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    pc_nn_t tok = pc_nn_write(ex, ra->tokens, B * N * c->r_emb);  // (B, N, emb)
    pc_nn_t xin = pc_nn_new_act(ex, B * N * d);                  // (B, N, d)
    pc_nn_t lat = pc_nn_new_f32(ex, B * nq * d);                 // (B, nq, d), the residual stream
    pc_nn_t kvin = pc_nn_new_act(ex, B * Nk * d);                // (B, N + nq, d)
    pc_nn_t q = pc_nn_new_act(ex, B * nq * in);                  // (B, nq, inner)
    pc_nn_t kv = pc_nn_new_act(ex, B * Nk * 2 * in);             // (B, N + nq, 2 inner)
    pc_nn_t o = pc_nn_new_act(ex, B * nq * in);                  // (B, nq, inner)
    pc_nn_t a = pc_nn_new_act(ex, B * nq * d);                   // (B, nq, d)
    pc_nn_t f = pc_nn_new_act(ex, B * nq * ff);                  // (B, nq, ff)
    pc_nn_t out = pc_nn_output(ex, ra->out, B * nq * c->r_out);  // (B, nq, out_dim)
    pc_nn_linear_forward(ex, &c->proj_in, xin, d, tok, c->r_emb, B * N, 0);
    pc_nn_trace(ex, xin, 3, (int64_t[]){B, N, d}, "resampler.proj_in_out");
    pc_nn_t lat0 = pc_nn_param_t(ex, &c->latents);
    for (int64_t b = 0; b < B; b++) pc_nn_unary(ex, pc_nn_at(lat, b * nq * d), lat0, nq * d, PC_NN_COPY);
    const float scale = 1.0f / sqrtf((float)dh);
    for (int64_t l = 0; l < c->r_depth; l++) {
        const pc_resampler_layer *L = &c->r_layers[l];
        for (int64_t b = 0; b < B; b++) {  // kvin[b] = cat(norm1(x[b]), norm2(latents[b]))
            pc_nn_layernorm_forward(ex, &L->n1, pc_nn_at(kvin, b * Nk * d), pc_nn_at(xin, b * N * d), N);
            pc_nn_layernorm_forward(ex, &L->n2, pc_nn_at(kvin, (b * Nk + N) * d), pc_nn_at(lat, b * nq * d), nq);
            pc_nn_linear_forward(ex, &L->to_q, pc_nn_at(q, b * nq * in), in, pc_nn_at(kvin, (b * Nk + N) * d), d, nq,
                                 0);
        }
        pc_nn_linear_forward(ex, &L->to_kv, kv, 2 * in, kvin, d, B * Nk, 0);
        pc_nn_sdpa(ex, pc_nn_heads(o, nq, in, 0, dh), pc_nn_heads(q, nq, in, 0, dh), pc_nn_heads(kv, Nk, 2 * in, 0, dh),
                   pc_nn_heads(kv, Nk, 2 * in, in, dh), B, H, nq, Nk, dh, scale, 0);
        pc_nn_linear_forward(ex, &L->to_out, a, d, o, in, B * nq, 0);
        pc_nn_trace(ex, a, 3, (int64_t[]){B, nq, d}, "resampler.layer%d_attn_out", (int)l);
        pc_nn_add(ex, lat, lat, a, B * nq * d);
        pc_nn_layernorm_forward(ex, &L->ff_ln, a, lat, B * nq);
        pc_nn_linear_forward(ex, &L->ff1, f, ff, a, d, B * nq, 0);
        pc_nn_unary(ex, f, f, B * nq * ff, PC_NN_GELU);
        pc_nn_linear_forward(ex, &L->ff2, a, d, f, ff, B * nq, 0);
        pc_nn_trace(ex, a, 3, (int64_t[]){B, nq, d}, "resampler.layer%d_ff_out", (int)l);
        pc_nn_add(ex, lat, lat, a, B * nq * d);
    }
    pc_nn_linear_forward(ex, &c->proj_out, out, c->r_out, lat, d, B * nq, 0);
    pc_nn_layernorm_forward(ex, &c->norm_out, out, out, B * nq);
    pc_nn_read_into(ex, ra->out, out, B * nq * c->r_out);
    pc_nn_mark_reset(ex, mark);
}

pc_status pc_clip_resample(pc_clip *c, float *out, const float *tokens, int64_t B, int64_t N, pc_error *err) {
    if (!c || !out || !tokens || B < 1 || N < 1) return pc_err(err, PC_ERR_ARG, "pc_clip_resample: bad argument");
    if (!c->has_rs) return pc_err(err, PC_ERR_ARG, "pc_clip_resample: Resampler not loaded");
    rs_args a = {c, out, tokens, B, N};
    pc_status st = pc_nn_run(c->dev, c->pool, &c->arena, c->trace, c->trace_ctx, resample_forward, &a, err);
    return st == PC_OK ? st : pc_err_prefix(err, st, "Resampler: ");
}
