// 16-lane (AVX-512) build of the NN scan in frnn_vec.c.
#define PC_VW 16
#define PC_VSUF v16
#include "frnn_vec.c"
