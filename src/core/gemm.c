// Blocked GEMM driver (GotoBLAS / BLIS structure) over run-time selected
// micro-kernels (gemm_avx512.c, gemm_avx2.c, gemm_scalar.c).
//
// Per worker, for its rectangle of whole MR x NR tiles of C:
//   for m0 in rows   step MB        packed A block (MB x KC) lives in L3
//     for k-block (k0, kc)           K split into equal blocks <= KC (depends on K only)
//       pack A[m0.., k0..]
//       for n0 in cols step NB       packed B block (KC x NB) lives in L2
//         pack B[k0.., n0..]
//         for each A micro-panel (MR rows)      stays in L1
//           for each B micro-panel (NR cols)    streamed from L2
//             micro-kernel: MR x NR tile of C
// The first K block applies beta and bias, later ones accumulate (beta = 1).
// Each C element therefore sees the same sequence of operations whatever the
// thread count: results are bit-identical for 1..n threads.
//
// Threads: a tm x tn grid of rectangles (tm * tn <= threads), chosen from the
// shape by a small cost model (compute per thread + duplicated packing); no
// barriers, each worker packs what it needs. Scratch is one aligned
// allocation per worker per call, or a 32 KiB stack buffer for small products.
#include "core/gemm_internal.h"

#include "core/cpu.h"

#include <string.h>

int pc_gemm_isa_supported(pc_gemm_isa_id isa) {
    switch (isa) {
    case PC_GEMM_ISA_AUTO:
    case PC_GEMM_ISA_SCALAR: return 1;
    case PC_GEMM_ISA_AVX2: return pc_cpu_has_avx2_fma();
    case PC_GEMM_ISA_AVX512: return pc_cpu_has_avx512f();
    case PC_GEMM_ISA_AVX512_BF16: return pc_cpu_has_avx512_bf16();
    }
    return 0;
}

const char *pc_gemm_isa_name(pc_gemm_isa_id isa) {
    switch (isa) {
    case PC_GEMM_ISA_AUTO: return "auto";
    case PC_GEMM_ISA_SCALAR: return "scalar";
    case PC_GEMM_ISA_AVX2: return "avx2";
    case PC_GEMM_ISA_AVX512: return "avx512";
    case PC_GEMM_ISA_AVX512_BF16: return "avx512_bf16";
    }
    return "?";
}

static const pc_gemm_impl *impl_for(pc_gemm_isa_id isa) {
    if (isa == PC_GEMM_ISA_AUTO) {
        if (pc_cpu_has_avx512f()) return pc_gemm_impl_avx512();
        if (pc_cpu_has_avx2_fma()) return pc_gemm_impl_avx2();
        return pc_gemm_impl_scalar();
    }
    if (!pc_gemm_isa_supported(isa)) return NULL;
    switch (isa) {
    case PC_GEMM_ISA_AVX512: return pc_gemm_impl_avx512();
    case PC_GEMM_ISA_AVX512_BF16: return pc_gemm_impl_avx512_bf16();
    case PC_GEMM_ISA_AVX2: return pc_gemm_impl_avx2();
    default: return pc_gemm_impl_scalar();
    }
}

const char *pc_gemm_isa(void) { return impl_for(PC_GEMM_ISA_AUTO)->name; }

// View of op(X) starting at element (r, c) of op(X).
static pc_mat mat_at(pc_mat m, int64_t r, int64_t c) {
    int64_t off = m.trans ? c * m.ld + r : r * m.ld + c;
    m.data = (const char *)m.data + (size_t)off * pc_dtype_size(m.dtype);
    return m;
}

#define PC_GEMM_STACK_FLOATS 8192  // 32 KiB of packing scratch on the worker's stack

typedef struct {
    const pc_gemm_impl *im;
    float *C;
    int64_t ldc;
    pc_mat A, B;
    int64_t M, N, K;
    float alpha, beta;
    const float *bias;
    int tm, tn;    // thread grid over (M tiles, N tiles)
    int64_t nkb;   // number of K blocks
    int64_t kcmax; // largest K block
} gemm_job;

static void gemm_worker(void *ctx, int ith, int nth) {
    (void)nth;
    const gemm_job *jb = (const gemm_job *)ctx;
    if (ith >= jb->tm * jb->tn) return;
    const pc_gemm_impl *im = jb->im;
    const int MR = im->mr, NR = im->nr;
    int64_t mt = (jb->M + MR - 1) / MR, nt = (jb->N + NR - 1) / NR;
    int64_t tb, te;
    pc_split_range(mt, ith / jb->tn, jb->tm, &tb, &te);
    int64_t ms = tb * MR, me = PC_MIN(jb->M, te * MR);
    pc_split_range(nt, ith % jb->tn, jb->tn, &tb, &te);
    int64_t ns = tb * NR, ne = PC_MIN(jb->N, te * NR);
    if (ms >= me || ns >= ne) return;

    int64_t MB = PC_MAX((int64_t)MR, im->mb / MR * MR), NB = PC_MAX((int64_t)NR, im->nb / NR * NR);
    int64_t mrows = (me - ms + MR - 1) / MR * MR, ncols = (ne - ns + NR - 1) / NR * NR;
    int64_t amb = PC_MIN(MB, mrows), bnb = PC_MIN(NB, ncols);
    size_t asz = ((size_t)amb * (size_t)jb->kcmax + 15) / 16 * 16;  // keep the B block 64-byte aligned
    size_t need = asz + (size_t)bnb * (size_t)jb->kcmax;
    // Small products (e.g. per-head attention, 16 x 16 x 64) pack on the stack: no malloc at all.
    _Alignas(64) float small[PC_GEMM_STACK_FLOATS];
    float *ap = need <= PC_GEMM_STACK_FLOATS ? small : (float *)pc_aligned_alloc(need * sizeof(float));
    if (!ap) {  // out of memory: slow but correct
        pc_gemm_ref(jb->C + ms * jb->ldc + ns, jb->ldc, mat_at(jb->A, ms, 0), mat_at(jb->B, 0, ns), me - ms, ne - ns,
                    jb->K, jb->alpha, jb->beta, jb->bias ? jb->bias + ns : NULL);
        return;
    }
    float *bp = ap + asz;

    for (int64_t m0 = ms; m0 < me; m0 += MB) {
        int64_t mb = PC_MIN(MB, me - m0);
        for (int64_t kb = 0; kb < jb->nkb; kb++) {
            int64_t k0, k1;
            pc_split_range(jb->K, (int)kb, (int)jb->nkb, &k0, &k1);
            int64_t kc = k1 - k0;
            float beta = kb == 0 ? jb->beta : 1.0f;
            const float *bias = kb == 0 ? jb->bias : NULL;
            im->pack_a(ap, &jb->A, m0, mb, k0, kc);
            for (int64_t n0 = ns; n0 < ne; n0 += NB) {
                int64_t nb = PC_MIN(NB, ne - n0);
                im->pack_b(bp, &jb->B, k0, kc, n0, nb);
                for (int64_t ir = 0; ir < mb; ir += MR) {
                    int64_t mv = PC_MIN((int64_t)MR, mb - ir);
                    const float *a = ap + ir * kc;
                    float *crow = jb->C + (m0 + ir) * jb->ldc;
                    for (int64_t jr = 0; jr < nb; jr += NR) {
                        int64_t nv = PC_MIN((int64_t)NR, nb - jr);
                        int64_t j = n0 + jr;
                        const float *b = bp + jr * kc;
                        im->kern(kc, a, b, crow + j, jb->ldc, jb->alpha, beta, bias ? bias + j : NULL, (int)mv,
                                 (int)nv);
                    }
                }
            }
        }
    }
    if (ap != small) pc_aligned_free(ap);
}

// Pick the thread grid: minimise per-thread compute + packing (in rough cycles).
static void choose_grid(const pc_gemm_impl *im, int64_t M, int64_t N, int64_t K, int nth, int *tm_out, int *tn_out) {
    *tm_out = *tn_out = 1;
    if (nth <= 1 || (double)M * (double)N * (double)K < 65536.0) return;
    int64_t mt = (M + im->mr - 1) / im->mr, nt = (N + im->nr - 1) / im->nr;
    double best = 0;
    for (int tm = 1; tm <= nth; tm++) {
        int tn = nth / tm;
        int a = (int)PC_MIN((int64_t)tm, mt), b = (int)PC_MIN((int64_t)tn, nt);
        double rows = (double)((mt + a - 1) / a) * im->mr, cols = (double)((nt + b - 1) / b) * im->nr;
        double mblocks = (double)(((int64_t)rows + im->mb - 1) / im->mb);
        double cost = rows * cols * (double)K / 32.0 + rows * (double)K * 2.0 + cols * (double)K * 2.0 * mblocks;
        if (tm == 1 || cost < best) {
            best = cost;
            *tm_out = a;
            *tn_out = b;
        }
    }
}

pc_status pc_gemm_ex(pc_pool *pool, pc_gemm_isa_id isa, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M,
                     int64_t N, int64_t K, float alpha, float beta, const float *bias) {
    const pc_gemm_impl *im = impl_for(isa);
    if (!im) return PC_ERR_UNSUPPORTED;
    if (M <= 0 || N <= 0) return PC_OK;
    if (K <= 0) {  // C = beta*C + bias (the product is empty)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                float v = beta != 0.0f ? beta * C[i * ldc + j] : 0.0f;
                C[i * ldc + j] = bias ? v + bias[j] : v;
            }
        return PC_OK;
    }
    gemm_job jb = {im, C, ldc, A, B, M, N, K, alpha, beta, bias, 1, 1, 0, 0};
    jb.nkb = (K + im->kc - 1) / im->kc;
    jb.kcmax = (K + jb.nkb - 1) / jb.nkb;
    choose_grid(im, M, N, K, pc_pool_size(pool), &jb.tm, &jb.tn);
    if (jb.tm * jb.tn == 1)
        gemm_worker(&jb, 0, 1);
    else
        pc_pool_run(pool, gemm_worker, &jb);
    return PC_OK;
}

// The micro-kernel pc_gemm uses on this pool: f32 by default, bf16 when the pool asks for it and the CPU can.
static pc_gemm_isa_id pool_isa(const pc_pool *pool) {
    return pc_pool_gemm_bf16(pool) && pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16) ? PC_GEMM_ISA_AVX512_BF16
                                                                                     : PC_GEMM_ISA_AUTO;
}

void pc_gemm(pc_pool *pool, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K, float alpha,
             float beta, const float *bias) {
    (void)pc_gemm_ex(pool, pool_isa(pool), C, ldc, A, B, M, N, K, alpha, beta, bias);
}

void pc_gemm_bf16(pc_pool *pool, float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K,
                  float alpha, float beta, const float *bias) {
    pc_gemm_isa_id isa = pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16) ? PC_GEMM_ISA_AVX512_BF16 : PC_GEMM_ISA_AUTO;
    (void)pc_gemm_ex(pool, isa, C, ldc, A, B, M, N, K, alpha, beta, bias);
}

typedef struct {
    float *C;
    int64_t ldc, strideC;
    pc_mat A, B;
    int64_t strideA, strideB, batch, M, N, K;
    float alpha, beta;
    const float *bias;
    pc_gemm_isa_id isa;
} batch_job;

static void batch_worker(void *ctx, int ith, int nth) {
    const batch_job *j = (const batch_job *)ctx;
    int64_t b0, b1;
    pc_split_range(j->batch, ith, nth, &b0, &b1);
    size_t ea = pc_dtype_size(j->A.dtype), eb = pc_dtype_size(j->B.dtype);
    for (int64_t b = b0; b < b1; b++) {
        pc_mat a = j->A, bm = j->B;
        a.data = (const char *)j->A.data + (size_t)(b * j->strideA) * ea;
        bm.data = (const char *)j->B.data + (size_t)(b * j->strideB) * eb;
        (void)pc_gemm_ex(NULL, j->isa, j->C + b * j->strideC, j->ldc, a, bm, j->M, j->N, j->K, j->alpha, j->beta,
                         j->bias);
    }
}

// Batch items go to threads whole when there are enough of them (small
// per-item GEMMs, e.g. attention heads); otherwise each item uses the pool.
// Either way every item's result is the same (see pc_gemm_ex).
void pc_gemm_batched(pc_pool *pool, float *C, int64_t ldc, int64_t strideC, pc_mat A, int64_t strideA, pc_mat B,
                     int64_t strideB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     const float *bias) {
    if (batch <= 0) return;
    int nth = pc_pool_size(pool);
    batch_job j = {C, ldc, strideC, A, B, strideA, strideB, batch, M, N, K, alpha, beta, bias, pool_isa(pool)};
    if (nth > 1 && batch >= nth && (batch % nth == 0 || batch >= 4 * nth)) {
        pc_pool_run(pool, batch_worker, &j);
        return;
    }
    size_t ea = pc_dtype_size(A.dtype), eb = pc_dtype_size(B.dtype);
    for (int64_t b = 0; b < batch; b++) {
        pc_mat a = A, bm = B;
        a.data = (const char *)A.data + (size_t)(b * strideA) * ea;
        bm.data = (const char *)B.data + (size_t)(b * strideB) * eb;
        pc_gemm(pool, C + b * strideC, ldc, a, bm, M, N, K, alpha, beta, bias);
    }
}
