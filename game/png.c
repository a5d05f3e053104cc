/* png.c - coinbc's one PNG encoder: 8-bit RGB through libpng (zlib level 6,
 * default filters), into memory or written atomically to a file. Every PNG
 * coinbc writes (frames, maps, films, exports) goes through here, so the
 * same image always gives the same bytes. A game_png keeps its output buffer
 * and the blocks libpng and zlib allocate for every image (~300 KB), so
 * encoding many frames does not grow and trim the heap each time. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "game/game.h"

/* Blocks carry their size in a 16-byte header. */
static png_voidp pool_malloc(png_structp png, png_alloc_size_t size) {
    game_png *p = png_get_mem_ptr(png);
    for (int i = 0; i < GAME_PNG_POOL; i++)
        if (p->blk[i] && p->blk_size[i] == size) {
            void *b = p->blk[i];
            p->blk[i] = NULL;
            return (uint8_t *)b + 16;
        }
    uint8_t *b = malloc(size + 16);
    if (!b) return NULL;
    memcpy(b, &size, sizeof size);
    return b + 16;
}

static void pool_free(png_structp png, png_voidp ptr) {
    if (!ptr) return;
    game_png *p = png_get_mem_ptr(png);
    uint8_t *b = (uint8_t *)ptr - 16;
    size_t size;
    memcpy(&size, b, sizeof size);
    for (int i = 0; i < GAME_PNG_POOL; i++)
        if (!p->blk[i]) {
            p->blk[i] = b;
            p->blk_size[i] = size;
            return;
        }
    free(b);
}

static void mem_write(png_structp png, png_bytep data, png_size_t len) {
    game_png *p = png_get_io_ptr(png);
    if (p->oom) return;
    if (p->n + len > p->cap) {
        size_t cap = p->cap ? p->cap : 16384;
        while (cap < p->n + len) cap *= 2;
        uint8_t *np = realloc(p->data, cap);
        if (!np) {
            p->oom = 1;
            return;
        }
        p->data = np;
        p->cap = cap;
    }
    memcpy(p->data + p->n, data, len);
    p->n += len;
}

static void mem_flush(png_structp png) { (void)png; }

void game_png_init(game_png *p) { memset(p, 0, sizeof *p); }

void game_png_free(game_png *p) {
    for (int i = 0; i < GAME_PNG_POOL; i++) free(p->blk[i]);
    free(p->data);
    memset(p, 0, sizeof *p);
}

int game_png_encode(game_png *p, const uint8_t *rgb, int w, int h, cb_err *e) {
    p->n = 0;
    p->oom = 0;
    if (w <= 0 || h <= 0) return cb_fail(e, CB_EARG, "PNG of %dx%d pixels", w, h);
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL, p, pool_malloc, pool_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return cb_fail(e, CB_ENOMEM, "out of memory in libpng");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return cb_fail(e, CB_ENOMEM, "libpng failed to encode a %dx%d image", w, h);
    }
    png_set_write_fn(png, p, mem_write, mem_flush);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (p->oom) return cb_fail(e, CB_ENOMEM, "out of memory encoding a %dx%d image", w, h);
    return 0;
}

int game_write_png(const char *path, const uint8_t *rgb, int w, int h, cb_err *e) {
    game_png p;
    game_png_init(&p);
    int rc = game_png_encode(&p, rgb, w, h, e);
    if (rc) cb_err_prefix(e, "%s: ", path);
    else rc = cb_write_file_atomic(path, p.data, p.n, e);
    game_png_free(&p);
    return rc;
}
