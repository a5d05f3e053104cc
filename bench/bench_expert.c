/* bench_expert.c - the expert planner on many levels: plays one episode of
 * every seed in the range, in each mode asked for, with the expert from the
 * reset state, and prints the success rate (coin within 1000 steps), every
 * failing level with its reason, and the planning time per level (total time
 * spent in game_expert_act over the episode): median, p99 and max.
 * `coinbc bench expert` (wired by cli/cmd_bench.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "game/game.h"

int bench_expert(int argc, char **argv);

typedef struct {
    double seconds;   /* time in game_expert_act over the episode */
    int outcome;      /* GAME_COIN, GAME_DEATH, GAME_TIMEOUT_END, or -1 (engine error) */
    int steps;        /* episode length */
    int searches;     /* plans made during the episode */
    int fail_rc;      /* first expert error code of the episode, 0 if none */
    char reason[320]; /* first expert error message */
} level_result;

typedef struct {
    int32_t lo;
    int mode;
    int64_t max_steps;
    game_expert *experts; /* one per worker */
    level_result *res;
} bench_ctx;

static int play_level(void *vctx, int64_t i, int worker) {
    bench_ctx *c = vctx;
    level_result *r = &c->res[i];
    game_expert *ex = &c->experts[worker];
    memset(r, 0, sizeof *r);
    r->outcome = -1;
    static _Thread_local game_level L;
    game_state s;
    cb_err e = {0};
    if (game_level_generate(&L, &s, c->lo + (int32_t)i, c->mode, &e)) {
        snprintf(r->reason, sizeof r->reason, "%.300s", e.msg);
        return 0;
    }
    game_expert_reset(ex);
    int64_t searches0 = ex->searches;
    for (int t = 0; t < GAME_TIMEOUT; t++) {
        int a;
        double t0 = cb_now();
        int rc = game_expert_act(ex, &L, &s, &a, &e);
        r->seconds += cb_now() - t0;
        if (rc && !r->fail_rc) {
            r->fail_rc = rc;
            snprintf(r->reason, sizeof r->reason, "%.300s", e.msg);
        }
        game_step_out o;
        game_step(&L, &s, a, &o);
        if (o.done) {
            r->outcome = o.outcome;
            r->steps = t + 1;
            break;
        }
    }
    r->searches = (int)(ex->searches - searches0);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double q) {
    if (n <= 0) return 0;
    int k = (int)(q * (double)(n - 1) + 0.5);
    return sorted[k];
}

/* bench expert's options, as parsed and checked */
typedef struct {
    cb_range levels;
    const char *mode_s;
    int threads, show, slow;
    int64_t max_steps;
    int modes[2], nmodes; /* --mode's */
    int64_t n;            /* levels per mode */
} expert_args;

/* the experts and the per-level slots the modes share */
typedef struct {
    game_expert *experts; /* one per thread */
    int ninit;            /* experts initialised */
    level_result *res;
    double *times; /* planning seconds, per level */
} expert_bufs;

/* what one mode's levels came to */
typedef struct {
    int64_t coins, deaths, timeouts, errors, searches, steps;
} mode_tally;

/* the options into *a: -1 to go on, else the exit status (0 after --help) */
static int parse_expert_args(int argc, char **argv, expert_args *a) {
    *a = (expert_args){.levels = {0, 9999}, .mode_s = "both", .threads = cb_default_threads(), .show = 50, .slow = 5};
    cb_opt opts[] = {
        {"levels", CB_OPT_RANGE, &a->levels, "A-B", "level seeds to play (default 0-9999)", 0},
        {"mode", CB_OPT_STR, &a->mode_s, "M", "easy, hard or both (default both)", 0},
        {"threads", CB_OPT_INT, &a->threads, "T", "worker threads (default: online cores)", 0},
        {"max-steps", CB_OPT_I64, &a->max_steps, "N", "search budget in simulated steps per plan (default: the expert's)", 0},
        {"show", CB_OPT_INT, &a->show, "N", "list at most N failing levels per mode (default 50)", 0},
        {"slow", CB_OPT_INT, &a->slow, "N", "list the N slowest levels per mode (default 5)", 0},
    };
    cb_cmd_info info = {"bench expert",
                         "Expert planner: success rate within 1000 steps and planning time per level.",
                         "coinbc bench expert [--levels A-B] [--mode easy|hard|both] [--threads T]",
                         "Each level is played once from its start with the expert. Planning time per level is\n"
                         "the wall time spent in game_expert_act over the episode (first plan and any replans)."};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    if (!strcmp(a->mode_s, "both")) {
        a->modes[a->nmodes++] = GAME_EASY;
        a->modes[a->nmodes++] = GAME_HARD;
    } else {
        int m;
        if (game_mode_parse(a->mode_s, &m)) return bench_error("bench expert", "unknown mode '%s'", a->mode_s), 2;
        a->modes[a->nmodes++] = m;
    }
    if (a->threads < 1 || a->threads > 64) return bench_error("bench expert", "--threads must be in 1..64"), 2;
    if (a->max_steps < 0) return bench_error("bench expert", "--max-steps must be >= 0 (0: the default budget)"), 2;
    a->n = (int64_t)a->levels.hi - a->levels.lo + 1;
    return -1;
}

/* the experts and the slots, freed */
static void free_bufs(expert_bufs *b) {
    for (int i = 0; i < b->ninit; i++) game_expert_free(&b->experts[i]);
    free(b->experts);
    free(b->res);
    free(b->times);
}

/* the slots and one expert per thread: 0, or the exit status after a
 * message; free_bufs either way */
static int setup_bufs(const expert_args *a, expert_bufs *b, cb_err *e) {
    *b = (expert_bufs){0};
    b->experts = calloc((size_t)a->threads, sizeof *b->experts);
    b->res = malloc(sizeof *b->res * (size_t)a->n);
    b->times = malloc(sizeof *b->times * (size_t)a->n);
    if (!b->experts || !b->res || !b->times) {
        free_bufs(b);
        *b = (expert_bufs){0};
        return bench_error("bench expert", "out of memory");
    }
    game_expert_opts eo = {.max_steps = a->max_steps, .max_nodes = 0};
    for (; b->ninit < a->threads; b->ninit++)
        if (game_expert_init(&b->experts[b->ninit], &eo, e)) return bench_fail("bench expert", e);
    return 0;
}

/* the outcomes counted into *t, a line for each of the first --show
 * failing levels and one for the rest; b->times from the results */
static void tally_mode(const expert_args *a, expert_bufs *b, int mode, mode_tally *t) {
    int64_t n = a->n, shown = 0;
    *t = (mode_tally){0};
    for (int64_t i = 0; i < n; i++) {
        level_result *r = &b->res[i];
        b->times[i] = r->seconds;
        t->searches += r->searches;
        t->steps += r->steps;
        if (r->outcome == GAME_COIN) {
            t->coins++;
            continue;
        }
        if (r->outcome == GAME_DEATH) t->deaths++;
        else if (r->outcome == GAME_TIMEOUT_END) t->timeouts++;
        else t->errors++;
        const char *how = r->outcome == GAME_DEATH ? "died" : r->outcome == GAME_TIMEOUT_END ? "timed out" : "error";
        if (shown++ < a->show)
            printf("  FAIL %s level %lld: %s after %d steps; %s\n", game_mode_name(mode), (long long)(a->levels.lo + i),
                   how, r->steps, r->reason[0] ? r->reason : "expert reported no error");
    }
    if (shown > a->show) printf("  ... %lld more failing levels\n", (long long)(shown - a->show));
}

/* the --slow slowest levels, a line each (b->times used up) */
static void print_slowest(const expert_args *a, expert_bufs *b, int mode) {
    int64_t n = a->n;
    double *times = b->times;
    for (int k = 0; k < a->slow && k < n; k++) { /* the k-th slowest, by selection */
        int64_t arg = -1;
        for (int64_t i = 0; i < n; i++) {
            if (times[i] >= 0 && (arg < 0 || times[i] > times[arg])) arg = i;
        }
        if (arg < 0) break;
        printf("  slow %s level %lld: %.1f ms, %d plans, %d steps\n", game_mode_name(mode),
               (long long)(a->levels.lo + arg), 1e3 * times[arg], b->res[arg].searches, b->res[arg].steps);
        times[arg] = -1;
    }
}

/* the mode's success rate and its planning time quantiles, two lines */
static void print_mode_summary(const expert_args *a, expert_bufs *b, int mode, const mode_tally *t, double wall) {
    int64_t n = a->n;
    double *times = b->times;
    for (int64_t i = 0; i < n; i++) times[i] = b->res[i].seconds;
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    printf("%s: %lld/%lld levels reach the coin (%.2f%%), %lld died, %lld timed out, %lld errors; "
           "%.2f plans/level, %.1f steps/level\n",
           game_mode_name(mode), (long long)t->coins, (long long)n, 100.0 * (double)t->coins / (double)n,
           (long long)t->deaths, (long long)t->timeouts, (long long)t->errors, (double)t->searches / (double)n,
           (double)t->steps / (double)n);
    printf("%s: planning time per level: median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.1f ms; "
           "wall %.1f s\n",
           game_mode_name(mode), 1e3 * quantile(times, (int)n, 0.5), 1e3 * quantile(times, (int)n, 0.9),
           1e3 * quantile(times, (int)n, 0.99), 1e3 * times[n - 1], wall);
    fflush(stdout);
}

/* every level of one mode played on the threads, timed, and its lines */
static void run_mode(const expert_args *a, expert_bufs *b, int mode) {
    bench_ctx ctx = {.lo = a->levels.lo, .mode = mode, .experts = b->experts, .res = b->res};
    double t0 = cb_now();
    cb_parallel_for_w(a->n, a->threads, play_level, &ctx);
    double wall = cb_now() - t0;
    mode_tally t;
    tally_mode(a, b, mode, &t);
    print_slowest(a, b, mode);
    print_mode_summary(a, b, mode, &t, wall);
}

int bench_expert(int argc, char **argv) {
    expert_args a;
    int rc = parse_expert_args(argc, argv, &a);
    if (rc >= 0) return rc;
    bench_print_machine();
    printf("threads %d, levels %d-%d, one episode per level from the reset state\n", a.threads, a.levels.lo, a.levels.hi);
    expert_bufs b;
    cb_err e = {0};
    int status = setup_bufs(&a, &b, &e);
    for (int mi = 0; !status && mi < a.nmodes; mi++) run_mode(&a, &b, a.modes[mi]);
    free_bufs(&b);
    return status;
}
