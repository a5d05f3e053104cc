/* test_speed.c - the fast paths of issue 20 against plain references:
 * k_im2col_phased builds the same im2col tiles as k_im2col of the plain
 * input; k_im2col and k_col2im_add (their fast paths without padding and
 * the general one) equal their definitions, col2im's additions in the
 * general loop's order; the two-group backward of a level of several chunks gives the same
 * bits for any thread count and levels per call, and the level's gradient
 * agrees with the mean of its halves' gradients; a single chunk's step (its
 * forward and backward shared out over two workers) gives the same bits on
 * 1, 2 and 3 threads, call after call, and as the level in a pass over two
 * levels; the AVX Adam and tand
 * updates give the bits of a scalar double-precision Adam written here; the
 * one-level combine keeps the level's gradient as train_combine's general
 * path would; the register-blocked fc weight gradient gives the bits of
 * its definition; the inference forward's larger row blocks give the
 * training forward's probabilities; the phased frame conversion gives
 * its definition's floats. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/kernels.h"
#include "model/model.h"
#include "tests/support/blas.h"
#include "train/train.h"

/* tand's sign moment (train/'s optimizer state, no longer a model array): the
 * 4th array of the test's own arena, after the model's parameters and Adam moments */
#define SIGN_M(mm) ((mm).mem + 3 * (mm).nparams)

/* ---- k_im2col_phased ---------------------------------------------------------- */

static void phased_case(int C, int H, int W, int K, int S, int n, int r0, int r1) {
    int Ho = (H - K) / S + 1, Wo = (W - K) / S + 1;
    size_t cstride = (size_t)n * H * W;
    float *x = malloc(sizeof(float) * C * cstride), *xp = malloc(sizeof(float) * C * cstride);
    size_t cols = (size_t)C * K * K * (r1 - r0) * Wo;
    float *a = malloc(sizeof(float) * cols), *b = malloc(sizeof(float) * cols);
    assert_non_null(x), assert_non_null(xp), assert_non_null(a), assert_non_null(b);
    cb_rng r;
    cb_rng_seed(&r, 11);
    for (size_t i = 0; i < C * cstride; i++) x[i] = cb_rng_uniformf(&r) - 0.5f;
    /* the phased layout, written out from its definition: column x of a row at (x % S) * (W / S) + x / S */
    for (size_t row = 0; row < C * cstride / W; row++)
        for (int q = 0; q < W; q++) xp[row * W + (size_t)(q % S) * (W / S) + q / S] = x[row * W + q];
    memset(a, 0xa5, sizeof(float) * cols), memset(b, 0x5a, sizeof(float) * cols);
    k_im2col(a, x, cstride, C, H, W, K, S, 0, Ho, Wo, r0, r1);
    k_im2col_phased(b, xp, cstride, C, H, W, K, S, Ho, Wo, r0, r1);
    assert_memory_equal(a, b, sizeof(float) * cols);
    free(x), free(xp), free(a), free(b);
}

static void test_im2col_phased(void **st) {
    (void)st;
    phased_case(3, 64, 64, 8, 4, 2, 0, 30);  /* Nature's first convolution, two samples, one tile */
    phased_case(3, 64, 64, 8, 4, 3, 7, 38);  /* a tile starting and ending inside samples */
    phased_case(2, 12, 12, 4, 2, 2, 0, 10);  /* stride 2 */
    phased_case(1, 9, 12, 3, 3, 1, 1, 3);    /* stride 3, W a multiple of S, H not */
}

/* ---- k_im2col and k_col2im_add against their definitions ------------------------ */

static void im2col_case(int C, int H, int W, int K, int S, int P, int n, int r0, int r1) {
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    size_t cstride = (size_t)n * H * W, tc = (size_t)(r1 - r0) * Wo, cols = (size_t)C * K * K * tc;
    float *x = malloc(sizeof(float) * C * cstride), *a = malloc(sizeof(float) * cols), *b = malloc(sizeof(float) * cols);
    float *dx = malloc(sizeof(float) * C * cstride), *dr = malloc(sizeof(float) * C * cstride);
    assert_non_null(x), assert_non_null(a), assert_non_null(b), assert_non_null(dx), assert_non_null(dr);
    cb_rng r;
    cb_rng_seed(&r, 23);
    for (size_t i = 0; i < C * cstride; i++) x[i] = cb_rng_uniformf(&r) - 0.5f;
    for (size_t i = 0; i < cols; i++) b[i] = cb_rng_uniformf(&r) - 0.5f;
    for (size_t i = 0; i < C * cstride; i++) dx[i] = dr[i] = cb_rng_uniformf(&r);
    memset(a, 0xa5, sizeof(float) * cols);
    k_im2col(a, x, cstride, C, H, W, K, S, P, Ho, Wo, r0, r1);
    k_col2im_add(dx, cstride, b, C, H, W, K, S, P, Ho, Wo, r0, r1);
    /* the definitions, in the order (c, ky, kx, tile row, ox) */
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                for (int t = r0; t < r1; t++)
                    for (int ox = 0; ox < Wo; ox++) {
                        int s = t / Ho, iy = (t % Ho) * S - P + ky, ix = ox * S - P + kx;
                        size_t k = ((size_t)(c * K + ky) * K + kx) * tc + (size_t)(t - r0) * Wo + ox;
                        int in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                        float v = in ? x[c * cstride + ((size_t)s * H + iy) * W + ix] : 0.0f;
                        assert_true(memcmp(&a[k], &v, sizeof v) == 0);
                        if (in) dr[c * cstride + ((size_t)s * H + iy) * W + ix] += b[k];
                    }
    assert_memory_equal(dx, dr, sizeof(float) * C * cstride);
    free(x), free(a), free(b), free(dx), free(dr);
}

static void test_im2col_col2im(void **st) {
    (void)st;
    im2col_case(32, 15, 15, 4, 2, 0, 3, 0, 18); /* Nature's second convolution */
    im2col_case(32, 15, 15, 4, 2, 0, 3, 4, 13); /* a tile inside samples */
    im2col_case(64, 6, 6, 3, 1, 0, 2, 1, 8);    /* its third */
    im2col_case(3, 64, 64, 8, 4, 0, 2, 0, 30);  /* its first, from the plain layout */
    im2col_case(2, 13, 11, 3, 3, 0, 2, 0, 8);   /* a stride without a fast path, rows and columns left over */
    im2col_case(4, 9, 9, 3, 2, 1, 2, 0, 10);    /* padding: the general path */
    im2col_case(4, 8, 8, 3, 1, 1, 2, 3, 11);    /* a "same" convolution */
    im2col_case(64, 4, 4, 3, 1, 2, 2, 0, 12);   /* Nature's conv2 data gradient: its output gradient, padding 2 */
    im2col_case(3, 5, 7, 2, 1, 1, 2, 1, 11);    /* padded, stride 1, rows of 8: the short-row path */
    im2col_case(64, 4, 4, 3, 1, 2, 3, 5, 16);
}

/* ---- the two-group backward ----------------------------------------------------- */

static void small_nature(model *m, int threads) {
    model_net_desc cfg;
    cb_err e = {0};
    assert_int_equal(model_net_default(&cfg, "nature"), 0);
    cfg.channels[0] = 4, cfg.channels[1] = 8, cfg.channels[2] = 8, cfg.hidden = 16;
    assert_int_equal(model_init(m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 7);
    model_init_params(m, &r);
    model_set_threads(m, threads);
}

static void test_backward_groups(void **st) {
    (void)st;
    /* B = 48: chunks of 16, three per level, so groups of 1 and 2 chunks */
    const int L = 2, B = 48, N = L * B;
    uint8_t *frames = malloc((size_t)N * CB_FRAME_BYTES), labels[96];
    assert_non_null(frames);
    cb_rng r;
    cb_rng_seed(&r, 9);
    for (size_t i = 0; i < (size_t)N * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)cb_rng_below(&r, 15);
    cb_err e = {0};
    model a, b, h;
    small_nature(&a, 2), small_nature(&b, 1), small_nature(&h, 1);
    assert_int_equal(model_set_batch_levels(&a, L, B, &e), 0);
    assert_int_equal(model_set_batch_levels(&b, 1, B, &e), 0);
    assert_int_equal(a.chunk, 16);
    assert_true(a.nspare >= L); /* levels of three chunks have a second group */
    size_t P = a.nparams;
    float *ga = malloc(sizeof(float) * P * L), *gb = malloc(sizeof(float) * P), *gh = malloc(sizeof(float) * P * 2);
    assert_non_null(ga), assert_non_null(gb), assert_non_null(gh);
    model_forward_u8(&a, frames, N, NULL);
    model_backward(&a, labels, L, B, ga);
    for (int l = 0; l < L; l++) {
        /* one level at a time, one thread: the same bits as two levels on two
         * threads, where the BLAS rounds alike whatever the shape (blas.h) */
        model_forward_u8(&b, frames + (size_t)l * B * CB_FRAME_BYTES, B, NULL);
        model_backward(&b, labels + l * B, 1, B, gb);
        if (test_blas_shape_exact()) assert_memory_equal(gb, ga + (size_t)l * P, sizeof(float) * P);
        /* and the level's gradient is the mean of its two halves' gradients (24 frames each) */
        assert_int_equal(model_set_batch_levels(&h, 2, B / 2, &e), 0);
        model_forward_u8(&h, frames + (size_t)l * B * CB_FRAME_BYTES, B, NULL);
        model_backward(&h, labels + l * B, 2, B / 2, gh);
        double md = 0, mx = 0;
        for (size_t i = 0; i < P; i++) {
            md = fmax(md, fabs(0.5 * ((double)gh[i] + gh[P + i]) - ga[(size_t)l * P + i]));
            mx = fmax(mx, fabs(ga[(size_t)l * P + i]));
        }
        assert_true(mx > 0);
        assert_true(md <= 1e-5 * mx);
    }
    /* a thread count that does not divide the tasks: still the same bits */
    model_set_threads(&a, 3);
    assert_int_equal(model_set_batch_levels(&a, L, B, &e), 0);
    model_forward_u8(&a, frames, N, NULL);
    model_backward(&a, labels, L, B, gh);
    assert_memory_equal(gh, ga, sizeof(float) * P);
    /* model_backward with fewer levels than the batch was set for (another
     * shape of the same products: blas.h) */
    model_backward(&a, labels, 1, B, gb);
    if (test_blas_shape_exact()) assert_memory_equal(gb, ga, sizeof(float) * P);
    model_free(&a), model_free(&b), model_free(&h);
    free(frames), free(ga), free(gb), free(gh);
}

/* ---- the single-chunk step on two workers ---------------------------------------- */

/* "nature" at its full size (its data path takes long enough that a
 * parameter task that did not wait for it would read gradients not yet
 * written), "small-nature" and "impala" small */
static void small_net(model_net_desc *cfg, const char *net) {
    int small = strcmp(net, "nature") != 0;
    assert_int_equal(model_net_default(cfg, strstr(net, "nature") ? "nature" : net), 0);
    if (cfg->kind == MODEL_NATURE && small) cfg->channels[0] = 4, cfg->channels[1] = 8, cfg->channels[2] = 8, cfg->hidden = 16;
    if (cfg->kind == MODEL_IMPALA) cfg->channels[0] = 4, cfg->channels[1] = 6, cfg->channels[2] = 6, cfg->hidden = 16;
}

/* one level of B frames (a single chunk) forward and backward on `threads`
 * threads: the forward's convolutions shared out by tiles, the backward's
 * data and parameter gradients on two workers (model/net.c forward_single,
 * backward_split); logits into z, the gradient into g */
/* net (small_net's) with seed 11's parameters on `threads` threads */
static void init_net(model *m, const char *net, int threads) {
    model_net_desc cfg;
    cb_err e = {0};
    small_net(&cfg, net);
    assert_int_equal(model_init(m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 11);
    model_init_params(m, &r);
    model_set_threads(m, threads);
}

static void single_chunk_step(const char *net, int threads, int B, const uint8_t *frames, const uint8_t *labels,
                              float *z, float *g) {
    model m;
    cb_err e = {0};
    init_net(&m, net, threads);
    assert_int_equal(model_set_batch_levels(&m, 1, B, &e), 0);
    assert_int_equal(m.chunk, B); /* one chunk: the paths under test */
    for (int rep = 0; rep < 3; rep++) { /* the same bits every time, with the helpers' timing changing */
        model_forward_u8(&m, frames, B, z);
        model_backward(&m, labels, 1, B, g);
        if (rep == 0) continue;
        float *z2 = malloc(sizeof(float) * B * CB_NUM_ACTIONS), *g2 = malloc(sizeof(float) * m.nparams);
        assert_non_null(z2), assert_non_null(g2);
        model_forward_u8(&m, frames, B, z2);
        model_backward(&m, labels, 1, B, g2);
        assert_memory_equal(z2, z, sizeof(float) * B * CB_NUM_ACTIONS);
        assert_memory_equal(g2, g, sizeof(float) * m.nparams);
        free(z2), free(g2);
    }
    /* an inference batch of one chunk (a rollout's few frames) */
    assert_int_equal(model_set_batch(&m, B < 8 ? B : 8, &e), 0);
    float *zi = malloc(sizeof(float) * B * CB_NUM_ACTIONS);
    assert_non_null(zi);
    model_forward_u8(&m, frames, B < 8 ? B : 8, zi);
    for (int i = 0; i < (B < 8 ? B : 8) * CB_NUM_ACTIONS; i++) assert_true(fabsf(zi[i] - z[i]) <= 1e-4f * (1 + fabsf(z[i])));
    free(zi);
    model_free(&m);
}

/* level 0's gradient and logits in a joint pass over two levels of B frames
 * (level 1: the frames in reverse order), on 2 threads: the multi-chunk
 * paths, which a rank of an MPI run with more levels takes */
static void joint_pass_level0(const char *net, int B, const uint8_t *frames, const uint8_t *labels, float *z, float *g) {
    model m;
    cb_err e = {0};
    init_net(&m, net, 2);
    assert_int_equal(model_set_batch_levels(&m, 2, B, &e), 0);
    uint8_t *f2 = malloc((size_t)2 * B * CB_FRAME_BYTES), l2[32];
    float *z2 = malloc(sizeof(float) * 2 * B * CB_NUM_ACTIONS), *g2 = malloc(sizeof(float) * 2 * m.nparams);
    assert_non_null(f2), assert_non_null(z2), assert_non_null(g2);
    memcpy(f2, frames, (size_t)B * CB_FRAME_BYTES);
    for (int i = 0; i < B; i++) {
        memcpy(f2 + (size_t)(B + i) * CB_FRAME_BYTES, frames + (size_t)(B - 1 - i) * CB_FRAME_BYTES, CB_FRAME_BYTES);
        l2[i] = labels[i], l2[B + i] = labels[B - 1 - i];
    }
    model_forward_u8(&m, f2, 2 * B, z2);
    model_backward(&m, l2, 2, B, g2);
    memcpy(z, z2, sizeof(float) * B * CB_NUM_ACTIONS);
    memcpy(g, g2, sizeof(float) * m.nparams);
    free(f2), free(z2), free(g2);
    model_free(&m);
}

static void test_single_chunk_two_workers(void **st) {
    (void)st;
    const char *nets[] = {"nature", "small-nature", "impala"};
    const int Bs[] = {16, 5};
    cb_rng r;
    cb_rng_seed(&r, 13);
    uint8_t *frames = malloc((size_t)16 * CB_FRAME_BYTES), labels[16];
    assert_non_null(frames);
    for (size_t i = 0; i < (size_t)16 * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < 16; i++) labels[i] = (uint8_t)cb_rng_below(&r, 15);
    for (int n = 0; n < 3; n++)
        for (int b = 0; b < 2; b++) {
            int B = Bs[b];
            float z1[16 * 15], z2[16 * 15], z3[16 * 15];
            model probe;
            model_net_desc cfg;
            cb_err e = {0};
            small_net(&cfg, nets[n]);
            assert_int_equal(model_plan(&probe, &cfg, &e), 0);
            size_t P = probe.nparams;
            float *g1 = malloc(sizeof(float) * P), *g2 = malloc(sizeof(float) * P), *g3 = malloc(sizeof(float) * P);
            assert_non_null(g1), assert_non_null(g2), assert_non_null(g3);
            single_chunk_step(nets[n], 1, B, frames, labels, z1, g1); /* one worker: the chunk's plain path */
            single_chunk_step(nets[n], 2, B, frames, labels, z2, g2);
            single_chunk_step(nets[n], 3, B, frames, labels, z3, g3);
            assert_memory_equal(z2, z1, sizeof(float) * B * 15);
            assert_memory_equal(z3, z1, sizeof(float) * B * 15);
            assert_memory_equal(g2, g1, sizeof(float) * P);
            assert_memory_equal(g3, g1, sizeof(float) * P);
            /* and the same bits as that level in a pass over two levels (the
             * fc layer in column halves here, whole there: it rests on OpenBLAS
             * summing each output in the same order whatever the columns) */
            joint_pass_level0(nets[n], B, frames, labels, z3, g3);
            if (test_blas_shape_exact()) {
                assert_memory_equal(z3, z1, sizeof(float) * B * 15);
                assert_memory_equal(g3, g1, sizeof(float) * P);
            }
            double mx = 0;
            for (size_t i = 0; i < P; i++) mx = fmax(mx, fabs(g1[i]));
            assert_true(mx > 0);
            free(g1), free(g2), free(g3);
        }
    free(frames);
}

/* ---- Adam and tand against a scalar reference --------------------------------------- */

/* The update of train/train.h in plain double precision, one parameter at a time. */
static void ref_adam(float *w, float *mo, float *vo, const float *g, size_t n, double lr, double b1, int64_t t, double wd,
                     int mode, const float *sm_after, double tau) {
    double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(0.999, (double)t);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        if (mode == TRAIN_WD_L2) gi += wd * w[i];
        mo[i] = (float)(b1 * mo[i] + (1 - b1) * gi);
        vo[i] = (float)(0.999 * vo[i] + (1 - 0.999) * gi * gi);
        double step = lr * (mo[i] / c1) / (sqrt(vo[i] / c2) + 1e-8);
        if (sm_after && !(fabs((double)sm_after[i]) >= tau)) step = 0;
        if (mode == TRAIN_WD_DECOUPLED) step += lr * wd * w[i];
        w[i] = (float)(w[i] - step);
    }
}

static void fill(float *v, size_t n, cb_rng *r, float scale, int zeros) {
    for (size_t i = 0; i < n; i++) v[i] = zeros && cb_rng_below(r, 8) == 0 ? 0.0f : (cb_rng_uniformf(r) - 0.5f) * scale;
}

/* ---- k_linear_backward_params against its definition ---------------------------- */

/* gw[o][d] = dout[0][o] in[0][d] (or old + it), then + dout[r][o] in[r][d] for r
 * ascending, a product and a sum each; gb the column sums in row order */
static void linear_params_case(int N, int Din, int Dout, int acc) {
    cb_rng r;
    cb_rng_seed(&r, 17);
    float *dout = malloc(sizeof(float) * N * Dout), *in = malloc(sizeof(float) * N * Din);
    float *gw = malloc(sizeof(float) * Dout * Din), *rw = malloc(sizeof(float) * Dout * Din);
    float *gb = malloc(sizeof(float) * Dout), *rb = malloc(sizeof(float) * Dout);
    assert_non_null(dout), assert_non_null(in), assert_non_null(gw), assert_non_null(rw), assert_non_null(gb), assert_non_null(rb);
    fill(dout, (size_t)N * Dout, &r, 2, 1);
    fill(in, (size_t)N * Din, &r, 3, 1);
    fill(gw, (size_t)Dout * Din, &r, 1, 0);
    fill(gb, (size_t)Dout, &r, 1, 0);
    memcpy(rw, gw, sizeof(float) * Dout * Din);
    memcpy(rb, gb, sizeof(float) * Dout);
    for (int o = 0; o < Dout; o++) {
        for (int d = 0; d < Din; d++) {
            volatile float v = acc ? rw[(size_t)o * Din + d] : 0.0f;
            for (int q = 0; q < N; q++) {
                volatile float p = dout[(size_t)q * Dout + o] * in[(size_t)q * Din + d];
                v = (q == 0 && !acc) ? p : v + p;
            }
            rw[(size_t)o * Din + d] = v;
        }
        float sb = acc ? rb[o] : 0.0f;
        for (int q = 0; q < N; q++) sb += dout[(size_t)q * Dout + o];
        rb[o] = sb;
    }
    k_linear_backward_params(gw, gb, dout, in, N, Din, Dout, acc);
    assert_memory_equal(rw, gw, sizeof(float) * Dout * Din);
    assert_memory_equal(rb, gb, sizeof(float) * Dout);
    free(dout), free(in), free(gw), free(rw), free(gb), free(rb);
}

static void test_linear_params_matches_scalar(void **st) {
    (void)st;
    linear_params_case(32, 1024, 512, 0); /* Nature's fc layer, a group of two chunks */
    linear_params_case(16, 512, 15, 0);   /* the logits layer: Dout not a multiple of 4 */
    linear_params_case(7, 37, 9, 0);      /* Din not a multiple of 16 */
    linear_params_case(5, 40, 6, 1);      /* adding into an old gradient */
    linear_params_case(1, 16, 4, 0);      /* one row */
    linear_params_case(1, 19, 5, 1);
}

static void test_adam_matches_scalar(void **st) {
    (void)st;
    const size_t P = 70003; /* two blocks, an odd tail */
    cb_rng r;
    cb_rng_seed(&r, 13);
    float *g = malloc(sizeof(float) * P), *ref = malloc(sizeof(float) * P * 3);
    assert_non_null(g), assert_non_null(ref);
    const int modes[2] = {TRAIN_WD_L2, TRAIN_WD_DECOUPLED};
    for (int mi = 0; mi < 4; mi++) { /* each mode with the default beta1 0.9, then with --beta1 0.5 */
        int mode = modes[mi % 2];
        double b1 = mi < 2 ? 0.9 : 0.5;
        model m;
        memset(&m, 0, sizeof m);
        m.nparams = P;
        m.mem = calloc(P * 4, sizeof(float));
        assert_non_null(m.mem);
        m.params = m.mem, m.adam_m = m.mem + P, m.adam_v = m.mem + 2 * P;
        m.threads = 2;
        fill(m.params, P, &r, 2, 0);
        memcpy(ref, m.params, sizeof(float) * P);
        memset(ref + P, 0, sizeof(float) * 2 * P);
        for (int64_t t = 1; t <= 3; t++) {
            fill(g, P, &r, t == 3 ? 1e-3f : 1.0f, 1);
            if (mi < 2) train_adam_step(&m, g, 1e-3, t, 1e-2, mode);
            else train_adam_step_b1(&m, g, 1e-3, b1, t, 1e-2, mode);
            ref_adam(ref, ref + P, ref + 2 * P, g, P, 1e-3, b1, t, 1e-2, mode, NULL, 0);
            assert_memory_equal(ref, m.params, sizeof(float) * P * 3);
        }
        free(m.mem);
    }
    free(g), free(ref);
}

static void test_tand_matches_scalar(void **st) {
    (void)st;
    const size_t P = 70005;
    const model_tensor T[2] = {{"a.w", 0, 40001, 1}, {"b.w", 40001, 30004, 1}};
    cb_rng r;
    cb_rng_seed(&r, 17);
    float *g = malloc(sizeof(float) * P), *ref = malloc(sizeof(float) * P * 4);
    assert_non_null(g), assert_non_null(ref);
    const int modes[2] = {TRAIN_WD_L2, TRAIN_WD_DECOUPLED};
    for (int mi = 0; mi < 4; mi++) { /* each mode with the default beta1 0.9, then with --beta1 0.3 */
        int mode = modes[mi % 2];
        double b1 = mi < 2 ? 0.9 : 0.3;
        model m;
        memset(&m, 0, sizeof m);
        m.nparams = P;
        m.ntensors = 2;
        memcpy(m.tensors, T, sizeof T);
        m.mem = calloc(P * 4, sizeof(float));
        assert_non_null(m.mem);
        m.params = m.mem, m.adam_m = m.mem + P, m.adam_v = m.mem + 2 * P;
        m.threads = 2;
        fill(m.params, P, &r, 2, 0);
        memcpy(ref, m.params, sizeof(float) * P);
        memset(ref + P, 0, sizeof(float) * 3 * P);
        const double beta = 0.7, tau = 0.6;
        for (int64_t t = 1; t <= 4; t++) {
            fill(g, P, &r, 1.0f, 1);
            float dens[2];
            if (mi < 2) train_tand_step(&m, SIGN_M(m), dens, g, 1e-3, t, 1e-2, mode, tau, beta);
            else train_tand_step_b1(&m, SIGN_M(m), dens, g, 1e-3, b1, t, 1e-2, mode, tau, beta);
            /* the sign moment by its definition, then Adam under its mask */
            double k = (1 - beta) / (1 - pow(beta, (double)t));
            float *sm = ref + 3 * P;
            size_t on[2] = {0, 0};
            for (size_t i = 0; i < P; i++) {
                double sg = (g[i] > 0) - (g[i] < 0);
                sm[i] = (float)(sm[i] + (sg - sm[i]) * k);
                on[i >= T[1].off] += fabs((double)sm[i]) >= tau;
            }
            ref_adam(ref, ref + P, ref + 2 * P, g, P, 1e-3, b1, t, 1e-2, mode, sm, tau);
            assert_memory_equal(ref, m.params, sizeof(float) * P * 4);
            for (int q = 0; q < 2; q++) assert_true(dens[q] == (float)((double)on[q] / (double)T[q].size));
        }
        free(m.mem);
    }
    free(g), free(ref);
}

/* ---- the one-level combine ------------------------------------------------------- */

/* The split combine (mean, AND: sums and sign sums level-major, vectorized)
 * against its definition element by element: each parameter's levels added
 * in level order in double, the AND mask from the sign sum, no rescale; a
 * tail of the sub-block and signed zeros included. */
static void test_combine_split_matches_definition(void **st) {
    (void)st;
    const int L = 7;
    const size_t P = 9001;
    const model_tensor T[2] = {{"a.w", 0, 5003, 1}, {"b.w", 5003, 3998, 1}};
    cb_rng r;
    cb_rng_seed(&r, 29);
    float *g = malloc(sizeof(float) * P * L), *out = malloc(sizeof(float) * P);
    assert_non_null(g), assert_non_null(out);
    fill(g, P * L, &r, 1.0f, 1);
    for (size_t i = 0; i < P * L; i += 97) g[i] = -0.0f;
    for (size_t i = 0; i < P; i++) g[i] = fabsf(g[i]) + (i % 3 == 0 ? 1e-3f : 0.0f); /* level 0 positive: some masks on */
    for (int k = 0; k < 2; k++) {
        train_combine_opts o = {.method = k ? TRAIN_AND : TRAIN_MEAN, .tau = 0.5, .sand_k = 1, .rescale = 0, .threads = 2};
        float d[2];
        cb_err e = {0};
        assert_int_equal(train_combine(out, d, g, L, P, T, 2, &o, &e), 0);
        for (size_t i = 0; i < P; i++) {
            double sum = 0;
            int ss = 0;
            for (int l = 0; l < L; l++) {
                float v = g[(size_t)l * P + i];
                sum += v;
                ss += (v > 0) - (v < 0);
            }
            double mask = k == 0 ? 1.0 : (fabs((double)ss) / L >= 0.5 ? 1.0 : 0.0);
            float want = (float)(k == 0 ? sum / L : mask * (sum / L));
            assert_memory_equal(&want, &out[i], sizeof want);
        }
    }
    g[3 * P + 5003 + 3997] = INFINITY; /* the last parameter, in the scalar tail */
    train_combine_opts o = {.method = TRAIN_AND, .tau = 0.5, .threads = 2};
    cb_err e = {0};
    assert_int_equal(train_combine(out, NULL, g, L, P, T, 2, &o, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 3"));
    assert_non_null(strstr(e.msg, "b.w"));
    g[3 * P + 5003 + 3997] = 0;
    g[5 * P + 17] = NAN; /* in a vector lane */
    assert_int_equal(train_combine(out, NULL, g, L, P, T, 2, &o, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 5"));
    assert_non_null(strstr(e.msg, "a.w"));
    free(g), free(out);
}

static void test_combine_one_level(void **st) {
    (void)st;
    const size_t P = 20011;
    const model_tensor T[2] = {{"a.w", 0, 12000, 1}, {"b.w", 12000, 8011, 1}};
    cb_rng r;
    cb_rng_seed(&r, 19);
    float *g2 = malloc(sizeof(float) * P * 2), *o1 = malloc(sizeof(float) * P), *o2 = malloc(sizeof(float) * P);
    assert_non_null(g2), assert_non_null(o1), assert_non_null(o2);
    fill(g2, P, &r, 1.0f, 1);
    g2[5] = -0.0f, g2[12001] = -0.0f, g2[7] = 1e-30f;
    memcpy(g2 + P, g2, sizeof(float) * P); /* two equal levels: the general path's mean and signs are those of one */
    const int methods[3] = {TRAIN_MEAN, TRAIN_AND, TRAIN_TAND};
    const double taus[2] = {0.8, 0};
    for (int k = 0; k < 3; k++)
        for (int q = 0; q < 2; q++)
            for (int rescale = 0; rescale < 2; rescale++) {
                train_combine_opts o = {.method = methods[k], .tau = taus[q], .sand_k = 1, .rescale = rescale, .threads = 2};
                float d1[2], d2[2];
                cb_err e = {0};
                memset(o1, 0x7f, sizeof(float) * P), memset(o2, 0x11, sizeof(float) * P);
                assert_int_equal(train_combine(o1, d1, g2, 1, P, T, 2, &o, &e), 0);
                assert_int_equal(train_combine(o2, d2, g2, 2, P, T, 2, &o, &e), 0);
                assert_memory_equal(o1, o2, sizeof(float) * P);
                assert_memory_equal(d1, d2, sizeof d1);
                assert_true(signbit(o1[5]) == 0); /* the sum 0.0 + -0.0 */
            }
    /* a non-finite value is still refused, naming level 0 and the tensor */
    g2[12005] = NAN;
    train_combine_opts o = {.method = TRAIN_MEAN, .threads = 2};
    cb_err e = {0};
    assert_int_equal(train_combine(o1, NULL, g2, 1, P, T, 2, &o, &e), CB_ERANGE);
    assert_non_null(strstr(e.msg, "level 0"));
    assert_non_null(strstr(e.msg, "b.w"));
    free(g2), free(o1), free(o2);
}

/* ---- the frame conversion of Nature's first convolution --------------------
 * k_frame_row_phased4 against its definition: every byte value, in every
 * channel and column */
static void test_frame_row_phased4(void **st) {
    (void)st;
    uint8_t row[64 * 3];
    float got[3 * 80], want[3 * 80];
    for (int rep = 0; rep < 4; rep++) {
        for (int i = 0; i < 64 * 3; i++) row[i] = (uint8_t)((i * 67 + rep * 192) & 255); /* 4 x 192 covers 0..255 */
        memset(got, 0x55, sizeof got), memset(want, 0x55, sizeof want);
        for (int ch = 0; ch < 3; ch++)
            for (int x = 0; x < 64; x++) want[ch * 80 + (x % 4) * 16 + x / 4] = (float)row[x * 3 + ch] * (1.0f / 255.0f);
        k_frame_row_phased4(got, 80, row); /* channel rows 80 floats apart: the gaps stay untouched */
        assert_memory_equal(got, want, sizeof got);
    }
}

/* ---- inference blocks ----------------------------------------------------------
 * The inference buffers take the hidden linear layers in blocks of up to
 * MODEL_PREDICT_ROW_BLOCK rows (training: MODEL_ROW_BLOCK): model_predict
 * over a full batch gives the probabilities of the training buffers'
 * forward, bit for bit where the BLAS rounds independently of the row count
 * (blas.h), and the same bits on 1 and 2 threads everywhere. */
static void test_predict_row_blocks(void **st) {
    (void)st;
    model_net_desc cfg;
    cb_err e = {0};
    assert_int_equal(model_net_default(&cfg, "nature"), 0);
    model a, b;
    assert_int_equal(model_init(&a, &cfg, &e), 0);
    assert_int_equal(model_init(&b, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 17);
    model_init_params(&a, &r);
    memcpy(b.params, a.params, sizeof(float) * a.nparams);
    const int n = MODEL_PREDICT_BATCH;
    uint8_t *frames = malloc((size_t)n * CB_FRAME_BYTES);
    float *p1 = malloc(sizeof(float) * n * CB_NUM_ACTIONS), *p2 = malloc(sizeof(float) * n * CB_NUM_ACTIONS);
    assert_non_null(frames), assert_non_null(p1), assert_non_null(p2);
    for (size_t i = 0; i < (size_t)n * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_below(&r, 256);
    for (int threads = 1; threads <= 2; threads++) {
        model_set_threads(&a, threads);
        model_predict_io io = {.probs = threads == 1 ? p1 : p2};
        assert_int_equal(model_predict(&a, frames, n, &io, &e), 0);
    }
    assert_memory_equal(p1, p2, sizeof(float) * n * CB_NUM_ACTIONS);
    model_set_threads(&b, 2);
    assert_int_equal(model_set_batch_levels(&b, n / 8, 8, &e), 0); /* training buffers: blocks of 32 rows */
    model_forward_u8(&b, frames, n, NULL);
    if (test_blas_shape_exact()) {
        assert_memory_equal(p1, b.probs, sizeof(float) * n * CB_NUM_ACTIONS);
    } else {
        for (int i = 0; i < n * CB_NUM_ACTIONS; i++) assert_true(fabsf(p1[i] - b.probs[i]) <= 1e-5f);
    }
    free(frames), free(p1), free(p2);
    model_free(&a);
    model_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col_phased),
        cmocka_unit_test(test_im2col_col2im),
        cmocka_unit_test(test_backward_groups),
        cmocka_unit_test(test_single_chunk_two_workers),
        cmocka_unit_test(test_linear_params_matches_scalar),
        cmocka_unit_test(test_adam_matches_scalar),
        cmocka_unit_test(test_tand_matches_scalar),
        cmocka_unit_test(test_combine_one_level),
        cmocka_unit_test(test_combine_split_matches_definition),
        cmocka_unit_test(test_predict_row_blocks),
        cmocka_unit_test(test_frame_row_phased4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
