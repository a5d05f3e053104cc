/* args.c - the long-option parser of coinbc's front ends (cli/, bench/),
 * with generated usage text. It reports through cb_err; it prints only into
 * the streams it is given (the usage text, and the front ends' messages
 * through cb_args_say and cb_args_parse_say). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

void cb_args_msg_prefix(char *buf, size_t n, const char *cmd) {
    if (cb_dist_size() > 1) snprintf(buf, n, "coinbc %s: rank %d of %d: ", cmd, cb_dist_rank(), cb_dist_size());
    else snprintf(buf, n, "coinbc %s: ", cmd);
}

int cb_args_vsay(FILE *f, const char *cmd, const char *fmt, va_list ap) {
    char pre[256];
    cb_args_msg_prefix(pre, sizeof pre, cmd);
    fputs(pre, f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    return 1;
}

int cb_args_say(FILE *f, const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cb_args_vsay(f, cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int cb_args_parse_say(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts, const char **pos,
                      int max_pos, int *npos, FILE *out, FILE *err) {
    cb_err e = {0};
    int rc = cb_args_parse(argc, argv, info, opts, nopts, pos, max_pos, npos, &e);
    if (rc == CB_ARGS_HELP) {
        cb_args_usage(info, opts, nopts, out);
        return 1;
    }
    if (rc) {
        cb_args_say(err, info->name, "%s", e.msg[0] ? e.msg : cb_strerror(e.code));
        return -1;
    }
    return 0;
}

void cb_args_join(char *buf, size_t n, int argc, char **argv) {
    size_t k = (size_t)snprintf(buf, n, "coinbc");
    for (int i = 0; i < argc && k < n; i++) k += (size_t)snprintf(buf + k, n - k, " %s", argv[i]);
}

int cb_args_seen(const cb_opt *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].seen;
    fprintf(stderr, "coinbc: internal error: no option --%s in this command's table\n", name);
    abort();
}

void cb_args_usage(const cb_cmd_info *info, const cb_opt *opts, int nopts, FILE *out) {
    fprintf(out, "usage: %s\n\n%s\n", info->usage, info->summary);
    if (nopts) fprintf(out, "\noptions:\n");
    for (int i = 0; i < nopts; i++) {
        char left[96];
        if (opts[i].kind == CB_OPT_FLAG)
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
static int missing_value(const char *given, const cb_opt *o, const char *next, cb_err *e) {
    const char *mv = o->metavar ? o->metavar : "X";
    if (next)
        return cb_fail(e, CB_EARG, "option %s needs a value (%s), and '%s' after it is an option; for a value that "
                                   "starts with '--', write --%s=VALUE", given, mv, next, o->name);
    return cb_fail(e, CB_EARG, "option %s needs a value (%s)", given, mv);
}

static int set_value(cb_opt *o, const char *v, cb_err *e) {
    switch (o->kind) {
    case CB_OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    case CB_OPT_INT: {
        int64_t x;
        if (cb_parse_i64(v, &x) || x < INT32_MIN || x > INT32_MAX)
            return cb_fail(e, CB_EARG, "--%s: '%s' is not an integer in the int32 range", o->name, v);
        *(int *)o->dst = (int)x;
        return 0;
    }
    case CB_OPT_I64: {
        int64_t x;
        if (cb_parse_i64(v, &x)) return cb_fail(e, CB_EARG, "--%s: '%s' is not an integer", o->name, v);
        *(int64_t *)o->dst = x;
        return 0;
    }
    case CB_OPT_F64: {
        double x;
        if (cb_parse_f64(v, &x)) return cb_fail(e, CB_EARG, "--%s: '%s' is not a number", o->name, v);
        *(double *)o->dst = x;
        return 0;
    }
    case CB_OPT_RANGE: {
        cb_range *r = o->dst;
        int rc = cb_parse_range(v, &r->lo, &r->hi);
        if (rc == CB_ERANGE)
            return cb_fail(e, CB_EARG, "--%s: range '%s' is reversed (write it as LOW-HIGH)", o->name, v);
        if (rc) return cb_fail(e, CB_EARG, "--%s: '%s' is not a level range A-B (0 <= A <= B < 2^31)", o->name, v);
        return 0;
    }
    case CB_OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return cb_fail(e, CB_EARG, "--%s: an option of unknown kind %d", o->name, (int)o->kind);
}

/* the option named by name[0..nlen), or NULL */
static cb_opt *find(cb_opt *opts, int nopts, const char *name, size_t nlen) {
    cb_opt *o = NULL;
    for (int k = 0; k < nopts; k++)
        if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
    return o;
}

/* "--name", "--name=value" or "--name value" at argv[*i] */
static int long_option(int argc, char **argv, int *i, const char *cmd, cb_opt *opts, int nopts, cb_err *e) {
    const char *a = argv[*i], *name = a + 2, *eq = strchr(name, '=');
    cb_opt *o = find(opts, nopts, name, eq ? (size_t)(eq - name) : strlen(name));
    if (!o) return cb_fail(e, CB_EARG, "unknown option '%s' (see coinbc %s --help)", a, cmd);
    const char *v = NULL;
    if (o->kind == CB_OPT_FLAG) {
        if (eq) return cb_fail(e, CB_EARG, "--%s takes no value", o->name);
    } else if (eq) {
        v = eq + 1;
    } else {
        if (*i + 1 >= argc || is_option_word(argv[*i + 1]))
            return missing_value(a, o, *i + 1 < argc ? argv[*i + 1] : NULL, e);
        v = argv[++*i];
    }
    int rc = set_value(o, v, e);
    if (!rc) o->seen = 1;
    return rc;
}

int cb_args_parse(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts, const char **pos,
                  int max_pos, int *npos, cb_err *e) {
    const char *cmd = info->name;
    int np = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) return CB_ARGS_HELP;
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            int rc = long_option(argc, argv, &i, cmd, opts, nopts, e);
            if (rc) return rc;
            continue;
        }
        if (a[0] == '-' && a[1] != 0 && !only_pos && !(a[1] >= '0' && a[1] <= '9')) {
            cb_opt *o = NULL; /* -o is shorthand for --out or --o */
            if (strcmp(a, "-o") == 0)
                for (int k = 0; k < nopts; k++)
                    if (strcmp(opts[k].name, "out") == 0 || strcmp(opts[k].name, "o") == 0) o = &opts[k];
            if (!o) return cb_fail(e, CB_EARG, "unknown option '%s' (see coinbc %s --help)", a, cmd);
            if (i + 1 >= argc || is_option_word(argv[i + 1]))
                return missing_value(a, o, i + 1 < argc ? argv[i + 1] : NULL, e);
            int rc = set_value(o, argv[++i], e);
            if (rc) return rc;
            o->seen = 1;
            continue;
        }
        if (np >= max_pos) return cb_fail(e, CB_EARG, "unexpected argument '%s' (see coinbc %s --help)", a, cmd);
        pos[np++] = a;
    }
    if (npos) *npos = np;
    return 0;
}
