// Packing template (see gemm_internal.h for the layout). Included once by each
// ISA file with GP_MR, GP_NR, GP_NAME(x) and GP_F16(h) (half -> float) defined,
// so that each copy is compiled with that file's instruction set.
// Generic over dtype and trans; the hottest F32 cases may be overridden by the
// including file with hand-written SIMD.
#include <string.h>

static inline float GP_NAME(bf16)(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Copy n elements of one dtype (contiguous) into float dst with stride ds.
#define GP_ROW_LOOP(dst, ds, src, n, dtype)                                                  \
    do {                                                                                     \
        if ((dtype) == PC_F32) {                                                             \
            const float *s_ = (const float *)(src);                                          \
            for (int64_t t_ = 0; t_ < (n); t_++) (dst)[t_ * (ds)] = s_[t_];                  \
        } else if ((dtype) == PC_BF16) {                                                     \
            const uint16_t *s_ = (const uint16_t *)(src);                                    \
            for (int64_t t_ = 0; t_ < (n); t_++) (dst)[t_ * (ds)] = GP_NAME(bf16)(s_[t_]);   \
        } else {                                                                             \
            const uint16_t *s_ = (const uint16_t *)(src);                                    \
            for (int64_t t_ = 0; t_ < (n); t_++) (dst)[t_ * (ds)] = GP_F16(s_[t_]);          \
        }                                                                                    \
    } while (0)

static inline const char *GP_NAME(at)(const pc_mat *m, int64_t off) {
    return (const char *)m->data + (size_t)off * (m->dtype == PC_F32 ? 4u : 2u);
}

// Pack rows [m0, m0+mb) x cols [k0, k0+kc) of op(A).
PC_UNUSED static void GP_NAME(pack_a_generic)(float *dst, const pc_mat *A, int64_t m0, int64_t mb, int64_t k0, int64_t kc) {
    for (int64_t i0 = 0; i0 < mb; i0 += GP_MR) {
        float *d = dst + i0 * kc;  // panel (i0 / MR) starts at i0*kc
        int64_t rows = PC_MIN((int64_t)GP_MR, mb - i0);
        if (!A->trans) {  // op(A)(i, k) = A[i*ld + k]: gather MR rows, write k-major
            for (int64_t r = 0; r < rows; r++)
                GP_ROW_LOOP(d + r, GP_MR, GP_NAME(at)(A, (m0 + i0 + r) * A->ld + k0), kc, A->dtype);
            for (int64_t r = rows; r < GP_MR; r++)
                for (int64_t k = 0; k < kc; k++) d[k * GP_MR + r] = 0.0f;
        } else {  // op(A)(i, k) = A[k*ld + i]: rows are contiguous per k
            for (int64_t k = 0; k < kc; k++) {
                float *dk = d + k * GP_MR;
                GP_ROW_LOOP(dk, 1, GP_NAME(at)(A, (k0 + k) * A->ld + m0 + i0), rows, A->dtype);
                for (int64_t r = rows; r < GP_MR; r++) dk[r] = 0.0f;
            }
        }
    }
}

// Pack rows [k0, k0+kc) x cols [n0, n0+nb) of op(B).
PC_UNUSED static void GP_NAME(pack_b_generic)(float *dst, const pc_mat *B, int64_t k0, int64_t kc, int64_t n0, int64_t nb) {
    for (int64_t j0 = 0; j0 < nb; j0 += GP_NR) {
        float *d = dst + j0 * kc;
        int64_t cols = PC_MIN((int64_t)GP_NR, nb - j0);
        if (!B->trans) {  // op(B)(k, j) = B[k*ld + j]: contiguous NR-wide rows
            for (int64_t k = 0; k < kc; k++) {
                float *dk = d + k * GP_NR;
                GP_ROW_LOOP(dk, 1, GP_NAME(at)(B, (k0 + k) * B->ld + n0 + j0), cols, B->dtype);
                for (int64_t c = cols; c < GP_NR; c++) dk[c] = 0.0f;
            }
        } else {  // op(B)(k, j) = B[j*ld + k]: transpose NR rows of length kc
            for (int64_t c = 0; c < cols; c++)
                GP_ROW_LOOP(d + c, GP_NR, GP_NAME(at)(B, (n0 + j0 + c) * B->ld + k0), kc, B->dtype);
            for (int64_t c = cols; c < GP_NR; c++)
                for (int64_t k = 0; k < kc; k++) d[k * GP_NR + c] = 0.0f;
        }
    }
}
