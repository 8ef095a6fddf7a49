"""Run under mpiexec by tests/test_distributed.py: distributed fit on n ranks
against Network.fit in one process on the whole data set.

    mpiexec -n N python tests/mpi/equivalence.py

Rank r holds rows r::N (fastbp.distributed.shard). Rank 0 trains the same
network with Network.fit on all rows and prints one JSON line per case:
the relative difference of the parameters and of the per-epoch loss, and
whether every rank ended with the same parameters bit for bit.
"""
import json
import sys
import warnings
import zlib

import numpy as np
from mpi4py import MPI

import fastbp
import fastbp.distributed as dist
from fastbp.optim import Adam

# a difference between ranks must fail the test, not be mended quietly
warnings.simplefilter("error", RuntimeWarning)
fastbp.set_num_threads(1)
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def data(n, n_in, n_out, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    y = rng.integers(0, n_out, n)
    return X, y


def case(name, sizes, n, fit_kwargs, net_kwargs=None, val=False, compare=True,
         weighted=False, verbose=False, through_network=False):
    net_kwargs = {"activation": "tanh", "cost": "cross_entropy", **(net_kwargs or {})}
    X, y = data(n, sizes[0], sizes[-1])
    Xv, yv = data(37, sizes[0], sizes[-1], seed=2)
    if weighted:
        rng = np.random.default_rng(3)
        w, wv = rng.uniform(0, 2, n), rng.uniform(0, 2, 37)
        w[9:18] = 0  # the second batch of 9 has no weight: skipped, without an optimizer step
        fit_kwargs = dict(fit_kwargs, sample_weight=w)
    # the ranks start from different parameters: fit broadcasts rank 0's
    net = fastbp.Network(sizes, seed=rank, **net_kwargs)
    kwargs = dict(fit_kwargs)
    if weighted:
        kwargs["sample_weight"] = dist.shard(w)
    if val:
        kwargs["validation_data"] = dist.shard(Xv, yv, *([wv] if weighted else []))
    if through_network:  # Network.fit(..., comm=) hands over to fastbp.distributed.fit
        history = net.fit(*dist.shard(X, y), verbose=verbose, comm=comm, **kwargs)
    else:
        history = dist.fit(net, *dist.shard(X, y), verbose=verbose, **kwargs)
    crcs = comm.gather(zlib.crc32(net.params.view(np.uint8)), root=0)
    losses = comm.gather(history["loss"], root=0)
    if rank != 0:
        return
    out = {"case": name, "ranks": size, "epochs": len(history),
           "identical": len(set(crcs)) == 1 and all(l == losses[0] for l in losses)}
    if compare:
        ref = fastbp.Network(sizes, seed=0, **net_kwargs)
        kwargs = dict(fit_kwargs)
        if isinstance(kwargs.get("optimizer"), Adam):
            kwargs["optimizer"] = Adam(lr=kwargs["optimizer"].lr)
        if val:
            kwargs["validation_data"] = (Xv, yv, wv) if weighted else (Xv, yv)
        ref_history = ref.fit(X, y, **kwargs)
        out["params"] = rel(net.params, ref.params)
        out["bitwise"] = bool(np.array_equal(net.params, ref.params))
        out["loss"] = rel(history["loss"], ref_history["loss"])
        out["accuracy"] = rel(history["accuracy"], ref_history["accuracy"])
        out["grad_norm"] = rel(history["grad_norm"], ref_history["grad_norm"])
        if val:
            out["val_loss"] = rel(history["val_loss"], ref_history["val_loss"])
        out["ref_epochs"] = len(ref_history)
    out["loss_first_last"] = [history["loss"][0], history["loss"][-1]]
    print(json.dumps(out), flush=True)


which = sys.argv[1:] or ["sgd", "odd_batch", "adam", "rprop", "quickprop", "float32",
                         "weighted", "shuffle", "early", "callback", "network_fit", "resume"]
if "sgd" in which:
    # verbose: rank 0 prints one line per epoch (the test counts them)
    case("sgd", [6, 9, 4], 120, dict(epochs=4, batch_size=10, lr=0.3, shuffle=False),
         verbose=True)
if "odd_batch" in which:
    # 101 rows: unequal shards; batch 7: not divisible by 2 or 3
    case("odd_batch", [6, 9, 4], 101, dict(epochs=4, batch_size=7, lr=0.3, shuffle=False))
if "adam" in which:
    case("adam", [6, 9, 5, 4], 90, dict(epochs=5, batch_size=16, shuffle=False,
                                        optimizer=Adam(lr=0.01), l2=1e-3, l1=1e-4,
                                        max_norm=1.5, lr_schedule="cosine"), val=True)
if "rprop" in which:
    case("rprop", [6, 9, 4], 64, dict(epochs=6, optimizer="rprop", lr=0.01, shuffle=False))
if "quickprop" in which:
    # full batch, with a decay scaled by the number of rows (over all ranks)
    case("quickprop", [6, 9, 4], 64, dict(epochs=6, optimizer="quickprop", lr=0.3,
                                          shuffle=False))
if "float32" in which:
    case("float32", [6, 9, 4], 120, dict(epochs=3, batch_size=12, lr=0.3, shuffle=False),
         net_kwargs={"dtype": "float32"})
if "weighted" in which:
    case("weighted", [6, 9, 4], 90, dict(epochs=4, batch_size=9, lr=0.01, shuffle=False,
                                         optimizer="adam", l2=1e-3), val=True, weighted=True)
if "shuffle" in which:
    # one rank draws fit's batches; more ranks draw other batches
    case("shuffle", [6, 9, 4], 100, dict(epochs=3, batch_size=10, optimizer="adam", lr=0.01,
                                         seed=5), compare=size == 1)
if "early" in which:
    # early stopping on the global val_loss (a rate high enough to overshoot)
    case("early", [6, 9, 4], 80, dict(epochs=30, batch_size=8, lr=1.0, shuffle=False,
                                      early_stopping=2), val=True)
if "callback" in which:
    # a callback on one rank that returns False stops every rank
    stop_at = 2 if rank == size - 1 else None
    case("callback", [6, 9, 4], 80,
         dict(epochs=20, batch_size=8, lr=0.2, shuffle=False,
              callbacks=[lambda epoch, logs: epoch != stop_at]), compare=False)
if "network_fit" in which:
    case("network_fit", [6, 9, 4], 100, dict(epochs=3, batch_size=10, lr=0.3, shuffle=False),
         through_network=True)
if "resume" in which:
    # only rank 0's Adam has trained: its state and step count reach every rank
    X, y = data(90, 6, 4)
    kwargs = dict(epochs=2, batch_size=10, shuffle=False)
    net = fastbp.Network([6, 9, 4], activation="tanh", cost="cross_entropy", seed=0)
    opt = Adam(lr=0.01)
    if rank == 0:
        net.fit(X, y, optimizer=opt, **kwargs)
    history = dist.fit(net, *dist.shard(X, y), optimizer=opt, **kwargs)
    crcs = comm.gather(zlib.crc32(net.params.view(np.uint8)), root=0)
    steps = comm.gather(opt.steps, root=0)
    if rank == 0:
        ref = fastbp.Network([6, 9, 4], activation="tanh", cost="cross_entropy", seed=0)
        ref_opt = Adam(lr=0.01)
        ref.fit(X, y, optimizer=ref_opt, **kwargs)
        ref_history = ref.fit(X, y, optimizer=ref_opt, **kwargs)
        print(json.dumps({"case": "resume", "ranks": size, "identical": len(set(crcs)) == 1,
                          "epochs": len(history), "ref_epochs": len(ref_history),
                          "params": rel(net.params, ref.params),
                          "steps": steps, "ref_steps": ref_opt.steps}), flush=True)
