"""Regenerate the SVG screenshots in this folder from real runs and recordings:

    .venv/bin/python screenshots/make_screenshots.py

- this-machine.svg: `pmutop record` on this machine's kernel (root) for a few seconds while a busy task
  is followed and moved between CPUs with sched_setaffinity, then replayed at its last tick;
- alder-lake-following.svg: a synthetic recording over the Alder Lake fixture topology
  (tests/sysfs_trees.py) that follows a task migrating between P- and E-cores;
- arm64-two-pmu.svg: tests/fixtures/recordings/arm64-two-pmu.jsonl, a real recording made in the arm64
  QEMU guest with two core PMUs (Cortex-A53 on CPU 0, Cortex-A72 on CPU 1) by tests/integration/arm64.
"""

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from synthetic_recordings import synthetic_recording  # noqa: E402
from sysfs_trees import build_alder_lake  # noqa: E402  (test fixtures, not a package)

from pmutop.kernel.sysfs import read_sysfs  # noqa: E402
from pmutop.recording.format import Recording, read_recording  # noqa: E402
from pmutop.recording.replay import ReplayFeed  # noqa: E402
from pmutop.tui.app import PmutopApp  # noqa: E402

SIZE = (120, 36)
ARM64_TWO_PMU = REPO / "tests/fixtures/recordings/arm64-two-pmu.jsonl"


def last_full_tick(recording: Recording) -> int:
    """The last tick that ends a whole interval: a recording of a command ends with a stub tick (57 ms
    after a 200 ms one in the arm64 recording) taken when the command exited, whose figures are not the
    run's (a mostly idle sliver of time)."""
    stamps = [tick.monotonic_ns for tick in recording.ticks]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    typical = sorted(gaps)[len(gaps) // 2]
    return max(index + 1 for index, gap in enumerate(gaps) if gap >= typical / 2)


async def screenshot(recording: Recording, name: str, filename: str, size=SIZE, at: int | None = None) -> None:
    """The TUI over `recording`, paused at tick `at` (default: its last whole interval), with the history
    before it, saved as SVG through the app's export (the one the palette's Save snapshot uses)."""
    at = last_full_tick(recording) if at is None else at
    app = PmutopApp(ReplayFeed(recording, paused=True, start_at=at, name=name))
    async with app.run_test(size=size) as pilot:
        for _ in range(1000):
            if app.snapshot is not None and app.snapshot.index >= at:
                break
            await pilot.pause(0.01)
        await pilot.pause(0.2)
        app.save_screenshot(filename=filename, path=str(HERE))
    print(f"wrote screenshots/{filename} (tick {at} of {len(recording.ticks)})")


def record_this_machine(path: Path) -> None:
    """A real recording: a busy task followed while it is moved from the first CPU to the last and back."""
    cpus = sorted(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(busy.pid, {cpus[0]})

        def move() -> None:
            for cpu in (cpus[-1], cpus[0], cpus[-1]):
                time.sleep(1.2)
                os.sched_setaffinity(busy.pid, {cpu})

        mover = threading.Thread(target=move)
        mover.start()
        command = [sys.executable, "-m", "pmutop", "record", "-o", str(path), "-I", "500", "-n", "10"]
        subprocess.run([*command, "-p", str(busy.pid)], check=True, cwd=REPO)
        mover.join()
    finally:
        busy.kill()
        busy.wait()


def alder_lake_recording(root: Path) -> Recording:
    build_alder_lake(root)
    return synthetic_recording(
        read_sysfs(root), ticks=40, host="alderlake", kernel="6.18.0", follow=(4242, "x264"), seed=7
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        live = Path(scratch) / "this-machine.jsonl"
        record_this_machine(live)
        await screenshot(read_recording(live), "this-machine.jsonl", "this-machine.svg")
        await screenshot(alder_lake_recording(Path(scratch) / "adl"), "alder-lake.jsonl", "alder-lake-following.svg")
    await screenshot(read_recording(ARM64_TWO_PMU), ARM64_TWO_PMU.name, "arm64-two-pmu.svg")


if __name__ == "__main__":
    asyncio.run(main())
