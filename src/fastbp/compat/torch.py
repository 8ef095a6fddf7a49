"""PyTorch: fastbp networks as ``torch.nn.Sequential``, and back.

Needs the 'torch' extra (``pip install 'fastbp[torch]'``)::

    from fastbp.compat.torch import to_torch, from_torch
    model = to_torch(net)          # nn.Sequential, eval mode; model(torch.from_numpy(X))
    net = from_torch(model)        # a fastbp.Network

``to_torch(net, training=False)`` gives, for each layer, ``nn.Linear`` with
``net.weights[l]`` as its weight (the same (n_out, n_in) layout) and
``net.biases[l]`` as its bias, then its activation: ``nn.Sigmoid``,
``nn.Tanh``, ``nn.ReLU``, ``nn.LeakyReLU(0.01)``, ``nn.Identity`` or, for a
softmax output, ``nn.Softmax(dim=-1)``. With batch norm a hidden layer is
``nn.Linear(bias=False)``, ``nn.BatchNorm1d(eps=1e-5, momentum=0.1)`` with
weight γ (``net.gammas[l]``), bias β (the layer's bias, as fastbp keeps it)
and the running mean and variance, then the activation. Parameters and
buffers have the network's dtype (float32 or float64); the module is in
eval mode (batch norm by the running estimates, as ``net.forward``) or, with
``training=True``, in train mode (batch statistics, the running estimates
updated as ``fit`` updates them). The tensors are copies: training one side
does not change the other. fastbp keeps the running estimates in float64;
a float32 module holds them rounded to float32.

``from_torch(module, cost=None)`` reads an ``nn.Sequential`` (nested
Sequentials are flattened) of exactly these layers: ``nn.Linear`` (with or
without bias), ``nn.BatchNorm1d`` right after a hidden Linear (eps 1e-5,
momentum 0.1 and running statistics, fastbp's; affine or not; in every
hidden layer or none), ``nn.Sigmoid``, ``nn.Tanh``, ``nn.ReLU``,
``nn.LeakyReLU(0.01)``, ``nn.Identity`` and ``nn.Softmax(dim=-1)`` (or
``dim=1``) at the end; no activation between two Linear layers is
'identity'. float32 or float64 parameters. Any other layer, or one of these
elsewhere, raises a ValueError naming it (its index in the flattened
Sequential and its repr). A Linear bias before batch norm is absorbed into
the running mean (μ − b), which leaves ``net.forward`` the module's eval
output (the bias has no effect on batch statistics). The cost is `cost` if
given, else 'cross_entropy' for a softmax output and 'quadratic' otherwise.

Training the same model on both sides
-------------------------------------
fastbp's ``fit(..., lr=lr)`` (plain SGD) steps by lr times the gradient of
its cost C, the mean over the batch of the per-sample cost summed over the
outputs. ``torch.optim.SGD(model.parameters(), lr=lr_t)`` with a
mean-reduced torch loss takes the same steps, from the same parameters and
batches (``fit(shuffle=False)``), when the torch loss is C times lr/lr_t:

- 'quadratic', C = mean ½‖a − y‖²: ``nn.MSELoss()`` also averages over the
  n_out outputs and has no ½, so it is C·2/n_out: lr_t = lr·n_out/2;
- 'cross_entropy': ``nn.CrossEntropyLoss()`` on ``model[:-1](x)`` (the
  logits, without the final Softmax), with class indices or probabilities,
  is C: lr_t = lr;
- 'binary_cross_entropy': ``nn.BCEWithLogitsLoss()`` on ``model[:-1](x)``
  averages over the outputs too, C/n_out: lr_t = lr·n_out.

With batch norm, ``to_torch(net, training=True)`` trains as ``fit`` does
(batch statistics, the running variance updated with the unbiased batch
variance, momentum 0.1). tests/test_torch.py runs the three costs in
float64, with and without batch norm, for 15 steps: the parameters and
running estimates agree to a relative 1e-12.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as e:
    raise ImportError("fastbp.compat.torch needs PyTorch: pip install 'fastbp[torch]'") from e

from .._validation import COSTS, LEAKY_SLOPE, check_name
from ..network import Network
from ._layers import set_parameters

__all__ = ["to_torch", "from_torch"]

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_NUMPY_DTYPE: dict = {v: k for k, v in _TORCH_DTYPE.items()}
_ACT = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu",
        nn.Softmax: "softmax"}


def _activation_module(name):
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    if name == "softmax":
        return nn.Softmax(dim=-1)
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
            "identity": nn.Identity}[name]()


def _tensor(array, dtype):
    return torch.from_numpy(np.array(array, dtype=_NUMPY_DTYPE[dtype]))


def to_torch(net: Network, training: bool = False) -> "nn.Sequential":
    """The network as an ``nn.Sequential`` with copies of its parameters
    (see the module docstring); in train mode if `training`, else eval.

    Parameters
    ----------
    net : fastbp.Network
    training : bool
        Leave the module in training mode (batch norm on the batch's statistics).
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False; got {training!r}")
    dtype = _TORCH_DTYPE[net.dtype]
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    acts = list(hidden) + [net.output_activation]
    offsets = np.cumsum([0] + list(net.sizes[1:-1]))
    modules: list = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        n_out, n_in = W.shape
        bn = net.batch_norm and l < len(net.weights) - 1
        linear = nn.Linear(n_in, n_out, bias=not bn, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(_tensor(W, dtype))
            if not bn:
                linear.bias.copy_(_tensor(b, dtype))
        modules.append(linear)
        if bn:
            norm = nn.BatchNorm1d(n_out, eps=BN_EPS, momentum=BN_MOMENTUM, dtype=dtype)
            sl = slice(offsets[l], offsets[l + 1])
            with torch.no_grad():
                norm.weight.copy_(_tensor(net.gammas[l], dtype))
                norm.bias.copy_(_tensor(b, dtype))
                norm.running_mean.copy_(_tensor(net.running_mean[sl], dtype))
                norm.running_var.copy_(_tensor(net.running_var[sl], dtype))
            modules.append(norm)
        modules.append(_activation_module(acts[l]))
    return nn.Sequential(*modules).train(bool(training))


def _flatten(module, prefix=""):
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if type(child) is nn.Sequential:
            yield from _flatten(child, path + ".")
        else:
            yield path, child


def _refuse(path, module, why):
    raise ValueError(f"fastbp.compat.torch.from_torch: layer {path} ({module!r}): {why}")


class _Layer:
    def __init__(self, path, W, b):
        self.path = path                  # its Linear's, for messages
        self.W = W                        # (n_out, n_in), float64
        self.b = b                        # (n_out,), float64
        self.bn = None                    # (γ, β, μ, σ²) in fastbp's terms
        self.bn_at = None                 # (path, module) of its BatchNorm1d
        self.act = None


def from_torch(module: "nn.Module", cost: Optional[str] = None) -> Network:
    """A fastbp.Network from an ``nn.Sequential`` of Linear, BatchNorm1d and
    the activations fastbp has (see the module docstring); anything else
    raises a ValueError naming the layer.

    Parameters
    ----------
    module : torch.nn.Sequential
    cost : str or None
        The network's cost; None: 'cross_entropy' for a softmax output, else
        'quadratic'.
    """
    if type(module) is not nn.Sequential:
        raise ValueError(f"fastbp.compat.torch.from_torch: needs an nn.Sequential; got "
                         f"{type(module).__name__}")
    if cost is not None:
        check_name(cost, COSTS, "cost")
    layers, dtype = _read_layers(module)
    _check_layers(module, layers)
    return _network(layers, _NUMPY_DTYPE[dtype], cost)


def _read_layers(module):
    """The _Layer records of the flattened Sequential, and its torch dtype."""
    layers = []
    dtype = None
    for path, m in _flatten(module):
        kind = type(m)
        last = layers[-1] if layers else None
        if kind is nn.Linear:
            layers.append(_read_linear(path, m, last, dtype))
            dtype = m.weight.dtype
        elif kind is nn.BatchNorm1d:
            _read_batch_norm(path, m, last, dtype)
        elif kind in _ACT:
            _read_activation(path, m, last)
        elif kind is not nn.Identity:
            _refuse(path, m, "not a layer fastbp has (Linear, BatchNorm1d, Sigmoid, Tanh, ReLU, "
                             "LeakyReLU(0.01), Identity, Softmax(dim=-1))")
    if not layers:
        raise ValueError("fastbp.compat.torch.from_torch: the Sequential has no Linear layer")
    return layers, dtype


def _numpy(tensor):
    return tensor.detach().cpu().numpy().astype(np.float64)


def _read_linear(path, m, last, dtype):
    """The layer of the Linear `m`, after the layer `last` of parameters of `dtype`."""
    if last is not None and last.act == "softmax":
        _refuse(path, m, "a layer after Softmax: fastbp has softmax on the output only")
    W = m.weight.detach().cpu()
    if W.dtype not in _NUMPY_DTYPE:
        _refuse(path, m, f"parameters of {W.dtype}: fastbp has float32 and float64")
    if dtype is not None and W.dtype != dtype:
        _refuse(path, m, f"parameters of {W.dtype} after layers of {dtype}")
    W = W.numpy().astype(np.float64)
    if last is not None and W.shape[1] != last.W.shape[0]:
        _refuse(path, m, f"{W.shape[1]} inputs after a layer of {last.W.shape[0]} units")
    b = _numpy(m.bias) if m.bias is not None else np.zeros(W.shape[0])
    return _Layer(path, W, b)


def _read_batch_norm(path, m, last, dtype):
    """The BatchNorm1d `m` into the layer `last`, its bias absorbed into μ."""
    if last is None or last.bn is not None or last.act is not None:
        _refuse(path, m, "batch norm must come right after a Linear layer")
    if m.eps != BN_EPS or m.momentum != BN_MOMENTUM or not m.track_running_stats:
        _refuse(path, m, f"fastbp's batch norm has eps={BN_EPS}, momentum={BN_MOMENTUM} "
                         f"and running statistics")
    n = last.W.shape[0]
    if m.num_features != n:
        _refuse(path, m, f"{m.num_features} features after a layer of {n} units")
    if m.running_mean.dtype != dtype or (m.affine and m.weight.dtype != dtype):
        _refuse(path, m, f"its tensors must be {dtype}, as the Linear layers")
    gamma = _numpy(m.weight) if m.affine else np.ones(n)
    beta = _numpy(m.bias) if m.affine else np.zeros(n)
    last.bn = (gamma, beta, _numpy(m.running_mean) - last.b, _numpy(m.running_var))
    last.bn_at = (path, m)


def _read_activation(path, m, last):
    """The activation `m` of the layer `last`."""
    kind = type(m)
    if last is None:
        _refuse(path, m, "an activation before the first Linear layer")
    if last.act is not None:
        _refuse(path, m, f"a second activation after {last.act!r}")
    if kind is nn.LeakyReLU and m.negative_slope != LEAKY_SLOPE:
        _refuse(path, m, f"fastbp's leaky_relu has slope {LEAKY_SLOPE}")
    if kind is nn.Softmax and m.dim not in (-1, 1):
        _refuse(path, m, "fastbp's softmax is over the last dimension (dim=-1)")
    last.act = _ACT[kind]


def _check_layers(module, layers):
    """Refuse batch norm and softmax where fastbp has none."""
    hidden, out = layers[:-1], layers[-1]
    if out.bn is not None:
        _refuse(*out.bn_at, "batch norm on the output layer: fastbp normalizes "
                            "hidden layers only")
    with_bn = [layer.bn is not None for layer in hidden]
    if any(with_bn) and not all(with_bn):
        path = hidden[with_bn.index(False)].path
        _refuse(path, module.get_submodule(path), "batch norm in some hidden layers and not "
                                                  "after this one: fastbp has it in all or none")
    for layer in hidden:
        if layer.act == "softmax":
            _refuse(layer.path, module.get_submodule(layer.path),
                    "softmax after a hidden layer: fastbp has it on the output only")


def _network(layers, np_dtype, cost):
    """The fastbp.Network of checked _Layer records."""
    hidden, out = layers[:-1], layers[-1]
    acts = [layer.act or "identity" for layer in hidden]
    out_act = out.act or "identity"
    if cost is None:
        cost = "cross_entropy" if out_act == "softmax" else "quadratic"
    sizes = [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers]
    activation = acts[0] if acts and all(a == acts[0] for a in acts) else acts
    with_bn = bool(hidden) and all(layer.bn is not None for layer in hidden)
    net = Network(sizes, activation=activation or "sigmoid", output_activation=out_act,
                  cost=cost, dtype=np_dtype, batch_norm=with_bn)
    return set_parameters(net, layers)
