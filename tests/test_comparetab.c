/* test_comparetab.c - eval/compare.c: Holm's adjustment against hand-computed
 * values, and the committed hard-mode comparison's table
 * (docs/results/compare/hard/table.md, written by the earlier SciPy script)
 * produced again, byte for byte, from the committed per-run records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval/eval.h"
#include "tests/support/refdata.h"

static void test_holm_by_hand(void **st) {
    (void)st;
    /* sorted 0.01, 0.03, 0.04, 0.5 (m = 4): 4*0.01 = 0.04; 3*0.03 = 0.09;
     * max(0.09, 2*0.04 = 0.08) = 0.09; max(0.09, 0.5) = 0.5 */
    const double p[4] = {0.01, 0.04, 0.03, 0.5};
    double a[4];
    eval_holm(a, p, 4);
    assert_true(fabs(a[0] - 0.04) < 1e-15 && fabs(a[1] - 0.09) < 1e-15 && fabs(a[2] - 0.09) < 1e-15 &&
                fabs(a[3] - 0.5) < 1e-15);
    /* a NaN is no test: m = 2 */
    const double q[3] = {NAN, 0.2, 0.9};
    eval_holm(a, q, 3);
    assert_true(isnan(a[0]));
    assert_true(fabs(a[1] - 0.4) < 1e-15 && fabs(a[2] - 0.9) < 1e-15);
    /* capped at 1 */
    const double r[2] = {0.7, 0.6};
    eval_holm(a, r, 2);
    assert_true(a[0] == 1 && a[1] == 1);
    eval_holm(a, r, 0); /* nothing to adjust */
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    *n = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (b) b[*n] = 0;
    return b;
}

static void test_committed_table_again(void **st) {
    (void)st;
    const char *root = test_repo_root();
    assert_non_null(root);
    char state[4096], want_path[4200];
    snprintf(state, sizeof state, "%s/docs/results/compare/hard", root);
    snprintf(want_path, sizeof want_path, "%s/table.md", state);
    static const char *const methods[] = {"mean", "and", "sand", "geomean", "tand"};
    const int seeds[5] = {1, 2, 3, 4, 5}, probe[1] = {1};
    static eval_compare_method ms[5];
    cb_err e = {0};
    for (int i = 0; i < 5; i++) {
        int rc = eval_compare_load(&ms[i], state, methods[i], seeds, 5, probe, 1, &e);
        if (rc) fail_msg("%s", e.msg);
        assert_int_equal(ms[i].n, 5);
        assert_int_equal(ms[i].nroll, 5);
        assert_int_equal(ms[i].nprobe, 1);
    }
    char *got = NULL;
    size_t gn = 0;
    FILE *f = open_memstream(&got, &gn);
    assert_non_null(f);
    assert_int_equal(eval_compare_table(f, ms, 5, "mean", 0, &e), 0);
    fclose(f);
    size_t wn = 0;
    char *want = slurp(want_path, &wn);
    assert_non_null(want);
    if (gn != wn || memcmp(got, want, wn)) fail_msg("the table differs from %s:\n%s", want_path, got);
    free(got);
    free(want);
}

static void test_missing_runs_and_base(void **st) {
    (void)st;
    /* a method without a single finished run shows a row of blanks, and a
     * table whose base has no runs tests nothing */
    static eval_compare_method ms[2];
    memset(ms, 0, sizeof ms);
    snprintf(ms[0].name, sizeof ms[0].name, "mean");
    snprintf(ms[1].name, sizeof ms[1].name, "and");
    ms[1].n = 2;
    ms[1].train[0] = 0.9, ms[1].train[1] = 0.8;
    ms[1].test[0] = 0.7, ms[1].test[1] = 0.6;
    ms[1].gap[0] = 0.2, ms[1].gap[1] = 0.2;
    char *got = NULL;
    size_t gn = 0;
    FILE *f = open_memstream(&got, &gn);
    cb_err e = {0};
    assert_int_equal(eval_compare_table(f, ms, 2, "mean", 0, &e), 0);
    fclose(f);
    assert_non_null(strstr(got, "| mean | 0 | | | | | | | | |\n"));
    /* and has no rollouts: a dash; the base has no runs: no t or p */
    assert_non_null(strstr(got, "| and | 2 | 85.0 ± 63.5 | 65.0 ± 63.5 | 20.0 ± 0.0 | - | - | - | - | - |\n"));
    assert_null(strstr(got, "Memorization probe"));
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holm_by_hand),
        cmocka_unit_test(test_committed_table_again),
        cmocka_unit_test(test_missing_runs_and_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
