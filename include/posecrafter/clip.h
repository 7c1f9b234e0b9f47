/* posecrafter public API: DynamiCrafter's conditioning encoders.
 *
 *   - CLIP BPE tokenizer (open_clip v2.22 SimpleTokenizer; OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz)
 *   - OpenCLIP text tower as lvdm FrozenOpenCLIPEmbedder(layer="penultimate"): token + positional
 *     embedding -> resblocks[0 .. L-2] with the causal mask -> ln_final (no text_projection)
 *   - OpenCLIP ViT as lvdm FrozenOpenCLIPImageEmbedderV2: kornia antialiased bicubic resize to 224,
 *     CLIP mean/std normalisation, conv1 patch embed, class token, positional embedding, ln_pre,
 *     resblocks; all tokens returned WITHOUT ln_post / proj
 *   - lvdm Resampler (image_proj_model, perceiver style) mapping ViT tokens to 16*video_length queries
 *
 * Weights come from the DynamiCrafter checkpoint keys cond_stage_model.model.* (text),
 * embedder.model.visual.* (ViT) and image_proj_model.* (Resampler). Head counts cannot be read from
 * tensor shapes, so they come from pc_clip_config (defaults: the real ViT-H-14 / DynamiCrafter-512).
 *
 *     pc_clip_tokenizer *tok;
 *     pc_clip_tokenizer_load(&tok, "bpe_simple_vocab_16e6.txt.gz", &err);
 *     int64_t ids[77];
 *     pc_clip_tokenize(tok, "Rotating view of a scene", ids, 77, NULL, &err);
 *
 *     pc_clip_config cfg;  pc_clip_config_default(&cfg);
 *     pc_clip *clip;
 *     pc_clip_from_checkpoint(&clip, ck, &cfg, pool, &err);      // ck: the DynamiCrafter checkpoint
 *     pc_clip_encode_text(clip, text_emb, ids, 1, &err);         // text_emb (1, 77, 1024)
 *     pc_clip_encode_image(clip, img_tok, image, 1, 320, 512, &err); // image (1,3,320,512) in [-1,1] -> (1, 257, 1280)
 *     pc_clip_resample(clip, img_ctx, img_tok, 1, 257, &err);    // img_ctx (1, 256, 1024)
 *     // or all at once: c_crossattn (77 + 256, 1024) for the UNet
 *     pc_clip_cross_context(clip, ctx, ids, frame0, 0, 320, 512, &err);
 *     pc_clip_free(clip);  pc_clip_tokenizer_free(tok);
 * A pc_clip is re-entrant: every call allocates its own scratch (one malloc per call).
 */
#ifndef POSECRAFTER_CLIP_H
#define POSECRAFTER_CLIP_H

#include <stdint.h>
#include "posecrafter/core.h"
#include "posecrafter/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tokenizer ------------------------------------------------------------------------------ */

#define PC_CLIP_SOT 49406          /* <start_of_text> */
#define PC_CLIP_EOT 49407          /* <end_of_text> */
#define PC_CLIP_CONTEXT 77

typedef struct pc_clip_tokenizer pc_clip_tokenizer;

/* Reads the gzip'd merges file (bpe_simple_vocab_16e6.txt.gz, 48894 merges used). */
pc_status pc_clip_tokenizer_load(pc_clip_tokenizer **tok, const char *bpe_gz_path, pc_error *err);
void pc_clip_tokenizer_free(pc_clip_tokenizer *tok);
/* open_clip tokenize() for one UTF-8 string: SOT + BPE ids + EOT, truncated to context_length with
 * the last id forced to EOT, zero-padded. ids (context_length); n_tokens (may be NULL): ids before
 * padding. Text cleanup emulated (ftfy / html.unescape are upstream steps): see clip_tokenizer.c. */
pc_status pc_clip_tokenize(const pc_clip_tokenizer *tok, const char *text, int64_t *ids, int context_length,
                           int *n_tokens, pc_error *err);
/* Raw BPE ids of a text without SOT/EOT (encode()); returns the count, or -1 on error; writes at most
 * cap ids (the count may exceed cap). */
int64_t pc_clip_encode_bpe(const pc_clip_tokenizer *tok, const char *text, int64_t *ids, int64_t cap, pc_error *err);

/* ---- encoders ------------------------------------------------------------------------------- */

typedef struct pc_clip_config {
    int text_heads;          /* 16 (ViT-H-14 text width 1024, head width 64) */
    int text_layer_skip;     /* 1 = "penultimate" (run all but the last resblock); 0 = "last" */
    int vision_heads;        /* 16 (width 1280, head_width 80) */
    int vision_patch;        /* 14 */
    int vision_image_size;   /* 224 */
    int resampler_heads;     /* 12 (dim_head 64) */
    int load_text, load_vision, load_resampler;   /* 1 each by default; 0 = skip that part */
    const char *text_prefix;       /* "cond_stage_model.model." */
    const char *vision_prefix;     /* "embedder.model.visual." */
    const char *resampler_prefix;  /* "image_proj_model." */
} pc_clip_config;

typedef struct pc_clip pc_clip;

void pc_clip_config_default(pc_clip_config *cfg);
/* Binds views into ck (borrowed: keep it open while the model is used). Widths, layer counts, token
 * counts come from tensor shapes; missing / misshaped tensors fail naming the key. pool may be NULL. */
pc_status pc_clip_from_checkpoint(pc_clip **clip, const pc_checkpoint *ck, const pc_clip_config *cfg, pc_pool *pool,
                                  pc_error *err);
void pc_clip_free(pc_clip *clip);
int64_t pc_clip_text_width(const pc_clip *clip);       /* 1024 */
int64_t pc_clip_vision_width(const pc_clip *clip);     /* 1280 */
int64_t pc_clip_vision_tokens(const pc_clip *clip);    /* 257 */
int64_t pc_clip_resampler_queries(const pc_clip *clip);/* 16 * video_length (256) */
int64_t pc_clip_resampler_out_dim(const pc_clip *clip);/* 1024 */
/* Where the towers and the Resampler run: "cpu" (the default), "cuda" (weights placed on GPU 0 once, matrices
 * bf16, activations bf16 with f32 accumulation and an f32 residual stream), "auto" (cuda when it opens, else
 * the cpu with PC_OK and the reason in err) or "emu" (the cuda code path over CPU twins of its kernels: a
 * check, slow). "cuda" without CUDA or a GPU fails with PC_ERR_UNSUPPORTED and leaves the model on the cpu. */
pc_status pc_clip_set_device(pc_clip *clip, const char *device, pc_error *err);
const char *pc_clip_get_device(const pc_clip *clip); /* "cpu", "cuda" or "emu" */

/* FrozenOpenCLIPEmbedder.encode: tokens (B, 77) from pc_clip_tokenize -> out (B, 77, text_width). */
pc_status pc_clip_encode_text(pc_clip *clip, float *out, const int64_t *tokens, int64_t B, pc_error *err);
/* FrozenOpenCLIPImageEmbedderV2.preprocess: image (B, 3, H, W) in [-1, 1] -> out (B, 3, size, size)
 * (size 224 for the ViT): kornia resize(bicubic, align_corners=True, antialias=True) = separable
 * Gaussian blur (reflect padding) when downscaling, then torch bicubic (A = -0.75); (x + 1) / 2; CLIP
 * mean / std. Computed in double, so it matches torch's float32 result to ~2e-6, not bit for bit. */
pc_status pc_clip_preprocess(pc_pool *pool, float *out, const float *image, int64_t B, int64_t H, int64_t W,
                             int64_t size, pc_error *err);
/* Preprocess + ViT: image (B, 3, H, W) in [-1, 1] -> tokens (B, 257, vision_width), CLS first. */
pc_status pc_clip_encode_image(pc_clip *clip, float *tokens, const float *image, int64_t B, int64_t H, int64_t W,
                               pc_error *err);
/* ViT only, on an already preprocessed (B, 3, 224, 224) input. */
pc_status pc_clip_vision_forward(pc_clip *clip, float *tokens, const float *pre, int64_t B, pc_error *err);
/* Resampler.forward: tokens (B, N, vision_width) -> out (B, n_queries, out_dim). */
pc_status pc_clip_resample(pc_clip *clip, float *out, const float *tokens, int64_t B, int64_t N, pc_error *err);

/* The UNet cross-attention context of one sample, as lvdm's image_guided_synthesis builds c_crossattn:
 * cat(text_emb(tokens) (77, w), Resampler(ViT(image)) (n_queries, w)) -> out (77 + n_queries, w), where
 * w = text width = Resampler out dim. tokens (77); image (3, H, W) in [-1, 1] with channel stride
 * img_cs (0 = H*W; T*H*W for frame 0 of a (3, T, H, W) video). DynamiCrafter: frame 0 only; the
 * unconditional branch uses tokens of "" and an all-zero image. */
pc_status pc_clip_cross_context(pc_clip *clip, float *out, const int64_t *tokens, const float *image, int64_t img_cs,
                                int64_t H, int64_t W, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_CLIP_H */
