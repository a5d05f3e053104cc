/* cmd_bench.c - coinbc bench (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("bench", "this command is not built yet in this version of coinbc");
}
