"""The type hints of the package are consistent: mypy over src/fastbp with the
settings of pyproject.toml (skipped where mypy or the source tree is absent,
e.g. when the tests run against an installed wheel)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # mypy takes a minute: python -m pytest tests -m slow
def test_mypy_finds_no_errors():
    api = pytest.importorskip("mypy.api")
    if not (ROOT / "src" / "fastbp").is_dir():
        pytest.skip("no source tree here")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                "--cache-dir", "/dev/null", str(ROOT / "src" / "fastbp")])
    assert status == 0, out + err
