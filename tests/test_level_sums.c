/* test_level_sums.c - the first linear layer's weight gradient reduced over
 * the levels inside the backward (model_backward_sums, issue 20):
 * k_linear_params_level_sums gives, for every element, the double sum in
 * level order and the sign count of the per-level values its definition
 * gives (the products and sums of k_linear_backward_params, written out
 * here), from inputs packed in pieces, and names the first non-finite value
 * (element order, then level order); model_backward_sums leaves every other
 * gradient as model_backward writes it, and train_combine_sums on its sums
 * gives train_combine's combined gradient and densities bit for bit, for
 * mean, AND and tand on 1 and 2 threads, and train_combine's refusal of a
 * non-finite gradient word for word; the tensor is offered only where a
 * level is one chunk, and train_combine_sums refuses a method whose
 * reduction does not split; bench train's --level-sums. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/kernels.h"
#include "model/model.h"
#include "tests/support/run.h"
#include "train/train.h"

/* ---- the kernel against its definition -------------------------------------- */

/* level l's value of gw[o][d] by the definition: dout[l*B][o] * in[l*B][d],
 * then + dout[r][o] * in[r][d] for the level's rows in order */
static float level_value(const float *dout, const float *in, int l, int B, int Din, int Dout, int o, int d) {
    size_t r0 = (size_t)l * B;
    float v = dout[r0 * Dout + o] * in[r0 * Din + d];
    for (int r = 1; r < B; r++) v += dout[(r0 + r) * Dout + o] * in[(r0 + r) * Din + d];
    return v;
}

typedef struct {
    int L, B, Din, Dout;
    float *in, *dout, *pin, *pdo;
    double *sum;
    int32_t *ssum;
} ls_case;

static void case_alloc(ls_case *c, int L, int B, int Din, int Dout, uint64_t seed) {
    int N = L * B;
    *c = (ls_case){L, B, Din, Dout, malloc(sizeof(float) * N * Din), malloc(sizeof(float) * N * Dout),
                   malloc(sizeof(float) * N * Din), malloc(sizeof(float) * N * Dout),
                   malloc(sizeof(double) * Din * Dout), malloc(sizeof(int32_t) * Din * Dout)};
    assert_non_null(c->in), assert_non_null(c->dout), assert_non_null(c->pin), assert_non_null(c->pdo);
    assert_non_null(c->sum), assert_non_null(c->ssum);
    cb_rng r;
    cb_rng_seed(&r, seed);
    for (int i = 0; i < N * Din; i++) c->in[i] = cb_rng_uniformf(&r) - 0.5f;
    for (int i = 0; i < N * Dout; i++) c->dout[i] = cb_rng_uniformf(&r) - 0.5f;
    for (int i = 0; i < N * Din; i += 7) c->in[i] = 0; /* zeros: sign 0, and 0 * x products */
    for (int i = 0; i < N * Dout; i += 5) c->dout[i] = -0.0f;
}

static void case_free(ls_case *c) {
    free(c->in), free(c->dout), free(c->pin), free(c->pdo), free(c->sum), free(c->ssum);
}

/* packs in two pieces and reduces in two pieces of output rows, as the model's tasks do */
static void case_run(ls_case *c, int64_t *bi, int *bl, float *bv) {
    int N = c->L * c->B, dh = c->Din / 32 * 16, oh = c->Dout / 8 * 4;
    memset(c->sum, 0xa5, sizeof(double) * c->Din * c->Dout);
    memset(c->ssum, 0x5a, sizeof(int32_t) * c->Din * c->Dout);
    k_linear_params_level_pack(c->pin, c->pdo, c->in, c->dout, N, c->Din, c->Dout, 0, dh, 0, oh);
    k_linear_params_level_pack(c->pin, c->pdo, c->in, c->dout, N, c->Din, c->Dout, dh, c->Din, oh, c->Dout);
    *bl = -1;
    k_linear_params_level_sums(c->sum, c->ssum, bi, bl, bv, c->pin, c->pdo, c->L, c->B, c->Din, 0, oh);
    k_linear_params_level_sums(c->sum, c->ssum, bi, bl, bv, c->pin, c->pdo, c->L, c->B, c->Din, oh, c->Dout);
}

static void check_case(int L, int B, int Din, int Dout) {
    ls_case c;
    case_alloc(&c, L, B, Din, Dout, (uint64_t)(L * 1000 + B));
    int64_t bi;
    int bl;
    float bv;
    case_run(&c, &bi, &bl, &bv);
    assert_int_equal(bl, -1);
    /* and the per-level values also as k_linear_backward_params writes them */
    float *gw = malloc(sizeof(float) * Din * Dout), *gb = malloc(sizeof(float) * Dout);
    double *want = calloc((size_t)Din * Dout, sizeof(double));
    int32_t *cnt = calloc((size_t)Din * Dout, sizeof(int32_t));
    assert_non_null(gw), assert_non_null(gb), assert_non_null(want), assert_non_null(cnt);
    for (int l = 0; l < L; l++) {
        k_linear_backward_params(gw, gb, c.dout + (size_t)l * B * Dout, c.in + (size_t)l * B * Din, B, Din, Dout, 0);
        for (int o = 0; o < Dout; o++)
            for (int d = 0; d < Din; d++) {
                float v = level_value(c.dout, c.in, l, B, Din, Dout, o, d);
                assert_memory_equal(&v, &gw[(size_t)o * Din + d], sizeof v);
                want[(size_t)o * Din + d] += v;
                cnt[(size_t)o * Din + d] += (v > 0) - (v < 0);
            }
    }
    assert_memory_equal(c.sum, want, sizeof(double) * Din * Dout);
    assert_memory_equal(c.ssum, cnt, sizeof(int32_t) * Din * Dout);
    free(gw), free(gb), free(want), free(cnt);
    case_free(&c);
}

static void test_kernel_definition(void **st) {
    (void)st;
    check_case(2, 1, 16, 4);
    check_case(5, 3, 32, 8);
    check_case(16, 8, 64, 12);
    check_case(3, 16, 1040, 8); /* more than one column block */
}

/* the first non-finite level value in element order, then level order */
static void test_kernel_first_bad(void **st) {
    (void)st;
    ls_case c;
    int L = 4, B = 2, Din = 48, Dout = 8;
    case_alloc(&c, L, B, Din, Dout, 5);
    c.in[(size_t)(3 * B + 1) * Din + 40] = INFINITY; /* level 3: elements (o, 40) for every o */
    c.in[(size_t)(1 * B + 0) * Din + 40] = NAN;      /* level 1: the same elements, an earlier level */
    c.dout[(size_t)(2 * B + 1) * Dout + 6] = NAN;     /* level 2: elements (6, d) */
    int64_t bi;
    int bl;
    float bv;
    case_run(&c, &bi, &bl, &bv);
    /* element order: (0, 40) = 40 comes first, levels 1 and 3 there: level 1, NaN */
    assert_int_equal(bl, 1);
    assert_int_equal(bi, 40);
    assert_true(isnan(bv));
    /* without the level-1 NaN: still element 40, now level 3 (level 2 starts at element 6 * 48) */
    c.in[(size_t)(1 * B + 0) * Din + 40] = 0.25f;
    case_run(&c, &bi, &bl, &bv);
    assert_int_equal(bl, 3);
    assert_int_equal(bi, 40);
    assert_true(isinf(bv));
    /* the sums of the other elements are still the definition's */
    double s = 0;
    for (int l = 0; l < L; l++) s += level_value(c.dout, c.in, l, B, Din, Dout, 5, 7);
    assert_memory_equal(&s, &c.sum[5 * Din + 7], sizeof s);
    case_free(&c);
}

/* ---- the model and the combiner --------------------------------------------- */

static void small_nature(model *m, int threads) {
    model_net_desc d;
    cb_err e = {0};
    assert_int_equal(model_net_default(&d, "nature"), 0);
    d.channels[0] = 8, d.channels[1] = 16, d.channels[2] = 16, d.hidden = 24; /* fc: 256 -> 24 */
    assert_int_equal(model_init(m, &d, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 3);
    model_init_params(m, &r);
    model_set_threads(m, threads);
}

static void fill_batch(uint8_t *frames, uint8_t *labels, int n, uint64_t seed) {
    cb_rng r;
    cb_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)n * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_below(&r, 256);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)cb_rng_below(&r, CB_NUM_ACTIONS);
}

static void sums_case(int L, int B, int threads, int full) {
    model m;
    if (full) {
        model_net_desc d;
        cb_err e = {0};
        assert_int_equal(model_net_default(&d, "nature"), 0);
        assert_int_equal(model_init(&m, &d, &e), 0);
        cb_rng r;
        cb_rng_seed(&r, 4);
        model_init_params(&m, &r);
        model_set_threads(&m, threads);
    } else {
        small_nature(&m, threads);
    }
    cb_err e = {0};
    assert_int_equal(model_set_batch_levels(&m, L, B, &e), 0);
    int t = model_level_sums_tensor(&m, L, B);
    assert_true(t >= 0);
    const model_tensor *T = &m.tensors[t];
    size_t P = m.nparams;
    int N = L * B;
    uint8_t *frames = malloc((size_t)N * CB_FRAME_BYTES), *labels = malloc((size_t)N);
    float *ga = malloc(sizeof(float) * P * L), *gb = malloc(sizeof(float) * P * L);
    float *oa = malloc(sizeof(float) * P), *ob = malloc(sizeof(float) * P), da[MODEL_MAX_TENSORS], db[MODEL_MAX_TENSORS];
    model_level_sums ls = {.tensor = t, .sum = malloc(sizeof(double) * T->size), .ssum = malloc(sizeof(int32_t) * T->size)};
    assert_non_null(frames), assert_non_null(labels), assert_non_null(ga), assert_non_null(gb), assert_non_null(oa);
    assert_non_null(ob), assert_non_null(ls.sum), assert_non_null(ls.ssum);
    fill_batch(frames, labels, N, (uint64_t)(L * 100 + B));
    model_forward_u8(&m, frames, N, NULL);
    model_backward(&m, labels, L, B, ga);
    memset(gb, 0x7f, sizeof(float) * P * L);
    model_forward_u8(&m, frames, N, NULL);
    model_backward_sums(&m, labels, L, B, gb, &ls);
    assert_int_equal(ls.bad_level, -1);
    for (int l = 0; l < L; l++) { /* every other tensor as model_backward writes it */
        const float *a = ga + (size_t)l * P, *b = gb + (size_t)l * P;
        assert_memory_equal(a, b, sizeof(float) * T->off);
        assert_memory_equal(a + T->off + T->size, b + T->off + T->size, sizeof(float) * (P - T->off - T->size));
    }
    const int methods[3] = {TRAIN_MEAN, TRAIN_AND, TRAIN_TAND};
    for (int k = 0; k < 3; k++) {
        train_combine_opts co = {.method = methods[k], .tau = 0.5, .sand_k = 1, .rescale = 1, .threads = threads};
        assert_int_equal(train_combine(oa, da, ga, L, P, m.tensors, m.ntensors, &co, &e), 0);
        assert_int_equal(train_combine_sums(ob, db, gb, L, P, m.tensors, m.ntensors, &co, &ls, &e), 0);
        assert_memory_equal(oa, ob, sizeof(float) * P);
        assert_memory_equal(da, db, sizeof(float) * m.ntensors);
    }
    free(frames), free(labels), free(ga), free(gb), free(oa), free(ob), free(ls.sum), free(ls.ssum);
    model_free(&m);
}

static void test_backward_sums(void **st) {
    (void)st;
    sums_case(4, 8, 1, 0);
    sums_case(4, 8, 2, 0);
    sums_case(3, 5, 2, 0);
    sums_case(16, 8, 2, 1); /* the level-wise shape on the full Nature CNN */
    sums_case(2, 16, 1, 1);
}

static void test_tensor_offered(void **st) {
    (void)st;
    model m;
    cb_err e = {0};
    small_nature(&m, 2);
    assert_int_equal(model_level_sums_tensor(&m, 4, 8), -1); /* no training batch yet */
    assert_int_equal(model_set_batch_levels(&m, 4, 8, &e), 0);
    int t = model_level_sums_tensor(&m, 4, 8);
    assert_true(t >= 0);
    assert_int_equal((int)m.tensors[t].size, 16 * 4 * 4 * 24); /* 16 channels of 4 x 4 into 24 */
    assert_int_equal(model_level_sums_tensor(&m, 1, 8), -1); /* one level: the combine is already one pass */
    assert_int_equal(model_set_batch_levels(&m, 2, 32, &e), 0);
    assert_int_equal(model_level_sums_tensor(&m, 2, 32), -1); /* a level of two chunks (two groups) */
    model_free(&m);
    /* the fc width must split into quads: hidden 22 does not */
    model_net_desc d;
    assert_int_equal(model_net_default(&d, "nature"), 0);
    d.channels[0] = 8, d.channels[1] = 16, d.channels[2] = 16, d.hidden = 22;
    assert_int_equal(model_init(&m, &d, &e), 0);
    assert_int_equal(model_set_batch_levels(&m, 4, 8, &e), 0);
    assert_int_equal(model_level_sums_tensor(&m, 4, 8), -1);
    model_free(&m);
}

/* a non-finite gradient in the reduced tensor: train_combine's message, word for word */
static void test_combine_refusal(void **st) {
    (void)st;
    model m;
    small_nature(&m, 2);
    cb_err e = {0}, e2 = {0};
    int L = 3, B = 4;
    assert_int_equal(model_set_batch_levels(&m, L, B, &e), 0);
    int t = model_level_sums_tensor(&m, L, B);
    assert_true(t >= 0);
    const model_tensor *T = &m.tensors[t];
    size_t P = m.nparams;
    float *g = malloc(sizeof(float) * P * L), *out = malloc(sizeof(float) * P), dens[MODEL_MAX_TENSORS];
    model_level_sums ls = {.tensor = t, .sum = malloc(sizeof(double) * T->size), .ssum = malloc(sizeof(int32_t) * T->size)};
    assert_non_null(g), assert_non_null(out), assert_non_null(ls.sum), assert_non_null(ls.ssum);
    cb_rng r;
    cb_rng_seed(&r, 9);
    for (size_t i = 0; i < P * L; i++) g[i] = cb_rng_uniformf(&r) - 0.5f;
    size_t at = 777; /* the element of the reduced tensor at which levels 2 and 1 go bad */
    g[2 * P + T->off + at] = INFINITY;
    g[1 * P + T->off + at + 5] = NAN;
    /* the sums and counts a backward would have made, and its first non-finite value */
    ls.bad_level = -1;
    for (size_t i = 0; i < T->size; i++) {
        double s = 0;
        int c = 0;
        for (int l = 0; l < L; l++) {
            float v = g[(size_t)l * P + T->off + i];
            s += v;
            c += (v > 0) - (v < 0);
            if (!(fabsf(v) <= FLT_MAX) && ls.bad_level < 0) ls.bad_level = l, ls.bad_i = (int64_t)i, ls.bad_v = v;
        }
        ls.sum[i] = s, ls.ssum[i] = c;
    }
    assert_int_equal(ls.bad_level, 2);
    float *h = malloc(sizeof(float) * P * L); /* the level gradients without the reduced tensor */
    assert_non_null(h);
    memcpy(h, g, sizeof(float) * P * L);
    for (int l = 0; l < L; l++) memset(h + (size_t)l * P + T->off, 0, sizeof(float) * T->size);
    train_combine_opts co = {.method = TRAIN_AND, .tau = 0.5, .sand_k = 1, .rescale = 1, .threads = 2};
    assert_int_equal(train_combine(out, dens, g, L, P, m.tensors, m.ntensors, &co, &e), CB_ERANGE);
    assert_int_equal(train_combine_sums(out, dens, h, L, P, m.tensors, m.ntensors, &co, &ls, &e2), CB_ERANGE);
    assert_string_equal(e.msg, e2.msg);
    assert_non_null(strstr(e2.msg, "level 2"));
    assert_non_null(strstr(e2.msg, T->name));
    /* a method whose reduction does not split cannot read sums */
    co.method = TRAIN_SAND;
    assert_int_equal(train_combine_sums(out, dens, h, L, P, m.tensors, m.ntensors, &co, &ls, &e2), CB_EARG);
    assert_false(train_combine_takes_sums(TRAIN_SAND));
    assert_true(train_combine_takes_sums(TRAIN_TAND));
    free(g), free(h), free(out), free(ls.sum), free(ls.ssum);
    model_free(&m);
}

/* bench train --level-sums: both paths time and print their result lines;
 * a value other than 0 or 1 is refused */
static void test_bench_option(void **st) {
    (void)st;
    static char out[16384], err[4096];
    for (int v = 0; v <= 1; v++) {
        assert_int_equal(test_run(out, sizeof out, err, sizeof err,
                                  "bench train --net nature --batch-levels 4 --batch-frames 8 --steps 1 --naive 0 "
                                  "--variants mean,and --level-sums %d",
                                  v),
                         0);
        assert_non_null(strstr(out, "result variant=mean "));
        assert_non_null(strstr(out, "result variant=and "));
    }
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "bench train --level-sums 2"), 2);
    assert_non_null(strstr(err, "--level-sums take 0 or 1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_definition), cmocka_unit_test(test_kernel_first_bad),
        cmocka_unit_test(test_backward_sums),     cmocka_unit_test(test_tensor_offered),
        cmocka_unit_test(test_combine_refusal),   cmocka_unit_test(test_bench_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
