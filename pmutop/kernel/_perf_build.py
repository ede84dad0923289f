"""cffi (out-of-line, API mode) build script for pmutop.kernel._perf.

setup.py names this file in ``cffi_modules``; it can also be run directly to build the extension in place.
"""

import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
# Relative to PROJECT_ROOT, the directory setup.py (and so setuptools) runs in.
SHIM_DIR = os.path.join("pmutop", "kernel")


def _shim_declarations() -> str:
    # The shim header doubles as the cdef; cffi's parser only lacks the preprocessor lines and comments.
    with open(os.path.join(HERE, "perf_shim.h")) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(_shim_declarations())
ffibuilder.set_source(
    "pmutop.kernel._perf",
    '#include "perf_shim.h"\n',
    sources=[os.path.join(SHIM_DIR, "perf_shim.c")],
    include_dirs=[SHIM_DIR],
)

if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    ffibuilder.compile(verbose=True)
