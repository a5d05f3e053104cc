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

/* One running child: its pipes, what has been written to its stdin, and
 * what it has written to stdout (w = 0) and stderr (w = 1). */
typedef struct {
    const cb_proc *o;
    pid_t pid;
    int in_fd, fds[2];
    size_t in_n, in_done;
    char *buf[2];
    size_t len[2], cap[2], max[2];
    int stopped;
    double kill_at;
} proc_run;

/* The pipes and the fork; the parent keeps its ends. */
static int proc_start(proc_run *p, cb_err *e) {
    const cb_proc *o = p->o;
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if ((o->in_text && pipe(pin)) || (o->capture_out && pipe(pout)) || (o->capture_err && pipe(perr))) {
        int er = errno;
        close2(pin), close2(pout), close2(perr);
        return cb_fail(e, CB_EIO, "%s: cannot make a pipe: %s", o->argv[0], strerror(er));
    }
    pid_t parent = getpid();
    p->pid = fork();
    if (p->pid < 0) {
        int er = errno;
        close2(pin), close2(pout), close2(perr);
        return cb_fail(e, CB_EIO, "%s: cannot start: %s", o->argv[0], strerror(er));
    }
    if (p->pid == 0) child(o, parent, pin, pout, perr);
    if (!o->keep_group) setpgid(p->pid, p->pid); /* also here, so a stop right after fork reaches the group */
    if (pin[0] >= 0) close(pin[0]);
    if (pout[1] >= 0) close(pout[1]);
    if (perr[1] >= 0) close(perr[1]);
    p->in_fd = pin[1];
    p->fds[0] = pout[0], p->fds[1] = perr[0];
    p->in_n = o->in_text ? strlen(o->in_text) : 0;
    if (p->in_fd >= 0) fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
    if (p->in_fd >= 0 && p->in_n == 0) close(p->in_fd), p->in_fd = -1;
    return 0;
}

/* SIGTERM to the group once the deadline passes or *stop is set, SIGKILL
 * after the grace period. */
static void proc_check_stop(proc_run *p, cb_proc_result *r) {
    const cb_proc *o = p->o;
    int want_stop = (o->stop && *o->stop) || (o->deadline > 0 && cb_now() >= o->deadline);
    if (want_stop && !p->stopped) {
        p->stopped = 1;
        r->timed_out = !(o->stop && *o->stop);
        r->stopped = !r->timed_out;
        stop_group(o, p->pid, SIGTERM);
        p->kill_at = cb_now() + (o->grace > 0 ? o->grace : PROC_GRACE);
    }
    if (p->stopped && p->kill_at > 0 && cb_now() >= p->kill_at) {
        stop_group(o, p->pid, SIGKILL);
        p->kill_at = -1;
    }
}

/* Writes what the child's stdin can take now; closes it when all is written
 * or the child closed its end. */
static void proc_write_in(proc_run *p, short revents) {
    ssize_t n = write(p->in_fd, p->o->in_text + p->in_done, p->in_n - p->in_done);
    if (n > 0) p->in_done += (size_t)n;
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || p->in_done == p->in_n || (revents & (POLLERR | POLLHUP)))
        close(p->in_fd), p->in_fd = -1;
}

/* Reads what output w has now, within its cap; closes it at its end. */
static int proc_read_out(proc_run *p, int w, cb_err *e) {
    if (p->cap[w] - p->len[w] < 4097) {
        size_t ncap = p->cap[w] * 2 + 8192;
        char *g = realloc(p->buf[w], ncap);
        if (!g) return cb_fail(e, CB_ENOMEM, "%s: out of memory reading its output", p->o->argv[0]);
        p->buf[w] = g, p->cap[w] = ncap;
    }
    ssize_t n = read(p->fds[w], p->buf[w] + p->len[w], 4096);
    if (n > 0) {
        p->len[w] += (size_t)n;
        if (p->len[w] > p->max[w])
            return cb_fail(e, CB_ERANGE, "%s: wrote more than %zu bytes to std%s; stopped it", p->o->argv[0], p->max[w],
                           w ? "err" : "out");
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(p->fds[w]), p->fds[w] = -1;
    }
    return 0;
}

/* Until the outputs are closed (or, with nothing captured, the child has
 * ended): feeds stdin, reads the outputs, applies the deadline and stop. */
static int proc_pump(proc_run *p, cb_proc_result *r, cb_err *e) {
    for (;;) {
        struct pollfd pf[3];
        int np = 0, which[3];
        for (int w = 0; w < 2; w++)
            if (p->fds[w] >= 0) pf[np].fd = p->fds[w], pf[np].events = POLLIN, which[np++] = w;
        if (p->in_fd >= 0) pf[np].fd = p->in_fd, pf[np].events = POLLOUT, which[np++] = 2;
        if (np == 0) {
            int st;
            pid_t w = waitpid(p->pid, &st, WNOHANG);
            if (w == p->pid) {
                r->status = st;
                return 0;
            }
            if (w < 0 && errno != EINTR) return 0;
        }
        proc_check_stop(p, r);
        int tmo = (p->o->stop || p->o->deadline > 0 || p->stopped || np == 0) ? 100 : -1;
        if (np == 0) {
            poll(NULL, 0, tmo);
            continue;
        }
        if (poll(pf, (nfds_t)np, tmo) < 0) {
            if (errno == EINTR) continue;
            return cb_fail(e, CB_EIO, "%s: poll: %s", p->o->argv[0], strerror(errno));
        }
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents) continue;
            if (which[i] == 2) proc_write_in(p, pf[i].revents);
            else {
                int rc = proc_read_out(p, which[i], e);
                if (rc) return rc;
            }
        }
    }
}

int cb_proc_run(const cb_proc *o, cb_proc_result *r, cb_err *e) {
    memset(r, 0, sizeof *r);
    r->status = -1;
    proc_run p = {.o = o, .in_fd = -1, .fds = {-1, -1}, .kill_at = -1,
                  .max = {o->max_out ? o->max_out : (size_t)64 << 20, o->max_err ? o->max_err : (size_t)1 << 20}};
    int rc = proc_start(&p, e);
    if (rc) return rc;
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    rc = proc_pump(&p, r, e);
    if (rc) stop_group(o, p.pid, SIGKILL);
    for (int w = 0; w < 2; w++)
        if (p.fds[w] >= 0) close(p.fds[w]);
    if (p.in_fd >= 0) close(p.in_fd);
    if (r->status == -1) {
        int st;
        while (waitpid(p.pid, &st, 0) < 0) {
            if (errno != EINTR) {
                st = -1;
                break;
            }
        }
        r->status = st;
    }
    signal(SIGPIPE, old_pipe);
    for (int w = 0; w < 2; w++)
        if (p.buf[w]) p.buf[w][p.len[w]] = 0;
    if (rc) {
        free(p.buf[0]);
        free(p.buf[1]);
        return rc;
    }
    r->out = p.buf[0], r->out_n = p.len[0];
    r->err = p.buf[1], r->err_n = p.len[1];
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
