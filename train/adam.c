/* adam.c - Adam (beta1 --beta1, 0.9 by default; beta2 0.999, eps 1e-8) with L2 or decoupled
 * weight decay, on the model's parameter arena, and temporal AND-mask Adam
 * (tand): Adam whose step is masked per parameter by the agreement of the
 * gradient's sign over time (a sign moment, its optimizer state). Each parameter's
 * update is independent of the others, so blocks of them run on the model's
 * threads with the same result for any thread count; tand's mask counts per
 * tensor are integers, added up exactly in any order. */
#include <math.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#include <stdatomic.h>

#include "train/method.h"

#define ADAM_BLOCK 65536
#define B2 0.999
#define EPS 1e-8

/* One parameter's Adam update: the moments take gradient gi, the step
 * (before any decoupled decay) is returned. The one place it is written. */
static inline double adam_one(float *mo, float *vo, double gi, double b1, double lr, double c1, double c2) {
    *mo = (float)(b1 * *mo + (1 - b1) * gi);
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
    double b1, lr, c1, c2, wd;
    int wd_mode;
} adam_ctx;

/* Parameters [i0, i1) under one weight-decay mode (a constant at each call
 * site below, so each mode compiles to its own loop). With AVX, four at a
 * time in double lanes: the same IEEE operations in the same order as
 * adam_one (conversions, products, sums, quotient, square root), so the
 * same bits; GCC does not vectorize the scalar loop itself because sqrt may
 * set errno. */
static inline void adam_range(float *restrict w, float *restrict mo, float *restrict vo, const float *restrict g, size_t i0,
                              size_t i1, double beta1, double lr, double c1, double c2, double wd, int mode) {
    size_t i = i0;
#ifdef __AVX__
    const __m256d b1 = _mm256_set1_pd(beta1), nb1 = _mm256_set1_pd(1 - beta1), b2 = _mm256_set1_pd(B2),
                  nb2 = _mm256_set1_pd(1 - B2), vlr = _mm256_set1_pd(lr), vc1 = _mm256_set1_pd(c1),
                  vc2 = _mm256_set1_pd(c2), eps = _mm256_set1_pd(EPS), vwd = _mm256_set1_pd(wd),
                  lrwd = _mm256_set1_pd(lr * wd);
    for (; i + 4 <= i1; i += 4) {
        __m256d wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i)), gi = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
        if (mode == TRAIN_WD_L2) gi = _mm256_add_pd(gi, _mm256_mul_pd(vwd, wi));
        __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b1, _mm256_cvtps_pd(_mm_loadu_ps(mo + i))),
                                                  _mm256_mul_pd(nb1, gi)));
        __m128 vf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b2, _mm256_cvtps_pd(_mm_loadu_ps(vo + i))),
                                                  _mm256_mul_pd(_mm256_mul_pd(nb2, gi), gi)));
        _mm_storeu_ps(mo + i, mf);
        _mm_storeu_ps(vo + i, vf);
        __m256d den = _mm256_add_pd(_mm256_sqrt_pd(_mm256_div_pd(_mm256_cvtps_pd(vf), vc2)), eps);
        __m256d step = _mm256_div_pd(_mm256_mul_pd(vlr, _mm256_div_pd(_mm256_cvtps_pd(mf), vc1)), den);
        if (mode == TRAIN_WD_DECOUPLED) step = _mm256_add_pd(step, _mm256_mul_pd(lrwd, wi));
        _mm_storeu_ps(w + i, _mm256_cvtpd_ps(_mm256_sub_pd(wi, step)));
    }
#endif
    for (; i < i1; i++) {
        double gi = g[i];
        if (mode == TRAIN_WD_L2) gi += wd * w[i]; /* after the mask, not masked */
        double step = adam_one(&mo[i], &vo[i], gi, beta1, lr, c1, c2);
        if (mode == TRAIN_WD_DECOUPLED) step += lr * wd * w[i];
        w[i] = (float)(w[i] - step);
    }
}

static int adam_block(void *vctx, int64_t b) {
    const adam_ctx *c = vctx;
    float *w = c->m->params, *mo = c->m->adam_m, *vo = c->m->adam_v;
    size_t i0, i1;
    block_range(c->m, b, &i0, &i1);
    if (c->wd_mode == TRAIN_WD_L2)
        adam_range(w, mo, vo, c->g, i0, i1, c->b1, c->lr, c->c1, c->c2, c->wd, TRAIN_WD_L2);
    else if (c->wd_mode == TRAIN_WD_DECOUPLED)
        adam_range(w, mo, vo, c->g, i0, i1, c->b1, c->lr, c->c1, c->c2, c->wd, TRAIN_WD_DECOUPLED);
    else
        adam_range(w, mo, vo, c->g, i0, i1, c->b1, c->lr, c->c1, c->c2, c->wd, -1);
    return 0;
}

void train_adam_step_b1(model *m, float *g, double lr, double beta1, int64_t t, double wd, int wd_mode) {
    adam_ctx c = {m, g, beta1, lr, 1 - pow(beta1, (double)t), 1 - pow(B2, (double)t), wd, wd_mode};
    int64_t blocks = (int64_t)((m->nparams + ADAM_BLOCK - 1) / ADAM_BLOCK);
    cb_parallel_for(blocks, m->threads, adam_block, &c);
}

void train_adam_step(model *m, float *g, double lr, int64_t t, double wd, int wd_mode) {
    train_adam_step_b1(m, g, lr, TRAIN_BETA1_DEFAULT, t, wd, wd_mode);
}

/* ---- tand ---- */

typedef struct {
    model *m;
    float *sign; /* the sign moment (nparams) */
    const float *g;
    double b1, lr, c1, c2, k, wd, tau;
    int wd_mode;
    _Atomic int64_t on[MODEL_MAX_TENSORS]; /* mask on, per tensor */
} tand_ctx;

/* Parameters [a, z): the sign moment, the mask, Adam; returns how many masks
 * are on. sign holds the bias-corrected moment s_t / (1 - b^t), updated as
 * s^_t = s^_{t-1} + (sign(g_t) - s^_{t-1}) k_t with k_t = (1 - b) / (1 - b^t):
 * the same value as the running moment divided by its correction, but an
 * unbroken run of one sign stays exactly +-1 (k_1 = 1 makes s^_1 = sign(g_1)),
 * where the corrected running moment, kept in floats, falls short of 1. */
static inline int64_t tand_range_mode(tand_ctx *c, size_t a, size_t z, int mode) {
    float *restrict w = c->m->params, *restrict mo = c->m->adam_m, *restrict vo = c->m->adam_v, *restrict sm = c->sign;
    const float *restrict g = c->g;
    const double beta1 = c->b1, lr = c->lr, c1 = c->c1, c2 = c->c2, k = c->k, wd = c->wd, tau = c->tau;
    int64_t on = 0;
    size_t i = a;
#ifdef __AVX__
    /* four at a time in double lanes, the scalar loop's operations in its order */
    const __m256d b1 = _mm256_set1_pd(beta1), nb1 = _mm256_set1_pd(1 - beta1), b2 = _mm256_set1_pd(B2),
                  nb2 = _mm256_set1_pd(1 - B2), vlr = _mm256_set1_pd(lr), vc1 = _mm256_set1_pd(c1),
                  vc2 = _mm256_set1_pd(c2), eps = _mm256_set1_pd(EPS), vwd = _mm256_set1_pd(wd),
                  lrwd = _mm256_set1_pd(lr * wd), vk = _mm256_set1_pd(k), vtau = _mm256_set1_pd(tau),
                  one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(), absm = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
    for (; i + 4 <= z; i += 4) {
        __m256d gi = _mm256_cvtps_pd(_mm_loadu_ps(g + i)), wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i));
        __m256d sg = _mm256_sub_pd(_mm256_and_pd(_mm256_cmp_pd(gi, zero, _CMP_GT_OQ), one),
                                   _mm256_and_pd(_mm256_cmp_pd(gi, zero, _CMP_LT_OQ), one));
        __m256d s0 = _mm256_cvtps_pd(_mm_loadu_ps(sm + i));
        __m128 sf = _mm256_cvtpd_ps(_mm256_add_pd(s0, _mm256_mul_pd(_mm256_sub_pd(sg, s0), vk)));
        _mm_storeu_ps(sm + i, sf);
        __m256d mask = _mm256_cmp_pd(_mm256_and_pd(_mm256_cvtps_pd(sf), absm), vtau, _CMP_GE_OQ);
        if (mode == TRAIN_WD_L2) gi = _mm256_add_pd(gi, _mm256_mul_pd(vwd, wi));
        __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b1, _mm256_cvtps_pd(_mm_loadu_ps(mo + i))),
                                                  _mm256_mul_pd(nb1, gi)));
        __m128 vf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b2, _mm256_cvtps_pd(_mm_loadu_ps(vo + i))),
                                                  _mm256_mul_pd(_mm256_mul_pd(nb2, gi), gi)));
        _mm_storeu_ps(mo + i, mf);
        _mm_storeu_ps(vo + i, vf);
        __m256d den = _mm256_add_pd(_mm256_sqrt_pd(_mm256_div_pd(_mm256_cvtps_pd(vf), vc2)), eps);
        __m256d step = _mm256_and_pd(_mm256_div_pd(_mm256_mul_pd(vlr, _mm256_div_pd(_mm256_cvtps_pd(mf), vc1)), den), mask);
        if (mode == TRAIN_WD_DECOUPLED) step = _mm256_add_pd(step, _mm256_mul_pd(lrwd, wi));
        _mm_storeu_ps(w + i, _mm256_cvtpd_ps(_mm256_sub_pd(wi, step)));
        on += __builtin_popcount((unsigned)_mm256_movemask_pd(mask));
    }
#endif
    for (; i < z; i++) {
        float gf = g[i];
        double sg = (gf > 0) - (gf < 0); /* sign(0) = 0 */
        sm[i] = (float)(sm[i] + (sg - sm[i]) * k);
        int mask = fabs((double)sm[i]) >= tau;
        double gi = gf;
        if (mode == TRAIN_WD_L2) gi += wd * w[i]; /* Adam sees it; the sign moment did not */
        double step = adam_one(&mo[i], &vo[i], gi, beta1, lr, c1, c2);
        if (!mask) step = 0;
        if (mode == TRAIN_WD_DECOUPLED) step += lr * wd * w[i]; /* not masked */
        w[i] = (float)(w[i] - step);
        on += mask;
    }
    return on;
}

static int64_t tand_range(tand_ctx *c, size_t a, size_t z) {
    if (c->wd_mode == TRAIN_WD_L2) return tand_range_mode(c, a, z, TRAIN_WD_L2);
    if (c->wd_mode == TRAIN_WD_DECOUPLED) return tand_range_mode(c, a, z, TRAIN_WD_DECOUPLED);
    return tand_range_mode(c, a, z, -1);
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

void train_tand_step_b1(model *m, float *sign, float *density, const float *g, double lr, double beta1, int64_t t,
                        double wd, int wd_mode, double tau, double beta) {
    tand_ctx c;
    c.m = m;
    c.sign = sign;
    c.g = g;
    c.b1 = beta1;
    c.lr = lr;
    c.c1 = 1 - pow(beta1, (double)t);
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

void train_tand_step(model *m, float *sign, float *density, const float *g, double lr, int64_t t, double wd, int wd_mode,
                     double tau, double beta) {
    train_tand_step_b1(m, sign, density, g, lr, TRAIN_BETA1_DEFAULT, t, wd, wd_mode, tau, beta);
}

/* ---- the method table's steps (train/method.h) ---- */

void train_step_adam(const train_step_args *a) {
    train_adam_step_b1(a->m, a->g, a->lr, a->beta1, a->t, a->wd, a->wd_mode);
}

void train_step_tand(const train_step_args *a) {
    train_tand_step_b1(a->m, a->state, a->density, a->g, a->lr, a->beta1, a->t, a->wd, a->wd_mode, a->tau, a->tand_beta);
}
