// Small dense double linear algebra (see linalg.h).
#include "geometry/linalg.h"

#include <math.h>
#include <string.h>

#define PC_LA_MAXN 16

// ---- 3-vectors / 3x3 ----------------------------------------------------------
double pc_v3_norm(const double a[3]) { return sqrt(pc_v3_dot(a, a)); }

double pc_v3_normalize(double a[3]) {
    double n = pc_v3_norm(a);
    if (n > 0) {
        a[0] /= n;
        a[1] /= n;
        a[2] /= n;
    }
    return n;
}

void pc_v3_cross(double out[3], const double a[3], const double b[3]) {
    double x = a[1] * b[2] - a[2] * b[1];
    double y = a[2] * b[0] - a[0] * b[2];
    double z = a[0] * b[1] - a[1] * b[0];
    out[0] = x;
    out[1] = y;
    out[2] = z;
}

void pc_m3_identity(double out[9]) {
    memset(out, 0, 9 * sizeof(double));
    out[0] = out[4] = out[8] = 1.0;
}

void pc_m3_mul(double out[9], const double A[9], const double B[9]) {
    double C[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[i * 3 + j] = A[i * 3] * B[j] + A[i * 3 + 1] * B[3 + j] + A[i * 3 + 2] * B[6 + j];
    memcpy(out, C, sizeof(C));
}

void pc_m3_mul_at(double out[9], const double A[9], const double B[9]) {
    double C[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[i * 3 + j] = A[i] * B[j] + A[3 + i] * B[3 + j] + A[6 + i] * B[6 + j];
    memcpy(out, C, sizeof(C));
}

void pc_m3_mul_bt(double out[9], const double A[9], const double B[9]) {
    double C[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[i * 3 + j] = A[i * 3] * B[j * 3] + A[i * 3 + 1] * B[j * 3 + 1] + A[i * 3 + 2] * B[j * 3 + 2];
    memcpy(out, C, sizeof(C));
}

void pc_m3_transpose(double out[9], const double A[9]) {
    double C[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) C[i * 3 + j] = A[j * 3 + i];
    memcpy(out, C, sizeof(C));
}

void pc_m3_mulv(double out[3], const double A[9], const double x[3]) {
    double y0 = A[0] * x[0] + A[1] * x[1] + A[2] * x[2];
    double y1 = A[3] * x[0] + A[4] * x[1] + A[5] * x[2];
    double y2 = A[6] * x[0] + A[7] * x[1] + A[8] * x[2];
    out[0] = y0;
    out[1] = y1;
    out[2] = y2;
}

void pc_m3_mulv_t(double out[3], const double A[9], const double x[3]) {
    double y0 = A[0] * x[0] + A[3] * x[1] + A[6] * x[2];
    double y1 = A[1] * x[0] + A[4] * x[1] + A[7] * x[2];
    double y2 = A[2] * x[0] + A[5] * x[1] + A[8] * x[2];
    out[0] = y0;
    out[1] = y1;
    out[2] = y2;
}

double pc_m3_det(const double A[9]) {
    return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
           A[2] * (A[3] * A[7] - A[4] * A[6]);
}

double pc_m3_trace(const double A[9]) { return A[0] + A[4] + A[8]; }

int pc_m3_inverse(double out[9], const double A[9]) {
    double d = pc_m3_det(A);
    if (!isfinite(d) || fabs(d) <= 1e-300) return 0;
    double C[9];
    C[0] = A[4] * A[8] - A[5] * A[7];
    C[1] = A[2] * A[7] - A[1] * A[8];
    C[2] = A[1] * A[5] - A[2] * A[4];
    C[3] = A[5] * A[6] - A[3] * A[8];
    C[4] = A[0] * A[8] - A[2] * A[6];
    C[5] = A[2] * A[3] - A[0] * A[5];
    C[6] = A[3] * A[7] - A[4] * A[6];
    C[7] = A[1] * A[6] - A[0] * A[7];
    C[8] = A[0] * A[4] - A[1] * A[3];
    for (int i = 0; i < 9; i++) out[i] = C[i] / d;
    return 1;
}

void pc_m3_skew(double out[9], const double v[3]) {
    out[0] = 0;
    out[1] = -v[2];
    out[2] = v[1];
    out[3] = v[2];
    out[4] = 0;
    out[5] = -v[0];
    out[6] = -v[1];
    out[7] = v[0];
    out[8] = 0;
}

double pc_m3_frobenius(const double A[9]) {
    double s = 0;
    for (int i = 0; i < 9; i++) s += A[i] * A[i];
    return sqrt(s);
}

// ---- rotations --------------------------------------------------------------
void pc_quat_to_rot(double R[9], const double q_in[4]) {
    double n = sqrt(q_in[0] * q_in[0] + q_in[1] * q_in[1] + q_in[2] * q_in[2] + q_in[3] * q_in[3]);
    if (!(n > 0)) {
        pc_m3_identity(R);
        return;
    }
    double x = q_in[0] / n, y = q_in[1] / n, z = q_in[2] / n, w = q_in[3] / n;
    R[0] = 1 - 2 * (y * y + z * z);
    R[1] = 2 * (x * y - z * w);
    R[2] = 2 * (x * z + y * w);
    R[3] = 2 * (x * y + z * w);
    R[4] = 1 - 2 * (x * x + z * z);
    R[5] = 2 * (y * z - x * w);
    R[6] = 2 * (x * z - y * w);
    R[7] = 2 * (y * z + x * w);
    R[8] = 1 - 2 * (x * x + y * y);
}

void pc_rot_to_quat(double q[4], const double R[9]) {
    double tr = R[0] + R[4] + R[8], x, y, z, w, s;
    if (tr > 0) {
        s = sqrt(tr + 1.0) * 2;
        w = 0.25 * s;
        x = (R[7] - R[5]) / s;
        y = (R[2] - R[6]) / s;
        z = (R[3] - R[1]) / s;
    } else if (R[0] > R[4] && R[0] > R[8]) {
        s = sqrt(1.0 + R[0] - R[4] - R[8]) * 2;
        w = (R[7] - R[5]) / s;
        x = 0.25 * s;
        y = (R[1] + R[3]) / s;
        z = (R[2] + R[6]) / s;
    } else if (R[4] > R[8]) {
        s = sqrt(1.0 + R[4] - R[0] - R[8]) * 2;
        w = (R[2] - R[6]) / s;
        x = (R[1] + R[3]) / s;
        y = 0.25 * s;
        z = (R[5] + R[7]) / s;
    } else {
        s = sqrt(1.0 + R[8] - R[0] - R[4]) * 2;
        w = (R[3] - R[1]) / s;
        x = (R[2] + R[6]) / s;
        y = (R[5] + R[7]) / s;
        z = 0.25 * s;
    }
    double n = sqrt(x * x + y * y + z * z + w * w);
    if (!(n > 0)) n = 1;
    if (w < 0) n = -n;
    q[0] = x / n;
    q[1] = y / n;
    q[2] = z / n;
    q[3] = w / n;
}

void pc_axis_angle_to_rot(double R[9], const double aa[3]) {
    double th = pc_v3_norm(aa);
    double h = 0.5 * th;
    // sin(h)/th, with its series near 0 so tiny angles stay exact
    double k = th < 1e-8 ? 0.5 - th * th / 48.0 : sin(h) / th;
    double q[4] = {aa[0] * k, aa[1] * k, aa[2] * k, cos(h)};
    pc_quat_to_rot(R, q);
}

void pc_rot_to_axis_angle(double aa[3], const double R[9]) {
    double q[4];
    pc_rot_to_quat(q, R);  // w >= 0
    double vn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    double th = 2.0 * atan2(vn, q[3]);
    double k = vn < 1e-12 ? 2.0 : th / vn;
    aa[0] = q[0] * k;
    aa[1] = q[1] * k;
    aa[2] = q[2] * k;
}

double pc_rot_angle_deg(const double R[9]) {
    double q[4];
    pc_rot_to_quat(q, R);
    double vn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    return 2.0 * atan2(vn, fabs(q[3])) * (180.0 / 3.14159265358979323846);
}

void pc_rot_project(double R[9], const double A[9]) {
    double U[9], S[3], V[9];
    if (!pc_svd3(U, S, V, A)) {
        pc_m3_identity(R);
        return;
    }
    double Rt[9];
    pc_m3_mul_bt(Rt, U, V);
    if (pc_m3_det(Rt) < 0) {
        for (int i = 0; i < 3; i++) U[i * 3 + 2] = -U[i * 3 + 2];
        pc_m3_mul_bt(Rt, U, V);
    }
    memcpy(R, Rt, sizeof(Rt));
}

// ---- decompositions -----------------------------------------------------------
static int all_finite(const double *a, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

int pc_svd_jacobi(double *A, int m, int n, double *S, double *V) {
    if (n < 1 || n > PC_LA_MAXN || m < n) return 0;
    if (!all_finite(A, m * n)) return 0;
    for (int i = 0; i < n * n; i++) V[i] = 0;
    for (int i = 0; i < n; i++) V[i * n + i] = 1;
    const double eps = 2.2e-16;
    // Columns whose squared norm is below eps^2 * |A|_F^2 are numerically zero:
    // rotating them against each other only churns rounding noise (and would
    // keep a rank-deficient matrix from ever converging).
    double total = 0;
    for (int i = 0; i < m * n; i++) total += A[i] * A[i];
    const double negligible = eps * eps * total;
    for (int sweep = 0; sweep < 80; sweep++) {
        int rotated = 0;
        for (int p = 0; p < n - 1; p++) {
            for (int q = p + 1; q < n; q++) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int i = 0; i < m; i++) {
                    double ap = A[i * n + p], aq = A[i * n + q];
                    alpha += ap * ap;
                    beta += aq * aq;
                    gamma += ap * aq;
                }
                if (gamma == 0 || fabs(gamma) <= eps * sqrt(alpha) * sqrt(beta)) continue;
                if (alpha <= negligible || beta <= negligible) continue;
                rotated = 1;
                double zeta = (beta - alpha) / (2.0 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
                double c = 1.0 / sqrt(1.0 + t * t), s = c * t;
                for (int i = 0; i < m; i++) {
                    double ap = A[i * n + p], aq = A[i * n + q];
                    A[i * n + p] = c * ap - s * aq;
                    A[i * n + q] = s * ap + c * aq;
                }
                for (int i = 0; i < n; i++) {
                    double vp = V[i * n + p], vq = V[i * n + q];
                    V[i * n + p] = c * vp - s * vq;
                    V[i * n + q] = s * vp + c * vq;
                }
            }
        }
        if (!rotated) break;
    }
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < m; i++) s += A[i * n + j] * A[i * n + j];
        S[j] = sqrt(s);
    }
    // selection sort, descending, permuting U and V columns alongside
    for (int j = 0; j < n - 1; j++) {
        int best = j;
        for (int k = j + 1; k < n; k++)
            if (S[k] > S[best]) best = k;
        if (best != j) {
            double tmp = S[j];
            S[j] = S[best];
            S[best] = tmp;
            for (int i = 0; i < m; i++) {
                tmp = A[i * n + j];
                A[i * n + j] = A[i * n + best];
                A[i * n + best] = tmp;
            }
            for (int i = 0; i < n; i++) {
                tmp = V[i * n + j];
                V[i * n + j] = V[i * n + best];
                V[i * n + best] = tmp;
            }
        }
    }
    for (int j = 0; j < n; j++) {
        double inv = S[j] > 0 ? 1.0 / S[j] : 0.0;
        for (int i = 0; i < m; i++) A[i * n + j] *= inv;
    }
    return 1;
}

static void orthogonal_to(double out[3], const double a[3]) {
    // unit vector orthogonal to unit a: cross with the axis a is least aligned with
    double e[3] = {0, 0, 0};
    int k = 0;
    if (fabs(a[1]) < fabs(a[k])) k = 1;
    if (fabs(a[2]) < fabs(a[k])) k = 2;
    e[k] = 1;
    pc_v3_cross(out, a, e);
    pc_v3_normalize(out);
}

int pc_svd3(double U[9], double S[3], double V[9], const double A[9]) {
    double W[9];
    memcpy(W, A, sizeof(W));
    if (!pc_svd_jacobi(W, 3, 3, S, V)) return 0;
    double c0[3] = {W[0], W[3], W[6]}, c1[3] = {W[1], W[4], W[7]}, c2[3];
    double tiny = 1e-13 * S[0];
    if (!(S[0] > 0)) {
        pc_m3_identity(U);
        return 1;
    }
    if (!(S[1] > tiny)) orthogonal_to(c1, c0);
    // Re-orthogonalise c1 against c0 and rebuild c2 by the cross product so U
    // is orthogonal to working precision even for (near) rank-deficient A.
    double d = pc_v3_dot(c0, c1);
    for (int i = 0; i < 3; i++) c1[i] -= d * c0[i];
    pc_v3_normalize(c1);
    pc_v3_cross(c2, c0, c1);
    if (S[2] > tiny) {
        double w2[3] = {W[2], W[5], W[8]};
        if (pc_v3_dot(w2, c2) < 0)
            for (int i = 0; i < 3; i++) c2[i] = -c2[i];
    }
    for (int i = 0; i < 3; i++) {
        U[i * 3 + 0] = c0[i];
        U[i * 3 + 1] = c1[i];
        U[i * 3 + 2] = c2[i];
    }
    return 1;
}

int pc_sym_eig(double *A, int n, double *evals, double *evecs) {
    if (n < 1 || n > PC_LA_MAXN || !all_finite(A, n * n)) return 0;
    double *V = evecs;
    for (int i = 0; i < n * n; i++) V[i] = 0;
    for (int i = 0; i < n; i++) V[i * n + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, tot = 0;
        for (int p = 0; p < n; p++)
            for (int q = 0; q < n; q++) {
                double a2 = A[p * n + q] * A[p * n + q];
                tot += a2;
                if (p != q) off += a2;
            }
        if (off <= 1e-32 * tot || off == 0) break;
        for (int p = 0; p < n - 1; p++) {
            for (int q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) {
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vp = V[k * n + p], vq = V[k * n + q];
                    V[k * n + p] = c * vp - s * vq;
                    V[k * n + q] = s * vp + c * vq;
                }
            }
        }
    }
    for (int i = 0; i < n; i++) evals[i] = A[i * n + i];
    for (int j = 0; j < n - 1; j++) {
        int best = j;
        for (int k = j + 1; k < n; k++)
            if (evals[k] < evals[best]) best = k;
        if (best != j) {
            double tmp = evals[j];
            evals[j] = evals[best];
            evals[best] = tmp;
            for (int i = 0; i < n; i++) {
                tmp = V[i * n + j];
                V[i * n + j] = V[i * n + best];
                V[i * n + best] = tmp;
            }
        }
    }
    return 1;
}

void pc_qr_add_row(double *R, int n, const double *row) {
    double r[PC_LA_MAXN];
    if (n > PC_LA_MAXN) return;
    memcpy(r, row, (size_t)n * sizeof(double));
    for (int j = 0; j < n; j++) {
        if (r[j] == 0) continue;
        double a = R[j * n + j], b = r[j];
        // plain sqrt: rows here are well scaled, and hypot() costs ~5x more
        double h = sqrt(a * a + b * b);
        if (!(h > 0) || !isfinite(h)) h = hypot(a, b);
        double c = a / h, s = b / h;
        R[j * n + j] = h;
        r[j] = 0;
        for (int k = j + 1; k < n; k++) {
            double rj = R[j * n + k], rk = r[k];
            R[j * n + k] = c * rj + s * rk;
            r[k] = -s * rj + c * rk;
        }
    }
}

int pc_null_vector_r(double *x, const double *R, int n, double *s_ratio) {
    double W[PC_LA_MAXN * PC_LA_MAXN], S[PC_LA_MAXN], V[PC_LA_MAXN * PC_LA_MAXN];
    if (n < 1 || n > PC_LA_MAXN) return 0;
    memcpy(W, R, (size_t)n * n * sizeof(double));
    if (!pc_svd_jacobi(W, n, n, S, V)) return 0;
    for (int i = 0; i < n; i++) x[i] = V[i * n + n - 1];
    if (s_ratio) *s_ratio = S[0] > 0 ? S[n - 1] / S[0] : 0.0;
    return 1;
}

int pc_null_vector(double *x, const double *A, int m, int n, double *s_ratio) {
    double R[PC_LA_MAXN * PC_LA_MAXN];
    if (n < 1 || n > PC_LA_MAXN || m < 1) return 0;
    memset(R, 0, (size_t)n * n * sizeof(double));
    for (int i = 0; i < m; i++) pc_qr_add_row(R, n, A + (size_t)i * n);
    return pc_null_vector_r(x, R, n, s_ratio);
}

int pc_null_space(double *N, const double *A, int m, int n) {
    double M[PC_LA_MAXN * PC_LA_MAXN], Q[PC_LA_MAXN * PC_LA_MAXN], v[PC_LA_MAXN];
    if (m < 1 || n > PC_LA_MAXN || m >= n) return 0;
    // M = A^T, (n, m)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) M[i * m + j] = A[j * n + i];
    for (int i = 0; i < n * n; i++) Q[i] = 0;
    for (int i = 0; i < n; i++) Q[i * n + i] = 1;
    for (int k = 0; k < m; k++) {
        double nx = 0;
        for (int i = k; i < n; i++) nx += M[i * m + k] * M[i * m + k];
        nx = sqrt(nx);
        if (nx == 0) continue;
        double alpha = M[k * m + k] > 0 ? -nx : nx;
        double vn2 = 0;
        for (int i = k; i < n; i++) {
            v[i] = M[i * m + k];
            if (i == k) v[i] -= alpha;
            vn2 += v[i] * v[i];
        }
        if (vn2 == 0) continue;
        for (int j = k; j < m; j++) {
            double d = 0;
            for (int i = k; i < n; i++) d += v[i] * M[i * m + j];
            d *= 2.0 / vn2;
            for (int i = k; i < n; i++) M[i * m + j] -= d * v[i];
        }
        for (int r = 0; r < n; r++) {
            double d = 0;
            for (int i = k; i < n; i++) d += Q[r * n + i] * v[i];
            d *= 2.0 / vn2;
            for (int i = k; i < n; i++) Q[r * n + i] -= d * v[i];
        }
    }
    int nn = n - m;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < nn; c++) N[r * nn + c] = Q[r * n + m + c];
    return 1;
}

int pc_lstsq(double *x, const double *A, const double *b, int m, int n) {
    double R[PC_LA_MAXN * PC_LA_MAXN], row[PC_LA_MAXN];
    int n1 = n + 1;
    if (n < 1 || n1 > PC_LA_MAXN || m < n) return 0;
    memset(R, 0, (size_t)n1 * n1 * sizeof(double));
    for (int i = 0; i < m; i++) {
        memcpy(row, A + (size_t)i * n, (size_t)n * sizeof(double));
        row[n] = b[i];
        pc_qr_add_row(R, n1, row);
    }
    double dmax = 0;
    for (int j = 0; j < n; j++) dmax = fmax(dmax, fabs(R[j * n1 + j]));
    if (!(dmax > 0) || !isfinite(dmax)) return 0;
    for (int j = n - 1; j >= 0; j--) {
        double d = R[j * n1 + j];
        if (fabs(d) <= 1e-13 * dmax) return 0;
        double s = R[j * n1 + n];
        for (int k = j + 1; k < n; k++) s -= R[j * n1 + k] * x[k];
        x[j] = s / d;
    }
    return 1;
}

int pc_solve(double *x, const double *A_in, const double *b_in, int n) {
    double A[PC_LA_MAXN * PC_LA_MAXN], b[PC_LA_MAXN];
    if (n < 1 || n > PC_LA_MAXN) return 0;
    memcpy(A, A_in, (size_t)n * n * sizeof(double));
    memcpy(b, b_in, (size_t)n * sizeof(double));
    double amax = 0;
    for (int i = 0; i < n * n; i++) amax = fmax(amax, fabs(A[i]));
    if (!(amax > 0) || !isfinite(amax)) return 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
        if (fabs(A[p * n + k]) <= 1e-14 * amax) return 0;
        if (p != k) {
            for (int j = 0; j < n; j++) {
                double t = A[k * n + j];
                A[k * n + j] = A[p * n + j];
                A[p * n + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        for (int i = k + 1; i < n; i++) {
            double f = A[i * n + k] / A[k * n + k];
            if (f == 0) continue;
            for (int j = k; j < n; j++) A[i * n + j] -= f * A[k * n + j];
            b[i] -= f * b[k];
        }
    }
    for (int k = n - 1; k >= 0; k--) {
        double s = b[k];
        for (int j = k + 1; j < n; j++) s -= A[k * n + j] * x[j];
        x[k] = s / A[k * n + k];
    }
    return all_finite(x, n);
}

// ---- registration -------------------------------------------------------------
int pc_procrustes(double R[9], double t[3], double *scale, const double *X, const double *Y,
                  const double *w, int n, int with_scale) {
    if (n < 1) return 0;
    double W = 0, mx[3] = {0, 0, 0}, my[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!(wi >= 0) || !isfinite(wi)) return 0;
        W += wi;
        for (int k = 0; k < 3; k++) {
            mx[k] += wi * X[i * 3 + k];
            my[k] += wi * Y[i * 3 + k];
        }
    }
    if (!(W > 0)) return 0;
    for (int k = 0; k < 3; k++) {
        mx[k] /= W;
        my[k] /= W;
    }
    // Sigma = sum_i w_i (y_i - my)(x_i - mx)^T / W ;  var_x = sum_i w_i |x_i - mx|^2 / W
    double Sg[9] = {0}, varx = 0;
    for (int i = 0; i < n; i++) {
        double wi = (w ? w[i] : 1.0) / W;
        double dx[3], dy[3];
        for (int k = 0; k < 3; k++) {
            dx[k] = X[i * 3 + k] - mx[k];
            dy[k] = Y[i * 3 + k] - my[k];
        }
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) Sg[a * 3 + b] += wi * dy[a] * dx[b];
        varx += wi * pc_v3_dot(dx, dx);
    }
    if (!all_finite(Sg, 9)) return 0;
    double U[9], D[3], V[9];
    if (!pc_svd3(U, D, V, Sg)) return 0;
    double sgn = pc_m3_det(U) * pc_m3_det(V) < 0 ? -1.0 : 1.0;
    double Us[9];
    memcpy(Us, U, sizeof(Us));
    for (int i = 0; i < 3; i++) Us[i * 3 + 2] *= sgn;
    pc_m3_mul_bt(R, Us, V);
    double s = 1.0;
    if (with_scale) {
        double tr = D[0] + D[1] + sgn * D[2];
        s = varx > 0 ? tr / varx : 1.0;
    }
    double Rm[3];
    pc_m3_mulv(Rm, R, mx);
    for (int k = 0; k < 3; k++) t[k] = my[k] - s * Rm[k];
    if (scale) *scale = s;
    return 1;
}

// ---- polynomials --------------------------------------------------------------
double pc_poly_eval(const double *c, int deg, double x) {
    double v = c[deg];
    for (int k = deg - 1; k >= 0; k--) v = v * x + c[k];
    return v;
}

// Root of p in [a, b] where p(a), p(b) have opposite signs: Newton steps kept
// inside the bracket, bisection when Newton leaves it or stalls.
static double bracket_root(const double *c, int deg, double a, double b, double fa, double tol) {
    double lo = a, hi = b;  // invariant: sign(p(lo)) == sign(fa)
    double x = 0.5 * (a + b), dx_old = fabs(b - a), dx = dx_old;
    for (int it = 0; it < 100; it++) {
        double f = c[deg], df = 0;
        for (int k = deg - 1; k >= 0; k--) {
            df = df * x + f;
            f = f * x + c[k];
        }
        if (f == 0) return x;
        if ((f > 0) == (fa > 0))
            lo = x;
        else
            hi = x;
        double xn = df != 0 ? x - f / df : 0.5 * (lo + hi);
        double l = fmin(lo, hi), h = fmax(lo, hi);
        if (df == 0 || !(xn > l && xn < h) || fabs(2.0 * f) > fabs(dx_old * df)) {
            dx_old = dx;
            xn = 0.5 * (lo + hi);
        } else {
            dx_old = dx;
        }
        dx = xn - x;
        x = xn;
        if (fabs(dx) <= tol * (1.0 + fabs(x)) || fabs(hi - lo) <= tol * (1.0 + fabs(x))) break;
    }
    return x;
}

// tol: relative accuracy of the roots. Critical points (roots of the
// derivatives) only bracket the roots above them, so they get a loose one.
static int real_roots(double *roots, const double *c_in, int deg, double lo, double hi, double tol) {
    if (deg > 20 || deg < 1 || !(lo <= hi)) return 0;
    double c[21];
    memcpy(c, c_in, (size_t)(deg + 1) * sizeof(double));
    double cmax = 0;
    for (int k = 0; k <= deg; k++) cmax = fmax(cmax, fabs(c[k]));
    if (!(cmax > 0) || !isfinite(cmax)) return 0;
    while (deg > 0 && fabs(c[deg]) <= 1e-15 * cmax) deg--;
    if (deg == 0) return 0;
    if (!(lo <= hi)) return 0;
    if (deg == 1) {
        double r = -c[0] / c[1];
        if (r >= lo && r <= hi) {
            roots[0] = r;
            return 1;
        }
        return 0;
    }
    double d[20], crit[22];
    for (int k = 0; k < deg; k++) d[k] = (k + 1) * c[k + 1];
    int nc = real_roots(crit + 1, d, deg - 1, lo, hi, 1e-9);
    crit[0] = lo;
    crit[nc + 1] = hi;
    int npts = nc + 2, nr = 0;
    for (int i = 0; i + 1 < npts; i++) {
        double a = crit[i], b = crit[i + 1];
        if (!(b > a)) continue;
        double fa = pc_poly_eval(c, deg, a), fb = pc_poly_eval(c, deg, b);
        if (fa == 0) {
            if (nr == 0 || roots[nr - 1] != a) roots[nr++] = a;
            continue;
        }
        if (fb == 0) continue;  // picked up as the left end of the next interval / below
        if ((fa > 0) != (fb > 0)) roots[nr++] = bracket_root(c, deg, a, b, fa, tol);
        if (nr >= deg) break;
    }
    if (nr < deg && pc_poly_eval(c, deg, hi) == 0 && (nr == 0 || roots[nr - 1] != hi)) roots[nr++] = hi;
    return nr;
}

int pc_poly_real_roots(double *roots, const double *c, int deg, double lo, double hi) {
    if (deg > 20 || deg < 1) return 0;
    double cmax = 0;
    for (int k = 0; k <= deg; k++) cmax = fmax(cmax, fabs(c[k]));
    if (!(cmax > 0) || !isfinite(cmax)) return 0;
    int d = deg;
    while (d > 0 && fabs(c[d]) <= 1e-15 * cmax) d--;
    if (d == 0) return 0;
    // Fujiwara's bound on |root|: 2 max_k |c[d-k] / c[d]|^(1/k) (the k = d term
    // halved). By Gauss-Lucas the roots of every derivative lie inside it too,
    // so the whole recursion searches this (usually much tighter) interval.
    double B = 0;
    for (int k = 1; k <= d; k++) {
        double q = fabs(c[d - k] / c[d]);
        if (k == d) q *= 0.5;
        if (q > 0) B = fmax(B, k == 1 ? q : k == 2 ? sqrt(q) : pow(q, 1.0 / k));
    }
    B = 2.0 * B * (1.0 + 1e-12) + 1e-300;
    if (isfinite(B)) {
        lo = fmax(lo, -B);
        hi = fmin(hi, B);
    }
    return real_roots(roots, c, d, lo, hi, 1e-15);
}

// ---- roma-exact quaternion conversions (global alignment, sparse alignment, COLMAP output) ----

// roma: unitquat_to_rotmat (homogeneous form), q XYZW already normalised.
void pc_quat_to_rot_roma(double R[9], const double q[4]) {
    double x = q[0], y = q[1], z = q[2], w = q[3];
    double x2 = x * x, y2 = y * y, z2 = z * z, w2 = w * w;
    R[0] = x2 - y2 - z2 + w2;
    R[3] = 2 * (x * y + z * w);
    R[6] = 2 * (x * z - y * w);
    R[1] = 2 * (x * y - z * w);
    R[4] = -x2 + y2 - z2 + w2;
    R[7] = 2 * (y * z + x * w);
    R[2] = 2 * (x * z + y * w);
    R[5] = 2 * (y * z - x * w);
    R[8] = -x2 - y2 + z2 + w2;
}

// dL/dn for R(n) above, given gR = dL/dR (row-major).
void pc_quat_to_rot_roma_backward(double gn[4], const double n[4], const double g[9]) {
    double x = n[0], y = n[1], z = n[2], w = n[3];
    // each R entry's gradient wrt (x, y, z, w), times 2
    const double d[9][4] = {
        {x, -y, -z, w},  {y, x, -w, -z}, {z, w, x, y},
        {y, x, w, z},    {-x, y, -z, w}, {-w, z, y, -x},
        {z, -w, x, -y},  {w, z, y, x},   {-x, -y, z, w},
    };
    for (int c = 0; c < 4; c++) {
        double s = 0;
        for (int k = 0; k < 9; k++) s += g[k] * d[k][c];
        gn[c] = 2 * s;
    }
}

// roma: rotmat_to_unitquat (XYZW), branch and sign exactly as roma picks them (first largest of the diagonal
// and the trace), which the alignment goldens depend on.
void pc_rot_to_quat_roma(double q[4], const double m[9]) {
    double dec[4] = {m[0], m[4], m[8], m[0] + m[4] + m[8]};
    int choice = 0;
    for (int k = 1; k < 4; k++)
        if (dec[k] > dec[choice]) choice = k;
    if (choice != 3) {
        int i = choice, j = (i + 1) % 3, k = (j + 1) % 3;
        q[i] = 1 - dec[3] + 2 * m[i * 3 + i];
        q[j] = m[j * 3 + i] + m[i * 3 + j];
        q[k] = m[k * 3 + i] + m[i * 3 + k];
        q[3] = m[k * 3 + j] - m[j * 3 + k];
    } else {
        q[0] = m[7] - m[5];
        q[1] = m[2] - m[6];
        q[2] = m[3] - m[1];
        q[3] = 1 + dec[3];
    }
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int c = 0; c < 4; c++) q[c] /= n;
}
