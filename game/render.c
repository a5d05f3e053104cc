/* render.c - the 64x64 observation: procgen's camera (centred on the agent,
 * 13x13 world units), draw order and animation timing (SPEC.md 5), in
 * coinbc's own flat art. A pixel belongs to a shape when its centre lies
 * inside. Textures are anchored to the world through integer texel offsets,
 * so they scroll with the level exactly as the camera moves. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "game/art.h"
#include "game/internal.h"

#define SCALE (64.0f / 13.0f)

typedef struct {
    uint8_t *img;
    float cx, cy;   /* camera centre in world units */
    int ox, oy;     /* texel of pixel (px, py) = (px + ox, oy - py) */
} canvas;

static inline float to_u(const canvas *c, float wx) { return (wx - c->cx) * SCALE + 32.0f; }
static inline float to_v(const canvas *c, float wy) { return (c->cy - wy) * SCALE + 32.0f; }

/* pixel span [a, b) covered by [u0, u1) under the pixel-centre rule */
static inline void span(float u0, float u1, int *a, int *b) {
    int lo = (int)ceilf(u0 - 0.5f), hi = (int)ceilf(u1 - 0.5f);
    *a = lo < 0 ? 0 : lo;
    *b = hi > GAME_OBS ? GAME_OBS : hi;
}

static inline void put(uint8_t *p, game_rgb c) {
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

static inline game_rgb mix(game_rgb a, game_rgb b, int t256) {
    return (game_rgb){(uint8_t)((a.r * (256 - t256) + b.r * t256) >> 8), (uint8_t)((a.g * (256 - t256) + b.g * t256) >> 8),
                      (uint8_t)((a.b * (256 - t256) + b.b * t256) >> 8)};
}

static inline uint32_t hash2(int x, int y) {
    uint32_t h = (uint32_t)x * 0x9E3779B1u ^ (uint32_t)y * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return h;
}

/* ---- cells and background, one pass --------------------------------------- */
/* Each pixel shows the cell that contains its centre (no overdraw needed:
 * cell spans tile the frame exactly, so there are no seams). Walls, lava and
 * the background are filled span by span; the coin and the lava surface are
 * shapes drawn over the background afterwards. */

typedef struct bg_cache bg_cache;
typedef struct {
    game_bg_style st;
    int shift, H;
    game_rgb mid, dark, top;
    bg_cache *cache;
} cell_art;

static inline game_rgb bg_pixel(const cell_art *ca, game_rgb base, int tx, int ty) {
    const game_bg_style *st = &ca->st;
    switch (st->pattern) {
    case 1:
        if ((hash2(tx >> 1, ty >> 1) >> 24) < 3u) return st->accent;
        return base;
    case 2:
        return ((((tx + ty) / st->period) & 1) != 0) ? mix(base, st->accent, 40) : base;
    case 3: {
        int q = tx >= 0 ? tx / 24 : (tx - 23) / 24, r = tx - q * 24;
        int h = 60 + (int)(hash2(q, 7) % 40u), h2 = 60 + (int)(hash2(q + 1, 7) % 40u);
        return ty < h + (h2 - h) * r / 24 ? mix(base, st->accent, 90) : base;
    }
    case 4:
        return (((unsigned)tx % (unsigned)st->period) < 2 && ((unsigned)ty % (unsigned)st->period) < 2)
                   ? mix(base, st->accent, 160)
                   : base;
    default: return base;
    }
}

/* Background rows are cached per thread: the background depends only on its
 * style and world offset, so a row of texels is computed once per level look
 * and then copied. TEX_X0 shifts texel x so every reachable index is >= 0. */
#define TEX_X0 64
#define TEX_W 640
#define TEX_H 316

struct bg_cache {
    int style, shift;            /* background key */
    uint8_t built[TEX_H];
    uint8_t tex[TEX_H][TEX_W * 3];
    int wall_key;                /* wall theme of `wall` (-1: none) */
    uint8_t wall[64][128 * 3];   /* 64x64 texel wall-interior tile, each row twice */
};

static pthread_key_t bg_key;
static pthread_once_t bg_once = PTHREAD_ONCE_INIT;
static void bg_key_make(void) { pthread_key_create(&bg_key, free); }

static bg_cache *bg_cache_get(int style, int shift) {
    pthread_once(&bg_once, bg_key_make);
    bg_cache *bc = pthread_getspecific(bg_key);
    if (!bc) {
        bc = malloc(sizeof *bc);
        if (!bc) return NULL;
        bc->style = -1;
        bc->wall_key = -1;
        pthread_setspecific(bg_key, bc);
    }
    if (bc->style != style || bc->shift != shift) {
        bc->style = style;
        bc->shift = shift;
        memset(bc->built, 0, sizeof bc->built);
    }
    return bc;
}

static const uint8_t *bg_row(bg_cache *bc, const cell_art *ca, int ty) {
    uint8_t *row = bc->tex[ty];
    if (!bc->built[ty]) {
        game_rgb base = mix(ca->st.bottom, ca->st.top, ty * 256 / ca->H);
        for (int x = 0; x < TEX_W; x++) put(row + x * 3, bg_pixel(ca, base, x - TEX_X0 + ca->shift, ty));
        bc->built[ty] = 1;
    }
    return row;
}

static void fill_background(const canvas *c, const cell_art *ca, int a, int b, int r0, int r1) {
    bg_cache *bc = ca->cache;
    for (int py = r0; py < r1; py++) {
        int ty = c->oy - py;
        uint8_t *row = c->img + (size_t)py * GAME_OBS * 3;
        if (ty < 0 || ty >= ca->H) {
            memset(row + a * 3, 0, (size_t)(b - a) * 3);
            continue;
        }
        int x0 = a + c->ox + TEX_X0;
        if (bc && ty < TEX_H && x0 >= 0 && b + c->ox + TEX_X0 <= TEX_W) {
            memcpy(row + a * 3, bg_row(bc, ca, ty) + x0 * 3, (size_t)(b - a) * 3);
            continue;
        }
        game_rgb base = mix(ca->st.bottom, ca->st.top, ty * 256 / ca->H);
        for (int px = a; px < b; px++) put(row + px * 3, bg_pixel(ca, base, px + c->ox + ca->shift, ty));
    }
}

/* 1 where a wall texel is speckled dark; world-anchored, period 512 texels */
static uint8_t speckle[512][512 / 8];
static pthread_once_t speckle_once = PTHREAD_ONCE_INIT;
static void speckle_make(void) {
    for (int y = 0; y < 512; y++)
        for (int x = 0; x < 512; x++)
            if ((hash2(x >> 1, y >> 1) & 7u) == 0) speckle[y][x >> 3] |= (uint8_t)(1u << (x & 7));
}
/* period 64 texels (13 world units), so walls can be copied from one tile */
static inline int is_speckle(int tx, int ty) { return (speckle[ty & 63][(tx & 63) >> 3] >> (tx & 7)) & 1; }

static void wall_tile(bg_cache *bc, const cell_art *ca, int theme) {
    if (bc->wall_key == theme) return;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 128; x++) put(bc->wall[y] + x * 3, is_speckle(x & 63, y) ? ca->dark : ca->mid);
    bc->wall_key = theme;
}

static void fill_wall(const canvas *c, const cell_art *ca, int is_top, float vt, float vb, int a, int b, int r0,
                      int r1) {
    for (int py = r0; py < r1; py++) {
        uint8_t *row = c->img + (size_t)py * GAME_OBS * 3;
        float fy = (vb - (py + 0.5f)) / (vb - vt);
        if (is_top && fy > 0.72f) {
            for (int px = a; px < b; px++) put(row + px * 3, ca->top);
            continue;
        }
        int ty = c->oy - py;
        if (ca->cache) {
            memcpy(row + a * 3, ca->cache->wall[ty & 63] + ((a + c->ox) & 63) * 3, (size_t)(b - a) * 3);
            continue;
        }
        for (int px = a; px < b; px++) put(row + px * 3, is_speckle(px + c->ox, ty) ? ca->dark : ca->mid);
    }
}

static void fill_lava(const canvas *c, int a, int b, int r0, int r1) {
    game_rgb base = {230, 80, 20}, hot = {255, 170, 40};
    for (int py = r0; py < r1; py++) {
        uint8_t *row = c->img + (size_t)py * GAME_OBS * 3;
        int ty = c->oy - py;
        for (int px = a; px < b; px++) put(row + px * 3, (hash2(px + c->ox, ty) >> 29) == 0 ? hot : base);
    }
}

/* ---- shapes ------------------------------------------------------------- */

typedef int (*shade_fn)(const void *arg, float fx, float fy, int tx, int ty, game_rgb *out);

/* Draws the world rectangle [x0,x1] x [y0,y1]; fx, fy in [0,1) measured from
 * the left and from the BOTTOM. alpha256 < 256 blends. */
static void draw_rect(const canvas *c, float x0, float x1, float y0, float y1, shade_fn fn, const void *arg,
                      int alpha256) {
    float u0 = to_u(c, x0), u1 = to_u(c, x1), vt = to_v(c, y1), vb = to_v(c, y0);
    int a, b, r0, r1;
    span(u0, u1, &a, &b);
    span(vt, vb, &r0, &r1);
    if (a >= b || r0 >= r1) return;
    float iw = 1.0f / (u1 - u0), ih = 1.0f / (vb - vt);
    for (int py = r0; py < r1; py++) {
        float fy = (vb - (py + 0.5f)) * ih;
        uint8_t *row = c->img + (size_t)py * GAME_OBS * 3;
        for (int px = a; px < b; px++) {
            float fx = (px + 0.5f - u0) * iw;
            game_rgb col;
            if (!fn(arg, fx, fy, px + c->ox, c->oy - py, &col)) continue;
            uint8_t *p = row + px * 3;
            if (alpha256 >= 256) {
                put(p, col);
            } else {
                game_rgb d = {p[0], p[1], p[2]};
                put(p, mix(d, col, alpha256));
            }
        }
    }
}

typedef struct {
    int is_top;
} lava_arg;

static int shade_lava(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    const lava_arg *l = v;
    if (l->is_top) {
        float wave = 0.62f + 0.08f * sinf(fx * 12.566f);
        if (fy > wave) return 0;
    }
    game_rgb base = {230, 80, 20}, hot = {255, 170, 40};
    *out = (hash2(tx, ty) >> 29) == 0 ? hot : base;
    return 1;
}

static int shade_coin(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)v;
    (void)tx;
    (void)ty;
    float dx = fx - 0.5f, dy = fy - 0.5f, r2 = dx * dx + dy * dy;
    if (r2 > 0.36f * 0.36f) return 0;
    *out = r2 > 0.26f * 0.26f ? (game_rgb){200, 150, 20} : (game_rgb){255, 215, 50};
    if (fabsf(dx) < 0.05f && fabsf(dy) < 0.15f) *out = (game_rgb){200, 150, 20};
    return 1;
}

typedef struct {
    int frame;
} saw_arg;

static int shade_saw(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)tx;
    (void)ty;
    const saw_arg *s = v;
    float dx = fx - 0.5f, dy = fy - 0.5f, r2 = dx * dx + dy * dy;
    if (r2 > 0.49f * 0.49f) return 0;
    if (r2 < 0.14f * 0.14f) {
        *out = (game_rgb){60, 60, 70};
        return 1;
    }
    if (r2 > 0.34f * 0.34f) {
        /* teeth: alternating octants, shifted by one octant per frame */
        int oct = (dx > 0) * 4 + (dy > 0) * 2 + (fabsf(dx) > fabsf(dy));
        int tooth = (oct + s->frame) & 1;
        if (!tooth) return 0;
        *out = (game_rgb){215, 215, 225};
        return 1;
    }
    *out = (game_rgb){170, 170, 185};
    return 1;
}

typedef struct {
    int skin;
} crate_arg;

static int shade_crate(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)tx;
    (void)ty;
    const crate_arg *c = v;
    game_rgb wood = {190, 130, 70}, edge = {110, 70, 35};
    float e = fx < fy ? fx : fy, e2 = (1 - fx) < (1 - fy) ? 1 - fx : 1 - fy;
    float border = e < e2 ? e : e2;
    switch (c->skin) {
    case 0: /* boxCrate: border and an X */
        *out = (border < 0.12f || fabsf(fx - fy) < 0.08f || fabsf(fx + fy - 1) < 0.08f) ? edge : wood;
        break;
    case 1: /* double: two borders */
        *out = (border < 0.1f || (border > 0.2f && border < 0.28f)) ? edge : (game_rgb){200, 150, 90};
        break;
    case 2: /* single: border and a middle plank */
        *out = (border < 0.12f || fabsf(fy - 0.5f) < 0.07f) ? edge : (game_rgb){170, 115, 60};
        break;
    default: /* warning: yellow/black stripes inside a border */
        if (border < 0.12f)
            *out = (game_rgb){60, 60, 60};
        else
            *out = (((int)((fx + fy) * 5)) & 1) ? (game_rgb){30, 30, 30} : (game_rgb){240, 200, 30};
        break;
    }
    return 1;
}

static int shade_trail(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)v;
    (void)tx;
    (void)ty;
    float dx = fx - 0.5f, dy = fy - 0.5f;
    if (dx * dx + dy * dy > 0.25f) return 0;
    *out = (game_rgb){255, 255, 255};
    return 1;
}

typedef struct {
    game_rgb body;
    int frame, mirror, theme;
} enemy_arg;

static int shade_enemy(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)tx;
    (void)ty;
    const enemy_arg *a = v;
    if (a->mirror) fx = 1 - fx; /* unmirrored enemies face left */
    float h = a->frame == 1 ? 0.62f : 0.5f, w = a->frame == 1 ? 0.42f : 0.47f;
    float dx = (fx - 0.5f) / w, dy = fy / h;
    if (dx * dx + dy * dy > 1) return 0;
    game_rgb c = a->body;
    switch (a->theme % 3) {
    case 1: /* spots */
        if (((int)(fx * 5) + (int)(fy * 5)) % 3 == 0 && fy > 0.12f) c = mix(c, (game_rgb){0, 0, 0}, 150);
        break;
    case 2: /* segments */
        if (((int)(fx * 6)) & 1) c = mix(c, (game_rgb){255, 255, 255}, 60);
        break;
    default: break;
    }
    /* eye towards the facing side (left in sprite space) */
    float ex = fx - 0.3f, ey = fy - h * 0.6f;
    if (ex * ex + ey * ey < 0.09f * 0.09f) c = (game_rgb){255, 255, 255};
    if (ex * ex + ey * ey < 0.04f * 0.04f) c = (game_rgb){0, 0, 0};
    *out = c;
    return 1;
}

typedef struct {
    game_rgb body;
    int pose; /* 0 stand, 1 walk 1, 2 walk 2 */
    int mirror;
} agent_arg;

static int shade_agent(const void *v, float fx, float fy, int tx, int ty, game_rgb *out) {
    (void)tx;
    (void)ty;
    const agent_arg *a = v;
    if (a->mirror) fx = 1 - fx; /* unmirrored faces right */
    game_rgb dark = mix(a->body, (game_rgb){0, 0, 0}, 110);
    /* sprite rect is 1 x 2.0156 world units; the body fills the lower ~60% */
    if (fy < 0.09f) { /* legs */
        int leg = 0;
        if (a->pose == 0) leg = (fx > 0.3f && fx < 0.43f) || (fx > 0.57f && fx < 0.7f);
        else if (a->pose == 1) leg = (fx > 0.18f && fx < 0.33f) || (fx > 0.67f && fx < 0.82f);
        else leg = (fx > 0.38f && fx < 0.62f);
        if (!leg) return 0;
        *out = dark;
        return 1;
    }
    if (fy < 0.36f) { /* body */
        if (fx < 0.22f || fx > 0.78f) return 0;
        *out = a->body;
        if (fy < 0.12f) *out = dark;
        return 1;
    }
    float dx = (fx - 0.5f), dy = (fy - 0.46f) * 2.0156f;
    if (dx * dx + dy * dy > 0.3f * 0.3f) return 0; /* head */
    game_rgb c = a->body;
    float ex = fx - 0.64f, ey = (fy - 0.48f) * 2.0156f;
    if (ex * ex + ey * ey < 0.1f * 0.1f) c = (game_rgb){255, 255, 255};
    if ((ex - 0.03f) * (ex - 0.03f) + ey * ey < 0.05f * 0.05f) c = (game_rgb){20, 20, 20};
    *out = c;
    return 1;
}

/* ---- the frame ------------------------------------------------------------ */

void game_render(uint8_t *rgb, const game_level *L, const game_state *s, const game_trails *tr) {
    canvas c = {.img = rgb, .cx = s->agent.x, .cy = s->agent.y};
    c.ox = (int)floorf(0.5f - 32.0f + c.cx * SCALE);
    c.oy = (int)floorf(c.cy * SCALE + 31.5f);
    memset(rgb, 0, GAME_OBS_BYTES);

    cell_art ca;
    game_art_bg(L->mode == GAME_EASY ? 0 : L->bg_index, &ca.st);
    ca.H = (int)(64 * SCALE); /* texel rows covering world y in [0, 64] */
    ca.shift = (int)(64.0f * L->bg_pct_x * 0.5f * SCALE); /* world-anchored offset (image aspect 1.5) */
    game_art_wall(L->mode == GAME_EASY ? 0 : L->wall_theme, &ca.mid, &ca.dark, &ca.top);
    ca.cache = bg_cache_get(L->mode == GAME_EASY ? 0 : L->bg_index, ca.shift);
    pthread_once(&speckle_once, speckle_make);
    if (ca.cache) wall_tile(ca.cache, &ca, L->mode == GAME_EASY ? 0 : L->wall_theme);
    int i0 = (int)floorf(c.cx - 7.5f), i1 = (int)floorf(c.cx + 7.5f);
    int j0 = (int)floorf(c.cy - 7.5f), j1 = (int)floorf(c.cy + 7.5f);
    for (int j = j0; j <= j1; j++) {
        float vt = to_v(&c, (float)(j + 1)), vb = to_v(&c, (float)j);
        int r0, r1;
        span(vt, vb, &r0, &r1);
        if (r0 >= r1) continue;
        for (int i = i0; i <= i1; i++) {
            int a, b;
            span(to_u(&c, (float)i), to_u(&c, (float)(i + 1)), &a, &b);
            if (a >= b) continue;
            int t = game_cell(L, i, j);
            switch (t) {
            case GAME_WALL_MID:
            case GAME_WALL_TOP: fill_wall(&c, &ca, t == GAME_WALL_TOP, vt, vb, a, b, r0, r1); break;
            case GAME_LAVA_MID: fill_lava(&c, a, b, r0, r1); break;
            case GAME_LAVA_TOP: {
                fill_background(&c, &ca, a, b, r0, r1);
                lava_arg la = {1};
                draw_rect(&c, (float)i, (float)(i + 1), (float)j, (float)(j + 1), shade_lava, &la, 256);
                break;
            }
            case GAME_GOAL:
                fill_background(&c, &ca, a, b, r0, r1);
                draw_rect(&c, (float)i, (float)(i + 1), (float)j, (float)(j + 1), shade_coin, NULL, 256);
                break;
            default: fill_background(&c, &ca, a, b, r0, r1);
            }
        }
    }

    /* z = 0: saws and crates in creation order, then trails oldest first */
    saw_arg sa = {(s->time % 2 == 0) ? 1 : 2};
    for (int k = 0; k < L->nstatics; k++) {
        const game_static *m = &L->statics[k];
        if (fabsf(m->x - c.cx) > 8 || fabsf(m->y - c.cy) > 8) continue;
        if (m->type == GAME_ENT_SAW) {
            draw_rect(&c, m->x - 0.5f, m->x + 0.5f, m->y - 0.5f, m->y + 0.5f, shade_saw, &sa, 256);
        } else {
            crate_arg ca = {m->theme};
            draw_rect(&c, m->x - 0.5f, m->x + 0.5f, m->y - 0.5f, m->y + 0.5f, shade_crate, &ca, 256);
        }
    }
    if (tr) {
        for (int age = tr->count - 1; age >= 0; age--) {
            int slot = ((tr->head - age) % GAME_TRAIL_LIFE + GAME_TRAIL_LIFE) % GAME_TRAIL_LIFE;
            float rx = 0.3f, ry = 0.2f, alpha = 0.5f, dy = 0;
            for (int k = 0; k < age; k++) {
                dy = dy + 0.01f;
                rx = rx * 1.05f;
                ry = ry * 1.05f;
                alpha = alpha * 0.8f;
            }
            for (int e = L->nenemies - 1; e >= 0; e--) {
                float x = tr->x[slot][e], y = tr->y[slot][e] + dy;
                if (fabsf(x - c.cx) > 8 || fabsf(y - c.cy) > 8) continue;
                draw_rect(&c, x - rx, x + rx, y - ry, y + ry, shade_trail, NULL, (int)(alpha * 256));
            }
        }
    }

    /* z = 1: the agent, then enemies over it */
    agent_arg aa = {.body = game_art_player(L->mode == GAME_EASY ? 0 : L->player_theme), .mirror = s->mirror};
    if (fabsf(s->agent.vx) < 0.01f && s->ax == 0 && s->has_support)
        aa.pose = 0;
    else if ((s->time / 5) % 2 == 0 || !s->has_support)
        aa.pose = 1;
    else
        aa.pose = 2;
    float ax = s->agent.x, ay = s->agent.y;
    draw_rect(&c, ax - 0.5f, ax + 0.5f, ay - GAME_ARY, ay + 1.43691f, shade_agent, &aa, 256);
    for (int e = 0; e < L->nenemies; e++) {
        const game_body *b = &s->enemy[e];
        if (fabsf(b->x - c.cx) > 8 || fabsf(b->y - c.cy) > 8) continue;
        enemy_arg ea = {.body = game_art_enemy(L->enemy_theme[e]),
                        .frame = ((s->time / 5) % 2 == 0) ? 1 : 2,
                        .mirror = s->time > 0 && b->vx > 0,
                        .theme = L->enemy_theme[e]};
        draw_rect(&c, b->x - 0.5f, b->x + 0.5f, b->y - 0.5f, b->y + 0.5f, shade_enemy, &ea, 256);
    }
}

/* ---- trails --------------------------------------------------------------- */

void game_trails_reset(game_trails *t) {
    t->count = 0;
    t->head = GAME_TRAIL_LIFE - 1;
}

void game_trails_update(game_trails *t, const game_level *L, const game_state *s) {
    t->head = (t->head + 1) % GAME_TRAIL_LIFE;
    for (int e = 0; e < L->nenemies; e++) {
        t->x[t->head][e] = s->enemy[e].x;
        t->y[t->head][e] = (float)((double)s->enemy[e].y - 0.5 * 0.5);
    }
    if (t->count < GAME_TRAIL_LIFE) t->count++;
}
