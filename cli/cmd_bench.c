/* cmd_bench.c - coinbc bench NAME: dispatch to the benchmarks in bench/. */
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} bench_entry;

static const bench_entry BENCHES[] = {
    {"game", bench_game, "engine steps/s with and without rendering, levels/s"},
    {"expert", bench_expert, "expert success rate and planning time per level"},
    {"train", bench_train, "training step samples/s: mean, AND-mask, naive per-level passes; sgemm GFLOP/s"},
    {"trial", bench_trial, "one trial of the paper's protocol by phase, and the hours of a study (needs --data)"},
    {"data", bench_data, "dataset codec: inter-frame filter on vs off, load speed on 1 vs all cores"},
    {"mpi", bench_mpi, "the training step under mpirun -n P: compute vs MPI time, bytes per step (docs/MPI.md)"},
};
#define NB ((int)(sizeof BENCHES / sizeof BENCHES[0]))

static void usage(FILE *out) {
    fprintf(out, "usage: coinbc bench NAME [options]   (coinbc bench NAME --help)\n\nbenchmarks:\n");
    for (int i = 0; i < NB; i++) fprintf(out, "  %-8s %s\n", BENCHES[i].name, BENCHES[i].summary);
    fprintf(out, "  %-8s %s\n", "all", "every benchmark with its default options (not trial: it needs --data)");
}

int cli_cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "all")) {
        for (int i = 0; i < NB; i++) {
            if (BENCHES[i].fn == bench_trial) continue; /* it needs recorded data */
            printf("== bench %s\n", BENCHES[i].name);
            char *args[] = {(char *)BENCHES[i].name, NULL};
            int rc = BENCHES[i].fn(1, args);
            if (rc) return rc;
        }
        return 0;
    }
    for (int i = 0; i < NB; i++)
        if (!strcmp(argv[1], BENCHES[i].name)) return BENCHES[i].fn(argc - 1, argv + 1);
    cli_error("bench", "unknown benchmark '%s'", argv[1]);
    usage(stderr);
    return 2;
}
