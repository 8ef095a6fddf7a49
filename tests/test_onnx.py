"""fastbp.compat.onnx: ONNX Runtime against net.forward, and ONNX files from
fastbp, torch.onnx.export and skl2onnx read back as networks.

Needs onnx and onnxruntime (pip install 'fastbp[onnx]'); the foreign
producers need torch, skl2onnx and scikit-learn, and skip without them.
Each comparison prints max |Δ|/max(1, max |y|), y the expected outputs
(pytest -s shows them).
"""
import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="needs onnx: pip install 'fastbp[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime: pip install 'fastbp[onnx]'")

import fastbp
from fastbp.compat import onnx as fbonnx
from onnx import TensorProto, helper, numpy_helper

from conftest import LAYOUTS as conftest_layouts
from conftest import DTYPES, HIDDEN, TOL, every_network, make_data, perturbed_net

LAYOUTS = {**conftest_layouts, 4: [5, 7, 1, 33, 6, 3]}  # conftest's, and 4 hidden layers


def _net(n_hidden, activation, cost, dtype, batch_norm, seed=0):
    return perturbed_net(LAYOUTS[n_hidden], activation, cost, dtype, batch_norm, seed)


def _run(model, X):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X})


def _maxdiff(a, b):
    """max |a − b| / max(1, max |b|): absolute for outputs up to 1
    (probabilities), relative to the largest output beyond (unbounded relu
    or linear outputs, whose float32 rounding grows with their scale)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


# ------------------------------------------------------------ save: ORT = forward


@every_network
def test_onnxruntime_equals_forward(activation, cost, batch_norm, n_hidden, dtype):
    net = _net(n_hidden, activation, cost, dtype, batch_norm)
    X, _ = make_data(net, 17)
    want = net.forward(X)
    for mode in ("node", "fold") if batch_norm else ("node",):
        model = fbonnx.to_onnx(net, batch_norm=mode)
        onnx.checker.check_model(model, full_check=True)
        (got,) = _run(model, X.astype(dtype))
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        diff = _maxdiff(got, want)
        print(f"{activation} {cost} bn={batch_norm}/{mode} {n_hidden} hidden {dtype}: "
              f"ORT vs forward max |Δ|/max(1,|y|max) = {diff:.3g}")
        assert diff <= TOL[dtype]
        back = fbonnx.load(model)
        assert back.forward(X).dtype == np.dtype(dtype)
        assert _maxdiff(back.forward(X), want) <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_graph_form(tmp_path, dtype):
    net = _net(2, "leaky_relu", "cross_entropy", dtype, True)
    path = tmp_path / "net.onnx"
    model = fbonnx.save(net, path)
    assert onnx.load(str(path)) == model
    onnx.checker.check_model(str(path), full_check=True)
    g = model.graph
    assert [i.name for i in g.input] == [fbonnx.INPUT_NAME] == ["input"]
    assert [o.name for o in g.output] == [fbonnx.OUTPUT_NAME] == ["output"]
    for value, width in ((g.input[0], 5), (g.output[0], 3)):
        tt = value.type.tensor_type
        assert tt.elem_type == (TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT)
        assert tt.shape.dim[0].dim_param == "N" and tt.shape.dim[1].dim_value == width
    ops = [n.op_type for n in g.node]
    leaky = ["Mul", "Max"] if dtype == "float64" else ["LeakyRelu"]
    assert ops == (["Gemm", "BatchNormalization"] + leaky) * 2 + ["Gemm", "Softmax"]
    assert all(t.data_type == g.input[0].type.tensor_type.elem_type for t in g.initializer)
    assert model.opset_import[0].version == 17 and model.ir_version == 8
    assert {p.key: p.value for p in model.metadata_props}["fastbp.cost"] == "cross_entropy"
    folded = fbonnx.to_onnx(net, batch_norm="fold")
    assert [n.op_type for n in folded.graph.node] == (["Gemm"] + leaky) * 2 + ["Gemm", "Softmax"]
    # a dynamic batch: one session runs 1 and 1000 rows
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (1, 1000):
        X = np.random.default_rng(n).standard_normal((n, 5)).astype(dtype)
        assert _maxdiff(sess.run(["output"], {"input": X})[0], net.forward(X)) <= TOL[dtype]


@pytest.mark.parametrize("opset", [13, 15, 17, 18, 20, 21])
@pytest.mark.parametrize("activation", HIDDEN)
def test_opsets(activation, opset):
    net = _net(2, activation, "cross_entropy", "float64", True)
    X, _ = make_data(net, 9)
    model = fbonnx.to_onnx(net, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    assert _maxdiff(_run(model, X)[0], net.forward(X)) <= TOL["float64"]


def test_save_arguments():
    net = _net(1, "relu", "quadratic", "float64", False)
    with pytest.raises(ValueError, match="opset"):
        fbonnx.to_onnx(net, opset=12)
    with pytest.raises(ValueError, match="batch_norm"):
        fbonnx.to_onnx(net, batch_norm="inline")
    with pytest.raises(TypeError, match="fastbp.Network"):
        fbonnx.to_onnx("net")


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, dtype):
    for net in (_net(3, ["relu", "identity", "sigmoid"], "binary_cross_entropy", dtype, False),
                fastbp.Network([4, 2], activation="relu", output_activation="identity",
                               dtype=dtype, seed=3),
                _net(2, "tanh", "quadratic", dtype, True)):
        fbonnx.save(net, tmp_path / "m.onnx")
        back = fbonnx.load(tmp_path / "m.onnx")
        for name in ("sizes", "output_activation", "cost", "dtype", "batch_norm"):
            assert getattr(back, name) == getattr(net, name), name
        if len(net.sizes) > 2:  # (without hidden layers `activation` means nothing)
            assert back.activation == net.activation
        for a, b in zip(back.weights + back.gammas, net.weights + net.gammas):
            np.testing.assert_array_equal(a, b)
        if not net.batch_norm:  # with batch norm β is exact, μ and σ² to rounding
            for a, b in zip(back.biases, net.biases):
                np.testing.assert_array_equal(a, b)
        X = np.random.default_rng(0).standard_normal((11, net.sizes[0]))
        assert _maxdiff(back.forward(X), net.forward(X)) <= TOL[dtype]
    assert fbonnx.load(tmp_path / "m.onnx", cost="quadratic").cost == "quadratic"
    assert fbonnx.load((tmp_path / "m.onnx").read_bytes()).sizes == net.sizes


# ------------------------------------------------------------ load: foreign producers


def _torch_model(torch, dtype, batch_norm):
    nn = torch.nn
    torch.manual_seed(0)
    layers = []
    for n_in, n_out, act in ((5, 8, nn.LeakyReLU(0.01)), (8, 6, nn.Tanh()),
                             (6, 4, nn.Sigmoid()), (4, 4, nn.ReLU())):
        layers += [nn.Linear(n_in, n_out)] + [nn.BatchNorm1d(n_out)] * batch_norm + [act]
    layers += [nn.Linear(4, 3), nn.Softmax(dim=-1)]
    model = nn.Sequential(*layers).to(getattr(torch, dtype))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
                m.running_mean.normal_()
                m.running_var.uniform_(0.2, 3)
    return model.eval()


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_load_torch_export(dtype, batch_norm, dynamo):
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript")
    model = _torch_model(torch, dtype, batch_norm)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((13, 5)).astype(dtype))
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), f, dynamo=True, verbose=False,
                              dynamic_shapes=({0: torch.export.Dim("batch")},))
        else:
            torch.onnx.export(model, (x,), f, dynamo=False, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})
    onnx_model = onnx.load_from_string(f.getvalue())
    net = fbonnx.load(onnx_model)
    assert net.sizes == (5, 8, 6, 4, 4, 3)
    assert net.activation == ["leaky_relu", "tanh", "sigmoid", "relu"]
    assert net.output_activation == "softmax" and net.cost == "cross_entropy"
    with torch.no_grad():
        want = model(x).numpy()
    diff = _maxdiff(net.forward(x.numpy()), want)
    print(f"torch.onnx.export dynamo={dynamo} {dtype} bn={batch_norm}: load vs torch "
          f"max |Δ|/max(1,|y|max) = {diff:.3g}")
    assert diff <= TOL[dtype]
    if dtype == "float32":  # ONNX Runtime has no float64 LeakyRelu at the exporters' opset
        assert _maxdiff(net.forward(x.numpy()), _run(onnx_model, x.numpy())[0]) <= TOL[dtype]


def _sklearn():
    pytest.importorskip("sklearn")
    return pytest.importorskip("skl2onnx")


SK_ACTS = ("identity", "logistic", "tanh", "relu")


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("activation", SK_ACTS)
def test_load_skl2onnx_classifier(activation, n_classes, float64):
    skl2onnx = _sklearn()
    from sklearn.neural_network import MLPClassifier
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = np.array(["ant", "bee", "cat"])[(X[:, 0] > 0).astype(int)
                                        + (n_classes == 3) * (X[:, 1] > 0.5).astype(int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(6, 5), activation=activation, max_iter=50,
                            random_state=0).fit(X, y)
    dtype = np.float64 if float64 else np.float32
    options = {"zipmap": False} if float64 else None  # ORT's ZipMap is float32 only
    model = skl2onnx.to_onnx(clf, X[:1].astype(dtype), options=options)
    net = fbonnx.load(model)
    assert net.dtype == dtype and net.sizes == (4, 6, 5, 1 if n_classes == 2 else 3)
    proba = clf.predict_proba(X)
    out = net.forward(X)
    got = np.hstack([1 - out, out]) if n_classes == 2 else out
    diff = _maxdiff(got, proba)
    print(f"skl2onnx MLPClassifier {activation} {n_classes} classes {dtype.__name__}: "
          f"load vs predict_proba max |Δ|/max(1,|y|max) = {diff:.3g}")
    assert diff <= TOL[np.dtype(dtype).name]
    np.testing.assert_array_equal(clf.classes_[net.predict(X)], clf.predict(X))


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("activation", SK_ACTS)
def test_load_skl2onnx_regressor(activation, n_outputs, float64):
    skl2onnx = _sklearn()
    from sklearn.neural_network import MLPRegressor
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 4))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])[:, :n_outputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(7,), activation=activation, max_iter=50,
                           random_state=0).fit(X, Y.ravel() if n_outputs == 1 else Y)
    dtype = np.float64 if float64 else np.float32
    net = fbonnx.load(skl2onnx.to_onnx(reg, X[:1].astype(dtype)))
    assert net.dtype == dtype and net.output_activation == "identity"
    diff = _maxdiff(net.forward(X), reg.predict(X).reshape(len(X), n_outputs))
    print(f"skl2onnx MLPRegressor {activation} {n_outputs} outputs {dtype.__name__}: "
          f"load vs predict max |Δ|/max(1,|y|max) = {diff:.3g}")
    assert diff <= TOL[np.dtype(dtype).name]


# ------------------------------------------------------------ load: refusals


def _graph(nodes, inits, inputs=("x",), elem=TensorProto.FLOAT, opset=17):
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(name, elem, ["N", 2]) for name in inputs],
        [helper.make_tensor_value_info("y", elem, None)],
        [numpy_helper.from_array(np.asarray(v, np.float32 if elem == TensorProto.FLOAT
                                            else np.float64), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


W22 = {"W": np.eye(2), "b": np.zeros(2)}


@pytest.mark.parametrize("nodes, inits, message", [
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("Elu", ["z"], ["y"], name="elu0")], W22, r"'elu0' \(Elu\)"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("LeakyRelu", ["z"], ["y"], name="lr0", alpha=0.2)], W22,
     r"'lr0' \(LeakyRelu\).*alpha"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1, alpha=2.0),
      helper.make_node("Relu", ["z"], ["y"])], W22, r"'g0' \(Gemm\).*alpha"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("Softmax", ["z"], ["s"], name="sm"),
      helper.make_node("Gemm", ["s", "W", "b"], ["y"], name="g1", transB=1)], W22,
     r"'g1' \(Gemm\).*after Softmax"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("Relu", ["z"], ["r"], name="r0"),
      helper.make_node("Sigmoid", ["r"], ["y"], name="s0")], W22,
     r"'s0' \(Sigmoid\).*second activation"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("BatchNormalization", ["z", "b", "b", "b", "b"], ["y"], name="bn0")],
     W22, r"'bn0' \(BatchNormalization\).*output layer"),
    ([helper.make_node("Relu", ["x"], ["r"], name="r0"),
      helper.make_node("Gemm", ["r", "W", "b"], ["y"], name="g0", transB=1)], W22,
     r"'r0' \(Relu\).*before the first layer"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"], name="g0", transB=1),
      helper.make_node("Add", ["z", "x"], ["y"], name="skip")], W22,
     r"'skip' \(Add\)"),
    ([helper.make_node("MatMul", ["x", "W"], ["z"], name="m0"),
      helper.make_node("Mul", ["z", "b"], ["y"], name="mul0")], W22, r"'mul0' \(Mul\)"),
], ids=["elu", "leaky-slope", "gemm-alpha", "softmax-hidden", "two-activations",
        "bn-output", "activation-first", "skip-connection", "mul"])
def test_load_refuses(nodes, inits, message):
    with pytest.raises(ValueError, match=message):
        fbonnx.load(_graph(nodes, inits))


def test_load_refuses_graph_shapes():
    gemm = helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="g0", transB=1)
    with pytest.raises(ValueError, match="exactly one input"):
        fbonnx.load(_graph([gemm], W22, inputs=("x", "x2")))
    with pytest.raises(ValueError, match="no Gemm or MatMul"):
        fbonnx.load(_graph([helper.make_node("Identity", ["x"], ["y"])], {}))
    # batch norm in one hidden layer of two
    net = _net(2, "relu", "quadratic", "float64", True)
    model = fbonnx.to_onnx(net, batch_norm="fold")
    nodes = list(model.graph.node)
    assert [n.op_type for n in nodes] == ["Gemm", "Relu"] * 3
    # rewire the first layer (33 units) through a BatchNormalization node
    gamma = numpy_helper.from_array(np.ones(33), "g_ones")
    zero = numpy_helper.from_array(np.zeros(33), "z_zero")
    bn_node = helper.make_node("BatchNormalization", ["z0", "g_ones", "z_zero", "z_zero",
                                                     "g_ones"], ["z0n"], name="bnA")
    nodes[1].input[0] = "z0n"
    g = helper.make_graph([nodes[0], bn_node] + nodes[1:], "g", model.graph.input,
                          model.graph.output, list(model.graph.initializer) + [gamma, zero])
    mixed = helper.make_model(g, opset_imports=model.opset_import)
    with pytest.raises(ValueError, match=r"'gemm1' \(Gemm\).*all or none"):
        fbonnx.load(mixed)


def test_load_other_forms():
    """Forms other producers write: Constant nodes, Gemm with transB=0 and a
    (1, n) bias, MatMul with Add(bias, z), PRelu, Identity, a Cast of a
    float32 input to double (the network is float64)."""
    rng = np.random.default_rng(3)
    W0, b0 = rng.standard_normal((2, 4)), rng.standard_normal((1, 4))   # (n_in, n_out)
    W1, b1 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    nodes = [helper.make_node("Constant", [], ["W0"], value=numpy_helper.from_array(W0)),
             helper.make_node("Cast", ["x"], ["xd"], to=TensorProto.DOUBLE),
             helper.make_node("Gemm", ["xd", "W0", "b0"], ["z"]),
             helper.make_node("PRelu", ["z", "slope"], ["a"]),
             helper.make_node("Identity", ["a"], ["a2"]),
             helper.make_node("MatMul", ["a2", "W1"], ["m"]),
             helper.make_node("Add", ["b1", "m"], ["y"])]
    inits = {"b0": b0, "slope": np.full(4, 0.01), "W1": W1, "b1": b1}
    g = helper.make_graph(  # the constants in double, the input float32
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 3])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    net = fbonnx.load(model)
    assert net.dtype == np.float64 and net.sizes == (2, 4, 3)
    assert net.activation == "leaky_relu" and net.output_activation == "identity"
    X = rng.standard_normal((9, 2)).astype(np.float32)
    assert _maxdiff(net.forward(X), _run(model, X)[0]) <= TOL["float64"]


def test_load_epsilon_and_bias_before_batch_norm():
    """A Gemm with a bias before BatchNormalization of another epsilon: the
    loaded network computes what ONNX Runtime computes."""
    rng = np.random.default_rng(0)
    inits = {"W": rng.standard_normal((3, 2)), "c": rng.standard_normal(3),
             "s": rng.uniform(0.5, 2, 3), "B": rng.standard_normal(3),
             "m": rng.standard_normal(3), "v": rng.uniform(0.1, 2, 3),
             "W2": rng.standard_normal((2, 3)), "b2": rng.standard_normal(2)}
    nodes = [helper.make_node("Gemm", ["x", "W", "c"], ["z"], transB=1),
             helper.make_node("BatchNormalization", ["z", "s", "B", "m", "v"], ["n"],
                              epsilon=1e-3),
             helper.make_node("Tanh", ["n"], ["a"]),
             helper.make_node("Gemm", ["a", "W2", "b2"], ["y"], transB=1)]
    model = _graph(nodes, inits, elem=TensorProto.DOUBLE)
    net = fbonnx.load(model)
    assert net.batch_norm and net.activation == "tanh" and net.output_activation == "identity"
    X = rng.standard_normal((9, 2))
    assert _maxdiff(net.forward(X), _run(model, X)[0]) <= TOL["float64"]


# ------------------------------------------------------------ skl2onnx converter


def _pipelines(kind, n, seed=0):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import fastbp.sklearn as fsk
    import sklearn.neural_network as skn
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, 4)) * 3 + 1
    if kind == "classifier":
        y = np.array(["ant", "bee", "cat"])[:n][np.argmax(X[:, :n], axis=1)]
        est = dict(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
        pipes = [make_pipeline(StandardScaler(), cls(**est)) for cls in
                 (fsk.MLPClassifier, skn.MLPClassifier)]
    else:
        y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5])[:, :n]
        y = y.ravel() if n == 1 else y
        est = dict(hidden_layer_sizes=(6, 3), max_iter=30, random_state=0)
        pipes = [make_pipeline(StandardScaler(), cls(**est)) for cls in
                 (fsk.MLPRegressor, skn.MLPRegressor)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in pipes:
            p.fit(X, y)
    return X, pipes


def _signature(model):
    return [(o.name, o.type) for o in model.graph.output]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_skl2onnx_converter_classifier(n_classes):
    skl2onnx = _sklearn()
    pytest.importorskip("fastbp.sklearn")
    fbonnx.register_skl2onnx()
    fbonnx.register_skl2onnx()  # twice: harmless
    X, (ours, theirs) = _pipelines("classifier", n_classes)
    X32 = X.astype(np.float32)
    model = skl2onnx.to_onnx(ours, X32[:1])
    onnx.checker.check_model(model)
    assert _signature(model) == _signature(skl2onnx.to_onnx(theirs, X32[:1]))
    labels, probas = _run(model, X32)
    np.testing.assert_array_equal(labels, ours.predict(X))
    got = np.array([[p[c] for c in ours.classes_] for p in probas])
    diff = _maxdiff(got, ours.predict_proba(X))
    print(f"skl2onnx converter, fastbp MLPClassifier {n_classes} classes float32: "
          f"max |Δ|/max(1,|y|max) = {diff:.3g}")
    assert diff <= TOL["float32"]
    # float64 without ZipMap (ONNX Runtime's ZipMap takes float32 only)
    model = skl2onnx.to_onnx(ours, X[:1], options={id(ours[-1]): {"zipmap": False}})
    labels, probas = _run(model, X)
    np.testing.assert_array_equal(labels, ours.predict(X))
    diff = _maxdiff(probas, ours.predict_proba(X))
    print(f"skl2onnx converter, fastbp MLPClassifier {n_classes} classes float64: "
          f"max |Δ|/max(1,|y|max) = {diff:.3g}")
    assert diff <= TOL["float64"]


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_skl2onnx_converter_regressor(n_outputs):
    skl2onnx = _sklearn()
    pytest.importorskip("fastbp.sklearn")
    fbonnx.register_skl2onnx()
    X, (ours, theirs) = _pipelines("regressor", n_outputs)
    for dtype in DTYPES:
        model = skl2onnx.to_onnx(ours, X[:1].astype(dtype))
        onnx.checker.check_model(model)
        (got,) = _run(model, X.astype(dtype))
        assert got.shape == (len(X), n_outputs)
        diff = _maxdiff(got, ours.predict(X).reshape(len(X), n_outputs))
        print(f"skl2onnx converter, fastbp MLPRegressor {n_outputs} outputs {dtype}: "
              f"max |Δ|/max(1,|y|max) = {diff:.3g}")
        assert diff <= TOL[dtype]
        if n_outputs == 1:  # (scikit-learn's converter gives (N·n_outputs, 1) for more)
            assert _signature(model) == _signature(skl2onnx.to_onnx(theirs, X[:1].astype(dtype)))


def test_skl2onnx_converter_per_layer_activations():
    skl2onnx = _sklearn()
    fsk = pytest.importorskip("fastbp.sklearn")
    fbonnx.register_skl2onnx()
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = fsk.MLPClassifier(hidden_layer_sizes=(5, 4), activation=["tanh", "relu"],
                                max_iter=40, random_state=0).fit(X, y)
    model = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    labels, probas = _run(model, X)
    np.testing.assert_array_equal(labels, clf.predict(X))
    assert _maxdiff(probas, clf.predict_proba(X)) <= TOL["float64"]
    # and the ONNX file reads back as the network
    net = fbonnx.load(model)
    assert net.activation == ["tanh", "relu"]
    assert _maxdiff(net.forward(X), clf.predict_proba(X)) <= TOL["float64"]
