/* art.c - palettes for coinbc's flat art. Each theme index of procgen maps
 * to a distinct colour scheme; the 62 backgrounds are procedural styles
 * (gradient + pattern) derived from the index. */
#include "game/art.h"

static const game_rgb PLAYER[5] = {
    {232, 206, 160}, /* Beige */
    {80, 150, 235},  /* Blue */
    {90, 200, 100},  /* Green */
    {240, 130, 190}, /* Pink */
    {245, 215, 60},  /* Yellow */
};

/* mid, darker mid speckle, top surface */
static const game_rgb WALL[6][3] = {
    {{140, 95, 60}, {115, 75, 45}, {110, 190, 70}},    /* Dirt: brown with green top */
    {{95, 150, 70}, {75, 125, 55}, {150, 220, 90}},    /* Grass */
    {{120, 110, 150}, {95, 85, 125}, {190, 180, 225}}, /* Planet */
    {{220, 190, 120}, {195, 165, 100}, {245, 225, 160}}, /* Sand */
    {{200, 215, 235}, {170, 185, 210}, {250, 252, 255}}, /* Snow */
    {{130, 130, 135}, {105, 105, 110}, {175, 175, 180}}, /* Stone */
};

static const game_rgb ENEMY[9] = {
    {60, 60, 70},    /* slimeBlock */
    {150, 70, 190},  /* slimePurple */
    {60, 120, 230},  /* slimeBlue */
    {70, 200, 90},   /* slimeGreen */
    {150, 150, 150}, /* mouse */
    {200, 140, 60},  /* snail */
    {220, 40, 40},   /* ladybug */
    {120, 210, 80},  /* wormGreen */
    {240, 120, 170}, /* wormPink */
};

game_rgb game_art_player(int theme) { return PLAYER[(unsigned)theme % 5]; }

void game_art_wall(int theme, game_rgb *mid, game_rgb *mid_dark, game_rgb *top) {
    const game_rgb *w = WALL[(unsigned)theme % 6];
    *mid = w[0];
    *mid_dark = w[1];
    *top = w[2];
}

game_rgb game_art_enemy(int theme) { return ENEMY[(unsigned)theme % 9]; }

static game_rgb hsv(int h, int s, int v) {
    /* h 0..359, s and v 0..255 */
    int region = h / 60, rem = (h % 60) * 255 / 60;
    int p = v * (255 - s) / 255, q = v * (255 - s * rem / 255) / 255, t = v * (255 - s * (255 - rem) / 255) / 255;
    game_rgb c;
    switch (region) {
    case 0: c = (game_rgb){(uint8_t)v, (uint8_t)t, (uint8_t)p}; break;
    case 1: c = (game_rgb){(uint8_t)q, (uint8_t)v, (uint8_t)p}; break;
    case 2: c = (game_rgb){(uint8_t)p, (uint8_t)v, (uint8_t)t}; break;
    case 3: c = (game_rgb){(uint8_t)p, (uint8_t)q, (uint8_t)v}; break;
    case 4: c = (game_rgb){(uint8_t)t, (uint8_t)p, (uint8_t)v}; break;
    default: c = (game_rgb){(uint8_t)v, (uint8_t)p, (uint8_t)q}; break;
    }
    return c;
}

void game_art_bg(int i, game_bg_style *st) {
    if (i <= 0) { /* alien_bg, the easy-mode look: dark teal with stars */
        st->top = (game_rgb){20, 50, 70};
        st->bottom = (game_rgb){40, 95, 110};
        st->accent = (game_rgb){170, 220, 230};
        st->pattern = 1;
        st->period = 9;
        return;
    }
    int space = i >= 49; /* the 13 space backgrounds are dark */
    int hue = (i * 47) % 360;
    if (space) {
        st->top = hsv(hue, 180, 30);
        st->bottom = hsv((hue + 40) % 360, 160, 70);
        st->accent = hsv((hue + 180) % 360, 40, 240);
        st->pattern = (i % 2) ? 1 : 4;
    } else {
        st->top = hsv(hue, 110 + (i % 3) * 40, 200 + (i % 2) * 40);
        st->bottom = hsv((hue + 25) % 360, 90 + (i % 4) * 30, 120 + (i % 5) * 20);
        st->accent = hsv((hue + 150) % 360, 120, 160 + (i % 3) * 30);
        st->pattern = i % 4;
    }
    st->period = 6 + (i % 5) * 3;
}
