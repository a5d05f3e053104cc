/* report_tune.c - charts of tune folders for coinbc report: the optimization
 * history (best value so far against the trial number) and the value against
 * each parameter, several studies side by side, each in its method's colour
 * (the report's fixed colours, eval_method_color) and named by the shortest
 * distinct suffix of its path. Reads DIR/trials.csv, and for the method
 * DIR/best.json or DIR/tune.json, through run/tune.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/run.h"

/* value (y) against one parameter (x) as inline SVG; numbers on a linear or
 * log axis (log when all are positive and span more than 20x), words as
 * evenly spaced categories. Both axes have round ticks around the values
 * (the values of a study lie close together: 0.74 to 0.83, say). */
static void scatter(FILE *f, const char *param, const run_tune_result *r, const int *col, char (*names)[EVAL_SHORT_NAME],
                    const eval_style *st, int nr) {
    const int W = 360, ml = 48, mr = 10, mt = 26;
    double x0 = INFINITY, x1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
    int words = 0, nw = 0;
    char wl[RUN_TUNE_MAX_CHOICES][32];
    for (int s = 0; s < nr; s++) {
        if (col[s] < 0) continue;
        for (int i = 0; i < r[s].ntrials; i++) {
            const run_tune_value *v = &r[s].trials[i].opt[col[s]];
            if (!isnan(r[s].trials[i].value)) v0 = fmin(v0, r[s].trials[i].value), v1 = fmax(v1, r[s].trials[i].value);
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
    /* the legend: studies with this parameter, flowed in rows */
    int rows = 0;
    double lw = W - mr;
    for (int s = 0; s < nr; s++) {
        if (col[s] < 0) continue;
        double w = 14 + 6.3 * (double)strlen(names[s]) + 14;
        if (!rows || lw + w > W - mr) rows++, lw = ml;
        lw += w;
    }
    const int H = 230 + 14 * rows, mb = 40 + 14 * rows;
    double pw = W - ml - mr, ph = H - mt - mb;
    eval_axis ya, xa = {0};
    eval_axis_nice(&ya, v0, v1, 4);
    int logx = !words && x0 > 0 && x1 / x0 > 20;
    if (!words && !isfinite(x0)) x0 = 0, x1 = 1;
    if (logx) x0 = log10(x0), x1 = log10(x1);
    if (!words && !logx) {
        eval_axis_nice(&xa, x0, x1, 4);
        x0 = xa.lo, x1 = xa.hi;
    }
    if (x1 <= x0) x0 -= 0.5, x1 += 0.5;
    double pad = (x1 - x0) * 0.04;
    x0 -= pad, x1 += pad;
#define SX(x) (ml + pw * ((x) - x0) / (x1 - x0))
#define SY(v) (mt + ph * (1 - ((v) - ya.lo) / (ya.hi - ya.lo)))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart tune-scatter\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" "
               "fill=\"#fff\"/>\n<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">value vs ",
            W, H, W, H, W, H, ml);
    eval_html_escape(f, param);
    fprintf(f, "%s</text>\n", logx ? " (log scale)" : "");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", ml, mt, pw, ph);
    for (int k = 0; k < ya.nticks; k++) {
        double v = ya.lo + k * ya.step;
        fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text class=\"ytick\" x=\"%d\" "
                   "y=\"%.1f\" text-anchor=\"end\">%.6g</text>\n",
                ml, ml + pw, SY(v), SY(v), ml - 4, SY(v) + 4, fabs(v) < ya.step * 1e-6 ? 0 : v);
    }
    if (words) {
        for (int k = 0; k < nw; k++) {
            fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw * (k + 0.5) / nw,
                    mt + ph + 14);
            eval_html_escape(f, wl[k]);
            fprintf(f, "</text>\n");
        }
    } else if (logx) { /* 1, 2 and 5 of each decade, or only the decades over more than two */
        int dense = x1 - x0 <= 2.2;
        for (double d = floor(x0); d <= ceil(x1); d++)
            for (int m = 0; m < (dense ? 3 : 1); m++) {
                double v = d + log10((double[]){1, 2, 5}[m]);
                if (v < x0 || v > x1) continue;
                fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", SX(v),
                        mt + ph + 14, pow(10, v));
            }
    } else {
        for (int k = 0; k < xa.nticks; k++) {
            double v = xa.lo + k * xa.step;
            fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.6g</text>\n", SX(v),
                    mt + ph + 14, fabs(v) < xa.step * 1e-6 ? 0 : v);
        }
    }
    double lx = W - mr, ly = mt + ph + 16;
    int first = 1;
    for (int s = 0; s < nr; s++) {
        if (col[s] < 0) continue;
        const char *c = st[s].color;
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
                px = SX(logx ? log10(v->num) : v->num);
            }
            /* pruned trials hollow (their value is the best epoch before the stop) */
            fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" stroke=\"%s\"/>", px,
                    SY(t->value), t->state == RUN_TUNE_COMPLETE ? c : "none", c);
        }
        double w = 14 + 6.3 * (double)strlen(names[s]) + 14;
        if (first || lx + w > W - mr) lx = ml, ly += 14;
        first = 0;
        fprintf(f, "\n<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"4\" fill=\"%s\"/><text class=\"legend\" x=\"%.0f\" "
                   "y=\"%.0f\">",
                lx, ly - 4, c, lx + 14, ly);
        eval_html_escape(f, names[s]);
        fprintf(f, "</text>\n");
        lx += w;
    }
    fprintf(f, "</svg>\n");
#undef SX
#undef SY
}

/* The method a study tuned: DIR/best.json's, else DIR/tune.json's; "" when
 * neither is there (a damaged one is an error). */
static int study_method(char *out, size_t cap, const char *dir, cb_err *e) {
    char p[4200], *args = NULL;
    out[0] = 0;
    snprintf(p, sizeof p, "%s/best.json", dir);
    int rc = run_tune_best_args(&args, p, e);
    if (!rc) {
        const char *m = strstr(args, "--method ");
        if (m) snprintf(out, cap, "%.*s", (int)strcspn(m + 9, " "), m + 9);
        free(args);
        return 0;
    }
    if (rc != CB_ENOTFOUND) return rc;
    snprintf(p, sizeof p, "%s/tune.json", dir);
    run_tune_spec *spec = malloc(sizeof *spec);
    if (!spec) return cb_fail(e, CB_ENOMEM, "report: out of memory");
    rc = run_tune_spec_read(spec, p, e);
    if (!rc) snprintf(out, cap, "%s", spec->method);
    free(spec);
    return rc == CB_ENOTFOUND ? 0 : rc;
}

/* the studies of one report: their trials, methods, names and colours, and
 * their optimization histories (ser[s] over a slice of x and y) */
typedef struct {
    int n;
    const char *const *dirs;
    run_tune_result *r;
    eval_series *ser;
    eval_style *st;
    char (*names)[EVAL_SHORT_NAME];
    char (*method)[16];
    double *x, *y;
} tune_studies;

/* Reads each study's DIR/trials.csv and its method, up to the first error;
 * *total: the number of their trials. */
static int read_studies(tune_studies *S, int *total, cb_err *e) {
    int rc = 0;
    for (int s = 0; s < S->n && !rc; s++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/trials.csv", S->dirs[s]);
        rc = run_tune_trials_read(&S->r[s], p, e);
        *total += S->r[s].ntrials;
        if (!rc) rc = study_method(S->method[s], sizeof S->method[s], S->dirs[s], e);
    }
    return rc;
}

/* A study in its method's colour (shades when several studies tuned one
 * method), a study of a method without one in the next spare colour. */
static void study_colors(tune_studies *S) {
    static const char *const OTHER[] = {"#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    for (int s = 0, nother = 0; s < S->n; s++) {
        const char *base = eval_method_color(S->method[s]);
        if (!base) {
            snprintf(S->st[s].color, sizeof S->st[s].color, "%s", OTHER[nother++ % 5]);
            continue;
        }
        int k = 0, cnt = 0;
        for (int j = 0; j < S->n; j++)
            if (eval_method_color(S->method[j]) == base) k += j < s, cnt++;
        eval_color_shade(S->st[s].color, base, k, cnt);
    }
}

/* Study s's row of the table, and its history into ser[s] over x and y
 * from off: the best COMPLETE value so far, by trial number (rows are in
 * number order). Returns the number of its trials. */
static int study_row(FILE *f, tune_studies *S, int s, int off) {
    const run_tune_result *r = &S->r[s];
    int cnt[3] = {0, 0, 0}, b = run_tune_best(r);
    double best = NAN;
    S->ser[s].name = S->names[s];
    S->ser[s].x = S->x + off;
    S->ser[s].y = S->y + off;
    for (int i = 0; i < r->ntrials; i++) {
        const run_tune_trial *t = &r->trials[i];
        cnt[t->state]++;
        if (t->state == RUN_TUNE_COMPLETE && !isnan(t->value) && (isnan(best) || t->value > best)) best = t->value;
        S->x[off + i] = t->number;
        S->y[off + i] = best;
    }
    S->ser[s].n = r->ntrials;
    fprintf(f, "<tr><td title=\"");
    eval_html_escape(f, S->dirs[s]);
    fprintf(f, "\"><span style=\"display:inline-block;width:10px;height:10px;margin-right:5px;background:%s\">"
               "</span>",
            S->st[s].color);
    eval_html_escape(f, S->names[s]);
    fprintf(f, "</td><td>");
    eval_html_escape(f, S->method[s][0] ? S->method[s] : "-");
    fprintf(f, "</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>", r->ntrials, cnt[0], cnt[1], cnt[2]);
    if (b >= 0) fprintf(f, "<td>%.4f</td><td>%d</td></tr>\n", r->trials[b].value, r->trials[b].number);
    else fprintf(f, "<td>-</td><td>-</td></tr>\n");
    return r->ntrials;
}

/* Value against each parameter of any study, in first-seen order, over
 * the studies (the first 64) that have it. */
static void param_charts(FILE *f, const tune_studies *S) {
    const run_tune_result *r = S->r;
    int n = S->n;
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
            scatter(f, r[s].param[k], r, col, S->names, S->st, n < 64 ? n : 64);
        }
}

/* The section of studies read: the table, the history chart, the charts
 * of each parameter. */
static int write_section(FILE *f, tune_studies *S, cb_err *e) {
    eval_short_names(S->names, S->dirs, S->n);
    study_colors(S);
    fprintf(f, "<section class=\"tune\"><h2>Hyperparameter search</h2>\n<table><tr><th>study</th><th>method</th>"
               "<th>trials</th><th>complete</th><th>pruned</th><th>failed</th><th>best value</th><th>best trial</th>"
               "</tr>\n");
    for (int s = 0, off = 0; s < S->n; s++) off += study_row(f, S, s, off);
    fprintf(f, "</table>\n<div class=\"charts\">\n");
    eval_chart hc = {.title = "optimization history: best value so far", .xlabel = "trial number",
                     .ylabel = "best validation accuracy", .width = 520, .height = 300};
    eval_svg_chart(f, &hc, S->ser, S->st, S->n);
    param_charts(f, S);
    fprintf(f, "</div>\n<p>Filled points: complete trials; hollow: pruned trials at their best epoch before the "
               "stop.</p></section>\n");
    if (ferror(f)) return cb_fail(e, CB_EIO, "report: write failed");
    return 0;
}

int eval_report_tune(FILE *f, const char *const *dirs, int n, cb_err *e) {
    if (n <= 0) return cb_fail(e, CB_EARG, "report: no tune folder given");
    tune_studies S = {.n = n, .dirs = dirs};
    S.r = calloc((size_t)n, sizeof *S.r);
    S.ser = calloc((size_t)n, sizeof *S.ser);
    S.st = calloc((size_t)n, sizeof *S.st);
    S.names = calloc((size_t)n, sizeof *S.names);
    S.method = calloc((size_t)n, sizeof *S.method);
    int rc = 0, total = 0;
    if (!S.r || !S.ser || !S.st || !S.names || !S.method) rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
    if (!rc) rc = read_studies(&S, &total, e);
    if (!rc && (!(S.x = malloc(sizeof *S.x * (size_t)(total + 1))) || !(S.y = malloc(sizeof *S.y * (size_t)(total + 1)))))
        rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
    if (!rc) rc = write_section(f, &S, e);
    if (S.r)
        for (int s = 0; s < n; s++) run_tune_result_free(&S.r[s]);
    free(S.r);
    free(S.ser);
    free(S.st);
    free(S.names);
    free(S.method);
    free(S.x);
    free(S.y);
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
