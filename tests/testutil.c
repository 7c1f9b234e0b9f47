#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int g_pass, g_fail;

const char *pc_test_shared_dir(void) {
    const char *e = getenv("PC_SHARED_DIR");
    return (e && *e) ? e : PC_SHARED_DIR_DEFAULT;
}

static int under_ci(void) {
    const char *ci = getenv("CI");
    return ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}

void pc_test_shared_path(char *out, size_t n, const char *rel) {
    snprintf(out, n, "%s/%s", pc_test_shared_dir(), rel);
    struct stat sb;
    if (stat(out, &sb) == 0) return;
    if (under_ci()) {
        fprintf(stderr, "FAIL: required shared data missing: %s (CI must have ../shared)\n", out);
        exit(1);
    }
    fprintf(stderr, "SKIP: shared data missing: %s\n", out);
    exit(77);
}

void pc_test_check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "  ok  " : "  FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (ok)
        g_pass++;
    else
        g_fail++;
}

void pc_test_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  FATAL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(1);
}

void pc_test_ok(pc_status st, const pc_error *err, const char *what) {
    if (st != PC_OK) pc_test_fatal("%s: %s: %s", what, pc_status_str(st), err ? err->msg : "");
}

static int close_impl(const char *name, const float *gf, const float *wf, const double *gd, const double *wd, size_t n,
                      double atol, double rtol) {
    double max_abs = 0, max_want = 0, worst_excess = -1;
    size_t worst = 0;
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = gf ? gf[i] : gd[i];
        double w = wf ? wf[i] : wd[i];
        double d = fabs(g - w);
        if (!(d == d)) d = INFINITY;  // NaN counts as infinitely wrong
        double excess = d - (atol + rtol * fabs(w));
        if (excess > 0) nbad++;
        if (d > max_abs) max_abs = d;
        if (fabs(w) > max_want) max_want = fabs(w);
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    int ok = nbad == 0 && n > 0;
    double gw = n ? (gf ? gf[worst] : gd[worst]) : 0, ww = n ? (wf ? wf[worst] : wd[worst]) : 0;
    pc_test_check(ok, "%-32s n=%zu max_abs=%.3g normwise_rel=%.3g worst[%zu]: got %.7g want %.7g (atol %.1g rtol %.1g)%s",
                  name, n, max_abs, max_want > 0 ? max_abs / max_want : max_abs, worst, gw, ww, atol, rtol,
                  nbad ? " <- out of tolerance" : "");
    if (nbad) printf("         %zu of %zu elements out of tolerance\n", nbad, n);
    return ok;
}

int pc_test_close(const char *name, const float *got, const float *want, size_t n, double atol, double rtol) {
    return close_impl(name, got, want, NULL, NULL, n, atol, rtol);
}

int pc_test_close_f64(const char *name, const double *got, const double *want, size_t n, double atol, double rtol) {
    return close_impl(name, NULL, NULL, got, want, n, atol, rtol);
}

void pc_test_fill(pc_test_rng *r, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * pc_test_uniform(r);
}

const pc_tensor *pc_test_need(const pc_checkpoint *g, const char *name) {
    const pc_tensor *t = pc_checkpoint_find(g, name);
    if (!t) pc_test_fatal("golden tensor '%s' missing", name);
    return t;
}

void pc_test_dust3r_input(pc_tensor *out, const pc_tensor *u8) {
    pc_error err;
    if (u8->dtype != PC_U8) pc_test_fatal("pc_test_dust3r_input: expected a uint8 tensor");
    pc_test_ok(pc_tensor_alloc(out, PC_F32, u8->ndim, u8->shape, &err), &err, "alloc image");
    const uint8_t *s = (const uint8_t *)u8->data;
    float *d = (float *)out->data;
    for (int64_t i = 0; i < pc_tensor_numel(u8); i++) {
        float a = (float)s[i] / 255.0f;
        a = a - 0.5f;
        d[i] = a / 0.5f;
    }
}

int pc_test_finish(void) {
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
