/* mt.c - the 32-bit Mersenne Twister exactly as std::mt19937 (procgen's
 * level RNG). Written from the published algorithm (docs/SPEC.md 1.1). */
#include "game/game.h"

void game_mt_seed(game_mt *m, uint32_t seed) {
    m->w[0] = seed;
    for (uint32_t i = 1; i < 624; i++) m->w[i] = 1812433253u * (m->w[i - 1] ^ (m->w[i - 1] >> 30)) + i;
    m->p = 624;
}

static void mt_regen(game_mt *m) {
    for (int k = 0; k < 624; k++) {
        uint32_t y = (m->w[k] & 0x80000000u) | (m->w[(k + 1) % 624] & 0x7fffffffu);
        m->w[k] = m->w[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908B0DFu : 0u);
    }
    m->p = 0;
}

uint32_t game_mt_next(game_mt *m) {
    if (m->p >= 624) mt_regen(m);
    uint32_t y = m->w[m->p++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}
