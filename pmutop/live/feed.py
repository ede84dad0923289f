"""The interface every snapshot producer offers a face: the live sampler thread and a replay.

A feed owns its own thread and the tick deadline; it calls `on_snapshot` from that thread with
each new immutable Snapshot. Faces never reach past this interface to the kernel.
"""

from collections.abc import Callable
from typing import Protocol

from pmutop.model.processes import ProcessInfo
from pmutop.model.snapshot import Snapshot
from pmutop.model.topology import Topology

SnapshotCallback = Callable[[Snapshot], None]
# Called once, from the feed's thread, when the feed stops by itself (replay ended, followed
# command exited, fatal error); the argument is a one-line reason or None for a normal end.
EndCallback = Callable[[str | None], None]


class SnapshotFeed(Protocol):
    topology: Topology
    # Header facts for the UI: host, kernel, privilege state ("root", "CAP_PERFMON", "paranoid 2"),
    # and for replays the recording's origin.
    description: dict[str, str]
    # The CPUs counted (`-C`, or every CPU): the only ones a face shows rows for.
    cpus: tuple[int, ...]

    @property
    def interval_s(self) -> float: ...

    @property
    def paused(self) -> bool: ...

    def start(self, on_snapshot: SnapshotCallback, on_end: EndCallback) -> None: ...

    def stop(self) -> None: ...

    def set_interval(self, seconds: float) -> None: ...

    def set_paused(self, paused: bool) -> None: ...

    def follow(self, pids: tuple[int, ...], comm: str | None = None) -> None:
        """Start following processes (all their threads); replaces what was followed."""
        ...

    def unfollow(self) -> None: ...

    def processes(self) -> list[ProcessInfo]:
        """Processes that can be followed, for the picker (called off the UI thread: a live feed reads
        /proc); a replay returns the recorded ones."""
        ...
