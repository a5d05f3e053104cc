/* test_capture_hostile.c - npz and .npy containers, actions.csv fields,
 * meta.json, incomplete recordings folders, level folder names and capture's
 * read caps: recordings a hostile user builds, each made here and
 * given to `coinbc capture`. Every case asserts the exit status, that the
 * message names the file (and the level), that the inputs are byte-identical
 * afterwards and that no dataset was written. */
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

#include "capture/npy.h"
#include "capture/zip.h"
#include "tests/support/run.h"

static char out[1 << 16], err[1 << 16];

/* ---- files --------------------------------------------------------------- */

static void put(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void puts_file(const char *path, const char *text) { put(path, text, strlen(text)); }

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)k + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)k, f), (size_t)k);
    fclose(f);
    *n = (size_t)k;
    return b;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* CRC-32 over a folder tree: every name (sorted), type and file content, so
 * any change to the inputs shows. Sparse files are hashed by size only. */
static uint32_t tree_crc(const char *dir, uint32_t crc) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            assert_true(n < 512);
            names[n++] = strdup(de->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        crc = (uint32_t)crc32(crc, (const Bytef *)names[i], (uInt)strlen(names[i]) + 1);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            crc = tree_crc(p, (uint32_t)crc32(crc, (const Bytef *)"/", 1));
        } else if (S_ISREG(st.st_mode) && st.st_size < (1 << 20)) {
            size_t k;
            uint8_t *b = slurp(p, &k);
            assert_non_null(b);
            crc = (uint32_t)crc32(crc, b, (uInt)k);
            free(b);
        } else {
            crc = (uint32_t)crc32(crc, (const Bytef *)&st.st_size, sizeof st.st_size);
        }
        free(names[i]);
    }
    return crc;
}

/* Runs `coinbc capture ARGS -o ROOT/out.cbd` over the input folder `in`,
 * expecting exit status `status`; with status != 0 checks that nothing was
 * written and that stderr holds every one of the NULL-terminated strings.
 * The inputs must be byte-identical afterwards either way. */
static void capture_expect(const char *root, const char *in, const char *extra, int status, ...) {
    uint32_t before = tree_crc(in, 0);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/out.cbd", root);
    test_rmtree(dst);
    int rc = test_run(out, sizeof out, err, sizeof err, "capture --quiet %s %s -o %s", extra, in, dst);
    if (rc != status) print_message("capture %s %s: exit %d, expected %d; stderr: %s\n", extra, in, rc, status, err);
    assert_int_equal(rc, status);
    va_list ap;
    va_start(ap, status);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL)
        if (!strstr(err, want)) fail_msg("capture %s: stderr lacks '%s': %s", in, want, err);
    va_end(ap);
    if (status != 0) assert_int_not_equal(access(dst, F_OK), 0); /* nothing written, not even the folder */
    assert_int_equal(tree_crc(in, 0), before);
}

static void rm(const char *dir, const char *name) {
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(unlink(p), 0);
}

/* A coinbc recording of levels 3..5 (3 states each) in ROOT/NAME. */
static void make_rec(const char *root, const char *name, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/%s", root, name);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 3-5 --states 3 --out %s --quiet", dir), 0);
}

/* ---- item 8: actions.csv and meta.json ------------------------------------ */

static void test_actions_csv_fields(void **st) {
    (void)st;
    char *root = test_tmpdir(), rec[4200], p[4300];
    make_rec(root, "rec", rec, sizeof rec);
    capture_expect(root, rec, "", 0, (const char *)NULL); /* the recording itself is fine */
    snprintf(p, sizeof p, "%s/level_4/actions.csv", rec);
    size_t n;
    uint8_t *good = slurp(p, &n);
    assert_non_null(good);
    static const char hdr[] = "step,action,reward,done,label,executed,episode,episode_step\n";
    struct {
        const char *row1; /* the second row (step 1) of level_4 */
        size_t len;
        const char *want;
    } cases[] = {
        {"1,7\0junk,0,0,7,7,0,1\n", 21, "a NUL byte"},
        {"1,7,0x1p3,0,7,7,0,1\n", 20, "'reward' value '0x1p3'"},
        {"1,7,inf,0,7,7,0,1\n", 18, "'reward' value 'inf'"},
        {"1,+7,0,0,7,7,0,1\n", 17, "'action' value '+7'"},
        {"1,07,0,0,7,7,0,1\n", 17, "'action' value '07'"},
        {"01,7,0,0,7,7,0,1\n", 17, "'step' value '01'"},
        {"1,7,0,0,7,7,4294967296,1\n", 25, "'episode' value '4294967296'"},
        {"1,7,0,0,7,7,0,1\x01\n", 17, "'episode_step' value '1\\x01'"},
        {"1,7,0,1.0,7,7,0,1\n", 18, "'done' value '1.0'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[512];
        size_t m = 0;
        memcpy(text, hdr, sizeof hdr - 1), m += sizeof hdr - 1;
        const char *r0 = "0,7,0,0,7,7,0,0\n", *r2 = "2,7,0,0,7,7,0,2\n";
        memcpy(text + m, r0, strlen(r0)), m += strlen(r0);
        memcpy(text + m, cases[k].row1, cases[k].len), m += cases[k].len;
        memcpy(text + m, r2, strlen(r2)), m += strlen(r2);
        put(p, text, m);
        capture_expect(root, rec, "", 1, "level_4/actions.csv:3", cases[k].want, "nothing was written", (const char *)NULL);
    }
    put(p, good, n);
    free(good);
    test_rmtree(root);
    free(root);
}

static void test_level_meta_json(void **st) {
    (void)st;
    char *root = test_tmpdir(), rec[4200], p[4300];
    make_rec(root, "rec", rec, sizeof rec);
    snprintf(p, sizeof p, "%s/level_5/meta.json", rec);
    size_t n;
    uint8_t *good = slurp(p, &n);
    assert_non_null(good);
    struct {
        const char *text, *want;
    } cases[] = {
        {"not json\n", "not valid JSON"},
        {"", "not valid JSON"},
        {"[1, 2]\n", "not a JSON object"},
        {"{\"mode\": \"insane\"}\n", "\"mode\" must be \"easy\" or \"hard\""},
        {"{\"mode\": \"easy\", \"mode\": \"hard\"}\n", "duplicate"},
        {"{\"mode\": \"easy\", \"extra\": 1}\n", "unknown key \"extra\""},
        {"{\"mode\": 1}\n", "\"mode\" must be"},
        {"{\"mode\": \"easy\", \"level\": 4}\n", "says level 4"},
        {"{\"format\": \"coinbc-export\", \"level\": 5}\n", "\"mode\" is missing"},
        {"{\"format\": \"other\", \"mode\": \"easy\"}\n", "\"format\" is \"other\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        puts_file(p, cases[k].text);
        capture_expect(root, rec, "", 1, "level_5/meta.json", cases[k].want, (const char *)NULL);
    }
    /* record's own, with one key changed in type or value */
    char *t = malloc(n + 64);
    assert_non_null(t);
    memcpy(t, good, n);
    t[n] = 0;
    char *m = strstr(t, "\"mode\": \"easy\"");
    assert_non_null(m);
    memcpy(m, "\"mode\": \"hazy\"", 14);
    put(p, t, n);
    capture_expect(root, rec, "", 1, "level_5/meta.json", "\"mode\" must be", (const char *)NULL);
    memcpy(t, good, n);
    m = strstr(t, "\"format_version\": 1");
    assert_non_null(m);
    m[18] = '2';
    put(p, t, n);
    capture_expect(root, rec, "", 1, "level_5/meta.json", "\"format_version\"", (const char *)NULL);
    free(t);
    /* a bare mode (another tool's meta.json) is not record's, in a folder record wrote */
    puts_file(p, "{\"mode\": \"easy\"}\n");
    capture_expect(root, rec, "", 1, "level_5/meta.json: not coinbc record's", (const char *)NULL);
    /* but is taken in another tool's folder (no plan.json, no run meta.json, no level's from record) */
    rm(rec, "meta.json");
    rm(rec, "plan.json");
    rm(rec, "level_3/meta.json");
    rm(rec, "level_4/meta.json");
    capture_expect(root, rec, "", 0, (const char *)NULL);
    puts_file(p, "{\"mode\": \"easy\", \"level\": 4}\n");
    capture_expect(root, rec, "", 1, "level_5/meta.json: says level 4", (const char *)NULL);
    put(p, good, n);
    free(good);
    test_rmtree(root);
    free(root);
}

/* ---- item 9: completeness --------------------------------------------------- */

static void test_incomplete_recordings(void **st) {
    (void)st;
    char *root = test_tmpdir(), rec[4200], p[4300], q[4300];
    make_rec(root, "rec", rec, sizeof rec);
    snprintf(p, sizeof p, "%s/plan.json", rec);
    assert_int_equal(access(p, F_OK), 0); /* record writes its plan */
    /* a record stopped while writing level 5 (after levels 3 and 4): no run
     * meta.json, level_5 has frames only */
    rm(rec, "meta.json");
    rm(rec, "level_5/meta.json");
    rm(rec, "level_5/actions.csv");
    capture_expect(root, rec, "", 1, rec, "incomplete recording", "plan.json plans levels 3-5", "level 5 not finished",
                   "--allow-incomplete", (const char *)NULL);
    capture_expect(root, rec, "--allow-incomplete", 0, "incomplete recording", "level 5 missing", (const char *)NULL);
    assert_non_null(strstr(out, "captured 2 levels"));
    /* the unfinished level given on its own, with or without a finished one */
    snprintf(p, sizeof p, "%s/level_5", rec);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s -o %s/one.cbd", p, root), 1);
    assert_non_null(strstr(err, "level_5")); /* frames but no actions.csv: not a level folder, nor one of them */
    snprintf(q, sizeof q, "%s/one.cbd", root);
    assert_int_not_equal(access(q, F_OK), 0);
    /* with an actions.csv but no meta.json (killed between the two) */
    snprintf(q, sizeof q, "%s/level_3/actions.csv", rec);
    char q2[4300];
    snprintf(q2, sizeof q2, "%s/level_5/actions.csv", rec);
    size_t n;
    uint8_t *csv = slurp(q, &n);
    assert_non_null(csv);
    put(q2, csv, n);
    free(csv);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet %s -o %s/one.cbd", p, root), 1);
    assert_non_null(strstr(err, "level_5: level 5 is not finished"));
    assert_non_null(strstr(err, "plan.json"));
    snprintf(q, sizeof q, "%s/one.cbd", root);
    assert_int_not_equal(access(q, F_OK), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "capture --quiet --allow-incomplete %s %s/level_4 -o %s/one.cbd",
                              p, rec, root), 0);
    assert_non_null(strstr(err, "left out"));
    assert_non_null(strstr(out, "captured 1 levels"));
    rm(rec, "level_5/actions.csv");
    /* --levels outside what is missing: nothing is missing */
    capture_expect(root, rec, "--levels 3-4", 0, (const char *)NULL);
    /* stopped before level 4 started, and a level folder with actions.csv but no meta.json (killed between the two) */
    test_rmtree(root);
    free(root);
    root = test_tmpdir();
    make_rec(root, "rec", rec, sizeof rec);
    rm(rec, "meta.json");
    rm(rec, "level_3/meta.json");
    snprintf(p, sizeof p, "%s/level_4", rec);
    test_rmtree(p);
    capture_expect(root, rec, "", 1, "levels 3-4 not finished", (const char *)NULL);
    capture_expect(root, rec, "--allow-incomplete", 0, "levels 3-4 missing", (const char *)NULL);
    assert_non_null(strstr(out, "captured 1 levels"));
    /* a complete run's meta.json, but a level of its range is gone */
    test_rmtree(root);
    free(root);
    root = test_tmpdir();
    make_rec(root, "rec", rec, sizeof rec);
    snprintf(p, sizeof p, "%s/level_4", rec);
    test_rmtree(p);
    capture_expect(root, rec, "", 1, "meta.json says levels 3-5 were recorded", "level 4", (const char *)NULL);
    capture_expect(root, rec, "--allow-incomplete", 1, "level 4", (const char *)NULL);
    /* a bad plan.json or run meta.json is an error naming it */
    make_rec(root, "rec2", rec, sizeof rec);
    rm(rec, "meta.json");
    snprintf(p, sizeof p, "%s/plan.json", rec);
    puts_file(p, "{\"format\": \"coinbc-recordings-plan\", \"levels\": \"3-5\"}\n");
    capture_expect(root, rec, "--allow-incomplete", 1, "plan.json", "is missing", (const char *)NULL);
    snprintf(p, sizeof p, "%s/meta.json", rec);
    puts_file(p, "{}");
    capture_expect(root, rec, "", 1, "rec2/meta.json", "coinbc-recordings", (const char *)NULL);
    /* no plan and no run meta.json, some levels finished, one not: a stopped coinbc record of before plan.json */
    rm(rec, "meta.json");
    rm(rec, "plan.json");
    rm(rec, "level_4/meta.json");
    capture_expect(root, rec, "", 1, "incomplete recording", "level 4 has no meta.json", (const char *)NULL);
    capture_expect(root, rec, "--allow-incomplete", 0, "level 4 missing", "not known", (const char *)NULL);
    /* a plan of every int32 seed is walked by runs, not seed by seed */
    char rec3[4200];
    make_rec(root, "rec3", rec3, sizeof rec3);
    rm(rec3, "meta.json");
    snprintf(p, sizeof p, "%s/plan.json", rec3);
    puts_file(p, "{\"format\": \"coinbc-recordings-plan\", \"format_version\": 1, \"coinbc_version\": \"x\", "
                 "\"levels\": \"0-2147483647\", \"level_lo\": 0, \"level_hi\": 2147483647, \"mode\": \"easy\", "
                 "\"states_per_level\": 3, \"noise\": 0, \"seed\": 0}\n");
    capture_expect(root, rec3, "", 1, "levels 0-2, 6-2147483647 not finished", (const char *)NULL);
    /* another tool's folder: no marker anywhere, taken as it is, without a word */
    rm(rec, "level_3/meta.json");
    rm(rec, "level_5/meta.json");
    capture_expect(root, rec, "", 0, (const char *)NULL);
    assert_int_equal(err[0], 0);
    assert_non_null(strstr(out, "captured 3 levels"));
    test_rmtree(root);
    free(root);
}

/* ---- item 7: level folder names --------------------------------------------- */

static void test_level_folder_names(void **st) {
    (void)st;
    char *root = test_tmpdir(), rec[4200], p[4300], q[4300];
    const char *bad[] = {"level_99999999999", "level_+5", "level_007", "level_", "level_5x", "level_-0", "level_2147483648"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "r%zu", k);
        make_rec(root, name, rec, sizeof rec);
        /* another tool's folder (no markers), one level renamed */
        rm(rec, "meta.json");
        rm(rec, "plan.json");
        snprintf(p, sizeof p, "%s/level_4", rec);
        snprintf(q, sizeof q, "%s/%s", rec, bad[k]);
        assert_int_equal(rename(p, q), 0);
        char want[64];
        snprintf(want, sizeof want, "%s: a recording folder must be named level_SEED", bad[k]);
        capture_expect(root, rec, "", 1, want, (const char *)NULL);
        capture_expect(root, q, "", 1, want, (const char *)NULL); /* given on its own */
    }
    /* the widest seeds are fine */
    make_rec(root, "wide", rec, sizeof rec);
    rm(rec, "meta.json");
    rm(rec, "plan.json");
    snprintf(p, sizeof p, "%s/level_4", rec);
    snprintf(q, sizeof q, "%s/level_-2147483648", rec);
    assert_int_equal(rename(p, q), 0);
    snprintf(p, sizeof p, "%s/level_5", rec);
    snprintf(q, sizeof q, "%s/level_2147483647", rec);
    assert_int_equal(rename(p, q), 0);
    /* the level meta.json names levels 4 and 5: it must agree with the folder */
    capture_expect(root, rec, "", 1, "says level 4, but the folder is level -2147483648", (const char *)NULL);
    rm(rec, "level_-2147483648/meta.json");
    rm(rec, "level_2147483647/meta.json");
    rm(rec, "level_3/meta.json");
    capture_expect(root, rec, "", 0, (const char *)NULL);
    assert_non_null(strstr(out, "captured 3 levels"));
    test_rmtree(root);
    free(root);
}

/* ---- item 6: npz containers and .npy headers --------------------------------- */

/* A .npy image with the header dict text given as is (padded as numpy pads). */
static uint8_t *npy_raw(const char *dict, const void *data, size_t nbytes, size_t *n) {
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64, hl = total - 10;
    uint8_t *b = malloc(total + nbytes);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)hl, b[9] = (uint8_t)(hl >> 8);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, dict, dl);
    b[total - 1] = '\n';
    memcpy(b + total, data, nbytes);
    *n = total + nbytes;
    return b;
}

enum { T_STEPS = 2 };

/* An episode of T_STEPS steps; `actions_dict` replaces the actions header
 * (NULL: the normal one), `dup` adds a second actions.npy member. */
static void write_npz(const char *path, const char *actions_dict, int dup) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    capture_zip_writer w;
    capture_zip_writer_init(&w, f);
    static uint8_t obs[(T_STEPS + 1) * 64 * 64 * 3];
    int64_t act[T_STEPS] = {1, 2}, act2[T_STEPS] = {5, 6};
    float rew[T_STEPS] = {0, 10};
    uint8_t don[T_STEPS] = {0, 1};
    uint8_t *b;
    size_t n;
    int64_t so[4] = {T_STEPS + 1, 64, 64, 3}, sv[1] = {T_STEPS};
    assert_int_equal(capture_npy_build("|u1", so, 4, obs, sizeof obs, &b, &n), 0);
    assert_int_equal(capture_zip_writer_add(&w, "observations.npy", b, n), 0);
    free(b);
    if (actions_dict) b = npy_raw(actions_dict, act, sizeof act, &n);
    else assert_int_equal(capture_npy_build("<i8", sv, 1, act, sizeof act, &b, &n), 0);
    assert_int_equal(capture_zip_writer_add(&w, "actions.npy", b, n), 0);
    free(b);
    assert_int_equal(capture_npy_build("<f4", sv, 1, rew, sizeof rew, &b, &n), 0);
    assert_int_equal(capture_zip_writer_add(&w, "rewards.npy", b, n), 0);
    free(b);
    assert_int_equal(capture_npy_build("|b1", sv, 1, don, sizeof don, &b, &n), 0);
    assert_int_equal(capture_zip_writer_add(&w, "dones.npy", b, n), 0);
    free(b);
    if (dup) {
        assert_int_equal(capture_npy_build("<i8", sv, 1, act2, sizeof act2, &b, &n), 0);
        assert_int_equal(capture_zip_writer_add(&w, "actions.npy", b, n), 0);
        free(b);
    }
    assert_int_equal(capture_zip_writer_finish(&w), 0);
    assert_int_equal(fclose(f), 0);
}

static void test_npz_containers(void **st) {
    (void)st;
    char *root = test_tmpdir(), dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/eps", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/20260101-000000_0_2_77_10.00.npz", dir);
    write_npz(p, NULL, 0);
    capture_expect(root, dir, "", 0, (const char *)NULL); /* the well-formed episode is taken */
    /* two members named actions.npy */
    write_npz(p, NULL, 1);
    capture_expect(root, dir, "", 1, "20260101-000000_0_2_77_10.00.npz", "member actions.npy appears twice",
                   (const char *)NULL);
    /* a local header whose name differs from the central directory's */
    write_npz(p, NULL, 0);
    size_t n;
    uint8_t *b = slurp(p, &n);
    assert_non_null(b);
    uint8_t *hit = NULL;
    for (size_t i = 0; i + 30 + 11 <= n && !hit; i++)
        if (!memcmp(b + i, "PK\x03\x04", 4) && !memcmp(b + i + 30, "actions.npy", 11)) hit = b + i + 30;
    assert_non_null(hit);
    hit[0] = 'b'; /* local: bctions.npy, central: actions.npy */
    put(p, b, n);
    free(b);
    capture_expect(root, dir, "", 1, "20260101-000000_0_2_77_10.00.npz", "member actions.npy: its local header names it 'bctions.npy'",
                   (const char *)NULL);
    /* .npy headers numpy refuses, and a key given twice (numpy would take the last) */
    struct {
        const char *dict, *want;
    } cases[] = {
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", "unknown key 'extra'"},
        {"{'descr': '<i8', 'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", "gives the key 'descr' twice"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), 'shape': (2,), }", "gives the key 'shape' twice"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), } junk", "text after its dict"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }}", "text after its dict"},
        {"{'descr': '<i8', 'fortran_order': False, }", "lacks shape"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2), }", "bad value for 'shape'"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': [2], }", "bad value for 'shape'"},
        {"{'descr': '<i8', 'fortran_order': 0, 'shape': (2,), }", "bad value for 'fortran_order'"},
        {"{'descr': '<i8', 'fortran_order': Falsey, 'shape': (2,), }", "bad value for 'fortran_order'"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,),, }", "expected a quoted key"},
        {"['descr', '<i8']", "not a dict literal"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_npz(p, cases[k].dict, 0);
        capture_expect(root, dir, "", 1, "20260101-000000_0_2_77_10.00.npz: actions.npy", cases[k].want, (const char *)NULL);
    }
    /* what numpy writes and takes, in other spellings, is still taken */
    write_npz(p, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2, ) }", 0);
    capture_expect(root, dir, "", 0, (const char *)NULL);
    write_npz(p, "{'shape': (2,), 'fortran_order': False, 'descr': '<i8'}", 0);
    capture_expect(root, dir, "", 0, (const char *)NULL);
    write_npz(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", 0);
    capture_expect(root, dir, "", 0, (const char *)NULL);
    test_rmtree(root);
    free(root);
}

/* ---- read caps: files larger than their format allows are not read ----------- */

static void sparse(const char *path, off_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

static void test_read_caps(void **st) {
    (void)st;
    char *root = test_tmpdir(), rec[4200], p[4300];
    struct {
        const char *file;
        off_t size;
    } cases[] = {
        {"level_4/frame_000001.png", (off_t)2 << 20},
        {"level_4/actions.csv", (off_t)200 << 20},
        {"level_4/meta.json", (off_t)1 << 20},
        {"plan.json", (off_t)1 << 20},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "r%zu", k);
        make_rec(root, name, rec, sizeof rec);
        if (!strcmp(cases[k].file, "plan.json")) rm(rec, "meta.json");
        snprintf(p, sizeof p, "%s/%s", rec, cases[k].file);
        sparse(p, cases[k].size);
        capture_expect(root, rec, "--allow-incomplete", 1, cases[k].file, "more than the", (const char *)NULL);
    }
    snprintf(rec, sizeof rec, "%s/eps", root);
    assert_int_equal(mkdir(rec, 0755), 0);
    snprintf(p, sizeof p, "%s/20260101-000000_0_2_77_10.00.npz", rec);
    sparse(p, (off_t)65 << 20);
    capture_expect(root, rec, "", 1, "20260101-000000_0_2_77_10.00.npz", "more than the", (const char *)NULL);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actions_csv_fields),   cmocka_unit_test(test_level_meta_json),
        cmocka_unit_test(test_incomplete_recordings), cmocka_unit_test(test_level_folder_names),
        cmocka_unit_test(test_npz_containers),       cmocka_unit_test(test_read_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
