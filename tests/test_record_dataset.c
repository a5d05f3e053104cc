/* test_record_dataset.c - coinbc record straight into a dataset: the same
 * shard bytes for any thread count, labels equal to executed actions at noise
 * 0, and a dataset that replays: executing the recorded actions in the engine
 * reproduces the recorded rewards and dones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "capture/record.h"
#include "dataset/dataset.h"
#include "tests/support/run.h"

static void record(const char *path, int threads, double noise) {
    ds_writer *w;
    cb_err e = {0};
    assert_int_equal(ds_writer_open(&w, path, 0, "test", "test", &e), 0);
    capture_record_opts o = {.lo = 3, .hi = 6, .mode = GAME_HARD, .states = 150, .noise = noise, .seed = 9,
                             .threads = threads, .dataset = w};
    capture_record_summary s;
    assert_int_equal(capture_record(&o, &s, &e), 0);
    assert_int_equal(s.states, 4 * 150);
    assert_int_equal(ds_writer_commit(w, &e), 0);
}

static void test_record_to_dataset(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a.cbd", dir);
    snprintf(b, sizeof b, "%s/b.cbd", dir);
    snprintf(c, sizeof c, "%s/c.cbd", dir);
    record(a, 1, 0.2);
    record(b, 2, 0.2);
    record(c, 2, 0.0);
    cb_err e = {0};
    for (int32_t s = 3; s <= 6; s++) {
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/level_%d.cbs", a, s);
        snprintf(pb, sizeof pb, "%s/level_%d.cbs", b, s);
        uint8_t *x, *y;
        size_t nx, ny;
        assert_int_equal(cb_read_file(pa, &x, &nx, &e), 0);
        assert_int_equal(cb_read_file(pb, &y, &ny, &e), 0);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
        free(x);
        free(y);
    }
    ds_reader *r;
    assert_int_equal(ds_open(&r, c, &e), 0);
    assert_int_equal(ds_nlevels(r), 4);
    ds_level l;
    int32_t seed = 5;
    assert_int_equal(ds_load(r, &seed, 1, &l, 1, &e), 0);
    assert_int_equal(l.mode, GAME_HARD);
    for (int64_t t = 0; t < l.n; t++) assert_int_equal(l.label[t], l.action[t]);
    /* replay the executed actions: same rewards, dones and episode steps; frame 0 is the reset frame */
    static game_env env;
    assert_int_equal(game_env_init(&env, 5, GAME_HARD, &e), 0);
    uint8_t rgb[CB_FRAME_BYTES];
    game_env_render(&env, rgb);
    assert_memory_equal(rgb, l.frames, CB_FRAME_BYTES);
    for (int64_t t = 0; t < l.n; t++) {
        assert_int_equal(l.step[t], env.state.time);
        game_step_out o;
        game_env_step(&env, l.action[t], &o);
        assert_true(o.reward == l.reward[t]);
        assert_int_equal(o.done, l.done[t]);
    }
    ds_level_free(&l);
    ds_close(r);
    test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_record_to_dataset)};
    return cmocka_run_group_tests_name("record_dataset", tests, NULL, NULL);
}
