/* test_allocfail.c - allocation-failure injection for every parser, in the
 * style of libcbor's test allocator: the parse is run again and again, the
 * Nth allocation failing in run N, until a run sees no failure. Each failing
 * run must return a negative code with a message, and free everything it
 * allocated (counted here; `make SANITIZE=1 test` adds ASan's leak check).
 * The program is linked with -Wl,--wrap=malloc,calloc,realloc,free (Makefile),
 * so the library's own allocations, libpng's (capture/png.c routes them
 * through malloc) and zlib's (z_stream.zalloc = cb_zalloc) go through the
 * counters below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "capture/capture.h"
#include "capture/csv.h"
#include "capture/pngread.h"
#include "dataset/dataset.h"
#include "dataset/manifest.h"
#include "model/model.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

static int armed;        /* counting only inside the parse under test */
static long calls, fail_at, live, injected;

static int should_fail(void) {
    if (!armed) return 0;
    if (calls++ == fail_at) {
        injected = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_malloc(n);
    if (p && armed) live++;
    return p;
}

void *__wrap_calloc(size_t a, size_t b) {
    if (should_fail()) return NULL;
    void *p = __real_calloc(a, b);
    if (p && armed) live++;
    return p;
}

void *__wrap_realloc(void *q, size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_realloc(q, n);
    if (p && !q && armed) live++;
    return p;
}

void __wrap_free(void *p) {
    if (p && armed) live--;
    __real_free(p);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s: missing", path);
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = __real_malloc((size_t)k + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)k, f), (size_t)k);
    fclose(f);
    *n = (size_t)k;
    return b;
}

/* One parse; frees what it produced. Returns its code. */
typedef int (*parse_fn)(const uint8_t *buf, size_t n, cb_err *e);

/* Runs fn with allocation 0, 1, 2, ... failing until a run completes
 * without an injected failure; returns the number of allocations seen. */
static long inject_all(const char *what, parse_fn fn, const uint8_t *buf, size_t n) {
    for (fail_at = 0;; fail_at++) {
        cb_err e = {0};
        calls = live = injected = 0;
        armed = 1;
        int rc = fn(buf, n, &e);
        armed = 0;
        if (live != 0) fail_msg("%s: allocation %ld failed: %ld blocks not freed (rc %d: %s)", what, fail_at, live, rc, e.msg);
        if (!injected) {
            if (rc != 0) fail_msg("%s: fails without an injected failure: %s", what, e.msg);
            print_message("%s: %ld allocations, each failed in turn\n", what, calls);
            return calls;
        }
        if (rc >= 0) fail_msg("%s: allocation %ld failed but the parse returned %d", what, fail_at, rc);
        if (!e.msg[0]) fail_msg("%s: allocation %ld failed with no message", what, fail_at);
        if (rc != CB_ENOMEM) fail_msg("%s: allocation %ld failed, reported as %d: %s", what, fail_at, rc, e.msg);
    }
}

static int p_manifest(const uint8_t *b, size_t n, cb_err *e) {
    ds_manifest m;
    int rc = ds_manifest_parse(&m, (const char *)b, n, "manifest.txt", e);
    if (!rc) ds_manifest_free(&m);
    return rc;
}

static int p_shard(const uint8_t *b, size_t n, cb_err *e) {
    ds_level l;
    int rc = ds_shard_decode(b, n, "level.cbs", &l, e);
    if (!rc) ds_level_free(&l);
    return rc;
}

static int p_csv(const uint8_t *b, size_t n, cb_err *e) {
    capture_csv c;
    int rc = capture_csv_parse((const char *)b, n, "actions.csv", &c, e);
    if (!rc) capture_csv_free(&c);
    return rc;
}

static int p_png(const uint8_t *b, size_t n, cb_err *e) {
    uint8_t rgb[CB_FRAME_BYTES];
    int alpha;
    return capture_png_decode(b, n, "frame.png", rgb, &alpha, e);
}

static int p_npz(const uint8_t *b, size_t n, cb_err *e) {
    ds_level l;
    int rc = capture_npz_decode(b, n, "ep.npz", 42, -1, &l, e);
    if (!rc) ds_level_free(&l);
    return rc;
}

static int p_ckpt(const uint8_t *b, size_t n, cb_err *e) {
    model m;
    model_ckpt_state st;
    int rc = model_load_mem(&m, &st, b, n, "x.ckpt", e);
    if (!rc) model_free(&m);
    return rc;
}

static void run_corpus(const char *what, const char *file, parse_fn fn) {
    size_t n;
    uint8_t *b = slurp(file, &n);
    assert_true(inject_all(what, fn, b, n) > 0);
    __real_free(b);
}

static void test_manifest(void **st) { (void)st; run_corpus("manifest", "tests/fuzz/corpus/manifest/seed.txt", p_manifest); }
static void test_shard(void **st) {
    (void)st;
    run_corpus("shard", "tests/fuzz/corpus/shard/seed_filter0.cbs", p_shard);
    run_corpus("shard (filtered)", "tests/fuzz/corpus/shard/seed_filter1.cbs", p_shard);
}
static void test_csv(void **st) { (void)st; run_corpus("csv", "tests/fuzz/corpus/csv/seed_all.csv", p_csv); }
static void test_png(void **st) {
    (void)st;
    run_corpus("png", "tests/fuzz/corpus/png/seed_procgen.png", p_png);
    run_corpus("png (rgb)", "tests/fuzz/corpus/png/seed_rgb.png", p_png);
}
static void test_npz(void **st) {
    (void)st;
    run_corpus("npz (deflated)", "tests/fuzz/corpus/npz/seed_compressed.npz", p_npz);
    run_corpus("npz (chw)", "tests/fuzz/corpus/npz/seed_chw_t1.npz", p_npz);
    run_corpus("npz (fixture)", "tests/fixtures/npz/20240101T120000_0_5_42_10.00.npz", p_npz);
}

/* A dataset on disk: open (manifest), verify (streamed), load (decoded). */
static const char *ds_dir;
static int p_dataset(const uint8_t *b, size_t n, cb_err *e) {
    (void)b;
    (void)n;
    ds_reader *r;
    int rc = ds_open(&r, ds_dir, e);
    if (rc) return rc;
    rc = ds_verify_level(r, 0, e);
    if (!rc) {
        ds_level l;
        int32_t seed = ds_level_seed(r, 0);
        rc = ds_load(r, &seed, 1, &l, 1, e);
        if (!rc) ds_level_free(&l);
    }
    ds_close(r);
    return rc;
}

static void test_dataset_reader(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = slurp("tests/fuzz/corpus/shard/seed_filter0.cbs", &n);
    ds_level l;
    cb_err e = {0};
    assert_int_equal(ds_shard_decode(b, n, "seed", &l, &e), 0);
    char dir[] = "/tmp/coinbc_allocfail_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/d.cbd", dir);
    ds_writer *w;
    assert_int_equal(ds_writer_open(&w, path, 0, "test", "test", &e), 0);
    assert_int_equal(ds_writer_add(w, &l, &e), 0);
    assert_int_equal(ds_writer_commit(w, &e), 0);
    ds_level_free(&l);
    ds_dir = path;
    assert_true(inject_all("dataset open+verify+load", p_dataset, NULL, 0) > 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    __real_free(b);
}

/* The checkpoint corpus carries a CRC the fuzz target fixes up: do the same. */
static void test_checkpoint(void **st) {
    (void)st;
    const char *files[2] = {"tests/fuzz/corpus/checkpoint/nature-tiny.ckpt", "tests/fuzz/corpus/checkpoint/impala-tiny.ckpt"};
    for (int k = 0; k < 2; k++) {
        size_t n;
        uint8_t *b = slurp(files[k], &n);
        uint32_t crc = (uint32_t)crc32(0, b, (uInt)(n - 4));
        memcpy(b + n - 4, &crc, 4);
        assert_true(inject_all(files[k], p_ckpt, b, n) > 0);
        __real_free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest), cmocka_unit_test(test_shard), cmocka_unit_test(test_csv),
        cmocka_unit_test(test_png),      cmocka_unit_test(test_npz),   cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_dataset_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
