/* test_compare.c - coinbc compare end to end on docs/experiments/quick.json
 * (8 hard levels x 40 states, a tiny net, 2 fixed methods x 2 seeds, the
 * probe, rollouts): the table and the records kept; a second run skips every
 * step; a piece stopped by its time budget, and a kill -9, each continued to
 * the same table as an uninterrupted run; a tuned method through the real
 * coinbc tune (Optuna); your own datasets; a spec or data that differ from
 * what the folder was made with are refused; broken specs are refused naming
 * the file and key, writing nothing; and the committed hard-mode comparison's
 * table produced again from its committed records. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"
#include "tests/support/refdata.h"
#include "tests/support/run.h"

static char *dir;  /* one temporary folder for the whole program */
static char quick[4200]; /* docs/experiments/quick.json */

__attribute__((noinline)) static char *slurp(const char *fmt, const char *a, const char *b) {
    char path[4200];
    snprintf(path, sizeof path, fmt, a, b);
    uint8_t *buf;
    size_t n;
    cb_err e = {0};
    if (cb_read_file(path, &buf, &n, &e)) fail_msg("%s", e.msg);
    return (char *)buf;
}

static int exists(const char *fmt, const char *a, const char *b) {
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, fmt, a, b);
    return stat(path, &st) == 0;
}

/* coinbc compare SPEC -o DIR/NAME/state --work DIR/NAME/work EXTRA */
static int compare(const char *spec, const char *name, const char *extra, char *out, size_t outn, char *err,
                   size_t errn) {
    return test_run(out, outn, err, errn, "compare '%s' -o '%s/%s/state' --work '%s/%s/work' %s", spec, dir, name, dir,
                    name, extra);
}

/* a copy of quick.json with one edit made by a Python statement on `s` */
static void spec_variant(const char *path, const char *edit) { assert_int_equal(test_json_variant(dir, quick, path, edit), 0); }

static char table_a[65536];

static void test_quick_end_to_end(void **st) {
    (void)st;
    static char out[65536], err[65536];
    int rc = compare(quick, "a", "", out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("compare exited %d:\n%s", rc, err);
    assert_non_null(strstr(out, "| method | seeds | train acc | test acc | gap | rollout success |"));
    assert_non_null(strstr(out, "| mean | 2 | "));
    assert_non_null(strstr(out, "| and | 2 | "));
    assert_non_null(strstr(out, "- and: fixed: the configuration given in the spec"));
    assert_non_null(strstr(out, "| method | seeds | relabeled training levels | true-label training levels | test levels |"));
    assert_non_null(strstr(err, "compare: complete"));
    char *t = slurp("%s/a/state/%s", dir, "table.md");
    assert_string_equal(t, out);
    snprintf(table_a, sizeof table_a, "%s", t);
    free(t);
    static const char *kept[] = {"compare.json", "runs/mean-1/done", "runs/mean-2/eval.json", "runs/and-2/rollout.json",
                                 "runs/and-1/config.json", "runs/mean-1/metrics.csv", "runs/mean-1/agreement.json",
                                 "probe/and/relabeled.json", "probe/and/true.json", "probe/mean/test.json",
                                 "probe/mean/done", "configs/and.json", "configs/and.origin", "steps.log"};
    for (size_t k = 0; k < sizeof kept / sizeof *kept; k++)
        if (!exists("%s/a/state/%s", dir, kept[k])) fail_msg("the records lack %s", kept[k]);
    /* no checkpoint and no dataset among the records */
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s/a/state' -name '*.ckpt' -o -name '*.cbd' -o -name '*.tmp*')\"", dir);
    assert_int_equal(system(cmd), 0);
    /* the probe: levels 0-1 relabeled, evaluated there and on the true-label levels 2-7 */
    char *m = slurp("%s/a/work/%s", dir, "data/relabeled.cbd/manifest.txt");
    assert_non_null(strstr(m, "\nrelabel 0 1 1\n"));
    free(m);
    char *j = slurp("%s/a/state/%s", dir, "probe/mean/relabeled.json");
    assert_non_null(strstr(j, "\"test_levels\": 2,"));
    free(j);
    j = slurp("%s/a/state/%s", dir, "probe/mean/true.json");
    assert_non_null(strstr(j, "\"test_levels\": 6,"));
    free(j);
    j = slurp("%s/a/state/%s", dir, "runs/and-2/config.json");
    assert_non_null(strstr(j, "\"method\": \"and\""));
    assert_non_null(strstr(j, "\"seed\": 2,"));
    assert_non_null(strstr(j, "\"hidden\": 16,"));
    assert_non_null(strstr(j, "\"epochs\": 1,"));
    free(j);
    /* again: every step is skipped (steps.log unchanged) and the table is the same */
    char *log0 = slurp("%s/a/state/%s", dir, "steps.log");
    rc = compare(quick, "a", "", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, table_a);
    assert_null(strstr(err, "final run"));
    assert_null(strstr(err, "record "));
    char *log1 = slurp("%s/a/state/%s", dir, "steps.log");
    assert_string_equal(log0, log1);
    free(log0);
    free(log1);
    /* --stage table alone: the same table from the records */
    rc = compare(quick, "a", "--stage table", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, table_a);
}

/* steps.log of DIR/NAME/state holds a line of step `step`; no file is none */
static int step_logged(const char *name, const char *step) {
    char path[4200], want[128];
    snprintf(path, sizeof path, "%s/%s/state/steps.log", dir, name);
    snprintf(want, sizeof want, " %s ", step);
    uint8_t *buf;
    size_t n;
    if (cb_read_file(path, &buf, &n, NULL)) return 0;
    int found = strstr((char *)buf, want) != NULL;
    free(buf);
    return found;
}

static void test_budget_and_kill_then_resumed(void **st) {
    (void)st;
    static char out[65536], err[65536];
    /* a budget of 3.6 ms runs out during the first step on any machine (a
     * budget the whole spec could fit in once passed here and failed on a
     * faster machine): the step is stopped, nothing is logged, exit 3 */
    int rc = compare(quick, "b", "--hours 0.000001", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(err, "stopped at the time budget"));
    assert_false(exists("%s/b/state/%s", dir, "table.md"));
    assert_false(step_logged("b", "record-train"));
    /* kill -9 of the whole command during the next piece, as soon as its
     * first final run is recorded: the other runs and the probe are still to do */
    char errfile[4200], cmd[8400];
    snprintf(errfile, sizeof errfile, "%s/b.err", dir);
    snprintf(cmd, sizeof cmd, "compare '%s' -o '%s/b/state' --work '%s/b/work'", quick, dir, dir);
    pid_t pid = test_spawn(errfile, "%s", cmd);
    assert_true(pid > 0);
    for (int i = 0; i < 60000 && !step_logged("b", "final-mean-1"); i++) usleep(10000); /* up to 10 min: sanitizers, a loaded machine */
    assert_true(step_logged("b", "final-mean-1"));
    kill(pid, SIGKILL);
    test_wait(pid);
    usleep(200000); /* its children die with it (PR_SET_PDEATHSIG) */
    assert_false(step_logged("b", "probe-and-1"));
    assert_false(exists("%s/b/state/%s", dir, "table.md"));
    rc = compare(quick, "b", "", out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("resumed compare exited %d:\n%s", rc, err);
    assert_null(strstr(err, "final run mean, seed 1")); /* recorded before the kill: not run again */
    assert_string_equal(out, table_a);
}

/* DIR/NAME/state/FILE with NAME's folder names replaced by a's: the same
 * record as a's when the runs gave the same results */
static char *record_as_a(const char *name, const char *file) {
    char sd[4300];
    snprintf(sd, sizeof sd, "%s/%s/state", dir, name);
    char *t = slurp("%s/%s", sd, file);
    char from[64];
    snprintf(from, sizeof from, "/%s/work/", name);
    for (char *p = strstr(t, from); p; p = strstr(p, from)) {
        memmove(p + 8, p + strlen(from), strlen(p + strlen(from)) + 1);
        memcpy(p, "/a/work/", 8);
    }
    return t;
}

/* --jobs: one at a time and three at once give a's table and records (the
 * evaluations, rollouts and probe figures; the runs differ only in their
 * paths and timings); a worker whose item fails stops the command with that
 * item's message, and a SIGTERM to the runner stops its workers; both go on
 * to the same table */
static void test_jobs(void **st) {
    (void)st;
    static char out[65536], err[65536];
    static const char *const records[] = {"runs/mean-1/eval.json", "runs/and-2/eval.json", "runs/mean-2/rollout.json",
                                          "runs/and-1/rollout.json", "probe/mean/relabeled.json", "probe/and/true.json",
                                          "probe/and/test.json"};
    static const char *const names[] = {"j1", "j3"}, *const opts[] = {"--jobs 1", "--jobs 3 --threads 3"};
    for (int k = 0; k < 2; k++) {
        int rc = compare(quick, names[k], opts[k], out, sizeof out, err, sizeof err);
        if (rc != 0) fail_msg("compare %s exited %d:\n%s", opts[k], rc, err);
        assert_string_equal(out, table_a);
        if (k == 1) assert_non_null(strstr(err, "6 final runs and probes to do, 3 at once with 1 thread each"));
        else assert_null(strstr(err, "at once"));
        for (size_t i = 0; i < sizeof records / sizeof *records; i++) {
            char ad[4300];
            snprintf(ad, sizeof ad, "%s/a/state", dir);
            char *mine = record_as_a(names[k], records[i]), *theirs = slurp("%s/%s", ad, records[i]);
            if (strcmp(mine, theirs)) fail_msg("%s %s differs from the one-job run's:\n%s\n%s", opts[k], records[i], mine, theirs);
            free(mine);
            free(theirs);
        }
    }
    /* a failing item: runs/and-1 is a file, so its folder cannot be made */
    char cmd[8600];
    int rc = compare(quick, "f", "--stage data", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 0);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/f/state/runs' && : > '%s/f/state/runs/and-1'", dir, dir);
    assert_int_equal(system(cmd), 0);
    rc = compare(quick, "f", "--jobs 2 --threads 2", out, sizeof out, err, sizeof err);
    if (rc != 1 || !strstr(err, "runs/and-1: exists and is not a folder"))
        fail_msg("a failing item: exit %d, wanted 1 and its message:\n%s", rc, err);
    assert_false(exists("%s/f/state/%s", dir, "table.md"));
    assert_false(exists("%s/f/state/%s", dir, "runs/and-1/done"));
    snprintf(cmd, sizeof cmd, "rm '%s/f/state/runs/and-1'", dir);
    assert_int_equal(system(cmd), 0);
    /* SIGTERM to the runner alone, once a final run is recorded: it stops (143) */
    char errfile[4200];
    snprintf(errfile, sizeof errfile, "%s/g.err", dir);
    snprintf(cmd, sizeof cmd, "compare '%s' -o '%s/g/state' --work '%s/g/work' --jobs 2 --threads 2", quick, dir, dir);
    pid_t pid = test_spawn(errfile, "%s", cmd);
    assert_true(pid > 0);
    for (int i = 0; i < 60000 && !step_logged("g", "final-mean-1") && !step_logged("g", "final-mean-2"); i++)
        usleep(10000);
    kill(pid, SIGTERM);
    rc = test_wait(pid);
    assert_int_equal(rc, 143);
    assert_false(exists("%s/g/state/%s", dir, "table.md"));
    snprintf(cmd, sizeof cmd, "pgrep -f '[c]oinbc .*%s/g/' >/dev/null", dir);
    assert_int_not_equal(system(cmd), 0); /* nothing left running */
    const char *again[] = {"f", "g"};
    for (int k = 0; k < 2; k++) {
        rc = compare(quick, again[k], "--jobs 2 --threads 2", out, sizeof out, err, sizeof err);
        if (rc != 0) fail_msg("%s again exited %d:\n%s", again[k], rc, err);
        assert_string_equal(out, table_a);
    }
}

static void test_other_spec_refused(void **st) {
    (void)st;
    static char out[65536], err[65536];
    char other[4200];
    snprintf(other, sizeof other, "%s/other.json", dir);
    spec_variant(other, "s['seeds'] = [1, 2, 3]");
    char *before = slurp("%s/a/state/%s", dir, "compare.json");
    int rc = compare(other, "a", "", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "compare.json records another spec"));
    char *after = slurp("%s/a/state/%s", dir, "compare.json");
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_false(exists("%s/a/state/%s", dir, "runs/mean-3"));
    /* a dataset changed under the records: its manifest CRC is refused */
    char cmdl[8400];
    snprintf(cmdl, sizeof cmdl, "rm -rf '%s/a/work/data/val.cbd' && %s record --levels 500-503 --mode hard --states 20 "
                                "--noise 0.1 --seed 9 --quiet --out '%s/a/work/data/val.cbd' 2>/dev/null",
             dir, test_coinbc(), dir);
    assert_int_equal(system(cmdl), 0);
    rc = compare(quick, "a", "", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "val.cbd: content CRC"));
    assert_non_null(strstr(err, "compare.json says the val data"));
}

static void test_broken_specs(void **st) {
    (void)st;
    static char out[65536], err[65536];
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"s['colour'] = 1", "unknown key \"colour\""},
        {"s['epochs'] = 'five'", "key \"epochs\": expected an integer"},
        {"s['methods'].append(s['methods'][0])", "method \"mean\" is listed twice"},
        {"s['data']['val']['levels'] = '5-600'", "data.train and data.val share level seeds"},
        {"s['probe']['levels'] = '0-7'", "must be training levels"},
        {"s['base'] = 'sand'", "base \"sand\" is not one of the methods"},
        {"s['methods'][0] = {'name': 'nope', 'tune': {'trials': 2, 'seed': 1}}", "\"nope\" is not one"},
        {"s['methods'][0]['tune'] = {'trials': 2, 'seed': 1}", "give exactly one of \"tune\" and \"config\""},
        {"s['mode'] = 'insane'", "expected easy or hard"},
        {"s['seeds'] = [1, 1]", "seed 1 is listed twice"},
        {"s['train_options'] = ['--net']", "\"--option\", \"value\" pairs"},
        {"s['data']['test'] = {'path': 'x.cbd'}", "either all three are recorded"},
        {"s['format'] = 'coinbc-run-config'", "format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char p[4200], name[32];
        snprintf(p, sizeof p, "%s/bad%zu.json", dir, i);
        snprintf(name, sizeof name, "bad%zu", i);
        spec_variant(p, cases[i].edit);
        int rc = compare(p, name, "", out, sizeof out, err, sizeof err);
        if (rc != 1 || !strstr(err, cases[i].want) || !strstr(err, p))
            fail_msg("%s: exit %d, wanted 1 and a message with '%s' naming %s:\n%s", cases[i].edit, rc, cases[i].want, p,
                     err);
        assert_false(exists("%s/%s", dir, name)); /* nothing written */
    }
    /* not JSON, truncated, a duplicate key */
    static const char *const texts[] = {"not json", "{\"format\": \"coinbc-compare-spec\", \"version\": 1, \"name\":",
                                        "{\"format\": \"coinbc-compare-spec\", \"version\": 1, \"name\": \"a\", "
                                        "\"name\": \"b\"}"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/text%zu.json", dir, i);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(texts[i], f);
        fclose(f);
        int rc = compare(p, "text", "", out, sizeof out, err, sizeof err);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(err, p));
        assert_false(exists("%s/%s", dir, "text"));
    }
    /* options */
    assert_int_equal(compare(quick, "opt", "--stage nope", out, sizeof out, err, sizeof err), 2);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "compare '%s'", quick), 2);
    assert_false(exists("%s/%s", dir, "opt"));
}

static void test_tuned_method_with_real_tune(void **st) {
    (void)st;
    static char out[65536], err[65536];
    char spec[4200];
    snprintf(spec, sizeof spec, "%s/tuned.json", dir);
    spec_variant(spec, "s['methods'][0] = {'name': 'mean', 'tune': {'trials': 2, 'seed': 1}}; s['tuned'] = 'tuned'; "
                       "s['probe'] = None");
    int rc = compare(spec, "t", "", out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("compare exited %d:\n%s", rc, err);
    /* the study's records, not its trial folders */
    static const char *kept[] = {"tune/mean/study.journal", "tune/mean/trials.csv", "tune/mean/best.json",
                                 "tune/mean/best.args", "configs/mean.json", "configs/mean.origin"};
    for (size_t k = 0; k < sizeof kept / sizeof *kept; k++)
        if (!exists("%s/t/state/%s", dir, kept[k])) fail_msg("the records lack %s", kept[k]);
    assert_false(exists("%s/t/state/%s", dir, "tune/mean/trials"));
    assert_true(exists("%s/%s", dir, "tuned/mean.json"));
    assert_true(exists("%s/%s", dir, "tuned/mean.args"));
    char *o = slurp("%s/t/state/%s", dir, "configs/mean.origin");
    assert_non_null(strstr(o, "tuned: coinbc tune, 2 trials of 1 epochs"));
    free(o);
    char *csv = slurp("%s/t/state/%s", dir, "tune/mean/trials.csv");
    int rows = 0;
    for (char *p = csv; *p; p++) rows += *p == '\n';
    assert_int_equal(rows, 3); /* header + 2 trials */
    free(csv);
    assert_null(strstr(out, "Memorization probe"));
    /* the tuned configuration reached train */
    char *cfg = slurp("%s/t/state/%s", dir, "runs/mean-1/config.json");
    char *best = slurp("%s/t/state/%s", dir, "configs/mean.json");
    const char *lr = strstr(best, "\"lr\": ");
    assert_non_null(lr);
    char want[64];
    snprintf(want, sizeof want, "%.*s", (int)strcspn(lr, ",\n"), lr);
    assert_non_null(strstr(cfg, want));
    free(cfg);
    free(best);
}

static void test_user_data(void **st) {
    (void)st;
    static char out[65536], err[65536];
    /* three datasets of one's own, beside the spec (paths relative to it) */
    char cmdl[8400], coinbc[4096];
    if (!realpath(test_coinbc(), coinbc)) fail_msg("%s: not found", test_coinbc());
    snprintf(cmdl, sizeof cmdl,
             "cd '%s' && mkdir -p mine && C=%s && $C record --levels 0-7 --mode hard --states 30 --seed 1 --quiet --out "
             "mine/tr.cbd && $C record --levels 600-603 --mode hard --states 10 --seed 2 --quiet --out mine/va.cbd && "
             "$C record --levels 2000-2003 --mode hard --states 10 --seed 3 --quiet --out mine/te.cbd",
             dir, coinbc);
    assert_int_equal(system(cmdl), 0);
    char spec[4200];
    snprintf(spec, sizeof spec, "%s/mine/spec.json", dir);
    spec_variant(spec, "s['data'] = {'train': {'path': 'tr.cbd'}, 'val': {'path': 'va.cbd'}, 'test': {'path': "
                       "'te.cbd'}}; s['rollout'] = None; s['probe']['levels'] = 'auto'; s['seeds'] = [1]");
    int rc = compare(spec, "u", "", out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("compare exited %d:\n%s", rc, err);
    assert_non_null(strstr(err, "verify"));
    /* the probe relabels the first quarter of the 8 training levels: 0-1 */
    char *m = slurp("%s/u/work/%s", dir, "data/relabeled.cbd/manifest.txt");
    assert_non_null(strstr(m, "\nrelabel 0 1 1\n"));
    free(m);
    assert_false(exists("%s/u/state/%s", dir, "runs/mean-1/rollout.json"));
    assert_non_null(strstr(out, "| mean | 1 | "));
    /* the user's data changed: refused */
    snprintf(cmdl, sizeof cmdl, "cd '%s/mine' && rm -rf te.cbd && %s record --levels 2000-2003 --mode hard --states 11 "
                                "--seed 3 --quiet --out te.cbd",
             dir, coinbc);
    assert_int_equal(system(cmdl), 0);
    rc = compare(spec, "u", "", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "te.cbd: content CRC"));
}

static void test_committed_hard_table(void **st) {
    (void)st;
    static char out[65536], err[65536];
    const char *root = test_repo_root();
    assert_non_null(root);
    /* a copy of the committed records (the test writes nothing into the repository) */
    char cmdl[8400];
    snprintf(cmdl, sizeof cmdl, "cp -r '%s/docs/results/compare/hard' '%s/hard-copy'", root, dir);
    assert_int_equal(system(cmdl), 0);
    int rc = test_run(out, sizeof out, err, sizeof err,
                      "compare '%s/docs/experiments/hard.json' -o '%s/hard-copy' --work '%s/hard-work' --stage table",
                      root, dir, dir);
    if (rc != 0) fail_msg("compare exited %d:\n%s", rc, err);
    char *want = slurp("%s/%s", root, "docs/results/compare/hard/table.md");
    assert_string_equal(out, want);
    free(want);
    assert_non_null(strstr(err, "compare: complete"));
}

static int setup(void **st) {
    (void)st;
    dir = test_tmpdir();
    const char *root = test_repo_root();
    if (!dir || !root) return -1;
    snprintf(quick, sizeof quick, "%s/docs/experiments/quick.json", root);
    /* the tune driver of this repository, whichever coinbc runs it */
    char drv[4200];
    snprintf(drv, sizeof drv, "%s/tools/tune.py", root);
    setenv("COINBC_TUNE_DRIVER", drv, 1);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    test_rmtree(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_end_to_end),    cmocka_unit_test(test_budget_and_kill_then_resumed),
        cmocka_unit_test(test_jobs),                cmocka_unit_test(test_other_spec_refused),  cmocka_unit_test(test_broken_specs),
        cmocka_unit_test(test_tuned_method_with_real_tune), cmocka_unit_test(test_user_data),
        cmocka_unit_test(test_committed_hard_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
