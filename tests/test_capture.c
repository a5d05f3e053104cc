/* test_capture.c - recordings into datasets: procgen's reference recordings
 * (PNG folders and numpy's savez_compressed), numpy-written fixtures of other
 * layouts and dtypes, exact export round trips, and every kind of bad input
 * (each named in the error, nothing written or lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <png.h>
#include <zlib.h>

#include "capture/capture.h"
#include "capture/csv.h"
#include "capture/pngread.h"
#include "capture/zip.h"
#include "game/game.h"
#include "tests/support/refdata.h"
#include "tests/support/run.h"

#define FIX "tests/fixtures/npz"
#define FIX2 "tests/fixtures/capture"

static char out[8192], err[8192];

static void test_refdata_png_and_npz(void **st) {
    (void)st;
    const char *png = test_refdata("recordings_png/level_5000");
    const char *npz = test_refdata("recordings_npz/20261122-110822_0_101_6000_10.00.npz");
    ds_level l;
    int alpha;
    cb_err e = {0};
    assert_int_equal(capture_read_pngdir(png, 5000, &l, &alpha, &e), 0);
    assert_int_equal(l.n, 80);
    assert_int_equal(alpha, 0);
    /* frame 3 equals libpng's own decode; actions from actions.csv */
    char path[4200];
    snprintf(path, sizeof path, "%s/frame_000003.png", png);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&im, path));
    im.format = PNG_FORMAT_RGB;
    uint8_t ref[CB_FRAME_BYTES];
    assert_true(png_image_finish_read(&im, NULL, ref, 0, NULL));
    assert_memory_equal(l.frames + 3 * CB_FRAME_BYTES, ref, CB_FRAME_BYTES);
    assert_int_equal(l.label[0], 1);
    assert_int_equal(l.action[0], 1);
    ds_level_free(&l);
    assert_int_equal(capture_read_npz(npz, &l, &e), 0);
    assert_int_equal(l.seed, 6000);
    assert_int_equal(l.n, 101);
    assert_true(l.reward[100] == 10.0f);
    assert_int_equal(l.done[100], 1);
    ds_level_free(&l);
}

static void test_numpy_fixtures(void **st) {
    (void)st;
    ds_level a, b, c;
    cb_err e = {0};
    /* channels first, (T,1) int64 actions, float32 (T,1) rewards, bool dones, savez_compressed */
    assert_int_equal(capture_read_npz(FIX "/20240101T120000_0_5_42_10.00.npz", &a, &e), 0);
    /* channels last, int32 actions, float64 rewards, uint8 dones, savez (stored) */
    assert_int_equal(capture_read_npz(FIX "/20240101-120001_1_5_42_0.00.npz", &b, &e), 0);
    /* float32 actions, int8 dones */
    assert_int_equal(capture_read_npz(FIX "/20240101-120002_2_5_43_0.00.npz", &c, &e), 0);
    uint8_t *raw;
    size_t n;
    assert_int_equal(cb_read_file(FIX "/frames_42.raw", &raw, &n, &e), 0);
    assert_int_equal(n, 5 * CB_FRAME_BYTES);
    assert_memory_equal(a.frames, raw, n);
    assert_memory_equal(b.frames, raw, n);
    assert_memory_equal(c.frames, raw, n);
    const uint8_t acts[5] = {7, 8, 4, 1, 14};
    assert_memory_equal(a.label, acts, 5);
    assert_memory_equal(b.label, acts, 5);
    assert_memory_equal(c.label, acts, 5);
    assert_true(a.reward[4] == 10.0f && a.done[4] == 1 && a.done[3] == 0);
    free(raw);
    ds_level_free(&a);
    ds_level_free(&b);
    ds_level_free(&c);
    int32_t seed;
    int64_t idx, T;
    assert_int_equal(capture_parse_npz_name("x/20240101T120000_3_17_-5_1.50.npz", &seed, &idx, &T), 0);
    assert_true(seed == -5 && idx == 3 && T == 17);
    assert_true(capture_parse_npz_name("x/episode.npz", &seed, &idx, &T) < 0);
}

static void bad_npz(const char *file, const char *want) {
    ds_level l;
    cb_err e = {0};
    assert_true(capture_read_npz(file, &l, &e) < 0);
    if (!strstr(e.msg, want)) printf("message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, strrchr(file, '/') + 1));
}

static void test_bad_npz(void **st) {
    (void)st;
    bad_npz(FIX "/bad_dtype_0_5_44_0.00.npz", "unsupported dtype");
    bad_npz(FIX "/bad_missing_0_5_45_0.00.npz", "no 'dones'");
    bad_npz(FIX "/bad_lengths_0_5_46_0.00.npz", "'actions' has shape");
    bad_npz(FIX "/bad_action_0_5_47_0.00.npz", "not one of 0..14");
    bad_npz(FIX "/bad_size_0_5_48_0.00.npz", "64x64");
    char *dir = test_tmpdir();
    uint8_t *buf;
    size_t n;
    cb_err e = {0};
    assert_int_equal(cb_read_file(FIX "/20240101T120000_0_5_42_10.00.npz", &buf, &n, &e), 0);
    char p[4200];
    /* truncated */
    snprintf(p, sizeof p, "%s/trunc_0_5_42_0.00.npz", dir);
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    bad_npz(p, "truncated");
    /* not a zip */
    snprintf(p, sizeof p, "%s/text_0_5_42_0.00.npz", dir);
    f = fopen(p, "wb");
    fputs("this is not a zip file at all, just text\n", f);
    fclose(f);
    bad_npz(p, "not a zip");
    /* zip bomb: a member declaring more bytes than its array header needs */
    capture_zip z;
    assert_int_equal(capture_zip_open(&z, buf, n, "x", &e), 0);
    const capture_zip_member *m = capture_zip_find(&z, "actions.npy");
    assert_non_null(m);
    uint8_t *bomb = malloc(n);
    memcpy(bomb, buf, n);
    /* patch the central directory's uncompressed size of actions.npy */
    for (size_t i = 0; i + 46 < n; i++)
        if (bomb[i] == 0x50 && bomb[i + 1] == 0x4b && bomb[i + 2] == 1 && bomb[i + 3] == 2 &&
            !memcmp(bomb + i + 46, "actions.npy", 11)) {
            uint32_t big = 0x7fffffff;
            memcpy(bomb + i + 24, &big, 4);
        }
    snprintf(p, sizeof p, "%s/bomb_0_5_42_0.00.npz", dir);
    f = fopen(p, "wb");
    fwrite(bomb, 1, n, f);
    fclose(f);
    bad_npz(p, "zip bomb");
    free(bomb);
    free(buf);
    test_rmtree(dir);
    free(dir);
}

/* writes a PNG recording folder with T frames of size w x h */
static void make_pngdir(const char *dir, int T, int w, int h, const char *csv) {
    cb_err e = {0};
    assert_int_equal(cb_mkdirs(dir, &e), 0);
    uint8_t *img = calloc((size_t)w * h * 3, 1);
    for (int t = 0; t < T; t++) {
        char p[4200];
        snprintf(p, sizeof p, "%.4000s/frame_%06d.png", dir, t);
        memset(img, t * 20, (size_t)w * h * 3);
        assert_int_equal(game_write_png(p, img, w, h, &e), 0);
    }
    free(img);
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/actions.csv", dir);
    FILE *f = fopen(p, "w");
    fputs(csv, f);
    fclose(f);
}

static const char *GOOD3 = "step,action,reward,done\n0,7,0,0\n1,8,0,0\n2,4,10,1\n";

/* coinbc's one PNG encoder (game_png_encode, game_write_png) round trips
 * through capture's PNG reader: a rendered frame and a frame of noise come
 * back byte for byte, from memory and from the file, whose bytes are the
 * encoder's; a reused encoder gives the same bytes again. */
static void test_png_encoder_roundtrip(void **st) {
    (void)st;
    static uint8_t img[2][CB_FRAME_BYTES], back[CB_FRAME_BYTES];
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 3, GAME_HARD, &e), 0);
    game_render(img[0], &L, &s, NULL);
    cb_rng r;
    cb_rng_seed(&r, 9);
    for (int i = 0; i < CB_FRAME_BYTES; i++) img[1][i] = (uint8_t)cb_rng_u32(&r);
    char *dir = test_tmpdir();
    game_png enc;
    game_png_init(&enc);
    for (int k = 0; k < 2; k++) {
        int alpha = -1;
        assert_int_equal(game_png_encode(&enc, img[k], CB_FRAME_W, CB_FRAME_H, &e), 0);
        assert_true(enc.n > 8 && !memcmp(enc.data, "\x89PNG", 4));
        assert_int_equal(capture_png_decode(enc.data, enc.n, "mem.png", back, &alpha, &e), 0);
        assert_memory_equal(back, img[k], CB_FRAME_BYTES);
        assert_int_equal(alpha, 0);
        char path[4200];
        snprintf(path, sizeof path, "%s/f%d.png", dir, k);
        assert_int_equal(game_write_png(path, img[k], CB_FRAME_W, CB_FRAME_H, &e), 0);
        uint8_t *file;
        size_t n;
        assert_int_equal(cb_read_file(path, &file, &n, &e), 0);
        assert_int_equal(n, enc.n);
        assert_memory_equal(file, enc.data, n);
        free(file);
        memset(back, 0, sizeof back);
        assert_int_equal(capture_png_read(path, back, &alpha, &e), 0);
        assert_memory_equal(back, img[k], CB_FRAME_BYTES);
    }
    size_t n1 = enc.n;
    uint8_t *first = malloc(n1);
    assert_non_null(first);
    memcpy(first, enc.data, n1);
    assert_int_equal(game_png_encode(&enc, img[1], CB_FRAME_W, CB_FRAME_H, &e), 0);
    assert_int_equal(enc.n, n1);
    assert_memory_equal(enc.data, first, n1);
    free(first);
    assert_int_equal(game_png_encode(&enc, img[0], 0, 64, &e), CB_EARG);
    game_png_free(&enc);
    test_rmtree(dir);
    free(dir);
}

static void bad_png(const char *root, const char *name, int T, int w, int h, const char *csv, const char *want) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s/level_3", root, name);
    make_pngdir(dir, T, w, h, csv);
    ds_level l;
    int alpha;
    cb_err e = {0};
    assert_true(capture_read_pngdir(dir, 3, &l, &alpha, &e) < 0);
    if (!strstr(e.msg, want)) printf("message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, name));
}

static void test_bad_png_recordings(void **st) {
    (void)st;
    char *root = test_tmpdir();
    bad_png(root, "size", 3, 32, 32, GOOD3, "64x64");
    bad_png(root, "fewer_rows", 4, 64, 64, GOOD3, "more frames");
    bad_png(root, "more_rows", 2, 64, 64, GOOD3, "missing");
    bad_png(root, "range", 3, 64, 64, "step,action,reward,done\n0,7,0,0\n1,15,0,0\n2,4,10,1\n", "outside 0..14");
    bad_png(root, "nonnum", 3, 64, 64, "step,action,reward,done\n0,7,0,0\n1,x,0,0\n2,4,10,1\n", "not a number");
    bad_png(root, "nocol", 3, 64, 64, "step,action,done\n0,7,0\n1,8,0\n2,4,1\n", "'reward'");
    /* a gap in the frame numbers */
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/gap/level_3", root);
    make_pngdir(dir, 3, 64, 64, GOOD3);
    snprintf(p, sizeof p, "%s/frame_000001.png", dir);
    unlink(p);
    ds_level l;
    int alpha;
    cb_err e = {0};
    assert_true(capture_read_pngdir(dir, 3, &l, &alpha, &e) < 0);
    assert_non_null(strstr(e.msg, "frame_000001.png"));
    /* truncated / corrupt PNG */
    snprintf(dir, sizeof dir, "%s/corrupt/level_3", root);
    make_pngdir(dir, 3, 64, 64, GOOD3);
    snprintf(p, sizeof p, "%s/frame_000002.png", dir);
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(p, &buf, &n, &e), 0);
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    free(buf);
    assert_true(capture_read_pngdir(dir, 3, &l, &alpha, &e) < 0);
    assert_non_null(strstr(e.msg, "frame_000002.png"));
    /* the CLI: one bad level aborts and writes nothing; --skip-bad keeps the rest */
    snprintf(dir, sizeof dir, "%s/corrupt/level_4", root);
    make_pngdir(dir, 3, 64, 64, GOOD3);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s/corrupt -o %s/c.cbd", root, root), 0);
    assert_non_null(strstr(err, "frame_000002.png"));
    assert_non_null(strstr(err, "nothing was written"));
    snprintf(p, sizeof p, "%s/c.cbd/manifest.txt", root);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/c.cbd/level_4.cbs", root);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --skip-bad %s/corrupt -o %s/c.cbd", root, root), 1);
    assert_non_null(strstr(err, "skipped"));
    assert_non_null(strstr(out, "captured 1 levels"));
    /* the mode: from meta.json, else --mode; a conflict is an error */
    snprintf(p, sizeof p, "%s/corrupt/level_4/meta.json", root);
    f = fopen(p, "w");
    fputs("{\"level\": 4, \"mode\": \"hard\"}\n", f);
    fclose(f);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s/corrupt/level_4 -o %s/m.cbd", root, root), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --mode easy %s/corrupt/level_4 -o %s/m2.cbd", root, root), 0);
    assert_non_null(strstr(err, "says hard"));
    snprintf(p, sizeof p, "%s/m.cbd", root);
    ds_reader *rm;
    assert_int_equal(ds_open(&rm, p, &e), 0);
    assert_int_equal(ds_level_entry(rm, 0)->mode, 1);
    ds_close(rm);
    /* nothing already in a dataset is lost: a failed append keeps it */
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --append %s/size -o %s/c.cbd", root, root), 0);
    ds_reader *r;
    snprintf(p, sizeof p, "%s/c.cbd", root);
    assert_int_equal(ds_open(&r, p, &e), 0);
    assert_int_equal(ds_nlevels(r), 1);
    assert_int_equal(ds_level_seed(r, 0), 4);
    ds_close(r);
    test_rmtree(root);
    free(root);
}

static void test_export_roundtrip_and_filters(void **st) {
    (void)st;
    const char *png = test_refdata("recordings_png");
    const char *npz = test_refdata("recordings_npz");
    char *root = test_tmpdir();
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s --mode easy -o %s/a.cbd", png, root), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --append %s -o %s/a.cbd", npz, root), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info --quiet %s/a.cbd", root), 0);
    assert_non_null(strstr(out, "levels     4 (seeds 5000..6001; 2 easy, 0 hard, 2 unknown mode)"));
    assert_non_null(strstr(out, "frames     377 in 4 episodes"));
    assert_non_null(strstr(out, "RIGHT+UP"));
    /* --levels filter */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s %s --levels 6000-6001 -o %s/f.cbd", png, npz, root), 0);
    assert_non_null(strstr(out, "captured 2 levels"));
    const char *fmts[2] = {"png", "npz"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/a.cbd --format %s -o %s/x%s", root, fmts[k], root, fmts[k]), 0);
        if (k == 0) { /* PNG folders carry the mode (meta.json) */
            assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s/x%s -o %s/b%s.cbd", root, fmts[k], root, fmts[k]), 0);
        } else { /* .npz episodes do not: give it */
            assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --mode easy --levels 5000-5001 %s/x%s -o %s/b%s.cbd", root, fmts[k], root, fmts[k]), 0);
            assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --append --levels 6000-6001 %s/x%s -o %s/b%s.cbd", root, fmts[k], root, fmts[k]), 0);
        }
        for (int32_t s = 5000; s <= 6001; s += (s == 5001 ? 999 : 1)) {
            char p1[4200], p2[4200];
            snprintf(p1, sizeof p1, "%s/a.cbd/level_%d.cbs", root, s);
            snprintf(p2, sizeof p2, "%s/b%s.cbd/level_%d.cbs", root, fmts[k], s);
            uint8_t *b1, *b2;
            size_t n1, n2;
            cb_err e = {0};
            assert_int_equal(cb_read_file(p1, &b1, &n1, &e), 0);
            assert_int_equal(cb_read_file(p2, &b2, &n2, &e), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(b1, b2, n1);
            free(b1);
            free(b2);
        }
    }
    /* several episodes of one level go into one shard, in name order */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s -o %s/two.cbd", FIX "/20240101T120000_0_5_42_10.00.npz " FIX "/20240101-120001_1_5_42_0.00.npz", root), 0);
    assert_non_null(strstr(out, "captured 1 levels (10 frames, 2 episodes)"));
    /* info and split */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info %s/a.cbd --json", root), 0);
    assert_non_null(strstr(out, "\"levels\": 4"));
    /* info --json is JSON whatever the path: a quote is escaped, and a name JSON cannot carry (not UTF-8)
     * is refused naming it */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 7-8 --states 5 --out '%s/q\"x.cbd' --quiet",
                              root), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info '%s/q\"x.cbd' --json --quiet", root), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j) fail_msg("data info --json is not JSON (%s): %s", je.text, out);
    const char *jp = json_string_value(json_object_get(j, "path"));
    assert_non_null(jp);
    assert_non_null(strstr(jp, "/q\"x.cbd"));
    json_t *seeds = json_object_get(j, "seeds");
    assert_int_equal(json_array_size(seeds), 2);
    assert_int_equal(json_integer_value(json_array_get(seeds, 1)), 8);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "modes"), "easy")), 2);
    json_decref(j);
    char q[4200], bad[4200];
    snprintf(q, sizeof q, "%.4000s/q\"x.cbd", root);
    snprintf(bad, sizeof bad, "%.4000s/v\xff.cbd", root);
    assert_int_equal(rename(q, bad), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data info '%s' --json --quiet", bad), 1);
    assert_non_null(strstr(err, "not UTF-8"));
    assert_non_null(strstr(err, "v\xff.cbd"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data split %s/a.cbd --train 5000-5001 --test 6000-6001 -o %s/s", root, root), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "data split %s/a.cbd --train 5000-6000 --test 6000-6001 -o %s/t", root, root), 0);
    assert_non_null(strstr(err, "overlap"));
    test_rmtree(root);
    free(root);
}


/* ---- PNG colour types and bit depths ------------------------------------ */

/* Writes a 64x64 PNG of the given type; sample(x, y, c) gives each stored
 * sample (palette index for palette images). */
typedef unsigned (*sample_fn)(int x, int y, int c);
static void write_png_raw(const char *path, int ct, int depth, int interlace, sample_fn f, const png_color *pal, int npal,
                          const png_byte *trns, int ntrns) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    png_init_io(p, fp);
    png_set_IHDR(p, info, 64, 64, depth, ct, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(p, info, pal, npal);
    if (trns) png_set_tRNS(p, info, trns, ntrns, NULL);
    png_write_info(p, info);
    int ch = ct == PNG_COLOR_TYPE_RGB ? 3 : ct == PNG_COLOR_TYPE_RGBA ? 4 : ct == PNG_COLOR_TYPE_GA ? 2 : 1;
    static png_byte rows[64][64 * 4 * 2];
    png_bytep rp[64];
    for (int y = 0; y < 64; y++) {
        memset(rows[y], 0, sizeof rows[y]);
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = f(x, y, c);
                if (depth == 16) {
                    rows[y][2 * (x * ch + c)] = (png_byte)(v >> 8);
                    rows[y][2 * (x * ch + c) + 1] = (png_byte)v;
                } else if (depth == 8) {
                    rows[y][x * ch + c] = (png_byte)v;
                } else { /* 1, 2, 4 bits, one channel, packed from the high bits */
                    int bit = x * depth;
                    rows[y][bit / 8] |= (png_byte)(v << (8 - depth - bit % 8));
                }
            }
        rp[y] = rows[y];
    }
    png_write_image(p, rp);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(fp);
}

static unsigned s_gray1(int x, int y, int c) { (void)c; return (unsigned)(x + y) & 1; }
static unsigned s_gray2(int x, int y, int c) { (void)c; return (unsigned)(x + 2 * y) & 3; }
static unsigned s_gray4(int x, int y, int c) { (void)c; return (unsigned)(x ^ y) & 15; }
static unsigned s_gray8(int x, int y, int c) { (void)c; return (unsigned)(x * 4 + y) & 255; }
static unsigned s_gray16(int x, int y, int c) { /* 257k +- 100 must round to k */
    (void)c;
    unsigned k = (unsigned)(x * 4 + y) & 255;
    return k * 257 + (x & 1 ? (k < 255 ? 100u : 0u) : 0u) - (x & 1 && k == 255 ? 100u : 0u);
}
static unsigned s_rgb(int x, int y, int c) { return (unsigned)(x * 3 + y * 5 + c * 70) & 255; }
static unsigned s_rgb16(int x, int y, int c) { return s_rgb(x, y, c) * 257; }
static unsigned s_rgba(int x, int y, int c) { return c == 3 ? (unsigned)x * 4 : s_rgb(x, y, c); }
static unsigned s_ga(int x, int y, int c) { return c == 1 ? 128u : s_gray8(x, y, 0); }
static unsigned s_pal(int x, int y, int c) { (void)c; return (unsigned)(x + y) % 5; }

static const png_color PAL[5] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}, {200, 100, 50}};

static void expect_png(const char *path, int want_alpha, unsigned (*want)(int x, int y, int c)) {
    uint8_t rgb[CB_FRAME_BYTES];
    int alpha = -1;
    cb_err e = {0};
    if (capture_png_read(path, rgb, &alpha, &e)) fail_msg("%s", e.msg);
    assert_int_equal(alpha, want_alpha);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++)
                if (rgb[(y * 64 + x) * 3 + c] != want(x, y, c))
                    fail_msg("%s: pixel (%d,%d,%d) is %d, expected %u", path, x, y, c, rgb[(y * 64 + x) * 3 + c],
                             want(x, y, c));
}

static unsigned w_gray1(int x, int y, int c) { (void)c; return s_gray1(x, y, 0) * 255; }
static unsigned w_gray2(int x, int y, int c) { (void)c; return s_gray2(x, y, 0) * 85; }
static unsigned w_gray4(int x, int y, int c) { (void)c; return s_gray4(x, y, 0) * 17; }
static unsigned w_gray8(int x, int y, int c) { (void)c; return s_gray8(x, y, 0); }
/* 16 -> 8 bits by rounding v * 255 / 65535: 257k + 100 rounds to k */
static unsigned w_gray16(int x, int y, int c) { (void)c; return (unsigned)(x * 4 + y) & 255; }
static unsigned w_pal(int x, int y, int c) {
    const png_color *p = &PAL[s_pal(x, y, 0)];
    return c == 0 ? p->red : c == 1 ? p->green : p->blue;
}

static void test_png_colour_types(void **st) {
    (void)st;
    char *dir = test_tmpdir(), p[4200];
    const png_byte trns[2] = {0, 128};
#define PNG_CASE(name, ct, depth, il, fn, pal, np, tr, nt, alpha, want)                 \
    snprintf(p, sizeof p, "%s/%s.png", dir, name);                                    \
    write_png_raw(p, ct, depth, il, fn, pal, np, tr, nt);                             \
    expect_png(p, alpha, want);
    PNG_CASE("gray1", PNG_COLOR_TYPE_GRAY, 1, 0, s_gray1, NULL, 0, NULL, 0, 0, w_gray1);
    PNG_CASE("gray2", PNG_COLOR_TYPE_GRAY, 2, 0, s_gray2, NULL, 0, NULL, 0, 0, w_gray2);
    PNG_CASE("gray4", PNG_COLOR_TYPE_GRAY, 4, 0, s_gray4, NULL, 0, NULL, 0, 0, w_gray4);
    PNG_CASE("gray8", PNG_COLOR_TYPE_GRAY, 8, 0, s_gray8, NULL, 0, NULL, 0, 0, w_gray8);
    PNG_CASE("gray16", PNG_COLOR_TYPE_GRAY, 16, 0, s_gray16, NULL, 0, NULL, 0, 0, w_gray16);
    PNG_CASE("ga8", PNG_COLOR_TYPE_GA, 8, 0, s_ga, NULL, 0, NULL, 0, 1, w_gray8);
    PNG_CASE("rgb8i", PNG_COLOR_TYPE_RGB, 8, 1, s_rgb, NULL, 0, NULL, 0, 0, s_rgb);
    PNG_CASE("rgb16", PNG_COLOR_TYPE_RGB, 16, 0, s_rgb16, NULL, 0, NULL, 0, 0, s_rgb);
    PNG_CASE("rgba8", PNG_COLOR_TYPE_RGBA, 8, 0, s_rgba, NULL, 0, NULL, 0, 1, s_rgb);
    PNG_CASE("pal8", PNG_COLOR_TYPE_PALETTE, 8, 0, s_pal, PAL, 5, NULL, 0, 0, w_pal);
    PNG_CASE("pal8trns", PNG_COLOR_TYPE_PALETTE, 8, 1, s_pal, PAL, 5, trns, 2, 1, w_pal);
#undef PNG_CASE
    /* not a PNG, and a PNG cut inside its image data: named, no crash */
    uint8_t rgb[CB_FRAME_BYTES];
    int alpha;
    cb_err e = {0};
    assert_int_equal(capture_png_decode((const uint8_t *)"GIF89a....", 10, "x.png", rgb, &alpha, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "x.png: not a PNG"));
    snprintf(p, sizeof p, "%s/rgb16.png", dir);
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(p, &buf, &n, &e), 0);
    assert_int_equal(capture_png_decode(buf, n - 40, "cut.png", rgb, &alpha, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "cut.png: damaged PNG"));
    free(buf);
    test_rmtree(dir);
    free(dir);
}

/* ---- actions.csv ------------------------------------------------------- */

static void csv_ok(const char *text, capture_csv *c) {
    cb_err e = {0};
    if (capture_csv_parse(text, strlen(text), "a.csv", c, &e)) fail_msg("%s", e.msg);
}

static void csv_bad(const char *text, const char *want) {
    capture_csv c;
    cb_err e = {0};
    assert_true(capture_csv_parse(text, strlen(text), "a.csv", &c, &e) < 0);
    if (!strstr(e.msg, want)) fail_msg("message '%s' lacks '%s'", e.msg, want);
    assert_non_null(strstr(e.msg, "a.csv"));
}

static void test_actions_csv(void **st) {
    (void)st;
    capture_csv c;
    /* the minimal form: labels = actions, episodes and steps counted from done */
    csv_ok("step,action,reward,done\n0,7,0,0\n1,8,0.5,1\n2,4,10,0\n\n", &c);
    assert_int_equal(c.n, 3);
    assert_true(c.label[1] == 8 && c.action[1] == 8 && c.reward[1] == 0.5f && c.done[1] == 1);
    assert_true(c.episode[1] == 0 && c.episode[2] == 1 && c.step[2] == 0 && c.step[1] == 1);
    capture_csv_free(&c);
    /* every optional column, other column order, CRLF, spaces, a text column coinbc ignores */
    csv_ok("note, done,reward ,action,step,label,executed,episode,episode_step\r\nhello,0,0,7,0,3,7,5,9\r\n"
           "x y z,1,-1.5,8,1,2,8,5,10\r\n",
           &c);
    assert_int_equal(c.n, 2);
    assert_true(c.label[0] == 3 && c.action[0] == 7 && c.episode[1] == 5 && c.step[1] == 10 && c.reward[1] == -1.5f);
    capture_csv_free(&c);
    /* a UTF-8 byte order mark before the header  */
    csv_ok("\xEF\xBB\xBFstep,action,reward,done\n0,7,0,0\n", &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.action[0], 7);
    capture_csv_free(&c);
    csv_bad("", "empty");
    csv_bad("step,action,reward,done\n", "no rows");
    csv_bad("step,action,done\n0,1,0\n", "'reward'");
    csv_bad("step,action,reward,done,action\n0,1,0,0,1\n", "twice");
    csv_bad("step,action,reward,done\n0,1,0,0,9\n", "5 fields, the header has 4");
    csv_bad("step,action,reward,done\n0,1,0\n", "3 fields");
    csv_bad("step,action,reward,done\n0,1,0,0\n2,1,0,0\n", "row number");
    csv_bad("step,action,reward,done\n0,15,0,0\n", "outside 0..14");
    csv_bad("step,action,reward,done\n0,-1,0,0\n", "outside 0..14");
    csv_bad("step,action,reward,done\n0,1.5,0,0\n", "not an integer action");
    csv_bad("step,action,reward,done\n0,2.5,0,0\n", "'2.5' is not an integer action");
    csv_bad("step,action,reward,done\n0,0x2,0,0\n", "not an integer action");
    csv_bad("step,action,reward,done\n0,1e0,0,0\n", "not an integer action");
    csv_bad("step,action,reward,done\n0,2.0,0,0\n", "not an integer action");
    csv_bad("step,label,reward,done,action\n0,2.0,0,0,1\n", "not an integer action");
    csv_bad("step,action,reward,done,label\n0,1,0,0,20\n", "'label' value '20'");
    csv_bad("step,action,reward,done\n0,1,0,2\n", "not 0 or 1");
    csv_bad("step,action,reward,done\n0,1,x,0\n", "not a number");
    csv_bad("step,action,reward,done\n0,1,,0\n", "not a number");
    csv_bad("step,action,reward,done\n0,1,nan,0\n", "not a number");
    csv_bad("step,action,reward,done\n0,1,1e300,0\n", "finite float");
    csv_bad("step,action,reward,done,episode\n0,1,0,0,-3\n", "'episode' value '-3'");
    csv_bad("step,action,reward,done\n0,1,0,0\n1,1,0,0\n2,1,0\n", "a.csv:4:");
}

/* ---- npz dtypes and layouts written by numpy ----------------------------- */

/* frame t of fixture k: (3x + 2y + 50c + 7t + 31k) mod 256 (make_fixtures.py) */
static void expect_frames(const ds_level *l, int64_t at, int k) {
    for (int t = 0; t < 3; t++)
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                for (int c = 0; c < 3; c++)
                    assert_int_equal(l->frames[(size_t)(at + t) * CB_FRAME_BYTES + (size_t)(y * 64 + x) * 3 + c],
                                     (3 * x + 2 * y + 50 * c + 7 * t + 31 * k) % 256);
}

static void test_npz_dtypes(void **st) {
    (void)st;
    static const char *const files[] = {
        "20240102T000000_0_3_50_10.50.npz", /* float16, (T,1) bool dones, channels last, compressed */
        "20240102T000000_1_3_51_10.50.npz", /* big-endian >u2 >f8 >i4, channels first */
        "20240102-000000_2_3_52_10.50.npz", /* uint64, (T,1) float32, uint16, stored */
        "20240102-000000_3_3_53_10.50.npz", /* (T,1) int8, longdouble, float64 */
        "20240102-000000_4_3_54_10.00.npz", /* bool actions, int16 rewards, >i8 dones */
    };
    for (int i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof p, FIX2 "/%s", files[i]);
        ds_level l;
        cb_err e = {0};
        if (capture_read_npz(p, &l, &e)) fail_msg("%s", e.msg);
        assert_int_equal(l.seed, 50 + i);
        assert_int_equal(l.n, 3);
        expect_frames(&l, 0, 0);
        const uint8_t acts[3] = {3, 14, 0}, bacts[3] = {1, 0, 1};
        assert_memory_equal(l.label, i == 4 ? bacts : acts, 3);
        assert_memory_equal(l.action, i == 4 ? bacts : acts, 3);
        assert_true(l.done[0] == 0 && l.done[1] == 0 && l.done[2] == 1);
        assert_true(l.reward[0] == 0.0f && l.reward[2] == 10.0f);
        assert_true(l.reward[1] == (i == 4 ? 0.0f : 0.5f));
        assert_true(l.step[2] == 2 && l.episode[2] == 0);
        ds_level_free(&l);
    }
    bad_npz(FIX2 "/bad_reward_0_3_61_0.00.npz", "bad reward");
    bad_npz(FIX2 "/bad_obsdtype_0_3_62_0.00.npz", "uint8");
    bad_npz(FIX2 "/bad_done_0_3_63_0.00.npz", "done 2");
    bad_npz(FIX2 "/bad_fortran_0_3_64_0.00.npz", "Fortran");
    /* two episodes of one level, index 2 before index 10 (numbers, not text) */
    char *root = test_tmpdir();
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s -o %s/ep.cbd",
                              FIX2 "/20240103-000000_10_3_60_10.50.npz " FIX2 "/20240103-000000_2_3_60_10.50.npz", root),
                     0);
    char p[4200];
    snprintf(p, sizeof p, "%s/ep.cbd", root);
    ds_reader *r;
    cb_err e = {0};
    assert_int_equal(ds_open(&r, p, &e), 0);
    int32_t seed = 60;
    ds_level l;
    assert_int_equal(ds_load(r, &seed, 1, &l, 1, &e), 0);
    assert_int_equal(l.n, 6);
    expect_frames(&l, 0, 1); /* index 2 */
    expect_frames(&l, 3, 2); /* index 10 */
    assert_true(l.episode[2] == 0 && l.episode[3] == 1 && l.step[3] == 0);
    ds_level_free(&l);
    ds_close(r);
    test_rmtree(root);
    free(root);
}

/* A zip holding one member: `data` (raw deflate when method 8) declared as
 * usize bytes with the given CRC. */
static size_t one_member_zip(uint8_t *z, const char *name, int method, const uint8_t *data, size_t n, uint32_t usize,
                             uint32_t crc) {
    size_t nl = strlen(name), k = 0;
#define W16(v) (z[k] = (uint8_t)(v), z[k + 1] = (uint8_t)((v) >> 8), k += 2)
#define W32(v) (W16((v)&0xffff), W16((uint32_t)(v) >> 16))
    W32(0x04034b50); W16(20); W16(0); W16(method); W16(0); W16(0); W32(crc); W32(n); W32(usize); W16(nl); W16(0);
    memcpy(z + k, name, nl), k += nl;
    memcpy(z + k, data, n), k += n;
    size_t cd = k;
    W32(0x02014b50); W16(20); W16(20); W16(0); W16(method); W16(0); W16(0); W32(crc); W32(n); W32(usize); W16(nl);
    W16(0); W16(0); W16(0); W16(0); W32(0); W32(0);
    memcpy(z + k, name, nl), k += nl;
    size_t cdn = k - cd;
    W32(0x06054b50); W16(0); W16(0); W16(1); W16(1); W32(cdn); W32(cd); W16(0);
#undef W16
#undef W32
    return k;
}

static void test_zip_bombs(void **st) {
    (void)st;
    /* 4 MB of zeros deflate to about 4 KB */
    size_t big = 4u << 20;
    uint8_t *zeros = calloc(big, 1), *def = malloc(big), *zip = malloc(big);
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = zeros;
    s.avail_in = (uInt)big;
    s.next_out = def;
    s.avail_out = (uInt)big;
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t dn = s.total_out;
    deflateEnd(&s);
    uint32_t crc = (uint32_t)crc32(0, zeros, (uInt)big);
    capture_zip z;
    cb_err e = {0};
    uint8_t *got;
    size_t gn;
    /* honest: extracts */
    size_t zn = one_member_zip(zip, "a.npy", 8, def, dn, (uint32_t)big, crc);
    assert_int_equal(capture_zip_open(&z, zip, zn, "h.npz", &e), 0);
    assert_int_equal(capture_zip_extract(&z, &z.mem[0], big, &got, &gn, &e), 0);
    assert_int_equal(gn, big);
    free(got);
    /* declares 1000 bytes but inflates to 4 MB: stopped at 1000 */
    zn = one_member_zip(zip, "a.npy", 8, def, dn, 1000, crc);
    assert_int_equal(capture_zip_open(&z, zip, zn, "b.npz", &e), 0);
    assert_int_equal(capture_zip_extract(&z, &z.mem[0], big, &got, &gn, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "b.npz: member a.npy inflates to more than its declared 1000 bytes"));
    /* declares more than 1032x its compressed size: refused before allocating */
    zn = one_member_zip(zip, "a.npy", 8, def, 100, 0x7ffffff0u, crc);
    assert_int_equal(capture_zip_open(&z, zip, zn, "c.npz", &e), 0);
    assert_int_equal(capture_zip_extract(&z, &z.mem[0], UINT64_MAX, &got, &gn, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "zip bomb"));
    /* the member runs past the end of the file */
    zn = one_member_zip(zip, "a.npy", 0, zeros, 100, 100, 0);
    assert_int_equal(capture_zip_open(&z, zip, zn - 22 - 46 - 5 - 60, "d.npz", &e), CB_EFORMAT);
    free(zeros);
    free(def);
    free(zip);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refdata_png_and_npz), cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_bad_npz),             cmocka_unit_test(test_bad_png_recordings),
        cmocka_unit_test(test_export_roundtrip_and_filters),
        cmocka_unit_test(test_png_colour_types),    cmocka_unit_test(test_actions_csv),
        cmocka_unit_test(test_png_encoder_roundtrip),
        cmocka_unit_test(test_npz_dtypes),          cmocka_unit_test(test_zip_bombs),
    };
    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
