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

/* bench mpi's options, as parsed and checked, and this rank's share */
typedef struct {
    const char *net, *method_s;
    int L, B, steps, threads, method;
    int P, me, nl, l0, n; /* ranks, this rank, its levels, its first level, its frames */
    model_net_desc cfg;   /* --net's */
} mpi_args;

/* the model, this rank's batch and the combine's buffers */
typedef struct {
    model m;
    uint8_t *frames, *labels; /* n frames and their labels */
    float *grads, *g, *dens;  /* per-level gradients (all L), the combined one, the densities */
    double *sum;              /* train_combine_dist's */
    int32_t *cnt;
} mpi_batch;

/* the timed steps' totals, in seconds and bytes */
typedef struct {
    double comp, comm, step, fb;
    int64_t bytes;
} mpi_times;

/* the options into *a: -1 to go on, else the exit status (0 after --help) */
static int parse_mpi_args(int argc, char **argv, mpi_args *a) {
    *a = (mpi_args){.net = "impala", .method_s = "and", .L = 16, .B = 8, .steps = 5, .threads = 1};
    cb_opt opts[] = {
        {"net", CB_OPT_STR, &a->net, "NET", "impala (default) or nature", 0},
        {"method", CB_OPT_STR, &a->method_s, "M", "combine method (default and)", 0},
        {"batch-levels", CB_OPT_INT, &a->L, "L", "levels per step over all ranks (default 16; a multiple of the ranks)", 0},
        {"batch-frames", CB_OPT_INT, &a->B, "B", "frames per level (default 8)", 0},
        {"steps", CB_OPT_INT, &a->steps, "N", "timed steps (default 5, after one warm-up step)", 0},
        {"threads", CB_OPT_INT, &a->threads, "T", "threads per rank (default 1)", 0},
    };
    cb_cmd_info info = {"bench mpi",
                         "The training step under mpirun: per rank, forward and backward of its L/P levels, the\n"
                         "distributed combine (ordered sum, sign-count allreduce) and Adam; step time, samples/s and\n"
                         "MPI bytes and seconds per step. Run it as `mpirun -n P coinbc bench mpi`.",
                         "mpirun -n P coinbc bench mpi [--net impala|nature] [--method M] [--batch-levels L] [--steps N]",
                         NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    a->P = cb_dist_size(), a->me = cb_dist_rank();
    if (a->L < 1 || a->B < 1 || a->steps < 1 || a->threads < 1) return bench_error("bench mpi", "sizes must be positive"), 2;
    if (a->L % a->P)
        return bench_error("bench mpi", "--batch-levels %d is not a multiple of the %d ranks", a->L, a->P), 2;
    if (train_method_parse(a->method_s, &a->method))
        return bench_error("bench mpi", "unknown --method '%s'", a->method_s), 2;
    a->nl = a->L / a->P, a->l0 = a->me * a->nl, a->n = a->nl * a->B;
    if (model_net_default(&a->cfg, a->net)) return bench_error("bench mpi", "unknown --net '%s'", a->net), 2;
    return -1;
}

/* the buffers and the model */
static void free_batch(mpi_batch *t) {
    free(t->frames), free(t->labels), free(t->grads), free(t->g), free(t->dens), free(t->sum), free(t->cnt);
    model_free(&t->m);
}

/* the model (weights from seed 1, the same on every rank) and this rank's
 * random frames and labels: 0, or the exit status after a message */
static int setup_batch(const mpi_args *a, mpi_batch *t, cb_err *e) {
    if (model_init(&t->m, &a->cfg, e)) return bench_fail("bench mpi", e);
    model *m = &t->m;
    model_set_threads(m, a->threads);
    cb_rng r;
    cb_rng_seed(&r, 1);
    model_init_params(m, &r);
    size_t np = m->nparams;
    int n = a->n;
    t->frames = malloc((size_t)n * CB_FRAME_BYTES), t->labels = malloc((size_t)n);
    t->grads = malloc(sizeof(float) * np * (size_t)a->L), t->g = malloc(sizeof(float) * np),
    t->dens = malloc(sizeof(float) * (size_t)m->ntensors);
    t->sum = malloc(sizeof(double) * np);
    t->cnt = malloc(sizeof(int32_t) * np);
    if (!t->frames || !t->labels || !t->grads || !t->g || !t->dens || !t->sum || !t->cnt ||
        model_set_batch_levels(m, a->nl, a->B, e)) {
        free_batch(t);
        return bench_error("bench mpi", "out of memory");
    }
    cb_rng_seed2(&r, 7, (uint64_t)a->me); /* each rank its own frames */
    for (size_t i = 0; i < (size_t)n * CB_FRAME_BYTES; i++) t->frames[i] = (uint8_t)cb_rng_below(&r, 256);
    for (int i = 0; i < n; i++) t->labels[i] = (uint8_t)cb_rng_below(&r, 15);
    return 0;
}

/* one warm-up step and --steps timed ones (forward, backward, combine,
 * Adam), their totals into *tm: 0, or the exit status after a message */
static int time_steps(const mpi_args *a, mpi_batch *t, mpi_times *tm, cb_err *e) {
    model *m = &t->m;
    size_t np = m->nparams;
    train_combine_opts co = {.method = a->method, .tau = 0.8, .sand_k = 1, .rescale = 1, .threads = a->threads};
    *tm = (mpi_times){0};
    for (int s = -1; s < a->steps; s++) {
        if (cb_dist_barrier(e)) return bench_fail("bench mpi", e);
        int64_t b0;
        double c0;
        cb_dist_traffic(&b0, &c0); /* reset the counters */
        double t0 = cb_now();
        model_forward_u8(m, t->frames, a->n, NULL);
        model_backward(m, t->labels, a->nl, a->B, t->grads + (size_t)a->l0 * np);
        double t1 = cb_now();
        int rc = a->P == 1 ? train_combine(t->g, t->dens, t->grads, a->L, np, m->tensors, m->ntensors, &co, e)
                           : train_combine_dist(t->g, t->dens, t->grads, a->L, a->l0, a->nl, np, m->tensors, m->ntensors,
                                                &co, t->sum, t->cnt, e);
        if (rc) return bench_fail("bench mpi", e);
        train_adam_step(m, t->g, 1e-6, s + 2, 0, TRAIN_WD_L2);
        double t2 = cb_now();
        int64_t b;
        double c;
        cb_dist_traffic(&b, &c);
        if (s >= 0) {
            tm->fb += t1 - t0;
            tm->step += t2 - t0;
            tm->comm += c;
            tm->comp += (t2 - t0) - c;
            tm->bytes += b;
        }
    }
    return 0;
}

/* the slowest rank sets the pace: the figures of every rank, summed, and
 * rank 0's, three lines on rank 0: 0, or the exit status after a message */
static int print_steps(const mpi_args *a, const mpi_times *tm, cb_err *e) {
    double red[4] = {tm->step, tm->comm, tm->fb, (double)tm->bytes};
    double mine[4];
    memcpy(mine, red, sizeof mine);
    if (cb_dist_allreduce_f64(red, 4, e)) return bench_fail("bench mpi", e);
    if (a->me != 0) return 0;
    int L = a->L, B = a->B, steps = a->steps;
    double step = mine[0] / steps;
    printf("step %.4f s: compute %.4f s (forward+backward %.4f s, %.4f s per level), MPI %.4f s; %.1f samples/s\n",
           step, (mine[0] - mine[1]) / steps, mine[2] / steps, mine[2] / steps / a->nl, mine[1] / steps,
           (double)L * B / step);
    printf("MPI per step and rank: %.2f MB handed over (ordered sum %s), %.4f s; mean over ranks %.4f s\n",
           mine[3] / steps / 1e6, a->method == TRAIN_AND ? "+ int32 sign counts" : "", mine[1] / steps,
           red[1] / steps / a->P);
    printf("bench mpi: P=%d L=%d B=%d %s %s: %.4f s/step, %.1f samples/s, %.4f s MPI/step, %.2f MB/step/rank\n", a->P, L,
           B, a->net, a->method_s, step, (double)L * B / step, mine[1] / steps, mine[3] / steps / 1e6);
    return 0;
}

int bench_mpi(int argc, char **argv) {
    mpi_args a;
    int rc = parse_mpi_args(argc, argv, &a);
    if (rc >= 0) return rc;
    mpi_batch t;
    cb_err e = {0};
    if ((rc = setup_batch(&a, &t, &e))) return rc;
    if (a.me == 0) {
        bench_print_machine();
        printf("%s: %zu parameters; %d rank%s x %d thread%s; L = %d levels per step (%d per rank) x B = %d frames; method %s\n",
               a.net, t.m.nparams, a.P, a.P == 1 ? "" : "s", a.threads, a.threads == 1 ? "" : "s", a.L, a.nl, a.B,
               a.method_s);
    }
    mpi_times tm;
    if ((rc = time_steps(&a, &t, &tm, &e)) || (rc = print_steps(&a, &tm, &e))) return rc;
    free_batch(&t);
    return 0;
}
