/* main.c - the coinbc program: dispatches to a subcommand. */
#include <signal.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} cli_entry;

static const cli_entry CMDS[] = {
    {"level", cli_cmd_level, "generate a CoinRun level: dump its layout, render it"},
    {"play", cli_cmd_play, "run a level with given actions, print the trace, write frames"},
    {"record", cli_cmd_record, "play levels with the expert and write recordings"},
    {"capture", cli_cmd_capture, "convert recordings (PNG folders, .npz) into a dataset"},
    {"data", cli_cmd_data, "dataset tools: info, verify, split, export"},
    {"train", cli_cmd_train, "train a policy with mean, and, sand, geomean or tand gradients"},
    {"eval", cli_cmd_eval, "accuracy of a trained policy on held-out levels"},
    {"rollout", cli_cmd_rollout, "closed-loop play of levels by a trained policy"},
    {"report", cli_cmd_report, "an HTML report comparing runs"},
    {"tune", cli_cmd_tune, "hyperparameter search over train with the same budget for every method"},
    {"bench", cli_cmd_bench, "benchmarks"},
};
#define NCMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

static void usage(FILE *out) {
    fprintf(out, "usage: coinbc COMMAND [options]   (coinbc COMMAND --help for details)\n\n"
                 "coinbc " CB_VERSION " - behavioral cloning on CoinRun with level-wise gradient AND-masking\n\n"
                 "commands:\n");
    for (int i = 0; i < NCMDS; i++) fprintf(out, "  %-9s %s\n", CMDS[i].name, CMDS[i].summary);
}

int main(int argc, char **argv) {
    /* past `ulimit -f` a write fails with EFBIG and is reported (and its
     * temporary removed) instead of the process dying silently */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("coinbc %s\n", CB_VERSION);
        return 0;
    }
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(argv[1], CMDS[i].name)) return CMDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "coinbc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
