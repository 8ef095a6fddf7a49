"""Every public function and method documents every parameter: each name in
its signature appears in its docstring's Parameters section (numpydoc)."""
import importlib
import importlib.util
import inspect
import re

import pytest

import fastbp

MODULES = ["fastbp", "fastbp.optim", "fastbp.optim.schedules", "fastbp.datasets",
           "fastbp.distributed", "fastbp.compat.network", "fastbp.compat.network2",
           "fastbp.compat.mnist_loader", "fastbp.compat.scratch", "fastbp.compat.fann",
           "fastbp.compat.onnx", "fastbp.compat.torch"]
# modules that need an optional package to import: read where it is installed
OPTIONAL = {"fastbp.compat.onnx": "onnx", "fastbp.compat.torch": "torch"}
# Model's interface for fastbp's own modules (model.py's docstring lists it)
INTERNAL = {"checked_inputs", "checked_data", "per_sample", "plan", "trace", "flat_gradients",
            "layer_activations", "gamma_views", "trained_with", "unflatten"}
SECTION = re.compile(r"^\s*(\w[\w ]*)\n\s*-{3,}\s*$", re.M)


def parameters_section(doc):
    """The text of the Parameters section of a numpydoc docstring, or ''."""
    doc = inspect.cleandoc(doc or "")
    heads = list(SECTION.finditer(doc))
    for i, m in enumerate(heads):
        if m.group(1).strip() == "Parameters":
            end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
            return doc[m.end():end]
    return ""


def public_callables():
    """(qualified name, callable, docstring) of every public function,
    class (its constructor, documented in the class docstring) and method."""
    seen = {}
    for modname in MODULES:
        if modname in OPTIONAL and importlib.util.find_spec(OPTIONAL[modname]) is None:
            continue
        mod = importlib.import_module(modname)
        names = getattr(mod, "__all__", None)
        for name in names or [n for n in vars(mod) if not n.startswith("_")]:
            obj = getattr(mod, name)
            home = getattr(obj, "__module__", "") or ""
            # without __all__: what the module defines, not what it imports
            if not home.startswith("fastbp") or (names is None and not (
                    home == modname or home.startswith(modname + "."))):
                continue
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                seen[f"{modname}.{name}"] = (obj, obj.__doc__)
                for mname, meth in inspect.getmembers(obj, inspect.isfunction):
                    if (not mname.startswith("_") or mname == "__call__") \
                            and mname not in INTERNAL:
                        seen[f"{modname}.{name}.{mname}"] = (meth, inspect.getdoc(meth))
            elif inspect.isfunction(obj):
                seen[f"{modname}.{name}"] = (obj, obj.__doc__)
    return sorted(seen.items())


def undocumented(obj, doc):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    section = parameters_section(doc)
    return [p for p in sig.parameters if p not in ("self", "cls")
            and not re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", section)]


def test_every_parameter_is_documented():
    missing = {name: m for name, (obj, doc) in public_callables()
               if (m := undocumented(obj, doc))}
    assert not missing, "parameters missing from docstrings:\n" + "\n".join(
        f"  {name}: {', '.join(m)}" for name, m in missing.items())


def test_the_check_reads_sections():
    doc = """Do it.

    Parameters
    ----------
    a, b : int
    c : float

    Returns
    -------
    d
    """
    assert "c : float" in parameters_section(doc)
    assert "d" not in parameters_section(doc).split()

    def f(a, b, c, d):
        pass
    assert undocumented(f, doc) == ["d"]
