"""The peers the benchmark times, each built when its section is set up: fastbp,
the NumPy reference, PyTorch, JAX, scikit-learn and ONNX Runtime. A peer that
is not installed raises NotInstalled, which its row reports."""
import warnings

import numpy as np

from .. import reference, set_num_threads
from .common import FASTBP_EPOCHS, LR, THREADS, blas_threads, chunks, import_peer, make_net

# ------------------------------------------------------------ training peers
# each returns (a function running some whole epochs, epochs per call)

def fastbp_train(cfg, X, Y, threads):
    net = make_net(cfg)
    batch = cfg[4]

    def train():
        set_num_threads(threads)
        net.fit(X, Y, epochs=FASTBP_EPOCHS, batch_size=batch, lr=LR, shuffle=False)
    return train, FASTBP_EPOCHS


def numpy_train(cfg, X, Y, threads):
    net = make_net(cfg)
    order = np.arange(len(X))

    def train():
        with blas_threads(threads):
            # sgd_epoch works on copies; write them back so each epoch continues
            w, b = reference.sgd_epoch(net, X, Y, order, cfg[4], LR)
        for l in range(len(w)):
            net.weights[l][...] = w[l]
            net.biases[l][...] = b[l]
    return train, 1


def torch_model(cfg, net):
    """nn.Sequential with the fastbp network's parameters (no output softmax:
    CrossEntropyLoss takes logits)."""
    torch = import_peer("torch")
    sizes, act, out_act = cfg[:3]
    acts = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, cfg[5]))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if l < len(sizes) - 2:
            layers.append(acts[act]())
    if out_act == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def torch_train(cfg, X, Y, threads):
    torch = import_peer("torch")
    torch.set_num_threads(threads)
    batch, cost = cfg[4], cfg[3]
    model = torch_model(cfg, make_net(cfg))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt = torch.from_numpy(X)
    if cost == "cross_entropy":
        Yt = torch.from_numpy(Y.argmax(axis=1))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        Yt = torch.from_numpy(Y)

        def loss_fn(out, y):  # fastbp's quadratic cost: mean of ½‖a − y‖²
            return 0.5 * ((out - y) ** 2).sum(dim=1).mean()

    def train():
        torch.set_num_threads(threads)
        for start in range(0, len(Xt), batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[start:start + batch]), Yt[start:start + batch])
            loss.backward()
            opt.step()
    return train, 1


def jax_functions(cfg):
    """(logits, outputs, loss) of the MLP in jax.numpy, params [(W, b), ...]
    with W of shape (out, in) as fastbp's."""
    jax = import_peer("jax")
    import jax.numpy as jnp
    act, out_act, cost = cfg[1], cfg[2], cfg[3]
    hidden = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu, "tanh": jnp.tanh}[act]

    def logits(params, x):
        for W, b in params[:-1]:
            x = hidden(x @ W.T + b)
        W, b = params[-1]
        return x @ W.T + b

    def outputs(params, x):
        z = logits(params, x)
        return jax.nn.softmax(z, axis=1) if out_act == "softmax" else jax.nn.sigmoid(z)

    def loss(params, x, y):
        if cost == "cross_entropy":  # softmax cross-entropy, mean over the batch
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits(params, x), axis=1), axis=1))
        return 0.5 * jnp.mean(jnp.sum((outputs(params, x) - y) ** 2, axis=1))  # ½‖a−y‖²
    return logits, outputs, loss


def jax_params(net):
    import jax.numpy as jnp
    return [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]


def jax_train(cfg, X, Y, threads):
    jax = import_peer("jax")
    import jax.numpy as jnp
    from jax import lax
    _, _, loss = jax_functions(cfg)
    batch = cfg[4]
    grad = jax.grad(loss)

    def step(params, xy):
        g = grad(params, *xy)
        return jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g), None

    @jax.jit
    def epoch(params, Xb, Yb, tail):
        params, _ = lax.scan(step, params, (Xb, Yb))
        if tail is not None:  # the short last batch, as fit and the others run it
            params, _ = step(params, tail)
        return params

    full = len(X) // batch * batch
    Xb = jnp.asarray(X[:full].reshape(-1, batch, X.shape[1]))
    Yb = jnp.asarray(Y[:full].reshape(-1, batch, Y.shape[1]))
    tail = (jnp.asarray(X[full:]), jnp.asarray(Y[full:])) if full < len(X) else None
    state = [jax_params(make_net(cfg))]

    def train():
        state[0] = epoch(state[0], Xb, Yb, tail)
        jax.block_until_ready(state[0])
    return train, 1


def sklearn_train(cfg, X, Y, threads):
    import_peer("sklearn")
    from sklearn.neural_network import MLPClassifier
    sizes, act, out_act, cost, batch, dtype = cfg
    y = Y.argmax(axis=1)
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1],
                        activation={"sigmoid": "logistic"}.get(act, act), solver="sgd",
                        batch_size=batch, learning_rate_init=LR, momentum=0.0, alpha=0.0,
                        shuffle=False, random_state=0)
    with blas_threads(threads):
        clf.partial_fit(X, y, classes=np.arange(10))

    def train():
        with blas_threads(threads):
            clf.partial_fit(X, y)
    return train, 1


TRAIN_PEERS = [  # label, peer, threads
    ("fastbp 1 thread", fastbp_train, 1),
    (f"fastbp {THREADS} threads", fastbp_train, THREADS),
    ("numpy", numpy_train, THREADS),
    ("torch", torch_train, THREADS),
    ("jax", jax_train, None),
    ("sklearn", sklearn_train, THREADS),
]


# ------------------------------------------------------------ inference peers
# each returns (forward on every 256-row batch, forward on the whole set in one call)

def fastbp_infer(cfg, X, threads):
    net = make_net(cfg)
    parts = chunks(X)

    def batches():
        set_num_threads(threads)
        for part in parts:
            net.forward(part)

    def whole():
        set_num_threads(threads)
        net.forward(X)
    return batches, whole


def numpy_infer(cfg, X, threads):
    net = make_net(cfg)
    parts = chunks(X)

    def batches():
        with blas_threads(threads):
            for part in parts:
                reference.forward(net, part)

    def whole():
        with blas_threads(threads):
            reference.forward(net, X)
    return batches, whole


def torch_infer(cfg, X, threads):
    torch = import_peer("torch")
    torch.set_num_threads(threads)
    model = torch_model(cfg, make_net(cfg))
    head = torch.nn.Softmax(dim=1) if cfg[2] == "softmax" else torch.nn.Identity()
    Xt = torch.from_numpy(X)
    parts = chunks(Xt)

    def batches():
        torch.set_num_threads(threads)
        with torch.no_grad():
            for part in parts:
                head(model(part))

    def whole():
        torch.set_num_threads(threads)
        with torch.no_grad():
            head(model(Xt))
    return batches, whole


def jax_infer(cfg, X, threads):
    jax = import_peer("jax")
    import jax.numpy as jnp
    _, outputs, _ = jax_functions(cfg)
    forward = jax.jit(outputs)
    params = jax_params(make_net(cfg))
    parts = [jnp.asarray(part) for part in chunks(X)]
    Xd = jnp.asarray(X)

    def batches():
        for part in parts:
            forward(params, part).block_until_ready()

    def whole():
        forward(params, Xd).block_until_ready()
    return batches, whole


def onnx_graph(cfg, net):
    """The MLP as ONNX: Gemm(X, W, b, transB=1) and an activation node per layer."""
    onnx = import_peer("onnx")
    from onnx import TensorProto, helper, numpy_helper
    sizes, act, out_act = cfg[:3]
    elem = TensorProto.DOUBLE if cfg[5] == "float64" else TensorProto.FLOAT
    ops = {"sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh", "softmax": "Softmax"}
    nodes, inits, x = [], [], "X"
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        inits += [numpy_helper.from_array(np.ascontiguousarray(W), f"W{l}"),
                  numpy_helper.from_array(np.array(b), f"b{l}")]
        nodes.append(helper.make_node("Gemm", [x, f"W{l}", f"b{l}"], [f"z{l}"], transB=1))
        op = ops[act if l < len(sizes) - 2 else out_act]
        x = f"a{l}"
        nodes.append(helper.make_node(op, [f"z{l}"], [x], **({"axis": 1} if op == "Softmax" else {})))
    graph = helper.make_graph(
        nodes, "fastbp_mlp", [helper.make_tensor_value_info("X", elem, [None, sizes[0]])],
        [helper.make_tensor_value_info(x, elem, [None, sizes[-1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime of the last years
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_infer(cfg, X, threads):
    ort = import_peer("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(onnx_graph(cfg, make_net(cfg)), so,
                                       providers=["CPUExecutionProvider"])
    except Exception as e:
        raise RuntimeError(f"onnxruntime cannot run this {cfg[5]} graph: "
                           f"{str(e).splitlines()[0][:160]}") from None
    parts = chunks(X)

    def batches():
        for part in parts:
            session.run(None, {"X": part})

    def whole():
        session.run(None, {"X": X})
    return batches, whole


def sklearn_infer(cfg, X, threads):
    import_peer("sklearn")
    from sklearn.neural_network import MLPClassifier
    sizes, act = cfg[0], cfg[1]
    net = make_net(cfg)
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1],
                        activation={"sigmoid": "logistic"}.get(act, act), max_iter=1)
    with warnings.catch_warnings(), blas_threads(threads):
        warnings.simplefilter("ignore")
        clf.fit(X[:20], np.arange(20) % 10)  # shapes only; its parameters are fastbp's
    clf.coefs_ = [W.T.copy() for W in net.weights]
    clf.intercepts_ = [b.copy() for b in net.biases]
    parts = chunks(X)

    def batches():
        with blas_threads(threads):
            for part in parts:
                clf.predict_proba(part)

    def whole():
        with blas_threads(threads):
            clf.predict_proba(X)
    return batches, whole


INFER_PEERS = [
    ("fastbp 1 thread", fastbp_infer, 1),
    (f"fastbp {THREADS} threads", fastbp_infer, THREADS),
    ("numpy", numpy_infer, THREADS),
    ("torch", torch_infer, THREADS),
    ("jax", jax_infer, None),
    ("onnxruntime 1 thread", onnxruntime_infer, 1),
    (f"onnxruntime {THREADS} threads", onnxruntime_infer, THREADS),
    ("sklearn", sklearn_infer, THREADS),
]


