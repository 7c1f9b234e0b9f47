// posecrafter — command-line entry point. Each subcommand lives in its own
// file; this table is the only place that lists them.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "posecrafter.h"

static const pc_command commands[] = {
    {"info", pc_cmd_info, "list the tensors, dtypes and stored args of a checkpoint"},
    {"dust3r", pc_cmd_dust3r, "DUSt3R pointmaps + confidences for an image pair (npy, ply, png)"},
    {"mast3r", pc_cmd_mast3r, "MASt3R pointmaps, dense descriptors and reciprocal matches for a pair"},
    {"select", pc_cmd_select, "Feature Matching Selector: rank frames by ORB+RANSAC inliers to A and B"},
    {"pose", pc_cmd_pose, "relative pose of two photos: PoseCrafter pipeline (--classical: ORB + 5-point)"},
    {"align", pc_cmd_align, "DUSt3R global alignment of N views: cameras.json, COLMAP text, PLY"},
    {"interp", pc_cmd_interp, "DynamiCrafter-512 interpolation: 16 video frames between photos A and B"},
    {"eval", pc_cmd_eval, "evaluate a pose method on a pair list: resumable, sharded, paper-style table"},
    {"eval-merge", pc_cmd_eval_merge, "join eval result files (shards), check duplicates/missing, print the table"},
    {"eval-convert", pc_cmd_eval_convert, "turn a Cambridge/ScanNet/DL3DV/NAVI folder into an eval pair manifest"},
    {"devices", pc_cmd_devices, "CPU features and CUDA GPUs this build can use"},
};

static void usage(FILE *f) {
    fprintf(f, "posecrafter %s — relative camera pose from two photos (PoseCrafter in C)\n\n", POSECRAFTER_VERSION);
    fprintf(f, "usage: posecrafter <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'posecrafter <command> --help' describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("posecrafter %s\n", POSECRAFTER_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "posecrafter: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
