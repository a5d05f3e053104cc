/* test_dataset.c - the dataset format: shard round trips with and without the
 * inter-frame filter, damaged shards (magic, version, size, CRC), manifests
 * (missing shard, edited, truncated), atomic writes and appends, parallel
 * loading. */
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

static void fake_level(ds_level *l, int32_t seed, int64_t n) {
    cb_err e = {0};
    assert_int_equal(ds_level_alloc(l, seed, seed % 2, n, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, (uint64_t)seed);
    for (int64_t t = 0; t < n; t++) {
        uint8_t *f = l->frames + (size_t)t * CB_FRAME_BYTES;
        for (int k = 0; k < CB_FRAME_BYTES; k++) f[k] = (uint8_t)((k / 3 + t + (k % 3) * 40) & 0xff);
        f[(t * 7) % CB_FRAME_BYTES] = (uint8_t)cb_rng_u32(&r);
        l->label[t] = (uint8_t)cb_rng_below(&r, 15);
        l->action[t] = (uint8_t)cb_rng_below(&r, 15);
        l->reward[t] = t == n - 1 ? 10.0f : 0.0f;
        l->done[t] = t == n - 1 || t == n / 2;
        l->episode[t] = t > n / 2;
        l->step[t] = (int32_t)(t > n / 2 ? t - n / 2 - 1 : t);
    }
}

static void same_level(const ds_level *a, const ds_level *b) {
    assert_int_equal(a->seed, b->seed);
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->frames, b->frames, (size_t)a->n * CB_FRAME_BYTES);
    assert_memory_equal(a->label, b->label, (size_t)a->n);
    assert_memory_equal(a->action, b->action, (size_t)a->n);
    assert_memory_equal(a->done, b->done, (size_t)a->n);
    assert_memory_equal(a->reward, b->reward, sizeof(float) * (size_t)a->n);
    assert_memory_equal(a->episode, b->episode, sizeof(int32_t) * (size_t)a->n);
    assert_memory_equal(a->step, b->step, sizeof(int32_t) * (size_t)a->n);
}

static void test_shard_roundtrip(void **st) {
    (void)st;
    ds_level a, b;
    fake_level(&a, 7, 20);
    cb_err e = {0};
    for (int filter = 0; filter < 2; filter++) {
        uint8_t *buf;
        size_t n;
        assert_int_equal(ds_shard_encode(&a, filter, 6, &buf, &n, &e), 0);
        assert_int_equal(ds_shard_decode(buf, n, "x.cbs", &b, &e), 0);
        same_level(&a, &b);
        ds_level_free(&b);
        free(buf);
    }
    ds_level_free(&a);
}

static void test_shard_damage(void **st) {
    (void)st;
    ds_level a, b;
    fake_level(&a, 9, 6);
    cb_err e = {0};
    uint8_t *buf;
    size_t n;
    assert_int_equal(ds_shard_encode(&a, 1, 6, &buf, &n, &e), 0);
    uint8_t *c = malloc(n);
    /* bad magic */
    memcpy(c, buf, n);
    c[0] = 'X';
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "s.cbs"));
    assert_non_null(strstr(e.msg, "magic"));
    /* version (header CRC fixed up so the version check is reached) */
    memcpy(c, buf, n);
    c[8] = 9;
    uint32_t crc = (uint32_t)crc32(0, c, 60);
    memcpy(c + 60, &crc, 4);
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "version 9"));
    /* a damaged header */
    memcpy(c, buf, n);
    c[30] ^= 1;
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_ECRC);
    /* truncated */
    assert_int_equal(ds_shard_decode(buf, n - 10, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "truncated"));
    assert_int_equal(ds_shard_decode(buf, 20, "s.cbs", &b, &e), CB_EFORMAT);
    /* payload bit flip */
    memcpy(c, buf, n);
    c[n - 5] ^= 0x10;
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_ECRC);
    assert_non_null(strstr(e.msg, "level 9"));
    free(c);
    free(buf);
    ds_level_free(&a);
}

static char *mk(const char *dir, const char *name) {
    char *p = malloc(4200);
    snprintf(p, 4200, "%s/%s", dir, name);
    return p;
}

static void test_write_read_append(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *ds = mk(dir, "d.cbd");
    cb_err e = {0};
    ds_writer *w;
    ds_level lv[3];
    for (int i = 0; i < 3; i++) fake_level(&lv[i], 100 + i * 10, 5 + i);
    assert_int_equal(ds_writer_open(&w, ds, 0, "test", "coinbc test", &e), 0);
    assert_int_equal(ds_writer_add(w, &lv[1], &e), 0);
    assert_int_equal(ds_writer_add(w, &lv[0], &e), 0);
    assert_int_equal(ds_writer_add(w, &lv[0], &e), CB_EEXIST);
    assert_int_equal(ds_writer_commit(w, &e), 0);
    /* a second writer without append is refused */
    assert_int_equal(ds_writer_open(&w, ds, 0, "t", "c", &e), CB_EEXIST);
    /* append: only the manifest changes; old shards keep their bytes */
    struct stat s0, s1;
    char *sh = mk(ds, "level_100.cbs");
    assert_int_equal(stat(sh, &s0), 0);
    assert_int_equal(ds_writer_open(&w, ds, 1, "test", "append", &e), 0);
    assert_int_equal(ds_writer_add(w, &lv[2], &e), 0);
    assert_int_equal(ds_writer_commit(w, &e), 0);
    assert_int_equal(stat(sh, &s1), 0);
    assert_true(s0.st_ino == s1.st_ino && s0.st_mtime == s1.st_mtime);
    ds_reader *r;
    assert_int_equal(ds_open(&r, ds, &e), 0);
    assert_int_equal(ds_nlevels(r), 3);
    assert_int_equal(ds_level_seed(r, 0), 100); /* sorted by seed */
    assert_int_equal(ds_level_seed(r, 2), 120);
    assert_int_equal(ds_level_entry(r, 0)->episodes, 2);
    int32_t seeds[3] = {120, 100, 110};
    ds_level out[3], out1[3];
    assert_int_equal(ds_load(r, seeds, 3, out, 2, &e), 0);
    assert_int_equal(ds_load(r, seeds, 3, out1, 1, &e), 0);
    same_level(&out[0], &lv[2]);
    same_level(&out[1], &lv[0]);
    same_level(&out[2], &lv[1]);
    for (int i = 0; i < 3; i++) {
        same_level(&out[i], &out1[i]);
        ds_level_free(&out[i]);
        ds_level_free(&out1[i]);
    }
    int32_t missing = 5;
    assert_int_equal(ds_load(r, &missing, 1, out, 1, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "level 5"));
    for (int i = 0; i < 3; i++) assert_int_equal(ds_verify_level(r, i, &e), 0);
    ds_close(r);
    /* an aborted append leaves the dataset as it was */
    ds_level extra;
    fake_level(&extra, 200, 3);
    assert_int_equal(ds_writer_open(&w, ds, 1, "t", "c", &e), 0);
    assert_int_equal(ds_writer_add(w, &extra, &e), 0);
    ds_writer_abort(w);
    char *gone = mk(ds, "level_200.cbs");
    assert_int_not_equal(access(gone, F_OK), 0);
    assert_int_equal(ds_open(&r, ds, &e), 0);
    assert_int_equal(ds_nlevels(r), 3);
    ds_close(r);
    ds_level_free(&extra);
    for (int i = 0; i < 3; i++) ds_level_free(&lv[i]);
    free(gone);
    free(sh);
    test_rmtree(dir);
    free(ds);
    free(dir);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_damaged_datasets(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *ds = mk(dir, "d.cbd");
    cb_err e = {0};
    ds_writer *w;
    ds_level a, b;
    fake_level(&a, 1, 4);
    fake_level(&b, 2, 4);
    assert_int_equal(ds_writer_open(&w, ds, 0, "t", "c", &e), 0);
    assert_int_equal(ds_writer_add(w, &a, &e), 0);
    assert_int_equal(ds_writer_add(w, &b, &e), 0);
    assert_int_equal(ds_writer_commit(w, &e), 0);
    ds_reader *r;
    /* a shard listed in the manifest is missing */
    char *s2 = mk(ds, "level_2.cbs"), *s2b = mk(dir, "keep.cbs");
    assert_int_equal(rename(s2, s2b), 0);
    assert_int_equal(ds_open(&r, ds, &e), 0);
    int32_t seed = 2;
    ds_level out;
    assert_int_equal(ds_load(r, &seed, 1, &out, 1, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "level_2.cbs"));
    assert_non_null(strstr(e.msg, "missing"));
    /* level 1 still loads */
    seed = 1;
    assert_int_equal(ds_load(r, &seed, 1, &out, 1, &e), 0);
    ds_level_free(&out);
    ds_close(r);
    assert_int_equal(rename(s2b, s2), 0);
    /* a flipped byte in a shard: the CRC against the manifest names it */
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(s2, &buf, &n, &e), 0);
    buf[n / 2] ^= 1;
    write_bytes(s2, buf, n);
    assert_int_equal(ds_open(&r, ds, &e), 0);
    seed = 2;
    assert_int_equal(ds_load(r, &seed, 1, &out, 1, &e), CB_ECRC);
    assert_non_null(strstr(e.msg, "level_2.cbs"));
    assert_int_equal(ds_verify_level(r, 1, &e), CB_ECRC);
    ds_close(r);
    /* the CLI's verify names the bad shard and exits non-zero */
    char o[4096], er[4096];
    assert_int_not_equal(test_run(o, sizeof o, er, sizeof er, "data verify --quiet %s", ds), 0);
    assert_non_null(strstr(er, "level_2.cbs"));
    assert_non_null(strstr(o, "1 bad"));
    buf[n / 2] ^= 1;
    write_bytes(s2, buf, n);
    free(buf);
    assert_int_equal(test_run(o, sizeof o, er, sizeof er, "data verify --quiet %s", ds), 0);
    /* manifest: edited, truncated, not a manifest */
    char *mp = mk(ds, "manifest.txt");
    assert_int_equal(cb_read_file(mp, &buf, &n, &e), 0);
    char *ed = strdup((char *)buf);
    char *p = strstr(ed, "level 1 ");
    p[6] = '3';
    write_bytes(mp, ed, n);
    assert_int_equal(ds_open(&r, ds, &e), CB_ECRC);
    assert_non_null(strstr(e.msg, "manifest.txt"));
    write_bytes(mp, buf, n - 5);
    assert_int_equal(ds_open(&r, ds, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "truncated"));
    write_bytes(mp, "hello\n", 6);
    assert_int_equal(ds_open(&r, ds, &e), CB_EFORMAT);
    write_bytes(mp, buf, n);
    assert_int_equal(ds_open(&r, ds, &e), 0);
    ds_close(r);
    assert_int_equal(ds_open(&r, dir, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "not a coinbc dataset"));
    free(ed);
    free(buf);
    free(mp);
    free(s2);
    free(s2b);
    ds_level_free(&a);
    ds_level_free(&b);
    test_rmtree(dir);
    free(ds);
    free(dir);
}

static void test_unwritable_path(void **st) {
    (void)st;
    /* a dataset path that cannot be created fails cleanly and names it */
    if (geteuid() == 0) {
        /* root ignores permissions; use a path under a regular file instead */
        char *dir = test_tmpdir(), *f = mk(dir, "file");
        write_bytes(f, "x", 1);
        char *ds = mk(f, "d.cbd");
        ds_writer *w;
        cb_err e = {0};
        assert_true(ds_writer_open(&w, ds, 0, "t", "c", &e) < 0);
        assert_non_null(strstr(e.msg, "file"));
        free(ds);
        free(f);
        test_rmtree(dir);
        free(dir);
    }
}


/* writes levels into a new dataset at `ds` with the given filter */
static void write_dataset(const char *ds, ds_level *lv, int n, int filter) {
    cb_err e = {0};
    ds_writer *w;
    assert_int_equal(ds_writer_open(&w, ds, 0, "t", "c", &e), 0);
    ds_writer_set_compression(w, filter, 6);
    for (int i = 0; i < n; i++) assert_int_equal(ds_writer_add(w, &lv[i], &e), 0);
    assert_int_equal(ds_writer_commit(w, &e), 0);
}

static void test_iterate_frames(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    ds_level lv[2];
    fake_level(&lv[0], 3, 30);
    fake_level(&lv[1], 4, 1);
    for (int filter = 0; filter < 2; filter++) {
        char *ds = mk(dir, filter ? "f1.cbd" : "f0.cbd");
        write_dataset(ds, lv, 2, filter);
        ds_reader *r;
        cb_err e = {0};
        assert_int_equal(ds_open(&r, ds, &e), 0);
        for (int i = 0; i < 2; i++) {
            ds_iter *it;
            ds_frame f;
            assert_int_equal(ds_iter_open(&it, r, lv[i].seed, &e), 0);
            assert_int_equal(ds_iter_frames(it), lv[i].n);
            int64_t t = 0;
            int rc;
            while ((rc = ds_iter_next(it, &f, &e)) > 0) {
                assert_int_equal(f.t, t);
                assert_memory_equal(f.rgb, lv[i].frames + (size_t)t * CB_FRAME_BYTES, CB_FRAME_BYTES);
                assert_true(f.label == lv[i].label[t] && f.action == lv[i].action[t] && f.done == lv[i].done[t]);
                assert_true(f.reward == lv[i].reward[t] && f.episode == lv[i].episode[t] && f.step == lv[i].step[t]);
                t++;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(t, lv[i].n);
            assert_int_equal(ds_iter_next(it, &f, &e), 0); /* stays at the end */
            ds_iter_close(it);
        }
        /* whole-level loading of a filtered dataset, on two threads */
        int32_t seeds[2] = {4, 3};
        ds_level out[2];
        assert_int_equal(ds_load(r, seeds, 2, out, 2, &e), 0);
        same_level(&out[0], &lv[1]);
        same_level(&out[1], &lv[0]);
        ds_level_free(&out[0]);
        ds_level_free(&out[1]);
        ds_iter *it;
        assert_int_equal(ds_iter_open(&it, r, 77, &e), CB_ENOTFOUND);
        assert_non_null(strstr(e.msg, "level 77"));
        ds_close(r);
        /* a damaged shard is refused when the iterator opens */
        char *sh = mk(ds, "level_3.cbs");
        uint8_t *buf;
        size_t n;
        assert_int_equal(cb_read_file(sh, &buf, &n, &e), 0);
        buf[n - 3] ^= 0x40;
        write_bytes(sh, buf, n);
        assert_int_equal(ds_open(&r, ds, &e), 0);
        assert_int_equal(ds_iter_open(&it, r, 3, &e), CB_ECRC);
        assert_non_null(strstr(e.msg, "level_3.cbs"));
        ds_close(r);
        free(buf);
        free(sh);
        free(ds);
    }
    ds_level_free(&lv[0]);
    ds_level_free(&lv[1]);
    test_rmtree(dir);
    free(dir);
}

/* sets header fields of a shard image and fixes its header CRC */
static void patch_header(uint8_t *c, int off, const void *v, size_t n) {
    memcpy(c + off, v, n);
    uint32_t crc = (uint32_t)crc32(0, c, 60);
    memcpy(c + 60, &crc, 4);
}

static void test_shard_sizes(void **st) {
    (void)st;
    ds_level a, b;
    fake_level(&a, 11, 4);
    cb_err e = {0};
    uint8_t *buf, *c;
    size_t n;
    assert_int_equal(ds_shard_encode(&a, 0, 6, &buf, &n, &e), 0);
    c = malloc(n);
    /* a frame count that does not fit the raw size */
    memcpy(c, buf, n);
    uint32_t nf = 5;
    patch_header(c, 28, &nf, 4);
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "does not fit 5 frames"));
    /* a million frames claimed from a few hundred bytes: refused before allocating */
    memcpy(c, buf, n);
    nf = 1u << 20;
    uint64_t raw = (uint64_t)nf * (15 + CB_FRAME_BYTES);
    patch_header(c, 28, &nf, 4);
    patch_header(c, 32, &raw, 8);
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "cannot inflate"));
    /* a shape other than 64x64x3 */
    memcpy(c, buf, n);
    uint16_t w = 32;
    patch_header(c, 22, &w, 2);
    assert_int_equal(ds_shard_decode(c, n, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "32x64x3"));
    /* a payload that inflates to fewer bytes than the header says */
    ds_level shorter;
    fake_level(&shorter, 11, 3);
    uint8_t *sb;
    size_t sn;
    assert_int_equal(ds_shard_encode(&shorter, 0, 6, &sb, &sn, &e), 0);
    nf = 4;
    raw = 4 * (uint64_t)(15 + CB_FRAME_BYTES);
    patch_header(sb, 28, &nf, 4);
    patch_header(sb, 32, &raw, 8);
    assert_int_equal(ds_shard_decode(sb, sn, "s.cbs", &b, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "does not inflate"));
    free(sb);
    ds_level_free(&shorter);
    free(c);
    free(buf);
    ds_level_free(&a);
}

static void test_writer_refuses_bad_values(void **st) {
    (void)st;
    char *dir = test_tmpdir(), *ds = mk(dir, "d.cbd");
    cb_err e = {0};
    ds_writer *w;
    ds_level a;
    fake_level(&a, 5, 4);
    assert_int_equal(ds_writer_open(&w, ds, 0, "t", "c", &e), 0);
    a.done[2] = 2;
    assert_int_equal(ds_writer_add(w, &a, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 5: frame 2"));
    a.done[2] = 0;
    a.reward[1] = 1.0f / 0.0f;
    assert_int_equal(ds_writer_add(w, &a, &e), CB_ERANGE);
    a.reward[1] = 0;
    a.label[3] = 15;
    assert_int_equal(ds_writer_add(w, &a, &e), CB_ERANGE);
    ds_writer_abort(w);
    char *sh = mk(ds, "level_5.cbs"), *mp = mk(ds, "manifest.txt");
    assert_int_not_equal(access(sh, F_OK), 0);
    assert_int_not_equal(access(mp, F_OK), 0);
    free(sh);
    free(mp);
    ds_level_free(&a);
    test_rmtree(dir);
    free(dir);
    free(ds);
}

/* a manifest text with a correct end CRC */
static void manifest_with_crc(char *buf, size_t cap, const char *body) {
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)body, (uInt)strlen(body));
    snprintf(buf, cap, "%send %08x\n", body, crc);
}

static void manifest_bad(const char *body, const char *want) {
    char text[2048];
    manifest_with_crc(text, sizeof text, body);
    ds_manifest m;
    cb_err e = {0};
    assert_true(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e) < 0);
    if (!strstr(e.msg, want)) fail_msg("message '%s' lacks '%s'", e.msg, want);
}

static void test_manifest_rules(void **st) {
    (void)st;
    const char *head = "coinbc-dataset 1\nframe 64 64 3\nactions 15\nsource s\ncommand c\n";
    char body[1024], text[2048];
    snprintf(body, sizeof body, "%slevels 2\nlevel 9 hard 3 1 level_9.cbs 200 0000abcd\nlevel 2 easy 4 2 level_2.cbs 210 00000001\n", head);
    manifest_with_crc(text, sizeof text, body);
    ds_manifest m;
    cb_err e = {0};
    assert_int_equal(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e), 0);
    assert_int_equal(m.n, 2);
    assert_true(m.e[0].seed == 2 && m.e[1].seed == 9 && m.e[1].mode == 1 && m.e[1].crc == 0xabcd); /* sorted */
    ds_manifest_free(&m);
    snprintf(body, sizeof body, "%slevels 2\nlevel 9 hard 3 1 a.cbs 100 00000000\nlevel 9 easy 4 2 b.cbs 210 00000001\n", head);
    manifest_bad(body, "listed twice");
    snprintf(body, sizeof body, "%slevels 3\nlevel 9 hard 3 1 a.cbs 100 00000000\n", head);
    manifest_bad(body, "says 3 levels but lists 1");
    snprintf(body, sizeof body, "%slevels 1\nlevel 9 hard 3 1 ../a.cbs 100 00000000\n", head);
    manifest_bad(body, "cannot read");
    snprintf(body, sizeof body, "%slevels 1\nlevel 9 hard -3 1 a.cbs 100 00000000\n", head);
    manifest_bad(body, "cannot read");
    snprintf(body, sizeof body, "coinbc-dataset 2\nlevels 0\n");
    manifest_bad(body, "version 2");
    snprintf(body, sizeof body, "coinbc-dataset 1\nframe 84 84 3\nlevels 0\n");
    manifest_bad(body, "84x84x3");
    snprintf(text, sizeof text, "coinbc-dataset 1\nlevels 0\nend 00000000\nmore\n");
    assert_true(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e) < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_roundtrip),   cmocka_unit_test(test_shard_damage),
        cmocka_unit_test(test_write_read_append), cmocka_unit_test(test_damaged_datasets),
        cmocka_unit_test(test_unwritable_path),   cmocka_unit_test(test_iterate_frames),
        cmocka_unit_test(test_shard_sizes),       cmocka_unit_test(test_writer_refuses_bad_values),
        cmocka_unit_test(test_manifest_rules),
    };
    return cmocka_run_group_tests_name("dataset", tests, NULL, NULL);
}
