/* kernels.c - convolution (im2col + sgemm), max pooling, ReLU, flatten and
 * linear layers, forward and backward. Gradient kernels add when acc is set
 * and overwrite otherwise: the first writer of an activation's gradient, and
 * a level's first chunk for the parameter gradients, overwrite, which saves
 * clearing them. col2im always adds.
 *
 * Convolutions work on tiles of output rows (row r = n*Ho + oy of the chunk)
 * so the im2col matrix of a tile stays in the core's cache between being
 * written and being read by sgemm. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#ifdef __AVX2__
#define COINBC_HAVE_AVX2 1
#else
#define COINBC_HAVE_AVX2 0
#endif

#include "model/kernels.h"

/* the output columns [*lo, *hi) whose input column ox*S - P + kx is inside 0..W-1 */
static void valid_cols(int W, int S, int P, int kx, int Wo, int *lo, int *hi) {
    int a = 0, b = Wo;
    while (a < Wo && a * S - P + kx < 0) a++;
    while (b > a && (b - 1) * S - P + kx >= W) b--;
    *lo = a;
    *hi = b;
}

/* im2col of a "same" stride-1 convolution (Wo == W): for a fixed channel and
 * kernel offset, the tile's rows that fall inside one sample's plane are one
 * contiguous stretch of it shifted by kx - P, so each stretch is one memcpy,
 * followed by zeroing the |kx - P| columns per row that fell off an edge. */
static void im2col_same(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int P, int r0, int r1) {
    size_t tc = (size_t)(r1 - r0) * W;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * tc;
                int d = kx - P;
                for (int r = r0; r < r1;) {
                    int n = r / H, oy = r - n * H, iy = oy - P + ky;
                    int end = r1 < (n + 1) * H ? r1 : (n + 1) * H; /* this sample's rows in the tile */
                    float *dst = row + (size_t)(r - r0) * W;
                    if (iy < 0) { /* rows above the image */
                        int k = -iy < end - r ? -iy : end - r;
                        memset(dst, 0, sizeof(float) * (size_t)k * W);
                        r += k;
                        continue;
                    }
                    int rows = H - iy < end - r ? H - iy : end - r; /* rows inside the image */
                    if (rows <= 0) {
                        memset(dst, 0, sizeof(float) * (size_t)(end - r) * W);
                        r = end;
                        continue;
                    }
                    const float *src = x + c * cstride + ((size_t)n * H + iy) * W;
                    size_t len = (size_t)rows * W;
                    /* the edge columns are cleared one store at a time: |d| is 1 for
                     * 3x3 kernels, and a loop here would become a memset call per row */
                    if (d >= 0) {
                        memcpy(dst, src + d, sizeof(float) * (len - (size_t)d));
                        for (int q = W - d; q < W; q++)
                            for (int t = 0; t < rows; t++) dst[(size_t)t * W + q] = 0.0f;
                    } else {
                        memcpy(dst - d, src, sizeof(float) * (len + (size_t)d));
                        for (int q = 0; q < -d; q++)
                            for (int t = 0; t < rows; t++) dst[(size_t)t * W + q] = 0.0f;
                    }
                    r += rows;
                }
            }
}

/* im2col without padding, every window inside the input: per output row
 * and kernel row one input row, read for all K kernel columns while it is
 * in L1; the stride a constant (S_ > 0) where it is one of the common ones,
 * so the gather compiles to straight code. */
static inline void im2col_valid(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int S, int Ho,
                                int Wo, int r0, int r1, int S_, int K_, int Wo_) {
    if (S_ > 0) S = S_;
    if (K_ > 0) K = K_;
    if (Wo_ > 0) Wo = Wo_;
    size_t tc = (size_t)(r1 - r0) * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++) {
            float *rows = col + (size_t)(c * K + ky) * K * tc;
            for (int r = r0; r < r1; r++) {
                int n = r / Ho, iy = (r - n * Ho) * S + ky;
                const float *src = x + c * cstride + ((size_t)n * H + iy) * W;
                float *ro = rows + (size_t)(r - r0) * Wo;
                for (int kx = 0; kx < K; kx++, ro += tc)
                    for (int ox = 0; ox < Wo; ox++) ro[ox] = src[kx + ox * S];
            }
        }
}

/* im2col of a padded stride-1 convolution with output rows of at most 8:
 * each row one masked load of the columns inside the input (zeros in the
 * others) and one masked store, where the general loop below spends a
 * memset and a memcpy call on every few floats */
static void im2col_short(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int P, int Ho, int Wo,
                         int r0, int r1) {
#ifdef __AVX2__
    size_t tc = (size_t)(r1 - r0) * Wo;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i out = _mm256_cmpgt_epi32(_mm256_set1_epi32(Wo), lane);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * tc;
                int lo, hi;
                valid_cols(W, 1, P, kx, Wo, &lo, &hi);
                /* lanes lo..hi-1: output column ox reads input column ox - P + kx */
                const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(lo - 1)),
                                                    _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = r - n * Ho - P + ky;
                    __m256 v = _mm256_setzero_ps();
                    if (iy >= 0 && iy < H && lo < hi) {
                        const float *src = x + c * cstride + ((size_t)n * H + iy) * W + lo; /* input column lo - P + kx */
                        v = _mm256_maskload_ps(src - lo - P + kx, in);
                    }
                    _mm256_maskstore_ps(row + (size_t)(r - r0) * Wo, out, v);
                }
            }
#else
    (void)col, (void)x, (void)cstride, (void)C, (void)H, (void)W, (void)K, (void)P, (void)Ho, (void)Wo, (void)r0, (void)r1;
#endif
}

#ifdef __AVX2__
/* the stride-2 columns kx, kx+2, ..., kx+10 of a row as lanes 0..5: the row's
 * floats 0..7 in a and 7..14 in b, each lane from a (float e <= 7) or b */
static const int32_t s2_idx_a[4][8] = {{0, 2, 4, 6}, {1, 3, 5, 7}, {2, 4, 6}, {3, 5, 7}};
static const int32_t s2_idx_b[4][8] = {{0, 0, 0, 0, 1, 3}, {0, 0, 0, 0, 2, 4}, {0, 0, 0, 1, 3, 5}, {0, 0, 0, 2, 4, 6}};
static const int32_t s2_from_b[4][8] = {{0, 0, 0, 0, -1, -1}, {0, 0, 0, 0, -1, -1}, {0, 0, 0, -1, -1, -1}, {0, 0, 0, -1, -1, -1}};
#endif

/* im2col of Nature's second convolution (4x4, stride 2, no padding, rows of
 * 6 from rows of at least 15): per input row, two loads and per kernel
 * column one permute of each and a blend, the same values as im2col_valid */
static void im2col_s2k4w6(float *col, const float *x, size_t cstride, int C, int H, int W, int Ho, int r0, int r1) {
#ifdef __AVX2__
    size_t tc = (size_t)(r1 - r0) * 6;
    __m256i ia[4], ib[4];
    __m256 fb[4];
    for (int kx = 0; kx < 4; kx++) {
        ia[kx] = _mm256_loadu_si256((const __m256i *)s2_idx_a[kx]);
        ib[kx] = _mm256_loadu_si256((const __m256i *)s2_idx_b[kx]);
        fb[kx] = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)s2_from_b[kx]));
    }
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < 4; ky++) {
            float *rows = col + (size_t)(c * 4 + ky) * 4 * tc;
            for (int r = r0; r < r1; r++) {
                int n = r / Ho, iy = (r - n * Ho) * 2 + ky;
                const float *src = x + c * cstride + ((size_t)n * H + iy) * W;
                __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 7);
                float *ro = rows + (size_t)(r - r0) * 6;
                for (int kx = 0; kx < 4; kx++, ro += tc) {
                    __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, ia[kx]), _mm256_permutevar8x32_ps(b, ib[kx]), fb[kx]);
                    _mm_storeu_ps(ro, _mm256_castps256_ps128(v));
                    _mm_storel_pi((__m64 *)(ro + 4), _mm256_extractf128_ps(v, 1));
                }
            }
        }
#else
    im2col_valid(col, x, cstride, C, H, W, 4, 2, Ho, 6, r0, r1, 2, 4, 6);
#endif
}

void k_im2col(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int S, int P, int Ho, int Wo,
              int r0, int r1) {
    if (S == 1 && Ho == H && Wo == W && K <= W) {
        im2col_same(col, x, cstride, C, H, W, K, P, r0, r1);
        return;
    }
    if (P == 0 && (Ho - 1) * S + K <= H && (Wo - 1) * S + K <= W) {
        /* Nature's second and third convolutions with all sizes constant, so
         * the short rows (6 and 4 floats) unroll completely */
        if (S == 2 && K == 4 && Wo == 6 && W >= 15)
            im2col_s2k4w6(col, x, cstride, C, H, W, Ho, r0, r1);
        else if (S == 2 && K == 4 && Wo == 6)
            im2col_valid(col, x, cstride, C, H, W, K, S, Ho, Wo, r0, r1, 2, 4, 6);
        else if (S == 1 && K == 3 && Wo == 4)
            im2col_valid(col, x, cstride, C, H, W, K, S, Ho, Wo, r0, r1, 1, 3, 4);
        else if (S == 1)
            im2col_valid(col, x, cstride, C, H, W, K, S, Ho, Wo, r0, r1, 1, 0, 0);
        else if (S == 2)
            im2col_valid(col, x, cstride, C, H, W, K, S, Ho, Wo, r0, r1, 2, 0, 0);
        else
            im2col_valid(col, x, cstride, C, H, W, K, S, Ho, Wo, r0, r1, 0, 0, 0);
        return;
    }
    if (COINBC_HAVE_AVX2 && S == 1 && Wo <= 8) { /* e.g. Nature's third convolution's data gradient: rows of 6 from 4 */
        im2col_short(col, x, cstride, C, H, W, K, P, Ho, Wo, r0, r1);
        return;
    }
    size_t tc = (size_t)(r1 - r0) * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * tc;
                int lo, hi;
                valid_cols(W, S, P, kx, Wo, &lo, &hi);
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = (r - n * Ho) * S - P + ky;
                    float *ro = row + (size_t)(r - r0) * Wo;
                    if (iy < 0 || iy >= H || lo >= hi) {
                        for (int ox = 0; ox < Wo; ox++) ro[ox] = 0.0f;
                        continue;
                    }
                    const float *src = x + c * cstride + ((size_t)n * H + iy) * W + lo * S - P + kx;
                    for (int ox = 0; ox < lo; ox++) ro[ox] = 0.0f;
                    if (S == 1)
                        memcpy(ro + lo, src, sizeof(float) * (size_t)(hi - lo));
                    else
                        for (int ox = lo; ox < hi; ox++) ro[ox] = src[(ox - lo) * S];
                    for (int ox = hi; ox < Wo; ox++) ro[ox] = 0.0f;
                }
            }
}

/* dst[0..n) = src[0..n): runs of 8 to 16 floats (Nature's 15) as two
 * overlapping 8-float moves, where a loop would be a vector move and a
 * scalar tail */
static inline void copy_run(float *restrict dst, const float *restrict src, int n) {
#ifdef __AVX__
    if (n >= 8 && n <= 16) {
        __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + n - 8);
        _mm256_storeu_ps(dst, a);
        _mm256_storeu_ps(dst + n - 8, b);
        return;
    }
#endif
    for (int i = 0; i < n; i++) dst[i] = src[i];
}

void k_im2col_phased(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int S, int Ho, int Wo, int r0,
                     int r1) {
    size_t tc = (size_t)(r1 - r0) * Wo;
    int ws = W / S;
    (void)H;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * tc;
                const float *base = x + c * cstride + (size_t)(kx % S) * ws + kx / S;
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = (r - n * Ho) * S + ky;
                    copy_run(row + (size_t)(r - r0) * Wo, base + ((size_t)n * H + iy) * W, Wo);
                }
            }
}

/* col2im without padding (the inverse of im2col_valid): each input row
 * gets its K kernel columns' values added in the order of the general loop
 * below (kx ascending per kernel row, kernel rows and tile rows ascending),
 * so every input element receives the same additions in the same order. */
static inline void col2im_valid(float *dx, size_t cstride, const float *col, int C, int H, int W, int K, int S, int Ho,
                                int Wo, int r0, int r1, int S_, int K_, int Wo_) {
    if (S_ > 0) S = S_;
    if (K_ > 0) K = K_;
    if (Wo_ > 0) Wo = Wo_;
    size_t tc = (size_t)(r1 - r0) * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++) {
            const float *rows = col + (size_t)(c * K + ky) * K * tc;
            for (int kx = 0; kx < K; kx++)
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = (r - n * Ho) * S + ky;
                    float *dst = dx + c * cstride + ((size_t)n * H + iy) * W + kx;
                    const float *ro = rows + (size_t)kx * tc + (size_t)(r - r0) * Wo;
                    for (int ox = 0; ox < Wo; ox++) dst[ox * S] += ro[ox];
                }
        }
}

/* col2im of Nature's second convolution (the inverse of im2col_s2k4w6): per
 * tile row and kernel column, its 6 values spread to the even lanes and
 * added to the 12 input floats they land on, the odd ones blended back
 * unchanged, so each input float takes the same additions in the same order
 * as col2im_valid */
static void col2im_s2k4w6(float *dx, size_t cstride, const float *col, int C, int H, int W, int Ho, int r0, int r1) {
#ifdef __AVX2__
    size_t tc = (size_t)(r1 - r0) * 6;
    const __m256i spread = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < 4; ky++) {
            const float *rows = col + (size_t)(c * 4 + ky) * 4 * tc;
            for (int kx = 0; kx < 4; kx++)
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = (r - n * Ho) * 2 + ky;
                    float *dst = dx + c * cstride + ((size_t)n * H + iy) * W + kx;
                    const float *ro = rows + (size_t)kx * tc + (size_t)(r - r0) * 6;
                    __m256 v = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(ro)), spread);
                    __m128 v2 = _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(ro + 4));
                    v2 = _mm_unpacklo_ps(v2, v2);
                    __m256 d = _mm256_loadu_ps(dst);
                    __m128 d2 = _mm_loadu_ps(dst + 8);
                    _mm256_storeu_ps(dst, _mm256_blend_ps(d, _mm256_add_ps(d, v), 0x55));
                    _mm_storeu_ps(dst + 8, _mm_blend_ps(d2, _mm_add_ps(d2, v2), 0x5));
                }
        }
#else
    col2im_valid(dx, cstride, col, C, H, W, 4, 2, Ho, 6, r0, r1, 2, 4, 6);
#endif
}

void k_col2im_add(float *dx, size_t cstride, const float *col, int C, int H, int W, int K, int S, int P, int Ho, int Wo,
                  int r0, int r1) {
    if (P == 0 && (Ho - 1) * S + K <= H && (Wo - 1) * S + K <= W) {
        if (S == 2 && K == 4 && Wo == 6 && W >= 15) /* Nature's second convolution */
            col2im_s2k4w6(dx, cstride, col, C, H, W, Ho, r0, r1);
        else if (S == 2 && K == 4 && Wo == 6) /* sizes constant */
            col2im_valid(dx, cstride, col, C, H, W, K, S, Ho, Wo, r0, r1, 2, 4, 6);
        else if (S == 2)
            col2im_valid(dx, cstride, col, C, H, W, K, S, Ho, Wo, r0, r1, 2, 0, 0);
        else
            col2im_valid(dx, cstride, col, C, H, W, K, S, Ho, Wo, r0, r1, 0, 0, 0);
        return;
    }
    size_t tc = (size_t)(r1 - r0) * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * tc;
                int lo, hi;
                valid_cols(W, S, P, kx, Wo, &lo, &hi);
                for (int r = r0; r < r1; r++) {
                    int n = r / Ho, iy = (r - n * Ho) * S - P + ky;
                    if (iy < 0 || iy >= H || lo >= hi) continue;
                    float *dst = dx + c * cstride + ((size_t)n * H + iy) * W + lo * S - P + kx;
                    const float *ro = row + (size_t)(r - r0) * Wo;
                    if (S == 1)
                        for (int ox = lo; ox < hi; ox++) dst[ox - lo] += ro[ox];
                    else
                        for (int ox = lo; ox < hi; ox++) dst[(ox - lo) * S] += ro[ox];
                }
            }
}

void k_matmul(float *c, int ldc, const float *a, const float *b, int M, int N, int K, int acc) {
    if (k512_gemm_ok(M, N, K)) {
        k512_gemm(c, ldc, a, K, 0, b, N, M, N, K, acc, NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, acc ? 1.0f : 0.0f, c, ldc);
}

void k_conv_forward(float *out, int ldo, const float *col, const float *w, const float *b, int Cout, int CKK, int cols) {
    if (k512_gemm_ok(Cout, cols, CKK)) { /* the bias as C0: the same sums as filling out with it first */
        k512_gemm(out, ldo, w, CKK, 0, col, cols, Cout, cols, CKK, 1, b);
        return;
    }
    for (int co = 0; co < Cout; co++) {
        float *o = out + (size_t)co * ldo;
        for (int j = 0; j < cols; j++) o[j] = b[co];
    }
    k_matmul(out, ldo, w, col, Cout, cols, CKK, 1);
}

void k_conv_backward_params(float *gw, const float *dout, int ldd, const float *col, int Cout, int CKK, int cols, int acc,
                            float *scratch, size_t scratch_n) {
    if (scratch && (size_t)Cout * cols <= scratch_n && k512_gemm_ok(Cout, CKK, cols)) {
        for (int j0 = 0; j0 < cols; j0 += 64) { /* scratch = dout^T (cols, Cout), in blocks that stay in L1 */
            int j1 = j0 + 64 < cols ? j0 + 64 : cols;
            for (int co = 0; co < Cout; co++) {
                const float *d = dout + (size_t)co * ldd;
                for (int j = j0; j < j1; j++) scratch[(size_t)j * Cout + co] = d[j];
            }
        }
        k512_gemm_ct(gw, CKK, col, cols, scratch, Cout, CKK, Cout, cols, acc);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Cout, CKK, cols, 1.0f, dout, ldd, col, cols, acc ? 1.0f : 0.0f, gw,
                CKK);
}

void k_bias_backward(float *gb, const float *dout, int Cout, int NHW, int acc) {
    for (int co = 0; co < Cout; co++) {
        const float *d = dout + (size_t)co * NHW;
        float part[8] = {0};
        int j = 0;
        for (; j + 8 <= NHW; j += 8)
            for (int t = 0; t < 8; t++) part[t] += d[j + t];
        float s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        for (; j < NHW; j++) s += d[j];
        gb[co] = acc ? gb[co] + s : s;
    }
}

void k_conv_backward_data(float *dcol, const float *w, const float *dout, int ldd, int Cout, int CKK, int cols) {
    if (k512_gemm_ok(CKK, cols, Cout)) {
        k512_gemm(dcol, cols, w, CKK, 1, dout, ldd, CKK, cols, Cout, 0, NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, cols, Cout, 1.0f, w, CKK, dout, ldd, 0.0f, dcol, cols);
}

void k_conv_unflip(float *gw, const float *gt, int Cout, int Cin, int K, int acc) {
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < Cin; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    float v = gt[(((size_t)ci * Cout + co) * K + (K - 1 - ky)) * K + (K - 1 - kx)];
                    float *d = &gw[(((size_t)co * Cin + ci) * K + ky) * K + kx];
                    *d = acc ? *d + v : v;
                }
}

void k_conv_flip(float *wf, const float *w, int Cout, int Cin, int K) {
    for (int ci = 0; ci < Cin; ci++)
        for (int co = 0; co < Cout; co++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    wf[(((size_t)ci * Cout + co) * K + ky) * K + kx] =
                        w[(((size_t)co * Cin + ci) * K + (K - 1 - ky)) * K + (K - 1 - kx)];
}

void k_relu_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0.0f;
}

void k_relu_backward(float *din, const float *dout, const float *out, size_t n, int acc) {
    if (acc)
        for (size_t i = 0; i < n; i++) din[i] += out[i] > 0 ? dout[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) din[i] = out[i] > 0 ? dout[i] : 0.0f;
}

/* 3x3 stride 2 pad 1 max pool, separable: first the maximum of each row
 * over the three columns of every window (the leftmost wins ties), then of
 * three such row maxima (the topmost wins ties). Together the first maximum
 * in row-major window order wins, as in PyTorch. */
void k_maxpool_forward(float *out, int32_t *idx, const float *in, int planes, int H, int W, int Ho, int Wo,
                       float *scratch) {
    float *hm = scratch;                          /* (H, Wo) row maxima */
    int32_t *hx = (int32_t *)(scratch + (size_t)H * Wo); /* their columns */
    int last = (W - 2) / 2; /* windows ox >= 1 with 2ox+1 <= W-1 are whole */
    if (last > Wo - 1) last = Wo - 1;
    for (int p = 0; p < planes; p++) {
        const float *src = in + (size_t)p * H * W;
        for (int y = 0; y < H; y++) {
            const float *r = src + (size_t)y * W;
            float *m = hm + y * Wo;
            int32_t *mx = hx + y * Wo;
            /* ox = 0: columns 0, 1 */
            m[0] = r[0], mx[0] = 0;
            if (W > 1 && r[1] > m[0]) m[0] = r[1], mx[0] = 1;
            for (int ox = 1; ox <= last; ox++) {
                float a = r[2 * ox - 1], b = r[2 * ox], c = r[2 * ox + 1];
                float best = a;
                int32_t bi = 2 * ox - 1;
                bi = b > best ? 2 * ox : bi;
                best = b > best ? b : best;
                bi = c > best ? 2 * ox + 1 : bi;
                best = c > best ? c : best;
                m[ox] = best, mx[ox] = bi;
            }
            for (int ox = last + 1; ox < Wo; ox++) { /* the right edge */
                int x0 = 2 * ox - 1, x1 = 2 * ox + 1 < W - 1 ? 2 * ox + 1 : W - 1;
                m[ox] = r[x0], mx[ox] = x0;
                for (int x = x0 + 1; x <= x1; x++)
                    if (r[x] > m[ox]) m[ox] = r[x], mx[ox] = x;
            }
        }
        float *o = out + (size_t)p * Ho * Wo;
        int32_t *ix = idx + (size_t)p * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            int y0 = oy * 2 - 1 < 0 ? 0 : oy * 2 - 1, y1 = oy * 2 + 1 < H - 1 ? oy * 2 + 1 : H - 1;
            float *ov = o + oy * Wo;
            int32_t *oi = ix + oy * Wo;
            for (int ox = 0; ox < Wo; ox++) ov[ox] = hm[y0 * Wo + ox], oi[ox] = y0 * W + hx[y0 * Wo + ox];
            for (int y = y0 + 1; y <= y1; y++) {
                const float *m = hm + y * Wo;
                const int32_t *mx = hx + y * Wo;
                for (int ox = 0; ox < Wo; ox++) {
                    int gt = m[ox] > ov[ox];
                    oi[ox] = gt ? y * W + mx[ox] : oi[ox];
                    ov[ox] = gt ? m[ox] : ov[ox];
                }
            }
        }
    }
}

void k_maxpool_backward(float *din, const float *dout, const int32_t *idx, int planes, int H, int W, int Ho, int Wo,
                        int acc) {
    for (int p = 0; p < planes; p++) {
        float *d = din + (size_t)p * H * W;
        const float *g = dout + (size_t)p * Ho * Wo;
        const int32_t *ix = idx + (size_t)p * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            /* output row oy reaches input rows 2oy-1..2oy+1; rows 2oy and 2oy+1
             * are first reached here, so they are cleared just before (when
             * overwriting), while they are about to be in cache anyway */
            if (!acc)
                for (int y = 2 * oy; y <= 2 * oy + 1 && y < H; y++) memset(d + (size_t)y * W, 0, sizeof(float) * (size_t)W);
            for (int ox = 0; ox < Wo; ox++) d[ix[oy * Wo + ox]] += g[oy * Wo + ox];
        }
        if (!acc && 2 * Ho < H) memset(d + (size_t)2 * Ho * W, 0, sizeof(float) * (size_t)(H - 2 * Ho) * W);
    }
}

void k_flatten(float *out, const float *in, int C, int N, int HW) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) memcpy(out + ((size_t)n * C + c) * HW, in + ((size_t)c * N + n) * HW, sizeof(float) * (size_t)HW);
}

void k_unflatten(float *din, const float *dout, int C, int N, int HW, int acc) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) {
            float *d = din + ((size_t)c * N + n) * HW;
            const float *src = dout + ((size_t)n * C + c) * HW;
            if (acc)
                for (int j = 0; j < HW; j++) d[j] += src[j];
            else
                memcpy(d, src, sizeof(float) * (size_t)HW);
        }
}

void k_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * Dout, b, sizeof(float) * (size_t)Dout);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Dout, Din, 1.0f, in, Din, w, Din, 1.0f, out, Dout);
}

/* Written out rather than an sgemm: with N (a level's group of chunks, a
 * few dozen rows) so small the product is bound by the traffic of gw, and
 * here each element of gw is written once, without sgemm's clearing pass and
 * read-back, while the N rows are added to it in order: gw[o][d] starts as
 * dout[0][o] * in[0][d] (or its old value, with acc) and takes
 * + dout[r][o] * in[r][d] for r ascending, a product and a sum each (no
 * fused multiply-add). With AVX, 4 outputs x 16 inputs stay in registers
 * through all N rows, so each row of in is read once per 4 outputs instead
 * of once per output; the same operations in the same order, so the same
 * bits as the scalar loop, which takes the rest. */
static void linear_params_rows(float *gw, const float *dout, const float *in, int N, int Din, int Dout, int o0, int o1,
                               int acc) {
    for (int o = o0; o < o1; o++) {
        float *row = gw + (size_t)o * Din;
        int r = 0;
        if (!acc) {
            float a = dout[o];
            for (int d = 0; d < Din; d++) row[d] = a * in[d];
            r = 1;
        }
        for (; r < N; r++) {
            float a = dout[(size_t)r * Dout + o];
            const float *x = in + (size_t)r * Din;
            for (int d = 0; d < Din; d++) row[d] += a * x[d];
        }
    }
}

#ifdef __AVX__
/* gw rows [o, o+4), columns [d, d+16) */
static inline void linear_params_tile(float *gw, const float *dout, const float *in, int N, int Din, int Dout, int o, int d,
                                      int acc) {
    __m256 c[4][2];
    int r = 0;
    if (acc) {
        for (int i = 0; i < 4; i++)
            for (int h = 0; h < 2; h++) c[i][h] = _mm256_loadu_ps(gw + (size_t)(o + i) * Din + d + 8 * h);
    } else {
        __m256 x0 = _mm256_loadu_ps(in + d), x1 = _mm256_loadu_ps(in + d + 8);
        for (int i = 0; i < 4; i++) {
            __m256 a = _mm256_broadcast_ss(dout + o + i);
            c[i][0] = _mm256_mul_ps(a, x0);
            c[i][1] = _mm256_mul_ps(a, x1);
        }
        r = 1;
    }
    for (; r < N; r++) {
        const float *x = in + (size_t)r * Din + d, *a = dout + (size_t)r * Dout + o;
        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
        for (int i = 0; i < 4; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            c[i][0] = _mm256_add_ps(c[i][0], _mm256_mul_ps(ai, x0));
            c[i][1] = _mm256_add_ps(c[i][1], _mm256_mul_ps(ai, x1));
        }
    }
    for (int i = 0; i < 4; i++)
        for (int h = 0; h < 2; h++) _mm256_storeu_ps(gw + (size_t)(o + i) * Din + d + 8 * h, c[i][h]);
}
#endif

void k_linear_backward_params(float *gw, float *gb, const float *dout, const float *in, int N, int Din, int Dout, int acc) {
    int o4 = 0;
#ifdef __AVX__
    o4 = Dout / 4 * 4;
    int d16 = Din / 16 * 16;
    for (int o = 0; o < o4; o += 4) {
        if (k512_available())
            k512_linear_params_rows4(gw, dout, in, N, Din, Dout, o, d16, acc);
        else
            for (int d = 0; d < d16; d += 16) linear_params_tile(gw, dout, in, N, Din, Dout, o, d, acc);
        if (d16 < Din) { /* the last Din % 16 columns of these rows, row by row */
            for (int i = 0; i < 4; i++) {
                float *row = gw + (size_t)(o + i) * Din;
                for (int d = d16; d < Din; d++) {
                    float v = acc ? row[d] + dout[o + i] * in[d] : dout[o + i] * in[d];
                    for (int r = 1; r < N; r++) v += dout[(size_t)r * Dout + o + i] * in[(size_t)r * Din + d];
                    row[d] = v;
                }
            }
        }
    }
#endif
    linear_params_rows(gw, dout, in, N, Din, Dout, o4, Dout, acc);
    k_linear_backward_bias(gb, dout, N, Dout, acc);
}

void k_linear_backward_bias(float *gb, const float *dout, int N, int Dout, int acc) {
    for (int o = 0; o < Dout; o++) {
        float sb = acc ? gb[o] : 0.0f;
        for (int q = 0; q < N; q++) sb += dout[(size_t)q * Dout + o];
        gb[o] = sb;
    }
}

/* ---- frames ------------------------------------------------------------------ */

void k_frame_row_phased4(float *out, size_t cstride, const uint8_t *src) {
    const float k = 1.0f / 255.0f;
#if COINBC_HAVE_AVX2
    /* In groups of 4 output columns q (48 bytes: pixels 4q + d, d = 0..3,
     * channels 0..2), one vector per channel gathers, by byte shuffles, the
     * 4 phases x 4 columns of that channel: lane 4d + j = byte 12j + 3d + ch
     * of the group. A 4 x 4 transpose of 32-bit pieces over the 4 groups
     * then gives each phase's 16 bytes in column order, converted as the
     * scalar loop converts them ((float)byte * (1/255)). */
    static const int8_t mask[3][3][16] = { /* [channel][source vector][lane]: 12j + 3d + ch - 16v, or -128 (zero) */
        {{0, 12, -128, -128, 3, 15, -128, -128, 6, -128, -128, -128, 9, -128, -128, -128},
         {-128, -128, 8, -128, -128, -128, 11, -128, -128, 2, 14, -128, -128, 5, -128, -128},
         {-128, -128, -128, 4, -128, -128, -128, 7, -128, -128, -128, 10, -128, -128, 1, 13}},
        {{1, 13, -128, -128, 4, -128, -128, -128, 7, -128, -128, -128, 10, -128, -128, -128},
         {-128, -128, 9, -128, -128, 0, 12, -128, -128, 3, 15, -128, -128, 6, -128, -128},
         {-128, -128, -128, 5, -128, -128, -128, 8, -128, -128, -128, 11, -128, -128, 2, 14}},
        {{2, 14, -128, -128, 5, -128, -128, -128, 8, -128, -128, -128, 11, -128, -128, -128},
         {-128, -128, 10, -128, -128, 1, 13, -128, -128, 4, -128, -128, -128, 7, -128, -128},
         {-128, -128, -128, 6, -128, -128, -128, 9, -128, -128, 0, 12, -128, -128, 3, 15}}};
    __m128i grp[3][4]; /* [channel][group] */
    for (int g = 0; g < 4; g++) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + 48 * g)), b = _mm_loadu_si128((const __m128i *)(src + 48 * g + 16)),
                c = _mm_loadu_si128((const __m128i *)(src + 48 * g + 32));
        for (int ch = 0; ch < 3; ch++)
            grp[ch][g] = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, _mm_loadu_si128((const __m128i *)mask[ch][0])),
                                                   _mm_shuffle_epi8(b, _mm_loadu_si128((const __m128i *)mask[ch][1]))),
                                      _mm_shuffle_epi8(c, _mm_loadu_si128((const __m128i *)mask[ch][2])));
    }
    const __m256 vk = _mm256_set1_ps(k);
    for (int ch = 0; ch < 3; ch++) {
        __m128i t0 = _mm_unpacklo_epi32(grp[ch][0], grp[ch][1]), t1 = _mm_unpacklo_epi32(grp[ch][2], grp[ch][3]);
        __m128i t2 = _mm_unpackhi_epi32(grp[ch][0], grp[ch][1]), t3 = _mm_unpackhi_epi32(grp[ch][2], grp[ch][3]);
        __m128i ph[4] = {_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1), _mm_unpacklo_epi64(t2, t3),
                         _mm_unpackhi_epi64(t2, t3)};
        float *o = out + (size_t)ch * cstride;
        for (int d = 0; d < 4; d++) {
            __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(ph[d]));
            __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(ph[d], 8)));
            _mm256_storeu_ps(o + 16 * d, _mm256_mul_ps(lo, vk));
            _mm256_storeu_ps(o + 16 * d + 8, _mm256_mul_ps(hi, vk));
        }
    }
#else
    for (int ch = 0; ch < 3; ch++)
        for (int d = 0; d < 4; d++)
            for (int q = 0; q < 16; q++) out[(size_t)ch * cstride + 16 * d + q] = (float)src[(4 * q + d) * 3 + ch] * k;
#endif
}

/* ---- the first linear layer's weight gradient reduced over levels ----
 * For L levels of B rows each (rows l*B .. l*B + B - 1 of dout and in), each
 * level's value of gw[o][d] is made as k_linear_backward_params makes it
 * (dout[l*B][o] * in[l*B][d], then + dout[r][o] * in[r][d] for the level's
 * rows in order, a product and a sum each), and only its running sum over
 * the levels (in double, from 0.0, in level order: what the combiners add)
 * and its sign count are kept. The L per-level matrices are never written. */

/* records (i, l, v) when it comes before what *bi, *bl hold (element index
 * first, then level; *bl < 0: nothing yet) */
static void first_bad(int64_t *bi, int *bl, float *bv, int64_t i, int l, float v) {
    if (*bl < 0 || i < *bi || (i == *bi && l < *bl)) *bi = i, *bl = l, *bv = v;
}

#define LS_TILE 16 /* a tile: 4 outputs x 16 inputs */

void k_linear_params_level_pack(float *pin, float *pdo, const float *in, const float *dout, int N, int Din, int Dout,
                                int d0, int d1, int o0, int o1) {
    for (int d = d0; d < d1; d += LS_TILE)
        for (int r = 0; r < N; r++)
            memcpy(pin + ((size_t)(d / LS_TILE) * N + r) * LS_TILE, in + (size_t)r * Din + d, sizeof(float) * LS_TILE);
    for (int o = o0; o < o1; o += 4)
        for (int r = 0; r < N; r++)
            memcpy(pdo + ((size_t)(o / 4) * N + r) * 4, dout + (size_t)r * Dout + o, sizeof(float) * 4);
}

/* level l's value of the tile's 4 x 16 elements into v: x (B rows of 16
 * inputs), a (B rows of 4 output gradients), packed */
static inline void level_tile(float v[4][LS_TILE], const float *x, const float *a, int B) {
#ifdef __AVX__
    __m256 c[4][2];
    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
    for (int i = 0; i < 4; i++) {
        __m256 ai = _mm256_broadcast_ss(a + i);
        c[i][0] = _mm256_mul_ps(ai, x0);
        c[i][1] = _mm256_mul_ps(ai, x1);
    }
    for (int r = 1; r < B; r++) {
        x0 = _mm256_loadu_ps(x + r * LS_TILE);
        x1 = _mm256_loadu_ps(x + r * LS_TILE + 8);
        for (int i = 0; i < 4; i++) {
            __m256 ai = _mm256_broadcast_ss(a + r * 4 + i);
            c[i][0] = _mm256_add_ps(c[i][0], _mm256_mul_ps(ai, x0));
            c[i][1] = _mm256_add_ps(c[i][1], _mm256_mul_ps(ai, x1));
        }
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(v[i], c[i][0]);
        _mm256_storeu_ps(v[i] + 8, c[i][1]);
    }
#else
    for (int i = 0; i < 4; i++)
        for (int t = 0; t < LS_TILE; t++) {
            float y = a[i] * x[t];
            for (int r = 1; r < B; r++) y += a[r * 4 + i] * x[r * LS_TILE + t];
            v[i][t] = y;
        }
#endif
}

/* the tile of rows [o, o+4), columns [d, d+16) over all levels, from the
 * packed inputs */
static void level_sums_tile(double *sum, int32_t *ssum, int64_t *bi, int *bl, float *bv, const float *pin,
                            const float *pdo, int L, int B, int Din, int o, int d) {
    const int N = L * B;
    const float *x = pin + (size_t)(d / LS_TILE) * N * LS_TILE, *a = pdo + (size_t)(o / 4) * N * 4;
    if (k512_available() && !k512_level_sums_tile(sum + (size_t)o * Din + d, ssum + (size_t)o * Din + d, x, a, L, B, (size_t)Din))
        return;
    double acc[4][LS_TILE] = {{0}};
    float cnt[4][LS_TILE] = {{0}}; /* sign sums, exact in float */
    for (int l = 0; l < L; l++) {
        float v[4][LS_TILE];
        level_tile(v, x + (size_t)l * B * LS_TILE, a + (size_t)l * B * 4, B);
        int bad = 0;
#ifdef __AVX__
        const __m256 big = _mm256_set1_ps(FLT_MAX), absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
        __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for (int i = 0; i < 4; i++)
            for (int h = 0; h < LS_TILE; h += 8) {
                __m256 y = _mm256_loadu_ps(v[i] + h);
                ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_and_ps(y, absm), big, _CMP_LE_OQ));
                __m256 gt = _mm256_and_ps(_mm256_cmp_ps(y, zero, _CMP_GT_OQ), one);
                __m256 k = _mm256_add_ps(_mm256_loadu_ps(cnt[i] + h), gt);
                _mm256_storeu_ps(cnt[i] + h, _mm256_sub_ps(k, _mm256_and_ps(_mm256_cmp_ps(y, zero, _CMP_LT_OQ), one)));
                __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(y));
                _mm256_storeu_pd(acc[i] + h, _mm256_add_pd(_mm256_loadu_pd(acc[i] + h), lo));
                _mm256_storeu_pd(acc[i] + h + 4,
                                 _mm256_add_pd(_mm256_loadu_pd(acc[i] + h + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1))));
            }
        bad = _mm256_movemask_ps(ok) != 0xff;
#else
        for (int i = 0; i < 4; i++)
            for (int t = 0; t < LS_TILE; t++) {
                float y = v[i][t];
                bad |= !(fabsf(y) <= FLT_MAX);
                cnt[i][t] += (float)((y > 0) - (y < 0));
                acc[i][t] += y;
            }
#endif
        if (bad)
            for (int i = 0; i < 4; i++)
                for (int t = 0; t < LS_TILE; t++)
                    if (!(fabsf(v[i][t]) <= FLT_MAX)) first_bad(bi, bl, bv, (int64_t)(o + i) * Din + d + t, l, v[i][t]);
    }
    for (int i = 0; i < 4; i++) {
        memcpy(sum + (size_t)(o + i) * Din + d, acc[i], sizeof acc[i]);
        for (int t = 0; t < LS_TILE; t++) ssum[(size_t)(o + i) * Din + d + t] = (int32_t)cnt[i][t];
    }
}

void k_linear_params_level_sums(double *sum, int32_t *ssum, int64_t *bad_i, int *bad_l, float *bad_v, const float *pin,
                                const float *pdo, int L, int B, int Din, int o0, int o1) {
    const int DB = 512; /* columns of a block: its packed inputs (L*B rows) stay in L2 across the outputs */
    for (int d0 = 0; d0 < Din; d0 += DB) {
        int d1 = d0 + DB < Din ? d0 + DB : Din;
        for (int o = o0; o < o1; o += 4)
            for (int d = d0; d < d1; d += LS_TILE) level_sums_tile(sum, ssum, bad_i, bad_l, bad_v, pin, pdo, L, B, Din, o, d);
    }
}

void k_linear_forward_cols(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout, int d0,
                           int d1) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * Dout + d0, b + d0, sizeof(float) * (size_t)(d1 - d0));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, d1 - d0, Din, 1.0f, in, Din, w + (size_t)d0 * Din, Din, 1.0f,
                out + d0, Dout);
}

void k_linear_backward_data_cols(float *din, const float *dout, const float *w, int N, int Din, int Dout, int d0, int d1,
                                 int acc) {
    if (k512_gemm_ok(N, d1 - d0, Dout)) {
        k512_gemm(din + d0, Din, dout, Dout, 0, w + d0, Din, N, d1 - d0, Dout, acc, NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d1 - d0, Dout, 1.0f, dout, Dout, w + d0, Din,
                acc ? 1.0f : 0.0f, din + d0, Din);
}

void k_linear_backward_data(float *din, const float *dout, const float *w, int N, int Din, int Dout, int acc) {
    if (k512_gemm_ok(N, Din, Dout)) {
        k512_gemm(din, Din, dout, Dout, 0, w, Din, N, Din, Dout, acc, NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Din, Dout, 1.0f, dout, Dout, w, Din, acc ? 1.0f : 0.0f, din,
                Din);
}
