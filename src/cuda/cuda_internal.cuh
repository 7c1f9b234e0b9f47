// Shared by the src/cuda/*.cu files only: the context layout, error helpers,
// dtype load/store on the device.
#ifndef PC_CUDA_INTERNAL_CUH
#define PC_CUDA_INTERNAL_CUH

#include <stdint.h>

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/cuda_backend.h"
#include "posecrafter/core.h"
#include "posecrafter/cuda.h"

// src/core/common.h pulls in every area header (C only); the two helpers the
// backend needs are declared here with the same signatures.
extern "C" pc_status pc_err(pc_error *err, pc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// A cached cuBLASLt plan for one GEMM problem (src/cuda/gemm.cu): building
// descriptors and running the heuristic costs tens of microseconds of host
// time, more than a small GEMM takes on the GPU.
struct pc_gemm_plan {
    int used;
    // key
    int64_t M, N, K, lda, ldb, ldc;
    int abdt, cdt, flags, has_bias;
    uint32_t al_a, al_b, al_c;
    // plan
    int bias_mode;  // 0: no bias, 1: epilogue (pointer set per call), 2: separate pc_cuda_add_bias pass
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
};
#define PC_GEMM_PLANS 32

struct pc_cuda_ctx {
    int device;
    pc_cuda_props props;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *lt_ws;  // cuBLASLt workspace
    size_t lt_ws_bytes;
    char *arena;  // one cudaMalloc; bump allocation
    size_t arena_cap, arena_used, arena_peak;
    void *scratch;  // backend-private: reduction partials, upload staging, GEMM bias
    size_t scratch_bytes;
    pc_gemm_plan plans[PC_GEMM_PLANS];
    int plan_next;  // round-robin replacement
};

// Release the cached GEMM plans (pc_cuda_ctx_free).
void pc_gemm_plans_free(pc_cuda_ctx *ctx);

#define PC_CUDA_LT_WS_BYTES ((size_t)32 << 20)
#define PC_CUDA_SCRATCH_BYTES ((size_t)16 << 20)

// PC_OK when e == cudaSuccess, else an error "<what>: <string> (<name>)".
pc_status pc_cu_check(cudaError_t e, pc_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Same for a cuBLAS(Lt) status.
pc_status pc_cublas_check(cublasStatus_t s, pc_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Make ctx's device current (kernel launches go to its stream).
pc_status pc_cu_enter(pc_cuda_ctx *ctx, pc_error *err);
// cudaGetLastError after a launch.
pc_status pc_cu_launched(pc_error *err, const char *kernel);
// 1 for PC_F32 / PC_BF16 / PC_F16.
int pc_cu_float_dtype(pc_dtype dt);

// Element i of a F32/BF16/F16 array as float (dt is uniform across the grid,
// so the switch costs a predictable branch, not divergence).
__device__ __forceinline__ float pc_dload(const void *p, int dt, int64_t i) {
    if (dt == PC_F32) return static_cast<const float *>(p)[i];
    if (dt == PC_BF16) return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    return __half2float(static_cast<const __half *>(p)[i]);
}
__device__ __forceinline__ void pc_dstore(void *p, int dt, int64_t i, float v) {
    if (dt == PC_F32)
        static_cast<float *>(p)[i] = v;
    else if (dt == PC_BF16)
        static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v);
    else
        static_cast<__half *>(p)[i] = __float2half_rn(v);
}

// Blocks for a grid-stride loop over n elements.
static inline unsigned pc_cu_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b > 65535LL * 16) b = 65535LL * 16;
    return (unsigned)(b < 1 ? 1 : b);
}

#endif
