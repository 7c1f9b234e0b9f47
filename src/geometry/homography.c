// Homography by normalised DLT (Hartley & Zisserman, MVG 2nd ed., Alg. 4.2).
#include <math.h>
#include <string.h>

#include "geometry/linalg.h"
#include "geometry/solvers.h"

int pc_solve_homography_dlt(double H[9], const double *xa, const double *xb, int n) {
    if (n < 4) return 0;
    double Ta[9], Tb[9];
    if (!pc_hartley_normalize(Ta, NULL, xa, n) || !pc_hartley_normalize(Tb, NULL, xb, n)) return 0;
    double R[81], A[8 * 9];
    if (n > 4) memset(R, 0, sizeof(R));
    for (int i = 0; i < n; i++) {
        double a[3] = {Ta[0] * xa[2 * i] + Ta[2], Ta[4] * xa[2 * i + 1] + Ta[5], 1.0};
        double u = Tb[0] * xb[2 * i] + Tb[2], v = Tb[4] * xb[2 * i + 1] + Tb[5];
        // x_b x (H x_a) = 0: two independent rows
        double r1[9] = {0, 0, 0, -a[0], -a[1], -a[2], v * a[0], v * a[1], v * a[2]};
        double r2[9] = {a[0], a[1], a[2], 0, 0, 0, -u * a[0], -u * a[1], -u * a[2]};
        if (n == 4) {
            memcpy(A + 18 * i, r1, sizeof(r1));
            memcpy(A + 18 * i + 9, r2, sizeof(r2));
        } else {
            pc_qr_add_row(R, 9, r1);
            pc_qr_add_row(R, 9, r2);
        }
    }
    double h[9];
    // minimal case: the 8x9 system has a 1-D null space (Householder QR, cheap);
    // over-determined: smallest right singular vector of the accumulated R
    if (n == 4 ? !pc_null_space(h, A, 8, 9) : !pc_null_vector_r(h, R, 9, NULL)) return 0;
    // H = Tb^-1 Hn Ta
    double Tbi[9], tmp[9];
    if (!pc_m3_inverse(Tbi, Tb)) return 0;
    pc_m3_mul(tmp, h, Ta);
    pc_m3_mul(H, Tbi, tmp);
    double nrm = pc_m3_frobenius(H);
    if (!(nrm > 0) || !isfinite(nrm)) return 0;
    for (int i = 0; i < 9; i++) H[i] /= nrm;
    // a (near-)singular H maps the plane to a line: degenerate sample
    if (!(fabs(pc_m3_det(H)) > 1e-12)) return 0;
    if (fabs(H[8]) > 1e-10) {
        double s = 1.0 / H[8];
        for (int i = 0; i < 9; i++) H[i] *= s;
    }
    return 1;
}
