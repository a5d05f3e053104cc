/* bench.h - benchmarks behind `coinbc bench NAME`. Each prints its figures
 * and the machine it ran on to stdout and returns an exit status. */
#ifndef COINBC_BENCH_H
#define COINBC_BENCH_H

#include "common/common.h"

int bench_game(int argc, char **argv);
int bench_expert(int argc, char **argv);
int bench_data(int argc, char **argv);
int bench_train(int argc, char **argv);
int bench_trial(int argc, char **argv); /* one trial of the paper's protocol, timed by phase */
int bench_mpi(int argc, char **argv); /* run under mpirun -n P */
void bench_print_machine(void);
/* The benchmarks' options and messages (bench/args.c): cb_args_parse with
 * --help and errors printed (0, 1 after --help, -1 after an error), and
 * "coinbc bench NAME: ..." on stderr (both return exit status 1), as the
 * commands of cli/ print them. */
int bench_parse(int argc, char **argv, const cb_cmd_info *info, cb_opt *opts, int nopts);
int bench_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bench_fail(const char *cmd, const cb_err *e);
#endif
