// Essential matrix: five-point solver, 8-point refit, decomposition, cheirality.
#include <math.h>
#include <string.h>

#include "geometry/linalg.h"
#include "geometry/solvers.h"

// ---- five-point ---------------------------------------------------------------
// Monomials of degree <= 3 in (x, y, z) in Nister's column order: the first 10
// are eliminated by Gauss-Jordan, the last 10 remain.
static const int8_t mono_exp[20][3] = {
    {3, 0, 0}, {0, 3, 0}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}, {2, 0, 0}, {0, 2, 1}, {0, 2, 0}, {1, 1, 1}, {1, 1, 0},
    {1, 0, 2}, {1, 0, 1}, {1, 0, 0}, {0, 1, 2}, {0, 1, 1}, {0, 1, 0}, {0, 0, 3}, {0, 0, 2}, {0, 0, 1}, {0, 0, 0},
};
enum { M_X = 12, M_Y = 15, M_Z = 18, M_1 = 19 };
// monomials of degree <= 1 and <= 2 (indices into mono_exp)
static const int8_t deg1_terms[4] = {M_X, M_Y, M_Z, M_1};
static const int8_t deg2_terms[10] = {5, 7, 9, 11, 14, 17, M_X, M_Y, M_Z, M_1};

// Product index tables: monomial index of deg1_terms[i] * deg1_terms[j] and of
// deg2_terms[i] * deg1_terms[j] (filled once per solve from the exponents).
typedef struct {
    int8_t p11[4][4];
    int8_t p21[10][4];
} mono_table;

static void mono_table_init(mono_table *t) {
    int8_t lut[64];
    memset(lut, -1, sizeof(lut));
    for (int i = 0; i < 20; i++) lut[mono_exp[i][0] * 16 + mono_exp[i][1] * 4 + mono_exp[i][2]] = (int8_t)i;
    for (int j = 0; j < 4; j++) {
        const int8_t *e2 = mono_exp[deg1_terms[j]];
        for (int i = 0; i < 4; i++) {
            const int8_t *e1 = mono_exp[deg1_terms[i]];
            t->p11[i][j] = lut[(e1[0] + e2[0]) * 16 + (e1[1] + e2[1]) * 4 + (e1[2] + e2[2])];
        }
        for (int i = 0; i < 10; i++) {
            const int8_t *e1 = mono_exp[deg2_terms[i]];
            t->p21[i][j] = lut[(e1[0] + e2[0]) * 16 + (e1[1] + e2[1]) * 4 + (e1[2] + e2[2])];
        }
    }
}

// out += P * Q, P and Q of degree <= 1
static void mul11_add(double out[20], const double P[20], const double Q[20], const mono_table *tab) {
    for (int i = 0; i < 4; i++) {
        double p = P[deg1_terms[i]];
        for (int j = 0; j < 4; j++) out[tab->p11[i][j]] += p * Q[deg1_terms[j]];
    }
}

// out += P * Q, P of degree <= 2, Q of degree <= 1
static void mul21_add(double out[20], const double P[20], const double Q[20], const mono_table *tab) {
    for (int i = 0; i < 10; i++) {
        double p = P[deg2_terms[i]];
        for (int j = 0; j < 4; j++) out[tab->p21[i][j]] += p * Q[deg1_terms[j]];
    }
}

// Gauss-Newton polish of a root (x, y, z) of the 10 cubic constraints M m(x,y,z) = 0.
static void polish_root(const double M[10][20], double *px, double *py, double *pz) {
    double v[3] = {*px, *py, *pz};
    double prev = INFINITY;
    for (int it = 0; it < 3; it++) {
        double pw[3][4], mon[20], dmon[3][20];
        for (int d = 0; d < 3; d++) {
            pw[d][0] = 1;
            for (int e = 1; e < 4; e++) pw[d][e] = pw[d][e - 1] * v[d];
        }
        for (int k = 0; k < 20; k++) {
            const int8_t *e = mono_exp[k];
            mon[k] = pw[0][e[0]] * pw[1][e[1]] * pw[2][e[2]];
            dmon[0][k] = e[0] ? e[0] * pw[0][e[0] - 1] * pw[1][e[1]] * pw[2][e[2]] : 0.0;
            dmon[1][k] = e[1] ? e[1] * pw[0][e[0]] * pw[1][e[1] - 1] * pw[2][e[2]] : 0.0;
            dmon[2][k] = e[2] ? e[2] * pw[0][e[0]] * pw[1][e[1]] * pw[2][e[2] - 1] : 0.0;
        }
        double r[10], J[10 * 3], nr = 0;
        for (int i = 0; i < 10; i++) {
            r[i] = 0;
            for (int k = 0; k < 20; k++) r[i] += M[i][k] * mon[k];
            for (int d = 0; d < 3; d++) {
                double s = 0;
                for (int k = 0; k < 20; k++) s += M[i][k] * dmon[d][k];
                J[i * 3 + d] = s;
            }
            nr += r[i] * r[i];
        }
        if (!(nr < prev) || nr == 0) break;
        if (it > 0) {
            *px = v[0], *py = v[1], *pz = v[2];
        }
        prev = nr;
        // normal equations (3x3): J is well conditioned near a simple root
        double JtJ[9] = {0}, Jtr[3] = {0}, delta[3];
        for (int i = 0; i < 10; i++)
            for (int a = 0; a < 3; a++) {
                Jtr[a] += J[i * 3 + a] * r[i];
                for (int b = 0; b < 3; b++) JtJ[a * 3 + b] += J[i * 3 + a] * J[i * 3 + b];
            }
        if (!pc_solve(delta, JtJ, Jtr, 3)) break;
        for (int d = 0; d < 3; d++) v[d] -= delta[d];
    }
    // (*px, *py, *pz) holds the iterate with the smallest residual evaluated
}

// 1-D polynomial product c = a * b (degrees da, db)
static void poly1_mul(double *c, const double *a, int da, const double *b, int db) {
    for (int k = 0; k <= da + db; k++) c[k] = 0;
    for (int i = 0; i <= da; i++)
        for (int j = 0; j <= db; j++) c[i + j] += a[i] * b[j];
}

int pc_solve_essential_5pt(double Eout[10 * 9], const double xa[5 * 2], const double xb[5 * 2]) {
    // epipolar constraint rows: x_b^T E x_a = sum_ij xb_i xa_j E_ij
    double A[5 * 9], N[9 * 4];
    for (int r = 0; r < 5; r++) {
        double a[3] = {xa[2 * r], xa[2 * r + 1], 1.0}, b[3] = {xb[2 * r], xb[2 * r + 1], 1.0};
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) A[r * 9 + i * 3 + j] = b[i] * a[j];
    }
    if (!pc_null_space(N, A, 5, 9)) return 0;
    // E = x E0 + y E1 + z E2 + E3: each entry is a degree-1 polynomial
    mono_table tab;
    mono_table_init(&tab);
    double Ep[9][20];
    memset(Ep, 0, sizeof(Ep));
    for (int e = 0; e < 9; e++) {
        Ep[e][M_X] = N[e * 4 + 0];
        Ep[e][M_Y] = N[e * 4 + 1];
        Ep[e][M_Z] = N[e * 4 + 2];
        Ep[e][M_1] = N[e * 4 + 3];
    }
    double M[10][20];
    memset(M, 0, sizeof(M));
    // det(E) = E00 (E11 E22 - E12 E21) - E01 (E10 E22 - E12 E20) + E02 (E10 E21 - E11 E20)
    {
        static const int cof[3][5] = {{0, 4, 8, 5, 7}, {1, 3, 8, 5, 6}, {2, 3, 7, 4, 6}};
        static const double sgn[3] = {1, -1, 1};
        for (int c = 0; c < 3; c++) {
            double m2[20] = {0}, neg[20];
            mul11_add(m2, Ep[cof[c][1]], Ep[cof[c][2]], &tab);
            for (int k = 0; k < 20; k++) neg[k] = -Ep[cof[c][3]][k];
            mul11_add(m2, neg, Ep[cof[c][4]], &tab);
            double s0[20];
            for (int k = 0; k < 20; k++) s0[k] = sgn[c] * Ep[cof[c][0]][k];
            mul21_add(M[9], m2, s0, &tab);
        }
    }
    // 2 E E^T E - tr(E E^T) E = 0
    double EEt[9][20];
    memset(EEt, 0, sizeof(EEt));
    for (int i = 0; i < 3; i++)
        for (int j = i; j < 3; j++) {
            for (int k = 0; k < 3; k++)
                mul11_add(EEt[i * 3 + j], Ep[i * 3 + k], Ep[j * 3 + k], &tab);
            if (j != i) memcpy(EEt[j * 3 + i], EEt[i * 3 + j], sizeof(EEt[0]));
        }
    double tr[20];
    for (int k = 0; k < 20; k++) tr[k] = EEt[0][k] + EEt[4][k] + EEt[8][k];
    for (int k = 0; k < 20; k++) tr[k] *= -0.5;  // so the row is (EE^T E) - tr/2 E
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double *row = M[i * 3 + j];
            for (int k = 0; k < 3; k++) mul21_add(row, EEt[i * 3 + k], Ep[k * 3 + j], &tab);
            mul21_add(row, tr, Ep[i * 3 + j], &tab);
        }
    // Gauss-Jordan on the first 10 columns (partial pivoting)
    for (int c = 0; c < 10; c++) {
        int p = c;
        for (int r = c + 1; r < 10; r++)
            if (fabs(M[r][c]) > fabs(M[p][c])) p = r;
        if (!(fabs(M[p][c]) > 1e-300)) return 0;
        if (p != c) {
            double tmp[20];
            memcpy(tmp, M[p], sizeof(tmp));
            memcpy(M[p], M[c], sizeof(tmp));
            memcpy(M[c], tmp, sizeof(tmp));
        }
        double inv = 1.0 / M[c][c];
        for (int k = c; k < 20; k++) M[c][k] *= inv;
        for (int r = 0; r < 10; r++) {
            if (r == c || M[r][c] == 0) continue;
            double f = M[r][c];
            for (int k = c; k < 20; k++) M[r][k] -= f * M[c][k];
        }
    }
    // <k> = <e> - z <f>, <l> = <g> - z <h>, <m> = <i> - z <j>: rows of B(z) (x, y, 1)^T = 0
    double Bx[3][4], By[3][4], B1[3][5];
    for (int r = 0; r < 3; r++) {
        const double *e = M[4 + 2 * r], *f = M[5 + 2 * r];
        Bx[r][0] = e[12];
        Bx[r][1] = e[11] - f[12];
        Bx[r][2] = e[10] - f[11];
        Bx[r][3] = -f[10];
        By[r][0] = e[15];
        By[r][1] = e[14] - f[15];
        By[r][2] = e[13] - f[14];
        By[r][3] = -f[13];
        B1[r][0] = e[19];
        B1[r][1] = e[18] - f[19];
        B1[r][2] = e[17] - f[18];
        B1[r][3] = e[16] - f[17];
        B1[r][4] = -f[16];
    }
    // det B(z): degree 10
    double p1[8], p2[8], t7[8], n10[11] = {0}, tmp[11];
    // cofactors of column 2 (the degree-4 column): det = sum_r B1[r] * C_r
    // C_0 = Bx1 By2 - Bx2 By1, C_1 = -(Bx0 By2 - Bx2 By0), C_2 = Bx0 By1 - Bx1 By0
    const int rr[3][2] = {{1, 2}, {0, 2}, {0, 1}};
    const double cs[3] = {1, -1, 1};
    for (int r = 0; r < 3; r++) {
        poly1_mul(p1, Bx[rr[r][0]], 3, By[rr[r][1]], 3);
        poly1_mul(p2, Bx[rr[r][1]], 3, By[rr[r][0]], 3);
        for (int k = 0; k <= 6; k++) t7[k] = cs[r] * (p1[k] - p2[k]);
        poly1_mul(tmp, t7, 6, B1[r], 4);
        for (int k = 0; k <= 10; k++) n10[k] += tmp[k];
    }
    double cmax = 0;
    for (int k = 0; k <= 10; k++) cmax = fmax(cmax, fabs(n10[k]));
    if (!(cmax > 0) || !isfinite(cmax)) return 0;
    int deg = 10;
    while (deg > 0 && fabs(n10[deg]) <= 1e-14 * cmax) deg--;
    if (deg == 0) return 0;
    double bound = 0;
    for (int k = 0; k < deg; k++) bound = fmax(bound, fabs(n10[k] / n10[deg]));
    bound = fmin(1.0 + bound, 1e9);
    double zs[10];
    int nz = pc_poly_real_roots(zs, n10, deg, -bound, bound);
    int ns = 0;
    for (int s = 0; s < nz; s++) {
        double z = zs[s], Bz[3][3];
        for (int r = 0; r < 3; r++) {
            Bz[r][0] = pc_poly_eval(Bx[r], 3, z);
            Bz[r][1] = pc_poly_eval(By[r], 3, z);
            Bz[r][2] = pc_poly_eval(B1[r], 4, z);
        }
        double v[3], best[3] = {0, 0, 0}, bn = -1;
        for (int r = 0; r < 3; r++) {
            pc_v3_cross(v, Bz[rr[r][0]], Bz[rr[r][1]]);
            double nv = pc_v3_dot(v, v);
            if (nv > bn) {
                bn = nv;
                memcpy(best, v, sizeof(v));
            }
        }
        if (!(fabs(best[2]) > 1e-14 * sqrt(bn)) || !(bn > 0)) continue;
        double x = best[0] / best[2], y = best[1] / best[2];
        polish_root((const double(*)[20])M, &x, &y, &z);
        double *E = Eout + ns * 9;
        for (int e = 0; e < 9; e++) E[e] = x * N[e * 4] + y * N[e * 4 + 1] + z * N[e * 4 + 2] + N[e * 4 + 3];
        double nrm = pc_m3_frobenius(E);
        if (!(nrm > 0) || !isfinite(nrm)) continue;
        for (int e = 0; e < 9; e++) E[e] /= nrm;
        ns++;
    }
    return ns;
}

// ---- eight-point essential ------------------------------------------------------
int pc_solve_essential_8pt(double E[9], const double *xa, const double *xb, const double *w, int n) {
    double F[9];
    if (!pc_solve_fundamental_8pt(F, xa, xb, w, n)) return 0;
    double U[9], S[3], V[9];
    if (!pc_svd3(U, S, V, F)) return 0;
    // nearest essential matrix: singular values (1, 1, 0)
    double US[9];
    for (int i = 0; i < 3; i++) {
        US[i * 3 + 0] = U[i * 3 + 0];
        US[i * 3 + 1] = U[i * 3 + 1];
        US[i * 3 + 2] = 0;
    }
    pc_m3_mul_bt(E, US, V);
    double nrm = pc_m3_frobenius(E);
    if (!(nrm > 0)) return 0;
    for (int i = 0; i < 9; i++) E[i] /= nrm;
    return 1;
}

// ---- decomposition & cheirality ----------------------------------------------------
int pc_essential_decompose(double R[4][9], double t[4][3], const double E[9]) {
    double U[9], S[3], V[9];
    if (!pc_svd3(U, S, V, E) || !(S[0] > 0)) return 0;
    if (pc_m3_det(U) < 0)
        for (int i = 0; i < 3; i++) U[i * 3 + 2] = -U[i * 3 + 2];
    if (pc_m3_det(V) < 0)
        for (int i = 0; i < 3; i++) V[i * 3 + 2] = -V[i * 3 + 2];
    // E ~ U diag(1,1,0) V^T; R = U W V^T or U W^T V^T; t = +-u3
    static const double W[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    double UW[9], UWt[9], Ra[9], Rb[9];
    pc_m3_mul(UW, U, W);
    pc_m3_mul_bt(UWt, U, W);  // U W^T
    pc_m3_mul_bt(Ra, UW, V);
    pc_m3_mul_bt(Rb, UWt, V);
    double u3[3] = {U[2], U[5], U[8]};
    for (int k = 0; k < 4; k++) {
        memcpy(R[k], k < 2 ? Ra : Rb, 9 * sizeof(double));
        double s = (k % 2 == 0) ? 1.0 : -1.0;
        for (int i = 0; i < 3; i++) t[k][i] = s * u3[i];
    }
    return 4;
}

int pc_triangulate_depths(double *d_a, double *d_b, const double R[9], const double t[3], const double xa[2],
                          const double xb[2]) {
    // d_a (R a) - d_b b = -t, least squares in (d_a, d_b)
    double a[3] = {xa[0], xa[1], 1.0}, b[3] = {xb[0], xb[1], 1.0}, Ra[3];
    pc_m3_mulv(Ra, R, a);
    double m00 = pc_v3_dot(Ra, Ra), m01 = -pc_v3_dot(Ra, b), m11 = pc_v3_dot(b, b);
    double r0 = -pc_v3_dot(Ra, t), r1 = pc_v3_dot(b, t);
    double det = m00 * m11 - m01 * m01;
    if (!(fabs(det) > 1e-14 * m00 * m11)) return 0;
    *d_a = (m11 * r0 - m01 * r1) / det;
    *d_b = (m00 * r1 - m01 * r0) / det;
    return 1;
}

int pc_triangulate_dlt(double X[3], const double P1[12], const double P2[12], const double x1[2], const double x2[2]) {
    double A[4 * 4], h[4];
    for (int j = 0; j < 4; j++) {
        A[0 * 4 + j] = x1[0] * P1[8 + j] - P1[j];
        A[1 * 4 + j] = x1[1] * P1[8 + j] - P1[4 + j];
        A[2 * 4 + j] = x2[0] * P2[8 + j] - P2[j];
        A[3 * 4 + j] = x2[1] * P2[8 + j] - P2[4 + j];
    }
    if (!pc_null_vector(h, A, 4, 4, NULL)) return 0;
    if (!(fabs(h[3]) > 1e-12 * (fabs(h[0]) + fabs(h[1]) + fabs(h[2])))) return 0;
    for (int k = 0; k < 3; k++) X[k] = h[k] / h[3];
    return 1;
}

int pc_essential_recover_pose(double R[9], double t[3], const double E[9], const double *xa, const double *xb, int n,
                              const uint8_t *mask_in, uint8_t *mask_out, double max_depth) {
    double Rs[4][9], ts[4][3];
    if (pc_essential_decompose(Rs, ts, E) != 4) {
        if (mask_out) memset(mask_out, 0, (size_t)(n > 0 ? n : 0));
        return 0;
    }
    int cnt[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (mask_in && !mask_in[i]) continue;
        for (int k = 0; k < 4; k += 2) {
            // t and -t share the depths up to sign: (d_a, d_b)(-t) = -(d_a, d_b)(t)
            double da, db;
            if (!pc_triangulate_depths(&da, &db, Rs[k], ts[k], xa + 2 * i, xb + 2 * i)) continue;
            if (da > 0 && db > 0 && da < max_depth && db < max_depth) cnt[k]++;
            if (da < 0 && db < 0 && -da < max_depth && -db < max_depth) cnt[k + 1]++;
        }
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (cnt[k] > cnt[best]) best = k;
    memcpy(R, Rs[best], 9 * sizeof(double));
    memcpy(t, ts[best], 3 * sizeof(double));
    if (mask_out) {
        for (int i = 0; i < n; i++) {
            mask_out[i] = 0;
            if (mask_in && !mask_in[i]) continue;
            double da, db;
            if (!pc_triangulate_depths(&da, &db, R, t, xa + 2 * i, xb + 2 * i)) continue;
            mask_out[i] = da > 0 && db > 0 && da < max_depth && db < max_depth;
        }
    }
    return cnt[best];
}

double pc_sampson_sq(const double M[9], const double xa[2], const double xb[2]) {
    double a0 = xa[0], a1 = xa[1], b0 = xb[0], b1 = xb[1];
    double Ma0 = M[0] * a0 + M[1] * a1 + M[2];
    double Ma1 = M[3] * a0 + M[4] * a1 + M[5];
    double Ma2 = M[6] * a0 + M[7] * a1 + M[8];
    double Mtb0 = M[0] * b0 + M[3] * b1 + M[6];
    double Mtb1 = M[1] * b0 + M[4] * b1 + M[7];
    double r = b0 * Ma0 + b1 * Ma1 + Ma2;
    double d = Ma0 * Ma0 + Ma1 * Ma1 + Mtb0 * Mtb0 + Mtb1 * Mtb1;
    if (!(d > 0)) return r == 0 ? 0.0 : 1e300;
    return r * r / d;
}
