/* record.h - expert play -> recordings: plays levels with the expert planner
 * (game_expert_act), optionally executing a random action instead with
 * probability `noise`, and writes a recordings folder (one level_SEED folder
 * per level with frame_NNNNNN.png, actions.csv and meta.json, plus a
 * meta.json for the whole run; layout in docs/FORMATS.md, "Recordings folders").
 * Levels run in parallel; the output is identical for any thread count.
 * Under mpirun each rank records a contiguous share of the levels and the
 * output is the same bytes as one process's (docs/MPI.md). */
#ifndef COINBC_CAPTURE_RECORD_H
#define COINBC_CAPTURE_RECORD_H

#include <stdint.h>

#include "common/common.h"
#include "game/game.h"

typedef struct {
    int32_t lo, hi;   /* level seeds, inclusive, 0 <= lo <= hi */
    int mode;         /* GAME_EASY or GAME_HARD */
    int64_t states;   /* states recorded per level, >= 1 */
    double noise;     /* probability of executing a random action, in [0, 1] */
    uint64_t seed;    /* noise RNG: level L uses cb_rng_seed2(seed, L) */
    const char *out;  /* output folder (ignored when dataset is set) */
    /* If set, each level goes straight into this dataset (in memory, then one
     * shard) instead of PNG files; the caller opens and commits the writer. */
    struct ds_writer *dataset;
    /* Under mpirun with several ranks, on the ranks other than 0 (where
     * dataset is NULL): the dataset folder, where they write their levels'
     * shards for rank 0's writer to list (ds_writer_adopt). */
    const char *dataset_dir;
    int force;        /* write into an existing folder (stale level files are replaced) */
    int threads;      /* worker threads, >= 1 */
    /* The command line shown to a second writer of `out` (the folder is
     * locked for the whole run, common.h cb_lock); NULL: "coinbc record". */
    const char *command;
    /* Optional progress callback, called from worker threads (the callee
     * locks): `states` more states were recorded; `level_done` is 1 when a
     * level was finished. */
    void (*progress)(void *ctx, int64_t states, int level_done);
    void *progress_ctx;
} capture_record_opts;

typedef struct {
    int64_t levels, states;
    int64_t episodes;        /* episodes that ended (coin, death or timeout) */
    int64_t coins, deaths, timeouts;
    int64_t random_actions;  /* steps where the executed action was a random one */
    int64_t searches;        /* expert plans made (first plans and replans) */
    int64_t expert_nopath;   /* expert searches that found no way to the coin (doomed states) */
    int64_t expert_budget;   /* expert searches that ran out of budget */
} capture_record_summary;

/* Validates the options (messages name the option), then records. Returns 0
 * or a negative CB_E* code with a message naming the path or the level:
 * CB_EARG for bad options, CB_EEXIST when `out` exists and force is 0,
 * CB_EBUSY when another process is writing `out`, CB_EIO when a file or
 * folder cannot be written. A failed run into a folder it created removes
 * that folder again. */
int capture_record(const capture_record_opts *o, capture_record_summary *sum, cb_err *e);

/* coinbc record (capture/record_run.c): capture_record into rec.out, a
 * recordings folder, or for a name ending in .cbd straight into a dataset
 * (opened here, an existing one only with rec.force; committed after the
 * last level, taken back on a failure), with the progress of all levels on
 * stderr unless quiet. rec.progress, .dataset and .dataset_dir are set here;
 * mode_word is the mode as the user wrote it, which the dataset's source line
 * quotes. *seconds: the time of the recording itself. */
typedef struct {
    capture_record_opts rec;
    const char *mode_word;
    int quiet;
} capture_record_run_opts;
int capture_record_run(capture_record_summary *s, double *seconds, const capture_record_run_opts *o, cb_err *e);
/* whether out names a dataset (ends in .cbd) */
int capture_record_is_dataset(const char *out);

/* The actions.csv header line (without newline). */
#define CAPTURE_RECORD_CSV_HEADER "step,action,reward,done,label,executed,episode,episode_step"

#endif
