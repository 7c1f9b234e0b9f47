// PNG decode / encode with libpng, following Pillow 9.4's PngImagePlugin mode table so that
// `.convert('RGB')` gives the same pixels:
//   gray 1/2/4/8 -> L (low depths scaled by bit replication), gray 16 -> I (clipped to 255 when
//   converted), RGB/RGBA/gray+alpha 16 -> high byte, palette -> expanded. tRNS is ignored except for
//   palette images when the caller keeps alpha. Gamma / ICC are ignored, as PIL does.
// libpng reports errors by longjmp: everything that must be freed lives in a heap context created
// before setjmp, so nothing is lost or read back indeterminate after the jump.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/image_internal.h"

typedef struct pc_png_ctx {
    const uint8_t *data;
    size_t n, pos;
    char msg[256];
    uint8_t *buf;          // decoded rows, libpng layout
    png_bytep *rows;
    pc_image img;          // result
    int phase;             // 0 header/pixels, 1 trailing chunks (errors there are ignored)
    int orientation;
    pc_status status;      // set with *err when the inner decoder returns 2
    // writer
    FILE *fp;
} pc_png_ctx;

static void pc_png_error_fn(png_structp png, png_const_charp msg) {
    pc_png_ctx *c = (pc_png_ctx *)png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void pc_png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;  // PIL ignores ancillary-chunk problems too
}

static void pc_png_read_fn(png_structp png, png_bytep out, size_t len) {
    pc_png_ctx *c = (pc_png_ctx *)png_get_io_ptr(png);
    if (len > c->n - c->pos) png_error(png, "file is truncated");
    memcpy(out, c->data + c->pos, len);
    c->pos += len;
}

int pc_png_signature(const uint8_t *data, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return n >= 8 && memcmp(data, sig, 8) == 0;
}

// ImageMagick's "Raw profile type exif" text: "\nexif\n   <len>\n<hex...>"; PIL drops the first three
// lines and hex-decodes the rest (whitespace ignored).
static int pc_png_raw_profile_orientation(const char *t, size_t n) {
    size_t i = 0;
    int nl = 0;
    while (i < n && nl < 3) nl += t[i++] == '\n';
    if (nl < 3) return 0;
    size_t cap = (n - i) / 2 + 1;
    uint8_t *bin = malloc(cap);
    if (!bin) return 0;
    size_t m = 0;
    int hi = -1, ok = 1;
    for (; i < n; i++) {
        char ch = t[i];
        int v;
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        if (ch >= '0' && ch <= '9') v = ch - '0';
        else if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
        else { ok = 0; break; }
        if (hi < 0) hi = v;
        else { bin[m++] = (uint8_t)(hi << 4 | v); hi = -1; }
    }
    int o = ok && hi < 0 ? pc_exif_orientation(bin, m) : 0;
    free(bin);
    return o;
}

static int pc_png_text_len(const png_text *t) {
    return (int)(t->compression >= PNG_ITXT_COMPRESSION_NONE ? t->itxt_length : t->text_length);
}

// Orientation as Image.getexif finds it: eXIf first, then "Raw profile type exif", then XMP; each
// looked up among the chunks before and after the image data (PIL reads both on load).
static int pc_png_orientation(png_structp png, png_infop info, png_infop end_info) {
    png_infop infos[2] = {info, end_info};
    for (int k = 0; k < 2; k++) {
        png_uint_32 nex = 0;
        png_bytep ex = NULL;
        if (png_get_eXIf_1(png, infos[k], &nex, &ex) && ex && nex > 0) return pc_exif_orientation(ex, nex);
    }
    static const char *keys[2] = {"Raw profile type exif", "XML:com.adobe.xmp"};
    for (int key = 0; key < 2; key++) {
        for (int k = 0; k < 2; k++) {
            png_textp text = NULL;
            int ntext = 0;
            png_get_text(png, infos[k], &text, &ntext);
            for (int i = 0; i < ntext; i++) {
                if (!text[i].key || strcmp(text[i].key, keys[key]) != 0 || !text[i].text) continue;
                size_t len = (size_t)pc_png_text_len(&text[i]);
                return key == 0 ? pc_png_raw_profile_orientation(text[i].text, len)
                                : pc_xmp_orientation(text[i].text, len);
            }
        }
    }
    return 0;
}

// Runs libpng under its setjmp. Every value that outlives a longjmp lives in *c (heap).
// Returns 0 on success, 1 on a libpng error (c->msg), 2 when *err was filled.
static int pc_png_decode_inner(pc_png_ctx *c, png_structp png, png_infop info, png_infop end_info,
                               const char *name, pc_error *err) {
    if (setjmp(png_jmpbuf(png))) return c->phase == 1 ? 0 : 1;  // a bad trailer after the pixels is ignored
    png_set_read_fn(png, c, pc_png_read_fn);
    png_set_user_limits(png, PC_IMAGE_MAX_SIDE, PC_IMAGE_MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int out_c = 0;
    int gray16 = 0;
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY:
        out_c = 1;
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        gray16 = depth == 16;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: out_c = 2; break;
    case PNG_COLOR_TYPE_RGB: out_c = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: out_c = 4; break;
    case PNG_COLOR_TYPE_PALETTE:
        // palette_to_rgb also turns tRNS into an alpha channel; it is dropped later unless kept.
        png_set_palette_to_rgb(png);
        out_c = png_get_valid(png, info, PNG_INFO_tRNS) ? 4 : 3;
        break;
    default: png_error(png, "unknown color type");
    }
    if (depth == 16 && !gray16) png_set_strip_16(png);  // keep the high byte (PIL rawmode *;16B)
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if ((c->status = pc_image_check_size(name, w, h, out_c, err)) != PC_OK) return 2;
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t want = (size_t)w * (size_t)out_c * (gray16 ? 2 : 1);
    if (rowbytes != want) png_error(png, "unexpected row size after transforms");
    size_t total = 0;
    if (!pc_mul_size(rowbytes, h, &total) || !(c->buf = malloc(total ? total : 1)) ||
        !(c->rows = malloc((size_t)h * sizeof(png_bytep)))) {
        c->status = pc_err(err, PC_ERR_MEMORY, "%s: out of memory for a %ux%u PNG", name, (unsigned)w,
                           (unsigned)h);
        return 2;
    }
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->buf + (size_t)y * rowbytes;
    png_read_image(png, c->rows);
    if ((c->status = pc_image_alloc(&c->img, (int)w, (int)h, out_c, err)) != PC_OK) return 2;
    if (gray16) {
        // PIL mode I -> L/RGB clips: values above 255 become 255.
        size_t np = (size_t)w * h;
        for (size_t i = 0; i < np; i++) {
            unsigned v = (unsigned)c->buf[2 * i] << 8 | c->buf[2 * i + 1];
            c->img.data[i] = (uint8_t)(v > 255 ? 255 : v);
        }
    } else {
        memcpy(c->img.data, c->buf, total);
    }
    c->phase = 1;
    png_read_end(png, end_info);  // eXIf / text after the image data
    return 0;
}

pc_status pc_png_decode(pc_image_decoded *out, const uint8_t *data, size_t n, const char *name,
                        pc_error *err) {
    pc_png_ctx *c = calloc(1, sizeof *c);
    if (!c) return pc_err(err, PC_ERR_MEMORY, "%s: out of memory", name);
    c->data = data;
    c->n = n;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, pc_png_error_fn, pc_png_warn_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_infop end_info = png ? png_create_info_struct(png) : NULL;
    pc_status st = PC_OK;
    if (!png || !info || !end_info) {
        st = pc_err(err, PC_ERR_MEMORY, "%s: out of memory (libpng)", name);
    } else {
        int r = pc_png_decode_inner(c, png, info, end_info, name, err);
        if (r == 1) st = pc_err(err, PC_ERR_FORMAT, "%s: corrupt or unsupported PNG: %s", name, c->msg);
        else if (r == 2) st = c->status;
        else c->orientation = pc_png_orientation(png, info, end_info);
    }
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, end_info ? &end_info : NULL);
    free(c->buf);
    free(c->rows);
    if (st == PC_OK) {
        out->img = c->img;
        out->orientation = c->orientation;
    } else {
        pc_image_free(&c->img);
    }
    free(c);
    return st;
}

// Runs the libpng writer under its setjmp; 0 on success, 1 on a libpng error (c->msg).
static int pc_png_write_inner(pc_png_ctx *c, png_structp png, png_infop info, const pc_image *img) {
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    if (setjmp(png_jmpbuf(png))) return 1;
    png_init_io(png, c->fp);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, types[img->c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++) c->rows[y] = img->data + (size_t)y * img->w * img->c;
    png_write_image(png, c->rows);
    png_write_end(png, info);
    return 0;
}

pc_status pc_image_save_png(const pc_image *img, const char *path, pc_error *err) {
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || img->c < 1 || img->c > 4 || !path)
        return pc_err(err, PC_ERR_ARG, "pc_image_save_png: invalid image or path");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    pc_png_ctx *c = calloc(1, sizeof *c);
    if (c) c->rows = malloc((size_t)img->h * sizeof(png_bytep));
    if (!tmp || !c || !c->rows) {
        free(tmp);
        if (c) free(c->rows);
        free(c);
        return pc_err(err, PC_ERR_MEMORY, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    pc_status st = PC_OK;
    png_structp png = NULL;
    png_infop info = NULL;
    c->fp = fopen(tmp, "wb");
    if (!c->fp) {
        st = pc_err(err, PC_ERR_IO, "%s: cannot open for writing", tmp);
    } else {
        png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, pc_png_error_fn, pc_png_warn_fn);
        info = png ? png_create_info_struct(png) : NULL;
        if (!png || !info)
            st = pc_err(err, PC_ERR_MEMORY, "%s: out of memory (libpng)", path);
        else if (pc_png_write_inner(c, png, info, img) != 0)
            st = pc_err(err, PC_ERR_IO, "%s: PNG write failed: %s", path, c->msg);
        if (png) png_destroy_write_struct(&png, info ? &info : NULL);
        if (fclose(c->fp) != 0 && st == PC_OK) st = pc_err(err, PC_ERR_IO, "%s: write failed", tmp);
        if (st == PC_OK && rename(tmp, path) != 0)
            st = pc_err(err, PC_ERR_IO, "%s: cannot rename to %s", tmp, path);
        if (st != PC_OK) remove(tmp);
    }
    free(c->rows);
    free(c);
    free(tmp);
    return st;
}
