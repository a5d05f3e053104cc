/* test_paper_options.c - the paper protocol's training options:
 *   - --beta1: one Adam (and tand) step against hand-computed values for
 *     beta1 = 0.5, and beta1 = 0.9 bit-identical to the default functions;
 *   - --sampling epoch: the epoch plan visits every frame at most once (every
 *     frame exactly once when the level sizes are multiples of B and the
 *     chunks a multiple of L), steps hold distinct levels unless only repeats
 *     are left, the plan is a function of seed and epoch; a tiny run sees
 *     every frame exactly once per epoch (through train_opts.on_frames), and
 *     a run stopped mid-epoch and resumed ends with the bytes of an
 *     uninterrupted one;
 *   - --best-by loss: best.ckpt is the epoch of the lowest validation loss
 *     (a tie keeps the earlier epoch), acc the highest accuracy;
 *   - config.json: the three keys written, read back, absent keys read as
 *     the old defaults, and a resume with another value refused;
 *   - tune --objective val_loss: the best trial is the lowest loss (by hand
 *     on built results, and trials.csv's column), and a tiny real study of
 *     tand searching beta1, wd (decoupled), tand-beta, tau and the sampling
 *     minimizes the loss: each trial's value is its lowest validation loss,
 *     best.json records the objective and --best-by loss. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "train/train.h"
#include "tests/support/run.h"

/* tand's sign moment (train/'s optimizer state, no longer a model array): the
 * 4th array of the test's own arena, after the model's parameters and Adam moments */
#define SIGN_M(mm) ((mm).mem + 3 * (mm).nparams)

static void near(double got, double want) {
    if (fabs(got - want) > 1e-6 * (1 + fabs(want))) fail_msg("got %.9g, want %.9g", got, want);
}

/* ---- beta1 -------------------------------------------------------------------- */

static void test_beta1_adam_step(void **st) {
    (void)st;
    model m;
    memset(&m, 0, sizeof m);
    float mem[4 * 2] = {0};
    m.nparams = 2;
    m.mem = mem, m.params = mem, m.adam_m = mem + 2, m.adam_v = mem + 4;
    /* from m0 = 0.2, v0 = 0, g = 0.5 at t = 1 with beta1 = 0.5:
     * m = 0.5 * 0.2 + 0.5 * 0.5 = 0.35, m^ = 0.35 / (1 - 0.5) = 0.7;
     * v = 0.001 * 0.25 = 0.00025, v^ = 0.25; step = lr * 0.7 / (0.5 + 1e-8) */
    m.params[0] = 1, m.params[1] = -2;
    m.adam_m[0] = 0.2f;
    float g[2] = {0.5f, 0};
    train_adam_step_b1(&m, g, 0.1, 0.5, 1, 0, TRAIN_WD_L2);
    near(m.adam_m[0], 0.35);
    near(m.adam_v[0], 0.00025);
    near(m.params[0], 1 - 0.1 * 0.7 / (0.5 + 1e-8));
    near(m.params[1], -2); /* g = 0, m0 = 0: no step */
    /* step 2, g = 0.1: m = 0.5 * 0.35 + 0.05 = 0.225, m^ = 0.225 / 0.75;
     * v = 0.999 * 0.00025 + 0.001 * 0.01, v^ = v / (1 - 0.999^2) */
    double w1 = m.params[0];
    g[0] = 0.1f, g[1] = 0;
    train_adam_step_b1(&m, g, 0.1, 0.5, 2, 0, TRAIN_WD_L2);
    double v2 = 0.999 * 0.00025 + 0.001 * (double)0.1f * (double)0.1f;
    near(m.adam_m[0], 0.225);
    near(m.params[0], w1 - 0.1 * (0.225 / 0.75) / (sqrt(v2 / (1 - 0.999 * 0.999)) + 1e-8));
    /* beta1 = 0 is allowed: m = g */
    memset(mem, 0, sizeof mem);
    g[0] = 0.5f;
    train_adam_step_b1(&m, g, 0.1, 0.0, 1, 0, TRAIN_WD_L2);
    near(m.adam_m[0], 0.5);
    near(m.params[0], -0.1 * 0.5 / (0.5 + 1e-8));

    /* tand with tau 0 (every mask on) is the same Adam step under beta1 0.5 */
    memset(mem, 0, sizeof mem);
    m.params[0] = 1;
    m.adam_m[0] = 0.2f;
    g[0] = 0.5f, g[1] = 0;
    m.tensors[0].off = 0, m.tensors[0].size = 2;
    snprintf(m.tensors[0].name, sizeof m.tensors[0].name, "x.w");
    m.ntensors = 1;
    train_tand_step_b1(&m, SIGN_M(m), NULL, g, 0.1, 0.5, 1, 0, TRAIN_WD_L2, 0.0, 0.9);
    near(m.adam_m[0], 0.35);
    near(m.params[0], 1 - 0.1 * 0.7 / (0.5 + 1e-8));
}

/* beta1 0.9 through the _b1 functions: the same bits as the default ones, on
 * a parameter count that runs the vector lanes and the scalar tail */
static void test_beta1_default_bits(void **st) {
    (void)st;
    enum { P = 1031 };
    float *mem = calloc(8 * P, sizeof(float)), g[P];
    assert_non_null(mem);
    model a, b;
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    a.nparams = b.nparams = P;
    a.mem = mem, a.params = mem, a.adam_m = mem + P, a.adam_v = mem + 2 * P;
    b.mem = mem + 4 * P, b.params = mem + 4 * P, b.adam_m = mem + 5 * P, b.adam_v = mem + 6 * P;
    a.tensors[0].size = b.tensors[0].size = P;
    snprintf(a.tensors[0].name, sizeof a.tensors[0].name, "x.w");
    snprintf(b.tensors[0].name, sizeof b.tensors[0].name, "x.w");
    a.ntensors = b.ntensors = 1;
    a.threads = b.threads = 1;
    cb_rng r;
    cb_rng_seed(&r, 5);
    for (int i = 0; i < P; i++) a.params[i] = b.params[i] = (float)cb_rng_normal(&r);
    for (int mode = 0; mode < 2; mode++)
        for (int t = 1; t <= 3; t++) {
            for (int i = 0; i < P; i++) g[i] = (float)cb_rng_normal(&r);
            float g2[P];
            memcpy(g2, g, sizeof g);
            train_adam_step(&a, g, 1e-3, t, 1e-2, mode);
            train_adam_step_b1(&b, g2, 1e-3, 0.9, t, 1e-2, mode);
            assert_memory_equal(a.params, b.params, sizeof(float) * P);
            assert_memory_equal(a.adam_m, b.adam_m, sizeof(float) * P);
            train_tand_step(&a, SIGN_M(a), NULL, g, 1e-3, t, 1e-2, mode, 0.4, 0.8);
            train_tand_step_b1(&b, SIGN_M(b), NULL, g, 1e-3, 0.9, t, 1e-2, mode, 0.4, 0.8);
            assert_memory_equal(a.params, b.params, sizeof(float) * P);
            assert_memory_equal(SIGN_M(a), SIGN_M(b), sizeof(float) * P);
        }
    free(mem);
}

/* ---- the epoch plan ------------------------------------------------------------ */

/* Every (level, frame) at most once; returns how many were seen. */
static int64_t count_plan(const train_epoch_plan *p, const int64_t *nf, int n, uint8_t **seen) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) memset(seen[i], 0, (size_t)nf[i]);
    for (int64_t s = 0; s < p->steps; s++)
        for (int l = 0; l < p->L; l++) {
            int lv = p->level[s * p->L + l];
            assert_true(lv >= 0 && lv < n);
            for (int b = 0; b < p->B; b++) {
                uint32_t f = p->frame[(size_t)(s * p->L + l) * p->B + b];
                assert_true(f < nf[lv]);
                if (seen[lv][f]) fail_msg("level %d frame %u seen twice in one epoch", lv, f);
                seen[lv][f] = 1;
                total++;
            }
        }
    return total;
}

static void test_epoch_plan(void **st) {
    (void)st;
    enum { NL = 7 };
    const int64_t nf[NL] = {12, 8, 9, 16, 5, 20, 11};
    uint8_t *seen[NL];
    for (int i = 0; i < NL; i++) seen[i] = malloc(64); /* the most frames a level below has */
    cb_err e = {0};
    const int B = 4;
    int64_t chunks = 0;
    for (int i = 0; i < NL; i++) chunks += nf[i] / B;
    for (int L = 1; L <= 4; L++) {
        train_epoch_plan p, q;
        assert_int_equal(train_epoch_plan_make(&p, nf, NL, L, B, 42, 3, &e), 0);
        assert_int_equal(p.steps, chunks / L);
        assert_int_equal(train_epoch_steps(nf, NL, L, B), p.steps);
        int64_t seen_frames = count_plan(&p, nf, NL, seen);
        assert_int_equal(seen_frames, p.steps * L * B);
        if (L == 1) /* every whole chunk of every level: all frames but each level's n mod B */
            for (int i = 0; i < NL; i++) {
                int64_t k = 0;
                for (int64_t f = 0; f < nf[i]; f++) k += seen[i][f];
                assert_int_equal(k, nf[i] / B * B);
            }
        /* a step repeats a level only when no chunk after that slot is of a
         * level the step lacks (and no earlier one could trade) */
        for (int64_t s = 0; s < p.steps; s++)
            for (int l = 1; l < L; l++) {
                int j = (int)(s * L + l), dup = 0;
                for (int q2 = 0; q2 < l; q2++) dup |= p.level[s * L + q2] == p.level[j];
                if (!dup) continue;
                for (int64_t x = j + 1; x < p.steps * L; x++) {
                    int clash = 0;
                    for (int q2 = 0; q2 < l; q2++) clash |= p.level[s * L + q2] == p.level[x];
                    if (!clash) fail_msg("L %d step %lld slot %d repeats a level while slot %lld holds another", L,
                                         (long long)s, l, (long long)x);
                }
            }
        /* the same seed and epoch: the same plan; another epoch: another order */
        assert_int_equal(train_epoch_plan_make(&q, nf, NL, L, B, 42, 3, &e), 0);
        assert_memory_equal(p.level, q.level, sizeof *p.level * (size_t)(p.steps * L));
        assert_memory_equal(p.frame, q.frame, sizeof *p.frame * (size_t)(p.steps * L * B));
        train_epoch_plan_free(&q);
        assert_int_equal(train_epoch_plan_make(&q, nf, NL, L, B, 42, 4, &e), 0);
        assert_true(memcmp(p.frame, q.frame, sizeof *p.frame * (size_t)(p.steps * L * B)) != 0);
        train_epoch_plan_free(&q);
        train_epoch_plan_free(&p);
    }
    /* sizes that divide: every frame exactly once */
    const int64_t even[4] = {8, 12, 8, 4}; /* 8 chunks of 4 */
    for (int L = 1; L <= 2; L++) {
        train_epoch_plan p;
        assert_int_equal(train_epoch_plan_make(&p, even, 4, L, 4, 9, 0, &e), 0);
        assert_int_equal(count_plan(&p, even, 4, seen), 32);
        train_epoch_plan_free(&p);
    }
    /* 16 levels of 2 chunks, 4 per step: the steps hold distinct levels */
    int64_t many[16];
    for (int i = 0; i < 16; i++) many[i] = 8;
    train_epoch_plan p;
    assert_int_equal(train_epoch_plan_make(&p, many, 16, 4, 4, 1, 0, &e), 0);
    int repeats = 0;
    for (int64_t s = 0; s < p.steps; s++)
        for (int l = 1; l < 4; l++)
            for (int q2 = 0; q2 < l; q2++) repeats += p.level[s * 4 + q2] == p.level[s * 4 + l];
    printf("16 levels x 2 chunks, 4 per step: %d repeated slots in %lld steps\n", repeats, (long long)p.steps);
    assert_int_equal(repeats, 0);
    train_epoch_plan_free(&p);
    /* no step fits: refused */
    const int64_t tiny[2] = {3, 3};
    assert_int_equal(train_epoch_plan_make(&p, tiny, 2, 1, 4, 1, 0, &e), CB_EARG);
    for (int i = 0; i < NL; i++) free(seen[i]);
}

/* ---- tiny runs ------------------------------------------------------------------ */

static void make_levels(ds_level *lv, int n, const int *frames, int32_t seed0) {
    cb_err e = {0};
    for (int i = 0; i < n; i++) {
        assert_int_equal(ds_level_alloc(&lv[i], seed0 + i, 0, frames[i], &e), 0);
        cb_rng r;
        cb_rng_seed2(&r, 31, (uint64_t)(seed0 + i));
        for (int f = 0; f < frames[i]; f++) {
            uint8_t *px = lv[i].frames + (size_t)f * CB_FRAME_BYTES;
            int lab = (int)cb_rng_below(&r, 3);
            for (int k = 0; k < CB_FRAME_BYTES; k++) px[k] = (uint8_t)(cb_rng_below(&r, 64) + 60 * lab);
            lv[i].label[f] = lv[i].action[f] = (uint8_t)lab;
            lv[i].reward[f] = 0;
            lv[i].done[f] = f == frames[i] - 1;
            lv[i].episode[f] = 0;
            lv[i].step[f] = f;
        }
    }
}

static train_opts tiny_opts(const char *run) {
    train_opts o;
    memset(&o, 0, sizeof o);
    model_net_default(&o.net, "nature");
    o.net.channels[0] = 4, o.net.channels[1] = 4, o.net.channels[2] = 4, o.net.hidden = 16;
    o.comb = (train_combine_opts){.method = TRAIN_TAND, .tau = 0.3, .sand_k = 1, .tand_beta = 0.8};
    o.epochs = 2;
    o.lr = 3e-3;
    o.lr_decay = 1;
    o.wd = 1e-2;
    o.wd_mode = TRAIN_WD_DECOUPLED;
    o.beta1 = 0.5;
    o.beta1_set = 1;
    o.sampling = TRAIN_SAMPLING_EPOCH;
    o.batch_levels = 1;
    o.batch_frames = 4;
    o.seed = 7;
    o.threads = 1;
    o.run = run;
    o.quiet = 1;
    return o;
}

enum { NTR = 3, MAXF = 16, MAXSTEPS = 64 };
static const int TRF[NTR] = {8, 12, 4}; /* multiples of B = 4: 6 chunks, 6 steps an epoch */

typedef struct {
    int hits[2][NTR][MAXF]; /* per epoch (steps 1-6, 7-12) */
    int64_t steps[MAXSTEPS];
    int level[MAXSTEPS];
    uint32_t frames[MAXSTEPS][4];
    int n;
} frame_log;

static void on_frames(void *ctx, int64_t step, int level, const uint32_t *frames, int B) {
    frame_log *fl = ctx;
    assert_true(level >= 0 && level < NTR && B == 4);
    int ep = (int)((step - 1) / 6);
    assert_true(ep >= 0 && ep < 2);
    for (int b = 0; b < B; b++) fl->hits[ep][level][frames[b]]++;
    if (fl->n < MAXSTEPS) {
        fl->steps[fl->n] = step;
        fl->level[fl->n] = level;
        memcpy(fl->frames[fl->n], frames, sizeof fl->frames[0]);
        fl->n++;
    }
}

static char *slurp(const char *dir, const char *name, size_t *n) {
    char p[8400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)k + 1);
    assert_int_equal(fread(s, 1, (size_t)k, f), (size_t)k);
    s[k] = 0;
    fclose(f);
    *n = (size_t)k;
    return s;
}

static void assert_same_file(const char *d1, const char *d2, const char *name) {
    size_t n1, n2;
    char *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    if (n1 != n2 || memcmp(a, b, n1)) fail_msg("%s differs between %s and %s", name, d1, d2);
    free(a), free(b);
}

static void test_epoch_run_and_resume(void **st) {
    (void)st;
    ds_level tr[NTR];
    make_levels(tr, NTR, TRF, 10);
    char *root = test_tmpdir(), full[4200], part[4200];
    snprintf(full, sizeof full, "%s/full", root);
    snprintf(part, sizeof part, "%s/part", root);
    cb_err e = {0};
    train_result res;
    /* uninterrupted: every frame once in each epoch (of 6 steps: 12 frames / 4 + 8 / 4 + 4 / 4... = 6 chunks) */
    frame_log fl;
    memset(&fl, 0, sizeof fl);
    train_opts o = tiny_opts(full);
    o.on_frames = on_frames;
    o.ctx = &fl;
    if (train_run(&o, tr, NTR, NULL, 0, &res, &e)) fail_msg("%s", e.msg);
    assert_int_equal(res.steps, 12);
    for (int ep = 0; ep < 2; ep++)
        for (int i = 0; i < NTR; i++)
            for (int f = 0; f < TRF[i]; f++)
                if (fl.hits[ep][i][f] != 1)
                    fail_msg("epoch %d: level %d frame %d seen %d times", ep + 1, i, f, fl.hits[ep][i][f]);
    assert_int_equal(fl.n, 12);
    /* two epochs of the same levels in different orders */
    int same = 1;
    for (int s = 0; s < 6; s++) same &= fl.level[s] == fl.level[s + 6] && !memcmp(fl.frames[s], fl.frames[s + 6], 16);
    assert_false(same);
    run_config c;
    assert_int_equal(run_config_read(&c, full, &e), 0);
    assert_int_equal(c.steps_per_epoch, 6);
    assert_int_equal(c.sampling, RUN_SAMPLING_EPOCH);
    assert_true(c.beta1 == 0.5);
    /* stopped at step 4 (mid-epoch 1) and at step 9 (mid-epoch 2), resumed:
     * the same batches after each resume, and the same bytes at the end */
    frame_log fp;
    memset(&fp, 0, sizeof fp);
    train_opts p = tiny_opts(part);
    p.on_frames = on_frames;
    p.ctx = &fp;
    const int64_t stops[3] = {4, 9, 12};
    for (int k = 0; k < 3; k++) {
        p.max_steps = stops[k];
        p.resume = k > 0;
        if (train_run(&p, tr, NTR, NULL, 0, &res, &e)) fail_msg("%s", e.msg);
        assert_int_equal(res.steps, stops[k]);
    }
    assert_int_equal(fp.n, 12);
    for (int s = 0; s < 12; s++) {
        assert_int_equal(fp.steps[s], fl.steps[s]);
        assert_int_equal(fp.level[s], fl.level[s]);
        assert_memory_equal(fp.frames[s], fl.frames[s], sizeof fp.frames[s]);
    }
    assert_same_file(full, part, "latest.ckpt");
    assert_same_file(full, part, "best.ckpt");
    /* (metrics.jsonl differs: seconds, and a resumed epoch's row covers its own steps) */
    /* a resume with another --sampling, --beta1 or --best-by is refused, naming each */
    p.max_steps = 0;
    p.epochs = 3;
    p.sampling = TRAIN_SAMPLING_REPLACE;
    p.beta1 = 0.9;
    p.best_by = TRAIN_BEST_LOSS;
    assert_int_equal(train_run(&p, tr, NTR, NULL, 0, &res, &e), CB_EARG);
    printf("%s\n", e.msg);
    assert_non_null(strstr(e.msg, "--beta1 0.5 (now 0.9)"));
    assert_non_null(strstr(e.msg, "--sampling epoch (now replace)"));
    assert_non_null(strstr(e.msg, "--best-by acc (now loss)"));
    test_rmtree(root);
    free(root);
    for (int i = 0; i < NTR; i++) ds_level_free(&tr[i]);
}

/* --best-by: best.ckpt is the epoch of the lowest validation loss (acc: the
 * highest accuracy), the first such epoch on a tie */
static void test_best_by(void **st) {
    (void)st;
    const int trf[4] = {16, 16, 16, 16}, vaf[2] = {16, 16};
    ds_level tr[4], va[2];
    make_levels(tr, 4, trf, 10);
    make_levels(va, 2, vaf, 50);
    char *root = test_tmpdir();
    cb_err e = {0};
    for (int by = 0; by < 2; by++) {
        char run[4200];
        snprintf(run, sizeof run, "%s/by%d", root, by);
        train_opts o = tiny_opts(run);
        o.comb = (train_combine_opts){.method = TRAIN_MEAN, .sand_k = 1};
        o.sampling = by ? TRAIN_SAMPLING_EPOCH : TRAIN_SAMPLING_REPLACE;
        o.best_by = by ? TRAIN_BEST_LOSS : TRAIN_BEST_ACC;
        o.lr = 2e-2; /* large enough that the figures move around */
        o.epochs = 5;
        train_result res;
        if (train_run(&o, tr, 4, va, 2, &res, &e)) fail_msg("%s", e.msg);
        run_metrics mt;
        memset(&mt, 0, sizeof mt);
        assert_int_equal(run_metrics_read(&mt, run, &e), 0);
        assert_int_equal(mt.nrows, 5);
        int want = 0;
        for (int k = 1; k < mt.nrows; k++)
            if (by ? mt.rows[k].val_loss < mt.rows[want].val_loss : mt.rows[k].val_acc > mt.rows[want].val_acc) want = k;
        char path[4300];
        snprintf(path, sizeof path, "%s/best.ckpt", run);
        model m;
        model_ckpt_state cs;
        assert_int_equal(model_load(&m, &cs, path, &e), 0);
        printf("best-by %s: best.ckpt at epoch %lld, want %d\n", by ? "loss" : "acc", (long long)cs.epoch, want + 1);
        assert_int_equal(cs.epoch, want + 1);
        if (by) {
            near(res.best_val_loss, mt.rows[want].val_loss);
            assert_true(isnan(res.best_val_acc));
            near(-cs.best_val, mt.rows[want].val_loss);
        } else {
            near(res.best_val_acc, mt.rows[want].val_acc);
            assert_true(isnan(res.best_val_loss));
        }
        model_free(&m);
        run_metrics_free(&mt);
        run_config c;
        assert_int_equal(run_config_read(&c, run, &e), 0);
        assert_int_equal(c.best_by, by ? RUN_BEST_LOSS : RUN_BEST_ACC);
    }
    test_rmtree(root);
    free(root);
    for (int i = 0; i < 4; i++) ds_level_free(&tr[i]);
    for (int i = 0; i < 2; i++) ds_level_free(&va[i]);
}

/* ---- config.json ------------------------------------------------------------------ */

static void test_config_keys(void **st) {
    (void)st;
    run_config c, d;
    memset(&c, 0, sizeof c);
    model_net_default(&c.net, "nature");
    model plan;
    cb_err e = {0};
    assert_int_equal(model_plan(&plan, &c.net, &e), 0);
    c.params = plan.nparams;
    c.method = RUN_METHOD_TAND;
    c.tau = 0.4, c.sand_k = 1, c.tand_beta = 0.8, c.epochs = 30, c.lr = 7e-3, c.wd = 0.05;
    c.wd_mode = RUN_WD_DECOUPLED;
    c.beta1 = 0.25, c.sampling = RUN_SAMPLING_EPOCH, c.best_by = RUN_BEST_LOSS;
    c.batch_levels = 1, c.batch_frames = 64, c.train_levels = 64, c.train_frames = 64000, c.steps_per_epoch = 960;
    run_text t = {0};
    assert_int_equal(run_config_encode(&t, &c, &e), 0);
    assert_non_null(strstr(t.s, "\"beta1\": 0.25"));
    assert_non_null(strstr(t.s, "\"sampling\": \"epoch\""));
    assert_non_null(strstr(t.s, "\"best_by\": \"loss\""));
    assert_int_equal(run_config_decode(&d, t.s, t.len, "config.json", &e), 0);
    assert_true(d.beta1 == 0.25);
    assert_int_equal(d.sampling, RUN_SAMPLING_EPOCH);
    assert_int_equal(d.best_by, RUN_BEST_LOSS);
    char msg[512];
    assert_int_equal(run_config_diff(&c, &d, msg, sizeof msg), 0);
    /* a record written before these options: the three keys removed read as 0.9, replace, acc */
    json_t *o = json_loads(t.s, 0, NULL);
    assert_non_null(o);
    json_object_del(o, "beta1");
    json_object_del(o, "sampling");
    json_object_del(o, "best_by");
    char *old = json_dumps(o, 0);
    assert_int_equal(run_config_decode(&d, old, strlen(old), "config.json", &e), 0);
    assert_true(d.beta1 == RUN_BETA1_DEFAULT);
    assert_int_equal(d.sampling, RUN_SAMPLING_REPLACE);
    assert_int_equal(d.best_by, RUN_BEST_ACC);
    assert_int_equal(run_config_diff(&c, &d, msg, sizeof msg), 3);
    printf("%s\n", msg);
    assert_non_null(strstr(msg, "--beta1 0.25 (now 0.9)"));
    free(old);
    /* values outside: refused naming the key */
    const char *bad[][2] = {{"beta1", "1"}, {"beta1", "-0.1"}, {"sampling", "\"shuffle\""}, {"best_by", "\"f1\""}};
    for (int k = 0; k < 4; k++) {
        json_t *v = json_loads(bad[k][1], JSON_DECODE_ANY, NULL);
        json_object_set_new(o, bad[k][0], v);
        char *s = json_dumps(o, 0);
        assert_int_equal(run_config_decode(&d, s, strlen(s), "config.json", &e), CB_EFORMAT);
        printf("%s\n", e.msg);
        char want[64];
        snprintf(want, sizeof want, "key \"%s\" is ", bad[k][0]);
        assert_non_null(strstr(e.msg, want));
        json_object_del(o, bad[k][0]);
        free(s);
    }
    json_decref(o);
    run_text_free(&t);
}

/* ---- tune --objective ---------------------------------------------------------------- */

static void test_tune_best_by_objective(void **st) {
    (void)st;
    run_tune_trial t[4];
    memset(t, 0, sizeof t);
    const double v[4] = {0.30, 0.10, 0.10, 0.50};
    for (int i = 0; i < 4; i++) t[i].number = i, t[i].state = RUN_TUNE_COMPLETE, t[i].value = v[i];
    t[3].state = RUN_TUNE_PRUNED;
    run_tune_result r = {.objective = RUN_TUNE_VAL_LOSS, .ntrials = 4, .trials = t};
    assert_int_equal(run_tune_best(&r), 1); /* the lowest; a tie keeps the earlier trial */
    r.objective = RUN_TUNE_VAL_ACC;
    assert_int_equal(run_tune_best(&r), 3); /* the highest, a pruned trial by its best epoch */
    t[3].state = RUN_TUNE_FAIL;
    assert_int_equal(run_tune_best(&r), 0); /* a failed trial never */
    t[3].state = RUN_TUNE_PRUNED;
    /* trials.csv names the objective in its value column and reads it back */
    char *root = test_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/trials.csv", root);
    cb_err e = {0};
    snprintf(t[0].run, sizeof t[0].run, "trials/0000");
    for (int obj = 0; obj < 2; obj++) {
        r.objective = obj;
        assert_int_equal(run_tune_trials_write(path, &r, &e), 0);
        run_tune_result back;
        assert_int_equal(run_tune_trials_read(&back, path, &e), 0);
        assert_int_equal(back.objective, obj);
        assert_int_equal(run_tune_best(&back), obj ? 1 : 3);
        run_tune_result_free(&back);
    }
    test_rmtree(root);
    free(root);
    const char *names[2] = {"val_acc", "val_loss"};
    for (int k = 0; k < 2; k++) {
        int o = -1;
        assert_int_equal(run_tune_objective_parse(names[k], &o), 0);
        assert_int_equal(o, k);
        assert_string_equal(run_tune_objective_name(k), names[k]);
    }
    int o;
    assert_int_equal(run_tune_objective_parse("loss", &o), CB_EARG);
    /* beta1 and the sampling are parameters tune may search; best-by is a fixed option only */
    run_tune_value b1 = {0, 0.5, ""}, b1bad = {0, 1.0, ""}, smp = {1, 0, "epoch"};
    assert_int_equal(run_tune_check_value("beta1", &b1, &e), 0);
    assert_int_not_equal(run_tune_check_value("beta1", &b1bad, &e), 0);
    assert_int_equal(run_tune_check_value("sampling", &smp, &e), 0);
    run_tune_space sp;
    memset(&sp, 0, sizeof sp);
    sp.nparams = 1;
    snprintf(sp.p[0].name, sizeof sp.p[0].name, "beta1");
    sp.p[0].kind = RUN_TUNE_UNIFORM, sp.p[0].lo = 0, sp.p[0].hi = 0.95;
    assert_int_equal(run_tune_space_check(&sp, "tand", &e), 0);
    snprintf(sp.p[0].name, sizeof sp.p[0].name, "best-by");
    sp.p[0].kind = RUN_TUNE_CHOICE, sp.p[0].nchoice = 1, sp.p[0].choice[0] = (run_tune_value){1, 0, "loss"};
    assert_int_not_equal(run_tune_space_check(&sp, "tand", &e), 0);
}

static char out[65536], err[65536];

static void test_tune_val_loss_study(void **st) {
    (void)st;
    char *root = test_tmpdir(), d[4200], p[4300];
    if (test_run(out, sizeof out, err, sizeof err, "record --levels 0-3 --states 24 --out %s/tr.cbd --quiet", root) ||
        test_run(out, sizeof out, err, sizeof err, "record --levels 100-101 --states 24 --out %s/va.cbd --quiet", root))
        fail_msg("record: %s", err);
    snprintf(p, sizeof p, "%s/space.json", root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("{\"version\": 1, \"methods\": {\"tand\": {\"lr\": {\"log\": [1e-4, 1e-2]}, \"beta1\": {\"uniform\": [0, 0.95]}, "
          "\"wd\": {\"log\": [1e-5, 0.1], \"or_zero\": true}, \"tand-beta\": {\"uniform\": [0.5, 0.99]}, "
          "\"tau\": {\"uniform\": [0, 1]}, \"batch-frames\": {\"choice\": [4, 8]}, "
          "\"sampling\": {\"choice\": [\"epoch\"]}}}}\n", f);
    fclose(f);
    snprintf(d, sizeof d, "%s/study", root);
    int rc = test_run(out, sizeof out, err, sizeof err,
                      "tune %s/tr.cbd --val %s/va.cbd -o %s --method tand --trials 3 --epochs 2 --threads 1 "
                      "--objective val_loss --space %s -- --net nature --channels 4,4,4 --hidden 16 --batch-levels 1 "
                      "--wd-mode decoupled",
                      root, root, d, p);
    if (rc) fail_msg("tune: %s", err);
    printf("%s", out);
    assert_non_null(strstr(out, "val loss"));
    run_tune_result r;
    cb_err e = {0};
    snprintf(p, sizeof p, "%s/trials.csv", d);
    assert_int_equal(run_tune_trials_read(&r, p, &e), 0);
    assert_int_equal(r.objective, RUN_TUNE_VAL_LOSS);
    assert_int_equal(r.ntrials, 3);
    int best = run_tune_best(&r);
    assert_true(best >= 0);
    for (int i = 0; i < r.ntrials; i++) {
        const run_tune_trial *t = &r.trials[i];
        if (t->state == RUN_TUNE_FAIL) continue; /* complete and pruned: value = the best epoch's */
        char run[8400];
        snprintf(run, sizeof run, "%s/%s", d, t->run);
        run_metrics mt;
        memset(&mt, 0, sizeof mt);
        assert_int_equal(run_metrics_read(&mt, run, &e), 0);
        double lo = INFINITY;
        for (int k = 0; k < mt.nrows; k++) lo = fmin(lo, mt.rows[k].val_loss);
        assert_true(fabs(t->value - lo) < 1e-6); /* trials.csv: %.6f */
        assert_true(t->value >= r.trials[best].value);
        run_metrics_free(&mt);
        run_config c;
        assert_int_equal(run_config_read(&c, run, &e), 0);
        assert_int_equal(c.best_by, RUN_BEST_LOSS);
        assert_int_equal(c.sampling, RUN_SAMPLING_EPOCH);
        assert_int_equal(c.batch_levels, 1);
        assert_int_equal(c.wd_mode, RUN_WD_DECOUPLED);
        assert_true(c.beta1 >= 0 && c.beta1 <= 0.95);
    }
    run_tune_result_free(&r);
    snprintf(p, sizeof p, "%s/best.json", d);
    size_t n;
    char *bj = slurp(d, "best.json", &n);
    printf("%s", bj);
    assert_non_null(strstr(bj, "\"objective\": \"val_loss\""));
    assert_non_null(strstr(bj, "\"best-by\": \"loss\""));
    assert_non_null(strstr(bj, "\"beta1\": "));
    free(bj);
    char *args = NULL;
    assert_int_equal(run_tune_best_args(&args, p, &e), 0);
    assert_null(strstr(args, "objective"));
    assert_non_null(strstr(args, "--best-by loss"));
    free(args);
    char *tj = slurp(d, "tune.json", &n);
    assert_non_null(strstr(tj, "\"objective\": \"val_loss\""));
    free(tj);
    /* the same folder with the other objective: another study, refused */
    rc = test_run(out, sizeof out, err, sizeof err,
                  "tune %s/tr.cbd --val %s/va.cbd -o %s --method tand --trials 3 --epochs 2 --threads 1 "
                  "--objective val_acc --space %s/space.json -- --net nature --channels 4,4,4 --hidden 16 "
                  "--batch-levels 1 --wd-mode decoupled --best-by loss",
                  root, root, d, root);
    assert_int_not_equal(rc, 0);
    printf("%s", err);
    assert_non_null(strstr(err, "holds another study"));
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beta1_adam_step),
        cmocka_unit_test(test_beta1_default_bits),
        cmocka_unit_test(test_epoch_plan),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_epoch_run_and_resume),
        cmocka_unit_test(test_best_by),
        cmocka_unit_test(test_tune_best_by_objective),
        cmocka_unit_test(test_tune_val_loss_study),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
