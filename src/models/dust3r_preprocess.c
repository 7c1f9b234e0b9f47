// DUSt3R / MASt3R input preprocessing (dust3r.utils.image.load_images): resize the long side (Python's
// rounding, Pillow-exact LANCZOS / BICUBIC through io's resampler), centre crop to multiples of 16, and the
// torchvision normalisation. Beside its model: io decodes and resamples, it knows no model.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/dust3r.h"
#include "posecrafter/image.h"

pc_status pc_dust3r_normalize(pc_tensor *out_x, const pc_image *rgb, pc_error *err) {
    if (!out_x || !rgb || !rgb->data || rgb->c != 3)
        return pc_err(err, PC_ERR_ARG, "pc_dust3r_normalize: need an RGB image");
    int64_t shape[4] = {1, 3, rgb->h, rgb->w};
    pc_status st = pc_tensor_alloc(out_x, PC_F32, 4, shape, err);
    if (st != PC_OK) return st;
    float *x = pc_tensor_f32(out_x);  // (1, 3, H, W)
    size_t hw = (size_t)rgb->w * rgb->h;
    // torchvision ToTensor (u8 -> float32 / 255) then Normalize(0.5, 0.5): (v - 0.5) / 0.5,
    // each op rounded to float32.
    for (int ch = 0; ch < 3; ch++) {
        for (size_t i = 0; i < hw; i++) {
            float v = (float)rgb->data[i * 3 + ch] / 255.0f;
            v = v - 0.5f;
            x[ch * hw + i] = v / 0.5f;
        }
    }
    return PC_OK;
}

// Python's int(round(a / b)) for integers: true division (correctly rounded double), then round half
// to even.
static int64_t pc_py_round_div(int64_t a, int64_t b) { return (int64_t)nearbyint((double)a / (double)b); }

// dust3r: _resize_pil_image(img, long_edge_size)
static pc_status pc_dust3r_resize_long(pc_image *out, const pc_image *in, int64_t long_edge, pc_error *err) {
    int S = in->w > in->h ? in->w : in->h;
    pc_resample f = S > long_edge ? PC_RESAMPLE_LANCZOS : PC_RESAMPLE_BICUBIC;
    int64_t nw = pc_py_round_div((int64_t)in->w * long_edge, S);
    int64_t nh = pc_py_round_div((int64_t)in->h * long_edge, S);
    if (nw < 1 || nh < 1 || nw > PC_IMAGE_MAX_SIDE || nh > PC_IMAGE_MAX_SIDE)
        return pc_err(err, PC_ERR_ARG, "dust3r preprocess: %dx%d image cannot be resized to long side %lld",
                      in->w, in->h, (long long)long_edge);
    return pc_image_resize(out, in, (int)nw, (int)nh, f, err);
}

pc_status pc_dust3r_preprocess(pc_image *out_u8, pc_tensor *out_x, const pc_image *rgb, int size, int square_ok,
                               pc_error *err) {
    if (!out_u8 || !rgb || !rgb->data || rgb->c != 3)
        return pc_err(err, PC_ERR_ARG, "dust3r preprocess: need an RGB image");
    if (size < 16 || size > PC_IMAGE_MAX_SIDE) return pc_err(err, PC_ERR_ARG, "dust3r preprocess: bad size %d", size);
    memset(out_u8, 0, sizeof *out_u8);
    int W1 = rgb->w, H1 = rgb->h;
    int64_t long_edge = size;
    if (size == 224) {
        // resize the short side to 224: long side = round(224 * max(W1/H1, H1/W1))
        double r1 = (double)W1 / H1, r2 = (double)H1 / W1;
        double v = (double)size * (r1 > r2 ? r1 : r2);
        if (!(v < 1e9)) return pc_err(err, PC_ERR_ARG, "dust3r preprocess: extreme aspect ratio %dx%d", W1, H1);
        long_edge = (int64_t)nearbyint(v);
    }
    pc_image rs = {0};
    pc_status st = pc_dust3r_resize_long(&rs, rgb, long_edge, err);
    if (st != PC_OK) return st;
    int W = rs.w, H = rs.h;
    int cx = W / 2, cy = H / 2;
    int x0, y0, x1, y1;
    if (size == 224) {
        int half = cx < cy ? cx : cy;
        x0 = cx - half, y0 = cy - half, x1 = cx + half, y1 = cy + half;
    } else {
        int halfw = ((2 * cx) / 16) * 8, halfh = ((2 * cy) / 16) * 8;
        // halfw is a multiple of 8, so Python's 3*halfw/4 is an exact integer.
        if (!square_ok && W == H) halfh = 3 * halfw / 4;
        x0 = cx - halfw, y0 = cy - halfh, x1 = cx + halfw, y1 = cy + halfh;
    }
    if (x1 <= x0 || y1 <= y0) {
        pc_image_free(&rs);
        return pc_err(err, PC_ERR_ARG, "dust3r preprocess: %dx%d image is too small for size %d (crop is empty)",
                      W1, H1, size);
    }
    st = pc_image_crop(out_u8, &rs, x0, y0, x1, y1, err);
    pc_image_free(&rs);
    if (st != PC_OK) return st;
    if (out_x) {
        st = pc_dust3r_normalize(out_x, out_u8, err);
        if (st != PC_OK) pc_image_free(out_u8);
    }
    return st;
}

pc_status pc_dust3r_load_image(pc_image *out_u8, pc_tensor *out_x, const char *path, int size, int square_ok,
                               pc_error *err) {
    pc_image rgb = {0};
    pc_status st = pc_image_load(&rgb, path, err);
    if (st != PC_OK) return st;
    st = pc_dust3r_preprocess(out_u8, out_x, &rgb, size, square_ok, err);
    pc_image_free(&rgb);
    if (st != PC_OK) return pc_err_prefix(err, st, "%s: ", path);
    return PC_OK;
}
