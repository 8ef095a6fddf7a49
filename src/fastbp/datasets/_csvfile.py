"""load_csv: a numeric CSV file with a target column -> (X, y).

Purpose: let users (and ``fastbp train``) bring their own tabular data
without pandas. Every cell must be a finite number; anything else is a
ValueError that names the file, the line and the column, because "could not
convert string to float" on a 10,000-line file helps nobody.
"""
import csv
import decimal
import gzip
import io
import os

import numpy as np

HEADER_CHOICES = ("infer", True, False)


DELIMITERS = ",;\t| "  # what delimiter=None chooses among


def _open_text(path):
    """The file as text; gzip-compressed files (by their magic bytes, whatever
    the name) are decompressed."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    # utf-8-sig: spreadsheet exports often start with a byte-order mark,
    # which would otherwise end up glued to the first column name.
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, newline="", encoding="utf-8-sig")


def _sniff(path, f):
    """The delimiter of the first lines, among DELIMITERS; ',' for one column."""
    sample = "".join(f.readline() for _ in range(20))
    f.seek(0)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        if not any(d in sample for d in DELIMITERS.strip()):
            return ","  # a single column
        raise ValueError(f"{path}: cannot tell the delimiter; give it (delimiter=..., "
                         f"or --delimiter on the command line)") from None


def _records(path, delimiter):
    """Non-blank rows of the file as (line number, list of cells)."""
    with _open_text(path) as f:
        try:
            if delimiter is None:
                delimiter = _sniff(path, f)
        except (UnicodeDecodeError, OSError) as e:
            raise ValueError(f"{path} is not a text CSV file (or a gzipped one): {e}") from None
        reader = csv.reader(f, delimiter=delimiter)
        try:
            return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
        except csv.Error as e:
            raise ValueError(f"{path}, line {reader.line_num}: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text: byte {e.object[e.start]:#04x} near "
                             f"line {reader.line_num + 1}") from None
        except OSError as e:  # a damaged gzip stream
            raise ValueError(f"{path}, line {reader.line_num + 1}: not a text CSV file (or a "
                             f"gzipped one): {e}") from None


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _to_float(path, records, names):
    """Rows of cells -> float64 array, reporting the first bad cell by line."""
    try:
        data = np.array([row for _, row in records], dtype=np.float64)
    except ValueError:
        data = None
    if data is not None and np.isfinite(data).all():
        return data
    # slow path, only to say where the problem is
    for line, row in records:
        for j, cell in enumerate(row):
            if not _is_number(cell) or not np.isfinite(float(cell)):
                column = f"column {j + 1}" + (f" ({names[j]!r})" if names else "")
                what = "is not a number" if not _is_number(cell) else "is not a finite number"
                raise ValueError(f"{path}, line {line}, {column}: {cell.strip()!r} {what}")
    raise AssertionError("unreachable: some cell failed to convert")  # pragma: no cover


def _target_index(path, target, names, width):
    if isinstance(target, str):
        if names is None:
            raise ValueError(f"{path} has no header row, so the target must be a column "
                             f"index, not the name {target!r}")
        matches = [j for j, name in enumerate(names) if name.strip() == target]
        if not matches:
            raise ValueError(f"{path} has no column named {target!r}; its columns are "
                             f"{[n.strip() for n in names]}")
        if len(matches) > 1:
            raise ValueError(f"{path} has {len(matches)} columns named {target!r}")
        return matches[0]
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be a column index, a column name or None; got {target!r}")
    if not -width <= target < width:
        raise ValueError(f"target column {target} is out of range: {path} has {width} columns")
    return int(target) % width


def load_csv(path, target=-1, delimiter=",", header="infer"):
    """Load a numeric CSV file with one target column.

    Parameters
    ----------
    path : str or path-like
        The file. Blank lines are skipped.
    target : int, str or None, default -1
        The target column: an index (negative counts from the end), a name
        from the header row, or None for a file without targets (all columns
        are features and ``y`` is None).
    delimiter : str or None, default ","
        None: guessed from the first lines among ``,`` ``;`` tab ``|`` and
        space. Files compressed with gzip (``.csv.gz``) are read as well.
    header : {"infer", True, False}, default "infer"
        Whether the first row holds column names; "infer" takes it as a
        header when any of its cells is not a number.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_columns - 1)
        The other columns, in file order.
    y : ndarray of int64 or float64, shape (n_samples,), or None
        The target column: int64 when every value is a whole number (class
        labels, kept exactly as written), float64 otherwise (regression
        targets).

    Raises
    ------
    ValueError
        For an empty file, a header without data, rows of different lengths,
        cells that are not finite numbers (each naming the file and line),
        whole-number labels beyond int64, a file that is not UTF-8, or a
        target column that does not exist.
    """
    path = os.fspath(path)
    if header not in HEADER_CHOICES or not isinstance(header, (str, bool)):
        raise ValueError(f"header must be one of {list(HEADER_CHOICES)}; got {header!r}")
    records = _records(path, delimiter)
    if not records:
        raise ValueError(f"{path} is empty: it has no rows")
    has_header = header is True or (header == "infer" and not all(map(_is_number, records[0][1])))
    names = records.pop(0)[1] if has_header else None
    if not records:
        raise ValueError(f"{path} has a header row but no data rows")
    width = len(names) if names is not None else len(records[0][1])
    for line, row in records:
        if len(row) != width:
            raise ValueError(f"{path}, line {line}: {len(row)} fields; expected {width} "
                             f"like the first row")
    data = _to_float(path, records, names)
    if target is None:
        return data, None
    j = _target_index(path, target, names, width)
    if width < 2:
        raise ValueError(f"{path} has only the target column: no features")
    y = data[:, j]
    X = np.ascontiguousarray(np.delete(data, j, axis=1))
    if np.all(y == np.round(y)):
        y = _integer_labels(path, records, j, y, names)
    return X, y


def _integer_labels(path, records, j, y, names):
    """Whole-number targets as int64, exactly as written. float64 holds every
    integer below 2**53 exactly, but above 2**52 it also rounds fractions to
    whole numbers: those cells are read again from their text. A whole
    number beyond int64 is refused rather than wrapped around or merged."""
    big = np.flatnonzero(np.abs(y) >= 2.0**52)
    labels = np.where(np.abs(y) < 2.0**52, y, 0).astype(np.int64)  # exact below 2**52
    for i in big:
        line, row = records[i]
        cell = row[j].strip()
        try:
            exact = decimal.Decimal(cell.replace("_", ""))
        except decimal.InvalidOperation:  # float() took it: a form Decimal does not read
            exact = decimal.Decimal(float(cell))
        if exact != exact.to_integral_value():
            return y  # a fraction: these are real-valued targets, as float64 holds them
        if not -2**63 <= exact < 2**63:
            column = f"column {j + 1}" + (f" ({names[j].strip()!r})" if names else "")
            raise ValueError(f"{path}, line {line}, {column}: the label {cell!r} is beyond "
                             f"what fastbp holds exactly (integers of magnitude below 2**63)")
        labels[i] = int(exact)
    return labels
