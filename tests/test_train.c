/* test_train.c - the gradient combiners on hand-computed cases (sign 0, all
 * agreeing, none agreeing, tau 0 == mean, SAND with zero variance, the
 * geometric mean, NaN/inf refused), Adam's first step, learning a synthetic
 * task, determinism and resume == uninterrupted. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/support/run.h"
#include "train/train.h"

/* L = 3 levels, one tensor of 4 entries:
 *   entry 0: +1 +1 +3  (all agree)      mean 5/3
 *   entry 1: +2 -2 +2  |mean sign| 1/3 mean 2/3
 *   entry 2:  0  0  0  (sign 0)         mean 0
 *   entry 3: -1 -1 +1  |mean sign| 1/3 mean -1/3 */
static const float G[3][4] = {{1, 2, 0, -1}, {1, -2, 0, -1}, {3, 2, 0, 1}};
static model_tensor T1 = {"t.w", 0, 4, 1};

static void combine(const train_combine_opts *o, float out[4], float *dens) {
    cb_err e = {0};
    assert_int_equal(train_combine(out, dens, &G[0][0], 3, 4, &T1, 1, o, &e), 0);
}

static void near(float a, double b) {
    if (fabs(a - b) > 1e-6 * fmax(1, fabs(b))) fail_msg("%g != %g", (double)a, b);
}

static void test_mean_and_tau0(void **st) {
    (void)st;
    float a[4], b[4], d;
    train_combine_opts mean = {TRAIN_MEAN, 0, 1, 1}, and0 = {TRAIN_AND, 0, 1, 1};
    combine(&mean, a, &d);
    near(a[0], 5.0 / 3), near(a[1], 2.0 / 3), near(a[2], 0), near(a[3], -1.0 / 3);
    near(d, 1);
    combine(&and0, b, &d);
    assert_memory_equal(a, b, sizeof a); /* tau 0 is plain averaging */
    near(d, 1);
}

static void test_and_mask(void **st) {
    (void)st;
    float a[4], d;
    train_combine_opts o = {TRAIN_AND, 1.0, 1, 0};
    combine(&o, a, &d); /* only entry 0 agrees fully; sign 0 never agrees at tau > 0 */
    near(a[0], 5.0 / 3), near(a[1], 0), near(a[2], 0), near(a[3], 0);
    near(d, 0.25);
    o.rescale = 1; /* 1 / (fraction on) = 4 */
    combine(&o, a, &d);
    near(a[0], 20.0 / 3), near(a[1], 0);
    o.tau = 0.3; /* |mean sign| 1/3 >= 0.3: entries 0, 1, 3; entry 2 (all zero) has 0 */
    o.rescale = 0;
    combine(&o, a, &d);
    near(a[0], 5.0 / 3), near(a[1], 2.0 / 3), near(a[2], 0), near(a[3], -1.0 / 3);
    near(d, 0.75);
    o.tau = 1.0 / 3; /* AND uses >=: exactly 1/3 still passes */
    combine(&o, a, &d);
    near(d, 0.75);
    /* none agreeing: the whole tensor is masked, rescale does not divide by 0 */
    const float H[2][2] = {{1, -1}, {-1, 1}};
    model_tensor t2 = {"h.w", 0, 2, 1};
    train_combine_opts o2 = {TRAIN_AND, 0.5, 1, 1};
    cb_err e = {0};
    float out[2];
    assert_int_equal(train_combine(out, &d, &H[0][0], 2, 2, &t2, 1, &o2, &e), 0);
    near(out[0], 0), near(out[1], 0), near(d, 0);
}

static void test_sand(void **st) {
    (void)st;
    /* zero variance across levels: the limit of tanh, 1 above tau, 0 at or below (SAND uses >) */
    const float Z[2][2] = {{0.5f, -0.25f}, {0.5f, -0.25f}};
    model_tensor t2 = {"z.w", 0, 2, 1};
    train_combine_opts o = {TRAIN_SAND, 0.5, 10, 0};
    cb_err e = {0};
    float out[2], d;
    assert_int_equal(train_combine(out, &d, &Z[0][0], 2, 2, &t2, 1, &o, &e), 0);
    near(out[0], 0.5), near(out[1], -0.25), near(d, 1);
    o.tau = 1.0;
    assert_int_equal(train_combine(out, &d, &Z[0][0], 2, 2, &t2, 1, &o, &e), 0);
    near(out[0], 0), near(out[1], 0), near(d, 0);
    /* the soft mask on the 3-level example, k = 0.5, tau = 0.5:
     * entry 0: a = 1, var = ((1-5/3)^2*2 + (3-5/3)^2)/2 = 4/3, mask = tanh(0.5*0.5/(4/3))
     * entry 1: a = 1/3 < tau -> 0; entry 2: var 0, a = 0 -> 0;
     * entry 3: a = 1/3 -> 0 */
    train_combine_opts s = {TRAIN_SAND, 0.5, 0.5, 0};
    float a[4];
    combine(&s, a, &d);
    double m0 = tanh(0.5 * 0.5 / (4.0 / 3));
    near(a[0], m0 * 5.0 / 3), near(a[1], 0), near(a[2], 0), near(a[3], 0);
    near(d, m0 / 4);
    s.rescale = 1; /* divided by the mask's mean */
    combine(&s, a, &d);
    near(a[0], 5.0 / 3 * 4);
}

static void test_geomean_and_bad_input(void **st) {
    (void)st;
    const float Q[2][3] = {{2, -1, 3}, {8, -4, -3}};
    model_tensor t = {"q.w", 0, 3, 1};
    train_combine_opts o = {TRAIN_GEOMEAN, 1.0, 1, 0};
    cb_err e = {0};
    float out[3], d;
    assert_int_equal(train_combine(out, &d, &Q[0][0], 2, 3, &t, 1, &o, &e), 0);
    near(out[0], 4), near(out[1], -2), near(out[2], 0); /* sqrt(2*8), -sqrt(1*4), masked */
    float bad[2][3] = {{1, 2, 3}, {1, NAN, 3}};
    assert_int_equal(train_combine(out, &d, &bad[0][0], 2, 3, &t, 1, &o, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 1"));
    assert_non_null(strstr(e.msg, "q.w"));
    bad[1][1] = INFINITY;
    assert_int_equal(train_combine(out, &d, &bad[0][0], 2, 3, &t, 1, &o, &e), CB_ERANGE);
}

static void test_adam_first_step(void **st) {
    (void)st;
    model m;
    model_config c;
    model_config_default(&c, "nature");
    c.channels[0] = c.channels[1] = c.channels[2] = 2;
    c.hidden = 4;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &c, &e), 0);
    for (size_t i = 0; i < m.nparams; i++) m.params[i] = 1.0f;
    float *g = calloc(m.nparams, sizeof(float));
    g[0] = 0.5f, g[1] = -2.0f;
    train_adam_step(&m, g, 0.01, 1, 0, TRAIN_WD_L2);
    /* the first Adam step moves by lr * sign(g) (bias-corrected m / sqrt(v)) */
    near(m.params[0], 0.99), near(m.params[1], 1.01), near(m.params[2], 1.0);
    memset(g, 0, sizeof(float) * m.nparams);
    memset(m.adam_m, 0, sizeof(float) * m.nparams * 2);
    train_adam_step(&m, g, 0.01, 1, 0.1, TRAIN_WD_DECOUPLED);
    near(m.params[2], 1.0 - 0.01 * 0.1); /* decoupled: w -= lr * wd * w, nothing else */
    free(g);
    model_free(&m);
}

/* levels whose frames are a flat colour that tells the label */
static void synth(ds_level *lv, int n) {
    cb_rng r;
    cb_rng_seed(&r, 5);
    cb_err e = {0};
    static const uint8_t acts[3] = {7, 8, 4};
    for (int i = 0; i < n; i++) {
        assert_int_equal(ds_level_alloc(&lv[i], i, 0, 64, &e), 0);
        for (int t = 0; t < 64; t++) {
            int k = (int)cb_rng_below(&r, 3);
            uint8_t *f = lv[i].frames + (size_t)t * DS_FRAME_BYTES;
            for (int p = 0; p < 64 * 64; p++) {
                f[3 * p] = (uint8_t)(k == 0 ? 200 : 20 + i);
                f[3 * p + 1] = (uint8_t)(k == 1 ? 200 : 30);
                f[3 * p + 2] = (uint8_t)(k == 2 ? 200 : (p * 7) & 63);
            }
            lv[i].label[t] = lv[i].action[t] = acts[k];
            lv[i].reward[t] = 0;
            lv[i].done[t] = 0;
            lv[i].episode[t] = 0;
            lv[i].step[t] = t;
        }
    }
}

static train_opts small_opts(const char *run, int method, int epochs) {
    train_opts o;
    memset(&o, 0, sizeof o);
    model_config_default(&o.net, "nature");
    o.net.channels[0] = 4, o.net.channels[1] = 8, o.net.channels[2] = 8, o.net.hidden = 16;
    o.comb = (train_combine_opts){method, method == TRAIN_MEAN ? 0 : 0.5, 1, 1};
    o.epochs = epochs;
    o.lr = 3e-3;
    o.lr_decay = 1;
    o.batch_levels = 4;
    o.batch_frames = 4;
    o.seed = 11;
    o.run = run;
    o.quiet = 1;
    return o;
}

static void test_learns_and_resumes(void **st) {
    (void)st;
    ds_level lv[6];
    synth(lv, 6);
    char *dir = test_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    cb_err e = {0};
    train_result r1, r2;
    /* AND-mask training learns the colour -> action rule (on held-out levels too) */
    char c[512];
    snprintf(c, sizeof c, "%s/c", dir);
    train_opts oc = small_opts(c, TRAIN_AND, 10);
    assert_int_equal(train_run(&oc, lv, 4, lv + 4, 2, &r1, &e), 0);
    printf("synthetic task: train acc %.3f, val acc %.3f after %lld steps\n", r1.train_acc, r1.val_acc, (long long)r1.steps);
    assert_true(r1.val_acc > 0.9);
    train_opts o = small_opts(a, TRAIN_AND, 4);
    assert_int_equal(train_run(&o, lv, 4, lv + 4, 2, &r1, &e), 0);
    /* a run stopped after 2 of 4 epochs (as if killed), then resumed with the
     * same options: the same checkpoint bytes as the uninterrupted run */
    train_opts ob = small_opts(b, TRAIN_AND, 4);
    ob.max_steps = 2 * 16; /* 4 levels x 64 frames / (4 x 4) = 16 steps per epoch */
    assert_int_equal(train_run(&ob, lv, 4, lv + 4, 2, &r2, &e), 0);
    assert_int_equal(r2.epochs_done, 2);
    ob.max_steps = 0;
    ob.resume = 1;
    assert_int_equal(train_run(&ob, lv, 4, lv + 4, 2, &r2, &e), 0);
    char pa[600], pb[600];
    uint8_t *ba, *bb;
    size_t na, nb;
    snprintf(pa, sizeof pa, "%s/latest.ckpt", a);
    snprintf(pb, sizeof pb, "%s/latest.ckpt", b);
    assert_int_equal(cb_read_file(pa, &ba, &na, &e), 0);
    assert_int_equal(cb_read_file(pb, &bb, &nb, &e), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    free(ba);
    free(bb);
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    assert_int_equal(cb_read_file(pa, &ba, &na, &e), 0);
    assert_int_equal(cb_read_file(pb, &bb, &nb, &e), 0);
    /* same rows except the seconds column: compare the first 6 columns */
    int rows = 0;
    for (char *p = (char *)ba; (p = strchr(p, '\n')); p++) rows++;
    assert_int_equal(rows, 5);
    assert_non_null(strstr((char *)ba, "mask_conv0"));
    free(ba);
    free(bb);
    /* bad options */
    train_opts bad = small_opts(a, TRAIN_AND, 1);
    bad.batch_levels = 9;
    assert_int_equal(train_run(&bad, lv, 4, NULL, 0, &r1, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "--batch-levels"));
    snprintf(pa, sizeof pa, "%s/none", dir);
    bad = small_opts(pa, TRAIN_AND, 1);
    bad.resume = 1;
    assert_true(train_run(&bad, lv, 4, NULL, 0, &r1, &e) < 0);
    assert_non_null(strstr(e.msg, "cannot resume"));
    /* a learning rate that blows up stops with a clear message and keeps the last checkpoint */
    bad = small_opts(a, TRAIN_MEAN, 3);
    bad.lr = 1e30;
    bad.lr_decay = 0;
    int rc = train_run(&bad, lv, 4, NULL, 0, &r1, &e);
    if (rc) {
        assert_non_null(strstr(e.msg, "diverged") ? strstr(e.msg, "diverged") : strstr(e.msg, "not finite"));
        model m;
        model_ckpt_state s;
        snprintf(pa, sizeof pa, "%s/latest.ckpt", a);
        assert_int_equal(model_load(&m, &s, pa, &e), 0);
        model_free(&m);
    }
    for (int i = 0; i < 6; i++) ds_level_free(&lv[i]);
    test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_and_tau0),       cmocka_unit_test(test_and_mask),
        cmocka_unit_test(test_sand),                cmocka_unit_test(test_geomean_and_bad_input),
        cmocka_unit_test(test_adam_first_step),     cmocka_unit_test(test_learns_and_resumes),
    };
    return cmocka_run_group_tests_name("train", tests, NULL, NULL);
}
