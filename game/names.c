/* names.c - procgen's theme and background names (docs/SPEC.md 7), used by the
 * layout dump, level summaries and by people (coinbc draws its own art for
 * each of them), and the names of the 15 actions. */
#include "game/game.h"
#include "game/names.h"

static const char *const BG[62] = {
    "platform_backgrounds/alien_bg.png", "platform_backgrounds/another_world_bg.png",
    "platform_backgrounds/back_cave.png", "platform_backgrounds/caverns.png",
    "platform_backgrounds/cyberpunk_bg.png", "platform_backgrounds/parallax_forest.png",
    "platform_backgrounds/scifi_bg.png", "platform_backgrounds/scifi2_bg.png",
    "platform_backgrounds/living_tissue_bg.png", "platform_backgrounds/airadventurelevel1.png",
    "platform_backgrounds/airadventurelevel2.png", "platform_backgrounds/airadventurelevel3.png",
    "platform_backgrounds/airadventurelevel4.png", "platform_backgrounds/cave_background.png",
    "platform_backgrounds/blue_desert.png", "platform_backgrounds/blue_grass.png",
    "platform_backgrounds/blue_land.png", "platform_backgrounds/blue_shroom.png",
    "platform_backgrounds/colored_desert.png", "platform_backgrounds/colored_grass.png",
    "platform_backgrounds/colored_land.png", "platform_backgrounds/colored_shroom.png",
    "platform_backgrounds/landscape1.png", "platform_backgrounds/landscape2.png",
    "platform_backgrounds/landscape3.png", "platform_backgrounds/landscape4.png",
    "platform_backgrounds/battleback1.png", "platform_backgrounds/battleback2.png",
    "platform_backgrounds/battleback3.png", "platform_backgrounds/battleback4.png",
    "platform_backgrounds/battleback5.png", "platform_backgrounds/battleback6.png",
    "platform_backgrounds/battleback7.png", "platform_backgrounds/battleback8.png",
    "platform_backgrounds/battleback9.png", "platform_backgrounds/battleback10.png",
    "platform_backgrounds/sunrise.png", "platform_backgrounds_2/beach1.png",
    "platform_backgrounds_2/beach2.png", "platform_backgrounds_2/beach3.png",
    "platform_backgrounds_2/beach4.png", "platform_backgrounds_2/fantasy1.png",
    "platform_backgrounds_2/fantasy2.png", "platform_backgrounds_2/fantasy3.png",
    "platform_backgrounds_2/fantasy4.png", "platform_backgrounds_2/candy1.png",
    "platform_backgrounds_2/candy2.png", "platform_backgrounds_2/candy3.png",
    "platform_backgrounds_2/candy4.png", "space_backgrounds/deep_space_01.png",
    "space_backgrounds/spacegen_01.png", "space_backgrounds/milky_way_01.png",
    "space_backgrounds/ez_space_lite_01.png", "space_backgrounds/meyespace_v1_01.png",
    "space_backgrounds/eye_nebula_01.png", "space_backgrounds/deep_sky_01.png",
    "space_backgrounds/space_nebula_01.png", "space_backgrounds/Background-1.png",
    "space_backgrounds/Background-2.png", "space_backgrounds/Background-3.png",
    "space_backgrounds/Background-4.png", "space_backgrounds/parallax-space-backgound.png",
};
static const char *const PLAYER[5] = {"Beige", "Blue", "Green", "Pink", "Yellow"};
static const char *const WALL[6] = {"Dirt", "Grass", "Planet", "Sand", "Snow", "Stone"};
static const char *const ENEMY[9] = {"slimeBlock", "slimePurple", "slimeBlue", "slimeGreen", "mouse",
                                     "snail",      "ladybug",     "wormGreen", "wormPink"};
static const char *const CRATE[4] = {"boxCrate", "boxCrate_double", "boxCrate_single", "boxCrate_warning"};

const char *game_bg_name(int i) { return i >= 0 && i < 62 ? BG[i] : "?"; }
const char *game_player_name(int i) { return i >= 0 && i < 5 ? PLAYER[i] : "?"; }
const char *game_wall_name(int i) { return i >= 0 && i < 6 ? WALL[i] : "?"; }
const char *game_enemy_name(int i) { return i >= 0 && i < 9 ? ENEMY[i] : "?"; }
const char *game_crate_name(int i) { return i >= 0 && i < 4 ? CRATE[i] : "?"; }

game_theme_names game_level_theme_names(const game_level *L) {
    return (game_theme_names){game_bg_name(L->bg_index), game_player_name(L->player_theme), game_wall_name(L->wall_theme)};
}

/* procgen's action order: (LEFT, DOWN), (LEFT), (LEFT, UP), (DOWN), (), (UP),
 * (RIGHT, DOWN), (RIGHT), (RIGHT, UP), then six keys CoinRun ignores */
static const char *const ACTION[][2] = {
    {"LEFT+DOWN", "L+D"}, {"LEFT", "L"}, {"LEFT+UP", "L+U"}, {"DOWN", "D"}, {"NOOP", "NOOP"},
    {"UP", "U"}, {"RIGHT+DOWN", "R+D"}, {"RIGHT", "R"}, {"RIGHT+UP", "R+U"}, {"9", "9"},
    {"10", "10"}, {"11", "11"}, {"12", "12"}, {"13", "13"}, {"14", "14"},
};
_Static_assert(sizeof ACTION / sizeof ACTION[0] == CB_NUM_ACTIONS, "one name per action");

const char *game_action_name(int a) { return a >= 0 && a < CB_NUM_ACTIONS ? ACTION[a][0] : "?"; }
const char *game_action_short_name(int a) { return a >= 0 && a < CB_NUM_ACTIONS ? ACTION[a][1] : "?"; }
