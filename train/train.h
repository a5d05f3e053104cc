/* train.h - level-wise training: batches of L levels x B frames, one
 * gradient per level, the combiners (mean, AND-mask, SAND-mask, geometric
 * mean; rules in ../shared/DESIGN.md), Adam, and the training loop that
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

typedef struct {
    model_config net;
    train_combine_opts comb;
    int epochs;
    double lr;
    int lr_decay;          /* 1: x0.1 at 3/4 of the steps; 0: constant */
    double wd;
    int wd_mode;
    int batch_levels, batch_frames;
    uint64_t seed;
    int threads;           /* data loading */
    const char *run;       /* output folder */
    int resume;            /* continue from run/latest.ckpt */
    int quiet;
    const char *config_extra; /* extra JSON members for config.json (e.g. dataset paths), may be NULL */
    int64_t max_steps;     /* stop after this many steps in total (0: no limit; for tests and benchmarks) */
} train_opts;

typedef struct {
    int epochs_done;
    int64_t steps;
    double train_loss, train_acc, val_loss, val_acc, best_val_acc;
    double seconds, samples_per_s;
} train_result;

/* Trains on the training levels (in memory), validating on val (may be
 * n_val = 0) after every epoch. Writes the run folder. */
int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e);

/* Accuracy and loss of a model on levels (batched forward). */
int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e);

#endif
