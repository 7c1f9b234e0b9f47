// croco/dust3r RoPE2D on the GPU, in place on a strided (B, H, N, D) view.
// CPU twin: pc_rope2d / pc_rope2d_ref (src/core/ops.h), same arithmetic in f32:
//   inv_freq[i] = 1 / base^(2i/d), d = D/2; angle = pos * inv_freq;
//   first half of each head rotates by y, second half by x;
//   u[i] <- u[i] cos - u[i+q] sin, u[i+q] <- u[i+q] cos + u[i] sin, q = d/2.
// Positions are croco's PositionGetter grid: token n of a (N / grid_w) x grid_w
// patch grid sits at (y, x) = (n / grid_w, n % grid_w), for every batch item,
// so no position tensor lives on the device.
//
// One block per token (b, n): its D/2 cos/sin values go to shared memory once,
// then the block's threads rotate the pairs of all H heads.
#include "cuda/cuda_internal.cuh"

__global__ void rope2d_kernel(void *t, int dt, int64_t sb, int64_t sh, int64_t sn, int64_t N, int64_t H, int D,
                              int64_t grid_w, float base) {
    extern __shared__ float cs[];  // [0, d): cos, [d, 2d): sin; d = D/2
    const int d = D / 2, q = d / 2;
    const int64_t r = blockIdx.x, b = r / N, n = r - b * N;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        int half = j / q, i = j - half * q;
        float p = half ? (float)(n % grid_w) : (float)(n / grid_w);  // 0: y, 1: x
        float inv_freq = 1.0f / powf(base, (float)(2 * i) / (float)d);
        float ang = p * inv_freq;
        cs[j] = cosf(ang);
        cs[d + j] = sinf(ang);
    }
    __syncthreads();
    const int64_t row0 = b * sb + n * sn;
    for (int64_t j = threadIdx.x; j < H * d; j += blockDim.x) {
        int64_t h = j / d;
        int k = (int)(j - h * d), half = k / q, i = k - half * q;
        int64_t at = row0 + h * sh + half * d + i;
        float c = cs[k], s = cs[d + k];
        float a = pc_dload(t, dt, at), bb = pc_dload(t, dt, at + q);
        pc_dstore(t, dt, at, a * c - bb * s);
        pc_dstore(t, dt, at + q, bb * c + a * s);
    }
}

extern "C" pc_status pc_cuda_rope2d(pc_cuda_ctx *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D,
                                    int64_t grid_w, float base, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st != PC_OK) return st;
    if (t.dtype != PC_F32 && t.dtype != PC_BF16 && t.dtype != PC_F16)
        return pc_err(err, PC_ERR_UNSUPPORTED, "pc_cuda_rope2d: dtype %s (want F32, BF16 or F16)",
                      pc_dtype_name(t.dtype));
    if (B < 0 || H < 0 || N < 0 || D <= 0 || D % 4 || D > 4096 || grid_w <= 0 || !(base > 0) ||
        B * N > 0x7fffffffLL)
        return pc_err(err, PC_ERR_ARG, "pc_cuda_rope2d: B %lld H %lld N %lld D %lld grid_w %lld base %g",
                      (long long)B, (long long)H, (long long)N, (long long)D, (long long)grid_w, (double)base);
    if (B == 0 || H == 0 || N == 0) return PC_OK;
    if (!t.data) return pc_err(err, PC_ERR_ARG, "pc_cuda_rope2d: NULL data");
    rope2d_kernel<<<(unsigned)(B * N), 128, (size_t)D * sizeof(float), ctx->stream>>>(
        t.data, (int)t.dtype, t.sb, t.sh, t.sn, N, H, (int)D, grid_w, base);
    return pc_cu_launched(err, "rope2d_kernel");
}
