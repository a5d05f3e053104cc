/* npy.c - reading the .npy header ({'descr': '<u1', 'fortran_order': False,
 * 'shape': (...), }) and elements of any integer, float or bool dtype;
 * writing simple arrays for export. */
#include <ctype.h>
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

/* The header is the text of a Python dict literal, which numpy evaluates
 * (ast.literal_eval) and then requires to have exactly the keys descr,
 * fortran_order and shape: a shape that is a tuple of ints, a bool
 * fortran_order. This reader takes the subset of that literal numpy and
 * other writers produce: whitespace, '{', the three keys (each once, quoted
 * with ' or "), ':' and their values, ',' between them (one after the last is
 * allowed), '}', and nothing after it but whitespace. Refused: anything numpy
 * refuses (an unknown or missing key, trailing text, a NUL, a shape that is
 * not a tuple), and a few things numpy takes that no writer produces (a key
 * given twice, which numpy reads as its last value; comments; hex or
 * negative shape entries; a header over numpy's 10000 characters). */
typedef struct {
    const char *p, *end;
} lex;

static void skip_ws(lex *x) {
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r' || *x->p == '\f')) x->p++;
}

static int eat(lex *x, char c) {
    skip_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return 1;
    }
    return 0;
}

/* A quoted string of printable ASCII without backslashes into out. */
static int string_lit(lex *x, char *out, size_t cap) {
    skip_ws(x);
    if (x->p >= x->end || (*x->p != '\'' && *x->p != '"')) return 0;
    char q = *x->p++;
    size_t k = 0;
    while (x->p < x->end && *x->p != q) {
        unsigned char c = (unsigned char)*x->p;
        if (c < 0x20 || c >= 0x7f || c == '\\' || k + 1 >= cap) return 0;
        out[k++] = (char)c;
        x->p++;
    }
    if (x->p >= x->end) return 0;
    x->p++;
    out[k] = 0;
    return 1;
}

static int word(lex *x, const char *w) {
    skip_ws(x);
    size_t n = strlen(w);
    if ((size_t)(x->end - x->p) < n || memcmp(x->p, w, n)) return 0;
    const char *after = x->p + n;
    if (after < x->end && (isalnum((unsigned char)*after) || *after == '_')) return 0; /* Falsey is a name */
    x->p = after;
    return 1;
}

/* (), (N,), (N, M), (N, M,) ...: a tuple of decimal ints; "(N)" is an int. */
static int shape_lit(lex *x, capture_npy *a) {
    if (!eat(x, '(')) return 0;
    a->count = 1;
    for (;;) {
        if (eat(x, ')')) return 1; /* () or a trailing comma: (3,) */
        skip_ws(x);
        const char *s = x->p;
        while (x->p < x->end && *x->p >= '0' && *x->p <= '9') x->p++;
        int64_t v;
        if (x->p == s || a->ndim >= 8 || cb_parse_dec_exact(s, (size_t)(x->p - s), 0, INT64_MAX, &v)) return 0;
        a->shape[a->ndim++] = v;
        if (v > 0 && a->count > ((uint64_t)1 << 40) / (uint64_t)v) return -1;
        a->count *= (uint64_t)v;
        if (eat(x, ',')) continue;
        if (!eat(x, ')')) return 0;
        return a->ndim == 1 ? 0 : 1; /* "(N)" without a comma is not a tuple */
    }
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
    if (buf[7] != 0) return cb_fail(e, CB_EFORMAT, "%s: .npy format version %d.%d is not supported", name, major, buf[7]);
    if (hl > 10000)
        return cb_fail(e, CB_EFORMAT, "%s: a .npy header of %zu bytes (numpy refuses more than 10000)", name, hl);
    if (start + hl > n) return cb_fail(e, CB_EFORMAT, "%s: truncated .npy header", name);
    a->header_len = start + hl;
    const char *h = (const char *)buf + start;
    if (memchr(h, 0, hl)) return cb_fail(e, CB_EFORMAT, "%s: a NUL byte in the .npy header", name);
    lex x = {h, h + hl};
    char descr[32] = "", key[32];
    int seen[3] = {0, 0, 0}, fortran = 0;
    if (!eat(&x, '{')) return cb_fail(e, CB_EFORMAT, "%s: the .npy header is not a dict literal ({...})", name);
    for (;;) {
        if (eat(&x, '}')) break;
        if (!string_lit(&x, key, sizeof key))
            return cb_fail(e, CB_EFORMAT, "%s: .npy header: expected a quoted key at byte %zu", name, (size_t)(x.p - h));
        int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1 : !strcmp(key, "shape") ? 2 : -1;
        if (k < 0)
            return cb_fail(e, CB_EFORMAT, "%s: .npy header has the unknown key '%s' (numpy allows only descr, "
                           "fortran_order and shape)", name, key);
        if (seen[k]) return cb_fail(e, CB_EFORMAT, "%s: .npy header gives the key '%s' twice", name, key);
        seen[k] = 1;
        if (!eat(&x, ':')) return cb_fail(e, CB_EFORMAT, "%s: .npy header: no ':' after '%s'", name, key);
        int ok;
        if (k == 0) {
            ok = string_lit(&x, descr, sizeof descr);
        } else if (k == 1) {
            ok = word(&x, "False") || (word(&x, "True") && (fortran = 1));
        } else {
            ok = shape_lit(&x, a);
            if (ok < 0) return cb_fail(e, CB_EFORMAT, "%s: array too large", name);
        }
        if (!ok)
            return cb_fail(e, CB_EFORMAT, "%s: .npy header: bad value for '%s'%s", name, key,
                           k == 0 ? " (a dtype string such as '<u1')" : k == 1 ? " (True or False)"
                                                                       : " (a tuple of non-negative ints, e.g. (3,) or (2, 64))");
        if (eat(&x, ',')) continue;
        if (eat(&x, '}')) break;
        return cb_fail(e, CB_EFORMAT, "%s: .npy header: expected ',' or '}' at byte %zu", name, (size_t)(x.p - h));
    }
    skip_ws(&x);
    if (x.p != x.end)
        return cb_fail(e, CB_EFORMAT, "%s: .npy header has text after its dict at byte %zu (numpy refuses it)", name,
                       (size_t)(x.p - h));
    if (!seen[0] || !seen[1] || !seen[2])
        return cb_fail(e, CB_EFORMAT, "%s: .npy header lacks %s", name, !seen[0] ? "descr" : !seen[1] ? "fortran_order" : "shape");
    /* byte order, kind, item size: '<i8', '|u1', '>f4', '|b1' ... */
    int64_t sz = 0;
    size_t dl = strlen(descr);
    int order_ok = dl >= 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=' || descr[0] == '>');
    int size_ok = order_ok && cb_parse_dec_exact(descr + 2, dl - 2, 1, 16, &sz) == 0;
    a->kind = dl >= 2 ? descr[1] : 0;
    a->size = (int)sz;
    a->big = descr[0] == '>';
    int ok = size_ok &&
             (((a->kind == 'u' || a->kind == 'i') && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) ||
              (a->kind == 'f' && (sz == 2 || sz == 4 || sz == 8 || (sz == 16 && LONG_DOUBLE_IS_X87))) ||
              (a->kind == 'b' && sz == 1));
    if (!ok)
        return cb_fail(e, CB_EFORMAT,
                       "%s: unsupported dtype '%s' (integer, float16/32/64, longdouble or bool, in either byte order)",
                       name, descr);
    if (fortran) return cb_fail(e, CB_EFORMAT, "%s: Fortran-order arrays are not supported", name);
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
