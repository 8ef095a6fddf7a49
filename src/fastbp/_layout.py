"""The flat parameter buffer's layout: one array [W_0, b_0, (γ_0,) W_1, ...]
and the lists of per-layer views into it that Model hands out."""
import numpy as np

from ._validation import check_values


class ParamList(list):
    """A list of views into the flat buffer: item assignment copies into the
    view (so `net.weights[0] = W` changes the model), shape checked."""

    def __init__(self, views, argname):
        super().__init__(views)
        self._argname = argname

    def __setitem__(self, index, value):
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{self._argname} only supports assignment of one layer at a time")
        view = self[index]
        view[...] = check_values(value, view.shape, view.dtype, f"{self._argname}[{index}]")


def layout(sizes, batch_norm=False):
    """Offsets of each W_l, b_l and (batch norm, hidden layers) γ_l in the flat
    buffer (-1 where a layer has no γ), and its total length."""
    w_off, b_off, g_off, pos = [], [], [], 0
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w_off.append(pos)
        pos += n_out * n_in
        b_off.append(pos)
        pos += n_out
        if batch_norm and l < len(sizes) - 2:
            g_off.append(pos)
            pos += n_out
        else:
            g_off.append(-1)
    return w_off, b_off, g_off, pos
