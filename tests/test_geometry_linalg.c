// Tests for src/geometry/linalg: 3x3 helpers, rotations, SVD (3x3 and m x n
// one-sided Jacobi), symmetric eigen, null vectors, least squares, weighted
// Umeyama (roma: rigid_points_registration), polynomial real roots.
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "geometry/linalg.h"

static double urand(pc_test_rng *r) { return (double)pc_test_uniform(r); }

static void rand_rot(pc_test_rng *r, double R[9]) {
    double q[4] = {urand(r), urand(r), urand(r), urand(r)};
    pc_quat_to_rot(R, q);
}

static double max_abs_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void test_m3(pc_test_rng *rng) {
    double A[9], Ai[9], I[9], P[9], E[9];
    for (int i = 0; i < 9; i++) A[i] = urand(rng);
    PC_CHECK(pc_m3_inverse(Ai, A), "m3 inverse exists");
    pc_m3_mul(P, A, Ai);
    pc_m3_identity(I);
    double e = max_abs_diff(P, I, 9);
    PC_CHECK(e < 1e-12, "m3 A*inv(A) = I (max err %.3g)", e);
    double At[9], AtA[9], AtA2[9];
    pc_m3_transpose(At, A);
    pc_m3_mul(AtA, At, A);
    pc_m3_mul_at(AtA2, A, A);
    PC_CHECK(max_abs_diff(AtA, AtA2, 9) < 1e-14, "m3 mul_at");
    double v[3] = {1, 2, 3}, w[3] = {-1, 0.5, 2}, c1[3], c2[3], S[9];
    pc_v3_cross(c1, v, w);
    pc_m3_skew(S, v);
    pc_m3_mulv(c2, S, w);
    PC_CHECK(max_abs_diff(c1, c2, 3) < 1e-15, "skew(v) w = v x w");
    // det(AB) = det A det B
    double B[9];
    for (int i = 0; i < 9; i++) B[i] = urand(rng);
    pc_m3_mul(E, A, B);
    PC_CHECK(fabs(pc_m3_det(E) - pc_m3_det(A) * pc_m3_det(B)) < 1e-13, "det(AB) = det(A) det(B)");
    double Z[9] = {1, 2, 3, 2, 4, 6, 0, 1, 0};
    PC_CHECK(!pc_m3_inverse(Ai, Z), "singular inverse refused");
}

static void test_rotations(pc_test_rng *rng) {
    double worst_q = 0, worst_aa = 0, worst_ang = 0;
    for (int t = 0; t < 2000; t++) {
        double R[9], q[4], R2[9], aa[3], R3[9];
        if (t == 0) {  // exactly pi around x
            double Rx[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
            memcpy(R, Rx, sizeof(R));
        } else if (t == 1) {
            pc_m3_identity(R);
        } else if (t < 100) {  // near pi / near 0
            double a[3] = {urand(rng), urand(rng), urand(rng)};
            pc_v3_normalize(a);
            double th = (t % 2) ? 3.14159265358979 - 1e-9 * t : 1e-9 * t;
            for (int k = 0; k < 3; k++) a[k] *= th;
            pc_axis_angle_to_rot(R, a);
        } else {
            rand_rot(rng, R);
        }
        pc_rot_to_quat(q, R);
        pc_quat_to_rot(R2, q);
        worst_q = fmax(worst_q, max_abs_diff(R, R2, 9));
        pc_rot_to_axis_angle(aa, R);
        pc_axis_angle_to_rot(R3, aa);
        worst_aa = fmax(worst_aa, max_abs_diff(R, R3, 9));
        double ang = pc_v3_norm(aa) * 180.0 / 3.14159265358979323846;
        worst_ang = fmax(worst_ang, fabs(ang - pc_rot_angle_deg(R)));
    }
    PC_CHECK(worst_q < 1e-14, "R -> quat -> R round trip (max err %.3g, tol 1e-14)", worst_q);
    PC_CHECK(worst_aa < 1e-14, "R -> axis-angle -> R round trip (max err %.3g, tol 1e-14)", worst_aa);
    PC_CHECK(worst_ang < 1e-10, "axis-angle norm = rotation angle (max err %.3g deg)", worst_ang);
    // a known case: 90 deg about z, quaternion XYZW = (0, 0, sin 45, cos 45)
    double aa[3] = {0, 0, 3.14159265358979323846 / 2}, R[9], q[4];
    pc_axis_angle_to_rot(R, aa);
    pc_rot_to_quat(q, R);
    double want[4] = {0, 0, sqrt(0.5), sqrt(0.5)};
    PC_CHECK(max_abs_diff(q, want, 4) < 1e-15, "quat of Rz(90) is XYZW (0,0,.707,.707)");
    double Rz[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    PC_CHECK(max_abs_diff(R, Rz, 9) < 1e-15, "Rz(90) matrix");
}

static void test_svd(pc_test_rng *rng) {
    double worst = 0, worst_orth = 0;
    int nfail = 0, nbad_order = 0;
    for (int t = 0; t < 500; t++) {
        double A[9], U[9], S[3], V[9];
        for (int i = 0; i < 9; i++) A[i] = urand(rng);
        if (t % 5 == 1) {  // rank 2
            for (int k = 0; k < 3; k++) A[6 + k] = 0.3 * A[k] - 2 * A[3 + k];
        } else if (t % 5 == 2) {  // rank 1
            for (int k = 0; k < 3; k++) A[3 + k] = 2 * A[k], A[6 + k] = -A[k];
        } else if (t % 5 == 3) {  // rotation (all singular values 1)
            rand_rot(rng, A);
        }
        nfail += !pc_svd3(U, S, V, A);
        double US[9], B[9], UtU[9], VtV[9], I[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) US[i * 3 + j] = U[i * 3 + j] * S[j];
        pc_m3_mul_bt(B, US, V);
        worst = fmax(worst, max_abs_diff(A, B, 9));
        pc_m3_mul_at(UtU, U, U);
        pc_m3_mul_at(VtV, V, V);
        pc_m3_identity(I);
        worst_orth = fmax(worst_orth, fmax(max_abs_diff(UtU, I, 9), max_abs_diff(VtV, I, 9)));
        nbad_order += !(S[0] >= S[1] && S[1] >= S[2] && S[2] >= 0);
    }
    PC_CHECK(nfail == 0 && nbad_order == 0, "svd3: %d failures, %d unordered of 500", nfail, nbad_order);
    PC_CHECK(worst < 1e-14, "svd3 U S V^T = A over 500 (incl. rank 1/2) (max err %.3g, tol 1e-14)", worst);
    PC_CHECK(worst_orth < 1e-14, "svd3 U, V orthogonal (max err %.3g)", worst_orth);

    // m x n: 200 x 9
    enum { M = 200, N = 9 };
    static double A[M * N], U[M * N];
    double S[N], V[N * N];
    for (int i = 0; i < M * N; i++) A[i] = urand(rng);
    memcpy(U, A, sizeof(A));
    PC_CHECK(pc_svd_jacobi(U, M, N, S, V), "svd m x n ok");
    double e = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += U[i * N + k] * S[k] * V[j * N + k];
            e = fmax(e, fabs(s - A[i * N + j]));
        }
    PC_CHECK(e < 1e-13, "svd 200x9 reconstruction (max err %.3g)", e);
    // null vector of a matrix with exact rank 8
    double x0[N], x[N], ratio;
    for (int j = 0; j < N; j++) x0[j] = urand(rng);
    double n0 = 0;
    for (int j = 0; j < N; j++) n0 += x0[j] * x0[j];
    for (int i = 0; i < M; i++) {  // project rows orthogonal to x0
        double d = 0;
        for (int j = 0; j < N; j++) d += A[i * N + j] * x0[j];
        for (int j = 0; j < N; j++) A[i * N + j] -= d / n0 * x0[j];
    }
    PC_CHECK(pc_null_vector(x, A, M, N, &ratio), "null vector ok");
    double dot = 0;
    for (int j = 0; j < N; j++) dot += x[j] * x0[j];
    dot /= sqrt(n0);
    PC_CHECK(fabs(fabs(dot) - 1) < 1e-13 && ratio < 1e-14, "null vector 200x9 (|cos|-1 = %.3g, s ratio %.3g)",
             fabs(fabs(dot) - 1), ratio);
    // underdetermined null space 5x9 (4-dim)
    double B[5 * N], Nsp[N * 4];
    for (int i = 0; i < 5 * N; i++) B[i] = urand(rng);
    PC_CHECK(pc_null_space(Nsp, B, 5, N), "null space ok");
    double ne = 0, oe = 0;
    for (int c = 0; c < 4; c++) {
        for (int r = 0; r < 5; r++) {
            double s = 0;
            for (int j = 0; j < N; j++) s += B[r * N + j] * Nsp[j * 4 + c];
            ne = fmax(ne, fabs(s));
        }
        for (int c2 = 0; c2 < 4; c2++) {
            double s = 0;
            for (int j = 0; j < N; j++) s += Nsp[j * 4 + c] * Nsp[j * 4 + c2];
            oe = fmax(oe, fabs(s - (c == c2)));
        }
    }
    PC_CHECK(ne < 1e-14 && oe < 1e-14, "null space 5x9: |A N| %.3g, |N^T N - I| %.3g", ne, oe);
}

static void test_eig_lstsq(pc_test_rng *rng) {
    enum { N = 6 };
    double A[N * N], W[N * N], ev[N], V[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++) A[i * N + j] = A[j * N + i] = urand(rng);
    memcpy(W, A, sizeof(A));
    PC_CHECK(pc_sym_eig(W, N, ev, V), "sym eig ok");
    double e = 0;
    for (int k = 0; k < N; k++)
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int j = 0; j < N; j++) s += A[i * N + j] * V[j * N + k];
            e = fmax(e, fabs(s - ev[k] * V[i * N + k]));
        }
    int sorted = 1;
    for (int k = 1; k < N; k++) sorted &= ev[k] >= ev[k - 1];
    PC_CHECK(e < 1e-13 && sorted, "sym eig A v = l v, ascending (max err %.3g)", e);

    enum { M = 50, K = 4 };
    double B[M * K], x0[K] = {1, -2, 0.5, 3}, b[M], x[K];
    for (int i = 0; i < M * K; i++) B[i] = urand(rng);
    for (int i = 0; i < M; i++) {
        b[i] = 0;
        for (int j = 0; j < K; j++) b[i] += B[i * K + j] * x0[j];
    }
    PC_CHECK(pc_lstsq(x, B, b, M, K), "lstsq ok");
    PC_CHECK(max_abs_diff(x, x0, K) < 1e-12, "lstsq exact system (max err %.3g)", max_abs_diff(x, x0, K));
    double Sq[K * K], bs[K];
    for (int i = 0; i < K; i++) {
        bs[i] = b[i];
        for (int j = 0; j < K; j++) Sq[i * K + j] = B[i * K + j];
    }
    PC_CHECK(pc_solve(x, Sq, bs, K), "solve ok");
    double r = 0;
    for (int i = 0; i < K; i++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += Sq[i * K + j] * x[j];
        r = fmax(r, fabs(s - bs[i]));
    }
    PC_CHECK(r < 1e-12, "solve residual %.3g", r);
}

static void test_procrustes(pc_test_rng *rng) {
    enum { N = 40 };
    double X[N * 3], Y[N * 3], w[N], R0[9], t0[3] = {0.3, -1.2, 2.0}, s0 = 1.7;
    rand_rot(rng, R0);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 3; k++) X[i * 3 + k] = 2 * urand(rng);
        double rx[3];
        pc_m3_mulv(rx, R0, X + i * 3);
        for (int k = 0; k < 3; k++) Y[i * 3 + k] = s0 * rx[k] + t0[k];
        w[i] = 0.1 + fabs(urand(rng));
    }
    // outliers with zero weight must not matter
    for (int k = 0; k < 3; k++) Y[5 * 3 + k] += 10.0;
    w[5] = 0;
    double R[9], t[3], s;
    PC_CHECK(pc_procrustes(R, t, &s, X, Y, w, N, 1), "procrustes ok");
    double e = fmax(max_abs_diff(R, R0, 9), fmax(max_abs_diff(t, t0, 3), fabs(s - s0)));
    PC_CHECK(e < 1e-12, "weighted Umeyama with scale recovers s R t (max err %.3g)", e);
    // without scale on s=1 data, NULL weights
    for (int i = 0; i < N; i++) {
        double rx[3];
        pc_m3_mulv(rx, R0, X + i * 3);
        for (int k = 0; k < 3; k++) Y[i * 3 + k] = rx[k] + t0[k];
    }
    PC_CHECK(pc_procrustes(R, t, NULL, X, Y, NULL, N, 0), "procrustes (no scale) ok");
    e = fmax(max_abs_diff(R, R0, 9), max_abs_diff(t, t0, 3));
    PC_CHECK(e < 1e-12, "Procrustes without scale (max err %.3g)", e);
    // reflection must be corrected: planar points mirrored
    double Xp[4 * 3] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0}, Yp[12];
    for (int i = 0; i < 4; i++) {
        Yp[i * 3] = Xp[i * 3];
        Yp[i * 3 + 1] = Xp[i * 3 + 1];
        Yp[i * 3 + 2] = -Xp[i * 3 + 2];
    }
    PC_CHECK(pc_procrustes(R, t, &s, Xp, Yp, NULL, 4, 1) && pc_m3_det(R) > 0.999, "procrustes det(R)=+1");
    double wz[2] = {0, 0};
    PC_CHECK(!pc_procrustes(R, t, &s, X, Y, wz, 2, 1), "procrustes rejects zero weights");
}

static void test_poly(void) {
    // (x-1)(x+2)(x-3)(x-0.5) = x^4 - 2.5x^3 - 4x^2 + 8.5x - 3
    double c[5] = {-3, 8.5, -4, -2.5, 1}, r[4];
    int n = pc_poly_real_roots(r, c, 4, -10, 10);
    double want[4] = {-2, 0.5, 1, 3};
    PC_CHECK(n == 4 && max_abs_diff(r, want, 4) < 1e-13, "quartic roots (%d found: %g %g %g %g)", n, r[0], r[1], r[2], r[3]);
    double c2[3] = {1, 0, 1};  // x^2 + 1: none
    PC_CHECK(pc_poly_real_roots(r, c2, 2, -10, 10) == 0, "no real roots of x^2+1");
    // Wilkinson-like degree 10 with roots 1..10 scaled by 0.1
    double p[11] = {1}, q[11];
    int deg = 0;
    for (int k = 1; k <= 10; k++) {
        memset(q, 0, sizeof(q));
        for (int i = 0; i <= deg; i++) {
            q[i + 1] += p[i];
            q[i] -= 0.1 * k * p[i];
        }
        deg++;
        memcpy(p, q, sizeof(q));
    }
    double r10[10];
    n = pc_poly_real_roots(r10, p, 10, -5, 5);
    double e = 0;
    for (int k = 0; k < n; k++) e = fmax(e, fabs(r10[k] - 0.1 * (k + 1)));
    PC_CHECK(n == 10 && e < 1e-9, "degree-10 roots 0.1..1 (%d found, max err %.3g)", n, e);
}

int main(void) {
    pc_test_rng rng = {12345};
    test_m3(&rng);
    test_rotations(&rng);
    test_svd(&rng);
    test_eig_lstsq(&rng);
    test_procrustes(&rng);
    test_poly();
    return pc_test_finish();
}
