// Internal declarations shared by the image sources (src/io/image*.c, exif.c, resample.c).
#ifndef PC_IO_IMAGE_INTERNAL_H
#define PC_IO_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "posecrafter/image.h"

// Decoded file before orientation / conversion: 8-bit, c = 1..4, plus the orientation found in the
// file's metadata (0 when none).
typedef struct pc_image_decoded {
    pc_image img;
    int orientation;
} pc_image_decoded;

// Checks w, h against PC_IMAGE_MAX_SIDE and w*h*c against PC_IMAGE_MAX_BYTES.
pc_status pc_image_check_size(const char *name, int64_t w, int64_t h, int c, pc_error *err);

// Decoders; name is for messages. Palette PNGs with tRNS come out RGBA.
pc_status pc_png_decode(pc_image_decoded *out, const uint8_t *data, size_t n, const char *name,
                        pc_error *err);
pc_status pc_jpeg_decode(pc_image_decoded *out, const uint8_t *data, size_t n, const char *name,
                         pc_error *err);
int pc_png_signature(const uint8_t *data, size_t n);
int pc_jpeg_signature(const uint8_t *data, size_t n);

// "tiff:Orientation" value in an XMP packet (PIL's regex tiff:Orientation(="|>)([0-9])); 0 when absent.
int pc_xmp_orientation(const char *xmp, size_t n);

#endif
