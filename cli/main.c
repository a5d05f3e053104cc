/* main.c - the coinbc program: dispatches to a subcommand. */
#include <signal.h>
#include <string.h>

#include "cli/cli.h"
#include "run/run.h"

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
    {"train", cli_cmd_train, "train a policy; the level gradients combined by"}, /* + the methods (usage) */
    {"eval", cli_cmd_eval, "accuracy of a trained policy on held-out levels"},
    {"rollout", cli_cmd_rollout, "closed-loop play of levels by a trained policy"},
    {"appearance", cli_cmd_appearance, "the appearance probe: the policy on the same states in other looks"},
    {"report", cli_cmd_report, "an HTML report comparing runs"},
    {"tune", cli_cmd_tune, "hyperparameter search over train with the same budget for every method"},
    {"compare", cli_cmd_compare, "compare methods as a spec says: data, tuning, final runs, probes, the table"},
    {"bench", cli_cmd_bench, "benchmarks"},
};
#define NCMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

static void usage(FILE *out) {
    fprintf(out, "usage: coinbc COMMAND [options]   (coinbc COMMAND --help for details)\n\n"
                 "coinbc " CB_VERSION " - behavioral cloning on CoinRun with level-wise gradient AND-masking\n\n"
                 "commands:\n");
    for (int i = 0; i < NCMDS; i++) /* train's line ends with the method table's names */
        fprintf(out, "  %-10s %s%s%s\n", CMDS[i].name, CMDS[i].summary, strcmp(CMDS[i].name, "train") ? "" : " ",
                strcmp(CMDS[i].name, "train") ? "" : run_method_list());
}

/* The commands that split their work over the ranks when mpirun starts
 * several (docs/MPI.md); any other one is refused there rather than run P
 * times over the same files. */
static int runs_distributed(const char *name) {
    return !strcmp(name, "record") || !strcmp(name, "train") || !strcmp(name, "eval") || !strcmp(name, "rollout") ||
           !strcmp(name, "appearance") || !strcmp(name, "bench");
}

/* One command, as one process or as one rank of several: rank 0 alone
 * prints results on stdout; a rank that fails ends every rank (MPI_Abort)
 * after saying which rank it was, so no peer waits for it. */
static int run_command(const cli_entry *c, int argc, char **argv) {
    cb_err e = {0};
    if (cb_dist_init(&argc, &argv, &e)) {
        fprintf(stderr, "coinbc: %s\n", e.msg);
        return 1;
    }
    int rank = cb_dist_rank(), size = cb_dist_size();
    if (size > 1 && !runs_distributed(c->name)) {
        if (rank == 0)
            fprintf(stderr, "coinbc %s: does not run under mpirun with %d ranks (record, train, eval, rollout, appearance "
                            "and bench do); start it as one process\n", c->name, size);
        cb_dist_finalize();
        return 2;
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1;
    int status = c->fn(argc - 1, argv + 1);
    /* 130/143: train stopped by SIGINT/SIGTERM, which every rank agreed on (not a failure of one rank) */
    if (status != 0 && size > 1 && status != 128 + SIGINT && status != 128 + SIGTERM) {
        fprintf(stderr, "coinbc %s: rank %d of %d failed (exit status %d, reason above); ending every rank\n", c->name,
                rank, size, status);
        cb_dist_abort(status);
    }
    cb_dist_finalize();
    return status;
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
        if (!strcmp(argv[1], CMDS[i].name)) return run_command(&CMDS[i], argc, argv);
    fprintf(stderr, "coinbc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
