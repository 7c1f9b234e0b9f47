// CUDA backend runtime: device enumeration, context (stream, cuBLASLt handle,
// workspace), device memory arena, host <-> device copies with dtype
// conversion. Error reporting is in errors.cu (every .cu file uses it; it uses none).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.cuh"

#define PC_STR2(x) #x
#define PC_STR(x) PC_STR2(x)
#ifndef PC_CUDA_ARCHS
#define PC_CUDA_ARCHS unknown
#endif

// ---- build and devices -------------------------------------------------------------

extern "C" int pc_cuda_built(void) { return 1; }

extern "C" const char *pc_cuda_build_info(void) {
    return "CUDA " PC_STR(__CUDACC_VER_MAJOR__) "." PC_STR(__CUDACC_VER_MINOR__) "." PC_STR(
        __CUDACC_VER_BUILD__) " (nvcc), cuBLASLt " PC_STR(CUBLAS_VER_MAJOR) "." PC_STR(CUBLAS_VER_MINOR) "." PC_STR(
        CUBLAS_VER_PATCH) ", kernels for CMAKE_CUDA_ARCHITECTURES=" PC_STR(PC_CUDA_ARCHS);
}

extern "C" pc_status pc_cuda_probe(int *count, pc_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // clear it: not a sticky error
        if (count) *count = 0;
        return pc_err(err, PC_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
                      cudaGetErrorName(e));
    }
    if (count) *count = n;
    if (n <= 0) return pc_err(err, PC_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount found 0");
    return PC_OK;
}

extern "C" int pc_cuda_device_count(void) {
    int n = 0;
    (void)pc_cuda_probe(&n, NULL);
    return n;
}

extern "C" pc_status pc_cuda_device_info(pc_cuda_props *out, int device, pc_error *err) {
    if (!out) return pc_err(err, PC_ERR_ARG, "pc_cuda_device_info: NULL output");
    memset(out, 0, sizeof *out);
    int n = 0;
    pc_status st = pc_cuda_probe(&n, err);
    if (st != PC_OK) return st;
    if (device < 0 || device >= n)
        return pc_err(err, PC_ERR_ARG, "CUDA device %d does not exist (%d device%s)", device, n, n == 1 ? "" : "s");
    cudaDeviceProp p;
    st = pc_cu_check(cudaGetDeviceProperties(&p, device), err, "cudaGetDeviceProperties(%d)", device);
    if (st != PC_OK) return st;
    out->index = device;
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->total_bytes = p.totalGlobalMem;
    int v = 0;
#define PC_ATTR(field, attr)                                                                         \
    do {                                                                                             \
        st = pc_cu_check(cudaDeviceGetAttribute(&v, attr, device), err, "cudaDeviceGetAttribute(" #attr ")"); \
        if (st != PC_OK) return st;                                                                  \
        field = v;                                                                                   \
    } while (0)
    PC_ATTR(out->cc_major, cudaDevAttrComputeCapabilityMajor);
    PC_ATTR(out->cc_minor, cudaDevAttrComputeCapabilityMinor);
    PC_ATTR(out->sm_count, cudaDevAttrMultiProcessorCount);
    PC_ATTR(out->l2_bytes, cudaDevAttrL2CacheSize);
    PC_ATTR(out->smem_per_block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin);
#undef PC_ATTR
    if (cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, device) == cudaSuccess)
        out->clock_khz = v;
    else
        (void)cudaGetLastError();
    (void)cudaRuntimeGetVersion(&out->runtime_version);
    (void)cudaDriverGetVersion(&out->driver_version);
    // Free memory needs the device current; put the caller's device back after.
    int prev = 0;
    if (cudaGetDevice(&prev) != cudaSuccess) prev = device;
    size_t fr = 0, tot = 0;
    st = pc_cu_check(cudaSetDevice(device), err, "cudaSetDevice(%d)", device);
    if (st == PC_OK) st = pc_cu_check(cudaMemGetInfo(&fr, &tot), err, "cudaMemGetInfo (device %d)", device);
    (void)cudaSetDevice(prev);
    if (st != PC_OK) return st;
    out->free_bytes = fr;
    return PC_OK;
}

// ---- context -------------------------------------------------------------------------

extern "C" void pc_cuda_ctx_free(pc_cuda_ctx *ctx) {
    if (!ctx) return;
    (void)cudaSetDevice(ctx->device);
    if (ctx->stream) (void)cudaStreamSynchronize(ctx->stream);
    pc_gemm_plans_free(ctx);
    if (ctx->lt) (void)cublasLtDestroy(ctx->lt);
    if (ctx->lt_ws) (void)cudaFree(ctx->lt_ws);
    if (ctx->scratch) (void)cudaFree(ctx->scratch);
    if (ctx->arena) (void)cudaFree(ctx->arena);
    if (ctx->stream) (void)cudaStreamDestroy(ctx->stream);
    (void)cudaGetLastError();
    free(ctx);
}

extern "C" pc_status pc_cuda_ctx_create(pc_cuda_ctx **out, int device, size_t arena_bytes, pc_error *err) {
    if (!out) return pc_err(err, PC_ERR_ARG, "pc_cuda_ctx_create: NULL output");
    *out = NULL;
    pc_cuda_ctx *ctx = (pc_cuda_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return pc_err(err, PC_ERR_MEMORY, "pc_cuda_ctx_create: out of host memory");
    ctx->device = device;
    pc_status st = pc_cuda_device_info(&ctx->props, device, err);
    if (st == PC_OK) st = pc_cu_check(cudaSetDevice(device), err, "cudaSetDevice(%d)", device);
    if (st == PC_OK)
        st = pc_cu_check(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), err, "cudaStreamCreate");
    if (st == PC_OK) st = pc_cublas_check(cublasLtCreate(&ctx->lt), err, "cublasLtCreate");
    if (st == PC_OK) {
        ctx->lt_ws_bytes = PC_CUDA_LT_WS_BYTES;
        st = pc_cu_check(cudaMalloc(&ctx->lt_ws, ctx->lt_ws_bytes), err, "cudaMalloc(cuBLASLt workspace, %zu bytes)",
                         ctx->lt_ws_bytes);
    }
    if (st == PC_OK) {
        ctx->scratch_bytes = PC_CUDA_SCRATCH_BYTES;
        st = pc_cu_check(cudaMalloc(&ctx->scratch, ctx->scratch_bytes), err, "cudaMalloc(scratch, %zu bytes)",
                         ctx->scratch_bytes);
    }
    if (st == PC_OK && arena_bytes > 0) {
        st = pc_cu_check(cudaMalloc((void **)&ctx->arena, arena_bytes), err,
                         "cudaMalloc(arena, %zu bytes; device %d has %zu of %zu bytes free)", arena_bytes, device,
                         ctx->props.free_bytes, ctx->props.total_bytes);
        if (st == PC_OK) ctx->arena_cap = arena_bytes;
    }
    if (st != PC_OK) {
        pc_cuda_ctx_free(ctx);
        return st;
    }
    *out = ctx;
    return PC_OK;
}

extern "C" pc_status pc_cuda_sync(pc_cuda_ctx *ctx, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st != PC_OK) return st;
    return pc_cu_check(cudaStreamSynchronize(ctx->stream), err, "CUDA stream (device %d)", ctx->device);
}

extern "C" const pc_cuda_props *pc_cuda_ctx_props(const pc_cuda_ctx *ctx) { return ctx ? &ctx->props : NULL; }

// ---- arena ------------------------------------------------------------------------------

extern "C" pc_status pc_cuda_alloc(pc_cuda_ctx *ctx, void **dptr, size_t bytes, pc_error *err) {
    if (!ctx || !dptr) return pc_err(err, PC_ERR_ARG, "pc_cuda_alloc: NULL argument");
    *dptr = NULL;
    size_t start = (ctx->arena_used + 255) & ~(size_t)255;
    if (bytes > ctx->arena_cap || start > ctx->arena_cap - bytes)
        return pc_err(err, PC_ERR_MEMORY, "CUDA arena: %zu bytes requested, %zu of %zu left", bytes,
                      ctx->arena_cap - (start < ctx->arena_cap ? start : ctx->arena_cap), ctx->arena_cap);
    *dptr = ctx->arena + start;
    ctx->arena_used = start + bytes;
    if (ctx->arena_used > ctx->arena_peak) ctx->arena_peak = ctx->arena_used;
    return PC_OK;
}

extern "C" size_t pc_cuda_arena_mark(const pc_cuda_ctx *ctx) { return ctx ? ctx->arena_used : 0; }
extern "C" void pc_cuda_arena_reset(pc_cuda_ctx *ctx, size_t mark) {
    if (ctx && mark <= ctx->arena_used) ctx->arena_used = mark;
}
extern "C" size_t pc_cuda_arena_capacity(const pc_cuda_ctx *ctx) { return ctx ? ctx->arena_cap : 0; }
extern "C" size_t pc_cuda_arena_peak(const pc_cuda_ctx *ctx) { return ctx ? ctx->arena_peak : 0; }

// ---- device tensors -------------------------------------------------------------------

extern "C" int64_t pc_cuda_tensor_numel(const pc_cuda_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

// Checked element count and byte size of a shape (no overflow, no negative dims).
static pc_status shape_bytes(pc_dtype dt, int ndim, const int64_t *shape, int64_t *numel, size_t *bytes,
                             pc_error *err) {
    if (ndim < 0 || ndim > PC_MAX_DIMS || (ndim > 0 && !shape))
        return pc_err(err, PC_ERR_ARG, "CUDA tensor: bad ndim %d", ndim);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return pc_err(err, PC_ERR_ARG, "CUDA tensor: negative dim %d (%lld)", d, (long long)shape[d]);
        if (__builtin_mul_overflow(n, shape[d], &n))
            return pc_err(err, PC_ERR_MEMORY, "CUDA tensor: element count overflows");
    }
    size_t b;
    if (__builtin_mul_overflow((size_t)n, pc_dtype_size(dt), &b))
        return pc_err(err, PC_ERR_MEMORY, "CUDA tensor: byte size overflows");
    *numel = n;
    *bytes = b;
    return PC_OK;
}

extern "C" pc_status pc_cuda_tensor_alloc(pc_cuda_ctx *ctx, pc_cuda_tensor *t, pc_dtype dt, int ndim,
                                          const int64_t *shape, pc_error *err) {
    if (!ctx || !t) return pc_err(err, PC_ERR_ARG, "pc_cuda_tensor_alloc: NULL argument");
    memset(t, 0, sizeof *t);
    if (!pc_cu_float_dtype(dt))
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA tensor: dtype %s (want F32, F16 or BF16)", pc_dtype_name(dt));
    int64_t n = 0;
    size_t bytes = 0;
    pc_status st = shape_bytes(dt, ndim, shape, &n, &bytes, err);
    if (st != PC_OK) return st;
    st = pc_cuda_alloc(ctx, &t->data, bytes, err);
    if (st != PC_OK) return st;
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    return PC_OK;
}

extern "C" pc_status pc_cuda_upload_raw(pc_cuda_ctx *ctx, void *dst, pc_dtype dst_dt, const void *src,
                                        pc_dtype src_dt, int64_t n, pc_error *err) {
    pc_status st = pc_cu_enter(ctx, err);
    if (st != PC_OK) return st;
    if (!pc_cu_float_dtype(src_dt) || !pc_cu_float_dtype(dst_dt))
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA upload: %s -> %s (want F32, F16 or BF16)", pc_dtype_name(src_dt),
                      pc_dtype_name(dst_dt));
    if (n < 0 || (n > 0 && (!dst || !src))) return pc_err(err, PC_ERR_ARG, "CUDA upload: bad arguments");
    if (n == 0) return PC_OK;
    size_t es = pc_dtype_size(src_dt), ds = pc_dtype_size(dst_dt);
    if (src_dt == dst_dt) {
        st = pc_cu_check(cudaMemcpyAsync(dst, src, (size_t)n * es, cudaMemcpyHostToDevice, ctx->stream), err,
                         "CUDA upload: cudaMemcpy (%lld x %s)", (long long)n, pc_dtype_name(src_dt));
    } else {
        // Convert on the device through the scratch buffer, a chunk at a time.
        // Pageable-memory cudaMemcpyAsync has consumed the host bytes when it
        // returns; the stream orders each chunk's copy after the last convert.
        int64_t chunk = (int64_t)(ctx->scratch_bytes / es);
        for (int64_t off = 0; off < n && st == PC_OK; off += chunk) {
            int64_t m = n - off < chunk ? n - off : chunk;
            st = pc_cu_check(cudaMemcpyAsync(ctx->scratch, (const char *)src + (size_t)off * es, (size_t)m * es,
                                             cudaMemcpyHostToDevice, ctx->stream),
                             err, "CUDA upload: cudaMemcpy (%lld x %s)", (long long)m, pc_dtype_name(src_dt));
            if (st == PC_OK)
                st = pc_cuda_unary(ctx, (char *)dst + (size_t)off * ds, dst_dt, ctx->scratch, src_dt, m, PC_CUDA_COPY,
                                   err);
        }
    }
    if (st != PC_OK) return st;
    return pc_cuda_sync(ctx, err);
}

extern "C" pc_status pc_cuda_upload(pc_cuda_ctx *ctx, pc_cuda_tensor *out, const pc_tensor *host, pc_dtype dt,
                                    pc_error *err) {
    if (!ctx || !out || !host) return pc_err(err, PC_ERR_ARG, "pc_cuda_upload: NULL argument");
    memset(out, 0, sizeof *out);
    if (!pc_cu_float_dtype(host->dtype))
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA upload: host dtype %s (want F32, F16 or BF16)",
                      pc_dtype_name(host->dtype));
    if (dt != PC_F32 && dt != PC_BF16)
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA upload: device dtype %s (want F32 or BF16)", pc_dtype_name(dt));
    pc_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    const pc_tensor *src = host;
    if (!pc_tensor_is_contiguous(host)) {  // strided view: make a contiguous host copy first
        pc_status st = pc_tensor_to(&tmp, host, host->dtype, err);
        if (st != PC_OK) return st;
        src = &tmp;
    }
    size_t mark = pc_cuda_arena_mark(ctx);
    pc_status st = pc_cuda_tensor_alloc(ctx, out, dt, host->ndim, host->shape, err);
    if (st == PC_OK) st = pc_cuda_upload_raw(ctx, out->data, dt, src->data, src->dtype, pc_tensor_numel(src), err);
    pc_tensor_free(&tmp);
    if (st != PC_OK) {
        pc_cuda_arena_reset(ctx, mark);
        memset(out, 0, sizeof *out);
    }
    return st;
}

extern "C" pc_status pc_cuda_download_raw_f32(pc_cuda_ctx *ctx, float *host, const void *src, pc_dtype src_dt,
                                              int64_t n, pc_error *err) {
    pc_status st = pc_cuda_sync(ctx, err);  // also reports errors of earlier queued work
    if (st != PC_OK) return st;
    if (!pc_cu_float_dtype(src_dt))
        return pc_err(err, PC_ERR_UNSUPPORTED, "CUDA download: dtype %s", pc_dtype_name(src_dt));
    if (n < 0 || (n > 0 && (!host || !src))) return pc_err(err, PC_ERR_ARG, "CUDA download: bad arguments");
    if (n == 0) return PC_OK;
    if (src_dt == PC_F32)
        return pc_cu_check(cudaMemcpy(host, src, (size_t)n * 4, cudaMemcpyDeviceToHost), err,
                           "CUDA download: cudaMemcpy (%lld floats)", (long long)n);
    uint16_t *h16 = (uint16_t *)malloc((size_t)n * 2);
    if (!h16) return pc_err(err, PC_ERR_MEMORY, "CUDA download: %lld x 2 bytes of host memory", (long long)n);
    st = pc_cu_check(cudaMemcpy(h16, src, (size_t)n * 2, cudaMemcpyDeviceToHost), err,
                     "CUDA download: cudaMemcpy (%lld x %s)", (long long)n, pc_dtype_name(src_dt));
    if (st == PC_OK)
        for (int64_t i = 0; i < n; i++) host[i] = src_dt == PC_BF16 ? pc_bf16_to_f32(h16[i]) : pc_f16_to_f32(h16[i]);
    free(h16);
    return st;
}

extern "C" pc_status pc_cuda_download_f32(pc_cuda_ctx *ctx, float *host, const pc_cuda_tensor *t, pc_error *err) {
    if (!t) return pc_err(err, PC_ERR_ARG, "pc_cuda_download_f32: NULL tensor");
    return pc_cuda_download_raw_f32(ctx, host, t->data, t->dtype, pc_cuda_tensor_numel(t), err);
}
