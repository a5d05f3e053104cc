/* parse.c - strict parsing of numbers and level ranges from text. */
#include "common/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int cb_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return CB_EARG;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return CB_EARG;
    *out = v;
    return 0;
}

int cb_parse_f64(const char *s, double *out) {
    if (!s || !*s) return CB_EARG;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return CB_EARG;
    *out = v;
    return 0;
}

int cb_parse_range(const char *s, int32_t *lo, int32_t *hi) {
    if (!s || !*s) return CB_EARG;
    char *end;
    errno = 0;
    long long a = strtoll(s, &end, 10);
    if (errno || end == s || a < 0 || a > INT32_MAX) return CB_EARG;
    long long b = a;
    if (*end == '-') {
        const char *q = end + 1;
        if (*q < '0' || *q > '9') return CB_EARG;
        b = strtoll(q, &end, 10);
        if (errno || b < 0 || b > INT32_MAX) return CB_EARG;
    }
    if (*end) return CB_EARG;
    if (b < a) return CB_ERANGE;
    *lo = (int32_t)a;
    *hi = (int32_t)b;
    return 0;
}
