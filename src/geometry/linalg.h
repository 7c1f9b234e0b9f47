// Small dense double-precision linear algebra for the geometry code.
//
// All matrices are row-major: element (i, j) of an (m, n) matrix is A[i*n + j].
// 3x3 matrices are plain double[9]. Sizes are small (n <= 16 columns for the
// routines that say so), so everything lives on the stack: no allocation.
//
// Rotations: R maps column vectors (x' = R x). Quaternions are XYZW (roma /
// scipy order), unit norm, sign chosen with w >= 0. Axis-angle is the
// rotation vector theta * axis (|aa| = theta in radians, in [0, pi]).
#ifndef PC_GEOMETRY_LINALG_H
#define PC_GEOMETRY_LINALG_H

#include <stdint.h>

// ---- 3-vectors and 3x3 matrices -------------------------------------------
static inline double pc_v3_dot(const double a[3], const double b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
double pc_v3_norm(const double a[3]);
// a /= |a|; returns the old norm (a untouched when it is 0).
double pc_v3_normalize(double a[3]);
void pc_v3_cross(double out[3], const double a[3], const double b[3]);

void pc_m3_identity(double out[9]);
void pc_m3_mul(double out[9], const double A[9], const double B[9]);     // A B
void pc_m3_mul_at(double out[9], const double A[9], const double B[9]);  // A^T B
void pc_m3_mul_bt(double out[9], const double A[9], const double B[9]);  // A B^T
void pc_m3_transpose(double out[9], const double A[9]);
void pc_m3_mulv(double out[3], const double A[9], const double x[3]);    // A x
void pc_m3_mulv_t(double out[3], const double A[9], const double x[3]);  // A^T x
double pc_m3_det(const double A[9]);
double pc_m3_trace(const double A[9]);
// Returns 0 (out untouched) when |det| <= 1e-300 or not finite.
int pc_m3_inverse(double out[9], const double A[9]);
// [v]_x such that [v]_x w = v x w.
void pc_m3_skew(double out[9], const double v[3]);
double pc_m3_frobenius(const double A[9]);

// ---- rotations --------------------------------------------------------------
void pc_quat_to_rot(double R[9], const double q[4]);     // q XYZW, normalised inside
void pc_rot_to_quat(double q[4], const double R[9]);     // Shepperd's method, w >= 0
void pc_axis_angle_to_rot(double R[9], const double aa[3]);  // Rodrigues
void pc_rot_to_axis_angle(double aa[3], const double R[9]);  // robust near 0 and pi
// roma's exact forms (the alignment goldens depend on their rounding and branch choices): unitquat_to_rotmat
// for a unit XYZW q (homogeneous form), its backward dL/dq from dL/dR, and rotmat_to_unitquat.
void pc_quat_to_rot_roma(double R[9], const double q[4]);
void pc_quat_to_rot_roma_backward(double gq[4], const double q[4], const double gR[9]);
void pc_rot_to_quat_roma(double q[4], const double R[9]);
// Angle of a rotation matrix in degrees, in [0, 180] (clamped acos((tr-1)/2)).
double pc_rot_angle_deg(const double R[9]);
// Nearest rotation (Frobenius) to a 3x3 matrix: U diag(1,1,det) V^T.
void pc_rot_project(double R[9], const double A[9]);

// ---- decompositions -----------------------------------------------------------
// SVD of a 3x3 matrix: A = U diag(S) V^T, S descending and >= 0, U and V
// orthogonal (always complete, even for rank-deficient A; det may be -1).
// One-sided Jacobi, accurate to ~1e-15 relative. Returns 1 (0 if not finite).
int pc_svd3(double U[9], double S[3], double V[9], const double A[9]);

// Thin SVD of an (m, n) matrix, m >= n, n <= 16, by one-sided Jacobi
// (Hestenes). A is overwritten with U (m, n) (column j is unit when S[j] > 0,
// zero otherwise); S (n) descending; V (n, n) orthogonal, columns are the right
// singular vectors. Returns 1, or 0 on bad sizes / non-finite input.
int pc_svd_jacobi(double *A, int m, int n, double *S, double *V);

// Symmetric eigendecomposition of an (n, n) matrix, n <= 16, cyclic Jacobi.
// A is destroyed. evals ascending; evecs (n, n) with eigenvector k in column k.
int pc_sym_eig(double *A, int n, double *evals, double *evecs);

// Streaming QR: R (n, n) upper-triangular, starts zeroed; each added row is
// folded in with Givens rotations so that R^T R = sum row^T row, without
// squaring the condition number. n <= 16.
void pc_qr_add_row(double *R, int n, const double *row);

// Unit x (n) minimising |A x| for an (m, n) matrix (any m >= 1, n <= 16):
// the right singular vector of the smallest singular value. If s_ratio is not
// NULL it receives S[n-1] / S[0] (0 for an exact null vector). Returns 1 or 0.
int pc_null_vector(double *x, const double *A, int m, int n, double *s_ratio);
// Same, from the accumulated R of pc_qr_add_row.
int pc_null_vector_r(double *x, const double *R, int n, double *s_ratio);

// Orthonormal basis of the null space of an (m, n) matrix with m < n <= 16
// and full row rank: N (n, n - m), column k is basis vector k. Householder QR
// of A^T. Returns 1, or 0 on bad sizes.
int pc_null_space(double *N, const double *A, int m, int n);

// Least squares min |A x - b| for (m, n) A, m >= n, n <= 15, via Givens QR.
// Returns 0 when A is (numerically) rank-deficient.
int pc_lstsq(double *x, const double *A, const double *b, int m, int n);
// Solve the square system A x = b (n <= 16) by Gaussian elimination with
// partial pivoting. A and b are copied. Returns 0 when singular.
int pc_solve(double *x, const double *A, const double *b, int n);

// ---- registration -------------------------------------------------------------
// Weighted Umeyama / Procrustes: find s, R, t minimising
//     sum_i w_i |Y_i - (s R X_i + t)|^2
// X, Y (n, 3); w (n) non-negative, NULL for all ones (weights are normalised
// by their sum, as roma.rigid_points_registration does). with_scale = 0 fixes
// s = 1. R is a proper rotation (reflection corrected). scale may be NULL.
// Returns 1, or 0 when n < 1, the weights sum to <= 0 or the input is not finite.
// roma: rigid_points_registration(x, y, weights, compute_scaling)
int pc_procrustes(double R[9], double t[3], double *scale, const double *X, const double *Y,
                  const double *w, int n, int with_scale);

// ---- polynomials --------------------------------------------------------------
// Real roots of sum_k c[k] x^k (degree deg <= 20, leading coefficient may be
// tiny: the degree is reduced) inside [lo, hi]. Roots are isolated between the
// roots of the derivative (recursively) and polished by safeguarded Newton.
// Returns the number found (<= deg), ascending. Double roots may be missed.
int pc_poly_real_roots(double *roots, const double *c, int deg, double lo, double hi);
double pc_poly_eval(const double *c, int deg, double x);

#endif
