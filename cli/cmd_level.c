/* cmd_level.c - coinbc level (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_level(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("level", "this command is not built yet in this version of coinbc");
}
