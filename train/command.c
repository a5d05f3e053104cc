/* command.c - coinbc train as one library call: the options given (the
 * schema's, run/config.c) over the defaults or a resumed run's config.json,
 * the datasets, the levels, the lock, and train_run. cli/cmd_train.c parses
 * and prints; everything between is here. */
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

static int index_of(const char *key) {
    for (int i = 0; i < run_option_count(); i++)
        if (!strcmp(run_option_at(i)->key, key)) return i;
    return -1;
}

static const train_opt_value *given(const train_command *c, const char *key) {
    int i = index_of(key);
    return i >= 0 && c->opt[i].given ? &c->opt[i] : NULL;
}

/* the given options that train_opts holds, over o */
static int apply_given(const train_command *c, train_opts *o, cb_err *e) {
    for (int i = 0; i < run_option_count() && i < TRAIN_MAX_OPTIONS; i++) {
        const run_option_range *r = run_option_at(i);
        if (!c->opt[i].given || r->type == RUN_OPT_PATH || r->type == RUN_OPT_SEEDS || r->type == RUN_OPT_FLAG) continue;
        if (!strcmp(r->key, "threads")) { /* not in config.json; 0 (all cores) unless given */
            int rc = run_option_check_int("threads", c->opt[i].i, NULL, 0, CB_EARG, e);
            if (rc) return rc;
            o->threads = (int)c->opt[i].i;
            continue;
        }
        int rc = train_opts_set(o, r->key, &c->opt[i], e);
        if (rc) return rc;
    }
    /* tau is 0 for a method that does not read it (mean) */
    if (!(run_method(o->comb.method)->options & RUN_MOPT_TAU)) o->comb.tau = 0;
    return 0;
}

int train_command_check(const train_command *c, cb_err *e) {
    if (run_option_count() > TRAIN_MAX_OPTIONS) return cb_fail(e, CB_EARG, "train: TRAIN_MAX_OPTIONS is too small");
    const train_opt_value *resume = given(c, "resume"), *out = given(c, "out");
    if (!c->data && !resume) return cb_fail(e, CB_EARG, "give one DATA (see coinbc train --help)");
    if (!out || !out->text) return cb_fail(e, CB_EARG, "-o RUN is required");
    const char *in[] = {c->data, given(c, "val") ? given(c, "val")->text : NULL};
    int rc = cb_path_check_output("-o", out->text, CB_OUT_RUN, in, 2, e);
    if (rc) return rc;
    train_opts o;
    if ((rc = train_opts_init(&o, e)) || (rc = apply_given(c, &o, e))) return rc;
    model plan;
    return model_plan(&plan, &o.net, e);
}

/* loads the levels of r within [lo, hi] (all if !has). Under mpirun
 * (`share`): only this rank's share (cb_dist_share) of them, or none
 * (share 2: training levels, read by train_run when first needed); the
 * others get their seed, mode and frame count from the manifest and no
 * frames. */
static int load_range(ds_reader *r, int has, int32_t lo_seed, int32_t hi_seed, ds_level **out, int *n, int threads,
                      int share, cb_err *e) {
    int cnt = 0;
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)(ds_nlevels(r) + 1));
    if (!seeds) return cb_fail(e, CB_ENOMEM, "out of memory");
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (!has || (s >= lo_seed && s <= hi_seed)) seeds[cnt++] = s;
    }
    if (cnt == 0) {
        free(seeds);
        return cb_fail(e, CB_EARG, "%s: no levels in %d-%d (the dataset has %d levels, seeds %d..%d)", ds_path(r), lo_seed,
                       hi_seed, ds_nlevels(r), ds_nlevels(r) ? ds_level_seed(r, 0) : 0,
                       ds_nlevels(r) ? ds_level_seed(r, ds_nlevels(r) - 1) : 0);
    }
    *out = calloc((size_t)cnt, sizeof **out);
    int64_t lo = 0, hi = cnt;
    if (share && cb_dist_size() > 1) {
        cb_dist_share(cnt, cb_dist_rank(), cb_dist_size(), &lo, &hi);
        if (share == 2) lo = hi = 0;
        for (int i = 0; *out && i < cnt; i++) {
            const ds_entry *en = ds_level_entry(r, ds_find(r, seeds[i]));
            (*out)[i].seed = en->seed;
            (*out)[i].mode = en->mode;
            (*out)[i].n = en->frames;
        }
    }
    int rc = 0;
    if (!*out) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    else if (hi > lo) rc = ds_load(r, seeds + lo, (int)(hi - lo), *out + lo, threads, e);
    free(seeds);
    if (rc) {
        free(*out);
        *out = NULL;
        return rc;
    }
    *n = cnt;
    return 0;
}

/* --resume: the run's config.json, read strictly (after the folder's
 * recovery, under the lock) */
static int read_run_config(const char *run, run_config *c, cb_err *e) {
    run_recovery rec;
    int rc;
    if (cb_dist_rank() == 0 && (rc = run_folder_recover(run, &rec, e))) return rc;
    if ((rc = cb_dist_barrier(e))) return rc;
    rc = run_config_read(c, run, e);
    if (rc == CB_ENOTFOUND)
        return cb_fail(e, rc, "cannot resume: %s holds no run (no config.json); leave out --resume to start one", run);
    return rc;
}

typedef struct {
    const char *data, *val;
    int has_trl, has_vall;
    int32_t tlo, thi, vlo, vhi;
} data_sel;

/* the options and the data: given ones over the defaults, or, on resume,
 * over the run's config.json (what is not given is the run's own, never a
 * default; train_run then refuses any given one that differs from it) */
static int resolve(const train_command *c, train_opts *o, run_config *cfg, data_sel *d, cb_err *e) {
    const train_opt_value *trl = given(c, "train_levels"), *vall = given(c, "val_levels"), *val = given(c, "val");
    int resume = given(c, "resume") != NULL, rc;
    if ((rc = train_opts_init(o, e))) return rc;
    d->data = c->data;
    d->val = val ? val->text : NULL;
    d->has_trl = trl != NULL, d->has_vall = vall != NULL;
    if (trl) d->tlo = trl->lo, d->thi = trl->hi;
    if (vall) d->vlo = vall->lo, d->vhi = vall->hi;
    if (resume) {
        const char *out = given(c, "out")->text;
        if ((rc = read_run_config(out, cfg, e))) return rc;
        int g[TRAIN_MAX_OPTIONS];
        for (int i = 0; i < TRAIN_MAX_OPTIONS; i++) g[i] = c->opt[i].given;
        train_opts_from_config(o, cfg, g);
    }
    model_net_desc stored = o->net;
    if ((rc = apply_given(c, o, e))) return rc;
    if (resume && given(c, "net")) { /* a given --net keeps the run's channels and hidden width unless they are given */
        if (!given(c, "channels")) memcpy(o->net.channels, stored.channels, sizeof o->net.channels);
        if (!given(c, "hidden")) o->net.hidden = stored.hidden;
    }
    if (!resume) return 0;
    if (!d->data && !cfg->has_data)
        return cb_fail(e, CB_EARG, "%s/config.json records no dataset: give DATA", given(c, "out")->text);
    if (cfg->has_data) {
        if (!d->data) d->data = cfg->data;
        if (!d->has_trl) d->has_trl = 1, d->tlo = cfg->train_seed_lo, d->thi = cfg->train_seed_hi;
        /* validation: the run's levels, from DATA or from its own dataset */
        if (!val && cfg->val_data[0] && strcmp(cfg->val_data, cfg->data)) d->val = cfg->val_data;
        if (!d->has_vall && cfg->val_seed_lo >= 0) d->has_vall = 1, d->vlo = cfg->val_seed_lo, d->vhi = cfg->val_seed_hi;
    }
    return 0;
}

int train_command_run(const train_command *c, train_command_result *r, cb_err *e) {
    memset(r, 0, sizeof *r);
    train_opts *o = &r->o;
    const char *out = given(c, "out")->text;
    int resume = given(c, "resume") != NULL, rc = 0;
    ds_reader *rd = NULL, *rv = NULL;
    ds_level *tr = NULL, *va = NULL;
    int ntr = 0, nva = 0;
    run_config *cfg = calloc(1, sizeof *cfg); /* on resume, the run's config.json (data and val may point into it) */
    if (!cfg) return cb_fail(e, CB_ENOMEM, "out of memory");
    /* the writer lock on RUN for the whole run; a failure before the first commit removes what this call created */
    cb_lock lock;
    memset(&lock, 0, sizeof lock);
    if (cb_dist_rank() == 0 && (rc = cb_lock_acquire(&lock, out, c->holder, e))) { /* rank 0 writes */
        free(cfg);
        return rc;
    }
    data_sel d;
    memset(&d, 0, sizeof d);
    if ((rc = resolve(c, o, cfg, &d, e))) goto done;
    o->run = out;
    o->resume = resume;
    o->quiet = given(c, "quiet") != NULL;
    o->stop = c->stop;
    o->on_epoch = c->on_epoch;
    o->ctx = c->ctx;
    if ((rc = ds_open(&rd, d.data, e)) || (d.val && (rc = ds_open(&rv, d.val, e)))) {
        if (resume && (rd ? !given(c, "val") : !c->data)) /* a path from config.json (relative?): */
            cb_err_prefix(e, "the dataset %s/config.json records: ", out); /* give it on the command line */
        goto done;
    }
    /* validation levels are never training levels (one check, dataset/) */
    if ((d.val || d.has_vall) &&
        (rc = ds_check_disjoint(rd, d.has_trl ? d.tlo : INT32_MIN, d.has_trl ? d.thi : INT32_MAX, "training", rv ? rv : rd,
                                d.has_vall ? d.vlo : INT32_MIN, d.has_vall ? d.vhi : INT32_MAX, "validation", e)))
        goto done;
    if ((rc = load_range(rd, d.has_trl, d.tlo, d.thi, &tr, &ntr, o->threads, 2, e))) goto done;
    if (cb_dist_size() > 1) o->reader = rd;
    if (d.val) rc = load_range(rv, d.has_vall, d.vlo, d.vhi, &va, &nva, o->threads, 1, e);
    else if (d.has_vall) rc = load_range(rd, 1, d.vlo, d.vhi, &va, &nva, o->threads, 1, e);
    if (rc) goto done;
    o->has_data = 1;
    o->data = d.data;
    o->val_data = d.val ? d.val : (nva ? d.data : "");
    o->data_manifest_crc = ds_manifest_crc(rd);
    o->val_manifest_crc = rv ? ds_manifest_crc(rv) : (nva ? ds_manifest_crc(rd) : 0);
    r->n_train = ntr, r->n_val = nva;
    if (c->on_start && cb_dist_rank() == 0) c->on_start(c->ctx, o, ntr, nva);
    rc = train_run(o, tr, ntr, va, nva, &r->res, e);
done:
    if (cb_dist_rank() == 0) cb_lock_release(&lock, (rc != 0 || r->res.stopped) && !r->res.committed);
    for (int i = 0; i < ntr; i++) ds_level_free(&tr[i]);
    for (int i = 0; i < nva; i++) ds_level_free(&va[i]);
    free(tr);
    free(va);
    ds_close(rd);
    ds_close(rv);
    /* the paths in o may point into cfg: the caller gets them cleared */
    o->data = o->val_data = NULL;
    o->run = NULL;
    free(cfg);
    return rc;
}
