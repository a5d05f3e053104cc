/* render.c - the 64x64 observation (docs/SPEC.md 5): procgen's camera (centred
 * on the agent, 13x13 world units, u = (wx - cx) * 64/13 + 32, v = (cy - wy)
 * * 64/13 + 32), its draw order (background, grid cells with a 0.02 overdraw,
 * z=0 entities: saws and crates then trails oldest first; z=1: the agent,
 * then enemies) and its animation timing, in coinbc's own art (art.c).
 *
 * Pixel rule: a pixel belongs to a shape when its centre lies inside it.
 * Speed: nothing is evaluated per pixel that can be looked up. Cells are
 * drawn row by row as merged spans copied from world-anchored textures
 * (texel (px + ox, oy - py) for pixel (px, py)), so a row of ground is one
 * memcpy; sprites are nearest-sampled textures. */
#include <string.h>

#include "game/internal.h"
#include "game/raster.h"

#define SCALE (64.0f / 13.0f)
#define OVERDRAW 0.02f
#define BG_ASPECT 1.5f /* our background "image" aspect ratio, for bg_pct_x (docs/SPEC.md 5.4) */
#define MAXC 20        /* cells per axis in view: at most 16 */

/* what a cell paints: nothing, the background behind, or a texture */
enum { K_NONE, K_BG, K_WALL, K_TOP, K_LAVA, K_LTOP };

static inline int kind_of(int t) {
    switch (t) {
    case GAME_WALL_MID: return K_WALL;
    case GAME_WALL_TOP: return K_TOP;
    case GAME_LAVA_MID: return K_LAVA;
    case GAME_LAVA_TOP: return K_LTOP;
    default: return K_NONE; /* SPACE, ENEMY_BARRIER; GOAL's coin is a sprite drawn after */
    }
}
/* K_WALL, K_TOP and K_LAVA cover their whole rectangle; K_LTOP only below its wave */
static inline int opaque(int k) { return k == K_WALL || k == K_TOP || k == K_LAVA; }

/* A run of pixels along one axis with the same candidate cells: cell `c`
 * alone (n = 1), or cells c and c+1 (n = 2) where the 0.02 overdraw of both
 * covers the pixel centre; c+1 is drawn later (procgen loops x outer, y
 * inner, both ascending). */
typedef struct {
    int a, b, c, n;
} run;

/* Runs along an axis. edge(k) = first pixel whose centre is at or after the
 * image coordinate of cell boundary k, for k = k0..k1+1 (cell k covers
 * [edge(k), edge(k+1)) without overdraw); lo(k) and hi(k) are the same for
 * the boundary moved by -/+0.02 in image order. `flip` is set for rows, where
 * image order runs from high cell index to low. */
typedef struct {
    int edge, shared; /* shared: the doubly-covered pixel at this boundary, or -1 */
} bound;

static int make_runs(bound *bd, int k0, int k1, int n, int flip, run *out) {
    int nr = 0;
    /* cells in image order */
    for (int s = 0; s <= k1 - k0; s++) {
        int k = flip ? k1 - s : k0 + s;
        /* its image-order first and last boundaries */
        const bound *first = flip ? &bd[k + 1 - k0] : &bd[k - k0];
        const bound *last = flip ? &bd[k - k0] : &bd[k + 1 - k0];
        int a = first->edge, b = last->edge;
        if (first->shared >= 0 && first->shared == a) a++;
        if (last->shared >= 0 && last->shared == b - 1) b--;
        if (a < 0) a = 0;
        if (b > n) b = n;
        if (a < b) out[nr++] = (run){a, b, k, 1};
        if (s < k1 - k0 && last->shared >= 0) {
            int sh = last->shared;
            out[nr++] = (run){sh, sh + 1, flip ? k - 1 : k, 2};
        }
    }
    return nr;
}

/* boundaries along x (cells i0..i1) or y (cells j0..j1, image order downwards) */
static void make_bounds(const game_canvas *c, int k0, int k1, int is_y, bound *bd) {
    for (int k = k0; k <= k1 + 1; k++) {
        float fk = (float)k;
        int e, lo, hi;
        if (!is_y) {
            e = cv_edge(cv_u(c, fk));
            lo = cv_edge(cv_u(c, fk - OVERDRAW));
            hi = cv_edge(cv_u(c, fk + OVERDRAW));
        } else { /* image order is top-down: y = k + 0.02 comes first */
            e = cv_edge(cv_v(c, fk));
            lo = cv_edge(cv_v(c, fk + OVERDRAW));
            hi = cv_edge(cv_v(c, fk - OVERDRAW));
        }
        int sh = lo < e ? e - 1 : (hi > e ? e : -1);
        if (k == k0 || k == k1 + 1 || sh < 0 || sh >= CB_FRAME_W) sh = -1;
        bd[k - k0] = (bound){e < 0 ? 0 : (e > CB_FRAME_W ? CB_FRAME_W : e), sh};
    }
}

/* one span of a row-run's paint list */
typedef struct {
    int16_t a, b;
    uint8_t kind;
    int j; /* cell row (for K_TOP and K_LTOP, whose look depends on the height in the cell) */
} paint;

typedef struct {
    const game_art_tables *A;
    const uint8_t *bg;
    int wall, ox, oy, bgx;
    float cy;
} cell_ctx;

/* copies n bytes (n >= 3) of a span with a few unaligned moves */
static inline void copy_span(uint8_t *d, const uint8_t *s, size_t n) {
    if (n >= 16) {
        for (size_t k = 0; k + 16 <= n; k += 16) memcpy(d + k, s + k, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        d[0] = s[0], d[1] = s[1], d[2] = s[2];
    }
}

static void paint_row(const cell_ctx *x, uint8_t *row, int py, const paint *p, int np) {
    int ty = x->oy - py;
    unsigned ty63 = (unsigned)ty & 63u;
    float wy = x->cy - ((float)py + 0.5f - 32.0f) / SCALE; /* world y of the row's pixel centres */
    const uint8_t *wrow = x->A->wall[x->wall][ty63], *lrow = x->A->lava[ty63];
    const uint8_t *bgrow = (ty >= 0 && ty < ART_BG_H) ? x->bg + (size_t)ty * ART_BG_ROW : NULL;
    for (int k = 0; k < np; k++) {
        int a = p[k].a, n = (p[k].b - a) * 3;
        uint8_t *dst = row + a * 3;
        unsigned t63 = ((unsigned)(a + x->ox) & 63u) * 3;
        switch (p[k].kind) {
        case K_BG:
            if (bgrow) copy_span(dst, bgrow + ((unsigned)(a + x->ox + x->bgx) % ART_BG_PERIOD) * 3, (size_t)n);
            else memset(dst, 0, (size_t)n);
            break;
        case K_WALL: copy_span(dst, wrow + t63, (size_t)n); break;
        case K_LAVA: copy_span(dst, lrow + t63, (size_t)n); break;
        case K_TOP: {
            float fy = wy - (float)p[k].j;
            const uint8_t *src = fy >= ART_GRASS_Y ? x->A->grass[x->wall][0] : fy >= ART_EDGE_Y ? x->A->grass[x->wall][1] : wrow;
            copy_span(dst, src + t63, (size_t)n);
            break;
        }
        case K_LTOP: {
            float fy = wy - (float)p[k].j;
            if (fy < ART_LAVA_Y0) {
                copy_span(dst, lrow + t63, (size_t)n);
            } else if (fy < ART_LAVA_Y1) {
                for (int px = a; px < p[k].b; px++, dst += 3) {
                    unsigned t = (unsigned)(px + x->ox) & 63u;
                    float h = x->A->wave[t];
                    const uint8_t *s = fy < h - 0.14f ? lrow + t * 3 : (fy < h ? x->A->lava_surf + t * 3 : NULL);
                    if (s) dst[0] = s[0], dst[1] = s[1], dst[2] = s[2];
                }
            }
            break;
        }
        default: break;
        }
    }
}

/* the cells in view, i0..i1 by j0..j1, as what each paints */
typedef struct {
    int i0, i1, j0, j1;
    uint8_t kind[MAXC][MAXC];
} cell_view;

/* the texture offsets of a frame: wall theme, world anchors, background shift */
static cell_ctx cell_context(const game_canvas *c, const game_level *L) {
    int easy = L->mode == GAME_EASY;
    cell_ctx x = {.A = game_art(), .bg = game_art_bg(easy ? 0 : L->bg_index), .wall = easy ? 0 : L->wall_theme, .cy = c->cy};
    x.wall = (int)((unsigned)x.wall % ART_NWALL);
    x.ox = (int)floorf(c->cx * SCALE - 31.5f);
    x.oy = (int)floorf(c->cy * SCALE + 31.5f);
    x.bgx = (int)floorf(64.0f * L->bg_pct_x * (BG_ASPECT - 1.0f) * SCALE);
    return x;
}

/* Fills v with the cells in view; returns the number of coin cells, stored in coins[]. */
static int view_cells(const game_canvas *c, const game_level *L, cell_view *v, int *coins) {
    /* procgen draws cells int(c - 7.5) .. int(c + 7.5); floor gives the same
     * visible cells and stays right for any camera position */
    v->i0 = (int)floorf(c->cx - 7.5f), v->i1 = (int)floorf(c->cx + 7.5f);
    v->j0 = (int)floorf(c->cy - 7.5f), v->j1 = (int)floorf(c->cy + 7.5f);
    int ncoin = 0;
    for (int j = v->j0; j <= v->j1; j++)
        for (int i = v->i0; i <= v->i1; i++) {
            int t = game_cell(L, i, j);
            v->kind[j - v->j0][i - v->i0] = (uint8_t)kind_of(t);
            if (t == GAME_GOAL && ncoin < 4) coins[ncoin++] = j * GAME_W + i;
        }
    return ncoin;
}

/* What a single cell column of row-run R shows (a texture, or the
 * background; | 0x10 when it comes from the second row), or -1 when a lava
 * surface needs the general stack. */
static void row_effective(const cell_view *v, const run *R, int8_t *eff) {
    const uint8_t *ka = v->kind[R->c - v->j0], *kb = R->n == 2 ? v->kind[R->c + 1 - v->j0] : NULL;
    for (int i = 0; i <= v->i1 - v->i0; i++) {
        int k = ka[i];
        if (kb && (opaque(kb[i]) || kb[i] == K_LTOP)) k = opaque(kb[i]) ? kb[i] | 0x10 : K_LTOP;
        eff[i] = (int8_t)(k == K_LTOP ? -1 : (k == K_NONE ? K_BG : k));
    }
}

/* The general stack of column run C in row-run R, at p, in procgen's draw
 * order: the last opaque candidate hides everything before it; a lava
 * surface only partly, so what is under it is painted first. Returns its length. */
static int stack_paints(const cell_view *v, const run *R, const run *C, paint *p) {
    p[0] = (paint){(int16_t)C->a, (int16_t)C->b, K_BG, 0};
    int nl = 1;
    for (int i = C->c; i < C->c + C->n; i++)
        for (int j = R->c; j < R->c + R->n; j++) {
            int k = v->kind[j - v->j0][i - v->i0];
            if (opaque(k)) {
                p[0] = (paint){(int16_t)C->a, (int16_t)C->b, (uint8_t)k, j};
                nl = 1;
            } else if (k == K_LTOP) {
                p[nl++] = (paint){(int16_t)C->a, (int16_t)C->b, (uint8_t)k, j};
            }
        }
    return nl;
}

/* The paint list of row-run R across the column runs; returns its length. */
static int row_paints(const cell_view *v, const run *R, const run *cols, int ncol, paint *p) {
    int8_t eff[MAXC];
    row_effective(v, R, eff);
    int np = 0, prev_single = 0;
    for (int q = 0; q < ncol; q++) {
        const run *C = &cols[q];
        int e0 = eff[C->c - v->i0], e = e0;
        if (C->n == 2) {
            int e1 = eff[C->c + 1 - v->i0];
            e = (e0 < 0 || e1 < 0) ? -1 : ((e1 & 15) != K_BG ? e1 : e0);
        }
        if (e >= 0) { /* a single texture: merge with the previous span if it continues it */
            int k = e & 15, j = R->c + (e >> 4);
            paint one = (paint){(int16_t)C->a, (int16_t)C->b, (uint8_t)k, j};
            if (prev_single && p[np - 1].kind == k && p[np - 1].b == C->a && (k != K_TOP || p[np - 1].j == j)) {
                p[np - 1].b = (int16_t)C->b;
            } else {
                p[np++] = one;
            }
            prev_single = 1;
            continue;
        }
        np += stack_paints(v, R, C, p + np);
        prev_single = 0;
    }
    return np;
}

/* Background and grid cells (docs/SPEC.md 5.2 steps 1, 2 and 4). Returns the
 * number of coin cells in view, stored in coins[] (drawn after). */
static int draw_cells(const game_canvas *c, const game_level *L, int *coins) {
    cell_ctx x = cell_context(c, L);
    cell_view v;
    int ncoin = view_cells(c, L, &v, coins);

    bound bx[MAXC], by[MAXC];
    run cols[2 * MAXC], rows[2 * MAXC];
    make_bounds(c, v.i0, v.i1, 0, bx);
    make_bounds(c, v.j0, v.j1, 1, by);
    int ncol = make_runs(bx, v.i0, v.i1, CB_FRAME_W, 0, cols);
    int nrow = make_runs(by, v.j0, v.j1, CB_FRAME_H, 1, rows);

    paint p[5 * 2 * MAXC];
    for (int r = 0; r < nrow; r++) {
        const run *R = &rows[r];
        int np = row_paints(&v, R, cols, ncol, p);
        for (int py = R->a; py < R->b; py++) paint_row(&x, c->img + (size_t)py * CB_FRAME_W * 3, py, p, np);
    }
    return ncoin;
}

/* ---- the frame ---------------------------------------------------------------- */

static int agent_pose(const game_state *s) {
    if (fabsf(s->agent.vx) < 0.01f && s->ax == 0 && s->has_support) return ART_POSE_STAND;
    if ((s->time / 5) % 2 == 0 || !s->has_support) return ART_POSE_WALK1;
    return ART_POSE_WALK2;
}

static inline int in_view(const game_canvas *c, float x, float y, float r) {
    return fabsf(x - c->cx) < 6.5f + r + 0.5f && fabsf(y - c->cy) < 6.5f + r + 0.5f;
}

void game_render(uint8_t *rgb, const game_level *L, const game_state *s, const game_trails *tr) {
    const game_art_tables *A = game_art();
    game_canvas c = {.img = rgb, .w = CB_FRAME_W, .h = CB_FRAME_H, .cx = s->agent.x, .cy = s->agent.y, .scale = SCALE,
                     .hw = 32.0f, .hh = 32.0f};

    int coins[4];
    int ncoin = draw_cells(&c, L, coins);
    for (int k = 0; k < ncoin; k++) {
        float i = (float)(coins[k] % GAME_W), j = (float)(coins[k] / GAME_W);
        game_blit(&c, i - OVERDRAW, i + 1 + OVERDRAW, j - OVERDRAW, j + 1 + OVERDRAW, &A->coin[0][0][0], ART_SH, 0, 256);
    }

    /* z = 0: saws and crates in creation order */
    const uint8_t *saw = &A->saw[s->time % 2 == 0 ? 0 : 1][0][0][0];
    for (int k = 0; k < L->nstatics; k++) {
        const game_static *m = &L->statics[k];
        if (!in_view(&c, m->x, m->y, 0.5f)) continue;
        const uint8_t *tex = m->type == GAME_ENT_SAW ? saw : &A->crate[m->theme % ART_NCRATE][0][0][0];
        game_blit(&c, m->x - 0.5f, m->x + 0.5f, m->y - 0.5f, m->y + 0.5f, tex, ART_SH, 0, 256);
    }
    /* then trails, oldest first; each step's trails were appended in reverse
     * enemy order (docs/SPEC.md 4.10) */
    if (tr && tr->count > 0) {
        float rx = 0.3f, ry = 0.2f, alpha = 0.5f;
        float RX[GAME_TRAIL_LIFE], RY[GAME_TRAIL_LIFE], AL[GAME_TRAIL_LIFE];
        for (int k = 0; k < GAME_TRAIL_LIFE; k++) {
            RX[k] = rx, RY[k] = ry, AL[k] = alpha;
            rx = rx * 1.05f, ry = ry * 1.05f, alpha = alpha * 0.8f;
        }
        int count = tr->count > GAME_TRAIL_LIFE ? GAME_TRAIL_LIFE : tr->count;
        for (int age = count - 1; age >= 0; age--) {
            int slot = ((tr->head - age) % GAME_TRAIL_LIFE + GAME_TRAIL_LIFE) % GAME_TRAIL_LIFE;
            int a256 = (int)lrintf(AL[age] * 256.0f);
            for (int e = L->nenemies - 1; e >= 0; e--) {
                float x = tr->x[slot][e], y = tr->y[slot][e];
                for (int k = 0; k < age; k++) y = y + 0.01f; /* vy = 0.01f, one tick per step */
                if (!in_view(&c, x, y, 0.5f)) continue;
                game_blit(&c, x - RX[age], x + RX[age], y - RY[age], y + RY[age], &A->disc[0][0][0], ART_SH, 0, a256);
            }
        }
    }

    /* z = 1: the agent, then the enemies over it */
    int easy = L->mode == GAME_EASY;
    int pt = easy ? 0 : (int)((unsigned)L->player_theme % ART_NPLAYER);
    game_blit(&c, s->agent.x - 0.5f, s->agent.x + 0.5f, s->agent.y - GAME_ARY, s->agent.y + 1.43691f,
              &A->agent[pt][agent_pose(s)][0][0][0], ART_AGENT_H, s->mirror, 256);
    int eframe = (s->time / 5) % 2 == 0 ? 0 : 1;
    for (int e = 0; e < L->nenemies; e++) {
        const game_body *b = &s->enemy[e];
        if (!in_view(&c, b->x, b->y, 0.5f)) continue;
        int mirror = s->time > 0 && b->vx > 0; /* set by each step; not at reset */
        game_blit(&c, b->x - 0.5f, b->x + 0.5f, b->y - 0.5f, b->y + 0.5f,
                  &A->enemy[L->enemy_theme[e] % ART_NENEMY][eframe][0][0][0], ART_SH, mirror, 256);
    }
}
