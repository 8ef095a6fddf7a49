"""fastbp.compat: drop-in replacements for code people already have.

- ``fastbp.compat.network``: Michael Nielsen's chapter 1 ``network.py``
  (*Neural Networks and Deep Learning*, mnielsen/neural-networks-and-deep-learning).
- ``fastbp.compat.network2``: his chapter 3 ``network2.py`` (cost classes,
  L2 regularization, monitoring, JSON save/load).
- ``fastbp.compat.mnist_loader``: his ``mnist_loader.py`` (``load_data``,
  ``load_data_wrapper``) over the bundled 5,000 digits, or over his
  ``mnist.pkl.gz`` given its path.

A script written for his modules runs unchanged after swapping its import
(``from fastbp.compat import network``); the training itself runs in
fastbp's compiled core.
"""
from . import mnist_loader, network, network2

__all__ = ["mnist_loader", "network", "network2"]
