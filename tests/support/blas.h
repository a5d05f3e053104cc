/* blas.h - what the tests may assume of the BLAS on this machine. */
#ifndef COINBC_TEST_BLAS_H
#define COINBC_TEST_BLAS_H

/* 1 when OpenBLAS's sgemm gives each element of C the same bits whatever
 * the call's row and column counts (an element depends only on its row of A,
 * its column of B and K), checked on the shapes the networks use; 0 when it
 * does not (seen: OpenBLAS 0.3.21's Zen kernels on an AMD EPYC; its SkylakeX
 * kernels pass). A level's gradient alone and in a pass over more levels are
 * bit-equal only where it holds; the thread count never matters. The first
 * call prints the finding once. */
int test_blas_shape_exact(void);
/* OpenBLAS's kernel family ("SkylakeX", "Zen", ...) */
const char *test_blas_core(void);

#endif
