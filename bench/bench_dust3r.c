// DUSt3R ViT-L/512 DPT (DUSt3R_ViTLarge_BaseDecoder_512_dpt architecture) on one 512x384 pair with
// deterministic random weights generated in memory: seconds, GFLOP/s, peak RSS.
// --mast3r: MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric (the same trunk, the catmlp+dpt head with its
// 2048 -> 7168 -> 6400 local-feature MLPs, 24-dim descriptors), then fast_reciprocal_NNs on the pair.
//
//   bench_dust3r [--threads N] [--runs R] [--bf16|--f16] [--small] [--mast3r] [--device cpu|cuda|auto]
//
// --device cuda: encoder + decoders on the GPU (weights uploaded once as bf16), heads on the CPU; prints the
// GPU part's time (encode + decode calls, transfers included) and the device memory the model holds.
//
// Compare with bench/bench_dust3r_torch.py (same shapes, torch.nn ops, same thread count).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/gemm.h"
#include "models/dust3r_internal.h"
#include "posecrafter.h"
#include "posecrafter/cuda.h"

static double cpu_sec(void) {  // process CPU time (all threads): robust on a shared, loaded machine
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Wall time per stage, attributed through the model's trace hook (called after each stage).
typedef struct {
    double last, enc, dec, head;
} stage_times;

static void on_stage(void *p, const char *name, const float *data, int ndim, const int64_t *shape) {
    (void)data, (void)ndim, (void)shape;
    stage_times *s = (stage_times *)p;
    double now = pc_time_sec(), dt = now - s->last;
    s->last = now;
    if (!strncmp(name, "patch", 5) || !strncmp(name, "enc", 3)) s->enc += dt;
    else if (!strncmp(name, "dec", 3)) s->dec += dt;
    else s->head += dt;
}

// Multiply-adds x 2 of one pair forward (encoder for both images, both decoders, both heads).
static double forward_flops(const pc_dust3r_config *c, int64_t H, int64_t W) {
    double p = c->patch, Hp = (double)(H / c->patch), Wp = (double)(W / c->patch), N = Hp * Wp;
    double E = c->enc_dim, D = c->dec_dim, f = 0;
    f += 2 * (2 * N * E * 3 * p * p);  // patch embed, 2 images
    f += 2 * c->enc_depth * (2 * N * E * 3 * E + 4 * N * N * E + 2 * N * E * E + 4 * N * E * c->enc_mlp);
    f += 2 * (2 * N * E * D);  // decoder_embed
    f += 2 * c->dec_depth *
         (2 * N * D * 3 * D + 4 * N * N * D + 2 * N * D * D         // self-attention
          + 4 * (2 * N * D * D) + 4 * N * N * D + 4 * N * D * c->dec_mlp);  // cross-attention + MLP
    if (c->head != PC_DUST3R_HEAD_LINEAR) {
        const int *L = c->dpt_layer_dims;
        double F = c->dpt_feature_dim, dt[4] = {E, D, D, D}, hd = 0;
        double hw[4] = {16 * N, 4 * N, N, ceil(Hp / 2) * ceil(Wp / 2)};
        for (int k = 0; k < 4; k++) hd += 2 * N * dt[k] * L[k];  // 1x1 projections
        hd += 2 * N * L[0] * L[0] * 16 + 2 * N * L[1] * L[1] * 4 + 2 * hw[3] * L[3] * L[3] * 9;
        for (int k = 0; k < 4; k++) hd += 2 * hw[k] * F * L[k] * 9;  // layer_rn
        for (int k = 0; k < 4; k++) {
            double n_rcu = k == 3 ? 1 : 2, hwk = k == 3 ? hw[3] : hw[k];
            hd += n_rcu * 2 * (2 * hwk * F * F * 9) + 2 * (4 * hwk) * F * F;  // RCUs + out_conv
        }
        double HW = (double)H * W;
        hd += 2 * (HW / 4) * (F / 2) * F * 9 + 2 * HW * c->dpt_last_dim * (F / 2) * 9 + 2 * HW * 4 * c->dpt_last_dim;
        f += 2 * hd;
    } else {
        f += 2 * (2 * N * D * 4 * p * p);
    }
    if (c->head == PC_DUST3R_HEAD_CATMLP_DPT)  // two local-feature MLPs
        f += 2 * (2 * N * (E + D) * c->local_mlp_hidden + 2 * N * c->local_mlp_hidden * (c->desc_dim + 1) * p * p);
    return f;
}

// The heads' part of forward_flops (to subtract when only the transformer runs on the GPU).
static double forward_flops_heads(const pc_dust3r_config *c, int64_t H, int64_t W) {
    pc_dust3r_config t = *c;
    t.enc_depth = t.dec_depth = 0;
    double Np = (double)(H / c->patch) * (double)(W / c->patch), p = c->patch;
    return forward_flops(&t, H, W) - 2 * (2 * Np * c->enc_dim * 3 * p * p) - 2 * (2 * Np * c->enc_dim * c->dec_dim);
}

int main(int argc, char **argv) {
    int threads = 2, runs = 1, small = 0, bf16c = 0, mast3r = 0;
    const char *device = "cpu";
    pc_dtype wdt = PC_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bf16")) wdt = PC_BF16;
        else if (!strcmp(argv[i], "--f16")) wdt = PC_F16;
        else if (!strcmp(argv[i], "--small")) small = 1;  // quick smoke run: ViT-S-sized
        else if (!strcmp(argv[i], "--mast3r")) mast3r = 1;
        else if (!strcmp(argv[i], "--bf16-compute")) bf16c = 1;  // pc_pool_set_gemm_bf16
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else {
            fprintf(stderr, "usage: bench_dust3r [--threads N] [--runs R] [--bf16|--f16] [--small] [--mast3r] "
                            "[--device cpu|cuda|auto]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    pc_dust3r_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    // DUSt3R_ViTLarge_BaseDecoder_512_dpt: enc ViT-L, dec ViT-B, upstream create_dpt_head widths
    cfg.patch = 16;
    cfg.enc_dim = small ? 384 : 1024, cfg.enc_depth = small ? 12 : 24, cfg.enc_heads = small ? 6 : 16;
    cfg.dec_dim = small ? 384 : 768, cfg.dec_depth = 12, cfg.dec_heads = small ? 6 : 12;
    cfg.enc_mlp = 4 * cfg.enc_dim, cfg.dec_mlp = 4 * cfg.dec_dim;
    cfg.rope_base = 100.0f;
    cfg.ln_eps = 1e-6f;
    cfg.head = PC_DUST3R_HEAD_DPT;
    int ld[4] = {96, 192, 384, 768};
    memcpy(cfg.dpt_layer_dims, ld, sizeof(ld));
    cfg.dpt_feature_dim = 256, cfg.dpt_last_dim = 128;
    cfg.depth_mode = PC_DUST3R_DEPTH_EXP, cfg.conf_mode = PC_DUST3R_CONF_EXP;
    cfg.conf_vmin = 1.0f, cfg.conf_vmax = INFINITY;
    if (mast3r) {  // mast3r_head_factory: catmlp+dpt, 'pts3d+desc24', two_confs, MLP hidden 4 x (enc + dec)
        cfg.mast3r = 1, cfg.head = PC_DUST3R_HEAD_CATMLP_DPT;
        cfg.desc_dim = 24, cfg.two_confs = 1, cfg.local_mlp_hidden = 4 * (cfg.enc_dim + cfg.dec_dim);
        cfg.desc_conf_mode = PC_DUST3R_CONF_EXP, cfg.desc_conf_vmin = 0.0f, cfg.desc_conf_vmax = INFINITY;
    }

    pc_error err;
    pc_pool *pool = NULL;
    if (pc_pool_create(&pool, threads, &err) == PC_OK) pc_pool_set_gemm_bf16(pool, bf16c);
    if (!pool) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = pc_time_sec();
    pc_dust3r *net;
    if (pc_dust3r_create_random(&net, &cfg, 42, wdt, pool, &err) != PC_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    double t_make = pc_time_sec() - t0;
    t0 = pc_time_sec();
    if (pc_dust3r_set_device(net, device, &err) != PC_OK) {
        fprintf(stderr, "bench_dust3r --device %s: %s\n", device, err.msg);
        return 1;
    }
    double t_upload = pc_time_sec() - t0;
    int on_gpu = !strcmp(pc_dust3r_get_device(net), "cuda");
    double best_gpu = 1e30;
    const pc_dust3r_config *c = pc_dust3r_get_config(net);
    int64_t H = 384, W = 512, shape[4] = {1, 3, H, W};
    pc_tensor img[2];
    for (int v = 0; v < 2; v++) {
        if (pc_tensor_alloc(&img[v], PC_F32, 4, shape, &err) != PC_OK) return 1;
        float *d = (float *)img[v].data;
        for (int64_t i = 0; i < 3 * H * W; i++) d[i] = sinf(0.001f * (float)i * (float)(v + 1));  // in [-1, 1]
    }
    double flops = forward_flops(c, H, W), best = 1e30, first = 0, best_cpu = 1e30, best_match = 1e30;
    int64_t n_matches = 0;
    stage_times stt = {0, 0, 0, 0};
    for (int r = 0; r < runs; r++) {
        pc_dust3r_pair_out out;
        if (r == runs - 1 && !on_gpu) {  // last run: per-stage split (the hook itself costs nothing measurable)
            pc_dust3r_set_trace(net, on_stage, &stt);
            stt.last = pc_time_sec();
        }
        t0 = pc_time_sec();
        double c0 = cpu_sec();
        if (pc_dust3r_pair(net, &img[0], &img[1], &out, &err) != PC_OK) {
            fprintf(stderr, "forward: %s\n", err.msg);
            return 1;
        }
        double t = pc_time_sec() - t0, tc = cpu_sec() - c0;
        if (tc < best_cpu) best_cpu = tc;
        if (r == 0) first = t;
        if (t < best) best = t;
        if (on_gpu) {
            pc_dust3r_device_info di;
            pc_dust3r_get_device_info(net, &di);
            if (di.enc_s + di.dec_s < best_gpu) best_gpu = di.enc_s + di.dec_s;
        }
        float *p = (float *)out.view[1].pts3d.data;
        int finite = 1;
        for (int64_t i = 0; i < H * W * 3; i++) finite &= isfinite(p[i]) != 0;
        if (!finite) fprintf(stderr, "warning: non-finite outputs\n");
        if (mast3r) {  // fast_reciprocal_NNs(subsample 8) on the two descriptor maps
            int32_t *i1, *i2;
            double tm = pc_time_sec();
            if (pc_frnn_match(&i1, &i2, &n_matches, (const float *)out.view[0].desc.data, (int)H, (int)W,
                              (const float *)out.view[1].desc.data, (int)H, (int)W, c->desc_dim, 8, pool, NULL,
                              &err) != PC_OK) {
                fprintf(stderr, "matching: %s\n", err.msg);
                return 1;
            }
            tm = pc_time_sec() - tm;
            if (tm < best_match) best_match = tm;
            free(i1), free(i2);
        }
        pc_dust3r_pair_out_free(&out);
    }
    printf("bench_dust3r: %s %s, enc %dx%d/%dh, dec %dx%d/%dh, %.1fM params (%s weights), pair %lldx%lld, "
           "%d threads, gemm %s\n",
           small ? "ViT-S (smoke)" : "ViT-L/512", mast3r ? "MASt3R catmlp+dpt" : "DUSt3R DPT", c->enc_depth, c->enc_dim, c->enc_heads, c->dec_depth, c->dec_dim,
           c->dec_heads, (double)pc_dust3r_num_params(net) / 1e6, pc_dtype_name(wdt), (long long)W, (long long)H,
           threads, pc_gemm_isa());
    printf("| metric | value |\n|---|---|\n");
    printf("| weight generation | %.2f s |\n", t_make);
    printf("| forward, first run (incl. arena sizing) | %.2f s |\n", first);
    printf("| forward, best of %d | %.2f s |\n", runs, best);
    printf("| forward CPU time (all threads), best | %.2f s |\n", best_cpu);
    printf("| stages of the last run: encoder / decoders / heads | %.2f / %.2f / %.2f s |\n", stt.enc, stt.dec, stt.head);
    printf("| GFLOP per pair | %.1f |\n", flops / 1e9);
    printf("| GFLOP/s (wall) | %.1f |\n", flops / 1e9 / best);
    printf("| GFLOP/s per busy core (CPU time) | %.1f |\n", flops / 1e9 / best_cpu);
    printf("| activation arena | %.1f MiB |\n", (double)pc_dust3r_arena_bytes(net) / (1 << 20));
    if (mast3r)
        printf("| fast_reciprocal_NNs (subsample 8, %lld matches), best | %.2f s |\n", (long long)n_matches, best_match);
    printf("| peak RSS | %.2f GiB |\n", (double)pc_peak_rss_bytes() / (1 << 30));
    if (on_gpu) {  // the transformer on the GPU, heads on the CPU
        pc_dust3r_device_info di;
        pc_dust3r_get_device_info(net, &di);
        pc_cuda_props p;
        double used = pc_cuda_device_info(&p, 0, &err) == PC_OK ? (double)(p.total_bytes - p.free_bytes) : 0;
        double held = (double)(di.weight_bytes + di.act_arena_bytes) + 2.0 * (48 << 20);
        printf("| device | %s |\n", di.name);
        printf("| weights to the GPU (bf16, once) | %.2f s |\n", t_upload);
        printf("| GPU encoder + decoders, best of %d (transfers incl.) | %.1f ms |\n", runs, best_gpu * 1e3);
        printf("| GPU part of the last run: encode / decode | %.1f / %.1f ms |\n", di.enc_s * 1e3, di.dec_s * 1e3);
        printf("| GFLOP/s of the GPU part (transformer FLOP only) | %.0f |\n",
               (flops - forward_flops_heads(c, H, W)) / 1e9 / best_gpu);
        printf("| device memory: weights / activation arena (peak use) | %.1f / %.1f (%.1f) MiB |\n",
               (double)di.weight_bytes / (1 << 20), (double)di.act_arena_bytes / (1 << 20),
               (double)di.act_peak_bytes / (1 << 20));
        printf("| device memory held by the model (+2 x 48 MiB workspaces) | %.2f GiB |\n", held / (1 << 30));
        printf("| device memory in use on the GPU (all processes) | %.2f GiB |\n", used / (1 << 30));
    }
    for (int v = 0; v < 2; v++) pc_tensor_free(&img[v]);
    pc_dust3r_free(net);
    pc_pool_free(pool);
    return 0;
}
