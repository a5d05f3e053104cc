/* cmd_train.c - coinbc train: a policy from a dataset, with one gradient per
 * level combined by mean, AND-mask, SAND-mask or the geometric mean. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/train.h"

/* loads the levels of r within [lo, hi] (all if !has). Under mpirun
 * (`share`): only this rank's share (cb_dist_share) of them, or none
 * (share 2: training levels, read by train_run when first needed); the
 * others get their seed, mode and frame count from the manifest and no
 * frames. */
static int load_range(const char *cmd, ds_reader *r, int has, cli_range rg, ds_level **out, int *n, int threads, int share) {
    int cnt = 0;
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)(ds_nlevels(r) + 1));
    if (!seeds) return cli_error(cmd, "out of memory");
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (!has || (s >= rg.lo && s <= rg.hi)) seeds[cnt++] = s;
    }
    if (cnt == 0) {
        free(seeds);
        return cli_error(cmd, "%s: no levels in %d-%d (the dataset has %d levels, seeds %d..%d)", ds_path(r), rg.lo, rg.hi,
                         ds_nlevels(r), ds_nlevels(r) ? ds_level_seed(r, 0) : 0,
                         ds_nlevels(r) ? ds_level_seed(r, ds_nlevels(r) - 1) : 0);
    }
    *out = calloc((size_t)cnt, sizeof **out);
    cb_err e = {0};
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
    if (!*out || (hi > lo && ds_load(r, seeds + lo, (int)(hi - lo), *out + lo, threads, &e))) {
        free(seeds);
        free(*out);
        *out = NULL;
        return e.code ? cli_fail(cmd, &e) : cli_error(cmd, "out of memory");
    }
    free(seeds);
    *n = cnt;
    return 0;
}

static int parse_channels(const char *s, int ch[3]) {
    char tail;
    return sscanf(s, "%d,%d,%d%c", &ch[0], &ch[1], &ch[2], &tail) == 3 ? 0 : -1;
}

/* set by SIGTERM / SIGINT: train_run ends after the current step and commits */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* an option outside its range in run/config.c's table (the one definition,
 * also config.json's reader's): the message, and 1 */
static int bad_int(const char *key, int64_t v) {
    cb_err e = {0};
    return run_option_check_int(key, v, NULL, 0, CB_EARG, &e) ? cli_fail("train", &e) : 0;
}

static int bad_real(const char *key, double v) {
    cb_err e = {0};
    return run_option_check_real(key, v, NULL, 0, CB_EARG, &e) ? cli_fail("train", &e) : 0;
}

/* --resume: the run's config.json, read strictly (after the folder's
 * recovery, under the lock), and every option not given taken from it,
 * never from a default; train_run then refuses any given option that
 * differs from it. */
static int read_run_config(const char *run, run_config *c) {
    cb_err e = {0};
    run_recovery rec;
    if (cb_dist_rank() == 0 && run_folder_recover(run, &rec, &e)) return cli_fail("train", &e);
    if (cb_dist_barrier(&e)) return cli_fail("train", &e);
    int rc = run_config_read(c, run, &e);
    if (rc == CB_ENOTFOUND)
        return cli_error("train", "cannot resume: %s holds no run (no config.json); leave out --resume to start one", run);
    return rc ? cli_fail("train", &e) : 0;
}

static void print_epoch(void *ctx, const train_epoch_stats *s) {
    (void)ctx;
    if (isnan(s->val_acc))
        fprintf(stderr, "epoch %lld: step %lld, train loss %.4f acc %.4f, %.1f s (%.0f samples/s)\n", (long long)s->epoch,
                (long long)s->step, s->train_loss, s->train_acc, s->seconds, s->samples_per_s);
    else
        fprintf(stderr, "epoch %lld: step %lld, train loss %.4f acc %.4f, val loss %.4f acc %.4f%s, %.1f s (%.0f samples/s)\n",
                (long long)s->epoch, (long long)s->step, s->train_loss, s->train_acc, s->val_loss, s->val_acc,
                s->best ? " (best)" : "", s->seconds, s->samples_per_s);
}

int cli_cmd_train(int argc, char **argv) {
    const char *out = NULL, *method_s = "mean", *net_s = "impala", *val_path = NULL, *rescale_s = "on",
               *sched_s = "step", *wdmode_s = "l2", *channels_s = NULL,
               *sampling_s = "replace", *best_by_s = "acc";
    cli_range trl = {0, 0}, vall = {0, 0};
    double tau = 0.8, sand_k = 1.0, tand_beta = RUN_TAND_BETA_DEFAULT, lr = 5e-4, wd = 0,
           beta1 = RUN_BETA1_DEFAULT;
    int epochs = 10, L = 16, B = 8, resume = 0, quiet = 0, threads = 0, hidden = 0;
    int64_t seed = 0, max_steps = 0;
    char method_help[256];
    snprintf(method_help, sizeof method_help, "%s (default mean)", run_method_list());
    cli_opt opts[] = {
        {"train-levels", CLI_RANGE, &trl, "A-B", "training level seeds (default: every level of DATA)", 0},
        {"val-levels", CLI_RANGE, &vall, "C-D", "validation level seeds (from DATA, or from --val)", 0},
        {"val", CLI_STR, &val_path, "DATA2", "validation dataset (default: --val-levels of DATA, or none)", 0},
        {"method", CLI_STR, &method_s, "M", method_help, 0},
        {"tau", CLI_F64, &tau, "T", "agreement threshold in [0,1] for and/sand/geomean/tand (default 0.8)", 0},
        {"sand-k", CLI_F64, &sand_k, "K", "SAND-mask steepness (default 1)", 0},
        {"tand-beta", CLI_F64, &tand_beta, "B", "tand: decay of the sign moment, in (0, 1) (default 0.9)", 0},
        {"rescale", CLI_STR, &rescale_s, "on|off", "rescale by 1/(fraction of each tensor's mask on) (default on; "
         "and/sand/geomean only)", 0},
        {"net", CLI_STR, &net_s, "NET", "impala (default) or nature", 0},
        {"channels", CLI_STR, &channels_s, "A,B,C", "channel counts (impala 16,32,32; nature 32,64,64)", 0},
        {"hidden", CLI_INT, &hidden, "H", "hidden width (impala 256, nature 512)", 0},
        {"epochs", CLI_INT, &epochs, "N", "epochs (default 10); an epoch is one pass of the training frames' worth of steps", 0},
        {"lr", CLI_F64, &lr, "LR", "Adam learning rate (default 5e-4)", 0},
        {"beta1", CLI_F64, &beta1, "B", "Adam's first-moment decay, in [0, 1) (default 0.9; every method, tand too)", 0},
        {"lr-schedule", CLI_STR, &sched_s, "S", "step (x0.1 at 3/4 of training, default) or const", 0},
        {"wd", CLI_F64, &wd, "WD", "weight decay, added after the mask (default 0; tand: see below)", 0},
        {"wd-mode", CLI_STR, &wdmode_s, "M", "l2 (default) or decoupled", 0},
        {"batch-levels", CLI_INT, &L, "L", "levels per batch (default 16)", 0},
        {"batch-frames", CLI_INT, &B, "B", "frames per level per batch (default 8)", 0},
        {"sampling", CLI_STR, &sampling_s, "S", "replace (default: each step draws L distinct levels and B frames of each, "
         "with replacement) or epoch (each epoch visits every level's frames once, in shuffled (level, chunk of B "
         "frames) batches; see below)", 0},
        {"best-by", CLI_STR, &best_by_s, "F", "the validation figure that picks best.ckpt: acc (default, highest) or loss "
         "(lowest); a tie keeps the earlier epoch", 0},
        {"seed", CLI_I64, &seed, "S", "random seed for initialisation and sampling (default 0)", 0},
        {"resume", CLI_FLAG, &resume, NULL, "continue from RUN/latest.ckpt with RUN/config.json's options and data "
         "(see below)", 0},
        {"max-steps", CLI_I64, &max_steps, "N", "stop after N optimizer steps in total (default 0: no limit)", 0},
        {"threads", CLI_INT, &threads, "T", "threads for loading data and training (default: all cores; results do not depend on it)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
        {"out", CLI_STR, &out, "RUN", "run folder to write (-o)", 0},
    };
    cli_cmd_info info = {
        "train", "Train a policy that predicts the expert's action from a 64x64 frame. Each batch holds L levels x B\n"
                 "frames; the backward pass yields one gradient per level, and --method combines them: mean (plain\n"
                 "averaging), and (the mean where |mean of the levels' gradient signs| >= tau, with sign(0) = 0),\n"
                 "sand (a soft version), geomean (geometric mean under the AND mask) or tand (temporal AND-mask\n"
                 "Adam: agreement over time instead of over the batch's levels). docs/METHODS.md has each rule.",
        "coinbc train DATA [--train-levels A-B] [--val-levels C-D | --val DATA2] --method M [options] -o RUN\n"
        "       coinbc train [DATA] --resume [--epochs N] [--max-steps N] [--threads T] [--quiet] -o RUN",
        "RUN gets config.json, metrics.csv and metrics.jsonl (per epoch: loss, accuracy, mask density per layer),\n"
        "agreement.json (per layer, a histogram of |mean sign| of the level gradients at the first step and\n"
        "each epoch's last), latest.ckpt and best.ckpt (by validation accuracy, or loss with --best-by loss);\n"
        "an epoch's files are committed as one unit.\n"
        "--sampling epoch: each epoch shuffles every level's frames and cuts them into chunks of B (a level's\n"
        "last n mod B frames of that order sit the epoch out, a different set each epoch), shuffles the\n"
        "(level, chunk) pairs of all levels and deals them L to a step, from L distinct levels where the\n"
        "remaining chunks allow (the last chunks mod L sit out): an epoch is floor(sum of floor(n/B) / L)\n"
        "steps, and with --batch-levels 1 every step is one level. The order follows from --seed and the\n"
        "epoch alone, so --resume mid-epoch continues it exactly (docs/METHODS.md).\n"
        "--resume continues RUN as it was started: every option and dataset comes from RUN/config.json, and\n"
        "one given that differs from it is refused, naming each (its old and new value). Only --epochs (to\n"
        "extend the run; with --lr-schedule step the decay point moves with it), --max-steps (0: no limit; a\n"
        "run stopped by --max-steps N continues with --max-steps 0 or a larger N, and without it keeps N),\n"
        "--threads and --quiet may differ. DATA may be left out (config.json's path is used); given, it must\n"
        "be the same dataset (manifest CRC), as must --val; the levels must be the same.\n"
        "Validation levels (--val-levels, --val) must not be training levels: a seed in both, in the same\n"
        "mode, is refused. --batch-frames may not exceed the frames of the shortest training level.\n"
        "SIGTERM or SIGINT (Ctrl-C) ends the run after the current step: latest.ckpt is written as --max-steps\n"
        "does, RUN stays consistent, --resume continues it; the exit status is 143 (SIGTERM) or 130 (SIGINT).\n"
        "tand (our reading of the paper's Algorithm 1, docs/ARCHITECTURE.md): g = the mean of the level\n"
        "gradients; per parameter a sign moment s = b*s + (1-b)*sign(g) (b = --tand-beta, sign(0) = 0); Adam's\n"
        "moments take g, and its step is taken only where |s/(1-b^t)| >= tau. Step 1 is therefore a plain\n"
        "Adam step for every parameter whose gradient is not 0. --wd-mode l2 adds wd*w to Adam's gradient (not\n"
        "to the sign moment) and is masked with the step; decoupled decay is applied to every parameter,\n"
        "unmasked (AdamW's form: the paper's \"second independent update after the AND-mask\").\n"
        "--rescale does not apply to tand (nor to mean). The mask_* metrics are tand's mask shares.\n"
        "Under mpirun (a `make MPI=1` build) each of P ranks takes L/P whole levels of every step (P must divide\n"
        "--batch-levels); the checkpoints are those of one process, bit for bit, and rank 0 writes RUN (docs/MPI.md).\n"
        "example: coinbc train train.cbd --val test.cbd --method and --tau 0.8 --epochs 10 -o runs/and"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1 && !(resume && npos == 0)) return cli_error("train", "give one DATA (see coinbc train --help)"), 2;
    if (!out) return cli_error("train", "-o RUN is required"), 2;
    {
        const char *in[] = {pos[0], val_path};
        cb_err pe = {0};
        if (cb_path_check_output("-o", out, CB_OUT_RUN, in, CLI_COUNT(in), &pe)) return cli_fail("train", &pe), 2;
    }
    train_opts o;
    memset(&o, 0, sizeof o);
    if (train_method_parse(method_s, &o.comb.method)) return cli_error("train", "unknown --method '%s' (%s)", method_s, run_method_list()), 2;
    if (model_config_default(&o.net, net_s)) return cli_error("train", "unknown --net '%s' (impala or nature)", net_s), 2;
    if (channels_s && parse_channels(channels_s, o.net.channels)) return cli_error("train", "--channels wants A,B,C"), 2;
    for (int k = 0; channels_s && k < 3; k++)
        if (bad_int("channels", o.net.channels[k])) return 2;
    if (CLI_SEEN(opts, "hidden")) {
        if (bad_int("hidden", hidden)) return 2;
        o.net.hidden = hidden;
    }
    {
        model plan;
        cb_err pe = {0};
        if (model_plan(&plan, &o.net, &pe)) return cli_error("train", "%s", pe.msg), 2;
    }
    if (CLI_SEEN(opts, "threads") && bad_int("threads", threads)) return 2;
    if (strcmp(rescale_s, "on") && strcmp(rescale_s, "off")) return cli_error("train", "--rescale is on or off"), 2;
    if (strcmp(sched_s, "step") && strcmp(sched_s, "const")) return cli_error("train", "--lr-schedule is step or const"), 2;
    if (strcmp(wdmode_s, "l2") && strcmp(wdmode_s, "decoupled")) return cli_error("train", "--wd-mode is l2 or decoupled"), 2;
    if (run_sampling_parse(sampling_s, &o.sampling)) return cli_error("train", "--sampling is replace or epoch"), 2;
    if (run_best_by_parse(best_by_s, &o.best_by)) return cli_error("train", "--best-by is acc or loss"), 2;
    if (bad_real("tau", tau) || bad_real("tand_beta", tand_beta) || bad_real("sand_k", sand_k) || bad_real("lr", lr) || bad_real("beta1", beta1) ||
        bad_real("wd", wd) || bad_int("seed", seed) || bad_int("max_steps", max_steps) || bad_int("epochs", epochs) ||
        bad_int("batch_levels", L) || bad_int("batch_frames", B))
        return 2;
    o.comb.tau = o.comb.method == TRAIN_MEAN ? 0 : tau;
    o.comb.sand_k = sand_k;
    o.comb.tand_beta = tand_beta;
    o.comb.rescale = !strcmp(rescale_s, "on");
    o.epochs = epochs;
    o.lr = lr;
    o.beta1 = beta1;
    o.beta1_set = 1;
    o.lr_decay = !strcmp(sched_s, "step");
    o.wd = wd;
    o.wd_mode = !strcmp(wdmode_s, "decoupled") ? TRAIN_WD_DECOUPLED : TRAIN_WD_L2;
    o.batch_levels = L;
    o.batch_frames = B;
    o.seed = (uint64_t)seed;
    o.threads = threads;
    o.run = out;
    o.resume = resume;
    o.quiet = quiet;
    o.max_steps = max_steps;
    o.on_epoch = quiet ? NULL : print_epoch;

    cb_err e = {0};
    ds_reader *r = NULL, *rv = NULL;
    ds_level *tr = NULL, *va = NULL;
    int ntr = 0, nva = 0, status = 0;
    train_result res;
    memset(&res, 0, sizeof res);
    /* the writer lock on RUN for the whole run; a failure before the first
     * commit removes what this command created */
    char holder[1024];
    cli_join_args(holder, sizeof holder, argc, argv);
    cb_lock lock;
    memset(&lock, 0, sizeof lock);
    if (cb_dist_rank() == 0 && cb_lock_acquire(&lock, out, holder, &e)) return cli_fail("train", &e); /* rank 0 writes */
    install_stop_handlers();
    o.stop = &stop_signal;
    const char *data = npos ? pos[0] : NULL;
    int has_trl = CLI_SEEN(opts, "train-levels"), has_vall = CLI_SEEN(opts, "val-levels");
    run_config c; /* on resume, the run's config.json (data and val_path may point into it) */
    memset(&c, 0, sizeof c);
    if (resume) { /* what is not given is the run's own (config.json), never a default */
        if ((status = read_run_config(out, &c))) goto done;
#define STORED(name, dst, val) \
    if (!CLI_SEEN(opts, name)) (dst) = (val)
        STORED("method", o.comb.method, c.method);
        STORED("tau", tau, c.tau);
        STORED("sand-k", o.comb.sand_k, c.sand_k);
        STORED("tand-beta", o.comb.tand_beta, c.tand_beta);
        STORED("rescale", o.comb.rescale, c.rescale);
        STORED("net", o.net.net, c.net.net); /* and its channels and hidden width, below, unless given */
        if (!CLI_SEEN(opts, "channels")) memcpy(o.net.channels, c.net.channels, sizeof o.net.channels);
        STORED("hidden", o.net.hidden, c.net.hidden);
        STORED("epochs", o.epochs, c.epochs);
        STORED("lr", o.lr, c.lr);
        STORED("lr-schedule", o.lr_decay, c.lr_decay);
        STORED("beta1", o.beta1, c.beta1);
        STORED("sampling", o.sampling, c.sampling);
        STORED("best-by", o.best_by, c.best_by);
        STORED("wd", o.wd, c.wd);
        STORED("wd-mode", o.wd_mode, c.wd_mode);
        STORED("batch-levels", o.batch_levels, c.batch_levels);
        STORED("batch-frames", o.batch_frames, c.batch_frames);
        STORED("seed", o.seed, c.seed);
        STORED("max-steps", o.max_steps, c.max_steps);
#undef STORED
        o.comb.tau = o.comb.method == TRAIN_MEAN ? 0 : tau;
        if (!data && !c.has_data) {
            status = cli_error("train", "%s/config.json records no dataset: give DATA", out);
            goto done;
        }
        if (c.has_data) {
            if (!data) data = c.data;
            if (!has_trl) has_trl = 1, trl.lo = c.train_seed_lo, trl.hi = c.train_seed_hi;
            /* validation: the run's levels, from DATA or from its own dataset */
            if (!CLI_SEEN(opts, "val") && c.val_data[0] && strcmp(c.val_data, c.data)) val_path = c.val_data;
            if (!has_vall && c.val_seed_lo >= 0) has_vall = 1, vall.lo = c.val_seed_lo, vall.hi = c.val_seed_hi;
        }
    }
    if (ds_open(&r, data, &e) || (val_path && ds_open(&rv, val_path, &e))) {
        if (resume && (r ? !CLI_SEEN(opts, "val") : !npos)) /* a path from config.json (relative?): */
            cb_err_prefix(&e, "the dataset %s/config.json records: ", out);  /* give it on the command line */
        status = cli_fail("train", &e);
        goto done;
    }
    /* validation levels are never training levels (one check, dataset/) */
    if ((val_path || has_vall) &&
        ds_check_disjoint(r, has_trl ? trl.lo : INT32_MIN, has_trl ? trl.hi : INT32_MAX, "training", rv ? rv : r,
                          has_vall ? vall.lo : INT32_MIN, has_vall ? vall.hi : INT32_MAX, "validation", &e)) {
        status = cli_fail("train", &e);
        goto done;
    }
    if ((status = load_range("train", r, has_trl, trl, &tr, &ntr, threads, 2))) goto done;
    if (cb_dist_size() > 1) o.reader = r;
    if (val_path) {
        if ((status = load_range("train", rv, has_vall, vall, &va, &nva, threads, 1))) goto done;
    } else if (has_vall) {
        if ((status = load_range("train", r, 1, vall, &va, &nva, threads, 1))) goto done;
    }
    o.has_data = 1;
    o.data = data;
    o.val_data = val_path ? val_path : (nva ? data : "");
    o.data_manifest_crc = ds_manifest_crc(r);
    o.val_manifest_crc = rv ? ds_manifest_crc(rv) : (nva ? ds_manifest_crc(r) : 0);
    if (!quiet && cb_dist_rank() == 0)
        fprintf(stderr, "train: %d training levels, %d validation levels, %s, method %s (tau %g), %d x %d per batch\n", ntr,
                nva, model_net_name(o.net.net), train_method_name(o.comb.method), o.comb.tau, o.batch_levels,
                o.batch_frames);
    if (train_run(&o, tr, ntr, va, nva, &res, &e)) {
        status = cli_fail("train", &e);
        goto done;
    }
    if (res.stopped) {
        if (cb_dist_rank() == 0)
            fprintf(stderr, "train: stopped by %s at step %lld of epoch %d; %s is consistent, --resume continues it\n",
                stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)res.steps, res.epochs_done + 1, out);
        status = 128 + (stop_signal == SIGINT ? SIGINT : SIGTERM);
        goto done;
    }
    if (resume && res.new_steps == 0) {
        printf("nothing to do: %s is at step %lld, %d of --epochs %d done%s\n", out, (long long)res.steps,
               res.epochs_done, o.epochs, o.max_steps > 0 && res.steps >= o.max_steps
                   ? " and --max-steps reached (give --max-steps 0 for no limit, or a larger N)" : "");
        goto done;
    }
    char val_text[96];
    if (!nva) snprintf(val_text, sizeof val_text, "no validation levels");
    else if (isnan(res.val_acc)) snprintf(val_text, sizeof val_text, "not validated yet (no epoch ended)");
    else if (o.best_by == TRAIN_BEST_LOSS)
        snprintf(val_text, sizeof val_text, "val acc %.4f, loss %.4f (best loss %.4f)", res.val_acc, res.val_loss,
                 res.best_val_loss);
    else snprintf(val_text, sizeof val_text, "val acc %.4f (best %.4f)", res.val_acc, res.best_val_acc);
    printf("trained %s (%s, tau %g) for %d epochs, %lld steps in %.1f s (%.0f samples/s): train acc %.4f, %s -> %s\n",
           model_net_name(o.net.net), train_method_name(o.comb.method), o.comb.tau, res.epochs_done, (long long)res.steps,
           res.seconds, res.samples_per_s, res.train_acc, val_text, out);
done:
    if (cb_dist_rank() == 0) cb_lock_release(&lock, status != 0 && !res.committed);
    for (int i = 0; i < ntr; i++) ds_level_free(&tr[i]);
    for (int i = 0; i < nva; i++) ds_level_free(&va[i]);
    free(tr);
    free(va);
    ds_close(r);
    ds_close(rv);
    return status;
}
