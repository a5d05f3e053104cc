/* art.c - coinbc's own flat art, drawn procedurally into textures once per
 * process: the alien (5 colours x 3 poses), enemies (9 creatures x 2 frames),
 * saws (2 rotation frames), crates (4 skins), the coin, the trail disc, the
 * 6 ground themes, lava, and the 62 backgrounds (a palette and a pattern
 * each). Shapes are functions of sprite coordinates evaluated at texel
 * centres; nothing here depends on the level except which table is used. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "game/art.h"

static game_art_tables T;

/* ---- colour helpers -------------------------------------------------------- */

static game_rgb rgb(int r, int g, int b) { return (game_rgb){(uint8_t)r, (uint8_t)g, (uint8_t)b}; }

static game_rgb mixc(game_rgb a, game_rgb b, float t) {
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return rgb((int)lrintf(a.r + (b.r - a.r) * t), (int)lrintf(a.g + (b.g - a.g) * t),
               (int)lrintf(a.b + (b.b - a.b) * t));
}

static game_rgb shade(game_rgb a, float f) { return f < 1 ? mixc(a, rgb(0, 0, 0), 1 - f) : mixc(a, rgb(255, 255, 255), f - 1); }

/* h in degrees, s and v in 0..1 */
static game_rgb hsv(float h, float s, float v) {
    h = fmodf(h, 360.0f);
    if (h < 0) h += 360.0f;
    float c = v * s, x = c * (1 - fabsf(fmodf(h / 60.0f, 2.0f) - 1)), m = v - c, r, g, b;
    if (h < 60) r = c, g = x, b = 0;
    else if (h < 120) r = x, g = c, b = 0;
    else if (h < 180) r = 0, g = c, b = x;
    else if (h < 240) r = 0, g = x, b = c;
    else if (h < 300) r = x, g = 0, b = c;
    else r = c, g = 0, b = x;
    return rgb((int)lrintf((r + m) * 255), (int)lrintf((g + m) * 255), (int)lrintf((b + m) * 255));
}

static uint32_t hash3(uint32_t x, uint32_t y, uint32_t z) {
    uint32_t h = x * 0x9E3779B1u ^ (y + 0x7F4A7C15u) * 0x85EBCA77u ^ (z + 0x165667B1u) * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return h;
}

static float hashf(uint32_t x, uint32_t y, uint32_t z) { return (float)(hash3(x, y, z) >> 8) / 16777216.0f; }

static const float TAU = 6.28318531f;

/* ---- sprites --------------------------------------------------------------- */
/* A shape function gets sprite coordinates with y UP: x in [0, 1) across the
 * box, y in world units above the rect's bottom edge, and returns 1 with a
 * colour where it is opaque. */
typedef int (*shape_fn)(int variant, float x, float y, game_rgb *out);

static void paint(uint8_t (*tex)[ART_SW][4], int h, float height_units, shape_fn fn, int variant) {
    for (int ty = 0; ty < h; ty++)
        for (int tx = 0; tx < ART_SW; tx++) {
            float x = (tx + 0.5f) / ART_SW, y = (h - ty - 0.5f) / h * height_units;
            game_rgb c;
            uint8_t *p = tex[ty][tx];
            if (fn(variant, x, y, &c)) {
                p[0] = c.r, p[1] = c.g, p[2] = c.b, p[3] = 255;
            } else {
                p[0] = p[1] = p[2] = p[3] = 0;
            }
        }
}

static int in_ell(float x, float y, float cx, float cy, float rx, float ry) {
    float dx = (x - cx) / rx, dy = (y - cy) / ry;
    return dx * dx + dy * dy < 1;
}
static int in_box(float x, float y, float x0, float x1, float y0, float y1) { return x >= x0 && x < x1 && y >= y0 && y < y1; }

/* The alien: faces right (the renderer mirrors it). Its rect is 1 x 2.0156
 * units; the body fills the lower ~60% (legs, a round body with a belly
 * patch, a big eye on the facing side, a short antenna). */
static const game_rgb PLAYER[ART_NPLAYER] = {
    {236, 210, 165}, /* Beige */
    {70, 140, 240},  /* Blue */
    {80, 200, 95},   /* Green */
    {245, 120, 185}, /* Pink */
    {250, 215, 50},  /* Yellow */
};

static int shape_agent(int v, float x, float y, game_rgb *out) {
    game_rgb body = PLAYER[v / 3], dark = shade(body, 0.55f), light = shade(body, 1.35f);
    int pose = v % 3;
    if (y < 0.22f) { /* legs */
        int leg;
        if (pose == ART_POSE_STAND) leg = fabsf(x - 0.31f) < 0.11f || fabsf(x - 0.69f) < 0.11f;
        else if (pose == ART_POSE_WALK1) leg = fabsf(x - 0.14f) < 0.12f || fabsf(x - 0.84f) < 0.12f;
        else leg = fabsf(x - 0.52f) < 0.15f || (fabsf(x - 0.28f) < 0.1f && y > 0.12f);
        if (!leg) return 0;
        *out = dark;
        return 1;
    }
    if (in_ell(x, y, 0.5f, 0.66f, 0.42f, 0.48f)) {
        game_rgb c = body;
        if (in_ell(x, y, 0.46f, 0.44f, 0.2f, 0.18f)) c = light;
        if (x < 0.16f || y < 0.28f) c = shade(body, 0.8f);
        if (in_ell(x, y, 0.66f, 0.84f, 0.19f, 0.17f)) c = rgb(255, 255, 255);
        if (in_ell(x, y, 0.74f, 0.84f, 0.1f, 0.1f)) c = rgb(25, 25, 35);
        *out = c;
        return 1;
    }
    if (in_box(x, y, 0.42f, 0.58f, 1.05f, 1.24f)) {
        *out = dark;
        return 1;
    }
    if (in_ell(x, y, 0.5f, 1.3f, 0.13f, 0.09f)) {
        *out = light;
        return 1;
    }
    return 0;
}

/* Enemies face left when not mirrored (they are mirrored when moving right). */
static const game_rgb ENEMY[ART_NENEMY] = {
    {50, 50, 62},    /* slimeBlock: a charcoal block */
    {160, 70, 200},  /* slimePurple */
    {50, 120, 235},  /* slimeBlue */
    {60, 200, 80},   /* slimeGreen */
    {150, 150, 160}, /* mouse */
    {205, 120, 45},  /* snail (shell) */
    {220, 35, 35},   /* ladybug */
    {120, 210, 70},  /* wormGreen */
    {245, 125, 175}, /* wormPink */
};

static int eye(float x, float y, float cx, float cy, float r, game_rgb *c) {
    if (!in_ell(x, y, cx, cy, r, r)) return 0;
    *c = in_ell(x, y, cx - r * 0.35f, cy, r * 0.55f, r * 0.55f) ? rgb(20, 20, 30) : rgb(255, 255, 255);
    return 1;
}

/* Each enemy_* draws one creature in col, frame f2 (0 or 1). */

/* block slime: rounded square, squashed in frame 2 */
static int enemy_block(game_rgb col, int f2, float x, float y, game_rgb *out) {
    game_rgb c;
    float x0 = f2 ? 0.03f : 0.09f, x1 = 1 - x0, y1 = f2 ? 0.66f : 0.8f, r = 0.18f;
    if (!in_box(x, y, x0, x1, 0, y1)) return 0;
    float cx = x < x0 + r ? x0 + r : (x > x1 - r ? x1 - r : x), cy = y > y1 - r ? y1 - r : y;
    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > r * r) return 0;
    c = y > y1 - 0.12f ? shade(col, 1.6f) : col;
    eye(x, y, 0.3f, y1 * 0.6f, 0.13f, &c);
    *out = c;
    return 1;
}

/* dome slimes: a half ellipse with a highlight, a dark rim and an eye */
static int enemy_dome(game_rgb col, int f2, float x, float y, game_rgb *out) {
    game_rgb dark = shade(col, 0.6f), light = shade(col, 1.4f), c;
    float rx = f2 ? 0.5f : 0.44f, ry = f2 ? 0.58f : 0.74f;
    if (!in_ell(x, y, 0.5f, 0, rx, ry)) return 0;
    c = col;
    if (in_ell(x, y, 0.64f, ry * 0.62f, 0.12f, 0.1f)) c = light;
    if (y < 0.1f) c = dark;
    eye(x, y, 0.3f, ry * 0.5f, 0.13f, &c);
    *out = c;
    return 1;
}

/* mouse: body, head, a round ear, a tail that swings */
static int enemy_mouse(game_rgb col, int f2, float x, float y, game_rgb *out) {
    game_rgb c;
    if (y < 0.08f) { /* feet */
        float a = f2 ? 0.42f : 0.3f, b = f2 ? 0.62f : 0.74f;
        if (fabsf(x - a) < 0.07f || fabsf(x - b) < 0.07f) {
            *out = shade(col, 0.6f);
            return 1;
        }
        return 0;
    }
    int tail = f2 ? (x > 0.86f && x < 0.98f && fabsf(y - (0.2f + (x - 0.86f) * 3.0f)) < 0.07f)
                  : (x > 0.86f && fabsf(y - 0.22f) < 0.06f);
    if (tail) {
        *out = rgb(235, 150, 170);
        return 1;
    }
    if (in_ell(x, y, 0.34f, 0.64f, 0.15f, 0.15f)) {
        *out = in_ell(x, y, 0.34f, 0.64f, 0.08f, 0.08f) ? rgb(240, 160, 180) : col;
        return 1;
    }
    if (!in_ell(x, y, 0.58f, 0.3f, 0.32f, 0.24f) && !in_ell(x, y, 0.24f, 0.34f, 0.2f, 0.18f)) return 0;
    c = col;
    if (in_ell(x, y, 0.05f, 0.32f, 0.06f, 0.06f)) c = rgb(240, 140, 160);
    if (in_ell(x, y, 0.18f, 0.4f, 0.06f, 0.06f)) c = rgb(20, 20, 30);
    *out = c;
    return 1;
}

/* snail: a spiral shell on a creeping foot; the head stretches in frame 2 */
static int enemy_snail(game_rgb col, int f2, float x, float y, game_rgb *out) {
    game_rgb c;
    float hx = f2 ? 0.1f : 0.17f;
    if (in_ell(x, y, 0.62f, 0.44f, 0.33f, 0.34f)) { /* shell */
        float dx = x - 0.62f, dy = y - 0.44f, r = sqrtf(dx * dx + dy * dy), a = atan2f(dy, dx);
        float s = fmodf(r / 0.1f - a / TAU + 4.0f, 1.0f);
        *out = s < 0.3f ? shade(col, 0.55f) : col;
        return 1;
    }
    game_rgb foot = rgb(235, 205, 120);
    if (in_box(x, y, hx - 0.05f, 0.96f, 0, 0.14f) || in_ell(x, y, hx, 0.22f, 0.12f, 0.12f)) { /* foot, head */
        c = foot;
        if (in_ell(x, y, hx - 0.04f, 0.24f, 0.045f, 0.045f)) c = rgb(20, 20, 30);
        *out = c;
        return 1;
    }
    if (fabsf(x - (hx + 0.02f)) < 0.03f && y > 0.28f && y < 0.5f) { /* eye stalk */
        *out = shade(foot, 0.7f);
        return 1;
    }
    if (in_ell(x, y, hx + 0.02f, 0.52f, 0.06f, 0.06f)) {
        *out = rgb(20, 20, 30);
        return 1;
    }
    return 0;
}

/* ladybug: a red dome with spots, a black head, stepping legs */
static int enemy_ladybug(game_rgb col, int f2, float x, float y, game_rgb *out) {
    game_rgb c;
    if (y < 0.09f) { /* legs */
        for (int k = 0; k < 3; k++) {
            float lx = 0.3f + 0.2f * k + ((k + f2) % 2 ? 0.06f : -0.06f);
            if (fabsf(x - lx) < 0.045f) {
                *out = rgb(20, 20, 25);
                return 1;
            }
        }
        return 0;
    }
    if (in_ell(x, y, 0.17f, 0.22f, 0.16f, 0.15f)) { /* head */
        c = rgb(25, 25, 30);
        if (in_ell(x, y, 0.12f, 0.27f, 0.05f, 0.05f)) c = rgb(255, 255, 255);
        *out = c;
        return 1;
    }
    if (!in_ell(x, y, 0.57f, 0.08f, 0.42f, 0.62f)) return 0;
    c = col;
    if (fabsf(x - 0.57f) < 0.03f && y > 0.2f) c = rgb(25, 25, 30);
    if (in_ell(x, y, 0.4f, 0.36f, 0.08f, 0.08f) || in_ell(x, y, 0.74f, 0.36f, 0.08f, 0.08f) ||
        in_ell(x, y, 0.5f, 0.55f, 0.07f, 0.07f) || in_ell(x, y, 0.68f, 0.16f, 0.07f, 0.07f))
        c = rgb(25, 25, 30);
    *out = c;
    return 1;
}

/* worms: four segments, arching like an inchworm in frame 2 */
static int enemy_worm(game_rgb col, int f2, float x, float y, game_rgb *out) {
    static const float SX[4] = {0.2f, 0.4f, 0.6f, 0.8f};
    static const float SY1[4] = {0.18f, 0.16f, 0.16f, 0.15f}, SY2[4] = {0.2f, 0.36f, 0.34f, 0.15f};
    game_rgb c;
    for (int k = 0; k < 4; k++) {
        float sy = f2 ? SY2[k] : SY1[k], r = k == 0 ? 0.17f : 0.15f;
        if (in_ell(x, y, SX[k], sy, r, r)) {
            c = k % 2 ? shade(col, 0.82f) : col;
            if (k == 0) eye(x, y, 0.15f, sy + 0.04f, 0.08f, &c);
            *out = c;
            return 1;
        }
    }
    return 0;
}

/* variant v = theme * 2 + frame: picks the creature's drawing */
static int shape_enemy(int v, float x, float y, game_rgb *out) {
    int theme = v / 2, f2 = v % 2;
    game_rgb col = ENEMY[theme];
    switch (theme) {
    case 0: return enemy_block(col, f2, x, y, out);
    case 1:
    case 2:
    case 3: return enemy_dome(col, f2, x, y, out);
    case 4: return enemy_mouse(col, f2, x, y, out);
    case 5: return enemy_snail(col, f2, x, y, out);
    case 6: return enemy_ladybug(col, f2, x, y, out);
    default: return enemy_worm(col, f2, x, y, out);
    }
}

/* A saw: a steel disc with 8 teeth; frame 2 turns it by half a tooth. */
static int shape_saw(int frame2, float x, float y, game_rgb *out) {
    float dx = x - 0.5f, dy = y - 0.5f, r = sqrtf(dx * dx + dy * dy);
    if (r >= 0.5f) return 0;
    if (r < 0.13f) {
        *out = rgb(60, 60, 72);
        return 1;
    }
    if (r < 0.34f) {
        *out = r < 0.3f ? rgb(165, 170, 182) : rgb(120, 124, 138);
        return 1;
    }
    float a = atan2f(dy, dx) / TAU * 8.0f + (frame2 ? 0.5f : 0.0f) + 8.0f;
    float ph = a - floorf(a); /* a tooth: a ramp from the rim out to the tip */
    if (r > 0.34f + 0.16f * (1 - ph)) return 0;
    *out = ph < 0.5f ? rgb(235, 236, 244) : rgb(200, 202, 214);
    return 1;
}

/* crates: boxCrate (an X), double (two frames), single (a plank), warning */
static int shape_crate(int skin, float x, float y, game_rgb *out) {
    float e = fminf(fminf(x, y), fminf(1 - x, 1 - y));
    switch (skin) {
    case 0:
        *out = (e < 0.12f || fabsf(x - y) < 0.09f || fabsf(x + y - 1) < 0.09f) ? rgb(120, 75, 35) : rgb(200, 140, 75);
        break;
    case 1: *out = (e < 0.1f || (e > 0.22f && e < 0.31f)) ? rgb(95, 60, 40) : rgb(175, 120, 80); break;
    case 2: *out = (e < 0.12f || fabsf(y - 0.5f) < 0.09f) ? rgb(115, 95, 60) : rgb(215, 180, 110); break;
    default:
        if (e < 0.12f) *out = rgb(70, 70, 75);
        else *out = ((int)floorf((x + y) * 4.0f) & 1) ? rgb(35, 35, 35) : rgb(245, 200, 30);
    }
    return 1;
}

static int shape_coin(int v, float x, float y, game_rgb *out) {
    (void)v;
    float dx = x - 0.5f, dy = y - 0.5f, r2 = dx * dx + dy * dy;
    if (r2 >= 0.4f * 0.4f) return 0;
    *out = r2 > 0.31f * 0.31f ? rgb(200, 140, 15) : rgb(255, 210, 40);
    if (fabsf(dx) < 0.06f && fabsf(dy) < 0.17f) *out = rgb(215, 155, 20);
    if (in_ell(x, y, 0.38f, 0.64f, 0.07f, 0.07f)) *out = rgb(255, 248, 190);
    return 1;
}

static int shape_disc(int v, float x, float y, game_rgb *out) {
    (void)v;
    if (!in_ell(x, y, 0.5f, 0.5f, 0.5f, 0.5f)) return 0;
    *out = rgb(255, 255, 255);
    return 1;
}

/* ---- ground and lava tiles (world-anchored, period ART_TILE) ---------------- */

static const game_rgb WALL_MID[ART_NWALL] = {
    {140, 95, 60},   /* Dirt */
    {70, 125, 60},   /* Grass */
    {118, 104, 156}, /* Planet */
    {222, 188, 120}, /* Sand */
    {200, 218, 240}, /* Snow */
    {132, 132, 140}, /* Stone */
};
static const game_rgb WALL_TOPC[ART_NWALL] = {
    {110, 190, 70}, {160, 230, 90}, {200, 185, 235}, {246, 228, 168}, {252, 253, 255}, {186, 186, 194},
};

/* texel (x, y) of the interior of ground theme t; x, y in [0, 64), y up */
static game_rgb wall_texel(int t, int x, int y) {
    game_rgb m = WALL_MID[t];
    uint32_t h = hash3((uint32_t)x >> 1, (uint32_t)y >> 1, (uint32_t)t);
    switch (t) {
    case 0: /* dirt: dark clumps and a few pebbles */
        if ((h & 7u) == 0) return shade(m, 0.8f);
        if ((h & 63u) == 1) return shade(m, 1.25f);
        return m;
    case 1: /* grass earth: darker and lighter blades */
        if ((hash3((uint32_t)x, (uint32_t)y >> 2, 9) & 7u) == 0) return shade(m, 0.78f);
        if ((h & 31u) == 3) return shade(m, 1.3f);
        return m;
    case 2: { /* planet rock: craters on a 16-texel lattice */
        int cx = (x & ~15) + 8, cy = (y & ~15) + 8;
        uint32_t k = hash3((uint32_t)x >> 4, (uint32_t)y >> 4, 2);
        float rr = 3.0f + (float)(k % 4u), dx = (float)(x - cx), dy = (float)(y - cy), d = sqrtf(dx * dx + dy * dy);
        if ((k & 16u) && d < rr) return d > rr - 1.2f ? shade(m, 0.72f) : shade(m, 0.88f);
        if ((h & 15u) == 0) return shade(m, 1.15f);
        return m;
    }
    case 3: { /* sand: wavy strata */
        float w = (float)y + 2.0f * sinf(TAU * (float)x / 32.0f);
        int band = (int)floorf(w) & 7;
        return band == 0 ? shade(m, 0.88f) : ((h & 31u) == 0 ? shade(m, 1.08f) : m);
    }
    case 4: /* snow and ice: blue flecks, white sparkles */
        if ((h & 15u) == 0) return shade(m, 0.85f);
        if ((hash3((uint32_t)x, (uint32_t)y, 4) & 63u) == 0) return rgb(255, 255, 255);
        return m;
    default: { /* stone bricks, 16 x 8 texels, staggered rows */
        int row = y >> 3, bx = (x + (row & 1) * 8) & 63;
        if ((y & 7) == 0 || (bx & 15) == 0) return shade(m, 0.7f);
        float v = 0.9f + 0.2f * hashf((uint32_t)(bx >> 4), (uint32_t)row, 5);
        return shade(m, v);
    }
    }
}

static void put_row(uint8_t *row, int x, game_rgb c) {
    row[x * 3] = c.r, row[x * 3 + 1] = c.g, row[x * 3 + 2] = c.b;
}

static void build_tiles(void) {
    for (int t = 0; t < ART_NWALL; t++) {
        for (int y = 0; y < ART_TILE; y++)
            for (int x = 0; x < 2 * ART_TILE; x++) put_row(T.wall[t][y], x, wall_texel(t, x & 63, y));
        game_rgb top = WALL_TOPC[t];
        for (int x = 0; x < 2 * ART_TILE; x++) {
            int xx = x & 63;
            float v = hashf((uint32_t)xx >> 1, 7, (uint32_t)t);
            put_row(T.grass[t][0], x, v < 0.2f ? shade(top, 1.12f) : (v > 0.85f ? shade(top, 0.9f) : top));
            /* the edge: grass hanging down in tufts, ground between them */
            int tuft = (hash3((uint32_t)xx >> 2, 8, (uint32_t)t) & 3u) != 0;
            put_row(T.grass[t][1], x, tuft ? shade(top, 0.78f) : WALL_MID[t]);
        }
    }
    game_rgb lava = rgb(232, 88, 24), hot = rgb(255, 175, 45), deep = rgb(196, 58, 18);
    for (int y = 0; y < ART_TILE; y++)
        for (int x = 0; x < 2 * ART_TILE; x++) {
            int xx = x & 63;
            int cx = (xx & ~7) + 4, cy = (y & ~7) + 4;
            uint32_t k = hash3((uint32_t)xx >> 3, (uint32_t)y >> 3, 11);
            int dx = xx - cx, dy = y - cy;
            game_rgb c = lava;
            if ((k & 3u) == 0 && dx * dx + dy * dy <= 2) c = hot;
            else if ((hash3((uint32_t)xx, (uint32_t)y, 12) & 15u) == 0) c = deep;
            put_row(T.lava[y], x, c);
        }
    for (int x = 0; x < 2 * ART_TILE; x++)
        put_row(T.lava_surf, x, (hash3((uint32_t)(x & 63) >> 1, 13, 0) & 3u) ? rgb(255, 196, 60) : rgb(255, 228, 120));
    for (int x = 0; x < ART_TILE; x++)
        T.wave[x] = 0.68f + 0.09f * sinf(TAU * 5.0f * (float)x / 64.0f) + 0.03f * sinf(TAU * 2.0f * (float)x / 64.0f);
}

/* ---- backgrounds ------------------------------------------------------------ */
/* Each of procgen's 62 background images becomes a palette and a pattern,
 * chosen to echo its name (docs/SPEC.md 7): skies with hills, mountains, clouds
 * or trees, caves, bands, candy checkers, beaches, and dark starfields and
 * nebulae for the 13 space images. */
enum { P_STARS, P_HILLS, P_MOUNTAINS, P_STRIPES, P_CLOUDS, P_DOTS, P_BANDS, P_CAVE, P_NEBULA, P_CHECKER, P_WAVES, P_TREES };

typedef struct {
    uint8_t pattern;
    uint16_t hue;
    uint8_t dark;
} bg_def;

static const bg_def BG[ART_NBG] = {
    {P_STARS, 195, 1},     /* 0 alien_bg (the easy look) */
    {P_NEBULA, 280, 1},    /* another_world_bg */
    {P_CAVE, 30, 1},       /* back_cave */
    {P_CAVE, 210, 1},      /* caverns */
    {P_STRIPES, 300, 1},   /* cyberpunk_bg */
    {P_TREES, 110, 0},     /* parallax_forest */
    {P_DOTS, 220, 1},      /* scifi_bg */
    {P_STRIPES, 170, 1},   /* scifi2_bg */
    {P_BANDS, 350, 0},     /* living_tissue_bg */
    {P_CLOUDS, 205, 0},    /* airadventurelevel1 */
    {P_CLOUDS, 25, 0},     /* airadventurelevel2 */
    {P_CLOUDS, 320, 0},    /* airadventurelevel3 */
    {P_CLOUDS, 240, 1},    /* airadventurelevel4 */
    {P_CAVE, 140, 1},      /* cave_background */
    {P_HILLS, 200, 0},     /* blue_desert */
    {P_HILLS, 160, 0},     /* blue_grass */
    {P_MOUNTAINS, 215, 0}, /* blue_land */
    {P_TREES, 190, 0},     /* blue_shroom */
    {P_HILLS, 35, 0},      /* colored_desert */
    {P_HILLS, 95, 0},      /* colored_grass */
    {P_MOUNTAINS, 55, 0},  /* colored_land */
    {P_TREES, 330, 0},     /* colored_shroom */
    {P_MOUNTAINS, 250, 0}, /* landscape1 */
    {P_HILLS, 130, 0},     /* landscape2 */
    {P_CLOUDS, 180, 0},    /* landscape3 */
    {P_TREES, 75, 0},      /* landscape4 */
    {P_MOUNTAINS, 10, 0},  /* battleback1 */
    {P_HILLS, 60, 0},      /* battleback2 */
    {P_BANDS, 120, 0},     /* battleback3 */
    {P_TREES, 150, 1},     /* battleback4 */
    {P_CAVE, 270, 1},      /* battleback5 */
    {P_STRIPES, 40, 0},    /* battleback6 */
    {P_DOTS, 100, 0},      /* battleback7 */
    {P_CLOUDS, 290, 0},    /* battleback8 */
    {P_MOUNTAINS, 180, 1}, /* battleback9 */
    {P_WAVES, 260, 0},     /* battleback10 */
    {P_BANDS, 20, 0},      /* sunrise */
    {P_WAVES, 190, 0},     /* beach1 */
    {P_WAVES, 175, 0},     /* beach2 */
    {P_WAVES, 45, 0},      /* beach3 */
    {P_WAVES, 215, 1},     /* beach4 */
    {P_TREES, 285, 0},     /* fantasy1 */
    {P_MOUNTAINS, 300, 0}, /* fantasy2 */
    {P_CLOUDS, 140, 0},    /* fantasy3 */
    {P_NEBULA, 320, 0},    /* fantasy4 */
    {P_CHECKER, 330, 0},   /* candy1 */
    {P_STRIPES, 310, 0},   /* candy2 */
    {P_DOTS, 350, 0},      /* candy3 */
    {P_CHECKER, 190, 0},   /* candy4 */
    {P_STARS, 230, 1},     /* deep_space_01 */
    {P_NEBULA, 200, 1},    /* spacegen_01 */
    {P_BANDS, 260, 1},     /* milky_way_01 */
    {P_STARS, 300, 1},     /* ez_space_lite_01 */
    {P_NEBULA, 20, 1},     /* meyespace_v1_01 */
    {P_NEBULA, 160, 1},    /* eye_nebula_01 */
    {P_DOTS, 250, 1},      /* deep_sky_01 */
    {P_NEBULA, 320, 1},    /* space_nebula_01 */
    {P_STARS, 0, 1},       /* Background-1 */
    {P_STARS, 120, 1},     /* Background-2 */
    {P_CHECKER, 240, 1},   /* Background-3 */
    {P_WAVES, 280, 1},     /* Background-4 */
    {P_MOUNTAINS, 230, 1}, /* parallax-space-backgound */
};

typedef struct {
    game_rgb top, bottom, accent, accent2; /* gradient; pattern colours (stars, stripes, clouds) */
    game_rgb sil, sil2;                     /* silhouettes (hills, mountains, trees, caves) */
    int pattern, style;
} bg_pal;

static bg_pal bg_palette(int style) {
    const bg_def *d = &BG[style];
    float h = d->hue;
    bg_pal p = {.pattern = d->pattern, .style = style};
    if (style == 0) { /* alien_bg: deep teal night */
        p.top = rgb(16, 38, 58), p.bottom = rgb(34, 84, 100), p.accent = rgb(150, 215, 225), p.accent2 = rgb(60, 120, 130);
        p.sil = rgb(12, 30, 44), p.sil2 = rgb(22, 52, 66);
    } else if (d->dark) {
        p.top = hsv(h, 0.7f, 0.14f), p.bottom = hsv(h + 30, 0.6f, 0.34f);
        p.accent = hsv(h + 180, 0.25f, 0.95f), p.accent2 = hsv(h + 60, 0.55f, 0.55f);
        p.sil = hsv(h + 40, 0.5f, 0.1f), p.sil2 = hsv(h + 40, 0.45f, 0.2f);
    } else {
        p.top = hsv(h, 0.5f, 0.92f), p.bottom = hsv(h + 20, 0.65f, 0.72f);
        p.accent = hsv(h + 150, 0.5f, 0.45f), p.accent2 = hsv(h + 150, 0.35f, 0.62f);
        p.sil = p.accent, p.sil2 = p.accent2;
    }
    return p;
}

/* texel (x, y) of a background: x in [0, ART_BG_PERIOD), y in [0, ART_BG_H), y up */
static game_rgb bg_texel(const bg_pal *p, int x, int y) {
    game_rgb base = mixc(p->bottom, p->top, (float)y / (ART_BG_H - 1));
    float fx = (float)x / ART_BG_PERIOD;
    uint32_t s = (uint32_t)p->style;
    switch (p->pattern) {
    case P_STARS: {
        uint32_t h = hash3((uint32_t)x, (uint32_t)y, s);
        if (h % 131u == 0) return p->accent;
        if (h % 131u == 1) return mixc(base, p->accent, 0.45f);
        return base;
    }
    case P_HILLS: { /* two layers of rolling hills, repeating every 105 rows */
        int yy = y % 105;
        float far = 62 + 14 * sinf(TAU * (fx + 0.1f * (float)(y / 105))) + 6 * sinf(TAU * 3 * fx + 1);
        float near = 34 + 10 * sinf(TAU * 2 * fx + 2) + 4 * sinf(TAU * 5 * fx);
        if (yy < near) return mixc(p->sil, base, 0.15f);
        if (yy < far) return mixc(p->sil2, base, 0.35f);
        return base;
    }
    case P_MOUNTAINS: { /* peaks with snow caps */
        int yy = y % 105;
        float t = fmodf(fx * 3.0f + 0.37f * (float)(y / 105), 1.0f), tri = 1 - fabsf(2 * t - 1);
        float hgt = 14 + 62 * tri * (0.8f + 0.2f * sinf(TAU * fx * 7));
        if (yy < hgt) return yy > hgt - 7 ? mixc(base, rgb(255, 255, 255), 0.6f) : mixc(p->sil, base, 0.25f);
        return base;
    }
    case P_STRIPES: return (((x + y) / 12) & 1) ? mixc(base, p->accent, 0.22f) : base;
    case P_CLOUDS: { /* puffs of three circles on a 64 x 80 lattice */
        int cxl = x / 64, cyl = y / 80;
        float cx = (float)(cxl * 64) + 20 + 24 * hashf((uint32_t)cxl, (uint32_t)cyl, s),
              cy = (float)(cyl * 80) + 25 + 30 * hashf((uint32_t)cxl, (uint32_t)cyl, s + 99);
        for (int k = 0; k < 3; k++) {
            float dx = (float)x - (cx + (float)(k - 1) * 9), dy = (float)y - (cy + (k == 1 ? 4.0f : 0.0f));
            float r = k == 1 ? 9.0f : 7.0f;
            if (dx * dx + dy * dy < r * r) return mixc(base, rgb(255, 255, 255), 0.8f);
        }
        return base;
    }
    case P_DOTS: return (x % 10 < 2 && y % 10 < 2) ? mixc(base, p->accent, 0.6f) : base;
    case P_BANDS: {
        float w = (float)y + 5 * sinf(TAU * 2 * fx);
        return (((int)floorf(w / 18.0f)) & 1) ? mixc(base, p->accent2, 0.35f) : base;
    }
    case P_CAVE: { /* stalactites hanging from a ceiling and rocks below, every 105 rows */
        int yy = y % 105, col = x / 8;
        float len = 10 + 30 * hashf((uint32_t)col, (uint32_t)(y / 105), s), dx = fabsf((float)(x % 8) - 3.5f) / 4.0f;
        if (yy > 104 - len * (1 - dx)) return mixc(p->sil2, base, 0.3f);
        if (yy < 8 + 6 * sinf(TAU * 4 * fx)) return mixc(p->sil, base, 0.5f);
        return base;
    }
    case P_NEBULA: {
        float v = sinf(TAU * fx) * sinf(TAU * (float)y / 90.0f) + 0.5f * sinf(TAU * (3 * fx + (float)y / 60.0f));
        game_rgb c = v > 0.3f ? mixc(base, p->accent2, (v - 0.3f) * 0.8f) : base;
        if (hash3((uint32_t)x, (uint32_t)y, s) % 173u == 0) return p->accent;
        return c;
    }
    case P_CHECKER: return (((x >> 4) + (y >> 4)) & 1) ? mixc(base, p->accent, 0.25f) : base;
    case P_WAVES: {
        float w = (float)y + 3 * sinf(TAU * 4 * fx + (float)y * 0.2f);
        return ((int)floorf(w) % 14 < 2) ? mixc(base, rgb(255, 255, 255), 0.5f) : base;
    }
    default: { /* P_TREES: trunks and round crowns, every 105 rows */
        int yy = y % 105, slot = x / 16, lx = x % 16;
        float hgt = 30 + 30 * hashf((uint32_t)slot, (uint32_t)(y / 105), s);
        if (lx >= 7 && lx < 9 && yy < hgt) return mixc(p->sil, base, 0.1f);
        float dx = (float)lx - 7.5f, dy = (float)yy - hgt;
        if (dx * dx + dy * dy < 49) return mixc(p->sil2, base, 0.25f);
        return base;
    }
    }
}

static uint8_t BGTEX[ART_NBG][ART_BG_H][ART_BG_ROW];
static atomic_uchar bg_ready[ART_NBG];
static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;

const uint8_t *game_art_bg(int style) {
    style = (int)((unsigned)style % ART_NBG);
    if (!atomic_load_explicit(&bg_ready[style], memory_order_acquire)) {
        pthread_mutex_lock(&bg_lock);
        if (!atomic_load_explicit(&bg_ready[style], memory_order_relaxed)) {
            bg_pal p = bg_palette(style);
            for (int y = 0; y < ART_BG_H; y++) {
                for (int x = 0; x < ART_BG_PERIOD; x++) put_row(BGTEX[style][y], x, bg_texel(&p, x, y));
                memcpy(BGTEX[style][y] + ART_BG_PERIOD * 3, BGTEX[style][y], (size_t)(ART_BG_ROW - ART_BG_PERIOD * 3));
            }
            atomic_store_explicit(&bg_ready[style], 1, memory_order_release);
        }
        pthread_mutex_unlock(&bg_lock);
    }
    return &BGTEX[style][0][0];
}

/* ---- the shared tables ------------------------------------------------------ */

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    for (int t = 0; t < ART_NPLAYER; t++)
        for (int p = 0; p < 3; p++) paint(T.agent[t][p], ART_AGENT_H, 2.0156f, shape_agent, t * 3 + p);
    for (int t = 0; t < ART_NENEMY; t++)
        for (int f = 0; f < 2; f++) paint(T.enemy[t][f], ART_SH, 1, shape_enemy, t * 2 + f);
    for (int f = 0; f < 2; f++) paint(T.saw[f], ART_SH, 1, shape_saw, f);
    for (int k = 0; k < ART_NCRATE; k++) paint(T.crate[k], ART_SH, 1, shape_crate, k);
    paint(T.coin, ART_SH, 1, shape_coin, 0);
    paint(T.disc, ART_SH, 1, shape_disc, 0);
    build_tiles();
}

const game_art_tables *game_art(void) {
    pthread_once(&once, build);
    return &T;
}

game_rgb game_art_player_rgb(int theme) { return PLAYER[(unsigned)theme % ART_NPLAYER]; }
game_rgb game_art_wall_rgb(int theme, int top) { return (top ? WALL_TOPC : WALL_MID)[(unsigned)theme % ART_NWALL]; }
game_rgb game_art_enemy_rgb(int theme) { return ENEMY[(unsigned)theme % ART_NENEMY]; }

game_rgb game_art_bg_rgb(int style) {
    bg_pal p = bg_palette((int)((unsigned)style % ART_NBG));
    return mixc(p.bottom, p.top, 0.3f);
}
