"""Replaying a recording as a SnapshotFeed: the same RateModel over the recorded raw ticks.

The feed rebuilds the recorded machine's Topology from the header's raw sysfs text, so a replay
shows that machine's PMUs and CPUs. Its thread paces ticks by their recorded timestamps divided
by the speed; `set_interval` (the UI's +/-) changes the speed, and `step` advances one tick while
paused.
"""

import dataclasses
import itertools
import os
import statistics
import threading
import time
from pathlib import Path

from pmutop.live.feed import (
    EndCallback,
    FeedCapability,
    FeedSource,
    FeedState,
    Playback,
    ProcessListCallback,
    SnapshotCallback,
    StateCallback,
    StateHandOver,
)
from pmutop.live.topology_loader import topology_of
from pmutop.model.processes import ProcessInfo, ProcessList
from pmutop.model.rates import RateModel
from pmutop.model.snapshot import Snapshot
from pmutop.model.tasks import TaskTick
from pmutop.recording.format import Recording, read_recording


def _recorded_interval(recording: Recording) -> float:
    stamps = [tick.monotonic_ns for tick in recording.ticks]
    gaps = [(later - earlier) / 1e9 for earlier, later in itertools.pairwise(stamps)]
    return statistics.median(gaps) if gaps else recording.header.interval_s


def _recorded_processes(recording: Recording) -> ProcessList:
    """The processes the recording followed (from its ticks) and any the header names; a recording
    has no users, command lines or CPU% for them."""
    found = dict(recording.header.processes)
    for tick in recording.ticks:
        if isinstance(tick.tasks, TaskTick):
            found.update((process.pid, process.comm) for process in tick.tasks.processes)
    return ProcessList.of((ProcessInfo(pid, comm, comm, "", None) for pid, comm in found.items()), None, recorded=True)


REPLAY_CAPABILITIES = frozenset({FeedCapability.PAUSE, FeedCapability.STEP, FeedCapability.SEEK})


class ReplayFeed:
    """A SnapshotFeed over a loaded Recording, with seeking.

    `start_at` folds the first ticks in at once, without pacing, and pauses after delivering
    the snapshot of tick position `start_at` when `paused` is set: tests and screenshots use
    that to show a fixed moment of a recording with its history behind it.

    Its state's playback position is how many ticks have been folded in. At the end of the recording
    the thread stays, waiting for a seek (`seek`, `seek_by`), so the replay can be watched again. A seek
    folds every tick on the way in and delivers each snapshot (the inbox keeps their history); a seek
    backwards starts the RateModel again from the first tick, since the figures carry state (totals,
    task histories). Each fold hands on the new state before its snapshot.
    """

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float = 1.0,
        paused: bool = False,
        start_at: int = 0,
        name: str = "recording",
    ) -> None:
        header = recording.header
        self.recording = recording
        self.topology = topology_of(header.sysfs, source=name)
        # What the recorded run counted: CPUs with counter groups (all of them without -C).
        counted = {layout.cpu for layout in header.layouts}
        self.cpus = tuple(cpu.cpu for cpu in self.topology.cpus if cpu.cpu in counted or not counted)
        self.description = {
            "host": header.host,
            "kernel": header.kernel,
            "privileges": header.privileges,
            "replay": name,
        }
        self.recorded_interval_s = _recorded_interval(recording)
        self._speed = speed
        self._paused = paused
        self._start_at = start_at
        self._steps = 0
        self._seek: int | None = None
        # The position the seek under way folds to: where a relative seek asked meanwhile counts from.
        self._target: int | None = None
        self._stopping = False
        self._wake = threading.Condition()
        self._states = StateHandOver(self._wake, self._state)
        self._thread: threading.Thread | None = None
        self._followed: tuple[int, ...] | None = None
        self.recorded_processes = _recorded_processes(recording)
        # Ticks folded in so far: written by the feed thread under the lock, shown through state().
        self._position = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options) -> "ReplayFeed":
        return cls(read_recording(path), name=Path(path).name, **options)

    @property
    def _total_ticks(self) -> int:
        return len(self.recording.ticks)

    @property
    def _at_end(self) -> bool:
        return self._position >= self._total_ticks

    def state(self) -> FeedState:
        return self._states.now()

    def _state(self) -> FeedState:
        return FeedState(
            FeedSource.RECORDING,
            REPLAY_CAPABILITIES,
            self._paused,
            # The playback interval: the recorded one over the speed.
            self.recorded_interval_s / self._speed,
            Playback(self._position, self._total_ticks, self._speed, self.recorded_interval_s, self._target),
        )

    def start(self, on_snapshot: SnapshotCallback, on_end: EndCallback, on_state: StateCallback) -> None:
        self._states.on_state = on_state
        self._thread = threading.Thread(target=self._run, args=(on_snapshot, on_end), name="pmutop-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def set_interval(self, seconds: float) -> FeedState:
        """A refresh interval, applied as a speed: half the interval plays twice as fast."""
        return self.set_speed(self.recorded_interval_s / seconds)

    def set_speed(self, speed: float) -> FeedState:
        with self._wake:
            self._speed = speed
            return self._states.changed()

    def set_paused(self, paused: bool) -> FeedState:
        with self._wake:
            self._paused = paused
            return self._states.changed()

    def step(self) -> None:
        """Advance one tick while paused."""
        with self._wake:
            self._steps += 1
            self._wake.notify_all()

    def seek(self, position: int) -> None:
        """Go to the moment `position` ticks in (clamped to the recording); playing or paused as before."""
        with self._wake:
            # Two ticks make the first snapshot: before that there is nothing to show.
            self._seek = min(max(position, min(2, self._total_ticks)), self._total_ticks)
            self._steps = 0
            self._wake.notify_all()

    def seek_by(self, ticks: int) -> None:
        """`ticks` from where the replay is, or is going: a second ← while a seek folds its way counts
        from that seek's target, not from wherever the folding has got to."""
        with self._wake:
            base = next(at for at in (self._seek, self._target, self._position) if at is not None)
            self.seek(base + ticks)

    def follow(self, pids: tuple[int, ...], comm: str | None = None) -> None:
        """A replay cannot follow new processes: this shows only the recorded ones that match."""
        self._followed = tuple(
            process.pid
            for process in self.recorded_processes.processes
            if process.pid in pids or (comm is not None and process.comm == comm)
        )

    def unfollow(self) -> None:
        self._followed = ()

    def watch_processes(self, on_processes: ProcessListCallback | None) -> None:
        """The recorded processes, handed on at once: they never change."""
        if on_processes is not None:
            on_processes(self.recorded_processes)

    def _filtered(self, snapshot: Snapshot) -> Snapshot:
        followed = self._followed
        if followed is None or not snapshot.tasks:
            return snapshot
        tasks = tuple(task for task in snapshot.tasks if task.pid in followed)
        migrations = tuple(entry for entry in snapshot.migrations if entry.pid in followed)
        return dataclasses.replace(snapshot, tasks=tasks, migrations=migrations)

    def _wait_turn(self, delay_s: float | None) -> str:
        """Wait until the next tick is due (or a step while paused): "tick", "seek" or "stop".
        At the end of the recording (`delay_s` is None) only a seek or stop ends the wait."""
        with self._wake:
            deadline_wait = delay_s
            while not self._stopping:
                if self._seek is not None:
                    return "seek"
                if self._at_end:
                    self._wake.wait()
                    continue
                if self._paused:
                    if self._steps:
                        self._steps -= 1
                        return "tick"
                    self._wake.wait()
                    continue
                if deadline_wait is None or deadline_wait <= 0:
                    return "tick"
                speed_before = self._speed
                started = time.monotonic()
                self._wake.wait(timeout=deadline_wait)
                elapsed = time.monotonic() - started
                # A speed change rescales what is left of the wait; a pause keeps it for later.
                deadline_wait = (deadline_wait - elapsed) * speed_before / self._speed
            return "stop"

    def _run(self, on_snapshot: SnapshotCallback, on_end: EndCallback) -> None:
        try:
            self._play(on_snapshot, on_end)
        except Exception as exc:  # as the live feed does: the UI says why the replay stopped, not a traceback
            on_end(f"replay stopped: {type(exc).__name__}: {exc}")

    def _play(self, on_snapshot: SnapshotCallback, on_end: EndCallback) -> None:
        ticks = self.recording.ticks
        header = self.recording.header
        model = RateModel(self.topology, header.layouts, header.notices)

        def fold(position: int) -> None:
            snapshot = model.update(ticks[position])
            with self._wake:
                self._position = position + 1
                if self._target is not None and self._position >= self._target:
                    self._target = None
                # Before the snapshot: a face that draws it has the position it belongs to.
                self._states.changed()
            if snapshot is not None:
                on_snapshot(self._filtered(snapshot))

        # Caught up to start_at at once, then paced.
        for position in range(min(self._start_at + 1, len(ticks))):
            if self._stopping:
                return
            fold(position)
        ended = False
        while True:
            if self._at_end and not ended:
                ended = True
                on_end(self.recording.error_summary())
            delay = None
            at = self._position
            if not self._at_end and at:
                delay = (ticks[at].monotonic_ns - ticks[at - 1].monotonic_ns) / 1e9 / self._speed
            turn = self._wait_turn(delay)
            if turn == "stop":
                return
            if turn == "tick":
                fold(self._position)
                continue
            with self._wake:
                target, self._seek = self._seek, None
                if target is not None:
                    self._target = target if target != self._position else None
                    if target < self._position:
                        self._position = 0
                    self._states.changed()
            if target is None:
                continue
            if self._position == 0:
                model = RateModel(self.topology, header.layouts, header.notices)
            ended = ended and target >= len(ticks)
            # A seek asked meanwhile takes over at once (the next turn), from wherever this one got to.
            while self._position < target and not self._stopping and self._seek is None:
                fold(self._position)
