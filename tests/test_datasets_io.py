"""fastbp.datasets.load_csv and load_mnist_idx on small files the tests write,
well-formed and malformed."""
import gzip
import struct
import zlib

import numpy as np
import pytest

from fastbp.datasets import load_csv, load_mnist_idx, standardize, standardize_stats


# ------------------------------------------------------------------ IDX files


def idx_bytes(magic, dims, data):
    """An IDX file: big-endian magic, one uint32 per dimension, the bytes."""
    return struct.pack(f">I{len(dims)}I", magic, *dims) + bytes(data)


def write(path, content, gz=False):
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.fixture
def mnist_like():
    """3 images of 2 x 4 pixels with known values, and their labels."""
    pixels = np.arange(24, dtype=np.uint8) * 10 + 5
    return pixels, np.array([7, 0, 9], dtype=np.uint8)


@pytest.mark.parametrize("gz_images, gz_labels", [(False, False), (True, True), (True, False)])
def test_idx_raw_and_gzipped(tmp_path, mnist_like, gz_images, gz_labels):
    pixels, labels = mnist_like
    # names say nothing about compression: it is detected from the content
    images = write(tmp_path / "images.idx", idx_bytes(0x803, (3, 2, 4), pixels), gz_images)
    labels_file = write(tmp_path / "labels.idx", idx_bytes(0x801, (3,), labels), gz_labels)
    X, y = load_mnist_idx(images, str(labels_file))
    assert X.dtype == np.float64 and X.shape == (3, 8)
    assert y.dtype == np.int64 and y.tolist() == [7, 0, 9]
    # row-major flattening, scaled by 255
    np.testing.assert_array_equal(X, pixels.reshape(3, 8) / 255.0)
    assert 0.0 <= X.min() and X.max() <= 1.0


BAD_IMAGES = {
    "labels magic": (idx_bytes(0x801, (3,), b"\0" * 3), "magic number 0x00000801"),
    "int32 type": (idx_bytes(0x0C03, (3, 2, 4), b"\0" * 96), "magic number 0x00000c03"),
    "zero rows": (idx_bytes(0x803, (3, 0, 4), b""), "bad dimensions"),
    "truncated": (idx_bytes(0x803, (3, 2, 4), b"\0" * 23), "truncated"),
    "trailing": (idx_bytes(0x803, (3, 2, 4), b"\0" * 25), "longer than its header"),
    "short header": (struct.pack(">II", 0x803, 3), "too short"),
    "empty": (b"", "too short"),
    "bad gzip": (b"\x1f\x8b" + b"not really gzip", "damaged gzip"),
    "no images": (idx_bytes(0x803, (0, 2, 4), b""), "no images"),
    "trailing gzip": (gzip.compress(idx_bytes(0x803, (3, 2, 4), b"\0" * 25)),
                      "longer than its header"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_idx_rejects_malformed_images(tmp_path, mnist_like, case):
    content, message = BAD_IMAGES[case]
    images = write(tmp_path / "bad-images", content)
    labels = write(tmp_path / "labels", idx_bytes(0x801, (3,), mnist_like[1]))
    with pytest.raises(ValueError, match=message) as info:
        load_mnist_idx(images, labels)
    assert "bad-images" in str(info.value)


def test_idx_rejects_malformed_labels(tmp_path, mnist_like):
    images = write(tmp_path / "images", idx_bytes(0x803, (3, 2, 4), mnist_like[0]))
    labels = write(tmp_path / "bad-labels", idx_bytes(0x803, (3, 2, 4), mnist_like[0]))
    with pytest.raises(ValueError, match=r"bad-labels.*0x00000803.*0x00000801"):
        load_mnist_idx(images, labels)
    write(labels, idx_bytes(0x801, (3,), b"\1\2"), gz=True)
    with pytest.raises(ValueError, match="bad-labels: truncated"):
        load_mnist_idx(images, labels)


def _gzip_bomb(path, header, megabytes):
    """A gzip file of `header` then `megabytes` MiB of zeros (about 1 KB per MB)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(co.compress(header))
        for _ in range(megabytes):
            f.write(co.compress(bytes(1 << 20)))
        f.write(co.flush())
    return path


def test_idx_gzip_bomb_is_refused_in_bounded_memory(tmp_path):
    """A 509 KB gzip file expanding to 512 MB took 1.06 GB before it was
    refused: at most what the header declares (plus one byte) is decompressed."""
    import tracemalloc
    bomb = _gzip_bomb(tmp_path / "bomb.gz", idx_bytes(0x803, (1, 1, 1), b"\0"), 128)
    labels = write(tmp_path / "labels", idx_bytes(0x801, (1,), b"\0"))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="bomb.gz: longer than its header"):
            load_mnist_idx(bomb, labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB to refuse a bomb"


def test_idx_concatenated_gzip_members_are_read(tmp_path, mnist_like):
    pixels, labels = mnist_like
    data = idx_bytes(0x803, (3, 2, 4), pixels)
    images = tmp_path / "images.gz"
    images.write_bytes(gzip.compress(data[:10]) + gzip.compress(data[10:]))  # as `cat a.gz b.gz`
    X, _ = load_mnist_idx(images, write(tmp_path / "labels", idx_bytes(0x801, (3,), labels)))
    np.testing.assert_array_equal(X, pixels.reshape(3, 8) / 255.0)


def test_idx_rejects_count_mismatch(tmp_path, mnist_like):
    images = write(tmp_path / "images", idx_bytes(0x803, (3, 2, 4), mnist_like[0]))
    labels = write(tmp_path / "labels", idx_bytes(0x801, (2,), b"\1\2"))
    with pytest.raises(ValueError, match=r"images holds 3 images but .*labels holds 2 labels"):
        load_mnist_idx(images, labels)


def test_idx_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_mnist_idx(tmp_path / "nope", tmp_path / "nope2")


# ------------------------------------------------------------------ CSV files


def csv_file(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_header_inferred_and_target_by_name(tmp_path):
    path = csv_file(tmp_path, "a,label,b\n1.5,2,3\n\n-4,0,5e-1\n")
    X, y = load_csv(path, target="label")
    np.testing.assert_array_equal(X, [[1.5, 3.0], [-4.0, 0.5]])
    assert X.dtype == np.float64 and X.flags.c_contiguous
    assert y.dtype == np.int64 and y.tolist() == [2, 0]
    # default: the last column, header still recognised
    X, y = load_csv(path)
    np.testing.assert_array_equal(X, [[1.5, 2.0], [-4.0, 0.0]])
    assert y.dtype == np.float64 and y.tolist() == [3.0, 0.5]  # regression targets


def test_csv_without_header_index_targets_and_delimiter(tmp_path):
    path = csv_file(tmp_path, "1;2;3\n4;5;6\n")
    X, y = load_csv(path, target=0, delimiter=";")
    np.testing.assert_array_equal(X, [[2, 3], [5, 6]])
    assert y.tolist() == [1, 4] and y.dtype == np.int64
    X, y = load_csv(path, target=-2, delimiter=";")
    assert y.tolist() == [2, 5]
    X, y = load_csv(path, target=None, delimiter=";")
    assert y is None and X.shape == (2, 3)
    # header=True takes the first row as names even though it is numeric
    X, y = load_csv(path, delimiter=";", header=True)
    assert X.tolist() == [[4.0, 5.0]] and y.tolist() == [6]


def test_csv_quoted_names_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeff"first col","y"\n1,0\n2,1\n'.encode("utf-8"))
    X, y = load_csv(path, target="first col")
    assert X.ravel().tolist() == [0.0, 1.0] and y.tolist() == [1, 2]


BAD_CSV = {
    "non-numeric": ("a,b,y\n1,2,0\n3,x,1\n", "line 3, column 2 \\('b'\\): 'x' is not a number"),
    "missing cell": ("1,2,0\n3,,1\n", "line 2, column 2: '' is not a number"),
    "nan cell": ("1,2,0\n\n3,nan,1\n", "line 3, column 2: 'nan' is not a finite number"),
    "ragged": ("a,b,y\n1,2,0\n3,4\n", "line 3: 2 fields; expected 3"),
    "empty": ("", "is empty"),
    "blank lines only": ("\n\n  \n", "is empty"),
    "header only": ("a,b,y\n", "no data rows"),
    "header false": ("a,b\n1,2\n", "line 1, column 1: 'a' is not a number"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_csv_rejects_malformed_files_naming_file_and_line(tmp_path, case):
    text, message = BAD_CSV[case]
    path = csv_file(tmp_path, text, name="bad.csv")
    header = False if case == "header false" else "infer"
    with pytest.raises(ValueError, match=message) as info:
        load_csv(path, header=header)
    assert "bad.csv" in str(info.value)


@pytest.mark.parametrize("target, error, message", [
    ("nope", ValueError, "no column named 'nope'"),
    (3, ValueError, "out of range"),
    (-4, ValueError, "out of range"),
    (1.0, TypeError, "column index"),
])
def test_csv_bad_targets(tmp_path, target, error, message):
    path = csv_file(tmp_path, "a,b,y\n1,2,0\n")
    with pytest.raises(error, match=message):
        load_csv(path, target=target)


def test_csv_name_target_needs_header_and_features(tmp_path):
    with pytest.raises(ValueError, match="no header row"):
        load_csv(csv_file(tmp_path, "1,2\n"), target="y")
    with pytest.raises(ValueError, match="no features"):
        load_csv(csv_file(tmp_path, "y\n1\n2\n"), target="y")
    with pytest.raises(ValueError, match="header must be"):
        load_csv(csv_file(tmp_path, "1,2\n"), header="yes")


def test_standardize_stats_are_what_standardize_uses():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [8.0, 5.0]])
    mean, std = standardize_stats(X)
    np.testing.assert_array_equal(mean, X.mean(axis=0))
    assert std[1] == 1.0  # constant column: only centred
    np.testing.assert_array_equal(standardize(X)[0], (X - mean) / std)
