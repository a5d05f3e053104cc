/* kernels.h - the layer kernels (internal to model/). Outputs first, sizes
 * explicit; acc: add into the output instead of overwriting it. They work on
 * one chunk of N samples: spatial activations (C, N, H, W), flat ones
 * (N, D); "col" is the im2col matrix (Cin*K*K, N*Ho*Wo). */
#ifndef COINBC_MODEL_KERNELS_H
#define COINBC_MODEL_KERNELS_H

#include <stdint.h>

/* col = the K x K patches (stride S, zero padding P) of x (C, N, H, W); col2im adds them back */
void k_im2col(float *col, const float *x, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo);
void k_col2im_add(float *dx, const float *col, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo);
/* out (Cout, N*Ho*Wo) = w (Cout, Cin*K*K) x col + b */
void k_conv_forward(float *out, const float *col, const float *w, const float *b, int Cout, int CKK, int NHW);
/* gw (Cout, CKK) += dout (Cout, NHW) x col^T, gb (Cout) += row sums of dout */
void k_conv_backward_params(float *gw, float *gb, const float *dout, const float *col, int Cout, int CKK, int NHW);
/* dcol (CKK, NHW) = w^T x dout */
void k_conv_backward_data(float *dcol, const float *w, const float *dout, int Cout, int CKK, int NHW);
void k_relu_forward(float *out, const float *in, size_t n);
void k_relu_backward(float *din, const float *dout, const float *out, size_t n, int acc);
/* 3x3, stride 2, pad 1 max pool over (C*N) planes of H x W -> Ho x Wo */
void k_maxpool_forward(float *out, int32_t *idx, const float *in, int planes, int H, int W, int Ho, int Wo);
void k_maxpool_backward_add(float *din, const float *dout, const int32_t *idx, int planes, int H, int W, int Ho, int Wo);
/* (C, N, HW) <-> (N, C*HW) */
void k_flatten(float *out, const float *in, int C, int N, int HW);
void k_unflatten(float *din, const float *dout, int C, int N, int HW, int acc);
/* out (N, Dout) = in (N, Din) x w^T + b */
void k_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout);
/* gw (Dout, Din) += dout^T x in, gb (Dout) += column sums of dout (N rows) */
void k_linear_backward_params(float *gw, float *gb, const float *dout, const float *in, int N, int Din, int Dout);
/* din (N, Din) (+)= dout x w */
void k_linear_backward_data(float *din, const float *dout, const float *w, int N, int Din, int Dout, int acc);
#endif
