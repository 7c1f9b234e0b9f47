// Common internal definitions: status codes, error reporting, small helpers.
// Every fallible function returns pc_status and, on failure, writes a message
// into a caller-supplied pc_error (which may be NULL).
#ifndef PC_CORE_COMMON_H
#define PC_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#include "posecrafter/core.h"

#define PC_ALIGN 64  // cache line / AVX-512 register width in bytes

#define PC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PC_UNUSED __attribute__((unused))
#else
#define PC_PRINTF(f, a)
#define PC_UNUSED
#endif

// Write a formatted message into err (if non-NULL) and return status.
pc_status pc_err(pc_error *err, pc_status status, const char *fmt, ...) PC_PRINTF(3, 4);
// Prepend context ("while loading X: ") to an existing message; returns status.
pc_status pc_err_prefix(pc_error *err, pc_status status, const char *fmt, ...) PC_PRINTF(3, 4);

// Aligned allocation (PC_ALIGN). Returns NULL on failure or size overflow.
void *pc_aligned_alloc(size_t size);
void pc_aligned_free(void *p);

// Checked size arithmetic: return 0 on overflow.
int pc_mul_size(size_t a, size_t b, size_t *out);
int pc_add_size(size_t a, size_t b, size_t *out);

// Monotonic wall clock in seconds.
double pc_time_sec(void);
// Peak resident set size of this process in bytes (0 if unknown).
size_t pc_peak_rss_bytes(void);

#endif
