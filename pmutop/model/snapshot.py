"""Frozen per-tick snapshots: everything a face (stat, TUI, exporter) shows, already computed.

A snapshot is immutable and self-contained, so the sampler thread can hand it to the UI thread
without locks and a face never needs to reach back into the sampler or the kernel.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NewType, Protocol, TypeVar, overload

import numpy as np

from pmutop.model.metrics import MetricKey
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CounterFailure, Encoding

# Why a figure with no value, no failure and no note is n/a: the kernel gave no honest delta for it.
NOT_COUNTED_WHY = "not counted this interval (its counter did not run, or is new or was reopened)"


class Metric(NamedTuple):
    """One figure with its provenance.

    `coverage` is time_running/time_enabled over the interval (1.0 = counted the whole time);
    `extrapolated` means the value was scaled up from partial coverage, as perf does. A value of
    None is "not available": `failure` says why when a counter could not be opened or read.

    A NamedTuple rather than a frozen dataclass: as immutable, and made three times faster, which counts
    where a face looks up a figure of every cell it shows each tick.
    """

    value: float | None
    coverage: float | None = None
    extrapolated: bool = False
    failure: CounterFailure | None = None
    # Why a value is missing when no counter failed (e.g. too little busy time to measure).
    note: str | None = None

    @property
    def available(self) -> bool:
        return self.value is not None

    def to_json(self) -> dict[str, Any]:
        if self.value is None:
            record: dict[str, Any] = {"value": None}
            if self.failure:
                record.update(error=self.failure.errno_name, reason=self.failure.explanation)
            else:
                record["reason"] = self.note or NOT_COUNTED_WHY
            return record
        record = {"value": round(self.value, 6) if isinstance(self.value, float) else self.value}
        if self.coverage is not None:
            record["coverage"] = round(self.coverage, 4)
        if self.extrapolated:
            record["extrapolated"] = True
        return record


NOT_COUNTED = Metric(None)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Figures:
    """Many figures for many rows at once: what a Metric per figure and row would hold, as arrays of
    figures × rows.

    `value` and `coverage` are NaN where the Metric's are None. `reason` says why a value is missing:
    k > 0 is the failure `failures[k - 1]` of the MetricColumns, k < 0 the note `notes[-k - 1]`, 0 none.
    """

    value: np.ndarray
    coverage: np.ndarray
    extrapolated: np.ndarray
    reason: np.ndarray


class MetricColumns:
    """A tick's figures for a set of rows (every CPU, or every core PMU): `figure_of` names the metric
    each figure row of `figures` is.

    Widgets that show many rows read the arrays; `metric()` builds one row's Metric when asked.
    """

    __slots__ = ("_lists", "_missing", "failures", "figure_of", "figures", "notes")

    def __init__(
        self,
        figures: Figures,
        figure_of: Mapping[str, int],
        failures: tuple[CounterFailure, ...],
        notes: tuple[str, ...],
    ):
        self.figures = figures
        self.figure_of = figure_of
        self.failures = failures
        self.notes = notes
        # The figures as Python lists, made on first use (indexing a list beats indexing an array), all
        # at once: four conversions, whatever the number of metrics looked up.
        self._lists: tuple[list[list[float]], list[list[float]], list[list[bool]], list[list[int]]] | None = None
        self._missing: dict[tuple[int, float | None], Metric] = {}

    def metric(self, name: str, row: int) -> Metric:
        lists = self._lists
        if lists is None:
            figures = self.figures
            lists = self._lists = (
                figures.value.tolist(),
                figures.coverage.tolist(),
                figures.extrapolated.tolist(),
                figures.reason.tolist(),
            )
        figure = self.figure_of[name]
        value, reason = lists[0][figure][row], lists[3][figure][row]
        # NaN is the only value not equal to itself: there, the Metric's field is None.
        covered = lists[1][figure][row]
        coverage = covered if covered == covered else None
        if value == value:
            return Metric(value, coverage, lists[2][figure][row])
        # An n/a figure is the same Metric for the same reason and coverage: made once (most of a row's
        # figures on a machine without a core PMU).
        missing = self._missing.get((reason, coverage))
        if missing is None:
            missing = self._missing[reason, coverage] = self._missing_metric(reason, coverage)
        return missing

    def values(self, name: str) -> list[float] | None:
        """Figure `name` of every row, in row order (NaN where n/a); None when these rows have no such figure."""
        figure = self.figure_of.get(name)
        if figure is None:
            return None
        if self._lists is None:
            self.metric(name, 0)
        assert self._lists is not None
        return self._lists[0][figure]

    def _missing_metric(self, reason: int, coverage: float | None) -> Metric:
        if reason > 0:
            return Metric(None, coverage, failure=self.failures[reason - 1])
        if reason < 0:
            return Metric(None, coverage, note=self.notes[-reason - 1])
        return Metric(None, coverage) if coverage is not None else NOT_COUNTED


class RowMetrics(Mapping[str, Metric]):
    """One row's figures, by name, in display order: a view of MetricColumns that builds each Metric
    when it is looked up (a row of a 448-CPU tick is mostly never looked at)."""

    __slots__ = ("_columns", "_names", "_row")

    def __init__(self, columns: MetricColumns, row: int, names: Mapping[str, None]) -> None:
        self._columns = columns
        self._row = row
        # The names this row has, in order (a dict's keys: membership is a hash lookup).
        self._names = names

    def __getitem__(self, name: str) -> Metric:
        if name not in self._names:
            raise KeyError(name)
        return self._columns.metric(name, self._row)

    @overload
    def get(self, name: str, /) -> Metric | None: ...

    @overload
    def get(self, name: str, default: Metric | _T, /) -> Metric | _T: ...

    def get(self, name: str, default: object = None, /) -> object:
        if name not in self._names:
            return default
        return self._columns.metric(name, self._row)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _HasMetrics(Protocol):
    @property
    def metrics(self) -> Mapping[str, Metric]: ...


def figure_values(rows: Sequence[_HasMetrics], name: str) -> list[float | None]:
    """Each row's figure `name` (None where it is n/a or the row has none), as `row.metrics` would give it:
    read off the arrays at once where the rows are one tick's (a 448-CPU tick's figures, without a Metric
    each), else looked up row by row."""
    metrics = [row.metrics for row in rows]
    shared = [row for row in metrics if isinstance(row, RowMetrics)]
    if shared and len(shared) == len(metrics) and all(row._columns is shared[0]._columns for row in shared):
        values = shared[0]._columns.values(name)
        if values is None:
            return [None] * len(shared)
        # NaN is the only value not equal to itself.
        return [
            value if name in row._names and value == value else None for row in shared for value in (values[row._row],)
        ]
    return [metric.value if (metric := row.get(name)) is not None else None for row in metrics]


# A `-e` event's figure on a CPU or core PMU row is the metric named EVENT_METRIC_PREFIX + its label.
EVENT_METRIC_PREFIX = "event:"
EventKey = NewType("EventKey", str)
# What a row's figure is looked up by: one of pmutop's own (the table in pmutop.model.metrics) or a -e event's.
MetricName = MetricKey | EventKey


def event_metric(label: str) -> EventKey:
    """The metric name under which rows carry a `-e` event's count for the interval."""
    return EventKey(EVENT_METRIC_PREFIX + label)


def event_label(name: str) -> str | None:
    """The -e event's label a metric name stands for (the inverse of event_metric); None for pmutop's own."""
    return name.removeprefix(EVENT_METRIC_PREFIX) if name.startswith(EVENT_METRIC_PREFIX) else None


@dataclass(frozen=True, slots=True)
class EventTotal:
    """A `-e` event summed over the CPUs it counted on, per PMU, as perf prints it (`cpu_core/branch-misses/`)."""

    label: str
    pmu: str
    name: str
    metric: Metric
    # How many CPUs counted it this interval, out of how many it was meant to open on.
    cpus_counted: int = 0
    cpus_wanted: int = 0
    # Nanoseconds on the counter, summed over those CPUs (perf's "run time").
    running_ns: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.label,
            "pmu": self.pmu,
            "name": self.name,
            "cpus_counted": self.cpus_counted,
            "cpus_wanted": self.cpus_wanted,
            "running_ns": self.running_ns,
            **self.metric.to_json(),
        }


@dataclass(frozen=True, slots=True)
class CpuRow:
    cpu: int
    pmu: str | None
    core_type: str | None
    online: bool
    metrics: Mapping[str, Metric]

    def metric(self, name: MetricName) -> Metric:
        return self.metrics.get(name, NOT_COUNTED)

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "pmu": self.pmu,
            "core_type": self.core_type,
            "online": self.online,
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
        }


@dataclass(frozen=True, slots=True)
class PmuRow:
    """A core PMU's aggregate over its CPUs: sums of what was counted, never of guesses alone."""

    pmu: str
    type: int
    core_type: str
    encoding: Encoding | None
    cpus: tuple[int, ...]
    metrics: Mapping[str, Metric]
    # Share of the aggregate cycles+instructions that came from scaling up partial coverage.
    extrapolated_share: float = 0.0

    def metric(self, name: MetricName) -> Metric:
        return self.metrics.get(name, NOT_COUNTED)

    def to_json(self) -> dict[str, Any]:
        return {
            "pmu": self.pmu,
            "type": self.type,
            "core_type": self.core_type,
            "encoding": str(self.encoding) if self.encoding else None,
            "cpus": list(self.cpus),
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
            "extrapolated_share": round(self.extrapolated_share, 4),
        }


@dataclass(frozen=True, slots=True)
class MigrationEntry:
    """One sched_migrate_task record for a followed task, placed on the machine's core types."""

    time_s: float
    pid: int
    tid: int
    comm: str
    from_cpu: int
    to_cpu: int
    from_pmu: str | None
    to_pmu: str | None
    cross_type: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "time": round(self.time_s, 6),
            "pid": self.pid,
            "tid": self.tid,
            "comm": self.comm,
            "from_cpu": self.from_cpu,
            "to_cpu": self.to_cpu,
            "from_pmu": self.from_pmu,
            "to_pmu": self.to_pmu,
            "cross_type": self.cross_type,
        }


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A followed process (all its threads), as of this tick."""

    pid: int
    comm: str
    alive: bool
    threads: int
    cpu_now: int | None
    pmu_now: str | None
    core_type_now: str | None
    # Share of running time per place: keys are core PMU names, or "cpuN" on a machine without
    # core PMUs; values sum to ~1 over the interval (and over the whole run in `residency_total`).
    residency: Mapping[str, float]
    residency_total: Mapping[str, float]
    ipc: Mapping[str, Metric]
    cycles: Mapping[str, Metric]
    instructions: Mapping[str, Metric]
    migrations: int
    cross_type_migrations: int
    migrations_interval: int
    cross_type_interval: int
    running_s: float
    # The source of the residency figures.
    residency_method: ResidencyMethod
    exit_status: int | None = None
    # (tid, CPU it last ran on) for each live thread.
    thread_cpus: tuple[tuple[int, int | None], ...] = ()
    # The last few migrations of this task (bounded), newest last.
    recent_migrations: tuple[MigrationEntry, ...] = ()
    # Per core PMU over the whole time followed.
    ipc_total: Mapping[str, Metric] = field(default_factory=dict)
    cycles_total: Mapping[str, Metric] = field(default_factory=dict)
    instructions_total: Mapping[str, Metric] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": self.comm,
            "alive": self.alive,
            "threads": self.threads,
            "cpu": self.cpu_now,
            "pmu": self.pmu_now,
            "core_type": self.core_type_now,
            "residency": {k: round(v, 4) for k, v in self.residency.items()},
            "residency_total": {k: round(v, 4) for k, v in self.residency_total.items()},
            "residency_method": self.residency_method.label,
            "ipc": {k: m.to_json() for k, m in self.ipc.items()},
            "ipc_total": {k: m.to_json() for k, m in self.ipc_total.items()},
            "cycles_total": {k: m.to_json() for k, m in self.cycles_total.items()},
            "instructions_total": {k: m.to_json() for k, m in self.instructions_total.items()},
            "cycles": {k: m.to_json() for k, m in self.cycles.items()},
            "instructions": {k: m.to_json() for k, m in self.instructions.items()},
            "migrations": self.migrations,
            "cross_type_migrations": self.cross_type_migrations,
            "migrations_interval": self.migrations_interval,
            "cross_type_interval": self.cross_type_interval,
            "running_s": round(self.running_s, 6),
            "exit_status": self.exit_status,
            "thread_cpus": {str(tid): cpu for tid, cpu in self.thread_cpus},
        }


@dataclass(frozen=True)
class Snapshot:
    index: int
    # Seconds since sampling started, and the length of this interval.
    time_s: float
    interval_s: float
    wall_time: float
    cpus: tuple[CpuRow, ...]
    pmus: tuple[PmuRow, ...]
    # One-line explanations shown once as a banner: a missing PMU, a privilege limit, a fallback.
    notices: tuple[str, ...] = ()
    tasks: tuple[TaskRow, ...] = ()
    # Migrations of followed tasks that happened during this interval, oldest first.
    migrations: tuple[MigrationEntry, ...] = ()
    # Migration-log losses in this interval (the whole run in a summary): records the kernel
    # dropped (ring overflow), and threads found by /proc whose creation record was missed.
    lost_migrations: int = 0
    threads_seen_late: int = 0
    extras: Mapping[str, Any] = field(default_factory=dict)
    # The `-e` events, one entry per event and PMU, in the order they were given.
    events: tuple[EventTotal, ...] = ()

    def cpu(self, number: int) -> CpuRow | None:
        for row in self.cpus:
            if row.cpu == number:
                return row
        return None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "interval": self.index,
            "time": round(self.time_s, 6),
            "elapsed_s": round(self.interval_s, 6),
            "timestamp": round(self.wall_time, 3),
            "cpus": [row.to_json() for row in self.cpus],
            "pmus": [row.to_json() for row in self.pmus],
            "notices": list(self.notices),
        }
        if self.events:
            record["events"] = [total.to_json() for total in self.events]
        if self.tasks or self.migrations:
            record["tasks"] = [task.to_json() for task in self.tasks]
            record["migrations"] = [entry.to_json() for entry in self.migrations]
            record["lost_migrations"] = self.lost_migrations
            record["threads_seen_late"] = self.threads_seen_late
        return record
