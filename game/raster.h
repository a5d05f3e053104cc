/* raster.h - drawing into RGB images (row 0 at the top) through a world
 * camera: pixel spans of world rectangles under the pixel-centre rule, and
 * nearest-sampled sprite blits. Internal to game/ (render.c, map.c). */
#ifndef COINBC_GAME_RASTER_H
#define COINBC_GAME_RASTER_H

#include <math.h>
#include <stdint.h>

#include "game/art.h"

typedef struct {
    uint8_t *img;          /* w x h RGB */
    int w, h;
    float cx, cy, scale;   /* world point (cx, cy) maps to pixel position (hw, hh) */
    float hw, hh;
} game_canvas;

static inline float cv_u(const game_canvas *c, float wx) { return (wx - c->cx) * c->scale + c->hw; }
static inline float cv_v(const game_canvas *c, float wy) { return (c->cy - wy) * c->scale + c->hh; }
/* the first pixel whose centre is at or after image coordinate t */
static inline int cv_edge(float t) { return (int)ceilf(t - 0.5f); }

/* Draws sprite texture `tex` (ART_SW x th RGBA, row 0 at the top) stretched
 * over the world rectangle [x0, x1] x [y0, y1]: a pixel is drawn when its
 * centre lies in the rectangle and the texel under its centre is opaque.
 * mirror flips the texture horizontally; alpha256 < 256 blends. */
void game_blit(const game_canvas *c, float x0, float x1, float y0, float y1, const uint8_t *tex, int th, int mirror,
               int alpha256);
/* Fills the world rectangle with one colour (same pixel rule). */
void game_fill(const game_canvas *c, float x0, float x1, float y0, float y1, game_rgb col);

#endif
