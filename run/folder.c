/* folder.c - reads everything train wrote into a run folder and checks that
 * the pieces belong together (run_folder_verify). */
#include <string.h>
#include <unistd.h>

#include "run/run.h"

static int ckpt_state(const char *dir, const char *name, int *has, int64_t *step, int64_t *epoch, model_net_desc *cfg,
                      int64_t *spe, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    model m;
    model_ckpt_state st;
    int rc = model_load(&m, &st, path, e);
    if (rc == CB_ENOTFOUND) return 0;
    if (rc) return rc;
    *has = 1;
    *step = st.step;
    *epoch = st.epoch;
    *cfg = m.cfg;
    *spe = st.steps_per_epoch;
    model_free(&m);
    return 0;
}

int run_folder_verify(run_folder *f, const char *dir, cb_err *e) {
    memset(f, 0, sizeof *f);
    char path[4200];
    snprintf(path, sizeof path, "%s/commit.json", dir);
    if (access(path, F_OK) == 0) {
        f->pending_commit = 1;
        return cb_fail(e, CB_EFORMAT, "%s: an epoch commit is pending (the last train was interrupted while writing); "
                                      "coinbc train --resume finishes it", path);
    }
    int rc = run_config_read(&f->config, dir, e);
    if (rc && rc != CB_ENOTFOUND) return rc;
    f->has_config = !rc;
    run_metrics m;
    rc = run_metrics_read(&m, dir, e);
    if (rc && rc != CB_ENOTFOUND) return rc;
    f->metrics_rows = rc ? 0 : m.nrows;
    int have_metrics = !rc;
    if (!rc) run_metrics_free(&m);
    model_net_desc lc, bc;
    int64_t lspe = 0, bspe = 0;
    if ((rc = ckpt_state(dir, "latest.ckpt", &f->has_latest, &f->latest_step, &f->latest_epoch, &lc, &lspe, e)) ||
        (rc = ckpt_state(dir, "best.ckpt", &f->has_best, &f->best_step, &f->best_epoch, &bc, &bspe, e)))
        return rc;
    if (!f->has_config && !have_metrics && !f->has_latest && !f->has_best)
        return cb_fail(e, CB_ENOTFOUND, "%s: not a run folder (no config.json, metrics or checkpoints)", dir);
    if (f->has_latest && f->latest_epoch != f->metrics_rows)
        return cb_fail(e, CB_EFORMAT, "%s: latest.ckpt is at epoch %lld but the metrics hold %d epochs: the run folder is "
                       "inconsistent", dir, (long long)f->latest_epoch, f->metrics_rows);
    if ((f->has_latest || have_metrics) && !f->has_config)
        return cb_fail(e, CB_EFORMAT, "%s: checkpoints or metrics without config.json", dir);
    if (f->has_best && !f->has_latest)
        return cb_fail(e, CB_EFORMAT, "%s: best.ckpt without latest.ckpt", dir);
    if (f->has_best && (f->best_step > f->latest_step || f->best_epoch > f->latest_epoch))
        return cb_fail(e, CB_EFORMAT, "%s: best.ckpt (step %lld) is newer than latest.ckpt (step %lld)", dir,
                       (long long)f->best_step, (long long)f->latest_step);
    if (f->has_latest && f->has_config) {
        if (memcmp(&lc, &f->config.net, sizeof lc))
            return cb_fail(e, CB_EFORMAT, "%s: latest.ckpt holds another network than config.json names", dir);
        if (lspe && lspe != f->config.steps_per_epoch)
            return cb_fail(e, CB_EFORMAT, "%s: latest.ckpt was trained with %lld steps per epoch, config.json says %lld",
                           dir, (long long)lspe, (long long)f->config.steps_per_epoch);
    }
    run_agreement ag;
    rc = run_agreement_read(&ag, dir, e);
    if (rc && rc != CB_ENOTFOUND) return rc;
    if (!rc) {
        f->agreement_snaps = ag.nsnaps;
        int64_t last = ag.nsnaps ? ag.snaps[ag.nsnaps - 1].step : 0;
        run_agreement_free(&ag);
        if (!f->has_latest || last > f->latest_step)
            return cb_fail(e, CB_EFORMAT, "%s: agreement.json reaches step %lld, latest.ckpt %s: the run folder is "
                           "inconsistent", dir, (long long)last, f->has_latest ? "less far" : "is missing");
    }
    return 0;
}
