// CUDA backend errors: CUDA and cuBLASLt status codes as pc_status with the library's own name and string,
// the current-device guard and the launch check every kernel wrapper ends with. The bottom of the
// backend's files: it calls none of them.
#include <stdarg.h>
#include <stdio.h>

#include "cuda/cuda_internal.cuh"

// ---- errors ----------------------------------------------------------------------

static pc_status status_of(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation:
        return PC_ERR_MEMORY;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
        return PC_ERR_UNSUPPORTED;
    case cudaErrorInvalidValue:
        return PC_ERR_ARG;
    default:
        return PC_ERR_NUMERIC;  // "a computation failed": launch failures, illegal addresses, ...
    }
}

pc_status pc_cu_check(cudaError_t e, pc_error *err, const char *fmt, ...) {
    if (e == cudaSuccess) return PC_OK;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pc_err(err, status_of(e), "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

pc_status pc_cublas_check(cublasStatus_t s, pc_error *err, const char *fmt, ...) {
    if (s == CUBLAS_STATUS_SUCCESS) return PC_OK;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pc_status st = s == CUBLAS_STATUS_ALLOC_FAILED     ? PC_ERR_MEMORY
                   : s == CUBLAS_STATUS_NOT_SUPPORTED  ? PC_ERR_UNSUPPORTED
                   : s == CUBLAS_STATUS_INVALID_VALUE  ? PC_ERR_ARG
                   : s == CUBLAS_STATUS_ARCH_MISMATCH  ? PC_ERR_UNSUPPORTED
                                                       : PC_ERR_NUMERIC;
    return pc_err(err, st, "%s: %s (%s)", what, cublasLtGetStatusString(s), cublasLtGetStatusName(s));
}

pc_status pc_cu_enter(pc_cuda_ctx *ctx, pc_error *err) {
    if (!ctx) return pc_err(err, PC_ERR_ARG, "CUDA: NULL context");
    return pc_cu_check(cudaSetDevice(ctx->device), err, "cudaSetDevice(%d)", ctx->device);
}

pc_status pc_cu_launched(pc_error *err, const char *kernel) {
    return pc_cu_check(cudaGetLastError(), err, "launching %s", kernel);
}

int pc_cu_float_dtype(pc_dtype dt) { return dt == PC_F32 || dt == PC_BF16 || dt == PC_F16; }
