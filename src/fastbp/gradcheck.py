"""Numerical gradient check (Nielsen ch. 2): backprop against central differences."""
import numpy as np

from ._validation import check_positive_float
from .network import Network


def check_gradients(net, X, Y, eps=1e-6):
    """Largest relative error between backprop's gradient and the central
    difference (C(w+ε) − C(w−ε)) / 2ε of the mean cost C.

    For each weights[l] and biases[l] the error is ‖g_bp − g_fd‖ / max(‖g_bp‖,
    ‖g_fd‖) (0 when both vanish); the maximum over the arrays is returned.
    The check runs on a float64 copy of the network, so it tests the
    mathematics of the compiled kernels and leaves `net` unchanged. Batch
    norm uses the statistics of X, as training does (its γ are checked too).

    Parameters
    ----------
    net : fastbp.Network
        The network (not changed).
    X : array_like, shape (n, sizes[0])
    Y : array_like, targets or labels, as for `Network.loss`
    eps : float
        The step of the central differences.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    eps = check_positive_float(eps, "eps")
    probe = Network(net.sizes, net.activation, net.output_activation, net.cost, dtype="float64",
                    batch_norm=net.batch_norm)
    probe.params[...] = net.params
    X, Y = probe.checked_data(X, Y)
    _, backprop = probe.flat_gradients(X, Y)
    numeric = np.empty_like(backprop)
    p = probe.params
    for i in range(p.size):
        keep = p[i]
        p[i] = keep + eps
        up = probe.per_sample(X, Y, training=True)[0].mean()
        p[i] = keep - eps
        down = probe.per_sample(X, Y, training=True)[0].mean()
        p[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    worst = 0.0
    parts = lambda flat: [*probe.unflatten(flat)[0], *probe.unflatten(flat)[1],
                          *probe.gamma_views(flat)]
    for a, b in zip(parts(backprop), parts(numeric)):
        scale = max(np.linalg.norm(a), np.linalg.norm(b))
        if scale > 0:
            worst = max(worst, float(np.linalg.norm(a - b) / scale))
    return worst
