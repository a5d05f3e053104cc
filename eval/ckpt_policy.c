/* ckpt_policy.c - what the eval, rollout and appearance entry points share:
 * a trained checkpoint as an eval_policy (one model copy per worker thread),
 * the expert as a rollout player, and the missing-checkpoint error. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ckpt_policy.h"
#include "run/run.h"

static int ckpt_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    eval_ckpt_policy *p = self;
    model *m = &p->models[worker];
    /* the rollout asks for one chunk of levels (8 frames) at a time: a small
     * inference batch keeps each worker's model copy small */
    if (m->batch < 1) {
        int rc = model_set_batch(m, 64, e);
        if (rc) return rc;
    }
    model_predict_io io = {.probs = probs};
    return model_predict(m, frames, n, &io, e);
}

int eval_ckpt_policy_open(eval_ckpt_policy *p, const char *path, int workers, cb_err *e) {
    memset(p, 0, sizeof *p);
    p->models = calloc((size_t)workers, sizeof *p->models);
    if (!p->models) return cb_fail(e, CB_ENOMEM, "out of memory");
    for (int w = 0; w < workers; w++) {
        model_ckpt_state st;
        int rc = model_load(&p->models[w], &st, path, e);
        if (rc) {
            eval_ckpt_policy_close(p);
            return rc;
        }
        /* the rollout runs one level chunk per worker: one compute thread per copy */
        if (workers > 1) model_set_threads(&p->models[w], 1);
        p->n++;
    }
    p->policy.self = p;
    p->policy.probs = ckpt_probs;
    return 0;
}

void eval_ckpt_policy_close(eval_ckpt_policy *p) {
    for (int w = 0; w < p->n; w++) model_free(&p->models[w]);
    free(p->models);
    memset(p, 0, sizeof *p);
}

/* plays a level's episodes with the expert (deterministic, so every episode
 * from the reset state is the same one, played anyway) */
int eval_expert_level(void *self, int worker, int32_t seed, int mode, int episodes, eval_level_result *out, cb_err *e) {
    eval_expert_pool *x = self;
    game_expert *ex = &x->ex[worker];
    game_env *env = &x->env[worker];
    memset(out, 0, sizeof *out);
    out->seed = seed;
    int rc = game_env_init(env, seed, mode, e);
    if (rc) return rc;
    game_expert_reset(ex);
    int t = 0;
    while (out->episodes < episodes) {
        int a;
        cb_err xe;
        int xrc = game_expert_act(ex, &env->level, &env->state, &a, &xe);
        if (xrc == CB_EARG || xrc == CB_ENOMEM) return cb_fail(e, xrc, "%s", xe.msg);
        game_step_out so;
        game_env_step(env, a, &so);
        t++;
        out->steps++;
        if (so.done) {
            out->episodes++;
            if (so.outcome == GAME_COIN) {
                out->coins++;
                out->steps_to_coin += t;
            } else if (so.outcome == GAME_DEATH) {
                out->deaths++;
            } else {
                out->timeouts++;
            }
            t = 0;
        }
    }
    return 0;
}

int eval_expert_pool_open(eval_expert_pool *x, int workers, cb_err *e) {
    memset(x, 0, sizeof *x);
    x->ex = calloc((size_t)workers, sizeof *x->ex);
    x->env = calloc((size_t)workers, sizeof *x->env);
    if (!x->ex || !x->env) {
        free(x->ex);
        free(x->env);
        return cb_fail(e, CB_ENOMEM, "out of memory");
    }
    for (int w = 0; w < workers; w++) {
        int rc = game_expert_init(&x->ex[w], NULL, e);
        if (rc) {
            x->n = w;
            eval_expert_pool_close(x);
            return rc;
        }
    }
    x->n = workers;
    return 0;
}

void eval_expert_pool_close(eval_expert_pool *x) {
    for (int w = 0; w < x->n; w++) game_expert_free(&x->ex[w]);
    free(x->ex);
    free(x->env);
    memset(x, 0, sizeof *x);
}

int eval_no_checkpoint(cb_err *e, const char *run, const char *ckpt) {
    run_folder f;
    cb_err fe = {0};
    int rc = run_folder_verify(&f, run, &fe);
    if (f.pending_commit) return cb_fail(e, CB_ENOTFOUND, "%s: no checkpoint; %s", ckpt, fe.msg);
    if (rc == CB_ENOTFOUND || (!f.has_latest && !f.has_config))
        return cb_fail(e, CB_ENOTFOUND, "%s: no checkpoint (is %s a run folder made by coinbc train?)", ckpt, run);
    if (rc)
        return cb_fail(e, CB_ENOTFOUND, "%s: no checkpoint, and the run folder does not read: %s", ckpt, fe.msg);
    if (f.has_latest && !f.has_best)
        return cb_fail(e, CB_ENOTFOUND, "%s: no best.ckpt yet: the run stopped at step %lld, before an epoch %s; "
                                        "continue it with coinbc train --resume -o %s, or pass --checkpoint "
                                        "%s/latest.ckpt", ckpt, (long long)f.latest_step,
                       f.latest_epoch ? "set a new best" : "ended", run, run);
    return cb_fail(e, CB_ENOTFOUND, "%s: no checkpoint (%s holds no latest.ckpt: no epoch of its run has completed)",
                   ckpt, run);
}
