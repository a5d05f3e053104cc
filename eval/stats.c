/* stats.c - small statistics for reports: Wilson score intervals for rates,
 * normal and t intervals for means, Welch's t-test, merged CoinRun actions. */
#include <math.h>

#include "eval/eval.h"

void eval_wilson(int64_t k, int64_t n, double *lo, double *hi) {
    if (n <= 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, nn = (double)n;
    double den = 1 + z * z / nn;
    double c = (p + z * z / (2 * nn)) / den;
    double h = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}

void eval_mean_ci(const double *x, int64_t n, double *mean, double *half) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m = n > 0 ? m / (double)n : 0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    double sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
    *mean = m;
    *half = n > 1 ? 1.959963984540054 * sd / sqrt((double)n) : 0;
}

int eval_merge_action(int a) { return a >= 9 ? 4 : a; }

/* ---- Student t and Welch's test ------------------------------------------
 * I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
 * with d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)) and
 * d_{2m} = m (b-m) x / ((a+2m-1)(a+2m)), evaluated by the modified Lentz
 * method. The fraction converges quickly for x < (a+1)/(a+b+2); above that
 * the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) is used. */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double f = 1, c = 1, d = 0;
    for (int i = 0; i <= 400; i++) {
        int m = i / 2;
        double num;
        if (i == 0) num = 1; /* the leading 1 / (1 + ...) */
        else if (i % 2 == 0) num = m * (b - m) * x / ((a + 2.0 * m - 1) * (a + 2.0 * m));
        else num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1));
        d = 1 + num * d;
        if (fabs(d) < tiny) d = tiny;
        d = 1 / d;
        c = 1 + num / c;
        if (fabs(c) < tiny) c = tiny;
        double cd = c * d;
        f *= cd;
        if (fabs(1 - cd) < eps) break;
    }
    return f - 1; /* f = 1 * (1 / (1 + d1 / ...)) seeded with 1: remove the seed */
}

double eval_betainc(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
    if (x == 0 || x == 1) return x;
    if (x > (a + 1) / (a + b + 2)) return 1 - eval_betainc(b, a, 1 - x);
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    return exp(lfront) / a * beta_cf(a, b, x);
}

double eval_t_cdf(double t, double df) {
    if (!(df > 0) || isnan(t)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    /* P(T < -|t|) = I_{df/(df+t^2)}(df/2, 1/2) / 2 */
    double tail = 0.5 * eval_betainc(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double eval_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    if (p < 0.5) return -eval_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (eval_t_cdf(hi, df) < p && hi < 1e300) hi *= 2;
    for (int i = 0; i < 2000 && hi - lo > 1e-15 * hi; i++) { /* bisection: the CDF is monotonic */
        double mid = 0.5 * (lo + hi);
        if (eval_t_cdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void mean_var(const double *x, int64_t n, double *mean, double *var) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m = n > 0 ? m / (double)n : 0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? v / (double)(n - 1) : 0;
}

void eval_mean_ci_t(const double *x, int64_t n, double *mean, double *half) {
    double v;
    mean_var(x, n, mean, &v);
    *half = n > 1 ? eval_t_quantile(0.975, (double)(n - 1)) * sqrt(v / (double)n) : 0;
}

int eval_welch(const double *a, int64_t na, const double *b, int64_t nb, eval_welch_result *out, cb_err *e) {
    if (na < 2 || nb < 2)
        return cb_fail(e, CB_EARG, "Welch's t-test needs at least 2 values per group (got %lld and %lld)", (long long)na,
                       (long long)nb);
    double va, vb;
    mean_var(a, na, &out->mean_a, &va);
    mean_var(b, nb, &out->mean_b, &vb);
    double qa = va / (double)na, qb = vb / (double)nb, diff = out->mean_a - out->mean_b;
    if (qa + qb == 0) {
        out->t = diff == 0 ? NAN : diff > 0 ? INFINITY : -INFINITY;
        out->df = NAN;
        out->p = diff == 0 ? NAN : 0;
        return 0;
    }
    out->t = diff / sqrt(qa + qb);
    out->df = (qa + qb) * (qa + qb) / (qa * qa / (double)(na - 1) + qb * qb / (double)(nb - 1));
    out->p = 2 * eval_t_cdf(-fabs(out->t), out->df);
    if (out->p > 1) out->p = 1;
    return 0;
}
