// Implicit-GEMM convolution driver (see conv_fast.h). GEMM view: C (M = Cout, N = OH*OW pixels) =
// A (M, K = Cin*k*k: the weights as stored) x B (K, N: the virtual im2col matrix).
//
//   pack A once per call (all K blocks, all MR panels), split over the threads
//   each thread: its share of output panels (NR pixels of one output row), in blocks of NBP panels:
//     C block = bias + res (or nothing: the first K block then overwrites)
//     for each K block (equal blocks <= the kernel's KC; depends on K only):
//       pack B block (kc x NBP*NR) straight from x                       -> L2
//       for each A micro-panel (MR output channels)                      -> L1
//         for each B micro-panel: micro-kernel, C += A panel x B panel
// Every C element sees the same operations in the same order whatever the thread count.
#include "core/conv_fast_internal.h"

#include "core/cpu.h"
#include "core/gemm_internal.h"

#include <stdatomic.h>
#include <string.h>

pc_convf_desc pc_convf_make(int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t k, int64_t stride, int64_t pad) {
    pc_convf_desc d = {Cin, H, W, Cout, k, stride, pad, pad, pad, pad, 1};
    return d;
}

void pc_convf_out_size(const pc_convf_desc *d, int64_t *OH, int64_t *OW) {
    *OH = (d->H * d->up + d->pad_t + d->pad_b - d->k) / d->stride + 1;
    *OW = (d->W * d->up + d->pad_l + d->pad_r - d->k) / d->stride + 1;
}

pc_status pc_convf_check(const pc_convf_desc *d, pc_error *err) {
    const int64_t lim = (int64_t)1 << 24;
    if (d->Cin <= 0 || d->H <= 0 || d->W <= 0 || d->Cout <= 0 || d->k <= 0 || d->stride <= 0 || d->up <= 0 ||
        d->pad_t < 0 || d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0)
        return pc_err(err, PC_ERR_ARG, "conv: bad size in descriptor");
    if (d->Cin > lim || d->Cout > lim || d->k > 64 || d->up > 64 || d->H * d->up > lim || d->W * d->up > lim ||
        d->pad_t > lim || d->pad_l > lim || d->pad_b > lim || d->pad_r > lim)
        return pc_err(err, PC_ERR_ARG, "conv: size out of range in descriptor");
    if (d->H * d->up + d->pad_t + d->pad_b < d->k || d->W * d->up + d->pad_l + d->pad_r < d->k)
        return pc_err(err, PC_ERR_SHAPE, "conv: kernel %lld larger than the padded input %lldx%lld", (long long)d->k,
                      (long long)(d->H * d->up + d->pad_t + d->pad_b), (long long)(d->W * d->up + d->pad_l + d->pad_r));
    return PC_OK;
}

// ---- reference ---------------------------------------------------------------------------------

void pc_convf_ref(float *y, const float *x, pc_wt w, const float *bias, const float *res, const pc_convf_desc *d) {
    int64_t OH, OW;
    pc_convf_out_size(d, &OH, &OW);
    const int64_t k = d->k, Hu = d->H * d->up, Wu = d->W * d->up;
    for (int64_t co = 0; co < d->Cout; co++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double acc = bias ? (double)bias[co] : 0.0;
                for (int64_t ci = 0; ci < d->Cin; ci++)
                    for (int64_t kh = 0; kh < k; kh++) {
                        int64_t ih = oh * d->stride - d->pad_t + kh;
                        if (ih < 0 || ih >= Hu) continue;
                        for (int64_t kw = 0; kw < k; kw++) {
                            int64_t iw = ow * d->stride - d->pad_l + kw;
                            if (iw < 0 || iw >= Wu) continue;
                            double xv = x[(ci * d->H + ih / d->up) * d->W + iw / d->up];
                            acc += xv * (double)pc_wt_get(w, ((co * d->Cin + ci) * k + kh) * k + kw);
                        }
                    }
                int64_t i = (co * OH + oh) * OW + ow;
                float v = (float)acc;
                y[i] = res ? v + res[i] : v;
            }
}

// ---- packing of B, portable ----------------------------------------------------------------------

// Plain C packer for any NR (f32 layout), used with the AVX2 / scalar micro-kernels.
static void pack_generic(float *dst, const pc_convf_geo *g, int64_t k0, int64_t kc, int64_t p0, int64_t np, int NR) {
    const int64_t kk2 = g->k * g->k;
    for (int64_t p = 0; p < np; p++) {
        float *d = dst + p * NR * kc;
        int64_t oh = (p0 + p) / g->ppr, ow0 = ((p0 + p) % g->ppr) * NR, nv = PC_MIN((int64_t)NR, g->OW - ow0);
        for (int64_t t = 0; t < kc; t++) {
            int64_t kk = k0 + t, ci = kk / kk2, kh = (kk % kk2) / g->k, kw = kk % g->k;
            float *dk = d + t * NR;
            int64_t ih = oh * g->stride - g->pad_t + kh;
            if (ih < 0 || ih >= g->Hu) {
                for (int c = 0; c < NR; c++) dk[c] = 0.0f;
                continue;
            }
            const float *row = g->x + (ci * g->H + ih / g->up) * g->W;
            for (int64_t c = 0; c < NR; c++) {
                int64_t iw = (ow0 + c) * g->stride - g->pad_l + kw;
                dk[c] = (c < nv && iw >= 0 && iw < g->Wu) ? row[iw / g->up] : 0.0f;
            }
        }
    }
}

// ---- driver ------------------------------------------------------------------------------------

typedef struct convf_plan {
    const pc_gemm_impl *im;
    pc_convf_pack_fn pack;  // NULL: pack_generic
    int tail;               // AVX-512 f32: short last panels go to pc_convf_kern_tail_avx512
    int64_t K, nkb, kcmax, Mpad, nbp;
    size_t a_floats, b_floats;  // A pack; B block per thread (each a multiple of 16 floats)
} convf_plan;

// isa: PC_GEMM_ISA_AUTO (best f32 kernel) or a supported explicit one.
static void make_plan(convf_plan *pl, const pc_convf_desc *d, pc_gemm_isa_id isa) {
    memset(pl, 0, sizeof(*pl));
    if (isa == PC_GEMM_ISA_AUTO)
        isa = pc_gemm_isa_supported(PC_GEMM_ISA_AVX512)  ? PC_GEMM_ISA_AVX512
              : pc_gemm_isa_supported(PC_GEMM_ISA_AVX2) ? PC_GEMM_ISA_AVX2
                                                        : PC_GEMM_ISA_SCALAR;
    switch (isa) {
    case PC_GEMM_ISA_AVX512_BF16:
        pl->im = pc_gemm_impl_avx512_bf16();
        pl->pack = pc_convf_pack_bf16_avx512;
        break;
    case PC_GEMM_ISA_AVX512:
        pl->im = pc_gemm_impl_avx512();
        pl->pack = pc_convf_pack_avx512;
        pl->tail = 1;
        break;
    case PC_GEMM_ISA_AVX2: pl->im = pc_gemm_impl_avx2(); break;
    default: pl->im = pc_gemm_impl_scalar(); break;
    }
    const pc_gemm_impl *im = pl->im;
    pl->K = d->Cin * d->k * d->k;
    pl->nkb = (pl->K + im->kc - 1) / im->kc;
    pl->kcmax = (pl->K + pl->nkb - 1) / pl->nkb;
    pl->Mpad = (d->Cout + im->mr - 1) / im->mr * im->mr;
    pl->nbp = PC_MAX((int64_t)1, im->nb / im->nr);
    pl->a_floats = ((size_t)pl->Mpad * (size_t)pl->K + 15) / 16 * 16;
    pl->b_floats = ((size_t)pl->kcmax * (size_t)(pl->nbp * im->nr) + 15) / 16 * 16;
}

static pc_gemm_isa_id prec_isa(pc_convf_prec prec) {
    return prec == PC_CONVF_BF16 && pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16) ? PC_GEMM_ISA_AVX512_BF16
                                                                                   : PC_GEMM_ISA_AUTO;
}

static size_t plan_workspace(const convf_plan *pl, int nthreads) {
    if (nthreads < 1) nthreads = 1;
    return (pl->a_floats + (size_t)nthreads * pl->b_floats) * sizeof(float) + PC_ALIGN;
}

// pc_convf takes Winograd F(2x2, 3x3) where it applies: f32 on AVX-512, bf16 on AVX512_BF16.
// 0: direct, 1: Winograd f32, 2: Winograd bf16.
static int use_wino(const pc_convf_desc *d, pc_convf_prec prec) {
    if (prec == PC_CONVF_BF16 && pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16))
        return pc_convf_wino_bf16_ok(d) ? 2 : 0;
    return pc_gemm_isa_supported(PC_GEMM_ISA_AVX512) && pc_convf_wino_ok(d) ? 1 : 0;
}

size_t pc_convf_workspace(const pc_convf_desc *d, pc_convf_prec prec, int nthreads) {
    int wk = use_wino(d, prec);
    if (wk) return pc_convf_wino_workspace(d, wk == 2, nthreads);
    convf_plan pl;
    make_plan(&pl, d, prec_isa(prec));
    return plan_workspace(&pl, nthreads);
}

typedef struct convf_job {
    const convf_plan *pl;
    pc_convf_geo g;
    pc_mat A;            // weights (Cout, K) row-major
    float *apack;        // Mpad * K floats: K block kb at apack + Mpad*k0, panel ir at + ir*kc
    float *bpack;        // nth blocks of b_floats
    float *y;
    const float *bias, *res;
    int64_t M;
    atomic_llong next;   // next block of panels to take (dynamic: a thread slowed by other work takes fewer)
} convf_job;

static void pack_a_task(void *ctx, int ith, int nth) {
    const convf_job *j = (const convf_job *)ctx;
    const convf_plan *pl = j->pl;
    const int MR = pl->im->mr;
    int64_t npan = pl->Mpad / MR, t0, t1;
    pc_split_range(pl->nkb * npan, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        int64_t kb = t / npan, ir = (t % npan) * MR, k0, k1;
        pc_split_range(pl->K, (int)kb, (int)pl->nkb, &k0, &k1);
        pl->im->pack_a(j->apack + pl->Mpad * k0 + ir * (k1 - k0), &j->A, ir, PC_MIN((int64_t)MR, j->M - ir), k0,
                       k1 - k0);
    }
}

// Prefetch (for writing) the output rows ir..ir+mv of panels p0..p0+np: while the last K block of one
// panel block runs, the next block's output lines (Cout rows H*W floats apart, first touched by the
// bias/residual pass or the first micro-kernel) are brought in, instead of stalling on each of them.
static inline __attribute__((always_inline)) void prefetch_out(const convf_job *j, int64_t ir, int mv, int64_t p0, int64_t np, int NR) {
    const pc_convf_geo *g = &j->g;
    const int64_t OHW = g->OH * g->OW;
    for (int64_t p = 0; p < np; p++) {
        int64_t oh = (p0 + p) / g->ppr, ow0 = ((p0 + p) % g->ppr) * NR, nv = PC_MIN((int64_t)NR, g->OW - ow0);
        for (int r = 0; r < mv; r++) {
            const float *c = j->y + (ir + r) * OHW + oh * g->OW + ow0;
            for (int64_t i = 0; i < nv; i += 16) __builtin_prefetch(c + i, 1, 3);
            if (j->res && j->res != j->y) __builtin_prefetch(j->res + (ir + r) * OHW + oh * g->OW + ow0, 0, 3);
        }
    }
}

static void conv_task(void *ctx, int ith, int nth) {
    (void)nth;
    convf_job *j = (convf_job *)ctx;
    const convf_plan *pl = j->pl;
    const pc_gemm_impl *im = pl->im;
    const pc_convf_geo *g = &j->g;
    const int MR = im->mr, NR = im->nr;
    const int64_t OHW = g->OH * g->OW, M = j->M;
    // Blocks of nbp panels are taken from a shared counter; which thread computes a block does not
    // change its arithmetic, so results stay bit-identical for any thread count and timing.
    const int64_t pe = g->OH * g->ppr, nblk = (pe + pl->nbp - 1) / pl->nbp;
    float *bp = j->bpack + (size_t)ith * pl->b_floats;
    const int init = j->bias || j->res;
    for (;;) {
        int64_t blk = (int64_t)atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (blk >= nblk) break;
        int64_t p0 = blk * pl->nbp, np = PC_MIN(pl->nbp, pe - p0);
        if (init)  // C = bias + res over this block's pixels
            for (int64_t p = 0; p < np; p++) {
                int64_t oh = (p0 + p) / g->ppr, ow0 = ((p0 + p) % g->ppr) * NR, nv = PC_MIN((int64_t)NR, g->OW - ow0);
                int64_t off = oh * g->OW + ow0;
                for (int64_t co = 0; co < M; co++) {
                    float *c = j->y + co * OHW + off;
                    float bv = j->bias ? j->bias[co] : 0.0f;
                    if (pl->pack) {  // the AVX-512 kernels: vector fill (this file is built for the baseline ISA)
                        pc_convf_fill_avx512(c, j->res ? j->res + co * OHW + off : NULL, bv, nv);
                    } else if (j->res) {
                        const float *r = j->res + co * OHW + off;
                        for (int64_t i = 0; i < nv; i++) c[i] = r[i] + bv;
                    } else {
                        for (int64_t i = 0; i < nv; i++) c[i] = bv;
                    }
                }
            }
        for (int64_t kb = 0; kb < pl->nkb; kb++) {
            int64_t k0, k1;
            pc_split_range(pl->K, (int)kb, (int)pl->nkb, &k0, &k1);
            int64_t kc = k1 - k0;
            float beta = (kb == 0 && !init) ? 0.0f : 1.0f;
            if (pl->pack)
                pl->pack(bp, g, k0, kc, p0, np);
            else
                pack_generic(bp, g, k0, kc, p0, np, NR);
            const float *ab = j->apack + pl->Mpad * k0;
            for (int64_t ir = 0; ir < M; ir += MR) {
                const float *a = ab + ir * kc;
                int mv = (int)PC_MIN((int64_t)MR, M - ir);
                float *crow = j->y + ir * OHW;
                for (int64_t p = 0; p < np; p++) {
                    int64_t oh = (p0 + p) / g->ppr, ow0 = ((p0 + p) % g->ppr) * NR;
                    int nv = (int)PC_MIN((int64_t)NR, g->OW - ow0);
                    float *c = crow + oh * g->OW + ow0;
                    if (!(pl->tail && mv < MR && pc_convf_kern_tail_avx512(kc, a, bp + p * NR * kc, c, OHW, beta, mv, nv)))
                        im->kern(kc, a, bp + p * NR * kc, c, OHW, 1.0f, beta, NULL, mv, nv);
                }
                if (kb == pl->nkb - 1) prefetch_out(j, ir, mv, p0 + np, PC_MIN(pl->nbp, pe - p0 - np), NR);
            }
        }
    }
}

pc_status pc_convf_ex(pc_pool *pool, pc_gemm_isa_id isa, float *y, const float *x, pc_wt w, const float *bias,
                      const float *res, const pc_convf_desc *d, void *ws, size_t ws_bytes, pc_error *err) {
    pc_status st = pc_convf_check(d, err);
    if (st != PC_OK) return st;
    if (!pc_gemm_isa_supported(isa))
        return pc_err(err, PC_ERR_UNSUPPORTED, "conv: micro-kernel %s not supported on this CPU", pc_gemm_isa_name(isa));
    if (w.dtype != PC_F32 && w.dtype != PC_F16 && w.dtype != PC_BF16)
        return pc_err(err, PC_ERR_UNSUPPORTED, "conv: weight dtype %d not supported", (int)w.dtype);
    convf_plan pl;
    make_plan(&pl, d, isa);
    size_t need = plan_workspace(&pl, pc_pool_size(pool));
    void *owned = NULL;
    if (!ws || ws_bytes < need) {
        owned = pc_aligned_alloc(need);
        if (!owned) return pc_err(err, PC_ERR_MEMORY, "conv workspace of %zu bytes", need);
        ws = owned;
    }
    float *base = (float *)(((uintptr_t)ws + PC_ALIGN - 1) & ~(uintptr_t)(PC_ALIGN - 1));
    convf_job j;
    memset(&j, 0, sizeof(j));
    j.pl = &pl;
    j.g.x = x;
    j.g.Cin = d->Cin;
    j.g.H = d->H;
    j.g.W = d->W;
    j.g.k = d->k;
    j.g.stride = d->stride;
    j.g.pad_t = d->pad_t;
    j.g.pad_l = d->pad_l;
    j.g.up = d->up;
    j.g.Hu = d->H * d->up;
    j.g.Wu = d->W * d->up;
    pc_convf_out_size(d, &j.g.OH, &j.g.OW);
    j.g.ppr = (j.g.OW + pl.im->nr - 1) / pl.im->nr;
    j.A.data = w.data;
    j.A.dtype = w.dtype;
    j.A.ld = pl.K;
    j.A.trans = 0;
    j.apack = base;
    j.bpack = base + pl.a_floats;
    j.y = y;
    j.bias = bias;
    j.res = res;
    j.M = d->Cout;
    pc_pool_run(pool, pack_a_task, &j);
    atomic_init(&j.next, 0);
    pc_pool_run(pool, conv_task, &j);
    pc_aligned_free(owned);
    return PC_OK;
}

pc_status pc_convf_winograd(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                            const pc_convf_desc *d, pc_convf_prec prec, void *ws, size_t ws_bytes, pc_error *err) {
    pc_status st = pc_convf_check(d, err);
    if (st != PC_OK) return st;
    int bf16 = prec == PC_CONVF_BF16;
    if (!pc_gemm_isa_supported(bf16 ? PC_GEMM_ISA_AVX512_BF16 : PC_GEMM_ISA_AVX512) ||
        !(bf16 ? pc_convf_wino_bf16_ok(d) : pc_convf_wino_ok(d)))
        return pc_err(err, PC_ERR_UNSUPPORTED, "conv: Winograd F(2x2,3x3) needs AVX-512 (bf16: AVX512_BF16, Cin <= 512) "
                                               "and a 3x3 / stride 1 / pad 1 layer with >= 16 input and output channels");
    if (w.dtype != PC_F32 && w.dtype != PC_F16 && w.dtype != PC_BF16)
        return pc_err(err, PC_ERR_UNSUPPORTED, "conv: weight dtype %d not supported", (int)w.dtype);
    size_t need = pc_convf_wino_workspace(d, bf16, pc_pool_size(pool));
    void *owned = NULL;
    if (!ws || ws_bytes < need) {
        owned = pc_aligned_alloc(need);
        if (!owned) return pc_err(err, PC_ERR_MEMORY, "conv workspace of %zu bytes", need);
        ws = owned;
    }
    pc_convf_wino_run(pool, y, x, w, bias, res, d, bf16, ws);
    pc_aligned_free(owned);
    return PC_OK;
}

pc_status pc_convf(pc_pool *pool, float *y, const float *x, pc_wt w, const float *bias, const float *res,
                   const pc_convf_desc *d, pc_convf_prec prec, void *ws, size_t ws_bytes, pc_error *err) {
    if (use_wino(d, prec)) return pc_convf_winograd(pool, y, x, w, bias, res, d, prec, ws, ws_bytes, err);
    return pc_convf_ex(pool, prec_isa(prec), y, x, w, bias, res, d, ws, ws_bytes, err);
}
