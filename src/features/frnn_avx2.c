// 8-lane (AVX2+FMA) build of the NN scan in frnn_vec.c.
#define PC_VW 8
#define PC_VSUF v8
#include "frnn_vec.c"
