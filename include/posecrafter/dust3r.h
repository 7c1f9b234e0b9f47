/* posecrafter public API: DUSt3R and MASt3R pairwise pointmaps (naver/dust3r AsymmetricCroCo3DStereo,
 * naver/mast3r AsymmetricMASt3R; inference only). Both are one model type here: MASt3R is DUSt3R's trunk with
 * the 'catmlp+dpt' head, which adds dense local descriptors and their confidence to the pointmap.
 *
 * The architecture is read from the checkpoint: the "args.model" string (pos_embed RoPE<freq>, head_type
 * dpt|linear|catmlp+dpt, output_mode pts3d|pts3d+desc<D>, depth_mode, conf_mode, desc_conf_mode, two_confs,
 * enc/dec_num_heads) plus tensor shapes (embedding dims, depths, patch size, MLP, DPT and local-feature
 * widths). Official .pth checkpoints and safetensors copies both load.
 *
 *     pc_dust3r *net;
 *     pc_error err;
 *     if (pc_dust3r_load(&net, "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth", pool, &err) != PC_OK) ...
 *     pc_image u8a = {0}, u8b = {0};
 *     pc_tensor a = {0}, b = {0};
 *     pc_dust3r_load_image(&u8a, &a, "A.jpg", 512, 0, &err);   // (1, 3, H, W) in [-1, 1]
 *     pc_dust3r_load_image(&u8b, &b, "B.jpg", 512, 0, &err);
 *     pc_dust3r_pair_out out = {0};
 *     if (pc_dust3r_pair(net, &a, &b, &out, &err) != PC_OK) ...
 *     // out.view[0].pts3d (H, W, 3): A's points in camera A's frame; out.view[0].conf (H, W)
 *     // out.view[1].pts3d (H, W, 3): B's points, also in camera A's frame
 *     pc_dust3r_pair_out_free(&out);
 *     pc_dust3r_free(net);
 *
 * Like upstream dust3r.model.load_model, inference ignores landscape_only (portrait inputs run as they are)
 * and treats ManyAR_PatchEmbed as PatchEmbedDust3R. A pc_dust3r holds one activation arena: use one model
 * per thread (the pool parallelises inside each call). Same inputs and thread count -> bit-identical output.
 */
#ifndef POSECRAFTER_DUST3R_H
#define POSECRAFTER_DUST3R_H
#include <stdint.h>
#include "posecrafter/core.h"
#include "posecrafter/image.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_dust3r pc_dust3r;

/* Architecture as parsed from a checkpoint (or given to pc_dust3r_create_random). */
typedef enum {
    PC_DUST3R_HEAD_LINEAR = 0,
    PC_DUST3R_HEAD_DPT = 1,
    PC_DUST3R_HEAD_CATMLP_DPT = 2 /* MASt3R: DPT pts3d + conf, plus an MLP over [encoder | last decoder] tokens
                                     giving descriptors (and their confidence) pixel-shuffled to full size */
} pc_dust3r_head_type;
typedef enum { PC_DUST3R_DEPTH_EXP = 0, PC_DUST3R_DEPTH_SQUARE, PC_DUST3R_DEPTH_LINEAR } pc_dust3r_depth_mode;
typedef enum { PC_DUST3R_CONF_EXP = 0, PC_DUST3R_CONF_SIGMOID, PC_DUST3R_CONF_NONE } pc_dust3r_conf_mode;

typedef struct pc_dust3r_config {
    int patch;                            /* 16 */
    int enc_dim, enc_depth, enc_heads;    /* ViT-L: 1024, 24, 16 */
    int dec_dim, dec_depth, dec_heads;    /* base decoder: 768, 12, 12 */
    int enc_mlp, dec_mlp;                 /* MLP hidden widths (4 x dim) */
    float rope_base;                      /* 100 for pos_embed='RoPE100' */
    float ln_eps;                         /* 1e-6 */
    pc_dust3r_head_type head;
    int dpt_layer_dims[4];                /* upstream: 96, 192, 384, 768 */
    int dpt_feature_dim;                  /* 256 */
    int dpt_last_dim;                     /* 128 */
    int dpt_hooks[4];                     /* [0, L*2/4, L*3/4, L], L = dec_depth */
    pc_dust3r_depth_mode depth_mode;      /* ('exp', -inf, inf) */
    pc_dust3r_conf_mode conf_mode;        /* ('exp', 1, inf) */
    float conf_vmin, conf_vmax;           /* 1, inf */
    int landscape_only;                   /* as stored; inference behaves like upstream load_model (False) */
    /* MASt3R local features (head PC_DUST3R_HEAD_CATMLP_DPT) */
    int mast3r;                           /* 1: the checkpoint is an AsymmetricMASt3R */
    int desc_dim;                         /* 24 for output_mode 'pts3d+desc24' */
    int two_confs;                        /* 1: desc_conf has its own channel (published model); 0: a copy of conf */
    pc_dust3r_conf_mode desc_conf_mode;   /* ('exp', 0, inf) */
    float desc_conf_vmin, desc_conf_vmax;
    int local_mlp_hidden;                 /* head_local_features.fc1 width (7168 for ViT-L + base decoder) */
} pc_dust3r_config;

/* Load a checkpoint (.pth zip / legacy or .safetensors). pool: borrowed, may be NULL (one thread); it must
 * outlive the model. Missing or misshaped tensors fail with a message naming the key. */
pc_status pc_dust3r_load(pc_dust3r **net, const char *path, pc_pool *pool, pc_error *err);
/* A model with deterministic pseudo-random weights (for benchmarks and tests; no file). cfg gives the
 * architecture (patch, dims, depths, heads, MLP widths, rope_base, head type and DPT widths, modes; hooks are
 * derived). Weight matrices are stored as wdtype (PC_F32, PC_F16 or PC_BF16), vectors as F32. */
pc_status pc_dust3r_create_random(pc_dust3r **net, const pc_dust3r_config *cfg, uint64_t seed, pc_dtype wdtype,
                                  pc_pool *pool, pc_error *err);
void pc_dust3r_free(pc_dust3r *net);
const pc_dust3r_config *pc_dust3r_get_config(const pc_dust3r *net);
/* Number of parameters bound by the model (mask_token and aliased duplicates not counted). */
int64_t pc_dust3r_num_params(const pc_dust3r *net);

/* One view's prediction, owned float32. desc / desc_conf only from a MASt3R model with descriptor output on
 * (pc_dust3r_set_desc_output); otherwise empty (data NULL). */
typedef struct pc_dust3r_view_pred {
    pc_tensor pts3d;      /* (H, W, 3) */
    pc_tensor conf;       /* (H, W) */
    pc_tensor desc;       /* (H, W, D) unit vectors (L2 over D, no epsilon, as upstream) */
    pc_tensor desc_conf;  /* (H, W) */
} pc_dust3r_view_pred;

/* view[0]: image 1 in camera 1's frame (pred1); view[1]: image 2's pixels in camera 1's frame
 * (pred2 'pts3d_in_other_view'). */
typedef struct pc_dust3r_pair_out {
    pc_dust3r_view_pred view[2];
} pc_dust3r_pair_out;
void pc_dust3r_pair_out_free(pc_dust3r_pair_out *out);

/* Run one ordered pair. img1/img2: pre-normalised float32 images, (1, 3, H, W) or (3, H, W), H and W
 * multiples of the patch size (both images may differ in size). */
pc_status pc_dust3r_pair(pc_dust3r *net, const pc_tensor *img1, const pc_tensor *img2, pc_dust3r_pair_out *out,
                         pc_error *err);

/* Many ordered pairs over a set of images: each image is encoded once and its encoder output is reused by
 * every pair that contains it (so the symmetric pairs (i, j) and (j, i) cost one encoding each).
 * pairs: n_pairs x 2 indices into imgs; outs: n_pairs results (free each with pc_dust3r_pair_out_free). */
pc_status pc_dust3r_pairs(pc_dust3r *net, const pc_tensor *const *imgs, int n_imgs, const int (*pairs)[2],
                          int n_pairs, pc_dust3r_pair_out *outs, pc_error *err);
/* The same, handing each pair's result to fn as soon as it is computed, in pair order; fn owns *out (free it
 * with pc_dust3r_pair_out_free) and may stop the run by returning an error. Lets a caller keep only what it
 * needs of each pair (MASt3R's descriptors are (H, W, D) per view). */
typedef pc_status (*pc_dust3r_pair_fn)(void *ctx, int pair_index, pc_dust3r_pair_out *out, pc_error *err);
pc_status pc_dust3r_pairs_each(pc_dust3r *net, const pc_tensor *const *imgs, int n_imgs, const int (*pairs)[2],
                               int n_pairs, pc_dust3r_pair_fn fn, void *ctx, pc_error *err);

/* Where the encoder and decoders run: "cpu" (the default), "cuda" (GPU 0; weights uploaded now, once, as
 * bf16; the DPT/linear heads and post-processing stay on the CPU) or "auto" (cuda when this build has CUDA
 * and a device is present, else cpu). "cuda" without a usable GPU, or in a build without CUDA, fails with
 * PC_ERR_UNSUPPORTED and leaves the model on the CPU. "auto" never fails for want of a GPU: when setting up
 * the GPU fails it stays on the CPU, returns PC_OK and leaves the reason in err. GPU results are bf16
 * arithmetic: close to, not bit-identical with, the CPU's (tests/test_dust3r_cuda.c states the tolerance). */
pc_status pc_dust3r_set_device(pc_dust3r *net, const char *device, pc_error *err);
/* "cpu" or "cuda". */
const char *pc_dust3r_get_device(const pc_dust3r *net);

/* MASt3R: whether pc_dust3r_pair(s) return desc / desc_conf (1, the default) or only pts3d / conf (0: what a
 * dense reconstruction needs; saves D + 1 floats per pixel per view). No effect on a DUSt3R model. */
void pc_dust3r_set_desc_output(pc_dust3r *net, int on);
int pc_dust3r_get_desc_output(const pc_dust3r *net);
/* 1 when the model has MASt3R's local-feature head. */
int pc_dust3r_has_desc(const pc_dust3r *net);

/* ---- DUSt3R preprocessing (dust3r.utils.image.load_images) ---------------------------- */

/* From an RGB image that is already EXIF-transposed: size == 224: resize the short side to 224
 * (long side = round(224 * aspect)), centre crop 224x224; otherwise resize the long side to `size`
 * (new = round(old * size / S), half-to-even; LANCZOS if S > size, else BICUBIC), centre crop to
 * multiples of 16, and a square result becomes 4:3 unless square_ok. out_u8: the RGB crop (H, W, 3);
 * out_x (may be NULL): owned float32 (1, 3, H, W) = ((u8 / 255) - 0.5) / 0.5. */
pc_status pc_dust3r_preprocess(pc_image *out_u8, pc_tensor *out_x, const pc_image *rgb, int size,
                               int square_ok, pc_error *err);
/* pc_image_load + pc_dust3r_preprocess. */
pc_status pc_dust3r_load_image(pc_image *out_u8, pc_tensor *out_x, const char *path, int size, int square_ok,
                               pc_error *err);
/* (1, 3, H, W) float32 ((u8 / 255) - 0.5) / 0.5 of an RGB image, rounding once per op like torchvision. */
pc_status pc_dust3r_normalize(pc_tensor *out_x, const pc_image *rgb, pc_error *err);

/* Current size of the activation arena in bytes. It is sized by a dry run of the forward on the first call
 * and grows only when a later call needs more (larger images). */
size_t pc_dust3r_arena_bytes(const pc_dust3r *net);

#ifdef __cplusplus
}
#endif
#endif
