/* app_variants.h - eval/'s private seam between the two parts of the
 * appearance probe (appearance.c, appearance_rollout.c, appearance_strip.c):
 * the same option checks, the same donor looks for a level and the same
 * states in all three. */
#ifndef COINBC_EVAL_APP_VARIANTS_H
#define COINBC_EVAL_APP_VARIANTS_H

#include "eval/eval.h"

/* CB_EARG with a one-line message for options the probe cannot run. */
int eval_app_check_opts(const eval_app_opts *o, cb_err *e);
/* The variant levels of L (r->seed, r->heldout set): var[0..nv) with look[v]
 * EVAL_APP_SEEN (held-out levels: K training levels' looks, first) or
 * EVAL_APP_UNSEEN (K unseen looks, when the sets have any); fills r's
 * donors. var has room for 2K levels. Returns nv >= 0 or a CB_E* code. */
int eval_app_variants(game_level *var, int *look, eval_app_level *r, const game_level *L, const eval_app_opts *o,
                      const game_appearance_sets *sets, cb_err *e);
/* One state of L's noisy expert play (appearance.c): renders it in the
 * level's look and in var[0..nv)'s into f (unless NULL), the expert's label
 * into *label, then steps env with it or, with probability eps, a random
 * action from noise (counted in *random). */
int eval_app_state(uint8_t *f, int *label, int64_t *random, game_env *env, const game_level *var, int nv,
                   game_expert *ex, cb_rng *noise, double eps, cb_err *e);

#endif
