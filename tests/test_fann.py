"""fastbp.compat.fann: FANN .net files, checked against libfann itself.

The tests marked `fann` compile tests/fann/run_net.c and train_net.c against
libfann (floatfann, and doublefann when it links) and compare fann_run's
outputs with net.forward: FANN running fastbp's files, fastbp running files
FANN trained and saved. They skip, saying why, without a C compiler or
libfann-dev. The rest is plain Python: exact round trips, the steepness
mapping worked by hand, malformed files and what FANN cannot represent.
"""
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import datasets
from fastbp.compat import fann

HERE = Path(__file__).parent / "fann"

# float32 rounding of FANN's weights, inputs and sums: outputs of order 1
# carry errors of a few 1e-7 (max seen 6.3e-7); doublefann agrees to ~1e-15.
TOL = {"float": dict(rtol=2e-5, atol=2e-5), "double": dict(rtol=1e-12, atol=1e-12)}


# ------------------------------------------------------------ the C side


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def _build(cc, source, out, lib, *defines):
    cmd = [cc, "-O2", *defines, str(HERE / source), "-o", str(out), f"-l{lib}", "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    return None if res.returncode else str(out)


@pytest.fixture(scope="session")
def fann_tools(tmp_path_factory):
    """Compiled helpers: {'float': run_net, 'double': run_net or None, 'train': train_net}."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc, clang or $CC) to build the libfann test programs")
    d = tmp_path_factory.mktemp("fann_bin")
    probe = d / "probe.c"
    probe.write_text("#include <floatfann.h>\nint main(void){struct fann *a = "
                     "fann_create_standard(2, 1, 1); fann_destroy(a); return 0;}\n")
    res = subprocess.run([cc, str(probe), "-o", str(d / "probe"), "-lfloatfann", "-lm"],
                         capture_output=True, text=True)
    if res.returncode:  # one short reason: the compiler's message names a temp path
        pytest.skip("libfann-dev not installed (apt-get install libfann-dev)")
    tools = {"float": _build(cc, "run_net.c", d / "run_float", "floatfann"),
             "double": _build(cc, "run_net.c", d / "run_double", "doublefann", "-DUSE_DOUBLEFANN"),
             "train": _build(cc, "train_net.c", d / "train_net", "floatfann")}
    assert tools["float"] and tools["train"], "the FANN test programs do not compile"
    return tools


def _outputs(stdout):
    return np.array([[float(v) for v in line.split()] for line in stdout.strip().splitlines()])


def fann_run(program, net_file, X, resave=None):
    """fann_run of each row of X in the C program `program`, (n, n_out)."""
    X = np.asarray(X, dtype=np.float64)
    rows = "\n".join(" ".join(repr(v) for v in row) for row in X.tolist())
    stdin = f"{X.shape[0]} {X.shape[1]}\n{rows}\n"
    args = [program, str(net_file)] + ([str(resave)] if resave else [])
    res = subprocess.run(args, input=stdin, capture_output=True, text=True)
    assert res.returncode == 0, f"FANN could not run {net_file}: {res.stderr}"
    return _outputs(res.stdout)


def inputs(n, d, seed=0):
    """Samples that float32 holds exactly, so both sides see the same inputs."""
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32).astype(np.float64)


def report(what, ours, theirs, tol):
    diff = float(np.max(np.abs(ours - theirs)))
    print(f"{what}: max |fastbp − FANN| = {diff:.3g}")
    np.testing.assert_allclose(ours, theirs, **tol)
    return diff


SAVED = {  # sizes, activation, output_activation
    "sigmoid": ([7, 10, 3], "sigmoid", "sigmoid"),
    "tanh-identity": ([5, 7, 1, 4, 3], "tanh", "identity"),
    "identity-tanh": ([4, 6, 2], "identity", "tanh"),
    "no-hidden": ([3, 2], "sigmoid", "sigmoid"),
    "mixed": ([6, 5, 4, 2], ["tanh", "sigmoid"], "identity"),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["float", "double"])
@pytest.mark.parametrize("config", list(SAVED))
def test_fann_runs_saved_network(fann_tools, tmp_path, config, kind, dtype):
    """FANN loads what save writes and fann_run computes net.forward."""
    if fann_tools[kind] is None:
        pytest.skip("doublefann does not link here")
    sizes, act, out = SAVED[config]
    net = fastbp.Network(sizes, activation=act, output_activation=out, init="gaussian",
                         dtype=dtype, seed=3)
    path = tmp_path / "net.net"
    fann.save(net, path)
    X = inputs(50, sizes[0])
    report(f"{config} {dtype} net, {kind}fann", net.forward(X), fann_run(fann_tools[kind], path, X),
           TOL[kind if dtype == "float64" else "float"])


def test_fann_resaves_what_it_loaded(fann_tools, tmp_path):
    """FANN reads every value save writes: its own fann_save of the loaded
    network loads back into the same parameters (bit for bit through
    doublefann, to float32 rounding through floatfann)."""
    net = fastbp.Network([5, 6, 4, 3], activation="tanh", output_activation="sigmoid",
                         init="gaussian", seed=5)
    net.biases[0][0] = -0.0
    path = tmp_path / "ours.net"
    fann.save(net, path)
    for kind in ("float", "double"):
        if fann_tools[kind] is None:
            continue
        resaved = tmp_path / f"{kind}.net"
        fann_run(fann_tools[kind], path, inputs(1, 5), resave=resaved)
        back = fann.load(resaved)
        if kind == "double":
            assert back.params.tobytes() == net.params.tobytes()
        else:
            np.testing.assert_array_equal(back.params, net.params.astype(np.float32))
        assert (back.activation, back.output_activation) == ("tanh", "sigmoid")


def _seeds_subset():
    X, y = datasets.load_wheat_seeds()
    (X,) = datasets.standardize(X)
    X, y = X[::5], y[::5]  # 42 samples, all three varieties
    X = X.astype(np.float32).astype(np.float64)  # what FANN reads as floats
    return X, np.eye(3)[y]


def _train_file(path, X, Y):
    lines = [f"{len(X)} {X.shape[1]} {Y.shape[1]}"]
    for x, t in zip(X.tolist(), Y.tolist()):
        lines += [" ".join(repr(v) for v in x), " ".join(repr(v) for v in t)]
    path.write_text("\n".join(lines) + "\n")


TRAINED = {  # layer specs N:fann_activationfunc_enum:steepness[:steepness of neuron 0]
    "sigmoid-linear": ["6:3:0.7:0.35", "3:0:1.3"],
    "symmetric-sigmoid": ["5:5:0.3:0.9", "4:5:0.6", "3:3:0.9:1.7"],
    "linear-symmetric": ["4:0:0.8", "3:5:1.1:0.45"],
    "mixed": ["5:3:0.6", "4:5:0.4:1.2", "3:0:1.0"],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", list(TRAINED))
def test_fastbp_runs_fann_trained_network(fann_tools, tmp_path, config, dtype):
    """A network FANN created, trained (RPROP, 20 epochs on wheat seeds) and
    saved, with sigmoid, symmetric sigmoid and linear layers at steepness
    other than FANN's default and per-neuron steepness: fastbp's forward is
    FANN's fann_run."""
    X, Y = _seeds_subset()
    data, net_file = tmp_path / "seeds.train", tmp_path / "trained.net"
    _train_file(data, X, Y)
    args = [fann_tools["train"], str(data), str(net_file), "20", "7", *TRAINED[config]]
    res = subprocess.run(args, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    expected = _outputs(res.stdout)
    text = net_file.read_text()
    assert "train_error_function=1" in text  # FANN's default, read as 'quadratic'
    net = fann.load(net_file, dtype=dtype)
    if config == "mixed":
        assert (net.activation, net.output_activation) == (["sigmoid", "tanh"], "identity")
    assert net.cost == "quadratic"
    # trained: not the starting weights, and not constant outputs
    assert np.ptp(expected, axis=0).min() > 1e-3
    report(f"FANN-trained {config}, fastbp {dtype}", net.forward(X), expected, TOL["float"])


def test_fann_default_activation_is_refused(fann_tools, tmp_path):
    """fann_create_standard's layers are FANN_SIGMOID_STEPWISE until set."""
    X, Y = _seeds_subset()
    data, net_file = tmp_path / "seeds.train", tmp_path / "stepwise.net"
    _train_file(data, X, Y)
    args = [fann_tools["train"], str(data), str(net_file), "2", "7", "4:4:0.5", "3:4:0.5"]
    assert subprocess.run(args, capture_output=True).returncode == 0
    with pytest.raises(ValueError, match="uses FANN_SIGMOID_STEPWISE, which has no exact"):
        fann.load(net_file)


def test_fann_clamps_linear_outputs_at_150(fann_tools, tmp_path):
    """What the module docstring says: FANN clamps s·Σ to ±150/s, fastbp not."""
    net = fastbp.Network([1, 1], activation="identity")
    net.weights[0][...] = 1.0
    net.biases[0][...] = 0.0
    fann.save(net, tmp_path / "id.net")
    X = np.array([[10.0], [149.0], [151.0], [-1000.0]])
    got = fann_run(fann_tools["float"], tmp_path / "id.net", X)
    np.testing.assert_array_equal(got[:, 0], [10, 149, 150, -150])
    np.testing.assert_array_equal(net.forward(X)[:, 0], X[:, 0])


# ------------------------------------------------------------ pure Python


LAYOUTS = [([3, 2], "sigmoid", "sigmoid"), ([4, 5, 3], "tanh", "identity"),
           ([2, 7, 1, 3], "identity", "sigmoid"), ([5, 3, 4, 2], "sigmoid", "tanh")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes,act,out", LAYOUTS)
def test_round_trip_is_bitwise(tmp_path, sizes, act, out, dtype):
    """%.20e keeps 21 significant digits: float64 needs 17, so save → load
    gives the same bits (−0.0, tiny and huge values included)."""
    net = fastbp.Network(sizes, activation=act, output_activation=out, init="gaussian",
                         dtype=dtype, seed=1)
    p = net.params
    p[0], p[1], p[-1] = -0.0, np.finfo(p.dtype).tiny, np.finfo(p.dtype).max / 4
    p[2] = np.nextafter(p.dtype.type(1), p.dtype.type(2))
    fann.save(net, tmp_path / "n.net")
    back = fann.load(tmp_path / "n.net", dtype=dtype)
    assert back.params.tobytes() == net.params.tobytes()
    assert (back.sizes, back.activation, back.output_activation, back.dtype) == \
        (net.sizes, net.activation, net.output_activation, net.dtype)
    if dtype == "float32":  # float32 values read into float64: the same numbers
        assert np.array_equal(fann.load(tmp_path / "n.net").params, net.params)


def test_round_trip_mixed_hidden_activations(tmp_path):
    net = fastbp.Network([3, 4, 5, 2], activation=["sigmoid", "tanh"], output_activation="identity",
                         seed=2)
    fann.save(net, tmp_path / "m.net")
    back = fann.load(tmp_path / "m.net")
    assert back.params.tobytes() == net.params.tobytes()
    assert back.activation == ["sigmoid", "tanh"]
    same = fastbp.Network([3, 4, 5, 2], activation=["tanh", "tanh"], seed=2)
    fann.save(same, tmp_path / "s.net")
    assert fann.load(tmp_path / "s.net").activation == "tanh"  # FANN stores no list


def test_save_writes_fann_steepness_and_layout(tmp_path):
    net = fastbp.Network([2, 3, 1], activation="sigmoid", output_activation="identity", seed=0)
    fann.save(net, tmp_path / "n.net")
    text = (tmp_path / "n.net").read_text()
    assert text.startswith("FANN_FLO_2.1\nnum_layers=3\n")
    assert "\nlayer_sizes=3 4 2 \n" in text
    assert "\ntrain_error_function=0\n" in text  # FANN_ERRORFUNC_LINEAR: the quadratic cost
    neurons = re.search(r"neurons \(.*\)=(.*)\n", text).group(1)
    assert neurons.count("(3, 3, 5.00000000000000000000e-01)") == 3  # sigmoid, s = 0.5
    assert neurons.count("(4, 0, 1.00000000000000000000e+00)") == 1  # linear, s = 1
    first = re.search(r"connections \(.*\)=\((\d+), (\S+)\)", text)
    assert first.group(1) == "0" and float(first.group(2)) == net.weights[0][0, 0]


FANN_TEXT = """FANN_FLO_2.1
num_layers=3
learning_rate=0.700000
connection_rate=1.000000
network_type=0
learning_momentum=0.000000
training_algorithm=2
train_error_function=1
train_stop_function=0
cascade_output_change_fraction=0.010000
quickprop_decay=-0.000100
quickprop_mu=1.750000
rprop_increase_factor=1.200000
rprop_decrease_factor=0.500000
rprop_delta_min=0.000000
rprop_delta_max=50.000000
rprop_delta_zero=0.100000
cascade_output_stagnation_epochs=12
cascade_candidate_change_fraction=0.010000
cascade_candidate_stagnation_epochs=12
cascade_max_out_epochs=150
cascade_min_out_epochs=50
cascade_max_cand_epochs=150
cascade_min_cand_epochs=50
cascade_num_candidate_groups=2
bit_fail_limit=3.49999994039535522461e-01
cascade_candidate_limit=1.00000000000000000000e+03
cascade_weight_multiplier=4.00000005960464477539e-01
cascade_activation_functions_count=10
cascade_activation_functions=3 5 7 8 10 11 14 15 16 17 
cascade_activation_steepnesses_count=4
cascade_activation_steepnesses=2.50000000000000000000e-01 5.00000000000000000000e-01 7.50000000000000000000e-01 1.00000000000000000000e+00 
layer_sizes=2 3 3 
scale_included=0
neurons (num_inputs, activation_function, activation_steepness)=(0, 0, 0.00000000000000000000e+00) (0, 0, 0.00000000000000000000e+00) (2, 3, 2.50000000000000000000e-01) (2, 3, 1.50000000000000000000e+00) (0, 3, 0.00000000000000000000e+00) (3, 5, 5.00000000000000000000e-01) (3, 5, 2.00000000000000000000e+00) (0, 0, 0.00000000000000000000e+00) 
connections (connected_to_neuron, weight)=(0, 3.00000000000000000000e+00) (1, -1.00000000000000000000e+00) (0, 2.00000000000000000000e+00) (1, 5.00000000000000000000e-01) (2, 1.00000000000000000000e+00) (3, -4.00000000000000000000e+00) (4, 2.50000000000000000000e-01) (2, -1.00000000000000000000e+00) (3, 7.50000000000000000000e-01) (4, 3.00000000000000000000e+00) 
"""
# A 1-2-2 network as fann_save writes it: hidden FANN_SIGMOID at steepness
# 0.25 and 1.5, output FANN_SIGMOID_SYMMETRIC at 0.5 and 2.


def write(tmp_path, text, name="t.net"):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    return path


def test_steepness_worked_by_hand(tmp_path):
    """FANN_SIGMOID is 1/(1 + exp(−2sΣ)): hidden neuron 0 (s = 0.25) has
    weight 3 → 2·0.25·3 = 1.5, bias weight −1 → −0.5; neuron 1 (s = 1.5):
    2·1.5·2 = 6, 2·1.5·0.5 = 1.5. FANN_SIGMOID_SYMMETRIC is tanh(sΣ): output 0
    (s = 0.5): 0.5·[1, −4], bias 0.5·0.25; output 1 (s = 2): 2·[−1, 0.75], 2·3."""
    net = fann.load(write(tmp_path, FANN_TEXT))
    assert net.sizes == (1, 2, 2)
    assert (net.activation, net.output_activation, net.cost) == ("sigmoid", "tanh", "quadratic")
    np.testing.assert_array_equal(net.weights[0], [[1.5], [6.0]])
    np.testing.assert_array_equal(net.biases[0], [-0.5, 1.5])
    np.testing.assert_array_equal(net.weights[1], [[0.5, -2.0], [-2.0, 1.5]])
    np.testing.assert_array_equal(net.biases[1], [0.125, 6.0])
    x = 0.3  # FANN's formulas, written out
    h = 1 / (1 + np.exp(-2 * np.array([0.25, 1.5]) * (np.array([3.0, 2.0]) * x + [-1.0, 0.5])))
    s = np.array([0.5, 2.0])
    o = 2 / (1 + np.exp(-2 * s * (np.array([[1.0, -4.0], [-1.0, 0.75]]) @ h + [0.25, 3.0]))) - 1
    np.testing.assert_allclose(net.forward([x]), o, rtol=1e-14)  # one sample: one row


def test_reads_windows_line_ends(tmp_path):
    """fann_save on Windows writes text mode: '\r\n' line ends."""
    net = fann.load(write(tmp_path, FANN_TEXT.replace("\n", "\r\n")))
    assert net.params.tobytes() == fann.load(write(tmp_path, FANN_TEXT, "lf.net")).params.tobytes()


def test_load_cost_and_dtype(tmp_path):
    path = write(tmp_path, FANN_TEXT)
    assert fann.load(path, dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="cross_entropy"):
        fann.load(path, cost="cross_entropy")  # needs softmax outputs; these are tanh
    with pytest.raises(ValueError, match="unknown cost"):
        fann.load(path, cost="hinge")
    with pytest.raises(ValueError, match="dtype"):
        fann.load(path, dtype="float16")
    with pytest.raises(TypeError, match="path"):
        fann.load(3.5)
    sig = FANN_TEXT.replace("(3, 5, 5.0", "(3, 3, 5.0").replace("(3, 5, 2.0", "(3, 3, 2.0")
    net = fann.load(write(tmp_path, sig), cost="binary_cross_entropy")
    assert net.cost == "binary_cross_entropy"


def test_scaling_parameters_are_read_not_applied(tmp_path):
    scale = "".join(f"{k}_{w}={'1.000000 ' * n}\n"
                    for w, n in (("in", 1), ("out", 2))
                    for k in ("scale_mean", "scale_deviation", "scale_new_min", "scale_factor"))
    text = FANN_TEXT.replace("scale_included=0\n", "scale_included=1\n" + scale)
    with pytest.warns(UserWarning, match="scaling"):
        net = fann.load(write(tmp_path, text))
    plain = fann.load(write(tmp_path, FANN_TEXT, "plain.net"))
    assert net.params.tobytes() == plain.params.tobytes()
    short = text.replace("scale_factor_out=1.000000 1.000000 ", "scale_factor_out=1.000000 ")
    with pytest.raises(ValueError, match="scale_factor_out item 2 of 2"):
        fann.load(write(tmp_path, short))


def _sub(old, new, count=1):
    assert old in FANN_TEXT, old
    return FANN_TEXT.replace(old, new, count)


MALFORMED = {
    "empty": ("", "empty"),
    "other version": (_sub("FANN_FLO_2.1", "FANN_FLO_2.0"), "FANN_FLO_2.0"),
    "fixed point": (_sub("FANN_FLO_2.1", "FANN_FIX_2.1"), "fixed-point"),
    "not fann": ("hello\nworld\n", "first line"),
    "missing key": (_sub("learning_momentum=0.000000\n", ""), "expected 'learning_momentum='"),
    "keys swapped": (_sub("quickprop_decay=-0.000100\nquickprop_mu=1.750000",
                          "quickprop_mu=1.750000\nquickprop_decay=-0.000100"),
                     "expected 'quickprop_decay='"),
    "non-numeric": (_sub("learning_rate=0.700000", "learning_rate=fast"), "learning_rate: expected a number"),
    "comma decimal": (_sub("learning_rate=0.700000", "learning_rate=0,700000"),
                      "learning_rate: '0,700000' is not a number FANN writes"),
    "nan weight": (_sub("(1, -1.00000000000000000000e+00)", "(1, nan)"), "connection 1 is 'nan'"),
    "inf steepness": (_sub("(2, 3, 1.50000000000000000000e+00)", "(2, 3, inf)"), "not a finite number"),
    "overflowing number": (_sub("(1, -1.00000000000000000000e+00)", "(1, -1e999)"), "not a finite number"),
    "negative count": (_sub("num_layers=3", "num_layers=-3"), "num_layers: expected an unsigned integer"),
    "count past unsigned": (_sub("num_layers=3", "num_layers=4294967296"), "does not fit an unsigned int"),
    "too few layer sizes": (_sub("num_layers=3", "num_layers=4"), "layer_sizes item 4 of 4"),
    "too many layer sizes": (_sub("num_layers=3", "num_layers=2"), "expected 'scale_included='"),
    "one layer": (_sub("num_layers=3", "num_layers=1").replace("layer_sizes=2 3 3 ", "layer_sizes=2 "),
                  "at least 2 layers"),
    "layer without bias": (_sub("layer_sizes=2 3 3", "layer_sizes=2 1 3"), "at least 2"),
    "absurd sizes": (_sub("layer_sizes=2 3 3", "layer_sizes=4000000000 4000000000 3"),
                     "more than fastbp loads"),
    "absurd layer count": (_sub("num_layers=3", "num_layers=4294967295"), "layer_sizes item 4 of 4294967295"),
    "big layer, small file": (_sub("layer_sizes=2 3 3", "layer_sizes=2 3 300000"),
                              "300,005 neurons; the rest of the file is too short"),
    "neurons short": (_sub("layer_sizes=2 3 3", "layer_sizes=2 3 30"), "neuron 7 .* has 0 inputs"),
    "wrong input count": (_sub("(2, 3, 1.5", "(3, 3, 1.5"), "has 3 inputs"),
    "bias with inputs": (_sub("(0, 3, 0.0", "(2, 3, 0.0"), r"bias\) has 2 inputs"),
    "truncated neurons": (FANN_TEXT.split(" (3, 5, 2.0")[0],
                          r"neuron 6 \(layer 2, neuron 1\) is the end of the file"),
    "missing connection": (_sub("(4, 3.00000000000000000000e+00) ", ""), "entry 9 is the end of the file"),
    "extra connection": (FANN_TEXT.rstrip() + " (4, 1.0)\n", "unexpected text after the last connection"),
    "trailing text": (FANN_TEXT + "hello\n", "unexpected text after the last connection"),
    "wrong source": (_sub("(1, 5.00000000000000000000e-01)", "(0, 5.00000000000000000000e-01)"),
                     "comes from neuron 0.*must be 1"),
    "huge source": (_sub("(1, 5.00000000000000000000e-01)", "(123456789012345678901234, 0.5)"),
                    "comes from neuron 123456789012345678901234"),
    "scale_included=2": (_sub("scale_included=0", "scale_included=2"), "expected 0 or 1"),
    "cascade count": (_sub("cascade_activation_functions_count=10", "cascade_activation_functions_count=11"),
                      "cascade_activation_functions item 11 of 11"),
    "non-ascii": (_sub("learning_rate=0.700000", "learning_rate=0.7\xe9"), "byte 0xe9 at offset"),
    "error function": (_sub("train_error_function=1", "train_error_function=7"), "train_error_function=7"),
    "zero steepness": (_sub("(2, 3, 1.5", "(2, 3, 0.0"), "steepness 0.0"),
    "negative steepness": (_sub("(3, 5, 2.0", "(3, 5, -2.0"), "steepness -2.0"),
    "unknown activation": (_sub("(2, 3, 1.5", "(2, 42, 1.5"), "activation function 42"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file(tmp_path, name):
    text, message = MALFORMED[name]
    with pytest.raises(ValueError, match=message) as info:
        fann.load(write(tmp_path, text))
    assert "t.net" in str(info.value)
    if text:
        assert re.search(r"line \d+|byte", str(info.value))


def test_absurd_connection_count_is_refused_before_allocating(tmp_path):
    """Two 2000-neuron layers listed in full (~40 kB) promise 4 million
    connections; the file cannot hold them, so nothing is allocated for them."""
    head = FANN_TEXT.split("layer_sizes=")[0].replace("num_layers=3", "num_layers=2")
    text = (head + "layer_sizes=2001 2001 \nscale_included=0\n" + fann._NEURONS_KEY + "="
            + "(0, 0, 0) " * 2001 + "(2001, 3, 0.5) " * 2000 + "(0, 0, 0) \n"
            + fann._CONNECTIONS_KEY + "=(0, 1.0) \n")
    with pytest.raises(ValueError, match="needs 4,002,000 connections; the rest of the file"):
        fann.load(write(tmp_path, text))


def test_every_truncation_is_refused(tmp_path):
    """A file cut anywhere before its last ')' is a ValueError, never a
    network and never another exception."""
    end = FANN_TEXT.rindex(")")
    for cut in range(0, end, 3):
        with pytest.raises(ValueError):
            fann.load(write(tmp_path, FANN_TEXT[:cut]))
    fann.load(write(tmp_path, FANN_TEXT[:end + 1]))  # the trailing space and newline are optional


@pytest.mark.parametrize("code", [c for c in range(len(fann.FANN_ACTIVATIONS))
                                  if c not in (0, 3, 5)])
def test_refuses_activations_without_counterpart(tmp_path, code):
    name = fann.FANN_ACTIVATIONS[code]
    why = "a .*ReLU of FANN versions after 2.2" if code >= 18 else "has no exact fastbp counterpart"
    with pytest.raises(ValueError, match=f"layer 2, neuron 1 uses {name}.*{why}"):
        fann.load(write(tmp_path, _sub("(3, 5, 2.0", f"(3, {code}, 2.0")))


def test_stepwise_default_says_how_to_avoid_it(tmp_path):
    with pytest.raises(ValueError, match="FANN's default for new networks; call "
                                         "fann_set_activation_function_hidden"):
        fann.load(write(tmp_path, _sub("(2, 3, 1.5", "(2, 4, 1.5")))


def test_refuses_what_fastbp_cannot_represent(tmp_path):
    with pytest.raises(ValueError, match="layer 1 mixes FANN_SIGMOID and FANN_LINEAR"):
        fann.load(write(tmp_path, _sub("(2, 3, 1.5", "(2, 0, 1.5")))
    with pytest.raises(ValueError, match="shortcut"):
        fann.load(write(tmp_path, _sub("network_type=0", "network_type=1")))
    with pytest.raises(ValueError, match="sparse"):
        fann.load(write(tmp_path, _sub("connection_rate=1.000000", "connection_rate=0.500000")))


@pytest.mark.parametrize("kwargs,message", [
    (dict(activation="relu"), "hidden layer 1 uses 'relu': FANN 2.2 has no ReLU"),
    (dict(activation=["tanh", "leaky_relu"]), "hidden layer 2 uses 'leaky_relu'"),
    (dict(activation="leaky_relu"), "'leaky_relu': FANN 2.2 has no leaky ReLU"),
    (dict(activation="tanh", output_activation="relu"), "the output layer uses 'relu'"),
    (dict(cost="cross_entropy"), "the output layer uses 'softmax': FANN has no softmax"),
    (dict(batch_norm=True), "batch normalization"),
])
def test_save_refuses_what_fann_cannot_represent(tmp_path, kwargs, message):
    net = fastbp.Network([3, 4, 4, 2], **kwargs)
    with pytest.raises(ValueError, match=message):
        fann.save(net, tmp_path / "n.net")
    assert not os.listdir(tmp_path)  # nothing written, no temporary left


def test_save_arguments(tmp_path):
    with pytest.raises(TypeError, match="fastbp.Network"):
        fann.save("net", tmp_path / "n.net")
    with pytest.raises(TypeError, match="path"):
        fann.save(fastbp.Network([2, 1]), None)
    fann.save(fastbp.Network([2, 1]), str(tmp_path / "s.net"))  # str paths too
    assert os.listdir(tmp_path) == ["s.net"]


def test_load_is_locale_independent(tmp_path):
    """Parsing uses Python's float(), which ignores LC_NUMERIC; a C locale
    with ',' decimals does not change what is read."""
    import locale
    old = locale.setlocale(locale.LC_NUMERIC)
    for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "de_DE"):
        try:
            locale.setlocale(locale.LC_NUMERIC, name)
            break
        except locale.Error:
            continue
    try:
        net = fann.load(write(tmp_path, FANN_TEXT))
        np.testing.assert_array_equal(net.weights[0], [[1.5], [6.0]])
    finally:
        locale.setlocale(locale.LC_NUMERIC, old)
