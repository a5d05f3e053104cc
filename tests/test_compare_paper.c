/* test_compare_paper.c - the paper protocol's parts of coinbc compare:
 * docs/experiments/paper-quick.json (the committed paper.json in a tiny form:
 * one level per step, epoch sampling, the step schedule, decoupled weight
 * decay, two val_loss studies of 2 trials with a top-2 figure, the probe with
 * 2 seeds, the appearance probe, the loss table) end to end; the top-N figure
 * on a hand-built pair of studies; the spec's new keys refused when wrong;
 * and the datasets' content CRC, which does not depend on the path a
 * dataset was recorded into. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/common.h"
#include "dataset/dataset.h"
#include "eval/eval.h"
#include "run/run.h"
#include "tests/support/refdata.h"
#include "tests/support/run.h"

static char *dir;
static char spec[4200]; /* docs/experiments/paper-quick.json */

static char *slurp_path(const char *path) {
    uint8_t *buf;
    size_t n;
    cb_err e = {0};
    if (cb_read_file(path, &buf, &n, &e)) fail_msg("%s", e.msg);
    return (char *)buf;
}

static int has(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void put_text(const char *path, const char *text) {
    cb_err e = {0};
    if (cb_write_file_atomic(path, text, strlen(text), &e)) fail_msg("%s", e.msg);
}

static void test_paper_quick_end_to_end(void **st) {
    (void)st;
    static char out[131072], err[131072];
    int rc = test_run(out, sizeof out, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work'", spec, dir, dir);
    if (rc != 0) fail_msg("compare exited %d:\n%s", rc, err);
    assert_non_null(strstr(err, "compare: complete"));
    /* the loss table, the top-2 figure and the appearance table are there */
    assert_non_null(strstr(out, "| method | seeds | train loss | test loss | t (test loss) | p |"));
    assert_non_null(strstr(out, "| study | N | trials counted | mean test loss | lowest test loss |"));
    assert_non_null(strstr(out, "| mean | 2 | 2 | "));
    assert_non_null(strstr(out, "| tand | 2 | 2 | "));
    assert_non_null(strstr(out, "| method | seeds | seen/seen | seen/unseen | unseen/seen | unseen/unseen | drop |"));
    assert_non_null(strstr(out, "(lowest validation loss)"));
    char p[4400];
    /* each study minimized the validation loss, with the protocol's options fixed */
    snprintf(p, sizeof p, "%s/p/dir/tune/tand/trials.csv", dir);
    char *t = slurp_path(p);
    assert_non_null(strstr(t, ",val_loss,"));
    free(t);
    snprintf(p, sizeof p, "%s/p/dir/configs/tand.json", dir);
    t = slurp_path(p);
    assert_non_null(strstr(t, "\"best-by\": \"loss\""));
    assert_non_null(strstr(t, "\"sampling\": \"epoch\""));
    assert_non_null(strstr(t, "\"batch-levels\": 1"));
    free(t);
    snprintf(p, sizeof p, "%s/p/dir/runs/tand-2/config.json", dir);
    t = slurp_path(p);
    assert_non_null(strstr(t, "\"lr_schedule\": \"step\""));
    assert_non_null(strstr(t, "\"best_by\": \"loss\""));
    free(t);
    /* records: two top evaluations per study, appearance.json of every final run, probe seed 2 */
    static const char *kept[] = {"top/mean/done", "top/tand/done", "runs/mean-1/appearance.json",
                                 "runs/tand-2/appearance.json", "probe/tand-2/done", "probe/mean/relabeled.json"};
    for (size_t k = 0; k < sizeof kept / sizeof *kept; k++) {
        snprintf(p, sizeof p, "%s/p/dir/%s", dir, kept[k]);
        if (!has(p)) fail_msg("the records lack %s", kept[k]);
    }
    /* the top figure's picks are the study's best trials by validation loss: its checks through the library */
    for (int m = 0; m < 2; m++) {
        const char *name = m ? "tand" : "mean";
        int num[2];
        double val[2];
        int minimize = 0;
        cb_err e = {0};
        snprintf(p, sizeof p, "%s/p/dir/tune/%s/trials.csv", dir, name);
        int k = eval_compare_top_pick(num, val, 2, p, &minimize, &e);
        assert_int_equal(k, 2);
        assert_int_equal(minimize, 1);
        assert_true(val[0] <= val[1]);
        for (int i = 0; i < k; i++) {
            char f[4400];
            snprintf(f, sizeof f, "%s/p/dir/top/%s/trial-%04d.json", dir, name, num[i]);
            if (!has(f)) fail_msg("no test figures for trial %d of %s", num[i], name);
        }
    }
    /* again: nothing is done twice and the table is the same */
    static char out2[131072];
    rc = test_run(out2, sizeof out2, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work'", spec, dir, dir);
    assert_int_equal(rc, 0);
    assert_string_equal(out, out2);
    /* a new machine: the records are there but WORK has none of the study's
     * trial folders; the top stage trains the picked trials again (tune
     * --retrain) and they give the same checkpoints */
    char gone[4400], moved[4400];
    snprintf(gone, sizeof gone, "%s/p/work/tune/tand/trials", dir);
    snprintf(moved, sizeof moved, "%s/p/work/tand-trials-elsewhere", dir);
    assert_int_equal(rename(gone, moved), 0);
    snprintf(p, sizeof p, "%s/p/dir/top/tand", dir);
    char keptop[4400];
    snprintf(keptop, sizeof keptop, "%s/p/top-tand-before", dir);
    assert_int_equal(rename(p, keptop), 0);
    rc = test_run(out2, sizeof out2, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work' --stage top", spec,
                  dir, dir);
    if (rc != 0) fail_msg("compare --stage top exited %d:\n%s", rc, err);
    assert_non_null(strstr(err, "training it again"));
    int num[2];
    double val[2];
    cb_err e = {0};
    snprintf(p, sizeof p, "%s/p/dir/tune/tand/trials.csv", dir);
    assert_int_equal(eval_compare_top_pick(num, val, 2, p, NULL, &e), 2);
    for (int i = 0; i < 2; i++) {
        char a[4500], b[4500];
        snprintf(a, sizeof a, "%s/%04d/best.ckpt", moved, num[i]);
        snprintf(b, sizeof b, "%s/%04d/best.ckpt", gone, num[i]);
        char *ca = slurp_path(a), *cb = slurp_path(b);
        struct stat sa, sb;
        assert_int_equal(stat(a, &sa), 0);
        assert_int_equal(stat(b, &sb), 0);
        assert_int_equal(sa.st_size, sb.st_size);
        assert_memory_equal(ca, cb, (size_t)sa.st_size);
        free(ca), free(cb);
        snprintf(a, sizeof a, "%s/p/dir/top/tand/trial-%04d.json", dir, num[i]);
        if (!has(a)) fail_msg("no test figures for trial %d of tand after training it again", num[i]);
        /* trained again only up to its best epoch: the same test figures, byte for byte */
        snprintf(b, sizeof b, "%s/trial-%04d.json", keptop, num[i]);
        ca = slurp_path(a), cb = slurp_path(b);
        assert_non_null(ca);
        assert_non_null(cb);
        assert_string_equal(ca, cb);
        free(ca), free(cb);
    }
    rc = test_run(out2, sizeof out2, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work'", spec, dir, dir);
    assert_int_equal(rc, 0);
    /* the table, now saying which trials were trained again */
    assert_non_null(strstr(out2, "tand: 2 of these trials were trained again here from the study's record"));
    assert_non_null(strstr(out2, "2 of them bit for bit."));
    assert_null(strstr(out, "trained again here"));
    char *cut = strstr(out2, "\ntand: 2 of these trials");
    char *line_end = cut ? strchr(cut + 1, '\n') : NULL;
    assert_non_null(line_end);
    memmove(cut, line_end + 1, strlen(line_end + 1) + 1);
    assert_string_equal(out, out2); /* the rest unchanged */
    /* a trial that came back further apart than the tolerance and was kept
     * (--retrain-keep; a study run on several kinds of CPU): named in the
     * table as a network trained here */
    char line[256];
    snprintf(p, sizeof p, "%s/p/dir/top/tand/trial-%04d.retrained", dir, num[1]);
    snprintf(line, sizeof line, "{\"trial\": %d, \"exact\": false, \"max_rel_diff\": 0.086, \"tolerance\": 0.05}\n",
             num[1]);
    put_text(p, line);
    rc = test_run(out2, sizeof out2, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work' --stage table",
                  spec, dir, dir);
    assert_int_equal(rc, 0);
    snprintf(line, sizeof line, "1 came back further apart than the tolerance of 0.05 (trial %d: 0.086;", num[1]);
    assert_non_null(strstr(out2, "1 of them bit for bit; "));
    if (!strstr(out2, line)) fail_msg("no line for the kept trial %d in:\n%s", num[1], out2);
    assert_non_null(strstr(out2, "their test figures are of the networks trained here"));
}

/* one trial's test figures in top/M/trial-NNNN.json */
static void put_eval(const char *d, int number, double loss, double acc) {
    run_eval v;
    memset(&v, 0, sizeof v);
    v.version = 1;
    snprintf(v.checkpoint, sizeof v.checkpoint, "trials/%04d/best.ckpt", number);
    snprintf(v.data, sizeof v.data, "test.cbd");
    v.test.levels = 10;
    v.test.frames = 1000;
    v.test.acc = v.test.acc_merged = v.test.level_acc_mean = acc;
    v.test.loss = loss;
    v.confusion[0][0] = (int64_t)llround(acc * 1000);
    v.confusion[0][1] = 1000 - v.confusion[0][0];
    run_text text = {0};
    cb_err e = {0};
    if (run_eval_encode(&text, &v, &e)) fail_msg("%s", e.msg);
    char p[4400];
    snprintf(p, sizeof p, "%s/trial-%04d.json", d, number);
    if (cb_write_file_atomic(p, text.s, text.len, &e)) fail_msg("%s", e.msg);
    run_text_free(&text);
}

/* Two hand-made studies: a loss study whose best three trials by validation
 * loss are 4 (0.30), 2 (0.40, pruned) and 0 (0.40, the lower number wins the
 * tie over 5), with a failed trial left out; and an accuracy study ranked by
 * the highest figure. The figure is the mean test loss of the picks. */
static void test_top_figure_hand_built(void **st) {
    (void)st;
    char d[1024], sub[2048];
    snprintf(d, sizeof d, "%s/hand", dir);
    cb_err e = {0};
    static const char *const mk[] = {"tune/lo", "tune/ac", "top/lo", "top/ac"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s/%s", d, mk[i]);
        assert_int_equal(cb_mkdirs(sub, &e), 0);
    }
    snprintf(sub, sizeof sub, "%s/tune/lo/trials.csv", d);
    put_text(sub, "number,state,lr,val_loss,epochs_run,seconds,run\n"
                  "0,COMPLETE,0.001,0.400000,3,1.0,trials/0000\n"
                  "1,COMPLETE,0.002,0.900000,3,1.0,trials/0001\n"
                  "2,PRUNED,0.003,0.400000,1,1.0,trials/0002\n"
                  "3,FAIL,0.004,,0,1.0,trials/0003\n"
                  "4,COMPLETE,0.005,0.300000,3,1.0,trials/0004\n"
                  "5,COMPLETE,0.006,0.400000,3,1.0,trials/0005\n");
    snprintf(sub, sizeof sub, "%s/tune/ac/trials.csv", d);
    put_text(sub, "number,state,lr,value,epochs_run,seconds,run\n"
                  "0,COMPLETE,0.001,0.700000,3,1.0,trials/0000\n"
                  "1,COMPLETE,0.002,0.900000,3,1.0,trials/0001\n"
                  "2,COMPLETE,0.003,0.800000,3,1.0,trials/0002\n");
    int num[3];
    double val[3];
    int minimize = -1;
    assert_int_equal(eval_compare_top_pick(num, val, 3, sub, &minimize, &e), 3);
    assert_int_equal(minimize, 0);
    assert_int_equal(num[0], 1);
    assert_int_equal(num[1], 2);
    assert_int_equal(num[2], 0);
    snprintf(sub, sizeof sub, "%s/tune/lo/trials.csv", d);
    assert_int_equal(eval_compare_top_pick(num, val, 3, sub, &minimize, &e), 3);
    assert_int_equal(minimize, 1);
    assert_int_equal(num[0], 4);
    assert_int_equal(num[1], 0);
    assert_int_equal(num[2], 2);
    /* the test figures: the picks' and two others' that must not count */
    snprintf(sub, sizeof sub, "%s/top/lo", d);
    put_eval(sub, 4, 0.50, 0.80);
    put_eval(sub, 0, 0.70, 0.75);
    put_eval(sub, 2, 0.90, 0.70);
    put_eval(sub, 5, 0.01, 0.99);
    put_eval(sub, 1, 0.02, 0.98);
    snprintf(sub, sizeof sub, "%s/top/ac", d);
    put_eval(sub, 1, 0.40, 0.90);
    put_eval(sub, 2, 0.60, 0.85);
    eval_compare_method ms[2];
    memset(ms, 0, sizeof ms);
    snprintf(ms[0].name, sizeof ms[0].name, "lo");
    snprintf(ms[1].name, sizeof ms[1].name, "ac");
    assert_int_equal(eval_compare_load_top(&ms[0], d, 3, &e), 0);
    assert_int_equal(eval_compare_load_top(&ms[1], d, 3, &e), 0);
    assert_int_equal(ms[0].ntop, 3);
    assert_int_equal(ms[1].ntop, 2); /* trial 0's figures are missing: counted as missing, not as zero */
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_int_equal(eval_compare_table(f, ms, 2, "lo", 0, &e), 0);
    fclose(f);
    /* (0.5 + 0.7 + 0.9) / 3 = 0.7, lowest 0.5, accuracy (80 + 75 + 70) / 3 = 75.0 */
    assert_non_null(strstr(text, "| lo | 3 | 3 | 0.7000 | 0.5000 | 75.0 | val_loss 0.3 to 0.4 |"));
    /* (0.4 + 0.6) / 2 = 0.5, lowest 0.4, accuracy 87.5 */
    assert_non_null(strstr(text, "| ac | 3 | 2 | 0.5000 | 0.4000 | 87.5 | val_acc 0.8 to 0.9 |"));
    free(text);
}

/* a copy of paper-quick.json with one edit made by a Python statement on `s` */
static void variant(const char *path, const char *edit) { assert_int_equal(test_json_variant(dir, spec, path, edit), 0); }

static void test_new_keys_refused(void **st) {
    (void)st;
    static const struct {
        const char *edit, *msg;
    } cases[] = {
        {"s['methods'][0]['tune']['objective'] = 'val_kl'", "key \"objective\" is \"val_kl\", expected val_acc or val_loss"},
        {"s['methods'][0]['tune']['top'] = 3", "key \"top\" is 3, more than the study's 2 trials"},
        {"s['methods'][0]['tune']['top'] = 0", "methods[0].tune"},
        {"s['methods'][1]['train_options'] = ['--batch-levels']", "key \"train_options\" must be a list of \"--option\", \"value\" pairs"},
        {"s['methods'][1]['train_options'] = ['batch-levels', '2']", "train_options[0] \"batch-levels\": expected an --option"},
        {"s['appearance']['levels'] = '5-1003'", "share seeds with the training levels 0-7"},
        {"s['appearance']['donors'] = 0", "appearance"},
        {"s['appearance']['colour'] = 1", "appearance"},
        {"s['loss'] = 1", "key \"loss\" must be true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[4400], err[8192], o[4400];
        snprintf(path, sizeof path, "%s/bad%zu.json", dir, i);
        variant(path, cases[i].edit);
        int rc = test_run(NULL, 0, err, sizeof err, "compare '%s' -o '%s/bad%zu' --work '%s/badw%zu'", path, dir, i,
                          dir, i);
        if (rc != 1 || !strstr(err, cases[i].msg) || !strstr(err, path))
            fail_msg("case %zu (%s): exit %d, message:\n%s", i, cases[i].edit, rc, err);
        snprintf(o, sizeof o, "%s/bad%zu", dir, i);
        assert_false(has(o));
    }
}

/* The same recording made into two paths: the manifests differ (the command
 * line names the path), the content CRC does not; a comparison whose WORK
 * moves re-records and goes on. */
static void test_content_crc(void **st) {
    (void)st;
    char a[4400], b[4400];
    snprintf(a, sizeof a, "%s/crc/one/a.cbd", dir);
    snprintf(b, sizeof b, "%s/crc/two-longer/b.cbd", dir);
    for (int k = 0; k < 2; k++) {
        int rc = test_run(NULL, 0, NULL, 0, "record --levels 3-4 --mode hard --states 10 --seed 7 --quiet --out '%s'",
                          k ? b : a);
        assert_int_equal(rc, 0);
    }
    ds_reader *ra, *rb;
    cb_err e = {0};
    assert_int_equal(ds_open(&ra, a, &e), 0);
    assert_int_equal(ds_open(&rb, b, &e), 0);
    assert_int_not_equal(ds_manifest_crc(ra), ds_manifest_crc(rb));
    assert_int_equal(ds_content_crc(ra), ds_content_crc(rb));
    ds_close(rb);
    /* another recording (other levels) has another content CRC */
    assert_int_equal(test_run(NULL, 0, NULL, 0, "record --levels 3-5 --mode hard --states 10 --seed 7 --quiet --out "
                                                 "'%s/crc/c.cbd'",
                              dir),
                     0);
    char c[4400];
    snprintf(c, sizeof c, "%s/crc/c.cbd", dir);
    assert_int_equal(ds_open(&rb, c, &e), 0);
    assert_int_not_equal(ds_content_crc(ra), ds_content_crc(rb));
    ds_close(rb);
    ds_close(ra);
    /* the end-to-end comparison's records, with its datasets re-recorded into another WORK */
    char err[65536];
    int rc = test_run(NULL, 0, err, sizeof err, "compare '%s' -o '%s/p/dir' --work '%s/p/work-moved' --stage data",
                      spec, dir, dir);
    if (rc != 0) fail_msg("compare with a moved WORK exited %d:\n%s", rc, err);
}

/* top/M/trial-NNNN.retrained's reader: the three outcomes, and every broken
 * line refused naming the file */
static void test_retrained_reader(void **st) {
    (void)st;
    run_retrained r;
    cb_err e = {0};
    const char *ok[] = {"{\"trial\": 5, \"exact\": true, \"max_rel_diff\": 0.0, \"tolerance\": 0.05}\n",
                        "{\"trial\": 5, \"exact\": false, \"max_rel_diff\": 0.012, \"tolerance\": 0.05}",
                        "{\"trial\": 5, \"exact\": null, \"max_rel_diff\": null, \"tolerance\": 0}"};
    const int exact[] = {1, 0, -1};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run_retrained_parse(&r, ok[i], strlen(ok[i]), 5, "t.retrained", &e), 0);
        assert_int_equal(r.trial, 5);
        assert_int_equal(r.exact, exact[i]);
    }
    assert_true(r.max_rel_diff == 0 && r.tolerance == 0);
    const char *bad[] = {"", "not json", "[]", "{}",
                         "{\"trial\": 6, \"exact\": true, \"max_rel_diff\": 0, \"tolerance\": 0.05}",
                         "{\"trial\": 5, \"exact\": true, \"max_rel_diff\": 0.1, \"tolerance\": 0.05}",
                         "{\"trial\": 5, \"exact\": false, \"max_rel_diff\": -1, \"tolerance\": 0.05}",
                         "{\"trial\": 5, \"exact\": \"no\", \"max_rel_diff\": 0, \"tolerance\": 0.05}",
                         "{\"trial\": 5, \"exact\": true, \"max_rel_diff\": 0}",
                         "{\"trial\": 5, \"exact\": true, \"max_rel_diff\": 0, \"tolerance\": 0.05, \"x\": 1}",
                         "{\"trial\": 5, \"trial\": 5, \"exact\": true, \"max_rel_diff\": 0, \"tolerance\": 0}",
                         "{\"trial\": 5.5, \"exact\": true, \"max_rel_diff\": 0, \"tolerance\": 0.05}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(run_retrained_parse(&r, bad[i], strlen(bad[i]), 5, "top/m/trial-0005.retrained", &e), CB_EFORMAT);
        assert_non_null(strstr(e.msg, "top/m/trial-0005.retrained"));
    }
}

int main(void) {
    dir = test_tmpdir();
    snprintf(spec, sizeof spec, "%s/docs/experiments/paper-quick.json", test_repo_root());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_quick_end_to_end),
        cmocka_unit_test(test_top_figure_hand_built),
        cmocka_unit_test(test_retrained_reader),
        cmocka_unit_test(test_new_keys_refused),
        cmocka_unit_test(test_content_crc),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_rmtree(dir);
    free(dir);
    return rc;
}
