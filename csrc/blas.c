/* blas.c: the BLAS function pointers of blas.h, set once at import. */
#include "blas.h"

fastbp_sgemm_fn fastbp_sgemm = 0;
fastbp_dgemm_fn fastbp_dgemm = 0;

void fastbp_blas_bind(void *sgemm, void *dgemm)
{
    fastbp_sgemm = (fastbp_sgemm_fn) sgemm;
    fastbp_dgemm = (fastbp_dgemm_fn) dgemm;
}
