/* args.c - a small long-option parser with generated usage text. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    if (cb_dist_size() > 1) fprintf(stderr, "coinbc %s: rank %d of %d: ", cmd, cb_dist_rank(), cb_dist_size());
    else fprintf(stderr, "coinbc %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

void cli_join_args(char *buf, size_t n, int argc, char **argv) {
    size_t k = (size_t)snprintf(buf, n, "coinbc");
    for (int i = 0; i < argc && k < n; i++) k += (size_t)snprintf(buf + k, n - k, " %s", argv[i]);
}

int cli_seen(const cli_opt *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].seen;
    fprintf(stderr, "coinbc: internal error: no option --%s in this command's table\n", name);
    abort();
}

int cli_fail(const char *cmd, const cb_err *e) {
    return cli_error(cmd, "%s", e->msg[0] ? e->msg : cb_strerror(e->code));
}

void cli_usage(const cli_cmd_info *info, const cli_opt *opts, int nopts, FILE *out) {
    fprintf(out, "usage: %s\n\n%s\n", info->usage, info->summary);
    if (nopts) fprintf(out, "\noptions:\n");
    for (int i = 0; i < nopts; i++) {
        char left[96];
        if (opts[i].kind == CLI_FLAG)
            snprintf(left, sizeof left, "--%s", opts[i].name);
        else
            snprintf(left, sizeof left, "--%s %s", opts[i].name, opts[i].metavar ? opts[i].metavar : "X");
        fprintf(out, "  %-24s %s\n", left, opts[i].help);
    }
    fprintf(out, "  %-24s %s\n", "--help", "show this text");
    if (info->details) fprintf(out, "\n%s\n", info->details);
}

/* An argument that is an option itself, so it cannot be the value of the
 * option before it: "--x", "--", "-o", "-h" (a negative number is a value). */
static int is_option_word(const char *a) {
    return (a[0] == '-' && a[1] == '-') || !strcmp(a, "-o") || !strcmp(a, "-h");
}

/* "option -o needs a value", for an option at the end or followed by another option */
static int missing_value(const char *cmd, const char *given, const cli_opt *o, const char *next) {
    const char *mv = o->metavar ? o->metavar : "X";
    if (next)
        return cli_error(cmd, "option %s needs a value (%s), and '%s' after it is an option; for a value that starts "
                              "with '--', write --%s=VALUE", given, mv, next, o->name);
    return cli_error(cmd, "option %s needs a value (%s)", given, mv);
}

static int set_value(const char *cmd, cli_opt *o, const char *v) {
    switch (o->kind) {
    case CLI_STR:
        *(const char **)o->dst = v;
        return 0;
    case CLI_INT: {
        int64_t x;
        if (cb_parse_i64(v, &x) || x < INT32_MIN || x > INT32_MAX)
            return cli_error(cmd, "--%s: '%s' is not an integer in the int32 range", o->name, v), -1;
        *(int *)o->dst = (int)x;
        return 0;
    }
    case CLI_I64: {
        int64_t x;
        if (cb_parse_i64(v, &x)) return cli_error(cmd, "--%s: '%s' is not an integer", o->name, v), -1;
        *(int64_t *)o->dst = x;
        return 0;
    }
    case CLI_F64: {
        double x;
        if (cb_parse_f64(v, &x)) return cli_error(cmd, "--%s: '%s' is not a number", o->name, v), -1;
        *(double *)o->dst = x;
        return 0;
    }
    case CLI_RANGE: {
        cli_range *r = o->dst;
        int rc = cb_parse_range(v, &r->lo, &r->hi);
        if (rc == CB_ERANGE)
            return cli_error(cmd, "--%s: range '%s' is reversed (write it as LOW-HIGH)", o->name, v), -1;
        if (rc)
            return cli_error(cmd, "--%s: '%s' is not a level range A-B (0 <= A <= B < 2^31)", o->name, v), -1;
        return 0;
    }
    case CLI_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return -1;
}

int cli_parse(int argc, char **argv, const cli_cmd_info *info, cli_opt *opts, int nopts,
              const char **pos, int max_pos, int *npos) {
    const char *cmd = info->name;
    int np = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            cli_usage(info, opts, nopts, stdout);
            return 1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            cli_opt *o = NULL;
            for (int k = 0; k < nopts; k++)
                if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
            if (!o) {
                cli_error(cmd, "unknown option '%s' (see coinbc %s --help)", a, cmd);
                return -1;
            }
            const char *v = NULL;
            if (o->kind == CLI_FLAG) {
                if (eq) {
                    cli_error(cmd, "--%s takes no value", o->name);
                    return -1;
                }
            } else if (eq) {
                v = eq + 1;
            } else {
                if (i + 1 >= argc || (!only_pos && is_option_word(argv[i + 1]))) {
                    missing_value(cmd, a, o, i + 1 < argc ? argv[i + 1] : NULL);
                    return -1;
                }
                v = argv[++i];
            }
            if (set_value(cmd, o, v) != 0) return -1;
            o->seen = 1;
            continue;
        }
        if (a[0] == '-' && a[1] != 0 && !only_pos && !(a[1] >= '0' && a[1] <= '9')) {
            if (strcmp(a, "-o") == 0) { /* -o is shorthand for --out or --o */
                cli_opt *o = NULL;
                for (int k = 0; k < nopts; k++)
                    if (strcmp(opts[k].name, "out") == 0 || strcmp(opts[k].name, "o") == 0) o = &opts[k];
                if (o) {
                    if (i + 1 >= argc || is_option_word(argv[i + 1])) {
                        missing_value(cmd, a, o, i + 1 < argc ? argv[i + 1] : NULL);
                        return -1;
                    }
                    if (set_value(cmd, o, argv[++i]) != 0) return -1;
                    o->seen = 1;
                    continue;
                }
            }
            cli_error(cmd, "unknown option '%s' (see coinbc %s --help)", a, cmd);
            return -1;
        }
        if (np >= max_pos) {
            cli_error(cmd, "unexpected argument '%s' (see coinbc %s --help)", a, cmd);
            return -1;
        }
        pos[np++] = a;
    }
    if (npos) *npos = np;
    return 0;
}
