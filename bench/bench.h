/* bench.h - benchmarks behind `coinbc bench NAME`. Each prints its figures
 * and the machine it ran on to stdout and returns an exit status. */
#ifndef COINBC_BENCH_H
#define COINBC_BENCH_H
int bench_game(int argc, char **argv);
int bench_expert(int argc, char **argv);
int bench_data(int argc, char **argv);
int bench_train(int argc, char **argv);
int bench_trial(int argc, char **argv); /* one trial of the paper's protocol, timed by phase */
int bench_mpi(int argc, char **argv); /* run under mpirun -n P */
void bench_print_machine(void);
#endif
