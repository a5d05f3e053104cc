/* kernels.h - the layer kernels (internal to model/). Outputs first, sizes
 * explicit. Activations are (C, N, H, W); "cols" is the im2col matrix
 * (Cin*K*K, N*Ho*Wo). */
#ifndef COINBC_MODEL_KERNELS_H
#define COINBC_MODEL_KERNELS_H

#include <stdint.h>

void k_im2col(float *col, const float *x, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo);
void k_col2im_add(float *dx, const float *col, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo);
/* out (Cout, N*Ho*Wo) = w (Cout, Cin*K*K) x col + b */
void k_conv_forward(float *out, const float *col, const float *w, const float *b, int Cout, int CKK, int NHW);
/* per-level: gw (Cout, CKK) += dout[:, j0:j0+nj] x col[:, j0:j0+nj]^T, gb += row sums */
void k_conv_backward_params(float *gw, float *gb, const float *dout, const float *col, int Cout, int CKK, int NHW,
                            int j0, int nj);
/* dcol (CKK, NHW) = w^T x dout */
void k_conv_backward_data(float *dcol, const float *w, const float *dout, int Cout, int CKK, int NHW);
void k_relu_forward(float *out, const float *in, size_t n);
void k_relu_backward_add(float *din, const float *dout, const float *out, size_t n);
/* 3x3, stride 2, pad 1 max pool over (C*N) planes of H x W -> Ho x Wo */
void k_maxpool_forward(float *out, int32_t *idx, const float *in, int planes, int H, int W, int Ho, int Wo);
void k_maxpool_backward_add(float *din, const float *dout, const int32_t *idx, int planes, int H, int W, int Ho, int Wo);
/* (C, N, HW) <-> (N, C*HW) */
void k_flatten(float *out, const float *in, int C, int N, int HW);
void k_unflatten_add(float *din, const float *dout, int C, int N, int HW);
/* out (N, Dout) = in (N, Din) x w^T + b */
void k_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Din, int Dout);
void k_linear_backward_params(float *gw, float *gb, const float *dout, const float *in, int rows, int Din, int Dout);
void k_linear_backward_data_add(float *din, const float *dout, const float *w, int N, int Din, int Dout);
#endif
