// Implicit-GEMM convolution (src/core/conv_fast.c) against its reference twin pc_convf_ref and against
// pc_conv2d_ref (torch.nn.Conv2d semantics): every micro-kernel path this CPU has (scalar / AVX2 with the
// portable packer, AVX-512 with the vector packer, opt-in BF16), odd widths, channel counts that are not
// multiples of the tile, several K blocks, 1x1, stride 2 with asymmetric padding (VAE Downsample),
// 2x nearest upsampling (VAE Upsample), bias and residual (also accumulating in place), and
// bit-identical results for 1, 2 and 3 threads; the Winograd F(2x2, 3x3) path on the layers it takes.
#include "core/conv_fast.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tcase {
    const char *name;
    pc_convf_desc d;
    int bias, res;  // res: 0 none, 1 separate buffer, 2 in place (res == y)
} tcase;

static pc_convf_desc D(int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t k, int64_t s, int64_t pt, int64_t pl,
                       int64_t pb, int64_t pr, int64_t up) {
    pc_convf_desc d = {Cin, H, W, Cout, k, s, pt, pl, pb, pr, up};
    return d;
}

static void run_case(const tcase *tc, pc_pool *pools[3]) {
    pc_error err;
    const pc_convf_desc *d = &tc->d;
    int64_t OH, OW;
    pc_convf_out_size(d, &OH, &OW);
    size_t nx = (size_t)(d->Cin * d->H * d->W), ny = (size_t)(d->Cout * OH * OW);
    size_t nw = (size_t)(d->Cout * d->Cin * d->k * d->k);
    float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float)), *b = malloc((size_t)d->Cout * 4);
    float *r = malloc(ny * sizeof(float)), *want = malloc(ny * sizeof(float)), *got = malloc(ny * sizeof(float));
    float *got2 = malloc(ny * sizeof(float));
    if (!x || !w || !b || !r || !want || !got || !got2) pc_test_fatal("out of memory");
    pc_test_rng rng = {0x1234 + (uint64_t)nw};
    pc_test_fill(&rng, x, nx, 1.0f);
    pc_test_fill(&rng, w, nw, 1.0f / sqrtf((float)(d->Cin * d->k * d->k)));
    pc_test_fill(&rng, b, (size_t)d->Cout, 0.5f);
    pc_test_fill(&rng, r, ny, 1.0f);
    const float *bias = tc->bias ? b : NULL;
    pc_convf_ref(want, x, pc_wt_f32(w), bias, tc->res ? r : NULL, d);

    // the reference twin agrees with pc_conv2d_ref where that can express the conv
    if (d->up == 1 && d->pad_t == d->pad_b && d->pad_l == d->pad_r && !tc->res) {
        pc_conv2d_desc cd = pc_conv2d_make(1, d->Cin, d->H, d->W, d->Cout, d->k, d->k, d->stride, d->pad_t, d->pad_l);
        pc_conv2d_ref(got, x, pc_wt_f32(w), bias, &cd);
        char nm[160];
        snprintf(nm, sizeof(nm), "%s: pc_convf_ref vs pc_conv2d_ref", tc->name);
        pc_test_close(nm, got, want, ny, 1e-5, 1e-5);
    }

    static const pc_gemm_isa_id isas[4] = {PC_GEMM_ISA_SCALAR, PC_GEMM_ISA_AVX2, PC_GEMM_ISA_AVX512,
                                           PC_GEMM_ISA_AVX512_BF16};
    for (int ii = 0; ii < 4; ii++) {
        pc_gemm_isa_id isa = isas[ii];
        if (!pc_gemm_isa_supported(isa)) continue;
        int bf16 = isa == PC_GEMM_ISA_AVX512_BF16;
        for (int t = 0; t < 3; t++) {
            float *o = t == 0 ? got : got2;
            const float *res = NULL;
            if (tc->res == 1) res = r;
            if (tc->res == 2) {
                memcpy(o, r, ny * sizeof(float));
                res = o;
            }
            pc_test_ok(pc_convf_ex(pools[t], isa, o, x, pc_wt_f32(w), bias, res, d, NULL, 0, &err), &err, tc->name);
            if (t == 0) {
                char nm[160];
                snprintf(nm, sizeof(nm), "%s [%s]", tc->name, pc_gemm_isa_name(isa));
                // bf16: inputs and weights rounded to 8 bits of mantissa; sums of ~K terms of size ~1/sqrt(K)
                pc_test_close(nm, got, want, ny, bf16 ? 3e-2 : 2e-5, bf16 ? 3e-2 : 2e-5);
            } else {
                PC_CHECK(memcmp(got, got2, ny * sizeof(float)) == 0, "%s [%s]: %d threads bit-identical to 1 thread",
                         tc->name, pc_gemm_isa_name(isa), t + 1);
            }
        }
    }
    // Winograd F(2x2, 3x3) where it applies (else PC_ERR_UNSUPPORTED), deterministic over thread counts
    int wino = pc_gemm_isa_supported(PC_GEMM_ISA_AVX512) && d->k == 3 && d->stride == 1 && d->pad_t == 1 &&
               d->pad_l == 1 && d->pad_b == 1 && d->pad_r == 1 && d->up <= 2 && d->Cin >= 16 && d->Cout >= 16;
    for (int t = 0; t < 3; t++) {
        float *o = t == 0 ? got : got2;
        const float *res = tc->res == 1 ? r : NULL;
        if (tc->res == 2) {
            memcpy(o, r, ny * sizeof(float));
            res = o;
        }
        pc_status st = pc_convf_winograd(pools[t], o, x, pc_wt_f32(w), bias, res, d, PC_CONVF_F32, NULL, 0, &err);
        if (!wino) {
            PC_CHECK(st == PC_ERR_UNSUPPORTED, "%s: Winograd refuses this layer", tc->name);
            break;
        }
        pc_test_ok(st, &err, tc->name);
        char nm[160];
        if (t == 0) {
            snprintf(nm, sizeof(nm), "%s [winograd]", tc->name);
            pc_test_close(nm, got, want, ny, 5e-5, 5e-5);
        } else {
            PC_CHECK(memcmp(got, got2, ny * sizeof(float)) == 0, "%s [winograd]: %d threads bit-identical to 1 thread",
                     tc->name, t + 1);
        }
    }
    // bf16: Winograd where it applies (Cin <= 512), else the direct bf16 kernel; close to the reference
    if (pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16)) {
        for (int t = 0; t < 3; t++) {
            float *o = t == 0 ? got : got2;
            const float *res = tc->res == 1 ? r : NULL;
            if (tc->res == 2) {
                memcpy(o, r, ny * sizeof(float));
                res = o;
            }
            pc_test_ok(pc_convf(pools[t], o, x, pc_wt_f32(w), bias, res, d, PC_CONVF_BF16, NULL, 0, &err), &err,
                       tc->name);
            char nm[160];
            if (t == 0) {
                snprintf(nm, sizeof(nm), "%s [pc_convf bf16%s]", tc->name, wino && d->Cin <= 512 ? ", winograd" : "");
                pc_test_close(nm, got, want, ny, 3e-2, 3e-2);
            } else {
                PC_CHECK(memcmp(got, got2, ny * sizeof(float)) == 0,
                         "%s [pc_convf bf16]: %d threads bit-identical to 1 thread", tc->name, t + 1);
            }
        }
    }
    // the precision entry point: f32 is exactly Winograd where it applies, else the AUTO kernel
    pc_test_ok(pc_convf(pools[1], got, x, pc_wt_f32(w), bias, tc->res == 1 ? r : NULL, d, PC_CONVF_F32, NULL, 0, &err),
               &err, tc->name);
    if (tc->res != 2) {
        if (wino)
            pc_test_ok(pc_convf_winograd(NULL, got2, x, pc_wt_f32(w), bias, tc->res == 1 ? r : NULL, d, PC_CONVF_F32, NULL, 0,
                                                 &err),
                       &err, tc->name);
        else
            pc_test_ok(pc_convf_ex(NULL, PC_GEMM_ISA_AUTO, got2, x, pc_wt_f32(w), bias, tc->res == 1 ? r : NULL, d, NULL,
                                   0, &err),
                       &err, tc->name);
        PC_CHECK(memcmp(got, got2, ny * sizeof(float)) == 0, "%s: pc_convf(F32) bit-identical to the %s path", tc->name,
                 wino ? "Winograd" : "AUTO kernel");
    }
    free(x);
    free(w);
    free(b);
    free(r);
    free(want);
    free(got);
    free(got2);
}

int main(void) {
    pc_error err;
    pc_pool *pools[3] = {NULL, NULL, NULL};
    pc_test_ok(pc_pool_create(&pools[1], 2, &err), &err, "pool 2");
    pc_test_ok(pc_pool_create(&pools[2], 3, &err), &err, "pool 3");
    const tcase cases[] = {
        {"3x3 pad 1, 37 wide, Cout 20", D(5, 9, 37, 20, 3, 1, 1, 1, 1, 1, 1), 1, 0},
        {"3x3 pad 1, 64 wide, 2 K blocks", D(40, 6, 64, 30, 3, 1, 1, 1, 1, 1, 1), 1, 1},
        {"3x3 pad 1, Cout 3 (conv_out), residual in place", D(16, 7, 33, 3, 3, 1, 1, 1, 1, 1, 1), 0, 2},
        {"3x3 pad 1, 1 pixel wide", D(3, 5, 1, 9, 3, 1, 1, 1, 1, 1, 1), 1, 0},
        {"1x1 (nin_shortcut)", D(48, 5, 40, 17, 1, 1, 0, 0, 0, 0, 1), 1, 1},
        {"3x3 stride 2 pad (0,1,0,1) (Downsample)", D(12, 10, 70, 15, 3, 2, 0, 0, 1, 1, 1), 1, 0},
        {"3x3 stride 2 pad 1, odd size", D(7, 11, 45, 16, 3, 2, 1, 1, 1, 1, 1), 0, 1},
        {"3x3 pad 1 after 2x nearest (Upsample)", D(10, 6, 21, 14, 3, 1, 1, 1, 1, 1, 2), 1, 0},
        {"3x3 pad 1 after 2x nearest, 40 wide", D(9, 4, 40, 29, 3, 1, 1, 1, 1, 1, 2), 1, 2},
        {"5x5 pad 2 after 3x nearest (generic lanes)", D(4, 5, 13, 6, 5, 1, 2, 2, 2, 2, 3), 1, 0},
        {"3x3 stride 2 after 2x nearest (generic lanes)", D(4, 6, 19, 6, 3, 2, 1, 1, 1, 1, 2), 1, 0},
        {"4x4 stride 3 pad (2,0,1,3)", D(6, 13, 50, 11, 4, 3, 2, 0, 1, 3, 1), 1, 1},
        {"3x3 pad 1, 24->20, 9x37 (Winograd, odd sizes)", D(24, 9, 37, 20, 3, 1, 1, 1, 1, 1, 1), 1, 0},
        {"3x3 pad 1, 340->30, 6x64 (Winograd, 2 K blocks)", D(340, 6, 64, 30, 3, 1, 1, 1, 1, 1, 1), 1, 1},
        {"3x3 pad 1 after 2x nearest, 16->17, 5x21 (Winograd)", D(16, 5, 21, 17, 3, 1, 1, 1, 1, 1, 2), 1, 2},
        {"3x3 pad 1, 40->16, 1 wide (Winograd)", D(40, 7, 1, 16, 3, 1, 1, 1, 1, 1, 1), 0, 1},
        {"3x3 pad 1, 32->48, 12x80 (Winograd, 3 panels)", D(32, 12, 80, 48, 3, 1, 1, 1, 1, 1, 1), 1, 2},
        {"3x3 pad 1, 17->18, 6x40 (Winograd, odd Cin: bf16 pair padding)", D(17, 6, 40, 18, 3, 1, 1, 1, 1, 1, 1), 1, 1},
        {"3x3 pad 1, 520->16, 3x8 (Winograd f32, bf16 falls back to direct)", D(520, 3, 8, 16, 3, 1, 1, 1, 1, 1, 1), 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) run_case(&cases[i], pools);

    // bad descriptors are refused, not crashed on
    float y[4] = {0}, xv[4] = {0}, wv[4] = {0};
    pc_convf_desc bad = D(1, 1, 1, 1, 3, 1, 0, 0, 0, 0, 1);  // kernel larger than the input
    PC_CHECK(pc_convf(NULL, y, xv, pc_wt_f32(wv), NULL, NULL, &bad, PC_CONVF_F32, NULL, 0, &err) == PC_ERR_SHAPE,
             "3x3 kernel on a 1x1 input without padding is refused");
    bad = D(1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1);
    PC_CHECK(pc_convf(NULL, y, xv, pc_wt_f32(wv), NULL, NULL, &bad, PC_CONVF_F32, NULL, 0, &err) == PC_ERR_ARG,
             "stride 0 is refused");
    pc_pool_free(pools[1]);
    pc_pool_free(pools[2]);
    return pc_test_finish();
}
