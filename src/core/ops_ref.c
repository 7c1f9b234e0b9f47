// Reference twins of the kernels in ops.h: plain loops, one thread, double
// accumulation for reductions. Slow on purpose; the tests compare the fast
// kernels (ops.c) against these.
#include "core/ops.h"

#include <math.h>
#include <string.h>

float pc_wt_get(pc_wt w, int64_t i) {
    switch (w.dtype) {
    case PC_F16: return pc_f16_to_f32(((const uint16_t *)w.data)[i]);
    case PC_BF16: return pc_bf16_to_f32(((const uint16_t *)w.data)[i]);
    default: return ((const float *)w.data)[i];
    }
}

pc_wt pc_wt_offset(pc_wt w, int64_t i) {
    pc_wt r = w;
    r.data = (const char *)w.data + (size_t)i * pc_dtype_size(w.dtype);
    return r;
}

// ---- linear -------------------------------------------------------------------

void pc_linear_ref(float *y, const float *x, pc_wt W, const float *b, int64_t M, int64_t N, int64_t K) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = b ? b[n] : 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)x[m * K + k] * pc_wt_get(W, n * K + k);
            y[m * N + n] = (float)acc;
        }
}

// ---- convolutions -------------------------------------------------------------

void pc_conv2d_ref(float *y, const float *x, pc_wt w, const float *bias, const pc_conv2d_desc *d) {
    int64_t OH, OW;
    pc_conv2d_out_size(d, &OH, &OW);
    int64_t cin_g = d->Cin / d->groups, cout_g = d->Cout / d->groups;
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t co = 0; co < d->Cout; co++) {
            int64_t g = co / cout_g;
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cin_g; ci++)
                        for (int64_t kh = 0; kh < d->KH; kh++) {
                            int64_t ih = oh * d->stride_h - d->pad_h + kh * d->dil_h;
                            if (ih < 0 || ih >= d->H) continue;
                            for (int64_t kw = 0; kw < d->KW; kw++) {
                                int64_t iw = ow * d->stride_w - d->pad_w + kw * d->dil_w;
                                if (iw < 0 || iw >= d->W) continue;
                                float xv = x[((b * d->Cin + g * cin_g + ci) * d->H + ih) * d->W + iw];
                                float wv = pc_wt_get(w, ((co * cin_g + ci) * d->KH + kh) * d->KW + kw);
                                acc += (double)xv * wv;
                            }
                        }
                    y[((b * d->Cout + co) * OH + oh) * OW + ow] = (float)acc;
                }
        }
}

void pc_convt2d_ref(float *y, const float *x, pc_wt w, const float *bias, const pc_convt2d_desc *d) {
    int64_t OH, OW;
    pc_convt2d_out_size(d, &OH, &OW);
    int64_t cin_g = d->Cin / d->groups, cout_g = d->Cout / d->groups;
    // Gather form: y[oh] receives x[ih] * w[kh] whenever oh = ih*s - p + kh*dil.
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t co = 0; co < d->Cout; co++) {
            int64_t g = co / cout_g, col = co % cout_g;
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int64_t kh = 0; kh < d->KH; kh++) {
                        int64_t th = oh + d->pad_h - kh * d->dil_h;
                        if (th < 0 || th % d->stride_h) continue;
                        int64_t ih = th / d->stride_h;
                        if (ih >= d->H) continue;
                        for (int64_t kw = 0; kw < d->KW; kw++) {
                            int64_t tw = ow + d->pad_w - kw * d->dil_w;
                            if (tw < 0 || tw % d->stride_w) continue;
                            int64_t iw = tw / d->stride_w;
                            if (iw >= d->W) continue;
                            for (int64_t ci = 0; ci < cin_g; ci++) {
                                int64_t cig = g * cin_g + ci;
                                float xv = x[((b * d->Cin + cig) * d->H + ih) * d->W + iw];
                                float wv = pc_wt_get(w, ((cig * cout_g + col) * d->KH + kh) * d->KW + kw);
                                acc += (double)xv * wv;
                            }
                        }
                    }
                    y[((b * d->Cout + co) * OH + oh) * OW + ow] = (float)acc;
                }
        }
}

void pc_conv3d_t_ref(float *y, const float *x, pc_wt w, const float *bias, int64_t B, int64_t Cin, int64_t T, int64_t HW,
                     int64_t Cout, int64_t KT, int64_t pad_t) {
    int64_t OT = T + 2 * pad_t - KT + 1;
    for (int64_t b = 0; b < B; b++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t ot = 0; ot < OT; ot++)
                for (int64_t s = 0; s < HW; s++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < Cin; ci++)
                        for (int64_t kt = 0; kt < KT; kt++) {
                            int64_t it = ot - pad_t + kt;
                            if (it < 0 || it >= T) continue;
                            acc += (double)x[((b * Cin + ci) * T + it) * HW + s] * pc_wt_get(w, (co * Cin + ci) * KT + kt);
                        }
                    y[((b * Cout + co) * OT + ot) * HW + s] = (float)acc;
                }
}

// ---- normalisation ------------------------------------------------------------

void pc_layer_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int64_t M, int64_t C, float eps) {
    for (int64_t m = 0; m < M; m++) {
        const float *r = x + m * C;
        double mean = 0, var = 0;
        for (int64_t c = 0; c < C; c++) mean += r[c];
        mean /= (double)C;
        for (int64_t c = 0; c < C; c++) var += (r[c] - mean) * (r[c] - mean);
        var /= (double)C;  // biased, as torch
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t c = 0; c < C; c++) {
            double v = (r[c] - mean) * inv;
            if (gamma) v *= gamma[c];
            if (beta) v += beta[c];
            y[m * C + c] = (float)v;
        }
    }
}

void pc_group_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int64_t B, int64_t C, int64_t S,
                       int64_t G, float eps, int silu) {
    int64_t cg = C / G;
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < G; g++) {
            const float *r = x + (b * C + g * cg) * S;
            int64_t n = cg * S;
            double mean = 0, var = 0;
            for (int64_t i = 0; i < n; i++) mean += r[i];
            mean /= (double)n;
            for (int64_t i = 0; i < n; i++) var += (r[i] - mean) * (r[i] - mean);
            var /= (double)n;
            double inv = 1.0 / sqrt(var + eps);
            for (int64_t c = 0; c < cg; c++) {
                int64_t ch = g * cg + c;
                for (int64_t s = 0; s < S; s++) {
                    double v = (r[c * S + s] - mean) * inv;
                    if (gamma) v *= gamma[ch];
                    if (beta) v += beta[ch];
                    if (silu) v = v / (1.0 + exp(-v));
                    y[(b * C + ch) * S + s] = (float)v;
                }
            }
        }
}

void pc_softmax_ref(float *y, const float *x, int64_t M, int64_t N) {
    for (int64_t m = 0; m < M; m++) {
        const float *r = x + m * N;
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < N; i++) mx = r[i] > mx ? r[i] : mx;
        for (int64_t i = 0; i < N; i++) sum += exp(r[i] - mx);
        for (int64_t i = 0; i < N; i++) y[m * N + i] = (float)(exp(r[i] - mx) / sum);
    }
}

// ---- activations ----------------------------------------------------------------

static double gelu_d(double v) { return 0.5 * v * (1.0 + erf(v * 0.70710678118654752440)); }

void pc_gelu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)gelu_d(x[i]);
}
void pc_silu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] / (1.0 + exp(-(double)x[i])));
}
void pc_relu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void pc_geglu_ref(float *y, const float *h, int64_t M, int64_t F) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t f = 0; f < F; f++) y[m * F + f] = (float)(h[m * 2 * F + f] * gelu_d(h[m * 2 * F + F + f]));
}

// ---- attention ----------------------------------------------------------------

void pc_attention_ref(pc_attn_view o, pc_attn_view q, pc_attn_view k, pc_attn_view v, int64_t B, int64_t H, int64_t Nq,
                      int64_t Nk, int64_t D, float scale) {
    double *s = (double *)pc_aligned_alloc((size_t)Nk * sizeof(double));
    double *acc = (double *)pc_aligned_alloc((size_t)D * sizeof(double));
    if (!s || !acc) {  // reference only: tests size it small enough
        pc_aligned_free(s);
        pc_aligned_free(acc);
        return;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Nq; i++) {
                const float *qi = q.data + b * q.sb + h * q.sh + i * q.sn;
                double mx = -INFINITY;
                for (int64_t j = 0; j < Nk; j++) {
                    const float *kj = k.data + b * k.sb + h * k.sh + j * k.sn;
                    double d = 0;
                    for (int64_t c = 0; c < D; c++) d += (double)qi[c] * kj[c];
                    s[j] = d * scale;
                    if (s[j] > mx) mx = s[j];
                }
                double sum = 0;
                for (int64_t j = 0; j < Nk; j++) sum += (s[j] = exp(s[j] - mx));
                for (int64_t c = 0; c < D; c++) acc[c] = 0;
                for (int64_t j = 0; j < Nk; j++) {
                    const float *vj = v.data + b * v.sb + h * v.sh + j * v.sn;
                    for (int64_t c = 0; c < D; c++) acc[c] += s[j] * vj[c];
                }
                float *oi = o.data + b * o.sb + h * o.sh + i * o.sn;
                for (int64_t c = 0; c < D; c++) oi[c] = (float)(acc[c] / sum);
            }
    pc_aligned_free(s);
    pc_aligned_free(acc);
}

// ---- RoPE2D -----------------------------------------------------------------------

// croco: RoPE2D.get_cos_sin / apply_rope1d, computed in float32 like upstream.
void pc_rope2d_ref(pc_attn_view t, const int64_t *pos, int64_t B, int64_t H, int64_t N, int64_t D, float base) {
    int64_t d = D / 2, q = d / 2;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t n = 0; n < N; n++) {
                float *row = t.data + b * t.sb + h * t.sh + n * t.sn;
                for (int half = 0; half < 2; half++) {
                    float *u = row + half * d;
                    float p = (float)pos[(b * N + n) * 2 + half];  // 0: y, 1: x
                    for (int64_t i = 0; i < q; i++) {
                        float inv_freq = 1.0f / powf(base, (float)(2 * i) / (float)d);
                        float ang = p * inv_freq;
                        float c = cosf(ang), s = sinf(ang);
                        float a = u[i], bb = u[i + q];
                        // out[i] = a*c - bb*s ; out[i+q] = bb*c + a*s
                        u[i] = a * c - bb * s;
                        u[i + q] = bb * c + a * s;
                    }
                }
            }
}

// ---- resampling -------------------------------------------------------------------

// PyTorch area_pixel_compute_scale (float opmath).
static float lin_scale(int64_t in, int64_t out, int align_corners, double scale) {
    if (align_corners) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

static void lin_index(float sc, int64_t dst, int64_t in, int align_corners, int64_t *i0, int64_t *i1, float *l1) {
    float src = align_corners ? sc * (float)dst : sc * ((float)dst + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t i = (int64_t)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    float l = src - (float)i;  // torch clamps lambda to [0, 1]
    *l1 = l < 0 ? 0 : l > 1 ? 1 : l;
}

void pc_resize_bilinear_ref(float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                            int align_corners, double scale_h, double scale_w) {
    float sh = lin_scale(H, OH, align_corners, scale_h), sw = lin_scale(W, OW, align_corners, scale_w);
    for (int64_t c = 0; c < NC; c++)
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0, h1;
            float lh;
            lin_index(sh, oh, H, align_corners, &h0, &h1, &lh);
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t w0, w1;
                float lw;
                lin_index(sw, ow, W, align_corners, &w0, &w1, &lw);
                const float *p = x + c * H * W;
                float v = (1 - lh) * ((1 - lw) * p[h0 * W + w0] + lw * p[h0 * W + w1]) +
                          lh * ((1 - lw) * p[h1 * W + w0] + lw * p[h1 * W + w1]);
                y[(c * OH + oh) * OW + ow] = v;
            }
        }
}

// PyTorch nearest_idx: identity when sizes match, dst >> 1 when exactly
// doubled, else min(floor(dst * scale), in-1) in float.
static int64_t near_index(int64_t dst, int64_t in, int64_t out, double scale) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    return PC_MIN((int64_t)floorf((float)dst * s), in - 1);
}

void pc_upsample_nearest_ref(float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                             double scale_h, double scale_w) {
    for (int64_t c = 0; c < NC; c++)
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t ih = near_index(oh, H, OH, scale_h);
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t iw = near_index(ow, W, OW, scale_w);
                y[(c * OH + oh) * OW + ow] = x[(c * H + ih) * W + iw];
            }
        }
}

void pc_pixel_shuffle_ref(float *y, const float *x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t r) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < r; j++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t w = 0; w < W; w++)
                            y[((b * C + c) * H * r + h * r + i) * W * r + w * r + j] =
                                x[((b * C * r * r + c * r * r + i * r + j) * H + h) * W + w];
}

void pc_transpose_ref(float *y, const float *x, int64_t B, int64_t R, int64_t C) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) y[(b * C + c) * R + r] = x[(b * R + r) * C + c];
}
