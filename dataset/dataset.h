/* dataset.h - coinbc datasets: a folder NAME.cbd with a versioned text
 * manifest and one compressed, checksummed shard per level (docs/FORMATS.md).
 * Any level can be read without the others; writes are atomic, so a crash or
 * a full disk leaves the dataset as it was. */
#ifndef COINBC_DATASET_H
#define COINBC_DATASET_H

#include <stdint.h>

#include "common/common.h"

/* The frame and the action count are defined once, in common/common.h; the
 * manifest and every shard header record them, so a reader checks them. */
_Static_assert(CB_FRAME_BYTES == CB_FRAME_W * CB_FRAME_H * CB_FRAME_C && CB_NUM_ACTIONS <= 255,
               "a frame is W x H x C bytes; labels and actions are stored as bytes");
#define DS_VERSION 1
/* The format's limits (docs/FORMATS.md): frames per level (the shard
 * header's u32 count is bounded to this), levels per dataset, and the
 * longest manifest.txt they allow (readers refuse a longer file unread). */
#define DS_MAX_FRAMES ((int64_t)1 << 26)
#define DS_MAX_LEVELS (1 << 20)
#define DS_MANIFEST_LINE 4096      /* a line with its '\n' */
#define DS_MANIFEST_LEVEL_LINE 160 /* a level line with its '\n' (its fields' limits allow 130 bytes) */
/* version, frame, actions, source, command, the relabel lines, levels, end */
#define DS_MANIFEST_MAX ((size_t)(5 + DS_MAX_RELABELINGS + 2) * DS_MANIFEST_LINE + \
                         (size_t)DS_MAX_LEVELS * DS_MANIFEST_LEVEL_LINE)

/* One level's frames and per-frame columns, in memory. */
typedef struct {
    int32_t seed;     /* level seed */
    int8_t mode;      /* 0 easy, 1 hard, -1 unknown */
    int64_t n;        /* frames */
    uint8_t *frames;  /* n * 64*64*3 RGB, row 0 at the top */
    uint8_t *label;   /* n: the action to learn, 0..14 */
    uint8_t *action;  /* n: the executed action */
    float *reward;    /* n */
    uint8_t *done;    /* n */
    int32_t *episode; /* n */
    int32_t *step;    /* n */
} ds_level;

/* Allocates the arrays of a level with n frames (one block). */
int ds_level_alloc(ds_level *l, int32_t seed, int mode, int64_t n, cb_err *e);
void ds_level_free(ds_level *l);
int ds_level_episodes(const ds_level *l); /* distinct episode indices */
/* Checks what a shard requires of the columns: labels and actions in 0..14,
 * done 0 or 1, rewards finite. CB_ERANGE naming the level and frame. */
int ds_level_check(const ds_level *l, cb_err *e);
/* The rules between frames (docs/FORMATS.md, Shards): frame 0 is in
 * episode 0 and each next frame is in the same episode or the next one;
 * steps are >= 0 and increase within an episode; done is 1 only on an
 * episode's last frame. CB_ERANGE naming the level and frame. Writers and
 * ds_verify_level check them (the per-frame form: ds_episode_rule). */
int ds_level_check_episodes(const ds_level *l, cb_err *e);
typedef struct {
    int32_t episode, step;
    uint8_t done;
} ds_frame_cols;
/* NULL when frame t (cur) may follow frame t-1 (prev; ignored for t = 0),
 * else what is wrong. */
const char *ds_episode_rule(int64_t t, const ds_frame_cols *prev, const ds_frame_cols *cur);

/* ---- reading ------------------------------------------------------------- */
typedef struct ds_reader ds_reader;

/* A relabeling recorded in the manifest (`relabel LO HI SEED`, see
 * ds_relabel): the labels of the levels with seeds in lo..hi were replaced
 * by uniform random actions drawn from cb_rng_seed2(seed, level seed). */
#define DS_MAX_RELABELINGS 16
typedef struct {
    int32_t lo, hi;
    uint64_t seed;
} ds_relabeling;

typedef struct {
    int32_t seed;
    int8_t mode;
    int64_t frames;
    int32_t episodes;
    char file[64];       /* shard file name inside the folder */
    uint64_t bytes;      /* shard size */
    uint32_t crc;        /* CRC32 of the shard file */
} ds_entry;

int ds_open(ds_reader **r, const char *path, cb_err *e); /* reads and validates the manifest */
void ds_close(ds_reader *r);
int ds_nlevels(const ds_reader *r);
int32_t ds_level_seed(const ds_reader *r, int i);      /* manifest order: sorted by seed */
const ds_entry *ds_level_entry(const ds_reader *r, int i);
int ds_find(const ds_reader *r, int32_t seed);         /* index or -1 */
const char *ds_path(const ds_reader *r);
const char *ds_source(const ds_reader *r);
const char *ds_command(const ds_reader *r);
uint32_t ds_manifest_crc(const ds_reader *r);          /* the whole manifest's: content and provenance */
/* the manifest's without the source and command lines: the same for the same
 * content, whatever path or command line made it (docs/FORMATS.md) */
uint32_t ds_content_crc(const ds_reader *r);
int ds_nrelabelings(const ds_reader *r);               /* 0 for data with the expert's labels */
const ds_relabeling *ds_relabeling_get(const ds_reader *r, int i); /* in the order applied */
int64_t ds_total_frames(const ds_reader *r);
/* Decompresses and verifies the given levels (out[i] for seeds[i]) on
 * nthreads threads. On failure nothing is left allocated. */
int ds_load(ds_reader *r, const int32_t *seeds, int n, ds_level *out, int nthreads, cb_err *e);
/* Reads one level's shard and checks it completely (CRCs, sizes, values). */
int ds_verify_level(ds_reader *r, int i, cb_err *e);
/* Whether two sets of levels share a level (dataset/disjoint.c): the levels
 * of a with seeds in [alo, ahi] and those of b in [blo, bhi] (a and b may be
 * one reader). A level is its seed in its mode: one seed in easy and in hard
 * mode is two levels; a mode unknown (-1) matches either. 0 when they share
 * none; CB_EARG naming the first shared seed, its mode and both datasets
 * (what_a, what_b: what each set is for, e.g. "training", "validation"). */
int ds_check_disjoint(const ds_reader *a, int32_t alo, int32_t ahi, const char *what_a, const ds_reader *b, int32_t blo,
                      int32_t bhi, const char *what_b, cb_err *e);

/* Frames of one level one at a time, without inflating the whole level:
 *   ds_iter *it; ds_frame f;
 *   if (ds_iter_open(&it, r, seed, e)) ...;
 *   while ((rc = ds_iter_next(it, &f, e)) > 0) use(f.rgb, f.label);
 *   ds_iter_close(it);   (rc == 0: every frame read and the stream checked)
 * Memory: the compressed shard plus two frames. */
typedef struct ds_iter ds_iter;
typedef struct {
    int64_t t;          /* frame index within the level */
    const uint8_t *rgb; /* 64*64*3, valid until the next ds_iter_next */
    uint8_t label, action, done;
    float reward;
    int32_t episode, step;
} ds_frame;
int ds_iter_open(ds_iter **it, ds_reader *r, int32_t seed, cb_err *e); /* checks size, CRCs, header */
int64_t ds_iter_frames(const ds_iter *it);
int ds_iter_next(ds_iter *it, ds_frame *f, cb_err *e); /* 1 a frame, 0 the end, < 0 an error */
void ds_iter_close(ds_iter *it);

/* ---- shards ---------------------------------------------------------------- */
/* Encodes a level as a shard image (malloc'd); filter 1 = difference to the
 * previous frame before deflate, 0 = none. */
int ds_shard_encode(const ds_level *l, int filter, int level, uint8_t **out, size_t *n, cb_err *e);
/* Decodes and checks a shard image; `name` is used in messages. */
int ds_shard_decode(const uint8_t *buf, size_t n, const char *name, ds_level *out, cb_err *e);

/* ---- writing ------------------------------------------------------------- */
typedef struct ds_writer ds_writer;
/* append: add to an existing dataset (its manifest is kept; only the manifest
 * is rewritten at commit). Otherwise the folder must not hold a dataset. */
int ds_writer_open(ds_writer **w, const char *path, int append, const char *source, const char *command, cb_err *e);
int ds_writer_add(ds_writer *w, const ds_level *l, cb_err *e); /* writes that level's shard atomically */
int ds_writer_commit(ds_writer *w, cb_err *e);                 /* writes the manifest atomically, frees w */
/* For several processes filling one dataset (record under mpirun): another
 * process writes a level's shard into the writer's folder with
 * ds_shard_write (the writer's default compression; *en describes it), and
 * the writer lists it with ds_writer_adopt (checks its name and size; abort
 * removes it like the writer's own shards). */
int ds_shard_write(const char *dir, const ds_level *l, ds_entry *en, cb_err *e);
int ds_writer_adopt(ds_writer *w, const ds_entry *en, cb_err *e);
void ds_writer_abort(ds_writer *w);                             /* removes new shards, leaves the dataset as it was */
/* For commands that write several datasets all or nothing (data split):
 * writes the new manifest but keeps w and its lock; then ds_writer_commit
 * only releases, and ds_writer_abort puts the old manifest back (or removes
 * the new one) along with the new shards. */
int ds_writer_prepare(ds_writer *w, cb_err *e);
/* Compression: inter-frame filter (default 0: measured to hurt, see
 * docs/FORMATS.md) and zlib level (default 9: measured 25% smaller than 6 on
 * expert play at the same decode speed). */
void ds_writer_set_compression(ds_writer *w, int filter, int zlevel);

/* ---- coinbc data info, verify and split (info.c, split.c) ------------------ */
/* A dataset open with its figures: from the manifest the frames, episodes,
 * bytes and the levels per mode (modes[0] unknown, [1] easy, [2] hard), and
 * from every shard (read one level at a time, progress on stderr unless
 * quiet) the histograms of the labels and of the executed actions. r stays
 * open for the manifest's other facts until ds_info_close. */
typedef struct {
    ds_reader *r;
    int64_t frames, episodes;
    uint64_t bytes;
    int modes[3];
    int64_t label_hist[CB_NUM_ACTIONS], executed_hist[CB_NUM_ACTIONS];
} ds_info;
int ds_info_open(ds_info *in, const char *path, int quiet, cb_err *e);
void ds_info_close(ds_info *in);
/* ds_verify_level on every level of the dataset at path, in manifest order
 * (progress on stderr unless quiet); bad(ctx, message) for each level that
 * fails. Only a dataset that does not open is an error; *nbad counts the bad
 * levels of *nlevels. */
int ds_verify_all(int *nlevels, int *nbad, const char *path, int quiet, void (*bad)(void *ctx, const char *msg),
                  void *ctx, cb_err *e);

/* The levels of `in` with seeds alo..ahi into the new dataset a, those in
 * blo..bhi into b (decoded, checked, re-encoded; both keep in's source and
 * take `command`); both are written, then both manifests put in place while
 * both locks are held, so a failure leaves neither. A range without levels
 * is CB_ENOTFOUND. *na, *nb: the levels copied. */
typedef struct {
    const char *in, *a, *b;
    int32_t alo, ahi, blo, bhi;
    const char *command;
    int quiet;
} ds_split_opts;
int ds_split(int *na, int *nb, const ds_split_opts *o, cb_err *e);

/* ---- relabeling (the memorization probe) ------------------------------------ */
/* Copies the dataset `in` into the new folder `out`, replacing the label of
 * every frame of the levels with seeds in lo..hi by a uniform random action
 * 0..14: frame t of level L gets the (t+1)-th cb_rng_below(15) draw of
 * cb_rng_seed2(seed, L), so the result depends on neither order nor threads.
 * Frames and the other columns are unchanged; relabeled shards are
 * re-encoded (zlib 9, no filter), every other shard is copied byte for byte.
 * The new manifest keeps `in`'s source and relabelings, adds this one and
 * takes `command`. Refused: lo > hi, a range holding no level of `in`, `out`
 * naming `in`, an `out` that exists and is not an empty folder (a lock file
 * aside), one another writer holds (out's cb_lock is held for the whole
 * copy), more than DS_MAX_RELABELINGS relabelings, a shard of `in` that
 * fails the reader's checks (copies too). Shards are written first and the manifest
 * last, each atomically; on failure everything written (and `out`, if this
 * call made it) is removed. *nrelabeled (may be NULL) gets the number of
 * levels relabeled. */
int ds_relabel(const char *in, const char *out, int32_t lo, int32_t hi, uint64_t seed, const char *command,
               int nthreads, int *nrelabeled, cb_err *e);

#endif
