// Synthetic two-view scenes with exact ground truth, for tests and benches.
//
// World frame = camera A's frame (OpenCV axes: x right, y down, z forward).
// The scene: a textured floor (plane y = +1) and three textured boxes around
// the point C = (0, 0, depth). Camera A sits at the origin looking along +z.
// Camera B orbits C by yaw_deg about the vertical (y) axis, at the same
// distance, looking at C, then moves sideways by `offset` along its own x axis
// (less overlap). Textures are procedural (two scales of random-coloured
// cells: many corners), deterministic in `seed`. Rendering is a ray caster
// with 2x2 supersampling into RGB8 (H, W, 3) buffers.
//
// Ground truth: X_B = R X_A + t (t metric, not unit); pc_eval_yaw_deg(R)
// returns yaw_deg (for offset 0).
#ifndef PC_GEOMETRY_SYNTH_H
#define PC_GEOMETRY_SYNTH_H

#include <stdint.h>

#include "posecrafter/geometry.h"

typedef struct pc_synth_params {
    int width, height;  // 640 x 480
    double focal;       // pixels; 0 -> 0.9 * width (cx, cy at the image centre)
    double yaw_deg;     // orbit angle of B around the scene centre (0..90)
    double depth;       // distance of the scene centre from the cameras (4)
    double offset;      // sideways shift of B along its x axis (0)
    double pitch_deg;   // extra rotation of B about its own x axis (0)
    uint64_t seed;      // texture seed
} pc_synth_params;

typedef struct pc_synth_pair {
    int width, height;
    uint8_t *img_a;  // (H, W, 3) RGB8, owned
    uint8_t *img_b;  // (H, W, 3)
    float *depth_a;  // (H, W) z-depth in A (0 where the ray hits nothing), owned
    float *depth_b;  // (H, W) z-depth in B, owned
    pc_intrinsics K; // shared by both cameras
    double R[9];     // X_B = R X_A + t
    double t[3];
} pc_synth_pair;

void pc_synth_params_default(pc_synth_params *p);
pc_status pc_synth_pair_make(pc_synth_pair *out, const pc_synth_params *p, pc_error *err);
void pc_synth_pair_free(pc_synth_pair *p);

// Project world point X (A's frame) into camera B; returns 0 when behind it.
int pc_synth_project_b(const pc_synth_pair *s, const double X[3], double uv[2]);

#endif
