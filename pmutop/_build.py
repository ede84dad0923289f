"""cffi (out-of-line, API mode) build script for pmutop's two C shims:

- `perf`: pmutop.kernel._perf, the perf_event shim (perf_shim.c), which owns struct perf_event_attr
  and reads a tick's groups in one call;
- `rates`: pmutop.model._rates, the rate model's per-tick arithmetic (rates_shim.c).

setup.py names both in ``cffi_modules``; run directly, this builds them in place.
"""

import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(HERE)


def _builder(module: str, header: str, source: str, extra_compile_args: tuple[str, ...] = ()) -> FFI:
    # Paths relative to PROJECT_ROOT, the directory setup.py (and so setuptools) runs in.
    shim_dir = os.path.join("pmutop", module.split(".")[1])
    # The shim header doubles as the cdef; cffi's parser only lacks the preprocessor lines and comments.
    with open(os.path.join(PROJECT_ROOT, shim_dir, header)) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    builder = FFI()
    builder.cdef("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    builder.set_source(
        module,
        f'#include "{header}"\n',
        sources=[os.path.join(shim_dir, source)],
        include_dirs=[shim_dir],
        extra_compile_args=list(extra_compile_args),
    )
    return builder


perf = _builder("pmutop.kernel._perf", "perf_shim.h", "perf_shim.c")
# The same floats as numpy's operation-by-operation results: no fused multiply-add (aarch64 has one).
rates = _builder("pmutop.model._rates", "rates_shim.h", "rates_shim.c", ("-ffp-contract=off",))
BUILDERS = (perf, rates)

if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    for builder in BUILDERS:
        builder.compile(verbose=True)
