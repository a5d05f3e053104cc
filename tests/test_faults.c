/* test_faults.c - fault injection on every write path of record (into a new
 * dataset and into an existing one), capture (new and --append), data split
 * and data export (new folder and --force over an old one). Each command is
 * run once under build/tests/faultshim.so to count its file operations
 * (create, write, flush, sync, rename; tests/support/faultshim.c), then once
 * per operation with that operation failing. After each run the whole work
 * folder must be either exactly as before (the command failed: exit 1, a
 * message) or exactly what an uninterrupted run leaves (the failed call did
 * not matter, or came after the last rename); never anything in between, and
 * no temporaries or lock files left over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/support/run.h"

static char shim[4200];
static char snap_prior[1 << 16], snap_new[1 << 16], snap_now[1 << 16], err[8192];

/* Every file (with cksum) and folder under dir, sorted. */
static void snapshot(const char *dir, char *out, size_t n) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && { find . -type f ! -name '*.err' -exec cksum {} + | sort -k3; find . -type d | sort; }", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    pclose(p);
    assert_true(k < n - 1);
}

static void sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("setup failed: %s", cmd);
}

/* Runs coinbc ARGS under the shim with the at-th operation failing (0: none);
 * *count receives the number of operations; returns the exit status. */
static int kill_mode;

static int run_shim(const char *dir, long at, long *count, const char *args) {
    char cmd[20000], rep[4300], ef[4300];
    snprintf(rep, sizeof rep, "%s.count", dir);
    snprintf(ef, sizeof ef, "%s.err", dir);
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 LD_PRELOAD='%s' FAULT_AT=%ld FAULT_KILL=%d "
             "FAULT_REPORT='%s' %s %s >/dev/null 2>'%s' </dev/null",
             shim, at, kill_mode, rep, test_coinbc(), args, ef);
    int st = system(cmd);
    FILE *f = fopen(rep, "rb");
    *count = -1;
    if (f) {
        if (fscanf(f, "%ld", count) != 1) *count = -1;
        fclose(f);
    }
    f = fopen(ef, "rb");
    err[0] = 0;
    if (f) {
        err[fread(err, 1, sizeof err - 1, f)] = 0;
        fclose(f);
    }
    unlink(rep);
    unlink(ef);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* setup: shell commands run in the work folder W (as $W) before the command;
 * args: the command, with every %s replaced by W. */
static void scenario(const char *name, const char *setup, const char *argsfmt) {
    char *base = test_tmpdir();
    char w[4300], pristine[4300], args[8192];
    snprintf(w, sizeof w, "%s/w", base);
    snprintf(pristine, sizeof pristine, "%s/pristine", base);
    sh("mkdir -p '%s' && cd '%s' && W='%s' && C='%s' && { %s; } >/dev/null", w, w, w, test_coinbc(), setup[0] ? setup : "true");
    sh("cp -a '%s' '%s'", w, pristine);
    /* the argument pattern names the work folder as @ */
    size_t k = 0;
    for (const char *p = argsfmt; *p && k < sizeof args - 4400; p++) {
        if (*p == '@') k += (size_t)snprintf(args + k, sizeof args - k, "%s", w);
        else args[k++] = *p;
    }
    args[k] = 0;
    snapshot(w, snap_prior, sizeof snap_prior);
    long n;
    int rc = run_shim(w, 0, &n, args);
    if (rc != 0) fail_msg("%s: fails without a fault (%d): %s", name, rc, err);
    assert_true(n > 0);
    snapshot(w, snap_new, sizeof snap_new);
    int failed = 0, harmless = 0, late = 0;
    for (long at = 1; at <= n; at++) {
        sh("rm -rf '%s' && cp -a '%s' '%s'", w, pristine, w);
        long n2;
        rc = run_shim(w, at, &n2, args);
        snapshot(w, snap_now, sizeof snap_now);
        if (rc == 0) {
            if (strcmp(snap_now, snap_new))
                fail_msg("%s: operation %ld failed, exit 0, but the result differs:\n%s\n--- expected ---\n%s", name, at,
                         snap_now, snap_new);
            harmless++;
            continue;
        }
        if (rc != 1) fail_msg("%s: operation %ld failed: exit %d (crash?): %s", name, at, rc, err);
        if (!strstr(err, "coinbc")) fail_msg("%s: operation %ld failed without a message", name, at);
        if (!strcmp(snap_now, snap_prior)) {
            failed++;
        } else if (!strcmp(snap_now, snap_new)) {
            late++;
        } else {
            fail_msg("%s: operation %ld failed (%s) and left a mixture:\n%s\n--- before ---\n%s", name, at, err, snap_now,
                     snap_prior);
        }
    }
    print_message("%s: %ld file operations; each failing in turn: %d refused with the previous state, %d harmless, "
                  "%d after the result was in place\n",
                  name, n, failed, harmless, late);
    assert_true(failed > 0);
    test_rmtree(base);
    free(base);
}

/* The kill test: the command is killed (SIGKILL from the shim, just before
 * its at-th file operation) at every operation in turn, then `rerun` (the same
 * command, or with --force where a folder must be reused) runs without faults;
 * the work folder must then be byte for byte what one uninterrupted run leaves.
 * A kill after the last rename leaves the finished output, which the rerun may
 * refuse to overwrite ("already holds"); that output must be the same bytes. */
static void kill_scenario(const char *name, const char *setup, const char *argsfmt, const char *rerunfmt) {
    char *base = test_tmpdir();
    char w[4300], pristine[4300], args[8192], rerun[8192];
    snprintf(w, sizeof w, "%s/w", base);
    snprintf(pristine, sizeof pristine, "%s/pristine", base);
    sh("mkdir -p '%s' && cd '%s' && W='%s' && C='%s' && { %s; } >/dev/null", w, w, w, test_coinbc(), setup[0] ? setup : "true");
    sh("cp -a '%s' '%s'", w, pristine);
    const char *fmts[2] = {argsfmt, rerunfmt};
    char *outs[2] = {args, rerun};
    for (int j = 0; j < 2; j++) {
        size_t k = 0;
        for (const char *p = fmts[j]; *p && k < sizeof args - 4400; p++) {
            if (*p == '@') k += (size_t)snprintf(outs[j] + k, sizeof args - k, "%s", w);
            else outs[j][k++] = *p;
        }
        outs[j][k] = 0;
    }
    long n;
    kill_mode = 0;
    if (run_shim(w, 0, &n, args) != 0) fail_msg("%s: fails without a fault: %s", name, err);
    snapshot(w, snap_new, sizeof snap_new);
    int reran = 0, finished = 0, points = 0;
    /* 24 points spread over the run, and its last three operations */
    long step = (n + 23) / 24, pts[40];
    int np = 0;
    for (long at = 1; at <= n - 3; at += step) pts[np++] = at;
    for (long at = n - 2 > 1 ? n - 2 : 1; at <= n; at++)
        if (!np || at > pts[np - 1]) pts[np++] = at;
    for (int pi = 0; pi < np; pi++) {
        long at = pts[pi];
        points++;
        sh("rm -rf '%s' && cp -a '%s' '%s'", w, pristine, w);
        long n2;
        kill_mode = 1;
        int rc = run_shim(w, at, &n2, args);
        kill_mode = 0;
        if (rc != 128 + 9) fail_msg("%s: not killed at operation %ld (exit %d)", name, at, rc);
        rc = run_shim(w, 0, &n2, rerun);
        snapshot(w, snap_now, sizeof snap_now);
        if (rc == 0) {
            reran++;
        } else if (strstr(err, "already")) {
            finished++;
        } else {
            fail_msg("%s: the rerun after a kill at operation %ld failed: %s", name, at, err);
        }
        if (strcmp(snap_now, snap_new))
            fail_msg("%s: killed at operation %ld, rerun (exit %d): not the bytes of an uninterrupted run:\n%s\n"
                     "--- expected ---\n%s", name, at, rc, snap_now, snap_new);
    }
    print_message("%s: killed at %d of its %ld file operations, then rerun: %d reran to the same bytes, %d were already "
                  "complete\n", name, points, n, reran, finished);
    test_rmtree(base);
    free(base);
}

static void test_kill_record(void **st) {
    (void)st;
    kill_scenario("record into a dataset", "", "record --levels 0-1 --states 3 --threads 1 --quiet --out @/new.cbd",
                  "record --levels 0-1 --states 3 --threads 1 --quiet --out @/new.cbd");
    kill_scenario("record into a folder", "", "record --levels 0-1 --states 2 --threads 1 --quiet --out @/rec",
                  "record --levels 0-1 --states 2 --threads 1 --quiet --force --out @/rec");
}

static void test_kill_capture(void **st) {
    (void)st;
    kill_scenario("capture", "$C record --levels 0-1 --states 3 --threads 1 --quiet --out $W/rec",
                  "capture @/rec -o @/cap.cbd --threads 1 --quiet", "capture @/rec -o @/cap.cbd --threads 1 --quiet");
    kill_scenario("capture --append",
                  "$C record --levels 0-3 --states 3 --threads 1 --quiet --out $W/rec && "
                  "$C capture $W/rec --levels 0-1 -o $W/cap.cbd --quiet",
                  "capture @/rec --levels 2-3 --append -o @/cap.cbd --threads 1 --quiet",
                  "capture @/rec --levels 2-3 --append -o @/cap.cbd --threads 1 --quiet");
}

static void test_record_new(void **st) {
    (void)st;
    scenario("record into a new dataset", "", "record --levels 0-1 --states 3 --threads 1 --quiet --out @/new.cbd");
}

static void test_record_extend(void **st) {
    (void)st;
    scenario("record --force into a dataset", "$C record --levels 0-1 --states 3 --threads 1 --quiet --out $W/base.cbd",
             "record --levels 2-3 --states 3 --threads 1 --quiet --force --out @/base.cbd");
}

static void test_capture_new(void **st) {
    (void)st;
    scenario("capture", "$C record --levels 0-1 --states 3 --threads 1 --quiet --out $W/rec",
             "capture @/rec -o @/cap.cbd --threads 1 --quiet");
}

static void test_capture_append(void **st) {
    (void)st;
    scenario("capture --append",
             "$C record --levels 0-3 --states 3 --threads 1 --quiet --out $W/rec && "
             "$C capture $W/rec --levels 0-1 -o $W/cap.cbd --quiet",
             "capture @/rec --levels 2-3 --append -o @/cap.cbd --threads 1 --quiet");
}

static void test_split(void **st) {
    (void)st;
    scenario("data split", "$C record --levels 0-3 --states 3 --threads 1 --quiet --out $W/all.cbd",
             "data split @/all.cbd --train 0-1 --test 2-3 -o @/sp --quiet");
}

static void test_export(void **st) {
    (void)st;
    scenario("data export (png, new folder)", "$C record --levels 0-1 --states 2 --threads 1 --quiet --out $W/s.cbd",
             "data export @/s.cbd -o @/ex --quiet");
    scenario("data export (npz, --force over png)",
             "$C record --levels 0-1 --states 2 --threads 1 --quiet --out $W/s.cbd && $C data export $W/s.cbd -o $W/ex --quiet",
             "data export @/s.cbd --format npz --force -o @/ex --quiet");
}

int main(int argc, char **argv) {
    (void)argc;
    const char *env = getenv("FAULTSHIM");
    if (env && *env) {
        snprintf(shim, sizeof shim, "%s", env);
    } else { /* beside this program: build/tests/faultshim.so */
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        snprintf(shim, sizeof shim, "%s/faultshim.so", n > 0 ? self : ".");
    }
    char abs[4096]; /* the setup commands run in the work folder */
    if (realpath(test_coinbc(), abs)) setenv("COINBC", abs, 1);
    if (access(shim, R_OK) != 0) {
        fprintf(stderr, "%s: %s is missing (make builds it)\n", argv[0], shim);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_new),    cmocka_unit_test(test_record_extend), cmocka_unit_test(test_capture_new),
        cmocka_unit_test(test_capture_append), cmocka_unit_test(test_split),        cmocka_unit_test(test_export),
        cmocka_unit_test(test_kill_record),    cmocka_unit_test(test_kill_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
