"""In-place development build of fastbp's compiled core with setuptools.

    python setup.py build_ext --inplace

Builds the same sources with the same flags as CMakeLists.txt (the wheel
backend): both read csrc/sources.json.
"""
import json
import os
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

import numpy

try:
    from Cython.Build import cythonize
except ImportError:
    sys.exit("setup.py: Cython is needed to build fastbp in place: "
             "python -m pip install -e '.[dev]' (or: python -m pip install cython)")

ROOT = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(ROOT, "csrc", "sources.json")) as f:
    CONFIG = json.load(f)


def compiler_takes(compiler, flags):
    """Does this compiler accept these flags (compiling and linking a stub)?"""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(objs, os.path.join(tmp, "t"), extra_postargs=flags)
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        base_flags = list(CONFIG["c_flags"])
        if compiler_takes(cc, ["-fopenmp"]):
            ext.extra_compile_args += ["-fopenmp"]
            ext.extra_link_args += ["-fopenmp"]
            base_flags += ["-fopenmp"]
        else:
            print("fastbp: WARNING: OpenMP not found; building single-threaded", file=sys.stderr)
        # The hand-written C sources get the common flags only; the flags of
        # the generated _core.c (quieting false warnings of its prange loops)
        # stay on that file, as in CMakeLists.txt.
        pyx_c = [s for s in ext.sources if s not in CONFIG["c_sources"]]
        ext.extra_objects += cc.compile(
            [s for s in ext.sources if s in CONFIG["c_sources"]], output_dir=self.build_temp,
            include_dirs=ext.include_dirs, macros=ext.define_macros,
            extra_postargs=base_flags, depends=ext.depends)
        ext.sources = pyx_c
        for flag in CONFIG.get("generated_c_flags", []):
            if compiler_takes(cc, ["-Werror", flag]):  # clang: unknown warning option
                ext.extra_compile_args.append(flag)
        super().build_extension(ext)


# Rebuild when any C source or header changes, not only the listed sources.
DEPENDS = sorted(os.path.relpath(os.path.join(d, f), ROOT)
                 for d, _, files in os.walk(os.path.join(ROOT, "csrc"))
                 for f in files if f.endswith((".c", ".h")))

core = Extension(
    CONFIG["module"],
    sources=[CONFIG["pyx"]] + CONFIG["c_sources"],
    depends=DEPENDS,
    include_dirs=CONFIG["include_dirs"] + [numpy.get_include()],
    extra_compile_args=list(CONFIG["c_flags"]),
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

version = {}
with open(os.path.join(ROOT, "src", "fastbp", "_version.py")) as f:
    exec(f.read(), version)

setup(
    name="fastbp",
    version=version["__version__"],
    package_dir={"": "src"},
    packages=["fastbp", "fastbp.datasets", "fastbp.optim", "fastbp.compat"],
    package_data={"fastbp.datasets": ["data/*"]},
    ext_modules=cythonize([core], include_path=["csrc", "src"], language_level=3),
    cmdclass={"build_ext": BuildExt},
)
