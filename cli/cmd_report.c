/* cmd_report.c - coinbc report (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_report(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("report", "this command is not built yet in this version of coinbc");
}
