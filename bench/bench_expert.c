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

int bench_expert(int argc, char **argv) {
    cb_range levels = {0, 9999};
    const char *mode_s = "both";
    int threads = cb_default_threads(), show = 50, slow = 5;
    int64_t max_steps = 0;
    cb_opt opts[] = {
        {"levels", CB_OPT_RANGE, &levels, "A-B", "level seeds to play (default 0-9999)", 0},
        {"mode", CB_OPT_STR, &mode_s, "M", "easy, hard or both (default both)", 0},
        {"threads", CB_OPT_INT, &threads, "T", "worker threads (default: online cores)", 0},
        {"max-steps", CB_OPT_I64, &max_steps, "N", "search budget in simulated steps per plan (default: the expert's)", 0},
        {"show", CB_OPT_INT, &show, "N", "list at most N failing levels per mode (default 50)", 0},
        {"slow", CB_OPT_INT, &slow, "N", "list the N slowest levels per mode (default 5)", 0},
    };
    cb_cmd_info info = {"bench expert",
                         "Expert planner: success rate within 1000 steps and planning time per level.",
                         "coinbc bench expert [--levels A-B] [--mode easy|hard|both] [--threads T]",
                         "Each level is played once from its start with the expert. Planning time per level is\n"
                         "the wall time spent in game_expert_act over the episode (first plan and any replans)."};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    int modes[2], nmodes = 0;
    if (!strcmp(mode_s, "both")) {
        modes[nmodes++] = GAME_EASY;
        modes[nmodes++] = GAME_HARD;
    } else {
        int m;
        if (game_mode_parse(mode_s, &m)) return bench_error("bench expert", "unknown mode '%s'", mode_s), 2;
        modes[nmodes++] = m;
    }
    if (threads < 1 || threads > 64) return bench_error("bench expert", "--threads must be in 1..64"), 2;
    if (max_steps < 0) return bench_error("bench expert", "--max-steps must be >= 0 (0: the default budget)"), 2;
    int64_t n = (int64_t)levels.hi - levels.lo + 1;

    bench_print_machine();
    printf("threads %d, levels %d-%d, one episode per level from the reset state\n", threads, levels.lo, levels.hi);
    game_expert *experts = calloc((size_t)threads, sizeof *experts);
    level_result *res = malloc(sizeof *res * (size_t)n);
    double *times = malloc(sizeof *times * (size_t)n);
    if (!experts || !res || !times) {
        free(experts);
        free(res);
        free(times);
        return bench_error("bench expert", "out of memory");
    }
    int status = 0;
    cb_err e = {0};
    game_expert_opts eo = {.max_steps = max_steps, .max_nodes = 0};
    int ninit = 0;
    for (; ninit < threads; ninit++)
        if (game_expert_init(&experts[ninit], &eo, &e)) {
            status = bench_fail("bench expert", &e);
            goto out;
        }
    for (int mi = 0; mi < nmodes; mi++) {
        bench_ctx ctx = {.lo = levels.lo, .mode = modes[mi], .experts = experts, .res = res};
        double t0 = cb_now();
        cb_parallel_for_w(n, threads, play_level, &ctx);
        double wall = cb_now() - t0;
        int64_t coins = 0, deaths = 0, timeouts = 0, errors = 0, searches = 0, steps = 0, shown = 0;
        for (int64_t i = 0; i < n; i++) {
            level_result *r = &res[i];
            times[i] = r->seconds;
            searches += r->searches;
            steps += r->steps;
            if (r->outcome == GAME_COIN) {
                coins++;
                continue;
            }
            if (r->outcome == GAME_DEATH) deaths++;
            else if (r->outcome == GAME_TIMEOUT_END) timeouts++;
            else errors++;
            if (shown++ < show)
                printf("  FAIL %s level %lld: %s after %d steps; %s\n", game_mode_name(modes[mi]),
                       (long long)(levels.lo + i), r->outcome == GAME_DEATH ? "died" : r->outcome == GAME_TIMEOUT_END ? "timed out" : "error",
                       r->steps, r->reason[0] ? r->reason : "expert reported no error");
        }
        if (shown > show) printf("  ... %lld more failing levels\n", (long long)(shown - show));
        for (int k = 0; k < slow && k < n; k++) { /* the k-th slowest, by selection */
            int64_t arg = -1;
            for (int64_t i = 0; i < n; i++) {
                if (times[i] >= 0 && (arg < 0 || times[i] > times[arg])) arg = i;
            }
            if (arg < 0) break;
            printf("  slow %s level %lld: %.1f ms, %d plans, %d steps\n", game_mode_name(modes[mi]),
                   (long long)(levels.lo + arg), 1e3 * times[arg], res[arg].searches, res[arg].steps);
            times[arg] = -1;
        }
        for (int64_t i = 0; i < n; i++) times[i] = res[i].seconds;
        qsort(times, (size_t)n, sizeof *times, cmp_double);
        printf("%s: %lld/%lld levels reach the coin (%.2f%%), %lld died, %lld timed out, %lld errors; "
               "%.2f plans/level, %.1f steps/level\n",
               game_mode_name(modes[mi]), (long long)coins, (long long)n, 100.0 * (double)coins / (double)n,
               (long long)deaths, (long long)timeouts, (long long)errors, (double)searches / (double)n,
               (double)steps / (double)n);
        printf("%s: planning time per level: median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.1f ms; "
               "wall %.1f s\n",
               game_mode_name(modes[mi]), 1e3 * quantile(times, (int)n, 0.5), 1e3 * quantile(times, (int)n, 0.9),
               1e3 * quantile(times, (int)n, 0.99), 1e3 * times[n - 1], wall);
        fflush(stdout);
    }
out:
    for (int i = 0; i < ninit; i++) game_expert_free(&experts[i]);
    free(experts);
    free(res);
    free(times);
    return status;
}
