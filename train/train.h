/* train.h - level-wise training: batches of L levels x B frames, one
 * gradient per level, the combiners (mean, AND-mask, SAND-mask, geometric
 * mean; rules in docs/DESIGN.md), Adam, and the training loop that
 * writes a run folder (config.json, metrics.csv/.jsonl, checkpoints). */
#ifndef COINBC_TRAIN_H
#define COINBC_TRAIN_H

#include <stdint.h>

#include "common/common.h"
#include "dataset/dataset.h"
#include "model/model.h"

enum { TRAIN_MEAN = 0, TRAIN_AND = 1, TRAIN_SAND = 2, TRAIN_GEOMEAN = 3 };
enum { TRAIN_WD_L2 = 0, TRAIN_WD_DECOUPLED = 1 };

const char *train_method_name(int method);
int train_method_parse(const char *s, int *method);

typedef struct {
    int method;
    double tau;      /* agreement threshold in [0, 1]; 0 = plain averaging */
    double sand_k;   /* SAND-mask steepness */
    int rescale;     /* rescale by 1 / (fraction of the tensor's mask that is on) */
    int threads;     /* threads to combine on (0 or 1: the caller's); results do not depend on it */
} train_combine_opts;

/* Combines per-level gradients grads (L x P) into out (P), tensor by tensor
 * (tensors: nt entries of offset and size). density[t] receives the share of
 * tensor t's mask that is on (mean mask for SAND; 1 for mean). Refuses
 * non-finite input with CB_ERANGE naming the level and tensor. */
int train_combine(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors, int nt,
                  const train_combine_opts *o, cb_err *e);

/* Adam (beta1 0.9, beta2 0.999, eps 1e-8), step t >= 1. Weight decay wd:
 * TRAIN_WD_L2 adds wd * w to the gradient (after the mask, unmasked),
 * TRAIN_WD_DECOUPLED subtracts lr * wd * w from the weights. g is modified. */
void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode);

/* One epoch's figures, passed to train_opts.on_epoch and written as a row of
 * metrics.csv / metrics.jsonl. */
typedef struct {
    int64_t epoch, step;        /* epochs completed (1-based), optimizer steps so far */
    double train_loss, train_acc; /* over the epoch's training batches (before each step) */
    double val_loss, val_acc;   /* NAN without validation levels */
    double lr, seconds, samples_per_s;
    int best;                   /* this epoch set a new best validation accuracy */
    int nlayers;                /* weight tensors, in model order */
    const char *layer[MODEL_MAX_TENSORS];
    double mask_density[MODEL_MAX_TENSORS]; /* mean over the epoch's steps */
} train_epoch_stats;

typedef struct {
    model_config net;
    train_combine_opts comb;
    int epochs;
    double lr;
    int lr_decay;          /* 1: x0.1 from 3/4 of the total steps on; 0: constant */
    double wd;
    int wd_mode;
    int batch_levels, batch_frames;
    uint64_t seed;
    int threads;           /* forward/backward threads (0: all cores); results do not depend on it */
    const char *run;       /* output folder */
    int resume;            /* continue from run/latest.ckpt (else run/ must not hold a checkpoint) */
    int quiet;             /* no progress bar */
    const char *config_extra; /* extra JSON members for config.json (e.g. dataset paths), may be NULL */
    int64_t max_steps;     /* stop after this many steps in total (0: no limit); the run can be resumed */
    void (*on_epoch)(void *ctx, const train_epoch_stats *s); /* after each epoch's files are written; may be NULL */
    void *ctx;
} train_opts;

typedef struct {
    int epochs_done;
    int64_t steps;
    double train_loss, train_acc, val_loss, val_acc, best_val_acc;
    double seconds, samples_per_s; /* of this call (not counting earlier runs that were resumed) */
} train_result;

/* Trains on the training levels (in memory), validating on val (may be
 * n_val = 0) after every epoch, and writes the run folder o->run:
 *   config.json    every option, the network, steps per epoch, o->config_extra
 *   metrics.csv    one row per epoch (train_epoch_stats), mask density per layer
 *   metrics.jsonl  the same as JSON lines
 *   latest.ckpt    after every epoch (and when max_steps stops the run)
 *   best.ckpt      the epoch with the best validation accuracy (every epoch without validation)
 * Each step samples L distinct training levels and B frames of each (with
 * replacement) from the run's RNG; an epoch is floor(total frames / (L*B))
 * steps. Same data, options and seed give bit-identical checkpoints for any
 * thread count, and --resume continues exactly where latest.ckpt stopped. A
 * non-finite loss or gradient stops the run with CB_ERANGE; the files keep
 * the last good epoch. */
int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e);

/* Accuracy and mean loss of a model on levels (batched forward; uses the
 * model's current batch buffers, or sets an inference batch of 256). */
int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e);

#endif
