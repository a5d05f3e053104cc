/* level.c - CoinRun level generation, draw for draw as procgen 0.10.7
 * (docs/SPEC.md 1.4 and 3). Also the reset state and the per-step RNG parities. */
#include <string.h>

#include "game/game.h"
#include "game/internal.h"

typedef struct {
    game_level *L;
    game_mt mt;
    int overflow;
} gen;

static uint32_t randn(gen *g, uint32_t n) { return game_mt_next(&g->mt) % n; }

static float rand01(gen *g) { return (float)((double)game_mt_next(&g->mt) / 4294967296.0); }

static void fill(gen *g, int x, int y, int w, int h, int t) {
    for (int i = x; i < x + w; i++)
        for (int j = y; j < y + h; j++)
            if (i >= 0 && i < GAME_W && j >= 0 && j < GAME_H) g->L->grid[j][i] = (uint8_t)t;
}

static void block(gen *g, int x, int y, int w, int h, int mid, int top) {
    fill(g, x, y, w, h - 1, mid);
    fill(g, x, y + h - 1, w, 1, top);
}

static void ground(gen *g, int x, int y, int w, int h) { block(g, x, y, w, h, GAME_WALL_MID, GAME_WALL_TOP); }

static void set_cell(gen *g, int x, int y, int t) {
    if (x >= 0 && x < GAME_W && y >= 0 && y < GAME_H) g->L->grid[y][x] = (uint8_t)t;
}

static void add_ref(gen *g, int type, int index) {
    game_level *L = g->L;
    if (L->nents >= GAME_MAX_ENTS) {
        g->overflow = 1;
        return;
    }
    L->order[L->nents].type = (uint8_t)type;
    L->order[L->nents].index = (uint8_t)index;
    L->nents++;
}

static void add_static(gen *g, int type, int x, int y, int theme) {
    game_level *L = g->L;
    if (L->nstatics >= GAME_MAX_STATICS) {
        g->overflow = 1;
        return;
    }
    game_static *s = &L->statics[L->nstatics];
    s->type = (uint8_t)type;
    s->theme = (uint8_t)theme;
    s->x = (float)(x + 0.5);
    s->y = (float)(y + 0.5);
    add_ref(g, type, L->nstatics);
    L->nstatics++;
}

static void saw(gen *g, int x, int y) { add_static(g, GAME_ENT_SAW, x, y, 0); }

static void crate(gen *g, int x, int y) {
    int theme = (int)randn(g, 4);
    add_static(g, GAME_ENT_CRATE, x, y, theme);
}

static void enemy(gen *g, int x, int y) {
    game_level *L = g->L;
    uint32_t d = randn(g, 2);
    float vx = (float)(0.15 * (d == 0 ? -1.0 : 1.0));
    int theme = (int)randn(g, 9);
    if (L->nenemies >= GAME_MAX_ENEMIES) {
        g->overflow = 1;
        return;
    }
    int k = L->nenemies++;
    L->enemy_x0[k] = (float)(x + 0.5);
    L->enemy_y0[k] = (float)(y + 0.5);
    L->enemy_vx0[k] = vx;
    L->enemy_theme[k] = (uint8_t)theme;
    add_ref(g, GAME_ENT_ENEMY, k);
}

static int is_wall(int t) { return t == GAME_WALL_MID || t == GAME_WALL_TOP; }

static int cell(const game_level *L, int x, int y) {
    if (x < 0 || y < 0 || x >= GAME_W || y >= GAME_H) return GAME_WALL_MID;
    return L->grid[y][x];
}

/* The outer walls: the bottom row (wall tops), both side columns and the top row. */
static void border(gen *g) {
    fill(g, 0, 0, 64, 1, GAME_WALL_TOP);
    fill(g, 0, 0, 1, 64, GAME_WALL_MID);
    fill(g, 63, 0, 1, 64, GAME_WALL_MID);
    fill(g, 0, 63, 64, 1, GAME_WALL_MID);
}

/* The platform over a pit wider than 4 cells, whose floor starts at x. */
static void pit_platform(gen *g, int x, int cy, int pw) {
    int a, w1;
    if (pw == 5) {
        a = 1 + (int)randn(g, 2);
        w1 = 1 + (int)randn(g, 2);
    } else if (pw == 6) {
        a = 2 + (int)randn(g, 2);
        w1 = 1 + (int)randn(g, 2);
    } else {
        a = 2 + (int)randn(g, 2);
        int b = 2 + (int)randn(g, 2);
        w1 = pw - a - b;
    }
    ground(g, x + a, cy - 1, w1, 1);
}

/* A section with a pit: ground either side, lava, saws or enemies on its floor. */
static void pit_section(gen *g, int cx, int cy, int dx, int danger) {
    int x1 = (int)randn(g, 3) + 1;
    int x2 = (int)randn(g, 3) + 1;
    int pw = dx - x1 - x2;
    if (pw > 7) {
        pw = 7;
        x2 = dx - x1 - 7;
    }
    ground(g, cx, 0, x1, cy);
    ground(g, cx + dx - x2, 0, x2, cy);
    int lh = (int)randn(g, (uint32_t)(cy - 3)) + 1;
    if (danger == 0) {
        block(g, cx + x1, 1, pw, lh, GAME_LAVA_MID, GAME_LAVA_TOP);
    } else if (danger == 1) {
        for (int e = 0; e < pw; e++) saw(g, cx + x1 + e, 1);
    } else {
        for (int e = 0; e < pw; e++) enemy(g, cx + x1 + e, 1);
    }
    if (pw > 4) pit_platform(g, cx + x1, cy, pw);
}

/* A flat section: ground, maybe a saw, maybe an enemy (hard), two chances of crates. */
static void flat_section(gen *g, int cx, int cy, int dx, int dif, int hard) {
    ground(g, cx, 0, dx, cy);
    int o1 = -1, o2 = -1;
    if ((int)randn(g, 10) < 2 * dif && dx > 3) {
        o1 = cx + (int)randn(g, (uint32_t)(dx - 2)) + 1;
        saw(g, o1, cy);
    }
    if ((int)randn(g, 10) < dif && dx > 3 && hard) {
        o2 = cx + (int)randn(g, (uint32_t)(dx - 2)) + 1;
        enemy(g, o2, cy);
    }
    for (int k = 0; k < 2; k++) {
        int c = cx + (int)randn(g, (uint32_t)(dx - 2)) + 1;
        if (randn(g, 2) == 1 && c != o1 && c != o2) {
            int h = (int)randn(g, 3) + 1;
            for (int j = 0; j < h; j++) crate(g, c, cy + j);
        }
    }
}

/* One section from (*cx, *cy): its rise and width, a pit or flat ground, and
 * the enemy barriers at both ends; moves (*cx, *cy) to its end. */
static void section(gen *g, int dif, int danger, int hard, int *pcx, int *pcy) {
    int cx = *pcx, cy = *pcy;
    int dy = (int)randn(g, 4) + 1 + dif / 3;
    if (dy > 5) dy = 5;
    if (cy >= 20) {
        dy = -dy;
    } else if (cy >= 5 && randn(g, 2) == 1) {
        dy = -dy;
    }
    int dx = (int)randn(g, (uint32_t)(2 * dif)) + 3 + dif / 3;
    cy += dy;
    if (cy < 1) cy = 1;
    int pit = dx > 7 && cy > 3 && (int)randn(g, 20) >= dif;
    if (pit) pit_section(g, cx, cy, dx, danger);
    else flat_section(g, cx, cy, dx, dif, hard);
    if (!is_wall(cell(g->L, cx - 1, cy))) set_cell(g, cx - 1, cy, GAME_ENEMY_BARRIER);
    cx += dx;
    set_cell(g, cx, cy, GAME_ENEMY_BARRIER);
    *pcx = cx;
    *pcy = cy;
}

/* The coin at (cx, cy), ground under it and solid wall to the right edge. */
static void place_goal(gen *g, int cx, int cy) {
    game_level *L = g->L;
    set_cell(g, cx, cy, GAME_GOAL);
    ground(g, cx, 0, 1, cy);
    fill(g, cx + 1, 0, 64 - cx - 1, 64, GAME_WALL_MID);
    L->goal_x = cx;
    L->goal_y = cy;
}

/* The layout (docs/SPEC.md 3): walls, difficulty, sections left to right, the goal. */
static void generate_layout(gen *g) {
    int hard = g->L->mode == GAME_HARD;
    border(g);
    int dif = (int)randn(g, 3) + 1;
    int num_sections = (int)randn(g, (uint32_t)dif) + dif;
    int danger = (int)randn(g, 3);
    int cx = 5, cy = 1;
    for (int s = 0; s < num_sections; s++) {
        if (cx + 15 >= GAME_W) break;
        section(g, dif, danger, hard, &cx, &cy);
    }
    place_goal(g, cx, cy);
}

void game_reset(const game_level *L, game_state *s) {
    memset(s, 0, sizeof *s);
    s->agent.x = 1.5f;
    s->agent.y = (float)(1.0f + GAME_ARY);
    s->last_agent_y = s->agent.y;
    for (int k = 0; k < L->nenemies; k++) {
        s->enemy[k].x = L->enemy_x0[k];
        s->enemy[k].y = L->enemy_y0[k];
        s->enemy[k].vx = L->enemy_vx0[k];
        s->enemy[k].vy = 0.0f;
    }
}

int game_level_generate(game_level *L, game_state *init, int32_t seed, int mode, cb_err *e) {
    if (mode != GAME_EASY && mode != GAME_HARD) return cb_fail(e, CB_EARG, "unknown mode %d", mode);
    memset(L, 0, sizeof *L);
    memset(L->grid, GAME_SPACE, sizeof L->grid);
    L->seed = seed;
    L->mode = mode;
    gen g = {.L = L};
    game_mt_seed(&g.mt, (uint32_t)seed);
    L->bg_pct_x = rand01(&g);
    L->bg_index = (int)randn(&g, 62);
    (void)rand01(&g);
    (void)rand01(&g);
    if (mode == GAME_HARD) {
        L->player_theme = (int)randn(&g, 5);
        L->wall_theme = (int)randn(&g, 6);
    } else {
        L->player_theme = 0;
        L->wall_theme = 0;
        L->bg_index = 0;
    }
    add_ref(&g, GAME_ENT_AGENT, 0);
    generate_layout(&g);
    if (g.overflow)
        return cb_fail(e, CB_ERANGE, "level %d (%s): more entities than the engine's capacity", seed,
                       game_mode_name(mode));
    /* crates in reverse list order, for the sub-move contact scan */
    for (int i = L->nstatics - 1; i >= 0; i--)
        if (L->statics[i].type == GAME_ENT_CRATE) L->crate_rev[L->ncrates++] = (uint8_t)i;
    /* one draw per step: only the parity of step_rand is ever used */
    for (int t = 0; t < GAME_TIMEOUT; t++) {
        uint32_t u = game_mt_next(&g.mt) % 1000000u;
        if (u & 1u) L->step_parity[t >> 3] |= (uint8_t)(1u << (t & 7));
    }
    if (init) game_reset(L, init);
    return 0;
}

const char *game_mode_name(int mode) { return mode == GAME_HARD ? "hard" : "easy"; }

int game_mode_parse(const char *s, int *mode) {
    if (!s) return CB_EARG;
    if (!strcmp(s, "easy") || !strcmp(s, "0")) {
        *mode = GAME_EASY;
        return 0;
    }
    if (!strcmp(s, "hard") || !strcmp(s, "1")) {
        *mode = GAME_HARD;
        return 0;
    }
    return CB_EARG;
}
