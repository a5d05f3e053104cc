/* test_expert.c - the expert planner: reaches the coin on fixed levels of
 * both modes that have lava pits, saws, enemies and crate stacks (seeds
 * picked from the refdata layouts; the features are checked here too), keeps
 * its plan, replans from perturbed and mid-air states, reports doomed states
 * and an exhausted budget, and returns canonical labels (docs/EXPERT.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "game/game.h"

enum { NOOP = 4, LEFT = 1, RIGHT = 7, UP = 5, DOWN = 3, LEFT_UP = 2, RIGHT_UP = 8, LEFT_DOWN = 0, RIGHT_DOWN = 6 };

typedef struct {
    int lava, saws, enemies, platform_enemies, max_stack;
} level_features;

static level_features features(const game_level *L) {
    level_features f = {0};
    for (int y = 0; y < GAME_H; y++)
        for (int x = 0; x < GAME_W; x++) f.lava += L->grid[y][x] == GAME_LAVA_TOP || L->grid[y][x] == GAME_LAVA_MID;
    for (int i = 0; i < L->nstatics; i++) {
        if (L->statics[i].type == GAME_ENT_SAW) f.saws++;
        if (L->statics[i].type != GAME_ENT_CRATE) continue;
        int h = 0;
        for (int j = 0; j < L->nstatics; j++)
            h += L->statics[j].type == GAME_ENT_CRATE && L->statics[j].x == L->statics[i].x;
        if (h > f.max_stack) f.max_stack = h;
    }
    f.enemies = L->nenemies;
    for (int i = 0; i < L->nenemies; i++) f.platform_enemies += L->enemy_y0[i] > 1.6f;
    return f;
}

/* Plays one episode from s with the expert (asserting every call succeeds
 * and every label is canonical); returns the outcome and the step count. */
static int play(game_expert *ex, const game_level *L, game_state s, int *steps) {
    cb_err e = {0};
    for (int t = s.time; t < GAME_TIMEOUT; t++) {
        int a = -1;
        int rc = game_expert_act(ex, L, &s, &a, &e);
        if (rc) printf("  level %d: %s\n", L->seed, e.msg);
        assert_int_equal(rc, 0);
        assert_true(a >= 0 && a <= 8);
        assert_int_equal(game_expert_canonical(L, &s, a), a);
        game_step_out o;
        game_step(L, &s, a, &o);
        if (o.done) {
            *steps = t + 1;
            return o.outcome;
        }
    }
    *steps = GAME_TIMEOUT;
    return GAME_TIMEOUT_END;
}

typedef struct {
    int32_t seed;
    int mode;
    const char *what; /* the feature the seed was picked for */
} pick;

/* Picked from tests/data/procgen/layouts_*.txt.gz by scanning for the features. */
static const pick PICKS[] = {
    {17, GAME_EASY, "lava"},        {18, GAME_EASY, "lava"},          {0, GAME_EASY, "saws"},
    {5, GAME_EASY, "saws"},         {63, GAME_EASY, "enemies"},       {107, GAME_EASY, "enemies"},
    {3, GAME_EASY, "stack"},        {4, GAME_HARD, "lava"},           {21, GAME_HARD, "lava"},
    {6, GAME_HARD, "saws"},         {1, GAME_HARD, "enemies"},        {7, GAME_HARD, "platform_enemy"},
    {117, GAME_HARD, "all"},        {137, GAME_HARD, "all"},          {2, GAME_HARD, "stack"},
};

static void test_reaches_coin_on_picked_levels(void **st) {
    (void)st;
    game_expert ex;
    cb_err e = {0};
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    static game_level L;
    for (size_t i = 0; i < sizeof PICKS / sizeof PICKS[0]; i++) {
        const pick *p = &PICKS[i];
        game_state s;
        assert_int_equal(game_level_generate(&L, &s, p->seed, p->mode, &e), 0);
        level_features f = features(&L);
        const char *w = p->what;
        int all = !strcmp(w, "all");
        if (all || !strcmp(w, "lava")) assert_true(f.lava > 0);
        if (all || !strcmp(w, "saws")) assert_true(f.saws >= (all ? 1 : 3));
        if (all || !strcmp(w, "enemies")) assert_true(f.enemies >= (all ? 1 : 3));
        if (!strcmp(w, "platform_enemy")) assert_true(f.platform_enemies >= 1);
        if (all || !strcmp(w, "stack")) assert_true(f.max_stack >= 3);
        game_expert_reset(&ex);
        int64_t searches = ex.searches;
        int steps = 0;
        int outcome = play(&ex, &L, s, &steps);
        if (outcome != GAME_COIN) printf("  %s level %d (%s): outcome %d\n", game_mode_name(p->mode), p->seed, w, outcome);
        assert_int_equal(outcome, GAME_COIN);
        /* the plan made at the start is kept to the end: one search */
        assert_int_equal(ex.searches - searches, 1);
    }
    game_expert_free(&ex);
}

/* From a state pushed off the plan by a few wrong actions, the expert
 * replans (once) and still reaches the coin; a second expert given only the
 * perturbed state returns the same actions. */
static void test_replans_from_perturbed_state(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    game_expert ex, ex2;
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    assert_int_equal(game_expert_init(&ex2, NULL, &e), 0);
    const int32_t seeds[] = {17, 117, 1};
    const int modes[] = {GAME_EASY, GAME_HARD, GAME_HARD};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(game_level_generate(&L, &s, seeds[k], modes[k], &e), 0);
        game_expert_reset(&ex);
        int64_t s0 = ex.searches;
        int a;
        for (int t = 0; t < 12; t++) {
            assert_int_equal(game_expert_act(&ex, &L, &s, &a, &e), 0);
            game_step(&L, &s, a, NULL);
        }
        assert_int_equal(ex.searches - s0, 1);
        int64_t before = ex.searches;
        /* perturb: three steps of LEFT then one NOOP (the plan never does this at the start) */
        for (int t = 0; t < 3; t++) game_step(&L, &s, LEFT, NULL);
        game_step(&L, &s, NOOP, NULL);
        assert_int_equal(s.outcome, GAME_RUNNING);
        game_state mid = s;
        assert_int_equal(game_expert_act(&ex, &L, &s, &a, &e), 0);
        assert_int_equal(ex.searches, before + 1);
        int a2;
        game_expert_reset(&ex2);
        assert_int_equal(game_expert_act(&ex2, &L, &mid, &a2, &e), 0);
        assert_int_equal(a, a2);
        int steps;
        assert_int_equal(play(&ex, &L, s, &steps), GAME_COIN);
        assert_int_equal(ex.searches, before + 1); /* no further replans */
    }
    game_expert_free(&ex);
    game_expert_free(&ex2);
}

/* Any state, not only the start: mid-air right after a jump. Also the
 * same state asked twice gives the same action without a new search. */
static void test_acts_from_mid_air(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    game_expert ex;
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    assert_int_equal(game_level_generate(&L, &s, 5, GAME_EASY, &e), 0);
    for (int t = 0; t < 2; t++) game_step(&L, &s, RIGHT, NULL);
    game_step(&L, &s, UP, NULL);
    game_step(&L, &s, NOOP, NULL);
    assert_true(s.agent.vy > 0); /* rising */
    int a, b;
    assert_int_equal(game_expert_act(&ex, &L, &s, &a, &e), 0);
    int64_t n = ex.searches;
    assert_int_equal(game_expert_act(&ex, &L, &s, &b, &e), 0);
    assert_int_equal(a, b);
    assert_int_equal(ex.searches, n);
    int steps;
    assert_int_equal(play(&ex, &L, s, &steps), GAME_COIN);
    game_expert_free(&ex);
}

/* A doomed state (falling into lava) gives "no path"; a tiny budget gives
 * "budget"; both still set a usable action. A finished episode is refused. */
static void test_failures_are_reported(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    game_expert ex;
    assert_int_equal(game_expert_init(&ex, NULL, &e), 0);
    assert_int_equal(game_level_generate(&L, &s, 17, GAME_EASY, &e), 0);
    int lx = -1, ly = -1;
    for (int y = 0; y < GAME_H && lx < 0; y++)
        for (int x = 0; x < GAME_W && lx < 0; x++)
            if (L.grid[y][x] == GAME_LAVA_TOP) lx = x, ly = y;
    assert_true(lx > 0);
    game_state d = s;
    d.agent.x = (float)lx + 0.5f;
    d.agent.y = (float)ly + 1.2f;
    d.agent.vx = 0;
    d.agent.vy = -1.5f;
    d.last_agent_y = d.agent.y;
    d.time = 40;
    int a = -1;
    int rc = game_expert_act(&ex, &L, &d, &a, &e);
    assert_int_equal(rc, GAME_EXPERT_ENOPATH);
    assert_non_null(strstr(e.msg, "no path"));
    assert_non_null(strstr(e.msg, "level 17"));
    assert_true(a >= 0 && a <= 8);
    /* asking again in the same state follows the best-effort plan, no search */
    int64_t n = ex.searches;
    assert_int_equal(game_expert_act(&ex, &L, &d, &a, &e), GAME_EXPERT_ENOPATH);
    assert_true(ex.searches == n || ex.plan_len == 0);
    game_expert_free(&ex);

    game_expert_opts o = {.max_steps = 50, .max_nodes = 0};
    assert_int_equal(game_expert_init(&ex, &o, &e), 0);
    rc = game_expert_act(&ex, &L, &s, &a, &e);
    assert_int_equal(rc, GAME_EXPERT_EBUDGET);
    assert_non_null(strstr(e.msg, "budget"));
    assert_true(a >= 0 && a <= 8);
    game_state f = s;
    f.outcome = GAME_DEATH;
    assert_int_equal(game_expert_act(&ex, &L, &f, &a, &e), CB_EARG);
    game_expert_free(&ex);

    o.max_nodes = 3;
    assert_int_equal(game_expert_init(&ex, &o, &e), CB_EARG);
}

/* Canonical labels (docs/EXPERT.md). */
static void test_canonical_rules(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 3, GAME_EASY, &e), 0);
    /* the order itself */
    const uint8_t order[9] = {NOOP, RIGHT, LEFT, UP, DOWN, RIGHT_UP, LEFT_UP, RIGHT_DOWN, LEFT_DOWN};
    assert_memory_equal(GAME_EXPERT_ORDER, order, 9);
    /* standing on the ground after one step: every action is distinct but
     * DOWN (on solid ground it changes nothing) and 9..14 (NOOP) */
    game_state g = s;
    game_step(&L, &g, NOOP, NULL);
    assert_true(g.agent.vy == 0);
    for (int a = 9; a < 15; a++) assert_int_equal(game_expert_canonical(&L, &g, a), NOOP);
    assert_int_equal(game_expert_canonical(&L, &g, UP), UP);
    assert_int_equal(game_expert_canonical(&L, &g, RIGHT_UP), RIGHT_UP);
    assert_int_equal(game_expert_canonical(&L, &g, LEFT_UP), LEFT_UP);
    assert_int_equal(game_expert_canonical(&L, &g, RIGHT), RIGHT);
    assert_int_equal(game_expert_canonical(&L, &g, LEFT), LEFT);
    assert_int_equal(game_expert_canonical(&L, &g, DOWN), NOOP);
    /* in the air (rising after a jump): UP is NOOP, RIGHT+UP is RIGHT,
     * LEFT+UP is LEFT; DOWN with nothing below is NOOP */
    game_state air = g;
    game_step(&L, &air, UP, NULL);
    assert_true(air.agent.vy > 0);
    assert_int_equal(game_expert_canonical(&L, &air, UP), NOOP);
    assert_int_equal(game_expert_canonical(&L, &air, RIGHT_UP), RIGHT);
    assert_int_equal(game_expert_canonical(&L, &air, LEFT_UP), LEFT);
    assert_int_equal(game_expert_canonical(&L, &air, DOWN), NOOP);
    assert_int_equal(game_expert_canonical(&L, &air, RIGHT_DOWN), RIGHT);
    assert_int_equal(game_expert_canonical(&L, &air, LEFT_DOWN), LEFT);
    assert_int_equal(game_expert_canonical(&L, &air, RIGHT), RIGHT);
    assert_int_equal(game_expert_canonical(&L, &air, NOOP), NOOP);
    /* standing on a crate: DOWN drops through it, so it is not NOOP */
    int c = -1;
    for (int i = 0; i < L.nstatics && c < 0; i++)
        if (L.statics[i].type == GAME_ENT_CRATE) {
            int top = 1;
            for (int j = 0; j < L.nstatics; j++)
                top &= !(L.statics[j].type == GAME_ENT_CRATE && L.statics[j].x == L.statics[i].x &&
                         L.statics[j].y > L.statics[i].y);
            if (top) c = i;
        }
    assert_true(c >= 0);
    game_state k = s;
    k.agent.x = L.statics[c].x;
    k.agent.y = L.statics[c].y + 0.5f + 0.5787f;
    k.agent.vx = 0;
    k.agent.vy = 0;
    k.last_agent_y = k.agent.y;
    k.is_on_crate = 1;
    game_state k2 = k;
    game_step(&L, &k2, NOOP, NULL);
    assert_true(k2.is_on_crate); /* it really stands on the crate */
    assert_int_equal(game_expert_canonical(&L, &k, DOWN), DOWN);
    assert_int_equal(game_expert_canonical(&L, &k, 12), NOOP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_rules),
        cmocka_unit_test(test_failures_are_reported),
        cmocka_unit_test(test_acts_from_mid_air),
        cmocka_unit_test(test_replans_from_perturbed_state),
        cmocka_unit_test(test_reaches_coin_on_picked_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
