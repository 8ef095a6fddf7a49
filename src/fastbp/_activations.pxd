# cython: language_level=3, cdivision=True
"""Activations and their derivatives, elementwise, for the compiled core.

σ' is written in terms of the stored activation a = σ(z) (sigmoid: a(1−a),
tanh: 1−a², relu: [a > 0]), so the core keeps a and not z. Softmax works on
whole rows; it is only an output activation.
"""
from cython cimport floating
from libc.math cimport exp, expf, log, logf, log1p, log1pf, tanh, tanhf

# The codes are fastbp.h's (fastbp._core.ACTIVATION_CODES for Python).
cdef extern from "fastbp.h" nogil:
    double FASTBP_LEAKY_SLOPE
    cdef enum fastbp_activation:
        IDENTITY "FASTBP_IDENTITY"
        SIGMOID "FASTBP_SIGMOID"
        TANH "FASTBP_TANH"
        RELU "FASTBP_RELU"
        LEAKY_RELU "FASTBP_LEAKY_RELU"
        SOFTMAX "FASTBP_SOFTMAX"

cdef extern from "activation.h" nogil:
    void fastbp_dsigmoid(double *a, const double *z, Py_ssize_t n)
    void fastbp_ssigmoid(float *a, const float *z, Py_ssize_t n)
    void fastbp_dexp_shift(double *a, const double *z, Py_ssize_t n, double m)
    void fastbp_sexp_shift(float *a, const float *z, Py_ssize_t n, float m)
    void fastbp_dmul_grad(double *d, const double *a, const unsigned char *kept, Py_ssize_t n,
                          int act, double keep, double scale)
    void fastbp_smul_grad(float *d, const float *a, const unsigned char *kept, Py_ssize_t n,
                          int act, float keep, float scale)


# Rows of at least this many units go to the vectorized loops of
# csrc/activation.c, whose e^x is fastbp_exp (activation.h); shorter ones,
# and every scalar use, take libm's exp here (but softmax, which always takes
# fastbp_exp: softmax_rows). Both are within 1 ulp; which one a layer uses
# depends on its width only, so results still do not depend on the thread
# count. fastbp_exp's vectors are 3-4× faster per
# element over a row, and libm's single call waits less (the from-scratch
# tutorial's 7-5-3 network, trained a row at a time, was 5-10% slower with
# fastbp_exp in every place).
cdef enum:
    VECTOR_MIN = 16


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating _sigmoid(floating z) noexcept nogil:
    # exp of a non-positive argument only: no overflow for large |z|
    cdef floating e
    if z >= 0:
        e = _exp(-z)
        return 1 / (1 + e)
    e = _exp(z)
    return e / (1 + e)


cdef inline floating _softplus(floating z) noexcept nogil:
    """log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|)."""
    cdef floating m = z if z > 0 else 0
    cdef floating t = -z if z > 0 else z
    if floating is float:
        return m + log1pf(expf(t))
    else:
        return m + log1p(exp(t))


cdef inline floating activate(floating z, int act) noexcept nogil:
    if act == SIGMOID:
        return _sigmoid(z)
    if act == TANH:
        if floating is float:
            return tanhf(z)
        else:
            return tanh(z)
    if act == RELU:
        return z if z > 0 else 0
    if act == LEAKY_RELU:
        return z if z > 0 else <floating> FASTBP_LEAKY_SLOPE * z
    return z


cdef inline floating activation_grad(floating a, int act) noexcept nogil:
    """σ'(z) written in terms of a = σ(z)."""
    if act == SIGMOID:
        return a * (1 - a)
    if act == TANH:
        return 1 - a * a
    if act == RELU:
        return 1 if a > 0 else 0
    if act == LEAKY_RELU:
        return 1 if a > 0 else <floating> FASTBP_LEAKY_SLOPE
    return 1


cdef inline void bias_activate(floating *a, floating *z, const floating *b,
                               Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld,
                               int act) noexcept nogil:
    """z += b, then a = σ(z) (elementwise; softmax is left to softmax_row).

    z and a are (rows, cols) blocks with row stride ld (a may be z), b is (cols,).
    z keeps the bias: the output layer's stable costs read it."""
    cdef Py_ssize_t i, j
    cdef floating *zr
    cdef floating *ar
    for i in range(rows):
        zr = z + i * ld
        ar = a + i * ld
        for j in range(cols):
            zr[j] += b[j]
        # one loop per activation, its code a constant, so that the
        # compiler inlines it without a branch and vectorizes what it can
        if act == RELU:
            for j in range(cols):
                ar[j] = activate(zr[j], RELU)
        elif act == LEAKY_RELU:
            for j in range(cols):
                ar[j] = activate(zr[j], LEAKY_RELU)
        elif act == SIGMOID and cols < VECTOR_MIN:
            for j in range(cols):
                ar[j] = activate(zr[j], SIGMOID)
        elif act == SIGMOID:  # its e^x vectorized in csrc/activation.c
            if floating is float:
                fastbp_ssigmoid(ar, zr, cols)
            else:
                fastbp_dsigmoid(ar, zr, cols)
        elif act == TANH:
            for j in range(cols):
                ar[j] = activate(zr[j], TANH)
        elif act == IDENTITY and ar != zr:
            for j in range(cols):
                ar[j] = zr[j]


cdef inline floating softmax_row(floating *a, const floating *z, Py_ssize_t width,
                                 bint want_lse) noexcept nogil:
    """a = softmax(z) over one row of width `width` (max subtracted first).
    With want_lse, returns log Σ e^z, which the cross-entropy takes
    (_costs.cost_row), so the exponentials are computed once (inference,
    which has no cost, skips the log: 0)."""
    cdef floating m = _row_max(z, width)
    _exp_shift(a, z, width, m)
    return _normalize(a, width, m, want_lse)


cdef inline void softmax_rows(floating *a, const floating *z, Py_ssize_t rows,
                              Py_ssize_t width, double *lse) noexcept nogil:
    """softmax_row of `rows` rows one after another in a and z; with lse (not
    NULL) their log Σ e^z into lse[0:rows]. The e^x are taken in one call
    over the block, e^((z − m) − 0), the bits of softmax_row's e^(z − m): a
    call a row costs more than a narrow row's few elements (a 10-unit
    output layer: 2-4% of a batch of inference)."""
    cdef Py_ssize_t i, j
    cdef floating m
    for i in range(rows):
        m = _row_max(z + i * width, width)
        for j in range(width):
            a[i * width + j] = z[i * width + j] - m
        if lse != NULL:
            lse[i] = m  # until the sums are known
    _exp_shift(a, a, rows * width, 0)
    for i in range(rows):
        m = _normalize(a + i * width, width, <floating> lse[i] if lse != NULL else 0,
                       lse != NULL)
        if lse != NULL:
            lse[i] = m


cdef inline floating _row_max(const floating *z, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating m = z[0]
    for j in range(1, width):
        if z[j] > m:
            m = z[j]
    return m


cdef inline void _exp_shift(floating *a, const floating *z, Py_ssize_t n,
                            floating m) noexcept nogil:
    """a = e^(z − m), vectorized in csrc/activation.c (every width: a row's
    bits do not depend on how many rows are taken together)."""
    if floating is float:
        fastbp_sexp_shift(a, z, n, m)
    else:
        fastbp_dexp_shift(a, z, n, m)


cdef inline floating _normalize(floating *a, Py_ssize_t width, floating m,
                                bint want_lse) noexcept nogil:
    """a /= Σ a (summed in order); returns m + log Σ a with want_lse, else 0."""
    cdef Py_ssize_t j
    cdef floating s = 0
    for j in range(width):
        s += a[j]
    for j in range(width):
        a[j] /= s
    return m + _log(s) if want_lse else 0


cdef inline void mul_activation_grad(floating *d, const floating *a,
                                     const unsigned char *kept, Py_ssize_t rows,
                                     Py_ssize_t cols, Py_ssize_t ld, int act,
                                     double p) noexcept nogil:
    """d ⊙= σ'(z), from a = σ(z) (BP2's Hadamard factor); (rows, cols) blocks
    with row stride ld. Through dropout (kept, its mask laid out like a, not
    NULL; rate p) ⊙ mask/(1−p) as well, σ' taken at the unscaled a·(1−p).
    A row at a time in csrc/activation.c, whose loops vectorize (relu's
    factor and the mask are selects there, not branches)."""
    cdef Py_ssize_t i, j
    cdef floating keep = <floating> (1 - p), scale = <floating> (1 / (1 - p))
    if act == IDENTITY and kept == NULL:
        return
    for i in range(rows):
        if cols >= VECTOR_MIN:
            if floating is float:
                fastbp_smul_grad(d + i * ld, a + i * ld, kept + i * ld if kept != NULL else NULL,
                                 cols, act, keep, scale)
            else:
                fastbp_dmul_grad(d + i * ld, a + i * ld, kept + i * ld if kept != NULL else NULL,
                                 cols, act, keep, scale)
        elif kept == NULL:
            for j in range(cols):
                d[i * ld + j] *= activation_grad(a[i * ld + j], act)
        else:
            for j in range(cols):
                if kept[i * ld + j]:
                    d[i * ld + j] *= scale * activation_grad(a[i * ld + j] * keep, act)
                else:
                    d[i * ld + j] = 0
