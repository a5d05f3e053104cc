/* appearance.c - a level's look as a swappable part (docs/SPEC.md 5.6): read
 * it from the stored fields of a generated level, check it, give it to
 * another level, and the "seen"/"unseen" looks of a set of training levels.
 *
 * procgen draws the look from the level RNG interleaved with the layout
 * (docs/SPEC.md 1.4, 3), so a look cannot be changed by reseeding: the swap
 * writes the stored fields of an already generated level and touches nothing
 * that physics, the expert or the per-step parities read. */
#include <stdlib.h>
#include <string.h>

#include "game/art.h"
#include "game/game.h"

_Static_assert(GAME_NUM_BG == ART_NBG && GAME_NUM_WALL == ART_NWALL && GAME_NUM_PLAYER == ART_NPLAYER &&
                   GAME_NUM_ENEMY_THEMES == ART_NENEMY && GAME_NUM_CRATE_THEMES == ART_NCRATE,
               "the appearance's theme counts are the art's");

void game_level_get_appearance(game_appearance *a, const game_level *L) {
    memset(a, 0, sizeof *a);
    a->mode = L->mode;
    a->bg_pct_x = L->bg_pct_x;
    a->bg_index = L->bg_index;
    a->wall_theme = L->wall_theme;
    a->player_theme = L->player_theme;
    a->nenemies = L->nenemies;
    for (int k = 0; k < L->nenemies; k++) a->enemy_theme[k] = L->enemy_theme[k];
    int n = 0;
    for (int i = 0; i < L->nstatics; i++)
        if (L->statics[i].type == GAME_ENT_CRATE) a->crate_theme[n++] = L->statics[i].theme;
    a->ncrates = n;
}

int game_appearance_check(const game_appearance *a, cb_err *e) {
    if (a->mode != GAME_EASY && a->mode != GAME_HARD)
        return cb_fail(e, CB_EARG, "appearance: unknown mode %d (0 easy, 1 hard)", a->mode);
    const char *m = game_mode_name(a->mode);
    if (!(a->bg_pct_x >= 0.0f && a->bg_pct_x < 1.0f))
        return cb_fail(e, CB_ERANGE, "appearance (%s): background offset %g is outside [0, 1)", m,
                       (double)a->bg_pct_x);
    if (a->bg_index < 0 || a->bg_index >= GAME_NUM_BG || a->wall_theme < 0 || a->wall_theme >= GAME_NUM_WALL ||
        a->player_theme < 0 || a->player_theme >= GAME_NUM_PLAYER)
        return cb_fail(e, CB_ERANGE,
                       "appearance (%s): background %d, wall theme %d or player theme %d out of range "
                       "(0..%d, 0..%d, 0..%d)",
                       m, a->bg_index, a->wall_theme, a->player_theme, GAME_NUM_BG - 1, GAME_NUM_WALL - 1,
                       GAME_NUM_PLAYER - 1);
    if (a->mode == GAME_EASY && (a->bg_index || a->wall_theme || a->player_theme))
        return cb_fail(e, CB_ERANGE,
                       "appearance (easy): background %d, wall theme %d, player theme %d; easy mode has 0 for all "
                       "three (docs/SPEC.md 1.4)",
                       a->bg_index, a->wall_theme, a->player_theme);
    if (a->nenemies < 0 || a->nenemies > GAME_MAX_ENEMIES || a->ncrates < 0 || a->ncrates > GAME_MAX_STATICS)
        return cb_fail(e, CB_ERANGE, "appearance (%s): %d enemies, %d crates (at most %d and %d)", m, a->nenemies,
                       a->ncrates, GAME_MAX_ENEMIES, GAME_MAX_STATICS);
    for (int k = 0; k < a->nenemies; k++)
        if (a->enemy_theme[k] >= GAME_NUM_ENEMY_THEMES)
            return cb_fail(e, CB_ERANGE, "appearance (%s): enemy %d has theme %d (0..%d)", m, k, a->enemy_theme[k],
                           GAME_NUM_ENEMY_THEMES - 1);
    for (int k = 0; k < a->ncrates; k++)
        if (a->crate_theme[k] >= GAME_NUM_CRATE_THEMES)
            return cb_fail(e, CB_ERANGE, "appearance (%s): crate %d has theme %d (0..%d)", m, k, a->crate_theme[k],
                           GAME_NUM_CRATE_THEMES - 1);
    return 0;
}

int game_level_set_appearance(game_level *L, const game_appearance *d, cb_err *e) {
    if (d->mode != L->mode)
        return cb_fail(e, CB_EARG, "level %d (%s): a donor look of %s mode; donor and level must have the same mode",
                       L->seed, game_mode_name(L->mode), game_mode_name(d->mode));
    cb_err sub = {0};
    if (game_appearance_check(d, &sub) < 0)
        return cb_fail(e, CB_EARG, "level %d (%s): bad donor look: %s", L->seed, game_mode_name(L->mode), sub.msg);
    L->bg_pct_x = d->bg_pct_x;
    L->bg_index = d->bg_index;
    L->wall_theme = d->wall_theme;
    L->player_theme = d->player_theme;
    /* coinbc's rule: the donor's themes cyclically; none at all gives theme 0 */
    for (int k = 0; k < L->nenemies; k++) L->enemy_theme[k] = d->nenemies ? d->enemy_theme[k % d->nenemies] : 0;
    int c = 0;
    for (int i = 0; i < L->nstatics; i++) {
        if (L->statics[i].type != GAME_ENT_CRATE) continue;
        L->statics[i].theme = d->ncrates ? d->crate_theme[c % d->ncrates] : 0;
        c++;
    }
    return 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int game_appearance_sets_build(game_appearance_sets *out, const int32_t *seeds, int n, int mode, cb_err *e) {
    if (mode != GAME_EASY && mode != GAME_HARD)
        return cb_fail(e, CB_EARG, "appearance sets: unknown mode %d (0 easy, 1 hard)", mode);
    if (n < 1 || !seeds)
        return cb_fail(e, CB_EARG, "appearance sets (%s): no training levels given", game_mode_name(mode));
    const char *m = game_mode_name(mode);
    int32_t *sorted = malloc((size_t)n * sizeof *sorted);
    game_level *L = malloc(sizeof *L);
    if (!sorted || !L) {
        free(sorted);
        free(L);
        return cb_fail(e, CB_ENOMEM, "appearance sets (%s): out of memory for %d training levels", m, n);
    }
    memcpy(sorted, seeds, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_i32);
    memset(out, 0, sizeof *out);
    out->mode = mode;
    out->varies_bg_pair = mode == GAME_HARD;
    uint8_t triple[GAME_NUM_BG][GAME_NUM_WALL][GAME_NUM_PLAYER];
    memset(triple, 0, sizeof triple);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && sorted[i] == sorted[i - 1]) continue;
        out->nlevels++;
        rc = game_level_generate(L, NULL, sorted[i], mode, e);
        if (rc < 0) break;
        out->bg_seen[L->bg_index] = 1;
        out->pair_seen[L->wall_theme][L->player_theme] = 1;
        triple[L->bg_index][L->wall_theme][L->player_theme] = 1;
    }
    free(sorted);
    free(L);
    if (rc < 0) return rc;
    for (int b = 0; b < GAME_NUM_BG; b++) {
        out->nbg_seen += out->bg_seen[b];
        for (int w = 0; w < GAME_NUM_WALL; w++)
            for (int p = 0; p < GAME_NUM_PLAYER; p++) out->ntriple_seen += triple[b][w][p];
    }
    for (int w = 0; w < GAME_NUM_WALL; w++)
        for (int p = 0; p < GAME_NUM_PLAYER; p++) out->npair_seen += out->pair_seen[w][p];
    if (out->varies_bg_pair) {
        out->nbg_unseen = GAME_NUM_BG - out->nbg_seen;
        out->npair_unseen = GAME_NUM_WALL * GAME_NUM_PLAYER - out->npair_seen;
        out->nunseen = out->nbg_unseen * out->npair_unseen;
    }
    return 0;
}

int game_appearance_sets_unseen(int *bg, int *wall, int *player, const game_appearance_sets *s, int k, cb_err *e) {
    if (k < 0 || k >= s->nunseen)
        return cb_fail(e, CB_ERANGE, "appearance sets (%s): unseen look %d of %d%s", game_mode_name(s->mode), k,
                       s->nunseen, s->varies_bg_pair ? "" : " (easy mode has none)");
    int kb = k / s->npair_unseen, kp = k % s->npair_unseen;
    for (int b = 0; b < GAME_NUM_BG; b++)
        if (!s->bg_seen[b] && kb-- == 0) *bg = b;
    for (int w = 0; w < GAME_NUM_WALL; w++)
        for (int p = 0; p < GAME_NUM_PLAYER; p++)
            if (!s->pair_seen[w][p] && kp-- == 0) *wall = w, *player = p;
    return 0;
}
