"""Data-parallel training over MPI: each rank holds a shard of the data, and
every step is one local gradient, one Allreduce and one identical update.

    # train.py; run with: mpiexec -n 4 python train.py
    import fastbp, fastbp.distributed as dist
    from fastbp.datasets import load_mnist_5k

    X, y = dist.shard(*load_mnist_5k())        # rank r keeps rows r::n
    net = fastbp.Network([784, 128, 10], activation="relu", cost="cross_entropy", seed=0)
    history = dist.fit(net, X, y, epochs=10, batch_size=64, lr=0.1)
    dist.save(net, "mnist.npz")                # rank 0 writes it

Which rows make a batch. The global data set is the shards interleaved row
by row: rank 0's row 0, rank 1's row 0, ..., rank n-1's row 0, rank 0's row
1, ..., skipping a rank whose shard has run out. Global batch b is positions
[b*B, (b+1)*B) of that sequence (B = batch_size; the last batch may be
short), so rank r contributes the rows of the batch whose position is
congruent to r mod n (while every shard has rows left). When rank r holds
rows r::n of a data set (what `shard` gives), the sequence is that data set
in its own order, and n ranks train the model that one process trains with
`Network.fit(shuffle=False)`, up to the rounding of the sum over ranks; with
B not divisible by n the ranks take turns at the extra rows. Shards of any
sizes work (at least one row each).

Shuffling. With shuffle=True each rank permutes its own shard at the start of
every epoch and takes its rows of each batch from that permutation; the
number of rows each rank gives a batch stays as above, so ranks stay
balanced and no rank needs another's data. Rank 0 draws from
numpy.random.default_rng(seed), the generator and draws of Network.fit, and
rank r > 0 from SeedSequence(seed, spawn_key=(r,)). One rank therefore draws
exactly fit's batches; n ranks draw other, equally random, batches.

The step. Each rank computes the mean gradient of its rows of the batch in
the compiled core into a flat buffer in the params layout, scales it by its
share (rows / global rows of the batch, known in advance; 1/2 exactly for
two equal shares), and writes its summed cost, its row count and its number
of correct predictions into three more slots of the same buffer (of the
network's dtype). One Allreduce(SUM) in place gives every rank the global
mean gradient, cost, count and accuracy; every rank then applies the same
update (fastbp._core.apply_update: fit's L1/L2 terms, optimizer step and
max-norm) to the same parameters, so they stay identical without being sent
(checked once at the end). With sample weights a rank sends Σ w_i ∇c_i and
Σ w_i, and the sum is divided by the global weight after the Allreduce.
Nothing is allocated per step except the small NumPy views of each batch.

Faults. Arguments are checked on every rank, then the ranks compare notes:
if any rank's arguments are bad (non-finite parameters, inputs or targets
too, as fit refuses them), or the ranks disagree on the network or the
settings, every rank raises (no rank is left waiting). A NaN or inf cost is
seen by all ranks in the same step, so all of them restore the parameters
and raise FloatingPointError, as fit does. Any other exception on one rank
during training (a bug, a failing callback, Ctrl-C) prints the rank and the
traceback and calls MPI_Abort, which ends every rank of the job instead of
leaving the others blocked in the next Allreduce; a rank killed outright is
detected by mpiexec, which ends the job likewise.

Dropout and batch norm are not available here: their masks and batch
statistics would have to span the global batch.
"""
from __future__ import annotations

import contextlib
import sys
import time
import traceback
import warnings
import zlib
from dataclasses import replace
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _core, _io, _progress, optim, trainer
from ._settings import check_fit
from ._validation import check_sample_weight
from .model import Model
from .trainer import History

__all__ = ["fit", "shard", "save", "batch_layout", "interleaved_positions"]

# Extra slots after the gradient in the per-step buffer.
_COST, _WEIGHT, _CORRECT = 0, 1, 2
_N_SLOTS = 3


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("fastbp.distributed needs mpi4py and an MPI library: "
                          "pip install 'fastbp[mpi]'") from None
    return MPI


def _comm(comm):
    MPI = _mpi()
    if comm is not None and not isinstance(comm, MPI.Comm):
        raise TypeError(f"comm must be an mpi4py communicator (MPI.COMM_WORLD, say); "
                        f"got {type(comm).__name__}")
    return MPI, (MPI.COMM_WORLD if comm is None else comm)


# ------------------------------------------------------------ batch layout

def _sum_min(sizes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_s min(sizes[s], x) for each entry of x."""
    s = np.sort(np.asarray(sizes, dtype=np.int64))
    prefix = np.concatenate([[0], np.cumsum(s)])
    k = np.searchsorted(s, x, side="right")  # how many sizes are <= x
    return prefix[k] + x * (len(s) - k)


def interleaved_positions(shard_sizes: Sequence[int], rank: int) -> np.ndarray:
    """Position in the global sequence of each row of `rank`'s shard.

    The sequence interleaves the shards row by row, skipping exhausted
    shards, so row i of rank r comes after i rows of its own shard,
    min(n_s, i + 1) rows of each rank s < r and min(n_s, i) rows of each
    rank s > r.

    Parameters
    ----------
    shard_sizes : sequence of int
        Rows held by each rank.
    rank : int

    Returns
    -------
    numpy.ndarray of int64, shape (shard_sizes[rank],), increasing.
    """
    sizes = np.asarray(shard_sizes, dtype=np.int64)
    i = np.arange(sizes[rank], dtype=np.int64)
    return i + _sum_min(sizes[:rank], i + 1) + _sum_min(sizes[rank + 1:], i)


def batch_layout(shard_sizes: Sequence[int], rank: int,
                 batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Which of `rank`'s rows each global batch takes.

    Parameters
    ----------
    shard_sizes : sequence of int
        Rows held by each rank.
    rank : int
    batch_size : int
        Global batch size B (capped at the total number of rows, as fit does).

    Returns
    -------
    starts : numpy.ndarray of intp, shape (n_batches + 1,)
        Batch b takes rows starts[b]:starts[b+1] of the rank's shard (of its
        permutation, with shuffling).
    counts : numpy.ndarray of int64, shape (n_batches,)
        Rows of batch b over all ranks.
    """
    total = int(np.sum(shard_sizes))
    batch_size = min(int(batch_size), total)
    n_batches = -(-total // batch_size)
    edges = np.arange(n_batches + 1, dtype=np.int64) * batch_size
    edges[-1] = total
    starts = np.searchsorted(interleaved_positions(shard_sizes, rank), edges, side="left")
    return starts.astype(np.intp), np.diff(edges)


# ------------------------------------------------------------ public API

def shard(*arrays: Any, comm: Optional[Any] = None):
    """This rank's rows ``rank::size`` of each array.

    The split under which `fit` on n ranks trains the model of
    `Network.fit` on the whole data set (see the module docstring).

    Parameters
    ----------
    *arrays : array_like
        Arrays with samples along the first axis (X, y, ...).
    comm : mpi4py.MPI.Comm, optional
        Default MPI.COMM_WORLD.

    Returns
    -------
    numpy.ndarray, or a tuple of them for several arrays (views, not copies).
    """
    _, comm = _comm(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    out = tuple(np.asarray(a)[rank::size] for a in arrays)
    return out[0] if len(out) == 1 else out


def save(net: Model, path, include_optimizer: bool = False, *,
         comm: Optional[Any] = None) -> None:
    """Write the model from rank 0; every rank calls this and returns once
    the file is written.

    Parameters
    ----------
    net : Network
        The model, identical on every rank after `fit`.
    path : str or os.PathLike
        Target file (.npz), written by rank 0 only, atomically.
    include_optimizer : bool
        As in `Network.save`.
    comm : mpi4py.MPI.Comm, optional
        Default MPI.COMM_WORLD.

    Raises
    ------
    Whatever `Network.save` raised on rank 0, on rank 0; RuntimeError naming
    it on the other ranks.
    """
    _, comm = _comm(comm)
    error = None
    if comm.Get_rank() == 0:
        try:
            _io.save(net, path, include_optimizer)
        except Exception as e:
            error = e
    message = comm.bcast(None if error is None else f"{type(error).__name__}: {error}", root=0)
    if error is not None:
        raise error
    if message is not None:
        raise RuntimeError(f"fastbp.distributed.save: rank 0 could not write the model: {message}")


def fit(net: Model, X: Any, Y: Any, epochs: int = 30, batch_size: int = 10,
        lr: float = 3.0, shuffle: bool = True, seed: Optional[int] = None,
        validation_data: Optional[Tuple[Any, Any]] = None, verbose: bool = False,
        on_nonfinite: str = "raise", optimizer: Any = "sgd", l2: float = 0.0,
        l1: float = 0.0, dropout: Any = 0.0, max_norm: Optional[float] = None,
        lr_schedule: Any = None, early_stopping: Optional[int] = None,
        callbacks: Optional[Sequence[Callable]] = None, sample_weight: Any = None,
        clip_per_sample: Optional[float] = None, noise: float = 0.0, progress: bool = False,
        *, comm: Optional[Any] = None) -> History:
    """Train `net` on the shards of all ranks of `comm`: Network.fit over MPI.

    Every rank calls it, with its own shard (X, Y) and the same network
    structure and settings; the arguments mean what they mean for
    `Network.fit`. The batches are global (module docstring): `batch_size`
    rows over all ranks per step.

    Parameters
    ----------
    net : Network
        Rank 0's parameters (and optimizer state, for an Optimizer object)
        are broadcast first, so the ranks' initial values do not matter.
    X, Y : array_like
        This rank's shard, at least one row.
    epochs, batch_size, lr, shuffle, on_nonfinite, optimizer, l2, l1,
    max_norm, lr_schedule, early_stopping : as in `Network.fit`.
    seed : int or None
        Rank 0's value is used (drawn at random by rank 0 when None).
    validation_data : (X_val, Y_val) or None
        This rank's shard of the validation data (None on a rank that has
        none): val_loss and val_accuracy are means over all ranks' rows.
    verbose, progress : bool
        Rank 0 prints one line per epoch / shows a tqdm bar over the epochs.
    dropout, clip_per_sample, noise : 0, None, 0
        Anything else raises NotImplementedError: dropout masks and DP-SGD's
        per-sample clipping are not implemented over the global batch; nor
        is batch norm (the network's), nor the 'lbfgs' and 'irprop+'
        optimizers (a line search; the last step's cost).
    callbacks : list of callables f(epoch, logs)
        Called on every rank with the same logs (the global loss and
        accuracy); training stops when any rank's callback returns False.
    sample_weight : array of shape (len(X),) or None
        This rank's weights, as in `Network.fit`: each batch's cost is the
        weighted mean over the global batch (each rank sends Σ w_i ∇c_i and
        Σ w_i; a batch whose weights are all zero on every rank is skipped,
        without an optimizer step). Like fit, the weights are divided by
        their largest, over all ranks.
        validation_data may then be (X_val, Y_val, w_val). Use it on every
        rank or on none.
    comm : mpi4py.MPI.Comm, optional
        Default MPI.COMM_WORLD.

    Returns
    -------
    History
        The same on every rank (but for 'seconds' and 'allreduce_seconds',
        which each rank measures itself): fit's 'loss', 'accuracy',
        'val_loss', 'val_accuracy', 'lr', 'seconds', 'grad_norm' (of the
        global gradient of the epoch's last batch), and 'allreduce_seconds',
        the time this rank spent in the per-step Allreduce, waiting for the
        slowest rank included.

    Raises
    ------
    On every rank: the bad rank's TypeError/ValueError/NotImplementedError
    (RuntimeError for other kinds) when any rank's arguments are bad (inputs
    or targets that are not finite among them); FloatingPointError, before
    anything changes, when any rank's parameters are not finite, as
    Network.fit; ValueError when the ranks disagree on the network or the
    settings; FloatingPointError (with `.history`) on a NaN or inf cost or
    parameters during training, as Network.fit. Any other exception during training ends the whole job
    with MPI_Abort (comm.Abort(1)) after printing the rank and traceback
    (with a single rank it propagates instead).
    """
    args = {k: v for k, v in locals().items() if k not in ("net", "comm")}
    MPI, comm = _comm(comm)
    with contextlib.ExitStack() as stack:
        # 1. Every rank checks its own arguments, then all compare notes.
        error, s, signature = None, None, None
        try:
            s, signature = _check(net, args)
            stack.enter_context(trainer.exclusive(net))
        except Exception as e:
            error = e
        notes = comm.allgather(_note(s, signature, error, args["seed"]))
        _agree(notes, error)
        _agree_on_data(s, notes)
        # 2. Train. From here on an exception on one rank aborts the job.
        return _train(net, comm, MPI, s, notes)


def _train(net, comm, MPI, s, notes):
    """Step 2 of fit: all epochs on every rank."""
    rank, size = comm.Get_rank(), comm.Get_size()
    ranks = None
    try:
        bar = _progress.bar(s.epochs, s.progress and rank == 0)
        try:
            ranks = _Trainer(net, comm, MPI, s, notes, rank, bar)
            history, failure = ranks.run()
        finally:
            bar.close()
    except BaseException as e:
        if size == 1:  # nobody waits for this rank: behave as Network.fit
            if isinstance(e, KeyboardInterrupt) and ranks is not None:
                e.history = ranks.end.history  # type: ignore[attr-defined]
            raise
        _abort(comm, rank, size, ranks, e)
        raise  # not reached: MPI_Abort ends this process
    if failure is not None:
        raise failure
    return history


# ------------------------------------------------------------ checks

def _check(net, args):
    """fit's argument checks for this rank: the FitSettings and the
    signature every rank must share."""
    if not isinstance(net, Model):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    if net.batch_norm:
        raise NotImplementedError("fastbp.distributed.fit does not train batch-norm networks: "
                                  "the statistics would have to span the global batch")
    val = args["validation_data"]
    if (isinstance(val, (tuple, list)) and len(val) in (2, 3)
            and hasattr(val[0], "__len__") and len(val[0]) == 0):
        args = dict(args, validation_data=None)  # no validation rows here (shard() of a few)
    s = check_fit(net, **args, weights=_sample_weight, each_rank=False)
    trainer.refuse_non_finite(net)  # as Network.fit: no finite state to go back to
    opt = s.optimizer
    # L-BFGS searches along a line; iRprop+ compares each step's cost with the last one's
    if isinstance(opt, optim.LBFGS) or getattr(opt, "_loss_memory", None) is not None:
        raise NotImplementedError(f"fastbp.distributed.fit does not do {type(opt).__name__}: its "
                                  f"step needs more than one gradient (a line search, or the "
                                  f"last step's cost); 'rprop' / 'irprop-' are available")
    if s.dropout.any():
        raise NotImplementedError("fastbp.distributed.fit does not do dropout: the masks would "
                                  "have to be drawn for the global batch; use dropout=0")
    if s.clip or s.noise:
        raise NotImplementedError("fastbp.distributed.fit does not do DP-SGD (clip_per_sample, "
                                  "noise): the clipping and the noise would have to be "
                                  "accounted over the global batch")
    signature = {
        "sizes": tuple(net.sizes), "dtype": net.dtype.name, "activation": net.activation,
        "output_activation": net.output_activation, "cost": net.cost, "epochs": s.epochs,
        "batch_size": s.batch_size, "shuffle": s.shuffle, "optimizer": repr(opt),
        "l2": s.l2, "l1": s.l1, "max_norm": s.max_norm or None,
        "on_nonfinite": s.on_nonfinite,
        "lr_schedule": None if s.schedule is None else type(s.schedule).__name__,
        "early_stopping": s.early_stopping, "sample_weight": s.sample_weight is not None,
    }
    return s, signature


def _note(s, signature, error, seed):
    """What this rank tells the others: its error, or its data's shape."""
    note: Dict[str, Any] = {"error": None if error is None else (type(error).__name__, str(error))}
    if s is not None:
        sw, val = s.sample_weight, s.validation
        note.update(rows=s.X.shape[0], n_val=0 if val is None else val[0].shape[0],
                    val_weighted=None if val is None else val[2] is not None,
                    val_weight=0.0 if val is None else
                    float(val[0].shape[0] if val[2] is None else val[2].sum()),
                    largest=None if sw is None else float(sw.max()),
                    signature=signature,
                    seed=np.random.SeedSequence().entropy if seed is None else seed)
    return note


def _agree_on_data(s, notes):
    """The checks that need every rank's data (the notes are the same list on
    every rank, so every rank raises alike); the sample weights divided by
    the largest of all ranks', as fit divides by its largest."""
    if s.sample_weight is not None:
        largest = max(n["largest"] for n in notes)
        if not largest:
            raise ValueError("sample_weight is all zero on every rank: there is nothing "
                             "to learn from")
        s.sample_weight[...] /= largest
    if s.early_stopping is not None and not sum(n["n_val"] for n in notes):
        raise ValueError("early_stopping needs validation_data on at least one rank")
    if len({n["val_weighted"] for n in notes if n["val_weighted"] is not None}) > 1:
        raise ValueError("validation_data: give weights (X_val, Y_val, w_val) on every rank "
                         "that has validation data, or on none")
    if any(n["n_val"] for n in notes) and not sum(n["val_weight"] for n in notes):
        raise ValueError("validation_data[2] is all zero on every rank")


def _sample_weight(weights, n, argname):
    """check_sample_weight's checks, but the weights as given (float64): fit
    divides them by their largest, which here must be the largest over all
    ranks; and one rank's weights may all be zero (not every rank's)."""
    if weights is None:
        return None
    raw = np.asarray(weights)
    if raw.ndim == 1 and raw.shape[0] == n and raw.dtype.kind in "fiub" and not raw.any():
        return np.zeros(n)
    check_sample_weight(weights, n, argname)
    return np.array(raw, dtype=np.float64)


_PASSED_ON = {"TypeError": TypeError, "ValueError": ValueError,
              "NotImplementedError": NotImplementedError, "MemoryError": MemoryError,
              "FloatingPointError": FloatingPointError}


def _agree(notes, error):
    """Raise on every rank if any rank's arguments were bad or the ranks'
    signatures differ (the notes are the same list on every rank)."""
    for r, note in enumerate(notes):
        bad = note["error"]
        if bad is not None:
            if error is not None:
                raise error  # this rank's own exception, with its traceback
            kind, message = bad
            raise _PASSED_ON.get(kind, RuntimeError)(
                f"fastbp.distributed.fit: rank {r} refused its arguments: {kind}: {message}")
    first = notes[0]["signature"]
    for r, note in enumerate(notes[1:], 1):
        for key, value in note["signature"].items():
            if value != first[key]:
                raise ValueError(f"fastbp.distributed.fit: the ranks disagree on {key}: rank 0 "
                                 f"has {first[key]!r}, rank {r} has {value!r}; every rank must "
                                 f"call fit with the same network structure and settings")


def _abort(comm, rank, size, ranks, exc):
    if ranks is None:
        where = ""
    elif ranks.batch is None:
        where = f" at the end of epoch {ranks.epoch + 1}"
    else:
        where = f" in epoch {ranks.epoch + 1}, batch {ranks.batch + 1}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stdout.flush()
    sys.stderr.write(f"fastbp.distributed.fit: rank {rank} of {size} failed{where}:\n{text}"
                     f"fastbp.distributed.fit: rank {rank} calls MPI_Abort: the other ranks "
                     f"would wait for it forever\n")
    sys.stderr.flush()
    comm.Abort(1)


# ------------------------------------------------------------ the training loop

class _Trainer:
    """Buffers and the step loop of one distributed fit."""

    def __init__(self, net, comm, MPI, s, notes, rank, bar):
        self.net, self.comm, self.s = net, comm, s
        self.MPI, self.in_place, self.op = MPI, MPI.IN_PLACE, MPI.SUM
        self.X, self.Y, self.sw = s.X, s.Y, s.sample_weight
        sizes, seed = [n["rows"] for n in notes], notes[0]["seed"]
        self.epoch = self.batch = 0
        opt = s.optimizer
        self.opt = opt
        # a full-batch optimizer (Rprop) takes all rows of all ranks per update, as in fit
        batch_size = sum(sizes) if opt.full_batch else s.batch_size
        starts, counts = batch_layout(sizes, rank, batch_size)
        self.starts, self.counts = starts.tolist(), counts.tolist()
        # the global number of rows, or their total weight: what fit divides the epoch's
        # summed cost by
        self.n_global = sum(sizes)
        self.weight = (self.n_global if self.sw is None else
                       comm.allreduce(float(self.sw.sum()), op=MPI.SUM))
        cap = max(1, int(np.diff(starts).max()))
        self.plan = net.plan(cap)
        n_params = net.params.size
        self.buf = np.zeros(n_params + _N_SLOTS, dtype=net.dtype)
        self.grad = self.buf[:n_params]
        self.slot = n_params
        if s.shuffle:
            self.xbuf = np.empty((cap, self.X.shape[1]), dtype=net.dtype)
            self.ybuf = np.empty((cap, self.Y.shape[1]), dtype=net.dtype)
            self.wbuf = np.empty(cap)
        self.rng = (np.random.default_rng(seed) if rank == 0 else
                    np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(rank,))))
        self.state = trainer.update_rule(net, opt)[1]
        self.allreduce_seconds = 0.0
        self.last_sq = None
        self.end = trainer.EpochEnd(replace(s, verbose=s.verbose and rank == 0), net, bar,
                                    vote=lambda stop: comm.allreduce(stop, op=MPI.LOR))
        # rank 0's starting point for everyone
        with net.compute_lock:
            comm.Bcast(net.params, root=0)
            if self.state.size:
                comm.Bcast(self.state, root=0)
        opt.steps = comm.bcast(opt.steps, root=0)
        net.trained_with(opt, s.l2, s.l1)

    def steps(self, order, lr, stop_at, check=False):
        """The first stop_at batches of an epoch. Returns (Σ cost, Σ correct,
        updates done, stopped on a non-finite cost). With check, also stop
        (undoing it) at an update that makes the parameters non-finite."""
        comm, buf, grad, slot = self.comm, self.buf, self.grad, self.slot
        X, Y, sw, plan, params = self.X, self.Y, self.sw, self.plan, self.net.params
        starts, counts, opt, s = self.starts, self.counts, self.opt, self.s
        gradients, apply_update, perf = _core.gradients, _core.apply_update, time.perf_counter
        # a full-batch rule may scale its settings by the data's weight (Quickprop's decay)
        update = trainer.train_settings(self.net, opt, self.state, lr=lr, step=opt.steps + 1,
                                        n_samples=self.weight, l2=s.l2, l1=s.l1,
                                        max_norm=s.max_norm)
        in_place, op = self.in_place, self.op
        last = len(counts) - 1
        total = correct = 0.0
        done = 0
        for b in range(stop_at):
            self.batch = b
            lo, hi = starts[b], starts[b + 1]
            k, n_batch = hi - lo, counts[b]
            if order is None:
                xb, yb = X[lo:hi], Y[lo:hi]
                wb = None if sw is None else sw[lo:hi]
            else:
                rows = order[lo:hi]
                xb = np.take(X, rows, axis=0, out=self.xbuf[:k], mode="clip")
                yb = np.take(Y, rows, axis=0, out=self.ybuf[:k], mode="clip")
                wb = None if sw is None else np.take(sw, rows, out=self.wbuf[:k], mode="clip")
            weight = k if wb is None else float(wb.sum())
            if weight:
                if wb is None:
                    buf[slot + _COST] = gradients(plan, params, grad, xb, yb)
                    buf[slot + _CORRECT] = np.count_nonzero(plan.correct[:k])
                    if k != n_batch:  # this rank's share of the global mean
                        np.multiply(grad, k / n_batch, out=grad)
                else:  # Σ w_i ∇c_i: divided by the global weight below
                    buf[slot + _COST] = gradients(plan, params, grad, xb, yb, sample_weight=wb)
                    buf[slot + _CORRECT] = np.dot(plan.correct[:k], wb)
                    np.multiply(grad, weight, out=grad)
            else:
                buf[...] = 0
            buf[slot + _WEIGHT] = weight
            start = perf()
            comm.Allreduce(in_place, buf, op=op)
            self.allreduce_seconds += perf() - start
            if sw is None:
                if abs(buf[slot + _WEIGHT] - n_batch) > 1e-6 * n_batch:
                    raise RuntimeError(f"the ranks' rows of batch {b + 1} add up to "
                                       f"{buf[slot + _WEIGHT]}, not {n_batch}")
            elif buf[slot + _WEIGHT] == 0:  # all weights zero: skipped (no step), as fit does
                done += 1
                continue
            else:
                np.divide(grad, buf[slot + _WEIGHT], out=grad)
            cost = float(buf[slot + _COST])
            if not np.isfinite(cost):
                return total, correct, done, True
            if b == last:
                self.last_sq = np.square(grad, dtype=np.float64)
            if check:
                before = (params.copy(), self.state.copy())
            update.step = opt.steps + 1
            apply_update(plan, params, grad, update)
            opt.steps += 1
            if check and not _core.all_finite(params):
                params[...], self.state[...] = before
                opt.steps -= 1
                return total, correct, done, True
            total += cost
            correct += float(buf[slot + _CORRECT])
            done += 1
        return total, correct, done, False

    def run(self):
        """All epochs: returns (History, None) or (partial History,
        FloatingPointError to raise on every rank). Rank 0 reports on the
        progress bar (a no-op elsewhere)."""
        net, s, opt, end = self.net, self.s, self.opt, self.end
        params, state = net.params, self.state
        for epoch in range(s.epochs):
            self.epoch = epoch
            lr, failure = self.epoch_lr(s.schedule, epoch)
            if failure is not None:
                return end.history, failure
            order = self.rng.permutation(self.X.shape[0]).astype(np.intp) if s.shuffle else None
            backup = (params.copy(), state.copy(), opt.steps)
            self.allreduce_seconds = 0.0
            self.last_sq = None  # stays None if the epoch's last batch is skipped (no weight)
            start = time.perf_counter()
            # held during the epoch, released between epochs, as Network.fit
            # does: a save or copy from another thread waits at most an epoch
            # and is never torn
            with net.compute_lock:
                total, correct, done, nonfinite = self.steps(order, lr, len(self.counts))
                seconds = time.perf_counter() - start
                self.batch = None  # for the error message: validation, callbacks
                finite = _core.all_finite(params)
                if nonfinite or not finite:
                    kept = done
                    if not finite:
                        params[...], state[...], opt.steps = backup
                        kept = self.steps(order, lr, done, check=True)[2]
                    return end.history, trainer.diverged(
                        trainer.lost_in_epoch(epoch, done, kept), s.on_nonfinite, end.history)
            logs = {"loss": total / self.weight, "accuracy": correct / self.weight}
            self.validate(logs)
            logs.update(lr=lr, seconds=seconds, allreduce_seconds=self.allreduce_seconds,
                        grad_norm=self.grad_norms())
            if end(epoch, logs, lambda: f"  ({self.n_global / seconds:,.0f} samples/s on "
                                        f"{self.comm.Get_size()} ranks)"):
                break
        end.restore_best()
        self.check_identical()
        return end.history, None

    def grad_norms(self):
        """‖∇‖ of each layer's weights and biases on the epoch's last batch."""
        if self.last_sq is None:
            return [np.nan] * len(self.net.weights)
        return [float(np.sqrt(W.ravel().sum() + B.sum()))
                for W, B in zip(*self.net.unflatten(self.last_sq))]

    def epoch_lr(self, schedule, epoch):
        """(lr, None), the epoch's rate as rank 0's schedule gives it, the
        same on every rank; or (None, the error to raise on every rank)."""
        opt = self.opt
        if schedule is None:
            return opt.lr, None
        answer = None
        if self.comm.Get_rank() == 0:
            try:
                answer = (schedule.lr_at(epoch, opt.lr), None)
            except Exception as e:  # a schedule's bad rate: an error on every rank
                answer = (None, (type(e).__name__, str(e)))
        lr, error = self.comm.bcast(answer, root=0)
        if error is None:
            return lr, None
        failure = _PASSED_ON.get(error[0], RuntimeError)(f"lr_schedule on rank 0: {error[1]}")
        failure.history = self.end.history  # type: ignore[attr-defined]
        return None, failure

    def validate(self, logs):
        """val_loss, val_accuracy over all ranks' validation rows, if any."""
        sums = np.zeros(3)
        if self.s.validation is not None:
            X, Y, w = self.s.validation
            cost, correct = self.net.per_sample(X, Y)
            if w is None:
                sums[:] = cost.sum(), correct.sum(), cost.size
            else:
                sums[:] = np.dot(cost, w), np.dot(correct, w), w.sum()
        self.comm.Allreduce(self.in_place, sums, op=self.op)
        if sums[2]:
            logs["val_loss"] = float(sums[0] / sums[2])
            logs["val_accuracy"] = float(sums[1] / sums[2])

    def check_identical(self):
        """Every rank applied the same updates to the same numbers, so the
        parameters agree bit for bit, provided the MPI library's Allreduce
        returns the same sum on every rank (MPI recommends it; Open MPI and
        MPICH do). Checked once; if not, rank 0's parameters win."""
        crc = zlib.crc32(self.net.params.view(np.uint8))
        if len(set(self.comm.allgather(crc))) > 1:
            warnings.warn("fastbp.distributed.fit: the ranks' parameters differ in the last "
                          "bits (this MPI library's Allreduce does not give every rank the "
                          "same sum); using rank 0's", RuntimeWarning, stacklevel=4)
            with self.net.compute_lock:
                self.comm.Bcast(self.net.params, root=0)
                if self.state.size:
                    self.comm.Bcast(self.state, root=0)
