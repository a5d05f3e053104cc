/* test_appearance_rollout.c - the appearance probe's closed loop
 * (eval/appearance_rollout.c): its episodes carry the offline
 * probe's looks, its results equal a greedy replay written here (one level,
 * one frame at a time), they do not depend on the thread count nor on how
 * the episodes are split (what mpirun's ranks do), easy mode leaves
 * seen/unseen empty, bad options are refused; appearance.json's closed_loop
 * block and its strict reader; and `coinbc appearance` end to end, whose
 * own-look cells are `coinbc rollout`'s greedy play of the same levels. */
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

/* A policy that reads the look: logits from the mean colour of bands of
 * rows, so another look moves its decisions (and its play). */
static int colour_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    (void)self, (void)worker, (void)e;
    for (int i = 0; i < n; i++) {
        const uint8_t *f = frames + (size_t)i * CB_FRAME_BYTES;
        double l[CB_NUM_ACTIONS], mx = -1e300, z = 0;
        for (int a = 0; a < CB_NUM_ACTIONS; a++) {
            long sum = 0;
            for (int y = a * 4; y < a * 4 + 4; y++)
                for (int x = 0; x < CB_FRAME_W; x++) sum += f[((size_t)y * CB_FRAME_W + x) * 3 + (a + 1) % 3];
            /* favour moving right a little, so some episodes end before the timeout */
            l[a] = (double)sum / (4.0 * CB_FRAME_W * 16.0) + (a == 7 || a == 8 ? 3.0 : 0.0);
            if (l[a] > mx) mx = l[a];
        }
        for (int a = 0; a < CB_NUM_ACTIONS; a++) z += exp(l[a] - mx);
        for (int a = 0; a < CB_NUM_ACTIONS; a++) probs[(size_t)i * CB_NUM_ACTIONS + a] = (float)(exp(l[a] - mx) / z);
    }
    return 0;
}

static const int32_t TRAIN[3] = {21, 22, 23}, HELD[2] = {60, 61};
#define NL 5
#define K 2

static eval_app_opts opts(const eval_policy *pol, int mode, int threads) {
    return (eval_app_opts){.policy = pol, .mode = mode, .train = TRAIN, .ntrain = 3, .heldout = HELD, .nheldout = 2,
                           .states = 4, .noise = 0.1, .seed = 9, .donors = K, .threads = threads};
}

/* one greedy episode of `seed` in look `a`, written out here */
static void replay(eval_level_result *r, int32_t seed, int mode, const game_appearance *a) {
    memset(r, 0, sizeof *r);
    r->seed = seed;
    game_env env;
    cb_err e = {0};
    assert_int_equal(game_env_init(&env, seed, mode, &e), 0);
    assert_int_equal(game_level_set_appearance(&env.level, a, &e), 0);
    uint8_t f[CB_FRAME_BYTES];
    float p[CB_NUM_ACTIONS];
    for (int t = 1;; t++) {
        game_env_render(&env, f);
        colour_probs(NULL, 0, f, 1, p, &e);
        game_step_out so;
        game_env_step(&env, cb_argmax(p, CB_NUM_ACTIONS), &so);
        r->steps++;
        if (!so.done) continue;
        r->episodes = 1;
        if (so.outcome == GAME_COIN) r->coins = 1, r->steps_to_coin = t;
        else if (so.outcome == GAME_DEATH) r->deaths = 1;
        else r->timeouts = 1;
        break;
    }
}

static void test_episodes_carry_the_offline_looks(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_opts o = opts(&pol, GAME_HARD, 2);
    eval_app_episode *eps;
    int64_t n;
    game_appearance_sets sets;
    cb_err e = {0};
    int rc = eval_appearance_episodes(&eps, &n, &sets, &o, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_true(sets.nunseen > 0);
    assert_int_equal(n, NL * (1 + K));
    eval_app_level off[NL];
    game_appearance_sets s2;
    assert_int_equal(eval_appearance_offline(off, &s2, &o, &e), 0);
    int64_t j = 0;
    for (int i = 0; i < NL; i++) {
        int held = i >= 3;
        int32_t seed = held ? HELD[i - 3] : TRAIN[i];
        game_level *L = malloc(sizeof *L), *D = malloc(sizeof *D);
        assert_non_null(L);
        assert_non_null(D);
        assert_int_equal(game_level_generate(L, NULL, seed, GAME_HARD, &e), 0);
        game_appearance own;
        game_level_get_appearance(&own, L);
        assert_int_equal(eps[j].seed, seed);
        assert_int_equal(eps[j].cell, held ? EVAL_APP_UU : EVAL_APP_SS);
        assert_int_equal(eps[j].donor, -1);
        assert_memory_equal(&eps[j].look, &own, sizeof own);
        j++;
        for (int k = 0; k < K; k++, j++) {
            assert_int_equal(eps[j].seed, seed);
            assert_int_equal(eps[j].donor, k);
            const game_appearance *a = &eps[j].look;
            if (held) {
                /* the training level the offline probe named, its look */
                assert_int_equal(eps[j].cell, EVAL_APP_US);
                assert_int_equal(game_level_generate(D, NULL, off[i].seen_donor[k], GAME_HARD, &e), 0);
                assert_int_equal(a->bg_index, D->bg_index);
                assert_int_equal(a->wall_theme, D->wall_theme);
                assert_int_equal(a->player_theme, D->player_theme);
                assert_true(a->bg_pct_x == D->bg_pct_x);
            } else {
                /* the unseen look the offline probe gave this level */
                assert_int_equal(eps[j].cell, EVAL_APP_SU);
                assert_int_equal(a->bg_index, off[i].unseen_look[k][0]);
                assert_int_equal(a->wall_theme, off[i].unseen_look[k][1]);
                assert_int_equal(a->player_theme, off[i].unseen_look[k][2]);
                assert_false(sets.bg_seen[a->bg_index]);
                assert_false(sets.pair_seen[a->wall_theme][a->player_theme]);
            }
            assert_int_equal(a->nenemies, L->nenemies);
        }
        free(L);
        free(D);
    }
    free(eps);
}

static void test_play_against_replay_threads_and_split(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_opts o1 = opts(&pol, GAME_HARD, 1), o3 = opts(&pol, GAME_HARD, 3);
    eval_app_episode *eps;
    int64_t n;
    game_appearance_sets sets;
    cb_err e = {0};
    assert_int_equal(eval_appearance_episodes(&eps, &n, &sets, &o1, &e), 0);
    eval_level_result a[NL * (1 + K)], b[NL * (1 + K)], c[NL * (1 + K)];
    int rc = eval_appearance_play(a, eps, n, &o1, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(eval_appearance_play(b, eps, n, &o3, &e), 0);
    assert_memory_equal(a, b, sizeof a);
    /* split as two ranks would (3 + 12 episodes): the same results */
    assert_int_equal(eval_appearance_play(c, eps, 3, &o3, &e), 0);
    assert_int_equal(eval_appearance_play(c + 3, eps + 3, n - 3, &o1, &e), 0);
    assert_memory_equal(a, c, sizeof a);
    /* each episode is the greedy replay of its level in its look */
    int moved = 0;
    for (int64_t j = 0; j < n; j++) {
        eval_level_result r;
        replay(&r, eps[j].seed, GAME_HARD, &eps[j].look);
        assert_memory_equal(&a[j], &r, sizeof r);
        if (eps[j].donor >= 0) moved |= a[j].steps != a[j - 1 - eps[j].donor].steps;
    }
    assert_true(moved); /* this policy reads the look: some other look changes its play */
    /* the cells sum the episodes, with Wilson intervals */
    eval_app_play cell[EVAL_APP_NPLAY];
    eval_appearance_play_sum(cell, eps, a, n);
    assert_int_equal(cell[EVAL_APP_SS].episodes, 3);
    assert_int_equal(cell[EVAL_APP_SU].episodes, 3 * K);
    assert_int_equal(cell[EVAL_APP_US].episodes, 2 * K);
    assert_int_equal(cell[EVAL_APP_UU].episodes, 2);
    int64_t coins = 0;
    for (int64_t j = 0; j < n; j++) coins += a[j].coins;
    int64_t sum = 0;
    for (int k = 0; k < EVAL_APP_NPLAY; k++) {
        const eval_app_play *p = &cell[k];
        sum += p->coins;
        assert_int_equal(p->coins + p->deaths + p->timeouts, p->episodes);
        assert_true(p->success == (double)p->coins / (double)p->episodes);
        double lo, hi;
        eval_wilson(p->coins, p->episodes, &lo, &hi);
        assert_true(p->lo == lo && p->hi == hi);
    }
    assert_int_equal(sum, coins);
    free(eps);
}

static void test_easy_and_refusals(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_opts o = opts(&pol, GAME_EASY, 2);
    eval_app_episode *eps;
    int64_t n;
    game_appearance_sets sets;
    cb_err e = {0};
    assert_int_equal(eval_appearance_episodes(&eps, &n, &sets, &o, &e), 0);
    /* no unseen looks: training levels as they are; held-out levels as they are and in K seen looks */
    assert_int_equal(n, 3 + 2 * (1 + K));
    eval_level_result r[3 + 2 * (1 + K)];
    assert_int_equal(eval_appearance_play(r, eps, n, &o, &e), 0);
    eval_app_play cell[EVAL_APP_NPLAY];
    eval_appearance_play_sum(cell, eps, r, n);
    assert_int_equal(cell[EVAL_APP_SU].episodes, 0);
    assert_true(cell[EVAL_APP_SU].success == 0 && cell[EVAL_APP_SU].lo == 0 && cell[EVAL_APP_SU].hi == 0);
    assert_int_equal(cell[EVAL_APP_US].episodes, 2 * K);
    free(eps);
    /* K = 0, overlapping levels, no training levels: refused, nothing allocated */
    o = opts(&pol, GAME_HARD, 1);
    o.donors = 0;
    assert_int_equal(eval_appearance_episodes(&eps, &n, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "--donors 0"));
    assert_null(eps);
    o = opts(&pol, GAME_HARD, 1);
    const int32_t overlap[2] = {60, 22};
    o.heldout = overlap;
    assert_int_equal(eval_appearance_episodes(&eps, &n, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "held-out level 22 is a training level"));
    assert_null(strchr(e.msg, '\n'));
    o = opts(&pol, GAME_HARD, 1);
    o.ntrain = 0;
    assert_int_equal(eval_appearance_episodes(&eps, &n, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "no training levels"));
}

/* ---- appearance.json's closed_loop (run/appearancerec.c) ---------------- */

static char *read_text(const char *path, size_t *n) {
    uint8_t *b;
    cb_err e = {0};
    if (cb_read_file(path, &b, n, &e)) fail_msg("%s", e.msg);
    return (char *)b;
}

/* s with the first `from` after `after` replaced by `to` (malloc'd) */
static char *edit(const char *s, const char *after, const char *from, const char *to) {
    char *r = test_replace_after(s, after, from, to);
    if (!r) fail_msg("edit: \"%s\" after \"%s\" not in the record", from, after);
    return r;
}

static void bad_record(char *text, const char *word) {
    run_appearance v;
    cb_err e = {0};
    int rc = run_appearance_decode(&v, text, strlen(text), "R/appearance.json", &e);
    if (rc != CB_EFORMAT || !strstr(e.msg, word)) fail_msg("want an error naming \"%s\", got %d: %s", word, rc, e.msg);
    assert_non_null(strstr(e.msg, "R/appearance.json"));
    assert_null(strchr(e.msg, '\n'));
    free(text);
}

static void test_record_closed_loop(void **st) {
    (void)st;
    size_t n;
    char *text = read_text("tests/fuzz/corpus/appearance/appearance_v1", &n);
    run_appearance a;
    cb_err e = {0};
    assert_int_equal(run_appearance_decode(&a, text, n, "seed", &e), 0);
    assert_int_equal(a.play[RUN_APP_SS].episodes, 40);
    assert_int_equal(a.play[RUN_APP_SU].episodes, 80);
    assert_int_equal(a.play[RUN_APP_US].coins, 9);
    assert_int_equal(a.play[RUN_APP_UU].timeouts, 3);
    assert_true(a.play[RUN_APP_UU].success == 0.4);
    char *t0 = malloc(n + 1);
    assert_non_null(t0);
    memcpy(t0, text, n);
    t0[n] = 0;
    const char *CL = "\"closed_loop\"";
    /* the record of the offline part alone, from before the closed loop */
    char *old = strdup(t0);
    assert_non_null(old);
    char *cut = strstr(old, ",\n  \"closed_loop\"");
    assert_non_null(cut);
    strcpy(cut, "\n}\n");
    bad_record(old, "\"closed_loop\" is missing");
    bad_record(edit(t0, CL, "\"heldout_layout_own_look\"", "\"heldout_layout_unseen_look\""), "unknown key");
    bad_record(edit(t0, CL, "\"coins\": 29", "\"coins\": 30"), "is not episodes");
    bad_record(edit(t0, CL, "\"deaths\": 6,", "\"deaths\": 41,"), "\"deaths\"");
    bad_record(edit(t0, CL, "\"success\": 0.40000000000000002", "\"success\": 0.5"), "the counts give");
    bad_record(edit(t0, CL, "\"success_lo\": ", "\"success_lo\": 0.9, \"x\": "), "unknown key \"x\"");
    bad_record(edit(t0, "\"heldout_layout_own_look\": {\n      \"episodes\"", "\"success_hi\": ", "\"success_hi\": 0.3, \"y\": "),
               "unknown key");
    bad_record(edit(t0, "\"heldout_layout_own_look\": {\n      \"episodes\"", "\"success_lo\": 0.", "\"success_lo\": 0.9"),
               "does not hold success");
    bad_record(edit(t0, "\"heldout_layout_own_look\": {\n      \"episodes\"", "\"success_hi\": 0.", "\"success_hi\": 1."),
               "does not hold success");
    /* a cell with episodes and no interval; a cell with one episode too many */
    run_appearance m = a;
    run_text t = {0};
    m.play[RUN_APP_SS].success_lo = NAN;
    assert_int_equal(run_appearance_encode(&t, &m, &e), 0);
    bad_record(strdup(t.s), "does not hold success");
    run_text_free(&t);
    m = a;
    m.play[RUN_APP_UU].episodes = 11;
    m.play[RUN_APP_UU].coins = 5;
    m.play[RUN_APP_UU].success = 5.0 / 11.0;
    assert_int_equal(run_appearance_encode(&t, &m, &e), 0);
    bad_record(strdup(t.s), "one per level and look");
    run_text_free(&t);
    free(t0);
    free(text);
    /* the easy seed: seen/unseen is empty, its rates null */
    text = read_text("tests/fuzz/corpus/appearance/appearance_easy_v1", &n);
    assert_int_equal(run_appearance_decode(&a, text, n, "seed", &e), 0);
    assert_int_equal(a.play[RUN_APP_SU].episodes, 0);
    assert_true(isnan(a.play[RUN_APP_SU].success_lo));
    t0 = malloc(n + 1);
    assert_non_null(t0);
    memcpy(t0, text, n);
    t0[n] = 0;
    bad_record(edit(t0, "\"seen_layout_unseen_look\": {\n      \"episodes\"", "\"success_lo\": null", "\"success_lo\": 0"),
               "must be null");
    bad_record(edit(t0, "\"seen_layout_unseen_look\": {\n      \"episodes\"", "\"episodes\": 0", "\"episodes\": 80"),
               "is not episodes");
    free(t0);
    free(text);
    /* a hard record whose training levels leave no unseen look */
    text = read_text("tests/fuzz/corpus/appearance/appearance_nounseen_v1", &n);
    assert_int_equal(run_appearance_decode(&a, text, n, "seed", &e), 0);
    assert_int_equal(a.unseen_looks, 0);
    assert_int_equal(a.play[RUN_APP_SU].episodes, 0);
    assert_int_equal(a.play[RUN_APP_SS].episodes, 240);
    free(text);
}

/* ---- coinbc appearance, end to end --------------------------------------- */

#define TINY_TRAIN "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 8 --epochs 1 --seed 5"

static void must_run(int rc, const char *what, const char *err) {
    if (rc != 0) fail_msg("%s: exit %d\n%s", what, rc, err);
}

static void test_command_closed_loop(void **st) {
    (void)st;
    char *root = test_tmpdir();
    char data[4200], run[4200], out[16384], err[16384], p2[4400];
    snprintf(data, sizeof data, "%s/train.cbd", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(p2, sizeof p2, "%s/t2.json", root);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "record --levels 0-3 --mode hard --states 12 --noise 0.1 --seed 1 --threads 1 --quiet --out %s",
                      data),
             "record", err);
    must_run(test_run(out, sizeof out, err, sizeof err, "train %s --method mean " TINY_TRAIN " --quiet -o %s", data, run),
             "train", err);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-102 --states 4 --donors 2 --seed 3 --threads 1", run),
             "appearance", err);
    assert_non_null(strstr(out, "closed loop: greedy"));
    assert_non_null(strstr(out, "the held-out levels as they are"));
    assert_non_null(strstr(out, "memorized appearance"));
    assert_non_null(strstr(out, "memorized layout"));
    run_appearance a, b;
    cb_err e = {0};
    if (run_appearance_read(&a, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(a.play[RUN_APP_SS].episodes, 4);
    assert_int_equal(a.play[RUN_APP_SU].episodes, 8);
    assert_int_equal(a.play[RUN_APP_US].episodes, 6);
    assert_int_equal(a.play[RUN_APP_UU].episodes, 3);
    /* the own-look cells are rollout's greedy play of the same levels */
    run_rollout ro;
    const struct {
        const char *levels;
        int cell;
    } own[] = {{"0-3", RUN_APP_SS}, {"100-102", RUN_APP_UU}};
    for (int i = 0; i < 2; i++) {
        must_run(test_run(out, sizeof out, err, sizeof err, "rollout %s --levels %s --mode hard --greedy --quiet", run,
                          own[i].levels),
                 "rollout", err);
        if (run_rollout_read(&ro, run, &e)) fail_msg("%s", e.msg);
        const run_app_play *p = &a.play[own[i].cell];
        assert_int_equal(ro.episodes, p->episodes);
        assert_true(ro.success == p->success);
        assert_true(ro.success_lo == p->success_lo && ro.success_hi == p->success_hi);
    }
    /* three threads: the same bytes */
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-102 --states 4 --donors 2 --seed 3 --threads 3 --json -o %s", run, p2),
             "appearance --threads 3", err);
    assert_int_equal(run_appearance_decode(&b, out, strlen(out), "stdout", &e), 0);
    assert_memory_equal(&a, &b, sizeof a);
    char p1[4300];
    snprintf(p1, sizeof p1, "%s/appearance.json", run);
    size_t n1, n2;
    char *t1 = read_text(p1, &n1), *t2 = read_text(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
    unlink(p2);
    /* easy mode: seen/unseen is empty, and the command says why */
    char edata[4300], erun[4300];
    snprintf(edata, sizeof edata, "%s/easy.cbd", root);
    snprintf(erun, sizeof erun, "%s/erun", root);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "record --levels 0-1 --mode easy --states 8 --seed 1 --threads 1 --quiet --out %s", edata),
             "record easy", err);
    must_run(test_run(out, sizeof out, err, sizeof err, "train %s --method mean " TINY_TRAIN " --quiet -o %s", edata, erun),
             "train easy", err);
    must_run(test_run(out, sizeof out, err, sizeof err, "appearance %s --levels 50-50 --states 2 --donors 1 --threads 2 -o %s",
                      erun, p2),
             "appearance easy", err);
    assert_non_null(strstr(out, "seen/unseen is empty: easy mode has no unseen looks"));
    char ep[4400];
    snprintf(ep, sizeof ep, "%s/appearance.json", erun);
    assert_int_equal(access(ep, F_OK), -1); /* -o FILE: nothing in the run folder */
    t2 = read_text(p2, &n2);
    assert_int_equal(run_appearance_decode(&a, t2, n2, p2, &e), 0);
    free(t2);
    assert_int_equal(a.play[RUN_APP_SU].episodes, 0);
    assert_int_equal(a.play[RUN_APP_US].episodes, 1);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_episodes_carry_the_offline_looks),
        cmocka_unit_test(test_play_against_replay_threads_and_split),
        cmocka_unit_test(test_easy_and_refusals),
        cmocka_unit_test(test_record_closed_loop),
        cmocka_unit_test(test_command_closed_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
