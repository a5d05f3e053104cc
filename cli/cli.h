/* cli.h - the coinbc command: argument parsing and dispatch only, no logic.
 * Each subcommand lives in cli/cmd_<name>.c and exports cli_cmd_<name>. */
#ifndef COINBC_CLI_H
#define COINBC_CLI_H

#include <stdint.h>

#include "common/common.h"

/* ---- option parser ----------------------------------------------------
 * A table of options; long names only ("--seed 5" or "--seed=5").
 * Positional arguments are collected in order. */
typedef enum { CLI_STR, CLI_INT, CLI_I64, CLI_F64, CLI_FLAG, CLI_RANGE } cli_kind;

typedef struct {
    const char *name;    /* without the leading "--" */
    cli_kind kind;
    void *dst;           /* const char**, int*, int64_t*, double*, int* (flag), cli_range* */
    const char *metavar; /* shown in usage ("S", "FILE"); NULL for flags */
    const char *help;
    int seen;            /* set by the parser */
} cli_opt;

typedef struct {
    int32_t lo, hi; /* inclusive */
} cli_range;

typedef struct {
    const char *name;
    const char *summary; /* one line */
    const char *usage;   /* "coinbc level --seed S [options]" */
    const char *details; /* extra paragraphs after the options, may be NULL */
} cli_cmd_info;

/* Parses argv[1..argc-1] (argv[0] is the subcommand name). Returns 0 on
 * success, 1 when --help was printed (caller exits 0), -1 on error (message
 * already printed to stderr). pos receives positional arguments (up to
 * max_pos; more is an error). An option that takes a value and is last, or
 * followed by another option ("--x", "--", "-o", "-h"; a negative number is
 * a value), is refused as "option -o needs a value" (--x=VALUE gives a value
 * that starts with "--"). */
int cli_parse(int argc, char **argv, const cli_cmd_info *info, cli_opt *opts, int nopts,
              const char **pos, int max_pos, int *npos);
/* the number of entries of an option array (never type the count by hand) */
#define CLI_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* Whether option --name was given (after cli_parse), looked up by name so it
 * survives reordering the table; a name not in the table is a programmer
 * error (message on stderr, abort). CLI_SEEN takes the count from the array. */
int cli_seen(const cli_opt *opts, int nopts, const char *name);
#define CLI_SEEN(a, name) cli_seen((a), CLI_COUNT(a), (name))

void cli_usage(const cli_cmd_info *info, const cli_opt *opts, int nopts, FILE *out);

/* "coinbc ARGV..." into buf (truncated to n), for manifests and configs. */
void cli_join_args(char *buf, size_t n, int argc, char **argv);

/* Prints "coinbc <cmd>: <msg>" to stderr and returns exit status 1. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the cb_err message and returns exit status 1. */
int cli_fail(const char *cmd, const cb_err *e);

/* ---- subcommands (each returns the process exit status) -------------- */
/* Under mpirun (cli/dist.c; one process: no-ops). Items [0, n) of elem
 * bytes are shared out by cb_dist_share; cli_dist_gather copies every other
 * rank's share of base into rank 0's base. The blobs: a size, then bytes,
 * from a rank to rank 0. */
int cli_dist_gather(void *base, size_t elem, int64_t n, cb_err *e);
int cli_dist_send_blob(const void *buf, int64_t n, cb_err *e);
int cli_dist_recv_blob(int from, uint8_t **buf, int64_t *n, cb_err *e);

int cli_cmd_level(int argc, char **argv);
int cli_cmd_play(int argc, char **argv);
int cli_cmd_record(int argc, char **argv);
int cli_cmd_capture(int argc, char **argv);
int cli_cmd_data(int argc, char **argv);
int cli_cmd_data_relabel(int argc, char **argv); /* coinbc data relabel (cmd_data_relabel.c) */
int cli_cmd_train(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_rollout(int argc, char **argv);
int cli_cmd_appearance(int argc, char **argv); /* cmd_appearance.c: the appearance probe */
int cli_cmd_report(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_tune(int argc, char **argv);
int cli_cmd_compare(int argc, char **argv);

#endif
