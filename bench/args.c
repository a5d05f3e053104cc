/* args.c - the benchmarks' options and messages: common/args.c's parser,
 * with its answers printed as the commands of cli/ print theirs. */
#include <stdarg.h>
#include <stdio.h>

#include "bench/bench.h"

int bench_error(const char *cmd, const char *fmt, ...) {
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

int bench_fail(const char *cmd, const cb_err *e) {
    return bench_error(cmd, "%s", e->msg[0] ? e->msg : cb_strerror(e->code));
}

int bench_parse(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts) {
    cb_err e = {0};
    int rc = cb_args_parse(argc, argv, info, opts, nopts, NULL, 0, NULL, &e);
    if (rc == CB_ARGS_HELP) {
        cb_args_usage(info, opts, nopts, stdout);
        return 1;
    }
    if (rc) {
        bench_fail(info->name, &e);
        return -1;
    }
    return 0;
}
