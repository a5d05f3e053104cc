/* appearance_run.c - coinbc appearance's work: the run's training levels
 * (RUN/config.json and its training dataset's manifest), the probe offline
 * (eval_appearance_offline, eval/appearance.c) and in the closed loop
 * (eval_appearance_episodes / _play, eval/appearance_rollout.c), and
 * appearance.json. Under mpirun each rank probes its share of the levels
 * and plays its share of the episodes (every level and episode has its own
 * RNG, so the split changes nothing), and rank 0 gathers them. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "eval/ckpt_policy.h"
#include "run/run.h"

/* the levels of r in config.json's range into seeds[0..*n), and their mode */
static int levels_in_range(int32_t *seeds, int *n, int *dmode, ds_reader *r, const run_config *cfg, cb_err *e) {
    int m = 0;
    *dmode = -1;
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < cfg->train_seed_lo || s > cfg->train_seed_hi) continue;
        seeds[m++] = s;
        int lm = ds_level_entry(r, i)->mode;
        if (lm >= 0 && *dmode < 0) *dmode = lm;
        if (lm >= 0 && lm != *dmode) return cb_fail(e, CB_EFORMAT, "%s: the training levels mix easy and hard mode", cfg->data);
    }
    if (m == 0)
        return cb_fail(e, CB_ENOTFOUND, "%s: none of the run's training levels (%d-%d, config.json) is in the dataset",
                       cfg->data, cfg->train_seed_lo, cfg->train_seed_hi);
    *n = m;
    return 0;
}

int eval_appearance_levels(int32_t **seeds, int *n, int *mode, const char *run, int32_t lo, int32_t hi, cb_err *e) {
    *seeds = NULL;
    run_config cfg;
    int rc = run_config_read(&cfg, run, e);
    if (rc == CB_ENOTFOUND)
        return cb_fail(e, rc, "%s: no config.json, so the run's training levels are unknown (is it a run folder made "
                              "by coinbc train?)", run);
    if (rc) return rc;
    if (!cfg.has_data)
        return cb_fail(e, CB_EFORMAT, "%s/config.json names no training data, so the run's training levels are unknown",
                       run);
    ds_reader *r;
    if ((rc = ds_open(&r, cfg.data, e))) return cb_err_prefix(e, "the training levels of %s cannot be found: ", run);
    int m = 0, dmode;
    if (!(*seeds = malloc(sizeof **seeds * (size_t)(ds_nlevels(r) ? ds_nlevels(r) : 1)))) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    if (!rc) rc = levels_in_range(*seeds, &m, &dmode, r, &cfg, e);
    ds_close(r);
    if (rc) return rc;
    if (*mode >= 0 && dmode >= 0 && *mode != dmode)
        return cb_fail(e, CB_EARG, "--mode %s, but the run's training levels are %s mode", game_mode_name(*mode),
                       game_mode_name(dmode));
    if (*mode < 0 && dmode < 0)
        return cb_fail(e, CB_EARG, "%s does not say which mode its levels are; give --mode easy|hard", cfg.data);
    if (*mode < 0) *mode = dmode;
    *n = m;
    for (int i = 0; i < m; i++)
        if ((*seeds)[i] >= lo && (*seeds)[i] <= hi)
            return cb_fail(e, CB_EARG, "--levels %d-%d overlap the run's training levels (level %d); give held-out levels",
                           lo, hi, (*seeds)[i]);
    return 0;
}

/* appearance.json from the sums, checked by run/'s own reader before it is
 * written, and the strip of example frames beside it (it lists the strip's states) */
static int write_record(eval_appearance_run_result *r, const eval_appearance_run_opts *o, const eval_app_opts *ao,
                        cb_err *e) {
    const game_appearance_sets *s = &r->sets;
    run_appearance rec = {.hard = o->mode == GAME_HARD, .level_lo = o->lo, .level_hi = o->hi,
                          .train_levels = s->nlevels, .states_per_level = o->states, .noise = o->noise, .seed = o->seed,
                          .donors = o->donors, .seen_backgrounds = s->nbg_seen, .seen_pairs = s->npair_seen,
                          .seen_looks = s->ntriple_seen, .unseen_backgrounds = s->nbg_unseen,
                          .unseen_pairs = s->npair_unseen, .unseen_looks = s->nunseen};
    snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", o->checkpoint);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            const eval_app_cell *c = &r->cell[l][k];
            rec.cell[l][k] = (run_app_cell){c->n, c->correct, c->agree, c->kl};
        }
    _Static_assert((int)RUN_APP_SS == (int)EVAL_APP_SS && (int)RUN_APP_SU == (int)EVAL_APP_SU &&
                       (int)RUN_APP_US == (int)EVAL_APP_US && (int)RUN_APP_UU == (int)EVAL_APP_UU &&
                       (int)RUN_APP_PLAYS == (int)EVAL_APP_NPLAY && RUN_APP_LOOKS == EVAL_APP_NLOOKS,
                   "the record's cells are eval's");
    for (int k = 0; k < EVAL_APP_NPLAY; k++) {
        const eval_app_play *p = &r->play[k];
        rec.play[k] = (run_app_play){p->episodes, p->coins, p->deaths, p->timeouts, p->success, p->lo, p->hi};
    }
    run_text js = {0};
    run_appearance back;
    int rc = eval_appearance_strip_save(&rec, o->out, ao, s, e);
    if (!rc) rc = run_appearance_encode(&js, &rec, e);
    if (!rc) rc = run_appearance_decode(&back, js.s, js.len, o->out, e);
    if (!rc) rc = cb_write_file_atomic(o->out, js.s, js.len, e);
    if (rc) return run_text_free(&js), rc;
    r->json = js.s; /* the result owns the text now */
    return 0;
}

/* the offline probe of this rank's share of the levels, gathered on rank 0 */
static int offline(eval_appearance_run_result *r, eval_app_level *res, int nlev, eval_app_opts *ao, cb_err *e) {
    int64_t lo, hi;
    cb_dist_share(nlev, cb_dist_rank(), cb_dist_size(), &lo, &hi);
    ao->has_part = cb_dist_size() > 1, ao->part_lo = lo, ao->part_hi = hi;
    int rc = eval_appearance_offline(res, &r->sets, ao, e);
    if (!rc) rc = cb_dist_gather_shares(res, sizeof *res, nlev, e);
    ao->has_part = 0;
    return rc;
}

/* the closed loop: this rank's share of the episodes, gathered on rank 0 */
static int closed_loop(eval_app_episode **eps, eval_level_result **played, eval_appearance_run_result *r,
                       const eval_app_opts *ao, cb_err *e) {
    int rc = eval_appearance_episodes(eps, &r->episodes, &r->sets, ao, e);
    if (rc) return rc;
    if (!(*played = malloc(sizeof **played * (size_t)(r->episodes ? r->episodes : 1))))
        return cb_fail(e, CB_ENOMEM, "out of memory");
    int64_t lo, hi;
    cb_dist_share(r->episodes, cb_dist_rank(), cb_dist_size(), &lo, &hi);
    rc = eval_appearance_play(*played + lo, *eps + lo, hi - lo, ao, e);
    return rc ? rc : cb_dist_gather_shares(*played, sizeof **played, r->episodes, e);
}

int eval_appearance_run(eval_appearance_run_result *r, const eval_appearance_run_opts *o, cb_err *e) {
    memset(r, 0, sizeof *r);
    eval_ckpt_policy pol;
    int rc = eval_ckpt_policy_open(&pol, o->checkpoint, o->threads, e);
    if (rc == CB_ENOTFOUND) return eval_no_checkpoint(e, o->run, o->checkpoint);
    if (rc) return rc;
    if (o->threads > 1) openblas_set_num_threads(1); /* parallel over levels instead */
    int nheld = (int)((int64_t)o->hi - o->lo + 1), nlev = o->ntrain + nheld;
    int32_t *held = malloc(sizeof *held * (size_t)nheld);
    eval_app_level *res = malloc(sizeof *res * (size_t)nlev);
    eval_app_episode *eps = NULL;
    eval_level_result *played = NULL;
    if (!held || !res) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < nheld; i++) held[i] = o->lo + i;
    eval_app_opts ao = {.policy = &pol.policy, .mode = o->mode, .train = o->train, .ntrain = o->ntrain,
                        .heldout = held, .nheldout = nheld, .states = o->states, .noise = o->noise,
                        .seed = (uint64_t)o->seed, .donors = o->donors, .threads = o->threads};
    double t0 = cb_now(), t1 = t0;
    if (!rc) rc = offline(r, res, nlev, &ao, e);
    if (!rc) {
        t1 = cb_now();
        rc = closed_loop(&eps, &played, r, &ao, e);
    }
    r->offline_s = t1 - t0;
    r->closed_s = cb_now() - t1;
    if (!rc && cb_dist_rank() == 0) { /* rank 0 writes; the others hold only their share */
        eval_appearance_play_sum(r->play, eps, played, r->episodes);
        eval_appearance_sum(r->cell, res, nlev);
        for (int64_t i = 0; i < r->episodes; i++) r->steps += played[i].steps;
        rc = write_record(r, o, &ao, e);
    }
    free(eps);
    free(played);
    free(held);
    free(res);
    eval_ckpt_policy_close(&pol);
    return rc;
}

void eval_appearance_run_free(eval_appearance_run_result *r) {
    free(r->json);
    r->json = NULL;
}
