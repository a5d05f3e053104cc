/* appearance.c - the appearance probe, offline: the same states,
 * rendered in a level's own look and in other looks, through the policy.
 * One task per level; each fills its own slot, so nothing depends on the
 * thread count. Per level: expert play with noise as `coinbc record` plays,
 * K variant levels that differ from the original only in their look
 * (game_level_set_appearance), and the policy on the frames of every state
 * in every look, a few states per policy call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/app_variants.h"
#include "eval/eval.h"

#define BATCH_STATES 16
#define DONOR_STREAM 0x6170706561720001ull /* donor choice: its own RNG stream, apart from the noise */

typedef struct {
    const eval_app_opts *o;
    const game_appearance_sets *sets;
    eval_app_level *out;
    int64_t lo;             /* task i is level lo + i */
    cb_err *errs;           /* per level */
    game_expert *ex;        /* per worker */
    uint8_t **frames;       /* per worker: BATCH_STATES * (1 + 2K) frames */
    float **probs;
} app_ctx;

/* An unseen look for level L: the k-th unseen (bg, wall, player), the
 * offset and the enemy and crate themes drawn as procgen draws them. */
static int unseen_look(game_appearance *a, const game_level *L, const game_appearance_sets *s, int k, cb_rng *r,
                       cb_err *e) {
    game_level_get_appearance(a, L);
    int rc = game_appearance_sets_unseen(&a->bg_index, &a->wall_theme, &a->player_theme, s, k, e);
    if (rc) return rc;
    a->bg_pct_x = cb_rng_uniformf(r);
    for (int i = 0; i < a->nenemies; i++) a->enemy_theme[i] = (uint8_t)cb_rng_below(r, GAME_NUM_ENEMY_THEMES);
    for (int i = 0; i < a->ncrates; i++) a->crate_theme[i] = (uint8_t)cb_rng_below(r, GAME_NUM_CRATE_THEMES);
    return 0;
}

static double kl_div(const float *p, const float *q) {
    double s = 0;
    for (int a = 0; a < CB_NUM_ACTIONS; a++) {
        double pa = p[a], qa = q[a] > 1e-12f ? q[a] : 1e-12;
        if (pa > 0) s += pa * log(pa / qa);
    }
    return s > 0 ? s : 0; /* rounding can leave a tiny negative for equal rows */
}

/* The variant looks of level L (r->seed): how many, which cell each belongs
 * to, and the levels; fills r's donors. Shared with the closed loop
 * (appearance_rollout.c), so both parts give a level the same looks. */
int eval_app_variants(game_level *var, int *look, eval_app_level *r, const game_level *L, const eval_app_opts *o,
                      const game_appearance_sets *sets, cb_err *e) {
    cb_rng rng;
    cb_rng_seed2(&rng, o->seed ^ DONOR_STREAM, (uint64_t)(uint32_t)r->seed);
    int nv = 0, rc;
    game_appearance a;
    if (r->heldout) {
        /* K training levels' looks, distinct when there are enough */
        game_level *D = &var[nv]; /* generated in place, then made L with D's look */
        for (int k = 0; k < o->donors; k++) {
            int32_t d;
            for (;;) {
                d = o->train[cb_rng_below(&rng, (uint32_t)o->ntrain)];
                int dup = 0;
                for (int j = 0; j < k; j++) dup |= r->seen_donor[j] == d;
                if (!dup || sets->nlevels < o->donors) break;
            }
            r->seen_donor[k] = d;
            D = &var[nv];
            if ((rc = game_level_generate(D, NULL, d, o->mode, e))) return rc;
            game_level_get_appearance(&a, D);
            *D = *L;
            if ((rc = game_level_set_appearance(D, &a, e))) return rc;
            look[nv++] = EVAL_APP_SEEN;
        }
    }
    if (sets->nunseen > 0) {
        for (int k = 0; k < o->donors; k++) {
            int u = (int)cb_rng_below(&rng, (uint32_t)sets->nunseen);
            if ((rc = unseen_look(&a, L, sets, u, &rng, e))) return rc;
            r->unseen_look[k][0] = (uint8_t)a.bg_index;
            r->unseen_look[k][1] = (uint8_t)a.wall_theme;
            r->unseen_look[k][2] = (uint8_t)a.player_theme;
            var[nv] = *L;
            if ((rc = game_level_set_appearance(&var[nv], &a, e))) return rc;
            look[nv++] = EVAL_APP_UNSEEN;
        }
    }
    r->ndonors = o->donors;
    return nv;
}

/* One state of a level's play, as `coinbc record` plays it: the frame of
 * env's state in its own look into f[0] and in var[0..nv)'s looks into
 * f[1..nv] (nothing drawn when f is NULL), the expert's label, then a step
 * with the label or, with probability eps, a uniformly random action (drawn
 * from noise; counted in *random). Shared with the strip
 * (appearance_strip.c), so its states are the probe's. */
int eval_app_state(uint8_t *f, int *label, int64_t *random, game_env *env, const game_level *var, int nv,
                   game_expert *ex, cb_rng *noise, double eps, cb_err *e) {
    if (f) {
        game_env_render(env, f);
        for (int v = 0; v < nv; v++) game_render(f + (size_t)(1 + v) * CB_FRAME_BYTES, &var[v], &env->state, &env->trails);
    }
    cb_err xe = {0};
    int xrc = game_expert_act(ex, &env->level, &env->state, label, &xe);
    if (xrc == CB_EARG || xrc == CB_ENOMEM) return cb_fail(e, xrc, "%s", xe.msg);
    int executed = *label;
    if (cb_rng_uniform(noise) < eps) {
        executed = (int)cb_rng_below(noise, CB_NUM_ACTIONS);
        (*random)++;
    }
    game_env_step(env, executed, NULL);
    return 0;
}

/* the policy on a batch of ns states x (1 + nv) frames; accumulates the cells */
static int score(app_ctx *x, eval_app_level *r, int worker, int ns, int nv, const int *look, const uint8_t *labels,
                 cb_err *e) {
    const eval_app_opts *o = x->o;
    int per = 1 + nv;
    float *p = x->probs[worker];
    int rc = o->policy->probs(o->policy->self, worker, x->frames[worker], ns * per, p, e);
    if (rc) return rc;
    for (int s = 0; s < ns; s++) {
        const float *po = p + (size_t)s * per * CB_NUM_ACTIONS;
        int ao = cb_argmax(po, CB_NUM_ACTIONS);
        for (int v = 0; v < per; v++) {
            const float *pv = po + (size_t)v * CB_NUM_ACTIONS;
            int av = v == 0 ? ao : cb_argmax(pv, CB_NUM_ACTIONS);
            eval_app_cell *c = &r->cell[v == 0 ? EVAL_APP_ORIG : look[v - 1]];
            c->n++;
            c->correct += av == labels[s];
            c->agree += av == ao;
            if (v > 0) c->kl += kl_div(po, pv);
        }
    }
    return 0;
}

static int app_level(void *vctx, int64_t i, int worker) {
    app_ctx *x = vctx;
    i += x->lo;
    const eval_app_opts *o = x->o;
    eval_app_level *r = &x->out[i];
    cb_err *e = &x->errs[i];
    game_env *env = malloc(sizeof *env);
    game_level *var = malloc(sizeof *var * (size_t)(2 * o->donors));
    int rc = 0;
    if (!env || !var) {
        rc = cb_fail(e, CB_ENOMEM, "appearance probe: level %d: out of memory", r->seed);
        goto out;
    }
    int look[2 * EVAL_APP_MAX_DONORS];
    if ((rc = game_env_init(env, r->seed, o->mode, e))) goto out;
    int nv = eval_app_variants(var, look, r, &env->level, o, x->sets, e);
    if (nv < 0) {
        rc = nv;
        goto out;
    }
    int per = 1 + nv;
    cb_rng noise;
    cb_rng_seed2(&noise, o->seed, (uint64_t)(uint32_t)r->seed);
    game_expert *ex = &x->ex[worker];
    game_expert_reset(ex);
    uint8_t labels[BATCH_STATES];
    int ns = 0;
    for (int64_t t = 0; t < o->states; t++) {
        int label;
        if ((rc = eval_app_state(x->frames[worker] + (size_t)ns * per * CB_FRAME_BYTES, &label, &r->random_actions, env,
                                 var, nv, ex, &noise, o->noise, e)))
            goto out;
        labels[ns++] = (uint8_t)label;
        if (ns == BATCH_STATES || t + 1 == o->states) {
            if ((rc = score(x, r, worker, ns, nv, look, labels, e))) goto out;
            ns = 0;
        }
    }
out:
    if (rc) cb_err_prefix(e, "appearance probe: level %d (%s): ", r->seed, game_mode_name(o->mode));
    free(env);
    free(var);
    return rc;
}

int eval_app_check_opts(const eval_app_opts *o, cb_err *e) {
    if (!o->policy) return cb_fail(e, CB_EARG, "appearance probe: no policy");
    if (o->mode != GAME_EASY && o->mode != GAME_HARD) return cb_fail(e, CB_EARG, "appearance probe: unknown mode %d", o->mode);
    if (o->ntrain < 1 || !o->train) return cb_fail(e, CB_EARG, "appearance probe: no training levels");
    if (o->nheldout < 0 || (o->nheldout > 0 && !o->heldout))
        return cb_fail(e, CB_EARG, "appearance probe: bad held-out level list");
    if (o->donors < 1 || o->donors > EVAL_APP_MAX_DONORS)
        return cb_fail(e, CB_EARG, "appearance probe: --donors %d: need 1..%d", o->donors, EVAL_APP_MAX_DONORS);
    if (o->states < 1) return cb_fail(e, CB_EARG, "appearance probe: --states %lld: need at least 1", (long long)o->states);
    if (!(o->noise >= 0 && o->noise <= 1)) return cb_fail(e, CB_EARG, "appearance probe: noise %g: need 0 <= EPS <= 1", o->noise);
    for (int i = 0; i < o->nheldout; i++)
        for (int j = 0; j < o->ntrain; j++)
            if (o->heldout[i] == o->train[j])
                return cb_fail(e, CB_EARG,
                               "appearance probe: held-out level %d is a training level; give --levels outside the "
                               "training levels",
                               o->heldout[i]);
    return 0;
}

int eval_appearance_offline(eval_app_level *out, game_appearance_sets *sets, const eval_app_opts *o, cb_err *e) {
    int rc = eval_app_check_opts(o, e);
    if (rc) return rc;
    if ((rc = game_appearance_sets_build(sets, o->train, o->ntrain, o->mode, e))) return rc;
    int n = o->ntrain + o->nheldout;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].heldout = i >= o->ntrain;
        out[i].seed = out[i].heldout ? o->heldout[i - o->ntrain] : o->train[i];
    }
    int64_t lo = 0, hi = n;
    if (o->has_part) {
        if (o->part_lo < 0 || o->part_hi < o->part_lo || o->part_hi > n)
            return cb_fail(e, CB_EARG, "appearance probe: share %lld-%lld of %d levels", (long long)o->part_lo,
                           (long long)o->part_hi, n);
        lo = o->part_lo, hi = o->part_hi;
    }
    if (hi == lo) return 0;
    int nt = o->threads > 0 ? o->threads : cb_default_threads();
    if (nt > hi - lo) nt = (int)(hi - lo);
    app_ctx x = {.o = o, .sets = sets, .out = out, .lo = lo};
    x.errs = calloc((size_t)n, sizeof *x.errs);
    x.ex = calloc((size_t)nt, sizeof *x.ex);
    x.frames = calloc((size_t)nt, sizeof *x.frames);
    x.probs = calloc((size_t)nt, sizeof *x.probs);
    int nex = 0;
    size_t per = (size_t)(1 + 2 * o->donors) * BATCH_STATES;
    if (!x.errs || !x.ex || !x.frames || !x.probs) {
        rc = cb_fail(e, CB_ENOMEM, "appearance probe: out of memory");
        goto out;
    }
    for (int w = 0; w < nt; w++) {
        x.frames[w] = malloc(per * CB_FRAME_BYTES);
        x.probs[w] = malloc(per * CB_NUM_ACTIONS * sizeof(float));
        if (!x.frames[w] || !x.probs[w]) {
            rc = cb_fail(e, CB_ENOMEM, "appearance probe: out of memory");
            goto out;
        }
        if ((rc = game_expert_init(&x.ex[w], o->expert, e))) goto out;
        nex++;
    }
    rc = cb_parallel_for_w(hi - lo, nt, app_level, &x);
    if (rc) {
        for (int i = 0; i < n; i++)
            if (x.errs[i].code) {
                *e = x.errs[i];
                break;
            }
    }
out:
    for (int w = 0; w < nex; w++) game_expert_free(&x.ex[w]);
    for (int w = 0; x.frames && w < nt; w++) free(x.frames[w]);
    for (int w = 0; x.probs && w < nt; w++) free(x.probs[w]);
    free(x.errs);
    free(x.ex);
    free(x.frames);
    free(x.probs);
    return rc;
}

void eval_appearance_sum(eval_app_cell sum[2][EVAL_APP_NLOOKS], const eval_app_level *lv, int n) {
    memset(sum, 0, sizeof(eval_app_cell) * 2 * EVAL_APP_NLOOKS);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            eval_app_cell *s = &sum[lv[i].heldout ? 1 : 0][k];
            const eval_app_cell *c = &lv[i].cell[k];
            s->n += c->n;
            s->correct += c->correct;
            s->agree += c->agree;
            s->kl += c->kl;
        }
}
