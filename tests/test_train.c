/* test_train.c - the gradient combiners on hand-computed cases (sign 0,
 * every level agreeing, none agreeing, tau 0 equal to the mean, SAND with
 * zero variance, the geometric mean, per-tensor rescaling, NaN and inf
 * refused), Adam and both weight-decay modes by hand, and the training loop
 * on synthetic levels: it learns, its run folder is complete, it is
 * bit-identical across runs and thread counts, --resume (at an epoch end and
 * mid-epoch) equals an uninterrupted run, and divergence keeps the last good
 * checkpoint. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "train/train.h"

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
            uint8_t *px = lv[i].frames + (size_t)f * DS_FRAME_BYTES;
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
    model_config_default(&o.net, "nature");
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

static uint8_t *slurp(const char *dir, const char *name, size_t *n) {
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
    const char *f[] = {"config.json", "metrics.csv", "metrics.jsonl", "latest.ckpt", "best.ckpt"};
    char p[4200];
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", d, f[i]);
        unlink(p);
    }
    rmdir(d);
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

static void test_divergence_keeps_last_good(void **st) {
    synth *s = *st;
    char *d = tmpdir();
    train_opts o = small_opts(d, TRAIN_MEAN);
    o.max_steps = 18;
    train_result r;
    cb_err e = {0};
    assert_int_equal(train_run(&o, s->tr, 6, s->va, 2, &r, &e), 0);
    size_t n0;
    uint8_t *before = slurp(d, "latest.ckpt", &n0);
    char *csv0 = (char *)slurp(d, "metrics.csv", &n0);
    /* an absurd learning rate blows the weights up within a step or two */
    o.max_steps = 0;
    o.resume = 1;
    o.lr = 1e30;
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
    assert_int_equal(cs.step, 18);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_and_tau0),
        cmocka_unit_test(test_and_mask),
        cmocka_unit_test(test_sand_mask),
        cmocka_unit_test(test_geomean),
        cmocka_unit_test(test_nonfinite_rejected),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_learns_and_writes_run),
        cmocka_unit_test(test_deterministic_any_threads), cmocka_unit_test(test_combine_threads),
        cmocka_unit_test(test_resume_equals_uninterrupted),
        cmocka_unit_test(test_divergence_keeps_last_good),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests_name("train", tests, setup_synth, teardown_synth);
}
