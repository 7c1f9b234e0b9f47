// DynamiCrafter load_data_prompts transform (pc_interp_preprocess): Resize(min(H, W)) with PIL bilinear, then
// CenterCrop((H, W)), which zero-pads sides that are too small (torchvision), then ToTensor + Normalize(0.5).
// Synthetic images; the resampler itself is Pillow-exact and tested in test_image.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void fill(pc_image *im, int w, int h, uint32_t seed) {
    pc_error err;
    pc_test_ok(pc_image_alloc(im, w, h, 3, &err), &err, "alloc");
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        im->data[i] = (uint8_t)(64 + (seed >> 25));  // 64..191: never black
    }
}

int main(void) {
    pc_error err;
    pc_image src = {0}, out = {0}, ref = {0};
    // 4:3 input 64x48 to 64x32 (W x H): Resize(32) -> 42x32 (int(32 * 64 / 48) = 42), pad 11 + 11 columns
    fill(&src, 64, 48, 1);
    float *x = malloc(sizeof(float) * 3 * 32 * 64);
    pc_test_ok(pc_interp_preprocess(&out, x, &src, 32, 64, 0, &err), &err, "preprocess 4:3 pad");
    pc_test_ok(pc_image_resize(&ref, &src, 42, 32, PC_RESAMPLE_BILINEAR, &err), &err, "reference resize");
    int ok = out.w == 64 && out.h == 32 && out.c == 3, black = 1, same = 1;
    for (int y = 0; ok && y < 32; y++)
        for (int c = 0; c < 64; c++)
            for (int k = 0; k < 3; k++) {
                const uint8_t v = out.data[(y * 64 + c) * 3 + k];
                if (c < 11 || c >= 53)
                    black &= v == 0;
                else
                    same &= v == ref.data[(y * 42 + c - 11) * 3 + k];
            }
    PC_CHECK(ok && black && same, "4:3 -> 42x32 resized, zero-padded 11 | 42 | 11 columns (torchvision CenterCrop)");
    PC_CHECK(
        x[0] == -1.0f && x[11] == (((float)out.data[11 * 3] / 255.0f) - 0.5f) / 0.5f && x[2 * 32 * 64 + 63] == -1.0f,
        "x = (u8 / 255 - 0.5) / 0.5, padding = -1");
    pc_image_free(&ref);
    pc_image_free(&src);

    // 16:9 input 160x90 to 64x32: Resize(32) -> int(32 * 160 / 90) = 56 < 64: pad 4 + 4
    fill(&src, 160, 90, 2);
    pc_test_ok(pc_interp_preprocess(&out, NULL, &src, 32, 64, 0, &err), &err, "preprocess 16:9");
    PC_CHECK(out.data[0] == 0 && out.data[(4 * 1) * 3] != 0 && out.data[60 * 3] == 0 && out.data[59 * 3] != 0 &&
                 out.data[3 * 3] == 0,
             "16:9 at 64x32: 56 wide, 4 + 4 black columns");
    pc_image_free(&src);

    // wide input 200x50 to 64x32: Resize -> 128x32, crop left = round((128 - 64) / 2) = 32
    fill(&src, 200, 50, 3);
    pc_test_ok(pc_interp_preprocess(&out, NULL, &src, 32, 64, 0, &err), &err, "preprocess wide");
    pc_test_ok(pc_image_resize(&ref, &src, 128, 32, PC_RESAMPLE_BILINEAR, &err), &err, "reference resize wide");
    same = 1;
    for (int y = 0; y < 32; y++) same &= !memcmp(out.data + y * 64 * 3, ref.data + (y * 128 + 32) * 3, 64 * 3);
    PC_CHECK(same, "wide: 128x32 centre crop at x = 32");
    pc_image_free(&ref);

    // short side already the target: no resize; odd excess 65 - 64 = 1 -> round(0.5) = 0 (half to even)
    pc_image_free(&src);
    fill(&src, 65, 32, 4);
    pc_test_ok(pc_interp_preprocess(&out, NULL, &src, 32, 64, 0, &err), &err, "preprocess 65x32");
    same = 1;
    for (int y = 0; y < 32; y++) same &= !memcmp(out.data + y * 64 * 3, src.data + y * 65 * 3, 64 * 3);
    PC_CHECK(same, "65x32: no resize, crop_left = round(0.5) = 0");

    // cover: 4:3 fills the frame, no black
    pc_image_free(&src);
    fill(&src, 64, 48, 5);
    pc_test_ok(pc_interp_preprocess(&out, NULL, &src, 32, 64, 1, &err), &err, "preprocess cover");
    black = 0;
    for (int i = 0; i < 64 * 32 * 3; i++) black |= out.data[i] == 0;
    PC_CHECK(out.w == 64 && out.h == 32 && !black, "cover: 64x32 without padding");

    PC_CHECK(pc_interp_preprocess(&out, NULL, &src, 0, 64, 0, &err) == PC_ERR_ARG, "H = 0 refused");
    pc_image_free(&src);
    pc_image_free(&out);
    free(x);
    return pc_test_finish();
}
