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
from Cython.Build import cythonize

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
        if compiler_takes(cc, ["-fopenmp"]):
            ext.extra_compile_args += ["-fopenmp"]
            ext.extra_link_args += ["-fopenmp"]
        else:
            print("fastbp: WARNING: OpenMP not found; building single-threaded", file=sys.stderr)
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
