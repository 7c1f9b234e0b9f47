// Builders for hand-made checkpoint files (bytes, pickle opcodes, zip archives),
// shared by tests/test_io_formats.c and bench/bench_io.c. Header-only, static.
#ifndef PC_TEST_IO_BUILDERS_H
#define PC_TEST_IO_BUILDERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "testutil.h"

// ---- byte builder ------------------------------------------------------------------
typedef struct {
    uint8_t *p;
    size_t n, cap;
} bb;

static inline void bb_put(bb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n) nc *= 2;
        b->p = (uint8_t *)realloc(b->p, nc);
        if (!b->p) pc_test_fatal("oom");
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void bb_u8(bb *b, unsigned v) {
    uint8_t x = (uint8_t)v;
    bb_put(b, &x, 1);
}
static inline void bb_u16(bb *b, unsigned v) {
    bb_u8(b, v & 0xff);
    bb_u8(b, (v >> 8) & 0xff);
}
static inline void bb_u32(bb *b, uint32_t v) {
    bb_u16(b, v & 0xffff);
    bb_u16(b, v >> 16);
}
static inline void bb_u64(bb *b, uint64_t v) {
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}
static inline void bb_str(bb *b, const char *s) { bb_put(b, s, strlen(s)); }
static inline void bb_free(bb *b) {
    free(b->p);
    memset(b, 0, sizeof(*b));
}

// ---- pickle builder ----------------------------------------------------------------
static inline void pk_str(bb *b, const char *s) {
    size_t n = strlen(s);
    if (n < 256) {
        bb_u8(b, 0x8c);
        bb_u8(b, (unsigned)n);
    } else {
        bb_u8(b, 'X');
        bb_u32(b, (uint32_t)n);
    }
    bb_put(b, s, n);
}
static inline void pk_int(bb *b, int64_t v) {
    if (v >= 0 && v < 256) {
        bb_u8(b, 'K');
        bb_u8(b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        bb_u8(b, 'M');
        bb_u16(b, (unsigned)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        bb_u8(b, 'J');
        bb_u32(b, (uint32_t)(int32_t)v);
    } else {
        bb_u8(b, 0x8a);
        bb_u8(b, 8);
        bb_u64(b, (uint64_t)v);
    }
}
static inline void pk_global(bb *b, const char *mod, const char *name) {
    bb_u8(b, 'c');
    bb_str(b, mod);
    bb_u8(b, '\n');
    bb_str(b, name);
    bb_u8(b, '\n');
}
static inline void pk_tuple_ints(bb *b, int n, const int64_t *v) {
    bb_u8(b, '(');
    for (int i = 0; i < n; i++) pk_int(b, v[i]);
    bb_u8(b, 't');
}
// torch._utils._rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
static inline void pk_tensor(bb *b, const char *type, const char *key, int64_t numel, int64_t offset, int nd,
                      const int64_t *size, const int64_t *stride) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    bb_u8(b, '(');
    bb_u8(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", type);
    pk_str(b, key);
    pk_str(b, "cpu");
    pk_int(b, numel);
    bb_u8(b, 't');
    bb_u8(b, 'Q');
    pk_int(b, offset);
    pk_tuple_ints(b, nd, size);
    pk_tuple_ints(b, nd, stride);
    bb_u8(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    bb_u8(b, ')');
    bb_u8(b, 'R');
    bb_u8(b, 't');
    bb_u8(b, 'R');
}

// ---- zip writer ----------------------------------------------------------------------
typedef struct {
    const char *name;
    const void *data;
    size_t n;
    int deflate;
} zent;

static inline void make_zip(bb *out, const zent *e, int ne, int zip64) {
    bb cd = {0};
    for (int i = 0; i < ne; i++) {
        const uint8_t *d = (const uint8_t *)e[i].data;
        size_t csize = e[i].n;
        uint8_t *comp = NULL;
        if (e[i].deflate) {
            comp = (uint8_t *)malloc(e[i].n * 2 + 64);
            z_stream zs;
            memset(&zs, 0, sizeof(zs));
            deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
            zs.next_in = (Bytef *)d;
            zs.avail_in = (uInt)e[i].n;
            zs.next_out = comp;
            zs.avail_out = (uInt)(e[i].n * 2 + 64);
            deflate(&zs, Z_FINISH);
            csize = zs.total_out;
            deflateEnd(&zs);
        }
        uint32_t crc = (uint32_t)crc32(0, d, (uInt)e[i].n);
        size_t nl = strlen(e[i].name), loff = out->n;
        // pad the local extra field so data starts at a multiple of 64 (as torch does)
        size_t pad = (64 - (out->n + 30 + nl) % 64) % 64;
        if (pad && pad < 4) pad += 64;
        bb_u32(out, 0x04034b50u);
        bb_u16(out, 20);
        bb_u16(out, 0);
        bb_u16(out, e[i].deflate ? 8 : 0);
        bb_u32(out, 0);
        bb_u32(out, crc);
        bb_u32(out, (uint32_t)csize);
        bb_u32(out, (uint32_t)e[i].n);
        bb_u16(out, (unsigned)nl);
        bb_u16(out, (unsigned)pad);
        bb_str(out, e[i].name);
        if (pad) {
            bb_u16(out, 0x4650);
            bb_u16(out, (unsigned)(pad - 4));
            for (size_t k = 4; k < pad; k++) bb_u8(out, 'Z');
        }
        bb_put(out, e[i].deflate ? comp : d, csize);
        free(comp);
        bb_u32(&cd, 0x02014b50u);
        bb_u16(&cd, zip64 ? 45 : 20);
        bb_u16(&cd, zip64 ? 45 : 20);
        bb_u16(&cd, 0);
        bb_u16(&cd, e[i].deflate ? 8 : 0);
        bb_u32(&cd, 0);
        bb_u32(&cd, crc);
        bb_u32(&cd, zip64 ? 0xFFFFFFFFu : (uint32_t)csize);
        bb_u32(&cd, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].n);
        bb_u16(&cd, (unsigned)nl);
        bb_u16(&cd, zip64 ? 28 : 0);
        bb_u16(&cd, 0);
        bb_u16(&cd, 0);
        bb_u16(&cd, 0);
        bb_u32(&cd, 0);
        bb_u32(&cd, zip64 ? 0xFFFFFFFFu : (uint32_t)loff);
        bb_str(&cd, e[i].name);
        if (zip64) {
            bb_u16(&cd, 1);
            bb_u16(&cd, 24);
            bb_u64(&cd, e[i].n);
            bb_u64(&cd, csize);
            bb_u64(&cd, loff);
        }
    }
    size_t cd_off = out->n;
    bb_put(out, cd.p, cd.n);
    if (zip64) {
        size_t z64 = out->n;
        bb_u32(out, 0x06064b50u);
        bb_u64(out, 44);
        bb_u16(out, 45);
        bb_u16(out, 45);
        bb_u32(out, 0);
        bb_u32(out, 0);
        bb_u64(out, (uint64_t)ne);
        bb_u64(out, (uint64_t)ne);
        bb_u64(out, cd.n);
        bb_u64(out, cd_off);
        bb_u32(out, 0x07064b50u);
        bb_u32(out, 0);
        bb_u64(out, z64);
        bb_u32(out, 1);
    }
    bb_u32(out, 0x06054b50u);
    bb_u16(out, 0);
    bb_u16(out, 0);
    bb_u16(out, zip64 ? 0xFFFF : (unsigned)ne);
    bb_u16(out, zip64 ? 0xFFFF : (unsigned)ne);
    bb_u32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)cd.n);
    bb_u32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_off);
    bb_u16(out, 0);
    bb_free(&cd);
}

#endif
