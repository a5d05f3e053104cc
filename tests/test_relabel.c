/* test_relabel.c - coinbc data relabel (dataset/relabel.c): exactly the levels
 * in range get new labels (uniform 0..14, the documented per-level draws,
 * differing from the originals on about 14/15 of frames) with every other
 * column and every frame unchanged; the other shards are byte-identical; the
 * manifest records the relabeling and still reads without it; the output
 * verifies; bad ranges and outputs are refused and a failure leaves nothing;
 * the same seed gives the same bytes for any thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "dataset/dataset.h"
#include "dataset/manifest.h"
#include "tests/support/run.h"

#define NLEV 6
#define NFR 300

static char *mk(const char *dir, const char *name) {
    static char buf[64][4200];
    static int k;
    char *p = buf[k++ % 64], tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/%s", dir, name); /* dir may be an earlier result */
    memcpy(p, tmp, sizeof tmp);
    return p;
}

/* levels 10, 11, ..., 15 with NFR frames, labels skewed like an expert's (mostly 7) */
static void make_dataset(const char *path) {
    cb_err e = {0};
    ds_writer *w;
    assert_int_equal(ds_writer_open(&w, path, 0, "test source", "test command", &e), 0);
    for (int i = 0; i < NLEV; i++) {
        ds_level l;
        assert_int_equal(ds_level_alloc(&l, 10 + i, 1, NFR, &e), 0);
        cb_rng r;
        cb_rng_seed(&r, 100 + (uint64_t)i);
        for (int64_t t = 0; t < NFR; t++) {
            uint8_t *f = l.frames + (size_t)t * CB_FRAME_BYTES;
            for (int k = 0; k < CB_FRAME_BYTES; k++) f[k] = (uint8_t)((k / 3 + t * (i + 1)) & 0xff);
            f[(t * 131) % CB_FRAME_BYTES] = (uint8_t)cb_rng_u32(&r);
            l.label[t] = cb_rng_below(&r, 4) ? 7 : (uint8_t)cb_rng_below(&r, 9);
            l.action[t] = (uint8_t)cb_rng_below(&r, 15);
            l.done[t] = t % 100 == 99;
            l.reward[t] = l.done[t] ? 10.0f : 0.0f;
            l.episode[t] = (int32_t)(t / 100);
            l.step[t] = (int32_t)(t % 100);
        }
        assert_int_equal(ds_writer_add(w, &l, &e), 0);
        ds_level_free(&l);
    }
    assert_int_equal(ds_writer_commit(w, &e), 0);
}

static void read_all(const char *path, uint8_t **buf, size_t *n) {
    cb_err e = {0};
    assert_int_equal(cb_read_file(path, buf, n, &e), 0);
}

static int same_file(const char *a, const char *b) {
    uint8_t *x, *y;
    size_t nx, ny;
    read_all(a, &x, &nx);
    read_all(b, &y, &ny);
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static void load(ds_reader *r, int32_t seed, ds_level *l) {
    cb_err e = {0};
    assert_int_equal(ds_load(r, &seed, 1, l, 1, &e), 0);
}

static void test_relabel_levels(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *in = mk(dir, "in.cbd"), *out = mk(dir, "out.cbd");
    make_dataset(in);
    cb_err e = {0};
    int count = -1;
    assert_int_equal(ds_relabel(in, out, 12, 13, 7, "coinbc data relabel test", 2, &count, &e), 0);
    assert_int_equal(count, 2);
    ds_reader *ri, *ro;
    assert_int_equal(ds_open(&ri, in, &e), 0);
    assert_int_equal(ds_open(&ro, out, &e), 0);
    assert_int_equal(ds_nlevels(ro), NLEV);
    /* the manifest records it; the input has none */
    assert_int_equal(ds_nrelabelings(ri), 0);
    assert_int_equal(ds_nrelabelings(ro), 1);
    assert_int_equal(ds_relabeling_get(ro, 0)->lo, 12);
    assert_int_equal(ds_relabeling_get(ro, 0)->hi, 13);
    assert_true(ds_relabeling_get(ro, 0)->seed == 7);
    assert_string_equal(ds_source(ro), "test source");
    assert_string_equal(ds_command(ro), "coinbc data relabel test");
    for (int i = 0; i < NLEV; i++) {
        int32_t s = 10 + i;
        char name[32];
        snprintf(name, sizeof name, "level_%d.cbs", s);
        assert_int_equal(ds_verify_level(ro, i, &e), 0); /* what data verify runs */
        if (s < 12 || s > 13) {
            assert_true(same_file(mk(in, name), mk(out, name)));
            continue;
        }
        assert_false(same_file(mk(in, name), mk(out, name)));
        ds_level a, b;
        load(ri, s, &a);
        load(ro, s, &b);
        assert_int_equal(a.n, b.n);
        assert_memory_equal(a.frames, b.frames, (size_t)a.n * CB_FRAME_BYTES);
        assert_memory_equal(a.action, b.action, (size_t)a.n);
        assert_memory_equal(a.done, b.done, (size_t)a.n);
        assert_memory_equal(a.reward, b.reward, sizeof(float) * (size_t)a.n);
        assert_memory_equal(a.episode, b.episode, sizeof(int32_t) * (size_t)a.n);
        assert_memory_equal(a.step, b.step, sizeof(int32_t) * (size_t)a.n);
        /* the documented draws: frame t gets the (t+1)-th draw of cb_rng_seed2(seed, level) */
        cb_rng g;
        cb_rng_seed2(&g, 7, (uint64_t)s);
        int differ = 0, hist[15] = {0};
        for (int64_t t = 0; t < b.n; t++) {
            assert_true(b.label[t] < 15);
            assert_int_equal(b.label[t], cb_rng_below(&g, 15));
            differ += b.label[t] != a.label[t];
            hist[b.label[t]]++;
        }
        /* uniform labels: differ from any fixed labels on 14/15 of frames in
         * expectation (280 of 300; sd 4.3), and every action appears */
        assert_true(differ >= 260 && differ <= 296);
        for (int k = 0; k < 15; k++) assert_true(hist[k] > 0);
        ds_level_free(&a);
        ds_level_free(&b);
    }
    ds_close(ri);
    ds_close(ro);
    /* the command-line checker agrees */
    char outb[512];
    assert_int_equal(test_run(outb, sizeof outb, NULL, 0, "data verify %s --quiet", out), 0);
    assert_non_null(strstr(outb, "6 good, 0 bad"));
    uint8_t *man;
    size_t mn;
    read_all(mk(out, "manifest.txt"), &man, &mn);
    assert_non_null(strstr((char *)man, "\ncommand coinbc data relabel test\nrelabel 12 13 7\nlevels 6\n"));
    free(man);
    /* relabeling a relabeled dataset keeps the first record */
    char *out2 = mk(dir, "out2.cbd");
    assert_int_equal(ds_relabel(out, out2, 15, 20, 3, NULL, 1, &count, &e), 0);
    assert_int_equal(count, 1);
    assert_int_equal(ds_open(&ro, out2, &e), 0);
    assert_int_equal(ds_nrelabelings(ro), 2);
    assert_true(ds_relabeling_get(ro, 0)->lo == 12 && ds_relabeling_get(ro, 1)->lo == 15 &&
                ds_relabeling_get(ro, 1)->hi == 20 && ds_relabeling_get(ro, 1)->seed == 3);
    ds_close(ro);
    test_rmtree(dir);
    free(dir);
}

static void test_same_seed_same_bytes(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *in = mk(dir, "in.cbd");
    make_dataset(in);
    cb_err e = {0};
    assert_int_equal(ds_relabel(in, mk(dir, "a.cbd"), 10, 14, 42, "c", 1, NULL, &e), 0);
    assert_int_equal(ds_relabel(in, mk(dir, "b.cbd"), 10, 14, 42, "c", 3, NULL, &e), 0);
    assert_int_equal(ds_relabel(in, mk(dir, "c.cbd"), 10, 14, 43, "c", 1, NULL, &e), 0);
    static const char *files[] = {"manifest.txt", "level_10.cbs", "level_12.cbs", "level_14.cbs", "level_15.cbs"};
    for (int k = 0; k < 5; k++) {
        char a[64], b[64], c[64];
        snprintf(a, sizeof a, "a.cbd/%s", files[k]);
        snprintf(b, sizeof b, "b.cbd/%s", files[k]);
        snprintf(c, sizeof c, "c.cbd/%s", files[k]);
        assert_true(same_file(mk(dir, a), mk(dir, b)));
        /* another seed: other labels, except in the untouched level 15 */
        if (strcmp(files[k], "level_15.cbs")) assert_false(same_file(mk(dir, a), mk(dir, c)));
        else assert_true(same_file(mk(dir, a), mk(dir, c)));
    }
    test_rmtree(dir);
    free(dir);
}

static void refused(const char *in, const char *out, int32_t lo, int32_t hi, int code, const char *want) {
    cb_err e = {0};
    struct stat s0;
    int existed = stat(out, &s0) == 0;
    assert_int_equal(ds_relabel(in, out, lo, hi, 1, "c", 2, NULL, &e), code);
    if (!strstr(e.msg, want)) fail_msg("message '%s' lacks '%s'", e.msg, want);
    assert_null(strchr(e.msg, '\n'));
    struct stat s;
    if (!existed) assert_int_not_equal(stat(out, &s), 0); /* nothing left behind */
}

static void test_refusals(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *in = mk(dir, "in.cbd"), *out = mk(dir, "out.cbd");
    make_dataset(in);
    refused(in, out, 13, 12, CB_EARG, "range 13-12 is empty");
    refused(in, out, 100, 200, CB_ERANGE, "no level in 100-200 (the dataset has 6 levels, seeds 10..15)");
    refused(in, out, 0, 9, CB_ERANGE, "in.cbd: no level in 0-9");
    refused(in, in, 10, 11, CB_EARG, "is the input dataset");
    char alias[4300];
    snprintf(alias, sizeof alias, "%s/../in.cbd", in); /* the same folder under another name */
    refused(in, alias, 10, 11, CB_EARG, "is the input dataset");
    refused(mk(dir, "missing.cbd"), out, 10, 11, CB_ENOTFOUND, "missing.cbd");
    /* an existing non-empty output is refused and left alone; an empty one is used */
    assert_int_equal(mkdir(out, 0755), 0);
    char *keep = mk(out, "keep.txt");
    cb_err e = {0};
    assert_int_equal(cb_write_file_atomic(keep, "x", 1, &e), 0);
    refused(in, out, 10, 11, CB_EEXIST, "out.cbd: exists and is not empty");
    struct stat s;
    assert_int_equal(stat(keep, &s), 0);
    unlink(keep);
    assert_int_equal(ds_relabel(in, out, 10, 11, 1, "c", 2, NULL, &e), 0);
    /* a damaged input shard fails the copy and leaves no output at all */
    char *bad = mk(in, "level_14.cbs");
    FILE *f = fopen(bad, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    fputc(0x55 ^ fgetc(f), f);
    fclose(f);
    char *out3 = mk(dir, "out3.cbd");
    refused(in, out3, 10, 11, CB_ECRC, "level_14.cbs: level 14: CRC32");
    refused(in, out3, 14, 14, CB_ECRC, "level 14");
    /* the command line: usage errors exit 2, refusals 1, with one line naming the file */
    char err[1024];
    assert_int_equal(test_run(NULL, 0, err, sizeof err, "data relabel %s --levels 12-11 -o %s/x.cbd", in, dir), 2);
    assert_non_null(strstr(err, "reversed"));
    assert_int_equal(test_run(NULL, 0, err, sizeof err, "data relabel %s --levels 50-60 -o %s/x.cbd", in, dir), 1);
    assert_non_null(strstr(err, "in.cbd: no level in 50-60"));
    assert_int_equal(test_run(NULL, 0, err, sizeof err, "data relabel %s -o %s/x.cbd", in, dir), 2);
    assert_int_not_equal(stat(mk(dir, "x.cbd"), &s), 0);
    test_rmtree(dir);
    free(dir);
}

static void manifest_with_crc(char *out, size_t n, const char *body) {
    snprintf(out, n, "%send %08x\n", body, (unsigned)crc32(0, (const Bytef *)body, (uInt)strlen(body)));
}

static void test_manifest_relabel_lines(void **st) {
    (void)st;
    const char *head = "coinbc-dataset 1\nframe 64 64 3\nactions 15\nsource s\ncommand c\n";
    const char *lv = "levels 1\nlevel 9 hard 3 1 level_9.cbs 200 0000abcd\n";
    char body[1024], text[2048];
    ds_manifest m;
    cb_err e = {0};
    /* old manifests (no relabel line) still read */
    snprintf(body, sizeof body, "%s%s", head, lv);
    manifest_with_crc(text, sizeof text, body);
    assert_int_equal(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e), 0);
    assert_int_equal(m.nrelabel, 0);
    ds_manifest_free(&m);
    snprintf(body, sizeof body, "%srelabel 0 15 18446744073709551615\nrelabel 9 9 0\n%s", head, lv);
    manifest_with_crc(text, sizeof text, body);
    assert_int_equal(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e), 0);
    assert_int_equal(m.nrelabel, 2);
    assert_true(m.relabel[0].lo == 0 && m.relabel[0].hi == 15 && m.relabel[0].seed == UINT64_MAX);
    assert_true(m.relabel[1].lo == 9 && m.relabel[1].hi == 9 && m.relabel[1].seed == 0);
    ds_manifest_free(&m);
    static const char *bad[] = {"relabel 3 2 1",  "relabel -1 2 3",  "relabel 1 2",     "relabel 01 2 3",
                                "relabel 1 2 -3", "relabel 1 2 3 4", "relabel 1 2 3 ",  "relabel 1 2147483648 3",
                                "relabel",        "relabel  1 2 3",  "relabel 1 2 +3",  "relabel 1 2 99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(body, sizeof body, "%s%s\n%s", head, bad[k], lv);
        manifest_with_crc(text, sizeof text, body);
        assert_true(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e) < 0);
        if (!strstr(e.msg, "m.txt:6: cannot read")) fail_msg("'%s': %s", bad[k], e.msg);
    }
    /* more than the manifest can hold */
    size_t len = (size_t)snprintf(body, sizeof body, "%s", head);
    for (int k = 0; k <= DS_MAX_RELABELINGS; k++) len += (size_t)snprintf(body + len, sizeof body - len, "relabel %d %d 1\n", k, k);
    snprintf(body + len, sizeof body - len, "%s", lv);
    manifest_with_crc(text, sizeof text, body);
    assert_true(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e) < 0);
    assert_non_null(strstr(e.msg, "more than 16 relabel lines"));
    /* written and read back */
    snprintf(body, sizeof body, "%srelabel 4 7 123\n%s", head, lv);
    manifest_with_crc(text, sizeof text, body);
    assert_int_equal(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e), 0);
    char *dir = test_tmpdir();
    assert_int_equal(ds_manifest_write(&m, dir, &e), 0);
    ds_manifest_free(&m);
    uint8_t *back;
    size_t n;
    read_all(mk(dir, "manifest.txt"), &back, &n);
    assert_int_equal(n, strlen(text));
    assert_memory_equal(back, text, n);
    free(back);
    test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relabel_levels),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_manifest_relabel_lines),
    };
    return cmocka_run_group_tests_name("relabel", tests, NULL, NULL);
}
