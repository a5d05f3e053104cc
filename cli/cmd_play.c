/* cmd_play.c - coinbc play: the options, and game_play (game/play.c): one
 * episode of a level with actions from a file or the refdata policy, one
 * row per step in the refdata traces format, optionally every observation
 * as PNG. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "game/game.h"

int cli_cmd_play(int argc, char **argv) {
    int64_t seed64 = 0;
    const char *mode_s = "easy", *actions = NULL, *policy = NULL, *frames = NULL;
    int header = 0;
    cli_opt opts[] = {
        {"seed", CLI_I64, &seed64, "S", "level seed (int32)", 0},
        {"mode", CLI_STR, &mode_s, "M", "easy (default) or hard", 0},
        {"actions", CLI_STR, &actions, "FILE", "actions 0..14, whitespace/comma separated ('-' = stdin)", 0},
        {"policy", CLI_STR, &policy, "NAME", "'refdata': the policy the reference traces were recorded with", 0},
        {"frames", CLI_STR, &frames, "DIR", "write observation t (before action t) as DIR/frame_NNNNNN.png", 0},
        {"header", CLI_FLAG, &header, NULL, "print the CSV header line first", 0},
    };
    cli_cmd_info info = {
        "play", "Run one episode of a level and print one row per step in the refdata traces format:\n"
                "seed,step,action,x,y,vx,vy,reward,done,outcome (agent state after the step).",
        "coinbc play --seed S [--mode M] (--actions FILE | --policy refdata) [--frames DIR]",
        "The episode stops at the first done, or when the actions run out.\n"
        "example: coinbc play --seed 3 --policy refdata --frames /tmp/frames"};
    int rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), NULL, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    if (!CLI_SEEN(opts, "seed")) return cli_error("play", "--seed S is required"), 2;
    if (seed64 < INT32_MIN || seed64 > INT32_MAX)
        return cli_error("play", "--seed %lld is outside the int32 range", (long long)seed64), 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("play", "unknown mode '%s' (use easy or hard)", mode_s), 2;
    if (!!actions == !!policy) return cli_error("play", "give exactly one of --actions FILE or --policy refdata"), 2;
    if (policy && strcmp(policy, "refdata")) return cli_error("play", "unknown policy '%s' (only 'refdata')", policy), 2;
    cb_err e = {0};
    if (frames && cb_path_check_output("--frames", frames, CB_OUT_FILE, &actions, 1, &e)) return cli_fail("play", &e), 2;
    game_play_opts o = {.seed = (int32_t)seed64, .mode = mode, .frames = frames, .trace = stdout, .header = header};
    int *acts = NULL;
    if (actions && game_actions_read(&acts, &o.nactions, actions, stdin, &e)) return cli_fail("play", &e);
    o.actions = acts;
    int status = game_play(&o, &e) ? cli_fail("play", &e) : 0;
    if (fflush(stdout) != 0) status = cli_error("play", "writing to stdout failed");
    free(acts);
    return status;
}
