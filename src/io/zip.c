// Read-only zip reader over a memory buffer (the mmapped checkpoint).
//
// Reads the central directory (with zip64 end records and extra fields, as
// torch writes for archives over 4 GB), checks every offset and size against
// the buffer, and checks each local header against its central entry.
// Stored entries are returned as views into the buffer; deflated entries are
// inflated with zlib once into a buffer this reader owns.
#include "io/io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
    const char *name;
    uint16_t name_len;
    uint16_t method;
    uint32_t crc;
    uint64_t csize, usize;
    uint64_t data_off;  // start of the entry's data in buf (after the local header)
    uint8_t *inflated;  // deflated entries, once read
} zip_entry;

struct pc_zip {
    const uint8_t *buf;
    size_t n;
    char *label;
    zip_entry *e;
    size_t count;
    uint32_t *index;  // open addressing, entry + 1
    size_t index_cap;
};

size_t pc_zip_count(const pc_zip *z) { return z->count; }
uint64_t pc_zip_size(const pc_zip *z, size_t i) { return i < z->count ? z->e[i].usize : 0; }
const char *pc_zip_name(const pc_zip *z, size_t i, size_t *len) {
    if (i >= z->count) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = z->e[i].name_len;
    return z->e[i].name;
}

long pc_zip_find(const pc_zip *z, const char *name, size_t len) {
    if (!z->index_cap) return -1;
    size_t mask = z->index_cap - 1;
    for (size_t s = pc_hash_bytes(name, len) & mask;; s = (s + 1) & mask) {
        uint32_t v = z->index[s];
        if (!v) return -1;
        const zip_entry *e = &z->e[v - 1];
        if (e->name_len == len && !memcmp(e->name, name, len)) return (long)(v - 1);
    }
}

void pc_zip_close(pc_zip *z) {
    if (!z) return;
    for (size_t i = 0; i < z->count; i++) pc_aligned_free(z->e[i].inflated);
    free(z->e);
    free(z->index);
    free(z->label);
    free(z);
}

// Zip64 extended information extra field (id 0x0001): the 64-bit values of the
// central entry fields that were set to 0xFFFFFFFF, in this fixed order.
static int read_zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *off,
                            int need_u, int need_c, int need_o) {
    size_t p = 0;
    while (p + 4 <= xlen) {
        uint16_t id = pc_rd_u16le(x + p), sz = pc_rd_u16le(x + p + 2);
        if (sz > xlen - p - 4) return 0;
        if (id == 0x0001) {
            const uint8_t *f = x + p + 4;
            size_t q = 0;
            if (need_u) {
                if (q + 8 > sz) return 0;
                *usize = pc_rd_u64le(f + q);
                q += 8;
            }
            if (need_c) {
                if (q + 8 > sz) return 0;
                *csize = pc_rd_u64le(f + q);
                q += 8;
            }
            if (need_o) {
                if (q + 8 > sz) return 0;
                *off = pc_rd_u64le(f + q);
                q += 8;
            }
            return 1;
        }
        p += 4 + (size_t)sz;
    }
    return !(need_u || need_c || need_o);
}

// Copy buf[off, off+len) into dst. With a file descriptor the bytes come from
// pread: a torch zip has one local header per tensor, spread over gigabytes,
// and faulting each one in through the mapping costs far more (page tables,
// readahead) than a small read.
static int read_at(const uint8_t *buf, size_t n, int fd, uint64_t off, uint8_t *dst, size_t len) {
    if (off > n || len > n - off) return 0;
    if (fd < 0) {
        memcpy(dst, buf + off, len);
        return 1;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

pc_status pc_zip_open(pc_zip **out, const uint8_t *buf, size_t n, const char *label, pc_error *err) {
    return pc_zip_open_fd(out, buf, n, -1, label, err);
}

pc_status pc_zip_open_fd(pc_zip **out, const uint8_t *buf, size_t n, int fd, const char *label, pc_error *err) {
    *out = NULL;
    if (!label) label = "<memory>";
    if (n < 22) return pc_err(err, PC_ERR_FORMAT, "file %s: too short (%zu bytes) for a zip archive", label, n);
    // End of central directory: 22 bytes + a comment of at most 65535 bytes.
    size_t eocd = SIZE_MAX;
    size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
    for (size_t p = n - 22 + 1; p-- > lo;) {
        if (buf[p] == 'P' && buf[p + 1] == 'K' && buf[p + 2] == 5 && buf[p + 3] == 6 &&
            p + 22 + (size_t)pc_rd_u16le(buf + p + 20) == n) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX)
        return pc_err(err, PC_ERR_FORMAT, "file %s: zip end-of-central-directory record not found (truncated file?)",
                      label);
    const uint8_t *r = buf + eocd;
    uint64_t disk = pc_rd_u16le(r + 4), cd_disk = pc_rd_u16le(r + 6);
    uint64_t count = pc_rd_u16le(r + 10), cd_size = pc_rd_u32le(r + 12), cd_off = pc_rd_u32le(r + 16);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu || disk == 0xFFFF) {
        // zip64: locator (20 bytes) right before the EOCD points at the zip64 EOCD record.
        if (eocd < 20 || pc_rd_u32le(buf + eocd - 20) != 0x07064b50u)
            return pc_err(err, PC_ERR_FORMAT, "file %s: zip64 end-of-central-directory locator missing", label);
        uint64_t z64 = pc_rd_u64le(buf + eocd - 20 + 8);
        if (z64 > eocd - 20 || eocd - 20 - z64 < 56 || pc_rd_u32le(buf + z64) != 0x06064b50u)
            return pc_err(err, PC_ERR_FORMAT, "file %s: zip64 end-of-central-directory record at %llu is invalid",
                          label, (unsigned long long)z64);
        const uint8_t *q = buf + z64;
        disk = pc_rd_u32le(q + 16);
        cd_disk = pc_rd_u32le(q + 20);
        count = pc_rd_u64le(q + 32);
        cd_size = pc_rd_u64le(q + 40);
        cd_off = pc_rd_u64le(q + 48);
    }
    if (disk != 0 || cd_disk != 0)
        return pc_err(err, PC_ERR_UNSUPPORTED, "file %s: multi-disk zip archives are not supported", label);
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return pc_err(err, PC_ERR_FORMAT,
                      "file %s: zip central directory [%llu, +%llu) lies outside the file (end record at %zu)", label,
                      (unsigned long long)cd_off, (unsigned long long)cd_size, eocd);
    if (count > cd_size / 46 || count > PC_ZIP_MAX_ENTRIES)
        return pc_err(err, PC_ERR_FORMAT, "file %s: zip declares %llu entries, more than its central directory (%llu "
                      "bytes) can hold", label, (unsigned long long)count, (unsigned long long)cd_size);

    pc_zip *z = (pc_zip *)calloc(1, sizeof(*z));
    if (!z) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    z->buf = buf;
    z->n = n;
    z->label = (char *)malloc(strlen(label) + 1);
    z->e = (zip_entry *)calloc(count ? count : 1, sizeof(zip_entry));
    size_t icap = 16;
    while (icap < count * 2) icap *= 2;
    z->index = (uint32_t *)calloc(icap, sizeof(uint32_t));
    z->index_cap = icap;
    if (!z->label || !z->e || !z->index) {
        pc_zip_close(z);
        return pc_err(err, PC_ERR_MEMORY, "out of memory reading zip directory of %s", label);
    }
    memcpy(z->label, label, strlen(label) + 1);
    pc_status st = PC_OK;
    uint8_t *lh = (uint8_t *)malloc(30 + 65536);  // one local header (fixed part + name)
    if (!lh) {
        pc_zip_close(z);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    uint64_t p = cd_off, end = cd_off + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 46 || pc_rd_u32le(buf + p) != 0x02014b50u) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: bad zip central directory entry %llu at offset %llu", label,
                        (unsigned long long)i, (unsigned long long)p);
            goto fail;
        }
        const uint8_t *c = buf + p;
        zip_entry *e = &z->e[i];
        uint16_t flags = pc_rd_u16le(c + 8);
        e->method = pc_rd_u16le(c + 10);
        e->crc = pc_rd_u32le(c + 16);
        e->csize = pc_rd_u32le(c + 20);
        e->usize = pc_rd_u32le(c + 24);
        uint16_t nl = pc_rd_u16le(c + 28), xl = pc_rd_u16le(c + 30), cl = pc_rd_u16le(c + 32);
        uint32_t dstart = pc_rd_u16le(c + 34);
        uint64_t loff = pc_rd_u32le(c + 42);
        if ((uint64_t)46 + nl + xl + cl > end - p) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: zip central directory entry %llu runs past the directory", label,
                        (unsigned long long)i);
            goto fail;
        }
        e->name = (const char *)c + 46;
        e->name_len = nl;
        int nu = e->usize == 0xFFFFFFFFu, nc = e->csize == 0xFFFFFFFFu, no = loff == 0xFFFFFFFFu;
        if (!read_zip64_extra(c + 46 + nl, xl, &e->usize, &e->csize, &loff, nu, nc, no)) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s' has a bad zip64 extra field", label, (int)nl,
                        e->name);
            goto fail;
        }
        if (dstart != 0 && dstart != 0xFFFF) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: zip entry '%.*s' is on another disk", label, (int)nl,
                        e->name);
            goto fail;
        }
        if (flags & 1) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: zip entry '%.*s' is encrypted", label, (int)nl, e->name);
            goto fail;
        }
        // local header: 30 bytes + name + extra, then data
        // one read for the fixed part and the name (its length as the central entry says)
        if (loff > cd_off || cd_off - loff < 30 + (uint64_t)nl || !read_at(buf, n, fd, loff, lh, 30 + (size_t)nl) ||
            pc_rd_u32le(lh) != 0x04034b50u) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s': no local header at offset %llu", label, (int)nl,
                        e->name, (unsigned long long)loff);
            goto fail;
        }
        uint16_t lnl = pc_rd_u16le(lh + 26), lxl = pc_rd_u16le(lh + 28);
        uint64_t doff = loff + 30 + lnl + lxl;
        if (lnl != nl || doff > cd_off || memcmp(lh + 30, e->name, nl) != 0) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s': local header does not match the central "
                        "directory", label, (int)nl, e->name);
            goto fail;
        }
        if (e->csize > cd_off - doff) {
            st = pc_err(err, PC_ERR_FORMAT,
                        "file %s: zip entry '%.*s': %llu bytes of data at offset %llu run past the end of the data area",
                        label, (int)nl, e->name, (unsigned long long)e->csize, (unsigned long long)doff);
            goto fail;
        }
        if (e->method == 0 && e->csize != e->usize) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: stored zip entry '%.*s' has compressed size %llu != size %llu",
                        label, (int)nl, e->name, (unsigned long long)e->csize, (unsigned long long)e->usize);
            goto fail;
        }
        e->data_off = doff;
        if (pc_zip_find(z, e->name, nl) >= 0) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: duplicate zip entry '%.*s'", label, (int)nl, e->name);
            goto fail;
        }
        z->count = (size_t)i + 1;
        size_t mask = z->index_cap - 1, s = pc_hash_bytes(e->name, nl) & mask;
        while (z->index[s]) s = (s + 1) & mask;
        z->index[s] = (uint32_t)(i + 1);
        p += 46 + (uint64_t)nl + xl + cl;
    }
    free(lh);
    *out = z;
    return PC_OK;
fail:
    free(lh);
    pc_zip_close(z);
    return st;
}

pc_status pc_zip_data(pc_zip *z, size_t i, const uint8_t **data, size_t *size, pc_error *err) {
    if (i >= z->count) return pc_err(err, PC_ERR_ARG, "zip entry index %zu out of range", i);
    zip_entry *e = &z->e[i];
    if (e->method == 0) {
        *data = z->buf + e->data_off;
        *size = (size_t)e->usize;
        return PC_OK;
    }
    if (e->method != 8)
        return pc_err(err, PC_ERR_UNSUPPORTED, "file %s: zip entry '%.*s' uses compression method %u (only stored and "
                      "deflate are supported)", z->label, (int)e->name_len, e->name, e->method);
    if (!e->inflated) {
        // Deflate expands at most ~1032:1; a larger declared size is a lie.
        if (e->usize > e->csize * 1040 + 1024 || e->usize > (uint64_t)SIZE_MAX / 2)
            return pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s' declares %llu bytes from %llu compressed",
                          z->label, (int)e->name_len, e->name, (unsigned long long)e->usize,
                          (unsigned long long)e->csize);
        uint8_t *out = (uint8_t *)pc_aligned_alloc((size_t)e->usize);
        if (!out)
            return pc_err(err, PC_ERR_MEMORY, "out of memory inflating zip entry '%.*s' (%llu bytes)",
                          (int)e->name_len, e->name, (unsigned long long)e->usize);
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            pc_aligned_free(out);
            return pc_err(err, PC_ERR_MEMORY, "zlib inflateInit failed");
        }
        // zlib counts in uInt: feed and drain in chunks so >4 GB entries work.
        const uint8_t *src = z->buf + e->data_off;
        uint64_t in_left = e->csize, out_left = e->usize;
        int zr = Z_OK;
        zs.next_out = out;
        zs.next_in = (Bytef *)src;
        while (zr == Z_OK) {
            if (zs.avail_in == 0 && in_left) {
                zs.avail_in = (uInt)PC_MIN(in_left, (uint64_t)1 << 30);
                in_left -= zs.avail_in;
            }
            if (zs.avail_out == 0 && out_left) {
                zs.avail_out = (uInt)PC_MIN(out_left, (uint64_t)1 << 30);
                out_left -= zs.avail_out;
            }
            zr = inflate(&zs, Z_NO_FLUSH);
            if (zr == Z_BUF_ERROR && ((zs.avail_in == 0 && in_left) || (zs.avail_out == 0 && out_left))) zr = Z_OK;
        }
        uint64_t produced = zs.total_out;
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || produced != e->usize) {
            pc_aligned_free(out);
            return pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s': corrupt deflate data (%s)", z->label,
                          (int)e->name_len, e->name, zr == Z_STREAM_END ? "wrong size" : "inflate failed");
        }
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t off = 0; off < e->usize;) {
            uInt chunk = (uInt)PC_MIN(e->usize - off, (uint64_t)1 << 30);
            crc = crc32(crc, out + off, chunk);
            off += chunk;
        }
        if ((uint32_t)crc != e->crc) {
            pc_aligned_free(out);
            return pc_err(err, PC_ERR_FORMAT, "file %s: zip entry '%.*s': CRC mismatch", z->label, (int)e->name_len,
                          e->name);
        }
        e->inflated = out;
    }
    *data = e->inflated;
    *size = (size_t)e->usize;
    return PC_OK;
}
