/* proc.c - running a child program: argv with stdin from a string (or
 * /dev/null), stdout and stderr each captured into a bounded buffer or
 * inherited, an optional deadline and stop flag, and the child in a process
 * group of its own so that a stop reaches everything it started (a tune
 * driver's training processes too). The child dies with its parent
 * (PR_SET_PDEATHSIG), so a kill -9 of the parent leaves nothing running. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"

/* Seconds between SIGTERM and SIGKILL when a child is stopped. */
#define PROC_GRACE 30.0

static void close2(int p[2]) {
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) close(p[i]), p[i] = -1;
}

/* The child: stdin, stdout and stderr set up, then exec. Never returns. */
static void child(const cb_proc *o, pid_t parent, int pin[2], int pout[2], int perr[2]) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (!o->keep_group) setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (pin[0] >= 0) dup2(pin[0], 0);
    else {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, 0), close(fd);
    }
    if (pout[1] >= 0) dup2(pout[1], 1);
    if (perr[1] >= 0) dup2(perr[1], 2);
    close2(pin);
    close2(pout);
    close2(perr);
    execv(o->argv[0], o->argv);
    fprintf(stderr, "%s: %s\n", o->argv[0], strerror(errno));
    _exit(127);
}

static void stop_group(const cb_proc *o, pid_t pid, int sig) {
    if (o->keep_group || kill(-pid, sig) < 0) kill(pid, sig); /* before setpgid ran in the child */
}

int cb_proc_run(const cb_proc *o, cb_proc_result *r, cb_err *e) {
    memset(r, 0, sizeof *r);
    r->status = -1;
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if ((o->in_text && pipe(pin)) || (o->capture_out && pipe(pout)) || (o->capture_err && pipe(perr))) {
        int er = errno;
        close2(pin), close2(pout), close2(perr);
        return cb_fail(e, CB_EIO, "%s: cannot make a pipe: %s", o->argv[0], strerror(er));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int er = errno;
        close2(pin), close2(pout), close2(perr);
        return cb_fail(e, CB_EIO, "%s: cannot start: %s", o->argv[0], strerror(er));
    }
    if (pid == 0) child(o, parent, pin, pout, perr);
    if (!o->keep_group) setpgid(pid, pid); /* also here, so a stop right after fork reaches the group */
    if (pin[0] >= 0) close(pin[0]), pin[0] = -1;
    if (pout[1] >= 0) close(pout[1]), pout[1] = -1;
    if (perr[1] >= 0) close(perr[1]), perr[1] = -1;

    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    const char *in = o->in_text;
    size_t in_n = in ? strlen(in) : 0, in_done = 0;
    if (pin[1] >= 0) fcntl(pin[1], F_SETFL, fcntl(pin[1], F_GETFL) | O_NONBLOCK);
    if (pin[1] >= 0 && in_n == 0) close(pin[1]), pin[1] = -1;

    char *buf[2] = {NULL, NULL};
    size_t len[2] = {0, 0}, cap[2] = {0, 0};
    size_t max[2] = {o->max_out ? o->max_out : (size_t)64 << 20, o->max_err ? o->max_err : (size_t)1 << 20};
    int fds[2] = {pout[0], perr[0]};
    int rc = 0, stopped = 0;
    double kill_at = -1;
    for (;;) {
        struct pollfd pf[3];
        int np = 0, which[3];
        for (int w = 0; w < 2; w++)
            if (fds[w] >= 0) pf[np].fd = fds[w], pf[np].events = POLLIN, which[np++] = w;
        if (pin[1] >= 0) pf[np].fd = pin[1], pf[np].events = POLLOUT, which[np++] = 2;
        /* done once the outputs are closed; with nothing captured, wait for the exit itself */
        if (np == 0) {
            int st;
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) {
                r->status = st;
                break;
            }
            if (w < 0 && errno != EINTR) break;
        }
        int want_stop = (o->stop && *o->stop) || (o->deadline > 0 && cb_now() >= o->deadline);
        if (want_stop && !stopped) {
            stopped = 1;
            r->timed_out = !(o->stop && *o->stop);
            r->stopped = !r->timed_out;
            stop_group(o, pid, SIGTERM);
            kill_at = cb_now() + (o->grace > 0 ? o->grace : PROC_GRACE);
        }
        if (stopped && kill_at > 0 && cb_now() >= kill_at) {
            stop_group(o, pid, SIGKILL);
            kill_at = -1;
        }
        int tmo = (o->stop || o->deadline > 0 || stopped || np == 0) ? 100 : -1;
        if (np == 0) {
            poll(NULL, 0, tmo);
            continue;
        }
        int k = poll(pf, (nfds_t)np, tmo);
        if (k < 0) {
            if (errno == EINTR) continue;
            rc = cb_fail(e, CB_EIO, "%s: poll: %s", o->argv[0], strerror(errno));
            stop_group(o, pid, SIGKILL);
            break;
        }
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents) continue;
            int w = which[i];
            if (w == 2) {
                ssize_t n = write(pin[1], in + in_done, in_n - in_done);
                if (n > 0) in_done += (size_t)n;
                if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_done == in_n || (pf[i].revents & (POLLERR | POLLHUP)))
                    close(pin[1]), pin[1] = -1;
                continue;
            }
            if (cap[w] - len[w] < 4097) {
                size_t ncap = cap[w] * 2 + 8192;
                char *g = realloc(buf[w], ncap);
                if (!g) {
                    rc = cb_fail(e, CB_ENOMEM, "%s: out of memory reading its output", o->argv[0]);
                    break;
                }
                buf[w] = g, cap[w] = ncap;
            }
            ssize_t n = read(fds[w], buf[w] + len[w], 4096);
            if (n > 0) {
                len[w] += (size_t)n;
                if (len[w] > max[w]) {
                    rc = cb_fail(e, CB_ERANGE, "%s: wrote more than %zu bytes to std%s; stopped it", o->argv[0], max[w],
                                 w ? "err" : "out");
                    break;
                }
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(fds[w]), fds[w] = -1;
            }
        }
        if (rc) {
            stop_group(o, pid, SIGKILL);
            break;
        }
    }
    for (int w = 0; w < 2; w++)
        if (fds[w] >= 0) close(fds[w]);
    if (pin[1] >= 0) close(pin[1]);
    if (r->status == -1) {
        int st;
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR) {
                st = -1;
                break;
            }
        }
        r->status = st;
    }
    signal(SIGPIPE, old_pipe);
    for (int w = 0; w < 2; w++)
        if (buf[w]) buf[w][len[w]] = 0;
    if (rc) {
        free(buf[0]);
        free(buf[1]);
        return rc;
    }
    r->out = buf[0], r->out_n = len[0];
    r->err = buf[1], r->err_n = len[1];
    return 0;
}

void cb_proc_result_free(cb_proc_result *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

int cb_proc_exit_code(int status) {
    if (status < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}
