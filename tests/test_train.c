/* test_train.c - the gradient combiners on hand-computed cases (sign 0,
 * every level agreeing, none agreeing, tau 0 equal to the mean, SAND with
 * zero variance, the geometric mean, per-tensor rescaling, NaN and inf
 * refused), Adam and both weight-decay modes by hand, tand (temporal AND-mask
 * Adam) on hand-computed sequences (sign 0, t = 1, the tau edge, both
 * weight-decay modes) and across thread counts, and the training loop
 * on synthetic levels: it learns, its run folder is complete, it is
 * bit-identical across runs and thread counts, --resume (at an epoch end and
 * mid-epoch) equals an uninterrupted run, and divergence keeps the last good
 * checkpoint. The run folder's consistency: an I/O failure injected at each
 * write and rename of every epoch commit, then --resume, gives the bytes of an
 * uninterrupted run; a process stopped by SIGTERM exits 143 with a folder
 * that verifies through run/ and resumes to the same bytes; failed runs leave
 * nothing; coinbc train's option checks and writer lock. tand learns the
 * synthetic task and resumes to the bytes of an uninterrupted run. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "train/train.h"
#include "tests/support/run.h"

/* tand's sign moment (train/'s optimizer state, no longer a model array): the
 * 4th array of the test's own arena, after the model's parameters and Adam moments */
#define SIGN_M(mm) ((mm).mem + 3 * (mm).nparams)

/* two tensors: "a.w" (4 entries) and "b.w" (2) */
static const model_tensor T2[2] = {{"a.w", 0, 4, 1}, {"b.w", 4, 2, 1}};
#define P2 6

static void combine(float *out, float *dens, const float *g, int L, int method, double tau, double k, int rescale) {
    train_combine_opts o = {.method = method, .tau = tau, .sand_k = k, .rescale = rescale};
    cb_err e = {0};
    assert_int_equal(train_combine(out, dens, g, L, P2, T2, 2, &o, &e), 0);
}

static void near(double got, double want) {
    if (fabs(got - want) > 1e-6 * fmax(1, fabs(want))) fail_msg("got %.9g, want %.9g", got, want);
}

static void test_mean_and_tau0(void **st) {
    (void)st;
    /* 3 levels x 6 parameters */
    const float g[3 * P2] = {1, -2, 0, 3, 1, -1, /**/ 2, 1, 0, -3, 1, -1, /**/ 3, 1, 0, 6, 1, 2};
    float out[P2], dens[2], out2[P2];
    combine(out, dens, g, 3, TRAIN_MEAN, 0, 1, 1);
    const double want[P2] = {2, 0, 0, 2, 1, 0};
    for (int i = 0; i < P2; i++) near(out[i], want[i]);
    near(dens[0], 1), near(dens[1], 1);
    /* AND with tau 0 keeps everything: equal to the mean, with or without rescale */
    combine(out2, dens, g, 3, TRAIN_AND, 0, 1, 1);
    assert_memory_equal(out, out2, sizeof out);
    near(dens[0], 1), near(dens[1], 1);
    combine(out2, dens, g, 3, TRAIN_AND, 0, 1, 0);
    assert_memory_equal(out, out2, sizeof out);
}

static void test_and_mask(void **st) {
    (void)st;
    /* entry 0: all agree (+); 1: 2 of 3 (+,+,-) -> |mean sign| 1/3; 2: signs
     * (+, 0, +) -> sign(0) = 0 gives 2/3; 3: all agree (-);
     * tensor b: both entries disagree completely */
    const float g[3 * P2] = {1, 1, 3, -1, 1, -1, /**/ 2, 2, 0, -2, -1, 1, /**/ 3, -1, 3, -6, 1, 0};
    float out[P2], dens[2];
    combine(out, dens, g, 3, TRAIN_AND, 1.0, 1, 0);
    near(out[0], 2), near(out[1], 0), near(out[2], 0), near(out[3], -3);
    near(dens[0], 0.5);
    /* none agree: b fully masked, zero (and no division by zero when rescaling) */
    near(out[4], 0), near(out[5], 0), near(dens[1], 0);
    /* tau = 2/3 keeps entry 2 (>=, and sign(0) counted as 0, not as agreement) */
    combine(out, dens, g, 3, TRAIN_AND, 2.0 / 3.0, 1, 0);
    near(out[2], 2), near(out[1], 0), near(dens[0], 0.75);
    /* rescale: per tensor, by 1 / (share of the tensor's mask that is on) */
    combine(out, dens, g, 3, TRAIN_AND, 1.0, 1, 1);
    near(out[0], 4), near(out[3], -6), near(out[1], 0), near(out[4], 0);
    assert_false(isnan(out[4]) || isnan(out[5]));
    /* b's entry 5 has signs (-, +, 0): |mean| = 0; entry 4 (+, -, +): 1/3 */
    combine(out, dens, g, 3, TRAIN_AND, 1.0 / 3.0, 1, 1);
    near(dens[1], 0.5), near(out[4], 2 * (1.0 / 3.0)), near(out[5], 0);
}

static void test_sand_mask(void **st) {
    (void)st;
    /* entry 0: 1, 2, 3 (mean 2, unbiased variance 1, all agree);
     * entry 1: 5, 5, 5 (zero variance, all agree) -> mask 1;
     * entry 2: 0, 0, 0 (zero variance, |mean sign| 0) -> mask 0;
     * entry 3: 1, -1, 3 (mean 1, var 4, |mean sign| 1/3);
     * b: 2, 2, 2 and -1, -1, -1 (zero variance, agree) */
    const float g[3 * P2] = {1, 5, 0, 1, 2, -1, /**/ 2, 5, 0, -1, 2, -1, /**/ 3, 5, 0, 3, 2, -1};
    float out[P2], dens[2];
    const double tau = 0.5, k = 2;
    combine(out, dens, g, 3, TRAIN_SAND, tau, k, 0);
    double m0 = tanh(k * (1 - tau) / 1.0); /* 0.76159416 */
    near(out[0], 2 * m0);
    near(out[1], 5);
    near(out[2], 0);
    near(out[3], 0); /* max(0, tanh(2 * (1/3 - 1/2) / 4)) = 0 */
    near(dens[0], (m0 + 1) / 4);
    near(out[4], 2), near(out[5], -1), near(dens[1], 1);
    /* tau 1: agreement exactly at tau gives 0 (SAND uses >), also at zero variance */
    combine(out, dens, g, 3, TRAIN_SAND, 1.0, k, 0);
    near(out[0], 0), near(out[1], 0), near(dens[0], 0), near(out[4], 0);
    /* rescale by the mean of the soft mask */
    combine(out, dens, g, 3, TRAIN_SAND, tau, k, 1);
    near(out[0], 2 * m0 / ((m0 + 1) / 4));
    near(out[1], 5 / ((m0 + 1) / 4));
}

static void test_geomean(void **st) {
    (void)st;
    /* entry 0: 1, 4, 16 -> 4; entry 1: -1, -4, -16 -> -4; entry 2: 1, -4, 16
     * (signs disagree: masked at tau 1); entry 3: 0, 2, 2 (sign 0: masked at tau 1) */
    const float g[3 * P2] = {1, -1, 1, 0, 1, 1, /**/ 4, -4, -4, 2, 1, 1, /**/ 16, -16, 16, 2, 1, 1};
    float out[P2], dens[2];
    combine(out, dens, g, 3, TRAIN_GEOMEAN, 1.0, 1, 0);
    near(out[0], 4), near(out[1], -4), near(out[2], 0), near(out[3], 0), near(dens[0], 0.5);
    near(out[4], 1), near(dens[1], 1);
    /* tau 0: no mask; entry 3 = sign(mean) * exp(mean log(|g| + 1e-10)) = (1e-10 * 4)^(1/3) */
    combine(out, dens, g, 3, TRAIN_GEOMEAN, 0, 1, 0);
    near(out[2], 4), near(out[3], cbrt(1e-10 * 2 * 2));
}

static void test_nonfinite_rejected(void **st) {
    (void)st;
    float g[3 * P2] = {0}, out[P2], dens[2];
    train_combine_opts o = {.method = TRAIN_AND, .tau = 0.5, .sand_k = 1, .rescale = 1};
    cb_err e = {0};
    g[2 * P2 + 5] = NAN;
    assert_int_equal(train_combine(out, dens, g, 3, P2, T2, 2, &o, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 2"));
    assert_non_null(strstr(e.msg, "b.w"));
    g[2 * P2 + 5] = 0;
    g[P2 + 1] = -INFINITY;
    for (int m = 0; m < 4; m++) {
        o.method = m;
        assert_int_equal(train_combine(out, dens, g, 3, P2, T2, 2, &o, &e), CB_ERANGE);
        assert_non_null(strstr(e.msg, "level 1"));
        assert_non_null(strstr(e.msg, "a.w"));
    }
}

/* Tensors of many blocks (parallel combine): every method gives the same
 * bits on 1 and 2 threads, and a non-finite entry deep in a large tensor is
 * reported with its level and tensor. */
static void test_combine_threads(void **st) {
    (void)st;
    const model_tensor T[3] = {{"big.w", 0, 50000, 1}, {"small.b", 50000, 7, 1}, {"mid.w", 50007, 20000, 1}};
    const size_t P = 70007;
    const int L = 5;
    float *g = malloc(sizeof(float) * P * L), *o1 = malloc(sizeof(float) * P), *o2 = malloc(sizeof(float) * P);
    assert_non_null(g);
    cb_rng r;
    cb_rng_seed(&r, 11);
    for (size_t i = 0; i < P * L; i++) g[i] = cb_rng_uniformf(&r) - 0.4f; /* mostly positive: masks partly on */
    for (int m = 0; m < 4; m++) {
        float d1[3], d2[3];
        train_combine_opts a = {.method = m, .tau = 0.6, .sand_k = 1, .rescale = 1, .threads = 1}, b = a;
        b.threads = 2;
        cb_err e = {0};
        assert_int_equal(train_combine(o1, d1, g, L, P, T, 3, &a, &e), 0);
        assert_int_equal(train_combine(o2, d2, g, L, P, T, 3, &b, &e), 0);
        assert_memory_equal(o1, o2, sizeof(float) * P);
        assert_memory_equal(d1, d2, sizeof d1);
        if (m != TRAIN_MEAN) assert_true(d1[0] > 0.05 && d1[0] < 0.95);
    }
    g[3 * P + 50007 + 19000] = NAN;
    train_combine_opts a = {.method = TRAIN_AND, .tau = 0.6, .sand_k = 1, .rescale = 1, .threads = 2};
    cb_err e = {0};
    assert_int_equal(train_combine(o1, NULL, g, L, P, T, 3, &a, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 3"));
    assert_non_null(strstr(e.msg, "mid.w"));
    free(g), free(o1), free(o2);
}

static void test_adam(void **st) {
    (void)st;
    model m;
    memset(&m, 0, sizeof m);
    float mem[3 * 2] = {0};
    m.nparams = 2;
    m.params = mem, m.adam_m = mem + 2, m.adam_v = mem + 4;
    m.params[0] = 1, m.params[1] = -2;
    /* step 1: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign(g): w -= lr */
    float g[2] = {0.5f, -0.25f};
    train_adam_step(&m, g, 0.1, 1, 0, TRAIN_WD_L2);
    near(m.params[0], 0.9), near(m.params[1], -1.9);
    near(m.adam_m[0], 0.05), near(m.adam_v[0], 0.00025);
    /* step 2 with g = 0: m = 0.045, v = 0.00024975; mhat = 0.045 / 0.19, vhat = 0.00024975 / 0.001999 */
    g[0] = 0, g[1] = 0;
    train_adam_step(&m, g, 0.1, 2, 0, TRAIN_WD_L2);
    double mh = 0.045 / (1 - 0.81), vh = 0.00024975 / (1 - 0.998001);
    near(m.params[0], 0.9 - 0.1 * mh / (sqrt(vh) + 1e-8));
    /* L2: wd * w is added to the gradient (after the mask) */
    m.params[0] = 1, m.params[1] = 0;
    memset(m.adam_m, 0, sizeof(float) * 4);
    g[0] = 0, g[1] = 0;
    train_adam_step(&m, g, 0.1, 1, 0.5, TRAIN_WD_L2);
    near(m.params[0], 0.9); /* g' = 0.5: a full Adam step */
    near(m.params[1], 0);
    /* decoupled: w -= lr * wd * w besides the Adam step on g */
    m.params[0] = 1;
    memset(m.adam_m, 0, sizeof(float) * 4);
    train_adam_step(&m, g, 0.1, 1, 0.5, TRAIN_WD_DECOUPLED);
    near(m.params[0], 1 - 0.1 * 0.5);
    near(m.adam_m[0], 0);
}

/* ---- tand: temporal AND-mask Adam by hand ------------------------------------ */

/* A model of the two tensors T2 (P2 parameters) on a caller's arena of 4 x P2. */
static void tand_model(model *m, float *mem) {
    memset(m, 0, sizeof *m);
    memset(mem, 0, sizeof(float) * 4 * P2);
    m->nparams = P2;
    m->ntensors = 2;
    memcpy(m->tensors, T2, sizeof T2);
    m->mem = mem;
    m->params = mem, m->adam_m = mem + P2, m->adam_v = mem + 2 * P2;
    m->threads = 1;
}

static void test_tand_hand(void **st) {
    (void)st;
    model m;
    float mem[4 * P2];
    tand_model(&m, mem);
    /* b = 0.5, tau = 0.5, three steps. The bias-corrected sign moment
     * s^_t = s_t / (1 - b^t) with s_t = b s_{t-1} + (1 - b) sign(g_t), by hand:
     *   signs        t=1   t=2                          t=3
     *   p0 + + +      1     1                            1
     *   p1 + - +      1     (.25-.5)/.75 = -1/3          (-.125+.5)/.875 = 3/7
     *   p2 0 + +      0     .5/.75 = 2/3                 (.25+.5)/.875 = 6/7
     *   p3 - - +     -1    -1                            (-.375+.5)/.875 = 1/7
     *   p4 - 0 -     -1     -.25/.75 = -1/3              (-.125-.5)/.875 = -5/7
     *   p5 + - -      1    -1/3                          -5/7
     * and the masks |s^| >= 0.5 (1 = on): */
    const float G[3][P2] = {{0.5f, 2, 0, -1, -0.25f, 3}, {0.25f, -1, 4, -2, 0, -0.5f}, {1, 0.5f, 2, 8, -1, -2}};
    const double S[3][P2] = {{1, 1, 0, -1, -1, 1},
                             {1, -1.0 / 3, 2.0 / 3, -1, -1.0 / 3, -1.0 / 3},
                             {1, 3.0 / 7, 6.0 / 7, 1.0 / 7, -5.0 / 7, -5.0 / 7}};
    const int MASK[3][P2] = {{1, 1, 0, 1, 1, 1}, {1, 0, 1, 1, 0, 0}, {1, 0, 1, 0, 1, 1}};
    const double DENS[3][2] = {{0.75, 1}, {0.75, 0}, {0.5, 1}};
    const double lr = 0.1;
    double w[P2], mo[P2] = {0}, vo[P2] = {0};
    for (int i = 0; i < P2; i++) m.params[i] = (float)(w[i] = 0.5 * i - 1);
    for (int t = 1; t <= 3; t++) {
        float dens[2];
        train_tand_step(&m, SIGN_M(m), dens, G[t - 1], lr, t, 0, TRAIN_WD_L2, 0.5, 0.5);
        near(dens[0], DENS[t - 1][0]), near(dens[1], DENS[t - 1][1]);
        for (int i = 0; i < P2; i++) {
            near(SIGN_M(m)[i], S[t - 1][i]);
            /* Adam by hand: the moments always move, the step only under the mask */
            double g = G[t - 1][i];
            mo[i] = 0.9 * mo[i] + 0.1 * g;
            vo[i] = 0.999 * vo[i] + 0.001 * g * g;
            double mh = mo[i] / (1 - pow(0.9, t)), vh = vo[i] / (1 - pow(0.999, t));
            if (MASK[t - 1][i]) w[i] -= lr * mh / (sqrt(vh) + 1e-8);
            near(m.adam_m[i], mo[i]), near(m.adam_v[i], vo[i]);
            near(m.params[i], w[i]);
        }
    }
    /* an unbroken run of one sign stays exactly 1 (p0), so tau = 1 keeps it */
    assert_true(SIGN_M(m)[0] == 1.0f);

    /* t = 1: s^_1 = sign(g_1) exactly, for any b: tau = 1 keeps every
     * parameter whose gradient is not 0 (a plain Adam step, lr * sign(g)),
     * sign 0 is off unless tau = 0 */
    const float g1[P2] = {0.5f, -3, 0, 0.01f, -0.02f, 0};
    for (int k = 0; k < 2; k++) {
        double beta = k ? 0.999 : 0.9;
        tand_model(&m, mem);
        float dens[2];
        train_tand_step(&m, SIGN_M(m), dens, g1, lr, 1, 0, TRAIN_WD_L2, 1.0, beta);
        const float want_s[P2] = {1, -1, 0, 1, -1, 0};
        assert_memory_equal(SIGN_M(m), want_s, sizeof want_s);
        near(dens[0], 0.75), near(dens[1], 0.5);
        near(m.params[0], -lr), near(m.params[1], lr), near(m.params[3], -lr), near(m.params[4], lr);
        assert_true(m.params[2] == 0 && m.params[5] == 0);
        tand_model(&m, mem);
        train_tand_step(&m, SIGN_M(m), dens, g1, lr, 1, 0, TRAIN_WD_L2, 0.0, beta);
        near(dens[0], 1), near(dens[1], 1);
    }

    /* the edge: |s^| == tau is on, the next double above is off. b = 0.5 at a
     * late step (b^t = 0, k = 1 - b = 0.5) from s^ = 0.75 with g = 0: 0.375 */
    for (int k = 0; k < 2; k++) {
        tand_model(&m, mem);
        for (int i = 0; i < P2; i++) SIGN_M(m)[i] = 0.75f, m.adam_m[i] = 0.01f, m.adam_v[i] = 1e-4f;
        const float zero[P2] = {0};
        double tau = k ? nextafter(0.375, 1) : 0.375;
        float dens[2];
        train_tand_step(&m, SIGN_M(m), dens, zero, lr, 100000, 0, TRAIN_WD_L2, tau, 0.5);
        assert_true(SIGN_M(m)[0] == 0.375f);
        near(dens[0], k ? 0 : 1), near(dens[1], k ? 0 : 1);
        assert_true(k ? m.params[0] == 0 : m.params[0] < 0);
    }

    /* weight decay, t = 1, wd 0.5, tau 0.5; p0: g = 0 (sign moment 0, mask off),
     * p1: g = 0.25 (on); w = 1 for both.
     * L2: Adam's gradient is g + wd w = 0.5 / 0.75 for both, the sign moment
     * sees g only: p0 is masked, so its decay is too (w stays 1, its moments
     * move); p1 takes the full Adam step lr * sign(0.75). */
    const float gw[P2] = {0, 0.25f, 0, 0, 0, 0};
    tand_model(&m, mem);
    m.params[0] = m.params[1] = 1;
    train_tand_step(&m, SIGN_M(m), NULL, gw, lr, 1, 0.5, TRAIN_WD_L2, 0.5, 0.9);
    near(SIGN_M(m)[0], 0), near(SIGN_M(m)[1], 1);
    near(m.params[0], 1), near(m.adam_m[0], 0.1 * 0.5);
    near(m.params[1], 1 - lr), near(m.adam_m[1], 0.1 * 0.75);
    /* decoupled: lr wd w comes off every parameter, masked or not; Adam sees g only */
    tand_model(&m, mem);
    m.params[0] = m.params[1] = 1;
    train_tand_step(&m, SIGN_M(m), NULL, gw, lr, 1, 0.5, TRAIN_WD_DECOUPLED, 0.5, 0.9);
    near(m.params[0], 1 - lr * 0.5), near(m.adam_m[0], 0);
    near(m.params[1], 1 - lr - lr * 0.5), near(m.adam_m[1], 0.1 * 0.25);
}

/* the agreement histogram by hand: 3 levels, |sum of signs| 0..3 -> |mean|
 * 0, 1/3, 2/3, 1 -> bins 0, 3, 6, 9 (sign 0 counts as 0) */
static void test_agreement_hand(void **st) {
    (void)st;
    const float g[3 * P2] = {1, -2, 0, 3, 1, -1, /**/ 2, 1, 0, -3, 1, -1, /**/ 3, 1, 0, 6, -1, 2};
    /* sums: a.w: 3, 1, 0, 1; b.w: 1, -1 */
    int64_t count[2][RUN_AGREE_BINS];
    train_agreement(count, g, 3, P2, T2, 2);
    const int64_t want[2][RUN_AGREE_BINS] = {{1, 0, 0, 2, 0, 0, 0, 0, 0, 1}, {0, 0, 0, 2, 0, 0, 0, 0, 0, 0}};
    assert_memory_equal(count, want, sizeof want);
    /* 4 levels: 4/4 and -4/4 in the last bin, 2/4 in bin 5, 1/4 in bin 2 */
    const float g4[4 * P2] = {1, -1, 1, 1, 0, 0, /**/ 1, -1, 1, 0, 0, 0, /**/ 1, -1, -1, 0, 0, 0, /**/ 1, -1, 1, 0, 0, 0};
    train_agreement(count, g4, 4, P2, T2, 2);
    const int64_t want4[2][RUN_AGREE_BINS] = {{0, 0, 1, 0, 0, 1, 0, 0, 0, 2}, {2, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
    assert_memory_equal(count, want4, sizeof want4);
}

/* tand over blocks of the arena: the same bytes for 1, 2 and 3 threads, the
 * mask shares per tensor are the counts of |s^| >= tau, and tau = 0 is Adam */
static void test_tand_threads(void **st) {
    (void)st;
    const size_t P = 200003; /* blocks of 65536 cut through the tensors */
    const model_tensor T[3] = {{"x.w", 0, 70001, 1}, {"y.w", 70001, 100000, 1}, {"z.w", 170001, 30002, 1}};
    float *g = malloc(sizeof(float) * P * 3), *ref = malloc(sizeof(float) * P * 4);
    assert_non_null(g), assert_non_null(ref);
    cb_rng r;
    cb_rng_seed(&r, 5);
    for (size_t i = 0; i < P * 3; i++) g[i] = cb_rng_uniformf(&r) < 0.1f ? 0 : cb_rng_uniformf(&r) - 0.45f;
    float dref[3];
    for (int th = 1; th <= 3; th++) {
        model m;
        memset(&m, 0, sizeof m);
        m.nparams = P;
        m.ntensors = 3;
        memcpy(m.tensors, T, sizeof T);
        m.mem = calloc(P * 4, sizeof(float));
        assert_non_null(m.mem);
        m.params = m.mem, m.adam_m = m.mem + P, m.adam_v = m.mem + 2 * P;
        m.threads = th;
        float dens[3];
        for (int t = 1; t <= 3; t++) train_tand_step(&m, SIGN_M(m), dens, g + (size_t)(t - 1) * P, 1e-3, t, 1e-2, TRAIN_WD_L2, 0.6, 0.8);
        for (int k = 0; k < 3; k++) {
            size_t on = 0;
            for (size_t i = T[k].off; i < T[k].off + T[k].size; i++) on += fabs((double)SIGN_M(m)[i]) >= 0.6;
            near(dens[k], (double)on / (double)T[k].size);
        }
        if (th == 1) {
            memcpy(ref, m.mem, sizeof(float) * P * 4);
            memcpy(dref, dens, sizeof dens);
        } else {
            assert_memory_equal(ref, m.mem, sizeof(float) * P * 4);
            assert_memory_equal(dref, dens, sizeof dens);
        }
        free(m.mem);
    }
    /* tau = 0 keeps every step: Adam on the mean, bit for bit (both weight-decay modes) */
    for (int mode = 0; mode < 2; mode++) {
        model a, b;
        memset(&a, 0, sizeof a);
        a.nparams = P;
        a.ntensors = 3;
        memcpy(a.tensors, T, sizeof T);
        a.threads = 2;
        b = a;
        a.mem = calloc(P * 4, sizeof(float)), b.mem = calloc(P * 4, sizeof(float));
        assert_non_null(a.mem), assert_non_null(b.mem);
        a.params = a.mem, a.adam_m = a.mem + P, a.adam_v = a.mem + 2 * P;
        b.params = b.mem, b.adam_m = b.mem + P, b.adam_v = b.mem + 2 * P;
        for (size_t i = 0; i < P; i++) a.params[i] = b.params[i] = cb_rng_uniformf(&r) - 0.5f;
        int wm = mode ? TRAIN_WD_DECOUPLED : TRAIN_WD_L2;
        for (int t = 1; t <= 3; t++) {
            train_adam_step(&a, g + (size_t)(t - 1) * P, 1e-3, t, 1e-2, wm);
            train_tand_step(&b, SIGN_M(b), NULL, g + (size_t)(t - 1) * P, 1e-3, t, 1e-2, wm, 0.0, 0.9);
        }
        assert_memory_equal(a.mem, b.mem, sizeof(float) * P * 3);
        free(a.mem), free(b.mem);
    }
    free(g), free(ref);
}

/* ---- training on synthetic levels --------------------------------------------- */

/* Level i: a background colour of its own plus noise, and a bright square
 * whose horizontal third is the label (0, 1 or 2); a level-specific
 * distractor dot. */
static void make_levels(ds_level *lv, int n, int frames, int32_t seed0) {
    cb_err e = {0};
    for (int i = 0; i < n; i++) {
        assert_int_equal(ds_level_alloc(&lv[i], seed0 + i, 0, frames, &e), 0);
        cb_rng r;
        cb_rng_seed2(&r, 77, (uint64_t)(seed0 + i));
        uint8_t bg[3] = {(uint8_t)cb_rng_below(&r, 120), (uint8_t)cb_rng_below(&r, 120), (uint8_t)cb_rng_below(&r, 120)};
        for (int f = 0; f < frames; f++) {
            uint8_t *px = lv[i].frames + (size_t)f * CB_FRAME_BYTES;
            int lab = (int)cb_rng_below(&r, 3);
            int x0 = lab * 21 + (int)cb_rng_below(&r, 8), y0 = (int)cb_rng_below(&r, 50);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                    for (int c = 0; c < 3; c++) {
                        int v = bg[c] + (int)cb_rng_below(&r, 40);
                        if (x >= x0 && x < x0 + 12 && y >= y0 && y < y0 + 12) v = c == 1 ? 250 : 60;
                        px[(y * 64 + x) * 3 + c] = (uint8_t)v;
                    }
            lv[i].label[f] = (uint8_t)lab;
            lv[i].action[f] = (uint8_t)lab;
            lv[i].reward[f] = 0;
            lv[i].done[f] = f == frames - 1;
            lv[i].episode[f] = 0;
            lv[i].step[f] = f;
        }
    }
}

typedef struct {
    ds_level tr[6], va[2];
} synth;

static int setup_synth(void **st) {
    synth *s = calloc(1, sizeof *s);
    make_levels(s->tr, 6, 48, 100);
    make_levels(s->va, 2, 48, 200);
    *st = s;
    return 0;
}

static int teardown_synth(void **st) {
    synth *s = *st;
    for (int i = 0; i < 6; i++) ds_level_free(&s->tr[i]);
    for (int i = 0; i < 2; i++) ds_level_free(&s->va[i]);
    free(s);
    return 0;
}

static train_opts small_opts(const char *run, int method) {
    train_opts o;
    memset(&o, 0, sizeof o);
    model_net_default(&o.net, "nature");
    o.net.channels[0] = 8, o.net.channels[1] = 8, o.net.channels[2] = 8, o.net.hidden = 32;
    o.comb = (train_combine_opts){.method = method, .tau = method == TRAIN_MEAN ? 0 : 0.5, .sand_k = 1, .rescale = 1};
    o.epochs = 3;
    o.lr = 3e-3;
    o.lr_decay = 1;
    o.wd = 1e-4;
    o.batch_levels = 4;
    o.batch_frames = 4;
    o.seed = 11;
    o.threads = 2;
    o.run = run;
    o.quiet = 1;
    return o;
}

static char *tmpdir(void) {
    char t[] = "/tmp/coinbc_train_XXXXXX";
    char *d = mkdtemp(t);
    assert_non_null(d);
    return strdup(d);
}

__attribute__((noinline)) static uint8_t *slurp(const char *dir, const char *name, size_t *n) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t *b = NULL;
    cb_err e = {0};
    if (cb_read_file(p, &b, n, &e)) fail_msg("cannot read %s: %s", p, e.msg);
    return b;
}

static void assert_same_file(const char *d1, const char *d2, const char *name) {
    size_t n1, n2;
    uint8_t *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a), free(b);
}

/* metrics.csv without its "seconds" column (the 8th) */
static char *csv_no_seconds(const char *dir) {
    size_t n;
    char *t = (char *)slurp(dir, "metrics.csv", &n), *o = malloc(n + 1), *q = o;
    int col = 0;
    for (char *p = t; *p; p++) {
        if (*p == '\n') col = 0;
        else if (*p == ',') col++;
        if (col != 7 || *p == ',' || *p == '\n') *q++ = *p;
    }
    *q = 0;
    free(t);
    return o;
}

static void rm_run(char *d) {
    test_rmtree(d);
    free(d);
}

static void test_learns_and_writes_run(void **st) {
    synth *s = *st;
    char *d = tmpdir();
    train_opts o = small_opts(d, TRAIN_AND);
    o.epochs = 6;
    train_result res;
    cb_err e = {0};
    int rc = train_run(&o, s->tr, 6, s->va, 2, &res, &e);
    if (rc) fail_msg("%s", e.msg);
    printf("and-mask on synthetic levels: %d epochs, %lld steps, train acc %.3f, val acc %.3f (chance 0.33)\n",
           res.epochs_done, (long long)res.steps, res.train_acc, res.val_acc);
    assert_int_equal(res.epochs_done, 6);
    assert_int_equal(res.steps, 6 * (6 * 48 / 16));
    assert_true(res.val_acc > 0.8);
    /* the run folder */
    size_t n;
    char *cfg = (char *)slurp(d, "config.json", &n);
    assert_non_null(strstr(cfg, "\"method\": \"and\""));
    assert_non_null(strstr(cfg, "\"tau\": 0.5"));
    assert_non_null(strstr(cfg, "\"steps_per_epoch\": 18"));
    free(cfg);
    char *csv = (char *)slurp(d, "metrics.csv", &n);
    assert_true(!strncmp(csv, "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds,mask_conv0,mask_conv1,mask_conv2,"
                              "mask_fc,mask_logits\n", 103));
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 7);
    /* epoch 6 ran at lr x 0.1 (its steps are past 3/4 of 108), epoch 4 not */
    assert_non_null(strstr(csv, "\n6,108,"));
    assert_non_null(strstr(strstr(csv, "\n6,108,"), ",0.0003,"));
    assert_non_null(strstr(strstr(csv, "\n4,72,"), ",0.003,"));
    free(csv);
    char *js = (char *)slurp(d, "metrics.jsonl", &n);
    assert_non_null(strstr(js, "\"mask_density\": {\"conv0\": "));
    free(js);
    /* agreement.json: the first step and each epoch's last, every weight tensor's parameters binned */
    run_agreement ag;
    if (run_agreement_read(&ag, d, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ag.nsnaps, 7);
    assert_int_equal(ag.levels, 4);
    assert_int_equal(ag.snaps[0].step, 1);
    assert_int_equal(ag.snaps[0].epoch, 0);
    assert_int_equal(ag.snaps[6].step, 108);
    assert_int_equal(ag.snaps[6].epoch, 6);
    assert_int_equal(ag.nlayers, 5);
    model mp;
    assert_int_equal(model_plan(&mp, &o.net, &e), 0);
    for (int i = 0; i < 7; i++)
        for (int k = 0, w = 0; k < mp.ntensors; k++) {
            if (!strstr(mp.tensors[k].name, ".w")) continue;
            int64_t tot = 0;
            for (int b = 0; b < RUN_AGREE_BINS; b++) tot += ag.snaps[i].count[w][b];
            assert_int_equal(tot, mp.tensors[k].size);
            w++;
        }
    run_agreement_free(&ag);
    run_folder rf;
    if (run_folder_verify(&rf, d, &e)) fail_msg("%s", e.msg);
    assert_int_equal(rf.agreement_snaps, 7);
    /* best.ckpt loads and predicts like the run's validation accuracy says */
    char p[4200];
    snprintf(p, sizeof p, "%s/best.ckpt", d);
    model m;
    model_ckpt_state cs;
    assert_int_equal(model_load(&m, &cs, p, &e), 0);
    double vl, va;
    assert_int_equal(train_evaluate(&m, s->va, 2, &vl, &va, &e), 0);
    near(va, cs.best_val);
    model_free(&m);
    /* a second run into the same folder is refused without --resume */
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &res, &e), CB_EEXIST);
    rm_run(d);
}

static void test_deterministic_any_threads(void **st) {
    synth *s = *st;
    char *d1 = tmpdir(), *d2 = tmpdir();
    train_opts o1 = small_opts(d1, TRAIN_SAND), o2 = small_opts(d2, TRAIN_SAND);
    o1.epochs = o2.epochs = 1;
    o1.threads = 1;
    o2.threads = 2;
    train_result r1, r2;
    cb_err e = {0};
    assert_int_equal(train_run(&o1, s->tr, 6, s->va, 2, &r1, &e), 0);
    assert_int_equal(train_run(&o2, s->tr, 6, s->va, 2, &r2, &e), 0);
    assert_same_file(d1, d2, "latest.ckpt");
    char *c1 = csv_no_seconds(d1), *c2 = csv_no_seconds(d2);
    assert_string_equal(c1, c2);
    free(c1), free(c2);
    rm_run(d1);
    rm_run(d2);
}

static void test_resume_equals_uninterrupted(void **st) {
    synth *s = *st;
    char *full = tmpdir(), *part = tmpdir(), *mid = tmpdir();
    train_opts of = small_opts(full, TRAIN_AND), op = small_opts(part, TRAIN_AND), om = small_opts(mid, TRAIN_AND);
    train_result r;
    cb_err e = {0};
    assert_int_equal(train_run(&of, s->tr, 6, s->va, 2, &r, &e), 0);
    /* interrupted after epoch 1 (max_steps = one epoch), then resumed */
    op.max_steps = 18;
    assert_int_equal(train_run(&op, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_int_equal(r.epochs_done, 1);
    op.max_steps = 0;
    op.resume = 1;
    op.threads = 1; /* another thread count on the way, too */
    assert_int_equal(train_run(&op, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_int_equal(r.epochs_done, 3);
    assert_same_file(full, part, "latest.ckpt");
    assert_same_file(full, part, "best.ckpt");
    char *c1 = csv_no_seconds(full), *c2 = csv_no_seconds(part);
    assert_string_equal(c1, c2);
    free(c1), free(c2);
    /* stopped mid-epoch (step 25 of 54), resumed: the same final checkpoint */
    om.max_steps = 25;
    assert_int_equal(train_run(&om, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_int_equal(r.epochs_done, 1);
    assert_int_equal(r.steps, 25);
    om.max_steps = 0;
    om.resume = 1;
    assert_int_equal(train_run(&om, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_same_file(full, mid, "latest.ckpt");
    /* resuming with another network is refused */
    om.net.hidden = 16;
    assert_int_equal(train_run(&om, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    printf("resume with another net: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "hidden 32"));
    rm_run(full);
    rm_run(part);
    rm_run(mid);
}

static void assert_same_run(const char *a, const char *b);

/* tand on the synthetic task: it learns; config.json and the checkpoints say
 * what it is; resumed at an epoch end and mid-epoch (on another thread count)
 * it gives the bytes of an uninterrupted run; a mean checkpoint is not
 * continued as tand */
static void test_tand_run(void **st) {
    synth *s = *st;
    char *full = tmpdir(), *part = tmpdir(), *mid = tmpdir(), *one = tmpdir();
    train_opts of = small_opts(full, TRAIN_TAND), op = small_opts(part, TRAIN_TAND), om = small_opts(mid, TRAIN_TAND),
               o1 = small_opts(one, TRAIN_TAND);
    of.epochs = op.epochs = om.epochs = o1.epochs = 5;
    train_result r;
    cb_err e = {0};
    if (train_run(&of, s->tr, 6, s->va, 2, &r, &e)) fail_msg("%s", e.msg);
    printf("tand on synthetic levels: %d epochs, %lld steps, train acc %.3f, val acc %.3f (chance 0.33)\n", r.epochs_done,
           (long long)r.steps, r.train_acc, r.val_acc);
    assert_true(r.val_acc > 0.8);
    run_config c;
    if (run_config_read(&c, full, &e)) fail_msg("%s", e.msg);
    assert_int_equal(c.method, TRAIN_TAND);
    assert_true(c.tand_beta == 0.9); /* 0 in the options: the default */
    char p[4200];
    snprintf(p, sizeof p, "%s/latest.ckpt", full);
    model m;
    model_ckpt_state cs;
    float *sign = NULL;
    assert_int_equal(model_load_state(&m, &cs, &sign, p, &e), 0);
    assert_int_equal(cs.has_state, 1);
    assert_non_null(sign);
    double on = 0;
    for (size_t i = 0; i < m.nparams; i++) on += fabs(sign[i]) > 0;
    assert_true(on > 0.5 * (double)m.nparams);
    free(sign);
    model_free(&m);
    run_metrics mt;
    if (run_metrics_read(&mt, full, &e)) fail_msg("%s", e.msg);
    printf("tand mask shares, last epoch:");
    for (int k = 0; k < mt.rows[4].nlayers; k++) {
        printf(" %s %.3f", mt.rows[4].layer[k], mt.rows[4].mask_density[k]);
        assert_true(mt.rows[4].mask_density[k] > 0 && mt.rows[4].mask_density[k] < 1);
    }
    printf("\n");
    run_metrics_free(&mt);
    /* one thread: the same bytes */
    o1.threads = 1;
    assert_int_equal(train_run(&o1, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_same_run(full, one);
    /* interrupted after epoch 2, resumed on 1 thread */
    op.max_steps = 36;
    assert_int_equal(train_run(&op, s->tr, 6, s->va, 2, &r, &e), 0);
    op.max_steps = 0, op.resume = 1, op.threads = 1;
    assert_int_equal(train_run(&op, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_same_run(full, part);
    /* stopped mid-epoch (step 25), resumed */
    om.max_steps = 25;
    assert_int_equal(train_run(&om, s->tr, 6, s->va, 2, &r, &e), 0);
    om.max_steps = 0, om.resume = 1;
    assert_int_equal(train_run(&om, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_same_file(full, mid, "latest.ckpt"); /* (epoch 2's metrics row covers the resumed steps only) */
    assert_same_file(full, mid, "best.ckpt");
    /* a mean run is not continued as tand (its checkpoint has no sign moment) */
    test_rmtree(one);
    o1 = small_opts(one, TRAIN_MEAN);
    o1.max_steps = 5;
    assert_int_equal(train_run(&o1, s->tr, 6, s->va, 2, &r, &e), 0);
    snprintf(p, sizeof p, "%s/latest.ckpt", one);
    assert_int_equal(model_load(&m, &cs, p, &e), 0);
    assert_int_equal(cs.has_state, 0);
    model_free(&m);
    o1 = small_opts(one, TRAIN_TAND);
    o1.resume = 1;
    assert_int_equal(train_run(&o1, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    printf("tand resuming a mean run: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "--method mean (now tand)")); /* config.json's check comes before the sign moment's */
    /* a --tand-beta outside (0, 1) is refused, whatever the method */
    double bad[] = {1, -0.5, 1.5, NAN};
    for (int k = 0; k < 4; k++) {
        train_opts ob = small_opts("/tmp/coinbc_train_never", k ? TRAIN_MEAN : TRAIN_TAND);
        ob.comb.tand_beta = bad[k];
        assert_int_equal(train_run(&ob, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
        assert_non_null(strstr(e.msg, "--tand-beta"));
    }
    rm_run(full), rm_run(part), rm_run(mid), rm_run(one);
}

static void test_divergence_keeps_last_good(void **st) {
    synth *s = *st;
    char *d = tmpdir();
    train_opts o = small_opts(d, TRAIN_MEAN);
    /* an absurd learning rate blows the weights up at the first step: the
     * step's loss (before the update) is finite and committed, the next is
     * not (a resume may not change --lr, so the run has it from the start) */
    o.lr = 1e30;
    o.max_steps = 1;
    train_result r;
    cb_err e = {0};
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    size_t n0;
    uint8_t *before = slurp(d, "latest.ckpt", &n0);
    char *csv0 = (char *)slurp(d, "metrics.csv", &n0);
    o.max_steps = 0;
    o.resume = 1;
    int rc = train_run(&o, s->tr, 6, s->va, 2, &r, &e);
    printf("divergence: %s\n", e.msg);
    assert_int_equal(rc, CB_ERANGE);
    assert_non_null(strstr(e.msg, "diverged"));
    assert_non_null(strstr(e.msg, "latest.ckpt"));
    size_t n1;
    uint8_t *after = slurp(d, "latest.ckpt", &n1);
    assert_int_equal(n0 > 0, 1);
    char *csv1 = (char *)slurp(d, "metrics.csv", &n1);
    assert_string_equal(csv0, csv1);
    size_t nb;
    uint8_t *b2 = slurp(d, "latest.ckpt", &nb);
    model m;
    char p[4200];
    snprintf(p, sizeof p, "%s/latest.ckpt", d);
    model_ckpt_state cs;
    assert_int_equal(model_load(&m, &cs, p, &e), 0);
    assert_int_equal(cs.step, 1);
    model_free(&m);
    free(before), free(after), free(b2), free(csv0), free(csv1);
    rm_run(d);
}

static void test_bad_options(void **st) {
    synth *s = *st;
    train_result r;
    cb_err e = {0};
    train_opts o = small_opts("/tmp/coinbc_train_never", TRAIN_AND);
    o.batch_levels = 7; /* more than the 6 levels */
    assert_int_equal(train_run(&o, s->tr, 6, NULL, 0, &r, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "batch-levels"));
    o = small_opts("/tmp/coinbc_train_never", TRAIN_AND);
    o.comb.tau = 1.5;
    assert_int_equal(train_run(&o, s->tr, 6, NULL, 0, &r, &e), CB_EARG);
    o = small_opts("/tmp/coinbc_train_never", TRAIN_AND);
    o.lr = NAN;
    assert_int_equal(train_run(&o, s->tr, 6, NULL, 0, &r, &e), CB_EARG);
    o = small_opts("/tmp/coinbc_train_never", TRAIN_AND);
    s->tr[3].label[5] = 15;
    assert_int_equal(train_run(&o, s->tr, 6, NULL, 0, &r, &e), CB_EFORMAT);
    assert_non_null(strstr(e.msg, "level 103 frame 5"));
    s->tr[3].label[5] = 1;
    assert_int_equal(access("/tmp/coinbc_train_never", F_OK), -1);
    /* --resume without a checkpoint */
    char *d = tmpdir();
    o = small_opts(d, TRAIN_AND);
    o.resume = 1;
    assert_true(train_run(&o, s->tr, 6, NULL, 0, &r, &e) < 0);
    assert_non_null(strstr(e.msg, "cannot resume"));
    rmdir(d);
    free(d);
}

/* ---- the run folder stays consistent ---------------------------------------- */

/* no commit record, staged or temporary file is left */
static void assert_no_leftovers(const char *d) {
    DIR *dir = opendir(d);
    assert_non_null(dir);
    struct dirent *de;
    while ((de = readdir(dir)))
        if (strstr(de->d_name, ".next") || strstr(de->d_name, ".tmp.") || !strcmp(de->d_name, "commit.json"))
            fail_msg("%s/%s left behind", d, de->d_name);
    closedir(dir);
}

static void assert_same_run(const char *a, const char *b) {
    assert_same_file(a, b, "latest.ckpt");
    assert_same_file(a, b, "best.ckpt");
    assert_same_file(a, b, "config.json");
    assert_same_file(a, b, "agreement.json");
    char *c1 = csv_no_seconds(a), *c2 = csv_no_seconds(b);
    assert_string_equal(c1, c2);
    free(c1), free(c2);
    run_folder f;
    cb_err e = {0};
    if (run_folder_verify(&f, b, &e)) fail_msg("%s", e.msg);
    assert_no_leftovers(b);
}

/* An I/O failure at each write and rename of every epoch commit of a 2-epoch
 * run (the test hook in common/afile.c), then --resume (or a fresh start when
 * no epoch was committed): the bytes of an uninterrupted run. */
static void test_commit_failures_resume(void **st) {
    synth *s = *st;
    char *full = tmpdir();
    train_opts of = small_opts(full, TRAIN_AND);
    of.epochs = 2;
    train_result r;
    cb_err e = {0};
    cb_afile_test_fail_at(0);
    assert_int_equal(train_run(&of, s->tr, 6, s->va, 2, &r, &e), 0);
    int64_t ops = cb_afile_test_fail_at(0);
    printf("a 2-epoch run: %lld writes and renames\n", (long long)ops);
    assert_true(ops >= 20);
    for (int64_t k = 1; k <= ops; k++) {
        char *d = tmpdir();
        train_opts o = small_opts(d, TRAIN_AND);
        o.epochs = 2;
        cb_afile_test_fail_at(k);
        int rc = train_run(&o, s->tr, 6, s->va, 2, &r, &e);
        cb_afile_test_fail_at(0);
        if (rc != CB_EIO) fail_msg("failure at operation %lld: rc %d (%s)", (long long)k, rc, e.msg);
        if (k == 1 || k == ops) printf("failure at operation %lld: %s\n", (long long)k, e.msg);
        char p[4200];
        snprintf(p, sizeof p, "%s/commit.json", d);
        int pending = access(p, F_OK) == 0;
        snprintf(p, sizeof p, "%s/latest.ckpt", d);
        o.resume = pending || access(p, F_OK) == 0 || r.committed;
        if (!o.resume) { /* nothing committed: nothing written */
            DIR *dir = opendir(d);
            struct dirent *de;
            while ((de = readdir(dir))) assert_true(de->d_name[0] == '.');
            closedir(dir);
        }
        if (train_run(&o, s->tr, 6, s->va, 2, &r, &e)) fail_msg("operation %lld: resume: %s", (long long)k, e.msg);
        assert_same_run(full, d);
        rm_run(d);
    }
    rm_run(full);
}

static volatile sig_atomic_t child_stop;
static void child_on_term(int sig) { child_stop = sig; }

typedef struct {
    int to_parent, from_parent;
} child_pipes;

/* after the first epoch: tell the parent, wait until it has sent SIGTERM */
static void child_epoch(void *ctx, const train_epoch_stats *es) {
    child_pipes *p = ctx;
    if (es->epoch != 1) return;
    char c = 'e';
    if (write(p->to_parent, &c, 1) != 1) _exit(3);
    while (read(p->from_parent, &c, 1) < 0) {
    }
}

/* A child process trains, gets SIGTERM after its first epoch and exits 143;
 * the folder verifies through run/, and --resume ends with the bytes of an
 * uninterrupted run. */
static void test_sigterm_stop_resume(void **st) {
    synth *s = *st;
    char *full = tmpdir(), *d = tmpdir();
    train_opts of = small_opts(full, TRAIN_AND);
    train_result r;
    cb_err e = {0};
    assert_int_equal(train_run(&of, s->tr, 6, s->va, 2, &r, &e), 0);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = child_on_term;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGTERM, &sa, NULL);
        child_pipes p = {up[1], down[0]};
        train_opts o = small_opts(d, TRAIN_AND);
        o.stop = &child_stop;
        o.on_epoch = child_epoch;
        o.ctx = &p;
        train_result cr;
        cb_err ce = {0};
        int rc = train_run(&o, s->tr, 6, s->va, 2, &cr, &ce);
        _exit(rc ? 2 : cr.stopped ? 143 : 0);
    }
    close(up[1]);
    close(down[0]);
    char c;
    assert_int_equal(read(up[0], &c, 1), 1);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(write(down[1], "g", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(up[0]);
    close(down[1]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 143);
    run_folder f;
    if (run_folder_verify(&f, d, &e)) fail_msg("%s", e.msg);
    printf("stopped child: latest.ckpt at step %lld epoch %lld, %d metrics rows, best.ckpt %s\n",
           (long long)f.latest_step, (long long)f.latest_epoch, f.metrics_rows, f.has_best ? "yes" : "no");
    assert_int_equal(f.latest_epoch, 1);
    assert_int_equal(f.latest_step, 18);
    assert_int_equal(f.metrics_rows, 1);
    assert_true(f.has_best);
    assert_no_leftovers(d);
    train_opts o = small_opts(d, TRAIN_AND);
    o.resume = 1;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_false(r.stopped);
    assert_same_run(full, d);
    /* a stop flag set from the start: step 0 committed, nothing else */
    char *z = tmpdir();
    static volatile sig_atomic_t set = 1;
    train_opts oz = small_opts(z, TRAIN_AND);
    oz.stop = &set;
    assert_int_equal(train_run(&oz, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_true(r.stopped);
    assert_int_equal(r.steps, 0);
    if (run_folder_verify(&f, z, &e)) fail_msg("%s", e.msg);
    assert_false(f.has_best);
    oz.stop = NULL;
    oz.resume = 1;
    assert_int_equal(train_run(&oz, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_same_run(full, z);
    rm_run(z);
    rm_run(full);
    rm_run(d);
}

/* A run folder written by coinbc 0.1.0 (config.json and metrics.jsonl
 * without "format"/"version", 6-decimal JSON numbers) resumes, and ends with
 * the bytes of an uninterrupted run. */
static void test_resume_old_folder(void **st) {
    synth *s = *st;
    char *full = tmpdir(), *d = tmpdir();
    train_opts of = small_opts(full, TRAIN_SAND), o = small_opts(d, TRAIN_SAND);
    train_result r;
    cb_err e = {0};
    assert_int_equal(train_run(&of, s->tr, 6, s->va, 2, &r, &e), 0);
    o.max_steps = 18;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    /* rewrite config.json and metrics.jsonl as 0.1.0 wrote them */
    size_t n;
    char *cfg = (char *)slurp(d, "config.json", &n), *p = strstr(cfg, "  \"format\"");
    assert_non_null(p);
    char *q = strstr(p, "  \"coinbc_version\"");
    memmove(p, q, strlen(q) + 1);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", d);
    assert_int_equal(cb_write_file_atomic(path, cfg, strlen(cfg), &e), 0);
    run_config c;
    assert_int_equal(run_config_read(&c, d, &e), 0);
    assert_int_equal(c.version, 1);
    free(cfg);
    char *csv = (char *)slurp(d, "metrics.csv", &n);
    run_metrics m;
    assert_int_equal(run_metrics_decode_csv(&m, csv, n, "metrics.csv", &e), 0);
    assert_int_equal(m.nrows, 1);
    const run_metrics_row *w = &m.rows[0];
    char js[2048];
    int k = snprintf(js, sizeof js,
                     "{\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.6f, \"train_acc\": %.6f, \"val_loss\": %.6f, "
                     "\"val_acc\": %.6f, \"lr\": %g, \"seconds\": %.2f, \"samples_per_s\": %.1f, \"mask_density\": {",
                     (long long)w->epoch, (long long)w->step, w->train_loss, w->train_acc, w->val_loss, w->val_acc, w->lr,
                     w->seconds, 1234.5);
    for (int t = 0; t < w->nlayers; t++)
        k += snprintf(js + k, sizeof js - (size_t)k, "%s\"%s\": %.5f", t ? ", " : "", w->layer[t], w->mask_density[t]);
    snprintf(js + k, sizeof js - (size_t)k, "}}\n");
    snprintf(path, sizeof path, "%s/metrics.jsonl", d);
    assert_int_equal(cb_write_file_atomic(path, js, strlen(js), &e), 0);
    run_metrics_free(&m);
    free(csv);
    o.max_steps = 0;
    o.resume = 1;
    if (train_run(&o, s->tr, 6, s->va, 2, &r, &e)) fail_msg("%s", e.msg);
    assert_same_run(full, d);
    rm_run(full);
    rm_run(d);
}

/* failures leave nothing they created, and a failed resume rewrites nothing */
static void test_failures_leave_nothing(void **st) {
    synth *s = *st;
    train_result r;
    cb_err e = {0};
    char *root = tmpdir(), d[4200];
    snprintf(d, sizeof d, "%s/run", root);
    train_opts o = small_opts(d, TRAIN_AND);
    o.net.hidden = 0;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    printf("hidden 0: %s\n", e.msg);
    assert_int_equal(access(d, F_OK), -1);
    o = small_opts(d, TRAIN_AND);
    o.threads = 65;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    assert_int_equal(access(d, F_OK), -1);
    /* divergence before the first commit: nothing written, and said so */
    o = small_opts(d, TRAIN_MEAN);
    o.lr = 1e30;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_ERANGE);
    printf("divergence in the first epoch: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "nothing was written"));
    assert_null(strstr(e.msg, "latest.ckpt"));
    assert_int_equal(access(d, F_OK), -1);
    /* an I/O failure at the first commit: nothing left either */
    o = small_opts(d, TRAIN_MEAN);
    cb_afile_test_fail_at(1);
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_EIO);
    cb_afile_test_fail_at(0);
    assert_int_equal(access(d, F_OK), -1);
    /* a resume that cannot go on writes nothing */
    o = small_opts(d, TRAIN_MEAN);
    o.epochs = 2;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    size_t n0, n1;
    uint8_t *c0 = slurp(d, "config.json", &n0);
    o.resume = 1; /* a finished run: nothing to do, nothing written */
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    assert_int_equal(r.epochs_done, 2);
    o.epochs = 1;
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    printf("resume with fewer epochs: %s\n", e.msg);
    o.epochs = 4;
    o.batch_frames = 3; /* another steps_per_epoch */
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), CB_EARG);
    uint8_t *c1 = slurp(d, "config.json", &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(c0, c1, n0);
    free(c0), free(c1);
    test_rmtree(root);
    free(root);
}

static void test_method_table(void **st) {
    (void)st;
    for (int k = 0; k < TRAIN_NMETHODS; k++) {
        assert_non_null(train_method(k));
        assert_int_equal(train_method(k)->method, k);
        assert_string_equal(train_method_name(k), run_method_name(k));
        int m;
        assert_int_equal(train_method_parse(run_method_name(k), &m), 0);
        assert_int_equal(m, k);
    }
    assert_null(train_method(TRAIN_NMETHODS));
    assert_null(train_method_name(-1));
    int m;
    assert_int_equal(train_method_parse("median", &m), CB_EARG);
    float g[2 * P2] = {0}, out[P2];
    train_combine_opts o = {.method = TRAIN_NMETHODS, .tau = 0.5, .sand_k = 1, .rescale = 1};
    cb_err e = {0};
    assert_int_equal(train_combine(out, NULL, g, 2, P2, T2, 2, &o, &e), CB_EARG);
    assert_non_null(strstr(e.msg, "not a method"));
}

/* ---- coinbc train from the command line ----------------------------------------- */

static void write_dataset(const char *path, synth *s) {
    ds_writer *w;
    cb_err e = {0};
    if (ds_writer_open(&w, path, 0, "test", "coinbc test", &e)) fail_msg("%s", e.msg);
    for (int i = 0; i < 6; i++)
        if (ds_writer_add(w, &s->tr[i], &e)) fail_msg("%s", e.msg);
    for (int i = 0; i < 2; i++)
        if (ds_writer_add(w, &s->va[i], &e)) fail_msg("%s", e.msg);
    if (ds_writer_commit(w, &e)) fail_msg("%s", e.msg);
}

#define NET "--net nature --channels 8,8,8 --hidden 32 --batch-levels 4 --batch-frames 4 --epochs 2 --seed 11 --lr 0.003"

/* 1 once /proc says pid catches SIGTERM (its handler is installed) */
static int catches_sigterm(pid_t pid) {
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigCgt: %llx", &mask) == 1) break;
    fclose(f);
    return (mask >> (SIGTERM - 1)) & 1;
}

/* coinbc train with stderr on a pipe that is full before it starts, so it
 * blocks at its first message ("train: N training levels ...", after its
 * SIGTERM handler is installed and the data are loaded, before the first
 * step); SIGTERM once /proc shows the handler, then the pipe is drained.
 * The stop is therefore always at step 0, whatever the machine's load. */
static int train_sigterm(const char *data, const char *run, char *err, size_t errn) {
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    int fl = fcntl(pp[1], F_GETFL);
    fcntl(pp[1], F_SETFL, fl | O_NONBLOCK);
    size_t junk = 0;
    char blank[4096];
    memset(blank, '\n', sizeof blank);
    for (;;) {
        ssize_t w = write(pp[1], blank, sizeof blank);
        if (w <= 0) break;
        junk += (size_t)w;
    }
    for (;;) { /* the last partial page */
        ssize_t w = write(pp[1], blank, 1);
        if (w <= 0) break;
        junk += (size_t)w;
    }
    fcntl(pp[1], F_SETFL, fl);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pp[0]);
        dup2(pp[1], 2);
        execl(test_coinbc(), "coinbc", "train", data, "--train-levels", "100-105", "--val-levels", "200-201", "--net",
              "nature", "--channels", "8,8,8", "--hidden", "32", "--batch-levels", "4", "--batch-frames", "4", "--epochs",
              "2", "--seed", "11", "--lr", "0.003", "-o", run, (char *)NULL);
        _exit(127);
    }
    close(pp[1]);
    while (!catches_sigterm(pid)) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) fail_msg("coinbc train ended before installing its SIGTERM handler");
        usleep(1000); /* polling a condition, not timing the test */
    }
    assert_int_equal(kill(pid, SIGTERM), 0);
    size_t k = 0;
    char buf[4096];
    for (;;) {
        ssize_t got = read(pp[0], buf, sizeof buf);
        if (got <= 0) break;
        for (ssize_t i = 0; i < got; i++)
            if (junk) junk--;
            else if (k + 1 < errn) err[k++] = buf[i];
    }
    err[k] = 0;
    close(pp[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_lines(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_cli_train(void **st) {
    synth *s = *st;
    char *root = tmpdir();
    char data[4200], run[4200], full[4200], out[4096], err[8192];
    snprintf(data, sizeof data, "%s/d.cbd", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(full, sizeof full, "%s/full", root);
    write_dataset(data, s);
    /* refused options: status 2, no folder */
    const char *bad[] = {"--threads 0",   "--threads 65",   "--hidden 0", "--channels 0,8,8", "--method median",
                         "--method tand --tand-beta 0", "--method tand --tand-beta 1", "--tand-beta -0.1",
                         "--method tand --tand-beta x"};
    for (int i = 0; i < 9; i++) {
        int rc = test_run(out, sizeof out, err, sizeof err, "train %s %s -o %s", data, bad[i], run);
        printf("train %s: status %d: %s", bad[i], rc, err);
        assert_int_equal(rc, 2);
        assert_int_equal(access(run, F_OK), -1);
    }
    /* the uninterrupted run */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "train %s --train-levels 100-105 --val-levels 200-201 "
                              NET " --quiet -o %s", data, full), 0);
    /* SIGTERM before the first step: status 143, one line, a consistent folder */
    int rc = train_sigterm(data, run, err, sizeof err);
    printf("SIGTERM: status %d\n%s", rc, err);
    assert_int_equal(rc, 143);
    assert_int_equal(count_lines(err, "stopped by SIGTERM"), 1);
    assert_non_null(strstr(err, "stopped by SIGTERM at step 0 of epoch 1;"));
    assert_non_null(strstr(err, "--resume continues it"));
    run_folder f;
    cb_err e = {0};
    if (run_folder_verify(&f, run, &e)) fail_msg("%s", e.msg);
    assert_true(f.has_config && f.has_latest && !f.has_best);
    assert_int_equal(f.config.train_seed_lo, 100);
    assert_int_equal(f.config.val_seed_hi, 201);
    /* eval says what is there and what to do */
    rc = test_run(out, sizeof out, err, sizeof err, "eval %s %s --quiet", run, data);
    printf("eval of the stopped run: %s", err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "no best.ckpt yet"));
    assert_non_null(strstr(err, "--resume"));
    /* a second writer is refused while the first holds the lock */
    cb_lock lk;
    assert_int_equal(cb_lock_acquire(&lk, run, "test holder", &e), 0);
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --train-levels 100-105 --val-levels 200-201 " NET
                  " --quiet --resume -o %s", data, run);
    printf("second writer: %s", err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "test holder"));
    cb_lock_release(&lk, 0);
    /* resumed: the bytes of the uninterrupted run */
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --train-levels 100-105 --val-levels 200-201 " NET
                  " --quiet --resume -o %s", data, run);
    if (rc) fail_msg("resume: %s", err);
    assert_same_run(full, run);
    /* eval reads the run's training levels from config.json */
    rc = test_run(out, sizeof out, err, sizeof err, "eval %s %s --levels 200-201 --quiet", run, data);
    if (rc) fail_msg("eval: %s", err);
    run_eval ev;
    if (run_eval_read(&ev, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ev.has_train, 1);
    assert_int_equal(ev.train.levels, 6);
    assert_int_equal(ev.test.levels, 2);
    /* rollout and report write and read through run/ too */
    rc = test_run(out, sizeof out, err, sizeof err, "rollout %s --levels 3-4 --threads 1 --quiet", run);
    if (rc) fail_msg("rollout: %s", err);
    run_rollout ro;
    if (run_rollout_read(&ro, run, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ro.level_lo, 3);
    assert_int_equal(ro.level_hi, 4);
    assert_int_equal(ro.episodes, 2);
    assert_true(ro.expert_success >= 0 && ro.expert_success <= 1);
    rc = test_run(out, sizeof out, err, sizeof err, "report %s -o %s/r.html", run, root);
    if (rc) fail_msg("report: %s", err);
    printf("report:\n%s", out);
    assert_non_null(strstr(out, "run "));
    assert_non_null(strstr(out, "mean"));
    /* a damaged record is an error naming the file and the key */
    char p[8400];
    snprintf(p, sizeof p, "%s/rollout.json", run);
    const char *dmg = "{\"format\": \"coinbc-rollout\", \"version\": 1, \"checkpoint\": 3}\n";
    assert_int_equal(cb_write_file_atomic(p, dmg, strlen(dmg), &e), 0);
    rc = test_run(out, sizeof out, err, sizeof err, "report %s -o %s/r.html", run, root);
    printf("report of a damaged rollout.json: %s", err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "rollout.json"));
    assert_non_null(strstr(err, "\"checkpoint\""));
    /* a failed train into a new folder leaves nothing */
    char nf[4200];
    snprintf(nf, sizeof nf, "%s/new", root);
    rc = test_run(out, sizeof out, err, sizeof err, "train %s --train-levels 100-105 " NET " --lr 1e30 --quiet -o %s", data,
                  nf);
    printf("diverging train: %s", err);
    assert_int_equal(rc, 1);
    assert_int_equal(access(nf, F_OK), -1);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_and_tau0),
        cmocka_unit_test(test_and_mask),
        cmocka_unit_test(test_sand_mask),
        cmocka_unit_test(test_geomean),
        cmocka_unit_test(test_nonfinite_rejected),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_tand_hand), cmocka_unit_test(test_tand_threads), cmocka_unit_test(test_agreement_hand),
        cmocka_unit_test(test_learns_and_writes_run),
        cmocka_unit_test(test_deterministic_any_threads), cmocka_unit_test(test_combine_threads),
        cmocka_unit_test(test_resume_equals_uninterrupted),
        cmocka_unit_test(test_tand_run),
        cmocka_unit_test(test_divergence_keeps_last_good),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_commit_failures_resume),
        cmocka_unit_test(test_sigterm_stop_resume),
        cmocka_unit_test(test_resume_old_folder),
        cmocka_unit_test(test_failures_leave_nothing),
        cmocka_unit_test(test_method_table),
        cmocka_unit_test(test_cli_train),
    };
    return cmocka_run_group_tests_name("train", tests, setup_synth, teardown_synth);
}
