// Tensor descriptors: allocation, views, dtype conversion, concatenation.
#include "core/common.h"

#include <math.h>
#include <string.h>

size_t pc_dtype_size(pc_dtype dt) {
    switch (dt) {
    case PC_F32: return 4;
    case PC_F16: return 2;
    case PC_BF16: return 2;
    case PC_F64: return 8;
    case PC_I64: return 8;
    case PC_I32: return 4;
    case PC_I16: return 2;
    case PC_I8: return 1;
    case PC_U8: return 1;
    case PC_BOOL: return 1;
    default: return 0;
    }
}

const char *pc_dtype_name(pc_dtype dt) {
    static const char *names[PC_DTYPE_COUNT] = {"F32", "F16", "BF16", "F64", "I64",
                                                "I32", "I16", "I8",   "U8",  "BOOL"};
    return (dt >= 0 && dt < PC_DTYPE_COUNT) ? names[dt] : "?";
}

int64_t pc_tensor_numel(const pc_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static void set_contiguous_strides(pc_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->strides[i] = s;
        s *= t->shape[i];
    }
}

int pc_tensor_is_contiguous(const pc_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

static pc_status check_shape(int ndim, const int64_t *shape, pc_dtype dt, size_t *bytes, pc_error *err) {
    if (ndim < 0 || ndim > PC_MAX_DIMS) return pc_err(err, PC_ERR_ARG, "tensor rank %d out of range 0..%d", ndim, PC_MAX_DIMS);
    if (dt < 0 || dt >= PC_DTYPE_COUNT) return pc_err(err, PC_ERR_ARG, "unknown dtype %d", (int)dt);
    size_t n = pc_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return pc_err(err, PC_ERR_ARG, "negative dimension %lld", (long long)shape[i]);
        if (!pc_mul_size(n, (size_t)shape[i], &n)) return pc_err(err, PC_ERR_MEMORY, "tensor size overflows");
    }
    *bytes = n;
    return PC_OK;
}

pc_status pc_tensor_alloc(pc_tensor *t, pc_dtype dt, int ndim, const int64_t *shape, pc_error *err) {
    memset(t, 0, sizeof(*t));
    size_t bytes = 0;
    pc_status st = check_shape(ndim, shape, dt, &bytes, err);
    if (st != PC_OK) return st;
    void *p = pc_aligned_alloc(bytes);
    if (!p) return pc_err(err, PC_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
    memset(p, 0, bytes);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    set_contiguous_strides(t);
    t->data = p;
    t->alloc = p;
    return PC_OK;
}

void pc_tensor_free(pc_tensor *t) {
    if (!t) return;
    if (t->alloc) pc_aligned_free(t->alloc);
    memset(t, 0, sizeof(*t));
}

pc_tensor pc_tensor_view(void *data, pc_dtype dt, int ndim, const int64_t *shape) {
    pc_tensor t;
    memset(&t, 0, sizeof(t));
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim && i < PC_MAX_DIMS; i++) t.shape[i] = shape[i];
    set_contiguous_strides(&t);
    t.data = data;
    return t;
}

pc_status pc_tensor_reshape(pc_tensor *out, const pc_tensor *t, int ndim, const int64_t *shape, pc_error *err) {
    if (!pc_tensor_is_contiguous(t)) return pc_err(err, PC_ERR_ARG, "reshape needs a contiguous tensor");
    if (ndim < 0 || ndim > PC_MAX_DIMS) return pc_err(err, PC_ERR_ARG, "reshape rank %d out of range", ndim);
    int64_t n = 1, infer = -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) return pc_err(err, PC_ERR_ARG, "reshape: more than one -1");
            infer = i;
        } else {
            if (shape[i] < 0) return pc_err(err, PC_ERR_ARG, "reshape: negative dimension");
            n *= shape[i];
        }
    }
    int64_t total = pc_tensor_numel(t);
    pc_tensor r = *t;
    r.alloc = NULL;
    r.ndim = ndim;
    for (int i = 0; i < ndim; i++) r.shape[i] = shape[i];
    if (infer >= 0) {
        if (n == 0 || total % n) return pc_err(err, PC_ERR_SHAPE, "reshape: cannot infer dimension");
        r.shape[infer] = total / n;
        n = total;
    }
    if (n != total) return pc_err(err, PC_ERR_SHAPE, "reshape: %lld elements into %lld", (long long)total, (long long)n);
    set_contiguous_strides(&r);
    *out = r;
    return PC_OK;
}

pc_status pc_tensor_permute(pc_tensor *out, const pc_tensor *t, const int *perm, pc_error *err) {
    int seen[PC_MAX_DIMS] = {0};
    pc_tensor r = *t;
    r.alloc = NULL;
    for (int i = 0; i < t->ndim; i++) {
        int p = perm[i];
        if (p < 0 || p >= t->ndim || seen[p]) return pc_err(err, PC_ERR_ARG, "permute: invalid permutation");
        seen[p] = 1;
        r.shape[i] = t->shape[p];
        r.strides[i] = t->strides[p];
    }
    *out = r;
    return PC_OK;
}

pc_status pc_tensor_narrow(pc_tensor *out, const pc_tensor *t, int dim, int64_t start, int64_t len, pc_error *err) {
    if (dim < 0 || dim >= t->ndim) return pc_err(err, PC_ERR_ARG, "narrow: dim %d out of range", dim);
    if (start < 0 || len < 0 || start + len > t->shape[dim])
        return pc_err(err, PC_ERR_ARG, "narrow: [%lld, %lld) outside dimension of size %lld", (long long)start,
                      (long long)(start + len), (long long)t->shape[dim]);
    pc_tensor r = *t;
    r.alloc = NULL;
    r.shape[dim] = len;
    r.data = (char *)t->data + (size_t)(start * t->strides[dim]) * pc_dtype_size(t->dtype);
    *out = r;
    return PC_OK;
}

// ---- scalar conversions ----------------------------------------------------

float pc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            mant &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t pc_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // overflow to inf
    if (absx < 0x38800000) {                                   // subnormal or zero in f16
        if (absx < 0x33000000) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;  // f16 subnormal unit is 2^-24: value = m * 2^(e-150)
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = absx - 0x38000000;  // rebias exponent
    uint32_t lsb = (r >> 13) & 1;
    r += 0xfff + lsb;  // round to nearest even
    return (uint16_t)(sign | (r >> 13));
}

float pc_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t pc_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);  // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static double load_as_double(const void *p, pc_dtype dt) {
    switch (dt) {
    case PC_F32: return *(const float *)p;
    case PC_F16: return pc_f16_to_f32(*(const uint16_t *)p);
    case PC_BF16: return pc_bf16_to_f32(*(const uint16_t *)p);
    case PC_F64: return *(const double *)p;
    case PC_I64: return (double)*(const int64_t *)p;
    case PC_I32: return *(const int32_t *)p;
    case PC_I16: return *(const int16_t *)p;
    case PC_I8: return *(const int8_t *)p;
    case PC_U8: return *(const uint8_t *)p;
    case PC_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    default: return 0.0;
    }
}

static void store_from_double(void *p, pc_dtype dt, double v) {
    switch (dt) {
    case PC_F32: *(float *)p = (float)v; break;
    case PC_F16: *(uint16_t *)p = pc_f32_to_f16((float)v); break;
    case PC_BF16: *(uint16_t *)p = pc_f32_to_bf16((float)v); break;
    case PC_F64: *(double *)p = v; break;
    case PC_I64: *(int64_t *)p = (int64_t)v; break;
    case PC_I32: *(int32_t *)p = (int32_t)v; break;
    case PC_I16: *(int16_t *)p = (int16_t)v; break;
    case PC_I8: *(int8_t *)p = (int8_t)v; break;
    case PC_U8: *(uint8_t *)p = (uint8_t)v; break;
    case PC_BOOL: *(uint8_t *)p = v != 0.0; break;
    default: break;
    }
}

// Visit every element of t in row-major order, calling back with its address.
// Iterative odometer so arbitrary rank and strides work without recursion.
typedef void (*elem_fn)(const void *src, void *user, int64_t flat);

static void for_each(const pc_tensor *t, elem_fn fn, void *user) {
    int64_t n = pc_tensor_numel(t);
    if (n == 0) return;
    size_t es = pc_dtype_size(t->dtype);
    int64_t idx[PC_MAX_DIMS] = {0};
    const char *base = (const char *)t->data;
    int64_t off = 0;
    for (int64_t flat = 0; flat < n; flat++) {
        fn(base + (size_t)off * es, user, flat);
        for (int d = t->ndim - 1; d >= 0; d--) {
            idx[d]++;
            off += t->strides[d];
            if (idx[d] < t->shape[d]) break;
            off -= t->strides[d] * t->shape[d];
            idx[d] = 0;
        }
    }
}

typedef struct {
    pc_dtype src_dt, dst_dt;
    char *dst;
    size_t dst_es;
} convert_ctx;

static void convert_one(const void *src, void *user, int64_t flat) {
    convert_ctx *c = (convert_ctx *)user;
    void *d = c->dst + (size_t)flat * c->dst_es;
    if (c->src_dt == c->dst_dt)
        memcpy(d, src, c->dst_es);
    else
        store_from_double(d, c->dst_dt, load_as_double(src, c->src_dt));
}

pc_status pc_tensor_to(pc_tensor *out, const pc_tensor *t, pc_dtype dt, pc_error *err) {
    pc_tensor r;
    pc_status st = pc_tensor_alloc(&r, dt, t->ndim, t->shape, err);
    if (st != PC_OK) return st;
    if (pc_tensor_is_contiguous(t) && t->dtype == dt) {
        memcpy(r.data, t->data, (size_t)pc_tensor_numel(t) * pc_dtype_size(dt));
    } else if (pc_tensor_is_contiguous(t) && t->dtype == PC_F32 && dt == PC_F32) {
        memcpy(r.data, t->data, (size_t)pc_tensor_numel(t) * 4);
    } else {
        convert_ctx c = {t->dtype, dt, (char *)r.data, pc_dtype_size(dt)};
        for_each(t, convert_one, &c);
    }
    *out = r;
    return PC_OK;
}

pc_status pc_tensor_cat(pc_tensor *out, const pc_tensor *const *ts, int n, int dim, pc_error *err) {
    if (n <= 0) return pc_err(err, PC_ERR_ARG, "cat: no tensors");
    const pc_tensor *a = ts[0];
    if (dim < 0 || dim >= a->ndim) return pc_err(err, PC_ERR_ARG, "cat: dim %d out of range", dim);
    int64_t shape[PC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(shape));
    shape[dim] = 0;
    for (int k = 0; k < n; k++) {
        const pc_tensor *b = ts[k];
        if (b->ndim != a->ndim || b->dtype != a->dtype) return pc_err(err, PC_ERR_SHAPE, "cat: tensor %d rank/dtype differs", k);
        for (int i = 0; i < a->ndim; i++)
            if (i != dim && b->shape[i] != a->shape[i])
                return pc_err(err, PC_ERR_SHAPE, "cat: tensor %d dim %d is %lld, expected %lld", k, i,
                              (long long)b->shape[i], (long long)a->shape[i]);
        shape[dim] += b->shape[dim];
    }
    pc_tensor r;
    pc_status st = pc_tensor_alloc(&r, a->dtype, a->ndim, shape, err);
    if (st != PC_OK) return st;
    int64_t at = 0;
    for (int k = 0; k < n; k++) {
        pc_tensor src_c;  // contiguous copy of ts[k], then row blocks into place
        st = pc_tensor_to(&src_c, ts[k], a->dtype, err);
        if (st != PC_OK) {
            pc_tensor_free(&r);
            return st;
        }
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < a->ndim; i++) inner *= shape[i];
        size_t es = pc_dtype_size(a->dtype);
        size_t chunk = (size_t)(ts[k]->shape[dim] * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)r.data + ((size_t)(o * shape[dim] + at) * (size_t)inner) * es,
                   (char *)src_c.data + (size_t)o * chunk, chunk);
        pc_tensor_free(&src_c);
        at += ts[k]->shape[dim];
    }
    *out = r;
    return PC_OK;
}
