// JPEG decode with libjpeg(-turbo), as Pillow 9.4 decodes it (JpegImagePlugin / JpegDecode.c):
// default IDCT (islow) and fancy upsampling; 1 component -> gray, 3 -> RGB (libjpeg's colour
// conversion), 4 -> CMYK with Adobe (inverted) polarity, converted to RGB with PIL's cmyk2rgb.
// The first APP1 segment starting with "Exif\0" gives the orientation.
// A premature end of data is an error (PIL: "image file is truncated"); other libjpeg warnings are
// ignored, as PIL does. libjpeg errors longjmp back; all state that must be freed is in a heap context.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/common.h"
#include "io/image_internal.h"

typedef struct pc_jpeg_ctx {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int created;
    uint8_t *row;  // one decoded scanline (CMYK path)
    pc_image img;
    int orientation;
    pc_status status;
} pc_jpeg_ctx;

int pc_jpeg_signature(const uint8_t *data, size_t n) {
    return n >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

static void pc_jpeg_error_exit(j_common_ptr cinfo) {
    pc_jpeg_ctx *c = (pc_jpeg_ctx *)cinfo->client_data;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jmp, 1);
}

static void pc_jpeg_emit(j_common_ptr cinfo, int level) {
    // level -1: warning. Truncated data is fatal for us (PIL refuses truncated images by default).
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) pc_jpeg_error_exit(cinfo);
}

static void pc_jpeg_output(j_common_ptr cinfo) { (void)cinfo; }

// PIL ImagingConvert cmyk2rgb: nk = 255 - k; channel = clip(nk - round(c * nk / 255)).
static inline uint8_t pc_cmyk_channel(int cc, int nk) {
    int tmp = cc * nk + 128;
    int m = ((tmp >> 8) + tmp) >> 8;
    int v = nk - m;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int pc_jpeg_decode_inner(pc_jpeg_ctx *c, const uint8_t *data, size_t n, const char *name,
                                pc_error *err) {
    struct jpeg_decompress_struct *ci = &c->cinfo;
    if (setjmp(c->jmp)) return 1;
    jpeg_create_decompress(ci);
    c->created = 1;
    ci->client_data = c;
    // Bounds libjpeg's own buffers (progressive coefficient arrays); libjpeg-turbo's jmemnobs honours it.
    ci->mem->max_memory_to_use = (long)PC_IMAGE_MAX_BYTES;
    jpeg_mem_src(ci, data, (unsigned long)n);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    int out_c;
    if (ci->num_components == 1) {
        ci->out_color_space = JCS_GRAYSCALE;
        out_c = 1;
    } else if (ci->num_components == 3) {
        ci->out_color_space = JCS_RGB;
        out_c = 3;
    } else if (ci->num_components == 4) {
        ci->out_color_space = JCS_CMYK;
        out_c = 3;
    } else {
        c->status = pc_err(err, PC_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported", name,
                           ci->num_components);
        return 2;
    }
    if ((c->status = pc_image_check_size(name, ci->image_width, ci->image_height, out_c, err)) != PC_OK)
        return 2;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && memcmp(m->data, "Exif\0", 5) == 0) {
            c->orientation = pc_exif_orientation(m->data, m->data_length);
            break;  // PIL keeps the first Exif segment only
        }
    }
    jpeg_start_decompress(ci);
    if ((int)ci->output_width != (int)ci->image_width || ci->output_components != ci->num_components) {
        c->status = pc_err(err, PC_ERR_FORMAT, "%s: unexpected JPEG output layout", name);
        return 2;
    }
    int w = (int)ci->output_width, h = (int)ci->output_height;
    if ((c->status = pc_image_alloc(&c->img, w, h, out_c, err)) != PC_OK) return 2;
    if (ci->out_color_space == JCS_CMYK) {
        if (!(c->row = malloc((size_t)w * 4))) {
            c->status = pc_err(err, PC_ERR_MEMORY, "%s: out of memory", name);
            return 2;
        }
    }
    while (ci->output_scanline < ci->output_height) {
        int y = (int)ci->output_scanline;
        uint8_t *dst = c->img.data + (size_t)y * w * out_c;
        JSAMPROW rp = ci->out_color_space == JCS_CMYK ? c->row : dst;
        if (jpeg_read_scanlines(ci, &rp, 1) != 1) {
            snprintf(c->msg, sizeof c->msg, "no scanline decoded");
            return 1;
        }
        if (ci->out_color_space == JCS_CMYK) {
            // PIL reads Adobe CMYK inverted ("CMYK;I"), so stored s gives c = 255 - s and nk = s_k.
            for (int x = 0; x < w; x++) {
                const uint8_t *s = c->row + (size_t)x * 4;
                int nk = s[3];
                for (int k = 0; k < 3; k++) dst[x * 3 + k] = pc_cmyk_channel(255 - s[k], nk);
            }
        }
    }
    jpeg_finish_decompress(ci);
    return 0;
}

pc_status pc_jpeg_decode(pc_image_decoded *out, const uint8_t *data, size_t n, const char *name,
                         pc_error *err) {
    pc_jpeg_ctx *c = calloc(1, sizeof *c);
    if (!c) return pc_err(err, PC_ERR_MEMORY, "%s: out of memory", name);
    c->cinfo.err = jpeg_std_error(&c->jerr);
    c->jerr.error_exit = pc_jpeg_error_exit;
    c->jerr.emit_message = pc_jpeg_emit;
    c->jerr.output_message = pc_jpeg_output;
    c->cinfo.client_data = c;
    pc_status st = PC_OK;
    int r = pc_jpeg_decode_inner(c, data, n, name, err);
    if (r == 1) st = pc_err(err, PC_ERR_FORMAT, "%s: corrupt or unsupported JPEG: %s", name, c->msg);
    else if (r == 2) st = c->status;
    if (c->created) jpeg_destroy_decompress(&c->cinfo);
    free(c->row);
    if (st == PC_OK) {
        out->img = c->img;
        out->orientation = c->orientation;
    } else {
        pc_image_free(&c->img);
    }
    free(c);
    return st;
}
