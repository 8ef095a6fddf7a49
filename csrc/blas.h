/* blas.h: the tuned BLAS fastbp's products call (see src/fastbp/_blas.pxd).
 *
 * Bound at import to OpenBLAS from scipy-openblas32 (fastbp/_blas.py finds
 * the library and hands its addresses to fastbp_blas_bind), so the compiled
 * core links against no BLAS and the wheel needs no bundled copy. The
 * functions have the Fortran interface: column-major, every argument by
 * pointer, 32-bit integers.
 */
#ifndef FASTBP_BLAS_H
#define FASTBP_BLAS_H

typedef void (*fastbp_sgemm_fn)(const char *transa, const char *transb, const int *m,
                                const int *n, const int *k, const float *alpha,
                                const float *a, const int *lda, const float *b, const int *ldb,
                                const float *beta, float *c, const int *ldc);
typedef void (*fastbp_dgemm_fn)(const char *transa, const char *transb, const int *m,
                                const int *n, const int *k, const double *alpha,
                                const double *a, const int *lda, const double *b,
                                const int *ldb, const double *beta, double *c, const int *ldc);

extern fastbp_sgemm_fn fastbp_sgemm;
extern fastbp_dgemm_fn fastbp_dgemm;

void fastbp_blas_bind(void *sgemm, void *dgemm);

#endif
