/* test_run.c - run records: every record's round trip (writer, then strict
 * reader, gives the same struct and the same bytes), every reader on broken
 * input (truncated, wrong type, duplicate key, missing and unknown keys,
 * unknown version and format, unknown method), files written by coinbc 0.1.0
 * before records were versioned, the epoch commit and its recovery under
 * injected I/O failures, and the fuzz target's corpus replayed. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "run/run.h"
#include "tests/fuzz/fuzz_run.c"
#include "tests/support/run.h"

static run_config sample_config(void) {
    run_config c;
    memset(&c, 0, sizeof c);
    model_net_default(&c.net, "nature");
    c.net.channels[0] = 8, c.net.channels[1] = 8, c.net.channels[2] = 8, c.net.hidden = 32;
    c.params = 7783; /* what nature 8,8,8 hidden 32 builds (the reader checks it) */
    c.method = RUN_METHOD_SAND;
    c.tau = 0.5;
    c.sand_k = 1.5;
    c.tand_beta = 0.75;
    c.rescale = 1;
    c.epochs = 3;
    c.lr = 0.003;
    c.lr_decay = 1;
    c.wd = 1e-4;
    c.wd_mode = RUN_WD_DECOUPLED;
    c.batch_levels = 4;
    c.batch_frames = 4;
    c.seed = (uint64_t)INT64_MAX; /* exact 64-bit integers */
    c.max_steps = 25;
    c.train_levels = 6;
    c.train_frames = 288;
    c.val_levels = 2;
    c.steps_per_epoch = 18;
    c.has_data = 1;
    snprintf(c.data, sizeof c.data, "data/\"odd\" name\\.cbd");
    snprintf(c.val_data, sizeof c.val_data, "val.cbd");
    c.data_manifest_crc = 0xdeadbeef;
    c.val_manifest_crc = 0x0000abcd;
    c.train_seed_lo = 100, c.train_seed_hi = 105;
    c.val_seed_lo = 200, c.val_seed_hi = 201;
    return c;
}

/* decoding text must fail with CB_EFORMAT and a message holding every needle */
static void bad_config(const char *text, const char *n1, const char *n2) {
    run_config c;
    cb_err e = {0};
    int rc = run_config_decode(&c, text, strlen(text), "RUN/config.json", &e);
    if (rc != CB_EFORMAT) fail_msg("accepted (rc %d): %s", rc, text);
    printf("  refused: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "RUN/config.json"));
    if (n1) assert_non_null(strstr(e.msg, n1));
    if (n2) assert_non_null(strstr(e.msg, n2));
}

/* text with the first occurrence of `from` replaced by `to` */
static char *edit(const char *text, const char *from, const char *to) {
    const char *p = strstr(text, from);
    assert_non_null(p);
    char *out = malloc(strlen(text) + strlen(to) + 1);
    sprintf(out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    return out;
}

static void test_config_round_trip(void **st) {
    (void)st;
    run_config a = sample_config(), b;
    run_text t = {0}, t2 = {0};
    cb_err e = {0};
    assert_int_equal(run_config_encode(&t, &a, &e), 0);
    assert_non_null(strstr(t.s, "\"format\": \"coinbc-run-config\""));
    assert_non_null(strstr(t.s, "\"seed\": 9223372036854775807"));
    assert_non_null(strstr(t.s, "\"data_manifest_crc\": \"deadbeef\""));
    assert_int_equal(run_config_decode(&b, t.s, t.len, "config.json", &e), 0);
    a.version = RUN_VERSION;
    snprintf(a.coinbc_version, sizeof a.coinbc_version, "%s", CB_VERSION);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(run_config_encode(&t2, &b, &e), 0);
    assert_string_equal(t.s, t2.s);
    run_text_free(&t2);
    /* without provenance */
    a.has_data = 0;
    memset(a.data, 0, sizeof a.data);
    memset(a.val_data, 0, sizeof a.val_data);
    a.data_manifest_crc = a.val_manifest_crc = 0;
    a.train_seed_lo = a.train_seed_hi = a.val_seed_lo = a.val_seed_hi = 0;
    assert_int_equal(run_config_encode(&t2, &a, &e), 0);
    assert_null(strstr(t2.s, "\"data\""));
    assert_int_equal(run_config_decode(&b, t2.s, t2.len, "config.json", &e), 0);
    assert_memory_equal(&a, &b, sizeof a);
    run_text_free(&t2);
    /* tand and its beta; a beta of 0 is written as the default 0.9, one outside (0, 1) not at all */
    a.method = RUN_METHOD_TAND;
    a.tand_beta = 0;
    assert_int_equal(run_config_encode(&t2, &a, &e), 0);
    assert_non_null(strstr(t2.s, "\"method\": \"tand\""));
    assert_non_null(strstr(t2.s, "\"tand_beta\": 0.9"));
    assert_int_equal(run_config_decode(&b, t2.s, t2.len, "config.json", &e), 0);
    assert_int_equal(b.method, RUN_METHOD_TAND);
    assert_true(b.tand_beta == 0.9);
    run_text_free(&t2);
    a.tand_beta = 1;
    assert_int_equal(run_config_encode(&t2, &a, &e), CB_EARG);
    run_text_free(&t2);
    a.tand_beta = 0.75;
    /* an unknown method number is not written */
    a.method = RUN_NMETHODS;
    assert_int_equal(run_config_encode(&t2, &a, &e), CB_EARG);
    run_text_free(&t2);
    run_text_free(&t);
}

static void test_config_broken(void **st) {
    (void)st;
    run_config a = sample_config();
    run_text t = {0};
    cb_err e = {0};
    assert_int_equal(run_config_encode(&t, &a, &e), 0);
    /* truncated anywhere: refused with line and column */
    for (size_t cut = 0; cut < t.len - 1; cut += 7) {
        run_config c;
        assert_int_equal(run_config_decode(&c, t.s, cut, "RUN/config.json", &e), CB_EFORMAT);
    }
    char half[200];
    snprintf(half, sizeof half, "%.*s", 150, t.s);
    bad_config(half, "line", "column");
    char *x;
    bad_config(x = edit(t.s, "\"hidden\": 32", "\"hidden\": \"32\""), "\"hidden\"", "expected an integer"), free(x);
    bad_config(x = edit(t.s, "\"tau\": 0.5", "\"tau\": \"0.5\""), "\"tau\"", "expected a number"), free(x);
    bad_config(x = edit(t.s, "\"rescale\": true", "\"rescale\": 1"), "\"rescale\"", "true or false"), free(x);
    bad_config(x = edit(t.s, "\"channels\": [", "\"channels\": [1, "), "\"channels\"", NULL), free(x);
    bad_config(x = edit(t.s, "\"hidden\": 32,", "\"hidden\": 32, \"hidden\": 33,"), "hidden", "duplicate"), free(x);
    bad_config(x = edit(t.s, "\"version\": 1", "\"version\": 2"), "newer coinbc", "version 2"), free(x);
    bad_config(x = edit(t.s, "\"version\": 1", "\"version\": 0"), "\"version\"", NULL), free(x);
    bad_config(x = edit(t.s, "\"version\": 1,", ""), "\"version\"", "missing"), free(x);
    bad_config(x = edit(t.s, "coinbc-run-config", "coinbc-eval"), "\"format\"", "coinbc-eval"), free(x);
    bad_config(x = edit(t.s, "\"epochs\": 3,", ""), "\"epochs\"", "missing"), free(x);
    bad_config(x = edit(t.s, "\"epochs\": 3,", "\"epochs\": 3, \"window\": 2,"), "unknown key", "\"window\""), free(x);
    bad_config(x = edit(t.s, "\"sand\"", "\"median\""), "\"method\"", "median"), free(x);
    bad_config(x = edit(t.s, "\"tand_beta\": 0.75", "\"tand_beta\": 1"), "\"tand_beta\"", "(0, 1)"), free(x);
    bad_config(x = edit(t.s, "\"tand_beta\": 0.75", "\"tand_beta\": 0"), "\"tand_beta\"", "(0, 1)"), free(x);
    bad_config(x = edit(t.s, "\"tand_beta\": 0.75", "\"tand_beta\": \"x\""), "\"tand_beta\"", "expected a number"),
        free(x);
    bad_config(x = edit(t.s, "\"nature\"", "\"resnet\""), "\"net\"", "resnet"), free(x);
    bad_config(x = edit(t.s, "\"step\"", "\"cosine\""), "\"lr_schedule\"", NULL), free(x);
    bad_config(x = edit(t.s, "\"decoupled\"", "\"l1\""), "\"wd_mode\"", NULL), free(x);
    bad_config(x = edit(t.s, "\"deadbeef\"", "\"xyz\""), "\"data_manifest_crc\"", NULL), free(x);
    bad_config(x = edit(t.s, "\"epochs\": 3", "\"epochs\": 0"), "\"epochs\"", "outside"), free(x);
    bad_config(x = edit(t.s, "\"data\": ", "\"data_x\": "), "unknown key", NULL), free(x);
    bad_config("[1, 2]", "not a JSON object", NULL);
    bad_config("", "line", NULL);
    bad_config("{\"format\": \"coinbc-run-config\", \"version\": 1} trailing", "line", NULL);
    run_text_free(&t);
}

/* config.json exactly as coinbc 0.1.0 wrote it (train/loop.c's snprintf and cli/cmd_train.c's extra keys) */
static const char OLD_CONFIG[] =
    "{\n  \"coinbc_version\": \"0.1.0\",\n  \"net\": \"nature\",\n  \"channels\": [8, 8, 8],\n  \"hidden\": 32,\n"
    "  \"params\": 7783,\n  \"method\": \"and\",\n  \"tau\": 0.5,\n  \"sand_k\": 1,\n  \"rescale\": true,\n"
    "  \"epochs\": 3,\n  \"lr\": 0.0030000000000000001,\n  \"lr_schedule\": \"step\",\n  \"wd\": 0.0001,\n"
    "  \"wd_mode\": \"l2\",\n  \"batch_levels\": 4,\n  \"batch_frames\": 4,\n  \"seed\": 11,\n  \"max_steps\": 0,\n"
    "  \"train_levels\": 6,\n  \"train_frames\": 288,\n  \"val_levels\": 0,\n  \"steps_per_epoch\": 18,\n"
    "  \"data\": \"d.cbd\",\n  \"data_manifest_crc\": \"0a1b2c3d\",\n  \"train_seed_range\": [100, 105],\n"
    "  \"val_data\": \"\",\n  \"val_manifest_crc\": \"00000000\",\n  \"val_seed_range\": [-1, -1]\n}\n";

static void test_config_old_format(void **st) {
    (void)st;
    run_config c;
    cb_err e = {0};
    assert_int_equal(run_config_decode(&c, OLD_CONFIG, strlen(OLD_CONFIG), "old/config.json", &e), 0);
    assert_int_equal(c.version, 1);
    assert_string_equal(c.coinbc_version, "0.1.0");
    assert_int_equal(c.method, RUN_METHOD_AND);
    assert_true(c.tau == 0.5 && c.lr == 0.003 && c.sand_k == 1);
    assert_true(c.tand_beta == 0.9); /* written before tand: the default */
    assert_int_equal(c.net.hidden, 32);
    assert_int_equal(c.steps_per_epoch, 18);
    assert_int_equal(c.has_data, 1);
    assert_string_equal(c.data, "d.cbd");
    assert_int_equal(c.data_manifest_crc, 0x0a1b2c3d);
    assert_int_equal(c.train_seed_lo, 100);
    assert_int_equal(c.train_seed_hi, 105);
    assert_int_equal(c.val_seed_lo, -1);
    /* the old file of a library caller: no provenance keys */
    char *x = strdup(OLD_CONFIG);
    char *p = strstr(x, ",\n  \"data\"");
    strcpy(p, "\n}\n");
    assert_int_equal(run_config_decode(&c, x, strlen(x), "old/config.json", &e), 0);
    assert_int_equal(c.has_data, 0);
    free(x);
    /* some provenance keys but not "data" */
    bad_config(x = edit(OLD_CONFIG, "\"data\": \"d.cbd\",", ""), "\"data\"", "missing"), free(x);
}

static run_metrics_row sample_row(int epoch, int val) {
    run_metrics_row r;
    memset(&r, 0, sizeof r);
    r.epoch = epoch;
    r.step = 18 * epoch;
    r.train_loss = 1.0 / (epoch + 2) + 1e-9;
    r.train_acc = 0.3 + 0.1 * epoch / 3.0;
    r.val_loss = val ? 0.7 / epoch : NAN;
    r.val_acc = val ? 0.45 + epoch / 7.0 : NAN;
    r.lr = epoch == 3 ? 0.0003 : 0.003;
    r.seconds = 1.23456 * epoch;
    r.samples_per_s = 1234.5678;
    r.nlayers = 3;
    const char *names[] = {"conv0", "conv1", "fc"};
    for (int k = 0; k < 3; k++) {
        snprintf(r.layer[k], sizeof r.layer[k], "%s", names[k]);
        r.mask_density[k] = 1.0 / (k + epoch + 1.0);
    }
    return r;
}

static void test_metrics_round_trip(void **st) {
    (void)st;
    for (int val = 0; val < 2; val++) {
        run_text csv = {0}, js = {0};
        cb_err e = {0};
        run_metrics_row rows[3];
        for (int i = 0; i < 3; i++) rows[i] = sample_row(i + 1, val);
        assert_int_equal(run_metrics_csv_header(&csv, &rows[0]), 0);
        assert_string_equal(csv.s, "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,mask_conv0,mask_conv1,mask_fc\n");
        for (int i = 0; i < 3; i++) {
            assert_int_equal(run_metrics_csv_row(&csv, &rows[i]), 0);
            assert_int_equal(run_metrics_jsonl_row(&js, &rows[i], &e), 0);
        }
        if (!val) assert_non_null(strstr(csv.s, "\n1,18,0.333333,0.333333,,,0.003,1.23,0.50000,0.33333,0.25000\n"));
        if (!val) assert_non_null(strstr(js.s, "\"val_loss\": null"));
        assert_non_null(strstr(js.s, "\"mask_density\": {\"conv0\": "));
        run_metrics m, c;
        assert_int_equal(run_metrics_decode_jsonl(&m, js.s, js.len, "metrics.jsonl", &e), 0);
        assert_int_equal(m.nrows, 3);
        for (int i = 0; i < 3; i++) assert_memory_equal(&m.rows[i], &rows[i], sizeof rows[i]); /* exact */
        assert_int_equal(run_metrics_decode_csv(&c, csv.s, csv.len, "metrics.csv", &e), 0);
        assert_int_equal(c.nrows, 3);
        /* the CSV rows written again from what was read are the same bytes */
        run_text csv2 = {0};
        assert_int_equal(run_metrics_csv_header(&csv2, &c.rows[0]), 0);
        for (int i = 0; i < 3; i++) assert_int_equal(run_metrics_csv_row(&csv2, &c.rows[i]), 0);
        assert_string_equal(csv.s, csv2.s);
        run_text_free(&csv2);
        run_metrics_free(&m);
        run_metrics_free(&c);
        run_text_free(&csv);
        run_text_free(&js);
    }
}

static void bad_csv(const char *text, const char *needle) {
    run_metrics m;
    cb_err e = {0};
    assert_int_equal(run_metrics_decode_csv(&m, text, strlen(text), "RUN/metrics.csv", &e), CB_EFORMAT);
    printf("  refused: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "RUN/metrics.csv"));
    if (needle) assert_non_null(strstr(e.msg, needle));
}

static void bad_jsonl(const char *text, const char *needle) {
    run_metrics m;
    cb_err e = {0};
    assert_int_equal(run_metrics_decode_jsonl(&m, text, strlen(text), "RUN/metrics.jsonl", &e), CB_EFORMAT);
    printf("  refused: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "RUN/metrics.jsonl"));
    if (needle) assert_non_null(strstr(e.msg, needle));
}

#define H "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,mask_fc\n"
#define J1 "{\"epoch\": 1, \"step\": 18, \"train_loss\": 1.5, \"train_acc\": 0.5, \"val_loss\": null, \"val_acc\": null, " \
           "\"lr\": 0.003, \"seconds\": 1.5, \"samples_per_s\": 100.0, \"mask_density\": {\"fc\": 0.5}}\n"

static void test_metrics_broken(void **st) {
    (void)st;
    run_metrics m;
    cb_err e = {0};
    const char *good = H "1,18,1.5,0.5,,,0.003,1.50,0.5\n";
    assert_int_equal(run_metrics_decode_csv(&m, good, strlen(good), "x", &e), 0);
    run_metrics_free(&m);
    bad_csv(H "1,18,1.5,0.5,,,0.003,1.50,0.5", "newline");            /* truncated */
    bad_csv(H "1,18,1.5,0.5,,,0.003,1.50\n", "fewer columns");
    bad_csv(H "1,18,1.5,0.5,,,0.003,1.50,0.5,7\n", "more columns");
    bad_csv(H "1,18,1.5,abc,,,0.003,1.50,0.5\n", "train_acc");
    bad_csv(H "1,18,1.5,0.5,,,,1.50,0.5\n", "lr");                    /* only val_* may be empty */
    bad_csv(H "2,18,1.5,0.5,,,0.003,1.50,0.5\n", "epoch 2");
    bad_csv(H "1,18,1.5,0.5,,,0.003,1.50,0.5\n2,18,1.5,0.5,,,0.003,1.50,0.5\n", "step");
    bad_csv(H "1.5,18,1.5,0.5,,,0.003,1.50,0.5\n", "not a count");
    bad_csv(H "1,2e180,1.5,0.5,,,0.003,1.50,0.5\n", "not a count"); /* found by fuzz_run (UBSan: a cast out of range) */
    bad_csv("epoch,step,loss\n", "train_loss");
    bad_csv("epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,fc\n", "mask_");
    bad_csv("", "empty");
    bad_csv("epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,mask_\xa8" "fc\n", "layer");  /* found by fuzz_run */
    bad_csv("epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,mask_fc,mask_fc\n", "repeats");
    assert_int_equal(run_metrics_decode_jsonl(&m, J1, strlen(J1), "x", &e), 0);
    assert_true(isnan(m.rows[0].val_acc));
    run_metrics_free(&m);
    char *x;
    bad_jsonl(x = edit(J1, "\n", ""), "newline"), free(x);
    bad_jsonl(x = edit(J1, "\"step\": 18", "\"step\": \"18\""), "\"step\""), free(x);
    bad_jsonl(x = edit(J1, "\"step\": 18", "\"step\": 18, \"step\": 19"), "duplicate"), free(x);
    bad_jsonl(x = edit(J1, "\"lr\": 0.003, ", ""), "\"lr\""), free(x);
    bad_jsonl(x = edit(J1, "\"lr\": 0.003", "\"lr\": null"), "\"lr\""), free(x);
    bad_jsonl(x = edit(J1, "\"lr\": 0.003", "\"lrr\": 0.003"), "unknown key"), free(x);
    bad_jsonl(x = edit(J1, "{\"fc\": 0.5}", "[0.5]"), "mask_density"), free(x);
    bad_jsonl(x = edit(J1, "{\"fc\": 0.5}", "{\"fc\": \"x\"}"), "mask_density.fc"), free(x);
    bad_jsonl(x = edit(J1, "\"epoch\": 1", "\"epoch\": 2"), "epoch 2"), free(x);
    bad_jsonl("{\"epoch\": 1,\n", "line 1");
    char two[1024];
    snprintf(two, sizeof two, "%s%s", J1, J1);
    bad_jsonl(two, "line 2");
}

/* both files in a folder: they must agree */
static void test_metrics_files_agree(void **st) {
    (void)st;
    char *d = test_tmpdir();
    char p[4200];
    run_metrics m;
    cb_err e = {0};
    assert_int_equal(run_metrics_read(&m, d, &e), CB_ENOTFOUND);
    snprintf(p, sizeof p, "%s/metrics.jsonl", d);
    assert_int_equal(cb_write_file_atomic(p, J1, strlen(J1), &e), 0);
    assert_int_equal(run_metrics_read(&m, d, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "metrics.csv"));
    snprintf(p, sizeof p, "%s/metrics.csv", d);
    const char *c2 = H "1,18,1.5,0.5,,,0.003,1.50,0.5\n2,36,1.5,0.5,,,0.003,1.50,0.5\n";
    assert_int_equal(cb_write_file_atomic(p, c2, strlen(c2), &e), 0);
    assert_int_equal(run_metrics_read(&m, d, &e), CB_EFORMAT);
    printf("  refused: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "inconsistent"));
    const char *c1 = H "1,18,1.5,0.5,,,0.003,1.50,0.5\n";
    assert_int_equal(cb_write_file_atomic(p, c1, strlen(c1), &e), 0);
    assert_int_equal(run_metrics_read(&m, d, &e), 0);
    assert_int_equal(m.nrows, 1);
    assert_true(m.rows[0].samples_per_s == 100.0); /* from the jsonl */
    run_metrics_free(&m);
    test_rmtree(d);
    free(d);
}

static run_eval sample_eval(int train) {
    run_eval v;
    memset(&v, 0, sizeof v);
    snprintf(v.checkpoint, sizeof v.checkpoint, "runs/a/best.ckpt");
    snprintf(v.data, sizeof v.data, "test.cbd");
    v.test = (run_eval_set){8, 1600, 0.61, 0.65, 1.25, 0.6, 0.07};
    v.has_train = train;
    v.gap = NAN;
    if (train) {
        v.train = (run_eval_set){64, 12800, 0.9, 0.92, 0.25, 0.89, 0.03};
        v.gap = v.train.acc - v.test.acc;
    }
    for (int y = 0; y < CB_NUM_ACTIONS; y++)
        for (int p = 0; p < CB_NUM_ACTIONS; p++) v.confusion[y][p] = y * 100 + p;
    return v;
}

static void test_eval_record(void **st) {
    (void)st;
    for (int train = 0; train < 2; train++) {
        run_eval a = sample_eval(train), b;
        run_text t = {0};
        cb_err e = {0};
        assert_int_equal(run_eval_encode(&t, &a, &e), 0);
        assert_int_equal(run_eval_decode(&b, t.s, t.len, "eval.json", &e), 0);
        a.version = 1;
        assert_memory_equal(&a, &b, sizeof a);
        if (train) {
            assert_non_null(strstr(t.s, "\"test_acc\": 0.6"));
            char *x;
            run_eval c;
            x = edit(t.s, "\"confusion\": [", "\"confusion\": [[1.5], ");
    assert_int_equal(run_eval_decode(&c, x, strlen(x), "E", &e), CB_EFORMAT);
            assert_non_null(strstr(e.msg, "confusion")), free(x);
            x = edit(t.s, "\"gap\": ", "\"gapp\": ");
    assert_int_equal(run_eval_decode(&c, x, strlen(x), "E", &e), CB_EFORMAT);
            assert_non_null(strstr(e.msg, "gapp")), free(x);
            x = edit(t.s, "\"train_loss\": 0.25,", "");
    assert_int_equal(run_eval_decode(&c, x, strlen(x), "E", &e),
                             CB_EFORMAT);
            assert_non_null(strstr(e.msg, "train_loss")), free(x);
            x = edit(t.s, "\"version\": 1", "\"version\": 7");
    assert_int_equal(run_eval_decode(&c, x, strlen(x), "E", &e),
                             CB_EFORMAT);
            assert_non_null(strstr(e.msg, "newer coinbc")), free(x);
            x = edit(t.s, "\"test_frames\": 1600", "\"test_frames\": true");
            assert_int_equal(run_eval_decode(&c, x, strlen(x), "E", &e), CB_EFORMAT);
            assert_non_null(strstr(e.msg, "test_frames")), free(x);
            assert_int_equal(run_eval_decode(&c, t.s, t.len / 2, "E", &e), CB_EFORMAT);
        }
        run_text_free(&t);
    }
    /* eval.json as coinbc 0.1.0 wrote it */
    char old[8192];
    int k = snprintf(old, sizeof old,
                     "{\n  \"checkpoint\": \"r/best.ckpt\",\n  \"data\": \"t.cbd\",\n  \"test_levels\": 2,\n"
                     "  \"test_frames\": 100,\n  \"test_acc\": 0.500000,\n  \"test_acc_merged\": 0.520000,\n"
                     "  \"test_loss\": 1.234567,\n  \"test_level_acc_mean\": 0.500000,\n  \"test_level_acc_std\": 0.010000,\n"
                     "  \"confusion\": [");
    for (int y = 0; y < 15; y++) {
        k += snprintf(old + k, sizeof old - (size_t)k, "%s[", y ? ", " : "");
        for (int p = 0; p < 15; p++) k += snprintf(old + k, sizeof old - (size_t)k, "%s%d", p ? ", " : "", y == p);
        k += snprintf(old + k, sizeof old - (size_t)k, "]");
    }
    snprintf(old + k, sizeof old - (size_t)k, "]\n}\n");
    run_eval v;
    cb_err e = {0};
    assert_int_equal(run_eval_decode(&v, old, strlen(old), "old/eval.json", &e), 0);
    assert_int_equal(v.version, 1);
    assert_int_equal(v.has_train, 0);
    assert_true(v.test.acc == 0.5);
    assert_int_equal(v.confusion[3][3], 1);
}

static void test_rollout_record(void **st) {
    (void)st;
    run_rollout a = {.level_lo = 1000, .level_hi = 1199, .hard = 1, .episodes_per_level = 2, .sample = 1,
                     .episodes = 400, .success = 0.4, .success_lo = 0.35, .success_hi = 0.45, .death_rate = 0.5,
                     .timeout_rate = 0.1, .mean_steps_to_coin = NAN, .expert_success = 1, .expert_mean_steps_to_coin = 61.5,
                     .random_success = 0.05, .random_success_lo = 0.03, .random_success_hi = 0.08},
                b;
    snprintf(a.checkpoint, sizeof a.checkpoint, "r/best.ckpt");
    run_text t = {0};
    cb_err e = {0};
    assert_int_equal(run_rollout_encode(&t, &a, &e), 0);
    assert_non_null(strstr(t.s, "\"mean_steps_to_coin\": null"));
    assert_non_null(strstr(t.s, "\"levels\": \"1000-1199\""));
    assert_int_equal(run_rollout_decode(&b, t.s, t.len, "rollout.json", &e), 0);
    a.version = 1;
    assert_memory_equal(&a, &b, sizeof a);
    char *x;
    x = edit(t.s, "1000-1199", "1000-");
    assert_int_equal(run_rollout_decode(&b, x, strlen(x), "R", &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "\"levels\"")), free(x);
    x = edit(t.s, "\"hard\"", "\"medium\"");
    assert_int_equal(run_rollout_decode(&b, x, strlen(x), "R", &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "\"mode\"")), free(x);
    x = edit(t.s, "coinbc-rollout", "coinbc-eval");
    assert_int_equal(run_rollout_decode(&b, x, strlen(x), "R", &e),
                     CB_EFORMAT);
    assert_non_null(strstr(e.msg, "\"format\"")), free(x);
    x = edit(t.s, "\"success\": 0.4", "\"success\": 0.4, \"success\": 0.5");
    assert_int_equal(run_rollout_decode(&b, x, strlen(x), "R", &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "duplicate")), free(x);
    run_text_free(&t);
    /* rollout.json as coinbc 0.1.0 wrote it */
    const char *old = "{\n  \"checkpoint\": \"r/best.ckpt\",\n  \"levels\": \"5-9\",\n  \"mode\": \"easy\",\n"
                      "  \"episodes_per_level\": 1,\n  \"actions\": \"greedy\",\n  \"episodes\": 5,\n  \"success\": 0.400000,\n"
                      "  \"success_lo\": 0.117621,\n  \"success_hi\": 0.769307,\n  \"death_rate\": 0.600000,\n"
                      "  \"timeout_rate\": 0.000000,\n  \"mean_steps_to_coin\": 85.500,\n  \"expert_success\": 1.000000,\n"
                      "  \"expert_mean_steps_to_coin\": 60.200,\n  \"random_success\": 0.000000,\n"
                      "  \"random_success_lo\": 0.000000,\n  \"random_success_hi\": 0.434482\n}\n";
    assert_int_equal(run_rollout_decode(&b, old, strlen(old), "old/rollout.json", &e), 0);
    assert_int_equal(b.version, 1);
    assert_int_equal(b.level_lo, 5);
    assert_true(b.mean_steps_to_coin == 85.5);
}

/* ---- the epoch commit ---- */

static int exists(const char *d, const char *f) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", d, f);
    return access(p, F_OK) == 0;
}

static char *text_of(const char *d, const char *f) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", d, f);
    uint8_t *b;
    size_t n;
    return cb_read_file(p, &b, &n, NULL) ? NULL : (char *)b;
}

/* one commit of config.json and metrics.csv holding `tag` */
static int commit_tag(const char *d, const char *tag, cb_err *e) {
    run_commit c;
    run_commit_begin(&c, d);
    int rc = run_commit_stage(&c, "config.json", tag, strlen(tag), e);
    if (!rc) rc = run_commit_stage(&c, "metrics.csv", tag, strlen(tag), e);
    if (rc) {
        run_commit_abort(&c);
        return rc;
    }
    return run_commit_finish(&c, e);
}

static void test_commit_and_recovery(void **st) {
    (void)st;
    char *d = test_tmpdir();
    cb_err e = {0};
    run_recovery r;
    assert_int_equal(commit_tag(d, "one", &e), 0);
    char *a = text_of(d, "config.json"), *b = text_of(d, "metrics.csv");
    assert_string_equal(a, "one");
    assert_string_equal(b, "one");
    free(a), free(b);
    assert_false(exists(d, "commit.json"));
    assert_false(exists(d, "config.json.next"));
    /* only the run's files may be committed */
    run_commit c;
    run_commit_begin(&c, d);
    assert_int_equal(run_commit_stage(&c, "../x", "x", 1, &e), CB_EARG);
    /* every failure point of a commit: afterwards (and after recovery) the
     * folder holds all of the old commit or all of the new one */
    int64_t ops = 0;
    cb_afile_test_fail_at(0);
    assert_int_equal(commit_tag(d, "two", &e), 0);
    ops = cb_afile_test_fail_at(0);
    printf("  a commit of 2 files: %lld write/rename operations\n", (long long)ops);
    assert_true(ops >= 5);
    for (int64_t k = 1; k <= ops; k++) {
        assert_int_equal(commit_tag(d, "old", &e), 0);
        cb_afile_test_fail_at(k);
        int rc = commit_tag(d, "new", &e);
        cb_afile_test_fail_at(0);
        assert_int_equal(rc, CB_EIO);
        assert_int_equal(run_folder_recover(d, &r, &e), 0);
        a = text_of(d, "config.json"), b = text_of(d, "metrics.csv");
        printf("  failure at operation %lld: %s; after recovery both files say \"%s\" (finished %d, rolled back %d)\n",
               (long long)k, e.msg, a, r.finished, r.rolled_back);
        assert_string_equal(a, b);
        assert_false(exists(d, "commit.json"));
        assert_false(exists(d, "config.json.next"));
        assert_false(exists(d, "metrics.csv.next"));
        free(a), free(b);
    }
    /* stale temporary files of the run's outputs go; other files stay */
    const char *junk[] = {"latest.ckpt.tmp.ABC123", "best.ckpt.next", "metrics.jsonl.next.tmp.XYZ", "eval.json.tmp.QQQ",
                          "notes.txt"};
    for (int i = 0; i < 5; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", d, junk[i]);
        assert_int_equal(cb_write_file_atomic(p, "x", 1, &e), 0);
    }
    assert_int_equal(run_folder_recover(d, &r, &e), 0);
    assert_int_equal(r.stale_tmp, 2);
    assert_int_equal(r.rolled_back, 1);
    assert_false(exists(d, "latest.ckpt.tmp.ABC123"));
    assert_true(exists(d, "eval.json.tmp.QQQ"));
    assert_true(exists(d, "notes.txt"));
    /* a crafted commit record cannot rename other files */
    char p[4200];
    snprintf(p, sizeof p, "%s/commit.json", d);
    const char *bad = "{\"format\": \"coinbc-run-commit\", \"version\": 1, \"files\": [\"../../etc/x\"]}\n";
    assert_int_equal(cb_write_file_atomic(p, bad, strlen(bad), &e), 0);
    assert_int_equal(run_folder_recover(d, &r, &e), CB_EFORMAT);
    printf("  refused: %s\n", e.msg);
    test_rmtree(d);
    free(d);
}

/* agreement.json: round trip, and every kind of damage refused naming the file and key */
static run_agreement sample_agreement(void) {
    run_agreement a;
    memset(&a, 0, sizeof a);
    a.levels = 16;
    a.nlayers = 2;
    snprintf(a.layer[0], sizeof a.layer[0], "conv0");
    snprintf(a.layer[1], sizeof a.layer[1], "fc");
    for (int i = 0; i < 3; i++) {
        run_agreement_snap s;
        memset(&s, 0, sizeof s);
        s.step = i ? 18 * i : 1;
        s.epoch = i;
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < RUN_AGREE_BINS; b++) s.count[k][b] = (int64_t)(1000 * k + 10 * b + i) << (i * 12);
        assert_int_equal(run_agreement_add(&a, &s), 0);
    }
    return a;
}

static void bad_agreement(const char *text, const char *n1, const char *n2) {
    run_agreement a;
    cb_err e = {0};
    int rc = run_agreement_decode(&a, text, strlen(text), "RUN/agreement.json", &e);
    if (rc != CB_EFORMAT) fail_msg("accepted (rc %d): %s", rc, text);
    printf("  refused: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "RUN/agreement.json"));
    if (n1) assert_non_null(strstr(e.msg, n1));
    if (n2) assert_non_null(strstr(e.msg, n2));
}

static void test_agreement_record(void **st) {
    (void)st;
    run_agreement a = sample_agreement(), b;
    run_text t = {0}, t2 = {0};
    cb_err e = {0};
    assert_int_equal(run_agreement_encode(&t, &a, &e), 0);
    assert_non_null(strstr(t.s, "\"format\": \"coinbc-agreement\""));
    assert_int_equal(run_agreement_decode(&b, t.s, t.len, "agreement.json", &e), 0);
    assert_int_equal(b.levels, 16);
    assert_int_equal(b.nlayers, 2);
    assert_string_equal(b.layer[1], "fc");
    assert_int_equal(b.nsnaps, 3);
    for (int i = 0; i < 3; i++) assert_memory_equal(&a.snaps[i], &b.snaps[i], sizeof a.snaps[i]);
    assert_int_equal(run_agreement_encode(&t2, &b, &e), 0);
    assert_string_equal(t.s, t2.s);
    run_agreement_free(&b);
    run_text_free(&t2);
    /* damage */
    for (size_t cut = 0; cut + 1 < t.len; cut += 11) {
        assert_int_equal(run_agreement_decode(&b, t.s, cut, "RUN/agreement.json", &e), CB_EFORMAT);
    }
    char *x;
    bad_agreement(x = edit(t.s, "\"bins\": 10", "\"bins\": 8"), "\"bins\"", NULL), free(x);
    bad_agreement(x = edit(t.s, "\"levels\": 16", "\"levels\": 0"), "\"levels\"", NULL), free(x);
    bad_agreement(x = edit(t.s, "\"fc\"]", "\"conv0\"]"), "named twice", NULL), free(x);
    bad_agreement(x = edit(t.s, "\"fc\"]", "\"f c\"]"), "\"layers\"", "layer name"), free(x);
    bad_agreement(x = edit(t.s, "\"step\": 18", "\"step\": 1"), "snapshot 1", "does not follow"), free(x);
    bad_agreement(x = edit(t.s, "\"step\": 1,", "\"step\": 0,"), "snapshot 0", "\"step\""), free(x);
    bad_agreement(x = edit(t.s, "\"epoch\": 0", "\"epoch\": 5"), "snapshot 0", "after step"), free(x);
    bad_agreement(x = edit(t.s, "\"fc\": [1000,", "\"fc\": [-1000,"), "layer \"fc\"", "count 0"), free(x);
    bad_agreement(x = edit(t.s, "\"fc\": [1000,", "\"fc\": [1000.5,"), "layer \"fc\"", NULL), free(x);
    bad_agreement(x = edit(t.s, "\"fc\": [1000, ", "\"fc\": ["), "layer \"fc\"", "10 counts"), free(x);
    bad_agreement(x = edit(t.s, "\"fc\": [", "\"fd\": ["), "layer \"fc\"", "missing"), free(x);
    bad_agreement(x = edit(t.s, "\"step\": 1,", "\"step\": 1, \"x\": 2,"), "unknown key", "\"x\""), free(x);
    bad_agreement(x = edit(t.s, "\"levels\": 16", "\"levels\": 16, \"levels\": 16"), "duplicate", NULL), free(x);
    bad_agreement(x = edit(t.s, "coinbc-agreement", "coinbc-eval"), "\"format\"", NULL), free(x);
    bad_agreement(x = edit(t.s, "\"version\": 1", "\"version\": 9"), "newer coinbc", NULL), free(x);
    bad_agreement("[]", "not a JSON object", NULL);
    run_text_free(&t);
    run_agreement_free(&a);
}

/* a seed must be a valid file of the kind its first byte names */
static int seed_decodes(const uint8_t *b, size_t len) {
    const char *t = (const char *)b + 1;
    size_t n = len - 1;
    cb_err e = {0};
    static run_config c;
    static run_eval v;
    static run_rollout r;
    run_metrics m;
    run_agreement a;
    int rc;
    switch (b[0] % 6) {
    case 0: return run_config_decode(&c, t, n, "seed", &e);
    case 5:
        if (!(rc = run_agreement_decode(&a, t, n, "seed", &e))) run_agreement_free(&a);
        return rc;
    case 1:
    case 2:
        rc = b[0] % 6 == 1 ? run_metrics_decode_csv(&m, t, n, "seed", &e) : run_metrics_decode_jsonl(&m, t, n, "seed", &e);
        if (!rc) run_metrics_free(&m);
        return rc;
    case 3: return run_eval_decode(&v, t, n, "seed", &e);
    default: return run_rollout_decode(&r, t, n, "seed", &e);
    }
}

/* the fuzz target over its seed corpus (no libFuzzer needed) */
static void test_fuzz_corpus(void **st) {
    (void)st;
    DIR *dir = opendir("tests/fuzz/corpus/run");
    if (!dir) fail_msg("tests/fuzz/corpus/run is missing (run the tests from the repository root)");
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        char p[4200];
        snprintf(p, sizeof p, "tests/fuzz/corpus/run/%s", de->d_name);
        uint8_t *b;
        size_t len;
        assert_int_equal(cb_read_file(p, &b, &len, NULL), 0);
        assert_true(len > 1);
        if (seed_decodes(b, len)) fail_msg("seed %s does not decode", p);
        LLVMFuzzerTestOneInput(b, len);
        for (size_t cut = 1; cut < len; cut += 1 + len / 16) LLVMFuzzerTestOneInput(b, cut); /* truncations too */
        free(b);
        n++;
    }
    closedir(dir);
    printf("  %d seeds\n", n);
    assert_true(n >= 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_round_trip), cmocka_unit_test(test_config_broken),
        cmocka_unit_test(test_agreement_record),
        cmocka_unit_test(test_config_old_format), cmocka_unit_test(test_metrics_round_trip),
        cmocka_unit_test(test_metrics_broken),    cmocka_unit_test(test_metrics_files_agree),
        cmocka_unit_test(test_eval_record),       cmocka_unit_test(test_rollout_record),
        cmocka_unit_test(test_commit_and_recovery), cmocka_unit_test(test_fuzz_corpus),
    };
    return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
