"""The training toolkit against fastbp.reference (and torch.optim when it is
installed): every optimizer, L1/L2, dropout, max-norm, for both dtypes and
1 and 2 threads; schedules, early stopping, callbacks, gradient norms."""
import numpy as np
import pytest

import fastbp
from fastbp import optim, reference
from fastbp.optim import schedules

from conftest import DTYPES, HIDDEN, as64, make_data, make_net, rel_err, set_threads

OPTIMIZERS = {
    "sgd-momentum": lambda: optim.SGD(lr=0.05, momentum=0.9),
    "sgd-nesterov-wd": lambda: optim.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam": lambda: optim.Adam(lr=0.01),
    "adam-amsgrad-wd": lambda: optim.Adam(lr=0.01, weight_decay=0.01, amsgrad=True),
    "adamw": lambda: optim.AdamW(lr=0.01),
    "rmsprop": lambda: optim.RMSprop(lr=0.01),
    "rmsprop-centered-momentum": lambda: optim.RMSprop(lr=0.005, momentum=0.5, centered=True),
    "adagrad": lambda: optim.Adagrad(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
    "rprop": lambda: optim.Rprop(lr=0.01),
}


def reference_fit(net, X, Y, epochs, batch, opt=None, **kw):
    """Run reference.train_epoch for several epochs on a float64 twin."""
    oracle = as64(net)
    state = None if opt is None else opt._initial_state(oracle.params)
    step = 1
    for epoch in range(epochs):
        w, b, _ = reference.train_epoch(oracle, X, Y, np.arange(len(X)), batch,
                                        kw.get("lr", opt.lr if opt else 0.1), optimizer=opt,
                                        state=state, step=step, epoch=epoch,
                                        **{k: v for k, v in kw.items() if k != "lr"})
        step += -(-len(X) // batch)
        oracle.params[...] = np.concatenate([a.ravel() for pair in zip(w, b) for a in pair])
    return oracle.params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_match_reference(name, dtype, threads):
    net = make_net([5, 7, 3], "tanh", "cross_entropy", dtype, init="auto", seed=1)
    X, Y = make_data(net, 40)
    batch = 40 if name == "rprop" else 8
    expected = reference_fit(net, X, Y, 3, batch, OPTIMIZERS[name]())
    net.fit(X, Y, epochs=3, batch_size=batch, optimizer=OPTIMIZERS[name](), shuffle=False)
    assert rel_err(net.params, expected) <= (1e-12 if dtype == "float64" else 2e-5)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_match_torch(name):
    torch = pytest.importorskip("torch")
    net = make_net([5, 7, 3], "tanh", "cross_entropy", "float64", init="auto", seed=2)
    X, Y = make_data(net, 32)
    batch = 32 if name == "rprop" else 8
    ours = OPTIMIZERS[name]()
    params = [torch.tensor(a.copy(), requires_grad=True)
              for pair in zip(net.weights, net.biases) for a in pair]
    kw = ours._config()
    kw.pop("epsilon_hat", None)  # fastbp's Keras-style option; torch has no such argument
    cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
           "RMSprop": torch.optim.RMSprop, "Adagrad": torch.optim.Adagrad,
           "Rprop": torch.optim.Rprop}[type(ours).__name__]
    topt = cls(params, **kw)
    Xt, yt = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    for _ in range(2):
        for start in range(0, 32, batch):
            topt.zero_grad()
            h = torch.tanh(Xt[start:start + batch] @ params[0].T + params[1])
            loss = torch.nn.functional.cross_entropy(h @ params[2].T + params[3], yt[start:start + batch])
            loss.backward()
            topt.step()
    net.fit(X, Y, epochs=2, batch_size=batch, optimizer=ours, shuffle=False)
    theirs = np.concatenate([p.detach().numpy().ravel() for p in params])
    assert rel_err(net.params, theirs) <= 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(l2=0.01), dict(l1=0.003), dict(max_norm=0.9),
                                dict(dropout=[0.3, 0.1]), dict(l2=0.01, dropout=[0.5, 0.0])],
                         ids=repr)
def test_regularizers_match_reference(kw, dtype, threads):
    net = make_net([5, 9, 6, 3], "relu", "cross_entropy", dtype, init="auto", seed=3)
    X, Y = make_data(net, 30)
    fit_kw = dict(kw)
    ref_kw = dict(kw, lr=0.1)
    if "dropout" in kw:
        ref_kw["dropout"] = list(kw["dropout"]) + [0.0]
        seed_rng = np.random.default_rng(11)
        ref_kw["seed"] = int(seed_rng.bit_generator.seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0])
    expected = reference_fit(net, X, Y, 2, 7, **ref_kw)
    net.fit(X, Y, epochs=2, batch_size=7, lr=0.1, shuffle=False, seed=11, **fit_kw)
    assert rel_err(net.params, expected) <= (1e-12 if dtype == "float64" else 2e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_dropout_through_wide_layers_matches_reference(activation, dtype, threads):
    # hidden layers of 16 units or more: BP2's factor and dropout's mask in
    # csrc/activation.c's vectorized loops (narrower rows take the scalar ones)
    net = make_net([5, 20, 17, 3], activation, "cross_entropy", dtype, init="auto", seed=3)
    X, Y = make_data(net, 30)
    seed_rng = np.random.default_rng(11)
    seed = int(seed_rng.bit_generator.seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0])
    expected = reference_fit(net, X, Y, 2, 7, lr=0.1, dropout=[0.3, 0.1, 0.0], seed=seed)
    net.fit(X, Y, epochs=2, batch_size=7, lr=0.1, shuffle=False, seed=11, dropout=[0.3, 0.1])
    assert rel_err(net.params, expected) <= (1e-12 if dtype == "float64" else 2e-5)


def test_optimizer_state_persists_across_fits():
    net = make_net([4, 5, 3], "tanh", "cross_entropy", init="auto")
    twin = net.copy()
    X, Y = make_data(net, 24)
    opt = optim.Adam(lr=0.01)
    net.fit(X, Y, epochs=1, batch_size=6, optimizer=opt, shuffle=False)
    net.fit(X, Y, epochs=1, batch_size=6, optimizer=opt, shuffle=False)
    twin.fit(X, Y, epochs=2, batch_size=6, optimizer=optim.Adam(lr=0.01), shuffle=False)
    assert opt.steps == 8
    assert np.array_equal(net.params, twin.params)


@pytest.mark.parametrize("dtype", DTYPES)
def test_toolkit_results_identical_for_1_and_2_threads(dtype):
    results = []
    for n in (1, 2):
        set_threads(n)
        net = make_net([9, 17, 7, 3], "relu", "cross_entropy", dtype, init="auto", seed=4)
        X, Y = make_data(net, 61)
        h = net.fit(X, Y, epochs=2, batch_size=8, optimizer=optim.Adam(lr=0.01), l2=0.001,
                    dropout=0.2, max_norm=2.0, seed=5)
        results.append((net.params.copy(), h["loss"], h["grad_norm"]))
    set_threads(2)
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1:] == results[1][1:]


def test_grad_norm_is_last_batch_gradient():
    net = make_net([4, 6, 3], "sigmoid", "quadratic", init="auto", seed=6)
    X, Y = make_data(net, 23)
    before = net.copy()
    h = net.fit(X, Y, epochs=1, batch_size=5, lr=0.5, shuffle=False)
    # the last batch is rows 20:23, taken after 4 updates
    w, b, (gw, gb) = reference.train_epoch(before, X, Y, np.arange(23), 5, 0.5)
    expected = [float(np.sqrt(np.sum(gw[l] ** 2) + np.sum(gb[l] ** 2))) for l in range(2)]
    assert np.allclose(h["grad_norm"][0], expected, rtol=1e-10)


def test_schedules():
    assert schedules.StepLR(2, 0.5).lr_at(5, 1.0) == 0.25
    assert schedules.ExponentialLR(0.5).lr_at(3, 2.0) == 0.25
    cos = schedules.CosineAnnealingLR(10, eta_min=0.1)
    assert cos.lr_at(0, 1.0) == 1.0 and abs(cos.lr_at(10, 1.0) - 0.1) < 1e-15
    assert abs(cos.lr_at(5, 1.0) - 0.55) < 1e-15
    plateau = schedules.ReduceLROnPlateau(factor=0.5, patience=1)
    for loss in (1.0, 0.5, 0.6, 0.7, 0.8):
        plateau.observe({"loss": loss})
    assert plateau.lr_at(0, 1.0) == 0.5
    net = make_net([4, 5, 3], "tanh", "cross_entropy", init="auto")
    X, Y = make_data(net, 20)
    h = net.fit(X, Y, epochs=4, batch_size=5, lr=0.4, lr_schedule=schedules.StepLR(2, 0.5))
    assert h["lr"] == [0.4, 0.4, 0.2, 0.2]
    h = net.fit(X, Y, epochs=3, lr_schedule=lambda e: 0.1 * (e + 1))
    assert h["lr"] == [0.1, 0.2, pytest.approx(0.3)]
    assert net.fit(X, Y, epochs=2, lr_schedule="cosine")["lr"][1] == pytest.approx(1.5)


def test_early_stopping_restores_best_and_callbacks_stop():
    net = make_net([4, 8, 3], "relu", "cross_entropy", init="auto", seed=7)
    X, Y = make_data(net, 40)
    Xv, Yv = make_data(net, 40, seed=9)   # unrelated labels: val_loss soon rises
    snapshots = []
    h = net.fit(X, Y, epochs=60, batch_size=4, lr=0.5, validation_data=(Xv, Yv),
                early_stopping=3, callbacks=[lambda e, logs: snapshots.append(net.params.copy())])
    best = int(np.argmin(h["val_loss"]))
    assert len(h) < 60 and len(h) - 1 - best == 3
    assert np.array_equal(net.params, snapshots[best])
    calls = []
    h = net.fit(X, Y, epochs=10, callbacks=[lambda e, logs: calls.append(e) or e < 2])
    assert calls == [0, 1, 2] and len(h) == 3


@pytest.mark.parametrize("kw, exc, name", [
    (dict(optimizer="nope"), ValueError, "optimizer"),
    (dict(optimizer=3), TypeError, "optimizer"),
    (dict(l2=-1), ValueError, "l2"),
    (dict(l1="a"), TypeError, "l1"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(dropout=[0.1, 0.2]), ValueError, "dropout"),
    (dict(max_norm=0), ValueError, "max_norm"),
    (dict(lr_schedule="nope"), ValueError, "lr_schedule"),
    (dict(lr_schedule=3), TypeError, "lr_schedule"),
    (dict(early_stopping=2), ValueError, "early_stopping"),
    (dict(callbacks=[3]), TypeError, "callbacks"),
    (dict(on_nonfinite="ignore"), ValueError, "on_nonfinite"),
], ids=repr)
def test_bad_toolkit_arguments(kw, exc, name):
    net = make_net([4, 5, 3], "tanh", "cross_entropy")
    X, Y = make_data(net, 10)
    before = net.params.copy()
    with pytest.raises(exc, match=name):
        net.fit(X, Y, **kw)
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("make, exc, name", [
    (lambda: optim.Adam(betas=(1.0, 0.9)), ValueError, "betas"),
    (lambda: optim.Adam(lr=-1), ValueError, "lr"),
    (lambda: optim.SGD(momentum=-0.1), ValueError, "momentum"),
    (lambda: optim.SGD(nesterov=True), ValueError, "nesterov"),
    (lambda: optim.Rprop(etas=(1.5, 1.2)), ValueError, "etas"),
    (lambda: optim.RMSprop(alpha=2), ValueError, "alpha"),
])
def test_bad_optimizer_settings(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


def test_regularized_loss_and_save_with_optimizer(tmp_path):
    net = make_net([4, 5, 3], "tanh", "cross_entropy", init="auto", seed=8)
    X, Y = make_data(net, 24)
    net.fit(X, Y, epochs=2, batch_size=6, optimizer=optim.Adam(lr=0.01, amsgrad=True), l2=0.1,
            l1=0.01, shuffle=False)
    w = net.weights
    penalty = sum(0.05 * np.sum(W ** 2) + 0.01 * np.sum(np.abs(W)) for W in w)
    assert net.loss(X, Y, regularized=True) == pytest.approx(net.loss(X, Y) + penalty, rel=1e-12)
    path = tmp_path / "m.npz"
    net.save(path, include_optimizer=True)
    loaded = fastbp.load(path)
    assert loaded.optimizer.steps == 8 and loaded.optimizer.amsgrad
    assert np.array_equal(loaded.optimizer.state, net.optimizer.state)
    # resuming from the file equals training on without stopping
    net.fit(X, Y, epochs=1, batch_size=6, optimizer=net.optimizer, l2=0.1, l1=0.01, shuffle=False)
    loaded.fit(X, Y, epochs=1, batch_size=6, optimizer=loaded.optimizer, l2=0.1, l1=0.01,
               shuffle=False)
    assert np.array_equal(net.params, loaded.params)
    net.save(path)  # without the optimizer
    assert fastbp.load(path).optimizer is None


@pytest.mark.parametrize("make, exc, name", [
    (lambda: schedules.StepLR(0), ValueError, "step_size"),
    (lambda: schedules.ExponentialLR(-0.5), ValueError, "gamma"),
    (lambda: schedules.ExponentialLR("a"), TypeError, "gamma"),
    (lambda: schedules.CosineAnnealingLR(10, eta_min=-1), ValueError, "eta_min"),
    (lambda: schedules.ReduceLROnPlateau(factor=1.5), ValueError, "factor"),
])
def test_bad_schedule_settings(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_epsilon_hat_matches_reference(dtype, threads):
    net = make_net([5, 7, 3], "tanh", "cross_entropy", dtype, init="auto", seed=1)
    X, Y = make_data(net, 40)
    make = lambda: optim.Adam(lr=0.01, eps=1e-3, epsilon_hat=True)  # a large ε shows where it goes
    expected = reference_fit(net, X, Y, 3, 8, make())
    torch_style = reference_fit(net, X, Y, 3, 8, optim.Adam(lr=0.01, eps=1e-3))
    assert rel_err(expected, torch_style) > 1e-6
    net.fit(X, Y, epochs=3, batch_size=8, optimizer=make(), shuffle=False)
    assert rel_err(net.params, expected) <= (1e-12 if dtype == "float64" else 2e-5)


def test_adam_epsilon_hat_is_sklearns_adam():
    """scikit-learn's own AdamOptimizer, step by step on the same gradients."""
    pytest.importorskip("sklearn")
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    rng = np.random.default_rng(0)
    p = rng.standard_normal(12)
    theirs = [p.copy()]
    sk = AdamOptimizer(theirs, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    ours = optim.Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-3, epsilon_hat=True)
    state = ours._initial_state(p)
    mine = p.copy()
    for t in range(1, 6):
        g = rng.standard_normal(12)
        sk.update_params(theirs, [g])
        reference.optimizer_step(ours, mine, g, state, t, ours.lr)
    assert rel_err(mine, theirs[0]) < 1e-14


def test_codes_and_hyper_parameters_come_from_the_c_headers():
    # one source: the kinds are optim.h's constants and every hyper-parameter
    # an optimizer passes is a field of optim.h's fastbp_hyper, by name
    from fastbp import _core
    for cls in set(optim.OPTIMIZERS.values()) - {optim.LBFGS}:
        opt = cls()
        assert opt.code in _core.OPTIMIZER_CODES.values()
        assert set(opt._hyper_for(3)) <= set(_core.HYPER_FIELDS)
        settings = _core.TrainSettings(kind=opt.code, hyper=opt._hyper_for(3), lr=opt.lr)
        for name, value in opt._hyper_for(3).items():
            assert settings.hyper_parameters[name] == value
    with pytest.raises(ValueError, match="fastbp_hyper"):
        _core.TrainSettings(lr=0.1, hyper={"betas": 0.9})
    assert list(_core.ACTIVATION_CODES.values()) == list(range(len(_core.ACTIVATION_CODES)))
    assert _core.PLAIN_SGD == -1
