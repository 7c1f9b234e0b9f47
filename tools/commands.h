// CLI subcommands: one file each (tools/cmd_<name>.c), dispatched by main.c.
#ifndef PC_TOOLS_COMMANDS_H
#define PC_TOOLS_COMMANDS_H

#include <stddef.h>

typedef int (*pc_cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    pc_cmd_fn fn;
    const char *summary;
} pc_command;

int pc_cmd_info(int argc, char **argv);
int pc_cmd_eval(int argc, char **argv);
int pc_cmd_eval_merge(int argc, char **argv);
int pc_cmd_eval_convert(int argc, char **argv);
int pc_cmd_dust3r(int argc, char **argv);
int pc_cmd_mast3r(int argc, char **argv);  // cmd_dust3r.c: the same command with MASt3R's descriptors + matches
int pc_cmd_select(int argc, char **argv);
int pc_cmd_pose(int argc, char **argv);
int pc_cmd_pose_pipeline(int argc, char **argv);  // cmd_pose_pipeline.c (called by pc_cmd_pose)
int pc_cmd_align(int argc, char **argv);
int pc_cmd_interp(int argc, char **argv);
int pc_cmd_devices(int argc, char **argv);

// cli_util.c: 1 when s is a whole number / float in [lo, hi] (then *v is set), else 0.
int pc_cli_parse_long(const char *s, long lo, long hi, long *v);
int pc_cli_parse_double(const char *s, double lo, double hi, double *v);
// "fx,fy,cx,cy" (pixels; fx, fy > 0, all finite) into *K; 0 when malformed.
struct pc_intrinsics;
int pc_cli_parse_K(const char *s, struct pc_intrinsics *K);
// The same as an option callback (cli_opts.h): ctx is the pc_intrinsics to fill.
int pc_cli_opt_K(void *ctx, const char *v);
// "T,V,R" CLIP text, vision and resampler heads (all > 0); ctx is the pc_clip_config to fill.
int pc_cli_opt_clip_heads(void *ctx, const char *v);
// A duration as "42s", "3m07s" or "2h05m09s".
void pc_cli_fmt_time(char *b, size_t n, double s);

#endif
