"""fastbp.compat: drop-in replacements for code people already have, and
models to and from other libraries' formats.

- ``fastbp.compat.network``: Michael Nielsen's chapter 1 ``network.py``
  (*Neural Networks and Deep Learning*, mnielsen/neural-networks-and-deep-learning).
- ``fastbp.compat.network2``: his chapter 3 ``network2.py`` (cost classes,
  L2 regularization, monitoring, JSON save/load).
- ``fastbp.compat.mnist_loader``: his ``mnist_loader.py`` (``load_data``,
  ``load_data_wrapper``) over the bundled 5,000 digits, or over his
  ``mnist.pkl.gz`` given its path.
- ``fastbp.compat.scratch``: the functions of the from-scratch backprop
  tutorial (neuron dicts, ``train_network``, ``back_propagation``,
  ``evaluate_algorithm``, its data helpers).

A script written for his modules or for the tutorial runs unchanged after
swapping its import (``from fastbp.compat import network``, ``from
fastbp.compat.scratch import *``); the training itself runs in fastbp's
compiled core.

Models in other formats, each module imported by name (``from
fastbp.compat import onnx``), not by this package:

- ``fastbp.compat.onnx``: ``to_onnx``, ``save``, ``load`` and
  ``register_skl2onnx`` (ONNX models; needs onnx, ``fastbp[onnx]``).
- ``fastbp.compat.torch``: ``to_torch``, ``from_torch`` (``nn.Sequential``;
  needs PyTorch, ``fastbp[torch]``).
- ``fastbp.compat.fann``: ``load``, ``save`` of FANN's ``.net`` files.
"""
from . import mnist_loader, network, network2

__all__ = ["mnist_loader", "network", "network2"]
