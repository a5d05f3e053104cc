/* argmax.c - the one argmax of coinbc (common.h: cb_argmax). */
#include "common/common.h"

int cb_argmax(const float *x, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (x[i] == x[i] && (best < 0 || x[i] > x[best])) best = i;
    return best < 0 ? 0 : best;
}
