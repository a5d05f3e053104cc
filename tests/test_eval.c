/* test_eval.c - offline metrics on hand-made data with known answers,
 * statistics, closed-loop rollouts (determinism across thread counts,
 * batching independence), the contact sheet and SVG charts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "eval/eval.h"

static void test_wilson_and_mean(void **st) {
    (void)st;
    double lo, hi;
    eval_wilson(50, 100, &lo, &hi);
    /* 0.5 -+ 0.09617 for n = 100 (Wilson, z = 1.96) */
    assert_true(lo > 0.40383 && lo < 0.40384);
    assert_true(hi > 0.59616 && hi < 0.59617);
    eval_wilson(0, 10, &lo, &hi);
    assert_true(lo == 0 && hi > 0.27 && hi < 0.28);
    eval_wilson(10, 10, &lo, &hi);
    assert_true(hi > 0.9999999 && lo > 0.7224 && lo < 0.7225);
    double x[4] = {1, 2, 3, 4}, m, h;
    eval_mean_ci(x, 4, &m, &h);
    assert_true(m == 2.5);
    /* sd = 1.29099, half = 1.96 * sd / 2 */
    assert_true(h > 1.2651 && h < 1.2653);
    assert_int_equal(eval_merge_action(12), 4);
    assert_int_equal(eval_merge_action(7), 7);
}

static void onehot(float *p, int a) {
    for (int k = 0; k < CB_NUM_ACTIONS; k++) p[k] = 0.01f;
    p[a] = 1 - 0.01f * (CB_NUM_ACTIONS - 1);
}

static void test_accuracy_known_answers(void **st) {
    (void)st;
    eval_acc a;
    eval_acc_init(&a);
    cb_err e = {0};
    /* level 10: 4 frames, 3 right; level 11: 2 frames, 0 right, but one is
     * NOOP predicted for label 12 (merged-correct). */
    uint8_t l10[4] = {7, 7, 8, 1}, l11[2] = {12, 5};
    float p10[4 * CB_NUM_ACTIONS], p11[2 * CB_NUM_ACTIONS];
    onehot(p10 + 0 * CB_NUM_ACTIONS, 7);
    onehot(p10 + 1 * CB_NUM_ACTIONS, 7);
    onehot(p10 + 2 * CB_NUM_ACTIONS, 8);
    onehot(p10 + 3 * CB_NUM_ACTIONS, 7);
    onehot(p11 + 0 * CB_NUM_ACTIONS, 4);
    onehot(p11 + 1 * CB_NUM_ACTIONS, 2);
    assert_int_equal(eval_acc_add(&a, 10, l10, p10, 4, &e), 0);
    assert_int_equal(eval_acc_add(&a, 11, l11, p11, 2, &e), 0);
    eval_acc_summary s;
    eval_acc_summarize(&s, &a);
    assert_true(s.acc > 0.4999 && s.acc < 0.5001);               /* 3/6 */
    assert_true(s.acc_merged > 0.6666 && s.acc_merged < 0.6667); /* 4/6 */
    assert_true(s.level_mean > 0.3749 && s.level_mean < 0.3751); /* (0.75 + 0) / 2 */
    assert_int_equal(s.nworst, 2);
    assert_int_equal(a.levels[s.worst[0]].seed, 11);
    assert_int_equal(a.confusion[1][7], 1);
    assert_int_equal(a.confusion[12][4], 1);
    assert_int_equal(a.confusion[7][7], 2);
    /* loss: -log(0.86) for each frame whose label got 0.86, -log(0.01) otherwise */
    double want = (3 * -log(0.86) + 3 * -log(0.01)) / 6;
    assert_true(fabs(s.loss - want) < 1e-5);
    uint8_t bad[1] = {15};
    assert_true(eval_acc_add(&a, 12, bad, p10, 1, &e) < 0);
    assert_non_null(strstr(e.msg, "level 12"));
    eval_acc_free(&a);
}

/* A deterministic "policy" reading the frame: prefers RIGHT+UP when the
 * centre pixel is bright, else RIGHT. Counts calls to check batching. */
typedef struct {
    int calls;
} toy_policy;

static int toy_probs(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e) {
    (void)worker;
    (void)e;
    __atomic_add_fetch(&((toy_policy *)self)->calls, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < n; i++) {
        const uint8_t *f = frames + (size_t)i * CB_FRAME_BYTES;
        int v = f[(20 * CB_FRAME_W + 40) * 3] + f[(40 * CB_FRAME_W + 40) * 3 + 1];
        float *p = probs + (size_t)i * CB_NUM_ACTIONS;
        for (int k = 0; k < CB_NUM_ACTIONS; k++) p[k] = 0;
        p[8] = v > 200 ? 0.7f : 0.4f;
        p[7] = 1 - p[8];
    }
    return 0;
}

static void test_rollout_deterministic(void **st) {
    (void)st;
    int32_t seeds[20];
    for (int i = 0; i < 20; i++) seeds[i] = 100 + i;
    toy_policy tp = {0};
    eval_policy pol = {&tp, toy_probs};
    eval_rollout_opts o = {.agent = EVAL_AGENT_POLICY, .policy = &pol, .mode = GAME_EASY, .episodes = 2, .sample = 1,
                           .seed = 5, .threads = 1, .quiet = 1};
    eval_level_result r1[20], r2[20], r3[20];
    cb_err e = {0};
    assert_int_equal(eval_rollout(r1, seeds, 20, &o, &e), 0);
    o.threads = 2;
    assert_int_equal(eval_rollout(r2, seeds, 20, &o, &e), 0);
    assert_memory_equal(r1, r2, sizeof r1);
    o.seed = 6;
    assert_int_equal(eval_rollout(r3, seeds, 20, &o, &e), 0);
    int episodes = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(r1[i].seed, seeds[i]);
        assert_int_equal(r1[i].episodes, 2);
        assert_int_equal(r1[i].coins + r1[i].deaths + r1[i].timeouts, 2);
        episodes += r1[i].episodes;
    }
    assert_int_equal(episodes, 40);
    assert_memory_not_equal(r1, r3, sizeof r1); /* another sampling seed plays differently */
    eval_rollout_summary s;
    eval_rollout_summarize(&s, r1, 20);
    assert_int_equal(s.episodes, 40);
    assert_true(s.success_lo <= s.success && s.success <= s.success_hi);
    /* a random policy on the same levels */
    o.agent = EVAL_AGENT_RANDOM;
    assert_int_equal(eval_rollout(r3, seeds, 20, &o, &e), 0);
    eval_rollout_summarize(&s, r3, 20);
    assert_int_equal(s.episodes, 40);
    /* bad input */
    o.episodes = 0;
    assert_true(eval_rollout(r3, seeds, 20, &o, &e) < 0);
}

static void test_film_and_svg(void **st) {
    (void)st;
    int32_t seeds[3] = {1, 2, 3};
    int steps = 50;
    uint8_t *film = calloc((size_t)3 * steps * CB_FRAME_BYTES, 1), act[150];
    int len[3], outc[3];
    toy_policy tp = {0};
    eval_policy pol = {&tp, toy_probs};
    eval_rollout_opts o = {.agent = EVAL_AGENT_POLICY, .policy = &pol, .mode = GAME_EASY, .episodes = 1,
                           .seed = 5, .threads = 2, .quiet = 1, .film_levels = 3, .film_steps = steps,
                           .film = film, .film_action = act, .film_len = len, .film_outcome = outc};
    eval_level_result r[3];
    cb_err e = {0};
    assert_int_equal(eval_rollout(r, seeds, 3, &o, &e), 0);
    for (int l = 0; l < 3; l++) {
        assert_true(len[l] >= 1 && len[l] <= steps);
        assert_true(act[l * steps] == 7 || act[l * steps] == 8);
    }
    char path[] = "/tmp/coinbc_film_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(eval_film_write(path, seeds, 3, film, act, len, outc, steps, 6, &e), 0);
    FILE *f = fopen(path, "rb");
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    unlink(path);
    free(film);
    /* SVG: one polyline per series, escaped title */
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    double x[3] = {1, 2, 3}, y1[3] = {0.1, 0.5, 0.7}, y2[3] = {0.2, 0.3, 0.4};
    eval_series s[2] = {{"mean", x, y1, 3}, {"and <tau>", x, y2, 3}};
    eval_svg_lines(m, "acc & loss", "epoch", "accuracy", s, 2, 400, 240);
    fclose(m);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "acc &amp; loss"));
    assert_non_null(strstr(buf, "and &lt;tau&gt;"));
    int lines = 0;
    for (char *p = buf; (p = strstr(p, "<polyline")); p++) lines++;
    assert_int_equal(lines, 2);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_and_mean),
        cmocka_unit_test(test_accuracy_known_answers),
        cmocka_unit_test(test_rollout_deterministic),
        cmocka_unit_test(test_film_and_svg),
    };
    return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}
