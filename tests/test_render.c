/* test_render.c - rendering: camera geometry (agent centred, walls where the
 * camera puts them), animation rules (facing, saw frames, poses), hard-mode
 * palettes, trails, determinism, and golden hashes of a few frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "game/game.h"

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const uint8_t *px(const uint8_t *rgb, int x, int y) { return rgb + ((size_t)y * GAME_OBS + x) * 3; }
static int same_px(const uint8_t *a, const uint8_t *b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

/* Golden frames: (seed, mode, steps of action 7 then 8 alternating per 5). */
typedef struct {
    int32_t seed;
    int mode, steps;
    uint64_t hash;
} golden;

static const golden GOLDEN[] = {
#include "tests/golden_render.inc"
};

static void render_after(uint8_t *rgb, int32_t seed, int mode, int steps) {
    static game_env env;
    cb_err e = {0};
    assert_int_equal(game_env_init(&env, seed, mode, &e), 0);
    for (int t = 0; t < steps; t++) game_env_step(&env, ((t / 5) % 2) ? 8 : 7, NULL);
    game_env_render(&env, rgb);
}

static void test_golden(void **st) {
    (void)st;
    static const int32_t seeds[] = {0, 1, 160, 720, 5000};
    static const int steps[] = {0, 12, 40};
    uint8_t rgb[GAME_OBS_BYTES];
    int print = getenv("COINBC_PRINT_GOLDEN") != NULL, bad = 0, k = 0;
    for (int mode = 0; mode < 2; mode++)
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
            for (size_t j = 0; j < sizeof steps / sizeof steps[0]; j++) {
                render_after(rgb, seeds[i], mode, steps[j]);
                uint64_t h = fnv(rgb, sizeof rgb);
                if (print) printf("    {%d, %d, %d, 0x%016llxull},\n", seeds[i], mode, steps[j], (unsigned long long)h);
                if (k < (int)(sizeof GOLDEN / sizeof GOLDEN[0]) && GOLDEN[k].hash == h && GOLDEN[k].seed == seeds[i] &&
                    GOLDEN[k].mode == mode && GOLDEN[k].steps == steps[j]) {
                } else {
                    bad++;
                }
                k++;
            }
    if (bad && !print)
        printf("%d golden frame hashes differ. If the art changed on purpose, regenerate the table with\n"
               "  COINBC_PRINT_GOLDEN=1 build/tests/test_render | grep '^    {' > tests/golden_render.inc\n"
               "and look at the new frames (coinbc level --png, coinbc play --frames) before committing.\n",
               bad);
    assert_int_equal(k, (int)(sizeof GOLDEN / sizeof GOLDEN[0]));
    assert_int_equal(bad, 0);
}

static void test_camera_centred(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 0, GAME_EASY, &e), 0);
    uint8_t rgb[GAME_OBS_BYTES];
    game_render(rgb, &L, &s, NULL);
    /* Level 0 starts at (1.5, 1.5787): the border wall x < 1 lies left of the
     * agent's box. Box left edge x=1 is at u = (1 - 1.5) * 64/13 + 32 = 29.54,
     * so columns up to 28 show the wall (pixel centre 28.5 < 29.54) and the
     * floor row y < 1 lies below v = (1.5787 - 1) * 64/13 + 32 = 34.85. */
    uint8_t mid[3] = {140, 95, 60}, dark[3] = {115, 75, 45};
    for (int y = 0; y < 30; y++) {
        const uint8_t *p = px(rgb, 28, y);
        assert_true(same_px(p, mid) || same_px(p, dark));
    }
    for (int x = 35; x < 64; x++) {
        const uint8_t *p = px(rgb, x, 40);
        assert_true(same_px(p, mid) || same_px(p, dark));
    }
    /* column 30 at row 20 is inside the level (not wall) */
    assert_false(same_px(px(rgb, 31, 20), mid) || same_px(px(rgb, 31, 20), dark));
    /* the agent's body is drawn around the frame centre */
    uint8_t beige[3] = {232, 206, 160};
    int found = 0;
    for (int y = 26; y < 36; y++)
        for (int x = 30; x < 34; x++) found |= same_px(px(rgb, x, y), beige);
    assert_true(found);
}

static void test_mirror_and_pose(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 0, GAME_EASY, &e), 0);
    uint8_t a[GAME_OBS_BYTES], b[GAME_OBS_BYTES];
    game_state r = s, l = s;
    r.mirror = 0;
    l.mirror = 1;
    game_render(a, &L, &r, NULL);
    game_render(b, &L, &l, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    /* standing (supported, idle) differs from walking */
    game_state st1 = s, st2 = s;
    st1.has_support = 1;
    st1.ax = 0;
    st2.has_support = 1;
    st2.ax = 1;
    st2.agent.vx = 0.2f;
    game_render(a, &L, &st1, NULL);
    game_render(b, &L, &st2, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    /* walk 2 shows when (time/5) is odd on support; in the air always walk 1 */
    st2.time = 6;
    game_render(a, &L, &st2, NULL);
    st2.time = 2;
    game_render(b, &L, &st2, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    st2.has_support = 0; /* (times 2 and 4: same saw frame, different walk phase) */
    st2.time = 2;
    game_render(a, &L, &st2, NULL);
    st2.time = 4;
    game_render(b, &L, &st2, NULL);
    assert_memory_equal(a, b, sizeof a);
}

static void test_saw_frames(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    /* level 0 has a saw at (7.5, 5.5); put the agent next to it */
    assert_int_equal(game_level_generate(&L, &s, 0, GAME_EASY, &e), 0);
    s.agent.x = 6.0f;
    s.agent.y = 5.6f;
    uint8_t a[GAME_OBS_BYTES], b[GAME_OBS_BYTES], c[GAME_OBS_BYTES];
    s.time = 2;
    game_render(a, &L, &s, NULL);
    s.time = 3;
    game_render(b, &L, &s, NULL);
    s.time = 4;
    game_render(c, &L, &s, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
}

static void test_hard_themes_and_trails(void **st) {
    (void)st;
    static game_level L1, L2;
    game_state s1, s2;
    cb_err e = {0};
    uint8_t a[GAME_OBS_BYTES], b[GAME_OBS_BYTES];
    /* find two hard levels with different wall themes, compare wall colours */
    int seed = 1;
    assert_int_equal(game_level_generate(&L1, &s1, 0, GAME_HARD, &e), 0);
    do {
        assert_int_equal(game_level_generate(&L2, &s2, seed++, GAME_HARD, &e), 0);
    } while (L2.wall_theme == L1.wall_theme || L2.player_theme == L1.player_theme);
    game_render(a, &L1, &s1, NULL);
    game_render(b, &L2, &s2, NULL);
    assert_false(same_px(px(a, 2, 60), px(b, 2, 60))); /* the floor */
    /* trails: a level with enemies renders differently with and without them */
    static game_env env;
    for (seed = 0;; seed++) {
        assert_int_equal(game_env_init(&env, seed, GAME_HARD, &e), 0);
        if (env.level.nenemies > 0 && env.level.enemy_x0[0] < 12) break;
    }
    env.state.agent.x = env.level.enemy_x0[0];
    env.state.agent.y = env.level.enemy_y0[0] + 1.2f;
    for (int t = 0; t < 4; t++) { /* the enemy walks away from its trail */
        game_trails_update(&env.trails, &env.level, &env.state);
        env.state.enemy[0].x += 0.3f;
    }
    game_render(a, &env.level, &env.state, &env.trails);
    game_render(b, &env.level, &env.state, NULL);
    assert_memory_not_equal(a, b, sizeof a);
    /* deterministic */
    game_render(b, &env.level, &env.state, &env.trails);
    assert_memory_equal(a, b, sizeof a);
}

static void test_map_and_png(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 3, GAME_HARD, &e), 0);
    int n = 64 * 4;
    uint8_t *rgb = malloc((size_t)n * n * 3);
    assert_non_null(rgb);
    game_render_map(rgb, 4, &L, &s);
    /* the coin cell is gold */
    const uint8_t *g = rgb + (((size_t)(n - 4 * L.goal_y - 2) * n) + (size_t)(4 * L.goal_x + 2)) * 3;
    assert_int_equal(g[0], 255);
    assert_int_equal(g[1], 215);
    char path[] = "/tmp/coinbc_map_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(game_write_png(path, rgb, n, n, &e), 0);
    FILE *f = fopen(path, "rb");
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    unlink(path);
    assert_true(game_write_png("/nonexistent_dir/m.png", rgb, n, n, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent_dir/m.png"));
    free(rgb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_camera_centred), cmocka_unit_test(test_mirror_and_pose),
        cmocka_unit_test(test_saw_frames),     cmocka_unit_test(test_hard_themes_and_trails),
        cmocka_unit_test(test_map_and_png),    cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
