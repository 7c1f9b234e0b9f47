// MST initialisation of the global alignment (dust3r/cloud_opt/init_im_poses.py: minimum_spanning_tree),
// plus the small solvers it needs: weighted Umeyama (roma.rigid_points_registration), the Weiszfeld focal
// estimate (dust3r.post_process.estimate_focal_knowing_depth) and roma's rotmat_to_unitquat.
#include "align/global_align_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/geometry.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

// ---- 3x3 SVD via Jacobi on A^T A ------------------------------------------------

static void jacobi_eig3(double A[9], double V[9]) {
    for (int i = 0; i < 9; i++) V[i] = (i % 4 == 0) ? 1 : 0;
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(A[1]) + fabs(A[2]) + fabs(A[5]);
        double diag = fabs(A[0]) + fabs(A[4]) + fabs(A[8]);
        if (off <= 1e-300 || off < 1e-17 * diag) break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                double apq = A[p * 3 + q];
                if (fabs(apq) < 1e-300) continue;
                double app = A[p * 3 + p], aqq = A[q * 3 + q];
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < 3; k++) { // A = J^T A J
                    double akp = A[k * 3 + p], akq = A[k * 3 + q];
                    A[k * 3 + p] = c * akp - s * akq;
                    A[k * 3 + q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) {
                    double apk = A[p * 3 + k], aqk = A[q * 3 + k];
                    A[p * 3 + k] = c * apk - s * aqk;
                    A[q * 3 + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = V[k * 3 + p], vkq = V[k * 3 + q];
                    V[k * 3 + p] = c * vkp - s * vkq;
                    V[k * 3 + q] = s * vkp + c * vkq;
                }
            }
    }
}

static void cross3(double o[3], const double a[3], const double b[3]) {
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

static double norm3(const double a[3]) { return sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }

// Any unit vector orthogonal to a (unit).
static void ortho3(double o[3], const double a[3]) {
    double e[3] = {0, 0, 0};
    int m = fabs(a[0]) < fabs(a[1]) ? (fabs(a[0]) < fabs(a[2]) ? 0 : 2) : (fabs(a[1]) < fabs(a[2]) ? 1 : 2);
    e[m] = 1;
    cross3(o, a, e);
    double n = norm3(o);
    for (int k = 0; k < 3; k++) o[k] /= n;
}

// 3x3 SVD A = U diag(S) V^T (S descending), det(U) = det(V) = +1, the smallest singular value carrying
// the sign of det(A): what the Umeyama fit below needs (the goldens pin its exact arithmetic).
static void svd3_special(double U[9], double S[3], double V[9], const double A[9]) {
    double AtA[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            AtA[r * 3 + c] = A[r] * A[c] + A[3 + r] * A[3 + c] + A[6 + r] * A[6 + c];
    double Vj[9];
    jacobi_eig3(AtA, Vj);
    double lam[3] = {AtA[0], AtA[4], AtA[8]};
    int ord[3] = {0, 1, 2};
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (lam[ord[b]] > lam[ord[a]]) {
                int t = ord[a];
                ord[a] = ord[b];
                ord[b] = t;
            }
    double v[3][3], u[3][3];
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < 3; r++) v[k][r] = Vj[r * 3 + ord[k]];
    // det(V) = +1
    double c01[3];
    cross3(c01, v[0], v[1]);
    if (c01[0] * v[2][0] + c01[1] * v[2][1] + c01[2] * v[2][2] < 0)
        for (int r = 0; r < 3; r++) v[2][r] = -v[2][r];
    // u_k = A v_k / |A v_k| for the two largest, u_3 = u_1 x u_2
    for (int k = 0; k < 2; k++) {
        for (int r = 0; r < 3; r++) u[k][r] = A[r * 3] * v[k][0] + A[r * 3 + 1] * v[k][1] + A[r * 3 + 2] * v[k][2];
        if (k == 1) { // Gram-Schmidt against u_0
            double d = u[1][0] * u[0][0] + u[1][1] * u[0][1] + u[1][2] * u[0][2];
            for (int r = 0; r < 3; r++) u[1][r] -= d * u[0][r];
        }
        double n = norm3(u[k]);
        if (n > 1e-300) {
            for (int r = 0; r < 3; r++) u[k][r] /= n;
        } else if (k == 0) {
            u[0][0] = 1, u[0][1] = 0, u[0][2] = 0;
        } else {
            ortho3(u[1], u[0]);
        }
    }
    cross3(u[2], u[0], u[1]);
    for (int k = 0; k < 3; k++) {
        double Av[3];
        for (int r = 0; r < 3; r++) Av[r] = A[r * 3] * v[k][0] + A[r * 3 + 1] * v[k][1] + A[r * 3 + 2] * v[k][2];
        S[k] = Av[0] * u[k][0] + Av[1] * u[k][1] + Av[2] * u[k][2];
    }
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) {
            U[r * 3 + k] = u[k][r];
            V[r * 3 + k] = v[k][r];
        }
}

int pc_ga_register(double R[9], double T[3], double *s, const float *x, const float *y, const float *w, int64_t n) {
    double sw = 0, xm[3] = {0}, ym[3] = {0};
    for (int64_t p = 0; p < n; p++) {
        double wp = w ? w[p] : 1.0;
        sw += wp;
        for (int c = 0; c < 3; c++) {
            xm[c] += wp * x[p * 3 + c];
            ym[c] += wp * y[p * 3 + c];
        }
    }
    if (!(sw > 0) || !isfinite(sw)) return 0;
    for (int c = 0; c < 3; c++) {
        xm[c] /= sw;
        ym[c] /= sw;
    }
    double M[9] = {0}, sig2 = 0;
    for (int64_t p = 0; p < n; p++) {
        double wp = (w ? w[p] : 1.0) / sw;
        double xh[3], yh[3];
        for (int c = 0; c < 3; c++) {
            xh[c] = x[p * 3 + c] - xm[c];
            yh[c] = y[p * 3 + c] - ym[c];
        }
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) M[r * 3 + c] += wp * yh[r] * xh[c];
        sig2 += wp * (xh[0] * xh[0] + xh[1] * xh[1] + xh[2] * xh[2]);
    }
    double U[9], S[3], V[9];
    svd3_special(U, S, V, M);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            R[r * 3 + c] = U[r * 3] * V[c * 3] + U[r * 3 + 1] * V[c * 3 + 1] + U[r * 3 + 2] * V[c * 3 + 2];
    double sc = sig2 > 0 ? (S[0] + S[1] + S[2]) / sig2 : 1.0;
    for (int r = 0; r < 3; r++) T[r] = ym[r] - sc * (R[r * 3] * xm[0] + R[r * 3 + 1] * xm[1] + R[r * 3 + 2] * xm[2]);
    *s = sc;
    return isfinite(sc) && isfinite(T[0]) && isfinite(T[1]) && isfinite(T[2]);
}

double pc_ga_estimate_focal(const float *pts, int H, int W, double ppx, double ppy, double min_focal,
                            double max_focal) {
    int64_t n = (int64_t)H * W;
    // dust3r: estimate_focal_knowing_depth(focal_mode='weiszfeld'); pixels centred on pp
    double sxp = 0, sxx = 0;
    for (int64_t p = 0; p < n; p++) {
        double ax = (float)(pts[p * 3] / pts[p * 3 + 2]), ay = (float)(pts[p * 3 + 1] / pts[p * 3 + 2]);
        if (!isfinite(ax)) ax = 0; // nan_to_num(posinf=0, neginf=0)
        if (!isfinite(ay)) ay = 0;
        double px = (double)(p % W) - ppx, py = (double)(p / W) - ppy;
        sxp += ax * px + ay * py;
        sxx += ax * ax + ay * ay;
    }
    double focal = sxp / sxx;
    for (int it = 0; it < 10; it++) {
        double a = 0, b = 0;
        for (int64_t p = 0; p < n; p++) {
            double ax = (float)(pts[p * 3] / pts[p * 3 + 2]), ay = (float)(pts[p * 3 + 1] / pts[p * 3 + 2]);
            if (!isfinite(ax)) ax = 0;
            if (!isfinite(ay)) ay = 0;
            double px = (double)(p % W) - ppx, py = (double)(p / W) - ppy;
            double dx = px - focal * ax, dy = py - focal * ay;
            double dis = sqrt(dx * dx + dy * dy);
            double w = 1.0 / (dis > 1e-8 ? dis : 1e-8);
            a += w * (ax * px + ay * py);
            b += w * (ax * ax + ay * ay);
        }
        focal = a / b;
    }
    double base = PC_MAX(H, W) / (2 * tan(60.0 * M_PI / 180.0 / 2));
    if (focal < min_focal * base) focal = min_focal * base;
    if (focal > max_focal * base) focal = max_focal * base;
    return focal;
}

// dust3r: init_im_poses.estimate_focal -> estimate_focal_knowing_depth(focal_mode='weiszfeld') with its
// defaults min_focal=0, max_focal=inf: no clipping to a plausible range (0.5 and 3.5 appear upstream only
// in optimizer.acceptable_focal_range, which the init never calls). pts: a pointmap of view k's size.
static double estimate_focal(const pc_align *ga, const float *pts, int k) {
    return pc_ga_estimate_focal(pts, ga->H[k], ga->W[k], ga->W[k] / 2.0, ga->H[k] / 2.0, 0, INFINITY);
}

// upstream: im_focals[i] = ...; `i in im_focals` is has_focal[i] (a focal of 0 is a value, not "unset")
static void set_focal(pc_align_mst *mst, int i, double f) {
    mst->focals[i] = f;
    mst->has_focal[i] = 1;
}

void pc_align_mst_free(pc_align_mst *mst) {
    if (!mst) return;
    if (mst->pts3d)
        for (int k = 0; k < mst->n_views; k++) free(mst->pts3d[k]);
    free(mst->pts3d);
    free(mst->tree);
    free(mst->focals);
    free(mst->has_focal);
    free(mst->c2w);
    free(mst->pnp);
    memset(mst, 0, sizeof(*mst));
}

typedef struct {
    double score;
    int i, j;
} scored_edge;

static int find_root(int *par, int a) {
    while (par[a] != a) a = par[a] = par[par[a]];
    return a;
}

// pts (n,3) = s R x + T
static void apply_srt(float *out, const float *x, int64_t n, double s, const double R[9], const double T[3]) {
    for (int64_t p = 0; p < n; p++) {
        double a = x[p * 3], b = x[p * 3 + 1], c = x[p * 3 + 2];
        for (int r = 0; r < 3; r++)
            out[p * 3 + r] = (float)(s * (R[r * 3] * a + R[r * 3 + 1] * b + R[r * 3 + 2] * c) + T[r]);
    }
}

pc_status pc_align_mst_compute(pc_align *ga, pc_align_mst *mst, pc_error *err) {
    int N = ga->N, E = ga->E;
    memset(mst, 0, sizeof(*mst));
    mst->n_views = N;
    mst->pts3d = (float **)calloc((size_t)N, sizeof(float *));
    mst->tree = (int(*)[2])calloc((size_t)N, sizeof(*mst->tree));
    mst->focals = (double *)calloc((size_t)N, sizeof(double));
    mst->has_focal = (unsigned char *)calloc((size_t)N, 1);
    mst->c2w = (double(*)[16])calloc((size_t)N, sizeof(*mst->c2w));
    mst->pnp = (int *)calloc((size_t)N, sizeof(int));
    int *have_pose = (int *)calloc((size_t)N, sizeof(int));
    int *done = (int *)calloc((size_t)N, sizeof(int));
    int *par = (int *)calloc((size_t)N, sizeof(int));
    scored_edge *all = (scored_edge *)calloc((size_t)E, sizeof(scored_edge));
    scored_edge *todo = (scored_edge *)calloc((size_t)N + 1, sizeof(scored_edge));
    int *edge_of = (int *)calloc((size_t)N * N, sizeof(int));
    int *order = (int *)calloc((size_t)E, sizeof(int));
    pc_status st = PC_OK;
    if (!mst->pts3d || !mst->tree || !mst->focals || !mst->has_focal || !mst->c2w || !mst->pnp || !have_pose || !done || !par ||
        !all || !todo || !edge_of || !order) {
        st = pc_err(err, PC_ERR_MEMORY, "align: out of memory in MST");
        goto out;
    }
    for (int k = 0; k < N; k++) {
        mst->pts3d[k] = (float *)calloc((size_t)ga->hw[k] * 3, sizeof(float));
        if (!mst->pts3d[k]) {
            st = pc_err(err, PC_ERR_MEMORY, "align: out of memory in MST");
            goto out;
        }
    }
    // dust3r: compute_edge_scores -> dok graph of -score (a later duplicate (i,j) overwrites)
    for (int q = 0; q < N * N; q++) edge_of[q] = -1;
    for (int e = 0; e < E; e++) {
        const pc_align_edge *ed = &ga->edges[e];
        double a = 0, b = 0;
        for (int64_t p = 0; p < ga->hw[ed->i]; p++) a += ed->conf_i[p];
        for (int64_t p = 0; p < ga->hw[ed->j]; p++) b += ed->conf_j[p];
        float ma = (float)(a / ga->hw[ed->i]), mb = (float)(b / ga->hw[ed->j]);
        all[e].score = (double)(ma * mb);
        all[e].i = ed->i;
        all[e].j = ed->j;
        edge_of[ed->i * N + ed->j] = e;
    }
    // scipy minimum_spanning_tree on -score: Kruskal over the entries in CSR (row-major) order, stable-sorted
    // by weight; kept entries come back row-major (tocoo).
    int nent = 0;
    for (int q = 0; q < N * N; q++)
        if (edge_of[q] >= 0) order[nent++] = edge_of[q];
    for (int a = 1; a < nent; a++) { // stable insertion sort by -score ascending
        int v = order[a], b = a - 1;
        while (b >= 0 && -all[order[b]].score > -all[v].score) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = v;
    }
    for (int k = 0; k < N; k++) par[k] = k;
    int *kept = (int *)calloc((size_t)N * N, sizeof(int));
    if (!kept) {
        st = pc_err(err, PC_ERR_MEMORY, "align: out of memory in MST");
        goto out;
    }
    for (int a = 0; a < nent; a++) {
        int e = order[a];
        int ri = find_root(par, all[e].i), rj = find_root(par, all[e].j);
        if (ri == rj) continue;
        par[ri] = rj;
        kept[all[e].i * N + all[e].j] = 1;
    }
    int ntodo = 0;
    for (int q = 0; q < N * N; q++)
        if (kept[q]) todo[ntodo++] = all[edge_of[q]];
    free(kept);
    // todo = sorted(zip(score, row, col)) ascending
    for (int a = 1; a < ntodo; a++) {
        scored_edge v = todo[a];
        int b = a - 1;
        while (b >= 0 && (todo[b].score > v.score ||
                          (todo[b].score == v.score && (todo[b].i > v.i || (todo[b].i == v.i && todo[b].j > v.j))))) {
            todo[b + 1] = todo[b];
            b--;
        }
        todo[b + 1] = v;
    }
    if (ntodo != N - 1) {
        st = pc_err(err, PC_ERR_ARG, "align: the pair graph is not connected (%d tree edges for %d views)", ntodo, N);
        goto out;
    }
    // init with the strongest edge
    scored_edge cur = todo[--ntodo];
    int last_e = edge_of[cur.i * N + cur.j]; // upstream's i_j variable
    const pc_align_edge *ed = &ga->edges[last_e];
    memcpy(mst->pts3d[cur.i], ed->pts_i, (size_t)ga->hw[cur.i] * 3 * sizeof(float));
    memcpy(mst->pts3d[cur.j], ed->pts_j, (size_t)ga->hw[cur.j] * 3 * sizeof(float));
    done[cur.i] = done[cur.j] = 1;
    for (int q = 0; q < 16; q++) mst->c2w[cur.i][q] = (q % 5 == 0);
    have_pose[cur.i] = 1;
    set_focal(mst, cur.i, estimate_focal(ga, ed->pts_i, cur.i));
    mst->tree[mst->n_tree][0] = cur.i;
    mst->tree[mst->n_tree++][1] = cur.j;
    int guard = 0;
    while (ntodo > 0) {
        cur = todo[--ntodo];
        int i = cur.i, j = cur.j;
        // upstream quirk: uses the i_j of the previous edge
        if (!mst->has_focal[i]) set_focal(mst, i, estimate_focal(ga, ga->edges[last_e].pts_i, ga->edges[last_e].i));
        if (done[i] || done[j]) {
            last_e = edge_of[i * N + j];
            ed = &ga->edges[last_e];
            double R[9], T[3], s;
            int ok;
            if (done[i]) {
                ok = pc_ga_register(R, T, &s, ed->pts_i, mst->pts3d[i], ed->conf_i, ga->hw[i]);
                if (ok) apply_srt(mst->pts3d[j], ed->pts_j, ga->hw[j], s, R, T);
                done[j] = 1;
            } else {
                ok = pc_ga_register(R, T, &s, ed->pts_j, mst->pts3d[j], ed->conf_j, ga->hw[j]);
                if (ok) apply_srt(mst->pts3d[i], ed->pts_i, ga->hw[i], s, R, T);
                done[i] = 1;
            }
            if (!ok) {
                st = pc_err(err, PC_ERR_NUMERIC, "align: MST registration of edge (%d,%d) failed", i, j);
                goto out;
            }
            mst->tree[mst->n_tree][0] = i;
            mst->tree[mst->n_tree++][1] = j;
            if (!have_pose[i]) {
                for (int r = 0; r < 3; r++) {
                    for (int c = 0; c < 3; c++) mst->c2w[i][r * 4 + c] = R[r * 3 + c];
                    mst->c2w[i][r * 4 + 3] = T[r];
                }
                mst->c2w[i][15] = 1;
                have_pose[i] = 1;
            }
        } else {
            // try again later: insert at the front
            memmove(todo + 1, todo, (size_t)ntodo * sizeof(scored_edge));
            todo[0] = cur;
            ntodo++;
            if (++guard > 4 * N * N) {
                st = pc_err(err, PC_ERR_ARG, "align: MST traversal does not terminate");
                goto out;
            }
        }
    }
    // complete the focals from the edges, best score first (np.argsort of -score over dict order)
    for (int e = 0; e < E; e++) order[e] = e;
    for (int a = 1; a < E; a++) {
        int v = order[a], b = a - 1;
        while (b >= 0 && -all[order[b]].score > -all[v].score) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = v;
    }
    for (int a = 0; a < E; a++) {
        int e = order[a];
        // skip overwritten duplicates: only the dict's entry counts
        if (edge_of[all[e].i * N + all[e].j] != e) continue;
        int i = all[e].i;
        if (!mst->has_focal[i]) set_focal(mst, i, estimate_focal(ga, ga->edges[e].pts_i, i));
    }
    // PnP-RANSAC for views without a pose (dust3r: fast_pnp)
    for (int k = 0; k < N; k++) {
        if (have_pose[k]) continue;
        int H = ga->H[k], W = ga->W[k];
        float *X = NULL, *uv = NULL;
        const int64_t cnt = pc_ga_confident_points(&X, &uv, mst->pts3d[k], ga->im_conf[k], ga->hw[k], W, ga->o.min_conf_thr);
        if (cnt < 0) {
            st = pc_err(err, PC_ERR_MEMORY, "align: out of memory in PnP");
            goto out;
        }
        int ok = 0;
        if (cnt >= 4) {
            double best_R[9], best_t[3], best_f = 0;
            int best = 0;
            int nf = mst->has_focal[k] ? 1 : 21;
            for (int fi = 0; fi < nf; fi++) {
                double S = PC_MAX(W, H);
                double f = nf == 1 ? mst->focals[k] : (S / 2) * pow(6.0, fi / 20.0); // np.geomspace(S/2, 3S, 21)
                double R[9], t[3];
                int inl = pc_align_pnp_ransac(R, t, X, uv, cnt, f, W / 2.0, H / 2.0, ga->o.niter_pnp, 5.0,
                                        ga->o.seed + (uint64_t)k * 1000003u + (uint64_t)fi);
                if (inl > best) {
                    best = inl;
                    memcpy(best_R, R, sizeof(R));
                    memcpy(best_t, t, sizeof(t));
                    best_f = f;
                }
            }
            if (best > 0) {
                // cam-to-world = inv([R | t])
                for (int r = 0; r < 3; r++) {
                    for (int c = 0; c < 3; c++) mst->c2w[k][r * 4 + c] = best_R[c * 3 + r];
                    mst->c2w[k][r * 4 + 3] =
                        -(best_R[0 * 3 + r] * best_t[0] + best_R[1 * 3 + r] * best_t[1] + best_R[2 * 3 + r] * best_t[2]);
                }
                mst->c2w[k][15] = 1;
                set_focal(mst, k, best_f);
                ok = 1;
                mst->pnp[k] = 1;
            }
        }
        free(X);
        free(uv);
        if (!ok) {
            for (int q = 0; q < 16; q++) mst->c2w[k][q] = (q % 5 == 0);
            mst->pnp[k] = 2;
        }
        have_pose[k] = 1;
    }
out:
    free(have_pose);
    free(done);
    free(par);
    free(all);
    free(todo);
    free(edge_of);
    free(order);
    if (st != PC_OK) pc_align_mst_free(mst);
    return st;
}

int64_t pc_ga_confident_points(float **X, float **uv, const float *pts, const float *conf, int64_t hw, int W,
                               float thr) {
    *X = *uv = NULL;
    int64_t cnt = 0;
    for (int64_t p = 0; p < hw; p++) cnt += conf[p] > thr;
    if (cnt == 0) return 0;
    *X = (float *)malloc((size_t)cnt * 3 * sizeof(float));
    *uv = (float *)malloc((size_t)cnt * 2 * sizeof(float));
    if (!*X || !*uv) {
        free(*X);
        free(*uv);
        *X = *uv = NULL;
        return -1;
    }
    int64_t m = 0;
    for (int64_t p = 0; p < hw; p++)
        if (conf[p] > thr) {
            memcpy(*X + m * 3, pts + p * 3, 3 * sizeof(float));
            (*uv)[m * 2] = (float)(p % W);
            (*uv)[m * 2 + 1] = (float)(p / W);
            m++;
        }
    return cnt;
}

// dust3r: fast_pnp's cv2.solvePnPRansac, here LO-RANSAC over P3P (pc_abspose_estimate) with a fixed
// number of samples (iterationsCount) and a square-pixel pinhole.
int pc_align_pnp_ransac(double R[9], double t[3], const float *X, const float *uv, int64_t n, double f, double cx,
                        double cy, int iters, double thr, uint64_t seed) {
    pc_ransac_options o;
    pc_ransac_options_default(&o);
    o.threshold = thr;
    o.max_iters = o.min_iters = iters > 0 ? iters : 1;
    o.seed = seed;
    const pc_intrinsics K = {f, f, cx, cy};
    pc_abspose ps;
    if (pc_abspose_estimate(&ps, NULL, X, uv, n, &K, &o, NULL) != PC_OK) return 0;
    memcpy(R, ps.R, sizeof(ps.R));
    memcpy(t, ps.t, sizeof(ps.t));
    return ps.n_inliers;
}
