/* posecrafter public API: tensors, thread pool.
 *
 * A pc_tensor is a plain descriptor (dtype, shape, strides, data pointer).
 * It either owns its data (pc_tensor_alloc / pc_tensor_free) or views memory
 * owned by someone else (a memory-mapped checkpoint, an arena, another tensor).
 *
 *     pc_tensor t;
 *     int64_t shape[2] = {3, 4};
 *     if (pc_tensor_alloc(&t, PC_F32, 2, shape, &err) != PC_OK) ...
 *     float *x = pc_tensor_f32(&t);   // (3, 4)
 *     pc_tensor_free(&t);
 */
#ifndef POSECRAFTER_CORE_H
#define POSECRAFTER_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POSECRAFTER_VERSION "0.1.0"

typedef enum pc_status {
    PC_OK = 0,
    PC_ERR_IO,           /* file missing, unreadable, short read/write */
    PC_ERR_FORMAT,       /* file content malformed or of an unknown kind */
    PC_ERR_SHAPE,        /* tensor shape / dtype does not match what the model needs */
    PC_ERR_MEMORY,       /* allocation failed or a size would overflow */
    PC_ERR_ARG,          /* invalid argument from the caller */
    PC_ERR_UNSUPPORTED,  /* valid input that this build cannot handle */
    PC_ERR_NUMERIC,      /* a computation failed (NaN, degenerate geometry) */
    PC_ERR_NOT_FOUND     /* a named item (tensor key, file, metadata) is absent */
} pc_status;

/* Error message buffer filled on failure. */
typedef struct pc_error {
    char msg[1024];
} pc_error;

const char *pc_status_str(pc_status s);

typedef enum pc_dtype {
    PC_F32 = 0,
    PC_F16,
    PC_BF16,
    PC_F64,
    PC_I64,
    PC_I32,
    PC_I16,
    PC_I8,
    PC_U8,
    PC_BOOL,
    PC_DTYPE_COUNT
} pc_dtype;

#define PC_MAX_DIMS 8

typedef struct pc_tensor {
    pc_dtype dtype;
    int ndim;
    int64_t shape[PC_MAX_DIMS];    /* outermost first */
    int64_t strides[PC_MAX_DIMS];  /* in elements, outermost first */
    void *data;                    /* address of element [0, 0, ...] */
    void *alloc;                   /* non-NULL when this tensor owns its memory */
} pc_tensor;

size_t pc_dtype_size(pc_dtype dt);
const char *pc_dtype_name(pc_dtype dt);

/* Number of elements (1 for a 0-d tensor). */
int64_t pc_tensor_numel(const pc_tensor *t);
/* 1 when strides are the row-major strides of shape. */
int pc_tensor_is_contiguous(const pc_tensor *t);

/* Allocate an owned, zero-filled, contiguous tensor (64-byte aligned). */
pc_status pc_tensor_alloc(pc_tensor *t, pc_dtype dt, int ndim, const int64_t *shape, pc_error *err);
/* Release an owned tensor; a view is just cleared. Safe on a zeroed struct. */
void pc_tensor_free(pc_tensor *t);
/* Describe existing contiguous memory (no ownership). */
pc_tensor pc_tensor_view(void *data, pc_dtype dt, int ndim, const int64_t *shape);

/* Views (no copy). Each returns PC_ERR_ARG / PC_ERR_SHAPE on bad arguments. */
pc_status pc_tensor_reshape(pc_tensor *out, const pc_tensor *t, int ndim, const int64_t *shape, pc_error *err);
pc_status pc_tensor_permute(pc_tensor *out, const pc_tensor *t, const int *perm, pc_error *err);
/* Narrow dimension dim to [start, start+len). */
pc_status pc_tensor_narrow(pc_tensor *out, const pc_tensor *t, int dim, int64_t start, int64_t len, pc_error *err);

/* Owned contiguous copy of any (strided) tensor, converted to dtype dt.
 * Float types convert between each other; integer types convert to float. */
pc_status pc_tensor_to(pc_tensor *out, const pc_tensor *t, pc_dtype dt, pc_error *err);
/* Concatenate n tensors of equal dtype along dim into a new owned tensor. */
pc_status pc_tensor_cat(pc_tensor *out, const pc_tensor *const *ts, int n, int dim, pc_error *err);

static inline float *pc_tensor_f32(const pc_tensor *t) { return (float *)t->data; }

/* Scalar conversions used by the f16/bf16 paths. */
float pc_f16_to_f32(uint16_t h);
uint16_t pc_f32_to_f16(float f);
float pc_bf16_to_f32(uint16_t h);
uint16_t pc_f32_to_bf16(float f); /* round to nearest even */

/* ---- thread pool ---------------------------------------------------------
 * One pool per context. A task function is called once per worker with
 * (ith, nth); each worker takes its own slice of the work, so results are
 * deterministic for a fixed thread count. */
typedef struct pc_pool pc_pool;
typedef void (*pc_task_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0: use the number of online CPUs. */
pc_status pc_pool_create(pc_pool **pool, int n_threads, pc_error *err);
void pc_pool_free(pc_pool *pool);
int pc_pool_size(const pc_pool *pool); /* 1 for a NULL pool */
/* Opt-in reduced precision for every pc_gemm / pc_gemm_batched run on this pool: on = 1 rounds A and B to
 * bf16 and accumulates in f32 (pc_gemm_bf16: vdpbf16ps, about 1.5-2x the f32 speed) where the CPU has
 * AVX512_BF16, and changes nothing elsewhere. Results are then no longer f32-exact: the golden tests run
 * with it off (the default). */
void pc_pool_set_gemm_bf16(pc_pool *pool, int on);
int pc_pool_gemm_bf16(const pc_pool *pool); /* 0 for a NULL pool */
/* Run fn on every worker (the caller is worker 0) and wait. A NULL pool runs fn(ctx, 0, 1). */
void pc_pool_run(pc_pool *pool, pc_task_fn fn, void *ctx);
/* Split [0, n) into nth nearly equal contiguous ranges; range of worker ith. */
void pc_split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end);

#ifdef __cplusplus
}
#endif
#endif
