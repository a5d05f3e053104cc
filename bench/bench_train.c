/* bench_train.c - training step speed (coinbc bench train): samples/s of a
 * full step (forward, backward with one parameter gradient per level,
 * combine, Adam) for mean, tand, AND-mask and SAND-mask, split into its phases;
 * the AND-mask step done the way the reference code does it (one forward,
 * then one full backward pass over the whole batch per level) as a ratio in
 * the same run; achieved GFLOP/s next to this machine's OpenBLAS sgemm rate;
 * the inference forward of a validation batch (256 frames); and what an
 * epoch of 64 levels x 1000 frames costs. Besides the table, every figure is
 * on a line a script can read: "result KEY=VALUE ..." (docs/PERFORMANCE.md). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "train/train.h"

/* forward FLOPs per frame (2 per multiply-add), convolutions and linears */
static double forward_flops(const model *m) {
    double f = 0;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type == OP_CONV) f += 2.0 * o->cout * o->cin * o->k * o->k * o->ho * o->wo;
        if (o->type == OP_LINEAR) f += 2.0 * o->din * o->dout;
    }
    return f;
}

/* GFLOP/s of sgemm C(M,N) = A(M,K) B(K,N) on `threads` OpenBLAS threads */
static double sgemm_rate(int M, int N, int K, int threads) {
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * N, 4), *c = calloc((size_t)M * N, 4);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N); /* warm-up */
    int reps = 0;
    double t0 = cb_now(), dt;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        reps++;
    } while ((dt = cb_now() - t0) < 0.5);
    openblas_set_num_threads(1);
    free(a), free(b), free(c);
    return reps * 2.0 * M * N * K / dt / 1e9;
}

typedef struct {
    double fwd, bwd, comb, adam; /* seconds per step */
} phases;

/* variant: 0 mean, 1 and, 2 sand, 3 and done reference-style, 4 tand (mean, then tand's masked Adam) */
static double time_steps(model *m, int variant, const uint8_t *frames, const uint8_t *labels, int L, int B, int steps,
                         float *grads, float *g, float *dens, model_level_sums *sums, phases *ph) {
    train_combine_opts co = {.method = TRAIN_MEAN, .tau = 0, .sand_k = 1, .rescale = 1};
    if (variant == 1 || variant == 3) co = (train_combine_opts){.method = TRAIN_AND, .tau = 0.8, .sand_k = 1, .rescale = 1};
    if (variant == 2) co = (train_combine_opts){.method = TRAIN_SAND, .tau = 0.8, .sand_k = 1, .rescale = 1};
    if (variant == 4) co = (train_combine_opts){.method = TRAIN_TAND, .tau = 0.5, .sand_k = 1, .rescale = 1, .tand_beta = 0.9};
    co.threads = m->threads;
    /* the first linear layer's weight gradient reduced over the levels in
     * the backward, as train does it (not for the reference-style step, nor
     * for a method that needs every level's value) */
    model_level_sums *ls = variant != 3 && train_combine_takes_sums(co.method) ? sums : NULL;
    memset(ph, 0, sizeof *ph);
    float *sign = variant == 4 ? calloc(m->nparams, sizeof(float)) : NULL; /* tand's sign moment (train/'s state) */
    if (variant == 4 && !sign) return 0;
    cb_err e;
    double t_all = 0;
    for (int s = -1; s < steps; s++) { /* one warm-up step */
        double t0 = cb_now();
        model_forward_u8(m, frames, L * B, NULL);
        double t1 = cb_now();
        if (variant == 3) {
            /* the reference code: autograd.grad of level l's loss through the
             * whole batch's graph, once per level. Each of those passes costs
             * one backward over all L*B samples; that cost is reproduced here
             * by L full backward passes. */
            for (int l = 0; l < L; l++) model_backward(m, labels, L, B, grads);
        } else {
            model_backward_sums(m, labels, L, B, grads, ls);
        }
        double t2 = cb_now();
        train_combine_sums(g, dens, grads, L, m->nparams, m->tensors, m->ntensors, &co, ls, &e);
        double t3 = cb_now();
        if (variant == 4)
            train_tand_step(m, sign, dens, g, 1e-6, s + 2, 0, TRAIN_WD_L2, co.tau, co.tand_beta);
        else
            train_adam_step(m, g, 1e-6, s + 2, 0, TRAIN_WD_L2);
        double t4 = cb_now();
        if (s >= 0) {
            ph->fwd += (t1 - t0) / steps;
            ph->bwd += (t2 - t1) / steps;
            ph->comb += (t3 - t2) / steps;
            ph->adam += (t4 - t3) / steps;
            t_all += t4 - t0;
        }
    }
    free(sign);
    return (double)steps * L * B / t_all;
}

/* samples/s of the inference forward (model_predict) over batches of n frames */
static double time_predict(model *m, const uint8_t *frames, int n, int reps) {
    model_predict_io io = {0};
    cb_err e;
    model_predict(m, frames, n, &io, &e); /* warm-up */
    double t0 = cb_now();
    for (int k = 0; k < reps; k++) model_predict(m, frames, n, &io, &e);
    return (double)n * reps / (cb_now() - t0);
}

static int has_variant(const char *list, const char *name) {
    size_t k = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += k)
        if ((p == list || p[-1] == ',') && (p[k] == ',' || p[k] == 0)) return 1;
    return 0;
}

/* bench train's options, as parsed and checked */
typedef struct {
    const char *net, *variants;
    int L, B, steps, threads, naive, level_sums;
    int64_t tile;
    model_net_desc cfg; /* --net's */
} train_args;

/* the model and the batch the steps are timed on */
typedef struct {
    model m;
    uint8_t *frames, *labels; /* L*B frames and their labels */
    float *grads, *g, *dens;  /* per-level gradients, the combined one, the densities */
    model_level_sums sums;    /* the reduced tensor's sums (--level-sums 1 where the batch allows it) */
    model_level_sums *ls;     /* &sums, or NULL */
} train_batch;

/* the options into *a: -1 to go on, else the exit status (0 after --help) */
static int parse_train_args(int argc, char **argv, train_args *a) {
    *a = (train_args){.net = "impala", .variants = "mean,tand,and,sand,predict", .L = 16, .B = 8, .steps = 5,
                      .threads = cb_default_threads(), .naive = 1, .tile = MODEL_TILE_FLOATS, .level_sums = 1};
    cb_opt opts[] = {
        {"net", CB_OPT_STR, &a->net, "NET", "impala (default) or nature", 0},
        {"batch-levels", CB_OPT_INT, &a->L, "L", "levels per batch (default 16)", 0},
        {"batch-frames", CB_OPT_INT, &a->B, "B", "frames per level (default 8)", 0},
        {"steps", CB_OPT_INT, &a->steps, "N", "timed steps per variant (default 5)", 0},
        {"threads", CB_OPT_INT, &a->threads, "T", "threads (default: all cores)", 0},
        {"naive", CB_OPT_INT, &a->naive, "0|1", "also time the reference-style AND-mask step (default 1)", 0},
        {"tile", CB_OPT_I64, &a->tile, "F", "im2col tile limit in floats (default 65536; 0: one tile per chunk)", 0},
        {"level-sums", CB_OPT_INT, &a->level_sums, "0|1",
         "mean, tand, and: reduce the first linear layer's weight gradient over the levels in the backward, as train "
         "does (default 1; 0: every level's gradient written and combined)", 0},
        {"variants", CB_OPT_STR, &a->variants, "LIST",
         "comma-separated steps to time: mean, tand, and, sand, predict (default all; --naive adds the reference-style one)", 0},
    };
    cb_cmd_info info = {"bench train",
                         "Training step speed: mean, tand, AND-mask and SAND-mask steps (forward, one backward pass\n"
                         "with per-level parameter gradients, combine, Adam) and the AND-mask step done reference-style\n"
                         "(one full backward pass per level), the inference forward of 256-frame batches, next to the\n"
                         "machine's sgemm rate. Lines starting 'result ' carry the figures as KEY=VALUE for scripts.\n"
                         "With the environment variable COINBC_OWN_GEMM=0 every product runs on OpenBLAS (on AVX-512\n"
                         "machines with OpenBLAS 0.3.21's SkylakeX kernels coinbc's own GEMM takes most of them, with\n"
                         "the same bits): a build compared with itself.",
                         "coinbc bench train [--net impala|nature] [--batch-levels L] [--batch-frames B] [--steps N]\n"
                         "                   [--variants mean,tand,and,sand,predict]",
                         NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    if (a->L < 1 || a->B < 1 || a->steps < 1 || a->threads < 1 || a->tile < 0)
        return bench_error("bench train", "sizes must be positive"), 2;
    if ((a->naive != 0 && a->naive != 1) || (a->level_sums != 0 && a->level_sums != 1))
        return bench_error("bench train", "--naive and --level-sums take 0 or 1"), 2;
    if (model_net_default(&a->cfg, a->net)) return bench_error("bench train", "unknown --net '%s'", a->net), 2;
    return -1;
}

/* the batch's buffers and the model */
static void free_batch(train_batch *t) {
    free(t->frames), free(t->labels), free(t->grads), free(t->g), free(t->dens);
    free(t->sums.sum), free(t->sums.ssum);
    model_free(&t->m);
}

/* the model (weights from seed 1) and its batch: 0, or the exit status after a message */
static int setup_batch(const train_args *a, train_batch *t) {
    cb_err e = {0};
    memset(t, 0, sizeof *t);
    if (model_init(&t->m, &a->cfg, &e)) return bench_fail("bench train", &e);
    model *m = &t->m;
    model_set_threads(m, a->threads);
    m->tile_floats = (size_t)a->tile;
    cb_rng r;
    cb_rng_seed(&r, 1);
    model_init_params(m, &r);
    int L = a->L, N = a->L * a->B;
    t->frames = malloc((size_t)N * CB_FRAME_BYTES), t->labels = malloc((size_t)N);
    t->grads = malloc(sizeof(float) * m->nparams * (size_t)L), t->g = malloc(sizeof(float) * m->nparams),
    t->dens = malloc(sizeof(float) * (size_t)m->ntensors);
    if (!t->frames || !t->labels || !t->grads || !t->g || !t->dens || model_set_batch_levels(m, L, a->B, &e)) {
        free_batch(t);
        return bench_error("bench train", "out of memory");
    }
    t->sums.tensor = a->level_sums ? model_level_sums_tensor(m, L, a->B) : -1;
    if (t->sums.tensor >= 0) {
        size_t n = m->tensors[t->sums.tensor].size;
        t->sums.sum = malloc(sizeof(double) * n), t->sums.ssum = malloc(sizeof(int32_t) * n);
        if (!t->sums.sum || !t->sums.ssum) {
            free_batch(t);
            return bench_error("bench train", "out of memory");
        }
        t->ls = &t->sums;
    }
    /* frames with some structure (smooth gradients plus noise), labels random */
    for (int s = 0; s < N; s++)
        for (int k = 0; k < 4096; k++)
            for (int c = 0; c < 3; c++)
                t->frames[((size_t)s * 4096 + k) * 3 + c] =
                    (uint8_t)((k % 64) * (c + 1) + (k / 64) * 2 + (int)cb_rng_below(&r, 32));
    for (int i = 0; i < N; i++) t->labels[i] = (uint8_t)cb_rng_below(&r, 15);
    return 0;
}

/* the machine, OpenBLAS's sgemm rates and the net's size; returns the
 * threaded 1024^3 rate, *ff the forward FLOPs per frame */
static double print_machine_rates(const train_args *a, const model *m, double *ff) {
    bench_print_machine();
    printf("openblas: %s\n", openblas_get_config());
    printf("gemm: %s\n", model_own_gemm() ? "coinbc's AVX-512 GEMM (OpenBLAS's bits) for the convolutions and the linear data "
                                               "gradients, OpenBLAS for the rest (COINBC_OWN_GEMM=0: OpenBLAS only)"
                                             : "OpenBLAS for every product");
    int maxc = a->cfg.channels[1] > a->cfg.channels[0] ? a->cfg.channels[1] : a->cfg.channels[0];
    double r1 = sgemm_rate(maxc, 8 * 1024, maxc * 9, 1), r_big = sgemm_rate(1024, 1024, 1024, a->threads);
    double r_big1 = sgemm_rate(1024, 1024, 1024, 1);
    printf("sgemm: %.1f GFLOP/s on 1024^3 with %d threads, %.1f with 1 thread; %.1f GFLOP/s on one thread for a\n"
           "  conv-shaped %dx%dx%d product (one 8-frame chunk)\n",
           r_big, a->threads, r_big1, r1, maxc, 8 * 1024, maxc * 9);
    *ff = forward_flops(m);
    printf("%s: %zu parameters, %.1f MFLOP forward per frame (training ~3x); batch %d levels x %d frames, %d thread%s,\n"
           "  im2col tiles of %s\n", a->net, m->nparams, *ff / 1e6, a->L, a->B, a->threads, a->threads == 1 ? "" : "s",
           a->tile ? "at most the given floats" : "a whole chunk");
    printf("result sgemm threads=%d gflops=%.1f gflops_1thread=%.1f\n", a->threads, r_big, r_big1);
    return r_big;
}

/* the training steps --variants and --naive ask for, a line and a result
 * line each; rate[v] the samples/s of variant v (time_steps' numbering) */
static void time_variants(const train_args *a, train_batch *t, double ff, double r_big, double rate[5]) {
    const char *names[5] = {"mean", "and (tau 0.8)", "sand (tau 0.8, k 1)", "and, reference-style (L full backwards)",
                            "tand (tau 0.5, beta 0.9)"};
    const char *keys[5] = {"mean", "and", "sand", "and-ref", "tand"};
    const int order[5] = {0, 4, 1, 2, 3};
    int L = a->L, B = a->B, N = L * B, steps = a->steps;
    for (int k = 0; k < 5; k++) {
        int v = order[k];
        if (v == 3 ? !a->naive : !has_variant(a->variants, keys[v])) continue;
        phases ph;
        rate[v] = time_steps(&t->m, v, t->frames, t->labels, L, B, v == 3 ? (steps + 1) / 2 : steps, t->grads, t->g,
                             t->dens, t->ls, &ph);
        double flops = ff * N * (v == 3 ? 1 + 2.0 * L : 3.0);
        double step = ph.fwd + ph.bwd + ph.comb + ph.adam;
        printf("  %-40s %7.1f samples/s  %6.3f s/step (forward %.3f, backward %.3f, combine %.3f, adam %.3f)  %.1f GFLOP/s\n",
               names[v], rate[v], step, ph.fwd, ph.bwd, ph.comb, ph.adam, flops / step / 1e9);
        printf("result variant=%s net=%s levels=%d frames=%d threads=%d samples_per_s=%.1f gflops=%.2f sgemm_share=%.3f "
               "forward_s=%.5f backward_s=%.5f combine_s=%.5f adam_s=%.5f\n",
               keys[v], a->net, L, B, a->threads, rate[v], flops / step / 1e9, flops / step / 1e9 / r_big, ph.fwd, ph.bwd,
               ph.comb, ph.adam);
    }
}

/* the validation and eval forward: inference buffers of MODEL_PREDICT_BATCH,
 * the same weights, the batch's frames repeated; nothing printed if a model
 * or buffer cannot be had */
static void time_validation_forward(const train_args *a, const train_batch *t, double ff, double r_big) {
    model p;
    cb_err e = {0};
    if (model_init(&p, &a->cfg, &e)) return;
    memcpy(p.params, t->m.params, sizeof(float) * t->m.nparams);
    model_set_threads(&p, a->threads);
    p.tile_floats = (size_t)a->tile;
    int n = MODEL_PREDICT_BATCH, reps = a->steps < 2 ? 2 : a->steps, N = a->L * a->B;
    uint8_t *pf = malloc((size_t)n * CB_FRAME_BYTES);
    if (pf && model_set_batch(&p, n, &e) == 0) {
        for (int s = 0; s < n; s++)
            memcpy(pf + (size_t)s * CB_FRAME_BYTES, t->frames + (size_t)(s % N) * CB_FRAME_BYTES, CB_FRAME_BYTES);
        double pr = time_predict(&p, pf, n, reps);
        printf("  %-40s %7.1f samples/s  %.1f GFLOP/s\n", "predict (inference forward, batch 256)", pr, pr * ff / 1e9);
        printf("result variant=predict net=%s frames=%d threads=%d samples_per_s=%.1f gflops=%.2f sgemm_share=%.3f\n",
               a->net, n, a->threads, pr, pr * ff / 1e9, pr * ff / 1e9 / r_big);
    }
    free(pf);
    model_free(&p);
}

/* the reference-style ratio and an epoch's cost, from the variants' rates */
static void print_epoch_cost(const train_args *a, const double rate[5]) {
    int N = a->L * a->B;
    if (a->naive && rate[1] > 0 && rate[3] > 0)
        printf("AND-mask with per-level gradients from one backward pass: %.2fx the reference-style step\n", rate[1] / rate[3]);
    if (rate[0] > 0 && rate[1] > 0)
        printf("an epoch of 64 levels x 1000 frames (%d steps of %d): %.0f s with mean, %.0f s with and\n", 64000 / N, N,
               64000.0 / rate[0], 64000.0 / rate[1]);
}

int bench_train(int argc, char **argv) {
    train_args a;
    int rc = parse_train_args(argc, argv, &a);
    if (rc >= 0) return rc;
    train_batch t;
    if ((rc = setup_batch(&a, &t))) return rc;
    double ff, r_big = print_machine_rates(&a, &t.m, &ff), rate[5] = {0};
    time_variants(&a, &t, ff, r_big, rate);
    if (has_variant(a.variants, "predict")) time_validation_forward(&a, &t, ff, r_big);
    print_epoch_cost(&a, rate);
    free_batch(&t);
    return 0;
}
