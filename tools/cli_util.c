// Small helpers shared by the subcommands: bounded number parsing and durations for progress lines.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "posecrafter.h"

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

int pc_cli_parse_K(const char *s, pc_intrinsics *K) {
    double v[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p) return 0;
        if (i < 3 && *end != ',') return 0;
        if (i == 3 && *end) return 0;
        p = end + 1;
    }
    if (!(v[0] > 0) || !(v[1] > 0) || v[0] > 1e7 || v[1] > 1e7 || !(v[2] == v[2]) || !(v[3] == v[3]) ||
        v[2] < -1e7 || v[2] > 1e7 || v[3] < -1e7 || v[3] > 1e7)
        return 0;
    K->fx = v[0];
    K->fy = v[1];
    K->cx = v[2];
    K->cy = v[3];
    return 1;
}

int pc_cli_opt_K(void *ctx, const char *v) { return pc_cli_parse_K(v, (pc_intrinsics *)ctx); }

int pc_cli_opt_clip_heads(void *ctx, const char *v) {
    int ch[3];
    char tail;
    if (sscanf(v, "%d,%d,%d%c", &ch[0], &ch[1], &ch[2], &tail) != 3 || ch[0] <= 0 || ch[1] <= 0 || ch[2] <= 0) return 0;
    pc_clip_config *c = (pc_clip_config *)ctx;
    c->text_heads = ch[0], c->vision_heads = ch[1], c->resampler_heads = ch[2];
    return 1;
}
