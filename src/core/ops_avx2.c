// 8-lane (AVX2+FMA) build of the row primitives in ops_vec.c.
#define PC_VW 8
#define PC_VSUF v8
#include "ops_vec.c"
