/* rng.c - explicit random number generator state (xoshiro256**), seeded
 * through splitmix64. No global state: every user owns its cb_rng. */
#include "common/common.h"

#include <math.h>

uint64_t cb_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void cb_rng_seed(cb_rng *r, uint64_t seed) {
    uint64_t st = seed;
    for (int i = 0; i < 4; i++) r->s[i] = cb_splitmix64(&st);
}

void cb_rng_seed2(cb_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t st = seed ^ 0x5851F42D4C957F2Dull;
    uint64_t a = cb_splitmix64(&st);
    st = a ^ (stream * 0xD1B54A32D192ED03ull + 0x9E3779B97F4A7C15ull);
    cb_rng_seed(r, cb_splitmix64(&st));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cb_rng_u64(cb_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t cb_rng_u32(cb_rng *r) { return (uint32_t)(cb_rng_u64(r) >> 32); }

uint32_t cb_rng_below(cb_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t m = (uint64_t)cb_rng_u32(r) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t thresh = (uint32_t)(-n) % n;
        while (lo < thresh) {
            m = (uint64_t)cb_rng_u32(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double cb_rng_uniform(cb_rng *r) { return (double)(cb_rng_u64(r) >> 11) * 0x1.0p-53; }

float cb_rng_uniformf(cb_rng *r) { return (float)(cb_rng_u32(r) >> 8) * 0x1.0p-24f; }

double cb_rng_normal(cb_rng *r) {
    double u1 = cb_rng_uniform(r), u2 = cb_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
