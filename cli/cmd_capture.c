/* cmd_capture.c - coinbc capture (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_capture(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("capture", "this command is not built yet in this version of coinbc");
}
