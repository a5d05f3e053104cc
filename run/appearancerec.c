/* appearancerec.c - appearance.json of a run folder: the appearance probe's
 * offline cells (docs/FORMATS.md). The counts are the record; the
 * rates beside them are for readers of the file, and this reader checks them
 * against the counts, and the counts against each other. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-appearance"
#define NBG 62  /* backgrounds (docs/SPEC.md 7) */
#define NPAIR 30 /* wall x player themes */

/* the five cells the probe fills, by key */
static const struct {
    const char *key;
    int layout, look;
} CELLS[] = {
    {"seen_layout_own_look", 0, 0},
    {"seen_layout_unseen_look", 0, 2},
    {"heldout_layout_own_look", 1, 0},
    {"heldout_layout_seen_look", 1, 1},
    {"heldout_layout_unseen_look", 1, 2},
};
#define NCELLS 5

/* the four closed-loop cells, by key (RUN_APP_SS .. RUN_APP_UU) */
static const char *const PLAYS[RUN_APP_PLAYS] = {"seen_layout_own_look", "seen_layout_unseen_look",
                                                 "heldout_layout_seen_look", "heldout_layout_own_look"};

static double rate(int64_t k, int64_t n) { return n > 0 ? (double)k / (double)n : NAN; }

static json_t *cell_json(const run_app_cell *c, int original) {
    json_t *o = json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "frames", (json_int_t)c->frames, "correct",
                          (json_int_t)c->correct, "agree", (json_int_t)c->agree, "kl_sum", rj_real(c->kl_sum),
                          "accuracy", rj_real(rate(c->correct, c->frames)), "agreement",
                          rj_real(rate(c->agree, c->frames)));
    if (o && !original && json_object_set_new(o, "mean_kl", rj_real(c->frames ? c->kl_sum / (double)c->frames : NAN)))
        json_decref(o), o = NULL;
    return o;
}

static json_t *play_json(const run_app_play *c) {
    int empty = c->episodes == 0;
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "episodes", (json_int_t)c->episodes, "coins",
                     (json_int_t)c->coins, "deaths", (json_int_t)c->deaths, "timeouts", (json_int_t)c->timeouts,
                     "success", rj_real(empty ? NAN : c->success), "success_lo", rj_real(empty ? NAN : c->success_lo),
                     "success_hi", rj_real(empty ? NAN : c->success_hi));
}

int run_appearance_encode(run_text *out, const run_appearance *v, cb_err *e) {
    char levels[32];
    snprintf(levels, sizeof levels, "%d-%d", v->level_lo, v->level_hi);
    json_t *cells = json_object();
    for (int i = 0; cells && i < NCELLS; i++) {
        json_t *c = cell_json(&v->cell[CELLS[i].layout][CELLS[i].look], CELLS[i].look == 0);
        if (!c || json_object_set_new(cells, CELLS[i].key, c)) json_decref(cells), cells = NULL;
    }
    json_t *plays = json_object();
    for (int i = 0; plays && i < RUN_APP_PLAYS; i++) {
        json_t *c = play_json(&v->play[i]);
        if (!c || json_object_set_new(plays, PLAYS[i], c)) json_decref(plays), plays = NULL;
    }
    json_t *looks = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "seen_backgrounds", v->seen_backgrounds, "seen_pairs",
                              v->seen_pairs, "seen_looks", v->seen_looks, "unseen_backgrounds", v->unseen_backgrounds,
                              "unseen_pairs", v->unseen_pairs, "unseen_looks", v->unseen_looks);
    json_t *o = NULL;
    if (cells && looks && plays)
        o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:I, s:f, s:I, s:i, s:O, s:O, s:O}", "format", FORMAT, "version",
                      RUN_VERSION, "checkpoint", v->checkpoint, "mode", v->hard ? "hard" : "easy", "levels", levels,
                      "train_levels", v->train_levels, "states_per_level", (json_int_t)v->states_per_level, "noise",
                      v->noise, "seed", (json_int_t)v->seed, "donors", v->donors, "looks", looks, "offline", cells,
                      "closed_loop", plays);
    json_decref(cells);
    json_decref(plays);
    json_decref(looks);
    if (o && v->nstrip > 0) { /* the strip's states, when it was drawn */
        json_t *strip = json_array();
        for (int i = 0; strip && i < v->nstrip && i < RUN_APP_STRIP_MAX; i++)
            if (json_array_append_new(strip, json_pack("{s:i, s:s, s:I}", "level", v->strip[i].level, "layout",
                                                       v->strip[i].heldout ? "heldout" : "seen", "step",
                                                       (json_int_t)v->strip[i].step)))
                json_decref(strip), strip = NULL;
        if (!strip || json_object_set_new(o, "strip", strip)) json_decref(o), o = NULL;
    }
    return rj_dump(out, o, 2, "appearance.json", e);
}

static const char *const KEYS[] = {"checkpoint", "levels", "mode", "train_levels", "states_per_level", "noise",
                                   "seed", "donors", "looks", "offline", "closed_loop", "strip", NULL};
static const char *const LOOK_KEYS[] = {"seen_backgrounds", "seen_pairs", "seen_looks", "unseen_backgrounds",
                                        "unseen_pairs", "unseen_looks", NULL};
static const char *const PLAY_KEYS[] = {"episodes", "coins", "deaths", "timeouts", "success", "success_lo",
                                        "success_hi", NULL};
static const char *const CELL_KEYS[] = {"frames", "correct", "agree", "kl_sum", "accuracy", "agreement", "mean_kl",
                                        NULL};

static json_t *object(json_t *o, const char *name, const char *key, cb_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v) cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is missing", name, key);
    else if (!json_is_object(v)) cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected an object", name, key), v = NULL;
    return v;
}

/* a stored rate must be the one the counts give (null when there are no frames) */
static int same_rate(json_t *o, const char *name, const char *key, double want, cb_err *e) {
    double got;
    int rc = rj_num(o, name, key, 1, &got, e);
    if (rc) return rc;
    if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= 1e-12 * fabs(want)))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is %.17g, but the counts give %.17g", name, key, got, want);
    return 0;
}

static int decode_cell(run_app_cell *c, json_t *o, const char *name, int original, cb_err *e) {
    int rc;
    if ((rc = rj_only(o, name, CELL_KEYS, e))) return rc;
    if (original && json_object_get(o, "mean_kl"))
        return cb_fail(e, CB_EFORMAT, "%s: unknown key \"mean_kl\" (the original look has no divergence)", name);
    if ((rc = rj_int(o, name, "frames", 0, INT64_MAX, &c->frames, e))) return rc;
    if ((rc = rj_int(o, name, "correct", 0, c->frames, &c->correct, e))) return rc;
    if ((rc = rj_int(o, name, "agree", 0, c->frames, &c->agree, e))) return rc;
    if ((rc = rj_num(o, name, "kl_sum", 0, &c->kl_sum, e))) return rc;
    if (!(c->kl_sum >= 0 && isfinite(c->kl_sum)))
        return cb_fail(e, CB_EFORMAT, "%s: key \"kl_sum\" is %g, not a finite number >= 0", name, c->kl_sum);
    if (original && (c->agree != c->frames || c->kl_sum != 0))
        return cb_fail(e, CB_EFORMAT, "%s: the original look must agree with itself (agree = frames, kl_sum = 0)",
                       name);
    if ((rc = same_rate(o, name, "accuracy", rate(c->correct, c->frames), e)) ||
        (rc = same_rate(o, name, "agreement", rate(c->agree, c->frames), e)))
        return rc;
    if (!original && (rc = same_rate(o, name, "mean_kl", c->frames ? c->kl_sum / (double)c->frames : NAN, e)))
        return rc;
    return 0;
}

/* a closed-loop cell: outcomes that add up, the success the counts give and
 * an interval around it inside [0, 1] (all three null when empty) */
static int decode_play(run_app_play *c, json_t *o, const char *name, cb_err *e) {
    int rc;
    if ((rc = rj_only(o, name, PLAY_KEYS, e))) return rc;
    if ((rc = rj_int(o, name, "episodes", 0, INT64_MAX, &c->episodes, e)) ||
        (rc = rj_int(o, name, "coins", 0, c->episodes, &c->coins, e)) ||
        (rc = rj_int(o, name, "deaths", 0, c->episodes, &c->deaths, e)) ||
        (rc = rj_int(o, name, "timeouts", 0, c->episodes, &c->timeouts, e)))
        return rc;
    if (c->coins + c->deaths + c->timeouts != c->episodes)
        return cb_fail(e, CB_EFORMAT, "%s: coins %lld + deaths %lld + timeouts %lld is not episodes %lld (every episode "
                                      "ends in one of them)",
                       name, (long long)c->coins, (long long)c->deaths, (long long)c->timeouts,
                       (long long)c->episodes);
    if ((rc = same_rate(o, name, "success", rate(c->coins, c->episodes), e))) return rc;
    c->success = rate(c->coins, c->episodes);
    if ((rc = rj_num(o, name, "success_lo", 1, &c->success_lo, e)) ||
        (rc = rj_num(o, name, "success_hi", 1, &c->success_hi, e)))
        return rc;
    if (c->episodes == 0) {
        if (!isnan(c->success_lo) || !isnan(c->success_hi))
            return cb_fail(e, CB_EFORMAT, "%s: no episodes, so \"success_lo\" and \"success_hi\" must be null", name);
        c->success_lo = c->success_hi = NAN;
        return 0;
    }
    /* the Wilson interval holds the rate (up to rounding) and lies in [0, 1] */
    if (!(c->success_lo >= 0 && c->success_lo <= c->success + 1e-12 && c->success_hi >= c->success - 1e-12 &&
          c->success_hi <= 1))
        return cb_fail(e, CB_EFORMAT,
                       "%s: the interval [%.17g, %.17g] does not hold success %.17g inside [0, 1] (expected the 95%% "
                       "Wilson interval of coins / episodes)",
                       name, c->success_lo, c->success_hi, c->success);
    return 0;
}

/* "strip" (optional: records from before the strip have none): the states
 * of the example frames, 1..RUN_APP_STRIP_MAX of them, training levels
 * (outside the held-out range) first, each step one of the level's states */
static const char *const STRIP_KEYS[] = {"level", "layout", "step", NULL};

static int decode_strip(run_appearance *v, json_t *o, const char *name, cb_err *e) {
    json_t *a = json_object_get(o, "strip");
    if (!a) return 0;
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > RUN_APP_STRIP_MAX)
        return cb_fail(e, CB_EFORMAT, "%s: key \"strip\": expected an array of 1 to %d states", name,
                       RUN_APP_STRIP_MAX);
    char sub[600], s[16];
    int rc;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i);
        snprintf(sub, sizeof sub, "%s: strip[%zu]", name, i);
        if (!json_is_object(x)) return cb_fail(e, CB_EFORMAT, "%s: expected an object", sub);
        int64_t lv, st;
        if ((rc = rj_only(x, sub, STRIP_KEYS, e)) || (rc = rj_int(x, sub, "level", INT32_MIN, INT32_MAX, &lv, e)) ||
            (rc = rj_str(x, sub, "layout", s, sizeof s, e)) ||
            (rc = rj_int(x, sub, "step", 0, v->states_per_level - 1, &st, e)))
            return rc;
        if (strcmp(s, "seen") && strcmp(s, "heldout"))
            return cb_fail(e, CB_EFORMAT, "%s: key \"layout\" is \"%s\", not seen or heldout", sub, s);
        int held = !strcmp(s, "heldout"), in = lv >= v->level_lo && lv <= v->level_hi;
        if (held != in)
            return cb_fail(e, CB_EFORMAT, "%s: level %lld is %s the held-out levels %d-%d but its layout is \"%s\"",
                           sub, (long long)lv, in ? "among" : "outside", v->level_lo, v->level_hi, s);
        if (i > 0 && v->strip[i - 1].heldout && !held)
            return cb_fail(e, CB_EFORMAT, "%s: a training level after a held-out one (training levels come first)", sub);
        v->strip[i].level = (int32_t)lv;
        v->strip[i].heldout = held;
        v->strip[i].step = st;
    }
    v->nstrip = (int)json_array_size(a);
    return 0;
}

/* the top-level scalars: the format, the keys, the checkpoint, the mode,
 * the levels, the training levels, states, noise, seed and donors */
static int decode_header(run_appearance *v, json_t *o, const char *name, cb_err *e) {
    char s[64];
    int64_t k;
    int rc;
    if (!json_object_get(o, "format"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"format\" is missing (expected \"%s\")", name, FORMAT);
    if ((rc = rj_header(o, name, FORMAT, &v->version, e)) || (rc = rj_only(o, name, KEYS, e)) ||
        (rc = rj_str(o, name, "checkpoint", v->checkpoint, sizeof v->checkpoint, e)) ||
        (rc = rj_str(o, name, "mode", s, sizeof s, e)))
        return rc;
    if (strcmp(s, "easy") && strcmp(s, "hard"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"mode\" is \"%s\", not easy or hard", name, s);
    v->hard = !strcmp(s, "hard");
    if ((rc = rj_str(o, name, "levels", s, sizeof s, e))) return rc;
    if (cb_parse_range(s, &v->level_lo, &v->level_hi))
        return cb_fail(e, CB_EFORMAT, "%s: key \"levels\" is \"%s\", not a range A-B of level seeds", name, s);
    if ((rc = rj_int(o, name, "train_levels", 1, INT32_MAX, &k, e))) return rc;
    v->train_levels = (int)k;
    if ((rc = rj_int(o, name, "states_per_level", 1, INT32_MAX, &v->states_per_level, e))) return rc;
    if ((rc = rj_num(o, name, "noise", 0, &v->noise, e))) return rc;
    if (!(v->noise >= 0 && v->noise <= 1))
        return cb_fail(e, CB_EFORMAT, "%s: key \"noise\" is %g, outside [0, 1]", name, v->noise);
    if ((rc = rj_int(o, name, "seed", 0, INT64_MAX, &v->seed, e))) return rc;
    if ((rc = rj_int(o, name, "donors", 1, 16, &k, e))) return rc;
    v->donors = (int)k;
    return 0;
}

/* "looks": the counts of seen and unseen backgrounds, pairs and looks, and
 * that they fit together */
static int decode_looks(run_appearance *v, json_t *o, const char *name, cb_err *e) {
    char sub[600];
    int64_t k;
    int rc;
    snprintf(sub, sizeof sub, "%s: looks", name);
    json_t *lo = object(o, name, "looks", e);
    if (!lo) return CB_EFORMAT;
    if ((rc = rj_only(lo, sub, LOOK_KEYS, e))) return rc;
    int *dst[] = {&v->seen_backgrounds, &v->seen_pairs, &v->seen_looks, &v->unseen_backgrounds, &v->unseen_pairs,
                  &v->unseen_looks};
    const int64_t hi[] = {NBG, NPAIR, NBG * NPAIR, NBG, NPAIR, NBG * NPAIR};
    for (int i = 0; i < 6; i++) {
        if ((rc = rj_int(lo, sub, LOOK_KEYS[i], i < 3 ? 1 : 0, hi[i], &k, e))) return rc;
        *dst[i] = (int)k;
    }
    int want_bg = v->hard ? NBG - v->seen_backgrounds : 0, want_pair = v->hard ? NPAIR - v->seen_pairs : 0;
    if (v->unseen_backgrounds != want_bg || v->unseen_pairs != want_pair ||
        v->unseen_looks != v->unseen_backgrounds * v->unseen_pairs || v->seen_looks > v->train_levels ||
        v->seen_looks < v->seen_backgrounds || v->seen_looks < v->seen_pairs ||
        v->seen_looks > v->seen_backgrounds * v->seen_pairs ||
        (!v->hard && (v->seen_backgrounds != 1 || v->seen_pairs != 1 || v->seen_looks != 1)))
        return cb_fail(e, CB_EFORMAT,
                       "%s: the counts of seen and unseen looks do not fit together (unseen backgrounds are 62 - seen, "
                       "unseen pairs 30 - seen, unseen looks their product; in easy mode one look is seen and none is "
                       "unseen)",
                       sub);
    return 0;
}

/* "offline": its five cells, and their frames as the levels, the states and
 * the donors give them */
static int decode_offline(run_appearance *v, json_t *o, const char *name, cb_err *e) {
    char sub[600];
    int rc;
    json_t *co = object(o, name, "offline", e);
    if (!co) return CB_EFORMAT;
    const char *key;
    json_t *val;
    json_object_foreach(co, key, val) {
        int ok = 0;
        for (int i = 0; i < NCELLS && !ok; i++) ok = !strcmp(key, CELLS[i].key);
        if (!ok) return cb_fail(e, CB_EFORMAT, "%s: offline: unknown key \"%s\"", name, key);
    }
    for (int i = 0; i < NCELLS; i++) {
        snprintf(sub, sizeof sub, "%s: offline", name);
        json_t *c = object(co, sub, CELLS[i].key, e);
        if (!c) return CB_EFORMAT;
        snprintf(sub, sizeof sub, "%s: offline.%s", name, CELLS[i].key);
        if ((rc = decode_cell(&v->cell[CELLS[i].layout][CELLS[i].look], c, sub, CELLS[i].look == 0, e))) return rc;
    }
    int64_t nheld = (int64_t)v->level_hi - v->level_lo + 1, S = v->states_per_level, K = v->donors;
    int64_t tS, hS, KtS, KhS;
    if (__builtin_mul_overflow((int64_t)v->train_levels, S, &tS) || __builtin_mul_overflow(nheld, S, &hS) ||
        __builtin_mul_overflow(K, tS, &KtS) || __builtin_mul_overflow(K, hS, &KhS))
        return cb_fail(e, CB_EFORMAT, "%s: levels x states x donors overflow a 64-bit count", name);
    const run_app_cell(*c)[RUN_APP_LOOKS] = v->cell;
    int64_t want[NCELLS] = {tS, v->unseen_looks ? KtS : 0, hS, KhS, v->unseen_looks ? KhS : 0};
    for (int i = 0; i < NCELLS; i++)
        if (c[CELLS[i].layout][CELLS[i].look].frames != want[i])
            return cb_fail(e, CB_EFORMAT,
                           "%s: offline.%s has %lld frames; %d training levels, levels %d-%d, %lld states per level "
                           "and %d donors give %lld",
                           name, CELLS[i].key, (long long)c[CELLS[i].layout][CELLS[i].look].frames, v->train_levels,
                           v->level_lo, v->level_hi, (long long)S, v->donors, (long long)want[i]);
    return 0;
}

/* "closed_loop": one greedy episode per (level, look) in each of its parts */
static int decode_closed_loop(run_appearance *v, json_t *o, const char *name, cb_err *e) {
    char sub[600];
    int rc;
    if (!json_object_get(o, "closed_loop"))
        return cb_fail(e, CB_EFORMAT,
                       "%s: key \"closed_loop\" is missing (a record of the offline part alone, from before the "
                       "closed loop; run coinbc appearance again)",
                       name);
    json_t *po = object(o, name, "closed_loop", e);
    if (!po) return CB_EFORMAT;
    const char *key;
    json_t *val;
    json_object_foreach(po, key, val) {
        int ok = 0;
        for (int i = 0; i < RUN_APP_PLAYS && !ok; i++) ok = !strcmp(key, PLAYS[i]);
        if (!ok) return cb_fail(e, CB_EFORMAT, "%s: closed_loop: unknown key \"%s\"", name, key);
    }
    /* no overflow: below the frames' products, checked by decode_offline */
    int64_t nheld = (int64_t)v->level_hi - v->level_lo + 1, K = v->donors, t = v->train_levels, Kt = K * t, Kh = K * nheld;
    int64_t wantp[RUN_APP_PLAYS] = {t, v->unseen_looks ? Kt : 0, Kh, nheld};
    for (int i = 0; i < RUN_APP_PLAYS; i++) {
        snprintf(sub, sizeof sub, "%s: closed_loop", name);
        json_t *pc = object(po, sub, PLAYS[i], e);
        if (!pc) return CB_EFORMAT;
        snprintf(sub, sizeof sub, "%s: closed_loop.%s", name, PLAYS[i]);
        if ((rc = decode_play(&v->play[i], pc, sub, e))) return rc;
        if (v->play[i].episodes != wantp[i])
            return cb_fail(e, CB_EFORMAT,
                           "%s has %lld episodes; %d training levels, levels %d-%d and %d donors give %lld (one per "
                           "level and look)",
                           sub, (long long)v->play[i].episodes, v->train_levels, v->level_lo, v->level_hi, v->donors,
                           (long long)wantp[i]);
    }
    return 0;
}

static int decode(void *p, json_t *o, const char *name, cb_err *e) {
    run_appearance *v = p;
    int rc;
    if ((rc = decode_header(v, o, name, e)) || (rc = decode_looks(v, o, name, e)) || (rc = decode_offline(v, o, name, e)) ||
        (rc = decode_strip(v, o, name, e)) || (rc = decode_closed_loop(v, o, name, e)))
        return rc;
    return 0;
}

int run_appearance_decode(run_appearance *v, const char *text, size_t n, const char *name, cb_err *e) {
    return rj_decode(v, sizeof *v, decode, text, n, name, e);
}

int run_appearance_write(const char *dir, const run_appearance *v, cb_err *e) {
    run_text t = {0};
    return rj_write(dir, "appearance.json", &t, run_appearance_encode(&t, v, e), e);
}

int run_appearance_read(run_appearance *v, const char *dir, cb_err *e) {
    return rj_read_record(v, sizeof *v, decode, dir, "appearance.json", RUN_RECORD_MAX_BYTES, e);
}
