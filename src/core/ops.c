// Fast CPU kernels (see ops.h): threaded with pc_pool by (ith, nth), GEMM-heavy
// work through pc_gemm, row primitives (exp, GELU, SiLU, reductions) from the
// vector builds in ops_vec.c / ops_avx2.c / ops_avx512.c picked at run time.
#include "core/ops.h"

#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "core/gemm.h"

// ---- run-time choice of the row primitives --------------------------------------

#define PC_DECL_VEC(S)                                                                                             \
    void pc_ops_gelu_##S(float *y, const float *x, int64_t n);                                                    \
    void pc_ops_silu_##S(float *y, const float *x, int64_t n);                                                    \
    void pc_ops_affine_##S(float *y, const float *x, int64_t n, float a, float b, int silu);                      \
    void pc_ops_geglu_##S(float *y, const float *a, const float *g, int64_t n);                                   \
    float pc_ops_max_##S(const float *x, int64_t n);                                                              \
    float pc_ops_exp_sum_##S(float *y, const float *x, int64_t n, float m);                                       \
    float pc_ops_sum_##S(const float *x, int64_t n);                                                              \
    float pc_ops_sumsq_dev_##S(const float *x, int64_t n, float mean);                                            \
    void pc_ops_norm_row_##S(float *y, const float *x, int64_t n, float mean, float inv, const float *g,           \
                             const float *b);                                                                     \
    int64_t pc_ops_attn_scratch_##S(int64_t D);                                                                   \
    void pc_ops_attn_block_##S(float *o, int64_t osn, const float *q, int64_t qsn, const float *k, int64_t ksn,    \
                               const float *v, int64_t vsn, int64_t nq, int64_t Nk, int64_t D, float scale,       \
                               float *scratch);                                                                   \
    static const pc_ops_vt vt_##S = {pc_ops_gelu_##S,      pc_ops_silu_##S,         pc_ops_affine_##S,          \
                                     pc_ops_geglu_##S,     pc_ops_max_##S,          pc_ops_exp_sum_##S,         \
                                     pc_ops_sum_##S,       pc_ops_sumsq_dev_##S,    pc_ops_norm_row_##S,        \
                                     pc_ops_attn_scratch_##S, pc_ops_attn_block_##S};

typedef struct pc_ops_vt {
    void (*gelu)(float *y, const float *x, int64_t n);
    void (*silu)(float *y, const float *x, int64_t n);
    void (*affine)(float *y, const float *x, int64_t n, float a, float b, int silu);
    void (*geglu)(float *y, const float *a, const float *g, int64_t n);
    float (*max)(const float *x, int64_t n);
    float (*exp_sum)(float *y, const float *x, int64_t n, float m);
    float (*sum)(const float *x, int64_t n);
    float (*sumsq_dev)(const float *x, int64_t n, float mean);
    void (*norm_row)(float *y, const float *x, int64_t n, float mean, float inv, const float *g, const float *b);
    int64_t (*attn_scratch)(int64_t D);
    void (*attn_block)(float *o, int64_t osn, const float *q, int64_t qsn, const float *k, int64_t ksn, const float *v,
                       int64_t vsn, int64_t nq, int64_t Nk, int64_t D, float scale, float *scratch);
} pc_ops_vt;

PC_DECL_VEC(v4)
PC_DECL_VEC(v8)
PC_DECL_VEC(v16)

static const pc_ops_vt *vt(void) {
    if (pc_cpu_has_avx512f()) return &vt_v16;
    if (pc_cpu_has_avx2_fma()) return &vt_v8;
    return &vt_v4;
}

// Contiguous chunk [b, e) of n for worker ith, boundaries on multiples of 16
// floats so workers never share a cache line.
static void split16(int64_t n, int ith, int nth, int64_t *b, int64_t *e) {
    int64_t blocks = (n + 15) / 16, bb, be;
    pc_split_range(blocks, ith, nth, &bb, &be);
    *b = PC_MIN(bb * 16, n);
    *e = PC_MIN(be * 16, n);
}

static pc_mat wmat(pc_wt w, int64_t ld, int trans) {
    pc_mat m = {w.data, w.dtype, ld, trans};
    return m;
}

// ---- linear -------------------------------------------------------------------

void pc_linear_strided(pc_pool *pool, float *y, int64_t ldy, const float *x, int64_t ldx, pc_wt W, const float *b,
                       int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0) return;
    pc_gemm(pool, y, ldy, pc_mat_f32(x, ldx, 0), wmat(W, K, 1), M, N, K, 1.0f, 0.0f, b);
}

void pc_linear(pc_pool *pool, float *y, const float *x, pc_wt W, const float *b, int64_t M, int64_t N, int64_t K) {
    pc_linear_strided(pool, y, N, x, K, W, b, M, N, K);
}

// ---- per-row bias added after a GEMM tile -----------------------------------------

typedef struct {
    float *y;
    int64_t ldy, rows, cols;
    const float *bias;
} rowbias_ctx;

static void rowbias_task(void *p, int ith, int nth) {
    rowbias_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->rows, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *row = c->y + r * c->ldy, bv = c->bias[r];
        for (int64_t j = 0; j < c->cols; j++) row[j] += bv;
    }
}

static void add_row_bias(pc_pool *pool, float *y, int64_t ldy, int64_t rows, int64_t cols, const float *bias) {
    if (!bias) return;
    rowbias_ctx c = {y, ldy, rows, cols, bias};
    pc_pool_run(rows * cols >= 16384 ? pool : NULL, rowbias_task, &c);
}

// Workspace helper: caller memory or one allocation for the call.
static pc_status get_ws(void **out, void **owned, void *ws, size_t ws_bytes, size_t need, pc_error *err) {
    *owned = NULL;
    if (need == 0 || (ws && ws_bytes >= need)) {
        *out = ws;
        return PC_OK;
    }
    *owned = pc_aligned_alloc(need);
    if (!*owned) return pc_err(err, PC_ERR_MEMORY, "conv workspace of %zu bytes", need);
    *out = *owned;
    return PC_OK;
}

// Column tiles: about PC_COL_BUDGET floats (2 MiB, near the 1 MiB L2 of the
// EPYC this was tuned on, so im2col's writes are still cached when the GEMM
// packs them) but at least PC_COL_MIN_N columns so the GEMM keeps its speed
// and the weights are not re-packed too often. Bounded on large images.
#define PC_COL_BUDGET (512 * 1024)
#define PC_COL_MIN_N 256

// Output rows (of width ow) per column tile for a GEMM depth of k.
static int64_t tile_rows(int64_t k, int64_t ow, int64_t total) {
    int64_t rows = PC_COL_BUDGET / PC_MAX(1, k * ow);
    rows = PC_MAX(rows, (PC_COL_MIN_N + ow - 1) / ow);
    return PC_MAX(1, PC_MIN(rows, total));
}

// ---- conv2d -------------------------------------------------------------------

pc_conv2d_desc pc_conv2d_make(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                              int64_t stride, int64_t pad_h, int64_t pad_w) {
    pc_conv2d_desc d = {B, Cin, H, W, Cout, KH, KW, stride, stride, pad_h, pad_w, 1, 1, 1};
    return d;
}

void pc_conv2d_out_size(const pc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    *OH = (d->H + 2 * d->pad_h - d->dil_h * (d->KH - 1) - 1) / d->stride_h + 1;
    *OW = (d->W + 2 * d->pad_w - d->dil_w * (d->KW - 1) - 1) / d->stride_w + 1;
}

pc_status pc_conv2d_check(const pc_conv2d_desc *d, pc_error *err) {
    if (d->B <= 0 || d->Cin <= 0 || d->H <= 0 || d->W <= 0 || d->Cout <= 0 || d->KH <= 0 || d->KW <= 0 ||
        d->stride_h <= 0 || d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0 || d->dil_h <= 0 || d->dil_w <= 0 ||
        d->groups <= 0)
        return pc_err(err, PC_ERR_ARG, "conv2d: non-positive size in descriptor");
    if (d->Cin % d->groups || d->Cout % d->groups)
        return pc_err(err, PC_ERR_ARG, "conv2d: groups %lld do not divide Cin %lld / Cout %lld", (long long)d->groups,
                      (long long)d->Cin, (long long)d->Cout);
    if (d->H + 2 * d->pad_h < d->dil_h * (d->KH - 1) + 1 || d->W + 2 * d->pad_w < d->dil_w * (d->KW - 1) + 1)
        return pc_err(err, PC_ERR_SHAPE, "conv2d: kernel %lldx%lld larger than padded input %lldx%lld",
                      (long long)d->KH, (long long)d->KW, (long long)d->H, (long long)d->W);
    return PC_OK;
}

static int conv2d_pointwise(const pc_conv2d_desc *d) {
    return d->KH == 1 && d->KW == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_h == 0 && d->pad_w == 0;
}

static int64_t conv2d_rows(const pc_conv2d_desc *d) {
    int64_t OH, OW;
    pc_conv2d_out_size(d, &OH, &OW);
    return tile_rows(d->Cin / d->groups * d->KH * d->KW, OW, OH);
}

// Small outputs (fewer than PC_COL_MIN_N pixels, e.g. the UNet's 5x8 level)
// put several batch items side by side in the GEMM's columns: a GEMM only
// 40 columns wide runs at less than half speed. Images per group:
static int64_t conv2d_batch_group(const pc_conv2d_desc *d) {
    int64_t OH, OW;
    pc_conv2d_out_size(d, &OH, &OW);
    if (d->B < 2 || OH * OW >= PC_COL_MIN_N) return 1;
    // aim at 2*PC_COL_MIN_N columns (the weights are re-packed once per group),
    // then even out the groups: 16 images of 5x8 -> 2 groups of 8
    int64_t most = PC_MIN(d->B, (2 * PC_COL_MIN_N + OH * OW - 1) / (OH * OW));
    int64_t groups = (d->B + most - 1) / most;
    return (d->B + groups - 1) / groups;
}

size_t pc_conv2d_workspace(const pc_conv2d_desc *d) {
    int64_t OH, OW, nb = conv2d_batch_group(d);
    pc_conv2d_out_size(d, &OH, &OW);
    size_t K = (size_t)(d->Cin / d->groups * d->KH * d->KW);
    if (nb > 1)  // columns of nb images + the GEMM result before it is scattered to (B, C, H, W)
        return (K + (size_t)(d->Cout / d->groups)) * (size_t)(nb * OH * OW) * sizeof(float);
    if (conv2d_pointwise(d)) return 0;
    return K * (size_t)(conv2d_rows(d) * OW) * sizeof(float);
}

typedef struct {
    const pc_conv2d_desc *d;
    const float *x;  // (Cin/groups, H, W) of this batch item and group
    float *col;      // (Cin/groups*KH*KW, ldcol): rows*OW columns written from column 0
    int64_t ldcol, oh0, rows, OW;
} im2col_ctx;

static void im2col_task(void *p, int ith, int nth) {
    const im2col_ctx *c = p;
    const pc_conv2d_desc *d = c->d;
    int64_t K = d->Cin / d->groups * d->KH * d->KW, OW = c->OW;
    int64_t r0, r1;
    pc_split_range(K, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t kw = r % d->KW, kh = (r / d->KW) % d->KH, ci = r / (d->KW * d->KH);
        float *dst = c->col + r * c->ldcol;
        int64_t off = kw * d->dil_w - d->pad_w, sw = d->stride_w;
        // output columns whose input column lies inside [0, W)
        int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t hi = off > d->W - 1 ? 0 : (d->W - 1 - off) / sw + 1;
        lo = PC_MIN(lo, OW);
        hi = PC_MAX(lo, PC_MIN(hi, OW));
        for (int64_t t = 0; t < c->rows; t++, dst += OW) {
            int64_t ih = (c->oh0 + t) * d->stride_h - d->pad_h + kh * d->dil_h;
            if (ih < 0 || ih >= d->H) {
                memset(dst, 0, (size_t)OW * sizeof(float));
                continue;
            }
            const float *src = c->x + (ci * d->H + ih) * d->W + off;
            if (lo > 0) memset(dst, 0, (size_t)lo * sizeof(float));
            if (sw == 1)
                memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw];
            if (hi < OW) memset(dst + hi, 0, (size_t)(OW - hi) * sizeof(float));
        }
    }
}

typedef struct {
    float *y;          // (B, Cout, OHW) at batch item b0, channel g*cout_g
    const float *tmp;  // (cout_g, nb*OHW)
    const float *bias; // (cout_g) or NULL
    int64_t nb, cout_g, OHW, ystride;  // ystride: elements between batch items of y
} scatter_ctx;

static void scatter_task(void *p, int ith, int nth) {
    const scatter_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->nb * c->cout_g, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t i = r / c->cout_g, co = r % c->cout_g;
        float *dst = c->y + i * c->ystride + co * c->OHW;
        const float *src = c->tmp + co * c->nb * c->OHW + i * c->OHW;
        float bv = c->bias ? c->bias[co] : 0.0f;
        for (int64_t j = 0; j < c->OHW; j++) dst[j] = src[j] + bv;
    }
}

pc_status pc_conv2d(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const pc_conv2d_desc *d,
                    void *ws, size_t ws_bytes, pc_error *err) {
    pc_status st = pc_conv2d_check(d, err);
    if (st != PC_OK) return st;
    int64_t OH, OW;
    pc_conv2d_out_size(d, &OH, &OW);
    int64_t cin_g = d->Cin / d->groups, cout_g = d->Cout / d->groups, HW = d->H * d->W, OHW = OH * OW;
    int64_t K = cin_g * d->KH * d->KW, nb = conv2d_batch_group(d);
    if (nb == 1 && conv2d_pointwise(d)) {
        // 1x1: y_g (cout_g, HW) = W_g (cout_g, cin_g) · x_g (cin_g, HW)
        for (int64_t b = 0; b < d->B; b++)
            for (int64_t g = 0; g < d->groups; g++) {
                float *yg = y + (b * d->Cout + g * cout_g) * OHW;
                pc_gemm(pool, yg, OHW, wmat(pc_wt_offset(w, g * cout_g * K), K, 0),
                        pc_mat_f32(x + (b * d->Cin + g * cin_g) * HW, HW, 0), cout_g, HW, cin_g, 1.0f, 0.0f, NULL);
                if (bias) add_row_bias(pool, yg, OHW, cout_g, OHW, bias + g * cout_g);
            }
        return PC_OK;
    }
    void *buf = NULL, *owned = NULL;
    st = get_ws(&buf, &owned, ws, ws_bytes, pc_conv2d_workspace(d), err);
    if (st != PC_OK) return st;
    float *col = buf;  // (K, columns)
    if (nb > 1) {
        // nb images side by side: col (K, nbb*OHW) -> tmp (cout_g, nbb*OHW) -> y
        float *tmp = col + K * nb * OHW;
        for (int64_t b0 = 0; b0 < d->B; b0 += nb) {
            int64_t nbb = PC_MIN(nb, d->B - b0), N = nbb * OHW;
            for (int64_t g = 0; g < d->groups; g++) {
                for (int64_t i = 0; i < nbb; i++) {
                    im2col_ctx c = {d, x + ((b0 + i) * d->Cin + g * cin_g) * HW, col + i * OHW, N, 0, OH, OW};
                    pc_pool_run(pool, im2col_task, &c);
                }
                pc_gemm(pool, tmp, N, wmat(pc_wt_offset(w, g * cout_g * K), K, 0), pc_mat_f32(col, N, 0), cout_g, N, K,
                        1.0f, 0.0f, NULL);
                scatter_ctx sc = {y + (b0 * d->Cout + g * cout_g) * OHW, tmp, bias ? bias + g * cout_g : NULL, nbb,
                                  cout_g, OHW, d->Cout * OHW};
                pc_pool_run(pool, scatter_task, &sc);
            }
        }
        pc_aligned_free(owned);
        return PC_OK;
    }
    int64_t rows = conv2d_rows(d);
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t g = 0; g < d->groups; g++)
            for (int64_t oh0 = 0; oh0 < OH; oh0 += rows) {
                int64_t nr = PC_MIN(rows, OH - oh0), N = nr * OW;
                im2col_ctx c = {d, x + (b * d->Cin + g * cin_g) * HW, col, N, oh0, nr, OW};
                pc_pool_run(pool, im2col_task, &c);
                float *yt = y + (b * d->Cout + g * cout_g) * OHW + oh0 * OW;
                pc_gemm(pool, yt, OHW, wmat(pc_wt_offset(w, g * cout_g * K), K, 0), pc_mat_f32(col, N, 0), cout_g, N, K,
                        1.0f, 0.0f, NULL);
                if (bias) add_row_bias(pool, yt, OHW, cout_g, N, bias + g * cout_g);
            }
    pc_aligned_free(owned);
    return PC_OK;
}

// ---- conv_transpose2d ---------------------------------------------------------------

pc_convt2d_desc pc_convt2d_make(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                                int64_t stride, int64_t pad) {
    pc_convt2d_desc d = {B, Cin, H, W, Cout, KH, KW, stride, stride, pad, pad, 1, 1, 0, 0, 1};
    return d;
}

void pc_convt2d_out_size(const pc_convt2d_desc *d, int64_t *OH, int64_t *OW) {
    *OH = (d->H - 1) * d->stride_h - 2 * d->pad_h + d->dil_h * (d->KH - 1) + d->out_pad_h + 1;
    *OW = (d->W - 1) * d->stride_w - 2 * d->pad_w + d->dil_w * (d->KW - 1) + d->out_pad_w + 1;
}

pc_status pc_convt2d_check(const pc_convt2d_desc *d, pc_error *err) {
    if (d->B <= 0 || d->Cin <= 0 || d->H <= 0 || d->W <= 0 || d->Cout <= 0 || d->KH <= 0 || d->KW <= 0 ||
        d->stride_h <= 0 || d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0 || d->dil_h <= 0 || d->dil_w <= 0 ||
        d->out_pad_h < 0 || d->out_pad_w < 0 || d->groups <= 0)
        return pc_err(err, PC_ERR_ARG, "conv_transpose2d: bad size in descriptor");
    if (d->Cin % d->groups || d->Cout % d->groups)
        return pc_err(err, PC_ERR_ARG, "conv_transpose2d: groups %lld do not divide Cin %lld / Cout %lld",
                      (long long)d->groups, (long long)d->Cin, (long long)d->Cout);
    int64_t OH, OW;
    pc_convt2d_out_size(d, &OH, &OW);
    if (OH <= 0 || OW <= 0) return pc_err(err, PC_ERR_SHAPE, "conv_transpose2d: empty output");
    return PC_OK;
}

static int64_t convt2d_rows(const pc_convt2d_desc *d) {
    return tile_rows(d->Cout / d->groups * d->KH * d->KW, d->W, d->H);
}

size_t pc_convt2d_workspace(const pc_convt2d_desc *d) {
    return (size_t)(d->Cout / d->groups * d->KH * d->KW) * (size_t)(convt2d_rows(d) * d->W) * sizeof(float);
}

typedef struct {
    const pc_convt2d_desc *d;
    float *y;          // (cout_g, OH, OW) of this batch item and group
    const float *col;  // (cout_g*KH*KW, rows*W)
    const float *bias; // (cout_g) or NULL; used by the fill pass
    int64_t ih0, rows, OH, OW, cout_g;
    int fill;          // 1: set y to bias / zero instead of scattering
} col2im_ctx;

static void col2im_task(void *p, int ith, int nth) {
    const col2im_ctx *c = p;
    const pc_convt2d_desc *d = c->d;
    int64_t c0, c1, OHW = c->OH * c->OW, N = c->rows * d->W;
    pc_split_range(c->cout_g, ith, nth, &c0, &c1);
    for (int64_t co = c0; co < c1; co++) {
        float *yc = c->y + co * OHW;
        if (c->fill) {
            float bv = c->bias ? c->bias[co] : 0.0f;
            for (int64_t i = 0; i < OHW; i++) yc[i] = bv;
            continue;
        }
        for (int64_t kh = 0; kh < d->KH; kh++)
            for (int64_t kw = 0; kw < d->KW; kw++) {
                const float *src = c->col + ((co * d->KH + kh) * d->KW + kw) * N;
                for (int64_t t = 0; t < c->rows; t++) {
                    int64_t oh = (c->ih0 + t) * d->stride_h - d->pad_h + kh * d->dil_h;
                    if (oh < 0 || oh >= c->OH) continue;
                    float *yr = yc + oh * c->OW;
                    const float *sr = src + t * d->W;
                    int64_t ow = kw * d->dil_w - d->pad_w;
                    for (int64_t iw = 0; iw < d->W; iw++, ow += d->stride_w)
                        if (ow >= 0 && ow < c->OW) yr[ow] += sr[iw];
                }
            }
    }
}

pc_status pc_convt2d(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const pc_convt2d_desc *d,
                     void *ws, size_t ws_bytes, pc_error *err) {
    pc_status st = pc_convt2d_check(d, err);
    if (st != PC_OK) return st;
    int64_t OH, OW;
    pc_convt2d_out_size(d, &OH, &OW);
    int64_t cin_g = d->Cin / d->groups, cout_g = d->Cout / d->groups, HW = d->H * d->W;
    int64_t M = cout_g * d->KH * d->KW, rows = convt2d_rows(d);
    void *buf = NULL, *owned = NULL;
    st = get_ws(&buf, &owned, ws, ws_bytes, pc_convt2d_workspace(d), err);
    if (st != PC_OK) return st;
    float *col = buf;
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t g = 0; g < d->groups; g++) {
            float *yg = y + (b * d->Cout + g * cout_g) * OH * OW;
            col2im_ctx c = {d, yg, col, bias ? bias + g * cout_g : NULL, 0, 0, OH, OW, cout_g, 1};
            pc_pool_run(pool, col2im_task, &c);
            c.fill = 0;
            // weight (Cin, cout_g, KH, KW): group g is (cin_g, M) row-major; op = its transpose
            pc_mat A = wmat(pc_wt_offset(w, g * cin_g * M), M, 1);
            for (int64_t ih0 = 0; ih0 < d->H; ih0 += rows) {
                int64_t nr = PC_MIN(rows, d->H - ih0), N = nr * d->W;
                pc_gemm(pool, col, N, A, pc_mat_f32(x + (b * d->Cin + g * cin_g) * HW + ih0 * d->W, HW, 0), M, N, cin_g,
                        1.0f, 0.0f, NULL);
                c.ih0 = ih0;
                c.rows = nr;
                pc_pool_run(pool, col2im_task, &c);
            }
        }
    pc_aligned_free(owned);
    return PC_OK;
}

// ---- conv3d with (KT, 1, 1) kernels ---------------------------------------------------

static int64_t conv3d_t_rows(int64_t Cin, int64_t KT, int64_t OT, int64_t HW) {
    return tile_rows(Cin * KT, HW, OT);
}

size_t pc_conv3d_t_workspace(int64_t Cin, int64_t KT, int64_t OT, int64_t HW) {
    return (size_t)(Cin * KT) * (size_t)(conv3d_t_rows(Cin, KT, OT, HW) * HW) * sizeof(float);
}

typedef struct {
    const float *x;  // (Cin, T, HW) of this batch item
    float *col;      // (Cin*KT, rows*HW)
    int64_t Cin, T, HW, KT, pad_t, ot0, rows;
} t2col_ctx;

static void t2col_task(void *p, int ith, int nth) {
    const t2col_ctx *c = p;
    int64_t r0, r1, N = c->rows * c->HW;
    pc_split_range(c->Cin * c->KT, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / c->KT, kt = r % c->KT;
        for (int64_t t = 0; t < c->rows; t++) {
            int64_t it = c->ot0 + t - c->pad_t + kt;
            float *dst = c->col + r * N + t * c->HW;
            if (it < 0 || it >= c->T)
                memset(dst, 0, (size_t)c->HW * sizeof(float));
            else
                memcpy(dst, c->x + (ci * c->T + it) * c->HW, (size_t)c->HW * sizeof(float));
        }
    }
}

pc_status pc_conv3d_t(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, int64_t B, int64_t Cin,
                      int64_t T, int64_t HW, int64_t Cout, int64_t KT, int64_t pad_t, void *ws, size_t ws_bytes,
                      pc_error *err) {
    if (B <= 0 || Cin <= 0 || T <= 0 || HW <= 0 || Cout <= 0 || KT <= 0 || pad_t < 0)
        return pc_err(err, PC_ERR_ARG, "conv3d (k,1,1): bad sizes");
    int64_t OT = T + 2 * pad_t - KT + 1;
    if (OT <= 0) return pc_err(err, PC_ERR_SHAPE, "conv3d (k,1,1): kernel %lld longer than padded T %lld", (long long)KT,
                               (long long)T);
    int64_t K = Cin * KT;
    if (KT == 1 && pad_t == 0) {
        for (int64_t b = 0; b < B; b++) {
            float *yb = y + b * Cout * T * HW;
            pc_gemm(pool, yb, T * HW, wmat(w, K, 0), pc_mat_f32(x + b * Cin * T * HW, T * HW, 0), Cout, T * HW, Cin, 1.0f,
                    0.0f, NULL);
            add_row_bias(pool, yb, T * HW, Cout, T * HW, bias);
        }
        return PC_OK;
    }
    int64_t rows = conv3d_t_rows(Cin, KT, OT, HW);
    void *buf = NULL, *owned = NULL;
    pc_status st = get_ws(&buf, &owned, ws, ws_bytes, pc_conv3d_t_workspace(Cin, KT, OT, HW), err);
    if (st != PC_OK) return st;
    for (int64_t b = 0; b < B; b++)
        for (int64_t ot0 = 0; ot0 < OT; ot0 += rows) {
            int64_t nr = PC_MIN(rows, OT - ot0), N = nr * HW;
            t2col_ctx c = {x + b * Cin * T * HW, buf, Cin, T, HW, KT, pad_t, ot0, nr};
            pc_pool_run(pool, t2col_task, &c);
            float *yt = y + b * Cout * OT * HW + ot0 * HW;
            pc_gemm(pool, yt, OT * HW, wmat(w, K, 0), pc_mat_f32(buf, N, 0), Cout, N, K, 1.0f, 0.0f, NULL);
            add_row_bias(pool, yt, OT * HW, Cout, N, bias);
        }
    pc_aligned_free(owned);
    return PC_OK;
}

// ---- normalisation ------------------------------------------------------------

typedef struct {
    float *y;
    const float *x, *gamma, *beta;
    int64_t M, C, S, G;
    float eps;
    int silu;
} norm_ctx;

static void layer_norm_task(void *p, int ith, int nth) {
    const norm_ctx *c = p;
    const pc_ops_vt *v = vt();
    int64_t r0, r1;
    pc_split_range(c->M, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = c->x + r * c->C;
        float mean = v->sum(xr, c->C) / (float)c->C;
        float var = v->sumsq_dev(xr, c->C, mean) / (float)c->C;
        v->norm_row(c->y + r * c->C, xr, c->C, mean, 1.0f / sqrtf(var + c->eps), c->gamma, c->beta);
    }
}

void pc_layer_norm(pc_pool *pool, float *y, const float *x, const float *gamma, const float *beta, int64_t M, int64_t C,
                   float eps) {
    norm_ctx c = {y, x, gamma, beta, M, C, 0, 0, eps, 0};
    pc_pool_run(M * C >= 8192 ? pool : NULL, layer_norm_task, &c);
}

static void group_norm_task(void *p, int ith, int nth) {
    const norm_ctx *c = p;
    const pc_ops_vt *v = vt();
    int64_t cg = c->C / c->G, r0, r1;
    pc_split_range(c->M * c->G, ith, nth, &r0, &r1);  // M = batch here
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / c->G, g = r % c->G;
        const float *xr = c->x + (b * c->C + g * cg) * c->S;
        float *yr = c->y + (b * c->C + g * cg) * c->S;
        int64_t n = cg * c->S;
        // per-channel partial sums keep float accumulation short
        double s = 0;
        for (int64_t ch = 0; ch < cg; ch++) s += v->sum(xr + ch * c->S, c->S);
        float mean = (float)(s / (double)n);
        double q = 0;
        for (int64_t ch = 0; ch < cg; ch++) q += v->sumsq_dev(xr + ch * c->S, c->S, mean);
        float inv = (float)(1.0 / sqrt(q / (double)n + c->eps));
        for (int64_t ch = 0; ch < cg; ch++) {
            int64_t k = g * cg + ch;
            float a = inv * (c->gamma ? c->gamma[k] : 1.0f);
            float bb = (c->beta ? c->beta[k] : 0.0f) - mean * a;
            v->affine(yr + ch * c->S, xr + ch * c->S, c->S, a, bb, c->silu);
        }
    }
}

void pc_group_norm(pc_pool *pool, float *y, const float *x, const float *gamma, const float *beta, int64_t B, int64_t C,
                   int64_t S, int64_t G, float eps, int silu) {
    norm_ctx c = {y, x, gamma, beta, B, C, S, G, eps, silu};
    pc_pool_run(B * C * S >= 8192 ? pool : NULL, group_norm_task, &c);
}

static void softmax_task(void *p, int ith, int nth) {
    const norm_ctx *c = p;
    const pc_ops_vt *v = vt();
    int64_t r0, r1, N = c->C;
    pc_split_range(c->M, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *yr = c->y + r * N;
        float m = v->max(c->x + r * N, N);
        float s = v->exp_sum(yr, c->x + r * N, N, m);
        float inv = 1.0f / s;
        for (int64_t i = 0; i < N; i++) yr[i] *= inv;
    }
}

void pc_softmax(pc_pool *pool, float *y, const float *x, int64_t M, int64_t N) {
    norm_ctx c = {y, x, NULL, NULL, M, N, 0, 0, 0, 0};
    pc_pool_run(M * N >= 8192 ? pool : NULL, softmax_task, &c);
}

// ---- activations & elementwise ----------------------------------------------------

enum { EW_GELU, EW_SILU, EW_RELU, EW_ADD, EW_MUL, EW_SCALE, EW_AXPY };

typedef struct {
    int op;
    float *y;
    const float *a, *b;
    float s;
    int64_t n;
} ew_ctx;

static void ew_task(void *p, int ith, int nth) {
    const ew_ctx *c = p;
    int64_t i0, i1;
    split16(c->n, ith, nth, &i0, &i1);
    float *y = c->y;
    const float *a = c->a, *b = c->b;
    switch (c->op) {
    case EW_GELU: vt()->gelu(y + i0, a + i0, i1 - i0); break;
    case EW_SILU: vt()->silu(y + i0, a + i0, i1 - i0); break;
    case EW_RELU:
        for (int64_t i = i0; i < i1; i++) y[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    case EW_ADD:
        for (int64_t i = i0; i < i1; i++) y[i] = a[i] + b[i];
        break;
    case EW_MUL:
        for (int64_t i = i0; i < i1; i++) y[i] = a[i] * b[i];
        break;
    case EW_SCALE:
        for (int64_t i = i0; i < i1; i++) y[i] = c->s * a[i];
        break;
    case EW_AXPY:
        for (int64_t i = i0; i < i1; i++) y[i] += c->s * a[i];
        break;
    }
}

static void ew_run(pc_pool *pool, int op, float *y, const float *a, const float *b, float s, int64_t n) {
    if (n <= 0) return;
    ew_ctx c = {op, y, a, b, s, n};
    pc_pool_run(n >= 32768 ? pool : NULL, ew_task, &c);
}

void pc_gelu(pc_pool *pool, float *y, const float *x, int64_t n) { ew_run(pool, EW_GELU, y, x, NULL, 0, n); }
void pc_silu(pc_pool *pool, float *y, const float *x, int64_t n) { ew_run(pool, EW_SILU, y, x, NULL, 0, n); }
void pc_relu(pc_pool *pool, float *y, const float *x, int64_t n) { ew_run(pool, EW_RELU, y, x, NULL, 0, n); }
void pc_add(pc_pool *pool, float *y, const float *a, const float *b, int64_t n) { ew_run(pool, EW_ADD, y, a, b, 0, n); }
void pc_mul(pc_pool *pool, float *y, const float *a, const float *b, int64_t n) { ew_run(pool, EW_MUL, y, a, b, 0, n); }
void pc_scale(pc_pool *pool, float *y, const float *x, float s, int64_t n) { ew_run(pool, EW_SCALE, y, x, NULL, s, n); }
void pc_axpy(pc_pool *pool, float *y, const float *x, float a, int64_t n) { ew_run(pool, EW_AXPY, y, x, NULL, a, n); }

typedef struct {
    float *y;
    const float *h;
    int64_t M, F;
} geglu_ctx;

static void geglu_task(void *p, int ith, int nth) {
    const geglu_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->M, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) vt()->geglu(c->y + r * c->F, c->h + r * 2 * c->F, c->h + r * 2 * c->F + c->F, c->F);
}

void pc_geglu(pc_pool *pool, float *y, const float *h, int64_t M, int64_t F) {
    geglu_ctx c = {y, h, M, F};
    pc_pool_run(M * F >= 16384 ? pool : NULL, geglu_task, &c);
}

void pc_add_channel_bias(pc_pool *pool, float *y, const float *b, int64_t B, int64_t C, int64_t S) {
    for (int64_t i = 0; i < B; i++) add_row_bias(pool, y + i * C * S, S, C, S, b);
}

// ---- attention ----------------------------------------------------------------

// Flash-style attention: tasks are (b, h, block of ATT_BQ queries), split
// evenly over the workers; each runs pc_ops_attn_block (ops_vec.c) with its
// own scratch: the queries of the block, one block of scores and the output
// accumulator, never Nq x Nk.
#define ATT_BQ 64  // must match ops_vec.c

typedef struct {
    pc_attn_view o, q, k, v;
    int64_t B, H, Nq, Nk, D, nqb;
    float scale;
    float *scratch;
    int64_t per_worker;
} attn_ctx;

static void attn_task(void *p, int ith, int nth) {
    const attn_ctx *c = p;
    const pc_ops_vt *v = vt();
    int64_t t0, t1;
    pc_split_range(c->B * c->H * c->nqb, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        int64_t qb = t % c->nqb, bh = t / c->nqb, b = bh / c->H, h = bh % c->H;
        int64_t i0 = qb * ATT_BQ, nq = PC_MIN(ATT_BQ, c->Nq - i0);
        v->attn_block(c->o.data + b * c->o.sb + h * c->o.sh + i0 * c->o.sn, c->o.sn,
                      c->q.data + b * c->q.sb + h * c->q.sh + i0 * c->q.sn, c->q.sn,
                      c->k.data + b * c->k.sb + h * c->k.sh, c->k.sn, c->v.data + b * c->v.sb + h * c->v.sh, c->v.sn,
                      nq, c->Nk, c->D, c->scale, c->scratch + ith * c->per_worker);
    }
}

pc_status pc_attention(pc_pool *pool, pc_attn_view o, pc_attn_view q, pc_attn_view k, pc_attn_view v, int64_t B,
                       int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale, pc_error *err) {
    if (B <= 0 || H <= 0 || Nq <= 0 || Nk <= 0 || D <= 0) return pc_err(err, PC_ERR_ARG, "attention: empty sizes");
    int nth = pc_pool_size(pool);
    int64_t per = (vt()->attn_scratch(D) + 15) / 16 * 16;
    float *scratch = pc_aligned_alloc((size_t)per * (size_t)nth * sizeof(float));
    if (!scratch) return pc_err(err, PC_ERR_MEMORY, "attention scratch");
    attn_ctx c = {o, q, k, v, B, H, Nq, Nk, D, (Nq + ATT_BQ - 1) / ATT_BQ, scale, scratch, per};
    pc_pool_run(pool, attn_task, &c);
    pc_aligned_free(scratch);
    return PC_OK;
}

// ---- RoPE2D -----------------------------------------------------------------------

typedef struct {
    pc_attn_view t;
    const int64_t *pos;
    int64_t B, H, N, D;
    float base;
} rope_ctx;

static void rope_task(void *p, int ith, int nth) {
    const rope_ctx *c = p;
    int64_t d = c->D / 2, q = d / 2, r0, r1;
    float inv_freq[256], cs[2][256], sn[2][256];  // q <= 256 (checked by the caller)
    for (int64_t i = 0; i < q; i++) inv_freq[i] = 1.0f / powf(c->base, (float)(2 * i) / (float)d);
    pc_split_range(c->B * c->N, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / c->N, n = r % c->N;
        for (int half = 0; half < 2; half++) {
            float pos = (float)c->pos[r * 2 + half];
            for (int64_t i = 0; i < q; i++) {
                float ang = pos * inv_freq[i];
                cs[half][i] = cosf(ang);
                sn[half][i] = sinf(ang);
            }
        }
        for (int64_t h = 0; h < c->H; h++) {
            float *row = c->t.data + b * c->t.sb + h * c->t.sh + n * c->t.sn;
            for (int half = 0; half < 2; half++) {
                float *u = row + half * d;
                for (int64_t i = 0; i < q; i++) {
                    float a = u[i], bb = u[i + q];
                    u[i] = a * cs[half][i] - bb * sn[half][i];
                    u[i + q] = bb * cs[half][i] + a * sn[half][i];
                }
            }
        }
    }
}

void pc_rope2d(pc_pool *pool, pc_attn_view t, const int64_t *pos, int64_t B, int64_t H, int64_t N, int64_t D, float base) {
    if (D / 4 > 256) {  // head dims beyond 1024: not used by any model here
        pc_rope2d_ref(t, pos, B, H, N, D, base);
        return;
    }
    rope_ctx c = {t, pos, B, H, N, D, base};
    pc_pool_run(B * N * H * D >= 8192 ? pool : NULL, rope_task, &c);
}

// ---- resampling -------------------------------------------------------------------

typedef struct {
    float *y;
    const float *x;
    int64_t NC, H, W, OH, OW;
    int align_corners;
    float sh, sw;
    int64_t r;  // pixel shuffle factor
} rs_ctx;

// Same arithmetic as ops_ref.c (PyTorch area_pixel_compute_source_index).
static float rs_scale(int64_t in, int64_t out, int align_corners, double scale) {
    if (align_corners) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

static void rs_index(float sc, int64_t dst, int64_t in, int align_corners, int64_t *i0, int64_t *i1, float *l1) {
    float src = align_corners ? sc * (float)dst : sc * ((float)dst + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t i = (int64_t)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    float l = src - (float)i;  // torch clamps lambda to [0, 1]
    *l1 = l < 0 ? 0 : l > 1 ? 1 : l;
}

static void bilinear_task(void *p, int ith, int nth) {
    const rs_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->NC * c->OH, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t ch = r / c->OH, oh = r % c->OH, h0, h1;
        float lh;
        rs_index(c->sh, oh, c->H, c->align_corners, &h0, &h1, &lh);
        const float *x0 = c->x + (ch * c->H + h0) * c->W, *x1 = c->x + (ch * c->H + h1) * c->W;
        float *yr = c->y + r * c->OW;
        for (int64_t ow = 0; ow < c->OW; ow++) {
            int64_t w0, w1;
            float lw;
            rs_index(c->sw, ow, c->W, c->align_corners, &w0, &w1, &lw);
            yr[ow] = (1 - lh) * ((1 - lw) * x0[w0] + lw * x0[w1]) + lh * ((1 - lw) * x1[w0] + lw * x1[w1]);
        }
    }
}

void pc_resize_bilinear(pc_pool *pool, float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, int align_corners, double scale_h, double scale_w) {
    rs_ctx c = {y,
                x,
                NC,
                H,
                W,
                OH,
                OW,
                align_corners,
                rs_scale(H, OH, align_corners, scale_h),
                rs_scale(W, OW, align_corners, scale_w),
                0};
    pc_pool_run(NC * OH * OW >= 16384 ? pool : NULL, bilinear_task, &c);
}

// PyTorch nearest_idx (same as ops_ref.c): identity, dst >> 1, or floor(dst * scale).
static int64_t near_index(int64_t dst, int64_t in, int64_t out, float s) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    return PC_MIN((int64_t)floorf((float)dst * s), in - 1);
}

static void nearest_task(void *p, int ith, int nth) {
    const rs_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->NC * c->OH, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t ch = r / c->OH, oh = r % c->OH;
        int64_t ih = near_index(oh, c->H, c->OH, c->sh);
        const float *xr = c->x + (ch * c->H + ih) * c->W;
        float *yr = c->y + r * c->OW;
        for (int64_t ow = 0; ow < c->OW; ow++) yr[ow] = xr[near_index(ow, c->W, c->OW, c->sw)];
    }
}

void pc_upsample_nearest(pc_pool *pool, float *y, const float *x, int64_t NC, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, double scale_h, double scale_w) {
    float sh = scale_h > 0 ? (float)(1.0 / scale_h) : (float)H / (float)OH;
    float sw = scale_w > 0 ? (float)(1.0 / scale_w) : (float)W / (float)OW;
    rs_ctx c = {y, x, NC, H, W, OH, OW, 0, sh, sw, 0};
    pc_pool_run(NC * OH * OW >= 16384 ? pool : NULL, nearest_task, &c);
}

static void shuffle_task(void *p, int ith, int nth) {
    const rs_ctx *c = p;
    int64_t r = c->r, OW = c->W * r, r0, r1;
    pc_split_range(c->NC * c->H * r, ith, nth, &r0, &r1);  // output rows; NC = B*C
    for (int64_t row = r0; row < r1; row++) {
        int64_t bc = row / (c->H * r), oh = row % (c->H * r), h = oh / r, i = oh % r;
        float *yr = c->y + row * OW;
        for (int64_t j = 0; j < r; j++) {
            const float *xr = c->x + ((bc * r * r + i * r + j) * c->H + h) * c->W;
            for (int64_t w = 0; w < c->W; w++) yr[w * r + j] = xr[w];
        }
    }
}

void pc_pixel_shuffle(pc_pool *pool, float *y, const float *x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t r) {
    rs_ctx c = {y, x, B * C, H, W, 0, 0, 0, 0, 0, r};
    pc_pool_run(B * C * H * W * r * r >= 16384 ? pool : NULL, shuffle_task, &c);
}

// ---- layout helpers -----------------------------------------------------------

typedef struct {
    float *y;
    const float *x;
    int64_t B, R, C;
} tr_ctx;

#define TR_TILE 32

static void transpose_task(void *p, int ith, int nth) {
    const tr_ctx *c = p;
    int64_t rt = (c->R + TR_TILE - 1) / TR_TILE, ct = (c->C + TR_TILE - 1) / TR_TILE, t0, t1;
    pc_split_range(c->B * rt * ct, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / (rt * ct), r0 = (t / ct % rt) * TR_TILE, c0 = (t % ct) * TR_TILE;
        int64_t r1 = PC_MIN(r0 + TR_TILE, c->R), c1 = PC_MIN(c0 + TR_TILE, c->C);
        const float *xb = c->x + b * c->R * c->C;
        float *yb = c->y + b * c->R * c->C;
        for (int64_t j = c0; j < c1; j++)
            for (int64_t i = r0; i < r1; i++) yb[j * c->R + i] = xb[i * c->C + j];
    }
}

void pc_transpose(pc_pool *pool, float *y, const float *x, int64_t B, int64_t R, int64_t C) {
    tr_ctx c = {y, x, B, R, C};
    pc_pool_run(B * R * C >= 16384 ? pool : NULL, transpose_task, &c);
}

typedef struct {
    float *y;
    const pc_tensor *x;
    int64_t n;
} cs_ctx;

static void copy_strided_task(void *p, int ith, int nth) {
    const cs_ctx *c = p;
    const pc_tensor *x = c->x;
    int nd = x->ndim;
    int64_t i0, i1, idx[PC_MAX_DIMS];
    split16(c->n, ith, nth, &i0, &i1);
    if (i0 >= i1) return;
    if (nd == 0) {
        c->y[0] = ((const float *)x->data)[0];
        return;
    }
    // multi-index of element i0, then walk like an odometer
    int64_t rem = i0, off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % x->shape[d];
        rem /= x->shape[d];
        off += idx[d] * x->strides[d];
    }
    const float *src = x->data;
    int64_t last = x->shape[nd - 1], ls = x->strides[nd - 1];
    for (int64_t i = i0; i < i1;) {
        int64_t run = PC_MIN(last - idx[nd - 1], i1 - i);
        const float *s = src + off;
        for (int64_t j = 0; j < run; j++) c->y[i + j] = s[j * ls];
        i += run;
        off += run * ls;
        idx[nd - 1] += run;
        for (int d = nd - 1; d > 0 && idx[d] == x->shape[d]; d--) {
            off -= idx[d] * x->strides[d];
            idx[d] = 0;
            idx[d - 1]++;
            off += x->strides[d - 1];
        }
    }
}

pc_status pc_copy_strided(pc_pool *pool, float *y, const pc_tensor *x, pc_error *err) {
    if (x->dtype != PC_F32) return pc_err(err, PC_ERR_ARG, "copy_strided: f32 only, got %s", pc_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > PC_MAX_DIMS) return pc_err(err, PC_ERR_ARG, "copy_strided: bad ndim %d", x->ndim);
    int64_t n = pc_tensor_numel(x);
    if (n <= 0) return PC_OK;
    cs_ctx c = {y, x, n};
    pc_pool_run(n >= 32768 ? pool : NULL, copy_strided_task, &c);
    return PC_OK;
}

typedef struct {
    float *y;
    const float *const *xs;
    const int64_t *Cs;
    int n;
    int64_t B, S, Ctot;
    const float *x;  // slice source
    int64_t C, start;
} cat_ctx;

static void concat_task(void *p, int ith, int nth) {
    const cat_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->B * c->Ctot, ith, nth, &r0, &r1);  // output channel rows
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / c->Ctot, ch = r % c->Ctot;
        int i = 0;
        while (ch >= c->Cs[i]) ch -= c->Cs[i++];
        memcpy(c->y + r * c->S, c->xs[i] + (b * c->Cs[i] + ch) * c->S, (size_t)c->S * sizeof(float));
    }
}

void pc_concat_channels(pc_pool *pool, float *y, const float *const *xs, const int64_t *Cs, int n, int64_t B, int64_t S) {
    int64_t tot = 0;
    for (int i = 0; i < n; i++) tot += Cs[i];
    if (tot <= 0) return;
    cat_ctx c = {y, xs, Cs, n, B, S, tot, NULL, 0, 0};
    pc_pool_run(B * tot * S >= 32768 ? pool : NULL, concat_task, &c);
}

static void slice_task(void *p, int ith, int nth) {
    const cat_ctx *c = p;
    int64_t r0, r1;
    pc_split_range(c->B * c->Ctot, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / c->Ctot, ch = r % c->Ctot;
        memcpy(c->y + r * c->S, c->x + (b * c->C + c->start + ch) * c->S, (size_t)c->S * sizeof(float));
    }
}

void pc_slice_channels(pc_pool *pool, float *y, const float *x, int64_t B, int64_t C, int64_t S, int64_t start,
                       int64_t len) {
    cat_ctx c = {y, NULL, NULL, 0, B, S, len, x, C, start};
    pc_pool_run(B * len * S >= 32768 ? pool : NULL, slice_task, &c);
}
