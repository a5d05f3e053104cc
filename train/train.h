/* train.h - level-wise training: batches of L levels x B frames, one
 * gradient per level, the combiners (mean, AND-mask, SAND-mask, geometric
 * mean) and temporal AND-mask Adam (tand; every rule in docs/METHODS.md),
 * Adam, and the training loop that
 * writes a run folder (config.json, metrics.csv/.jsonl, checkpoints). */
#ifndef COINBC_TRAIN_H
#define COINBC_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "common/common.h"
#include "dataset/dataset.h"
#include "model/model.h"
#include "run/run.h"

/* The methods, numbered as run records name them (run_method_name). */
enum {
    TRAIN_MEAN = RUN_METHOD_MEAN,
    TRAIN_AND = RUN_METHOD_AND,
    TRAIN_SAND = RUN_METHOD_SAND,
    TRAIN_GEOMEAN = RUN_METHOD_GEOMEAN,
    TRAIN_TAND = RUN_METHOD_TAND,
    TRAIN_NMETHODS = RUN_NMETHODS
};
enum { TRAIN_WD_L2 = RUN_WD_L2, TRAIN_WD_DECOUPLED = RUN_WD_DECOUPLED };
enum { TRAIN_SAMPLING_REPLACE = RUN_SAMPLING_REPLACE, TRAIN_SAMPLING_EPOCH = RUN_SAMPLING_EPOCH };
enum { TRAIN_BEST_ACC = RUN_BEST_ACC, TRAIN_BEST_LOSS = RUN_BEST_LOSS };
#define TRAIN_BETA1_DEFAULT RUN_BETA1_DEFAULT

/* The method table is run/run.h's RUN_METHOD_TABLE: one line per method
 * (name, the options it reads, whether its reduction splits over ranks, its
 * optimizer state, its combine rule and step, help); train/combine.c and
 * train/adam.c hold the functions it names. A method number outside it is
 * an error everywhere, never a default. */
typedef run_method_info train_method_info;

const train_method_info *train_method(int method); /* NULL for an unknown method */
const char *train_method_name(int method);         /* NULL for an unknown method */
int train_method_parse(const char *s, int *method); /* CB_EARG for an unknown name */

typedef struct {
    int method;
    double tau;      /* agreement threshold in [0, 1]; 0 = plain averaging */
    double sand_k;   /* SAND-mask steepness */
    double tand_beta; /* tand's sign-moment decay b in (0, 1); 0: the default RUN_TAND_BETA_DEFAULT (0.9) */
    int rescale;     /* rescale by 1 / (fraction of the tensor's mask that is on); not for mean and tand */
    int threads;     /* threads to combine on (0 or 1: the caller's); results do not depend on it */
} train_combine_opts;

/* Combines per-level gradients grads (L x P) into out (P), tensor by tensor
 * (tensors: nt entries of offset and size). density[t] receives the share of
 * tensor t's mask that is on (mean mask for SAND; 1 for mean and for tand,
 * whose combine is the mean and whose mask is train_tand_step's). Refuses
 * non-finite input with CB_ERANGE naming the level and tensor. */
int train_combine(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors, int nt,
                  const train_combine_opts *o, cb_err *e);
/* The same where model_backward_sums reduced one tensor over the levels:
 * tensor ls->tensor is read from ls->sum and ls->ssum (grads holds nothing
 * there), the rest from grads; out, density and the refusal of a
 * non-finite gradient are train_combine's on the per-level gradients, bit
 * for bit. Only for methods whose reduction splits (mean, tand, AND: see
 * train_combine_takes_sums) and L >= 2; ls NULL is train_combine. */
int train_combine_sums(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors,
                       int nt, const train_combine_opts *o, const model_level_sums *ls, cb_err *e);
/* whether method m can combine from level sums (its reduction splits) */
int train_combine_takes_sums(int m);

/* The same under mpirun (cb_dist_size() > 1), where this rank holds levels
 * [l0, l0 + nl) of the L at grads + l0 * P (grads has room for L x P).
 * Every rank calls it and gets the same out and density, bit-identical to
 * train_combine on all L levels in one process: mean, tand and AND pass the
 * per-parameter sums through the ranks in level order (cb_dist_chain_f64)
 * and AND's sign counts go through MPI_Allreduce as int32; SAND and geomean
 * allgather the level gradients. sum (P doubles) and cnt (P int32) are
 * workspace. docs/MPI.md has the design and its cost. */
int train_combine_dist(float *out, float *density, float *grads, int L, int l0, int nl, size_t P,
                       const model_tensor *tensors, int nt, const train_combine_opts *o, double *sum, int32_t *cnt,
                       cb_err *e);

/* The agreement histogram of one step (agreement.json, run/run.h): count[t]
 * receives, for tensor t, how many of its parameters fall in each bin of
 * |mean over the L levels of sign(g_l)| (grads: L x P). */
void train_agreement(int64_t (*count)[RUN_AGREE_BINS], const float *grads, int L, size_t P, const model_tensor *tensors,
                     int nt);
/* The same from the per-parameter sums of sign(g_l) over the L levels
 * (under mpirun: summed over the ranks with MPI_Allreduce, exact). */
void train_agreement_sums(int64_t (*count)[RUN_AGREE_BINS], const int32_t *ssum, int L, const model_tensor *tensors,
                          int nt);

/* Adam (first-moment decay beta1 in [0, 1), beta2 0.999, eps 1e-8), step
 * t >= 1: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2 (both
 * float32), w -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps).
 * Weight decay wd: TRAIN_WD_L2 adds wd * w to the gradient (after the mask,
 * unmasked), TRAIN_WD_DECOUPLED subtracts lr * wd * w from the weights. g is
 * modified. train_adam_step is the same with beta1 TRAIN_BETA1_DEFAULT (0.9). */
void train_adam_step_b1(model *m, float *g, double lr, double beta1, int64_t t, double wd, int wd_mode);
void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode);

/* Temporal AND-mask Adam (tand), step t >= 1, on g = the plain mean of the
 * level gradients. Per parameter: the sign moment s_t = b s_{t-1} + (1 - b)
 * sign(g_t) (sign(0) = 0), kept bias-corrected in sign (nparams floats, the
 * method's optimizer state: train_run keeps it and its checkpoints hold it) as
 * s^_t = s_t / (1 - b^t) (updated as s^_{t-1} + (sign(g_t) - s^_{t-1}) k_t,
 * k_t = (1 - b) / (1 - b^t), so s^_1 = sign(g_1) and a run of one sign stays
 * exactly +-1); the mask |s^_t| >= tau (the stored float, compared in
 * double); Adam's moments updated with g_t (plus wd * w under TRAIN_WD_L2);
 * the step lr * mask * m_hat / (sqrt(v_hat) + eps). The sign moment sees g_t
 * without the L2 term; under L2 the decay is inside Adam's step and so masked
 * with it; TRAIN_WD_DECOUPLED's lr * wd * w is applied to every parameter,
 * unmasked. density (may be NULL) receives each tensor's share of the mask
 * that is on. Results do not depend on m->threads. */
void train_tand_step(model *m, float *sign, float *density, const float *g, double lr, int64_t t, double wd, int wd_mode,
                     double tau, double beta);
/* The same with Adam's first-moment decay beta1 (train_tand_step: 0.9). */
void train_tand_step_b1(model *m, float *sign, float *density, const float *g, double lr, double beta1, int64_t t,
                        double wd, int wd_mode, double tau, double beta);

/* The batches of one epoch under --sampling epoch (train/epoch.c): each
 * level's frames in a shuffled order, cut into floor(n / B) chunks of B (the
 * n mod B frames at the end of that order sit the epoch out: a different set
 * each epoch); the chunks of all levels shuffled and dealt L to a step, a
 * chunk whose level the step already holds trading places with the first
 * later chunk of a level it does not (when no such chunk is left, the step
 * keeps the repeat); the last (chunks mod L) chunks sit the epoch out. So
 * steps = floor(sum_i floor(n_i / B) / L) (train_epoch_steps), and with
 * L = 1 every chunk is one step. Every draw comes from the RNG stream
 * cb_rng_seed2(seed, stream of the epoch), so the plan is a function of
 * (frame counts, L, B, seed, epoch) alone. */
typedef struct {
    int L, B;
    int64_t steps;
    int32_t *level;  /* steps x L: the training level (index into the levels) of each slot */
    uint32_t *frame; /* steps x L x B: the frames of each slot, indices within its level */
} train_epoch_plan;

int64_t train_epoch_steps(const int64_t *nframes, int n_levels, int L, int B);
/* nframes: the frame count of each level. CB_EARG when no step fits. */
int train_epoch_plan_make(train_epoch_plan *p, const int64_t *nframes, int n_levels, int L, int B, uint64_t seed,
                          int64_t epoch, cb_err *e);
void train_epoch_plan_free(train_epoch_plan *p);

/* One epoch's figures, passed to train_opts.on_epoch and written as a row of
 * metrics.csv / metrics.jsonl. */
typedef struct {
    int64_t epoch, step;        /* epochs completed (1-based), optimizer steps so far */
    double train_loss, train_acc; /* over the epoch's training batches (before each step) */
    double val_loss, val_acc;   /* NAN without validation levels */
    double lr, seconds, samples_per_s;
    int best;                   /* this epoch set a new best validation figure (--best-by) */
    int nlayers;                /* weight tensors, in model order */
    const char *layer[MODEL_MAX_TENSORS];
    double mask_density[MODEL_MAX_TENSORS]; /* mean over the epoch's steps */
} train_epoch_stats;

typedef struct {
    model_net_desc net;
    train_combine_opts comb;
    int epochs;
    double lr;
    double beta1;          /* Adam's first-moment decay in [0, 1), used when beta1_set; else TRAIN_BETA1_DEFAULT */
    int beta1_set;
    int sampling;          /* TRAIN_SAMPLING_* (0: replace) */
    int best_by;           /* TRAIN_BEST_* (0: acc): the validation figure that picks best.ckpt; ties keep the
                              earlier epoch */
    int lr_decay;          /* 1: x0.1 from 3/4 of the total steps on; 0: constant */
    double wd;
    int wd_mode;
    int batch_levels, batch_frames;
    uint64_t seed;
    int threads;           /* forward/backward threads, 0..64 (0: all cores); results do not depend on it */
    const char *run;       /* output folder */
    int resume;            /* continue from run/latest.ckpt (else run/ must not hold a checkpoint). The options and
                              data must be those of run/config.json (read strictly; every difference is CB_EARG,
                              named with its old and new value) but for epochs and max_steps (and threads, quiet);
                              the config.json committed is the run's own with those two updated. A run that has
                              trained o->epochs already, or is at o->max_steps, returns at once and writes nothing;
                              one that trained more epochs is CB_EARG */
    int quiet;             /* no progress bar */
    int64_t max_steps;     /* stop after this many steps in total (0: no limit; negative: CB_EARG); the run can be
                              resumed */
    /* Checked between steps (may be NULL): once set (e.g. by a SIGTERM
     * handler), the loop ends after the current step, commits a mid-epoch
     * latest.ckpt as max_steps does, and returns 0 with res->stopped set. */
    const volatile sig_atomic_t *stop;
    /* Data provenance for config.json (coinbc train fills it; has_data 0 for none). */
    int has_data;
    const char *data, *val_data;
    uint32_t data_manifest_crc, val_manifest_crc;
    /* Under mpirun: training levels passed with frames NULL (seed and n from
     * the manifest) are read from this dataset when this rank first needs
     * them, so a rank reads only the shards of the levels it trains on. */
    ds_reader *reader;
    void (*on_epoch)(void *ctx, const train_epoch_stats *s); /* after each epoch's files are written; may be NULL */
    /* --sampling epoch only, may be NULL (a test's view of the batches): called for each slot of each step
     * (1-based) this process fills, with the level's index and its B frame indices */
    void (*on_frames)(void *ctx, int64_t step, int level, const uint32_t *frames, int B);
    void *ctx;
} train_opts;

typedef struct {
    int epochs_done;
    int64_t steps;
    int stopped;          /* o->stop ended the run (latest.ckpt holds the step reached) */
    int committed;        /* latest.ckpt exists (this call or an earlier one committed an epoch or a stop) */
    double train_loss, train_acc, val_loss, val_acc, best_val_acc; /* val_*: of the last epoch this call
                                                                        validated, NAN when none; best: -1 before any
                                                                        (NAN under --best-by loss) */
    double best_val_loss; /* --best-by loss: the best validation loss so far (NAN before any, and under acc) */
    double seconds, samples_per_s; /* of this call (not counting earlier runs that were resumed) */
    int64_t new_steps;    /* steps this call ran (0: a resume that had nothing to do) */
} train_result;

/* Trains on the training levels (in memory), validating on val (may be
 * n_val = 0) after every epoch, and writes the run folder o->run through
 * run/ (formats in docs/FORMATS.md):
 *   config.json    every option, the network, steps per epoch, data provenance
 *   metrics.csv    one row per epoch (train_epoch_stats), mask density per layer
 *   metrics.jsonl  the same as JSON lines
 *   latest.ckpt    after every epoch (and when max_steps or stop ends the run)
 *   best.ckpt      the epoch with the best validation accuracy, or the lowest validation loss under
 *                  best_by TRAIN_BEST_LOSS (a tie keeps the earlier epoch; every epoch without validation)
 * An epoch's files are committed as one unit (run_commit); nothing is written
 * before the first commit, and at the start a half-done commit is finished
 * and stale temporary files are removed (run_folder_recover).
 * Under sampling TRAIN_SAMPLING_REPLACE each step samples L distinct training
 * levels and B frames of each (with replacement) from the run's RNG; an
 * epoch is floor(total frames / (L*B)) steps. Under TRAIN_SAMPLING_EPOCH the
 * epoch's steps are train_epoch_plan_make's (its steps per epoch). B larger than the shortest training level is CB_EARG naming that
 * level and its frame count. Option ranges are run/config.c's table
 * (run_option_check_*), the same the config.json reader checks. Same data, options and seed give bit-identical checkpoints for any
 * thread count, and --resume continues exactly where latest.ckpt stopped. A
 * non-finite loss or gradient stops the run with CB_ERANGE; the files keep
 * the last commit. A run that fails before its first commit leaves nothing
 * (o->run is removed when this call created it and it is empty). */
int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e);

/* ---- train's options from the schema (train/options.c) ---- */

/* One option's value as given (the schema's type, run/run.h run_option_range). */
typedef struct {
    int given;
    int64_t i;        /* RUN_OPT_INT of one value; RUN_OPT_FLAG: 1 */
    double num;       /* RUN_OPT_REAL */
    const char *text; /* RUN_OPT_WORD, RUN_OPT_PATH, channels' "A,B,C" */
    int32_t lo, hi;   /* RUN_OPT_SEEDS */
} train_opt_value;

/* Every schema default (the network's channels and hidden width with it), beta1_set. */
int train_opts_init(train_opts *o, cb_err *e);
/* Option key (config.json's form, "sand_k") set to v, checked against the
 * schema first: CB_EARG naming --OPTION and its range or words. --net sets the
 * network's default channels and hidden width too (give those after it). */
int train_opts_set(train_opts *o, const char *key, const train_opt_value *v, cb_err *e);
/* The options config.json holds, from c, but those with given[i] set (i: the
 * schema's index; given may be NULL). */
void train_opts_from_config(train_opts *o, const run_config *c, const int *given);
/* The options train_opts holds into config.json's fields (the rest of c untouched). */
void train_opts_to_config(run_config *c, const train_opts *o);

/* ---- coinbc train as one call (train/command.c) ---- */

#define TRAIN_MAX_OPTIONS 64 /* at least run_option_count() */

typedef struct {
    const char *data;                       /* DATA; NULL: --resume takes config.json's */
    train_opt_value opt[TRAIN_MAX_OPTIONS]; /* the options given, by the schema's index (run_option_at) */
    const char *holder;                     /* the command line, recorded in the run folder's lock */
    const volatile sig_atomic_t *stop;      /* as train_opts.stop */
    void (*on_epoch)(void *ctx, const train_epoch_stats *s);
    /* after the data is loaded, before training: the options and the level counts */
    void (*on_start)(void *ctx, const train_opts *o, int n_train, int n_val);
    void *ctx;
} train_command;

typedef struct {
    train_opts o;    /* what the run was trained with */
    train_result res;
    int n_train, n_val;
} train_command_result;

/* The options given, alone (nothing read or written): every value against
 * the schema, the network they describe, DATA given unless resuming, -o.
 * CB_EARG naming the first bad one (coinbc train's usage errors). */
int train_command_check(const train_command *c, cb_err *e);
/* coinbc train: holds the run folder's lock (rank 0) for the whole run; on
 * --resume recovers the folder and takes every option not given, and the
 * data, from its config.json; opens the datasets, refuses validation levels
 * that are training levels, loads the levels (under mpirun, each rank its
 * share) and calls train_run with the provenance filled in. A failure before
 * the first commit removes what it created. */
int train_command_run(const train_command *c, train_command_result *r, cb_err *e);

/* ---- coinbc tune as one call (train/tune.c) ---- */

typedef struct {
    const char *train, *val, *out, *method; /* TRAIN, --val, -o DIR, --method (NULL: not given) */
    const char *space, *storage, *study;    /* NULL: the defaults (tools/tune_space.json, DIR's journal, coinbc-METHOD) */
    const char *prune, *objective;          /* "on"/"off", "val_acc"/"val_loss" */
    int trials, epochs, jobs, threads;      /* jobs 0: train_tune_jobs chooses */
    int retrain;                            /* >= 0: train that finished trial again (tools/tune.py --retrain), -1: the study */
    double retrain_tolerance;               /* the relative difference of its figures accepted (0: bit for bit) */
    int retrain_keep;                       /* keep it even beyond the tolerance (its line says by how much) */
    int64_t seed;
    int nfixed;
    char *const *fixed;                     /* the train options after --, as argv words */
    const char *const *own;                 /* tune's own option names, NULL-terminated (a hint for one given after --) */
    const char *holder;                     /* the command line, recorded in DIR's lock */
    void (*note)(void *ctx, const char *line); /* progress and notes (one line each); may be NULL */
    void *ctx;
} train_tune_opts;

typedef struct {
    int usage;           /* the failure was a usage error (coinbc tune: exit status 2) */
    char study[256];
    int objective;       /* RUN_TUNE_VAL_* */
    run_tune_result res; /* the study's trials (trials.csv) */
    int nstate[3];       /* COMPLETE, PRUNED, FAIL */
    int best;            /* index of the best trial, -1: none completed (no best.json) */
    char *args;          /* best.args' line (malloc'd); with --retrain, the driver's JSON line */
} train_tune_result;

/* coinbc tune (docs/TUNE.md): checks the options, the train options fixed
 * for every trial (against the schema; the ones tune sets itself are the
 * schema's RUN_TUNE_NO), the space, the datasets (disjoint levels, the space
 * cut to the training levels), DIR's earlier study; then, under DIR's lock,
 * writes DIR/tune.json, runs the driver (python3 tools/tune.py, or
 * $COINBC_PYTHON and $COINBC_TUNE_DRIVER) and writes trials.csv, best.json
 * and best.args. Free r with train_tune_result_free. */
int train_tune_run(const train_tune_opts *o, train_tune_result *r, cb_err *e);
/* trials at once for --jobs J (0: the default choice, 2 where there are 2 or
 * more threads) out of T threads in all */
int train_tune_jobs(int jobs, int threads);
void train_tune_result_free(train_tune_result *r);

/* Accuracy and mean loss of a model on levels (batched forward; uses the
 * model's current batch buffers, or sets an inference batch of 256). */
int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e);

#endif
