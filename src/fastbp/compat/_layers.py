"""What fastbp.compat.onnx and fastbp.compat.torch share: the dense layers
they read from another library's model, written into a fastbp.Network.

A layer record has ``W`` (n_out, n_in) and ``b`` (n_out,), float64, and
``bn``: None, or (γ, β, running mean, running variance) in fastbp's terms.
"""
import numpy as np


def set_parameters(net, layers):
    """Each record's W and b into `net`'s layers, and, when `net` has batch
    norm, each hidden layer's γ, β (its bias) and running estimates; cast
    to the network's dtype."""
    offsets = np.cumsum([0] + list(net.sizes[1:-1]))
    for l, layer in enumerate(layers):
        net.weights[l] = layer.W.astype(net.dtype)
        net.biases[l] = layer.b.astype(net.dtype)
        if net.batch_norm and l < len(layers) - 1:
            gamma, beta, mean, var = layer.bn
            net.gammas[l] = gamma.astype(net.dtype)
            net.biases[l] = beta.astype(net.dtype)
            net.running_mean[offsets[l]:offsets[l + 1]] = mean
            net.running_var[offsets[l]:offsets[l + 1]] = var
    return net
