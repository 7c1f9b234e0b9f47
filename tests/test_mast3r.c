// mast3r: AsymmetricMASt3R.forward (DUSt3R's trunk + the 'catmlp+dpt' head) on the tiny golden model vs
// the upstream dump (golden/mast3r/pair.safetensors): every encoder/decoder stage, the DPT stages, the
// local-feature MLP (fc1, GELU), the raw 29-channel head output, pts3d / conf / desc / desc_conf, at 64x48
// (s64_*, in full) and 368x512 (tokens in full, raw / desc / desc_conf on the [4::8, 4::8] grid).
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
} trace_ctx;

// (C, H, W) or (H, W, C) map sampled at rows/cols 4, 12, ... -> out (as the golden *_grid8 tensors)
static float *grid8(const float *x, int64_t C, int64_t H, int64_t W, int channels_last, int64_t *gh, int64_t *gw) {
    *gh = (H - 4 + 7) / 8, *gw = (W - 4 + 7) / 8;
    float *o = malloc(sizeof(float) * (size_t)(C * *gh * *gw));
    for (int64_t y = 0; y < *gh; y++)
        for (int64_t xx = 0; xx < *gw; xx++)
            for (int64_t c = 0; c < C; c++) {
                int64_t sy = 4 + 8 * y, sx = 4 + 8 * xx;
                float v = channels_last ? x[(sy * W + sx) * C + c] : x[(c * H + sy) * W + sx];
                if (channels_last) o[(y * *gw + xx) * C + c] = v;
                else o[(c * *gh + y) * *gw + xx] = v;
            }
    return o;
}

static void on_trace(void *p, const char *name, const float *data, int ndim, const int64_t *shape) {
    trace_ctx *c = (trace_ctx *)p;
    char key[128];
    snprintf(key, sizeof(key), "%s%s", c->prefix, name);
    const pc_tensor *g = pc_checkpoint_find(c->gold, key);
    int ok = g && g->ndim == ndim && g->dtype == PC_F32;
    for (int i = 0; ok && i < ndim; i++) ok = g->shape[i] == shape[i];
    if (g && !ok) PC_CHECK(0, "%s: traced shape matches the golden shape", key);
    if (ok) {
        char what[160];
        snprintf(what, sizeof(what), "%s (mast3r stage)", key);
        pc_test_close(what, data, (const float *)g->data, (size_t)pc_tensor_numel(g), ATOL, RTOL);
        c->n_checked++;
    }
    // the raw head output at 512 is stored on the grid only
    snprintf(key, sizeof(key), "%s%s_grid8", c->prefix, name);
    g = pc_checkpoint_find(c->gold, key);
    if (g && ndim == 4 && strstr(name, "_raw")) {
        int64_t gh, gw;
        float *s = grid8(data, shape[1], shape[2], shape[3], 0, &gh, &gw);
        PC_CHECK(g->shape[1] == shape[1] && g->shape[2] == gh && g->shape[3] == gw, "%s: grid shape", key);
        char what[200];
        snprintf(what, sizeof(what), "%.120s (raw head output, 29 channels, grid)", key);
        pc_test_close(what, s, (const float *)g->data, (size_t)pc_tensor_numel(g), ATOL, RTOL);
        free(s);
        c->n_checked++;
    }
}

static void run_size(pc_dust3r *net, pc_checkpoint *gold, const char *prefix, int expect) {
    pc_error err;
    char k[96];
    pc_tensor img[2] = {{0}};
    for (int v = 0; v < 2; v++) {
        snprintf(k, sizeof(k), "%simg%d_u8", prefix, v + 1);
        pc_test_dust3r_input(&img[v], pc_test_need(gold, k));
    }
    trace_ctx tc = {gold, prefix, 0};
    pc_dust3r_set_trace(net, on_trace, &tc);
    pc_dust3r_pair_out out;
    double t0 = pc_time_sec();
    pc_test_ok(pc_dust3r_pair(net, &img[0], &img[1], &out, &err), &err, "pc_dust3r_pair");
    printf("  forward at %s: %.2f s\n", prefix[0] ? prefix : "512", pc_time_sec() - t0);
    pc_dust3r_set_trace(net, NULL, NULL);
    PC_CHECK(tc.n_checked == expect, "%s: %d intermediate tensors compared (expected %d)", prefix[0] ? prefix : "512",
             tc.n_checked, expect);
    const char *pn[2] = {"pred1_pts3d", "pred2_pts3d_in_other_view"};
    for (int v = 0; v < 2; v++) {
        const pc_dust3r_view_pred *o = &out.view[v];
        const int64_t H = o->pts3d.shape[0], W = o->pts3d.shape[1];
        snprintf(k, sizeof(k), "%s%s", prefix, pn[v]);
        pc_test_close(k, (const float *)o->pts3d.data, (const float *)pc_test_need(gold, k)->data, (size_t)(H * W * 3), ATOL, RTOL);
        snprintf(k, sizeof(k), "%spred%d_conf", prefix, v + 1);
        pc_test_close(k, (const float *)o->conf.data, (const float *)pc_test_need(gold, k)->data, (size_t)(H * W), ATOL, RTOL);
        PC_CHECK(o->desc.ndim == 3 && o->desc.shape[0] == H && o->desc.shape[1] == W && o->desc.shape[2] == 24 &&
                     o->desc_conf.ndim == 2,
                 "view %d: desc (H, W, 24) and desc_conf (H, W)", v + 1);
        // desc are unit vectors
        double worst = 0;
        for (int64_t i = 0; i < H * W; i++) {
            double n2 = 0;
            for (int d = 0; d < 24; d++) n2 += pow(((const float *)o->desc.data)[i * 24 + d], 2);
            worst = fmax(worst, fabs(sqrt(n2) - 1));
        }
        PC_CHECK(worst < 1e-6, "view %d: descriptors are unit vectors (worst | |d| - 1 | %.2g)", v + 1, worst);
        int64_t gh, gw;
        float *dg = grid8((const float *)o->desc.data, 24, H, W, 1, &gh, &gw);
        float *cg = grid8((const float *)o->desc_conf.data, 1, H, W, 1, &gh, &gw);
        if (prefix[0]) {  // in full at 64x48
            snprintf(k, sizeof(k), "%spred%d_desc", prefix, v + 1);
            pc_test_close(k, (const float *)o->desc.data, (const float *)pc_test_need(gold, k)->data, (size_t)(H * W * 24), 1e-5, 0);
            snprintf(k, sizeof(k), "%spred%d_desc_conf", prefix, v + 1);
            pc_test_close(k, (const float *)o->desc_conf.data, (const float *)pc_test_need(gold, k)->data, (size_t)(H * W), ATOL, RTOL);
        }
        snprintf(k, sizeof(k), "%spred%d_desc_grid8", prefix, v + 1);
        pc_test_close(k, dg, (const float *)pc_test_need(gold, k)->data, (size_t)(gh * gw * 24), 1e-5, 0);
        snprintf(k, sizeof(k), "%spred%d_desc_conf_grid8", prefix, v + 1);
        pc_test_close(k, cg, (const float *)pc_test_need(gold, k)->data, (size_t)(gh * gw), ATOL, RTOL);
        free(dg);
        free(cg);
    }
    // descriptor output off: pointmaps identical, no descriptors
    pc_dust3r_set_desc_output(net, 0);
    pc_dust3r_pair_out o2;
    pc_test_ok(pc_dust3r_pair(net, &img[0], &img[1], &o2, &err), &err, "pc_dust3r_pair (no desc)");
    pc_dust3r_set_desc_output(net, 1);
    PC_CHECK(!o2.view[0].desc.data && !o2.view[1].desc_conf.data &&
                 !memcmp(o2.view[1].pts3d.data, out.view[1].pts3d.data, (size_t)pc_tensor_numel(&out.view[1].pts3d) * 4),
             "pc_dust3r_set_desc_output(0): same pointmaps, no descriptors");
    pc_dust3r_pair_out_free(&o2);
    pc_dust3r_pair_out_free(&out);
    pc_tensor_free(&img[0]);
    pc_tensor_free(&img[1]);
}

int main(void) {
    char pair_path[1024], st_path[1024], pth_path[1024];
    pc_test_shared_path(pair_path, sizeof(pair_path), "golden/mast3r/pair.safetensors");
    pc_test_shared_path(st_path, sizeof(st_path), "golden/mast3r/tiny.safetensors");
    pc_test_shared_path(pth_path, sizeof(pth_path), "golden/mast3r/tiny.pth");
    pc_error err;
    pc_checkpoint *gold;
    pc_test_ok(pc_checkpoint_open(&gold, pair_path, &err), &err, "open pair.safetensors");
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");

    pc_dust3r *net;
    pc_test_ok(pc_dust3r_load(&net, pth_path, pool, &err), &err, "load tiny.pth (official format)");
    const pc_dust3r_config *c = pc_dust3r_get_config(net);
    PC_CHECK(c->mast3r && c->head == PC_DUST3R_HEAD_CATMLP_DPT && c->desc_dim == 24 && c->two_confs &&
                 c->desc_conf_mode == PC_DUST3R_CONF_EXP && c->desc_conf_vmin == 0.0f && isinf(c->desc_conf_vmax) &&
                 c->local_mlp_hidden == 28 && pc_dust3r_has_desc(net),
             "AsymmetricMASt3R from args + shapes: catmlp+dpt, desc 24, two_confs, desc_conf (exp, 0, inf), MLP 224->28->6400");
    PC_CHECK(c->enc_dim == 128 && c->dec_dim == 96 && c->dpt_feature_dim == 32 && c->dpt_hooks[3] == 4,
             "trunk and DPT as the tiny DUSt3R's");
    printf("  tiny MASt3R: %lld parameters\n", (long long)pc_dust3r_num_params(net));
    // s64: patch, 3 blocks, enc; embed, 4 dec, prenorm; 4 act + 4 rn + 4 refinenets + 3 head; fc1, hidden, raw
    // (+ its grid twin) -- per view
    run_size(net, gold, "s64_", 2 * (1 + 3 + 1) + 2 * (1 + 4 + 1) + 2 * (4 + 4 + 4 + 3) + 2 * (2 + 2));
    // 512: patch, enc, dec 1..4, desc_mlp_hidden, raw grid -- per view
    run_size(net, gold, "", 2 * (1 + 1 + 4 + 1 + 1));
    pc_dust3r_free(net);
    pc_test_ok(pc_dust3r_load(&net, st_path, pool, &err), &err, "load tiny.safetensors");
    run_size(net, gold, "s64_", 2 * (1 + 3 + 1) + 2 * (1 + 4 + 1) + 2 * (4 + 4 + 4 + 3) + 2 * (2 + 2));
    pc_dust3r_free(net);

    pc_dust3r_config a = {0};
    pc_status st = pc_dust3r_parse_args("AsymmetricMASt3R(pos_embed='RoPE100', head_type='catmlp+dpt', "
                                        "output_mode='pts3d', conf_mode=('exp', 1, inf))", &a, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED && strstr(err.msg, "pts3d+desc"), "catmlp+dpt without descriptors: %s", err.msg);
    st = pc_dust3r_parse_args("AsymmetricMASt3R(pos_embed='RoPE100', head_type='catconv', output_mode='pts3d+desc24')",
                              &a, &err);
    PC_CHECK(st == PC_ERR_UNSUPPORTED, "an unknown MASt3R head is refused: %s", err.msg);
    pc_test_ok(pc_dust3r_parse_args("AsymmetricMASt3R(pos_embed='RoPE100', head_type='catmlp+dpt', "
                                    "output_mode='pts3d+desc24', conf_mode=('exp', 1, inf), two_confs=False)", &a, &err),
               &err, "parse two_confs=False");
    PC_CHECK(!a.two_confs && a.desc_conf_mode == PC_DUST3R_CONF_EXP && a.desc_conf_vmin == 1.0f,
             "no desc_conf_mode -> conf_mode's (exp, 1, inf); two_confs False");
    pc_checkpoint_close(gold);
    pc_pool_free(pool);
    return pc_test_finish();
}
