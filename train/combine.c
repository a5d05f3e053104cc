/* combine.c - gradient combiners over levels, per parameter tensor:
 * mean; AND-mask (keep the mean where |mean sign| >= tau); SAND-mask
 * (max(0, tanh(k (|mean sign| - tau) / var)), unbiased variance over levels);
 * geometric mean (sign(mean) * exp(mean log(|g| + 1e-10)) under the AND
 * mask). sign(0) = 0. Rescaling is per tensor. */
#include <math.h>
#include <string.h>

#include "train/train.h"

const char *train_method_name(int m) {
    switch (m) {
    case TRAIN_AND: return "and";
    case TRAIN_SAND: return "sand";
    case TRAIN_GEOMEAN: return "geomean";
    default: return "mean";
    }
}

int train_method_parse(const char *s, int *m) {
    for (int k = 0; k < 4; k++)
        if (!strcmp(s, train_method_name(k))) {
            *m = k;
            return 0;
        }
    return CB_EARG;
}

static int sgn(float v) { return (v > 0) - (v < 0); }

int train_combine(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors, int nt,
                  const train_combine_opts *o, cb_err *e) {
    for (int t = 0; t < nt; t++) {
        const model_tensor *T = &tensors[t];
        for (int l = 0; l < L; l++) {
            const float *g = grads + (size_t)l * P + T->off;
            for (size_t i = 0; i < T->size; i++)
                if (!isfinite(g[i]))
                    return cb_fail(e, CB_ERANGE, "gradient of level %d is not finite (%g) in tensor %s", l, (double)g[i],
                                   T->name);
        }
    }
    for (int t = 0; t < nt; t++) {
        const model_tensor *T = &tensors[t];
        float *dst = out + T->off;
        double on = 0; /* mask mass */
        for (size_t i = 0; i < T->size; i++) {
            double sum = 0;
            int ssum = 0;
            for (int l = 0; l < L; l++) {
                float g = grads[(size_t)l * P + T->off + i];
                sum += g;
                ssum += sgn(g);
            }
            double mean = sum / L, agree = fabs((double)ssum) / L, v;
            double mask = 1;
            switch (o->method) {
            case TRAIN_MEAN: v = mean; break;
            case TRAIN_AND:
                mask = agree >= o->tau ? 1 : 0;
                v = mask * mean;
                break;
            case TRAIN_SAND: {
                double var = 0;
                for (int l = 0; l < L; l++) {
                    double d = grads[(size_t)l * P + T->off + i] - mean;
                    var += d * d;
                }
                var = L > 1 ? var / (L - 1) : 0;
                double a = agree - o->tau;
                if (var > 0) {
                    double x = o->sand_k * a / var;
                    mask = x > 0 ? tanh(x) : 0; /* max(0, tanh(x)) */
                } else {
                    mask = a > 0 ? 1 : 0; /* the limit of tanh(+-inf); a = 0 gives 0 (SAND uses >) */
                }
                v = mask * mean;
                break;
            }
            default: { /* geometric mean under the AND mask */
                mask = agree >= o->tau ? 1 : 0;
                double lg = 0;
                for (int l = 0; l < L; l++) lg += log(fabs((double)grads[(size_t)l * P + T->off + i]) + 1e-10);
                v = mask * sgn((float)mean) * exp(lg / L);
                break;
            }
            }
            on += mask;
            dst[i] = (float)v;
        }
        double frac = T->size ? on / (double)T->size : 1;
        if (density) density[t] = (float)frac;
        if (o->method != TRAIN_MEAN && o->rescale && frac > 0) {
            float s = (float)(1.0 / frac);
            for (size_t i = 0; i < T->size; i++) dst[i] *= s;
        }
    }
    return 0;
}
