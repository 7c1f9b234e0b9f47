// DUSt3R input preprocessing vs the golden tensors (dust3r: utils.image.load_images):
//  - pair.safetensors: img{1,2}_u8 at size 512 (Chateau 224x224 RGBA PNGs, BICUBIC upscale, 4:3 crop)
//    and s64_img{1,2}_u8 / s64_img{1,2} at size 64 (LANCZOS);
//  - ga.safetensors: ga_img_u8 / ga_img at size 64 for Chateau1, Chateau2 and two 1296x968 ScanNet JPEGs.
// Bit-exact is required for both the uint8 crop and the normalised float (tolerance 0).
#include <stdio.h>
#include <string.h>

#include "testutil.h"

// Compare our (H, W, 3) crop with golden (3, H, W) uint8 planes at `want`.
static void check_u8(const char *what, const pc_image *got, const uint8_t *want, int H, int W) {
    if (got->w != W || got->h != H || got->c != 3) {
        PC_CHECK(0, "%s: size %dx%d, want %dx%d", what, got->w, got->h, W, H);
        return;
    }
    size_t bad = 0, n = (size_t)H * W * 3;
    int worst = 0;
    for (int ch = 0; ch < 3; ch++)
        for (size_t i = 0; i < (size_t)H * W; i++) {
            int d = (int)got->data[i * 3 + ch] - (int)want[ch * (size_t)H * W + i];
            if (d < 0) d = -d;
            bad += d != 0;
            if (d > worst) worst = d;
        }
    PC_CHECK(bad == 0, "%s: %zu of %zu uint8 values differ, max |d| %d (tolerance 0)", what, bad, n, worst);
}

static void check_f32(const char *what, const pc_tensor *got, const float *want, size_t n) {
    size_t bad = 0;
    const float *g = pc_tensor_f32(got);
    for (size_t i = 0; i < n; i++) bad += memcmp(&g[i], &want[i], sizeof(float)) != 0;
    PC_CHECK(pc_tensor_numel(got) == (int64_t)n && bad == 0, "%s: %zu of %zu floats not bit-identical (tolerance 0)",
             what, bad, n);
}

static const pc_tensor *get(const pc_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                            pc_dtype dt) {
    pc_error err;
    const pc_tensor *t = NULL;
    pc_test_ok(pc_checkpoint_get(ck, name, ndim, shape, &t, &err), &err, name);
    if (t->dtype != dt || !pc_tensor_is_contiguous(t)) pc_test_fatal("%s: unexpected dtype or layout", name);
    return t;
}

int main(void) {
    char path[1024], img_path[1024];
    pc_error err;
    static const char *names[4] = {"Chateau1.png", "Chateau2.png", "scene0711_00_frame-001680.jpg",
                                   "scene0711_00_frame-001995.jpg"};

    pc_test_shared_path(path, sizeof path, "golden/dust3r/pair.safetensors");
    pc_checkpoint *ck = NULL;
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open pair.safetensors");
    for (int v = 1; v <= 2; v++) {
        char key[64], what[128];
        pc_test_shared_path(img_path, sizeof img_path, v == 1 ? "golden/dust3r/images/Chateau1.png"
                                                              : "golden/dust3r/images/Chateau2.png");
        pc_image u8 = {0};
        pc_tensor x = {0};
        // size 512: 224x224 -> BICUBIC 512x512 -> crop 512x384
        pc_test_ok(pc_dust3r_load_image(&u8, &x, img_path, 512, 0, &err), &err, "preprocess 512");
        int64_t s512[4] = {1, 3, 384, 512};
        snprintf(key, sizeof key, "img%d_u8", v);
        const pc_tensor *g = get(ck, key, 4, s512, PC_U8);
        snprintf(what, sizeof what, "dust3r load_images(size=512) %s vs %s", names[v - 1], key);
        check_u8(what, &u8, (const uint8_t *)g->data, 384, 512);
        pc_image_free(&u8);
        pc_tensor_free(&x);
        // size 64: LANCZOS 64x64 -> crop 64x48
        pc_test_ok(pc_dust3r_load_image(&u8, &x, img_path, 64, 0, &err), &err, "preprocess 64");
        int64_t s64[4] = {1, 3, 48, 64};
        snprintf(key, sizeof key, "s64_img%d_u8", v);
        g = get(ck, key, 4, s64, PC_U8);
        snprintf(what, sizeof what, "dust3r load_images(size=64) %s vs %s", names[v - 1], key);
        check_u8(what, &u8, (const uint8_t *)g->data, 48, 64);
        snprintf(key, sizeof key, "s64_img%d", v);
        g = get(ck, key, 4, s64, PC_F32);
        snprintf(what, sizeof what, "normalised input %s vs %s", names[v - 1], key);
        check_f32(what, &x, pc_tensor_f32(g), 3 * 48 * 64);
        pc_image_free(&u8);
        pc_tensor_free(&x);
    }
    pc_checkpoint_close(ck);

    pc_test_shared_path(path, sizeof path, "golden/dust3r/ga.safetensors");
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open ga.safetensors");
    int64_t sga[4] = {4, 3, 48, 64};
    const pc_tensor *gu8 = get(ck, "ga_img_u8", 4, sga, PC_U8);
    const pc_tensor *gf = get(ck, "ga_img", 4, sga, PC_F32);
    for (int i = 0; i < 4; i++) {
        char rel[256], what[160];
        snprintf(rel, sizeof rel, "golden/dust3r/images/%s", names[i]);
        pc_test_shared_path(img_path, sizeof img_path, rel);
        pc_image u8 = {0};
        pc_tensor x = {0};
        pc_test_ok(pc_dust3r_load_image(&u8, &x, img_path, 64, 0, &err), &err, "preprocess ga");
        snprintf(what, sizeof what, "dust3r load_images(size=64) %s vs ga_img_u8[%d]", names[i], i);
        check_u8(what, &u8, (const uint8_t *)gu8->data + (size_t)i * 3 * 48 * 64, 48, 64);
        snprintf(what, sizeof what, "normalised input %s vs ga_img[%d]", names[i], i);
        check_f32(what, &x, pc_tensor_f32(gf) + (size_t)i * 3 * 48 * 64, 3 * 48 * 64);
        pc_image_free(&u8);
        pc_tensor_free(&x);
    }
    pc_checkpoint_close(ck);

    // Crop/resize geometry of the other paths (checked against upstream's formulas with Pillow during
    // development): ScanNet 1296x968 at 512 -> 512x382 LANCZOS -> 512x368; at 224 -> short side 224 -> 224x224.
    pc_test_shared_path(img_path, sizeof img_path, "golden/dust3r/images/scene0711_00_frame-001680.jpg");
    pc_image u8 = {0};
    pc_test_ok(pc_dust3r_load_image(&u8, NULL, img_path, 512, 0, &err), &err, "preprocess scannet 512");
    PC_CHECK(u8.w == 512 && u8.h == 368, "ScanNet at size 512 -> %dx%d (want 512x368)", u8.w, u8.h);
    pc_image_free(&u8);
    pc_test_ok(pc_dust3r_load_image(&u8, NULL, img_path, 224, 0, &err), &err, "preprocess scannet 224");
    PC_CHECK(u8.w == 224 && u8.h == 224, "ScanNet at size 224 -> %dx%d (want 224x224)", u8.w, u8.h);
    pc_image_free(&u8);
    pc_test_shared_path(img_path, sizeof img_path, "golden/dust3r/images/Chateau1.png");
    pc_test_ok(pc_dust3r_load_image(&u8, NULL, img_path, 512, 1, &err), &err, "preprocess square_ok");
    PC_CHECK(u8.w == 512 && u8.h == 512, "Chateau at size 512, square_ok -> %dx%d (want 512x512)", u8.w, u8.h);
    pc_image_free(&u8);
    return pc_test_finish();
}
