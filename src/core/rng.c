// xoshiro256** (core/rng.h), seeded through splitmix64.
#include "core/rng.h"

void pc_rng_seed(pc_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = pc_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pc_rng_next(pc_rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

uint32_t pc_rng_below(pc_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint64_t m = (uint64_t)(uint32_t)(pc_rng_next(r) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t thr = (uint32_t)(-n) % n;
        while (lo < thr) {
            m = (uint64_t)(uint32_t)(pc_rng_next(r) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double pc_rng_uniform(pc_rng *r) { return (double)(pc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

