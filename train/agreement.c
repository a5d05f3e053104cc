/* agreement.c - the agreement histogram of one step: for every parameter of
 * each tensor, |sum over the L levels of sign(g_l)|, binned into
 * RUN_AGREE_BINS bins on integers (bin min(9, 10 |sum| / L)), the quantity
 * the AND-mask compares with tau. Runs once per epoch on the step's
 * per-level gradients, single-threaded, level-major over short stretches so
 * each level's gradient is read contiguously. */
#include <stdlib.h>

#include "train/train.h"

#define SUB 512

void train_agreement(int64_t (*count)[RUN_AGREE_BINS], const float *grads, int L, size_t P, const model_tensor *tensors,
                     int nt) {
    int ssum[SUB];
    for (int t = 0; t < nt; t++) {
        for (int b = 0; b < RUN_AGREE_BINS; b++) count[t][b] = 0;
        const model_tensor *T = &tensors[t];
        for (size_t i0 = 0; i0 < T->size; i0 += SUB) {
            int n = (int)(T->size - i0 < SUB ? T->size - i0 : SUB);
            for (int i = 0; i < n; i++) ssum[i] = 0;
            for (int l = 0; l < L; l++) {
                const float *g = grads + (size_t)l * P + T->off + i0;
                for (int i = 0; i < n; i++) ssum[i] += (g[i] > 0) - (g[i] < 0);
            }
            for (int i = 0; i < n; i++) {
                int b = abs(ssum[i]) * RUN_AGREE_BINS / L;
                count[t][b < RUN_AGREE_BINS ? b : RUN_AGREE_BINS - 1]++;
            }
        }
    }
}

void train_agreement_sums(int64_t (*count)[RUN_AGREE_BINS], const int32_t *ssum, int L, const model_tensor *tensors,
                          int nt) {
    for (int t = 0; t < nt; t++) {
        for (int b = 0; b < RUN_AGREE_BINS; b++) count[t][b] = 0;
        const int32_t *s = ssum + tensors[t].off;
        for (size_t i = 0; i < tensors[t].size; i++) {
            int b = abs(s[i]) * RUN_AGREE_BINS / L;
            count[t][b < RUN_AGREE_BINS ? b : RUN_AGREE_BINS - 1]++;
        }
    }
}
