// Checkpoint readers on hand-made files: torch zip (incl. zip64, deflate, views,
// shared storages, Namespace args), legacy torch, safetensors edge cases, and
// malformed input of every kind -> a clear error, never a crash.
#define _GNU_SOURCE
#include "testutil.h"
#include "core/common.h"
#include "io/io_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_io_builders.h"

// ---- the reference torch checkpoint ----------------------------------------------------
// {'state_dict': OrderedDict(w=view, wt=transposed view, alias=whole storage 0, h=half tensor),
//  'epoch': 7, 'lr': 0.001, 'args': Namespace(model='M(x=1)', name='n'), 'flag': True,
//  'none': None, 'ints': [1, 2, 3]}
static void make_torch_pickle(bb *b, const char *sd_key) {
    bb_u8(b, 0x80);
    bb_u8(b, 4);  // PROTO 4
    bb_u8(b, 0x95);
    bb_u64(b, 0);  // FRAME (length ignored)
    bb_u8(b, '}');
    bb_u8(b, 0x94);  // MEMOIZE -> 0
    bb_u8(b, '(');
    pk_str(b, sd_key);
    // OrderedDict via STACK_GLOBAL
    pk_str(b, "collections");
    pk_str(b, "OrderedDict");
    bb_u8(b, 0x93);
    bb_u8(b, ')');
    bb_u8(b, 'R');
    bb_u8(b, 'q');
    bb_u8(b, 1);  // BINPUT 1
    bb_u8(b, '(');
    int64_t s22[2] = {2, 2}, st21[2] = {2, 1}, s32[2] = {3, 2}, st13[2] = {1, 3}, s6[1] = {6}, st1[1] = {1},
            s4[1] = {4};
    pk_str(b, "w");
    pk_tensor(b, "FloatStorage", "0", 6, 1, 2, s22, st21);
    pk_str(b, "wt");
    pk_tensor(b, "FloatStorage", "0", 6, 0, 2, s32, st13);
    pk_str(b, "alias");
    pk_tensor(b, "FloatStorage", "0", 6, 0, 1, s6, st1);
    pk_str(b, "h");
    // _rebuild_parameter(tensor, True, OrderedDict())
    pk_global(b, "torch._utils", "_rebuild_parameter");
    bb_u8(b, '(');
    pk_tensor(b, "HalfStorage", "1", 4, 0, 1, s4, st1);
    bb_u8(b, 0x88);
    pk_global(b, "collections", "OrderedDict");
    bb_u8(b, ')');
    bb_u8(b, 'R');
    bb_u8(b, 't');
    bb_u8(b, 'R');
    bb_u8(b, 'u');  // SETITEMS into the OrderedDict
    // OrderedDict BUILD with its _metadata attribute: must not become content
    bb_u8(b, '}');
    pk_str(b, "_metadata");
    bb_u8(b, '}');
    bb_u8(b, 's');
    bb_u8(b, 'b');
    pk_str(b, "epoch");
    pk_int(b, 7);
    pk_str(b, "lr");
    {
        bb_u8(b, 'G');
        double d = 0.001;
        uint64_t u;
        memcpy(&u, &d, 8);
        for (int i = 7; i >= 0; i--) bb_u8(b, (unsigned)(u >> (8 * i)) & 0xff);
    }
    pk_str(b, "args");
    pk_global(b, "argparse", "Namespace");
    bb_u8(b, ')');
    bb_u8(b, 0x81);  // NEWOBJ
    bb_u8(b, '}');
    bb_u8(b, '(');
    pk_str(b, "model");
    pk_str(b, "M(x=1)");
    pk_str(b, "name");
    pk_str(b, "n");
    bb_u8(b, 'u');
    bb_u8(b, 'b');  // BUILD
    pk_str(b, "flag");
    bb_u8(b, 0x88);
    pk_str(b, "none");
    bb_u8(b, 'N');
    pk_str(b, "ints");
    bb_u8(b, ']');
    bb_u8(b, '(');
    pk_int(b, 1);
    pk_int(b, 2);
    pk_int(b, 3);
    bb_u8(b, 'e');
    pk_str(b, "big");
    pk_int(b, -5000000000LL);
    bb_u8(b, 'u');
    bb_u8(b, '.');
}

static const float k_st0[6] = {0, 1, 2, 3, 4, 5};
static const uint16_t k_st1[4] = {0x3c00, 0x4000, 0xc000, 0x0000};  // 1, 2, -2, 0 in f16

static void make_torch_zip(bb *out, const uint8_t *pkl, size_t pn, int zip64, int deflate_pkl) {
    zent e[4] = {{"arch/data.pkl", pkl, pn, deflate_pkl},
                 {"arch/data/0", k_st0, sizeof(k_st0), 0},
                 {"arch/data/1", k_st1, sizeof(k_st1), 1},
                 {"arch/version", "3\n", 2, 0}};
    make_zip(out, e, 4, zip64);
}

static pc_status open_mem(pc_checkpoint **ck, const bb *b, pc_error *err) {
    return pc_checkpoint_open_memory(ck, b->p, b->n, "mem", err);
}

static void check_reference(pc_checkpoint *ck, const char *what, int meta) {
    const pc_tensor *w = pc_checkpoint_find(ck, "w"), *wt = pc_checkpoint_find(ck, "wt"),
                    *al = pc_checkpoint_find(ck, "alias"), *h = pc_checkpoint_find(ck, "h");
    PC_CHECK(pc_checkpoint_count(ck) == 4 && w && wt && al && h, "%s: 4 tensors w, wt, alias, h", what);
    if (!(w && wt && al && h)) return;
    const float *wf = (const float *)w->data;
    PC_CHECK(w->ndim == 2 && w->shape[0] == 2 && w->strides[0] == 2 && wf[0] == 1 && wf[1] == 2 && wf[2] == 3 && wf[3] == 4,
             "%s: view with storage offset 1 -> [[1,2],[3,4]]", what);
    const float *tf = (const float *)wt->data;
    PC_CHECK(wt->shape[0] == 3 && wt->strides[0] == 1 && wt->strides[1] == 3 && !pc_tensor_is_contiguous(wt) &&
                 tf[2 * 1 + 1 * 3] == 5,
             "%s: transposed view keeps its strides (no copy)", what);
    PC_CHECK((const float *)al->data + 1 == wf && al->data == wt->data, "%s: tensors on one storage share memory", what);
    PC_CHECK(h->dtype == PC_F16 && pc_f16_to_f32(((const uint16_t *)h->data)[2]) == -2.0f,
             "%s: _rebuild_parameter(HalfStorage) deflated -> F16 values", what);
    if (!meta) return;
    const char *am = pc_checkpoint_meta(ck, "args.model"), *ep = pc_checkpoint_meta(ck, "epoch"),
               *lr = pc_checkpoint_meta(ck, "lr"), *ints = pc_checkpoint_meta(ck, "ints"),
               *fl = pc_checkpoint_meta(ck, "flag"), *no = pc_checkpoint_meta(ck, "none"),
               *bg = pc_checkpoint_meta(ck, "big");
    PC_CHECK(am && !strcmp(am, "M(x=1)") && pc_checkpoint_meta(ck, "args.name"), "%s: args.model = %s", what,
             am ? am : "(null)");
    PC_CHECK(ep && !strcmp(ep, "7") && lr && !strcmp(lr, "0.001") && ints && !strcmp(ints, "[1, 2, 3]") && fl &&
                 !strcmp(fl, "True") && no && !strcmp(no, "None") && bg && !strcmp(bg, "-5000000000"),
             "%s: scalar metadata epoch=%s lr=%s ints=%s flag=%s none=%s big=%s", what, ep, lr, ints, fl, no, bg);
    PC_CHECK(!pc_checkpoint_meta(ck, "state_dict._metadata") && !pc_checkpoint_find(ck, "_metadata"),
             "%s: OrderedDict BUILD state is not content", what);
}

static void test_torch_zip(void) {
    pc_error err;
    bb pkl = {0};
    make_torch_pickle(&pkl, "state_dict");
    for (int variant = 0; variant < 3; variant++) {
        bb z = {0};
        make_torch_zip(&z, pkl.p, pkl.n, variant == 1, variant == 2);
        pc_checkpoint *ck;
        const char *what = variant == 0 ? "torch zip" : variant == 1 ? "torch zip64" : "torch zip, deflated data.pkl";
        pc_status st = open_mem(&ck, &z, &err);
        PC_CHECK(st == PC_OK, "%s opens %s", what, st ? err.msg : "");
        if (st == PC_OK) {
            PC_CHECK(!strcmp(pc_checkpoint_format(ck), "torch-zip"), "%s: format torch-zip", what);
            check_reference(ck, what, 1);
            pc_checkpoint_close(ck);
        }
        bb_free(&z);
    }
    // DUSt3R layout: state dict under 'model'
    bb p2 = {0}, z2 = {0};
    make_torch_pickle(&p2, "model");
    make_torch_zip(&z2, p2.p, p2.n, 0, 0);
    pc_checkpoint *ck;
    if (open_mem(&ck, &z2, &err) == PC_OK) {
        check_reference(ck, "state dict under 'model'", 1);
        pc_checkpoint_close(ck);
    } else {
        PC_CHECK(0, "state dict under 'model': %s", err.msg);
    }
    // the same file through the path API
    char path[64];
    snprintf(path, sizeof(path), "test_io_formats_%d.pth", (int)getpid());
    FILE *f = fopen(path, "wb");
    fwrite(z2.p, 1, z2.n, f);
    fclose(f);
    if (pc_checkpoint_open(&ck, path, &err) == PC_OK) {
        check_reference(ck, "torch zip from a file", 0);
        PC_CHECK(!strcmp(pc_checkpoint_path(ck), path), "path kept");
        pc_checkpoint_close(ck);
    } else {
        PC_CHECK(0, "torch zip from a file: %s", err.msg);
    }
    remove(path);
    bb_free(&p2);
    bb_free(&z2);
    bb_free(&pkl);
}

static void make_legacy(bb *out) {
    bb b = {0};
    // 1: magic number, 2: protocol 1001, 3: sys info {}, 4: object, 5: storage keys
    bb_u8(&b, 0x80);
    bb_u8(&b, 2);
    bb_u8(&b, 0x8a);
    bb_u8(&b, 10);
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    bb_put(&b, magic, 10);
    bb_u8(&b, '.');
    bb_u8(&b, 0x80);
    bb_u8(&b, 2);
    pk_int(&b, 1001);
    bb_u8(&b, '.');
    bb_u8(&b, 0x80);
    bb_u8(&b, 2);
    bb_u8(&b, '}');
    bb_u8(&b, '.');
    bb_u8(&b, 0x80);
    bb_u8(&b, 2);
    bb_u8(&b, '}');
    pk_str(&b, "w");
    // legacy pid: ('storage', type, key, location, numel, None)
    pk_global(&b, "torch._utils", "_rebuild_tensor_v2");
    bb_u8(&b, '(');
    bb_u8(&b, '(');
    pk_str(&b, "storage");
    pk_global(&b, "torch", "FloatStorage");
    pk_str(&b, "94000");
    pk_str(&b, "cpu");
    pk_int(&b, 3);
    bb_u8(&b, 'N');
    bb_u8(&b, 't');
    bb_u8(&b, 'Q');
    int64_t s3[1] = {3}, st1[1] = {1};
    pk_int(&b, 0);
    pk_tuple_ints(&b, 1, s3);
    pk_tuple_ints(&b, 1, st1);
    bb_u8(&b, 0x89);
    bb_u8(&b, 'N');
    bb_u8(&b, 't');
    bb_u8(&b, 'R');
    bb_u8(&b, 's');
    bb_u8(&b, '.');
    bb_u8(&b, 0x80);
    bb_u8(&b, 2);
    bb_u8(&b, ']');
    pk_str(&b, "94000");
    bb_u8(&b, 'a');
    bb_u8(&b, '.');
    bb_u64(&b, 3);
    float v[3] = {1.5f, -2.5f, 3.5f};
    bb_put(&b, v, sizeof(v));
    *out = b;
}

static void test_legacy(void) {
    pc_error err;
    bb b = {0};
    make_legacy(&b);
    pc_checkpoint *ck;
    pc_status st = open_mem(&ck, &b, &err);
    PC_CHECK(st == PC_OK, "legacy torch file opens %s", st ? err.msg : "");
    if (st == PC_OK) {
        const pc_tensor *w = pc_checkpoint_find(ck, "w");
        PC_CHECK(!strcmp(pc_checkpoint_format(ck), "torch-legacy") && w && w->shape[0] == 3 &&
                     ((float *)w->data)[1] == -2.5f,
                 "legacy torch: w = [1.5, -2.5, 3.5]");
        pc_checkpoint_close(ck);
    }
    b.n -= 4;  // truncate the storage data
    st = open_mem(&ck, &b, &err);
    PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, "past the end"), "truncated legacy storage: %s", err.msg);
    bb_free(&b);
}

// ---- safetensors ----------------------------------------------------------------------
static void make_st(bb *b, const char *json, size_t pad_to, const void *data, size_t dn) {
    size_t jl = strlen(json), hl = pad_to ? (jl + pad_to - 1) / pad_to * pad_to : jl;
    bb_u64(b, hl);
    bb_str(b, json);
    for (size_t i = jl; i < hl; i++) bb_u8(b, ' ');
    bb_put(b, data, dn);
}

static void expect_st(const char *json, size_t dn, pc_status want, const char *needle, const char *what) {
    bb b = {0};
    uint8_t data[64];
    for (int i = 0; i < 64; i++) data[i] = (uint8_t)i;
    make_st(&b, json, 8, data, dn);
    pc_checkpoint *ck = NULL;
    pc_error err;
    err.msg[0] = 0;
    pc_status st = open_mem(&ck, &b, &err);
    PC_CHECK(st == want && (!needle || strstr(err.msg, needle)), "safetensors %s -> %s: %s", what,
             pc_status_str(st), st ? err.msg : "ok");
    if (st == PC_OK) pc_checkpoint_close(ck);
    bb_free(&b);
}

static void test_safetensors(void) {
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                     "\"e\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[24,24]},"
                     "\"__metadata__\":{\"k\":\"v\"}}";
    expect_st(ok, 24, PC_OK, NULL, "valid (incl. 0-d and empty tensors)");
    // misaligned data (unpadded header) is copied to aligned memory
    {
        bb b = {0};
        float v[2] = {3.25f, -1.0f};
        make_st(&b, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, v, 8);
        pc_checkpoint *ck;
        pc_error err;
        pc_status st = open_mem(&ck, &b, &err);
        const pc_tensor *x = st == PC_OK ? pc_checkpoint_find(ck, "x") : NULL;
        PC_CHECK(x && ((uintptr_t)x->data % 4) == 0 && ((float *)x->data)[0] == 3.25f,
                 "misaligned safetensors data -> aligned copy with the right values");
        if (st == PC_OK) {
            PC_CHECK(pc_checkpoint_meta_count(ck) == 0, "no metadata");
            pc_checkpoint_close(ck);
        }
        bb_free(&b);
    }
    expect_st(ok, 20, PC_ERR_FORMAT, "out of bounds", "truncated data");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", 64, PC_ERR_FORMAT, "out of bounds",
              "offsets out of bounds");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 64, PC_ERR_FORMAT, "out of bounds",
              "begin > end");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 64, PC_ERR_FORMAT, "need 12",
              "size != numel * dtype size");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]},"
              "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
              64, PC_ERR_FORMAT, "overlapping", "overlapping ranges");
    expect_st("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 64, PC_ERR_UNSUPPORTED,
              "unknown dtype", "unknown dtype");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 64,
              PC_ERR_UNSUPPORTED, "rank 9", "rank 9");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 64, PC_ERR_FORMAT, "non-negative",
              "negative dimension");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 64, PC_ERR_FORMAT, "non-negative",
              "fractional dimension");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0.5,1]}}", 64, PC_ERR_FORMAT, "data_offsets",
              "fractional offset");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 64, PC_ERR_FORMAT, "data_offsets",
              "three offsets");
    expect_st("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 64,
              PC_ERR_FORMAT, "overflow", "huge declared shape");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 64,
              PC_ERR_FORMAT, "overflow", "empty tensor with huge other dims");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,4398046511104]}}", 64,
              PC_ERR_FORMAT, "out of bounds", "huge declared size");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 64, PC_ERR_FORMAT, "lacks", "missing data_offsets");
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
              "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
              64, PC_ERR_FORMAT, "duplicate", "duplicate name");
    expect_st("{\"a\":[1,2]}", 64, PC_ERR_FORMAT, "not an object", "entry not an object");
    expect_st("{\"__metadata__\":{\"k\":1}}", 64, PC_ERR_FORMAT, "not a string", "metadata value not a string");
    expect_st("{\"a\":{\"dtype\":\"U8\",", 64, PC_ERR_FORMAT, "JSON", "bad JSON");
    // header length larger than the file
    {
        bb b = {0};
        bb_u64(&b, 1000);
        bb_str(&b, "{\"a\":1}");
        pc_checkpoint *ck;
        pc_error err;
        pc_status st = open_mem(&ck, &b, &err);
        PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, "exceeds the file size"), "header length > file: %s", err.msg);
        bb_free(&b);
    }
    // header length above the 100 MB limit (sparse file, nothing is read)
    {
        char path[64];
        snprintf(path, sizeof(path), "test_io_big_%d.safetensors", (int)getpid());
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        uint8_t h[9];
        uint64_t hl = 101ull << 20;
        for (int i = 0; i < 8; i++) h[i] = (uint8_t)(hl >> (8 * i));
        h[8] = '{';
        int okw = fd >= 0 && write(fd, h, 9) == 9 && ftruncate(fd, (off_t)(hl + 64)) == 0;
        if (fd >= 0) close(fd);
        pc_checkpoint *ck;
        pc_error err;
        pc_status st = okw ? pc_checkpoint_open(&ck, path, &err) : PC_ERR_IO;
        PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, "limit"), "header length over 100 MB: %s",
                 okw ? err.msg : "could not create file");
        remove(path);
    }
}

// ---- malformed zip / pickle ----------------------------------------------------------------
static void expect_mem(const uint8_t *p, size_t n, pc_status want, const char *needle, const char *what) {
    pc_checkpoint *ck = NULL;
    pc_error err;
    err.msg[0] = 0;
    pc_status st = pc_checkpoint_open_memory(&ck, p, n, "mem", &err);
    PC_CHECK(st == want && (!needle || strstr(err.msg, needle)), "%s -> %s: %s", what, pc_status_str(st),
             st ? err.msg : "ok");
    if (st == PC_OK) pc_checkpoint_close(ck);
}

// A torch zip around a given pickle (storage '0' = 6 floats, '1' = 4 halfs deflated).
static void expect_pickle(const bb *pkl, pc_status want, const char *needle, const char *what) {
    bb z = {0};
    make_torch_zip(&z, pkl->p, pkl->n, 0, 0);
    expect_mem(z.p, z.n, want, needle, what);
    bb_free(&z);
}

static size_t find_sig(const bb *b, uint32_t sig, int last) {
    size_t at = SIZE_MAX;
    for (size_t i = 0; i + 4 <= b->n; i++)
        if (pc_rd_u32le(b->p + i) == sig) {
            at = i;
            if (!last) break;
        }
    return at;
}

static void test_malformed_zip(void) {
    bb pkl = {0}, z = {0};
    make_torch_pickle(&pkl, "state_dict");
    make_torch_zip(&z, pkl.p, pkl.n, 0, 0);
    size_t eocd = find_sig(&z, 0x06054b50u, 1), cd = find_sig(&z, 0x02014b50u, 0);
    bb c = {0};
    expect_mem(z.p, z.n / 2, PC_ERR_FORMAT, "end-of-central-directory", "zip truncated to half");
    expect_mem(z.p, z.n - 1, PC_ERR_FORMAT, "end-of-central-directory", "zip missing its last byte");
    bb_put(&c, z.p, z.n);
    c.p[cd] = 'X';
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "central directory entry", "corrupt central directory signature");
    memcpy(c.p, z.p, z.n);
    c.p[eocd + 16] = 0xff;
    c.p[eocd + 17] = 0xff;
    c.p[eocd + 18] = 0xff;
    c.p[eocd + 19] = 0x7f;
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "outside the file", "central directory offset past the end");
    memcpy(c.p, z.p, z.n);
    c.p[eocd + 10] = 0x60;
    c.p[eocd + 11] = 0xea;
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "entries", "entry count larger than the directory");
    memcpy(c.p, z.p, z.n);
    c.p[30] ^= 1;  // first local header's name
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "local header does not match", "local header name mismatch");
    memcpy(c.p, z.p, z.n);
    c.p[cd + 42] = 0xf0;  // local header offset of entry 0
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "local header", "local header offset wrong");
    memcpy(c.p, z.p, z.n);
    c.p[cd + 20] = 0xff;
    c.p[cd + 21] = 0xff;
    c.p[cd + 22] = 0xff;
    c.p[cd + 23] = 0x0f;  // compressed size of entry 0
    expect_mem(c.p, c.n, PC_ERR_FORMAT, "past the end", "entry size past the end");
    bb_free(&c);
    // zip without data.pkl / with a missing storage / corrupt deflate / lying deflate size
    {
        zent e[1] = {{"arch/other", "x", 1, 0}};
        bb y = {0};
        make_zip(&y, e, 1, 0);
        expect_mem(y.p, y.n, PC_ERR_FORMAT, "data.pkl", "zip without data.pkl");
        bb_free(&y);
        zent e2[2] = {{"arch/data.pkl", pkl.p, pkl.n, 0}, {"arch/data/0", k_st0, sizeof(k_st0), 0}};
        make_zip(&y, e2, 2, 0);
        expect_mem(y.p, y.n, PC_ERR_FORMAT, "missing from the archive", "storage entry missing");
        bb_free(&y);
        float big[64];
        for (int i = 0; i < 64; i++) big[i] = (float)i;
        zent e3[3] = {{"arch/data.pkl", pkl.p, pkl.n, 0}, {"arch/data/0", k_st0, sizeof(k_st0), 0},
                      {"arch/data/1", big, sizeof(big), 1}};
        make_zip(&y, e3, 3, 0);
        size_t l1 = SIZE_MAX;  // local header of entry 2 (the third 'PK\3\4')
        for (size_t i = 0, k = 0; i + 4 <= y.n; i++)
            if (pc_rd_u32le(y.p + i) == 0x04034b50u && k++ == 2) l1 = i;
        size_t doff = l1 + 30 + pc_rd_u16le(y.p + l1 + 26) + pc_rd_u16le(y.p + l1 + 28);
        y.p[doff + 3] ^= 0x55;
        expect_mem(y.p, y.n, PC_ERR_FORMAT, "data/1", "corrupt deflate stream");
        bb_free(&y);
        make_zip(&y, e3, 3, 0);
        size_t cd2 = SIZE_MAX;
        for (size_t i = 0, k = 0; i + 4 <= y.n; i++)
            if (pc_rd_u32le(y.p + i) == 0x02014b50u && k++ == 2) cd2 = i;
        y.p[cd2 + 27] = 0x7f;  // uncompressed size ~2 GB from a few bytes
        expect_mem(y.p, y.n, PC_ERR_FORMAT, "declares", "deflate entry with a huge declared size");
        bb_free(&y);
    }
    bb_free(&z);
    bb_free(&pkl);
}

static void test_malformed_pickle(void) {
    bb p = {0};
    // unknown opcode at a known offset
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, '}');
    bb_u8(&p, 0xff);
    expect_pickle(&p, PC_ERR_FORMAT, "opcode 0xff ('?') at offset 3", "pickle with unknown opcode 0xff");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 'S');  // protocol-0 STRING: not supported
    expect_pickle(&p, PC_ERR_FORMAT, "opcode 0x53", "pickle with protocol-0 STRING");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, '}');
    expect_pickle(&p, PC_ERR_FORMAT, "truncated", "pickle without STOP");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 'h');
    bb_u8(&p, 9);
    expect_pickle(&p, PC_ERR_FORMAT, "memo get", "pickle GET of an unset memo key");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 'N');
    bb_u8(&p, 'r');
    bb_u32(&p, 0x7fffffff);
    expect_pickle(&p, PC_ERR_FORMAT, "memo key too large", "pickle PUT with a huge memo key");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 'R');
    expect_pickle(&p, PC_ERR_FORMAT, "too few", "pickle REDUCE on an empty stack");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, '(');
    bb_u8(&p, 'N');
    bb_u8(&p, 's');
    expect_pickle(&p, PC_ERR_FORMAT, "too few", "pickle SETITEM across a MARK");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 0x8d);
    bb_u64(&p, 1ull << 62);
    expect_pickle(&p, PC_ERR_FORMAT, "past the end", "pickle BINUNICODE8 with a huge length");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, 0x8b);
    bb_u32(&p, 0x7fffffff);
    expect_pickle(&p, PC_ERR_FORMAT, "truncated", "pickle LONG4 with a huge length");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, ']');
    bb_u8(&p, '.');
    expect_pickle(&p, PC_ERR_UNSUPPORTED, "not a dict", "pickle whose top level is a list");
    // tensor extents
    int64_t s4[1] = {4}, st1[1] = {1}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, s33[2] = {3, 3}, st31[2] = {3, 1};
    struct {
        const char *type;
        int64_t numel, offset;
        int nd;
        const int64_t *size, *stride;
        pc_status want;
        const char *needle, *what;
    } tc[] = {
        {"FloatStorage", 6, 3, 1, s4, st1, PC_ERR_FORMAT, "past its storage", "tensor offset+size past its storage"},
        {"FloatStorage", 6, 0, 2, s33, st31, PC_ERR_FORMAT, "past its storage", "tensor strides past its storage"},
        {"FloatStorage", 600, 0, 1, s4, st1, PC_ERR_FORMAT, "declared as 600", "storage numel larger than its entry"},
        {"FloatStorage", 6, 0, 9, s9, s9, PC_ERR_FORMAT, "rank <= 8", "tensor of rank 9"},
        {"ComplexFloatStorage", 3, 0, 1, s4, st1, PC_ERR_UNSUPPORTED, "ComplexFloatStorage", "unknown storage type"},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(tc); i++) {
        p.n = 0;
        bb_u8(&p, 0x80);
        bb_u8(&p, 2);
        bb_u8(&p, '}');
        pk_str(&p, "t");
        pk_tensor(&p, tc[i].type, "0", tc[i].numel, tc[i].offset, tc[i].nd, tc[i].size, tc[i].stride);
        bb_u8(&p, 's');
        bb_u8(&p, '.');
        expect_pickle(&p, tc[i].want, tc[i].needle, tc[i].what);
    }
    // rebuild with wrong argument types
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, '}');
    pk_str(&p, "t");
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    bb_u8(&p, '(');
    pk_str(&p, "not a storage");
    bb_u8(&p, 't');
    bb_u8(&p, 'R');
    bb_u8(&p, 's');
    bb_u8(&p, '.');
    expect_pickle(&p, PC_ERR_FORMAT, "_rebuild_tensor_v2", "_rebuild_tensor_v2 with bad arguments");
    // non-storage persistent id
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    pk_str(&p, "x");
    bb_u8(&p, 'Q');
    expect_pickle(&p, PC_ERR_UNSUPPORTED, "persistent id", "persistent id that is not a storage");
    // a list that contains itself, deep nesting, many marks: bounded work, no crash
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    bb_u8(&p, '}');
    pk_str(&p, "loop");
    bb_u8(&p, ']');
    bb_u8(&p, 'q');
    bb_u8(&p, 0);
    bb_u8(&p, 'h');
    bb_u8(&p, 0);
    bb_u8(&p, 'a');
    bb_u8(&p, 's');
    pk_str(&p, "deep");
    for (int i = 0; i < 20000; i++) bb_u8(&p, '(');
    for (int i = 0; i < 20000; i++) bb_u8(&p, 'l');
    bb_u8(&p, 's');
    pk_str(&p, "obj");  // an object whose state refers to itself
    pk_global(&p, "builtins", "object");
    bb_u8(&p, ')');
    bb_u8(&p, 'R');
    bb_u8(&p, 'q');
    bb_u8(&p, 1);
    bb_u8(&p, '}');
    pk_str(&p, "self");
    bb_u8(&p, 'h');
    bb_u8(&p, 1);
    bb_u8(&p, 's');
    bb_u8(&p, 'b');
    bb_u8(&p, 's');
    bb_u8(&p, '.');
    expect_pickle(&p, PC_OK, NULL, "self-referencing list/object and 20000-deep nesting");
    p.n = 0;
    bb_u8(&p, 0x80);
    bb_u8(&p, 2);
    for (int i = 0; i < 2000000; i++) bb_u8(&p, '(');
    expect_pickle(&p, PC_ERR_FORMAT, "MARK", "two million MARKs");
    bb_free(&p);
}

static void test_misc(void) {
    uint8_t junk[64];
    for (int i = 0; i < 64; i++) junk[i] = (uint8_t)(i * 37 + 11);
    expect_mem(junk, sizeof(junk), PC_ERR_FORMAT, "unknown checkpoint format", "random bytes (wrong magic)");
    expect_mem(junk, 0, PC_ERR_FORMAT, "too short", "empty buffer");
    expect_mem((const uint8_t *)"PK\3\4", 4, PC_ERR_FORMAT, "too short", "zip magic only");
    pc_checkpoint *ck;
    pc_error err;
    pc_status st = pc_checkpoint_open(&ck, "/nonexistent/file.safetensors", &err);
    PC_CHECK(st == PC_ERR_NOT_FOUND && strstr(err.msg, "/nonexistent/file.safetensors"), "missing file: %s", err.msg);
    st = pc_checkpoint_open(&ck, ".", &err);
    PC_CHECK(st == PC_ERR_IO, "directory: %s", err.msg);
    char path[64];
    snprintf(path, sizeof(path), "test_io_empty_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    fclose(f);
    st = pc_checkpoint_open(&ck, path, &err);
    PC_CHECK(st == PC_ERR_FORMAT && strstr(err.msg, path), "empty file: %s", err.msg);
    remove(path);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) pc_test_fatal("cannot write %s", path);
    fclose(f);
}

// PC_WRITE_FUZZ_SEEDS=fuzz/corpus: (re)write the small seed files the fuzz
// targets start from (made by the same builders as these tests).
static void write_fuzz_seeds(const char *dir) {
    bb pkl = {0}, z = {0}, l = {0}, st = {0};
    make_torch_pickle(&pkl, "state_dict");
    char sub[1024];
    snprintf(sub, sizeof(sub), "%s/pickle", dir);
    write_file(sub, "reference.pkl", pkl.p, pkl.n);
    make_legacy(&l);
    write_file(sub, "legacy.pt", l.p, l.n);
    snprintf(sub, sizeof(sub), "%s/zip", dir);
    for (int v = 0; v < 3; v++) {
        z.n = 0;
        make_torch_zip(&z, pkl.p, pkl.n, v == 1, v == 2);
        write_file(sub, v == 0 ? "torch.pth" : v == 1 ? "torch_zip64.pth" : "torch_deflate.pth", z.p, z.n);
    }
    snprintf(sub, sizeof(sub), "%s/safetensors", dir);
    uint8_t data[24];
    for (int i = 0; i < 24; i++) data[i] = (uint8_t)(i * 7);
    make_st(&st, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                 "\"e\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[24,24]},"
                 "\"__metadata__\":{\"k\":\"v\"}}", 8, data, 24);
    write_file(sub, "mixed.safetensors", st.p, st.n);
    st.n = 0;
    make_st(&st, "{\"x\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 0, data, 6);
    write_file(sub, "unaligned.safetensors", st.p, st.n);
    st.n = 0;
    make_st(&st, "{\"__metadata__\":{\"args\":\"Model(a=1)\",\"format\":\"pt\"}}", 8, data, 0);
    write_file(sub, "meta_only.safetensors", st.p, st.n);
    bb_free(&pkl);
    bb_free(&z);
    bb_free(&l);
    bb_free(&st);
}

int main(void) {
    const char *seeds = getenv("PC_WRITE_FUZZ_SEEDS");
    if (seeds && *seeds) {
        write_fuzz_seeds(seeds);
        return 0;
    }
    test_torch_zip();
    test_legacy();
    test_safetensors();
    test_malformed_zip();
    test_malformed_pickle();
    test_misc();
    return pc_test_finish();
}
