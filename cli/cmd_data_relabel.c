/* cmd_data_relabel.c - coinbc data relabel: a copy of a dataset whose levels
 * in a seed range carry uniform random labels (the memorization probe). The
 * work is ds_relabel (dataset/relabel.c); this file parses the options. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dataset/dataset.h"

int cli_cmd_data_relabel(int argc, char **argv) {
    cli_range lv = {0, -1};
    int64_t seed = 0;
    const char *out = NULL;
    int threads = 0;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "level seeds whose labels are replaced (required)", 0},
        {"seed", CLI_I64, &seed, "S", "seed of the random labels (default 0)", 0},
        {"out", CLI_STR, &out, "OUT", "new dataset folder (-o); must not exist or be empty", 0},
        {"threads", CLI_INT, &threads, "T", "threads (default: all cores); the output does not depend on it", 0},
    };
    cli_cmd_info info = {
        "data relabel",
        "Copy a dataset, replacing the labels of the levels in A-B by uniform random actions 0..14.",
        "coinbc data relabel DATA --levels A-B [--seed S] -o OUT",
        "Frame t of level L gets the (t+1)-th draw of a generator seeded from S and L, so the labels are\n"
        "fixed per frame and the output's bytes depend only on DATA, A-B and S. Frames and the other\n"
        "columns are kept; every other level's shard is copied byte for byte. OUT's manifest records\n"
        "the relabeling (a `relabel A B S` line). The memorization probe:\n"
        "train on OUT and compare accuracy on the relabeled levels (chance 1/15) with the others.\n"
        "example: coinbc data relabel train.cbd --levels 0-15 --seed 1 -o train-relabeled.cbd"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1 || !CLI_SEEN(opts, "levels") || !out) return cli_error("data relabel", "give DATA, --levels A-B and -o OUT"), 2;
    if (seed < 0) return cli_error("data relabel", "--seed must be >= 0"), 2;
    char args[2000], cmd[2048];
    cli_join_args(args, sizeof args, argc, argv); /* "coinbc relabel ..." */
    snprintf(cmd, sizeof cmd, "coinbc data%s", args + strlen("coinbc"));
    cb_err e = {0};
    int count = 0;
    if (cb_path_check_output("-o", out, CB_OUT_DATASET, pos, 1, &e)) return cli_fail("data relabel", &e), 2;
    if (ds_relabel(pos[0], out, lv.lo, lv.hi, (uint64_t)seed, cmd, threads, &count, &e))
        return cli_fail("data relabel", &e);
    printf("%s: %d levels relabeled (seeds in %d-%d, seed %lld)\n", out, count, lv.lo, lv.hi, (long long)seed);
    return 0;
}
