# cython: language_level=3
"""The one fused-type wrapper over the tuned BLAS (csrc/blas.h), as
scikit-learn's _cython_blas: the rest of the core knows shapes, not the BLAS.

Matrices are row-major (NumPy's C order) with a leading dimension; the call
is turned into the column-major one by computing Cᵀ = op(B)ᵀ·op(A)ᵀ.
"""
from cython cimport floating

cdef extern from "blas.h" nogil:
    ctypedef void (*fastbp_sgemm_fn)(const char *, const char *, const int *, const int *,
                                     const int *, const float *, const float *, const int *,
                                     const float *, const int *, const float *, float *,
                                     const int *)
    ctypedef void (*fastbp_dgemm_fn)(const char *, const char *, const int *, const int *,
                                     const int *, const double *, const double *, const int *,
                                     const double *, const int *, const double *, double *,
                                     const int *)
    fastbp_sgemm_fn fastbp_sgemm
    fastbp_dgemm_fn fastbp_dgemm
    void fastbp_blas_bind(void *sgemm, void *dgemm)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                      const floating *A, int lda, const floating *B, int ldb, floating beta,
                      floating *C, int ldc) noexcept nogil:
    """C = alpha·op(A)·op(B) + beta·C; C is (m, n), op(A) (m, k), op(B) (k, n),
    op(X) = Xᵀ when trans_x. beta = 0 overwrites C without reading it."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        fastbp_sgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        fastbp_dgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
