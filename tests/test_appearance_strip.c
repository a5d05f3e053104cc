/* test_appearance_strip.c - the appearance probe's strip of example frames
 * (eval/appearance_strip.c): its states are the ones the documented rule
 * picks; its frames are the engine's frames of those states in the looks
 * the documented donor rule gives (each level's noisy expert play and its
 * looks written out here); its labels are the expert's and the policy's
 * argmax; the drawn sheet holds those frames and labels and its PNG is the
 * sheet's; nothing depends on the thread count; easy mode has no unseen
 * column; appearance.json's "strip" key; `coinbc appearance` writes the
 * strip beside its record and `coinbc report` embeds it, or says why not
 * when the strip or the checkpoint is gone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "eval/eval.h"
#include "game/game.h"
#include "run/run.h"
#include "tests/support/run.h"

/* A policy that reads the look: action a's logit is the mean of colour
 * channel a % 3 over a band of columns, so another look can move it. */
static int band_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    (void)self, (void)worker, (void)e;
    for (int i = 0; i < n; i++) {
        const uint8_t *f = frames + (size_t)i * CB_FRAME_BYTES;
        float *p = probs + (size_t)i * CB_NUM_ACTIONS;
        double z = 0;
        for (int a = 0; a < CB_NUM_ACTIONS; a++) {
            long sum = 0;
            for (int y = 0; y < CB_FRAME_H; y++)
                for (int x = a * 4; x < a * 4 + 4; x++) sum += f[((size_t)y * CB_FRAME_W + x) * 3 + a % 3];
            p[a] = (float)exp((double)sum / (CB_FRAME_W * 4 * 32.0));
            z += p[a];
        }
        for (int a = 0; a < CB_NUM_ACTIONS; a++) p[a] = (float)(p[a] / z);
    }
    return 0;
}

static const int32_t TRAIN[4] = {21, 22, 23, 24}, HELD[3] = {60, 61, 62};
#define K 2

static eval_app_opts opts(const eval_policy *pol, int mode, int threads, uint64_t seed) {
    return (eval_app_opts){.policy = pol, .mode = mode, .train = TRAIN, .ntrain = 4, .heldout = HELD, .nheldout = 3,
                           .states = 7, .noise = 0.3, .seed = seed, .donors = K, .threads = threads};
}

/* the choice of states, as docs/FORMATS.md gives it: k distinct indices
 * drawn uniformly (all when there are no more than k), ascending */
static int draw_indices(int *out, int k, int n, cb_rng *r) {
    int m = 0;
    if (n <= k) {
        for (; m < n; m++) out[m] = m;
        return m;
    }
    while (m < k) {
        int v = (int)cb_rng_below(r, (uint32_t)n), seen = 0;
        for (int j = 0; j < m; j++) seen |= out[j] == v;
        if (!seen) out[m++] = v;
    }
    if (out[0] > out[1]) {
        int t = out[0];
        out[0] = out[1];
        out[1] = t;
    }
    return m;
}

/* The looks the probe gives level L, by the documented rule: per level the
 * stream cb_rng_seed2(S ^ 0x6170706561720001, seed); a held-out level draws
 * K training levels (no repeats while there are K distinct ones) and takes
 * their looks; then every level draws K unseen looks by index, each with a
 * fresh offset and enemy and crate themes. Returns the first of each kind. */
static void documented_looks(game_appearance *seen, int32_t *seen_donor, game_appearance *unseen, int *has_unseen,
                             const game_level *L, int heldout, const eval_app_opts *o,
                             const game_appearance_sets *sets) {
    cb_rng r;
    cb_rng_seed2(&r, o->seed ^ 0x6170706561720001ull, (uint64_t)(uint32_t)L->seed);
    cb_err e = {0};
    if (heldout) {
        int32_t d[K];
        for (int k = 0; k < o->donors; k++) {
            for (;;) {
                d[k] = o->train[cb_rng_below(&r, (uint32_t)o->ntrain)];
                int rep = 0;
                for (int j = 0; j < k; j++) rep |= d[j] == d[k];
                if (!rep || sets->nlevels < o->donors) break;
            }
        }
        game_level *D = malloc(sizeof *D);
        assert_non_null(D);
        assert_int_equal(game_level_generate(D, NULL, d[0], o->mode, &e), 0);
        game_level_get_appearance(seen, D);
        *seen_donor = d[0];
        free(D);
    }
    *has_unseen = sets->nunseen > 0;
    for (int k = 0; k < o->donors && *has_unseen; k++) {
        game_appearance a;
        game_level_get_appearance(&a, L);
        int u = (int)cb_rng_below(&r, (uint32_t)sets->nunseen);
        assert_int_equal(game_appearance_sets_unseen(&a.bg_index, &a.wall_theme, &a.player_theme, sets, u, &e), 0);
        a.bg_pct_x = cb_rng_uniformf(&r);
        for (int i = 0; i < a.nenemies; i++) a.enemy_theme[i] = (uint8_t)cb_rng_below(&r, GAME_NUM_ENEMY_THEMES);
        for (int i = 0; i < a.ncrates; i++) a.crate_theme[i] = (uint8_t)cb_rng_below(&r, GAME_NUM_CRATE_THEMES);
        if (k == 0) *unseen = a;
    }
}

/* Checks row w against the engine: the level's play as `coinbc record
 * --noise EPS --seed S` plays it, written out here, to the row's step; the
 * frames of that state in each look, the expert's label, the policy's
 * argmax on each frame. */
static void check_row(const eval_app_strip_row *w, const eval_app_opts *o, const game_appearance_sets *sets) {
    cb_err e = {0};
    game_env *env = malloc(sizeof *env);
    game_level *V = malloc(sizeof *V);
    game_expert ex;
    assert_non_null(env);
    assert_non_null(V);
    assert_int_equal(game_env_init(env, w->seed, o->mode, &e), 0);
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    cb_rng noise;
    cb_rng_seed2(&noise, o->seed, (uint64_t)(uint32_t)w->seed);
    int label = -1;
    for (int64_t t = 0;; t++) {
        int rc = game_expert_act(&ex, &env->level, &env->state, &label, &e);
        assert_true(rc == 0 || rc == GAME_EXPERT_ENOPATH || rc == GAME_EXPERT_EBUDGET);
        if (t == w->step) break;
        int act = label;
        if (cb_rng_uniform(&noise) < o->noise) act = (int)cb_rng_below(&noise, CB_NUM_ACTIONS);
        game_env_step(env, act, NULL);
    }
    game_expert_free(&ex);
    assert_int_equal(w->label, label);
    game_appearance seen, unseen;
    int32_t donor = -1;
    int has_unseen = 0;
    documented_looks(&seen, &donor, &unseen, &has_unseen, &env->level, w->heldout, o, sets);
    assert_true(w->has[EVAL_APP_ORIG]);
    assert_int_equal(w->has[EVAL_APP_SEEN], w->heldout);
    assert_int_equal(w->has[EVAL_APP_UNSEEN], has_unseen);
    assert_int_equal(w->seen_donor, w->heldout ? donor : -1);
    for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
        if (!w->has[k]) {
            assert_int_equal(w->action[k], -1);
            continue;
        }
        uint8_t f[CB_FRAME_BYTES];
        *V = env->level;
        if (k == EVAL_APP_SEEN) assert_int_equal(game_level_set_appearance(V, &seen, &e), 0);
        if (k == EVAL_APP_UNSEEN) {
            assert_int_equal(game_level_set_appearance(V, &unseen, &e), 0);
            assert_int_equal(w->unseen_look[0], unseen.bg_index);
            assert_int_equal(w->unseen_look[1], unseen.wall_theme);
            assert_int_equal(w->unseen_look[2], unseen.player_theme);
            assert_false(sets->bg_seen[unseen.bg_index]);
        }
        game_render(f, V, &env->state, &env->trails);
        assert_memory_equal(w->frame[k], f, CB_FRAME_BYTES);
        float p[CB_NUM_ACTIONS];
        band_probs(NULL, 0, f, 1, p, &e);
        assert_int_equal(w->action[k], cb_argmax(p, CB_NUM_ACTIONS));
    }
    free(env);
    free(V);
}

/* the rows the documented choice gives for o */
static void check_choice(const eval_app_strip *s, const eval_app_opts *o) {
    cb_rng r;
    cb_rng_seed2(&r, o->seed ^ 0x6170706561720002ull, 0);
    int idx[EVAL_APP_STRIP_ROWS];
    int nt = draw_indices(idx, EVAL_APP_STRIP_TRAIN, o->ntrain, &r);
    int nh = draw_indices(idx + nt, EVAL_APP_STRIP_HELD, o->nheldout, &r);
    assert_int_equal(s->nrows, nt + nh);
    for (int i = 0; i < nt + nh; i++) {
        assert_int_equal(s->row[i].heldout, i >= nt);
        assert_int_equal(s->row[i].seed, i >= nt ? o->heldout[idx[i]] : o->train[idx[i]]);
        assert_int_equal(s->row[i].step, (int64_t)cb_rng_below(&r, (uint32_t)o->states));
    }
}

static void test_strip_is_the_engines(void **st) {
    (void)st;
    eval_policy pol = {.probs = band_probs};
    game_appearance_sets sets;
    cb_err e = {0};
    int moved = 0, agree = 0, disagree = 0;
    for (uint64_t seed = 4; seed < 7; seed++) {
        eval_app_opts o = opts(&pol, GAME_HARD, 1, seed);
        assert_int_equal(game_appearance_sets_build(&sets, o.train, o.ntrain, o.mode, &e), 0);
        assert_true(sets.nunseen > 0);
        eval_app_strip *s = malloc(sizeof *s), *s3 = malloc(sizeof *s3);
        assert_non_null(s);
        assert_non_null(s3);
        int rc = eval_appearance_strip(s, &o, &sets, &e);
        if (rc) fail_msg("%s", e.msg);
        check_choice(s, &o);
        assert_int_equal(s->nrows, 4);
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) assert_int_equal(s->cols[k], 1);
        for (int i = 0; i < s->nrows; i++) {
            check_row(&s->row[i], &o, &sets);
            for (int k = 1; k < EVAL_APP_NLOOKS; k++)
                if (s->row[i].has[k]) moved |= s->row[i].action[k] != s->row[i].action[0];
            for (int k = 0; k < EVAL_APP_NLOOKS; k++)
                if (s->row[i].has[k]) {
                    agree += s->row[i].action[k] == s->row[i].label;
                    disagree += s->row[i].action[k] != s->row[i].label;
                }
        }
        /* three threads: the same strip */
        eval_app_opts o3 = opts(&pol, GAME_HARD, 3, seed);
        assert_int_equal(eval_appearance_strip(s3, &o3, &sets, &e), 0);
        assert_memory_equal(s, s3, sizeof *s);
        free(s);
        free(s3);
    }
    /* this policy reads the look: the strips show a moved decision, and both labels' colours */
    assert_true(moved);
    assert_true(agree > 0 && disagree > 0);
}

/* The drawn sheet: each frame in its cell, the labels under it, and the
 * PNG written beside a record is the sheet's encoding. */
static void test_strip_sheet_and_file(void **st) {
    (void)st;
    eval_policy pol = {.probs = band_probs};
    eval_app_opts o = opts(&pol, GAME_HARD, 2, 5);
    game_appearance_sets sets;
    cb_err e = {0};
    assert_int_equal(game_appearance_sets_build(&sets, o.train, o.ntrain, o.mode, &e), 0);
    eval_app_strip *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(eval_appearance_strip(s, &o, &sets, &e), 0);
    eval_sheet sh, want;
    assert_int_equal(eval_appearance_strip_draw(&sh, s, &e), 0);
    assert_int_equal(sh.rows, s->nrows);
    assert_int_equal(sh.cols, 3);
    /* the labels, drawn alone on a blank sheet of the same shape */
    assert_int_equal(eval_sheet_init(&want, sh.rows, sh.cols, sh.head_w, sh.top, 3, &e), 0);
    assert_int_equal(want.w, sh.w);
    assert_int_equal(want.h, sh.h);
    static const uint8_t white[3] = {255, 255, 255}, gray[3] = {150, 150, 150}, green[3] = {90, 230, 90},
                         red[3] = {255, 90, 90}, orange[3] = {255, 170, 60};
    for (int i = 0; i < s->nrows; i++) {
        const eval_app_strip_row *w = &s->row[i];
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            if (!w->has[k]) continue;
            char t[64];
            snprintf(t, sizeof t, "E:%s", game_action_name(w->label));
            eval_sheet_label(&want, i, k, 0, t, white);
            int ok = w->action[k] == w->label;
            snprintf(t, sizeof t, "P:%s %s", game_action_name(w->action[k]), ok ? "OK" : "X");
            eval_sheet_label(&want, i, k, 1, t, ok ? green : red);
            if (k > 0) {
                int same = w->action[k] == w->action[0];
                eval_sheet_label(&want, i, k, 2, same ? "SAME AS OWN" : "MOVED", same ? gray : orange);
            }
            int x, y;
            eval_sheet_frame_xy(&sh, i, k, &x, &y);
            /* the frame, pixel for pixel */
            for (int r = 0; r < CB_FRAME_H; r++)
                assert_memory_equal(sh.rgb + ((size_t)(y + r) * sh.w + x) * 3, w->frame[k] + (size_t)r * CB_FRAME_W * 3,
                                    CB_FRAME_W * 3);
            /* the label lines under it */
            for (int r = y + CB_FRAME_W; r < y + CB_FRAME_W + 1 + 3 * 8 && r < sh.h; r++)
                assert_memory_equal(sh.rgb + ((size_t)r * sh.w + x) * 3, want.rgb + ((size_t)r * sh.w + x) * 3,
                                    CB_FRAME_W * 3);
        }
    }
    eval_sheet_free(&want);
    /* the file beside a record: the sheet's PNG, and its states for the record */
    char *root = test_tmpdir(), rec[4200], png[4300];
    snprintf(rec, sizeof rec, "%s/probe.json", root);
    assert_int_equal(eval_appearance_strip_path(png, sizeof png, rec, &e), 0);
    assert_string_equal(png + strlen(root), "/probe.png");
    run_appearance ra = {0};
    assert_int_equal(eval_appearance_strip_save(&ra, rec, &o, &sets, &e), 0);
    assert_int_equal(ra.nstrip, s->nrows);
    for (int i = 0; i < s->nrows; i++) {
        assert_int_equal(ra.strip[i].level, s->row[i].seed);
        assert_int_equal(ra.strip[i].heldout, s->row[i].heldout);
        assert_int_equal(ra.strip[i].step, s->row[i].step);
    }
    game_png enc;
    game_png_init(&enc);
    assert_int_equal(game_png_encode(&enc, sh.rgb, sh.w, sh.h, &e), 0);
    uint8_t *b;
    size_t n;
    assert_int_equal(cb_read_file(png, &b, &n, &e), 0);
    assert_int_equal(n, enc.n);
    assert_memory_equal(b, enc.data, n);
    free(b);
    game_png_free(&enc);
    /* a name without .json gets .png added */
    assert_int_equal(eval_appearance_strip_path(png, sizeof png, "a/rec", &e), 0);
    assert_string_equal(png, "a/rec.png");
    char tiny[8];
    assert_int_equal(eval_appearance_strip_path(tiny, sizeof tiny, "a/long.json", &e), CB_EARG);
    assert_non_null(strstr(e.msg, "a/long.json"));
    eval_sheet_free(&sh);
    free(s);
    test_rmtree(root);
    free(root);
}

/* Easy mode has no unseen looks: two columns, the training rows in their
 * own look alone; fewer levels than rows: every one of them. */
static void test_strip_easy_and_few_levels(void **st) {
    (void)st;
    eval_policy pol = {.probs = band_probs};
    eval_app_opts o = opts(&pol, GAME_EASY, 1, 2);
    o.ntrain = 1, o.nheldout = 1;
    game_appearance_sets sets;
    cb_err e = {0};
    assert_int_equal(game_appearance_sets_build(&sets, o.train, o.ntrain, o.mode, &e), 0);
    eval_app_strip *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(eval_appearance_strip(s, &o, &sets, &e), 0);
    check_choice(s, &o);
    assert_int_equal(s->nrows, 2);
    assert_int_equal(s->row[0].seed, TRAIN[0]);
    assert_int_equal(s->row[1].seed, HELD[0]);
    assert_true(s->cols[EVAL_APP_ORIG] && s->cols[EVAL_APP_SEEN] && !s->cols[EVAL_APP_UNSEEN]);
    for (int i = 0; i < s->nrows; i++) check_row(&s->row[i], &o, &sets);
    eval_sheet sh;
    assert_int_equal(eval_appearance_strip_draw(&sh, s, &e), 0);
    assert_int_equal(sh.cols, 2);
    assert_int_equal(sh.w, sh.head_w + 2 * sh.cell_w);
    eval_sheet_free(&sh);
    /* the probe's checks: K = 0 is refused */
    o.donors = 0;
    assert_int_equal(eval_appearance_strip(s, &o, &sets, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "--donors 0"));
    free(s);
}

/* appearance.json's optional "strip": the states the strip beside it shows */
static void test_record_strip_key(void **st) {
    (void)st;
    uint8_t *b;
    size_t n;
    cb_err e = {0};
    assert_int_equal(cb_read_file("tests/fuzz/corpus/appearance/appearance_v1", &b, &n, &e), 0);
    run_appearance a, back;
    assert_int_equal(run_appearance_decode(&a, (char *)b, n, "seed", &e), 0);
    free(b);
    assert_int_equal(a.nstrip, 0); /* a record from before the strip */
    run_text t = {0};
    assert_int_equal(run_appearance_encode(&t, &a, &e), 0);
    assert_null(strstr(t.s, "\"strip\""));
    run_text_free(&t);
    /* held-out levels a.level_lo..a.level_hi; training levels outside them */
    int32_t tr = a.level_lo > 0 ? a.level_lo - 1 : a.level_hi + 1;
    a.nstrip = 3;
    a.strip[0].level = tr, a.strip[0].heldout = 0, a.strip[0].step = 0;
    a.strip[1].level = a.level_lo, a.strip[1].heldout = 1, a.strip[1].step = a.states_per_level - 1;
    a.strip[2].level = a.level_hi, a.strip[2].heldout = 1, a.strip[2].step = 1;
    assert_int_equal(run_appearance_encode(&t, &a, &e), 0);
    char want[128];
    snprintf(want, sizeof want, "\"level\": %d,\n      \"layout\": \"heldout\",", a.level_lo);
    assert_non_null(strstr(t.s, want));
    assert_int_equal(run_appearance_decode(&back, t.s, t.len, "R/appearance.json", &e), 0);
    assert_memory_equal(&a, &back, sizeof a);
    run_text_free(&t);
    /* each of these is refused with a message naming the record and the state */
    for (int k = 0; k < 5; k++) {
        run_appearance m = a;
        const char *word = "\"step\"";
        if (k == 0) m.strip[1].step = a.states_per_level; /* past the level's states */
        if (k == 1) m.strip[1].step = -1;
        if (k == 2) m.strip[0].level = a.level_lo, word = "but its layout is"; /* "seen", inside the held-out range */
        if (k == 3) m.strip[1].heldout = 0, word = "but its layout is";       /* "seen", a held-out level */
        if (k == 4) m.strip[2].level = tr, m.strip[2].heldout = 0, word = "training levels come first";
        assert_int_equal(run_appearance_encode(&t, &m, &e), 0);
        int rc = run_appearance_decode(&back, t.s, t.len, "R/appearance.json", &e);
        if (rc != CB_EFORMAT || !strstr(e.msg, word) || !strstr(e.msg, "R/appearance.json: strip["))
            fail_msg("case %d: want an error naming \"%s\", got %d: %s", k, word, rc, e.msg);
        run_text_free(&t);
    }
    /* not an array of 1..4 states, or a state with another key: "strip" is the last key, so the text
     * from it to the end is replaced */
    assert_int_equal(run_appearance_encode(&t, &a, &e), 0);
    const char *forms[][2] = {
        {"\"strip\": 3\n}\n", "expected an array of 1 to 4"},
        {"\"strip\": []\n}\n", "expected an array of 1 to 4"},
        {"\"strip\": [1]\n}\n", "expected an object"},
        {"\"strip\": [{\"level\": 1, \"layout\": \"seen\", \"step\": 0, \"look\": 1}]\n}\n", "unknown key \"look\""},
        {"\"strip\": [{\"level\": 1, \"layout\": \"own\", \"step\": 0}]\n}\n", "not seen or heldout"},
    };
    const char *p = strstr(t.s, "\"strip\": [");
    assert_non_null(p);
    size_t pre = (size_t)(p - t.s);
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        char *m = malloc(pre + strlen(forms[k][0]) + 1);
        assert_non_null(m);
        memcpy(m, t.s, pre);
        strcpy(m + pre, forms[k][0]);
        int rc = run_appearance_decode(&back, m, strlen(m), "R/appearance.json", &e);
        if (rc != CB_EFORMAT || !strstr(e.msg, forms[k][1]) || !strstr(e.msg, "R/appearance.json"))
            fail_msg("form %zu: want \"%s\", got %d: %s", k, forms[k][1], rc, e.msg);
        free(m);
    }
    /* the untouched text reads */
    char *m = malloc(t.len + 1);
    assert_non_null(m);
    memcpy(m, t.s, t.len + 1);
    assert_int_equal(run_appearance_decode(&back, m, strlen(m), "R/appearance.json", &e), 0);
    free(m);
    run_text_free(&t);
}

/* ---- coinbc appearance and coinbc report, end to end -------------------- */

#define TINY_TRAIN "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 8 --epochs 1 --seed 5"

static void must_run(int rc, const char *what, const char *err) {
    if (rc != 0) fail_msg("%s: exit %d\n%s", what, rc, err);
}

__attribute__((noinline)) static char *slurp(const char *path, size_t *n) {
    uint8_t *b;
    cb_err e = {0};
    if (cb_read_file(path, &b, n, &e)) fail_msg("%s", e.msg);
    return (char *)b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void test_command_and_report(void **st) {
    (void)st;
    char *root = test_tmpdir();
    char data[4200], run[4200], out[65536], err[16384], p[4400], q[4400];
    snprintf(data, sizeof data, "%s/train.cbd", root);
    snprintf(run, sizeof run, "%s/run", root);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "record --levels 0-3 --mode hard --states 12 --noise 0.1 --seed 1 --threads 1 --quiet --out %s",
                      data),
             "record", err);
    must_run(test_run(out, sizeof out, err, sizeof err, "train %s --method mean " TINY_TRAIN " --quiet -o %s", data, run),
             "train", err);
    /* bad input writes nothing, the strip included */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "appearance %s --levels 100-101 --donors 0", run), 2);
    snprintf(p, sizeof p, "%s/appearance.png", run);
    assert_int_equal(access(p, F_OK), -1);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-102 --states 4 --donors 2 --seed 3 --threads 1", run),
             "appearance", err);
    run_appearance a;
    cb_err e = {0};
    if (run_appearance_read(&a, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(a.nstrip, 4);
    assert_true(!a.strip[0].heldout && !a.strip[1].heldout && a.strip[2].heldout && a.strip[3].heldout);
    size_t n1, n2;
    char *t1 = slurp(p, &n1);
    assert_memory_equal(t1, "\x89PNG\r\n\x1a\n", 8);
    /* three threads, and -o elsewhere: the same strip, beside that record */
    snprintf(q, sizeof q, "%s/t3.json", root);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-102 --states 4 --donors 2 --seed 3 --threads 3 -o %s", run, q),
             "appearance --threads 3", err);
    snprintf(q, sizeof q, "%s/t3.png", root);
    char *t2 = slurp(q, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t2);
    free(t1);
    /* the report embeds it */
    snprintf(q, sizeof q, "%s/r.html", root);
    must_run(test_run(out, sizeof out, err, sizeof err, "report %s -o %s", run, q), "report", err);
    char *page = slurp(q, &n1);
    assert_non_null(strstr(page, "<h3>Example frames</h3>"));
    assert_non_null(strstr(page, "<img class=\"strip\" alt=\"strip\" width=\"476\" src=\"data:image/png;base64,iVBOR"));
    assert_null(strstr(page, "nostrip\">"));
    free(page);
    /* a strip that is not a regular file is refused, unread, naming it */
    snprintf(q, sizeof q, "%s/strip.keep", root);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "report %s --json", run), 1);
    assert_non_null(strstr(err, "appearance.png"));
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rename(q, p), 0);
    snprintf(q, sizeof q, "%s/r.html", root);
    /* what coinbc compare keeps: the summaries, no checkpoint, no strip */
    char kept[4300];
    snprintf(kept, sizeof kept, "%s/kept", root);
    assert_int_equal(sh("mkdir %s && cp %s/config.json %s/metrics.csv %s/metrics.jsonl %s/appearance.json %s/", kept,
                        run, run, run, run, kept),
                     0);
    must_run(test_run(out, sizeof out, err, sizeof err, "report %s %s -o %s", run, kept, q), "report kept", err);
    page = slurp(q, &n1);
    assert_non_null(strstr(page, "<img class=\"strip\""));
    char *why = strstr(page, "<p class=\"nostrip\">kept: no strip, appearance.json lists the 4 states of one, but "
                             "appearance.png is not in the folder");
    assert_non_null(why);
    /* the record's checkpoint is run/best.ckpt, still there: the command that draws it again */
    assert_non_null(strstr(why, "its checkpoint is there, so <code>coinbc appearance RUN --levels 100-102 --mode hard "
                                "--states 4 --donors 2 --noise 0.1 --seed 3</code>"));
    free(page);
    /* the checkpoint gone too */
    assert_int_equal(sh("mv %s/best.ckpt %s/best.ckpt.away", run, root), 0);
    must_run(test_run(out, sizeof out, err, sizeof err, "report %s -o %s", kept, q), "report no checkpoint", err);
    page = slurp(q, &n1);
    why = strstr(page, "<p class=\"nostrip\">kept: no strip");
    assert_non_null(why);
    assert_non_null(strstr(why, "is not kept (coinbc compare, for one, keeps only its runs' summaries)"));
    assert_non_null(strstr(why, "/run/best.ckpt"));
    free(page);
    /* a record from before the strip lists none */
    run_appearance old;
    run_text ot = {0};
    if (run_appearance_read(&old, kept, &e)) fail_msg("%s", e.msg);
    old.nstrip = 0;
    char ap[4400];
    snprintf(ap, sizeof ap, "%s/appearance.json", kept);
    assert_int_equal(run_appearance_encode(&ot, &old, &e), 0);
    assert_null(strstr(ot.s, "\"strip\""));
    assert_int_equal(cb_write_file_atomic(ap, ot.s, ot.len, &e), 0);
    run_text_free(&ot);
    must_run(test_run(out, sizeof out, err, sizeof err, "report %s -o %s", kept, q), "report old record", err);
    page = slurp(q, &n1);
    assert_non_null(strstr(page, "kept: no strip, appearance.json lists none (it was written before coinbc appearance "
                                 "drew one)"));
    free(page);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_is_the_engines),
        cmocka_unit_test(test_strip_sheet_and_file),
        cmocka_unit_test(test_strip_easy_and_few_levels),
        cmocka_unit_test(test_record_strip_key),
        cmocka_unit_test(test_command_and_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
