"""Usability: a seeded network trains repeatably, labels as users have them,
regression without silent pitfalls."""
import warnings

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


def _three_classes(n=300, seed=0):
    X, idx = _digits(n, seed)
    return X, idx


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([1, 2, 3]),
                                    np.array([-5, 10, 7])])
def test_labels_as_users_have_them(labels, tmp_path):
    X, idx = _three_classes()
    y = labels[idx]
    net = fastbp.Network([8, 6, 3], activation="tanh", cost="cross_entropy", seed=0)
    net.fit(X, y, epochs=20, lr=0.5)
    assert list(net.classes) == sorted(labels.tolist())
    pred = net.predict(X)
    assert pred.dtype.kind == y.dtype.kind and set(pred) <= set(labels)
    assert np.mean(pred == y) > 0.8
    assert net.score(X, y) == net.evaluate(X, y)["accuracy"] == np.mean(pred == y)
    # a one-column 2-D y is labels too, and the classes survive a model file
    net.fit(X, y.reshape(-1, 1), epochs=1, lr=0.5)
    net.save(tmp_path / "m.npz")
    back = fastbp.load(tmp_path / "m.npz")
    assert list(back.classes) == list(net.classes)
    assert np.array_equal(back.predict(X), net.predict(X))
    with pytest.raises(ValueError, match="not among the network's classes"):
        net.evaluate(X[:2], np.array([labels[0], "zebra" if labels.dtype.kind == "U" else 99]))


def test_dataframe_column():
    pd = pytest.importorskip("pandas")
    X, idx = _three_classes()
    y = pd.DataFrame({"kind": np.array(["a", "b", "c"], dtype=object)[idx]})
    net = fastbp.Network([8, 6, 3], cost="cross_entropy", seed=0)
    net.fit(pd.DataFrame(X), y, epochs=2, lr=0.5)
    assert net.classes.tolist() == ["a", "b", "c"]


def test_object_column_integer_labels_and_old_files(tmp_path):
    X, idx = _three_classes()
    # what a one-column DataFrame of strings is as an array
    column = np.array(["a", "b", "c"], dtype=object)[idx].reshape(-1, 1)
    net = fastbp.Network([8, 6, 3], cost="cross_entropy", seed=0)
    net.fit(X, column, epochs=2, lr=0.5)
    assert net.classes.tolist() == ["a", "b", "c"]
    assert set(net.predict(X)) <= {"a", "b", "c"}
    # integer labels 0..k-1 are their outputs' indices, as before
    plain = fastbp.Network([8, 6, 3], seed=0)
    plain.fit(X, idx, epochs=1)
    assert plain.classes.tolist() == [0, 1, 2]
    assert "accuracy" in plain.evaluate(X, idx.reshape(-1, 1))  # one column of labels
    # a model file without classes loads with classes None
    fresh = fastbp.Network([8, 6, 3], seed=0)
    fresh.save(tmp_path / "old.npz")
    assert fastbp.load(tmp_path / "old.npz").classes is None


def test_two_labels_on_one_sigmoid_output():
    X, idx = _digits()
    y = np.where(idx == 0, "yes", "no")
    net = fastbp.Network([8, 6, 1], cost="binary_cross_entropy", seed=0)
    net.fit(X, y, epochs=10, lr=0.5)
    assert net.classes.tolist() == ["no", "yes"]
    proba = net.predict_proba(X)
    p = net.forward(X)[:, 0]
    assert proba.shape == (len(X), 2) and np.allclose(proba, np.stack([1 - p, p], axis=1))
    assert np.array_equal(net.predict(X), np.where(p > 0.5, "yes", "no"))


def test_predict_proba_score_call_and_one_sample():
    X, idx = _three_classes()
    net = fastbp.Network([8, 6, 3], cost="cross_entropy", seed=0)
    assert np.array_equal(net.predict_proba(X), net.forward(X))
    assert np.array_equal(net(X), net.forward(X))
    assert net.forward(X[0]).shape == (3,) and np.array_equal(net.forward(X[0]), net.forward(X)[0])
    assert net.predict(X[0]).shape == (1,)
    with pytest.raises(ValueError, match="softmax or sigmoid"):
        fastbp.Network([8, 1], activation="tanh", output_activation="identity").predict_proba(X)
    # R² for real-valued targets, as scikit-learn's r2_score
    metrics = pytest.importorskip("sklearn.metrics")
    reg = fastbp.Network([8, 6, 2], output_activation="identity", seed=0)
    T = X[:, :2] * 0.5 + 0.1
    reg.fit(X, T, epochs=5, lr=0.05)
    assert reg.score(X, T) == pytest.approx(metrics.r2_score(T, reg.forward(X)))


def _sine(n=200):
    x = np.linspace(-3, 3, n).reshape(-1, 1)
    return x, 3 * np.sin(x)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_targets_out_of_the_output_range_warn_once(activation):
    x, t = _sine()
    net = fastbp.Network([1, 8, 1], activation=activation, seed=0)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("default")  # Python's own: once per calling line
        for _ in range(2):
            net.fit(x, t, epochs=1, lr=0.01)
    ours = [w for w in got if issubclass(w.category, fastbp.TargetRangeWarning)]
    assert len(ours) == 1 and 'output_activation="identity"' in str(ours[0].message)
    assert ours[0].filename == __file__
    assert issubclass(fastbp.TargetRangeWarning, UserWarning)


def test_no_warning_in_range_or_with_identity(recwarn):
    x, t = _sine()
    fastbp.Network([1, 8, 1], activation="tanh", output_activation="identity",
                   seed=0).fit(x, t, epochs=1, lr=0.01)
    fastbp.Network([1, 8, 1], activation="tanh", seed=0).fit(x, t / 3, epochs=1, lr=0.01)
    X, y = _digits()
    fastbp.Network([8, 6, 3], activation="tanh", seed=0).fit(X, y, epochs=1, lr=0.1)
    assert not [w for w in recwarn if issubclass(w.category, fastbp.TargetRangeWarning)]


def test_accuracy_only_for_classes():
    x, t = _sine()
    reg = fastbp.Network([1, 8, 1], activation="tanh", output_activation="identity", seed=0)
    history = reg.fit(x, t, epochs=2, lr=0.01, validation_data=(x, t))
    assert "accuracy" not in history.history and "val_accuracy" not in history.history
    assert "val_loss" in history.history
    assert set(reg.evaluate(x, t)) == {"loss"}
    X, y = _digits()
    clf = fastbp.Network([8, 6, 3], seed=0)
    history = clf.fit(X, y, epochs=2, lr=0.5, validation_data=(X, y))
    assert len(history["accuracy"]) == len(history["val_accuracy"]) == 2
    onehot = np.eye(3)[y]
    assert set(clf.evaluate(X, y)) == set(clf.evaluate(X, onehot)) == {"loss", "accuracy"}
    binary = fastbp.Network([8, 4, 1], seed=0)
    assert "accuracy" in binary.evaluate(X, (y == 0).astype(np.int64))


def test_one_output_takes_labels_0_and_1_only():
    X, y = _digits()
    net = fastbp.Network([8, 4, 1], seed=0)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        net.fit(X, np.where(y == 0, 5, -1), epochs=1)
    assert net.classes is None
    net.fit(X, (y == 0).astype(np.int64), epochs=1)   # labels
    assert net.classes.tolist() == [0, 1]
    reg = fastbp.Network([8, 4, 1], output_activation="identity", seed=0)
    reg.fit(X, X[:, 0] * 2.5, epochs=1, lr=0.01)      # real-valued 1-D targets: regression
    assert reg.classes is None
