/* test_dataset_hostile.c - bounded shard reads, the manifest's integers, the
 * rules between frames, 0-level manifests and lock files. Every hostile dataset is a valid tiny one (two
 * levels written through ds_writer) with one manifest field or one shard
 * edited and the CRCs recomputed, so that only the semantic check can catch
 * it. Each case asserts the exit status of `coinbc data verify` (and of
 * `data info`, which reads through the reader every command uses), that the
 * message names the file (and the level), and that the dataset's files are
 * byte-identical afterwards with nothing added. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "dataset/dataset.h"
#include "dataset/manifest.h"
#include "dataset/shard.h"
#include "tests/support/run.h"

static char out[65536], err[65536];

#define NFR 12 /* frames per level: two episodes of 6 */

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    b[len] = 0;
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* ---- a folder's files, before and after a command ---------------------- */
#define SNAP_MAX 16
typedef struct {
    int n;
    char name[SNAP_MAX][256];
    uint8_t *data[SNAP_MAX];
    size_t len[SNAP_MAX];
    int sized_only[SNAP_MAX]; /* large sparse files: compare sizes */
} snap;

static void snap_take(snap *s, const char *dir) {
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        assert_true(s->n < SNAP_MAX);
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        snprintf(s->name[s->n], sizeof s->name[0], "%s", de->d_name);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        if (!S_ISREG(st.st_mode) || st.st_size > (1 << 24)) {
            s->sized_only[s->n] = 1;
            s->len[s->n] = S_ISREG(st.st_mode) ? (size_t)st.st_size : (size_t)st.st_mode;
        } else {
            s->data[s->n] = slurp(p, &s->len[s->n]);
        }
        s->n++;
    }
    closedir(d);
}

static void snap_free(snap *s) {
    for (int i = 0; i < s->n; i++) free(s->data[i]);
}

/* the folder holds exactly the files of s, byte for byte */
static void snap_same(const snap *s, const char *dir) {
    snap now;
    snap_take(&now, dir);
    if (now.n != s->n) fail_msg("%s: %d files before, %d after", dir, s->n, now.n);
    for (int i = 0; i < s->n; i++) {
        int j = 0;
        while (j < now.n && strcmp(now.name[j], s->name[i])) j++;
        if (j == now.n) fail_msg("%s: %s is gone", dir, s->name[i]);
        if (now.len[j] != s->len[i] || now.sized_only[j] != s->sized_only[i] ||
            (!s->sized_only[i] && memcmp(now.data[j], s->data[i], s->len[i])))
            fail_msg("%s: %s changed", dir, s->name[i]);
    }
    snap_free(&now);
}

/* ---- a valid tiny dataset ----------------------------------------------- */
static void make_level(ds_level *l, int32_t seed, int mode) {
    cb_err e = {0};
    assert_int_equal(ds_level_alloc(l, seed, mode, NFR, &e), 0);
    for (int64_t t = 0; t < NFR; t++) {
        for (int k = 0; k < CB_FRAME_BYTES; k++) l->frames[(size_t)t * CB_FRAME_BYTES + k] = (uint8_t)(k * 7 + t * 13 + seed);
        l->label[t] = (uint8_t)((t * 5 + seed) % 15);
        l->action[t] = (uint8_t)((t * 3 + seed) % 15);
        l->episode[t] = t >= NFR / 2;
        l->step[t] = (int32_t)(t % (NFR / 2));
        l->done[t] = t == NFR / 2 - 1 || t == NFR - 1;
        l->reward[t] = t == NFR - 1 ? 10.0f : 0.0f;
    }
}

static void make_dataset(const char *dir) {
    ds_writer *w;
    cb_err e = {0};
    if (ds_writer_open(&w, dir, 0, "test", "test_dataset_hostile", &e)) fail_msg("%s", e.msg);
    for (int k = 0; k < 2; k++) {
        ds_level l;
        make_level(&l, k ? 8 : 3, k); /* level 3 easy, level 8 hard */
        if (ds_writer_add(w, &l, &e)) fail_msg("%s", e.msg);
        ds_level_free(&l);
    }
    if (ds_writer_commit(w, &e)) fail_msg("%s", e.msg);
}

/* ---- editing the manifest with its end CRC recomputed ------------------- */
/* Replaces the manifest's text before its end line by body (and the end
 * line by one with the right CRC, in lower case unless upper). */
static void manifest_put(const char *ds, const char *body, int upper) {
    char p[4500], end[32];
    snprintf(p, sizeof p, "%s/manifest.txt", ds);
    snprintf(end, sizeof end, upper ? "end %08X\n" : "end %08x\n", (unsigned)crc32(0, (const Bytef *)body, (uInt)strlen(body)));
    size_t bl = strlen(body), el = strlen(end);
    char *t = malloc(bl + el + 1);
    assert_non_null(t);
    memcpy(t, body, bl);
    memcpy(t + bl, end, el + 1);
    spit(p, t, bl + el);
    free(t);
}

/* the manifest's text before its end line (malloc'd) */
static char *manifest_body(const char *ds) {
    char p[4500];
    snprintf(p, sizeof p, "%s/manifest.txt", ds);
    size_t n;
    char *t = (char *)slurp(p, &n);
    char *end = strstr(t, "\nend ");
    assert_non_null(end);
    end[1] = 0;
    return t;
}

/* Replaces the first `from` in the manifest's body by `to`. */
static void manifest_edit(const char *ds, const char *from, const char *to) {
    char *b = manifest_body(ds);
    char *at = strstr(b, from);
    if (!at) fail_msg("manifest lacks '%s'", from);
    size_t nl = strlen(b) - strlen(from) + strlen(to) + 1;
    char *nb = malloc(nl);
    assert_non_null(nb);
    snprintf(nb, nl, "%.*s%s%s", (int)(at - b), b, to, at + strlen(from));
    manifest_put(ds, nb, 0);
    free(nb);
    free(b);
}

/* The level line of `seed` (without '\n') into line. */
static void level_line(const char *ds, int32_t seed, char *line, size_t cap) {
    char *b = manifest_body(ds), key[64];
    snprintf(key, sizeof key, "\nlevel %d ", seed);
    char *at = strstr(b, key);
    assert_non_null(at);
    at++;
    size_t l = strcspn(at, "\n");
    assert_true(l < cap);
    memcpy(line, at, l);
    line[l] = 0;
    free(b);
}

/* Sets field k (0 "level", 1 seed, 2 mode, 3 frames, 4 episodes, 5 file,
 * 6 bytes, 7 crc) of the level line of `seed` to text. */
static void level_field(const char *ds, int32_t seed, int k, const char *text) {
    char line[512], f[8][128], nl[1100];
    level_line(ds, seed, line, sizeof line);
    assert_int_equal(sscanf(line, "%127s %127s %127s %127s %127s %127s %127s %127s", f[0], f[1], f[2], f[3], f[4], f[5], f[6],
                            f[7]),
                     8);
    snprintf(f[k], sizeof f[k], "%s", text);
    snprintf(nl, sizeof nl, "%s %s %s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    manifest_edit(ds, line, nl);
}

/* ---- editing a shard with its CRCs (and the manifest's line) recomputed - */
typedef void (*mutate_fn)(ds_level *l);

/* Decodes level seed's shard, applies mut to its columns, encodes it again
 * (bypassing the writer's checks), then sets header byte hdr_off to hdr_val
 * when hdr_off >= 0 and recomputes the header CRC; the manifest line gets
 * the new size, CRC and episode count. */
static void shard_rewrite(const char *ds, int32_t seed, mutate_fn mut, int hdr_off, uint8_t hdr_val) {
    char p[4500];
    snprintf(p, sizeof p, "%s/level_%d.cbs", ds, seed);
    size_t n;
    uint8_t *old = slurp(p, &n);
    ds_level l;
    cb_err e = {0};
    if (ds_shard_decode(old, n, p, &l, &e)) fail_msg("%s", e.msg);
    free(old);
    if (mut) mut(&l);
    uint8_t *buf;
    size_t bn;
    if (ds_shard_encode(&l, 0, 9, &buf, &bn, &e)) fail_msg("%s", e.msg);
    if (hdr_off >= 0) {
        buf[hdr_off] = hdr_val;
        uint32_t c = (uint32_t)crc32(0, buf, 60);
        for (int i = 0; i < 4; i++) buf[60 + i] = (uint8_t)(c >> (8 * i));
    }
    spit(p, buf, bn);
    char t[64];
    snprintf(t, sizeof t, "%zu", bn);
    level_field(ds, seed, 6, t);
    snprintf(t, sizeof t, "%08x", (unsigned)crc32(0, buf, (uInt)bn));
    level_field(ds, seed, 7, t);
    snprintf(t, sizeof t, "%d", ds_level_episodes(&l));
    level_field(ds, seed, 4, t);
    free(buf);
    ds_level_free(&l);
}

/* `coinbc data SUB DS` exits with status want, its stderr holds every one
 * of the (NULL-ended) strings, and DS is as it was. */
static void expect(const char *sub, const char *ds, int want, ...) {
    snap before;
    snap_take(&before, ds);
    int rc = test_run(out, sizeof out, err, sizeof err, "data %s %s --quiet", sub, ds);
    if (rc != want) fail_msg("data %s: exit %d, want %d; stderr: %s", sub, rc, want, err);
    va_list ap;
    va_start(ap, want);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        if (!strstr(err, s)) fail_msg("data %s: stderr lacks '%s': %s", sub, s, err);
    va_end(ap);
    snap_same(&before, ds);
    snap_free(&before);
}

/* a fresh valid dataset at DIR/NAME.cbd (path into p) */
static void fresh(const char *dir, const char *name, char *p, size_t cap) {
    snprintf(p, cap, "%s/%s.cbd", dir, name);
    test_rmtree(p);
    make_dataset(p);
    expect("verify", p, 0, (const char *)NULL);
}

/* ---- item 7: every integer field of the manifest, exact and in range ----- */
static void test_manifest_integers(void **st) {
    (void)st;
    char *d = test_tmpdir(), ds[4300], mp[4400];
    snprintf(mp, sizeof mp, "%s/m.cbd/manifest.txt", d);
    /* the levels line: wraps to the listed count (4294967298 = 2^32 + 2), out of range, not canonical */
    const char *levels[] = {"levels 4294967298", "levels 4294967300", "levels 99999999999", "levels 18446744073709551618",
                            "levels +2",         "levels 02",         "levels -2",          "levels 2 ",
                            "levels 0x2",        "levels 1048577"};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        fresh(d, "m", ds, sizeof ds);
        manifest_edit(ds, "levels 2", levels[i]);
        expect("verify", ds, 1, mp, "levels", (const char *)NULL);
        expect("info", ds, 1, mp, (const char *)NULL);
    }
    /* the fields of a level line: {field, text}; a seed of 2^32 + 3 wrapped to 3 */
    struct {
        int k;
        const char *text, *want;
    } lv[] = {
        {1, "4294967299", "seed"},     {1, "2147483648", "seed"},     {1, "-2147483649", "seed"}, {1, "+3", "seed"},
        {1, "03", "seed"},             {1, "-0", "seed"},             {2, "insane", "mode"},      {2, "Easy", "mode"},
        {3, "4294967308", "frame"},    {3, "012", "frame"},           {3, "+12", "frame"},        {3, "67108865", "frame"},
        {4, "4294967298", "episode"},  {4, "02", "episode"},          {4, "13", "episode"},       {4, "0", "episode"},
        {4, "-1", "episode"},          {6, "18446744073709551616", "byte"}, {6, "-1", "byte"},    {6, "63", "byte"},
        {7, "1234567", "CRC"},         {7, "123456789", "CRC"},       {7, "0x123456", "CRC"},     {5, "a/b.cbs", "shard name"},
        {5, "..", "shard name"},
    };
    for (size_t i = 0; i < sizeof lv / sizeof *lv; i++) {
        fresh(d, "m", ds, sizeof ds);
        level_field(ds, 3, lv[i].k, lv[i].text);
        expect("verify", ds, 1, mp, lv[i].want, (const char *)NULL);
        expect("info", ds, 1, mp, lv[i].want, (const char *)NULL);
    }
    /* leading zeros of sizes; upper-case CRC hex (the same value) in a level line and in the end line */
    fresh(d, "m", ds, sizeof ds);
    char line[512], f[8][128], t[160];
    level_line(ds, 3, line, sizeof line);
    assert_int_equal(sscanf(line, "%s %s %s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]), 8);
    snprintf(t, sizeof t, "0%s", f[6]);
    level_field(ds, 3, 6, t);
    expect("verify", ds, 1, mp, "byte", (const char *)NULL);
    int upper_tested = 0;
    for (int s = 0; s < 2; s++) {
        fresh(d, "m", ds, sizeof ds);
        level_line(ds, s ? 8 : 3, line, sizeof line);
        assert_int_equal(sscanf(line, "%s %s %s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]), 8);
        if (!strpbrk(f[7], "abcdef")) continue; /* only digits: its upper case is itself */
        for (char *c = f[7]; *c; c++) *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
        level_field(ds, s ? 8 : 3, 7, f[7]);
        expect("verify", ds, 1, mp, "CRC", (const char *)NULL);
        upper_tested = 1;
    }
    assert_true(upper_tested);
    /* the end line in upper case: a source text is chosen so that its CRC has a hex letter */
    fresh(d, "m", ds, sizeof ds);
    char *b = manifest_body(ds);
    for (int k = 0;; k++) {
        char src[64], *nb;
        snprintf(src, sizeof src, "source test %d\n", k);
        char *at = strstr(b, "source test\n");
        assert_non_null(at);
        size_t nl = strlen(b) + 32;
        nb = malloc(nl);
        assert_non_null(nb);
        snprintf(nb, nl, "%.*s%s%s", (int)(at - b), b, src, at + strlen("source test\n"));
        char hex[16];
        snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0, (const Bytef *)nb, (uInt)strlen(nb)));
        if (strpbrk(hex, "abcdef")) {
            manifest_put(ds, nb, 0);
            expect("verify", ds, 0, (const char *)NULL); /* lower case: fine */
            manifest_put(ds, nb, 1);
            expect("verify", ds, 1, mp, "end", (const char *)NULL);
            free(nb);
            break;
        }
        free(nb);
    }
    free(b);
    /* relabel lines: out of range and not canonical */
    const char *rl[] = {"relabel 0 4294967299 1\n", "relabel 00 3 1\n", "relabel 0 3 18446744073709551616\n", "relabel 0 3 01\n",
                        "relabel 4 3 1\n", "relabel +0 3 1\n"};
    for (size_t i = 0; i < sizeof rl / sizeof *rl; i++) {
        fresh(d, "m", ds, sizeof ds);
        char with[128];
        snprintf(with, sizeof with, "%slevels 2", rl[i]);
        manifest_edit(ds, "levels 2", with);
        expect("verify", ds, 1, mp, "relabel", (const char *)NULL);
    }
    /* lines out of the format's order or twice, double spaces, a CR */
    const char *from[] = {"actions 15\n", "levels 2\n", "frame 64 64 3\n", "actions 15\n", "levels 2\n"};
    const char *to[] = {"actions 15\nactions 15\n", "levels  2\n", "", "actions 15\r\n", "levels 2\nframe 64 64 3\n"};
    for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
        fresh(d, "m", ds, sizeof ds);
        manifest_edit(ds, from[i], to[i]);
        expect("verify", ds, 1, mp, (const char *)NULL);
    }
    /* the edits above are refused by the parser itself too (the fuzz target's entry point) */
    ds_manifest m;
    cb_err e = {0};
    const char *bad = "coinbc-dataset 1\nframe 64 64 3\nactions 15\nsource\ncommand\nlevels 1\n"
                      "level 4294967296 easy 1 1 level_0.cbs 200 00000000\n";
    char text[512];
    snprintf(text, sizeof text, "%send %08x\n", bad, (unsigned)crc32(0, (const Bytef *)bad, (uInt)strlen(bad)));
    assert_int_equal(ds_manifest_parse(&m, text, strlen(text), "m.txt", &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "m.txt:7"));
    test_rmtree(d);
    free(d);
}

/* ---- item 11: a manifest of 0 levels ------------------------------------ */
static void test_zero_levels(void **st) {
    (void)st;
    char *d = test_tmpdir(), ds[4300], mp[4400], l3[512], l8[512], two[1100];
    fresh(d, "z", ds, sizeof ds);
    snprintf(mp, sizeof mp, "%s/manifest.txt", ds);
    level_line(ds, 3, l3, sizeof l3);
    level_line(ds, 8, l8, sizeof l8);
    snprintf(two, sizeof two, "levels 2\n%s\n%s\n", l3, l8);
    manifest_edit(ds, two, "levels 0\n");
    expect("verify", ds, 1, mp, "no levels", (const char *)NULL);
    expect("info", ds, 1, mp, "no levels", (const char *)NULL);
    /* a writer never writes one: the commit is refused, and the folder it made is gone */
    char z[4300];
    snprintf(z, sizeof z, "%s/empty.cbd", d);
    ds_writer *w;
    cb_err e = {0};
    assert_int_equal(ds_writer_open(&w, z, 0, "s", "c", &e), 0);
    assert_int_equal(ds_writer_commit(w, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "no levels"));
    struct stat sb;
    assert_int_not_equal(stat(z, &sb), 0);
    test_rmtree(d);
    free(d);
}

/* ---- item 10: shards consistent by CRC but not by the format's rules ------ */
static void m_step_negative(ds_level *l) { l->step[2] = -1; }
static void m_step_same(ds_level *l) { l->step[3] = l->step[2]; }
static void m_step_down(ds_level *l) { l->step[8] = 0; }
static void m_done_middle(ds_level *l) { l->done[2] = 1; }
static void m_episodes_shifted(ds_level *l) {
    for (int64_t t = 0; t < l->n; t++) l->episode[t] += 1;
}
static void m_episode_skips(ds_level *l) {
    for (int64_t t = NFR / 2; t < l->n; t++) l->episode[t] = 2;
}
static void m_episode_back(ds_level *l) { /* 0 0 0 0 0 0 1 1 1 0 0 0, done at each end */
    for (int64_t t = 9; t < l->n; t++) l->episode[t] = 0, l->step[t] = (int32_t)(t - 9);
    l->done[8] = 1;
}

static void test_shard_rules(void **st) {
    (void)st;
    char *d = test_tmpdir(), ds[4300], sp[4400];
    /* header fields: refused by every reader (info here) and by verify */
    struct {
        int off;
        uint8_t val;
        const char *want;
    } hdr[] = {{20, 1, "mode hard"}, {20, 0xff, "mode unknown"}, {52, 1, "reserved"}, {59, 0x80, "reserved"}};
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
        fresh(d, "s", ds, sizeof ds);
        snprintf(sp, sizeof sp, "%s/level_3.cbs", ds);
        shard_rewrite(ds, 3, NULL, hdr[i].off, hdr[i].val);
        expect("verify", ds, 1, sp, "level 3", hdr[i].want, (const char *)NULL);
        expect("info", ds, 1, sp, "level 3", hdr[i].want, (const char *)NULL);
        /* relabel (of level 8 only) does not copy such a shard as it is, and leaves no output */
        snap before;
        snap_take(&before, ds);
        assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data relabel %s --levels 8-8 -o %s/rl.cbd", ds, d), 1);
        assert_non_null(strstr(err, sp));
        assert_non_null(strstr(err, hdr[i].want));
        snap_same(&before, ds);
        snap_free(&before);
        char rl[4400];
        snprintf(rl, sizeof rl, "%s/rl.cbd", d);
        struct stat sb;
        assert_int_not_equal(stat(rl, &sb), 0);
    }
    /* the columns between frames: verify (and writers), not the loaders */
    struct {
        mutate_fn fn;
        const char *want;
    } col[] = {{m_step_negative, "negative step"},          {m_step_same, "step does not increase"},
               {m_step_down, "step does not increase"},     {m_done_middle, "done is set in the middle"},
               {m_episodes_shifted, "not in episode 0"},    {m_episode_skips, "does not go on by one"},
               {m_episode_back, "does not go on by one"}};
    for (size_t i = 0; i < sizeof col / sizeof *col; i++) {
        fresh(d, "s", ds, sizeof ds);
        snprintf(sp, sizeof sp, "%s/level_3.cbs", ds);
        shard_rewrite(ds, 3, col[i].fn, -1, 0);
        expect("verify", ds, 1, sp, "level 3", col[i].want, (const char *)NULL);
        assert_non_null(strstr(out, "1 good, 1 bad"));
        expect("info", ds, 0, (const char *)NULL);
        /* and a writer refuses such a level, writing nothing */
        char w2[4300];
        snprintf(w2, sizeof w2, "%s/w.cbd", d);
        ds_writer *w;
        cb_err e = {0};
        ds_level l;
        make_level(&l, 5, 0);
        col[i].fn(&l);
        assert_int_equal(ds_writer_open(&w, w2, 0, "s", "c", &e), 0);
        assert_int_equal(ds_writer_add(w, &l, &e), CB_ERANGE);
        assert_non_null(strstr(e.msg, "level 5"));
        assert_non_null(strstr(e.msg, col[i].want));
        ds_writer_abort(w);
        ds_level_free(&l);
        struct stat sb;
        assert_int_not_equal(stat(w2, &sb), 0);
    }
    test_rmtree(d);
    free(d);
}

/* ---- item 5: reads bounded by the manifest's byte count and the format's limits */
static void test_bounded_reads(void **st) {
    (void)st;
    char *d = test_tmpdir(), ds[4300], sp[4400], mp[4400];
    /* one byte more than the manifest says, and a sparse 3 GiB file: refused unread */
    for (int k = 0; k < 2; k++) {
        fresh(d, "b", ds, sizeof ds);
        snprintf(sp, sizeof sp, "%s/level_8.cbs", ds);
        struct stat sb;
        assert_int_equal(stat(sp, &sb), 0);
        assert_int_equal(truncate(sp, k ? (off_t)3 << 30 : sb.st_size + 1), 0);
        expect("verify", ds, 1, sp, "level 8", "larger than the", (const char *)NULL);
        expect("info", ds, 1, sp, "level 8", "larger than the", (const char *)NULL);
    }
    /* a shard that is a symlink to /dev/zero */
    fresh(d, "b", ds, sizeof ds);
    snprintf(sp, sizeof sp, "%s/level_8.cbs", ds);
    assert_int_equal(unlink(sp), 0);
    assert_int_equal(symlink("/dev/zero", sp), 0);
    expect("verify", ds, 1, sp, "level 8", "regular", (const char *)NULL);
    expect("info", ds, 1, sp, "level 8", "regular", (const char *)NULL);
    /* a shard that is a FIFO (no writer: a blocking open would hang) */
    fresh(d, "b", ds, sizeof ds);
    snprintf(sp, sizeof sp, "%s/level_3.cbs", ds);
    assert_int_equal(unlink(sp), 0);
    assert_int_equal(mkfifo(sp, 0644), 0);
    expect("verify", ds, 1, sp, "level 3", "FIFO", (const char *)NULL);
    expect("info", ds, 1, sp, "level 3", "FIFO", (const char *)NULL);
    /* manifest.txt longer than a manifest of the most levels can be (sparse), or /dev/zero */
    fresh(d, "b", ds, sizeof ds);
    snprintf(mp, sizeof mp, "%s/manifest.txt", ds);
    assert_int_equal(truncate(mp, (off_t)DS_MANIFEST_MAX + 1), 0);
    expect("verify", ds, 1, mp, "more than", (const char *)NULL);
    assert_int_equal(unlink(mp), 0);
    assert_int_equal(symlink("/dev/zero", mp), 0);
    expect("verify", ds, 1, mp, "regular", (const char *)NULL);
    test_rmtree(d);
    free(d);
}

/* ---- item 11: no .coinbc-lock left after a normal end -------------------- */
static int has_lock(const char *dir) {
    char p[4600];
    snprintf(p, sizeof p, "%s/.coinbc-lock", dir);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void test_no_lock_left(void **st) {
    (void)st;
    char *d = test_tmpdir();
    struct {
        const char *args, *dir;
    } c[] = {
        {"record --levels 0-2 --states 20 --threads 1 --quiet --out %s/a.cbd", "a.cbd"},
        {"record --levels 3-3 --states 20 --threads 1 --quiet --force --out %s/a.cbd", "a.cbd"},
        {"record --levels 0-1 --states 20 --threads 1 --quiet --out %s/rec", "rec"},
        {"capture %s/rec -o %s/c.cbd --quiet", "c.cbd"},
        {"data split %s/a.cbd --train 0-1 --test 2-3 -o %s/sp", "sp-train.cbd"},
        {"data export %s/a.cbd -o %s/ex --quiet", "ex"},
        {"data export %s/a.cbd -o %s/ex --force --quiet", "ex"},
        {"data relabel %s/a.cbd --levels 0-1 -o %s/rl.cbd", "rl.cbd"},
        {"train %s/a.cbd --epochs 1 --max-steps 2 --batch-levels 2 --batch-frames 4 --channels 4,4,4 --hidden 8 "
         "--threads 1 --quiet -o %s/run",
         "run"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char args[1024], dir[4400];
        snprintf(args, sizeof args, c[i].args, d, d);
        int rc = test_run(out, sizeof out, err, sizeof err, "%s", args);
        if (rc != 0) fail_msg("%s: exit %d: %s", args, rc, err);
        snprintf(dir, sizeof dir, "%s/%s", d, c[i].dir);
        if (has_lock(dir)) fail_msg("%s left %s/.coinbc-lock", args, dir);
    }
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/sp-test.cbd", d);
    assert_false(has_lock(dir));
    /* a refused writer (the dataset exists) neither leaves one nor touches the dataset */
    snprintf(dir, sizeof dir, "%s/a.cbd", d);
    expect("verify", dir, 0, (const char *)NULL);
    snap s;
    snap_take(&s, dir);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 5-5 --states 5 --quiet --out %s", dir), 1);
    snap_same(&s, dir);
    snap_free(&s);
    /* a lock still refuses a second writer while held, and goes at release */
    cb_lock a, b;
    cb_err e = {0};
    assert_int_equal(cb_lock_acquire(&a, dir, "first", &e), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 5-5 --states 5 --quiet --force --out %s", dir), 1);
    assert_non_null(strstr(err, "being written by another process"));
    cb_lock_release(&a, 0);
    assert_false(has_lock(dir));
    /* relabel is a writer too: refused while its output is locked */
    char rl[4400];
    snprintf(rl, sizeof rl, "%s/rl2.cbd", d);
    assert_int_equal(cb_lock_acquire(&a, rl, "first", &e), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "data relabel %s --levels 0-1 -o %s", dir, rl), 1);
    assert_non_null(strstr(err, "being written by another process"));
    cb_lock_release(&a, 1);
    struct stat sb;
    assert_int_not_equal(stat(rl, &sb), 0);
    assert_int_equal(cb_lock_acquire(&b, dir, "second", &e), 0);
    assert_true(has_lock(dir));
    cb_lock_release(&b, 0);
    assert_false(has_lock(dir));
    test_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_integers), cmocka_unit_test(test_zero_levels),
        cmocka_unit_test(test_shard_rules),       cmocka_unit_test(test_bounded_reads),
        cmocka_unit_test(test_no_lock_left),
    };
    return cmocka_run_group_tests_name("dataset_hostile", tests, NULL, NULL);
}
