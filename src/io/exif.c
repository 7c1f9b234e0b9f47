// EXIF / XMP orientation, read the way Pillow 9.4 reads it for ImageOps.exif_transpose:
// Image.Exif.load (TIFF header, IFD0 only) and the XMP fallback regex of Image.getexif.
// Every offset comes from the file, so each read is checked against the block length.
#include <string.h>

#include "io/image_internal.h"

static unsigned pc_exif_u16(const uint8_t *p, int be) {
    return be ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t pc_exif_u32(const uint8_t *p, int be) {
    return be ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
              : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

int pc_exif_orientation(const uint8_t *exif, size_t n) {
    if (!exif) return 0;
    if (n >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) {
        exif += 6;
        n -= 6;
    }
    if (n < 8) return 0;
    int be;
    if (memcmp(exif, "II", 2) == 0)
        be = 0;
    else if (memcmp(exif, "MM", 2) == 0)
        be = 1;
    else
        return 0;
    // Pillow accepts the classic TIFF magic 42 (and BigTIFF 43, which EXIF never uses).
    if (pc_exif_u16(exif + 2, be) != 42) return 0;
    uint32_t ifd = pc_exif_u32(exif + 4, be);
    if ((size_t)ifd > n || n - ifd < 2) return 0;
    unsigned count = pc_exif_u16(exif + ifd, be);
    size_t pos = (size_t)ifd + 2;
    for (unsigned i = 0; i < count; i++, pos += 12) {
        if (n - pos < 12 || pos > n) return 0;  // truncated directory
        const uint8_t *e = exif + pos;
        if (pc_exif_u16(e, be) != 0x0112) continue;
        unsigned type = pc_exif_u16(e + 2, be);
        uint32_t cnt = pc_exif_u32(e + 4, be);
        if (cnt != 1) return 0;  // a tuple value matches no transpose method in PIL
        unsigned v;
        if (type == 3)
            v = pc_exif_u16(e + 8, be);  // SHORT, stored inline
        else if (type == 4)
            v = pc_exif_u32(e + 8, be);  // LONG, stored inline
        else
            return 0;
        return v >= 1 && v <= 8 ? (int)v : 0;
    }
    return 0;
}

int pc_xmp_orientation(const char *xmp, size_t n) {
    static const char key[] = "tiff:Orientation";
    const size_t kl = sizeof(key) - 1;
    if (!xmp) return 0;
    for (size_t i = 0; i + kl < n; i++) {
        if (memcmp(xmp + i, key, kl) != 0) continue;
        size_t j = i + kl;
        if (j + 1 < n && xmp[j] == '=' && xmp[j + 1] == '"')
            j += 2;
        else if (xmp[j] == '>')
            j += 1;
        else
            continue;
        if (j < n && xmp[j] >= '0' && xmp[j] <= '9') {
            int v = xmp[j] - '0';
            return v >= 1 && v <= 8 ? v : 0;
        }
    }
    return 0;
}
