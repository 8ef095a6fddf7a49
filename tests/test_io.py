"""Tests for model files: Network.save / fastbp.load.

A saved model loads back bitwise; save is atomic (a temporary file renamed
over the target); and load refuses anything that is not a model written by
save with a ValueError saying "not a valid fastbp model" (never another
exception, never a crash, never an allocation the file's header does not
allow), while a missing file stays a FileNotFoundError.
"""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import Network

BAD = "not a valid fastbp model"


def bitwise_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def random_params(net, seed=0):
    """Non-zero biases too, so a swapped or dropped slice would show."""
    rng = np.random.default_rng(seed)
    net.params[...] = rng.standard_normal(net.params.size)
    return net


def assert_same_model(a, b):
    assert bitwise_equal(a.params, b.params)
    assert (a.sizes, a.activation, a.output_activation, a.cost, a.dtype) == \
           (b.sizes, b.activation, b.output_activation, b.cost, b.dtype)
    X = np.random.default_rng(1).standard_normal((5, a.sizes[0]))
    assert bitwise_equal(a.forward(X), b.forward(X))


@pytest.fixture
def model_file(tmp_path):
    """(path, bytes) of a small saved model."""
    path = tmp_path / "model.npz"
    random_params(Network([3, 4, 2], seed=0)).save(path)
    return path, path.read_bytes()


# ------------------------------------------------------------ round trip

@pytest.mark.parametrize("sizes, kwargs", [
    ([4, 5, 3], dict()),
    ([4, 5, 3], dict(dtype="float32")),
    ([4, 5, 3], dict(cost="cross_entropy", dtype="float32")),
    ([6, 8, 7, 5, 3], dict(activation="tanh", cost="cross_entropy")),
    ([6, 8, 7, 5, 3], dict(activation="leaky_relu", output_activation="identity",
                           dtype="float32")),
    ([6, 8, 7, 5, 1], dict(activation="relu", cost="binary_cross_entropy")),
], ids=repr)
def test_round_trip_is_exact(tmp_path, sizes, kwargs):
    net = random_params(Network(sizes, seed=0, **kwargs))
    net.save(str(tmp_path / "m.npz"))
    assert_same_model(fastbp.load(str(tmp_path / "m.npz")), net)


def test_round_trip_of_trained_model_with_pathlib(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    net = Network([4, 6, 3], activation="relu", cost="cross_entropy", seed=0)
    net.fit(X, y, epochs=3, batch_size=5, lr=0.1, seed=0)
    path = tmp_path / "sub" / "trained"            # no .npz suffix: none is added
    path.parent.mkdir()
    net.save(path)
    assert os.listdir(path.parent) == ["trained"]
    loaded = fastbp.load(path)
    assert_same_model(loaded, net)
    assert loaded.evaluate(X, y) == net.evaluate(X, y)
    loaded.params[0] += 1                          # independent of the original
    assert not bitwise_equal(loaded.params, net.params)


def test_loaded_params_are_writable_and_training_continues_identically(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    net = Network([3, 4, 2], seed=0)
    net.save(tmp_path / "m.npz")
    loaded = fastbp.load(tmp_path / "m.npz")
    assert loaded.params.flags.writeable
    net.fit(X, y, epochs=2, batch_size=5, seed=1)
    loaded.fit(X, y, epochs=2, batch_size=5, seed=1)
    assert bitwise_equal(loaded.params, net.params)


# ------------------------------------------------------------ atomic save

def test_save_leaves_only_the_target(tmp_path):
    net = Network([3, 2], seed=0)
    for _ in range(3):
        net.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    path.write_text("an old file that is not a model")
    first = random_params(Network([3, 4, 2], seed=0), seed=1)
    first.save(path)
    assert_same_model(fastbp.load(path), first)
    second = random_params(Network([5, 2], activation="tanh", dtype="float32"), seed=2)
    second.save(path)
    assert_same_model(fastbp.load(path), second)
    assert os.listdir(tmp_path) == ["m.npz"]


def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = random_params(Network([3, 4, 2], seed=0))
    old.save(path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        random_params(Network([3, 4, 2], seed=0), seed=9).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]
    assert_same_model(fastbp.load(path), old)


def test_save_into_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        Network([3, 2]).save(tmp_path / "nope" / "m.npz")
    assert os.listdir(tmp_path) == []


def test_saved_file_has_the_permissions_of_a_normal_file(tmp_path):
    """The temporary file must not leave the model readable by its owner only."""
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    Network([3, 2]).save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").stat().st_mode == plain.stat().st_mode


# ---------------------------------------------------------- refused files

def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("content", [
    b"", b"hello, this is text\n", b"PK\x03\x04", b"\x93NUMPY", b"\x80\x04K\x01.",  # a pickle
], ids=["empty", "text", "zip magic only", "npy magic only", "pickle"])
def test_non_models_are_refused(tmp_path, content):
    path = tmp_path / "f.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


def test_plain_npy_is_refused(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros(26))
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(tmp_path / "p.npy")


def test_error_is_a_model_file_error_naming_the_path(model_file):
    path, data = model_file
    path.write_bytes(data[:100])
    with pytest.raises(fastbp.ModelFileError, match=rf"{path.name}.*{BAD}"):
        fastbp.load(path)


def test_every_truncation_is_refused(model_file):
    path, data = model_file
    for n in range(len(data)):
        path.write_bytes(data[:n])
        with pytest.raises(ValueError, match=BAD):
            fastbp.load(path)


def test_bit_flips_load_the_same_model_or_are_refused(model_file):
    """Every byte, three kinds of damage: the zip CRCs and the checks of load
    must catch each, or the damage must be harmless (e.g. a timestamp)."""
    path, data = model_file
    original = fastbp.load(path)
    refused = 0
    for offset in range(len(data)):
        for mask in (0x01, 0x10, 0xFF):
            damaged = bytearray(data)
            damaged[offset] ^= mask
            path.write_bytes(damaged)
            try:
                net = fastbp.load(path)
            except ValueError as e:
                assert BAD in str(e)
                refused += 1
            else:
                assert_same_model(net, original)
    assert refused > len(data) * 3 // 2       # most damage is detected, not ignored


# ------------------------------------------- well-formed zips, bad content

def header(**changes):
    h = {"format": "fastbp-model", "version": 1, "sizes": [3, 4, 2],
         "activation": "sigmoid", "output_activation": "sigmoid",
         "cost": "quadratic", "dtype": "float64"}
    h.update(changes)
    return h


def as_uint8(h):
    raw = h if isinstance(h, bytes) else json.dumps(h).encode("utf-8")
    return np.frombuffer(raw, dtype=np.uint8)


N_PARAMS = 3 * 4 + 4 + 4 * 2 + 2      # 26 for [3, 4, 2]


def test_hand_written_model_loads(tmp_path):
    """The layout the other tests damage is the real one."""
    params = np.arange(N_PARAMS) / 100
    np.savez(tmp_path / "m.npz", header=as_uint8(header()), params=params)
    net = fastbp.load(tmp_path / "m.npz")
    assert bitwise_equal(net.params, params)
    assert net.sizes == (3, 4, 2)


@pytest.mark.parametrize("members", [
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS), extra=np.zeros(1)),
    dict(header=as_uint8(header())),
    dict(params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(format="other-model")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(version=2)), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(version="1")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(version=1.0)), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(version=True)), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8({k: v for k, v in header().items() if k != "cost"}),
         params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(sizes=[3])), params=np.zeros(0)),
    dict(header=as_uint8(header(sizes=[3, 0, 2])), params=np.zeros(2)),
    dict(header=as_uint8(header(sizes=[3, 4.0, 2])), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(sizes=[3, True, 2])), params=np.zeros(11)),
    dict(header=as_uint8(header(sizes="3,4,2")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(activation="banana")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(activation="softmax")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(output_activation="banana")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(cost="banana")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(cost="cross_entropy")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(dtype="float16")), params=np.zeros(N_PARAMS, np.float16)),
    dict(header=as_uint8(header(dtype=["float64"])), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header(dtype="float32")), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS, np.float32)),
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS, ">f8")),
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS, np.int64)),
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS - 1)),
    dict(header=as_uint8(header()), params=np.zeros(N_PARAMS + 1)),
    dict(header=as_uint8(header()), params=np.zeros((2, N_PARAMS // 2))),
    dict(header=as_uint8(header()), params=np.full(N_PARAMS, np.nan)),
    dict(header=as_uint8(header()), params=np.full(N_PARAMS, np.inf)),
    dict(header=as_uint8(b"\xff\xfe not utf-8"), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(b"{not json"), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(b"[" * 60000), params=np.zeros(N_PARAMS)),     # deep nesting
    dict(header=as_uint8(b"[1, 2]"), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(b"null"), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header()).astype(np.int32), params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(header())[None, :], params=np.zeros(N_PARAMS)),
    dict(header=as_uint8(b" " * fastbp._io.MAX_HEADER_BYTES + json.dumps(header()).encode()),
         params=np.zeros(N_PARAMS)),
], ids=["extra member", "no params", "no header", "format", "version 2", "version '1'",
        "version 1.0", "version true", "no cost", "one size", "zero size", "float size",
        "bool size", "sizes string", "activation", "softmax hidden", "output_activation",
        "cost", "cost needs softmax", "dtype float16", "dtype list", "dtype mismatch",
        "params float32", "params big-endian", "params int", "params short", "params long",
        "params 2-D", "params nan", "params inf", "header not utf-8", "header not json",
        "header deep json", "header list", "header null", "header int32", "header 2-D",
        "header too big"])
def test_bad_model_files_are_refused(tmp_path, members):
    path = tmp_path / "m.npz"
    np.savez(path, **members)
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


@pytest.mark.parametrize("member", ["header", "params"])
def test_pickled_object_arrays_are_refused(tmp_path, member):
    members = dict(header=as_uint8(header()), params=np.zeros(N_PARAMS))
    members[member] = np.array([{"a": 1}, None, "x"], dtype=object)
    path = tmp_path / "m.npz"
    np.savez(path, allow_pickle=True, **members)
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


def npy_bytes(array=None, declared=None):
    """An .npy member; `declared` overrides the header so it can lie about
    the shape (or dtype descriptor) of the data that follows."""
    buf = io.BytesIO()
    if declared is None:
        np.save(buf, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buf, declared)
        buf.write(b"\0" * 64)
    return buf.getvalue()


def write_zip(path, members, **zip_options):
    with zipfile.ZipFile(path, "w", **zip_options) as z:
        for name, data in members.items():
            z.writestr(name, data)


def lying(shape, descr="<f8"):
    return npy_bytes(declared={"descr": descr, "fortran_order": False, "shape": shape})


@pytest.mark.parametrize("members", [
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": lying((1 << 40,))},
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": lying((1 << 28,))},
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": lying((N_PARAMS,))},
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": lying((-1,))},
    {"header.npy": lying((-1,), "|u1"), "params.npy": npy_bytes(np.zeros(N_PARAMS))},
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": lying((N_PARAMS,), "|O")},
    {"header.npy": lying((1 << 40,), "|u1"), "params.npy": npy_bytes(np.zeros(N_PARAMS))},
    {"header.npy": npy_bytes(as_uint8(header())),
     "params.npy": npy_bytes(np.zeros(N_PARAMS)) + b"trailing"},
    {"header.npy": npy_bytes(as_uint8(header())), "params.npy": npy_bytes(np.zeros(N_PARAMS)),
     "params.npy ": b""},
    {"header": npy_bytes(as_uint8(header())), "params": npy_bytes(np.zeros(N_PARAMS))},
], ids=["params declares 8 TiB", "params declares 2 GiB", "params short of declared",
        "params declares -1", "header declares -1",
        "params declares objects", "header declares 1 TiB", "params trailing bytes",
        "extra odd name", "names without .npy"])
def test_npy_headers_are_not_trusted(tmp_path, members):
    path = tmp_path / "m.npz"
    write_zip(path, members)
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


def test_params_larger_than_header_allows_are_refused(tmp_path):
    """A tiny header with a large params member: refused, not read."""
    path = tmp_path / "m.npz"
    np.savez(path, header=as_uint8(header(sizes=[2, 1])), params=np.zeros(1 << 16))
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, header=as_uint8(header(sizes=[(1 << 24) - 1, (1 << 24) - 1])),
             params=np.zeros(3))
    with pytest.raises(ValueError, match=rf"{BAD}.*parameters is more than"):
        fastbp.load(path)


def test_duplicate_member_is_refused(tmp_path):
    params = npy_bytes(np.zeros(N_PARAMS))
    path = tmp_path / "m.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(path, {"header.npy": npy_bytes(as_uint8(header())), "params.npy": params})
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("params.npy", params)
    with pytest.raises(ValueError, match=BAD):
        fastbp.load(path)


def test_savez_compressed_model_loads_and_damage_is_refused(tmp_path):
    params = np.arange(N_PARAMS) / 7
    path = tmp_path / "m.npz"
    np.savez_compressed(path, header=as_uint8(header()), params=params)
    assert bitwise_equal(fastbp.load(path).params, params)
    data = path.read_bytes()
    start = data.index(b"params.npy") + len(b"params.npy")
    for offset in range(start, start + 40):        # inside the deflate stream
        damaged = bytearray(data)
        damaged[offset] ^= 0x55
        path.write_bytes(damaged)
        try:
            net = fastbp.load(path)
        except ValueError as e:
            assert BAD in str(e)
        else:
            assert bitwise_equal(net.params, params)


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
                         ids=["bzip2", "lzma"])
def test_other_compression_is_refused(tmp_path, compression):
    members = {"header.npy": npy_bytes(as_uint8(header())),
               "params.npy": npy_bytes(np.zeros(N_PARAMS))}
    write_zip(tmp_path / "m.npz", members, compression=compression)
    with pytest.raises(ValueError, match=rf"{BAD}.*compressed"):
        fastbp.load(tmp_path / "m.npz")
