/* show.c - coinbc level's work: one level generated as procgen does, its
 * layout in the refdata text format, its first observation and an overview
 * as PNG, and the figures of its one-line summary. */
#include <stdlib.h>

#include "game/game.h"

int game_level_show(game_level_summary *s, const game_show_opts *o, cb_err *e) {
    game_level *L = malloc(sizeof *L);
    if (!L) return cb_fail(e, CB_ENOMEM, "out of memory");
    game_state st;
    int rc = game_level_generate(L, &st, o->seed, o->mode, e);
    if (!rc && o->dump) game_level_dump(L, o->dump);
    if (!rc && o->png) {
        uint8_t rgb[CB_FRAME_BYTES];
        game_render(rgb, L, &st, NULL);
        rc = game_write_png(o->png, rgb, CB_FRAME_W, CB_FRAME_H, e);
    }
    if (!rc && o->map) {
        int n = GAME_W * o->px;
        uint8_t *rgb = malloc((size_t)n * (size_t)n * 3);
        if (!rgb) rc = cb_fail(e, CB_ENOMEM, "out of memory");
        if (!rc) {
            game_render_map(rgb, o->px, L, &st);
            rc = game_write_png(o->map, rgb, n, n, e);
        }
        free(rgb);
    }
    if (!rc) {
        *s = (game_level_summary){.goal_x = L->goal_x, .goal_y = L->goal_y, .enemies = L->nenemies,
                                  .crates = L->ncrates, .themes = game_level_theme_names(L)};
        for (int i = 0; i < L->nstatics; i++) s->saws += L->statics[i].type == GAME_ENT_SAW;
    }
    free(L);
    return rc;
}
