// NumPy .npy writer (v1.0, or v2.0 for huge headers) and reader (v1/v2/v3).
// Format: "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/3),
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and '\n' so the data starts at a multiple of 64, then the data.
#include "io/io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *npy_descr(pc_dtype dt) {
    switch (dt) {
    case PC_F32: return "<f4";
    case PC_F16: return "<f2";
    case PC_F64: return "<f8";
    case PC_I64: return "<i8";
    case PC_I32: return "<i4";
    case PC_I16: return "<i2";
    case PC_I8: return "|i1";
    case PC_U8: return "|u1";
    case PC_BOOL: return "|b1";
    default: return NULL;  // bf16 has no NumPy dtype
    }
}

// Write all of t's elements in C order (t may be strided).
static int write_elems(FILE *f, const pc_tensor *t) {
    size_t es = pc_dtype_size(t->dtype);
    int64_t n = pc_tensor_numel(t);
    if (n == 0) return 1;
    if (pc_tensor_is_contiguous(t)) return fwrite(t->data, es, (size_t)n, f) == (size_t)n;
    int64_t idx[PC_MAX_DIMS] = {0};
    const char *base = (const char *)t->data;
    for (int64_t k = 0; k < n; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->strides[d];
        if (fwrite(base + off * (int64_t)es, es, 1, f) != 1) return 0;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 1;
}

pc_status pc_npy_save(const char *path, const pc_tensor *t, pc_error *err) {
    if (!path || !t) return pc_err(err, PC_ERR_ARG, "pc_npy_save: NULL argument");
    const char *descr = npy_descr(t->dtype);
    if (!descr)
        return pc_err(err, PC_ERR_UNSUPPORTED, "%s: dtype %s has no .npy equivalent", path, pc_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > PC_MAX_DIMS) return pc_err(err, PC_ERR_ARG, "%s: bad rank %d", path, t->ndim);
    char hdr[512];
    int k = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "%lld,%s", (long long)t->shape[i],
                      i + 1 < t->ndim ? " " : "");
    k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "), }");
    // pad so that 10 + header length is a multiple of 64, ending in '\n'
    size_t total = 10 + (size_t)k + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    size_t plen = strlen(path);
    char *tmp = (char *)malloc(plen + 5);
    if (!tmp) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        pc_status st = pc_err(err, PC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)k, f) == (size_t)k;
    for (size_t i = 10 + (size_t)k; ok && i < padded - 1; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && write_elems(f, t);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        free(tmp);
        return pc_err(err, PC_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    free(tmp);
    return PC_OK;
}

// ---- reader -------------------------------------------------------------------

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

// Parse a quoted Python string literal (no escapes needed for npy headers).
static const char *parse_qstr(const char *p, const char *e, char *out, size_t n) {
    if (p >= e || (*p != '\'' && *p != '"')) return NULL;
    char q = *p++;
    size_t k = 0;
    while (p < e && *p != q) {
        if (k + 1 >= n) return NULL;
        out[k++] = *p++;
    }
    if (p >= e) return NULL;
    out[k] = 0;
    return p + 1;
}

pc_status pc_npy_load(pc_tensor *out, const char *path, pc_error *err) {
    if (!out || !path) return pc_err(err, PC_ERR_ARG, "pc_npy_load: NULL argument");
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) return pc_err(err, errno == ENOENT ? PC_ERR_NOT_FOUND : PC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    pc_status st = PC_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = pc_err(err, PC_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen;
    int major = pre[6];
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) goto trunc;
        hlen = pc_rd_u16le(pre + 8);
    } else if (major == 2 || major == 3) {
        if (fread(pre + 8, 1, 4, f) != 4) goto trunc;
        hlen = pc_rd_u32le(pre + 8);
    } else {
        st = pc_err(err, PC_ERR_UNSUPPORTED, "%s: .npy version %d.%d is not supported", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > (1u << 20)) {
        st = pc_err(err, PC_ERR_FORMAT, "%s: .npy header length %zu is implausible", path, hlen);
        goto done;
    }
    hdr = (char *)malloc(hlen + 1);
    if (!hdr) {
        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) goto trunc;
    hdr[hlen] = 0;
    const char *p = hdr, *e = hdr + hlen;
    char descr[32] = "";
    int fortran = -1, have_shape = 0, ndim = 0;
    int64_t shape[PC_MAX_DIMS];
    p = skip_ws(p, e);
    if (p >= e || *p++ != '{') goto bad;
    for (;;) {
        p = skip_ws(p, e);
        if (p < e && *p == '}') break;
        char key[32];
        p = parse_qstr(p, e, key, sizeof(key));
        if (!p) goto bad;
        p = skip_ws(p, e);
        if (p >= e || *p++ != ':') goto bad;
        p = skip_ws(p, e);
        if (!strcmp(key, "descr")) {
            p = parse_qstr(p, e, descr, sizeof(descr));
            if (!p) goto bad;
        } else if (!strcmp(key, "fortran_order")) {
            if (e - p >= 4 && !memcmp(p, "True", 4)) {
                fortran = 1;
                p += 4;
            } else if (e - p >= 5 && !memcmp(p, "False", 5)) {
                fortran = 0;
                p += 5;
            } else {
                goto bad;
            }
        } else if (!strcmp(key, "shape")) {
            if (p >= e || *p++ != '(') goto bad;
            for (;;) {
                p = skip_ws(p, e);
                if (p < e && *p == ')') {
                    p++;
                    break;
                }
                if (ndim >= PC_MAX_DIMS) {
                    st = pc_err(err, PC_ERR_UNSUPPORTED, "%s: .npy rank above %d", path, PC_MAX_DIMS);
                    goto done;
                }
                int64_t v = 0;
                int digits = 0;
                while (p < e && *p >= '0' && *p <= '9') {
                    if (v > (INT64_MAX - 9) / 10) goto bad;
                    v = v * 10 + (*p++ - '0');
                    digits++;
                }
                if (p < e && *p == 'L') p++;  // Python 2 longs
                if (!digits) goto bad;
                shape[ndim++] = v;
                p = skip_ws(p, e);
                if (p < e && *p == ',') p++;
            }
            have_shape = 1;
        } else {
            goto bad;
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') p++;
    }
    if (!descr[0] || fortran < 0 || !have_shape) goto bad;
    static const struct {
        const char *d;
        pc_dtype dt;
    } tab[] = {{"<f4", PC_F32}, {"<f2", PC_F16}, {"<f8", PC_F64}, {"<i8", PC_I64}, {"<i4", PC_I32},
               {"<i2", PC_I16}, {"|i1", PC_I8},  {"<i1", PC_I8},  {"|u1", PC_U8},  {"<u1", PC_U8},
               {"|b1", PC_BOOL}, {"<b1", PC_BOOL}};
    int dt = -1;
    for (size_t i = 0; i < PC_ARRAY_LEN(tab); i++)
        if (!strcmp(descr, tab[i].d)) dt = (int)tab[i].dt;
    if (dt < 0) {
        st = pc_err(err, PC_ERR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported", path, descr);
        goto done;
    }
    // shape sanity before allocating: the data must be in the file
    long here = ftell(f);
    if (fseek(f, 0, SEEK_END) != 0) goto trunc;
    long fsize = ftell(f);
    if (here < 0 || fsize < here || fseek(f, here, SEEK_SET) != 0) goto trunc;
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] && numel > UINT64_MAX / (uint64_t)shape[i]) goto bad;
        numel *= (uint64_t)shape[i];
    }
    size_t es = pc_dtype_size((pc_dtype)dt);
    if (numel > (uint64_t)(fsize - here) / es) {
        st = pc_err(err, PC_ERR_FORMAT, "%s: .npy data is truncated (%llu elements declared, %ld bytes present)", path,
                    (unsigned long long)numel, fsize - here);
        goto done;
    }
    pc_tensor t;
    int64_t rshape[PC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) rshape[i] = fortran ? shape[ndim - 1 - i] : shape[i];
    st = pc_tensor_alloc(&t, (pc_dtype)dt, ndim, rshape, err);
    if (st != PC_OK) goto done;
    if (fread(t.data, es, (size_t)numel, f) != (size_t)numel) {
        pc_tensor_free(&t);
        goto trunc;
    }
    if (fortran && ndim > 1) {
        // The data is the C-order array of the reversed shape: element with
        // index (i0..i{n-1}) of the result sits at reversed-index position.
        pc_tensor c;
        st = pc_tensor_alloc(&c, (pc_dtype)dt, ndim, shape, err);
        if (st != PC_OK) {
            pc_tensor_free(&t);
            goto done;
        }
        int64_t idx[PC_MAX_DIMS] = {0};
        const char *src = (const char *)t.data;
        char *dst = (char *)c.data;
        for (uint64_t k = 0; k < numel; k++) {
            int64_t off = 0;  // offset in t (strides of t over reversed dims)
            for (int d = 0; d < ndim; d++) off += idx[d] * t.strides[ndim - 1 - d];
            memcpy(dst + k * es, src + off * (int64_t)es, es);
            for (int d = ndim - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
        pc_tensor_free(&t);
        *out = c;
        goto done;
    }
    *out = t;
    goto done;
trunc:
    st = pc_err(err, PC_ERR_FORMAT, "%s: truncated .npy file", path);
    goto done;
bad:
    st = pc_err(err, PC_ERR_FORMAT, "%s: malformed .npy header", path);
done:
    free(hdr);
    fclose(f);
    return st;
}
