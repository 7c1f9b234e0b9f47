// Reference GEMM (double accumulation): what tests compare the blocked SIMD
// pc_gemm in gemm.c against. Kept tiny and obviously correct.
#include "core/gemm.h"

static inline double load_el(const pc_mat *m, int64_t r, int64_t c) {
    // element (r, c) of op(m)
    int64_t idx = m->trans ? c * m->ld + r : r * m->ld + c;
    switch (m->dtype) {
    case PC_F16: return pc_f16_to_f32(((const uint16_t *)m->data)[idx]);
    case PC_BF16: return pc_bf16_to_f32(((const uint16_t *)m->data)[idx]);
    default: return ((const float *)m->data)[idx];
    }
}

void pc_gemm_ref(float *C, int64_t ldc, pc_mat A, pc_mat B, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                 const float *bias) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += load_el(&A, i, k) * load_el(&B, k, j);
            double v = alpha * acc;
            if (beta != 0.0f) v += (double)beta * C[i * ldc + j];
            if (bias) v += bias[j];
            C[i * ldc + j] = (float)v;
        }
}
