/* posecrafter public API: checkpoints (safetensors, PyTorch zip / legacy) and
 * plain output files (NumPy .npy, PLY).
 *
 * A checkpoint is opened once, memory-mapped, and exposes its tensors as
 * zero-copy views (pc_tensor with data pointing into the mapping; strides as
 * stored, so a non-contiguous torch view stays a view). Metadata strings:
 * safetensors "__metadata__" entries; for torch checkpoints, the scalar and
 * string fields of non-tensor objects flattened with dots, e.g. "args.model"
 * for DUSt3R's argparse.Namespace, "epoch" / "global_step" for Lightning.
 *
 *     pc_checkpoint *ck;
 *     pc_error err;
 *     if (pc_checkpoint_open(&ck, "tiny.pth", &err) != PC_OK) { puts(err.msg); return 1; }
 *     const pc_tensor *w = pc_checkpoint_find(ck, "patch_embed.proj.weight"); // NULL when absent
 *     const char *args = pc_checkpoint_meta(ck, "args.model");               // NULL when absent
 *     pc_checkpoint_close(ck);  // invalidates every tensor view
 */
#ifndef POSECRAFTER_IO_H
#define POSECRAFTER_IO_H

#include <stddef.h>
#include "posecrafter/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_checkpoint pc_checkpoint;

/* Detects the format from the file's content (not its name). For torch
 * checkpoints the tensor names are the state_dict keys: the dict under
 * 'state_dict' (Lightning) or 'model' (DUSt3R) when present, otherwise the
 * top-level dict. */
pc_status pc_checkpoint_open(pc_checkpoint **ck, const char *path, pc_error *err);
void pc_checkpoint_close(pc_checkpoint *ck);

const char *pc_checkpoint_path(const pc_checkpoint *ck);
/* "safetensors", "torch-zip" or "torch-legacy". */
const char *pc_checkpoint_format(const pc_checkpoint *ck);

size_t pc_checkpoint_count(const pc_checkpoint *ck);
const char *pc_checkpoint_name(const pc_checkpoint *ck, size_t i);
const pc_tensor *pc_checkpoint_tensor(const pc_checkpoint *ck, size_t i);
/* NULL when absent. */
const pc_tensor *pc_checkpoint_find(const pc_checkpoint *ck, const char *name);
/* Like find, but absent / wrong rank / wrong shape -> PC_ERR_NOT_FOUND / PC_ERR_SHAPE with a message naming
 * the file and key. Entries of `shape` equal to -1 match anything. */
pc_status pc_checkpoint_get(const pc_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                            const pc_tensor **out, pc_error *err);

size_t pc_checkpoint_meta_count(const pc_checkpoint *ck);
const char *pc_checkpoint_meta_key(const pc_checkpoint *ck, size_t i);
const char *pc_checkpoint_meta_value(const pc_checkpoint *ck, size_t i);
/* NULL when absent. */
const char *pc_checkpoint_meta(const pc_checkpoint *ck, const char *key);
/* DUSt3R's model constructor string, e.g. "AsymmetricCroCo3DStereo(pos_embed='RoPE100', ...)": metadata
 * "args.model" (torch checkpoints: the argparse.Namespace) or else "args" (safetensors __metadata__, as the
 * golden files store it). NULL when neither is present. */
const char *pc_checkpoint_model_args(const pc_checkpoint *ck);

/* ---- writers (atomic: write to "<path>.tmp", then rename) ---- */

/* NumPy .npy v1.0, C order, little-endian; dtype from t (F32, F64, I64, I32, U8...). */
pc_status pc_npy_save(const char *path, const pc_tensor *t, pc_error *err);
/* Read a .npy (v1/v2/v3, C or Fortran order, little-endian) into an owned tensor. */
pc_status pc_npy_load(pc_tensor *out, const char *path, pc_error *err);

/* Binary little-endian PLY point cloud: xyz (float) and optional rgb (uchar, n*3; may be NULL). */
pc_status pc_ply_save(const char *path, const float *xyz, const uint8_t *rgb, size_t n, pc_error *err);

#ifdef __cplusplus
}
#endif
#endif
