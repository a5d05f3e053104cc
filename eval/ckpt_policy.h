/* ckpt_policy.h - eval/'s private seam for the commands' entry points
 * (accuracy_run.c, rollout_run.c, appearance_run.c): a checkpoint as an
 * eval_policy with one model copy per worker, a pool of experts as a
 * rollout player, and the error for a run folder without its checkpoint. */
#ifndef COINBC_EVAL_CKPT_POLICY_H
#define COINBC_EVAL_CKPT_POLICY_H

#include "eval/eval.h"
#include "model/model.h"

typedef struct {
    eval_policy policy;
    model *models;
    int n;
} eval_ckpt_policy;
/* Loads path once per worker (one compute thread per copy when workers > 1).
 * A missing checkpoint is CB_ENOTFOUND (see eval_no_checkpoint). */
int eval_ckpt_policy_open(eval_ckpt_policy *p, const char *path, int workers, cb_err *e);
void eval_ckpt_policy_close(eval_ckpt_policy *p);
/* The error for a missing RUN/best.ckpt (ckpt) into e (CB_ENOTFOUND): says
 * what RUN holds instead (a run stopped before its first epoch ended, a
 * pending commit, no run at all) and what to do. Returns e->code. */
int eval_no_checkpoint(cb_err *e, const char *run, const char *ckpt);

typedef struct {
    game_expert *ex;
    game_env *env;
    int n;
} eval_expert_pool;
int eval_expert_pool_open(eval_expert_pool *x, int workers, cb_err *e);
void eval_expert_pool_close(eval_expert_pool *x);
/* eval_rollout_opts.expert_level over a pool (self) */
int eval_expert_level(void *self, int worker, int32_t seed, int mode, int episodes, eval_level_result *out, cb_err *e);
#endif
