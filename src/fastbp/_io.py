"""Model files: .npz holding a JSON header and the flat parameter array.

No pickle anywhere: the header is UTF-8 JSON stored as a uint8 array, and
`load` reads the zip members itself, checking each .npy header before it
reads the data, so a file cannot make it unpickle or allocate more than the
model's header allows. `load` checks every field and every member's size
before it builds anything, and reads the data in chunks straight into the
network; any problem with a file raises ValueError. `save` goes through
`atomic_write`: a temporary file beside the target, fsynced and renamed over
it, so a crash mid-save leaves the old file intact; modes, symlinks and
special files are handled as described under "writing files" below.
"""
from __future__ import annotations

import errno
import io
import json
import os
import re
import secrets
import socket
import stat
import zipfile
import zlib

import numpy as np

from typing import TYPE_CHECKING, TypeVar

from .optim import OPTIMIZERS, Adagrad, Adam, RMSprop, Rprop
from ._validation import ACTIVATIONS, COSTS, DTYPES, HIDDEN_ACTIVATIONS

FORMAT = "fastbp-model"
VERSION = 1
if TYPE_CHECKING:  # the model is handed in: this module imports none
    from .model import Model
M = TypeVar("M", bound="Model")  # load returns the class it is handed

MEMBERS = {"header.npy", "params.npy"}
OPTIMIZER_MEMBER = "optimizer_state.npy"  # only with include_optimizer=True
RUNNING_MEMBER = "running.npy"            # only for batch-norm networks
MAX_HEADER_BYTES = 1 << 24  # JSON of the sizes of up to millions of layers; parsed in linear time
MAX_PARAMS = 1 << 31  # refuse absurd sizes before allocating anything
MAX_STEPS = 1 << 53   # a saved step count: exact as a float, far from the core's int64 limit


def _header(net):
    return {
        "format": FORMAT,
        "version": VERSION,
        "sizes": list(net.sizes),
        "activation": net.activation,
        "output_activation": net.output_activation,
        "cost": net.cost,
        "dtype": net.dtype.name,
        "batch_norm": net.batch_norm,
        **({} if net.classes is None else {"classes": net.classes.tolist()}),
    }


def _check_path(path):
    """str, bytes or os.PathLike -> str (bytes decoded as the file system does)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str, bytes or os.PathLike; got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def save(net, path, include_optimizer=False):
    with net.compute_lock:  # a fit holds it during an epoch: a snapshot between epochs
        if not (np.isfinite(net.params).all() and np.isfinite(net.running).all()):
            # load refuses such a file: do not write one
            raise ValueError("save: the parameters are not finite (NaN or inf); fastbp.load "
                             "would refuse the file, so it was not written")
        writer = model_writer(net, include_optimizer, snapshot=True)
    atomic_write(path, writer)


def model_writer(net, include_optimizer=False, snapshot=False):
    """write(f): the model file of `net` into the binary file f (for
    atomic_write and atomic_write_many); with snapshot, of the arrays as they
    are now (copies), not as they are when f is written."""
    head = _header(net)
    members = {"params": net.params.copy() if snapshot else net.params}
    if net.batch_norm:
        members["running"] = np.stack([net.running_mean, net.running_var]).reshape(-1)
    opt = getattr(net, "_optimizer", None)
    if include_optimizer and opt is not None and opt.state is not None:
        # enough to resume training exactly: the kind, settings, step count, state
        head["optimizer"] = {"name": type(opt).__name__, "config": opt._config(),
                             "steps": opt.steps, "n_state": int(opt.state.shape[0])}
        memory = getattr(opt, "_loss_memory", None)  # iRprop+'s last cost
        if memory is not None and np.isfinite(memory[0]):
            head["optimizer"]["loss_memory"] = float(memory[0])
        state = opt.state.reshape(-1)
        members["optimizer_state"] = state.copy() if snapshot else state
    text = json.dumps(head).encode("utf-8")
    if len(text) > MAX_HEADER_BYTES:  # what load would refuse is not written
        raise ValueError(f"the model's header is {len(text)} bytes, more than fastbp loads "
                         f"({MAX_HEADER_BYTES}): too many layers")
    header = np.frombuffer(text, dtype=np.uint8)
    return lambda f: np.savez(f, header=header, **members)


# ------------------------------------------------------------------ writing files
#
# Every file fastbp writes (models, FANN files, the CLI's sidecar and
# predictions, network2 JSON) goes through atomic_write, which updates the
# file the user named as an editor would:
# - symlinks are followed: the file they point to is updated, the link stays;
# - only regular files are replaced: a FIFO, socket, device or directory
#   at the path is an error, left alone;
# - the new file keeps the old one's permission bits (and owner, when
#   allowed); a new file gets 0666 & ~umask, as open() gives;
# - the data goes to a temp file beside the target, fsynced, renamed over it,
#   then the directory is fsynced: a crash leaves the old file or the new one;
# - a failed write removes its temp file; a temp file left by a killed
#   process (named after the target, the host and the pid) is removed by the
#   next save of that target once its process is gone;
# - errors name the user's path, never the temp file;
# - when the directory is not writable but the file is, the file is
#   rewritten in place (its new content is prepared in memory first); that
#   cannot be atomic, which is the price of a read-only directory.

_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_TEMP_RE = re.compile(r"\.(?P<name>.*)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{16}\.fastbp-tmp\Z")


def _user_error(e, path):
    """e (an OSError) restated about the user's path."""
    if e.errno is None:
        return OSError(f"{path}: {e}")
    return OSError(e.errno, e.strerror or os.strerror(e.errno), path)


def _target(path):
    """(file to write, its stat or None): symlinks followed, only regular files."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device); fastbp "
                                    "replaces only regular files", path)
    return target, st


def _clean_stale(directory, name):
    """Remove temp files of `name` that killed processes of this host left."""
    if os.name != "posix":  # os.kill(pid, 0) only probes on POSIX
        return
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = _TEMP_RE.match(entry)
        if m is None or m["name"] != name or m["host"] != _HOST:
            continue
        try:
            os.kill(int(m["pid"]), 0)
            continue  # its process still runs: maybe saving right now
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, ValueError):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


class _Pending:
    """A file prepared by _prepare: its data in a temp file (or, for an
    in-place update, in memory), not yet where the user wants it."""

    def __init__(self, path, target, tmp=None, data=None):
        self.path, self.target, self.tmp, self.data = path, target, tmp, data

    def discard(self):
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None

    def commit(self):
        try:
            if self.tmp is not None:
                os.replace(self.tmp, self.target)
                self.tmp = None
            else:
                _write_in_place(self.target, self.data)
        except OSError as e:
            self.discard()
            raise _user_error(e, self.path) from None
        _fsync_directory(os.path.dirname(self.target))


def _write_in_place(target, data):
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory):
    """Make the rename durable; not every system can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(directory, name):
    tmp = os.path.join(directory, f".{name}.{_HOST}-{os.getpid()}-{secrets.token_hex(8)}"
                                  f".fastbp-tmp")
    # not mkstemp: its files are 0600; 0o666 lets the umask decide, as open() does
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    return fd, tmp


def _prepare(path, write):
    path = _check_path(path)
    target, st = _target(path)
    directory, name = os.path.split(target)
    _clean_stale(directory, name)
    try:
        fd, tmp = _create_temp(directory, name)
    except OSError as e:
        if (e.errno in (errno.EACCES, errno.EPERM) and st is not None
                and os.access(target, os.W_OK)):  # read-only directory, writable file
            buffer = io.BytesIO()
            write(buffer)
            return _Pending(path, target, data=buffer.getvalue())
        raise _user_error(e, path) from None
    pending = _Pending(path, target, tmp=tmp)
    try:
        if st is not None:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
            else:  # Windows before Python 3.13: the read-only flag is all there is
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except OSError:
                    pass  # only root may give a file away
        with os.fdopen(fd, "wb") as f:
            fd = None
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as e:
        if fd is not None:
            os.close(fd)
        pending.discard()
        if isinstance(e, OSError):
            raise _user_error(e, path) from None
        raise
    return pending


def atomic_write(path, write):
    """Write the file at `path` through write(f), f a binary file: atomically
    and durably, keeping its mode and following symlinks (see above)."""
    atomic_write_many([(path, write)])


def atomic_write_many(files):
    """Write several files, [(path, write), ...], so that either all are new
    or all are old as far as the file system allows: every file is written
    to its temp file and fsynced first (a full disk or an error leaves every
    file as it was), then each is renamed over its target in turn (microseconds
    apart: only a crash in between leaves a mix)."""
    pending = []
    try:
        for path, write in files:
            pending.append(_prepare(path, write))
        for p in pending:
            p.commit()
    finally:
        for p in pending:
            p.discard()


class ModelFileError(ValueError):
    """A file given to load() is not a valid fastbp model."""


def _bad(path, why):
    return ModelFileError(f"{os.fspath(path)!r} is not a valid fastbp model file: {why}")


# deflate never expands more than 1032:1 (258-byte matches coded in 2 bits);
# a member claiming more is damaged or forged, refused before it is read
MAX_DEFLATE_RATIO = 1040
CHUNK = 1 << 22  # bytes decompressed at a time


def _read_member(path, archive, name, dtype, n_items, out=None, at_most=False,
                 check_only=False):
    """The 1-D array of n_items of dtype in member `name` (with at_most, of
    up to n_items: the header, whose length varies). The
    zip's sizes of the member and its .npy header are checked before its data
    is read, and the data is decompressed in chunks straight into `out` (or a
    new array): neither a lying size nor a deflate bomb can make this
    allocate or decompress more than the model's header allows. check_only:
    only the sizes, nothing read past the .npy header."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    info = archive.getinfo(name)
    if info.compress_type == zipfile.ZIP_DEFLATED:
        plausible = info.file_size <= MAX_DEFLATE_RATIO * info.compress_size + 1024
    else:
        plausible = info.file_size == info.compress_size
    if not plausible:
        raise _bad(path, f"{name} claims {info.file_size} bytes from {info.compress_size} "
                         f"compressed bytes, more than they can hold")
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in readers:
            raise _bad(path, f"{name}: .npy format version {version}")
        shape, _, file_dtype = readers[version](f)
        count = shape[0] if len(shape) == 1 else -1
        if file_dtype != dtype or not (0 <= count <= n_items if at_most else count == n_items):
            raise _bad(path, f"{name} holds {file_dtype} {shape}; expected {dtype} ({n_items},)")
        nbytes = count * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise _bad(path, f"{name} is {info.file_size} bytes; its .npy header and the "
                             f"model's sizes make {f.tell() + nbytes}")
        if check_only:
            return None
        data = np.empty(count, dtype) if out is None else out
        view, pos = memoryview(data.view(np.uint8)), 0
        while pos < nbytes:
            chunk = f.read(min(CHUNK, nbytes - pos))
            if not chunk:
                break
            view[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if pos != nbytes or f.read(1):  # reading to the end also checks the CRC
            raise _bad(path, f"{name} does not hold the {nbytes} bytes its header declares")
    return data


def _read_header(path, archive):
    raw = _read_member(path, archive, "header.npy", np.dtype(np.uint8), MAX_HEADER_BYTES,
                       at_most=True)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad(path, "header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(path, "not a fastbp model")
    if type(header.get("version")) is not int or header["version"] != VERSION:
        raise _bad(path, f"format version {header.get('version')!r} is not {VERSION}")
    sizes = header.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(type(s) is int and 0 < s < 1 << 24 for s in sizes)):
        raise _bad(path, f"bad sizes {sizes!r}")
    checks = {"output_activation": ACTIVATIONS, "cost": COSTS, "dtype": tuple(DTYPES)}
    for key, allowed in checks.items():
        if header.get(key) not in allowed:
            raise _bad(path, f"bad {key} {header.get(key)!r}")
    act = header.get("activation")  # one name, or one per hidden layer
    if not (act in HIDDEN_ACTIVATIONS or (isinstance(act, list) and len(act) == len(sizes) - 2
                                          and all(a in HIDDEN_ACTIVATIONS for a in act))):
        raise _bad(path, f"bad activation {act!r}")
    header.setdefault("batch_norm", False)  # files from before batch norm
    if type(header["batch_norm"]) is not bool:
        raise _bad(path, f"bad batch_norm {header['batch_norm']!r}")
    return header


def load(path: str | os.PathLike, network: type[M]) -> M:
    """Read a model written by `Network.save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Network
        With its optimizer (and state) as `net.optimizer` if it was saved.

    Raises
    ------
    ModelFileError (a ValueError)
        On anything wrong with the file: checked before anything is
        allocated, never unpickled.
    """
    path = _check_path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            header = _read_header(path, archive)
            expected = MEMBERS | ({RUNNING_MEMBER} if header["batch_norm"] else set())
            # sorted lists: duplicates count
            if sorted(names) not in (sorted(expected), sorted(expected | {OPTIMIZER_MEMBER})):
                raise _bad(path, f"members {sorted(names)}")
            # what np.savez and np.savez_compressed write; the others raise their own errors
            if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                   for i in archive.infolist()):
                raise _bad(path, "members compressed other than stored or deflated")
            sizes = header["sizes"]
            hidden_units = sum(sizes[1:-1]) if header["batch_norm"] else 0
            n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])) + hidden_units
            if n_params > MAX_PARAMS:
                raise _bad(path, f"{n_params} parameters is more than fastbp loads")
            dtype = np.dtype(header["dtype"])
            opt_head = header.get("optimizer")
            if (opt_head is None) != (OPTIMIZER_MEMBER not in names):
                raise _bad(path, "optimizer header and optimizer_state member must come together")
            # every member's sizes first, then the network, then the data
            members = {"params.npy": (dtype, n_params)}
            if header["batch_norm"]:
                members[RUNNING_MEMBER] = (np.dtype(np.float64), 2 * hidden_units)
            if opt_head is not None:
                n_state = opt_head.get("n_state") if isinstance(opt_head, dict) else None
                if type(n_state) is not int or not 0 <= n_state <= 3:
                    raise _bad(path, "bad optimizer header")
                members[OPTIMIZER_MEMBER] = (dtype, n_state * n_params)
            for name, (member_dtype, n_items) in members.items():
                _read_member(path, archive, name, member_dtype, n_items, check_only=True)
            try:
                net = network(header["sizes"], activation=header["activation"],
                              output_activation=header["output_activation"],
                              cost=header["cost"], dtype=header["dtype"],
                              batch_norm=header["batch_norm"])
                classes = header.get("classes")  # absent: a file from before classes
                if classes is not None:
                    if not (isinstance(classes, list)
                            and all(type(c) in (str, int, float) for c in classes)):
                        raise ValueError(f"bad classes {classes!r}")
                    net.classes = classes
            except (TypeError, ValueError) as e:
                raise _bad(path, str(e)) from None
            params = _read_member(path, archive, "params.npy", dtype, n_params, out=net.params)
            running = opt_state = None
            if header["batch_norm"]:
                running = _read_member(path, archive, RUNNING_MEMBER, np.dtype(np.float64),
                                       2 * hidden_units).reshape(2, hidden_units)
            if opt_head is not None:
                opt_state = _read_member(path, archive, OPTIMIZER_MEMBER, dtype,
                                         n_state * n_params)
    except (ModelFileError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    # What zipfile and NumPy raise on damaged files; zipfile raises
    # NotImplementedError/RuntimeError for compression or encryption flags.
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile,
            NotImplementedError, RuntimeError, zlib.error) as e:
        raise _bad(path, f"{type(e).__name__}: {e}") from None

    if not np.isfinite(params).all():
        raise _bad(path, "params contain NaN or inf")
    if running is not None:
        if not (np.isfinite(running).all() and (running[1] >= 0).all()):
            raise _bad(path, "batch norm running estimates are not finite and non-negative")
        net.running[...] = running
    if opt_head is not None:
        net._optimizer = _optimizer_from(path, opt_head, opt_state, net.params)
    return net


def _nonnegative_state(opt):
    """(row, name) of the optimizer's state rows that cannot be negative
    (square roots are taken of them, or they are step sizes)."""
    if isinstance(opt, Adam):  # AdamW too
        return [(1, "second moments"), (2, "maximum second moments")][:opt.n_state - 1]
    if isinstance(opt, RMSprop):
        return [(0, "mean squared gradients")]
    if isinstance(opt, Adagrad):
        return [(0, "sums of squared gradients")]
    if isinstance(opt, Rprop):  # iRprop- and iRprop+ too
        return [(1, "step sizes")]
    return []


def _optimizer_from(path, head, state, params):
    """Rebuild a saved optimizer with its state; any problem is a bad file."""
    name, config, steps = head.get("name"), head.get("config"), head.get("steps")
    cls = {c.__name__: c for c in OPTIMIZERS.values()}.get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(config, dict):
        raise _bad(path, "bad optimizer header")
    if type(steps) is not int or not 0 <= steps <= MAX_STEPS:
        raise _bad(path, f"bad optimizer steps {steps!r}: not an integer in [0, 2**53]")
    try:
        opt = cls(**config)
    except (TypeError, ValueError) as e:
        raise _bad(path, f"bad optimizer settings: {e}") from None
    if state.size != opt.n_state * params.size or not np.isfinite(state).all():
        raise _bad(path, "optimizer state does not fit the optimizer or is not finite")
    state = state.reshape(opt.n_state, params.size)
    for row, what in _nonnegative_state(opt):
        if (state[row] < 0).any():
            raise _bad(path, f"optimizer state: {type(opt).__name__}'s {what} are negative")
    opt.state = state.copy()
    opt.steps = steps
    memory = head.get("loss_memory")
    if memory is not None:
        if not hasattr(opt, "_loss_memory") or type(memory) is not float \
                or not np.isfinite(memory):
            raise _bad(path, "bad optimizer loss_memory")
        opt._loss_memory[0] = memory
    return opt
