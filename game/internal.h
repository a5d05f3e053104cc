/* internal.h - constants and helpers shared by the engine's own files
 * (not part of the public game.h). Values from docs/SPEC.md 0. */
#ifndef COINBC_GAME_INTERNAL_H
#define COINBC_GAME_INTERNAL_H

#include <math.h>

#include "game/game.h"

#define GAME_GRAVITY 0.2f
#define GAME_MAX_JUMP 1.5f
#define GAME_MAX_SPEED 0.5f
#define GAME_MIX 0.2f
#define GAME_AIR 0.15f
#define GAME_ARX 0.5f
#define GAME_ARY 0.5787f
#define GAME_MARGIN 0.98f
#define GAME_EPS (-0.001f)

static inline int game_cell(const game_level *L, int x, int y) {
    if (x < 0 || y < 0 || x >= GAME_W || y >= GAME_H) return GAME_WALL_MID;
    return L->grid[y][x];
}

/* cell at f32 world coordinates; negative -> WALL_MID */
static inline int game_cell_at(const game_level *L, float px, float py) {
    if (px < 0 || py < 0) return GAME_WALL_MID;
    float fx = floorf(px), fy = floorf(py);
    if (fx >= GAME_W || fy >= GAME_H) return GAME_WALL_MID;
    return L->grid[(int)fy][(int)fx];
}

static inline int game_is_wall(int t) { return t == GAME_WALL_MID || t == GAME_WALL_TOP; }
static inline int game_is_lava(int t) { return t == GAME_LAVA_MID || t == GAME_LAVA_TOP; }

#endif
