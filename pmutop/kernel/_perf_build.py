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

# Values come from <linux/perf_event.h> at compile time (the "..." lets the C compiler fill them in), so
# none are copied by hand. Only constants present in kernel headers since 4.x are listed, so the module
# also builds against older (e.g. cross-compilation) sysroots.
HEADER_CONSTANTS = """
enum perf_type_id {
    PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, PERF_TYPE_HW_CACHE, PERF_TYPE_RAW,
    PERF_TYPE_BREAKPOINT, ...
};
enum perf_hw_id {
    PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS, PERF_COUNT_HW_CACHE_REFERENCES,
    PERF_COUNT_HW_CACHE_MISSES, PERF_COUNT_HW_BRANCH_INSTRUCTIONS, PERF_COUNT_HW_BRANCH_MISSES,
    PERF_COUNT_HW_BUS_CYCLES, PERF_COUNT_HW_STALLED_CYCLES_FRONTEND, PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
    PERF_COUNT_HW_REF_CPU_CYCLES, ...
};
enum perf_sw_ids {
    PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK, PERF_COUNT_SW_PAGE_FAULTS,
    PERF_COUNT_SW_CONTEXT_SWITCHES, PERF_COUNT_SW_CPU_MIGRATIONS, PERF_COUNT_SW_PAGE_FAULTS_MIN,
    PERF_COUNT_SW_PAGE_FAULTS_MAJ, PERF_COUNT_SW_ALIGNMENT_FAULTS, PERF_COUNT_SW_EMULATION_FAULTS,
    PERF_COUNT_SW_DUMMY, ...
};
enum perf_event_read_format {
    PERF_FORMAT_TOTAL_TIME_ENABLED, PERF_FORMAT_TOTAL_TIME_RUNNING, PERF_FORMAT_ID, PERF_FORMAT_GROUP, ...
};
enum perf_event_sample_format {
    PERF_SAMPLE_IP, PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_SAMPLE_ADDR, PERF_SAMPLE_READ,
    PERF_SAMPLE_CALLCHAIN, PERF_SAMPLE_ID, PERF_SAMPLE_CPU, PERF_SAMPLE_PERIOD, PERF_SAMPLE_STREAM_ID,
    PERF_SAMPLE_RAW, PERF_SAMPLE_IDENTIFIER, ...
};
enum perf_event_type {
    PERF_RECORD_MMAP, PERF_RECORD_LOST, PERF_RECORD_COMM, PERF_RECORD_EXIT, PERF_RECORD_THROTTLE,
    PERF_RECORD_UNTHROTTLE, PERF_RECORD_FORK, PERF_RECORD_READ, PERF_RECORD_SAMPLE, PERF_RECORD_MMAP2,
    PERF_RECORD_LOST_SAMPLES, PERF_RECORD_SWITCH, PERF_RECORD_SWITCH_CPU_WIDE, ...
};
"""


def _shim_declarations() -> str:
    # The shim header doubles as the cdef; cffi's parser only lacks the preprocessor lines and comments.
    with open(os.path.join(HERE, "perf_shim.h")) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(_shim_declarations() + HEADER_CONSTANTS)
ffibuilder.set_source(
    "pmutop.kernel._perf",
    '#include <linux/perf_event.h>\n#include "perf_shim.h"\n',
    sources=[os.path.join(SHIM_DIR, "perf_shim.c")],
    include_dirs=[SHIM_DIR],
)

if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    ffibuilder.compile(verbose=True)
