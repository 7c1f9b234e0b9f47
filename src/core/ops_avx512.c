// 16-lane (AVX-512) build of the row primitives in ops_vec.c.
#define PC_VW 16
#define PC_VSUF v16
#include "ops_vec.c"
