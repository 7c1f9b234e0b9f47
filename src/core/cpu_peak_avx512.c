// 16-lane (AVX-512) build of the peak loop in cpu_peak_vec.c.
#define PC_VW 16
#define PC_VSUF v16
#include "cpu_peak_vec.c"
