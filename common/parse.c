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

int cb_parse_dec_exact(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || n == 0) return CB_EARG;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        if (lo >= 0) return CB_EARG;
        neg = 1;
        i = 1;
    }
    if (i == n) return CB_EARG;
    if (s[i] == '0' && (neg || n - i > 1)) return CB_EARG; /* leading zero or -0 */
    /* Accumulate as a magnitude in uint64; any digit past 19 or a value past
     * 2^63 is out of range (checked after the whole span is known to be digits). */
    uint64_t mag = 0;
    int over = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return CB_EARG;
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (UINT64_MAX - d) / 10) over = 1;
        else mag = mag * 10 + d;
    }
    if (over || mag > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) return CB_ERANGE;
    int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (v < lo || v > hi) return CB_ERANGE;
    *out = v;
    return 0;
}

int cb_parse_hex32_exact(const char *s, size_t n, uint32_t *out) {
    if (!s || n != 8) return CB_EARG;
    uint32_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else return CB_EARG;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}
