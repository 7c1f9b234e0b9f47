/* posecrafter public API: the whole PoseCrafter pipeline (relative pose of two photos through generated
 * video), and the model files it needs.
 *
 * Stages (PoseCrafter §3; each reports progress through pc_pipeline_opts.on_event):
 *   1 prepare     A, B -> resize + centre crop to the interpolation size (512x320)
 *   2 interp      DynamiCrafter-512 interpolation: T = 16 frames from A' to B'
 *   3 relay       frames {0, 1, T-2, T-1}, centre-cropped to the ViewCrafter aspect, -> DUSt3R (complete
 *                 graph) + global alignment (mst, 300 it, lr 0.01, linear, min_conf 3) -> relay cameras and a
 *                 confidence-masked point cloud
 *   4 render      25 cameras through the relay cameras (SLERP rotation, linear translation and intrinsics,
 *                 over the whole path), point-cloud render (pytorch3d semantics), bilinear upsampling to the
 *                 ViewCrafter size, relay frames substituted at their key positions
 *   5 hvg         ViewCrafter diffusion over the 25 renders (skipped with hvg = 0: the candidates are then the
 *                 interpolation frames)
 *   6 select      FMS top-k (or the ablation selectors: scs, all, conf)
 *   7 pose        DUSt3R + global alignment over A, B and the selected frames -> X_B = R X_A + t
 *
 * With out_dir set, every stage writes its evidence there and stages 2, 3 and 5 (the expensive ones) are
 * cached: a stage whose key (hash of its inputs, options, model files and the keys before it) matches the
 * stage.key file in its folder is loaded instead of recomputed. stage.key is written last, so a stage cut
 * short by a crash is simply redone. Layout of out_dir (docs/PIPELINE.md):
 *   inputs/A.png, inputs/B.png        the prepared inputs (interpolation size)
 *   interp/frame_XX.png, stage.key    DynamiCrafter frames
 *   relay/cameras.json, points.ply, relay.bin, stage.key
 *   renders/render_XX.png, trajectory.json
 *   hvg/frame_XX.png, stage.key       ViewCrafter frames
 *   selection.tsv                     per candidate: keypoints, matches and inliers to A and B, score, selected
 *   final/cameras.json, cameras.txt, images.txt, points3D.txt, points.ply
 *   contact_sheet.png                 A, B, every candidate frame (selected ones framed in green)
 *   pose.json                         the result (pc_pipeline_write_json)
 *
 *     pc_model_files mf; pc_model_files_default(&mf);
 *     if (pc_model_files_find(&mf, "/models", PC_VC_SPARSE, &err)) { puts(err.msg); return 1; }
 *     pc_pipeline_opts o; pc_pipeline_opts_default(&o);
 *     o.out_dir = "run1";
 *     pc_pipeline_result r;
 *     if (pc_pipeline_run(&r, &mf, &o, &imgA, &imgB, pool, &err) == PC_OK)
 *         pc_pipeline_write_json(stdout_path, &r, &o, &err);   // r.R, r.t: X_B = R X_A + t
 *     pc_pipeline_result_free(&r);
 */
#ifndef POSECRAFTER_PIPELINE_H
#define POSECRAFTER_PIPELINE_H

#include <stdint.h>

#include "posecrafter/align.h"
#include "posecrafter/sparse_ga.h"
#include "posecrafter/clip.h"
#include "posecrafter/core.h"
#include "posecrafter/diffusion.h"
#include "posecrafter/fms.h"
#include "posecrafter/image.h"
#include "posecrafter/io.h"
#include "posecrafter/render.h"
#include "posecrafter/unet.h"
#include "posecrafter/viewcrafter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- a DynamiCrafter-family model set (UNet + VAE + CLIP towers + Resampler + tokenizer) -------------- */

#define PC_MAX_MODEL_PARTS 8

typedef struct pc_diffusion_bundle {
    pc_checkpoint *ck[PC_MAX_MODEL_PARTS];   /* open (memory-mapped) while the models are used */
    int n_ck;
    pc_interp_models m;                      /* unet, vae, clip, tok */
    pc_clip_tokenizer *tok;
} pc_diffusion_bundle;

/* Open files[0..n) and bind each part from the first file that holds it (model.diffusion_model.*,
 * first_stage_model.*, cond_stage_model.model.* + embedder.model.visual.* + image_proj_model.* in one file).
 * vocab: the CLIP BPE merges file. ucfg / ccfg: head sizes that shapes cannot give (NULL = defaults).
 * A missing part is named in the error. */
pc_status pc_diffusion_bundle_load(pc_diffusion_bundle *b, const char *const *files, int n, const char *vocab,
                                   const pc_unet_config *ucfg, const pc_clip_config *ccfg, double scale_factor,
                                   pc_pool *pool, pc_error *err);
void pc_diffusion_bundle_free(pc_diffusion_bundle *b);

/* ---- model files ------------------------------------------------------------------------------------ */

typedef enum pc_vc_variant {
    PC_VC_SPARSE = 0,   /* ViewCrafter_25_sparse model_sparse.ckpt, 576x1024 (sparse-view interpolation) */
    PC_VC_25 = 1,       /* ViewCrafter_25 model.ckpt, 576x1024 */
    PC_VC_512 = 2,      /* ViewCrafter_25_512 model_512.ckpt, 320x512 */
} pc_vc_variant;

typedef struct pc_model_files {
    const char *dust3r;                           /* DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth */
    const char *mast3r;                           /* MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth */
    int want_mast3r;                              /* set before pc_model_files_find: the reconstruction
                                                     backbone is MASt3R (looked for instead of DUSt3R) */
    const char *interp[PC_MAX_MODEL_PARTS];       /* dynamicrafter_512_interp_v1/model.ckpt (or split parts) */
    int n_interp;
    const char *vc[PC_MAX_MODEL_PARTS];           /* ViewCrafter checkpoint (or split parts) */
    int n_vc;
    const char *vocab;                            /* bpe_simple_vocab_16e6.txt.gz */
    pc_unet_config ucfg;                          /* head sizes (num_head_channels 64) */
    pc_clip_config ccfg;                          /* heads 16/16/12 */
    int vc_W, vc_H;                               /* ViewCrafter frame size (1024x576; 512x320 for PC_VC_512) */
    char buf[6][4096];                            /* storage for found paths */
} pc_model_files;

void pc_model_files_default(pc_model_files *mf);
/* Fill the unset entries from dir by the published file names (and the folder names the upstream READMEs
 * use): DUSt3R_ViTLarge_BaseDecoder_512_dpt.{pth,safetensors} (with want_mast3r:
 * MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.{pth,safetensors} instead); dynamicrafter_512_interp_v1/model.ckpt,
 * dynamicrafter_512_interp.{ckpt,safetensors}; ViewCrafter per variant (model_sparse.ckpt, model.ckpt,
 * model_512.ckpt, also inside ViewCrafter_25_sparse/, ViewCrafter_25/, ViewCrafter_25_512/);
 * bpe_simple_vocab_16e6.txt.gz. need_vc = 0 skips ViewCrafter (hvg off). Every missing file is named with
 * where it is published, all in one error. */
pc_status pc_model_files_find(pc_model_files *mf, const char *dir, pc_vc_variant variant, int need_vc,
                              pc_error *err);

/* ---- pipeline --------------------------------------------------------------------------------------- */

typedef enum pc_backbone {
    PC_BACKBONE_DUST3R = 0,  /* DUSt3R + global alignment for the relay frames and the final pose (the paper) */
    PC_BACKBONE_MAST3R = 1,  /* MASt3R's pointmaps through the same global alignment (paper, Appendix A) */
    PC_BACKBONE_MAST3R_SPARSE = 2, /* MASt3R + its sparse global alignment (mast3r demo's sparse_global_alignment) */
} pc_backbone;
const char *pc_backbone_name(pc_backbone b);

typedef enum pc_selector {
    PC_SELECT_FMS = 0,    /* Feature Matching Selector: top k of N_A + N_B over the threshold */
    PC_SELECT_SCS = 1,    /* InterPose self-consistency: the subset whose pose agrees best with the others */
    PC_SELECT_ALL = 2,    /* every candidate frame */
    PC_SELECT_CONF = 3,   /* top k by mean DUSt3R confidence of (A, frame) and (B, frame) */
} pc_selector;

typedef struct pc_pipeline_event {
    int stage, n_stages;       /* 1-based stage number */
    const char *name;          /* "interp", "relay", ... */
    const char *msg;           /* what happens now (stage start, cache hit, done), or NULL on a step */
    int step, n_steps;         /* diffusion step / work item progress (0 of 0 when none) */
    double stage_elapsed_s;
    int cached;                /* 1: the stage was loaded from out_dir */
    int done;                  /* 1: the stage finished (msg says how) */
} pc_pipeline_event;
typedef void (*pc_pipeline_event_fn)(void *ctx, const pc_pipeline_event *ev);

typedef struct pc_pipeline_opts {
    /* prepare + interpolation (DynamiCrafter) */
    int W, H;                  /* 512 x 320 */
    int cover;                 /* 1: scale to cover then centre-crop (default); 0: upstream Resize+CenterCrop pad */
    pc_interp_opts interp;     /* T 16, 50 steps, cfg 7.5, fs 5, prompt "" */
    /* relay reconstruction and final pose (DUSt3R + global alignment) */
    int dust3r_size;           /* 512 */
    pc_backbone backbone;      /* PC_BACKBONE_DUST3R; MASt3R uses mf->mast3r (its descriptors are not needed by
                                  the dense alignment and are not computed) */
    pc_sga_opts sga;           /* MASt3R sparse alignment (backbone mast3r-sparse): the demo's lr1 0.07 / niter1 300,
                                  lr2 0.01 / niter2 300, matching_conf_thr 0, subsample 8 */
    const char *device;        /* DUSt3R device (pc_dust3r_set_device): NULL / "cpu" (default), "cuda", "auto", "emu".
                                  The diffusion models run on the CPU in this version. */
    pc_align_opts ga;          /* 300 it, lr 0.01, linear, min_conf 3 */
    pc_intrinsics K[2];        /* known intrinsics of A and B in pixels of the images as given (after EXIF
                                  orientation); fx <= 0 (the default): unknown. Known ones are mapped through
                                  DUSt3R's resize + crop and fixed in the final reconstruction (and SCS). */
    /* trajectory + render + ViewCrafter */
    pc_traj_opts traj;         /* SLERP, 25 poses over the whole path */
    pc_viewcrafter_opts vc;    /* 50 steps, cfg 7.5, fs 10, "Rotating view of a scene" */
    int hvg;                   /* 1; 0 = --no-hvg (DynamiCrafter frames are the candidates) */
    int diffusion_bf16;        /* 0; 1 = the two diffusion stages run their GEMMs (pc_pool_set_gemm_bf16) and
                                  VAE convolutions (pc_vae_set_compute) with bf16 operands: faster on
                                  AVX512_BF16 CPUs, not f32-exact */
    /* selection */
    pc_selector selector;
    int k;                     /* 6 */
    int fms_threshold;         /* PC_FMS_DEFAULT_THRESHOLD */
    int scs_subsets;           /* 5 */
    uint64_t seed;             /* 12306: interpolation and ViewCrafter noise, SCS subsets */
    /* outputs */
    const char *out_dir;       /* NULL: nothing written, nothing cached */
    int use_cache;             /* 1 */
    pc_pipeline_event_fn on_event;
    void *on_event_ctx;
} pc_pipeline_opts;

void pc_pipeline_opts_default(pc_pipeline_opts *o);

typedef struct pc_pipeline_stage_time {
    const char *name;
    double seconds;
    int cached;
} pc_pipeline_stage_time;

#define PC_PIPELINE_STAGES 7

typedef struct pc_pipeline_result {
    double R[9];               /* X_B = R X_A + t, row-major */
    double t[3];               /* unit norm */
    double t_scene[3];         /* in the final reconstruction's (arbitrary) scale */
    /* intrinsics of A and B in pixels of the input images as given (after EXIF orientation) */
    double fx[2], fy[2], cx[2], cy[2];
    int width[2], height[2];
    int K_fixed[2];            /* 1: that image's intrinsics were given (opts.K) and held fixed */
    int n_candidates;          /* frames the selector saw */
    int *selected;             /* (n_selected) candidate indices, best first */
    int n_selected;
    double *scores;            /* (n_candidates) selector score per frame (FMS: N_A + N_B; conf: mean confidence;
                                  scs: how often the frame was drawn into the chosen subset; all: 1) */
    const char *candidates_from; /* "hvg" or "interp" */
    double final_loss;         /* global alignment loss of the final reconstruction (0 for PairViewer) */
    pc_pipeline_stage_time stages[PC_PIPELINE_STAGES];
    double total_s;
    size_t peak_rss;           /* bytes */
} pc_pipeline_result;

void pc_pipeline_result_free(pc_pipeline_result *r);
const char *pc_selector_name(pc_selector s);

/* Run everything for one pair. A, B: decoded images (any channel count, EXIF applied). */
pc_status pc_pipeline_run(pc_pipeline_result *res, const pc_model_files *mf, const pc_pipeline_opts *o,
                          const pc_image *A, const pc_image *B, pc_pool *pool, pc_error *err);

/* The result as one JSON object (docs/PIPELINE.md): path NULL = stdout. */
pc_status pc_pipeline_write_json(const char *path, const pc_pipeline_result *r, const pc_pipeline_opts *o,
                                 pc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* POSECRAFTER_PIPELINE_H */
