/* report.c - one self-contained HTML page comparing runs: a table (method,
 * tau, train and test accuracy, gap, rollout success), learning curves
 * (accuracy and loss), mask density per layer and the agreement histograms
 * per layer as inline SVG, and each run's sample frames (PNG embedded as
 * base64). Reads RUN/config.json, RUN/metrics.jsonl + .csv, RUN/eval.json,
 * RUN/rollout.json, RUN/agreement.json and the memorization probe's
 * RUN/{relabeled,true,test}.json (eval.json format, as coinbc compare
 * writes them into probe/METHOD/) through run/'s strict readers, and
 * RUN/eval_frames.png; a missing file leaves its cells empty, a damaged one
 * is an error. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/run.h"

typedef struct {
    const char *dir;
    int has_config, has_eval, has_rollout, has_agree;
    int has_probe[3];  /* relabeled.json, true.json, test.json */
    run_eval probe[3];
    run_config config;
    run_agreement agree;
    run_eval ev;
    run_rollout ro;
    /* the metrics as columns: epoch, train_acc, val_acc, train_loss, val_loss, mask_<layer>... */
    int ncols, nrows;
    char **cols;
    double *vals; /* nrows x ncols, NaN where empty */
    uint8_t *png;
    size_t png_n;
} run_data;

/* eval_frames.png is at most 8 frames with their labels (528 x 74 pixels,
 * under 120 KB even uncompressed): a file above
 * this is not one coinbc eval wrote, and is refused unread */
#define FRAMES_PNG_MAX_BYTES ((size_t)4 << 20)

/* DIR/NAME, a regular file of at most max bytes, embedded as it is: *out
 * NULL and 0 when it is missing, an error naming it when it is something
 * else (a FIFO, a device, too large) */
static int slurp(const char *dir, const char *name, size_t max, uint8_t **out, size_t *n, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = cb_read_file_max(path, max, out, n, e);
    return rc == CB_ENOTFOUND ? 0 : rc;
}

static int load_metrics(run_data *r, cb_err *e) {
    run_metrics m;
    int rc = run_metrics_read(&m, r->dir, e);
    if (rc == CB_ENOTFOUND) return 0;
    if (rc) return rc;
    int nl = m.nrows ? m.rows[0].nlayers : 0;
    r->ncols = 5 + nl;
    r->cols = calloc((size_t)r->ncols, sizeof *r->cols);
    r->vals = malloc(sizeof(double) * (size_t)r->ncols * (size_t)(m.nrows ? m.nrows : 1));
    if (!r->cols || !r->vals) {
        run_metrics_free(&m);
        r->ncols = 0;
        return cb_fail(e, CB_ENOMEM, "report: out of memory");
    }
    r->cols[0] = strdup("epoch");
    r->cols[1] = strdup("train_acc");
    r->cols[2] = strdup("val_acc");
    r->cols[3] = strdup("train_loss");
    r->cols[4] = strdup("val_loss");
    for (int k = 0; k < nl; k++) {
        char c[64];
        snprintf(c, sizeof c, "mask_%s", m.rows[0].layer[k]);
        r->cols[5 + k] = strdup(c);
    }
    for (int i = 0; i < m.nrows; i++) {
        double *row = r->vals + (size_t)i * r->ncols;
        row[0] = (double)m.rows[i].epoch;
        row[1] = m.rows[i].train_acc;
        row[2] = m.rows[i].val_acc;
        row[3] = m.rows[i].train_loss;
        row[4] = m.rows[i].val_loss;
        for (int k = 0; k < nl; k++) row[5 + k] = m.rows[i].mask_density[k];
    }
    r->nrows = m.nrows;
    run_metrics_free(&m);
    return 0;
}

static const char *const PROBE_FILES[3] = {"relabeled.json", "true.json", "test.json"};

/* DIR/FILE in eval.json's format; CB_ENOTFOUND when missing */
static int read_eval_as(run_eval *v, const char *dir, const char *file, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, RUN_RECORD_MAX_BYTES, &buf, &n, e);
    if (rc) return rc;
    rc = run_eval_decode(v, (const char *)buf, n, path, e);
    free(buf);
    return rc;
}

/* every file the report reads, through the strict readers */
static int load_run(run_data *r, const char *dir, cb_err *e) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    int rc;
    if ((rc = run_config_read(&r->config, dir, e)) && rc != CB_ENOTFOUND) return rc;
    r->has_config = !rc;
    if ((rc = run_eval_read(&r->ev, dir, e)) && rc != CB_ENOTFOUND) return rc;
    r->has_eval = !rc;
    if ((rc = run_rollout_read(&r->ro, dir, e)) && rc != CB_ENOTFOUND) return rc;
    r->has_rollout = !rc;
    if ((rc = run_agreement_read(&r->agree, dir, e)) && rc != CB_ENOTFOUND) return rc;
    r->has_agree = !rc;
    for (int k = 0; k < 3; k++) {
        if ((rc = read_eval_as(&r->probe[k], dir, PROBE_FILES[k], e)) && rc != CB_ENOTFOUND) return rc;
        r->has_probe[k] = !rc;
    }
    if ((rc = load_metrics(r, e))) return rc;
    if ((rc = slurp(dir, "eval_frames.png", FRAMES_PNG_MAX_BYTES, &r->png, &r->png_n, e))) return rc;
    if (!r->has_config && !r->nrows && !r->has_eval)
        return cb_fail(e, CB_ENOTFOUND, "%s: not a run folder (no config.json, metrics or eval.json)", dir);
    return 0;
}

static int load_runs(run_data **out, const char *const *runs, int nruns, cb_err *e);
static void free_runs(run_data *rd, int nruns);

static int col(const run_data *r, const char *name) {
    for (int k = 0; k < r->ncols; k++)
        if (r->cols[k] && !strcmp(r->cols[k], name)) return k;
    return -1;
}

static void run_free(run_data *r) {
    for (int k = 0; k < r->ncols; k++) free(r->cols[k]);
    free(r->cols);
    free(r->vals);
    free(r->png);
    run_agreement_free(&r->agree);
}

static void base64(FILE *f, const uint8_t *p, size_t n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(T[(v >> 18) & 63], f);
        fputc(T[(v >> 12) & 63], f);
        fputc(i + 1 < n ? T[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? T[v & 63] : '=', f);
    }
}

static void cell_pct(FILE *f, int has, double v) {
    if (has && isfinite(v))
        fprintf(f, "<td>%.1f%%</td>", 100 * v);
    else
        fprintf(f, "<td class=\"na\">-</td>");
}

static const char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *b = dir;
    for (size_t i = 0; i + 1 < n; i++)
        if (dir[i] == '/') b = dir + i + 1;
    return b;
}

/* The memorization probe: runs trained with the labels of some training
 * levels replaced by random actions; accuracy of the final weights on those
 * levels against the random labels, on the other training levels and on the
 * test levels. */
static void probe_table(FILE *f, const run_data *rd, int nruns) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= rd[i].has_probe[0] || rd[i].has_probe[1] || rd[i].has_probe[2];
    if (!any) return;
    fprintf(f, "<h2>Memorization probe</h2>\n<p class=\"note\">Trained with the labels of some training levels "
               "replaced by uniform random actions (fixed per frame). Relabeled: accuracy against those random labels, "
               "i.e. how much level-specific noise the policy memorized (chance 1/15 = 6.7%%); true labels: the other "
               "training levels; test: held-out levels.</p>\n<table id=\"probe\"><tr><th>run</th><th>method</th>"
               "<th>tau</th><th>relabeled levels</th><th>true-label levels</th><th>test levels</th></tr>\n");
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        if (!(r->has_probe[0] || r->has_probe[1] || r->has_probe[2])) continue;
        fprintf(f, "<tr><td class=\"l\">");
        eval_html_escape(f, base_name(r->dir));
        fprintf(f, "</td><td class=\"l\">");
        eval_html_escape(f, r->has_config ? run_method_name(r->config.method) : "-");
        fprintf(f, "</td><td>");
        if (r->has_config) fprintf(f, "%g", r->config.tau);
        fprintf(f, "</td>");
        for (int k = 0; k < 3; k++) cell_pct(f, r->has_probe[k], r->probe[k].test.acc);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

/* Per run and weight tensor, the share of parameters in each bin of |mean
 * sign| over a step's levels, at up to AG_SHOWN snapshots (the first step,
 * the last epoch's end and evenly between). ser/xs/ys/names have room for cap. */
#define AG_SHOWN 4
static void agreement_charts(FILE *f, const run_data *rd, int nruns, eval_series *ser, double **xs, double **ys,
                             char (*names)[128], int cap) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= rd[i].has_agree && rd[i].agree.nsnaps > 0;
    if (!any) return;
    fprintf(f, "<h2>Agreement across levels</h2>\n<p class=\"note\">For each weight tensor, the share of its "
               "parameters by |mean over the step's levels of sign(gradient)| (0: the levels' signs cancel, 1: every "
               "level pushes the same way), binned in tenths, at the first step and at the ends of a few epochs. The "
               "AND-mask keeps a parameter's step when this is at least tau.</p>\n");
    static double bx[RUN_AGREE_BINS];
    for (int b = 0; b < RUN_AGREE_BINS; b++) bx[b] = (b + 0.5) / RUN_AGREE_BINS;
    for (int i = 0; i < nruns; i++) {
        const run_agreement *a = &rd[i].agree;
        if (!rd[i].has_agree || a->nsnaps == 0) continue;
        int pick[AG_SHOWN], np = 0;
        for (int j = 0; j < AG_SHOWN; j++) {
            int s = a->nsnaps == 1 ? 0 : (int)((int64_t)j * (a->nsnaps - 1) / (AG_SHOWN - 1));
            if (np == 0 || pick[np - 1] != s) pick[np++] = s;
        }
        fprintf(f, "<h3>");
        eval_html_escape(f, base_name(rd[i].dir));
        fprintf(f, " (%d levels per step)</h3>\n<div class=\"charts\">\n", a->levels);
        for (int k = 0; k < a->nlayers; k++) {
            int ns = 0;
            for (int j = 0; j < np && ns < cap; j++) {
                const run_agreement_snap *sn = &a->snaps[pick[j]];
                int64_t tot = 0;
                for (int b = 0; b < RUN_AGREE_BINS; b++) tot += sn->count[k][b];
                ys[ns] = malloc(sizeof(double) * RUN_AGREE_BINS);
                if (!ys[ns]) continue;
                for (int b = 0; b < RUN_AGREE_BINS; b++) ys[ns][b] = tot ? (double)sn->count[k][b] / (double)tot : NAN;
                xs[ns] = NULL;
                if (sn->epoch == 0) snprintf(names[ns], sizeof names[ns], "step %lld", (long long)sn->step);
                else snprintf(names[ns], sizeof names[ns], "epoch %lld", (long long)sn->epoch);
                ser[ns] = (eval_series){names[ns], bx, ys[ns], RUN_AGREE_BINS};
                ns++;
            }
            char title[256];
            snprintf(title, sizeof title, "%s: %s", base_name(rd[i].dir), a->layer[k]);
            if (ns) eval_svg_lines(f, title, "|mean sign| across levels", "share of parameters", ser, ns, 360, 260);
            for (int j = 0; j < ns; j++) free(ys[j]);
        }
        fprintf(f, "</div>\n");
    }
}

int eval_report_write(const char *path, const char *const *runs, int nruns, cb_err *e) {
    if (nruns <= 0) return cb_fail(e, CB_EARG, "report: no runs given");
    run_data *rd;
    int rc0 = load_runs(&rd, runs, nruns, e);
    if (rc0) return rc0;
    cb_afile af;
    int rc = cb_afile_open(&af, path, e);
    if (rc) goto out;
    FILE *f = af.fp;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>coinbc report</title>\n"
               "<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}"
               "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
               "th{background:#f2f2f2}td.l{text-align:left}.na{color:#aaa}.charts{display:flex;flex-wrap:wrap;gap:16px}"
               "img.frames{image-rendering:pixelated;width:100%%;max-width:1000px}"
               "p.note{color:#555;font-size:90%%}</style></head><body>\n");
    fprintf(f, "<h1>coinbc report</h1>\n<p>%d run%s. Accuracy is the share of frames where the policy's most likely "
               "action equals the expert's label, on the training levels and on held-out test levels; the gap is "
               "train minus test (memorization). Rollout success is the share of episodes on held-out levels where "
               "the policy, playing from its 64x64 frames, reaches the coin (95%% Wilson interval).</p>\n",
            nruns, nruns == 1 ? "" : "s");
    fprintf(f, "<table id=\"runs\"><tr><th>run</th><th>method</th><th>tau</th><th>net</th><th>train acc</th>"
               "<th>test acc</th><th>gap</th><th>test acc (merged)</th><th>rollout success</th><th>expert</th>"
               "<th>random</th></tr>\n");
    for (int i = 0; i < nruns; i++) {
        run_data *r = &rd[i];
        const char *method = r->has_config ? run_method_name(r->config.method) : "-";
        const char *net = r->has_config ? model_net_name(r->config.net.net) : "-";
        fprintf(f, "<tr><td class=\"l\">");
        eval_html_escape(f, base_name(r->dir));
        fprintf(f, "</td><td class=\"l\">");
        eval_html_escape(f, method);
        fprintf(f, "</td><td>");
        if (r->has_config) fprintf(f, "%g", r->config.tau);
        fprintf(f, "</td><td class=\"l\">");
        eval_html_escape(f, net);
        fprintf(f, "</td>");
        int tr = r->has_eval && r->ev.has_train;
        cell_pct(f, tr, r->ev.train.acc);
        cell_pct(f, r->has_eval, r->ev.test.acc);
        if (tr && isfinite(r->ev.train.acc) && isfinite(r->ev.test.acc))
            fprintf(f, "<td>%+.1f</td>", 100 * (r->ev.train.acc - r->ev.test.acc));
        else
            fprintf(f, "<td class=\"na\">-</td>");
        cell_pct(f, r->has_eval, r->ev.test.acc_merged);
        if (r->has_rollout && isfinite(r->ro.success))
            fprintf(f, "<td>%.1f%% [%.1f, %.1f]</td>", 100 * r->ro.success, 100 * r->ro.success_lo, 100 * r->ro.success_hi);
        else
            fprintf(f, "<td class=\"na\">-</td>");
        cell_pct(f, r->has_rollout, r->ro.expert_success);
        cell_pct(f, r->has_rollout, r->ro.random_success);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
    probe_table(f, rd, nruns);

    /* learning curves: train and val accuracy per epoch, every run */
    fprintf(f, "<h2>Learning curves</h2>\n<div class=\"charts\">\n");
    /* room for two curves per run, or every mask column of one run */
    int cap = nruns * 2 + 1 > AG_SHOWN + 1 ? nruns * 2 + 1 : AG_SHOWN + 1;
    for (int i = 0; i < nruns; i++)
        if (rd[i].ncols + 1 > cap) cap = rd[i].ncols + 1;
    eval_series *ser = calloc((size_t)cap, sizeof *ser);
    double **xs = calloc((size_t)cap, sizeof *xs), **ys = calloc((size_t)cap, sizeof *ys);
    char (*names)[128] = calloc((size_t)cap, sizeof *names);
    if (!ser || !xs || !ys || !names) {
        free(ser);
        free(xs);
        free(ys);
        free(names);
        cb_afile_abort(&af);
        rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
        goto out;
    }
    int ns = 0;
    for (int chart = 0; chart < 2; chart++) { /* accuracy, then loss (overfitting shows as a rising val loss) */
        ns = 0;
        for (int i = 0; i < nruns; i++) {
            run_data *r = &rd[i];
            int ce = col(r, "epoch");
            const char *which[2] = {chart ? "train_loss" : "train_acc", chart ? "val_loss" : "val_acc"};
            for (int w = 0; w < 2; w++) {
                int cy = col(r, which[w]);
                if (cy < 0 || r->nrows == 0) continue;
                xs[ns] = malloc(sizeof(double) * (size_t)r->nrows);
                ys[ns] = malloc(sizeof(double) * (size_t)r->nrows);
                if (!xs[ns] || !ys[ns]) {
                    free(xs[ns]);
                    free(ys[ns]);
                    continue;
                }
                for (int k = 0; k < r->nrows; k++) {
                    xs[ns][k] = ce >= 0 ? r->vals[(size_t)k * r->ncols + ce] : k + 1;
                    ys[ns][k] = r->vals[(size_t)k * r->ncols + cy];
                }
                snprintf(names[ns], sizeof names[ns], "%s %s", base_name(r->dir), w ? "val" : "train");
                ser[ns] = (eval_series){names[ns], xs[ns], ys[ns], r->nrows};
                ns++;
            }
        }
        if (ns)
            eval_svg_lines(f, chart ? "Loss per epoch" : "Accuracy per epoch", "epoch", chart ? "cross-entropy" : "accuracy",
                           ser, ns, 520, 320);
        else if (!chart)
            fprintf(f, "<p class=\"na\">No metrics.csv with train_acc/val_acc in these runs.</p>\n");
        for (int k = 0; k < ns; k++) {
            free(xs[k]);
            free(ys[k]);
        }
    }
    fprintf(f, "</div>\n<h2>Mask density per layer</h2>\n<p class=\"note\">Share of each parameter tensor's entries "
               "whose gradient survived the mask, averaged over the epoch (1 for plain averaging).</p>\n"
               "<div class=\"charts\">\n");
    for (int i = 0; i < nruns; i++) {
        run_data *r = &rd[i];
        int ce = col(r, "epoch");
        ns = 0;
        for (int c = 0; c < r->ncols && ns < cap; c++) {
            if (!r->cols[c] || strncmp(r->cols[c], "mask_", 5) != 0) continue;
            xs[ns] = malloc(sizeof(double) * (size_t)r->nrows);
            ys[ns] = malloc(sizeof(double) * (size_t)r->nrows);
            if (!xs[ns] || !ys[ns]) continue;
            for (int k = 0; k < r->nrows; k++) {
                xs[ns][k] = ce >= 0 ? r->vals[(size_t)k * r->ncols + ce] : k + 1;
                ys[ns][k] = r->vals[(size_t)k * r->ncols + c];
            }
            snprintf(names[ns], sizeof names[ns], "%s", r->cols[c] + 5);
            ser[ns] = (eval_series){names[ns], xs[ns], ys[ns], r->nrows};
            ns++;
        }
        if (ns) {
            char title[256];
            snprintf(title, sizeof title, "%s: mask density", base_name(r->dir));
            eval_svg_lines(f, title, "epoch", "density", ser, ns, 520, 320);
        }
        for (int k = 0; k < ns; k++) {
            free(xs[k]);
            free(ys[k]);
        }
    }
    fprintf(f, "</div>\n");
    agreement_charts(f, rd, nruns, ser, xs, ys, names, cap);
    free(ser);
    free(xs);
    free(ys);
    free(names);
    fprintf(f, "<h2>Frames</h2>\n<p class=\"note\">Held-out frames with the expert's action (E) and the "
               "policy's (P).</p>\n");
    for (int i = 0; i < nruns; i++) {
        if (!rd[i].png) continue;
        fprintf(f, "<h3>");
        eval_html_escape(f, base_name(rd[i].dir));
        fprintf(f, "</h3>\n<img class=\"frames\" alt=\"frames\" src=\"data:image/png;base64,");
        base64(f, rd[i].png, rd[i].png_n);
        fprintf(f, "\">\n");
    }
    fprintf(f, "<p class=\"note\">Actions:");
    for (int a = 0; a < 9; a++) fprintf(f, " %d %s,", a, game_action_name(a));
    fprintf(f, " 9-14 NOOP. Made by coinbc " CB_VERSION ".</p>\n</body></html>\n");
    rc = cb_afile_commit(&af, e);
out:
    free_runs(rd, nruns);
    return rc;
}

static int load_runs(run_data **out, const char *const *runs, int nruns, cb_err *e) {
    *out = NULL;
    if (nruns <= 0) return cb_fail(e, CB_EARG, "report: no runs given");
    run_data *rd = calloc((size_t)nruns, sizeof *rd);
    if (!rd) return cb_fail(e, CB_ENOMEM, "report: out of memory");
    for (int i = 0; i < nruns; i++) {
        int rc = load_run(&rd[i], runs[i], e);
        if (rc) {
            free_runs(rd, i + 1);
            return rc;
        }
    }
    *out = rd;
    return 0;
}

static void free_runs(run_data *rd, int nruns) {
    for (int i = 0; rd && i < nruns; i++) run_free(&rd[i]);
    free(rd);
}

int eval_report_table(FILE *f, const char *const *runs, int nruns, cb_err *e) {
    run_data *rd;
    int rc = load_runs(&rd, runs, nruns, e);
    if (rc) return rc;
    fprintf(f, "%-16s %-8s %5s %9s %9s %7s %24s %8s %8s\n", "run", "method", "tau", "train acc", "test acc", "gap",
            "rollout success [95%]", "expert", "random");
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        char c1[16] = "-", c2[16] = "-", c3[16] = "-", c4[40] = "-", c5[16] = "-", c6[16] = "-";
        int tr = r->has_eval && r->ev.has_train && isfinite(r->ev.train.acc);
        int te = r->has_eval && isfinite(r->ev.test.acc);
        if (tr) snprintf(c1, sizeof c1, "%.1f%%", 100 * r->ev.train.acc);
        if (te) snprintf(c2, sizeof c2, "%.1f%%", 100 * r->ev.test.acc);
        if (tr && te) snprintf(c3, sizeof c3, "%+.1f", 100 * (r->ev.train.acc - r->ev.test.acc));
        if (r->has_rollout && isfinite(r->ro.success))
            snprintf(c4, sizeof c4, "%.1f%% [%.1f, %.1f]", 100 * r->ro.success, 100 * r->ro.success_lo,
                     100 * r->ro.success_hi);
        if (r->has_rollout && isfinite(r->ro.expert_success)) snprintf(c5, sizeof c5, "%.1f%%", 100 * r->ro.expert_success);
        if (r->has_rollout && isfinite(r->ro.random_success)) snprintf(c6, sizeof c6, "%.1f%%", 100 * r->ro.random_success);
        fprintf(f, "%-16.16s %-8s %5.2f %9s %9s %7s %24s %8s %8s\n", base_name(r->dir),
                r->has_config ? run_method_name(r->config.method) : "-", r->has_config ? r->config.tau : 0, c1, c2, c3,
                c4, c5, c6);
    }
    free_runs(rd, nruns);
    return 0;
}

/* one JSON number, or null for a figure that is not there */
static json_t *num_or_null(int has, double x) { return has && isfinite(x) ? json_real(x) : json_null(); }

int eval_report_json(FILE *f, const char *const *runs, int nruns, cb_err *e) {
    run_data *rd;
    int rc = load_runs(&rd, runs, nruns, e);
    if (rc) return rc;
    json_t *arr = json_array();
    for (int i = 0; i < nruns && arr; i++) {
        const run_data *r = &rd[i];
        json_t *o = json_object();
        if (!o) break;
        int tr = r->has_eval && r->ev.has_train, te = r->has_eval;
        json_object_set_new(o, "run", json_string(r->dir));
        json_object_set_new(o, "method", r->has_config ? json_string(run_method_name(r->config.method)) : json_null());
        json_object_set_new(o, "tau", num_or_null(r->has_config, r->config.tau));
        json_object_set_new(o, "seed", r->has_config ? json_integer((json_int_t)r->config.seed) : json_null());
        json_object_set_new(o, "epochs_done", json_integer(r->nrows));
        json_object_set_new(o, "train_acc", num_or_null(tr, r->ev.train.acc));
        json_object_set_new(o, "test_acc", num_or_null(te, r->ev.test.acc));
        json_object_set_new(o, "gap", num_or_null(tr && te, r->ev.train.acc - r->ev.test.acc));
        json_object_set_new(o, "test_levels", te ? json_integer(r->ev.test.levels) : json_null());
        json_object_set_new(o, "rollout_success", num_or_null(r->has_rollout, r->ro.success));
        json_object_set_new(o, "rollout_success_lo", num_or_null(r->has_rollout, r->ro.success_lo));
        json_object_set_new(o, "rollout_success_hi", num_or_null(r->has_rollout, r->ro.success_hi));
        json_object_set_new(o, "rollout_episodes", r->has_rollout ? json_integer(r->ro.episodes) : json_null());
        static const char *const PROBE_KEYS[3] = {"probe_relabeled_acc", "probe_true_acc", "probe_test_acc"};
        for (int k = 0; k < 3; k++)
            json_object_set_new(o, PROBE_KEYS[k], num_or_null(r->has_probe[k], r->probe[k].test.acc));
        /* the per-epoch curve: metrics columns 0..4 (epoch, train_acc, val_acc, train_loss, val_loss) */
        json_t *ep = json_array();
        for (int t = 0; t < r->nrows && ep; t++) {
            const double *v = r->vals + (size_t)t * (size_t)r->ncols;
            json_array_append_new(ep, json_pack("{s:I, s:o, s:o, s:o, s:o}", "epoch", (json_int_t)v[0], "train_acc",
                                                num_or_null(1, v[1]), "val_acc", num_or_null(1, v[2]), "train_loss",
                                                num_or_null(1, v[3]), "val_loss", num_or_null(1, v[4])));
        }
        json_object_set_new(o, "epochs", ep);
        json_array_append_new(arr, o);
    }
    char *text = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(arr);
    free_runs(rd, nruns);
    if (!text) return cb_fail(e, CB_ENOMEM, "report: out of memory");
    fprintf(f, "%s\n", text);
    free(text);
    return 0;
}
