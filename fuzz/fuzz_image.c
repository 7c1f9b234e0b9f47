// libFuzzer target: PNG / JPEG decoders (libpng, libjpeg-turbo error paths, EXIF/XMP parsing,
// orientation, RGB conversion) and a small resample of whatever decodes.
// Build: cmake -DPC_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_image -max_len=65536 corpus/
#include <stddef.h>
#include <stdint.h>

#include "posecrafter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Declared pixel count of a PNG (IHDR) or JPEG (first SOFn) header; 0 when not found. A 500-byte JPEG can
// legally decode to 60 Mpx (the entropy decoder fills missing data), which is valid but only slows the
// fuzzer down, so such inputs are skipped.
static uint64_t declared_pixels(const uint8_t *d, size_t n) {
    if (n >= 24 && d[0] == 0x89 && d[1] == 'P')
        return (uint64_t)((uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19]) *
               ((uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23]);
    for (size_t i = 2; i + 8 < n; i++) {
        if (d[i] != 0xFF) continue;
        uint8_t m = d[i + 1];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            return (uint64_t)(d[i + 5] << 8 | d[i + 6]) * (uint64_t)(d[i + 7] << 8 | d[i + 8]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pc_error err;
    pc_image img = {0};
    // The EXIF parser on raw bytes too (bounded reads).
    (void)pc_exif_orientation(data, size);
    if (declared_pixels(data, size) > (1u << 22)) return 0;
    int flags = size > 0 && (data[size - 1] & 1) ? PC_IMAGE_LOAD_KEEP : PC_IMAGE_LOAD_RGB;
    if (pc_image_load_mem(&img, data, size, "fuzz", flags, &err) == PC_OK) {
        // Keep each input cheap: only resample small decodes.
        if ((size_t)img.w * (size_t)img.h <= 1u << 16) {
            pc_image out = {0};
            int w = 1 + img.w / 3, h = 1 + img.h * 2;
            if (pc_image_resize(&out, &img, w, h, (pc_resample)(size % 4), &err) == PC_OK) pc_image_free(&out);
        }
        pc_image_free(&img);
    }
    return 0;
}
