/* cmd_play.c - coinbc play (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_play(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("play", "this command is not built yet in this version of coinbc");
}
