"""load_mnist_idx: the standard MNIST files (IDX format, raw or gzipped).

The IDX format (yann.lecun.com/exdb/mnist): a big-endian 32-bit magic number
whose third byte is the element type (0x08 = unsigned byte) and fourth the
number of dimensions, one big-endian 32-bit size per dimension, then the
data. Images are 0x00000803 (n, rows, cols), labels 0x00000801 (n,).

Every header field is checked against the file's length before any array is
made, so a damaged or mismatched file is a ValueError naming it, never a
silently wrong array.
"""
import gzip
import math
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    """The file's bytes, decompressed when it starts with the gzip magic."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: damaged gzip data: {e}") from None
    return raw


def _read_idx(path, magic, what):
    """The uint8 array in an IDX file whose magic must be `magic`."""
    raw = _read_bytes(path)
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    # the magic first: a file of the wrong kind is the likelier mistake
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found is not None and found != magic:
        raise ValueError(f"{path}: magic number 0x{found:08x}; an IDX {what} file "
                         f"starts with 0x{magic:08x}")
    if len(raw) < header_len:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for the {header_len}-byte "
                         f"header of an IDX {what} file")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    if 0 in dims[1:]:
        raise ValueError(f"{path}: bad dimensions {dims} in the header")
    size = math.prod(dims)
    if len(raw) - header_len != size:
        problem = "truncated" if len(raw) - header_len < size else "longer than its header says"
        raise ValueError(f"{path}: {problem}: the header declares {' x '.join(map(str, dims))} "
                         f"= {size} bytes of data, the file holds {len(raw) - header_len}")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=header_len).reshape(dims)


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
