"""The shape of the source tree (issue #18): the imports between fastbp's
modules go one way, and no function or class grows past its limit.

Read with `ast`, nothing imported: every `import fastbp...` and relative
import, at module level and inside functions alike, is an edge from the
module to the module it names (a name imported from a package is an edge to
that package's __init__ unless it is a submodule).
"""
import ast
from pathlib import Path

import pytest

import fastbp

# the package under test, wherever it is (src/ in a checkout, site-packages
# for the wheel check): its .py files are read, not imported
SRC = Path(fastbp.__file__).resolve().parent
MAX_FUNCTION_LINES = 80   # docstring aside
MAX_NETWORK_LINES = 450


def _modules():
    """{dotted name: path} of every module of the package (Cython's too: its
    .pyx in a checkout, its compiled file in an installed wheel)."""
    out = {}
    for path in [*SRC.rglob("*.so"), *SRC.rglob("*.pyd"), *SRC.rglob("*.py"),
                 *SRC.rglob("*.pyx")]:
        rel = path.relative_to(SRC)
        parts = ("fastbp",) + rel.parent.parts + (rel.name.split(".")[0],)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _import_graph():
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        if path.suffix != ".py":
            continue  # the compiled core imports no fastbp module (it cimports .pxd files)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import sub` names a submodule; `from pkg import f`, pkg itself
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import fastbp.a.b` -> the module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycle(graph):
    """A cycle of the graph as a list of modules, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path)
                if found:
                    return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_graph_sees_the_imports():
    graph = _import_graph()
    assert "fastbp.model" in graph["fastbp.network"]
    assert "fastbp.trainer" in graph["fastbp.network"]
    assert "fastbp.model" in graph["fastbp.trainer"] or "fastbp._settings" in graph["fastbp.trainer"]
    assert "fastbp.optim.lbfgs" in graph["fastbp.optim"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_between_fastbp_modules_have_no_cycle():
    cycle = _cycle(_import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_model_imports_no_trainer_and_no_front_end():
    graph = _import_graph()
    for low in ("fastbp.model", "fastbp.derivatives", "fastbp._io", "fastbp.optim",
                "fastbp.optim.lbfgs", "fastbp._settings"):
        for high in ("fastbp.trainer", "fastbp.network", "fastbp.distributed", "fastbp.sklearn",
                     "fastbp.cli"):
            assert high not in graph[low], f"{low} imports {high}"


def _function_lengths():
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                first = node.body[0]
                if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                        and isinstance(first.value.value, str)):
                    lines -= first.end_lineno - first.lineno + 1
                yield lines, f"{path.relative_to(SRC)}:{node.lineno} {node.name}"


def test_no_function_is_longer_than_80_lines():
    long = sorted(f for f in _function_lengths() if f[0] > MAX_FUNCTION_LINES)
    assert not long, long


def test_network_is_under_450_lines():
    tree = ast.parse((SRC / "network.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Network"]
    assert cls.end_lineno - cls.lineno + 1 < MAX_NETWORK_LINES
    assert len((SRC / "network.py").read_text(encoding="utf-8").splitlines()) < MAX_NETWORK_LINES
    assert len((SRC / "model.py").read_text(encoding="utf-8").splitlines()) < MAX_NETWORK_LINES


@pytest.mark.parametrize("name", ["fastbp.network", "fastbp.trainer", "fastbp.distributed"])
def test_a_module_of_the_graph_exists(name):
    assert name in _modules()
