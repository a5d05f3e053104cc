/* kernels512.c - AVX-512 forms of the two hand-written weight-gradient
 * kernels of the first linear layer (kernels.c linear_params_tile and
 * level_sums_tile). Each lane does the IEEE operations of the AVX form in the
 * same order (a product, then a sum, per row; the level values widened to
 * double and added in level order; sign counts exact in float), so the
 * results are the same bits; only more of them per instruction. Built with
 * GCC's target attribute so the rest of the library keeps its x86-64-v3
 * baseline; kernels.c calls them where the CPU has AVX-512F
 * (k512_available). */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "model/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(COINBC_NO_AVX512)
#include <immintrin.h>
#define K512 __attribute__((target("avx512f")))

/* no cached flag: the workers call this at once, and libgcc's CPU model is
 * set up before main, so reading it is race-free and cheap */
int k512_available(void) { return __builtin_cpu_supports("avx512f") ? 1 : 0; }

/* gw rows [o, o+4), columns [d, d+16*H) (H = 1 or 2 vectors per row) */
K512 static inline void params_tile(float *gw, const float *dout, const float *in, int N, int Din,
                                                              int Dout, int o, int d, int acc, int H) {
    __m512 c[4][2];
    int r = 0;
    if (acc) {
        for (int i = 0; i < 4; i++)
            for (int h = 0; h < H; h++) c[i][h] = _mm512_loadu_ps(gw + (size_t)(o + i) * Din + d + 16 * h);
    } else {
        __m512 x[2];
        for (int h = 0; h < H; h++) x[h] = _mm512_loadu_ps(in + d + 16 * h);
        for (int i = 0; i < 4; i++) {
            __m512 a = _mm512_set1_ps(dout[o + i]);
            for (int h = 0; h < H; h++) c[i][h] = _mm512_mul_ps(a, x[h]);
        }
        r = 1;
    }
    for (; r < N; r++) {
        const float *xr = in + (size_t)r * Din + d, *a = dout + (size_t)r * Dout + o;
        __m512 x[2];
        for (int h = 0; h < H; h++) x[h] = _mm512_loadu_ps(xr + 16 * h);
        for (int i = 0; i < 4; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            for (int h = 0; h < H; h++) c[i][h] = _mm512_add_ps(c[i][h], _mm512_mul_ps(ai, x[h]));
        }
    }
    for (int i = 0; i < 4; i++)
        for (int h = 0; h < H; h++) _mm512_storeu_ps(gw + (size_t)(o + i) * Din + d + 16 * h, c[i][h]);
}

K512 void k512_linear_params_rows4(float *gw, const float *dout, const float *in, int N, int Din, int Dout, int o, int d16,
                                   int acc) {
    int d = 0;
    for (; d + 32 <= d16; d += 32) params_tile(gw, dout, in, N, Din, Dout, o, d, acc, 2);
    for (; d < d16; d += 16) params_tile(gw, dout, in, N, Din, Dout, o, d, acc, 1);
}

/* the tile's 4 x 16 values of two levels at once (x, a: level 0's packed
 * rows; level 1's follow B rows on): eight independent sums instead of
 * four, each the AVX form's product-then-sum sequence over its level's rows */
K512 static inline void level_pair(__m512 v[2][4], const float *x, const float *a, int B, int two) {
    const int T = 16, n = two ? 2 : 1;
    for (int q = 0; q < n; q++) {
        const float *xq = x + (size_t)q * B * T, *aq = a + (size_t)q * B * 4;
        __m512 x0 = _mm512_loadu_ps(xq);
        for (int i = 0; i < 4; i++) v[q][i] = _mm512_mul_ps(_mm512_set1_ps(aq[i]), x0);
    }
    for (int r = 1; r < B; r++)
        for (int q = 0; q < n; q++) {
            const float *xq = x + (size_t)q * B * T, *aq = a + (size_t)q * B * 4;
            __m512 xr = _mm512_loadu_ps(xq + r * T);
            for (int i = 0; i < 4; i++) v[q][i] = _mm512_add_ps(v[q][i], _mm512_mul_ps(_mm512_set1_ps(aq[r * 4 + i]), xr));
        }
}

K512 int k512_level_sums_tile(double *sum, int32_t *ssum, const float *x, const float *a, int L, int B, size_t row) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps(), big = _mm512_set1_ps(FLT_MAX);
    __m512d acc[4][2];
    __m512 cnt[4];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm512_setzero_pd(), cnt[i] = zero;
    __mmask16 ok = 0xffff;
    for (int l = 0; l < L; l += 2) {
        int two = l + 1 < L;
        __m512 v[2][4];
        level_pair(v, x + (size_t)l * B * 16, a + (size_t)l * B * 4, B, two);
        for (int q = 0; q < (two ? 2 : 1); q++) {
            for (int i = 0; i < 4; i++) {
                __m512 y = v[q][i];
                ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(y), big, _CMP_LE_OQ);
                cnt[i] = _mm512_mask_add_ps(cnt[i], _mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ), cnt[i], one);
                cnt[i] = _mm512_mask_sub_ps(cnt[i], _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), cnt[i], one);
                acc[i][0] = _mm512_add_pd(acc[i][0], _mm512_cvtps_pd(_mm512_castps512_ps256(y)));
                acc[i][1] = _mm512_add_pd(acc[i][1],
                                          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1))));
            }
        }
    }
    if (ok != 0xffff) return 1; /* a non-finite value: the caller redoes the tile */
    for (int i = 0; i < 4; i++) {
        _mm512_storeu_pd(sum + (size_t)i * row, acc[i][0]);
        _mm512_storeu_pd(sum + (size_t)i * row + 8, acc[i][1]);
        _mm512_storeu_si512((void *)(ssum + (size_t)i * row), _mm512_cvttps_epi32(cnt[i]));
    }
    return 0;
}
#else
int k512_available(void) { return 0; }
void k512_linear_params_rows4(float *gw, const float *dout, const float *in, int N, int Din, int Dout, int o, int d16,
                              int acc) {
    (void)gw, (void)dout, (void)in, (void)N, (void)Din, (void)Dout, (void)o, (void)d16, (void)acc;
}
int k512_level_sums_tile(double *sum, int32_t *ssum, const float *x, const float *a, int L, int B, size_t row) {
    (void)sum, (void)ssum, (void)x, (void)a, (void)L, (void)B, (void)row;
    return 1;
}
#endif
