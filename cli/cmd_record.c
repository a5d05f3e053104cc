/* cmd_record.c - coinbc record (not built yet: see the open issues). */
#include "cli/cli.h"

int cli_cmd_record(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("record", "this command is not built yet in this version of coinbc");
}
