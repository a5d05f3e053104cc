/* adam.c - Adam (beta1 0.9, beta2 0.999, eps 1e-8) with L2 or decoupled
 * weight decay, on the model's parameter arena, and temporal AND-mask Adam
 * (tand): Adam whose step is masked per parameter by the agreement of the
 * gradient's sign over time (a sign moment in m->sign_m). Each parameter's
 * update is independent of the others, so blocks of them run on the model's
 * threads with the same result for any thread count; tand's mask counts per
 * tensor are integers, added up exactly in any order. */
#include <math.h>
#include <stdatomic.h>

#include "train/train.h"

#define ADAM_BLOCK 65536
#define B1 0.9
#define B2 0.999
#define EPS 1e-8

/* One parameter's Adam update: the moments take gradient gi, the step
 * (before any decoupled decay) is returned. The one place it is written. */
static inline double adam_one(float *mo, float *vo, double gi, double lr, double c1, double c2) {
    *mo = (float)(B1 * *mo + (1 - B1) * gi);
    *vo = (float)(B2 * *vo + (1 - B2) * gi * gi);
    return lr * (*mo / c1) / (sqrt(*vo / c2) + EPS);
}

static void block_range(const model *m, int64_t b, size_t *i0, size_t *i1) {
    *i0 = (size_t)b * ADAM_BLOCK;
    *i1 = *i0 + ADAM_BLOCK < m->nparams ? *i0 + ADAM_BLOCK : m->nparams;
}

typedef struct {
    model *m;
    const float *g;
    double lr, c1, c2, wd;
    int wd_mode;
} adam_ctx;

static int adam_block(void *vctx, int64_t b) {
    const adam_ctx *c = vctx;
    float *w = c->m->params, *mo = c->m->adam_m, *vo = c->m->adam_v;
    size_t i0, i1;
    block_range(c->m, b, &i0, &i1);
    for (size_t i = i0; i < i1; i++) {
        double gi = c->g[i];
        if (c->wd_mode == TRAIN_WD_L2) gi += c->wd * w[i]; /* after the mask, not masked */
        double step = adam_one(&mo[i], &vo[i], gi, c->lr, c->c1, c->c2);
        if (c->wd_mode == TRAIN_WD_DECOUPLED) step += c->lr * c->wd * w[i];
        w[i] = (float)(w[i] - step);
    }
    return 0;
}

void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode) {
    adam_ctx c = {m, g, lr, 1 - pow(B1, (double)t), 1 - pow(B2, (double)t), wd, wd_mode};
    int64_t blocks = (int64_t)((m->nparams + ADAM_BLOCK - 1) / ADAM_BLOCK);
    cb_parallel_for(blocks, m->threads, adam_block, &c);
}

/* ---- tand ---- */

typedef struct {
    model *m;
    const float *g;
    double lr, c1, c2, k, wd, tau;
    int wd_mode;
    _Atomic int64_t on[MODEL_MAX_TENSORS]; /* mask on, per tensor */
} tand_ctx;

/* Parameters [a, z): the sign moment, the mask, Adam; returns how many masks
 * are on. sign_m holds the bias-corrected moment s_t / (1 - b^t), updated as
 * s^_t = s^_{t-1} + (sign(g_t) - s^_{t-1}) k_t with k_t = (1 - b) / (1 - b^t):
 * the same value as the running moment divided by its correction, but an
 * unbroken run of one sign stays exactly +-1 (k_1 = 1 makes s^_1 = sign(g_1)),
 * where the corrected running moment, kept in floats, falls short of 1. */
static int64_t tand_range(tand_ctx *c, size_t a, size_t z) {
    float *w = c->m->params, *mo = c->m->adam_m, *vo = c->m->adam_v, *sm = c->m->sign_m;
    int64_t on = 0;
    for (size_t i = a; i < z; i++) {
        float gf = c->g[i];
        double sg = (gf > 0) - (gf < 0); /* sign(0) = 0 */
        sm[i] = (float)(sm[i] + (sg - sm[i]) * c->k);
        int mask = fabs((double)sm[i]) >= c->tau;
        double gi = gf;
        if (c->wd_mode == TRAIN_WD_L2) gi += c->wd * w[i]; /* Adam sees it; the sign moment did not */
        double step = adam_one(&mo[i], &vo[i], gi, c->lr, c->c1, c->c2);
        if (!mask) step = 0;
        if (c->wd_mode == TRAIN_WD_DECOUPLED) step += c->lr * c->wd * w[i]; /* not masked */
        w[i] = (float)(w[i] - step);
        on += mask;
    }
    return on;
}

static int tand_block(void *vctx, int64_t b) {
    tand_ctx *c = vctx;
    const model *m = c->m;
    size_t i0, i1, i;
    block_range(m, b, &i0, &i1);
    i = i0;
    /* the tensors lie in the arena in order; the block's piece of each is counted to it */
    for (int t = 0; t < m->ntensors && i < i1; t++) {
        size_t a = m->tensors[t].off, z = a + m->tensors[t].size;
        if (z <= i) continue;
        if (a >= i1) break;
        if (a > i) tand_range(c, i, a); /* outside every tensor (not in a model's arena) */
        if (a < i) a = i;
        if (z > i1) z = i1;
        atomic_fetch_add_explicit(&c->on[t], tand_range(c, a, z), memory_order_relaxed);
        i = z;
    }
    if (i < i1) tand_range(c, i, i1);
    return 0;
}

void train_tand_step(model *m, float *density, const float *g, double lr, int64_t t, double wd, int wd_mode, double tau,
                     double beta) {
    tand_ctx c;
    c.m = m;
    c.g = g;
    c.lr = lr;
    c.c1 = 1 - pow(B1, (double)t);
    c.c2 = 1 - pow(B2, (double)t);
    c.k = (1 - beta) / (1 - pow(beta, (double)t)); /* 1 at t = 1 */
    c.wd = wd;
    c.tau = tau;
    c.wd_mode = wd_mode;
    for (int k = 0; k < MODEL_MAX_TENSORS; k++) atomic_init(&c.on[k], 0);
    int64_t blocks = (int64_t)((m->nparams + ADAM_BLOCK - 1) / ADAM_BLOCK);
    cb_parallel_for(blocks, m->threads, tand_block, &c);
    if (density)
        for (int k = 0; k < m->ntensors; k++)
            density[k] = m->tensors[k].size ? (float)((double)atomic_load(&c.on[k]) / (double)m->tensors[k].size) : 1;
}
