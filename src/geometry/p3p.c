// P3P minimal solver: Grunert's solution as reviewed by R. M. Haralick, C. Lee, K. Ottenberg, M. Nolle,
// "Review and analysis of solutions of the three point perspective pose estimation problem", IJCV 13(3),
// 1994, section 2.1. The distances along the three bearings follow from a quartic in v = s3 / s1 (the
// shared polynomial root finder), the pose from the three camera-frame points by rigid Procrustes.
#include <math.h>
#include <stddef.h>

#include "geometry/linalg.h"
#include "geometry/solvers.h"

int pc_solve_p3p(double R[4][9], double t[4][3], const double f[9], const double X[9]) {
    const double *P1 = X, *P2 = X + 3, *P3 = X + 6;
    double a2 = 0, b2 = 0, c2 = 0;  // squared side lengths opposite the bearings' angles
    for (int r = 0; r < 3; r++) {
        a2 += (P2[r] - P3[r]) * (P2[r] - P3[r]);
        b2 += (P1[r] - P3[r]) * (P1[r] - P3[r]);
        c2 += (P1[r] - P2[r]) * (P1[r] - P2[r]);
    }
    if (a2 < 1e-20 || b2 < 1e-20 || c2 < 1e-20) return 0;
    const double ca = pc_v3_dot(f + 3, f + 6);  // cos(alpha): bearings 2, 3
    const double cb = pc_v3_dot(f, f + 6);      // cos(beta):  bearings 1, 3
    const double cg = pc_v3_dot(f, f + 3);      // cos(gamma): bearings 1, 2
    const double amc = (a2 - c2) / b2, apc = (a2 + c2) / b2;
    double co[5];  // ascending powers of v
    co[4] = (amc - 1) * (amc - 1) - 4 * c2 / b2 * ca * ca;
    co[3] = 4 * (amc * (1 - amc) * cb - (1 - apc) * ca * cg + 2 * c2 / b2 * ca * ca * cb);
    co[2] = 2 * (amc * amc - 1 + 2 * amc * amc * cb * cb + 2 * (b2 - c2) / b2 * ca * ca - 4 * apc * ca * cb * cg +
                 2 * (b2 - a2) / b2 * cg * cg);
    co[1] = 4 * (-amc * (1 + amc) * cb + 2 * a2 / b2 * cg * cg * cb - (1 - apc) * ca * cg);
    co[0] = (1 + amc) * (1 + amc) - 4 * a2 / b2 * cg * cg;
    double vs[4];
    // v = s3 / s1 > 0: only positive roots give points in front of the camera
    const int nv = pc_poly_real_roots(vs, co, 4, 0.0, 1e12);
    int ns = 0;
    for (int k = 0; k < nv; k++) {
        const double v = vs[k];
        const double den = 2 * (cg - v * ca);
        if (fabs(den) < 1e-14) continue;
        const double u = ((-1 + amc) * v * v - 2 * amc * cb * v + 1 + amc) / den;  // u = s2 / s1
        const double q = 1 + v * v - 2 * v * cb;
        if (!(q > 0)) continue;
        const double s1 = sqrt(b2 / q), s2 = u * s1, s3 = v * s1;
        if (!(s1 > 0 && s2 > 0 && s3 > 0)) continue;
        double C[9];  // the three points in the camera frame
        for (int r = 0; r < 3; r++) {
            C[r] = s1 * f[r];
            C[3 + r] = s2 * f[3 + r];
            C[6 + r] = s3 * f[6 + r];
        }
        if (pc_procrustes(R[ns], t[ns], NULL, X, C, NULL, 3, 0) && isfinite(R[ns][0]) && isfinite(t[ns][0])) ns++;
    }
    return ns;
}
