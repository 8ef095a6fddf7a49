"""trainer: how a Model is trained, for every front end.

Owns the epoch loop (one compiled call per epoch), L-BFGS's loop, the end of
an epoch (History, progress bar, verbose line, schedule, early stopping,
callbacks), the recovery from a NaN or inf, and the lock that refuses a
second concurrent fit. `Network.fit`, `fastbp.distributed.fit` and the
scikit-learn estimators all train through it, with a FitSettings made once
by `fastbp._settings.check_fit`. Optimizers (fastbp.optim) only describe an
update; the compiled core (fastbp._core) does it.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from typing import Optional, Union

import numpy as np

from . import _core, _progress, optim
from ._settings import FitSettings
from ._threads import get_num_threads
from ._validation import FoundNotFinite, check_positive_float, is_classification, not_finite

# Rows per compiled gradient call of L-BFGS's objective: bounds the work
# buffers, not the result.
LBFGS_BLOCK = 4096


class History:
    """Per-epoch training record; `history` is a dict of lists, as in Keras."""

    def __init__(self):
        self.epoch = []
        self.history = {}

    def _append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __len__(self):
        return len(self.epoch)

    def plot(self, path: Optional[Union[str, os.PathLike]] = None, ax=None):
        """Loss and accuracy per epoch (training and validation) with
        matplotlib: into `path` (a PNG, say) if given, else onto `ax` or a new
        figure, which is returned.

        Parameters
        ----------
        path : str or os.PathLike, optional
            The file to save the figure into.
        ax : pair of matplotlib Axes, optional
            Where to draw loss and accuracy.
        """
        try:
            import matplotlib
            if path is not None and ax is None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'fastbp[plot]'") from None
        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        else:
            fig, axes = ax[0].figure, ax
        epochs = [e + 1 for e in self.epoch]
        for a, metric in zip(axes, ("loss", "accuracy")):
            for key, label in ((metric, "training"), ("val_" + metric, "validation")):
                if key in self.history:
                    a.plot(epochs, self.history[key], label=label)
            a.set_xlabel("epoch")
            a.set_ylabel(metric)
            a.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig

    def __repr__(self):
        last = {k: ([round(x, 6) for x in v[-1]] if isinstance(v[-1], list) else round(v[-1], 6))
                for k, v in self.history.items()} if self.epoch else {}
        return f"History(epochs={len(self.epoch)}, last={last})"


# ------------------------------------------------------------ shared by every loop

@contextlib.contextmanager
def exclusive(model):
    """The model for one fit at a time: a second concurrent fit raises."""
    if not model.fit_lock.acquire(blocking=False):
        raise RuntimeError("fit is already running on this network in another thread")
    model.fit_owner = threading.get_ident()  # (for fastbp._threads' fork handler)
    try:
        yield
    finally:
        model.fit_lock.release()


def diverged(message, on_nonfinite, history):
    """fit's answer to a NaN or inf, the parameters already restored: None
    after a warning ("stop"), else the FloatingPointError to raise, carrying
    the history. (Returned, not raised: distributed fit raises it on every
    rank at once.)"""
    if on_nonfinite == "stop":
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return None
    err = FloatingPointError(message)
    err.history = history  # type: ignore[attr-defined]
    return err


def refuse_non_finite(model):
    """FloatingPointError if the model starts training from NaN or inf
    parameters (written by hand, or left by a caller): there is no finite
    state to go back to."""
    if not (_core.all_finite(model.params) and _core.all_finite(model.running.reshape(-1))):
        raise FloatingPointError("fit: the parameters are not finite (NaN or inf) before "
                                 "training; set finite ones (or make a new network) first")


def lost_in_epoch(epoch, batch, kept):
    """The message of a NaN or inf in batch `batch` (0-based) of `epoch`."""
    return (f"fit: the cost or the parameters became NaN or inf in epoch {epoch + 1}, "
            f"batch {batch + 1}; the parameters were restored to their last finite values "
            f"(after {kept} batches of that epoch)")


def validation_logs(model, validation):
    """val_loss and val_accuracy of (X_val, Y_val, w_val), as a dict."""
    cost, correct = model.per_sample(*validation[:2])
    return {"val_loss": float(np.average(cost, weights=validation[2])),
            "val_accuracy": float(np.average(correct, weights=validation[2]))}


class EpochEnd:
    """What happens after every epoch, in this order: the History, the
    progress bar, the verbose line, the schedule, early stopping (the best
    parameters kept), the callbacks. `vote` turns this process's wish to
    stop into the decision (distributed fit: any rank's)."""

    def __init__(self, s: FitSettings, model, bar, label="epoch", vote=bool):
        self.s, self.model, self.bar, self.label, self.vote = s, model, bar, label, vote
        self.params = model.params
        self.history = History()
        self.best = (np.inf, None, -1)  # (val_loss, params, epoch): none yet
        # else no accuracy: real-valued targets
        self.classes = is_classification(s.Y) if s.classes is None else s.classes

    def __call__(self, epoch, logs, speed=None):
        """Record epoch `epoch`'s logs, then the rest; True: stop training.
        speed(): the verbose line's tail."""
        self.record(epoch, logs)
        return self.after(epoch, logs, speed)

    def record(self, epoch, logs):
        """The History entry of epoch `epoch` (its first step)."""
        if not self.classes:
            logs.pop("accuracy", None)
            logs.pop("val_accuracy", None)
        self.history._append(epoch, logs)

    def after(self, epoch, logs, speed=None):
        """Everything after the History entry; True: stop training."""
        s = self.s
        self.bar.update()
        self.bar.set_postfix(loss=f"{logs['loss']:.4f}",
                             **({"acc": f"{logs['accuracy']:.3f}"} if self.classes else {}))
        if s.verbose:
            head = (f"epoch {epoch + 1}/{s.epochs}: " if self.label == "epoch"
                    else f"{self.label} {epoch + 1}: ")
            self.bar.write(head + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()
                                            if k != "grad_norm")
                           + (speed() if speed is not None else ""))
        if s.schedule is not None:
            s.schedule.observe(logs)
        if s.early_stopping is not None:
            if logs["val_loss"] < self.best[0]:
                self.best = (logs["val_loss"], self.params.copy(), epoch)
            elif epoch - self.best[2] >= s.early_stopping:
                return True  # the best parameters are restored by restore_best
        return self.vote(any(f(epoch, logs) is False for f in s.callbacks))

    def restore_best(self):
        """Early stopping's best parameters, as Keras' restore_best_weights."""
        if self.s.early_stopping is not None and self.best[1] is not None:
            with self.model.compute_lock:  # a snapshot from another thread is never torn
                self.params[...] = self.best[1]


class HeldInterrupt:
    """`with HeldInterrupt() as held:` Ctrl-C held back in the block and
    raised as KeyboardInterrupt when it ends, so that the block (an epoch and
    its History entry) is done whole: the compiled loop still stops at the
    next batch (it watches Ctrl-C itself); an epoch it finished is recorded
    before the KeyboardInterrupt. `held.watch`: Ctrl-C is watched at all,
    only in the main thread while Python's SIGINT handler is its default (an
    ignored SIGINT or the program's own handler is left alone);
    `held.pending`: a Ctrl-C came."""

    def __enter__(self):
        self.pending = False
        self.watch = interrupt_watchable()
        if self.watch:
            signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.pending = True

    def __exit__(self, kind, value, traceback):
        if self.watch:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            # (a KeyboardInterrupt on its way already stands for this Ctrl-C)
            if self.pending and not (kind is not None and issubclass(kind, KeyboardInterrupt)):
                raise KeyboardInterrupt
        return False


def update_rule(model, opt):
    """(kind code for the core, state buffers) of an optimizer: plain SGD
    (no momentum, no decay) is _core.PLAIN_SGD with no state, which lets the
    core fuse its step into the gradient product."""
    if isinstance(opt, optim.SGD) and opt.momentum == 0 and opt.weight_decay == 0:
        return _core.PLAIN_SGD, np.empty((0, 0), dtype=model.dtype)
    return opt.code, opt._bind(model.params)


def train_settings(model, opt, state, *, lr, step, n_samples, l2=0.0, l1=0.0, max_norm=0.0,
                   **epoch) -> _core.TrainSettings:
    """The compiled core's settings of an update (the one place that makes
    them): `opt`'s rule (its kind and hyper-parameters by name, for a batch of
    n_samples) with its `state` buffers, at rate lr from optimizer step
    `step`, fit's L2/L1 terms and max-norm, and what train_epoch takes
    besides (`epoch`: batch_size, dropout, seeds, row_sq, ...)."""
    # an optimizer's lr may have been set after its construction: checked at use
    check_positive_float(opt.lr, f"{type(opt).__name__}.lr")
    kind = update_rule(model, opt)[0]
    return _core.TrainSettings(kind=kind, hyper=opt._hyper_for(n_samples), state=state, lr=lr,
                               step=step, l2=l2, l1=l1, max_norm=max_norm, **epoch)


def interrupt_watchable():
    """May the compiled loop stop at a Ctrl-C (TrainSettings.watch_interrupt)?
    Only in the main thread, and only when SIGINT would raise
    KeyboardInterrupt: an ignored SIGINT or the program's own handler is
    left alone."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)


# ------------------------------------------------------------ entry points

def fit(model, s: FitSettings) -> History:
    """Train `model` with the settings `s` (Network.fit without comm)."""
    bar = _progress._NoBar()
    end = None
    try:
        with exclusive(model):
            bar = _progress.bar(s.epochs, s.progress)
            if isinstance(s.optimizer, optim.LBFGS):
                end = EpochEnd(s, model, bar, label="iteration")
                return fit_lbfgs(model, s, end)
            end = EpochEnd(s, model, bar)
            # what the Trainer sets up (the optimizer's state, the model's
            # record of it), put back if its first epoch finds X not finite
            state, steps = s.optimizer.state, s.optimizer.steps
            optimizer, penalty = model.optimizer, model.penalty
            try:
                with model.compute_lock:
                    trainer = Trainer(model, s, end)
                return trainer.run()
            except FoundNotFinite:
                s.optimizer.state, s.optimizer.steps = state, steps
                model.trained_with(optimizer, *penalty)
                raise
    except KeyboardInterrupt as e:
        # in the compiled loop or between epochs: the epochs done so far
        e.history = History() if end is None else end.history  # type: ignore[attr-defined]
        raise
    finally:
        bar.close()


class OneEpochFits:
    """fit(model, s) one epoch at a time with its set-up made once, for a
    front end's own epoch loop (the scikit-learn estimators: about 40 µs an
    epoch less, of some 125 µs of Python an epoch on the digits example, whose
    compiled epoch takes some 700). `with OneEpochFits(model,
    s) as fits:` takes the model for the loop (a concurrent fit raises);
    each fits.epoch(order) trains one epoch as `s` says (s.epochs == 1) with
    the rows in `order` (intp; None: as they are) and returns the History of
    the epochs so far."""

    def __init__(self, model, s: FitSettings):
        if s.epochs != 1:
            raise ValueError(f"OneEpochFits trains one epoch a call; got epochs={s.epochs}")
        self.model, self.s = model, s
        self._taken = contextlib.ExitStack()

    def __enter__(self):
        with contextlib.ExitStack() as taking:
            taking.enter_context(exclusive(self.model))
            with self.model.compute_lock:
                self.trainer = Trainer(self.model, self.s,
                                       EpochEnd(self.s, self.model, _progress._NoBar()))
            self._taken = taking.pop_all()
        return self

    def __exit__(self, *exc):
        return self._taken.__exit__(*exc)

    def epoch(self, order) -> History:
        self.trainer.order = order
        return self.trainer.run()


def apply_update(model, flat, opt, l2, l1, max_norm, n_samples, on_nonfinite="raise"):
    """One update of the model's parameters from the gradient `flat` (params
    layout, overwritten), with a batch's arithmetic (Network.apply_gradients).
    An update that makes them NaN or inf is undone, then as fit's
    on_nonfinite: FloatingPointError ("raise") or a warning ("stop")."""
    with model.compute_lock:
        state = update_rule(model, opt)[1]
        backup = model.params.copy(), state.copy()
        settings = train_settings(model, opt, state, lr=opt.lr,
                                  step=opt.steps + 1, n_samples=n_samples, l2=l2, l1=l1,
                                  max_norm=max_norm or 0.0)
        _core.apply_update(model.plan(1), model.params, flat, settings)
        if not _core.all_finite(model.params):
            model.params[...], state[...] = backup
            failure = diverged("apply_gradients: the update made the parameters not finite "
                               "(NaN or inf); they were restored to their previous values",
                               on_nonfinite, History())
            if failure is not None:
                raise failure
            return
        opt.steps += 1
        model.trained_with(opt, *model.penalty)


# ------------------------------------------------------------ mini-batch epochs

class Trainer:
    """The epoch loop of one fit with a first-order optimizer: each epoch is
    one compiled call (_core.train_epoch), then the end of the epoch."""

    def __init__(self, model, s: FitSettings, end: EpochEnd):
        self.model, self.s, self.end = model, s, end
        self.order = s.order  # the rows' order (None: drawn, or as they are)
        self.opt = opt = s.optimizer
        self.n = n = s.X.shape[0]
        self.batch_size = s.rows_per_batch
        self.state = update_rule(model, opt)[1]
        self.weight = n if s.sample_weight is None else float(s.sample_weight.sum())
        self.rng, self.dropout_seed, self.noise_seed = None, 0, 0
        if (s.shuffle and s.order is None) or s.dropout.any() or s.noise:
            # (only then: a front end's one_epoch draws nothing, and a fresh
            # generator's entropy and spawned streams cost some 40 µs a call)
            self.rng = rng = np.random.default_rng(s.seed)
            # their own streams, so that the batches do not depend on dropout
            seq = rng.bit_generator.seed_seq
            assert isinstance(seq, np.random.SeedSequence)  # default_rng's always is
            self.dropout_seed = int(seq.spawn(1)[0].generate_state(1, np.uint64)[0])
            self.noise_seed = int(seq.spawn(1)[0].generate_state(1, np.uint64)[0])
        self.x_checked = s.x_checked  # (else by the first epoch, as it reads X)
        self.unit_off = np.concatenate([[0], np.cumsum(model.sizes[1:])]).astype(np.intp)
        self.row_sq = np.zeros(self.unit_off[-1])
        self.grads = _core.aligned_zeros(model.params.size, model.dtype)
        self.plan = model.plan(self.batch_size)
        model.trained_with(opt, s.l2, s.l1)

    def run(self) -> History:
        """All epochs; the History (raises FloatingPointError on a NaN or inf
        unless on_nonfinite='stop')."""
        for epoch in range(self.s.epochs):
            # Ctrl-C: the History holds every epoch whose updates the
            # parameters hold (held from the epoch's start to its entry)
            with HeldInterrupt() as held:
                # held during the epoch, released between epochs: a save or copy
                # from another thread waits at most an epoch and is never torn
                with self.model.compute_lock:
                    logs = self.epoch(epoch, held)
                if logs is not None:
                    self.end.record(epoch, logs)
            if logs is None:
                return self.end.history
            if self.end.after(epoch, logs,
                              lambda: f"  ({self.n / logs['seconds']:,.0f} samples/s)"):
                break
        self.end.restore_best()
        return self.end.history

    def settings(self, epoch, lr, memory, step, watch=False, replay=False):
        """train_epoch's settings for this epoch, from optimizer step `step`;
        watch: stop at a Ctrl-C; a replay (restore_finite) writes no row_sq."""
        s, model = self.s, self.model
        return train_settings(
            model, self.opt, self.state, lr=lr, step=step, n_samples=self.weight, l2=s.l2,
            l1=s.l1, max_norm=s.max_norm, batch_size=self.batch_size,
            dropout=s.dropout if s.dropout.any() else None, seed=self.dropout_seed,
            epoch=epoch, row_sq=None if replay else self.row_sq, running=model.running,
            sample_weight=s.sample_weight, loss_memory=memory, clip=s.clip, noise=s.noise,
            noise_seed=self.noise_seed, watch_interrupt=watch,
            check_inputs=not (self.x_checked or replay),
            penalty_per_weight=s.penalty_per_weight, weight_sq=None if replay else s.weight_sq,
            # iRprop+ compares objectives: the data cost plus this
            penalty=model.loss(s.X[:1], s.Y[:1], regularized=True)
            - model.loss(s.X[:1], s.Y[:1]) if memory is not None else 0.0)

    def epoch(self, epoch, held):
        """One epoch; its logs, or None after a NaN or inf with
        on_nonfinite='stop'. held: the epoch's HeldInterrupt; a Ctrl-C
        that stopped the compiled loop raises KeyboardInterrupt."""
        s, model, opt = self.s, self.model, self.opt
        refuse_non_finite(model)  # (a callback may have written NaN)
        lr = opt.lr if s.schedule is None else s.schedule.lr_at(epoch, opt.lr)
        if self.order is not None:
            order = self.order
        else:
            order = (self.rng.permutation(self.n) if s.shuffle else np.arange(self.n)).astype(np.intp)
        memory = getattr(opt, "_loss_memory", None)  # iRprop+'s last objective
        backup = (model.params.copy(), self.state.copy(), opt.steps, model.running.copy(),
                  None if memory is None else memory.copy())
        settings = self.settings(epoch, lr, memory, opt.steps + 1, watch=held.watch)
        self.row_sq[...] = np.nan  # stays NaN if the epoch's last batch is skipped (no weight)
        if held.pending:  # Ctrl-C before the loop could see it: the epoch does not start
            raise KeyboardInterrupt
        start = time.perf_counter()
        try:
            total, n_correct, done, updates, stop = _core.train_epoch(
                self.plan, model.params, self.grads, s.X, s.Y, order, settings)
        except KeyboardInterrupt as e:  # Ctrl-C: the updates done count as steps
            opt.steps += getattr(e, "updates", 0)
            if getattr(e, "bad_input", False):  # but none made after a NaN or inf in X
                self._put(self._buffers(memory), backup)
            raise
        seconds = time.perf_counter() - start
        opt.steps += updates
        if not self.x_checked:
            # the rows after a stop were not read: the rest of X is checked
            # before a NaN or inf in the parameters is blamed on the rates
            if stop == _core.BAD_INPUT or (stop == _core.NONFINITE and not _core.all_finite(
                    s.X.reshape(-1), get_num_threads())):
                self._put(self._buffers(memory), backup)
                raise not_finite("X", model.dtype, FoundNotFinite)
            self.x_checked = stop != _core.INTERRUPTED  # (which ends the fit)
        if stop == _core.NONFINITE or not _core.all_finite(model.params):
            kept = self.restore_finite(backup, order, lr, done, epoch, memory)
            failure = diverged(lost_in_epoch(epoch, kept, kept), s.on_nonfinite,
                               self.end.history)
            if failure is not None:
                raise failure
            return None
        if stop == _core.INTERRUPTED:  # in the middle of the epoch: it is not recorded
            raise KeyboardInterrupt
        logs = {"loss": total / self.weight, "accuracy": n_correct / self.weight}
        if s.validation is not None:
            logs.update(validation_logs(model, s.validation))
        logs["lr"] = lr
        logs["seconds"] = seconds
        logs["grad_norm"] = [float(np.sqrt(self.row_sq[a:b].sum()))
                             for a, b in zip(self.unit_off[:-1], self.unit_off[1:])]
        return logs

    def restore_finite(self, backup, order, lr, done, epoch, memory):
        """Make params the last finite ones of this epoch: after its first
        `done` batches if those are finite, else replay the epoch's batches
        one at a time from its start (the replay computes the same bits),
        keeping a copy of the last finite state: time linear in the batches.
        Whatever happens (Ctrl-C too), params end finite. Returns the
        batches kept."""
        model, opt, params = self.model, self.opt, self.model.params
        if _core.all_finite(params):
            return done
        last = list(backup)  # params, state, steps, running, memory: finite
        buffers = self._buffers(memory)
        kept = 0
        try:
            self._put(buffers, last)
            while kept < done:
                rows = order[kept * self.batch_size:(kept + 1) * self.batch_size]
                opt.steps += _core.train_epoch(
                    self.plan, params, self.grads, self.s.X, self.s.Y, rows,
                    self.settings(epoch, lr, memory, opt.steps + 1, replay=True))[3]
                if not _core.all_finite(params):
                    break
                kept += 1
                last = [None if b is None else b.copy() for b in buffers]
                last[2] = opt.steps
        finally:
            self._put(buffers, last)
        return kept

    def _buffers(self, memory):
        """Where the epoch's backup (params, state, steps, running, memory) goes
        back to (steps: the optimizer's count, which _put sets)."""
        return self.model.params, self.state, None, self.model.running, memory

    def _put(self, buffers, values):
        """Copy a saved (params, state, steps, running, memory) into place."""
        for buffer, value in zip(buffers, values):
            if buffer is not None and value is not None:
                buffer[...] = value
        self.opt.steps = values[2]


# ------------------------------------------------------------ L-BFGS

def objective(model, X, Y, sample_weight, l2):
    """f(p) -> (loss, gradient) in float64 for SciPy: the (weighted) mean
    cost over all rows of (X, Y), in blocks, plus λ2/2·Σ‖W‖². The model's
    parameters are left alone: they hold accepted iterates only, never a
    line search's trial point, for a save or copy from another thread."""
    n = X.shape[0]
    w_all = np.ones(n) if sample_weight is None else sample_weight
    total_weight = w_all.sum()
    blocks = [slice(a, min(a + LBFGS_BLOCK, n)) for a in range(0, n, LBFGS_BLOCK)]
    weight_mask = np.zeros(model.params.size, dtype=bool)
    for W in model.unflatten(np.arange(model.params.size))[0]:
        weight_mask[W.ravel()] = True

    at = np.empty_like(model.params)  # p in the model's dtype

    def f(p):
        at[...] = p
        grad = np.zeros(model.params.size)
        loss = 0.0
        for rows in blocks:
            block_weight = w_all[rows].sum()
            if block_weight == 0:
                continue
            sw = None if sample_weight is None else sample_weight[rows]
            mean, g = model.flat_gradients(X[rows], Y[rows], sw, params=at)
            share = block_weight / total_weight
            loss += share * mean
            grad += share * g
        if l2:
            loss += l2 / 2 * float(np.sum(p[weight_mask] ** 2))
            grad[weight_mask] += l2 * p[weight_mask]
        return loss, grad

    return f


def _lbfgs_refuses(model, s):
    """What L-BFGS cannot train with: raise before anything changes."""
    names = {"schedule": "lr_schedule", "clip": "clip_per_sample"}
    for key, off in (("l1", 0.0), ("max_norm", 0.0), ("schedule", None), ("clip", 0.0)):
        if getattr(s, key) != off:
            raise ValueError(f"{names.get(key, key)} is not supported by the LBFGS optimizer")
    if s.dropout.any():
        raise ValueError("dropout is not supported by the LBFGS optimizer")
    if model.batch_norm:
        raise NotImplementedError("LBFGS does not train batch-norm networks yet")


def fit_lbfgs(model, s: FitSettings, end: EpochEnd) -> History:
    """L-BFGS (SciPy's L-BFGS-B): one History entry per iteration, `epochs`
    iterations at most."""
    from scipy.optimize import minimize

    _lbfgs_refuses(model, s)
    refuse_non_finite(model)
    opt, history, params = s.optimizer, end.history, model.params
    assert isinstance(opt, optim.LBFGS)  # (check_fit sends only LBFGS here)
    opt._bind(params)
    model.trained_with(opt, s.l2, s.l1)
    f = objective(model, s.X, s.Y, s.sample_weight, s.l2)
    start = [time.perf_counter()]
    last_finite = params.astype(np.float64)

    def put(values):
        # the lock: a save or copy from another thread waits at most for the
        # iteration's evaluation and sees an accepted iterate, never a torn one
        with model.compute_lock:
            params[...] = values

    def on_iteration(intermediate_result):
        p = intermediate_result.x
        iteration = len(history)
        # Ctrl-C held until the iterate is in params, last_finite and the History alike
        with HeldInterrupt():
            with model.compute_lock:
                put(p)
                cost, correct = model.per_sample(s.X, s.Y)
                logs = {"loss": float(np.average(cost, weights=s.sample_weight)),
                        "accuracy": float(np.average(correct, weights=s.sample_weight))}
                if not np.isfinite(logs["loss"]):
                    put(last_finite)
                    raise StopIteration
            last_finite[...] = p
            if s.validation is not None:
                logs.update(validation_logs(model, s.validation))
            logs["seconds"] = time.perf_counter() - start[0]
            start[0] = time.perf_counter()
            end.record(iteration, logs)
        if end.after(iteration, logs):
            raise StopIteration

    try:
        with warnings.catch_warnings():
            # the line search probes steps where exp overflows; those are rejected
            warnings.simplefilter("ignore", RuntimeWarning)
            opt.result = minimize(f, params.astype(np.float64), jac=True, method="L-BFGS-B",
                                  callback=on_iteration,
                                  options={"maxiter": s.epochs, "maxfun": opt.max_fun,
                                           "gtol": opt.tol, "ftol": opt.ftol,
                                           "maxcor": opt.history_size})
    except BaseException:
        # Ctrl-C or an error mid line search: the last accepted iterate, not
        # the trial point being evaluated; each accepted one was logged
        put(last_finite)
        opt.steps += len(history)
        raise
    opt.steps += int(opt.result.nit)
    x = opt.result.x
    if not np.isfinite(x).all() or not np.isfinite(f(x)[0]):
        put(last_finite)
        failure = diverged(f"fit: the cost became NaN or inf in L-BFGS iteration "
                           f"{len(history) + 1}; the parameters were restored to the last "
                           f"finite iterate", s.on_nonfinite, history)
        if failure is not None:
            raise failure
        return history
    put(x)
    end.restore_best()
    return history
