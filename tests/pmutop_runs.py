"""Running pmutop as a user does, for the tests of hostile input, errors and signals."""

import os
import subprocess
import sys
from pathlib import Path

from synthetic_recordings import synthetic_recording
from sysfs_trees import build_this_vm
from waiting import HANG_S

from pmutop.kernel.sysfs import read_sysfs
from pmutop.recording.format import Recording, RecordingWriter

# The bound for any hostile case: memory above this is a failure.
MEMORY_BOUND_KB = 200 * 1024


def run_pmutop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pmutop", *args], capture_output=True, text=True, timeout=HANG_S)


# pmutop's main, then its peak resident memory (VmHWM) on the fd named by argv[1]. The child's own VmHWM, not the
# parent's ru_maxrss for it: Linux carries the high-water mark over exec, so a forked child of a big
# pytest process would report pytest's size.
_MEASURED = """
import os, sys
from pmutop.cli.main import main
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status:
        os.write(int(sys.argv[1]), next(line for line in status if line.startswith("VmHWM:")).split()[1].encode())
sys.exit(code)
"""


def peak_kb(*args: str) -> tuple[int, int, str]:
    """Run pmutop; its exit code, its peak resident memory (KiB) and its stderr."""
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", _MEASURED, str(write_end), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    stderr = child.stderr.read().decode()
    child.wait()
    with os.fdopen(read_end, "rb") as measured:
        peak = int(measured.read())
    return child.returncode, peak, stderr


def write_recording(recording: Recording, path: Path) -> Path:
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks:
            writer.write_tick(tick)
    return path


def this_vm_recording_file(directory: Path, ticks: int = 4, **options) -> Path:
    """A synthetic recording of this VM's layout, written to `directory`/rec.jsonl."""
    recording = synthetic_recording(read_sysfs(build_this_vm(directory / "vm")), ticks=ticks, host="vm", **options)
    return write_recording(recording, directory / "rec.jsonl")
