/* svg.c - inline SVG charts for the HTML report (no scripts, no fonts beyond
 * the browser's default sans-serif): line charts and grouped bar charts
 * (histograms) on axes with round ticks around the data, legends laid out
 * by the length of their text, and the report's fixed colours: one per
 * training method, shades of it for several runs of one method, and the
 * short names runs are shown by. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/run.h"

/* the colours of series that are not methods (eval_svg_lines' default) */
static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                     "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
/* one colour per method, in run/'s method order; a method added to run/
 * without a colour here gets OTHER_COLORS */
static const char *const METHOD_COLORS[] = {
    [RUN_METHOD_MEAN] = "#1f77b4",    /* blue */
    [RUN_METHOD_AND] = "#d62728",     /* red */
    [RUN_METHOD_SAND] = "#2ca02c",    /* green */
    [RUN_METHOD_GEOMEAN] = "#ff7f0e", /* orange */
    [RUN_METHOD_TAND] = "#9467bd",    /* purple */
};
#define NMETHOD_COLORS ((int)(sizeof METHOD_COLORS / sizeof METHOD_COLORS[0]))

void eval_html_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

const char *eval_method_color(const char *method) {
    int m;
    if (!method || run_method_parse(method, &m) || m >= NMETHOD_COLORS || !METHOD_COLORS[m]) return NULL;
    return METHOD_COLORS[m];
}

/* Shade k of n of base: k = 0 is base itself, then alternately lighter and
 * darker, further each pair (mixed towards white by up to 50%, black by up to 45%). */
void eval_color_shade(char out[8], const char *base, int k, int n) {
    unsigned r = 0x80, g = 0x80, b = 0x80;
    if (base && base[0] == '#' && strlen(base) == 7) sscanf(base + 1, "%2x%2x%2x", &r, &g, &b);
    double t = 0;
    if (k > 0 && n > 1) {
        int pairs = n / 2, step = (k + 1) / 2; /* 1, 1, 2, 2, ... */
        t = 0.5 * step / (pairs > 0 ? pairs : 1);
        if (t > 0.5) t = 0.5;
        if (k % 2 == 0) t = -0.9 * t; /* even k: darker */
    }
    unsigned c[3] = {r, g, b};
    for (int i = 0; i < 3; i++) {
        double v = t >= 0 ? c[i] + (255 - c[i]) * t : c[i] * (1 + t);
        c[i] = (unsigned)lround(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 255, c[1] & 255, c[2] & 255);
}

void eval_axis_nice(eval_axis *ax, double lo, double hi, int target) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) {
        double t = lo;
        lo = hi, hi = t;
    }
    if (hi == lo) { /* one value: a span of 10% of it (or 1 around 0) */
        double d = lo == 0 ? 0.5 : fabs(lo) * 0.05;
        lo -= d, hi += d;
    }
    if (target < 2) target = 2;
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    /* a little slack so that 0.74 / 0.02 = 36.99999 still starts at 0.74 */
    double i0 = floor(lo / step + 1e-9), i1 = ceil(hi / step - 1e-9);
    if (i1 <= i0) i1 = i0 + 1;
    ax->lo = i0 * step;
    ax->hi = i1 * step;
    ax->step = step;
    ax->nticks = (int)(i1 - i0) + 1;
}

/* the path's last (up to cap) components, without empty and "." ones */
static int components(const char *p, const char **start, int *len, int cap) {
    int n = 0;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        size_t l = strcspn(p, "/");
        if (!(l == 1 && p[0] == '.')) {
            if (n == cap) { /* keep the last ones: names are suffixes */
                memmove(start, start + 1, sizeof *start * (size_t)(cap - 1));
                memmove(len, len + 1, sizeof *len * (size_t)(cap - 1));
                n--;
            }
            start[n] = p, len[n] = (int)l, n++;
        }
        p += l;
    }
    return n;
}

#define MAX_COMP 64
static void suffix(char *out, size_t cap, const char *const *st, const int *len, int n, int k, const char *path) {
    if (n == 0) {
        snprintf(out, cap, "%s", path);
        return;
    }
    if (k > n) k = n;
    size_t o = 0;
    out[0] = 0;
    for (int i = n - k; i < n; i++) {
        int w = snprintf(out + o, cap - o, "%s%.*s", i > n - k ? "/" : "", len[i], st[i]);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
    }
}

void eval_short_names(char (*out)[EVAL_SHORT_NAME], const char *const *paths, int n) {
    int *k = calloc((size_t)(n > 0 ? n : 1), sizeof *k);
    const char *st[MAX_COMP];
    int len[MAX_COMP];
    for (int i = 0; i < n; i++) {
        if (k) k[i] = 1;
        suffix(out[i], EVAL_SHORT_NAME, st, len, components(paths[i], st, len, MAX_COMP), 1, paths[i]);
    }
    if (!k) return; /* out of memory: base names */
    /* lengthen every name that another one equals, until none does or none can grow */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            int clash = 0;
            for (int j = 0; j < n && !clash; j++) clash = j != i && !strcmp(out[i], out[j]);
            if (!clash) continue;
            int nc = components(paths[i], st, len, MAX_COMP);
            if (k[i] >= nc) continue;
            k[i]++;
            changed = 1;
        }
        if (changed)
            for (int i = 0; i < n; i++)
                suffix(out[i], EVAL_SHORT_NAME, st, len, components(paths[i], st, len, MAX_COMP), k[i], paths[i]);
    }
    free(k);
}

/* the width of text at font-size 11 in a sans-serif font, a little generously */
static double text_w(const char *s) { return 6.3 * (double)strlen(s ? s : ""); }

static const char *dash_attr(int dash) {
    return dash == 1 ? " stroke-dasharray=\"6 3\"" : dash == 2 ? " stroke-dasharray=\"2 2\"" : "";
}

/* legend entries flowed into rows that fit the width; rows used */
static int legend_rows(const eval_series *s, int ns, double x0, double x1) {
    int rows = 0;
    double x = x1;
    for (int k = 0; k < ns; k++) {
        if (!s[k].name || !s[k].name[0]) continue;
        double w = 22 + text_w(s[k].name) + 14;
        if (rows == 0 || x + w > x1) rows++, x = x0;
        x += w;
    }
    return rows;
}

static void tick_label(FILE *f, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    fprintf(f, "%.6g", v);
}

/* a chart's axes and plot area */
typedef struct {
    eval_axis xa, ya;
    int width, height, ml, mr, mt;
    double pw, ph; /* the plot's size */
} chart_geom;

static double px(const chart_geom *g, double v) { return g->ml + (v - g->xa.lo) / (g->xa.hi - g->xa.lo) * g->pw; }
static double py(const chart_geom *g, double v) { return g->mt + (1 - (v - g->ya.lo) / (g->ya.hi - g->ya.lo)) * g->ph; }

static const char *series_color(const eval_style *st, int k) { return st && st[k].color[0] ? st[k].color : COLORS[k % 10]; }

/* the axes over the finite points of every series (bars: the bins' edges
 * are the x range, and 0 is on the y axis) */
static void chart_axes(chart_geom *g, const eval_chart *c, const eval_series *s, int ns) {
    int bars = c->kind == EVAL_CHART_BARS;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, s[k].y[i]);
            y1 = fmax(y1, s[k].y[i]);
        }
    if (!isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (bars || c->y_zero) y0 = fmin(y0, 0), y1 = fmax(y1, 0);
    eval_axis_nice(&g->ya, y0, y1, 5);
    if (bars) {
        double bw = c->bin_width > 0 ? c->bin_width : 1;
        x0 -= bw / 2, x1 += bw / 2;
        eval_axis_nice(&g->xa, x0, x1, 5);
        g->xa.lo = x0, g->xa.hi = x1;
        return;
    }
    eval_axis_nice(&g->xa, x0, x1, 6);
    int whole = 1; /* epochs, trial numbers: no ticks between whole numbers */
    for (int k = 0; k < ns && whole; k++)
        for (int i = 0; i < s[k].n && whole; i++) whole = !isfinite(s[k].x[i]) || s[k].x[i] == floor(s[k].x[i]);
    if (whole && g->xa.step < 1) {
        g->xa.step = 1, g->xa.lo = floor(x0), g->xa.hi = ceil(x1) > floor(x0) ? ceil(x1) : floor(x0) + 1;
        g->xa.nticks = (int)(g->xa.hi - g->xa.lo) + 1;
    }
}

/* the plot keeps the size of a chart with one legend row; more rows make the chart taller */
static void chart_size(chart_geom *g, const eval_chart *c, const eval_series *s, int ns) {
    g->width = c->width, g->ml = 56, g->mr = 12, g->mt = 28;
    int rows = legend_rows(s, ns, g->ml, g->width - g->mr) + (c->note && c->note[0] ? 1 : 0);
    int mb = 50 + 16 * rows;
    g->pw = g->width - g->ml - g->mr, g->ph = c->height - g->mt - 50 - 16;
    if (g->ph < 60) g->ph = 60;
    g->height = (int)(g->mt + mb + g->ph);
}

/* the svg element, the title, the grid with its tick labels and the axis labels */
static void chart_frame(FILE *f, const eval_chart *c, const chart_geom *g) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart%s\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            c->kind == EVAL_CHART_BARS ? " hist" : "", g->width, g->height, g->width, g->height);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", g->width, g->height);
    fprintf(f, "<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">", g->ml);
    eval_html_escape(f, c->title);
    fprintf(f, "</text>\n");
    for (int t = 0; t < g->ya.nticks; t++) {
        double v = g->ya.lo + t * g->ya.step;
        fprintf(f, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", g->ml, g->ml + g->pw, py(g, v),
                py(g, v));
        fprintf(f, "<text class=\"ytick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", g->ml - 4, py(g, v) + 4);
        tick_label(f, v, g->ya.step);
        fprintf(f, "</text>\n");
    }
    for (int t = 0; t < g->xa.nticks + 1; t++) {
        double v = (ceil(g->xa.lo / g->xa.step - 1e-9) + t) * g->xa.step;
        if (v > g->xa.hi + g->xa.step * 1e-6) break;
        fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px(g, v), g->mt + g->ph + 14);
        tick_label(f, v, g->xa.step);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", g->ml + g->pw / 2, g->mt + g->ph + 30);
    eval_html_escape(f, c->xlabel);
    fprintf(f, "</text>\n<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 12 %.1f)\">",
            g->mt + g->ph / 2, g->mt + g->ph / 2);
    eval_html_escape(f, c->ylabel);
    fprintf(f, "</text>\n");
}

/* series k: its bars side by side inside 90% of each bin, or its line and points */
static void chart_series(FILE *f, const eval_chart *c, const eval_series *sk, const eval_style *st, int k, int ns,
                         const chart_geom *g) {
    const char *col = series_color(st, k);
    if (c->kind == EVAL_CHART_BARS) {
        double bw = (c->bin_width > 0 ? c->bin_width : 1) * 0.9 / ns;
        for (int i = 0; i < sk->n; i++) {
            if (!isfinite(sk->x[i]) || !isfinite(sk->y[i])) continue;
            double xl = sk->x[i] - (c->bin_width > 0 ? c->bin_width : 1) * 0.45 + k * bw;
            double ya0 = py(g, fmax(fmin(0, g->ya.hi), g->ya.lo)), yv = py(g, sk->y[i]);
            fprintf(f, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>", px(g, xl),
                    fmin(ya0, yv), px(g, xl + bw) - px(g, xl), fabs(ya0 - yv), col);
        }
        fprintf(f, "\n");
        return;
    }
    fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
            dash_attr(st ? st[k].dash : 0));
    for (int i = 0; i < sk->n; i++)
        if (isfinite(sk->x[i]) && isfinite(sk->y[i])) fprintf(f, "%.1f,%.1f ", px(g, sk->x[i]), py(g, sk->y[i]));
    fprintf(f, "\"/>\n");
    for (int i = 0; i < sk->n; i++)
        if (isfinite(sk->x[i]) && isfinite(sk->y[i]))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", px(g, sk->x[i]), py(g, sk->y[i]), col);
    fprintf(f, "\n");
}

/* the legend, flowed in rows under the x label, and the note under it */
static void chart_legend(FILE *f, const eval_chart *c, const eval_series *s, const eval_style *st, int ns,
                         const chart_geom *g) {
    double lx = g->width - g->mr, ly = g->mt + g->ph + 30;
    int first = 1;
    for (int k = 0; k < ns; k++) {
        if (!s[k].name || !s[k].name[0]) continue;
        const char *col = series_color(st, k);
        double w = 22 + text_w(s[k].name) + 14;
        if (first || lx + w > g->width - g->mr) lx = g->ml, ly += 16;
        first = 0;
        if (c->kind == EVAL_CHART_BARS)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"9\" fill=\"%s\"/>", lx, ly - 8, col);
        else
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>", lx,
                    lx + 18, ly - 4, ly - 4, col);
        fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">", lx + 22, ly);
        eval_html_escape(f, s[k].name);
        fprintf(f, "</text>\n");
        lx += w;
    }
    if (c->note && c->note[0]) {
        fprintf(f, "<text class=\"note\" x=\"%d\" y=\"%.1f\" fill=\"#555\">", g->ml, ly + 16);
        eval_html_escape(f, c->note);
        fprintf(f, "</text>\n");
    }
}

void eval_svg_chart(FILE *f, const eval_chart *c, const eval_series *s, const eval_style *st, int ns) {
    chart_geom g;
    chart_axes(&g, c, s, ns);
    chart_size(&g, c, s, ns);
    chart_frame(f, c, &g);
    for (int k = 0; k < ns; k++) chart_series(f, c, &s[k], st, k, ns, &g);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", g.ml, g.mt, g.pw,
            g.ph);
    chart_legend(f, c, s, st, ns, &g);
    fprintf(f, "</svg>\n");
}

void eval_svg_lines(FILE *f, const char *title, const char *xlabel, const char *ylabel, const eval_series *s,
                    int ns, int width, int height) {
    eval_chart c = {.title = title, .xlabel = xlabel, .ylabel = ylabel, .width = width, .height = height};
    eval_svg_chart(f, &c, s, NULL, ns);
}
