// tests/test_dust3r_cuda.c's golden check run WITHOUT a GPU, on the emulated device backend
// (pc_dust3r_set_device(net, "emu"); src/nn/backend_device.c over src/nn/device_emu.c). The emulated
// device runs the cuda backend's host code unchanged over CPU twins of the CUDA kernels: buffers in their
// device dtypes (bf16 really is 16 bits) in an arena of its own, rounded where the kernels round (GEMM
// outputs, LayerNorm / GELU / RoPE outputs, uploads, the attention probabilities before P·V). So it checks
// what the GPU path does apart from the kernels' own code: weight placement, the dry-run arena plan, dtype
// conversions, the q/k/v views and strides, RoPE grid positions, residual accumulation, downloads and
// traces - and it measures the error that the GPU's bf16 arithmetic causes against the golden dump.
// tests/test_cuda.c compares the real kernels with their CPU twins on a GPU.
// PC_DUST3R_CUDA_EMU_VITL=1 also runs the ViT-L-size comparison with the CPU path (minutes, ~4 GB of RAM).
#define PC_DUST3R_DEVICE "emu"
#define PC_DUST3R_CUDA_EMU_BUILD 1

#include "test_dust3r_cuda.c"
