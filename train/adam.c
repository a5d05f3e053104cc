/* adam.c - Adam (beta1 0.9, beta2 0.999, eps 1e-8) with L2 or decoupled
 * weight decay, on the model's parameter arena. Each parameter's update is
 * independent of the others, so blocks of them run on the model's threads
 * with the same result for any thread count. */
#include <math.h>

#include "train/train.h"

#define ADAM_BLOCK 65536

typedef struct {
    model *m;
    const float *g;
    double lr, c1, c2, wd;
    int wd_mode;
} adam_ctx;

static int adam_block(void *vctx, int64_t b) {
    const adam_ctx *c = vctx;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    float *w = c->m->params, *mo = c->m->adam_m, *vo = c->m->adam_v;
    size_t i0 = (size_t)b * ADAM_BLOCK, i1 = i0 + ADAM_BLOCK < c->m->nparams ? i0 + ADAM_BLOCK : c->m->nparams;
    for (size_t i = i0; i < i1; i++) {
        double gi = c->g[i];
        if (c->wd_mode == TRAIN_WD_L2) gi += c->wd * w[i]; /* after the mask, not masked */
        mo[i] = (float)(b1 * mo[i] + (1 - b1) * gi);
        vo[i] = (float)(b2 * vo[i] + (1 - b2) * gi * gi);
        double step = c->lr * (mo[i] / c->c1) / (sqrt(vo[i] / c->c2) + eps);
        if (c->wd_mode == TRAIN_WD_DECOUPLED) step += c->lr * c->wd * w[i];
        w[i] = (float)(w[i] - step);
    }
    return 0;
}

void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode) {
    adam_ctx c = {m, g, lr, 1 - pow(0.9, (double)t), 1 - pow(0.999, (double)t), wd, wd_mode};
    int64_t blocks = (int64_t)((m->nparams + ADAM_BLOCK - 1) / ADAM_BLOCK);
    cb_parallel_for(blocks, m->threads, adam_block, &c);
}
