// Table-driven option parsing (cli_opts.h).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"

static int takes_value(const pc_opt *o) {
    return o->type != PC_OPTT_FLAG && o->type != PC_OPTT_GROUP && o->type != PC_OPTT_TEXT && o->type != PC_OPTT_END;
}

static const pc_opt *find_long(const pc_opt *opts, const char *name, size_t len) {
    for (const pc_opt *o = opts; o->type != PC_OPTT_END; o++)
        if (o->name && strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

static const pc_opt *find_short(const pc_opt *opts, char s) {
    for (const pc_opt *o = opts; o->type != PC_OPTT_END; o++)
        if (o->short_name && o->short_name == s) return o;
    return NULL;
}

// "--name" / "-n" as the user would type it, for messages
static void spelled(char *b, size_t n, const pc_opt *o) {
    if (o->name) snprintf(b, n, "--%s", o->name);
    else snprintf(b, n, "-%c", o->short_name);
}

static int parse_whole(const char *s, double lo, double hi, long long *v) {
    char *end;
    errno = 0;
    const long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || (double)x < lo || (double)x > hi) return 0;
    *v = x;
    return 1;
}

static int parse_real(const char *s, double lo, double hi, double *v) {
    char *end;
    const double x = strtod(s, &end);
    if (end == s || *end || !(x >= lo && x <= hi)) return 0;
    *v = x;
    return 1;
}

static void fmt_num(char *b, size_t n, double x) {
    if (x == floor(x) && fabs(x) < 1e15) snprintf(b, n, "%.0f", x);
    else snprintf(b, n, "%g", x);
}

// What a value of this option must look like, for the error message.
static void expected(char *b, size_t n, const pc_opt *o) {
    char lo[32], hi[32];
    fmt_num(lo, sizeof(lo), o->lo);
    fmt_num(hi, sizeof(hi), o->hi);
    switch (o->type) {
    case PC_OPTT_INT:
    case PC_OPTT_U64:
        if (o->value > 1) snprintf(b, n, "a whole number in [%s, %s], a multiple of %d", lo, hi, o->value);
        else snprintf(b, n, "a whole number in [%s, %s]", lo, hi);
        break;
    case PC_OPTT_DOUBLE:
    case PC_OPTT_FLOAT: snprintf(b, n, "a number in [%s, %s]", lo, hi); break;
    case PC_OPTT_SIZE: snprintf(b, n, "WxH with W and H in [%s, %s]", lo, hi); break;
    case PC_OPTT_CHOICE: {
        size_t k = (size_t)snprintf(b, n, "one of");
        for (int i = 0; o->choices[i] && k < n; i++)
            k += (size_t)snprintf(b + k, n - k, "%s %s", i ? "," : "", o->choices[i]);
        break;
    }
    case PC_OPTT_CALLBACK: snprintf(b, n, "%s", o->expect ? o->expect : "a valid value"); break;
    default: snprintf(b, n, "a value"); break;
    }
}

// Store the value; 0 when it is not acceptable.
static int apply(const pc_opt *o, const char *v) {
    long long x;
    double d;
    switch (o->type) {
    case PC_OPTT_INT:
        if (!parse_whole(v, o->lo, o->hi, &x) || (o->value > 1 && x % o->value)) return 0;
        *(int *)o->dest = (int)x;
        return 1;
    case PC_OPTT_U64:
        if (!parse_whole(v, o->lo, o->hi, &x)) return 0;
        *(uint64_t *)o->dest = (uint64_t)x;
        return 1;
    case PC_OPTT_DOUBLE:
        if (!parse_real(v, o->lo, o->hi, &d)) return 0;
        *(double *)o->dest = d;
        return 1;
    case PC_OPTT_FLOAT:
        if (!parse_real(v, o->lo, o->hi, &d)) return 0;
        *(float *)o->dest = (float)d;
        return 1;
    case PC_OPTT_STRING: *(const char **)o->dest = v; return 1;
    case PC_OPTT_STRINGS:
        if (*o->count >= o->value) return 0;
        ((const char **)o->dest)[(*o->count)++] = v;
        return 1;
    case PC_OPTT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(v, o->choices[i])) {
                *(int *)o->dest = o->values ? o->values[i] : i;
                return 1;
            }
        return 0;
    case PC_OPTT_SIZE: {
        char *e1, *e2;
        errno = 0;
        const long w = strtol(v, &e1, 10);
        if (e1 == v || *e1 != 'x') return 0;
        const long h = strtol(e1 + 1, &e2, 10);
        if (errno || e2 == e1 + 1 || *e2 || w < o->lo || w > o->hi || h < o->lo || h > o->hi) return 0;
        ((int *)o->dest)[0] = (int)w, ((int *)o->dest)[1] = (int)h;
        return 1;
    }
    case PC_OPTT_CALLBACK: return o->cb(o->ctx, v);
    default: return 0;
    }
}

// The default shown in --help: the destination's value before parsing.
static int default_text(char *b, size_t n, const pc_opt *o) {
    if (o->no_default || !o->dest) return 0;
    switch (o->type) {
    case PC_OPTT_INT: snprintf(b, n, "%d", *(const int *)o->dest); return 1;
    case PC_OPTT_U64: snprintf(b, n, "%llu", (unsigned long long)*(const uint64_t *)o->dest); return 1;
    case PC_OPTT_DOUBLE: fmt_num(b, n, *(const double *)o->dest); return 1;
    case PC_OPTT_FLOAT: fmt_num(b, n, *(const float *)o->dest); return 1;
    case PC_OPTT_STRING: {
        const char *s = *(const char *const *)o->dest;
        if (!s) return 0;
        snprintf(b, n, "%s%s%s", *s ? "" : "\"", s, *s ? "" : "\"");
        return 1;
    }
    case PC_OPTT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if ((o->values ? o->values[i] : i) == *(const int *)o->dest) {
                snprintf(b, n, "%s", o->choices[i]);
                return 1;
            }
        return 0;
    case PC_OPTT_SIZE: snprintf(b, n, "%dx%d", ((const int *)o->dest)[0], ((const int *)o->dest)[1]); return 1;
    default: return 0;
    }
}

void pc_opts_help(FILE *f, const pc_opt *opts, const pc_opts_cmd *c) {
    if (c->usage) fputs(c->usage, f);
    for (const pc_opt *o = opts; o->type != PC_OPTT_END; o++) {
        if (o->type == PC_OPTT_GROUP) {
            fprintf(f, "%s\n", o->help);
            continue;
        }
        if (o->type == PC_OPTT_TEXT) {
            fprintf(f, "                      %s\n", o->help);
            continue;
        }
        char head[96], def[64];
        int k = 0;
        if (o->short_name && o->name) k = snprintf(head, sizeof(head), "  -%c, --%s", o->short_name, o->name);
        else if (o->short_name) k = snprintf(head, sizeof(head), "  -%c", o->short_name);
        else k = snprintf(head, sizeof(head), "  --%s", o->name);
        if (takes_value(o) && o->arg && k < (int)sizeof(head)) snprintf(head + k, sizeof(head) - (size_t)k, " %s", o->arg);
        const int has_def = default_text(def, sizeof(def), o);
        // help text: one or more lines separated by '\n'; the default goes at the end of the last one
        if (strlen(head) < 22) fprintf(f, "%-22s", head);
        else fprintf(f, "%s\n%22s", head, "");
        const char *h = o->help ? o->help : "";
        for (;;) {
            const char *nl = strchr(h, '\n');
            const int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(f, "%.*s", len, h);
            if (!nl) break;
            fprintf(f, "\n%22s", "");
            h = nl + 1;
        }
        if (has_def) fprintf(f, "%s(default %s)", *h ? " " : "", def);
        fputc('\n', f);
    }
    if (c->epilog) fputs(c->epilog, f);
}

int pc_opts_parse(int argc, char **argv, const pc_opt *opts, const pc_opts_cmd *c) {
    // --help wins wherever it stands (before "--"), and shows the defaults untouched by other options
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            pc_opts_help(stdout, opts, c);
            return 0;
        }
    }
    int only_pos = 0;
    if (c->npos) *c->npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const pc_opt *o = NULL;
        const char *val = NULL;
        char name[96];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            const size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            o = find_long(opts, a + 2, len);
            if (!o) {
                fprintf(stderr, "posecrafter %s: unknown option '%.*s' (see posecrafter %s --help)\n", c->cmd,
                        (int)(len + 2), a, c->cmd);
                return 2;
            }
            if (eq) {
                if (!takes_value(o)) {
                    fprintf(stderr, "posecrafter %s: --%s takes no value\n", c->cmd, o->name);
                    return 2;
                }
                val = eq + 1;
            }
        } else if (!only_pos && a[0] == '-' && a[1]) {
            o = find_short(opts, a[1]);
            if (!o) {
                fprintf(stderr, "posecrafter %s: unknown option '%s' (see posecrafter %s --help)\n", c->cmd, a, c->cmd);
                return 2;
            }
            if (a[2]) {
                if (!takes_value(o)) {
                    fprintf(stderr, "posecrafter %s: unknown option '%s' (see posecrafter %s --help)\n", c->cmd, a,
                            c->cmd);
                    return 2;
                }
                val = a + 2;
            }
        } else {
            if (!c->npos || *c->npos >= c->max_pos) {
                fprintf(stderr, "posecrafter %s: unexpected argument '%s' (%s; see posecrafter %s --help)\n", c->cmd,
                        a, c->max_pos ? "too many" : "this command takes options only", c->cmd);
                return 2;
            }
            c->pos[(*c->npos)++] = a;
            continue;
        }
        spelled(name, sizeof(name), o);
        if (o->seen) *o->seen = 1;
        if (!takes_value(o)) {
            *(int *)o->dest = o->value;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                char want[256];
                expected(want, sizeof(want), o);
                fprintf(stderr, "posecrafter %s: %s needs a value (%s)\n", c->cmd, name, want);
                return 2;
            }
            val = argv[++i];
        }
        if (!apply(o, val)) {
            char want[256];
            if (o->type == PC_OPTT_STRINGS) {
                fprintf(stderr, "posecrafter %s: %s: at most %d values\n", c->cmd, name, o->value);
                return 2;
            }
            expected(want, sizeof(want), o);
            fprintf(stderr, "posecrafter %s: %s: expected %s, got '%s'\n", c->cmd, name, want, val);
            return 2;
        }
    }
    return -1;
}
