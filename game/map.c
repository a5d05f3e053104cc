/* map.c - an overview of a whole level for people: px pixels per cell, every
 * cell and entity in a flat colour, the agent and the coin marked. */
#include <string.h>

#include "game/art.h"
#include "game/internal.h"

static void box(uint8_t *rgb, int n, int x0, int y0, int x1, int y1, game_rgb c) {
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < n; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < n; x++) {
            uint8_t *p = rgb + ((size_t)y * n + x) * 3;
            p[0] = c.r;
            p[1] = c.g;
            p[2] = c.b;
        }
}

/* world (cell units, y up) to image box of an entity centred at (x, y) */
static void ent(uint8_t *rgb, int n, int px, float x, float y, float rx, float ry, game_rgb c) {
    int x0 = (int)((x - rx) * px + 0.5f), x1 = (int)((x + rx) * px + 0.5f);
    int y0 = n - (int)((y + ry) * px + 0.5f), y1 = n - (int)((y - ry) * px + 0.5f);
    box(rgb, n, x0, y0, x1, y1, c);
}

void game_render_map(uint8_t *rgb, int px, const game_level *L, const game_state *s) {
    int n = GAME_W * px;
    game_bg_style st;
    game_art_bg(L->mode == GAME_EASY ? 0 : L->bg_index, &st);
    game_rgb mid, dark, top;
    game_art_wall(L->mode == GAME_EASY ? 0 : L->wall_theme, &mid, &dark, &top);
    for (int j = 0; j < GAME_H; j++)
        for (int i = 0; i < GAME_W; i++) {
            game_rgb c;
            switch (L->grid[j][i]) {
            case GAME_WALL_MID: c = mid; break;
            case GAME_WALL_TOP: c = top; break;
            case GAME_LAVA_MID: c = (game_rgb){230, 80, 20}; break;
            case GAME_LAVA_TOP: c = (game_rgb){255, 140, 30}; break;
            case GAME_GOAL: c = (game_rgb){255, 215, 50}; break;
            case GAME_ENEMY_BARRIER: c = st.bottom; break;
            default: c = st.bottom;
            }
            box(rgb, n, i * px, n - (j + 1) * px, (i + 1) * px, n - j * px, c);
        }
    for (int k = 0; k < L->nstatics; k++) {
        const game_static *m = &L->statics[k];
        if (m->type == GAME_ENT_SAW)
            ent(rgb, n, px, m->x, m->y, 0.45f, 0.45f, (game_rgb){200, 200, 215});
        else {
            ent(rgb, n, px, m->x, m->y, 0.5f, 0.5f, (game_rgb){110, 70, 35});
            ent(rgb, n, px, m->x, m->y, 0.35f, 0.35f, (game_rgb){190, 130, 70});
        }
    }
    for (int e = 0; e < L->nenemies; e++)
        ent(rgb, n, px, s->enemy[e].x, s->enemy[e].y, 0.42f, 0.42f, game_art_enemy(L->enemy_theme[e]));
    ent(rgb, n, px, s->agent.x, s->agent.y, 0.5f, GAME_ARY, (game_rgb){255, 255, 255});
    ent(rgb, n, px, s->agent.x, s->agent.y, 0.35f, 0.4f, game_art_player(L->mode == GAME_EASY ? 0 : L->player_theme));
}
