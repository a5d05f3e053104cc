/* tune_table.c - the plain table coinbc report prints for tune folders: per
 * study its trials by state and its best trial (trials.csv through run/). */
#include <math.h>

#include "eval/eval.h"
#include "run/run.h"

int eval_tune_table(FILE *f, const char *const *dirs, int n, cb_err *e) {
    fprintf(f, "%-40s %8s %8s %6s %6s %10s\n", "study", "complete", "pruned", "failed", "best#", "best value");
    for (int i = 0; i < n; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/trials.csv", dirs[i]);
        run_tune_result r;
        int rc = run_tune_trials_read(&r, p, e);
        if (rc) return rc;
        int cnt[3] = {0, 0, 0}, best = -1;
        for (int t = 0; t < r.ntrials; t++) {
            const run_tune_trial *tr = &r.trials[t];
            if (tr->state >= 0 && tr->state < 3) cnt[tr->state]++;
            if (tr->state == RUN_TUNE_COMPLETE && !isnan(tr->value) && (best < 0 || tr->value > r.trials[best].value))
                best = t;
        }
        if (best >= 0)
            fprintf(f, "%-40s %8d %8d %6d %6d %10.4f\n", dirs[i], cnt[0], cnt[1], cnt[2], r.trials[best].number,
                    r.trials[best].value);
        else
            fprintf(f, "%-40s %8d %8d %6d %6s %10s\n", dirs[i], cnt[0], cnt[1], cnt[2], "-", "-");
        run_tune_result_free(&r);
    }
    return 0;
}
