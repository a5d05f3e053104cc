/* run.h - the files of run folders and tune folders: typed records, one
 * writer and one strict reader each (JSON through jansson). */
#ifndef COINBC_RUN_H
#define COINBC_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ======================================================================
 * tune records (run/tune.c): the search space file, the spec coinbc tune
 * hands its driver (DIR/tune.json), the driver's study result, and the tune
 * folder's outputs DIR/trials.csv and DIR/best.json (docs/FORMATS.md).
 * ====================================================================== */

enum { RUN_TUNE_SPACE_VERSION = 1, RUN_TUNE_SPEC_VERSION = 1, RUN_TUNE_RESULT_VERSION = 1 };
enum { RUN_TUNE_MAX_PARAMS = 16, RUN_TUNE_MAX_CHOICES = 32, RUN_TUNE_MAX_FIXED = 64 };

/* a parameter's value: a number or a word ("on", "const") */
typedef struct {
    int is_str;
    double num;
    char str[32];
} run_tune_value;

enum { RUN_TUNE_LOG = 0, RUN_TUNE_UNIFORM = 1, RUN_TUNE_INT = 2, RUN_TUNE_CHOICE = 3 };

typedef struct {
    char name[32];     /* a coinbc train option without dashes: lr, wd, tau, ... */
    int kind;          /* RUN_TUNE_LOG, _UNIFORM, _INT (ranges [lo, hi]) or _CHOICE */
    double lo, hi;
    int or_zero;       /* log/uniform: 0 is a choice too (for wd) */
    int nchoice;
    run_tune_value choice[RUN_TUNE_MAX_CHOICES];
} run_tune_param;

typedef struct {
    int nparams;
    run_tune_param p[RUN_TUNE_MAX_PARAMS];
} run_tune_space;

/* Option kinds of coinbc train as tune knows them: 1 number, 2 word, 0 not
 * an option tune can pass (see run/tune.c for the list). */
int run_tune_option_kind(const char *name);
/* 0 when value is allowed for train option name; otherwise fills e. */
int run_tune_check_value(const char *name, const run_tune_value *v, cb_err *e);

/* Reads a space file ({"version": 1, "methods": {METHOD: {PARAM: {...}}}}),
 * checks every method's section (unknown method or parameter, empty range,
 * log range not positive, a parameter that does not apply to the method such
 * as tau for mean) and returns the section of method. */
int run_tune_space_read(run_tune_space *out, const char *path, const char *method, cb_err *e);
/* The checks of run_tune_space_read on one method's space. */
int run_tune_space_check(const run_tune_space *s, const char *method, cb_err *e);
int run_tune_space_find(const run_tune_space *s, const char *name); /* index or -1 */

/* DIR/tune.json: everything the driver needs, absolute paths. */
typedef struct {
    char coinbc[4096], train[4096], val[4096], dir[4096];
    char method[16], storage[4096], study[256];
    int trials, epochs, jobs, threads, prune;
    int64_t seed;
    int nfixed;                     /* train options after --, as argv words */
    char fixed[RUN_TUNE_MAX_FIXED][256];
    run_tune_space space;
} run_tune_spec;

/* malloc'd JSON text of the spec (free it); NULL when out of memory */
char *run_tune_spec_json(const run_tune_spec *s);
int run_tune_spec_write(const char *path, const run_tune_spec *s, cb_err *e);
int run_tune_spec_read(run_tune_spec *out, const char *path, cb_err *e);
/* 0 when a and b define the same study (method, epochs, seed, prune, fixed
 * options, space, study name, storage); otherwise e names the first difference. */
int run_tune_spec_same_study(const run_tune_spec *a, const run_tune_spec *b, cb_err *e);

/* One finished trial of a study. */
enum { RUN_TUNE_COMPLETE = 0, RUN_TUNE_PRUNED = 1, RUN_TUNE_FAIL = 2 };
typedef struct {
    int number, state;
    run_tune_value opt[RUN_TUNE_MAX_PARAMS]; /* in the order of the result's params */
    double value;                            /* NAN when none (FAIL) */
    int epochs_run;
    double seconds;
    char run[4096];
} run_tune_trial;

typedef struct {
    int nparams;
    char param[RUN_TUNE_MAX_PARAMS][32];
    int ntrials;
    run_tune_trial *trials; /* malloc'd, by number */
} run_tune_result;

const char *run_tune_state_name(int state);
/* The driver's stdout (JSON, docs/FORMATS.md). */
int run_tune_result_parse(run_tune_result *out, const char *json, size_t n, cb_err *e);
void run_tune_result_free(run_tune_result *r);
/* index of the best COMPLETE trial (highest value, lowest number on ties), or -1 */
int run_tune_best(const run_tune_result *r);

/* DIR/trials.csv: number,state,<params>,value,epochs_run,seconds,run */
int run_tune_trials_write(const char *path, const run_tune_result *r, cb_err *e);
int run_tune_trials_read(run_tune_result *out, const char *path, cb_err *e);

/* DIR/best.json: the best trial's coinbc train options ({option: value}):
 * method, tau, lr, the searched options, the fixed options and epochs. */
int run_tune_best_write(const char *path, const run_tune_spec *s, const run_tune_result *r, int best, cb_err *e);
/* best.json as train argv words ("--method", "and", "--tau", "0.5", ...):
 * malloc'd one-line text "--method and --tau 0.5 ..." */
int run_tune_best_args(char **out, const char *path, cb_err *e);

#endif
