// 8-lane (AVX2+FMA) build of the peak loop in cpu_peak_vec.c.
#define PC_VW 8
#define PC_VSUF v8
#include "cpu_peak_vec.c"
