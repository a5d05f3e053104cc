/* dump.c - the level layout as text, in the refdata layouts format
 * (header line, 64 grid rows top first, entity lines in list order, "end"). */
#include "game/internal.h"
#include "game/names.h"

static char cell_char(int t) {
    switch (t) {
    case GAME_SPACE: return '.';
    case GAME_WALL_MID: return '#';
    case GAME_WALL_TOP: return '=';
    case GAME_LAVA_MID: return '%';
    case GAME_LAVA_TOP: return '~';
    case GAME_ENEMY_BARRIER: return '|';
    case GAME_GOAL: return '$';
    default: return '?';
    }
}

int game_level_dump(const game_level *L, FILE *out) {
    fprintf(out,
            "seed %d mode %s w 64 h 64 level_seed %d bg_index %d bg_name %s bg_pct_x %.9g player_theme %d "
            "player_color %s wall_theme %d ground_theme %s\n",
            L->seed, game_mode_name(L->mode), L->seed, L->bg_index, game_bg_name(L->bg_index),
            (double)L->bg_pct_x, L->player_theme, game_player_name(L->player_theme), L->wall_theme,
            game_wall_name(L->wall_theme));
    char row[GAME_W + 2];
    for (int y = GAME_H - 1; y >= 0; y--) {
        for (int x = 0; x < GAME_W; x++) row[x] = cell_char(L->grid[y][x]);
        row[GAME_W] = '\n';
        row[GAME_W + 1] = 0;
        fputs(row, out);
    }
    for (int i = 0; i < L->nents; i++) {
        const game_ent_ref *r = &L->order[i];
        switch (r->type) {
        case GAME_ENT_AGENT:
            fprintf(out, "entity agent %.4f %.4f %.4f %.4f %d\n", 1.5, (double)(float)(1.0f + GAME_ARY), 0.0, 0.0,
                    L->player_theme);
            break;
        case GAME_ENT_ENEMY:
            fprintf(out, "entity enemy %.4f %.4f %.4f %.4f %d\n", (double)L->enemy_x0[r->index],
                    (double)L->enemy_y0[r->index], (double)L->enemy_vx0[r->index], 0.0, L->enemy_theme[r->index]);
            break;
        default: {
            const game_static *s = &L->statics[r->index];
            fprintf(out, "entity %s %.4f %.4f %.4f %.4f %d\n", s->type == GAME_ENT_SAW ? "saw" : "crate",
                    (double)s->x, (double)s->y, 0.0, 0.0, s->theme);
        }
        }
    }
    fputs("end\n", out);
    return ferror(out) ? CB_EIO : 0;
}

const char *game_outcome_name(int outcome) {
    switch (outcome) {
    case GAME_COIN: return "coin";
    case GAME_DEATH: return "death";
    case GAME_TIMEOUT_END: return "timeout";
    default: return "";
    }
}

int game_trace_row(char *buf, size_t n, int32_t seed, int step, int action, const game_state *s,
                   const game_step_out *o) {
    return snprintf(buf, n, "%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%d,%d,%s", seed, step, action, (double)s->agent.x,
                    (double)s->agent.y, (double)s->agent.vx, (double)s->agent.vy, (int)o->reward, o->done,
                    o->done ? game_outcome_name(o->outcome) : "");
}
