/* args.c - the command's messages on stderr, and cli_parse: the parser of
 * common/args.c with its answers printed. */
#include "cli/cli.h"

#include <stdarg.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    char pre[256];
    va_list ap;
    cb_args_msg_prefix(pre, sizeof pre, cmd);
    fputs(pre, stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_fail(const char *cmd, const cb_err *e) {
    return cli_error(cmd, "%s", e->msg[0] ? e->msg : cb_strerror(e->code));
}

int cli_parse(int argc, char **argv, const cli_cmd_info *info, cli_opt *opts, int nopts, const char **pos,
              int max_pos, int *npos) {
    cb_err e = {0};
    int rc = cb_args_parse(argc, argv, info, opts, nopts, pos, max_pos, npos, &e);
    if (rc == CB_ARGS_HELP) {
        cb_args_usage(info, opts, nopts, stdout);
        return 1;
    }
    if (rc) {
        cli_fail(info->name, &e);
        return -1;
    }
    return 0;
}
