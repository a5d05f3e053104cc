/* test_tune.c - coinbc tune and its records (run/tune.c): the space reader's
 * checks and every bad input of the command (one line, nothing written), a
 * study end to end on a tiny network, the same seed giving the same first
 * trial, kill -9 of tune then a resume that ends with exactly N trials, and
 * two tune processes on one storage finishing N distinct trials. The data is
 * recorded by the test (6 + 4 levels of 24 states). */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "eval/eval.h"
#include "run/run.h"
#include "tests/support/run.h"

#define NET "-- --net nature --channels 4,4,4 --hidden 16"

static char *tmp;
static char out[65536], err[65536];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *fmt, ...) {
    char p[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(p, &st) == 0;
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static int setup(void **state) {
    (void)state;
    tmp = test_tmpdir();
    if (!tmp) return -1;
    if (test_run(out, sizeof out, err, sizeof err, "record --levels 0-5 --states 24 --out %s/tr.cbd --quiet", tmp) ||
        test_run(out, sizeof out, err, sizeof err, "record --levels 100-103 --states 24 --out %s/va.cbd --quiet", tmp))
        return -1;
    char p[8192];
    /* a small space: four of its batch-levels fit the 6 training levels */
    snprintf(p, sizeof p, "%s/space.json", tmp);
    write_text(p, "{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 3e-3]}, "
                  "\"wd\": {\"log\": [1e-6, 1e-3], \"or_zero\": true}, \"batch-levels\": {\"choice\": [2, 4, 8]}, "
                  "\"tau\": {\"uniform\": [0, 1]}, \"rescale\": {\"choice\": [\"on\", \"off\"]}}}}\n");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    test_rmtree(tmp);
    free(tmp);
    return 0;
}

/* ---- the records ---------------------------------------------------------- */

static int space_error(const char *text, const char *method, const char *want) {
    char p[8192];
    snprintf(p, sizeof p, "%s/bad_space.json", tmp);
    write_text(p, text);
    run_tune_space s;
    cb_err e = {0};
    int rc = run_tune_space_read(&s, p, method, &e);
    if (rc == 0) return fprintf(stderr, "accepted: %s\n", text), -1;
    if (!strstr(e.msg, want)) return fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, want), -1;
    return 0;
}

static void test_space_reader(void **state) {
    (void)state;
    /* the default space reads for every method, with the ranges */
    const char *methods[] = {"mean", "and", "sand", "geomean", "tand"};
    for (int m = 0; m < 5; m++) {
        run_tune_space s;
        cb_err e = {0};
        assert_int_equal(run_tune_space_read(&s, "tools/tune_space.json", methods[m], &e), 0);
        int lr = run_tune_space_find(&s, "lr"), tau = run_tune_space_find(&s, "tau");
        assert_true(lr >= 0);
        assert_int_equal(s.p[lr].kind, RUN_TUNE_LOG);
        assert_true(s.p[lr].lo == 1e-4 && s.p[lr].hi == 3e-3);
        assert_int_equal(tau < 0, m == 0);
        assert_int_equal(run_tune_space_find(&s, "sand-k") >= 0, m == 2);
        int tb = run_tune_space_find(&s, "tand-beta");
        assert_int_equal(tb >= 0, m == 4);
        if (tb >= 0) assert_true(s.p[tb].kind == RUN_TUNE_UNIFORM && s.p[tb].lo == 0.5 && s.p[tb].hi == 0.999);
        assert_int_equal(run_tune_space_find(&s, "rescale") >= 0, m >= 1 && m <= 3);
    }
#define V "{\"version\": 1, \"methods\": "
    assert_int_equal(space_error(V "{\"and\": {\"lrr\": {\"log\": [1e-4, 1e-3]}}}}", "and", "unknown parameter 'lrr'"), 0);
    assert_int_equal(space_error(V "{\"adn\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}", "and", "unknown method 'adn'"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"lr\": {\"log\": [1e-3, 1e-4]}}}}", "and", "empty range"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"tau\": {\"uniform\": [0.5, 0.5]}}}}", "and", "empty range"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"batch-levels\": {\"choice\": []}}}}", "and", "empty choice"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"wd\": {\"log\": [0, 1e-3]}}}}", "and", "not positive"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"wd\": {\"log\": [-1, 1e-3]}}}}", "and", "not positive"), 0);
    assert_int_equal(space_error(V "{\"mean\": {\"tau\": {\"uniform\": [0, 1]}}}}", "mean", "tau does not apply"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"sand-k\": {\"log\": [0.1, 10]}}}}", "and", "sand-k does not apply to method and (only to: sand)"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"tand-beta\": {\"uniform\": [0.5, 0.9]}}}}", "and", "only to: tand"), 0);
    assert_int_equal(space_error(V "{\"tand\": {\"tand-beta\": {\"uniform\": [0.5, 1]}}}}", "tand", "outside"), 0);
    assert_int_equal(space_error(V "{\"tand\": {\"rescale\": {\"choice\": [\"on\"]}}}}", "tand", "rescale does not apply"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"tau\": {\"uniform\": [0, 2]}}}}", "and", "outside"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"rescale\": {\"choice\": [\"on\", \"maybe\"]}}}}", "and", "maybe"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"lr\": {\"log\": [1e-4, 1e-3], \"uniform\": [0, 1]}}}}", "and",
                                 "exactly one"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}", "sand", "no space for method sand"), 0);
    assert_int_equal(space_error("{\"version\": 2, \"methods\": {}}", "and", "version"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}, \"x\": 1}", "and", "unknown key"), 0);
    assert_int_equal(space_error(V "{\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}", "and", "line"), 0);
#undef V
}

static void test_records_round_trip(void **state) {
    (void)state;
    const char *js = "{\"version\": 1, \"study\": \"s\", \"method\": \"and\", \"trials_wanted\": 3, "
                     "\"params\": [\"lr\", \"rescale\", \"batch-levels\"], \"trials\": ["
                     "{\"number\": 0, \"state\": \"COMPLETE\", \"options\": {\"lr\": 0.00123456789012345, \"rescale\": "
                     "\"on\", \"batch-levels\": 4}, \"value\": 0.75, \"epochs_run\": 3, \"seconds\": 1.5, \"run\": \"/r/0\"},"
                     "{\"number\": 1, \"state\": \"PRUNED\", \"options\": {\"lr\": 0.002, \"rescale\": \"off\", "
                     "\"batch-levels\": 2}, \"value\": 0.5, \"epochs_run\": 1, \"seconds\": 0.5, \"run\": \"/r/1\"},"
                     "{\"number\": 2, \"state\": \"FAIL\", \"options\": {}, \"value\": null, \"epochs_run\": 0, "
                     "\"seconds\": 0.1, \"run\": \"/r/2\"}]}";
    run_tune_result r, back;
    cb_err e = {0};
    assert_int_equal(run_tune_result_parse(&r, js, strlen(js), &e), 0);
    assert_int_equal(r.ntrials, 3);
    assert_int_equal(run_tune_best(&r), 0);
    char p[8192];
    snprintf(p, sizeof p, "%s/rt_trials.csv", tmp);
    assert_int_equal(run_tune_trials_write(p, &r, &e), 0);
    assert_int_equal(run_tune_trials_read(&back, p, &e), 0);
    assert_int_equal(back.ntrials, 3);
    assert_int_equal(back.nparams, 3);
    assert_true(back.trials[0].opt[0].num == 0.00123456789012345); /* written exactly */
    assert_string_equal(back.trials[1].opt[1].str, "off");
    assert_int_equal(back.trials[1].state, RUN_TUNE_PRUNED);
    assert_true(isnan(back.trials[2].value));
    run_tune_result_free(&back);
    /* best.json back into train options */
    run_tune_spec *s = calloc(1, sizeof *s);
    assert_non_null(s);
    snprintf(s->method, sizeof s->method, "and");
    s->epochs = 3;
    s->nfixed = 4;
    snprintf(s->fixed[0], sizeof s->fixed[0], "--net");
    snprintf(s->fixed[1], sizeof s->fixed[1], "nature");
    snprintf(s->fixed[2], sizeof s->fixed[2], "--hidden");
    snprintf(s->fixed[3], sizeof s->fixed[3], "16");
    snprintf(p, sizeof p, "%s/rt_best.json", tmp);
    assert_int_equal(run_tune_best_write(p, s, &r, 0, &e), 0);
    char *args;
    assert_int_equal(run_tune_best_args(&args, p, &e), 0);
    assert_string_equal(args, "--method and --tau 0.8 --lr 0.00123456789012345 --net nature --hidden 16 --rescale on "
                              "--batch-levels 4 --epochs 3");
    free(args);
    free(s);
    run_tune_result_free(&r);
    /* broken inputs */
    const char *bad_js[] = {"{\"version\": 2, \"params\": [], \"trials\": []}", "[1]", "{\"version\": 1",
                            "{\"version\": 1, \"params\": [\"nope\"], \"trials\": []}",
                            "{\"version\": 1, \"params\": [], \"trials\": [{\"number\": 0, \"state\": \"DONE\", "
                            "\"options\": {}, \"value\": 1, \"epochs_run\": 1, \"seconds\": 1, \"run\": \"x\"}]}"};
    for (size_t i = 0; i < sizeof bad_js / sizeof bad_js[0]; i++)
        assert_int_not_equal(run_tune_result_parse(&r, bad_js[i], strlen(bad_js[i]), &e), 0);
    const char *bad_csv[] = {"", "number,state,value\n", "number,state,lr,value,epochs_run,seconds,run\n0,COMPLETE,1\n",
                             "number,state,lr,value,epochs_run,seconds,run\nx,COMPLETE,1,0.5,1,1,r\n",
                             "number,state,lr,value,epochs_run,seconds,run\n0,WHAT,1,0.5,1,1,r\n",
                             "number,state,bogus,value,epochs_run,seconds,run\n"};
    snprintf(p, sizeof p, "%s/bad_trials.csv", tmp);
    for (size_t i = 0; i < sizeof bad_csv / sizeof bad_csv[0]; i++) {
        write_text(p, bad_csv[i]);
        assert_int_not_equal(run_tune_trials_read(&back, p, &e), 0);
        assert_non_null(strstr(e.msg, "bad_trials.csv"));
    }
    const char *bad_best[] = {"[]", "{\"lr\": \"fast\"}", "{\"bogus\": 1}", "{\"net\": \"a b\"}", "{\"lr\": "};
    snprintf(p, sizeof p, "%s/bad_best.json", tmp);
    for (size_t i = 0; i < sizeof bad_best / sizeof bad_best[0]; i++) {
        write_text(p, bad_best[i]);
        assert_int_not_equal(run_tune_best_args(&args, p, &e), 0);
    }
}

static char *slurp_text(const char *fmt, ...) {
    char p[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    uint8_t *b;
    size_t n;
    return cb_read_file(p, &b, &n, NULL) ? NULL : (char *)b;
}

/* ---- bad input: one line, status != 0, nothing written ---------------------- */

static void bad(const char *want, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = test_run(out, sizeof out, err, sizeof err, "tune %s/tr.cbd --val %s/va.cbd -o %s/bad %s", tmp, tmp, tmp, args);
    if (rc == 0 || lines(err) != 1 || !strstr(err, want) || exists("%s/bad", tmp)) {
        fprintf(stderr, "args: %s\nstatus %d, stderr: %s", args, rc, err);
        fail();
    }
}

static void test_bad_input(void **state) {
    (void)state;
    char p[8192];
    char *manifest_before = slurp_text("%s/tr.cbd/manifest.txt", tmp);
    assert_non_null(manifest_before);
    snprintf(p, sizeof p, "%s/b.json", tmp);
#define V "{\"version\": 1, \"methods\": "
    write_text(p, V "{\"and\": {\"lrr\": {\"log\": [1e-4, 1e-3]}}}}");
    bad("unknown parameter 'lrr'", "--method and --trials 2 --space %s", p);
    write_text(p, V "{\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}, \"avg\": {}}}");
    bad("unknown method 'avg'", "--method and --trials 2 --space %s", p);
    write_text(p, V "{\"and\": {\"lr\": {\"uniform\": [1e-3, 1e-4]}}}}");
    bad("empty range", "--method and --trials 2 --space %s", p);
    write_text(p, V "{\"and\": {\"wd\": {\"log\": [0, 1e-4]}}}}");
    bad("not positive", "--method and --trials 2 --space %s", p);
    write_text(p, V "{\"mean\": {\"tau\": {\"uniform\": [0, 1]}}}}");
    bad("tau does not apply to method mean", "--method mean --trials 2 --space %s", p);
#undef V
    bad("--tau does not apply to method mean", "--method mean --trials 2 -- --tau 0.5");
    bad("unknown --method", "--method avg --trials 2");
    bad("--trials must be > 0", "--method and --trials 0");
    bad("--trials must be > 0", "--method and --trials -3");
    bad("--trials 10001: at most 10000", "--method and --trials 10001");
    bad("--epochs must be > 0", "--method and --trials 2 --epochs 0");
    bad("after --: unknown train option '--bogus'", "--method and --trials 2 -- --bogus 1");
    bad("--epochs after --: tune sets it itself", "--method and --trials 2 -- --epochs 3");
    bad("also searched", "--method and --trials 2 -- --lr 0.001");
    write_text(p, "{\"version\": 1, \"methods\": {\"mean\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}");
    bad("more than the 6 training levels", "--method mean --trials 2 --space %s -- --batch-levels 8", p);
    /* the space does not fit the data: every batch-levels choice above 6 levels */
    write_text(p, "{\"version\": 1, \"methods\": {\"and\": {\"batch-levels\": {\"choice\": [8, 16]}}}}");
    bad("no batch-levels of the space fits", "--method and --trials 2 --space %s", p);
    /* overlapping levels: the training data as validation data */
    int rc = test_run(out, sizeof out, err, sizeof err, "tune %s/tr.cbd --val %s/tr.cbd -o %s/bad --method and --trials 2",
                      tmp, tmp, tmp);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "is in both"));
    assert_false(exists("%s/bad", tmp));
    write_text(p, "{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}");
    bad("unreachable", "--space %s --method and --trials 2 --storage sqlite:////nonexistent_dir_coinbc/x/study.db", p);
    bad("cannot write in", "--space %s --method and --trials 2 --storage journal:%s/space.json/sub/study.journal", p, tmp);
    /* a storage that cannot be made is one line and leaves no tune.json (it printed a
     * traceback); study names outside the allowed characters are refused before anything starts */
    bad("cannot write in /proc", "--space %s --method and --trials 2 --storage journal:/proc/nope/x", p);
    bad("give the journal's file name", "--space %s --method and --trials 2 --storage journal:", p);
    char adir[4200]; /* a folder as the journal file (one holding no input: that is refused as an output first) */
    snprintf(adir, sizeof adir, "%s/adir", tmp);
    mkdir(adir, 0755);
    bad("is a folder", "--space %s --method and --trials 2 --storage journal:%s", p, adir);
    rmdir(adir);
    bad("give journal:PATH or an Optuna database URL", "--space %s --method and --trials 2 --storage nope", p);
    bad("--storage 'journal:a\\x0ab' has a control character", "--space %s --method and --trials 2 --storage 'journal:a\nb'", p);
    bad("--study '' is not a study name", "--space %s --method and --trials 2 --study ''", p);
    bad("--study 'a\\x0ab' is not a study name", "--space %s --method and --trials 2 --study 'a\nb'", p);
    bad("is not a study name", "--space %s --method and --trials 2 --study .x", p);
    bad("is not a study name", "--space %s --method and --trials 2 --study 'a b'", p);
    bad("(too long) is not a study name", "--space %s --method and --trials 2 --study %065d", p, 7);
    /* a tune.json that is a FIFO is no study settings: refused, not taken for a new study (it was) */
    char fdir[4200], fifo[4300];
    snprintf(fdir, sizeof fdir, "%s/fifo-study", tmp);
    snprintf(fifo, sizeof fifo, "%s/tune.json", fdir);
    assert_int_equal(mkdir(fdir, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    rc = test_run(out, sizeof out, err, sizeof err, "tune %s/tr.cbd --val %s/va.cbd -o %s --method and --trials 2 "
                  "--space %s", tmp, tmp, fdir, p);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "is not a regular file"));
    assert_false(exists("%s/fifo-study/trials.csv", tmp));
    unlink(fifo);
    rmdir(fdir);
    /* the inputs are as they were */
    char *m1 = slurp_text("%s/tr.cbd/manifest.txt", tmp), *m2 = slurp_text("%s", p);
    assert_non_null(m1);
    assert_non_null(m2);
    assert_string_equal(m1, manifest_before);
    assert_string_equal(m2, "{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}");
    free(m1);
    free(m2);
    free(manifest_before);
}

/* the driver on hostile specs (tune.json edited by hand, or a driver run by
 * another coinbc): one line on stderr, status 4 (nothing done), never a
 * Python traceback */
static void test_driver_one_line_errors(void **state) {
    (void)state;
    static const char *const specs[][2] = {
        {"[]", "not a JSON object"},
        {"{\"version\": 1", "Expecting"},
        {"{\"version\": 1}", "no 'coinbc'"},
        {"@ \"trials\": \"3\"}", "'trials' is not an integer"},
        {"@ \"trials\": true}", "'trials' is not an integer"},
        {"@ \"trials\": 0}", "must be > 0"},
        {"@ \"space\": [1]}", "not an object"},
        {"@ \"space\": [{\"name\": [1], \"log\": [1, 2]}]}", "unknown parameter"},
        {"@ \"space\": [{\"name\": \"lr\", \"log\": \"ab\"}]}", "wants [low, high]"},
        {"@ \"fixed\": [1]}", "not a string"},
        {"@ \"study\": \"\"}", "is not a study name"},
        {"@ \"study\": \"a\\nb\"}", "is not a study name"},
        {"@ \"storage\": \"journal:/proc/nope/x\"}", "cannot write in /proc"},
        {"@ \"storage\": \"journal:\"}", "give the journal's file name"},
    };
    /* the coinbc under test: the driver checks the space against its train --describe */
    char coinbc_abs[4096], base[8192];
    if (!realpath(test_coinbc(), coinbc_abs)) fail_msg("cannot find %s", test_coinbc());
    snprintf(base, sizeof base, "{\"version\": 1, \"coinbc\": \"%s\", \"train\": \"/t\", \"val\": \"/v\", "
                       "\"method\": \"and\", \"trials\": 3, \"epochs\": 2, \"jobs\": 1, \"threads\": 1, "
                       "\"seed\": 0, \"prune\": true, \"storage\": \"journal:study.journal\", \"study\": \"s\", "
                       "\"dir\": \"/nonexistent_coinbc/d\", \"fixed\": [], "
                       "\"space\": [{\"name\": \"lr\", \"log\": [0.0001, 0.001]}]", coinbc_abs);
    char spec[16384], p[8192], py[8192], cmd[16384];
    /* one Python process runs the driver's main on every spec, in both modes
     * (importing optuna once per spec would take a minute on a loaded machine);
     * an exception out of main is what would reach the user as a traceback */
    snprintf(py, sizeof py, "%s/hostile_specs.py", tmp);
    FILE *f = fopen(py, "w");
    assert_non_null(f);
    fprintf(f, "import contextlib, io, sys\nsys.path.insert(0, 'tools')\nimport tune\n"
               "for path in sys.argv[1:]:\n"
               "    for argv in (['tune.py', '--check', path], ['tune.py', path]):\n"
               "        err = io.StringIO()\n"
               "        try:\n"
               "            with contextlib.redirect_stderr(err):\n"
               "                rc = tune.main(argv)\n"
               "        except BaseException as e:\n"
               "            rc = 'an exception (%%r)' %% e\n"
               "        print('%%s %%s status %%s: %%s' %% (path, argv[1], rc, err.getvalue().replace('\\n', '|')))\n");
    fclose(f);
    int len = snprintf(cmd, sizeof cmd, "/usr/bin/python3 -B %s", py);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        /* "@ KEY: VALUE}" is the good spec with KEY replaced (a later key wins in Python's json) */
        if (specs[i][0][0] == '@') snprintf(spec, sizeof spec, "%s,%s", base, specs[i][0] + 1);
        else snprintf(spec, sizeof spec, "%s", specs[i][0]);
        snprintf(p, sizeof p, "%s/hostile_spec%zu.json", tmp, i);
        write_text(p, spec);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s", p);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>&1");
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    size_t got = fread(out, 1, sizeof out - 1, pp);
    out[got] = 0;
    assert_int_equal(pclose(pp), 0);
    char *line = out;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            char *nl = strchr(line, '\n');
            assert_non_null(nl);
            *nl = 0;
            /* status 4 and one line: "PATH MODE status 4: MESSAGE|" */
            char *msg = strstr(line, "status 4: ");
            if (!msg || !strstr(msg, specs[i][1]) || count(msg, "|") != 1 || msg[strlen(msg) - 1] != '|') {
                fprintf(stderr, "spec %s:\n%s\n", specs[i][0], line);
                fail();
            }
            line = nl + 1;
        }
    }
    assert_false(exists("/nonexistent_coinbc"));
    /* and through the program itself: no traceback, one line, a failure status */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -B tools/tune.py %s/hostile_spec6.json 2>&1 >/dev/null; echo \"status $?\"",
             tmp);
    pp = popen(cmd, "r");
    assert_non_null(pp);
    got = fread(err, 1, sizeof err - 1, pp);
    err[got] = 0;
    pclose(pp);
    assert_int_equal(lines(err), 2);
    assert_non_null(strstr(err, "not an object"));
    assert_non_null(strstr(err, "status 4"));
}

static void test_missing_optuna(void **state) {
    (void)state;
    char p[8192];
    snprintf(p, sizeof p, "%s/nooptuna.sh", tmp);
    write_text(p, "#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n");
    chmod(p, 0755);
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "COINBC_PYTHON=%s %s tune %s/tr.cbd --val %s/va.cbd -o %s/bad --method and --trials 2 --space %s/space.json "
             ">/dev/null 2>%s/optuna_err.txt",
             p, test_coinbc(), tmp, tmp, tmp, tmp, tmp);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    snprintf(p, sizeof p, "%s/optuna_err.txt", tmp);
    uint8_t *b;
    size_t n;
    assert_int_equal(cb_read_file(p, &b, &n, NULL), 0);
    assert_non_null(strstr((char *)b, "python3-optuna is missing"));
    free(b);
    assert_false(exists("%s/bad", tmp));
}

/* a driver that stops before the study started (status 4: its storage
 * failed between --check and the run) leaves no tune.json and no folder;
 * a stand-in interpreter plays the driver */
static void test_driver_stops_before_start(void **state) {
    (void)state;
    char p[8192];
    snprintf(p, sizeof p, "%s/stop4.sh", tmp);
    write_text(p, "#!/bin/sh\n[ \"$2\" = --check ] && exit 0\n"
                  "echo 'storage journal:x: cannot open x: No space left on device' >&2\nexit 4\n");
    chmod(p, 0755);
    assert_int_equal(setenv("COINBC_PYTHON", p, 1), 0);
    int rc = test_run(out, sizeof out, err, sizeof err,
                      "tune %s/tr.cbd --val %s/va.cbd -o %s/stop4 --method and --trials 2 --space %s/space.json", tmp, tmp,
                      tmp, tmp);
    unsetenv("COINBC_PYTHON");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "No space left on device"));
    assert_false(exists("%s/stop4", tmp));
}

/* the driver's read of a trial's epochs through coinbc report: a folder refused
 * mid-commit (train renames an epoch's files one at a time) leaves the last
 * good answer and is tried again; report runs again only when metrics.jsonl
 * changes. A stand-in for coinbc counts its calls and refuses the first. */
static void test_driver_reads_epochs(void **state) {
    (void)state;
    char stub[1024], run[1024], cmd[16384];
    snprintf(run, sizeof run, "%.900s/stubrun", tmp);
    assert_int_equal(mkdir(run, 0755), 0);
    snprintf(stub, sizeof stub, "%.900s/stub_coinbc.sh", tmp);
    char text[16384];
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "n=$(cat %s/calls 2>/dev/null || echo 0); n=$((n + 1)); echo $n > %s/calls\n"
             "[ \"$1\" = report ] && [ \"$3\" = --json ] || exit 9\n"
             "if [ $n = 1 ]; then echo \"$2: metrics.csv has 1 epochs, metrics.jsonl has 2: inconsistent\" >&2; exit 1; fi\n"
             "echo '[{\"run\": \"x\", \"epochs\": [{\"epoch\": 1, \"val_acc\": 0.5}, {\"epoch\": 2, \"val_acc\": null}]}]'\n",
             tmp, tmp);
    write_text(stub, text);
    chmod(stub, 0755);
    snprintf(text, sizeof text, "%s/metrics.jsonl", run);
    write_text(text, "{}\n");
    snprintf(cmd, sizeof cmd,
             "cd tools && /usr/bin/python3 -B -c 'import tune; s = {}\n"
             "print(tune.read_epochs(\"%s\", \"%s\", s), \"error\" in s)\n"
             "print(tune.read_epochs(\"%s\", \"%s\", s), \"error\" in s)\n"
             "print(tune.read_epochs(\"%s\", \"%s\", s))\n"
             "print(tune.read_epochs(\"%s\", \"%s/none\", {}))' 2>&1; cat %.900s/calls",
             stub, run, stub, run, stub, run, stub, run, tmp);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    /* refused: nothing yet, the error kept; then the epochs; then no new call (nothing changed); no folder: [] */
    assert_string_equal(out, "[] True\n[0.5, nan] False\n[0.5, nan]\n[]\n2\n");
}

/* the epoch a trial's best.ckpt holds, which --retrain stops after: the
 * first best of the study's figures when train's last --best-by judges the
 * objective's figure (acc by default), else unknown (None: the whole run) */
static void test_retrain_best_epoch(void **state) {
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd tools && /usr/bin/python3 -B -c 'import tune\n"
             "L = [0.5, 0.4, 0.45, 0.4, 0.6]; A = [0.5, 0.7, 0.6, 0.7]\n"
             "print(tune.best_epoch([\"train\", \"--best-by\", \"loss\"], L, \"val_loss\"),\n"
             "      tune.best_epoch([\"--best-by=loss\"], L, \"val_loss\"),\n"
             "      tune.best_epoch([], A, \"val_acc\"),\n"
             "      tune.best_epoch([\"--best-by\", \"loss\", \"--best-by\", \"acc\"], A, \"val_acc\"),\n"
             "      tune.best_epoch([], L, \"val_loss\"),\n"
             "      tune.best_epoch([\"--best-by\", \"loss\"], A, \"val_acc\"),\n"
             "      tune.best_epoch([\"--best-by\", \"loss\"], [0.5, float(\"nan\")], \"val_loss\"),\n"
             "      tune.best_epoch([\"--best-by\", \"loss\"], [], \"val_loss\"))' 2>&1");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "2 2 2 2 None None None None\n");
}

/* ---- studies ---------------------------------------------------------------- */

static int read_trials(run_tune_result *r, const char *dir) {
    char p[8192];
    snprintf(p, sizeof p, "%.4000s/trials.csv", dir);
    cb_err e = {0};
    int rc = run_tune_trials_read(r, p, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    return rc;
}

static void test_study_end_to_end(void **state) {
    (void)state;
    int rc = test_run(out, sizeof out, err, sizeof err,
                      "tune %s/tr.cbd --val %s/va.cbd -o %s/e2e --method and --trials 4 --epochs 3 --threads 1 "
                      "--space %s/space.json " NET,
                      tmp, tmp, tmp, tmp);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, "batch-levels 8 left out"));
    char d[8192];
    snprintf(d, sizeof d, "%s/e2e", tmp);
    run_tune_result r;
    assert_int_equal(read_trials(&r, d), 0);
    assert_int_equal(r.ntrials, 4);
    assert_string_equal(r.param[0], "lr");
    assert_string_equal(r.param[4], "rescale");
    for (int i = 0; i < 4; i++) {
        const run_tune_trial *t = &r.trials[i];
        assert_int_equal(t->number, i);
        assert_int_not_equal(t->state, RUN_TUNE_FAIL);
        if (t->state == RUN_TUNE_COMPLETE) assert_int_equal(t->epochs_run, 3);
        assert_true(t->value >= 0 && t->value <= 1);
        assert_true(t->opt[0].num >= 1e-4 && t->opt[0].num <= 3e-3);
        assert_true(t->opt[1].num == 0 || (t->opt[1].num >= 1e-6 && t->opt[1].num <= 1e-3));
        assert_true(t->opt[2].num == 2 || t->opt[2].num == 4); /* 8 was left out */
        char want[32];
        snprintf(want, sizeof want, "trials/%04d", t->number);
        assert_string_equal(t->run, want); /* relative to the tune folder: committed records name no machine */
        assert_true(exists("%s/%s/metrics.jsonl", d, t->run));
    }
    run_tune_result_free(&r);
    /* best.args goes straight back to coinbc train */
    char p[8192];
    snprintf(p, sizeof p, "%.4000s/best.json", d);
    char *args;
    cb_err e = {0};
    assert_int_equal(run_tune_best_args(&args, p, &e), 0);
    assert_non_null(strstr(args, "--method and --tau "));
    assert_non_null(strstr(args, "--net nature"));
    rc = test_run(out, sizeof out, err, sizeof err, "train %s/tr.cbd --val %s/va.cbd %s --threads 1 --quiet -o %s/again",
                  tmp, tmp, args, tmp);
    assert_int_equal(rc, 0);
    free(args);
    /* the same command again: nothing left to run, the same rows */
    rc = test_run(out, sizeof out, err, sizeof err,
                  "tune %s/tr.cbd --val %s/va.cbd -o %s/e2e --method and --trials 4 --epochs 3 --threads 1 "
                  "--space %s/space.json " NET,
                  tmp, tmp, tmp, tmp);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "4 trials"));
    /* a tune folder moved elsewhere (a study committed and cloned) continues
     * there: the default storage is named relative to the folder */
    char moved[8192];
    snprintf(moved, sizeof moved, "%.4000s/moved", tmp);
    assert_int_equal(rename(d, moved), 0);
    rc = test_run(out, sizeof out, err, sizeof err,
                  "tune %s/tr.cbd --val %s/va.cbd -o %s --method and --trials 5 --epochs 3 --threads 1 "
                  "--space %s/space.json " NET,
                  tmp, tmp, moved, tmp);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_true(exists("%s/trials/0004/metrics.jsonl", moved));
    assert_int_equal(read_trials(&r, moved), 0);
    assert_int_equal(r.ntrials, 5);
    run_tune_result_free(&r);
    assert_int_equal(rename(moved, d), 0);
    /* another study in the same folder is refused */
    rc = test_run(out, sizeof out, err, sizeof err,
                  "tune %s/tr.cbd --val %s/va.cbd -o %s/e2e --method and --trials 4 --epochs 5 --space %s/space.json " NET,
                  tmp, tmp, tmp, tmp);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "holds another study"));
}

static void test_same_seed_same_first_trial(void **state) {
    (void)state;
    char row[3][512];
    const int seeds[3] = {7, 7, 8};
    for (int k = 0; k < 3; k++) {
        int rc = test_run(out, sizeof out, err, sizeof err,
                          "tune %s/tr.cbd --val %s/va.cbd -o %s/seed%d --method and --trials 1 --epochs 1 --seed %d "
                          "--threads 1 --space %s/space.json " NET,
                          tmp, tmp, tmp, k, seeds[k], tmp);
        assert_int_equal(rc, 0);
        char d[8192];
        snprintf(d, sizeof d, "%s/seed%d", tmp, k);
        run_tune_result r;
        assert_int_equal(read_trials(&r, d), 0);
        assert_int_equal(r.ntrials, 1);
        snprintf(row[k], sizeof row[k], "%.17g %.17g %g %.17g %s", r.trials[0].opt[0].num, r.trials[0].opt[1].num,
                 r.trials[0].opt[2].num, r.trials[0].opt[3].num, r.trials[0].opt[4].str);
        run_tune_result_free(&r);
    }
    assert_string_equal(row[0], row[1]);
    assert_string_not_equal(row[0], row[2]);
}


/* --retrain K trains finished trial K of the e2e study (5 trials above) again
 * into its folder: with the folder gone (a study continued on a new
 * machine), a COMPLETE and a PRUNED trial each come back with a best.ckpt
 * byte-equal to the one the study made; a trial the study does not have is
 * one line and status 1. */
/* coinbc tune --retrain K (with `extra` options) on the e2e study in d */
static int retrain_cmd(const char *d, int k, const char *extra) {
    return test_run(out, sizeof out, err, sizeof err,
                    "tune %s/tr.cbd --val %s/va.cbd -o %s --method and --trials 5 --epochs 3 --threads 1 "
                    "--space %s/space.json --retrain %d %s " NET,
                    tmp, tmp, d, tmp, k, extra);
}

static void retrain_case(const char *d, int k) {
    char p[8192], keep[8192];
    snprintf(p, sizeof p, "%.4000s/trials/%04d", d, k);
    snprintf(keep, sizeof keep, "%.4000s/kept%04d", d, k);
    uint8_t *want, *got;
    size_t nw, ng;
    char ck[8300];
    snprintf(ck, sizeof ck, "%s/best.ckpt", p);
    assert_int_equal(cb_read_file(ck, &want, &nw, NULL), 0);
    assert_int_equal(rename(p, keep), 0);
    int rc = retrain_cmd(d, k, "");
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, "trained again"));
    assert_non_null(strstr(out, "\"exact\": true"));
    /* it ran the epochs its log line says (up to its best), not more */
    const char *at = strstr(err, "training it again (");
    assert_non_null(at);
    int stop = atoi(at + strlen("training it again ("));
    assert_true(stop >= 1);
    char mj[8300];
    snprintf(mj, sizeof mj, "%s/metrics.jsonl", p);
    uint8_t *mb;
    size_t mn, lines = 0;
    assert_int_equal(cb_read_file(mj, &mb, &mn, NULL), 0);
    for (size_t i = 0; i < mn; i++) lines += mb[i] == '\n';
    free(mb);
    assert_int_equal((int)lines, stop);
    assert_int_equal(cb_read_file(ck, &got, &ng, NULL), 0);
    assert_int_equal(ng, nw);
    assert_memory_equal(got, want, nw);
    free(want), free(got);
}

static void test_retrain(void **state) {
    (void)state;
    char d[8192];
    snprintf(d, sizeof d, "%s/e2e", tmp);
    run_tune_result r;
    assert_int_equal(read_trials(&r, d), 0);
    int complete = -1, pruned = -1;
    for (int i = 0; i < r.ntrials; i++) {
        if (r.trials[i].state == RUN_TUNE_COMPLETE && complete < 0) complete = r.trials[i].number;
        if (r.trials[i].state == RUN_TUNE_PRUNED && pruned < 0) pruned = r.trials[i].number;
    }
    run_tune_result_free(&r);
    assert_true(complete >= 0);
    retrain_case(d, complete);
    assert_true(pruned >= 0); /* the seeded study prunes one (trial 3) */
    retrain_case(d, pruned);  /* stopped after the epochs it ran: --max-steps, then --resume */
    int rc = retrain_cmd(d, 99, "");
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "trial 99 is not a finished trial"));
    assert_false(exists("%s/trials/0099", d));
    /* the study's record off by 0.1%% (as a trial run on another kind of CPU
     * would be): refused bit for bit, taken within --retrain-tolerance 0.01 */
    char jp[8300], kept[8300];
    snprintf(jp, sizeof jp, "%s/study.journal", d);
    uint8_t *jb;
    size_t jn;
    assert_int_equal(cb_read_file(jp, &jb, &jn, NULL), 0);
    char *txt = malloc(jn * 2 + 64), *w = txt;
    const char *key = "\"intermediate_value\": ", *q = (const char *)jb, *hit;
    int changed = 0;
    while ((hit = strstr(q, key))) {
        hit += strlen(key);
        memcpy(w, q, (size_t)(hit - q)), w += hit - q;
        char *end;
        double v = strtod(hit, &end);
        w += sprintf(w, "%.17g", v * 1.001);
        q = end, changed++;
    }
    strcpy(w, q);
    free(jb);
    assert_true(changed > 0);
    write_text(jp, txt);
    free(txt);
    snprintf(kept, sizeof kept, "%s/trials/%04d", d, complete);
    assert_int_equal(cb_remove_tree(kept), 0);
    rc = retrain_cmd(d, complete, "");
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "but the study recorded"));
    assert_true(exists("%s/trials/%04d/best.ckpt", d, complete)); /* left for a look */
    assert_int_equal(cb_remove_tree(kept), 0);
    rc = retrain_cmd(d, complete, "--retrain-tolerance 0.01");
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"exact\": false"));
    assert_non_null(strstr(err, "not bit for bit"));
    /* beyond the tolerance: refused, unless --retrain-keep, whose line then
     * says how far apart (0.1%, more than the 0.01% allowed) */
    assert_int_equal(cb_remove_tree(kept), 0);
    rc = retrain_cmd(d, complete, "--retrain-tolerance 0.0001");
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "but the study recorded"));
    assert_int_equal(cb_remove_tree(kept), 0);
    rc = retrain_cmd(d, complete, "--retrain-tolerance 0.0001 --retrain-keep");
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, "kept (--retrain-keep)"));
    assert_true(exists("%s/trials/%04d/best.ckpt", d, complete));
    run_retrained rt;
    cb_err re = {0};
    assert_int_equal(run_retrained_parse(&rt, out, strlen(out), complete, "out", &re), 0);
    assert_int_equal(rt.exact, 0);
    assert_true(rt.max_rel_diff > 0.0009 && rt.max_rel_diff < 0.0011 && rt.tolerance == 0.0001);
    /* --retrain-keep alone, without a trial to train again, is refused */
    rc = retrain_cmd(d, -1, "--retrain-keep");
    assert_int_equal(rc, 2);
}

/* the report's tune section from the two studies above (5 and 1 trials) */
static void test_report_charts(void **state) {
    (void)state;
    char a[8192], b[8192], p[8192];
    snprintf(a, sizeof a, "%s/e2e", tmp);
    snprintf(b, sizeof b, "%s/seed0", tmp);
    const char *dirs[2] = {a, b};
    snprintf(p, sizeof p, "%s/tune_report.html", tmp);
    cb_err e = {0};
    assert_int_equal(eval_report_tune_write(p, dirs, 2, &e), 0);
    uint8_t *html;
    size_t n;
    assert_int_equal(cb_read_file(p, &html, &n, NULL), 0);
    const char *h = (const char *)html;
    assert_non_null(strstr(h, "optimization history"));
    assert_int_equal(count(h, "<svg"), 6);                 /* history + lr, wd, batch-levels, tau, rescale */
    assert_int_equal(count(h, "tune-scatter"), 5);
    assert_int_equal(count(h, "class=\"pt\""), 5 * 6);   /* 6 trials on each parameter chart */
    assert_int_equal(count(h, "class=\"series\""), 2);   /* one history line per study */
    assert_non_null(strstr(h, "value vs lr (log scale)"));
    assert_non_null(strstr(h, ">off<") ? strstr(h, ">off<") : strstr(h, ">on<"));
    free(html);
    /* a folder without trials.csv is an error naming it */
    const char *none[1] = {tmp};
    assert_int_not_equal(eval_report_tune_write(p, none, 1, &e), 0);
    assert_non_null(strstr(e.msg, "trials.csv"));
}

static pid_t start_tune(const char *fmt, ...) {
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>>%s/bg.log", test_coinbc(), args, tmp);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* trial folders NNNN whose metrics.jsonl has `epochs` rows (finished training) */
static int finished_runs(const char *dir, int epochs, int *numbers) {
    int n = 0;
    for (int i = 0; i < 100; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%.4000s/trials/%04d/metrics.jsonl", dir, i);
        uint8_t *b;
        size_t len;
        if (cb_read_file(p, &b, &len, NULL)) continue;
        if (lines((char *)b) == epochs) numbers[n++] = i;
        free(b);
    }
    return n;
}

/* kill -9 of tune while trial `k` (of 3) runs, then the same command: the
 * trial is voided, re-queued and run; the study ends with exactly 3 finished
 * trials (a kill during the last trial once ended one short) */
static void kill_during(int k) {
    char d[8192];
    snprintf(d, sizeof d, "%s/kill%d", tmp, k);
    const char *fmt = "tune %s/tr.cbd --val %s/va.cbd -o %s --method and --trials 3 --epochs 20 --prune off "
                      "--threads 1 --space %s/space.json " NET;
    pid_t pid = start_tune(fmt, tmp, tmp, d, tmp);
    for (int i = 0; i < 1200 && !exists("%s/trials/%04d.log", d, k); i++) usleep(20000);
    assert_true(exists("%s/trials/%04d.log", d, k));
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    waitpid(pid, &st, 0);
    usleep(200000); /* the driver and its train die with tune (PR_SET_PDEATHSIG) */
    int done[100];
    int nd = finished_runs(d, 20, done);
    assert_int_equal(nd, k); /* the kill landed during trial k */
    int rc = test_run(out, sizeof out, err, sizeof err, fmt, tmp, tmp, d, tmp);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, "queued again"));
    run_tune_result r;
    assert_int_equal(read_trials(&r, d), 0);
    if (r.ntrials != 3) fprintf(stderr, "kill during trial %d:\n%s", k, err);
    assert_int_equal(r.ntrials, 3); /* exactly N */
    for (int i = 0; i < r.ntrials; i++) {
        assert_int_equal(r.trials[i].state, RUN_TUNE_COMPLETE);
        assert_int_not_equal(r.trials[i].number, k); /* the killed trial is void, its parameters ran again */
        for (int j = 0; j < i; j++) assert_int_not_equal(r.trials[i].number, r.trials[j].number);
    }
    /* every trial finished before the kill is still there, not run again */
    for (int j = 0; j < nd; j++) {
        int found = 0;
        for (int i = 0; i < r.ntrials; i++) found += r.trials[i].number == done[j];
        assert_int_equal(found, 1);
    }
    run_tune_result_free(&r);
    if (k != 2) return;
    /* and once more: the study is done, nothing runs, the same 3 rows */
    char *before = slurp_text("%s/trials.csv", d);
    assert_non_null(before);
    rc = test_run(out, sizeof out, err, sizeof err, fmt, tmp, tmp, d, tmp);
    assert_int_equal(rc, 0);
    assert_null(strstr(err, "lr=")); /* no trial started */
    char *after = slurp_text("%s/trials.csv", d);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_kill_first_trial(void **state) {
    (void)state;
    kill_during(0);
}

static void test_kill_middle_trial(void **state) {
    (void)state;
    kill_during(1);
}

static void test_kill_last_trial(void **state) {
    (void)state;
    kill_during(2);
}

/* the pid of the process whose command line has `needle` as a word */
static pid_t find_process(const char *needle) {
    DIR *proc = opendir("/proc");
    if (!proc) return -1;
    pid_t found = -1;
    struct dirent *de;
    while (found < 0 && (de = readdir(proc))) {
        int pid = atoi(de->d_name);
        if (pid <= 1) continue;
        char p[300], cmd[8192];
        snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        cmd[n] = 0;
        for (size_t i = 0; i < n && found < 0; i += strlen(cmd + i) + 1)
            if (!strcmp(cmd + i, needle)) found = pid;
    }
    closedir(proc);
    return found;
}

/* A second tune process on the same storage while the first one's trial runs
 * (its train stopped with SIGSTOP, so it runs as long as the test wants):
 * the second runs the other trials and waits; the live owner's trial is not
 * taken. When the first process is then killed, the second takes the trial
 * over and the study ends with exactly 3 finished trials. */
static void test_concurrent_owner_respected(void **state) {
    (void)state;
    char url[4200], a[8192], b[8192], errb[8192], run0[8300];
    snprintf(url, sizeof url, "journal:%s/conc.journal", tmp);
    snprintf(a, sizeof a, "%s/conc_a", tmp);
    snprintf(b, sizeof b, "%s/conc_b", tmp);
    snprintf(errb, sizeof errb, "%s/conc_b.err", tmp);
    snprintf(run0, sizeof run0, "%s/trials/0000", a);
    const char *fmt = "tune %s/tr.cbd --val %s/va.cbd -o %s --method and --trials 3 --epochs 20 --prune off "
                      "--threads 1 --storage %s --space %s/space.json " NET;
    pid_t pa = test_spawn(NULL, fmt, tmp, tmp, a, url, tmp);
    pid_t train = -1;
    for (int i = 0; i < 1500 && train < 0; i++) {
        if (exists("%s.log", run0)) train = find_process(run0);
        if (train < 0) usleep(20000);
    }
    assert_true(train > 0);
    assert_int_equal(kill(train, SIGSTOP), 0);
    pid_t pb = test_spawn(errb, fmt, tmp, tmp, b, url, tmp);
    char *e = NULL;
    for (int i = 0; i < 1500; i++) {
        free(e);
        e = slurp_text("%s", errb);
        if (e && strstr(e, "waiting for trial 0")) break;
        usleep(20000);
    }
    assert_non_null(e);
    if (!strstr(e, "waiting for trial 0")) fprintf(stderr, "%s", e);
    assert_non_null(strstr(e, "waiting for trial 0: trial 0 runs in tune process"));
    usleep(1500000); /* B looks at the storage again meanwhile */
    free(e);
    e = slurp_text("%s", errb);
    assert_null(strstr(e, "queued again")); /* the live owner's trial was not taken */
    assert_true(exists("%s/trials/0001/metrics.jsonl", b) && exists("%s/trials/0002/metrics.jsonl", b));
    assert_false(exists("%s/trials/0003.log", b));
    free(e);
    /* the owner dies: its train with it; B takes trial 0 over as trial 3 */
    assert_int_equal(kill(pa, SIGKILL), 0);
    test_wait(pa);
    int rc = test_wait(pb);
    e = slurp_text("%s", errb);
    if (rc) fprintf(stderr, "%s", e);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(e, "trial 0 was running when its tune process died"));
    free(e);
    run_tune_result r;
    assert_int_equal(read_trials(&r, b), 0);
    assert_int_equal(r.ntrials, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.trials[i].number, i + 1);
        assert_int_equal(r.trials[i].state, RUN_TUNE_COMPLETE);
    }
    run_tune_result_free(&r);
    /* A's command again: the study is done, A lists the same trials */
    rc = test_run(out, sizeof out, err, sizeof err, fmt, tmp, tmp, a, url, tmp);
    assert_int_equal(rc, 0);
    assert_int_equal(read_trials(&r, a), 0);
    assert_int_equal(r.ntrials, 3);
    assert_string_equal(r.trials[0].run, "../conc_b/trials/0001");
    run_tune_result_free(&r);
}

/* the owner rules one by one (tools/tune.py owner_state): a live process with
 * the recorded start time is alive, the same pid with another start time
 * (reused) is gone, another boot is gone, another host or pid namespace
 * cannot be judged; with the journal's owner locks a held lock is alive
 * whatever the pid, a free one is gone (and its file removed) */
static void test_owner_rules(void **state) {
    (void)state;
    char py[8192], locks[4200], cmd[16384];
    snprintf(locks, sizeof locks, "%s/owner_locks", tmp);
    assert_int_equal(mkdir(locks, 0755), 0);
    snprintf(py, sizeof py, "%s/owners.py", tmp);
    snprintf(cmd, sizeof cmd,
             "import fcntl, os, subprocess, sys, time\n"
             "sys.path.insert(0, 'tools')\n"
             "import tune\n"
             "me = dict(tune.OWNER)\n"
             "child = subprocess.Popen(['sleep', '30'])\n"
             "o = dict(me, pid=child.pid, start=tune.proc_start(child.pid), id='x1')\n"
             "print(tune.owner_state(o), end=' ')\n"
             "print(tune.owner_state(dict(o, start='1')), end=' ')\n"
             "print(tune.owner_state(dict(o, boot='another-boot')), end=' ')\n"
             "print(tune.owner_state(dict(o, host='another-host')), end=' ')\n"
             "print(tune.owner_state(dict(o, pidns='pid:[1]')), end=' ')\n"
             "child.kill(); child.wait()\n"
             "print(tune.owner_state(o), end=' ')\n"
             "print(tune.owner_state(me), end=' ')\n"
             "tune.LOCKS['dir'] = '%s'\n"
             "holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, os, sys, time; "
             "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print(1, flush=True); "
             "time.sleep(30)', '%s/abc.lock'], stdout=subprocess.PIPE)\n"
             "holder.stdout.readline()\n"
             "lk = dict(me, host='another-host', pid=1, start='1', id='abc', lock=True)\n"
             "print(tune.owner_state(lk), end=' ')\n"
             "holder.kill(); holder.wait()\n"
             "print(tune.owner_state(lk), os.path.exists('%s/abc.lock'), end=' ')\n"
             "print(tune.owner_state(dict(lk, id='never')))\n",
             locks, locks, locks);
    write_text(py, cmd);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -B %s 2>&1", py);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "alive gone gone unknown unknown gone alive alive gone False gone\n");
}

static void test_two_processes_one_storage(void **state) {
    (void)state;
    char url[4200];
    snprintf(url, sizeof url, "sqlite:///%s/shared.db", tmp);
    const char *fmt = "tune %s/tr.cbd --val %s/va.cbd -o %s/%s --method and --trials 5 --epochs 8 --threads 1 "
                      "--storage %s --space %s/space.json " NET;
    pid_t a = start_tune(fmt, tmp, tmp, tmp, "two_a", url, tmp);
    pid_t b = start_tune(fmt, tmp, tmp, tmp, "two_b", url, tmp);
    int sa, sb;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    if (!WIFEXITED(sa) || WEXITSTATUS(sa) || !WIFEXITED(sb) || WEXITSTATUS(sb)) {
        char c[9000];
        snprintf(c, sizeof c, "cat %.4000s/bg.log", tmp);
        (void)!system(c);
    }
    assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    /* a third process on the storage finds the study done: it runs nothing and lists N distinct trials */
    int rc = test_run(out, sizeof out, err, sizeof err, fmt, tmp, tmp, tmp, "two_c", url, tmp);
    assert_int_equal(rc, 0);
    char d[8192];
    snprintf(d, sizeof d, "%s/two_c", tmp);
    run_tune_result r;
    assert_int_equal(read_trials(&r, d), 0);
    assert_int_equal(r.ntrials, 5);
    int in_a = 0, in_b = 0;
    for (int i = 0; i < r.ntrials; i++) {
        for (int j = 0; j < i; j++) {
            assert_int_not_equal(r.trials[i].number, r.trials[j].number);
            assert_string_not_equal(r.trials[i].run, r.trials[j].run);
        }
        in_a += strstr(r.trials[i].run, "/two_a/") != NULL;
        in_b += strstr(r.trials[i].run, "/two_b/") != NULL;
    }
    assert_int_equal(in_a + in_b, 5);
    assert_false(exists("%s/trials/0000", d));
    run_tune_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_space_reader),
        cmocka_unit_test(test_records_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_missing_optuna),
        cmocka_unit_test(test_driver_one_line_errors),
        cmocka_unit_test(test_driver_stops_before_start),
        cmocka_unit_test(test_driver_reads_epochs),
        cmocka_unit_test(test_retrain_best_epoch),
        cmocka_unit_test(test_study_end_to_end),
        cmocka_unit_test(test_same_seed_same_first_trial),
        cmocka_unit_test(test_report_charts),
        cmocka_unit_test(test_retrain),
        cmocka_unit_test(test_kill_first_trial),
        cmocka_unit_test(test_kill_middle_trial),
        cmocka_unit_test(test_kill_last_trial),
        cmocka_unit_test(test_concurrent_owner_respected),
        cmocka_unit_test(test_owner_rules),
        cmocka_unit_test(test_two_processes_one_storage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
