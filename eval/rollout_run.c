/* rollout_run.c - coinbc rollout's work: a run's checkpoint plays levels in
 * the engine from its 64x64 frames, next to the expert and a uniformly
 * random policy on the same levels; the run's rollout.json and the film.
 * Under mpirun each rank plays its share of the levels (each level's RNG is
 * its own, so the split changes nothing) and rank 0 gathers. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ckpt_policy.h"
#include "run/run.h"

#define FILM_LEVELS 8
#define FILM_STEPS 200

typedef struct {
    int levels;                  /* the first `levels` levels are filmed */
    uint8_t *frames, *action;    /* levels x FILM_STEPS frames and actions */
    int len[FILM_LEVELS], outcome[FILM_LEVELS];
} film;

/* the film levels (the first f->levels) another rank played, to rank 0 */
static int gather_film(film *f, int n, cb_err *e) {
    int P = cb_dist_size(), me = cb_dist_rank(), rc = 0;
    for (int r = 1; r < P && !rc; r++) {
        if (me != r && me != 0) continue;
        int64_t lo, hi;
        cb_dist_share(n, r, P, &lo, &hi);
        if (hi > f->levels) hi = f->levels;
        if (hi <= lo) continue;
        size_t a = (size_t)lo, m = (size_t)(hi - lo);
        void *part[4] = {f->frames + a * FILM_STEPS * CB_FRAME_BYTES, f->action + a * FILM_STEPS, f->len + a,
                         f->outcome + a};
        size_t bytes[4] = {m * FILM_STEPS * CB_FRAME_BYTES, m * FILM_STEPS, m * sizeof(int), m * sizeof(int)};
        for (int j = 0; j < 4 && !rc; j++)
            rc = me == 0 ? cb_dist_recv(part[j], bytes[j], r, e) : cb_dist_send(part[j], bytes[j], 0, e);
    }
    return rc;
}

/* one of the three players (EVAL_AGENT_*) on this rank's share of the
 * levels, gathered on rank 0 into res[0..n) and summarized */
static int play(eval_rollout_summary *sum, eval_level_result *res, const int32_t *seeds, int n, int agent, film *f,
                eval_rollout_opts *o, cb_err *e) {
    static const char *const labels[3] = {"policy", "expert", "random"};
    o->agent = agent;
    o->label = labels[agent];
    int64_t lo, hi;
    cb_dist_share(n, cb_dist_rank(), cb_dist_size(), &lo, &hi);
    int flo = (int)lo, fhi = (int)(hi < f->levels ? hi : f->levels); /* the film levels in this share */
    o->film_levels = 0;
    if (agent == EVAL_AGENT_POLICY && fhi > flo) {
        o->film_levels = fhi - flo;
        o->film_steps = FILM_STEPS;
        o->film = f->frames + (size_t)flo * FILM_STEPS * CB_FRAME_BYTES;
        o->film_action = f->action + (size_t)flo * FILM_STEPS;
        o->film_len = f->len + flo;
        o->film_outcome = f->outcome + flo;
    }
    int rc = hi > lo ? eval_rollout(res + lo, seeds + lo, (int)(hi - lo), o, e) : 0;
    if (!rc) rc = cb_dist_gather_shares(res, sizeof *res, n, e);
    if (!rc && agent == EVAL_AGENT_POLICY && f->levels) rc = gather_film(f, n, e);
    if (!rc && cb_dist_rank() == 0) eval_rollout_summarize(sum, res, n); /* the others hold only their share */
    return rc;
}

/* rollout.json on rank 0, then the film */
static int write_records(eval_rollout_run_result *r, const int32_t *seeds, const film *f,
                         const eval_rollout_run_opts *o, cb_err *e) {
    const eval_rollout_summary *s = r->who;
    run_rollout rec = {.level_lo = o->lo, .level_hi = o->hi, .hard = o->mode != GAME_EASY,
                       .episodes_per_level = o->episodes, .sample = o->sample, .episodes = s[0].episodes,
                       .success = s[0].success, .success_lo = s[0].success_lo, .success_hi = s[0].success_hi,
                       .death_rate = s[0].death_rate, .timeout_rate = s[0].timeout_rate,
                       .mean_steps_to_coin = s[0].mean_steps_to_coin, .expert_success = s[1].success,
                       .expert_mean_steps_to_coin = s[1].mean_steps_to_coin, .random_success = s[2].success,
                       .random_success_lo = s[2].success_lo, .random_success_hi = s[2].success_hi};
    snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", o->checkpoint);
    run_text js = {0};
    int rc = run_rollout_encode(&js, &rec, e);
    if (!rc) rc = run_rollout_write(o->run, &rec, e);
    if (rc) return run_text_free(&js), rc;
    r->json = js.s; /* the result owns the text now */
    if (!f->levels) return 0;
    return eval_film_write(o->film, seeds, f->levels, f->frames, f->action, f->len, f->outcome, FILM_STEPS, 10, e);
}

int eval_rollout_run(eval_rollout_run_result *r, const eval_rollout_run_opts *o, cb_err *e) {
    memset(r, 0, sizeof *r);
    eval_ckpt_policy pol;
    int rc = eval_ckpt_policy_open(&pol, o->checkpoint, o->threads, e);
    if (rc) return rc == CB_ENOTFOUND ? eval_no_checkpoint(e, o->run, o->checkpoint) : rc;
    eval_expert_pool xp;
    if ((rc = eval_expert_pool_open(&xp, o->threads, e))) {
        eval_ckpt_policy_close(&pol);
        return rc;
    }
    if (o->threads > 1) openblas_set_num_threads(1); /* parallel over levels instead */
    int n = (int)((int64_t)o->hi - o->lo + 1);
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)n);
    eval_level_result *res = malloc(sizeof(eval_level_result) * (size_t)n * 3);
    film f = {.levels = o->film ? (n < FILM_LEVELS ? n : FILM_LEVELS) : 0};
    if (f.levels) {
        f.frames = malloc((size_t)f.levels * FILM_STEPS * CB_FRAME_BYTES);
        f.action = malloc((size_t)f.levels * FILM_STEPS);
    }
    if (!seeds || !res || (f.levels && (!f.frames || !f.action))) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < n; i++) seeds[i] = o->lo + i;
    eval_rollout_opts ro = {.policy = &pol.policy, .expert_level = eval_expert_level, .expert_self = &xp,
                            .mode = o->mode, .episodes = o->episodes, .sample = o->sample, .seed = o->seed,
                            .threads = o->threads, .quiet = o->quiet};
    for (int k = 0; k < 3 && !rc; k++) rc = play(&r->who[k], res + (size_t)k * n, seeds, n, k, &f, &ro, e);
    if (!rc && cb_dist_rank() == 0) rc = write_records(r, seeds, &f, o, e);
    free(seeds);
    free(res);
    free(f.frames);
    free(f.action);
    eval_expert_pool_close(&xp);
    eval_ckpt_policy_close(&pol);
    return rc;
}

void eval_rollout_run_free(eval_rollout_run_result *r) {
    free(r->json);
    r->json = NULL;
}
