// 16-lane (AVX-512) build of the global alignment's kernels in global_align_vec.h.
#define PC_VW 16
#define PC_VSUF v16
#include "align/global_align_vec.h"
