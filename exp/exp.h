/* exp.h - experiments: `coinbc compare`, the comparison of methods that a
 * spec describes (docs/experiments/NAME.json): data recorded or given, one
 * tune study per tuned method, final runs over seeds, the memorization probe,
 * rollouts, and the table. Every step is a coinbc child process (record,
 * tune, train, eval, rollout, data relabel), so the runner holds no training
 * logic of its own; every record it keeps is written atomically, each step is
 * skipped once its record is complete, and a kill anywhere resumes. */
#ifndef COINBC_EXP_H
#define COINBC_EXP_H

#include <stdio.h>

#include "common/common.h"
#include "run/run.h"

/* The stages; they run in the order data, tune, top, final, probe, table
 * (top: the top-N figure of the tuned methods that ask for one). */
enum { EXP_DATA = 1, EXP_TUNE = 2, EXP_FINAL = 4, EXP_PROBE = 8, EXP_TABLE = 16, EXP_TOP = 32, EXP_ALL = 63 };
/* "data,tune,top,final,probe,table" (any subset, comma-separated) into a mask. */
int exp_stages_parse(const char *s, unsigned *mask);

/* Positive results of exp_compare_run (errors are negative CB_E* codes). */
enum { EXP_COMPLETE = 0, EXP_BUDGET = 1, EXP_INTERRUPTED = 2, EXP_PARTIAL = 3 };

typedef struct {
    const char *spec;   /* the spec file */
    const char *dir;    /* the records: compare.json, configs/, tune/, top/, runs/, probe/, table.md, steps.log */
    const char *work;   /* datasets and run folders (checkpoints): never committed */
    const char *coinbc; /* the program every step runs */
    double hours;       /* time budget of this piece (0: none) */
    unsigned stages;    /* EXP_* mask */
    int threads;        /* threads in all (0: every core); with one job, each step's --threads */
    int jobs;           /* final runs and probes at once, the threads split between them (0: 2 where there
                           are 2 or more threads, else 1; never more than EXP_MAX_JOBS) */
    const volatile int *stop;
    void (*say)(void *ctx, const char *line); /* progress lines */
    void *say_ctx;
} exp_compare_opts;

/* Runs the stages asked for. Returns EXP_COMPLETE when every run and probe
 * of the spec is done (the table written), EXP_PARTIAL when the stages asked
 * for are done but not all runs, EXP_BUDGET at the time budget,
 * EXP_INTERRUPTED when *stop was set, or a negative code with e filled.
 * *table (when not NULL) gets the table's text (malloc'd) if it was made. */
int exp_compare_run(const exp_compare_opts *o, char **table, cb_err *e);

#endif
