/* pngfile.h - test helper: a PNG file read back as 8-bit RGB. */
#ifndef COINBC_TEST_PNGFILE_H
#define COINBC_TEST_PNGFILE_H
#include <stdint.h>
/* An RGB or RGBA PNG (any bit depth libpng's simplified API reads; alpha
 * composed onto black) as w x h x 3 bytes, row 0 at the top, to free; NULL
 * when the file does not read as a PNG. */
uint8_t *test_png_read(const char *path, int *w, int *h);
#endif
