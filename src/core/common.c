#define _GNU_SOURCE
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

pc_status pc_err(pc_error *err, pc_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return status;
}

pc_status pc_err_prefix(pc_error *err, pc_status status, const char *fmt, ...) {
    if (err) {
        char prefix[512];
        char old[sizeof(err->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        old[sizeof(old) - 1] = 0;
        size_t lp = strnlen(prefix, sizeof(prefix));
        if (lp >= sizeof(err->msg)) lp = sizeof(err->msg) - 1;
        memcpy(err->msg, prefix, lp);
        size_t lo = strnlen(old, sizeof(old));
        if (lo > sizeof(err->msg) - 1 - lp) lo = sizeof(err->msg) - 1 - lp;
        memcpy(err->msg + lp, old, lo);
        err->msg[lp + lo] = 0;
    }
    return status;
}

const char *pc_status_str(pc_status s) {
    switch (s) {
    case PC_OK: return "ok";
    case PC_ERR_IO: return "I/O error";
    case PC_ERR_FORMAT: return "bad file format";
    case PC_ERR_SHAPE: return "shape mismatch";
    case PC_ERR_MEMORY: return "out of memory";
    case PC_ERR_ARG: return "invalid argument";
    case PC_ERR_UNSUPPORTED: return "unsupported";
    case PC_ERR_NUMERIC: return "numerical failure";
    case PC_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

void *pc_aligned_alloc(size_t size) {
    if (size == 0) size = PC_ALIGN;
    size_t rounded;
    if (!pc_add_size(size, PC_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(PC_ALIGN - 1);
    return aligned_alloc(PC_ALIGN, rounded);
}

void pc_aligned_free(void *p) { free(p); }

int pc_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int pc_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

double pc_time_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t pc_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;  // Linux reports KiB
}
