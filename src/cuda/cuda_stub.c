// The CUDA backend API in a build without CUDA (PC_CUDA=OFF, or AUTO with no
// toolkit found): no devices, and every call says so, so that callers and the
// CLI need no #ifdefs. CMake compiles this file only when the backend is off.
#include <string.h>

#include "core/common.h"
#include "cuda/cuda_backend.h"

#define NO_CUDA(err) pc_err(err, PC_ERR_UNSUPPORTED, "built without CUDA (configure with -DPC_CUDA=ON and a CUDA toolkit)")

int pc_cuda_built(void) { return 0; }
const char *pc_cuda_build_info(void) { return "built without CUDA"; }
int pc_cuda_device_count(void) { return 0; }
pc_status pc_cuda_probe(int *count, pc_error *err) {
    if (count) *count = 0;
    return NO_CUDA(err);
}
pc_status pc_cuda_device_info(pc_cuda_props *out, int device, pc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    return NO_CUDA(err);
}

pc_status pc_cuda_ctx_create(pc_cuda_ctx **ctx, int device, size_t arena_bytes, pc_error *err) {
    if (ctx) *ctx = NULL;
    return NO_CUDA(err);
}
void pc_cuda_ctx_free(pc_cuda_ctx *ctx) {}
pc_status pc_cuda_sync(pc_cuda_ctx *ctx, pc_error *err) { return NO_CUDA(err); }
const pc_cuda_props *pc_cuda_ctx_props(const pc_cuda_ctx *ctx) { return NULL; }

pc_status pc_cuda_alloc(pc_cuda_ctx *ctx, void **dptr, size_t bytes, pc_error *err) {
    if (dptr) *dptr = NULL;
    return NO_CUDA(err);
}
size_t pc_cuda_arena_mark(const pc_cuda_ctx *ctx) { return 0; }
void pc_cuda_arena_reset(pc_cuda_ctx *ctx, size_t mark) {}
size_t pc_cuda_arena_capacity(const pc_cuda_ctx *ctx) { return 0; }
size_t pc_cuda_arena_peak(const pc_cuda_ctx *ctx) { return 0; }

int64_t pc_cuda_tensor_numel(const pc_cuda_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}
pc_status pc_cuda_tensor_alloc(pc_cuda_ctx *ctx, pc_cuda_tensor *t, pc_dtype dt, int ndim, const int64_t *shape,
                               pc_error *err) {
    if (t) memset(t, 0, sizeof *t);
    return NO_CUDA(err);
}
pc_status pc_cuda_upload(pc_cuda_ctx *ctx, pc_cuda_tensor *out, const pc_tensor *host, pc_dtype dt, pc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    return NO_CUDA(err);
}
pc_status pc_cuda_upload_raw(pc_cuda_ctx *ctx, void *dst, pc_dtype dst_dt, const void *src, pc_dtype src_dt, int64_t n,
                             pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_download_f32(pc_cuda_ctx *ctx, float *host, const pc_cuda_tensor *t, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_download_raw_f32(pc_cuda_ctx *ctx, float *host, const void *src, pc_dtype src_dt, int64_t n,
                                   pc_error *err) {
    return NO_CUDA(err);
}

pc_status pc_cuda_gemm_nt(pc_cuda_ctx *ctx, void *C, pc_dtype cdt, int64_t ldc, const void *A, int64_t lda,
                          const void *B, int64_t ldb, pc_dtype abdt, const float *bias, int64_t M, int64_t N, int64_t K,
                          float alpha, float beta, int flags, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_attention(pc_cuda_ctx *ctx, pc_cuda_attn_view o, pc_cuda_attn_view q, pc_cuda_attn_view k,
                            pc_cuda_attn_view v, int64_t B, int64_t H, int64_t Nq, int64_t Nk, int64_t D, float scale,
                            pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_rope2d(pc_cuda_ctx *ctx, pc_cuda_attn_view t, int64_t B, int64_t H, int64_t N, int64_t D,
                         int64_t grid_w, float base, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_layer_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                             const float *beta, int64_t M, int64_t C, float eps, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_group_norm(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, const float *gamma,
                             const float *beta, int64_t B, int64_t C, int64_t S, int64_t G, float eps, int silu,
                             pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_unary(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *x, pc_dtype xdt, int64_t n,
                        pc_cuda_unary_op op, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_add(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const void *a, pc_dtype adt, const void *b,
                      pc_dtype bdt, int64_t n, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_add_bias(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, int64_t ldy, const float *bias, int64_t M,
                           int64_t N, pc_error *err) {
    return NO_CUDA(err);
}
pc_status pc_cuda_copy_strided(pc_cuda_ctx *ctx, void *y, pc_dtype ydt, const int64_t *ystride, const void *x,
                               pc_dtype xdt, const int64_t *xstride, const int64_t *dims, int ndim, pc_error *err) {
    return NO_CUDA(err);
}
