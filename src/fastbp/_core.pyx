# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""_core: fastbp's compiled backprop, Nielsen's BP1-BP4 in mini-batch form.

Per layer l (weights W_l of shape (n_out, n_in), activation σ_l):
    forward   Z = A_in·Wᵀ + b,  A_out = σ(Z)                  (gemm + fused pass)
    BP1       δ_L = ∇_a C ⊙ σ'(z_L)      (a − y for the two cross-entropies)
    BP2       δ_in = (δ_out·W) ⊙ σ'(a_in)                       (gemm + fused pass)
    BP3/BP4   ∇b = Σ_rows δ,  ∇W = δᵀ·A_in                      (gemm)
Derivatives are taken from the stored activations (σ' of sigmoid is a(1-a)),
so z is only kept for the output layer, where the stable costs need it.

Products: each is a call of _blas.pxd (the tuned BLAS, or where the CPU has
AVX-512 fastbp's own: csrc/dot.c's for the forward product, csrc/outer.c's
for float32 backward products of some shapes) on a piece of the
layer's units, for all rows of the batch. How a layer is cut into pieces
depends on its shape only (pieces_for), never on the thread count: a BLAS
may round a column differently when it is computed in a call of another
width, so a fixed cut is what keeps results bitwise-equal for any count.

Threads: a whole epoch (or forward/gradient call) runs in one OpenMP
parallel region, its phases separated by barriers. Each thread takes whole
pieces of every layer: it computes those columns of Z and of the deltas,
and the gradient and the optimizer step of those rows of W, which therefore
stay in its core's cache from one batch to the next. The cost (softmax over
whole rows) is split by rows, and so is an output layer too narrow to cut
by units (10 classes), whose rows go straight on to their cost on the same
thread (_output_by_rows); where it is small beside a first layer cut by
inputs (784-30-10), every thread computes it, its cost and δ_0 for all rows
in copies of its own instead (_everywhere). Inference without batch norm
cuts the batch into pieces of rows, which go through every layer with no
barrier; it takes no more threads than its products have pieces
(_infer_team).
The compiled side assumes inputs validated by fastbp._validation; it
allocates nothing once a Plan exists.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport isfinite, sqrt
from libc.string cimport memcpy, memset
cimport numpy as cnp
import os
import signal

import numpy as np

from fastbp._activations cimport (IDENTITY, LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH,
                                  activate, bias_activate,
                                  mul_activation_grad, softmax_row,
                                  softmax_rows)
from fastbp._batchnorm cimport bn_backward, bn_forward
from fastbp._costs cimport (BINARY_CROSS_ENTROPY, CROSS_ENTROPY, QUADRATIC, cost_row,
                            correct)

cnp.import_array()

from fastbp._blas cimport (PACK_UNITS, PACKED_MIN_ROWS, PACKED_MIN_UNITS_DOUBLE, SMALL_GEMM,
                           fastbp_blas_bind, fastbp_kernels_on, fastbp_kernels_ready,
                           fastbp_souter, gemm, gemm_abt, outer_runs)
from fastbp import _blas

cdef extern from "fastbp.h" nogil:
    double FASTBP_LEAKY_SLOPE

cdef extern from "runtime.h" nogil:
    int fastbp_openmp_enabled()
    int fastbp_openmp_max_threads()
    const char *fastbp_compiler()

cdef extern from "optim.h" nogil:
    cdef enum fastbp_optimizer:
        FASTBP_PLAIN_SGD, FASTBP_SGD, FASTBP_ADAM, FASTBP_RMSPROP, FASTBP_ADAGRAD
        FASTBP_RPROP, FASTBP_IRPROP_PLUS, FASTBP_QUICKPROP
    ctypedef struct fastbp_hyper:
        double momentum, weight_decay, eps, beta1, beta2, alpha, lr_decay
        double eta_minus, eta_plus, step_min, step_max, mu, decay
        int nesterov, amsgrad, decoupled, epsilon_hat, centered
    void fastbp_doptim_step(int kind, const fastbp_hyper *h, long t, double lr, int worse,
                            double *p, const double *g, double *s, Py_ssize_t stride,
                            Py_ssize_t n)
    void fastbp_soptim_step(int kind, const fastbp_hyper *h, long t, double lr, int worse,
                            float *p, const float *g, float *s, Py_ssize_t stride,
                            Py_ssize_t n)

cdef extern from "penalty.h" nogil:
    double fastbp_dsum_sq(const double *p, Py_ssize_t n)
    double fastbp_ssum_sq(const float *p, Py_ssize_t n)
    void fastbp_dadd_penalty(double *g, const double *p, Py_ssize_t n, double l1, double l2)
    void fastbp_sadd_penalty(float *g, const float *p, Py_ssize_t n, double l1, double l2)
    void fastbp_dshrink(double *p, Py_ssize_t n, double a, double b)
    void fastbp_sshrink(float *p, Py_ssize_t n, double a, double b)
    void fastbp_dmax_norm_rows(double *p, Py_ssize_t rows, Py_ssize_t n_in, double c)
    void fastbp_smax_norm_rows(float *p, Py_ssize_t rows, Py_ssize_t n_in, double c)

cdef extern from "finite.h" nogil:
    int fastbp_dall_finite(const double *x, Py_ssize_t n)
    int fastbp_sall_finite(const float *x, Py_ssize_t n)

cdef extern from "dropout.h" nogil:
    unsigned long long fastbp_dropout_row(unsigned long long seed, unsigned long long epoch,
                                          unsigned long long sample)
    void fastbp_ddropout_row(double *a, unsigned char *kept, unsigned long long row,
                             unsigned long long layer, Py_ssize_t lo, Py_ssize_t hi,
                             double p, double scale)
    void fastbp_sdropout_row(float *a, unsigned char *kept, unsigned long long row,
                             unsigned long long layer, Py_ssize_t lo, Py_ssize_t hi,
                             double p, double scale)
    double fastbp_dropout_uniform(unsigned long long seed, unsigned long long epoch,
                                  unsigned long long sample, unsigned long long layer,
                                  unsigned long long unit)
    double fastbp_dp_normal(unsigned long long seed, unsigned long long step,
                            unsigned long long index)

cdef extern from "runtime.h" nogil:
    void fastbp_barrier()
    int fastbp_thread_num()
    int fastbp_num_threads()
    int fastbp_interrupt_begin()
    void fastbp_interrupt_end()
    int fastbp_interrupted()

# Codes shared with the Python side, name -> code: the codes are the C
# headers' constants (fastbp.h, optim.h), each name is its constant's in
# lower case; Python reads them here and keeps no list of its own.
ACTIVATION_CODES = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                    "leaky_relu": LEAKY_RELU, "softmax": SOFTMAX}
COST_CODES = {"quadratic": QUADRATIC, "binary_cross_entropy": BINARY_CROSS_ENTROPY,
              "cross_entropy": CROSS_ENTROPY}
OPTIMIZER_CODES = {"sgd": FASTBP_SGD, "adam": FASTBP_ADAM, "rmsprop": FASTBP_RMSPROP,
                   "adagrad": FASTBP_ADAGRAD, "rprop": FASTBP_RPROP,
                   "irprop_plus": FASTBP_IRPROP_PLUS, "quickprop": FASTBP_QUICKPROP}
PLAIN_SGD = FASTBP_PLAIN_SGD   # p −= lr·g, fused into the gradient product
# the names of the hyper-parameters optim.h reads (its fastbp_hyper's fields)
cdef fastbp_hyper _NO_HYPER
memset(&_NO_HYPER, 0, sizeof(fastbp_hyper))
HYPER_FIELDS = tuple(_NO_HYPER)
# the names in code order, for checks and messages
ACTIVATIONS = tuple(sorted(ACTIVATION_CODES, key=ACTIVATION_CODES.get))
COSTS = tuple(sorted(COST_CODES, key=COST_CODES.get))
LEAKY_SLOPE = FASTBP_LEAKY_SLOPE
# How batch norm normalizes: running estimates (inference), the batch's
# statistics (gradients, loss(training=True)), or those folded into the
# running estimates too (fit).
cdef enum:
    BN_RUNNING, BN_BATCH, BN_BATCH_UPDATE
cdef double _BN_MOMENTUM = 0.1, _BN_EPS = 1e-5   # torch's BatchNorm1d defaults
BN_MOMENTUM, BN_EPS = _BN_MOMENTUM, _BN_EPS
# Why train_epoch stopped. BAD_INPUT: a row of X it was to check
# (TrainSettings.check_inputs) holds a NaN or ±inf.
cdef enum:
    STOP_COMPLETED, STOP_NONFINITE, STOP_INTERRUPTED, STOP_BAD_INPUT
COMPLETED, NONFINITE, INTERRUPTED, BAD_INPUT = (STOP_COMPLETED, STOP_NONFINITE, STOP_INTERRUPTED,
                                                STOP_BAD_INPUT)

_sgemm, _dgemm = _blas.addresses()
fastbp_blas_bind(<void *> <size_t> _sgemm, <void *> <size_t> _dgemm)
fastbp_kernels_on = fastbp_kernels_ready()


def set_own_kernels(bint on):
    """Let the products take fastbp's own kernels (csrc/dot.c, csrc/outer.c)
    where the CPU runs them (on, the default) or the BLAS always (off: for
    the tests of the BLAS path on such a CPU). Returns the previous setting."""
    global fastbp_kernels_on
    cdef bint previous = fastbp_kernels_on
    fastbp_kernels_on = on and fastbp_kernels_ready()
    return previous


# ---------------------------------------------------------------- build facts

def build_info():
    """Facts of this build, its BLAS and the CPU for show_config()."""
    return {
        "compiler": fastbp_compiler().decode(),
        "openmp": bool(fastbp_openmp_enabled()),
        "openmp_max_threads": fastbp_openmp_max_threads(),
        "own_kernels": bool(fastbp_kernels_on),
        **_blas.info(),
    }


# A check of more numbers than this a thread is cut among threads, each a
# contiguous part: the pass over X before a fit is memory-bound, and a second
# core reads its half alongside (S's 5,000 × 784 float64: 0.94 ms on one).
cdef enum:
    MIN_FINITE_PER_THREAD = 1 << 18


def all_finite(const floating[::1] x, int threads=1):
    """No NaN or inf in x (flat, contiguous): the input check of every call,
    a pass over x without the temporary array of np.isfinite(x).all(); on up
    to `threads` threads where x is large."""
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int i, bad = 0, T = max(1, min(threads, n // MIN_FINITE_PER_THREAD))
    if n == 0:
        return True
    with nogil:
        if T == 1:
            bad = not _finite(&x[0], n)
        else:
            for i in prange(T, num_threads=T, schedule="static"):
                lo = n * i // T
                hi = n * (i + 1) // T
                bad += not _finite(&x[lo], hi - lo)
    return bad == 0


cdef inline bint _finite(const floating *x, Py_ssize_t n) noexcept nogil:
    """No NaN or inf in x[:n] (all_finite's, and forward's on its rows)."""
    if n == 0:
        return True
    if floating is float:
        return fastbp_sall_finite(x, n)
    else:
        return fastbp_dall_finite(x, n)


# ---------------------------------------------------------------- the plan

# How a product is cut: a power of two of pieces, each at least MIN_PIECE
# units (or rows) wide, at most one per core of the machine. Every piece is
# one BLAS call, which packs its operands anew: on one core one call would be
# best, so no more pieces than the cores could take at once; smaller pieces
# cost the BLAS more per multiply-add than another thread gains. 48 cuts
# scikit-learn's default 100 hidden units in two (its digits example: 1.3x
# on 2 threads, against none with 64). The number
# of cores is the machine's (os.cpu_count()), never the thread count, so a
# machine computes the same bits on any number of threads.
cdef enum:
    MIN_PIECE = 48
cdef int _max_pieces = 1
while _max_pieces * 2 <= min(os.cpu_count() or 1, 8):
    _max_pieces *= 2
_max_pieces = max(_max_pieces, 2)  # and the threads tests see a cut on 1 core


cdef inline int _pieces_of(Py_ssize_t extent, Py_ssize_t min_piece) noexcept nogil:
    """Pieces of at least min_piece: doubled while each would still be that
    large, up to the machine's _max_pieces."""
    cdef int p = 1
    while p < _max_pieces and extent >= 2 * p * min_piece:
        p *= 2
    return p


cdef inline int _pieces_for(Py_ssize_t extent) noexcept nogil:
    return _pieces_of(extent, MIN_PIECE)


def pieces_for(Py_ssize_t extent):
    """The number of pieces a layer of `extent` units (rows, for inference)
    is cut into: a function of the shape and of the machine's core count."""
    return _pieces_for(extent)


# A layer too narrow to cut by units (Nielsen's 784-30-10: 30 units) but
# with many inputs is cut by inputs instead, so that its two products do not
# run on one thread while the others wait: Z = Σ_p A[:, p]·W[:, p]ᵀ, the
# partial products added in piece order, and ∇W[:, p] = δᵀ·A[:, p]. Only
# where a piece of the product is worth a barrier more (and not with batch
# norm, whose statistics need whole units).
cdef enum:
    MIN_SPLIT_WEIGHTS = 4096


cdef inline int _input_pieces_for(Py_ssize_t n_in, Py_ssize_t n_out) noexcept nogil:
    if _pieces_for(n_out) > 1 or n_in * n_out < MIN_SPLIT_WEIGHTS:
        return 1
    return _pieces_for(n_in)


cdef inline void _input_piece(Py_ssize_t total, int pieces, int p, Py_ssize_t *lo,
                              Py_ssize_t *hi) noexcept nogil:
    """Piece p of `pieces` of range(total) inputs, cut at multiples of 16
    (64 bytes of float32): with aligned buffers and rows of a multiple of 64
    bytes (784 inputs), no two threads write to one cache line of W."""
    lo[0] = 0 if p == 0 else total * p // pieces // 16 * 16
    hi[0] = total if p == pieces - 1 else total * (p + 1) // pieces // 16 * 16


def output_everywhere(sizes, bint batch_norm):
    """Can train_epoch run a network of these layer `sizes` with every thread
    computing the whole output layer (_everywhere)? Two layers, the first
    cut by inputs (784-30-10), the second too narrow to cut (10 classes) and
    small beside it, without batch norm."""
    return (len(sizes) == 3 and not batch_norm and _input_pieces_for(sizes[0], sizes[1]) > 1
            and _pieces_for(sizes[2]) == 1 and _input_pieces_for(sizes[1], sizes[2]) == 1
            and 8 * sizes[2] <= sizes[0])


def aligned_zeros(n, dtype):
    """np.zeros(n, dtype) that starts at a 64-byte boundary (a cache line),
    for the buffers that threads write pieces of (NumPy aligns to 16)."""
    dtype = np.dtype(dtype)
    buf = np.zeros(n + 64 // dtype.itemsize, dtype)
    start = (-buf.ctypes.data % 64) // dtype.itemsize
    return buf[start:start + n]


def input_pieces_for(Py_ssize_t n_in, Py_ssize_t n_out):
    """The number of pieces a layer's inputs are cut into (1: cut by units)
    when it has no batch norm: a function of the shape, as pieces_for."""
    return _input_pieces_for(n_in, n_out)


cdef class Plan:
    """One network's layout for one batch capacity and thread count.

    Offsets into the flat parameter buffer and the work buffers are computed
    once here; the buffers are allocated once and reused by every batch.
    """
    cdef readonly int n_layers, cost, n_threads, team_everywhere
    cdef readonly bint batch_norm
    cdef readonly Py_ssize_t cap, n_params
    cdef readonly object dtype
    cdef Py_ssize_t[::1] sizes, w_off, b_off, g_off, a_off, unit_off
    cdef int[::1] act, pieces, in_pieces
    # work buffers (NumPy arrays of `dtype` unless noted)
    cdef readonly object acts     # a_1..a_L, layer l at a_off[l], (cap, sizes[l])
    cdef readonly object deltas   # δ_0..δ_{L-1}: δ_l at a_off[l + 1], like a_{l+1}
    cdef readonly object zout     # z_L, (cap, sizes[L])
    cdef object partial           # the partial products of layers cut by inputs
    cdef readonly object xb       # one gathered batch per thread, (n_threads, cap, sizes[0])
    cdef readonly object loss     # float64 (cap,) per-sample cost
    cdef readonly object correct  # int8 (cap,)
    cdef object kept              # uint8, laid out like acts: dropout's mask of the batch
    cdef int[::1] flags           # [interrupt snapshot, then per thread: X not finite]
    cdef object pack              # per thread, W packed for the forward product (_blas.pxd)
    cdef Py_ssize_t pack_stride   # numbers of pack a thread (0: no packing)
    cdef object zhat              # batch norm's ẑ, laid out like acts
    cdef object bn_stats          # float64 (4, units): μ, 1/√(σ²+ε), two sums
    # per thread of a team_everywhere, its copy of acts, deltas and zout, of
    # loss (float64) and correct (int8) (train_epoch's _everywhere schedule)
    cdef object own, own_loss, own_correct
    cdef Py_ssize_t own_stride

    def __init__(self, sizes, w_off, b_off, act, int cost, Py_ssize_t cap,
                 int n_threads, dtype, g_off=None, int team_everywhere=1):
        """n_threads: the team for everything but train_epoch's _everywhere
        schedule, which takes a team of team_everywhere where the shape
        allows it (output_everywhere)."""
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
        self.n_params = max(self.b_off[l] + self.sizes[l + 1] for l in range(self.n_layers))
        for l in range(self.n_layers):
            if g_off is not None and g_off[l] >= 0:
                self.n_params = max(self.n_params, g_off[l] + self.sizes[l + 1])
        # batch norm: γ of layer l at g_off[l] in params (-1: no batch norm)
        self.g_off = np.ascontiguousarray(g_off if g_off is not None else [-1] * self.n_layers,
                                          dtype=np.intp)
        self.batch_norm = any(g >= 0 for g in self.g_off)
        everywhere = output_everywhere(sizes, self.batch_norm)
        self.team_everywhere = max(n_threads, team_everywhere) if everywhere else n_threads
        teams = self.team_everywhere
        # pieces of layer l's units (sizes[l + 1]); layer 0 is the input
        self.pieces = np.array([_pieces_for(self.sizes[l + 1]) for l in range(self.n_layers)],
                               dtype=np.intc)
        self.in_pieces = np.array([1 if self.g_off[l] >= 0 else
                                   _input_pieces_for(self.sizes[l], self.sizes[l + 1])
                                   for l in range(self.n_layers)], dtype=np.intc)
        self.partial = aligned_zeros(max([(self.in_pieces[l] - 1) * cap * self.sizes[l + 1]
                                          for l in range(self.n_layers)] + [1]), self.dtype)
        self.acts = aligned_zeros(total, self.dtype)
        self.deltas = aligned_zeros(total, self.dtype)
        self.zout = aligned_zeros(cap * self.sizes[self.n_layers], self.dtype)
        self.xb = aligned_zeros(teams * cap * self.sizes[0], self.dtype).reshape(
            teams, cap, self.sizes[0])
        self.loss = np.zeros(cap, dtype=np.float64)
        self.correct = np.zeros(cap, dtype=np.int8)
        self.kept = np.zeros(total, dtype=np.uint8)
        self.flags = np.zeros(1 + teams, dtype=np.intc)
        self.pack_stride = _pack_stride(self.sizes)
        self.pack = aligned_zeros(max(1, teams * self.pack_stride), self.dtype)
        self.unit_off = np.concatenate([[0], np.cumsum(self.sizes[1:])]).astype(np.intp)
        self.zhat = np.zeros(total if self.batch_norm else 1, dtype=self.dtype)
        self.bn_stats = np.zeros((4, self.unit_off[self.n_layers] if self.batch_norm else 1))
        owners = teams if everywhere and teams > 1 else 0
        # whole cache lines apart (0: no copies)
        self.own_stride = ((2 * total + cap * self.sizes[self.n_layers] + 15) // 16 * 16
                           if owners else 0)
        self.own = aligned_zeros(max(1, owners * self.own_stride), self.dtype)
        self.own_loss = aligned_zeros(max(1, owners * _own_rows(cap)), np.float64)
        self.own_correct = aligned_zeros(max(1, owners * _own_rows(cap)), np.int8)

    def a_offset(self, int l):
        """Offset of layer l's activations (and of δ_{l-1}) in acts/deltas."""
        return self.a_off[l]


cdef struct Net:
    # raw view of a Plan for nogil code; buffers hold the Plan's dtype
    int n_layers
    int cost
    int n_threads
    int team_everywhere       # the team of train_epoch's _everywhere schedule
    Py_ssize_t cap
    const Py_ssize_t *sizes
    const Py_ssize_t *w_off
    const Py_ssize_t *b_off
    const Py_ssize_t *a_off
    const int *act
    const int *pieces         # pieces of each layer's units
    const int *in_pieces      # pieces of each layer's inputs (1: cut by units)
    void *partial
    void *acts
    void *deltas
    void *zout
    void *xb
    double *loss
    signed char *correct
    unsigned char *kept
    int *flags
    int n_flags               # 1 + the most threads of a team
    void *pack                # thread t's at pack + t·pack_stride numbers
    Py_ssize_t pack_stride
    # batch norm
    bint batch_norm           # on some layer
    const Py_ssize_t *g_off
    const Py_ssize_t *unit_off
    void *zhat
    double *bn_mean
    double *bn_inv
    double *bn_s1
    double *bn_s2
    double *run_mean          # running estimates, per unit (hidden layers)
    double *run_var
    int bn_mode               # BN_RUNNING, BN_BATCH or BN_BATCH_UPDATE
    # per thread of a team_everywhere (_thread_net)
    void *own
    double *own_loss
    signed char *own_correct
    Py_ssize_t own_stride


# GNU libgomp's thread pool does not survive fork(): a team of more than one
# thread in a forked child waits forever at its first barrier. A Plan made
# before the fork (a fit that goes on in the child) runs on one thread there.
cdef bint _forked = False


def _after_fork_in_child():
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


cdef Net _net(Plan plan):
    cdef Net net
    net.n_layers = plan.n_layers
    net.cost = plan.cost
    net.n_threads = 1 if _forked else plan.n_threads
    net.team_everywhere = 1 if _forked else plan.team_everywhere
    net.cap = plan.cap
    net.sizes = &plan.sizes[0]
    net.w_off = &plan.w_off[0]
    net.b_off = &plan.b_off[0]
    net.a_off = &plan.a_off[0]
    net.act = &plan.act[0]
    net.pieces = &plan.pieces[0]
    net.in_pieces = &plan.in_pieces[0]
    net.partial = cnp.PyArray_DATA(plan.partial)
    net.acts = cnp.PyArray_DATA(plan.acts)
    net.deltas = cnp.PyArray_DATA(plan.deltas)
    net.zout = cnp.PyArray_DATA(plan.zout)
    net.xb = cnp.PyArray_DATA(plan.xb)
    net.loss = <double *> cnp.PyArray_DATA(plan.loss)
    net.correct = <signed char *> cnp.PyArray_DATA(plan.correct)
    net.kept = <unsigned char *> cnp.PyArray_DATA(plan.kept)
    net.flags = &plan.flags[0]
    net.n_flags = plan.flags.shape[0]
    net.pack = cnp.PyArray_DATA(plan.pack)
    net.pack_stride = plan.pack_stride
    net.g_off = &plan.g_off[0]
    net.batch_norm = plan.batch_norm
    net.unit_off = &plan.unit_off[0]
    net.zhat = cnp.PyArray_DATA(plan.zhat)
    cdef Py_ssize_t units = plan.bn_stats.shape[1]
    net.bn_mean = <double *> cnp.PyArray_DATA(plan.bn_stats)
    net.bn_inv = net.bn_mean + units
    net.bn_s1 = net.bn_inv + units
    net.bn_s2 = net.bn_s1 + units
    net.run_mean = NULL
    net.run_var = NULL
    net.bn_mode = BN_RUNNING
    net.own = cnp.PyArray_DATA(plan.own)
    net.own_loss = <double *> cnp.PyArray_DATA(plan.own_loss)
    net.own_correct = <signed char *> cnp.PyArray_DATA(plan.own_correct)
    net.own_stride = plan.own_stride
    memset(net.flags, 0, net.n_flags * sizeof(int))
    return net


cdef inline void _check_rows(const Net *net, const floating *x, Py_ssize_t r0, Py_ssize_t r1,
                             int t) noexcept nogil:
    """net.flags[1 + t] = 1 (thread t's finding) if rows r0:r1 of x, input
    rows of the network, hold a NaN or ±inf."""
    if not _finite(x + r0 * net.sizes[0], (r1 - r0) * net.sizes[0]):
        net.flags[1 + t] = 1


cdef inline bint _found_bad_input(const Net *net) noexcept nogil:
    """Did a thread's _check_rows find a NaN or ±inf?"""
    cdef int i
    for i in range(1, net.n_flags):
        if net.flags[i]:
            return True
    return False


cdef Py_ssize_t _pack_stride(const Py_ssize_t[::1] sizes):
    """A thread's numbers for packing the W of any layer wide enough for the
    packed kernel (gemm_abt), in whole cache lines; 0 where none is, or
    where the CPU does not run it."""
    cdef Py_ssize_t l, inputs = -1
    for l in range(sizes.shape[0] - 1):
        if sizes[l + 1] >= PACKED_MIN_UNITS_DOUBLE:  # (<= float32's PACKED_MIN_UNITS)
            inputs = max(inputs, sizes[l])
    if inputs < 0 or not fastbp_kernels_ready():
        return 0
    return (inputs + 16) * PACK_UNITS


cdef inline floating *_pack(const Net *net, int t, const floating *like) noexcept nogil:
    """Thread t's buffer for packing W (of the type of `like`), or NULL
    where the kernels that pack do not run."""
    if net.pack_stride == 0:
        return NULL
    return <floating *> net.pack + t * net.pack_stride


cdef void _use_running(Net *net, double[:, ::1] running, int mode):
    """Batch norm's running estimates (2, units) and how to normalize."""
    if running is not None:
        net.run_mean = &running[0, 0]
        net.run_var = &running[1, 0]
    net.bn_mode = mode


cdef struct Train:
    # how train_epoch updates the parameters; NULL Train = gradients only
    int kind                  # optimizer code of optim.h; FASTBP_PLAIN_SGD = plain SGD
    const fastbp_hyper *hyper # its hyper-parameters, by name
    long step                 # 1-based optimizer step of the current batch
    double lr
    void *state               # optimizer state, (n_state, n_params) of the dtype
    Py_ssize_t stride         # n_params
    double l1, l2, max_norm
    const double *dropout     # drop rate of each layer's output (hidden only), or NULL
    unsigned long long seed
    long epoch
    double *row_sq            # ‖∇ of each unit's row‖² (W row and bias), or NULL
    const Py_ssize_t *unit_off  # offset of each layer's units in row_sq
    double *loss_memory       # the last batch's cost (iRprop+), or NULL
    int worse                 # this batch's cost is above loss_memory
    double clip               # DP-SGD: each sample's gradient norm bound C (0 = off)
    double noise_std          # DP-SGD: σ·C / batch rows, the std of the noise added
    unsigned long long noise_seed


cdef class TrainSettings:
    """How train_epoch and apply_update change the parameters, typed: the
    update rule, the regularization, the per-epoch values. Made in one place
    (fastbp.trainer.train_settings), turned into a Train by _train.

    kind: a code of OPTIMIZER_CODES, or PLAIN_SGD; hyper: its
    hyper-parameters by name (HYPER_FIELDS; the others 0); state: its
    buffers, (n_state, n_params) of the parameters' dtype; step: the
    optimizer step of the first update (1-based). batch_size: rows per
    batch (<= the Plan's cap). dropout: float64 rate of each layer's output
    (hidden only), keyed by (seed, epoch, sample, unit). row_sq: float64,
    receives the squared gradient norm of every unit's row in the epoch's
    last batch (layer l's units from the Plan's unit offsets). running:
    batch norm's (2, units) running estimates, updated. sample_weight:
    float64, one per row of X. penalty_per_weight: l1 and l2 are divided
    by each batch's weight (its rows, or their sample weights' sum), as
    scikit-learn's alpha, whose penalty its loss adds once per batch;
    weight_sq: float64 (1,), receives + Σ‖W‖² (weights, not biases) before
    each update, for that loss. loss_memory: float64 (1,), the objective of
    the last batch updated (its mean cost + penalty), for iRprop+. clip,
    noise, noise_seed: DP-SGD (0 = off). watch_interrupt: stop at a Ctrl-C.
    check_inputs: train_epoch checks the rows of its first epoch finite as
    it reads them (fit's X, not checked before: see train_epoch).
    """
    cdef fastbp_hyper hyper
    cdef readonly int kind
    cdef readonly object state
    cdef readonly double lr, l1, l2, max_norm, penalty, clip, noise
    cdef public long step     # a loop of apply_update advances it
    cdef readonly long epoch
    cdef readonly Py_ssize_t batch_size
    cdef readonly unsigned long long seed, noise_seed
    cdef readonly bint watch_interrupt, penalty_per_weight, check_inputs
    cdef double[::1] dropout, row_sq, sample_weight, loss_memory, weight_sq
    cdef double[:, ::1] running

    def __init__(self, *, int kind=FASTBP_PLAIN_SGD, hyper=None, state=None, double lr,
                 long step=1, Py_ssize_t batch_size=1, double l1=0, double l2=0,
                 double max_norm=0, double[::1] dropout=None, unsigned long long seed=0,
                 long epoch=0, double[::1] row_sq=None, double[:, ::1] running=None,
                 double[::1] sample_weight=None, double[::1] loss_memory=None,
                 double penalty=0, double clip=0, double noise=0,
                 unsigned long long noise_seed=0, bint watch_interrupt=False,
                 bint penalty_per_weight=False, double[::1] weight_sq=None,
                 bint check_inputs=False):
        values = dict(_NO_HYPER)
        unknown = set(hyper or ()) - set(values)
        if unknown:
            raise ValueError(f"hyper: {sorted(unknown)} are not fields of optim.h's "
                             f"fastbp_hyper {HYPER_FIELDS}")
        values.update(hyper or ())
        self.hyper = values
        if state is not None and not (isinstance(state, np.ndarray) and state.ndim == 2
                                      and state.flags.c_contiguous):
            raise TypeError("state must be a C-contiguous 2-d array")
        self.kind, self.state, self.lr, self.step = kind, state, lr, step
        self.batch_size, self.l1, self.l2, self.max_norm = batch_size, l1, l2, max_norm
        self.dropout, self.seed, self.epoch, self.row_sq = dropout, seed, epoch, row_sq
        self.running, self.sample_weight = running, sample_weight
        self.loss_memory, self.penalty = loss_memory, penalty
        self.clip, self.noise, self.noise_seed = clip, noise, noise_seed
        self.watch_interrupt = watch_interrupt
        self.penalty_per_weight, self.weight_sq = penalty_per_weight, weight_sq
        self.check_inputs = check_inputs

    @property
    def hyper_parameters(self):
        """The hyper-parameters as optim.h reads them, by name."""
        return dict(self.hyper)


cdef Train _train(TrainSettings s, Py_ssize_t n_params, object dtype,
                  const Py_ssize_t *unit_off) except *:
    """The Train of settings s for n_params parameters of `dtype` (the
    state's too); unit_off: the Plan's unit offsets, for row_sq."""
    cdef Train tr
    cdef bint stateful = s.state is not None and s.state.shape[0] > 0
    if stateful and (s.state.dtype != dtype or s.state.shape[1] != n_params):
        raise ValueError(f"state must be (n_state, {n_params}) of {np.dtype(dtype)}; "
                         f"got {s.state.shape} of {s.state.dtype}")
    tr.kind = s.kind
    tr.hyper = &s.hyper
    tr.step = s.step
    tr.lr = s.lr
    tr.state = cnp.PyArray_DATA(s.state) if stateful else NULL
    tr.stride = n_params
    tr.l1 = s.l1
    tr.l2 = s.l2
    tr.max_norm = s.max_norm
    tr.dropout = &s.dropout[0] if s.dropout is not None else NULL
    tr.seed = s.seed
    tr.epoch = s.epoch
    tr.row_sq = &s.row_sq[0] if s.row_sq is not None else NULL
    tr.unit_off = unit_off
    tr.loss_memory = &s.loss_memory[0] if s.loss_memory is not None else NULL
    tr.worse = 0
    tr.clip = s.clip
    tr.noise_std = 0
    tr.noise_seed = s.noise_seed
    return tr


cdef inline bint _dropped(const Train *tr, int l) noexcept nogil:
    return tr != NULL and tr.dropout != NULL and tr.dropout[l] > 0


cdef inline bint _fused(const Train *tr) noexcept nogil:
    """Plain SGD with nothing else to do with the gradient: the step can be
    fused into the product, W += (−lr)·δᵀ·a_in (after W −= lr·(l2·W +
    l1·sign W) when penalized), and G is never written."""
    return tr.kind == FASTBP_PLAIN_SGD and tr.row_sq == NULL and tr.noise_std == 0


# ------------------------------------------------------------ pieces and slices

cdef inline void _piece(Py_ssize_t total, int pieces, int p, Py_ssize_t *lo,
                        Py_ssize_t *hi) noexcept nogil:
    """Piece p of `pieces` of range(total)."""
    if pieces == 1:  # no division (layers of online SGD: a few a row)
        lo[0] = 0
        hi[0] = total
        return
    lo[0] = total * p // pieces
    hi[0] = total * (p + 1) // pieces


cdef inline void _own_pieces(int pieces, int t, int T, int *p0, int *p1) noexcept nogil:
    """The whole pieces thread t of T takes: p0 <= p < p1."""
    if T == 1:
        p0[0] = 0
        p1[0] = pieces
        return
    p0[0] = pieces * t // T
    p1[0] = pieces * (t + 1) // T


cdef inline void _barrier(int T) noexcept nogil:
    """The barrier of a team of T threads: a team of one has nothing to wait
    for, and online SGD crosses a few barriers a row."""
    if T > 1:
        fastbp_barrier()


cdef inline void _slice(Py_ssize_t total, int t, int T, Py_ssize_t *lo,
                        Py_ssize_t *hi) noexcept nogil:
    """Part t of T of range(total), in contiguous chunks (for work whose
    result does not depend on the cut: per-row costs, clipping)."""
    cdef Py_ssize_t chunk = (total + T - 1) // T
    lo[0] = min(total, t * chunk)
    hi[0] = min(total, lo[0] + chunk)


# An output layer of one piece of units (10 classes) would be computed by one
# thread while the others wait at a barrier; it is cut by rows instead, and
# each thread takes its rows on to their cost in _output_phase with no
# barrier in between (and inference by rows cuts every layer so). The pieces
# depend on the batch's size only (the bits then do not depend on the
# threads) and have at least PACKED_MIN_ROWS rows (a row's outputs are then
# the same bits in any batch of that many rows or more: the packed kernel
# computes each piece, or dot.c every size).


cdef inline bint _output_by_rows(const Net *net) noexcept nogil:
    cdef int l = net.n_layers - 1
    return net.pieces[l] == 1 and net.in_pieces[l] == 1 and net.g_off[l] < 0


cdef inline int _row_pieces(Py_ssize_t n) noexcept nogil:
    """The pieces of n rows of a product cut by rows."""
    return _pieces_of(n, PACKED_MIN_ROWS)


cdef inline void _output_rows(const Net *net, Py_ssize_t n, int t, int T, Py_ssize_t *r0,
                              Py_ssize_t *r1) noexcept nogil:
    """The rows r0:r1 whose cost thread t of T computes: those of its pieces
    of the output layer's product where it is cut by rows, else a
    contiguous part (the cost of a row does not depend on the cut)."""
    cdef int p0, p1, pieces
    cdef Py_ssize_t lo, hi
    if not _output_by_rows(net):
        _slice(n, t, T, r0, r1)
        return
    pieces = _row_pieces(n)
    _own_pieces(pieces, t, T, &p0, &p1)
    r0[0] = r1[0] = 0
    if p1 > p0:
        _piece(n, pieces, p0, r0, &hi)
        _piece(n, pieces, p1 - 1, &lo, r1)


cdef inline int _grad_input_pieces(const Net *net, int l) noexcept nogil:
    """The pieces of inputs layer l's ∇W is cut into (1: cut by units): a
    layer cut by inputs; or the output layer of a network of two layers,
    when it is cut by rows and its hidden layer by units (784-128-10): its
    inputs then take the pieces of the hidden units, so that each thread
    makes the columns of W_1 (and with plain SGD steps them) that it read
    for its δ_0, which no other thread reads: no barrier is needed after
    δ_0 (_delta_phase)."""
    if net.in_pieces[l] > 1:
        return net.in_pieces[l]
    if (l == 1 and net.n_layers == 2 and _output_by_rows(net) and net.pieces[0] > 1
            and net.in_pieces[0] == 1):
        return net.pieces[0]
    return 1


cdef inline bint _cut_as_hidden(const Net *net) noexcept nogil:
    """Is this a network of two layers whose ∇W_1 is cut by the pieces of the
    hidden units (_grad_input_pieces), those of its δ_0? Not where W_1 is cut
    by inputs (in_pieces, at multiples of 16): the columns a thread steps
    would not be those it read."""
    return net.n_layers == 2 and net.in_pieces[1] == 1 and _grad_input_pieces(net, 1) > 1


cdef inline void _grad_input_piece(const Net *net, int l, int pieces, int p, Py_ssize_t *lo,
                                   Py_ssize_t *hi) noexcept nogil:
    """Piece p of layer l's inputs in _grad_input_pieces' cut."""
    if net.in_pieces[l] > 1:
        _input_piece(net.sizes[l], pieces, p, lo, hi)
    else:
        _piece(net.sizes[l], pieces, p, lo, hi)


cdef inline bint _batch_ends_in_barrier(const Net *net, const Train *tr,
                                        bint weight_sums) noexcept nogil:
    """Must train_epoch's threads wait for each other at the end of a batch?
    Not for a network of two layers whose ∇W_1 is cut by the hidden layer's
    pieces (_grad_input_pieces), without batch norm, DP-SGD's clipping,
    iRprop+'s cost memory or per-batch weight sums (with weight_sums): up to
    the next batch's first barrier (after its hidden layer) a thread reads
    and writes only what it alone uses in the batch before (its rows of W_0
    and b_0, its columns of a_1, δ_0 and of the dropout mask, its copy of x),
    and W_1, b_1, δ_1 and the costs are read after that barrier."""
    return not (_cut_as_hidden(net) and not net.batch_norm and tr.clip == 0
                and tr.loss_memory == NULL and not weight_sums)


# A network of two layers whose first is cut by inputs and whose output layer
# is one small piece (784-30-10, output_everywhere) would cross five barriers
# a batch: after the partial products, after their sum, after the output
# layer (one thread computes it), after δ_0, at the end. Instead every thread
# computes the sum, σ, the output layer, its cost and δ_0 for all rows in
# copies of its own (_thread_net): the same calls on the same numbers, so the
# same bits on each; it then makes and steps its pieces of ∇W_0 from its
# copy, and thread 0 the rest. Two barriers a batch: after the partial
# products, and once every thread has read W_1, the snapshot and the partial
# products (before anyone steps W_1 or the next batch writes them).


cdef inline bint _everywhere(const Net *net, const Train *tr, bint weight_sums) noexcept nogil:
    """Does train_epoch take the _everywhere schedule? For a shape that allows
    it, on more than one thread, where nothing else is shared within a
    batch: not with dropout (its mask), DP-SGD's clipping, iRprop+'s cost
    memory or per-batch weight sums."""
    return (net.own_stride > 0 and net.team_everywhere > 1 and tr.clip == 0
            and tr.loss_memory == NULL and not weight_sums and not _dropped(tr, 0))


cdef inline Net _thread_net(const Net *net, int t, const floating *like) noexcept nogil:
    """net with thread t's own copies of acts, deltas, zout, loss and correct
    (_everywhere), of the type of `like`."""
    cdef Net own = net[0]
    cdef Py_ssize_t total = net.a_off[net.n_layers] + net.cap * net.sizes[net.n_layers]
    cdef floating *base = <floating *> net.own + t * net.own_stride
    own.acts = base
    own.deltas = base + total
    own.zout = base + 2 * total
    own.loss = net.own_loss + t * _own_rows(net.cap)
    own.correct = net.own_correct + t * _own_rows(net.cap)
    return own


cdef inline Py_ssize_t _own_rows(Py_ssize_t cap) noexcept nogil:
    """Rows between two threads' copies of loss and correct: whole cache lines
    of either (no two threads write one)."""
    return (cap + 63) // 64 * 64


cdef inline bint _fusable(const Net *net, int l) noexcept nogil:
    """Can layer l's bias and σ be applied in the forward product's
    registers (gemm_abt)? For hidden layers (whose z is their a) without
    batch norm, of the activations the kernel has."""
    return (l < net.n_layers - 1 and net.g_off[l] < 0
            and (net.act[l] == RELU or net.act[l] == LEAKY_RELU or net.act[l] == IDENTITY))


# ---------------------------------------------------- phases of one batch
# Each is run by every thread t of the T in the team, on n <= cap rows, and
# ends with a barrier where its results are needed by other threads.

cdef void _forward_phase(const Net *net, const floating *P, const floating *x,
                         Py_ssize_t n, int t, int T, const Train *tr,
                         const Py_ssize_t *rows) noexcept nogil:
    """Z_l[:, own units] = A_l·W_l[own]ᵀ + b, then σ, layer by layer; with
    dropout (training only) hidden units are dropped and the kept ones scaled
    by 1/(1−p). Row i is sample rows[i] of the data (keys the dropout mask)."""
    # x is (n, sizes[0]); layer l's activations are (n, sizes[l]) at acts + a_off[l]
    cdef int l, p, p0, p1, L = net.n_layers
    cdef bint fused
    cdef Py_ssize_t lo, hi, n_in, n_out
    cdef floating *acts = <floating *> net.acts
    cdef const floating *a_in
    cdef floating *z
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        a_in = x if l == 0 else acts + net.a_off[l]
        z = <floating *> net.zout if l == L - 1 else acts + net.a_off[l + 1]
        if net.in_pieces[l] > 1:
            _forward_by_inputs(net, P, a_in, z, n, l, t, T, tr, rows)
            continue
        if l == L - 1 and _output_by_rows(net):
            # this thread's pieces of rows, which its _output_phase takes on
            # (the same rows): no barrier between them
            _output_by_rows_product(net, P, a_in, n, t, T, _pack(net, t, P))
            continue
        _own_pieces(net.pieces[l], t, T, &p0, &p1)
        for p in range(p0, p1):
            _piece(n_out, net.pieces[l], p, &lo, &hi)
            # scratch: this layer's slot of δ, not read until the backward pass
            # fused: biased and activated in the product's registers
            fused = gemm_abt(<int> n, <int> (hi - lo), <int> n_in, a_in, <int> n_in,
                             P + net.w_off[l] + lo * n_in, <int> n_in, z + lo, <int> n_out,
                             <floating *> net.deltas + net.a_off[l + 1] + lo * n,
                             _pack(net, t, P),
                             P + net.b_off[l] + lo if _fusable(net, l) else NULL, net.act[l],
                             NULL)
            if net.g_off[l] >= 0:
                _bn_activate(net, P, z, n, l, lo, hi)
            elif not fused:
                bias_activate(acts + net.a_off[l + 1] + lo, z + lo, P + net.b_off[l] + lo,
                              n, hi - lo, n_out, net.act[l])
            if l < L - 1 and _dropped(tr, l):
                _dropout(acts + net.a_off[l + 1], net.kept + net.a_off[l + 1], n, n_out, lo, hi,
                         tr, l, rows)
        _barrier(T)


cdef void _forward_everywhere(const Net *net, const Net *own, const floating *P,
                              const floating *x, Py_ssize_t n, int t, int T) noexcept nogil:
    """_forward_phase in the _everywhere schedule: this thread's partial
    products of layer 0 (in net's buffers), the barrier, then for all rows in
    its copy `own`: their sum in piece order, + b, σ, and the output layer,
    with _forward_phase's calls (so its bits)."""
    cdef Py_ssize_t h = net.sizes[1]
    cdef floating *a = <floating *> own.acts + own.a_off[1]
    _input_products(net, P, x, <floating *> net.acts + net.a_off[1], n, 0, t, T)
    _barrier(T)
    _sum_inputs(net, <floating *> net.acts + net.a_off[1], a, n, 0, 0, n)
    bias_activate(a, a, P + net.b_off[0], n, h, h, net.act[0])
    _output_by_rows_product(own, P, a, n, 0, 1, _pack(net, t, P))


cdef void _output_by_rows_product(const Net *net, const floating *P, const floating *a_in,
                                  Py_ssize_t n, int t, int T, floating *pack) noexcept nogil:
    """z_L and σ of the pieces of rows of the output layer (_output_by_rows)
    that thread t of a team of T takes, from its input a_in, packing W into
    pack."""
    cdef int p, p0, p1, l = net.n_layers - 1, pieces = _row_pieces(n)
    cdef Py_ssize_t lo, hi, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef floating *a = <floating *> net.acts + net.a_off[l + 1]
    cdef floating *z = <floating *> net.zout
    _own_pieces(pieces, t, T, &p0, &p1)
    for p in range(p0, p1):
        _piece(n, pieces, p, &lo, &hi)
        # scratch: the output's slot of δ, not yet written in this batch
        gemm_abt(<int> (hi - lo), <int> n_out, <int> n_in, a_in + lo * n_in, <int> n_in,
                 P + net.w_off[l], <int> n_in, z + lo * n_out, <int> n_out,
                 <floating *> net.deltas + net.a_off[l + 1] + lo * n_out,
                 pack, NULL, net.act[l], NULL)
        bias_activate(a + lo * n_out, z + lo * n_out, P + net.b_off[l], hi - lo, n_out, n_out,
                      net.act[l])


cdef void _forward_by_inputs(const Net *net, const floating *P, const floating *a_in,
                             floating *z, Py_ssize_t n, int l, int t, int T, const Train *tr,
                             const Py_ssize_t *rows) noexcept nogil:
    """_forward_phase's layer l when it is cut by inputs: the partial product
    of each piece of inputs (piece 0 into z, the others into net.partial),
    then for this thread's rows their sum in piece order, + b, σ, dropout."""
    cdef Py_ssize_t r0, r1, n_out = net.sizes[l + 1]
    cdef floating *acts = <floating *> net.acts
    _input_products(net, P, a_in, z, n, l, t, T)
    _barrier(T)
    _slice(n, t, T, &r0, &r1)
    _sum_inputs(net, z, z, n, l, r0, r1)
    bias_activate(acts + net.a_off[l + 1] + r0 * n_out, z + r0 * n_out, P + net.b_off[l],
                  r1 - r0, n_out, n_out, net.act[l])
    if l < net.n_layers - 1 and _dropped(tr, l):
        _dropout(acts + net.a_off[l + 1] + r0 * n_out, net.kept + net.a_off[l + 1] + r0 * n_out,
                 r1 - r0, n_out, 0, n_out, tr, l, rows + r0)
    _barrier(T)


cdef void _input_products(const Net *net, const floating *P, const floating *a_in,
                          floating *z, Py_ssize_t n, int l, int t, int T) noexcept nogil:
    """The partial products of this thread's pieces of layer l's inputs
    (layer cut by inputs): piece 0 into z, piece p into net.partial's p-1."""
    cdef int p, p0, p1, pieces = net.in_pieces[l]
    cdef Py_ssize_t k0, k1, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef floating *part = <floating *> net.partial
    _own_pieces(pieces, t, T, &p0, &p1)
    for p in range(p0, p1):
        _input_piece(n_in, pieces, p, &k0, &k1)
        gemm_abt(<int> n, <int> n_out, <int> (k1 - k0), a_in + k0, <int> n_in,
                 P + net.w_off[l] + k0, <int> n_in, z if p == 0 else part + (p - 1) * n * n_out,
                 <int> n_out, NULL, _pack(net, t, P), NULL, IDENTITY, NULL)


cdef inline void _sum_inputs(const Net *net, const floating *z, floating *out, Py_ssize_t n,
                             int l, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Rows r0:r1 of the sum of _input_products' pieces, in piece order, into
    out (which may be z)."""
    cdef int p
    cdef Py_ssize_t i, n_out = net.sizes[l + 1], stride = n * n_out
    cdef const floating *part = <floating *> net.partial
    if out != z:
        memcpy(out + r0 * n_out, z + r0 * n_out, (r1 - r0) * n_out * sizeof(floating))
    for p in range(1, net.in_pieces[l]):
        for i in range(r0 * n_out, r1 * n_out):
            out[i] += part[(p - 1) * stride + i]


cdef void _forward_rows(const Net *net, const floating *P, const floating *x,
                        Py_ssize_t n, int t, int T, bint check) noexcept nogil:
    """Inference without batch norm: rows are independent, so the batch is
    cut into pieces of rows, each taken through every layer by one thread
    with no barrier between layers (A_{l+1}[rows] = σ(A_l[rows]·W_lᵀ + b)).
    With check, net.flags[1 + t] = 1 if a piece's rows of x are not all
    finite: the packed kernel of the first product tells, at no cost, that
    none of x·W₀ᵀ is NaN or ±inf, so x is finite; only where it does not
    look, or finds one (x's or an overflow), x itself is checked. The
    output's softmax is left to _output_phase."""
    cdef int l, p, p0, p1, L = net.n_layers, pieces = _row_pieces(n)
    cdef int nonfinite
    cdef Py_ssize_t r0, r1, n_in, n_out
    cdef floating *acts = <floating *> net.acts
    cdef const floating *a_in
    cdef floating *z
    _own_pieces(pieces, t, T, &p0, &p1)
    for p in range(p0, p1):
        _piece(n, pieces, p, &r0, &r1)
        nonfinite = -1  # -1: the product's kernel did not look
        for l in range(L):
            n_in = net.sizes[l]
            n_out = net.sizes[l + 1]
            a_in = (x if l == 0 else acts + net.a_off[l]) + r0 * n_in
            z = (<floating *> net.zout if l == L - 1 else acts + net.a_off[l + 1]) + r0 * n_out
            # scratch: the piece's slot of δ, unused in inference
            if not gemm_abt(<int> (r1 - r0), <int> n_out, <int> n_in, a_in, <int> n_in,
                            P + net.w_off[l], <int> n_in, z, <int> n_out,
                            <floating *> net.deltas + net.a_off[l + 1] + r0 * n_out,
                            _pack(net, t, P), P + net.b_off[l] if _fusable(net, l) else NULL,
                            net.act[l], &nonfinite if check and l == 0 else NULL):
                bias_activate(acts + net.a_off[l + 1] + r0 * n_out, z, P + net.b_off[l],
                              r1 - r0, n_out, n_out, net.act[l])
        if check and nonfinite != 0:
            _check_rows(net, x, r0, r1, t)
    _barrier(T)


cdef inline bint _infer_by_rows(const Net *net, Py_ssize_t n) noexcept nogil:
    """Does inference on n rows cut them into pieces (_forward_rows)? When
    every layer has fewer units than the batch has rows (a piece then packs
    all of W, the smaller operand, for its rows), and without batch norm
    (whose statistics are per unit)."""
    cdef int l
    if net.batch_norm:
        return False
    for l in range(net.n_layers):
        if net.sizes[l + 1] > n:
            return False
    return True


cdef int _infer_pieces(const Net *net, Py_ssize_t n) noexcept nogil:
    """The most pieces a product of inference on a block of n rows is cut
    into (_infer_phase's cut)."""
    cdef int l, most = 1, L = net.n_layers
    if _infer_by_rows(net, n):
        return _row_pieces(n)
    for l in range(L):
        if net.in_pieces[l] > 1:
            most = max(most, net.in_pieces[l])
        elif l == L - 1 and _output_by_rows(net):
            most = max(most, _row_pieces(n))
        else:
            most = max(most, net.pieces[l])
    return most


cdef int _infer_team(const Net *net, Py_ssize_t n) noexcept nogil:
    """The threads inference on n rows (in blocks of net.cap) keeps busy: at
    most the most pieces one of its products is cut into. A thread more
    would only wait at the barriers, and one that waits long enough to
    sleep is slow to wake: 784-30-10's forward of 64 rows in one piece took
    60-76 µs on two threads, 40 on one."""
    return min(net.n_threads, _infer_pieces(net, min(n, net.cap)))


def infer_team(Plan plan, Py_ssize_t n):
    """The threads forward and evaluate take for n rows with this plan."""
    cdef Net net = _net(plan)
    return _infer_team(&net, n)


cdef inline void _infer_phase(const Net *net, const floating *P, const floating *x,
                             Py_ssize_t n, int t, int T, bint check) noexcept nogil:
    """The forward pass of inference: by pieces of rows where
    _infer_by_rows, else by pieces of units as in training (a piece packs
    all rows). With check, each thread checks its rows (or slice of rows)
    of x finite: net.flags[1 + t]."""
    cdef Py_ssize_t r0, r1
    if _infer_by_rows(net, n):
        _forward_rows(net, P, x, n, t, T, check)
        return
    if check:
        _slice(n, t, T, &r0, &r1)
        _check_rows(net, x, r0, r1, t)
    _forward_phase(net, P, x, n, t, T, NULL, NULL)


cdef void _bn_activate(const Net *net, const floating *P, floating *z, Py_ssize_t n,
                       int l, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Hidden layer l with batch norm: z (its activation slot) → y = γ·ẑ + β → σ(y)."""
    cdef Py_ssize_t i, j, w = net.sizes[l + 1], u = net.unit_off[l]
    cdef int act = net.act[l]
    bn_forward(z, <floating *> net.zhat + net.a_off[l + 1], n, w, lo, hi,
               P + net.g_off[l], P + net.b_off[l], net.bn_mean + u, net.bn_inv + u,
               net.run_mean + u if net.run_mean != NULL else NULL,
               net.run_var + u if net.run_var != NULL else NULL,
               net.bn_mode != BN_RUNNING, net.bn_mode == BN_BATCH_UPDATE, _BN_MOMENTUM, _BN_EPS)
    for i in range(n):
        for j in range(lo, hi):
            z[i * w + j] = activate(z[i * w + j], act)


cdef void _dropout(floating *a, unsigned char *kept, Py_ssize_t n, Py_ssize_t width,
                   Py_ssize_t lo, Py_ssize_t hi, const Train *tr, int l,
                   const Py_ssize_t *rows) noexcept nogil:
    """Inverted dropout on columns lo:hi of a (n, width): a = 0 where dropped,
    a/(1−p) where kept; the mask is kept (same layout) for the backward pass."""
    cdef Py_ssize_t i
    cdef unsigned long long row
    cdef double p = tr.dropout[l]
    for i in range(n):
        row = fastbp_dropout_row(tr.seed, tr.epoch, rows[i])
        if floating is float:
            fastbp_sdropout_row(a + i * width, kept + i * width, row, l, lo, hi, p, 1 / (1 - p))
        else:
            fastbp_ddropout_row(a + i * width, kept + i * width, row, l, lo, hi, p, 1 / (1 - p))


cdef void _output_phase(const Net *net, const floating *y, const Py_ssize_t *y_rows,
                        const double *sw, Py_ssize_t n, double scale, int t,
                        int T) noexcept nogil:
    """Softmax, per-sample cost, correctness and δ_L = scale·w·∂c/∂z_L (BP1)
    of this thread's rows. Row i is sample r = y_rows[i] of the data (i if
    y_rows is NULL): its target is y[r], its weight w = sw[r] (1 if sw is
    NULL)."""
    cdef int L = net.n_layers
    cdef Py_ssize_t i, r, r0, r1, w = net.sizes[L]
    cdef floating *a_L = <floating *> net.acts + net.a_off[L]
    cdef floating *d_L = <floating *> net.deltas + net.a_off[L]
    cdef const floating *z_L = <floating *> net.zout
    cdef floating lse = 0
    _output_rows(net, n, t, T, &r0, &r1)
    if net.act[L - 1] == SOFTMAX:  # each row's log Σ e^z in loss[i] until its cost
        softmax_rows(a_L + r0 * w, z_L + r0 * w, r1 - r0, w,
                     net.loss + r0 if y != NULL else NULL)
    for i in range(r0, r1):
        if y != NULL:
            if net.act[L - 1] == SOFTMAX:
                lse = <floating> net.loss[i]
            r = y_rows[i] if y_rows != NULL else i
            net.loss[i] = cost_row(d_L + i * w, a_L + i * w, z_L + i * w, y + r * w,
                                   w, net.act[L - 1], net.cost,
                                   <floating> (scale * sw[r] if sw != NULL else scale), lse)
            net.correct[i] = correct(a_L + i * w, y + r * w, w)
    _barrier(T)


cdef void _delta_phase(const Net *net, const floating *P, floating *G, Py_ssize_t n,
                       int t, int T, const Train *tr, const Py_ssize_t *rows) noexcept nogil:
    """BP2, layer by layer: δ_{l-1}[:, own] = (δ_l · W_l[:, own]) ⊙ σ'(a_l[:, own]);
    through dropout, ⊙ mask/(1−p) as well, σ' taken at the unscaled a."""
    cdef int l, p, p0, p1
    cdef Py_ssize_t lo, hi, n_in, n_out
    cdef floating *deltas = <floating *> net.deltas
    cdef const floating *acts = <floating *> net.acts
    for l in range(net.n_layers - 1, 0, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        # the pieces of δ_{l-1} are those of layer l-1's units
        _own_pieces(net.pieces[l - 1], t, T, &p0, &p1)
        for p in range(p0, p1):
            _piece(n_in, net.pieces[l - 1], p, &lo, &hi)
            # δ_l is (n, n_out), W_l is (n_out, n_in): columns lo:hi of the product
            gemm(False, False, <int> n, <int> (hi - lo), <int> n_out, <floating> 1,
                 deltas + net.a_off[l + 1], <int> n_out, P + net.w_off[l] + lo, <int> n_in,
                 <floating> 0, deltas + net.a_off[l] + lo, <int> n_in)
            mul_activation_grad(deltas + net.a_off[l] + lo, acts + net.a_off[l] + lo,
                                net.kept + net.a_off[l] + lo if _dropped(tr, l - 1) else NULL,
                                n, hi - lo, n_in, net.act[l - 1],
                                tr.dropout[l - 1] if _dropped(tr, l - 1) else 0)
            if net.g_off[l - 1] >= 0:
                # dy → ∂C/∂z through batch norm; ∂C/∂γ, ∂C/∂β of these units into G
                bn_backward(deltas + net.a_off[l], <floating *> net.zhat + net.a_off[l],
                            n, n_in, lo, hi, P + net.g_off[l - 1],
                            net.bn_inv + net.unit_off[l - 1], net.bn_s1 + net.unit_off[l - 1],
                            net.bn_s2 + net.unit_off[l - 1], G + net.g_off[l - 1],
                            G + net.b_off[l - 1])
        # δ_0 is read by no other thread when ∇W_1 is cut by these pieces
        # (but by DP-SGD's clipping, which needs every row's whole gradient)
        if l > 1 or not _cut_as_hidden(net) or (tr != NULL and tr.clip > 0):
            _barrier(T)


cdef void _clip_phase(const Net *net, const floating *x, Py_ssize_t n, const Train *tr,
                      int t, int T) noexcept nogil:
    """DP-SGD's clipping for this thread's rows: sample i's gradient is
    n·Δ_l[i] ⊗ [a_l[i], 1] in every layer, so its squared norm is
    Σ_l ‖n·Δ_l[i]‖²·(‖a_l[i]‖² + 1), found without the outer products; its
    deltas are scaled by min(1, C/‖g_i‖), which scales its share of the
    batch gradient the same way."""
    cdef int l
    cdef Py_ssize_t i, j, r0, r1, n_in, n_out
    cdef double sq, sd, sa
    cdef floating c
    cdef const floating *a
    cdef floating *d
    _slice(n, t, T, &r0, &r1)
    for i in range(r0, r1):
        sq = 0
        for l in range(net.n_layers):
            n_in = net.sizes[l]
            n_out = net.sizes[l + 1]
            a = (x if l == 0 else <floating *> net.acts + net.a_off[l]) + i * n_in
            d = <floating *> net.deltas + net.a_off[l + 1] + i * n_out
            sd = 0
            sa = 1
            for j in range(n_out):
                sd += <double> d[j] * d[j]
            for j in range(n_in):
                sa += <double> a[j] * a[j]
            sq += sd * sa
        sq *= <double> n * n
        if sq > tr.clip * tr.clip:
            c = <floating> (tr.clip / sqrt(sq))
            for l in range(net.n_layers):
                d = <floating *> net.deltas + net.a_off[l + 1] + i * net.sizes[l + 1]
                for j in range(net.sizes[l + 1]):
                    d[j] *= c
    _barrier(T)


cdef void _param_phase(const Net *net, floating *P, floating *G, const floating *x,
                       Py_ssize_t n, const Train *tr, int t, int T) noexcept nogil:
    """BP3/BP4 for this thread's pieces of every layer: ∇W = δᵀ·a_in and
    ∇b = Σ δ into G, then, when training (tr != NULL), the update of those
    rows: L1/L2 terms, the optimizer step, the max-norm constraint. Plain
    SGD fuses its step into the product (W += (−lr)·δᵀ·a_in). These rows of
    W are read by no other thread any more in this batch."""
    cdef int l, p, p0, p1, pieces
    cdef Py_ssize_t lo, hi
    cdef bint stepped, by_inputs
    for l in range(net.n_layers):
        pieces = _grad_input_pieces(net, l)
        by_inputs = pieces > 1
        if by_inputs:  # columns lo:hi of all rows of W, then the rest
            _own_pieces(pieces, t, T, &p0, &p1)
            for p in range(p0, p1):
                _grad_input_piece(net, l, pieces, p, &lo, &hi)
                _weight_product(net, P, G, x, n, tr, l, 0, net.sizes[l + 1], lo, hi)
                if _steps_by_columns(tr):
                    _step_columns(net, P, G, tr, l, lo, hi)
            # the rest is ∇b (of the deltas) and the steps of whole rows of W:
            # those after their whole gradient only
            if _rows_after_columns(tr):
                _barrier(T)
            pieces = 1
        else:
            pieces = net.pieces[l]
        _own_pieces(pieces, t, T, &p0, &p1)
        for p in range(p0, p1):
            _piece(net.sizes[l + 1], pieces, p, &lo, &hi)
            # (a layer cut by inputs has its products made above)
            stepped = by_inputs and _steps_by_columns(tr)
            if not by_inputs:
                stepped = _weight_product(net, P, G, x, n, tr, l, lo, hi, 0, net.sizes[l])
            _param_rest(net, P, G, n, tr, l, lo, hi, stepped)


cdef bint _weight_product(const Net *net, floating *P, floating *G, const floating *x,
                          Py_ssize_t n, const Train *tr, int l, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """∇W[lo:hi, k0:k1] = δ[:, lo:hi]ᵀ·a_in[:, k0:k1] into G, or with plain SGD
    W[lo:hi, k0:k1] += (−lr)·that, after the L1/L2 shrink of those weights.
    Returns whether the optimizer's step on those weights was made too
    (panel by panel: _steps_in_panels), which _param_rest then skips."""
    cdef Py_ssize_t j, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    # δ_l is (n, n_out), a_l is (n, n_in); W_l is (n_out, n_in)
    cdef const floating *d = <floating *> net.deltas + net.a_off[l + 1] + lo
    cdef const floating *a_in = (x if l == 0 else <floating *> net.acts + net.a_off[l]) + k0
    cdef Py_ssize_t at = net.w_off[l] + lo * n_in + k0
    cdef PanelStep step
    if tr != NULL and _fused(tr):
        if tr.l1 != 0 or tr.l2 != 0:
            for j in range(hi - lo):
                _shrink(P + at + j * n_in, k1 - k0, tr.lr * tr.l2, tr.lr * tr.l1)
        gemm(True, False, <int> (hi - lo), <int> (k1 - k0), <int> n, <floating> -tr.lr, d,
             <int> n_out, a_in, <int> n_in, <floating> 1, P + at, <int> n_in)
    elif floating is float and _steps_in_panels(net, tr, l, hi - lo, n):
        step.tr = tr
        step.w = P + at
        step.gw = G + at
        step.n_in = n_in
        step.at = at
        fastbp_souter(True, hi - lo, k1 - k0, n, 1, d, n_out, a_in, n_in, 0, G + at, n_in,
                      _step_panel, &step)
        return True
    else:
        gemm(True, False, <int> (hi - lo), <int> (k1 - k0), <int> n, <floating> 1, d,
             <int> n_out, a_in, <int> n_in, <floating> 0, G + at, <int> n_in)
    return False


cdef inline bint _rows_after_columns(const Train *tr) noexcept nogil:
    """Are whole rows of a layer cut by inputs stepped (or their max-norm
    taken) once every piece of their columns' gradient is made, which
    takes a barrier in between?"""
    return tr != NULL and (tr.max_norm > 0 or not (_fused(tr) or _steps_by_columns(tr)))


cdef inline bint _steps_by_columns(const Train *tr) noexcept nogil:
    """Does an optimizer step each piece of a layer cut by inputs as soon as
    its columns of the gradient are made (_step_columns), with no barrier
    for whole rows? Where its step and the L1/L2 terms are element by
    element (the same bits in any grouping): not with gradient norms, DP
    noise or max-norm, which take whole rows."""
    return (tr != NULL and not _fused(tr) and tr.row_sq == NULL and tr.noise_std == 0
            and tr.max_norm == 0)


cdef void _step_columns(const Net *net, floating *P, floating *G, const Train *tr, int l,
                        Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """The L1/L2 terms and the optimizer's step of columns k0:k1 of every row
    of W_l, as _update_rows applies them to whole rows (_steps_by_columns)."""
    cdef Py_ssize_t j, at, n_in = net.sizes[l]
    for j in range(net.sizes[l + 1]):
        at = net.w_off[l] + j * n_in + k0
        _penalized_step(tr, P + at, G + at, at, k1 - k0)


cdef bint _panel_steps = True


def set_panel_steps(bint on):
    """Let optimizers step W panel by panel where _steps_in_panels allows (on,
    the default) or after the whole product always (off: for the test that
    compares the two bit for bit). Returns the previous setting."""
    global _panel_steps
    cdef bint previous = _panel_steps
    _panel_steps = on
    return previous


cdef inline bint _steps_in_panels(const Net *net, const Train *tr, int l, Py_ssize_t units,
                                 Py_ssize_t n) noexcept nogil:
    """Does the optimizer step a float32 piece of `units` rows of W_l (n rows
    of the batch) panel by panel, as csrc/outer.c makes its gradient
    (_step_panel)? Where that kernel computes it, when nothing needs the
    whole gradient first (gradient norms, DP noise) and the layer is cut by
    units."""
    return (_panel_steps and tr != NULL and tr.kind != FASTBP_PLAIN_SGD and tr.row_sq == NULL
            and tr.noise_std == 0 and _grad_input_pieces(net, l) == 1
            and outer_runs(False, <int> units, <int> net.sizes[l], <int> n))


cdef struct PanelStep:  # what _step_panel needs of a piece of W and its gradient
    const Train *tr
    float *w
    float *gw
    Py_ssize_t n_in, at  # a row's length; the offset of w[0] in params


cdef void _step_panel(void *ctx, Py_ssize_t i, Py_ssize_t rows) noexcept nogil:
    """The update of rows i:i+rows of a piece of W whose gradient
    csrc/outer.c has just made (still in cache): the L1/L2 terms, then the
    optimizer step, as _update_rows applies them to the whole piece (element
    by element: the same bits)."""
    cdef PanelStep *s = <PanelStep *> ctx
    cdef Py_ssize_t at = i * s.n_in
    _penalized_step(s.tr, s.w + at, s.gw + at, s.at + at, rows * s.n_in)


cdef void _param_rest(const Net *net, floating *P, floating *G, Py_ssize_t n,
                      const Train *tr, int l, Py_ssize_t lo, Py_ssize_t hi,
                      bint stepped) noexcept nogil:
    """_param_phase for units lo:hi of layer l once their ∇W (or plain SGD's
    step on W) is made: ∇b, and the update of their rows (of their biases
    only when _weight_product `stepped` the weights)."""
    cdef Py_ssize_t i, j, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef const floating *d = <floating *> net.deltas + net.a_off[l + 1]
    cdef floating *w = P + net.w_off[l] + lo * n_in
    cdef floating *gw = G + net.w_off[l] + lo * n_in
    cdef floating *b = P + net.b_off[l] + lo
    cdef floating *gb = G + net.b_off[l] + lo
    cdef floating lr = <floating> tr.lr if tr != NULL else 0
    if net.g_off[l] < 0:  # with batch norm, ∂C/∂β came from the delta phase
        for j in range(hi - lo):
            gb[j] = 0
        for i in range(n):
            for j in range(hi - lo):
                gb[j] += d[i * n_out + lo + j]
    if tr == NULL:
        return
    if _fused(tr):
        for j in range(hi - lo):
            b[j] -= lr * gb[j]
        if net.g_off[l] >= 0:
            for j in range(lo, hi):
                P[net.g_off[l] + j] -= lr * G[net.g_off[l] + j]
    else:
        # (rows of 0 inputs: the weights, stepped panel by panel, are done)
        _update_rows(tr, w, gw, b, gb, hi - lo, 0 if stepped else n_in,
                     net.w_off[l] + lo * n_in, net.b_off[l] + lo,
                     tr.row_sq + tr.unit_off[l] + lo if tr.row_sq != NULL else NULL)
        if net.g_off[l] >= 0:  # γ: no penalty terms, as biases
            _step_slice(tr, P + net.g_off[l] + lo, G + net.g_off[l] + lo,
                        net.g_off[l] + lo, hi - lo,
                        tr.row_sq + tr.unit_off[l] + lo if tr.row_sq != NULL else NULL)
    if tr.max_norm > 0:
        _max_norm_rows(w, hi - lo, n_in, tr.max_norm)


cdef void _update_rows(const Train *tr, floating *w, floating *gw, floating *b,
                       floating *gb, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t w_at,
                       Py_ssize_t b_at, double *row_sq) noexcept nogil:
    """Diagnostics, regularization and the optimizer step of `rows` rows of W
    (at offset w_at of params) and their biases (at b_at)."""
    cdef Py_ssize_t i, j
    if row_sq != NULL:
        # the plain gradient of the mean cost, before any penalty term
        for j in range(rows):
            row_sq[j] = <double> gb[j] * gb[j] + _sum_sq(gw + j * n_in, n_in)
    if tr.noise_std > 0:
        # DP-SGD: N(0, (σC)²) on the sum of clipped gradients, / batch rows
        for i in range(rows * n_in):
            gw[i] += <floating> (tr.noise_std * fastbp_dp_normal(tr.noise_seed, tr.step, w_at + i))
        for j in range(rows):
            gb[j] += <floating> (tr.noise_std * fastbp_dp_normal(tr.noise_seed, tr.step, b_at + j))
    _penalized_step(tr, w, gw, w_at, rows * n_in)
    _step_slice(tr, b, gb, b_at, rows, NULL)


cdef inline void _penalized_step(const Train *tr, floating *w, floating *gw, Py_ssize_t at,
                                 Py_ssize_t count) noexcept nogil:
    """The step of count weights (params[at:at+count]) after the L1/L2 terms,
    ∂/∂W of λ2/2·‖W‖² + λ1·Σ|W|, join their gradient (biases take none):
    element by element, so any grouping gives the same bits (whole rows,
    _step_panel's panels, _step_columns' columns)."""
    if tr.l1 != 0 or tr.l2 != 0:
        if floating is float:
            fastbp_sadd_penalty(gw, w, count, tr.l1, tr.l2)
        else:
            fastbp_dadd_penalty(gw, w, count, tr.l1, tr.l2)
    _step_slice(tr, w, gw, at, count, NULL)


cdef void _step_slice(const Train *tr, floating *p, const floating *g, Py_ssize_t at,
                      Py_ssize_t count, double *row_sq) noexcept nogil:
    """The update of params[at:at+count] (p) from g: plain SGD or the optimizer;
    with row_sq, g² is added to it first (per unit, for the gradient norms)."""
    cdef Py_ssize_t i
    if row_sq != NULL:
        for i in range(count):
            row_sq[i] += <double> g[i] * g[i]
    if tr.kind == FASTBP_PLAIN_SGD:
        for i in range(count):
            p[i] -= <floating> tr.lr * g[i]
    elif floating is float:
        fastbp_soptim_step(tr.kind, tr.hyper, tr.step, tr.lr, tr.worse, p, g,
                           <float *> tr.state + at, tr.stride, count)
    else:
        fastbp_doptim_step(tr.kind, tr.hyper, tr.step, tr.lr, tr.worse, p, g,
                           <double *> tr.state + at, tr.stride, count)


cdef inline void _max_norm_rows(floating *w, Py_ssize_t rows, Py_ssize_t n_in,
                                double c) noexcept nogil:
    """Rescale each unit's incoming weight vector to norm c if it is longer."""
    if floating is float:
        fastbp_smax_norm_rows(w, rows, n_in, c)
    else:
        fastbp_dmax_norm_rows(w, rows, n_in, c)


cdef inline void _shrink(floating *w, Py_ssize_t n, double a, double b) noexcept nogil:
    """w −= a·w + b·sign(w): SGD's step on the L2 (a = lr·l2) and L1 terms."""
    if floating is float:
        fastbp_sshrink(w, n, a, b)
    else:
        fastbp_dshrink(w, n, a, b)


cdef double _batch_sums(const Net *net, Py_ssize_t n, const double *sw,
                        const Py_ssize_t *rows, double *n_correct) noexcept nogil:
    """Σ per-sample cost and Σ correct over the batch, weighted by sw[rows[i]]
    (sw[i] if rows is NULL) when sw is given, in row order (every thread
    computes the same numbers, so decisions on them agree)."""
    cdef Py_ssize_t i
    cdef double total = 0, w = 1
    n_correct[0] = 0
    for i in range(n):
        if sw != NULL:
            w = sw[rows[i] if rows != NULL else i]
        total += w * net.loss[i]
        n_correct[0] += w * net.correct[i]
    return total


cdef double _weight_sq(const Net *net, const floating *P) noexcept nogil:
    """Σ‖W_l‖² over the layers (weights, not biases), in order."""
    cdef int l
    cdef double total = 0
    for l in range(net.n_layers):
        total += _sum_sq(P + net.w_off[l], net.sizes[l] * net.sizes[l + 1])
    return total


cdef inline double _sum_sq(const floating *p, Py_ssize_t n) noexcept nogil:
    """Σ p² in double (in 8 fixed lanes: penalty.c)."""
    if floating is float:
        return fastbp_ssum_sq(p, n)
    else:
        return fastbp_dsum_sq(p, n)


cdef double _weight_sum(const double *sw, const Py_ssize_t *rows, Py_ssize_t n) noexcept nogil:
    """Σ sw[rows[i]] (sw[i] if rows is NULL): the batch's weight, or n unweighted."""
    cdef Py_ssize_t i
    cdef double total = 0
    if sw == NULL:
        return n
    for i in range(n):
        total += sw[rows[i] if rows != NULL else i]
    return total


# ------------------------------------------- online SGD of small networks
# A batch of one row on one thread, plain SGD with nothing else, through
# layers whose products are all small (<= SMALL_GEMM multiply-adds, as
# small_gemm's: the from-scratch tutorial's 7-5-3 network, FANN's
# incremental training).
# There the phases' pieces, slices and bookkeeping cost more than the
# arithmetic itself; these two make the phases' calls of the products
# (gemm_abt, gemm) and their element-wise steps in the same order, without
# them, so they give the same bits (tests/test_training.py compares the two
# with set_online_rows).
cdef bint _online_rows = True


def set_online_rows(bint on):
    """Let batches of one row take the online kernels where they fit (on,
    the default) or the phases always (off: for the tests that compare the
    two bit for bit). Returns the previous setting."""
    global _online_rows
    cdef bint previous = _online_rows
    _online_rows = on
    return previous


cdef bint _online_fits(const Net *net, const Train *tr) noexcept nogil:
    """Batches of one row of this network and update may take _online_forward
    and _online_update (when the team has one thread)."""
    cdef int l
    if (not _online_rows or net.batch_norm or tr.kind != FASTBP_PLAIN_SGD or tr.l1 != 0
            or tr.l2 != 0 or tr.max_norm != 0 or tr.clip != 0 or tr.loss_memory != NULL):
        return False
    for l in range(net.n_layers):
        if net.sizes[l] * net.sizes[l + 1] > SMALL_GEMM or _dropped(tr, l):
            return False
    return True


cdef void _online_forward(const Net *net, const floating *P, const floating *x,
                          const floating *y, floating scale) noexcept nogil:
    """_forward_phase and _output_phase of the row x (target y, δ_L scaled
    by `scale`) on one thread."""
    cdef int l, L = net.n_layers
    cdef Py_ssize_t n_in, n_out, width = net.sizes[L]
    cdef floating *acts = <floating *> net.acts
    cdef floating *z_L = <floating *> net.zout
    cdef const floating *a_in = x
    cdef const floating *w
    cdef floating *a
    cdef floating *z
    cdef floating lse = 0
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        w = P + net.w_off[l]
        a = acts + net.a_off[l + 1]
        z = z_L if l == L - 1 else a
        gemm_abt(1, <int> n_out, <int> n_in, a_in, <int> n_in, w, <int> n_in, z, <int> n_out,
                 NULL, NULL, NULL, IDENTITY, NULL)
        bias_activate(a, z, P + net.b_off[l], 1, n_out, n_out, net.act[l])
        a_in = a
    if net.act[L - 1] == SOFTMAX:
        lse = softmax_row(a, z_L, width, True)
    net.loss[0] = cost_row(<floating *> net.deltas + net.a_off[L], a, z_L, y, width,
                           net.act[L - 1], net.cost, scale, lse)
    net.correct[0] = correct(a, y, width)


cdef void _online_update(const Net *net, floating *P, const floating *x,
                         double lr) noexcept nogil:
    """_delta_phase and plain SGD's _param_phase of the row x, after
    _online_forward, on one thread: their products (gemm's loops at these
    sizes) and the bias step b −= lr·(0 + δ)."""
    cdef int l, L = net.n_layers
    cdef Py_ssize_t i, n_in, n_out
    cdef floating *deltas = <floating *> net.deltas
    cdef const floating *acts = <floating *> net.acts
    cdef floating *b
    cdef floating *d
    cdef floating rate = <floating> lr
    for l in range(L - 1, 0, -1):  # BP2: δ_{l-1} = (δ_l·W_l) ⊙ σ'(a_l)
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        gemm(False, False, 1, <int> n_in, <int> n_out, <floating> 1, deltas + net.a_off[l + 1],
             <int> n_out, P + net.w_off[l], <int> n_in, <floating> 0, deltas + net.a_off[l],
             <int> n_in)
        mul_activation_grad(deltas + net.a_off[l], acts + net.a_off[l], NULL, 1, n_in, n_in,
                            net.act[l - 1], 0)
    for l in range(L):  # BP3, BP4 and the step: W += (−lr)·δᵀ·a_in, b −= lr·(0 + δ)
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        d = deltas + net.a_off[l + 1]
        gemm(True, False, <int> n_out, <int> n_in, 1, <floating> -lr, d, <int> n_out,
             x if l == 0 else acts + net.a_off[l], <int> n_in, <floating> 1, P + net.w_off[l],
             <int> n_in)
        b = P + net.b_off[l]
        for i in range(n_out):
            b[i] -= rate * (<floating> 0 + d[i])


# -------------------------------------------------------- Python entry points
# Each takes a Plan whose dtype matches the arrays (checked by the caller) and
# releases the GIL for the compiled work.

cdef int _sized(Plan plan, Py_ssize_t n_params, Py_ssize_t n_grads=-1, Py_ssize_t x_cols=-1,
                Py_ssize_t y_cols=-1, Py_ssize_t rows=-1) except -1:
    """ValueError unless the arrays handed in fit the plan (-1: not handed):
    the one check of the compiled side, as a length the caller changed
    (params.resize) would make it read past a buffer."""
    if n_params != plan.n_params:
        raise ValueError(f"params has {n_params} values; the network has {plan.n_params} "
                         f"(was params resized?)")
    if n_grads >= 0 and n_grads != plan.n_params:
        raise ValueError(f"the gradient has {n_grads} values; params has {plan.n_params}")
    if x_cols >= 0 and x_cols != plan.sizes[0]:
        raise ValueError(f"X has {x_cols} columns; the network takes {plan.sizes[0]}")
    if y_cols >= 0 and y_cols != plan.sizes[plan.n_layers]:
        raise ValueError(f"Y has {y_cols} columns; the network gives {plan.sizes[plan.n_layers]}")
    if rows > plan.cap:
        raise ValueError(f"{rows} rows per batch; the plan holds {plan.cap}")
    return 0


cdef void _infer_blocks(Net *net, const floating *P, const floating *X, const floating *Y,
                        Py_ssize_t n, floating *out, double *loss,
                        signed char *correct, bint check) noexcept nogil:
    """Inference on n rows of X in blocks of net.cap rows: the outputs into
    out, or with targets Y the per-sample cost into loss and correctness into
    correct. With check, X is checked finite on the way (net.flags)."""
    # X is (n, sizes[0]); Y and out are (n, sizes[L])
    cdef Py_ssize_t r, nb, w_in = net.sizes[0], w_out = net.sizes[net.n_layers]
    cdef const floating *a_L = <floating *> net.acts + net.a_off[net.n_layers]
    cdef int t, T
    with parallel(num_threads=_infer_team(net, n)):
        t = fastbp_thread_num()
        T = fastbp_num_threads()
        r = 0
        while r < n:
            nb = min(net.cap, n - r)
            _infer_phase(net, P, X + r * w_in, nb, t, T, check)
            _output_phase(net, Y + r * w_out if Y != NULL else NULL, NULL, NULL, nb, 1, t, T)
            if t == 0:
                if out != NULL:
                    memcpy(out + r * w_out, a_L, nb * w_out * sizeof(floating))
                else:
                    memcpy(loss + r, net.loss, nb * sizeof(double))
                    memcpy(correct + r, net.correct, nb * sizeof(signed char))
            _barrier(T)  # the next block overwrites a_L and the per-sample results
            r = r + nb


def forward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out, double[:, ::1] running=None, bint check_finite=False):
    """out = network output for X, in blocks of plan.cap rows (batch norm
    with its running estimates). With check_finite, X's finiteness is
    checked on the way, each thread its rows before its product reads them
    (one pass over X fewer than a check before the call): returns whether
    X was finite (out is then not to be used), else True."""
    cdef Net net = _net(plan)
    _sized(plan, params.shape[0], -1, X.shape[1], out.shape[1])
    if out.shape[0] < X.shape[0]:
        raise ValueError("out has fewer rows than X")
    _use_running(&net, running, BN_RUNNING)
    with nogil:
        _infer_blocks(&net, &params[0], &X[0, 0], <floating *> NULL, X.shape[0], &out[0, 0],
                      NULL, NULL, check_finite)
    return not _found_bad_input(&net)


def evaluate(Plan plan, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, double[::1] loss, signed char[::1] correct,
             double[:, ::1] running=None, bint training=False):
    """Per-sample cost into loss and correctness into correct, in blocks.
    Batch norm uses its running estimates, or with training the statistics
    of each block (the caller makes the block all of X)."""
    cdef Net net = _net(plan)
    _sized(plan, params.shape[0], -1, X.shape[1], Y.shape[1])
    if min(Y.shape[0], loss.shape[0], correct.shape[0]) < X.shape[0]:
        raise ValueError("Y, loss or correct has fewer rows than X")
    _use_running(&net, running, BN_BATCH if training else BN_RUNNING)
    with nogil:
        _infer_blocks(&net, &params[0], &X[0, 0], &Y[0, 0], X.shape[0], <floating *> NULL,
                      &loss[0], &correct[0], False)


def gradients(Plan plan, floating[::1] params, floating[::1] grads,
              const floating[:, ::1] X, const floating[:, ::1] Y, bint weights=True,
              const double[::1] sample_weight=None):
    """grads = ∇ of the mean cost over all rows of (X, Y), n <= plan.cap
    (batch norm with the batch's statistics); with sample_weight, of the
    weighted mean Σ w_i c_i / Σ w_i (Σ w_i > 0). Returns the summed cost
    (weighted: Σ w_i c_i). With weights=False it stops after the deltas (BP1,
    BP2): what backprop computed is left in plan.acts / plan.zout /
    plan.deltas, and grads receives only batch norm's ∂C/∂γ, ∂C/∂β."""
    cdef Net net = _net(plan)
    _sized(plan, params.shape[0], grads.shape[0], X.shape[1], Y.shape[1], X.shape[0])
    if Y.shape[0] != X.shape[0]:
        raise ValueError("Y and X have different numbers of rows")
    _use_running(&net, None, BN_BATCH)
    cdef Py_ssize_t n = X.shape[0]
    cdef double n_correct
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef double scale = 1 / _weight_sum(sw, NULL, n)
    cdef int t, T
    with nogil, parallel(num_threads=net.n_threads):
        t = fastbp_thread_num()
        T = fastbp_num_threads()
        _forward_phase(&net, &params[0], &X[0, 0], n, t, T, NULL, NULL)
        _output_phase(&net, &Y[0, 0], NULL, sw, n, scale, t, T)
        _delta_phase(&net, &params[0], &grads[0], n, t, T, NULL, NULL)
        if weights:
            _param_phase(&net, &params[0], &grads[0], &X[0, 0], n, NULL, t, T)
    return _batch_sums(&net, n, sw, NULL, &n_correct)


def train_epoch(Plan plan, floating[::1] params, floating[::1] grads,
                const floating[:, ::1] X, const floating[:, ::1] Y,
                const Py_ssize_t[::1] order, TrainSettings settings, long epochs=1,
                double[::1] epoch_loss=None):
    """One epoch of mini-batch training in one parallel region, no Python
    between batches, with the update `settings` describes (TrainSettings);
    or `epochs` of them, one after another in the same region and the same
    `order`, the e-th (from 0) as epoch settings.epoch + e (dropout's key):
    no Python between epochs either (fit's some 20 µs an epoch are the
    time of a hundred rows of online SGD on a small network).

    Batch b holds rows order[b*batch_size : (b+1)*batch_size] (the last may be
    short); batch_size <= plan.cap. The update is plain SGD at rate lr
    (PLAIN_SGD) or the optimizer `kind` of csrc/optim.h with its
    hyper-parameters and state, its step count starting at `step`; with
    L1/L2 terms, max-norm and dropout as set. With row_sq, the squared
    gradient norm of every unit's row in the epoch's last batch is written
    there. With sample_weight each batch's cost is its weighted mean, and a
    batch whose weights sum to 0 is skipped (no update, no optimizer step).
    loss_memory[0] holds the objective of the last batch updated, its mean
    cost + `penalty` (the L1/L2 term at the epoch's start: iRprop+ is full
    batch), which iRprop+ compares each batch's with.
    With clip > 0 (DP-SGD) each sample's gradient is clipped to norm clip,
    and N(0, (noise·clip)²) noise keyed by (noise_seed, step, parameter) is
    added to the sum of each batch's clipped gradients.

    With settings.check_inputs, the rows of the first epoch are checked
    finite as they are read, each thread its slice of a batch just before
    the batch's products read it (fit's X: a pass over X fewer than a check
    before the call), and BAD_INPUT is returned, whatever else stopped the
    loop, if one holds a NaN or ±inf: the updates are then the caller's to
    undo. The rows after a stop are not checked.

    Stops before the update of a batch whose cost is not finite, or, with
    watch_interrupt, at the first batch after a Ctrl-C (its KeyboardInterrupt
    carries `updates`, and `bad_input`: BAD_INPUT's finding). Returns (sum of
    per-sample costs, number correct, batches done (updated or skipped),
    updates, COMPLETED | NONFINITE
    | INTERRUPTED | BAD_INPUT), the sums weighted by sample_weight if given; the cost
    and correctness of each sample are measured before its batch's update,
    as Keras does. The sums and counts are over all the epochs; with
    epoch_loss, its first `epochs` entries receive each epoch's sum of
    per-sample costs (of the batches updated: partial for the epoch a stop
    ends, 0 for those after it); row_sq is that of the last epoch's last
    batch.
    """
    cdef Net net = _net(plan)
    _sized(plan, params.shape[0], grads.shape[0], X.shape[1], Y.shape[1], settings.batch_size)
    if Y.shape[0] != X.shape[0]:
        raise ValueError("Y and X have different numbers of rows")
    if epochs < 1 or (epoch_loss is not None and epoch_loss.shape[0] < epochs):
        raise ValueError(f"epochs must be >= 1 and epoch_loss hold as many; got {epochs} "
                         f"and {None if epoch_loss is None else epoch_loss.shape[0]}")
    cdef double *per_epoch = &epoch_loss[0] if epoch_loss is not None else NULL
    if per_epoch != NULL:
        epoch_loss[:epochs] = 0
    cdef long ep
    cdef Py_ssize_t n = order.shape[0], w_in = X.shape[1], batch_size = settings.batch_size
    cdef Py_ssize_t start, nb, i, done, updates
    cdef Py_ssize_t last_start = (n - 1) // batch_size * batch_size
    cdef double batch_total, batch_correct, batch_weight, batch_sq = 0
    cdef double penalty = settings.penalty, noise = settings.noise, clip = settings.clip
    cdef bint watch_interrupt = settings.watch_interrupt
    cdef bint per_weight = settings.penalty_per_weight
    cdef bint check = settings.check_inputs
    cdef Py_ssize_t r0, r1
    cdef double *weight_sq = &settings.weight_sq[0] if settings.weight_sq is not None else NULL
    cdef const double *sw = (&settings.sample_weight[0] if settings.sample_weight is not None
                             else NULL)
    cdef int t, T, stop
    cdef bint one_row
    cdef floating *xb
    cdef const floating *x
    cdef Train mine
    cdef Train tr = _train(settings, params.shape[0],
                           np.float32 if floating is float else np.float64, net.unit_off)
    cdef bint online = _online_fits(&net, &tr)
    cdef bint everywhere = _everywhere(&net, &tr, weight_sq != NULL)
    cdef bint end_barrier = not everywhere and _batch_ends_in_barrier(&net, &tr,
                                                                       weight_sq != NULL)
    cdef Net own
    # results, written by thread 0: total, correct, batches, updates, reason
    cdef double result[5]
    result[:] = [0, 0, 0, 0, STOP_COMPLETED]
    _use_running(&net, settings.running, BN_BATCH_UPDATE)
    if watch_interrupt:
        fastbp_interrupt_begin()
    try:
        with nogil, parallel(num_threads=net.team_everywhere if everywhere else net.n_threads):
            t = fastbp_thread_num()
            T = fastbp_num_threads()
            xb = <floating *> net.xb + t * net.cap * w_in
            own = _thread_net(&net, t, &params[0]) if everywhere else net
            mine = tr  # a private copy: its per-batch fields need no barrier
            start = 0
            done = 0
            updates = 0
            stop = 0
            ep = 0
            while ep < epochs and not stop:
                if start == n:  # the next epoch
                    start = 0
                    ep = ep + 1
                    mine.epoch = tr.epoch + ep
                    continue
                nb = min(batch_size, n - start)
                mine.step = tr.step + updates
                mine.noise_std = noise * clip / nb
                mine.row_sq = tr.row_sq if start == last_start and ep == epochs - 1 else NULL
                # rows in order are read where they are (a batch of one
                # always); others are gathered by each thread: its slice of
                # units needs every row, and a private copy crosses no core
                x = &X[order[start], 0]
                for i in range(1, nb):
                    if order[start + i] != order[start] + i:
                        x = xb
                        break
                if x == xb:
                    for i in range(nb):
                        memcpy(xb + i * w_in, &X[order[start + i], 0], w_in * sizeof(floating))
                if check and ep == 0:
                    # this thread's slice, into its cache before the products
                    # read the batch (read after the loop: a NaN or inf goes
                    # on to stop it as a cost that is not finite, or not)
                    _slice(nb, t, T, &r0, &r1)
                    _check_rows(&net, x, r0, r1, t)
                batch_weight = _weight_sum(sw, &order[start], nb)
                if batch_weight == 0:  # all weights zero: nothing to learn here
                    done = done + 1
                    start = start + nb
                    continue
                if weight_sq != NULL and t == 0:
                    # before the forward pass's barriers: W is not written until
                    # after them (a network of one layer has no delta phase)
                    batch_sq = _weight_sq(&net, &params[0])
                one_row = online and nb == 1 and T == 1 and mine.row_sq == NULL
                if one_row:
                    net.flags[0] = watch_interrupt and fastbp_interrupted()
                    _online_forward(&net, &params[0], x, &Y[order[start], 0],
                                    <floating> ((1 / batch_weight) * sw[order[start]]
                                                if sw != NULL else 1 / batch_weight))
                elif everywhere:
                    if t == 0:  # read by all between _forward_everywhere's barrier
                        # and the batch's second (after the delta phase)
                        net.flags[0] = watch_interrupt and fastbp_interrupted()
                    _forward_everywhere(&net, &own, &params[0], x, nb, t, T)
                    _output_phase(&own, &Y[0, 0], &order[start], sw, nb, 1 / batch_weight, 0, 1)
                else:
                    _forward_phase(&net, &params[0], x, nb, t, T, &mine, &order[start])
                    # the Ctrl-C snapshot, read by all after _output_phase's
                    # barrier; written after the forward pass's first one,
                    # which all threads pass only when they have read the
                    # last batch's (with no barrier at the batch's end)
                    if t == 0:
                        net.flags[0] = watch_interrupt and fastbp_interrupted()
                    _output_phase(&net, &Y[0, 0], &order[start], sw, nb, 1 / batch_weight, t, T)
                # assigned here so that Cython makes it private to each
                # thread (a variable only passed by address stays shared)
                batch_correct = 0
                # (own is net but in the _everywhere schedule)
                batch_total = _batch_sums(&own, nb, sw, &order[start], &batch_correct)
                if net.flags[0]:
                    stop = STOP_INTERRUPTED
                elif not isfinite(batch_total):
                    stop = STOP_NONFINITE
                else:
                    if per_weight:
                        mine.l1 = tr.l1 / batch_weight
                        mine.l2 = tr.l2 / batch_weight
                    if weight_sq != NULL and t == 0:
                        weight_sq[0] += batch_sq
                    mine.worse = (tr.loss_memory != NULL
                                  and batch_total / batch_weight + penalty > tr.loss_memory[0])
                    if one_row:
                        _online_update(&net, &params[0], x, mine.lr)
                    elif everywhere:
                        _delta_phase(&own, &params[0], &grads[0], nb, 0, 1, &mine, &order[start])
                        _barrier(T)  # all have read W_1, the partial products, the snapshot
                        _param_phase(&own, &params[0], &grads[0], x, nb, &mine, t, T)
                        if _rows_after_columns(&mine):
                            _barrier(T)  # thread 0 stepped whole rows of W_0, whose
                            # columns the next batch's products read by pieces
                    else:
                        _delta_phase(&net, &params[0], &grads[0], nb, t, T, &mine, &order[start])
                        if clip > 0:
                            _clip_phase(&net, x, nb, &mine, t, T)
                        _param_phase(&net, &params[0], &grads[0], x, nb, &mine, t, T)
                        if end_barrier:
                            _barrier(T)  # the next batch overwrites what others read
                    if t == 0:
                        if tr.loss_memory != NULL:  # read by all before the barriers above
                            tr.loss_memory[0] = batch_total / batch_weight + penalty
                        result[0] += batch_total
                        result[1] += batch_correct
                        if per_epoch != NULL:
                            per_epoch[ep] += batch_total
                    updates = updates + 1
                    done = done + 1
                    start = start + nb
            if t == 0:
                result[2] = done
                result[3] = updates
                result[4] = stop
    finally:
        if watch_interrupt:
            fastbp_interrupt_end()
    if check and _found_bad_input(&net):
        result[4] = STOP_BAD_INPUT
    try:
        # raises the KeyboardInterrupt Python saw, also for a Ctrl-C that came
        # just before the loop's own handler was installed: the updates the
        # loop made are then attached all the same
        PyErr_CheckSignals()
        if (result[4] == STOP_INTERRUPTED
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            raise KeyboardInterrupt()  # SIGINT had no Python handler to chain to
    except KeyboardInterrupt as e:
        e.updates = int(result[3])  # the caller's optimizer step count needs them
        e.bad_input = result[4] == STOP_BAD_INPUT  # (and then to undo them)
        raise
    return result[0], result[1], int(result[2]), int(result[3]), int(result[4])


def apply_update(Plan plan, floating[::1] params, floating[::1] grads,
                 TrainSettings settings):
    """One update of params from a gradient already in grads (params layout),
    with the same arithmetic as a batch of train_epoch: L1/L2 terms (added
    into grads), the optimizer step, the max-norm constraint, as `settings`
    describes (its lr, step, update rule and penalties; the rest is unused).
    For training loops that get their gradient elsewhere (a sum over MPI
    ranks, say). Runs on one thread: it is O(n_params), not the hot part."""
    cdef Net net = _net(plan)
    _sized(plan, params.shape[0], grads.shape[0])
    # (no cost here: iRprop+ does not backtrack in this path)
    cdef Train tr = _train(settings, params.shape[0],
                           np.float32 if floating is float else np.float64, NULL)
    cdef double max_norm = tr.max_norm
    cdef int l
    cdef Py_ssize_t n_in, n_out
    with nogil:
        for l in range(net.n_layers):
            n_in = net.sizes[l]
            n_out = net.sizes[l + 1]
            _update_rows(&tr, &params[net.w_off[l]], &grads[net.w_off[l]],
                         &params[net.b_off[l]], &grads[net.b_off[l]], n_out, n_in,
                         net.w_off[l], net.b_off[l], NULL)
            if net.g_off[l] >= 0:
                _step_slice(&tr, &params[net.g_off[l]], &grads[net.g_off[l]], net.g_off[l],
                            n_out, NULL)
            if max_norm > 0:
                _max_norm_rows(&params[net.w_off[l]], n_out, n_in, max_norm)
