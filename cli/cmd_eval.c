/* cmd_eval.c - coinbc eval: the options, and the tables of
 * eval_accuracy_run (eval/accuracy_run.c), which does the work. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/eval.h"
#include "game/game.h"

static void print_table(const char *what, const eval_acc *a) {
    eval_acc_summary s;
    eval_acc_summarize(&s, a);
    printf("%s: %d levels, %lld frames\n", what, a->nlevels, (long long)a->n);
    printf("  accuracy %.4f   merged (9..14 = NOOP) %.4f   loss %.4f\n", s.acc, s.acc_merged, s.loss);
    printf("  per level: mean %.4f, std %.4f; worst:", s.level_mean, s.level_std);
    for (int k = 0; k < s.nworst; k++) {
        const eval_level_acc *l = &a->levels[s.worst[k]];
        printf(" %d (%.3f)", l->seed, (double)l->correct / (double)l->n);
    }
    printf("\n  confusion (rows: expert label, columns: policy action; only rows with frames)\n        ");
    for (int p = 0; p < 9; p++) printf("%6s", game_action_short_name(p));
    printf("  9-14\n");
    for (int y = 0; y < 15; y++) {
        int64_t tot = 0;
        for (int p = 0; p < 15; p++) tot += a->confusion[y][p];
        if (!tot) continue;
        printf("  %5s ", game_action_short_name(y));
        int64_t rest = 0;
        for (int p = 0; p < 15; p++)
            if (p < 9) printf("%6lld", (long long)a->confusion[y][p]);
            else rest += a->confusion[y][p];
        printf("%6lld\n", (long long)rest);
    }
}

static void print_tables(const eval_accuracy_run_result *r) {
    print_table("held-out levels", &r->test);
    if (!r->has_train) return;
    print_table("training levels", &r->train);
    eval_acc_summary a, b;
    eval_acc_summarize(&a, &r->train);
    eval_acc_summarize(&b, &r->test);
    printf("train/test gap: %+.4f\n", a.acc - b.acc);
}

static const cli_cmd_info INFO = {
    "eval", "Accuracy of a run's policy against the expert's labels on held-out levels: overall, with the\n"
            "NOOP-equivalent actions 9..14 merged, per level (mean, std, worst), the confusion matrix; and the\n"
            "same on the run's training levels, so the train/test gap is one command away. Writes RUN/eval.json\n"
            "and RUN/eval_frames.png (held-out frames with the expert's and the policy's action).",
    "coinbc eval RUN DATA [--levels A-B] [--checkpoint FILE] [--json]",
    "Levels are read one at a time, so memory stays flat however many there are.\n"
    "example: coinbc eval runs/and test.cbd"};

int cli_cmd_eval(int argc, char **argv) {
    cli_range lv = {0, INT32_MAX};
    const char *ckpt = NULL;
    int json = 0, no_train = 0, quiet = 0;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "held-out level seeds to evaluate (default: every level of DATA)", 0},
        {"checkpoint", CLI_STR, &ckpt, "FILE", "checkpoint to evaluate (default RUN/best.ckpt)", 0},
        {"no-train", CLI_FLAG, &no_train, NULL, "skip the training levels (the train/test gap)", 0},
        {"json", CLI_FLAG, &json, NULL, "print JSON instead of tables", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    const char *pos[2];
    int npos = 0, rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), pos, 2, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 2) return cli_error("eval", "give RUN and DATA (see coinbc eval --help)"), 2;
    char path[4200];
    if (!ckpt) {
        snprintf(path, sizeof path, "%s/best.ckpt", pos[0]);
        ckpt = path;
    }
    cb_err e = {0};
    { /* the records eval writes into RUN, against what it reads */
        char rec_json[4200], rec_png[4200], cfg_json[4200];
        snprintf(rec_json, sizeof rec_json, "%s/eval.json", pos[0]);
        snprintf(rec_png, sizeof rec_png, "%s/eval_frames.png", pos[0]);
        snprintf(cfg_json, sizeof cfg_json, "%s/config.json", pos[0]);
        const char *in[] = {ckpt, pos[1], cfg_json};
        if (cb_path_check_output("RUN", rec_json, CB_OUT_RUN_RECORD, in, CLI_COUNT(in), &e) ||
            cb_path_check_output("RUN", rec_png, CB_OUT_RUN_RECORD, in, CLI_COUNT(in), &e))
            return cli_fail("eval", &e), 2;
    }
    eval_accuracy_run_opts o = {.run = pos[0], .data = pos[1], .checkpoint = ckpt, .lo = lv.lo, .hi = lv.hi,
                                .no_train = no_train, .quiet = quiet};
    eval_accuracy_run_result r;
    rc = eval_accuracy_run(&r, &o, &e);
    if (r.train_skipped[0] && !quiet) fprintf(stderr, "coinbc eval: training data not evaluated: %s\n", r.train_skipped);
    if (r.json && json) fputs(r.json, stdout);
    else if (r.json) print_tables(&r);
    eval_accuracy_run_free(&r);
    return rc ? cli_fail("eval", &e) : 0;
}
