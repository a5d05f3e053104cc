/* compare.c - the comparison's table: each method's final runs (one per
 * seed) as mean and 95% Student-t interval over seeds, Welch's t-test of
 * test accuracy and rollout success against a base method with Holm's
 * adjustment per column, the methods' origins, and the memorization probe.
 *
 * eval_compare_load reads one method's figures from a comparison folder
 * through run/'s strict readers (runs/METHOD-SEED/ and probe/METHOD[-SEED]/,
 * each counted once its `done` marker is there; configs/METHOD.origin);
 * eval_compare_table writes the Markdown. The statistics are eval/stats.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/eval.h"
#include "run/run.h"


void eval_holm(double *adj, const double *p, int n) {
    /* ranks of the finite p-values, smallest first (a stable insertion sort:
     * ties keep their order, as Python's sorted does) */
    int idx[EVAL_CMP_MAXMETHODS], m = 0;
    for (int i = 0; i < n; i++) {
        adj[i] = NAN;
        if (isnan(p[i]) || m == EVAL_CMP_MAXMETHODS) continue;
        int j = m++;
        while (j > 0 && p[idx[j - 1]] > p[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    double run = 0;
    for (int r = 0; r < m; r++) {
        double a = (double)(m - r) * p[idx[r]];
        if (a > 1) a = 1;
        if (a > run) run = a;
        adj[idx[r]] = run;
    }
}

static int has_file(const char *dir, const char *name) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    struct stat st;
    return stat(path, &st) == 0;
}

int eval_compare_load(eval_compare_method *out, const char *state, const char *method, const int *seeds, int nseeds,
                      const int *probe_seeds, int nprobe, cb_err *e) {
    memset(out, 0, sizeof *out);
    if (strlen(method) >= sizeof out->name) return cb_fail(e, CB_EARG, "compare: method name '%s' is too long", method);
    if (nseeds > EVAL_CMP_MAXSEEDS || nprobe > EVAL_CMP_MAXSEEDS)
        return cb_fail(e, CB_EARG, "compare: at most %d seeds", EVAL_CMP_MAXSEEDS);
    snprintf(out->name, sizeof out->name, "%s", method);
    if (strlen(state) > 3500) return cb_fail(e, CB_EARG, "compare: folder path too long: %s", state);
    char dir[4200];
    int rc;
    for (int s = 0; s < nseeds; s++) {
        snprintf(dir, sizeof dir, "%s/runs/%s-%d", state, method, seeds[s]);
        if (!has_file(dir, "done")) continue;
        run_eval ev;
        if ((rc = run_eval_read(&ev, dir, e))) return rc;
        if (!ev.has_train)
            return cb_fail(e, CB_EFORMAT, "%s/eval.json: no training-level figures; the table needs train and test", dir);
        int k = out->n++;
        out->train[k] = ev.train.acc;
        out->test[k] = ev.test.acc;
        out->gap[k] = ev.train.acc - ev.test.acc;
        out->train_loss[k] = ev.train.loss;
        out->test_loss[k] = ev.test.loss;
        run_rollout ro;
        rc = run_rollout_read(&ro, dir, e);
        if (rc && rc != CB_ENOTFOUND) return rc;
        if (!rc) out->roll[out->nroll++] = ro.success;
        run_appearance ap;
        rc = run_appearance_read(&ap, dir, e);
        if (rc && rc != CB_ENOTFOUND) return rc;
        if (!rc) {
            int a = out->napp++;
            for (int c = 0; c < 4; c++) out->app_play[c][a] = ap.play[c].success;
            out->app_drop[a] = ap.play[RUN_APP_SS].success - ap.play[RUN_APP_SU].success;
            static const int CELL[3][2] = {{0, 2}, {1, 1}, {1, 2}};
            for (int c = 0; c < 3; c++) {
                const run_app_cell *x = &ap.cell[CELL[c][0]][CELL[c][1]];
                out->app_agree[c][a] = x->frames ? (double)x->agree / (double)x->frames : NAN;
            }
        }
    }
    if (out->nroll && out->nroll != out->n)
        return cb_fail(e, CB_EFORMAT, "%s/runs: some runs of %s have rollout.json and some do not", state, method);
    if (out->napp && out->napp != out->n)
        return cb_fail(e, CB_EFORMAT, "%s/runs: some runs of %s have appearance.json and some do not", state, method);
    static const char *const PROBE_FILES[3] = {"relabeled.json", "true.json", "test.json"};
    for (int s = 0; s < nprobe; s++) {
        if (probe_seeds[s] == 1) snprintf(dir, sizeof dir, "%s/probe/%s", state, method);
        else snprintf(dir, sizeof dir, "%s/probe/%s-%d", state, method, probe_seeds[s]);
        if (!has_file(dir, "done")) continue;
        for (int k = 0; k < 3; k++) {
            run_eval ev;
            if ((rc = run_eval_read_as(&ev, dir, PROBE_FILES[k], e))) return rc;
            out->probe[k][out->nprobe] = ev.test.acc;
        }
        out->nprobe++;
    }
    snprintf(dir, sizeof dir, "%s/configs/%s.origin", state, method);
    uint8_t *text;
    size_t n;
    rc = cb_read_file_max(dir, sizeof out->origin - 1, &text, &n, e);
    if (rc && rc != CB_ENOTFOUND) return rc;
    if (!rc) {
        /* stripped of surrounding whitespace, as the table shows it */
        size_t a = 0, b = n;
        while (a < b && (text[a] == ' ' || text[a] == '\n' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\n' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        memcpy(out->origin, text + a, b - a);
        out->origin[b - a] = 0;
        out->has_origin = 1;
        free(text);
    }
    return 0;
}

int eval_compare_top_pick(int *numbers, double *values, int n, const char *trials_csv, int *minimize, cb_err *e) {
    run_tune_result r;
    int rc = run_tune_trials_read(&r, trials_csv, e);
    if (rc) return rc;
    int min = r.objective == RUN_TUNE_VAL_LOSS, k = 0;
    if (minimize) *minimize = min;
    /* selection of the n best: an insertion into a sorted prefix (studies have at most a few thousand trials) */
    for (int i = 0; i < r.ntrials; i++) {
        const run_tune_trial *t = &r.trials[i];
        if (t->state == RUN_TUNE_FAIL || !isfinite(t->value)) continue;
        int j = k < n ? k++ : n;
        while (j > 0) {
            double v = values[j - 1];
            int better = min ? t->value < v : t->value > v;
            if (!(better || (t->value == v && t->number < numbers[j - 1]))) break;
            if (j < n) numbers[j] = numbers[j - 1], values[j] = values[j - 1];
            j--;
        }
        if (j < n) numbers[j] = t->number, values[j] = t->value;
    }
    run_tune_result_free(&r);
    return k;
}

/* top/M/trial-NNNN.retrained: how a picked trial trained again came back */
static int read_again(eval_compare_method *m, const char *dir, const char *file, int trial, cb_err *e) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, 4096, &buf, &n, e);
    if (rc) return rc;
    run_retrained r;
    rc = run_retrained_parse(&r, (const char *)buf, n, trial, path, e);
    free(buf);
    if (rc) return rc;
    m->top_again++;
    if (r.exact) m->top_again_exact++; /* -1: its checkpoint was there after all */
    else if (r.max_rel_diff > r.tolerance && m->top_outside < EVAL_CMP_MAXTOP) { /* kept by --retrain-keep */
        m->top_outside_trial[m->top_outside] = trial;
        m->top_outside_rel[m->top_outside++] = r.max_rel_diff;
        m->top_outside_tol = r.tolerance;
    } else if (r.max_rel_diff > m->top_again_rel) m->top_again_rel = r.max_rel_diff;
    return 0;
}

int eval_compare_load_top(eval_compare_method *m, const char *state, int n, cb_err *e) {
    if (n > EVAL_CMP_MAXTOP) return cb_fail(e, CB_EARG, "compare: the top-N figure takes at most %d trials", EVAL_CMP_MAXTOP);
    char path[4200];
    if (snprintf(path, sizeof path, "%s/tune/%s/trials.csv", state, m->name) >= (int)sizeof path)
        return cb_fail(e, CB_EARG, "compare: folder path too long: %s", state);
    int num[EVAL_CMP_MAXTOP];
    double val[EVAL_CMP_MAXTOP];
    int k = eval_compare_top_pick(num, val, n, path, &m->top_minimize, e);
    if (k < 0) return k;
    m->top_wanted = n;
    m->ntop = 0;
    for (int i = 0; i < k; i++) {
        char dir[4200], file[64];
        snprintf(dir, sizeof dir, "%s/top/%s", state, m->name);
        snprintf(file, sizeof file, "trial-%04d.json", num[i]);
        if (!has_file(dir, file)) continue;
        run_eval ev;
        int rc = run_eval_read_as(&ev, dir, file, e);
        if (rc) return rc;
        int j = m->ntop++;
        m->top_trial[j] = num[i];
        m->top_val[j] = val[i];
        m->top_loss[j] = ev.test.loss;
        m->top_acc[j] = ev.test.acc;
        snprintf(file, sizeof file, "trial-%04d.retrained", num[i]);
        if (has_file(dir, file) && (rc = read_again(m, dir, file, num[i], e))) return rc;
    }
    return 0;
}

/* "m ± h" in percent, or "m" without an interval (one value) */
static void pct(FILE *f, const double *x, int n) {
    int nan = 0;
    for (int i = 0; i < n; i++) nan |= isnan(x[i]);
    if (n == 0 || nan) {
        fputs("-", f);
        return;
    }
    double m, h;
    eval_mean_ci_t(x, n, &m, &h);
    if (n < 2) fprintf(f, "%.1f", 100 * m);
    else fprintf(f, "%.1f ± %.1f", 100 * m, 100 * h);
}

/* "m ± h" of a loss (nats), four decimals */
static void nats(FILE *f, const double *x, int n) {
    if (n == 0) {
        fputs("-", f);
        return;
    }
    double m, h;
    eval_mean_ci_t(x, n, &m, &h);
    if (n < 2) fprintf(f, "%.4f", m);
    else fprintf(f, "%.4f ± %.4f", m, h);
}

/* Welch's test of column x of every tested method against the base,
 * Holm-adjusted over the column */
typedef const double *(*column_fn)(const eval_compare_method *m, int *n);
static void welch_column(double *t, double *p, double *adj, const eval_compare_method *ms, int nm,
                         const eval_compare_method *b, column_fn col) {
    double pp[EVAL_CMP_MAXMETHODS] = {0};
    int who[EVAL_CMP_MAXMETHODS], k = 0;
    for (int i = 0; i < nm; i++) {
        t[i] = p[i] = adj[i] = NAN;
        if (&ms[i] == b || !b || ms[i].n == 0) continue;
        int nx, ny;
        const double *x = col(&ms[i], &nx), *y = col(b, &ny);
        eval_welch_result w;
        if (nx >= 2 && ny >= 2 && !eval_welch(x, nx, y, ny, &w, NULL)) {
            t[i] = w.t;
            p[i] = w.p;
        }
        pp[k] = p[i];
        who[k++] = i;
    }
    double aa[EVAL_CMP_MAXMETHODS];
    eval_holm(aa, pp, k);
    for (int j = 0; j < k; j++) adj[who[j]] = aa[j];
}

static void test_cells(FILE *f, const double *t, const double *p, const double *adj, int i) {
    if (isnan(t[i])) fputs(" | -", f);
    else fprintf(f, " | %.2f", t[i]);
    if (isnan(p[i])) fputs(" | -", f);
    else fprintf(f, " | %.2g [%.2g]", p[i], adj[i]);
}

/* the columns welch_column tests: values and their count */
static const double *col_test(const eval_compare_method *m, int *n) {
    *n = m->n;
    return m->test;
}
static const double *col_roll(const eval_compare_method *m, int *n) {
    *n = m->nroll;
    return m->roll;
}
static const double *col_test_loss(const eval_compare_method *m, int *n) {
    *n = m->n;
    return m->test_loss;
}
static const double *col_app_drop(const eval_compare_method *m, int *n) {
    *n = m->napp;
    return m->app_drop;
}
static const double *col_app_agree_su(const eval_compare_method *m, int *n) {
    *n = m->napp;
    return m->app_agree[0];
}

static void loss_table(FILE *f, const eval_compare_method *ms, int nm, const eval_compare_method *b, const char *base) {
    double t[EVAL_CMP_MAXMETHODS], p[EVAL_CMP_MAXMETHODS], adj[EVAL_CMP_MAXMETHODS];
    welch_column(t, p, adj, ms, nm, b, col_test_loss);
    fprintf(f,
            "\nLoss of the final runs: cross-entropy against the expert's action (nats; the KL divergence to a one-hot "
            "label) on the training and the test levels at best.ckpt; mean ± half-width of the 95%% t interval over "
            "seeds; Welch's t-test of test loss against %s (Holm-adjusted in brackets).\n\n",
            base);
    fputs("| method | seeds | train loss | test loss | t (test loss) | p |\n|---|---|---|---|---|---|\n", f);
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        fprintf(f, "| %s | %d | ", m->name, m->n);
        nats(f, m->train_loss, m->n);
        fputs(" | ", f);
        nats(f, m->test_loss, m->n);
        if (m->n && m != b && b) test_cells(f, t, p, adj, i);
        else fputs(" |  | ", f);
        fputs(" |\n", f);
    }
}

static void top_table(FILE *f, const eval_compare_method *ms, int nm) {
    int any = 0;
    for (int i = 0; i < nm; i++) any |= ms[i].top_wanted > 0;
    if (!any) return;
    fputs("\nThe paper's figure, ours: each study's N best trials ranked by their validation figure (finished and "
          "pruned trials alike, each at its best validation epoch: best.ckpt), evaluated once on the test levels; the "
          "mean and the lowest test loss over them, and their mean test accuracy. The paper took each trial's lowest "
          "test loss over its epochs, which selects on the test levels; this figure selects on validation only.\n\n",
          f);
    fputs("| study | N | trials counted | mean test loss | lowest test loss | mean test acc | validation figures |\n"
          "|---|---|---|---|---|---|---|\n",
          f);
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        if (!m->top_wanted) continue;
        fprintf(f, "| %s | %d | %d | ", m->name, m->top_wanted, m->ntop);
        if (!m->ntop) {
            fputs("- | - | - | - |\n", f);
            continue;
        }
        double sl = 0, sa = 0, lo = m->top_loss[0], vlo = m->top_val[0], vhi = m->top_val[0];
        for (int k = 0; k < m->ntop; k++) {
            sl += m->top_loss[k];
            sa += m->top_acc[k];
            if (m->top_loss[k] < lo) lo = m->top_loss[k];
            if (m->top_val[k] < vlo) vlo = m->top_val[k];
            if (m->top_val[k] > vhi) vhi = m->top_val[k];
        }
        fprintf(f, "%.4f | %.4f | %.1f | %s %.4g to %.4g |\n", sl / m->ntop, lo, 100 * sa / m->ntop,
                m->top_minimize ? "val_loss" : "val_acc", vlo, vhi);
    }
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        if (!m->top_again) continue;
        fprintf(f, "\n%s: %d of these trials were trained again here from the study's record (their checkpoints were "
                   "not on this machine), %d of them bit for bit", m->name, m->top_again, m->top_again_exact);
        if (m->top_again > m->top_again_exact + m->top_outside)
            fprintf(f, "; the others' per-epoch validation figures came back within %.2g of the study's, relative "
                       "(trained on another kind of CPU)", m->top_again_rel);
        if (m->top_outside) {
            fprintf(f, "; %d came back further apart than the tolerance of %.2g (", m->top_outside, m->top_outside_tol);
            for (int k = 0; k < m->top_outside; k++)
                fprintf(f, "%strial %d: %.2g", k ? ", " : "", m->top_outside_trial[k], m->top_outside_rel[k]);
            fputs("; the study ran on several kinds of CPU): their test figures are of the networks trained here, "
                  "with the study's configuration, not of the study's own",
                  f);
        }
        fputs(".\n", f);
    }
}

static void appearance_table(FILE *f, const eval_compare_method *ms, int nm, const eval_compare_method *b,
                             const char *base) {
    int any = 0;
    for (int i = 0; i < nm; i++) any |= ms[i].napp > 0;
    if (!any) return;
    double t[EVAL_CMP_MAXMETHODS], p[EVAL_CMP_MAXMETHODS], adj[EVAL_CMP_MAXMETHODS];
    double ta[EVAL_CMP_MAXMETHODS], pa[EVAL_CMP_MAXMETHODS], adja[EVAL_CMP_MAXMETHODS];
    welch_column(t, p, adj, ms, nm, b, col_app_drop);
    welch_column(ta, pa, adja, ms, nm, b, col_app_agree_su);
    fprintf(f,
            "\nAppearance probe (coinbc appearance, best.ckpt): closed-loop success in %% in the four cells of layout "
            "x look (seen = the training levels'), the drop from seen/seen to seen/unseen in points (memorized "
            "appearance), and offline agreement in %% with the decision on the original frame; mean ± half-width of "
            "the 95%% t interval over seeds; Welch's t-test of the drop and of the seen-layout, unseen-look agreement "
            "against %s (Holm-adjusted in brackets).\n\n",
            base);
    fputs("| method | seeds | seen/seen | seen/unseen | unseen/seen | unseen/unseen | drop | t (drop) | p | agree "
          "seen/unseen | t (agree) | p | agree unseen/seen | agree unseen/unseen |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        if (!m->napp) continue;
        fprintf(f, "| %s | %d", m->name, m->napp);
        for (int c = 0; c < 4; c++) {
            fputs(" | ", f);
            pct(f, m->app_play[c], m->napp);
        }
        fputs(" | ", f);
        pct(f, m->app_drop, m->napp);
        if (m != b && b) test_cells(f, t, p, adj, i);
        else fputs(" |  | ", f);
        for (int c = 0; c < 3; c++) {
            fputs(" | ", f);
            pct(f, m->app_agree[c], m->napp);
            if (c == 0 && m != b && b) test_cells(f, ta, pa, adja, i);
            else if (c == 0) fputs(" |  | ", f);
        }
        fputs(" |\n", f);
    }
}

/* the first cells of method m's final-runs row: name, seeds, accuracies,
 * gap and rollout success (a method without runs gets its whole row) */
static void final_cells(FILE *f, const eval_compare_method *m) {
    if (m->n == 0) {
        fprintf(f, "| %s | 0 | | | | | | | | |\n", m->name);
        return;
    }
    fprintf(f, "| %s | %d | ", m->name, m->n);
    pct(f, m->train, m->n);
    fputs(" | ", f);
    pct(f, m->test, m->n);
    fputs(" | ", f);
    pct(f, m->gap, m->n);
    fputs(" | ", f);
    pct(f, m->roll, m->nroll);
}

/* the final runs: every method with runs but the base tested per column
 * (test accuracy, rollout success) */
static void final_table(FILE *f, const eval_compare_method *ms, int nm, const eval_compare_method *b,
                        const char *base) {
    double t[2][EVAL_CMP_MAXMETHODS], p[2][EVAL_CMP_MAXMETHODS], adj[2][EVAL_CMP_MAXMETHODS];
    welch_column(t[0], p[0], adj[0], ms, nm, b, col_test);
    welch_column(t[1], p[1], adj[1], ms, nm, b, col_roll);
    fprintf(f,
            "Final runs: each method's configuration, one run per seed; mean ± half-width of the 95%% t interval "
            "over seeds; accuracy in %%, gap in points; Welch's t-test of test accuracy and of rollout success "
            "against %s (two-sided p; in brackets the p adjusted by Holm's method for the comparisons of the "
            "column).\n\n",
            base);
    fputs("| method | seeds | train acc | test acc | gap | rollout success | t (test acc) | p | t (rollout) | p |\n", f);
    fputs("|---|---|---|---|---|---|---|---|---|---|\n", f);
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        final_cells(f, m);
        if (m->n == 0) continue;
        if (m != b && b) {
            for (int c = 0; c < 2; c++) test_cells(f, t[c], p[c], adj[c], i);
            fputs(" |\n", f);
        } else {
            fputs(" |  |  |  |  |\n", f);
        }
    }
}

/* the methods' origins, one line each, after a blank line */
static void origins(FILE *f, const eval_compare_method *ms, int nm) {
    fputs("\n", f);
    for (int i = 0; i < nm; i++)
        if (ms[i].has_origin) fprintf(f, "- %s: %s\n", ms[i].name, ms[i].origin);
}

/* the memorization probe, if any method has probe runs */
static void probe_table(FILE *f, const eval_compare_method *ms, int nm) {
    int any = 0;
    for (int i = 0; i < nm; i++) any |= ms[i].nprobe > 0;
    if (!any) return;
    fputs("\nMemorization probe: trained on the training data with the labels of some levels replaced by uniform "
          "random actions (chance 1/15 = 6.7%), final weights; accuracy in % against the labels trained on (with "
          "several seeds: mean ± half-width of the 95% t interval).\n\n",
          f);
    fputs("| method | seeds | relabeled training levels | true-label training levels | test levels |\n", f);
    fputs("|---|---|---|---|---|\n", f);
    for (int i = 0; i < nm; i++) {
        const eval_compare_method *m = &ms[i];
        if (!m->nprobe) continue;
        fprintf(f, "| %s | %d |", m->name, m->nprobe);
        for (int k = 0; k < 3; k++) {
            fputc(' ', f);
            pct(f, m->probe[k], m->nprobe);
            fputs(" |", f);
        }
        fputc('\n', f);
    }
}

int eval_compare_table(FILE *f, const eval_compare_method *ms, int nm, const char *base, int loss, cb_err *e) {
    if (nm > EVAL_CMP_MAXMETHODS) return cb_fail(e, CB_EARG, "compare: at most %d methods", EVAL_CMP_MAXMETHODS);
    const eval_compare_method *b = NULL;
    for (int i = 0; i < nm; i++)
        if (!strcmp(ms[i].name, base)) b = &ms[i];
    final_table(f, ms, nm, b, base);
    origins(f, ms, nm);
    probe_table(f, ms, nm);
    if (loss) loss_table(f, ms, nm, b, base);
    top_table(f, ms, nm);
    appearance_table(f, ms, nm, b, base);
    if (ferror(f)) return cb_fail(e, CB_EIO, "compare: writing the table failed");
    return 0;
}
