/* test_appearance.c - a level's look as a swappable part (game/appearance.c,
 * docs/SPEC.md 5.6): a swap changes no physics (the same trace, state by
 * state, for a fixed action sequence on many seeds in both modes, and the same
 * expert action), a swap with the level's own look is a byte-for-byte no-op
 * (level and frames), swapped frames show the donor's look wherever neither
 * layout has a wall or an object, coinbc's cyclic rule for donors with fewer
 * enemies or crates, the checks, and the seen/unseen looks of a set of
 * training levels against procgen's reference layouts. Then the offline
 * probe (eval/appearance.c): its cells against a replay written here, the
 * same result for any thread count, easy mode, and its refusals. */
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
#include <zlib.h>

#include "eval/eval.h"
#include "game/game.h"
#include "run/run.h"
#include "tests/support/refdata.h"
#include "tests/support/run.h"

#define NSEEDS 50
#define NSTEPS 300
#define SCALE (64.0f / 13.0f)

static game_level *level_new(int32_t seed, int mode) {
    game_level *L = malloc(sizeof *L);
    assert_non_null(L);
    cb_err e = {0};
    assert_int_equal(game_level_generate(L, NULL, seed, mode, &e), 0);
    return L;
}

/* a copy of `rec` with the look of `donor` */
static game_level *swapped(const game_level *rec, const game_level *donor) {
    game_level *S = malloc(sizeof *S);
    assert_non_null(S);
    memcpy(S, rec, sizeof *S);
    game_appearance a;
    game_level_get_appearance(&a, donor);
    cb_err e = {0};
    int rc = game_level_set_appearance(S, &a, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    return S;
}

/* The donor of seed s: another level, chosen so that the donors cover more
 * and fewer enemies and crates than the recipients. */
static int32_t donor_seed(int32_t s) { return 7919 + 13 * s; }

static int same_look(const game_level *a, const game_level *b) {
    game_appearance x, y;
    game_level_get_appearance(&x, a);
    game_level_get_appearance(&y, b);
    return memcmp(&x, &y, sizeof x) == 0;
}

/* ---- physics ------------------------------------------------------------ */

/* The same action sequence on the original and the swapped level, with
 * procgen's auto-reset: every state (positions, velocities, flags, time),
 * reward, done and outcome bit for bit, and the dump's layout apart from the
 * themes. */
static void test_swap_changes_no_physics(void **st) {
    (void)st;
    int dones = 0, rewards = 0, looks_differ = 0;
    for (int mode = 0; mode < 2; mode++)
        for (int32_t s = 0; s < NSEEDS; s++) {
            game_level *A = level_new(s, mode), *B = level_new(donor_seed(s), mode);
            game_level *S = swapped(A, B);
            looks_differ += !same_look(A, S);
            game_state sa, ss;
            game_reset(A, &sa);
            game_reset(S, &ss);
            game_refpolicy pol;
            game_refpolicy_init(&pol, s);
            for (int t = 0; t < NSTEPS; t++) {
                int act = game_refpolicy_next(&pol);
                game_step_out oa, os;
                game_step(A, &sa, act, &oa);
                game_step(S, &ss, act, &os);
                assert_memory_equal(&sa, &ss, sizeof sa);
                assert_true(oa.reward == os.reward);
                assert_int_equal(oa.done, os.done);
                assert_int_equal(oa.complete, os.complete);
                assert_int_equal(oa.outcome, os.outcome);
                assert_true(game_state_hash(A, &sa) == game_state_hash(S, &ss));
                dones += oa.done;
                rewards += oa.reward > 0;
                if (oa.done) {
                    game_reset(A, &sa);
                    game_reset(S, &ss);
                }
            }
            /* nothing but the look differs: giving S its own look back gives A byte for byte */
            game_appearance own;
            game_level_get_appearance(&own, A);
            cb_err e = {0};
            assert_int_equal(game_level_set_appearance(S, &own, &e), 0);
            assert_memory_equal(S, A, sizeof *A);
            free(A);
            free(B);
            free(S);
        }
    /* the test can fail: episodes end, coins are reached, and the looks did change */
    assert_true(dones > 20);
    assert_true(rewards > 0);
    assert_true(looks_differ >= 2 * NSEEDS - 2);
}

/* The expert plans the same way on the swapped level (it reads no look). */
static void test_swap_same_expert(void **st) {
    (void)st;
    game_expert ex;
    cb_err e = {0};
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    for (int mode = 0; mode < 2; mode++)
        for (int32_t s = 0; s < 3; s++) {
            game_level *A = level_new(100 + s, mode), *B = level_new(donor_seed(100 + s), mode);
            game_level *S = swapped(A, B);
            game_state sa, ss;
            game_reset(A, &sa);
            game_reset(S, &ss);
            for (int t = 0; t < 40 && sa.outcome == GAME_RUNNING; t++) {
                int a1 = -1, a2 = -2;
                game_expert_reset(&ex);
                int r1 = game_expert_act(&ex, A, &sa, &a1, &e);
                game_expert_reset(&ex);
                int r2 = game_expert_act(&ex, S, &ss, &a2, &e);
                assert_int_equal(r1, r2);
                assert_int_equal(a1, a2);
                game_step_out o;
                game_step(A, &sa, a1, &o);
                game_step(S, &ss, a2, &o);
                assert_memory_equal(&sa, &ss, sizeof sa);
            }
            free(A);
            free(B);
            free(S);
        }
    game_expert_free(&ex);
}

/* ---- frames ------------------------------------------------------------- */

/* The level's own look given back: the level and every frame (with trails)
 * are the same bytes. */
static void test_self_swap_identical(void **st) {
    (void)st;
    uint8_t f1[CB_FRAME_BYTES], f2[CB_FRAME_BYTES];
    for (int mode = 0; mode < 2; mode++)
        for (int32_t s = 0; s < 20; s++) {
            game_env ea, es;
            cb_err e = {0};
            assert_int_equal(game_env_init(&ea, 300 + s, mode, &e), 0);
            es = ea;
            game_appearance own;
            game_level_get_appearance(&own, &ea.level);
            assert_int_equal(game_appearance_check(&own, &e), 0);
            assert_int_equal(game_level_set_appearance(&es.level, &own, &e), 0);
            assert_memory_equal(&es.level, &ea.level, sizeof ea.level);
            game_refpolicy pol;
            game_refpolicy_init(&pol, 300 + s);
            for (int t = 0; t < 120; t++) {
                game_env_render(&ea, f1);
                game_env_render(&es, f2);
                assert_memory_equal(f1, f2, sizeof f1);
                int act = game_refpolicy_next(&pol);
                game_env_step(&ea, act, NULL);
                game_env_step(&es, act, NULL);
            }
        }
}

/* 1 if pixel (px, py) of a frame centred on (cx, cy) shows only background
 * in level L with enemies where s puts them: every cell within a margin of
 * the pixel centre (more than the 0.02 overdraw) is SPACE or ENEMY_BARRIER
 * inside the grid, and no saw, crate or enemy box comes near it. The agent is
 * not excluded: it stands at the same place in both levels compared. */
static int bg_pixel(const game_level *L, const game_state *s, float cx, float cy, int px, int py) {
    const float m = 0.06f;
    float wx = cx + ((float)px + 0.5f - 32.0f) / SCALE, wy = cy - ((float)py + 0.5f - 32.0f) / SCALE;
    for (int i = (int)floorf(wx - m); i <= (int)floorf(wx + m); i++)
        for (int j = (int)floorf(wy - m); j <= (int)floorf(wy + m); j++) {
            if (i < 0 || j < 0 || i >= GAME_W || j >= GAME_H) return 0;
            int t = L->grid[j][i];
            if (t != GAME_SPACE && t != GAME_ENEMY_BARRIER) return 0;
        }
    for (int k = 0; k < L->nstatics; k++)
        if (fabsf(wx - L->statics[k].x) < 0.5f + m && fabsf(wy - L->statics[k].y) < 0.5f + m) return 0;
    for (int k = 0; k < L->nenemies; k++)
        if (fabsf(wx - s->enemy[k].x) < 0.5f + m && fabsf(wy - s->enemy[k].y) < 0.5f + m) return 0;
    return 1;
}

/* Level A with B's look, rendered at states of A's own play, equals B's
 * layout rendered at the same states (the camera follows the same agent) on
 * every pixel that is background in both layouts: the background image,
 * offset and the agent's colour are B's. And the swap shows: the frames
 * differ from A's own. */
static void test_swapped_frames_show_donor_look(void **st) {
    (void)st;
    uint8_t fs[CB_FRAME_BYTES], fb[CB_FRAME_BYTES], fa[CB_FRAME_BYTES];
    long compared = 0, changed_frames = 0, frames = 0;
    for (int mode = 0; mode < 2; mode++)
        for (int32_t s = 0; s < 20; s++) {
            game_level *A = level_new(500 + s, mode), *B = level_new(donor_seed(500 + s), mode);
            game_level *S = swapped(A, B);
            game_state st_a;
            game_reset(A, &st_a);
            game_refpolicy pol;
            game_refpolicy_init(&pol, 500 + s);
            for (int t = 0; t < 60; t++) {
                if (t % 6 == 0) {
                    game_render(fs, S, &st_a, NULL);
                    game_render(fb, B, &st_a, NULL);
                    game_render(fa, A, &st_a, NULL);
                    frames++;
                    changed_frames += memcmp(fs, fa, sizeof fs) != 0;
                    for (int py = 0; py < CB_FRAME_H; py++)
                        for (int px = 0; px < CB_FRAME_W; px++) {
                            if (!bg_pixel(A, &st_a, st_a.agent.x, st_a.agent.y, px, py) ||
                                !bg_pixel(B, &st_a, st_a.agent.x, st_a.agent.y, px, py))
                                continue;
                            size_t o = ((size_t)py * CB_FRAME_W + (size_t)px) * 3;
                            if (memcmp(fs + o, fb + o, 3) != 0)
                                fail_msg("%s seed %d step %d pixel (%d, %d): swapped %d,%d,%d donor %d,%d,%d",
                                         game_mode_name(mode), 500 + s, t, px, py, fs[o], fs[o + 1], fs[o + 2],
                                         fb[o], fb[o + 1], fb[o + 2]);
                            compared++;
                        }
                }
                game_step_out o;
                game_step(A, &st_a, game_refpolicy_next(&pol), &o);
                if (o.done) game_reset(A, &st_a);
            }
            free(A);
            free(B);
            free(S);
        }
    /* enough pixels were compared for the check to mean something, and the
     * swap changed what most frames show */
    assert_true(compared > frames * 600);
    assert_true(changed_frames > frames * 9 / 10);
}

/* ---- coinbc's rule for donors with fewer enemies or crates -------------- */

static int crate_theme(const game_level *L, int k) {
    for (int i = 0; i < L->nstatics; i++)
        if (L->statics[i].type == GAME_ENT_CRATE && k-- == 0) return L->statics[i].theme;
    return -1;
}

static void test_cyclic_rule(void **st) {
    (void)st;
    int fewer_enemies = 0, fewer_crates = 0, no_enemies = 0, no_crates = 0;
    for (int32_t s = 0; s < 400; s++) {
        game_level *A = level_new(s, GAME_HARD), *B = level_new(donor_seed(s), GAME_HARD);
        game_level *S = swapped(A, B);
        assert_true(S->bg_pct_x == B->bg_pct_x);
        assert_int_equal(S->bg_index, B->bg_index);
        assert_int_equal(S->wall_theme, B->wall_theme);
        assert_int_equal(S->player_theme, B->player_theme);
        assert_int_equal(S->nenemies, A->nenemies);
        assert_int_equal(S->ncrates, A->ncrates);
        for (int k = 0; k < A->nenemies; k++)
            assert_int_equal(S->enemy_theme[k], B->nenemies ? B->enemy_theme[k % B->nenemies] : 0);
        for (int k = 0; k < A->ncrates; k++)
            assert_int_equal(crate_theme(S, k), B->ncrates ? crate_theme(B, k % B->ncrates) : 0);
        /* the saws stay saws, every entity stays where it is */
        for (int i = 0; i < A->nstatics; i++) {
            assert_int_equal(S->statics[i].type, A->statics[i].type);
            assert_true(S->statics[i].x == A->statics[i].x && S->statics[i].y == A->statics[i].y);
            if (A->statics[i].type == GAME_ENT_SAW) assert_int_equal(S->statics[i].theme, A->statics[i].theme);
        }
        fewer_enemies += B->nenemies > 0 && B->nenemies < A->nenemies;
        fewer_crates += B->ncrates > 0 && B->ncrates < A->ncrates;
        no_enemies += B->nenemies == 0 && A->nenemies > 0;
        no_crates += B->ncrates == 0 && A->ncrates > 0;
        free(A);
        free(B);
        free(S);
    }
    /* every branch of the rule was exercised */
    assert_true(fewer_enemies > 0 && fewer_crates > 0 && no_enemies > 0 && no_crates > 0);
}

/* ---- checks --------------------------------------------------------------- */

static void test_checks(void **st) {
    (void)st;
    game_level *H = level_new(3, GAME_HARD), *E = level_new(3, GAME_EASY);
    game_level *keep = malloc(sizeof *keep);
    assert_non_null(keep);
    memcpy(keep, E, sizeof *keep);
    game_appearance a;
    cb_err e = {0};
    /* a hard donor for an easy level: refused, the level untouched */
    game_level_get_appearance(&a, H);
    assert_int_equal(game_level_set_appearance(E, &a, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "level 3 (easy)"));
    assert_non_null(strstr(e.msg, "same mode"));
    assert_memory_equal(E, keep, sizeof *E);
    /* out-of-range fields */
    game_appearance b;
    game_level_get_appearance(&a, E);
    b = a, b.bg_pct_x = 1.0f;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "offset"));
    b = a, b.bg_pct_x = NAN;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    b = a, b.bg_index = 5; /* easy mode has background 0 only */
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "easy"));
    assert_int_equal(game_level_set_appearance(E, &b, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "bad donor look"));
    assert_memory_equal(E, keep, sizeof *E);
    b = a, b.mode = 7;
    assert_int_equal(game_appearance_check(&b, &e), CB_EARG);
    game_level_get_appearance(&a, H);
    b = a, b.bg_index = GAME_NUM_BG;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    b = a, b.wall_theme = -1;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    b = a, b.player_theme = GAME_NUM_PLAYER;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    b = a, b.nenemies = GAME_MAX_ENEMIES + 1;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    b = a, b.nenemies = 1, b.enemy_theme[0] = GAME_NUM_ENEMY_THEMES;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "enemy 0"));
    b = a, b.ncrates = 1, b.crate_theme[0] = GAME_NUM_CRATE_THEMES;
    assert_int_equal(game_appearance_check(&b, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "crate 0"));
    /* the largest legal values pass */
    b = a, b.bg_index = GAME_NUM_BG - 1, b.wall_theme = GAME_NUM_WALL - 1, b.player_theme = GAME_NUM_PLAYER - 1;
    b.bg_pct_x = nextafterf(1.0f, 0.0f);
    assert_int_equal(game_appearance_check(&b, &e), 0);
    assert_int_equal(game_level_set_appearance(H, &b, &e), 0);
    assert_int_equal(H->bg_index, GAME_NUM_BG - 1);
    free(H);
    free(E);
    free(keep);
}

/* ---- seen and unseen looks ----------------------------------------------- */

/* bg_index, wall_theme and player_theme of hard seeds 0..n-1 from procgen's
 * reference layouts (header lines). */
static void ref_themes(int n, int *bg, int *wall, int *player) {
    gzFile f = gzopen(test_refdata("layouts_hard.txt.gz"), "rb");
    assert_non_null(f);
    char line[1024];
    int got = 0;
    while (got < n && gzgets(f, line, sizeof line)) {
        int seed;
        if (strncmp(line, "seed ", 5) != 0 || sscanf(line, "seed %d", &seed) != 1 || seed != got) continue;
        const char *p = strstr(line, " bg_index "), *q = strstr(line, " player_theme "), *r = strstr(line, " wall_theme ");
        assert_true(p && q && r);
        assert_int_equal(sscanf(p, " bg_index %d", &bg[got]), 1);
        assert_int_equal(sscanf(q, " player_theme %d", &player[got]), 1);
        assert_int_equal(sscanf(r, " wall_theme %d", &wall[got]), 1);
        got++;
    }
    gzclose(f);
    assert_int_equal(got, n);
}

static void test_sets_hard(void **st) {
    (void)st;
    enum { N = 40 };
    int bg[N], wall[N], player[N];
    ref_themes(N, bg, wall, player);
    /* seeds in a scrambled order with duplicates */
    int32_t seeds[N + 5];
    for (int i = 0; i < N; i++) seeds[i] = (int32_t)((i * 17) % N);
    for (int i = 0; i < 5; i++) seeds[N + i] = (int32_t)(i * 3);
    game_appearance_sets s;
    cb_err e = {0};
    assert_int_equal(game_appearance_sets_build(&s, seeds, N + 5, GAME_HARD, &e), 0);
    assert_int_equal(s.nlevels, N);
    assert_int_equal(s.varies_bg_pair, 1);
    /* against procgen's own themes */
    uint8_t bs[GAME_NUM_BG] = {0}, ps[GAME_NUM_WALL][GAME_NUM_PLAYER] = {{0}};
    int nb = 0, np = 0, nt = 0;
    for (int i = 0; i < N; i++) {
        nb += !bs[bg[i]];
        np += !ps[wall[i]][player[i]];
        bs[bg[i]] = 1;
        ps[wall[i]][player[i]] = 1;
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= bg[j] == bg[i] && wall[j] == wall[i] && player[j] == player[i];
        nt += !dup;
    }
    assert_memory_equal(s.bg_seen, bs, sizeof bs);
    assert_memory_equal(s.pair_seen, ps, sizeof ps);
    assert_int_equal(s.nbg_seen, nb);
    assert_int_equal(s.npair_seen, np);
    assert_int_equal(s.ntriple_seen, nt);
    assert_int_equal(s.nbg_unseen, GAME_NUM_BG - nb);
    assert_int_equal(s.npair_unseen, 30 - np);
    assert_int_equal(s.nunseen, (GAME_NUM_BG - nb) * (30 - np));
    assert_true(s.nunseen > 0);
    /* every unseen look is unseen and each comes once */
    uint8_t hit[GAME_NUM_BG][GAME_NUM_WALL][GAME_NUM_PLAYER];
    memset(hit, 0, sizeof hit);
    for (int k = 0; k < s.nunseen; k++) {
        int b = -1, w = -1, p = -1;
        assert_int_equal(game_appearance_sets_unseen(&b, &w, &p, &s, k, &e), 0);
        assert_true(b >= 0 && b < GAME_NUM_BG && w >= 0 && w < GAME_NUM_WALL && p >= 0 && p < GAME_NUM_PLAYER);
        assert_false(bs[b]);
        assert_false(ps[w][p]);
        assert_false(hit[b][w][p]);
        hit[b][w][p] = 1;
    }
    int b, w, p;
    assert_int_equal(game_appearance_sets_unseen(&b, &w, &p, &s, s.nunseen, &e), CB_ERANGE);
    assert_int_equal(game_appearance_sets_unseen(&b, &w, &p, &s, -1, &e), CB_ERANGE);
    /* an unseen look is a legal donor look */
    assert_int_equal(game_appearance_sets_unseen(&b, &w, &p, &s, s.nunseen - 1, &e), 0);
    game_level *L = level_new(0, GAME_HARD);
    game_appearance a;
    game_level_get_appearance(&a, L);
    a.bg_index = b, a.wall_theme = w, a.player_theme = p;
    assert_int_equal(game_level_set_appearance(L, &a, &e), 0);
    free(L);
}

static void test_sets_easy_and_errors(void **st) {
    (void)st;
    int32_t seeds[10];
    for (int i = 0; i < 10; i++) seeds[i] = 1000 + i;
    game_appearance_sets s;
    cb_err e = {0};
    assert_int_equal(game_appearance_sets_build(&s, seeds, 10, GAME_EASY, &e), 0);
    assert_int_equal(s.nlevels, 10);
    assert_int_equal(s.varies_bg_pair, 0);
    assert_int_equal(s.nbg_seen, 1);
    assert_int_equal(s.npair_seen, 1);
    assert_int_equal(s.ntriple_seen, 1);
    assert_true(s.bg_seen[0] && s.pair_seen[0][0]);
    assert_int_equal(s.nunseen, 0);
    int b, w, p;
    assert_int_equal(game_appearance_sets_unseen(&b, &w, &p, &s, 0, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "easy mode has none"));
    assert_int_equal(game_appearance_sets_build(&s, seeds, 0, GAME_HARD, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "no training levels"));
    assert_int_equal(game_appearance_sets_build(&s, seeds, 3, 2, &e), CB_EARG);
}

/* ---- the offline probe (eval/appearance.c) ----------------------------- */

/* A policy that reads the look: logits from the mean colour of bands of rows
 * (the background dominates them), so another look moves its decisions. */
static int colour_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    (void)self, (void)worker, (void)e;
    for (int i = 0; i < n; i++) {
        const uint8_t *f = frames + (size_t)i * CB_FRAME_BYTES;
        double l[CB_NUM_ACTIONS], mx = -1e300, z = 0;
        for (int a = 0; a < CB_NUM_ACTIONS; a++) {
            long sum = 0;
            for (int y = a * 4; y < a * 4 + 4; y++)
                for (int x = 0; x < CB_FRAME_W; x++) sum += f[((size_t)y * CB_FRAME_W + x) * 3 + a % 3];
            l[a] = (double)sum / (4.0 * CB_FRAME_W * 16.0);
            if (l[a] > mx) mx = l[a];
        }
        for (int a = 0; a < CB_NUM_ACTIONS; a++) z += exp(l[a] - mx);
        for (int a = 0; a < CB_NUM_ACTIONS; a++) probs[(size_t)i * CB_NUM_ACTIONS + a] = (float)(exp(l[a] - mx) / z);
    }
    return 0;
}

/* A policy blind to everything: always the same distribution. */
static int const_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    (void)self, (void)worker, (void)frames, (void)e;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < CB_NUM_ACTIONS; a++) probs[(size_t)i * CB_NUM_ACTIONS + a] = a == 7 ? 0.5f : 0.5f / 14;
    return 0;
}

static const int32_t PROBE_TRAIN[4] = {11, 12, 13, 14}, PROBE_HELD[3] = {40, 41, 42};
#define PROBE_N 7

static eval_app_opts probe_opts(const eval_policy *pol, int mode, int threads) {
    return (eval_app_opts){.policy = pol, .mode = mode, .train = PROBE_TRAIN, .ntrain = 4, .heldout = PROBE_HELD,
                           .nheldout = 3, .states = 24, .noise = 0.25, .seed = 5, .donors = 2, .threads = threads};
}

static double kl_ref(const float *p, const float *q) {
    double s = 0;
    for (int a = 0; a < CB_NUM_ACTIONS; a++) {
        double pa = p[a], qa = q[a] > 1e-12f ? q[a] : 1e-12;
        if (pa > 0) s += pa * log(pa / qa);
    }
    return s > 0 ? s : 0;
}

/* Level r's original cell and (held out) its seen-look cell, replayed here:
 * record's play (the expert; a random action with probability noise from
 * cb_rng_seed2(seed, level)), the donors the probe names, the colour policy
 * one frame at a time. */
static void replay_level(const eval_app_level *r, const eval_app_opts *o, eval_app_cell *orig, eval_app_cell *seen) {
    memset(orig, 0, sizeof *orig);
    memset(seen, 0, sizeof *seen);
    game_env env;
    cb_err e = {0};
    assert_int_equal(game_env_init(&env, r->seed, o->mode, &e), 0);
    int nv = r->heldout ? r->ndonors : 0;
    game_level *var = malloc(sizeof *var * (size_t)(nv ? nv : 1));
    assert_non_null(var);
    for (int k = 0; k < nv; k++) {
        int found = 0;
        for (int j = 0; j < o->ntrain; j++) found |= o->train[j] == r->seen_donor[k];
        assert_true(found);
        game_level *D = level_new(r->seen_donor[k], o->mode);
        game_level *S = swapped(&env.level, D);
        var[k] = *S;
        free(D);
        free(S);
    }
    game_expert ex;
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    cb_rng noise;
    cb_rng_seed2(&noise, o->seed, (uint64_t)r->seed);
    uint8_t f[CB_FRAME_BYTES], g[CB_FRAME_BYTES];
    float po[CB_NUM_ACTIONS], pv[CB_NUM_ACTIONS];
    for (int64_t t = 0; t < o->states; t++) {
        game_env_render(&env, f);
        colour_probs(NULL, 0, f, 1, po, &e);
        int label, ao = cb_argmax(po, CB_NUM_ACTIONS);
        game_expert_act(&ex, &env.level, &env.state, &label, &e);
        orig->n++;
        orig->correct += ao == label;
        orig->agree++;
        for (int k = 0; k < nv; k++) {
            game_render(g, &var[k], &env.state, &env.trails);
            colour_probs(NULL, 0, g, 1, pv, &e);
            int av = cb_argmax(pv, CB_NUM_ACTIONS);
            seen->n++;
            seen->correct += av == label;
            seen->agree += av == ao;
            seen->kl += kl_ref(po, pv);
        }
        int executed = label;
        if (cb_rng_uniform(&noise) < o->noise) executed = (int)cb_rng_below(&noise, CB_NUM_ACTIONS);
        game_env_step(&env, executed, NULL);
    }
    game_expert_free(&ex);
    free(var);
}

static void test_probe_against_replay(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_opts o = probe_opts(&pol, GAME_HARD, 2);
    eval_app_level out[PROBE_N];
    game_appearance_sets sets;
    cb_err e = {0};
    int rc = eval_appearance_offline(out, &sets, &o, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sets.nlevels, 4);
    assert_true(sets.nunseen > 0);
    int64_t moved = 0;
    for (int i = 0; i < PROBE_N; i++) {
        const eval_app_level *r = &out[i];
        assert_int_equal(r->seed, i < 4 ? PROBE_TRAIN[i] : PROBE_HELD[i - 4]);
        assert_int_equal(r->heldout, i >= 4);
        assert_int_equal(r->ndonors, 2);
        eval_app_cell orig, seen;
        replay_level(r, &o, &orig, &seen);
        assert_memory_equal(&r->cell[EVAL_APP_ORIG], &orig, sizeof orig);
        assert_memory_equal(&r->cell[EVAL_APP_SEEN], &seen, sizeof seen);
        assert_int_equal(r->cell[EVAL_APP_SEEN].n, r->heldout ? 2 * 24 : 0);
        /* the unseen looks are unseen, and the cell holds K frames per state */
        assert_int_equal(r->cell[EVAL_APP_UNSEEN].n, 2 * 24);
        for (int k = 0; k < 2; k++) {
            assert_false(sets.bg_seen[r->unseen_look[k][0]]);
            assert_false(sets.pair_seen[r->unseen_look[k][1]][r->unseen_look[k][2]]);
        }
        moved += r->cell[EVAL_APP_UNSEEN].n - r->cell[EVAL_APP_UNSEEN].agree;
        assert_true(r->cell[EVAL_APP_UNSEEN].kl > 0);
    }
    /* this policy reads the look: other looks move some of its decisions */
    assert_true(moved > 0);
    eval_app_cell sum[2][EVAL_APP_NLOOKS];
    eval_appearance_sum(sum, out, PROBE_N);
    assert_int_equal(sum[0][EVAL_APP_ORIG].n, 4 * 24);
    assert_int_equal(sum[1][EVAL_APP_ORIG].n, 3 * 24);
    assert_int_equal(sum[0][EVAL_APP_SEEN].n, 0);
    assert_int_equal(sum[1][EVAL_APP_SEEN].n, 3 * 2 * 24);
    assert_int_equal(sum[0][EVAL_APP_UNSEEN].n + sum[1][EVAL_APP_UNSEEN].n, 7 * 2 * 24);
}

static void test_probe_threads_and_blind_policy(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_level a[PROBE_N], b[PROBE_N];
    game_appearance_sets sa, sb;
    cb_err e = {0};
    eval_app_opts o1 = probe_opts(&pol, GAME_HARD, 1), o3 = probe_opts(&pol, GAME_HARD, 3);
    assert_int_equal(eval_appearance_offline(a, &sa, &o1, &e), 0);
    assert_int_equal(eval_appearance_offline(b, &sb, &o3, &e), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&sa, &sb, sizeof sa);
    /* a policy that ignores the frame: every variant agrees, no divergence,
     * and the accuracy is the original's in every look */
    eval_policy blind = {.probs = const_probs};
    eval_app_opts ob = probe_opts(&blind, GAME_HARD, 2);
    assert_int_equal(eval_appearance_offline(b, &sb, &ob, &e), 0);
    for (int i = 0; i < PROBE_N; i++) {
        const eval_app_cell *c = b[i].cell;
        for (int k = 0; k < EVAL_APP_NLOOKS; k++) {
            assert_int_equal(c[k].agree, c[k].n);
            assert_true(c[k].kl == 0);
        }
        assert_int_equal(c[EVAL_APP_UNSEEN].correct, 2 * c[EVAL_APP_ORIG].correct);
        if (b[i].heldout) assert_int_equal(c[EVAL_APP_SEEN].correct, 2 * c[EVAL_APP_ORIG].correct);
        /* the same states as with the other policy: the same donors and noise */
        assert_memory_equal(b[i].seen_donor, a[i].seen_donor, sizeof a[i].seen_donor);
        assert_int_equal(b[i].random_actions, a[i].random_actions);
    }
}

static void test_probe_easy(void **st) {
    (void)st;
    eval_policy pol = {.probs = colour_probs};
    eval_app_opts o = probe_opts(&pol, GAME_EASY, 2);
    eval_app_level out[PROBE_N];
    game_appearance_sets sets;
    cb_err e = {0};
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), 0);
    assert_int_equal(sets.varies_bg_pair, 0);
    for (int i = 0; i < PROBE_N; i++) {
        assert_int_equal(out[i].cell[EVAL_APP_ORIG].n, 24);
        assert_int_equal(out[i].cell[EVAL_APP_UNSEEN].n, 0);
        assert_int_equal(out[i].cell[EVAL_APP_SEEN].n, out[i].heldout ? 48 : 0);
        eval_app_cell orig, seen;
        replay_level(&out[i], &o, &orig, &seen);
        assert_memory_equal(&out[i].cell[EVAL_APP_SEEN], &seen, sizeof seen);
    }
}

static void test_probe_refusals(void **st) {
    (void)st;
    eval_policy pol = {.probs = const_probs};
    eval_app_level out[PROBE_N];
    game_appearance_sets sets;
    cb_err e = {0};
    eval_app_opts o = probe_opts(&pol, GAME_HARD, 1);
    o.donors = 0;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "--donors 0"));
    assert_null(strchr(e.msg, '\n'));
    o.donors = EVAL_APP_MAX_DONORS + 1;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
    o = probe_opts(&pol, GAME_HARD, 1);
    const int32_t overlap[2] = {40, 13};
    o.heldout = overlap;
    o.nheldout = 2;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "held-out level 13 is a training level"));
    o = probe_opts(&pol, GAME_HARD, 1);
    o.ntrain = 0;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "no training levels"));
    o = probe_opts(&pol, GAME_HARD, 1);
    o.states = 0;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
    o = probe_opts(&pol, GAME_HARD, 1);
    o.noise = 1.5;
    assert_int_equal(eval_appearance_offline(out, &sets, &o, &e), CB_EARG);
}

/* ---- appearance.json (run/appearancerec.c) ------------------------------ */

#define LLVMFuzzerTestOneInput fuzz_appearance_one
#include "tests/fuzz/fuzz_appearance.c"
#undef LLVMFuzzerTestOneInput

static char *read_text(const char *path, size_t *n) {
    uint8_t *b;
    cb_err e = {0};
    if (cb_read_file(path, &b, n, &e)) fail_msg("%s", e.msg);
    return (char *)b;
}

/* s with the first `from` replaced by `to` (malloc'd) */
static char *edit(const char *s, const char *from, const char *to) {
    char *r = test_replace_after(s, "", from, to);
    if (!r) fail_msg("edit: \"%s\" not in the record", from);
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

static void test_record_round_trip_and_refusals(void **st) {
    (void)st;
    size_t n;
    char *text = read_text("tests/fuzz/corpus/appearance/appearance_v1", &n);
    run_appearance a, b;
    cb_err e = {0};
    assert_int_equal(run_appearance_decode(&a, text, n, "seed", &e), 0);
    assert_int_equal(a.version, 1);
    assert_int_equal(a.hard, 1);
    assert_int_equal(a.level_lo, 100000);
    assert_int_equal(a.cell[1][1].agree, 121);
    assert_true(a.cell[0][2].kl_sum == 37.25);
    /* written into a folder and read back: the same record, the same bytes */
    char dir[] = "/tmp/coinbc_appearance_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(run_appearance_write(dir, &a, &e), 0);
    assert_int_equal(run_appearance_read(&b, dir, &e), 0);
    assert_memory_equal(&a, &b, sizeof a);
    char path[600];
    snprintf(path, sizeof path, "%s/appearance.json", dir);
    size_t n2;
    char *again = read_text(path, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(again, text, n);
    free(again);
    unlink(path);
    rmdir(dir);
    assert_int_equal(run_appearance_read(&b, dir, &e) < 0, 1);
    /* refusals, each naming the file and what is wrong */
    char *t0 = malloc(n + 1);
    assert_non_null(t0);
    memcpy(t0, text, n);
    t0[n] = 0;
    bad_record(edit(t0, "\"format\": \"coinbc-appearance\",", ""), "\"format\" is missing");
    bad_record(edit(t0, "coinbc-appearance", "coinbc-rollout"), "\"format\"");
    bad_record(edit(t0, "\"version\": 1", "\"version\": 9"), "newer coinbc");
    bad_record(edit(t0, "\"donors\": 2", "\"donors\": 0"), "\"donors\"");
    bad_record(edit(t0, "\"donors\": 2", "\"donors\": 2, \"extra\": 1"), "unknown key \"extra\"");
    bad_record(edit(t0, "\"donors\": 2", "\"donors\": 2, \"donors\": 3"), "duplicate");
    bad_record(edit(t0, "\"mode\": \"hard\"", "\"mode\": \"medium\""), "\"mode\"");
    bad_record(edit(t0, "\"noise\": 0.25", "\"noise\": 1.5"), "\"noise\"");
    bad_record(edit(t0, "\"accuracy\": 0.4375", "\"accuracy\": 0.5"), "the counts give");
    bad_record(edit(t0, "\"correct\": 70", "\"correct\": 71"), "the counts give");
    bad_record(edit(t0, "\"correct\": 250", "\"correct\": 321"), "\"correct\"");
    bad_record(edit(t0, "\"agreement\": 1.0\n    },\n    \"seen_layout_unseen",
                    "\"agreement\": 1.0, \"mean_kl\": 0\n    },\n    \"seen_layout_unseen"),
               "original look has no divergence");
    bad_record(edit(t0, "\"kl_sum\": 9.5", "\"kl_sum\": -1"), "\"kl_sum\"");
    bad_record(edit(t0, "\"unseen_pairs\": 9", "\"unseen_pairs\": 8"), "do not fit together");
    bad_record(edit(t0, "\"levels\": \"100000-100009\"", "\"levels\": \"100000-100010\""), "frames");
    bad_record(edit(t0, "\"states_per_level\": 8", "\"states_per_level\": 9"), "frames");
    bad_record(edit(t0, "\"heldout_layout_seen_look\"", "\"heldout_layout_seen_looks\""), "unknown key");
    free(t0);
    free(text);
    /* the easy-mode seed: no unseen looks, empty cells are null rates */
    text = read_text("tests/fuzz/corpus/appearance/appearance_easy_v1", &n);
    assert_int_equal(run_appearance_decode(&a, text, n, "seed", &e), 0);
    assert_int_equal(a.hard, 0);
    assert_int_equal(a.unseen_looks, 0);
    assert_int_equal(a.cell[1][2].frames, 0);
    run_text t = {0};
    assert_int_equal(run_appearance_encode(&t, &a, &e), 0);
    assert_non_null(strstr(t.s, "\"mean_kl\": null"));
    run_text_free(&t);
    free(text);
}

/* the fuzz target over its seeds, truncated at every length and with flipped bytes */
static void test_record_fuzz_corpus(void **st) {
    (void)st;
    const char *seeds[] = {"tests/fuzz/corpus/appearance/appearance_v1", "tests/fuzz/corpus/appearance/appearance_easy_v1",
                           "tests/fuzz/corpus/appearance/appearance_nounseen_v1"};
    for (int s = 0; s < 3; s++) {
        size_t n;
        uint8_t *b = (uint8_t *)read_text(seeds[s], &n);
        fuzz_appearance_one(b, n);
        for (size_t k = 0; k < n; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            assert_non_null(cut);
            memcpy(cut, b, k);
            fuzz_appearance_one(cut, k);
            free(cut);
        }
        for (size_t k = 0; k < n; k++) {
            uint8_t old = b[k];
            b[k] = (uint8_t)(old ^ 0xFF);
            fuzz_appearance_one(b, n);
            b[k] = (uint8_t)(old ^ 0x01);
            fuzz_appearance_one(b, n);
            b[k] = old;
        }
        free(b);
    }
}

/* ---- coinbc appearance, end to end (cli/cmd_appearance.c) --------------- */

#define TINY_TRAIN "--net nature --channels 4,4,4 --hidden 16 --batch-levels 2 --batch-frames 8 --epochs 1 --seed 5"

static void must_run(int rc, const char *what, const char *err) {
    if (rc != 0) fail_msg("%s: exit %d\n%s", what, rc, err);
}

static int one_line(const char *s) {
    const char *nl = strchr(s, '\n');
    return s[0] && nl && nl[1] == 0;
}

static void test_command_end_to_end(void **st) {
    (void)st;
    char *root = test_tmpdir();
    char data[4200], run[4200], out[16384], err[16384], p1[4300], p2[4400], empty[4300], moved[4300];
    snprintf(data, sizeof data, "%s/train.cbd", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(p1, sizeof p1, "%s/appearance.json", run);
    snprintf(p2, sizeof p2, "%s/t2.json", root);
    /* a tiny hard-mode policy on 4 levels recorded as the probe plays */
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "record --levels 0-3 --mode hard --states 12 --noise 0.1 --seed 1 --threads 1 --quiet --out %s",
                      data),
             "record", err);
    must_run(test_run(out, sizeof out, err, sizeof err, "train %s --method and --tau 0.5 " TINY_TRAIN " --quiet -o %s",
                      data, run),
             "train", err);
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-101 --states 12 --donors 2 --noise 0.1 --seed 1 --threads 1", run),
             "appearance", err);
    assert_non_null(strstr(out, "held-out  seen"));
    assert_non_null(strstr(out, "4 training levels"));
    run_appearance a, b;
    cb_err e = {0};
    if (run_appearance_read(&a, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(a.hard, 1);
    assert_int_equal(a.train_levels, 4);
    assert_int_equal(a.cell[0][0].frames, 4 * 12);
    assert_int_equal(a.cell[1][0].frames, 2 * 12);
    assert_int_equal(a.cell[1][1].frames, 2 * 2 * 12);
    assert_true(a.unseen_looks > 0);
    assert_int_equal(a.cell[1][2].frames, 2 * 2 * 12);
    /* the same seed and noise as record: the seen-layout states are the
     * dataset's frames, so the own-look accuracy is eval's on that data */
    must_run(test_run(out, sizeof out, err, sizeof err, "eval %s %s --no-train --quiet", run, data), "eval", err);
    run_eval ev;
    if (run_eval_read(&ev, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ev.test.frames, a.cell[0][0].frames);
    assert_true(ev.test.acc == (double)a.cell[0][0].correct / (double)a.cell[0][0].frames);
    /* any thread count: the same bytes */
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-101 --states 12 --donors 2 --noise 0.1 --seed 1 --threads 3 -o %s",
                      run, p2),
             "appearance --threads 3", err);
    size_t n1, n2;
    char *t1 = read_text(p1, &n1), *t2 = read_text(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
    /* --json prints the record */
    must_run(test_run(out, sizeof out, err, sizeof err,
                      "appearance %s --levels 100-101 --states 12 --donors 2 --noise 0.1 --seed 1 --json -o %s", run, p2),
             "appearance --json", err);
    assert_int_equal(run_appearance_decode(&b, out, strlen(out), "stdout", &e), 0);
    assert_memory_equal(&a, &b, sizeof a);
    unlink(p2);

    /* bad input: a one-line error, and nothing written */
    struct {
        const char *args, *word;
    } bad[] = {
        {"--levels 2-5", "overlap the run's training levels"},
        {"--levels 100-101 --donors 0", "--donors 0"},
        {"--levels 100-101 --mode easy", "hard mode"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = test_run(out, sizeof out, err, sizeof err, "appearance %s %s -o %s", run, bad[i].args, p2);
        if (rc == 0 || !strstr(err, bad[i].word) || !one_line(err))
            fail_msg("appearance %s: exit %d, stderr: %s", bad[i].args, rc, err);
        assert_int_equal(access(p2, F_OK), -1);
    }
    /* a run whose training levels cannot be found: its data moved away, or no run at all */
    snprintf(moved, sizeof moved, "%s/elsewhere.cbd", root);
    assert_int_equal(rename(data, moved), 0);
    int rc = test_run(out, sizeof out, err, sizeof err, "appearance %s --levels 100-101 -o %s", run, p2);
    if (rc == 0 || !strstr(err, "training levels") || !one_line(err)) fail_msg("moved data: exit %d: %s", rc, err);
    assert_int_equal(access(p2, F_OK), -1);
    snprintf(empty, sizeof empty, "%s/empty", root);
    assert_int_equal(mkdir(empty, 0755), 0);
    rc = test_run(out, sizeof out, err, sizeof err, "appearance %s --levels 100-101", empty);
    if (rc == 0 || !strstr(err, "training levels") || !one_line(err)) fail_msg("no run: exit %d: %s", rc, err);
    snprintf(p2, sizeof p2, "%s/appearance.json", empty);
    assert_int_equal(access(p2, F_OK), -1);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swap_changes_no_physics),
        cmocka_unit_test(test_swap_same_expert),
        cmocka_unit_test(test_self_swap_identical),
        cmocka_unit_test(test_swapped_frames_show_donor_look),
        cmocka_unit_test(test_cyclic_rule),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_sets_hard),
        cmocka_unit_test(test_sets_easy_and_errors),
        cmocka_unit_test(test_probe_against_replay),
        cmocka_unit_test(test_probe_threads_and_blind_policy),
        cmocka_unit_test(test_probe_easy),
        cmocka_unit_test(test_probe_refusals),
        cmocka_unit_test(test_record_round_trip_and_refusals),
        cmocka_unit_test(test_record_fuzz_corpus),
        cmocka_unit_test(test_command_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
