/* test_model.c - the networks against references nobody here wrote:
 * PyTorch's logits, loss and per-level parameter gradients on fixed weights
 * and inputs (tests/fixtures/torch, made by tools/torch_ref.py), and central
 * finite differences of every tensor; per-level gradients averaged equal the
 * whole-batch gradient; checkpoints round trip and refuse damage. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "model/kernels.h"
#include "model/model.h"
#include "tests/support/blas.h"

typedef struct {
    int32_t hdr[8];
    float *params, *logits, *grads, loss;
    uint8_t *frames, *labels;
    uint8_t *file;
} fixture;

static int load_fixture(fixture *f, const char *path) {
    size_t n;
    cb_err e = {0};
    if (cb_read_file(path, &f->file, &n, &e)) return -1;
    memcpy(f->hdr, f->file, 32);
    int L = f->hdr[5], B = f->hdr[6], P = f->hdr[7], N = L * B;
    uint8_t *p = f->file + 32;
    f->params = (float *)p;
    p += 4 * (size_t)P;
    f->frames = p;
    p += (size_t)N * 64 * 64 * 3;
    f->labels = p;
    p += N;
    float *fl = malloc(sizeof(float) * ((size_t)N * 15 + 1 + (size_t)L * P));
    memcpy(fl, p, sizeof(float) * ((size_t)N * 15 + 1 + (size_t)L * P));
    f->logits = fl;
    f->loss = fl[N * 15];
    f->grads = fl + N * 15 + 1;
    return 0;
}

static void check_torch(const char *path) {
    fixture f;
    assert_int_equal(load_fixture(&f, path), 0);
    model_net_desc cfg = {f.hdr[0], {f.hdr[1], f.hdr[2], f.hdr[3]}, f.hdr[4]};
    int L = f.hdr[5], B = f.hdr[6], N = L * B;
    model m;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    assert_int_equal((int)m.nparams, f.hdr[7]);
    memcpy(m.params, f.params, sizeof(float) * m.nparams);
    assert_int_equal(model_set_batch_levels(&m, L, B, &e), 0);
    float logits[64 * 15];
    model_forward_u8(&m, f.frames, N, logits);
    double maxd = 0;
    for (int i = 0; i < N * 15; i++) maxd = fmax(maxd, fabs(logits[i] - f.logits[i]));
    double loss = model_loss(&m, f.labels, N, NULL);
    float *g = malloc(sizeof(float) * m.nparams * (size_t)L);
    model_backward(&m, f.labels, L, B, g);
    double maxg = 0, maxref = 0, worst_rel = 0;
    for (size_t i = 0; i < m.nparams * (size_t)L; i++) {
        double d = fabs(g[i] - f.grads[i]);
        maxg = fmax(maxg, d);
        maxref = fmax(maxref, fabs(f.grads[i]));
    }
    /* per tensor and level: relative error of the whole tensor's gradient */
    for (int l = 0; l < L; l++)
        for (int t = 0; t < m.ntensors; t++) {
            double num = 0, den = 0;
            for (size_t i = 0; i < m.tensors[t].size; i++) {
                size_t k = (size_t)l * m.nparams + m.tensors[t].off + i;
                num += (g[k] - f.grads[k]) * (g[k] - f.grads[k]);
                den += (double)f.grads[k] * f.grads[k];
            }
            double rel = sqrt(num / (den + 1e-30));
            if (rel > worst_rel) worst_rel = rel;
            if (rel > 1e-4) printf("  %s level %d: relative error %.2e\n", m.tensors[t].name, l, rel);
        }
    printf("%s: max |logit diff| %.2e, loss %.7f vs %.7f, max |grad diff| %.2e (max |grad| %.2e), worst tensor rel. error %.2e\n",
           path, maxd, loss, f.loss, maxg, maxref, worst_rel);
    assert_true(maxd < 1e-4);
    assert_true(fabs(loss - f.loss) < 1e-5);
    assert_true(worst_rel < 1e-4);
    free(g);
    model_free(&m);
    free(f.logits);
    free(f.file);
}

static void test_impala_vs_pytorch(void **st) {
    (void)st;
    check_torch("tests/fixtures/torch/impala_small.bin");
}

static void test_nature_vs_pytorch(void **st) {
    (void)st;
    check_torch("tests/fixtures/torch/nature_small.bin");
}

/* An independent double-precision forward of the same op list, with direct
 * (naive) convolution in NCHW layout: the reference for finite differences.
 * Returns the mean cross-entropy of level l's B frames. */
static double naive_loss(const model *m, const double *p, const uint8_t *frames, const uint8_t *labels, int l, int B) {
    double *act[MODEL_MAX_OPS + 1];
    for (int a = 0; a < m->nacts; a++) act[a] = calloc((size_t)B * m->acts[a].c * m->acts[a].h * m->acts[a].w, sizeof(double));
    for (int s = 0; s < B; s++)
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < 64 * 64; j++)
                act[0][((size_t)s * 3 + c) * 4096 + j] = frames[((size_t)(l * B + s) * 4096 + j) * 3 + c] / 255.0;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        const model_act *ai = &m->acts[o->in], *ao = &m->acts[o->out];
        double *x = act[o->in], *y = act[o->out];
        size_t per_in = (size_t)ai->c * ai->h * ai->w, per_out = (size_t)ao->c * ao->h * ao->w;
        for (int s = 0; s < B; s++) {
            const double *xs = x + s * per_in;
            double *ys = y + s * per_out;
            switch (o->type) {
            case OP_CONV: {
                const double *w = p + m->tensors[o->wt].off, *bb = p + m->tensors[o->wt + 1].off;
                for (int co = 0; co < o->cout; co++)
                    for (int oy = 0; oy < o->ho; oy++)
                        for (int ox = 0; ox < o->wo; ox++) {
                            double acc = bb[co];
                            for (int ci = 0; ci < o->cin; ci++)
                                for (int ky = 0; ky < o->k; ky++)
                                    for (int kx = 0; kx < o->k; kx++) {
                                        int iy = oy * o->stride - o->pad + ky, ix = ox * o->stride - o->pad + kx;
                                        if (iy < 0 || ix < 0 || iy >= o->h || ix >= o->w) continue;
                                        acc += w[((co * o->cin + ci) * o->k + ky) * o->k + kx] * xs[(ci * o->h + iy) * o->w + ix];
                                    }
                            ys[(co * o->ho + oy) * o->wo + ox] = acc;
                        }
                break;
            }
            case OP_RELU:
                for (size_t j = 0; j < per_in; j++) ys[j] = xs[j] > 0 ? xs[j] : 0;
                break;
            case OP_POOL:
                for (int c = 0; c < ai->c; c++)
                    for (int oy = 0; oy < o->ho; oy++)
                        for (int ox = 0; ox < o->wo; ox++) {
                            double best = -1e300;
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                                    if (iy >= 0 && ix >= 0 && iy < o->h && ix < o->w && xs[(c * o->h + iy) * o->w + ix] > best)
                                        best = xs[(c * o->h + iy) * o->w + ix];
                                }
                            ys[(c * o->ho + oy) * o->wo + ox] = best;
                        }
                break;
            case OP_ADD:
                for (size_t j = 0; j < per_in; j++) ys[j] = xs[j] + act[o->in2][s * per_in + j];
                break;
            case OP_FLAT: memcpy(ys, xs, sizeof(double) * per_in); break;
            case OP_LINEAR: {
                const double *w = p + m->tensors[o->wt].off, *bb = p + m->tensors[o->wt + 1].off;
                for (int k = 0; k < o->dout; k++) {
                    double acc = bb[k];
                    for (int j = 0; j < o->din; j++) acc += w[(size_t)k * o->din + j] * xs[j];
                    ys[k] = acc;
                }
                break;
            }
            }
        }
    }
    double loss = 0;
    const double *z = act[m->nacts - 1];
    for (int s = 0; s < B; s++) {
        double mx = -1e300, sum = 0;
        for (int a = 0; a < 15; a++) mx = fmax(mx, z[s * 15 + a]);
        for (int a = 0; a < 15; a++) sum += exp(z[s * 15 + a] - mx);
        loss += mx + log(sum) - z[s * 15 + labels[l * B + s]];
    }
    for (int a = 0; a < m->nacts; a++) free(act[a]);
    return loss / B;
}

/* tile: im2col tile limit in floats (0: the model's default) */
static void check_fd(const char *net, int c0, int c1, int c2, int hidden, size_t tile) {
    model_net_desc cfg;
    assert_int_equal(model_net_default(&cfg, net), 0);
    cfg.channels[0] = c0;
    cfg.channels[1] = c1;
    cfg.channels[2] = c2;
    cfg.hidden = hidden;
    model m;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    if (tile) m.tile_floats = tile;
    cb_rng r;
    cb_rng_seed(&r, 3);
    model_init_params(&m, &r);
    int L = 2, B = 2, N = 4;
    uint8_t *frames = malloc((size_t)N * 64 * 64 * 3), labels[4] = {3, 7, 8, 1};
    for (size_t i = 0; i < (size_t)N * 64 * 64 * 3; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    assert_int_equal(model_set_batch_levels(&m, L, B, &e), 0);
    float *g = malloc(sizeof(float) * m.nparams * L);
    model_forward_u8(&m, frames, N, NULL);
    model_backward(&m, labels, L, B, g);
    /* the same model for the one-level losses (batch B) */
    double worst = 0;
    int checked = 0, bad = 0, kinks = 0;
    double *pd = malloc(sizeof(double) * m.nparams);
    for (size_t i = 0; i < m.nparams; i++) pd[i] = m.params[i];
    for (int t = 0; t < m.ntensors; t++)
        for (int k = 0; k < 6; k++) {
            size_t i = m.tensors[t].off + cb_rng_below(&r, (uint32_t)m.tensors[t].size);
            int l = k % L;
            double w0 = pd[i], fd[2];
            const double hs[2] = {1e-5, 1e-7};
            for (int q = 0; q < 2; q++) {
                pd[i] = w0 + hs[q];
                double lp = naive_loss(&m, pd, frames, labels, l, B);
                pd[i] = w0 - hs[q];
                double lm = naive_loss(&m, pd, frames, labels, l, B);
                pd[i] = w0;
                fd[q] = (lp - lm) / (2.0 * hs[q]);
            }
            /* a ReLU or max-pool kink inside [w0 - h, w0 + h] makes the two step
             * sizes disagree: the derivative is not defined there, skip it */
            if (fabs(fd[0] - fd[1]) > 1e-4 * fmax(fabs(fd[0]), 1e-3)) {
                kinks++;
                continue;
            }
            double an = g[(size_t)l * m.nparams + i];
            double err = fabs(fd[1] - an) / fmax(fmax(fabs(fd[1]), fabs(an)), 1e-4);
            checked++;
            if (err > worst) worst = err;
            if (err > 1e-3) {
                bad++;
                printf("  %s[%zu] level %d: finite differences %.8f (h 1e-5) %.8f (h 1e-7), backward %.8f\n",
                       m.tensors[t].name, i - m.tensors[t].off, l, fd[0], fd[1], an);
            }
        }
    printf("%s (tiles of %zu floats): %d gradient entries against double-precision central differences of an independent naive\n"
           "  forward: worst relative error %.2e, %d above 1e-3 (%d entries skipped at a kink)\n", net, m.tile_floats, checked, worst,
           bad, kinks);
    assert_int_equal(bad, 0);
    assert_true(kinks * 10 <= checked);
    free(pd);
    /* mean of the per-level gradients == gradient of the whole batch's mean loss */
    float *g1 = malloc(sizeof(float) * m.nparams);
    model_forward_u8(&m, frames, N, NULL);
    model_backward(&m, labels, 1, N, g1);
    double md = 0, mx = 0;
    for (size_t i = 0; i < m.nparams; i++) {
        md = fmax(md, fabs(0.5 * (g[i] + g[m.nparams + i]) - g1[i]));
        mx = fmax(mx, fabs(g1[i]));
    }
    assert_true(md <= 1e-5 * fmax(mx, 1));
    free(g1);
    free(g);
    free(frames);
    model_free(&m);
}

static void test_impala_finite_differences(void **st) {
    (void)st;
    check_fd("impala", 3, 4, 4, 8, 0);
}

static void test_nature_finite_differences(void **st) {
    (void)st;
    check_fd("nature", 4, 4, 4, 8, 0);
}

/* Convolutions cut into tiles of a few output rows (tiles that end inside a
 * sample and tiles that cross from one sample into the next, the strided
 * col2im path and the flipped-weight path) give the same gradients. */
static void test_tiles_finite_differences(void **st) {
    (void)st;
    check_fd("impala", 3, 4, 4, 8, 3000);
    check_fd("nature", 4, 4, 4, 8, 64);
}

/* The max pool against a plain 9-element scan, on values with many ties
 * (small integers) and on sizes with odd and even edges: same maxima and the
 * same argmax (the first in row-major window order, PyTorch's choice). */
static void test_maxpool_ties(void **st) {
    (void)st;
    const int sizes[][2] = {{64, 64}, {32, 32}, {16, 16}, {8, 8}, {7, 5}, {5, 7}, {2, 2}, {3, 9}, {1, 6}, {6, 1}};
    cb_rng r;
    cb_rng_seed(&r, 21);
    for (int k = 0; k < (int)(sizeof sizes / sizeof sizes[0]); k++) {
        int H = sizes[k][0], W = sizes[k][1], Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1, planes = 3;
        float *in = malloc(sizeof(float) * planes * H * W), *out = malloc(sizeof(float) * planes * Ho * Wo);
        int32_t *idx = malloc(sizeof(int32_t) * planes * Ho * Wo);
        float *scratch = malloc(sizeof(float) * 2 * H * Wo);
        for (int i = 0; i < planes * H * W; i++) in[i] = (float)cb_rng_below(&r, 3) - 1.0f;
        k_maxpool_forward(out, idx, in, planes, H, W, Ho, Wo, scratch);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    const float *src = in + (size_t)p * H * W;
                    int bi = -1;
                    for (int y = 2 * oy - 1; y <= 2 * oy + 1; y++)
                        for (int x = 2 * ox - 1; x <= 2 * ox + 1; x++)
                            if (y >= 0 && y < H && x >= 0 && x < W && (bi < 0 || src[y * W + x] > src[bi])) bi = y * W + x;
                    size_t j = ((size_t)p * Ho + oy) * Wo + ox;
                    if (idx[j] != bi || out[j] != src[bi])
                        fail_msg("%dx%d plane %d window (%d,%d): argmax %d value %g, want %d value %g", H, W, p, oy, ox,
                                 idx[j], (double)out[j], bi, (double)src[bi]);
                }
        free(in), free(out), free(idx), free(scratch);
    }
}

static void test_checkpoint(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "nature");
    cfg.hidden = 16;
    model m, m2;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 9);
    model_init_params(&m, &r);
    for (size_t i = 0; i < m.nparams; i++) m.adam_m[i] = (float)i, m.adam_v[i] = 1.0f / (float)(i + 1);
    model_ckpt_state s = {.step = 123, .epoch = 4, .rng = r, .best_val = 0.5};
    char path[] = "/tmp/coinbc_ckpt_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(model_save(&m, &s, path, &e), 0);
    model_ckpt_state s2;
    assert_int_equal(model_load(&m2, &s2, path, &e), 0);
    assert_int_equal(m2.nparams, m.nparams);
    assert_memory_equal(m2.mem, m.mem, sizeof(float) * m.nparams * 3);
    assert_true(s2.step == 123 && s2.epoch == 4 && s2.best_val == 0.5);
    assert_memory_equal(&s2.rng, &r, sizeof r);
    model_free(&m2);
    /* damage: a flipped byte, a truncated file, not a checkpoint */
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    buf[n / 2] ^= 4;
    assert_int_equal(cb_write_file_atomic(path, buf, n, &e), 0);
    assert_true(model_load(&m2, &s2, path, &e) < 0);
    assert_non_null(strstr(e.msg, "CRC"));
    buf[n / 2] ^= 4;
    assert_int_equal(cb_write_file_atomic(path, buf, n - 100, &e), 0);
    assert_true(model_load(&m2, &s2, path, &e) < 0);
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(cb_write_file_atomic(path, "hello", 5, &e), 0);
    assert_true(model_load(&m2, &s2, path, &e) < 0);
    assert_true(model_load(&m2, &s2, "/nonexistent/ckpt", &e) < 0);
    free(buf);
    unlink(path);
    model_free(&m);
}

/* Nothing depends on the thread count; the per-level gradients of one joint
 * pass equal, bit for bit, those of a pass over that level's frames alone
 * (where the BLAS allows it: blas.h); model_predict agrees with the forward
 * pass. */
static void test_levels_and_threads(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "impala");
    cfg.channels[0] = 4, cfg.channels[1] = 6, cfg.channels[2] = 6, cfg.hidden = 16;
    model a, b;
    cb_err e = {0};
    assert_int_equal(model_init(&a, &cfg, &e), 0);
    assert_int_equal(model_init(&b, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 5);
    model_init_params(&a, &r);
    memcpy(b.params, a.params, sizeof(float) * a.nparams);
    const int L = 3, B = 4, N = L * B;
    uint8_t *frames = malloc((size_t)N * CB_FRAME_BYTES), labels[12];
    for (size_t i = 0; i < (size_t)N * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)cb_rng_below(&r, 15);
    model_set_threads(&a, 2);
    model_set_threads(&b, 1);
    assert_int_equal(model_set_batch_levels(&a, L, B, &e), 0);
    assert_int_equal(model_set_batch_levels(&b, 1, B, &e), 0);
    float *ga = malloc(sizeof(float) * a.nparams * L), *gb = malloc(sizeof(float) * a.nparams);
    float za[12 * 15], zb[4 * 15], p2[12 * 15];
    model_forward_u8(&a, frames, N, za);
    model_backward(&a, labels, L, B, ga);
    /* the same joint pass on one thread: the same bits */
    model c;
    assert_int_equal(model_init(&c, &cfg, &e), 0);
    memcpy(c.params, a.params, sizeof(float) * a.nparams);
    model_set_threads(&c, 1);
    assert_int_equal(model_set_batch_levels(&c, L, B, &e), 0);
    float *gc = malloc(sizeof(float) * a.nparams * L), zc[12 * 15];
    assert_non_null(gc);
    model_forward_u8(&c, frames, N, zc);
    model_backward(&c, labels, L, B, gc);
    assert_memory_equal(zc, za, sizeof za);
    assert_memory_equal(gc, ga, sizeof(float) * a.nparams * L);
    free(gc);
    model_free(&c);
    /* each level alone: the same bits as in the joint pass, where the BLAS
     * rounds an element the same whatever the call's shape (blas.h) */
    for (int l = 0; l < L && test_blas_shape_exact(); l++) {
        model_forward_u8(&b, frames + (size_t)l * B * CB_FRAME_BYTES, B, zb);
        model_backward(&b, labels + l * B, 1, B, gb);
        assert_memory_equal(zb, za + l * B * 15, sizeof zb);
        assert_memory_equal(gb, ga + (size_t)l * a.nparams, sizeof(float) * a.nparams);
    }
    /* model_predict: any n, in batches of the inference size */
    uint8_t act[12];
    model_set_threads(&b, 2);
    assert_int_equal(model_set_batch(&b, 5, &e), 0);
    model_predict_io io = {.probs = p2, .actions = act};
    assert_int_equal(model_predict(&b, frames, N, &io, &e), 0);
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int k = 1; k < 15; k++)
            if (za[i * 15 + k] > za[i * 15 + best]) best = k;
        assert_int_equal(act[i], best);
        double sum = 0;
        for (int k = 0; k < 15; k++) sum += p2[i * 15 + k];
        assert_true(fabs(sum - 1) < 1e-5);
    }
    free(ga), free(gb), free(frames);
    model_free(&a);
    model_free(&b);
}

/* model_predict, the one batched forward: over 13 frames in chunks of 5
 * (5, 5, 3) it gives, for every frame, the probabilities of a forward pass
 * of that frame alone (to a float rounding: sgemm's blocking follows the
 * chunk size, measured 1 ulp), their argmax, and the loss and hits of
 * model_loss frame by frame; the loss and hits accumulate across calls. */
static void test_predict_equals_per_frame(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "nature");
    cfg.channels[0] = 4, cfg.channels[1] = 6, cfg.channels[2] = 6, cfg.hidden = 16;
    model a, b;
    cb_err e = {0};
    assert_int_equal(model_init(&a, &cfg, &e), 0);
    assert_int_equal(model_init(&b, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 11);
    model_init_params(&a, &r);
    memcpy(b.params, a.params, sizeof(float) * a.nparams);
    enum { N = 13 };
    uint8_t *frames = malloc((size_t)N * CB_FRAME_BYTES), labels[N], act[N];
    assert_non_null(frames);
    for (size_t i = 0; i < (size_t)N * CB_FRAME_BYTES; i++) frames[i] = (uint8_t)cb_rng_u32(&r);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)cb_rng_below(&r, CB_NUM_ACTIONS);
    static float probs[N * CB_NUM_ACTIONS];
    assert_int_equal(model_set_batch(&a, 5, &e), 0);
    model_predict_io io = {.probs = probs, .actions = act, .labels = labels};
    assert_int_equal(model_predict(&a, frames, N, &io, &e), 0);
    assert_int_equal(model_set_batch(&b, 1, &e), 0);
    double loss = 0;
    int64_t hits = 0;
    for (int i = 0; i < N; i++) {
        model_forward_u8(&b, frames + (size_t)i * CB_FRAME_BYTES, 1, NULL);
        int c;
        loss += model_loss(&b, labels + i, 1, &c);
        hits += c;
        for (int k = 0; k < CB_NUM_ACTIONS; k++) assert_float_equal(probs[i * CB_NUM_ACTIONS + k], b.probs[k], 1e-6);
        assert_int_equal(act[i], cb_argmax(b.probs, CB_NUM_ACTIONS));
    }
    assert_int_equal(io.correct, hits);
    assert_float_equal(io.loss_sum, loss, 1e-9 * N * (1 + loss));
    /* a second call adds to the sums; an unset batch gets the default */
    model_free(&b);
    assert_int_equal(model_init(&b, &cfg, &e), 0);
    memcpy(b.params, a.params, sizeof(float) * a.nparams);
    assert_int_equal(model_predict(&b, frames, N, &io, &e), 0);
    assert_int_equal(b.batch, MODEL_PREDICT_BATCH);
    assert_int_equal(io.correct, 2 * hits);
    assert_float_equal(io.loss_sum, 2 * loss, 1e-9 * N * (1 + loss));
    free(frames);
    model_free(&a);
    model_free(&b);
}

/* The tand sign moment (train/'s optimizer state) in a checkpoint: saved with
 * has_state as version 2 (extra bit 1, a 4th array), read back with has_state
 * set and the array handed over by model_load_state; without it the
 * file is version 1 of 3 arrays as before, and a version 1 checkpoint
 * written by an older coinbc (the fuzz seeds) still loads. Header fields
 * that disagree with the size are refused. */
static void put_u32(uint8_t *buf, size_t n, size_t off, uint32_t v) {
    memcpy(buf + off, &v, 4);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
}

static void test_checkpoint_sign(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "nature");
    cfg.hidden = 8;
    model m, m2;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 3);
    model_init_params(&m, &r);
    float *sign = malloc(sizeof(float) * m.nparams);
    assert_non_null(sign);
    for (size_t i = 0; i < m.nparams; i++) sign[i] = (float)((int)(i % 5) - 2) / 2;
    model_ckpt_state s = {.step = 7, .epoch = 1, .rng = r, .best_val = 0.25, .steps_per_epoch = 7, .has_state = 1,
                          .state = sign};
    char path[] = "/tmp/coinbc_ckpt_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(model_save(&m, &s, path, &e), 0);
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    assert_int_equal(n, 168 + sizeof(float) * 4 * m.nparams + 4);
    uint32_t ver;
    uint64_t extra;
    memcpy(&ver, buf + 8, 4), memcpy(&extra, buf + 112, 8);
    assert_int_equal(ver, 2);
    assert_int_equal(extra, 1);
    model_ckpt_state s2;
    assert_int_equal(model_load_mem(&m2, &s2, buf, n, "tand.ckpt", &e), 0);
    assert_int_equal(s2.has_state, 1);
    assert_memory_equal(m2.mem, m.mem, sizeof(float) * m.nparams * 3);
    model_free(&m2);
    float *sign2 = NULL; /* the 4th array: the state, handed over */
    assert_int_equal(model_load_state(&m2, &s2, &sign2, path, &e), 0);
    assert_int_equal(s2.has_state, 1);
    assert_non_null(sign2);
    assert_memory_equal(sign2, sign, sizeof(float) * m.nparams);
    free(sign2);
    model_free(&m2);
    /* damaged: version 2 without the bit, an unknown bit, version 1 with the bit, 3 arrays only */
    put_u32(buf, n, 112, 0);
    assert_true(model_load_mem(&m2, &s2, buf, n, "tand.ckpt", &e) < 0);
    printf("version 2, no extra bits: %s\n", e.msg);
    put_u32(buf, n, 112, 3);
    assert_true(model_load_mem(&m2, &s2, buf, n, "tand.ckpt", &e) < 0);
    printf("unknown extra bit: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "0x3"));
    put_u32(buf, n, 112, 1);
    put_u32(buf, n, 8, 1);
    assert_true(model_load_mem(&m2, &s2, buf, n, "tand.ckpt", &e) < 0);
    printf("version 1 with the bit: %s\n", e.msg);
    put_u32(buf, n, 8, 2);
    size_t n3 = n - sizeof(float) * m.nparams;
    memmove(buf + n3 - 4, buf + n - 4, 4);
    put_u32(buf, n3, 8, 2);
    assert_true(model_load_mem(&m2, &s2, buf, n3, "tand.ckpt", &e) < 0);
    printf("3 arrays only: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "sign moment"));
    free(buf);
    /* without has_state: version 1, 3 arrays, the sign moment not kept */
    s.has_state = 0;
    assert_int_equal(model_save(&m, &s, path, &e), 0);
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    assert_int_equal(n, 168 + sizeof(float) * 3 * m.nparams + 4);
    memcpy(&ver, buf + 8, 4);
    assert_int_equal(ver, 1);
    assert_int_equal(model_load_mem(&m2, &s2, buf, n, "mean.ckpt", &e), 0);
    assert_int_equal(s2.has_state, 0);
    assert_memory_equal(m2.mem, m.mem, sizeof(float) * m.nparams * 3);
    model_free(&m2);
    assert_int_equal(model_load_state(&m2, &s2, &sign2, path, &e), 0);
    assert_null(sign2); /* no sign moment kept */
    model_free(&m2);
    free(buf);
    unlink(path);
    model_free(&m);
    free(sign);
    /* checkpoints from before version 2 (the fuzz seeds), and the tand seed */
    const char *seeds[] = {"tests/fuzz/corpus/checkpoint/impala-tiny.ckpt", "tests/fuzz/corpus/checkpoint/nature-tiny.ckpt",
                           "tests/fuzz/corpus/checkpoint/nature-tiny-tand.ckpt"};
    for (int k = 0; k < 3; k++) {
        if (model_load(&m2, &s2, seeds[k], &e)) fail_msg("%s", e.msg);
        assert_int_equal(s2.has_state, k == 2);
        model_free(&m2);
    }
}

/* A checkpoint whose header was changed and its CRC recomputed: the
 * config no longer matches the parameter count, a clear error. */
static void test_checkpoint_mismatch(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "nature");
    cfg.hidden = 8;
    model m, m2;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    model_ckpt_state s = {.step = 1};
    char path[] = "/tmp/coinbc_ckpt_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(model_save(&m, &s, path, &e), 0);
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    int32_t hidden = 9; /* header: magic[8], version, header_size, net, c0, c1, c2, hidden */
    memcpy(buf + 8 + 4 * 6, &hidden, 4);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    assert_int_equal(cb_write_file_atomic(path, buf, n, &e), 0);
    assert_true(model_load(&m2, NULL, path, &e) < 0);
    printf("mismatch: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "parameters"));
    /* the largest config the header can name, in a small file: refused by
     * its parameter count (checked before the model is allocated) */
    const int32_t big[4] = {1024, 1024, 1024, 65536};
    memcpy(buf + 8 + 4 * 3, big, sizeof big); /* c0, c1, c2, hidden */
    crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    assert_true(model_load_mem(&m2, NULL, buf, n, "big.ckpt", &e) < 0);
    assert_non_null(strstr(e.msg, "big.ckpt"));
    assert_non_null(strstr(e.msg, "hidden 65536"));
    /* the right config, but an all-zero training RNG (saved with s.rng unset) */
    const int32_t ok[4] = {32, 64, 64, 8};
    memcpy(buf + 8 + 4 * 3, ok, sizeof ok);
    crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    assert_true(model_load_mem(&m2, NULL, buf, n, "zero-rng.ckpt", &e) < 0);
    assert_non_null(strstr(e.msg, "RNG"));
    /* a future version */
    uint32_t ver = 99;
    memcpy(buf + 8, &ver, 4);
    crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    assert_int_equal(cb_write_file_atomic(path, buf, n, &e), 0);
    assert_true(model_load(&m2, NULL, path, &e) < 0);
    assert_non_null(strstr(e.msg, "version 99"));
    free(buf);
    unlink(path);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impala_vs_pytorch),         cmocka_unit_test(test_nature_vs_pytorch),
        cmocka_unit_test(test_impala_finite_differences), cmocka_unit_test(test_nature_finite_differences),
        cmocka_unit_test(test_checkpoint), cmocka_unit_test(test_checkpoint_sign),               cmocka_unit_test(test_levels_and_threads),
        cmocka_unit_test(test_checkpoint_mismatch),       cmocka_unit_test(test_tiles_finite_differences),
        cmocka_unit_test(test_maxpool_ties),              cmocka_unit_test(test_predict_equals_per_frame),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
