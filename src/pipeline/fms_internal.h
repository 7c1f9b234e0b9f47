// Pieces shared by the Feature Matching Selector and the classical pose path.
#ifndef PC_PIPELINE_FMS_INTERNAL_H
#define PC_PIPELINE_FMS_INTERNAL_H

#include "core/common.h"
#include "posecrafter/fms.h"

// ORB on two images side by side (one per worker when the pool has two).
// On failure the message names which image ("A" or "B") and why; out[] are
// left for the caller to free either way.
pc_status pc_orb_detect_two(pc_pool *pool, pc_orb_features *out_a, pc_orb_features *out_b, const pc_image *img_a,
                            const pc_image *img_b, const pc_orb_params *p, pc_error *err);

#endif
