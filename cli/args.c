/* args.c - the command's messages on stderr, and cli_parse: the parser of
 * common/args.c with its answers shown (cb_args_say, cb_args_parse_say). */
#include "cli/cli.h"

#include <stdarg.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cb_args_vsay(stderr, cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_fail(const char *cmd, const cb_err *e) {
    return cli_error(cmd, "%s", e->msg[0] ? e->msg : cb_strerror(e->code));
}

int cli_parse(int argc, char **argv, const cli_cmd_info *info, cli_opt *opts, int nopts, const char **pos,
              int max_pos, int *npos) {
    return cb_args_parse_say(argc, argv, info, opts, nopts, pos, max_pos, npos, stdout, stderr);
}
