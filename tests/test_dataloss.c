/* test_dataloss.c - no command loses data. Two writers of one
 * dataset or folder (real concurrent coinbc processes: the first is stopped
 * with SIGSTOP while it holds the lock, so the outcome does not depend on
 * timing), export over an existing folder, and the smaller cases of D5
 * (messages, exit codes, outputs of failed commands, ulimit -f, actions.csv). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/support/run.h"

static char out[65536], err[65536];

static int exists(const char *fmt, ...) {
    char p[4300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(p, &st) == 0;
}

/* Stops pid once it holds the writer lock of dir. 0 when caught; -1 when the
 * process ended first (its status in *status). No timing decides the
 * outcome: the loop stops the process, looks, and lets it run on a little. */
static int stop_when_locked(pid_t pid, const char *dir, int *status) {
    char lp[4300];
    snprintf(lp, sizeof lp, "%s/.coinbc-lock", dir);
    for (;;) {
        int st;
        kill(pid, SIGSTOP);
        if (waitpid(pid, &st, WUNTRACED) < 0) return -1;
        if (!WIFSTOPPED(st)) {
            *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return -1;
        }
        int fd = open(lp, O_RDONLY);
        if (fd >= 0) {
            /* held, and the holder's line written (just after the lock is taken) */
            struct stat sb;
            int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && fstat(fd, &sb) == 0 && sb.st_size > 0;
            if (!held) flock(fd, LOCK_UN);
            close(fd);
            if (held) return 0;
        }
        kill(pid, SIGCONT);
        usleep(200);
    }
}

static int64_t json_int(const char *text, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(text, k);
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* D1: two captures append to one dataset at once: the second fails at once
 * naming the first; no level is lost or left unlisted. */
static void test_two_appends(void **st) {
    (void)st;
    char *d = test_tmpdir();
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-15 --states 6 --threads 1 --quiet --out %s/rec16", d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s/rec16 --levels 0-1 -o %s/A.cbd --quiet", d, d), 0);
    char ef[4300], a[4300];
    snprintf(ef, sizeof ef, "%s/first.err", d);
    snprintf(a, sizeof a, "%s/A.cbd", d);
    pid_t p = test_spawn(ef, "capture %s/rec16 --levels 2-9 --append -o %s --quiet --threads 1", d, a);
    int status = -1;
    if (stop_when_locked(p, a, &status)) fail_msg("the first capture ended (status %d) before it was caught holding the lock", status);
    int rc = test_run(out, sizeof out, err, sizeof err, "capture %s/rec16 --levels 10-15 --append -o %s --quiet", d, a);
    kill(p, SIGCONT);
    assert_int_equal(test_wait(p), 0);
    assert_int_equal(rc, 1);
    char pid[64];
    snprintf(pid, sizeof pid, "pid %ld", (long)p);
    if (!strstr(err, "being written by another process") || !strstr(err, pid) || !strstr(err, "capture"))
        fail_msg("the second writer's message does not name the holder: %s", err);
    assert_false(exists("%s/level_10.cbs", a)); /* nothing of the refused command is left */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s --json --quiet", a), 0);
    assert_int_equal(json_int(out, "levels"), 10);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data verify %s --quiet", a), 0);
    /* once the first is done, the second goes through */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s/rec16 --levels 10-15 --append -o %s --quiet", d, a), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s --json --quiet", a), 0);
    assert_int_equal(json_int(out, "levels"), 16);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data verify %s --quiet", a), 0);
    assert_false(exists("%s/.coinbc-lock", a));
    /* a lock file left by a killed writer is ignored by readers and capture */
    char lp[4400];
    const char *where[3] = {"A.cbd", "rec16", "rec16/level_3"};
    for (int k = 0; k < 3; k++) {
        snprintf(lp, sizeof lp, "%s/%s/.coinbc-lock", d, where[k]);
        FILE *f = fopen(lp, "w");
        assert_non_null(f);
        fputs("pid 1: coinbc capture (killed)\n", f);
        fclose(f);
    }
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data verify %s --quiet", a), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s/rec16/level_3 -o %s/C.cbd --quiet", d, d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s/rec16 --levels 0-4 -o %s/B.cbd --quiet", d, d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s -o %s/ex --quiet --levels 0-1", a, d), 0);
    assert_false(exists("%s/ex/.coinbc-lock", d));
    test_rmtree(d);
    free(d);
}

/* D1: two fresh records of one dataset with different --states; and two
 * records of one recordings folder. */
static void test_two_records(void **st) {
    (void)st;
    char *d = test_tmpdir();
    char x[4300];
    snprintf(x, sizeof x, "%s/X.cbd", d);
    pid_t p = test_spawn(NULL, "record --levels 0-3 --states 40 --threads 1 --quiet --out %s", x);
    int status = -1;
    if (stop_when_locked(p, x, &status)) fail_msg("the first record ended (status %d) before it was caught", status);
    int rc = test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 20 --threads 1 --quiet --out %s", x);
    kill(p, SIGCONT);
    assert_int_equal(test_wait(p), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "being written by another process"));
    assert_non_null(strstr(err, "record"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data verify %s --quiet", x), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s --json --quiet", x), 0);
    assert_int_equal(json_int(out, "frames"), 160);

    /* a recordings folder: the second (even with --force) is refused while the first runs */
    snprintf(x, sizeof x, "%s/rec", d);
    p = test_spawn(NULL, "record --levels 0-3 --states 30 --threads 1 --quiet --out %s", x);
    if (stop_when_locked(p, x, &status)) fail_msg("the folder record ended (status %d) before it was caught", status);
    rc = test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 10 --threads 1 --quiet --force --out %s", x);
    kill(p, SIGCONT);
    assert_int_equal(test_wait(p), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "being written by another process"));
    assert_true(exists("%s/level_3/frame_000029.png", x));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s -o %s/r.cbd --quiet", x, d), 0);

    /* two exports into one folder */
    snprintf(x, sizeof x, "%s/ex", d);
    p = test_spawn(NULL, "data export %s/r.cbd -o %s --quiet", d, x);
    if (stop_when_locked(p, x, &status)) fail_msg("the export ended (status %d) before it was caught", status);
    rc = test_run(out, sizeof out, err, sizeof err, "data export %s/r.cbd -o %s --force --quiet", d, x);
    kill(p, SIGCONT);
    assert_int_equal(test_wait(p), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "being written by another process"));
    test_rmtree(d);
    free(d);
}

/* D2: export refuses a non-empty folder; with --force the old content is
 * replaced whole (no stale frames of a longer level). */
static void test_export_no_mixture(void **st) {
    (void)st;
    char *d = test_tmpdir();
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 50 --threads 1 --quiet --out %s/long.cbd", d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 20 --threads 1 --quiet --out %s/short.cbd", d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/long.cbd -o %s/ex --quiet", d, d), 0);
    assert_true(exists("%s/ex/level_0/frame_000049.png", d));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/short.cbd -o %s/ex --quiet", d, d), 1);
    assert_non_null(strstr(err, "--force"));
    assert_true(exists("%s/ex/level_0/frame_000049.png", d)); /* untouched */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/short.cbd -o %s/ex --force --quiet", d, d), 0);
    assert_false(exists("%s/ex/level_0/frame_000020.png", d));
    assert_false(exists("%s/ex/.coinbc-lock", d));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture %s/ex -o %s/back.cbd --quiet", d, d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s/back.cbd --json --quiet", d), 0);
    assert_int_equal(json_int(out, "frames"), 40);
    /* nothing beside it is left over */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q export-", d);
    assert_int_not_equal(system(cmd), 0);
    /* an empty existing folder is fine without --force; a failed export leaves it as it was */
    char e2[4300];
    snprintf(e2, sizeof e2, "%s/empty", d);
    assert_int_equal(mkdir(e2, 0755), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/short.cbd --format npz -o %s --quiet", d, e2), 0);
    assert_true(exists("%s/00000000-000000_0_20_0_0.00.npz", e2));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/short.cbd --levels 7-9 -o %s/none --quiet", d, d), 1);
    assert_false(exists("%s/none", d));
    test_rmtree(d);
    free(d);
}

/* D5: the smaller cases. */
static void test_small_cases(void **st) {
    (void)st;
    char *d = test_tmpdir();
    /* record's own flag in its message */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --threads 1 --quiet --out %s/a.cbd", d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 2-3 --states 5 --threads 1 --quiet --out %s/a.cbd", d), 1);
    assert_non_null(strstr(err, "--force"));
    assert_null(strstr(err, "--append"));
    /* a usage error, and no folder */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 99999999999 --quiet --out %s/b.cbd", d), 2);
    assert_false(exists("%s/b.cbd", d));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 99999999999 --quiet --out %s/b", d), 2);
    assert_false(exists("%s/b", d));
    /* a failed capture leaves no output */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture tests/fixtures/npz/bad_action_0_5_47_0.00.npz -o %s/c.cbd --quiet", d), 1);
    assert_false(exists("%s/c.cbd", d));
    /* a failed split (a damaged shard in the test range) leaves neither output */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 5 --threads 1 --quiet --out %s/s.cbd", d), 0);
    char sp[4300];
    snprintf(sp, sizeof sp, "%s/s.cbd/level_3.cbs", d);
    FILE *f = fopen(sp, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data split %s/s.cbd --train 0-1 --test 2-3 -o %s/sp --quiet", d, d), 1);
    assert_false(exists("%s/sp-train.cbd", d));
    assert_false(exists("%s/sp-test.cbd", d));
    /* ulimit -f: a reported write error, no temporaries, no partial output, and one "level N:" */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ulimit -f 8; exec %s record --levels 0-1 --states 40 --threads 1 --quiet --out %s/u.cbd 2>%s/u.err",
             test_coinbc(), d, d);
    int stt = system(cmd);
    assert_true(WIFEXITED(stt));
    assert_int_equal(WEXITSTATUS(stt), 1);
    assert_false(exists("%s/u.cbd", d));
    snprintf(sp, sizeof sp, "%s/u.err", d);
    f = fopen(sp, "rb");
    assert_non_null(f);
    size_t n = fread(err, 1, sizeof err - 1, f);
    err[n] = 0;
    fclose(f);
    if (!strstr(err, "File too large")) fail_msg("no reason given: %s", err);
    if (strstr(err, "level 0: level 0:")) fail_msg("repeated context: %s", err);
    /* a recordings folder it created is removed again (64x64 frames are over 1 KiB) */
    snprintf(cmd, sizeof cmd, "ulimit -f 1; exec %s record --levels 0-1 --states 5 --threads 1 --quiet --out %s/uf 2>/dev/null",
             test_coinbc(), d);
    stt = system(cmd);
    assert_true(WIFEXITED(stt));
    assert_int_equal(WEXITSTATUS(stt), 1);
    assert_false(exists("%s/uf", d));
    /* the same into an existing dataset: the dataset stays as it was, no *.cbs.tmp.* */
    snprintf(cmd, sizeof cmd, "ulimit -f 8; exec %s record --levels 5-6 --states 40 --threads 1 --quiet --force --out %s/a.cbd 2>/dev/null",
             test_coinbc(), d);
    stt = system(cmd);
    assert_int_equal(WEXITSTATUS(stt), 1);
    snprintf(cmd, sizeof cmd, "ls -a %s/a.cbd | grep -q tmp", d);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data verify %s/a.cbd --quiet", d), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s/a.cbd --json --quiet", d), 0);
    assert_int_equal(json_int(out, "levels"), 2);
    /* npz export past the limit says why */
    snprintf(cmd, sizeof cmd, "ulimit -f 8; exec %s data export %s/s.cbd --levels 0-1 --format npz -o %s/nz --quiet 2>%s/nz.err",
             test_coinbc(), d, d, d);
    stt = system(cmd);
    assert_int_equal(WEXITSTATUS(stt), 1);
    snprintf(sp, sizeof sp, "%s/nz.err", d);
    f = fopen(sp, "rb");
    assert_non_null(f);
    n = fread(err, 1, sizeof err - 1, f);
    err[n] = 0;
    fclose(f);
    if (!strstr(err, "write failed: File too large") && !strstr(err, "File too large")) fail_msg("no reason: %s", err);
    assert_false(exists("%s/nz", d));
    test_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_appends),
        cmocka_unit_test(test_two_records),
        cmocka_unit_test(test_export_no_mixture),
        cmocka_unit_test(test_small_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
