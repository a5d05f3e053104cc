/* internal.h - exp/'s private pieces: the runner's context, argv building
 * and child steps (exec.c). */
#ifndef COINBC_EXP_INTERNAL_H
#define COINBC_EXP_INTERNAL_H

#include "exp/exp.h"

#define EXP_PATH 4096
#define EXP_MAX_ARGS 160

typedef struct {
    const exp_compare_opts *o;
    run_compare_spec spec;
    char spec_dir[EXP_PATH];
    double deadline;           /* cb_now() seconds, 0: none */
    char data[4][EXP_PATH];    /* train, val, test, relabeled datasets */
    run_compare_state state;   /* DIR/compare.json as kept */
    int32_t probe_lo, probe_hi, train_hi; /* the probe's levels, the last training seed */
    int threads;               /* --threads of each step (0: the step's default) */
} exp_ctx;

typedef struct {
    int n, overflow;
    char word[EXP_MAX_ARGS][512];
    char *ptr[EXP_MAX_ARGS + 1];
} exp_argv;

void exp_say(const exp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* argv[0] is the coinbc the children run */
void exp_argv_init(exp_argv *a, const exp_ctx *c);
void exp_argv_add(exp_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or EXP_BUDGET / EXP_INTERRUPTED when no new step may start */
int exp_time_left(const exp_ctx *c);
/* Runs a; with out_file, its stdout becomes that file atomically (only when
 * it exits 0); with EXP_DISCARD it is read and dropped (the runner's own
 * stdout is the table's). 0, EXP_BUDGET, EXP_INTERRUPTED, or a negative code. */
#define EXP_DISCARD ""
int exp_run(const exp_ctx *c, exp_argv *a, const char *out_file, cb_err *e);
/* A line "TIME STEP SECONDSs" appended to DIR/steps.log (rewritten atomically). */
int exp_log_step(const exp_ctx *c, const char *step, double seconds, cb_err *e);
/* Items of a stage that may run at once (jobs.c): fn runs one, exactly as
 * the runner would run it alone. exp_jobs_run runs the n items (size bytes
 * each) in order with `jobs` <= 1, else in `jobs` forked workers that take
 * them in order; each step gets --threads `threads` (0: its default). After
 * an item ends in anything but 0, no further item starts. Returns 0, the
 * first failing item's error (e filled), EXP_INTERRUPTED, or EXP_BUDGET. */
#define EXP_MAX_JOBS 64
typedef int (*exp_item_fn)(exp_ctx *c, const void *item, cb_err *e);
int exp_jobs_run(exp_ctx *c, int jobs, int threads, exp_item_fn fn, const void *items, size_t size, int n, cb_err *e);
/* out = a/b (EXP_PATH bytes; "" if too long) */
void exp_path(char *out, const char *a, const char *b);
/* a path of the spec: absolute as it is, relative against the spec's folder; -1 if too long */
int exp_resolve(char *out, const char *spec_dir, const char *p);

#endif
