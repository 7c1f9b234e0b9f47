// DynamiCrafter KL-VAE at the real config (ch 128, ch_mult [1, 2, 4, 4], 2 res blocks, z 4, embed 4) with
// deterministic random weights in memory: decode one 320x512 frame (latent 4x40x64) and encode one
// 320x512 frame. Seconds, GFLOP/s, activation arena, peak RSS.
//
//   bench_vae [--threads N] [--runs R] [--small] [--decode-only | --encode-only] [--bf16]
//
// --bf16: the opt-in bf16 convolutions (pc_vae_set_compute(vae, PC_BF16)); the default is f32.
// Timings are the best of R runs; the first run also sizes the activation arena (reported apart).
//
// PyTorch reference (shared/TARGETS.md, PyTorch 1.13, 2 threads, same machine kind): decode 9.9 s,
// encode 4.3 s.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/gemm.h"
#include "models/vae_internal.h"
#include "posecrafter.h"

static double cpu_sec(void) {  // process CPU time (all threads)
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef pc_status (*run_fn)(pc_vae *v, float *out, const float *in, int64_t H, int64_t W, pc_error *err);

static pc_status do_decode(pc_vae *v, float *out, const float *in, int64_t h, int64_t w, pc_error *err) {
    return pc_vae_decode_frame(v, out, 0, in, 0, h, w, err);
}
static pc_status do_encode(pc_vae *v, float *out, const float *in, int64_t H, int64_t W, pc_error *err) {
    const int64_t n = (H / 8) * (W / 8) * pc_vae_get_config(v)->embed_dim;
    return pc_vae_encode_frame(v, out, out + n, NULL, 0, in, 0, H, W, err);
}

static int bench(const char *what, pc_vae *v, run_fn fn, float *out, const float *in, int64_t H, int64_t W, int runs,
                 double ref_s) {
    pc_error err;
    double best = 1e30, best_cpu = 1e30, first = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = pc_time_sec(), c0 = cpu_sec();
        if (fn(v, out, in, H, W, &err) != PC_OK) {
            fprintf(stderr, "%s: %s\n", what, err.msg);
            return 1;
        }
        double t = pc_time_sec() - t0, tc = cpu_sec() - c0;
        if (r == 0) first = t;
        if (t < best) best = t;
        if (tc < best_cpu) best_cpu = tc;
    }
    double fl = pc_vae_last_flops(v);
    printf("| %s: first run (incl. arena sizing) | %.2f s |\n", what, first);
    printf("| %s: best of %d | %.2f s |\n", what, runs, best);
    printf("| %s: CPU time (all threads), best | %.2f s |\n", what, best_cpu);
    printf("| %s: GFLOP | %.1f |\n", what, fl / 1e9);
    printf("| %s: GFLOP/s (wall) | %.1f |\n", what, fl / 1e9 / best);
    printf("| %s: GFLOP/s per busy core (CPU time) | %.1f |\n", what, fl / 1e9 / best_cpu);
    if (ref_s > 0) printf("| %s: PyTorch 1.13 reference (TARGETS.md) / ours | %.1f s / %.2f s = %.2fx |\n", what, ref_s, best, ref_s / best);
    printf("| %s: activation arena | %.1f MiB |\n", what, (double)pc_vae_arena_bytes(v) / (1 << 20));
    printf("| %s: peak RSS so far | %.2f GiB |\n", what, (double)pc_peak_rss_bytes() / (1 << 30));
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, runs = 1, small = 0, do_dec = 1, do_enc = 1, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--small")) small = 1;
        else if (!strcmp(argv[i], "--decode-only")) do_enc = 0;
        else if (!strcmp(argv[i], "--encode-only")) do_dec = 0;
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else {
            fprintf(stderr, "usage: bench_vae [--threads N] [--runs R] [--small] [--decode-only | --encode-only] [--bf16]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    pc_error err;
    pc_pool *pool;
    if (pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pc_vae_config cfg;
    pc_vae_config_default(&cfg);
    if (small) {  // smoke test: the tiny golden widths
        cfg.ch = 32;
        cfg.ch_mult[2] = 2;
        cfg.ch_mult[3] = 2;
    }
    double t0 = pc_time_sec();
    pc_vae *v;
    if (pc_vae_create_random(&v, &cfg, 42, pool, &err) != PC_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    double t_make = pc_time_sec() - t0;
    if (bf16 && pc_vae_set_compute(v, PC_BF16) != PC_OK) {
        fprintf(stderr, "cannot select bf16 convolutions\n");
        return 1;
    }
    const int64_t H = 320, W = 512, h = H / 8, w = W / 8;
    float *img = malloc(sizeof(float) * 3 * H * W), *z = malloc(sizeof(float) * 8 * h * w);
    float *out = malloc(sizeof(float) * 3 * H * W);
    if (!img || !z || !out) return 1;
    for (int64_t i = 0; i < 3 * H * W; i++) img[i] = sinf(0.001f * (float)i);
    for (int64_t i = 0; i < 4 * h * w; i++) z[i] = cosf(0.01f * (float)i);
    printf("bench_vae: %s KL-VAE, ch %d, ch_mult [%d %d %d %d], %d res blocks, %.1fM params, frame %lldx%lld, "
           "%d threads, gemm %s, convolutions %s\n",
           small ? "tiny (smoke)" : "DynamiCrafter-512", cfg.ch, cfg.ch_mult[0], cfg.ch_mult[1], cfg.ch_mult[2],
           cfg.ch_mult[3], cfg.num_res_blocks, (double)pc_vae_num_params(v) / 1e6, (long long)W, (long long)H, threads,
           pc_gemm_isa(), bf16 ? (pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16) ? "bf16 (opt-in)" : "f32 (no avx512_bf16)") : "f32");
    printf("| metric | value |\n|---|---|\n");
    printf("| weight generation | %.2f s |\n", t_make);
    int rc = 0;
    if (do_dec) rc |= bench("decode 4x40x64 -> 3x320x512", v, do_decode, out, z, h, w, runs, small ? 0 : 9.9);
    if (do_enc) rc |= bench("encode 3x320x512", v, do_encode, z, img, H, W, runs, small ? 0 : 4.3);
    int finite = 1;
    for (int64_t i = 0; do_dec && i < 3 * H * W; i++) finite &= isfinite(out[i]) != 0;
    for (int64_t i = 0; do_enc && i < 8 * h * w; i++) finite &= isfinite(z[i]) != 0;
    if (!finite) fprintf(stderr, "warning: non-finite outputs\n");
    free(img);
    free(z);
    free(out);
    pc_vae_free(v);
    pc_pool_free(pool);
    return rc;
}
