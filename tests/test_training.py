"""SGD epochs against fastbp.reference, thread-count independence, and
training to a useful accuracy on real data."""
import numpy as np
import pytest

import fastbp
from fastbp import _core, optim, reference
from fastbp.datasets import load_wheat_seeds, standardize, train_test_split

from conftest import (COSTS, DTYPES, HIDDEN, TOL, as64, make_data, make_net, rel_err,
                      seeds_of_fit, set_threads)


@pytest.mark.parametrize("batch", [1, 7, 64])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_sgd_epoch_matches_reference(activation, cost, dtype, batch, threads):
    net = make_net([5, 7, 4, 3], activation, cost, dtype, seed=2, init="auto")
    X, Y = make_data(net, 100)
    oracle = as64(net)
    order = np.arange(100)
    ref_w, ref_b = reference.sgd_epoch(oracle, X, Y, order, batch, lr=0.1)
    net.fit(X, Y, epochs=1, batch_size=batch, lr=0.1, shuffle=False)
    # float32: 100 updates of float32 rounding; still far below any real change
    tol = 1e-11 if dtype == "float64" else 1e-4
    for mine, ref in zip(net.weights + net.biases, ref_w + ref_b):
        assert rel_err(mine, ref) <= tol


def test_shuffled_epochs_match_reference(threads):
    # fit draws each epoch's order from default_rng(seed).permutation
    net = make_net([4, 6, 3], "tanh", "cross_entropy", seed=4)
    X, Y = make_data(net, 50)
    oracle = as64(net)
    rng = np.random.default_rng(123)
    for _ in range(3):
        w, b = reference.sgd_epoch(oracle, X, Y, rng.permutation(50), 8, lr=0.5)
        oracle.params[...] = np.concatenate([a.ravel() for pair in zip(w, b) for a in pair])
    history = net.fit(X, Y, epochs=3, batch_size=8, lr=0.5, seed=123)
    assert rel_err(net.params, oracle.params) <= 1e-12
    assert len(history) == 3 and set(history.history) == {"loss", "accuracy", "lr", "seconds", "grad_norm"}


def test_history_reports_epoch_losses():
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy", seed=5)
    X, Y = make_data(net, 30)
    before = as64(net)
    history = net.fit(X, Y, epochs=1, batch_size=30, lr=0.5, validation_data=(X, Y))
    # one full batch: the epoch loss is the loss before the update
    assert history["loss"][0] == pytest.approx(reference.loss(before, X, Y), rel=1e-12)
    assert history["accuracy"][0] == pytest.approx(reference.accuracy(before, X, Y))
    assert history["val_loss"][0] == pytest.approx(reference.loss(net, X, Y), rel=1e-12)
    assert history["val_accuracy"][0] == pytest.approx(net.evaluate(X, Y)["accuracy"])


# Nielsen's 784-30-10 in small: a layer too narrow to cut by units but with
# many inputs is cut by inputs, its partial products added in piece order
# (fastbp._core.input_pieces_for); each update path through such a layer.
@pytest.mark.parametrize("options", [{}, {"l1": 1e-3, "l2": 1e-2},
                                     {"optimizer": "adam", "l1": 1e-4, "l2": 1e-3},
                                     {"optimizer": "adam", "l2": 1e-3, "max_norm": 1.5}],
                         ids=["sgd", "sgd-l1-l2", "adam-l1-l2", "adam-l2-maxnorm"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_cut_by_inputs_matches_reference(options, dtype, threads):
    assert _core.input_pieces_for(300, 20) > 1 and _core.pieces_for(20) == 1
    net = make_net([300, 20, 3], "sigmoid", "cross_entropy", dtype, seed=3, init="auto")
    X, Y = make_data(net, 45)
    oracle = as64(net)
    assert rel_err(net.forward(X[:5]), reference.forward(oracle, X[:5])) <= TOL[dtype]
    loss, gw, gb = net.gradients(X, Y)
    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X, Y)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= TOL[dtype]
    kw = dict(options)
    opt = optim.Adam(lr=0.01) if kw.pop("optimizer", None) else None
    ref_w, ref_b, _ = reference.train_epoch(oracle, X, Y, np.arange(45), 10,
                                            opt.lr if opt else 0.1, optimizer=opt,
                                            state=opt and opt._initial_state(oracle.params), **kw)
    net.fit(X, Y, epochs=1, batch_size=10, shuffle=False,
            **({"optimizer": optim.Adam(lr=0.01)} if opt else {"lr": 0.1}), **kw)
    for mine, ref in zip(net.weights + net.biases, ref_w + ref_b):
        assert rel_err(mine, ref) <= (1e-11 if dtype == "float64" else 1e-4)


# A network of two layers whose hidden layer is cut by units (130 in 2 pieces)
# and whose 3 outputs are cut by rows (batches of 70: 2 pieces of 35): ∇W_1
# is cut by its inputs as the hidden units are, and no barrier follows δ_0
# (_core._grad_input_pieces) or ends a batch; each update path through it,
# and DP-SGD's clipping, which keeps both barriers.
@pytest.mark.parametrize("options", [
    {}, {"l1": 1e-3, "l2": 1e-2}, {"max_norm": 0.5}, {"dropout": 0.3},
    {"optimizer": "adam", "l1": 1e-4, "l2": 1e-3},
    {"optimizer": "adam", "l2": 1e-3, "max_norm": 1.5}, {"clip": 0.3, "noise": 0.7}],
    ids=["sgd", "sgd-l1-l2", "sgd-maxnorm", "sgd-dropout", "adam-l1-l2", "adam-l2-maxnorm", "dp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_output_cut_by_rows_matches_reference(options, dtype, threads):
    assert _core.pieces_for(130) == 2 and _core.pieces_for(3) == 1
    assert _core.input_pieces_for(40, 130) == 1
    net = make_net([40, 130, 3], "relu", "cross_entropy", dtype, seed=4, init="auto")
    X, Y = make_data(net, 140)
    oracle = as64(net)
    loss, gw, gb = net.gradients(X[:70], Y[:70])
    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X[:70], Y[:70])
    assert loss == pytest.approx(ref_loss, rel=TOL[dtype])
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= TOL[dtype]
    kw = dict(options)
    opt = optim.Adam(lr=0.01) if kw.pop("optimizer", None) else None
    drop_seed, noise_seed = seeds_of_fit(5)
    dropout = kw.pop("dropout", 0.0)
    clip = kw.pop("clip", None)
    ref_w, ref_b, _ = reference.train_epoch(
        oracle, X, Y, np.arange(140), 70, opt.lr if opt else 0.1, optimizer=opt,
        state=opt and opt._initial_state(oracle.params), seed=drop_seed,
        dropout=[dropout, 0.0] if dropout else None, clip=clip, noise_seed=noise_seed, **kw)
    net.fit(X, Y, epochs=1, batch_size=70, shuffle=False, seed=5, dropout=dropout,
            **({"clip_per_sample": clip} if clip else {}),
            **({"optimizer": optim.Adam(lr=0.01)} if opt else {"lr": 0.1}), **kw)
    for mine, ref in zip(net.weights + net.biases, ref_w + ref_b):
        assert rel_err(mine, ref) <= (1e-11 if dtype == "float64" else 1e-4)


# Layers of 259 and 130 units are cut into several pieces, and so are 300 rows
# of inference (70 too, where every layer is narrower: 300-20-3) and batches
# of 64 at the 3 outputs: with 2 or 3 threads each thread takes whole pieces,
# and the BLAS sees the same calls whatever the count; 300-20 is cut by
# inputs, and so is 300-70 (its inputs at multiples of 16, the 300 units in
# halves: its threads step W columns others read for δ_0 unless a barrier
# comes first); 9-130-3 crosses two barriers a batch with SGD
# (_core._batch_ends_in_barrier). In float32 their backward products take
# csrc/outer.c's kernel where it runs.
@pytest.mark.parametrize("sizes", [[9, 259, 130, 3], [9, 130, 3], [300, 20, 3],
                                   [9, 300, 70, 3]],
                         ids=["units", "units-2-layers", "inputs", "inputs-3-layers"])
@pytest.mark.parametrize("options", [{}, {"optimizer": "adam", "l1": 1e-4, "dropout": 0.2},
                                     {"optimizer": "adam", "l2": 1e-3, "dropout": 0.2,
                                      "max_norm": 2.0}, {"batch_norm": True}],
                         ids=["sgd", "adam-l1-dropout", "adam-l2-dropout-maxnorm", "batchnorm"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_identical_for_1_2_and_3_threads(own, dtype, options, sizes):
    options = dict(options)
    batch_norm = options.pop("batch_norm", False)
    results = []
    for n in (1, 2, 3, 1):
        set_threads(n)
        net = fastbp.Network(sizes, activation="relu", cost="cross_entropy",
                             dtype=dtype, seed=6, batch_norm=batch_norm)
        X, Y = make_data(net, 300)
        results.append((net.forward(X), net.gradients(X, Y)[1][0].copy(),
                        net.fit(X, Y, epochs=2, batch_size=64, lr=0.05, seed=1,
                                **options)["loss"],
                        net.params.copy(), net.forward(X[:1]), net.forward(X[:70])))
    set_threads(fastbp.get_num_threads())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


# 784-30-10 in small: on 2 or 3 threads every thread computes the output
# layer, its cost and δ_0 for all rows in copies of its own, and the batch
# crosses two barriers (_core.output_everywhere; not with dropout); the bits
# of one thread for each update path (max-norm and the last batch's gradient
# norms step whole rows, with a barrier more), batches of 1, 7 and 10 (the
# last one short), sample weights, and a batch whose cost is not finite, at
# which every thread must stop.
@pytest.mark.parametrize("options", [
    {}, {"optimizer": "adam", "l1": 1e-4, "l2": 1e-3}, {"optimizer": "rmsprop", "l2": 1e-3},
    {"max_norm": 0.5}, {"sample_weight": True}, {"dropout": 0.2}, {"nonfinite": True}],
    ids=["sgd", "adam-l1-l2", "rmsprop-l2", "sgd-maxnorm", "weighted", "dropout", "nonfinite"])
@pytest.mark.parametrize("batch", [1, 7, 10])
@pytest.mark.parametrize("dtype", DTYPES)
def test_output_everywhere_identical_for_1_2_and_3_threads(own, dtype, batch, options):
    assert _core.output_everywhere([300, 20, 3], False)
    assert not _core.output_everywhere([300, 20, 3], True)
    assert not _core.output_everywhere([300, 20, 50], False)  # the output layer too big
    options = dict(options)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((73, 300))
    y = rng.integers(0, 3, 73)
    if options.pop("sample_weight", False):
        options["sample_weight"] = rng.random(73)
    if options.pop("nonfinite", False):  # the weights overflow in the first batches
        options.update(on_nonfinite="stop", lr=float(np.finfo(dtype).max) / 4)
    results = []
    for n in (1, 2, 3):
        set_threads(n)
        net = fastbp.Network([300, 20, 3], activation="sigmoid", output_activation="softmax",
                             cost="cross_entropy", dtype=dtype, seed=6)
        assert net.plan(batch).team_everywhere == n
        kw = dict(options)
        if kw.get("optimizer") == "adam":
            kw["optimizer"] = optim.Adam(lr=0.01)
        history = net.fit(X.astype(dtype), y, epochs=2, batch_size=batch, seed=1,
                          **{"lr": 0.05, **kw}).history
        assert len(history.get("loss", [])) == (0 if "on_nonfinite" in kw else 2)
        results.append((history.get("loss"), history.get("grad_norm"), net.params.copy()))
    set_threads(fastbp.get_num_threads())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


# An optimizer steps W panel by panel as csrc/outer.c makes its float32
# gradient (_core._steps_in_panels): element by element the arithmetic of the
# step after the whole product, so the same bits. 2 and 3 batches an epoch
# (the last one's step waits for the whole gradient: its norms are kept).
@pytest.mark.parametrize("options", [
    {"optimizer": "adam"}, {"optimizer": "adamw"}, {"optimizer": "rmsprop"},
    {"optimizer": "momentum"}, {"optimizer": "adam", "l2": 1e-3},
    {"optimizer": "adam", "l1": 1e-4, "max_norm": 1.0}, {"optimizer": "adam", "dropout": 0.2}],
    ids=["adam", "adamw", "rmsprop", "momentum", "adam-l2", "adam-l1-maxnorm", "adam-dropout"])
def test_panel_steps_are_the_steps_after_the_product(options, threads):
    options = dict(options)
    if options["optimizer"] == "momentum":  # a new one for each fit: it keeps state
        options["optimizer"] = None
    results = []
    previous = _core.set_panel_steps(True)
    try:
        for panels in (True, False):
            _core.set_panel_steps(panels)
            # 70 and 300 units in pieces of 35-150 rows of W, 90 inputs
            net = fastbp.Network([90, 300, 70, 5], activation="relu", cost="cross_entropy",
                                 dtype="float32", seed=3)
            X, Y = make_data(net, 150)
            kwargs = dict(options, optimizer=options["optimizer"]
                          or optim.SGD(lr=0.05, momentum=0.9))
            history = net.fit(X, Y, epochs=2, batch_size=64, lr=0.01, seed=1, **kwargs)
            results.append((net.params.copy(), history["loss"]))
    finally:
        _core.set_panel_steps(previous)
    for a, b in zip(*results):
        assert np.array_equal(a, b)


# Online SGD of networks whose products are all small takes the online
# kernels of _core (one row on one thread); they must give the phases' bits.
@pytest.mark.parametrize("sizes", [[5, 7, 3], [5, 7, 1, 13, 3], [9, 2]],
                         ids=["one-hidden", "three-hidden", "no-hidden"])
@pytest.mark.parametrize("cost,output", [("quadratic", None), ("quadratic", "softmax"),
                                         ("binary_cross_entropy", None),
                                         ("cross_entropy", None)])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_online_rows_are_the_phases_bit_for_bit(own, activation, dtype, weighted, cost, output,
                                               sizes, one_thread):
    assert all(a * b <= 128 for a, b in zip(sizes[:-1], sizes[1:]))  # small_gemm's
    results = []
    previous = _core.set_online_rows(True)
    try:
        for online in (True, False):
            _core.set_online_rows(online)
            net = make_net(sizes, activation, cost, dtype, seed=4, output_activation=output,
                           init="auto")
            X, Y = make_data(net, 31)
            weights = np.random.default_rng(2).uniform(0.5, 2, 31) if weighted else None
            history = net.fit(X, Y, epochs=3, batch_size=1, lr=0.05, seed=5,
                              sample_weight=weights)
            results.append((net.params.copy(), history["loss"]))
    finally:
        _core.set_online_rows(previous)
    assert not np.array_equal(results[0][0], make_net(sizes, activation, cost, dtype, seed=4,
                                                      output_activation=output,
                                                      init="auto").params)
    for a, b in zip(*results):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("batch,shuffled,dropout", [(1, False, 0.0), (1, True, 0.0),
                                                     (4, True, 0.3), (4, False, 0.3)])
def test_several_epochs_in_one_call_are_the_epochs_one_call_each(batch, shuffled, dropout,
                                                                 threads):
    """train_epoch(epochs=k) is k calls of one epoch, bit for bit: the same
    parameters, dropout keyed by epoch, each epoch's cost sum in epoch_loss,
    the sums over all of them returned, row_sq of the last epoch's last
    batch (rows read in place when in order, gathered when shuffled)."""
    net = make_net([5, 7, 4, 3], "sigmoid", "quadratic", seed=3, init="auto")
    X, Y = make_data(net, 23)
    order = (np.random.default_rng(0).permutation(23) if shuffled
             else np.arange(23)).astype(np.intp)
    rates = np.array([dropout, dropout, 0.0])
    results = []
    for calls in ("one per epoch", "one"):
        params = net.params.copy()
        plan, grads, row_sq = net.plan(batch), np.empty_like(params), np.zeros(14)

        def settings(epoch):
            return _core.TrainSettings(lr=0.5, batch_size=batch, dropout=rates, seed=9,
                                       epoch=epoch, row_sq=row_sq)
        if calls == "one":
            losses = np.full(5, np.nan)
            out = _core.train_epoch(plan, params, grads, X, Y, order, settings(2), 4, losses)
            assert np.isnan(losses[4])
            losses = losses[:4]
        else:
            each = [_core.train_epoch(plan, params, grads, X, Y, order, settings(2 + e))
                    for e in range(4)]
            losses = np.array([r[0] for r in each])
            out = (sum(r[0] for r in each), sum(r[1] for r in each),
                   *[sum(r[i] for r in each) for i in (2, 3)], each[-1][4])
        results.append((params, losses, out, row_sq.copy()))
    (p1, l1, o1, r1), (p2, l2, o2, r2) = results
    assert np.array_equal(p1, p2) and not np.array_equal(p1, net.params)
    assert np.array_equal(l1, l2) and np.array_equal(r1, r2)
    assert o2[0] == pytest.approx(o1[0], rel=1e-14) and o2[1:] == o1[1:]
    with pytest.raises(ValueError, match="epochs"):
        _core.train_epoch(plan, params, grads, X, Y, order, settings(0), 0)
    with pytest.raises(ValueError, match="epochs"):
        _core.train_epoch(plan, params, grads, X, Y, order, settings(0), 3, np.zeros(2))


def test_fit_is_reproducible_and_seeded():
    X, y = make_data(make_net([4, 5, 3], "sigmoid", "cross_entropy"), 40)
    runs = []
    for fit_seed in (7, 7, 8):
        net = make_net([4, 5, 3], "sigmoid", "cross_entropy", seed=0)
        net.fit(X, y, epochs=2, batch_size=5, lr=0.5, seed=fit_seed)
        runs.append(net.params.copy())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_init_schemes():
    for init, check in [("gaussian", lambda W, n: abs(W.std() - 1) < 0.05),
                        ("auto", lambda W, n: abs(W.std() * np.sqrt(n) - 1) < 0.05),
                        ("he", lambda W, n: abs(W.std() * np.sqrt(n / 2) - 1) < 0.05),
                        ("xavier", lambda W, n: np.abs(W).max() <= np.sqrt(6 / (n + 300)))]:
        net = fastbp.Network([400, 300, 2], init=init, seed=0)
        assert check(net.weights[0], 400), init
        assert (net.biases[0] != 0).all() == (init == "gaussian")
    relu = fastbp.Network([400, 300, 2], activation="relu", seed=0)
    assert abs(relu.weights[0].std() * np.sqrt(200) - 1) < 0.05  # He for relu under auto
    a = fastbp.Network([3, 4, 2], seed=11)
    b = fastbp.Network([3, 4, 2], seed=11, dtype="float32")
    assert np.allclose(a.params, b.params, rtol=1e-7)


def test_wheat_seeds_reaches_90_percent():
    X, y = load_wheat_seeds()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.25, seed=0)
    X_train, X_test = standardize(X_train, X_test)
    net = fastbp.Network([7, 10, 3], activation="sigmoid", cost="cross_entropy", seed=0)
    net.fit(X_train, y_train, epochs=50, batch_size=10, lr=0.5, seed=0)
    result = net.evaluate(X_test, y_test)
    assert result["accuracy"] >= 0.90
    assert np.mean(net.predict(X_test) == y_test) == pytest.approx(result["accuracy"])


def test_predict_single_output_threshold():
    net = fastbp.Network([1, 1], activation="identity")
    net.weights[0][...] = 1.0
    assert list(net.predict([[0.2], [0.7], [0.5]])) == [0, 1, 0]


def test_repr_and_version():
    net = fastbp.Network([3, 4, 2], activation="relu", cost="cross_entropy", dtype="float32")
    text = repr(net)
    for part in ("[3, 4, 2]", "'relu'", "'softmax'", "'cross_entropy'", "'float32'"):
        assert part in text
    assert isinstance(fastbp.__version__, str) and fastbp.__version__.count(".") == 2


def test_show_config(capsys):
    fastbp.show_config()
    out = capsys.readouterr().out
    for word in ("fastbp", "compiler", "OpenMP", "threads", "float32", "BLAS", "OpenBLAS",
                 "scipy-openblas32", "BLAS kernel", "own kernels"):
        assert word in out


def test_history_repr_shows_the_last_epoch():
    net = make_net([4, 5, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 10)
    text = repr(net.fit(X, Y, epochs=2, batch_size=5, lr=0.1))
    assert text.startswith("History(epochs=2") and "grad_norm" in text and "loss" in text


def test_early_stopping_when_val_loss_is_never_finite():
    """No finite val_loss ever: stop after `early_stopping` epochs, keep the
    last parameters (there is no best to restore)."""
    net = fastbp.Network([2, 3, 1], activation="identity", cost="quadratic", seed=0)
    X = np.random.default_rng(0).standard_normal((20, 2))
    y = X[:, :1].copy()
    hist = net.fit(X, y, epochs=10, batch_size=5, lr=0.01,
                   validation_data=(X * 1e200, y), early_stopping=2)
    assert len(hist) == 2 and np.isinf(hist["val_loss"]).all()  # no improvement twice
    assert np.isfinite(net.params).all()


def test_small_batches_of_784_30_10_train_on_two_threads():
    # every thread computes its output layer (_core.output_everywhere): two
    # barriers a batch, worth a second thread from batches of 2 (47.6k
    # multiply-adds); one thread for everything else of the plan
    from fastbp import _threads
    net = fastbp.Network([784, 30, 10])
    old_n, old_adaptive = fastbp.get_num_threads(), _threads.adaptive
    try:
        _threads.adaptive = True
        fastbp.set_num_threads(2)
        assert (net.plan(10).n_threads, net.plan(10).team_everywhere) == (1, 2)
        assert (net.plan(2).n_threads, net.plan(2).team_everywhere) == (1, 2)
        assert net.plan(1).team_everywhere == 1
        assert fastbp.Network([784, 30, 10], batch_norm=True).plan(10).team_everywhere == 1
        fastbp.set_num_threads(1)
        assert net.plan(10).team_everywhere == 1
    finally:
        _threads.adaptive = old_adaptive
        fastbp.set_num_threads(old_n)


def test_threads_are_capped_by_the_pieces():
    # more threads than a product has pieces would only wait (and each would
    # hold a batch copy): set_num_threads(64) plans for at most the pieces
    from fastbp import _core, _threads
    net = fastbp.Network([784, 1024, 10], dtype="float32")
    old_n, old_adaptive = fastbp.get_num_threads(), _threads.adaptive
    try:
        _threads.adaptive = True
        fastbp.set_num_threads(64)
        plan = net.plan(256)
        assert plan.n_threads == _core.pieces_for(1024) < 64
        assert plan.xb.shape[0] == plan.n_threads
    finally:
        _threads.adaptive = old_adaptive
        fastbp.set_num_threads(old_n)


def test_inference_takes_only_the_threads_its_pieces_keep_busy():
    # a thread without a piece would only wait at the barriers, and one that
    # sleeps there is slow to wake: forward and evaluate take a team of at
    # most the pieces of their products (the bits are those of any team)
    from fastbp import _threads
    old_n, old_adaptive = fastbp.get_num_threads(), _threads.adaptive
    try:
        _threads.adaptive = False  # plans of 3 threads whatever the work
        fastbp.set_num_threads(3)
        # by rows: pieces of 32 rows or more (two from 64 rows to 127 on any machine)
        narrow = fastbp.Network([784, 30, 10])
        assert [_core.infer_team(narrow.plan(n), n) for n in (30, 63, 64, 127)] == [1, 1, 2, 2]
        assert _core.infer_team(narrow.plan(64), 10**6) == 2  # blocks of the plan's 64
        assert _core.infer_team(fastbp.Network([7, 5, 3]).plan(100), 100) == 2
        assert _core.infer_team(fastbp.Network([7, 5, 3]).plan(20), 20) == 1
        # by units (a layer wider than the batch): the pieces of its inputs or units
        assert _core.infer_team(narrow.plan(1), 1) == min(3, _core.input_pieces_for(784, 30)) > 1
        wide = fastbp.Network([784, 128, 10])
        assert _core.infer_team(wide.plan(1), 1) == min(3, _core.pieces_for(128)) > 1
        fastbp.set_num_threads(1)
        assert _core.infer_team(wide.plan(1), 1) == 1
    finally:
        _threads.adaptive = old_adaptive
        fastbp.set_num_threads(old_n)
