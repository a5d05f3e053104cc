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
                  "a table of method, tau, train and test accuracy, gap and rollout success, learning curves,\n"
                  "mask density per layer, and sample frames with the expert's and the policy's actions.",
        "coinbc report RUN... [-o report.html]",
        "Each RUN is a folder written by coinbc train (and filled further by coinbc eval and\n"
        "coinbc rollout). example: coinbc report runs/mean runs/and -o report.html"};
    const char *pos[256];
    int npos = 0;
    int rc = cli_parse(argc, argv, &info, opts, 1, pos, 256, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos == 0) return cli_error("report", "give at least one RUN folder (see coinbc report --help)"), 2;
    cb_err e = {0};
    if (eval_report_write(out, pos, npos, &e)) return cli_fail("report", &e);
    fprintf(stderr, "report: wrote %s (%d run%s)\n", out, npos, npos == 1 ? "" : "s");
    /* the same comparison as a plain table on stdout */
    printf("%-16s %-8s %5s %9s %9s %7s %24s %8s %8s\n", "run", "method", "tau", "train acc", "test acc", "gap",
           "rollout success [95%]", "expert", "random");
    for (int i = 0; i < npos; i++) {
        char p[4200], method[64] = "-";
        double tau = 0, tr = -1, te = -1, su = -1, lo = 0, hi = 0, ex = -1, ra = -1;
        uint8_t *t;
        size_t n;
        snprintf(p, sizeof p, "%s/config.json", pos[i]);
        if (!cb_read_file(p, &t, &n, NULL)) {
            eval_json_str((char *)t, "method", method, sizeof method);
            eval_json_num((char *)t, "tau", &tau);
            free(t);
        }
        snprintf(p, sizeof p, "%s/eval.json", pos[i]);
        if (!cb_read_file(p, &t, &n, NULL)) {
            eval_json_num((char *)t, "train_acc", &tr);
            eval_json_num((char *)t, "test_acc", &te);
            free(t);
        }
        snprintf(p, sizeof p, "%s/rollout.json", pos[i]);
        if (!cb_read_file(p, &t, &n, NULL)) {
            eval_json_num((char *)t, "success", &su);
            eval_json_num((char *)t, "success_lo", &lo);
            eval_json_num((char *)t, "success_hi", &hi);
            eval_json_num((char *)t, "expert_success", &ex);
            eval_json_num((char *)t, "random_success", &ra);
            free(t);
        }
        const char *b = strrchr(pos[i], '/');
        b = b && b[1] ? b + 1 : pos[i];
        char c1[16] = "-", c2[16] = "-", c3[16] = "-", c4[40] = "-", c5[16] = "-", c6[16] = "-";
        if (tr >= 0) snprintf(c1, sizeof c1, "%.1f%%", 100 * tr);
        if (te >= 0) snprintf(c2, sizeof c2, "%.1f%%", 100 * te);
        if (tr >= 0 && te >= 0) snprintf(c3, sizeof c3, "%+.1f", 100 * (tr - te));
        if (su >= 0) snprintf(c4, sizeof c4, "%.1f%% [%.1f, %.1f]", 100 * su, 100 * lo, 100 * hi);
        if (ex >= 0) snprintf(c5, sizeof c5, "%.1f%%", 100 * ex);
        if (ra >= 0) snprintf(c6, sizeof c6, "%.1f%%", 100 * ra);
        printf("%-16.16s %-8s %5.2f %9s %9s %7s %24s %8s %8s\n", b, method, tau, c1, c2, c3, c4, c5, c6);
    }
    return 0;
}
