/* bench_train.c - training step speed: samples/s of a full step (forward,
 * backward with per-level gradients, combine, Adam) for mean and AND-mask,
 * the same AND-mask step done the naive way (L separate forward/backward
 * passes, one per level) as a ratio in the same run, achieved GFLOP/s next to
 * this machine's OpenBLAS sgemm rate. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "train/train.h"

static double conv_flops(const model *m) { /* forward multiply-adds x 2 per sample */
    double f = 0;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type == OP_CONV) f += 2.0 * o->cout * o->cin * o->k * o->k * o->ho * o->wo;
        if (o->type == OP_LINEAR) f += 2.0 * o->din * o->dout;
    }
    return f;
}

int bench_train(int argc, char **argv) {
    const char *net = "impala";
    int L = 16, B = 8, steps = 6;
    cli_opt opts[] = {
        {"net", CLI_STR, &net, "NET", "impala (default) or nature", 0},
        {"batch-levels", CLI_INT, &L, "L", "levels per batch (default 16)", 0},
        {"batch-frames", CLI_INT, &B, "B", "frames per level (default 8)", 0},
        {"steps", CLI_INT, &steps, "N", "timed steps per variant (default 6)", 0},
    };
    cli_cmd_info info = {"bench train", "Training step speed: mean vs AND-mask vs naive per-level backward passes.",
                         "coinbc bench train [--net impala|nature] [--batch-levels L] [--batch-frames B]", NULL};
    int rc = cli_parse(argc, argv, &info, opts, 4, NULL, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    model m;
    model_config cfg;
    cb_err e = {0};
    if (model_config_default(&cfg, net) || model_init(&m, &cfg, &e)) return cli_error("bench train", "bad --net");
    cb_rng r;
    cb_rng_seed(&r, 1);
    model_init_params(&m, &r);
    int N = L * B;
    if (model_set_batch(&m, N, &e)) return cli_fail("bench train", &e);
    uint8_t *frames = malloc((size_t)N * 12288), *labels = malloc((size_t)N);
    float *grads = malloc(sizeof(float) * m.nparams * (size_t)L), *g = malloc(sizeof(float) * m.nparams),
          *dens = malloc(sizeof(float) * (size_t)m.ntensors);
    for (size_t i = 0; i < (size_t)N * 12288; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)cb_rng_below(&r, 15);
    bench_print_machine();
    printf("openblas: %s, %d threads\n", openblas_get_config(), openblas_get_num_threads());
    /* sgemm reference rate: a square-ish product like the biggest convs */
    {
        int M = 32, K = 288, Nn = 128 * 256;
        float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * Nn, 4), *c = calloc((size_t)M * Nn, 4);
        double t0 = cb_now();
        int reps = 20;
        for (int k = 0; k < reps; k++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Nn, K, 1, a, K, b, Nn, 0, c, Nn);
        double dt = cb_now() - t0;
        int M2 = 1024, K2 = 1024, N2 = 1024;
        float *a2 = calloc((size_t)M2 * K2, 4), *b2 = calloc((size_t)K2 * N2, 4), *c2 = calloc((size_t)M2 * N2, 4);
        double t1 = cb_now();
        for (int k = 0; k < 4; k++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M2, N2, K2, 1, a2, K2, b2, N2, 0, c2, N2);
        double dt2 = cb_now() - t1;
        printf("sgemm: %.1f GFLOP/s on 1024^3, %.1f GFLOP/s on %dx%dx%d (a conv-shaped product)\n",
               4 * 2.0 * M2 * K2 * N2 / dt2 / 1e9, reps * 2.0 * M * K * Nn / dt / 1e9, M, K, Nn);
        free(a), free(b), free(c), free(a2), free(b2), free(c2);
    }
    double fl = conv_flops(&m) * 3 * N; /* forward + backward ~ 3x forward */
    printf("%s: %zu parameters, %.1f MFLOP forward per frame; batch %d levels x %d frames\n", net, m.nparams,
           conv_flops(&m) / 1e6, L, B);
    double rate[3];
    const char *names[3] = {"mean", "and (tau 0.8), one backward pass", "and, naive: L separate passes"};
    for (int v = 0; v < 3; v++) {
        train_combine_opts co = {v == 0 ? TRAIN_MEAN : TRAIN_AND, v == 0 ? 0 : 0.8, 1, 1};
        double t0 = 0;
        for (int s = -1; s < steps; s++) {
            if (s == 0) t0 = cb_now(); /* one warm-up step */
            if (v < 2) {
                model_forward_u8(&m, frames, N, NULL);
                model_backward(&m, labels, L, B, grads);
            } else {
                for (int l = 0; l < L; l++) {
                    model_forward_u8(&m, frames + (size_t)l * B * 12288, B, NULL);
                    model_backward(&m, labels + l * B, 1, B, grads + (size_t)l * m.nparams);
                }
            }
            train_combine(g, dens, grads, L, m.nparams, m.tensors, m.ntensors, &co, &e);
            train_adam_step(&m, g, 1e-9, s + 2, 0, TRAIN_WD_L2);
        }
        double dt = cb_now() - t0;
        rate[v] = (double)steps * N / dt;
        printf("  %-36s %7.0f samples/s  (%.1f GFLOP/s)\n", names[v], rate[v], fl * steps / dt / 1e9);
        if (v == 2) model_set_batch(&m, N, &e);
        if (v == 1) model_set_batch(&m, B, &e);
    }
    printf("AND-mask with one backward pass is %.2fx the naive per-level passes, and %.2fx plain mean\n", rate[1] / rate[2],
           rate[1] / rate[0]);
    free(frames), free(labels), free(grads), free(g), free(dens);
    model_free(&m);
    return 0;
}
