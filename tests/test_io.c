// Checkpoint readers on the golden files (safetensors vs torch zip), npy and PLY writers.
#define _GNU_SOURCE
#include "testutil.h"
#include "core/common.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Element-wise byte equality of two (possibly strided) tensors of equal dtype/shape.
static int tensor_bytes_equal(const pc_tensor *a, const pc_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    int64_t n = pc_tensor_numel(a);
    size_t es = pc_dtype_size(a->dtype);
    int64_t idx[PC_MAX_DIMS] = {0};
    for (int64_t k = 0; k < n; k++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < a->ndim; d++) {
            oa += idx[d] * a->strides[d];
            ob += idx[d] * b->strides[d];
        }
        if (memcmp((const char *)a->data + oa * (int64_t)es, (const char *)b->data + ob * (int64_t)es, es)) return 0;
        for (int d = a->ndim - 1; d >= 0; d--) {
            if (++idx[d] < a->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 1;
}

static void test_dust3r_pth_vs_safetensors(void) {
    char pst[1024], ppth[1024];
    pc_test_shared_path(pst, sizeof(pst), "golden/dust3r/tiny.safetensors");
    pc_test_shared_path(ppth, sizeof(ppth), "golden/dust3r/tiny.pth");
    pc_error err;
    pc_checkpoint *st, *pt;
    pc_test_ok(pc_checkpoint_open(&st, pst, &err), &err, "open tiny.safetensors");
    pc_test_ok(pc_checkpoint_open(&pt, ppth, &err), &err, "open tiny.pth");
    PC_CHECK(!strcmp(pc_checkpoint_format(st), "safetensors"), "tiny.safetensors format = %s", pc_checkpoint_format(st));
    PC_CHECK(!strcmp(pc_checkpoint_format(pt), "torch-zip"), "tiny.pth format = %s", pc_checkpoint_format(pt));
    size_t n = pc_checkpoint_count(st);
    PC_CHECK(n == 373 && pc_checkpoint_count(pt) == 373, "373 tensors in both (safetensors %zu, pth %zu)", n,
             pc_checkpoint_count(pt));
    size_t same = 0, same_order = 0;
    int64_t values = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = pc_checkpoint_name(st, i);
        const pc_tensor *a = pc_checkpoint_tensor(st, i), *b = pc_checkpoint_find(pt, name);
        if (b && tensor_bytes_equal(a, b)) same++;
        if (i < pc_checkpoint_count(pt) && !strcmp(name, pc_checkpoint_name(pt, i))) same_order++;
        values += pc_tensor_numel(a);
    }
    PC_CHECK(same == n, "every tensor identical in dtype, shape and bytes (%zu / %zu)", same, n);
    PC_CHECK(same_order == n, "same key order (%zu / %zu)", same_order, n);
    PC_CHECK(values == 2527080, "2 527 080 values (got %lld)", (long long)values);
    // layer{k}_rn and layer_rn.{k-1} are the same module in PyTorch; this .pth
    // stores them as separate storages with equal content (shared storages are
    // covered by test_io_formats).
    const char *a1 = "downstream_head1.dpt.scratch.layer1_rn.weight", *a2 = "downstream_head1.dpt.scratch.layer_rn.0.weight";
    const pc_tensor *t1 = pc_checkpoint_find(pt, a1), *t2 = pc_checkpoint_find(pt, a2);
    PC_CHECK(t1 && t2 && tensor_bytes_equal(t1, t2), "aliased keys %s / layer_rn.0 equal in the .pth", a1);
    const pc_tensor *s1 = pc_checkpoint_find(st, a1), *s2 = pc_checkpoint_find(st, a2);
    PC_CHECK(s1 && s2 && s1->data != s2->data && tensor_bytes_equal(s1, s2),
             "aliased keys are separate equal copies in the safetensors file");
    const char *m1 = pc_checkpoint_meta(pt, "args.model"), *m2 = pc_checkpoint_meta(st, "args");
    PC_CHECK(m1 && !strncmp(m1, "AsymmetricCroCo3DStereo(pos_embed='RoPE100'", 43), "args.model read from the .pth: %.60s",
             m1 ? m1 : "(null)");
    PC_CHECK(m1 && m2 && !strcmp(m1, m2), "args.model (.pth) == __metadata__ args (.safetensors)");
    PC_CHECK(pc_checkpoint_model_args(pt) == m1 && pc_checkpoint_model_args(st) == m2,
             "pc_checkpoint_model_args gives the model string for both formats");
    PC_CHECK(m2 && pc_checkpoint_meta(st, "format") && !strcmp(pc_checkpoint_meta(st, "format"), "pt"),
             "safetensors __metadata__ format = pt");
    // get(): shape check and messages
    const pc_tensor *w;
    int64_t want[4] = {128, 3, 16, 16}, bad[4] = {128, 3, 8, -1};
    PC_CHECK(pc_checkpoint_get(pt, "patch_embed.proj.weight", 4, want, &w, &err) == PC_OK && w,
             "get patch_embed.proj.weight (128, 3, 16, 16)");
    int64_t any[4] = {-1, -1, -1, -1};
    PC_CHECK(pc_checkpoint_get(st, "patch_embed.proj.weight", 4, any, &w, &err) == PC_OK, "get with -1 wildcards");
    pc_status s = pc_checkpoint_get(pt, "patch_embed.proj.weight", 4, bad, &w, &err);
    PC_CHECK(s == PC_ERR_SHAPE && strstr(err.msg, "patch_embed.proj.weight") && strstr(err.msg, "(128, 3, 16, 16)") &&
                 strstr(err.msg, "tiny.pth"),
             "wrong shape -> PC_ERR_SHAPE: %s", err.msg);
    s = pc_checkpoint_get(pt, "patch_embed.proj.weight", 2, NULL, &w, &err);
    PC_CHECK(s == PC_ERR_SHAPE, "wrong rank -> PC_ERR_SHAPE: %s", err.msg);
    s = pc_checkpoint_get(st, "no.such.key", 1, NULL, &w, &err);
    PC_CHECK(s == PC_ERR_NOT_FOUND && strstr(err.msg, "no.such.key"), "absent -> PC_ERR_NOT_FOUND: %s", err.msg);
    PC_CHECK(pc_checkpoint_find(st, "no.such.key") == NULL, "find absent -> NULL");
    pc_checkpoint_close(st);
    pc_checkpoint_close(pt);
}

static void test_pair_safetensors(void) {
    char p[1024];
    pc_test_shared_path(p, sizeof(p), "golden/dust3r/pair.safetensors");
    pc_error err;
    pc_checkpoint *ck;
    pc_test_ok(pc_checkpoint_open(&ck, p, &err), &err, "open pair.safetensors");
    const pc_tensor *t;
    int64_t s_u8[4] = {1, 3, 384, 512}, s_ts[2] = {1, 2}, s_pos[3] = {1, 768, 2};
    PC_CHECK(pc_checkpoint_get(ck, "img1_u8", 4, s_u8, &t, &err) == PC_OK && t->dtype == PC_U8, "img1_u8 U8 (1,3,384,512)");
    PC_CHECK(pc_checkpoint_get(ck, "true_shape1", 2, s_ts, &t, &err) == PC_OK && t->dtype == PC_I32 &&
                 ((int32_t *)t->data)[0] == 384 && ((int32_t *)t->data)[1] == 512,
             "true_shape1 = [384, 512] (I32)");
    PC_CHECK(pc_checkpoint_get(ck, "pos1", 3, s_pos, &t, &err) == PC_OK && t->dtype == PC_I64, "pos1 I64 (1,768,2)");
    pc_checkpoint_close(ck);
}

// The DynamiCrafter goldens are Lightning-style {'state_dict': ...}; the tiny
// unet/vae hold every real key of their prefix (from real_model_keys.json).
static void test_dynamicrafter_ckpts(void) {
    char pj[1024];
    pc_test_shared_path(pj, sizeof(pj), "golden/dynamicrafter/real_model_keys.json");
    FILE *f = fopen(pj, "rb");
    if (!f) pc_test_fatal("cannot open %s", pj);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *js = (char *)malloc((size_t)len + 1);
    if (!js || fread(js, 1, (size_t)len, f) != (size_t)len) pc_test_fatal("read %s", pj);
    js[len] = 0;
    fclose(f);
    cJSON *root = cJSON_Parse(js);
    free(js);
    const cJSON *keys = root && root->child && cJSON_IsObject(root->child) ? root->child : NULL;
    PC_CHECK(keys != NULL, "real_model_keys.json parsed");
    static const struct {
        const char *file, *prefix;
        size_t count;
    } cases[] = {{"golden/dynamicrafter/unet_tiny.ckpt", "model.diffusion_model.", 1514},
                 {"golden/dynamicrafter/vae_tiny.ckpt", "first_stage_model.", 244},
                 {"golden/dynamicrafter/clip_tiny.ckpt", NULL, 0}};
    for (size_t c = 0; c < PC_ARRAY_LEN(cases); c++) {
        char p[1024];
        pc_test_shared_path(p, sizeof(p), cases[c].file);
        pc_error err;
        pc_checkpoint *ck;
        double t0 = pc_time_sec();
        pc_status st = pc_checkpoint_open(&ck, p, &err);
        double dt = pc_time_sec() - t0;
        PC_CHECK(st == PC_OK, "open %s (%.1f ms) %s", cases[c].file, 1e3 * dt, st == PC_OK ? "" : err.msg);
        if (st != PC_OK) continue;
        size_t n = pc_checkpoint_count(ck), in_real = 0, real_with_prefix = 0;
        for (size_t i = 0; i < n; i++)
            if (keys && cJSON_GetObjectItemCaseSensitive(keys, pc_checkpoint_name(ck, i))) in_real++;
        if (cases[c].prefix) {
            for (const cJSON *k = keys ? keys->child : NULL; k; k = k->next)
                if (!strncmp(k->string, cases[c].prefix, strlen(cases[c].prefix))) real_with_prefix++;
            // the tiny config drops a few keys (e.g. input_blocks.4.0.skip_connection)
            PC_CHECK(n == cases[c].count && real_with_prefix >= n, "%s: %zu keys (want %zu; real model has %zu)",
                     cases[c].file, n, cases[c].count, real_with_prefix);
        }
        PC_CHECK(n > 0 && in_real == n, "%s: all %zu keys are real DynamiCrafter state_dict keys (%zu found)",
                 cases[c].file, n, in_real);
        int f32 = 1;
        for (size_t i = 0; i < n; i++) f32 &= pc_checkpoint_tensor(ck, i)->dtype == PC_F32;
        PC_CHECK(f32, "%s: all tensors F32", cases[c].file);
        pc_checkpoint_close(ck);
    }
    cJSON_Delete(root);
}

static void test_npy(void) {
    pc_error err;
    char path[64];
    snprintf(path, sizeof(path), "test_io_%d.npy", (int)getpid());
    // F32 (3, 4), round trip
    pc_tensor a;
    int64_t sh[2] = {3, 4};
    pc_test_ok(pc_tensor_alloc(&a, PC_F32, 2, sh, &err), &err, "alloc");
    for (int i = 0; i < 12; i++) pc_tensor_f32(&a)[i] = (float)i * 0.5f - 1.0f;
    pc_test_ok(pc_npy_save(path, &a, &err), &err, "npy save");
    struct stat sb;
    memset(&sb, 0, sizeof(sb));
    int sr = stat(path, &sb);
    PC_CHECK(sr == 0 && sb.st_size == 128 + 48, ".npy size %lld = 64-aligned header + data",
             (long long)sb.st_size);
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    PC_CHECK(access(tmp, F_OK) != 0, "no .tmp left behind (atomic rename)");
    pc_tensor b;
    pc_test_ok(pc_npy_load(&b, path, &err), &err, "npy load");
    PC_CHECK(b.dtype == PC_F32 && b.ndim == 2 && b.shape[0] == 3 && b.shape[1] == 4 && tensor_bytes_equal(&a, &b),
             ".npy F32 (3, 4) round trip");
    pc_tensor_free(&b);
    // a transposed (strided) view is written in C order of the view
    pc_tensor tv;
    int perm[2] = {1, 0};
    pc_test_ok(pc_tensor_permute(&tv, &a, perm, &err), &err, "permute");
    pc_test_ok(pc_npy_save(path, &tv, &err), &err, "npy save strided");
    pc_test_ok(pc_npy_load(&b, path, &err), &err, "npy load");
    PC_CHECK(b.shape[0] == 4 && b.shape[1] == 3 && tensor_bytes_equal(&tv, &b), ".npy of a transposed view");
    pc_tensor_free(&b);
    pc_tensor_free(&a);
    // integer dtypes and 0-d / 1-d
    pc_tensor c;
    int64_t s1[1] = {5};
    pc_test_ok(pc_tensor_alloc(&c, PC_I64, 1, s1, &err), &err, "alloc");
    for (int i = 0; i < 5; i++) ((int64_t *)c.data)[i] = -3 + i * 1000000000000LL;
    pc_test_ok(pc_npy_save(path, &c, &err), &err, "npy save i64");
    pc_test_ok(pc_npy_load(&b, path, &err), &err, "npy load i64");
    PC_CHECK(b.dtype == PC_I64 && b.ndim == 1 && tensor_bytes_equal(&b, &c), ".npy I64 (5,) round trip");
    pc_tensor_free(&b);
    pc_tensor_free(&c);
    pc_test_ok(pc_tensor_alloc(&c, PC_U8, 0, NULL, &err), &err, "alloc 0-d");
    ((uint8_t *)c.data)[0] = 200;
    pc_test_ok(pc_npy_save(path, &c, &err), &err, "npy save 0-d");
    pc_test_ok(pc_npy_load(&b, path, &err), &err, "npy load 0-d");
    PC_CHECK(b.dtype == PC_U8 && b.ndim == 0 && ((uint8_t *)b.data)[0] == 200, ".npy U8 0-d round trip");
    pc_tensor_free(&b);
    pc_tensor_free(&c);
    // Fortran order, written by hand: shape (2, 3), values 0..5 in column-major order
    FILE *f = fopen(path, "wb");
    const char *hdr = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }";
    char h[118];
    memset(h, ' ', sizeof(h));
    memcpy(h, hdr, strlen(hdr));
    h[117] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    int32_t colmajor[6] = {0, 3, 1, 4, 2, 5};  // C-order values 0 1 2 / 3 4 5
    fwrite(pre, 1, 10, f);
    fwrite(h, 1, sizeof(h), f);
    fwrite(colmajor, 4, 6, f);
    fclose(f);
    pc_test_ok(pc_npy_load(&b, path, &err), &err, "npy load fortran");
    int ok = b.dtype == PC_I32 && b.ndim == 2 && b.shape[0] == 2 && b.shape[1] == 3;
    for (int i = 0; ok && i < 6; i++) ok = ((int32_t *)b.data)[i] == i;
    PC_CHECK(ok, ".npy fortran_order=True read back in C order");
    pc_tensor_free(&b);
    // malformed
    f = fopen(path, "wb");
    fwrite(pre, 1, 10, f);
    fwrite(h, 1, sizeof(h), f);
    fwrite(colmajor, 4, 3, f);  // truncated data
    fclose(f);
    pc_status st = pc_npy_load(&b, path, &err);
    PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, "truncated"), "truncated .npy: %s", err.msg);
    f = fopen(path, "wb");
    fwrite("NOTNUMPY........", 1, 16, f);
    fclose(f);
    st = pc_npy_load(&b, path, &err);
    PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, "magic"), "bad .npy magic: %s", err.msg);
    remove(path);
    pc_tensor bf;
    pc_test_ok(pc_tensor_alloc(&bf, PC_BF16, 1, s1, &err), &err, "alloc bf16");
    PC_CHECK(pc_npy_save(path, &bf, &err) == PC_ERR_UNSUPPORTED, "bf16 .npy -> unsupported: %s", err.msg);
    pc_tensor_free(&bf);
    PC_CHECK(pc_npy_save("/nonexistent-dir/x.npy", &bf, &err) != PC_OK, "unwritable path -> error");
}

static void test_ply(void) {
    pc_error err;
    char path[64];
    snprintf(path, sizeof(path), "test_io_%d.ply", (int)getpid());
    float xyz[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8.5f};
    uint8_t rgb[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
    pc_test_ok(pc_ply_save(path, xyz, rgb, 3, &err), &err, "ply save");
    FILE *f = fopen(path, "rb");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f) fclose(f);
    const char *eh = n ? (const char *)memmem(buf, n, "end_header\n", 11) : NULL;
    size_t body = eh ? n - (size_t)(eh + 11 - buf) : 0;
    PC_CHECK(eh && !strncmp(buf, "ply\nformat binary_little_endian 1.0\n", 36) && memmem(buf, n, "element vertex 3\n", 17) &&
                 body == 3 * 15,
             "PLY header + 3 records of 15 bytes (got %zu)", body);
    float x2;
    if (eh) memcpy(&x2, eh + 11 + 30 + 8, 4);
    PC_CHECK(eh && x2 == 8.5f && (uint8_t)eh[11 + 30 + 14] == 255, "PLY record content");
    pc_test_ok(pc_ply_save(path, xyz, NULL, 3, &err), &err, "ply save xyz only");
    struct stat sb;
    memset(&sb, 0, sizeof(sb));
    int sr = stat(path, &sb);
    PC_CHECK(sr == 0 && sb.st_size > 36 && (size_t)sb.st_size < 36 + 200 + 36, "PLY without colour");
    remove(path);
}

int main(void) {
    test_npy();
    test_ply();
    test_dust3r_pth_vs_safetensors();
    test_pair_safetensors();
    test_dynamicrafter_ckpts();
    return pc_test_finish();
}
