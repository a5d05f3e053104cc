/* cmd_train.c - coinbc train (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("train", "this command is not built yet in this version of coinbc");
}
