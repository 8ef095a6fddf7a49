# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""_core: fastbp's compiled backprop, Nielsen's BP1-BP4 in mini-batch form.

Per layer l (weights W_l of shape (n_out, n_in), activation σ_l):
    forward   Z = A_in·Wᵀ + b,  A_out = σ(Z)                  (gemm + fused pass)
    BP1       δ_L = ∇_a C ⊙ σ'(z_L)      (a − y for the two cross-entropies)
    BP2       δ_in = (δ_out·W) ⊙ σ'(a_in)                       (gemm + fused pass)
    BP3/BP4   ∇b = Σ_rows δ,  ∇W = δᵀ·A_in                      (gemm)
Derivatives are taken from the stored activations (σ' of sigmoid is a(1-a)),
so z is only kept for the output layer, where the stable losses need it.

Threads: the rows of a batch are split into one chunk per thread for the
forward pass and the deltas (rows are independent); ∇W and ∇b are split by
output unit, each summed over the batch rows in order. No result depends
on the thread count. The compiled side assumes inputs validated by
fastbp._validation; it never allocates inside an epoch.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport exp, expf, log, logf, log1p, log1pf, tanh, tanhf
from libc.string cimport memcpy
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "gemm.h" nogil:
    int FASTBP_OK
    int FASTBP_ALIGN
    double FASTBP_LEAKY_SLOPE
    size_t fastbp_gemm_work_bytes()
    int fastbp_dgemm(int m, int n, int k, double alpha,
                     const double *A, Py_ssize_t rsa, Py_ssize_t csa,
                     const double *B, Py_ssize_t rsb, Py_ssize_t csb,
                     int beta, double *C, Py_ssize_t ldc, void *work)
    int fastbp_sgemm(int m, int n, int k, float alpha,
                     const float *A, Py_ssize_t rsa, Py_ssize_t csa,
                     const float *B, Py_ssize_t rsb, Py_ssize_t csb,
                     int beta, float *C, Py_ssize_t ldc, void *work)
    int fastbp_isa_select(const char *name)
    const char *fastbp_isa_selected()
    const char *fastbp_isa_compiled()
    int fastbp_isa_runs(const char *name)
    int fastbp_openmp_enabled()
    int fastbp_openmp_max_threads()
    const char *fastbp_compiler()

# Codes shared with the Python side: the index in these tuples is the code.
ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
COSTS = ("quadratic", "binary_cross_entropy", "cross_entropy")
cdef enum:
    IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTMAX
cdef enum:
    QUADRATIC, BINARY_CROSS_ENTROPY, CROSS_ENTROPY
LEAKY_SLOPE = FASTBP_LEAKY_SLOPE

fastbp_isa_select(NULL)


# ---------------------------------------------------------------- build facts

def build_info():
    """Facts of this build and CPU for show_config()."""
    return {
        "compiler": fastbp_compiler().decode(),
        "openmp": bool(fastbp_openmp_enabled()),
        "openmp_max_threads": fastbp_openmp_max_threads(),
        "isa_compiled": fastbp_isa_compiled().decode().split(","),
        "isa_selected": fastbp_isa_selected().decode(),
    }


def isa_runs(str name):
    return bool(fastbp_isa_runs(name.encode()))


def select_isa(str name):
    """Force an ISA path by name ('' = best for this CPU). Returns success."""
    return fastbp_isa_select(name.encode()) == FASTBP_OK


# ------------------------------------------------------- elementwise kernels

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


cdef inline floating _activate(floating z, int act) noexcept nogil:
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


cdef inline floating _activation_grad(floating a, int act) noexcept nogil:
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


cdef void _bias_activate_rows(floating *a, floating *z, const floating *b,
                              Py_ssize_t rows, Py_ssize_t width, int act) noexcept nogil:
    """z += b, then a = σ(z), row by row (a may be z); softmax over each row.
    z keeps the bias: the output layer's stable costs read it."""
    # z, a are (rows, width), b is (width,)
    cdef Py_ssize_t i, j
    cdef floating m, s, v
    cdef floating *zr
    cdef floating *ar
    for i in range(rows):
        zr = z + i * width
        ar = a + i * width
        for j in range(width):
            zr[j] += b[j]
        if act == SOFTMAX:
            m = zr[0]
            for j in range(1, width):
                if zr[j] > m:
                    m = zr[j]
            s = 0
            for j in range(width):
                v = _exp(zr[j] - m)
                ar[j] = v
                s += v
            for j in range(width):
                ar[j] /= s
        elif act != IDENTITY or ar != zr:
            for j in range(width):
                ar[j] = _activate(zr[j], act)


cdef void _mul_activation_grad(floating *d, const floating *a, Py_ssize_t count,
                               int act) noexcept nogil:
    """d ⊙= σ'(z), from a = σ(z) (BP2's Hadamard factor)."""
    cdef Py_ssize_t i
    if act == IDENTITY:
        return
    for i in range(count):
        d[i] *= _activation_grad(a[i], act)


cdef double _cost_row(floating *d, const floating *a, const floating *z, const floating *y,
                      Py_ssize_t width, int act, int cost, floating scale) noexcept nogil:
    """Per-sample cost C, and δ_L = scale·∂C/∂z into d (BP1). a, z, y, d are (width,)."""
    cdef Py_ssize_t j
    cdef double c = 0
    cdef floating m, s, g, dot
    if cost == CROSS_ENTROPY:
        # softmax output: C = Σ y (logsumexp(z) − z), δ = a − y
        m = z[0]
        for j in range(1, width):
            if z[j] > m:
                m = z[j]
        s = 0
        for j in range(width):
            s += _exp(z[j] - m)
        m = m + _log(s)
        for j in range(width):
            if y[j] != 0:
                c += y[j] * (m - z[j])
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
            # softmax Jacobian: δ_k = a_k (g_k − Σ_j a_j g_j)
            dot = 0
            for j in range(width):
                dot += a[j] * (a[j] - y[j])
            for j in range(width):
                d[j] = scale * a[j] * ((a[j] - y[j]) - dot)
        else:
            for j in range(width):
                d[j] = scale * (a[j] - y[j]) * _activation_grad(a[j], act)
    return c


cdef inline Py_ssize_t _argmax(const floating *v, Py_ssize_t width) noexcept nogil:
    cdef Py_ssize_t j, best = 0
    for j in range(1, width):
        if v[j] > v[best]:
            best = j
    return best


cdef inline signed char _correct(const floating *a, const floating *y, Py_ssize_t width) noexcept nogil:
    """Class of a matches class of y: argmax, or the 0.5 threshold for one output."""
    if width == 1:
        return (a[0] > 0.5) == (y[0] > 0.5)
    return _argmax(a, width) == _argmax(y, width)


# ---------------------------------------------------------------- the plan

cdef class Plan:
    """One network's layout for one batch capacity and thread count.

    Offsets into the flat parameter buffer and the work buffers are computed
    once here; the buffers are allocated once and reused by every batch.
    """
    cdef readonly int n_layers, cost, n_threads
    cdef readonly Py_ssize_t cap, work_stride
    cdef readonly object dtype
    cdef Py_ssize_t[::1] sizes, w_off, b_off, a_off
    cdef int[::1] act
    # work buffers (NumPy arrays of `dtype` unless noted)
    cdef readonly object acts     # a_1..a_L, then the deltas share its offsets
    cdef readonly object deltas   # δ_0..δ_{L-1}: δ_l at a_off[l + 1]
    cdef readonly object zout     # z_L, (cap, n_L)
    cdef readonly object xb, yb   # gathered batch rows
    cdef readonly object loss     # float64 (cap,) per-sample cost
    cdef readonly object correct  # int8 (cap,)
    cdef object work_buf          # uint8, one gemm scratch per thread

    def __init__(self, sizes, w_off, b_off, act, int cost, Py_ssize_t cap,
                 int n_threads, dtype):
        cdef Py_ssize_t l, total = 0
        self.n_layers = len(sizes) - 1
        self.sizes = np.ascontiguousarray(sizes, dtype=np.intp)
        self.w_off = np.ascontiguousarray(w_off, dtype=np.intp)
        self.b_off = np.ascontiguousarray(b_off, dtype=np.intp)
        self.act = np.ascontiguousarray(act, dtype=np.intc)
        self.cost = cost
        self.cap = cap
        self.n_threads = n_threads
        self.dtype = np.dtype(dtype)
        a_off = np.zeros(self.n_layers + 1, dtype=np.intp)
        for l in range(1, self.n_layers + 1):
            a_off[l] = total
            total += cap * self.sizes[l]
        self.a_off = a_off
        self.acts = np.zeros(total, dtype=self.dtype)
        self.deltas = np.zeros(total, dtype=self.dtype)
        self.zout = np.zeros(cap * self.sizes[self.n_layers], dtype=self.dtype)
        self.xb = np.zeros((cap, self.sizes[0]), dtype=self.dtype)
        self.yb = np.zeros((cap, self.sizes[self.n_layers]), dtype=self.dtype)
        self.loss = np.zeros(cap, dtype=np.float64)
        self.correct = np.zeros(cap, dtype=np.int8)
        self.work_stride = (fastbp_gemm_work_bytes() + FASTBP_ALIGN - 1) // FASTBP_ALIGN * FASTBP_ALIGN
        self.work_buf = np.zeros(self.work_stride * n_threads + FASTBP_ALIGN, dtype=np.uint8)

    cdef char *work(self):
        cdef char *p = <char *> cnp.PyArray_DATA(self.work_buf)
        return p + (-(<size_t> p)) % FASTBP_ALIGN


cdef inline int _gemm(int m, int n, int k, floating alpha,
                      const floating *A, Py_ssize_t rsa, Py_ssize_t csa,
                      const floating *B, Py_ssize_t rsb, Py_ssize_t csb,
                      int beta, floating *C, Py_ssize_t ldc, void *work) noexcept nogil:
    """C = beta·C + alpha·A·B (see csrc/gemm.h)."""
    if floating is float:
        return fastbp_sgemm(m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, work)
    else:
        return fastbp_dgemm(m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, work)


cdef struct Net:
    # raw view of a Plan for nogil code; buffers hold the Plan's dtype
    int n_layers
    int cost
    int n_threads
    Py_ssize_t cap
    void *acts
    void *deltas
    void *zout
    void *xb
    void *yb
    double *loss
    signed char *correct
    const Py_ssize_t *sizes
    const Py_ssize_t *w_off
    const Py_ssize_t *b_off
    const Py_ssize_t *a_off
    const int *act
    char *work
    Py_ssize_t work_stride


cdef Net _net(Plan plan):
    cdef Net net
    net.n_layers = plan.n_layers
    net.cost = plan.cost
    net.n_threads = plan.n_threads
    net.cap = plan.cap
    net.acts = cnp.PyArray_DATA(plan.acts)
    net.deltas = cnp.PyArray_DATA(plan.deltas)
    net.zout = cnp.PyArray_DATA(plan.zout)
    net.xb = cnp.PyArray_DATA(plan.xb)
    net.yb = cnp.PyArray_DATA(plan.yb)
    net.loss = <double *> cnp.PyArray_DATA(plan.loss)
    net.correct = <signed char *> cnp.PyArray_DATA(plan.correct)
    net.sizes = &plan.sizes[0]
    net.w_off = &plan.w_off[0]
    net.b_off = &plan.b_off[0]
    net.a_off = &plan.a_off[0]
    net.act = &plan.act[0]
    net.work = plan.work()
    net.work_stride = plan.work_stride
    return net


cdef inline const floating *_layer_input(const Net *net, const floating *x,
                                         const floating *acts, int l) noexcept nogil:
    """a_l: the batch input for l = 0, else the stored activations of layer l."""
    return x if l == 0 else acts + net.a_off[l]


cdef int _forward_rows(const Net *net, const floating *P, const floating *x,
                       floating *acts, floating *zout,
                       Py_ssize_t r0, Py_ssize_t r1, void *work) noexcept nogil:
    """Forward pass of rows r0:r1 through every layer; z kept for the last."""
    # x is (n, sizes[0]); layer l's activations are (n, sizes[l]) at acts + a_off[l]
    cdef int l, err = 0
    cdef int L = net.n_layers
    cdef Py_ssize_t n_in, n_out, rows = r1 - r0
    cdef floating *z
    cdef floating *a
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        a = acts + net.a_off[l + 1] + r0 * n_out
        z = zout + r0 * n_out if l == L - 1 else a
        err |= _gemm(<int> rows, <int> n_out, <int> n_in, <floating> 1,
                     _layer_input(net, x, acts, l) + r0 * n_in, n_in, 1,
                     P + net.w_off[l], 1, n_in, 0, z, n_out, work)
        _bias_activate_rows(a, z, P + net.b_off[l], rows, n_out, net.act[l])
    return err


cdef void _cost_rows(const Net *net, const floating *y, const floating *acts,
                     floating *deltas, const floating *zout, double *loss,
                     signed char *correct, floating scale,
                     Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Per-sample cost, correctness and δ_L (BP1) of rows r0:r1."""
    cdef int L = net.n_layers
    cdef Py_ssize_t i, width = net.sizes[L]
    cdef const floating *a_L = acts + net.a_off[L]
    cdef floating *d_L = deltas + net.a_off[L]
    for i in range(r0, r1):
        loss[i] = _cost_row(d_L + i * width, a_L + i * width, zout + i * width,
                            y + i * width, width, net.act[L - 1], net.cost, scale)
        correct[i] = _correct(a_L + i * width, y + i * width, width)


cdef int _backward_rows(const Net *net, const floating *P, const floating *y,
                        const floating *acts, floating *deltas, const floating *zout,
                        double *loss, signed char *correct, floating scale,
                        Py_ssize_t r0, Py_ssize_t r1, void *work) noexcept nogil:
    """Per-sample cost, BP1 and BP2 for rows r0:r1 (after _forward_rows)."""
    cdef int l, err = 0
    cdef Py_ssize_t n_in, n_out, rows = r1 - r0
    _cost_rows(net, y, acts, deltas, zout, loss, correct, scale, r0, r1)
    for l in range(net.n_layers - 1, 0, -1):
        # δ_{l-1} = (δ_l · W_l) ⊙ σ'(a_l); δ_l is (n, n_out), W_l is (n_out, n_in)
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        err |= _gemm(<int> rows, <int> n_in, <int> n_out, <floating> 1,
                     deltas + net.a_off[l + 1] + r0 * n_out, n_out, 1,
                     P + net.w_off[l], n_in, 1,
                     0, deltas + net.a_off[l] + r0 * n_in, n_in, work)
        _mul_activation_grad(deltas + net.a_off[l] + r0 * n_in,
                             acts + net.a_off[l] + r0 * n_in, rows * n_in, net.act[l - 1])
    return err


cdef int _param_grads(const Net *net, floating *P, floating *G, const floating *x,
                      const floating *acts, const floating *deltas, Py_ssize_t n,
                      int l, Py_ssize_t j0, Py_ssize_t j1, floating lr,
                      void *work) noexcept nogil:
    """BP3/BP4 for units j0:j1 of layer l: ∇W = δᵀ·a_in, ∇b = Σ δ, into G.

    With lr > 0 it is the SGD step instead, fused into the product:
    W += (−lr)·δᵀ·a_in and b −= lr·Σ δ, and G is not written. The rows of W
    it changes are no longer needed: the deltas were propagated before this
    runs, and no other task touches these rows."""
    # δ_l is (n, n_out); a_l is (n, n_in); W rows j0:j1 are (j1-j0, n_in)
    cdef Py_ssize_t i, j, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef const floating *d = deltas + net.a_off[l + 1]
    cdef floating *gb = G + net.b_off[l]
    cdef floating *b = P + net.b_off[l]
    cdef floating s
    cdef int err
    if lr > 0:
        err = _gemm(<int> (j1 - j0), <int> n_in, <int> n, -lr,
                    d + j0, 1, n_out, _layer_input(net, x, acts, l), n_in, 1,
                    1, P + net.w_off[l] + j0 * n_in, n_in, work)
    else:
        err = _gemm(<int> (j1 - j0), <int> n_in, <int> n, <floating> 1,
                    d + j0, 1, n_out, _layer_input(net, x, acts, l), n_in, 1,
                    0, G + net.w_off[l] + j0 * n_in, n_in, work)
    for j in range(j0, j1):
        gb[j] = 0
    for i in range(n):
        for j in range(j0, j1):
            gb[j] += d[i * n_out + j]
    if lr > 0:
        for j in range(j0, j1):
            b[j] -= lr * gb[j]
    return err


cdef inline Py_ssize_t _chunk(Py_ssize_t total, int parts) noexcept nogil:
    return (total + parts - 1) // parts


cdef int _step(const Net *net, floating *P, floating *G,
               const floating *x, const floating *y, Py_ssize_t n,
               floating lr) noexcept nogil:
    """One mini-batch of n <= cap rows: forward, cost, deltas, gradients of the
    mean cost into G, and the SGD update of P when lr > 0."""
    cdef int t, l, part, err = 0
    cdef int n_threads = net.n_threads
    cdef Py_ssize_t r0, r1, units, rows = _chunk(n, n_threads)
    cdef floating scale = (<floating> 1) / n
    cdef floating *acts = <floating *> net.acts
    cdef floating *deltas = <floating *> net.deltas
    cdef floating *zout = <floating *> net.zout
    for t in prange(n_threads, schedule='static', num_threads=n_threads):
        r0 = t * rows
        r1 = min(n, r0 + rows)
        if r0 < r1:
            err |= _forward_rows(net, P, x, acts, zout, r0, r1,
                                 net.work + threadid() * net.work_stride)
            err |= _backward_rows(net, P, y, acts, deltas, zout, net.loss, net.correct,
                                  scale, r0, r1, net.work + threadid() * net.work_stride)
    # one task per (layer, slice of its units); each unit sums over all rows
    for t in prange(net.n_layers * n_threads, schedule='static', num_threads=n_threads):
        l = t // n_threads
        part = t % n_threads
        units = _chunk(net.sizes[l + 1], n_threads)
        r0 = part * units
        r1 = min(net.sizes[l + 1], r0 + units)
        if r0 < r1:
            err |= _param_grads(net, P, G, x, acts, deltas, n, l, r0, r1, lr,
                                net.work + threadid() * net.work_stride)
    return err


cdef int _forward(const Net *net, const floating *P, const floating *x,
                  Py_ssize_t n) noexcept nogil:
    """Forward pass of n <= cap rows; outputs at acts + a_off[L]."""
    cdef int t, err = 0
    cdef int n_threads = net.n_threads
    cdef Py_ssize_t r0, r1, rows = _chunk(n, n_threads)
    for t in prange(n_threads, schedule='static', num_threads=n_threads):
        r0 = t * rows
        r1 = min(n, r0 + rows)
        if r0 < r1:
            err |= _forward_rows(net, P, x, <floating *> net.acts, <floating *> net.zout,
                                 r0, r1, net.work + threadid() * net.work_stride)
    return err


def _check(int err):
    if err:
        raise RuntimeError("fastbp core: a kernel rejected its arguments (status %d)" % err)


# -------------------------------------------------------- Python entry points
# Each takes a Plan whose dtype matches the arrays (checked by the caller).

def forward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out):
    """out = network output for X, in blocks of plan.cap rows."""
    # X is (n, sizes[0]), out is (n, sizes[L])
    cdef Net net = _net(plan)
    cdef Py_ssize_t r = 0, nb, n = X.shape[0], w_in = X.shape[1], w_out = out.shape[1]
    cdef const floating *a_L = <floating *> net.acts + net.a_off[net.n_layers]
    cdef int err = 0
    with nogil:
        while r < n:
            nb = min(net.cap, n - r)
            err |= _forward(&net, &params[0], &X[r, 0], nb)
            memcpy(&out[r, 0], a_L, nb * w_out * sizeof(floating))
            r += nb
    _check(err)


def evaluate(Plan plan, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, double[::1] loss, signed char[::1] correct):
    """Per-sample cost into loss and correctness into correct, in blocks."""
    cdef Net net = _net(plan)
    cdef Py_ssize_t r = 0, nb, n = X.shape[0]
    cdef int err = 0
    with nogil:
        while r < n:
            nb = min(net.cap, n - r)
            err |= _forward(&net, &params[0], &X[r, 0], nb)
            # serial: the cost loop is cheap next to the gemms
            _cost_rows(&net, &Y[r, 0], <floating *> net.acts, <floating *> net.deltas,
                       <floating *> net.zout, &loss[r], &correct[r], 1, 0, nb)
            r += nb
    _check(err)


def gradients(Plan plan, floating[::1] params, floating[::1] grads,
              const floating[:, ::1] X, const floating[:, ::1] Y, double lr=0):
    """grads = ∇ of the mean cost over all rows of (X, Y), n <= plan.cap; with
    lr > 0 also take the SGD step. Returns the summed per-sample cost (before
    the step)."""
    cdef Net net = _net(plan)
    cdef Py_ssize_t i, n = X.shape[0]
    cdef int err
    cdef double total = 0
    with nogil:
        err = _step(&net, &params[0], &grads[0], &X[0, 0], &Y[0, 0], n, <floating> lr)
        for i in range(n):
            total += net.loss[i]
    _check(err)
    return total


def train_epoch(Plan plan, floating[::1] params, floating[::1] grads,
                const floating[:, ::1] X, const floating[:, ::1] Y,
                const Py_ssize_t[::1] order, Py_ssize_t batch_size, double lr):
    """One epoch of mini-batch SGD, all batches without returning to Python.

    Batch b holds rows order[b*batch_size : (b+1)*batch_size] (the last may be
    short); batch_size <= plan.cap. Returns (sum of per-sample costs, number
    correct), each sample measured before its batch's update, as Keras does.
    """
    cdef Net net = _net(plan)
    cdef Py_ssize_t n = order.shape[0], w_in = X.shape[1], w_out = Y.shape[1]
    cdef Py_ssize_t start = 0, nb, i
    cdef floating *xb = <floating *> net.xb
    cdef floating *yb = <floating *> net.yb
    cdef double total = 0
    cdef Py_ssize_t n_correct = 0
    cdef int err = 0
    with nogil:
        while start < n:
            nb = min(batch_size, n - start)
            for i in range(nb):
                memcpy(xb + i * w_in, &X[order[start + i], 0], w_in * sizeof(floating))
                memcpy(yb + i * w_out, &Y[order[start + i], 0], w_out * sizeof(floating))
            err |= _step(&net, &params[0], &grads[0], xb, yb, nb, <floating> lr)
            for i in range(nb):
                total += net.loss[i]
                n_correct += net.correct[i]
            start += nb
    _check(err)
    return total, n_correct
