"""fastbp.distributed: training throughput and scaling over MPI ranks.

    python bench/distributed.py [--ranks 1 2] [--configs M L L-b1024] [--rounds 3]
                                [--out bench/DISTRIBUTED.md]

For configs M and L of fastbp bench (same networks, batch sizes, dtypes and
MNIST rows), and L with a 4x larger batch (L-b1024, 4,096 rows), it runs
`mpiexec -n N python bench/distributed.py --worker` for each N, one OpenMP
thread per rank, each rank bound to a core. Each rank holds rows r::N;
rank 0 reports the median over repeated calls of:
  samples/s      rows of the data set / wall seconds per epoch of
                 fastbp.distributed.fit (3 epochs per call, setup included)
  Allreduce      seconds per step spent in the step's Allreduce, as fit
                 measures it ('allreduce_seconds'): the transfer plus any
                 wait for the slower rank; the slowest rank's figure
  bare Allreduce the same buffer reduced 50 times in a row after a barrier:
                 the transfer alone
  local gradient one step's gradient of a rank's rows, on one rank while the
                 others wait, and on all ranks at once
For comparison, Network.fit in this process (no MPI) on 1 and 2 threads.
Prints one line per run and writes bench/DISTRIBUTED.md. Do not run it
while anything else keeps the cores busy (the test suite, say).

On a cluster, give mpiexec the hosts and keep one rank per core (or per
socket with OMP_NUM_THREADS set to its cores):

    mpiexec -n 2 --bind-to core -x OMP_NUM_THREADS=1 python bench/distributed.py --worker L
    mpiexec -n 64 --hostfile hosts --map-by core --bind-to core \\
            -x OMP_NUM_THREADS=1 -x PYTHONPATH python train.py

(Open MPI; a hostfile has one line per node: `node01 slots=32`. With MPICH:
`mpiexec -n 64 -f hosts -bind-to core -genv OMP_NUM_THREADS 1 ...`.)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

import fastbp
from fastbp.bench.common import CONFIGS, machine, write_lines  # fastbp bench's S/M/L definitions
from fastbp.datasets import load_mnist_5k

HERE = os.path.dirname(os.path.abspath(__file__))

EPOCHS = 3
LR = 0.01
# name: (config of fastbp bench, global batch size, rows); S, M, L as fastbp bench,
# L-b1024 the L network with 4x the batch: how scaling depends on rows per rank
RUNS = {"S": ("S", 10, 5000), "M": ("M", 64, 5000), "L": ("L", 256, 2048),
        "L-b1024": ("L", 1024, 4096)}


def data(name):
    config, batch, n = RUNS[name]
    dtype = CONFIGS[config][5]
    X_all, y_all = load_mnist_5k()
    return X_all[:n].astype(dtype), np.eye(10, dtype=dtype)[y_all[:n]]


def make_net(name):
    sizes, act, out_act, cost, batch, dtype = CONFIGS[RUNS[name][0]]
    return fastbp.Network(sizes, activation=act, output_activation=out_act, cost=cost,
                          dtype=dtype, seed=0)


# ------------------------------------------------------------ under mpiexec

def worker(name, repeats):
    from mpi4py import MPI
    import fastbp.distributed as dist
    fastbp.set_num_threads(1)
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    batch = RUNS[name][1]
    X, Y = data(name)
    n = X.shape[0]
    Xr, Yr = dist.shard(X, Y)
    net = make_net(name)
    n_steps = -(-n // batch)

    def train():
        comm.Barrier()
        start = time.perf_counter()
        history = dist.fit(net, Xr, Yr, epochs=EPOCHS, batch_size=batch, lr=LR, shuffle=False)
        seconds = time.perf_counter() - start
        return seconds / EPOCHS, sum(history["allreduce_seconds"]) / (EPOCHS * n_steps)

    train()  # warm-up
    runs = [train() for _ in range(repeats)]
    epoch_s = statistics.median(r[0] for r in runs)
    allreduce_s = max(comm.allgather(statistics.median(r[1] for r in runs)))

    buf = np.zeros(net.params.size + 3, dtype=net.dtype)
    bare = []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(50):
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        bare.append((time.perf_counter() - start) / 50)
    bare_s = max(comm.allgather(statistics.median(bare)))

    # the local gradient of one step (rank 0's rows of the first batch), on
    # rank 0 alone while the others wait, then on every rank at once: what
    # sharing the machine's memory and caches costs each rank
    rows = np.ascontiguousarray(Xr[:-(-batch // size)])
    targets = np.ascontiguousarray(Yr[:len(rows)])
    plan, grad = net.plan(len(rows)), np.empty_like(net.params)

    def gradient_ms(active):
        times = []
        for _ in range(3 * repeats):
            comm.Barrier()
            if active:
                start = time.perf_counter()
                fastbp._core.gradients(plan, net.params, grad, rows, targets)
                times.append(time.perf_counter() - start)
            # wait asleep: a rank spinning in MPI_Barrier would keep its core busy
            request = comm.Ibarrier()
            while not request.Test():
                time.sleep(0.0005)
        return 1e3 * statistics.median(times) if times else 0.0
    alone = gradient_ms(rank == 0)
    together = max(comm.allgather(gradient_ms(True)))
    if rank == 0:
        print(json.dumps(dict(config=name, ranks=size, rows=n, batch=batch, steps=n_steps,
                              params=int(net.params.size), dtype=net.dtype.name,
                              samples_per_s=n / epoch_s, step_s=epoch_s / n_steps,
                              allreduce_s=allreduce_s, bare_allreduce_s=bare_s,
                              mbytes=buf.nbytes / 1e6, gradient_alone_ms=alone,
                              gradient_together_ms=together)), flush=True)


# ------------------------------------------------------------ the driver

def baseline(name, threads, repeats):
    """Network.fit in this process: samples/s."""
    X, Y = data(name)
    net = make_net(name)
    fastbp.set_num_threads(threads)
    batch = RUNS[name][1]

    def train():
        start = time.perf_counter()
        net.fit(X, Y, epochs=EPOCHS, batch_size=batch, lr=LR, shuffle=False)
        return (time.perf_counter() - start) / EPOCHS

    train()
    return X.shape[0] / statistics.median(train() for _ in range(repeats))


def mpiexec():
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.path.exists(local) else shutil.which("mpiexec")


def launch(name, ranks, repeats):
    exe = mpiexec()
    if exe is None:
        raise SystemExit("bench/distributed.py: no mpiexec (pip install 'fastbp[mpi]')")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    command = [exe, "-n", str(ranks)]
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version:
        command += ["--bind-to", "core"]
        env.setdefault("OMPI_MCA_btl_tcp_if_include", "lo")
        if os.geteuid() == 0:
            env["OMPI_ALLOW_RUN_AS_ROOT"] = env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    command += [sys.executable, "-m", "mpi4py", os.path.abspath(__file__), "--worker", name,
                "--repeats", str(repeats)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1]), version.splitlines()[0]


def summarize(results):
    """One row from several rounds' results: the median of every number, and
    the samples/s range."""
    row = dict(results[0])
    for key, value in row.items():
        if isinstance(value, float):
            row[key] = statistics.median(r[key] for r in results)
    speeds = [r["samples_per_s"] for r in results]
    row["range"] = (min(speeds), max(speeds))
    return row


def write(rows, baselines, path, args, mpi_version, load):
    lines = ["## Distributed training (fastbp.distributed, MPI)", "",
             f"Written by `python bench/distributed.py` on {time.strftime('%Y-%m-%d')}: "
             f"{args.rounds} rounds, each launching every configuration once (1 rank, 2 ranks, "
             f"Network.fit on 1 and 2 threads, one after another); each launch reports the "
             f"median of {args.repeats} calls of {EPOCHS} epochs after a warm-up, "
             f"`shuffle=False`, lr {LR}. The table gives the median over the rounds and the "
             f"range of samples/s.", "",
             f"Machine: {machine()}; {mpi_version}, mpi4py {_mpi4py_version()}; ranks on one "
             f"machine, shared memory, one OpenMP thread per rank, bound to a core. 1-minute "
             f"load average {load[0]:.2f} before the run, {load[1]:.2f} after it (this machine "
             f"has {os.cpu_count()} cores).", "",
             "| config | ranks | batch | rows/rank | samples/s | range | scaling | ms/step | "
             "local gradient ms (alone / all ranks at once) | Allreduce ms/step | "
             "bare Allreduce ms | MB/Allreduce |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['ranks']} | {r['batch']} | "
                     f"{-(-r['batch'] // r['ranks'])} | {r['samples_per_s']:,.0f} | "
                     f"{r['range'][0]:,.0f}-{r['range'][1]:,.0f} | "
                     f"{r['scaling']:.2f} | {1e3 * r['step_s']:.2f} | "
                     f"{r['gradient_alone_ms']:.2f} / {r['gradient_together_ms']:.2f} | "
                     f"{1e3 * r['allreduce_s']:.3f} | {1e3 * r['bare_allreduce_s']:.3f} | "
                     f"{r['mbytes']:.2f} |")
    lines += ["", "Network.fit in one process, for comparison (same data and settings):", "",
              "| config | threads | samples/s | range | scaling |", "|---|---:|---:|---:|---:|"]
    for (name, threads), v in baselines.items():
        one = statistics.median(baselines[name, 1])
        lines.append(f"| {name} | {threads} | {statistics.median(v):,.0f} | "
                     f"{min(v):,.0f}-{max(v):,.0f} | {statistics.median(v) / one:.2f} |")
    lines += ["", "scaling: median samples/s over that of 1 rank (of 1 thread for Network.fit). "
              "Allreduce ms/step: time inside the step's Allreduce as `fit` records it "
              "(`history['allreduce_seconds']`), the slower rank's, which includes waiting for "
              "the other rank; bare Allreduce: the same buffer alone. Local gradient: one "
              "step's gradient of a rank's rows (`_core.gradients`), on rank 0 while the "
              "others sleep, and on every rank at once (the slowest).", ""]
    # what limits the scaling: the compiled gradient's cost per call that does not
    # shrink with the rows (2·g(B/2) − g(B), from the two 'alone' figures)
    for name in dict.fromkeys(r["config"] for r in rows):
        one = next((r for r in rows if r["config"] == name and r["ranks"] == 1), None)
        two = next((r for r in rows if r["config"] == name and r["ranks"] == 2), None)
        if one is None or two is None:
            continue
        fixed = 2 * two["gradient_alone_ms"] - one["gradient_alone_ms"]
        bound = one["gradient_alone_ms"] / (two["gradient_alone_ms"]
                                            + 1e3 * two["bare_allreduce_s"])
        lines.append(f"- {name}: the local gradient of {one['batch']} rows takes "
                     f"{one['gradient_alone_ms']:.2f} ms, of {-(-two['batch'] // 2)} rows "
                     f"{two['gradient_alone_ms']:.2f} ms: {fixed:.2f} ms per call do not "
                     f"shrink with the rows (work per call, not per row), and every rank "
                     f"pays them. With the bare Allreduce, 2 ranks can reach at most "
                     f"{bound:.2f}x; measured {two['scaling']:.2f}x. Threads in one process "
                     f"split that part between them.")
    lines += ["", "On a cluster: one rank per core with one OpenMP thread each (or one rank "
              "per node or socket, with OMP_NUM_THREADS set to its cores), the hosts in a "
              "hostfile (Open MPI: one line per node, `node01 slots=32`):", "",
              "```",
              "mpiexec -n 64 --hostfile hosts --map-by core --bind-to core \\",
              "        -x OMP_NUM_THREADS=1 -x PYTHONPATH python train.py",
              "mpiexec -n 2 --bind-to core -x OMP_NUM_THREADS=1 \\",
              "        python -m mpi4py bench/distributed.py --worker L    # one line of this table",
              "```", "",
              "(MPICH: `mpiexec -n 64 -f hosts -bind-to core -genv OMP_NUM_THREADS 1 ...`.) "
              "Between nodes the Allreduce goes over the network: each rank sends and "
              "receives about twice the buffer per step (a ring Allreduce), for L 2 x 7.45 MB, "
              "about 12 ms on 10 Gbit/s Ethernet and about 1.2 ms on 100 Gbit/s InfiniBand, "
              "against ~20 ms of gradient for 128 rows: L wants the fast network or more rows "
              "per rank.", ""]
    write_lines(path, lines)


def _mpi4py_version():
    try:
        import mpi4py
        return mpi4py.__version__
    except ImportError:
        return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--configs", nargs="+", default=["M", "L", "L-b1024"], choices=list(RUNS))
    parser.add_argument("--repeats", type=int, default=3, help="fit calls per launch")
    parser.add_argument("--rounds", type=int, default=3, help="launches per configuration")
    parser.add_argument("--out", default=os.path.join(HERE, "DISTRIBUTED.md"))
    parser.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.repeats)
        return 0
    print(f"machine: {machine()}")
    load = [os.getloadavg()[0]]
    print(f"1-minute load average: {load[0]:.2f}")
    results, baselines, version = {}, {}, ""
    for round_ in range(args.rounds):
        for name in args.configs:
            for threads in (1, 2):
                v = baseline(name, threads, args.repeats)
                baselines.setdefault((name, threads), []).append(v)
                print(f"round {round_ + 1} {name} Network.fit {threads} "
                      f"thread{'s' * (threads > 1)}: {v:>9,.0f} samples/s", flush=True)
            for ranks in args.ranks:
                r, version = launch(name, ranks, args.repeats)
                results.setdefault((name, ranks), []).append(r)
                print(f"round {round_ + 1} {name} {ranks} rank{'s' * (ranks > 1)}: "
                      f"{r['samples_per_s']:>9,.0f} samples/s  {1e3 * r['step_s']:7.2f} ms/step  "
                      f"local gradient {r['gradient_alone_ms']:.2f} ms alone, "
                      f"{r['gradient_together_ms']:.2f} ms all at once  Allreduce "
                      f"{1e3 * r['allreduce_s']:.3f} ms/step (bare "
                      f"{1e3 * r['bare_allreduce_s']:.3f} ms, {r['mbytes']:.2f} MB)", flush=True)
    rows = []
    for name in args.configs:
        for ranks in args.ranks:
            row = summarize(results[name, ranks])
            row["scaling"] = row["samples_per_s"] / summarize(results[name, args.ranks[0]])[
                "samples_per_s"]
            rows.append(row)
            print(f"{name} {ranks} rank{'s' * (ranks > 1)}: median {row['samples_per_s']:,.0f} "
                  f"samples/s (range {row['range'][0]:,.0f}-{row['range'][1]:,.0f}) "
                  f"x{row['scaling']:.2f}, Allreduce {1e3 * row['allreduce_s']:.3f} ms/step "
                  f"(bare {1e3 * row['bare_allreduce_s']:.3f} ms)")
    load.append(os.getloadavg()[0])
    print(f"1-minute load average: {load[1]:.2f}")
    write(rows, baselines, args.out, args, version, load)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
