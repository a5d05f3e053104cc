/* cmd_report.c - coinbc report: one self-contained HTML page comparing runs. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/eval.h"

int cli_cmd_report(int argc, char **argv) {
    const char *out = "report.html";
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "FILE", "the HTML page to write (default report.html)", 0},
    };
    cli_cmd_info info = {
        "report", "Write one self-contained HTML page (no network, no scripts) comparing training runs:\n"
                  "a table of method, tau, train and test accuracy, gap and rollout success, accuracy and loss\n"
                  "per epoch (train and validation), mask density per layer, per layer the agreement of the\n"
                  "levels' gradient signs at a few points of training (RUN/agreement.json), and sample frames\n"
                  "with the expert's and the policy's actions.",
        "coinbc report RUN... [-o report.html]",
        "Each RUN is a folder written by coinbc train (and filled further by coinbc eval and\n"
        "coinbc rollout). A RUN holding relabeled.json, true.json and test.json (eval.json format;\n"
        "tools/compare.sh writes them into probe/METHOD/) adds a row to the memorization probe's table.\n"
        "example: coinbc report runs/mean runs/and -o report.html"};
    const char *pos[256];
    int npos = 0;
    int rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, CLI_COUNT(pos), &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos == 0) return cli_error("report", "give at least one RUN folder (see coinbc report --help)"), 2;
    cb_err e = {0};
    if (eval_report_write(out, pos, npos, &e)) return cli_fail("report", &e);
    fprintf(stderr, "report: wrote %s (%d run%s)\n", out, npos, npos == 1 ? "" : "s");
    /* the same comparison as a plain table on stdout */
    if (eval_report_table(stdout, pos, npos, &e)) return cli_fail("report", &e);
    return 0;
}
