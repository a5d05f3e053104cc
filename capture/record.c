/* record.c - expert play -> recordings folder (docs/FORMATS.md, "Recordings folders").
 * Each level is played with the expert until it has `states` states,
 * starting a new episode of the same level after each end. With
 * probability `noise` the executed action is a uniformly random one of the
 * 15, but the recorded label is always the expert's action at that state.
 * Levels are independent tasks of cb_parallel_for_w with their own RNG
 * stream (cb_rng_seed2(seed, level)), so the bytes written do not depend on
 * the thread count. Every file is written atomically (temporary name, then
 * rename). Frames are not fsync'd one by one (two fsyncs per 64x64 frame
 * would cost more than everything else together); instead the level's file
 * system is synced (syncfs) once, before its actions.csv and meta.json are
 * written with fsync, so a level folder whose meta.json exists is complete.
 * The run's plan.json (its levels) is written before the first level and its
 * meta.json after the last: a folder with plan.json but no meta.json is a
 * run that was stopped, and the levels of the plan without a level meta.json
 * are the ones missing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/record.h"
#include "dataset/dataset.h"

#define PROGRESS_EVERY 64

typedef struct {
    int64_t states, episodes, coins, deaths, timeouts, random_actions, searches, expert_nopath, expert_budget;
} level_sum;

typedef struct {
    game_expert ex;
    game_env *env;
    game_png png;     /* the frame encoder, its buffers reused */
    int fail_level_i; /* index of the failing level, or -1 */
    cb_err err;
} worker;

typedef struct {
    const capture_record_opts *o;
    worker *w;
    level_sum *sums;
    int64_t i0;          /* index of the first level of this rank's share */
    ds_entry *entries;   /* with dataset_dir: the shards this rank wrote (entries[i].file[0] == 0: none) */
} rec_ctx;

/* growable text buffer for actions.csv */
typedef struct {
    char *p;
    size_t n, cap;
} tbuf;

static int tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tb_printf(tbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return -1;
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np;
        b->cap = cap;
    }
}

/* Writes buf to "<path>.tmp" and renames it to path (no fsync, see above). */
static int write_renamed(const char *path, const void *buf, size_t n, cb_err *e) {
    char tmp[4400];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return cb_fail(e, CB_EARG, "%.80s...: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return cb_fail(e, CB_EIO, "%s: %s", tmp, strerror(errno));
    const uint8_t *p = buf;
    size_t left = n;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int err = k < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return cb_fail(e, CB_EIO, "%s: write failed: %s", path, strerror(err));
        }
        p += k;
        left -= (size_t)k;
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        return cb_fail(e, CB_EIO, "%s: write failed: %s", path, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return cb_fail(e, CB_EIO, "%s: rename failed: %s", path, strerror(err));
    }
    return 0;
}

static int sync_dir_fs(const char *dir, cb_err *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return cb_fail(e, CB_EIO, "%s: %s", dir, strerror(errno));
    int rc = syncfs(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return cb_fail(e, CB_EIO, "%s: syncfs failed: %s", dir, strerror(err));
    return 0;
}

/* ---- levels ------------------------------------------------------------------ */
/* With force: removes the files a previous recording may have left in a
 * level folder (frames, actions.csv, meta.json, temporaries), nothing else. */
static int clean_level_dir(const char *dir, cb_err *e) {
    DIR *d = opendir(dir);
    if (!d) return cb_fail(e, CB_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        int ours = (strncmp(n, "frame_", 6) == 0 && len > 4 && strcmp(n + len - 4, ".png") == 0) ||
                   strcmp(n, "actions.csv") == 0 || strcmp(n, "meta.json") == 0 ||
                   ((strncmp(n, "frame_", 6) == 0 || strncmp(n, "actions.csv", 11) == 0 ||
                     strncmp(n, "meta.json", 9) == 0) &&
                    (strstr(n, ".tmp.") || (len > 4 && strcmp(n + len - 4, ".tmp") == 0)));
        if (!ours) continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        if (unlink(path) != 0) {
            rc = cb_fail(e, CB_EIO, "%s: cannot remove: %s", path, strerror(errno));
            break;
        }
    }
    closedir(d);
    return rc;
}

static int write_level_meta(const char *dir, const capture_record_opts *o, int32_t level, const level_sum *s,
                            cb_err *e) {
    char path[4300], buf[2048];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"format\": \"coinbc-recording\",\n  \"format_version\": 1,\n"
                     "  \"coinbc_version\": \"%s\",\n  \"level\": %d,\n  \"mode\": \"%s\",\n"
                     "  \"states\": %lld,\n  \"noise\": %.17g,\n  \"seed\": %llu,\n"
                     "  \"episodes\": %lld,\n  \"coins\": %lld,\n  \"deaths\": %lld,\n  \"timeouts\": %lld,\n"
                     "  \"random_actions\": %lld,\n  \"expert_searches\": %lld,\n  \"expert_no_path\": %lld,\n"
                     "  \"expert_budget_exhausted\": %lld\n}\n",
                     CB_VERSION, level, game_mode_name(o->mode), (long long)s->states, o->noise,
                     (unsigned long long)o->seed, (long long)s->episodes, (long long)s->coins,
                     (long long)s->deaths, (long long)s->timeouts, (long long)s->random_actions,
                     (long long)s->searches, (long long)s->expert_nopath, (long long)s->expert_budget);
    return cb_write_file_atomic(path, buf, (size_t)n, e);
}

/* one level being recorded: its folder (or its in-memory arrays), its
 * actions.csv and how much of its progress was reported */
typedef struct {
    int32_t level;
    int in_memory; /* into a dataset (writer or shard folder), not a folder of files */
    char dir[4200];
    tbuf csv;
    ds_level dl;
    int64_t reported;
} level_rec;

/* Before the first state: the level's folder (with force, cleaned of a
 * previous recording) or its in-memory arrays, the environment at the
 * level's start and the actions.csv header. */
static int level_open(worker *w, const capture_record_opts *o, level_rec *L, cb_err *e) {
    int rc = 0;
    if (L->in_memory) {
        rc = ds_level_alloc(&L->dl, L->level, o->mode, o->states, e);
    } else {
        rc = cb_mkdirs(L->dir, e);
        if (!rc && o->force) rc = clean_level_dir(L->dir, e);
    }
    if (!rc) rc = game_env_init(w->env, L->level, o->mode, e);
    if (!rc && tb_printf(&L->csv, "%s\n", CAPTURE_RECORD_CSV_HEADER)) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    return rc;
}

/* The frame of state t: into the level's arrays, or DIR/frame_NNNNNN.png. */
static int level_frame(worker *w, level_rec *L, int64_t t, cb_err *e) {
    if (L->in_memory) {
        game_env_render(w->env, L->dl.frames + (size_t)t * CB_FRAME_BYTES);
        return 0;
    }
    char path[4300];
    uint8_t rgb[CB_FRAME_BYTES];
    snprintf(path, sizeof path, "%s/frame_%06lld.png", L->dir, (long long)t);
    game_env_render(w->env, rgb);
    int rc = game_png_encode(&w->png, rgb, CB_FRAME_W, CB_FRAME_H, e);
    if (!rc) rc = write_renamed(path, w->png.data, w->png.n, e);
    return rc;
}

/* State t: the expert's label, the executed action (with probability noise
 * a random one: one uniform draw from rng per state, and one more for the
 * random action), the step and its row. xe holds the expert's message. */
static int level_step(worker *w, const capture_record_opts *o, level_rec *L, level_sum *s, int64_t t, cb_rng *rng,
                      cb_err *xe, cb_err *e) {
    int label;
    int64_t before = w->ex.searches;
    int xrc = game_expert_act(&w->ex, &w->env->level, &w->env->state, &label, xe);
    if (w->ex.searches > before) {
        s->expert_nopath += xrc == GAME_EXPERT_ENOPATH;
        s->expert_budget += xrc == GAME_EXPERT_EBUDGET;
    }
    if (xrc == CB_EARG || xrc == CB_ENOMEM) return cb_fail(e, xrc, "%s", xe->msg);
    int executed = label;
    if (cb_rng_uniform(rng) < o->noise) {
        executed = (int)cb_rng_below(rng, CB_NUM_ACTIONS);
        s->random_actions++;
    }
    int episode = w->env->episode, ep_step = w->env->state.time;
    game_step_out so;
    game_env_step(w->env, executed, &so);
    if (so.done) {
        s->episodes++;
        s->coins += so.outcome == GAME_COIN;
        s->deaths += so.outcome == GAME_DEATH;
        s->timeouts += so.outcome == GAME_TIMEOUT_END;
    }
    if (L->in_memory) {
        L->dl.label[t] = (uint8_t)label;
        L->dl.action[t] = (uint8_t)executed;
        L->dl.reward[t] = so.reward;
        L->dl.done[t] = (uint8_t)so.done;
        L->dl.episode[t] = episode;
        L->dl.step[t] = ep_step;
    } else if (tb_printf(&L->csv, "%lld,%d,%g,%d,%d,%d,%d,%d\n", (long long)t, label, (double)so.reward, so.done,
                         label, executed, episode, ep_step)) {
        return cb_fail(e, CB_ENOMEM, "out of memory");
    }
    return 0;
}

/* Plays the level's `states` states with the expert, from the RNG stream
 * cb_rng_seed2(seed, level), reporting progress every PROGRESS_EVERY. */
static int level_play(worker *w, const capture_record_opts *o, level_rec *L, level_sum *s, cb_err *e) {
    cb_rng rng;
    cb_rng_seed2(&rng, o->seed, (uint64_t)L->level);
    game_expert_reset(&w->ex);
    int64_t searches0 = w->ex.searches;
    cb_err xe = {0};
    for (int64_t t = 0; t < o->states; t++) {
        int rc = level_frame(w, L, t, e);
        if (!rc) rc = level_step(w, o, L, s, t, &rng, &xe, e);
        if (rc) return rc;
        s->states++;
        if (o->progress && (t + 1) % PROGRESS_EVERY == 0) {
            o->progress(o->progress_ctx, t + 1 - L->reported, 0);
            L->reported = t + 1;
        }
    }
    s->searches = w->ex.searches - searches0;
    return 0;
}

/* After the last state: the level into the dataset writer or its shard, or
 * into its folder (syncfs, then actions.csv and meta.json, see above); then
 * the rest of its progress. */
static int level_finish(rec_ctx *c, int64_t i, level_rec *L, const level_sum *s, cb_err *e) {
    const capture_record_opts *o = c->o;
    int rc;
    if (L->in_memory) {
        if ((rc = o->dataset ? ds_writer_add(o->dataset, &L->dl, e) : ds_shard_write(o->dataset_dir, &L->dl, &c->entries[i], e)))
            return rc;
    } else {
        char path[4300];
        if ((rc = sync_dir_fs(L->dir, e))) return rc;
        snprintf(path, sizeof path, "%s/actions.csv", L->dir);
        if ((rc = cb_write_file_atomic(path, L->csv.p, L->csv.n, e))) return rc;
        if ((rc = write_level_meta(L->dir, o, L->level, s, e))) return rc;
    }
    if (o->progress) o->progress(o->progress_ctx, o->states - L->reported, 1);
    return 0;
}

/* Task i of cb_parallel_for_w: records level lo + i0 + i with worker wid;
 * on failure notes the level as the worker's lowest failing one. */
static int record_level(void *vctx, int64_t i, int wid) {
    rec_ctx *c = vctx;
    const capture_record_opts *o = c->o;
    worker *w = &c->w[wid];
    cb_err *e = &w->err;
    level_rec L = {.level = o->lo + (int32_t)(c->i0 + i), .in_memory = o->dataset || o->dataset_dir};
    level_sum *s = &c->sums[i];
    memset(s, 0, sizeof *s);
    snprintf(L.dir, sizeof L.dir, "%s/level_%d", o->out ? o->out : ".", L.level);
    int rc = level_open(w, o, &L, e);
    if (!rc) rc = level_play(w, o, &L, s, e);
    if (!rc) rc = level_finish(c, i, &L, s, e);
    free(L.csv.p);
    ds_level_free(&L.dl);
    if (rc) {
        if (w->fail_level_i < 0 || i < w->fail_level_i) w->fail_level_i = (int)i;
        cb_err_prefix(e, "level %d: ", L.level);
    }
    return rc;
}

static int write_run_meta(const capture_record_opts *o, const capture_record_summary *s, cb_err *e) {
    char path[4200], buf[2048];
    snprintf(path, sizeof path, "%s/meta.json", o->out);
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"format\": \"coinbc-recordings\",\n  \"format_version\": 1,\n"
                     "  \"coinbc_version\": \"%s\",\n  \"levels\": \"%d-%d\",\n  \"level_lo\": %d,\n"
                     "  \"level_hi\": %d,\n  \"mode\": \"%s\",\n  \"states_per_level\": %lld,\n"
                     "  \"noise\": %.17g,\n  \"seed\": %llu,\n  \"states\": %lld,\n  \"episodes\": %lld,\n"
                     "  \"coins\": %lld,\n  \"deaths\": %lld,\n  \"timeouts\": %lld,\n  \"random_actions\": %lld,\n"
                     "  \"expert_searches\": %lld,\n  \"expert_no_path\": %lld,\n  \"expert_budget_exhausted\": %lld\n}\n",
                     CB_VERSION, o->lo, o->hi, o->lo, o->hi, game_mode_name(o->mode), (long long)o->states,
                     o->noise, (unsigned long long)o->seed, (long long)s->states, (long long)s->episodes,
                     (long long)s->coins, (long long)s->deaths, (long long)s->timeouts,
                     (long long)s->random_actions, (long long)s->searches, (long long)s->expert_nopath,
                     (long long)s->expert_budget);
    return cb_write_file_atomic(path, buf, (size_t)n, e);
}

/* DIR/plan.json, written (atomically) before the first level: which levels
 * this run will record, so that a reader of a stopped run can say which are
 * missing (docs/FORMATS.md). */
static int write_plan(const capture_record_opts *o, cb_err *e) {
    char path[4200], buf[1024];
    snprintf(path, sizeof path, "%s/plan.json", o->out);
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"format\": \"coinbc-recordings-plan\",\n  \"format_version\": 1,\n"
                     "  \"coinbc_version\": \"%s\",\n  \"levels\": \"%d-%d\",\n  \"level_lo\": %d,\n"
                     "  \"level_hi\": %d,\n  \"mode\": \"%s\",\n  \"states_per_level\": %lld,\n"
                     "  \"noise\": %.17g,\n  \"seed\": %llu\n}\n",
                     CB_VERSION, o->lo, o->hi, o->lo, o->hi, game_mode_name(o->mode), (long long)o->states, o->noise,
                     (unsigned long long)o->seed);
    return cb_write_file_atomic(path, buf, (size_t)n, e);
}

static int record_levels(const capture_record_opts *o, capture_record_summary *sum, cb_err *e);
static int record_share(const capture_record_opts *o, capture_record_summary *sum, cb_err *e);

int capture_record(const capture_record_opts *o, capture_record_summary *sum, cb_err *e) {
    memset(sum, 0, sizeof *sum);
    if (o->lo < 0 || o->hi < o->lo)
        return cb_fail(e, CB_EARG, "--levels %d-%d: the range is empty or reversed (need 0 <= A <= B)", o->lo, o->hi);
    if (o->mode != GAME_EASY && o->mode != GAME_HARD) return cb_fail(e, CB_EARG, "mode %d is not easy or hard", o->mode);
    if (o->states <= 0 || o->states > 1000000000)
        return cb_fail(e, CB_EARG, "--states %lld: need 1 <= N <= 1000000000", (long long)o->states);
    if (!(o->noise >= 0 && o->noise <= 1)) return cb_fail(e, CB_EARG, "--noise %g: need 0 <= EPS <= 1", o->noise);
    if (o->threads < 1 || o->threads > 64) return cb_fail(e, CB_EARG, "--threads %d: need 1..64", o->threads);
    if (cb_dist_size() > 1) return record_share(o, sum, e);
    if (o->dataset) return record_levels(o, sum, e);
    if (!o->out || !o->out[0]) return cb_fail(e, CB_EARG, "no output folder");
    if (strlen(o->out) > 3900) return cb_fail(e, CB_EARG, "%.60s...: output path too long", o->out);
    struct stat st;
    if (stat(o->out, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return cb_fail(e, CB_EEXIST, "%s: exists and is not a folder", o->out);
        if (!o->force) return cb_fail(e, CB_EEXIST, "%s: exists (use --force to write into it)", o->out);
    }
    /* one writer per folder for the whole run (created here when missing) */
    cb_lock lock;
    int rc = cb_lock_acquire(&lock, o->out, o->command ? o->command : "coinbc record", e);
    if (rc) return rc;
    if (!lock.created_dir && !o->force) { /* appeared since the check above */
        cb_lock_release(&lock, 1);
        return cb_fail(e, CB_EEXIST, "%s: exists (use --force to write into it)", o->out);
    }
    if (access(o->out, W_OK) != 0) rc = cb_fail(e, CB_EIO, "%s: folder is not writable: %s", o->out, strerror(errno));
    if (!rc && o->force) { /* the run is not complete again until its meta.json is rewritten */
        char path[4200];
        snprintf(path, sizeof path, "%s/meta.json", o->out);
        if (unlink(path) != 0 && errno != ENOENT) rc = cb_fail(e, CB_EIO, "%s: cannot remove: %s", path, strerror(errno));
        DIR *d = rc ? NULL : opendir(o->out); /* and the run meta.json's and plan.json's temporaries a killed run left */
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL)
            if (!strncmp(de->d_name, "meta.json.tmp.", 14) || !strncmp(de->d_name, "plan.json.tmp.", 14)) {
                snprintf(path, sizeof path, "%s/%s", o->out, de->d_name);
                unlink(path);
            }
        if (d) closedir(d);
    }
    if (!rc) rc = write_plan(o, e);
    if (!rc) rc = record_levels(o, sum, e);
    if (rc && lock.created_dir) cb_remove_tree(o->out); /* leave nothing behind that this run created */
    cb_lock_release(&lock, 1);
    return rc;
}

/* Records the levels [lo + i0, lo + i1) into *sum (the default: all of them). */
static int record_range(const capture_record_opts *o, int64_t i0, int64_t i1, ds_entry *entries,
                        capture_record_summary *sum, cb_err *e) {
    int rc = 0;
    int64_t n = i1 - i0;
    if (n <= 0) return 0;
    int nt = o->threads < n ? o->threads : (int)n;
    rec_ctx c = {.o = o, .i0 = i0, .entries = entries};
    c.w = calloc((size_t)nt, sizeof *c.w);
    c.sums = calloc((size_t)n, sizeof *c.sums);
    if (!c.w || !c.sums) {
        free(c.w);
        free(c.sums);
        return cb_fail(e, CB_ENOMEM, "out of memory for %lld levels", (long long)n);
    }
    int ninit = 0;
    for (; ninit < nt; ninit++) {
        c.w[ninit].fail_level_i = -1;
        c.w[ninit].env = malloc(sizeof *c.w[ninit].env);
        if (!c.w[ninit].env) {
            rc = cb_fail(e, CB_ENOMEM, "out of memory");
            break;
        }
        if ((rc = game_expert_init(&c.w[ninit].ex, NULL, e))) {
            free(c.w[ninit].env);
            break;
        }
    }
    if (!rc) {
        rc = cb_parallel_for_w(n, nt, record_level, &c);
        if (rc) { /* the message of the lowest failing level */
            int best = -1;
            for (int k = 0; k < nt; k++)
                if (c.w[k].fail_level_i >= 0 && (best < 0 || c.w[k].fail_level_i < c.w[best].fail_level_i)) best = k;
            if (best >= 0 && e) *e = c.w[best].err;
        }
    }
    for (int k = 0; k < ninit; k++) {
        game_png_free(&c.w[k].png);
        game_expert_free(&c.w[k].ex);
        free(c.w[k].env);
    }
    if (!rc) {
        for (int64_t i = 0; i < n; i++) {
            level_sum *s = &c.sums[i];
            sum->levels++;
            sum->states += s->states;
            sum->episodes += s->episodes;
            sum->coins += s->coins;
            sum->deaths += s->deaths;
            sum->timeouts += s->timeouts;
            sum->random_actions += s->random_actions;
            sum->searches += s->searches;
            sum->expert_nopath += s->expert_nopath;
            sum->expert_budget += s->expert_budget;
        }
    }
    free(c.w);
    free(c.sums);
    return rc;
}

static int record_levels(const capture_record_opts *o, capture_record_summary *sum, cb_err *e) {
    int rc = record_range(o, 0, (int64_t)o->hi - o->lo + 1, NULL, sum, e);
    if (!rc && !o->dataset) rc = write_run_meta(o, sum, e);
    return rc;
}

/* ---- under mpirun: each rank records a contiguous share of the levels ----
 * Rank 0 owns the output: it checks and locks the folder (or holds the
 * dataset writer) before the others start and writes the run's meta.json
 * (or lists the other ranks' shards, ds_writer_adopt) after they finish.
 * Each level's bytes depend only on the level, so the files are those of
 * one process. A failure on any rank fails the run on every rank. */
static int record_share(const capture_record_opts *o, capture_record_summary *sum, cb_err *e) {
    int me = cb_dist_rank(), P = cb_dist_size(), rc = 0;
    int64_t n = (int64_t)o->hi - o->lo + 1, i0, i1;
    cb_dist_share(n, me, P, &i0, &i1);
    int dataset = me == 0 ? o->dataset != NULL : o->dataset_dir != NULL;
    if (me == 0 && !o->dataset && (!o->out || !o->out[0])) rc = cb_fail(e, CB_EARG, "no output folder");
    if (me > 0 && !dataset && (!o->out || !o->out[0])) rc = cb_fail(e, CB_EARG, "no output folder");
    /* rank 0 prepares the folder as one process does, the others wait for its verdict */
    cb_lock lock = {0};
    int locked = 0;
    struct stat st;
    if (!rc && me == 0 && !dataset) {
        if (stat(o->out, &st) == 0 && (!S_ISDIR(st.st_mode) || !o->force))
            rc = cb_fail(e, CB_EEXIST, "%s: exists%s", o->out, S_ISDIR(st.st_mode) ? " (use --force to write into it)" : " and is not a folder");
        if (!rc && !(rc = cb_lock_acquire(&lock, o->out, o->command ? o->command : "coinbc record", e))) {
            locked = 1;
            char path[4200];
            snprintf(path, sizeof path, "%s/meta.json", o->out);
            if (o->force && unlink(path) != 0 && errno != ENOENT)
                rc = cb_fail(e, CB_EIO, "%s: cannot remove: %s", path, strerror(errno));
            if (!rc) rc = write_plan(o, e);
        }
    }
    int32_t verdict = rc;
    cb_err de = {0};
    if (cb_dist_bcast(&verdict, sizeof verdict, 0, &de)) return *e = de, de.code;
    if (me > 0 && verdict) return cb_fail(e, verdict, "rank 0 could not prepare the output (its message says why)");
    ds_entry *entries = NULL;
    if (!rc && dataset && me > 0 && !(entries = calloc((size_t)(i1 - i0 + 1), sizeof *entries)))
        rc = cb_fail(e, CB_ENOMEM, "out of memory");
    if (!rc) rc = record_range(o, i0, i1, entries, sum, e);
    /* which ranks failed: every rank learns it before anything is kept */
    int32_t *failed = calloc((size_t)P, sizeof *failed);
    if (!failed) rc = rc ? rc : cb_fail(e, CB_ENOMEM, "out of memory");
    else failed[me] = rc != 0;
    if (!failed || cb_dist_allreduce_i32(failed, P, &de) || cb_dist_allreduce_i64((int64_t *)sum, sizeof *sum / 8, &de)) {
        if (!rc) *e = de, rc = de.code ? de.code : CB_EIO;
    }
    _Static_assert(sizeof(capture_record_summary) % 8 == 0, "the summary is int64 counts");
    int bad = -1;
    for (int r = 0; failed && r < P && bad < 0; r++)
        if (failed[r]) bad = r;
    if (!rc && bad >= 0) rc = cb_fail(e, CB_EIO, "rank %d failed recording its levels (its message says why)", bad);
    /* the other ranks' shards: listed by rank 0's writer, or removed on failure */
    if (dataset && me > 0) {
        int64_t cnt = i1 - i0;
        if (!rc) {
            int64_t bytes = cnt * (int64_t)sizeof *entries;
            rc = cb_dist_send(&bytes, sizeof bytes, 0, e);
            if (!rc) rc = cb_dist_send(entries, (size_t)bytes, 0, e);
        } else {
            for (int64_t i = 0; entries && i < cnt; i++)
                if (entries[i].file[0]) {
                    char path[4200];
                    snprintf(path, sizeof path, "%s/%s", o->dataset_dir, entries[i].file);
                    unlink(path);
                }
        }
    }
    if (dataset && me == 0 && !rc)
        for (int r = 1; r < P && !rc; r++) {
            int64_t bytes;
            ds_entry *in = NULL;
            if (!(rc = cb_dist_recv(&bytes, sizeof bytes, r, e))) {
                if (bytes < 0 || bytes % (int64_t)sizeof *in || !(in = malloc((size_t)bytes + 1)))
                    rc = cb_fail(e, CB_EIO, "rank %d sent %lld bytes of shard entries", r, (long long)bytes);
                else if (!(rc = cb_dist_recv(in, (size_t)bytes, r, e)))
                    for (int64_t i = 0; i < bytes / (int64_t)sizeof *in && !rc; i++) rc = ds_writer_adopt(o->dataset, &in[i], e);
            }
            free(in);
        }
    if (!rc && me == 0 && !dataset) rc = write_run_meta(o, sum, e);
    if (locked) {
        if (rc && lock.created_dir) cb_remove_tree(o->out);
        cb_lock_release(&lock, 1);
    }
    free(failed);
    free(entries);
    return rc;
}
