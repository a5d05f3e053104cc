/* test_method_table.c - the method table and the option schema change no
 * record: for every method, tiny coinbc train runs (train's defaults, every
 * option given explicitly with values other than the defaults, and a
 * --resume that extends a run) must write the same bytes as the code before
 * the table and the schema did. The expected CRC32s below were recorded with
 * that code (branch h-methods, its first commit) by running this program
 * with COINBC_METHOD_TABLE_PRINT=1; they do not depend on the change. They
 * hold trained weights, so they are per kind of CPU (OpenBLAS's kernel
 * family): the AVX-512 kernels' (recorded on Cooperlake kernels, and the
 * same on SkylakeX's) from that code, Zen's recorded later (below).
 *
 * Every command runs inside the test's folder, with relative paths. What is
 * compared, per run folder: config.json (coinbc's version replaced by "V"), latest.ckpt, best.ckpt,
 * agreement.json, metrics.csv without its seconds column, and metrics.jsonl
 * without its two timing keys (the only bytes that depend on the clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <zlib.h>

#include <jansson.h>
#include <math.h>

#include "common/common.h"
#include "run/run.h"
#include "tests/support/blas.h"
#include "tests/support/run.h"
#include "train/method.h"

static char *root;
static char coinbc[4096];

/* `coinbc ARGS` run inside root, so that every path a record holds (the
 * datasets' manifests name their command line) is relative and the same in
 * every run of this test; stdout and stderr to root/log. The exit status. */
static int run_in_root(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_in_root(const char *fmt, ...) {
    char args[2048], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >log 2>&1 </dev/null", root, coinbc, args);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void print_log(void) {
    char p[4200], line[512];
    snprintf(p, sizeof p, "%s/log", root);
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof line, f)) fputs(line, stderr);
    if (f) fclose(f);
}

static char *slurp(const char *dir, const char *name, size_t *n) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
    s[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return s;
}

/* every occurrence of `what` in s (NUL-terminated) replaced by `with` */
static char *replace_all(char *s, const char *what, const char *with) {
    size_t wn = strlen(what), rn = strlen(with), cap = strlen(s) * 2 + 64, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (const char *p = s; *p;) {
        if (!strncmp(p, what, wn)) {
            memcpy(t + k, with, rn), k += rn, p += wn;
        } else t[k++] = *p++;
        assert_true(k + rn + 1 < cap);
    }
    t[k] = 0;
    free(s);
    return t;
}

/* metrics.csv without its 8th column (seconds) */
static char *csv_untimed(char *s) {
    char *t = malloc(strlen(s) + 1);
    assert_non_null(t);
    size_t k = 0;
    int col = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n') col = 0;
        else if (*p == ',') col++;
        if (col == 7) continue;
        t[k++] = *p;
    }
    t[k] = 0;
    free(s);
    return t;
}

/* metrics.jsonl without "seconds": X and "samples_per_s": X */
static char *jsonl_untimed(char *s) {
    static const char *const keys[] = {"\"seconds\": ", "\"samples_per_s\": "};
    for (int i = 0; i < 2; i++) {
        char *p;
        while ((p = strstr(s, keys[i]))) {
            char *q = p + strlen(keys[i]);
            while (*q && *q != ',' && *q != '}') q++;
            if (*q == ',') q++;
            while (*q == ' ') q++;
            memmove(p, q, strlen(q) + 1);
        }
    }
    return s;
}

static const char *const FILES[] = {"config.json", "latest.ckpt", "best.ckpt", "agreement.json", "metrics.csv",
                                    "metrics.jsonl"};
#define NFILES 6

static void crcs(const char *run, uint32_t crc[NFILES]) {
    for (int f = 0; f < NFILES; f++) {
        size_t n;
        char *s = slurp(run, FILES[f], &n);
        if (f == 0) s = replace_all(s, "\"" CB_VERSION "\"", "\"V\"");
        if (f == 4) s = csv_untimed(s);
        if (f == 5) s = jsonl_untimed(s);
        if (f == 0 || f >= 3) n = strlen(s);
        /* a checkpoint ends with the CRC32 of what precedes it, so the CRC32 of the whole file is a constant */
        if ((f == 1 || f == 2) && n >= 4) n -= 4;
        crc[f] = (uint32_t)crc32(0, (const unsigned char *)s, (uInt)n);
        free(s);
    }
}

static const char *const METHODS[] = {"mean", "and", "sand", "geomean", "tand"};
#define NMETHODS 5
/* the network and batch of every run (small and fast), then the run's own options */
#define BASE "--net nature --channels 4,4,4 --hidden 16 --epochs 2 --batch-levels 2 --batch-frames 4 --threads 1 --quiet"
/* every option of train with a value other than its default */
#define EXPLICIT "--tau 0.5 --sand-k 2 --tand-beta 0.7 --rescale off --lr 1e-3 --beta1 0.8 --wd 1e-3 " \
                 "--wd-mode decoupled --lr-schedule const --sampling epoch --best-by loss --seed 3 --max-steps 0"

enum { RUN_DEFAULTS, RUN_EXPLICIT, RUN_RESUMED, NKINDS };
static const char *const KIND[NKINDS] = {"defaults", "explicit", "resumed"};

/* [method * NKINDS + kind][file], recorded with the code before the method table */
static const uint32_t WANT_AVX512[NMETHODS * NKINDS][NFILES] = {
    /* mean    defaults */ {0xba17d7c0u, 0x07c6d20eu, 0x07c6d20eu, 0xfe5d8501u, 0xd8cf0afbu, 0x29bd6a5eu},
    /* mean    explicit */ {0xc913efafu, 0x63380b08u, 0x63380b08u, 0x91e9e025u, 0x3e2132e3u, 0x798bcbe0u},
    /* mean    resumed  */ {0x74b3f3d8u, 0xec69a8cbu, 0x07c6d20eu, 0x548a0dc9u, 0xf0f48474u, 0x30bba445u},
    /* and     defaults */ {0x6d35809bu, 0xf21f7b4eu, 0xf21f7b4eu, 0xd48a366bu, 0x1ef1443au, 0x062c2706u},
    /* and     explicit */ {0x1a7068eeu, 0x1e6f2c40u, 0x1e6f2c40u, 0x18bfcc03u, 0x4fe86b61u, 0x4f46dc57u},
    /* and     resumed  */ {0xa391a483u, 0xb53e7439u, 0xf21f7b4eu, 0x488179acu, 0x64c712f2u, 0x05053f0eu},
    /* sand    defaults */ {0x69b03704u, 0xe61eb22eu, 0xe61eb22eu, 0xd48a366bu, 0x50596f30u, 0x37ecfd25u},
    /* sand    explicit */ {0x558594e3u, 0xb3f085d7u, 0xb3f085d7u, 0x7f4b7ba2u, 0x42a16bb8u, 0xeef0b2b7u},
    /* sand    resumed  */ {0xa714131cu, 0x9e64d75bu, 0xe61eb22eu, 0x488179acu, 0xa86f8164u, 0x02098297u},
    /* geomean defaults */ {0x725ea9d7u, 0x9ca6e609u, 0x9ca6e609u, 0xc74de7acu, 0x40f96453u, 0x21699671u},
    /* geomean explicit */ {0x146df468u, 0xbbe42e0eu, 0xbbe42e0eu, 0x906b9706u, 0x66d3c1adu, 0x7653ac27u},
    /* geomean resumed  */ {0xbcfa8dcfu, 0xca6ab965u, 0x9ca6e609u, 0x5f7b05d0u, 0x97756bf5u, 0xa317e1f7u},
    /* tand    defaults */ {0x5c870807u, 0xea472cb3u, 0xea472cb3u, 0x8d325fcdu, 0x507063bcu, 0x08f0ca1du},
    /* tand    explicit */ {0x62d423a3u, 0x2c4e0970u, 0x2c4e0970u, 0x38449bedu, 0x6e17607du, 0x23cb43f7u},
    /* tand    resumed  */ {0x92232c1fu, 0xed4e229bu, 0xea472cb3u, 0xa695b1a8u, 0x90d2f0ffu, 0xef0fcb88u},
};

/* The same on OpenBLAS's Zen kernels (AMD EPYC), which round the products
 * differently (tests/support/blas.h): recorded on 2026-12-02 with the code
 * of commit 658f8b2, after the method table, so on Zen this guards later
 * changes rather than the table itself (it agreed with the AVX-512 table
 * above wherever the bytes do not hold trained weights: the configs, the
 * agreement records, most metrics.csv files). */
static const uint32_t WANT_ZEN[NMETHODS * NKINDS][NFILES] = {
    /* mean    defaults */ {0xba17d7c0u, 0x3409e028u, 0x3409e028u, 0xfe5d8501u, 0xd8cf0afbu, 0xf5d06aadu},
    /* mean    explicit */ {0xc913efafu, 0x1a22dc68u, 0x1a22dc68u, 0x91e9e025u, 0x3e2132e3u, 0x1804b303u},
    /* mean    resumed  */ {0x74b3f3d8u, 0x7a52ea9au, 0x3409e028u, 0x548a0dc9u, 0xf0f48474u, 0x9e30fe92u},
    /* and     defaults */ {0x6d35809bu, 0x01e63c35u, 0x01e63c35u, 0xd48a366bu, 0x1ef1443au, 0x5bb685efu},
    /* and     explicit */ {0x1a7068eeu, 0x750ad100u, 0x750ad100u, 0x18bfcc03u, 0x4fe86b61u, 0x206665a5u},
    /* and     resumed  */ {0xa391a483u, 0xcbd6bff8u, 0x01e63c35u, 0x488179acu, 0x64c712f2u, 0x63f25c89u},
    /* sand    defaults */ {0x69b03704u, 0xf536e8dcu, 0xf536e8dcu, 0xd48a366bu, 0x50596f30u, 0x4cb88902u},
    /* sand    explicit */ {0x558594e3u, 0x787f272au, 0x787f272au, 0x7f4b7ba2u, 0xbf8f38f7u, 0xf7d1621cu},
    /* sand    resumed  */ {0xa714131cu, 0x981de89eu, 0xf536e8dcu, 0x488179acu, 0xa86f8164u, 0x895c7eeau},
    /* geomean defaults */ {0x725ea9d7u, 0x1b7626d6u, 0x1b7626d6u, 0xc74de7acu, 0x40f96453u, 0x49b6f5a3u},
    /* geomean explicit */ {0x146df468u, 0xf0d8e4e2u, 0xf0d8e4e2u, 0x906b9706u, 0x66d3c1adu, 0xd55cc85cu},
    /* geomean resumed  */ {0xbcfa8dcfu, 0x81fa6364u, 0x1b7626d6u, 0x5f7b05d0u, 0x97756bf5u, 0xbbc0bb9cu},
    /* tand    defaults */ {0x5c870807u, 0x81b5ee58u, 0x81b5ee58u, 0x8d325fcdu, 0x507063bcu, 0xba7d4293u},
    /* tand    explicit */ {0x62d423a3u, 0x83c940c7u, 0x83c940c7u, 0x38449bedu, 0x6e17607du, 0xd46a3fddu},
    /* tand    resumed  */ {0x92232c1fu, 0xf9b2f1cdu, 0x81b5ee58u, 0xa695b1a8u, 0x90d2f0ffu, 0x6e497a01u},
};

/* the table of this machine's OpenBLAS kernels, or NULL */
static const uint32_t (*want_table(void))[NFILES] {
    const char *core = test_blas_core();
    if (!strcmp(core, "SkylakeX") || !strcmp(core, "Cooperlake")) return WANT_AVX512;
    if (!strcmp(core, "Zen")) return WANT_ZEN;
    return NULL;
}

static void test_records_unchanged(void **st) {
    (void)st;
    root = test_tmpdir();
    assert_non_null(root);
    if (!realpath(test_coinbc(), coinbc)) fail_msg("cannot find %s", test_coinbc());
    if (run_in_root("record --levels 0-3 --states 24 --out tr.cbd --quiet") ||
        run_in_root("record --levels 100-101 --states 24 --out va.cbd --quiet"))
    {
        print_log();
        fail_msg("record failed");
    }
    int print = getenv("COINBC_METHOD_TABLE_PRINT") != NULL, bad = 0;
    const uint32_t(*WANT)[NFILES] = want_table();
    if (!WANT && !print)
        printf("note: no CRCs are recorded for OpenBLAS's %s kernels: the runs are made, not compared "
               "(COINBC_METHOD_TABLE_PRINT=1 prints this machine's)\n", test_blas_core());
    for (int m = 0; m < NMETHODS; m++)
        for (int k = 0; k < NKINDS; k++) {
            char name[64], run[4200];
            snprintf(name, sizeof name, "%s-%s", METHODS[m], k == RUN_EXPLICIT ? "explicit" : "defaults");
            snprintf(run, sizeof run, "%s/%s", root, name);
            int rc = 0;
            if (k == RUN_DEFAULTS)
                rc = run_in_root("train tr.cbd --val va.cbd --method %s " BASE " -o %s", METHODS[m], name);
            else if (k == RUN_EXPLICIT)
                rc = run_in_root("train tr.cbd --val va.cbd --method %s " BASE " " EXPLICIT " -o %s", METHODS[m], name);
            else /* the defaults run continued for a third epoch */
                rc = run_in_root("train --resume --epochs 3 --quiet -o %s", name);
            if (rc) {
                print_log();
                fail_msg("train %s (%s): status %d", METHODS[m], KIND[k], rc);
            }
            uint32_t got[NFILES];
            crcs(run, got);
            if (print || !WANT) {
                if (!print) continue;
                printf("    /* %-7s %-8s */ {", METHODS[m], KIND[k]);
                for (int f = 0; f < NFILES; f++) printf("0x%08xu%s", got[f], f + 1 < NFILES ? ", " : "},\n");
                continue;
            }
            for (int f = 0; f < NFILES; f++)
                if (got[f] != WANT[m * NKINDS + k][f]) {
                    fprintf(stderr, "%s, %s run: %s has CRC %08x, expected %08x\n", METHODS[m], KIND[k], FILES[f],
                            got[f], WANT[m * NKINDS + k][f]);
                    bad++;
                }
        }
    test_rmtree(root);
    free(root);
    assert_int_equal(bad, 0);
}

/* The method table's halves agree: a method whose reduction does not split
 * has no mask from the sums (it needs every level's gradient); every method
 * has a combine and a step; a method with optimizer state has its own step;
 * the options a method reads are options of the schema that name it. */
static void test_table_consistent(void **st) {
    (void)st;
    for (int m = 0; m < RUN_NMETHODS; m++) {
        const run_method_info *mi = run_method(m);
        const train_method_fns *f = train_method_fns_of(m);
        assert_non_null(mi);
        assert_non_null(f);
        assert_int_equal(mi->method, m);
        assert_non_null(f->comb);
        assert_non_null(f->step);
        if (!mi->split) assert_null(f->mask);
        if (mi->state) assert_true(f->step != train_step_adam);
        int parsed = -1;
        assert_int_equal(run_method_parse(mi->name, &parsed), 0);
        assert_int_equal(parsed, m);
        assert_non_null(strstr(run_method_list(), mi->name));
        for (unsigned bit = 1; bit <= RUN_MOPT_RESCALE; bit <<= 1) {
            if (!(mi->options & bit)) continue;
            int found = 0;
            for (int i = 0; i < run_option_count(); i++)
                if (run_option_at(i)->mopt == bit) found = (run_option_methods(run_option_at(i)) >> m) & 1;
            assert_true(found);
        }
    }
    assert_null(run_method(RUN_NMETHODS));
    assert_null(train_method_fns_of(-1));
}

/* One definition of every range: tune's check of a value (run/tune.c) and
 * train's (run_option_check_*) agree on each bound of every numeric option
 * tune may pass, and the words tune accepts are the schema's. */
static void test_one_range(void **st) {
    (void)st;
    int checked = 0;
    for (int i = 0; i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        char name[64];
        run_option_name(name, sizeof name, r);
        assert_ptr_equal(run_option_named(name), r);
        if (r->tune == RUN_TUNE_NO) {
            assert_int_equal(run_tune_option_kind(name), 0);
            continue;
        }
        cb_err e = {0};
        if (r->type == RUN_OPT_WORD) {
            for (int k = 0; r->words[k]; k++) {
                run_tune_value v = {1, 0, ""};
                snprintf(v.str, sizeof v.str, "%s", r->words[k]);
                assert_int_equal(run_tune_check_value(name, &v, &e), 0);
                assert_int_equal(run_option_word(r, r->words[k]), k);
            }
            run_tune_value bad = {1, 0, "nosuchword"};
            assert_int_not_equal(run_tune_check_value(name, &bad, &e), 0);
            continue;
        }
        if (r->count != 1) continue; /* channels: A,B,C */
        double vals[4];
        if (r->integer) {
            vals[0] = (double)r->ilo, vals[1] = (double)r->ilo - 1, vals[2] = (double)r->ihi, vals[3] = (double)r->ihi + 1;
        } else {
            vals[0] = r->lo, vals[1] = nextafter(r->lo, -INFINITY), vals[2] = r->hi, vals[3] = nextafter(r->hi, INFINITY);
        }
        for (int k = 0; k < 4; k++) {
            if (isinf(vals[k]) || vals[k] > 9e18) continue; /* (no bound there, or beyond int64) */
            run_tune_value v = {0, vals[k], ""};
            int tune_ok = run_tune_check_value(name, &v, &e) == 0;
            int train_ok = r->integer ? run_option_check_int(r->key, (int64_t)vals[k], NULL, 0, CB_EARG, &e) == 0
                                      : run_option_check_real(r->key, vals[k], NULL, 0, CB_EARG, &e) == 0;
            if (tune_ok != train_ok) fail_msg("--%s %.17g: tune says %d, train %d", name, vals[k], tune_ok, train_ok);
            checked++;
        }
    }
    assert_true(checked >= 30);
}

/* coinbc train --describe: every method and every option of the tables, as
 * JSON the driver reads; --help names every method's help and every option */
static void test_describe_and_help(void **st) {
    (void)st;
    static char out[262144], err[4096];
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "train --describe"), 0);
    json_error_t je;
    json_t *d = json_loads(out, 0, &je);
    if (!d) fail_msg("train --describe: %s", je.text);
    assert_string_equal(json_string_value(json_object_get(d, "format")), "coinbc-train-describe");
    json_t *ms = json_object_get(d, "methods"), *os = json_object_get(d, "options");
    assert_int_equal(json_array_size(ms), RUN_NMETHODS);
    assert_int_equal(json_array_size(os), (size_t)run_option_count());
    for (int m = 0; m < RUN_NMETHODS; m++) {
        json_t *jm = json_array_get(ms, (size_t)m);
        assert_string_equal(json_string_value(json_object_get(jm, "name")), run_method_name(m));
        assert_string_equal(json_string_value(json_object_get(jm, "help")), run_method(m)->help);
        assert_int_equal(json_is_true(json_object_get(jm, "split")), run_method(m)->split);
        assert_int_equal(json_integer_value(json_object_get(jm, "state")), run_method(m)->state);
    }
    for (int i = 0; i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        json_t *jo = json_array_get(os, (size_t)i);
        char name[64];
        run_option_name(name, sizeof name, r);
        assert_string_equal(json_string_value(json_object_get(jo, "name")), name);
        const char *tune = json_string_value(json_object_get(jo, "tune"));
        assert_string_equal(tune, r->tune == RUN_TUNE_SEARCH ? "search" : r->tune == RUN_TUNE_FIXED ? "fixed" : "no");
        if (r->type == RUN_OPT_INT) {
            assert_int_equal(json_integer_value(json_object_get(jo, "min")), r->ilo);
            assert_int_equal(json_integer_value(json_object_get(jo, "max")), r->ihi);
        }
        if (r->type == RUN_OPT_REAL && !isinf(r->hi)) assert_true(json_real_value(json_object_get(jo, "max")) == r->hi);
        size_t nm = json_array_size(json_object_get(jo, "methods"));
        unsigned mm = run_option_methods(r);
        int bits = 0;
        for (int m = 0; m < RUN_NMETHODS; m++) bits += (mm >> m) & 1;
        assert_int_equal(nm, (size_t)bits);
    }
    json_decref(d);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "train --help"), 0);
    for (int m = 0; m < RUN_NMETHODS; m++) assert_non_null(strstr(out, run_method(m)->help));
    for (int i = 0; i < run_option_count(); i++) {
        char name[64], flag[80];
        run_option_name(name, sizeof name, run_option_at(i));
        snprintf(flag, sizeof flag, "--%s", name);
        assert_non_null(strstr(out, flag));
    }
    assert_non_null(strstr(out, "(default 0.8)"));  /* tau's default, from the schema */
    assert_non_null(strstr(out, "in (0, 1); for tand")); /* tand-beta's range and method */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "tune --help"), 0);
    assert_non_null(strstr(out, run_method_list()));
    assert_non_null(strstr(out, "Tune sets --train-levels"));
}

/* config.json's strict reader on the schema: a record it wrote reads back;
 * an unknown key, lr -1 and a word outside an option's words are refused,
 * naming the key */
static void test_config_reader(void **st) {
    (void)st;
    run_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(model_net_default(&c.net, "nature"), 0);
    model plan;
    cb_err e = {0};
    assert_int_equal(model_plan(&plan, &c.net, &e), 0);
    c.params = plan.nparams, c.method = RUN_METHOD_AND, c.tau = 0.8, c.sand_k = 1, c.tand_beta = 0.9, c.rescale = 1;
    c.epochs = 3, c.lr = 5e-4, c.beta1 = 0.9, c.lr_decay = 1, c.batch_levels = 4, c.batch_frames = 8;
    c.train_levels = 4, c.train_frames = 96, c.steps_per_epoch = 3;
    run_text t = {0};
    assert_int_equal(run_config_encode(&t, &c, &e), 0);
    run_config back;
    assert_int_equal(run_config_decode(&back, t.s, t.len, "config.json", &e), 0);
    assert_int_equal(back.method, RUN_METHOD_AND);
    assert_int_equal(back.lr_decay, 1);
    assert_true(back.lr == 5e-4);
    static const char *const bad[][3] = {
        {"\"lr\": 0.00050000000000000001", "\"lr\": -1", "key \"lr\" is -1, outside (0, inf)"},
        {"\"lr\": 0.00050000000000000001", "\"lrr\": 0.5", "unknown key \"lrr\""},
        {"\"wd_mode\": \"l2\"", "\"wd_mode\": \"l1\"", "key \"wd_mode\" is \"l1\", not l2 or decoupled"},
        {"\"method\": \"and\"", "\"method\": \"median\"", "not a method (mean, and, sand, geomean, tand)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *p = strstr(t.s, bad[k][0]);
        if (!p) fail_msg("no %s in config.json", bad[k][0]);
        char text[8192];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(p - t.s), t.s, bad[k][1], p + strlen(bad[k][0]));
        assert_int_equal(run_config_decode(&back, text, strlen(text), "config.json", &e), CB_EFORMAT);
        if (!strstr(e.msg, bad[k][2])) fail_msg("%s: %s", bad[k][1], e.msg);
    }
    run_text_free(&t);
}

/* the driver without a coinbc that describes its options: one line, status 4 */
static void test_driver_needs_describe(void **st) {
    (void)st;
    char *dir = test_tmpdir(), p[4200], cmd[8600];
    assert_non_null(dir);
    snprintf(p, sizeof p, "%s/spec.json", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"version\": 1, \"coinbc\": \"/bin/false\", \"train\": \"/t\", \"val\": \"/v\", \"method\": \"and\", "
               "\"trials\": 3, \"epochs\": 2, \"jobs\": 1, \"threads\": 1, \"seed\": 0, \"prune\": true, "
               "\"storage\": \"journal:study.journal\", \"study\": \"s\", \"dir\": \"%s/d\", \"fixed\": [], "
               "\"space\": [{\"name\": \"lr\", \"log\": [0.0001, 0.001]}]}\n", dir);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -B tools/tune.py --check %s 2>&1; echo \"status $?\"", p);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf - 1, pp);
    buf[got] = 0;
    pclose(pp);
    printf("%s", buf);
    assert_non_null(strstr(buf, "train --describe"));
    assert_non_null(strstr(buf, "status 4"));
    assert_null(strstr(buf, "Traceback"));
    test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_consistent),
        cmocka_unit_test(test_one_range),
        cmocka_unit_test(test_describe_and_help),
        cmocka_unit_test(test_config_reader),
        cmocka_unit_test(test_driver_needs_describe),
        cmocka_unit_test(test_records_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
