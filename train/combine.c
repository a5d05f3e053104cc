/* combine.c - gradient combiners over levels, per parameter tensor:
 * mean; AND-mask (keep the mean where |mean sign| >= tau); SAND-mask
 * (max(0, tanh(k (|mean sign| - tau) / var)), unbiased variance over levels);
 * geometric mean (sign(mean) * exp(mean log(|g| + 1e-10)) under the AND
 * mask). sign(0) = 0. Rescaling is per tensor. tand's combine is the
 * mean: its mask runs over time, in its optimizer step (train/adam.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/method.h"

static int sgn(float v) { return (v > 0) - (v < 0); }

/* The AND rule, the one place it is written: a parameter passes when
 * |mean of the signs of its L level gradients| >= tau (ssum: their sum;
 * sign(0) = 0). */
static inline double and_mask(int ssum, int L, double tau) { return fabs((double)ssum) / L >= tau ? 1 : 0; }

static void sums(const float *g, int L, size_t P, double *mean, int *ssum) {
    double sum = 0;
    int ss = 0;
    for (int l = 0; l < L; l++) {
        sum += g[(size_t)l * P];
        ss += sgn(g[(size_t)l * P]);
    }
    *mean = sum / L;
    *ssum = ss;
}

static double comb_mean(float *dst, const float *g, int L, size_t P, const train_combine_opts *o) {
    (void)o;
    double mean;
    int ssum;
    sums(g, L, P, &mean, &ssum);
    *dst = (float)mean;
    return 1;
}

static double comb_and(float *dst, const float *g, int L, size_t P, const train_combine_opts *o) {
    double mean;
    int ssum;
    sums(g, L, P, &mean, &ssum);
    double mask = and_mask(ssum, L, o->tau);
    *dst = (float)(mask * mean);
    return mask;
}

static double comb_sand(float *dst, const float *g, int L, size_t P, const train_combine_opts *o) {
    double mean, var = 0, mask;
    int ssum;
    sums(g, L, P, &mean, &ssum);
    for (int l = 0; l < L; l++) {
        double d = g[(size_t)l * P] - mean;
        var += d * d;
    }
    var = L > 1 ? var / (L - 1) : 0;
    double a = fabs((double)ssum) / L - o->tau;
    if (var > 0) {
        double x = o->sand_k * a / var;
        mask = x > 0 ? tanh(x) : 0; /* max(0, tanh(x)) */
    } else {
        mask = a > 0 ? 1 : 0; /* the limit of tanh(+-inf); a = 0 gives 0 (SAND uses >) */
    }
    *dst = (float)(mask * mean);
    return mask;
}

static double comb_geomean(float *dst, const float *g, int L, size_t P, const train_combine_opts *o) {
    double mean, lg = 0;
    int ssum;
    sums(g, L, P, &mean, &ssum);
    double mask = and_mask(ssum, L, o->tau); /* the geometric mean under the AND mask */
    for (int l = 0; l < L; l++) lg += log(fabs((double)g[(size_t)l * P]) + 1e-10);
    *dst = (float)(mask * sgn((float)mean) * exp(lg / L));
    return mask;
}

/* AND's mask from the sign sums */
static void mask_and(double *mask, const int *ssum, int n, int L, const train_combine_opts *o) {
    for (int i = 0; i < n; i++) mask[i] = and_mask(ssum[i], L, o->tau);
}
#define mask_none NULL

/* train/'s half of the method table (run/run.h) */
#define ENTRY(ID, name, options, split, state, combine, mask, step, help) \
    [RUN_METHOD_##ID] = {comb_##combine, mask_##mask, train_step_##step},
static const train_method_fns FNS[RUN_NMETHODS] = {RUN_METHOD_TABLE(ENTRY)};
#undef ENTRY

const train_method_fns *train_method_fns_of(int m) { return m >= 0 && m < RUN_NMETHODS ? &FNS[m] : NULL; }

const train_method_info *train_method(int m) { return run_method(m); }

const char *train_method_name(int m) { return run_method_name(m); }

int train_method_parse(const char *s, int *m) { return run_method_parse(s, m); }

static double combine_one(float *dst, const float *g, int L, size_t P, const train_combine_opts *o) {
    return FNS[o->method].comb(dst, g, L, P, o);
}

/* the method rescales by its mask's share (it reads --rescale, and --rescale is on) */
static int rescales(const train_combine_opts *o) { return (run_method(o->method)->options & RUN_MOPT_RESCALE) && o->rescale; }

/* The parameters are cut into blocks of at most COMB_BLOCK within a tensor;
 * blocks run in parallel, each summing its mask into its own slot, and the
 * slots are added in block order: the result does not depend on the threads. */
#define COMB_BLOCK 8192

typedef struct {
    int t;            /* tensor */
    size_t i0, i1;    /* parameter range within it */
    double on;        /* mask mass of the block */
    int bad_level;    /* first non-finite gradient found: level (-1: none) */
    size_t bad_i;     /*   and parameter index in the tensor */
} comb_block;

typedef struct {
    float *out;
    const float *grads;
    int L;
    size_t P;
    const model_tensor *tensors;
    const train_combine_opts *o;
    comb_block *blocks;
    const model_level_sums *ls; /* one tensor as level sums, or NULL */
} comb_ctx;

/* One level (the single-level step): its gradient is the sum, its sign
 * the sign count, so one pass in floats gives the values of the general
 * path of combine_block: its sum 0.0 + v is v except that -0.0 turns to
 * +0.0, the mean of one is that sum, and a mask's value is mask * sum with
 * the mask of the sign sum -1, 0 or 1. Returns 0 (nothing written) when the
 * block holds a non-finite value, which the general path reports. */
static int one_level_block(const comb_ctx *c, comb_block *k) {
    const model_tensor *T = &c->tensors[k->t];
    const train_mask_fn mask_of = FNS[c->o->method].mask;
    const float *g0 = c->grads + T->off + k->i0;
    float *dst = c->out + T->off + k->i0;
    size_t n = k->i1 - k->i0;
    double on = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad |= !(fabsf(g0[i]) <= FLT_MAX);
    if (bad) return 0;
    if (!mask_of) {
        for (size_t i = 0; i < n; i++) dst[i] = g0[i] + 0.0f;
        on = (double)n;
    } else {
        const int signs[3] = {-1, 0, 1};
        double m3[3];
        mask_of(m3, signs, 3, 1, c->o);
        for (size_t i = 0; i < n; i++) {
            double mask = m3[(g0[i] > 0) - (g0[i] < 0) + 1];
            dst[i] = (float)(mask * (0.0 + (double)g0[i]));
            on += mask;
        }
    }
    k->on = on;
    return 1;
}

/* The methods whose reduction splits (mean, tand, AND: the sums of the
 * gradients and of their signs are all they need) run level-major over
 * sub-blocks of SUB parameters (each level's stretch read contiguously, the
 * sums vectorizable), then their mask from the sign sums (none: the plain
 * mean); the per-element sums keep the level order, so the result is the
 * same as combine_one's. The others (SAND, the geometric mean), and any
 * sub-block holding a non-finite value, go element by element. */
#define SUB 512

static int combine_block(void *vctx, int64_t b) {
    comb_ctx *c = vctx;
    comb_block *k = &c->blocks[b];
    const model_tensor *T = &c->tensors[k->t];
    const int L = c->L, split = run_method(c->o->method)->split;
    const train_mask_fn mask_of = FNS[c->o->method].mask;
    double on = 0, sum[SUB], maskv[SUB];
    int ssum[SUB];
    if (L == 1 && split && one_level_block(c, k)) return 0;
    const model_level_sums *ls = c->ls && c->ls->tensor == k->t ? c->ls : NULL;
    if (ls && ls->bad_level >= 0 && (size_t)ls->bad_i >= k->i0 && (size_t)ls->bad_i < k->i1) {
        k->bad_level = ls->bad_level;
        k->bad_i = (size_t)ls->bad_i;
        return 0;
    }
    for (size_t i0 = k->i0; i0 < k->i1; i0 += SUB) {
        int n = (int)(k->i1 - i0 < SUB ? k->i1 - i0 : SUB), bad = 0;
        const float *g0 = c->grads + T->off + i0;
        /* the sums: read where model_backward_sums made them (as the level
         * gradients' would have been), or made here */
        const double *sp = ls ? ls->sum + i0 : sum;
        const int *kp = ls ? ls->ssum + i0 : ssum;
        if (split && !ls) {
            for (int i = 0; i < n; i++) sum[i] = 0, ssum[i] = 0;
            for (int l = 0; l < L; l++) {
                const float *g = g0 + (size_t)l * c->P;
                for (int i = 0; i < n; i++) {
                    float v = g[i];
                    bad |= !(fabsf(v) <= FLT_MAX);
                    sum[i] += v;
                    ssum[i] += (v > 0) - (v < 0);
                }
            }
        }
        if (split && !mask_of && !bad) {
            for (int i = 0; i < n; i++) c->out[T->off + i0 + i] = (float)(sp[i] / L);
            on += n;
        } else if (split && !bad) {
            float *dst = c->out + T->off + i0;
            mask_of(maskv, kp, n, L, c->o);
            for (int i = 0; i < n; i++) {
                dst[i] = (float)(maskv[i] * (sp[i] / L));
                on += maskv[i];
            }
        } else {
            for (int i = 0; i < n; i++) {
                const float *g = g0 + i;
                for (int l = 0; l < L; l++)
                    if (!isfinite(g[(size_t)l * c->P])) {
                        k->bad_level = l;
                        k->bad_i = i0 + i;
                        return 0;
                    }
                on += combine_one(c->out + T->off + i0 + i, g, L, c->P, c->o);
            }
        }
    }
    k->on = on;
    return 0;
}

int train_combine_takes_sums(int m) { return run_method(m) && run_method(m)->split; }

int train_combine(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors, int nt,
                  const train_combine_opts *o, cb_err *e) {
    return train_combine_sums(out, density, grads, L, P, tensors, nt, o, NULL, e);
}

int train_combine_sums(float *out, float *density, const float *grads, int L, size_t P, const model_tensor *tensors,
                       int nt, const train_combine_opts *o, const model_level_sums *ls, cb_err *e) {
    if (!train_method(o->method)) return cb_fail(e, CB_EARG, "combine: %d is not a method (0..%d)", o->method, TRAIN_NMETHODS - 1);
    if (ls && (!train_combine_takes_sums(o->method) || L < 2 || ls->tensor < 0 || ls->tensor >= nt))
        return cb_fail(e, CB_EARG, "combine: level sums need a method whose reduction splits, two levels or more and a tensor");
    size_t nb = 0;
    for (int t = 0; t < nt; t++) nb += (tensors[t].size + COMB_BLOCK - 1) / COMB_BLOCK;
    comb_block *blocks = malloc(sizeof *blocks * (nb ? nb : 1));
    if (!blocks) return cb_fail(e, CB_ENOMEM, "combine: out of memory");
    nb = 0;
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < tensors[t].size; i += COMB_BLOCK)
            blocks[nb++] = (comb_block){t, i, i + COMB_BLOCK < tensors[t].size ? i + COMB_BLOCK : tensors[t].size, 0, -1, 0};
    comb_ctx c = {out, grads, L, P, tensors, o, blocks, ls};
    cb_parallel_for((int64_t)nb, o->threads > 1 ? o->threads : 1, combine_block, &c);
    for (size_t b = 0; b < nb; b++)
        if (blocks[b].bad_level >= 0) {
            const model_tensor *T = &tensors[blocks[b].t];
            size_t i = blocks[b].bad_i;
            int l = blocks[b].bad_level;
            double v = ls && blocks[b].t == ls->tensor ? (double)ls->bad_v : (double)grads[(size_t)l * P + T->off + i];
            int rc = cb_fail(e, CB_ERANGE, "gradient of level %d is not finite (%g) in tensor %s", l, v, T->name);
            free(blocks);
            return rc;
        }
    size_t b = 0;
    for (int t = 0; t < nt; t++) {
        const model_tensor *T = &tensors[t];
        double on = 0; /* mask mass, added block by block in order */
        for (; b < nb && blocks[b].t == t; b++) on += blocks[b].on;
        double frac = T->size ? on / (double)T->size : 1;
        if (density) density[t] = (float)frac;
        if (rescales(o) && frac > 0) {
            float s = (float)(1.0 / frac), *dst = out + T->off;
            for (size_t i = 0; i < T->size; i++) dst[i] *= s;
        }
    }
    free(blocks);
    return 0;
}

/* ---- under mpirun: this rank holds levels [l0, l0 + nl) of the L ----------
 * mean, tand and AND: the per-parameter sums of g pass through the ranks in
 * level order (cb_dist_chain_f64), so they are the very doubles one process
 * adds; AND's sign counts are summed with MPI_Allreduce as int32 (exact).
 * The mask, density and rescale below are train_combine's, so the result is
 * bit-identical to one process. SAND and geomean gather every level's
 * gradient (in level order) and run train_combine itself. */
typedef struct {
    const float *g; /* this rank's first level */
    int nl, l0, counts;
    size_t P;
    int32_t *cnt;
    int64_t bad_level, bad_i; /* first non-finite value (-1: none) */
} dist_add_ctx;

static void dist_add(void *vctx, double *acc, int64_t off, int64_t len) {
    dist_add_ctx *c = vctx;
    for (int l = 0; l < c->nl; l++) {
        const float *g = c->g + (size_t)l * c->P + off;
        int bad = 0;
        for (int64_t j = 0; j < len; j++) {
            bad |= !(fabsf(g[j]) <= FLT_MAX);
            acc[j] += g[j];
        }
        if (c->counts)
            for (int64_t j = 0; j < len; j++) c->cnt[off + j] += (g[j] > 0) - (g[j] < 0);
        if (bad)
            for (int64_t j = 0; j < len; j++)
                if (!(fabsf(g[j]) <= FLT_MAX) && (c->bad_level < 0 || c->l0 + l < c->bad_level ||
                                                   (c->l0 + l == c->bad_level && off + j < c->bad_i))) {
                    c->bad_level = c->l0 + l;
                    c->bad_i = off + j;
                }
    }
}

int train_combine_dist(float *out, float *density, float *grads, int L, int l0, int nl, size_t P,
                       const model_tensor *tensors, int nt, const train_combine_opts *o, double *sum, int32_t *cnt,
                       cb_err *e) {
    if (!train_method(o->method)) return cb_fail(e, CB_EARG, "combine: %d is not a method (0..%d)", o->method, TRAIN_NMETHODS - 1);
    int rc, R = cb_dist_size(), me = cb_dist_rank();
    if (!run_method(o->method)->split) { /* SAND, geomean: every level's gradient on every rank */
        if ((rc = cb_dist_allgather(grads, (size_t)nl * P * sizeof(float), e))) return rc;
        return train_combine(out, density, grads, L, P, tensors, nt, o, e);
    }
    memset(sum, 0, sizeof(double) * P);
    const train_mask_fn mask_of = FNS[o->method].mask;
    int counts = mask_of != NULL;
    if (counts) memset(cnt, 0, sizeof(int32_t) * P);
    dist_add_ctx c = {grads + (size_t)l0 * P, nl, l0, counts, P, cnt, -1, 0};
    /* chunks of the chain: a pipeline of n/c + R - 1 chunk times; c = sqrt(n a / (R - 1)), a = 3125 doubles
     * (20 us of latency at 10 Gb/s) minimizes it (docs/MPI.md), kept in 1024..65536 */
    int64_t chunk = R > 1 ? (int64_t)sqrt((double)P * 3125.0 / (R - 1)) : (int64_t)P;
    chunk = chunk < 1024 ? 1024 : chunk > 65536 ? 65536 : chunk;
    if ((rc = cb_dist_chain_f64(sum, (int64_t)P, chunk, dist_add, &c, e))) return rc;
    if (counts && (rc = cb_dist_allreduce_i32(cnt, (int64_t)P, e))) return rc;
    /* which rank saw a non-finite value first (lowest level, then parameter) */
    int64_t *bad = calloc(2 * (size_t)R, sizeof *bad);
    if (!bad) return cb_fail(e, CB_ENOMEM, "combine: out of memory");
    bad[2 * me] = c.bad_level + 1;
    bad[2 * me + 1] = c.bad_i;
    if ((rc = cb_dist_allreduce_i64(bad, 2 * R, e))) return free(bad), rc;
    for (int r = 0; r < R; r++)
        if (bad[2 * r]) {
            int64_t i = bad[2 * r + 1], l = bad[2 * r] - 1;
            int t = 0;
            while (t + 1 < nt && (size_t)i >= tensors[t].off + tensors[t].size) t++;
            free(bad);
            return cb_fail(e, CB_ERANGE, "gradient of level %lld is not finite in tensor %s (rank %d)", (long long)l,
                           tensors[t].name, r);
        }
    free(bad);
    for (int t = 0; t < nt; t++) {
        const model_tensor *T = &tensors[t];
        double on = 0;
        float *dst = out + T->off;
        const double *s = sum + T->off;
        if (!mask_of) {
            for (size_t i = 0; i < T->size; i++) dst[i] = (float)(s[i] / L);
            on = (double)T->size;
        } else {
            const int32_t *k = cnt + T->off;
            for (size_t i0 = 0; i0 < T->size; i0 += SUB) {
                int n = (int)(T->size - i0 < SUB ? T->size - i0 : SUB), ss[SUB];
                double mv[SUB];
                for (int i = 0; i < n; i++) ss[i] = k[i0 + i];
                mask_of(mv, ss, n, L, o);
                for (int i = 0; i < n; i++) {
                    dst[i0 + i] = (float)(mv[i] * (s[i0 + i] / L));
                    on += mv[i];
                }
            }
        }
        double frac = T->size ? on / (double)T->size : 1;
        if (density) density[t] = (float)frac;
        if (rescales(o) && frac > 0) {
            float sc = (float)(1.0 / frac);
            for (size_t i = 0; i < T->size; i++) dst[i] *= sc;
        }
    }
    return 0;
}
