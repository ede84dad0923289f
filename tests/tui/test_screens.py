"""Screen snapshots (pytest-textual-snapshot) of replays: deterministic, paused at a fixed tick, each
screen at 80×24, 120×40 and 200×60.

Update after an intended change with `pytest tests/tui --snapshot-update`, and look at the SVGs.
"""

import dataclasses
from pathlib import Path

import pytest
from tui_support import (
    SHOWN_TICK,
    alder_lake_recording,
    cut_words,
    following_feed,
    paused_replay,
    settle,
    wait_for_tick,
)

from pmutop.model.failures import Privileges
from pmutop.recording.format import read_recording
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp

# A real recording from the arm64 QEMU guest with two core PMUs (see tests/fixtures/recordings/README.md).
ARM64_TWO_PMU = Path(__file__).resolve().parents[1] / "fixtures" / "recordings" / "arm64-two-pmu.jsonl"

PARANOID_2 = Privileges(is_root=False, has_cap_perfmon=False, paranoid=2)
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])


def at_shown_tick(app: PmutopApp, *keys: str, tick: int = SHOWN_TICK):
    async def run_before(pilot) -> None:
        await wait_for_tick(pilot, app, tick)
        if keys:
            await pilot.press(*keys)
            await app.workers.wait_for_complete()
            await settle(pilot, app)
        # Every screen here shows its text whole, or cut with an ellipsis: never cut at an edge or mid-word.
        assert cut_words(app) == []

    return run_before


@SIZES
def test_this_vm_without_core_pmu(snap_compare, this_vm, size):
    app = PmutopApp(paused_replay(this_vm))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@SIZES
def test_hybrid_alder_lake(snap_compare, alder_lake, size):
    app = PmutopApp(paused_replay(alder_lake))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@SIZES
def test_arm64_two_pmu_guest(snap_compare, size):
    recording = read_recording(ARM64_TWO_PMU)
    last = len(recording.ticks) - 1
    app = PmutopApp(ReplayFeed(recording, paused=True, start_at=last, name=ARM64_TWO_PMU.name))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app, tick=last))


@SIZES
def test_hybrid_alder_lake_following_a_task(snap_compare, tmp_path, size):
    recording = alder_lake_recording(tmp_path, follow=(4343, "[bold]x\x1b[31m"))
    app = PmutopApp(paused_replay(recording))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@SIZES
def test_help_screen(snap_compare, alder_lake, size):
    app = PmutopApp(paused_replay(alder_lake))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app, "question_mark"))


@SIZES
def test_privilege_limit_banner(snap_compare, alder_lake, tmp_path, size):
    """The figures of the root recording under the banner the Sampler makes when CPU-wide counting is refused."""
    denied = alder_lake_recording(tmp_path, ticks=1, privileges=PARANOID_2, cpu_wide=False)
    header = dataclasses.replace(alder_lake.header, privileges=denied.header.privileges, notices=denied.header.notices)
    app = PmutopApp(paused_replay(dataclasses.replace(alder_lake, header=header)))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app))


@SIZES
def test_process_picker(snap_compare, alder_lake, size):
    app = PmutopApp(following_feed(alder_lake))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app, "p"))


@SIZES
def test_filter_matching_nothing(snap_compare, alder_lake, size):
    app = PmutopApp(paused_replay(alder_lake))
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app, "slash", *"nothing", "enter"))


@SIZES
def test_topology_folded_out_and_sorted_by_migrations(snap_compare, alder_lake, size):
    """`t` shows the tree below 100 columns (hides it above), and a sort by a column the width dropped
    brings it back, with the arrow on it."""
    app = PmutopApp(paused_replay(alder_lake))
    keys = ("t", *["s"] * 6, "r")
    assert snap_compare(app, terminal_size=size, run_before=at_shown_tick(app, *keys))
