// safetensors reader: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian C-order data; offsets count from the end of the header.
//
// Everything in the header is validated before a tensor view is made: known
// dtype, rank <= PC_MAX_DIMS, integral non-negative numbers, begin <= end,
// end inside the file, end - begin == numel * dtype size, and no two tensors'
// byte ranges overlap.
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int pc_safetensors_sniff(const uint8_t *buf, size_t n) {
    // u64 header length, then the JSON object. The length itself is validated
    // by the parser so that a wrong length gets a precise message.
    if (n < 9 || buf[8] != '{') return 0;
    return pc_rd_u64le(buf) >= 2;
}

static int parse_dtype(const char *s, pc_dtype *dt) {
    static const struct {
        const char *name;
        pc_dtype dt;
    } tab[] = {{"F32", PC_F32}, {"F16", PC_F16}, {"BF16", PC_BF16}, {"F64", PC_F64}, {"I64", PC_I64},
               {"I32", PC_I32}, {"I16", PC_I16}, {"I8", PC_I8},     {"U8", PC_U8},   {"BOOL", PC_BOOL}};
    for (size_t i = 0; i < PC_ARRAY_LEN(tab); i++)
        if (!strcmp(s, tab[i].name)) {
            *dt = tab[i].dt;
            return 1;
        }
    return 0;
}

// A JSON number that is an exact non-negative integer <= 2^53.
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

typedef struct {
    uint64_t begin, end;
    size_t idx;
} range;

static int cmp_range(const void *a, const void *b) {
    const range *x = (const range *)a, *y = (const range *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

pc_status pc_safetensors_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, pc_error *err) {
    const char *label = pc_ckpt_label(ck);
    if (n < 8) return pc_err(err, PC_ERR_FORMAT, "file %s: truncated safetensors file (%zu bytes)", label, n);
    uint64_t hl = pc_rd_u64le(buf);
    if (hl > n - 8)
        return pc_err(err, PC_ERR_FORMAT, "file %s: safetensors header length %llu exceeds the file size %zu", label,
                      (unsigned long long)hl, n);
    if (hl > PC_SAFETENSORS_MAX_HEADER)
        return pc_err(err, PC_ERR_FORMAT, "file %s: safetensors header length %llu exceeds the limit of %u bytes",
                      label, (unsigned long long)hl, PC_SAFETENSORS_MAX_HEADER);
    const uint8_t *data = buf + 8 + hl;
    uint64_t data_size = n - 8 - hl;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    if (!root) return pc_err(err, PC_ERR_FORMAT, "file %s: safetensors header is not valid JSON", label);
    pc_status st = PC_OK;
    range *ranges = NULL;
    if (!cJSON_IsObject(root)) {
        st = pc_err(err, PC_ERR_FORMAT, "file %s: safetensors header is not a JSON object", label);
        goto done;
    }
    size_t count = 0;
    for (cJSON *e = root->child; e; e = e->next) count++;
    ranges = (range *)malloc((count ? count : 1) * sizeof(range));
    if (!ranges) {
        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        goto done;
    }
    size_t nr = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        const char *name = e->string ? e->string : "";
        if (!strcmp(name, "__metadata__")) {
            if (cJSON_IsNull(e)) continue;
            if (!cJSON_IsObject(e)) {
                st = pc_err(err, PC_ERR_FORMAT, "file %s: __metadata__ is not an object", label);
                goto done;
            }
            for (cJSON *m = e->child; m; m = m->next) {
                if (!cJSON_IsString(m)) {
                    st = pc_err(err, PC_ERR_FORMAT, "file %s: __metadata__ value '%.200s' is not a string", label,
                                m->string ? m->string : "");
                    goto done;
                }
                const char *k = m->string ? m->string : "";
                st = pc_ckpt_add_meta(ck, k, strlen(k), m->valuestring, strlen(m->valuestring), err);
                if (st != PC_OK) goto done;
            }
            continue;
        }
        if (!cJSON_IsObject(e)) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: header entry '%.200s' is not an object", label, name);
            goto done;
        }
        const cJSON *jdt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *jsh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *jof = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(jdt) || !cJSON_IsArray(jsh) || !cJSON_IsArray(jof)) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: tensor '%.200s' lacks dtype, shape or data_offsets", label, name);
            goto done;
        }
        pc_tensor t;
        memset(&t, 0, sizeof(t));
        if (!parse_dtype(jdt->valuestring, &t.dtype)) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: tensor '%.200s' has unknown dtype '%.40s'", label, name,
                        jdt->valuestring);
            goto done;
        }
        int nd = cJSON_GetArraySize(jsh);
        if (nd > PC_MAX_DIMS) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: tensor '%.200s' has rank %d > %d", label, name, nd,
                        PC_MAX_DIMS);
            goto done;
        }
        t.ndim = nd;
        uint64_t numel = 1, nonzero = 1;  // nonzero: product of the non-zero dims, bounded even for empty tensors
        int k = 0, overflow = 0;
        for (const cJSON *d = jsh->child; d; d = d->next, k++) {
            uint64_t v;
            if (!json_uint(d, &v)) {
                st = pc_err(err, PC_ERR_FORMAT, "file %s: tensor '%.200s': shape entry %d is not a non-negative integer",
                            label, name, k);
                goto done;
            }
            t.shape[k] = (int64_t)v;
            if (v && nonzero > ((uint64_t)1 << 62) / v) overflow = 1;
            if (v) nonzero *= v;
            numel *= v;
        }
        uint64_t bytes = numel * pc_dtype_size(t.dtype);
        if (overflow || (numel && bytes / numel != pc_dtype_size(t.dtype))) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: tensor '%.200s': shape overflows", label, name);
            goto done;
        }
        uint64_t b, en;
        if (cJSON_GetArraySize(jof) != 2 || !json_uint(jof->child, &b) || !json_uint(jof->child->next, &en)) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: tensor '%.200s': data_offsets is not two non-negative integers",
                        label, name);
            goto done;
        }
        if (b > en || en > data_size) {
            st = pc_err(err, PC_ERR_FORMAT,
                        "file %s: tensor '%.200s': data_offsets [%llu, %llu] out of bounds (data section has %llu bytes)",
                        label, name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
            goto done;
        }
        if (en - b != bytes) {
            st = pc_err(err, PC_ERR_FORMAT,
                        "file %s: tensor '%.200s': %llu bytes stored but shape and dtype %s need %llu", label, name,
                        (unsigned long long)(en - b), pc_dtype_name(t.dtype), (unsigned long long)bytes);
            goto done;
        }
        // strides: row-major
        int64_t s = 1;  // cannot overflow: the product of the non-zero dims is <= 2^62
        for (int i = nd - 1; i >= 0; i--) {
            t.strides[i] = s;
            s *= t.shape[i] ? t.shape[i] : 1;
        }
        const uint8_t *p = data + b;
        size_t dsz = pc_dtype_size(t.dtype);
        if (bytes && ((uintptr_t)p % dsz) != 0) {
            // Misaligned data (header length not padded): one aligned copy of this
            // tensor only, so readers may use typed loads.
            void *cp = pc_aligned_alloc((size_t)bytes);
            if (!cp) {
                st = pc_err(err, PC_ERR_MEMORY, "out of memory copying tensor '%.200s'", name);
                goto done;
            }
            memcpy(cp, p, (size_t)bytes);
            st = pc_ckpt_own(ck, cp, err);
            if (st != PC_OK) goto done;
            p = (const uint8_t *)cp;
        }
        t.data = (void *)p;
        st = pc_ckpt_add_tensor(ck, name, strlen(name), &t, err);
        if (st != PC_OK) goto done;
        ranges[nr].begin = b;
        ranges[nr].end = en;
        ranges[nr].idx = nr;
        nr++;
    }
    qsort(ranges, nr, sizeof(range), cmp_range);
    // Sorted by begin: a non-empty range overlaps an earlier one iff it starts
    // before the largest end seen so far.
    size_t far = SIZE_MAX;  // index (in ranges) of the non-empty range with the largest end
    for (size_t i = 0; i < nr; i++) {
        if (ranges[i].begin == ranges[i].end) continue;
        if (far != SIZE_MAX && ranges[i].begin < ranges[far].end) {
            st = pc_err(err, PC_ERR_FORMAT,
                        "file %s: tensors '%.200s' and '%.200s' have overlapping data ranges [%llu, %llu) and "
                        "[%llu, %llu)",
                        label, pc_checkpoint_name(ck, ranges[far].idx), pc_checkpoint_name(ck, ranges[i].idx),
                        (unsigned long long)ranges[far].begin, (unsigned long long)ranges[far].end,
                        (unsigned long long)ranges[i].begin, (unsigned long long)ranges[i].end);
            goto done;
        }
        if (far == SIZE_MAX || ranges[i].end > ranges[far].end) far = i;
    }
done:
    free(ranges);
    cJSON_Delete(root);
    return st;
}
