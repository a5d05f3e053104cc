/* png.c - PNG frames through libpng's low-level API. The simplified
 * png_image API is not used because it treats 16-bit files as linear light
 * and re-encodes them to sRGB (100*257 would come out as 167, not 100). */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "capture/pngread.h"
#include "dataset/dataset.h"

typedef struct {
    const uint8_t *buf;
    size_t n, off;
    int oom; /* an allocation of libpng's failed */
    char msg[200];
} src;

/* libpng's allocations through our malloc, so a failure is told apart from a
 * damaged file (and allocation-failure tests reach them) */
static png_voidp png_alloc(png_structp p, png_alloc_size_t n) {
    void *q = malloc(n ? n : 1);
    if (!q) ((src *)png_get_mem_ptr(p))->oom = 1;
    return q;
}

static void png_dealloc(png_structp p, png_voidp q) {
    (void)p;
    free(q);
}

static void on_error(png_structp p, png_const_charp msg) {
    src *s = png_get_error_ptr(p);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void on_warning(png_structp p, png_const_charp msg) {
    (void)p;
    (void)msg; /* ancillary problems (a bad text chunk, ...) do not change the pixels */
}

static void on_read(png_structp p, png_bytep out, size_t n) {
    src *s = png_get_io_ptr(p);
    if (n > s->n - s->off) png_error(p, "the file ends early (truncated)");
    memcpy(out, s->buf + s->off, n);
    s->off += n;
}

int capture_png_decode(const uint8_t *buf, size_t n, const char *name, uint8_t *rgb, int *alpha, cb_err *e) {
    *alpha = 0;
    if (n < 8 || png_sig_cmp(buf, 0, 8)) return cb_fail(e, CB_EFORMAT, "%s: not a PNG file", name);
    src s = {buf, n, 0, 0, ""};
    png_structp p = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning, &s, png_alloc, png_dealloc);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    }
    png_bytep rows[CB_FRAME_H];
    for (int y = 0; y < CB_FRAME_H; y++) rows[y] = rgb + (size_t)y * CB_FRAME_W * CB_FRAME_C;
    volatile int dropped = 0;
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_read_struct(&p, &info, NULL);
        if (s.oom) return cb_fail(e, CB_ENOMEM, "%s: out of memory decoding the PNG", name);
        return cb_fail(e, CB_EFORMAT, "%s: damaged PNG (%s)", name, s.msg);
    }
    png_set_read_fn(p, &s, on_read);
    png_read_info(p, info); /* the pixels are allocated by the caller: nothing big before the size check */
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    if (w != CB_FRAME_W || h != CB_FRAME_H) {
        png_destroy_read_struct(&p, &info, NULL);
        return cb_fail(e, CB_EFORMAT, "%s: %ux%u pixels; coinbc needs 64x64 frames", name, (unsigned)w, (unsigned)h);
    }
    int ct = png_get_color_type(p, info), depth = png_get_bit_depth(p, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p);
    if (depth == 16) png_set_scale_16(p);
    if (!(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(p);
    if ((ct & PNG_COLOR_MASK_ALPHA) || png_get_valid(p, info, PNG_INFO_tRNS)) {
        png_set_strip_alpha(p);
        dropped = 1;
    }
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    if (png_get_rowbytes(p, info) != CB_FRAME_W * CB_FRAME_C) {
        png_destroy_read_struct(&p, &info, NULL);
        return cb_fail(e, CB_EFORMAT, "%s: this PNG layout cannot be turned into 8-bit RGB", name);
    }
    png_read_image(p, rows);
    png_read_end(p, NULL);
    png_destroy_read_struct(&p, &info, NULL);
    *alpha = dropped;
    return 0;
}

int capture_png_read(const char *path, uint8_t *rgb, int *alpha, cb_err *e) {
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, CAPTURE_PNG_MAX_BYTES, &buf, &n, e);
    if (rc) return rc;
    rc = capture_png_decode(buf, n, path, rgb, alpha, e);
    free(buf);
    return rc;
}
