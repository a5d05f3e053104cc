/* cmd_report.c - coinbc report: one self-contained HTML page comparing runs,
 * or comparing tune studies (a folder with trials.csv is a tune folder). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eval/eval.h"

static int is_tune_dir(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/trials.csv", dir);
    return access(p, F_OK) == 0;
}

int cli_cmd_report(int argc, char **argv) {
    const char *out = "report.html";
    int json = 0;
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "FILE", "the HTML page to write (default report.html)", 0},
        {"json", CLI_FLAG, &json, NULL, "no page: the runs' figures as one JSON array on stdout (for scripts)", 0},
    };
    cli_cmd_info info = {
        "report", "Write one self-contained HTML page (no network, no scripts) comparing training runs:\n"
                  "a table of method, tau, train and test accuracy, gap and rollout success, accuracy and loss\n"
                  "per epoch (train and validation), mask density per layer, per layer the agreement of the\n"
                  "levels' gradient signs at a few points of training (RUN/agreement.json), and sample frames\n"
                  "with the expert's and the policy's actions. Or a page comparing tune studies.",
        "coinbc report RUN... [-o report.html]   or   coinbc report TUNEDIR... [-o report.html]",
        "Each RUN is a folder written by coinbc train (and filled further by coinbc eval and\n"
        "coinbc rollout). A RUN holding relabeled.json, true.json and test.json (eval.json format;\n"
        "coinbc compare writes them into probe/METHOD/) adds a row to the memorization probe's table,\n"
        "and a RUN holding appearance.json (coinbc appearance) a column to the appearance probe's table.\n"
        "A TUNEDIR is a folder written by coinbc tune (it holds trials.csv): its page shows each study's\n"
        "optimization history (best value so far against the trial number) and the value against each\n"
        "parameter, studies side by side.\n"
        "With --json no page is written: stdout gets one JSON object per RUN (method, tau, seed, train_acc,\n"
        "test_acc, gap, rollout_success and its interval, the probe's accuracies; null where missing),\n"
        "read through the strict run-records readers: scripts read run folders this way.\n"
        "example: coinbc report runs/mean runs/and -o report.html\n"
        "         coinbc report runs/mean runs/and --json\n"
        "         coinbc report tune/mean tune/and -o tune.html"};
    const char *pos[256];
    int npos = 0;
    int rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, CLI_COUNT(pos), &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos == 0) return cli_error("report", "give at least one RUN folder (see coinbc report --help)"), 2;
    cb_err e = {0};
    if (!json && cb_path_check_output("-o", out, CB_OUT_FILE, pos, npos, &e)) return cli_fail("report", &e), 2;
    int ntune = 0;
    for (int i = 0; i < npos; i++) ntune += is_tune_dir(pos[i]);
    if (ntune > 0 && ntune < npos)
        return cli_error("report", "give run folders or tune folders (with trials.csv), not both: write one report of each"), 2;
    if (ntune) {
        if (eval_report_tune_write(out, pos, npos, &e)) return cli_fail("report", &e);
        fprintf(stderr, "report: wrote %s (%d tune stud%s)\n", out, npos, npos == 1 ? "y" : "ies");
        return eval_tune_table(stdout, pos, npos, &e) ? cli_fail("report", &e) : 0;
    }
    if (json) {
        if (ntune) return cli_error("report", "--json is for run folders (a tune folder has trials.csv and best.json)"), 2;
        return eval_report_json(stdout, pos, npos, &e) ? cli_fail("report", &e) : 0;
    }
    if (eval_report_write(out, pos, npos, &e)) return cli_fail("report", &e);
    fprintf(stderr, "report: wrote %s (%d run%s)\n", out, npos, npos == 1 ? "" : "s");
    /* the same comparison as a plain table on stdout */
    if (eval_report_table(stdout, pos, npos, &e)) return cli_fail("report", &e);
    return 0;
}
