"""Run under mpiexec by tests/test_distributed.py: what the ranks do when
something goes wrong.

    mpiexec -n 2 python tests/mpi/faults.py MODE

raise     rank 1 raises in the middle of training: the job must end (MPI_Abort)
kill      rank 1 is killed (SIGKILL) in the middle of training: mpiexec ends the job
callback  a callback raises on rank 0 after the first epoch
refused   bad arguments (non-finite parameters and inputs too), disagreeing
          ranks, dropout, a diverging run: every rank raises the same kind
          of error and the script goes on, its parameters unchanged where
          the fit was refused; each rank prints two lines per check
snapshot  another thread copies the network while it trains: every copy is
          a state training passed through, and one made during a callback
          finishes while the fit waits (the lock is held per epoch)
"""
import os
import signal
import sys
import threading
import time

import numpy as np
from mpi4py import MPI

import fastbp
import fastbp.distributed as dist

fastbp.set_num_threads(1)
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
mode = sys.argv[1]

rng = np.random.default_rng(1)
X_all, y_all = rng.standard_normal((400, 6)), rng.integers(0, 4, 400)
X, y = dist.shard(X_all, y_all)


def net():
    return fastbp.Network([6, 9, 4], activation="tanh", cost="cross_entropy", seed=0)


def fail_at(call, action):
    """Make this rank's 20th gradient call do `action` (the gradient is the
    compiled core's: patched in the module that fastbp.distributed calls)."""
    real = fastbp._core.gradients
    calls = [0]

    def gradients(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            action()
        return real(*args, **kwargs)
    fastbp._core.gradients = gradients


def boom():
    raise RuntimeError("injected failure on rank 1")


if mode in ("raise", "kill"):
    if rank == 1:
        fail_at(20, boom if mode == "raise" else lambda: os.kill(os.getpid(), signal.SIGKILL))
    print(f"rank {rank}: training", flush=True)
    dist.fit(net(), X, y, epochs=1000, batch_size=8, lr=0.1)
    print(f"rank {rank}: finished, which it should not have", flush=True)

elif mode == "callback":
    def callback(epoch, logs):
        if rank == 0:
            raise ValueError("injected callback failure on rank 0")
    dist.fit(net(), X, y, epochs=1000, batch_size=8, lr=0.1, callbacks=[callback])
    print(f"rank {rank}: finished, which it should not have", flush=True)

elif mode == "snapshot":
    model = net()
    states = [model.params.copy()]    # the start, then the end of each epoch
    seen, copies, done = {}, [], threading.Event()

    def record(epoch, logs):
        states.append(model.params.copy())
        if epoch == 1:
            t = threading.Thread(target=lambda: seen.setdefault("copy", model.copy().params),
                                 daemon=True)
            t.start()
            t.join(timeout=5)  # the fit holds its lock meanwhile, if it does
            seen["in time"] = not t.is_alive() and np.array_equal(seen["copy"], states[-1])

    def take():
        while not done.is_set():
            copies.append(model.copy().params)
            time.sleep(0.001)

    taker = threading.Thread(target=take)
    taker.start()
    try:
        dist.fit(model, X, y, epochs=8, batch_size=8, lr=0.1, callbacks=[record])
    finally:
        done.set()
        taker.join()
    torn = sum(not any(np.array_equal(c, p) for p in states) for c in copies)
    print(f"rank {rank}: snapshot in time {seen.get('in time')}, {torn} of {len(copies)} "
          f"copies torn", flush=True)

elif mode == "refused":
    def check(name, expected, **kwargs):
        args = dict(epochs=2, batch_size=8, lr=0.1)
        args.update(kwargs)
        Xr = args.pop("X", X)
        model = args.pop("model", None) or net()
        before = model.params.copy()
        try:
            dist.fit(model, Xr, y, **args)
            print(f"{name} rank {rank}: no error", flush=True)
        except expected as e:
            print(f"{name} rank {rank}: {type(e).__name__}: {e}", flush=True)
        unchanged = np.array_equal(model.params, before, equal_nan=True)
        print(f"{name} rank {rank}: parameters unchanged {unchanged}", flush=True)
        comm.Barrier()

    def nan_on_rank(r):
        model = net()
        if rank == r:
            model.weights[0][0, 0] = np.nan
        return model

    check("bad_input", ValueError, X=X[:, :5] if rank == 1 else X)
    X_nan = X.copy()
    X_nan[3, 2] = np.inf
    check("nonfinite_input", ValueError, X=X_nan if rank == 1 else X)
    check("nan_params_rank_0", FloatingPointError, model=nan_on_rank(0))
    check("nan_params_rank_1", FloatingPointError, model=nan_on_rank(1))
    check("bad_setting", ValueError, l2=-1.0 if rank == 1 else 0.0)
    check("disagree", ValueError, lr=0.2 if rank == 1 else 0.1)
    check("dropout", NotImplementedError, dropout=0.5)
    check("lbfgs", NotImplementedError, optimizer="lbfgs")
    check("irprop+", NotImplementedError, optimizer="irprop+")
    check("early_without_validation", ValueError, early_stopping=2)
    Xv, yv = X[:10], y[:10]
    check("val_weights_mixed", ValueError,
          validation_data=(Xv, yv, np.ones(10)) if rank == 0 else (Xv, yv))
    check("val_weights_zero", ValueError, validation_data=(Xv, yv, np.zeros(10)))
    check("bad_schedule", ValueError, lr_schedule=lambda epoch: 0.0)
    try:
        dist.fit(net(), X, y, epochs=1, comm="world")
    except TypeError as e:
        print(f"bad_comm rank {rank}: {type(e).__name__}: {e}", flush=True)
    comm.Barrier()
    bn = fastbp.Network([6, 9, 4], cost="cross_entropy", batch_norm=True)
    try:
        dist.fit(bn, X, y, epochs=1)
    except NotImplementedError as e:
        print(f"batch_norm rank {rank}: {type(e).__name__}: {e}", flush=True)
    # a rate that makes the cost overflow: every rank sees it in the same step
    model = fastbp.Network([6, 9, 4], activation="relu", output_activation="identity", seed=0)
    try:
        dist.fit(model, X, y, epochs=50, batch_size=8, lr=50.0, shuffle=False)
        print(f"diverge rank {rank}: no error", flush=True)
    except FloatingPointError as e:
        same = len(set(comm.allgather(model.params.tobytes()))) == 1
        print(f"diverge rank {rank}: {type(e).__name__}: finite {np.isfinite(model.params).all()} "
              f"same {same} epochs {len(e.history)}: {e}", flush=True)
    print(f"rank {rank}: done", flush=True)
