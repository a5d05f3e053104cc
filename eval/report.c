/* report.c - one self-contained HTML page comparing runs: a table (method,
 * tau, train and test accuracy, gap, rollout success), learning curves and
 * mask density per layer as inline SVG, and each run's sample frames (PNG
 * embedded as base64). Reads RUN/config.json, RUN/metrics.csv, RUN/eval.json,
 * RUN/rollout.json and RUN/eval_frames.png; a missing file leaves its cells
 * empty and is listed on the page. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

typedef struct {
    const char *dir;
    char *config, *evalj, *rollj; /* file texts or NULL */
    /* metrics.csv */
    int ncols, nrows;
    char **cols;
    double *vals; /* nrows x ncols, NaN where empty */
    uint8_t *png;
    size_t png_n;
} run_data;

static char *slurp(const char *dir, const char *name, size_t *n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *buf;
    size_t len;
    if (cb_read_file(path, &buf, &len, NULL)) return NULL;
    if (n) *n = len;
    return (char *)buf;
}

static void load_metrics(run_data *r) {
    char *csv = slurp(r->dir, "metrics.csv", NULL);
    if (!csv) return;
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    if (!line) {
        free(csv);
        return;
    }
    /* header */
    int nc = 1;
    for (char *p = line; *p; p++) nc += *p == ',';
    r->cols = calloc((size_t)nc, sizeof *r->cols);
    if (!r->cols) {
        free(csv);
        return;
    }
    char *hs = NULL;
    int c = 0;
    for (char *tok = strtok_r(line, ",\r", &hs); tok && c < nc; tok = strtok_r(NULL, ",\r", &hs)) r->cols[c++] = strdup(tok);
    r->ncols = c;
    int cap = 16;
    r->vals = malloc(sizeof(double) * (size_t)cap * (size_t)r->ncols);
    while (r->vals && (line = strtok_r(NULL, "\n", &save))) {
        if (r->nrows == cap) {
            cap *= 2;
            double *nv = realloc(r->vals, sizeof(double) * (size_t)cap * (size_t)r->ncols);
            if (!nv) break;
            r->vals = nv;
        }
        double *row = r->vals + (size_t)r->nrows * r->ncols;
        char *p = line;
        for (int k = 0; k < r->ncols; k++) {
            char *end;
            double v = strtod(p, &end);
            row[k] = end == p ? NAN : v;
            p = strchr(p, ',');
            if (!p) {
                for (int j = k + 1; j < r->ncols; j++) row[j] = NAN;
                break;
            }
            p++;
        }
        r->nrows++;
    }
    free(csv);
}

static int col(const run_data *r, const char *name) {
    for (int k = 0; k < r->ncols; k++)
        if (r->cols[k] && !strcmp(r->cols[k], name)) return k;
    return -1;
}

static void run_free(run_data *r) {
    free(r->config);
    free(r->evalj);
    free(r->rollj);
    for (int k = 0; k < r->ncols; k++) free(r->cols[k]);
    free(r->cols);
    free(r->vals);
    free(r->png);
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

static void cell_pct(FILE *f, const char *json, const char *key) {
    double v;
    if (json && eval_json_num(json, key, &v) == 0)
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

int eval_report_write(const char *path, const char *const *runs, int nruns, cb_err *e) {
    if (nruns <= 0) return cb_fail(e, CB_EARG, "report: no runs given");
    run_data *rd = calloc((size_t)nruns, sizeof *rd);
    if (!rd) return cb_fail(e, CB_ENOMEM, "report: out of memory");
    for (int i = 0; i < nruns; i++) {
        rd[i].dir = runs[i];
        rd[i].config = slurp(runs[i], "config.json", NULL);
        rd[i].evalj = slurp(runs[i], "eval.json", NULL);
        rd[i].rollj = slurp(runs[i], "rollout.json", NULL);
        rd[i].png = (uint8_t *)slurp(runs[i], "eval_frames.png", &rd[i].png_n);
        load_metrics(&rd[i]);
        if (!rd[i].config && !rd[i].nrows && !rd[i].evalj) {
            for (int k = 0; k <= i; k++) run_free(&rd[k]);
            free(rd);
            return cb_fail(e, CB_ENOTFOUND, "%s: not a run folder (no config.json, metrics.csv or eval.json)", runs[i]);
        }
    }
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
        char method[64] = "-", net[64] = "-";
        double tau = NAN;
        if (r->config) {
            eval_json_str(r->config, "method", method, sizeof method);
            eval_json_str(r->config, "net", net, sizeof net);
            eval_json_num(r->config, "tau", &tau);
        }
        fprintf(f, "<tr><td class=\"l\">");
        eval_html_escape(f, base_name(r->dir));
        fprintf(f, "</td><td class=\"l\">");
        eval_html_escape(f, method);
        fprintf(f, "</td><td>");
        if (isfinite(tau)) fprintf(f, "%g", tau);
        fprintf(f, "</td><td class=\"l\">");
        eval_html_escape(f, net);
        fprintf(f, "</td>");
        cell_pct(f, r->evalj, "train_acc");
        cell_pct(f, r->evalj, "test_acc");
        double tr, te;
        if (r->evalj && !eval_json_num(r->evalj, "train_acc", &tr) && !eval_json_num(r->evalj, "test_acc", &te))
            fprintf(f, "<td>%+.1f</td>", 100 * (tr - te));
        else
            fprintf(f, "<td class=\"na\">-</td>");
        cell_pct(f, r->evalj, "test_acc_merged");
        double s, lo, hi;
        if (r->rollj && !eval_json_num(r->rollj, "success", &s) && !eval_json_num(r->rollj, "success_lo", &lo) &&
            !eval_json_num(r->rollj, "success_hi", &hi))
            fprintf(f, "<td>%.1f%% [%.1f, %.1f]</td>", 100 * s, 100 * lo, 100 * hi);
        else
            fprintf(f, "<td class=\"na\">-</td>");
        cell_pct(f, r->rollj, "expert_success");
        cell_pct(f, r->rollj, "random_success");
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");

    /* learning curves: train and val accuracy per epoch, every run */
    fprintf(f, "<h2>Learning curves</h2>\n<div class=\"charts\">\n");
    /* room for two curves per run, or every mask column of one run */
    int cap = nruns * 2 + 1;
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
    for (int i = 0; i < nruns; i++) {
        run_data *r = &rd[i];
        int ce = col(r, "epoch");
        const char *which[2] = {"train_acc", "val_acc"};
        for (int w = 0; w < 2; w++) {
            int cy = col(r, which[w]);
            if (cy < 0 || r->nrows == 0) continue;
            xs[ns] = malloc(sizeof(double) * (size_t)r->nrows);
            ys[ns] = malloc(sizeof(double) * (size_t)r->nrows);
            if (!xs[ns] || !ys[ns]) continue;
            for (int k = 0; k < r->nrows; k++) {
                xs[ns][k] = ce >= 0 ? r->vals[(size_t)k * r->ncols + ce] : k + 1;
                ys[ns][k] = r->vals[(size_t)k * r->ncols + cy];
            }
            snprintf(names[ns], sizeof names[ns], "%s %s", base_name(r->dir), w ? "val" : "train");
            ser[ns] = (eval_series){names[ns], xs[ns], ys[ns], r->nrows};
            ns++;
        }
    }
    if (ns) eval_svg_lines(f, "Accuracy per epoch", "epoch", "accuracy", ser, ns, 520, 320);
    else fprintf(f, "<p class=\"na\">No metrics.csv with train_acc/val_acc in these runs.</p>\n");
    for (int k = 0; k < ns; k++) {
        free(xs[k]);
        free(ys[k]);
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
    free(ser);
    free(xs);
    free(ys);
    free(names);
    fprintf(f, "</div>\n<h2>Frames</h2>\n<p class=\"note\">Held-out frames with the expert's action (E) and the "
               "policy's (P).</p>\n");
    for (int i = 0; i < nruns; i++) {
        if (!rd[i].png) continue;
        fprintf(f, "<h3>");
        eval_html_escape(f, base_name(rd[i].dir));
        fprintf(f, "</h3>\n<img class=\"frames\" alt=\"frames\" src=\"data:image/png;base64,");
        base64(f, rd[i].png, rd[i].png_n);
        fprintf(f, "\">\n");
    }
    fprintf(f, "<p class=\"note\">Actions: 0 LEFT+DOWN, 1 LEFT, 2 LEFT+UP, 3 DOWN, 4 NOOP, 5 UP, 6 RIGHT+DOWN, "
               "7 RIGHT, 8 RIGHT+UP, 9-14 NOOP. Made by coinbc " CB_VERSION ".</p>\n</body></html>\n");
    rc = cb_afile_commit(&af, e);
out:
    for (int i = 0; i < nruns; i++) run_free(&rd[i]);
    free(rd);
    return rc;
}
