/* cmd_eval.c - coinbc eval (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("eval", "this command is not built yet in this version of coinbc");
}
