/* test_proc.c - common/proc.c: captured output and exit codes, stdin from a
 * string, a deadline that stops the child and what it started, the stop
 * flag, the output cap, and a program that cannot be started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"

static void test_capture_and_status(void **st) {
    (void)st;
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    cb_proc o = {.argv = argv, .capture_out = 1, .capture_err = 1};
    cb_proc_result r;
    cb_err e = {0};
    assert_int_equal(cb_proc_run(&o, &r, &e), 0);
    assert_int_equal(cb_proc_exit_code(r.status), 3);
    assert_string_equal(r.out, "out\n");
    assert_string_equal(r.err, "err\n");
    assert_false(r.timed_out);
    cb_proc_result_free(&r);
}

static void test_stdin_text(void **st) {
    (void)st;
    /* more than a pipe's buffer, so the writes and reads must interleave */
    size_t n = 300000;
    char *in = malloc(n + 1);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++) in[i] = (char)('a' + i % 26);
    in[n] = 0;
    char *argv[] = {"/bin/cat", NULL};
    cb_proc o = {.argv = argv, .in_text = in, .capture_out = 1};
    cb_proc_result r;
    assert_int_equal(cb_proc_run(&o, &r, NULL), 0);
    assert_int_equal(cb_proc_exit_code(r.status), 0);
    assert_int_equal(r.out_n, n);
    assert_memory_equal(r.out, in, n);
    assert_null(r.err);
    cb_proc_result_free(&r);
    free(in);
}

static void test_deadline_stops_the_group(void **st) {
    (void)st;
    char pidfile[] = "/tmp/cb_proc_XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char script[256];
    /* a grandchild that would outlive its parent if only the parent were stopped */
    snprintf(script, sizeof script, "sleep 100 & echo $! > %s; wait", pidfile);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    cb_proc o = {.argv = argv, .deadline = cb_now() + 0.5, .grace = 2};
    cb_proc_result r;
    double t0 = cb_now();
    assert_int_equal(cb_proc_run(&o, &r, NULL), 0);
    assert_true(cb_now() - t0 < 10);
    assert_true(r.timed_out);
    assert_int_equal(cb_proc_exit_code(r.status), 128 + SIGTERM);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int gpid = 0;
    assert_int_equal(fscanf(f, "%d", &gpid), 1);
    fclose(f);
    unlink(pidfile);
    /* the grandchild got the SIGTERM too (give it a moment to be reaped by init) */
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", gpid);
        FILE *s = fopen(path, "r");
        if (!s) gone = 1;
        else {
            char buf[512] = {0};
            size_t k = fread(buf, 1, sizeof buf - 1, s);
            fclose(s);
            char *p = strrchr(buf, ')');
            if (k && p && (p[2] == 'Z' || p[2] == 'X')) gone = 1;
            else usleep(100000);
        }
    }
    assert_true(gone);
    cb_proc_result_free(&r);
}

static void test_stop_flag(void **st) {
    (void)st;
    char *argv[] = {"/bin/sleep", "100", NULL};
    volatile int stop = 1;
    cb_proc o = {.argv = argv, .stop = &stop, .grace = 2};
    cb_proc_result r;
    assert_int_equal(cb_proc_run(&o, &r, NULL), 0);
    assert_true(r.stopped);
    assert_false(r.timed_out);
    assert_int_equal(cb_proc_exit_code(r.status), 128 + SIGTERM);
    cb_proc_result_free(&r);
}

static void test_output_cap_and_missing_program(void **st) {
    (void)st;
    char *argv[] = {"/bin/sh", "-c", "yes", NULL};
    cb_proc o = {.argv = argv, .capture_out = 1, .max_out = 100000};
    cb_proc_result r;
    cb_err e = {0};
    assert_int_equal(cb_proc_run(&o, &r, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "100000"));
    char *bad[] = {"/nonexistent/coinbc", NULL};
    cb_proc o2 = {.argv = bad, .capture_err = 1};
    assert_int_equal(cb_proc_run(&o2, &r, &e), 0);
    assert_int_equal(cb_proc_exit_code(r.status), 127);
    assert_non_null(strstr(r.err, "/nonexistent/coinbc"));
    cb_proc_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_and_status),
        cmocka_unit_test(test_stdin_text),
        cmocka_unit_test(test_deadline_stops_the_group),
        cmocka_unit_test(test_stop_flag),
        cmocka_unit_test(test_output_cap_and_missing_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
