// DynamiCrafter conditioning encoders vs clip_tiny.safetensors (weights: clip_tiny.ckpt):
//   lvdm FrozenOpenCLIPEmbedder (penultimate, ln_final): text_emb, dbg.text.block{0,1}_out
//   FrozenOpenCLIPImageEmbedderV2.preprocess (kornia resize + normalize): image_preprocessed (320x512
//   downscale with antialias blur; 128x192 upscale), tolerance 1e-5
//   encode_with_vision_transformer: image_tokens, dbg.vit.*; zero image (unconditional branch)
//   Resampler (image_proj_model): resampler_out, dbg.resampler.*
// Tolerance (README §8): max|c - ref| <= 1e-4 * max|ref| per tensor (preprocess 1e-5).
// Then the same goldens on the emulated device (pc_clip_set_device "emu": the GPU code path, bf16 matrices and
// activations, f32 accumulation and residual stream): normwise ||c - ref|| / ||ref|| <= 2e-2 (TOL_EMU, the
// DUSt3R GPU tolerance), and back on the cpu bit-identical to the first run.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "models/clip_internal.h"
#include "testutil.h"

static int close_norm(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    return pc_test_close(name, got, want, n, rtol * mx, 0.0);
}

#define TOL_EMU 2e-2

static double emu_worst;

static void check_emu(const char *what, const float *got, const float *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = isfinite(got[i]) ? (double)got[i] - want[i] : INFINITY;
        num += d * d;
        den += (double)want[i] * want[i];
    }
    double e = den > 0 ? sqrt(num / den) : sqrt(num);
    if (e > emu_worst) emu_worst = e;
    PC_CHECK(e <= TOL_EMU, "emu %s: normwise error %.2e (tolerance %.0e)", what, e, TOL_EMU);
}

static const pc_tensor *need(const pc_checkpoint *ck, const char *name, int64_t numel) {
    const pc_tensor *t = pc_checkpoint_find(ck, name);
    if (!t || t->dtype != PC_F32 || !pc_tensor_is_contiguous(t) || pc_tensor_numel(t) != numel)
        pc_test_fatal("golden tensor '%s' missing, not f32 or not %lld values", name, (long long)numel);
    return t;
}

typedef struct trace_ctx {
    const pc_checkpoint *gold;
    const char *prefix;  // "dbg." or "dbg.small."
    int n_checked;
} trace_ctx;

static void on_trace(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    trace_ctx *tc = (trace_ctx *)ctx;
    char key[160];
    snprintf(key, sizeof(key), "%s%s", tc->prefix, name);
    const pc_tensor *t = pc_checkpoint_find(tc->gold, key);
    if (!t) return;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    PC_CHECK(same, "%s: shape matches the golden", key);
    if (!same) return;
    close_norm(key, data, pc_tensor_f32(t), (size_t)pc_tensor_numel(t), 1e-4);
    tc->n_checked++;
}

// One image through preprocess -> ViT -> Resampler; pfx "" or "small." selects the golden set.
static void image_chain(pc_clip *clip, const pc_checkpoint *gold, const char *pfx, int64_t H, int64_t W) {
    pc_error err;
    char k[128];
    const int64_t N = pc_clip_vision_tokens(clip), w = pc_clip_vision_width(clip);
    const int64_t nq = pc_clip_resampler_queries(clip), od = pc_clip_resampler_out_dim(clip);
    snprintf(k, sizeof(k), "%simage", pfx);
    const float *img = pc_tensor_f32(need(gold, k, 3 * H * W));
    float *pre = (float *)malloc(sizeof(float) * 3 * 224 * 224);
    float *tok = (float *)malloc(sizeof(float) * (size_t)(N * w));
    float *rs = (float *)malloc(sizeof(float) * (size_t)(nq * od));
    pc_test_ok(pc_clip_preprocess(clip->pool, pre, img, 1, H, W, 224, &err), &err, "preprocess");
    snprintf(k, sizeof(k), "%simage_preprocessed", pfx);
    close_norm(k, pre, pc_tensor_f32(need(gold, k, 3 * 224 * 224)), 3 * 224 * 224, 1e-5);

    trace_ctx tc = {gold, pfx[0] ? "dbg.small." : "dbg.", 0};
    pc_clip_set_trace(clip, on_trace, &tc);
    pc_test_ok(pc_clip_encode_image(clip, tok, img, 1, H, W, &err), &err, "encode image");
    snprintf(k, sizeof(k), "%simage_tokens", pfx);
    const float *gt = pc_tensor_f32(need(gold, k, N * w));
    close_norm(k, tok, gt, (size_t)(N * w), 1e-4);
    // Resampler on the golden tokens (isolates it from the ViT error) and on ours.
    pc_test_ok(pc_clip_resample(clip, rs, gt, 1, N, &err), &err, "resample");
    snprintf(k, sizeof(k), "%sresampler_out", pfx);
    const float *gr = pc_tensor_f32(need(gold, k, nq * od));
    close_norm(k, rs, gr, (size_t)(nq * od), 1e-4);
    pc_clip_set_trace(clip, NULL, NULL);
    pc_test_ok(pc_clip_resample(clip, rs, tok, 1, N, &err), &err, "resample");
    snprintf(k, sizeof(k), "%sresampler_out (chained from our ViT tokens)", pfx);
    close_norm(k, rs, gr, (size_t)(nq * od), 1e-4);
    PC_CHECK(tc.n_checked == 3 + 1 + 8, "%s: %d traced intermediates compared (want 12)", pfx[0] ? "small" : "main",
             tc.n_checked);
    free(pre);
    free(tok);
    free(rs);
}

// ---- real-size key set (real_model_keys.json): names + shapes, data = one shared zero buffer ----------

typedef struct key_src {
    char **names;
    pc_tensor *t;
    int n;
} key_src;

static const pc_tensor *ks_find(void *ctx, const char *name) {
    key_src *k = (key_src *)ctx;
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->names[i], name)) return &k->t[i];
    return NULL;
}

static pc_status ks_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                        pc_error *err) {
    const pc_tensor *t = ks_find(ctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s' not found", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] == -1 || shape[i] == t->shape[i];
    if (!ok) return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has another shape", name);
    *out = t;
    return PC_OK;
}

// DynamiCrafter-512's real CLIP / Resampler keys bind with the default config and give the real sizes.
static void real_key_set(void) {
    char path[1024];
    pc_test_shared_path(path, sizeof(path), "golden/dynamicrafter/real_model_keys.json");
    FILE *f = fopen(path, "rb");
    if (!f) pc_test_fatal("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *txt = (char *)malloc((size_t)len + 1);
    if (!txt || fread(txt, 1, (size_t)len, f) != (size_t)len) pc_test_fatal("cannot read %s", path);
    fclose(f);
    txt[len] = 0;
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    cJSON *model = root ? root->child : NULL;  // {"dynamicrafter_512_interp_v1 (...)": {key: {shape, dtype}}}
    if (!model) pc_test_fatal("real_model_keys.json: unexpected layout");
    key_src ks = {0};
    int cap = cJSON_GetArraySize(model);
    ks.names = (char **)calloc((size_t)cap, sizeof(char *));
    ks.t = (pc_tensor *)calloc((size_t)cap, sizeof(pc_tensor));
    int64_t max_numel = 1;
    for (cJSON *e = model->child; e; e = e->next) {
        if (strncmp(e->string, "cond_stage_model.", 17) && strncmp(e->string, "embedder.", 9) &&
            strncmp(e->string, "image_proj_model.", 17))
            continue;
        cJSON *shp = cJSON_GetObjectItem(e, "shape");
        pc_tensor *t = &ks.t[ks.n];
        t->dtype = PC_F32;
        t->ndim = cJSON_GetArraySize(shp);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (t->shape[d] = (int64_t)cJSON_GetArrayItem(shp, d)->valuedouble);
        for (int d = t->ndim - 1, st = 1; d >= 0; d--) {
            t->strides[d] = st;
            st *= (int)t->shape[d];
        }
        if (numel > max_numel) max_numel = numel;
        ks.names[ks.n++] = e->string;
    }
    // Never read (bind only); calloc'd pages are not touched.
    float *zero = (float *)calloc((size_t)max_numel, sizeof(float));
    for (int i = 0; i < ks.n; i++) ks.t[i].data = zero;
    pc_clip_config cfg;
    pc_clip_config_default(&cfg);
    pc_clip *clip = NULL;
    pc_error err;
    pc_test_ok(pc_clip_create_from_source(&clip, ks_get, ks_find, &ks, &cfg, NULL, &err), &err,
               "bind the real DynamiCrafter-512 CLIP keys");
    PC_CHECK(ks.n == 743, "real key set: %d CLIP/embedder/Resampler keys", ks.n);
    PC_CHECK(clip->text.width == 1024 && clip->text.layers == 24 && clip->t_run == 23 && clip->text.mlp == 4096 &&
                 clip->t_ctx == 77 && clip->t_vocab == 49408,
             "real text tower: 1024 wide, 24 layers (23 run), mlp 4096, 77 x 49408");
    PC_CHECK(clip->vis.width == 1280 && clip->vis.layers == 32 && clip->vis.mlp == 5120 && clip->v_tokens == 257,
             "real ViT-H/14: 1280 wide, 32 layers, mlp 5120, 257 tokens");
    PC_CHECK(clip->r_nq == 256 && clip->r_dim == 1024 && clip->r_emb == 1280 && clip->r_out == 1024 &&
                 clip->r_inner == 768 && clip->r_heads == 12 && clip->r_depth == 4 && clip->r_ff == 4096,
             "real Resampler: 256 queries (16 x 16 frames), dim 1024, 1280 -> 1024, 12 x 64 heads, depth 4");
    pc_clip_free(clip);
    free(zero);
    free(ks.names);
    free(ks.t);
    cJSON_Delete(root);
}

int main(void) {
    real_key_set();
    char wpath[1024], gpath[1024];
    pc_test_shared_path(wpath, sizeof(wpath), "golden/dynamicrafter/clip_tiny.ckpt");
    pc_test_shared_path(gpath, sizeof(gpath), "golden/dynamicrafter/clip_tiny.safetensors");
    pc_error err;
    pc_checkpoint *ck, *gold;
    pc_test_ok(pc_checkpoint_open(&ck, wpath, &err), &err, "open clip_tiny.ckpt");
    pc_test_ok(pc_checkpoint_open(&gold, gpath, &err), &err, "open clip_tiny.safetensors");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");

    // ViT-tiny-golden: text width 64 / 4 heads, vision width 80 / head_width 20, Resampler 3 heads.
    pc_clip_config cfg;
    pc_clip_config_default(&cfg);
    cfg.text_heads = 4;
    cfg.vision_heads = 4;
    cfg.resampler_heads = 3;
    pc_clip *clip;
    pc_test_ok(pc_clip_from_checkpoint(&clip, ck, &cfg, pool, &err), &err, "bind CLIP");
    PC_CHECK(pc_clip_text_width(clip) == 64 && clip->text.layers == 3 && clip->t_run == 2,
             "text tower: width 64, 3 layers, runs 2 (penultimate)");
    PC_CHECK(pc_clip_vision_width(clip) == 80 && pc_clip_vision_tokens(clip) == 257 && clip->vis.layers == 2,
             "vision tower: width 80, 257 tokens, 2 layers");
    PC_CHECK(pc_clip_resampler_queries(clip) == 64 && pc_clip_resampler_out_dim(clip) == 64 && clip->r_depth == 4,
             "Resampler: 64 queries (16 x 4 frames), out 64, depth 4");

    // ---- text ----
    const pc_tensor *tt = pc_checkpoint_find(gold, "text_tokens");
    if (!tt || tt->dtype != PC_I64 || pc_tensor_numel(tt) != 3 * 77) pc_test_fatal("text_tokens missing");
    float *temb = (float *)malloc(sizeof(float) * 3 * 77 * 64);
    trace_ctx tc = {gold, "dbg.", 0};
    pc_clip_set_trace(clip, on_trace, &tc);
    pc_test_ok(pc_clip_encode_text(clip, temb, (const int64_t *)tt->data, 3, &err), &err, "encode text");
    pc_clip_set_trace(clip, NULL, NULL);
    PC_CHECK(tc.n_checked == 2, "text: 2 traced block outputs compared");
    close_norm("text_emb", temb, pc_tensor_f32(need(gold, "text_emb", 3 * 77 * 64)), 3 * 77 * 64, 1e-4);
    // a single prompt gives the same rows as the batch
    float *t1 = (float *)malloc(sizeof(float) * 77 * 64);
    pc_test_ok(pc_clip_encode_text(clip, t1, (const int64_t *)tt->data + 2 * 77, 1, &err), &err, "encode text B=1");
    PC_CHECK(!memcmp(t1, temb + 2 * 77 * 64, sizeof(float) * 77 * 64), "text: batch of 1 equals row 2 of the batch");
    int64_t badtok[77] = {49406, 60000};
    PC_CHECK(pc_clip_encode_text(clip, t1, badtok, 1, &err) == PC_ERR_ARG, "token id >= vocab rejected (%s)", err.msg);

    // ---- image chain: 320x512 (antialiased downscale) and 128x192 (upscale) ----
    image_chain(clip, gold, "", 320, 512);
    image_chain(clip, gold, "small.", 128, 192);

    // ---- unconditional branch: zeros_like(image) at 128x192 ----
    {
        float *zimg = (float *)calloc(3 * 128 * 192, sizeof(float));
        float *tok = (float *)malloc(sizeof(float) * 257 * 80);
        float *rs = (float *)malloc(sizeof(float) * 64 * 64);
        pc_test_ok(pc_clip_encode_image(clip, tok, zimg, 1, 128, 192, &err), &err, "encode zero image");
        close_norm("zero.image_tokens", tok, pc_tensor_f32(need(gold, "zero.image_tokens", 257 * 80)), 257 * 80, 1e-4);
        pc_test_ok(pc_clip_resample(clip, rs, tok, 1, 257, &err), &err, "resample zero");
        close_norm("zero.resampler_out", rs, pc_tensor_f32(need(gold, "zero.resampler_out", 64 * 64)), 64 * 64, 1e-4);
        free(zimg);
        free(tok);
        free(rs);
    }

    // ---- batch of 2 images = two single runs; single-threaded = 2 threads within tolerance ----
    {
        const float *a = pc_tensor_f32(need(gold, "small.image", 3 * 128 * 192));
        float *img2 = (float *)malloc(sizeof(float) * 2 * 3 * 128 * 192);
        for (int i = 0; i < 3 * 128 * 192; i++) {
            img2[i] = a[i];
            img2[3 * 128 * 192 + i] = 0.0f;
        }
        float *tok2 = (float *)malloc(sizeof(float) * 2 * 257 * 80);
        float *rs2 = (float *)malloc(sizeof(float) * 2 * 64 * 64);
        pc_test_ok(pc_clip_encode_image(clip, tok2, img2, 2, 128, 192, &err), &err, "encode batch");
        pc_test_ok(pc_clip_resample(clip, rs2, tok2, 2, 257, &err), &err, "resample batch");
        close_norm("batch[0] small.resampler_out", rs2, pc_tensor_f32(need(gold, "small.resampler_out", 64 * 64)),
                   64 * 64, 1e-4);
        close_norm("batch[1] zero.resampler_out", rs2 + 64 * 64, pc_tensor_f32(need(gold, "zero.resampler_out", 64 * 64)),
                   64 * 64, 1e-4);
        clip->pool = NULL;
        float *tok1 = (float *)malloc(sizeof(float) * 2 * 257 * 80);
        pc_test_ok(pc_clip_encode_image(clip, tok1, img2, 2, 128, 192, &err), &err, "encode batch, 1 thread");
        close_norm("1 vs 2 threads: image tokens", tok1, tok2, 2 * 257 * 80, 1e-5);
        clip->pool = pool;
        free(img2);
        free(tok2);
        free(tok1);
        free(rs2);
    }

    // ---- c_crossattn of the pipelines, from the prompt strings (tokenizer -> text ++ Resampler(ViT)) ----
    {
        char bpe[1024], dpath[1024], vpath[1024];
        pc_test_shared_path(bpe, sizeof(bpe), "golden/dynamicrafter/bpe_simple_vocab_16e6.txt.gz");
        pc_test_shared_path(dpath, sizeof(dpath), "golden/dynamicrafter/ddim.safetensors");
        pc_test_shared_path(vpath, sizeof(vpath), "golden/dynamicrafter/viewcrafter_ddim.safetensors");
        pc_clip_tokenizer *tok;
        pc_test_ok(pc_clip_tokenizer_load(&tok, bpe, &err), &err, "tokenizer");
        pc_checkpoint *dd, *vd;
        pc_test_ok(pc_checkpoint_open(&dd, dpath, &err), &err, "open ddim.safetensors");
        pc_test_ok(pc_checkpoint_open(&vd, vpath, &err), &err, "open viewcrafter_ddim.safetensors");
        int64_t ids[77], ids0[77];
        pc_test_ok(pc_clip_tokenize(tok, "", ids0, 77, NULL, &err), &err, "tokenize ''");
        float *ctx = (float *)malloc(sizeof(float) * 141 * 64);
        float *zero = (float *)calloc(3 * 128 * 192, sizeof(float));
        // DynamiCrafter interp: frame 0 = image_a; uncond: "" + zeros_like(image)
        pc_test_ok(pc_clip_tokenize(tok, "a photo of a cat, 4k", ids, 77, NULL, &err), &err, "tokenize");
        const float *ia = pc_tensor_f32(need(dd, "image_a", 3 * 128 * 192));
        pc_test_ok(pc_clip_cross_context(clip, ctx, ids, ia, 0, 128, 192, &err), &err, "cross context");
        close_norm("ddim cond.c_crossattn", ctx, pc_tensor_f32(need(dd, "cond.c_crossattn", 141 * 64)), 141 * 64, 1e-4);
        pc_test_ok(pc_clip_cross_context(clip, ctx, ids0, zero, 0, 128, 192, &err), &err, "cross context");
        close_norm("ddim uncond.c_crossattn", ctx, pc_tensor_f32(need(dd, "uncond.c_crossattn", 141 * 64)), 141 * 64,
                   1e-4);
        // ViewCrafter: frame 0 of videos (1, 3, 5, 128, 192): channel stride 5*H*W
        pc_test_ok(pc_clip_tokenize(tok, "Rotating view of a scene", ids, 77, NULL, &err), &err, "tokenize");
        const float *vid = pc_tensor_f32(need(vd, "videos", 3 * 5 * 128 * 192));
        pc_test_ok(pc_clip_cross_context(clip, ctx, ids, vid, 5 * 128 * 192, 128, 192, &err), &err, "cross context");
        close_norm("viewcrafter cond.c_crossattn", ctx, pc_tensor_f32(need(vd, "cond.c_crossattn", 141 * 64)), 141 * 64,
                   1e-4);
        pc_test_ok(pc_clip_cross_context(clip, ctx, ids0, zero, 0, 128, 192, &err), &err, "cross context");
        close_norm("viewcrafter uncond.c_crossattn", ctx, pc_tensor_f32(need(vd, "uncond.c_crossattn", 141 * 64)),
                   141 * 64, 1e-4);
        free(ctx);
        free(zero);
        pc_checkpoint_close(dd);
        pc_checkpoint_close(vd);
        pc_clip_tokenizer_free(tok);
    }

    // ---- errors: wrong head count, missing key ----
    {
        pc_clip *bad = NULL;
        pc_clip_config c2 = cfg;
        c2.text_heads = 5;
        PC_CHECK(pc_clip_from_checkpoint(&bad, ck, &c2, NULL, &err) == PC_ERR_SHAPE && !bad,
                 "64-wide text with 5 heads rejected (%s)", err.msg);
        c2 = cfg;
        c2.vision_prefix = "embedder.model.";
        PC_CHECK(pc_clip_from_checkpoint(&bad, ck, &c2, NULL, &err) == PC_ERR_NOT_FOUND && !bad,
                 "wrong vision prefix -> PC_ERR_NOT_FOUND (%s)", err.msg);
    }

    // ---- the emulated device (the cuda backend's code over CPU twins of its kernels) ----
    {
        // PC_CLIP_DEVICE=cuda (scripts/gpu_check.sh) runs this part on the GPU instead
        const char *dev = getenv("PC_CLIP_DEVICE") && *getenv("PC_CLIP_DEVICE") ? getenv("PC_CLIP_DEVICE") : "emu";
        PC_CHECK(!strcmp(pc_clip_get_device(clip), "cpu"), "CLIP starts on the cpu");
        pc_test_ok(pc_clip_set_device(clip, dev, &err), &err, "set_device");
        PC_CHECK(!strcmp(pc_clip_get_device(clip), dev), "CLIP on %s", dev);
        float *te = (float *)malloc(sizeof(float) * 3 * 77 * 64);
        float *tok = (float *)malloc(sizeof(float) * 257 * 80);
        float *rs = (float *)malloc(sizeof(float) * 64 * 64);
        pc_test_ok(pc_clip_encode_text(clip, te, (const int64_t *)tt->data, 3, &err), &err, "encode text (emu)");
        check_emu("text_emb", te, pc_tensor_f32(need(gold, "text_emb", 3 * 77 * 64)), 3 * 77 * 64);
        const float *img = pc_tensor_f32(need(gold, "image", 3 * 320 * 512));
        pc_test_ok(pc_clip_encode_image(clip, tok, img, 1, 320, 512, &err), &err, "encode image (emu)");
        const float *gt = pc_tensor_f32(need(gold, "image_tokens", 257 * 80));
        check_emu("image_tokens", tok, gt, 257 * 80);
        pc_test_ok(pc_clip_resample(clip, rs, gt, 1, 257, &err), &err, "resample (emu)");
        check_emu("resampler_out", rs, pc_tensor_f32(need(gold, "resampler_out", 64 * 64)), 64 * 64);
        printf("  %s: largest normwise error %.2e\n", dev, emu_worst);
        pc_test_ok(pc_clip_set_device(clip, "cpu", &err), &err, "set_device(cpu)");
        pc_test_ok(pc_clip_encode_text(clip, te, (const int64_t *)tt->data, 3, &err), &err, "encode text (cpu)");
        PC_CHECK(!memcmp(te, temb, sizeof(float) * 3 * 77 * 64), "back on the cpu: text bit-identical to the first run");
        PC_CHECK(pc_clip_set_device(clip, "gpu", &err) == PC_ERR_ARG, "unknown device refused (%s)", err.msg);
        free(te);
        free(tok);
        free(rs);
    }

    free(temb);
    free(t1);
    pc_clip_free(clip);
    pc_pool_free(pool);
    pc_checkpoint_close(gold);
    pc_checkpoint_close(ck);
    return pc_test_finish();
}
