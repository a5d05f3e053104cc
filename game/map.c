/* map.c - an overview of a whole level for people: px pixels per cell, the
 * ground, lava and background in flat colours of the level's themes, and
 * the coin, saws, crates, enemies and the agent as their sprites (the agent
 * on a white backing so it stands out at any size). */
#include <string.h>

#include "game/internal.h"
#include "game/raster.h"

void game_render_map(uint8_t *rgb, int px, const game_level *L, const game_state *s) {
    const game_art_tables *A = game_art();
    int n = GAME_W * px, easy = L->mode == GAME_EASY;
    game_canvas c = {.img = rgb, .w = n, .h = n, .cx = 32.0f, .cy = 32.0f, .scale = (float)px,
                     .hw = 32.0f * (float)px, .hh = 32.0f * (float)px};
    int wt = easy ? 0 : L->wall_theme;
    game_rgb bg = game_art_bg_rgb(easy ? 0 : L->bg_index), mid = game_art_wall_rgb(wt, 0), top = game_art_wall_rgb(wt, 1);
    for (int j = 0; j < GAME_H; j++)
        for (int i = 0; i < GAME_W; i++) {
            game_rgb col;
            switch (L->grid[j][i]) {
            case GAME_WALL_MID: col = mid; break;
            case GAME_WALL_TOP: col = top; break;
            case GAME_LAVA_MID: col = (game_rgb){232, 88, 24}; break;
            case GAME_LAVA_TOP: col = (game_rgb){255, 150, 40}; break;
            default: col = bg;
            }
            game_fill(&c, (float)i, (float)(i + 1), (float)j, (float)(j + 1), col);
            if (L->grid[j][i] == GAME_GOAL)
                game_blit(&c, (float)i, (float)(i + 1), (float)j, (float)(j + 1), &A->coin[0][0][0], ART_SH, 0, 256);
        }
    for (int k = 0; k < L->nstatics; k++) {
        const game_static *m = &L->statics[k];
        const uint8_t *tex = m->type == GAME_ENT_SAW ? &A->saw[0][0][0][0] : &A->crate[m->theme % ART_NCRATE][0][0][0];
        game_blit(&c, m->x - 0.5f, m->x + 0.5f, m->y - 0.5f, m->y + 0.5f, tex, ART_SH, 0, 256);
    }
    for (int e = 0; e < L->nenemies; e++) {
        const game_body *b = &s->enemy[e];
        game_blit(&c, b->x - 0.5f, b->x + 0.5f, b->y - 0.5f, b->y + 0.5f, &A->enemy[L->enemy_theme[e] % ART_NENEMY][0][0][0][0],
                  ART_SH, s->time > 0 && b->vx > 0, 256);
    }
    float ax = s->agent.x, ay = s->agent.y;
    game_fill(&c, ax - 0.6f, ax + 0.6f, ay - GAME_ARY - 0.1f, ay + 0.9f, (game_rgb){255, 255, 255});
    game_blit(&c, ax - 0.5f, ax + 0.5f, ay - GAME_ARY, ay + 1.43691f,
              &A->agent[easy ? 0 : L->player_theme % ART_NPLAYER][ART_POSE_STAND][0][0][0], ART_AGENT_H, s->mirror, 256);
}
