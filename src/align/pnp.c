// PnP for the global-alignment init (stands in for cv2.solvePnPRansac(SQPNP) in dust3r's fast_pnp):
// Grunert's P3P minimal solver (R. M. Haralick et al., "Review and analysis of solutions of the three point
// perspective pose estimation problem", IJCV 1994, section 2.1), plain RANSAC with a reprojection-error
// threshold, then Gauss-Newton on the inliers (re-scored once, as a local optimisation). Not bit-equal to
// OpenCV (different sampling and refinement); the result agrees to the noise level of the inliers.
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"
#include "align/global_align_internal.h"

// Real roots of c4 x^4 + c3 x^3 + c2 x^2 + c1 x + c0 (Durand-Kerner, then Newton polish).
static int quartic_real_roots(double roots[4], const double c[5]) {
    if (fabs(c[4]) < 1e-300) return 0;
    double a3 = c[3] / c[4], a2 = c[2] / c[4], a1 = c[1] / c[4], a0 = c[0] / c[4];
    double bound = 1 + fmax(fmax(fabs(a3), fabs(a2)), fmax(fabs(a1), fabs(a0)));
    double complex z[4];
    double complex seed = 0.4 + 0.9 * I;
    for (int k = 0; k < 4; k++) z[k] = cpow(seed, k) * (bound > 1 ? 1 : bound);
    for (int it = 0; it < 200; it++) {
        double delta = 0;
        for (int k = 0; k < 4; k++) {
            double complex x = z[k];
            double complex p = (((x + a3) * x + a2) * x + a1) * x + a0;
            double complex den = 1;
            for (int m = 0; m < 4; m++)
                if (m != k) den *= (x - z[m]);
            if (cabs(den) < 1e-300) den = 1e-12;
            double complex d = p / den;
            z[k] = x - d;
            delta = fmax(delta, cabs(d));
        }
        if (delta < 1e-14 * bound) break;
    }
    int n = 0;
    for (int k = 0; k < 4; k++) {
        double x = creal(z[k]);
        if (fabs(cimag(z[k])) > 1e-6 * (1 + fabs(x))) continue;
        for (int it = 0; it < 5; it++) {
            double p = (((x + a3) * x + a2) * x + a1) * x + a0;
            double dp = ((4 * x + 3 * a3) * x + 2 * a2) * x + a1;
            if (fabs(dp) < 1e-300) break;
            x -= p / dp;
        }
        roots[n++] = x;
    }
    return n;
}

// Rigid (no scale) R, t with C ~ R X + t for 3 point pairs.
static int kabsch3(double R[9], double t[3], const double *X, const double *C) {
    double xm[3] = {0}, cm[3] = {0};
    for (int p = 0; p < 3; p++)
        for (int r = 0; r < 3; r++) {
            xm[r] += X[p * 3 + r] / 3;
            cm[r] += C[p * 3 + r] / 3;
        }
    double M[9] = {0};
    for (int p = 0; p < 3; p++)
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) M[r * 3 + c] += (C[p * 3 + r] - cm[r]) * (X[p * 3 + c] - xm[c]);
    double U[9], S[3], V[9];
    pc_ga_svd3_special(U, S, V, M);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            R[r * 3 + c] = U[r * 3] * V[c * 3] + U[r * 3 + 1] * V[c * 3 + 1] + U[r * 3 + 2] * V[c * 3 + 2];
    for (int r = 0; r < 3; r++) t[r] = cm[r] - (R[r * 3] * xm[0] + R[r * 3 + 1] * xm[1] + R[r * 3 + 2] * xm[2]);
    return isfinite(R[0]) && isfinite(t[0]);
}

int pc_ga_p3p(double Rs[4][9], double ts[4][3], const double fb[9], const double Xw[9]) {
    const double *P1 = Xw, *P2 = Xw + 3, *P3 = Xw + 6;
    double a2 = 0, b2 = 0, c2 = 0;
    for (int r = 0; r < 3; r++) {
        a2 += (P2[r] - P3[r]) * (P2[r] - P3[r]);
        b2 += (P1[r] - P3[r]) * (P1[r] - P3[r]);
        c2 += (P1[r] - P2[r]) * (P1[r] - P2[r]);
    }
    if (a2 < 1e-20 || b2 < 1e-20 || c2 < 1e-20) return 0;
    double ca = fb[3] * fb[6] + fb[4] * fb[7] + fb[5] * fb[8]; // cos(alpha) = f2.f3
    double cb = fb[0] * fb[6] + fb[1] * fb[7] + fb[2] * fb[8]; // cos(beta)  = f1.f3
    double cg = fb[0] * fb[3] + fb[1] * fb[4] + fb[2] * fb[5]; // cos(gamma) = f1.f2
    double amc = (a2 - c2) / b2, apc = (a2 + c2) / b2;
    double co[5];
    co[4] = (amc - 1) * (amc - 1) - 4 * c2 / b2 * ca * ca;
    co[3] = 4 * (amc * (1 - amc) * cb - (1 - apc) * ca * cg + 2 * c2 / b2 * ca * ca * cb);
    co[2] = 2 * (amc * amc - 1 + 2 * amc * amc * cb * cb + 2 * (b2 - c2) / b2 * ca * ca - 4 * apc * ca * cb * cg +
                 2 * (b2 - a2) / b2 * cg * cg);
    co[1] = 4 * (-amc * (1 + amc) * cb + 2 * a2 / b2 * cg * cg * cb - (1 - apc) * ca * cg);
    co[0] = (1 + amc) * (1 + amc) - 4 * a2 / b2 * cg * cg;
    double vs[4];
    int nv = quartic_real_roots(vs, co);
    int ns = 0;
    for (int k = 0; k < nv; k++) {
        double v = vs[k];
        double den = 2 * (cg - v * ca);
        if (fabs(den) < 1e-14) continue;
        double u = ((-1 + amc) * v * v - 2 * amc * cb * v + 1 + amc) / den;
        double q = 1 + v * v - 2 * v * cb;
        if (!(q > 0)) continue;
        double s1 = sqrt(b2 / q), s2 = u * s1, s3 = v * s1;
        if (!(s1 > 0 && s2 > 0 && s3 > 0)) continue;
        double C[9];
        for (int r = 0; r < 3; r++) {
            C[r] = s1 * fb[r];
            C[3 + r] = s2 * fb[3 + r];
            C[6 + r] = s3 * fb[6 + r];
        }
        if (kabsch3(Rs[ns], ts[ns], Xw, C)) ns++;
    }
    return ns;
}


static int count_inliers(const double R[9], const double t[3], const float *X, const float *uv, int64_t n, double f,
                         double cx, double cy, double thr2, unsigned char *mask) {
    int cnt = 0;
    for (int64_t p = 0; p < n; p++) {
        double x = X[p * 3], y = X[p * 3 + 1], z = X[p * 3 + 2];
        double xc = R[0] * x + R[1] * y + R[2] * z + t[0];
        double yc = R[3] * x + R[4] * y + R[5] * z + t[1];
        double zc = R[6] * x + R[7] * y + R[8] * z + t[2];
        double du = f * xc / zc + cx - uv[p * 2], dv = f * yc / zc + cy - uv[p * 2 + 1];
        int in = (du * du + dv * dv <= thr2);
        if (mask) mask[p] = (unsigned char)in;
        cnt += in;
    }
    return cnt;
}

static int solve6(double x[6], double A[36], double b[6]) {
    for (int c = 0; c < 6; c++) {
        int piv = c;
        for (int r = c + 1; r < 6; r++)
            if (fabs(A[r * 6 + c]) > fabs(A[piv * 6 + c])) piv = r;
        if (fabs(A[piv * 6 + c]) < 1e-300) return 0;
        if (piv != c) {
            for (int k = 0; k < 6; k++) {
                double tmp = A[c * 6 + k];
                A[c * 6 + k] = A[piv * 6 + k];
                A[piv * 6 + k] = tmp;
            }
            double tmp = b[c];
            b[c] = b[piv];
            b[piv] = tmp;
        }
        for (int r = c + 1; r < 6; r++) {
            double m = A[r * 6 + c] / A[c * 6 + c];
            for (int k = c; k < 6; k++) A[r * 6 + k] -= m * A[c * 6 + k];
            b[r] -= m * b[c];
        }
    }
    for (int r = 5; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < 6; k++) s -= A[r * 6 + k] * x[k];
        x[r] = s / A[r * 6 + r];
    }
    return 1;
}

static void rodrigues(double Rd[9], const double w[3]) {
    double th = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    if (th < 1e-300) {
        for (int k = 0; k < 9; k++) Rd[k] = (k % 4 == 0);
        return;
    }
    double k0 = w[0] / th, k1 = w[1] / th, k2 = w[2] / th, c = cos(th), s = sin(th), v = 1 - c;
    Rd[0] = c + k0 * k0 * v, Rd[1] = k0 * k1 * v - k2 * s, Rd[2] = k0 * k2 * v + k1 * s;
    Rd[3] = k1 * k0 * v + k2 * s, Rd[4] = c + k1 * k1 * v, Rd[5] = k1 * k2 * v - k0 * s;
    Rd[6] = k2 * k0 * v - k1 * s, Rd[7] = k2 * k1 * v + k0 * s, Rd[8] = c + k2 * k2 * v;
}

// Gauss-Newton on the reprojection error of the masked points.
static void refine(double R[9], double t[3], const float *X, const float *uv, int64_t n, const unsigned char *mask,
                   double f, double cx, double cy) {
    for (int it = 0; it < 10; it++) {
        double A[36] = {0}, b[6] = {0};
        for (int64_t p = 0; p < n; p++) {
            if (!mask[p]) continue;
            double x = X[p * 3], y = X[p * 3 + 1], z = X[p * 3 + 2];
            double rx = R[0] * x + R[1] * y + R[2] * z, ry = R[3] * x + R[4] * y + R[5] * z,
                   rz = R[6] * x + R[7] * y + R[8] * z;
            double xc = rx + t[0], yc = ry + t[1], zc = rz + t[2];
            if (!(zc > 1e-12)) continue;
            double iz = 1 / zc;
            double e[2] = {f * xc * iz + cx - uv[p * 2], f * yc * iz + cy - uv[p * 2 + 1]};
            // d(proj)/d(Xc)
            double Jp[2][3] = {{f * iz, 0, -f * xc * iz * iz}, {0, f * iz, -f * yc * iz * iz}};
            // d(Xc)/d(omega) = -[R X]_x, d(Xc)/dt = I
            double Jw[3][3] = {{0, rz, -ry}, {-rz, 0, rx}, {ry, -rx, 0}};
            double J[2][6];
            for (int r = 0; r < 2; r++) {
                for (int c = 0; c < 3; c++)
                    J[r][c] = Jp[r][0] * Jw[0][c] + Jp[r][1] * Jw[1][c] + Jp[r][2] * Jw[2][c];
                for (int c = 0; c < 3; c++) J[r][3 + c] = Jp[r][c];
            }
            for (int r = 0; r < 2; r++)
                for (int a = 0; a < 6; a++) {
                    b[a] -= J[r][a] * e[r];
                    for (int c = 0; c < 6; c++) A[a * 6 + c] += J[r][a] * J[r][c];
                }
        }
        double dx[6];
        if (!solve6(dx, A, b)) return;
        double Rd[9], Rn[9];
        rodrigues(Rd, dx);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                Rn[r * 3 + c] = Rd[r * 3] * R[c] + Rd[r * 3 + 1] * R[3 + c] + Rd[r * 3 + 2] * R[6 + c];
        memcpy(R, Rn, sizeof(Rn));
        for (int r = 0; r < 3; r++) t[r] += dx[3 + r];
        if (fabs(dx[0]) + fabs(dx[1]) + fabs(dx[2]) < 1e-12 && fabs(dx[3]) + fabs(dx[4]) + fabs(dx[5]) < 1e-12) break;
    }
}

int pc_ga_pnp_ransac(double R[9], double t[3], const float *X, const float *uv, int64_t n, double f, double cx,
                  double cy, int iters, double thr, uint64_t seed) {
    if (n < 4 || !(f > 0)) return 0;
    double thr2 = thr * thr;
    uint64_t s = seed ^ 0x5DEECE66Dull;
    int best = 0;
    double bR[9], bt[3];
    for (int it = 0; it < iters; it++) {
        int64_t idx[3];
        for (int k = 0; k < 3; k++) {
            for (int tries = 0; tries < 100; tries++) {
                idx[k] = (int64_t)(pc_splitmix64(&s) % (uint64_t)n);
                int dup = 0;
                for (int m = 0; m < k; m++) dup |= idx[m] == idx[k];
                if (!dup) break;
            }
        }
        double fb[9], Xw[9];
        for (int k = 0; k < 3; k++) {
            double bx = (uv[idx[k] * 2] - cx) / f, by = (uv[idx[k] * 2 + 1] - cy) / f;
            double nn = sqrt(bx * bx + by * by + 1);
            fb[k * 3] = bx / nn, fb[k * 3 + 1] = by / nn, fb[k * 3 + 2] = 1 / nn;
            for (int r = 0; r < 3; r++) Xw[k * 3 + r] = X[idx[k] * 3 + r];
        }
        double Rs[4][9], ts[4][3];
        int ns = pc_ga_p3p(Rs, ts, fb, Xw);
        for (int q = 0; q < ns; q++) {
            int c = count_inliers(Rs[q], ts[q], X, uv, n, f, cx, cy, thr2, NULL);
            if (c > best) {
                best = c;
                memcpy(bR, Rs[q], sizeof(bR));
                memcpy(bt, ts[q], sizeof(bt));
            }
        }
    }
    if (best < 4) return 0;
    unsigned char *mask = (unsigned char *)malloc((size_t)n);
    if (!mask) return 0;
    for (int round = 0; round < 2; round++) {
        count_inliers(bR, bt, X, uv, n, f, cx, cy, thr2, mask);
        refine(bR, bt, X, uv, n, mask, f, cx, cy);
    }
    int fin = count_inliers(bR, bt, X, uv, n, f, cx, cy, thr2, NULL);
    free(mask);
    memcpy(R, bR, sizeof(bR));
    memcpy(t, bt, sizeof(bt));
    return fin > 0 ? fin : 0;
}

int pc_align_pnp_ransac(double R[9], double t[3], const float *X, const float *uv, int64_t n, double f, double cx,
                        double cy, int iters, double thr, uint64_t seed) {
    return pc_ga_pnp_ransac(R, t, X, uv, n, f, cx, cy, iters, thr, seed);
}
