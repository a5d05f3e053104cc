/* report_tune.c - charts of tune folders for coinbc report: the optimization
 * history (best value so far against the trial number) and the value against
 * each parameter, one colour per study, several studies side by side. Reads
 * DIR/trials.csv through run/tune.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/run.h"

static const char *const COL[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
#define NCOL 6

/* value (y) against one parameter (x) as inline SVG; numbers on a linear or
 * log axis (log when all are positive and span more than 20x), words as
 * evenly spaced categories */
static void scatter(FILE *f, const char *param, const run_tune_result *r, const int *col, const char *const *names,
                    int nr) {
    const int W = 360, H = 250, ml = 48, mr = 10, mt = 26, mb = 40 + 14 * ((nr + 1) / 2);
    double pw = W - ml - mr, ph = H - mt - mb;
    double x0 = INFINITY, x1 = -INFINITY;
    int words = 0, nw = 0;
    char wl[RUN_TUNE_MAX_CHOICES][32];
    for (int s = 0; s < nr; s++) {
        if (col[s] < 0) continue;
        for (int i = 0; i < r[s].ntrials; i++) {
            const run_tune_value *v = &r[s].trials[i].opt[col[s]];
            if (v->is_str) {
                words = 1;
                int k = 0;
                while (k < nw && strcmp(wl[k], v->str)) k++;
                if (k == nw && nw < RUN_TUNE_MAX_CHOICES) snprintf(wl[nw++], sizeof wl[0], "%s", v->str);
            } else if (!isnan(v->num)) {
                x0 = fmin(x0, v->num), x1 = fmax(x1, v->num);
            }
        }
    }
    int logx = !words && x0 > 0 && x1 / x0 > 20;
    if (!words && !isfinite(x0)) x0 = 0, x1 = 1;
    if (logx) x0 = log10(x0), x1 = log10(x1);
    if (x1 <= x0) x0 -= 0.5, x1 += 0.5;
    double pad = (x1 - x0) * 0.05;
    x0 -= pad, x1 += pad;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart tune-scatter\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" "
               "fill=\"#fff\"/>\n<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">value vs ",
            W, H, W, H, W, H, ml);
    eval_html_escape(f, param);
    fprintf(f, "%s</text>\n", logx ? " (log scale)" : "");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", ml, mt, pw, ph);
    for (int k = 0; k <= 4; k++) /* y: accuracy 0..1 */
        fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                   "text-anchor=\"end\">%.2f</text>\n",
                ml, ml + pw, mt + ph * (1 - k / 4.0), mt + ph * (1 - k / 4.0), ml - 4, mt + ph * (1 - k / 4.0) + 4, k / 4.0);
    if (words) {
        for (int k = 0; k < nw; k++) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw * (k + 0.5) / nw, mt + ph + 14);
            eval_html_escape(f, wl[k]);
            fprintf(f, "</text>\n");
        }
    } else {
        for (int k = 0; k <= 3; k++) {
            double v = x0 + pad + (x1 - x0 - 2 * pad) * k / 3.0;
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", ml + pw * (v - x0) / (x1 - x0),
                    mt + ph + 14, logx ? pow(10, v) : v);
        }
    }
    for (int s = 0; s < nr; s++) {
        if (col[s] < 0) continue;
        for (int i = 0; i < r[s].ntrials; i++) {
            const run_tune_trial *t = &r[s].trials[i];
            const run_tune_value *v = &t->opt[col[s]];
            if (isnan(t->value) || (!v->is_str && isnan(v->num))) continue;
            double px;
            if (v->is_str) {
                int k = 0;
                while (k < nw && strcmp(wl[k], v->str)) k++;
                px = ml + pw * (k + 0.5 + 0.3 * ((i % 7) / 6.0 - 0.5)) / nw; /* a little jitter by trial */
            } else {
                double x = logx ? log10(v->num) : v->num;
                px = ml + pw * (x - x0) / (x1 - x0);
            }
            double py = mt + ph * (1 - fmin(fmax(t->value, 0), 1));
            /* pruned trials hollow (their value is the best epoch before the stop) */
            fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" stroke=\"%s\"/>", px, py,
                    t->state == RUN_TUNE_COMPLETE ? COL[s % NCOL] : "none", COL[s % NCOL]);
        }
        fprintf(f, "\n<rect x=\"%d\" y=\"%.0f\" width=\"10\" height=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%.0f\">", ml + (s % 2) * 150,
                mt + ph + 30 + 14 * (s / 2) - 4, COL[s % NCOL], ml + (s % 2) * 150 + 14, mt + ph + 30 + 14 * (s / 2));
        eval_html_escape(f, names[s]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
}

int eval_report_tune(FILE *f, const char *const *dirs, int n, cb_err *e) {
    if (n <= 0) return cb_fail(e, CB_EARG, "report: no tune folder given");
    run_tune_result *r = calloc((size_t)n, sizeof *r);
    double *x = NULL, *y = NULL;
    eval_series *ser = calloc((size_t)n, sizeof *ser);
    int rc = 0, total = 0;
    if (!r || !ser) rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
    for (int s = 0; s < n && !rc; s++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/trials.csv", dirs[s]);
        rc = run_tune_trials_read(&r[s], p, e);
        total += r[s].ntrials;
    }
    if (!rc && (!(x = malloc(sizeof *x * (size_t)(total + 1))) || !(y = malloc(sizeof *y * (size_t)(total + 1)))))
        rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
    if (!rc) {
        fprintf(f, "<section class=\"tune\"><h2>Hyperparameter search</h2>\n<table><tr><th>study</th><th>trials</th>"
                   "<th>complete</th><th>pruned</th><th>failed</th><th>best value</th><th>best trial</th></tr>\n");
        int off = 0;
        for (int s = 0; s < n; s++) {
            int cnt[3] = {0, 0, 0}, b = run_tune_best(&r[s]);
            double best = NAN;
            ser[s].name = dirs[s];
            ser[s].x = x + off;
            ser[s].y = y + off;
            /* history: best COMPLETE value so far, by trial number (rows are in number order) */
            for (int i = 0; i < r[s].ntrials; i++) {
                const run_tune_trial *t = &r[s].trials[i];
                cnt[t->state]++;
                if (t->state == RUN_TUNE_COMPLETE && !isnan(t->value) && (isnan(best) || t->value > best)) best = t->value;
                x[off + i] = t->number;
                y[off + i] = best;
            }
            ser[s].n = r[s].ntrials;
            off += r[s].ntrials;
            fprintf(f, "<tr><td>");
            eval_html_escape(f, dirs[s]);
            fprintf(f, "</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>", r[s].ntrials, cnt[0], cnt[1], cnt[2]);
            if (b >= 0) fprintf(f, "<td>%.4f</td><td>%d</td></tr>\n", r[s].trials[b].value, r[s].trials[b].number);
            else fprintf(f, "<td>-</td><td>-</td></tr>\n");
        }
        fprintf(f, "</table>\n<div class=\"charts\">\n");
        eval_svg_lines(f, "optimization history: best value so far", "trial number", "best validation accuracy", ser, n,
                       520, 300);
        /* value vs each parameter of any study, in first-seen order */
        for (int s = 0; s < n; s++)
            for (int k = 0; k < r[s].nparams; k++) {
                int first = 1;
                for (int s2 = 0; s2 <= s && first; s2++)
                    for (int k2 = 0; k2 < (s2 < s ? r[s2].nparams : k); k2++)
                        if (!strcmp(r[s2].param[k2], r[s].param[k])) first = 0;
                if (!first) continue;
                int col[64];
                for (int s2 = 0; s2 < n && s2 < 64; s2++) {
                    col[s2] = -1;
                    for (int k2 = 0; k2 < r[s2].nparams; k2++)
                        if (!strcmp(r[s2].param[k2], r[s].param[k])) col[s2] = k2;
                }
                scatter(f, r[s].param[k], r, col, dirs, n < 64 ? n : 64);
            }
        fprintf(f, "</div>\n<p>Filled points: complete trials; hollow: pruned trials at their best epoch before the "
                   "stop.</p></section>\n");
        if (ferror(f)) rc = cb_fail(e, CB_EIO, "report: write failed");
    }
    if (r)
        for (int s = 0; s < n; s++) run_tune_result_free(&r[s]);
    free(r);
    free(ser);
    free(x);
    free(y);
    return rc;
}

int eval_report_tune_write(const char *path, const char *const *dirs, int n, cb_err *e) {
    cb_afile af;
    int rc = cb_afile_open(&af, path, e);
    if (rc) return rc;
    fprintf(af.fp, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>coinbc tune report</title>\n<style>"
                   "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                   "padding:3px 8px}svg{margin:6px}</style></head><body>\n<h1>coinbc tune report</h1>\n");
    if ((rc = eval_report_tune(af.fp, dirs, n, e))) {
        cb_afile_abort(&af);
        return rc;
    }
    fprintf(af.fp, "</body></html>\n");
    return cb_afile_commit(&af, e);
}
