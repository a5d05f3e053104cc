/* test_render.c - rendering: the camera (agent centred, cells where the
 * formula puts them, the 0.02 overdraw, checked against a slow per-pixel
 * painter that follows procgen's cell loop literally), animation rules
 * (facing, poses, saw and enemy frames), hard-mode themes, trails, the map,
 * PNG output, threads, and golden hashes of real frames.
 *
 * When the art changes on purpose the golden test prints how to regenerate
 * tests/golden_render.inc (COINBC_PRINT_GOLDEN=1). */
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "game/art.h"
#include "game/internal.h"

#define S (64.0f / 13.0f)

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const uint8_t *px(const uint8_t *rgb, int x, int y) { return rgb + ((size_t)y * CB_FRAME_W + x) * 3; }
static int same(const uint8_t *a, const uint8_t *b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

/* A hand-built level: border walls, an empty inside, no entities. */
static void blank_level(game_level *L, game_state *s, int mode) {
    memset(L, 0, sizeof *L);
    memset(s, 0, sizeof *s);
    L->mode = mode;
    L->bg_pct_x = 0.3f;
    for (int y = 0; y < GAME_H; y++)
        for (int x = 0; x < GAME_W; x++)
            L->grid[y][x] = (x == 0 || y == 0 || x == GAME_W - 1 || y == GAME_H - 1) ? GAME_WALL_MID : GAME_SPACE;
    L->goal_x = L->goal_y = -1;
    s->agent.x = 20.5f;
    s->agent.y = 20.6f;
    s->has_support = 1;
}

/* pixels that differ between two frames, and their bounding box */
static int diff_box(const uint8_t *a, const uint8_t *b, int *x0, int *x1, int *y0, int *y1) {
    int n = 0;
    *x0 = *y0 = 64;
    *x1 = *y1 = -1;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            if (!same(px(a, x, y), px(b, x, y))) {
                n++;
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
    return n;
}

/* ---- the cell layer against a literal per-pixel painter ------------------------ */

static void ref_texel(const game_art_tables *A, int wall, int kind, int j, int px_, int py, int ox, int oy, float cy,
                      uint8_t *out) {
    int ty = oy - py;
    unsigned tx = (unsigned)(px_ + ox) & 63u, t63 = (unsigned)ty & 63u;
    float wy = cy - ((float)py + 0.5f - 32.0f) / S, fy = wy - (float)j;
    const uint8_t *src = NULL;
    switch (kind) {
    case GAME_WALL_MID: src = A->wall[wall][t63]; break;
    case GAME_WALL_TOP:
        src = fy >= ART_GRASS_Y ? A->grass[wall][0] : (fy >= ART_EDGE_Y ? A->grass[wall][1] : A->wall[wall][t63]);
        break;
    case GAME_LAVA_MID: src = A->lava[t63]; break;
    case GAME_LAVA_TOP:
        if (fy < ART_LAVA_Y0) src = A->lava[t63];
        else if (fy < ART_LAVA_Y1) {
            float h = A->wave[tx];
            src = fy < h - 0.14f ? A->lava[t63] : (fy < h ? A->lava_surf : NULL);
        }
        break;
    default: break;
    }
    if (src) memcpy(out, src + tx * 3, 3);
}

/* Background, then every cell int(c-7.5)..int(c+7.5), x outer and y inner,
 * over its rectangle grown by 0.02, a pixel at a time. */
static void ref_cells(uint8_t *rgb, const game_level *L, float cx, float cy) {
    const game_art_tables *A = game_art();
    int easy = L->mode == GAME_EASY, wall = easy ? 0 : L->wall_theme;
    const uint8_t *bg = game_art_bg(easy ? 0 : L->bg_index);
    int ox = (int)floorf(cx * S - 31.5f), oy = (int)floorf(cy * S + 31.5f);
    int bgx = (int)floorf(64.0f * L->bg_pct_x * 0.5f * S);
    for (int py = 0; py < 64; py++)
        for (int x = 0; x < 64; x++) {
            int ty = oy - py;
            uint8_t *o = rgb + ((size_t)py * 64 + x) * 3;
            if (ty >= 0 && ty < ART_BG_H)
                memcpy(o, bg + (size_t)ty * ART_BG_ROW + ((unsigned)(x + ox + bgx) % ART_BG_PERIOD) * 3, 3);
            else
                o[0] = o[1] = o[2] = 0;
        }
    for (int i = (int)floorf(cx - 7.5f); i <= (int)floorf(cx + 7.5f); i++)
        for (int j = (int)floorf(cy - 7.5f); j <= (int)floorf(cy + 7.5f); j++) {
            int t = game_cell(L, i, j);
            float u0 = (i - 0.02f - cx) * S + 32, u1 = (i + 1 + 0.02f - cx) * S + 32;
            float v0 = (cy - (j + 1 + 0.02f)) * S + 32, v1 = (cy - (j - 0.02f)) * S + 32;
            for (int py = 0; py < 64; py++)
                for (int x = 0; x < 64; x++) {
                    int inx = x >= (int)ceilf(u0 - 0.5f) && x < (int)ceilf(u1 - 0.5f);
                    int iny = py >= (int)ceilf(v0 - 0.5f) && py < (int)ceilf(v1 - 0.5f);
                    if (inx && iny) ref_texel(A, wall, t, j, x, py, ox, oy, cy, rgb + ((size_t)py * 64 + x) * 3);
                }
        }
}

static void test_cells_match_painter(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_rng r;
    cb_rng_seed(&r, 12345);
    static const uint8_t K[] = {GAME_SPACE, GAME_SPACE, GAME_SPACE, GAME_WALL_MID, GAME_WALL_TOP,
                                GAME_LAVA_MID, GAME_LAVA_TOP, GAME_ENEMY_BARRIER};
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    int mismatches = 0, frames = 0;
    for (int lev = 0; lev < 6; lev++) {
        blank_level(&L, &s, lev % 2 ? GAME_HARD : GAME_EASY);
        L.wall_theme = lev % ART_NWALL;
        L.bg_index = (lev * 11) % ART_NBG;
        L.bg_pct_x = cb_rng_uniformf(&r);
        for (int y = 0; y < GAME_H; y++)
            for (int x = 0; x < GAME_W; x++) L.grid[y][x] = K[cb_rng_below(&r, sizeof K)];
        for (int k = 0; k < 60; k++, frames++) {
            /* the camera anywhere, including outside the grid */
            s.agent.x = -3.0f + 70.0f * cb_rng_uniformf(&r);
            s.agent.y = -3.0f + 70.0f * cb_rng_uniformf(&r);
            game_render(a, &L, &s, NULL);
            ref_cells(b, &L, s.agent.x, s.agent.y);
            /* compare outside the agent's sprite rectangle */
            int c0 = (int)ceilf((-0.5f) * S + 32 - 0.5f), c1 = (int)ceilf(0.5f * S + 32 - 0.5f);
            int r0 = (int)ceilf(-1.43691f * S + 32 - 0.5f), r1 = (int)ceilf(GAME_ARY * S + 32 - 0.5f);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++) {
                    if (x >= c0 && x < c1 && y >= r0 && y < r1) continue;
                    if (!same(px(a, x, y), px(b, x, y))) {
                        if (mismatches < 5)
                            printf("level %d frame %d camera (%.6f, %.6f): pixel (%d, %d) differs\n", lev, k,
                                   (double)s.agent.x, (double)s.agent.y, x, y);
                        mismatches++;
                    }
                }
        }
    }
    assert_int_equal(frames, 360);
    assert_int_equal(mismatches, 0);
}

/* ---- camera and geometry ------------------------------------------------------- */

static void test_agent_centred(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_HARD);
    static const float pos[][2] = {{20.5f, 20.6f}, {20.13f, 7.77f}, {33.91f, 40.05f}};
    for (int k = 0; k < 3; k++) {
        s.agent.x = pos[k][0];
        s.agent.y = pos[k][1];
        L.player_theme = 0;
        game_render(a, &L, &s, NULL);
        L.player_theme = 1;
        game_render(b, &L, &s, NULL);
        /* the pixels that change with the player's colour are the alien's:
         * inside its sprite rectangle, columns 30..33 (u in [29.54, 34.46]),
         * the body in the lower part: rows 25..34 (v in [24.93, 34.85]) */
        int x0, x1, y0, y1;
        assert_true(diff_box(a, b, &x0, &x1, &y0, &y1) > 6);
        assert_int_equal(x0, 30);
        assert_int_equal(x1, 33);
        assert_true(y0 >= 25 && y1 <= 34);
        assert_true(y0 >= 27); /* the body fills the lower ~60% of the rect */
        assert_int_equal(y1, 34);
    }
}

static void test_wall_columns(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_EASY);
    /* a wall cell right of the agent, at several sub-pixel offsets */
    for (int k = 0; k < 40; k++) {
        s.agent.x = 20.5f + (float)k * 0.0123f;
        s.agent.y = 20.6f + (float)k * 0.0071f;
        L.grid[20][22] = GAME_SPACE;
        game_render(a, &L, &s, NULL);
        L.grid[20][22] = GAME_WALL_MID;
        game_render(b, &L, &s, NULL);
        /* the cell [22, 23] x [20, 21] grown by 0.02 (docs/SPEC.md 5.2), pixel centres inside */
        double u0 = (22 - 0.02 - s.agent.x) * 64.0 / 13.0 + 32, u1 = (23 + 0.02 - s.agent.x) * 64.0 / 13.0 + 32;
        double v0 = (s.agent.y - 21.02) * 64.0 / 13.0 + 32, v1 = (s.agent.y - 19.98) * 64.0 / 13.0 + 32;
        int ex0 = (int)ceil(u0 - 0.5), ex1 = (int)ceil(u1 - 0.5) - 1, ey0 = (int)ceil(v0 - 0.5), ey1 = (int)ceil(v1 - 0.5) - 1;
        int x0, x1, y0, y1, n = diff_box(a, b, &x0, &x1, &y0, &y1);
        assert_int_equal(n, (ex1 - ex0 + 1) * (ey1 - ey0 + 1));
        assert_int_equal(x0, ex0);
        assert_int_equal(x1, ex1);
        assert_int_equal(y0, ey0);
        assert_int_equal(y1, ey1);
    }
    /* the left border wall of a real level: x < 1 left of the agent at x = 1.5 */
    s.agent.x = 1.5f;
    game_render(a, &L, &s, NULL);
    L.grid[20][0] = GAME_SPACE;
    L.grid[21][0] = GAME_SPACE;
    game_render(b, &L, &s, NULL);
    int x0, x1, y0, y1;
    assert_true(diff_box(a, b, &x0, &x1, &y0, &y1) > 0);
    assert_int_equal(x1, 29); /* u(1.02) = 29.64: columns up to 29 */
}

/* ---- animation -------------------------------------------------------------------- */

static int white_in_agent(const uint8_t *rgb, int *xsum) {
    int n = 0;
    *xsum = 0;
    for (int y = 25; y < 35; y++)
        for (int x = 30; x < 34; x++)
            if (same(px(rgb, x, y), (const uint8_t *)"\xff\xff\xff")) n++, *xsum += x;
    return n;
}

static void test_mirror_and_pose(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_EASY);
    int na, nb, xa, xb;
    s.mirror = 0;
    game_render(a, &L, &s, NULL);
    s.mirror = 1;
    game_render(b, &L, &s, NULL);
    na = white_in_agent(a, &xa);
    nb = white_in_agent(b, &xb);
    assert_true(na > 0 && nb > 0);
    assert_true(xa >= 32 * na); /* the eye looks right ... */
    assert_true(xb <= 31 * nb); /* ... and left when mirrored */

    /* stand (supported, idle) vs walk 1 vs walk 2 */
    game_state st1 = s, w1 = s, w2 = s;
    st1.ax = 0, st1.agent.vx = 0, st1.time = 3;
    w1.ax = 1, w1.agent.vx = 0.2f, w1.time = 3;
    w2 = w1, w2.time = 7;
    uint8_t c[CB_FRAME_BYTES];
    game_render(a, &L, &st1, NULL);
    game_render(b, &L, &w1, NULL);
    game_render(c, &L, &w2, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(b, c, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    /* |vx| >= 0.01 walks even without input; in the air always walk 1 */
    st1.agent.vx = 0.02f;
    game_render(c, &L, &st1, NULL);
    assert_memory_equal(b, c, sizeof a);
    w2.has_support = 0;
    game_render(c, &L, &w2, NULL);
    assert_memory_equal(b, c, sizeof a);
    /* after a reset (time 0, no support) walk 1 facing right */
    game_state r0 = s;
    r0.time = 0, r0.has_support = 0, r0.mirror = 0, r0.ax = 0;
    game_render(c, &L, &r0, NULL);
    w1.mirror = 0;
    game_render(b, &L, &w1, NULL);
    assert_memory_equal(b, c, sizeof a);
}

static void test_saw_frames(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES], c[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_EASY);
    L.nstatics = 1;
    L.statics[0] = (game_static){GAME_ENT_SAW, 0, 22.5f, 20.5f};
    for (int t = 0; t < 4; t++) { /* (time / 5) stays 0: only the saw can change */
        s.time = t;
        game_render(t % 2 ? b : a, &L, &s, NULL);
        if (t >= 2) {
            game_state s2 = s;
            s2.time = t - 2;
            game_render(c, &L, &s2, NULL);
            assert_memory_equal(t % 2 ? b : a, c, sizeof c);
        }
    }
    int x0, x1, y0, y1;
    assert_true(diff_box(a, b, &x0, &x1, &y0, &y1) > 0);
    assert_true(x0 >= 39 && x1 <= 44); /* inside the saw's box [22, 23]: u in [39.38, 44.31] */
}

static void test_enemy_frames(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_HARD);
    L.nenemies = 1;
    L.enemy_theme[0] = 2;
    s.enemy[0] = (game_body){23.5f, 20.5f, 0.15f, 0};
    /* at reset: frame 1, not mirrored even when moving right */
    s.time = 0;
    game_render(a, &L, &s, NULL);
    s.enemy[0].vx = -0.15f;
    game_render(b, &L, &s, NULL);
    assert_memory_equal(a, b, sizeof a);
    /* later: mirrored exactly when moving right */
    s.time = 1;
    game_render(b, &L, &s, NULL);
    assert_memory_equal(a, b, sizeof a);
    s.enemy[0].vx = 0.15f;
    game_render(b, &L, &s, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    /* frame 2 when (time / 5) is odd */
    s.enemy[0].vx = -0.15f;
    s.time = 4;
    game_render(a, &L, &s, NULL);
    s.time = 5;
    game_render(b, &L, &s, NULL);
    int x0, x1, y0, y1;
    assert_true(diff_box(a, b, &x0, &x1, &y0, &y1) > 0);
    assert_true(x0 >= 44 && x1 <= 49); /* the enemy's box [23, 24]: u in [44.31, 49.23] */
    s.time = 19;
    game_render(a, &L, &s, NULL);
    assert_memory_equal(a, b, sizeof a);
}

/* ---- themes ------------------------------------------------------------------------ */

static void test_themes(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    static uint8_t f[ART_NBG][CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_HARD);
    for (int x = 10; x < 30; x++) L.grid[17][x] = GAME_WALL_TOP, L.grid[16][x] = GAME_WALL_MID;
    L.nstatics = 1;
    L.nenemies = 1;
    s.enemy[0] = (game_body){18.5f, 18.5f, 0, 0};
    L.statics[0] = (game_static){GAME_ENT_CRATE, 0, 22.5f, 18.5f};
    s.agent.y = 18.58f;
#define DISTINCT(n, field)                                                                             \
    do {                                                                                               \
        for (int k = 0; k < (n); k++) {                                                                \
            field = k;                                                                                 \
            game_render(f[k], &L, &s, NULL);                                                           \
            for (int m = 0; m < k; m++) assert_memory_not_equal(f[k], f[m], CB_FRAME_BYTES);           \
        }                                                                                              \
        field = 0;                                                                                     \
    } while (0)
    DISTINCT(ART_NBG, L.bg_index);
    DISTINCT(ART_NWALL, L.wall_theme);
    DISTINCT(ART_NPLAYER, L.player_theme);
    DISTINCT(ART_NENEMY, L.enemy_theme[0]);
    DISTINCT(ART_NCRATE, L.statics[0].theme);
    /* ground colours differ between themes where the ground is (row 38) */
    L.wall_theme = 0;
    game_render(f[0], &L, &s, NULL);
    L.wall_theme = 4;
    game_render(f[1], &L, &s, NULL);
    for (int x = 0; x < 64; x += 7) assert_false(same(px(f[0], x, 38), px(f[1], x, 38)));
    /* easy mode has one look whatever the level's theme draws say */
    L.mode = GAME_EASY;
    game_render(f[0], &L, &s, NULL);
    L.bg_index = 17, L.wall_theme = 3, L.player_theme = 2;
    game_render(f[1], &L, &s, NULL);
    assert_memory_equal(f[0], f[1], CB_FRAME_BYTES);
}

/* ---- trails ------------------------------------------------------------------------ */

static void test_trails(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    static game_trails tr;
    uint8_t a[CB_FRAME_BYTES], b[CB_FRAME_BYTES];
    blank_level(&L, &s, GAME_EASY);
    L.nenemies = 2;
    s.enemy[0] = (game_body){23.5f, 20.5f, 0.15f, 0};
    s.enemy[1] = (game_body){60.5f, 50.5f, 0.15f, 0};
    game_trails_reset(&tr);
    assert_int_equal(tr.count, 0);
    game_trails_update(&tr, &L, &s);
    assert_int_equal(tr.count, 1);
    assert_true(tr.x[tr.head][0] == 23.5f && tr.y[tr.head][0] == 20.25f);
    /* the enemy walks off-screen; its trail stays and fades, one step at a time */
    s.enemy[0].x = 60.5f;
    game_render(b, &L, &s, NULL);
    int prev = 1 << 30;
    for (int age = 0; age < GAME_TRAIL_LIFE + 2; age++) {
        game_render(a, &L, &s, &tr);
        int gain = 0, x0, x1, y0, y1;
        int n = diff_box(a, b, &x0, &x1, &y0, &y1);
        for (int i = 0; i < CB_FRAME_BYTES; i++) gain = a[i] - b[i] > gain ? a[i] - b[i] : gain; /* alpha */
        if (age < GAME_TRAIL_LIFE) {
            assert_true(n > 0);
            assert_true(gain > 0 && gain < prev); /* a white disc that fades */
            assert_true(x0 >= 43 && x1 <= 51);    /* around the spawn x = 23.5 (u = 46.77) */
            prev = gain;
        } else {
            assert_int_equal(n, 0); /* gone after 9 frames */
        }
        game_trails_update(&tr, &L, &s);
    }
    assert_int_equal(tr.count, GAME_TRAIL_LIFE);
}

/* ---- map and PNG ------------------------------------------------------------------- */

static int read_png(const char *path, uint8_t **out, int *w, int *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return -1;
    im.format = PNG_FORMAT_RGB;
    *out = malloc(PNG_IMAGE_SIZE(im));
    if (!*out || !png_image_finish_read(&im, NULL, *out, 0, NULL)) return -1;
    *w = (int)im.width;
    *h = (int)im.height;
    return 0;
}

static void test_map_and_png(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 3, GAME_HARD, &e), 0);
    int n = 64 * 4;
    uint8_t *rgb = malloc((size_t)n * n * 3);
    assert_non_null(rgb);
    game_render_map(rgb, 4, &L, &s);
    /* the coin's centre is gold */
    const uint8_t *g = rgb + (((size_t)(n - 4 * L.goal_y - 2) * n) + (size_t)(4 * L.goal_x + 2)) * 3;
    assert_true(g[0] > 190 && g[1] > 130 && g[2] < 60);
    /* round trip through a file */
    char dir[] = "/tmp/coinbc_png_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/map.png", dir);
    assert_int_equal(game_write_png(path, rgb, n, n, &e), 0);
    uint8_t *back = NULL;
    int w = 0, h = 0;
    assert_int_equal(read_png(path, &back, &w, &h), 0);
    assert_int_equal(w, n);
    assert_int_equal(h, n);
    assert_memory_equal(back, rgb, (size_t)n * n * 3);
    free(back);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
    /* an unwritable path: a clear error naming it */
    assert_true(game_write_png("/nonexistent_dir/m.png", rgb, n, n, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent_dir/m.png"));
    free(rgb);
}

/* ---- threads: the shared textures are built once, race-free --------------------------- */

typedef struct {
    int32_t seed;
    uint64_t hash;
} thread_job;

static void *render_job(void *v) {
    thread_job *j = v;
    static __thread game_level L;
    game_state s;
    cb_err e = {0};
    uint64_t h = 0;
    for (int32_t k = 0; k < 8; k++) {
        if (game_level_generate(&L, &s, j->seed + k, GAME_HARD, &e)) return NULL;
        uint8_t rgb[CB_FRAME_BYTES];
        game_render(rgb, &L, &s, NULL);
        h = h * 31 + fnv(rgb, sizeof rgb);
    }
    j->hash = h;
    return NULL;
}

static void test_threads(void **st) {
    (void)st;
    thread_job j[2] = {{100, 0}, {200, 0}}, again[2] = {{100, 0}, {200, 0}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&t[k], NULL, render_job, &j[k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) render_job(&again[k]);
    assert_true(j[0].hash != 0 && j[0].hash == again[0].hash);
    assert_true(j[1].hash != 0 && j[1].hash == again[1].hash);
}

/* ---- golden frames ------------------------------------------------------------------- */
/* Real levels: the reset frame and frames after steps of a fixed action
 * pattern (RIGHT x5, RIGHT+UP x5, ...), and frames with the camera moved onto
 * the first enemy, saw, crate, the coin and lava (shot 1..5), so every kind
 * of art is pinned. */
typedef struct {
    int32_t seed;
    int mode, steps, shot;
    uint64_t hash;
} golden;

static const golden GOLDEN[] = {
#include "tests/golden_render.inc"
};

/* the camera on something (shot 1..5), or -1 when the level has none */
static int place(const game_env *env, int shot, game_state *s) {
    const game_level *L = &env->level;
    switch (shot) {
    case 1:
        if (!L->nenemies) return -1;
        s->agent.x = s->enemy[0].x - 1.5f, s->agent.y = s->enemy[0].y + 0.08f;
        return 0;
    case 2:
    case 3:
        for (int i = 0; i < L->nstatics; i++)
            if (L->statics[i].type == (shot == 2 ? GAME_ENT_SAW : GAME_ENT_CRATE)) {
                s->agent.x = L->statics[i].x - 1.5f, s->agent.y = L->statics[i].y + 0.08f;
                return 0;
            }
        return -1;
    case 4: s->agent.x = (float)L->goal_x - 1.0f, s->agent.y = (float)L->goal_y + 0.6f; return 0;
    case 5:
        for (int y = 0; y < GAME_H; y++)
            for (int x = 0; x < GAME_W; x++)
                if (L->grid[y][x] == GAME_LAVA_TOP) {
                    s->agent.x = (float)x + 0.3f, s->agent.y = (float)y + 2.3f;
                    return 0;
                }
        return -1;
    default: return 0;
    }
}

static void test_golden(void **st) {
    (void)st;
    static const int32_t seeds[] = {0, 1, 5, 160, 720, 5000};
    static const int steps[] = {0, 12, 40};
    static game_env env;
    uint8_t rgb[CB_FRAME_BYTES];
    int print = getenv("COINBC_PRINT_GOLDEN") != NULL, bad = 0, k = 0, ng = (int)(sizeof GOLDEN / sizeof GOLDEN[0]);
    cb_err e = {0};
    for (int mode = 0; mode < 2; mode++)
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
            for (int shot = 0; shot <= 5; shot++)
                for (size_t j = 0; j < (shot ? 1 : sizeof steps / sizeof steps[0]); j++) {
                    int n = shot ? 12 : steps[j];
                    assert_int_equal(game_env_init(&env, seeds[i], mode, &e), 0);
                    for (int t = 0; t < n; t++) game_env_step(&env, ((t / 5) % 2) ? 8 : 7, NULL);
                    game_state s = env.state;
                    if (place(&env, shot, &s)) continue;
                    game_render(rgb, &env.level, &s, &env.trails);
                    uint64_t h = fnv(rgb, sizeof rgb);
                    if (print)
                        printf("    {%d, %d, %d, %d, 0x%016llxull},\n", seeds[i], mode, n, shot, (unsigned long long)h);
                    if (!(k < ng && GOLDEN[k].hash == h && GOLDEN[k].seed == seeds[i] && GOLDEN[k].mode == mode &&
                          GOLDEN[k].steps == n && GOLDEN[k].shot == shot)) {
                        if (bad < 3 && !print)
                            printf("golden frame differs: seed %d mode %d steps %d shot %d: 0x%016llx\n", seeds[i], mode,
                                   n, shot, (unsigned long long)h);
                        bad++;
                    }
                    k++;
                }
    if ((bad || k != ng) && !print)
        printf("%d of %d golden frame hashes differ (table has %d). If the art changed on purpose, look at the\n"
               "new frames (coinbc level --png, coinbc play --frames), then regenerate the table with\n"
               "  COINBC_PRINT_GOLDEN=1 build/tests/test_render | grep '^    {' > tests/golden_render.inc\n",
               bad, k, ng);
    assert_int_equal(k, ng);
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_match_painter),
        cmocka_unit_test(test_agent_centred),
        cmocka_unit_test(test_wall_columns),
        cmocka_unit_test(test_mirror_and_pose),
        cmocka_unit_test(test_saw_frames),
        cmocka_unit_test(test_enemy_frames),
        cmocka_unit_test(test_themes),
        cmocka_unit_test(test_trails),
        cmocka_unit_test(test_map_and_png),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
