/* exec.c - the comparison's steps as coinbc child processes: an argv under
 * construction, a run within the piece's time budget (or until a stop), the
 * child's stdout kept atomically as a record, and the step log. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "exp/internal.h"

void exp_say(const exp_ctx *c, const char *fmt, ...) {
    if (!c->o->say) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->o->say(c->o->say_ctx, line);
}

void exp_argv_init(exp_argv *a, const exp_ctx *c) {
    a->n = 0;
    a->overflow = 0;
    exp_argv_add(a, "%s", c->o->coinbc);
}

void exp_argv_add(exp_argv *a, const char *fmt, ...) {
    if (a->n >= EXP_MAX_ARGS - 1) {
        a->overflow = 1;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(a->word[a->n], sizeof a->word[a->n], fmt, ap);
    va_end(ap);
    if (k < 0 || k >= (int)sizeof a->word[a->n]) a->overflow = 1;
    a->ptr[a->n] = a->word[a->n];
    a->n++;
    a->ptr[a->n] = NULL;
}

int exp_time_left(const exp_ctx *c) {
    if (c->o->stop && *c->o->stop) return EXP_INTERRUPTED;
    if (c->deadline > 0 && cb_now() >= c->deadline) return EXP_BUDGET;
    return 0;
}

/* "coinbc train ..." for messages: the program's name and the subcommand */
static void what(const exp_argv *a, char *out, size_t n) {
    snprintf(out, n, "coinbc %s%s%s", a->n > 1 ? a->ptr[1] : "", a->n > 2 && a->ptr[2][0] != '-' ? " " : "",
             a->n > 2 && a->ptr[2][0] != '-' ? a->ptr[2] : "");
}

int exp_run(const exp_ctx *c, exp_argv *a, const char *out_file, cb_err *e) {
    char w[200];
    what(a, w, sizeof w);
    if (a->overflow) return cb_fail(e, CB_EARG, "%s: a command line word or the word count is too long", w);
    int left = exp_time_left(c);
    if (left) return left;
    cb_proc p = {.argv = a->ptr, .capture_out = out_file != NULL, .deadline = c->deadline, .stop = c->o->stop};
    cb_proc_result r;
    int rc = cb_proc_run(&p, &r, e);
    if (rc) return cb_err_prefix(e, "%s", w), rc;
    if (r.timed_out || r.stopped) {
        cb_proc_result_free(&r);
        return r.timed_out ? EXP_BUDGET : EXP_INTERRUPTED;
    }
    int code = cb_proc_exit_code(r.status);
    if (code != 0) {
        cb_proc_result_free(&r);
        char line[2048] = "";
        for (int i = 1; i < a->n && strlen(line) < sizeof line - 300; i++)
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", i > 1 ? " " : "", a->ptr[i]);
        return cb_fail(e, CB_EIO, "step failed (exit status %d; its message is above): coinbc %s", code, line);
    }
    if (out_file && *out_file) rc = cb_write_file_atomic(out_file, r.out, r.out_n, e);
    cb_proc_result_free(&r);
    return rc;
}

static int log_step_locked(const exp_ctx *c, const char *step, double seconds, cb_err *e);

/* steps.log is read, extended and written again: the folder's lock keeps
 * two --jobs workers from losing each other's lines */
int exp_log_step(const exp_ctx *c, const char *step, double seconds, cb_err *e) {
    int fd = open(c->o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return cb_fail(e, CB_EIO, "%s: cannot open the folder: %s", c->o->dir, strerror(errno));
    int rc;
    while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc) {
        rc = cb_fail(e, CB_EIO, "%s: cannot lock the folder: %s", c->o->dir, strerror(errno));
        close(fd);
        return rc;
    }
    rc = log_step_locked(c, step, seconds, e);
    close(fd); /* and the lock with it */
    return rc;
}

static int log_step_locked(const exp_ctx *c, const char *step, double seconds, cb_err *e) {
    char path[EXP_PATH], line[256];
    exp_path(path, c->o->dir, "steps.log");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(line, sizeof line, "%s %s %.0fs\n", ts, step, seconds);
    uint8_t *old = NULL;
    size_t n = 0;
    int rc = cb_read_file_max(path, (size_t)64 << 20, &old, &n, e);
    if (rc && rc != CB_ENOTFOUND) return rc;
    size_t ln = strlen(line);
    char *buf = malloc(n + ln + 1);
    if (!buf) {
        free(old);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    }
    if (n) memcpy(buf, old, n);
    memcpy(buf + n, line, ln);
    free(old);
    rc = cb_write_file_atomic(path, buf, n + ln, e);
    free(buf);
    return rc;
}

void exp_path(char *out, const char *a, const char *b) {
    if (snprintf(out, EXP_PATH, "%s/%s", a, b) >= EXP_PATH) out[0] = 0; /* callers check paths up front */
}

int exp_resolve(char *out, const char *spec_dir, const char *p) {
    int k = p[0] == '/' ? snprintf(out, EXP_PATH, "%s", p) : snprintf(out, EXP_PATH, "%s/%s", spec_dir, p);
    return k > 0 && k < EXP_PATH ? 0 : -1;
}
