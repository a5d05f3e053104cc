/* cmd_tune.c - coinbc tune: a hyperparameter search over coinbc train with
 * the same budget for every method. Parses the options, fills a
 * train_tune_opts, calls train_tune_run (train/tune.c: the checks, the
 * Optuna driver tools/tune.py, trials.csv, best.json, best.args) and prints
 * (docs/TUNE.md). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/train.h"

#define CMD "tune"

static void print_note(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* "--a, --b": the train options of the schema with tune's use u */
static void schema_names(char *buf, size_t n, int u) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < run_option_count() && k < n; i++) {
        const run_option_range *r = run_option_at(i);
        char name[64];
        run_option_name(name, sizeof name, r);
        if (r->tune == u) k += (size_t)snprintf(buf + k, n - k, "%s--%s", k ? ", " : "", name);
    }
}

static const char DETAILS[] =
    "TRAIN OPTIONS (after --) are coinbc train options fixed for every trial, e.g. -- --net nature.\n"
    "DIR gets tune.json (the study's settings), trials/NNNN (each trial's run folder and log), trials.csv,\n"
    "best.json (the best trial's train options) and best.args (the same as one line for coinbc train).\n"
    "Run the same command again after a crash: the study goes on to exactly N finished trials.\n"
    "example: coinbc tune train.cbd --val val.cbd --method and --trials 64 -o tune/and -- --net nature";

static void print_result(const train_tune_opts *o, const train_tune_result *r) {
    printf("tune: study %s: %d trials (%d complete, %d pruned, %d failed) -> %s/trials.csv\n", r->study, r->res.ntrials,
           r->nstate[0], r->nstate[1], r->nstate[2], o->out);
    if (r->best < 0) printf("tune: no trial finished, so no best.json\n");
    else
        printf("tune: best trial %d: %s %.4f -> %s/best.json\n  coinbc train %s --val %s %s -o RUN\n",
               r->res.trials[r->best].number, r->objective == RUN_TUNE_VAL_LOSS ? "val loss" : "val acc",
               r->res.trials[r->best].value, o->out, o->train, o->val, r->args);
}

int cli_cmd_tune(int argc, char **argv) {
    int nbefore = argc; /* split at --: what follows is train options fixed for every trial */
    for (int i = 1; i < argc && nbefore == argc; i++)
        if (!strcmp(argv[i], "--")) nbefore = i;
    train_tune_opts o = {.prune = "on", .objective = "val_acc", .epochs = 10, .jobs = 0, .retrain = -1};
    char method_help[256], details[4096], owned[1024], searched[1024], fixed[1024];
    snprintf(method_help, sizeof method_help, "%s (required)", run_method_list());
    schema_names(owned, sizeof owned, RUN_TUNE_NO), schema_names(searched, sizeof searched, RUN_TUNE_SEARCH);
    schema_names(fixed, sizeof fixed, RUN_TUNE_FIXED);
    snprintf(details, sizeof details, "%s\nTune sets %s itself; a space may search %s; %s may only be fixed after --.",
             DETAILS, owned, searched, fixed);
    cli_opt opts[] = {
        {"val", CLI_STR, &o.val, "VAL", "validation dataset; its levels must not be training levels (required)", 0},
        {"method", CLI_STR, &o.method, "M", method_help, 0},
        {"trials", CLI_INT, &o.trials, "N", "finished trials the study ends with (required, > 0)", 0},
        {"out", CLI_STR, &o.out, "DIR", "tune folder (-o): trials/, trials.csv, best.json, the default storage", 0},
        {"epochs", CLI_INT, &o.epochs, "E", "epochs per trial, the same frames for every trial (default 10)", 0},
        {"space", CLI_STR, &o.space, "FILE", "search space (default: tools/tune_space.json)", 0},
        {"storage", CLI_STR, &o.storage, "URL", "Optuna storage: sqlite:///PATH, postgresql://..., journal:PATH "
                                                "(default: journal:study.journal inside DIR)", 0},
        {"study", CLI_STR, &o.study, "NAME", "study name in the storage (default coinbc-METHOD): 1 to 64 of A-Z a-z "
                                             "0-9 . _ -, starting with a letter or a digit", 0},
        {"jobs", CLI_INT, &o.jobs, "J", "trials run at once, the threads split between them (default 0: 2 where there "
                                        "are 2 or more threads, else 1; see docs/PERFORMANCE.md)", 0},
        {"threads", CLI_INT, &o.threads, "T", "threads in total (default: all cores)", 0},
        {"seed", CLI_I64, &o.seed, "S", "seed of the TPE sampler (default 0)", 0},
        {"prune", CLI_STR, &o.prune, "on|off", "stop unpromising trials early (successive halving; default on)", 0},
        {"objective", CLI_STR, &o.objective, "F", "val_acc (default: the best epoch's validation accuracy, maximized) "
         "or val_loss (the best epoch's validation loss, minimized; each trial then keeps best.ckpt by loss, "
         "--best-by loss); pruning judges the same figure", 0},
        {"retrain", CLI_INT, &o.retrain, "K", "run nothing new: train finished trial K of the study again into "
         "DIR/trials/KKKK (its best.ckpt, which only the machine that ran it kept), stopped after the epochs it "
         "ran, and check that its per-epoch figures are the ones the study recorded; prints one JSON line", 0},
        {"retrain-tolerance", CLI_F64, &o.retrain_tolerance, "R", "with --retrain: accept figures within R of the "
         "study's, relative (default 0: bit for bit; a trial run on another kind of CPU cannot come back exactly)", 0},
        {"retrain-keep", CLI_FLAG, &o.retrain_keep, NULL, "with --retrain: keep the trial trained again even when its "
         "figures come back further apart than the tolerance (over as many epochs), rather than refuse it; its JSON "
         "line's max_rel_diff then exceeds its tolerance, and the caller reports it as a network trained here", 0},
    };
    cli_cmd_info info = {
        CMD, "Hyperparameter search over coinbc train (Optuna TPE; docs/TUNE.md). Every trial trains for the same\n"
             "--epochs (the same number of frames), is scored by its best epoch's accuracy on the validation levels\n"
             "(or its lowest validation loss, --objective val_loss), and may be pruned on the way. Several processes\n"
             "(machines) running the same command with one --storage (each its own -o DIR) share the study.",
        "coinbc tune TRAIN --val VAL --method M --trials N -o DIR [options] [-- TRAIN OPTIONS]", details};
    const char *pos[1], *own[CLI_COUNT(opts) + 1];
    int npos = 0, rc = cli_parse(nbefore, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error(CMD, "give one TRAIN dataset (see coinbc tune --help)"), 2;
    for (int i = 0; i < CLI_COUNT(opts); i++) own[i] = opts[i].name;
    own[CLI_COUNT(opts)] = NULL;
    char holder[1024];
    cli_join_args(holder, sizeof holder, argc, argv);
    o.train = pos[0], o.own = own, o.holder = holder, o.note = print_note;
    o.nfixed = argc - nbefore - 1 > 0 ? argc - nbefore - 1 : 0, o.fixed = argv + nbefore + 1;
    train_tune_result r;
    cb_err e = {0};
    int status = 0;
    if (train_tune_run(&o, &r, &e)) status = cli_fail(CMD, &e), status = r.usage ? 2 : status;
    else if (o.retrain >= 0) {
        fprintf(stderr, "tune: trial %d trained again in %s/trials/%04d\n", o.retrain, o.out, o.retrain);
        fputs(r.args ? r.args : "", stdout);
    }
    else
        print_result(&o, &r);
    train_tune_result_free(&r);
    return status;
}
