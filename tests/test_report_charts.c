/* test_report_charts.c - the report's charts made readable: y axes around the data, short run names in legends and tables, one
 * colour per method in every chart, the agreement histograms as bars, the
 * Frames section saying why it is empty, and the appearance probe's table. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval/eval.h"
#include "run/run.h"
#include "tests/support/run.h"

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4400];
    snprintf(path, sizeof path, "%.4000s/%.300s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path) {
    uint8_t *b;
    size_t n;
    if (cb_read_file(path, &b, &n, NULL)) return NULL;
    return (char *)b;
}

static int count(const char *hay, const char *end, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) && (!end || p < end); p++) n++;
    return n;
}

/* the SVG text of a chart, from the one holding title to its </svg> (malloc'd) */
static char *chart(const char *html, const char *title) {
    const char *t = strstr(html, title);
    if (!t) return NULL;
    const char *a = t;
    while (a > html && strncmp(a, "<svg", 4)) a--;
    const char *b = strstr(t, "</svg>");
    if (!b) return NULL;
    return strndup(a, (size_t)(b - a));
}

/* the y tick labels of a chart, as numbers */
static int yticks(const char *svg, double *v, int cap) {
    int n = 0;
    for (const char *p = svg; (p = strstr(p, "class=\"ytick\"")) && n < cap; p++) {
        const char *gt = strchr(p, '>');
        assert_non_null(gt);
        v[n++] = strtod(gt + 1, NULL);
    }
    return n;
}

/* the stroke colour of a chart's first polyline */
static void first_stroke(char out[8], const char *svg) {
    const char *p = strstr(svg, "<polyline");
    assert_non_null(p);
    p = strstr(p, "stroke=\"");
    assert_non_null(p);
    snprintf(out, 8, "%.7s", p + 8);
}

/* a run folder: config, metrics with mask columns, eval.json; agreement.json for masking runs */
static void make_run(const char *dir, const char *method, double tau, double acc0, int with_eval) {
    cb_err e = {0};
    assert_int_equal(cb_mkdirs(dir, &e), 0);
    run_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(model_net_default(&c.net, "nature"), 0);
    model plan;
    assert_int_equal(model_plan(&plan, &c.net, &e), 0);
    c.params = (int64_t)plan.nparams; /* config.json's reader checks it against the network */
    assert_int_equal(run_method_parse(method, &c.method), 0);
    c.tau = tau;
    c.sand_k = 1;
    c.rescale = 1;
    c.epochs = 5;
    c.lr = 5e-4;
    c.lr_decay = 1;
    c.batch_levels = 4;
    c.batch_frames = 8;
    c.seed = 1;
    c.train_levels = 16;
    c.train_frames = 640;
    c.val_levels = 4;
    c.steps_per_epoch = 10;
    assert_int_equal(run_config_write(dir, &c, &e), 0);
    run_text csv = {0}, js = {0};
    run_metrics_row r;
    memset(&r, 0, sizeof r);
    r.nlayers = 2;
    snprintf(r.layer[0], sizeof r.layer[0], "conv0");
    snprintf(r.layer[1], sizeof r.layer[1], "fc");
    assert_int_equal(run_metrics_csv_header(&csv, &r), 0);
    for (int ep = 1; ep <= 5; ep++) { /* accuracy in [acc0, acc0 + 0.09]: 0.74 .. 0.83 for acc0 = 0.74 */
        r.epoch = ep;
        r.step = ep * 10;
        r.train_loss = 0.8 - 0.05 * ep;
        r.train_acc = acc0 + 0.0225 * (ep - 1);
        r.val_loss = 0.7 - 0.02 * ep;
        r.val_acc = acc0 + 0.02 * (ep - 1);
        r.lr = 5e-4;
        r.seconds = ep;
        r.samples_per_s = 100;
        for (int k = 0; k < 2; k++) r.mask_density[k] = tau > 0 ? 0.5 - 0.03 * ep - 0.1 * k : 1.0;
        assert_int_equal(run_metrics_csv_row(&csv, &r), 0);
        assert_int_equal(run_metrics_jsonl_row(&js, &r, &e), 0);
    }
    write_text(dir, "metrics.csv", csv.s);
    write_text(dir, "metrics.jsonl", js.s);
    run_text_free(&csv);
    run_text_free(&js);
    if (with_eval) {
        run_eval ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.checkpoint, sizeof ev.checkpoint, "%.1000s/best.ckpt", dir); /* never written: not kept */
        snprintf(ev.data, sizeof ev.data, "test.cbd");
        ev.test = (run_eval_set){4, 400, acc0, acc0, 0.7, acc0, 0.05};
        assert_int_equal(run_eval_write(dir, &ev, &e), 0);
    }
    if (tau > 0) { /* 4 levels per step: |mean sign| only in bins 0, 2, 5, 7, 9 */
        run_agreement ag;
        memset(&ag, 0, sizeof ag);
        ag.levels = 4;
        ag.nlayers = 2;
        snprintf(ag.layer[0], sizeof ag.layer[0], "conv0");
        snprintf(ag.layer[1], sizeof ag.layer[1], "fc");
        for (int i = 0; i < 3; i++) {
            run_agreement_snap sn;
            memset(&sn, 0, sizeof sn);
            sn.step = i ? 10 * i : 1;
            sn.epoch = i;
            for (int k = 0; k < 2; k++)
                for (int b = 0; b < RUN_AGREE_BINS; b++)
                    sn.count[k][b] = (b == 0 || b == 2 || b == 5 || b == 7 || b == 9) ? 10 + 5 * b + i : 0;
            assert_int_equal(run_agreement_add(&ag, &sn), 0);
        }
        run_text t = {0};
        assert_int_equal(run_agreement_encode(&t, &ag, &e), 0);
        write_text(dir, "agreement.json", t.s);
        run_text_free(&t);
        run_agreement_free(&ag);
    }
}

/* appearance.json as coinbc appearance writes it: 4 training levels, held
 * out 100-101, 10 states, K = 2 */
static void make_appearance(const char *dir, int hard) {
    run_appearance a;
    memset(&a, 0, sizeof a);
    snprintf(a.checkpoint, sizeof a.checkpoint, "%.1000s/best.ckpt", dir);
    a.hard = hard;
    a.level_lo = 100;
    a.level_hi = 101;
    a.train_levels = 4;
    a.states_per_level = 10;
    a.noise = 0.1;
    a.seed = 1;
    a.donors = 2;
    if (hard) {
        a.seen_backgrounds = 3, a.seen_pairs = 3, a.seen_looks = 3;
        a.unseen_backgrounds = 59, a.unseen_pairs = 27, a.unseen_looks = 59 * 27;
    } else {
        a.seen_backgrounds = 1, a.seen_pairs = 1, a.seen_looks = 1;
    }
    a.cell[0][0] = (run_app_cell){40, 34, 40, 0};
    if (hard) a.cell[0][2] = (run_app_cell){80, 52, 60, 16.0};
    a.cell[1][0] = (run_app_cell){20, 15, 20, 0};
    a.cell[1][1] = (run_app_cell){40, 28, 30, 6.0};
    if (hard) a.cell[1][2] = (run_app_cell){40, 26, 29, 9.0};
    /* the closed loop: one episode per (level, look): T, K T (hard only), K H, H */
    const int64_t eps[RUN_APP_PLAYS] = {4, hard ? 8 : 0, 4, 2}, coins[RUN_APP_PLAYS] = {3, hard ? 2 : 0, 1, 1};
    for (int k = 0; k < RUN_APP_PLAYS; k++) {
        run_app_play *p = &a.play[k];
        p->episodes = eps[k], p->coins = coins[k], p->deaths = eps[k] - coins[k], p->timeouts = 0;
        if (eps[k]) {
            p->success = (double)coins[k] / (double)eps[k];
            eval_wilson(coins[k], eps[k], &p->success_lo, &p->success_hi);
        } else {
            p->success = p->success_lo = p->success_hi = NAN;
        }
    }
    cb_err e = {0};
    if (run_appearance_write(dir, &a, &e)) fail_msg("%s", e.msg);
}

/* eval_axis_nice and a line chart of data in [0.74, 0.83] */
static void test_axis_around_the_data(void **st) {
    (void)st;
    eval_axis ax;
    eval_axis_nice(&ax, 0.74, 0.83, 5);
    printf("axis for [0.74, 0.83]: %g to %g by %g (%d ticks)\n", ax.lo, ax.hi, ax.step, ax.nticks);
    assert_true(ax.lo > 0.7 && ax.lo <= 0.74);
    assert_true(ax.hi >= 0.83 && ax.hi < 0.9);
    assert_true(fabs(ax.step - 0.02) < 1e-12);
    assert_true(fabs(ax.lo + (ax.nticks - 1) * ax.step - ax.hi) < 1e-12);
    eval_axis_nice(&ax, -3, 97, 5); /* round steps: 20 */
    assert_true(ax.lo == -20 && ax.hi == 100 && ax.step == 20);
    eval_axis_nice(&ax, 1, 1, 5); /* one value: a span around it */
    assert_true(ax.lo < 1 && ax.hi > 1);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    double x[4] = {1, 2, 3, 4}, y[4] = {0.74, 0.78, 0.80, 0.83};
    eval_series s = {"acc", x, y, 4};
    eval_chart c = {.title = "t", .xlabel = "epoch", .ylabel = "accuracy", .width = 400, .height = 260};
    eval_svg_chart(m, &c, &s, NULL, 1);
    fclose(m);
    double v[32];
    int nt = yticks(buf, v, 32);
    assert_true(nt >= 3);
    assert_true(fabs(v[0] - 0.74) < 1e-9); /* the axis starts at the data, not at 0 */
    assert_true(fabs(v[nt - 1] - 0.84) < 1e-9);
    /* whole-number x (epochs): no ticks at 1.5 */
    assert_null(strstr(buf, ">1.5</text>"));
    assert_non_null(strstr(buf, "class=\"xtick\" x=\"56.0\" y=\"")); /* epoch 1 at the left edge */
    free(buf);
}

static void test_short_names(void **st) {
    (void)st;
    const char *p[5] = {"/w/a/runs/and-1", "/w/b/runs/and-1/", "x/mean", "./probe/and", "tand"};
    char out[5][EVAL_SHORT_NAME];
    eval_short_names(out, p, 5);
    assert_string_equal(out[0], "a/runs/and-1");
    assert_string_equal(out[1], "b/runs/and-1");
    assert_string_equal(out[2], "mean");
    assert_string_equal(out[3], "and");
    assert_string_equal(out[4], "tand");
    /* a base name that equals another path's whole name */
    const char *q[2] = {"and", "probe/and"};
    eval_short_names(out, q, 2);
    assert_string_equal(out[0], "and");
    assert_string_equal(out[1], "probe/and");
    /* a path deeper than the components kept: still its own last ones */
    static char deep[1024];
    for (int i = 0; i < 80; i++) strcat(deep, i % 2 ? "b/" : "a/");
    strcat(deep, "runs/and-1");
    const char *r[2] = {deep, "other/runs/and-1"};
    eval_short_names(out, r, 2);
    assert_string_equal(out[0], "b/runs/and-1");
    assert_string_equal(out[1], "other/runs/and-1");
}

static char *root;

/* two and runs, a mean run and a sand run under long paths: legends with the
 * short names, and's colour in the curves, the mask charts and the tables */
static void test_report_names_colours_bars_frames(void **st) {
    (void)st;
    root = test_tmpdir();
    assert_non_null(root);
    char d[4][1024], out[1200], o2[4096], err[4096];
    const char *m[4] = {"and", "mean", "and", "sand"};
    snprintf(d[0], sizeof d[0], "%s/experiment/final/runs/and-1", root);
    snprintf(d[1], sizeof d[1], "%s/experiment/final/runs/mean-1", root);
    snprintf(d[2], sizeof d[2], "%s/experiment/final/runs/and-2", root);
    snprintf(d[3], sizeof d[3], "%s/experiment/final/runs/sand-1", root);
    for (int i = 0; i < 4; i++) make_run(d[i], m[i], i == 1 ? 0 : 0.5, 0.74 - 0.01 * i, i != 3);
    make_appearance(d[0], 1);
    make_appearance(d[1], 1);
    snprintf(out, sizeof out, "%s/report.html", root);
    if (test_run(o2, sizeof o2, err, sizeof err, "report %s %s %s %s -o %s", d[0], d[1], d[2], d[3], out))
        fail_msg("report: %s", err);
    char *html = slurp(out);
    assert_non_null(html);
    /* the text table and every legend name runs by their base names, never the path */
    assert_non_null(strstr(o2, "and-1 "));
    assert_null(strstr(o2, "experiment"));
    char *acc = chart(html, "Accuracy per epoch");
    assert_non_null(acc);
    assert_non_null(strstr(acc, ">and-1</text>"));
    assert_non_null(strstr(acc, ">mean-1</text>"));
    assert_null(strstr(acc, "experiment"));
    assert_int_equal(count(acc, NULL, "class=\"legend\""), 4); /* one entry per run, not per curve */
    assert_int_equal(count(acc, NULL, "<polyline"), 8);         /* train and validation */
    /* the accuracy axis fits the data (0.71 .. 0.83), it does not start at 0 */
    double v[32];
    int nt = yticks(acc, v, 32);
    assert_true(nt >= 3);
    printf("accuracy axis: %g to %g\n", v[0], v[nt - 1]);
    assert_true(v[0] >= 0.6 && v[0] <= 0.71 && v[nt - 1] >= 0.83 && v[nt - 1] <= 0.9);
    /* and-1's colour is and's in the curves, the mask charts and the tables */
    const char *and_col = eval_method_color("and"), *mean_col = eval_method_color("mean");
    assert_non_null(and_col);
    assert_non_null(mean_col);
    assert_string_not_equal(and_col, mean_col);
    assert_string_not_equal(and_col, eval_method_color("sand"));
    assert_string_not_equal(eval_method_color("geomean"), eval_method_color("tand"));
    assert_null(eval_method_color("nonsense"));
    char col[8];
    first_stroke(col, acc);
    assert_string_equal(col, and_col);
    char *mask = chart(html, "mask density: conv0");
    assert_non_null(mask);
    first_stroke(col, mask);
    assert_string_equal(col, and_col);
    assert_null(strstr(mask, ">mean-1</text>")); /* mean has no mask: named under the charts instead */
    assert_non_null(strstr(html, "not drawn: mean-1."));
    char sw[64];
    snprintf(sw, sizeof sw, "background:%s\"></span>and-1</td>", and_col);
    assert_non_null(strstr(html, sw));
    /* the second and run: a shade of and, not another method's colour */
    char shade[8];
    eval_color_shade(shade, and_col, 1, 2);
    assert_string_not_equal(shade, and_col);
    snprintf(sw, sizeof sw, "background:%s\"></span>and-2</td>", shade);
    assert_non_null(strstr(html, sw));
    /* the agreement histograms: bars per bin and snapshot, no lines */
    char *hist = chart(html, "and-1: conv0");
    assert_non_null(hist);
    assert_non_null(strstr(hist, "class=\"chart hist\""));
    assert_int_equal(count(hist, NULL, "<rect class=\"bar\""), 3 * RUN_AGREE_BINS);
    assert_int_equal(count(hist, NULL, "<polyline"), 0);
    nt = yticks(hist, v, 32);
    assert_true(nt >= 2 && v[0] == 0); /* shares: bars stand on 0 */
    /* the latest snapshot in and's own colour */
    snprintf(sw, sizeof sw, "fill=\"%s\"/><text class=\"legend\"", and_col);
    assert_non_null(strstr(hist, sw));
    /* Frames: none of these runs has eval_frames.png; each says why */
    const char *fr = strstr(html, "<h2>Frames</h2>");
    assert_non_null(fr);
    assert_non_null(strstr(fr, "<li>and-1: no frames, the checkpoint"));
    assert_non_null(strstr(fr, "is not kept"));
    assert_non_null(strstr(fr, "<li>sand-1: no frames, the run was not evaluated"));
    /* the appearance probe: and-1 and mean-1 side by side, and-2 absent */
    const char *at = strstr(html, "<table id=\"appearance\">");
    assert_non_null(at);
    const char *ae = strstr(at, "</table>");
    assert_non_null(ae);
    assert_int_equal(count(at, ae, "<th>and-1<br>"), 1);
    assert_int_equal(count(at, ae, "<th>mean-1<br>"), 1);
    assert_int_equal(count(at, ae, "and-2"), 0);
    assert_non_null(strstr(at, "<td>85.0%</td><td>85.0%</td>")); /* own look, training layouts: 34/40 */
    assert_non_null(strstr(at, "<td>75.0%</td><td>75.0%</td>")); /* agreement, training layouts, unseen: 60/80 */
    assert_non_null(strstr(at, "<td>0.200</td><td>0.200</td>")); /* mean KL: 16/80 */
    assert_non_null(strstr(at, "<td>0.225</td><td>0.225</td>")); /* held-out layouts, unseen looks: 9/40 */
    /* the closed loop's four cells: 3 of 4 training levels as they are, 2 of 8 in unseen looks */
    assert_non_null(strstr(at, "closed loop: rollout success"));
    assert_non_null(strstr(at, "<td>75.0% ["));
    assert_non_null(strstr(at, "<td>25.0% ["));
    assert_non_null(strstr(at, "8 episodes"));
    /* no strip: these records name none (from before the strip; tests/test_appearance_strip.c has the rest) */
    assert_non_null(strstr(ae, "<p class=\"nostrip\">and-1: no strip, appearance.json lists none"));
    assert_non_null(strstr(ae, "<p class=\"nostrip\">mean-1: no strip"));
    free(acc);
    free(mask);
    free(hist);
    free(html);
    /* --json: the groups for scripts, null for a run without the record */
    static char js[65536];
    if (test_run(js, sizeof js, err, sizeof err, "report %s %s --json", d[0], d[2])) fail_msg("report --json: %s", err);
    json_error_t je;
    json_t *arr = json_loads(js, 0, &je);
    assert_non_null(arr);
    json_t *a0 = json_object_get(json_array_get(arr, 0), "appearance");
    assert_true(json_is_object(a0));
    json_t *g = json_object_get(a0, "seen_layout_unseen_look");
    assert_true(json_real_value(json_object_get(g, "agreement")) == 0.75);
    assert_true(json_real_value(json_object_get(g, "mean_kl")) == 0.2);
    assert_true(json_is_null(json_object_get(json_object_get(a0, "seen_layout_own_look"), "mean_kl")));
    assert_true(json_is_null(json_object_get(json_array_get(arr, 1), "appearance")));
    json_decref(arr);
    /* a damaged appearance.json is an error naming it */
    write_text(d[0], "appearance.json", "{\"format\": \"coinbc-appearance\", \"version\": 1}\n");
    assert_int_not_equal(test_run(o2, sizeof o2, err, sizeof err, "report %s -o %s/r2.html", d[0], root), 0);
    printf("damaged appearance.json: %s", err);
    assert_non_null(strstr(err, "appearance.json"));
    /* easy mode: no unseen looks, and the page says so */
    make_appearance(d[0], 0);
    if (test_run(o2, sizeof o2, err, sizeof err, "report %s -o %s", d[0], out)) fail_msg("report: %s", err);
    html = slurp(out);
    assert_non_null(html);
    assert_non_null(strstr(html, "Easy mode has one background"));
    at = strstr(html, "<table id=\"appearance\">");
    assert_non_null(at);
    assert_non_null(strstr(at, "held-out layouts, unseen looks</td><td class=\"l\">accuracy</td><td class=\"na\">-"));
    free(html);
}

/* a tune study's value axis fits its values, and its colour is its method's */
static void test_tune_report(void **st) {
    (void)st;
    char dir[2][1100], out[1200], o2[4096], err[4096];
    const char *m[2] = {"and", "mean"};
    cb_err e = {0};
    for (int s = 0; s < 2; s++) {
        snprintf(dir[s], sizeof dir[s], "%s/tune/%s", root, m[s]);
        assert_int_equal(cb_mkdirs(dir[s], &e), 0);
        char csv[1024];
        snprintf(csv, sizeof csv,
                 "number,state,lr,value,epochs_run,seconds,run\n"
                 "0,COMPLETE,0.0001,0.740000,3,1.0,trials/0000\n"
                 "1,PRUNED,0.0003,0.760000,1,1.0,trials/0001\n"
                 "2,COMPLETE,0.001,0.8%d0000,3,1.0,trials/0002\n"
                 "3,COMPLETE,0.003,0.790000,3,1.0,trials/0003\n",
                 s + 2);
        write_text(dir[s], "trials.csv", csv);
        char best[256];
        snprintf(best, sizeof best, "{\"method\": \"%s\", \"lr\": 0.001, \"epochs\": 3}\n", m[s]);
        write_text(dir[s], "best.json", best);
    }
    snprintf(out, sizeof out, "%s/tune.html", root);
    if (test_run(o2, sizeof o2, err, sizeof err, "report %s %s -o %s", dir[0], dir[1], out))
        fail_msg("report: %s", err);
    char *html = slurp(out);
    assert_non_null(html);
    char *sc = chart(html, "value vs lr");
    assert_non_null(sc);
    double v[32];
    int nt = yticks(sc, v, 32);
    printf("tune value axis: %g to %g (%d ticks)\n", v[0], v[nt - 1], nt);
    assert_true(nt >= 3);
    assert_true(v[0] > 0.6 && v[0] <= 0.74); /* not 0 to 1 */
    assert_true(v[nt - 1] >= 0.83 && v[nt - 1] < 0.9);
    assert_non_null(strstr(sc, ">and</text>")); /* short names, not paths */
    assert_null(strstr(sc, "/tune/"));
    char want[64];
    snprintf(want, sizeof want, "fill=\"%s\" stroke=\"%s\"", eval_method_color("and"), eval_method_color("and"));
    assert_non_null(strstr(sc, want));
    char *hist = chart(html, "optimization history");
    assert_non_null(hist);
    char col[8];
    first_stroke(col, hist);
    assert_string_equal(col, eval_method_color("and"));
    free(sc);
    free(hist);
    free(html);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axis_around_the_data),
        cmocka_unit_test(test_short_names),
        cmocka_unit_test(test_report_names_colours_bars_frames),
        cmocka_unit_test(test_tune_report),
    };
    return cmocka_run_group_tests_name("report_charts", tests, NULL, NULL);
}
