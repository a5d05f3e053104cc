/* stats.c - small statistics for reports: Wilson score intervals for rates,
 * normal intervals for means, merged CoinRun actions. */
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
