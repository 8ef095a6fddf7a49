# cython: language_level=3, cdivision=True
"""Costs and the output delta (BP1), per sample, for the compiled core.

The two cross-entropies are computed from the output pre-activations z, so
they never take log(0): softmax + categorical cross-entropy through
log-sum-exp, sigmoid + binary cross-entropy through softplus. Their output
delta is a − y (the σ' factor cancels).
"""
from cython cimport floating

from fastbp._activations cimport IDENTITY, SOFTMAX, _softplus, activation_grad

# The codes are fastbp.h's (fastbp._core.COST_CODES for Python).
cdef extern from "fastbp.h" nogil:
    cdef enum fastbp_cost:
        QUADRATIC "FASTBP_QUADRATIC"
        BINARY_CROSS_ENTROPY "FASTBP_BINARY_CROSS_ENTROPY"
        CROSS_ENTROPY "FASTBP_CROSS_ENTROPY"


cdef inline double cost_row(floating *d, const floating *a, const floating *z,
                            const floating *y, Py_ssize_t width, int act, int cost,
                            floating scale, floating lse) noexcept nogil:
    """Per-sample cost C, and δ_L = scale·∂C/∂z into d. a, z, y, d are (width,);
    lse = log Σ e^z (softmax_row's), for the cross-entropy."""
    cdef Py_ssize_t j
    cdef double c = 0
    cdef floating g, dot
    if cost == CROSS_ENTROPY:
        # softmax output: C = Σ y (logsumexp(z) − z), δ = a − y
        for j in range(width):
            if y[j] != 0:
                c += y[j] * (lse - z[j])
            d[j] = scale * (a[j] - y[j])
    elif cost == BINARY_CROSS_ENTROPY:
        # sigmoid output: −[y ln a + (1−y) ln(1−a)] = softplus(z) − y·z, δ = a − y
        for j in range(width):
            c += _softplus(z[j]) - y[j] * z[j]
            d[j] = scale * (a[j] - y[j])
    else:
        # quadratic: C = ½‖a − y‖², δ = (a − y) ⊙ σ'(z)
        for j in range(width):
            g = a[j] - y[j]
            c += 0.5 * g * g
        if act == SOFTMAX:
            # softmax Jacobian-vector product: δ_k = a_k (g_k − Σ_j a_j g_j)
            dot = 0
            for j in range(width):
                dot += a[j] * (a[j] - y[j])
            for j in range(width):
                d[j] = scale * a[j] * ((a[j] - y[j]) - dot)
        else:
            for j in range(width):
                d[j] = scale * (a[j] - y[j]) * activation_grad(a[j], act)
    return c


cdef inline Py_ssize_t argmax(const floating *v, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t j, best = 0
    for j in range(1, width):
        if v[j] > v[best]:
            best = j
    return best


cdef inline signed char correct(const floating *a, const floating *y,
                                Py_ssize_t width) noexcept nogil:
    """Class of a matches class of y: argmax, or the 0.5 threshold for one output."""
    if width == 1:
        return (a[0] > 0.5) == (y[0] > 0.5)
    return argmax(a, width) == argmax(y, width)
