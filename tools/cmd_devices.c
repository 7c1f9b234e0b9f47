// posecrafter devices: what this build can compute on — the CPU's SIMD
// features (and which GEMM micro-kernel they select) and the CUDA GPUs.
#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/cpu.h"
#include "core/gemm.h"
#include "posecrafter.h"

static const char usage_text[] =
    "usage: posecrafter devices\n\n"
    "Prints the CPU features the kernels dispatch on, the measured fp32 multiply-add peak of one\n"
    "core for the vector unit the GEMM uses (AVX-512, AVX2+FMA or SSE2: the denominator of every\n"
    "% of peak figure), and every CUDA GPU (name, compute capability, multiprocessors, memory), or\n"
    "why there is none: 'built without CUDA' or 'no CUDA device: ...'.\n"
    "Exit status 0 in every case; 2 on a bad option.\n";

int pc_cmd_devices(int argc, char **argv) {
    const pc_opt opts[] = {PC_OPT_END()};
    const pc_opts_cmd cmd = {"devices", usage_text, NULL, 0, NULL, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    const char *feat = pc_cpu_features();
    printf("cpu: %s (gemm: %s)\n", feat && *feat ? feat : "baseline x86-64", pc_gemm_isa());
    pc_cpu_peak pk = pc_cpu_fma_peak(0.1);
    printf("cpu peak: %.1f GFLOP/s fp32 per core (%s, %d lanes; measured, register-only multiply-add loop)\n",
           pk.gflops, pk.isa, pk.lanes);
    printf("cuda build: %s\n", pc_cuda_build_info());
    pc_error err;
    int n = 0;
    if (pc_cuda_probe(&n, &err) != PC_OK) {
        printf("gpu: %s\n", err.msg);
        return 0;
    }
    for (int d = 0; d < n; d++) {
        pc_cuda_props p;
        if (pc_cuda_device_info(&p, d, &err) != PC_OK) {
            printf("gpu %d: %s\n", d, err.msg);
            continue;
        }
        printf("gpu %d: %s, compute capability %d.%d, %d SMs, %.1f GiB (%.1f GiB free), L2 %.0f MiB, "
               "smem/block %zu KiB, driver %d.%d, runtime %d.%d\n",
               d, p.name, p.cc_major, p.cc_minor, p.sm_count, (double)p.total_bytes / (1 << 30),
               (double)p.free_bytes / (1 << 30), (double)p.l2_bytes / (1 << 20), p.smem_per_block_optin / 1024,
               p.driver_version / 1000, p.driver_version % 1000 / 10, p.runtime_version / 1000,
               p.runtime_version % 1000 / 10);
    }
    return 0;
}
