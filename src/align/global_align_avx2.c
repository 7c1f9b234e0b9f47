// 8-lane (AVX2+FMA) build of the global alignment's kernels in global_align_vec.h.
#define PC_VW 8
#define PC_VSUF v8
#include "align/global_align_vec.h"
