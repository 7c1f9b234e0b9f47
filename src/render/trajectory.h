// Internal helpers of the camera trajectory (src/render/trajectory.c);
// the public API is include/posecrafter/render.h.
#ifndef PC_GEOMETRY_TRAJECTORY_H
#define PC_GEOMETRY_TRAJECTORY_H

// scipy Slerp([0, 1], [q0, q1])(t) as a rotation matrix (quaternions XYZW, shortest arc).
void pc_traj_slerp_rot(double R[9], const double q0[4], const double q1[4], double t);
// ViewCrafter focus_point_fn of two c2w poses (4x4 row-major). Returns 0 when the
// optical axes are parallel (singular system).
int pc_traj_focus_point(double f[3], const double *c2w0, const double *c2w1);

#endif
