/* art.h - coinbc's own flat palettes for CoinRun's themes (no procgen
 * assets): colours for the player, ground, enemies, crates and the 62
 * backgrounds. Easy mode uses index 0 of each. */
#ifndef COINBC_GAME_ART_H
#define COINBC_GAME_ART_H

#include <stdint.h>

typedef struct {
    uint8_t r, g, b;
} game_rgb;

typedef struct {
    game_rgb top, bottom; /* vertical gradient over world y 64 -> 0 */
    game_rgb accent;      /* pattern colour */
    int pattern;          /* 0 plain, 1 stars, 2 diagonal stripes, 3 hills, 4 dots */
    int period;           /* pattern period in texels */
} game_bg_style;

game_rgb game_art_player(int theme);
void game_art_wall(int theme, game_rgb *mid, game_rgb *mid_dark, game_rgb *top);
game_rgb game_art_enemy(int theme);
void game_art_bg(int bg_index, game_bg_style *st);
#endif
