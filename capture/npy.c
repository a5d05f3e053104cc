/* npy.c - reading the .npy header ({'descr': '<u1', 'fortran_order': False,
 * 'shape': (...), }) and elements of any integer, float or bool dtype;
 * writing simple arrays for export. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/npy.h"

/* numpy's float128 ('f16') on x86-64 is the x87 80-bit long double, padded */
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
#define LONG_DOUBLE_IS_X87 1
#else
#define LONG_DOUBLE_IS_X87 0
#endif

static double half_to_double(uint16_t h) {
    int s = h >> 15, ex = (h >> 10) & 31, m = h & 1023;
    double v = ex == 0 ? ldexp(m, -24) : ex == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, ex - 25);
    return s ? -v : v;
}

int capture_npy_header(capture_npy *a, const uint8_t *buf, size_t n, const char *name, cb_err *e) {
    memset(a, 0, sizeof *a);
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return cb_fail(e, CB_EFORMAT, "%s: not a .npy array", name);
    int major = buf[6];
    size_t hl, start;
    if (major == 1) {
        hl = (size_t)(buf[8] | buf[9] << 8);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) return cb_fail(e, CB_EFORMAT, "%s: truncated .npy header", name);
        hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return cb_fail(e, CB_EFORMAT, "%s: .npy format version %d is not supported", name, major);
    }
    if (hl > 65536 || start + hl > n) return cb_fail(e, CB_EFORMAT, "%s: truncated .npy header", name);
    char h[65537];
    memcpy(h, buf + start, hl);
    h[hl] = 0;
    a->header_len = start + hl;
    char *d = strstr(h, "'descr'");
    char *f = strstr(h, "'fortran_order'");
    char *s = strstr(h, "'shape'");
    if (!d || !f || !s) return cb_fail(e, CB_EFORMAT, "%s: .npy header lacks descr, fortran_order or shape", name);
    char *q = strchr(d + 7, '\'');
    if (!q) return cb_fail(e, CB_EFORMAT, "%s: bad descr in .npy header", name);
    char descr[16];
    int k = 0;
    for (q++; *q && *q != '\'' && k < 15; q++) descr[k++] = *q;
    descr[k] = 0;
    /* byte order, kind, item size: '<i8', '|u1', '>f4', '|b1' ... */
    char *endp = NULL;
    long sz = strlen(descr) >= 3 ? strtol(descr + 2, &endp, 10) : 0;
    int order_ok = descr[0] == '<' || descr[0] == '|' || descr[0] == '=' || descr[0] == '>';
    a->kind = descr[1];
    a->size = (int)sz;
    a->big = descr[0] == '>';
    int ok = order_ok && endp && *endp == 0 &&
             (((a->kind == 'u' || a->kind == 'i') && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) ||
              (a->kind == 'f' && (sz == 2 || sz == 4 || sz == 8 || (sz == 16 && LONG_DOUBLE_IS_X87))) ||
              (a->kind == 'b' && sz == 1));
    if (!ok)
        return cb_fail(e, CB_EFORMAT,
                       "%s: unsupported dtype '%s' (integer, float16/32/64, longdouble or bool, in either byte order)",
                       name, descr);
    char *colon = strchr(f, ':');
    if (!colon) return cb_fail(e, CB_EFORMAT, "%s: bad fortran_order", name);
    while (*++colon == ' ') {
    }
    if (!strncmp(colon, "True", 4)) return cb_fail(e, CB_EFORMAT, "%s: Fortran-order arrays are not supported", name);
    char *lp = strchr(s, '(');
    if (!lp) return cb_fail(e, CB_EFORMAT, "%s: bad shape in .npy header", name);
    lp++;
    a->count = 1;
    while (*lp && *lp != ')') {
        while (*lp == ' ' || *lp == ',') lp++;
        if (*lp == ')') break;
        char *end;
        long long v = strtoll(lp, &end, 10);
        if (end == lp || v < 0 || a->ndim >= 8) return cb_fail(e, CB_EFORMAT, "%s: bad shape in .npy header", name);
        a->shape[a->ndim++] = v;
        if (v > 0 && a->count > ((uint64_t)1 << 40) / (uint64_t)v) return cb_fail(e, CB_EFORMAT, "%s: array too large", name);
        a->count *= (uint64_t)v;
        lp = end;
    }
    return 0;
}

double capture_npy_f64(const capture_npy *a, const uint8_t *data, uint64_t i) {
    uint8_t p[16];
    const uint8_t *q = data + i * (uint64_t)a->size;
    for (int k = 0; k < a->size; k++) p[k] = a->big ? q[a->size - 1 - k] : q[k]; /* to little-endian */
    switch (a->kind) {
    case 'b':
    case 'u': {
        uint64_t v = 0;
        for (int k = a->size - 1; k >= 0; k--) v = v << 8 | p[k];
        return (double)v;
    }
    case 'i': {
        uint64_t v = 0;
        for (int k = a->size - 1; k >= 0; k--) v = v << 8 | p[k];
        int sh = 64 - 8 * a->size; /* sign-extend */
        return (double)((int64_t)(v << sh) >> sh);
    }
    default:
        if (a->size == 2) return half_to_double((uint16_t)(p[0] | p[1] << 8));
        if (a->size == 4) {
            float x;
            memcpy(&x, p, 4);
            return x;
        }
        if (a->size == 8) {
            double x;
            memcpy(&x, p, 8);
            return x;
        }
#if LONG_DOUBLE_IS_X87
        long double x;
        memcpy(&x, p, sizeof x < 16 ? sizeof x : 16);
        return (double)x;
#else
        return NAN;
#endif
    }
}

int capture_npy_build(const char *descr, const int64_t *shape, int ndim, const void *data, size_t nbytes,
                      uint8_t **out, size_t *n) {
    char h[256];
    int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++) k += snprintf(h + k, sizeof h - (size_t)k, "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
    k += snprintf(h + k, sizeof h - (size_t)k, "), }");
    size_t total = 10 + (size_t)k + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hl = (size_t)k + pad + 1;
    uint8_t *buf = malloc(10 + hl + nbytes);
    if (!buf) return CB_ENOMEM;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)hl;
    buf[9] = (uint8_t)(hl >> 8);
    memcpy(buf + 10, h, (size_t)k);
    memset(buf + 10 + k, ' ', pad);
    buf[10 + hl - 1] = '\n';
    memcpy(buf + 10 + hl, data, nbytes);
    *out = buf;
    *n = 10 + hl + nbytes;
    return 0;
}
