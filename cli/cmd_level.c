/* cmd_level.c - coinbc level: generate one level, dump its layout, write its
 * first observation or a whole-level overview as PNG. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "game/game.h"

static int parse_seed(const char *cmd, int64_t v, int32_t *seed) {
    if (v < INT32_MIN || v > INT32_MAX)
        return cli_error(cmd, "--seed %lld is outside the int32 range [-2147483648, 2147483647]", (long long)v);
    *seed = (int32_t)v;
    return 0;
}

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
    int32_t seed = 0;
    if (parse_seed("level", seed64, &seed)) return 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("level", "unknown mode '%s' (use easy or hard)", mode_s), 2;
    if (px < 1 || px > 32) return cli_error("level", "--px must be in 1..32"), 2;

    cb_err e = {0};
    /* no inputs; the images must not land in a run or dataset folder */
    if ((png && cb_path_check_output("--png", png, CB_OUT_FILE, NULL, 0, &e)) ||
        (map && cb_path_check_output("--map", map, CB_OUT_FILE, NULL, 0, &e)))
        return cli_fail("level", &e), 2;
    game_level *L = malloc(sizeof *L);
    if (!L) return cli_error("level", "out of memory");
    game_state s;
    int status = 0;
    if (game_level_generate(L, &s, seed, mode, &e)) {
        status = cli_fail("level", &e);
        goto out;
    }
    if (dump) game_level_dump(L, stdout);
    if (png) {
        uint8_t rgb[GAME_OBS_BYTES];
        game_render(rgb, L, &s, NULL);
        if (game_write_png(png, rgb, GAME_OBS, GAME_OBS, &e)) {
            status = cli_fail("level", &e);
            goto out;
        }
    }
    if (map) {
        int n = GAME_W * px;
        uint8_t *rgb = malloc((size_t)n * (size_t)n * 3);
        if (!rgb) {
            status = cli_error("level", "out of memory");
            goto out;
        }
        game_render_map(rgb, px, L, &s);
        int w = game_write_png(map, rgb, n, n, &e);
        free(rgb);
        if (w) {
            status = cli_fail("level", &e);
            goto out;
        }
    }
    if (!dump && !png && !map) {
        game_theme_names tn = game_level_theme_names(L);
        int saws = 0, crates = L->ncrates;
        for (int i = 0; i < L->nstatics; i++) saws += L->statics[i].type == GAME_ENT_SAW;
        printf("level %d (%s): coin at cell (%d,%d), %d enemies, %d saws, %d crates, background %s, "
               "player %s, ground %s\n",
               seed, game_mode_name(mode), L->goal_x, L->goal_y, L->nenemies, saws, crates,
               tn.bg, tn.player, tn.wall);
    }
out:
    free(L);
    return status;
}
