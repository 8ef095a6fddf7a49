"""ONNX models: fastbp networks out to ONNX, ONNX chains of dense layers in.

Needs the 'onnx' extra (``pip install 'fastbp[onnx]'``: onnx, and
onnxruntime to run what ``save`` writes)::

    from fastbp.compat import onnx as fbonnx
    fbonnx.save(net, "model.onnx")        # onnxruntime: sess.run(None, {"input": X})[0]
    net = fbonnx.load("model.onnx")       # a fastbp.Network

save (``to_onnx`` returns the same model without writing it)
------------------------------------------------------------
One graph input ``"input"``, shape ``[N, sizes[0]]``, and one output
``"output"``, shape ``[N, sizes[-1]]``: N is dynamic, both are the network's
dtype (float32 or float64), as are all parameters. Layer l is

- ``Gemm(A, W_l, b_l, transB=1)``, W_l as ``net.weights[l]`` stores it,
  shape (n_out, n_in);
- its activation: ``Sigmoid``, ``Tanh``, ``Relu``, ``LeakyRelu(alpha=0.01)``,
  ``Softmax(axis=-1)``, and no node for 'identity'. float64 leaky_relu is
  ``Max(z, Mul(z, 0.01))`` with a float64 constant 0.01 instead, the same
  numbers as fastbp's: an ONNX float attribute is float32 (alpha=0.01 would
  make the slope 0.0099999998), and ONNX Runtime 1.32 runs float64
  ``LeakyRelu`` and ``PRelu`` at opsets 16 to 18 only.
- batch norm of a hidden layer, ``batch_norm="node"`` (the default): a Gemm
  without bias, then ``BatchNormalization(scale=γ, B=β, input_mean=running
  mean, input_var=running variance, epsilon=1e-5)`` (β is the layer's bias,
  as in fastbp), then the activation. ONNX's epsilon attribute is a float32
  (1e-5 becomes 9.99999975e-06), so the variance written is the running
  variance plus (1e-5 − float32(1e-5)) ≈ 2.5e-13: var + epsilon is then the
  network's to one rounding in float64. ``batch_norm="fold"``: no
  BatchNormalization node, W_l and b_l replaced by s·W_l and β − s·μ,
  s = γ/√(σ² + 1e-5) per unit, computed in float64.

``opset`` is 13 (the first with ``Softmax(axis=-1)`` over the last axis) up to
what the installed onnx knows; the model's IR version is the lowest that
opset allows. The metadata key ``"fastbp.cost"`` keeps the cost for ``load``.
ONNX Runtime's CPU provider runs every op written here in float64 and
float32 (Gemm, Sigmoid, Tanh, Relu, LeakyRelu for float32, Mul and Max,
Softmax, BatchNormalization): tests/test_onnx.py runs them at opsets 13, 15,
17, 18, 20 and 21 and finds the outputs equal to ``net.forward`` to 1e-12
(float64) and 1e-5 (float32, relative to the largest output above 1).

load
----
``load(source, cost=None)`` reads a path, the bytes of a model, or an
``onnx.ModelProto``. It accepts a graph with one input of float or double
elements that runs through a chain, each node taking the one before it (and
constants), of:

- layers: ``Gemm`` (alpha = beta = 1, transA = 0, transB 0 or 1, bias C
  absent or broadcast along the batch), or ``MatMul`` followed optionally by
  ``Add`` of a constant;
- after a hidden layer's Gemm or MatMul(+Add), optionally
  ``BatchNormalization`` (inference mode; in all hidden layers or none):
  fastbp's γ, β and running estimates are scale, B, input_mean − C (C the
  layer's bias) and input_var + epsilon − 1e-5, so the network computes
  what the file says whatever its epsilon;
- activations ``Sigmoid``, ``Tanh``, ``Relu``, ``LeakyRelu`` with alpha
  0.01 (as float32), ``PRelu`` with every slope 0.01 (in its dtype),
  ``Max(z, Mul(z, 0.01))`` (what ``save`` writes for float64), and
  ``Softmax`` over the last axis after the last layer only; no activation
  between two layers is 'identity';
- ``Identity``, ``Constant``, and a ``Cast`` to float or double (before the
  first layer it sets the network's dtype; later only a cast to the same
  type), all taken as no-ops.

This is what ``save`` writes, what ``torch.onnx.export`` writes for an
``nn.Sequential`` of Linear, BatchNorm1d and these activations (both
exporters), and what skl2onnx writes for scikit-learn's ``MLPClassifier``
and ``MLPRegressor`` (``Cast``, then MatMul + Add and the activations). The
network's outputs are the value at the end of the chain: for skl2onnx's
classifier the class probabilities (one logistic unit, the positive
class's, for two classes), for its regressor the predictions. What
skl2onnx puts after the chain is dropped: those nodes may only be
``Identity``, ``Reshape``, ``Sub``, ``Concat``, ``ArgMax``, ``Cast``,
``ArrayFeatureExtractor``, ``ZipMap`` and ``Binarizer`` (the probability of
the negative class, the argmax into ``classes_``, the dictionaries of
ZipMap): ``net.predict`` gives the index into the producer's ``classes_``,
whose labels are not kept. Anything else raises a ValueError naming the
node and its op.

The cost of the loaded network is ``cost`` if given, else the one ``save``
recorded, else 'cross_entropy' for a softmax output and 'quadratic'
otherwise (it matters only for training).

skl2onnx
--------
``register_skl2onnx()`` registers converters for ``fastbp.sklearn``'s
``MLPClassifier`` and ``MLPRegressor`` with skl2onnx (``pip install
skl2onnx``), after which ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a
pipeline that contains them. The graphs are those of skl2onnx's converters
for scikit-learn's MLPs, with the same outputs and options (``zipmap``,
``output_class_labels``, ``nocl``): the classifier gives ``label`` and
``probabilities`` (ZipMap'd unless ``options={id(estimator): {"zipmap":
False}}``; ONNX Runtime's ZipMap takes float32 only, so float64 inputs need
``zipmap=False``), the regressor its predictions. The differences: a
different activation per hidden layer is supported, a multi-label
classifier with two labels gets no negative-class column (skl2onnx's
converter adds one whenever there are two classes), and a regressor with
several outputs gives shape (N, n_outputs) (skl2onnx's MLPRegressor
converter reshapes to (N·n_outputs, 1)).
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional, Union

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    raise ImportError("fastbp.compat.onnx needs onnx: pip install 'fastbp[onnx]'") from e

from .._validation import LEAKY_SLOPE, check_name, COSTS
from .._version import __version__
from ..network import Network
from ._layers import set_parameters

__all__ = ["save", "load", "to_onnx", "register_skl2onnx", "INPUT_NAME", "OUTPUT_NAME"]

INPUT_NAME = "input"
OUTPUT_NAME = "output"
BN_EPS = 1e-5             # fastbp's batch norm ε (torch's BatchNorm1d default)
MIN_OPSET = 13

_ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}
_DTYPE = {v: k for k, v in _ELEM.items()}
_ACT_OP = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax"}
_OP_ACT = {v: k for k, v in _ACT_OP.items()}
# what skl2onnx puts after the MLP: dropped by load
_TAIL_OPS = {"Identity", "Reshape", "Sub", "Concat", "ArgMax", "Cast",
             "ArrayFeatureExtractor", "ZipMap", "Binarizer"}


# ---------------------------------------------------------------- save


def to_onnx(net: Network, opset: int = 17, batch_norm: str = "node") -> "onnx.ModelProto":
    """The network as an ONNX model (see the module docstring), checked by
    ``onnx.checker.check_model``.

    Parameters
    ----------
    net : fastbp.Network
    opset : int
        The ONNX opset of the graph.
    batch_norm : 'node' or 'fold'
        Batch norm as BatchNormalization nodes, or folded into the products.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) \
            or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an int from {MIN_OPSET} to {newest}; got {opset!r}")
    check_name(batch_norm, ("node", "fold"), "batch_norm")
    dtype = net.dtype
    elem = _ELEM[dtype]
    acts = _layer_activations(net)
    L = len(net.weights)
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    cur = INPUT_NAME
    offsets = np.cumsum([0] + list(net.sizes[1:-1]))
    for l in range(L):
        W = np.asarray(net.weights[l], dtype=np.float64)
        b = np.asarray(net.biases[l], dtype=np.float64)
        last = l == L - 1
        bn = net.batch_norm and not last
        gemm_out = OUTPUT_NAME if last and acts[l] == "identity" else f"z{l}"
        if bn:
            sl = slice(offsets[l], offsets[l + 1])
            gamma = np.asarray(net.gammas[l], dtype=np.float64)
            mean, var = net.running_mean[sl], net.running_var[sl]
            if batch_norm == "fold":
                s = gamma / np.sqrt(var + BN_EPS)
                W, b, bn = W * s[:, None], b - s * mean, False
        if bn:
            nodes.append(helper.make_node("Gemm", [cur, const(f"W{l}", W)], [f"z{l}"],
                                          name=f"gemm{l}", transB=1))
            eps32 = float(np.float32(BN_EPS))
            var_file = var + (BN_EPS - eps32)  # so that var_file + eps32 = var + 1e-5
            nodes.append(helper.make_node(
                "BatchNormalization",
                [f"z{l}", const(f"gamma{l}", gamma), const(f"beta{l}", b),
                 const(f"mean{l}", mean), const(f"var{l}", var_file)],
                [f"y{l}"], name=f"batchnorm{l}", epsilon=BN_EPS))
            cur = f"y{l}"
        else:
            nodes.append(helper.make_node("Gemm", [cur, const(f"W{l}", W), const(f"b{l}", b)],
                                          [gemm_out], name=f"gemm{l}", transB=1))
            cur = gemm_out
        out = OUTPUT_NAME if last else f"a{l}"
        act = acts[l]
        if act == "identity":  # no node: the Gemm (or batch norm) is the layer's output
            continue
        if act == "leaky_relu":
            if dtype == np.float64:
                nodes.append(helper.make_node("Mul", [cur, const(f"slope{l}", LEAKY_SLOPE)],
                                              [f"leak{l}"], name=f"leak{l}"))
                nodes.append(helper.make_node("Max", [cur, f"leak{l}"], [out],
                                              name=f"leakyrelu{l}"))
            else:
                nodes.append(helper.make_node("LeakyRelu", [cur], [out], name=f"leakyrelu{l}",
                                              alpha=LEAKY_SLOPE))
        elif act == "softmax":
            nodes.append(helper.make_node("Softmax", [cur], [out], name=f"softmax{l}", axis=-1))
        else:
            nodes.append(helper.make_node(_ACT_OP[act], [cur], [out], name=f"{act}{l}"))
        cur = out

    graph = helper.make_graph(
        nodes, "fastbp_network",
        [helper.make_tensor_value_info(INPUT_NAME, elem, ["N", net.sizes[0]])],
        [helper.make_tensor_value_info(OUTPUT_NAME, elem, ["N", net.sizes[-1]])],
        inits, doc_string=repr(net))
    opsets = [helper.make_opsetid("", int(opset))]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastbp",
                              producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(model, {"fastbp.cost": net.cost})
    onnx.checker.check_model(model)
    return model


def save(net: Network, path: Union[str, os.PathLike], opset: int = 17,
         batch_norm: str = "node") -> "onnx.ModelProto":
    """Write the network as an ONNX model to `path` (atomically: a
    temporary file renamed into place) and return the model. `opset` and
    `batch_norm` ('node' or 'fold'): see the module docstring.

    Parameters
    ----------
    net : fastbp.Network
    path : str or os.PathLike
    opset, batch_norm : as for `to_onnx`.
    """
    model = to_onnx(net, opset, batch_norm)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fastbp-", suffix=".onnx.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return model


def _layer_activations(net):
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    return list(hidden) + [net.output_activation]


# ---------------------------------------------------------------- load


def _describe(node):
    return f"node {node.name or node.output[0]!r} ({node.op_type})"


def _refuse(node, why):
    raise ValueError(f"fastbp.compat.onnx.load: {_describe(node)}: {why}")


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Layer:
    def __init__(self, node, W, b):
        self.node = node                  # its Gemm or MatMul, for messages
        self.W = W                        # (n_out, n_in), float64
        self.b = b                        # (n_out,), float64
        self.bn = None                    # (γ, β, mean, var) in fastbp's terms
        self.bn_node = None
        self.act = None


def load(source, cost: Optional[str] = None) -> Network:
    """A fastbp.Network from an ONNX model: a path, the model's bytes, or
    an ``onnx.ModelProto``. See the module docstring for what is read and
    what is refused (ValueError naming the node and op).

    Parameters
    ----------
    source : str, os.PathLike, bytes or onnx.ModelProto
    cost : str or None
        The network's cost; None: the one `save` recorded in the model's
        metadata, else 'cross_entropy' for a softmax output, 'quadratic'.
    """
    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(source))
    else:
        model = onnx.load(os.fspath(source))
    if cost is not None:
        check_name(cost, COSTS, "cost")
    graph = _Graph(model.graph)
    chain = _Chain(graph, _opset(model)).read()
    _check_the_rest(graph, chain.nodes)
    if not chain.layers:
        raise ValueError("fastbp.compat.onnx.load: the graph has no Gemm or MatMul layer")
    return _network(model, chain.layers, chain.dtype, cost)


class _Graph:
    """An ONNX graph as ``load`` reads it: its constants (initializers,
    Constant nodes and Identity of a constant) folded into ``consts``, the
    other nodes in topological order, its one input and who consumes what."""

    def __init__(self, g):
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.nodes = []
        for node in g.node:  # ONNX keeps nodes in topological order
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                attrs = _attrs(node)
                if "value" not in attrs:
                    _refuse(node, "only a Constant with a tensor 'value' is read")
                self.consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
            elif node.op_type == "Identity" and node.input[0] in self.consts:
                self.consts[node.output[0]] = self.consts[node.input[0]]
            else:
                self.nodes.append(node)
        self.input_name, self.dtype = self._input(g)
        self.consumers = {}
        for node in self.nodes:
            for name in node.input:
                if name and name not in self.consts:
                    self.consumers.setdefault(name, []).append(node)

    def _input(self, g):
        """(name, dtype) of the graph's one input that is not a constant."""
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ValueError(f"fastbp.compat.onnx.load: the graph needs exactly one input; it "
                             f"has {[i.name for i in inputs]}")
        tt = inputs[0].type.tensor_type
        if not inputs[0].type.HasField("tensor_type") or tt.elem_type not in _DTYPE:
            raise ValueError(f"fastbp.compat.onnx.load: input {inputs[0].name!r} must be a "
                             f"tensor of float or double")
        if tt.HasField("shape") and len(tt.shape.dim) != 2:
            raise ValueError(f"fastbp.compat.onnx.load: input {inputs[0].name!r} must have 2 "
                             f"dimensions (batch, features); it has {len(tt.shape.dim)}")
        return inputs[0].name, _DTYPE[tt.elem_type]

    def only_consumer(self, name):
        c = self.consumers.get(name, [])
        return c[0] if len(c) == 1 else None

    def const_of(self, node, name, what):
        """The floating-point constant `name`, an input of `node` (its `what`)."""
        if name not in self.consts:
            _refuse(node, f"its {what} {name!r} must be a constant")
        value = self.consts[name]
        if value.dtype.kind != "f":
            _refuse(node, f"its {what} {name!r} must be floating point; it is {value.dtype}")
        return value


def _bias_of(node, value, n_out):
    """`value` broadcast to (n_out,) float64, as `node` adds it along the batch."""
    try:
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (1, n_out)).reshape(n_out)
    except ValueError:
        _refuse(node, f"its bias of shape {value.shape} does not broadcast to (1, {n_out})")


class _Chain:
    """The walk from the graph's input along the chain of nodes, each taking
    the value of the one before: ``layers`` the _Layer records read,
    ``nodes`` the ids of the nodes read as the network, ``dtype`` the
    chain's values' (a Cast before the first layer sets it)."""

    def __init__(self, graph, opset):
        self.graph = graph
        self.opset = opset
        self.layers = []
        self.nodes = set()
        self.dtype = graph.dtype

    def read(self):
        cur = self.graph.input_name
        while cur is not None:
            cur = self._next(cur)
        return self

    def _next(self, cur):
        """Read what takes the value `cur`; the value after it, or None where
        the chain ends."""
        node = self.graph.only_consumer(cur)
        if node is None:
            leaky = _leaky_max(cur, self.graph.consumers, self.graph.consts) \
                if self.layers else None
            return self._mul_max(leaky) if leaky is not None else self._end(cur)
        if node.domain not in ("", "ai.onnx"):
            return None
        if node.input[0] != cur and node.op_type not in _TAIL_OPS:
            _refuse(node, "the chain's value must be its first input")
        read = self._READ.get(node.op_type)
        return read(self, node) if read is not None else None

    def _take(self, *nodes):
        """Mark `nodes` as read; the value after the last one."""
        self.nodes.update(id(n) for n in nodes)
        return nodes[-1].output[0]

    def _end(self, cur):
        branches = self.graph.consumers.get(cur, [])
        if any(n.op_type not in _TAIL_OPS for n in branches):
            raise ValueError(
                f"fastbp.compat.onnx.load: {cur!r} feeds "
                f"{' and '.join(_describe(n) for n in branches)}: fastbp reads a chain, "
                f"each node taking the value of the one before")
        return None

    def _cast(self, node):
        to = _attrs(node).get("to")
        if to not in _DTYPE:
            return None
        if not self.layers:
            self.dtype = _DTYPE[to]
        elif _DTYPE[to] != self.dtype:
            return None
        return self._take(node)

    def _layer(self, node):
        """A Gemm, or a MatMul with the Add of its bias if one follows."""
        layers = self.layers
        if layers and layers[-1].act == "softmax":
            _refuse(node, "a layer after Softmax: fastbp has softmax on the output only")
        W, b, add = self._gemm(node) if node.op_type == "Gemm" else self._matmul(node)
        if W.dtype != self.dtype:
            _refuse(node, f"its weight is {W.dtype}, the chain's values {self.dtype}")
        n_in = layers[-1].W.shape[0] if layers else W.shape[1]
        if W.shape[1] != n_in:
            _refuse(node, f"its weight takes {W.shape[1]} inputs; the layer before has "
                          f"{n_in} units")
        layers.append(_Layer(node, np.asarray(W, dtype=np.float64), b))
        return self._take(*[n for n in (node, add) if n is not None])

    def _weight(self, node):
        B = self.graph.const_of(node, node.input[1], "weight")
        if B.ndim != 2:
            _refuse(node, f"its weight must be 2-D; it has shape {B.shape}")
        return B

    def _gemm(self, node):
        """(W, b, None) of a Gemm, W (n_out, n_in) in the file's dtype."""
        a = _attrs(node)
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            _refuse(node, "only alpha = beta = 1 and transA = 0 are read")
        B = self._weight(node)
        W = B if a.get("transB", 0) else B.T
        if len(node.input) > 2 and node.input[2]:
            b = _bias_of(node, self.graph.const_of(node, node.input[2], "bias"), W.shape[0])
        else:
            b = np.zeros(W.shape[0])
        return W, b, None

    def _matmul(self, node):
        """(W, b, the Add node or None) of a MatMul and the Add of a constant
        that may follow it."""
        W = self._weight(node).T
        out = node.output[0]
        add = self.graph.only_consumer(out)
        if add is not None and add.op_type == "Add" and add.domain in ("", "ai.onnx"):
            other = [n for n in add.input if n != out]
            if len(other) == 1 and other[0] in self.graph.consts:
                b = _bias_of(add, self.graph.const_of(add, other[0], "bias"), W.shape[0])
                return W, b, add
        return W, np.zeros(W.shape[0]), None

    def _batch_norm(self, node):
        layer = self.layers[-1] if self.layers else None
        if layer is None or layer.bn is not None or layer.act is not None:
            _refuse(node, "batch norm must follow a layer's Gemm or MatMul(+Add), "
                          "before its activation")
        a = _attrs(node)
        if a.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
            _refuse(node, "only inference-mode batch normalization is read")
        n = layer.W.shape[0]
        scale, beta, mean, var = (
            _bias_of(node, self.graph.const_of(node, name, what), n)
            for name, what in zip(node.input[1:5], ("scale", "B", "input_mean", "input_var")))
        eps = float(a.get("epsilon", 1e-5))
        # y = scale·(Wx + c − mean)/√(var + eps) + B, fastbp's form with μ = mean − c
        layer.bn = (scale, beta, mean - layer.b, var + eps - BN_EPS)
        layer.bn_node = node
        layer.b = beta
        return self._take(node)

    def _unactivated_layer(self, node):
        """The layer `node` activates, refused if it has one already."""
        if not self.layers:
            _refuse(node, "an activation before the first layer")
        layer = self.layers[-1]
        if layer.act is not None:
            _refuse(node, f"a second activation after {layer.act!r}")
        return layer

    def _activation(self, node):
        """Sigmoid, Tanh, Relu, LeakyRelu, PRelu or Softmax."""
        layer = self._unactivated_layer(node)
        op, a = node.op_type, _attrs(node)
        if op == "LeakyRelu":
            if np.float32(a.get("alpha", 0.01)) != np.float32(LEAKY_SLOPE):
                _refuse(node, f"alpha {a.get('alpha')}: fastbp's leaky_relu has slope "
                              f"{LEAKY_SLOPE}")
            layer.act = "leaky_relu"
        elif op == "PRelu":
            slope = self.graph.const_of(node, node.input[1], "slope")
            if not np.all(slope == slope.dtype.type(LEAKY_SLOPE)):
                _refuse(node, f"its slopes must all be {LEAKY_SLOPE} (fastbp's leaky_relu)")
            layer.act = "leaky_relu"
        elif op == "Softmax":
            axis = a.get("axis", -1 if self.opset >= 13 else 1)
            if axis not in (-1, 1):
                _refuse(node, f"softmax over axis {axis}: fastbp's is over the outputs")
            layer.act = "softmax"
        else:
            layer.act = _OP_ACT[op]
        return self._take(node)

    def _mul_max(self, mul_max):
        """The (Mul, Max) pair of the float64 leaky_relu that save writes."""
        layer = self.layers[-1]
        if layer.act is not None:
            _refuse(mul_max[1], f"a second activation after {layer.act!r}")
        layer.act = "leaky_relu"
        return self._take(*mul_max)

    # op -> what reads it (Identity is a no-op); any other op ends the chain
    _READ = {"Identity": _take, "Cast": _cast, "Gemm": _layer, "MatMul": _layer,
             "BatchNormalization": _batch_norm,
             **dict.fromkeys([*_OP_ACT, "LeakyRelu", "PRelu"], _activation)}


def _check_the_rest(graph, chain):
    """Refuse a node outside the chain unless it is of skl2onnx's tail."""
    for node in graph.nodes:
        if id(node) in chain:
            continue
        if node.op_type not in _TAIL_OPS:
            _refuse(node, "not part of a chain of dense layers and activations that fastbp "
                          "reads (Gemm or MatMul + Add, BatchNormalization, Sigmoid, Tanh, Relu, "
                          "LeakyRelu, PRelu, Softmax), nor of skl2onnx's tail after it")


def _leaky_max(cur, consumers, consts):
    """(Mul, Max) if the value `cur` feeds exactly Mul(cur, 0.01) and
    Max(cur, that product), the float64 leaky_relu that `save` writes."""
    branches = consumers.get(cur, [])
    if len(branches) != 2 or {n.op_type for n in branches} != {"Mul", "Max"} \
            or any(n.domain not in ("", "ai.onnx") for n in branches):
        return None
    mul, mx = sorted(branches, key=lambda n: n.op_type != "Mul")
    slope = [consts.get(name) for name in mul.input if name != cur]
    if len(mul.input) != 2 or len(slope) != 1 or slope[0] is None or slope[0].dtype.kind != "f" \
            or not np.all(slope[0] == slope[0].dtype.type(LEAKY_SLOPE)) \
            or sorted(mx.input) != sorted([cur, mul.output[0]]) \
            or consumers.get(mul.output[0], []) != [mx]:
        return None
    return mul, mx


def _opset(model):
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _network(model, layers, dtype, cost):
    hidden, out = layers[:-1], layers[-1]
    if out.bn is not None:
        _refuse(out.bn_node, "batch norm on the output layer: fastbp normalizes hidden "
                             "layers only")
    with_bn = [layer.bn is not None for layer in hidden]
    if any(with_bn) and not all(with_bn):
        layer = hidden[with_bn.index(False)]
        _refuse(layer.node, "batch norm in some hidden layers and not this one: fastbp has it "
                            "in all or none")
    for layer in layers:
        layer.act = layer.act or "identity"
    for layer in hidden:
        if layer.act == "softmax":
            _refuse(layer.node, "softmax after a hidden layer: fastbp has it on the output only")
    if cost is None:
        props = {p.key: p.value for p in model.metadata_props}
        cost = props.get("fastbp.cost")
        if cost not in COSTS:
            cost = "cross_entropy" if out.act == "softmax" else "quadratic"
    sizes = [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers]
    acts = [layer.act for layer in hidden]
    activation = acts[0] if acts and all(a == acts[0] for a in acts) else acts
    if not acts:  # no hidden layer: the output's activation, where it may be a hidden one
        activation = out.act if out.act != "softmax" else "identity"
    net = Network(sizes, activation=activation, output_activation=out.act,
                  cost=cost, dtype=dtype, batch_norm=bool(hidden) and all(with_bn))
    return set_parameters(net, layers)


# ---------------------------------------------------------------- skl2onnx


def _mlp_forward(scope, container, est, input_name, proto_dtype):
    """MatMul + Add and the activation of each layer of a fitted fastbp.sklearn
    estimator, as skl2onnx's own MLP converter writes them; returns the
    name of the output layer's activations."""
    from skl2onnx.common._apply_operation import apply_cast
    from ..sklearn import _ACTIVATION  # sklearn's activation names -> fastbp's
    ops = {"identity": "Identity", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
           "softmax": "Softmax"}
    coefs, intercepts = est.coefs_, est.intercepts_
    acts = [_ACTIVATION[a] for a in est._hidden_activations(len(coefs) - 1)]
    acts.append({"logistic": "sigmoid"}.get(est.out_activation_, est.out_activation_))
    cur = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, input_name, cur, container, to=proto_dtype)
    for l, (coef_l, b) in enumerate(zip(coefs, intercepts)):
        coef_l, b = np.asarray(coef_l), np.asarray(b)   # (n_in, n_out), (n_out,)
        coef = scope.get_unique_variable_name("coefficient")
        intercept = scope.get_unique_variable_name("intercepts")
        container.add_initializer(coef, proto_dtype, list(coef_l.shape),
                                  np.ascontiguousarray(coef_l).ravel())
        container.add_initializer(intercept, proto_dtype, [1, b.shape[0]], b)
        mul = scope.get_unique_variable_name("mul_result")
        add = scope.get_unique_variable_name("add_result")
        container.add_node("MatMul", [cur, coef], mul,
                           name=scope.get_unique_operator_name("MatMul"))
        container.add_node("Add", [mul, intercept], add,
                           name=scope.get_unique_operator_name("Add"))
        cur = scope.get_unique_variable_name("activations")
        op = ops[acts[l]]
        kwargs = {"axis": -1} if op == "Softmax" else {}
        container.add_node(op, add, cur, name=scope.get_unique_operator_name(op), **kwargs)
    return cur


def _proto_dtype(operator):
    from skl2onnx.common.data_types import guess_proto_type
    proto = guess_proto_type(operator.inputs[0].type)
    return proto if proto == TensorProto.DOUBLE else TensorProto.FLOAT


def _convert_classifier(scope, operator, container):
    """skl2onnx's convert_sklearn_mlp_classifier, on fastbp's estimator."""
    from skl2onnx.common._apply_operation import (apply_cast, apply_concat, apply_identity,
                                                  apply_reshape, apply_sub)
    est = operator.raw_operator
    proto = _proto_dtype(operator)
    probs = _mlp_forward(scope, container, est, operator.inputs[0].full_name, proto)
    classes = est.classes_
    if len(classes) == 2 and est._label_binarizer.y_type_ == "binary":
        unity = scope.get_unique_variable_name("unity")
        negative = scope.get_unique_variable_name("negative_class_proba")
        container.add_initializer(unity, proto, [], [1])
        apply_sub(scope, [unity, probs], negative, container, broadcast=1)
        apply_concat(scope, [negative, probs], operator.outputs[1].full_name, container, axis=1)
    else:
        apply_identity(scope, probs, operator.outputs[1].full_name, container)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        binarized = scope.get_unique_variable_name("binariser_output")
        container.add_node("Binarizer", probs, binarized, threshold=0.5, op_domain="ai.onnx.ml")
        apply_cast(scope, binarized, operator.outputs[0].full_name, container,
                   to=TensorProto.INT64)
        return
    if np.issubdtype(classes.dtype, np.floating) or classes.dtype == np.bool_:
        class_type, classes = TensorProto.INT32, classes.astype(np.int32)
    elif np.issubdtype(classes.dtype, np.integer):
        class_type = TensorProto.INT32
    else:
        class_type = TensorProto.STRING
        classes = np.array([str(s).encode("utf-8") for s in classes])
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, class_type, classes.shape, classes)
    argmax = scope.get_unique_variable_name("argmax_output")
    picked = scope.get_unique_variable_name("array_feature_extractor_result")
    container.add_node("ArgMax", operator.outputs[1].full_name, argmax, axis=1,
                       name=scope.get_unique_operator_name("ArgMax"))
    container.add_node("ArrayFeatureExtractor", [classes_name, argmax], picked,
                       op_domain="ai.onnx.ml",
                       name=scope.get_unique_operator_name("ArrayFeatureExtractor"))
    if class_type == TensorProto.INT32:
        reshaped = scope.get_unique_variable_name("reshaped_result")
        apply_reshape(scope, picked, reshaped, container, desired_shape=(-1,))
        apply_cast(scope, reshaped, operator.outputs[0].full_name, container,
                   to=TensorProto.INT64)
    else:
        apply_reshape(scope, picked, operator.outputs[0].full_name, container,
                      desired_shape=(-1,))


def _convert_regressor(scope, operator, container):
    """skl2onnx's convert_sklearn_mlp_regressor on fastbp's estimator, with
    an output of shape (N, n_outputs_)."""
    from skl2onnx.common._apply_operation import apply_reshape
    est = operator.raw_operator
    out = _mlp_forward(scope, container, est, operator.inputs[0].full_name,
                       _proto_dtype(operator))
    apply_reshape(scope, out, operator.output_full_names, container,
                  desired_shape=(-1, est.n_outputs_))


def _regressor_shape(operator):
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    calculate_linear_regressor_output_shapes(operator)
    var = operator.outputs[0]
    var.type = var.type.__class__([var.type.shape[0], operator.raw_operator.n_outputs_])


def register_skl2onnx() -> None:
    """Register converters for fastbp.sklearn.MLPClassifier and MLPRegressor
    with skl2onnx, so that ``skl2onnx.to_onnx`` converts them and pipelines
    that contain them (see the module docstring). Calling it again is
    harmless."""
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    except ImportError as e:
        raise ImportError("register_skl2onnx needs skl2onnx: pip install skl2onnx") from e
    from ..sklearn import MLPClassifier, MLPRegressor
    update_registered_converter(
        MLPClassifier, "FastbpMLPClassifier", calculate_linear_classifier_output_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
                 "nocl": [True, False]})
    update_registered_converter(MLPRegressor, "FastbpMLPRegressor", _regressor_shape,
                                _convert_regressor)
