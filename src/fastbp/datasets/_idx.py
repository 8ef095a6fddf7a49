"""load_mnist_idx: the standard MNIST files (IDX format, raw or gzipped).

The IDX format (yann.lecun.com/exdb/mnist): a big-endian 32-bit magic number
whose third byte is the element type (0x08 = unsigned byte) and fourth the
number of dimensions, one big-endian 32-bit size per dimension, then the
data. Images are 0x00000803 (n, rows, cols), labels 0x00000801 (n,).

Every header field is checked against the file's length before any array is
made, so a damaged or mismatched file is a ValueError naming it, never a
silently wrong array.
"""
import math
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
GZIP_MAGIC = b"\x1f\x8b"


CHUNK = 1 << 16


class _Source:
    """The file's bytes, decompressed when it starts with the gzip magic,
    handed out on request: `read(n)` never decompresses more than n bytes, so
    a small gzip file that expands to gigabytes costs only what is asked for.
    Concatenated gzip members (`cat a.gz b.gz`) read as one stream, as gzip
    itself reads them."""

    def __init__(self, path, f):
        self.path, self.f = path, f
        self.gzip = f.read(2) == GZIP_MAGIC
        f.seek(0)
        self.inflate = self._inflater() if self.gzip else None
        self.pending = b""  # compressed input not yet given to the inflater

    @staticmethod
    def _inflater():
        return zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer

    def read(self, n):
        """Up to n bytes; fewer only at the end of the data."""
        if not self.gzip:
            return self.f.read(n)
        out = []
        try:
            while n > 0:
                if self.inflate.eof:  # a member ended: another may follow
                    rest = self.inflate.unused_data + self.pending
                    self.pending = b""
                    if not rest:
                        rest = self.f.read(CHUNK)
                    if not rest:
                        break
                    self.inflate = self._inflater()
                    self.pending = rest
                if not self.pending and not self.inflate.unconsumed_tail:
                    self.pending = self.f.read(CHUNK)
                    if not self.pending:
                        raise EOFError("compressed file ended before the end-of-stream marker")
                data = self.inflate.unconsumed_tail or self.pending
                if not self.inflate.unconsumed_tail:
                    self.pending = b""
                chunk = self.inflate.decompress(data, n)
                out.append(chunk)
                n -= len(chunk)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{self.path}: damaged gzip data: {e}") from None
        return b"".join(out)


def _read_idx(path, magic, what):
    """The uint8 array in an IDX file whose magic must be `magic`. The header
    is read first; then only the data it declares and one byte more (to find
    trailing data), so neither a lying header nor a gzip bomb allocates more
    than the declared array."""
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    with open(path, "rb") as f:
        source = _Source(path, f)
        head = source.read(header_len)
        # the magic first: a file of the wrong kind is the likelier mistake
        found = int.from_bytes(head[:4], "big") if len(head) >= 4 else None
        if found is not None and found != magic:
            raise ValueError(f"{path}: magic number 0x{found:08x}; an IDX {what} file "
                             f"starts with 0x{magic:08x}")
        if len(head) < header_len:
            raise ValueError(f"{path}: {len(head)} bytes is too short for the {header_len}-byte "
                             f"header of an IDX {what} file")
        dims = struct.unpack(f">{ndim}I", head[4:header_len])
        if 0 in dims[1:]:
            raise ValueError(f"{path}: bad dimensions {dims} in the header")
        if dims[0] == 0:
            raise ValueError(f"{path}: the header declares no {what} (0 of them)")
        size = math.prod(dims)
        if not source.gzip:  # the file's length tells before anything is read
            held = os.fstat(f.fileno()).st_size - header_len
            if held != size:
                _wrong_length(path, dims, size, held)
        data = bytearray(size)
        got = _read_into(source, data)
        if got < size:
            _wrong_length(path, dims, size, got)
        if source.read(1):
            _wrong_length(path, dims, size, None)
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read_into(source, data):
    """Fill `data` from source in chunks (no second copy); the bytes filled."""
    view, pos = memoryview(data), 0
    while pos < len(data):
        chunk = source.read(min(1 << 22, len(data) - pos))
        if not chunk:
            break
        view[pos:pos + len(chunk)] = chunk
        pos += len(chunk)
    return pos


def _wrong_length(path, dims, size, held):
    """Raise the error for data of `held` bytes (None: more than declared)."""
    problem = "truncated" if held is not None and held < size else "longer than its header says"
    holds = "more" if held is None else held
    raise ValueError(f"{path}: {problem}: the header declares {' x '.join(map(str, dims))} "
                     f"= {size} bytes of data, the file holds {holds}")


def load_mnist_idx(images_path, labels_path):
    """Load MNIST-format image and label files.

    Parameters
    ----------
    images_path : str or path-like
        An IDX image file, e.g. ``train-images-idx3-ubyte`` or its ``.gz``.
    labels_path : str or path-like
        The matching IDX label file, e.g. ``train-labels-idx1-ubyte(.gz)``.

    Either file may be gzipped; this is detected from its first bytes, not
    its name.

    Returns
    -------
    X : ndarray of float64, shape (n, rows * cols)
        Pixel intensities scaled to [0, 1], each image flattened row-major.
    y : ndarray of int64, shape (n,)
        The labels.

    Raises
    ------
    ValueError
        If either file is not a well-formed IDX file of its kind (magic
        number, dimensions, data length) or the two hold different counts;
        the message names the file.
    """
    images_path, labels_path = os.fspath(images_path), os.fspath(labels_path)
    images = _read_idx(images_path, IMAGES_MAGIC, "images")
    labels = _read_idx(labels_path, LABELS_MAGIC, "labels")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} holds {images.shape[0]} images but {labels_path} "
                         f"holds {labels.shape[0]} labels")
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)
