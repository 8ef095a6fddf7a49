# cython: language_level=3
"""The one fused-type wrapper over the tuned BLAS (csrc/blas.h), as
scikit-learn's _cython_blas, and over fastbp's own kernels where they win
(csrc/dot.c: the forward product; csrc/outer.c: float32 backward products):
the rest of the core knows shapes, not who computes them.

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

cdef extern from "kernels.h" nogil:
    int fastbp_kernels_ready()
    int fastbp_kernels_on

cdef extern from "dot.h" nogil:
    void fastbp_sdot_abt(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a,
                         Py_ssize_t lda, const float *b, Py_ssize_t ldb, float *c,
                         Py_ssize_t ldc)
    void fastbp_ddot_abt(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a,
                         Py_ssize_t lda, const double *b, Py_ssize_t ldb, double *c,
                         Py_ssize_t ldc)

cdef extern from "outer.h" nogil:
    ctypedef void (*fastbp_rows_fn)(void *ctx, Py_ssize_t i, Py_ssize_t rows) noexcept nogil
    void fastbp_souter(int trans_a, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                       const float *a, Py_ssize_t lda, const float *b, Py_ssize_t ldb,
                       float beta, float *c, Py_ssize_t ldc, fastbp_rows_fn after, void *ctx)
    void fastbp_souter_abt(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a,
                           Py_ssize_t lda, const float *b, Py_ssize_t ldb, float *c,
                           Py_ssize_t ldc, float *pack, const float *bias, int act,
                           int *nonfinite)
    void fastbp_douter_abt(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a,
                           Py_ssize_t lda, const double *b, Py_ssize_t ldb, double *c,
                           Py_ssize_t ldc, double *pack, const double *bias, int act,
                           int *nonfinite)


# Products up to this many multiply-adds run in the loop below (but the
# forward product's, where csrc/dot.c's kernels run every size): a BLAS call
# costs more than that in checks and packing (online SGD of small networks
# is made of such products). Measured with the loop below (1 thread, ns per
# row of train_epoch, best of 21; a 2-core AVX-512 Zen 5 shared with other
# work): 7-5-3 sigmoid, batch 1 (products of 15-35 multiply-adds): 135, and
# 430 with BLAS for all. Against 1024, on a quiet machine (ns per row of a
# fit of 3 epochs, median of 7, 128 / 1024): 7-5-3 batch 1 216 / 204,
# batch 10 150 / 131; 64-16-10 batch 1 625 / 650, batch 4 344 / 380;
# 64-100-10 batch 1 2134 / 2269, batch 10 1059 / 1136; 20-30-5 batch 2
# 635 / 869: 128 stays.
cdef enum:
    SMALL_GEMM = 128

# The backward products (B not transposed) in float32 take csrc/outer.c's
# kernel where the CPU runs it, for C of at most OUTER_MAX_ROWS rows and sums
# of at least OUTER_MIN_K terms. Measured against scipy-openblas32 0.3.34 (1
# thread, Zen 5, µs, OpenBLAS / outer.c, C = op(A)·B with C (m, n), sum of
# k): ∇W pieces 64×784 of 64 rows (M) 31-33 / 26-28, 50×784 of 64 24.2 /
# 20.6, 128×784 of 64 59 / 56, of 256 235 / 225, 10×1024 of 256 (L's last
# layer) 72-95 / 24-26, 10×128 of 64 0.70-0.76 / 0.68-0.70; δ pieces
# 256×512 of 1024 (L) 1133-1196 / 1076-1162, 128×512 of 1024 629 / 571.
# It loses for more rows (512×784 of 256, L's ∇W pieces: 895-922 / 946-980)
# and for short sums (64×784 of 10: 5.0 / 5.6; of 16: 9.6 / 10.4; 64×64 of
# 10 or 32: 0.93-0.96×). In float64 it was not faster at the shapes of S
# and the digits (0.88-1.15×), so there is none. The choice depends on the
# shape of a piece only, so the bits do not depend on threads.
cdef enum:
    OUTER_MAX_ROWS = 256
    OUTER_MIN_K = 32


cdef inline bint outer_runs(bint trans_b, int m, int n, int k) noexcept nogil:
    """Does a float32 product of this shape (B transposed or not) take
    csrc/outer.c's kernel?"""
    return (fastbp_kernels_on and not trans_b and <long> m * n * k > SMALL_GEMM
            and m <= OUTER_MAX_ROWS and k >= OUTER_MIN_K)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                      const floating *A, int lda, const floating *B, int ldb, floating beta,
                      floating *C, int ldc) noexcept nogil:
    """C = alpha·op(A)·op(B) + beta·C; C is (m, n), op(A) (m, k), op(B) (k, n),
    op(X) = Xᵀ when trans_x. beta = 0 overwrites C without reading it."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if <long> m * n * k <= SMALL_GEMM:
        small_gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    elif floating is float and outer_runs(trans_b, m, n, k) and (beta == 0 or beta == 1):
        fastbp_souter(trans_a, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, NULL, NULL)
    elif floating is float:
        fastbp_sgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        fastbp_dgemm(&tb, &ta, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)


# The forward product Z = A·Wᵀ takes fastbp's own kernels where the CPU runs
# them (AVX-512F; fastbp_kernels_on, set at import), at every size: from
# PACKED_MIN_ROWS rows and PACKED_MIN_UNITS units (16 in float64) csrc/outer.c's
# sums of rows of Wᵀ, W packed by blocks of 64 floats (32 doubles) into the
# thread's `pack`; below, csrc/dot.c's dot products, which read W as it is.
# Measured (1 thread, Zen 5, µs, OpenBLAS / dot.c / packed outer.c), float32:
# 256×784·(784×128)ᵀ (M's inference) 309 / 249-265 / 225-238, 128 rows 180 /
# 123-138 / 128, 64 rows (M's training) 77-92 / 61-66 / 61-67 (even); L's
# 256×784·(784×512)ᵀ 1007-1134 / 896-1037 and 256×1024·(1024×512)ᵀ 1400-1500
# / 1207-1331; 200×64·(64×100)ᵀ 19.5 / 12.7; but 16 rows 17.6 / 20.8, 256×16
# of 784 34 / 39, 256×10 of 128 4.1 / 7.9. Float64: 256×784·(784×30)ᵀ (S's
# inference) 374 / 196 / 128, 32 rows 22.0 / 17.9; 200×64·(64×100)ᵀ (the
# digits) 35 / 31.6 / 26.2; 256×16 of 784 114 / 72; but 10 rows 6.4 / 7.4
# (S's training), 200×100·(100×10)ᵀ 4.7 / 6.5. Without them, OpenBLAS
# (column-major inside) makes Z's column count its M, and is slow in
# float64 when that is small: computing Zᵀ = W·Aᵀ instead (M = rows) and
# transposing is faster there, by 1.14-1.43× for units ≤ 30 and rows ≥ 64
# (784-30 at 256 rows: 231 / 169 µs; 100-10 at 200: 11.9 / 8.4); ~1.0× for
# 100-300 units or 32 rows, 0.71-1.04× in float32 (so not used there).
# Each choice depends on the shape and the CPU only, so the bits do not
# depend on threads.
cdef enum:
    PACKED_MIN_ROWS = 32
    PACKED_MIN_UNITS = 32
    PACKED_MIN_UNITS_DOUBLE = 16
    PACK_UNITS = 64  # a block of packed units: a pack holds (inputs + 16)·64 numbers
    NARROW_UNITS = 32
    TRANSPOSE_MIN_ROWS = 64


cdef inline bint gemm_abt(int m, int n, int k, const floating *A, int lda,
                          const floating *B, int ldb, floating *C, int ldc,
                          floating *scratch, floating *pack, const floating *bias,
                          int act, int *nonfinite) noexcept nogil:
    """C = A·Bᵀ (C is (m, n), A (m, k), B (n, k)): the forward product.
    scratch: m·n numbers for Cᵀ where that is the faster way with the BLAS
    (NULL: never); pack: the thread's (k + 16)·PACK_UNITS numbers for packing
    B (NULL: never packed). Where B is packed, C = σ(A·Bᵀ + bias) instead
    (bias not NULL; σ: relu, leaky relu or, for any other code, none) and
    the result is True: bias_activate's work, done in registers; and there,
    with nonfinite, *nonfinite = whether any of A·Bᵀ is NaN or ±inf (as in
    a row of A that holds one: outer.h). Elsewhere *nonfinite is left as it
    was (the caller's sign that nobody looked)."""
    cdef Py_ssize_t i, j
    cdef int min_units = PACKED_MIN_UNITS
    if floating is double:
        min_units = PACKED_MIN_UNITS_DOUBLE
    if fastbp_kernels_on:  # every size
        if pack != NULL and m >= PACKED_MIN_ROWS and n >= min_units:
            if floating is float:
                fastbp_souter_abt(m, n, k, A, lda, B, ldb, C, ldc, pack, bias, act, nonfinite)
            else:
                fastbp_douter_abt(m, n, k, A, lda, B, ldb, C, ldc, pack, bias, act, nonfinite)
            return bias != NULL
        if floating is float:
            fastbp_sdot_abt(m, n, k, A, lda, B, ldb, C, ldc)
        else:
            fastbp_ddot_abt(m, n, k, A, lda, B, ldb, C, ldc)
    elif (floating is double and scratch != NULL and n <= NARROW_UNITS
          and m >= TRANSPOSE_MIN_ROWS):
        gemm(False, True, n, m, k, <floating> 1, B, ldb, A, lda, <floating> 0, scratch, m)
        for i in range(m):
            for j in range(n):
                C[i * ldc + j] = scratch[j * m + i]
    else:
        gemm(False, True, m, n, k, <floating> 1, A, lda, B, ldb, <floating> 0, C, ldc)
    return False


cdef inline void small_gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                            const floating *A, int lda, const floating *B, int ldb,
                            floating beta, floating *C, int ldc) noexcept nogil:
    """gemm's plain loop: each C[i, j] one sum over k in order, in double
    (float32 gains digits at no cost at these sizes). Three loops for the
    shapes online SGD makes (a row of a 7-5-3 net: 1,170 instructions in
    products, against 2,234 with one generic strided loop): outer products (k = 1, the weight
    update of a batch of one), dot products along contiguous rows (the
    forward pass), and strided dot products (the rest)."""
    # Py_ssize_t indices: with int ones, Python's -fwrapv keeps the compiler
    # from seeing the rows as contiguous (no vectorizing, index arithmetic
    # in every step)
    cdef Py_ssize_t i, j, p
    cdef Py_ssize_t sa_i = 1 if trans_a else lda, sa_p = lda if trans_a else 1
    cdef Py_ssize_t sb_p = 1 if trans_b else ldb, sb_j = ldb if trans_b else 1
    cdef const floating *a_row
    cdef const floating *b0
    cdef const floating *b1
    cdef floating *c_row
    cdef double a, acc0, acc1
    for i in range(m):
        a_row = A + i * sa_i
        c_row = C + i * ldc
        if k == 1 and not trans_b:
            # an outer product (the weight update of online SGD): a loop
            # along a contiguous row of B, which the compiler vectorizes
            a = a_row[0]
            if beta == 0:
                for j in range(n):
                    c_row[j] = <floating> (alpha * (a * B[j]))
            else:
                for j in range(n):
                    c_row[j] = <floating> (alpha * (a * B[j]) + beta * c_row[j])
            continue
        # dot products, two columns of C at a time (one pass over the row
        # of A for both; two sums in flight); with trans_b and not trans_a
        # (the forward pass) along contiguous rows, a loop of its own
        j = 0
        while j + 1 < n:
            b0 = B + j * sb_j
            b1 = b0 + sb_j
            acc0 = 0
            acc1 = 0
            if trans_b and not trans_a:
                for p in range(k):
                    a = a_row[p]
                    acc0 = acc0 + a * b0[p]
                    acc1 = acc1 + a * b1[p]
            else:
                for p in range(k):
                    a = a_row[p * sa_p]
                    acc0 = acc0 + a * b0[p * sb_p]
                    acc1 = acc1 + a * b1[p * sb_p]
            _put(c_row + j, alpha * acc0, beta)
            _put(c_row + j + 1, alpha * acc1, beta)
            j = j + 2
        if j < n:
            b0 = B + j * sb_j
            acc0 = 0
            for p in range(k):
                acc0 = acc0 + <double> a_row[p * sa_p] * b0[p * sb_p]
            _put(c_row + j, alpha * acc0, beta)


cdef inline void _put(floating *c, double v, floating beta) noexcept nogil:
    """c = v + beta·c; beta = 0 overwrites c without reading it."""
    if beta == 0:
        c[0] = <floating> v
    else:
        c[0] = <floating> (v + beta * c[0])
