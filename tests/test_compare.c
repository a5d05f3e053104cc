/* test_compare.c - tools/compare.sh (make compare) end to end at its tiny
 * budget (COMPARE_QUICK=1: 8 hard levels x 40 states, a tiny net, 2 seeds,
 * 1 epoch): the table and the per-run summaries it keeps; a second run skips
 * every step; a run stopped by its time budget (COMPARE_HOURS) and continued
 * gives the same table as an uninterrupted one; the tune stage against a
 * stand-in for `coinbc tune`, checking the command line the script gives it
 * and that best.json reaches `coinbc train` (in easy mode, COMPARE_MODE);
 * the whole script with the real `coinbc tune` (Optuna); default and tuned
 * configurations are never mixed; your own datasets (COMPARE_TRAIN/VAL/TEST). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"
#include "tests/support/run.h"

static char *dir; /* one temporary folder for the whole program */

/* Runs `ENV sh tools/compare.sh` with the quick knobs and the state and data
 * folders of NAME inside dir; stdout and stderr into the buffers. */
static int compare(const char *name, const char *env, char *out, size_t outn, char *err, size_t errn) {
    char cmd[16384], o[4200], e[4200];
    snprintf(o, sizeof o, "%s/%s.out", dir, name);
    snprintf(e, sizeof e, "%s/%s.err", dir, name);
    snprintf(cmd, sizeof cmd,
             "COINBC=%s COMPARE_QUICK=1 COMPARE_METHODS='mean and' COMPARE_STATE=%s/%s/state COMPARE_DATA=%s/%s/data "
             "%s sh tools/compare.sh >%s 2>%s </dev/null",
             test_coinbc(), dir, name, dir, name, env, o, e);
    int st = system(cmd);
    uint8_t *buf;
    size_t n;
    cb_err ce = {0};
    if (out) {
        out[0] = 0;
        if (!cb_read_file(o, &buf, &n, &ce)) {
            snprintf(out, outn, "%s", (char *)buf);
            free(buf);
        }
    }
    if (err) {
        err[0] = 0;
        if (!cb_read_file(e, &buf, &n, &ce)) {
            snprintf(err, errn, "%s", (char *)buf);
            free(buf);
        }
    }
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

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

static char out_a[16384], table_a[16384];

static void test_quick_end_to_end(void **st) {
    (void)st;
    static char err[65536];
    int rc = compare("a", "COMPARE_SKIP_TUNE=1", out_a, sizeof out_a, err, sizeof err);
    if (rc != 0) fail_msg("compare.sh exited %d:\n%s", rc, err);
    /* the table: two methods with 2 seeds, Welch's test of and against mean, the probe */
    assert_non_null(strstr(out_a, "| method | seeds | train acc | test acc | gap | rollout success |"));
    assert_non_null(strstr(out_a, "| mean | 2 | "));
    assert_non_null(strstr(out_a, "| and | 2 | "));
    assert_non_null(strstr(out_a, "- and: default options (COMPARE_SKIP_TUNE=1, not tuned)"));
    assert_non_null(strstr(out_a, "| method | seeds | relabeled training levels | true-label training levels | test levels |"));
    assert_non_null(strstr(err, "compare: complete"));
    char *t = slurp("%s/a/state/%s", dir, "table.md");
    assert_string_equal(t, out_a);
    snprintf(table_a, sizeof table_a, "%s", t);
    free(t);
    /* what is kept: per-run summaries with their done markers, the probe's three evaluations */
    static const char *kept[] = {"runs/mean-1/done", "runs/mean-2/eval.json", "runs/and-2/rollout.json",
                                 "runs/and-1/config.json", "runs/mean-1/metrics.csv", "probe/and/relabeled.json",
                                 "probe/and/true.json", "probe/mean/test.json", "probe/mean/done", "steps.log",
                                 ".gitignore"};
    for (size_t k = 0; k < sizeof kept / sizeof *kept; k++)
        if (!exists("%s/a/state/%s", dir, kept[k])) fail_msg("state lacks %s", kept[k]);
    /* the probe's data: levels 0-1 relabeled; its evaluations read those levels */
    char *m = slurp("%s/a/data/%s", dir, "train-relabeled.cbd/manifest.txt");
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
    free(j);
    /* again: every step is skipped and the table is the same */
    char out[16384];
    rc = compare("a", "COMPARE_SKIP_TUNE=1", out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, out_a);
    assert_null(strstr(err, "final run"));
    assert_null(strstr(err, "record"));
    assert_null(strstr(err, "probe"));
    /* a state of default configurations is not continued as a tuned one */
    rc = compare("a", "", NULL, 0, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "holds results of default configurations"));
}

static void test_interrupted_then_resumed(void **st) {
    (void)st;
    if (!table_a[0]) skip();
    static char err[65536];
    char out[16384];
    assert_int_equal(compare("b", "COMPARE_SKIP_TUNE=1 COMPARE_STAGE=data", NULL, 0, err, sizeof err), 0);
    /* about a second: the runs take several, so this stops in the middle of one */
    int rc = compare("b", "COMPARE_SKIP_TUNE=1 COMPARE_HOURS=0.0003", NULL, 0, err, sizeof err);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(err, "stopped at the time budget"));
    assert_false(exists("%s/b/state/%s", dir, "probe/and/done"));
    rc = compare("b", "COMPARE_SKIP_TUNE=1", out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("resume exited %d:\n%s", rc, err);
    assert_string_equal(out, table_a); /* resumed training and re-recorded data are bit-exact */
}

/* A stand-in for `coinbc tune` (issue 10's command line): it checks its
 * arguments, writes them to DIR/args.txt and a best.json whose keys are train
 * option names, and hands every other subcommand to the real coinbc. */
static const char *STUB =
    "#!/bin/sh\n"
    "if [ \"$1\" != tune ]; then exec %s \"$@\"; fi\n"
    "shift; train=$1; shift; dir=''; method=''; all=\"$*\"\n"
    "while [ $# -gt 0 ]; do case $1 in -o) dir=$2; shift 2;; --method) method=$2; shift 2;;\n"
    "  --) shift; break;; *) shift;; esac; done\n"
    "[ -f \"$train/manifest.txt\" ] && [ -n \"$dir\" ] && [ -n \"$method\" ] || exit 2\n"
    "mkdir -p \"$dir\" && echo \"$all\" > \"$dir/args.txt\"\n"
    "echo \"number,state,value\" > \"$dir/trials.csv\"\n"
    "printf '{\"method\": \"%%s\", \"tau\": 0.5, \"lr\": 0.001, \"batch_levels\": 4, \"rescale\": false}\\n' "
    "\"$method\" > \"$dir/best.json\"\n";

static void test_tune_stage_with_a_stand_in(void **st) {
    (void)st;
    char stub[4200], text[8192];
    snprintf(stub, sizeof stub, "%s/fake-coinbc", dir);
    const char *real = test_coinbc();
    char abs[4200];
    if (real[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        snprintf(abs, sizeof abs, "%s/%s", cwd, real);
        free(cwd);
        real = abs;
    }
    snprintf(text, sizeof text, STUB, real);
    cb_err e = {0};
    assert_int_equal(cb_write_file_atomic(stub, text, strlen(text), &e), 0);
    assert_int_equal(chmod(stub, 0755), 0);
    char env[8400], err[65536];
    snprintf(env, sizeof env,
             "COINBC=%s COMPARE_SEEDS=1 COMPARE_STAGE='data tune final' COMPARE_TUNED=%s/c/tuned COMPARE_MODE=easy", stub,
             dir);
    int rc = compare("c", env, NULL, 0, err, sizeof err);
    if (rc != 0) fail_msg("compare.sh exited %d:\n%s", rc, err);
    /* the command line of issue 10, the same trials and epochs for every method */
    char *a = slurp("%s/c/state/%s", dir, "tune/and/args.txt");
    char want[8400];
    snprintf(want, sizeof want,
             "--val %s/c/data/val.cbd --method and --trials 2 -o %s/c/state/tune/and --epochs 1 --seed 1 --jobs 1 -- "
             "--net nature --channels 4,4,4 --hidden 16\n",
             dir, dir);
    assert_string_equal(a, want);
    free(a);
    a = slurp("%s/c/state/%s", dir, "tune/mean/args.txt");
    assert_non_null(strstr(a, "--method mean --trials 2 -o"));
    free(a);
    /* best.json is copied as the tuned configuration and reaches coinbc train */
    assert_true(exists("%s/c/tuned/%s", dir, "and.json") && exists("%s/c/tuned/%s", dir, "mean.json"));
    char *o = slurp("%s/c/state/%s", dir, "configs/and.origin");
    assert_non_null(strstr(o, "tuned: coinbc tune, 2 trials of 1 epochs"));
    free(o);
    char *j = slurp("%s/c/state/%s", dir, "runs/and-1/config.json");
    assert_non_null(strstr(j, "\"tau\": 0.5,"));
    assert_non_null(strstr(j, "\"lr\": 0.001"));
    assert_non_null(strstr(j, "\"rescale\": false,"));
    assert_non_null(strstr(j, "\"batch_levels\": 4,"));
    assert_non_null(strstr(j, "\"epochs\": 1,"));
    assert_non_null(strstr(j, "\"seed\": 1,"));
    free(j);
    /* COMPARE_MODE=easy: easy levels recorded and played */
    char *m = slurp("%s/c/data/%s", dir, "test.cbd/manifest.txt");
    assert_non_null(strstr(m, "\nlevel 1000 easy 20 "));
    free(m);
    j = slurp("%s/c/state/%s", dir, "runs/and-1/rollout.json");
    assert_non_null(strstr(j, "\"mode\": \"easy\""));
    free(j);
}

/* the whole comparison with the real coinbc tune: each study ends with its
 * trials, its best.json is the configuration of the final runs and of the
 * probe, and the table says they were tuned */
static void test_quick_with_real_tune(void **st) {
    (void)st;
    char out[16384], err[65536], env[4400];
    snprintf(env, sizeof env, "COMPARE_SEEDS=1 COMPARE_TUNED=%s/d/tuned", dir);
    int rc = compare("d", env, out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("compare.sh exited %d:\n%s", rc, err);
    assert_non_null(strstr(out, "- and: tuned: coinbc tune, 2 trials of 1 epochs"));
    char *t = slurp("%s/d/state/%s", dir, "tune/and/trials.csv");
    int rows = 0;
    for (char *c = t; *c; c++) rows += *c == '\n';
    assert_int_equal(rows, 3); /* header + 2 trials */
    free(t);
    /* the tuned tau reaches the final run's config.json */
    char *b = slurp("%s/d/tuned/%s", dir, "and.json");
    char *tau = strstr(b, "\"tau\":");
    assert_non_null(tau);
    double want = strtod(tau + 6, NULL);
    char *j = slurp("%s/d/state/%s", dir, "runs/and-1/config.json");
    char *jt = strstr(j, "\"tau\":");
    assert_non_null(jt);
    assert_true(strtod(jt + 6, NULL) == want);
    free(b);
    free(j);
    assert_true(exists("%s/d/state/%s", dir, "probe/and/done"));
    /* the committed summaries are enough for coinbc report: runs and probe, and the studies */
    char rep[8192];
    int r2 = test_run(out, sizeof out, err, sizeof err, "report %s/d/state/runs/mean-1 %s/d/state/runs/and-1 "
                      "%s/d/state/probe/mean %s/d/state/probe/and -o %s/d/r.html", dir, dir, dir, dir, dir);
    if (r2) fail_msg("report of the summaries: %s", err);
    snprintf(rep, sizeof rep, "report %s/d/state/tune/mean %s/d/state/tune/and -o %s/d/t.html", dir, dir, dir);
    r2 = test_run(out, sizeof out, err, sizeof err, "%s", rep);
    if (r2) fail_msg("report of the studies: %s", err);
    assert_non_null(strstr(out, "complete"));
}

/* your own data: three datasets given (COMPARE_TRAIN/VAL/TEST) are verified, not
 * recorded; the probe relabels the first quarter of the training levels; no
 * rollouts unless asked; the state is tied to the data; half the knobs refused */
static void test_user_data(void **st) {
    (void)st;
    char out[16384], err[65536], env[16384];
    static const char *const rec[3][4] = {{"train", "0-5", "40", "1"}, {"val", "500-503", "20", "3"},
                                          {"test", "1000-1003", "20", "2"}};
    for (int k = 0; k < 3; k++) {
        int rc = test_run(out, sizeof out, err, sizeof err,
                          "record --levels %s --mode hard --states %s --noise 0.1 --seed %s --out %s/u-%s.cbd --quiet",
                          rec[k][1], rec[k][2], rec[k][3], dir, rec[k][0]);
        if (rc) fail_msg("record %s: %s", rec[k][0], err);
    }
    snprintf(env, sizeof env, "COMPARE_SKIP_TUNE=1 COMPARE_PROBE_SEEDS='1 2' COMPARE_TRAIN=%s/u-train.cbd "
             "COMPARE_VAL=%s/u-val.cbd COMPARE_TEST=%s/u-test.cbd", dir, dir, dir);
    int rc = compare("u", env, out, sizeof out, err, sizeof err);
    if (rc != 0) fail_msg("compare.sh exited %d:\n%s", rc, err);
    assert_non_null(strstr(err, "u-train.cbd (the first quarter)"));
    assert_null(strstr(err, "record train.cbd")); /* nothing recorded */
    assert_false(exists("%s/u/data/%s", dir, "train.cbd"));
    /* both methods with 2 seeds; no rollout figures: a dash, and no Welch test of them */
    assert_non_null(strstr(out, "| mean | 2 | "));
    char *row = strstr(out, "| and | 2 | ");
    assert_non_null(row);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(row, "\n"), row);
    int bars = 0;
    for (char *c = line; *c; c++) bars += *c == '|';
    assert_int_equal(bars, 11);
    assert_non_null(strstr(line, "| - | "));               /* rollout success */
    assert_non_null(strstr(line, " | - | - |"));           /* its t and p */
    assert_false(exists("%s/u/state/%s", dir, "runs/and-1/rollout.json"));
    /* 6 training levels: level 0 relabeled, 1-5 kept */
    char *m = slurp("%s/u/data/%s", dir, "train-relabeled.cbd/manifest.txt");
    assert_non_null(strstr(m, "\nrelabel 0 0 1\n"));
    free(m);
    char *j = slurp("%s/u/state/%s", dir, "probe/mean/relabeled.json");
    assert_non_null(strstr(j, "\"test_levels\": 1,"));
    free(j);
    j = slurp("%s/u/state/%s", dir, "probe/mean/true.json");
    assert_non_null(strstr(j, "\"test_levels\": 5,"));
    free(j);
    /* two probe seeds: seed 2 in probe/METHOD-2, both in the probe table */
    assert_true(exists("%s/u/state/%s", dir, "probe/and-2/done"));
    char *pt = strstr(out, "| method | seeds | relabeled");
    assert_non_null(pt);
    assert_non_null(strstr(pt, "| mean | 2 | "));
    assert_non_null(strstr(pt, "| and | 2 | "));
    char *ids = slurp("%s/u/state/%s", dir, "datasets.txt");
    assert_non_null(strstr(ids, "u-test.cbd "));
    free(ids);
    /* the same state with other data is refused, and nothing of it is changed */
    char *before = slurp("%s/u/state/%s", dir, "table.md");
    snprintf(env, sizeof env, "COMPARE_SKIP_TUNE=1 COMPARE_TRAIN=%s/u-train.cbd COMPARE_VAL=%s/u-val.cbd "
             "COMPARE_TEST=%s/u-val.cbd", dir, dir, dir);
    rc = compare("u", env, out, sizeof out, err, sizeof err);
    assert_int_equal(rc, 1);
    if (!strstr(err, "was made with other data")) fail_msg("no 'other data' message:\n%s", err);
    char *after = slurp("%s/u/state/%s", dir, "table.md");
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* one of the three alone is a knob error */
    snprintf(env, sizeof env, "COMPARE_TRAIN=%s/u-train.cbd", dir);
    assert_int_equal(compare("v", env, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(compare("v", "COMPARE_PROBE_SEEDS=x", out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "COMPARE_PROBE_SEEDS"));
    assert_int_equal(compare("v", "COMPARE_ROLLOUT=all", out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "COMPARE_ROLLOUT"));
}

/* compare_table.py train-args: a configuration becomes train options, and
 * broken or unsafe ones are refused naming the file */
static int train_args(const char *json, char *out, size_t n) {
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/cfg.json", dir);
    cb_err e = {0};
    if (cb_write_file_atomic(path, json, strlen(json), &e)) fail_msg("%s", e.msg);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/compare_table.py train-args %s --fixed '--net nature --hidden 16' "
             "--set seed=3 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_train_args(void **st) {
    (void)st;
    char out[4096];
    assert_int_equal(train_args("{\"method\": \"sand\", \"sand_k\": 2.5, \"rescale\": true, \"hidden\": 32, "
                                "\"seed\": 9, \"channels\": [8, 8, 8], \"out\": \"x\"}",
                                out, sizeof out),
                     0);
    /* fixed first, the file's values replace them, --set last; options the script sets are dropped */
    assert_string_equal(out, "--net nature --hidden 32 --method sand --sand-k 2.5 --rescale on --seed 3 --channels 8,8,8\n");
    assert_int_equal(train_args("{\"net\": \"nature; rm -rf /\"}", out, sizeof out), 1);
    assert_non_null(strstr(out, "cfg.json: option 'net'"));
    assert_int_equal(train_args("[1, 2]", out, sizeof out), 1);
    assert_non_null(strstr(out, "cfg.json: not a JSON object"));
    assert_int_equal(train_args("{\"lr\": 0.001", out, sizeof out), 1);
    assert_non_null(strstr(out, "cfg.json: "));
    assert_int_equal(train_args("{\"lr\": {\"a\": 1}}", out, sizeof out), 1);
    assert_non_null(strstr(out, "unsupported value"));
}

/* compare_table.py's Holm adjustment against hand-computed values: sorted
 * 0.01 0.03 0.04 0.5 -> 4 x 0.01, 3 x 0.03, max(2 x 0.04, 0.09), 0.5 */
static void test_holm(void **st) {
    (void)st;
    FILE *p = popen("/usr/bin/python3 -B -c 'import sys; sys.path.insert(0, \"tools\"); import compare_table as c; "
                    "print(c.holm([0.01, 0.04, 0.03, 0.5])); print(c.holm([float(\"nan\"), 0.2, 0.9])); "
                    "print(c.holm([]))' 2>&1",
                    "r");
    assert_non_null(p);
    char out[512];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "[0.04, 0.09, 0.09, 0.5]\n[nan, 0.4, 0.9]\n[]\n");
}

static int setup(void **st) {
    (void)st;
    dir = test_tmpdir();
    return dir ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    test_rmtree(dir);
    free(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_end_to_end),
        cmocka_unit_test(test_interrupted_then_resumed),
        cmocka_unit_test(test_tune_stage_with_a_stand_in), cmocka_unit_test(test_quick_with_real_tune),
        cmocka_unit_test(test_user_data),
        cmocka_unit_test(test_train_args),
        cmocka_unit_test(test_holm),
    };
    return cmocka_run_group_tests_name("compare", tests, setup, teardown);
}
