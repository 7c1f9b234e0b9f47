// Camera trajectory through the relay cameras (pipeline step 4) and the
// pytorch3d camera conversion ViewCrafter uses (utils/pvd_utils.py).
//
// Three rotation schemes share one parameterisation (segment j, t in [0, 1]):
//   SLERP        quaternion slerp, translation lerp;
//   SPLINE       ViewCrafter interpolate_poses_spline: with two keys per call and
//                k = min(5, 1) = 1, splprep/splev is the straight line through the
//                two (position, lookat, up) points, so a lerp of those points
//                followed by viewmatrix() reproduces it to ~1e-16;
//   SLERP_FOCUS  ViewCrafter generate_camera_path / interpolate_poses.
#include <math.h>
#include <string.h>

#include "core/common.h"
#include "geometry/linalg.h"
#include "render/trajectory.h"
#include "posecrafter/render.h"

pc_traj_opts pc_traj_default(void) {
    pc_traj_opts o = {PC_TRAJ_SLERP, PC_TRAJ_TOTAL, 25, 0};
    return o;
}

pc_traj_opts pc_traj_viewcrafter(int n) {
    pc_traj_opts o = {PC_TRAJ_SPLINE, PC_TRAJ_PER_SEGMENT, n, 1};
    return o;
}

int pc_traj_count(int n_keys, const pc_traj_opts *o) {
    if (!o || n_keys < 2 || o->n < 2 || o->n > 100000 || n_keys > 100000) return 0;
    if (o->spacing == PC_TRAJ_TOTAL) return o->n;
    if (o->spacing == PC_TRAJ_PER_SEGMENT) {
        int64_t c = (int64_t)(n_keys - 1) * (o->n - 1) + 1;
        return c > 1000000 ? 0 : (int)c;
    }
    return 0;
}

void pc_traj_key_frames(int *key_frames, int n_keys, const pc_traj_opts *o) {
    int n = pc_traj_count(n_keys, o);
    for (int j = 0; j < n_keys; j++) {
        key_frames[j] = -1;
        if (n == 0) continue;
        if (o->spacing == PC_TRAJ_PER_SEGMENT) {
            key_frames[j] = j * (o->n - 1);
        } else if ((int64_t)j * (n - 1) % (n_keys - 1) == 0) {
            key_frames[j] = (int)((int64_t)j * (n - 1) / (n_keys - 1));
        }
    }
}

// ---- per-pair interpolation ------------------------------------------------------

static void rot_of(double R[9], const double c2w[16]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) R[3 * i + j] = c2w[4 * i + j];
}

static void set_pose(double c2w[16], const double R[9], const double t[3]) {
    memset(c2w, 0, 16 * sizeof(double));
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) c2w[4 * i + j] = R[3 * i + j];
        c2w[4 * i + 3] = t[i];
    }
    c2w[15] = 1;
}

// Quaternion (XYZW) of a possibly non-orthonormal rotation: nearest rotation first.
static void quat_of(double q[4], const double c2w[16]) {
    double A[9], R[9];
    rot_of(A, c2w);
    pc_rot_project(R, A);
    pc_rot_to_quat(q, R);
}

// scipy Slerp between two rotations: shortest arc, q(t) = q0 (q0^-1 q1)^t.
void pc_traj_slerp_rot(double R[9], const double q0[4], const double q1_in[4], double t) {
    double q1[4] = {q1_in[0], q1_in[1], q1_in[2], q1_in[3]};
    double d = q0[0] * q1[0] + q0[1] * q1[1] + q0[2] * q1[2] + q0[3] * q1[3];
    if (d < 0) {
        for (int k = 0; k < 4; k++) q1[k] = -q1[k];
        d = -d;
    }
    if (d > 1) d = 1;
    double th = acos(d), q[4];
    if (th < 1e-12) {
        for (int k = 0; k < 4; k++) q[k] = q0[k] + t * (q1[k] - q0[k]);
    } else {
        double s = sin(th), a = sin((1 - t) * th) / s, b = sin(t * th) / s;
        for (int k = 0; k < 4; k++) q[k] = a * q0[k] + b * q1[k];
    }
    pc_quat_to_rot(R, q);
}

// ViewCrafter focus_point_fn on two poses: argmin_x sum_i |(I - d_i d_i^T)(x - o_i)|^2.
int pc_traj_focus_point(double f[3], const double *c2w0, const double *c2w1) {
    double A[9] = {0}, b[3] = {0};
    const double *P[2] = {c2w0, c2w1};
    for (int i = 0; i < 2; i++) {
        double d[3] = {P[i][2], P[i][6], P[i][10]}, o[3] = {P[i][3], P[i][7], P[i][11]}, m[9], mtm[9];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) m[3 * r + c] = (r == c) - d[r] * d[c];
        pc_m3_mul_at(mtm, m, m);
        double v[3];
        pc_m3_mulv(v, mtm, o);
        for (int k = 0; k < 9; k++) A[k] += 0.5 * mtm[k];
        for (int k = 0; k < 3; k++) b[k] += 0.5 * v[k];
    }
    double Ai[9];
    if (!pc_m3_inverse(Ai, A)) return 0;
    pc_m3_mulv(f, Ai, b);
    return 1;
}

static void normalize3(double v[3]) { pc_v3_normalize(v); }

// (position, lookat, up) of a pose as interpolate_poses_spline's poses_to_points
// builds them: numpy float32 arithmetic (the c2ws are float32 upstream).
static void spline_points(double p[9], const double c2w[16]) {
    const float dist = 0.1f;
    for (int i = 0; i < 3; i++) {
        float pos = (float)c2w[4 * i + 3], z = (float)c2w[4 * i + 2], y = (float)c2w[4 * i + 1];
        float dz = dist * z, dy = dist * y;
        float look = pos - dz, up = pos + dy;
        p[i] = pos, p[3 + i] = look, p[6 + i] = up;
    }
}

// viewmatrix(lookdir, up, position): columns vec0, vec1, vec2, position.
static void spline_pose(double c2w[16], const double pt[9]) {
    double look[3], up[3], v0[3], v1[3], v2[3], R[9];
    for (int i = 0; i < 3; i++) look[i] = pt[i] - pt[3 + i], up[i] = pt[6 + i] - pt[i];
    memcpy(v2, look, sizeof v2);
    normalize3(v2);
    pc_v3_cross(v0, up, v2);
    normalize3(v0);
    pc_v3_cross(v1, v2, v0);
    normalize3(v1);
    for (int i = 0; i < 3; i++) R[3 * i] = v0[i], R[3 * i + 1] = v1[i], R[3 * i + 2] = v2[i];
    set_pose(c2w, R, pt);
}

// Pose at parameter t in [0, 1] between keys a and b.
static void interp_pair(double c2w[16], const pc_camera *a, const pc_camera *b, double t, pc_traj_rot rot) {
    if (rot == PC_TRAJ_SPLINE) {
        double pa[9], pb[9], p[9];
        spline_points(pa, a->c2w);
        spline_points(pb, b->c2w);
        for (int k = 0; k < 9; k++) p[k] = (1 - t) * pa[k] + t * pb[k];
        spline_pose(c2w, p);
        return;
    }
    double qa[4], qb[4], R[9], pos[3];
    quat_of(qa, a->c2w);
    quat_of(qb, b->c2w);
    pc_traj_slerp_rot(R, qa, qb, t);
    for (int i = 0; i < 3; i++) pos[i] = (1 - t) * a->c2w[4 * i + 3] + t * b->c2w[4 * i + 3];
    if (rot == PC_TRAJ_SLERP_FOCUS) {
        double f[3];
        if (pc_traj_focus_point(f, a->c2w, b->c2w)) {
            double da[3], db[3], dp[3];
            for (int i = 0; i < 3; i++) {
                da[i] = a->c2w[4 * i + 3] - f[i];
                db[i] = b->c2w[4 * i + 3] - f[i];
                dp[i] = pos[i] - f[i];
            }
            double dist = (1 - t) * pc_v3_norm(da) + t * pc_v3_norm(db), n = pc_v3_norm(dp);
            if (n > 0)
                for (int i = 0; i < 3; i++) pos[i] = f[i] + dp[i] / n * dist;
        }
    }
    set_pose(c2w, R, pos);
}

static void lerp_intr(pc_camera *o, const pc_camera *a, const pc_camera *b, double t) {
    o->fx = (1 - t) * a->fx + t * b->fx;
    o->fy = (1 - t) * a->fy + t * b->fy;
    o->cx = (1 - t) * a->cx + t * b->cx;
    o->cy = (1 - t) * a->cy + t * b->cy;
}

pc_status pc_traj_interpolate(pc_camera *out, int max_out, const pc_camera *keys, int n_keys, const pc_traj_opts *o,
                              pc_error *err) {
    int n = pc_traj_count(n_keys, o);
    if (n == 0 || !keys || !out)
        return pc_err(err, PC_ERR_ARG, "pc_traj_interpolate: bad options (n_keys %d, n %d)", n_keys, o ? o->n : -1);
    if (o->rot != PC_TRAJ_SLERP && o->rot != PC_TRAJ_SPLINE && o->rot != PC_TRAJ_SLERP_FOCUS)
        return pc_err(err, PC_ERR_ARG, "pc_traj_interpolate: unknown rotation scheme %d", (int)o->rot);
    if (max_out < n) return pc_err(err, PC_ERR_ARG, "pc_traj_interpolate: %d poses needed, room for %d", n, max_out);
    for (int j = 0; j < n_keys; j++)
        for (int k = 0; k < 16; k++)
            if (!isfinite(keys[j].c2w[k]))
                return pc_err(err, PC_ERR_NUMERIC, "pc_traj_interpolate: key %d has a non-finite pose", j);
    if (o->spacing == PC_TRAJ_PER_SEGMENT) {
        int m = o->n;
        for (int j = 0; j + 1 < n_keys; j++) {
            for (int i = 0; i < m - 1; i++) {
                pc_camera *c = &out[j * (m - 1) + i];
                // vc_quirks: numpy linspace(0, 1, m, endpoint=False), u = i * (1/m), for the
                // pose; interpolate_sequence(k = m - 2), weights linspace(0, 1, m - 1), for
                // the intrinsics.
                double tp = o->vc_quirks ? i * (1.0 / m) : (double)i / (m - 1);
                double ti = o->vc_quirks ? (m > 2 ? (double)i / (m - 2) : 0.0) : tp;
                interp_pair(c->c2w, &keys[j], &keys[j + 1], tp, o->rot);
                lerp_intr(c, &keys[j], &keys[j + 1], ti);
            }
        }
        out[n - 1] = keys[n_keys - 1];
        return PC_OK;
    }
    for (int i = 0; i < n; i++) {
        double s = (double)i * (n_keys - 1) / (n - 1);
        int j = (int)floor(s);
        if (j > n_keys - 2) j = n_keys - 2;
        double t = s - j;
        if (t <= 0) {
            out[i] = keys[j];
        } else if (t >= 1) {
            out[i] = keys[j + 1];
        } else {
            interp_pair(out[i].c2w, &keys[j], &keys[j + 1], t, o->rot);
            lerp_intr(&out[i], &keys[j], &keys[j + 1], t);
        }
    }
    return PC_OK;
}

// ---- pytorch3d camera conversion --------------------------------------------------

void pc_camera_p3d_rt(double R[9], double T[3], const pc_camera *cam) {
    // R' = [-R[:,0], -R[:,1], R[:,2]] (RDF -> LUF); w2c = inv([R' | t]); R = w2c[:3,:3]^T.
    double Rp[9], Ri[9], t[3] = {cam->c2w[3], cam->c2w[7], cam->c2w[11]};
    for (int i = 0; i < 3; i++) {
        Rp[3 * i + 0] = -cam->c2w[4 * i + 0];
        Rp[3 * i + 1] = -cam->c2w[4 * i + 1];
        Rp[3 * i + 2] = cam->c2w[4 * i + 2];
    }
    if (!pc_m3_inverse(Ri, Rp)) pc_m3_transpose(Ri, Rp);
    double w2c_t[3];
    pc_m3_mulv(w2c_t, Ri, t);
    pc_m3_transpose(R, Ri);
    for (int i = 0; i < 3; i++) T[i] = -w2c_t[i];
}

void pc_camera_to_p3d(pc_p3d_camera *out, const pc_camera *cam, int H, int W) {
    double R[9], T[3];
    pc_camera_p3d_rt(R, T, cam);
    for (int k = 0; k < 9; k++) out->R[k] = (float)R[k];
    for (int k = 0; k < 3; k++) out->T[k] = (float)T[k];
    out->focal[0] = (float)cam->fx, out->focal[1] = (float)cam->fy;
    out->pp[0] = (float)cam->cx, out->pp[1] = (float)cam->cy;
    out->H = H, out->W = W;
}

// Row-vector 4x4 product in float32 (torch bmm of two float32 matrices).
static void mat4_mul_f(float C[16], const float A[16], const float B[16]) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float s = 0;
            for (int k = 0; k < 4; k++) s += A[4 * i + k] * B[4 * k + j];
            C[4 * i + j] = s;
        }
}

void pc_p3d_matrices(const pc_p3d_camera *c, float w2v[16], float proj[16], float ndc[16], float full[16]) {
    float M[16] = {0}, P[16] = {0}, N[16] = {0};
    // get_world_to_view_transform: Rotate(R) then Translate(T): [[R, 0], [T, 1]]
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) M[4 * i + j] = c->R[3 * i + j];
    for (int j = 0; j < 3; j++) M[12 + j] = c->T[j];
    M[15] = 1;
    // _get_sfm_calibration_matrix transposed: [[fx,0,0,0],[0,fy,0,0],[px,py,0,1],[0,0,1,0]]
    P[0] = c->focal[0], P[5] = c->focal[1], P[8] = c->pp[0], P[9] = c->pp[1], P[11] = 1, P[14] = 1;
    // get_ndc_camera_transform (in_ndc False): the principal-point fix x' = x - 2 px (the
    // screen point is in +X left / +Y up while px is in image axes), then
    // get_screen_to_ndc_transform without flip: x_ndc = x' / s + W / (2 s), s = min(H, W) / 2.
    // Net effect: x_ndc = (W/2 - u) / s with u the OpenCV pixel column.
    float s = (float)((c->H < c->W ? c->H : c->W) / 2.0);
    float S2N[16] = {0}, PF[16] = {0};
    S2N[0] = 1.0f / s, S2N[5] = 1.0f / s, S2N[10] = 1, S2N[15] = 1;
    S2N[12] = (float)(c->W / 2.0) / s, S2N[13] = (float)(c->H / 2.0) / s;
    PF[0] = PF[5] = PF[10] = PF[15] = 1;
    PF[12] = -2.0f * c->pp[0], PF[13] = -2.0f * c->pp[1];
    mat4_mul_f(N, PF, S2N);
    if (w2v) memcpy(w2v, M, sizeof M);
    if (proj) memcpy(proj, P, sizeof P);
    if (ndc) memcpy(ndc, N, sizeof N);
    if (full) mat4_mul_f(full, M, P);
}

void pc_p3d_project(float *out, const float *pts, int64_t n, const pc_p3d_camera *c) {
    float M[16], P[16], N[16], PN[16];
    pc_p3d_matrices(c, M, P, N, NULL);
    mat4_mul_f(PN, P, N);
    for (int64_t i = 0; i < n; i++) {
        const float x = pts[3 * i], y = pts[3 * i + 1], z = pts[3 * i + 2];
        float v[4];
        for (int j = 0; j < 4; j++) v[j] = x * M[j] + y * M[4 + j] + z * M[8 + j] + M[12 + j];
        float vx = v[0] / v[3], vy = v[1] / v[3], vz = v[2] / v[3];
        float h[4];
        for (int j = 0; j < 4; j++) h[j] = vx * PN[j] + vy * PN[4 + j] + vz * PN[8 + j] + PN[12 + j];
        out[3 * i] = h[0] / h[3];
        out[3 * i + 1] = h[1] / h[3];
        out[3 * i + 2] = vz;
    }
}
