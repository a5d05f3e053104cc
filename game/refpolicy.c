/* refpolicy.c - the fixed action policy the refdata traces were recorded
 * with (tests/data/procgen/README.md 2): splitmix64 draws, weighted actions, holds of
 * 1..6 steps. Used by `coinbc play --policy refdata` and the trace test. */
#include "game/game.h"

void game_refpolicy_init(game_refpolicy *p, int32_t seed) {
    p->state = (uint64_t)(int64_t)seed * 1000003ull + 12345ull;
    p->hold = 0;
    p->action = 4;
}

int game_refpolicy_next(game_refpolicy *p) {
    if (p->hold == 0) {
        uint64_t r = cb_splitmix64(&p->state);
        double u = (double)(r >> 11) * 0x1.0p-53;
        int a;
        if (u < 0.35) a = 7;
        else if (u < 0.65) a = 8;
        else if (u < 0.75) a = 5;
        else if (u < 0.80) a = 4;
        else if (u < 0.87) a = 1;
        else if (u < 0.92) a = 2;
        else if (u < 0.96) a = 6;
        else a = 3;
        p->action = a;
        p->hold = 1 + (int)(cb_splitmix64(&p->state) % 6);
    }
    p->hold--;
    return p->action;
}
