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


# Products up to this many multiply-adds run in the loop below: a BLAS call
# costs more than that in checks and packing (online SGD of small networks
# is made of such products). Measured (1 thread, quiet 2-core AVX-512 Zen 5,
# ns per row of a fit epoch): 7-5-3 sigmoid, batch 1, all products <= 35
# multiply-adds: 232 with this loop for every product up to 2048, 474 with
# BLAS for all; but 64-16-10 batch 1 (products of 160 and 1024): 1678 with
# the loop, 973 with BLAS, and 7-5-3 batch 10 (150 and 350): 177 against
# 148. With 128: 248, 1082 and 169 (noise of ~10% between runs).
cdef enum:
    SMALL_GEMM = 128


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                      const floating *A, int lda, const floating *B, int ldb, floating beta,
                      floating *C, int ldc) noexcept nogil:
    """C = alpha·op(A)·op(B) + beta·C; C is (m, n), op(A) (m, k), op(B) (k, n),
    op(X) = Xᵀ when trans_x. beta = 0 overwrites C without reading it."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if <long> m * n * k <= SMALL_GEMM:
        small_gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    elif floating is float:
        fastbp_sgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        fastbp_dgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)


cdef inline void small_gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                            const floating *A, int lda, const floating *B, int ldb,
                            floating beta, floating *C, int ldc) noexcept nogil:
    """gemm's plain loop: each C[i, j] one sum over k in order, in double
    (float32 gains digits at no cost at these sizes)."""
    cdef int i, j, p
    cdef Py_ssize_t sa_i = 1 if trans_a else lda, sa_p = lda if trans_a else 1
    cdef Py_ssize_t sb_p = 1 if trans_b else ldb, sb_j = ldb if trans_b else 1
    cdef double acc
    for i in range(m):
        for j in range(n):
            acc = 0
            for p in range(k):
                acc = acc + <double> A[i * sa_i + p * sa_p] * B[p * sb_p + j * sb_j]
            if beta == 0:
                C[i * ldc + j] = <floating> (alpha * acc)
            else:
                C[i * ldc + j] = <floating> (alpha * acc + beta * C[i * ldc + j])
