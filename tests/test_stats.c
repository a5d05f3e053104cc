/* test_stats.c - Welch's t-test, Student's t distribution and the regularized
 * incomplete beta function of eval/stats.c against SciPy. The reference
 * values were computed once with /usr/bin/python3 (SciPy 1.10.1, Debian 12):
 * scipy.stats.ttest_ind(a, b, equal_var=False) for t and p (df by the
 * Welch-Satterthwaite formula in numpy), scipy.stats.t.ppf / t.cdf and
 * scipy.special.betainc, and pasted here as constants. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "eval/eval.h"

/* |got - want| <= rel * |want| (+ a tiny absolute floor for zeros) */
static void close_to(double got, double want, double rel, const char *what) {
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-300))
        fail_msg("%s: got %.17g, SciPy says %.17g (relative error %.3g)", what, got, want, fabs(got - want) / fabs(want));
}

typedef struct {
    const char *name;
    double a[8];
    int na;
    double b[8];
    int nb;
    double t, df, p; /* SciPy */
} welch_case;

static void test_welch_against_scipy(void **st) {
    (void)st;
    static const welch_case cases[] = {
        /* 2 per group */
        {"n2", {0.81, 0.84}, 2, {0.86, 0.87}, 2, -2.529822128134712, 1.219512195121953, 0.2019084580708206},
        /* 3 per group, variances 1e-6 against 4.4e-4 */
        {"n3", {0.80, 0.83, 0.79}, 3, {0.86, 0.861, 0.862}, 3, -4.515599294839848, 2.0092307200730883,
         0.045316383071801324},
        /* 5 seeds each, the compare table's case */
        {"n5", {0.825, 0.819, 0.831, 0.812, 0.828}, 5, {0.865, 0.861, 0.870, 0.858, 0.866}, 5, -10.314669411245907,
         6.624386360620956, 2.537747361535155e-05},
        /* unequal sizes and very unequal variances: df near 1 */
        {"n2v7", {0.2, 0.9}, 2, {0.50, 0.51, 0.52, 0.50, 0.49, 0.51, 0.50}, 7, 0.13060499228843067,
         1.0002221399472349, 0.9173186585455243},
        /* far apart: a tiny p */
        {"far", {1.0, 1.1, 0.9, 1.05, 0.95}, 5, {10.0, 10.2, 9.8, 10.1, 9.9}, 5, -113.84199576606197,
         5.882352941176484, 4.632073305969273e-11},
        /* equal means */
        {"same", {1.0, 2.0, 3.0}, 3, {3.0, 1.0, 2.0}, 3, 0.0, 4.0, 1.0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const welch_case *c = &cases[k];
        eval_welch_result r;
        cb_err e = {0};
        assert_int_equal(eval_welch(c->a, c->na, c->b, c->nb, &r, &e), 0);
        char what[64];
        snprintf(what, sizeof what, "%s t", c->name);
        if (c->t == 0) assert_true(fabs(r.t) < 1e-15);
        else close_to(r.t, c->t, 1e-12, what);
        snprintf(what, sizeof what, "%s df", c->name);
        close_to(r.df, c->df, 1e-12, what);
        snprintf(what, sizeof what, "%s p", c->name);
        close_to(r.p, c->p, 1e-9, what);
    }
}

static void test_welch_edges(void **st) {
    (void)st;
    eval_welch_result r;
    cb_err e = {0};
    const double one[1] = {1}, two[2] = {1, 2}, c1[2] = {1, 1}, c2[2] = {2, 2};
    assert_int_equal(eval_welch(one, 1, two, 2, &r, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "at least 2"));
    assert_int_equal(eval_welch(two, 2, one, 1, &r, &e), CB_EARG);
    /* no variance at all: SciPy gives t = -inf, p = 0, and NaN for equal means */
    assert_int_equal(eval_welch(c1, 2, c2, 2, &r, &e), 0);
    assert_true(isinf(r.t) && r.t < 0 && r.p == 0);
    assert_int_equal(eval_welch(c1, 2, c1, 2, &r, &e), 0);
    assert_true(isnan(r.t) && isnan(r.p));
    /* swapping the groups flips t and keeps p */
    const double a[3] = {0.80, 0.83, 0.79}, b[3] = {0.86, 0.861, 0.862};
    eval_welch_result s;
    assert_int_equal(eval_welch(a, 3, b, 3, &r, &e), 0);
    assert_int_equal(eval_welch(b, 3, a, 3, &s, &e), 0);
    assert_true(r.t == -s.t && r.p == s.p && r.df == s.df);
}

static void test_t_distribution(void **st) {
    (void)st;
    /* scipy.stats.t.ppf(0.975, df), t.ppf(0.6, df) */
    static const double ppf[5][3] = {{1, 12.706204736432095, 0.32491969623407446},
                                     {2, 4.302652729911275, 0.2886751346880066},
                                     {4, 2.7764451051977987, 0.2707222947059493},
                                     {9.5, 2.244137461457777, 0.26054956819868474},
                                     {30, 2.0422724563012373, 0.2556053644420514}};
    /* SciPy's ppf is itself only good to about 1e-9 (relative) here: for df = 1
     * (Cauchy) the exact 0.975 quantile is tan(0.475 pi) = 12.706204736174707,
     * SciPy says ...432095; for df = 2 the exact 0.6 quantile is 0.2 /
     * sqrt(0.48) = 0.28867513459481287, SciPy says ...6880066; for df = 30,
     * scipy.stats.t.cdf of SciPy's own 0.6 quantile is 0.59999999980. So the
     * SciPy quantiles are checked to 3e-9, the closed forms to 1e-13, and the
     * round trip through the CDF (checked against SciPy's t.cdf below) to 1e-14. */
    for (int k = 0; k < 5; k++) {
        close_to(eval_t_quantile(0.975, ppf[k][0]), ppf[k][1], 3e-9, "t.ppf(0.975)");
        close_to(eval_t_quantile(0.6, ppf[k][0]), ppf[k][2], 3e-9, "t.ppf(0.6)");
        close_to(eval_t_quantile(0.025, ppf[k][0]), -ppf[k][1], 3e-9, "t.ppf(0.025)");
    }
    close_to(eval_t_quantile(0.975, 1), tan(0.475 * M_PI), 1e-13, "Cauchy quantile");
    /* df = 2 in closed form: t = (2p - 1) / sqrt(2 p (1 - p)) */
    close_to(eval_t_quantile(0.9, 2), 0.8 / sqrt(2 * 0.9 * 0.1), 1e-13, "t quantile, df 2");
    close_to(eval_t_quantile(0.6, 2), 0.2 / sqrt(0.48), 1e-13, "t quantile, df 2");
    for (int k = 0; k < 5; k++) {
        close_to(eval_t_cdf(eval_t_quantile(0.975, ppf[k][0]), ppf[k][0]), 0.975, 1e-14, "cdf(quantile(0.975))");
        close_to(eval_t_cdf(eval_t_quantile(0.6, ppf[k][0]), ppf[k][0]), 0.6, 1e-14, "cdf(quantile(0.6))");
    }
    /* scipy.stats.t.cdf */
    close_to(eval_t_cdf(-3.0, 1.5), 0.06677387712745664, 1e-12, "t.cdf(-3, 1.5)");
    close_to(eval_t_cdf(0.7, 3), 0.7328365008476182, 1e-12, "t.cdf(0.7, 3)");
    close_to(eval_t_cdf(-40, 4), 1.1670081613006347e-06, 1e-11, "t.cdf(-40, 4)");
    assert_true(eval_t_cdf(0, 7) == 0.5);
    assert_true(isnan(eval_t_quantile(1, 3)) && isnan(eval_t_quantile(0.5, 0)) && isnan(eval_t_cdf(1, -1)));
    /* scipy.special.betainc(a, b, x) */
    static const double bi[7][4] = {{0.5, 0.5, 0.3, 0.3690101195655454},   {2, 3, 0.4, 0.5247999999999999},
                                    {50, 0.5, 0.99, 0.31730439787419623},  {0.5, 50, 0.01, 0.6826956021258024},
                                    {200, 300, 0.41, 0.6776281647721865}, {1, 1, 0.25, 0.25},
                                    {10, 0.5, 0.2, 1.994982493613095e-08}};
    for (int k = 0; k < 7; k++) close_to(eval_betainc(bi[k][0], bi[k][1], bi[k][2]), bi[k][3], 1e-11, "betainc");
    assert_true(eval_betainc(2, 3, 0) == 0 && eval_betainc(2, 3, 1) == 1);
    assert_true(isnan(eval_betainc(0, 1, 0.5)) && isnan(eval_betainc(1, 1, 1.5)));
}

static void test_mean_ci_t(void **st) {
    (void)st;
    /* 5 seeds: half = t.ppf(0.975, 4) * x.std(ddof=1) / sqrt(5) with numpy and
     * SciPy = 0.009415383441742168 */
    const double x[5] = {0.825, 0.819, 0.831, 0.812, 0.828};
    double m, h;
    eval_mean_ci_t(x, 5, &m, &h);
    close_to(m, 0.823, 1e-14, "mean");
    close_to(h, 0.009415383441742168, 1e-12, "t half-width");
    eval_mean_ci_t(x, 1, &m, &h);
    assert_true(m == 0.825 && h == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_welch_against_scipy),
        cmocka_unit_test(test_welch_edges),
        cmocka_unit_test(test_t_distribution),
        cmocka_unit_test(test_mean_ci_t),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
