// posecrafter info FILE [--list] [--full]: what a checkpoint holds.
#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"

static const char usage_text[] =
    "usage: posecrafter info FILE [--list] [--full]\n\n"
    "Lists a checkpoint's format (safetensors, torch zip, legacy torch), tensor count, parameter count,\n"
    "dtypes and stored metadata / args. The format is detected from the content.\n\n";

static void print_shape(const pc_tensor *t) {
    printf("(");
    for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
    printf(t->ndim == 1 ? ",)" : ")");
}

int pc_cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int list = 0, full = 0;
    const pc_opt opts[] = {
        PC_OPT_FLAG(0, "list", &list, "print every tensor with its dtype and shape"),
        PC_OPT_FLAG(0, "full", &full, "print metadata values in full (default: first 160 characters)"),
        PC_OPT_END(),
    };
    int npos = 0;
    const pc_opts_cmd cmd = {"info", usage_text, &path, 1, &npos, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    if (!path) {
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    pc_checkpoint *ck;
    pc_error err;
    double t0 = pc_time_sec();
    pc_status st = pc_checkpoint_open(&ck, path, &err);
    if (st != PC_OK) {
        fprintf(stderr, "posecrafter info: %s: %s\n", pc_status_str(st), err.msg);
        return 1;
    }
    double t_open = pc_time_sec() - t0;
    size_t n = pc_checkpoint_count(ck);
    int64_t params = 0, bytes = 0;
    int64_t cnt[PC_DTYPE_COUNT] = {0}, num[PC_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const pc_tensor *t = pc_checkpoint_tensor(ck, i);
        int64_t ne = pc_tensor_numel(t);
        params += ne;
        bytes += ne * (int64_t)pc_dtype_size(t->dtype);
        cnt[t->dtype]++;
        num[t->dtype] += ne;
    }
    printf("file:       %s\n", path);
    printf("format:     %s (opened in %.1f ms)\n", pc_checkpoint_format(ck), 1e3 * t_open);
    printf("tensors:    %zu\n", n);
    printf("parameters: %lld (%.2f M, %.1f MB of tensor data)\n", (long long)params, (double)params / 1e6,
           (double)bytes / 1e6);
    printf("dtypes:    ");
    for (int d = 0; d < PC_DTYPE_COUNT; d++)
        if (cnt[d])
            printf(" %s: %lld tensors / %lld values;", pc_dtype_name((pc_dtype)d), (long long)cnt[d],
                   (long long)num[d]);
    printf("\n");
    const char *model = pc_checkpoint_model_args(ck);
    if (model) printf("args.model: %s\n", model);
    size_t nm = pc_checkpoint_meta_count(ck);
    if (nm) {
        printf("metadata (%zu):\n", nm);
        for (size_t i = 0; i < nm; i++) {
            const char *v = pc_checkpoint_meta_value(ck, i);
            size_t len = strlen(v);
            if (!full && len > 160)
                printf("  %s = %.160s... (%zu chars)\n", pc_checkpoint_meta_key(ck, i), v, len);
            else
                printf("  %s = %s\n", pc_checkpoint_meta_key(ck, i), v);
        }
    }
    if (list) {
        printf("tensors:\n");
        for (size_t i = 0; i < n; i++) {
            const pc_tensor *t = pc_checkpoint_tensor(ck, i);
            printf("  %-60s %-5s ", pc_checkpoint_name(ck, i), pc_dtype_name(t->dtype));
            print_shape(t);
            if (!pc_tensor_is_contiguous(t)) printf(" strided");
            printf("\n");
        }
    }
    pc_checkpoint_close(ck);
    return 0;
}
