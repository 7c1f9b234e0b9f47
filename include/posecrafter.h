/* posecrafter — relative camera pose for two photos with little or no overlap,
 * a plain-C implementation of PoseCrafter (NeurIPS 2025).
 *
 * Conventions shared by the whole API
 *   - Every fallible call returns pc_status; on failure, the pc_error passed in
 *     (may be NULL) holds a one-line message naming the file / tensor / argument
 *     and what was expected versus found.
 *   - Tensors are PyTorch-ordered (outermost dimension first), row-major.
 *   - Poses: X_B = R * X_A + t maps points from camera A's frame to camera B's,
 *     OpenCV axes (x right, y down, z forward).
 *   - Handles are opaque; every load/create call has a matching free call.
 *
 * Usage example (inspect a checkpoint):
 *
 *     #include <posecrafter.h>
 *     pc_error err;
 *     pc_checkpoint *ck;
 *     if (pc_checkpoint_open(&ck, "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth", &err) != PC_OK) {
 *         fprintf(stderr, "error: %s\n", err.msg);
 *         return 1;
 *     }
 *     for (size_t i = 0; i < pc_checkpoint_count(ck); i++) {
 *         const pc_tensor *t = pc_checkpoint_tensor(ck, i);
 *         printf("%s %s\n", pc_checkpoint_name(ck, i), pc_dtype_name(t->dtype));
 *     }
 *     pc_checkpoint_close(ck);
 *
 * The area headers below document each stage's API with its own example.
 */
#ifndef POSECRAFTER_H
#define POSECRAFTER_H

#include "posecrafter/core.h"
#include "posecrafter/io.h"
#include "posecrafter/image.h"
#include "posecrafter/dust3r.h"
#include "posecrafter/align.h"
#include "posecrafter/sparse_ga.h"
#include "posecrafter/geometry.h"
#include "posecrafter/eval.h"
#include "posecrafter/features.h"
#include "posecrafter/fms.h"
#include "posecrafter/diffusion.h"
#include "posecrafter/render.h"
#include "posecrafter/clip.h"
#include "posecrafter/unet.h"
#include "posecrafter/viewcrafter.h"
#include "posecrafter/cuda.h"
#include "posecrafter/pipeline.h"

#endif /* POSECRAFTER_H */
