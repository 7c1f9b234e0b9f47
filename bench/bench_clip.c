// DynamiCrafter conditioning encoders at the real widths (OpenCLIP ViT-H-14 text 1024 / 16 heads,
// ViT 1280 / 16 heads, Resampler 1024 / 12 x 64, 256 queries) with deterministic random weights in
// memory. To stay light on a shared machine it builds fewer resblocks than the real model (24 text,
// 32 ViT) by default and extrapolates linearly to the full depth (the embeddings, preprocess and
// ln_final are < 1 % of the work).
//
//   bench_clip [--threads N] [--runs R] [--text-layers L] [--vision-layers L]
//
// Reports the best of R runs: seconds, GFLOP/s, and the estimate for the full depth.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "models/clip_internal.h"
#include "posecrafter.h"

typedef struct ent {
    char name[128];
    pc_tensor t;
} ent;

typedef struct src {
    ent *e;
    int n, cap;
    uint64_t rng;
    int oom;
} src;

static float unif(uint64_t *s) {  // splitmix64 -> [-1, 1)
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

// kind: 'w' weight (fan-in bound), 'n' norm weight (1 + 0.1u), 'b' bias / embedding (0.02u), 'z' zeros
static void add(src *s, const char *pfx, const char *name, char kind, int ndim, int64_t d0, int64_t d1, int64_t d2,
                int64_t d3) {
    if (s->oom) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        ent *e = (ent *)realloc(s->e, sizeof(ent) * (size_t)s->cap);
        if (!e) {
            s->oom = 1;
            return;
        }
        s->e = e;
    }
    ent *e = &s->e[s->n];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s%s", pfx, name);
    int64_t dims[4] = {d0, d1, d2, d3}, numel = 1;
    e->t.dtype = PC_F32;
    e->t.ndim = ndim;
    for (int i = 0; i < ndim; i++) numel *= (e->t.shape[i] = dims[i]);
    for (int i = ndim - 1, st = 1; i >= 0; i--) {
        e->t.strides[i] = st;
        st *= (int)dims[i];
    }
    float *p = (float *)calloc((size_t)numel, sizeof(float));
    if (!p) {
        s->oom = 1;
        return;
    }
    e->t.data = p;
    e->t.alloc = p;
    int64_t fan_in = ndim >= 2 ? numel / d0 : 1;
    float bound = 1.0f / sqrtf((float)fan_in);
    if (kind == 'w')
        for (int64_t i = 0; i < numel; i++) p[i] = bound * unif(&s->rng);
    else if (kind == 'n')
        for (int64_t i = 0; i < numel; i++) p[i] = 1.0f + 0.1f * unif(&s->rng);
    else if (kind == 'b')
        for (int64_t i = 0; i < numel; i++) p[i] = 0.02f * unif(&s->rng);
    s->n++;
}

static void add_tower(src *s, const char *pfx, int layers, int64_t w, int64_t mlp) {
    char k[160];
    for (int i = 0; i < layers; i++) {
#define K(x) (snprintf(k, sizeof(k), "transformer.resblocks.%d." x, i), k)
        add(s, pfx, K("ln_1.weight"), 'n', 1, w, 0, 0, 0);
        add(s, pfx, K("ln_1.bias"), 'b', 1, w, 0, 0, 0);
        add(s, pfx, K("attn.in_proj_weight"), 'w', 2, 3 * w, w, 0, 0);
        add(s, pfx, K("attn.in_proj_bias"), 'b', 1, 3 * w, 0, 0, 0);
        add(s, pfx, K("attn.out_proj.weight"), 'w', 2, w, w, 0, 0);
        add(s, pfx, K("attn.out_proj.bias"), 'b', 1, w, 0, 0, 0);
        add(s, pfx, K("ln_2.weight"), 'n', 1, w, 0, 0, 0);
        add(s, pfx, K("ln_2.bias"), 'b', 1, w, 0, 0, 0);
        add(s, pfx, K("mlp.c_fc.weight"), 'w', 2, mlp, w, 0, 0);
        add(s, pfx, K("mlp.c_fc.bias"), 'b', 1, mlp, 0, 0, 0);
        add(s, pfx, K("mlp.c_proj.weight"), 'w', 2, w, mlp, 0, 0);
        add(s, pfx, K("mlp.c_proj.bias"), 'b', 1, w, 0, 0, 0);
#undef K
    }
}

static const pc_tensor *s_find(void *ctx, const char *name) {
    src *s = (src *)ctx;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].name, name)) return &s->e[i].t;
    return NULL;
}

static pc_status s_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                       pc_error *err) {
    const pc_tensor *t = s_find(ctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s' not found", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] == -1 || shape[i] == t->shape[i];
    if (!ok) return pc_err(err, PC_ERR_SHAPE, "tensor '%s': shape mismatch", name);
    *out = t;
    return PC_OK;
}

typedef struct job {
    pc_clip *clip;
    int what;  // 0 text, 1 preprocess, 2 image (preprocess + ViT), 3 resampler
    float *out, *img, *tok;
    int64_t *ids;
} job;

static pc_status run_job(job *j, pc_error *err) {
    switch (j->what) {
    case 0: return pc_clip_encode_text(j->clip, j->out, j->ids, 1, err);
    case 1: return pc_clip_preprocess(j->clip->pool, j->out, j->img, 1, 320, 512, 224, err);
    case 2: return pc_clip_encode_image(j->clip, j->out, j->img, 1, 320, 512, err);
    default: return pc_clip_resample(j->clip, j->out, j->tok, 1, 257, err);
    }
}

int main(int argc, char **argv) {
    int threads = 2, runs = 3, tl = 4, vl = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--text-layers") && i + 1 < argc) tl = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vision-layers") && i + 1 < argc) vl = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--runs R] [--text-layers L] [--vision-layers L]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || tl < 2 || tl > 24 || vl < 1 || vl > 32) {
        fprintf(stderr, "bad arguments (text layers 2..24, vision layers 1..32)\n");
        return 2;
    }
    src s = {0};
    s.rng = 42;
    const char *tp = "cond_stage_model.model.", *vp = "embedder.model.visual.", *rp = "image_proj_model.";
    add(&s, tp, "token_embedding.weight", 'z', 2, 49408, 1024, 0, 0);  // zero pages except the rows used
    add(&s, tp, "positional_embedding", 'b', 2, 77, 1024, 0, 0);
    add_tower(&s, tp, tl, 1024, 4096);
    add(&s, tp, "ln_final.weight", 'n', 1, 1024, 0, 0, 0);
    add(&s, tp, "ln_final.bias", 'b', 1, 1024, 0, 0, 0);
    add(&s, vp, "conv1.weight", 'w', 4, 1280, 3, 14, 14);
    add(&s, vp, "class_embedding", 'b', 1, 1280, 0, 0, 0);
    add(&s, vp, "positional_embedding", 'b', 2, 257, 1280, 0, 0);
    add(&s, vp, "ln_pre.weight", 'n', 1, 1280, 0, 0, 0);
    add(&s, vp, "ln_pre.bias", 'b', 1, 1280, 0, 0, 0);
    add_tower(&s, vp, vl, 1280, 5120);
    add(&s, rp, "latents", 'b', 3, 1, 256, 1024, 0);
    add(&s, rp, "proj_in.weight", 'w', 2, 1024, 1280, 0, 0);
    add(&s, rp, "proj_in.bias", 'b', 1, 1024, 0, 0, 0);
    add(&s, rp, "proj_out.weight", 'w', 2, 1024, 1024, 0, 0);
    add(&s, rp, "proj_out.bias", 'b', 1, 1024, 0, 0, 0);
    add(&s, rp, "norm_out.weight", 'n', 1, 1024, 0, 0, 0);
    add(&s, rp, "norm_out.bias", 'b', 1, 1024, 0, 0, 0);
    for (int i = 0; i < 4; i++) {
        char k[96];
#define K(x) (snprintf(k, sizeof(k), "layers.%d." x, i), k)
        add(&s, rp, K("0.norm1.weight"), 'n', 1, 1024, 0, 0, 0);
        add(&s, rp, K("0.norm1.bias"), 'b', 1, 1024, 0, 0, 0);
        add(&s, rp, K("0.norm2.weight"), 'n', 1, 1024, 0, 0, 0);
        add(&s, rp, K("0.norm2.bias"), 'b', 1, 1024, 0, 0, 0);
        add(&s, rp, K("0.to_q.weight"), 'w', 2, 768, 1024, 0, 0);
        add(&s, rp, K("0.to_kv.weight"), 'w', 2, 1536, 1024, 0, 0);
        add(&s, rp, K("0.to_out.weight"), 'w', 2, 1024, 768, 0, 0);
        add(&s, rp, K("1.0.weight"), 'n', 1, 1024, 0, 0, 0);
        add(&s, rp, K("1.0.bias"), 'b', 1, 1024, 0, 0, 0);
        add(&s, rp, K("1.1.weight"), 'w', 2, 4096, 1024, 0, 0);
        add(&s, rp, K("1.3.weight"), 'w', 2, 1024, 4096, 0, 0);
#undef K
    }
    if (s.oom) {
        fprintf(stderr, "out of memory building the random weights\n");
        return 1;
    }
    // token rows the prompt uses
    float *te = (float *)s.e[0].t.data;
    for (int64_t j = 0; j < 1024 * 1024; j++) te[j] = 0.02f * unif(&s.rng);
    for (int64_t j = 49406 * 1024; j < 49408 * 1024; j++) te[j] = 0.02f * unif(&s.rng);

    pc_error err;
    pc_pool *pool = NULL;
    if (threads > 1 && pc_pool_create(&pool, threads, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pc_clip_config cfg;
    pc_clip_config_default(&cfg);
    cfg.text_layer_skip = 1;
    pc_clip *clip;
    if (pc_clip_create_from_source(&clip, s_get, s_find, &s, &cfg, pool, &err) != PC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t ids[77] = {49406};
    for (int i = 1; i < 9; i++) ids[i] = 320 + 37 * i;
    ids[9] = 49407;
    float *img = (float *)malloc(sizeof(float) * 3 * 320 * 512);
    float *out = (float *)malloc(sizeof(float) * 257 * 1280);
    float *tok = (float *)malloc(sizeof(float) * 257 * 1280);
    if (!img || !out || !tok) return 1;
    for (int i = 0; i < 3 * 320 * 512; i++) img[i] = unif(&s.rng);
    for (int i = 0; i < 257 * 1280; i++) tok[i] = unif(&s.rng);

    // FLOPs (multiply-add = 2) of the layers built; the full model runs 23 text / 32 ViT blocks.
    const double tw = 1024, vw = 1280, Nt = 77, Nv = 257;
    const double text_layer = 2 * Nt * 12 * tw * tw + 2 * Nt * Nt * tw;  // causal attention ~ half of 4 N^2 w
    const double vis_layer = 2 * Nv * 12 * vw * vw + 4 * Nv * Nv * vw;
    const double patch = 2.0 * 256 * 588 * vw;
    const double Nk = 257 + 256;
    const double rs = 2.0 * 257 * 1280 * 1024 +
                      4 * (2.0 * 256 * 1024 * 768 + 2 * Nk * 1024 * 1536 + 4 * 256 * Nk * 768 + 2 * 256 * 768 * 1024 +
                           2.0 * 2 * 256 * 1024 * 4096) +
                      2.0 * 256 * 1024 * 1024;
    struct {
        const char *name;
        int what;
        double flops, scale;  // scale: full / built
    } rows[4] = {
        {"text tower (77 tokens)", 0, text_layer * (tl - 1), 23.0 / (tl - 1)},
        {"preprocess 320x512 -> 224", 1, 0, 1},
        {"image: preprocess + ViT-H", 2, patch + vis_layer * vl, (patch + 32 * vis_layer) / (patch + vl * vis_layer)},
        {"Resampler (257 -> 256)", 3, rs, 1},
    };
    printf("bench_clip: %d thread(s), best of %d; built %d text / %d ViT blocks (real: 23 run of 24 / 32)\n\n",
           threads, runs, tl, vl);
    printf("| part | built: s | GFLOP/s | full depth: est. s |\n| --- | --- | --- | --- |\n");
    double total = 0;
    for (int r = 0; r < 4; r++) {
        job j = {clip, rows[r].what, out, img, tok, ids};
        double best = 1e30;
        for (int k = 0; k < runs; k++) {
            double t0 = pc_time_sec();
            if (run_job(&j, &err) != PC_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double dt = pc_time_sec() - t0;
            best = dt < best ? dt : best;
        }
        double est = best * rows[r].scale;
        total += rows[r].what == 1 ? 0 : est;
        if (rows[r].flops > 0)
            printf("| %s | %.3f | %.1f | %.2f |\n", rows[r].name, best, rows[r].flops / best * 1e-9, est);
        else
            printf("| %s | %.4f | - | %.4f |\n", rows[r].name, best, est);
    }
    printf("\nfull conditioning of one sample (text + image + Resampler), estimated: %.2f s\n", total);
    pc_clip_free(clip);
    pc_pool_free(pool);
    for (int i = 0; i < s.n; i++) free(s.e[i].t.alloc);
    free(s.e);
    free(img);
    free(out);
    free(tok);
    return 0;
}
