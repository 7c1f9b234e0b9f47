// DynamiCrafter-512 interp 3-D UNet, one forward at the real size (B 1, 16 frames x 40x64 latent, 8 -> 4
// channels, model_channels 320, channel_mult [1, 2, 4, 4], 2 res blocks, 64-dim heads, context 77 + 16*16
// tokens of 1024) with deterministic random weights generated in memory (no file). Seconds, GFLOP/s,
// activation arena, peak RSS.
//
//   bench_unet [--threads N] [--runs R] [--dtype bf16|f16|f32] [--frames T] [--latent HxW] [--ctx L] [--small]
//              [--bf16-compute]   (pc_pool_set_gemm_bf16: GEMM operands rounded to bf16, opt-in speed mode)
//
// ViewCrafter_25 (576x1024, 25 frames): --frames 25 --latent 72x128 --ctx 333 (77 text + 256 image tokens
// that every frame sees, since 333 != 77 + 16 * 25).
//
// --small: model_channels 64, 8 frames, 16x24 latent (a quick smoke run). PyTorch reference
// (shared/TARGETS.md, PyTorch 1.13 CPU on the same machine kind): 121 s, 11.1 GB peak.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/gemm.h"
#include "posecrafter.h"

static double cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float uniform(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

int main(int argc, char **argv) {
    int threads = 2, runs = 1, small = 0, bf16c = 0;
    int64_t T = 16, lat_h = 40, lat_w = 64, ctx_len = 0;
    pc_dtype dt = PC_BF16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--small")) small = 1;
        else if (!strcmp(argv[i], "--bf16-compute")) bf16c = 1;
        else if (!strcmp(argv[i], "--latent") && i + 1 < argc) {
            long a, b;
            if (sscanf(argv[++i], "%ldx%ld", &a, &b) != 2 || a < 1 || b < 1 || a > 512 || b > 512) {
                fprintf(stderr, "bad --latent (HxW)\n");
                return 2;
            }
            lat_h = a, lat_w = b;
        } else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) ctx_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            const char *d = argv[++i];
            dt = !strcmp(d, "f32") ? PC_F32 : !strcmp(d, "f16") ? PC_F16 : PC_BF16;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--runs R] [--dtype bf16|f16|f32] [--frames T] [--latent HxW] [--ctx L] [--small] [--bf16-compute]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || T < 1 || T > 64) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    pc_error err;
    pc_pool *pool = NULL;
    if (pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pc_pool_set_gemm_bf16(pool, bf16c);  // --bf16-compute: every GEMM with bf16 operands (vdpbf16ps)
    pc_unet_config cfg;
    pc_unet_config_default(&cfg);
    int64_t H = lat_h, W = lat_w;
    if (small) {
        cfg.model_channels = 64;
        T = T > 8 ? 8 : T;
        H = 16;
        W = 24;
    }
    double t0 = pc_time_sec();
    pc_unet *u;
    if (pc_unet_create_random(&u, &cfg, dt, 1234, pool, &err) != PC_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    double t_create = pc_time_sec() - t0;
    const pc_unet_config *c = pc_unet_get_config(u);
    int64_t L = ctx_len > 0 ? ctx_len : c->text_context_len + T * c->image_tokens_per_frame, D = c->context_dim;
    size_t nx = (size_t)(c->in_channels * T * H * W), ny = (size_t)(c->out_channels * T * H * W);
    float *x = (float *)malloc(nx * sizeof(float)), *y = (float *)malloc(ny * sizeof(float));
    float *ctx = (float *)malloc((size_t)(L * D) * sizeof(float));
    if (!x || !y || !ctx) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t s = 99;
    for (size_t i = 0; i < nx; i++) x[i] = uniform(&s);
    for (int64_t i = 0; i < L * D; i++) ctx[i] = uniform(&s);
    int64_t ts = 999, fs = 5;
    double best = 1e30, best_cpu = 1e30, first = 0;
    for (int r = 0; r < runs; r++) {
        double a = pc_time_sec(), ac = cpu_sec();
        if (pc_unet_forward(u, y, x, 1, T, H, W, &ts, ctx, L, &fs, &err) != PC_OK) {
            fprintf(stderr, "forward: %s\n", err.msg);
            return 1;
        }
        double t = pc_time_sec() - a, tc = cpu_sec() - ac;
        if (r == 0) first = t;
        if (t < best) best = t;
        if (tc < best_cpu) best_cpu = tc;
    }
    double fl = pc_unet_last_flops(u);
    double sum = 0;
    for (size_t i = 0; i < ny; i++) sum += y[i];
    const char *dn = dt == PC_F32 ? "f32" : dt == PC_F16 ? "f16" : "bf16";
    printf("| UNet forward %s: B 1, T %lld, latent %lldx%lld, mc %d, mult [%d %d %d %d], ctx %lld x %lld |  |\n",
           small ? "(small)" : (T == 16 && H == 40 && W == 64) ? "(real 512-interp size)" : "(real model width)", (long long)T, (long long)H, (long long)W, c->model_channels,
           c->channel_mult[0], c->channel_mult[1], c->channel_mult[2], c->channel_mult[3], (long long)L, (long long)D);
    printf("| threads / GEMM ISA | %d / %s%s |\n", threads, pc_gemm_isa(),
           bf16c ? (pc_gemm_isa_supported(PC_GEMM_ISA_AVX512_BF16) ? " + bf16 compute" : " (no avx512_bf16: f32)") : "");
    printf("| parameters (weights stored as %s) | %.3f G |\n", dn, pc_unet_num_params(u) / 1e9);
    printf("| random weight generation | %.1f s |\n", t_create);
    printf("| first forward (incl. arena sizing) | %.2f s |\n", first);
    printf("| best of %d | %.2f s |\n", runs, best);
    printf("| CPU time (all threads), best | %.2f s |\n", best_cpu);
    printf("| GFLOP (counted: convs, linears, attention) | %.1f |\n", fl / 1e9);
    printf("| GFLOP/s (wall) | %.1f |\n", fl / 1e9 / best);
    printf("| activation arena | %.1f MiB |\n", (double)pc_unet_arena_bytes(u) / (1 << 20));
    printf("| peak RSS | %.2f GiB |\n", (double)pc_peak_rss_bytes() / (1 << 30));
    if (!small && T == 16 && H == 40 && W == 64) {
        printf("| PyTorch 1.13 CPU reference (TARGETS.md) / ours | 121 s / %.1f s = %.2fx |\n", best, 121.0 / best);
        printf("| est. full interp, 50 DDIM steps x 2 (CFG) forwards, UNet only | %.0f min |\n", 100.0 * best / 60.0);
    } else if (!small) {
        printf("| est. 50 DDIM steps x 2 (CFG) forwards at this size, UNet only | %.0f min |\n", 100.0 * best / 60.0);
    }
    printf("(checksum %.6g)\n", sum);
    free(x);
    free(y);
    free(ctx);
    pc_unet_free(u);
    pc_pool_free(pool);
    return 0;
}
