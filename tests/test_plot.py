"""History.plot and `fastbp demo --plot`: the curves are drawn with matplotlib
when it is installed, and a clear ImportError says what to install when not."""
import sys

import pytest

import fastbp
import fastbp.cli

from conftest import make_data, make_net


def trained_history():
    net = make_net([4, 5, 3], "sigmoid", "cross_entropy", init="auto")
    X, Y = make_data(net, 20)
    return net.fit(X, Y, epochs=3, batch_size=5, lr=0.5, validation_data=(X, Y))


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    fig = trained_history().plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [a.get_ylabel() for a in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # training and validation


def test_plot_without_matplotlib_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(ImportError, match=r"fastbp\[plot\]"):
        trained_history().plot(tmp_path / "x.png")
    assert fastbp.cli.main(["demo", "--dataset", "wheat", "--epochs", "1",
                            "--plot", str(tmp_path / "d.png")]) == 2
    out, err = capsys.readouterr()
    assert "fastbp[plot]" in err
    assert "epoch" not in out  # said before training, not after it
