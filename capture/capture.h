/* capture.h - recordings in and out: PNG-folder recordings and NumPy .npz
 * episodes converted into a dataset, datasets exported back to either.
 * (Expert play into recordings is capture/record.h.) */
#ifndef COINBC_CAPTURE_H
#define COINBC_CAPTURE_H

#include <stdint.h>

#include "common/common.h"
#include "dataset/dataset.h"

typedef struct {
    int has_range;
    int32_t lo, hi;      /* --levels filter (inclusive) */
    int skip_bad;        /* capture the other levels when one is bad */
    /* take the finished levels of a recordings folder whose record was
     * stopped (plan.json without meta.json), warning which are missing;
     * without it such a folder is refused */
    int allow_incomplete;
    int append;          /* add to an existing dataset */
    int threads;
    int has_mode, mode;  /* --mode: 0 easy, 1 hard, for recordings that do not say (meta.json does) */
    const char *command; /* stored in the manifest */
    /* warnings (e.g. an alpha channel dropped) and progress, from any thread */
    void (*warn)(void *ctx, const char *msg);
    void (*progress)(void *ctx, int levels_done, int levels_total);
    void *ctx;
} capture_opts;

typedef struct {
    int inputs;       /* recordings found (level folders + npz files) */
    int levels;       /* levels written */
    int64_t frames, episodes;
    int nskipped;
    char **skipped;   /* messages of skipped levels (skip_bad), malloc'd */
} capture_summary;
void capture_summary_free(capture_summary *s);

/* Converts recordings into the dataset `out`. Inputs: a recordings folder
 * holding level_SEED folders and/or .npz files, a single level_SEED folder, or
 * an .npz file. Several inputs and episodes of one level go into that level's
 * shard in a stable order (PNG folders first, then .npz by file name). */
int capture_run(const char *const *inputs, int n, const char *out, const capture_opts *o, capture_summary *s,
                cb_err *e);

/* One PNG-folder recording (frame_NNNNNN.png + actions.csv) as a level.
 * *alpha is set when an alpha channel was dropped. The mode comes from the
 * folder's meta.json ("mode": "easy"|"hard", as coinbc record writes it),
 * else it is -1 (unknown). */
int capture_read_pngdir(const char *dir, int32_t seed, ds_level *out, int *alpha, cb_err *e);
/* One .npz episode as a level (episode 0); seed from the file name. */
int capture_read_npz(const char *path, ds_level *out, cb_err *e);
/* The same from the bytes of an .npz file; `path` is used in messages, T is
 * the step count the name gives (-1: not checked). */
int capture_npz_decode(const uint8_t *buf, size_t n, const char *path, int32_t seed, int64_t T, ds_level *out,
                       cb_err *e);
/* The longest .npz episode capture takes (procgen ends an episode at 1000
 * steps): a longer one is refused with CB_ERANGE before it is inflated, so a
 * small file that inflates to gigabytes (zeros) cannot take that memory.
 * The frames are inflated straight into the level: 61 MB at most. */
#define CAPTURE_NPZ_MAX_STEPS 5000
/* The largest .npz file read (64 MiB): the observations of the longest
 * episode taken, 5001 x 12288 bytes stored, plus 16 members of 5000 items of
 * at most 16 bytes with their .npy headers and zip records. */
#define CAPTURE_NPZ_MAX_BYTES ((size_t)64 << 20)
/* {timestamp}_{index}_{T}_{seed}_{return}.npz -> seed, index, T. */
int capture_parse_npz_name(const char *path, int32_t *seed, int64_t *index, int64_t *T);

/* Export: PNG level folders (frame_NNNNNN.png, actions.csv with label,
 * executed, episode, episode_step) or one .npz per episode. */
int capture_export_png(const ds_level *l, const char *dir, cb_err *e);
int capture_export_npz(const ds_level *l, const char *dir, cb_err *e);

/* An export's output folder, all or nothing: open locks DIR (cb_lock), refuses
 * a DIR that holds anything unless force, and makes an empty sibling
 * "DIR.export-tmp.XXXXXX" (x->tmp) to export into. commit swaps it with DIR
 * (renameat2 RENAME_EXCHANGE, else two renames) and removes the old content,
 * so DIR never mixes old and new files; abort removes the sibling (and DIR
 * when open created it). Both release the lock. */
typedef struct {
    cb_lock lock, tlock;
    char dir[4096], tmp[4200];
} capture_export_out;
int capture_export_open(capture_export_out *x, const char *dir, int force, const char *command, cb_err *e);
int capture_export_commit(capture_export_out *x, cb_err *e);
void capture_export_abort(capture_export_out *x);
/* coinbc data export: the levels of `data` with seeds lo..hi (none is
 * CB_ENOTFOUND) exported as PNG level folders or (npz) .npz episodes into
 * out through capture_export_open (force: replace what out holds) and
 * committed; a failure leaves out as it was. Progress on stderr unless
 * quiet; *count: the levels exported. */
typedef struct {
    const char *data, *out;
    int32_t lo, hi;
    int npz, force, quiet;
    const char *command; /* for the lock of out */
} capture_export_run_opts;
int capture_export_run(int *count, const capture_export_run_opts *o, cb_err *e);

#endif
