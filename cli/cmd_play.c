/* cmd_play.c - coinbc play: run one episode of a level with actions from a
 * file or the refdata policy, print one row per step in the refdata traces
 * format, optionally write every observation as PNG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "game/game.h"

/* Reads actions: integers 0..14 separated by whitespace or commas, '#'
 * starts a comment. Errors name the line. */
static int read_actions(const char *path, int **out, int *n) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) return cli_error("play", "%s: %s", path, strerror(errno));
    int cap = 1024, len = 0;
    int *a = malloc(sizeof(int) * (size_t)cap);
    char line[4096];
    int lineno = 0, status = 0;
    while (a && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        for (char *tok = strtok(line, " \t\r\n,"); tok; tok = strtok(NULL, " \t\r\n,")) {
            int64_t v;
            if (cb_parse_i64(tok, &v) || v < 0 || v >= GAME_NUM_ACTIONS) {
                status = cli_error("play", "%s:%d: '%s' is not an action (expected an integer 0..14)", path, lineno, tok);
                goto done;
            }
            if (len == cap) {
                cap *= 2;
                int *na = realloc(a, sizeof(int) * (size_t)cap);
                if (!na) {
                    status = cli_error("play", "out of memory");
                    goto done;
                }
                a = na;
            }
            a[len++] = (int)v;
        }
    }
    if (!a) status = cli_error("play", "out of memory");
    else if (ferror(f)) status = cli_error("play", "%s: read error", path);
    else if (len == 0) status = cli_error("play", "%s: no actions in the file", path);
done:
    if (f != stdin) fclose(f);
    if (status) {
        free(a);
        return status;
    }
    *out = a;
    *n = len;
    return 0;
}

static int write_frame(const char *dir, int t, const game_env *env, cb_err *e) {
    uint8_t rgb[GAME_OBS_BYTES];
    char path[4200];
    snprintf(path, sizeof path, "%s/frame_%06d.png", dir, t);
    game_env_render(env, rgb);
    return game_write_png(path, rgb, GAME_OBS, GAME_OBS, e);
}

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
    int32_t seed = (int32_t)seed64;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("play", "unknown mode '%s' (use easy or hard)", mode_s), 2;
    if (!!actions == !!policy) return cli_error("play", "give exactly one of --actions FILE or --policy refdata"), 2;
    if (policy && strcmp(policy, "refdata")) return cli_error("play", "unknown policy '%s' (only 'refdata')", policy), 2;

    cb_err e = {0};
    if (frames && cb_path_check_output("--frames", frames, CB_OUT_FILE, &actions, 1, &e)) return cli_fail("play", &e), 2;
    int *acts = NULL, nacts = 0;
    if (actions && read_actions(actions, &acts, &nacts)) return 1;
    if (frames && cb_mkdirs(frames, &e)) {
        free(acts);
        return cli_fail("play", &e);
    }
    game_env *env = malloc(sizeof *env);
    if (!env || game_env_init(env, seed, mode, &e)) {
        free(acts);
        free(env);
        return env ? cli_fail("play", &e) : cli_error("play", "out of memory");
    }
    game_refpolicy pol;
    game_refpolicy_init(&pol, seed);
    if (header) printf("seed,step,action,x,y,vx,vy,reward,done,outcome\n");
    int status = 0;
    for (int t = 0; t < GAME_TIMEOUT; t++) {
        if (actions && t >= nacts) break;
        if (frames && write_frame(frames, t, env, &e)) {
            status = cli_fail("play", &e);
            break;
        }
        int a = actions ? acts[t] : game_refpolicy_next(&pol);
        game_step_out o;
        game_step(&env->level, &env->state, a, &o);
        char row[256];
        game_trace_row(row, sizeof row, seed, t, a, &env->state, &o);
        puts(row);
        if (o.done) break;
        game_trails_update(&env->trails, &env->level, &env->state);
    }
    if (fflush(stdout) != 0) status = cli_error("play", "writing to stdout failed");
    free(acts);
    free(env);
    return status;
}
