// Row primitives behind the fast kernels in ops.c (exp, GELU, SiLU, norms,
// softmax pieces, the flash-attention block), written once with GCC vector
// extensions and compiled three times: here for the baseline (4 lanes, SSE2),
// and included by ops_avx2.c (8 lanes) and ops_avx512.c (16 lanes) with their
// ISA flags. ops.c picks one table at run time.
//
// The element-wise primitives process full vectors and then the tail through
// a padded temporary, so an element's result does not depend on where it sits.
#ifndef PC_VW
#define PC_VW 4
#define PC_VSUF v4
#endif

#include "core/ops.h"
#include "core/vec.h"

#include <string.h>

// expf, cephes polynomial, ~1 ulp on [-87.3, 88.4]; inputs clamped to that range.
static inline vf vexp(vf x) {
    x = vmax(x, splat(-87.3365447f));
    x = vmin(x, splat(88.3762626647949f));
    vf fx = x * 1.44269504088896341f;
    fx = (fx + 12582912.0f) - 12582912.0f;  // round to nearest
    vf r = x - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    vf p = splat(1.9875691500E-4f);
    p = vfma(p, r, splat(1.3981999507E-3f));
    p = vfma(p, r, splat(8.3334519073E-3f));
    p = vfma(p, r, splat(4.1665795894E-2f));
    p = vfma(p, r, splat(1.6666665459E-1f));
    p = vfma(p, r, splat(5.0000001201E-1f));
    p = vfma(p, r * r, r + 1.0f);
    vi n = __builtin_convertvector(fx, vi);
    vi e = (n + 127) << 23;
    return p * (vf)e;
}

// Exact GELU 0.5 x (1 + erf(x/sqrt2)) through erfc (Numerical Recipes erfcc,
// fractional error < 1.2e-7): gelu = x - 0.5 x erfc(x/sqrt2) for x >= 0,
// 0.5 x erfc(-x/sqrt2) for x < 0.
static inline vf vgelu(vf x) {
    vf z = x * 0.70710678118654752f;
    vi neg = z < 0.0f;
    z = vsel(neg, -z, z);
    vf t = 1.0f / (1.0f + 0.5f * z);
    vf p = splat(0.17087277f);
    p = vfma(p, t, splat(-0.82215223f));
    p = vfma(p, t, splat(1.48851587f));
    p = vfma(p, t, splat(-1.13520398f));
    p = vfma(p, t, splat(0.27886807f));
    p = vfma(p, t, splat(-0.18628806f));
    p = vfma(p, t, splat(0.09678418f));
    p = vfma(p, t, splat(0.37409196f));
    p = vfma(p, t, splat(1.00002368f));
    p = vfma(p, t, splat(-1.26551223f));
    vf erfc = t * vexp(p - z * z);
    vf h = 0.5f * x * erfc;
    return vsel(neg, h, x - h);
}

static inline vf vsilu(vf x) { return x / (1.0f + vexp(-x)); }

// Apply f to n floats: full vectors then a padded tail.
#define MAP_ROW(EXPR)                                  \
    int64_t i = 0;                                     \
    for (; i + PC_VW <= n; i += PC_VW) {               \
        vf v = ld(x + i);                              \
        st(y + i, EXPR);                               \
    }                                                  \
    if (i < n) {                                       \
        float buf[PC_VW] = {0};                        \
        memcpy(buf, x + i, (size_t)(n - i) * 4);       \
        vf v = ld(buf);                                \
        st(buf, EXPR);                                 \
        memcpy(y + i, buf, (size_t)(n - i) * 4);       \
    }

void VNAME(pc_ops_gelu)(float *y, const float *x, int64_t n) { MAP_ROW(vgelu(v)) }
void VNAME(pc_ops_silu)(float *y, const float *x, int64_t n) { MAP_ROW(vsilu(v)) }
// y = x*a + b, then SiLU when silu != 0.
void VNAME(pc_ops_affine)(float *y, const float *x, int64_t n, float a, float b, int silu) {
    if (silu) {
        MAP_ROW(vsilu(v * a + b))
    } else {
        MAP_ROW(v * a + b)
    }
}

// y = a * gelu(g).
void VNAME(pc_ops_geglu)(float *y, const float *a, const float *g, int64_t n) {
    int64_t i = 0;
    for (; i + PC_VW <= n; i += PC_VW) st(y + i, ld(a + i) * vgelu(ld(g + i)));
    if (i < n) {
        float ba[PC_VW] = {0}, bg[PC_VW] = {0};
        memcpy(ba, a + i, (size_t)(n - i) * 4);
        memcpy(bg, g + i, (size_t)(n - i) * 4);
        st(ba, ld(ba) * vgelu(ld(bg)));
        memcpy(y + i, ba, (size_t)(n - i) * 4);
    }
}

float VNAME(pc_ops_max)(const float *x, int64_t n) {
    vf m = splat(-__builtin_inff());
    int64_t i = 0;
    for (; i + PC_VW <= n; i += PC_VW) m = vmax(m, ld(x + i));
    float r = hmax(m);
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

// y = exp(x - m); returns the sum of y.
float VNAME(pc_ops_exp_sum)(float *y, const float *x, int64_t n, float m) {
    vf s = splat(0.0f);
    int64_t i = 0;
    for (; i + PC_VW <= n; i += PC_VW) {
        vf e = vexp(ld(x + i) - m);
        st(y + i, e);
        s += e;
    }
    float r = hsum(s);
    if (i < n) {
        float buf[PC_VW];
        for (int j = 0; j < PC_VW; j++) buf[j] = -__builtin_inff();
        memcpy(buf, x + i, (size_t)(n - i) * 4);
        vf e = vexp(ld(buf) - m);
        st(buf, e);
        for (int64_t j = 0; j < n - i; j++) r += buf[j];
        memcpy(y + i, buf, (size_t)(n - i) * 4);
    }
    return r;
}

// Sum of x, and sum of (x - mean)^2.
float VNAME(pc_ops_sum)(const float *x, int64_t n) {
    vf s0 = splat(0.0f), s1 = s0;
    int64_t i = 0;
    for (; i + 2 * PC_VW <= n; i += 2 * PC_VW) {
        s0 += ld(x + i);
        s1 += ld(x + i + PC_VW);
    }
    for (; i + PC_VW <= n; i += PC_VW) s0 += ld(x + i);
    float r = hsum(s0 + s1);
    for (; i < n; i++) r += x[i];
    return r;
}
float VNAME(pc_ops_sumsq_dev)(const float *x, int64_t n, float mean) {
    vf s0 = splat(0.0f), s1 = s0;
    int64_t i = 0;
    for (; i + 2 * PC_VW <= n; i += 2 * PC_VW) {
        vf a = ld(x + i) - mean, b = ld(x + i + PC_VW) - mean;
        s0 += a * a;
        s1 += b * b;
    }
    for (; i + PC_VW <= n; i += PC_VW) {
        vf a = ld(x + i) - mean;
        s0 += a * a;
    }
    float r = hsum(s0 + s1);
    for (; i < n; i++) r += (x[i] - mean) * (x[i] - mean);
    return r;
}

// Layer-norm row: y = (x - mean)*inv*g + b (g, b may be NULL).
void VNAME(pc_ops_norm_row)(float *y, const float *x, int64_t n, float mean, float inv, const float *g, const float *b) {
    int64_t i = 0;
    for (; i + PC_VW <= n; i += PC_VW) {
        vf v = (ld(x + i) - mean) * inv;
        if (g) v *= ld(g + i);
        if (b) v += ld(b + i);
        st(y + i, v);
    }
    for (; i < n; i++) {
        float v = (x[i] - mean) * inv;
        if (g) v *= g[i];
        if (b) v += b[i];
        y[i] = v;
    }
}


// ---- attention: one block of queries (flash-style) --------------------------------
//
// Scores are kept transposed, St (keys, queries), so that everything runs
// along query vectors: S^T = K Q^T broadcasts key elements against packed
// query columns (K and V are read in place through their strides, no
// transposition), and the online softmax (max, exp, sum over keys) is an
// element-wise pass over rows of St.

#define ATT_BQ 64   // queries per block: a multiple of 4 vectors at every width
#define ATT_BK 256  // keys per block
#if PC_VW == 16
#define AU 4  // vectors per column chunk (accumulators: 4 rows x AU must fit the registers)
#else
#define AU 2
#endif
#define ACOLS (AU * PC_VW)

static int64_t att_dp(int64_t D) { return (D + ACOLS - 1) / ACOLS * ACOLS; }

// Floats of scratch pc_ops_attn_block needs for head dim D.
int64_t VNAME(pc_ops_attn_scratch)(int64_t D) {
    int64_t Dp = att_dp(D);
    return D * ATT_BQ + ATT_BK * ATT_BQ + ATT_BQ * Dp + ATT_BK * Dp + 3 * ATT_BQ + 64;
}

// St rows j0.. (nr rows) for query columns [0, ncols) += k rows · Qt.
static inline __attribute__((always_inline)) void att_qk_rows(float *St, const float *Qt, const float *k, int64_t ksn, int64_t D, int64_t ncols,
                               int nr) {
    for (int64_t c = 0; c < ncols; c += ACOLS) {
        vf acc[4][AU], q[AU];
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) acc[i][u] = splat(0.0f);
        for (int64_t d = 0; d < D; d++) {
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) q[u] = ld(Qt + d * ATT_BQ + c + u * PC_VW);
            #pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                if (i >= nr) break;
                vf b = splat(k[i * ksn + d]);
                #pragma GCC unroll 4
                for (int u = 0; u < AU; u++) acc[i][u] = vfma(b, q[u], acc[i][u]);
            }
        }
        #pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) st(St + i * ATT_BQ + c + u * PC_VW, acc[i][u]);
    }
}

// O rows r.. (4 rows) += P^T columns · V, over nk keys, head columns [0, Dp).
static inline __attribute__((always_inline)) void att_pv_rows(float *O, int64_t Dp, const float *St, const float *v, int64_t vsn, int64_t nk) {
    for (int64_t c = 0; c < Dp; c += ACOLS) {
        vf acc[4][AU], w[AU];
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) acc[i][u] = ld(O + i * Dp + c + u * PC_VW);
        for (int64_t j = 0; j < nk; j++) {
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) w[u] = ld(v + j * vsn + c + u * PC_VW);
            #pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                vf b = splat(St[j * ATT_BQ + i]);
                #pragma GCC unroll 4
                for (int u = 0; u < AU; u++) acc[i][u] = vfma(b, w[u], acc[i][u]);
            }
        }
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            #pragma GCC unroll 4
            for (int u = 0; u < AU; u++) st(O + i * Dp + c + u * PC_VW, acc[i][u]);
    }
}

// o (nq rows, stride osn) = softmax(scale * q k^T) v for nq <= ATT_BQ queries
// against Nk keys; q/k/v rows have strides qsn/ksn/vsn, D contiguous.
void VNAME(pc_ops_attn_block)(float *o, int64_t osn, const float *q, int64_t qsn, const float *k, int64_t ksn,
                              const float *v, int64_t vsn, int64_t nq, int64_t Nk, int64_t D, float scale,
                              float *scratch) {
    int64_t Dp = att_dp(D), ncols = (nq + ACOLS - 1) / ACOLS * ACOLS, nq4 = (nq + 3) / 4 * 4;
    float *Qt = scratch, *St = Qt + D * ATT_BQ, *O = St + ATT_BK * ATT_BQ, *Vp = O + ATT_BQ * Dp;
    float *m = Vp + ATT_BK * Dp, *l = m + ATT_BQ, *corr = l + ATT_BQ;
    // Qt (D, BQ): scaled queries as columns, zero columns past nq
    for (int64_t d = 0; d < D; d++)
        for (int64_t r = 0; r < ncols; r++) Qt[d * ATT_BQ + r] = r < nq ? q[r * qsn + d] * scale : 0.0f;
    memset(O, 0, (size_t)(nq4 * Dp) * sizeof(float));
    for (int64_t r = 0; r < ncols; r++) m[r] = -__builtin_inff(), l[r] = 0.0f;
    int direct_v = Dp == D;  // V rows usable in place
    for (int64_t j0 = 0; j0 < Nk; j0 += ATT_BK) {
        int64_t nk = Nk - j0 < ATT_BK ? Nk - j0 : ATT_BK, j = 0;
        const float *kb = k + j0 * ksn, *vb = v + j0 * vsn;
        for (; j + 4 <= nk; j += 4) att_qk_rows(St + j * ATT_BQ, Qt, kb + j * ksn, ksn, D, ncols, 4);
        for (; j < nk; j++) att_qk_rows(St + j * ATT_BQ, Qt, kb + j * ksn, ksn, D, ncols, 1);
        // online softmax along keys, vectorised over query columns
        for (int64_t c = 0; c < ncols; c += PC_VW) {
            vf mx = ld(St + c);
            for (int64_t jj = 1; jj < nk; jj++) mx = vmax(mx, ld(St + jj * ATT_BQ + c));
            vf mo = ld(m + c), mn = vmax(mo, mx), sum = splat(0.0f);
            for (int64_t jj = 0; jj < nk; jj++) {
                vf e = vexp(ld(St + jj * ATT_BQ + c) - mn);
                st(St + jj * ATT_BQ + c, e);
                sum += e;
            }
            vf cr = vexp(mo - mn);  // ~0 on the first block (mo = -inf is clamped)
            st(corr + c, cr);
            st(l + c, vfma(ld(l + c), cr, sum));
            st(m + c, mn);
        }
        if (j0 > 0)
            for (int64_t r = 0; r < nq4; r++) {
                vf cr = splat(corr[r]);
                for (int64_t d = 0; d < Dp; d += PC_VW) st(O + r * Dp + d, ld(O + r * Dp + d) * cr);
            }
        const float *vsrc = vb;
        int64_t vld = vsn;
        if (!direct_v) {  // pad V rows to Dp
            for (int64_t jj = 0; jj < nk; jj++) {
                memcpy(Vp + jj * Dp, vb + jj * vsn, (size_t)D * sizeof(float));
                memset(Vp + jj * Dp + D, 0, (size_t)(Dp - D) * sizeof(float));
            }
            vsrc = Vp;
            vld = Dp;
        }
        for (int64_t r = 0; r < nq4; r += 4) att_pv_rows(O + r * Dp, Dp, St + r, vsrc, vld, nk);
    }
    for (int64_t r = 0; r < nq; r++) {
        float inv = 1.0f / l[r];
        for (int64_t d = 0; d < D; d++) o[r * osn + d] = O[r * Dp + d] * inv;
    }
}
