/* args.c - the benchmarks' options and messages: common/args.c's parser,
 * with its answers shown as the commands of cli/ show theirs (the same
 * cb_args_say and cb_args_parse_say). */
#include <stdarg.h>
#include <stdio.h>

#include "bench/bench.h"

int bench_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cb_args_vsay(stderr, cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int bench_fail(const char *cmd, const cb_err *e) {
    return bench_error(cmd, "%s", e->msg[0] ? e->msg : cb_strerror(e->code));
}

int bench_parse(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts) {
    return cb_args_parse_say(argc, argv, info, opts, nopts, NULL, 0, NULL, stdout, stderr);
}
