"""The hand-over from a feed's thread to the app: newest snapshot wins, history is kept on the way.

`deliver` runs on the feed thread. It keeps the newest snapshot and posts at most one message at
a time: when the UI falls behind, older snapshots are replaced instead of queued. History for the
sparklines and the migration log is appended here, on the feed thread, for every snapshot, so
it does not depend on how many snapshots the UI got round to drawing.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterable
from itertools import chain

from textual.message import Message

from pmutop.model.snapshot import CpuRow, MigrationEntry, PmuRow, Snapshot

HISTORY_LENGTH = 120
MIGRATION_LOG_LENGTH = 200
# The metrics a sparkline can show, in order of preference for a row.
HISTORY_METRICS = ("ipc", "ghz", "util_pct")


class SnapshotReady(Message):
    """A new snapshot is waiting in the inbox (the message itself carries nothing stale)."""


class FeedEnded(Message):
    def __init__(self, reason: str | None) -> None:
        super().__init__()
        self.reason = reason


class SnapshotInbox:
    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._pending = False
        self._history: dict[tuple[str, str], deque[float]] = {}
        self._migrations: deque[MigrationEntry] = deque(maxlen=MIGRATION_LOG_LENGTH)
        self.lost_migrations = 0
        self.threads_seen_late = 0
        self.delivered = 0

    def deliver(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._latest = snapshot
            self.delivered += 1
            self._record_history(snapshot)
            self._migrations.extend(snapshot.migrations)
            self.lost_migrations += snapshot.lost_migrations
            self.threads_seen_late += snapshot.threads_seen_late
            if self._pending:
                return
            self._pending = True
        self._post(SnapshotReady())

    def end(self, reason: str | None) -> None:
        self._post(FeedEnded(reason))

    def take(self) -> Snapshot | None:
        """The newest snapshot; the next delivery posts a new message."""
        with self._lock:
            self._pending = False
            return self._latest

    def history(self, row: str, metric: str) -> list[float]:
        with self._lock:
            return list(self._history.get((row, metric), ()))

    def migration_log(self) -> list[MigrationEntry]:
        with self._lock:
            return list(self._migrations)

    def _series(self, row: str, metric: str) -> deque[float]:
        series = self._history.get((row, metric))
        if series is None:
            series = self._history[(row, metric)] = deque(maxlen=HISTORY_LENGTH)
        return series

    def _record_history(self, snapshot: Snapshot) -> None:
        rows: Iterable[tuple[str, CpuRow | PmuRow]] = chain(
            ((cpu_row_key(row.cpu), row) for row in snapshot.cpus),
            ((pmu_row_key(row.pmu), row) for row in snapshot.pmus),
        )
        for key, row in rows:
            for metric in HISTORY_METRICS:
                value = row.metric(metric).value
                if value is not None:
                    self._series(key, metric).append(value)


def cpu_row_key(cpu: int) -> str:
    return f"cpu:{cpu}"


def pmu_row_key(pmu: str) -> str:
    return f"pmu:{pmu}"
