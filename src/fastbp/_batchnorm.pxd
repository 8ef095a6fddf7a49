# cython: language_level=3, cdivision=True
"""Batch normalization of hidden units, forward and backward, for the core.

Per unit j over the n rows of a batch (Ioffe & Szegedy):
    ẑ = (z − μ_j)·inv_j,  inv_j = 1/√(σ²_j + ε),  y = γ_j·ẑ + β_j
and back, from dy = ∂C/∂y:
    ∂C/∂γ_j = Σ dy·ẑ,  ∂C/∂β_j = Σ dy,
    ∂C/∂z = γ_j·inv_j·(dy − Σdy/n − ẑ·Σ(dy·ẑ)/n)
A unit's statistics are over the rows of its own column, so the thread that
owns the unit computes them alone. Sums run over rows in order, in double.
β is the layer's bias (fastbp keeps no separate bias before the shift).
"""
from cython cimport floating
from libc.math cimport sqrt


cdef inline void column_sums(double *out, const floating *a, Py_ssize_t n, Py_ssize_t ld,
                             Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """out[j] = Σ_i a[i, j] for columns lo:hi of a (n, ld), in row order."""
    cdef Py_ssize_t i, j
    for j in range(lo, hi):
        out[j] = 0
    for i in range(n):
        for j in range(lo, hi):
            out[j] += a[i * ld + j]


cdef inline void bn_forward(floating *z, floating *zhat, Py_ssize_t n, Py_ssize_t ld,
                            Py_ssize_t lo, Py_ssize_t hi, const floating *gamma,
                            const floating *beta, double *mean, double *inv,
                            double *run_mean, double *run_var, int batch_stats,
                            int update, double momentum, double eps) noexcept nogil:
    """Columns lo:hi of z (n, ld) become y = γ·ẑ + β, ẑ kept in zhat (same
    layout). mean/inv/run_* are per-unit arrays indexed by column. With
    batch_stats the batch's μ, σ² (biased) are used and, with update, folded
    into the running estimates (σ² unbiased there, as torch); else the
    running estimates are used."""
    cdef Py_ssize_t i, j
    cdef double v, var
    if batch_stats:
        column_sums(mean, z, n, ld, lo, hi)
        for j in range(lo, hi):
            mean[j] /= n
            inv[j] = 0
        for i in range(n):
            for j in range(lo, hi):
                v = z[i * ld + j] - mean[j]
                inv[j] += v * v
        for j in range(lo, hi):
            var = inv[j] / n
            if update:
                run_mean[j] = (1 - momentum) * run_mean[j] + momentum * mean[j]
                run_var[j] = (1 - momentum) * run_var[j] + momentum * (
                    inv[j] / (n - 1) if n > 1 else var)
            inv[j] = 1 / sqrt(var + eps)
    else:
        for j in range(lo, hi):
            mean[j] = run_mean[j]
            inv[j] = 1 / sqrt(run_var[j] + eps)
    for i in range(n):
        for j in range(lo, hi):
            zhat[i * ld + j] = <floating> ((z[i * ld + j] - mean[j]) * inv[j])
            z[i * ld + j] = gamma[j] * zhat[i * ld + j] + beta[j]


cdef inline void bn_backward(floating *d, const floating *zhat, Py_ssize_t n, Py_ssize_t ld,
                             Py_ssize_t lo, Py_ssize_t hi, const floating *gamma,
                             const double *inv, double *s1, double *s2,
                             floating *g_gamma, floating *g_beta) noexcept nogil:
    """d holds dy on columns lo:hi; it becomes ∂C/∂z. ∂C/∂γ and ∂C/∂β of
    those units go to g_gamma, g_beta (indexed by column); s1, s2 scratch."""
    cdef Py_ssize_t i, j
    column_sums(s1, d, n, ld, lo, hi)
    for j in range(lo, hi):
        s2[j] = 0
    for i in range(n):
        for j in range(lo, hi):
            s2[j] += <double> d[i * ld + j] * zhat[i * ld + j]
    for j in range(lo, hi):
        g_beta[j] = <floating> s1[j]
        g_gamma[j] = <floating> s2[j]
    for i in range(n):
        for j in range(lo, hi):
            d[i * ld + j] = <floating> (gamma[j] * inv[j] * (
                d[i * ld + j] - s1[j] / n - zhat[i * ld + j] * s2[j] / n))
