// Pillow-exact image resampling (PIL Image.resize, Pillow 9.4).
//
// Pillow resizes 8-bit images with a separable convolution: a horizontal pass over the rows the vertical
// pass needs, written to a uint8 image (rounded and clipped), then a vertical pass. Filter weights are
// computed in double, normalised per output pixel, then converted to fixed point with 22 fractional bits
// (32 bits - 8 for the value - 2 for overshoot). Accumulators start at half an LSB and the result is
// the integer part of (sum >> 22), clipped to 0..255. We follow the same arithmetic step for step so that
// the output is bit-identical (mirrors Pillow libImaging/Resample.c: precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc/Vertical_8bpc, ImagingResampleInner).
// NEAREST mirrors Pillow's affine nearest path (ImagingScaleAffine): source index = trunc of an
// accumulated coordinate that starts at scale/2.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/image_internal.h"

#define PC_RS_PRECISION_BITS (32 - 8 - 2)
#define PC_RS_PI 3.14159265358979323846  // M_PI (not declared in strict C11)

typedef double (*pc_rs_filter_fn)(double x);

static double pc_rs_bilinear(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

// Keys cubic convolution with a = -0.5 (Pillow bicubic_filter).
static double pc_rs_bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double pc_rs_sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * PC_RS_PI;
    return sin(x) / x;
}

// Truncated sinc, a = 3 (Pillow lanczos_filter).
static double pc_rs_lanczos(double x) {
    if (-3.0 <= x && x < 3.0) return pc_rs_sinc(x) * pc_rs_sinc(x / 3);
    return 0.0;
}

// Coefficients for one axis: for output index i, the taps are k[i*ksize + 0 .. n_i) over input
// indices bounds[2i] .. bounds[2i] + bounds[2i+1]. Returns ksize, 0 on allocation failure.
static int pc_rs_coeffs(int in_size, float in0, float in1, int out_size, pc_rs_filter_fn filter,
                        double filter_support, int **bounds_out, int32_t **kk_out) {
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filter_support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    size_t nk = (size_t)out_size * (size_t)ksize;
    double *pre = malloc(nk * sizeof(double));
    int32_t *kk = malloc(nk * sizeof(int32_t));
    int *bounds = malloc((size_t)out_size * 2 * sizeof(int));
    if (!pre || !kk || !bounds) {
        free(pre);
        free(kk);
        free(bounds);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);  // C truncation, as upstream
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &pre[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    // normalize_coeffs_8bpc: round half away from zero to 22 fractional bits.
    for (size_t i = 0; i < nk; i++) {
        if (pre[i] < 0)
            kk[i] = (int32_t)(-0.5 + pre[i] * (1 << PC_RS_PRECISION_BITS));
        else
            kk[i] = (int32_t)(0.5 + pre[i] * (1 << PC_RS_PRECISION_BITS));
    }
    free(pre);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static inline uint8_t pc_rs_clip8(int32_t v) {
    int32_t s = v >> PC_RS_PRECISION_BITS;  // arithmetic shift = floor, as upstream's lookup index
    return (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
}

// out: (rows, out_w, c) from in rows [row0, row0 + rows) of (in_h, in_w, c).
static void pc_rs_horizontal(uint8_t *out, int out_w, const uint8_t *in, int in_w, int row0, int rows, int c,
                             int ksize, const int *bounds, const int32_t *kk) {
    for (int yy = 0; yy < rows; yy++) {
        const uint8_t *src = in + (size_t)(yy + row0) * in_w * c;
        uint8_t *dst = out + (size_t)yy * out_w * c;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = bounds[xx * 2], xn = bounds[xx * 2 + 1];
            const int32_t *k = &kk[(size_t)xx * ksize];
            for (int ch = 0; ch < c; ch++) {
                int32_t ss = 1 << (PC_RS_PRECISION_BITS - 1);
                const uint8_t *p = src + (size_t)xmin * c + ch;
                for (int x = 0; x < xn; x++) ss += (int32_t)p[(size_t)x * c] * k[x];
                dst[(size_t)xx * c + ch] = pc_rs_clip8(ss);
            }
        }
    }
}

// out: (out_h, w, c); taps of output row yy read in rows bounds[2yy] - row0 ... of `in` (w * c per row).
static void pc_rs_vertical(uint8_t *out, int out_h, const uint8_t *in, int w, int c, int row0, int ksize,
                           const int *bounds, const int32_t *kk) {
    size_t stride = (size_t)w * c;
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = bounds[yy * 2] - row0, yn = bounds[yy * 2 + 1];
        const int32_t *k = &kk[(size_t)yy * ksize];
        uint8_t *dst = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t ss = 1 << (PC_RS_PRECISION_BITS - 1);
            const uint8_t *p = in + (size_t)ymin * stride + i;
            for (int y = 0; y < yn; y++) ss += (int32_t)p[(size_t)y * stride] * k[y];
            dst[i] = pc_rs_clip8(ss);
        }
    }
}

// Pillow's nearest resize = affine transform with a[0] = in_w / out_w, a[4] = in_h / out_h:
// the coordinate starts at a/2 and is advanced by repeated addition (ImagingScaleAffine).
static void pc_rs_nearest(pc_image *out, const pc_image *in) {
    int c = in->c;
    double ax = (double)in->w / out->w, ay = (double)in->h / out->h;
    int *xin = malloc((size_t)out->w * sizeof(int));
    double xo = ax * 0.5;
    for (int x = 0; x < out->w; x++) {
        int xi = xo < 0.0 ? -1 : (int)xo;
        xin[x] = xi < 0 ? 0 : xi >= in->w ? in->w - 1 : xi;
        xo += ax;
    }
    double yo = ay * 0.5;
    for (int y = 0; y < out->h; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        yi = yi < 0 ? 0 : yi >= in->h ? in->h - 1 : yi;
        const uint8_t *src = in->data + (size_t)yi * in->w * c;
        uint8_t *dst = out->data + (size_t)y * out->w * c;
        for (int x = 0; x < out->w; x++) memcpy(dst + (size_t)x * c, src + (size_t)xin[x] * c, (size_t)c);
        yo += ay;
    }
    free(xin);
}

pc_status pc_image_resize(pc_image *out, const pc_image *in, int w, int h, pc_resample filter, pc_error *err) {
    if (!out || !in || !in->data || in->w <= 0 || in->h <= 0 || in->c < 1 || in->c > 4)
        return pc_err(err, PC_ERR_ARG, "pc_image_resize: invalid input image");
    if (w <= 0 || h <= 0 || w > PC_IMAGE_MAX_SIDE || h > PC_IMAGE_MAX_SIDE)
        return pc_err(err, PC_ERR_ARG, "pc_image_resize: invalid output size %dx%d", w, h);
    pc_rs_filter_fn fn;
    double support;
    switch (filter) {
    case PC_RESAMPLE_NEAREST: fn = NULL; support = 0; break;
    case PC_RESAMPLE_BILINEAR: fn = pc_rs_bilinear; support = 1.0; break;
    case PC_RESAMPLE_BICUBIC: fn = pc_rs_bicubic; support = 2.0; break;
    case PC_RESAMPLE_LANCZOS: fn = pc_rs_lanczos; support = 3.0; break;
    default: return pc_err(err, PC_ERR_ARG, "pc_image_resize: unknown filter %d", (int)filter);
    }
    pc_image res = {0};
    pc_status st = pc_image_alloc(&res, w, h, in->c, err);
    if (st != PC_OK) return st;
    // Same size: PIL returns a copy.
    if (w == in->w && h == in->h) {
        memcpy(res.data, in->data, (size_t)w * h * in->c);
        *out = res;
        return PC_OK;
    }
    if (!fn) {
        pc_rs_nearest(&res, in);
        *out = res;
        return PC_OK;
    }
    int c = in->c;
    int need_h = w != in->w, need_v = h != in->h;
    int *bv = NULL, *bh = NULL;
    int32_t *kv = NULL, *kh = NULL;
    uint8_t *tmp = NULL;
    int ksv = pc_rs_coeffs(in->h, 0.0f, (float)in->h, h, fn, support, &bv, &kv);
    if (!ksv) goto oom;
    // Rows of the source that the vertical pass reads.
    int row_first = bv[0];
    int row_last = bv[h * 2 - 2] + bv[h * 2 - 1];
    const uint8_t *vin = in->data;
    int vin_w = in->w, vrow0 = 0;
    if (need_h) {
        int ksh = pc_rs_coeffs(in->w, 0.0f, (float)in->w, w, fn, support, &bh, &kh);
        if (!ksh) goto oom;
        int rows = row_last - row_first;
        tmp = malloc((size_t)rows * w * c + 1);
        if (!tmp) goto oom;
        pc_rs_horizontal(tmp, w, in->data, in->w, row_first, rows, c, ksh, bh, kh);
        vin = tmp;
        vin_w = w;
        vrow0 = row_first;
    }
    if (need_v) {
        pc_rs_vertical(res.data, h, vin, vin_w, c, vrow0, ksv, bv, kv);
    } else {
        memcpy(res.data, vin, (size_t)w * h * c);  // need_h only: rows are all of them
    }
    free(bv);
    free(kv);
    free(bh);
    free(kh);
    free(tmp);
    *out = res;
    return PC_OK;
oom:
    free(bv);
    free(kv);
    free(bh);
    free(kh);
    free(tmp);
    pc_image_free(&res);
    return pc_err(err, PC_ERR_MEMORY, "pc_image_resize: out of memory (%dx%d -> %dx%d)", in->w, in->h, w, h);
}
