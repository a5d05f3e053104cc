/* trails.c - cosmetic enemy trails (docs/SPEC.md 4.10): after each step every
 * enemy spawns a trail at x = E.x, y = f32(f64(E.y) - f64(E.ry) * 0.5); the
 * renderer derives each trail's drift, size and alpha from its age. Only
 * the spawn positions of the last GAME_TRAIL_LIFE steps are kept. */
#include "game/game.h"

void game_trails_reset(game_trails *t) {
    t->count = 0;
    t->head = GAME_TRAIL_LIFE - 1;
}

void game_trails_update(game_trails *t, const game_level *L, const game_state *s) {
    t->head = (t->head + 1) % GAME_TRAIL_LIFE;
    for (int e = 0; e < L->nenemies; e++) {
        t->x[t->head][e] = s->enemy[e].x;
        t->y[t->head][e] = (float)((double)s->enemy[e].y - (double)0.5f * 0.5);
    }
    if (t->count < GAME_TRAIL_LIFE) t->count++;
}
