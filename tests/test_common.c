/* test_common.c - common/: errors, rng, atomic files, parsing, parallel-for. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"

static void test_err(void **st) {
    (void)st;
    cb_err e = {0};
    int rc = cb_fail(&e, CB_EFORMAT, "%s: level %d: bad", "x.png", 7);
    assert_int_equal(rc, CB_EFORMAT);
    assert_string_equal(e.msg, "x.png: level 7: bad");
    cb_err_prefix(&e, "capture: ");
    assert_string_equal(e.msg, "capture: x.png: level 7: bad");
    assert_int_equal(cb_fail(NULL, CB_EIO, "x"), CB_EIO);
}

static void test_rng(void **st) {
    (void)st;
    cb_rng a, b;
    cb_rng_seed(&a, 42);
    cb_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(cb_rng_u64(&a) == cb_rng_u64(&b));
    /* splitmix64 from state 0: the value the refdata README quotes. */
    uint64_t s = 0;
    assert_true(cb_splitmix64(&s) == 0xE220A8397B1DCDAFull);
    /* below() stays in range and hits every value. */
    int hist[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint32_t v = cb_rng_below(&a, 7);
        assert_true(v < 7);
        hist[v]++;
    }
    for (int i = 0; i < 7; i++) assert_true(hist[i] > 800 && hist[i] < 1200);
    double m = 0;
    for (int i = 0; i < 10000; i++) {
        double u = cb_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        m += u;
    }
    assert_true(m / 10000 > 0.48 && m / 10000 < 0.52);
    cb_rng c, d;
    cb_rng_seed2(&c, 1, 0);
    cb_rng_seed2(&d, 1, 1);
    assert_true(cb_rng_u64(&c) != cb_rng_u64(&d));
}

static void test_atomic(void **st) {
    (void)st;
    char dir[] = "/tmp/coinbc_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    cb_err e = {0};
    assert_int_equal(cb_write_file_atomic(path, "hello", 5, &e), 0);
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    free(buf);
    /* An aborted write leaves the old file and no temp file. */
    cb_afile f;
    assert_int_equal(cb_afile_open(&f, path, &e), 0);
    fprintf(f.fp, "partial");
    cb_afile_abort(&f);
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    assert_memory_equal(buf, "hello", 5);
    free(buf);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    /* A target that is not a regular file is refused before anything is
     * written: a folder, and a pipe (as a device would be: the rename would
     * put a file in its place, as it once did to -o /dev/full) */
    assert_true(cb_afile_open(&f, dir, &e) < 0);
    assert_non_null(strstr(e.msg, "a folder"));
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_true(cb_write_file_atomic(fifo, "x", 1, &e) < 0);
    assert_non_null(strstr(e.msg, "not a regular file"));
    struct stat fs;
    assert_int_equal(stat(fifo, &fs), 0);
    assert_true(S_ISFIFO(fs.st_mode));
    unlink(fifo);
    /* A full disk: /dev/full fails on flush; the target is untouched. */
    if (access("/dev/full", W_OK) == 0) {
        cb_afile g;
        assert_int_equal(cb_afile_open(&g, path, &e), 0);
        FILE *full = fopen("/dev/full", "wb");
        assert_non_null(full);
        fclose(g.fp);
        unlink(g.tmp);
        g.fp = full;
        char big[8192];
        memset(big, 'x', sizeof big);
        cb_afile_write(&g, big, sizeof big, &e);
        assert_true(cb_afile_commit(&g, &e) < 0);
        assert_non_null(strstr(e.msg, "f.txt"));
        assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
        assert_memory_equal(buf, "hello", 5);
        free(buf);
    }
    /* Unwritable folder. */
    assert_true(cb_write_file_atomic("/nonexistent_dir/x", "a", 1, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent_dir/x"));
    assert_int_equal(cb_read_file("/nonexistent_dir/x", &buf, &n, &e), CB_ENOTFOUND);
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(cb_mkdirs(path, &e), 0);
    assert_int_equal(cb_mkdirs(path, &e), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_parse(void **st) {
    (void)st;
    int32_t lo, hi;
    assert_int_equal(cb_parse_range("3-7", &lo, &hi), 0);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 7);
    assert_int_equal(cb_parse_range("5", &lo, &hi), 0);
    assert_int_equal(lo, 5);
    assert_int_equal(hi, 5);
    assert_int_equal(cb_parse_range("7-3", &lo, &hi), CB_ERANGE);
    assert_true(cb_parse_range("", &lo, &hi) < 0);
    assert_true(cb_parse_range("a-b", &lo, &hi) < 0);
    assert_true(cb_parse_range("1-", &lo, &hi) < 0);
    assert_true(cb_parse_range("-1-3", &lo, &hi) < 0);
    assert_true(cb_parse_range("1-99999999999", &lo, &hi) < 0);
    int64_t v;
    assert_int_equal(cb_parse_i64("-12", &v), 0);
    assert_true(v == -12);
    assert_true(cb_parse_i64("12x", &v) < 0);
    double d;
    assert_int_equal(cb_parse_f64("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_true(cb_parse_f64("nan", &d) < 0);
    int64_t x = 0;
#define DEC(str, lo, hi) cb_parse_dec_exact(str, strlen(str), lo, hi, &x)
    assert_int_equal(DEC("0", 0, 10), 0);
    assert_int_equal(x, 0);
    assert_int_equal(DEC("2147483647", 0, INT32_MAX), 0);
    assert_int_equal(x, INT32_MAX);
    assert_int_equal(DEC("-5", -10, 10), 0);
    assert_int_equal(x, -5);
    assert_int_equal(DEC("4294967296", 0, INT32_MAX), CB_ERANGE); /* wraps to 0 in 32 bits */
    assert_int_equal(DEC("4294967300", 0, UINT32_MAX), CB_ERANGE);
    assert_int_equal(DEC("99999999999999999999999", 0, INT64_MAX), CB_ERANGE);
    assert_int_equal(DEC("9223372036854775807", 0, INT64_MAX), 0);
    assert_int_equal(DEC("-9223372036854775808", INT64_MIN, 0), 0);
    assert_true(x == INT64_MIN);
    assert_int_equal(DEC("9223372036854775808", 0, INT64_MAX), CB_ERANGE);
    assert_int_equal(DEC("+5", 0, 10), CB_EARG);
    assert_int_equal(DEC("05", 0, 10), CB_EARG);
    assert_int_equal(DEC("-0", -10, 10), CB_EARG);
    assert_int_equal(DEC("-1", 0, 10), CB_EARG);
    assert_int_equal(DEC(" 5", 0, 10), CB_EARG);
    assert_int_equal(DEC("5 ", 0, 10), CB_EARG);
    assert_int_equal(DEC("", 0, 10), CB_EARG);
    assert_int_equal(DEC("-", -10, 10), CB_EARG);
    assert_int_equal(DEC("11", 0, 10), CB_ERANGE);
    assert_int_equal(cb_parse_dec_exact("7\0junk", 6, 0, 14, &x), CB_EARG); /* a NUL inside the span */
    assert_int_equal(cb_parse_dec_exact("123", 2, 0, 100, &x), 0);         /* only the span counts */
    assert_int_equal(x, 12);
#undef DEC
    uint32_t h = 0;
    assert_int_equal(cb_parse_hex32_exact("c648d158", 8, &h), 0);
    assert_true(h == 0xc648d158u);
    assert_int_equal(cb_parse_hex32_exact("C648D158", 8, &h), CB_EARG);
    assert_int_equal(cb_parse_hex32_exact("c648d15", 7, &h), CB_EARG);
    assert_int_equal(cb_parse_hex32_exact("c648d15g", 8, &h), CB_EARG);
}

static int square_task(void *ctx, int64_t i) {
    int64_t *out = ctx;
    out[i] = i * i;
    return i == 777 ? CB_EARG : 0;
}

/* cb_argmax: the largest value, the lowest index among equals, NaNs never
 * chosen (the tie rule every prediction in coinbc follows). */
static void test_read_regular(void **st) {
    (void)st;
    char dir[] = "/tmp/cb_readreg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[256], link[256], file[256];
    snprintf(fifo, sizeof fifo, "%s/frame_000001.png", dir);
    snprintf(link, sizeof link, "%s/actions.csv", dir);
    snprintf(file, sizeof file, "%s/ok.txt", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink("/dev/zero", link), 0);
    assert_int_equal(cb_write_file_atomic(file, "hello", 5, NULL), 0);
    uint8_t *b = NULL;
    size_t n = 0;
    cb_err e = {0};
    /* A FIFO with no writer: refused at once, not waited on. */
    assert_int_equal(cb_read_file(fifo, &b, &n, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, fifo));
    assert_non_null(strstr(e.msg, "FIFO"));
    assert_null(b);
    /* A symlink to /dev/zero: refused, not read until memory runs out. */
    assert_int_equal(cb_read_file(link, &b, &n, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "character device"));
    assert_int_equal(cb_read_file(dir, &b, &n, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "directory"));
    /* The cap: at the size it reads, one byte under it is refused. */
    assert_int_equal(cb_read_file_max(file, 4, &b, &n, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, file));
    assert_null(b);
    assert_int_equal(cb_read_file_max(file, 5, &b, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(b, "hello", 6); /* with its NUL */
    free(b);
    int64_t size = -1;
    int fd = cb_open_regular(file, &size, &e);
    assert_true(fd >= 0);
    assert_int_equal(size, 5);
    close(fd);
    assert_int_equal(cb_open_regular(fifo, &size, &e), CB_EFORMAT);
    unlink(fifo);
    unlink(link);
    unlink(file);
    rmdir(dir);
}

static void test_argmax(void **st) {
    (void)st;
    const float a[] = {0.1f, 0.3f, 0.3f, 0.2f};
    assert_int_equal(cb_argmax(a, 4), 1);
    const float uniform[15] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(cb_argmax(uniform, 15), 0);
    const float neg[] = {-5, -2, -3, -2};
    assert_int_equal(cb_argmax(neg, 4), 1);
    const float last[] = {0, 0, 0, 1e-30f};
    assert_int_equal(cb_argmax(last, 4), 3);
    const float nan0[] = {NAN, 1, 2, 2};
    assert_int_equal(cb_argmax(nan0, 4), 2);
    const float nan1[] = {1, NAN, 0.5f};
    assert_int_equal(cb_argmax(nan1, 3), 0);
    const float allnan[] = {NAN, NAN};
    assert_int_equal(cb_argmax(allnan, 2), 0);
    const float inf[] = {1, INFINITY, -INFINITY, INFINITY};
    assert_int_equal(cb_argmax(inf, 4), 1);
    assert_int_equal(cb_argmax(a, 1), 0);
}

/* a task that runs a parallel-for of its own (the pool is busy then: it
 * starts its own threads) and records which worker ran it */
typedef struct {
    int64_t inner[8][100];
    int worker[8];
} nested_ctx;

static int nested_task(void *vctx, int64_t i, int w) {
    nested_ctx *c = vctx;
    c->worker[i] = w;
    return cb_parallel_for(100, 3, square_task, c->inner[i]);
}

static void *parallel_thread(void *arg) {
    int64_t *out = arg;
    for (int k = 0; k < 200; k++)
        if (cb_parallel_for(500, 2, square_task, out)) return (void *)1;
    return NULL;
}

/* the pool: many calls in a row, thread counts up to more than the cores,
 * a parallel-for inside a task, two threads calling at once, and a forked
 * child (which has none of the pool's threads) all finish with the right
 * results; worker ids stay below the thread count */
static void test_parallel(void **st) {
    (void)st;
    int64_t out[1000];
    memset(out, 0, sizeof out);
    assert_int_equal(cb_parallel_for(500, 2, square_task, out), 0);
    for (int i = 0; i < 500; i++) assert_true(out[i] == (int64_t)i * i);
    assert_int_equal(cb_parallel_for(1000, 2, square_task, out), CB_EARG);
    assert_int_equal(cb_parallel_for(1000, 1, square_task, out), CB_EARG);
    for (int k = 0; k < 2000; k++) {
        out[499] = -1;
        assert_int_equal(cb_parallel_for(500, 1 + k % 5, square_task, out), 0);
        assert_true(out[499] == 499 * 499);
    }
    nested_ctx c;
    memset(&c, 0, sizeof c);
    assert_int_equal(cb_parallel_for_w(8, 3, nested_task, &c), 0);
    for (int i = 0; i < 8; i++) {
        assert_true(c.worker[i] >= 0 && c.worker[i] < 3);
        for (int j = 0; j < 100; j++) assert_true(c.inner[i][j] == (int64_t)j * j);
    }
    static int64_t other[500];
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, parallel_thread, other), 0);
    void *res = (void *)1;
    for (int k = 0; k < 200; k++) assert_int_equal(cb_parallel_for(500, 2, square_task, out), 0);
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    for (int i = 0; i < 500; i++) assert_true(other[i] == (int64_t)i * i);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int64_t mine[500] = {0};
        int ok = cb_parallel_for(500, 2, square_task, mine) == 0 && mine[499] == 499 * 499;
        _exit(ok ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

/* a second writer fails at once naming the holder; the holder's death frees
 * the lock; a released lock can be taken again */
static void test_lock(void **st) {
    (void)st;
    char dir[] = "/tmp/coinbc_lock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[600];
    snprintf(out, sizeof out, "%s/run", dir);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        cb_lock l;
        cb_err e = {0};
        char ok = cb_lock_acquire(&l, out, "coinbc train data.cbd -o run", &e) == 0 ? 'y' : 'n';
        if (write(pfd[1], &ok, 1) != 1) _exit(1);
        pause(); /* held until killed */
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(pfd[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    cb_lock l;
    cb_err e = {0};
    assert_int_equal(cb_lock_acquire(&l, out, "second", &e), CB_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "pid %ld: coinbc train data.cbd -o run", (long)pid);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, out));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(cb_lock_acquire(&l, out, "third", &e), 0);
    cb_lock l2;
    assert_int_equal(cb_lock_acquire(&l2, out, "fourth", &e), CB_EBUSY);
    cb_lock_release(&l, 0);
    assert_int_equal(cb_lock_acquire(&l2, out, "fourth", &e), 0);
    /* a failed command's release removes the lock file, and the folder it made */
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    cb_lock l3;
    assert_int_equal(cb_lock_acquire(&l3, fresh, "fifth", &e), 0);
    cb_lock_release(&l3, 1);
    struct stat sb;
    assert_int_not_equal(stat(fresh, &sb), 0);
    cb_lock_release(&l2, 1); /* out existed before l2: it stays */
    assert_int_equal(stat(out, &sb), 0);
    rmdir(out);
    close(pfd[0]);
    close(pfd[1]);
    rmdir(dir);
}

/* Two commands that make outputs under one new folder at once (compare's
 * two final runs make WORK/runs/M-1): while one creates the folder, the
 * other's check of its own output below it saw the folder missing to
 * realpath and present to lstat, and refused it as a dangling link. A
 * thread makes folders 0, 1, 2, ... while this one checks OUT/i/run as fast
 * as it can until i is there: every check must pass. A real dangling link
 * is still refused. */
typedef struct {
    const char *dir;
    int n;
} mkdir_job;

static void *make_folders(void *p) {
    const mkdir_job *j = p;
    for (int i = 0; i < j->n; i++) {
        char d[4200];
        snprintf(d, sizeof d, "%s/%d", j->dir, i);
        for (volatile int spin = 0; spin < 20000 * (i % 7); spin++) {
        }
        if (mkdir(d, 0755) != 0) return (void *)1;
        usleep(200);
    }
    return NULL;
}

static void test_output_check_races_mkdir(void **st) {
    (void)st;
    char dir[] = "/tmp/coinbc_paths_XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { N = 300 };
    mkdir_job j = {dir, N};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, make_folders, &j), 0);
    int refused = 0;
    char msg[4400] = "";
    for (int i = 0; i < N; i++) {
        char run[4200], d[4200];
        snprintf(run, sizeof run, "%s/%d/run", dir, i);
        snprintf(d, sizeof d, "%s/%d", dir, i);
        struct stat sb;
        for (int seen = 0; !seen;) {
            seen = stat(d, &sb) == 0; /* one more check after it appears */
            cb_err e = {0};
            if (cb_path_check_output("-o", run, CB_OUT_RUN, NULL, 0, &e) != 0) {
                refused++;
                snprintf(msg, sizeof msg, "%s", e.msg);
            }
        }
    }
    void *r;
    pthread_join(th, &r);
    assert_null(r);
    if (refused) fail_msg("%d checks refused a folder being made, the last: %s", refused, msg);
    char link[4200], run[4300];
    snprintf(link, sizeof link, "%s/dangling", dir);
    assert_int_equal(symlink("/nonexistent/coinbc", link), 0);
    snprintf(run, sizeof run, "%s/run", link);
    cb_err e = {0};
    assert_int_equal(cb_path_check_output("-o", run, CB_OUT_RUN, NULL, 0, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "is there but cannot be resolved"));
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err),      cmocka_unit_test(test_lock),     cmocka_unit_test(test_rng),
        cmocka_unit_test(test_atomic),   cmocka_unit_test(test_parse),    cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_argmax), cmocka_unit_test(test_read_regular),
        cmocka_unit_test(test_output_check_races_mkdir),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
