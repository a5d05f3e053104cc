/* gemm512.c - an AVX-512 single-precision GEMM that gives the bits of
 * OpenBLAS 0.3.21's SkylakeX sgemm, for the convolutions' forward GEMMs
 * (C = C0 + A B, A: weights, B: the im2col tile read in place, no packing).
 *
 * What OpenBLAS computes there (measured with random data holding zeros, on
 * every shape of the nets and sweeps of M, N, K; docs/PERFORMANCE.md "Round
 * six"): for M N K above 100^3 (its "large" path) every element is
 * C0 + chain(K chunk 1) + chain(K chunk 2) ..., a chain being a fused
 * multiply-add sequence over k from 0.0f, the chunks GEMM_Q = 448 long while
 * at least 2 x 448 are left, else the rest split in two halves rounded up to
 * 16, or whole when at most 448 are left (OpenBLAS on one thread, as the
 * models run it; its threaded driver splits differently). Its small-matrix
 * path (M N K up to 100^3) orders some columns differently, so those calls
 * stay on OpenBLAS.
 * k512_gemm_ok says where this kernel stands in for cblas_sgemm.
 *
 * The register tile is 8 rows x 48 columns (24 accumulators, three B
 * vectors, A broadcast from memory); narrower column tails use 32 or 16
 * wide forms with masked loads and stores, row tails a one-row form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "model/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(COINBC_NO_AVX512)
#include <cblas.h>
#include <immintrin.h>
#define K512 __attribute__((target("avx512f")))

static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static int gemm_machine, gemm_on; /* this machine and library allow it; it is in use */

/* COINBC_OWN_GEMM=0 keeps every GEMM on OpenBLAS (for comparisons) */
static void gemm_probe(void) {
    if (__builtin_cpu_supports("avx512f")) {
        const char *core = openblas_get_corename(), *cfg = openblas_get_config();
        gemm_machine = core && cfg && strcmp(core, "SkylakeX") == 0 && strstr(cfg, "OpenBLAS 0.3.21") != NULL;
    }
    const char *env = getenv("COINBC_OWN_GEMM");
    gemm_on = gemm_machine && !(env && strcmp(env, "0") == 0);
}

int k512_gemm_enabled(void) {
    pthread_once(&gemm_once, gemm_probe);
    return gemm_on;
}

int k512_gemm_use(int on) {
    pthread_once(&gemm_once, gemm_probe);
    gemm_on = on && gemm_machine;
    return gemm_on;
}

int k512_gemm_ok(int M, int N, int K) {
    if (M < 1 || N < 1 || K < 1) return 0;
    if ((double)M * (double)N * (double)K <= 100.0 * 100.0 * 100.0) return 0; /* OpenBLAS's small-matrix path */
    /* OpenBLAS's threaded driver halves K in (448, 896) without rounding to
     * 16 (449: 225 + 224): only its single-thread rule is reproduced, and
     * coinbc's models keep OpenBLAS on one thread */
    if (K > 448 && openblas_get_num_threads() != 1) return 0;
    return k512_gemm_enabled();
}

/* the length of the next K chunk when `left` are left (OpenBLAS's rule) */
static int chunk_len(int left) {
    const int Q = 448;
    if (left >= 2 * Q) return Q;
    if (left > Q) return ((left / 2 + 15) / 16) * 16;
    return left;
}

static __mmask16 lanes(int w) { return w >= 16 ? (__mmask16)0xffff : w <= 0 ? 0 : (__mmask16)((1u << w) - 1); }

/* the first chunk's C0: the bias of row r, C's value (beta 1) or 0 */
K512 static inline __m512 start(const float *cr, __mmask16 m, const float *bias, int r, int beta, int first) {
    if (!first) return _mm512_maskz_loadu_ps(m, cr);
    if (bias) return _mm512_set1_ps(bias[r]);
    return beta ? _mm512_maskz_loadu_ps(m, cr) : _mm512_setzero_ps();
}

#define ACC_ROW(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = c##r##0, c##r##2 = c##r##0;
#define FMA_ROW(r)                                                                                                    \
    {                                                                                                                 \
        __m512 ar = _mm512_set1_ps(TA ? ak[(size_t)k * lda + (r)] : ak[(size_t)(r) * lda + k]);                                                        \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                                                   \
        if (NV > 1) c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                                       \
        if (NV > 2) c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);                                                       \
    }
#define OUT_ROW(r)                                                                                                    \
    if (CT) {                                                                                                         \
        _mm512_storeu_ps(t[r], c##r##0);                                                                              \
        if (NV > 1) _mm512_storeu_ps(t[r] + 16, c##r##1);                                                             \
        if (NV > 2) _mm512_storeu_ps(t[r] + 32, c##r##2);                                                             \
    } else {                                                                                                          \
        float *cr = c + (size_t)(r) * ldc;                                                                            \
        _mm512_mask_storeu_ps(cr, m0, _mm512_add_ps(start(cr, m0, bias, r, beta, first), c##r##0));                   \
        if (NV > 1) _mm512_mask_storeu_ps(cr + 16, m1, _mm512_add_ps(start(cr + 16, m1, bias, r, beta, first), c##r##1)); \
        if (NV > 2) _mm512_mask_storeu_ps(cr + 32, m2, _mm512_add_ps(start(cr + 32, m2, bias, r, beta, first), c##r##2)); \
    }

/* rows [0, 8) x columns [0, 16 NV) of c (lanes past the masks untouched) */
K512 static inline __attribute__((always_inline)) void tile8(float *c, int ldc, const float *a, int lda, const float *b,
                                                             int ldb, int K, int beta, const float *bias, int NV, int TA,
                                                             int CT, int w, __mmask16 m0, __mmask16 m1, __mmask16 m2) {
    float t[8][48]; /* CT: the tile, stored transposed from here */
    for (int k0 = 0, first = 1; k0 < K; first = 0) {
        int kl = chunk_len(K - k0);
        ACC_ROW(0) ACC_ROW(1) ACC_ROW(2) ACC_ROW(3) ACC_ROW(4) ACC_ROW(5) ACC_ROW(6) ACC_ROW(7)
        const float *bk = b + (size_t)k0 * ldb, *ak = TA ? a + (size_t)k0 * lda : a + k0;
        for (int k = 0; k < kl; k++) {
            const float *br = bk + (size_t)k * ldb;
            __m512 b0 = _mm512_maskz_loadu_ps(m0, br);
            __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, br + 16) : b0;
            __m512 b2 = NV > 2 ? _mm512_maskz_loadu_ps(m2, br + 32) : b0;
            FMA_ROW(0) FMA_ROW(1) FMA_ROW(2) FMA_ROW(3) FMA_ROW(4) FMA_ROW(5) FMA_ROW(6) FMA_ROW(7)
        }
        OUT_ROW(0) OUT_ROW(1) OUT_ROW(2) OUT_ROW(3) OUT_ROW(4) OUT_ROW(5) OUT_ROW(6) OUT_ROW(7)
        if (CT)
            for (int n = 0; n < w; n++)
                for (int r = 0; r < 8; r++) {
                    float *p = c + (size_t)n * ldc + r;
                    *p = (first && !beta ? 0.0f : *p) + t[r][n];
                }
        k0 += kl;
    }
}

#define TILE_FORMS(TA, CT, SFX)                                                                                       \
    K512 static void tile8x3##SFX(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int K, int beta, \
                                  const float *bias, int w, __mmask16 m0, __mmask16 m1, __mmask16 m2) {               \
        tile8(c, ldc, a, lda, b, ldb, K, beta, bias, 3, TA, CT, w, m0, m1, m2);                                       \
    }                                                                                                                 \
    K512 static void tile8x2##SFX(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int K, int beta, \
                                  const float *bias, int w, __mmask16 m0, __mmask16 m1) {                             \
        tile8(c, ldc, a, lda, b, ldb, K, beta, bias, 2, TA, CT, w, m0, m1, 0);                                        \
    }                                                                                                                 \
    K512 static void tile8x1##SFX(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int K, int beta, \
                                  const float *bias, int w, __mmask16 m0) {                                           \
        tile8(c, ldc, a, lda, b, ldb, K, beta, bias, 1, TA, CT, w, m0, 0, 0);                                         \
    }
TILE_FORMS(0, 0, _n)
TILE_FORMS(1, 0, _t)
TILE_FORMS(0, 1, _nc)

/* one row x 16 columns (the rows past the last multiple of 8) */
K512 static void tile1(float *c, int ldc, int ct, const float *a, size_t aks, const float *b, int ldb, int K,
                       int beta, const float *bias, int w) {
    __mmask16 m = lanes(w);
    for (int k0 = 0, first = 1; k0 < K; first = 0) {
        int kl = chunk_len(K - k0);
        __m512 s = _mm512_setzero_ps();
        for (int k = k0; k < k0 + kl; k++)
            s = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)k * aks]), _mm512_maskz_loadu_ps(m, b + (size_t)k * ldb), s);
        if (ct) {
            float t[16];
            _mm512_storeu_ps(t, s);
            for (int n = 0; n < w; n++) c[(size_t)n * ldc] = (first && !beta ? 0.0f : c[(size_t)n * ldc]) + t[n];
        } else
            _mm512_mask_storeu_ps(c, m, _mm512_add_ps(start(c, m, bias, 0, beta, first), s));
        k0 += kl;
    }
}

/* the 8-row blocks of columns [n, n + min(w, 48)); form: 0 plain, 1 A
 * transposed, 2 C transposed */
K512 static void strip(float *c, int ldc, const float *a, int lda, int form, const float *b, int ldb, int m8, int K,
                       int beta, const float *bias, int w) {
    __mmask16 m0 = lanes(w), m1 = lanes(w - 16), m2 = lanes(w - 32);
    if (w > 48) w = 48;
    for (int m = 0; m < m8; m += 8) {
        float *cm = form == 2 ? c + m : c + (size_t)m * ldc;
        const float *am = form == 1 ? a + m : a + (size_t)m * lda, *bm = bias ? bias + m : NULL;
        if (w > 32) {
            if (form == 1)
                tile8x3_t(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1, m2);
            else if (form == 2)
                tile8x3_nc(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1, m2);
            else
                tile8x3_n(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1, m2);
        } else if (w > 16) {
            if (form == 1)
                tile8x2_t(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1);
            else if (form == 2)
                tile8x2_nc(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1);
            else
                tile8x2_n(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0, m1);
        } else if (form == 1)
            tile8x1_t(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0);
        else if (form == 2)
            tile8x1_nc(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0);
        else
            tile8x1_n(cm, ldc, am, lda, b, ldb, K, beta, bm, w, m0);
    }
}

/* column strips outermost: a strip of b (K x 48) serves every row block
 * while it is in cache */
K512 static void gemm_form(float *c, int ldc, const float *a, int lda, int form, const float *b, int ldb, int M, int N,
                      int K, int beta, const float *bias) {
    int m8 = M / 8 * 8;
    for (int n = 0; n < N; n += 48) strip(form == 2 ? c + (size_t)n * ldc : c + n, ldc, a, lda, form, b + n, ldb, m8, K, beta, bias, N - n);
    for (int m = m8; m < M; m++)
        for (int n = 0; n < N; n += 16) {
            float *cm = form == 2 ? c + (size_t)n * ldc + m : c + (size_t)m * ldc + n;
            tile1(cm, ldc, form == 2, form == 1 ? a + m : a + (size_t)m * lda, form == 1 ? (size_t)lda : 1, b + n, ldb, K,
                  beta, bias ? bias + m : NULL, N - n < 16 ? N - n : 16);
        }
}

K512 void k512_gemm(float *c, int ldc, const float *a, int lda, int ta, const float *b, int ldb, int M, int N, int K,
                    int beta, const float *bias) {
    gemm_form(c, ldc, a, lda, ta ? 1 : 0, b, ldb, M, N, K, beta, bias);
}

K512 void k512_gemm_ct(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K,
                       int beta) {
    gemm_form(c, ldc, a, lda, 2, b, ldb, M, N, K, beta, NULL);
}
#else
int k512_gemm_enabled(void) { return 0; }
void k512_gemm_ct(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K, int beta) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)b, (void)ldb, (void)M, (void)N, (void)K, (void)beta;
}
int k512_gemm_use(int on) {
    (void)on;
    return 0;
}
int k512_gemm_ok(int M, int N, int K) {
    (void)M, (void)N, (void)K;
    return 0;
}
void k512_gemm(float *c, int ldc, const float *a, int lda, int ta, const float *b, int ldb, int M, int N, int K,
               int beta, const float *bias) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)ta, (void)b, (void)ldb, (void)M, (void)N, (void)K, (void)beta, (void)bias;
}
#endif
