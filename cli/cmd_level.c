/* cmd_level.c - coinbc level: the options, and game_level_show
 * (game/show.c): one level generated, its layout dumped, its first
 * observation or a whole-level overview written as PNG. */
#include "cli/cli.h"
#include "game/game.h"

int cli_cmd_level(int argc, char **argv) {
    int64_t seed64 = 0;
    const char *mode_s = "easy", *png = NULL, *map = NULL;
    int dump = 0, px = 8;
    cli_opt opts[] = {
        {"seed", CLI_I64, &seed64, "S", "level seed (int32, as procgen's start_level)", 0},
        {"mode", CLI_STR, &mode_s, "M", "easy (default) or hard", 0},
        {"dump", CLI_FLAG, &dump, NULL, "print the layout in the refdata text format", 0},
        {"png", CLI_STR, &png, "FILE", "write the first 64x64 observation as PNG", 0},
        {"map", CLI_STR, &map, "FILE", "write an overview of the whole level as PNG", 0},
        {"px", CLI_INT, &px, "N", "pixels per cell in --map (default 8, 1..32)", 0},
    };
    cli_cmd_info info = {
        "level", "Generate a CoinRun level exactly as procgen does and show it.",
        "coinbc level --seed S [--mode easy|hard] [--dump] [--png FILE] [--map FILE]",
        "Without --dump, --png or --map, prints a one-line summary of the level.\n"
        "example: coinbc level --seed 7 --mode hard --dump\n"
        "         coinbc level --seed 7 --map level7.png"};
    int rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), NULL, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    if (!CLI_SEEN(opts, "seed")) return cli_error("level", "--seed S is required (see coinbc level --help)"), 2;
    if (seed64 < INT32_MIN || seed64 > INT32_MAX)
        return cli_error("level", "--seed %lld is outside the int32 range [-2147483648, 2147483647]", (long long)seed64), 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("level", "unknown mode '%s' (use easy or hard)", mode_s), 2;
    if (px < 1 || px > 32) return cli_error("level", "--px must be in 1..32"), 2;
    cb_err e = {0};
    /* no inputs; the images must not land in a run or dataset folder */
    if ((png && cb_path_check_output("--png", png, CB_OUT_FILE, NULL, 0, &e)) ||
        (map && cb_path_check_output("--map", map, CB_OUT_FILE, NULL, 0, &e)))
        return cli_fail("level", &e), 2;
    game_show_opts o = {.seed = (int32_t)seed64, .mode = mode, .dump = dump ? stdout : NULL, .png = png, .map = map,
                        .px = px};
    game_level_summary s;
    if (game_level_show(&s, &o, &e)) return cli_fail("level", &e);
    if (!dump && !png && !map)
        printf("level %d (%s): coin at cell (%d,%d), %d enemies, %d saws, %d crates, background %s, "
               "player %s, ground %s\n",
               o.seed, game_mode_name(mode), s.goal_x, s.goal_y, s.enemies, s.saws, s.crates, s.themes.bg,
               s.themes.player, s.themes.wall);
    return 0;
}
