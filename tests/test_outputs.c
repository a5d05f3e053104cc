/* test_outputs.c - no command writes an output that is,
 * contains or lies inside one of its inputs, or lies inside a run or dataset
 * folder (common/paths.c, through every command), with the paths given
 * plainly, through symlinks and through `..`; and item 11's `-o` without a
 * value. Every refused command must exit non-zero, name both paths, and
 * leave the whole test folder byte for byte as it was (nothing written).
 * Each command also still writes a legal output next to its input. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>
#include <cmocka.h>

#include "tests/support/run.h"

static char out[65536], err[65536];
static char *tmp; /* the test folder; the tests run with it as the current folder */

#define TINY "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 8 --epochs 1 --threads 1 --quiet"

/* ---- a fingerprint of every file, folder and link under the test folder ---- */

static uint64_t tree_sum, tree_count;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    uint64_t h = fnv(1469598103934665603ULL, path, strlen(path));
    h = fnv(h, &flag, sizeof flag);
    unsigned mode = (unsigned)st->st_mode;
    h = fnv(h, &mode, sizeof mode);
    if (flag == FTW_SL) {
        char t[PATH_MAX];
        ssize_t n = readlink(path, t, sizeof t);
        if (n > 0) h = fnv(h, t, (size_t)n);
    } else if (flag == FTW_F) {
        FILE *f = fopen(path, "rb");
        if (f) {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = fnv(h, buf, n);
            fclose(f);
        }
        int64_t size = (int64_t)st->st_size;
        h = fnv(h, &size, sizeof size);
    }
    tree_sum += h * 2654435761ULL + (h >> 29); /* order-free: entries are summed */
    tree_count++;
    return 0;
}

/* the fingerprint of the test folder (relative to it) */
static uint64_t tree(void) {
    tree_sum = tree_count = 0;
    assert_int_equal(nftw(".", visit, 16, FTW_PHYS), 0);
    return tree_sum ^ (tree_count << 48);
}

/* ---- helpers ---------------------------------------------------------------- */

static void must(const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = test_run(out, sizeof out, err, sizeof err, "%s", args);
    if (rc != 0) fail_msg("coinbc %s: exit status %d\n%s", args, rc, err);
}

/* coinbc ARGS must fail without touching anything, its message holding
 * `a` and `b` (the output and the input or folder, as given) */
static void refused(const char *a, const char *b, const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    uint64_t before = tree();
    int rc = test_run(out, sizeof out, err, sizeof err, "%s", args);
    uint64_t after = tree();
    if (rc == 0 || rc == -1 || !strstr(err, a) || (b && !strstr(err, b)) || before != after)
        fail_msg("coinbc %s: exit status %d, the folder %s, want '%s' and '%s' in:\n%s", args, rc,
                 before == after ? "unchanged" : "CHANGED", a, b ? b : "", err);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Fixtures, relative to the test folder: rec/ (recordings of levels 0-3),
 * d.cbd (their dataset), v.cbd (levels 10-11), run/ (a tiny trained run),
 * links dl -> d.cbd and rl -> run, an empty folder sub/. */
static int setup(void **state) {
    (void)state;
    static char coinbc[PATH_MAX];
    if (!realpath(test_coinbc(), coinbc)) return -1; /* the tests run in the test folder */
    setenv("COINBC", coinbc, 1);
    tmp = test_tmpdir();
    if (!tmp || chdir(tmp) != 0) return -1;
    if (test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 20 --threads 1 --quiet --out rec") ||
        test_run(out, sizeof out, err, sizeof err, "record --levels 10-11 --states 20 --threads 1 --quiet --out v.cbd") ||
        test_run(out, sizeof out, err, sizeof err, "capture rec -o d.cbd --quiet") ||
        test_run(out, sizeof out, err, sizeof err, "train d.cbd --val v.cbd " TINY " -o run") || symlink("d.cbd", "dl") ||
        symlink("run", "rl") || mkdir("sub", 0755)) {
        fprintf(stderr, "setup failed: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (chdir("/") != 0) return -1;
    test_rmtree(tmp);
    free(tmp);
    return 0;
}

/* ---- the six cases of the issue, plainly, through symlinks and `..` ---------- */

static void test_issue_cases(void **state) {
    (void)state;
    /* data export DATA -o DATA --force */
    refused("-o d.cbd", "input d.cbd", "data export d.cbd -o d.cbd --force --quiet");
    refused("-o dl", "input d.cbd", "data export d.cbd -o dl --force --quiet");
    refused("-o sub/../d.cbd", "input dl", "data export dl -o sub/../d.cbd --force --quiet");
    refused("/d.cbd/: the output is the input d.cbd", NULL, "data export d.cbd -o %s/d.cbd/ --force --quiet", tmp);
    /* rollout RUN --film RUN/best.ckpt */
    refused("--film run/best.ckpt", "input run/best.ckpt", "rollout run --levels 0-1 --film run/best.ckpt --quiet");
    refused("--film rl/best.ckpt", "input run/best.ckpt", "rollout run --levels 0-1 --film rl/best.ckpt --quiet");
    refused("--film sub/../run/best.ckpt", "input rl/best.ckpt",
            "rollout rl --levels 0-1 --film sub/../run/best.ckpt --quiet");
    refused("--film run/latest.ckpt", "input run/latest.ckpt",
            "rollout run --levels 0-1 --checkpoint run/latest.ckpt --film run/latest.ckpt --quiet");
    /* report RUN -o RUN/config.json */
    refused("-o run/config.json", "input run", "report run -o run/config.json");
    refused("-o rl/config.json", "input run", "report run -o rl/config.json");
    refused("-o sub/../rl/metrics.csv", "input run", "report run -o sub/../rl/metrics.csv");
    /* capture REC -o REC, and outputs that contain an input */
    refused("-o rec", "input rec", "capture rec -o rec --quiet");
    refused("-o rec", "input rec/level_1", "capture rec/level_1 -o rec --append --quiet");
    refused("-o rec/new.cbd", "input rec", "capture rec -o rec/new.cbd --quiet");
    refused("-o sub/../rec/x.cbd", "input rec", "capture rec -o sub/../rec/x.cbd --quiet");
    /* train ... -o DATA.cbd (and -o the validation data, or inside it) */
    refused("-o d.cbd", "input d.cbd", "train d.cbd " TINY " -o d.cbd");
    refused("-o v.cbd/r", "input v.cbd", "train d.cbd --val v.cbd " TINY " -o v.cbd/r");
    refused("-o dl", "input d.cbd", "train d.cbd " TINY " -o dl");
    /* data split ... -o DATA.cbd/x */
    refused("-o d.cbd/x-train.cbd", "input d.cbd", "data split d.cbd --train 0-1 --test 2-3 -o d.cbd/x --quiet");
    refused("-o dl/x-train.cbd", "input d.cbd", "data split d.cbd --train 0-1 --test 2-3 -o dl/x --quiet");
    refused("-o sub/../d.cbd/x-train.cbd", "input dl",
            "data split dl --train 0-1 --test 2-3 -o sub/../d.cbd/x --quiet");
    /* `..` after a folder that does not exist cannot be resolved: refused, naming the path */
    refused("-o nothere/../d.cbd", "'..' after 'nothere'", "data export d.cbd -o nothere/../d.cbd --force --quiet");
    refused("-o nothere/../rec", "'..' after 'nothere'", "capture rec -o nothere/../rec --quiet");
    /* a dangling symlink on the way is refused, not followed */
    assert_int_equal(symlink("gone/x", "dangle"), 0);
    refused("--film dangle", "cannot be resolved", "rollout run --levels 0-1 --film dangle --quiet");
    assert_int_equal(unlink("dangle"), 0);
    /* a hard link to the input is the same file */
    assert_int_equal(link("run/best.ckpt", "hard.ckpt"), 0);
    refused("--film hard.ckpt", "the same file", "rollout run --levels 0-1 --film hard.ckpt --quiet");
    assert_int_equal(unlink("hard.ckpt"), 0);
}

/* ---- the other commands' inputs --------------------------------------------- */

static void test_every_command(void **state) {
    (void)state;
    refused("-o d.cbd", "input d.cbd", "data relabel d.cbd --levels 0-1 -o d.cbd");
    refused("-o dl/r.cbd", "input d.cbd", "data relabel d.cbd --levels 0-1 -o dl/r.cbd");
    /* eval writes RUN/eval.json: RUN must not be (inside) the data or the checkpoint */
    refused("d.cbd/eval.json", "input d.cbd", "eval d.cbd d.cbd --checkpoint run/best.ckpt --quiet");
    /* tune: DIR and a journal file against TRAIN, VAL and the space file */
    write_text("space.json", "{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}");
    refused("-o d.cbd", "input d.cbd", "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o d.cbd");
    refused("-o v.cbd/t", "input v.cbd", "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o v.cbd/t");
    refused("-o .", "input d.cbd", "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o .");
    refused("--storage d.cbd/manifest.txt", "input d.cbd",
            "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o t --storage journal:d.cbd/manifest.txt");
    refused("--storage space.json", "input space.json",
            "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o t --storage sqlite:///space.json");
    /* a path of thousands of components (more than PATH_MAX bytes) is refused, not overrun */
    static char deep[8200];
    for (int i = 0; i < 3000; i++) memcpy(deep + 2 * i, "a/", 2);
    memcpy(deep + 6000, "x", 2);
    refused("-o a/a/a/a/", NULL, "report run -o %s", deep);
    /* play: --frames against the actions file */
    write_text("acts.txt", "1 1 1\n");
    refused("--frames .", "input acts.txt", "play --seed 1 --actions acts.txt --frames .");
    assert_int_equal(unlink("acts.txt"), 0);
}

/* ---- outputs inside a run or dataset folder that is not an input ------------- */

static void test_inside_records(void **state) {
    (void)state;
    /* the run folder and the dataset are no input of these commands */
    refused("--film run/film.png", "run folder", "rollout run --levels 0-1 --checkpoint run/latest.ckpt --film "
            "run/film.png --quiet");
    refused("-o rl/report.html", "run folder", "report d.cbd -o rl/report.html");
    refused("-o d.cbd/report.html", "dataset folder", "report run -o d.cbd/report.html");
    refused("-o run/x.cbd", "run folder", "capture rec -o run/x.cbd --quiet");
    refused("-o d.cbd/sub/x.cbd", "dataset folder", "capture rec -o d.cbd/sub/x.cbd --quiet");
    refused("--out d.cbd/more", "dataset folder", "record --levels 5-5 --states 5 --threads 1 --quiet --out d.cbd/more");
    refused("--out run/more.cbd", "run folder", "record --levels 5-5 --states 5 --threads 1 --quiet --out run/more.cbd");
    refused("--png run/l.png", "run folder", "level --seed 1 --png run/l.png");
    refused("--map dl/m.png", "dataset folder", "level --seed 1 --map dl/m.png");
    refused("--frames run/f", "run folder", "play --seed 1 --policy refdata --frames run/f");
    refused("-o run/r", "run folder", "train v.cbd " TINY " -o run/r");
    refused("-o v.cbd/x-train.cbd", "dataset folder", "data split d.cbd --train 0-1 --test 2-3 -o v.cbd/x --quiet");
    refused("-o v.cbd/ex", "dataset folder", "data export d.cbd -o v.cbd/ex --quiet");
    refused("-o rl/t", "run folder", "tune d.cbd --val v.cbd --method and --trials 2 -o rl/t");
    /* an existing folder of the other kind as the output */
    refused("-o v.cbd", "is a dataset folder", "data export d.cbd -o v.cbd --force --quiet");
    refused("-o run", "is a run folder", "data export d.cbd -o run --force --quiet");
    refused("-o v.cbd", "is a dataset folder", "train d.cbd " TINY " -o v.cbd");
    refused("-o run", "is a run folder", "capture rec -o run --append --quiet");
    /* eval's and rollout's records go into a run folder, not a dataset folder */
    refused("v.cbd/rollout.json", "dataset folder", "rollout v.cbd --checkpoint run/best.ckpt --levels 0-1 --quiet");
}

/* ---- the same commands with legal outputs next to their inputs ---------------- */

static void test_legal_outputs(void **state) {
    (void)state;
    must("data export d.cbd -o ex --quiet");
    must("data export dl -o ex --force --quiet"); /* an existing export, replaced */
    must("data split d.cbd --train 0-1 --test 2-3 -o sp --quiet");
    must("data relabel d.cbd --levels 0-1 -o rl.cbd");
    must("capture rec -o d2.cbd --quiet");
    must("capture rec/level_0 -o sub/d3.cbd --quiet");
    must("record --levels 5-5 --states 5 --threads 1 --quiet --out rec5");
    must("capture rec5 -o d2.cbd --append --quiet"); /* an existing dataset as the output */
    must("record --levels 6-6 --states 5 --threads 1 --quiet --out r6.cbd");
    must("train d.cbd --val v.cbd " TINY " -o run2");
    must("train d.cbd --val v.cbd " TINY " --epochs 2 --resume -o run2"); /* the run folder itself, resumed */
    must("eval run v.cbd --quiet");
    must("eval rl d.cbd --checkpoint run/latest.ckpt --quiet");
    must("rollout run --levels 0-1 --film film.png --quiet");
    must("rollout rl --levels 0-1 --film sub/film.png --quiet");
    must("report run run2 -o report.html");
    must("report run -o sub/../report2.html");
    must("level --seed 1 --png l.png --map sub/m.png");
    write_text("acts.txt", "1 1 1\n");
    must("play --seed 1 --actions acts.txt --frames frames");
    /* tune reaches its driver (a stand-in here: the test does not need Optuna) with a DIR next to the data */
    write_text("driver.py", "import sys\nsys.stderr.write('stand-in driver reached\\n')\nsys.exit(1)\n");
    char drv[PATH_MAX + 16];
    snprintf(drv, sizeof drv, "%s/driver.py", tmp);
    setenv("COINBC_TUNE_DRIVER", drv, 1);
    write_text("space.json", "{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 1e-3]}}}}");
    int rc = test_run(out, sizeof out, err, sizeof err,
                      "tune d.cbd --val v.cbd --method and --trials 2 --space space.json -o tune --storage journal:j.log");
    unsetenv("COINBC_TUNE_DRIVER");
    if (rc == 0 || !strstr(err, "stand-in driver reached")) fail_msg("tune: status %d:\n%s", rc, err);
}

/* ---- item 11: an option without its value ------------------------------------ */

static void test_missing_value(void **state) {
    (void)state;
    static const char *const cmds[] = {"data export d.cbd", "data split d.cbd --train 0-1 --test 2-3",
                                       "data relabel d.cbd --levels 0-1", "capture rec", "train d.cbd", "report run",
                                       "tune d.cbd --val v.cbd --method and --trials 2", "record --levels 0-0 --states 1"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        refused("option -o needs a value", NULL, "%s -o", cmds[i]);
        refused("option -o needs a value", "'--quiet' after it is an option", "%s -o --quiet", cmds[i]);
        refused("option --out needs a value", NULL, "%s --out", cmds[i]);
        if (strstr(err, "unknown option")) fail_msg("%s --out: %s", cmds[i], err);
    }
    refused("option --film needs a value", NULL, "rollout run --levels 0-1 --film");
    refused("option --checkpoint needs a value", "'-o' after it is an option", "eval run d.cbd --checkpoint -o x");
    refused("option --seed needs a value", "'--png' after it is an option", "level --seed --png x.png");
    /* a negative number is a value (refused by the range check, not as a missing value) */
    int rc = test_run(out, sizeof out, err, sizeof err, "rollout run --levels 0-1 --seed -1 --quiet");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "--seed must be >= 0"));
    /* -o where the command has no such option stays unknown */
    rc = test_run(out, sizeof out, err, sizeof err, "level --seed 1 -o x.png");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "unknown option '-o'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_cases),
        cmocka_unit_test(test_every_command),
        cmocka_unit_test(test_inside_records),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_legal_outputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
