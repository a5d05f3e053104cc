/* cmd_play.c - coinbc play: run one episode of a level with actions from a
 * file or the refdata policy, print one row per step in the refdata traces
 * format, optionally write every observation as PNG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "game/game.h"

/* The most an actions file (or stdin) may hold: 1000 actions with room for
 * comments; a larger input is refused, stdin after this many bytes read. */
#define PLAY_ACTIONS_MAX_BYTES ((size_t)1 << 20)

/* stdin, at most max bytes (one more is read to see that it goes on) */
static int read_stdin(uint8_t **out, size_t *n, size_t max) {
    uint8_t *buf = malloc(max + 2);
    if (!buf) return cli_error("play", "out of memory");
    size_t len = 0;
    while (len <= max) {
        size_t got = fread(buf + len, 1, max + 1 - len, stdin);
        if (got == 0) break;
        len += got;
    }
    if (ferror(stdin)) {
        free(buf);
        return cli_error("play", "-: read error on stdin");
    }
    if (len > max) {
        free(buf);
        return cli_error("play", "-: stdin holds more than %zu bytes, more than an actions file may have (at most %d "
                         "actions are played); stopped reading", max, GAME_TIMEOUT);
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

/* Reads actions: integers 0..14 separated by whitespace or commas, '#'
 * starts a comment. Errors name the line. The whole input is checked;
 * only the first GAME_TIMEOUT actions are kept (no episode is longer):
 * *out is malloc'd, *n of them. */
static int read_actions(const char *path, int **out, int *n) {
    uint8_t *buf;
    size_t len;
    if (!strcmp(path, "-")) {
        if (read_stdin(&buf, &len, PLAY_ACTIONS_MAX_BYTES)) return 1;
    } else {
        cb_err e = {0};
        if (cb_read_file_max(path, PLAY_ACTIONS_MAX_BYTES, &buf, &len, &e)) return cli_fail("play", &e);
    }
    int *a = malloc(sizeof *a * GAME_TIMEOUT);
    if (!a) {
        free(buf);
        return cli_error("play", "out of memory");
    }
    int status = 0, count = 0, lineno = 0;
    if (memchr(buf, 0, len)) status = cli_error("play", "%s: holds a NUL byte (not an actions file)", path);
    for (char *line = (char *)buf, *next; !status && line < (char *)buf + len; line = next) {
        lineno++;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : (char *)buf + len;
        if (nl) *nl = 0;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r,", &save); tok; tok = strtok_r(NULL, " \t\r,", &save)) {
            int64_t v;
            if (cb_parse_i64(tok, &v) || v < 0 || v >= GAME_NUM_ACTIONS) {
                status = cli_error("play", "%s:%d: '%.40s' is not an action (expected an integer 0..14)", path, lineno, tok);
                break;
            }
            if (count < GAME_TIMEOUT) a[count] = (int)v;
            count++;
        }
    }
    free(buf);
    if (!status && count == 0) status = cli_error("play", "%s: no actions in the file", path);
    if (status) {
        free(a);
        return status;
    }
    *out = a;
    *n = count < GAME_TIMEOUT ? count : GAME_TIMEOUT;
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
