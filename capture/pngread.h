/* pngread.h - one recording frame from a PNG file: any colour type and bit depth
 * libpng reads, converted to 8-bit RGB without gamma changes (palette and
 * gray expanded, 16-bit scaled with rounding, alpha dropped). Internal to
 * capture/; named so that it never shadows libpng's own <png.h>. */
#ifndef COINBC_CAPTURE_PNGREAD_H
#define COINBC_CAPTURE_PNGREAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Decodes a PNG image held in memory into rgb (64*64*3 bytes); anything but
 * 64x64 is refused. *alpha is set when an alpha channel or transparency was
 * dropped. `name` is used in messages. */
int capture_png_decode(const uint8_t *buf, size_t n, const char *name, uint8_t *rgb, int *alpha, cb_err *e);
/* The largest frame file read: a 64x64 image's pixel data is at most 32,832
 * bytes before compression (RGBA, 16 bits, one filter byte a row) and deflate
 * adds a few bytes per 16 KiB; 1 MiB leaves ancillary chunks (text, ICC
 * profiles) ample room. */
#define CAPTURE_PNG_MAX_BYTES ((size_t)1 << 20)
/* The same from a file (a regular file of at most CAPTURE_PNG_MAX_BYTES). */
int capture_png_read(const char *path, uint8_t *rgb, int *alpha, cb_err *e);
#endif
