// Synthetic scene generator: ground truth consistent with the rendering
// (colour of a pixel of A reprojected into B through the depth and the GT
// pose), yaw as requested, determinism, and GT correspondences -> relpose.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "geometry/linalg.h"
#include "geometry/synth.h"

int main(void) {
    pc_error err = {{0}};
    const double yaws[3] = {0, 30, 75};
    for (int yi = 0; yi < 3; yi++) {
        pc_synth_params p;
        pc_synth_params_default(&p);
        p.width = 320, p.height = 240, p.yaw_deg = yaws[yi], p.seed = 7;
        pc_synth_pair s;
        pc_test_ok(pc_synth_pair_make(&s, &p, &err), &err, "synth make");
        PC_CHECK(fabs(pc_eval_yaw_deg(s.R) - yaws[yi]) < 1e-9, "yaw %.0f: pc_eval_yaw_deg = %.9f", yaws[yi],
                 pc_eval_yaw_deg(s.R));
        // photo-consistency on a pixel grid
        int tested = 0, agree = 0, nmatch = 0;
        float *pa = malloc(2000 * 2 * sizeof(float)), *pb = malloc(2000 * 2 * sizeof(float));
        for (int y = 4; y < s.height - 4; y += 6)
            for (int x = 4; x < s.width - 4; x += 6) {
                float d = s.depth_a[y * s.width + x];
                if (!(d > 0)) continue;
                double X[3] = {d * (x - s.K.cx) / s.K.fx, d * (y - s.K.cy) / s.K.fy, d}, uv[2];
                if (!pc_synth_project_b(&s, X, uv)) continue;
                int u = (int)lround(uv[0]), v = (int)lround(uv[1]);
                if (u < 2 || v < 2 || u >= s.width - 2 || v >= s.height - 2) continue;
                double zb = s.R[6] * X[0] + s.R[7] * X[1] + s.R[8] * X[2] + s.t[2];
                if (fabs(s.depth_b[v * s.width + u] - zb) > 0.02 * zb) continue;  // occluded in B
                int flat = 1;  // only pixels inside a uniform texture cell in A (no edge, no aliasing)
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        for (int k = 0; k < 3; k++)
                            flat &= s.img_a[((y + dy) * s.width + x + dx) * 3 + k] == s.img_a[(y * s.width + x) * 3 + k] &&
                                    s.img_b[((v + dy) * s.width + u + dx) * 3 + k] == s.img_b[(v * s.width + u) * 3 + k];
                if (!flat) continue;
                tested++;
                int diff = 0;
                for (int k = 0; k < 3; k++)
                    diff += abs((int)s.img_a[(y * s.width + x) * 3 + k] - (int)s.img_b[(v * s.width + u) * 3 + k]);
                agree += diff < 60;
                if (nmatch < 2000) {
                    pa[2 * nmatch] = (float)x, pa[2 * nmatch + 1] = (float)y;
                    pb[2 * nmatch] = (float)uv[0], pb[2 * nmatch + 1] = (float)uv[1];
                    nmatch++;
                }
            }
        PC_CHECK(tested > 50 && agree > 0.95 * tested,
                 "yaw %.0f: %d/%d reprojected pixels agree in colour (visible in B; cell edges excepted)", yaws[yi],
                 agree, tested);
        if (yaws[yi] > 0) {
            pc_ransac_options o;
            pc_ransac_options_default(&o);
            pc_relpose pose;
            pc_test_ok(pc_relpose_estimate(&pose, NULL, pa, pb, nmatch, &s.K, &s.K, &o, &err), &err, "relpose on GT");
            double D[9], tu[3] = {s.t[0], s.t[1], s.t[2]};
            pc_m3_mul_at(D, pose.R, s.R);
            pc_v3_normalize(tu);
            double et = acos(fmin(1, pc_v3_dot(tu, pose.t))) * 180 / 3.14159265358979323846;
            PC_CHECK(pc_rot_angle_deg(D) < 0.05 && et < 0.5, "yaw %.0f: relpose from GT matches: rot err %.4f deg, t err %.4f deg",
                     yaws[yi], pc_rot_angle_deg(D), et);
        }
        // determinism
        pc_synth_pair s2;
        pc_test_ok(pc_synth_pair_make(&s2, &p, &err), &err, "synth make 2");
        PC_CHECK(memcmp(s.img_a, s2.img_a, (size_t)s.width * s.height * 3) == 0 &&
                     memcmp(s.img_b, s2.img_b, (size_t)s.width * s.height * 3) == 0,
                 "synth deterministic");
        if (getenv("PC_SYNTH_DUMP")) {
            char name[64];
            for (int c = 0; c < 2; c++) {
                snprintf(name, sizeof(name), "synth_yaw%02d_%c.ppm", (int)yaws[yi], 'a' + c);
                FILE *f = fopen(name, "wb");
                if (f) {
                    fprintf(f, "P6\n%d %d\n255\n", s.width, s.height);
                    fwrite(c ? s.img_b : s.img_a, 1, (size_t)s.width * s.height * 3, f);
                    fclose(f);
                }
            }
        }
        free(pa);
        free(pb);
        pc_synth_pair_free(&s);
        pc_synth_pair_free(&s2);
    }
    pc_synth_params bad;
    pc_synth_params_default(&bad);
    bad.width = 2;
    pc_synth_pair s;
    PC_CHECK(pc_synth_pair_make(&s, &bad, &err) == PC_ERR_ARG, "synth rejects a 2-px image");
    return pc_test_finish();
}
