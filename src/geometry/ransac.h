// LO-RANSAC over a small estimator interface (PoseLib robust/ransac_impl.h
// shape): MSAC scoring, local optimisation by least-squares refits on the
// inliers of each new best model (with an inner non-minimal sampling step,
// Chum et al., "Locally optimized RANSAC", DAGM 2003), adaptive iteration
// count, and the project's seeded PRNG (core/rng.h).
#ifndef PC_GEOMETRY_RANSAC_H
#define PC_GEOMETRY_RANSAC_H

#include <stdint.h>

#include "core/rng.h"
#include "posecrafter/geometry.h"

#define PC_RANSAC_MAX_MODELS 10
#define PC_RANSAC_MAX_MODEL 16   // doubles per model
#define PC_RANSAC_MAX_SAMPLE 8

typedef struct pc_ransac_problem {
    int n;            // number of data points
    int sample_size;  // minimal sample size (<= PC_RANSAC_MAX_SAMPLE)
    int model_size;   // doubles per model (<= PC_RANSAC_MAX_MODEL)
    int refit_min;    // fewest points the refit accepts
    void *ctx;
    // Models from the minimal sample (indices into the data). Returns count (<= PC_RANSAC_MAX_MODELS).
    int (*solve_minimal)(void *ctx, const int *sample, double *models);
    // Squared residual of point i under the model.
    double (*residual_sq)(void *ctx, const double *model, int i);
    // Non-minimal least-squares fit on the points idx[0..n_idx); model_in is
    // the current model (may be used as a starting point). Returns 1 on success.
    int (*refit)(void *ctx, const int *idx, int n_idx, const double *model_in, double *model_out);
    // Optional degeneracy test of a minimal sample (NULL: every sample is fine).
    int (*sample_ok)(void *ctx, const int *sample);
} pc_ransac_problem;

typedef struct pc_ransac_result {
    int n_inliers;
    int iters;      // sampling iterations
    int n_lo;       // local optimisations run
    double score;   // MSAC cost of the best model (sum of min(r^2, thr^2))
} pc_ransac_result;

// Run LO-RANSAC. thr_sq: inlier threshold on residual_sq. opt supplies
// confidence, max/min iterations, lo_iters and seed (its threshold field is
// not read here). best_model (model_size) and mask (n, may be NULL) get the
// result. Returns 1 when a model with >= sample_size inliers was found, else 0
// (mask zeroed, res->n_inliers = 0). Uses a scratch buffer of n ints (malloc,
// once per call); returns -1 when that allocation fails.
int pc_ransac_run(const pc_ransac_problem *p, const pc_ransac_options *opt, double thr_sq, double *best_model,
                  uint8_t *mask, pc_ransac_result *res);

#endif
