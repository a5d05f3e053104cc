/* kernels.h - the layer kernels (internal to model/). Outputs first, sizes
 * explicit; acc: add into the output instead of overwriting it. They work on
 * one chunk of N samples: spatial activations (C, N, H, W), flat ones
 * (N, D); "col" is the im2col matrix (Cin*K*K, N*Ho*Wo). Parameter-gradient
 * kernels with acc 0 write (the first chunk of a level) instead of adding. */
#ifndef COINBC_MODEL_KERNELS_H
#define COINBC_MODEL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* col (C*K*K, (r1-r0)*Wo) = the K x K patches (stride S, zero padding P) of
 * output rows r0..r1-1 of x, output row r = n*Ho + oy; channel c of sample n
 * of x starts at x + c*cstride + n*H*W. col2im adds such a tile back into dx. */
void k_im2col(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int S, int P, int Ho, int Wo,
              int r0, int r1);
/* The same im2col (zero padding only) from a "phased" input: every row of W
 * floats of x stored as its S phases, input column x at (x % S) * (W / S) +
 * x / S (W % S == 0). A strided convolution's kernel column kx then reads
 * one contiguous run of phase kx % S, so the tile is built from straight
 * copies; col holds the same values as k_im2col's of the plain input. */
void k_im2col_phased(float *col, const float *x, size_t cstride, int C, int H, int W, int K, int S, int Ho, int Wo, int r0,
                     int r1);
void k_col2im_add(float *dx, size_t cstride, const float *col, int C, int H, int W, int K, int S, int P, int Ho, int Wo,
                  int r0, int r1);
/* c (M, N; row stride ldc) (+)= a (M, K) x b (K, N) */
void k_matmul(float *c, int ldc, const float *a, const float *b, int M, int N, int K, int acc);
/* out (Cout, cols; row stride ldo) = w (Cout, Cin*K*K) x col + b */
void k_conv_forward(float *out, int ldo, const float *col, const float *w, const float *b, int Cout, int CKK, int cols);
/* gw (Cout, CKK) (+)= dout (Cout, cols; row stride ldd) x col^T. With
 * scratch (room for scratch_n floats, Cout x cols of them used) and the
 * AVX-512 GEMM allowed, computed as gw^T = col x dout^T (the same products
 * summed in the same order, so the same bits) stored transposed; else
 * cblas_sgemm. */
void k_conv_backward_params(float *gw, const float *dout, int ldd, const float *col, int Cout, int CKK, int cols, int acc,
                            float *scratch, size_t scratch_n);
/* gb (Cout) (+)= row sums of dout (Cout, NHW) */
void k_bias_backward(float *gb, const float *dout, int Cout, int NHW, int acc);
/* dcol (CKK, cols) = w^T x dout (Cout, cols; row stride ldd) */
void k_conv_backward_data(float *dcol, const float *w, const float *dout, int ldd, int Cout, int CKK, int cols);
/* wf (Cin, Cout*K*K) = w (Cout, Cin, K, K) with channels swapped and the
 * kernel turned by 180 degrees: the data gradient of a stride-1 convolution
 * is the convolution of its output gradient (padding K-1-P) with wf. */
void k_conv_flip(float *wf, const float *w, int Cout, int Cin, int K);
/* gw (Cout, Cin, K, K) (+)= gt (Cin, Cout, K, K) with channels swapped and
 * the kernel turned back (the inverse arrangement of k_conv_flip) */
void k_conv_unflip(float *gw, const float *gt, int Cout, int Cin, int K, int acc);
void k_relu_forward(float *out, const float *in, size_t n);
void k_relu_backward(float *din, const float *dout, const float *out, size_t n, int acc);
/* 3x3, stride 2, pad 1 max pool over (C*N) planes of H x W -> Ho x Wo */
/* scratch: 2*H*Wo floats */
void k_maxpool_forward(float *out, int32_t *idx, const float *in, int planes, int H, int W, int Ho, int Wo,
                       float *scratch);
/* din (+)= dout routed to each window's argmax (idx: index within the plane) */
void k_maxpool_backward(float *din, const float *dout, const int32_t *idx, int planes, int H, int W, int Ho, int Wo,
                        int acc);
/* (C, N, HW) <-> (N, C*HW) */
void k_flatten(float *out, const float *in, int C, int N, int HW);
void k_unflatten(float *din, const float *dout, int C, int N, int HW, int acc);
/* out (N, Dout) = in (N, Din) x w^T + b */
void k_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout);
/* gw (Dout, Din) (+)= dout^T x in, gb (Dout) (+)= column sums of dout (N rows) */
void k_linear_backward_params(float *gw, float *gb, const float *dout, const float *in, int N, int Din, int Dout, int acc);
/* its bias part alone: gb (Dout) (+)= column sums of dout (N rows) */
void k_linear_backward_bias(float *gb, const float *dout, int N, int Dout, int acc);
/* One 64-pixel frame row (HWC bytes) into its three channel rows in phases
 * of 4 (out + ch * cstride; column x at (x % 4) * 16 + x / 4), each value
 * (float)byte * (1 / 255.0f): what convert_frames writes for Nature's first
 * convolution. */
void k_frame_row_phased4(float *out, size_t cstride, const uint8_t *src);
/* The weight gradient of L levels of B rows each (level l: rows l*B ..
 * l*B + B - 1 of dout and in), reduced over the levels: first the inputs
 * packed (k_linear_params_level_pack: in's columns [d0, d1) into pin, as
 * tiles of 16 columns x N rows, and dout's columns [o0, o1) into pdo, as
 * quads x N rows; N = L * B; multiples of 16 and 4), then for output rows
 * [o0, o1) sum (Dout, Din) gets the sum over levels, in double from 0.0 and
 * in level order, of each level's value as k_linear_backward_params
 * computes it over the level's rows (acc 0), and ssum the sum of their signs
 * (sign(0) = 0). The first non-finite level value in element order, then
 * level order, goes into *bad_i, *bad_l, *bad_v when it comes before what they
 * hold (*bad_l < 0: none yet). Needs Din % 16 == 0 and o0, o1 multiples of 4. */
void k_linear_params_level_pack(float *pin, float *pdo, const float *in, const float *dout, int N, int Din, int Dout,
                                int d0, int d1, int o0, int o1);
void k_linear_params_level_sums(double *sum, int32_t *ssum, int64_t *bad_i, int *bad_l, float *bad_v, const float *pin,
                                const float *pdo, int L, int B, int Din, int o0, int o1);
/* AVX-512 forms (kernels512.c), the same bits as the AVX ones, used where
 * k512_available() (the CPU has AVX-512F): gw rows [o, o+4) up to column
 * d16 as linear_params_tile makes them; one level-sums tile (4 rows x 16
 * columns at sum and ssum, rows row apart) from its packed inputs x and a,
 * returning 1 without the result when a level value is not finite. */
int k512_available(void);
void k512_linear_params_rows4(float *gw, const float *dout, const float *in, int N, int Din, int Dout, int o, int d16,
                              int acc);
int k512_level_sums_tile(double *sum, int32_t *ssum, const float *x, const float *a, int L, int B, size_t row);
/* The AVX-512 GEMM of gemm512.c: c (M x N, ldc) = c0 + op(a) x b (K x N,
 * ldb), op(a) = a (M x K, lda) or, ta, a^T (a: K x M, lda), c0 = bias[row]
 * if bias, else c (beta 1) or 0, with
 * the bits OpenBLAS 0.3.21's SkylakeX sgemm gives the same call.
 * k512_gemm_ok(M, N, K): it may stand in for cblas_sgemm there (the CPU has
 * AVX-512F, OpenBLAS is that version with those kernels, the call is not on
 * its small-matrix path, COINBC_OWN_GEMM is not 0); k512_gemm_enabled: the
 * first three. k512_gemm_use(0) sends every call to OpenBLAS, (1) back
 * where the machine allows (returns what holds now); call it only while no
 * other thread runs kernels (tests, bench train --own-gemm). */
int k512_gemm_enabled(void);
int k512_gemm_use(int on);
int k512_gemm_ok(int M, int N, int K);
void k512_gemm(float *c, int ldc, const float *a, int lda, int ta, const float *b, int ldb, int M, int N, int K,
               int beta, const float *bias);
/* the same with c stored transposed: element (m, n) of op(a) b at
 * c[n * ldc + m] (c0 = that element, beta 1, or 0); a not transposed */
void k512_gemm_ct(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K, int beta);
/* din (N, Din) (+)= dout x w */
void k_linear_backward_data(float *din, const float *dout, const float *w, int N, int Din, int Dout, int acc);
/* The same two products for output columns [d0, d1) only (of out, or of
 * din): each packs only the weights those columns read, so two workers can
 * share one chunk's few rows (model/net.c forward_single, backward_split) */
void k_linear_forward_cols(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout, int d0,
                           int d1);
void k_linear_backward_data_cols(float *din, const float *dout, const float *w, int N, int Din, int Dout, int d0, int d1,
                                 int acc);
#endif
