/* cmd_data.c - coinbc data (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_data(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("data", "this command is not built yet in this version of coinbc");
}
