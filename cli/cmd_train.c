/* cmd_train.c - coinbc train: the options of the schema (run/config.c) as
 * cli_parse's table, a train_command filled from them, train_command_run
 * (train/command.c), and the lines it prints. `coinbc train --describe`
 * prints the method table and the schema as JSON (for tools/tune.py). */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/train.h"

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

static void print_start(void *ctx, const train_opts *o, int ntr, int nva) {
    (void)ctx;
    fprintf(stderr, "train: %d training levels, %d validation levels, %s, method %s (tau %g), %d x %d per batch\n", ntr, nva,
            model_net_name(o->net.kind), run_method_name(o->comb.method), o->comb.tau, o->batch_levels, o->batch_frames);
}

static const char SUMMARY[] =
    "Train a policy that predicts the expert's action from a 64x64 frame. Each batch holds L levels x B\n"
    "frames; the backward pass yields one gradient per level, and --method combines them (the methods are\n"
    "listed below; docs/METHODS.md has each rule).";

static const char DETAILS[] =
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
    "tand (our reading of the paper's Algorithm 1, docs/METHODS.md): g = the mean of the level\n"
    "gradients; per parameter a sign moment s = b*s + (1-b)*sign(g) (b = --tand-beta, sign(0) = 0); Adam's\n"
    "moments take g, and its step is taken only where |s/(1-b^t)| >= tau. Step 1 is therefore a plain\n"
    "Adam step for every parameter whose gradient is not 0. --wd-mode l2 adds wd*w to Adam's gradient (not\n"
    "to the sign moment) and is masked with the step; decoupled decay is applied to every parameter,\n"
    "unmasked (AdamW's form: the paper's \"second independent update after the AND-mask\").\n"
    "--rescale does not apply to tand (nor to mean). The mask_* metrics are tand's mask shares.\n"
    "Under mpirun (a `make MPI=1` build) each of P ranks takes L/P whole levels of every step (P must divide\n"
    "--batch-levels); the checkpoints are those of one process, bit for bit, and rank 0 writes RUN (docs/MPI.md).\n"
    "example: coinbc train train.cbd --val test.cbd --method and --tau 0.8 --epochs 10 -o runs/and";

/* the schema's options as cli_parse's table: one value slot each, by the schema's index */
typedef struct {
    int n;
    cli_opt opt[TRAIN_MAX_OPTIONS];
    char name[TRAIN_MAX_OPTIONS][32], help[TRAIN_MAX_OPTIONS][512];
    const char *str[TRAIN_MAX_OPTIONS];
    int i32[TRAIN_MAX_OPTIONS];
    int64_t i64[TRAIN_MAX_OPTIONS];
    double f64[TRAIN_MAX_OPTIONS];
    cli_range seeds[TRAIN_MAX_OPTIONS];
    char details[12288];
} opt_table;

static void build_table(opt_table *t) {
    t->n = run_option_count() < TRAIN_MAX_OPTIONS ? run_option_count() : TRAIN_MAX_OPTIONS;
    for (int i = 0; i < t->n; i++) {
        const run_option_range *r = run_option_at(i);
        cli_opt *o = &t->opt[i];
        run_option_name(t->name[i], sizeof t->name[i], r);
        run_option_help(t->help[i], sizeof t->help[i], r);
        *o = (cli_opt){t->name[i], CLI_STR, &t->str[i], r->meta, t->help[i], 0};
        if (r->type == RUN_OPT_INT && r->count == 1)
            o->kind = r->ihi > INT32_MAX ? CLI_I64 : CLI_INT, o->dst = r->ihi > INT32_MAX ? (void *)&t->i64[i] : &t->i32[i];
        else if (r->type == RUN_OPT_REAL) o->kind = CLI_F64, o->dst = &t->f64[i];
        else if (r->type == RUN_OPT_FLAG) o->kind = CLI_FLAG, o->dst = &t->i32[i];
        else if (r->type == RUN_OPT_SEEDS) o->kind = CLI_RANGE, o->dst = &t->seeds[i];
    }
    size_t k = (size_t)snprintf(t->details, sizeof t->details, "methods (--method):\n");
    for (int m = 0; m < RUN_NMETHODS && k < sizeof t->details; m++)
        k += (size_t)snprintf(t->details + k, sizeof t->details - k, "  %-8s %s\n", run_method_name(m), run_method(m)->help);
    if (k < sizeof t->details) snprintf(t->details + k, sizeof t->details - k, "%s", DETAILS);
}

/* the values cli_parse set, as train_command's */
static void take_values(const opt_table *t, train_command *c) {
    for (int i = 0; i < t->n; i++) {
        const cli_opt *o = &t->opt[i];
        train_opt_value *v = &c->opt[i];
        v->given = o->seen;
        v->i = o->kind == CLI_I64 ? t->i64[i] : t->i32[i];
        v->num = t->f64[i];
        v->text = t->str[i];
        v->lo = t->seeds[i].lo, v->hi = t->seeds[i].hi;
    }
}

/* -o RUN */
static const char *out_path(const opt_table *t) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], "out")) return t->str[i];
    return NULL;
}

/* the last line: what was trained, or that a resume had nothing to do */
static int print_result(const train_command_result *r, const char *out, int resume) {
    const train_result *res = &r->res;
    if (res->stopped) {
        if (cb_dist_rank() == 0)
            fprintf(stderr, "train: stopped by %s at step %lld of epoch %d; %s is consistent, --resume continues it\n",
                    stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)res->steps, res->epochs_done + 1, out);
        return 128 + (stop_signal == SIGINT ? SIGINT : SIGTERM);
    }
    if (resume && res->new_steps == 0) {
        printf("nothing to do: %s is at step %lld, %d of --epochs %d done%s\n", out, (long long)res->steps,
               res->epochs_done, r->o.epochs, r->o.max_steps > 0 && res->steps >= r->o.max_steps
                   ? " and --max-steps reached (give --max-steps 0 for no limit, or a larger N)" : "");
        return 0;
    }
    char val_text[96];
    if (!r->n_val) snprintf(val_text, sizeof val_text, "no validation levels");
    else if (isnan(res->val_acc)) snprintf(val_text, sizeof val_text, "not validated yet (no epoch ended)");
    else if (r->o.best_by == TRAIN_BEST_LOSS)
        snprintf(val_text, sizeof val_text, "val acc %.4f, loss %.4f (best loss %.4f)", res->val_acc, res->val_loss,
                 res->best_val_loss);
    else snprintf(val_text, sizeof val_text, "val acc %.4f (best %.4f)", res->val_acc, res->best_val_acc);
    printf("trained %s (%s, tau %g) for %d epochs, %lld steps in %.1f s (%.0f samples/s): train acc %.4f, %s -> %s\n",
           model_net_name(r->o.net.kind), run_method_name(r->o.comb.method), r->o.comb.tau, res->epochs_done,
           (long long)res->steps, res->seconds, res->samples_per_s, res->train_acc, val_text, out);
    return 0;
}

int cli_cmd_train(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--describe")) { /* hidden: the methods and options as JSON */
        char *d = run_describe_json();
        if (!d) return cli_error("train", "out of memory");
        printf("%s\n", d);
        free(d);
        return 0;
    }
    opt_table *t = calloc(1, sizeof *t);
    train_command *c = calloc(1, sizeof *c);
    train_command_result *r = calloc(1, sizeof *r);
    int status = 0;
    if (!t || !c || !r) {
        status = cli_error("train", "out of memory");
        goto done;
    }
    build_table(t);
    cli_cmd_info info = {
        "train", SUMMARY,
        "coinbc train DATA [--train-levels A-B] [--val-levels C-D | --val DATA2] --method M [options] -o RUN\n"
        "       coinbc train [DATA] --resume [--epochs N] [--max-steps N] [--threads T] [--quiet] -o RUN",
        t->details};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, t->opt, t->n, pos, 1, &npos);
    if (rc) {
        status = rc > 0 ? 0 : 2;
        goto done;
    }
    c->data = npos ? pos[0] : NULL;
    take_values(t, c);
    char holder[1024];
    cli_join_args(holder, sizeof holder, argc, argv);
    c->holder = holder;
    cb_err e = {0};
    if (train_command_check(c, &e)) {
        status = cli_fail("train", &e), status = 2;
        goto done;
    }
    int quiet = cli_seen(t->opt, t->n, "quiet"), resume = cli_seen(t->opt, t->n, "resume");
    install_stop_handlers();
    c->stop = &stop_signal;
    c->on_epoch = quiet ? NULL : print_epoch;
    c->on_start = quiet ? NULL : print_start;
    if (train_command_run(c, r, &e)) status = cli_fail("train", &e);
    else status = print_result(r, out_path(t), resume);
done:
    free(t);
    free(c);
    free(r);
    return status;
}
