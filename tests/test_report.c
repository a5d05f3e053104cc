/* test_report.c - the HTML report: built from hand-made run folders, checked
 * as text (table, charts, escaping, embedded frames), then rendered in
 * headless Chromium; the screenshot must show the page and its charts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "eval/eval.h"
#include "run/run.h"
#include "tests/support/pngfile.h"
#include "tests/support/run.h"

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4400];
    snprintf(path, sizeof path, "%.4000s/%.300s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* a config.json as coinbc train writes it */
static void write_config(const char *dir, const char *method, double tau) {
    run_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(model_net_default(&c.net, "impala"), 0);
    c.params = 625999;
    assert_int_equal(run_method_parse(method, &c.method), 0);
    c.tau = tau;
    c.sand_k = 1;
    c.rescale = 1;
    c.epochs = 6;
    c.lr = 5e-4;
    c.lr_decay = 1;
    c.batch_levels = 16;
    c.batch_frames = 8;
    c.seed = 1;
    c.train_levels = 64;
    c.train_frames = 12800;
    c.val_levels = 8;
    c.steps_per_epoch = 100;
    cb_err e = {0};
    assert_int_equal(run_config_write(dir, &c, &e), 0);
}

/* metrics.csv and metrics.jsonl of `epochs` rows with these layers */
static void write_metrics(const char *dir, int epochs, int nl, const char *const *layers, double acc0, double tau) {
    run_text csv = {0}, js = {0};
    cb_err e = {0};
    run_metrics_row r;
    memset(&r, 0, sizeof r);
    r.nlayers = nl;
    for (int k = 0; k < nl; k++) snprintf(r.layer[k], sizeof r.layer[k], "%s", layers[k]);
    assert_int_equal(run_metrics_csv_header(&csv, &r), 0);
    for (int ep = 1; ep <= epochs; ep++) {
        r.epoch = ep;
        r.step = ep * 100;
        r.train_loss = 2.0 / ep;
        r.train_acc = acc0 + 0.05 * ep;
        r.val_loss = 2.2 / ep;
        r.val_acc = acc0 + 0.03 * ep;
        r.lr = 5e-4;
        r.seconds = 10.0 * ep;
        r.samples_per_s = 1000;
        for (int k = 0; k < nl; k++) r.mask_density[k] = tau > 0 ? 0.9 - 0.05 * ep - 0.02 * k : 1.0;
        assert_int_equal(run_metrics_csv_row(&csv, &r), 0);
        assert_int_equal(run_metrics_jsonl_row(&js, &r, &e), 0);
    }
    write_text(dir, "metrics.csv", csv.s);
    write_text(dir, "metrics.jsonl", js.s);
    run_text_free(&csv);
    run_text_free(&js);
}

static void make_run(const char *root, const char *name, const char *method, double tau, double acc0) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    cb_err e = {0};
    assert_int_equal(cb_mkdirs(dir, &e), 0);
    char buf[2100];
    write_config(dir, method, tau);
    static const char *const layers[] = {"conv0", "fc"};
    write_metrics(dir, 6, 2, layers, acc0, tau);
    run_eval ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.checkpoint, sizeof ev.checkpoint, "%s/best.ckpt", dir);
    snprintf(ev.data, sizeof ev.data, "test.cbd");
    ev.test = (run_eval_set){8, 1600, acc0 + 0.15, acc0 + 0.17, 1.5, acc0 + 0.15, 0.05};
    ev.has_train = 1;
    ev.train = (run_eval_set){64, 12800, acc0 + 0.3, acc0 + 0.32, 1.1, acc0 + 0.3, 0.04};
    ev.gap = 0.15;
    assert_int_equal(run_eval_write(dir, &ev, &e), 0);
    run_rollout ro = {.level_lo = 1000, .level_hi = 1099, .episodes_per_level = 1, .episodes = 100, .success = 0.42,
                      .success_lo = 0.35, .success_hi = 0.49, .death_rate = 0.3, .timeout_rate = 0.28,
                      .mean_steps_to_coin = 80, .expert_success = 1.0, .expert_mean_steps_to_coin = 60,
                      .random_success = 0.05, .random_success_lo = 0.02, .random_success_hi = 0.11};
    assert_int_equal(run_rollout_write(dir, &ro, &e), 0);
    if (tau == 0) { /* the memorization probe's three evaluations, as coinbc compare names them */
        static const char *const files[3] = {"relabeled.json", "true.json", "test.json"};
        const double acc[3] = {0.5123, 0.8234, 0.7345};
        for (int k = 0; k < 3; k++) {
            run_eval pv = ev;
            pv.has_train = 0;
            pv.test.acc = acc[k];
            run_text t = {0};
            assert_int_equal(run_eval_encode(&t, &pv, &e), 0);
            write_text(dir, files[k], t.s);
            run_text_free(&t);
        }
    }
    if (tau > 0) { /* agreement.json: the first step and three epoch ends */
        run_agreement ag;
        memset(&ag, 0, sizeof ag);
        ag.levels = 16;
        ag.nlayers = 2;
        snprintf(ag.layer[0], sizeof ag.layer[0], "conv0");
        snprintf(ag.layer[1], sizeof ag.layer[1], "fc");
        for (int i = 0; i < 4; i++) {
            run_agreement_snap sn;
            memset(&sn, 0, sizeof sn);
            sn.step = i ? 10 * i : 1;
            sn.epoch = i;
            for (int k = 0; k < 2; k++)
                for (int b = 0; b < RUN_AGREE_BINS; b++) sn.count[k][b] = 100 - 9 * b + 20 * i * (b == 9);
            assert_int_equal(run_agreement_add(&ag, &sn), 0);
        }
        run_text t = {0};
        assert_int_equal(run_agreement_encode(&t, &ag, &e), 0);
        write_text(dir, "agreement.json", t.s);
        run_text_free(&t);
        run_agreement_free(&ag);
    }
    /* sample frames: a small green PNG */
    uint8_t img[32 * 16 * 3];
    for (int i = 0; i < 32 * 16; i++) {
        img[i * 3] = 20;
        img[i * 3 + 1] = 200;
        img[i * 3 + 2] = 60;
    }
    snprintf(buf, sizeof buf, "%s/eval_frames.png", dir);
    assert_int_equal(game_write_png(buf, img, 32, 16, &e), 0);
}

static char *slurp(const char *path) {
    uint8_t *b;
    size_t n;
    if (cb_read_file(path, &b, &n, NULL)) return NULL;
    return (char *)b;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static char *root;

static void test_report_html(void **st) {
    (void)st;
    root = test_tmpdir();
    assert_non_null(root);
    make_run(root, "mean", "mean", 0, 0.30);
    make_run(root, "and<x>", "and", 0.8, 0.33);
    char out[1024], o2[1024], err[4096];
    snprintf(out, sizeof out, "%s/report.html", root);
    assert_int_equal(test_run(o2, sizeof o2, err, sizeof err, "report %s/mean '%s/and<x>' -o %s", root, root, out), 0);
    char *html = slurp(out);
    assert_non_null(html);
    assert_non_null(strstr(html, "<table id=\"runs\">"));
    assert_non_null(strstr(html, "and&lt;x&gt;")); /* escaped run name */
    assert_null(strstr(html, "and<x>"));
    assert_non_null(strstr(html, "45.0%"));        /* test accuracy of "mean": 0.30 + 0.15 */
    assert_non_null(strstr(html, "+15.0"));        /* the gap */
    assert_non_null(strstr(html, "42.0% [35.0, 49.0]"));
    assert_int_equal(count(html, "<svg"), 6); /* accuracy, loss, two mask charts, and<x>'s agreement per layer */
    assert_non_null(strstr(html, "Loss per epoch"));
    assert_non_null(strstr(html, "Agreement across levels"));
    assert_non_null(strstr(html, "and&lt;x&gt; (16 levels per step)"));
    assert_non_null(strstr(html, ">epoch 3</text>"));
    /* the probe's table: mean's three accuracies, and<x> has none */
    const char *pt = strstr(html, "<table id=\"probe\">");
    assert_non_null(pt);
    assert_non_null(strstr(pt, "<td>51.2%</td><td>82.3%</td><td>73.5%</td>"));
    const char *x = strstr(pt, "and&lt;x&gt;</td>"), *end = strstr(pt, "</table>");
    assert_true(end && (!x || x > end));
    assert_int_equal(count(html, "data:image/png;base64,"), 2);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://") ? strstr(html, "src=\"http") : NULL);
    free(html);
    /* bad input */
    assert_int_not_equal(test_run(o2, sizeof o2, err, sizeof err, "report %s/nope -o %s/r2.html", root, root), 0);
    assert_non_null(strstr(err, "not a run folder"));
    assert_int_not_equal(test_run(o2, sizeof o2, err, sizeof err, "report"), 0);
    /* a damaged agreement.json is an error naming it */
    char adir[1024];
    snprintf(adir, sizeof adir, "%s/and<x>", root);
    char *ag = slurp(strcat(strcpy(o2, adir), "/agreement.json"));
    assert_non_null(ag);
    write_text(adir, "agreement.json", "{\"format\": \"coinbc-agreement\", \"version\": 1, \"bins\": 3}\n");
    assert_int_not_equal(test_run(o2, sizeof o2, err, sizeof err, "report '%s' -o %s/r3.html", adir, root), 0);
    printf("damaged agreement.json: %s", err);
    assert_non_null(strstr(err, "agreement.json"));
    assert_non_null(strstr(err, "\"bins\""));
    write_text(adir, "agreement.json", ag);
    free(ag);
    /* so is a damaged probe file */
    char mdir[1024];
    snprintf(mdir, sizeof mdir, "%s/mean", root);
    write_text(mdir, "true.json", "{\"format\": \"coinbc-eval\", \"version\": 1, \"checkpoint\": 1}\n");
    assert_int_not_equal(test_run(o2, sizeof o2, err, sizeof err, "report %s -o %s/r3.html", mdir, root), 0);
    printf("damaged true.json: %s", err);
    assert_non_null(strstr(err, "true.json"));
    assert_non_null(strstr(err, "\"checkpoint\""));
}

/* a run with more layers than two series per run: every layer gets a line */
static void test_report_all_layers(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    char run[1024], out[1024], o2[1024], err[4096];
    snprintf(run, sizeof run, "%s/wide", dir);
    cb_err e = {0};
    assert_int_equal(cb_mkdirs(run, &e), 0);
    write_config(run, "and", 0.5);
    static const char *const layers[] = {"a", "b", "c", "d", "e", "f"};
    write_metrics(run, 2, 6, layers, 0.4, 0.5);
    snprintf(out, sizeof out, "%s/r.html", dir);
    assert_int_equal(test_run(o2, sizeof o2, err, sizeof err, "report %s -o %s", run, out), 0);
    char *html = slurp(out);
    assert_non_null(html);
    assert_int_equal(count(html, "<polyline"), 2 + 2 + 6); /* accuracy, loss, the six mask lines */
    free(html);
    test_rmtree(dir);
    free(dir);
}

/* The first Chromium found as /usr/bin/chromium or in $PATH, or NULL. */
static const char *find_chromium(void) {
    static char path[1024];
    const char *names[] = {"chromium", "chromium-browser"};
    if (access("/usr/bin/chromium", X_OK) == 0) return "/usr/bin/chromium";
    const char *env = getenv("PATH");
    for (int i = 0; i < 2 && env; i++)
        for (const char *p = env; *p;) {
            size_t n = strcspn(p, ":");
            if (n) {
                snprintf(path, sizeof path, "%.*s/%s", (int)n, p, names[i]);
                if (access(path, X_OK) == 0) return path;
            }
            p += n + (p[n] == ':');
        }
    return NULL;
}

static void test_report_renders_in_chromium(void **st) {
    (void)st;
    const char *chromium = find_chromium();
    if (!chromium) {
        printf("report: skipping the Chromium rendering check: no chromium on this machine (make deps installs it)\n");
        skip();
    }
    char cmd[4096], shot[1024];
    snprintf(shot, sizeof shot, "%s/shot.png", root);
    snprintf(cmd, sizeof cmd,
             "%s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars "
             "--user-data-dir=%s/chrome --window-size=1100,2600 --screenshot=%s file://%s/report.html "
             ">%s/chrome.log 2>&1",
             chromium, root, shot, root, root);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "tail -5 %s/chrome.log", root);
        if (system(cmd) != 0) {
        }
    }
    int w = 0, h = 0;
    uint8_t *img = test_png_read(shot, &w, &h);
    assert_non_null(img);
    assert_int_equal(w, 1100);
    /* the page is there: plenty of dark text pixels on white; the charts are
     * there: pixels of the first series colour (#1f77b4) and the second
     * (#d62728); the embedded frames: their green (20,200,60) */
    long dark = 0, blue = 0, red = 0, green = 0;
    for (long i = 0; i < (long)w * h; i++) {
        const uint8_t *p = img + i * 3;
        if (p[0] < 80 && p[1] < 80 && p[2] < 80) dark++;
        if (abs(p[0] - 0x1f) < 12 && abs(p[1] - 0x77) < 12 && abs(p[2] - 0xb4) < 12) blue++;
        if (abs(p[0] - 0xd6) < 12 && abs(p[1] - 0x27) < 12 && abs(p[2] - 0x28) < 12) red++;
        if (abs(p[0] - 20) < 10 && abs(p[1] - 200) < 10 && abs(p[2] - 60) < 10) green++;
    }
    printf("screenshot %dx%d: %ld text pixels, %ld blue, %ld red chart pixels, %ld frame pixels\n", w, h, dark, blue, red,
           green);
    assert_true(dark > 2000);
    assert_true(blue > 200);
    assert_true(red > 200);
    assert_true(green > 1000);
    free(img);
    if (getenv("COINBC_KEEP_SHOT")) {
        snprintf(cmd, sizeof cmd, "cp %s /tmp/coinbc_report_shot.png", shot);
        if (system(cmd) != 0) printf("could not keep the screenshot\n");
    }
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_html),
        cmocka_unit_test(test_report_all_layers),
        cmocka_unit_test(test_report_renders_in_chromium),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
