/* posecrafter public API: images (PNG / JPEG in, PNG out), Pillow-exact
 * resampling and DUSt3R's input preprocessing.
 *
 * An image is 8-bit, interleaved, row-major: data[(y * w + x) * c + ch],
 * shape (h, w, c). It owns its pixels (pc_image_free). Files are decoded with
 * Pillow 9.4's semantics, because DUSt3R loads its inputs with PIL:
 *
 *     pc_image img = {0};
 *     pc_error err;
 *     // RGB8, EXIF orientation applied (PIL.ImageOps.exif_transpose + convert('RGB'))
 *     if (pc_image_load(&img, "a.jpg", &err) != PC_OK) { puts(err.msg); return 1; }
 *     pc_image small = {0};
 *     pc_image_resize(&small, &img, 512, 384, PC_RESAMPLE_LANCZOS, &err);   // == PIL Image.resize
 *     pc_image_save_png(&small, "small.png", &err);
 *     pc_image_free(&small);
 *     pc_image_free(&img);
 *
 * DUSt3R's input preprocessing (pc_dust3r_load_image) is declared in posecrafter/dust3r.h.
 */
#ifndef POSECRAFTER_IMAGE_H
#define POSECRAFTER_IMAGE_H
#include <stddef.h>
#include <stdint.h>
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted side (pixels) and pixel buffer (bytes) of a decoded image. */
#define PC_IMAGE_MAX_SIDE 65535
#define PC_IMAGE_MAX_BYTES ((size_t)1 << 31)

typedef struct pc_image {
    int w, h, c;    /* width, height, channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) */
    uint8_t *data;  /* (h, w, c), owned */
} pc_image;

typedef enum pc_resample {
    PC_RESAMPLE_NEAREST = 0,
    PC_RESAMPLE_BILINEAR,
    PC_RESAMPLE_BICUBIC,  /* Keys cubic, a = -0.5 */
    PC_RESAMPLE_LANCZOS   /* a = 3 */
} pc_resample;

/* Load flags. */
enum {
    PC_IMAGE_LOAD_RGB = 0,        /* default: RGB8 like PIL .convert('RGB'): alpha dropped (not composited),
                                     gray replicated, palette expanded, CMYK converted */
    PC_IMAGE_LOAD_KEEP = 1 << 0,  /* keep gray / gray+alpha / RGB / RGBA channels as stored (8-bit; palette
                                     expands to RGB, or RGBA when it has transparency; CMYK -> RGB) */
    PC_IMAGE_LOAD_NO_EXIF = 1 << 1 /* do not apply the EXIF orientation */
};

/* Owned, zero-filled image; c in 1..4. */
pc_status pc_image_alloc(pc_image *img, int w, int h, int c, pc_error *err);
/* Safe on a zeroed struct; leaves it zeroed. */
void pc_image_free(pc_image *img);

/* Decode a PNG or JPEG (detected from the content, not the name). 16-bit samples keep their high byte,
 * except 16-bit gray, which PIL reads as mode I and clips to 255 on convert('RGB') (so does this).
 * Orientation comes from EXIF (JPEG APP1, PNG eXIf / "Raw profile type exif") or XMP tiff:Orientation
 * (PNG), as PIL.ImageOps.exif_transpose does. Errors name the file. */
pc_status pc_image_load(pc_image *img, const char *path, pc_error *err);
pc_status pc_image_load_ex(pc_image *img, const char *path, int flags, pc_error *err);
/* Same from memory; name is used in error messages. */
pc_status pc_image_load_mem(pc_image *img, const void *data, size_t n, const char *name, int flags,
                            pc_error *err);

/* 8-bit PNG, c = 1..4 (gray, gray+alpha, RGB, RGBA). Written to "<path>.tmp" then renamed. */
pc_status pc_image_save_png(const pc_image *img, const char *path, pc_error *err);

/* PIL Image.resize(size, filter) for 8-bit images of any channel count (channels are resampled
 * independently, so RGBA is NOT premultiplied as PIL does for mode RGBA: convert first if that matters).
 * Reproduces Pillow 9.4's separable fixed-point resampler bit for bit (horizontal pass then vertical,
 * 22 precision bits, uint8 rounding/clipping between the passes). Same size -> copy. */
pc_status pc_image_resize(pc_image *out, const pc_image *in, int w, int h, pc_resample filter, pc_error *err);

/* PIL Image.crop((x0, y0, x1, y1)); the box must lie inside the image. */
pc_status pc_image_crop(pc_image *out, const pc_image *in, int x0, int y0, int x1, int y1, pc_error *err);

/* Apply EXIF orientation 1..8 like PIL.ImageOps.exif_transpose (1 or other values: copy). */
pc_status pc_image_orient(pc_image *out, const pc_image *in, int orientation, pc_error *err);

/* Channel conversion like PIL .convert('RGB') (1, 2, 3, 4 channels -> 3). */
pc_status pc_image_to_rgb(pc_image *out, const pc_image *in, pc_error *err);

/* EXIF orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block (with or without the
 * "Exif\0\0" prefix). Returns 1..8, or 0 when absent or malformed. Bounded: never reads past n. */
int pc_exif_orientation(const uint8_t *exif, size_t n);

#ifdef __cplusplus
}
#endif
#endif
