/* test_game.c - the engine against procgen's reference data: every layout of
 * seeds 0..999 in both modes byte for byte, and every trace row of seeds
 * 0..499 in both modes at %.4f (tests/data/procgen/README.md). Also the MT19937 test
 * vectors, state copies and hashes, and the refdata policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "game/game.h"
#include "tests/support/refdata.h"

static void test_mt_vectors(void **st) {
    (void)st;
    game_mt m;
    const uint32_t seeds[3] = {0, 1, 5489};
    const uint32_t want[3][3] = {{2357136044u, 2546248239u, 3071714933u},
                                 {1791095845u, 4282876139u, 3093770124u},
                                 {3499211612u, 581869302u, 3890346734u}};
    for (int s = 0; s < 3; s++) {
        game_mt_seed(&m, seeds[s]);
        for (int i = 0; i < 3; i++) assert_int_equal(game_mt_next(&m), want[s][i]);
    }
}

/* Reads the next block "seed ... end\n" from a gzipped layouts file. */
static int read_block(gzFile f, char *buf, size_t cap) {
    size_t len = 0;
    char line[512];
    while (gzgets(f, line, sizeof line)) {
        size_t l = strlen(line);
        if (len + l + 1 > cap) return -1;
        memcpy(buf + len, line, l + 1);
        len += l;
        if (strcmp(line, "end\n") == 0) return (int)len;
    }
    return len ? -1 : 0;
}

static void first_diff(const char *a, const char *b) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    printf("  first difference at line %d:\n  ours: %.100s\n  ref:  %.100s\n", line, la, lb);
}

static void check_layouts(const char *file, int mode) {
    const char *path = test_refdata(file);
    gzFile f = gzopen(path, "rb");
    assert_non_null(f);
    static char ref[64 * 1024], ours[64 * 1024];
    static game_level L;
    int seeds = 0, bad = 0;
    for (;;) {
        int n = read_block(f, ref, sizeof ref);
        assert_true(n >= 0);
        if (n == 0) break;
        int seed;
        assert_int_equal(sscanf(ref, "seed %d", &seed), 1);
        game_state s0;
        cb_err e = {0};
        assert_int_equal(game_level_generate(&L, &s0, seed, mode, &e), 0);
        FILE *mem = fmemopen(ours, sizeof ours, "w");
        assert_non_null(mem);
        game_level_dump(&L, mem);
        fputc(0, mem);
        fclose(mem);
        if (strcmp(ours, ref) != 0) {
            if (bad < 3) {
                printf("layout of seed %d (%s) differs\n", seed, game_mode_name(mode));
                first_diff(ours, ref);
            }
            bad++;
        }
        seeds++;
    }
    gzclose(f);
    printf("%s: %d/%d levels identical\n", file, seeds - bad, seeds);
    assert_int_equal(seeds, 1000);
    assert_int_equal(bad, 0);
}

static void test_layouts_easy(void **st) {
    (void)st;
    check_layouts("layouts_easy.txt.gz", GAME_EASY);
}

static void test_layouts_hard(void **st) {
    (void)st;
    check_layouts("layouts_hard.txt.gz", GAME_HARD);
}

static void check_traces(const char *file, int mode) {
    const char *path = test_refdata(file);
    gzFile f = gzopen(path, "rb");
    assert_non_null(f);
    char line[256], ours[256];
    assert_non_null(gzgets(f, line, sizeof line)); /* header */
    static game_level L;
    game_state s;
    game_refpolicy pol;
    int cur = -1, step = 0, rows = 0, bad = 0, episodes = 0, done = 1;
    while (gzgets(f, line, sizeof line)) {
        line[strcspn(line, "\r\n")] = 0;
        int seed;
        assert_int_equal(sscanf(line, "%d,", &seed), 1);
        if (seed != cur) {
            if (!done) {
                printf("seed %d: reference continues after our episode ended? (step %d)\n", cur, step);
                bad++;
            }
            cb_err e = {0};
            assert_int_equal(game_level_generate(&L, &s, seed, mode, &e), 0);
            game_refpolicy_init(&pol, seed);
            cur = seed;
            step = 0;
            done = 0;
            episodes++;
        }
        if (done) {
            if (bad < 5) printf("seed %d step %d: we ended the episode earlier\n", seed, step);
            bad++;
            continue;
        }
        int a = game_refpolicy_next(&pol);
        game_step_out o;
        game_step(&L, &s, a, &o);
        game_trace_row(ours, sizeof ours, seed, step, a, &s, &o);
        if (strcmp(ours, line) != 0) {
            if (bad < 5) printf("%s seed %d step %d:\n  ours: %s\n  ref:  %s\n", game_mode_name(mode), seed, step, ours, line);
            bad++;
        }
        done = o.done;
        step++;
        rows++;
    }
    gzclose(f);
    if (!done) {
        printf("seed %d: reference ended before our episode did (step %d)\n", cur, step);
        bad++;
    }
    printf("%s: %d rows, %d episodes, %d rows differ\n", file, rows, episodes, bad);
    assert_int_equal(episodes, 500);
    assert_int_equal(bad, 0);
}

static void test_traces_easy(void **st) {
    (void)st;
    check_traces("traces_easy.csv.gz", GAME_EASY);
}

static void test_traces_hard(void **st) {
    (void)st;
    check_traces("traces_hard.csv.gz", GAME_HARD);
}

static void test_state_copy_and_hash(void **st) {
    (void)st;
    static game_level L;
    game_state s, t;
    cb_err e = {0};
    assert_int_equal(game_level_generate(&L, &s, 160, GAME_HARD, &e), 0);
    game_refpolicy pol;
    game_refpolicy_init(&pol, 160);
    for (int i = 0; i < 20; i++) game_step(&L, &s, game_refpolicy_next(&pol), NULL);
    t = s; /* a plain value */
    assert_true(game_state_hash(&L, &s) == game_state_hash(&L, &t));
    game_step_out o1, o2;
    game_step(&L, &s, 7, &o1);
    game_step(&L, &t, 7, &o2);
    assert_memory_equal(&s.agent, &t.agent, sizeof s.agent);
    assert_true(game_state_hash(&L, &s) == game_state_hash(&L, &t));
    game_step(&L, &t, 1, &o2);
    assert_true(game_state_hash(&L, &s) != game_state_hash(&L, &t));
}

static void test_timeout(void **st) {
    (void)st;
    static game_level L;
    game_state s;
    cb_err e = {0};
    /* Standing still (NOOP) on level 0 never ends before the timeout. */
    assert_int_equal(game_level_generate(&L, &s, 0, GAME_EASY, &e), 0);
    game_step_out o = {0};
    int t = 0;
    while (!o.done) {
        game_step(&L, &s, 4, &o);
        t++;
    }
    assert_int_equal(t, GAME_TIMEOUT);
    assert_int_equal(o.outcome, GAME_TIMEOUT_END);
    assert_true(o.reward == 0);
    /* 9..14 are NOOP */
    game_state a, b;
    game_reset(&L, &a);
    game_reset(&L, &b);
    for (int i = 0; i < 30; i++) {
        game_step(&L, &a, 4, NULL);
        game_step(&L, &b, 9 + i % 6, NULL);
    }
    assert_true(game_state_hash(&L, &a) == game_state_hash(&L, &b));
}

static void test_modes(void **st) {
    (void)st;
    int m;
    assert_int_equal(game_mode_parse("easy", &m), 0);
    assert_int_equal(m, GAME_EASY);
    assert_int_equal(game_mode_parse("hard", &m), 0);
    assert_int_equal(m, GAME_HARD);
    assert_true(game_mode_parse("medium", &m) < 0);
    static game_level L;
    cb_err e = {0};
    assert_true(game_level_generate(&L, NULL, 1, 7, &e) < 0);
    /* negative seeds are int32 seeds too (taken modulo 2^32 by the MT) */
    assert_int_equal(game_level_generate(&L, NULL, -5, GAME_HARD, &e), 0);
    assert_int_equal(game_level_generate(&L, NULL, INT32_MAX, GAME_EASY, &e), 0);
}

/* The one action-name table: procgen's order (action a moves by
 * (a / 3 - 1, a % 3 - 1) for a <= 8, as game_step decodes it), 9..14 by number. */
static void test_action_names(void **st) {
    (void)st;
    const char *xs[3] = {"LEFT", "", "RIGHT"}, *ys[3] = {"DOWN", "", "UP"};
    for (int a = 0; a < 9; a++) {
        char want[32];
        const char *x = xs[a / 3], *y = ys[a % 3];
        snprintf(want, sizeof want, "%s%s%s", x, *x && *y ? "+" : "", *x || *y ? y : "NOOP");
        assert_string_equal(game_action_name(a), want);
        assert_true(strlen(game_action_short_name(a)) <= 4);
        assert_int_equal(game_action_short_name(a)[0], want[0]);
    }
    assert_string_equal(game_action_short_name(8), "R+U");
    assert_string_equal(game_action_name(9), "9");
    assert_string_equal(game_action_short_name(14), "14");
    assert_string_equal(game_action_name(15), "?");
    assert_string_equal(game_action_name(-1), "?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mt_vectors),  cmocka_unit_test(test_layouts_easy), cmocka_unit_test(test_layouts_hard),
        cmocka_unit_test(test_traces_easy), cmocka_unit_test(test_traces_hard),  cmocka_unit_test(test_state_copy_and_hash),
        cmocka_unit_test(test_timeout),     cmocka_unit_test(test_modes),       cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests_name("game", tests, NULL, NULL);
}
