/* adam.c - Adam (beta1 0.9, beta2 0.999, eps 1e-8) with L2 or decoupled
 * weight decay, on the model's parameter arena. */
#include <math.h>

#include "train/train.h"

void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    float *w = m->params, *mo = m->adam_m, *vo = m->adam_v;
    for (size_t i = 0; i < m->nparams; i++) {
        double gi = g[i];
        if (wd_mode == TRAIN_WD_L2) gi += wd * w[i]; /* after the mask, not masked */
        mo[i] = (float)(b1 * mo[i] + (1 - b1) * gi);
        vo[i] = (float)(b2 * vo[i] + (1 - b2) * gi * gi);
        double step = lr * (mo[i] / c1) / (sqrt(vo[i] / c2) + eps);
        if (wd_mode == TRAIN_WD_DECOUPLED) step += lr * wd * w[i];
        w[i] = (float)(w[i] - step);
    }
}
