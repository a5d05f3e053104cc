/* test_gemm512.c - model/gemm512.c's AVX-512 GEMM against OpenBLAS, the
 * reference it stands in for: on every shape where k512_gemm_ok lets it
 * (the nets' own convolution shapes and a sweep of M, N and K across
 * OpenBLAS's K chunk boundaries 448 and 896, plain and transposed A, beta 0
 * and 1, a bias, leading dimensions wider than the matrix, data with zeros
 * and negative zeros), each element has cblas_sgemm's bits; so do the
 * convolutions' weight gradients made as gw^T = col dout^T, stored
 * transposed; the small-matrix
 * path (M N K up to 100^3), and K above 448 while OpenBLAS runs on more
 * than one thread, are left to OpenBLAS; and whole Nature and IMPALA
 * steps (forward, backward, inference) give the same logits and gradients
 * with it and without it. On a machine where it is not used (no AVX-512,
 * other OpenBLAS kernels) the comparisons are skipped, and the steps run
 * the OpenBLAS path twice. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <cmocka.h>

#include "common/common.h"
#include "model/kernels.h"
#include "model/model.h"

/* uniform in [-0.5, 0.5), one in eight a zero, one in 64 a negative zero */
static void fill(float *x, size_t n, cb_rng *r) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = cb_rng_u32(r);
        x[i] = (u & 7) == 0 ? ((u & 0x38) == 0 ? -0.0f : 0.0f) : cb_rng_uniformf(r) - 0.5f;
    }
}

/* one call both ways; returns the number of elements that differ */
static long one_case(int M, int N, int K, int ta, int beta, int bias, int ldc_pad, int ldb_pad, cb_rng *r) {
    int lda = ta ? M + 3 : K + 5, ldb = N + ldb_pad, ldc = N + ldc_pad;
    size_t asz = ta ? (size_t)K * lda : (size_t)M * lda;
    float *a = malloc(sizeof(float) * asz), *b = malloc(sizeof(float) * (size_t)K * ldb);
    float *c1 = malloc(sizeof(float) * (size_t)M * ldc), *c2 = malloc(sizeof(float) * (size_t)M * ldc);
    float *bv = malloc(sizeof(float) * M);
    assert_non_null(a), assert_non_null(b), assert_non_null(c1), assert_non_null(c2), assert_non_null(bv);
    fill(a, asz, r), fill(b, (size_t)K * ldb, r), fill(c1, (size_t)M * ldc, r), fill(bv, M, r);
    memcpy(c2, c1, sizeof(float) * (size_t)M * ldc);
    if (bias)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) c1[(size_t)i * ldc + j] = bv[i];
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, lda, b, ldb,
                bias || beta ? 1.0f : 0.0f, c1, ldc);
    k512_gemm(c2, ldc, a, lda, ta, b, ldb, M, N, K, beta, bias ? bv : NULL);
    long d = 0;
    for (size_t i = 0; i < (size_t)M * ldc; i++) d += memcmp(&c1[i], &c2[i], sizeof(float)) != 0;
    if (d)
        fprintf(stderr, "M=%d N=%d K=%d ta=%d beta=%d bias=%d ldc=%d ldb=%d: %ld of %zu differ\n", M, N, K, ta, beta,
                bias, ldc, ldb, d, (size_t)M * ldc);
    free(a), free(b), free(c1), free(c2), free(bv);
    return d;
}

static int enabled(void) {
    if (k512_gemm_enabled()) return 1;
    printf("note: the AVX-512 GEMM is not used on this machine (CPU or OpenBLAS): nothing to compare\n");
    return 0;
}

/* the forward and data-gradient GEMMs of Nature and IMPALA at the tile
 * sizes the default im2col tile gives, and a few batches */
static void test_net_shapes(void **st) {
    (void)st;
    if (!enabled()) skip();
    static const int shapes[][4] = {
        /* M, N, K, ta */
        {32, 330, 192, 0}, {32, 225, 192, 0}, {64, 126, 512, 0}, {64, 36, 512, 0}, {64, 112, 576, 0},
        {64, 32, 576, 0},  {512, 126, 64, 1}, {576, 112, 64, 1}, {16, 2368, 27, 0}, {16, 1024, 144, 0},
        {32, 455, 144, 0}, {32, 512, 288, 0}, {32, 128, 288, 0}, {16, 4096, 144, 1}, {144, 1024, 16, 1},
        {64, 3136, 512, 0}, {64, 1568, 512, 0}, {8, 3136, 512, 0}, {128, 2048, 256, 0}, /* the linear layers' data gradients */
    };
    cb_rng r;
    cb_rng_seed(&r, 3);
    long bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2], ta = shapes[i][3];
        if (!k512_gemm_ok(M, N, K)) continue;
        bad += one_case(M, N, K, ta, 1, 1, 0, 0, &r); /* a forward convolution: the bias as C0 */
        bad += one_case(M, N, K, ta, 0, 0, 7, 0, &r);
        bad += one_case(M, N, K, ta, 1, 0, 0, 9, &r);
    }
    assert_int_equal(bad, 0);
}

/* M from 1 to 80 (the row tails), N across the 48, 32, 16 column tiles,
 * K on both sides of 448 and 896 (OpenBLAS's chunk boundaries) */
static void test_sweep(void **st) {
    (void)st;
    if (!enabled()) skip();
    static const int Ms[] = {1, 3, 8, 13, 16, 24, 40, 64, 72, 80};
    static const int Ns[] = {1, 7, 16, 17, 31, 33, 47, 48, 49, 95, 130, 257, 400};
    static const int Ks[] = {1, 5, 16, 100, 384, 385, 447, 448, 449, 480, 500, 767, 895, 896, 897, 1000, 1400};
    cb_rng r;
    cb_rng_seed(&r, 5);
    long bad = 0, ran = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                if (!k512_gemm_ok(M, N, K)) continue;
                int v = (int)(cb_rng_u32(&r) % 4);
                bad += one_case(M, N, K, v & 1, v >> 1, 0, (int)(cb_rng_u32(&r) % 3), (int)(cb_rng_u32(&r) % 3), &r);
                ran++;
            }
    assert_true(ran > 200);
    assert_int_equal(bad, 0);
}

/* k_conv_backward_params with scratch (gw^T = col dout^T on the AVX-512
 * GEMM, stored transposed) against it without (cblas_sgemm's gw = dout
 * col^T): the nets' weight-gradient tiles and a sweep, written (acc 0) and
 * added to (acc 1); returns the number of differing elements */
static long params_case(int Cout, int CKK, int cols, int acc, cb_rng *r) {
    int ldd = cols + 11;
    float *dout = malloc(sizeof(float) * (size_t)Cout * ldd), *col = malloc(sizeof(float) * (size_t)CKK * cols);
    float *g1 = malloc(sizeof(float) * (size_t)Cout * CKK), *g2 = malloc(sizeof(float) * (size_t)Cout * CKK);
    float *scratch = malloc(sizeof(float) * (size_t)Cout * cols);
    assert_non_null(dout), assert_non_null(col), assert_non_null(g1), assert_non_null(g2), assert_non_null(scratch);
    fill(dout, (size_t)Cout * ldd, r), fill(col, (size_t)CKK * cols, r), fill(g1, (size_t)Cout * CKK, r);
    memcpy(g2, g1, sizeof(float) * (size_t)Cout * CKK);
    k_conv_backward_params(g1, dout, ldd, col, Cout, CKK, cols, acc, NULL, 0);
    k_conv_backward_params(g2, dout, ldd, col, Cout, CKK, cols, acc, scratch, (size_t)Cout * cols);
    long d = 0;
    for (size_t i = 0; i < (size_t)Cout * CKK; i++) d += memcmp(&g1[i], &g2[i], sizeof(float)) != 0;
    if (d) fprintf(stderr, "weight gradient Cout=%d CKK=%d cols=%d acc=%d: %ld differ\n", Cout, CKK, cols, acc, d);
    free(dout), free(col), free(g1), free(g2), free(scratch);
    return d;
}

static void test_weight_gradients(void **st) {
    (void)st;
    if (!enabled()) skip();
    static const int shapes[][3] = {
        /* Cout, CKK, cols */
        {32, 192, 330}, {32, 192, 300}, {64, 512, 126}, {64, 512, 72}, {64, 576, 108}, {64, 576, 36},
        {16, 27, 2368}, {16, 144, 1024}, {32, 144, 455}, {32, 288, 512}, {64, 576, 960}, {13, 77, 1200},
        {40, 100, 449}, {24, 33, 2000},
    };
    cb_rng r;
    cb_rng_seed(&r, 13);
    long bad = 0, ran = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (!k512_gemm_ok(shapes[i][0], shapes[i][1], shapes[i][2])) continue;
        for (int acc = 0; acc < 2; acc++) bad += params_case(shapes[i][0], shapes[i][1], shapes[i][2], acc, &r), ran++;
    }
    assert_true(ran >= 20);
    assert_int_equal(bad, 0);
}

/* where OpenBLAS takes its small-matrix path the kernel is not used */
static void test_small_path_left_to_openblas(void **st) {
    (void)st;
    if (!enabled()) skip();
    assert_false(k512_gemm_ok(100, 100, 100));
    assert_true(k512_gemm_ok(100, 100, 101));
    assert_false(k512_gemm_ok(64, 16, 576));  /* Nature's third convolution on one frame */
    assert_false(k512_gemm_ok(0, 100, 100000));
    assert_int_equal(k512_gemm_use(0), 0);
    assert_false(k512_gemm_ok(64, 126, 512));
    assert_int_equal(k512_gemm_use(1), 1);
    assert_true(k512_gemm_ok(64, 126, 512));
    /* OpenBLAS on two threads halves K differently above 448 */
    openblas_set_num_threads(2);
    assert_false(k512_gemm_ok(64, 126, 512));
    assert_true(k512_gemm_ok(64, 126, 448));
    openblas_set_num_threads(1);
}

/* net at full size, seed 7's parameters: the logits and gradient of one
 * level of B frames on 2 threads, and the logits of an inference batch of
 * 256 */
static void net_step(const char *net, int B, const uint8_t *frames, const uint8_t *labels, float *z, float *g,
                     float *zi) {
    model m;
    model_net_desc cfg;
    cb_err e = {0};
    assert_int_equal(model_net_default(&cfg, net), 0);
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 7);
    model_init_params(&m, &r);
    model_set_threads(&m, 2);
    assert_int_equal(model_set_batch_levels(&m, 1, B, &e), 0);
    model_forward_u8(&m, frames, B, z);
    model_backward(&m, labels, 1, B, g);
    assert_int_equal(model_set_batch(&m, 256, &e), 0);
    model_forward_u8(&m, frames, 256, zi);
    model_free(&m);
}

static void same_bits_both_ways(const char *net, int B) {
    uint8_t *frames = malloc((size_t)256 * CB_FRAME_BYTES), labels[256];
    assert_non_null(frames);
    cb_rng r;
    cb_rng_seed(&r, 9);
    for (size_t i = 0; i < (size_t)256 * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < 256; i++) labels[i] = (uint8_t)(cb_rng_u32(&r) % CB_NUM_ACTIONS);
    model m;
    model_net_desc cfg;
    cb_err e = {0};
    assert_int_equal(model_net_default(&cfg, net), 0);
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    size_t np = m.nparams;
    model_free(&m);
    size_t nz = (size_t)B * CB_NUM_ACTIONS, nzi = (size_t)256 * CB_NUM_ACTIONS;
    float *z[2], *g[2], *zi[2];
    for (int w = 0; w < 2; w++) {
        z[w] = malloc(sizeof(float) * nz), g[w] = malloc(sizeof(float) * np), zi[w] = malloc(sizeof(float) * nzi);
        assert_non_null(z[w]), assert_non_null(g[w]), assert_non_null(zi[w]);
    }
    int on = k512_gemm_enabled();
    k512_gemm_use(0);
    net_step(net, B, frames, labels, z[0], g[0], zi[0]);
    k512_gemm_use(1);
    net_step(net, B, frames, labels, z[1], g[1], zi[1]);
    k512_gemm_use(on);
    assert_memory_equal(z[0], z[1], sizeof(float) * nz);
    assert_memory_equal(g[0], g[1], sizeof(float) * np);
    assert_memory_equal(zi[0], zi[1], sizeof(float) * nzi);
    for (int w = 0; w < 2; w++) free(z[w]), free(g[w]), free(zi[w]);
    free(frames);
}

static void test_nature_step_same_bits(void **st) {
    (void)st;
    same_bits_both_ways("nature", 64);
}

static void test_impala_step_same_bits(void **st) {
    (void)st;
    same_bits_both_ways("impala", 8);
}

int main(void) {
    openblas_set_num_threads(1); /* as the models run it (model_init) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_shapes),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_weight_gradients),
        cmocka_unit_test(test_small_path_left_to_openblas),
        cmocka_unit_test(test_nature_step_same_bits),
        cmocka_unit_test(test_impala_step_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
