/* common.h - small shared pieces used by every coinbc module: the facts
 * they share (action count, frame size) and argmax, error reporting, an
 * explicit RNG, atomic file writes, progress reporting, a deterministic
 * parallel-for, and a monotonic clock.
 *
 * Library code never prints and never exits: it returns 0 on success or a
 * negative CB_E* code, and fills a cb_err whose message names the file, the
 * level and what was wrong. Only cli/ prints. */
#ifndef COINBC_COMMON_H
#define COINBC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#define CB_VERSION "0.1.0"

/* ---- facts every module shares ----------------------------------------
 * procgen CoinRun's 15 actions and its 64x64 RGB frame (row 0 at the top,
 * channels last). Defined here only and used by these names everywhere; a
 * module that depends on a property of them (game/: square and RGB, dataset/:
 * labels fit a byte) says so by a _Static_assert in its header. */
#define CB_NUM_ACTIONS 15
#define CB_FRAME_W 64
#define CB_FRAME_H 64
#define CB_FRAME_C 3
#define CB_FRAME_BYTES (CB_FRAME_W * CB_FRAME_H * CB_FRAME_C)

/* The index of the largest of x[0..n), the lowest index among equal ones
 * (so a uniform row gives 0); NaNs are never chosen (all NaN: 0). The one
 * argmax for predictions, accuracies and greedy play. */
int cb_argmax(const float *x, int n);

/* ---- errors ---------------------------------------------------------- */

enum {
    CB_OK = 0,
    CB_EIO = -1,      /* open/read/write/rename failed (errno text in message) */
    CB_EFORMAT = -2,  /* malformed input file */
    CB_EARG = -3,     /* bad argument or option value */
    CB_ENOMEM = -4,   /* allocation failed */
    CB_ECRC = -5,     /* checksum mismatch */
    CB_ERANGE = -6,   /* value out of its allowed range */
    CB_EEXIST = -7,   /* output exists and overwriting was not allowed */
    CB_ENOTFOUND = -8, /* a file, level or key that should exist does not */
    CB_EBUSY = -9      /* another process holds the output's writer lock */
};

typedef struct {
    int code;       /* last error code (negative), 0 when none */
    char msg[1024]; /* "path: level 12: what was wrong" style message */
} cb_err;

/* Sets e->code = code and formats e->msg; returns code (negative) so callers
 * can write `return cb_fail(e, CB_EIO, "%s: %s", path, strerror(errno));`.
 * e may be NULL. */
int cb_fail(cb_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with more context ("while reading X: "),
 * unless the message already holds that text. Returns e->code. */
int cb_err_prefix(cb_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cb_err_clear(cb_err *e);
const char *cb_strerror(int code); /* short name of a CB_E* code */

/* ---- explicit RNG (xoshiro256**, seeded through splitmix64) ------------ */

typedef struct {
    uint64_t s[4];
} cb_rng;

void cb_rng_seed(cb_rng *r, uint64_t seed);
/* A generator for an independent stream, e.g. per level: seed mixed with id. */
void cb_rng_seed2(cb_rng *r, uint64_t seed, uint64_t stream);
uint64_t cb_rng_u64(cb_rng *r);
uint32_t cb_rng_u32(cb_rng *r);
uint32_t cb_rng_below(cb_rng *r, uint32_t n); /* uniform in [0, n), n > 0, unbiased */
double cb_rng_uniform(cb_rng *r);             /* uniform in [0, 1), 53 bits */
float cb_rng_uniformf(cb_rng *r);             /* uniform in [0, 1), 24 bits */
double cb_rng_normal(cb_rng *r);              /* standard normal (Box-Muller, no cache) */
uint64_t cb_splitmix64(uint64_t *state);      /* advances *state, returns output */

/* ---- atomic files --------------------------------------------------- */
/* Write to "<path>.tmp.XXXXXX" in the same folder, then fflush + fsync +
 * rename over <path> + fsync of the folder. On any failure (including a full
 * disk) the temp file is removed and <path> is left as it was. */
typedef struct {
    FILE *fp;         /* write through this (fwrite/fprintf) or cb_afile_write */
    char path[4096];  /* final name */
    char tmp[4096];   /* temporary name */
    int failed;       /* sticky: a write failed */
} cb_afile;

int cb_afile_open(cb_afile *f, const char *path, cb_err *e);
int cb_afile_write(cb_afile *f, const void *buf, size_t n, cb_err *e);
/* Flushes, fsyncs, closes and renames into place. Always releases f. */
int cb_afile_commit(cb_afile *f, cb_err *e);
/* Closes and removes the temporary file; path is untouched. Safe to call on
 * an already committed or aborted file. */
void cb_afile_abort(cb_afile *f);
/* Whole-buffer convenience. */
int cb_write_file_atomic(const char *path, const void *buf, size_t n, cb_err *e);
/* Opens path for reading only if it is a regular file (after symlinks): a
 * FIFO, a device (/dev/zero), a socket or a directory is refused with a
 * message naming it, and opening never blocks. Returns the descriptor (>= 0)
 * and its size, or a negative CB_E* code. */
int cb_open_regular(const char *path, int64_t *size, cb_err *e);
/* Reads a whole regular file into a malloc'd buffer (+1 NUL byte not
 * counted), refusing (CB_ERANGE, naming the file) one larger than max bytes
 * and one whose size changes while it is read. Readers pass the most their
 * format allows (or what a manifest declares). */
int cb_read_file_max(const char *path, size_t max, uint8_t **out, size_t *n, cb_err *e);
/* cb_read_file_max with CB_READ_MAX_DEFAULT (1 GiB): for files with no
 * tighter bound of their own. */
#define CB_READ_MAX_DEFAULT ((size_t)1 << 30)
int cb_read_file(const char *path, uint8_t **out, size_t *n, cb_err *e);
/* Running a child program (proc.c). argv[0] is a path (no PATH search).
 * The child runs in a process group of its own and dies with this process;
 * a deadline (cb_now() seconds, 0 for none) or *stop becoming non-zero sends
 * the group SIGTERM, then SIGKILL after `grace` seconds (0: 30). */
typedef struct {
    char *const *argv;
    const char *in_text;         /* the child's stdin, or NULL for /dev/null */
    int capture_out, capture_err; /* 1: into the result (bounded), 0: inherited */
    size_t max_out, max_err;     /* caps of the captured bytes (0: 64 MiB and 1 MiB) */
    double deadline, grace;
    const volatile int *stop;
    int keep_group;              /* 1: stay in this process's group (a terminal's Ctrl-C reaches it too) */
} cb_proc;
typedef struct {
    int status;            /* the wait status */
    int timed_out, stopped; /* ended by the deadline, or by *stop */
    char *out, *err;       /* captured, NUL-terminated (NULL when not captured) */
    size_t out_n, err_n;
} cb_proc_result;
/* 0 once the child has ended (whatever its status); a negative CB_E* code
 * when it could not be started or run (nothing is left running then). */
int cb_proc_run(const cb_proc *o, cb_proc_result *r, cb_err *e);
void cb_proc_result_free(cb_proc_result *r);
/* The exit code a shell shows: the status, or 128 + the signal. */
int cb_proc_exit_code(int status);
/* mkdir -p; ok if it exists as a directory. */
int cb_mkdirs(const char *path, cb_err *e);
int cb_fsync_dir(const char *dir, cb_err *e);
/* rename(2) with a cb_err (the caller fsyncs the folder). */
int cb_rename(const char *from, const char *to, cb_err *e);
/* Test only (fault injection): the n-th following atomic write's commit or
 * cb_rename, counting from 1, fails with EIO as a full disk would, leaving
 * the target as it was; 0 turns it off. Returns the operations counted since
 * the last call. Not thread-safe; never called outside tests. */
int64_t cb_afile_test_fail_at(int64_t n);

/* ---- outputs against inputs (common/paths.c) -------------------------
 * Every command checks each output it will write, before writing anything:
 * cb_path_check_output refuses (CB_EARG, a message naming the option, the
 * output and the input as given, and both resolved when they differ) an
 * output that is, contains or lies inside one of in[0..nin) (NULL and "-"
 * entries are skipped), and an output inside a dataset folder (manifest.txt
 * starting "coinbc-dataset ") or a run folder (commit.json, or config.json
 * with latest.ckpt, best.ckpt or metrics.*). Paths are compared resolved:
 * symlinks, `.` and `..` through realpath of the longest existing prefix,
 * the rest appended as written; `..` after a missing component and a
 * dangling symlink on the way are refused. An existing output folder must
 * not be a dataset (unless kind is CB_OUT_DATASET) or a run folder (unless
 * CB_OUT_RUN). opt names the option in the message ("-o", "--film"). */
enum {
    CB_OUT_FILE = 0,    /* a file or a folder of plain files (report, --film, --png, recordings, export, tune) */
    CB_OUT_RUN_RECORD,  /* a record of the run folder right above it (RUN/eval.json, RUN/rollout.json) */
    CB_OUT_DATASET,     /* a dataset folder, possibly an existing one (capture --append, record --force) */
    CB_OUT_RUN          /* a run folder, possibly an existing one (train --resume) */
};
int cb_path_check_output(const char *opt, const char *out, int kind, const char *const *in, int nin, cb_err *e);

/* ---- writer locks ----------------------------------------------------
 * Every command that writes a dataset, run folder, recordings folder or
 * tune folder holds cb_lock on it for its whole run: a second writer fails
 * at once with CB_EBUSY and a message naming the holder (pid, command). The
 * folder is created if missing. The lock dies with its process (flock), so
 * a killed writer never blocks the next one. Readers take no lock. */
typedef struct {
    int fd;           /* -1 when not held */
    int created_dir;  /* the folder did not exist before cb_lock_acquire */
    char dir[4096];
    char path[4200];  /* DIR/.coinbc-lock */
} cb_lock;

/* holder: the command line to show to the next writer (e.g. "coinbc train ... -o RUN"). */
int cb_lock_acquire(cb_lock *l, const char *dir, const char *holder, cb_err *e);
/* Releases the lock and removes the lock file (when the path still names the
 * file locked). remove_dir_if_empty: also the folder when cb_lock_acquire
 * created it and nothing else was left in it (for a command that failed
 * before writing anything). */
void cb_lock_release(cb_lock *l, int remove_dir_if_empty);
/* rm -rf: removes path and everything under it (symlinks are removed, not
 * followed). 0, or -1 with errno of the first failure. */
int cb_remove_tree(const char *path);

/* zlib allocation functions for z_stream.zalloc / zfree: through malloc and
 * free (zlib's own default would bypass allocation-failure tests). */
void *cb_zalloc(void *opaque, unsigned items, unsigned size);
void cb_zfree(void *opaque, void *p);

/* ---- progress -------------------------------------------------------- */
/* On a terminal: one redrawn line "label [#####     ] done/total 12.3/s ETA 0:42".
 * Otherwise: a plain line at most every `interval` seconds (default 5 s) and at
 * the end. Writes to stderr only. quiet silences everything. */
typedef struct {
    const char *label;
    const char *unit; /* "levels", "steps", ... */
    int64_t total;    /* <= 0: unknown */
    int64_t done;
    int quiet, tty;
    double t_start, t_last;
    double interval;
} cb_progress;

void cb_progress_start(cb_progress *p, const char *label, const char *unit, int64_t total, int quiet);
void cb_progress_update(cb_progress *p, int64_t done); /* absolute count */
void cb_progress_add(cb_progress *p, int64_t n);
void cb_progress_finish(cb_progress *p);

/* ---- time and threads ------------------------------------------------ */
double cb_now(void);        /* monotonic seconds (for rates only, never for seeds) */
int cb_default_threads(void); /* online cores, at least 1 */

/* Runs fn(ctx, i) for i in [0, n) on nthreads threads (work is taken in
 * index order; results must be written to per-index slots so the output is
 * identical for any thread count). fn returns 0 or a negative code; the
 * first failure (lowest i) is returned and the remaining work is skipped. */
typedef int (*cb_task_fn)(void *ctx, int64_t i);
int cb_parallel_for(int64_t n, int nthreads, cb_task_fn fn, void *ctx);
/* The same, passing the worker id (0..nthreads-1) for per-worker scratch. */
typedef int (*cb_task_fn_w)(void *ctx, int64_t i, int worker);
int cb_parallel_for_w(int64_t n, int nthreads, cb_task_fn_w fn, void *ctx);

/* ---- text helpers ---------------------------------------------------- */
/* Strict integer/float parsing of a whole string; 0 on success. */
int cb_parse_i64(const char *s, int64_t *out);
int cb_parse_f64(const char *s, double *out);
/* "A-B" or "A" -> [lo, hi] inclusive, nonnegative int32; 0 on success. */
int cb_parse_range(const char *s, int32_t *lo, int32_t *hi);
/* Exact forms, for file formats whose text FORMATS.md fixes: the n bytes at
 * s (no NUL needed) must be a canonical decimal in [lo, hi]: digits only, a
 * '-' only when lo < 0, no '+', no whitespace, no leading zeros ("0" itself
 * is fine, "-0" is not). CB_EARG for a malformed number, CB_ERANGE for one
 * outside [lo, hi] (however many digits it has: nothing wraps). */
int cb_parse_dec_exact(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);
/* Exactly 8 lower-case hex digits (a CRC-32 as the formats write it). */
int cb_parse_hex32_exact(const char *s, size_t n, uint32_t *out);

/* ---- command-line options (common/args.c) -----------------------------
 * The option parser of the two programs' front ends, cli/ and bench/: a
 * table of options, long names only ("--seed 5" or "--seed=5"), and "-o" for
 * --out (or --o); positional arguments are collected in order. It prints
 * nothing: errors come back in the cb_err (cli_parse and bench_parse print
 * them). */
typedef enum { CB_OPT_STR, CB_OPT_INT, CB_OPT_I64, CB_OPT_F64, CB_OPT_FLAG, CB_OPT_RANGE } cb_opt_kind;

typedef struct {
    const char *name;    /* without the leading "--" */
    cb_opt_kind kind;
    void *dst;           /* const char**, int*, int64_t*, double*, int* (flag), cb_range* */
    const char *metavar; /* shown in usage ("S", "FILE"); NULL for flags */
    const char *help;
    int seen;            /* set by the parser */
} cb_opt;

typedef struct {
    int32_t lo, hi; /* inclusive */
} cb_range;

typedef struct {
    const char *name;
    const char *summary; /* one line */
    const char *usage;   /* "coinbc level --seed S [options]" */
    const char *details; /* extra paragraphs after the options, may be NULL */
} cb_cmd_info;

/* cb_args_parse's answer when --help or -h was given (nothing else is parsed after it) */
#define CB_ARGS_HELP 1
/* Parses argv[1..argc-1] (argv[0] is the subcommand name). Returns 0,
 * CB_ARGS_HELP, or CB_EARG with the message the command prints after its
 * "coinbc NAME: " (an unknown option, a value that does not parse, too many
 * positional arguments). pos receives positional arguments (up to max_pos;
 * more is an error). An option that takes a value and is last, or followed
 * by another option ("--x", "--", "-o", "-h"; a negative number is a value),
 * is refused as "option -o needs a value" (--x=VALUE gives a value that
 * starts with "--"). */
int cb_args_parse(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts, const char **pos,
                  int max_pos, int *npos, cb_err *e);
/* the number of entries of an option array (never type the count by hand) */
#define CB_ARGS_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* Whether option --name was given (after parsing), looked up by name so it
 * survives reordering the table; a name not in the table is a programmer
 * error (message on stderr, abort). CB_ARGS_SEEN takes the count from the array. */
int cb_args_seen(const cb_opt *opts, int nopts, const char *name);
#define CB_ARGS_SEEN(a, name) cb_args_seen((a), CB_ARGS_COUNT(a), (name))
/* The usage text (--help) into out. */
void cb_args_usage(const cb_cmd_info *info, const cb_opt *opts, int nopts, FILE *out);
/* "coinbc ARGV..." into buf (truncated to n), for manifests and configs. */
void cb_args_join(char *buf, size_t n, int argc, char **argv);
/* The prefix of a command's messages into buf: "coinbc CMD: ", and under
 * mpirun with several ranks "coinbc CMD: rank R of P: ". */
void cb_args_msg_prefix(char *buf, size_t n, const char *cmd);
/* A command's message on f: the prefix, the text, a newline. Returns 1 (the
 * exit status of a failed step), so a front end can `return cb_args_say(...)`. */
int cb_args_say(FILE *f, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cb_args_vsay(FILE *f, const char *cmd, const char *fmt, va_list ap);
/* cb_args_parse with its answers shown: the usage on out for --help
 * (returns 1), the message on err for an error (returns -1), else 0. */
int cb_args_parse_say(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts, const char **pos,
                      int max_pos, int *npos, FILE *out, FILE *err);

/* ---- processes (common/dist.c) ------------------------------------------
 * The one seam to MPI. Built with `make MPI=1` and started by mpirun, a
 * coinbc process is one rank of several; otherwise (the default build, or
 * an MPI build started without mpirun) it is rank 0 of 1 and every call
 * below is a no-op that succeeds. Collectives must be called by every rank
 * in the same order, from the thread that called cb_dist_init. A failing
 * call returns CB_EIO naming the operation and MPI's reason. While a rank
 * waits in a collective, a watchdog ends it (message on stderr, exit 1, so
 * mpirun ends the others) after COINBC_DIST_TIMEOUT seconds (default 3600):
 * a hung peer never hangs the job; a dead one is caught by mpirun at once. */
int cb_dist_init(int *argc, char ***argv, cb_err *e);
void cb_dist_finalize(void);
int cb_dist_compiled(void); /* 1 in an MPI=1 build */
int cb_dist_rank(void);
int cb_dist_size(void);
int cb_dist_allreduce_f64(double *x, int64_t n, cb_err *e);   /* in-place sums over ranks */
int cb_dist_allreduce_i32(int32_t *x, int64_t n, cb_err *e);
int cb_dist_allreduce_i64(int64_t *x, int64_t n, cb_err *e);
int cb_dist_bcast(void *buf, size_t n, int root, cb_err *e);
int cb_dist_send(const void *buf, size_t n, int to, cb_err *e); /* blocking, point to point */
int cb_dist_recv(void *buf, size_t n, int from, cb_err *e);
int cb_dist_barrier(cb_err *e);
/* In-place allgather: rank r's `each` bytes at buf + r * each go to every rank. */
int cb_dist_allgather(void *buf, size_t each, cb_err *e);
/* An ordered sum over the ranks, for results that must not depend on P:
 * acc (n doubles, zero on every rank) passes through the ranks in rank
 * order in chunks of `chunk`; rank r receives chunk [off, off+len) from rank
 * r-1, calls add(ctx, acc + off, off, len) to add its terms in its order,
 * and sends it on to rank r+1; the last rank's acc is broadcast. Every rank
 * ends with the sum one process gets adding all terms in order. One
 * process: add is called once on [0, n). */
typedef void (*cb_dist_add_fn)(void *ctx, double *acc, int64_t off, int64_t len);
int cb_dist_chain_f64(double *acc, int64_t n, int64_t chunk, cb_dist_add_fn add, void *ctx, cb_err *e);
/* Ends every rank at once (MPI_Abort) with this exit status; exit() in one process. */
_Noreturn void cb_dist_abort(int status);
/* Bytes this rank handed to allreduce/bcast/send and seconds spent in them since the last call (then reset). */
void cb_dist_traffic(int64_t *bytes, double *seconds);
/* Contiguous share of n items for rank r of p: [*lo, *hi). */
void cb_dist_share(int64_t n, int r, int p, int64_t *lo, int64_t *hi);
/* Rank 0 collecting the others' results (common/dist_gather.c). Items
 * [0, n) of elem bytes at base are shared out by cb_dist_share;
 * cb_dist_gather_shares copies every other rank's share of base into rank
 * 0's base (one process: nothing to do). A blob is a size, then bytes, from
 * a rank to rank 0; *buf is malloc'd. */
int cb_dist_gather_shares(void *base, size_t elem, int64_t n, cb_err *e);
int cb_dist_send_blob(const void *buf, int64_t n, cb_err *e);
int cb_dist_recv_blob(int from, uint8_t **buf, int64_t *n, cb_err *e);

#endif
