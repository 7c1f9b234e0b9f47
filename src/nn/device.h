// The kernels a device backend (backend_device.c) runs on: one table per device kind. The cuda table is
// src/cuda's API (cuda/cuda_backend.h, include/posecrafter/cuda.h) as it is; the emu table
// (device_emu.c) is a CPU twin of each of those kernels that stores every buffer in its device dtype and
// rounds where the kernel rounds. The contracts are those of cuda/cuda_backend.h; ctx is the kernel
// side's own context (a pc_cuda_ctx for cuda).
#ifndef PC_NN_DEVICE_H
#define PC_NN_DEVICE_H

#include "cuda/cuda_backend.h"
#include "nn/backend.h"

typedef struct pc_nn_devk {
    const char *name;  // "cuda", "emu"
    pc_status (*open)(void **ctx, int device, size_t arena_bytes, pc_pool *pool, pc_error *err);  // pool: emu only
    void (*close)(void *ctx);
    pc_status (*props)(pc_cuda_props *out, int device, pc_error *err);
    pc_status (*alloc)(void *ctx, void **p, size_t bytes, pc_error *err);
    size_t (*mark)(const void *ctx);
    void (*reset)(void *ctx, size_t mark);
    size_t (*capacity)(const void *ctx);
    size_t (*peak)(const void *ctx);
    pc_status (*sync)(void *ctx, pc_error *err);
    pc_status (*upload)(void *ctx, void *dst, pc_dtype ddt, const void *src, pc_dtype sdt, int64_t n, pc_error *err);
    pc_status (*download)(void *ctx, float *dst, const void *src, pc_dtype sdt, int64_t n, pc_error *err);
    pc_status (*gemm_nt)(void *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda, const void *B,
                         int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K, float alpha,
                         float beta, int flags, pc_error *err);
    pc_status (*attention)(void *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                           pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale,
                           pc_error *err);
    pc_status (*rope2d)(void *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D, int64_t grid_w,
                        float base, pc_error *err);
    pc_status (*layer_norm)(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                            const float *beta, int64_t M, int64_t C, float eps, pc_error *err);
    pc_status (*group_norm)(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                            const float *beta, int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu,
                            pc_error *err);
    pc_status (*unary)(void *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n, pc_cuda_unary_op op,
                       pc_error *err);
    pc_status (*add)(void *ctx, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b, pc_dtype bdt,
                     int64_t n, pc_error *err);
    pc_status (*copy)(void *ctx, void *y, pc_dtype ydt, const int64_t *ystride, const void *x, pc_dtype xdt,
                      const int64_t *xstride, const int64_t *dims, int ndim, pc_error *err);
} pc_nn_devk;

extern const pc_nn_devk pc_nn_devk_cuda;
extern const pc_nn_devk pc_nn_devk_emu;

// A device backend over kernel table k on device `device` (backend_device.c). pool: threads for the emu
// kernels (NULL: one).
pc_status pc_nn_backend_device_open(pc_nn_backend **out, const pc_nn_devk *k, int device, pc_pool *pool,
                                    pc_error *err);

#endif
