"""Sorting and filtering the live table over 448 (and 224) CPU rows: what a key costs. Run by hand, not in tests:

    .venv/bin/python benchmarks/sort_filter.py [--repeat 30] [--size 200x60]

Over a synthetic recording of the 448-CPU server (tests/sysfs_trees.build_server_448) and the 224-CPU hybrid
machine, two measures, thread CPU time, median and worst of --repeat:

- the view model alone (pmutop.tui.live_model.LiveModel): a new sort or filter's row order and the cells of
  the rows a 60-line table shows, what `LiveTable.refresh_rows` asks of it;
- the TUI (App.run_test at --size, a paused replay, the table view): `s` (next sort), `r` (reverse), and
  each key typed into the `/` filter box, from the key to the screen drawn again (`pilot.press` then
  `pilot.pause`), the UI thread's CPU time, and the same for a key bound to nothing (what the pilot and
  Textual's key dispatch cost by themselves). The target is one frame (16.7 ms at 60 Hz).
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "tui"))
sys.path.insert(0, str(REPO))
from synthetic_recordings import synthetic_recording  # noqa: E402

from pmutop.kernel.sysfs import read_sysfs  # noqa: E402
from pmutop.live.topology_loader import topology_of  # noqa: E402
from pmutop.model.rates import RateModel  # noqa: E402
from pmutop.recording.replay import ReplayFeed  # noqa: E402
from tests import sysfs_trees  # noqa: E402

MACHINES = {
    "224 CPUs (hybrid, 2 core PMUs)": sysfs_trees.build_hybrid_224,
    "448 CPUs (2 sockets, 80 uncore)": sysfs_trees.build_server_448,
}
# What a user types into the filter box, a key at a time: a PMU, then a CPU number.
FILTERS = ("cpu_atom", "1", "12", "123")
SHOWN_ROWS = 60


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (max {max(values):.2f})"


def model_costs(recording, repeat: int) -> dict[str, list[float]]:
    from pmutop.tui.live_model import LiveModel

    topology = topology_of(recording.header.sysfs)
    model = RateModel(topology, recording.header.layouts, recording.header.notices)
    snapshots = [snapshot for tick in recording.ticks if (snapshot := model.update(tick)) is not None]
    live = LiveModel(topology, tuple(cpu.cpu for cpu in topology.cpus))
    costs: dict[str, list[float]] = {}

    def measure(what: str, change) -> None:
        for index in range(repeat):
            # A snapshot not seen yet: the rows and their figures are worked out again, as after a tick.
            live.show(snapshots[index % len(snapshots)])
            start = time.thread_time()
            change()
            order = live.row_order()
            for key in order[:SHOWN_ROWS]:
                live.row_cells(key)
            costs.setdefault(what, []).append(1000 * (time.thread_time() - start))

    for mode in range(len(live.sorts)):
        name = live.sorts[mode][0]

        def sort(mode: int = mode) -> None:
            live.sort_index = mode

        measure(f"sort by {name}", sort)
    live.sort_index = 0
    measure("reverse", live.reverse_sort)
    for text in FILTERS:

        def filter_by(text: str = text) -> None:
            live.filter_text = text

        measure(f"filter {text!r}", filter_by)
    return costs


async def tui_costs(recording, repeat: int, size: tuple[int, int]) -> dict[str, list[float]]:
    from tui_support import settle

    from pmutop.tui.app import PmutopApp
    from pmutop.tui.live_model import LiveModel

    feed = ReplayFeed(recording, paused=True, start_at=len(recording.ticks) - 2, name="bench.jsonl")
    app = PmutopApp(feed)
    costs: dict[str, list[float]] = {}
    async with app.run_test(size=size) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        if app.query("#heat-map") and app.query_one("#heat-map").display:
            await pilot.press("m")
        await settle(pilot, app)
        assert isinstance(app.live.model, LiveModel)

        async def key(what: str, name: str) -> None:
            start = time.thread_time()
            await pilot.press(name)
            await pilot.pause()
            costs.setdefault(what, []).append(1000 * (time.thread_time() - start))

        for _ in range(repeat):
            # What the harness itself costs: a key nothing is bound to, and the pause after it.
            await key("z (bound to nothing)", "z")
        for _ in range(repeat):
            await key("s (next sort)", "s")
        for _ in range(repeat):
            await key("r (reverse)", "r")
        for _ in range(max(1, repeat // len(FILTERS[0]))):
            await pilot.press("slash")
            await settle(pilot, app)
            for char in FILTERS[0]:
                await key("a key typed into / (cpu_atom)", char)
            for _ in FILTERS[0]:
                await key("backspace in /", "backspace")
            await pilot.press("escape")
            await settle(pilot, app)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--ticks", type=int, default=8)
    parser.add_argument("--size", default="200x60")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as directory:
        for index, (name, builder) in enumerate(MACHINES.items()):
            root = Path(directory) / f"tree{index}"
            builder(root)
            recording = synthetic_recording(read_sysfs(root), ticks=args.ticks, host="bench", kernel="6.18.0-bench")
            print(f"{name}: view model, ms CPU: order + cells of {SHOWN_ROWS} rows, median (max) of {args.repeat}")
            for what, values in model_costs(recording, args.repeat).items():
                print(f"  {what:<28} {ms(values)}")
            print(f"{name}: TUI at {args.size}, UI thread ms CPU from key to screen, median (max)")
            for what, values in asyncio.run(tui_costs(recording, args.repeat, (width, height))).items():
                print(f"  {what:<28} {ms(values)}")


if __name__ == "__main__":
    main()
