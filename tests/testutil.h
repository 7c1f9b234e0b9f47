// Small test harness shared by tests/test_*.c.
//
// Each test program runs its checks, prints one line per check with the worst
// error against its tolerance, and returns pc_test_finish(): 0 if every check
// passed, 1 otherwise. Golden data is read in place from ../shared (or
// $PC_SHARED_DIR); when missing, the test is skipped (exit 77) locally but
// FAILS under CI (CI=true), as the project requires.
#ifndef PC_TESTUTIL_H
#define PC_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

#include "core/rng.h"
#include "posecrafter.h"

// Path of the shared folder (no trailing slash).
const char *pc_test_shared_dir(void);
// Fill out with <shared>/<rel>. If the file is missing: exit(77) (skip) when
// not under CI, otherwise report a failure and exit(1).
void pc_test_shared_path(char *out, size_t n, const char *rel);

// Record a check. Prints "ok"/"FAIL" with the message.
void pc_test_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define PC_CHECK(cond, ...) pc_test_check(!!(cond), __VA_ARGS__)
// Abort the test program with a failure (for setup errors).
void pc_test_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
// Check that a pc_status is PC_OK; on failure prints err->msg and aborts.
void pc_test_ok(pc_status st, const pc_error *err, const char *what);

// Compare float arrays: passes when |got - want| <= atol + rtol*|want| everywhere.
// Prints the worst element (index, got, want), the max abs error and the
// normwise relative error max|d| / max|want|. Returns 1 when it passes.
int pc_test_close(const char *name, const float *got, const float *want, size_t n, double atol, double rtol);
int pc_test_close_f64(const char *name, const double *got, const double *want, size_t n, double atol, double rtol);

// Deterministic PRNG for test inputs: the project's splitmix64 (core/rng.h).
typedef struct { uint64_t s; } pc_test_rng;
static inline uint64_t pc_test_next(pc_test_rng *r) { return pc_splitmix64(&r->s); }
// Uniform in [-1, 1).
static inline float pc_test_uniform(pc_test_rng *r) {
    return (float)((double)(pc_test_next(r) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
void pc_test_fill(pc_test_rng *r, float *x, size_t n, float scale);

// The golden tensor `name` of g; a missing one aborts the test naming it.
const pc_tensor *pc_test_need(const pc_checkpoint *g, const char *name);
// A golden (1, 3, H, W) uint8 image as DUSt3R / MASt3R's float input: ((u8 / 255) - 0.5) / 0.5 in float32,
// one rounding per op (torchvision ToTensor + Normalize). out is allocated (free it with pc_tensor_free).
void pc_test_dust3r_input(pc_tensor *out, const pc_tensor *u8);

// Summary line and exit code.
int pc_test_finish(void);

#endif
