/* run.h - test helpers to run the coinbc program and capture its output. */
#ifndef COINBC_TEST_RUN_H
#define COINBC_TEST_RUN_H
#include <stddef.h>
/* Path of the coinbc binary under test ($COINBC or build/coinbc). */
const char *test_coinbc(void);
/* Runs `coinbc ARGS` through the shell; stdout and stderr go to the given
 * buffers (truncated, NUL-terminated; either may be NULL). Returns the exit
 * status, or -1 if the program could not be run. */
int test_run(char *out, size_t outn, char *err, size_t errn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A fresh temporary folder (mkdtemp), removed by test_rmtree. */
char *test_tmpdir(void);
/* Starts `coinbc ARGS` in the background (stderr to errfile, or discarded);
 * the returned pid is coinbc's own. test_wait: its exit status, or 128 +
 * signal when it was killed, -1 on error. */
#include <sys/types.h>
pid_t test_spawn(const char *errfile, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int test_wait(pid_t pid);
void test_rmtree(const char *dir);
/* dst: a copy of the JSON file src with one edit, a Python statement on its
 * object `s` (e.g. "s['seeds'] = [1]"); the script is written into tmpdir.
 * Returns 0, or -1 when the script could not be written or python3 failed. */
/* s with the first `from` after the first `after` ("" for the start)
 * replaced by `to`, malloc'd; NULL when either is not in s (or out of memory). */
char *test_replace_after(const char *s, const char *after, const char *from, const char *to);
int test_json_variant(const char *tmpdir, const char *src, const char *dst, const char *edit);
/* cmocka keeps only the first 1024 bytes of a fail_msg message, and a child's
 * error is often further on than that: the whole message goes to stderr
 * first, then cmocka fails the test as usual. */
#include <stdio.h>
#ifdef fail_msg
#undef fail_msg
#define fail_msg(...)                                                                                                  \
    do {                                                                                                               \
        fprintf(stderr, "[ MESSAGE  ] ");                                                                              \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fputc('\n', stderr);                                                                                           \
        fail();                                                                                                        \
    } while (0)
#endif
#endif
