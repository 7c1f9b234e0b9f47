// GEMM through cuBLASLt: C (M, N) = alpha * A (M, K) · B (N, K)^T + beta * C + bias.
// CPU twin: pc_gemm / pc_linear (src/core/gemm.h, ops.h).
//
// Row-major to cuBLAS's column-major: a row-major (R, S) matrix with leading
// dimension ld is the column-major (S, R) matrix with the same ld. So the
// row-major C = A·B^T is, column-major, C^T (N x M) = B (N x K) · A^T (K x M),
// i.e. cuBLASLt's "A" operand is our B stored as a column-major K x N matrix,
// used transposed (op T), and its "B" operand is our A stored as a
// column-major K x M matrix, used as is (op N): the "TN" layout, the one
// cuBLASLt's fastest Hopper kernels are built for. The epilogue bias runs
// along the rows of D (N of them), i.e. our per-column bias.
//
// Plans (descriptors + the heuristic's algorithm) are cached per context,
// keyed by the problem (sizes, leading dimensions, dtypes, operand alignment,
// bias or not): a repeated layer shape costs one cublasLtMatmul call. A
// context is used from one host thread at a time (the bias pointer is written
// into the cached descriptor on each call).
#include <stdint.h>
#include <string.h>

#include "cuda/cuda_internal.cuh"

static cudaDataType_t cu_type(pc_dtype dt) {
    return dt == PC_F32 ? CUDA_R_32F : dt == PC_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

// Largest power of two (<= 256) dividing both the address and the row pitch:
// what cuBLASLt may assume about every row start of the operand.
static uint32_t operand_align(const void *p, int64_t ld, size_t es) {
    uint64_t a = (uint64_t)(uintptr_t)p | ((uint64_t)ld * es) | 256u;
    return (uint32_t)(a & (~a + 1));
}

static void plan_release(pc_gemm_plan *p) {
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    p->c = p->b = p->a = nullptr;
    p->op = nullptr;
    p->used = 0;
}

void pc_gemm_plans_free(pc_cuda_ctx *ctx) {
    for (int i = 0; i < PC_GEMM_PLANS; i++)
        if (ctx->plans[i].used || ctx->plans[i].op) plan_release(&ctx->plans[i]);
}

// Descriptors for p's key, with the bias epilogue when epilogue != 0, and one
// algorithm from the heuristic; *found = 0 when none fits (e.g. the epilogue
// is not supported for this combination). On return without found, p holds
// no descriptors.
static pc_status plan_try(pc_cuda_ctx *ctx, pc_gemm_plan *p, int epilogue, const void *bias_ptr, int *found,
                          pc_error *err) {
    *found = 0;
    pc_dtype abdt = (pc_dtype)p->abdt, cdt = (pc_dtype)p->cdt;
    cublasComputeType_t ct =
        abdt == PC_F32 && (p->flags & PC_CUDA_GEMM_TF32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasLtMatmulPreference_t pref = nullptr;
    pc_status st = pc_cublas_check(cublasLtMatmulDescCreate(&p->op, ct, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    if (st == PC_OK)
        st = pc_cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), err,
                             "cuBLASLt TRANSA");
    if (st == PC_OK)
        st = pc_cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), err,
                             "cuBLASLt TRANSB");
    if (st == PC_OK && epilogue) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        st = pc_cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
                             err, "cuBLASLt EPILOGUE");
        if (st == PC_OK)
            st = pc_cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr,
                                                                sizeof bias_ptr),
                                 err, "cuBLASLt BIAS_POINTER");
    }
    if (st == PC_OK)
        st = pc_cublas_check(
            cublasLtMatrixLayoutCreate(&p->a, cu_type(abdt), (uint64_t)p->K, (uint64_t)p->N, p->ldb), err,
            "cuBLASLt layout of B (%lld x %lld, ld %lld)", (long long)p->N, (long long)p->K, (long long)p->ldb);
    if (st == PC_OK)
        st = pc_cublas_check(
            cublasLtMatrixLayoutCreate(&p->b, cu_type(abdt), (uint64_t)p->K, (uint64_t)p->M, p->lda), err,
            "cuBLASLt layout of A (%lld x %lld, ld %lld)", (long long)p->M, (long long)p->K, (long long)p->lda);
    if (st == PC_OK)
        st = pc_cublas_check(
            cublasLtMatrixLayoutCreate(&p->c, cu_type(cdt), (uint64_t)p->N, (uint64_t)p->M, p->ldc), err,
            "cuBLASLt layout of C (%lld x %lld, ld %lld)", (long long)p->M, (long long)p->N, (long long)p->ldc);
    if (st == PC_OK) st = pc_cublas_check(cublasLtMatmulPreferenceCreate(&pref), err, "cublasLtMatmulPreferenceCreate");
    uint64_t ws = ctx->lt_ws_bytes;
    if (st == PC_OK)
        st = pc_cublas_check(
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), err,
            "cuBLASLt workspace preference");
    const cublasLtMatmulPreferenceAttributes_t al_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    const uint32_t al_val[4] = {p->al_a, p->al_b, p->al_c, p->al_c};
    for (int i = 0; i < 4 && st == PC_OK; i++)
        st = pc_cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, al_attr[i], &al_val[i], sizeof al_val[i]), err,
                             "cuBLASLt alignment preference");
    if (st == PC_OK) {
        cublasLtMatmulHeuristicResult_t heur;
        int n = 0;
        cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(ctx->lt, p->op, p->a, p->b, p->c, p->c, pref, 1, &heur, &n);
        if (s == CUBLAS_STATUS_SUCCESS && n > 0) {
            p->algo = heur.algo;
            *found = 1;
        } else if (s != CUBLAS_STATUS_NOT_SUPPORTED && s != CUBLAS_STATUS_SUCCESS) {
            st = pc_cublas_check(s, err, "cublasLtMatmulAlgoGetHeuristic");
        }
    }
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st != PC_OK || !*found) plan_release(p);
    return st;
}

extern "C" pc_status pc_cuda_gemm_nt(pc_cuda_ctx *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda,
                                     const void *B, int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N,
                                     int64_t K, float alpha, float beta, int flags, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st != PC_OK) return st;
    if (M < 0 || N < 0 || K < 0 || lda < K || ldb < K || ldc < N || lda < 1 || ldb < 1 || ldc < 1)
        return pc_err(err, PC_ERR_ARG, "pc_cuda_gemm_nt: M %lld N %lld K %lld lda %lld ldb %lld ldc %lld", (long long)M,
                      (long long)N, (long long)K, (long long)lda, (long long)ldb, (long long)ldc);
    int ok_types = abdt == PC_F32 ? cdt == PC_F32
                                  : (abdt == PC_BF16 || abdt == PC_F16) && (cdt == PC_F32 || cdt == abdt);
    if (!ok_types)
        return pc_err(err, PC_ERR_UNSUPPORTED,
                      "pc_cuda_gemm_nt: A/B %s with C %s (want BF16/F16 -> F32 or same, F32 -> F32)",
                      pc_dtype_name(abdt), pc_dtype_name(cdt));
    if (M == 0 || N == 0) return PC_OK;
    if (K == 0) return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_gemm_nt: K = 0 (nothing to multiply; scale C instead)");
    if (!A || !B || !C) return pc_err(err, PC_ERR_ARG, "pc_cuda_gemm_nt: NULL operand");
    flags &= PC_CUDA_GEMM_TF32;

    // The epilogue reads the bias in C's dtype from 16-byte aligned memory:
    // stage it in scratch (rounded to 16 bits for a 16-bit C, as torch's bf16
    // autocast rounds the bias too) unless it is already f32, aligned, and C is f32.
    const void *lt_bias = bias;
    int can_epilogue = bias != NULL;
    if (bias && (cdt != PC_F32 || ((uintptr_t)bias & 15))) {
        if ((size_t)N * pc_dtype_size(cdt) > ctx->scratch_bytes) {
            can_epilogue = 0;  // absurdly wide: separate bias pass
        } else {
            st = pc_cuda_unary(ctx, ctx->scratch, cdt, bias, PC_F32, N, PC_CUDA_COPY, err);
            if (st != PC_OK) return st;
            lt_bias = ctx->scratch;
        }
    }

    pc_gemm_plan key;
    memset(&key, 0, sizeof key);
    key.M = M, key.N = N, key.K = K, key.lda = lda, key.ldb = ldb, key.ldc = ldc;
    key.abdt = abdt, key.cdt = cdt, key.flags = flags, key.has_bias = bias ? 1 + can_epilogue : 0;
    key.al_a = operand_align(B, ldb, pc_dtype_size(abdt));
    key.al_b = operand_align(A, lda, pc_dtype_size(abdt));
    key.al_c = operand_align(C, ldc, pc_dtype_size(cdt));
    pc_gemm_plan *p = nullptr;
    for (int i = 0; i < PC_GEMM_PLANS && !p; i++) {
        pc_gemm_plan *q = &ctx->plans[i];
        if (q->used && q->M == M && q->N == N && q->K == K && q->lda == lda && q->ldb == ldb && q->ldc == ldc &&
            q->abdt == key.abdt && q->cdt == key.cdt && q->flags == flags && q->has_bias == key.has_bias &&
            q->al_a == key.al_a && q->al_b == key.al_b && q->al_c == key.al_c)
            p = q;
    }
    if (!p) {
        p = &ctx->plans[ctx->plan_next];
        ctx->plan_next = (ctx->plan_next + 1) % PC_GEMM_PLANS;
        plan_release(p);
        *p = key;
        int found = 0;
        if (can_epilogue) {
            st = plan_try(ctx, p, 1, lt_bias, &found, err);
            if (st != PC_OK) return st;
            p->bias_mode = 1;
        }
        if (!found) {
            st = plan_try(ctx, p, 0, nullptr, &found, err);
            if (st != PC_OK) return st;
            if (!found)
                return pc_err(err, PC_ERR_UNSUPPORTED,
                              "pc_cuda_gemm_nt: cuBLASLt has no algorithm for M %lld N %lld K %lld, A/B %s, C %s",
                              (long long)M, (long long)N, (long long)K, pc_dtype_name(abdt), pc_dtype_name(cdt));
            p->bias_mode = bias ? 2 : 0;
        }
        p->used = 1;
    } else if (p->bias_mode == 1) {
        st = pc_cublas_check(
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &lt_bias, sizeof lt_bias), err,
            "cuBLASLt BIAS_POINTER");
        if (st != PC_OK) return st;
    }
    st = pc_cublas_check(cublasLtMatmul(ctx->lt, p->op, &alpha, B, p->a, A, p->b, &beta, C, p->c, C, p->c, &p->algo,
                                        ctx->lt_ws, ctx->lt_ws_bytes, ctx->stream),
                         err, "cublasLtMatmul (M %lld N %lld K %lld, A/B %s, C %s)", (long long)M, (long long)N,
                         (long long)K, pc_dtype_name(abdt), pc_dtype_name(cdt));
    if (st != PC_OK) return st;
    if (p->bias_mode == 2) return pc_cuda_add_bias(ctx, C, cdt, ldc, bias, M, N, err);
    return PC_OK;
}
