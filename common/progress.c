/* progress.c - progress reporting on stderr: a redrawn bar with rate and ETA
 * on a terminal, plain periodic lines otherwise. */
#include "common/common.h"

#include <time.h>
#include <unistd.h>

double cb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_dur(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void cb_progress_start(cb_progress *p, const char *label, const char *unit, int64_t total, int quiet) {
    p->label = label;
    p->unit = unit ? unit : "items";
    p->total = total;
    p->done = 0;
    p->quiet = quiet || cb_dist_rank() > 0; /* under mpirun only rank 0 draws progress */
    p->tty = isatty(2);
    p->t_start = p->t_last = cb_now();
    p->interval = p->tty ? 0.1 : 5.0;
}

static void draw(cb_progress *p, int final) {
    double now = cb_now(), el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32], ela[32];
    fmt_dur(ela, sizeof ela, el);
    if (p->total > 0 && rate > 0)
        fmt_dur(eta, sizeof eta, (double)(p->total - p->done) / rate);
    else
        snprintf(eta, sizeof eta, "?");
    if (p->tty) {
        char bar[31];
        int fill = p->total > 0 ? (int)(30.0 * (double)p->done / (double)p->total) : 0;
        if (fill > 30) fill = 30;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : ' ';
        bar[30] = 0;
        if (p->total > 0)
            fprintf(stderr, "\r%s [%s] %lld/%lld %s  %.1f/s  %s  ETA %s\x1b[K", p->label, bar,
                    (long long)p->done, (long long)p->total, p->unit, rate, ela, final ? "0:00" : eta);
        else
            fprintf(stderr, "\r%s %lld %s  %.1f/s  %s\x1b[K", p->label, (long long)p->done, p->unit, rate, ela);
        if (final) fputc('\n', stderr);
    } else {
        if (p->total > 0)
            fprintf(stderr, "%s: %lld/%lld %s (%.0f%%), %.1f/s, elapsed %s, ETA %s\n", p->label,
                    (long long)p->done, (long long)p->total, p->unit,
                    100.0 * (double)p->done / (double)p->total, rate, ela, final ? "0:00" : eta);
        else
            fprintf(stderr, "%s: %lld %s, %.1f/s, elapsed %s\n", p->label, (long long)p->done, p->unit,
                    rate, ela);
    }
    fflush(stderr);
    p->t_last = now;
}

void cb_progress_update(cb_progress *p, int64_t done) {
    p->done = done;
    if (p->quiet) return;
    if (cb_now() - p->t_last >= p->interval) draw(p, 0);
}

void cb_progress_add(cb_progress *p, int64_t n) { cb_progress_update(p, p->done + n); }

void cb_progress_finish(cb_progress *p) {
    if (p->quiet) return;
    draw(p, 1);
}
