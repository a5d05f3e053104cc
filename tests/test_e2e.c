/* test_e2e.c - the whole pipeline through the coinbc program, as a user runs
 * it: record expert play as PNG recordings, capture them into a dataset,
 * train a tiny network, eval, rollout and report; every file a step writes is
 * read back through the strict run-records readers (run/), and the steps
 * must agree with each other (levels, frames, methods, checkpoints). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/common.h"
#include "dataset/dataset.h"
#include "run/run.h"
#include "tests/support/run.h"

#define TINY "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 8 --epochs 2 --seed 5"

static void must(int rc, const char *what, const char *err) {
    if (rc != 0) fail_msg("%s: exit %d\n%s", what, rc, err);
}

static void test_pipeline(void **st) {
    (void)st;
    char *root = test_tmpdir();
    char rec[4200], vrec[4200], data[4200], val[4200], run[4200], html[4200], out[16384], err[16384];
    snprintf(rec, sizeof rec, "%s/rec", root);
    snprintf(vrec, sizeof vrec, "%s/vrec", root);
    snprintf(data, sizeof data, "%s/train.cbd", root);
    snprintf(val, sizeof val, "%s/val.cbd", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(html, sizeof html, "%s/report.html", root);

    /* record: PNG folders, one per level */
    must(test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 30 --noise 0.1 --seed 1 --threads 1 "
                  "--quiet --out %s", rec), "record", err);
    must(test_run(out, sizeof out, err, sizeof err, "record --levels 100-101 --states 20 --seed 2 --threads 1 --quiet "
                  "--out %s", vrec), "record val", err);
    for (int s = 0; s < 4; s++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/level_%d/actions.csv", rec, s);
        assert_int_equal(access(p, R_OK), 0);
    }
    /* capture: the folders into datasets, checked by the dataset reader */
    must(test_run(out, sizeof out, err, sizeof err, "capture %s -o %s --quiet", rec, data), "capture", err);
    must(test_run(out, sizeof out, err, sizeof err, "capture %s -o %s --quiet", vrec, val), "capture val", err);
    ds_reader *r;
    cb_err e = {0};
    if (ds_open(&r, data, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ds_nlevels(r), 4);
    for (int i = 0; i < 4; i++) assert_int_equal(ds_level_seed(r, i), i);
    assert_int_equal(ds_total_frames(r), 120);
    ds_close(r);
    must(test_run(out, sizeof out, err, sizeof err, "data verify %s", data), "verify", err);

    /* train: a tiny AND-mask run with validation */
    must(test_run(out, sizeof out, err, sizeof err, "train %s --val %s --method and --tau 0.5 " TINY " --quiet -o %s",
                  data, val, run), "train", err);
    run_folder f;
    if (run_folder_verify(&f, run, &e)) fail_msg("%s", e.msg);
    assert_true(f.has_config && f.has_latest && f.has_best);
    assert_int_equal(f.metrics_rows, 2);
    assert_int_equal(f.latest_epoch, 2);
    assert_int_equal(f.config.method, RUN_METHOD_AND);
    assert_true(f.config.tau == 0.5);
    assert_int_equal(f.config.train_levels, 4);
    assert_int_equal(f.config.train_frames, 120);
    assert_int_equal(f.config.val_levels, 2);
    assert_int_equal(f.config.train_seed_lo, 0);
    assert_int_equal(f.config.train_seed_hi, 3);
    assert_int_equal(f.config.val_seed_lo, 100);
    assert_int_equal(f.config.steps_per_epoch, 120 / 16);
    run_metrics m;
    if (run_metrics_read(&m, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(m.nrows, 2);
    assert_int_equal(m.rows[1].step, 2 * (120 / 16));
    assert_true(m.rows[0].val_acc >= 0 && m.rows[0].val_acc <= 1);
    assert_true(m.rows[0].nlayers > 0);
    double val_acc[2] = {m.rows[0].val_acc, m.rows[1].val_acc};
    run_metrics_free(&m);

    /* eval: held-out and training accuracy, through run/ */
    must(test_run(out, sizeof out, err, sizeof err, "eval %s %s --quiet", run, val), "eval", err);
    run_eval ev;
    if (run_eval_read(&ev, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ev.test.levels, 2);
    assert_int_equal(ev.test.frames, 40);
    assert_true(ev.has_train);
    assert_int_equal(ev.train.levels, 4);
    assert_int_equal(ev.train.frames, 120);
    assert_true(ev.gap == ev.train.acc - ev.test.acc);
    int64_t conf = 0;
    for (int y = 0; y < CB_NUM_ACTIONS; y++)
        for (int a = 0; a < CB_NUM_ACTIONS; a++) conf += ev.confusion[y][a];
    assert_int_equal(conf, 40);

    /* rollout: closed-loop play of unseen levels */
    must(test_run(out, sizeof out, err, sizeof err, "rollout %s --levels 200-201 --threads 1 --quiet", run), "rollout",
         err);
    run_rollout ro;
    if (run_rollout_read(&ro, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ro.level_lo, 200);
    assert_int_equal(ro.level_hi, 201);
    assert_int_equal(ro.episodes, 2);
    assert_true(ro.success >= 0 && ro.success <= 1 && ro.success_lo <= ro.success && ro.success <= ro.success_hi);
    assert_true(ro.expert_success == 1.0); /* the expert reaches the coin on every level */

    /* report: the page and the table agree with the records */
    must(test_run(out, sizeof out, err, sizeof err, "report %s -o %s", run, html), "report", err);
    assert_int_equal(access(html, R_OK), 0);
    assert_non_null(strstr(out, "and"));
    char want[64];
    snprintf(want, sizeof want, "%.1f%%", 100 * ev.test.acc);
    if (!strstr(out, want)) fail_msg("report table lacks the test accuracy %s:\n%s", want, out);
    /* report --json: the same figures for scripts, exact */
    must(test_run(out, sizeof out, err, sizeof err, "report %s --json", run), "report --json", err);
    char *ta = strstr(out, "\"test_acc\": ");
    assert_non_null(ta);
    assert_true(strtod(ta + 12, NULL) == ev.test.acc);
    char *rs = strstr(out, "\"rollout_success\": ");
    assert_non_null(rs);
    assert_true(strtod(rs + 19, NULL) == ro.success);
    assert_non_null(strstr(out, "\"method\": \"and\""));
    assert_non_null(strstr(out, "\"probe_test_acc\": null"));
    /* and the per-epoch curve (tools/tune.py prunes on it), exact */
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    if (!arr) fail_msg("report --json: %s", je.text);
    json_t *eps = json_object_get(json_array_get(arr, 0), "epochs");
    assert_int_equal(json_array_size(eps), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *row = json_array_get(eps, i);
        assert_int_equal(json_integer_value(json_object_get(row, "epoch")), (json_int_t)i + 1);
        assert_true(json_real_value(json_object_get(row, "val_acc")) == val_acc[i]);
    }
    json_decref(arr);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pipeline)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
