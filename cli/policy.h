/* policy.h - shared by the eval and rollout commands: a checkpoint as an
 * eval_policy with one model copy per worker, and a pool of experts. */
#ifndef COINBC_CLI_POLICY_H
#define COINBC_CLI_POLICY_H

#include "eval/eval.h"
#include "model/model.h"

typedef struct {
    eval_policy policy;
    model *models;
    int n;
} cli_ckpt_policy;
int cli_ckpt_policy_open(cli_ckpt_policy *p, const char *path, int workers, cb_err *e);
/* The error for a missing RUN/best.ckpt (ckpt): says what RUN holds instead
 * (a run stopped before its first epoch ended, a pending commit, no run at
 * all) and what to do. Prints it; returns 1. */
int cli_no_checkpoint(const char *cmd, const char *run, const char *ckpt);
void cli_ckpt_policy_close(cli_ckpt_policy *p);

typedef struct {
    game_expert *ex;
    game_env *env;
    int n;
} cli_expert_pool;
int cli_expert_pool_open(cli_expert_pool *x, int workers, cb_err *e);
void cli_expert_pool_close(cli_expert_pool *x);
int cli_expert_level(void *self, int worker, int32_t seed, int mode, int episodes, eval_level_result *out, cb_err *e);
#endif
