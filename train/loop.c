/* loop.c - the training loop, in named pieces: setup (option checks, folder
 * recovery, a fresh model or the resume state), one step (sample L distinct
 * training levels and B frames of each, or take the step's chunks of the
 * epoch's plan under --sampling epoch (epoch.c), one forward and one backward pass
 * for the whole batch giving one parameter gradient per level, combine, an
 * Adam step, or tand's masked Adam step), the end of an epoch (validation, the metrics row), and the
 * commit of an epoch's files as one unit (config.json, latest.ckpt,
 * best.ckpt, metrics.csv, metrics.jsonl, agreement.json; run/commit.c). Resuming from
 * latest.ckpt gives the same result as an uninterrupted run: the checkpoint
 * holds the parameters, Adam moments (and tand's sign moment), step, epoch
 * and sampling RNG (--sampling epoch's order is rebuilt from the seed and
 * the epoch number). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/method.h"

int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e) {
    model_predict_io io = {0}; /* chunks of the current (training) batch, if one is set */
    int64_t tot = 0;
    for (int i = 0; i < n; i++) {
        io.labels = levels[i].label;
        int rc = model_predict(m, levels[i].frames, levels[i].n, &io, e);
        if (rc) return rc;
        tot += levels[i].n;
    }
    *loss = tot ? io.loss_sum / (double)tot : NAN;
    *acc = tot ? (double)io.correct / (double)tot : NAN;
    return 0;
}

static int is_weight(const model_tensor *t) {
    size_t nl = strlen(t->name);
    return nl >= 2 && !strcmp(t->name + nl - 2, ".w");
}

static double lr_at(const train_opts *o, int64_t step, int64_t total_steps) {
    return o->lr_decay && (double)step >= 0.75 * (double)total_steps ? o->lr * 0.1 : o->lr;
}

/* Everything a run holds between its pieces. */
typedef struct {
    const train_opts *o;
    const ds_level *train, *val;
    int n_train, n_val, L, B, N;
    int64_t total_frames, steps_per_epoch, total_steps;
    model m;
    int have_model;
    model_ckpt_state st;
    float *state; /* the method's own optimizer state (run_method()->state x nparams floats: tand's sign moment) */
    float *mem, *grads, *g, *density, *dens_sum;
    uint8_t *frames, *labels;
    int *perm;
    train_epoch_plan plan; /* --sampling epoch: the batches of epoch plan_epoch */
    int64_t plan_epoch;
    run_metrics hist;   /* rows of the completed epochs */
    run_agreement agree; /* agreement histograms so far (first step, each epoch's last) */
    int hist_cap;
    run_text config;    /* config.json, staged with every commit */
    run_config stored;  /* on resume: the run's config.json (checked against the options) */
    int committed;      /* latest.ckpt exists in the folder */
    /* under mpirun (docs/MPI.md): rank `rank` of R takes levels [l0, l0 + nl)
     * of each step's L (one process: 0 of 1, all L); the levels it has not
     * loaded (frames NULL, o->reader set) are read into cache on first use */
    int rank, R, l0, nl, dist_stop;
    double *dsum;
    int32_t *dcnt;
    int ls_tensor;      /* one process, a method whose reduction splits: the tensor the backward reduces over
                           the levels into dsum, dcnt (model_backward_sums), or -1 */
    ds_level *cache;
    int created_dir;    /* the run folder did not exist before this call */
    char ckpath[4200];
} trainer;

/* The figures of the epoch in progress. */
typedef struct {
    double loss_sum, t_start;
    int64_t ok_sum, seen, steps;
} epoch_acc;

/* ---- setup: checks, recovery, fresh model or resume state ---- */

static int check_opts(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val,
                      int64_t *total_frames, cb_err *e) {
    int L = o->batch_levels, B = o->batch_frames, rc;
    const char *W = "train";
    if (n_train < 1) return cb_fail(e, CB_EARG, "train: no training levels");
    /* the ranges: one definition, run/config.c's option table, as config.json's reader */
    if ((rc = run_option_check_int("batch_levels", L, W, 0, CB_EARG, e)) ||
        (rc = run_option_check_int("batch_frames", B, W, 0, CB_EARG, e)) ||
        (rc = run_option_check_int("epochs", o->epochs, W, 0, CB_EARG, e)) ||
        (rc = run_option_check_real("lr", o->lr, W, 0, CB_EARG, e)) ||
        (o->beta1_set && (rc = run_option_check_real("beta1", o->beta1, W, 0, CB_EARG, e))) ||
        (rc = run_option_check_real("wd", o->wd, W, 0, CB_EARG, e)) ||
        (rc = run_option_check_real("tau", o->comb.tau, W, 0, CB_EARG, e)) ||
        (rc = run_option_check_real("sand_k", o->comb.sand_k, W, 0, CB_EARG, e)) ||
        (o->comb.tand_beta != 0 && (rc = run_option_check_real("tand_beta", o->comb.tand_beta, W, 0, CB_EARG, e))) ||
        (o->threads != 0 && (rc = run_option_check_int("threads", o->threads, W, 0, CB_EARG, e))) ||
        (rc = run_option_check_int("max_steps", o->max_steps, W, 0, CB_EARG, e)) ||
        (rc = run_net_check(&o->net, W, 0, CB_EARG, e)))
        return rc;
    if (o->seed > (uint64_t)INT64_MAX) /* (above the table's int64 bounds) */
        return cb_fail(e, CB_EARG, "train: --seed %llu is above %lld", (unsigned long long)o->seed, (long long)INT64_MAX);
    if ((rc = run_option_check_int("seed", (int64_t)o->seed, W, 0, CB_EARG, e))) return rc;
    if (L > n_train)
        return cb_fail(e, CB_EARG, "train: --batch-levels %d is more than the %d training levels", L, n_train);
    if (L % cb_dist_size() != 0)
        return cb_fail(e, CB_EARG, "train: --batch-levels %d cannot be split over %d ranks (each rank takes L/P whole "
                       "levels: give a multiple of %d, or start as many ranks as divide %d)", L, cb_dist_size(),
                       cb_dist_size(), L);
    if (o->sampling != TRAIN_SAMPLING_REPLACE && o->sampling != TRAIN_SAMPLING_EPOCH)
        return cb_fail(e, CB_EARG, "train: sampling %d is not replace or epoch", o->sampling);
    if (o->best_by != TRAIN_BEST_ACC && o->best_by != TRAIN_BEST_LOSS)
        return cb_fail(e, CB_EARG, "train: best_by %d is not acc or loss", o->best_by);
    if (!train_method(o->comb.method))
        return cb_fail(e, CB_EARG, "train: method %d is not one of the %d methods", o->comb.method, TRAIN_NMETHODS);
    model plan;
    if (model_plan(&plan, &o->net, e)) return cb_err_prefix(e, "train: ");
    int64_t tf = 0;
    int shortest = 0;
    for (int i = 0; i < n_train; i++) {
        if (train[i].n < 1) return cb_fail(e, CB_EARG, "train: level %d has no frames", train[i].seed);
        if (train[i].n > UINT32_MAX) return cb_fail(e, CB_EARG, "train: level %d has too many frames", train[i].seed);
        for (int64_t f = 0; train[i].label && f < train[i].n; f++) /* a level not loaded yet is checked by ds_load */
            if (train[i].label[f] >= CB_NUM_ACTIONS)
                return cb_fail(e, CB_EFORMAT, "train: level %d frame %lld: label %d is not an action 0..14", train[i].seed,
                               (long long)f, train[i].label[f]);
        if (train[i].n < train[shortest].n) shortest = i;
        tf += train[i].n;
    }
    /* B frames of each level per step: more than a level holds would repeat
     * its frames within a step, and an epoch (total frames / (L x B) steps)
     * would shrink without a word */
    if (B > train[shortest].n) {
        const char *of = o->has_data && o->data ? o->data : "the training data";
        return cb_fail(e, CB_EARG, "train: --batch-frames %d is more than the %lld frames of level %d of %s, the shortest "
                       "training level (each step takes B frames of each of L levels): give --batch-frames %lld or less, "
                       "or leave that level out with --train-levels", B, (long long)train[shortest].n,
                       train[shortest].seed, of, (long long)train[shortest].n);
    }
    for (int i = 0; i < n_val; i++)
        for (int64_t f = 0; val[i].label && f < val[i].n; f++)
            if (val[i].label[f] >= CB_NUM_ACTIONS)
                return cb_fail(e, CB_EFORMAT, "train: validation level %d frame %lld: label %d is not an action 0..14",
                               val[i].seed, (long long)f, val[i].label[f]);
    *total_frames = tf;
    return 0;
}

static double tand_beta(const train_opts *o) { return o->comb.tand_beta != 0 ? o->comb.tand_beta : RUN_TAND_BETA_DEFAULT; }
static double beta1(const train_opts *o) { return o->beta1_set ? o->beta1 : TRAIN_BETA1_DEFAULT; }

/* the config.json of these options and data */
static void fill_config(const trainer *t, run_config *cp) {
    const train_opts *o = t->o;
    run_config c;
    memset(&c, 0, sizeof c);
    train_opts_to_config(&c, o); /* every option config.json holds (train/options.c) */
    c.net = o->net;
    c.params = t->m.nparams;
    c.tand_beta = tand_beta(o);
    c.beta1 = beta1(o);
    c.batch_levels = t->L;
    c.batch_frames = t->B;
    c.train_levels = t->n_train;
    c.train_frames = t->total_frames;
    c.val_levels = t->n_val;
    c.steps_per_epoch = t->steps_per_epoch;
    if (o->has_data) {
        c.has_data = 1;
        snprintf(c.data, sizeof c.data, "%s", o->data ? o->data : "");
        snprintf(c.val_data, sizeof c.val_data, "%s", o->val_data ? o->val_data : "");
        c.data_manifest_crc = o->data_manifest_crc;
        c.val_manifest_crc = o->val_manifest_crc;
        c.train_seed_lo = t->train[0].seed;
        c.train_seed_hi = t->train[t->n_train - 1].seed;
        c.val_seed_lo = t->n_val ? t->val[0].seed : -1;
        c.val_seed_hi = t->n_val ? t->val[t->n_val - 1].seed : -1;
    }
    *cp = c;
}

/* A resume continues the run config.json describes: every option and the
 * data must be the ones it was started with (run_config_diff); only
 * --epochs and --max-steps (and --threads, --quiet, which it does not hold)
 * may change. The config.json it commits is the run's own with those two
 * updated, so the data paths and everything else stay as recorded. */
static int check_resume_config(trainer *t, cb_err *e) {
    int rc = run_config_read(&t->stored, t->o->run, e);
    if (rc == CB_ENOTFOUND)
        return cb_fail(e, CB_EFORMAT, "cannot resume: %s has latest.ckpt but no config.json (the run folder is "
                       "inconsistent)", t->o->run);
    if (rc) return cb_err_prefix(e, "cannot resume: ");
    run_config now;
    fill_config(t, &now);
    char diff[3000];
    int nd = run_config_diff(&t->stored, &now, diff, sizeof diff);
    if (nd)
        return cb_fail(e, CB_EARG, "cannot resume %s: %d setting%s differ%s from the run's config.json (as started -> "
                       "now): %s. Only --epochs, --max-steps, --threads and --quiet may change on --resume: leave the "
                       "others out (the run's own are used) or train into another -o", t->o->run, nd, nd > 1 ? "s" : "",
                       nd > 1 ? "" : "s", diff);
    t->stored.epochs = t->o->epochs;
    t->stored.max_steps = t->o->max_steps;
    return 0;
}

static int encode_config(trainer *t, cb_err *e) {
    if (t->o->resume) return run_config_encode(&t->config, &t->stored, e);
    run_config c;
    fill_config(t, &c);
    return run_config_encode(&t->config, &c, e);
}

/* the metrics rows of the epochs latest.ckpt covers, from metrics.jsonl (exact) */
static int load_history(trainer *t, cb_err *e) {
    int rc = run_metrics_read(&t->hist, t->o->run, e);
    if (rc == CB_ENOTFOUND) rc = 0;
    if (rc) return cb_err_prefix(e, "cannot resume: ");
    if (t->hist.nrows < t->st.epoch) {
        int rows = t->hist.nrows;
        run_metrics_free(&t->hist);
        return cb_fail(e, CB_EFORMAT, "cannot resume: %s is at epoch %lld but the metrics hold %d epochs (the run folder "
                       "is inconsistent)", t->ckpath, (long long)t->st.epoch, rows);
    }
    t->hist.nrows = (int)t->st.epoch;
    t->hist_cap = t->hist.nrows;
    return 0;
}

/* the histograms' layers (the weight tensors); on resume, those of the steps latest.ckpt covers */
static int setup_agreement(trainer *t, cb_err *e) {
    run_agreement *a = &t->agree, fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.levels = t->L;
    for (int k = 0; k < t->m.ntensors; k++)
        if (is_weight(&t->m.tensors[k]))
            snprintf(fresh.layer[fresh.nlayers++], sizeof fresh.layer[0], "%.*s", (int)strlen(t->m.tensors[k].name) - 2,
                     t->m.tensors[k].name);
    int rc = t->o->resume ? run_agreement_read(a, t->o->run, e) : CB_ENOTFOUND;
    if (rc == CB_ENOTFOUND) {
        *a = fresh;
        return 0;
    }
    if (rc) return cb_err_prefix(e, "cannot resume: ");
    int same = a->levels == fresh.levels && a->nlayers == fresh.nlayers;
    for (int k = 0; same && k < a->nlayers; k++) same = !strcmp(a->layer[k], fresh.layer[k]);
    if (!same)
        return cb_fail(e, CB_EFORMAT, "cannot resume: %s/agreement.json holds other levels per batch or layers than this "
                       "run (the run folder is inconsistent)", t->o->run);
    while (a->nsnaps > 0 && a->snaps[a->nsnaps - 1].step > t->st.step) a->nsnaps--;
    return 0;
}

/* one process, a method whose reduction splits, a level of one chunk: the
 * backward reduces the first linear layer's weight gradient over the levels
 * into dsum and dcnt (model_backward_sums) */
static int setup_level_sums(trainer *t, cb_err *e) {
    int method = t->o->comb.method;
    t->ls_tensor = t->R == 1 && train_combine_takes_sums(method) ? model_level_sums_tensor(&t->m, t->L, t->B) : -1;
    if (t->ls_tensor < 0) return 0;
    size_t n = t->m.tensors[t->ls_tensor].size;
    if (!(t->dsum = malloc(sizeof(double) * n)) || !(t->dcnt = malloc(sizeof(int32_t) * n)))
        return cb_fail(e, CB_ENOMEM, "train: out of memory for a batch of %d x %d", t->L, t->B);
    return 0;
}

static int setup(trainer *t, cb_err *e) {
    const train_opts *o = t->o;
    struct stat sb;
    int rc = 0;
    if (t->rank == 0) { /* rank 0 alone touches the run folder; the others read it once it is recovered */
        t->created_dir = stat(o->run, &sb) != 0;
        if ((rc = cb_mkdirs(o->run, e))) return rc;
        run_recovery rec;
        if ((rc = run_folder_recover(o->run, &rec, e))) return rc;
    }
    if ((rc = cb_dist_barrier(e))) return rc;
    snprintf(t->ckpath, sizeof t->ckpath, "%s/latest.ckpt", o->run);
    if (o->resume) {
        if ((rc = model_load_state(&t->m, &t->st, &t->state, t->ckpath, e))) return cb_err_prefix(e, "cannot resume: ");
        t->have_model = 1;
        t->committed = 1;
        /* config.json first: it names every option that differs; the checks
         * below then hold latest.ckpt to it */
        if ((rc = check_resume_config(t, e))) return rc;
        if (memcmp(&t->m.cfg, &o->net, sizeof t->m.cfg) != 0) {
            char held[16 * MODEL_NET_MAX_STAGES], asked[16 * MODEL_NET_MAX_STAGES];
            model_net_channels_text(held, sizeof held, &t->m.cfg);
            model_net_channels_text(asked, sizeof asked, &o->net);
            return cb_fail(e, CB_EARG, "cannot resume: %s holds a %s net (channels %s, hidden %d), the options ask for "
                           "%s (channels %s, hidden %d)", t->ckpath, model_net_name(t->m.cfg.kind), held, t->m.cfg.hidden,
                           model_net_name(o->net.kind), asked, o->net.hidden);
        }
        if (t->st.steps_per_epoch != t->steps_per_epoch)
            return cb_fail(e, CB_EARG, "cannot resume: %s was trained with %lld steps per epoch, these data and batch size "
                           "give %lld (different levels or --batch-levels/--batch-frames?)", t->ckpath,
                           (long long)t->st.steps_per_epoch, (long long)t->steps_per_epoch);
        if (t->st.epoch > o->epochs)
            return cb_fail(e, CB_EARG, "cannot resume: %s has already trained %lld epochs, more than --epochs %d (give "
                           "--epochs %lld or more)", t->ckpath, (long long)t->st.epoch, o->epochs, (long long)t->st.epoch);
        if (run_method(o->comb.method)->state && !t->st.has_state)
            return cb_fail(e, CB_EARG, "cannot resume: %s holds no %s optimizer state (it was trained with another "
                           "method; %s cannot continue it exactly)", t->ckpath, run_method_name(o->comb.method),
                           run_method_name(o->comb.method));
        if ((rc = load_history(t, e))) return rc;
    } else {
        if (t->rank == 0 && access(t->ckpath, F_OK) == 0)
            return cb_fail(e, CB_EEXIST, "%s already holds a training run (%s); use --resume to continue it or another -o",
                           o->run, t->ckpath);
        if ((rc = model_init(&t->m, &o->net, e))) return rc;
        t->have_model = 1;
        cb_rng_seed(&t->st.rng, o->seed);
        model_init_params(&t->m, &t->st.rng);
        t->st.best_val = o->best_by == TRAIN_BEST_LOSS ? -HUGE_VAL : -1; /* loss: the negated loss, so higher is better */
        t->st.steps_per_epoch = t->steps_per_epoch;
    }
    /* the checkpoints hold a method's own state (tand's sign moment), zero at the start */
    if (!run_method(o->comb.method)->state) {
        free(t->state); /* (a resumed checkpoint's, of a method with state, is not this method's) */
        t->state = NULL;
    } else if (!t->state && !(t->state = calloc(t->m.nparams, sizeof(float))))
        return cb_fail(e, CB_ENOMEM, "train: out of memory for the optimizer state");
    t->st.has_state = t->state != NULL;
    t->st.state = t->state;
    model_set_threads(&t->m, o->threads > 0 ? o->threads : cb_default_threads());
    size_t P = t->m.nparams;
    t->mem = malloc(sizeof(float) * (P * ((size_t)t->L + 1) + (size_t)t->m.ntensors * 2));
    t->frames = malloc((size_t)t->nl * t->B * CB_FRAME_BYTES);
    t->labels = malloc((size_t)t->nl * t->B);
    t->perm = malloc(sizeof(int) * (size_t)t->n_train);
    if (t->R > 1) {
        t->dsum = malloc(sizeof(double) * P);
        t->dcnt = malloc(sizeof(int32_t) * P);
        t->cache = calloc((size_t)t->n_train, sizeof *t->cache);
    }
    if (!t->mem || !t->frames || !t->labels || !t->perm || (t->R > 1 && (!t->dsum || !t->dcnt || !t->cache)))
        return cb_fail(e, CB_ENOMEM, "train: out of memory for a batch of %d x %d", t->L, t->B);
    t->grads = t->mem;
    t->g = t->mem + P * (size_t)t->L;
    t->density = t->g + P;
    t->dens_sum = t->density + t->m.ntensors;
    if ((rc = encode_config(t, e))) return rc;
    if ((rc = setup_agreement(t, e))) return rc;
    if ((rc = model_set_batch_levels(&t->m, t->nl, t->B, e))) return rc;
    return setup_level_sums(t, e);
}

/* a training level's frames: in memory, or read on first use (o->reader) */
static int level_data(trainer *t, int i, const ds_level **out, cb_err *e) {
    *out = &t->train[i];
    if (t->train[i].frames) return 0;
    if (!t->o->reader || !t->cache) return cb_fail(e, CB_EARG, "train: level %d is not loaded", t->train[i].seed);
    if (!t->cache[i].frames) {
        int32_t seed = t->train[i].seed;
        int rc = ds_load(t->o->reader, &seed, 1, &t->cache[i], 1, e);
        if (rc) return rc;
        if (t->cache[i].n != t->train[i].n)
            return cb_fail(e, CB_EFORMAT, "train: level %d has %lld frames, the manifest said %lld", seed,
                           (long long)t->cache[i].n, (long long)t->train[i].n);
        for (int64_t f = 0; f < t->cache[i].n; f++)
            if (t->cache[i].label[f] >= CB_NUM_ACTIONS)
                return cb_fail(e, CB_EFORMAT, "train: level %d frame %lld: label %d is not an action 0..14", seed,
                               (long long)f, t->cache[i].label[f]);
    }
    *out = &t->cache[i];
    return 0;
}

/* Accuracy and loss on the validation levels; under mpirun each rank takes
 * a contiguous share and the sums are reduced (the correct count exactly). */
static int evaluate_val(trainer *t, double *loss, double *acc, cb_err *e) {
    if (t->R == 1) return train_evaluate(&t->m, t->val, t->n_val, loss, acc, e);
    int64_t lo, hi;
    cb_dist_share(t->n_val, t->rank, t->R, &lo, &hi);
    model_predict_io io = {0};
    double tot[3] = {0, 0, 0}; /* loss sum, correct, frames */
    for (int64_t i = lo; i < hi; i++) {
        io.labels = t->val[i].label;
        int rc = model_predict(&t->m, t->val[i].frames, t->val[i].n, &io, e);
        if (rc) return rc;
        tot[2] += (double)t->val[i].n;
    }
    tot[0] = io.loss_sum;
    tot[1] = (double)io.correct;
    int rc = cb_dist_allreduce_f64(tot, 3, e);
    if (rc) return rc;
    *loss = tot[2] > 0 ? tot[0] / tot[2] : NAN;
    *acc = tot[2] > 0 ? tot[1] / tot[2] : NAN;
    return 0;
}

/* ---- one step ---- */

/* --sampling epoch: the step's slots from the epoch's plan (built at the
 * epoch's first step, or again after a resume: it depends on seed and epoch
 * only); every rank builds the same plan and copies the frames of its own */
static int plan_batch(trainer *t, int64_t epoch, cb_err *e) {
    const int L = t->L, B = t->B, l0 = t->l0, nl = t->nl;
    int rc;
    if (!t->plan.level || t->plan_epoch != epoch) {
        train_epoch_plan_free(&t->plan);
        int64_t *nf = malloc(sizeof *nf * (size_t)t->n_train);
        if (!nf) return cb_fail(e, CB_ENOMEM, "train: out of memory");
        for (int i = 0; i < t->n_train; i++) nf[i] = t->train[i].n;
        rc = train_epoch_plan_make(&t->plan, nf, t->n_train, L, B, t->o->seed, epoch, e);
        free(nf);
        if (rc) return rc;
        t->plan_epoch = epoch;
    }
    int64_t s = t->st.step - epoch * t->steps_per_epoch;
    if (s < 0 || s >= t->plan.steps)
        return cb_fail(e, CB_EARG, "train: step %lld is not a step of epoch %lld", (long long)t->st.step + 1,
                       (long long)epoch + 1);
    for (int l = l0; l < l0 + nl; l++) {
        const ds_level *lv;
        int li = t->plan.level[s * L + l];
        if ((rc = level_data(t, li, &lv, e))) return rc;
        const uint32_t *fr = t->plan.frame + (size_t)(s * L + l) * B;
        for (int b = 0; b < B; b++) {
            memcpy(t->frames + (size_t)((l - l0) * B + b) * CB_FRAME_BYTES, lv->frames + (size_t)fr[b] * CB_FRAME_BYTES,
                   CB_FRAME_BYTES);
            t->labels[(l - l0) * B + b] = lv->label[fr[b]];
        }
        if (t->o->on_frames) t->o->on_frames(t->o->ctx, t->st.step + 1, li, fr, B);
    }
    return 0;
}

/* --sampling replace: L distinct levels (partial Fisher-Yates), B frames of
 * each with replacement, from the run's RNG; every rank draws them all (the
 * same RNG) and copies the frames of its own */
static int replace_batch(trainer *t, cb_err *e) {
    const int L = t->L, B = t->B, l0 = t->l0, nl = t->nl;
    for (int i = 0; i < t->n_train; i++) t->perm[i] = i;
    for (int l = 0; l < L; l++) {
        int j = l + (int)cb_rng_below(&t->st.rng, (uint32_t)(t->n_train - l)), tmp = t->perm[l];
        t->perm[l] = t->perm[j];
        t->perm[j] = tmp;
        const ds_level *lv = &t->train[t->perm[l]];
        int own = l >= l0 && l < l0 + nl, rc;
        if (own && (rc = level_data(t, t->perm[l], &lv, e))) return rc;
        for (int b = 0; b < B; b++) {
            int64_t f = (int64_t)cb_rng_below(&t->st.rng, (uint32_t)lv->n);
            if (!own) continue;
            memcpy(t->frames + (size_t)((l - l0) * B + b) * CB_FRAME_BYTES, lv->frames + (size_t)f * CB_FRAME_BYTES,
                   CB_FRAME_BYTES);
            t->labels[(l - l0) * B + b] = lv->label[f];
        }
    }
    return 0;
}

static int step(trainer *t, int64_t epoch, epoch_acc *a, cb_err *e) {
    const int L = t->L, B = t->B, N = t->N, l0 = t->l0, nl = t->nl;
    {
        int rc = t->o->sampling == TRAIN_SAMPLING_EPOCH ? plan_batch(t, epoch, e) : replace_batch(t, e);
        if (rc) return rc;
    }
    model_forward_u8(&t->m, t->frames, nl * B, NULL);
    int ok;
    double loss = model_loss(&t->m, t->labels, nl * B, &ok);
    if (t->R > 1) { /* the step's loss and hits over all ranks, and whether any rank was asked to stop */
        double red[3] = {loss * nl * B, ok, t->o->stop && *t->o->stop};
        int rc = cb_dist_allreduce_f64(red, 3, e);
        if (rc) return rc;
        loss = red[0] / N;
        ok = (int)red[1];
        t->dist_stop = red[2] > 0;
    }
    const char *keeps = t->committed ? "the run folder keeps its last commit, latest.ckpt"
                                     : "nothing was written (no epoch had completed)";
    if (!isfinite(loss))
        return cb_fail(e, CB_ERANGE, "training diverged: the loss is %g at step %lld (epoch %lld); %s; try a smaller --lr",
                       loss, (long long)t->st.step + 1, (long long)epoch + 1, keeps);
    /* the agreement histogram (first step, each epoch's last) reads every level's gradient */
    int agree_step = t->st.step + 1 == 1 || (t->st.step + 1) % t->steps_per_epoch == 0;
    model_level_sums ls = {.tensor = t->ls_tensor, .sum = t->dsum, .ssum = t->dcnt};
    model_level_sums *lsp = t->ls_tensor >= 0 && !agree_step ? &ls : NULL;
    model_backward_sums(&t->m, t->labels, nl, B, t->grads + (size_t)l0 * t->m.nparams, lsp);
    train_combine_opts co = t->o->comb;
    co.threads = t->m.threads;
    int rc = t->R == 1 ? train_combine_sums(t->g, t->density, t->grads, L, t->m.nparams, t->m.tensors, t->m.ntensors, &co,
                                            lsp, e)
                       : train_combine_dist(t->g, t->density, t->grads, L, l0, nl, t->m.nparams, t->m.tensors,
                                            t->m.ntensors, &co, t->dsum, t->dcnt, e);
    if (rc)
        return cb_err_prefix(e, "training diverged at step %lld (epoch %lld; %s): ", (long long)t->st.step + 1,
                             (long long)epoch + 1, keeps);
    double lr = lr_at(t->o, t->st.step, t->total_steps);
    t->st.step++;
    train_step_args sa = {&t->m, t->density, t->g, t->state, lr, beta1(t->o), t->st.step, t->o->wd, t->o->wd_mode,
                          co.tau, tand_beta(t->o)};
    train_method_fns_of(co.method)->step(&sa); /* Adam, or the method's own (tand) */
    for (int k = 0; k < t->m.ntensors; k++) t->dens_sum[k] += t->density[k];
    if (agree_step) {
        int64_t count[MODEL_MAX_TENSORS][RUN_AGREE_BINS];
        run_agreement_snap snap;
        memset(&snap, 0, sizeof snap);
        snap.step = t->st.step;
        snap.epoch = t->st.step / t->steps_per_epoch;
        if (t->R > 1 && !run_method(co.method)->split) {
            /* under mpirun a method whose reduction does not split (SAND, geomean) gathered every level's gradient */
            train_agreement(count, t->grads, L, t->m.nparams, t->m.tensors, t->m.ntensors);
        } else if (t->R > 1) { /* this rank's sign sums, summed over the ranks (exact) */
            const size_t P = t->m.nparams;
            memset(t->dcnt, 0, sizeof(int32_t) * P);
            for (int l = l0; l < l0 + nl; l++) {
                const float *gl = t->grads + (size_t)l * P;
                for (size_t i = 0; i < P; i++) t->dcnt[i] += (gl[i] > 0) - (gl[i] < 0);
            }
            if ((rc = cb_dist_allreduce_i32(t->dcnt, (int64_t)P, e))) return rc;
            train_agreement_sums(count, t->dcnt, L, t->m.tensors, t->m.ntensors);
        } else {
            train_agreement(count, t->grads, L, t->m.nparams, t->m.tensors, t->m.ntensors);
        }
        for (int k = 0, w = 0; k < t->m.ntensors; k++)
            if (is_weight(&t->m.tensors[k])) memcpy(snap.count[w++], count[k], sizeof count[k]);
        if (run_agreement_add(&t->agree, &snap)) return cb_fail(e, CB_ENOMEM, "train: out of memory");
    }
    a->loss_sum += loss * N;
    a->ok_sum += ok;
    a->seen += N;
    a->steps++;
    return 0;
}

/* ---- end of an epoch: validation and the metrics row ---- */

static int end_epoch(trainer *t, int64_t epoch, const epoch_acc *a, train_epoch_stats *es, run_metrics_row *row,
                     cb_err *e) {
    memset(es, 0, sizeof *es);
    memset(row, 0, sizeof *row);
    es->val_loss = es->val_acc = NAN;
    int rc;
    if (t->n_val > 0 && (rc = evaluate_val(t, &es->val_loss, &es->val_acc, e))) return rc;
    t->st.epoch = epoch + 1;
    es->epoch = t->st.epoch;
    es->step = t->st.step;
    es->train_loss = a->seen ? a->loss_sum / (double)a->seen : NAN;
    es->train_acc = a->seen ? (double)a->ok_sum / (double)a->seen : NAN;
    es->lr = lr_at(t->o, t->st.step - 1, t->total_steps);
    es->seconds = cb_now() - a->t_start;
    es->samples_per_s = es->seconds > 0 ? (double)a->seen / es->seconds : 0;
    for (int k = 0; k < t->m.ntensors; k++) {
        if (!is_weight(&t->m.tensors[k])) continue;
        es->layer[es->nlayers] = t->m.tensors[k].name;
        es->mask_density[es->nlayers++] = a->steps ? t->dens_sum[k] / (double)a->steps : NAN;
    }
    /* the figure --best-by names (loss negated, so higher is better); a tie keeps the earlier epoch */
    double fig = t->o->best_by == TRAIN_BEST_LOSS ? -es->val_loss : es->val_acc;
    es->best = t->n_val > 0 && fig > t->st.best_val;
    if (es->best) t->st.best_val = fig;
    row->epoch = es->epoch;
    row->step = es->step;
    row->train_loss = es->train_loss;
    row->train_acc = es->train_acc;
    row->val_loss = es->val_loss;
    row->val_acc = es->val_acc;
    row->lr = es->lr;
    row->seconds = es->seconds;
    row->samples_per_s = es->samples_per_s;
    row->nlayers = es->nlayers;
    for (int k = 0; k < es->nlayers; k++) {
        snprintf(row->layer[k], sizeof row->layer[k], "%.*s", (int)strlen(es->layer[k]) - 2, es->layer[k]);
        row->mask_density[k] = es->mask_density[k];
    }
    return 0;
}

/* ---- the commit: config, latest (and best), both metrics files as one unit ---- */

static int commit(trainer *t, const run_metrics_row *row, int best, cb_err *e) {
    if (t->rank > 0) { /* rank 0 alone writes the run folder */
        t->committed = 1;
        return 0;
    }
    if (row) {
        if (t->hist.nrows == t->hist_cap) {
            int cap = t->hist_cap ? t->hist_cap * 2 : 16;
            run_metrics_row *n = realloc(t->hist.rows, sizeof *n * (size_t)cap);
            if (!n) return cb_fail(e, CB_ENOMEM, "train: out of memory");
            t->hist.rows = n;
            t->hist_cap = cap;
        }
        t->hist.rows[t->hist.nrows++] = *row;
    }
    /* the metrics files, whole: header (layers from the model) and every row */
    run_metrics_row layers;
    memset(&layers, 0, sizeof layers);
    for (int k = 0; k < t->m.ntensors; k++)
        if (is_weight(&t->m.tensors[k]))
            snprintf(layers.layer[layers.nlayers++], sizeof layers.layer[0], "%.*s", (int)strlen(t->m.tensors[k].name) - 2,
                     t->m.tensors[k].name);
    run_text csv = {0}, jsonl = {0}, agree = {0};
    int rc = run_metrics_csv_header(&csv, &layers);
    for (int i = 0; i < t->hist.nrows && !rc; i++)
        if (!(rc = run_metrics_csv_row(&csv, &t->hist.rows[i]))) rc = run_metrics_jsonl_row(&jsonl, &t->hist.rows[i], e);
    if (!rc && t->agree.nsnaps) rc = run_agreement_encode(&agree, &t->agree, e);
    if (rc) {
        if (row) t->hist.nrows--;
        run_text_free(&csv);
        run_text_free(&jsonl);
        run_text_free(&agree);
        return rc == CB_ENOMEM ? cb_fail(e, CB_ENOMEM, "train: out of memory") : rc;
    }
    run_commit c;
    run_commit_begin(&c, t->o->run);
    if ((rc = run_commit_stage(&c, "config.json", t->config.s, t->config.len, e)) ||
        (rc = run_commit_stage_ckpt(&c, "latest.ckpt", &t->m, &t->st, e)) ||
        (best && (rc = run_commit_stage_ckpt(&c, "best.ckpt", &t->m, &t->st, e))) ||
        (rc = run_commit_stage(&c, "metrics.csv", csv.s ? csv.s : "", csv.len, e)) ||
        (rc = run_commit_stage(&c, "metrics.jsonl", jsonl.s ? jsonl.s : "", jsonl.len, e)) ||
        (agree.s && (rc = run_commit_stage(&c, "agreement.json", agree.s, agree.len, e))))
        run_commit_abort(&c);
    else
        rc = run_commit_finish(&c, e);
    if (c.recorded) t->committed = 1;
    else if (rc && row) t->hist.nrows--;
    run_text_free(&csv);
    run_text_free(&jsonl);
    run_text_free(&agree);
    return rc;
}

static void trainer_free(trainer *t) {
    free(t->state);
    free(t->mem);
    free(t->frames);
    free(t->labels);
    free(t->perm);
    train_epoch_plan_free(&t->plan);
    free(t->dsum);
    free(t->dcnt);
    for (int i = 0; t->cache && i < t->n_train; i++) ds_level_free(&t->cache[i]);
    free(t->cache);
    run_metrics_free(&t->hist);
    run_agreement_free(&t->agree);
    run_text_free(&t->config);
    if (t->have_model) model_free(&t->m);
}

int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e) {
    memset(res, 0, sizeof *res);
    res->val_loss = res->val_acc = NAN; /* until this call validates an epoch */
    trainer t;
    memset(&t, 0, sizeof t);
    t.o = o;
    t.train = train;
    t.val = val;
    t.n_train = n_train;
    t.n_val = n_val;
    t.L = o->batch_levels;
    t.B = o->batch_frames;
    t.N = t.L * t.B;
    t.rank = cb_dist_rank();
    t.R = cb_dist_size();
    t.nl = t.L / t.R;
    t.l0 = t.rank * t.nl;
    int rc = check_opts(o, train, n_train, val, n_val, &t.total_frames, e);
    if (rc) return rc;
    if (o->sampling == TRAIN_SAMPLING_EPOCH) {
        int64_t *nf = malloc(sizeof *nf * (size_t)n_train);
        if (!nf) return cb_fail(e, CB_ENOMEM, "train: out of memory");
        for (int i = 0; i < n_train; i++) nf[i] = train[i].n;
        t.steps_per_epoch = train_epoch_steps(nf, n_train, t.L, t.B);
        free(nf);
        if (t.steps_per_epoch < 1)
            return cb_fail(e, CB_EARG, "train: --sampling epoch: the training levels hold fewer whole chunks of "
                           "--batch-frames %d than the %d levels of one step", t.B, t.L);
    } else {
        t.steps_per_epoch = t.total_frames / t.N > 0 ? t.total_frames / t.N : 1;
    }
    t.total_steps = t.steps_per_epoch * o->epochs;
    if ((rc = setup(&t, e))) goto out;

    double t_start = cb_now();
    int64_t steps_this_call = 0;
    /* resumed at or past --max-steps: nothing to do, nothing written (as for a finished run) */
    int64_t first_epoch = o->resume && o->max_steps > 0 && t.st.step >= o->max_steps ? o->epochs : t.st.epoch;
    for (int64_t epoch = first_epoch; epoch < o->epochs; epoch++) {
        epoch_acc a = {0, cb_now(), 0, 0, 0};
        int64_t s0 = t.st.step - epoch * t.steps_per_epoch; /* > 0 after a mid-epoch stop */
        if (s0 < 0 || s0 >= t.steps_per_epoch) s0 = 0;
        memset(t.dens_sum, 0, sizeof(float) * (size_t)t.m.ntensors);
        char label[200];
        snprintf(label, sizeof label, "epoch %lld/%d", (long long)epoch + 1, o->epochs);
        cb_progress prog;
        cb_progress_start(&prog, label, "steps", t.steps_per_epoch, o->quiet);
        int stopped = 0;
        for (int64_t s = s0; s < t.steps_per_epoch; s++) {
            int stop = t.R > 1 ? t.dist_stop : o->stop && *o->stop; /* under mpirun: as the ranks agreed */
            if ((o->max_steps > 0 && t.st.step >= o->max_steps) || stop) {
                stopped = 1 + stop;
                break;
            }
            if ((rc = step(&t, epoch, &a, e))) {
                cb_progress_finish(&prog);
                goto out;
            }
            steps_this_call++;
            if (!o->quiet) {
                double el = cb_now() - a.t_start;
                snprintf(label, sizeof label, "epoch %lld/%d loss %.3f acc %.3f %.0f samples/s", (long long)epoch + 1,
                         o->epochs, a.loss_sum / (double)a.seen, (double)a.ok_sum / (double)a.seen,
                         el > 0 ? (double)a.seen / el : 0);
            }
            cb_progress_update(&prog, s + 1);
        }
        cb_progress_finish(&prog);
        res->steps = t.st.step;
        res->train_loss = a.seen ? a.loss_sum / (double)a.seen : NAN;
        res->train_acc = a.seen ? (double)a.ok_sum / (double)a.seen : NAN;
        if (stopped) { /* mid-epoch: a checkpoint to resume from, no metrics row */
            if ((rc = commit(&t, NULL, 0, e))) goto out;
            res->stopped = stopped == 2;
            break;
        }
        train_epoch_stats es;
        run_metrics_row row;
        if ((rc = end_epoch(&t, epoch, &a, &es, &row, e))) goto out;
        if ((rc = commit(&t, &row, es.best || n_val == 0, e))) goto out;
        res->epochs_done = (int)t.st.epoch;
        res->val_loss = es.val_loss;
        res->val_acc = es.val_acc;
        res->best_val_acc = o->best_by == TRAIN_BEST_LOSS ? NAN : t.st.best_val;
        res->best_val_loss = o->best_by == TRAIN_BEST_LOSS && t.st.best_val > -HUGE_VAL ? -t.st.best_val : NAN;
        if (o->on_epoch && t.rank == 0) o->on_epoch(o->ctx, &es);
    }
    res->steps = t.st.step;
    res->epochs_done = (int)t.st.epoch;
    res->best_val_acc = o->best_by == TRAIN_BEST_LOSS ? NAN : t.st.best_val;
    res->best_val_loss = o->best_by == TRAIN_BEST_LOSS && t.st.best_val > -HUGE_VAL ? -t.st.best_val : NAN;
    res->seconds = cb_now() - t_start;
    res->samples_per_s = res->seconds > 0 ? (double)steps_this_call * t.N / res->seconds : 0;
    res->new_steps = steps_this_call;
out:
    res->committed = t.committed;
    trainer_free(&t);
    if (rc && !t.committed && t.created_dir && t.rank == 0) rmdir(o->run); /* only when empty: a failed first run leaves nothing */
    return rc;
}
