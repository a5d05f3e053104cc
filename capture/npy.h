/* npy.h - NumPy .npy arrays (format versions 1-3): header parsing and
 * conversion of any integer, float or bool dtype to what coinbc stores.
 * Internal to capture/. */
#ifndef COINBC_CAPTURE_NPY_H
#define COINBC_CAPTURE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct {
    char kind;          /* 'u', 'i', 'f', 'b' */
    int size;           /* bytes per item: u/i 1,2,4,8; f 2,4,8 (and 16 on x86-64: long double); b 1 */
    int big;            /* big-endian items ('>') */
    int ndim;
    int64_t shape[8];
    size_t header_len;  /* bytes before the data */
    uint64_t count;     /* product of shape */
} capture_npy;

/* Parses a header from the first bytes of a .npy file (n may be the whole
 * file or just its start). Either byte order; C order only. */
int capture_npy_header(capture_npy *a, const uint8_t *buf, size_t n, const char *name, cb_err *e);
/* Element i as double / as int64 (checked integral for floats). */
double capture_npy_f64(const capture_npy *a, const uint8_t *data, uint64_t i);
/* Writes a .npy image (version 1) of a C-order array into a malloc'd buffer. */
int capture_npy_build(const char *descr, const int64_t *shape, int ndim, const void *data, size_t nbytes,
                      uint8_t **out, size_t *n);
#endif
