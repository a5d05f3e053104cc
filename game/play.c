/* play.c - coinbc play's work: an actions file read and checked, and one
 * episode of a level played from it or from the refdata policy, a row per
 * step in the refdata traces format, optionally every observation as PNG. */
#include <stdlib.h>
#include <string.h>

#include "game/game.h"

/* in, at most max bytes (one more is read to see that it goes on) */
static int read_stream(uint8_t **out, size_t *n, FILE *in, size_t max, cb_err *e) {
    uint8_t *buf = malloc(max + 2);
    if (!buf) return cb_fail(e, CB_ENOMEM, "out of memory");
    size_t len = 0;
    while (len <= max) {
        size_t got = fread(buf + len, 1, max + 1 - len, in);
        if (got == 0) break;
        len += got;
    }
    if (ferror(in)) {
        free(buf);
        return cb_fail(e, CB_EIO, "-: read error on stdin");
    }
    if (len > max) {
        free(buf);
        return cb_fail(e, CB_ERANGE, "-: stdin holds more than %zu bytes, more than an actions file may have (at most "
                                     "%d actions are played); stopped reading", max, GAME_TIMEOUT);
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

/* the actions of buf[0..len) (NUL-terminated) into a[0..GAME_TIMEOUT), all of them counted in *count */
static int parse_actions(int *a, int *count, char *buf, size_t len, const char *path, cb_err *e) {
    if (memchr(buf, 0, len)) return cb_fail(e, CB_EFORMAT, "%s: holds a NUL byte (not an actions file)", path);
    int lineno = 0;
    *count = 0;
    for (char *line = buf, *next; line < buf + len; line = next) {
        lineno++;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : buf + len;
        if (nl) *nl = 0;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r,", &save); tok; tok = strtok_r(NULL, " \t\r,", &save)) {
            int64_t v;
            if (cb_parse_i64(tok, &v) || v < 0 || v >= CB_NUM_ACTIONS)
                return cb_fail(e, CB_EFORMAT, "%s:%d: '%.40s' is not an action (expected an integer 0..14)", path,
                               lineno, tok);
            if (*count < GAME_TIMEOUT) a[*count] = (int)v;
            (*count)++;
        }
    }
    if (*count == 0) return cb_fail(e, CB_EFORMAT, "%s: no actions in the file", path);
    return 0;
}

int game_actions_read(int **out, int *n, const char *path, FILE *in, cb_err *e) {
    uint8_t *buf;
    size_t len;
    int rc = !strcmp(path, "-") ? read_stream(&buf, &len, in, GAME_ACTIONS_MAX_BYTES, e)
                                : cb_read_file_max(path, GAME_ACTIONS_MAX_BYTES, &buf, &len, e);
    if (rc) return rc;
    int *a = malloc(sizeof *a * GAME_TIMEOUT), count = 0;
    if (!a) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    if (!rc) rc = parse_actions(a, &count, (char *)buf, len, path, e);
    free(buf);
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    *n = count < GAME_TIMEOUT ? count : GAME_TIMEOUT;
    return 0;
}

static int write_frame(const char *dir, int t, const game_env *env, cb_err *e) {
    uint8_t rgb[CB_FRAME_BYTES];
    char path[4200];
    snprintf(path, sizeof path, "%s/frame_%06d.png", dir, t);
    game_env_render(env, rgb);
    return game_write_png(path, rgb, CB_FRAME_W, CB_FRAME_H, e);
}

int game_play(const game_play_opts *o, cb_err *e) {
    if (o->frames && cb_mkdirs(o->frames, e)) return e->code;
    game_env *env = malloc(sizeof *env);
    if (!env) return cb_fail(e, CB_ENOMEM, "out of memory");
    int rc = game_env_init(env, o->seed, o->mode, e);
    if (rc) return free(env), rc;
    game_refpolicy pol;
    game_refpolicy_init(&pol, o->seed);
    if (o->header) fprintf(o->trace, "seed,step,action,x,y,vx,vy,reward,done,outcome\n");
    for (int t = 0; t < GAME_TIMEOUT; t++) {
        if (o->actions && t >= o->nactions) break;
        if (o->frames && (rc = write_frame(o->frames, t, env, e))) break;
        int a = o->actions ? o->actions[t] : game_refpolicy_next(&pol);
        game_step_out so;
        game_step(&env->level, &env->state, a, &so);
        char row[256];
        game_trace_row(row, sizeof row, o->seed, t, a, &env->state, &so);
        fprintf(o->trace, "%s\n", row);
        if (so.done) break;
        game_trails_update(&env->trails, &env->level, &env->state);
    }
    free(env);
    return rc;
}
