/* test_train_strict.c - strict resume, validation disjoint from training, option ranges, through
 * coinbc train as a user runs it, on tiny datasets this test writes:
 *   - --resume takes what is not given from config.json and refuses every
 *     option or dataset that differs, naming each (old and new value); only
 *     --epochs, --max-steps, --threads and --quiet may differ; a resume
 *     with no options continues to the bytes of an uninterrupted run;
 *   - --val and --val-levels are refused when they share a level (a seed
 *     in the same mode) with the training levels;
 *   - --max-steps -1, --batch-frames above the shortest level, and
 *     config.json values outside train's ranges (one table, run/config.c)
 *     or a params count the network does not build are refused;
 *   - without validation the summary says so instead of "nan".
 * Every refusal: the exit status, the message naming the file (and level),
 * the inputs and the run folder byte-identical, nothing written. */
#include <dirent.h>
#include <math.h>
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

#include "train/train.h"
#include "tests/support/run.h"

#define NET "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 4 --lr 0.003 --quiet"

static char *root;
static char D[4200], D2[4200], DC[4200], V[4200], VO[4200], VH[4200];
static char out[16384], err[16384];

/* A dataset of n levels (seeds seed0.., mode), `frames` frames each (level
 * short_seed gets short_frames), random pixels and labels from `salt`. */
static void write_data(const char *path, int32_t seed0, int n, int mode, int frames, int32_t short_seed,
                       int short_frames, uint64_t salt) {
    ds_writer *w;
    cb_err e = {0};
    if (ds_writer_open(&w, path, 0, "test", "coinbc test_train_strict", &e)) fail_msg("%s", e.msg);
    for (int i = 0; i < n; i++) {
        int32_t seed = seed0 + i;
        int64_t nf = seed == short_seed ? short_frames : frames;
        ds_level l;
        if (ds_level_alloc(&l, seed, mode, nf, &e)) fail_msg("%s", e.msg);
        cb_rng r;
        cb_rng_seed2(&r, salt, (uint64_t)seed);
        for (int64_t f = 0; f < nf; f++) {
            for (int k = 0; k < CB_FRAME_BYTES; k += 4) l.frames[(size_t)f * CB_FRAME_BYTES + k] = (uint8_t)cb_rng_below(&r, 256);
            l.label[f] = l.action[f] = (uint8_t)cb_rng_below(&r, 3);
            l.reward[f] = 0;
            l.done[f] = f == nf - 1;
            l.episode[f] = 0;
            l.step[f] = (int32_t)f;
        }
        if (ds_writer_add(w, &l, &e)) fail_msg("%s", e.msg);
        ds_level_free(&l);
    }
    if (ds_writer_commit(w, &e)) fail_msg("%s", e.msg);
}

/* ---- byte-identical folders --------------------------------------------------- */

/* a digest of every file under dir: names, sizes and contents, in name
 * order; the writer's lock file (.coinbc-lock, empty) is not a record */
static uint32_t tree_digest(const char *dir) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return 0;
    uint32_t crc = crc32(0, NULL, 0);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char p[8400];
        snprintf(p, sizeof p, "%s/%s", dir, nm);
        struct stat st;
        if (strcmp(nm, ".") && strcmp(nm, "..") && strcmp(nm, ".coinbc-lock") && lstat(p, &st) == 0) {
            crc = crc32(crc, (const Bytef *)nm, (uInt)strlen(nm) + 1);
            if (S_ISDIR(st.st_mode)) {
                uint32_t sub = tree_digest(p);
                crc = crc32(crc, (const Bytef *)&sub, sizeof sub);
            } else {
                FILE *f = fopen(p, "rb");
                assert_non_null(f);
                char buf[65536];
                size_t k;
                while ((k = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, (const Bytef *)buf, (uInt)k);
                fclose(f);
                crc = crc32(crc, (const Bytef *)&st.st_size, sizeof st.st_size);
            }
        }
        free(names[i]);
    }
    free(names);
    return crc;
}

/* the inputs of every case: the datasets */
static uint32_t inputs_digest(void) {
    const char *all[] = {D, D2, DC, V, VO, VH};
    uint32_t c = 0;
    for (int i = 0; i < 6; i++) c = c * 31u + tree_digest(all[i]);
    return c;
}

static char *slurp(const char *dir, const char *name, size_t *n) {
    char p[8400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    b[sz] = 0;
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void assert_same_file(const char *a, const char *b, const char *name) {
    size_t na, nb;
    char *x = slurp(a, name, &na), *y = slurp(b, name, &nb);
    if (na != nb || memcmp(x, y, na)) fail_msg("%s differs between %s and %s", name, a, b);
    free(x), free(y);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static int setup(void **state) {
    (void)state;
    root = test_tmpdir();
    if (!root) return -1;
    snprintf(D, sizeof D, "%s/d.cbd", root);
    snprintf(D2, sizeof D2, "%s/d2.cbd", root);  /* the same seeds, other content */
    snprintf(DC, sizeof DC, "%s/dc.cbd", root);  /* a byte copy of d.cbd under another name */
    snprintf(V, sizeof V, "%s/v.cbd", root);
    snprintf(VO, sizeof VO, "%s/vo.cbd", root);  /* validation sharing levels 104, 105 with d.cbd */
    snprintf(VH, sizeof VH, "%s/vh.cbd", root);  /* d.cbd's seeds in hard mode: other levels */
    write_data(D, 100, 6, 0, 24, 103, 12, 1);
    write_data(D2, 100, 6, 0, 24, 103, 12, 2);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", D, DC);
    if (system(cmd)) return -1;
    write_data(V, 200, 2, 0, 24, -1, 0, 3);
    write_data(VO, 104, 3, 0, 24, -1, 0, 4);
    write_data(VH, 100, 2, 1, 24, -1, 0, 5);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    test_rmtree(root);
    free(root);
    return 0;
}

/* ---- item 3: --resume is the run it continues ----------------------------------- */

static void test_resume_refuses_changes(void **state) {
    (void)state;
    char run[4200], full[4200];
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(full, sizeof full, "%s/full", root);
    const char *opts = NET " --method and --tau 0.5 --epochs 2 --seed 5 --wd 0.0001";
    /* the uninterrupted run, and one stopped by --max-steps at step 5 */
    int rc = test_run(out, sizeof out, err, sizeof err, "train %s --val %s %s -o %s", D, V, opts, full);
    if (rc) fail_msg("train: %s", err);
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --val %s %s --max-steps 5 -o %s", D, V, opts, run);
    if (rc) fail_msg("train: %s", err);
    printf("stopped before an epoch ended: %s", out); /* validation levels, none measured yet */
    assert_non_null(strstr(out, "not validated yet"));
    assert_null(strstr(out, "-1.0000"));
    uint32_t in0 = inputs_digest(), run0 = tree_digest(run);
    /* each differing option or dataset is refused, named with its old and new value */
    static const struct {
        const char *args, *want;
    } bad[] = {
        {"--method mean", "--method and (now mean)"},
        {"--tau 0.7", "--tau 0.5 (now 0.7)"},
        {"--lr 0.001", "--lr 0.003 (now 0.001)"},
        {"--seed 6", "--seed 5 (now 6)"},
        {"--wd 0.01", "--wd 0.0001 (now 0.01)"},
        {"--wd-mode decoupled", "--wd-mode l2 (now decoupled)"},
        {"--rescale off", "--rescale on (now off)"},
        {"--lr-schedule const", "--lr-schedule step (now const)"},
        {"--batch-frames 2", "--batch-frames 4 (now 2)"},
        {"--hidden 8", "--hidden 16 (now 8)"},
        {"--train-levels 100-104", "--train-levels 100-105 (now 100-104)"},
        {"--val-levels 200-200", "--val-levels 200-201 (now 200-200)"},
        {"--val VH", "another dataset"},
        {"DATA2", "another dataset"},
        {"--lr 0.002 --seed 7", "2 settings differ"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[8600];
        const char *data = "";
        if (!strcmp(bad[i].args, "DATA2")) data = D2, extra[0] = 0;
        else if (!strcmp(bad[i].args, "--val VH")) snprintf(extra, sizeof extra, "--val %s --val-levels 100-101", VH);
        else snprintf(extra, sizeof extra, "%s", bad[i].args);
        rc = test_run(out, sizeof out, err, sizeof err, "train %s --resume %s --quiet -o %s", data, extra, run);
        printf("resume %s: status %d: %s", bad[i].args, rc, err);
        assert_int_equal(rc, 1);
        if (!strstr(err, bad[i].want)) fail_msg("the message does not say '%s'", bad[i].want);
        assert_non_null(strstr(err, run));
        assert_non_null(strstr(err, "config.json"));
        assert_non_null(strstr(err, "Only --epochs, --max-steps, --threads and --quiet"));
        if (!strcmp(bad[i].args, "DATA2")) assert_non_null(strstr(err, D2));
        assert_int_equal(inputs_digest(), in0);
        assert_int_equal(tree_digest(run), run0);
    }
    /* the same options given again, DATA under another name (a byte copy:
     * the same manifest CRC) and nothing else: accepted; the run keeps its
     * --max-steps 5, so there is nothing to do and nothing is written */
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --resume --method and --tau 0.5 --quiet -o %s", DC, run);
    printf("resume at its --max-steps: status %d: %s%s", rc, out, err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "nothing to do"));
    assert_non_null(strstr(out, "--max-steps"));
    assert_int_equal(tree_digest(run), run0);
    /* --max-steps 0 (no limit), DATA by another name, no other option:
     * continues as the run was started, to the bytes of the uninterrupted
     * run (config.json included: the run's own data path and CRC are kept) */
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --resume --max-steps 0 --threads 1 --quiet -o %s", DC, run);
    if (rc) fail_msg("resume: %s", err);
    printf("resumed: %s", out);
    const char *files[] = {"config.json", "latest.ckpt", "best.ckpt", "metrics.jsonl", "agreement.json"};
    for (int k = 0; k < 5; k++)
        if (strcmp(files[k], "metrics.jsonl")) assert_same_file(full, run, files[k]);
    run_config c;
    cb_err e = {0};
    if (run_config_read(&c, run, &e)) fail_msg("%s", e.msg);
    assert_string_equal(c.data, D);
    assert_string_equal(c.val_data, V);
    assert_int_equal(c.method, RUN_METHOD_AND);
    /* --epochs may extend the run; no DATA given: config.json's */
    rc = test_run(out, sizeof out, err, sizeof err, "train --resume --epochs 3 --quiet -o %s", run);
    if (rc) fail_msg("resume --epochs 3: %s", err);
    if (run_config_read(&c, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(c.epochs, 3);
    assert_true(c.tau == 0.5 && c.lr == 0.003 && c.seed == 5);
    /* no run to resume: said so, nothing written */
    char none[4200];
    snprintf(none, sizeof none, "%s/none", root);
    rc = test_run(out, sizeof out, err, sizeof err, "train --resume --quiet -o %s", none);
    printf("resume of nothing: %s", err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, none));
    assert_false(exists(none));
    test_rmtree(run);
    test_rmtree(full);
}

/* ---- item 4: validation levels are never training levels --------------------------- */

static void test_val_disjoint(void **state) {
    (void)state;
    char run[4200];
    snprintf(run, sizeof run, "%s/vrun", root);
    uint32_t in0 = inputs_digest();
    static const struct {
        const char *fmt, *level;
        int same_data;
    } bad[] = {
        {"train %s --val %s " NET " -o %s", "level 100 (easy mode)", 1},         /* --val TRAIN itself */
        {"train %s --val %s " NET " -o %s", "level 104 (easy mode)", 0},         /* VO shares 104, 105 */
        {"train %s --train-levels 100-103 --val-levels 103-105 " NET " -o %s", "level 103", 2},
        {"train %s --train-levels 104-105 --val %s --val-levels 100-104 " NET " -o %s", "level 104", 1},
    };
    for (int i = 0; i < 4; i++) {
        int rc;
        if (bad[i].same_data == 2) rc = test_run(out, sizeof out, err, sizeof err, bad[i].fmt, D, run);
        else rc = test_run(out, sizeof out, err, sizeof err, bad[i].fmt, D, bad[i].same_data ? D : VO, run);
        printf("overlap %d: status %d: %s", i, rc, err);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(err, bad[i].level));
        assert_non_null(strstr(err, D));
        if (bad[i].same_data == 0) assert_non_null(strstr(err, VO));
        assert_non_null(strstr(err, "validation levels must not be training levels"));
        assert_false(exists(run));
        assert_int_equal(inputs_digest(), in0);
    }
    /* the same seeds in hard mode are other levels: accepted */
    int rc = test_run(out, sizeof out, err, sizeof err, "train %s --val %s " NET " --max-steps 2 -o %s", D, VH, run);
    if (rc) fail_msg("train --val hard levels: %s", err);
    test_rmtree(run);
}

/* ---- item 11: train's ranges, one definition --------------------------------------- */

static void test_bad_values(void **state) {
    (void)state;
    char run[4200];
    snprintf(run, sizeof run, "%s/brun", root);
    uint32_t in0 = inputs_digest();
    /* --max-steps -1: a usage error, nothing written */
    int rc = test_run(out, sizeof out, err, sizeof err, "train %s " NET " --max-steps -1 -o %s", D, run);
    printf("--max-steps -1: status %d: %s", rc, err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--max-steps -1 is outside 0.."));
    assert_false(exists(run));
    /* --batch-frames above the shortest training level (103: 12 frames) */
    rc = test_run(out, sizeof out, err, sizeof err, "train %s " NET " --batch-frames 13 -o %s", D, run);
    printf("--batch-frames 13: status %d: %s", rc, err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "--batch-frames 13 is more than the 12 frames of level 103 of"));
    assert_non_null(strstr(err, D));
    assert_false(exists(run));
    /* without level 103 it fits (every other level has 24), and without
     * validation the summary says so instead of "val acc nan" */
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --train-levels 104-105 " NET " --batch-frames 13 --epochs 1 "
                  "-o %s", D, run);
    if (rc) fail_msg("train: %s", err);
    printf("no validation: %s", out);
    assert_non_null(strstr(out, "no validation levels"));
    assert_null(strstr(out, "nan"));
    assert_null(strstr(out, "-1.0000"));
    assert_int_equal(inputs_digest(), in0);
    /* validation added on resume: another run, refused */
    uint32_t run0 = tree_digest(run);
    rc = test_run(out, sizeof out, err, sizeof err, "train --resume --val %s --epochs 2 --quiet -o %s", V, run);
    printf("validation added on resume: status %d: %s", rc, err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "validation data none (now"));
    assert_int_equal(tree_digest(run), run0);
    assert_int_equal(inputs_digest(), in0);
    test_rmtree(run);
}

static void copy_tree(const char *from, const char *to) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* rewrites the line `  "key": VALUE,` of RUN/config.json */
static void set_key(const char *run, const char *key, const char *value) {
    size_t n;
    char *s = slurp(run, "config.json", &n), pat[64];
    snprintf(pat, sizeof pat, "\n  \"%s\": ", key);
    char *p = strstr(s, pat);
    if (!p) fail_msg("config.json has no key %s", key);
    p += strlen(pat);
    char *q = p;
    while (*q && *q != '\n') q++;
    int comma = q > p && q[-1] == ',';
    char path[8400], *t = malloc(n + strlen(value) + 4);
    assert_non_null(t);
    sprintf(t, "%.*s%s%s%s", (int)(p - s), s, value, comma ? "," : "", q);
    snprintf(path, sizeof path, "%s/config.json", run);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(t, f);
    fclose(f);
    free(s), free(t);
}

/* Each entry of the option table: a config.json holding a value just outside
 * the range is refused by the strict reader (coinbc report and train
 * --resume), naming the file and the key, and `train --OPTION value` is
 * refused with the same bound; a params count the network does not build is
 * refused naming it. */
static void test_config_ranges(void **state) {
    (void)state;
    char run[4200], good[4200];
    snprintf(run, sizeof run, "%s/crun", root);
    snprintf(good, sizeof good, "%s/cgood", root);
    int rc = test_run(out, sizeof out, err, sizeof err, "train %s " NET " --max-steps 2 -o %s", D, good);
    if (rc) fail_msg("train: %s", err);
    size_t n;
    char *orig = slurp(good, "config.json", &n);
    int checked = 0;
    for (int side = 0; side < 2; side++) /* just below the lower bound, just above the upper one */
    for (int i = 0; i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        if (r->type != RUN_OPT_INT && r->type != RUN_OPT_REAL) continue; /* the schema's words, flags, paths: no range */
        char val[64], opt[64];
        test_rmtree(run);
        if (r->integer) {
            if (side ? r->ihi == INT64_MAX : r->ilo == INT64_MIN) continue;
            snprintf(val, sizeof val, "%lld", side ? (long long)r->ihi + 1 : (long long)r->ilo - 1);
        } else {
            if (side && isinf(r->hi)) continue;
            snprintf(val, sizeof val, "%.17g", side ? (r->hi_open ? r->hi : r->hi + 1) : (r->lo_open ? r->lo : r->lo - 1));
        }
        char cli_val[64];
        snprintf(cli_val, sizeof cli_val, !strcmp(r->key, "channels") ? "%s,4,4" : "%s", val);
        snprintf(opt, sizeof opt, "%s", r->key);
        for (char *p = opt; *p; p++)
            if (*p == '_') *p = '-';
        /* train --OPTION value: a usage error */
        rc = test_run(out, sizeof out, err, sizeof err, "train %s " NET " --%s %s -o %s", D, opt, cli_val, run);
        printf("--%s %s: status %d: %s", opt, cli_val, rc, err);
        assert_int_equal(rc, 2);
        assert_true(strstr(err, "is outside") || strstr(err, "int32 range")); /* (an int option's own parser first) */
        assert_false(exists(run));
        if (!r->in_config || !strcmp(r->key, "channels")) continue;
        /* config.json with that value */
        test_rmtree(run);
        copy_tree(good, run);
        set_key(run, r->key, val);
        uint32_t run0 = tree_digest(run);
        char want[128];
        snprintf(want, sizeof want, "config.json: key \"%s\" is ", r->key);
        rc = test_run(out, sizeof out, err, sizeof err, "report %s --json", run);
        printf("config.json %s %s: report: status %d: %s", r->key, val, rc, err);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, "outside"));
        rc = test_run(out, sizeof out, err, sizeof err, "train --resume --epochs 3 --quiet -o %s", run);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(err, want));
        assert_int_equal(tree_digest(run), run0);
        checked++;
    }
    assert_true(checked >= 16);
    /* "params": 1, and a real key read as an integer: refused */
    test_rmtree(run);
    copy_tree(good, run);
    set_key(run, "params", "1");
    rc = test_run(out, sizeof out, err, sizeof err, "report %s --json", run);
    printf("params 1: status %d: %s", rc, err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "config.json: key \"params\" is 1, but the network it describes"));
    free(orig);
    test_rmtree(run);
    test_rmtree(good);
}

/* the library: run_config_decode with lr -1 from a text, and train_run's
 * check of the same option, both through the one table entry */
static void test_one_definition(void **state) {
    (void)state;
    const run_option_range *lr = run_option_find("lr"), *ms = run_option_find("max_steps");
    assert_non_null(lr);
    assert_non_null(ms);
    assert_true(lr->lo == 0 && lr->lo_open);
    assert_true(ms->integer && ms->ilo == 0);
    cb_err e = {0};
    assert_int_equal(run_option_check_real("lr", -1, "f.json", 1, CB_EFORMAT, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "f.json: key \"lr\" is -1, outside (0, inf)"));
    assert_int_equal(run_option_check_real("lr", 1e-3, "f.json", 1, CB_EFORMAT, &e), 0);
    assert_int_equal(run_option_check_int("max_steps", -1, "train", 0, CB_EARG, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "train: --max-steps -1 is outside 0.."));
    assert_int_equal(run_option_check_real("tau", 0.5, NULL, 0, CB_EARG, &e), 0);
    assert_int_equal(run_option_check_real("nosuch", 0.5, NULL, 0, CB_EARG, &e), CB_EARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_definition),
        cmocka_unit_test(test_resume_refuses_changes),
        cmocka_unit_test(test_val_disjoint),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_config_ranges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
