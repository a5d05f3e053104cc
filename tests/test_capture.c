/* test_capture.c - recordings into datasets: procgen's reference recordings
 * (PNG folders and numpy's savez_compressed), numpy-written fixtures of other
 * layouts and dtypes, exact export round trips, and every kind of bad input
 * (each named in the error, nothing written or lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <png.h>
#include <zlib.h>

#include "capture/capture.h"
#include "game/game.h"
#include "capture/zip.h"
#include "tests/support/refdata.h"
#include "tests/support/run.h"

#define FIX "tests/fixtures/npz"

static char out[8192], err[8192];

static void test_refdata_png_and_npz(void **st) {
    (void)st;
    const char *png = test_refdata("recordings_png/level_5000");
    const char *npz = test_refdata("recordings_npz/20261122-110822_0_101_6000_10.00.npz");
    if (!png || !npz) skip();
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
    uint8_t ref[DS_FRAME_BYTES];
    assert_true(png_image_finish_read(&im, NULL, ref, 0, NULL));
    assert_memory_equal(l.frames + 3 * DS_FRAME_BYTES, ref, DS_FRAME_BYTES);
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
    assert_int_equal(n, 5 * DS_FRAME_BYTES);
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
        snprintf(p, sizeof p, "%s/frame_%06d.png", dir, t);
        memset(img, t * 20, (size_t)w * h * 3);
        assert_int_equal(game_write_png(p, img, w, h, &e), 0);
    }
    free(img);
    char p[4200];
    snprintf(p, sizeof p, "%s/actions.csv", dir);
    FILE *f = fopen(p, "w");
    fputs(csv, f);
    fclose(f);
}

static const char *GOOD3 = "step,action,reward,done\n0,7,0,0\n1,8,0,0\n2,4,10,1\n";

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
    if (!png || !npz) skip();
    char *root = test_tmpdir();
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s %s -o %s/a.cbd", png, npz, root), 0);
    assert_non_null(strstr(out, "captured 4 levels (377 frames"));
    /* --levels filter */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s %s --levels 6000-6001 -o %s/f.cbd", png, npz, root), 0);
    assert_non_null(strstr(out, "captured 2 levels"));
    const char *fmts[2] = {"png", "npz"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data export %s/a.cbd --format %s -o %s/x%s", root, fmts[k], root, fmts[k]), 0);
        assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s/x%s -o %s/b%s.cbd", root, fmts[k], root, fmts[k]), 0);
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
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data split %s/a.cbd --train 5000-5001 --test 6000-6001 -o %s/s", root, root), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "data split %s/a.cbd --train 5000-6000 --test 6000-6001 -o %s/t", root, root), 0);
    assert_non_null(strstr(err, "overlap"));
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refdata_png_and_npz), cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_bad_npz),             cmocka_unit_test(test_bad_png_recordings),
        cmocka_unit_test(test_export_roundtrip_and_filters),
    };
    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
