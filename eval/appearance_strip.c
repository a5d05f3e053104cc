/* appearance_strip.c - the appearance probe's example frames: a few of its
 * states, each in the level's own look and in the looks the probe swaps in
 * (a training level's look for a held-out layout, an unseen look where
 * there is one), with the expert's label and the policy's action on each,
 * drawn as one contact sheet (film.c's eval_sheet). The states are chosen
 * from the probe's seed alone among its levels and states, and each is
 * reached by replaying the probe's own play of its level (eval_app_state:
 * the same noise stream, the same expert), so a strip shows frames the
 * probe scored. One thread, worker 0 of the policy: the strip does not
 * depend on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/app_variants.h"
#include "eval/eval.h"
#include "run/run.h"

#define STRIP_STREAM 0x6170706561720002ull /* the choice of states: its own RNG stream */
#define HEAD_W 40
#define TOP 10

/* k distinct indices in [0, n) (all of them when n <= k), ascending */
static int pick(int *out, int k, int n, cb_rng *r) {
    int m = 0;
    if (n <= k) {
        for (int i = 0; i < n; i++) out[m++] = i;
        return m;
    }
    while (m < k) {
        int v = (int)cb_rng_below(r, (uint32_t)n), dup = 0;
        for (int j = 0; j < m; j++) dup |= out[j] == v;
        if (!dup) out[m++] = v;
    }
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return m;
}

/* row w: replays its level's play up to its step and renders that state in
 * its looks; the first variant of each kind is the one shown */
static int strip_row(eval_app_strip_row *w, game_env *env, game_level *var, game_expert *ex, const eval_app_opts *o,
                     const game_appearance_sets *sets, uint8_t *f, cb_err *e) {
    int rc = game_env_init(env, w->seed, o->mode, e);
    if (rc) return rc;
    eval_app_level r = {.seed = w->seed, .heldout = w->heldout};
    int look[2 * EVAL_APP_MAX_DONORS];
    int nv = eval_app_variants(var, look, &r, &env->level, o, sets, e);
    if (nv < 0) return nv;
    cb_rng noise;
    cb_rng_seed2(&noise, o->seed, (uint64_t)(uint32_t)w->seed);
    game_expert_reset(ex);
    int64_t rnd = 0;
    for (int64_t t = 0; t <= w->step; t++)
        if ((rc = eval_app_state(t == w->step ? f : NULL, &w->label, &rnd, env, var, nv, ex, &noise, o->noise, e)))
            return rc;
    w->has[EVAL_APP_ORIG] = 1;
    memcpy(w->frame[EVAL_APP_ORIG], f, CB_FRAME_BYTES);
    w->seen_donor = -1;
    for (int v = nv - 1; v >= 0; v--) { /* backwards: the first of each kind wins */
        w->has[look[v]] = 1;
        memcpy(w->frame[look[v]], f + (size_t)(1 + v) * CB_FRAME_BYTES, CB_FRAME_BYTES);
    }
    if (w->has[EVAL_APP_SEEN]) w->seen_donor = r.seen_donor[0];
    if (w->has[EVAL_APP_UNSEEN]) memcpy(w->unseen_look, r.unseen_look[0], 3);
    return 0;
}

int eval_appearance_strip(eval_app_strip *s, const eval_app_opts *o, const game_appearance_sets *sets, cb_err *e) {
    memset(s, 0, sizeof *s);
    int rc = eval_app_check_opts(o, e);
    if (rc) return rc;
    cb_rng rng;
    cb_rng_seed2(&rng, o->seed ^ STRIP_STREAM, 0);
    int idx[EVAL_APP_STRIP_ROWS];
    int nt = pick(idx, EVAL_APP_STRIP_TRAIN, o->ntrain, &rng);
    int nh = pick(idx + nt, EVAL_APP_STRIP_HELD, o->nheldout, &rng);
    uint32_t span = o->states > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)o->states;
    for (int i = 0; i < nt + nh; i++) {
        eval_app_strip_row *w = &s->row[i];
        w->heldout = i >= nt;
        w->seed = w->heldout ? o->heldout[idx[i]] : o->train[idx[i]];
        w->step = cb_rng_below(&rng, span);
    }
    s->nrows = nt + nh;
    game_env *env = malloc(sizeof *env);
    game_level *var = malloc(sizeof *var * (size_t)(2 * o->donors));
    uint8_t *f = malloc((size_t)(1 + 2 * o->donors) * CB_FRAME_BYTES);
    uint8_t *batch = malloc((size_t)EVAL_APP_STRIP_ROWS * EVAL_APP_NLOOKS * CB_FRAME_BYTES);
    float *probs = malloc(sizeof *probs * EVAL_APP_STRIP_ROWS * EVAL_APP_NLOOKS * CB_NUM_ACTIONS);
    game_expert ex;
    int have_ex = 0;
    if (!env || !var || !f || !batch || !probs) {
        rc = cb_fail(e, CB_ENOMEM, "appearance strip: out of memory");
        goto out;
    }
    if ((rc = game_expert_init(&ex, o->expert, e))) goto out;
    have_ex = 1;
    for (int i = 0; i < s->nrows; i++)
        if ((rc = strip_row(&s->row[i], env, var, &ex, o, sets, f, e))) {
            cb_err_prefix(e, "appearance strip: level %d (%s), state %lld: ", s->row[i].seed,
                          game_mode_name(o->mode), (long long)s->row[i].step);
            goto out;
        }
    /* the policy on every frame of the strip, in one batch */
    int n = 0;
    for (int i = 0; i < s->nrows; i++)
        for (int k = 0; k < EVAL_APP_NLOOKS; k++)
            if (s->row[i].has[k]) memcpy(batch + (size_t)n++ * CB_FRAME_BYTES, s->row[i].frame[k], CB_FRAME_BYTES);
    if ((rc = o->policy->probs(o->policy->self, 0, batch, n, probs, e))) {
        cb_err_prefix(e, "appearance strip: ");
        goto out;
    }
    n = 0;
    for (int i = 0; i < s->nrows; i++)
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            s->row[i].action[k] = -1;
            if (!s->row[i].has[k]) continue;
            s->row[i].action[k] = cb_argmax(probs + (size_t)n++ * CB_NUM_ACTIONS, CB_NUM_ACTIONS);
            s->cols[k] = 1;
        }
out:
    if (have_ex) game_expert_free(&ex);
    free(env);
    free(var);
    free(f);
    free(batch);
    free(probs);
    return rc;
}

int eval_appearance_strip_draw(eval_sheet *sh, const eval_app_strip *s, cb_err *e) {
    int col[EVAL_APP_NLOOKS], nc = 0;
    for (int k = 0; k < EVAL_APP_NLOOKS; k++) col[k] = s->cols[k] ? nc++ : -1;
    if (s->nrows <= 0 || nc == 0) return cb_fail(e, CB_EARG, "appearance strip: no states to draw");
    int rc = eval_sheet_init(sh, s->nrows, nc, HEAD_W, TOP, 3, e);
    if (rc) return rc;
    static const uint8_t white[3] = {255, 255, 255}, gray[3] = {150, 150, 150}, green[3] = {90, 230, 90},
                         red[3] = {255, 90, 90}, orange[3] = {255, 170, 60}, blue[3] = {120, 180, 255};
    static const char *const TITLE[EVAL_APP_NLOOKS] = {"OWN LOOK", "TRAINING LOOK", "UNSEEN LOOK"};
    for (int k = 0; k < EVAL_APP_NLOOKS; k++)
        if (col[k] >= 0) eval_sheet_title(sh, col[k], TITLE[k], white);
    for (int i = 0; i < s->nrows; i++) {
        const eval_app_strip_row *w = &s->row[i];
        char buf[40];
        eval_sheet_head(sh, i, 4, "SEED", gray);
        snprintf(buf, sizeof buf, "%d", w->seed);
        eval_sheet_head(sh, i, 11, buf, white);
        eval_sheet_head(sh, i, 20, w->heldout ? "HELD" : "TRAIN", w->heldout ? orange : blue);
        eval_sheet_head(sh, i, 27, w->heldout ? "OUT" : "LEVEL", w->heldout ? orange : blue);
        snprintf(buf, sizeof buf, "T%lld", (long long)w->step);
        eval_sheet_head(sh, i, 36, buf, gray);
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            if (col[k] < 0) continue;
            if (!w->has[k]) {
                /* a training layout in a training look is the level itself */
                int x, y;
                eval_sheet_frame_xy(sh, i, col[k], &x, &y);
                eval_draw_text(sh->rgb, sh->w, sh->h, x + 2, y + 22, "NONE: ITS OWN", gray);
                eval_draw_text(sh->rgb, sh->w, sh->h, x + 2, y + 30, "LOOK IS A", gray);
                eval_draw_text(sh->rgb, sh->w, sh->h, x + 2, y + 38, "TRAINING LOOK", gray);
                continue;
            }
            eval_sheet_frame(sh, i, col[k], w->frame[k]);
            snprintf(buf, sizeof buf, "E:%s", game_action_name(w->label));
            eval_sheet_label(sh, i, col[k], 0, buf, white);
            int ok = w->action[k] == w->label;
            snprintf(buf, sizeof buf, "P:%s %s", game_action_name(w->action[k]), ok ? "OK" : "X");
            eval_sheet_label(sh, i, col[k], 1, buf, ok ? green : red);
            if (k != EVAL_APP_ORIG) {
                int same = w->action[k] == w->action[EVAL_APP_ORIG];
                eval_sheet_label(sh, i, col[k], 2, same ? "SAME AS OWN" : "MOVED", same ? gray : orange);
            }
        }
    }
    return 0;
}

int eval_appearance_strip_path(char *out, size_t n, const char *record, cb_err *e) {
    size_t len = strlen(record);
    int ext = len > 5 && !strcmp(record + len - 5, ".json");
    int w = snprintf(out, n, "%.*s.png", (int)(ext ? len - 5 : len), record);
    if (w < 0 || (size_t)w >= n) return cb_fail(e, CB_EARG, "%s: the strip's path beside it is too long", record);
    return 0;
}

int eval_appearance_strip_save(struct run_appearance *rec, const char *record, const eval_app_opts *o,
                               const game_appearance_sets *sets, cb_err *e) {
    _Static_assert(EVAL_APP_STRIP_ROWS <= RUN_APP_STRIP_MAX, "the record holds every state of the strip");
    char path[4200];
    int rc = eval_appearance_strip_path(path, sizeof path, record, e);
    if (rc) return rc;
    eval_app_strip *s = malloc(sizeof *s);
    if (!s) return cb_fail(e, CB_ENOMEM, "appearance strip: out of memory");
    eval_sheet sh = {0};
    rc = eval_appearance_strip(s, o, sets, e);
    if (!rc) rc = eval_appearance_strip_draw(&sh, s, e);
    if (!rc) rc = eval_sheet_write(&sh, path, e);
    if (!rc) {
        rec->nstrip = s->nrows;
        for (int i = 0; i < s->nrows; i++) {
            rec->strip[i].level = s->row[i].seed;
            rec->strip[i].heldout = s->row[i].heldout;
            rec->strip[i].step = s->row[i].step;
        }
    }
    eval_sheet_free(&sh);
    free(s);
    return rc;
}
