// Every nn op and layer on each device backend against the cpu backend (ggml's test-backend-ops idea):
// random inputs, the same nn call on both, normwise error ||dev - cpu|| / ||cpu|| against a bound.
//   emu   always (CI too): the device backend's host code over CPU twins of the CUDA kernels;
//   cuda  when a GPU is present (PC_BACKEND_OPS_CUDA=0 leaves it out), else reported as skipped.
// Bounds: exact data movement (copy, transpose, unary copy) 0; f32 arithmetic on loaded values (add,
// f32 exact weights) 1e-6; bf16 operands or outputs 1.5e-2 (a bf16 rounding is 2^-9 relative; a GEMM
// or attention adds a few). Shapes cover the head-dim padding path (D = 16, 20, 80) and the real layer
// widths where they are cheap (ViT-L 1024/16 heads, ViT-H 1280/16 heads at a few tokens).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/nn.h"
#include "posecrafter/cuda.h"
#include "testutil.h"

#define TOL_EXACT 0.0
#define TOL_F32 1e-6
#define TOL_BF16 1.5e-2

static void fill(float *p, int64_t n, uint64_t seed, float scale) {
    pc_rng r;
    pc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) p[i] = scale * (2.0f * (float)pc_rng_uniform(&r) - 1.0f);
}

static double nrel(const float *got, const float *want, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

// ---- the cases: one forward each, reading host inputs, writing one host output --------------------

typedef struct layers {
    pc_nn_linear lin, lin_exact;
    pc_nn_layernorm ln;
    pc_nn_conv2d patch;
    pc_nn_vit_block vit;
    pc_nn_decoder_block dec;
} layers;

typedef struct ccase {
    const char *name;
    int op;
    int64_t a, b, c, d;  // sizes, meaning per op
    double tol;
} ccase;

enum { OP_LINEAR, OP_LINEAR_ACC, OP_LINEAR_EXACT, OP_LN, OP_GN, OP_ATTN, OP_ATTN_CAUSAL, OP_ROPE, OP_GELU, OP_SILU,
       OP_RELU, OP_COPY, OP_ADD, OP_TRANSPOSE, OP_PATCH, OP_VIT, OP_DEC };

typedef struct run_args {
    const ccase *k;
    layers *L;
    const float *x, *y;  // inputs (host)
    float *out;          // output (host)
    int64_t n_out;
} run_args;

static void forward(pc_nn_exec *ex, void *p) {
    run_args *a = (run_args *)p;
    const ccase *k = a->k;
    layers *L = a->L;
    pc_nn_mark mark = pc_nn_mark_get(ex);
    int64_t M = k->a, N = k->b, K = k->c;
    pc_nn_t out = pc_nn_output(ex, a->out, a->n_out);
    switch (k->op) {
    case OP_LINEAR:
    case OP_LINEAR_EXACT: {
        pc_nn_t x = pc_nn_write(ex, a->x, M * K);
        pc_nn_linear_forward(ex, k->op == OP_LINEAR ? &L->lin : &L->lin_exact, out, N, x, K, M, 0);
        break;
    }
    case OP_LINEAR_ACC: {  // y (f32 residual) += x W^T + b, x in the activation dtype
        pc_nn_t x = pc_nn_write(ex, a->x, M * K), xa = pc_nn_new_act(ex, M * K);
        pc_nn_unary(ex, xa, x, M * K, PC_NN_COPY);
        pc_nn_t y = pc_nn_write(ex, a->y, M * N);
        pc_nn_unary(ex, out, y, M * N, PC_NN_COPY);
        pc_nn_linear_forward(ex, &L->lin, out, N, xa, K, M, 1);
        break;
    }
    case OP_LN: {
        pc_nn_t x = pc_nn_write(ex, a->x, M * N);
        pc_nn_layernorm_forward(ex, &L->ln, out, x, M);
        break;
    }
    case OP_GN: {  // (B = 2, C = a, S = b), 4 groups, + SiLU; the norm parameters of L->ln (C = a values)
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * M * N);
        pc_nn_w g = {L->ln.w, PC_F32, L->ln.dw}, b = {L->ln.b, PC_F32, L->ln.db};
        if (ex->st == PC_OK) pc_nn_be(ex)->group_norm(ex, out, x, &g, &b, 2, M, N, 4, 1e-5f, 1);
        break;
    }
    case OP_ATTN:
    case OP_ATTN_CAUSAL: {  // B = 2, H = a, N = b tokens, D = c: q, k, v from one (2, N, 3 H D) buffer
        int64_t H = M, T = N, D = K, C = H * D;
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * T * 3 * C), qkv = pc_nn_new_act(ex, 2 * T * 3 * C);
        pc_nn_t o = pc_nn_new_act(ex, 2 * T * C);
        pc_nn_unary(ex, qkv, x, 2 * T * 3 * C, PC_NN_COPY);
        pc_nn_sdpa(ex, pc_nn_heads(o, T, C, 0, D), pc_nn_heads(qkv, T, 3 * C, 0, D), pc_nn_heads(qkv, T, 3 * C, C, D),
                   pc_nn_heads(qkv, T, 3 * C, 2 * C, D), 2, H, T, T, D, 1.0f / sqrtf((float)D), k->op == OP_ATTN_CAUSAL);
        pc_nn_unary(ex, out, o, 2 * T * C, PC_NN_COPY);
        break;
    }
    case OP_ROPE: {  // (2, N = a, H = b, D = c) tokens on a grid of width d, in place on a copy
        int64_t T = M, H = N, D = K;
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * T * H * D);
        pc_nn_unary(ex, out, x, 2 * T * H * D, PC_NN_COPY);
        if (ex->st == PC_OK) pc_nn_be(ex)->rope2d(ex, pc_nn_heads(out, T, H * D, 0, D), 2, H, T, D, k->d, 100.0f);
        break;
    }
    case OP_GELU:
    case OP_SILU:
    case OP_RELU: {
        pc_nn_t x = pc_nn_write(ex, a->x, M), t = pc_nn_new_act(ex, M);
        pc_nn_unary(ex, t, x, M, k->op == OP_GELU ? PC_NN_GELU : k->op == OP_SILU ? PC_NN_SILU : PC_NN_RELU);
        pc_nn_unary(ex, out, t, M, PC_NN_COPY);
        break;
    }
    case OP_COPY: {  // pixel shuffle of (N = a*b tokens, 3*4*4) features into (3, 4a, 4b)
        pc_nn_t x = pc_nn_write(ex, a->x, M * N * 48);
        const int64_t dims[5] = {3, M, 4, N, 4}, ys[5] = {M * 4 * N * 4, 4 * N * 4, N * 4, 4, 1};
        const int64_t xs[5] = {16, N * 48, 4, 48, 1};
        pc_nn_copy(ex, out, ys, x, xs, dims, 5);
        break;
    }
    case OP_ADD: {
        pc_nn_t x = pc_nn_write(ex, a->x, M), y = pc_nn_write(ex, a->y, M);
        pc_nn_add(ex, out, x, y, M);
        break;
    }
    case OP_TRANSPOSE: {
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * M * N);
        pc_nn_transpose(ex, out, x, 2, M, N);
        break;
    }
    case OP_PATCH: {  // (2, 3, a, b) image, patch 16 -> tokens (2, N, c)
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * 3 * M * N);
        pc_nn_patch_embed_forward(ex, &L->patch, out, x, 2, M, N);
        break;
    }
    case OP_VIT: {  // (2, a*b tokens on a grid of width b, c wide)
        pc_nn_t x = pc_nn_write(ex, a->x, 2 * M * N * K);
        pc_nn_unary(ex, out, x, 2 * M * N * K, PC_NN_COPY);
        pc_nn_vit_block_forward(ex, &L->vit, 100.0f, out, N, 2, M * N);
        break;
    }
    case OP_DEC: {  // x (a*b tokens, width b) attends to y (same grid)
        int64_t T = M * N;
        pc_nn_t x = pc_nn_write(ex, a->x, T * K), y = pc_nn_write(ex, a->y, T * K);
        pc_nn_decoder_block_forward(ex, &L->dec, 100.0f, out, x, N, T, y, N, T, 1);
        break;
    }
    }
    pc_nn_read_into(ex, a->out, out, a->n_out);
    pc_nn_mark_reset(ex, mark);
}

static int64_t n_in(const ccase *k) {
    switch (k->op) {
    case OP_LINEAR: case OP_LINEAR_EXACT: case OP_LINEAR_ACC: return k->a * k->c;
    case OP_LN: return k->a * k->b;
    case OP_GN: return 2 * k->a * k->b;
    case OP_ATTN: case OP_ATTN_CAUSAL: return 2 * k->b * 3 * k->a * k->c;
    case OP_ROPE: return 2 * k->a * k->b * k->c;
    case OP_COPY: return k->a * k->b * 48;
    case OP_TRANSPOSE: return 2 * k->a * k->b;
    case OP_PATCH: return 2 * 3 * k->a * k->b;
    case OP_VIT: return 2 * k->a * k->b * k->c;
    case OP_DEC: return k->a * k->b * k->c;
    default: return k->a;
    }
}

static int64_t n_out(const ccase *k) {
    switch (k->op) {
    case OP_LINEAR: case OP_LINEAR_EXACT: case OP_LINEAR_ACC: return k->a * k->b;
    case OP_ATTN: case OP_ATTN_CAUSAL: return 2 * k->b * k->a * k->c;
    case OP_PATCH: return 2 * (k->a / 16) * (k->b / 16) * k->c;
    default: return n_in(k);
    }
}

// ---- random layers in an in-memory state dict --------------------------------------------------

static void add(pc_nn_store *s, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                uint64_t seed, float scale, float offset) {
    pc_error err;
    int64_t shape[4] = {d0, d1, d2, d3};
    pc_tensor *t = pc_nn_store_add(s, name, PC_F32, ndim, shape, &err);
    if (!t) pc_test_fatal("store: %s", err.msg);
    int64_t n = pc_tensor_numel(t);
    fill((float *)t->data, n, seed, scale);
    for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] += offset;
}

static void add_block(pc_nn_store *s, const char *pre, int64_t C, int cross, uint64_t seed) {
    char k[128];
    const char *norms[] = {"norm1", "norm2", "norm3", "norm_y"};
    for (int i = 0; i < (cross ? 4 : 2); i++) {
        snprintf(k, sizeof(k), "%s.%s.weight", pre, norms[i]);
        add(s, k, 1, C, 0, 0, 0, seed++, 0.1f, 1.0f);
        snprintf(k, sizeof(k), "%s.%s.bias", pre, norms[i]);
        add(s, k, 1, C, 0, 0, 0, seed++, 0.1f, 0.0f);
    }
    float ws = 1.0f / sqrtf((float)C);
    snprintf(k, sizeof(k), "%s.attn.qkv.weight", pre), add(s, k, 2, 3 * C, C, 0, 0, seed++, ws, 0);
    snprintf(k, sizeof(k), "%s.attn.qkv.bias", pre), add(s, k, 1, 3 * C, 0, 0, 0, seed++, 0.02f, 0);
    snprintf(k, sizeof(k), "%s.attn.proj.weight", pre), add(s, k, 2, C, C, 0, 0, seed++, ws, 0);
    snprintf(k, sizeof(k), "%s.attn.proj.bias", pre), add(s, k, 1, C, 0, 0, 0, seed++, 0.02f, 0);
    if (cross) {
        const char *p[] = {"projq", "projk", "projv", "proj"};
        for (int i = 0; i < 4; i++) {
            snprintf(k, sizeof(k), "%s.cross_attn.%s.weight", pre, p[i]), add(s, k, 2, C, C, 0, 0, seed++, ws, 0);
            snprintf(k, sizeof(k), "%s.cross_attn.%s.bias", pre, p[i]), add(s, k, 1, C, 0, 0, 0, seed++, 0.02f, 0);
        }
    }
    snprintf(k, sizeof(k), "%s.mlp.fc1.weight", pre), add(s, k, 2, 4 * C, C, 0, 0, seed++, ws, 0);
    snprintf(k, sizeof(k), "%s.mlp.fc1.bias", pre), add(s, k, 1, 4 * C, 0, 0, 0, seed++, 0.02f, 0);
    snprintf(k, sizeof(k), "%s.mlp.fc2.weight", pre), add(s, k, 2, C, 4 * C, 0, 0, seed++, 0.5f * ws, 0);
    snprintf(k, sizeof(k), "%s.mlp.fc2.bias", pre), add(s, k, 1, C, 0, 0, 0, seed++, 0.02f, 0);
}

static pc_status place(pc_nn_backend *be, void *model, int measuring, pc_error *err) {
    layers *L = (layers *)model;
    pc_status st = pc_nn_linear_place(be, &L->lin, measuring, err);
    if (st == PC_OK) st = pc_nn_linear_place(be, &L->lin_exact, measuring, err);
    if (st == PC_OK) st = pc_nn_layernorm_place(be, &L->ln, measuring, err);
    if (st == PC_OK) st = pc_nn_conv2d_place(be, &L->patch, measuring, err);
    if (st == PC_OK) st = pc_nn_vit_block_place(be, &L->vit, measuring, err);
    if (st == PC_OK) st = pc_nn_decoder_block_place(be, &L->dec, measuring, err);
    return st;
}

// Bind the layers one case needs (sizes from the case) from a fresh store.
static void bind(layers *L, pc_nn_store *s, pc_nn_binder *b, const ccase *k) {
    pc_error err;
    memset(L, 0, sizeof(*L));
    // sizes of the layers this case uses; the others are bound small (every case places all of them)
    int64_t in = k->c > 0 ? k->c : 64, out = k->b > 0 ? k->b : 64, C = k->c >= 64 && k->c % 64 == 0 ? k->c : 64;
    int64_t ln = k->op == OP_GN ? k->a : out;
    add(s, "lin.weight", 2, out, in, 0, 0, 11, 1.0f / sqrtf((float)in), 0);
    add(s, "lin.bias", 1, out, 0, 0, 0, 12, 0.1f, 0);
    add(s, "ln.weight", 1, ln, 0, 0, 0, 13, 0.1f, 1.0f);
    add(s, "ln.bias", 1, ln, 0, 0, 0, 14, 0.1f, 0);
    add(s, "patch.weight", 4, C, 3, 16, 16, 15, 1.0f / 28.0f, 0);
    add(s, "patch.bias", 1, C, 0, 0, 0, 16, 0.02f, 0);
    add_block(s, "vit", C, 0, 100);
    add_block(s, "dec", C, 1, 200);
    b->get = pc_nn_store_get, b->find = pc_nn_store_find, b->ctx = s;
    pc_test_ok(pc_nn_linear_bind(b, &L->lin, "lin", in, out, 1, &err), &err, "bind lin");
    pc_test_ok(pc_nn_linear_bind(b, &L->lin_exact, "lin", in, out, 1, &err), &err, "bind lin (exact)");
    L->lin_exact.exact = 1;
    pc_test_ok(pc_nn_layernorm_bind(b, &L->ln, "ln", ln, 1e-6f, &err), &err, "bind ln");
    pc_test_ok(pc_nn_conv2d_bind(b, &L->patch, "patch", 3, C, 16, 16, 0, 1, &err), &err, "bind patch");
    L->patch.exact = 1;
    int64_t heads = C % 64 == 0 ? C / 64 : 2;
    pc_test_ok(pc_nn_vit_block_bind(b, &L->vit, "vit", C, heads, 1e-6f, &err), &err, "bind vit");
    pc_test_ok(pc_nn_decoder_block_bind(b, &L->dec, "dec", C, heads, 1e-6f, &err), &err, "bind dec");
}

static void run_case(const ccase *k, pc_pool *pool, int with_cuda, int *n_cuda) {
    pc_error err;
    pc_nn_store s = {0};
    pc_nn_binder b = {0};
    layers L;
    bind(&L, &s, &b, k);
    int64_t ni = n_in(k), no = n_out(k);
    int64_t ny = no > ni ? no : ni;
    float *x = (float *)malloc(sizeof(float) * (size_t)ni), *y = (float *)malloc(sizeof(float) * (size_t)ny);
    float *ref = (float *)malloc(sizeof(float) * (size_t)no), *got = (float *)malloc(sizeof(float) * (size_t)no);
    if (!x || !y || !ref || !got) pc_test_fatal("out of memory");
    fill(x, ni, 1, 1.0f);
    fill(y, ny, 2, 1.0f);
    pc_arena arena = {0};
    run_args a = {k, &L, x, y, ref, no};
    pc_test_ok(pc_nn_run(NULL, pool, &arena, NULL, NULL, forward, &a, &err), &err, k->name);
    const char *devs[2] = {"emu", "cuda"};
    for (int d = 0; d < 1 + with_cuda; d++) {
        pc_nn_backend *be = NULL;
        pc_status st = d == 0 ? pc_nn_backend_emu_open(&be, pool, &err) : pc_nn_backend_cuda_open(&be, 0, &err);
        pc_test_ok(st, &err, "open backend");
        pc_test_ok(pc_nn_place_weights(be, place, &L, &err), &err, "place weights");
        a.out = got;
        pc_test_ok(pc_nn_run(be, pool, &arena, NULL, NULL, forward, &a, &err), &err, k->name);
        double e = nrel(got, ref, no);
        PC_CHECK(e <= k->tol, "%-34s %-4s normwise %.2e (bound %.1e)", k->name, devs[d], e, k->tol);
        if (d == 1) (*n_cuda)++;
        pc_nn_backend_close(be);
    }
    pc_arena_free(&arena);
    pc_nn_binder_free(&b);
    pc_nn_store_free(&s);
    free(x), free(y), free(ref), free(got);
}

int main(void) {
    static const ccase cases[] = {
        {"linear 37x96 -> 80", OP_LINEAR, 37, 80, 96, 0, TOL_BF16},
        {"linear 768x1024 -> 3072 (ViT-L fc1)", OP_LINEAR, 64, 3072, 1024, 0, TOL_BF16},
        {"linear exact f32 37x96 -> 80", OP_LINEAR_EXACT, 37, 80, 96, 0, TOL_F32},
        {"linear accumulate (residual)", OP_LINEAR_ACC, 33, 64, 48, 0, TOL_BF16},
        {"layer norm 50x1280", OP_LN, 50, 1280, 0, 0, TOL_BF16},
        {"group norm + SiLU (2, 64, 300)", OP_GN, 64, 300, 0, 0, TOL_BF16},
        {"attention H4 N77 D16 (padded to 32)", OP_ATTN, 4, 77, 16, 0, TOL_BF16},
        {"attention H2 N130 D20 (padded to 32)", OP_ATTN, 2, 130, 20, 0, TOL_BF16},
        {"attention H2 N257 D80 (ViT-H, padded)", OP_ATTN, 2, 257, 80, 0, TOL_BF16},
        {"attention H3 N200 D64", OP_ATTN, 3, 200, 64, 0, TOL_BF16},
        {"attention causal H4 N77 D64 (text)", OP_ATTN_CAUSAL, 4, 77, 64, 0, TOL_BF16},
        {"rope2d N48 H4 D32 grid 8", OP_ROPE, 48, 4, 32, 8, TOL_BF16},
        {"gelu", OP_GELU, 5000, 0, 0, 0, TOL_BF16},
        {"silu", OP_SILU, 5000, 0, 0, 0, TOL_BF16},
        {"relu", OP_RELU, 5000, 0, 0, 0, TOL_BF16},
        {"strided copy (pixel shuffle)", OP_COPY, 6, 5, 0, 0, TOL_EXACT},
        {"add f32", OP_ADD, 4099, 0, 0, 0, TOL_F32},
        {"transpose (2, 37, 53)", OP_TRANSPOSE, 37, 53, 0, 0, TOL_EXACT},
        {"patch embed 48x64 p16 -> 64 (exact)", OP_PATCH, 48, 64, 64, 0, TOL_F32},
        {"ViT block 4x6 tokens, 128 wide", OP_VIT, 4, 6, 128, 0, TOL_BF16},
        {"decoder block 4x6 tokens, 128 wide", OP_DEC, 4, 6, 128, 0, TOL_BF16},
    };
    pc_error err;
    pc_pool *pool;
    pc_test_ok(pc_pool_create(&pool, 2, &err), &err, "pool");
    int n_dev = 0;
    const char *env = getenv("PC_BACKEND_OPS_CUDA");
    int with_cuda = pc_cuda_probe(&n_dev, &err) == PC_OK && n_dev > 0 && !(env && !strcmp(env, "0"));
    if (!with_cuda) printf("  cuda part skipped: %s\n", n_dev ? "PC_BACKEND_OPS_CUDA=0" : err.msg);
    int n_cuda = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) run_case(&cases[i], pool, with_cuda, &n_cuda);
    printf("  %zu cases on emu, %d on cuda\n", sizeof(cases) / sizeof(cases[0]), n_cuda);
    pc_pool_free(pool);
    return pc_test_finish();
}
