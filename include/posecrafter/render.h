/* posecrafter public API: camera trajectories through the relay cameras and the
 * ViewCrafter point-cloud renderer (pytorch3d 0.7.5 PointsRasterizer +
 * AlphaCompositor semantics), pipeline steps 4 and 5.
 *
 * Cameras (pc_camera) are DUSt3R-style: a camera-to-world pose in OpenCV axes
 * (x right, y down, z forward) and pinhole intrinsics in pixels. The renderer
 * converts them to pytorch3d PerspectiveCameras exactly as ViewCrafter does
 * (utils/pvd_utils.py::generate_traj_interp): columns x and y of the rotation
 * negated (RDF -> LUF), w2c = inverse of that 4x4, pytorch3d R = w2c[:3,:3]^T and
 * T = w2c[:3,3] (row vectors: X_view = X_world . R + T), cast to float32 as
 * pytorch3d's TensorProperties does, in_ndc = False.
 *
 * Example (25 poses through 4 relay cameras, render, upsample x2):
 *
 *     pc_traj_opts to = pc_traj_default();           // 25 poses over the whole path, SLERP
 *     int n = pc_traj_count(4, &to);                  // 25
 *     pc_camera path[25];
 *     pc_traj_interpolate(path, n, relay, 4, &to, &err);
 *     pc_render_settings rs = pc_render_viewcrafter(288, 512);    // r 0.01 NDC, K 10
 *     pc_render_points(pool, frames, pts, cols, n_pts, path, n, &rs, NULL, &err);   // (n, 288, 512, 3)
 *     pc_render_upsample(pool, big, frames, n, 288, 512, 576, 1024, &err);          // (n, 576, 1024, 3)
 */
#ifndef POSECRAFTER_RENDER_H
#define POSECRAFTER_RENDER_H

#include <stdint.h>

#include "posecrafter/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_camera {
    double c2w[16];          /* (4, 4) camera-to-world, row-major, OpenCV axes */
    double fx, fy, cx, cy;   /* pixels */
} pc_camera;

/* ---- step 4: trajectory ------------------------------------------------------------------ */
typedef enum pc_traj_rot {
    /* Rotation SLERP (shortest arc), translation lerp. The paper's description. */
    PC_TRAJ_SLERP = 0,
    /* ViewCrafter interp_traj / interpolate_poses_spline: the (position, lookat, up) points
     * (rot_weight 0.1, built in float32 as upstream does) are lerped (splprep with k = 1 on
     * two keys is the straight line), then re-orthonormalised by viewmatrix(). */
    PC_TRAJ_SPLINE = 1,
    /* ViewCrafter generate_camera_path: SLERP, lerped position pushed to the lerped
     * distance from the pair's focus point (focus_point_fn). */
    PC_TRAJ_SLERP_FOCUS = 2,
} pc_traj_rot;

typedef enum pc_traj_spacing {
    /* n poses over the whole path: global parameter s_i = i (n_keys - 1) / (n - 1), key j at
     * s = j. With n - 1 divisible by n_keys - 1 every key camera is a frame exactly
     * (25 poses, 4 keys: frames 0, 8, 16, 24). Default: ViewCrafter's 25-frame model
     * sees one clip, so step 6 runs the diffusion once. */
    PC_TRAJ_TOTAL = 0,
    /* ViewCrafter nvs_sparse_view_interp: n poses per consecutive pair, sharing the key
     * poses, (n_keys - 1)(n - 1) + 1 in all; step 6 then runs one clip per pair. Pose and
     * intrinsics use t = i / (n - 1), i < n - 1, unless vc_quirks is set: then poses use
     * t = i / n (upstream's linspace(0, 1, n, endpoint=False) with the last one dropped, so
     * the last step of each pair is 2/n) and intrinsics t = i / (n - 2) (upstream's
     * interpolate_sequence(k = n - 2)), as generate_traj_interp does. */
    PC_TRAJ_PER_SEGMENT = 1,
} pc_traj_spacing;

typedef struct pc_traj_opts {
    pc_traj_rot rot;
    pc_traj_spacing spacing;
    int n;              /* poses in all (TOTAL) or per pair (PER_SEGMENT); >= 2 */
    int vc_quirks;      /* PER_SEGMENT only: copy generate_traj_interp's spacing quirks */
} pc_traj_opts;

/* rot SLERP, spacing TOTAL, n 25. */
pc_traj_opts pc_traj_default(void);
/* Exactly ViewCrafter's generate_traj_interp(c2ws, ..., ns = n): SPLINE, PER_SEGMENT, vc_quirks. */
pc_traj_opts pc_traj_viewcrafter(int n);
/* Number of poses pc_traj_interpolate writes for n_keys keys (0 on bad options). */
int pc_traj_count(int n_keys, const pc_traj_opts *o);
/* Frame index of each key camera in the output (key_frames has n_keys entries), for the
 * input-frame substitution; -1 for a key that falls between frames (TOTAL, n - 1 not a
 * multiple of n_keys - 1). */
void pc_traj_key_frames(int *key_frames, int n_keys, const pc_traj_opts *o);
/* out: pc_traj_count() cameras. keys: n_keys >= 2 cameras (rotations need not be exactly
 * orthonormal). Intrinsics are lerped with the pose parameter (see PER_SEGMENT). */
pc_status pc_traj_interpolate(pc_camera *out, int max_out, const pc_camera *keys, int n_keys, const pc_traj_opts *o,
                              pc_error *err);

/* ---- camera conversion (pytorch3d PerspectiveCameras, in_ndc = False) --------------------- */
typedef struct pc_p3d_camera {
    float R[9];         /* (3, 3): X_view = X_world . R + T (row vectors) */
    float T[3];
    float focal[2];     /* (fx, fy) pixels */
    float pp[2];        /* (cx, cy) pixels */
    int H, W;           /* image_size */
} pc_p3d_camera;

/* ViewCrafter's conversion in double (pytorch3d R, T before the float32 cast). */
void pc_camera_p3d_rt(double R[9], double T[3], const pc_camera *cam);
void pc_camera_to_p3d(pc_p3d_camera *out, const pc_camera *cam, int H, int W);
/* The 4x4 row-vector matrices (p' = [x y z 1] . M) pytorch3d builds, float32:
 * world_to_view, projection (K^T), ndc_camera_transform (screen -> NDC with the xy flip,
 * s = min(H, W) / 2), full_projection = world_to_view . projection. Any may be NULL. */
void pc_p3d_matrices(const pc_p3d_camera *c, float w2v[16], float proj[16], float ndc[16], float full[16]);
/* PointsRasterizer.transform: out (n, 3) = (x_ndc, y_ndc, z_view) of pts (n, 3), float32
 * as pytorch3d computes it (no eps clamp on the divide). */
void pc_p3d_project(float *out, const float *pts, int64_t n, const pc_p3d_camera *c);

/* ---- step 5: renderer --------------------------------------------------------------------- */
typedef struct pc_render_settings {
    int H, W;           /* render size */
    double radius;      /* NDC units (ViewCrafter: 0.01); double like the python float upstream */
    int K;              /* points per pixel (ViewCrafter: 10), 1..32 */
} pc_render_settings;

/* ViewCrafter's setup_renderer: radius 0.01, points_per_pixel 10, bin_size 0. */
pc_render_settings pc_render_viewcrafter(int H, int W);

/* Naive point rasterisation (rasterize_points, bin_size 0) of points already in NDC
 * (pts_ndc (P, 3) = x_ndc, y_ndc, z_view): idx (H, W, K) int32, zbuf and dists (H, W, K),
 * per pixel the K hits with the smallest z (ties: smaller index), -1 where empty.
 * idx indexes pts_ndc (pytorch3d's packed index of cloud n is n * P + idx).
 * Pixel (yi, xi) has NDC centre ((W - 2xi - 1) / S, (H - 2yi - 1) / S), S = min(H, W);
 * a point hits when z >= 0 and dx^2 + dy^2 < r^2 (float32, strict, r^2 = (float)r squared in
 * float32 as _format_radius does). zbuf / dists may be NULL.
 * Multithreaded over image rows; bit-identical for any thread count. */
pc_status pc_render_rasterize(pc_pool *pool, int32_t *idx, float *zbuf, float *dists, const float *pts_ndc, int64_t P,
                              const pc_render_settings *s, pc_error *err);
/* AlphaCompositor after PointsRenderer's weights 1 - dists / (float)(r * r): img (H, W, C) =
 * sum_k w_k prod_{j<k} (1 - w_j) feat[idx_k], front to back, idx -1 skipped. bg (C) or NULL:
 * NULL leaves empty pixels 0 (ViewCrafter); else pixels whose first slot is empty get bg. */
void pc_render_composite(pc_pool *pool, float *img, const int32_t *idx, const float *dists, const float *feat, int C,
                         const pc_render_settings *s, const float *bg);
/* ViewCrafter render_pcd for n_cams cameras: images (n_cams, H, W, 3) of the point cloud
 * pts (P, 3) world, colours cols (P, 3) in [0, 1]. bg as above. */
pc_status pc_render_points(pc_pool *pool, float *images, const float *pts, const float *cols, int64_t P,
                           const pc_camera *cams, int n_cams, const pc_render_settings *s, const float *bg,
                           pc_error *err);
/* Same with already converted cameras. */
pc_status pc_render_points_p3d(pc_pool *pool, float *images, const float *pts, const float *cols, int64_t P,
                               const pc_p3d_camera *cams, int n_cams, const pc_render_settings *s, const float *bg,
                               pc_error *err);
/* F.interpolate(bilinear, align_corners=False, size=(OH, OW)) of frames (N, H, W, C=3) ->
 * out (N, OH, OW, 3), channels-last in and out. */
pc_status pc_render_upsample(pc_pool *pool, float *out, const float *in, int N, int H, int W, int OH, int OW,
                             pc_error *err);
/* Input-frame substitution (ViewCrafter: render_results[i * (video_length - 1)] =
 * img_ori[i]): frames (N, H, W, 3); for each j with frame_idx[j] in [0, N), frame
 * frame_idx[j] = images[j] (each (H, W, 3)). */
void pc_render_substitute(float *frames, int N, int H, int W, const float *const *images, const int *frame_idx,
                          int n_images);

#ifdef __cplusplus
}
#endif

#endif /* POSECRAFTER_RENDER_H */
