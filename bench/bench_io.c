// bench_io: opening checkpoints the size of the real models.
//
// Writes two sparse files with the full DynamiCrafter-512 key set (2520 keys,
// 2.61 G float32 values = 10.4 GB; from golden/dynamicrafter/real_model_keys.json,
// or 2520 synthetic keys when that is absent): a safetensors file and a torch
// zip64 archive laid out like torch.save's (data.pkl + one 64-byte aligned
// entry per storage). The tensor data are holes, so the files take no disk space
// and any code that reads the data would show up as time and RSS. Then opens
// each file several times and reports open time, lookup time and peak RSS, then binds the whole DynamiCrafter
// model set (UNet, VAE, CLIP, Resampler) from the .ckpt as the CLI does and reports that time and RSS.
//
//   bench_io [real_model_keys.json] [repeats]
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "test_io_builders.h"
#include "testutil.h"

typedef struct {
    char name[256];
    int nd;
    int64_t shape[PC_MAX_DIMS];
    uint64_t numel;
} key_t_;

static key_t_ *load_keys(const char *path, size_t *n) {
    key_t_ *k = NULL;
    *n = 0;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *js = (char *)malloc((size_t)len + 1);
        if (js && fread(js, 1, (size_t)len, f) == (size_t)len) {
            js[len] = 0;
            cJSON *root = cJSON_Parse(js);
            const cJSON *obj = root && root->child && cJSON_IsObject(root->child) ? root->child : NULL;
            size_t cnt = 0;
            for (const cJSON *e = obj ? obj->child : NULL; e; e = e->next) cnt++;
            k = (key_t_ *)calloc(cnt ? cnt : 1, sizeof(key_t_));
            for (const cJSON *e = obj ? obj->child : NULL; e && k; e = e->next) {
                key_t_ *x = &k[*n];
                snprintf(x->name, sizeof(x->name), "%s", e->string);
                const cJSON *sh = cJSON_GetObjectItem(e, "shape");
                x->numel = 1;
                for (const cJSON *d = sh ? sh->child : NULL; d && x->nd < PC_MAX_DIMS; d = d->next) {
                    x->shape[x->nd++] = (int64_t)d->valuedouble;
                    x->numel *= (uint64_t)d->valuedouble;
                }
                (*n)++;
            }
            cJSON_Delete(root);
        }
        free(js);
        fclose(f);
    }
    if (*n) return k;
    free(k);
    *n = 2520;  // synthetic stand-in with about the same total size
    k = (key_t_ *)calloc(*n, sizeof(key_t_));
    for (size_t i = 0; i < *n; i++) {
        snprintf(k[i].name, sizeof(k[i].name), "model.diffusion_model.blocks.%zu.weight", i);
        k[i].nd = 2;
        k[i].shape[0] = 1024;
        k[i].shape[1] = 1010;
        k[i].numel = 1024 * 1010;
    }
    return k;
}

static void pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
    if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n) pc_test_fatal("pwrite failed");
}

static uint64_t write_safetensors(const char *path, const key_t_ *k, size_t n) {
    bb h = {0};
    char tmp[512];
    uint64_t off = 0;
    bb_str(&h, "{");
    for (size_t i = 0; i < n; i++) {
        snprintf(tmp, sizeof(tmp), "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", k[i].name);
        bb_str(&h, tmp);
        for (int d = 0; d < k[i].nd; d++) {
            snprintf(tmp, sizeof(tmp), "%s%lld", d ? "," : "", (long long)k[i].shape[d]);
            bb_str(&h, tmp);
        }
        snprintf(tmp, sizeof(tmp), "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + 4 * k[i].numel));
        bb_str(&h, tmp);
        off += 4 * k[i].numel;
    }
    bb_str(&h, ",\"__metadata__\":{\"format\":\"pt\"}}");
    while (h.n % 8) bb_u8(&h, ' ');
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) pc_test_fatal("cannot create %s", path);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    pwrite_all(fd, len, 8, 0);
    pwrite_all(fd, h.p, h.n, 8);
    uint64_t total = 8 + h.n + off;
    if (ftruncate(fd, (off_t)total) != 0) pc_test_fatal("ftruncate failed");
    close(fd);
    bb_free(&h);
    return total;
}

// Local header + data at a 64-byte aligned offset (data itself left as a hole).
static uint64_t zip_local(int fd, uint64_t at, const char *name, const void *data, uint64_t size, uint32_t crc) {
    size_t nl = strlen(name);
    size_t pad = (64 - (at + 30 + nl + 20) % 64) % 64;  // zip64 extra (20) + padding extra
    if (pad && pad < 4) pad += 64;
    bb h = {0};
    bb_u32(&h, 0x04034b50u);
    bb_u16(&h, 45);
    bb_u16(&h, 0);
    bb_u16(&h, 0);
    bb_u32(&h, 0);
    bb_u32(&h, crc);
    bb_u32(&h, 0xFFFFFFFFu);
    bb_u32(&h, 0xFFFFFFFFu);
    bb_u16(&h, (unsigned)nl);
    bb_u16(&h, (unsigned)(20 + pad));
    bb_str(&h, name);
    bb_u16(&h, 1);
    bb_u16(&h, 16);
    bb_u64(&h, size);
    bb_u64(&h, size);
    if (pad) {
        bb_u16(&h, 0x4650);
        bb_u16(&h, (unsigned)(pad - 4));
        for (size_t i = 4; i < pad; i++) bb_u8(&h, 'Z');
    }
    pwrite_all(fd, h.p, h.n, at);
    uint64_t data_at = at + h.n;
    if (data) pwrite_all(fd, data, (size_t)size, data_at);
    bb_free(&h);
    return data_at + size;
}

static void zip_central(bb *cd, const char *name, uint64_t size, uint64_t loff, uint32_t crc) {
    size_t nl = strlen(name);
    bb_u32(cd, 0x02014b50u);
    bb_u16(cd, 45);
    bb_u16(cd, 45);
    bb_u16(cd, 0);
    bb_u16(cd, 0);
    bb_u32(cd, 0);
    bb_u32(cd, crc);
    bb_u32(cd, 0xFFFFFFFFu);
    bb_u32(cd, 0xFFFFFFFFu);
    bb_u16(cd, (unsigned)nl);
    bb_u16(cd, 28);
    bb_u16(cd, 0);
    bb_u16(cd, 0);
    bb_u16(cd, 0);
    bb_u32(cd, 0);
    bb_u32(cd, 0xFFFFFFFFu);
    bb_str(cd, name);
    bb_u16(cd, 1);
    bb_u16(cd, 24);
    bb_u64(cd, size);
    bb_u64(cd, size);
    bb_u64(cd, loff);
}

static uint64_t write_torch_zip(const char *path, const key_t_ *k, size_t n) {
    // data.pkl: {'state_dict': OrderedDict(key -> _rebuild_tensor_v2(storage i, 0, shape, stride))}
    bb pk = {0};
    bb_u8(&pk, 0x80);
    bb_u8(&pk, 2);
    bb_u8(&pk, '}');
    pk_str(&pk, "state_dict");
    pk_global(&pk, "collections", "OrderedDict");
    bb_u8(&pk, ')');
    bb_u8(&pk, 'R');
    bb_u8(&pk, '(');
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%zu", i);
        int64_t stride[PC_MAX_DIMS], s = 1;
        for (int d = k[i].nd - 1; d >= 0; d--) {
            stride[d] = s;
            s *= k[i].shape[d];
        }
        pk_str(&pk, k[i].name);
        pk_tensor(&pk, "FloatStorage", key, (int64_t)k[i].numel, 0, k[i].nd, k[i].shape, stride);
    }
    bb_u8(&pk, 'u');
    bb_u8(&pk, 's');
    bb_u8(&pk, '.');
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) pc_test_fatal("cannot create %s", path);
    bb cd = {0};
    uint32_t crc = (uint32_t)crc32(0, pk.p, (uInt)pk.n);
    uint64_t at = zip_local(fd, 0, "model/data.pkl", pk.p, pk.n, crc);
    zip_central(&cd, "model/data.pkl", pk.n, 0, crc);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "model/data/%zu", i);
        uint64_t loff = at;
        at = zip_local(fd, at, name, NULL, 4 * k[i].numel, 0);
        zip_central(&cd, name, 4 * k[i].numel, loff, 0);
    }
    uint64_t cd_off = at;
    pwrite_all(fd, cd.p, cd.n, cd_off);
    bb t = {0};
    uint64_t z64 = cd_off + cd.n;
    bb_u32(&t, 0x06064b50u);
    bb_u64(&t, 44);
    bb_u16(&t, 45);
    bb_u16(&t, 45);
    bb_u32(&t, 0);
    bb_u32(&t, 0);
    bb_u64(&t, n + 1);
    bb_u64(&t, n + 1);
    bb_u64(&t, cd.n);
    bb_u64(&t, cd_off);
    bb_u32(&t, 0x07064b50u);
    bb_u32(&t, 0);
    bb_u64(&t, z64);
    bb_u32(&t, 1);
    bb_u32(&t, 0x06054b50u);
    bb_u16(&t, 0);
    bb_u16(&t, 0);
    bb_u16(&t, 0xFFFF);
    bb_u16(&t, 0xFFFF);
    bb_u32(&t, 0xFFFFFFFFu);
    bb_u32(&t, 0xFFFFFFFFu);
    bb_u16(&t, 0);
    pwrite_all(fd, t.p, t.n, z64);
    close(fd);
    uint64_t total = z64 + t.n;
    bb_free(&pk);
    bb_free(&cd);
    bb_free(&t);
    return total;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_open(const char *label, const char *path, uint64_t bytes, const key_t_ *k, size_t n, int reps) {
    double t_open[64], t_find[64];
    size_t found = 0;
    pc_error err;
    for (int r = 0; r < reps; r++) {
        pc_checkpoint *ck;
        double t0 = pc_time_sec();
        if (pc_checkpoint_open(&ck, path, &err) != PC_OK) pc_test_fatal("%s: %s", label, err.msg);
        double t1 = pc_time_sec();
        found = 0;
        for (size_t i = 0; i < n; i++) found += pc_checkpoint_find(ck, k[i].name) != NULL;
        double t2 = pc_time_sec();
        t_open[r] = t1 - t0;
        t_find[r] = t2 - t1;
        pc_checkpoint_close(ck);
    }
    qsort(t_open, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_find, (size_t)reps, sizeof(double), cmp_d);
    printf("| %-22s | %6.2f GB | %5zu / %5zu | %8.1f ms | %8.1f ms | %8.3f ms |\n", label, (double)bytes / 1e9, found, n,
           1e3 * t_open[reps / 2], 1e3 * t_open[0], 1e3 * t_find[reps / 2]);
}

int main(int argc, char **argv) {
    char keys_path[1024];
    snprintf(keys_path, sizeof(keys_path), "%s/golden/dynamicrafter/real_model_keys.json", pc_test_shared_dir());
    const char *kp = argc > 1 ? argv[1] : keys_path;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    size_t n;
    key_t_ *k = load_keys(kp, &n);
    uint64_t values = 0;
    for (size_t i = 0; i < n; i++) values += k[i].numel;
    char st_path[64], zip_path[64];
    snprintf(st_path, sizeof(st_path), "bench_io_%d.safetensors", (int)getpid());
    snprintf(zip_path, sizeof(zip_path), "bench_io_%d.ckpt", (int)getpid());
    double t0 = pc_time_sec();
    uint64_t st_bytes = write_safetensors(st_path, k, n);
    uint64_t zip_bytes = write_torch_zip(zip_path, k, n);
    printf("bench_io: %zu keys, %.2f G float32 values (%s); sparse files written in %.2f s\n", n, (double)values / 1e9,
           access(kp, R_OK) == 0 ? "real DynamiCrafter-512 key set" : "synthetic keys", pc_time_sec() - t0);
    size_t rss0 = pc_peak_rss_bytes();
    printf("\n| file                   |  size     | keys found    | open median | open best   | %zu lookups |\n", n);
    printf("|------------------------|-----------|---------------|-------------|-------------|------------|\n");
    bench_open("safetensors", st_path, st_bytes, k, n, reps);
    bench_open("torch zip64 (.ckpt)", zip_path, zip_bytes, k, n, reps);
    size_t rss1 = pc_peak_rss_bytes();
    printf("\npeak RSS: %.1f MB before opening, %.1f MB after (files are %.1f GB: the tensor data is never read)\n",
           (double)rss0 / 1e6, (double)rss1 / 1e6, (double)(st_bytes + zip_bytes) / 1e9);
    // Bind the whole DynamiCrafter model set (UNet, VAE, CLIP towers, Resampler) from the 10.4 GB torch zip64
    // file, as `posecrafter interp` / `pose` do: what the loaders copy or convert shows up here as time and RSS.
    char vocab[1024];
    snprintf(vocab, sizeof(vocab), "%s/golden/dynamicrafter/bpe_simple_vocab_16e6.txt.gz", pc_test_shared_dir());
    if (access(kp, R_OK) == 0 && access(vocab, R_OK) == 0) {
        pc_diffusion_bundle bd;
        pc_error err;
        pc_pool *pool = NULL;
        double tb = pc_time_sec();
        const char *files[1] = {zip_path};
        if (pc_pool_create(&pool, 2, &err) == PC_OK &&
            pc_diffusion_bundle_load(&bd, files, 1, vocab, NULL, NULL, 0.18215, pool, &err) == PC_OK) {
            const double dt = pc_time_sec() - tb;
            printf("bound the full model set from the %.1f GB .ckpt (UNet %.3f G + VAE %.3f G params, CLIP towers, "
                   "Resampler) in %.2f s; peak RSS %.2f GB\n",
                   (double)zip_bytes / 1e9, pc_unet_num_params(bd.m.unet) / 1e9, pc_vae_num_params(bd.m.vae) / 1e9, dt,
                   (double)pc_peak_rss_bytes() / 1e9);
            pc_diffusion_bundle_free(&bd);
        } else {
            printf("binding the model set failed: %s\n", err.msg);
        }
        pc_pool_free(pool);
    }
    remove(st_path);
    if (!getenv("BENCH_IO_KEEP")) remove(zip_path);
    free(k);
    return 0;
}
