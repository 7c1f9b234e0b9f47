// Flash-style attention forward on the GPU: o = softmax(q k^T * scale) v.
// CPU twin: pc_attention / pc_attention_ref (src/core/ops.h).
//
// One block of 4 warps takes 64 queries of one (b, h); each warp owns 16 query
// rows. Key/value blocks of 64 rows stream through shared memory; per block:
//   S (16 x 64) = Q_w · K^T      tensor cores (WMMA bf16 -> f32)
//   online softmax on S          f32: running row max m and sum l; P = exp(S - m) rounded to bf16
//   O = O * exp(m_old - m) + P·V tensor cores; O kept in shared memory as f32
// and at the end o = O / l. Memory is O(64 x D) per block: never Nq x Nk.
//
// Plain WMMA (mma.sync) rather than Hopper's wgmma / TMA: simple, sm_80+, and
// the foundation for a faster kernel measured against it (bench_cuda_ops).
#include <mma.h>

#include "cuda/cuda_internal.cuh"

using namespace nvcuda;

namespace {
constexpr int BQ = 64;      // queries per block
constexpr int BK = 64;      // keys per block step
constexpr int WARPS = 4;    // 16 query rows each
constexpr int SLD = BK + 4; // f32 score row pitch (multiple of 4: WMMA; +4 staggers banks)
constexpr int PLD = BK + 8; // bf16 probability row pitch (multiple of 8)

template <int D> struct layout {
    static constexpr int QLD = D + 8;  // bf16 pitch of Q/K/V tiles (16-byte multiple, staggered banks)
    static constexpr int OLD = D + 4;  // f32 pitch of the O accumulator
    static constexpr size_t q_off = 0;
    static constexpr size_t k_off = q_off + (size_t)BQ * QLD * 2;
    static constexpr size_t v_off = k_off + (size_t)BK * QLD * 2;
    static constexpr size_t s_off = v_off + (size_t)BK * QLD * 2;
    static constexpr size_t p_off = s_off + (size_t)WARPS * 16 * SLD * 4;
    static constexpr size_t o_off = p_off + (size_t)WARPS * 16 * PLD * 2;
    static constexpr size_t bytes = o_off + (size_t)WARPS * 16 * OLD * 4;
    // WMMA needs 32-byte aligned fragment pointers: every region and every
    // 16-row step inside one must be a multiple of 32 bytes.
    static_assert(k_off % 32 == 0 && v_off % 32 == 0 && s_off % 32 == 0 && p_off % 32 == 0 && o_off % 32 == 0,
                  "shared-memory regions must be 32-byte aligned");
    static_assert((16 * QLD * 2) % 32 == 0 && (16 * SLD * 4) % 32 == 0 && (16 * PLD * 2) % 32 == 0 &&
                      (16 * OLD * 4) % 32 == 0,
                  "16-row steps must be 32-byte aligned");
};

// Rows [r0, r0 + rows) of a (N, D) bf16 view into a shared tile of pitch ld,
// 16 bytes per load; rows at or past n_valid are zero (no NaN from garbage).
template <int D>
__device__ __forceinline__ void load_tile(__nv_bfloat16 *tile, const __nv_bfloat16 *src, int64_t sn, int64_t r0,
                                          int64_t n_valid) {
    constexpr int V = D / 8;  // uint4 per row
    constexpr int LD = layout<D>::QLD;
    for (int i = threadIdx.x; i < 64 * V; i += blockDim.x) {
        int r = i / V, c = (i - r * V) * 8;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (r0 + r < n_valid) val = *reinterpret_cast<const uint4 *>(src + (r0 + r) * sn + c);
        *reinterpret_cast<uint4 *>(tile + r * LD + c) = val;
    }
}
}  // namespace

template <int D>
__global__ void __launch_bounds__(WARPS * 32)
    flash_attn_fwd(void *o, int odt, int64_t osb, int64_t osh, int64_t osn, const __nv_bfloat16 *q, int64_t qsb,
                   int64_t qsh, int64_t qsn, const __nv_bfloat16 *k, int64_t ksb, int64_t ksh, int64_t ksn,
                   const __nv_bfloat16 *v, int64_t vsb, int64_t vsh, int64_t vsn, int64_t Nq, int64_t Nk,
                   float scale_log2) {
    using L = layout<D>;
    extern __shared__ __align__(128) unsigned char smem[];
    __nv_bfloat16 *Qs = reinterpret_cast<__nv_bfloat16 *>(smem + L::q_off);
    __nv_bfloat16 *Ks = reinterpret_cast<__nv_bfloat16 *>(smem + L::k_off);
    __nv_bfloat16 *Vs = reinterpret_cast<__nv_bfloat16 *>(smem + L::v_off);
    const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    float *Sw = reinterpret_cast<float *>(smem + L::s_off) + warp * 16 * SLD;
    __nv_bfloat16 *Pw = reinterpret_cast<__nv_bfloat16 *>(smem + L::p_off) + warp * 16 * PLD;
    float *Ow = reinterpret_cast<float *>(smem + L::o_off) + warp * 16 * L::OLD;

    const int64_t b = blockIdx.z, h = blockIdx.y, q0 = (int64_t)blockIdx.x * BQ;
    const __nv_bfloat16 *qb = q + b * qsb + h * qsh;
    const __nv_bfloat16 *kb = k + b * ksb + h * ksh;
    const __nv_bfloat16 *vb = v + b * vsb + h * vsh;

    load_tile<D>(Qs, qb, qsn, q0, Nq);
    // This lane's row of the warp's 16 and its half of the columns.
    const int row = lane >> 1, half = lane & 1;
    for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++) Ow[row * L::OLD + c] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    for (int64_t k0 = 0; k0 < Nk; k0 += BK) {
        __syncthreads();  // everyone is done with the previous K/V tiles (and Q is loaded)
        load_tile<D>(Ks, kb, ksn, k0, Nk);
        load_tile<D>(Vs, vb, vsn, k0, Nk);
        __syncthreads();

        // S = Q_w K^T: matrix_b is K^T (d x key), i.e. K's rows read column-major.
        for (int nt = 0; nt < BK / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, Qs + warp * 16 * L::QLD + kk * 16, L::QLD);
                wmma::load_matrix_sync(fb, Ks + nt * 16 * L::QLD + kk * 16, L::QLD);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Sw + nt * 16, acc, SLD, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax, two lanes per row (32 columns each), in base 2.
        const int64_t valid = Nk - k0;  // keys in this block: min(valid, BK)
        float s[32];
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 32; j++) {
            int col = half * 32 + j;
            s[j] = col < valid ? Sw[row * SLD + col] * scale_log2 : -INFINITY;
            mx = fmaxf(mx, s[j]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        const float m_new = fmaxf(m, mx);  // finite: column 0 of every block is a valid key
        const float alpha = exp2f(m - m_new);
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < 32; j++) {
            float p = exp2f(s[j] - m_new);
            sum += p;
            Pw[row * PLD + half * 32 + j] = __float2bfloat16_rn(p);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        m = m_new;
        for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++) Ow[row * L::OLD + c] *= alpha;
        __syncwarp();

        // O += P V: matrix_b is V (key x d), row-major.
        for (int dt = 0; dt < D / 16; dt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + dt * 16, L::OLD, wmma::mem_row_major);
            for (int kk = 0; kk < BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, Pw + kk * 16, PLD);
                wmma::load_matrix_sync(fb, Vs + kk * 16 * L::QLD + dt * 16, L::QLD);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Ow + dt * 16, acc, L::OLD, wmma::mem_row_major);
        }
        __syncwarp();
    }

    const int64_t n = q0 + warp * 16 + row;
    if (n < Nq) {
        const float inv = 1.0f / l;
        const int64_t base = b * osb + h * osh + n * osn;
        for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++) pc_dstore(o, odt, base + c, Ow[row * L::OLD + c] * inv);
    }
}

static pc_status check_view(pc_error *err, const char *name, pc_cuda_attn_view x, int need_vec) {
    if (!x.data) return pc_err(err, PC_ERR_ARG, "pc_cuda_attention: %s is NULL", name);
    if (need_vec && (((uintptr_t)x.data & 15) || (x.sb & 7) || (x.sh & 7) || (x.sn & 7)))
        return pc_err(err, PC_ERR_ARG,
                      "pc_cuda_attention: %s must be 16-byte aligned with strides divisible by 8 (sb %lld sh %lld sn %lld)",
                      name, (long long)x.sb, (long long)x.sh, (long long)x.sn);
    return PC_OK;
}

template <int D>
static pc_status launch(pc_cuda_ctx *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                        pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, float scale, pc_error *err) {
    size_t bytes = layout<D>::bytes;
    if (bytes > ctx->props.smem_per_block_optin)
        return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_attention: D %d needs %zu bytes of shared memory, device allows %zu",
                      D, bytes, ctx->props.smem_per_block_optin);
    pc_status st = pc_cu_check(cudaFuncSetAttribute(flash_attn_fwd<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes),
                               err, "cudaFuncSetAttribute(flash_attn_fwd<%d>, %zu bytes)", D, bytes);
    if (st != PC_OK) return st;
    dim3 grid((unsigned)((Nq + BQ - 1) / BQ), (unsigned)H, (unsigned)B);
    flash_attn_fwd<D><<<grid, WARPS * 32, bytes, ctx->stream>>>(
        o.data, (int)o.dtype, o.sb, o.sh, o.sn, (const __nv_bfloat16 *)q.data, q.sb, q.sh, q.sn,
        (const __nv_bfloat16 *)k.data, k.sb, k.sh, k.sn, (const __nv_bfloat16 *)v.data, v.sb, v.sh, v.sn, Nq, Nk,
        scale * 1.4426950408889634f);
    return pc_cu_launched(err, "flash_attn_fwd");
}

extern "C" pc_status pc_cuda_attention(pc_cuda_ctx *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                                       pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D,
                                       float scale, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st != PC_OK) return st;
    if (q.dtype != PC_BF16 || k.dtype != PC_BF16 || v.dtype != PC_BF16 || (o.dtype != PC_BF16 && o.dtype != PC_F32))
        return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_attention: q/k/v %s/%s/%s, o %s (want BF16 q/k/v, BF16 or F32 o)",
                      pc_dtype_name(q.dtype), pc_dtype_name(k.dtype), pc_dtype_name(v.dtype), pc_dtype_name(o.dtype));
    if (D != 32 && D != 64 && D != 128)
        return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_attention: head dim %lld (have kernels for 32, 64 and 128)",
                      (long long)D);
    if (B < 0 || H < 0 || Nq < 0 || Nk < 0 || B > 65535 || H > 65535 || (Nq + BQ - 1) / BQ > 0x7fffffffLL)
        return pc_err(err, PC_ERR_ARG, "pc_cuda_attention: B %lld H %lld Nq %lld Nk %lld out of range", (long long)B,
                      (long long)H, (long long)Nq, (long long)Nk);
    if (B == 0 || H == 0 || Nq == 0) return PC_OK;
    if (Nk == 0) return pc_err(err, PC_ERR_ARG, "pc_cuda_attention: no keys (Nk = 0)");
    if ((st = check_view(err, "q", q, 1)) != PC_OK || (st = check_view(err, "k", k, 1)) != PC_OK ||
        (st = check_view(err, "v", v, 1)) != PC_OK || (st = check_view(err, "o", o, 0)) != PC_OK)
        return st;
    if (D == 32) return launch<32>(ctx, o, q, k, v, B, H, Nq, Nk, scale, err);  // tiny test models (DUSt3R golden)
    return D == 64 ? launch<64>(ctx, o, q, k, v, B, H, Nq, Nk, scale, err)
                   : launch<128>(ctx, o, q, k, v, B, H, Nq, Nk, scale, err);
}
