"""Model files: .npz holding a JSON header and the flat parameter array.

No pickle anywhere: the header is UTF-8 JSON stored as a uint8 array, and
files are read with allow_pickle=False. `load` checks every field before it
builds anything; any problem with a file raises ValueError. `save` writes a
temporary file beside the target, fsyncs it and renames it over the target,
so a crash mid-save leaves the old file intact.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from ._validation import ACTIVATIONS, COSTS, DTYPES, HIDDEN_ACTIVATIONS

FORMAT = "fastbp-model"
VERSION = 1
MEMBERS = {"header.npy", "params.npy"}
MAX_HEADER_BYTES = 1 << 16
MAX_PARAMS = 1 << 31  # refuse absurd sizes before allocating anything


def _header(net):
    return {
        "format": FORMAT,
        "version": VERSION,
        "sizes": list(net.sizes),
        "activation": net.activation,
        "output_activation": net.output_activation,
        "cost": net.cost,
        "dtype": net.dtype.name,
    }


def save(net, path):
    path = os.fspath(path)
    header = np.frombuffer(json.dumps(_header(net)).encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastbp-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, header=header, params=net.params)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ModelFileError(ValueError):
    """A file given to load() is not a valid fastbp model."""


def _bad(path, why):
    return ModelFileError(f"{os.fspath(path)!r} is not a valid fastbp model file: {why}")


def _read_header(path, archive):
    raw = archive["header"]
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_HEADER_BYTES:
        raise _bad(path, "malformed header")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad(path, "header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(path, "not a fastbp model")
    if header.get("version") != VERSION:
        raise _bad(path, f"format version {header.get('version')!r} is not {VERSION}")
    sizes = header.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(type(s) is int and 0 < s < 1 << 24 for s in sizes)):
        raise _bad(path, f"bad sizes {sizes!r}")
    checks = {"activation": HIDDEN_ACTIVATIONS, "output_activation": ACTIVATIONS,
              "cost": COSTS, "dtype": tuple(DTYPES)}
    for key, allowed in checks.items():
        if header.get(key) not in allowed:
            raise _bad(path, f"bad {key} {header.get(key)!r}")
    return header


def load(path):
    """Read a model written by Network.save; raises ValueError on a bad file."""
    from .network import Network

    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise _bad(path, "not an .npz archive")
            if set(archive.zip.namelist()) != MEMBERS:
                raise _bad(path, f"members {sorted(archive.zip.namelist())}")
            header = _read_header(path, archive)
            n_params = sum((a + 1) * b for a, b in zip(header["sizes"][:-1], header["sizes"][1:]))
            if n_params > MAX_PARAMS:
                raise _bad(path, f"{n_params} parameters is more than fastbp loads")
            info = archive.zip.getinfo("params.npy")
            if info.file_size > n_params * 8 + 4096:  # zip bomb guard
                raise _bad(path, "params member larger than its header allows")
            params = archive["params"]
    except (ModelFileError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile,
            zipfile.LargeZipFile) as e:  # what NumPy and zipfile raise on damaged files
        raise _bad(path, f"{type(e).__name__}: {e}") from None

    if params.dtype != np.dtype(header["dtype"]) or params.shape != (n_params,):
        raise _bad(path, f"params array {params.dtype} {params.shape} does not match the header")
    if not np.isfinite(params).all():
        raise _bad(path, "params contain NaN or inf")
    try:
        net = Network(header["sizes"], activation=header["activation"],
                      output_activation=header["output_activation"], cost=header["cost"],
                      dtype=header["dtype"])
    except (TypeError, ValueError) as e:
        raise _bad(path, str(e)) from None
    net.params[...] = params
    return net
