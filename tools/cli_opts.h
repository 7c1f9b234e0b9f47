// Table-driven option parsing for the subcommands (in the spirit of git's parse-options): each option is
// declared once, with its type, where its value goes, the range or choices it accepts and its help line;
// the parser, the generated --help and the error messages all come from that table.
//
//     int k = 6; const char *out = NULL; int json = 0;
//     const pc_opt opts[] = {
//         PC_OPT_GROUP("output:"),
//         PC_OPT_STRING('o', "out", &out, "DIR", "evidence folder"),
//         PC_OPT_FLAG(0, "json", &json, "print the pose JSON"),
//         PC_OPT_INT(0, "k", &k, 1, 256, "N", "frames to keep"),
//         PC_OPT_END(),
//     };
//     const char *pos[2]; int npos = 0;
//     int rc = pc_opts_parse(argc, argv, opts, &(pc_opts_cmd){"pose", usage_text, pos, 2, &npos});
//     if (rc >= 0) return rc;   // 0: --help printed; 2: error printed; -1: go on
//
// Values: "--name value", "--name=value", "-o value", "-ovalue"; "--" ends the options. Defaults are the
// destinations' values before parsing; --help shows them. Every bad value gets the same message:
//     posecrafter pose: --k: expected a whole number in [1, 256], got 'x'
#ifndef PC_TOOLS_CLI_OPTS_H
#define PC_TOOLS_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    PC_OPTT_END,
    PC_OPTT_GROUP,     // a heading in --help
    PC_OPTT_FLAG,      // no value: *(int *)dest = value
    PC_OPTT_INT,       // int in [lo, hi] (and a multiple of `value` when value > 1)
    PC_OPTT_U64,       // uint64_t in [lo, hi]
    PC_OPTT_DOUBLE,    // double in [lo, hi]
    PC_OPTT_FLOAT,     // float in [lo, hi]
    PC_OPTT_STRING,    // const char *
    PC_OPTT_STRINGS,   // repeatable: appended to (const char **)dest, at most `value`, count in *count
    PC_OPTT_CHOICE,    // one of choices[]: *(int *)dest = values ? values[i] : i
    PC_OPTT_SIZE,      // "WxH": dest int[2] = {W, H}, each in [lo, hi]
    PC_OPTT_CALLBACK,  // cb(ctx, value) returns 0 when the value is bad (then `expect` names what was wanted)
    PC_OPTT_TEXT,      // a help line of its own (notes between options)
} pc_opt_type;

typedef struct pc_opt {
    pc_opt_type type;
    char short_name;
    const char *name;   // long name without the dashes
    void *dest;
    const char *arg;    // value placeholder in --help ("N", "DIR")
    const char *help;
    double lo, hi;
    int value;          // FLAG: the value stored; INT: multiple of; STRINGS: capacity
    int *count;         // STRINGS: how many so far
    const char *const *choices;  // CHOICE: NULL-terminated names
    const int *values;           // CHOICE: the int stored for each name (NULL: the index)
    int (*cb)(void *ctx, const char *value);
    void *ctx;
    const char *expect;  // CALLBACK: "fx,fy,cx,cy with fx, fy > 0"
    int *seen;           // optional: set to 1 when the option is given
    int no_default;      // 1: --help shows no default for this option
} pc_opt;

#define PC_OPT_END() {PC_OPTT_END, 0, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_GROUP(h) {PC_OPTT_GROUP, 0, NULL, NULL, NULL, (h), 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_TEXT(h) {PC_OPTT_TEXT, 0, NULL, NULL, NULL, (h), 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_FLAG(s, n, d, h) {PC_OPTT_FLAG, (s), (n), (d), NULL, (h), 0, 0, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1}
#define PC_OPT_SET(s, n, d, v, h) {PC_OPTT_FLAG, (s), (n), (d), NULL, (h), 0, 0, (v), NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1}
#define PC_OPT_INT(s, n, d, lo, hi, a, h) {PC_OPTT_INT, (s), (n), (d), (a), (h), (lo), (hi), 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_INT_MULT(s, n, d, lo, hi, m, a, h) {PC_OPTT_INT, (s), (n), (d), (a), (h), (lo), (hi), (m), NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_U64(s, n, d, lo, hi, a, h) {PC_OPTT_U64, (s), (n), (d), (a), (h), (lo), (hi), 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_DOUBLE(s, n, d, lo, hi, a, h) {PC_OPTT_DOUBLE, (s), (n), (d), (a), (h), (lo), (hi), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_FLOAT(s, n, d, lo, hi, a, h) {PC_OPTT_FLOAT, (s), (n), (d), (a), (h), (lo), (hi), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_STRING(s, n, d, a, h) {PC_OPTT_STRING, (s), (n), (d), (a), (h), 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_STRINGS(s, n, d, cnt, cap, a, h) {PC_OPTT_STRINGS, (s), (n), (d), (a), (h), 0, 0, (cap), (cnt), NULL, NULL, NULL, NULL, NULL, NULL, 1}
#define PC_OPT_CHOICE(s, n, d, names, vals, a, h) {PC_OPTT_CHOICE, (s), (n), (d), (a), (h), 0, 0, 0, NULL, (names), (vals), NULL, NULL, NULL, NULL, 0}
#define PC_OPT_SIZE(s, n, d, lo, hi, h) {PC_OPTT_SIZE, (s), (n), (d), "WxH", (h), (lo), (hi), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}
#define PC_OPT_SIZE_SEEN(s, n, d, lo, hi, sn, h) {PC_OPTT_SIZE, (s), (n), (d), "WxH", (h), (lo), (hi), 0, NULL, NULL, NULL, NULL, NULL, NULL, (sn), 1}
#define PC_OPT_CALLBACK(s, n, f, c, a, exp, h) {PC_OPTT_CALLBACK, (s), (n), NULL, (a), (h), 0, 0, 0, NULL, NULL, NULL, (f), (c), (exp), NULL, 1}

typedef struct {
    const char *cmd;       // "pose": messages read "posecrafter pose: ..."
    const char *usage;     // the usage lines and a description, printed before the options in --help
    const char **pos;      // positional arguments, in order
    int max_pos;           // more is an error ("at most N arguments")
    int *npos;
    const char *epilog;    // optional text after the options
} pc_opts_cmd;

// Parse argv[1..argc). Returns -1 when the command should go on, 0 after printing --help (to stdout), 2
// after printing an error (to stderr). A destination keeps its value unless its option is given.
int pc_opts_parse(int argc, char **argv, const pc_opt *opts, const pc_opts_cmd *c);
// The generated help: usage, then every group and option with its placeholder, help line and default.
void pc_opts_help(FILE *f, const pc_opt *opts, const pc_opts_cmd *c);

#endif
