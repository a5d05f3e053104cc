/* png.c - 8-bit RGB PNG output through libpng, written atomically. */
#include <png.h>
#include <setjmp.h>

#include "game/game.h"

int game_write_png(const char *path, const uint8_t *rgb, int w, int h, cb_err *e) {
    cb_afile f;
    int rc = cb_afile_open(&f, path, e);
    if (rc) return rc;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        cb_afile_abort(&f);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory in libpng", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        cb_afile_abort(&f);
        return cb_fail(e, CB_EIO, "%s: writing the PNG failed (disk full?)", path);
    }
    png_init_io(png, f.fp);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return cb_afile_commit(&f, e);
}
