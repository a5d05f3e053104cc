/* pngfile.c - read a PNG file back in a test (libpng's simplified API). */
#include "tests/support/pngfile.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

uint8_t *test_png_read(const char *path, int *w, int *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = PNG_FORMAT_RGB;
    uint8_t *buf = calloc(1, PNG_IMAGE_SIZE(im)); /* zeros: with no background given, alpha is composed onto the buffer */
    if (!buf || !png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return buf;
}
