/* art.h - coinbc's own flat art for CoinRun (no procgen assets), drawn
 * procedurally once per process into textures the renderer samples:
 *   - sprites: RGBA textures in sprite space (row 0 at the top, x to the
 *     right, unmirrored), sampled nearest at pixel centres;
 *   - tiles: world-anchored RGB textures at the observation's scale
 *     (64/13 texels per world unit), horizontally periodic and stored with
 *     each row doubled, so any 64-pixel span is one contiguous copy.
 * Theme indices are procgen's (docs/SPEC.md 7); easy mode uses index 0 of each
 * look (alien_bg, Beige, Dirt). Internal to game/. */
#ifndef COINBC_GAME_ART_H
#define COINBC_GAME_ART_H

#include <stdint.h>

typedef struct {
    uint8_t r, g, b;
} game_rgb;

#define ART_NPLAYER 5
#define ART_NWALL 6
#define ART_NENEMY 9
#define ART_NCRATE 4
#define ART_NBG 62

#define ART_SW 32        /* sprite texture width (texels) */
#define ART_SH 32        /* sprite texture height for 1x1-unit boxes */
#define ART_AGENT_H 64   /* agent sprite height: its rect is 1 x 2.0156 units */

/* world-anchored tiles */
#define ART_TILE 64                  /* wall/lava tile period in texels (13 world units) */
#define ART_TILE_ROW (2 * ART_TILE * 3)
#define ART_BG_PERIOD 128            /* background period in texels (26 world units) */
#define ART_BG_ROW ((ART_BG_PERIOD + 64) * 3)
#define ART_BG_H 316                 /* texel rows covering world y in [0, 64] */

enum { ART_POSE_STAND = 0, ART_POSE_WALK1 = 1, ART_POSE_WALK2 = 2 };

/* WALL_TOP and LAVA_TOP bands, as the fraction of the cell height above the
 * cell's bottom edge at a pixel centre (y up). */
#define ART_GRASS_Y 0.78f  /* WALL_TOP: grass at or above this */
#define ART_EDGE_Y 0.64f   /* WALL_TOP: jagged grass edge in [EDGE, GRASS) */
#define ART_LAVA_Y0 0.52f  /* LAVA_TOP: solid lava below this */
#define ART_LAVA_Y1 0.80f  /* LAVA_TOP: nothing at or above this; a wave in between */

typedef struct {
    uint8_t agent[ART_NPLAYER][3][ART_AGENT_H][ART_SW][4];
    uint8_t enemy[ART_NENEMY][2][ART_SH][ART_SW][4];
    uint8_t saw[2][ART_SH][ART_SW][4];
    uint8_t crate[ART_NCRATE][ART_SH][ART_SW][4];
    uint8_t coin[ART_SH][ART_SW][4];
    uint8_t disc[ART_SH][ART_SW][4];          /* trail: a white disc */
    uint8_t wall[ART_NWALL][ART_TILE][ART_TILE_ROW]; /* ground interior, row = texel y mod 64 */
    uint8_t grass[ART_NWALL][2][ART_TILE_ROW];       /* WALL_TOP rows: [0] grass, [1] jagged edge */
    uint8_t lava[ART_TILE][ART_TILE_ROW];            /* lava interior */
    uint8_t lava_surf[ART_TILE_ROW];                 /* the bright band under the wave crest */
    float wave[ART_TILE];                            /* LAVA_TOP crest height per texel x mod 64 */
} game_art_tables;

/* The shared tables, built on first use (thread-safe, never freed). */
const game_art_tables *game_art(void);
/* Background `style` (0..61): ART_BG_H rows of ART_BG_ROW bytes, row 0 = world
 * y 0 (bottom), texel x mod ART_BG_PERIOD; built on first use of the style. */
const uint8_t *game_art_bg(int style);

/* Flat colours for the overview map and for tests. */
game_rgb game_art_player_rgb(int theme);
game_rgb game_art_wall_rgb(int theme, int top);
game_rgb game_art_enemy_rgb(int theme);
game_rgb game_art_bg_rgb(int style); /* the background's mean colour */

#endif
