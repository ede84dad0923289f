"""Deterministic feeds and helpers for the TUI tests: replays of synthetic recordings, never the clock."""

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table
from rich.text import Text
from synthetic_recordings import synthetic_recording
from sysfs_trees import build_alder_lake, build_this_vm
from textual.errors import NoWidget
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static
from waiting import HANG_S

from pmutop.kernel.sysfs import read_sysfs
from pmutop.live.feed import EndCallback, FeedCapability, FeedSource, FeedState, SnapshotCallback, StateCallback
from pmutop.live.topology_loader import topology_of
from pmutop.model.processes import ProcessInfo, ProcessList
from pmutop.model.rates import RateModel
from pmutop.model.residency import ResidencyMethod
from pmutop.model.snapshot import EVENT_METRIC_PREFIX, Metric, MigrationEntry, Snapshot, TaskRow
from pmutop.model.topology import Topology
from pmutop.recording.format import Recording
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp
from pmutop.tui.live_pane import LiveTable

# The moment of a recording the screen tests show: enough ticks for a sparkline.
SHOWN_TICK = 12
MALICIOUS_COMM = "[bold]x\x1b[31m"
PROCESSES = ((1, "systemd"), (4242, "stress-ng"), (4343, MALICIOUS_COMM))
# What a live feed would list for the picker: busy and idle, three pythons told apart by their command
# lines, a kernel thread, and a hostile name.
PICKER_PROCESSES = (
    ProcessInfo(1, "systemd", "/sbin/init splash", "root", 0.0),
    ProcessInfo(2, "kthreadd", "", "root", 0.0, kernel_thread=True),
    ProcessInfo(57, "kworker/0:1", "", "root", 2.0, kernel_thread=True),
    ProcessInfo(4242, "stress-ng", "stress-ng --cpu 2", "alice", 199.0),
    ProcessInfo(4343, MALICIOUS_COMM, MALICIOUS_COMM, "bob", 12.5),
    ProcessInfo(5001, "python3", "python3 -m http.server 8000", "alice", 0.3),
    ProcessInfo(5002, "python3", "/home/carol/.venv/bin/python3 train.py --epochs 90", "carol", 97.0),
    ProcessInfo(5003, "python3", "python3 /usr/bin/unattended-upgrade", "root", None),
)

PICKER_CPU_WINDOW_S = 2.0


def recording_for(builder, root: Path, **options) -> Recording:
    builder(root)
    options = {"ticks": 40, "host": "testhost", "kernel": "6.18.0-test", **options}
    return synthetic_recording(read_sysfs(root), **options)


def alder_lake_recording(root: Path, **options) -> Recording:
    return recording_for(build_alder_lake, root, processes=PROCESSES, **options)


def this_vm_recording(root: Path) -> Recording:
    return recording_for(build_this_vm, root, processes=PROCESSES)


def paused_replay(recording: Recording) -> ReplayFeed:
    return ReplayFeed(recording, paused=True, start_at=SHOWN_TICK, name="test.jsonl")


async def run_until(pilot, condition: Callable[[], object], what: str) -> None:
    """Let the app (and its feed thread) run until `condition()` holds: no sleeps on success, and the
    limit is a hang guard, not a speed target."""
    deadline = time.monotonic() + HANG_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what} (a {HANG_S} s hang guard)"
        await pilot.pause(0.01)


async def wait_for_tick(pilot, app: PmutopApp, index: int = SHOWN_TICK) -> None:
    """Let the feed thread deliver up to `index` and the app draw it."""
    await run_until(pilot, lambda: app.snapshot is not None and app.snapshot.index >= index, "the feed to deliver")
    await settle(pilot, app)


async def settle(pilot, app: PmutopApp) -> None:
    """Wait until the screen stops changing. One `pilot.pause()` is no barrier: it waits for the messages
    queued when it starts and then for the process to look idle by CPU time, which a loaded machine
    fakes. A row highlight bubbling up to the app, or a widget that grew and asks the screen for a new
    layout, is a message chain that can still be on its way, and a snapshot of the screen then shows the
    old geometry (one CI run in a few on a loaded machine). A paused replay converges; wait for that."""
    shown = app.export_screenshot()
    for _ in range(100):
        await pilot.pause()
        await pilot.pause()
        now = app.export_screenshot()
        if now == shown:
            return
        shown = now
    raise AssertionError("the screen never settled")


def snapshots_of(recording: Recording) -> list[Snapshot]:
    sysfs = recording.header.sysfs
    topology = topology_of(sysfs)
    model = RateModel(topology, recording.header.layouts, recording.header.notices)
    return [snapshot for tick in recording.ticks if (snapshot := model.update(tick)) is not None]


def followed_task(topology: Topology, comm: str = MALICIOUS_COMM) -> TaskRow:
    """A task on cpu17 (an E-core on Alder Lake) that spent most of its time on P-cores."""
    return TaskRow(
        pid=4343,
        comm=comm,
        alive=True,
        threads=2,
        cpu_now=17,
        pmu_now="cpu_atom",
        core_type_now="efficiency",
        residency={"cpu_core": 0.25, "cpu_atom": 0.75},
        residency_total={"cpu_core": 0.62, "cpu_atom": 0.38},
        ipc={"cpu_core": Metric(1.92, coverage=1.0), "cpu_atom": Metric(1.04, coverage=1.0)},
        cycles={},
        instructions={},
        migrations=7,
        cross_type_migrations=3,
        migrations_interval=1,
        cross_type_interval=1,
        running_s=4.2,
        residency_method=ResidencyMethod.CORE_PMU_CYCLES,
    )


MIGRATIONS = (
    MigrationEntry(3.101, 4343, 4344, MALICIOUS_COMM, 2, 3, "cpu_core", "cpu_core", False),
    MigrationEntry(3.507, 4343, 4343, MALICIOUS_COMM, 3, 17, "cpu_core", "cpu_atom", True),
)


class ScriptedFeed:
    """A SnapshotFeed that delivers a fixed list of snapshots at start and records what the UI asks."""

    def __init__(
        self,
        topology: Topology,
        snapshots: list[Snapshot],
        processes=PICKER_PROCESSES,
        capabilities: frozenset[FeedCapability] = frozenset({FeedCapability.PAUSE}),
    ) -> None:
        self.topology = topology
        self.cpus = tuple(cpu.cpu for cpu in topology.cpus)
        self.description = {"host": "testhost", "kernel": "6.18.0-test", "privileges": "paranoid 2"}
        self.snapshots = snapshots
        self._processes = list(processes)
        self._interval = 1.0
        self._paused = False
        self.capabilities = capabilities
        self.calls: list[tuple] = []
        self._thread: threading.Thread | None = None

    def state(self) -> FeedState:
        return FeedState(FeedSource.LIVE, self.capabilities, self._paused, self._interval)

    def start(self, on_snapshot: SnapshotCallback, on_end: EndCallback, on_state: StateCallback) -> None:
        def deliver() -> None:
            for snapshot in self.snapshots:
                on_snapshot(snapshot)

        self._thread = threading.Thread(target=deliver, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.calls.append(("stop",))

    def set_interval(self, seconds: float) -> FeedState:
        self._interval = seconds
        self.calls.append(("set_interval", seconds))
        return self.state()

    def set_paused(self, paused: bool) -> FeedState:
        self._paused = paused
        self.calls.append(("set_paused", paused))
        return self.state()

    def set_speed(self, speed: float) -> FeedState:
        self.calls.append(("set_speed", speed))
        return self.state()

    def step(self) -> None:
        self.calls.append(("step",))

    def seek(self, position: int) -> None:
        self.calls.append(("seek", position))

    def seek_by(self, ticks: int) -> None:
        self.calls.append(("seek_by", ticks))

    def follow(self, pids: tuple[int, ...], comm: str | None = None) -> None:
        self.calls.append(("follow", pids, comm))

    def unfollow(self) -> None:
        self.calls.append(("unfollow",))

    def watch_processes(self, on_processes: Callable[[ProcessList], None] | None) -> None:
        """As a live feed's thread would, a list from another thread (one, before this returns: what a
        screenshot shows does not depend on that thread's timing)."""
        self.calls.append(("watch_processes", on_processes is not None))
        if on_processes is not None:
            listing = ProcessList.of(self._processes, PICKER_CPU_WINDOW_S)
            lister = threading.Thread(target=on_processes, args=(listing,))
            lister.start()
            lister.join()


def following_feed(recording: Recording) -> ScriptedFeed:
    """Alder Lake snapshots up to SHOWN_TICK, the last ones following a task with a hostile name."""
    sysfs = recording.header.sysfs
    topology = topology_of(sysfs)
    snapshots = snapshots_of(recording)[:SHOWN_TICK]
    task = followed_task(topology)
    snapshots[-2] = dataclasses.replace(snapshots[-2], tasks=(task,), migrations=MIGRATIONS[:1])
    snapshots[-1] = dataclasses.replace(snapshots[-1], tasks=(task,), migrations=MIGRATIONS[1:])
    return ScriptedFeed(topology, snapshots)


def cut_words(app: PmutopApp) -> list[str]:
    """Where the active screen's text widgets drop part of their text without saying so: each as
    "widget id: word". A word of a widget's text is shown whole, or on a line that ends in an ellipsis
    (the rest of that line goes with it); one cut at the edge or mid-word, or on a line that is not
    drawn, is reported, and so are lines past the edge of a container that does not scroll (one that
    scrolls shows its scrollbar). The rich Table of the help screen is checked through its cells."""
    problems = []
    for widget in app.screen.query(Static):
        if not widget.display or widget.outer_size.area == 0:
            continue
        source = _source_lines(widget.content)
        if source is None:
            continue
        try:
            geometry = app.screen.find_widget(widget)
        except NoWidget:
            continue  # not on screen at all (a pane folded away)
        scrolls = any(isinstance(node, Widget) and node.max_scroll_y > 0 for node in widget.ancestors_with_self)
        if geometry.visible_region.height < geometry.region.height and not scrolls:
            problems.append(f"{widget.id or type(widget).__name__}: lines past the edge of what holds it")
        drawn = [strip.text for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]
        shown = {token for line in drawn for token in line.split()}
        cut = [token[:-1] for token in shown if token.endswith("…")]
        for line in source:
            for word in line.split():
                if word in shown:
                    continue
                if any(prefix and word.startswith(prefix) for prefix in cut) or (word == "…" and cut):
                    break  # cut with an ellipsis: the rest of the line went with it
                problems.append(f"{widget.id or type(widget).__name__}: {word}")
                break
    for table in app.screen.query(LiveTable):
        # The headings: an -e event's label whole, or ended in an ellipsis.
        heading = table.render_line(0).text.replace("▲", " ").replace("▼", " ").split()
        for key, title, _ in (table.model.columns[index] for index in table.shown):
            name = key.removeprefix(EVENT_METRIC_PREFIX) if key.startswith(EVENT_METRIC_PREFIX) else title
            if not all(word in heading for word in name.split()) and f"{name[: len(title) - 1]}…" not in heading:
                problems.append(f"{table.id} heading: {name}")
    return problems


def _source_lines(content) -> list[str] | None:
    """The lines of a widget's text as given (a Text, a string, or the cells of a rich Table grid)."""
    if isinstance(content, Text):
        return content.plain.split("\n")
    if isinstance(content, str):
        return content.split("\n")
    if isinstance(content, Table):
        return [" ".join(str(column._cells[row]) for column in content.columns) for row in range(content.row_count)]
    return None
