// The project's one seeded PRNG: splitmix64 (Steele, Lea & Flood, 2014), and xoshiro256** (Blackman &
// Vigna) seeded through it for the samplers. Every random stream (RANSAC and PnP sampling, SCS subsets,
// random-weight models, the diffusion noise's uniforms, synthetic scenes) draws from here.
#ifndef PC_CORE_RNG_H
#define PC_CORE_RNG_H

#include <stdint.h>

// splitmix64's finaliser: a bijective 64-bit mix (also a hash of one value).
static inline uint64_t pc_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Next number of the stream whose state is *s (advanced by the golden-ratio increment).
static inline uint64_t pc_splitmix64(uint64_t *s) { return pc_mix64(*s += 0x9E3779B97F4A7C15ull); }

// Uniform in [0, 1) with 53 random bits.
static inline double pc_rng_unit(uint64_t *s) { return (double)(pc_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0); }

// A longer-period stream for the samplers (RANSAC): xoshiro256** seeded through splitmix64.
typedef struct pc_rng {
    uint64_t s[4];
} pc_rng;
void pc_rng_seed(pc_rng *r, uint64_t seed);
uint64_t pc_rng_next(pc_rng *r);
// Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift with rejection).
uint32_t pc_rng_below(pc_rng *r, uint32_t n);
// Uniform double in [0, 1).
double pc_rng_uniform(pc_rng *r);

#endif
