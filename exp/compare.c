/* compare.c - the comparison's stages (exp.h): data, tune, final runs,
 * probe, table. Each step checks its record first and is skipped once it is
 * complete, so a run after a kill, or the next piece of a time budget, goes on
 * where the last one stopped. The records (DIR) are compact and meant to be
 * committed; datasets and run folders (WORK) are re-made deterministically. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset/dataset.h"
#include "eval/eval.h"
#include "exp/internal.h"
#include "train/train.h"

static const char *const DATA_NAMES[4] = {"train", "val", "test", "relabeled"};
/* train options the runner sets itself: never taken from a configuration */
static const char *const RESERVED[] = {"out", "o", "resume", "quiet", "threads", "val", "val-levels", "train-levels",
                                       "help", "max-steps", "seed", "epochs", NULL};

static int exists(const char *dir, const char *name) {
    char p[EXP_PATH];
    exp_path(p, dir, name);
    struct stat st;
    return p[0] && stat(p, &st) == 0;
}

static int copy_file(const char *from, const char *to, cb_err *e) {
    uint8_t *b;
    size_t n;
    int rc = cb_read_file_max(from, (size_t)256 << 20, &b, &n, e);
    if (rc) return rc;
    rc = cb_write_file_atomic(to, b, n, e);
    free(b);
    return rc;
}

static int touch(const char *dir, const char *name, cb_err *e) {
    char p[EXP_PATH];
    exp_path(p, dir, name);
    return cb_write_file_atomic(p, "", 0, e);
}

/* ---- datasets ---------------------------------------------------------- */

/* Checks dataset k's content CRC (its manifest without the provenance lines,
 * which name the path it was recorded into) against compare.json, recording
 * it the first time it is known. */
static int check_crc(exp_ctx *c, int k, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, c->data[k], e);
    if (rc) return rc;
    uint32_t crc = ds_content_crc(r);
    ds_close(r);
    if (c->state.has_crc[k]) {
        if (c->state.crc[k] != crc)
            return cb_fail(e, CB_ECRC,
                           "%s: content CRC %08x, but %s/compare.json says the %s data of this comparison had %08x: it "
                           "was made otherwise or changed; remove it to have it made again, or use another -o",
                           c->data[k], crc, c->o->dir, DATA_NAMES[k], c->state.crc[k]);
        return 0;
    }
    c->state.has_crc[k] = 1;
    c->state.crc[k] = crc;
    return run_compare_state_write(c->o->dir, &c->state, e);
}

/* WORK/data/NAME.cbd by `coinbc record` (into part-NAME.cbd, renamed when complete) */
static int record(exp_ctx *c, int k, cb_err *e) {
    if (exists(c->data[k], "manifest.txt")) return 0;
    const run_compare_data *d = &c->spec.data[k];
    char part[EXP_PATH], name[64];
    snprintf(name, sizeof name, "data/part-%s.cbd", DATA_NAMES[k]);
    exp_path(part, c->o->work, name);
    cb_remove_tree(part);
    exp_say(c, "record %s: levels %d-%d x %d states (%s, noise %g)", DATA_NAMES[k], d->lo, d->hi, d->states,
            c->spec.hard ? "hard" : "easy", d->noise);
    double t0 = cb_now();
    exp_argv a;
    exp_argv_init(&a, c);
    exp_argv_add(&a, "record");
    exp_argv_add(&a, "--levels");
    exp_argv_add(&a, "%d-%d", d->lo, d->hi);
    exp_argv_add(&a, "--mode");
    exp_argv_add(&a, "%s", c->spec.hard ? "hard" : "easy");
    exp_argv_add(&a, "--states");
    exp_argv_add(&a, "%d", d->states);
    exp_argv_add(&a, "--noise");
    exp_argv_add(&a, "%.17g", d->noise);
    exp_argv_add(&a, "--seed");
    exp_argv_add(&a, "%lld", (long long)d->seed);
    if (c->threads > 0) exp_argv_add(&a, "--threads"), exp_argv_add(&a, "%d", c->threads);
    exp_argv_add(&a, "--quiet");
    exp_argv_add(&a, "--out");
    exp_argv_add(&a, "%s", part);
    int rc = exp_run(c, &a, EXP_DISCARD, e);
    if (rc) return rc;
    if ((rc = cb_rename(part, c->data[k], e))) return rc;
    snprintf(name, sizeof name, "record-%s", DATA_NAMES[k]);
    return exp_log_step(c, name, cb_now() - t0, e);
}

/* the probe's levels: the spec's, or the first quarter of the training seeds */
static int probe_levels(exp_ctx *c, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, c->data[0], e);
    if (rc) return rc;
    int n = ds_nlevels(r);
    if (n < 2) {
        ds_close(r);
        return cb_fail(e, CB_EARG, "%s: %d training level(s); the probe needs at least 2", c->data[0], n);
    }
    c->train_hi = ds_level_seed(r, n - 1);
    if (c->spec.probe_auto) {
        int q = n / 4 > 0 ? n / 4 : 1;
        c->probe_lo = ds_level_seed(r, 0);
        c->probe_hi = ds_level_seed(r, q - 1);
    } else {
        c->probe_lo = c->spec.probe_lo;
        c->probe_hi = c->spec.probe_hi;
    }
    ds_close(r);
    return 0;
}

static int relabel(exp_ctx *c, cb_err *e) {
    if (exists(c->data[3], "manifest.txt")) return 0;
    char part[EXP_PATH];
    exp_path(part, c->o->work, "data/part-relabeled.cbd");
    cb_remove_tree(part);
    exp_say(c, "relabel levels %d-%d of %s (the memorization probe)", c->probe_lo, c->probe_hi, c->data[0]);
    exp_argv a;
    exp_argv_init(&a, c);
    exp_argv_add(&a, "data");
    exp_argv_add(&a, "relabel");
    exp_argv_add(&a, "%s", c->data[0]);
    exp_argv_add(&a, "--levels");
    exp_argv_add(&a, "%d-%d", c->probe_lo, c->probe_hi);
    exp_argv_add(&a, "--seed");
    exp_argv_add(&a, "%lld", (long long)c->spec.relabel_seed);
    exp_argv_add(&a, "-o");
    exp_argv_add(&a, "%s", part);
    int rc = exp_run(c, &a, EXP_DISCARD, e);
    if (rc) return rc;
    return cb_rename(part, c->data[3], e);
}

static int stage_data(exp_ctx *c, cb_err *e) {
    int rc;
    for (int k = 0; k < 3; k++) {
        if (c->spec.data[0].is_path) {
            exp_say(c, "verify %s", c->data[k]);
            exp_argv a;
            exp_argv_init(&a, c);
            exp_argv_add(&a, "data");
            exp_argv_add(&a, "verify");
            exp_argv_add(&a, "%s", c->data[k]);
            exp_argv_add(&a, "--quiet");
            if ((rc = exp_run(c, &a, EXP_DISCARD, e))) return rc;
        } else if ((rc = record(c, k, e))) {
            return rc;
        }
        if ((rc = check_crc(c, k, e))) return rc;
    }
    if (c->spec.probe) {
        if ((rc = probe_levels(c, e)) || (rc = relabel(c, e)) || (rc = check_crc(c, 3, e))) return rc;
    }
    return 0;
}

/* ---- configurations and tuning -------------------------------------------- */

static int reserved(const char *opt) {
    for (int i = 0; RESERVED[i]; i++)
        if (!strcmp(opt, RESERVED[i])) return 1;
    return 0;
}

/* "--k v" pairs: the spec's train options, then the configuration's (a later
 * value replaces an earlier one in place), then seed and epochs */
typedef struct {
    int n;
    char key[EXP_MAX_ARGS / 2][64], val[EXP_MAX_ARGS / 2][256];
} pairs;

static int pairs_set(pairs *p, const char *k, const char *v, cb_err *e) {
    if (strlen(k) >= sizeof p->key[0] || strlen(v) >= sizeof p->val[0])
        return cb_fail(e, CB_EARG, "train option --%s %s is too long", k, v);
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], k)) {
            snprintf(p->val[i], sizeof p->val[i], "%s", v);
            return 0;
        }
    if (p->n == EXP_MAX_ARGS / 2) return cb_fail(e, CB_EARG, "too many train options");
    snprintf(p->key[p->n], sizeof p->key[0], "%s", k);
    snprintf(p->val[p->n], sizeof p->val[0], "%s", v);
    p->n++;
    return 0;
}

static const run_compare_method *find_method(const exp_ctx *c, const char *name) {
    for (int i = 0; i < c->spec.nmethods; i++)
        if (!strcmp(c->spec.m[i].name, name)) return &c->spec.m[i];
    return NULL;
}

static int train_options(exp_ctx *c, const char *method, int64_t seed, pairs *p, cb_err *e) {
    p->n = 0;
    int rc;
    for (int i = 0; i + 1 < c->spec.nfixed; i += 2)
        if ((rc = pairs_set(p, c->spec.fixed[i] + 2, c->spec.fixed[i + 1], e))) return rc;
    const run_compare_method *m = find_method(c, method);
    for (int i = 0; m && i + 1 < m->nopts; i += 2)
        if ((rc = pairs_set(p, m->opts[i] + 2, m->opts[i + 1], e))) return rc;
    char cfg[EXP_PATH], name[64];
    snprintf(name, sizeof name, "configs/%s.json", method);
    exp_path(cfg, c->o->dir, name);
    char *args = NULL;
    if ((rc = run_tune_best_args(&args, cfg, e)))
        return rc == CB_ENOTFOUND ? cb_fail(e, rc, "%s: no configuration yet (run the tune stage first)", cfg) : rc;
    /* "--k v --k v ...": values hold no spaces (run_tune_best_args refuses them) */
    char *save = NULL;
    for (char *k = strtok_r(args, " ", &save); k && !rc; k = strtok_r(NULL, " ", &save)) {
        char *v = strtok_r(NULL, " ", &save);
        if (!v || strncmp(k, "--", 2)) rc = cb_fail(e, CB_EFORMAT, "%s: not a list of train options", cfg);
        else if (!reserved(k + 2)) rc = pairs_set(p, k + 2, v, e);
    }
    free(args);
    if (rc) return rc;
    char s[32], ep[32];
    snprintf(s, sizeof s, "%lld", (long long)seed);
    snprintf(ep, sizeof ep, "%d", c->spec.epochs);
    if ((rc = pairs_set(p, "seed", s, e)) || (rc = pairs_set(p, "epochs", ep, e))) return rc;
    return 0;
}

/* A picked trial trained again on another kind of CPU than the study's
 * cannot give its figures bit for bit (OpenBLAS's kernels round
 * differently, and training carries the difference on). Its per-epoch
 * validation figures within this relative difference count as the study's
 * trial; further apart (a study that ran on several kinds of CPU), the
 * trial is kept (--retrain-keep) and the table names it as a network
 * trained here. DIR/top/M/trial-NNNN.retrained records by how much they
 * came back apart. */
#define EXP_RETRAIN_TOLERANCE 0.05

/* The method's `coinbc tune` command (in ap; with retrain >= 0 the one that
 * trains that finished trial again): its study's journal is a record
 * (DIR/tune/M/study.journal), named by an absolute path since the tune
 * folder itself is WORK/tune/M */
static int tune_argv(exp_ctx *c, const run_compare_method *m, exp_argv *ap, int retrain, cb_err *e) {
    char name[128], tdir[EXP_PATH], wdir[EXP_PATH];
    snprintf(name, sizeof name, "tune/%s", m->name);
    exp_path(tdir, c->o->dir, name);
    exp_path(wdir, c->o->work, name);
    int rc;
    if ((rc = cb_mkdirs(tdir, e)) || (rc = cb_mkdirs(wdir, e))) return rc;
    char real[PATH_MAX], journal[PATH_MAX + 64];
    if (!realpath(tdir, real)) return cb_fail(e, CB_EIO, "%s: cannot resolve the folder", tdir);
    snprintf(journal, sizeof journal, "journal:%s/study.journal", real);
    exp_argv_init(ap, c);
    exp_argv_add(ap, "tune");
    exp_argv_add(ap, "%s", c->data[0]);
    exp_argv_add(ap, "--val");
    exp_argv_add(ap, "%s", c->data[1]);
    exp_argv_add(ap, "--method");
    exp_argv_add(ap, "%s", m->name);
    exp_argv_add(ap, "--trials");
    exp_argv_add(ap, "%d", m->trials);
    exp_argv_add(ap, "--epochs");
    exp_argv_add(ap, "%d", c->spec.epochs);
    exp_argv_add(ap, "--seed");
    exp_argv_add(ap, "%lld", (long long)m->tune_seed);
    exp_argv_add(ap, "--jobs");
    exp_argv_add(ap, "%d", m->jobs);
    exp_argv_add(ap, "--storage");
    exp_argv_add(ap, "%s", journal);
    if (m->loss_objective) exp_argv_add(ap, "--objective"), exp_argv_add(ap, "val_loss");
    if (m->space[0]) {
        char sp[EXP_PATH];
        if (exp_resolve(sp, c->spec_dir, m->space)) return cb_fail(e, CB_EARG, "%s: space path too long", m->space);
        exp_argv_add(ap, "--space");
        exp_argv_add(ap, "%s", sp);
    }
    if (c->threads > 0) exp_argv_add(ap, "--threads"), exp_argv_add(ap, "%d", c->threads);
    if (retrain >= 0) {
        exp_argv_add(ap, "--retrain");
        exp_argv_add(ap, "%d", retrain);
        exp_argv_add(ap, "--retrain-tolerance");
        exp_argv_add(ap, "%g", EXP_RETRAIN_TOLERANCE);
        exp_argv_add(ap, "--retrain-keep");
    }
    exp_argv_add(ap, "-o");
    exp_argv_add(ap, "%s", wdir);
    exp_argv_add(ap, "--");
    for (int i = 0; i < c->spec.nfixed; i++) exp_argv_add(ap, "%s", c->spec.fixed[i]);
    for (int i = 0; i < m->nopts; i++) exp_argv_add(ap, "%s", m->opts[i]);
    return 0;
}

static int tune_one(exp_ctx *c, const run_compare_method *m, cb_err *e) {
    char cfg[EXP_PATH], origin[EXP_PATH], name[128], tdir[EXP_PATH], wdir[EXP_PATH];
    snprintf(name, sizeof name, "configs/%s.json", m->name);
    exp_path(cfg, c->o->dir, name);
    snprintf(name, sizeof name, "configs/%s.origin", m->name);
    exp_path(origin, c->o->dir, name);
    struct stat st;
    if (stat(cfg, &st) == 0) return 0;
    int rc;
    if (!m->tuned) {
        const char *why = "fixed: the configuration given in the spec\n";
        if ((rc = cb_write_file_atomic(origin, why, strlen(why), e))) return rc;
        return cb_write_file_atomic(cfg, m->config, strlen(m->config), e);
    }
    snprintf(name, sizeof name, "tune/%s", m->name);
    exp_path(tdir, c->o->dir, name);
    exp_path(wdir, c->o->work, name);
    exp_say(c, "tune %s: %d trials of %d epochs", m->name, m->trials, c->spec.epochs);
    double t0 = cb_now();
    exp_argv a;
    if ((rc = tune_argv(c, m, &a, -1, e))) return rc;
    if ((rc = exp_run(c, &a, EXP_DISCARD, e))) return rc;
    static const char *const KEEP[] = {"trials.csv", "best.json", "best.args"};
    for (int i = 0; i < 3; i++) {
        char from[EXP_PATH], to[EXP_PATH];
        exp_path(from, wdir, KEEP[i]);
        exp_path(to, tdir, KEEP[i]);
        if ((rc = copy_file(from, to, e))) return rc;
    }
    char best[EXP_PATH];
    exp_path(best, tdir, "best.json");
    char *check = NULL;
    if ((rc = run_tune_best_args(&check, best, e))) return rc; /* usable as train options */
    free(check);
    if (c->spec.tuned[0]) {
        char td[EXP_PATH], to[EXP_PATH];
        if (exp_resolve(td, c->spec_dir, c->spec.tuned)) return cb_fail(e, CB_EARG, "tuned: path too long");
        if ((rc = cb_mkdirs(td, e))) return rc;
        snprintf(name, sizeof name, "%s.json", m->name);
        exp_path(to, td, name);
        if ((rc = copy_file(best, to, e))) return rc;
        char args[EXP_PATH];
        exp_path(args, tdir, "best.args");
        snprintf(name, sizeof name, "%s.args", m->name);
        exp_path(to, td, name);
        if ((rc = copy_file(args, to, e))) return rc;
    }
    char why[EXP_PATH + 128];
    snprintf(why, sizeof why, "tuned: coinbc tune, %d trials of %d epochs (%s), study in %s\n", m->trials,
             c->spec.epochs, m->loss_objective ? "lowest validation loss" : "best validation accuracy", tdir);
    if ((rc = cb_write_file_atomic(origin, why, strlen(why), e))) return rc;
    if ((rc = copy_file(best, cfg, e))) return rc;
    snprintf(name, sizeof name, "tune-%s", m->name);
    return exp_log_step(c, name, cb_now() - t0, e);
}

static int stage_tune(exp_ctx *c, cb_err *e) {
    char cd[EXP_PATH];
    exp_path(cd, c->o->dir, "configs");
    int rc = cb_mkdirs(cd, e);
    for (int i = 0; i < c->spec.nmethods && !rc; i++) rc = tune_one(c, &c->spec.m[i], e);
    return rc;
}

/* ---- the top-N figure ------------------------------------------------------ */

static int eval_to(exp_ctx *c, const char *sdir, const char *file, const char *run, int k, const char *levels,
                   const char *ckpt, cb_err *e);

/* DIR/top/M/trial-NNNN.json: the test figures of each of the study's N best
 * trials (eval_compare_top_pick), from the trial's best.ckpt in WORK (where
 * it is missing, `coinbc tune --retrain` makes it again and checks it
 * against the study's figures); then DIR/top/M/done */
static int top_one(exp_ctx *c, const run_compare_method *m, cb_err *e) {
    if (!m->tuned || !m->top) return 0;
    char name[128], tdir[EXP_PATH], wdir[EXP_PATH], csv[EXP_PATH];
    snprintf(name, sizeof name, "top/%s", m->name);
    exp_path(tdir, c->o->dir, name);
    if (exists(tdir, "done")) return 0;
    snprintf(name, sizeof name, "tune/%s/trials.csv", m->name);
    exp_path(csv, c->o->dir, name);
    if (!exists(c->o->dir, name))
        return cb_fail(e, CB_ENOTFOUND, "%s: no finished study yet (run the tune stage first)", csv);
    int num[EVAL_CMP_MAXTOP];
    double val[EVAL_CMP_MAXTOP];
    int k = eval_compare_top_pick(num, val, m->top, csv, NULL, e);
    if (k < 0) return k;
    int rc = cb_mkdirs(tdir, e);
    if (rc) return rc;
    exp_say(c, "top %d of %s: the best trials' checkpoints on the test levels", m->top, m->name);
    double t0 = cb_now();
    snprintf(name, sizeof name, "tune/%s", m->name);
    exp_path(wdir, c->o->work, name);
    for (int i = 0; i < k; i++) {
        char file[64], run[EXP_PATH], ckpt[EXP_PATH];
        snprintf(file, sizeof file, "trial-%04d.json", num[i]);
        if (exists(tdir, file)) continue;
        if ((rc = exp_time_left(c))) return rc;
        snprintf(name, sizeof name, "trials/%04d", num[i]);
        exp_path(run, wdir, name);
        exp_path(ckpt, run, "best.ckpt");
        if (!exists(run, "best.ckpt")) {
            /* not on this machine (the study ran elsewhere, or WORK is new):
             * tune trains the trial again and checks it against the study */
            exp_say(c, "top %d of %s: trial %d's checkpoint is not in %s: training it again", m->top, m->name, num[i],
                    run);
            exp_argv a;
            char again[EXP_PATH];
            snprintf(name, sizeof name, "trial-%04d.retrained", num[i]);
            exp_path(again, tdir, name);
            if ((rc = tune_argv(c, m, &a, num[i], e)) || (rc = exp_run(c, &a, again, e))) return rc;
            if (!exists(run, "best.ckpt"))
                return cb_fail(e, CB_ENOTFOUND, "%s: still missing after training trial %d again", ckpt, num[i]);
        }
        if ((rc = eval_to(c, tdir, file, run, 2, NULL, ckpt, e))) return rc;
    }
    if ((rc = touch(tdir, "done", e))) return rc;
    snprintf(name, sizeof name, "top-%s", m->name);
    return exp_log_step(c, name, cb_now() - t0, e);
}

/* ---- training, evaluation, summaries --------------------------------------- */

/* RUN by `coinbc train` on DATA (k) with the method's configuration, resuming
 * a run that was cut off; RUN/train.done marks it finished */
static int step_train(exp_ctx *c, const char *run, int k, const char *method, int64_t seed, cb_err *e) {
    if (exists(run, "train.done")) return 0;
    pairs p;
    int rc = train_options(c, method, seed, &p, e);
    if (rc) return rc;
    int resume = exists(run, "latest.ckpt");
    if (!resume) cb_remove_tree(run);
    exp_argv a;
    exp_argv_init(&a, c);
    exp_argv_add(&a, "train");
    exp_argv_add(&a, "%s", c->data[k]);
    exp_argv_add(&a, "--val");
    exp_argv_add(&a, "%s", c->data[1]);
    for (int i = 0; i < p.n; i++) exp_argv_add(&a, "--%s", p.key[i]), exp_argv_add(&a, "%s", p.val[i]);
    if (resume) exp_argv_add(&a, "--resume");
    if (c->threads > 0) exp_argv_add(&a, "--threads"), exp_argv_add(&a, "%d", c->threads);
    exp_argv_add(&a, "--quiet");
    exp_argv_add(&a, "-o");
    exp_argv_add(&a, "%s", run);
    if ((rc = exp_run(c, &a, EXP_DISCARD, e))) return rc;
    return touch(run, "train.done", e);
}

/* DIR/FILE from `coinbc eval RUN DATA [--levels] [--checkpoint] --json`, unless kept */
static int eval_to(exp_ctx *c, const char *sdir, const char *file, const char *run, int k, const char *levels,
                   const char *ckpt, cb_err *e) {
    if (exists(sdir, file)) return 0;
    char out[EXP_PATH];
    exp_path(out, sdir, file);
    exp_argv a;
    exp_argv_init(&a, c);
    exp_argv_add(&a, "eval");
    exp_argv_add(&a, "%s", run);
    exp_argv_add(&a, "%s", c->data[k]);
    if (levels) exp_argv_add(&a, "--levels"), exp_argv_add(&a, "%s", levels);
    if (ckpt) exp_argv_add(&a, "--checkpoint"), exp_argv_add(&a, "%s", ckpt), exp_argv_add(&a, "--no-train");
    exp_argv_add(&a, "--json");
    exp_argv_add(&a, "--quiet");
    return exp_run(c, &a, out, e);
}

static int summary(const char *run, const char *sdir, cb_err *e) {
    static const char *const FILES[] = {"config.json", "metrics.csv", "metrics.jsonl", "agreement.json"};
    for (int i = 0; i < 4; i++) {
        char from[EXP_PATH], to[EXP_PATH];
        exp_path(from, run, FILES[i]);
        exp_path(to, sdir, FILES[i]);
        int rc = copy_file(from, to, e);
        if (rc) return rc;
    }
    return touch(sdir, "done", e);
}

static int final_one(exp_ctx *c, const char *method, int64_t seed, cb_err *e) {
    char name[128], sdir[EXP_PATH], run[EXP_PATH];
    snprintf(name, sizeof name, "runs/%s-%lld", method, (long long)seed);
    exp_path(sdir, c->o->dir, name);
    exp_path(run, c->o->work, name);
    if (exists(sdir, "done")) return 0;
    int rc = exp_time_left(c);
    if (rc) return rc;
    exp_say(c, "final run %s, seed %lld", method, (long long)seed);
    double t0 = cb_now();
    if ((rc = cb_mkdirs(sdir, e)) || (rc = step_train(c, run, 0, method, seed, e))) return rc;
    if ((rc = eval_to(c, sdir, "eval.json", run, 2, NULL, NULL, e))) return rc;
    if (c->spec.rollout && !exists(sdir, "rollout.json")) {
        char out[EXP_PATH];
        exp_path(out, sdir, "rollout.json");
        exp_argv a;
        exp_argv_init(&a, c);
        exp_argv_add(&a, "rollout");
        exp_argv_add(&a, "%s", run);
        exp_argv_add(&a, "--levels");
        exp_argv_add(&a, "%d-%d", c->spec.roll_lo, c->spec.roll_hi);
        exp_argv_add(&a, "--mode");
        exp_argv_add(&a, "%s", c->spec.hard ? "hard" : "easy");
        if (c->threads > 0) exp_argv_add(&a, "--threads"), exp_argv_add(&a, "%d", c->threads);
        exp_argv_add(&a, "--json");
        exp_argv_add(&a, "--quiet");
        if ((rc = exp_run(c, &a, out, e))) return rc;
    }
    if (c->spec.appearance && !exists(sdir, "appearance.json")) {
        char out[EXP_PATH];
        exp_path(out, sdir, "appearance.json");
        exp_argv a;
        exp_argv_init(&a, c);
        exp_argv_add(&a, "appearance");
        exp_argv_add(&a, "%s", run);
        exp_argv_add(&a, "--levels");
        exp_argv_add(&a, "%d-%d", c->spec.app_lo, c->spec.app_hi);
        exp_argv_add(&a, "--mode");
        exp_argv_add(&a, "%s", c->spec.hard ? "hard" : "easy");
        exp_argv_add(&a, "--states");
        exp_argv_add(&a, "%d", c->spec.app_states);
        exp_argv_add(&a, "--donors");
        exp_argv_add(&a, "%d", c->spec.app_donors);
        exp_argv_add(&a, "--seed");
        exp_argv_add(&a, "%lld", (long long)c->spec.app_seed);
        if (c->threads > 0) exp_argv_add(&a, "--threads"), exp_argv_add(&a, "%d", c->threads);
        exp_argv_add(&a, "--json");
        if ((rc = exp_run(c, &a, out, e))) return rc;
    }
    if ((rc = summary(run, sdir, e))) return rc;
    snprintf(name, sizeof name, "final-%s-%lld", method, (long long)seed);
    return exp_log_step(c, name, cb_now() - t0, e);
}

static void probe_name(char *out, size_t n, const char *method, int64_t seed) {
    if (seed == 1) snprintf(out, n, "probe/%s", method);
    else snprintf(out, n, "probe/%s-%lld", method, (long long)seed);
}

static int probe_one(exp_ctx *c, const char *method, int64_t seed, cb_err *e) {
    char name[128], sdir[EXP_PATH], run[EXP_PATH];
    probe_name(name, sizeof name, method, seed);
    exp_path(sdir, c->o->dir, name);
    exp_path(run, c->o->work, name);
    if (exists(sdir, "done")) return 0;
    int rc = exp_time_left(c);
    if (rc) return rc;
    exp_say(c, "memorization probe %s, seed %lld", method, (long long)seed);
    double t0 = cb_now();
    if ((rc = cb_mkdirs(sdir, e)) || (rc = step_train(c, run, 3, method, seed, e))) return rc;
    /* the final weights: memorization is what the training ends with */
    char ckpt[EXP_PATH], relab[64], truth[64];
    exp_path(ckpt, run, "latest.ckpt");
    snprintf(relab, sizeof relab, "%d-%d", c->probe_lo, c->probe_hi);
    snprintf(truth, sizeof truth, "%d-%d", c->probe_hi + 1, c->train_hi);
    if ((rc = eval_to(c, sdir, "relabeled.json", run, 3, relab, ckpt, e)) ||
        (rc = eval_to(c, sdir, "true.json", run, 3, truth, ckpt, e)) ||
        (rc = eval_to(c, sdir, "test.json", run, 2, NULL, ckpt, e)))
        return rc;
    if ((rc = summary(run, sdir, e))) return rc;
    snprintf(name, sizeof name, "probe-%s-%lld", method, (long long)seed);
    return exp_log_step(c, name, cb_now() - t0, e);
}

/* ---- final runs and probes, J at once ----------------------------------- */

typedef struct {
    int probe;
    const char *method;
    int64_t seed;
} run_item;

static int run_item_one(exp_ctx *c, const void *p, cb_err *e) {
    const run_item *it = p;
    return it->probe ? probe_one(c, it->method, it->seed, e) : final_one(c, it->method, it->seed, e);
}

/* The final runs, then the probes, of the stages asked for whose summary
 * is not done yet, into items (when not NULL); their count. Each list goes
 * seed by seed (every method's seed 1, then every method's seed 2): a run
 * stopped by its time budget leaves the methods with the same seeds done,
 * so the table's columns compare like with like. */
static int runs_todo(const exp_ctx *c, unsigned stages, run_item *items) {
    int n = 0;
    char name[128];
    for (int s = 0; (stages & EXP_FINAL) && s < c->spec.nseeds; s++)
        for (int i = 0; i < c->spec.nmethods; i++) {
            snprintf(name, sizeof name, "runs/%s-%lld/done", c->spec.m[i].name, (long long)c->spec.seeds[s]);
            if (exists(c->o->dir, name)) continue;
            if (items) items[n] = (run_item){0, c->spec.m[i].name, c->spec.seeds[s]};
            n++;
        }
    for (int s = 0; c->spec.probe && (stages & EXP_PROBE) && s < c->spec.nprobe_seeds; s++)
        for (int i = 0; i < c->spec.nmethods; i++) {
            probe_name(name, sizeof name, c->spec.m[i].name, c->spec.probe_seeds[s]);
            strcat(name, "/done");
            if (exists(c->o->dir, name)) continue;
            if (items) items[n] = (run_item){1, c->spec.m[i].name, c->spec.probe_seeds[s]};
            n++;
        }
    return n;
}

/* The final runs, then the probes, still to do: in order with one job, else
 * in --jobs workers (jobs.c) with the threads split between them */
static int runs_and_probes(exp_ctx *c, cb_err *e) {
    const exp_compare_opts *o = c->o;
    int cap = c->spec.nmethods * (c->spec.nseeds + c->spec.nprobe_seeds);
    run_item *items = calloc((size_t)(cap > 0 ? cap : 1), sizeof *items);
    if (!items) return cb_fail(e, CB_ENOMEM, "compare: out of memory");
    int n = runs_todo(c, o->stages, items);
    int total = o->threads > 0 ? o->threads : cb_default_threads();
    int jobs = train_tune_jobs(o->jobs, total);
    if (jobs > n) jobs = n;
    if (jobs > EXP_MAX_JOBS) jobs = EXP_MAX_JOBS;
    int threads = jobs > 1 ? (total / jobs > 0 ? total / jobs : 1) : o->threads;
    if (jobs > 1)
        exp_say(c, "%d final runs and probes to do, %d at once with %d thread%s each%s", n, jobs, threads,
                threads == 1 ? "" : "s",
                o->jobs ? "" : " (--jobs 0, the default: two at once where there are two threads or more; --jobs 1 "
                               "for one at a time)");
    int rc = exp_jobs_run(c, jobs, threads, run_item_one, items, sizeof *items, n, e);
    free(items);
    return rc;
}

/* ---- the table ---------------------------------------------------------- */

static int stage_table(exp_ctx *c, char **table, cb_err *e) {
    eval_compare_method *ms = calloc((size_t)c->spec.nmethods, sizeof *ms);
    if (!ms) return cb_fail(e, CB_ENOMEM, "table: out of memory");
    int seeds[RUN_COMPARE_MAX_SEEDS], pseeds[RUN_COMPARE_MAX_SEEDS];
    for (int i = 0; i < c->spec.nseeds; i++) seeds[i] = (int)c->spec.seeds[i];
    int np = c->spec.probe ? c->spec.nprobe_seeds : 0;
    for (int i = 0; i < np; i++) pseeds[i] = (int)c->spec.probe_seeds[i];
    int rc = 0;
    for (int i = 0; i < c->spec.nmethods && !rc; i++) {
        rc = eval_compare_load(&ms[i], c->o->dir, c->spec.m[i].name, seeds, c->spec.nseeds, pseeds, np, e);
        if (!rc && c->spec.m[i].tuned && c->spec.m[i].top) rc = eval_compare_load_top(&ms[i], c->o->dir, c->spec.m[i].top, e);
    }
    char *text = NULL;
    size_t n = 0;
    FILE *f = rc ? NULL : open_memstream(&text, &n);
    if (!rc && !f) rc = cb_fail(e, CB_ENOMEM, "table: out of memory");
    if (!rc) rc = eval_compare_table(f, ms, c->spec.nmethods, c->spec.base, c->spec.loss, e);
    if (f) fclose(f);
    free(ms);
    char path[EXP_PATH];
    exp_path(path, c->o->dir, "table.md");
    if (!rc) rc = cb_write_file_atomic(path, text, n, e);
    if (!rc && table) *table = text;
    else free(text);
    return rc;
}

/* ---- the whole ---------------------------------------------------------- */

int exp_stages_parse(const char *s, unsigned *mask) {
    static const char *const N[] = {"data", "tune", "final", "probe", "table", "top"};
    *mask = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int k = 0; k < 6; k++)
            if (len == strlen(N[k]) && !strncmp(p, N[k], len)) *mask |= 1u << k, found = 1;
        if (!found) return CB_EARG;
        p += len;
        if (*p == ',') p++;
    }
    return *mask ? 0 : CB_EARG;
}

/* The spec's paths, the folders, compare.json (made, or checked against the spec). */
static int setup(exp_ctx *c, cb_err *e) {
    const exp_compare_opts *o = c->o;
    if (strlen(o->dir) > 3000 || strlen(o->work) > 3000 || strlen(o->spec) > 3000)
        return cb_fail(e, CB_EARG, "compare: a folder or spec path is too long");
    int rc = run_compare_spec_read(&c->spec, o->spec, e);
    if (rc) return rc;
    char tmp[EXP_PATH];
    snprintf(tmp, sizeof tmp, "%s", o->spec);
    snprintf(c->spec_dir, sizeof c->spec_dir, "%s", dirname(tmp));
    for (int k = 0; k < 3; k++) {
        if (c->spec.data[k].is_path) {
            if (exp_resolve(c->data[k], c->spec_dir, c->spec.data[k].path))
                return cb_fail(e, CB_EARG, "%s: data path too long", o->spec);
        } else {
            char name[64];
            snprintf(name, sizeof name, "data/%s.cbd", DATA_NAMES[k]);
            exp_path(c->data[k], o->work, name);
        }
    }
    exp_path(c->data[3], o->work, "data/relabeled.cbd");
    if (c->spec.probe_auto && !c->spec.data[0].is_path) {
        c->spec.probe_auto = 0; /* recorded: the first quarter of the spec's levels */
        int64_t n = (int64_t)c->spec.data[0].hi - c->spec.data[0].lo + 1;
        c->spec.probe_lo = c->spec.data[0].lo;
        c->spec.probe_hi = (int32_t)(c->spec.data[0].lo + (n / 4 > 0 ? n / 4 : 1) - 1);
    }
    c->probe_lo = c->spec.probe_lo;
    c->probe_hi = c->spec.probe_hi;
    c->train_hi = c->spec.data[0].hi;
    char wd[EXP_PATH];
    exp_path(wd, o->work, "data");
    if ((rc = cb_mkdirs(o->dir, e)) || (rc = cb_mkdirs(wd, e))) return rc;
    rc = run_compare_state_read(&c->state, o->dir, e);
    if (rc == CB_ENOTFOUND) {
        if (exists(o->dir, "runs") || exists(o->dir, "configs") || exists(o->dir, "tune"))
            return cb_fail(e, CB_EEXIST,
                           "%s holds results but no compare.json: it was not made by coinbc compare with this spec; use "
                           "another -o",
                           o->dir);
        memset(&c->state, 0, sizeof c->state);
        c->state.spec = strdup(c->spec.canonical);
        if (!c->state.spec) return cb_fail(e, CB_ENOMEM, "compare: out of memory");
        return run_compare_state_write(o->dir, &c->state, e);
    }
    if (rc) return rc;
    if (strcmp(c->state.spec, c->spec.canonical))
        return cb_fail(e, CB_EEXIST,
                       "%s/compare.json records another spec than %s: a comparison folder holds one spec's results; "
                       "give the spec it was made with, or use another -o",
                       o->dir, o->spec);
    return 0;
}

/* runs, probes and top-N figures still to do */
static int missing(const exp_ctx *c) {
    int n = runs_todo(c, EXP_FINAL | EXP_PROBE, NULL);
    char name[128];
    for (int i = 0; i < c->spec.nmethods; i++)
        if (c->spec.m[i].tuned && c->spec.m[i].top) {
            snprintf(name, sizeof name, "top/%s/done", c->spec.m[i].name);
            n += !exists(c->o->dir, name);
        }
    return n;
}

int exp_compare_run(const exp_compare_opts *o, char **table, cb_err *e) {
    if (table) *table = NULL;
    exp_ctx *c = calloc(1, sizeof *c);
    if (!c) return cb_fail(e, CB_ENOMEM, "compare: out of memory");
    c->o = o;
    c->threads = o->threads;
    c->deadline = o->hours > 0 ? cb_now() + o->hours * 3600 : 0;
    int rc = setup(c, e);
    if (!rc && (o->stages & EXP_DATA)) rc = stage_data(c, e);
    if (!rc && c->spec.probe && c->spec.data[0].is_path && (o->stages & (EXP_PROBE)) && !(o->stages & EXP_DATA))
        rc = probe_levels(c, e);
    if (!rc && (o->stages & EXP_TUNE)) rc = stage_tune(c, e);
    for (int i = 0; !rc && (o->stages & EXP_TOP) && i < c->spec.nmethods; i++) rc = top_one(c, &c->spec.m[i], e);
    if (!rc) rc = runs_and_probes(c, e);
    if (!rc && (o->stages & EXP_TABLE)) rc = stage_table(c, table, e);
    if (!rc) {
        int left = missing(c);
        if (left) exp_say(c, "%d runs still to do", left);
        rc = left ? EXP_PARTIAL : EXP_COMPLETE;
    }
    run_compare_spec_free(&c->spec);
    run_compare_state_free(&c->state);
    free(c);
    return rc;
}
