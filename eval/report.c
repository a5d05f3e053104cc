/* report.c - one self-contained HTML page comparing runs: a table (method,
 * tau, train and test accuracy, gap, rollout success), the memorization
 * probe's and the appearance probe's tables, learning curves (accuracy and
 * loss), mask density per layer and the agreement histograms per layer as
 * inline SVG, and each run's sample frames (PNG embedded as base64). Reads
 * RUN/config.json, RUN/metrics.jsonl + .csv, RUN/eval.json,
 * RUN/rollout.json, RUN/agreement.json, RUN/appearance.json and the
 * memorization probe's RUN/{relabeled,true,test}.json (eval.json format, as
 * coinbc compare writes them into probe/METHOD/) through run/'s strict
 * readers, and RUN/eval_frames.png and the appearance probe's strip
 * (RUN/appearance.png, when appearance.json lists one); a missing file leaves its cells empty
 * (a section with nothing to show says why), a damaged one is an error.
 * Runs are named by the shortest distinct suffix of their paths and drawn
 * in their method's colour (eval_method_color), several runs of one method
 * in shades of it. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/run.h"

typedef struct {
    const char *dir;
    char name[EVAL_SHORT_NAME]; /* the shortest distinct suffix of dir */
    const char *method;         /* config.json's, or NULL */
    eval_style style;           /* its colour: the method's, a shade of it when several runs share it */
    int has_config, has_eval, has_rollout, has_agree, has_app;
    int has_probe[3];  /* relabeled.json, true.json, test.json */
    run_appearance app;
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
    uint8_t *strip; /* RUN/appearance.png when appearance.json lists a strip, NULL when it lists none or it is gone */
    size_t strip_n;
} run_data;

/* eval_frames.png is at most 8 frames with their labels (528 x 74 pixels,
 * under 120 KB even uncompressed): a file above
 * this is not one coinbc eval wrote, and is refused unread */
#define FRAMES_PNG_MAX_BYTES ((size_t)4 << 20)
/* the appearance strip is at most 4 rows of 3 frames and their labels
 * (238 x 370 pixels, 264 KB uncompressed): the same cap */
#define STRIP_PNG_MAX_BYTES ((size_t)4 << 20)

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
    if ((rc = run_appearance_read(&r->app, dir, e)) && rc != CB_ENOTFOUND) return rc;
    r->has_app = !rc;
    for (int k = 0; k < 3; k++) {
        if ((rc = run_eval_read_as(&r->probe[k], dir, PROBE_FILES[k], e)) && rc != CB_ENOTFOUND) return rc;
        r->has_probe[k] = !rc;
    }
    if ((rc = load_metrics(r, e))) return rc;
    if ((rc = slurp(dir, "eval_frames.png", FRAMES_PNG_MAX_BYTES, &r->png, &r->png_n, e))) return rc;
    if (r->has_app && r->app.nstrip > 0 &&
        (rc = slurp(dir, "appearance.png", STRIP_PNG_MAX_BYTES, &r->strip, &r->strip_n, e)))
        return rc;
    r->method = r->has_config ? run_method_name(r->config.method) : NULL;
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

/* A metrics column against the epoch column (ce, or 1, 2, ... when -1), in
 * two malloc'd arrays of r->nrows; -1 (nothing allocated) when out of memory. */
static int column_series(const run_data *r, int ce, int cy, double **xs, double **ys) {
    *xs = malloc(sizeof(double) * (size_t)r->nrows);
    *ys = malloc(sizeof(double) * (size_t)r->nrows);
    if (!*xs || !*ys) {
        free(*xs);
        free(*ys);
        *xs = *ys = NULL;
        return -1;
    }
    for (int k = 0; k < r->nrows; k++) {
        (*xs)[k] = ce >= 0 ? r->vals[(size_t)k * r->ncols + ce] : k + 1;
        (*ys)[k] = r->vals[(size_t)k * r->ncols + cy];
    }
    return 0;
}

static void run_free(run_data *r) {
    for (int k = 0; k < r->ncols; k++) free(r->cols[k]);
    free(r->cols);
    free(r->vals);
    free(r->png);
    free(r->strip);
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

/* whether the checkpoint a record names is still there */
static int checkpoint_kept(const char *path) {
    FILE *ck = path[0] ? fopen(path, "rb") : NULL;
    if (ck) fclose(ck);
    return ck != NULL;
}

/* the embedded PNG: width twice the image's own (from its IHDR), pixels kept sharp */
static void png_img(FILE *f, const char *cls, const uint8_t *p, size_t n) {
    fprintf(f, "<img class=\"%s\" alt=\"%s\"", cls, cls);
    if (n >= 24 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        fprintf(f, " width=\"%u\"", 2u * ((uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19]));
    fprintf(f, " src=\"data:image/png;base64,");
    base64(f, p, n);
    fprintf(f, "\">\n");
}

static void cell_pct(FILE *f, int has, double v) {
    if (has && isfinite(v))
        fprintf(f, "<td>%.1f%%</td>", 100 * v);
    else
        fprintf(f, "<td class=\"na\">-</td>");
}

/* a run's name cell */
static void name_cell(FILE *f, const run_data *r) {
    fprintf(f, "<td class=\"l\"><span class=\"sw\" style=\"background:%s\"></span>", r->style.color);
    eval_html_escape(f, r->name);
    fprintf(f, "</td>");
}

/* a row's first cells: the run's name, its method and tau (the tau cell
 * left open) */
static void lead_cells(FILE *f, const run_data *r) {
    fprintf(f, "<tr>");
    name_cell(f, r);
    fprintf(f, "<td class=\"l\">");
    eval_html_escape(f, r->method ? r->method : "-");
    fprintf(f, "</td><td>");
    if (r->has_config) fprintf(f, "%g", r->config.tau);
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
        lead_cells(f, r);
        fprintf(f, "</td>");
        for (int k = 0; k < 3; k++) cell_pct(f, r->has_probe[k], r->probe[k].test.acc);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

/* The appearance probe's offline groups (RUN/appearance.json), runs side by
 * side: per group accuracy against the expert, and for the other looks
 * agreement with the original frame's action and the mean KL divergence. */
static const struct {
    int layout, look;
    const char *name;
} APP_GROUPS[] = {
    {0, 0, "training layouts, own look"},      {0, 2, "training layouts, unseen looks"},
    {1, 0, "held-out layouts, own look"},      {1, 1, "held-out layouts, training looks"},
    {1, 2, "held-out layouts, unseen looks"},
};
#define APP_NGROUPS 5

/* The strip coinbc appearance drew beside each run's appearance.json
 * (RUN/appearance.png, for appearance.json's "strip" states), and
 * for the runs without one why not */
static void appearance_strips(FILE *f, const run_data *rd, int nruns) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= rd[i].strip != NULL;
    fprintf(f, "<h3>Example frames</h3>\n");
    if (any)
        fprintf(f, "<p class=\"note\">A few of the probe's states (chosen from its seed), each in the level's own "
                   "look, in a training level's look (held-out layouts) and in an unseen look (when there are unseen "
                   "looks). Under each frame: E, the expert's action; P, the policy's (green OK: the expert's, red X: "
                   "another); under a swapped look, SAME AS OWN when the policy takes the action it takes on the own "
                   "look, MOVED when the look alone changed its decision.</p>\n");
    int open = 0;
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        if (!r->has_app) continue;
        if (r->strip) {
            if (!open++) fprintf(f, "<div class=\"charts\">\n");
            fprintf(f, "<div><h4>");
            eval_html_escape(f, r->name);
            fprintf(f, "</h4>\n");
            png_img(f, "strip", r->strip, r->strip_n);
            fprintf(f, "</div>\n");
        }
    }
    if (open) fprintf(f, "</div>\n");
    /* the runs without one, and why */
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        if (!r->has_app || r->strip) continue;
        const run_appearance *a = &r->app;
        fprintf(f, "<p class=\"nostrip\">");
        eval_html_escape(f, r->name);
        if (a->nstrip > 0) {
            fprintf(f, ": no strip, appearance.json lists the %d states of one, but appearance.png is not in the "
                       "folder", a->nstrip);
        } else {
            fprintf(f, ": no strip, appearance.json lists none (it was written before coinbc appearance drew one)");
        }
        if (checkpoint_kept(a->checkpoint)) {
            fprintf(f, "; its checkpoint is there, so <code>coinbc appearance RUN --levels %d-%d --mode %s --states "
                       "%lld --donors %d --noise %g --seed %lld</code> draws it again.</p>\n",
                    a->level_lo, a->level_hi, a->hard ? "hard" : "easy", (long long)a->states_per_level, a->donors,
                    a->noise, (long long)a->seed);
        } else {
            fprintf(f, ", and the checkpoint it names (");
            eval_html_escape(f, a->checkpoint[0] ? a->checkpoint : "none");
            fprintf(f, ") is not kept (coinbc compare, for one, keeps only its runs' summaries): the strip needs the "
                       "policy. Training again from config.json gives it back.</p>\n");
        }
    }
}

static void appearance_table(FILE *f, const run_data *rd, int nruns) {
    int any = 0, easy = 0;
    for (int i = 0; i < nruns; i++) any |= rd[i].has_app, easy |= rd[i].has_app && !rd[i].app.hard;
    if (!any) return;
    fprintf(f, "<h2>Appearance probe</h2>\n<p class=\"note\">The same states (the expert's play with noise) drawn "
               "in the level's own look and in other looks, which change nothing else (coinbc appearance). Accuracy: "
               "the policy's action against the expert's label; agreement: the share of states where the policy "
               "picks the same action as on the original frame; KL: the mean divergence of its action distribution "
               "from the original frame's (nats). A drop from own to unseen looks on the training layouts is "
               "appearance the policy memorized.%s</p>\n",
            easy ? " Easy mode has one background and theme set: only the offset and the enemy and crate themes "
                   "vary, and there are no unseen looks." : "");
    fprintf(f, "<table id=\"appearance\"><tr><th>group</th><th>figure</th>");
    for (int i = 0; i < nruns; i++) {
        if (!rd[i].has_app) continue;
        fprintf(f, "<th>");
        eval_html_escape(f, rd[i].name);
        fprintf(f, "<br><span class=\"sw\" style=\"background:%s\"></span>", rd[i].style.color);
        eval_html_escape(f, rd[i].method ? rd[i].method : "-");
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n<tr><td class=\"l\" colspan=\"2\">probe</td>");
    for (int i = 0; i < nruns; i++) {
        const run_appearance *a = &rd[i].app;
        if (!rd[i].has_app) continue;
        fprintf(f, "<td class=\"l\">%s, %d training levels, held out %d-%d, %lld states per level, K=%d</td>",
                a->hard ? "hard" : "easy", a->train_levels, a->level_lo, a->level_hi, (long long)a->states_per_level,
                a->donors);
    }
    fprintf(f, "</tr>\n<tr><td class=\"l\" colspan=\"2\">looks seen / unseen</td>");
    for (int i = 0; i < nruns; i++)
        if (rd[i].has_app) fprintf(f, "<td>%d / %d</td>", rd[i].app.seen_looks, rd[i].app.unseen_looks);
    fprintf(f, "</tr>\n");
    for (int g = 0; g < APP_NGROUPS; g++) {
        int own = APP_GROUPS[g].look == 0, nfig = own ? 1 : 3;
        for (int fig = 0; fig < nfig; fig++) {
            static const char *const FIG[3] = {"accuracy", "agreement", "mean KL"};
            fprintf(f, "<tr>");
            if (fig == 0) fprintf(f, "<td class=\"l\" rowspan=\"%d\">%s</td>", nfig, APP_GROUPS[g].name);
            fprintf(f, "<td class=\"l\">%s</td>", FIG[fig]);
            for (int i = 0; i < nruns; i++) {
                if (!rd[i].has_app) continue;
                const run_app_cell *c = &rd[i].app.cell[APP_GROUPS[g].layout][APP_GROUPS[g].look];
                if (c->frames <= 0)
                    fprintf(f, "<td class=\"na\">-</td>");
                else if (fig == 0)
                    fprintf(f, "<td>%.1f%%</td>", 100.0 * (double)c->correct / (double)c->frames);
                else if (fig == 1)
                    fprintf(f, "<td>%.1f%%</td>", 100.0 * (double)c->agree / (double)c->frames);
                else
                    fprintf(f, "<td>%.3f</td>", c->kl_sum / (double)c->frames);
            }
            fprintf(f, "</tr>\n");
        }
    }
    /* the closed loop: greedy play in the four cells, success with its Wilson interval */
    static const char *const PLAY[RUN_APP_PLAYS] = {"seen layout, seen look (training levels as they are)",
                                                    "seen layout, unseen look", "unseen layout, seen look",
                                                    "unseen layout, unseen look (held-out levels as they are)"};
    for (int k = 0; k < RUN_APP_PLAYS; k++) {
        fprintf(f, "<tr>");
        if (k == 0) fprintf(f, "<td class=\"l\" rowspan=\"%d\">closed loop: rollout success [95%%]</td>", RUN_APP_PLAYS);
        fprintf(f, "<td class=\"l\">%s</td>", PLAY[k]);
        for (int i = 0; i < nruns; i++) {
            if (!rd[i].has_app) continue;
            const run_app_play *p = &rd[i].app.play[k];
            if (p->episodes <= 0) fprintf(f, "<td class=\"na\">-</td>");
            else
                fprintf(f, "<td>%.1f%% [%.1f, %.1f]<br><span class=\"na\">%lld episodes</span></td>", 100 * p->success,
                        100 * p->success_lo, 100 * p->success_hi, (long long)p->episodes);
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n<p class=\"note\">Closed loop: a drop from the first row to the second is appearance the "
               "policy memorized; a drop from the first to the third is layout it memorized.</p>\n");
    appearance_strips(f, rd, nruns);
}

/* a colour between base (t = 0) and white (t = 1) */
static void lighten(char out[8], const char *base, double t) {
    unsigned c[3] = {0x80, 0x80, 0x80};
    if (base && base[0] == '#') sscanf(base + 1, "%2x%2x%2x", &c[0], &c[1], &c[2]);
    for (int i = 0; i < 3; i++) c[i] = (unsigned)lround(c[i] + (255.0 - c[i]) * t) & 255;
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* Per run and weight tensor, the share of parameters in each bin of |mean
 * sign| over a step's levels, at up to AG_SHOWN snapshots (the first step,
 * the last epoch's end and evenly between), as bars per bin: the run's
 * method's colour, lighter for earlier snapshots. ser/st/ys/names have room for cap. */
#define AG_SHOWN 4
static void agreement_charts(FILE *f, const run_data *rd, int nruns, eval_series *ser, eval_style *st, double **ys,
                             char (*names)[128], int cap) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= rd[i].has_agree && rd[i].agree.nsnaps > 0;
    if (!any) return;
    fprintf(f, "<h2>Agreement across levels</h2>\n<p class=\"note\">For each weight tensor, the share of its "
               "parameters by |mean over the step's levels of sign(gradient)| (0: the levels' signs cancel, 1: every "
               "level pushes the same way), binned in tenths, at the first step and at the ends of a few epochs "
               "(lighter bars: earlier). With L levels per step the value takes only a few values (0, 1/L, ..., 1 "
               "for gradients that are not 0), so most bins stay empty. The AND-mask keeps a parameter's step when "
               "this is at least tau.</p>\n");
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
        eval_html_escape(f, rd[i].name);
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
                if (sn->epoch == 0) snprintf(names[ns], sizeof names[ns], "step %lld", (long long)sn->step);
                else snprintf(names[ns], sizeof names[ns], "epoch %lld", (long long)sn->epoch);
                ser[ns] = (eval_series){names[ns], bx, ys[ns], RUN_AGREE_BINS};
                st[ns] = (eval_style){.dash = 0};
                lighten(st[ns].color, eval_method_color(rd[i].method) ? eval_method_color(rd[i].method) : rd[i].style.color,
                        np > 1 ? 0.7 * (np - 1 - j) / (np - 1) : 0);
                ns++;
            }
            char title[256];
            snprintf(title, sizeof title, "%s: %s", rd[i].name, a->layer[k]);
            eval_chart c = {.title = title, .xlabel = "|mean sign| across levels", .ylabel = "share of parameters",
                            .width = 336, .height = 260, .kind = EVAL_CHART_BARS, .bin_width = 1.0 / RUN_AGREE_BINS};
            if (ns) eval_svg_chart(f, &c, ser, st, ns);
            for (int j = 0; j < ns; j++) free(ys[j]);
        }
        fprintf(f, "</div>\n");
    }
}

/* Accuracy and loss per epoch, every run in its colour: training solid,
 * validation dashed, the run named once in the legend. */
static void learning_curves(FILE *f, const run_data *rd, int nruns, eval_series *ser, eval_style *st, double **xs,
                            double **ys) {
    fprintf(f, "<h2>Learning curves</h2>\n<div class=\"charts\">\n");
    for (int chart = 0; chart < 2; chart++) { /* accuracy, then loss (overfitting shows as a rising val loss) */
        int ns = 0;
        for (int i = 0; i < nruns; i++) {
            const run_data *r = &rd[i];
            int ce = col(r, "epoch");
            const char *which[2] = {chart ? "train_loss" : "train_acc", chart ? "val_loss" : "val_acc"};
            for (int w = 0; w < 2; w++) {
                int cy = col(r, which[w]);
                if (cy < 0 || r->nrows == 0 || column_series(r, ce, cy, &xs[ns], &ys[ns])) continue;
                ser[ns] = (eval_series){w ? NULL : r->name, xs[ns], ys[ns], r->nrows};
                st[ns] = r->style;
                st[ns].dash = w;
                ns++;
            }
        }
        eval_chart c = {.title = chart ? "Loss per epoch" : "Accuracy per epoch", .xlabel = "epoch",
                        .ylabel = chart ? "cross-entropy" : "accuracy", .width = 500, .height = 320,
                        .note = "solid: training levels; dashed: validation levels"};
        if (ns) eval_svg_chart(f, &c, ser, st, ns);
        else if (!chart) fprintf(f, "<p class=\"na\">No metrics.csv with train_acc/val_acc in these runs.</p>\n");
        for (int k = 0; k < ns; k++) {
            free(xs[k]);
            free(ys[k]);
        }
    }
    fprintf(f, "</div>\n");
}

/* Mask density, one chart per layer with every masking run in its colour;
 * runs whose density is 1 throughout (no mask: mean) are named under the
 * charts instead of drawn as flat lines at 1. */
static void mask_charts(FILE *f, const run_data *rd, int nruns, eval_series *ser, eval_style *st, double **xs,
                        double **ys, int cap) {
    /* which runs mask at all */
    int *masks = calloc((size_t)nruns, sizeof *masks), nflat = 0, ncharts = 0;
    if (!masks) return;
    fprintf(f, "<h2>Mask density per layer</h2>\n<p class=\"note\">Share of each parameter tensor's entries "
               "whose gradient survived the mask, averaged over the epoch.</p>\n<div class=\"charts\">\n");
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        int has = 0;
        for (int c = 0; c < r->ncols; c++) {
            if (!r->cols[c] || strncmp(r->cols[c], "mask_", 5)) continue;
            has = 1;
            for (int k = 0; k < r->nrows; k++) {
                double v = r->vals[(size_t)k * r->ncols + c];
                if (isfinite(v) && v != 1) masks[i] = 1;
            }
        }
        nflat += has && !masks[i];
    }
    /* layers in first-seen order over the runs */
    for (int i = 0; i < nruns; i++)
        for (int c = 0; c < rd[i].ncols; c++) {
            const char *layer = rd[i].cols[c];
            if (!masks[i] || !layer || strncmp(layer, "mask_", 5)) continue;
            int seen = 0;
            for (int i2 = 0; i2 <= i && !seen; i2++)
                if (masks[i2])
                    for (int c2 = 0; c2 < (i2 < i ? rd[i2].ncols : c) && !seen; c2++)
                        seen = rd[i2].cols[c2] && !strcmp(rd[i2].cols[c2], layer);
            if (seen) continue;
            int ns = 0;
            for (int j = 0; j < nruns && ns < cap; j++) {
                const run_data *r = &rd[j];
                int cy = masks[j] ? col(r, layer) : -1, ce = col(r, "epoch");
                if (cy < 0 || r->nrows == 0 || column_series(r, ce, cy, &xs[ns], &ys[ns])) continue;
                ser[ns] = (eval_series){r->name, xs[ns], ys[ns], r->nrows};
                st[ns] = r->style;
                ns++;
            }
            char title[128];
            snprintf(title, sizeof title, "mask density: %s", layer + 5);
            eval_chart ch = {.title = title, .xlabel = "epoch", .ylabel = "density", .width = 500, .height = 300};
            if (ns) eval_svg_chart(f, &ch, ser, st, ns), ncharts++;
            for (int k = 0; k < ns; k++) {
                free(xs[k]);
                free(ys[k]);
            }
        }
    fprintf(f, "</div>\n");
    if (nflat) {
        fprintf(f, "<p class=\"note\">Density 1 in every layer and epoch (no mask), not drawn:");
        for (int i = 0, k = 0; i < nruns; i++) {
            int has = 0;
            for (int c = 0; c < rd[i].ncols; c++) has |= rd[i].cols[c] && !strncmp(rd[i].cols[c], "mask_", 5);
            if (!has || masks[i]) continue;
            fprintf(f, "%s ", k++ ? "," : "");
            eval_html_escape(f, rd[i].name);
        }
        fprintf(f, ".</p>\n");
    }
    if (!ncharts && !nflat) fprintf(f, "<p class=\"na\">No mask columns in these runs' metrics.</p>\n");
    free(masks);
}

/* RUN/eval_frames.png of each run, and for the runs without one why not */
static void frames_section(FILE *f, const run_data *rd, int nruns) {
    fprintf(f, "<h2>Frames</h2>\n<p class=\"note\">Held-out frames with the expert's action (E) and the "
               "policy's (P).</p>\n");
    int missing = 0;
    for (int i = 0; i < nruns; i++) {
        if (!rd[i].png) {
            missing++;
            continue;
        }
        fprintf(f, "<h3>");
        eval_html_escape(f, rd[i].name);
        fprintf(f, "</h3>\n<img class=\"frames\" alt=\"frames\" src=\"data:image/png;base64,");
        base64(f, rd[i].png, rd[i].png_n);
        fprintf(f, "\">\n");
    }
    if (!missing) return;
    fprintf(f, "<ul class=\"noframes\">\n");
    for (int i = 0; i < nruns; i++) {
        const run_data *r = &rd[i];
        if (r->png) continue;
        fprintf(f, "<li>");
        eval_html_escape(f, r->name);
        if (!r->has_eval) {
            fprintf(f, ": no frames, the run was not evaluated (no eval.json): <code>coinbc eval RUN DATA</code> "
                       "draws them.</li>\n");
            continue;
        }
        if (checkpoint_kept(r->ev.checkpoint)) {
            fprintf(f, ": no eval_frames.png beside eval.json; its checkpoint is there, so <code>coinbc eval</code> "
                       "draws them again.</li>\n");
        } else {
            fprintf(f, ": no frames, the checkpoint eval.json names (");
            eval_html_escape(f, r->ev.checkpoint[0] ? r->ev.checkpoint : "none");
            fprintf(f, ") is not kept (coinbc compare, for one, keeps only its runs' summaries); training again "
                       "from config.json gives it back.</li>\n");
        }
    }
    fprintf(f, "</ul>\n");
}

/* the page's head (title, style) and its opening paragraph */
static void page_head(FILE *f, int nruns) {
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>coinbc report</title>\n"
               "<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}"
               "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
               "th{background:#f2f2f2}td.l{text-align:left}.na{color:#aaa}.charts{display:flex;flex-wrap:wrap;gap:16px}"
               ".sw{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}"
               "img.frames{image-rendering:pixelated;width:100%%;max-width:1000px}img.strip{image-rendering:pixelated}"
               "p.note,ul.noframes,p.nostrip{color:#555;font-size:90%%}</style></head><body>\n");
    fprintf(f, "<h1>coinbc report</h1>\n<p>%d run%s. Accuracy is the share of frames where the policy's most likely "
               "action equals the expert's label, on the training levels and on held-out test levels; the gap is "
               "train minus test (memorization). Rollout success is the share of episodes on held-out levels where "
               "the policy, playing from its 64x64 frames, reaches the coin (95%% Wilson interval).</p>\n",
            nruns, nruns == 1 ? "" : "s");
}

/* one run's row of the runs table: its config, accuracies, gap and rollout */
static void runs_row(FILE *f, const run_data *r) {
    const char *net = r->has_config ? model_net_name(r->config.net.kind) : "-";
    lead_cells(f, r);
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

/* the runs table: one row per run */
static void runs_table(FILE *f, const run_data *rd, int nruns) {
    fprintf(f, "<table id=\"runs\"><tr><th>run</th><th>method</th><th>tau</th><th>net</th><th>train acc</th>"
               "<th>test acc</th><th>gap</th><th>test acc (merged)</th><th>rollout success</th><th>expert</th>"
               "<th>random</th></tr>\n");
    for (int i = 0; i < nruns; i++) runs_row(f, &rd[i]);
    fprintf(f, "</table>\n");
}

/* the whole page, section by section; ser/st/xs/ys/names are the charts'
 * scratch room for cap series */
static void write_page(FILE *f, const run_data *rd, int nruns, eval_series *ser, eval_style *st, double **xs,
                       double **ys, char (*names)[128], int cap) {
    page_head(f, nruns);
    runs_table(f, rd, nruns);
    probe_table(f, rd, nruns);
    appearance_table(f, rd, nruns);
    learning_curves(f, rd, nruns, ser, st, xs, ys);
    mask_charts(f, rd, nruns, ser, st, xs, ys, cap);
    agreement_charts(f, rd, nruns, ser, st, ys, names, cap);
    frames_section(f, rd, nruns);
    fprintf(f, "<p class=\"note\">Actions:");
    for (int a = 0; a < 9; a++) fprintf(f, " %d %s,", a, game_action_name(a));
    fprintf(f, " 9-14 NOOP. Made by coinbc " CB_VERSION ".</p>\n</body></html>\n");
}

int eval_report_write(const char *path, const char *const *runs, int nruns, cb_err *e) {
    if (nruns <= 0) return cb_fail(e, CB_EARG, "report: no runs given");
    run_data *rd;
    int rc0 = load_runs(&rd, runs, nruns, e);
    if (rc0) return rc0;
    /* room for two curves per run, or the snapshots of one agreement chart */
    int cap = nruns * 2 + 1 > AG_SHOWN + 1 ? nruns * 2 + 1 : AG_SHOWN + 1;
    eval_series *ser = calloc((size_t)cap, sizeof *ser);
    eval_style *st = calloc((size_t)cap, sizeof *st);
    double **xs = calloc((size_t)cap, sizeof *xs), **ys = calloc((size_t)cap, sizeof *ys);
    char (*names)[128] = calloc((size_t)cap, sizeof *names);
    cb_afile af;
    int rc = 0;
    if (!ser || !st || !xs || !ys || !names) {
        rc = cb_fail(e, CB_ENOMEM, "report: out of memory");
        goto out;
    }
    if ((rc = cb_afile_open(&af, path, e))) goto out;
    write_page(af.fp, rd, nruns, ser, st, xs, ys, names, cap);
    if (ferror(af.fp)) {
        cb_afile_abort(&af);
        rc = cb_fail(e, CB_EIO, "report: writing %s failed", path);
    } else {
        rc = cb_afile_commit(&af, e);
    }
out:
    free(ser);
    free(st);
    free(xs);
    free(ys);
    free(names);
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
    /* names and colours: the k-th of a method's n runs gets shade k of its colour */
    const char **dirs = malloc(sizeof *dirs * (size_t)nruns);
    char (*names)[EVAL_SHORT_NAME] = malloc(sizeof *names * (size_t)nruns);
    if (!dirs || !names) {
        free(dirs);
        free(names);
        free_runs(rd, nruns);
        return cb_fail(e, CB_ENOMEM, "report: out of memory");
    }
    for (int i = 0; i < nruns; i++) dirs[i] = runs[i];
    eval_short_names(names, dirs, nruns);
    static const char *const OTHER[] = {"#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    int nother = 0;
    for (int i = 0; i < nruns; i++) {
        snprintf(rd[i].name, sizeof rd[i].name, "%s", names[i]);
        const char *base = eval_method_color(rd[i].method);
        if (!base) {
            snprintf(rd[i].style.color, sizeof rd[i].style.color, "%s", OTHER[nother++ % 5]);
            continue;
        }
        int k = 0, n = 0;
        for (int j = 0; j < nruns; j++)
            if (eval_method_color(rd[j].method) == base) k += j < i, n++;
        eval_color_shade(rd[i].style.color, base, k, n);
    }
    free(dirs);
    free(names);
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
        fprintf(f, "%-16s %-8s %5.2f %9s %9s %7s %24s %8s %8s\n", r->name,
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
        /* the appearance probe's offline groups, by appearance.json's keys */
        json_t *app = json_null();
        if (r->has_app && (app = json_object())) {
            static const char *const KEYS[APP_NGROUPS] = {"seen_layout_own_look", "seen_layout_unseen_look",
                                                          "heldout_layout_own_look", "heldout_layout_seen_look",
                                                          "heldout_layout_unseen_look"};
            json_object_set_new(app, "mode", json_string(r->app.hard ? "hard" : "easy"));
            for (int g = 0; g < APP_NGROUPS; g++) {
                const run_app_cell *c = &r->app.cell[APP_GROUPS[g].layout][APP_GROUPS[g].look];
                double n = (double)c->frames;
                int has = c->frames > 0, other = APP_GROUPS[g].look != 0;
                json_object_set_new(app, KEYS[g],
                                    json_pack("{s:I, s:o, s:o, s:o}", "frames", (json_int_t)c->frames, "accuracy",
                                              num_or_null(has, (double)c->correct / n), "agreement",
                                              num_or_null(has, (double)c->agree / n), "mean_kl",
                                              num_or_null(has && other, c->kl_sum / n)));
            }
        }
        json_object_set_new(o, "appearance", app ? app : json_null());
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
