/* cmd_rollout.c - coinbc rollout (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_rollout(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("rollout", "this command is not built yet in this version of coinbc");
}
