/* eval.h - how well a policy does on levels: offline accuracy against the
 * expert's labels, closed-loop play in the engine, and reports. */
#ifndef COINBC_EVAL_H
#define COINBC_EVAL_H

#include <stdint.h>

#include "common/common.h"
#include "game/game.h"

/* ---- statistics ---------------------------------------------------------- */
/* 95% Wilson score interval of a rate k/n. */
void eval_wilson(int64_t k, int64_t n, double *lo, double *hi);
/* Mean and half-width of a 95% normal interval of the mean. */
void eval_mean_ci(const double *x, int64_t n, double *mean, double *half);
/* Mean and half-width of a 95% interval of the mean from Student's t
 * distribution with n-1 degrees of freedom (for a few seeds; half = 0 when
 * n < 2). */
void eval_mean_ci_t(const double *x, int64_t n, double *mean, double *half);
/* Welch's t-test (unequal variances) of mean(a) - mean(b). */
typedef struct {
    double mean_a, mean_b, t, df, p; /* p: two-sided */
} eval_welch_result;
/* t = (mean_a - mean_b) / sqrt(va/na + vb/nb) with unbiased variances, df by
 * Welch-Satterthwaite, p = 2 P(T_df > |t|). CB_EARG when na or nb < 2 (no
 * variance). When both variances are 0: t = +-inf and p = 0 if the means
 * differ, t = p = NaN if not; df = NaN (as scipy.stats.ttest_ind). */
int eval_welch(const double *a, int64_t na, const double *b, int64_t nb, eval_welch_result *out, cb_err *e);
/* Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1 (NaN
 * outside); continued fraction, relative error about 1e-14. */
double eval_betainc(double a, double b, double x);
/* Student t distribution with df > 0 degrees of freedom: the CDF, and the
 * quantile (inverse CDF) for 0 < p < 1. */
double eval_t_cdf(double t, double df);
double eval_t_quantile(double p, double df);
/* Holm's step-down adjustment of n p-values, in the order given: the r-th
 * smallest of the m finite ones becomes max over j <= r of
 * min(1, (m - j + 1) p_(j)); a NaN stays NaN and is not counted as a test. */
void eval_holm(double *adj, const double *p, int n);

/* ---- the comparison's table (compare.c) ---------------------------------- */
#define EVAL_CMP_MAXSEEDS 64
#define EVAL_CMP_MAXMETHODS 32
#define EVAL_CMP_MAXTOP 64
/* One method's figures: its final runs (per seed with a `done` marker) and
 * probe runs, in seed order. */
typedef struct {
    char name[32];
    int n, nroll, nprobe, napp;
    double train[EVAL_CMP_MAXSEEDS], test[EVAL_CMP_MAXSEEDS], gap[EVAL_CMP_MAXSEEDS], roll[EVAL_CMP_MAXSEEDS];
    double train_loss[EVAL_CMP_MAXSEEDS], test_loss[EVAL_CMP_MAXSEEDS];
    double probe[3][EVAL_CMP_MAXSEEDS]; /* relabeled, true-label, test levels */
    /* appearance.json of the final runs (all or none): closed-loop success per cell
     * (RUN_APP_SS, SU, US, UU), SS - SU, and offline agreement in cells
     * (seen layout, unseen look), (held-out layout, training look), (held-out layout, unseen look) */
    double app_play[4][EVAL_CMP_MAXSEEDS], app_drop[EVAL_CMP_MAXSEEDS], app_agree[3][EVAL_CMP_MAXSEEDS];
    int has_origin;
    char origin[1024]; /* configs/METHOD.origin, stripped */
    /* the top-N figure (eval_compare_load_top): the N best trials of the study by
     * validation, each's best checkpoint on the test levels */
    int top_wanted, ntop, top_minimize;
    int top_trial[EVAL_CMP_MAXTOP];
    double top_val[EVAL_CMP_MAXTOP], top_loss[EVAL_CMP_MAXTOP], top_acc[EVAL_CMP_MAXTOP];
    int top_again, top_again_exact; /* of them, trained again (top/M/trial-NNNN.retrained), and bit for bit */
    double top_again_rel;           /* the largest relative difference of those not bit for bit */
    int top_outside;                /* of them, how many came back beyond their tolerance (kept as trained here) */
    int top_outside_trial[EVAL_CMP_MAXTOP];
    double top_outside_rel[EVAL_CMP_MAXTOP], top_outside_tol; /* their differences, and the tolerance */
} eval_compare_method;
/* Reads METHOD's figures from the comparison folder `state`: runs/METHOD-S/
 * (eval.json with training figures, rollout.json and appearance.json if any
 * run has one: all or none) for each final seed S, probe/METHOD/ (probe seed
 * 1) or probe/METHOD-S/ (relabeled.json, true.json, test.json),
 * configs/METHOD.origin. */
int eval_compare_load(eval_compare_method *out, const char *state, const char *method, const int *seeds, int nseeds,
                      const int *probe_seeds, int nprobe, cb_err *e);
/* The top-N trials of a study (trials.csv read through run/): every trial
 * with a figure (finished or pruned, each at its best validation epoch),
 * best first (highest accuracy or lowest loss, lower number on ties); at
 * most n of them into numbers[]. Returns how many, or a negative code. */
int eval_compare_top_pick(int *numbers, double *values, int n, const char *trials_csv, int *minimize, cb_err *e);
/* Adds the top-N figure to m: the picks of state/tune/METHOD/trials.csv and
 * their test figures, state/top/METHOD/trial-NNNN.json (eval.json's format);
 * a pick whose file is missing is not counted. */
int eval_compare_load_top(eval_compare_method *m, const char *state, int n, cb_err *e);
/* The comparison's Markdown table: mean +- 95% t half-width over seeds,
 * Welch's t-test of test accuracy (and of test loss, with `loss`) and
 * rollout success of every other method against `base`, Holm-adjusted per
 * column; the origins; the probe; the top-N figure; the appearance probe. */
int eval_compare_table(FILE *f, const eval_compare_method *ms, int nm, const char *base, int loss, cb_err *e);

/* CoinRun-equivalent action: 9..14 are NOOP (4). */
int eval_merge_action(int a);

/* ---- policies ---------------------------------------------------------- */
/* A policy maps a batch of frames (n x 64x64x3 RGB) to action probabilities
 * (n x 15). `worker` is the id of the calling thread (0..nworkers-1): an
 * implementation keeps per-worker scratch so workers may call concurrently.
 * Results for a frame must not depend on the other frames in the batch. */
typedef struct {
    void *self;
    int (*probs)(void *self, int worker, const uint8_t *frames, int n, float *probs, cb_err *e);
} eval_policy;

/* ---- offline accuracy ---------------------------------------------------- */
/* Accumulated over frames; per-level figures are kept for the levels seen. */
typedef struct {
    int32_t seed;
    int64_t n, correct, correct_merged;
    double loss_sum;
} eval_level_acc;

typedef struct {
    int64_t n, correct, correct_merged;
    double loss_sum;                   /* sum of -log p(label) */
    int64_t confusion[CB_NUM_ACTIONS][CB_NUM_ACTIONS]; /* [label][predicted] */
    int nlevels, cap;
    eval_level_acc *levels;            /* malloc'd, one per level added */
} eval_acc;

void eval_acc_init(eval_acc *a);
void eval_acc_free(eval_acc *a);
/* Adds n frames of one level: labels (n) and the policy's probabilities
 * (n x 15). Prediction = argmax. */
int eval_acc_add(eval_acc *a, int32_t seed, const uint8_t *labels, const float *probs, int64_t n, cb_err *e);

typedef struct {
    double acc, acc_merged, loss;
    double level_mean, level_std;      /* per-level accuracy across levels */
    int worst[5], nworst;              /* indices into a->levels, lowest accuracy first */
} eval_acc_summary;
void eval_acc_summarize(eval_acc_summary *s, const eval_acc *a);

/* ---- closed-loop play ---------------------------------------------------- */
enum { EVAL_AGENT_POLICY = 0, EVAL_AGENT_EXPERT = 1, EVAL_AGENT_RANDOM = 2 };

typedef struct {
    int32_t seed;
    int episodes;
    int coins, deaths, timeouts;
    int64_t steps_to_coin; /* summed over the episodes that reached the coin */
    int64_t steps;         /* all steps played */
} eval_level_result;

typedef struct {
    int agent;             /* EVAL_AGENT_* */
    const eval_policy *policy; /* for EVAL_AGENT_POLICY */
    /* for EVAL_AGENT_EXPERT: plays one level's episodes with the expert,
     * filling *out (the expert works on game states, not frames). */
    int (*expert_level)(void *self, int worker, int32_t seed, int mode, int episodes, eval_level_result *out,
                        cb_err *e);
    void *expert_self;
    int mode;              /* GAME_EASY / GAME_HARD */
    int episodes;          /* per level */
    int sample;            /* 1: sample from the probabilities, 0: greedy argmax */
    uint64_t seed;         /* sampling / random-policy RNG seed */
    int threads;
    int quiet;
    const char *label;     /* progress label */
    /* Optional film: frames of the first film_levels levels' first episode,
     * up to film_steps each (filled by the rollout). */
    int film_levels, film_steps;
    uint8_t *film;         /* film_levels * film_steps * CB_FRAME_BYTES */
    uint8_t *film_action;  /* film_levels * film_steps, 255 = no frame */
    int *film_len, *film_outcome;
    /* Optional: looks[i] is given to level seeds[i] after generation
     * (game_level_set_appearance; the appearance probe's closed loop). */
    const game_appearance *looks;
} eval_rollout_opts;

/* Plays levels seeds[0..n) and fills out[0..n). Levels are processed in
 * fixed chunks (batched policy calls inside a chunk) handed to threads, so the
 * results do not depend on the thread count. */
int eval_rollout(eval_level_result *out, const int32_t *seeds, int n, const eval_rollout_opts *o, cb_err *e);

typedef struct {
    int levels, episodes, coins, deaths, timeouts;
    double success, success_lo, success_hi;
    double death_rate, timeout_rate;
    double mean_steps_to_coin, steps_half; /* over successful episodes, with a 95% half-width */
} eval_rollout_summary;
void eval_rollout_summarize(eval_rollout_summary *s, const eval_level_result *r, int n);

/* ---- the appearance probe, offline (eval/appearance.c) ----------
 * What a policy's decisions owe to a level's look: states come from expert
 * play with noise on the training levels (seen layouts) and on held-out
 * levels (unseen layouts), as `coinbc record` plays (the executed action is a
 * uniformly random one with probability `noise`, from cb_rng_seed2(seed,
 * level), so the same seed and noise give record's states). Every state is
 * rendered in the level's own look and in K donors' looks (docs/SPEC.md 5.6):
 * looks of training levels for held-out layouts, unseen looks (a background
 * and a (wall, player) pair no training level has; offset and enemy and
 * crate themes drawn afresh as procgen draws them) for both. The figures per
 * cell: accuracy against the expert's label, agreement (argmax equal to the
 * original frame's), and KL(original || variant) of the action distributions.
 * Levels run in parallel, each into its own slot: the result is the same for
 * any thread count. */
#define EVAL_APP_MAX_DONORS 16
enum { EVAL_APP_ORIG = 0, EVAL_APP_SEEN = 1, EVAL_APP_UNSEEN = 2, EVAL_APP_NLOOKS = 3 };

typedef struct {
    int64_t n;        /* frames */
    int64_t correct;  /* argmax == expert's label */
    int64_t agree;    /* argmax == the original frame's argmax */
    double kl;        /* sum over frames of KL(p_original || p_variant), nats */
} eval_app_cell;

typedef struct {
    int32_t seed;
    int heldout;                               /* 0: a training level, 1: held out */
    int ndonors;
    int32_t seen_donor[EVAL_APP_MAX_DONORS];   /* held-out levels: the training levels whose looks they got */
    uint8_t unseen_look[EVAL_APP_MAX_DONORS][3]; /* bg, wall, player of each unseen look (hard mode) */
    int64_t random_actions;                    /* noisy steps taken */
    eval_app_cell cell[EVAL_APP_NLOOKS];       /* [EVAL_APP_ORIG / _SEEN / _UNSEEN] */
} eval_app_level;

typedef struct {
    const eval_policy *policy;
    int mode;
    const int32_t *train; /* training level seeds: seen layouts, and the seen looks */
    int ntrain;
    const int32_t *heldout; /* held-out level seeds, none of them a training level */
    int nheldout;
    int64_t states;       /* states per level, >= 1 */
    double noise;         /* in [0, 1] */
    uint64_t seed;        /* noise and donor choice */
    int donors;           /* K, 1..EVAL_APP_MAX_DONORS */
    int threads;          /* 0: cb_default_threads() */
    const game_expert_opts *expert; /* NULL: defaults */
    /* has_part: only levels [part_lo, part_hi) of the order below are played
     * (one rank's share under mpirun); the others keep their seed alone */
    int has_part;
    int64_t part_lo, part_hi;
} eval_app_opts;

/* Fills out[0..ntrain) for the training levels (in the order given) and
 * out[ntrain..ntrain+nheldout) for the held-out ones, and *sets with the seen
 * and unseen looks of the training levels. CB_EARG with a one-line message
 * for no training levels, K outside 1..16, a held-out level that is a
 * training level, bad states or noise; easy mode has no unseen looks, so its
 * EVAL_APP_UNSEEN cells stay empty (sets->varies_bg_pair = 0). */
int eval_appearance_offline(eval_app_level *out, game_appearance_sets *sets, const eval_app_opts *o, cb_err *e);
/* Sums levels in order into sum[layout][look], layout 0 = training levels,
 * 1 = held out. */
void eval_appearance_sum(eval_app_cell sum[2][EVAL_APP_NLOOKS], const eval_app_level *lv, int n);

/* ---- the appearance probe, closed loop (eval/appearance_rollout.c) -------
 * Greedy play in four cells: layout seen (the training levels) or unseen
 * (the held-out levels) x look seen or unseen. seen/seen: each training
 * level as it is; seen/unseen: each training level in the K unseen looks the
 * offline probe gives it; unseen/seen: each held-out level in the K training
 * levels' looks the offline probe gives it; unseen/unseen: each held-out
 * level as it is. The donors are the offline probe's (the same --seed gives
 * the same looks, eval_appearance_looks). One greedy episode per (level,
 * look): a level replays identically episode after episode (num_levels=1,
 * the per-step parities restart), so a second greedy episode repeats the
 * first. Played by eval_rollout (chunks of 8 episodes in lockstep), so the
 * result does not depend on the thread count; with no unseen looks (easy
 * mode, or training levels that leave none) seen/unseen is empty. */
enum { EVAL_APP_SS = 0, EVAL_APP_SU = 1, EVAL_APP_US = 2, EVAL_APP_UU = 3, EVAL_APP_NPLAY = 4 };

typedef struct {
    int32_t seed;            /* the level (its layout) */
    int cell;                /* EVAL_APP_SS .. EVAL_APP_UU */
    int donor;               /* -1: its own look; else the index of the look among the level's K */
    game_appearance look;    /* the look it is played in (its own for donor -1) */
} eval_app_episode;

typedef struct {
    int64_t episodes, coins, deaths, timeouts;
    double success, lo, hi;  /* coins / episodes and its 95% Wilson interval (0, 0, 0 when empty) */
} eval_app_play;

/* The episodes of the closed loop, in a fixed order: per training level
 * (in o->train's order) its own look, then its K unseen looks; per held-out
 * level its own look, then its K seen looks. *eps is malloc'd (*n entries).
 * The same checks as eval_appearance_offline; fills *sets too. */
int eval_appearance_episodes(eval_app_episode **eps, int64_t *n, game_appearance_sets *sets, const eval_app_opts *o,
                             cb_err *e);
/* Plays episodes eps[0..n) greedily with o->policy (o->threads workers) into
 * out[0..n); any sub-range gives the same results as the whole. */
int eval_appearance_play(eval_level_result *out, const eval_app_episode *eps, int64_t n, const eval_app_opts *o,
                         cb_err *e);
/* Sums the episodes into the four cells, with Wilson intervals. */
void eval_appearance_play_sum(eval_app_play cell[EVAL_APP_NPLAY], const eval_app_episode *eps,
                              const eval_level_result *res, int64_t n);

/* ---- the commands eval, rollout and appearance ---------------------------
 * One entry point per command (eval/accuracy_run.c, rollout_run.c,
 * appearance_run.c). Each opens the checkpoint (a missing one is
 * CB_ENOTFOUND with what the run folder holds instead and what to do), does
 * the work, under mpirun each rank its contiguous share with rank 0
 * gathering in rank order (so rank 0 has the bytes of one process), and on
 * rank 0 writes the command's records through run/. The command has checked
 * its options and outputs (cb_path_check_output) first; a result is what it
 * prints. On the other ranks json stays NULL and nothing is written. */
typedef struct {
    const char *run;        /* RUN: eval.json and eval_frames.png go here; config.json names its training data */
    const char *data;       /* the held-out dataset */
    const char *checkpoint; /* e.g. RUN/best.ckpt */
    int32_t lo, hi;         /* held-out level seeds of data, inclusive */
    int no_train;           /* skip the run's training levels */
    int quiet;              /* no progress */
} eval_accuracy_run_opts;

typedef struct {
    eval_acc test, train;
    int has_train;            /* train holds the run's training levels */
    char train_skipped[1024]; /* why they were not evaluated, when their dataset did not open ("" otherwise) */
    char *json;               /* eval.json's text, set once encoded (then printed even if a write fails) */
} eval_accuracy_run_result;

/* coinbc eval: the offline accuracy of the checkpoint on data's levels lo..hi
 * (streamed level by level) and on the run's training levels (config.json's
 * data and range; none when RUN has no config.json); writes RUN/eval.json
 * and RUN/eval_frames.png (the middle frame of each of the first 8 held-out
 * levels with the expert's and the policy's action, one row of an
 * eval_sheet; none when no held-out level has a frame). No level of data in
 * lo..hi is CB_ENOTFOUND. Free the result with eval_accuracy_run_free (also
 * after a failure). */
int eval_accuracy_run(eval_accuracy_run_result *r, const eval_accuracy_run_opts *o, cb_err *e);
void eval_accuracy_run_free(eval_accuracy_run_result *r);

typedef struct {
    const char *run;        /* RUN: rollout.json goes here */
    const char *checkpoint;
    int32_t lo, hi;         /* level seeds, inclusive, at most 1000000 of them */
    int mode, episodes, sample;
    uint64_t seed;
    int threads;            /* >= 1 */
    int quiet;
    const char *film;       /* a contact sheet of the first episodes of up to 8 levels, or NULL */
} eval_rollout_run_opts;

typedef struct {
    eval_rollout_summary who[3]; /* the policy, the expert, a uniformly random policy (EVAL_AGENT_*) */
    char *json;                  /* rollout.json's text, set once written (then printed even if the film fails) */
} eval_rollout_run_result;

/* coinbc rollout: the checkpoint, the expert and a random policy play levels
 * lo..hi; writes RUN/rollout.json, then the film. */
int eval_rollout_run(eval_rollout_run_result *r, const eval_rollout_run_opts *o, cb_err *e);
void eval_rollout_run_free(eval_rollout_run_result *r);

/* coinbc appearance, first part: the run's training levels, the levels of
 * its training dataset (RUN/config.json's data) in config.json's seed range,
 * into *seeds (malloc'd, also after a failure: free it) and *n. *mode: -1
 * takes the levels' mode, else it must be theirs. Refuses (with a one-line
 * message) a run without config.json or training data, levels of both modes,
 * no training level in the dataset, an unknown mode, and held-out levels
 * lo..hi that overlap the training levels. */
int eval_appearance_levels(int32_t **seeds, int *n, int *mode, const char *run, int32_t lo, int32_t hi, cb_err *e);

typedef struct {
    const char *run;          /* RUN (for the message when the checkpoint is missing) */
    const char *checkpoint;
    const char *out;          /* appearance.json to write */
    const int32_t *train;     /* the training levels (eval_appearance_levels) */
    int ntrain;
    int32_t lo, hi;           /* held-out level seeds, inclusive, at most 100000 */
    int mode;
    int64_t states;
    int donors;
    double noise;
    int64_t seed;
    int threads;              /* >= 1 */
} eval_appearance_run_opts;

typedef struct {
    game_appearance_sets sets;
    eval_app_cell cell[2][EVAL_APP_NLOOKS]; /* offline: [training, held-out][own, seen, unseen] */
    eval_app_play play[EVAL_APP_NPLAY];     /* closed loop */
    int64_t episodes, steps;                /* closed loop: episodes and steps played */
    double offline_s, closed_s;             /* seconds */
    char *json;                             /* appearance.json's text, set once written */
} eval_appearance_run_result;

/* coinbc appearance: eval_appearance_offline, then eval_appearance_episodes
 * and _play; writes o->out (appearance.json, checked by run/'s reader first). */
int eval_appearance_run(eval_appearance_run_result *r, const eval_appearance_run_opts *o, cb_err *e);
void eval_appearance_run_free(eval_appearance_run_result *r);

/* coinbc report TUNEDIR...'s table on f (eval/tune_table.c): per study the
 * trials complete, pruned and failed, and the best trial's number and value
 * (trials.csv through run/). */
int eval_tune_table(FILE *f, const char *const *dirs, int n, cb_err *e);

/* ---- pictures ------------------------------------------------------------ */
/* Draws text in a 3x5 pixel font (digits, capitals, ": - / . + % =") at (x, y). */
void eval_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, const uint8_t color[3]);
/* A contact sheet (film.c): rows x cols cells, each a 64x64 frame inside a
 * 1-pixel border with label_lines lines of text under it, a head column
 * head_w pixels wide at the left of the rows and a title row top pixels
 * high above the columns; black where nothing is drawn. */
typedef struct {
    uint8_t *rgb; /* w x h x 3, row 0 at the top */
    int w, h, rows, cols;
    int head_w, top, cell_w, cell_h;
} eval_sheet;
int eval_sheet_init(eval_sheet *s, int rows, int cols, int head_w, int top, int label_lines, cb_err *e);
void eval_sheet_free(eval_sheet *s);
/* The top-left pixel of cell (row, col)'s frame. */
void eval_sheet_frame_xy(const eval_sheet *s, int row, int col, int *x, int *y);
void eval_sheet_frame(eval_sheet *s, int row, int col, const uint8_t *frame);
/* Text on label line `line` under cell (row, col)'s frame. */
void eval_sheet_label(eval_sheet *s, int row, int col, int line, const char *text, const uint8_t color[3]);
/* The same, dx pixels right of the line's start (two labels side by side on one line). */
void eval_sheet_label_at(eval_sheet *s, int row, int col, int line, int dx, const char *text, const uint8_t color[3]);
/* Text in the head column of `row`, dy pixels below the row's top. */
void eval_sheet_head(eval_sheet *s, int row, int dy, const char *text, const uint8_t color[3]);
/* Text in the title row above column col. */
void eval_sheet_title(eval_sheet *s, int col, const char *text, const uint8_t color[3]);
/* The sheet as a PNG, atomically (game_write_png). */
int eval_sheet_write(const eval_sheet *s, const char *path, cb_err *e);
/* A contact sheet PNG: one row per level's first episode (the film_* arrays
 * of eval_rollout_opts), `cols` frames per row. */
int eval_film_write(const char *path, const int32_t *seeds, int nlevels, const uint8_t *film,
                    const uint8_t *film_action, const int *film_len, const int *film_outcome, int film_steps, int cols,
                    cb_err *e);

/* ---- the appearance probe's strip (eval/appearance_strip.c) ------------
 * Example frames of the probe: up to EVAL_APP_STRIP_TRAIN training levels
 * and EVAL_APP_STRIP_HELD held-out levels, drawn without repeats from the
 * probe's levels (in o->train's and o->heldout's order; all of them when
 * there are fewer), each at one state drawn uniformly from its o->states
 * states, all from the stream cb_rng_seed2(o->seed ^ 0x6170706561720002, 0)
 * (training levels, then held-out levels, then the steps). Each state is
 * the probe's own (its level's play replayed, eval_app_state), shown in the
 * level's own look, in the first training level's look the probe gives a
 * held-out level, and in the first unseen look it gives any level (when
 * there are unseen looks); the expert's label and the policy's argmax on
 * each frame (worker 0, one batch). */
#define EVAL_APP_STRIP_TRAIN 2
#define EVAL_APP_STRIP_HELD 2
#define EVAL_APP_STRIP_ROWS (EVAL_APP_STRIP_TRAIN + EVAL_APP_STRIP_HELD)
typedef struct {
    int32_t seed;
    int heldout;
    int64_t step;                    /* the state's step in its level's play, 0-based */
    int has[EVAL_APP_NLOOKS];        /* [EVAL_APP_ORIG] always, _SEEN for held-out levels, _UNSEEN with unseen looks */
    int32_t seen_donor;              /* the training level whose look _SEEN is (-1: none) */
    uint8_t unseen_look[3];          /* bg, wall, player of _UNSEEN */
    int label;                       /* the expert's */
    int action[EVAL_APP_NLOOKS];     /* the policy's argmax per look (-1 where the row has no such look) */
    uint8_t frame[EVAL_APP_NLOOKS][CB_FRAME_BYTES];
} eval_app_strip_row;
typedef struct {
    int nrows;                       /* training rows first */
    int cols[EVAL_APP_NLOOKS];       /* 1 for each look some row has: the strip's columns */
    eval_app_strip_row row[EVAL_APP_STRIP_ROWS];
} eval_app_strip;
/* The strip of o's probe (sets: the looks of o's training levels, as
 * eval_appearance_offline fills them). The same checks as the probe. */
int eval_appearance_strip(eval_app_strip *s, const eval_app_opts *o, const game_appearance_sets *sets, cb_err *e);
/* Draws it (initialising sh): a row per state with its level, layout and
 * step at the left, a column per look, under each frame E: the expert's
 * action, P: the policy's (green OK where they agree, red X where not) and,
 * for swapped looks, whether the policy's action is the one it takes on
 * the own look (SAME AS OWN) or not (MOVED). */
int eval_appearance_strip_draw(eval_sheet *sh, const eval_app_strip *s, cb_err *e);
/* The strip's file beside a record: FILE.json -> FILE.png, else FILE.png
 * (RUN/appearance.json -> RUN/appearance.png). CB_EARG when it does not fit. */
int eval_appearance_strip_path(char *out, size_t n, const char *record, cb_err *e);
/* Computes, draws and writes the strip beside the record file `record`
 * (atomically), and lists its states in rec's strip (run/run.h). */
struct run_appearance;
int eval_appearance_strip_save(struct run_appearance *rec, const char *record, const eval_app_opts *o,
                               const game_appearance_sets *sets, cb_err *e);

/* ---- report --------------------------------------------------------------- */
/* One self-contained HTML page comparing run folders (see report.c for the
 * files it reads), written atomically. */
int eval_report_write(const char *path, const char *const *runs, int nruns, cb_err *e);
/* The same comparison as a plain text table (one line per run) on f. Both
 * read the run folders through run/'s strict readers: a missing file leaves
 * its cells empty, a damaged one is an error naming the file and key. */
int eval_report_table(FILE *f, const char *const *runs, int nruns, cb_err *e);
/* The same figures as a JSON array, one object per run (read through run/'s
 * strict readers; null where a record is missing): run, method, tau, seed,
 * epochs_done, train_acc, test_acc, gap, test_levels, rollout_success (+ _lo,
 * _hi), rollout_episodes, probe_relabeled_acc, probe_true_acc, probe_test_acc,
 * appearance (the appearance probe's offline groups, or null).
 * For scripts: they read run folders through this, never the files. */
int eval_report_json(FILE *f, const char *const *runs, int nruns, cb_err *e);

/* ---- charts -------------------------------------------------------------- */
/* A line chart as inline SVG (no scripts), series drawn in distinct colours
 * with a legend. NaN y values are gaps. */
typedef struct {
    const char *name;
    const double *x, *y;
    int n;
} eval_series;
void eval_svg_lines(FILE *f, const char *title, const char *xlabel, const char *ylabel, const eval_series *s,
                    int ns, int width, int height);
/* A chart of series in given styles (st NULL: the palette by index):
 * lines, or bars (a histogram: each x is a bin's centre, bins bin_width
 * wide, the series' bars side by side in each bin, from 0). Axes get round
 * ticks around the data (eval_axis_nice); y_zero keeps 0 on the y axis. The
 * legend lists the series with a name, in rows that fit the width; note is
 * a line under it. Elements carry classes for tests: polyline.series,
 * rect.bar, text.ytick, text.xtick, text.legend. */
enum { EVAL_CHART_LINES = 0, EVAL_CHART_BARS = 1 };
typedef struct {
    const char *title, *xlabel, *ylabel;
    int width, height;
    int kind;         /* EVAL_CHART_LINES or EVAL_CHART_BARS */
    double bin_width; /* bars */
    int y_zero;
    const char *note; /* NULL: none */
} eval_chart;
typedef struct {
    char color[8]; /* "#rrggbb"; "" for the palette's */
    int dash;      /* 0 solid, 1 dashed, 2 dotted */
} eval_style;
void eval_svg_chart(FILE *f, const eval_chart *c, const eval_series *s, const eval_style *st, int ns);
/* An axis of round ticks (1, 2 or 5 x 10^k apart, about `target` of them)
 * from the largest tick <= lo to the smallest >= hi: data in [0.74, 0.83]
 * gets 0.74 to 0.84 by 0.02. One value gets a small span around it. */
typedef struct {
    double lo, hi, step;
    int nticks; /* lo, lo + step, ..., hi */
} eval_axis;
void eval_axis_nice(eval_axis *ax, double lo, double hi, int target);
/* The report's colour of a training method ("mean", "and", ...; one fixed
 * colour each, the same in every chart), NULL for anything else. */
const char *eval_method_color(const char *method);
/* Shade k of n of base "#rrggbb" (several runs of one method): k = 0 is
 * base, then alternately lighter and darker. */
void eval_color_shade(char out[8], const char *base, int k, int n);
/* Short names for run folders in legends and tables: for each path the
 * shortest suffix of whole components that no other path's name equals
 * (base names when they are distinct). */
#define EVAL_SHORT_NAME 128
void eval_short_names(char (*out)[EVAL_SHORT_NAME], const char *const *paths, int n);
/* Writes s with &, <, >, " escaped for HTML. */
void eval_html_escape(FILE *f, const char *s);

/* ---- tune folders (report_tune.c) ---------------------------------------- */
/* An HTML section for tune folders (DIR/trials.csv of coinbc tune): a table
 * per study, the optimization history (best value so far against the trial
 * number) and the value against each parameter, studies side by side. */
int eval_report_tune(FILE *f, const char *const *dirs, int n, cb_err *e);
/* The same section as a whole self-contained page, written atomically. */
int eval_report_tune_write(const char *path, const char *const *dirs, int n, cb_err *e);

#endif
