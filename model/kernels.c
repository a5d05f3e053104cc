/* kernels.c - convolution (im2col + sgemm), max pooling, ReLU, flatten and
 * linear layers, forward and backward. Parameter-gradient kernels add into
 * the gradients; data-gradient kernels add when acc is set and overwrite
 * otherwise (the first writer of an activation's gradient overwrites, which
 * saves clearing it), scatter kernels (col2im, max-pool) always add. */
#include <cblas.h>
#include <string.h>

#include "model/kernels.h"

/* the output columns [*lo, *hi) whose input column ox*S - P + kx is inside 0..W-1 */
static void valid_cols(int W, int S, int P, int kx, int Wo, int *lo, int *hi) {
    int a = 0, b = Wo;
    while (a < Wo && a * S - P + kx < 0) a++;
    while (b > a && (b - 1) * S - P + kx >= W) b--;
    *lo = a;
    *hi = b;
}

void k_im2col(float *col, const float *x, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo) {
    size_t NHW = (size_t)N * Ho * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * NHW;
                int lo, hi;
                valid_cols(W, S, P, kx, Wo, &lo, &hi);
                for (int n = 0; n < N; n++) {
                    const float *plane = x + ((size_t)c * N + n) * H * W;
                    float *r = row + (size_t)n * Ho * Wo;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * S - P + ky;
                        float *ro = r + oy * Wo;
                        if (iy < 0 || iy >= H || lo >= hi) {
                            memset(ro, 0, sizeof(float) * (size_t)Wo);
                            continue;
                        }
                        const float *src = plane + iy * W + lo * S - P + kx;
                        for (int ox = 0; ox < lo; ox++) ro[ox] = 0.0f;
                        if (S == 1)
                            memcpy(ro + lo, src, sizeof(float) * (size_t)(hi - lo));
                        else
                            for (int ox = lo; ox < hi; ox++) ro[ox] = src[(ox - lo) * S];
                        for (int ox = hi; ox < Wo; ox++) ro[ox] = 0.0f;
                    }
                }
            }
}

void k_col2im_add(float *dx, const float *col, int C, int N, int H, int W, int K, int S, int P, int Ho, int Wo) {
    size_t NHW = (size_t)N * Ho * Wo;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * NHW;
                int lo, hi;
                valid_cols(W, S, P, kx, Wo, &lo, &hi);
                for (int n = 0; n < N; n++) {
                    float *plane = dx + ((size_t)c * N + n) * H * W;
                    const float *r = row + (size_t)n * Ho * Wo;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * S - P + ky;
                        if (iy < 0 || iy >= H || lo >= hi) continue;
                        float *dst = plane + iy * W + lo * S - P + kx;
                        const float *ro = r + oy * Wo;
                        if (S == 1)
                            for (int ox = lo; ox < hi; ox++) dst[ox - lo] += ro[ox];
                        else
                            for (int ox = lo; ox < hi; ox++) dst[(ox - lo) * S] += ro[ox];
                    }
                }
            }
}

void k_conv_forward(float *out, const float *col, const float *w, const float *b, int Cout, int CKK, int NHW) {
    for (int co = 0; co < Cout; co++) {
        float *o = out + (size_t)co * NHW;
        for (int j = 0; j < NHW; j++) o[j] = b[co];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, NHW, CKK, 1.0f, w, CKK, col, NHW, 1.0f, out, NHW);
}

void k_conv_backward_params(float *gw, float *gb, const float *dout, const float *col, int Cout, int CKK, int NHW) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Cout, CKK, NHW, 1.0f, dout, NHW, col, NHW, 1.0f, gw, CKK);
    for (int co = 0; co < Cout; co++) {
        const float *d = dout + (size_t)co * NHW;
        float s = 0;
        for (int j = 0; j < NHW; j++) s += d[j];
        gb[co] += s;
    }
}

void k_conv_backward_data(float *dcol, const float *w, const float *dout, int Cout, int CKK, int NHW) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, NHW, Cout, 1.0f, w, CKK, dout, NHW, 0.0f, dcol, NHW);
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

void k_maxpool_forward(float *out, int32_t *idx, const float *in, int planes, int H, int W, int Ho, int Wo) {
    for (int p = 0; p < planes; p++) {
        const float *src = in + (size_t)p * H * W;
        float *o = out + (size_t)p * Ho * Wo;
        int32_t *ix = idx + (size_t)p * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float best = -3.4e38f;
                int bi = -1;
                for (int ky = 0; ky < 3; ky++) {
                    int iy = oy * 2 - 1 + ky;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < 3; kx++) {
                        int xx = ox * 2 - 1 + kx;
                        if (xx < 0 || xx >= W) continue;
                        float v = src[iy * W + xx];
                        if (bi < 0 || v > best) { /* first maximum wins, as in PyTorch */
                            best = v;
                            bi = iy * W + xx;
                        }
                    }
                }
                o[oy * Wo + ox] = best;
                ix[oy * Wo + ox] = bi;
            }
    }
}

void k_maxpool_backward_add(float *din, const float *dout, const int32_t *idx, int planes, int H, int W, int Ho, int Wo) {
    for (int p = 0; p < planes; p++) {
        float *d = din + (size_t)p * H * W;
        const float *g = dout + (size_t)p * Ho * Wo;
        const int32_t *ix = idx + (size_t)p * Ho * Wo;
        for (int j = 0; j < Ho * Wo; j++) d[ix[j]] += g[j];
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

void k_linear_backward_params(float *gw, float *gb, const float *dout, const float *in, int N, int Din, int Dout) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Dout, Din, N, 1.0f, dout, Dout, in, Din, 1.0f, gw, Din);
    for (int r = 0; r < N; r++)
        for (int o = 0; o < Dout; o++) gb[o] += dout[(size_t)r * Dout + o];
}

void k_linear_backward_data(float *din, const float *dout, const float *w, int N, int Din, int Dout, int acc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Din, Dout, 1.0f, dout, Dout, w, Din, acc ? 1.0f : 0.0f, din,
                Din);
}
