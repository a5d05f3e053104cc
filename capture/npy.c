/* npy.c - reading the .npy header ({'descr': '<u1', 'fortran_order': False,
 * 'shape': (...), }) and elements of any integer, float or bool dtype;
 * writing simple arrays for export. */
#include <stdlib.h>
#include <string.h>

#include "capture/npy.h"

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
    if (strlen(descr) < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '='))
        return cb_fail(e, CB_EFORMAT, "%s: unsupported dtype '%s' (little-endian integer, float or bool only)", name, descr);
    a->kind = descr[1];
    a->size = atoi(descr + 2);
    int ok = (a->kind == 'u' && (a->size == 1 || a->size == 2 || a->size == 4 || a->size == 8)) ||
             (a->kind == 'i' && (a->size == 1 || a->size == 2 || a->size == 4 || a->size == 8)) ||
             (a->kind == 'f' && (a->size == 4 || a->size == 8)) || (a->kind == 'b' && a->size == 1);
    if (!ok) return cb_fail(e, CB_EFORMAT, "%s: unsupported dtype '%s' (integer, float32/64 or bool only)", name, descr);
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
    const uint8_t *p = data + i * (uint64_t)a->size;
    switch (a->kind) {
    case 'b':
    case 'u': {
        uint64_t v = 0;
        memcpy(&v, p, (size_t)a->size);
        return (double)v;
    }
    case 'i': {
        int64_t v = 0;
        switch (a->size) {
        case 1: v = (int8_t)p[0]; break;
        case 2: { int16_t x; memcpy(&x, p, 2); v = x; break; }
        case 4: { int32_t x; memcpy(&x, p, 4); v = x; break; }
        default: memcpy(&v, p, 8);
        }
        return (double)v;
    }
    default:
        if (a->size == 4) {
            float x;
            memcpy(&x, p, 4);
            return x;
        } else {
            double x;
            memcpy(&x, p, 8);
            return x;
        }
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
