"""FANN ``.net`` files: FANN networks into fastbp, fastbp networks out to FANN.

FANN (the Fast Artificial Neural Network library, libfann) keeps a network in
a text file, ``FANN_FLO_2.1``, written by ``fann_save`` and read by
``fann_create_from_file`` in FANN 2.1 and 2.2 (src/fann_io.c). ``load`` reads
one into a ``fastbp.Network`` whose ``forward`` is ``fann_run``; ``save``
writes one that FANN 2.2 loads and runs as fastbp does.

How FANN's model maps onto fastbp's:

- Every FANN layer ends in a bias neuron of value 1, counted in
  ``layer_sizes`` (the output layer's is never used). Its connection weight
  into a neuron is that neuron's fastbp bias.
- A FANN neuron computes ``f(s·Σ)``, Σ its weighted input plus bias weight, s
  its own steepness (fann_activation.h, fann_run in fann.c):

  ======================  ===================  ==========  ===================
  FANN                    f(s·Σ)               fastbp      W, b multiplied by
  ======================  ===================  ==========  ===================
  FANN_SIGMOID            1/(1 + exp(−2s·Σ))   'sigmoid'   2s
  FANN_SIGMOID_SYMMETRIC  tanh(s·Σ)            'tanh'      s
  FANN_LINEAR             s·Σ                  'identity'  s
  ======================  ===================  ==========  ===================

  Each row of W is scaled by its own neuron's steepness. ``save`` writes the
  steepness that leaves the weights as they are: 0.5 for sigmoid, 1 for tanh
  and identity.
- FANN has no ReLU (2.2), no softmax and no batch norm; its stepwise,
  threshold, Gaussian, Elliott, sine/cosine and piecewise-linear activations
  have no fastbp counterpart. Both directions refuse these with a ValueError
  naming them, as they do shortcut (``network_type=1``) and sparse
  (``connection_rate < 1``) networks.
- FANN clamps s·Σ to ±150/s before the activation; fastbp does not. The
  sigmoids saturate long before that (unless s > 10 or so), but a FANN
  linear neuron with steepness 1 never outputs more than 150 in magnitude,
  so outputs agree only inside that range.
- Cost: FANN stores a training error function, not a cost. FANN's
  ``FANN_ERRORFUNC_LINEAR`` trains on the error a − y, the gradient of
  fastbp's 'quadratic' cost; ``FANN_ERRORFUNC_TANH`` (FANN's default)
  stretches large errors during training only. ``load`` reads either and
  gives the network ``cost`` (default 'quadratic'); ``save`` writes
  ``FANN_ERRORFUNC_LINEAR`` whatever the cost, and FANN's defaults for its
  training settings (learning rate 0.7, RPROP, cascade parameters).
- Input and output scaling (``scale_included=1``, from fann_set_scaling_params)
  is read, checked and not applied, as ``fann_run`` does not apply it either;
  ``load`` warns that the file has it.

Numbers are written as FANN writes them (``%.20e``, '.' as the decimal point
whatever the locale), enough digits that float64 parameters come back bit for
bit. Reading is strict: anything but the keys, order and counts FANN 2.2
writes, or a number FANN would not read, raises ValueError naming the line
(CRLF line ends, as FANN writes on Windows, are read too).
"""
import itertools
import math
import os
import re
import stat
import warnings
from typing import List, Tuple, Union

import numpy as np

from .._io import atomic_write
from .._validation import COSTS, check_dtype, check_name
from ..network import Network

__all__ = ["load", "save", "FANN_VERSION", "FANN_ACTIVATIONS"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

FANN_VERSION = "FANN_FLO_2.1"

# enum fann_activationfunc_enum (fann_data.h), index = code in the file;
# 18 and 19 are newer FANN's ReLUs, which FANN 2.2 cannot run.
FANN_ACTIVATIONS = (
    "FANN_LINEAR", "FANN_THRESHOLD", "FANN_THRESHOLD_SYMMETRIC", "FANN_SIGMOID",
    "FANN_SIGMOID_STEPWISE", "FANN_SIGMOID_SYMMETRIC", "FANN_SIGMOID_SYMMETRIC_STEPWISE",
    "FANN_GAUSSIAN", "FANN_GAUSSIAN_SYMMETRIC", "FANN_GAUSSIAN_STEPWISE", "FANN_ELLIOT",
    "FANN_ELLIOT_SYMMETRIC", "FANN_LINEAR_PIECE", "FANN_LINEAR_PIECE_SYMMETRIC",
    "FANN_SIN_SYMMETRIC", "FANN_COS_SYMMETRIC", "FANN_SIN", "FANN_COS",
    "FANN_LINEAR_PIECE_RECT", "FANN_LINEAR_PIECE_RECT_LEAKY",
)
LINEAR, SIGMOID, SIGMOID_SYMMETRIC = 0, 3, 5

# FANN code -> (fastbp activation, m): W and b are multiplied by m·steepness.
_TO_FASTBP = {LINEAR: ("identity", 1.0), SIGMOID: ("sigmoid", 2.0),
              SIGMOID_SYMMETRIC: ("tanh", 1.0)}
# fastbp activation -> (FANN code, the steepness that leaves W and b as they are)
_TO_FANN = {"identity": (LINEAR, 1.0), "sigmoid": (SIGMOID, 0.5),
            "tanh": (SIGMOID_SYMMETRIC, 1.0)}
_WHY_NOT = {
    # fann_create_standard's default for every layer: say how to avoid it
    "FANN_SIGMOID_STEPWISE": "a stepwise-linear approximation of the sigmoid, FANN's default "
                             "for new networks; call fann_set_activation_function_hidden/_output "
                             "with FANN_SIGMOID before training in FANN",
    "FANN_SIGMOID_SYMMETRIC_STEPWISE": "a stepwise-linear approximation of tanh",
    "FANN_GAUSSIAN_STEPWISE": "FANN 2.2 does not implement it (its output is 0)",
}
_NEWER_FANN = {18: "a ReLU of FANN versions after 2.2",
               19: "a leaky ReLU of FANN versions after 2.2"}
_REFUSED_FASTBP = {
    "relu": "FANN 2.2 has no ReLU",
    "leaky_relu": "FANN 2.2 has no leaky ReLU",
    "softmax": "FANN has no softmax: each of its neurons has its own activation",
}
ERRORFUNC_LINEAR, ERRORFUNC_TANH = 0, 1
NETTYPE_LAYER, NETTYPE_SHORTCUT = 0, 1

# Header keys in the order fann_create_from_fd reads them: (key, kind, the
# value save writes). 'u' is %u, 'f' is %f, 'e' is a fann_type (%.20e).
# Save writes what fann_create_standard sets, but the linear error function.
_HEADER = (
    ("learning_rate", "f", 0.7), ("connection_rate", "f", 1.0),
    ("network_type", "u", NETTYPE_LAYER), ("learning_momentum", "f", 0.0),
    ("training_algorithm", "u", 2),  # FANN_TRAIN_RPROP
    ("train_error_function", "u", ERRORFUNC_LINEAR), ("train_stop_function", "u", 0),
    ("cascade_output_change_fraction", "f", 0.01), ("quickprop_decay", "f", -0.0001),
    ("quickprop_mu", "f", 1.75), ("rprop_increase_factor", "f", 1.2),
    ("rprop_decrease_factor", "f", 0.5), ("rprop_delta_min", "f", 0.0),
    ("rprop_delta_max", "f", 50.0), ("rprop_delta_zero", "f", 0.1),
    ("cascade_output_stagnation_epochs", "u", 12),
    ("cascade_candidate_change_fraction", "f", 0.01),
    ("cascade_candidate_stagnation_epochs", "u", 12), ("cascade_max_out_epochs", "u", 150),
    ("cascade_min_out_epochs", "u", 50), ("cascade_max_cand_epochs", "u", 150),
    ("cascade_min_cand_epochs", "u", 50), ("cascade_num_candidate_groups", "u", 2),
    ("bit_fail_limit", "e", 0.35), ("cascade_candidate_limit", "e", 1000.0),
    ("cascade_weight_multiplier", "e", 0.4),
)
_CASCADE_FUNCTIONS = (3, 5, 7, 8, 10, 11, 14, 15, 16, 17)
_CASCADE_STEEPNESSES = (0.25, 0.5, 0.75, 1.0)
_SCALE_KEYS = ("scale_mean", "scale_deviation", "scale_new_min", "scale_factor")
_NEURONS_KEY = "neurons (num_inputs, activation_function, activation_steepness)"
_CONNECTIONS_KEY = "connections (connected_to_neuron, weight)"

MAX_PARAMS = 1 << 31  # as fastbp.load: refuse absurd sizes before allocating
UINT_MAX = (1 << 32) - 1
BLOCK = 1 << 16  # connections parsed at a time

# What C's scanf reads for %u and %f, minus hex floats; nan and inf are
# matched so that they can be refused by name. Every pattern reads in time
# linear in the text it covers: each run of digits can be split one way
# only ('\d+(?:\.\d*)?', not '\d+\.?\d*', which tried every split of a
# long run of digits and made a 16,000-digit line take seconds).
_NUM = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"
_UINT_RE = re.compile(r"\s*(\d+)")
_NUM_RE = re.compile(r"\s*(" + _NUM + ")")
_NEURON_RE = re.compile(r"\s*\((\d+),\s*(\d+),\s*(" + _NUM + r")\)")
# The entry is optional so that the pattern matches (empty-handed) wherever
# finditer stands: it never searches ahead through the rest of the file for
# the next entry after one that is malformed.
_CONNECTION_RE = re.compile(r"\s*(?:\((\d+),\s*(" + _NUM + r")\))?")
MAX_DIGITS = 20  # a longer run of digits is no neuron index or count FANN writes
_SPACE_RE = re.compile(r"\s*")
_TOKEN_RE = re.compile(r"\S*")


# ---------------------------------------------------------------- reading


def _int(digits: str) -> int:
    """int(digits), or a number past any valid one for a long run of digits:
    int() of n digits costs O(n²) (and raises past 4,300 on Python 3.11+)."""
    return int(digits) if len(digits.lstrip("0")) <= MAX_DIGITS else 1 << 64


class _Reader:
    """A cursor over the file's text that reads it as fann_create_from_fd's
    fscanf calls do (whitespace between items is free), strictly."""

    def __init__(self, text: str, path: str):
        self.text, self.path, self.pos = text, path, 0

    def error(self, message: str, pos: Union[int, None] = None) -> ValueError:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        return ValueError(f"{self.path!r} is not a FANN {FANN_VERSION} network file: "
                          f"line {line}: {message}")

    def _found(self) -> str:
        pos = _SPACE_RE.match(self.text, self.pos).end()
        if pos >= len(self.text):
            return "the end of the file"
        return repr(self.text[pos:pos + 30].split("\n")[0])

    def key(self, name: str) -> None:
        pos = _SPACE_RE.match(self.text, self.pos).end()
        if not self.text.startswith(name + "=", pos):
            raise self.error(f"expected '{name}='; found {self._found()}", pos)
        self.pos = pos + len(name) + 1

    def uint(self, what: str) -> int:
        m = _UINT_RE.match(self.text, self.pos)
        if m is None:
            raise self.error(f"{what}: expected an unsigned integer; found {self._found()}")
        self._ends(m, what)
        value = _int(m.group(1))
        if value > UINT_MAX:
            raise self.error(f"{what}: {value} does not fit an unsigned int")
        self.pos = m.end()
        return value

    def number(self, what: str) -> float:
        m = _NUM_RE.match(self.text, self.pos)
        if m is None:
            raise self.error(f"{what}: expected a number; found {self._found()}")
        self._ends(m, what)
        value = self.finite(m.group(1), what)
        self.pos = m.end()
        return value

    def _ends(self, m: "re.Match[str]", what: str) -> None:
        # '0,7' is not 0 followed by junk: FANN writes '.' decimals (C locale)
        end = m.end()
        if end < len(self.text) and not self.text[end].isspace():
            token = _TOKEN_RE.match(self.text, m.start(1)).group(0)
            raise self.error(f"{what}: {token[:30]!r} is not a number FANN writes "
                             f"(digits, '.' as the decimal point)")

    def finite(self, token: str, what: str) -> float:
        value = float(token)  # float() is locale-independent
        if not math.isfinite(value):
            raise self.error(f"{what} is {token!r}, not a finite number")
        return value

    def number_list(self, key: str, count: int, kind: str) -> list:
        self.key(key)
        read = self.uint if kind == "u" else self.number
        # one item at a time: a lying count cannot make this allocate
        return [read(f"{key} item {i + 1} of {count}") for i in range(count)]


def _show(sizes: List[int]) -> str:
    return " ".join(map(str, sizes[:8])) + (" ..." if len(sizes) > 8 else "")


def _layout(r: _Reader, layer_sizes: List[int]) -> Tuple[List[int], int]:
    """First neuron of each layer in the file's numbering, and the number of
    connections a fully connected network of these layers has."""
    if len(layer_sizes) < 2:
        raise r.error(f"num_layers is {len(layer_sizes)}; a network needs at least 2 layers")
    for l, n in enumerate(layer_sizes):
        if n < 2:
            raise r.error(f"layer_sizes: layer {l} has {n} neurons; each layer counts its "
                          f"bias neuron, so at least 2")
    first = np.cumsum([0] + layer_sizes[:-1]).tolist()
    n_conn = sum(a * (b - 1) for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    if n_conn > MAX_PARAMS:
        raise r.error(f"layer_sizes {_show(layer_sizes)} make {n_conn:,} connections, "
                      f"more than fastbp loads ({MAX_PARAMS:,})")
    return first, n_conn


def _read_neurons(r: _Reader, layer_sizes: List[int]) -> Tuple[List[str], List[np.ndarray]]:
    """Each layer's fastbp activation and the factor each of its neurons'
    weights are multiplied by, from the neurons line."""
    r.key(_NEURONS_KEY)
    acts, factors, index = [], [], 0
    for l, size in enumerate(layer_sizes):
        n_in = layer_sizes[l - 1] if l > 0 else 0  # with the previous layer's bias
        codes, steep = [], []
        for i in range(size):
            m = _NEURON_RE.match(r.text, r.pos)
            where = f"neuron {index} (layer {l}, {'bias' if i == size - 1 else f'neuron {i}'})"
            if m is None:
                raise r.error(f"{_NEURONS_KEY}: expected {sum(layer_sizes)} entries "
                              f"'(num_inputs, activation_function, activation_steepness)'; "
                              f"{where} is {r._found()}")
            n_con, code = _int(m.group(1)), _int(m.group(2))
            s = r.finite(m.group(3), f"the steepness of {where}")
            expected = n_in if 0 < l and i < size - 1 else 0
            if n_con != expected:
                raise r.error(f"{where} has {n_con} inputs; a fully connected FANN network "
                              f"gives it {expected}")
            r.pos = m.end()
            index += 1
            if l > 0 and i < size - 1:  # the inputs' and bias neurons' entries are unused
                codes.append(code)
                steep.append(s)
        if l == 0:
            continue
        for i, (code, s) in enumerate(zip(codes, steep)):
            name = FANN_ACTIVATIONS[code] if code < len(FANN_ACTIVATIONS) else None
            where = f"layer {l}, neuron {i}"
            if name is None:
                raise r.error(f"{where}: activation function {code} is not one FANN 2.2 knows")
            if code not in _TO_FASTBP:
                if code in _NEWER_FANN:
                    raise r.error(f"{where} uses {name} (code {code}), {_NEWER_FANN[code]}; "
                                  f"fastbp reads the activations of FANN 2.2")
                why = _WHY_NOT.get(name, "no activation of fastbp computes it")
                raise r.error(f"{where} uses {name}, which has no exact fastbp counterpart "
                              f"({why}); fastbp reads FANN_SIGMOID, FANN_SIGMOID_SYMMETRIC "
                              f"and FANN_LINEAR")
            if code != codes[0]:
                raise r.error(f"layer {l} mixes {FANN_ACTIVATIONS[codes[0]]} and {name}; "
                              f"fastbp has one activation per layer")
            if not s > 0:
                raise r.error(f"{where} has steepness {s}; fastbp reads positive steepness only")
        act, mult = _TO_FASTBP[codes[0]]
        acts.append(act)
        factors.append(mult * np.array(steep))
    return acts, factors


def _read_connections(r: _Reader, layer_sizes: List[int], first: List[int],
                      n_conn: int) -> List[np.ndarray]:
    """Each layer's FANN weights (n_out, n_in + 1), the bias weight last."""
    r.key(_CONNECTIONS_KEY)
    # the shortest entry, '(0,0)', is 5 characters
    if n_conn > (len(r.text) - r.pos) // 5:
        raise r.error(f"{_CONNECTIONS_KEY}: the network needs {n_conn:,} connections; "
                      f"the rest of the file cannot hold that many")
    layers, k = [], 0
    for l in range(1, len(layer_sizes)):
        n_in, n_out = layer_sizes[l - 1], layer_sizes[l] - 1
        W = np.empty((n_out, n_in))
        rows = max(1, BLOCK // n_in)
        for i0 in range(0, n_out, rows):  # blocks of rows bound the strings held at once
            i1 = min(n_out, i0 + rows)
            n = (i1 - i0) * n_in
            sources, weights, end = [], [], r.pos
            for m in itertools.islice(_CONNECTION_RE.finditer(r.text, end), n):
                if m.group(1) is None:  # something that is no entry
                    break
                end = m.end()
                source, weight = m.groups()
                sources.append(source)
                weights.append(weight)
            if len(sources) != n:
                r.pos = end
                raise r.error(f"{_CONNECTIONS_KEY}: expected {n_conn} entries "
                              f"'(connected_to_neuron, weight)'; entry {k + len(sources)} "
                              f"is {r._found()}")
            # fann_run reads a fully connected layer in order, whatever the file says
            expected = first[l - 1] + np.arange(n) % n_in
            if max(map(len, sources)) < 19:
                got = np.array(sources, dtype=np.int64)
            else:  # past int64: no neuron's number (and int() of many digits is slow)
                got = np.array([int(x) if len(x) < 19 else -1 for x in sources], dtype=np.int64)
            bad = np.flatnonzero(got != expected)
            if bad.size:
                j = int(bad[0])
                i, c = i0 + j // n_in, j % n_in
                raise r.error(f"connection {k + j} (layer {l}, neuron {i}, input {c}) comes from "
                              f"neuron {sources[j]}; a fully connected FANN network lists its "
                              f"inputs in order, so it must be {expected[j]}")
            values = np.fromiter(map(float, weights), dtype=np.float64, count=n)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                j = int(bad[0])
                raise r.error(f"the weight of connection {k + j} is {weights[j]!r}, "
                              f"not a finite number")
            W[i0:i1] = values.reshape(i1 - i0, n_in)
            r.pos = end
            k += n
        layers.append(W)
    return layers


def _parse(text: str, path: str) -> dict:
    """The parts of a FANN_FLO_2.1 file fastbp uses, every part checked."""
    r = _Reader(text, path)
    if not text:
        raise r.error("the file is empty")
    version, newline, _ = text.partition("\n")
    # FANN on Windows writes '\r\n' (text mode); '\r' is whitespace to the rest
    version = version[:-1] if version.endswith("\r") else version
    if version != FANN_VERSION:
        if version.startswith("FANN_FIX_"):
            raise r.error(f"{version!r} is a fixed-point network (fann_save_to_fixed); "
                          f"fastbp reads floating-point files ({FANN_VERSION}, from fann_save)")
        raise r.error(f"the first line is {version[:40]!r}; expected {FANN_VERSION!r} "
                      f"(what fann_save of FANN 2.1 and 2.2 writes)")
    if not newline:
        raise r.error("the file ends after its first line")
    r.pos = text.index("\n") + 1

    r.key("num_layers")
    num_layers = r.uint("num_layers")
    header = {}
    for key, kind, _ in _HEADER:
        r.key(key)
        header[key] = r.uint(key) if kind == "u" else r.number(key)
    if header["network_type"] == NETTYPE_SHORTCUT:
        raise r.error("network_type=1 is a shortcut network (fann_create_shortcut, cascade "
                      "training), with connections that skip layers; fastbp reads layered "
                      "networks only (network_type=0)")
    if header["network_type"] != NETTYPE_LAYER:
        raise r.error(f"network_type={header['network_type']} is not one FANN knows")
    if header["connection_rate"] < 1:
        raise r.error(f"connection_rate={header['connection_rate']} is a sparse network "
                      f"(fann_create_sparse); fastbp reads fully connected ones (1)")
    if header["train_error_function"] not in (ERRORFUNC_LINEAR, ERRORFUNC_TANH):
        raise r.error(f"train_error_function={header['train_error_function']} "
                      f"is not one FANN knows")

    r.key("cascade_activation_functions_count")
    count = r.uint("cascade_activation_functions_count")
    r.number_list("cascade_activation_functions", count, "u")
    r.key("cascade_activation_steepnesses_count")
    count = r.uint("cascade_activation_steepnesses_count")
    r.number_list("cascade_activation_steepnesses", count, "e")

    layer_sizes = r.number_list("layer_sizes", num_layers, "u")
    first, n_conn = _layout(r, layer_sizes)
    r.key("scale_included")
    scale_included = r.uint("scale_included")
    if scale_included not in (0, 1):
        raise r.error(f"scale_included={scale_included}; expected 0 or 1")
    if scale_included:
        for where, n in (("in", layer_sizes[0] - 1), ("out", layer_sizes[-1] - 1)):
            for key in _SCALE_KEYS:
                r.number_list(f"{key}_{where}", n, "f")

    # the shortest neuron entry, '(0,0,0)', is 7 characters
    if sum(layer_sizes) > (len(text) - r.pos) // 7:
        raise r.error(f"layer_sizes {_show(layer_sizes)} make {sum(layer_sizes):,} neurons; "
                      f"the rest of the file is too short to list them")
    acts, factors = _read_neurons(r, layer_sizes)
    weights = _read_connections(r, layer_sizes, first, n_conn)
    if _SPACE_RE.match(text, r.pos).end() != len(text):
        raise r.error(f"unexpected text after the last connection: {r._found()}")
    return {"sizes": [n - 1 for n in layer_sizes], "activations": acts, "factors": factors,
            "weights": weights, "scale_included": bool(scale_included),
            "train_error_function": header["train_error_function"]}


def _network(sizes: List[int], acts: List[str], cost: str, dtype, path: str) -> Network:
    """A fastbp Network with these per-layer activations (the last is the output's)."""
    hidden, output = acts[:-1], acts[-1]
    # one name when the hidden layers agree, as Network(sizes, "tanh") has
    # it; without hidden layers, the output's
    activation = hidden[0] if len(set(hidden)) == 1 else (list(hidden) or output)
    try:
        return Network(sizes, activation=activation, output_activation=output, cost=cost,
                       dtype=dtype, seed=0)
    except ValueError as e:  # the cost does not suit the output activation
        raise ValueError(f"{path!r}: {e}") from None


def _check_path(path: PathLike, argname: str = "path") -> str:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{argname} must be a str or os.PathLike; got {type(path).__name__}")
    path = os.fsdecode(path)
    return path


def load(path: PathLike, dtype: str = "float64", cost: str = "quadratic") -> Network:
    """Read a FANN ``FANN_FLO_2.1`` ``.net`` file into a ``fastbp.Network``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by FANN's ``fann_save`` (FANN 2.1 or 2.2) or by `save`.
    dtype : {'float64', 'float32'}
        The network's dtype. float64 keeps every digit the file has.
    cost : str
        The network's cost; FANN files hold a training error function, not a
        cost. 'quadratic' (the default) is FANN's ``FANN_ERRORFUNC_LINEAR``.

    Returns
    -------
    Network
        ``net.forward(X)`` is ``fann_run`` of each row of X (see the module
        docstring for FANN's ±150/s clamp). Layer l's weights and biases are
        FANN's connection weights times 2s (FANN_SIGMOID) or s
        (FANN_SIGMOID_SYMMETRIC, FANN_LINEAR), s each neuron's steepness.

    Raises
    ------
    ValueError
        If the file is not a FANN_FLO_2.1 network as FANN 2.2 writes it, or
        holds something fastbp cannot compute exactly: activations other than
        FANN_SIGMOID, FANN_SIGMOID_SYMMETRIC and FANN_LINEAR, two activations
        in one layer (different layers may differ: the network gets a list
        of hidden activations), steepness ≤ 0, shortcut or sparse networks. The message
        names the file, the line and what is wrong.
    TypeError
        If `path` is not a path.

    Warns
    -----
    UserWarning
        If the file holds FANN's input/output scaling parameters, which are
        not applied (``fann_run`` does not apply them either).
    """
    path = _check_path(path)
    dtype = check_dtype(dtype)
    check_name(cost, COSTS, "cost")
    with open(path, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero would never end
            raise ValueError(f"{path!r} is not a regular file")
        data = f.read()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path!r} is not a FANN {FANN_VERSION} network file: byte "
                         f"{data[e.start]:#04x} at offset {e.start} is not ASCII") from None
    parsed = _parse(text, path)
    net = _network(parsed["sizes"], parsed["activations"], cost, dtype, path)
    for l, (W, k) in enumerate(zip(parsed["weights"], parsed["factors"])):
        with np.errstate(over="ignore"):
            scaled = (k[:, None] * W).astype(dtype)
        if not np.isfinite(scaled).all():
            raise ValueError(f"{path!r}: layer {l + 1}'s weights times their steepness "
                             f"overflow {dtype.name}")
        net.weights[l] = scaled[:, :-1]
        net.biases[l] = scaled[:, -1]
    if parsed["scale_included"]:
        warnings.warn(f"{path!r} holds FANN input/output scaling parameters "
                      f"(fann_set_scaling_params); fastbp does not apply them, as fann_run "
                      f"does not: scale inputs as you did for FANN", UserWarning, stacklevel=2)
    return net


# ---------------------------------------------------------------- writing


def _layer_activations(net: Network) -> List[str]:
    """The activation of each layer of `net` after the inputs, output last."""
    get = getattr(net, "layer_activations", None)
    if get is not None:
        return list(get())
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    return list(hidden) + [net.output_activation]


def _fanntype(x: float) -> str:
    return f"{x:.20e}"


def _format(net: Network) -> str:
    """The FANN_FLO_2.1 text of `net`, in the order FANN 2.2 reads it."""
    if net.batch_norm:
        raise ValueError("FANN has no batch normalization; this network uses it "
                         "(batch_norm=True), so FANN cannot represent it")
    acts = _layer_activations(net)
    for l, act in enumerate(acts):
        if act not in _TO_FANN:
            where = "the output layer" if l == len(acts) - 1 else f"hidden layer {l + 1}"
            why = _REFUSED_FASTBP.get(act, "FANN has no such activation")
            raise ValueError(f"{where} uses {act!r}: {why}. FANN files can hold 'sigmoid' "
                             f"(FANN_SIGMOID), 'tanh' (FANN_SIGMOID_SYMMETRIC) and "
                             f"'identity' (FANN_LINEAR)")
    sizes = list(net.sizes)
    lines = [FANN_VERSION, f"num_layers={len(sizes)}"]
    for key, kind, value in _HEADER:
        if kind == "u":
            lines.append(f"{key}={value}")
        elif kind == "f":
            lines.append(f"{key}={value:f}")
        else:  # what floatfann writes: the float nearest the default
            lines.append(f"{key}={_fanntype(float(np.float32(value)))}")
    lines.append(f"cascade_activation_functions_count={len(_CASCADE_FUNCTIONS)}")
    lines.append("cascade_activation_functions=" + "".join(f"{c} " for c in _CASCADE_FUNCTIONS))
    lines.append(f"cascade_activation_steepnesses_count={len(_CASCADE_STEEPNESSES)}")
    lines.append("cascade_activation_steepnesses="
                 + "".join(_fanntype(s) + " " for s in _CASCADE_STEEPNESSES))
    lines.append("layer_sizes=" + "".join(f"{n + 1} " for n in sizes))
    lines.append("scale_included=0")

    # As fann_save: inputs (0, 0, 0); hidden neurons and their bias carry the
    # layer's activation, the output layer's unused bias (0, 0, 0).
    zero = _fanntype(0.0)
    neurons = [f"(0, 0, {zero}) "] * (sizes[0] + 1)
    for l, act in enumerate(acts):
        code, s = _TO_FANN[act]
        n_in = sizes[l] + 1
        neurons += [f"({n_in}, {code}, {_fanntype(s)}) "] * sizes[l + 1]
        neurons.append(f"(0, {code if l < len(acts) - 1 else 0}, {zero}) ")
    lines.append(f"{_NEURONS_KEY}=" + "".join(neurons))

    connections, first = [], 0
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        sources = [f"({first + j}, " for j in range(sizes[l] + 1)]
        rows = np.hstack([W, b[:, None]]).astype(np.float64).tolist()
        for row in rows:
            connections += [f"{src}{w:.20e}) " for src, w in zip(sources, row)]
        first += sizes[l] + 1
    lines.append(f"{_CONNECTIONS_KEY}=" + "".join(connections))
    return "\n".join(lines) + "\n"


def save(net: Network, path: PathLike) -> None:
    """Write `net` as a FANN ``FANN_FLO_2.1`` ``.net`` file.

    FANN 2.1 and 2.2 load it with ``fann_create_from_file``, and ``fann_run``
    then computes ``net.forward``: weights and biases are written unchanged,
    with steepness 0.5 for 'sigmoid' (FANN_SIGMOID), 1 for 'tanh'
    (FANN_SIGMOID_SYMMETRIC) and 1 for 'identity' (FANN_LINEAR). The file is
    written beside `path` and renamed over it, so a crash leaves no partial
    file.

    Parameters
    ----------
    net : Network
        A network without batch norm whose layers' activations are
        'sigmoid', 'tanh' or 'identity', one per layer or the same for all
        hidden layers. Its cost is not kept: FANN gets its linear error
        function, the 'quadratic' cost's gradient.
    path : str or os.PathLike
        Where to write; conventionally ``*.net``.

    Raises
    ------
    ValueError
        If FANN cannot represent `net`: 'relu', 'leaky_relu' (FANN 2.2 has
        no ReLU), 'softmax', batch norm. The message names the layer.
    TypeError
        If `net` is not a ``fastbp.Network`` or `path` is not a path.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    path = _check_path(path)
    data = _format(net).encode("ascii")
    atomic_write(path, lambda f: f.write(data))
