"""The interface every snapshot producer offers a face: the live sampler thread and a replay.

A feed owns its own thread and the tick deadline; it calls `on_snapshot` from that thread with
each new immutable Snapshot. Faces never reach past this interface to the kernel.

What a feed can do, and where it is, travels as a FeedState value: the feed hands one to `on_state`
whenever it changes (from whichever thread changed it), and a request that changes it returns the
new one. A face decides what to offer from the state's capabilities, never from the feed's class,
and shows the state it was given, never the feed's attributes, which another thread owns.
"""

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pmutop.model.processes import ProcessList
from pmutop.model.snapshot import Snapshot
from pmutop.model.topology import Topology

SnapshotCallback = Callable[[Snapshot], None]
# Called once, from the feed's thread, when the feed stops by itself (replay ended, followed
# command exited, fatal error); the argument is a one-line reason or None for a normal end.
EndCallback = Callable[[str | None], None]
# Called with each new process list while the picker watches (see SnapshotFeed.watch_processes).
ProcessListCallback = Callable[[ProcessList], None]


class FeedCapability(enum.Enum):
    """A request a feed acts on, beyond set_interval, follow and unfollow that every feed takes."""

    # set_paused: hold the ticks (a live feed keeps its counters open, a replay its place).
    PAUSE = "pause"
    # step: one tick while paused.
    STEP = "step"
    # seek, seek_by: go to a tick. At its last tick a feed that can seek waits for a seek rather than
    # ending.
    SEEK = "seek"


class FeedSource(enum.Enum):
    # This machine's counters, now: the interval is the user's choice.
    LIVE = "live"
    # A recording played back (its name is the feed description's "replay").
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class Playback:
    """Where a recording's playback is and how fast it goes (set_speed changes `speed`)."""

    # Ticks folded in so far, of `total`.
    position: int
    total: int
    speed: float
    # The recording's own interval (the median of its ticks' gaps).
    recorded_interval_s: float
    # The position a seek is folding its way to (None: no seek under way). The snapshots on the way
    # are history; a face shows the one at the end.
    seeking_to: int | None = None

    @property
    def at_end(self) -> bool:
        return self.position >= self.total

    # What a face shows: the interval whose snapshot is out, of how many the recording makes, numbered
    # from 1 as `pmutop stat` numbers them (a snapshot is the interval between two ticks, so the first
    # comes with the second tick and a recording of N ticks has N - 1).
    @property
    def interval(self) -> int:
        return max(self.position - 1, 0)

    @property
    def intervals(self) -> int:
        return max(self.total - 1, 0)


@dataclass(frozen=True, slots=True)
class FeedState:
    source: FeedSource
    capabilities: frozenset[FeedCapability]
    paused: bool
    # The time between ticks as they come: the refresh interval, or a recording's over the speed.
    interval_s: float
    # A recording's playback; None live.
    playback: Playback | None = None

    def can(self, capability: FeedCapability) -> bool:
        return capability in self.capabilities


StateCallback = Callable[[FeedState], None]


class StateHandOver:
    """How a feed hands its state on: built under the lock its requests and its thread share, given to
    `on_state` (set by start) and returned to the request that changed it."""

    def __init__(self, lock: threading.Condition, build: Callable[[], FeedState]) -> None:
        self._lock = lock
        self._build = build
        self.on_state: StateCallback | None = None

    def now(self) -> FeedState:
        with self._lock:
            return self._build()

    def changed(self) -> FeedState:
        """With the lock held, after a change: wake the feed's thread and hand on the new state."""
        self._lock.notify_all()
        state = self._build()
        if self.on_state is not None:
            self.on_state(state)
        return state


class SnapshotFeed(Protocol):
    topology: Topology
    # Header facts for the UI: host, kernel, privilege state ("root", "CAP_PERFMON", "paranoid 2"),
    # and for replays the recording's name ("replay"). Set once, never changed.
    description: dict[str, str]
    # The CPUs counted (`-C`, or every CPU): the only ones a face shows rows for.
    cpus: tuple[int, ...]

    def state(self) -> FeedState:
        """The state now (a value, safe from any thread): what a face starts from before `start`."""
        ...

    def start(self, on_snapshot: SnapshotCallback, on_end: EndCallback, on_state: StateCallback) -> None: ...

    def stop(self) -> None: ...

    def set_interval(self, seconds: float) -> FeedState: ...

    def set_paused(self, paused: bool) -> FeedState:
        """With PAUSE."""
        ...

    def set_speed(self, speed: float) -> FeedState:
        """For a feed with a playback: its speed (set_interval then sets the speed that gives it)."""
        ...

    def step(self) -> None:
        """With STEP: the snapshot and the state it leads to come from the feed's thread."""
        ...

    def seek(self, position: int) -> None:
        """With SEEK: go to the moment `position` ticks in (clamped to what there is)."""
        ...

    def seek_by(self, ticks: int) -> None:
        """With SEEK."""
        ...

    def follow(self, pids: tuple[int, ...], comm: str | None = None) -> None:
        """Start following processes (all their threads); replaces what was followed."""
        ...

    def unfollow(self) -> None: ...

    def watch_processes(self, on_processes: ProcessListCallback | None) -> None:
        """For the picker: from now on, until called with None, hand `on_processes` a ProcessList now
        and then. A live feed's own thread reads /proc for it (the UI never does), every
        PROCESS_REFRESH_S; a replay hands on the processes it recorded, once, at the call. So
        `on_processes` may run on any thread, the caller's included."""
        ...
