"""fit(progress=True): a tqdm bar on a terminal, nothing when stderr is not one."""
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

pytest.importorskip("tqdm")

SCRIPT = """
import numpy as np, fastbp
X = np.random.default_rng(0).standard_normal((50, 4)); y = np.arange(50) % 3
fastbp.Network([4, 5, 3], seed=0).fit(X, y, epochs=7, progress=True)
print("done")
"""


def run_with_stderr(stderr):
    return subprocess.run([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                          stderr=stderr, timeout=120, env=os.environ.copy())


def test_bar_on_a_terminal():
    leader, follower = pty.openpty()
    # a window of 24 x 80, as a real terminal has (a fresh pty has 0 x 0)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        run = run_with_stderr(follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:   # EIO: the child side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert run.returncode == 0 and run.stdout.strip() == b"done"
    assert "7/7" in shown and "epoch" in shown and "loss=" in shown


def test_quiet_when_stderr_is_not_a_terminal():
    run = run_with_stderr(subprocess.PIPE)
    assert run.returncode == 0 and run.stdout.strip() == b"done"
    assert run.stderr == b""


def test_no_stderr_no_bar_and_fit_still_works(monkeypatch):
    """pythonw and some services run with sys.stderr None."""
    import numpy as np

    import fastbp

    monkeypatch.setattr(sys, "stderr", None)
    net = fastbp.Network([4, 5, 3], seed=0)
    X = np.random.default_rng(0).standard_normal((20, 4))
    y = np.arange(20) % 3
    for _ in range(2):  # the second fit: the first released its lock
        net.fit(X, y, epochs=2, progress=True)
