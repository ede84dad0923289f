"""Screen snapshots (pytest-textual-snapshot) of replays: deterministic, paused at a fixed tick.

Update after an intended change with `pytest tests/tui --snapshot-update`, and look at the SVGs.
"""

import dataclasses
from pathlib import Path

import pytest
from tui_support import SHOWN_TICK, alder_lake_recording, paused_replay, wait_for_tick

from pmutop.recording.format import read_recording
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp

# A real recording from the arm64 QEMU guest with two core PMUs (see tests/fixtures/recordings/README.md).
ARM64_TWO_PMU = Path(__file__).resolve().parents[1] / "fixtures" / "recordings" / "arm64-two-pmu.jsonl"

PRIVILEGE_NOTICE = (
    "CPU-wide counting denied (paranoid 2, not root or CAP_PERFMON): counting pmutop's own process tree in user "
    "space only (exclude_kernel). Fix: run as root, grant CAP_PERFMON, or `sysctl kernel.perf_event_paranoid=0`."
)


def at_shown_tick(app: PmutopApp):
    async def run_before(pilot) -> None:
        await wait_for_tick(pilot, app, SHOWN_TICK)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_this_vm_without_core_pmu(snap_compare, this_vm, size):
    app = PmutopApp(paused_replay(this_vm))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_hybrid_alder_lake(snap_compare, alder_lake, size):
    app = PmutopApp(paused_replay(alder_lake))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_arm64_two_pmu_guest(snap_compare, size):
    recording = read_recording(ARM64_TWO_PMU)
    last = len(recording.ticks) - 1
    app = PmutopApp(ReplayFeed(recording, paused=True, start_at=last, name=ARM64_TWO_PMU.name))

    async def run_before(pilot) -> None:
        await wait_for_tick(pilot, app, last)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_hybrid_alder_lake_following_a_task(snap_compare, tmp_path):
    recording = alder_lake_recording(tmp_path, follow=(4343, "[bold]x\x1b[31m"))
    app = PmutopApp(paused_replay(recording))
    assert snap_compare(app, terminal_size=(160, 48), run_before=at_shown_tick(app))


def test_help_screen(snap_compare, alder_lake):
    app = PmutopApp(paused_replay(alder_lake))

    async def run_before(pilot) -> None:
        await wait_for_tick(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)


def test_privilege_limit_banner(snap_compare, alder_lake):
    header = dataclasses.replace(alder_lake.header, privileges="paranoid 2", notices=(PRIVILEGE_NOTICE,))
    app = PmutopApp(paused_replay(dataclasses.replace(alder_lake, header=header)))
    assert snap_compare(app, terminal_size=(80, 24), run_before=at_shown_tick(app))
