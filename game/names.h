/* names.h - procgen's names for themes and backgrounds (index -> name). */
#ifndef COINBC_GAME_NAMES_H
#define COINBC_GAME_NAMES_H
const char *game_bg_name(int i);     /* 0..61, asset path as procgen names it */
const char *game_player_name(int i); /* 0..4 */
const char *game_wall_name(int i);   /* 0..5 */
const char *game_enemy_name(int i);  /* 0..8 */
const char *game_crate_name(int i);  /* 0..3 */
#endif
