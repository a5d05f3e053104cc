/* blas.c - does an element of sgemm's C depend on the shape of the call?
 * (blas.h) C = A B for M x N, and again for the first M/2 rows and for the
 * first N/2 columns: every element of the smaller products must have the
 * bits it has in the whole. */
#include "tests/support/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

const char *test_blas_core(void) { return openblas_get_corename(); }

static int shapes_agree(int M, int N, int K, float *a, float *b, float *c1, float *c2) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a, K, b, N, 0.f, c1, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N / 2, K, 1.f, a, K, b, N, 0.f, c2, N);
    for (int i = 0; i < M; i++)
        if (memcmp(c1 + (size_t)i * N, c2 + (size_t)i * N, sizeof(float) * (size_t)(N / 2))) return 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M / 2, N, K, 1.f, a, K, b, N, 0.f, c2, N);
    return memcmp(c1, c2, sizeof(float) * (size_t)(M / 2) * N) == 0;
}

int test_blas_shape_exact(void) {
    static int known = -1;
    if (known >= 0) return known;
    /* shapes of the networks' products: channels x positions x patch sizes */
    static const int S[][3] = {{32, 64, 192}, {64, 144, 512}, {64, 16, 576}, {100, 64, 500}, {16, 400, 1000}};
    size_t big = (size_t)1000 * 1000;
    float *a = malloc(sizeof(float) * big), *b = malloc(sizeof(float) * big), *c1 = malloc(sizeof(float) * big),
          *c2 = malloc(sizeof(float) * big);
    if (!a || !b || !c1 || !c2) {
        fprintf(stderr, "test_blas_shape_exact: out of memory\n");
        exit(1);
    }
    cb_rng r;
    cb_rng_seed(&r, 3);
    for (size_t i = 0; i < big; i++) a[i] = (float)cb_rng_uniform(&r) - 0.5f, b[i] = (float)cb_rng_uniform(&r) - 0.5f;
    openblas_set_num_threads(1);
    known = 1;
    for (size_t s = 0; s < sizeof S / sizeof *S && known; s++) known = shapes_agree(S[s][0], S[s][1], S[s][2], a, b, c1, c2);
    free(a), free(b), free(c1), free(c2);
    if (!known)
        printf("note: OpenBLAS's %s sgemm rounds an element differently with the call's shape: a level's gradient "
               "alone and in a pass over more levels are not compared bit for bit on this machine (the thread "
               "count still is)\n",
               test_blas_core());
    return known;
}
