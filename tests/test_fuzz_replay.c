/* test_fuzz_replay.c - every fuzz target's corpus (tests/fuzz/corpus/NAME: checkpoint, csv, manifest, npz, png, shard, run, tune,
 * compare, actions_csv, recmeta, retrained)
 * replayed through the target's own LLVMFuzzerTestOneInput, so CI runs the
 * fuzz seeds (and crashes once found and added there) without libFuzzer.
 * Each file is also fed truncated at every length up to 4 KiB and with single
 * bytes flipped, the cheapest mutations a fuzzer would try first. Under
 * `make SANITIZE=1 test` ASan and UBSan check every one of these runs. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "tests/fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "tests/fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_manifest_one
#include "tests/fuzz/fuzz_manifest.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npz_one
#include "tests/fuzz/fuzz_npz.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_png_one
#include "tests/fuzz/fuzz_png.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_shard_one
#include "tests/fuzz/fuzz_shard.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_run_one
#include "tests/fuzz/fuzz_run.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tune_one
#include "tests/fuzz/fuzz_tune.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_compare_one
#include "tests/fuzz/fuzz_compare.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_actions_csv_one
#include "tests/fuzz/fuzz_actions_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_recmeta_one
#include "tests/fuzz/fuzz_recmeta.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_retrained_one
#include "tests/fuzz/fuzz_retrained.c"
#undef LLVMFuzzerTestOneInput

typedef int (*target_fn)(const uint8_t *, size_t);

/* Replays every file of tests/fuzz/corpus/NAME; returns the count. */
static int replay(const char *name, target_fn fn) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    DIR *d = opendir(dir);
    if (!d) fail_msg("%s: no corpus (run from the repository root)", dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        fn(buf, (size_t)n);
        /* truncations: each in its own exact-size buffer, so ASan sees overreads */
        size_t maxcut = n < 4096 ? (size_t)n : 4096;
        for (size_t k = 0; k < maxcut; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            assert_non_null(cut);
            memcpy(cut, buf, k);
            fn(cut, k);
            free(cut);
        }
        /* flipped bytes at a stride */
        size_t stride = n > 512 ? (size_t)n / 512 : 1;
        for (size_t k = 0; k < (size_t)n; k += stride) {
            uint8_t old = buf[k];
            buf[k] = (uint8_t)(old ^ 0xFF);
            fn(buf, (size_t)n);
            buf[k] = (uint8_t)(old + 1);
            fn(buf, (size_t)n);
            buf[k] = old;
        }
        free(buf);
        files++;
    }
    closedir(d);
    print_message("%s: %d corpus files replayed\n", name, files);
    return files;
}

static void test_checkpoint(void **st) { (void)st; assert_true(replay("checkpoint", fuzz_checkpoint_one) > 0); }
static void test_csv(void **st) { (void)st; assert_true(replay("csv", fuzz_csv_one) > 0); }
static void test_manifest(void **st) { (void)st; assert_true(replay("manifest", fuzz_manifest_one) > 0); }
/* the manifest corpus's integer fields: the int_* seeds (wrapped, out of
 * range or not canonical, with a right end CRC) are refused naming their
 * line, the others (limits.txt: every field at its limit) are accepted */
static void test_manifest_corpus(void **st) {
    (void)st;
    DIR *d = opendir("tests/fuzz/corpus/manifest");
    assert_non_null(d);
    struct dirent *de;
    int refused = 0, accepted = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "tests/fuzz/corpus/manifest/%s", de->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        char text[8192];
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        ds_manifest m;
        cb_err e = {0};
        int rc = ds_manifest_parse(&m, text, n, p, &e);
        if (!strncmp(de->d_name, "int_", 4)) {
            if (rc != CB_EFORMAT || !strstr(e.msg, "cannot read")) fail_msg("%s: %d, '%s'", p, rc, e.msg);
            refused++;
        } else {
            if (rc) fail_msg("%s: %s", p, e.msg);
            ds_manifest_free(&m);
            accepted++;
        }
    }
    closedir(d);
    assert_true(refused >= 9 && accepted >= 3);
}
static void test_npz(void **st) { (void)st; assert_true(replay("npz", fuzz_npz_one) > 0); }
static void test_png(void **st) { (void)st; assert_true(replay("png", fuzz_png_one) > 0); }
static void test_shard(void **st) { (void)st; assert_true(replay("shard", fuzz_shard_one) > 0); }
static void test_run(void **st) { (void)st; assert_true(replay("run", fuzz_run_one) > 0); }
static void test_tune(void **st) { (void)st; assert_true(replay("tune", fuzz_tune_one) > 0); }
static void test_compare(void **st) { (void)st; assert_true(replay("compare", fuzz_compare_one) > 0); }
static void test_actions_csv(void **st) { (void)st; assert_true(replay("actions_csv", fuzz_actions_csv_one) > 0); }
static void test_recmeta(void **st) { (void)st; assert_true(replay("recmeta", fuzz_recmeta_one) > 0); }
static void test_retrained(void **st) { (void)st; assert_true(replay("retrained", fuzz_retrained_one) > 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint), cmocka_unit_test(test_csv), cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_manifest_corpus),
        cmocka_unit_test(test_npz),        cmocka_unit_test(test_png), cmocka_unit_test(test_shard),
        cmocka_unit_test(test_run),        cmocka_unit_test(test_tune),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_actions_csv),
        cmocka_unit_test(test_recmeta),
        cmocka_unit_test(test_retrained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
