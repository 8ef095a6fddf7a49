"""Usability: a seeded network trains repeatably, labels as users have them,
regression without silent pitfalls."""
import numpy as np
import pytest

import fastbp


def _digits(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8))
    y = (X[:, :3].argmax(axis=1))
    return X, y


def test_a_seeded_network_trains_repeatably():
    X, y = _digits()
    runs = []
    for _ in range(2):
        net = fastbp.Network([8, 6, 3], seed=0)
        h = net.fit(X, y, epochs=3, batch_size=10, lr=1.0)
        runs.append((net.params.copy(), h["loss"]))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_two_fits_in_a_row_draw_different_shuffles():
    X, y = _digits()
    net = fastbp.Network([8, 6, 3], seed=0)
    start = net.params.copy()
    net.fit(X, y, epochs=1, batch_size=10, lr=1.0)
    first = net.params.copy()
    net.params = start
    net.fit(X, y, epochs=1, batch_size=10, lr=1.0)
    assert not np.array_equal(net.params, first)
    # a copy goes on from the same point, on its own sequence
    twin = net.copy()
    net.params = twin.params = start
    net.fit(X, y, epochs=1, batch_size=10, lr=1.0)
    twin.fit(X, y, epochs=1, batch_size=10, lr=1.0)
    assert np.array_equal(net.params, twin.params)


def test_an_explicit_seed_and_an_unseeded_network_as_before():
    X, y = _digits()
    a, b = fastbp.Network([8, 6, 3], seed=1), fastbp.Network([8, 6, 3], seed=1)
    a.fit(X, y, epochs=1, lr=1.0, seed=7)
    b.fit(X, y, epochs=1, lr=1.0, seed=7)
    assert np.array_equal(a.params, b.params)
    c = fastbp.Network([8, 6, 3])
    d = c.copy()
    c.fit(X, y, epochs=1, lr=1.0)
    d.fit(X, y, epochs=1, lr=1.0)
    assert not np.array_equal(c.params, d.params)
