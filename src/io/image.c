// Image container, file loading (format sniffing, EXIF orientation, PIL convert('RGB')), crop and
// transpose. (DUSt3R's input preprocessing lives beside its model: models/dust3r_preprocess.c.)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/image_internal.h"

// Largest image file we read into memory.
#define PC_IMAGE_MAX_FILE ((size_t)1 << 30)

pc_status pc_image_check_size(const char *name, int64_t w, int64_t h, int c, pc_error *err) {
    if (w <= 0 || h <= 0) return pc_err(err, PC_ERR_FORMAT, "%s: empty image (%lldx%lld)", name, (long long)w, (long long)h);
    if (w > PC_IMAGE_MAX_SIDE || h > PC_IMAGE_MAX_SIDE)
        return pc_err(err, PC_ERR_UNSUPPORTED, "%s: image %lldx%lld exceeds the %d pixel side limit", name,
                      (long long)w, (long long)h, PC_IMAGE_MAX_SIDE);
    if ((uint64_t)w * (uint64_t)h * (uint64_t)(c > 0 ? c : 1) > (uint64_t)PC_IMAGE_MAX_BYTES)
        return pc_err(err, PC_ERR_UNSUPPORTED, "%s: image %lldx%lldx%d exceeds the 2 GiB pixel buffer limit",
                      name, (long long)w, (long long)h, c);
    return PC_OK;
}

pc_status pc_image_alloc(pc_image *img, int w, int h, int c, pc_error *err) {
    if (!img || c < 1 || c > 4) return pc_err(err, PC_ERR_ARG, "pc_image_alloc: invalid arguments");
    memset(img, 0, sizeof *img);
    pc_status st = pc_image_check_size("pc_image_alloc", w, h, c, err);
    if (st != PC_OK) return st;
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    img->data = calloc(n, 1);
    if (!img->data) return pc_err(err, PC_ERR_MEMORY, "out of memory for a %dx%dx%d image", w, h, c);
    img->w = w;
    img->h = h;
    img->c = c;
    return PC_OK;
}

void pc_image_free(pc_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

pc_status pc_image_to_rgb(pc_image *out, const pc_image *in, pc_error *err) {
    if (!out || !in || !in->data || in->c < 1 || in->c > 4)
        return pc_err(err, PC_ERR_ARG, "pc_image_to_rgb: invalid image");
    pc_image res;
    pc_status st = pc_image_alloc(&res, in->w, in->h, 3, err);
    if (st != PC_OK) return st;
    size_t np = (size_t)in->w * in->h;
    const uint8_t *s = in->data;
    uint8_t *d = res.data;
    // PIL: L/LA -> RGB replicates the gray value; RGBA -> RGB drops alpha (no compositing).
    for (size_t i = 0; i < np; i++) {
        if (in->c <= 2) {
            uint8_t v = s[i * in->c];
            d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = v;
        } else {
            d[3 * i] = s[i * in->c];
            d[3 * i + 1] = s[i * in->c + 1];
            d[3 * i + 2] = s[i * in->c + 2];
        }
    }
    *out = res;
    return PC_OK;
}

pc_status pc_image_crop(pc_image *out, const pc_image *in, int x0, int y0, int x1, int y1, pc_error *err) {
    if (!out || !in || !in->data) return pc_err(err, PC_ERR_ARG, "pc_image_crop: invalid image");
    if (x0 < 0 || y0 < 0 || x1 > in->w || y1 > in->h || x1 <= x0 || y1 <= y0)
        return pc_err(err, PC_ERR_ARG, "pc_image_crop: box (%d, %d, %d, %d) is empty or outside the %dx%d image",
                      x0, y0, x1, y1, in->w, in->h);
    pc_image res;
    pc_status st = pc_image_alloc(&res, x1 - x0, y1 - y0, in->c, err);
    if (st != PC_OK) return st;
    size_t row = (size_t)res.w * in->c;
    for (int y = 0; y < res.h; y++)
        memcpy(res.data + (size_t)y * row, in->data + ((size_t)(y + y0) * in->w + x0) * in->c, row);
    *out = res;
    return PC_OK;
}

// ImageOps.exif_transpose: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
// 6 ROTATE_270 (clockwise), 7 TRANSVERSE, 8 ROTATE_90 (counter-clockwise).
pc_status pc_image_orient(pc_image *out, const pc_image *in, int orientation, pc_error *err) {
    if (!out || !in || !in->data) return pc_err(err, PC_ERR_ARG, "pc_image_orient: invalid image");
    int W = in->w, H = in->h, c = in->c;
    int swap = orientation >= 5 && orientation <= 8;
    pc_image res;
    pc_status st = pc_image_alloc(&res, swap ? H : W, swap ? W : H, c, err);
    if (st != PC_OK) return st;
    for (int y = 0; y < res.h; y++) {
        for (int x = 0; x < res.w; x++) {
            int sx, sy;  // source pixel of output (x, y)
            switch (orientation) {
            case 2: sx = W - 1 - x; sy = y; break;
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;
            case 4: sx = x; sy = H - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = H - 1 - x; break;
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;
            case 8: sx = W - 1 - y; sy = x; break;
            default: sx = x; sy = y; break;
            }
            memcpy(res.data + ((size_t)y * res.w + x) * c, in->data + ((size_t)sy * W + sx) * c, (size_t)c);
        }
    }
    *out = res;
    return PC_OK;
}

pc_status pc_image_load_mem(pc_image *img, const void *data, size_t n, const char *name, int flags,
                            pc_error *err) {
    if (!img || (!data && n)) return pc_err(err, PC_ERR_ARG, "pc_image_load_mem: invalid arguments");
    if (!name) name = "<memory>";
    memset(img, 0, sizeof *img);
    const uint8_t *d = (const uint8_t *)data;
    pc_image_decoded dec = {{0}, 0};
    pc_status st;
    if (pc_png_signature(d, n))
        st = pc_png_decode(&dec, d, n, name, err);
    else if (pc_jpeg_signature(d, n))
        st = pc_jpeg_decode(&dec, d, n, name, err);
    else
        return pc_err(err, PC_ERR_FORMAT, "%s: not a PNG or JPEG image (unknown signature)", name);
    if (st != PC_OK) return st;
    if (!(flags & PC_IMAGE_LOAD_NO_EXIF) && dec.orientation >= 2 && dec.orientation <= 8) {
        pc_image o;
        st = pc_image_orient(&o, &dec.img, dec.orientation, err);
        pc_image_free(&dec.img);
        if (st != PC_OK) return pc_err_prefix(err, st, "%s: ", name);
        dec.img = o;
    }
    if (!(flags & PC_IMAGE_LOAD_KEEP) && dec.img.c != 3) {
        pc_image rgb;
        st = pc_image_to_rgb(&rgb, &dec.img, err);
        pc_image_free(&dec.img);
        if (st != PC_OK) return pc_err_prefix(err, st, "%s: ", name);
        dec.img = rgb;
    }
    *img = dec.img;
    return PC_OK;
}

pc_status pc_image_load_ex(pc_image *img, const char *path, int flags, pc_error *err) {
    if (!img || !path) return pc_err(err, PC_ERR_ARG, "pc_image_load: invalid arguments");
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return pc_err(err, PC_ERR_IO, "%s: cannot open image file", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    pc_status st = PC_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= PC_IMAGE_MAX_FILE) {
                st = pc_err(err, PC_ERR_UNSUPPORTED, "%s: image file larger than %zu bytes", path, PC_IMAGE_MAX_FILE);
                break;
            }
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                st = pc_err(err, PC_ERR_MEMORY, "%s: out of memory reading the file", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) st = pc_err(err, PC_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == PC_OK) st = pc_image_load_mem(img, buf, n, path, flags, err);
    free(buf);
    return st;
}

pc_status pc_image_load(pc_image *img, const char *path, pc_error *err) {
    return pc_image_load_ex(img, path, PC_IMAGE_LOAD_RGB, err);
}
