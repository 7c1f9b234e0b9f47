// Small helpers shared by the subcommands: bounded number parsing and durations for progress lines.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"

int pc_cli_parse_long(const char *s, long lo, long hi, long *v) {
    char *end;
    errno = 0;
    const long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

int pc_cli_parse_double(const char *s, double lo, double hi, double *v) {
    char *end;
    const double x = strtod(s, &end);
    if (end == s || *end || !(x >= lo && x <= hi)) return 0;
    *v = x;
    return 1;
}

void pc_cli_fmt_time(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) s = 0;
    const long v = (long)(s + 0.5);
    if (v >= 3600)
        snprintf(b, n, "%ldh%02ldm%02lds", v / 3600, (v / 60) % 60, v % 60);
    else if (v >= 60)
        snprintf(b, n, "%ldm%02lds", v / 60, v % 60);
    else
        snprintf(b, n, "%lds", v);
}
