// CUDA elementwise and normalisation kernels. CPU twins: src/core/ops.h
// (pc_gelu, pc_silu, pc_add, pc_layer_norm, pc_group_norm). Statistics are
// accumulated in f32 with two passes (mean, then squared deviations), like the
// CPU kernels, so bf16 inputs lose nothing beyond their own rounding.
#include "cuda/cuda_internal.cuh"

// ---- elementwise -------------------------------------------------------------------

__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float silu(float x) { return x / (1.0f + __expf(-x)); }

__global__ void unary_kernel(void *y, int ydt, const void *x, int xdt, int64_t n, int op) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = pc_dload(x, xdt, i);
        if (op == PC_CUDA_GELU)
            v = gelu_erf(v);
        else if (op == PC_CUDA_SILU)
            v = silu(v);
        else if (op == PC_CUDA_RELU)
            v = v > 0.0f ? v : 0.0f;
        pc_dstore(y, ydt, i, v);
    }
}

__global__ void add_kernel(void *y, int ydt, const void *a, int adt, const void *b, int bdt, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        pc_dstore(y, ydt, i, pc_dload(a, adt, i) + pc_dload(b, bdt, i));
}

__global__ void add_bias_kernel(void *y, int ydt, int64_t ldy, const float *bias, int64_t M, int64_t N) {
    int64_t total = M * N;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t m = i / N, c = i - m * N, at = m * ldy + c;
        pc_dstore(y, ydt, at, pc_dload(y, ydt, at) + bias[c]);
    }
}

static pc_status check_dtypes(pc_error *err, const char *what, pc_dtype a, pc_dtype b, pc_dtype c) {
    if (!pc_cu_float_dtype(a) || !pc_cu_float_dtype(b) || !pc_cu_float_dtype(c))
        return pc_err(err, PC_ERR_UNSUPPORTED, "%s: dtypes %s/%s/%s (want F32, BF16 or F16)", what, pc_dtype_name(a),
                      pc_dtype_name(b), pc_dtype_name(c));
    return PC_OK;
}

extern "C" pc_status pc_cuda_unary(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n,
                                   pc_cuda_unary_op op, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_unary", ydt, xdt, PC_F32);
    if (st != PC_OK) return st;
    if (op != PC_CUDA_GELU && op != PC_CUDA_SILU && op != PC_CUDA_COPY && op != PC_CUDA_RELU)
        return pc_err(err, PC_ERR_ARG, "pc_cuda_unary: unknown op %d", (int)op);
    if (n < 0) return pc_err(err, PC_ERR_ARG, "pc_cuda_unary: n = %lld", (long long)n);
    if (n == 0) return PC_OK;
    unary_kernel<<<pc_cu_blocks(n, 256), 256, 0, ctx->stream>>>(y, ydt, x, xdt, n, (int)op);
    return pc_cu_launched(err, "unary_kernel");
}

extern "C" pc_status pc_cuda_add(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b,
                                 pc_dtype bdt, int64_t n, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_add", ydt, adt, bdt);
    if (st != PC_OK) return st;
    if (n < 0) return pc_err(err, PC_ERR_ARG, "pc_cuda_add: n = %lld", (long long)n);
    if (n == 0) return PC_OK;
    add_kernel<<<pc_cu_blocks(n, 256), 256, 0, ctx->stream>>>(y, ydt, a, adt, b, bdt, n);
    return pc_cu_launched(err, "add_kernel");
}

extern "C" pc_status pc_cuda_add_bias(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, int64_t ldy, const float *bias,
                                      int64_t M, int64_t N, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_add_bias", ydt, PC_F32, PC_F32);
    if (st != PC_OK) return st;
    if (M < 0 || N < 0 || ldy < N) return pc_err(err, PC_ERR_ARG, "pc_cuda_add_bias: bad sizes");
    if (M == 0 || N == 0) return PC_OK;
    add_bias_kernel<<<pc_cu_blocks(M * N, 256), 256, 0, ctx->stream>>>(y, ydt, ldy, bias, M, N);
    return pc_cu_launched(err, "add_bias_kernel");
}

// ---- strided copy (permute, slice, concat, pixel shuffle) ---------------------------------

struct copy_dims {
    int64_t d[PC_CUDA_COPY_MAXDIM], sy[PC_CUDA_COPY_MAXDIM], sx[PC_CUDA_COPY_MAXDIM];
};

// One thread per element; the linear index walks the dims with the last one fastest (coalesced reads or
// writes on whichever side is contiguous there).
__global__ void copy_strided_kernel(void *y, int ydt, const void *x, int xdt, copy_dims c, int64_t total) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i, oy = 0, ox = 0;
        for (int k = PC_CUDA_COPY_MAXDIM - 1; k >= 0; k--) {
            int64_t q = r / c.d[k], idx = r - q * c.d[k];
            oy += idx * c.sy[k];
            ox += idx * c.sx[k];
            r = q;
        }
        pc_dstore(y, ydt, oy, pc_dload(x, xdt, ox));
    }
}

extern "C" pc_status pc_cuda_copy_strided(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const int64_t *ystride,
                                          const void *x, pc_dtype xdt, const int64_t *xstride, const int64_t *dims,
                                          int ndim, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_copy_strided", ydt, xdt, PC_F32);
    if (st != PC_OK) return st;
    if (ndim < 1 || ndim > PC_CUDA_COPY_MAXDIM) return pc_err(err, PC_ERR_ARG, "pc_cuda_copy_strided: ndim %d", ndim);
    copy_dims c;
    int64_t total = 1;
    for (int k = 0; k < PC_CUDA_COPY_MAXDIM; k++) {  // right-aligned: the last dim is the innermost
        int j = k - (PC_CUDA_COPY_MAXDIM - ndim);
        c.d[k] = j >= 0 ? dims[j] : 1;
        c.sy[k] = j >= 0 ? ystride[j] : 0;
        c.sx[k] = j >= 0 ? xstride[j] : 0;
        if (c.d[k] < 0) return pc_err(err, PC_ERR_ARG, "pc_cuda_copy_strided: negative size");
        total *= c.d[k];
    }
    if (total == 0) return PC_OK;
    copy_strided_kernel<<<pc_cu_blocks(total, 256), 256, 0, ctx->stream>>>(y, ydt, x, xdt, c, total);
    return pc_cu_launched(err, "copy_strided_kernel");
}

// ---- LayerNorm: one warp per row ----------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void layer_norm_kernel(void *y, int ydt, const void *x, int xdt, const float *gamma, const float *beta,
                                  int64_t M, int64_t C, float eps) {
    int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= M) return;  // whole warp leaves together
    int64_t base = row * C;
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += 32) s += pc_dload(x, xdt, base + c);
    float mean = warp_sum(s) / (float)C;
    float q = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
        float d = pc_dload(x, xdt, base + c) - mean;
        q += d * d;
    }
    float rstd = rsqrtf(warp_sum(q) / (float)C + eps);  // biased variance, as torch
    for (int64_t c = lane; c < C; c += 32) {
        float v = (pc_dload(x, xdt, base + c) - mean) * rstd;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        pc_dstore(y, ydt, base + c, v);
    }
}

extern "C" pc_status pc_cuda_layer_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt,
                                        const float *gamma, const float *beta, int64_t M, int64_t C, float eps,
                                        pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_layer_norm", ydt, xdt, PC_F32);
    if (st != PC_OK) return st;
    if (M < 0 || C <= 0) return pc_err(err, PC_ERR_ARG, "pc_cuda_layer_norm: M %lld, C %lld", (long long)M, (long long)C);
    if (M == 0) return PC_OK;
    const int warps = 8;
    int64_t blocks = (M + warps - 1) / warps;
    if (blocks > 0x7fffffffLL) return pc_err(err, PC_ERR_ARG, "pc_cuda_layer_norm: M %lld too large", (long long)M);
    layer_norm_kernel<<<(unsigned)blocks, warps * 32, 0, ctx->stream>>>(y, ydt, x, xdt, gamma, beta, M, C, eps);
    return pc_cu_launched(err, "layer_norm_kernel");
}

// ---- GroupNorm (+SiLU) ----------------------------------------------------------------
// Group (b, g) is the contiguous span x[(b*C + g*Cg) * S, + Cg*S). A UNet group
// holds ~10^5..10^6 elements and there are only B*G (~32-64) of them, so each
// group is split into `chunks` pieces over a 2-D grid:
//   pass 1: each chunk writes (count, mean, M2) of its piece to scratch;
//   pass 2: each chunk merges its group's partials (Chan et al.'s pairwise
//           formula, in a fixed order: deterministic) and normalises its piece.

__device__ __forceinline__ void block_sum2(float &a, float &b, float *sh) {
    // sh: 2 * 32 floats. Result valid in every thread.
    a = warp_sum(a);
    b = warp_sum(b);
    int w = threadIdx.x / 32, lane = threadIdx.x & 31, nw = blockDim.x / 32;
    if (lane == 0) sh[w] = a, sh[32 + w] = b;
    __syncthreads();
    a = lane < nw ? sh[lane] : 0.0f;
    b = lane < nw ? sh[32 + lane] : 0.0f;
    a = warp_sum(a);
    b = warp_sum(b);
    __syncthreads();
}

__global__ void group_norm_stats(float *part, const void *x, int xdt, int64_t span, int64_t piece, int chunks) {
    __shared__ float sh[64];
    int64_t grp = blockIdx.x;
    int ch = blockIdx.y;
    int64_t lo = (int64_t)ch * piece, hi = lo + piece < span ? lo + piece : span;
    int64_t base = grp * span;
    float cnt = hi > lo ? (float)(hi - lo) : 0.0f;
    float s = 0.0f, dummy = 0.0f;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) s += pc_dload(x, xdt, base + i);
    block_sum2(s, dummy, sh);
    float mean = cnt > 0 ? s / cnt : 0.0f;
    float q = 0.0f;
    dummy = 0.0f;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float d = pc_dload(x, xdt, base + i) - mean;
        q += d * d;
    }
    block_sum2(q, dummy, sh);
    if (threadIdx.x == 0) {
        float *p = part + (grp * chunks + ch) * 3;
        p[0] = cnt, p[1] = mean, p[2] = q;
    }
}

__global__ void group_norm_apply(void *y, int ydt, const void *x, int xdt, const float *part, const float *gamma,
                                 const float *beta, int64_t span, int64_t piece, int chunks, int64_t Cg, int64_t S,
                                 int G, float eps, int silu_on) {
    __shared__ float stat[2];
    int64_t grp = blockIdx.x;
    if (threadIdx.x == 0) {
        const float *p = part + grp * chunks * 3;
        float n = p[0], mean = p[1], m2 = p[2];
        for (int i = 1; i < chunks; i++) {
            float nb = p[3 * i], mb = p[3 * i + 1], qb = p[3 * i + 2];
            if (nb <= 0) continue;
            float nt = n + nb, d = mb - mean;
            mean += d * (nb / nt);
            m2 += qb + d * d * (n * nb / nt);
            n = nt;
        }
        stat[0] = mean;
        stat[1] = rsqrtf(m2 / n + eps);
    }
    __syncthreads();
    float mean = stat[0], rstd = stat[1];
    int64_t g = grp % G;
    int64_t lo = (int64_t)blockIdx.y * piece, hi = lo + piece < span ? lo + piece : span;
    int64_t base = grp * span;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        int64_t c = g * Cg + i / S;
        float v = (pc_dload(x, xdt, base + i) - mean) * rstd;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        if (silu_on) v = silu(v);
        pc_dstore(y, ydt, base + i, v);
    }
}

extern "C" pc_status pc_cuda_group_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt,
                                        const float *gamma, const float *beta, int64_t B, int64_t C, int64_t S,
                                        int64_t G, float eps, int silu_on, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st == PC_OK) st = check_dtypes(err, "pc_cuda_group_norm", ydt, xdt, PC_F32);
    if (st != PC_OK) return st;
    if (B < 0 || C <= 0 || S < 0 || G <= 0 || C % G)
        return pc_err(err, PC_ERR_ARG, "pc_cuda_group_norm: B %lld C %lld S %lld G %lld (G must divide C)",
                      (long long)B, (long long)C, (long long)S, (long long)G);
    if (B == 0 || S == 0) return PC_OK;
    int64_t groups = B * G, Cg = C / G, span = Cg * S;
    if (groups > 0x7fffffffLL) return pc_err(err, PC_ERR_ARG, "pc_cuda_group_norm: B*G too large");
    // Enough chunks to give every SM a few blocks, each chunk >= 4096 elements,
    // within the scratch buffer (3 floats per partial).
    int64_t want = (4LL * ctx->props.sm_count + groups - 1) / groups;
    int64_t by_size = (span + 4095) / 4096;
    int64_t cap = (int64_t)(ctx->scratch_bytes / (3 * sizeof(float))) / groups;
    int64_t chunks = want < by_size ? want : by_size;
    if (chunks > 1024) chunks = 1024;
    if (chunks > cap) chunks = cap;
    if (chunks < 1) {
        if (cap < 1)
            return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_group_norm: B*G = %lld groups exceed the scratch buffer",
                          (long long)groups);
        chunks = 1;
    }
    int64_t piece = (span + chunks - 1) / chunks;
    dim3 grid((unsigned)groups, (unsigned)chunks);
    float *part = (float *)ctx->scratch;
    group_norm_stats<<<grid, 256, 0, ctx->stream>>>(part, x, xdt, span, piece, (int)chunks);
    st = pc_cu_launched(err, "group_norm_stats");
    if (st != PC_OK) return st;
    group_norm_apply<<<grid, 256, 0, ctx->stream>>>(y, ydt, x, xdt, part, gamma, beta, span, piece, (int)chunks, Cg, S,
                                                    (int)G, eps, silu_on);
    return pc_cu_launched(err, "group_norm_apply");
}
