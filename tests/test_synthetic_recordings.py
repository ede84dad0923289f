"""The synthetic recordings the TUI, export and replay tests use have what real recordings have.

tests/synthetic_recordings.py drives the product's Sampler over tests/scripted_kernel.py; here its output
is held against real recordings of the same sysfs: one `pmutop record` taken now on this machine, and
the arm64 QEMU guest's fixture. Same group keys, roles, PMUs, encodings, members, failures with their
explanations, scope, notices and per-tick read shape; only the counts are made up.
"""

import subprocess
from pathlib import Path

from synthetic_recordings import ROOT, synthetic_recording

from pmutop.live.sampler import current_privileges
from pmutop.recording.format import Recording, read_recording

ARM64_TWO_PMU = Path(__file__).resolve().parent / "fixtures" / "recordings" / "arm64-two-pmu.jsonl"


def structure(recording: Recording) -> dict:
    """Everything in a recording the product decides, none of what the kernel counted."""
    header = recording.header
    layouts = [
        (
            layout.key,
            layout.cpu,
            layout.role,
            layout.pmu,
            layout.encoding,
            layout.members,
            tuple((member, cause.errno, cause.explanation) for member, cause in layout.failures),
            layout.scope,
        )
        for layout in header.layouts
    ]
    first = recording.ticks[0]
    return {
        "privileges": header.privileges,
        "layouts": layouts,
        "notices": header.notices,
        "events": header.events,
        "first tick layouts": first.layouts == header.layouts,
        "reads": {key: len(read.values) for key, read in first.reads.items()},
        "lost": {key: (cause.errno, cause.explanation) for key, cause in first.lost.items()},
        "online": first.online,
        "cpus with times": sorted(first.cpu_times),
    }


def test_like_a_real_recording_of_this_machine(pmutop_command, tmp_path):
    """`pmutop record` here (with -e: one software event, one this VM cannot count) and a synthetic
    recording of the sysfs it stored must not differ in anything the product decides."""
    path = tmp_path / "real.jsonl"
    events = "cs,branch-misses"
    subprocess.run(
        [*pmutop_command, "record", "-o", str(path), "-I", "100", "-n", "2", "-e", events],
        check=True,
        capture_output=True,
        timeout=120,
    )
    real = read_recording(path)
    made = synthetic_recording(real.header.sysfs, ticks=3, privileges=current_privileges(), events=(events,))
    assert structure(made) == structure(real)
    assert len(real.ticks) == len(made.ticks) == 3


def test_like_the_arm64_guests_recording():
    """Two core PMUs, the extended encoding, ref-cycles refused: as the arm64 guest's kernel answered."""
    real = read_recording(ARM64_TWO_PMU)
    made = synthetic_recording(real.header.sysfs, ticks=2, privileges=ROOT)
    assert structure(made) == structure(real)


def test_same_call_same_recording(tmp_path):
    real = read_recording(ARM64_TWO_PMU)
    first, again = (synthetic_recording(real.header.sysfs, ticks=5, follow=(7, "spin"), seed=3) for _ in range(2))
    assert first == again
    assert first.ticks[-1].reads != first.ticks[1].reads
