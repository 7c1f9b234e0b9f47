// Fundamental matrix: Hartley normalisation, 7-point and normalised 8-point.
#include <math.h>
#include <string.h>

#include "geometry/linalg.h"
#include "geometry/solvers.h"

int pc_hartley_normalize(double T[9], double *out, const double *x, int n) {
    if (n < 1) return 0;
    double cx = 0, cy = 0;
    for (int i = 0; i < n; i++) {
        cx += x[2 * i];
        cy += x[2 * i + 1];
    }
    cx /= n;
    cy /= n;
    double md = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[2 * i] - cx, dy = x[2 * i + 1] - cy;
        md += sqrt(dx * dx + dy * dy);
    }
    md /= n;
    if (!(md > 0) || !isfinite(md)) return 0;
    double s = sqrt(2.0) / md;
    T[0] = s, T[1] = 0, T[2] = -s * cx;
    T[3] = 0, T[4] = s, T[5] = -s * cy;
    T[6] = 0, T[7] = 0, T[8] = 1;
    if (out)
        for (int i = 0; i < n; i++) {
            out[2 * i] = s * (x[2 * i] - cx);
            out[2 * i + 1] = s * (x[2 * i + 1] - cy);
        }
    return 1;
}

// F = Tb^T Fn Ta, then unit Frobenius norm
static int denormalize_f(double F[9], const double Fn[9], const double Ta[9], const double Tb[9]) {
    double tmp[9];
    pc_m3_mul(tmp, Fn, Ta);
    pc_m3_mul_at(F, Tb, tmp);
    double nrm = pc_m3_frobenius(F);
    if (!(nrm > 0) || !isfinite(nrm)) return 0;
    for (int i = 0; i < 9; i++) F[i] /= nrm;
    return 1;
}

static void epipolar_row(double row[9], const double a[2], const double b[2]) {
    double av[3] = {a[0], a[1], 1.0}, bv[3] = {b[0], b[1], 1.0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) row[i * 3 + j] = bv[i] * av[j];
}

int pc_solve_fundamental_7pt(double F[3 * 9], const double xa[7 * 2], const double xb[7 * 2]) {
    double Ta[9], Tb[9], na[14], nb[14], A[7 * 9], N[9 * 2];
    if (!pc_hartley_normalize(Ta, na, xa, 7) || !pc_hartley_normalize(Tb, nb, xb, 7)) return 0;
    for (int r = 0; r < 7; r++) epipolar_row(A + r * 9, na + 2 * r, nb + 2 * r);
    if (!pc_null_space(N, A, 7, 9)) return 0;
    double F1[9], F2[9], D[9];
    for (int e = 0; e < 9; e++) {
        F1[e] = N[e * 2];
        F2[e] = N[e * 2 + 1];
        D[e] = F1[e] - F2[e];
    }
    // p(a) = det(F2 + a D) = c0 + c1 a + c2 a^2 + c3 a^3 from 4 samples
    double G[9], p[4];
    const double as[4] = {0, 1, -1, 2};
    for (int k = 0; k < 4; k++) {
        for (int e = 0; e < 9; e++) G[e] = F2[e] + as[k] * D[e];
        p[k] = pc_m3_det(G);
    }
    double c[4];
    c[0] = p[0];
    c[2] = 0.5 * (p[1] + p[2]) - c[0];
    double s13 = 0.5 * (p[1] - p[2]);  // c1 + c3
    c[3] = (0.5 * (p[3] - c[0] - 4 * c[2]) - s13) / 3.0;
    c[1] = s13 - c[3];
    double cmax = fmax(fmax(fabs(c[0]), fabs(c[1])), fmax(fabs(c[2]), fabs(c[3])));
    if (!(cmax > 0)) return 0;
    int deg = 3;
    while (deg > 0 && fabs(c[deg]) <= 1e-14 * cmax) deg--;
    if (deg == 0) return 0;
    double bound = 0;
    for (int k = 0; k < deg; k++) bound = fmax(bound, fabs(c[k] / c[deg]));
    bound = fmin(1.0 + bound, 1e9);
    double roots[3];
    int nr = pc_poly_real_roots(roots, c, deg, -bound, bound);
    int ns = 0;
    for (int r = 0; r < nr; r++) {
        for (int e = 0; e < 9; e++) G[e] = F2[e] + roots[r] * D[e];
        if (denormalize_f(F + 9 * ns, G, Ta, Tb)) ns++;
    }
    return ns;
}

int pc_solve_fundamental_8pt(double F[9], const double *xa, const double *xb, const double *w, int n) {
    if (n < 8) return 0;
    double Ta[9], Tb[9];
    if (!pc_hartley_normalize(Ta, NULL, xa, n) || !pc_hartley_normalize(Tb, NULL, xb, n)) return 0;
    double R[81];
    memset(R, 0, sizeof(R));
    int used = 0;
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!(wi > 0)) continue;
        double a[2] = {Ta[0] * xa[2 * i] + Ta[2], Ta[4] * xa[2 * i + 1] + Ta[5]};
        double b[2] = {Tb[0] * xb[2 * i] + Tb[2], Tb[4] * xb[2 * i + 1] + Tb[5]};
        double row[9];
        epipolar_row(row, a, b);
        if (wi != 1.0)
            for (int k = 0; k < 9; k++) row[k] *= wi;
        pc_qr_add_row(R, 9, row);
        used++;
    }
    if (used < 8) return 0;
    double f[9];
    if (!pc_null_vector_r(f, R, 9, NULL)) return 0;
    // rank 2: zero the smallest singular value
    double U[9], S[3], V[9], US[9], Fn[9];
    if (!pc_svd3(U, S, V, f)) return 0;
    for (int i = 0; i < 3; i++) {
        US[i * 3 + 0] = U[i * 3 + 0] * S[0];
        US[i * 3 + 1] = U[i * 3 + 1] * S[1];
        US[i * 3 + 2] = 0;
    }
    pc_m3_mul_bt(Fn, US, V);
    return denormalize_f(F, Fn, Ta, Tb);
}
