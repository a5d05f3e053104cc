/* run.h - run records: every file of a run folder as a typed struct with one
 * writer and one strict reader (config.json, metrics.csv + metrics.jsonl,
 * eval.json, rollout.json, agreement.json), the epoch commit that writes a run folder's
 * files as one unit, and the names of the training methods a record may
 * hold. JSON goes through jansson (strict decoding with line and column in
 * its errors, duplicate keys refused, exact 64-bit integers).
 *
 * Versions: each JSON record opens with "format" and "version". The files
 * train writes (config.json, metrics.csv, metrics.jsonl) share the version
 * of config.json; eval.json and rollout.json carry their own. A record
 * without the pair was written by coinbc 0.1.0 before records were versioned
 * and is read as version 1 (the keys are the same). A version above
 * RUN_VERSION is refused as "written by a newer coinbc".
 *
 * Readers refuse, with a message naming the file and the key: bad JSON
 * (line and column), a duplicate key, a missing key, an unknown key, a wrong
 * type, a value out of range, an unknown method name. Module order: run/ uses
 * common/ and model/; train/, eval/ and cli/ use run/. */
#ifndef COINBC_RUN_H
#define COINBC_RUN_H

#include <stdint.h>

#include "common/common.h"
#include "model/model.h"

#define RUN_VERSION 1 /* the version of every record this coinbc writes */

/* What the readers read at most (docs/FORMATS.md, "Run folder"): a larger
 * file is refused unread, naming it. config.json, eval.json (and the probe
 * files in its format), rollout.json and commit.json: RUN_RECORD_MAX_BYTES.
 * metrics.jsonl and metrics.csv: RUN_METRICS_LINE_MAX_BYTES per epoch of
 * config.json's `epochs` (plus the CSV header), and no more rows than those
 * epochs; agreement.json: RUN_AGREE_SNAP_MAX_BYTES per snapshot, at most
 * epochs + 1 snapshots. A folder without config.json counts as
 * RUN_NOCONFIG_EPOCHS epochs. Every cap is at most CB_READ_MAX_DEFAULT. */
#define RUN_RECORD_MAX_BYTES ((size_t)1 << 20)
#define RUN_METRICS_LINE_MAX_BYTES ((size_t)8192)
#define RUN_AGREE_SNAP_MAX_BYTES ((size_t)32768)
#define RUN_NOCONFIG_EPOCHS 10000

/* ---- names a record may hold ------------------------------------------------ */

/* The method table: every training method is one X(...) line here, the one
 * place a method is described; run/method.c (names, options, help), the
 * option schema (run/config.c), train/ (its combine rule and optimizer step)
 * and the CLI read it. The fields:
 *   ID       RUN_METHOD_ID, the method's number (its order is the records')
 *   name     config.json's "method" and --method
 *   options  the method options it reads (RUN_MOPT_*: tau, sand-k, tand-beta,
 *            rescale); the others are accepted and recorded but change nothing
 *   split    1: its level-gradient reduction splits over MPI ranks (it needs
 *            only the per-parameter sums of the gradients and of their signs,
 *            passed through the ranks in level order); 0: every rank gathers
 *            every level's gradient
 *   state    per-parameter float arrays of optimizer state it keeps beside
 *            Adam's two moments, owned by train/ and saved in its checkpoints
 *            (tand: its sign moment)
 *   combine  the per-parameter rule over the L level gradients (train/combine.c
 *            comb_COMBINE, the mean times the mask for split methods)
 *   mask     the split methods' mask from the sums of the signs (train/combine.c
 *            mask_MASK; none: no mask, the plain mean)
 *   step     the optimizer step (train/adam.c train_step_STEP: adam, tand)
 *   help     one line for --help and the description coinbc train --describe prints
 * Adding a method: its line here, its combine (and step, if new) in train/,
 * its tests. Names and help must not contain '"' or '\\'. */
#define RUN_MOPT_TAU 1u
#define RUN_MOPT_SAND_K 2u
#define RUN_MOPT_TAND_BETA 4u
#define RUN_MOPT_RESCALE 8u
#define RUN_METHOD_TABLE(X)                                                                                             \
    X(MEAN, "mean", 0, 1, 0, mean, none, adam, "plain averaging of the level gradients")                                \
    X(AND, "and", RUN_MOPT_TAU | RUN_MOPT_RESCALE, 1, 0, and, and, adam,                                                 \
      "AND-mask: the mean where |mean of the levels' gradient signs| >= tau (sign(0) = 0)")                            \
    X(SAND, "sand", RUN_MOPT_TAU | RUN_MOPT_SAND_K | RUN_MOPT_RESCALE, 0, 0, sand, none, adam,                          \
      "SAND-mask: the mean under a soft agreement mask (tau, sand-k)")                                                \
    X(GEOMEAN, "geomean", RUN_MOPT_TAU | RUN_MOPT_RESCALE, 0, 0, geomean, none, adam,                                   \
      "geometric mean of the magnitudes under the AND mask")                                                           \
    X(TAND, "tand", RUN_MOPT_TAU | RUN_MOPT_TAND_BETA, 1, 1, mean, none, tand,                                          \
      "temporal AND-mask Adam: the mean, Adam's step kept where the sign moment agrees (tau, tand-beta)")

#define RUN_METHOD_ENUM_(ID, name, options, split, state, combine, mask, step, help) RUN_METHOD_##ID,
enum { RUN_METHOD_TABLE(RUN_METHOD_ENUM_) RUN_NMETHODS };
#undef RUN_METHOD_ENUM_

typedef struct {
    int method;       /* RUN_METHOD_* */
    const char *name;
    unsigned options; /* RUN_MOPT_* */
    int split;
    int state;
    const char *help;
} run_method_info;

/* The entry of method (NULL for a number outside 0..RUN_NMETHODS-1). */
const run_method_info *run_method(int method);
/* "mean, and, sand, geomean, tand": every name, in order, for messages */
const char *run_method_list(void);
#define RUN_TAND_BETA_DEFAULT 0.9 /* --tand-beta */
enum { RUN_WD_L2 = 0, RUN_WD_DECOUPLED = 1 };
#define RUN_BETA1_DEFAULT 0.9 /* --beta1, Adam's first-moment decay */
/* --sampling: replace (each step draws L distinct levels and B frames of each
 * with replacement) or epoch (each epoch visits the frames once, in shuffled
 * (level, chunk of B frames) batches; docs/METHODS.md) */
enum { RUN_SAMPLING_REPLACE = 0, RUN_SAMPLING_EPOCH = 1 };
/* --best-by: the validation figure that picks best.ckpt */
enum { RUN_BEST_ACC = 0, RUN_BEST_LOSS = 1 };
const char *run_sampling_name(int s);          /* "replace", "epoch" ("?" for another number) */
int run_sampling_parse(const char *s, int *out); /* CB_EARG for another word */
const char *run_best_by_name(int b);           /* "acc", "loss" ("?" for another number) */
int run_best_by_parse(const char *s, int *out);  /* CB_EARG for another word */

/* The method's name; NULL for a number outside 0..RUN_NMETHODS-1. */
const char *run_method_name(int method);
/* 0 and *method, or CB_EARG for a name that is not a method. */
int run_method_parse(const char *s, int *method);

/* ---- text buffers (the encoders' output) ------------------------------------ */

typedef struct {
    char *s;         /* NUL-terminated, malloc'd (NULL while empty) */
    size_t len, cap;
} run_text;

int run_text_add(run_text *t, const char *s); /* 0 or CB_ENOMEM */
void run_text_free(run_text *t);

/* ---- config.json ------------------------------------------------------------- */

typedef struct {
    int version;              /* of the file read; writers write RUN_VERSION */
    char coinbc_version[32];  /* the coinbc that wrote it */
    model_net_desc net;
    uint64_t params;
    int method;               /* RUN_METHOD_* */
    double tau, sand_k;
    double tand_beta;         /* tand's sign-moment decay in (0, 1); 0 is written as the default (0.9); a
                                 config.json without the key (written before tand) reads as the default */
    int rescale;
    int epochs;
    double lr;
    double beta1;             /* Adam's first-moment decay in [0, 1); a config.json without the key (written
                                 before --beta1) reads as RUN_BETA1_DEFAULT */
    int sampling;             /* RUN_SAMPLING_* ("replace", "epoch"); absent: replace */
    int best_by;              /* RUN_BEST_* ("acc", "loss"); absent: acc */
    int lr_decay;             /* lr_schedule: 1 "step", 0 "const" */
    double wd;
    int wd_mode;              /* RUN_WD_* ("l2", "decoupled") */
    int batch_levels, batch_frames;
    uint64_t seed;            /* at most INT64_MAX */
    int64_t max_steps;
    int train_levels;
    int64_t train_frames;
    int val_levels;
    int64_t steps_per_epoch;
    /* data provenance (written by coinbc train; a library caller may leave has_data 0) */
    int has_data;
    char data[4096], val_data[4096];      /* val_data "" without validation data */
    uint32_t data_manifest_crc, val_manifest_crc;
    int32_t train_seed_lo, train_seed_hi; /* first and last training level */
    int32_t val_seed_lo, val_seed_hi;     /* -1, -1 without validation levels */
} run_config;

int run_config_encode(run_text *out, const run_config *c, cb_err *e);
/* name: the file named in errors. Every option is checked against its range
 * in the option table below (the same check as train's), and `params`
 * against the parameter count the network (net, channels, hidden) builds. */
int run_config_decode(run_config *c, const char *text, size_t n, const char *name, cb_err *e);
int run_config_write(const char *dir, const run_config *c, cb_err *e); /* DIR/config.json, atomically */
int run_config_read(run_config *c, const char *dir, cb_err *e);        /* CB_ENOTFOUND when missing */

/* What a resume may not change: compares the config a run was started with
 * (old, as read from its config.json) with the one a resume would write
 * (new) and appends to msg (NUL-terminated, truncated at n) one
 * "--OPTION OLD (now NEW)" per difference, "; "-separated: the network,
 * every training option but epochs and max_steps (which a resume may
 * change), the training levels (count, frames, steps per epoch), and, when
 * both carry provenance, the datasets (their manifest CRCs; the paths may
 * differ) and the seed ranges of the training and validation levels.
 * Returns the number of differences (0: the resume is the same run). */
int run_config_diff(const run_config *old, const run_config *new, char *msg, size_t n);

/* The schema of coinbc train's options, defined once (run/config.c): every
 * option's name, type, range or words, default, help, the methods it
 * applies to and whether tune may search it. From it come train's parsing,
 * checks and --help (cli/cmd_train.c, train/options.c), config.json's
 * reader (every key of an option checked against its entry), tune's space
 * and fixed-option checks (run/tune.c) and the description coinbc train
 * --describe prints for tools/tune.py (run_describe_json). */
enum {
    RUN_OPT_INT = 0,  /* an integer in ilo..ihi (channels: one per stage, MODEL_NET_MAX_STAGES, A,B,C) */
    RUN_OPT_REAL = 1, /* a number between lo and hi */
    RUN_OPT_WORD = 2, /* one of `words` */
    RUN_OPT_FLAG = 3, /* no value */
    RUN_OPT_PATH = 4, /* a file or folder */
    RUN_OPT_SEEDS = 5 /* a range of level seeds A-B */
};
/* what tune may do with an option: search it (in a space), pass it fixed
 * for every trial (after --), or neither (tune sets it itself, or it means
 * nothing per trial) */
enum { RUN_TUNE_NO = 0, RUN_TUNE_FIXED = 1, RUN_TUNE_SEARCH = 2 };
typedef struct {
    const char *key;      /* config.json's key (or, for an option config.json does not hold, the same form of its
                             name); the option is --KEY with '_' as '-' */
    int integer;          /* 1: ilo..ihi, inclusive; 0: the real bounds lo, hi (numbers only) */
    int64_t ilo, ihi;
    double lo, hi;
    int lo_open, hi_open; /* reals: the bound itself is outside; an open infinite bound asks for a finite value */
    int in_config;        /* 0: a train option that config.json does not hold (threads, the data options) */
    int type;             /* RUN_OPT_* */
    int count;            /* values the option takes: 1, or MODEL_NET_MAX_STAGES for channels (A,B,C) */
    const char *const *words; /* RUN_OPT_WORD: the words, NULL-terminated, in the order of their numbers (RUN_WD_*, ...) */
    const char *def;      /* the default as text; NULL: none, or one the help names (hidden: the network's) */
    const char *meta;     /* the value's name in --help ("T", "A,B,C") */
    const char *help;     /* --help's text; the range, the methods and the default are added to it */
    unsigned mopt;        /* RUN_MOPT_*: the option is one of the methods that read it (run_option_methods); 0: of
                             every method. Its value is checked for every method, since every config.json holds it */
    int tune;             /* RUN_TUNE_* */
} run_option_range;

#define RUN_ALL_METHODS ((1u << RUN_NMETHODS) - 1)
int run_option_count(void);
const run_option_range *run_option_at(int i);
const run_option_range *run_option_find(const char *key);  /* by key ("sand_k"); NULL for no such option */
const run_option_range *run_option_named(const char *name); /* by option name ("sand-k"); NULL for none */
/* The methods the option applies to (bit 1 << RUN_METHOD_*), from the method table. */
unsigned run_option_methods(const run_option_range *r);
/* A numeric option's range as text: "[0, 1]", "(0, inf)", "1..4096". */
void run_option_range_text(char *buf, size_t n, const run_option_range *r);
/* The option's name ("sand-k") into buf. */
void run_option_name(char *buf, size_t n, const run_option_range *r);
/* --help's text of an option: its help, range or words, the methods when not
 * all, and its default: "agreement threshold; in [0, 1]; for and, sand,
 * geomean, tand (default 0.8)". */
void run_option_help(char *buf, size_t n, const run_option_range *r);
/* The number of word w of a RUN_OPT_WORD option (its place in `words`), or -1. */
int run_option_word(const run_option_range *r, const char *w);
/* Word k of a RUN_OPT_WORD option; NULL for another k. */
const char *run_option_word_at(const run_option_range *r, int k);
/* 0 when v is inside key's range; otherwise `code` and a message
 * "WHERE: --KEY V is outside [LO, HI] (...)" or, with as_key (for a file),
 * "WHERE: key \"KEY\" is V, outside [LO, HI]". A key not in the table is
 * CB_EARG (a programmer error). */
int run_option_check_real(const char *key, double v, const char *where, int as_key, int code, cb_err *e);
int run_option_check_int(const char *key, int64_t v, const char *where, int as_key, int code, cb_err *e);
/* The network description against the schema: its kind one of --net's
 * words, each of its stages' channel counts in --channels' range, its hidden
 * width in --hidden's; messages as run_option_check_int's (where, as_key,
 * code). config.json's reader and train use it; model_plan then checks that
 * the network builds. */
int run_net_check(const model_net_desc *c, const char *where, int as_key, int code, cb_err *e);
/* The methods and the option schema as JSON (coinbc train --describe; tools/tune.py reads it): malloc'd text,
 * NULL when out of memory. Format in docs/FORMATS.md ("The train description"). */
char *run_describe_json(void);

/* ---- metrics.csv and metrics.jsonl ------------------------------------------- */

#define RUN_MAX_LAYERS MODEL_MAX_TENSORS

typedef struct {
    int64_t epoch, step;
    double train_loss, train_acc;
    double val_loss, val_acc;          /* NAN without validation (CSV: empty, JSON: null) */
    double lr, seconds, samples_per_s; /* samples_per_s: jsonl only (NAN from a csv) */
    int nlayers;                       /* weight tensors, in model order */
    char layer[RUN_MAX_LAYERS][32];    /* "conv0", "fc" (the tensor name without ".w") */
    double mask_density[RUN_MAX_LAYERS];
} run_metrics_row;

typedef struct {
    int nrows;
    run_metrics_row *rows;
} run_metrics;

/* The CSV header for row r's layers ("epoch,step,...,mask_conv0,...\n"). */
int run_metrics_csv_header(run_text *t, const run_metrics_row *r);
/* One CSV row (6 decimals, lr %g, seconds 2 decimals, masks 5 decimals). */
int run_metrics_csv_row(run_text *t, const run_metrics_row *r);
/* One JSON line; numbers are written exactly (17 significant digits). */
int run_metrics_jsonl_row(run_text *t, const run_metrics_row *r, cb_err *e);
/* Whole files: the rows of `text` into m (m->rows malloc'd; free with run_metrics_free). */
int run_metrics_decode_csv(run_metrics *m, const char *text, size_t n, const char *name, cb_err *e);
int run_metrics_decode_jsonl(run_metrics *m, const char *text, size_t n, const char *name, cb_err *e);
/* Reads DIR/metrics.jsonl (the exact figures) and DIR/metrics.csv and checks
 * that they hold the same epochs, steps and layers. CB_ENOTFOUND when
 * neither exists. */
int run_metrics_read(run_metrics *m, const char *dir, cb_err *e);
void run_metrics_free(run_metrics *m);

/* ---- eval.json ------------------------------------------------------------- */

typedef struct {
    int levels;
    int64_t frames;
    double acc, acc_merged, loss, level_acc_mean, level_acc_std;
} run_eval_set;

typedef struct {
    int version;
    char checkpoint[4096], data[4096];
    run_eval_set test;
    int has_train;           /* the training levels were evaluated too */
    run_eval_set train;
    double gap;              /* train.acc - test.acc (has_train) */
    int64_t confusion[CB_NUM_ACTIONS][CB_NUM_ACTIONS]; /* test levels: [expert label][policy action] */
} run_eval;

int run_eval_encode(run_text *out, const run_eval *v, cb_err *e);
int run_eval_decode(run_eval *v, const char *text, size_t n, const char *name, cb_err *e);
int run_eval_write(const char *dir, const run_eval *v, cb_err *e); /* DIR/eval.json */
int run_eval_read(run_eval *v, const char *dir, cb_err *e);
/* DIR/FILE in eval.json's format (the memorization probe's relabeled.json,
 * true.json, test.json); CB_ENOTFOUND when it is missing */
int run_eval_read_as(run_eval *v, const char *dir, const char *file, cb_err *e);

/* ---- rollout.json ------------------------------------------------------------ */

typedef struct {
    int version;
    char checkpoint[4096];
    int32_t level_lo, level_hi;
    int hard;                /* mode "hard" (else "easy") */
    int episodes_per_level;
    int sample;              /* actions "sample" (else "greedy") */
    int episodes;
    double success, success_lo, success_hi, death_rate, timeout_rate;
    double mean_steps_to_coin; /* NAN (null) when no episode reached the coin */
    double expert_success, expert_mean_steps_to_coin;
    double random_success, random_success_lo, random_success_hi;
} run_rollout;

int run_rollout_encode(run_text *out, const run_rollout *v, cb_err *e);
int run_rollout_decode(run_rollout *v, const char *text, size_t n, const char *name, cb_err *e);
int run_rollout_write(const char *dir, const run_rollout *v, cb_err *e); /* DIR/rollout.json */
int run_rollout_read(run_rollout *v, const char *dir, cb_err *e);

/* ---- appearance.json -----------------------------------------------------------
 * The appearance probe's figures (coinbc appearance;
 * docs/FORMATS.md). Offline, cell[layout][look]: layout 0 = the run's
 * training levels (seen layouts), 1 = the held-out levels; look 0 = the
 * level's own, 1 = training levels' looks (held-out layouts only: cell[0][1]
 * is always empty), 2 = unseen looks (none in easy mode). The file also holds
 * each cell's accuracy, agreement and mean KL, which the reader checks
 * against the counts. Closed loop, play[RUN_APP_*]: greedy episodes, one per
 * (level, look); success and its Wilson interval are stored beside the
 * counts (NAN when the cell is empty), the reader checks success against
 * the counts and that the interval holds it. */
#define RUN_APP_LOOKS 3
#define RUN_APP_STRIP_MAX 4 /* states in the strip of example frames */
typedef struct {
    int64_t frames;   /* frames scored */
    int64_t correct;  /* argmax == the expert's label */
    int64_t agree;    /* argmax == the original frame's argmax */
    double kl_sum;    /* summed KL(original || variant), nats */
} run_app_cell;

enum { RUN_APP_SS = 0, RUN_APP_SU = 1, RUN_APP_US = 2, RUN_APP_UU = 3, RUN_APP_PLAYS = 4 }; /* layout/look */
typedef struct {
    int64_t episodes, coins, deaths, timeouts; /* coins + deaths + timeouts = episodes */
    double success, success_lo, success_hi;    /* coins / episodes, 95% Wilson interval */
} run_app_play;

typedef struct run_appearance {
    int version;
    char checkpoint[4096];
    int hard;                    /* mode "hard" (else "easy") */
    int32_t level_lo, level_hi;  /* the held-out levels, inclusive */
    int train_levels;            /* distinct training levels */
    int64_t states_per_level;
    double noise;
    int64_t seed;
    int donors;                  /* K looks per state and kind */
    int seen_backgrounds, seen_pairs, seen_looks; /* looks of the training levels */
    int unseen_backgrounds, unseen_pairs, unseen_looks;
    run_app_cell cell[2][RUN_APP_LOOKS];
    run_app_play play[RUN_APP_PLAYS]; /* seen/seen, seen/unseen, held-out/seen, held-out/own */
    /* "strip": the states of the example frames drawn beside the record
     * (FILE.png for FILE.json; RUN/appearance.png), in the strip's row order;
     * nstrip 0: no strip (a record from before it) */
    int nstrip;
    struct {
        int32_t level;
        int heldout;
        int64_t step; /* 0-based, < states_per_level */
    } strip[RUN_APP_STRIP_MAX];
} run_appearance;

int run_appearance_encode(run_text *out, const run_appearance *v, cb_err *e);
int run_appearance_decode(run_appearance *v, const char *text, size_t n, const char *name, cb_err *e);
int run_appearance_write(const char *dir, const run_appearance *v, cb_err *e); /* DIR/appearance.json */
int run_appearance_read(run_appearance *v, const char *dir, cb_err *e);

/* ---- agreement.json ------------------------------------------------------------
 * At the first step of a run and the last step of every epoch, train bins
 * |mean over the step's L levels of sign(g_l)| of every parameter of each
 * weight tensor into RUN_AGREE_BINS bins of width 1/RUN_AGREE_BINS (bin
 * min(9, floor(10 |sum sign| / L)), computed on integers; 1.0 is in the last
 * bin): how much agreement there is for the AND-mask to keep. */

#define RUN_AGREE_BINS 10

typedef struct {
    int64_t step;   /* the optimizer step whose level gradients were binned (1-based) */
    int64_t epoch;  /* epochs completed after that step (0 for the first step of a longer epoch) */
    int64_t count[RUN_MAX_LAYERS][RUN_AGREE_BINS]; /* parameters per bin, per layer */
} run_agreement_snap;

typedef struct {
    int version;
    int levels;                         /* L, the levels each mean sign is over */
    int nlayers;
    char layer[RUN_MAX_LAYERS][32];     /* weight tensors without ".w", in model order */
    int nsnaps, cap;
    run_agreement_snap *snaps;          /* steps strictly increasing; malloc'd */
} run_agreement;

int run_agreement_add(run_agreement *a, const run_agreement_snap *s); /* 0 or CB_ENOMEM */
void run_agreement_free(run_agreement *a);
int run_agreement_encode(run_text *out, const run_agreement *a, cb_err *e);
int run_agreement_decode(run_agreement *a, const char *text, size_t n, const char *name, cb_err *e);
int run_agreement_read(run_agreement *a, const char *dir, cb_err *e); /* DIR/agreement.json; CB_ENOTFOUND when missing */

/* ---- the epoch commit -------------------------------------------------------
 * An epoch's outputs (config.json, latest.ckpt, best.ckpt, metrics.csv,
 * metrics.jsonl, agreement.json, any subset) become visible as one unit:
 *   1. each is written in full to NAME.next (atomically, fsynced);
 *   2. commit.json, listing the names, is written atomically: the commit point;
 *   3. each NAME.next is renamed over NAME, the folder is fsynced;
 *   4. commit.json is removed.
 * run_folder_recover, at the start of every train into the folder, finishes
 * a commit whose commit.json exists (step 3 again for the files still
 * waiting), and otherwise removes NAME.next files (an unfinished step 1),
 * along with stale NAME.tmp.* files of the run's outputs. */

#define RUN_COMMIT_MAX 8

typedef struct {
    const char *dir;
    int n;
    char name[RUN_COMMIT_MAX][32];
    int recorded; /* commit.json was written: the commit takes effect, now or at the next recovery */
} run_commit;

void run_commit_begin(run_commit *c, const char *dir);
/* Step 1 for one file: NAME.next with these bytes. */
int run_commit_stage(run_commit *c, const char *name, const void *buf, size_t n, cb_err *e);
/* Step 1 for a checkpoint. */
int run_commit_stage_ckpt(run_commit *c, const char *name, const model *m, const model_ckpt_state *st, cb_err *e);
/* Steps 2-4. On a failure before step 2 the staged files are removed; after
 * it, the commit is finished by the next run_folder_recover. */
int run_commit_finish(run_commit *c, cb_err *e);
/* Removes what was staged (after a failure while staging). */
void run_commit_abort(run_commit *c);

typedef struct {
    int finished;   /* files a pending commit renamed into place */
    int rolled_back; /* NAME.next files of an unrecorded commit removed */
    int stale_tmp;  /* NAME.tmp.* files removed */
} run_recovery;

int run_folder_recover(const char *dir, run_recovery *r, cb_err *e);

/* ---- the comparison: its spec and DIR/compare.json (compare.c) ------------- */
#define RUN_COMPARE_MAX_METHODS 16
#define RUN_COMPARE_MAX_SEEDS 64
#define RUN_COMPARE_MAX_WORDS 64
#define RUN_COMPARE_MAX_MWORDS 16
/* One dataset of the comparison: recorded (levels lo-hi x states, noise,
 * record seed) or the user's own (path, relative to the spec's folder). */
typedef struct {
    int is_path;
    char path[4096];
    int32_t lo, hi, states;
    double noise;
    int64_t seed;
} run_compare_data;
/* A method row: tuned (a coinbc tune study; name is the train method) or a
 * fixed configuration (config: best.json's format, {option: value}). */
typedef struct {
    char name[32];
    int tuned, trials, jobs;
    int64_t tune_seed;
    char space[4096]; /* "" for tune's default space; else relative to the spec's folder */
    int loss_objective; /* tuned: the study minimizes the validation loss (tune --objective val_loss) */
    int top;            /* tuned: the top-N figure's N (0: none): test loss of the N best finished trials */
    char config[4096]; /* fixed: the JSON object's text */
    int nopts;          /* the method's own train options, after the spec's, as argv words */
    char opts[RUN_COMPARE_MAX_MWORDS][256];
} run_compare_method;
typedef struct {
    char name[64];
    int hard;
    run_compare_data data[3]; /* train, val, test */
    int nfixed;               /* train options for every run, as argv words */
    char fixed[RUN_COMPARE_MAX_WORDS][256];
    int epochs;
    int nmethods;
    run_compare_method m[RUN_COMPARE_MAX_METHODS];
    int nseeds;
    int64_t seeds[RUN_COMPARE_MAX_SEEDS];
    int probe, probe_auto;    /* probe_auto: the first quarter of the training seeds */
    int32_t probe_lo, probe_hi;
    int64_t relabel_seed;
    int nprobe_seeds;
    int64_t probe_seeds[RUN_COMPARE_MAX_SEEDS];
    int rollout;
    int32_t roll_lo, roll_hi;
    int appearance;           /* the appearance probe on every final run (coinbc appearance) */
    int32_t app_lo, app_hi;   /* its held-out levels */
    int32_t app_states, app_donors;
    int64_t app_seed;
    int loss;                 /* the table shows test loss and tests it */
    char base[32];
    char tuned[4096];         /* where tuned configurations are copied ("" none), relative to the spec's folder */
    char *canonical;          /* malloc'd: the spec as compact JSON with sorted keys */
} run_compare_spec;
/* Strict: format coinbc-compare-spec, known keys and types, ranges, method
 * names unique, recorded datasets disjoint, the probe's levels inside the
 * training levels, base one of the methods. */
int run_compare_spec_decode(run_compare_spec *s, const char *text, size_t n, const char *name, cb_err *e);
int run_compare_spec_read(run_compare_spec *s, const char *path, cb_err *e);
void run_compare_spec_free(run_compare_spec *s);
/* DIR/compare.json: the spec a comparison folder was made with (canonical
 * text) and its datasets' manifest CRCs (train, val, test, relabeled; null
 * until known). */
enum { RUN_COMPARE_NDATA = 4 };
typedef struct {
    char *spec; /* malloc'd canonical text */
    int has_crc[RUN_COMPARE_NDATA];
    uint32_t crc[RUN_COMPARE_NDATA];
} run_compare_state;
int run_compare_state_write(const char *dir, const run_compare_state *st, cb_err *e);
int run_compare_state_read(run_compare_state *st, const char *dir, cb_err *e);
void run_compare_state_free(run_compare_state *st);
/* DIR/top/M/trial-NNNN.retrained (run/retrained.c): how a picked trial the
 * top stage trained again came back */
typedef struct {
    int trial;
    int exact;           /* 1 bit for bit, 0 within the tolerance, -1 its checkpoint was there already */
    double max_rel_diff; /* the largest relative difference of a per-epoch figure (0 when exact or unknown) */
    double tolerance;
} run_retrained;
/* the file's text for trial `trial`; CB_EFORMAT naming `name` otherwise */
int run_retrained_parse(run_retrained *r, const char *text, size_t n, int trial, const char *name, cb_err *e);

/* ---- a whole run folder ------------------------------------------------------ */

typedef struct {
    int has_config, has_latest, has_best, pending_commit;
    run_config config;
    int metrics_rows;                 /* epochs in metrics.jsonl / metrics.csv */
    int64_t latest_step, latest_epoch; /* of latest.ckpt */
    int64_t best_step, best_epoch;     /* of best.ckpt */
    int agreement_snaps;               /* histograms in agreement.json (0 without it) */
} run_folder;

/* Reads and cross-checks what train wrote into DIR: config.json, both
 * metrics files, the checkpoints (header and CRC); latest.ckpt's epoch must
 * equal the metrics rows, agreement.json (if any) may not reach past it, and no
 * commit may be pending. Missing files are
 * reported in f (has_*), not as errors; CB_ENOTFOUND when DIR holds none. */
int run_folder_verify(run_folder *f, const char *dir, cb_err *e);

/* ======================================================================
 * tune records (run/tune.c): the search space file, the spec coinbc tune
 * hands its driver (DIR/tune.json), the driver's study result, and the tune
 * folder's outputs DIR/trials.csv and DIR/best.json (docs/FORMATS.md).
 * ====================================================================== */

enum { RUN_TUNE_SPACE_VERSION = 1, RUN_TUNE_SPEC_VERSION = 1, RUN_TUNE_RESULT_VERSION = 1 };
enum { RUN_TUNE_MAX_PARAMS = 16, RUN_TUNE_MAX_CHOICES = 32, RUN_TUNE_MAX_FIXED = 64 };
/* What the tune readers read at most (docs/FORMATS.md, "Tune folders"): the
 * space file, tune.json and best.json RUN_TUNE_JSON_MAX_BYTES each;
 * trials.csv RUN_TUNE_TRIALS_MAX_BYTES and RUN_TUNE_MAX_TRIALS rows. A
 * larger file is refused unread, naming it. */
#define RUN_TUNE_JSON_MAX_BYTES ((size_t)1 << 20)
#define RUN_TUNE_TRIALS_MAX_BYTES ((size_t)64 << 20)
enum { RUN_TUNE_MAX_TRIALS = 10000 };

/* a parameter's value: a number or a word ("on", "const") */
typedef struct {
    int is_str;
    double num;
    char str[32];
} run_tune_value;

enum { RUN_TUNE_LOG = 0, RUN_TUNE_UNIFORM = 1, RUN_TUNE_INT = 2, RUN_TUNE_CHOICE = 3 };

typedef struct {
    char name[32];     /* a coinbc train option without dashes: lr, wd, tau, ... */
    int kind;          /* RUN_TUNE_LOG, _UNIFORM, _INT (ranges [lo, hi]) or _CHOICE */
    double lo, hi;
    int or_zero;       /* log/uniform: 0 is a choice too (for wd) */
    int nchoice;
    run_tune_value choice[RUN_TUNE_MAX_CHOICES];
} run_tune_param;

typedef struct {
    int nparams;
    run_tune_param p[RUN_TUNE_MAX_PARAMS];
} run_tune_space;

/* Option kinds of coinbc train as tune knows them: 1 number, 2 word, 0 not
 * an option tune can pass (see run/tune.c for the list). */
int run_tune_option_kind(const char *name);
/* 0 when value is allowed for train option name; otherwise fills e. */
int run_tune_check_value(const char *name, const run_tune_value *v, cb_err *e);

/* Reads a space file ({"version": 1, "methods": {METHOD: {PARAM: {...}}}}),
 * checks every method's section (unknown method or parameter, empty range,
 * log range not positive, a parameter that does not apply to the method such
 * as tau for mean) and returns the section of method. */
int run_tune_space_read(run_tune_space *out, const char *path, const char *method, cb_err *e);
/* The checks of run_tune_space_read on one method's space. */
int run_tune_space_check(const run_tune_space *s, const char *method, cb_err *e);
int run_tune_space_find(const run_tune_space *s, const char *name); /* index or -1 */

/* The figure a study optimizes (tune --objective): a trial's best epoch's
 * validation accuracy (maximized) or validation loss (minimized); pruning
 * judges the same figure. Records without it (written before) are val_acc. */
enum { RUN_TUNE_VAL_ACC = 0, RUN_TUNE_VAL_LOSS = 1 };
const char *run_tune_objective_name(int objective);           /* "val_acc", "val_loss" ("?" otherwise) */
int run_tune_objective_parse(const char *s, int *objective);  /* CB_EARG for another word */

/* DIR/tune.json: everything the driver needs, absolute paths. */
typedef struct {
    char coinbc[4096], train[4096], val[4096], dir[4096];
    char method[16], storage[4096], study[256];
    int trials, epochs, jobs, threads, prune;
    int objective;                  /* RUN_TUNE_VAL_* ("objective"; absent: val_acc) */
    int64_t seed;
    int nfixed;                     /* train options after --, as argv words */
    char fixed[RUN_TUNE_MAX_FIXED][256];
    run_tune_space space;
} run_tune_spec;

/* A study name is 1 to RUN_TUNE_STUDY_MAX of A-Z a-z 0-9 . _ -, starting
 * with a letter or a digit (a key in a storage shared by machines, and part
 * of every log line). A storage is journal:PATH (PATH not empty, not ending
 * in /) or an Optuna RDB URL, without control characters. Both return 0 or
 * CB_EARG with a one-line message that quotes the value with its control
 * characters escaped. run_tune_spec_read checks both. */
#define RUN_TUNE_STUDY_MAX 64
int run_tune_study_name_check(const char *name, cb_err *e);
int run_tune_storage_check(const char *url, cb_err *e);
/* malloc'd JSON text of the spec (free it); NULL when out of memory */
char *run_tune_spec_json(const run_tune_spec *s);
int run_tune_spec_write(const char *path, const run_tune_spec *s, cb_err *e);
int run_tune_spec_read(run_tune_spec *out, const char *path, cb_err *e);
/* 0 when a and b define the same study (method, epochs, seed, prune, fixed
 * options, space, study name, storage); otherwise e names the first difference. */
/* The default storage: Optuna's journal file DIR/study.journal, named
 * relative to the tune folder (the driver resolves it against "dir"). */
#define RUN_TUNE_DEFAULT_STORAGE "journal:study.journal"
int run_tune_spec_same_study(const run_tune_spec *a, const run_tune_spec *b, cb_err *e);

/* One finished trial of a study. */
enum { RUN_TUNE_COMPLETE = 0, RUN_TUNE_PRUNED = 1, RUN_TUNE_FAIL = 2 };
typedef struct {
    int number, state;
    run_tune_value opt[RUN_TUNE_MAX_PARAMS]; /* in the order of the result's params */
    double value;                            /* the objective's figure (best epoch); NAN when none (FAIL) */
    int epochs_run;
    double seconds;
    char run[4096];
} run_tune_trial;

typedef struct {
    int objective;          /* RUN_TUNE_VAL_*: "objective" of the driver's output, trials.csv's value column */
    int nparams;
    char param[RUN_TUNE_MAX_PARAMS][32];
    int ntrials;
    run_tune_trial *trials; /* malloc'd, by number */
} run_tune_result;

const char *run_tune_state_name(int state);
/* The driver's stdout (JSON, docs/FORMATS.md). */
int run_tune_result_parse(run_tune_result *out, const char *json, size_t n, cb_err *e);
void run_tune_result_free(run_tune_result *r);
/* index of the best finished trial, COMPLETE or PRUNED, by its best epoch's
 * value (highest, or lowest under RUN_TUNE_VAL_LOSS; lowest number on ties),
 * or -1 */
int run_tune_best(const run_tune_result *r);

/* DIR/trials.csv: number,state,<params>,value,epochs_run,seconds,run (the value column is val_loss under
 * RUN_TUNE_VAL_LOSS; the reader sets r->objective from it) */
int run_tune_trials_write(const char *path, const run_tune_result *r, cb_err *e);
int run_tune_trials_read(run_tune_result *out, const char *path, cb_err *e);

/* DIR/best.json: the best trial's coinbc train options ({option: value}):
 * method, tau, lr, the searched options, the fixed options and epochs. */
int run_tune_best_write(const char *path, const run_tune_spec *s, const run_tune_result *r, int best, cb_err *e);
/* best.json as train argv words ("--method", "and", "--tau", "0.5", ...):
 * malloc'd one-line text "--method and --tau 0.5 ..." */
int run_tune_best_args(char **out, const char *path, cb_err *e);

#endif
