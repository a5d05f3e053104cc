/* cli.h - the coinbc command: argument parsing and dispatch only, no logic.
 * Each subcommand lives in cli/cmd_<name>.c and exports cli_cmd_<name>. */
#ifndef COINBC_CLI_H
#define COINBC_CLI_H

#include <stdint.h>

#include "common/common.h"

/* ---- option parser ----------------------------------------------------
 * common/args.c (cb_args_*, common/common.h) is the parser; these are its
 * names in cli/ (kept so every command reads as before), and cli_parse,
 * which prints what the parser answers. */
typedef cb_opt_kind cli_kind;
#define CLI_STR CB_OPT_STR
#define CLI_INT CB_OPT_INT
#define CLI_I64 CB_OPT_I64
#define CLI_F64 CB_OPT_F64
#define CLI_FLAG CB_OPT_FLAG
#define CLI_RANGE CB_OPT_RANGE
typedef cb_opt cli_opt;
typedef cb_range cli_range;
typedef cb_cmd_info cli_cmd_info;

/* cb_args_parse, printing: returns 0 on success, 1 when --help was printed
 * (on stdout; caller exits 0), -1 on error (message printed to stderr as
 * "coinbc NAME: ..."). */
int cli_parse(int argc, char **argv, const cli_cmd_info *info, cli_opt *opts, int nopts,
              const char **pos, int max_pos, int *npos);
#define CLI_COUNT(a) CB_ARGS_COUNT(a)
#define cli_seen cb_args_seen
#define CLI_SEEN(a, name) CB_ARGS_SEEN(a, name)
#define cli_usage cb_args_usage
#define cli_join_args cb_args_join

/* Prints "coinbc <cmd>: <msg>" to stderr and returns exit status 1. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the cb_err message and returns exit status 1. */
int cli_fail(const char *cmd, const cb_err *e);

/* ---- subcommands (each returns the process exit status) -------------- */
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
