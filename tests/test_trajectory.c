// Tests for src/render/trajectory.c (pipeline step 4) against
// golden/dynamicrafter/viewcrafter_cameras.safetensors:
//   ViewCrafter utils/pvd_utils.py: interp_traj / interpolate_poses_spline,
//   generate_traj_interp (camera conversion + interpolate_sequence),
//   generate_camera_path (SLERP + focus_point_fn);
//   pytorch3d PerspectiveCameras transforms and PointsRasterizer.transform.
// Plus hand checks: SLERP endpoints, monotone angles, intrinsics interpolation,
// frame counts / key frames of both spacings.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry/linalg.h"
#include "render/trajectory.h"
#include "testutil.h"

static const pc_checkpoint *g_ck;

static const pc_tensor *need(const char *name, pc_dtype dt, int64_t numel) {
    const pc_tensor *t = pc_checkpoint_find(g_ck, name);
    if (!t) pc_test_fatal("golden tensor '%s' missing", name);
    if (t->dtype != dt || pc_tensor_numel(t) != numel || !pc_tensor_is_contiguous(t))
        pc_test_fatal("golden tensor '%s': dtype %s numel %lld, expected %s %lld", name, pc_dtype_name(t->dtype),
                      (long long)pc_tensor_numel(t), pc_dtype_name(dt), (long long)numel);
    return t;
}

// README acceptance: max|c - ref| <= rtol * max|ref|.
static void close_rel(const char *name, const float *got, const float *want, size_t n, double rtol) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
    pc_test_close(name, got, want, n, rtol * m, 0);
}

static void load_keys(pc_camera *keys, const char *pre, int n) {
    char nm[128];
    snprintf(nm, sizeof nm, "%s.c2ws", pre);
    const float *c2w = need(nm, PC_F32, n * 16)->data;
    snprintf(nm, sizeof nm, "%s.focals", pre);
    const float *f = need(nm, PC_F32, n)->data;
    snprintf(nm, sizeof nm, "%s.principal_points", pre);
    const float *pp = need(nm, PC_F32, n * 2)->data;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 16; k++) keys[i].c2w[k] = c2w[16 * i + k];
        keys[i].fx = keys[i].fy = f[i];
        keys[i].cx = pp[2 * i], keys[i].cy = pp[2 * i + 1];
    }
}

static void golden_case(int n_keys) {
    const int H = 288, W = 512;
    char pre[8], nm[128], what[160];
    snprintf(pre, sizeof pre, "n%d", n_keys);
    pc_camera keys[4];
    load_keys(keys, pre, n_keys);
    pc_error err;
    pc_traj_opts o = pc_traj_viewcrafter(25);
    const int N = pc_traj_count(n_keys, &o);
    PC_CHECK(N == 24 * (n_keys - 1) + 1, "%s: ViewCrafter per-segment count %d", pre, N);
    pc_camera *path = calloc((size_t)N, sizeof *path);
    pc_test_ok(pc_traj_interpolate(path, N, keys, n_keys, &o, &err), &err, "pc_traj_interpolate");

    // interp_traj (float64 poses)
    double *got = malloc((size_t)N * 16 * sizeof(double));
    for (int i = 0; i < N; i++) memcpy(got + 16 * i, path[i].c2w, 16 * sizeof(double));
    snprintf(nm, sizeof nm, "%s.interp_traj", pre);
    snprintf(what, sizeof what, "%s (pvd_utils.interp_traj)", nm);
    pc_test_close_f64(what, got, need(nm, PC_F64, N * 16)->data, (size_t)N * 16, 1e-9, 0);

    // traj_interp.R / T (float64, before pytorch3d's float32 cast)
    double *gR = malloc((size_t)N * 9 * sizeof(double)), *gT = malloc((size_t)N * 3 * sizeof(double));
    for (int i = 0; i < N; i++) pc_camera_p3d_rt(gR + 9 * i, gT + 3 * i, &path[i]);
    snprintf(nm, sizeof nm, "%s.traj_interp.R", pre);
    pc_test_close_f64(nm, gR, need(nm, PC_F64, N * 9)->data, (size_t)N * 9, 1e-9, 0);
    snprintf(nm, sizeof nm, "%s.traj_interp.T", pre);
    pc_test_close_f64(nm, gT, need(nm, PC_F64, N * 3)->data, (size_t)N * 3, 1e-9, 0);

    // intrinsics, image size, pytorch3d matrices, projected test points
    float *f2 = malloc((size_t)N * 2 * 4), *pp = malloc((size_t)N * 2 * 4), *isz = malloc((size_t)N * 2 * 4);
    float *f1 = malloc((size_t)N * 4);
    float *mats[4];
    for (int m = 0; m < 4; m++) mats[m] = malloc((size_t)N * 16 * 4);
    const float *tpw = NULL;
    snprintf(nm, sizeof nm, "%s.test_points_world", pre);
    tpw = need(nm, PC_F32, 12)->data;
    float *tpn = malloc((size_t)N * 12 * 4);
    for (int i = 0; i < N; i++) {
        pc_p3d_camera c;
        pc_camera_to_p3d(&c, &path[i], H, W);
        f2[2 * i] = c.focal[0], f2[2 * i + 1] = c.focal[1];
        pp[2 * i] = c.pp[0], pp[2 * i + 1] = c.pp[1];
        f1[i] = (float)path[i].fx;
        isz[2 * i] = (float)c.H, isz[2 * i + 1] = (float)c.W;
        pc_p3d_matrices(&c, mats[0] + 16 * i, mats[1] + 16 * i, mats[2] + 16 * i, mats[3] + 16 * i);
        pc_p3d_project(tpn + 12 * i, tpw, 4, &c);
    }
    static const char *mnames[4] = {"world_to_view", "projection", "ndc_camera_transform", "full_projection"};
    snprintf(nm, sizeof nm, "%s.traj_interp.focal_length", pre);
    close_rel(nm, f2, need(nm, PC_F32, N * 2)->data, (size_t)N * 2, 1e-5);
    snprintf(nm, sizeof nm, "%s.traj_interp.principal_point", pre);
    close_rel(nm, pp, need(nm, PC_F32, N * 2)->data, (size_t)N * 2, 1e-5);
    snprintf(nm, sizeof nm, "%s.interp_focals", pre);
    close_rel(nm, f1, need(nm, PC_F32, N)->data, (size_t)N, 1e-5);
    snprintf(nm, sizeof nm, "%s.interp_principal_points", pre);
    close_rel(nm, pp, need(nm, PC_F32, N * 2)->data, (size_t)N * 2, 1e-5);
    snprintf(nm, sizeof nm, "%s.traj_interp.image_size", pre);
    close_rel(nm, isz, need(nm, PC_F32, N * 2)->data, (size_t)N * 2, 0);
    for (int m = 0; m < 4; m++) {
        snprintf(nm, sizeof nm, "%s.traj_interp.%s", pre, mnames[m]);
        close_rel(nm, mats[m], need(nm, PC_F32, N * 16)->data, (size_t)N * 16, 1e-5);
    }
    snprintf(nm, sizeof nm, "%s.test_points_ndc", pre);
    close_rel(nm, tpn, need(nm, PC_F32, N * 12)->data, (size_t)N * 12, 1e-5);

    // generate_camera_path(c2ws, n_inserts=15): SLERP_FOCUS, 17 per pair, t = i/16
    pc_traj_opts so = {PC_TRAJ_SLERP_FOCUS, PC_TRAJ_PER_SEGMENT, 17, 0};
    int NS = pc_traj_count(n_keys, &so);
    PC_CHECK(NS == 16 * (n_keys - 1) + 1, "%s: slerp path count %d", pre, NS);
    pc_camera *sp = calloc((size_t)NS, sizeof *sp);
    pc_test_ok(pc_traj_interpolate(sp, NS, keys, n_keys, &so, &err), &err, "pc_traj_interpolate slerp");
    float *spf = malloc((size_t)NS * 16 * 4);
    for (int i = 0; i < NS; i++)
        for (int k = 0; k < 16; k++) spf[16 * i + k] = (float)sp[i].c2w[k];
    snprintf(nm, sizeof nm, "%s.camera_path_slerp", pre);
    close_rel(nm, spf, need(nm, PC_F32, NS * 16)->data, (size_t)NS * 16, 1e-5);
    float fp[9];
    for (int j = 0; j + 1 < n_keys; j++) {
        double f[3];
        PC_CHECK(pc_traj_focus_point(f, keys[j].c2w, keys[j + 1].c2w), "%s focus point %d solvable", pre, j);
        for (int k = 0; k < 3; k++) fp[3 * j + k] = (float)f[k];
    }
    snprintf(nm, sizeof nm, "%s.focus_points", pre);
    close_rel(nm, fp, need(nm, PC_F32, (n_keys - 1) * 3)->data, (size_t)(n_keys - 1) * 3, 1e-5);

    free(sp), free(spf), free(tpn), free(f1), free(f2), free(pp), free(isz), free(gR), free(gT), free(got), free(path);
    for (int m = 0; m < 4; m++) free(mats[m]);
}

// interpolate_poses_spline on its own: spline.poses_3x4 (2, 3, 4) -> spline.out (25, 4, 4), all 25 u values.
static void spline_case(void) {
    const float *p = need("spline.poses_3x4", PC_F32, 24)->data;
    pc_camera k[2];
    memset(k, 0, sizeof k);
    for (int i = 0; i < 2; i++) {
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++) k[i].c2w[4 * r + c] = p[12 * i + 4 * r + c];
        k[i].c2w[15] = 1;
        k[i].fx = k[i].fy = 100, k[i].cx = k[i].cy = 50;
    }
    // interp_traj drops the 25th pose (u = 24/25) of each pair, so our per-segment path
    // reproduces spline.out[0:24].
    pc_traj_opts o = pc_traj_viewcrafter(25);
    pc_camera path[25];
    pc_error err;
    pc_test_ok(pc_traj_interpolate(path, 25, k, 2, &o, &err), &err, "spline");
    float got[24 * 16];
    for (int i = 0; i < 24; i++)
        for (int j = 0; j < 16; j++) got[16 * i + j] = (float)path[i].c2w[j];
    close_rel("spline.out[0:24] (interpolate_poses_spline)", got, need("spline.out", PC_F32, 25 * 16)->data, 24 * 16,
              1e-5);
}

static double rot_angle_between(const double *A, const double *B) {
    double Ra[9], Rb[9], Rr[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) Ra[3 * i + j] = A[4 * i + j], Rb[3 * i + j] = B[4 * i + j];
    pc_m3_mul_at(Rr, Ra, Rb);
    return pc_rot_angle_deg(Rr);
}

static void hand_cases(void) {
    pc_error err;
    pc_camera k[4];
    memset(k, 0, sizeof k);
    double aa[4][3] = {{0, 0, 0}, {0, 0.3, 0}, {0.1, 0.8, 0.05}, {0.15, 1.2, 0.1}};
    for (int j = 0; j < 4; j++) {
        double R[9];
        pc_axis_angle_to_rot(R, aa[j]);
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) k[j].c2w[4 * r + c] = R[3 * r + c];
            k[j].c2w[4 * r + 3] = 0.5 * j * (r == 0) + 0.1 * j * (r == 2);
        }
        k[j].c2w[15] = 1;
        k[j].fx = 300 + 20 * j, k[j].fy = 310 + 20 * j, k[j].cx = 256 + j, k[j].cy = 144 - j;
    }
    // default: SLERP, 25 over the whole path, keys at 0, 8, 16, 24
    pc_traj_opts o = pc_traj_default();
    int N = pc_traj_count(4, &o);
    PC_CHECK(N == 25, "default trajectory has 25 poses (%d)", N);
    int kf[4];
    pc_traj_key_frames(kf, 4, &o);
    PC_CHECK(kf[0] == 0 && kf[1] == 8 && kf[2] == 16 && kf[3] == 24, "key frames 0 8 16 24 (%d %d %d %d)", kf[0],
             kf[1], kf[2], kf[3]);
    pc_camera path[25];
    pc_test_ok(pc_traj_interpolate(path, 25, k, 4, &o, &err), &err, "default trajectory");
    double worst = 0;
    for (int j = 0; j < 4; j++)
        for (int e = 0; e < 16; e++) worst = fmax(worst, fabs(path[kf[j]].c2w[e] - k[j].c2w[e]));
    PC_CHECK(worst < 1e-12, "SLERP endpoints: key poses reproduced (worst %.3g)", worst);
    // Angles from key 0 grow monotonically (all rotations about nearly one axis, < 180 deg).
    int mono = 1;
    double prev = -1;
    for (int i = 0; i < 25; i++) {
        double a = rot_angle_between(k[0].c2w, path[i].c2w);
        if (a < prev - 1e-9) mono = 0;
        prev = a;
    }
    PC_CHECK(mono, "SLERP: angle to the first key is monotone along the path (last %.3f deg)", prev);
    // Constant angular speed inside a segment: equal angles between consecutive poses.
    double a1 = rot_angle_between(path[1].c2w, path[2].c2w), a2 = rot_angle_between(path[5].c2w, path[6].c2w);
    PC_CHECK(fabs(a1 - a2) < 1e-9, "SLERP: constant angular step in segment 0 (%.9f vs %.9f deg)", a1, a2);
    // Midpoint of segment 1 (frame 12): half the relative rotation, lerped translation and intrinsics.
    double half = rot_angle_between(k[1].c2w, path[12].c2w), full = rot_angle_between(k[1].c2w, k[2].c2w);
    PC_CHECK(fabs(half - 0.5 * full) < 1e-9, "SLERP midpoint angle %.9f = %.9f / 2", half, full);
    double tmid = 0.5 * (k[1].c2w[3] + k[2].c2w[3]);
    PC_CHECK(fabs(path[12].c2w[3] - tmid) < 1e-12, "translation lerp at the midpoint (%.12f vs %.12f)",
             path[12].c2w[3], tmid);
    // intrinsics: frame 3 = key 0 + 3/8 of the way to key 1
    double fx3 = k[0].fx + 3.0 / 8 * (k[1].fx - k[0].fx), cy3 = k[0].cy + 3.0 / 8 * (k[1].cy - k[0].cy);
    PC_CHECK(fabs(path[3].fx - fx3) < 1e-12 && fabs(path[3].cy - cy3) < 1e-12,
             "intrinsics lerp: fx %.6f (want %.6f), cy %.6f (want %.6f)", path[3].fx, fx3, path[3].cy, cy3);
    // rotations stay orthonormal
    double orth = 0;
    for (int i = 0; i < 25; i++) {
        double R[9], RtR[9];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) R[3 * r + c] = path[i].c2w[4 * r + c];
        pc_m3_mul_at(RtR, R, R);
        for (int e = 0; e < 9; e++) orth = fmax(orth, fabs(RtR[e] - (e % 4 == 0)));
    }
    PC_CHECK(orth < 1e-12, "SLERP rotations orthonormal (worst %.3g)", orth);

    // per segment, uniform: 3 * 24 + 1, keys at multiples of 24
    pc_traj_opts ps = {PC_TRAJ_SLERP, PC_TRAJ_PER_SEGMENT, 25, 0};
    PC_CHECK(pc_traj_count(4, &ps) == 73, "per-segment count 73");
    pc_traj_key_frames(kf, 4, &ps);
    PC_CHECK(kf[1] == 24 && kf[3] == 72, "per-segment key frames (%d, %d)", kf[1], kf[3]);
    pc_camera big[73];
    pc_test_ok(pc_traj_interpolate(big, 73, k, 4, &ps, &err), &err, "per-segment");
    worst = 0;
    for (int j = 0; j < 4; j++)
        for (int e = 0; e < 16; e++) worst = fmax(worst, fabs(big[24 * j].c2w[e] - k[j].c2w[e]));
    PC_CHECK(worst < 1e-12, "per-segment: key poses reproduced (worst %.3g)", worst);
    PC_CHECK(fabs(big[12].fx - 0.5 * (k[0].fx + k[1].fx)) < 1e-12, "per-segment intrinsics midpoint");

    // a key that falls between frames in TOTAL spacing is reported as -1
    pc_traj_opts o20 = pc_traj_default();
    o20.n = 20;
    pc_traj_key_frames(kf, 4, &o20);
    PC_CHECK(kf[0] == 0 && kf[1] == -1 && kf[3] == 19, "key frames for n=20 (%d %d %d)", kf[0], kf[1], kf[3]);

    // bad input
    pc_traj_opts bad = pc_traj_default();
    bad.n = 1;
    PC_CHECK(pc_traj_interpolate(path, 25, k, 4, &bad, &err) == PC_ERR_ARG, "n = 1 rejected: %s", err.msg);
    PC_CHECK(pc_traj_interpolate(path, 10, k, 4, &o, &err) == PC_ERR_ARG, "short output rejected: %s", err.msg);
    k[2].c2w[5] = NAN;
    PC_CHECK(pc_traj_interpolate(path, 25, k, 4, &o, &err) == PC_ERR_NUMERIC, "NaN key rejected: %s", err.msg);
}

int main(void) {
    hand_cases();
    char path[1024];
    pc_test_shared_path(path, sizeof path, "golden/dynamicrafter/viewcrafter_cameras.safetensors");
    pc_checkpoint *ck;
    pc_error err;
    pc_test_ok(pc_checkpoint_open(&ck, path, &err), &err, "open viewcrafter_cameras");
    g_ck = ck;
    golden_case(2);
    golden_case(4);
    spline_case();
    pc_checkpoint_close(ck);
    return pc_test_finish();
}
