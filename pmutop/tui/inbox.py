"""The hand-over from a feed's thread to the app: newest snapshot wins, history is kept on the way.

`deliver` runs on the feed thread. It keeps the newest snapshot and posts at most one message at
a time: when the UI falls behind, older snapshots are replaced instead of queued. History for the
sparklines and the migration log is appended here, on the feed thread, for every snapshot, so
it does not depend on how many snapshots the UI got round to drawing. The feed's state (paused, speed,
position) is handed over the same way, newest wins, by `deliver_state`, and so is the picker's process
list, by `deliver_processes`.
"""

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from textual.message import Message

from pmutop.live.feed import FeedState
from pmutop.model.metrics import MetricKey
from pmutop.model.processes import ProcessList
from pmutop.model.snapshot import CpuRow, MigrationEntry, PmuRow, Snapshot, figure_values
from pmutop.tui.live_model import RowKey, cpu_key, pmu_key

HISTORY_LENGTH = 120
MIGRATION_LOG_LENGTH = 200
# The metrics a sparkline can show, in order of preference for a row.
HISTORY_METRICS = (MetricKey.IPC, MetricKey.GHZ, MetricKey.UTIL_PCT)


class SnapshotReady(Message):
    """A new snapshot is waiting in the inbox (the message itself carries nothing stale)."""


class FeedStateChanged(Message):
    """A new feed state is waiting in the inbox."""


class ProcessesReady(Message):
    """A new process list is waiting in the inbox."""


class FeedEnded(Message):
    def __init__(self, reason: str | None) -> None:
        super().__init__()
        self.reason = reason


T = TypeVar("T")


class _Newest(Generic[T]):
    """A value handed over newest wins, under the inbox's lock: `put` says whether to post a message
    (none is waiting to be handled), `take` gives the newest and lets the next `put` post again."""

    def __init__(self) -> None:
        self.value: T | None = None
        self._pending = False

    def put(self, value: T) -> bool:
        self.value = value
        posts = not self._pending
        self._pending = True
        return posts

    def take(self) -> T | None:
        self._pending = False
        return self.value


class SnapshotInbox:
    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._pending = False
        self._state: _Newest[FeedState] = _Newest()
        self._processes: _Newest[ProcessList] = _Newest()
        self._history: dict[tuple[RowKey, MetricKey], deque[float]] = {}
        self._migrations: deque[MigrationEntry] = deque(maxlen=MIGRATION_LOG_LENGTH)
        self.lost_migrations = 0
        self.threads_seen_late = 0
        self.delivered = 0
        # Followed tasks: pid -> (snapshot index, running seconds), and the newest snapshot's CPU share.
        self._running: dict[int, tuple[int, float]] = {}
        self._cpu_shares: dict[int, float] = {}

    def deliver(self, snapshot: Snapshot) -> None:
        with self._lock:
            if self._latest is not None and snapshot.index < self._latest.index:
                # A replay sought backwards and folds its ticks again from the first: so does the history.
                self._history.clear()
                self._migrations.clear()
                self.lost_migrations = 0
                self._running.clear()
            self._latest = snapshot
            self.delivered += 1
            self._record_history(snapshot)
            self._record_cpu_shares(snapshot)
            self._migrations.extend(snapshot.migrations)
            self.lost_migrations += snapshot.lost_migrations
            self.threads_seen_late += snapshot.threads_seen_late
            if self._pending:
                return
            self._pending = True
        self._post(SnapshotReady())

    def deliver_state(self, state: FeedState) -> None:
        """From whichever thread changed the feed's state (the feed's own, or the UI's request)."""
        with self._lock:
            posts = self._state.put(state)
        if posts:
            self._post(FeedStateChanged())

    def deliver_processes(self, processes: ProcessList) -> None:
        """From the feed's thread (a replay's: the UI's, when the picker asks)."""
        with self._lock:
            posts = self._processes.put(processes)
        if posts:
            self._post(ProcessesReady())

    def take_processes(self) -> ProcessList | None:
        """The newest process list (None: none since `forget_processes`); the next one posts a new message."""
        with self._lock:
            return self._processes.take()

    def forget_processes(self) -> None:
        """The picker closed: its next opening waits for a list of its own."""
        with self._lock:
            self._processes.value = None

    def end(self, reason: str | None) -> None:
        self._post(FeedEnded(reason))

    def take_state(self) -> FeedState | None:
        """The newest state the feed handed on (None: none yet); the next one posts a new message."""
        with self._lock:
            return self._state.take()

    def take(self) -> Snapshot | None:
        """The newest snapshot; the next delivery posts a new message."""
        with self._lock:
            self._pending = False
            return self._latest

    def history(self, row: RowKey, metric: MetricKey) -> list[float]:
        with self._lock:
            return list(self._history.get((row, metric), ()))

    def cpu_shares(self) -> dict[int, float]:
        """Per followed pid, its CPU time in the newest snapshot's interval over the interval's length
        (1.0: one CPU's worth), from the growth of its running time since the snapshot before; absent on
        the first snapshot it is in. Worked out here, for every snapshot, since the UI may skip some."""
        with self._lock:
            return dict(self._cpu_shares)

    def migration_log(self) -> list[MigrationEntry]:
        with self._lock:
            return list(self._migrations)

    def _series(self, row: RowKey, metric: MetricKey) -> deque[float]:
        series = self._history.get((row, metric))
        if series is None:
            series = self._history[(row, metric)] = deque(maxlen=HISTORY_LENGTH)
        return series

    def _record_cpu_shares(self, snapshot: Snapshot) -> None:
        shares = {}
        for task in snapshot.tasks:
            before = self._running.get(task.pid)
            if before is not None and before[0] == snapshot.index - 1 and snapshot.interval_s > 0:
                shares[task.pid] = max(task.running_s - before[1], 0.0) / snapshot.interval_s
        self._running = {task.pid: (snapshot.index, task.running_s) for task in snapshot.tasks}
        self._cpu_shares = shares

    def _record_history(self, snapshot: Snapshot) -> None:
        # Every figure of a tick's rows read at once (a replay's seek delivers hundreds of 448-CPU ticks).
        groups: tuple[tuple[list[RowKey], Sequence[CpuRow | PmuRow]], ...] = (
            ([cpu_key(row.cpu) for row in snapshot.cpus], snapshot.cpus),
            ([pmu_key(row.pmu) for row in snapshot.pmus], snapshot.pmus),
        )
        for keys, rows in groups:
            for metric in HISTORY_METRICS:
                for key, value in zip(keys, figure_values(rows, metric), strict=True):
                    if value is not None:
                        self._series(key, metric).append(value)
