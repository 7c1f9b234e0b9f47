/* posecrafter public API: the NVIDIA GPU backend (CUDA), foundation part.
 *
 * The same API exists in every build. A build configured without CUDA
 * (-DPC_CUDA=OFF, or AUTO with no toolkit found) reports 0 devices and every
 * other call returns PC_ERR_UNSUPPORTED "built without CUDA", so callers need
 * no #ifdefs. With CUDA and no usable GPU, pc_cuda_device_count() is 0 and
 * pc_cuda_probe() says why (no device, driver missing or too old, ...).
 *
 * A pc_cuda_ctx binds one device: a CUDA stream (every call of the backend is
 * queued on it, in order), a cuBLASLt handle with its workspace, and a device
 * memory arena: one cudaMalloc at creation, bump allocation, reset to a mark.
 * Arena memory is stream-ordered: resetting and reusing it while queued work
 * still reads it is safe because all work runs on the context's one stream.
 *
 *     int n = pc_cuda_device_count();
 *     if (n == 0) { ... use the CPU ... }
 *     pc_cuda_ctx *cu;
 *     if (pc_cuda_ctx_create(&cu, 0, (size_t)1 << 30, &err) != PC_OK) ...   // 1 GiB arena
 *     pc_cuda_tensor w;
 *     st = pc_cuda_upload(cu, &w, &host_weight, PC_BF16, &err);               // F32/F16/BF16 -> bf16
 *     size_t mark = pc_cuda_arena_mark(cu);
 *     ... kernels (src/cuda/cuda_backend.h) on arena memory ...
 *     st = pc_cuda_download_f32(cu, host_out, &y, &err);                      // waits for the stream
 *     pc_cuda_arena_reset(cu, mark);
 *     pc_cuda_ctx_free(cu);
 *
 * Errors from CUDA / cuBLASLt carry the library's own error name and string
 * ("cudaMalloc(1073741824 bytes): out of memory (cudaErrorMemoryAllocation)").
 */
#ifndef POSECRAFTER_CUDA_H
#define POSECRAFTER_CUDA_H

#include "posecrafter/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- build and devices -------------------------------------------------- */

/* 1 when this library was built with the CUDA backend. */
int pc_cuda_built(void);
/* One line: "CUDA 13.0.88 (nvcc), cuBLASLt 13.1.0, kernels for CMAKE_CUDA_ARCHITECTURES=90"
 * or "built without CUDA". */
const char *pc_cuda_build_info(void);
/* Number of usable CUDA devices; 0 when none, when the driver is missing or
 * too old, or when built without CUDA. Never fails. */
int pc_cuda_device_count(void);
/* Like pc_cuda_device_count (stored in *count), but says why there is none:
 * PC_OK when count >= 1, else PC_ERR_UNSUPPORTED with the reason in err
 * ("built without CUDA", "no CUDA device: ... (cudaErrorNoDevice)"). */
pc_status pc_cuda_probe(int *count, pc_error *err);

typedef struct pc_cuda_props {
    int index;
    char name[256];
    int cc_major, cc_minor;      /* compute capability (9.0 for H100/H200) */
    int sm_count;                /* streaming multiprocessors */
    size_t total_bytes;          /* global memory */
    size_t free_bytes;           /* free when queried (cudaMemGetInfo) */
    size_t l2_bytes;
    size_t smem_per_block_optin; /* largest dynamic shared memory a block may opt into */
    int clock_khz;               /* 0 when the runtime no longer reports it */
    int runtime_version;         /* e.g. 13000 */
    int driver_version;          /* e.g. 13000; the highest CUDA version the driver supports */
} pc_cuda_props;

/* Properties of device `device` (0 <= device < pc_cuda_device_count()). */
pc_status pc_cuda_device_info(pc_cuda_props *out, int device, pc_error *err);

/* ---- context -------------------------------------------------------------- */
typedef struct pc_cuda_ctx pc_cuda_ctx;

/* Bind device `device`: stream, cuBLASLt handle + 32 MiB workspace, and an
 * arena of arena_bytes (one cudaMalloc; 0 = no arena). */
pc_status pc_cuda_ctx_create(pc_cuda_ctx **ctx, int device, size_t arena_bytes, pc_error *err);
/* Waits for queued work, frees everything. NULL is fine. */
void pc_cuda_ctx_free(pc_cuda_ctx *ctx);
/* Wait for all work queued on the context; reports asynchronous kernel errors. */
pc_status pc_cuda_sync(pc_cuda_ctx *ctx, pc_error *err);
/* The context's device index and properties (filled at creation). */
const pc_cuda_props *pc_cuda_ctx_props(const pc_cuda_ctx *ctx);

/* ---- device memory arena --------------------------------------------------- */
/* Bump-allocate bytes (256-byte aligned) from the arena. PC_ERR_MEMORY, naming
 * the request and what is left, when it does not fit. */
pc_status pc_cuda_alloc(pc_cuda_ctx *ctx, void **dptr, size_t bytes, pc_error *err);
/* Bytes in use now: pass it to pc_cuda_arena_reset to free everything after. */
size_t pc_cuda_arena_mark(const pc_cuda_ctx *ctx);
/* Drop every allocation made after mark (mark <= current use). */
void pc_cuda_arena_reset(pc_cuda_ctx *ctx, size_t mark);
size_t pc_cuda_arena_capacity(const pc_cuda_ctx *ctx);
/* Largest use seen since creation (to size the arena with a dry run). */
size_t pc_cuda_arena_peak(const pc_cuda_ctx *ctx);

/* ---- device tensors ----------------------------------------------------------- */
/* A contiguous, row-major tensor in device memory (data is a device pointer:
 * never dereference it on the host). dtype PC_F32, PC_F16 or PC_BF16. */
typedef struct pc_cuda_tensor {
    pc_dtype dtype;
    int ndim;
    int64_t shape[PC_MAX_DIMS];
    void *data;
} pc_cuda_tensor;

int64_t pc_cuda_tensor_numel(const pc_cuda_tensor *t);
/* Allocate from the arena (contents undefined). */
pc_status pc_cuda_tensor_alloc(pc_cuda_ctx *ctx, pc_cuda_tensor *t, pc_dtype dt, int ndim, const int64_t *shape,
                               pc_error *err);
/* Copy a host tensor (F32, F16 or BF16; any strides) into a new arena tensor of
 * dtype dt (PC_F32 or PC_BF16; conversion on the device, round to nearest even).
 * Returns when the data is on the device. */
pc_status pc_cuda_upload(pc_cuda_ctx *ctx, pc_cuda_tensor *out, const pc_tensor *host, pc_dtype dt, pc_error *err);
/* Same from a raw host array of n elements of dtype src_dt. */
pc_status pc_cuda_upload_raw(pc_cuda_ctx *ctx, void *dst, pc_dtype dst_dt, const void *src, pc_dtype src_dt, int64_t n,
                             pc_error *err);
/* Wait for the stream, then copy t to host as f32 (numel floats). */
pc_status pc_cuda_download_f32(pc_cuda_ctx *ctx, float *host, const pc_cuda_tensor *t, pc_error *err);
/* Same from a raw device array of n elements of dtype src_dt (F32/F16/BF16). */
pc_status pc_cuda_download_raw_f32(pc_cuda_ctx *ctx, float *host, const void *src, pc_dtype src_dt, int64_t n,
                                   pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_CUDA_H */
