/* bench_trial.c - coinbc bench trial: one trial of the paper's protocol
 * (train_run on recorded data, the run folder in a temporary place), timed
 * by phase: loading the data, each epoch's wall time and the part of it
 * that is neither the training steps nor validation (commits, metrics),
 * the validation forward alone and a training step alone on the same
 * model shape; and the hours a study of T trials would take when trials
 * stop after the pruner's expected epochs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "train/train.h"

typedef struct {
    double t_prev;          /* end of the previous epoch (or the start of training) */
    int n;
    double wall[256], inside[256]; /* wall seconds per epoch; train_epoch_stats.seconds (steps + validation) */
    double val_acc[256];
} trial_clock;

static void on_epoch(void *ctx, const train_epoch_stats *s) {
    trial_clock *c = ctx;
    double now = cb_now();
    if (c->n < 256) {
        c->wall[c->n] = now - c->t_prev;
        c->inside[c->n] = s->seconds;
        c->val_acc[c->n] = s->val_acc;
        c->n++;
    }
    c->t_prev = now;
}

/* Expected epochs a trial runs under successive halving (the driver's pruner:
 * rungs at min_resource * eta^k epochs, a 1/eta share going on at each), at
 * the ideal rate: the sum over epochs of the share of trials still running. */
static double halving_epochs(int full, int eta) {
    double e = 0, share = 1;
    int rung = 1;
    for (int ep = 1; ep <= full; ep++) {
        e += share;
        if (ep == rung && ep < full) share /= eta, rung *= eta;
    }
    return e;
}

static int load_all(const char *path, ds_level **out, int *n, int64_t *frames, int threads, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, path, e);
    if (rc) return rc;
    *n = ds_nlevels(r);
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)(*n ? *n : 1));
    *out = calloc((size_t)(*n ? *n : 1), sizeof(ds_level));
    if (!seeds || !*out) {
        free(seeds), free(*out), ds_close(r);
        *out = NULL; /* the caller frees what it is given */
        return cb_fail(e, CB_ENOMEM, "%s: out of memory for %d levels", path, *n);
    }
    for (int i = 0; i < *n; i++) seeds[i] = ds_level_seed(r, i);
    rc = *n ? ds_load(r, seeds, *n, *out, threads, e) : 0;
    *frames = 0;
    for (int i = 0; !rc && i < *n; i++) *frames += (*out)[i].n;
    free(seeds);
    ds_close(r);
    return rc;
}

static void free_levels(ds_level *l, int n) {
    for (int i = 0; l && i < n; i++) ds_level_free(&l[i]);
    free(l);
}

/* seconds per training step on this model shape: frames of the first level, the trial's method */
static double step_seconds(const model_net_desc *cfg, const train_opts *o, const ds_level *lv, int nlv, int threads,
                           double *val_s, const ds_level *val, int n_val, cb_err *e) {
    model m;
    if (model_init(&m, cfg, e)) return -1;
    model_set_threads(&m, threads);
    cb_rng r;
    cb_rng_seed(&r, 1);
    model_init_params(&m, &r);
    int L = o->batch_levels, B = o->batch_frames, N = L * B;
    uint8_t *frames = malloc((size_t)N * CB_FRAME_BYTES), *labels = malloc((size_t)N);
    float *grads = malloc(sizeof(float) * m.nparams * (size_t)L), *g = malloc(sizeof(float) * m.nparams), dens[MODEL_MAX_TENSORS];
    double dt = -1;
    if (frames && labels && grads && g && model_set_batch_levels(&m, L, B, e) == 0) {
        for (int s = 0; s < N; s++) { /* frame s of level s / B, as a step samples them */
            const ds_level *l = &lv[(s / B) % nlv];
            int64_t k = (int64_t)(s % B) * 7 % l->n;
            memcpy(frames + (size_t)s * CB_FRAME_BYTES, l->frames + (size_t)k * CB_FRAME_BYTES, CB_FRAME_BYTES);
            labels[s] = l->label[k];
        }
        train_combine_opts co = o->comb;
        float *sign = co.method == TRAIN_TAND ? calloc(m.nparams, sizeof(float)) : NULL; /* tand's sign moment */
        int steps = 10;
        double t0 = 0;
        for (int s = -1; s < steps && (sign || co.method != TRAIN_TAND); s++) {
            if (s == 0) t0 = cb_now();
            model_forward_u8(&m, frames, N, NULL);
            model_backward(&m, labels, L, B, grads);
            train_combine(g, dens, grads, L, m.nparams, m.tensors, m.ntensors, &co, e);
            if (co.method == TRAIN_TAND)
                train_tand_step(&m, sign, dens, g, 1e-6, s + 2, 0, TRAIN_WD_L2, co.tau, co.tand_beta ? co.tand_beta : 0.9);
            else
                train_adam_step(&m, g, 1e-6, s + 2, 0, TRAIN_WD_L2);
        }
        dt = (cb_now() - t0) / steps;
        free(sign);
        /* the validation forward alone, on the training batch's buffers as the loop runs it */
        double loss, acc, t1 = cb_now();
        *val_s = n_val && train_evaluate(&m, val, n_val, &loss, &acc, e) == 0 ? cb_now() - t1 : 0;
    }
    free(frames), free(labels), free(grads), free(g);
    model_free(&m);
    return dt;
}

/* bench trial's options, as parsed and checked, and train_run's from them */
typedef struct {
    const char *data, *val_data, *net, *method;
    int epochs, L, B, threads, trials, full, eta;
    double tau, expected;
    train_opts o;
} trial_args;

/* the recorded levels and the seconds their loading took */
typedef struct {
    ds_level *tr, *va;
    int ntr, nva;
    int64_t ftr, fva; /* frames */
    double t_load;
} trial_data;

/* what the trial measured, in seconds */
typedef struct {
    trial_clock clk;      /* train_run's epochs */
    double t_train;       /* train_run as a whole */
    double step_s, val_s; /* a step alone, the validation forward alone */
} trial_times;

/* the options into *a: -1 to go on, else the exit status (0 after --help) */
static int parse_trial_args(int argc, char **argv, trial_args *a) {
    *a = (trial_args){.net = "nature", .method = "tand", .epochs = 1, .L = 1, .B = 64, .threads = cb_default_threads(),
                      .trials = 128, .full = 30, .eta = 3, .tau = 0.8, .expected = -1};
    cb_opt opts[] = {
        {"data", CB_OPT_STR, &a->data, "DATA", "training dataset (recorded with coinbc record; required)", 0},
        {"val", CB_OPT_STR, &a->val_data, "DATA2", "validation dataset (default: none)", 0},
        {"epochs", CB_OPT_INT, &a->epochs, "N", "epochs to run and time (default 1)", 0},
        {"net", CB_OPT_STR, &a->net, "NET", "nature (default) or impala", 0},
        {"method", CB_OPT_STR, &a->method, "M", "training method (default tand)", 0},
        {"tau", CB_OPT_F64, &a->tau, "T", "agreement threshold (default 0.8)", 0},
        {"batch-levels", CB_OPT_INT, &a->L, "L", "levels per batch (default 1)", 0},
        {"batch-frames", CB_OPT_INT, &a->B, "B", "frames per level (default 64)", 0},
        {"threads", CB_OPT_INT, &a->threads, "T", "threads (default: all cores)", 0},
        {"trials", CB_OPT_INT, &a->trials, "T", "trials of the projected study (default 128)", 0},
        {"full-epochs", CB_OPT_INT, &a->full, "E", "epochs of a trial that is not pruned (default 30)", 0},
        {"expected-epochs", CB_OPT_F64, &a->expected, "X",
         "epochs a trial runs on average (default: successive halving's, rungs at 1, 3, 9, ...)", 0},
    };
    cb_cmd_info info = {"bench trial",
                         "One trial of the paper's protocol timed by phase: data loading, each epoch (the training\n"
                         "steps, validation, and the rest: commits, metrics), a step and the validation forward alone;\n"
                         "then the hours of a study of T trials. Lines starting 'result ' are KEY=VALUE for scripts.",
                         "coinbc bench trial --data DATA [--val DATA2] [--epochs N] [--trials T] [--net nature]\n"
                         "                   [--method tand] [--batch-levels 1] [--batch-frames 64]",
                         "example: coinbc record --levels 0-63 --mode hard --states 1000 --out train.cbd\n"
                         "         coinbc record --levels 100000-100199 --mode hard --states 100 --out val.cbd\n"
                         "         coinbc bench trial --data train.cbd --val val.cbd --epochs 2"};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    if (!a->data) return bench_error("bench trial", "--data is required (a dataset recorded with coinbc record)"), 2;
    if (a->epochs < 1 || a->epochs > 256 || a->L < 1 || a->B < 1 || a->threads < 1 || a->trials < 1 || a->full < 1)
        return bench_error("bench trial", "--epochs (1..256), sizes, --trials and --full-epochs must be positive"), 2;
    return -1;
}

/* a->o, train_run's options (no run folder yet): -1, or 2 after a message
 * for an unknown --net or --method */
static int trial_train_opts(trial_args *a) {
    train_opts *o = &a->o;
    memset(o, 0, sizeof *o);
    if (model_net_default(&o->net, a->net)) return bench_error("bench trial", "unknown --net '%s'", a->net), 2;
    if (train_method_parse(a->method, &o->comb.method))
        return bench_error("bench trial", "unknown --method '%s'", a->method), 2;
    o->comb.tau = a->tau, o->comb.sand_k = 1, o->comb.rescale = 1, o->comb.threads = a->threads;
    o->epochs = a->epochs, o->lr = 5e-4, o->lr_decay = 1, o->wd_mode = TRAIN_WD_L2;
    o->batch_levels = a->L, o->batch_frames = a->B, o->threads = a->threads, o->quiet = 1;
    return -1;
}

/* both datasets, timed together: -1, or the exit status after a message */
static int load_trial_data(const trial_args *a, trial_data *d, cb_err *e) {
    *d = (trial_data){0};
    double t0 = cb_now();
    if (load_all(a->data, &d->tr, &d->ntr, &d->ftr, a->threads, e) ||
        (a->val_data && load_all(a->val_data, &d->va, &d->nva, &d->fva, a->threads, e))) {
        free_levels(d->tr, d->ntr), free_levels(d->va, d->nva);
        return bench_fail("bench trial", e);
    }
    d->t_load = cb_now() - t0;
    if (d->ntr < a->L) {
        free_levels(d->tr, d->ntr), free_levels(d->va, d->nva);
        return bench_error("bench trial", "%s has %d levels, fewer than --batch-levels %d", a->data, d->ntr, a->L), 2;
    }
    return -1;
}

/* train_run in a temporary folder, removed after, its epochs clocked by
 * on_epoch: -1, or the exit status after a message */
static int run_trial(const trial_args *a, const trial_data *d, trial_times *t, cb_err *e) {
    char dir[] = "/tmp/coinbc_bench_trial_XXXXXX";
    if (!mkdtemp(dir)) return bench_error("bench trial", "cannot make a temporary folder under /tmp");
    char run[sizeof dir + 8];
    snprintf(run, sizeof run, "%s/run", dir);
    train_opts o = a->o;
    o.run = run;
    o.on_epoch = on_epoch, o.ctx = &t->clk;
    train_result res;
    t->clk.t_prev = cb_now();
    double t1 = t->clk.t_prev;
    int rc = train_run(&o, d->tr, d->ntr, d->va, d->nva, &res, e);
    t->t_train = cb_now() - t1;
    cb_remove_tree(dir);
    return rc ? bench_fail("bench trial", e) : -1;
}

/* the trial's phases, the projected study and the result line */
static void print_trial(const trial_args *a, const trial_data *d, const trial_times *t) {
    const trial_clock *clk = &t->clk;
    int L = a->L, B = a->B, threads = a->threads, trials = a->trials, full = a->full;
    double step_s = t->step_s, val_s = t->val_s, t_train = t->t_train;
    int64_t steps_per_epoch = d->ftr / ((int64_t)L * B);
    printf("trial: %s, %s, %d levels x %d frames per step, %d thread%s; %d training levels (%lld frames, %lld steps an "
           "epoch), %d validation levels (%lld frames)\n",
           a->net, a->method, L, B, threads, threads == 1 ? "" : "s", d->ntr, (long long)d->ftr, (long long)steps_per_epoch,
           d->nva, (long long)d->fva);
    printf("  data load (train and validation, %d threads)  %8.2f s\n", threads, d->t_load);
    double wall = 0, inside = 0;
    for (int k = 0; k < clk->n; k++) {
        printf("  epoch %-3d %8.2f s wall: steps and validation %.2f s, commit and metrics %.2f s; validation accuracy %.4f\n",
               k + 1, clk->wall[k], clk->inside[k], clk->wall[k] - clk->inside[k], clk->val_acc[k]);
        wall += clk->wall[k], inside += clk->inside[k];
    }
    double ep_wall = clk->n ? wall / clk->n : 0, ep_inside = clk->n ? inside / clk->n : 0;
    double ideal = step_s * (double)steps_per_epoch + val_s;
    printf("  a step alone %.4f s (%.0f samples/s) x %lld steps = %.2f s; the validation forward alone %.2f s\n", step_s,
           step_s > 0 ? L * B / step_s : 0, (long long)steps_per_epoch, step_s * (double)steps_per_epoch, val_s);
    printf("  an epoch takes %.3fx its steps plus the validation forward (%.2f s of %.2f s is neither); epoch 1 includes "
           "train_run's setup, %.2f s followed the last epoch\n",
           ideal > 0 ? ep_wall / ideal : 0, ep_wall - ideal, ep_wall, t_train - wall);
    double expected = a->expected < 0 ? halving_epochs(full, a->eta) : a->expected;
    double per_trial = d->t_load + (t_train - wall) + expected * ep_wall;
    double per_full = d->t_load + (t_train - wall) + full * ep_wall;
    printf("study of %d trials: %.2f expected epochs a trial (successive halving, eta %d, %d epochs in full): %.1f min a "
           "trial, %.2f h; without pruning %.2f h (one trial at a time, not counting process start)\n",
           trials, expected, a->eta, full, per_trial / 60, trials * per_trial / 3600, trials * per_full / 3600);
    printf("result trial net=%s method=%s levels=%d frames=%d threads=%d load_s=%.3f epoch_s=%.3f steps_val_s=%.3f "
           "commit_s=%.3f step_s=%.5f val_forward_s=%.3f overhead=%.3f expected_epochs=%.3f study_hours=%.3f "
           "study_hours_unpruned=%.3f\n",
           a->net, a->method, L, B, threads, d->t_load, ep_wall, ep_inside, ep_wall - ep_inside, step_s, val_s,
           ideal > 0 ? ep_wall / ideal : 0, expected, trials * per_trial / 3600, trials * per_full / 3600);
}

int bench_trial(int argc, char **argv) {
    trial_args a;
    int rc = parse_trial_args(argc, argv, &a);
    if (rc < 0) rc = trial_train_opts(&a);
    if (rc >= 0) return rc;
    cb_err e = {0};
    bench_print_machine();
    trial_data d;
    if ((rc = load_trial_data(&a, &d, &e)) >= 0) return rc;
    trial_times t = {0};
    if ((rc = run_trial(&a, &d, &t, &e)) < 0) {
        t.step_s = step_seconds(&a.o.net, &a.o, d.tr, d.ntr, a.threads, &t.val_s, d.va, d.nva, &e);
        print_trial(&a, &d, &t);
        rc = 0;
    }
    free_levels(d.tr, d.ntr), free_levels(d.va, d.nva);
    return rc;
}
