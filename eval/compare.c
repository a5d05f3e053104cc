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
        run_rollout ro;
        rc = run_rollout_read(&ro, dir, e);
        if (rc && rc != CB_ENOTFOUND) return rc;
        if (!rc) out->roll[out->nroll++] = ro.success;
    }
    if (out->nroll && out->nroll != out->n)
        return cb_fail(e, CB_EFORMAT, "%s/runs: some runs of %s have rollout.json and some do not", state, method);
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

/* "m ± h" in percent, or "m" without an interval (one value) */
static void pct(FILE *f, const double *x, int n) {
    if (n == 0) {
        fputs("-", f);
        return;
    }
    double m, h;
    eval_mean_ci_t(x, n, &m, &h);
    if (n < 2) fprintf(f, "%.1f", 100 * m);
    else fprintf(f, "%.1f ± %.1f", 100 * m, 100 * h);
}

int eval_compare_table(FILE *f, const eval_compare_method *ms, int nm, const char *base, cb_err *e) {
    if (nm > EVAL_CMP_MAXMETHODS) return cb_fail(e, CB_EARG, "compare: at most %d methods", EVAL_CMP_MAXMETHODS);
    const eval_compare_method *b = NULL;
    for (int i = 0; i < nm; i++)
        if (!strcmp(ms[i].name, base)) b = &ms[i];
    /* the tests: every method with runs but the base, per column (test accuracy, rollout) */
    int tested[EVAL_CMP_MAXMETHODS] = {0};
    double t[2][EVAL_CMP_MAXMETHODS], p[2][EVAL_CMP_MAXMETHODS], adj[2][EVAL_CMP_MAXMETHODS];
    for (int c = 0; c < 2; c++) {
        double pp[EVAL_CMP_MAXMETHODS] = {0};
        int who[EVAL_CMP_MAXMETHODS], k = 0;
        for (int i = 0; i < nm; i++) {
            t[c][i] = p[c][i] = adj[c][i] = NAN;
            if (&ms[i] == b || !b || ms[i].n == 0) continue;
            tested[i] = 1;
            const double *x = c ? ms[i].roll : ms[i].test, *y = c ? b->roll : b->test;
            int nx = c ? ms[i].nroll : ms[i].n, ny = c ? b->nroll : b->n;
            eval_welch_result w;
            if (nx >= 2 && ny >= 2 && !eval_welch(x, nx, y, ny, &w, NULL)) {
                t[c][i] = w.t;
                p[c][i] = w.p;
            }
            pp[k] = p[c][i];
            who[k++] = i;
        }
        double aa[EVAL_CMP_MAXMETHODS];
        eval_holm(aa, pp, k);
        for (int j = 0; j < k; j++) adj[c][who[j]] = aa[j];
    }
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
        if (m->n == 0) {
            fprintf(f, "| %s | 0 | | | | | | | | |\n", m->name);
            continue;
        }
        fprintf(f, "| %s | %d | ", m->name, m->n);
        pct(f, m->train, m->n);
        fputs(" | ", f);
        pct(f, m->test, m->n);
        fputs(" | ", f);
        pct(f, m->gap, m->n);
        fputs(" | ", f);
        pct(f, m->roll, m->nroll);
        if (tested[i]) {
            for (int c = 0; c < 2; c++) {
                if (isnan(t[c][i])) fputs(" | -", f);
                else fprintf(f, " | %.2f", t[c][i]);
                if (isnan(p[c][i])) fputs(" | -", f);
                else fprintf(f, " | %.2g [%.2g]", p[c][i], adj[c][i]);
            }
            fputs(" |\n", f);
        } else {
            fputs(" |  |  |  |  |\n", f);
        }
    }
    fputs("\n", f);
    for (int i = 0; i < nm; i++)
        if (ms[i].has_origin) fprintf(f, "- %s: %s\n", ms[i].name, ms[i].origin);
    int any_probe = 0;
    for (int i = 0; i < nm; i++) any_probe |= ms[i].nprobe > 0;
    if (any_probe) {
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
    if (ferror(f)) return cb_fail(e, CB_EIO, "compare: writing the table failed");
    return 0;
}
