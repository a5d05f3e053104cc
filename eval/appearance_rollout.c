/* appearance_rollout.c - the appearance probe, closed loop:
 * greedy play of the training and held-out levels in their own looks and in
 * the other looks the offline probe gives them (eval_app_variants), in four
 * cells of layout x look. Each (level, look) is one episode of
 * eval_rollout, which plays them in fixed chunks of 8 in lockstep, so the
 * result depends neither on the thread count nor on how the episodes are
 * split between processes. */
#include <stdlib.h>
#include <string.h>

#include "eval/app_variants.h"
#include "eval/eval.h"

int eval_appearance_episodes(eval_app_episode **eps, int64_t *n, game_appearance_sets *sets, const eval_app_opts *o,
                             cb_err *e) {
    *eps = NULL;
    *n = 0;
    int rc = eval_app_check_opts(o, e);
    if (rc) return rc;
    if ((rc = game_appearance_sets_build(sets, o->train, o->ntrain, o->mode, e))) return rc;
    int nl = o->ntrain + o->nheldout, K = o->donors;
    eval_app_episode *v = malloc(sizeof *v * (size_t)nl * (size_t)(1 + K));
    game_level *L = malloc(sizeof *L), *var = malloc(sizeof *var * (size_t)(2 * K));
    int64_t m = 0;
    if (!v || !L || !var) {
        rc = cb_fail(e, CB_ENOMEM, "appearance probe: out of memory for the closed loop's %d levels", nl);
        goto out;
    }
    for (int i = 0; i < nl; i++) {
        eval_app_level r = {.heldout = i >= o->ntrain};
        r.seed = r.heldout ? o->heldout[i - o->ntrain] : o->train[i];
        int look[2 * EVAL_APP_MAX_DONORS];
        int nv = (rc = game_level_generate(L, NULL, r.seed, o->mode, e)) ? rc
                                                                        : eval_app_variants(var, look, &r, L, o, sets, e);
        if (nv < 0) {
            rc = nv;
            cb_err_prefix(e, "appearance probe, closed loop: level %d (%s): ", r.seed, game_mode_name(o->mode));
            goto out;
        }
        eval_app_episode *own = &v[m++];
        own->seed = r.seed;
        own->cell = r.heldout ? EVAL_APP_UU : EVAL_APP_SS;
        own->donor = -1;
        game_level_get_appearance(&own->look, L);
        /* the other look: seen looks for held-out layouts, unseen ones for training layouts */
        int want = r.heldout ? EVAL_APP_SEEN : EVAL_APP_UNSEEN, k = 0;
        for (int j = 0; j < nv; j++) {
            if (look[j] != want) continue;
            eval_app_episode *p = &v[m++];
            p->seed = r.seed;
            p->cell = r.heldout ? EVAL_APP_US : EVAL_APP_SU;
            p->donor = k++;
            game_level_get_appearance(&p->look, &var[j]);
        }
    }
    *eps = v;
    *n = m;
    v = NULL;
    rc = 0;
out:
    free(v);
    free(L);
    free(var);
    return rc;
}

int eval_appearance_play(eval_level_result *out, const eval_app_episode *eps, int64_t n, const eval_app_opts *o,
                         cb_err *e) {
    if (n <= 0) return 0;
    if (n > INT32_MAX)
        return cb_fail(e, CB_EARG, "appearance probe, closed loop: %lld episodes at once (at most %d)", (long long)n,
                       INT32_MAX);
    int32_t *seeds = malloc(sizeof *seeds * (size_t)n);
    game_appearance *looks = malloc(sizeof *looks * (size_t)n);
    int rc;
    if (!seeds || !looks) {
        rc = cb_fail(e, CB_ENOMEM, "appearance probe, closed loop: out of memory for %lld episodes", (long long)n);
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        seeds[i] = eps[i].seed;
        looks[i] = eps[i].look;
    }
    eval_rollout_opts ro = {.agent = EVAL_AGENT_POLICY, .policy = o->policy, .mode = o->mode, .episodes = 1,
                            .sample = 0, .seed = o->seed, .threads = o->threads, .quiet = 1,
                            .label = "appearance", .looks = looks};
    rc = eval_rollout(out, seeds, (int)n, &ro, e);
    if (rc) cb_err_prefix(e, "appearance probe, closed loop: ");
out:
    free(seeds);
    free(looks);
    return rc;
}

void eval_appearance_play_sum(eval_app_play cell[EVAL_APP_NPLAY], const eval_app_episode *eps,
                              const eval_level_result *res, int64_t n) {
    memset(cell, 0, sizeof(eval_app_play) * EVAL_APP_NPLAY);
    for (int64_t i = 0; i < n; i++) {
        eval_app_play *c = &cell[eps[i].cell];
        c->episodes += res[i].episodes;
        c->coins += res[i].coins;
        c->deaths += res[i].deaths;
        c->timeouts += res[i].timeouts;
    }
    for (int k = 0; k < EVAL_APP_NPLAY; k++) {
        eval_app_play *c = &cell[k];
        if (c->episodes == 0) continue;
        c->success = (double)c->coins / (double)c->episodes;
        eval_wilson(c->coins, c->episodes, &c->lo, &c->hi);
    }
}
