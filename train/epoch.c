/* epoch.c - the batches of one epoch under --sampling epoch: every level's
 * frames in a shuffled order cut into chunks of B, the (level, chunk) pairs
 * of all levels shuffled and dealt L to a step, from distinct levels where
 * the remaining chunks allow it. The order is a function of the run's seed
 * and the epoch number alone (its own RNG stream per epoch), so a resume in
 * the middle of an epoch rebuilds it exactly; docs/METHODS.md has the rule. */
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

/* the stream of the epoch's RNG: "epoch" in ASCII, plus the epoch number */
#define EPOCH_STREAM 0x65706f6368000000ull

int64_t train_epoch_steps(const int64_t *nframes, int n_levels, int L, int B) {
    int64_t chunks = 0;
    for (int i = 0; i < n_levels; i++) chunks += nframes[i] / B;
    return L > 0 ? chunks / L : 0;
}

void train_epoch_plan_free(train_epoch_plan *p) {
    free(p->level);
    free(p->frame);
    memset(p, 0, sizeof *p);
}

int train_epoch_plan_make(train_epoch_plan *p, const int64_t *nframes, int n_levels, int L, int B, uint64_t seed,
                          int64_t epoch, cb_err *e) {
    memset(p, 0, sizeof *p);
    if (n_levels < 1 || L < 1 || B < 1)
        return cb_fail(e, CB_EARG, "train: an epoch plan of %d levels, %d per step, %d frames each", n_levels, L, B);
    int64_t chunks = 0, total = 0;
    for (int i = 0; i < n_levels; i++) {
        if (nframes[i] < 1 || nframes[i] > UINT32_MAX)
            return cb_fail(e, CB_EARG, "train: level %d of the epoch plan has %lld frames", i, (long long)nframes[i]);
        chunks += nframes[i] / B;
        total += nframes[i];
    }
    int64_t steps = chunks / L;
    if (steps < 1)
        return cb_fail(e, CB_EARG, "train: --sampling epoch: the %d training levels hold %lld whole chunks of "
                       "--batch-frames %d, fewer than the %d levels of one step (give a smaller --batch-frames or "
                       "--batch-levels)", n_levels, (long long)chunks, B, L);
    cb_rng r;
    cb_rng_seed2(&r, seed, EPOCH_STREAM + (uint64_t)epoch);
    /* every level's frames in a shuffled order, level after level */
    uint32_t *order = malloc(sizeof *order * (size_t)total);
    int64_t *start = malloc(sizeof *start * (size_t)n_levels);
    int32_t *cl = malloc(sizeof *cl * (size_t)chunks); /* the chunk's level */
    int32_t *cc = malloc(sizeof *cc * (size_t)chunks); /* its index in that level */
    p->level = malloc(sizeof *p->level * (size_t)(steps * L));
    p->frame = malloc(sizeof *p->frame * (size_t)(steps * L * B));
    if (!order || !start || !cl || !cc || !p->level || !p->frame) {
        free(order);
        free(start);
        free(cl);
        free(cc);
        train_epoch_plan_free(p);
        return cb_fail(e, CB_ENOMEM, "train: out of memory for the epoch's order of %lld frames", (long long)total);
    }
    int64_t off = 0, k = 0;
    for (int i = 0; i < n_levels; i++) {
        uint32_t n = (uint32_t)nframes[i], *o = order + off;
        start[i] = off;
        for (uint32_t f = 0; f < n; f++) o[f] = f;
        for (uint32_t f = n - 1; f > 0; f--) {
            uint32_t j = cb_rng_below(&r, f + 1), tmp = o[f];
            o[f] = o[j];
            o[j] = tmp;
        }
        for (int64_t c = 0; c < nframes[i] / B; c++, k++) {
            cl[k] = i;
            cc[k] = (int32_t)c;
        }
        off += n;
    }
    for (int64_t j = chunks - 1; j > 0; j--) { /* the chunks, shuffled (chunks < 2^32: frames are counted in int64) */
        int64_t x = (int64_t)(j < UINT32_MAX ? cb_rng_below(&r, (uint32_t)(j + 1)) : cb_rng_u64(&r) % (uint64_t)(j + 1));
        int32_t a = cl[j], b = cc[j];
        cl[j] = cl[x], cc[j] = cc[x];
        cl[x] = a, cc[x] = b;
    }
    /* dealt L to a step; a chunk whose level the step already has trades
     * places with the first later chunk of a level it has not, or else with
     * the first chunk of an earlier step that can take it (neither: the
     * step keeps the repeat) */
    for (int64_t s = 0; s < steps; s++)
        for (int l = 0; l < L; l++) {
            int64_t j = s * L + l;
            int dup = 0;
            for (int q = 0; q < l && !dup; q++) dup = cl[s * L + q] == cl[j];
            for (int64_t x = j + 1; dup && x < chunks; x++) {
                int clash = 0;
                for (int q = 0; q < l && !clash; q++) clash = cl[s * L + q] == cl[x];
                if (clash) continue;
                int32_t a = cl[j], b = cc[j];
                cl[j] = cl[x], cc[j] = cc[x];
                cl[x] = a, cc[x] = b;
                dup = 0;
            }
            /* none later: trade with a chunk of an earlier step whose level this step lacks, where this
             * chunk's level is not in that step either */
            for (int64_t y = 0; dup && y < s * L; y++) {
                int64_t ys = y / L;
                int clash = 0;
                for (int q = 0; q < l && !clash; q++) clash = cl[s * L + q] == cl[y];
                for (int q = 0; q < L && !clash; q++) clash = ys * L + q != y && cl[ys * L + q] == cl[j];
                if (clash || cl[y] == cl[j]) continue;
                int32_t a = cl[j], b = cc[j];
                cl[j] = cl[y], cc[j] = cc[y];
                cl[y] = a, cc[y] = b;
                p->level[y] = cl[y];
                memcpy(p->frame + (size_t)y * B, order + start[cl[y]] + (int64_t)cc[y] * B, sizeof *p->frame * (size_t)B);
                dup = 0;
            }
            p->level[j] = cl[j];
            memcpy(p->frame + (size_t)j * B, order + start[cl[j]] + (int64_t)cc[j] * B, sizeof *p->frame * (size_t)B);
        }
    p->L = L;
    p->B = B;
    p->steps = steps;
    free(order);
    free(start);
    free(cl);
    free(cc);
    return 0;
}
