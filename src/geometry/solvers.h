// Two-view minimal and linear solvers (PoseLib style: fixed-size inputs,
// the return value is the number of solutions written).
//
// Points are 2-D (x, y) pairs, row-major (n, 2) doubles: normalised image
// coordinates (K^-1 applied, z = 1) for the essential-matrix routines, pixels
// (or anything) for F and H. Conventions match posecrafter/geometry.h:
//   x_B^T E x_A = 0,  E = [t]_x R,  X_B = R X_A + t;   x_B^T F x_A = 0;   x_B ~ H x_A.
#ifndef PC_GEOMETRY_SOLVERS_H
#define PC_GEOMETRY_SOLVERS_H

#include <stdint.h>

// Five-point relative pose, essential matrix. D. Nister, "An efficient
// solution to the five-point relative pose problem", IEEE TPAMI 26(6), 2004;
// with the Groebner-basis elimination layout of H. Stewenius, C. Engels,
// D. Nister, "Recent developments on direct relative orientation", ISPRS J.
// 60(4), 2006: 10x20 cubic constraint matrix, Gauss-Jordan, 10th-degree
// polynomial in z, real roots by derivative-bracketed Newton. Writes up to 10
// E (each 9 doubles, unit Frobenius norm). Returns the number of solutions.
int pc_solve_essential_5pt(double E[10 * 9], const double xa[5 * 2], const double xb[5 * 2]);

// Essential matrix from n >= 8 correspondences: normalised 8-point linear
// solve (weights w (n) or NULL) then projection onto the essential manifold
// (singular values (1, 1, 0)). Returns 1, or 0 when degenerate.
int pc_solve_essential_8pt(double E[9], const double *xa, const double *xb, const double *w, int n);

// Seven-point fundamental matrix (det F = 0 cubic), Hartley-normalised
// internally. Up to 3 solutions (unit Frobenius norm). R. Hartley, A.
// Zisserman, "Multiple View Geometry", 2nd ed., sec. 11.1.2.
int pc_solve_fundamental_7pt(double F[3 * 9], const double xa[7 * 2], const double xb[7 * 2]);

// Normalised 8-point fundamental matrix (Hartley, "In defense of the
// eight-point algorithm", TPAMI 1997), n >= 8, optional weights, rank 2
// enforced. Returns 1 or 0.
int pc_solve_fundamental_8pt(double F[9], const double *xa, const double *xb, const double *w, int n);

// Homography by normalised DLT (MVG Alg. 4.2). n >= 4 (4 = minimal).
// H scaled so H[8] = 1 when |H[8]| is not tiny (else unit norm).
// Returns 1, or 0 when degenerate (collinear sample, singular H).
int pc_solve_homography_dlt(double H[9], const double *xa, const double *xb, int n);

// Absolute pose from three 2-D/3-D correspondences (P3P, Grunert; p3p.c). f (3, 3): unit bearing vectors
// of the image points (K^-1 x, normalised), X (3, 3): the world points. Writes up to 4 world-to-camera
// poses, f_i ~ R X_i + t, with the three points in front of the camera. Returns the number written
// (0 for a degenerate triple).
int pc_solve_p3p(double R[4][9], double t[4][3], const double f[9], const double X[9]);

// The four (R, t) factorisations of an essential matrix (t unit, R proper).
// Returns 4, or 0 when E is not finite / zero.
int pc_essential_decompose(double R[4][9], double t[4][3], const double E[9]);

// Depths (d_a, d_b) with d_b x_b ~= R (d_a x_a) + t in the least-squares
// sense (midpoint-style). Returns 0 when the rays are parallel.
int pc_triangulate_depths(double *d_a, double *d_b, const double R[9], const double t[3], const double xa[2],
                          const double xb[2]);

// Linear (DLT) triangulation with two 3x4 projection matrices P1, P2
// (row-major) and image points x1, x2 (same units as the P's). X (3).
// Returns 0 when the point is at infinity.
int pc_triangulate_dlt(double X[3], const double P1[12], const double P2[12], const double x1[2], const double x2[2]);

// Choose among the 4 decompositions of E the one with most correspondences in
// front of both cameras (depth > 0 and < max_depth * |t|, with |t| = 1).
// mask_in (n) restricts to those points (NULL = all); mask_out (n, may be
// NULL) gets 1 for points passing cheirality. Returns that count (0 if E bad).
// opencv: recoverPose (distanceThresh = max_depth).
int pc_essential_recover_pose(double R[9], double t[3], const double E[9], const double *xa, const double *xb, int n,
                              const uint8_t *mask_in, uint8_t *mask_out, double max_depth);

// Squared Sampson distance of (xa, xb) to the epipolar geometry of M (E or F).
double pc_sampson_sq(const double M[9], const double xa[2], const double xb[2]);

// Hartley normalisation: T (3x3) maps points to centroid 0, mean distance
// sqrt(2). out may be NULL. Returns 0 when all points coincide.
int pc_hartley_normalize(double T[9], double *out, const double *x, int n);

#endif
