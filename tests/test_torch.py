"""fastbp.compat.torch: to_torch / from_torch against PyTorch itself.

Forward passes equal in both directions, batch norm in eval and train mode,
and the same SGD steps taken by fastbp's fit and by torch.optim.SGD from the
same start (the learning-rate mapping of the module docstring). Needs torch
(pip install 'fastbp[torch]'); each comparison prints its largest difference
(pytest -s shows them).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs PyTorch: pip install 'fastbp[torch]'")
nn = torch.nn

import fastbp
from fastbp import reference
from fastbp.compat.torch import from_torch, to_torch

from conftest import LAYOUTS as conftest_layouts
from conftest import COSTS, TOL, every_network, make_data, perturbed_net, rel_err

LAYOUTS = {**conftest_layouts, 4: [5, 7, 1, 33, 6, 3]}  # conftest's, and 4 hidden layers


def _net(n_hidden, activation, cost, dtype, batch_norm, seed=0):
    return perturbed_net(LAYOUTS[n_hidden], activation, cost, dtype, batch_norm, seed)


def _maxdiff(a, b):
    """max |a − b| / max(1, max |b|): absolute for outputs up to 1
    (probabilities), relative to the largest output beyond (unbounded relu
    or linear outputs, whose float32 rounding grows with their scale)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _run(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(X))).numpy()


# ------------------------------------------------------------ forward


@every_network
def test_forward_equal(activation, cost, batch_norm, n_hidden, dtype):
    net = _net(n_hidden, activation, cost, dtype, batch_norm)
    X, _ = make_data(net, 17)
    X = X.astype(dtype)
    model = to_torch(net)
    assert not model.training
    assert all(p.dtype == getattr(torch, dtype) for p in model.state_dict().values()
               if p.is_floating_point())
    got = _run(model, X)
    diff = _maxdiff(got, net.forward(X))
    back = from_torch(model)
    back_diff = _maxdiff(back.forward(X), net.forward(X))
    print(f"{activation} {cost} bn={batch_norm} {n_hidden} hidden {dtype}: torch vs forward "
          f"max |Δ|/max(1,|y|max) = {diff:.3g}, from_torch {back_diff:.3g}")
    assert got.dtype == np.dtype(dtype) and diff <= TOL[dtype] and back_diff <= TOL[dtype]
    for name in ("sizes", "activation", "output_activation", "dtype", "batch_norm"):
        assert getattr(back, name) == getattr(net, name), name
    if dtype == "float64":  # the same numbers, bit for bit
        np.testing.assert_array_equal(back.params, net.params)
        np.testing.assert_array_equal(back.running_mean, net.running_mean)
        np.testing.assert_array_equal(back.running_var, net.running_var)
    if batch_norm:  # train mode: the batch's statistics, as fastbp.reference has them
        train = to_torch(net, training=True)
        assert train.training
        ref = reference.bn_feedforward(net, X, True)[0][-1]
        diff = _maxdiff(_run(train, X), ref)
        print(f"  train mode vs reference.bn_feedforward: {diff:.3g}")
        assert diff <= TOL[dtype]


def test_layers():
    net = _net(2, ["leaky_relu", "identity"], "cross_entropy", "float64", True)
    model = to_torch(net)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Linear, nn.BatchNorm1d,
                     nn.Identity, nn.Linear, nn.Softmax]
    assert model[0].bias is None and model[6].bias is not None
    assert model[2].negative_slope == 0.01 and model[7].dim == -1
    assert model[1].eps == 1e-5 and model[1].momentum == 0.1
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), net.weights[0])
    np.testing.assert_array_equal(model[1].bias.detach().numpy(), net.biases[0])
    # copies: training one side leaves the other alone
    with torch.no_grad():
        model[0].weight.zero_()
    assert np.all(net.weights[0] != 0)
    with pytest.raises(TypeError, match="fastbp.Network"):
        to_torch(model)
    with pytest.raises(TypeError, match="training"):
        to_torch(net, training="yes")


def test_from_torch_native():
    """A model built in torch (Linear biases before batch norm, nested
    Sequentials, Identity, affine=False batch norm) reads back as its eval
    forward."""
    torch.manual_seed(0)
    bn2 = nn.BatchNorm1d(4, affine=False)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU()),
        nn.Linear(8, 4), bn2, nn.Identity(), nn.Tanh(),
        nn.Linear(4, 2, bias=False), nn.Sigmoid()).double()
    with torch.no_grad():
        for m in (model[0][1], bn2):
            m.running_mean.normal_()
            m.running_var.uniform_(0.2, 3)
        model[0][1].weight.uniform_(0.5, 1.5)
        model[0][1].bias.normal_()
    model.eval()
    net = from_torch(model)
    assert net.sizes == (6, 8, 4, 2) and net.batch_norm
    assert net.activation == ["relu", "tanh"] and net.output_activation == "sigmoid"
    assert net.cost == "quadratic" and from_torch(model, cost="binary_cross_entropy").cost \
        == "binary_cross_entropy"
    X = np.random.default_rng(0).standard_normal((13, 6))
    diff = _maxdiff(net.forward(X), _run(model, X))
    print(f"from_torch of a torch-built model: max |Δ| = {diff:.3g}")
    assert diff <= TOL["float64"]
    plain = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2), nn.Softmax(dim=1)).float()
    net = from_torch(plain)
    assert net.activation == "identity" and net.cost == "cross_entropy"
    assert net.dtype == np.float32
    X = X[:, :3].astype(np.float32)
    assert _maxdiff(net.forward(X), _run(plain, X)) <= TOL["float32"]


@pytest.mark.parametrize("layers, message", [
    (lambda: [nn.Linear(3, 4), nn.Dropout(0.1), nn.ReLU(), nn.Linear(4, 2)], r"layer 1 \(Dropout"),
    (lambda: [nn.Linear(3, 4), nn.ELU(), nn.Linear(4, 2)], r"layer 1 \(ELU"),
    (lambda: [nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)], r"layer 1 \(LeakyReLU.*slope"),
    (lambda: [nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2)], r"layer 2 \(Linear.*Softmax"),
    (lambda: [nn.Linear(3, 4), nn.Softmax(dim=0)], r"layer 1 \(Softmax.*dim"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2)],
     r"layer 2 \(BatchNorm1d.*right after a Linear"),
    (lambda: [nn.Linear(3, 4), nn.BatchNorm1d(4, eps=1e-3), nn.ReLU(), nn.Linear(4, 2)],
     r"layer 1 \(BatchNorm1d.*eps"),
    (lambda: [nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=None), nn.ReLU(), nn.Linear(4, 2)],
     r"layer 1 \(BatchNorm1d.*momentum"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2)],
     r"layer 3 \(BatchNorm1d.*output layer"),
    (lambda: [nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(),
              nn.Linear(4, 2)], r"layer 3 \(Linear.*all or none"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.Sigmoid(), nn.Linear(4, 2)],
     r"layer 2 \(Sigmoid.*second activation"),
    (lambda: [nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1))], r"layer 0.1 \(Conv1d"),
    (lambda: [nn.Linear(3, 4).half()], r"layer 0 \(Linear.*float16"),
    (lambda: [nn.Linear(3, 4), nn.Linear(4, 2).double()], r"layer 1 \(Linear.*float64 after"),
    (lambda: [nn.ReLU(), nn.Linear(3, 2)], r"layer 0 \(ReLU.*before the first"),
    (lambda: [], r"no Linear"),
], ids=["dropout", "elu", "leaky-slope", "softmax-hidden", "softmax-dim", "bn-after-act",
        "bn-eps", "bn-momentum", "bn-output", "bn-mixed", "two-activations", "conv",
        "float16", "mixed-dtype", "activation-first", "empty"])
def test_from_torch_refuses(layers, message):
    with pytest.raises(ValueError, match=message):
        from_torch(nn.Sequential(*layers()))


def test_from_torch_needs_sequential():
    with pytest.raises(ValueError, match="nn.Sequential"):
        from_torch(nn.Linear(3, 2))


# ------------------------------------------------------------ training


def _train_torch(model, X, Y, loss_fn, lr, batch_size, epochs, logits):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    body = model[:-1] if logits else model
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            opt.zero_grad()
            loss = loss_fn(body(X[start:start + batch_size]), Y[start:start + batch_size])
            loss.backward()
            opt.step()


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("cost", COSTS)
def test_same_sgd_steps(cost, batch_norm):
    """fastbp's fit and torch.optim.SGD from the same start, over the same
    batches, with the module docstring's learning rates: the same parameters
    at the end, to rounding."""
    net = fastbp.Network([5, 7, 6, 3], activation="tanh", cost=cost, batch_norm=batch_norm,
                         seed=0)
    X, Y = make_data(net, 40)
    lr, n_out = 0.3, net.sizes[-1]
    model = to_torch(net, training=True)
    if cost == "quadratic":
        loss_fn, lr_t, logits, targets = nn.MSELoss(), lr * n_out / 2, False, Y
    elif cost == "cross_entropy":
        labels = Y.argmax(axis=1)
        loss_fn, lr_t, logits, targets = nn.CrossEntropyLoss(), lr, True, labels
        Y = labels
    else:
        loss_fn, lr_t, logits, targets = nn.BCEWithLogitsLoss(), lr * n_out, True, Y
    net.fit(X, Y, epochs=3, batch_size=8, lr=lr, shuffle=False)
    _train_torch(model, X, targets, loss_fn, lr_t, 8, 3, logits)
    trained = from_torch(model.eval())
    errors = {"params": rel_err(trained.params, net.params)}
    if batch_norm:
        errors["running_mean"] = rel_err(trained.running_mean, net.running_mean)
        errors["running_var"] = rel_err(trained.running_var, net.running_var)
    moved = rel_err(trained.params, fastbp.Network([5, 7, 6, 3], activation="tanh", cost=cost,
                                                   batch_norm=batch_norm, seed=0).params)
    print(f"{cost} bn={batch_norm}: relative differences after 15 steps {errors} "
          f"(the parameters moved by {moved:.2g})")
    assert moved > 1e-2
    assert all(e <= 1e-12 for e in errors.values())
