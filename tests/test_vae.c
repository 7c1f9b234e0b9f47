// DynamiCrafter KL-VAE (lvdm AutoencoderKL: ae_modules Encoder / Decoder, DiagonalGaussianDistribution,
// LatentDiffusion encode_first_stage / decode_first_stage with perframe_ae) vs the goldens:
//   vae_tiny.ckpt + vae_tiny.safetensors: every encoder / decoder block output, moments, mean, logvar,
//   std, decoded; ddim.safetensors: posterior of the 4 pipeline frames, z with the recorded noise,
//   decode_first_stage(samples). Tolerance (README §8): max|c - ref| <= 1e-4 * max|ref| per tensor.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/vae_internal.h"
#include "testutil.h"

static const double RTOL = 1e-4;

// Normwise check: max|got - want| <= rtol * max|want|.
static int close_norm(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    return pc_test_close(name, got, want, n, rtol * mx, 0.0);
}

static const pc_tensor *need(const pc_checkpoint *ck, const char *name) {
    const pc_tensor *t = pc_checkpoint_find(ck, name);
    if (!t || t->dtype != PC_F32 || !pc_tensor_is_contiguous(t))
        pc_test_fatal("golden tensor '%s' missing or not contiguous f32", name);
    return t;
}

// ---- trace: compare every block output with dbg.<name> --------------------------------------

typedef struct trace_ctx {
    const pc_checkpoint *gold;
    int n_checked;
} trace_ctx;

static void on_trace(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    trace_ctx *tc = (trace_ctx *)ctx;
    char key[128];
    snprintf(key, sizeof(key), strcmp(name, "moments") ? "dbg.%s" : "%s", name);
    const pc_tensor *t = pc_checkpoint_find(tc->gold, key);
    if (!t) return;  // e.g. decoder end (covered by `decoded`)
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    PC_CHECK(same, "%s: shape matches the golden", key);
    if (!same) return;
    char label[160];
    snprintf(label, sizeof(label), "vae %s", key);
    close_norm(label, data, pc_tensor_f32(t), (size_t)pc_tensor_numel(t), RTOL);
    tc->n_checked++;
}

// ---- key list -------------------------------------------------------------------------------

typedef struct keys_ctx {
    const pc_checkpoint *ck;
    size_t i;
    int bad_order, bad_shape, missing;
} keys_ctx;

static int on_key(void *ctx, const char *name, int ndim, const int64_t *shape) {
    keys_ctx *k = (keys_ctx *)ctx;
    if (k->i < pc_checkpoint_count(k->ck) && strcmp(pc_checkpoint_name(k->ck, k->i), name)) {
        if (!k->bad_order) printf("  key order differs at %zu: %s vs %s\n", k->i, name, pc_checkpoint_name(k->ck, k->i));
        k->bad_order++;
    }
    k->i++;
    const pc_tensor *t = pc_checkpoint_find(k->ck, name);
    if (!t) {
        printf("  key %s not in the checkpoint\n", name);
        k->missing++;
        return 0;
    }
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) k->bad_shape++;
    return 0;
}

// ---- sources that hide or reshape one key (error reporting) -----------------------------------

typedef struct fake_src {
    const pc_checkpoint *ck;
    const char *target;
    int mode;  // 0: hide target; 1: report target with a wrong shape
    pc_tensor fake;
} fake_src;

static const pc_tensor *fake_find(void *ctx, const char *name) {
    fake_src *f = (fake_src *)ctx;
    const pc_tensor *t = pc_checkpoint_find(f->ck, name);
    if (!t || strcmp(name, f->target)) return t;
    if (f->mode == 0) return NULL;
    f->fake = *t;
    f->fake.shape[0] += 1;
    return &f->fake;
}
static pc_status fake_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err) {
    const pc_tensor *t = fake_find(ctx, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s' not found", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] == -1 || shape[i] == t->shape[i];
    if (!ok) return pc_err(err, PC_ERR_SHAPE, "tensor '%s' has the wrong shape", name);
    *out = t;
    return PC_OK;
}

static void test_errors(const pc_checkpoint *ck) {
    static const char *const targets[] = {
        "first_stage_model.decoder.up.2.block.1.conv2.weight",
        "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight",
        "first_stage_model.decoder.mid.attn_1.proj_out.bias",
        "first_stage_model.post_quant_conv.weight",
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        for (int mode = 0; mode < 2; mode++) {
            fake_src f = {ck, targets[i], mode, {0}};
            pc_vae *v = NULL;
            pc_error err = {{0}};
            pc_status st = pc_vae_create_from_source(&v, fake_get, fake_find, &f, NULL, NULL, &err);
            PC_CHECK(st == (mode ? PC_ERR_SHAPE : PC_ERR_NOT_FOUND) && v == NULL && strstr(err.msg, targets[i]),
                     "%s key %s -> %s: %s", mode ? "misshaped" : "missing", targets[i], pc_status_str(st), err.msg);
            pc_vae_free(v);
        }
    }
}

// ---- tiny VAE module test ---------------------------------------------------------------------

static void test_tiny(pc_pool *pool) {
    char ckp[1024], gp[1024];
    pc_test_shared_path(ckp, sizeof(ckp), "golden/dynamicrafter/vae_tiny.ckpt");
    pc_test_shared_path(gp, sizeof(gp), "golden/dynamicrafter/vae_tiny.safetensors");
    pc_error err;
    pc_checkpoint *ck, *gold;
    pc_test_ok(pc_checkpoint_open(&ck, ckp, &err), &err, "open vae_tiny.ckpt");
    pc_test_ok(pc_checkpoint_open(&gold, gp, &err), &err, "open vae_tiny.safetensors");
    pc_vae *vae;
    pc_test_ok(pc_vae_from_checkpoint(&vae, ck, NULL, pool, &err), &err, "bind VAE");
    const pc_vae_config *c = pc_vae_get_config(vae);
    PC_CHECK(c->ch == 32 && c->n_levels == 4 && c->ch_mult[0] == 1 && c->ch_mult[1] == 2 && c->ch_mult[2] == 2 &&
                 c->ch_mult[3] == 2 && c->num_res_blocks == 2 && c->z_channels == 4 && c->embed_dim == 4 &&
                 c->in_channels == 3 && c->out_ch == 3,
             "config from shapes: ch %d, levels %d, mult [%d %d %d %d], res blocks %d, z %d, embed %d", c->ch,
             c->n_levels, c->ch_mult[0], c->ch_mult[1], c->ch_mult[2], c->ch_mult[3], c->num_res_blocks,
             c->z_channels, c->embed_dim);
    int64_t total = 0;
    for (size_t i = 0; i < pc_checkpoint_count(ck); i++) total += pc_tensor_numel(pc_checkpoint_tensor(ck, i));
    PC_CHECK(pc_vae_num_params(vae) == total, "all %lld checkpoint values bound (%lld)", (long long)total,
             (long long)pc_vae_num_params(vae));

    keys_ctx kc = {ck, 0, 0, 0, 0};
    pc_vae_visit_keys(c, "first_stage_model.", on_key, &kc);
    PC_CHECK(kc.i == pc_checkpoint_count(ck) && !kc.bad_order && !kc.bad_shape && !kc.missing,
             "state_dict key list: %zu generated, %zu in the checkpoint (order diffs %d, shape diffs %d, missing %d)",
             kc.i, pc_checkpoint_count(ck), kc.bad_order, kc.bad_shape, kc.missing);

    trace_ctx tc = {gold, 0};
    pc_vae_set_trace(vae, on_trace, &tc);
    const pc_tensor *img = need(gold, "image");  // (1, 3, 32, 48)
    const int64_t H = img->shape[2], W = img->shape[3], h = H / 8, w = W / 8, n = 4 * h * w;
    float *mean = malloc(sizeof(float) * 3 * n), *logvar = mean + n, *sd = mean + 2 * n;
    pc_test_ok(pc_vae_encode_frame(vae, mean, logvar, sd, 0, pc_tensor_f32(img), 0, H, W, &err), &err, "encode");
    close_norm("vae mean", mean, pc_tensor_f32(need(gold, "mean")), (size_t)n, RTOL);
    close_norm("vae logvar", logvar, pc_tensor_f32(need(gold, "logvar")), (size_t)n, RTOL);
    close_norm("vae std", sd, pc_tensor_f32(need(gold, "std")), (size_t)n, RTOL);
    PC_CHECK(tc.n_checked == 17, "encoder: %d traced block outputs compared (17 expected)", tc.n_checked);
    printf("  encode: %.3f MFLOP\n", pc_vae_last_flops(vae) * 1e-6);

    tc.n_checked = 0;
    const pc_tensor *z = need(gold, "z");
    float *dec = malloc(sizeof(float) * 3 * H * W);
    pc_test_ok(pc_vae_decode_frame(vae, dec, 0, pc_tensor_f32(z), 0, h, w, &err), &err, "decode");
    close_norm("vae decoded", dec, pc_tensor_f32(need(gold, "decoded")), (size_t)(3 * H * W), RTOL);
    PC_CHECK(tc.n_checked == 20, "decoder: %d traced block outputs compared (20 expected)", tc.n_checked);

    // bad sizes fail cleanly
    PC_CHECK(pc_vae_encode_frame(vae, mean, NULL, NULL, 0, pc_tensor_f32(img), 0, 30, 48, &err) == PC_ERR_ARG,
             "encode of a 30x48 frame is refused: %s", err.msg);
    PC_CHECK(pc_vae_decode_frame(vae, dec, 0, pc_tensor_f32(z), 0, 0, 6, &err) == PC_ERR_ARG,
             "decode of a 0x6 latent is refused: %s", err.msg);

    free(mean);
    free(dec);
    pc_vae_set_trace(vae, NULL, NULL);
    test_errors(ck);
    // a checkpoint without first-stage weights (the UNet's) is refused with the key named
    char up[1024];
    pc_test_shared_path(up, sizeof(up), "golden/dynamicrafter/unet_tiny.ckpt");
    pc_vae *bad = NULL;
    PC_CHECK(pc_vae_load(&bad, up, NULL, &err) == PC_ERR_NOT_FOUND && !bad &&
                 strstr(err.msg, "first_stage_model.encoder.conv_in.weight"),
             "unet_tiny.ckpt has no VAE: %s", err.msg);
    pc_vae_free(vae);
    pc_checkpoint_close(gold);
    pc_checkpoint_close(ck);
}

// ---- pipeline VAE use in ddim.safetensors -----------------------------------------------------

static void test_pipeline(pc_pool *pool) {
    char ckp[1024], gp[1024];
    pc_test_shared_path(ckp, sizeof(ckp), "golden/dynamicrafter/vae_tiny.ckpt");
    pc_test_shared_path(gp, sizeof(gp), "golden/dynamicrafter/ddim.safetensors");
    pc_error err;
    pc_checkpoint *gold;
    pc_vae *vae;
    pc_test_ok(pc_vae_load(&vae, ckp, pool, &err), &err, "load vae_tiny.ckpt");
    pc_test_ok(pc_checkpoint_open(&gold, gp, &err), &err, "open ddim.safetensors");
    const pc_tensor *ia = need(gold, "image_a"), *ib = need(gold, "image_b");  // (1, 3, 128, 192)
    const int64_t T = 4, H = ia->shape[2], W = ia->shape[3], h = H / 8, w = W / 8, hw = h * w, HW = H * W;
    // videos = [a, a, b, b] along T, (3, T, H, W)
    float *video = malloc(sizeof(float) * 3 * T * HW);
    for (int64_t c = 0; c < 3; c++)
        for (int64_t t = 0; t < T; t++)
            memcpy(video + (c * T + t) * HW, pc_tensor_f32(t < T / 2 ? ia : ib) + c * HW, sizeof(float) * HW);
    // per-frame posterior (T, 4, h, w) of frames 1 (image a) and 2 (image b), strided out of the video
    float *mean = malloc(sizeof(float) * 4 * hw), *sd = malloc(sizeof(float) * 4 * hw);
    for (int64_t t = 1; t <= 2; t++) {
        pc_test_ok(pc_vae_encode_frame(vae, mean, NULL, sd, 0, video + t * HW, T * HW, H, W, &err), &err, "encode frame");
        char label[96];
        snprintf(label, sizeof(label), "pipeline vae.posterior_mean[%lld]", (long long)t);
        close_norm(label, mean, pc_tensor_f32(need(gold, "vae.posterior_mean")) + t * 4 * hw, (size_t)(4 * hw), RTOL);
        snprintf(label, sizeof(label), "pipeline vae.posterior_std[%lld]", (long long)t);
        close_norm(label, sd, pc_tensor_f32(need(gold, "vae.posterior_std")) + t * 4 * hw, (size_t)(4 * hw), RTOL);
    }
    // encode_first_stage with the recorded noise: z (4, T, h, w) = 0.18215 * z_unscaled
    float *z = malloc(sizeof(float) * 4 * T * hw), *zw = malloc(sizeof(float) * 4 * T * hw);
    pc_test_ok(pc_vae_encode_video(vae, z, video, pc_tensor_f32(need(gold, "vae.posterior_noise")), T, H, W, &err), &err,
               "encode video");
    const float *zu = pc_tensor_f32(need(gold, "vae.z_unscaled"));  // (T, 4, h, w)
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < 4; c++)
            for (int64_t i = 0; i < hw; i++) zw[(c * T + t) * hw + i] = 0.18215f * zu[(t * 4 + c) * hw + i];
    close_norm("pipeline z = 0.18215 * (mean + std * noise)", z, zw, (size_t)(4 * T * hw), RTOL);
    // c_concat = z at frames 0 and T-1, zeros between
    const float *cc = pc_tensor_f32(need(gold, "c_concat"));  // (1, 4, T, h, w)
    double worst = 0, mx = 0;
    for (int64_t c = 0; c < 4; c++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < hw; i++) {
                float want = cc[(c * T + t) * hw + i];
                float got = (t == 0 || t == T - 1) ? z[(c * T + t) * hw + i] : 0.0f;
                worst = fabs(got - want) > worst ? fabs(got - want) : worst;
                mx = fabs(want) > mx ? fabs(want) : mx;
            }
    PC_CHECK(worst <= RTOL * mx, "pipeline c_concat from our z: max|d| %.3g <= %.3g", worst, RTOL * mx);
    // decode_first_stage(samples) (3, T, H, W), on frames 0 and T-1 (a 2-frame clip; keeps the ASan run short)
    const float *smp = pc_tensor_f32(need(gold, "samples")), *gdec = pc_tensor_f32(need(gold, "decoded"));
    float *z2 = malloc(sizeof(float) * 4 * 2 * hw), *dec = malloc(sizeof(float) * 3 * 2 * HW),
          *want = malloc(sizeof(float) * 3 * 2 * HW);
    for (int64_t c = 0; c < 4; c++)
        for (int k = 0; k < 2; k++) memcpy(z2 + (c * 2 + k) * hw, smp + (c * T + (k ? T - 1 : 0)) * hw, sizeof(float) * hw);
    for (int64_t c = 0; c < 3; c++)
        for (int k = 0; k < 2; k++)
            memcpy(want + (c * 2 + k) * HW, gdec + (c * T + (k ? T - 1 : 0)) * HW, sizeof(float) * HW);
    pc_test_ok(pc_vae_decode_video(vae, dec, z2, 2, h, w, &err), &err, "decode video");
    close_norm("pipeline decoded = decode_first_stage(samples), frames 0, T-1", dec, want, (size_t)(3 * 2 * HW), RTOL);
    free(z2);
    free(want);
    printf("  decode of one %lldx%lld frame: %.1f MFLOP, arena %.1f MB\n", (long long)H, (long long)W,
           pc_vae_last_flops(vae) * 1e-6, pc_vae_arena_bytes(vae) / 1048576.0);
    free(video);
    free(mean);
    free(sd);
    free(z);
    free(zw);
    free(dec);
    pc_checkpoint_close(gold);
    pc_vae_free(vae);
}

// ---- random model: determinism across thread counts, config validation ------------------------

static void test_random(pc_pool *pool) {
    pc_error err;
    pc_vae_config cfg;
    pc_vae_config_default(&cfg);
    cfg.ch = 32;
    cfg.ch_mult[2] = 2;
    cfg.ch_mult[3] = 2;
    pc_vae *a, *b;
    pc_test_ok(pc_vae_create_random(&a, &cfg, 7, NULL, &err), &err, "random VAE (1 thread)");
    pc_test_ok(pc_vae_create_random(&b, &cfg, 7, pool, &err), &err, "random VAE (pool)");
    const int64_t h = 2, w = 3, n = 4 * h * w, N = 3 * 16 * 24;
    float z[4 * 2 * 3], o1[3 * 16 * 24], o2[3 * 16 * 24];
    pc_test_rng r = {42};
    pc_test_fill(&r, z, (size_t)n, 1.0f);
    pc_test_ok(pc_vae_decode_frame(a, o1, 0, z, 0, h, w, &err), &err, "decode random (1 thread)");
    pc_test_ok(pc_vae_decode_frame(b, o2, 0, z, 0, h, w, &err), &err, "decode random (pool)");
    int finite = 1;
    for (int64_t i = 0; i < N; i++) finite &= isfinite(o1[i]) != 0;
    PC_CHECK(finite, "random decode is finite");
    close_norm("random decode, 1 thread vs pool", o2, o1, (size_t)N, 1e-5);
    pc_vae_free(a);
    pc_vae_free(b);
    cfg.ch = 48;
    PC_CHECK(pc_vae_create_random(&a, &cfg, 7, NULL, &err) == PC_ERR_SHAPE && a == NULL,
             "ch = 48 (not a multiple of 32 groups) is refused: %s", err.msg);
}

int main(void) {
    pc_pool *pool = NULL;
    pc_error err;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    test_random(pool);
    test_tiny(pool);
    test_pipeline(pool);
    pc_pool_free(pool);
    return pc_test_finish();
}
