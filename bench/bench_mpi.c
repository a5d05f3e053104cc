/* bench_mpi.c - the distributed training step (coinbc bench mpi, run as
 * `mpirun -n P coinbc bench mpi`; one process without mpirun): each rank
 * forwards and backwards its L/P levels, the combine goes through
 * train_combine_dist (the ordered sum through the ranks, AND's sign counts
 * by MPI_Allreduce) and every rank takes the Adam step. Rank 0 prints the
 * step time split into compute and communication, samples/s, and the bytes
 * each rank hands to MPI per step: the figures docs/MPI.md's cost model
 * starts from. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "train/train.h"

int bench_mpi(int argc, char **argv) {
    const char *net = "impala", *method_s = "and";
    int L = 16, B = 8, steps = 5, threads = 1;
    cb_opt opts[] = {
        {"net", CB_OPT_STR, &net, "NET", "impala (default) or nature", 0},
        {"method", CB_OPT_STR, &method_s, "M", "combine method (default and)", 0},
        {"batch-levels", CB_OPT_INT, &L, "L", "levels per step over all ranks (default 16; a multiple of the ranks)", 0},
        {"batch-frames", CB_OPT_INT, &B, "B", "frames per level (default 8)", 0},
        {"steps", CB_OPT_INT, &steps, "N", "timed steps (default 5, after one warm-up step)", 0},
        {"threads", CB_OPT_INT, &threads, "T", "threads per rank (default 1)", 0},
    };
    cb_cmd_info info = {"bench mpi",
                         "The training step under mpirun: per rank, forward and backward of its L/P levels, the\n"
                         "distributed combine (ordered sum, sign-count allreduce) and Adam; step time, samples/s and\n"
                         "MPI bytes and seconds per step. Run it as `mpirun -n P coinbc bench mpi`.",
                         "mpirun -n P coinbc bench mpi [--net impala|nature] [--method M] [--batch-levels L] [--steps N]",
                         NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    int P = cb_dist_size(), me = cb_dist_rank(), method;
    if (L < 1 || B < 1 || steps < 1 || threads < 1) return bench_error("bench mpi", "sizes must be positive"), 2;
    if (L % P) return bench_error("bench mpi", "--batch-levels %d is not a multiple of the %d ranks", L, P), 2;
    if (train_method_parse(method_s, &method)) return bench_error("bench mpi", "unknown --method '%s'", method_s), 2;
    int nl = L / P, l0 = me * nl, n = nl * B;
    model m;
    model_net_desc cfg;
    cb_err e = {0};
    if (model_net_default(&cfg, net)) return bench_error("bench mpi", "unknown --net '%s'", net), 2;
    if (model_init(&m, &cfg, &e)) return bench_fail("bench mpi", &e);
    model_set_threads(&m, threads);
    cb_rng r;
    cb_rng_seed(&r, 1);
    model_init_params(&m, &r);
    size_t np = m.nparams;
    uint8_t *frames = malloc((size_t)n * CB_FRAME_BYTES), *labels = malloc((size_t)n);
    float *grads = malloc(sizeof(float) * np * (size_t)L), *g = malloc(sizeof(float) * np),
          *dens = malloc(sizeof(float) * (size_t)m.ntensors);
    double *sum = malloc(sizeof(double) * np);
    int32_t *cnt = malloc(sizeof(int32_t) * np);
    if (!frames || !labels || !grads || !g || !dens || !sum || !cnt || model_set_batch_levels(&m, nl, B, &e)) {
        free(frames), free(labels), free(grads), free(g), free(dens), free(sum), free(cnt);
        model_free(&m);
        return bench_error("bench mpi", "out of memory");
    }
    cb_rng_seed2(&r, 7, (uint64_t)me); /* each rank its own frames */
    for (size_t i = 0; i < (size_t)n * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_below(&r, 256);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)cb_rng_below(&r, 15);
    if (me == 0) {
        bench_print_machine();
        printf("%s: %zu parameters; %d rank%s x %d thread%s; L = %d levels per step (%d per rank) x B = %d frames; method %s\n",
               net, np, P, P == 1 ? "" : "s", threads, threads == 1 ? "" : "s", L, nl, B, method_s);
    }
    train_combine_opts co = {.method = method, .tau = 0.8, .sand_k = 1, .rescale = 1, .threads = threads};
    double t_comp = 0, t_comm = 0, t_step = 0, t_fb = 0;
    int64_t bytes = 0;
    for (int s = -1; s < steps; s++) {
        if (cb_dist_barrier(&e)) return bench_fail("bench mpi", &e);
        int64_t b0;
        double c0;
        cb_dist_traffic(&b0, &c0); /* reset the counters */
        double t0 = cb_now();
        model_forward_u8(&m, frames, n, NULL);
        model_backward(&m, labels, nl, B, grads + (size_t)l0 * np);
        double t1 = cb_now();
        rc = P == 1 ? train_combine(g, dens, grads, L, np, m.tensors, m.ntensors, &co, &e)
                    : train_combine_dist(g, dens, grads, L, l0, nl, np, m.tensors, m.ntensors, &co, sum, cnt, &e);
        if (rc) return bench_fail("bench mpi", &e);
        train_adam_step(&m, g, 1e-6, s + 2, 0, TRAIN_WD_L2);
        double t2 = cb_now();
        int64_t b;
        double c;
        cb_dist_traffic(&b, &c);
        if (s >= 0) {
            t_fb += t1 - t0;
            t_step += t2 - t0;
            t_comm += c;
            t_comp += (t2 - t0) - c;
            bytes += b;
        }
    }
    /* the slowest rank sets the pace: the figures of every rank, summed, and rank 0's */
    double red[4] = {t_step, t_comm, t_fb, (double)bytes};
    double mine[4];
    memcpy(mine, red, sizeof mine);
    if (cb_dist_allreduce_f64(red, 4, &e)) return bench_fail("bench mpi", &e);
    if (me == 0) {
        double step = mine[0] / steps;
        printf("step %.4f s: compute %.4f s (forward+backward %.4f s, %.4f s per level), MPI %.4f s; %.1f samples/s\n",
               step, (mine[0] - mine[1]) / steps, mine[2] / steps, mine[2] / steps / nl, mine[1] / steps,
               (double)L * B / step);
        printf("MPI per step and rank: %.2f MB handed over (ordered sum %s), %.4f s; mean over ranks %.4f s\n",
               mine[3] / steps / 1e6, method == TRAIN_AND ? "+ int32 sign counts" : "", mine[1] / steps,
               red[1] / steps / P);
        printf("bench mpi: P=%d L=%d B=%d %s %s: %.4f s/step, %.1f samples/s, %.4f s MPI/step, %.2f MB/step/rank\n", P, L, B,
               net, method_s, step, (double)L * B / step, mine[1] / steps, mine[3] / steps / 1e6);
    }
    free(frames), free(labels), free(grads), free(g), free(dens), free(sum), free(cnt);
    model_free(&m);
    return 0;
}
