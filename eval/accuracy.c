/* accuracy.c - offline accuracy of a policy against the expert's labels:
 * overall, with CoinRun-equivalent actions merged, per level, confusion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

void eval_acc_init(eval_acc *a) { memset(a, 0, sizeof *a); }

void eval_acc_free(eval_acc *a) {
    free(a->levels);
    memset(a, 0, sizeof *a);
}

int eval_acc_add(eval_acc *a, int32_t seed, const uint8_t *labels, const float *probs, int64_t n, cb_err *e) {
    if (a->nlevels == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        eval_level_acc *l = realloc(a->levels, sizeof *l * (size_t)cap);
        if (!l) return cb_fail(e, CB_ENOMEM, "eval: out of memory");
        a->levels = l;
        a->cap = cap;
    }
    eval_level_acc *lv = &a->levels[a->nlevels++];
    memset(lv, 0, sizeof *lv);
    lv->seed = seed;
    for (int64_t i = 0; i < n; i++) {
        int y = labels[i];
        if (y >= CB_NUM_ACTIONS) return cb_fail(e, CB_EFORMAT, "level %d: frame %lld has label %d outside 0..14", seed, (long long)i, y);
        const float *p = probs + i * CB_NUM_ACTIONS;
        int best = cb_argmax(p, CB_NUM_ACTIONS);
        double py = p[y] > 1e-30f ? p[y] : 1e-30;
        lv->n++;
        lv->correct += best == y;
        lv->correct_merged += eval_merge_action(best) == eval_merge_action(y);
        lv->loss_sum += -log(py);
        a->confusion[y][best]++;
    }
    a->n += lv->n;
    a->correct += lv->correct;
    a->correct_merged += lv->correct_merged;
    a->loss_sum += lv->loss_sum;
    return 0;
}

void eval_acc_summarize(eval_acc_summary *s, const eval_acc *a) {
    memset(s, 0, sizeof *s);
    if (a->n > 0) {
        s->acc = (double)a->correct / a->n;
        s->acc_merged = (double)a->correct_merged / a->n;
        s->loss = a->loss_sum / a->n;
    }
    int k = 0;
    double m = 0, v = 0;
    for (int i = 0; i < a->nlevels; i++)
        if (a->levels[i].n > 0) {
            m += (double)a->levels[i].correct / a->levels[i].n;
            k++;
        }
    m = k ? m / k : 0;
    for (int i = 0; i < a->nlevels; i++)
        if (a->levels[i].n > 0) {
            double d = (double)a->levels[i].correct / a->levels[i].n - m;
            v += d * d;
        }
    s->level_mean = m;
    s->level_std = k > 1 ? sqrt(v / (k - 1)) : 0;
    /* the five worst levels by accuracy, ties by seed */
    s->nworst = 0;
    for (int w = 0; w < 5; w++) {
        int best = -1;
        double bacc = 2;
        for (int i = 0; i < a->nlevels; i++) {
            if (a->levels[i].n == 0) continue;
            int taken = 0;
            for (int j = 0; j < s->nworst; j++) taken |= s->worst[j] == i;
            if (taken) continue;
            double acc = (double)a->levels[i].correct / a->levels[i].n;
            if (acc < bacc || (acc == bacc && best >= 0 && a->levels[i].seed < a->levels[best].seed)) {
                bacc = acc;
                best = i;
            }
        }
        if (best < 0) break;
        s->worst[s->nworst++] = best;
    }
}
