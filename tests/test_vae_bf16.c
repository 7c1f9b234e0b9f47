// KL-VAE opt-in bf16 convolutions (pc_vae_set_compute): the default stays f32 and bit-identical after
// switching back; bf16 encode / decode of a random small VAE stay close to f32 (normwise); bad
// dtypes are refused; both precisions give bit-identical results on 1, 2 and 3 threads. The f32 path
// itself is golden-checked in test_vae.
#include "core/gemm.h"
#include "models/vae_internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double normwise(const float *a, const float *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return mb > 0 ? md / mb : md;
}

int main(void) {
    pc_error err;
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    pc_vae_config cfg;
    pc_vae_config_default(&cfg);
    cfg.ch = 32;
    cfg.ch_mult[2] = 2;
    cfg.ch_mult[3] = 2;
    pc_vae *v;
    pc_test_ok(pc_vae_create_random(&v, &cfg, 7, pool, &err), &err, "random VAE");
    PC_CHECK(pc_vae_get_compute(v) == PC_F32, "default compute is f32");
    PC_CHECK(pc_vae_set_compute(v, PC_F16) == PC_ERR_ARG, "f16 compute is refused");
    PC_CHECK(pc_vae_get_compute(v) == PC_F32, "a refused dtype leaves f32");

    const int64_t H = 64, W = 96, h = H / 8, w = W / 8, E = cfg.embed_dim;
    size_t nimg = (size_t)(3 * H * W), nz = (size_t)(E * h * w);
    float *img = malloc(nimg * sizeof(float)), *z = malloc(nz * sizeof(float));
    float *d32 = malloc(nimg * sizeof(float)), *d16 = malloc(nimg * sizeof(float)), *d32b = malloc(nimg * sizeof(float));
    float *m32 = malloc(2 * nz * sizeof(float)), *m16 = malloc(2 * nz * sizeof(float));
    if (!img || !z || !d32 || !d16 || !d32b || !m32 || !m16) pc_test_fatal("out of memory");
    pc_test_rng rng = {99};
    pc_test_fill(&rng, img, nimg, 1.0f);
    pc_test_fill(&rng, z, nz, 1.0f);

    pc_test_ok(pc_vae_decode_frame(v, d32, 0, z, 0, h, w, &err), &err, "decode f32");
    pc_test_ok(pc_vae_encode_frame(v, m32, m32 + nz, NULL, 0, img, 0, H, W, &err), &err, "encode f32");
    pc_test_ok(pc_vae_set_compute(v, PC_BF16), &err, "select bf16");
    PC_CHECK(pc_vae_get_compute(v) == PC_BF16, "compute is bf16 after selecting it");
    pc_test_ok(pc_vae_decode_frame(v, d16, 0, z, 0, h, w, &err), &err, "decode bf16");
    pc_test_ok(pc_vae_encode_frame(v, m16, m16 + nz, NULL, 0, img, 0, H, W, &err), &err, "encode bf16");
    int have = pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16);
    double ed = normwise(d16, d32, nimg), ee = normwise(m16, m32, 2 * nz);
    // ~30 convolutions in a row (random weights), each rounding its inputs and weights to 8 mantissa bits
    PC_CHECK(ed < 6e-2, "bf16 decode vs f32: normwise rel %.3g < 6e-2 (avx512_bf16 %s)", ed, have ? "yes" : "no");
    PC_CHECK(ee < 6e-2, "bf16 encode (mean, logvar) vs f32: normwise rel %.3g < 6e-2", ee);
    if (have) PC_CHECK(ed > 0, "bf16 decode differs from f32 (%.3g), so the bf16 kernel really ran", ed);
    pc_test_ok(pc_vae_set_compute(v, PC_F32), &err, "back to f32");
    pc_test_ok(pc_vae_decode_frame(v, d32b, 0, z, 0, h, w, &err), &err, "decode f32 again");
    PC_CHECK(memcmp(d32, d32b, nimg * sizeof(float)) == 0, "f32 decode bit-identical after a bf16 round");

    // determinism over thread counts (the same model built on 1 and 3 threads), both precisions
    for (int nt = 1; nt <= 3; nt += 2) {
        pc_pool *p2 = NULL;
        if (nt > 1) pc_test_ok(pc_pool_create(&p2, nt, &err), &err, "pool 3");
        pc_vae *v2;
        pc_test_ok(pc_vae_create_random(&v2, &cfg, 7, p2, &err), &err, "random VAE (other pool)");
        pc_test_ok(pc_vae_decode_frame(v2, d32b, 0, z, 0, h, w, &err), &err, "decode f32");
        PC_CHECK(memcmp(d32, d32b, nimg * sizeof(float)) == 0, "f32 decode on %d thread(s) bit-identical to 2 threads", nt);
        pc_test_ok(pc_vae_set_compute(v2, PC_BF16), &err, "select bf16");
        pc_test_ok(pc_vae_decode_frame(v2, d32b, 0, z, 0, h, w, &err), &err, "decode bf16");
        PC_CHECK(memcmp(d16, d32b, nimg * sizeof(float)) == 0, "bf16 decode on %d thread(s) bit-identical to 2 threads", nt);
        pc_vae_free(v2);
        pc_pool_free(p2);
    }

    free(img);
    free(z);
    free(d32);
    free(d16);
    free(d32b);
    free(m32);
    free(m16);
    pc_vae_free(v);
    pc_pool_free(pool);
    return pc_test_finish();
}
