"""Faults during training (issue 7): divergence, Ctrl-C, concurrent fit.

- A NaN/inf in a batch's cost or in the parameters: fit(on_nonfinite="raise")
  raises FloatingPointError naming the epoch and batch, "stop" warns and
  returns; either way the parameters are those after the last finite update,
  checked against fastbp.reference replaying the same batches.
- SIGINT during a long fit: KeyboardInterrupt within a second, and the
  parameters are exactly those after some whole number of batch updates.
- fit from a second thread while one runs raises RuntimeError and leaves the
  first fit's result intact.
"""
import os
import re
import signal
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp import reference

EPOCHS = 20


def diverging_problem(dtype):
    """Identity units and lr=1e3: the weights grow like w ← lr·w³, reaching
    inf after a handful of batches (2 per epoch, so not in the first epoch)."""
    rng = np.random.default_rng(0)
    net = fastbp.Network([3, 4, 2], activation="identity", cost="quadratic", dtype=dtype, seed=0)
    return net, rng.standard_normal((16, 3)), rng.standard_normal((16, 2)), 8, 1e3


def last_finite_state(net, X, Y, batch_size, lr):
    """fastbp.reference replaying fit(shuffle=False) batch by batch in the
    network's dtype: (params after the last finite update, epoch, batch of
    the first non-finite one, both counted from 1)."""
    ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    per_epoch = -(-len(X) // batch_size)
    for epoch in range(EPOCHS):
        for batch in range(per_epoch):
            rows = slice(batch * batch_size, (batch + 1) * batch_size)
            with np.errstate(all="ignore"):
                _, gw, gb = reference.backprop(net, X[rows], Y[rows], ws, bs)
                # fastbp sums the cost in float64, from outputs in the net's dtype
                A, Z = reference.feedforward(net, X[rows], ws, bs)
                cost = reference.cost_per_sample(net, A[-1].astype(np.float64),
                                                 Z.astype(np.float64), Y[rows]).mean()
                new_w = [w - net.dtype.type(lr) * g for w, g in zip(ws, gw)]
                new_b = [b - net.dtype.type(lr) * g for b, g in zip(bs, gb)]
            if not np.isfinite(cost) or not all(np.isfinite(a).all() for a in new_w + new_b):
                flat = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(ws, bs)])
                return flat, epoch + 1, batch + 1
            ws, bs = new_w, new_b
    raise AssertionError("the problem did not diverge")


# Relative errors compound through the steps (w³ triples them): far below
# the factor ~1e3 between successive states, far above rounding.
RTOL = {"float64": 1e-9, "float32": 1e-3}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["raise", "stop"])
def test_divergence_restores_the_last_finite_parameters(dtype, mode):
    net, X, Y, batch_size, lr = diverging_problem(dtype)
    expected, epoch, batch = last_finite_state(net, X, Y, batch_size, lr)
    fit = lambda: net.fit(X, Y, epochs=EPOCHS, batch_size=batch_size, lr=lr, shuffle=False,
                          on_nonfinite=mode)
    if mode == "raise":
        with pytest.raises(FloatingPointError) as info:
            fit()
        message = str(info.value)
    else:
        with pytest.warns(RuntimeWarning) as warned:
            history = fit()
        message = str(warned[-1].message)
        assert len(history) == epoch - 1  # the epochs that finished
    assert re.search(rf"\bepoch {epoch}\b", message), f"expected epoch {epoch} in: {message}"
    assert re.search(rf"\bbatch {batch}\b", message), f"expected batch {batch} in: {message}"
    assert np.isfinite(net.params).all()
    np.testing.assert_allclose(net.params, expected, rtol=RTOL[dtype])


def test_default_is_raise():
    net, X, Y, batch_size, lr = diverging_problem("float64")
    with pytest.raises(FloatingPointError):
        net.fit(X, Y, epochs=EPOCHS, batch_size=batch_size, lr=lr, shuffle=False)


@pytest.mark.parametrize("value, exc", [("explode", ValueError), ("Raise", ValueError),
                                        (None, TypeError), (1, TypeError)])
def test_bad_on_nonfinite_is_refused(value, exc):
    net, X, Y, batch_size, _ = diverging_problem("float64")
    before = net.params.copy()
    with pytest.raises(exc, match=r"\bon_nonfinite\b"):
        net.fit(X, Y, epochs=1, lr=0.1, on_nonfinite=value)
    assert np.array_equal(net.params, before)


# ------------------------------------------------------------------ Ctrl-C

def long_problem(sizes=(784, 128, 10)):
    """10 batches of 500 rows an epoch, each a few ms (tens on a loaded
    machine): 200 epochs run far longer than the 0.5 s before the signal."""
    rng = np.random.default_rng(0)
    X = rng.random((5000, 784))
    return fastbp.Network(list(sizes), seed=0), X, rng.integers(0, 10, 5000), 500


# 784-30-10 on more than one thread: every thread computes the output layer
# and its cost, and each must see the Ctrl-C at the same batch
# (_core.output_everywhere), or a thread would wait at a barrier forever
@pytest.mark.parametrize("sizes", [(784, 128, 10), (784, 30, 10)])
def test_ctrl_c_stops_fit_promptly_after_a_whole_batch(sizes):
    net, X, y, batch_size = long_problem(sizes)
    start_params = net.params.copy()
    sent = []
    armed = threading.Event()

    def on_sigint(signum, frame):  # only while fit runs: a late signal must not end pytest
        if armed.is_set():
            raise KeyboardInterrupt

    def send():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.5, send)
    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        armed.set()
        timer.start()
        with pytest.raises(KeyboardInterrupt) as info:
            net.fit(X, y, epochs=200, batch_size=batch_size, lr=0.1, shuffle=False)
        caught = time.perf_counter()
    finally:
        armed.clear()
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, old)
    assert sent and caught - sent[0] < 1.0, \
        f"KeyboardInterrupt came {caught - sent[0]:.2f} s after SIGINT"
    assert np.isfinite(net.params).all()
    assert net.forward(X[:3]).shape == (3, 10)

    # The state after the epochs the exception says were done and k more
    # batches, for some k: replay one batch per fit. Not bitwise: plain SGD
    # fuses its step into the gradient product except on an epoch's last
    # batch, and every replayed batch is one. So: the nearest replayed state
    # within rounding, while one update moves the params far more.
    epochs_done = len(info.value.history)
    replay = fastbp.Network(list(sizes), seed=0)
    assert np.array_equal(replay.params, start_params)
    if epochs_done:
        replay.fit(X, y, epochs=epochs_done, batch_size=batch_size, lr=0.1, shuffle=False)
    tol = 1e-10 * np.linalg.norm(net.params)
    nearest = (np.linalg.norm(replay.params - net.params), np.inf)
    for b in range(len(X) // batch_size):
        if nearest[0] <= tol:
            break
        previous = replay.params.copy()
        rows = slice(b * batch_size, (b + 1) * batch_size)
        replay.fit(X[rows], y[rows], epochs=1, batch_size=batch_size, lr=0.1, shuffle=False)
        nearest = min(nearest, (np.linalg.norm(replay.params - net.params),
                                np.linalg.norm(replay.params - previous)))
    assert nearest[0] <= tol, \
        f"params are {nearest[0]:.3g} from the nearest whole-batch state of epoch {epochs_done + 1}"


# ------------------------------------------------------------------ concurrent fit

def test_second_concurrent_fit_is_refused_and_the_first_is_intact():
    net, X, y, batch_size = long_problem()
    start = net.copy()
    seeds = (1, 2)
    errors, done = {}, {}
    barrier = threading.Barrier(2)

    def run(seed):
        barrier.wait()
        try:
            net.fit(X[:2000], y[:2000], epochs=3, batch_size=batch_size, lr=0.1, seed=seed)
            done[seed] = True
        except Exception as e:  # noqa: BLE001 -- the test inspects it
            errors[seed] = e

    threads = [threading.Thread(target=run, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(done) == 1 and len(errors) == 1, f"finished: {sorted(done)}, errors: {errors}"
    (refused,) = errors.values()
    assert isinstance(refused, RuntimeError)
    assert "fit" in str(refused) and "another thread" in str(refused)
    (winner,) = done
    start.fit(X[:2000], y[:2000], epochs=3, batch_size=batch_size, lr=0.1, seed=winner)
    assert np.array_equal(net.params, start.params), "the concurrent fit corrupted the network"


def test_one_epoch_fits_are_fits_of_one_epoch_and_hold_the_model():
    """trainer.OneEpochFits (the scikit-learn estimators' epoch loop): its
    epochs are fit's one-epoch calls bit for bit, and the model is taken for
    the whole loop (a fit from inside it is refused)."""
    from fastbp import optim, trainer
    from fastbp._settings import one_epoch
    results = []
    for loop in (True, False):
        net = fastbp.Network([6, 9, 3], activation="relu", output_activation="softmax",
                             cost="cross_entropy", seed=2)
        X = np.random.default_rng(0).standard_normal((50, 6))
        Y = np.eye(3)[np.random.default_rng(1).integers(0, 3, 50)]
        opt = optim.Adam(lr=0.01)
        orders = [np.random.default_rng(e).permutation(50).astype(np.intp) for e in range(4)]
        losses = []
        if loop:
            with trainer.OneEpochFits(net, one_epoch(net, X, Y, opt, 16, 1e-3)) as fits:
                for order in orders:
                    losses.append(fits.epoch(order)["loss"][-1])
                with pytest.raises(RuntimeError, match="another thread"):
                    net.fit(X, Y, epochs=1)
            assert net.fit_lock.acquire(blocking=False)  # released after the loop
            net.fit_lock.release()
        else:
            for order in orders:
                history = trainer.fit(net, one_epoch(net, X, Y, opt, 16, 1e-3, order=order))
                losses.append(history["loss"][-1])
        results.append((net.params.copy(), losses, opt.steps))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1:] == results[1][1:]


def test_ctrl_c_counts_the_updates_it_kept_as_optimizer_steps():
    """An Adam fit interrupted mid-epoch: its step count is the number of
    updates applied, and the parameters are those updates replayed."""
    net, X, y, batch_size = long_problem()
    start = net.params.copy()
    armed = threading.Event()

    def on_sigint(signum, frame):
        if armed.is_set():
            raise KeyboardInterrupt

    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    old = signal.signal(signal.SIGINT, on_sigint)
    opt = fastbp.optim.Adam(lr=1e-3)
    try:
        armed.set()
        timer.start()
        with pytest.raises(KeyboardInterrupt) as info:
            net.fit(X, y, epochs=200, batch_size=batch_size, optimizer=opt, shuffle=False)
    finally:
        armed.clear()
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, old)
    batches_per_epoch = len(X) // batch_size
    steps = opt.steps
    assert steps >= len(info.value.history) * batches_per_epoch
    replay = fastbp.Network([784, 128, 10], seed=0)
    assert np.array_equal(replay.params, start)
    again = fastbp.optim.Adam(lr=1e-3)
    epochs, rest = divmod(steps, batches_per_epoch)
    if epochs:
        replay.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=again, shuffle=False)
    if rest:
        replay.fit(X[:rest * batch_size], y[:rest * batch_size], epochs=1,
                   batch_size=batch_size, optimizer=again, shuffle=False)
    assert again.steps == steps
    assert np.array_equal(replay.params, net.params)
