// dust3r: AsymmetricCroCo3DStereo.forward on the tiny golden model vs the upstream dump
// (golden/dust3r/pair.safetensors): patch embedding, every encoder block, decoder embed and every
// decoder layer of both decoders, every DPT stage, the raw head output and pts3d/conf, at 64x48
// (s64_*) and 512x384. Inputs are the golden uint8 images normalised like torchvision.
#include "testutil.h"
#include "models/dust3r_internal.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATOL 1e-4
#define RTOL 1e-4

typedef struct {
    pc_checkpoint *gold;
    const char *prefix;  // "" or "s64_"
    int n_checked;
    int n_missing_shape;
} trace_ctx;

static void on_trace(void *p, const char *name, const float *data, int ndim, const int64_t *shape) {
    trace_ctx *c = (trace_ctx *)p;
    char key[128];
    snprintf(key, sizeof(key), "%s%s", c->prefix, name);
    const pc_tensor *g = pc_checkpoint_find(c->gold, key);
    if (!g) return;  // not every stage is stored at every size
    int ok = g->ndim == ndim && g->dtype == PC_F32;
    for (int i = 0; ok && i < ndim; i++) ok = g->shape[i] == shape[i];
    if (!ok) {
        PC_CHECK(0, "%s: traced shape matches the golden shape", key);
        c->n_missing_shape++;
        return;
    }
    char what[160];
    snprintf(what, sizeof(what), "%s (dust3r stage)", key);
    pc_test_close(what, data, (const float *)g->data, (size_t)pc_tensor_numel(g), ATOL, RTOL);
    c->n_checked++;
}

static void run_size(pc_dust3r *net, pc_checkpoint *gold, const char *prefix, int expect_stages) {
    pc_error err;
    char k1[64], k2[64];
    pc_tensor img[2] = {{0}};
    for (int v = 0; v < 2; v++) {
        snprintf(k1, sizeof(k1), "%simg%d_u8", prefix, v + 1);
        pc_test_dust3r_input(&img[v], pc_test_need(gold, k1));
        snprintf(k2, sizeof(k2), "%simg%d", prefix, v + 1);
        const pc_tensor *gf = pc_checkpoint_find(gold, k2);
        if (gf) {
            char what[128];
            snprintf(what, sizeof(what), "%s (normalised input)", k2);
            pc_test_close(what, (const float *)img[v].data, (const float *)gf->data, (size_t)pc_tensor_numel(gf), 0, 0);
        }
    }
    trace_ctx tc = {gold, prefix, 0, 0};
    pc_dust3r_set_trace(net, on_trace, &tc);
    pc_dust3r_pair_out out;
    double t0 = pc_time_sec();
    pc_test_ok(pc_dust3r_pair(net, &img[0], &img[1], &out, &err), &err, "pc_dust3r_pair");
    printf("  forward at %s: %.2f s, arena %.1f MB\n", prefix[0] ? prefix : "512", pc_time_sec() - t0,
           (double)pc_dust3r_arena_bytes(net) / 1e6);
    pc_dust3r_set_trace(net, NULL, NULL);
    PC_CHECK(tc.n_checked == expect_stages, "%s: %d intermediate tensors compared (expected %d)",
             prefix[0] ? prefix : "512", tc.n_checked, expect_stages);
    const char *pn[2] = {"pred1_pts3d", "pred2_pts3d_in_other_view"};
    const char *cn[2] = {"pred1_conf", "pred2_conf"};
    for (int v = 0; v < 2; v++) {
        snprintf(k1, sizeof(k1), "%s%s", prefix, pn[v]);
        const pc_tensor *gp = pc_test_need(gold, k1);
        PC_CHECK(pc_tensor_numel(gp) == pc_tensor_numel(&out.view[v].pts3d), "%s: size", k1);
        pc_test_close(k1, (const float *)out.view[v].pts3d.data, (const float *)gp->data,
                      (size_t)pc_tensor_numel(gp), ATOL, RTOL);
        snprintf(k1, sizeof(k1), "%s%s", prefix, cn[v]);
        const pc_tensor *gc = pc_test_need(gold, k1);
        pc_test_close(k1, (const float *)out.view[v].conf.data, (const float *)gc->data, (size_t)pc_tensor_numel(gc),
                      ATOL, RTOL);
    }
    // batch-of-pairs API: symmetric pairs reuse the encoder outputs and match the single-pair call
    if (prefix[0]) {
        const pc_tensor *imgs[2] = {&img[0], &img[1]};
        const int pairs[2][2] = {{0, 1}, {1, 0}};
        pc_dust3r_pair_out outs[2];
        pc_test_ok(pc_dust3r_pairs(net, imgs, 2, pairs, 2, outs, &err), &err, "pc_dust3r_pairs");
        for (int v = 0; v < 2; v++)
            pc_test_close("pairs()[0] vs pair()", (const float *)outs[0].view[v].pts3d.data,
                          (const float *)out.view[v].pts3d.data, (size_t)pc_tensor_numel(&out.view[v].pts3d), 1e-5,
                          1e-5);
        PC_CHECK(outs[1].view[0].pts3d.shape[0] == img[1].shape[2], "pairs()[1] is (view 2, view 1)");
        pc_dust3r_pair_out_free(&outs[0]);
        pc_dust3r_pair_out_free(&outs[1]);
    }
    pc_dust3r_pair_out_free(&out);
    pc_tensor_free(&img[0]);
    pc_tensor_free(&img[1]);
}

// Copy of tiny.safetensors with one substring of the JSON header replaced by another of the same length.
static void write_patched(const char *src, const char *dst, const char *from, const char *to) {
    FILE *f = fopen(src, "rb");
    if (!f) pc_test_fatal("cannot read %s", src);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) pc_test_fatal("cannot read %s", src);
    fclose(f);
    buf[n] = 0;
    uint64_t hl = 0;
    memcpy(&hl, buf, 8);  // little-endian host
    char *hit = NULL;
    for (char *p = buf + 8; p + strlen(from) <= buf + 8 + hl; p++)
        if (!memcmp(p, from, strlen(from))) {
            hit = p;
            break;
        }
    if (!hit || strlen(from) != strlen(to)) pc_test_fatal("patch '%s' not applicable", from);
    memcpy(hit, to, strlen(to));
    f = fopen(dst, "wb");
    if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n) pc_test_fatal("cannot write %s", dst);
    fclose(f);
    free(buf);
}

int main(void) {
    char pair_path[1024], st_path[1024], pth_path[1024];
    pc_test_shared_path(pair_path, sizeof(pair_path), "golden/dust3r/pair.safetensors");
    pc_test_shared_path(st_path, sizeof(st_path), "golden/dust3r/tiny.safetensors");
    pc_test_shared_path(pth_path, sizeof(pth_path), "golden/dust3r/tiny.pth");
    pc_error err;
    pc_checkpoint *gold;
    pc_test_ok(pc_checkpoint_open(&gold, pair_path, &err), &err, "open pair.safetensors");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");

    pc_dust3r *net;
    pc_test_ok(pc_dust3r_load(&net, st_path, pool, &err), &err, "load tiny.safetensors");
    const pc_dust3r_config *c = pc_dust3r_get_config(net);
    PC_CHECK(c->enc_dim == 128 && c->enc_depth == 3 && c->enc_heads == 4 && c->dec_dim == 96 && c->dec_depth == 4 &&
                 c->dec_heads == 3 && c->patch == 16 && c->enc_mlp == 512 && c->dec_mlp == 384,
             "architecture from args + shapes: enc 128/3/4 heads, dec 96/4/3 heads (head_dim 32), patch 16");
    PC_CHECK(c->head == PC_DUST3R_HEAD_DPT && c->dpt_layer_dims[0] == 16 && c->dpt_layer_dims[1] == 32 &&
                 c->dpt_layer_dims[2] == 48 && c->dpt_layer_dims[3] == 64 && c->dpt_feature_dim == 32 &&
                 c->dpt_last_dim == 16,
             "DPT widths from shapes: [16,32,48,64], feature 32, last 16");
    PC_CHECK(c->dpt_hooks[0] == 0 && c->dpt_hooks[1] == 2 && c->dpt_hooks[2] == 3 && c->dpt_hooks[3] == 4,
             "DPT hooks [0,2,3,4]");
    PC_CHECK(c->rope_base == 100.0f && c->depth_mode == PC_DUST3R_DEPTH_EXP && c->conf_mode == PC_DUST3R_CONF_EXP &&
                 c->conf_vmin == 1.0f && isinf(c->conf_vmax),
             "RoPE100, depth exp, conf (exp, 1, inf)");
    printf("  tiny model: %lld parameters\n", (long long)pc_dust3r_num_params(net));

    // s64: every stage (3 enc blocks + patch + enc per view, embed + 4 dec + prenorm, 4 act + 4 rn + 4 refinenets
    // + 3 head stages + raw per view)
    run_size(net, gold, "s64_", 2 * (1 + 3 + 1) + 2 * (1 + 4 + 1) + 2 * (4 + 4 + 4 + 3 + 1));
    // 512x384: patch, enc, dec 1..4 per view
    run_size(net, gold, "", 2 * (1 + 1 + 4));
    pc_dust3r_free(net);

    // the official .pth format loads to the same model
    pc_test_ok(pc_dust3r_load(&net, pth_path, pool, &err), &err, "load tiny.pth");
    run_size(net, gold, "s64_", 2 * (1 + 3 + 1) + 2 * (1 + 4 + 1) + 2 * (4 + 4 + 4 + 3 + 1));
    pc_dust3r_free(net);

    // bad inputs: clear errors, no crash
    pc_status st = pc_dust3r_load(&net, pair_path, pool, &err);
    PC_CHECK(st != PC_OK && strstr(err.msg, "patch_embed.proj.weight"), "a non-model file fails naming the key: %s",
             err.msg);
    st = pc_dust3r_load(&net, "/nonexistent/model.pth", pool, &err);
    PC_CHECK(st != PC_OK, "a missing file fails: %s", err.msg);

    // corrupted copies of the tiny checkpoint: a renamed (so missing) key, a transposed (so misshaped) tensor
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "/tmp/test_dust3r_%d.safetensors", (int)getpid());
    write_patched(st_path, tmp, "\"enc_norm.weight\"", "\"enc_norm.weighX\"");
    st = pc_dust3r_load(&net, tmp, pool, &err);
    PC_CHECK(st == PC_ERR_NOT_FOUND && strstr(err.msg, "'enc_norm.weight'"), "missing tensor named: %s", err.msg);
    write_patched(st_path, tmp, "\"shape\":[384,128]", "\"shape\":[128,384]");
    st = pc_dust3r_load(&net, tmp, pool, &err);
    PC_CHECK(st == PC_ERR_SHAPE && strstr(err.msg, "enc_blocks.0.attn.qkv.weight"), "misshaped tensor named: %s",
             err.msg);
    remove(tmp);

    pc_dust3r_config bad = {0};
    pc_test_ok(pc_dust3r_parse_args("AsymmetricCroCo3DStereo(pos_embed='RoPE100', head_type='linear', "
                                    "output_mode='pts3d', depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), "
                                    "enc_embed_dim=1024, enc_depth=24, enc_num_heads=16, dec_embed_dim=768, "
                                    "dec_depth=12, dec_num_heads=12, landscape_only=True)",
                                    &bad, &err),
               &err, "parse linear args");
    PC_CHECK(bad.head == PC_DUST3R_HEAD_LINEAR && bad.enc_heads == 16 && bad.dec_heads == 12 && bad.landscape_only,
             "args parser: linear head, 16/12 heads, landscape_only");
    st = pc_dust3r_parse_args("AsymmetricCroCo3DStereo(pos_embed='cosine')", &bad, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "cosine pos_embed is reported unsupported: %s", err.msg);
    st = pc_dust3r_parse_args("AsymmetricMASt3RWithDUNEBackbone(pos_embed='RoPE100')", &bad, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "another model class is reported unsupported: %s", err.msg);

    pc_checkpoint_close(gold);
    pc_pool_free(pool);
    return pc_test_finish();
}
