"""Counts to honest rates: deltas between ticks, multiplex scaling, coverage, and per-PMU sums.

Pure arithmetic on RawTick values; the same code runs live and on a replayed recording. It runs on
every group of a tick at once: a tick's reads become arrays (a row per group, a column per member),
and every figure of every CPU is one cell of a figures × CPUs array (each figure a Column of
snapshot.MetricColumns), rather than a Metric object per figure. A member of a group is a column: more
events in a group are more columns, with no code per event. The per-tick arithmetic over those arrays
(busy time, deltas, the CPU figures) is one call into rates_shim.c: a tick runs cold, and there each
numpy operation cost 5-15 µs, most of a 2-CPU tick. The per-PMU sums stay numpy.

The arithmetic is perf's and gives the same floats as doing it figure by figure: unscaled counts are
converted exactly, scaled ones (value × enabled / running, only for groups multiplexed this interval)
are worked out in Python's exact integer arithmetic, and sums over CPUs add in CPU order.
"""

import operator
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import chain, repeat

import numpy as np

from pmutop.model._rates import ffi, lib
from pmutop.model.plan import event_order
from pmutop.model.samples import (
    CounterFailure,
    CpuTimes,
    Encoding,
    GroupLayout,
    GroupRead,
    GroupReads,
    GroupRole,
    RawTick,
)
from pmutop.model.snapshot import (
    CpuRow,
    EventTotal,
    Figures,
    Metric,
    MetricColumns,
    PmuRow,
    RowMetrics,
    Snapshot,
    event_metric,
)
from pmutop.model.tasks import TaskModel, TaskTick
from pmutop.model.topology import Topology, per_pmu_name

USER_HZ = 100  # /proc/stat ticks per second on every Linux ABI
# GHz divides by busy time, which /proc/stat knows only to a tick (10 ms): below this many busy ticks the
# error would pass 10%, and an idle CPU would show absurd clocks, so GHz is left out instead.
MIN_BUSY_TICKS_FOR_GHZ = 10
TOO_IDLE = "too little busy time this interval to measure a clock"
NOTES = (TOO_IDLE,)
TOO_IDLE_REASON = -1
SOFTWARE_COUNTER_METRICS = ("context_switches_per_s", "migrations_per_s")
# The members each role's figures are made of, as the kernel names them.
ROLE_MEMBERS = {
    GroupRole.CORE: ("cycles", "instructions", "ref-cycles"),
    GroupRole.SOFTWARE: ("context-switches", "cpu-migrations"),
    GroupRole.MSR: ("tsc", "aperf", "mperf"),
}
# A per-PMU row's figures, in display order.
PMU_METRICS = (
    "cycles",
    "instructions",
    "ghz",
    "ipc",
    "instructions_per_s",
    "util_pct",
    *SOFTWARE_COUNTER_METRICS,
)
# The rows of a tick's CPU figures array: first every member a CPU row counts (these, then one per -e
# label), then the figures derived from them, then util%. Each derived figure inherits the failure,
# coverage and extrapolation of its members (all in one group: the first failure of theirs, as listed).
MEMBER_FIGURES = tuple(member for members in ROLE_MEMBERS.values() for member in members)
DERIVED_FIGURES = {
    "ghz": ("cycles",),
    "ipc": ("cycles", "instructions"),
    "instructions_per_s": ("instructions",),
    "context_switches_per_s": ("context-switches",),
    "migrations_per_s": ("cpu-migrations",),
    "tsc_ghz": ("tsc",),
    "effective_ghz": ("tsc", "aperf", "mperf"),
}
# The metrics CPU rows show straight from a member.
MEMBER_METRICS = {"cycles": "cycles", "instructions": "instructions", "ref_cycles": "ref-cycles"}
_MEMBER = {member: row for row, member in enumerate(MEMBER_FIGURES)}
# The rates per second, consecutive derived figures, and the members they count.
_PER_SECOND = ("instructions_per_s", "context_switches_per_s", "migrations_per_s", "tsc_ghz")
_PER_SECOND_MEMBERS = [_MEMBER[DERIVED_FIGURES[metric][0]] for metric in _PER_SECOND]
# A core PMU row's figures by their row of its figures array (the -e labels follow).
_PMU_FIGURE = {
    name: row
    for row, name in enumerate(
        ("cycles", "instructions", "ghz", "ipc", "instructions_per_s", "util_pct", *SOFTWARE_COUNTER_METRICS)
    )
}
NAN = float("nan")
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1


def role_metric_names(layout: GroupLayout) -> tuple[str, ...]:
    """The figures a group gives its CPU, in display order."""
    if layout.role is GroupRole.CORE:
        listed = {*layout.members, *(name for name, _ in layout.failures)}
        ref = ("ref_cycles",) if "ref-cycles" in listed else ()
        return ("cycles", "instructions", *ref, "ghz", "ipc", "instructions_per_s")
    if layout.role is GroupRole.SOFTWARE:
        return SOFTWARE_COUNTER_METRICS
    if layout.role is GroupRole.MSR:
        effective = ("effective_ghz",) if {"aperf", "mperf"} <= set(layout.members) else ()
        return ("tsc_ghz", *effective)
    return ()


# What stands for a read that is absent (and for the absent row): told apart by identity, not value.
_ABSENT = GroupRead(0, 0, ())
_values_of = operator.attrgetter("values")
_times_of = operator.attrgetter("enabled", "running", "generation")


def read_arrays(keys: tuple[str, ...], widest: int, reads: Mapping[str, GroupRead]) -> GroupReads:
    """A tick's reads as arrays by the layouts' keys: the sampler's own arrays when it made them for
    these keys (live), else made from the GroupReads of a mapping (a replay, a test)."""
    if isinstance(reads, GroupReads) and reads.group_keys is keys and reads.counts.shape[1] == widest:
        return reads
    # map() over the reads rather than a Python loop: at 448 CPUs a tick has over a thousand groups;
    # at 2 CPUs each numpy call is most of the cost, so there are three.
    got = [*map(reads.get, keys, repeat(_ABSENT)), _ABSENT]
    try:
        return _read_arrays(keys, got, widest)
    except OverflowError:
        # A read no kernel gives (a count past 64 bits, times past 63) is no read: there is no honest delta.
        return _read_arrays(keys, [_ABSENT if _out_of_range(read) else read for read in got], widest)


def _read_arrays(keys: tuple[str, ...], got: list[GroupRead], widest: int) -> GroupReads:
    size = len(got)
    member_values = list(map(_values_of, got))
    widths = list(map(len, member_values))
    pads = list(map(operator.sub, repeat(widest), widths))
    if min(pads) < 0:
        member_values = [values[:widest] for values in member_values]
        pads = [max(pad, 0) for pad in pads]
    padding = [(0,) * pad for pad in range(widest + 1)]
    values = chain.from_iterable(map(operator.add, member_values, map(padding.__getitem__, pads)))
    # (enabled, running, generation) + (width,) per read.
    meta = chain.from_iterable(map(operator.add, map(_times_of, got), zip(widths)))
    return GroupReads(
        keys,
        present=np.fromiter(map(operator.is_not, got, repeat(_ABSENT)), bool, size),
        meta=np.fromiter(meta, np.int64, 4 * size).reshape(size, 4),
        values=np.fromiter(values, np.uint64, widest * size).reshape(size, widest),
    )


def _out_of_range(read: GroupRead) -> bool:
    return max(read.enabled, read.running, read.generation) > INT64_MAX or any(
        not 0 <= value <= UINT64_MAX for value in read.values
    )


@dataclass(frozen=True, slots=True)
class Deltas:
    """The interval's counts of every group: `valid` where there is an honest delta. The model's own
    buffers, refilled each tick (pmt_deltas): nothing a snapshot keeps points into them."""

    valid: np.ndarray  # bool: both reads, same generation and width, nothing went backwards
    enabled: np.ndarray  # int64
    running: np.ndarray  # int64
    # Members counted (zipped with the layout's names, as far as both go), and their scaled counts.
    counted: np.ndarray  # bool, groups × widest
    scaled: np.ndarray  # float64, groups × widest, NaN where not counted
    raw: np.ndarray  # uint64, groups × widest
    coverage: np.ndarray  # float64, NaN where nothing was enabled
    extrapolated: np.ndarray  # bool

    @classmethod
    def buffers(cls, groups: int, widest: int) -> "Deltas":
        return cls(
            np.zeros(groups, bool),
            np.zeros(groups, np.int64),
            np.zeros(groups, np.int64),
            np.zeros((groups, widest), bool),
            np.zeros((groups, widest)),
            np.zeros((groups, widest), np.uint64),
            np.zeros(groups),
            np.zeros(groups, bool),
        )

    def struct(self) -> tuple[object, tuple[object, ...]]:
        """The C view of these buffers: the struct, and what keeps its pointers alive."""
        kinds = ("uint8_t[]", "int64_t[]", "int64_t[]", "uint8_t[]", "double[]", "uint64_t[]", "double[]", "uint8_t[]")
        fields = (self.valid, self.enabled, self.running, self.counted, self.scaled, self.raw, self.coverage)
        views = tuple(map(_writable_view, kinds, (*fields, self.extrapolated)))
        return ffi.new("struct pmt_deltas *", views), views


def _writable_view(kind: str, array: np.ndarray) -> object:
    return ffi.from_buffer(kind, array, require_writable=True)


class _CReads:
    """A tick's GroupReads as the C arithmetic takes them: the buffers of its present, meta and counts."""

    __slots__ = ("reads", "views")

    def __init__(self, reads: GroupReads) -> None:
        self.reads = reads
        self.views = (
            ffi.from_buffer("uint8_t[]", reads.present),
            ffi.from_buffer("int64_t[]", reads.meta),
            ffi.from_buffer("uint64_t[]", reads.counts),
        )


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where either is missing or the denominator is zero."""
    # Divided by NaN rather than by zero: no floating-point exception, so no errstate is needed (a
    # context manager that costs more than the division at the start of a tick).
    quotient: np.ndarray = numerator / np.where(denominator == 0, NAN, denominator)
    return quotient


def _per_second(counts: np.ndarray, interval_s: float) -> np.ndarray:
    """Counts over the interval as rates (NaN for an interval of no time)."""
    return counts / interval_s if interval_s else np.full(counts.shape, NAN)


def _too_idle(busy_s: np.ndarray) -> np.ndarray:
    """Where a clock is n/a with a note: too little busy time to measure one (NaN busy: unknown, not idle)."""
    return busy_s * USER_HZ < MIN_BUSY_TICKS_FOR_GHZ  # False for NaN


def in_order_sum(values: np.ndarray) -> float:
    """The sum, added first to last (as a loop would), so it does not depend on numpy's pairwise order."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


@dataclass(frozen=True, slots=True)
class FigureSources:
    """Where each figure of each CPU row comes from (a row per figure, a column per CPU row, as the
    tick's figures array): the group (the absent row past the last where the CPU has no group of the
    figure's role) and, for members, their place in that group."""

    groups: np.ndarray  # int64
    # The failure code the layout records (0: none); a derived figure's is its members' first.
    failure: np.ndarray  # int64
    # The member figures' place in a groups × widest array, raveled (0 where it is no member), and
    # where there is no count whatever the tick (no member there, or one that did not open).
    flat: np.ndarray  # int64, member figures × CPU rows
    uncounted: np.ndarray  # bool, member figures × CPU rows


@dataclass(frozen=True, slots=True)
class EventMembers:
    """One -e event on one PMU (pmutop.model.event_resolve): the group and member column that count it
    on each of its CPUs. A member the kernel refused has column -1 and its failure code."""

    label: str
    pmu: str
    groups: np.ndarray
    column: np.ndarray
    failure: np.ndarray


@dataclass(frozen=True, slots=True)
class PmuGroups:
    """A core PMU's groups (on any CPU) and what its aggregate row says of them."""

    name: str
    type: int
    core_type: str
    groups: np.ndarray
    # Per member (cycles, instructions): its column in each of `groups` (-1: not a member).
    member_index: dict[str, np.ndarray]
    rows: np.ndarray  # the CPU rows of this PMU
    encoding: Encoding | None
    cycles_failure: int


class _Unlisted:
    """Stands for a CPU /proc/stat did not list: NaN ticks, so that every figure made from them is NaN."""

    busy = total = NAN


_NO_TIMES = _Unlisted()
_busy_total_of = operator.attrgetter("busy", "total")


def _in_event_order(
    events: dict[tuple[str, str], list[tuple[int, int, int, int]]], layouts: tuple[GroupLayout, ...]
) -> dict[tuple[str, str], list[tuple[int, int, int, int]]]:
    """The -e events as perf prints them: in the order they were given (an event on several core PMUs
    once per PMU, adjacent), not in the order their groups come on the CPUs. Within one group, members
    that did not open follow those that did (a layout keeps no more of the order)."""
    unknown = (1 << 62, 0)

    def position(item: tuple[tuple[str, str], list[tuple[int, int, int, int]]]) -> tuple[tuple[int, int], int]:
        (_, name), entries = item
        layout = layouts[entries[0][1]]
        return event_order(layout.key) or unknown, (*layout.members, *(n for n, _ in layout.failures)).index(name)

    # sorted() is stable: events with no order in their keys keep the layouts' order, after the others.
    return dict(sorted(events.items(), key=position))


class RateModel:
    """Turns successive RawTicks into Snapshots. Holds only the previous tick's raw reads."""

    def __init__(self, topology: Topology, layouts: tuple[GroupLayout, ...], notices: tuple[str, ...] = ()) -> None:
        self.topology = topology
        self.notices = notices
        # Rows only for the CPUs that have groups: exactly those `-C` selected (every CPU without it).
        counted = {layout.cpu for layout in layouts}
        self._cpus = tuple(cpu for cpu in topology.cpus if cpu.cpu in counted or not counted)
        self._row_of = {cpu.cpu: row for row, cpu in enumerate(self._cpus)}
        self._cpu_numbers = tuple(self._row_of)
        self._cpu_pmus = tuple(cpu.core_pmu for cpu in self._cpus)
        self._cpu_core_types = tuple(cpu.core_type.label if cpu.core_type else None for cpu in self._cpus)
        # Failures by code (code k is _failures[k - 1]); each snapshot gets them as a tuple.
        self._failure_codes: dict[CounterFailure, int] = {}
        self._failures: tuple[CounterFailure, ...] = ()
        self._previous: RawTick | None = None
        self._previous_reads: _CReads | None = None
        # The previous tick's /proc/stat ticks as the C code reads them (the view keeps the array alive).
        self._previous_times: object | None = None
        # Each tick's busy seconds and util% per CPU row, into the same buffers.
        self._busy_s, self._util_pct = np.zeros(len(self._cpus)), np.zeros(len(self._cpus))
        self._c_busy_s = _writable_view("double[]", self._busy_s)
        self._c_util_pct = _writable_view("double[]", self._util_pct)
        self._first_ns: int | None = None
        self.task_model = TaskModel(topology)
        self.set_layouts(layouts)

    def _failure_code(self, failure: CounterFailure) -> int:
        code = self._failure_codes.get(failure)
        if code is None:
            code = self._failure_codes[failure] = len(self._failure_codes) + 1
            self._failures = (*self._failures, failure)
        return code

    def _cause(self, layout: GroupLayout, member: str) -> int:
        """The failure code the layout records for a member that did not open (0: none)."""
        return next((self._failure_code(cause) for name, cause in layout.failures if name == member), 0)

    def set_layouts(self, layouts: tuple[GroupLayout, ...]) -> None:
        self._layout_list = layouts
        self._keys = tuple(layout.key for layout in layouts)
        # At least one column, so that every group has a (never counted) member to index.
        self._widest = max((len(layout.members) for layout in layouts), default=1) or 1
        # A value per group and one for the absent row past the last (read_arrays).
        self._widths = np.array([*(len(layout.members) for layout in layouts), 0], np.int64)
        self._c_widths = ffi.from_buffer("int64_t[]", self._widths)
        # The tick's deltas, into the same buffers every tick.
        self._deltas = Deltas.buffers(len(layouts) + 1, self._widest)
        self._c_deltas, self._c_deltas_views = self._deltas.struct()
        self._key_index = {key: index for index, key in enumerate(self._keys)}
        # A core group that never opened gives the same n/a figures every tick, with no delta, unless lost.
        self._opened = np.array(
            [*(layout.role is not GroupRole.CORE or bool(layout.members) for layout in layouts), True], bool
        )
        self._c_opened = ffi.from_buffer("uint8_t[]", self._opened)
        # The last group of each role on each CPU gives that CPU the role's figures.
        by_role: dict[GroupRole, dict[int, int]] = {role: {} for role in ROLE_MEMBERS}
        names_of_row: list[dict[str, None]] = [{"util_pct": None} for _ in self._cpus]
        events: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
        for index, layout in enumerate(layouts):
            row = self._row_of.get(layout.cpu)
            if row is not None and layout.role is GroupRole.EVENTS:
                # Each -e event is a member: a column, with no code per event.
                for name in (*layout.members, *(name for name, _ in layout.failures)):
                    column = layout.members.index(name) if name in layout.members else -1
                    events.setdefault((layout.pmu, name), []).append((row, index, column, self._cause(layout, name)))
                    names_of_row[row][event_metric(name)] = None
                continue
            if row is None or layout.role not in by_role:
                continue
            by_role[layout.role][row] = index
            names_of_row[row].update(dict.fromkeys(role_metric_names(layout)))
        events = _in_event_order(events, layouts)
        # Rows with the same names share one dict.
        shared: dict[tuple[str, ...], dict[str, None]] = {}
        self._row_names = [shared.setdefault(tuple(names), names) for names in names_of_row]
        self._events = [
            EventMembers(label, pmu, *(np.array(part, np.int64) for part in list(zip(*entries, strict=True))[1:]))
            for (pmu, label), entries in events.items()
        ]
        self._set_figure_sources(layouts, by_role, events)
        self._pmus = []
        for core_type, pmu in zip(self.topology.core_types, self.topology.core_pmus, strict=True):
            indexes = [
                i for i, layout in enumerate(layouts) if layout.role is GroupRole.CORE and layout.pmu == pmu.name
            ]
            encoding = next((layouts[i].encoding for i in indexes if layouts[i].encoding), None)
            failure = next(
                (cause for i in indexes for member, cause in layouts[i].failures if member == "cycles"), None
            )
            rows = [row for row, cpu in enumerate(self._cpus) if cpu.core_pmu == pmu.name]
            self._pmus.append(
                PmuGroups(
                    pmu.name,
                    pmu.type,
                    core_type.label,
                    np.array(indexes, np.int64),
                    {
                        member: np.array(
                            [layouts[i].members.index(member) if member in layouts[i].members else -1 for i in indexes],
                            np.int64,
                        )
                        for member in ("cycles", "instructions")
                    },
                    np.array(rows, np.int64),
                    encoding,
                    self._failure_code(failure) if failure else 0,
                )
            )
        self._previous_reads = None

    def _set_figure_sources(
        self,
        layouts: tuple[GroupLayout, ...],
        by_role: dict[GroupRole, dict[int, int]],
        events: dict[tuple[str, str], list[tuple[int, int, int, int]]],
    ) -> None:
        """The rows of the tick's CPU figures array (MEMBER_FIGURES, the -e labels, DERIVED_FIGURES,
        util%), and where each comes from on each CPU row."""
        labels = dict.fromkeys(label for _, label in events)
        members = len(MEMBER_FIGURES) + len(labels)
        self._event_row = {label: len(MEMBER_FIGURES) + n for n, label in enumerate(labels)}
        self._derived_row = {metric: members + n for n, metric in enumerate(DERIVED_FIGURES)}
        self._util_row = members + len(DERIVED_FIGURES)
        shape = (self._util_row + 1, len(self._cpus))
        groups = np.full(shape, len(layouts), np.int64)
        column = np.full(shape, -1, np.int64)
        failure = np.zeros(shape, np.int64)
        for role, chosen in by_role.items():
            for row, index in chosen.items():
                for member in ROLE_MEMBERS[role]:
                    in_group = layouts[index].members
                    figure = _MEMBER[member]
                    groups[figure, row] = index
                    column[figure, row] = in_group.index(member) if member in in_group else -1
                    failure[figure, row] = self._cause(layouts[index], member)
        for (_, label), entries in events.items():
            # Where a CPU has a label on two PMUs, the last one listed gives its row the figure.
            for row, index, member_column, cause in entries:
                figure = self._event_row[label]
                groups[figure, row], column[figure, row], failure[figure, row] = index, member_column, cause
        for metric, sources in DERIVED_FIGURES.items():
            rows = [_MEMBER[member] for member in sources]
            groups[self._derived_row[metric]] = groups[rows[0]]
            # The first failure of its members: a lost group's code is every member's, so this holds then too.
            first = failure[rows[0]].copy()
            for source in rows[1:]:
                first = np.where(first > 0, first, failure[source])
            failure[self._derived_row[metric]] = first
        # The metrics CPU rows show, by their row.
        self._column_rows: dict[str, int] = {
            "util_pct": self._util_row,
            **{metric: _MEMBER[member] for metric, member in MEMBER_METRICS.items()},
            **self._derived_row,
            **{event_metric(label): row for label, row in self._event_row.items()},
        }
        self._sources = FigureSources(
            groups,
            failure,
            groups[:members] * self._widest + np.maximum(column[:members], 0),
            (column[:members] < 0) | (failure[:members] > 0),
        )
        kinds = ("int64_t[]", "int64_t[]", "int64_t[]", "uint8_t[]")
        fields = (self._sources.groups, self._sources.failure, self._sources.flat, self._sources.uncounted)
        self._c_sources_views = tuple(map(ffi.from_buffer, kinds, fields))
        self._c_sources = ffi.new("struct pmt_sources *", self._c_sources_views)
        rates = self._derived_row[_PER_SECOND[0]]
        self._c_rows = ffi.new(
            "struct pmt_figure_rows *",
            {
                "members": members,
                **{name: _MEMBER[name] for name in ("cycles", "instructions", "aperf", "mperf")},
                "per_second": rates,
                "per_second_members": _PER_SECOND_MEMBERS,
                **{name: self._derived_row[name] for name in ("tsc_ghz", "ghz", "ipc", "effective_ghz")},
                "util": self._util_row,
            },
        )

    @property
    def layouts(self) -> tuple[GroupLayout, ...]:
        return self._layout_list

    def update(self, tick: RawTick) -> Snapshot | None:
        """Fold in a tick; returns None for the first (baseline) tick.

        No operation here divides by zero or makes a NaN from numbers: what is n/a is NaN before it is
        divided (tests/test_rates_bulk.py runs it with every floating-point exception raised)."""
        if tick.layouts is not None:
            self.set_layouts(tick.layouts)
        previous, self._previous = self._previous, tick
        reads = tick.reads
        if isinstance(reads, GroupReads) and reads.group_keys is not self._keys and reads.group_keys == self._keys:
            # The sampler's arrays for these keys: from now on known by identity, and taken as they are.
            self._keys = reads.group_keys
        current_reads = _CReads(read_arrays(self._keys, self._widest, reads))
        previous_reads, self._previous_reads = self._previous_reads, current_reads
        current_times = ffi.from_buffer("double[]", self._cpu_times(tick.cpu_times))
        previous_times, self._previous_times = self._previous_times, current_times
        if self._first_ns is None:
            self._first_ns = tick.monotonic_ns
        if previous is None:
            if isinstance(tick.tasks, TaskTick):
                # The first reads of per-task counters are their baseline too.
                self.task_model.update(tick.tasks, self._first_ns)
            return None
        if previous_reads is None:
            # The layouts changed with this tick: the previous reads, by the new layouts.
            previous_reads = _CReads(read_arrays(self._keys, self._widest, previous.reads))
        interval_s = (tick.monotonic_ns - previous.monotonic_ns) / 1e9
        online = np.fromiter(map(tick.online.__contains__, self._cpu_numbers), bool, len(self._cpu_numbers))
        lib.pmt_busy(
            len(online),
            ffi.NULL if previous_times is None else previous_times,
            current_times,
            ffi.from_buffer("uint8_t[]", online),
            USER_HZ,
            self._c_busy_s,
            self._c_util_pct,
        )
        # A failure code per group, and none for the absent row past the last (None: nothing lost).
        lost = None
        usable = self._c_opened
        if tick.lost:
            lost = np.zeros(len(self._keys) + 1, np.int64)
            for key, cause in tick.lost.items():
                index = self._key_index.get(key)
                if index is not None:
                    lost[index] = self._failure_code(cause)
            usable = ffi.from_buffer("uint8_t[]", self._opened | (lost > 0))
        group = self._group_deltas(previous_reads, current_reads, usable)
        figures = self._cpu_figures(lost, interval_s)
        busy_s, util_pct = self._busy_s, self._util_pct
        totals = self._event_totals(group, lost)
        cpu_columns = MetricColumns(figures, self._column_rows, self._failures, NOTES)
        # map() rather than a generator: at 448 CPUs these rows are a good part of the tick.
        cpus = tuple(
            map(
                CpuRow,
                self._cpu_numbers,
                self._cpu_pmus,
                self._cpu_core_types,
                online.tolist(),
                map(RowMetrics, repeat(cpu_columns), range(len(self._cpus)), self._row_names),
            )
        )
        snapshot = Snapshot(
            index=tick.index,
            time_s=(tick.monotonic_ns - self._first_ns) / 1e9,
            interval_s=interval_s,
            wall_time=tick.wall_time,
            cpus=cpus,
            pmus=self._pmu_rows(group, figures, online, busy_s, util_pct, interval_s, totals),
            notices=self.notices,
            events=tuple(total for total, _ in totals),
        )
        if isinstance(tick.tasks, TaskTick):
            interval = self.task_model.update(tick.tasks, self._first_ns)
            snapshot = replace(
                snapshot,
                tasks=interval.rows,
                migrations=interval.migrations,
                lost_migrations=interval.lost_migrations,
                threads_seen_late=interval.threads_seen_late,
            )
        return snapshot

    def _cpu_times(self, times: dict[int, CpuTimes]) -> np.ndarray:
        """The CPUs' (busy, total) ticks from /proc/stat, NaN for a CPU it did not list."""
        got = map(times.get, self._cpu_numbers, repeat(_NO_TIMES))
        count = len(self._cpu_numbers)
        return np.fromiter(chain.from_iterable(map(_busy_total_of, got)), np.float64, 2 * count).reshape(count, 2)

    def _group_deltas(self, previous: "_CReads", current: "_CReads", usable: object) -> Deltas:
        """The deltas of the `usable` groups, into the model's buffers. Scaling follows
        perf_counts_values__scale: value × enabled / running when the group was multiplexed off the PMU
        part of the time; running == 0 means nothing was counted at all."""
        out = self._deltas
        groups, widest = out.raw.shape
        to_scale = lib.pmt_deltas(
            groups, widest, self._c_widths, usable, *previous.views, *current.views, self._c_deltas
        )
        if to_scale:
            # Exact integers, as perf does: value × enabled / running is rounded once (the C code leaves
            # these groups' raw deltas in `scaled`).
            with_member = np.minimum(current.reads.meta[:, 3], self._widths) > 0
            for group in (out.extrapolated & with_member).nonzero()[0].tolist():
                factor_e, factor_r = int(out.enabled[group]), int(out.running[group])
                scaled = [value * factor_e / factor_r for value in out.raw[group].tolist()]
                out.scaled[group] = np.where(out.counted[group], scaled, NAN)
        return out

    def _cpu_figures(self, lost: np.ndarray | None, interval_s: float) -> Figures:
        """Every figure of every CPU row, as one figures × CPU rows array each of values, coverage,
        extrapolation and reasons (a failure code, a note's negative code, 0), from the tick's deltas."""
        shape = self._sources.groups.shape
        size = shape[0] * shape[1]
        # Values and coverage in one allocation: at 2 CPUs each is most of its cost.
        value, coverage = block = np.empty((2, *shape))
        extrapolated, reason = np.empty(shape, bool), np.empty(shape, np.int64)
        floats = _writable_view("double[]", block)
        lib.pmt_cpu_figures(
            shape[0],
            shape[1],
            self._c_rows,
            self._c_sources,
            ffi.NULL if lost is None else ffi.from_buffer("int64_t[]", lost),
            self._c_deltas,
            self._c_busy_s,
            self._c_util_pct,
            interval_s,
            USER_HZ,
            MIN_BUSY_TICKS_FOR_GHZ,
            TOO_IDLE_REASON,
            floats,
            floats + size,
            _writable_view("uint8_t[]", extrapolated),
            _writable_view("int64_t[]", reason),
        )
        return Figures(value, coverage, extrapolated, reason)

    def _event_totals(self, group: Deltas, lost: np.ndarray | None) -> list[tuple[EventTotal, int]]:
        """Each -e event summed per PMU over the CPUs that counted it (coverage: summed running / enabled),
        with the failure code that explains it when none did."""
        totals = []
        for members in self._events:
            groups = members.groups
            cause = members.failure if lost is None else np.where(lost[groups] > 0, lost[groups], members.failure)
            safe = np.maximum(members.column, 0)
            has = (members.column >= 0) & group.counted[groups, safe] & (cause == 0)
            counted = int(has.sum())
            running = int(group.running[groups][has].sum())
            reason = 0
            if counted:
                enabled = int(group.enabled[groups][has].sum())
                value = in_order_sum(group.scaled[groups, safe][has])
                metric = Metric(value, coverage=running / enabled if enabled else None, extrapolated=running < enabled)
            else:
                reasons = cause[cause > 0]
                reason = int(reasons[0]) if len(reasons) else 0
                metric = Metric(None, failure=self._failures[reason - 1] if reason else None)
            name = per_pmu_name(self.topology, members.label, members.pmu)
            total = EventTotal(members.label, members.pmu, name, metric, counted, len(groups), running)
            totals.append((total, reason))
        return totals

    def _pmu_rows(
        self,
        group: Deltas,
        cpu_figures: Figures,
        online: np.ndarray,
        busy_s: np.ndarray,
        util_pct: np.ndarray,
        interval_s: float,
        event_totals: list[tuple[EventTotal, int]],
    ) -> tuple[PmuRow, ...]:
        """Sum what was counted on each core PMU's CPUs; say how much of it is extrapolated."""
        count = len(self._pmus)
        if not count:
            return ()
        totals = {member: np.full(count, NAN) for member in ("cycles", "instructions")}
        coverage, extrapolated = np.full(count, NAN), np.zeros(count, bool)
        failure = np.array([pmu.cycles_failure for pmu in self._pmus], np.int64)
        busy, util = np.zeros(count), np.full(count, NAN)
        software = {name: np.full(count, NAN) for name in SOFTWARE_COUNTER_METRICS}
        shares, members_of = [], []
        for index, pmu in enumerate(self._pmus):
            # Groups that counted anything this interval (running > 0, some member): their times add up.
            counting = pmu.groups[group.counted[pmu.groups].any(axis=1)]
            enabled, running = int(group.enabled[counting].sum()), int(group.running[counting].sum())
            if enabled:
                coverage[index] = running / enabled
            extrapolated[index] = running < enabled
            scaled_sum, raw_sum = 0.0, 0
            for member, total in totals.items():
                column = pmu.member_index[member]
                groups, column = pmu.groups[column >= 0], column[column >= 0]
                counted = group.counted[groups, column]
                if counted.any():
                    total[index] = in_order_sum(group.scaled[groups, column][counted])
                    scaled_sum += total[index]
                    raw_sum += int(group.raw[groups, column][counted].sum())
            shares.append((scaled_sum - raw_sum) / scaled_sum if scaled_sum > 0 else 0.0)
            members = pmu.rows[online[pmu.rows]] if len(pmu.rows) else pmu.rows
            members_of.append(members)
            busy[index] = in_order_sum(np.nan_to_num(busy_s[members], nan=0.0))
            utils = util_pct[members]
            utils = utils[~np.isnan(utils)]
            if len(utils):
                util[index] = in_order_sum(utils) / len(utils)
            for name in SOFTWARE_COUNTER_METRICS:
                values = cpu_figures.value[self._derived_row[name], members]
                values = values[~np.isnan(values)]
                if len(values):
                    software[name][index] = in_order_sum(values)
        # The aggregates' figures as one array, a row per figure in _PMU_FIGURES' order (then the -e labels):
        # cycles, instructions, what is derived from them, and the CPUs' util% and software rates.
        index_of = {pmu.name: index for index, pmu in enumerate(self._pmus)}
        figure_of = dict(_PMU_FIGURE)
        for event_total, _ in event_totals:
            if event_total.pmu in index_of:
                figure_of.setdefault(event_metric(event_total.label), len(figure_of))
        value = np.full((len(figure_of), count), NAN)
        value[0], value[1] = totals["cycles"], totals["instructions"]
        value[2] = _ratio(value[0], busy) * 1e-9
        value[3] = _ratio(value[1], value[0])
        value[4] = _per_second(value[1], interval_s)
        value[5] = util
        value[6], value[7] = software.values()
        counters = slice(0, 5)
        missing = np.isnan(value[counters])
        without = missing[:2]
        # Which figures' counters went without a total: a figure is n/a for their failure, or for none.
        uncounted = np.array([without[0], without[1], without[0], without[0] | without[1], without[1]])
        figures = Figures(
            value,
            np.full(value.shape, NAN),
            np.zeros(value.shape, bool),
            np.zeros(value.shape, np.int64),
        )
        figures.coverage[counters] = np.where(missing, NAN, coverage)
        figures.extrapolated[counters] = extrapolated & ~missing
        figures.reason[counters] = failure * (missing & uncounted)
        too_idle = _too_idle(busy)
        value[2, too_idle] = figures.coverage[2, too_idle] = NAN
        figures.extrapolated[2, too_idle] = False
        figures.reason[2, too_idle] = TOO_IDLE_REASON
        # A core PMU's row carries the -e events counted on its CPUs, summed, like cycles.
        event_names: list[dict[str, None]] = [dict.fromkeys(PMU_METRICS) for _ in self._pmus]
        for event_total, reason in event_totals:
            pmu_index = index_of.get(event_total.pmu)
            if pmu_index is None:
                continue
            name = event_metric(event_total.label)
            row, figure = figure_of[name], event_total.metric
            value[row, pmu_index] = figure.value if figure.value is not None else NAN
            figures.coverage[row, pmu_index] = figure.coverage if figure.coverage is not None else NAN
            figures.extrapolated[row, pmu_index] = figure.extrapolated
            figures.reason[row, pmu_index] = reason
            event_names[pmu_index][name] = None
        metrics = MetricColumns(figures, figure_of, self._failures, NOTES)
        return tuple(
            PmuRow(
                pmu=pmu.name,
                type=pmu.type,
                core_type=pmu.core_type,
                encoding=pmu.encoding,
                cpus=tuple(self._cpu_numbers[row] for row in members_of[index].tolist()),
                metrics=RowMetrics(metrics, index, event_names[index]),
                extrapolated_share=shares[index],
            )
            for index, pmu in enumerate(self._pmus)
        )


def whole_run_summary(
    model: RateModel, first: RawTick, last: RawTick, last_snapshot: Snapshot | None
) -> Snapshot | None:
    """The run from `first` to `last` as one interval, with the followed tasks' whole-run totals.

    `model` is the one that computed the intervals (live or from a recording), so a replay's summary is
    the live run's: the same counts, the same migrations and losses.
    """
    if last is first:
        return None
    whole = RateModel(model.topology, model.layouts, model.notices)
    whole.update(replace(first, tasks=None, layouts=model.layouts))
    summary = whole.update(replace(last, tasks=None, layouts=None))
    if summary is None or last_snapshot is None:
        return summary
    tasks = tuple(
        replace(
            task,
            residency=task.residency_total,
            ipc=task.ipc_total,
            cycles=task.cycles_total,
            instructions=task.instructions_total,
            migrations_interval=task.migrations,
            cross_type_interval=task.cross_type_migrations,
        )
        for task in last_snapshot.tasks
    )
    return replace(
        summary,
        tasks=tasks,
        notices=last_snapshot.notices,
        lost_migrations=model.task_model.lost_total,
        threads_seen_late=model.task_model.seen_late_total,
    )
