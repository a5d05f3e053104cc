/* rollout.c - closed-loop play: a policy plays levels in the engine from its
 * 64x64 frames. Levels are grouped in fixed chunks; inside a chunk every
 * level plays its episodes one after another, all levels in lockstep so the
 * policy sees one batch of frames per step. Chunks go to threads, so results
 * are identical for any thread count. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

#define CHUNK 8

typedef struct {
    const eval_rollout_opts *o;
    const int32_t *seeds;
    int n;
    eval_level_result *out;
    cb_err *errs;     /* per chunk */
    cb_progress *prog;
    int64_t *levels_done; /* levels finished, added to atomically; only worker 0 redraws the progress */
} ro_ctx;

typedef struct {
    game_env env;
    cb_rng rng;
    int level;   /* index into seeds */
    int ep, t;   /* episode and step within it */
    int active;
} ro_slot;

static int pick(const float *p, int sample, cb_rng *r) {
    if (!sample) return cb_argmax(p, CB_NUM_ACTIONS);
    double u = cb_rng_uniform(r), c = 0;
    for (int a = 0; a < CB_NUM_ACTIONS; a++) {
        c += p[a];
        if (u < c) return a;
    }
    return CB_NUM_ACTIONS - 1;
}

static int film_slot(const eval_rollout_opts *o, int level) {
    return o->film && level < o->film_levels ? level : -1;
}

/* resets the result of slot s's level and, unless the expert plays, its
 * engine, its random state and its film */
static int ro_start(ro_ctx *x, ro_slot *s, int level, cb_err *e) {
    const eval_rollout_opts *o = x->o;
    s->level = level;
    eval_level_result *r = &x->out[level];
    memset(r, 0, sizeof *r);
    r->seed = x->seeds[level];
    if (o->agent == EVAL_AGENT_EXPERT) return 0;
    int rc;
    if ((rc = game_env_init(&s->env, r->seed, o->mode, e))) return rc;
    if (o->looks && (rc = game_level_set_appearance(&s->env.level, &o->looks[level], e))) return rc;
    cb_rng_seed2(&s->rng, o->seed, (uint64_t)(uint32_t)r->seed);
    s->active = o->episodes > 0;
    int f = film_slot(o, level);
    if (f >= 0) {
        memset(o->film_action + (size_t)f * o->film_steps, 255, (size_t)o->film_steps);
        o->film_len[f] = 0;
        o->film_outcome[f] = GAME_RUNNING;
    }
    return 0;
}

/* the expert's chunk: it plays each level's episodes itself */
static int ro_expert(ro_ctx *x, int lo, int m, int worker, cb_err *e) {
    const eval_rollout_opts *o = x->o;
    for (int k = 0; k < m; k++) {
        eval_level_result *r = &x->out[lo + k];
        int rc = o->expert_level(o->expert_self, worker, r->seed, o->mode, o->episodes, r, e);
        if (rc) return rc;
        r->seed = x->seeds[lo + k];
    }
    return 0;
}

/* lists the slots still playing in idx and renders their frames (for the
 * policy, or for a film); returns how many there are */
static int ro_gather(const eval_rollout_opts *o, ro_slot *slots, int m, uint8_t *frames, int *idx) {
    int na = 0;
    for (int k = 0; k < m; k++)
        if (slots[k].active) {
            idx[na] = k;
            if (o->agent == EVAL_AGENT_POLICY || film_slot(o, slots[k].level) >= 0)
                game_env_render(&slots[k].env, frames + (size_t)na * CB_FRAME_BYTES);
            na++;
        }
    return na;
}

/* keeps frame and action a of the first episode's step s->t in film f */
static void ro_film(const eval_rollout_opts *o, const ro_slot *s, int f, const uint8_t *frame, int a) {
    if (f < 0 || s->ep != 0 || s->t >= o->film_steps) return;
    memcpy(o->film + ((size_t)f * o->film_steps + s->t) * CB_FRAME_BYTES, frame, CB_FRAME_BYTES);
    o->film_action[(size_t)f * o->film_steps + s->t] = (uint8_t)a;
    o->film_len[f] = s->t + 1;
}

/* counts an episode of slot s that ended with outcome and starts the next
 * one (or retires the slot after its last) */
static void ro_episode_end(const eval_rollout_opts *o, ro_slot *s, eval_level_result *r, int f, int outcome) {
    if (f >= 0 && s->ep == 0) o->film_outcome[f] = outcome;
    r->episodes++;
    if (outcome == GAME_COIN) {
        r->coins++;
        r->steps_to_coin += s->t;
    } else if (outcome == GAME_DEATH) {
        r->deaths++;
    } else {
        r->timeouts++;
    }
    s->ep++;
    s->t = 0;
    if (s->ep >= o->episodes) s->active = 0;
}

/* one step of slot s: its action (from the policy's probabilities p, or a
 * uniform one), the film, the engine step and the tally */
static void ro_step(ro_ctx *x, ro_slot *s, const float *p, const uint8_t *frame) {
    const eval_rollout_opts *o = x->o;
    eval_level_result *r = &x->out[s->level];
    int a;
    if (o->agent == EVAL_AGENT_POLICY)
        a = pick(p, o->sample, &s->rng);
    else
        a = (int)cb_rng_below(&s->rng, CB_NUM_ACTIONS);
    int f = film_slot(o, s->level);
    ro_film(o, s, f, frame, a);
    game_step_out so;
    game_env_step(&s->env, a, &so);
    s->t++;
    r->steps++;
    if (so.done) ro_episode_end(o, s, r, f, so.outcome);
}

/* plays the chunk's m slots in lockstep until each has played its episodes:
 * one batch of frames through the policy per step */
static int ro_play(ro_ctx *x, ro_slot *slots, int m, uint8_t *frames, float *probs, int *idx, int worker,
                   cb_err *e) {
    const eval_rollout_opts *o = x->o;
    for (;;) {
        int na = ro_gather(o, slots, m, frames, idx), rc;
        if (na == 0) return 0;
        if (o->agent == EVAL_AGENT_POLICY && (rc = o->policy->probs(o->policy->self, worker, frames, na, probs, e)))
            return rc;
        for (int j = 0; j < na; j++)
            ro_step(x, &slots[idx[j]], probs + (size_t)j * CB_NUM_ACTIONS, frames + (size_t)j * CB_FRAME_BYTES);
    }
}

/* chunk c: its levels' results, played by the expert or in lockstep */
static int ro_chunk(void *vctx, int64_t c, int worker) {
    ro_ctx *x = vctx;
    int lo = (int)c * CHUNK, hi = lo + CHUNK < x->n ? lo + CHUNK : x->n, m = hi - lo;
    cb_err *e = &x->errs[c];
    ro_slot *slots = calloc((size_t)m, sizeof *slots);
    uint8_t *frames = malloc((size_t)m * CB_FRAME_BYTES);
    float *probs = malloc((size_t)m * CB_NUM_ACTIONS * sizeof(float));
    int *idx = malloc((size_t)m * sizeof(int));
    int rc = 0;
    if (!slots || !frames || !probs || !idx) rc = cb_fail(e, CB_ENOMEM, "rollout: out of memory");
    for (int k = 0; k < m && !rc; k++) rc = ro_start(x, &slots[k], lo + k, e);
    if (!rc && x->o->agent == EVAL_AGENT_EXPERT) rc = ro_expert(x, lo, m, worker, e);
    else if (!rc) rc = ro_play(x, slots, m, frames, probs, idx, worker, e);
    free(slots);
    free(frames);
    free(probs);
    free(idx);
    return rc;
}

static int ro_task(void *vctx, int64_t c, int worker) {
    ro_ctx *x = vctx;
    int rc = ro_chunk(x, c, worker);
    if (x->prog) {
        /* every chunk counts CHUNK levels (the last may overshoot, hence the
         * clamp); the shown count may lag, which is fine for progress */
        __atomic_add_fetch(x->levels_done, (int64_t)CHUNK, __ATOMIC_RELAXED);
        int64_t d = __atomic_load_n(x->levels_done, __ATOMIC_RELAXED);
        if (worker == 0) cb_progress_update(x->prog, d < x->n ? d : x->n);
    }
    return rc;
}

int eval_rollout(eval_level_result *out, const int32_t *seeds, int n, const eval_rollout_opts *o, cb_err *e) {
    if (n <= 0) return cb_fail(e, CB_EARG, "rollout: no levels");
    if (o->episodes <= 0) return cb_fail(e, CB_EARG, "rollout: --episodes must be at least 1");
    if (o->agent == EVAL_AGENT_POLICY && !o->policy) return cb_fail(e, CB_EARG, "rollout: no policy");
    if (o->agent == EVAL_AGENT_EXPERT && !o->expert_level) return cb_fail(e, CB_EARG, "rollout: no expert");
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    cb_err *errs = calloc((size_t)nchunks, sizeof *errs);
    if (!errs) return cb_fail(e, CB_ENOMEM, "rollout: out of memory");
    cb_progress prog;
    int64_t done = 0;
    cb_progress_start(&prog, o->label ? o->label : "rollout", "levels", n, o->quiet);
    ro_ctx x = {.o = o, .seeds = seeds, .n = n, .out = out, .errs = errs, .prog = &prog, .levels_done = &done};
    int rc = cb_parallel_for_w(nchunks, o->threads > 0 ? o->threads : cb_default_threads(), ro_task, &x);
    cb_progress_update(&prog, n);
    cb_progress_finish(&prog);
    if (rc) {
        for (int64_t c = 0; c < nchunks; c++)
            if (errs[c].code) {
                *e = errs[c];
                break;
            }
    }
    free(errs);
    return rc;
}

void eval_rollout_summarize(eval_rollout_summary *s, const eval_level_result *r, int n) {
    memset(s, 0, sizeof *s);
    s->levels = n;
    int64_t steps = 0;
    for (int i = 0; i < n; i++) {
        s->episodes += r[i].episodes;
        s->coins += r[i].coins;
        s->deaths += r[i].deaths;
        s->timeouts += r[i].timeouts;
        steps += r[i].steps_to_coin;
    }
    if (s->episodes > 0) {
        s->success = (double)s->coins / s->episodes;
        s->death_rate = (double)s->deaths / s->episodes;
        s->timeout_rate = (double)s->timeouts / s->episodes;
    }
    eval_wilson(s->coins, s->episodes, &s->success_lo, &s->success_hi);
    /* per-level mean steps to the coin, then a normal interval across levels */
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int k = 0;
    if (v) {
        for (int i = 0; i < n; i++)
            if (r[i].coins > 0) v[k++] = (double)r[i].steps_to_coin / r[i].coins;
        eval_mean_ci(v, k, &s->mean_steps_to_coin, &s->steps_half);
        free(v);
    } else {
        s->mean_steps_to_coin = s->coins ? (double)steps / s->coins : 0;
    }
}
