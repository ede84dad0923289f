"""Counts to honest rates: deltas between ticks, multiplex scaling, coverage, and per-PMU sums.

Pure arithmetic on RawTick values; the same code runs live and on a replayed recording. It runs on
every group of a tick at once: a tick's reads become arrays (a row per group, a column per member),
and each figure is a Column over every CPU (snapshot.MetricColumns), so a 448-CPU tick costs a few
hundred array operations rather than a Metric object per figure. A member of a group is a column: more
events in a group are more columns, with no code per event.

The arithmetic is perf's and gives the same floats as doing it figure by figure: unscaled counts are
converted exactly, scaled ones (value × enabled / running, only for groups multiplexed this interval)
are worked out in Python's exact integer arithmetic, and sums over CPUs add in CPU order.
"""

from dataclasses import dataclass, replace

import numpy as np

from pmutop.model.samples import CounterFailure, CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import (
    Column,
    CpuRow,
    EventTotal,
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
CORE_COUNTER_METRICS = ("cycles", "instructions", "ref_cycles", "ipc", "ghz", "instructions_per_s")
SOFTWARE_COUNTER_METRICS = ("context_switches_per_s", "migrations_per_s")
MSR_COUNTER_METRICS = ("tsc_ghz", "effective_ghz")
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


@dataclass(frozen=True, slots=True)
class ReadArrays:
    """A tick's group reads as arrays, a row per group of the layouts (absent reads: present False)."""

    present: np.ndarray  # bool
    enabled: np.ndarray  # int64
    running: np.ndarray  # int64
    generation: np.ndarray  # int64
    # Member values, padded with zeros to the widest layout; `widths` says how many each read had.
    values: np.ndarray  # uint64, groups × widest
    widths: np.ndarray  # int64


def read_arrays(keys: tuple[str, ...], widest: int, reads: dict[str, GroupRead]) -> ReadArrays:
    got = [reads.get(key) for key in keys]
    try:
        return _read_arrays(got, widest)
    except OverflowError:
        # A read no kernel gives (a count past 64 bits, times past 63) is no read: there is no honest delta.
        return _read_arrays([None if read is None or _out_of_range(read) else read for read in got], widest)


def _read_arrays(got: list[GroupRead | None], widest: int) -> ReadArrays:
    empty = GroupRead(0, 0, ())
    rows = [read if read is not None else empty for read in got]
    size = len(rows)
    padding = [(0,) * pad for pad in range(widest + 1)]
    values = np.array(
        [read.values[:widest] + padding[max(0, widest - len(read.values))] for read in rows], dtype=np.uint64
    ).reshape(size, widest)
    return ReadArrays(
        present=np.fromiter((read is not None for read in got), bool, size),
        enabled=np.fromiter((read.enabled for read in rows), np.int64, size),
        running=np.fromiter((read.running for read in rows), np.int64, size),
        generation=np.fromiter((read.generation for read in rows), np.int64, size),
        values=values,
        widths=np.fromiter((len(read.values) for read in rows), np.int64, size),
    )


def _out_of_range(read: GroupRead) -> bool:
    return max(read.enabled, read.running, read.generation) > INT64_MAX or any(
        not 0 <= value <= UINT64_MAX for value in read.values
    )


@dataclass(frozen=True, slots=True)
class Deltas:
    """The interval's counts of every group: `valid` where there is an honest delta."""

    valid: np.ndarray  # bool: both reads, same generation and width, nothing went backwards
    enabled: np.ndarray  # int64
    running: np.ndarray  # int64
    # Members counted (zipped with the layout's names, as far as both go), and their scaled counts.
    counted: np.ndarray  # bool, groups × widest
    scaled: np.ndarray  # float64, groups × widest
    raw: np.ndarray  # uint64, groups × widest
    coverage: np.ndarray  # float64, NaN where nothing was enabled
    extrapolated: np.ndarray  # bool


def deltas(previous: ReadArrays, current: ReadArrays, layout_widths: np.ndarray, usable: np.ndarray) -> Deltas:
    """The deltas of the `usable` groups. Scaling follows perf_counts_values__scale: value × enabled /
    running when the group was multiplexed off the PMU part of the time; running == 0 means nothing was
    counted at all."""
    enabled = current.enabled - previous.enabled
    running = current.running - previous.running
    widest = current.values.shape[1]
    zipped = np.minimum(current.widths, layout_widths)
    in_zip = np.arange(widest)[None, :] < zipped[:, None]
    # Counts are 64-bit and cumulative: a decrease is a reset or a reopen, never real, and is dropped
    # rather than shown as a 2^64 spike.
    backwards = ((current.values < previous.values) & in_zip).any(axis=1)
    valid = (
        previous.present
        & current.present
        & (previous.generation == current.generation)
        & (previous.widths == current.widths)
        & (enabled >= 0)
        & (running >= 0)
        & ~backwards
        & usable
    )
    raw = current.values - previous.values
    counted = in_zip & (valid & (running > 0))[:, None]
    scaled = raw.astype(np.float64)
    multiplexed = np.flatnonzero(counted.any(axis=1) & (running < enabled))
    for group in multiplexed.tolist():
        # Exact integers, as perf does: value × enabled / running is rounded once.
        factor_e, factor_r = int(enabled[group]), int(running[group])
        scaled[group] = [value * factor_e / factor_r for value in raw[group].tolist()]
    coverage = np.where(valid & (enabled > 0), running / np.where(enabled > 0, enabled, 1), NAN)
    extrapolated = valid & (running > 0) & (running < enabled)
    return Deltas(valid, enabled, running, counted, scaled, raw, coverage, extrapolated)


def _ratio(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    """numerator / denominator, NaN where either is missing or the denominator is zero (called under
    RateModel.update's errstate: a division by zero there is a NaN, not a warning)."""
    return np.where(denominator == 0, NAN, numerator / denominator)


def _derived(value: np.ndarray, *sources: Column, scale: float = 1.0) -> Column:
    """A figure computed from counters inherits their first failure, worst coverage and any extrapolation."""
    first, *rest = sources
    failure = np.maximum(first.reason, 0)
    coverage = first.coverage
    extrapolated = first.extrapolated
    for source in rest:
        failure = np.where((failure == 0) & (source.reason > 0), source.reason, failure)
        coverage = np.fmin(coverage, source.coverage)
        extrapolated = extrapolated | source.extrapolated
    missing = np.isnan(value)
    return Column(
        value=value * scale if scale != 1.0 else value,
        coverage=np.where(missing, NAN, coverage),
        extrapolated=extrapolated & ~missing,
        reason=np.where(missing, failure, 0),
    )


def _unavailable_like(source: Column) -> Column:
    """n/a because `source` is: its failure, if it has one, and nothing else."""
    size = len(source.value)
    return Column(np.full(size, NAN), np.full(size, NAN), np.zeros(size, bool), np.maximum(source.reason, 0))


def _ghz(cycles: Column, busy_s: np.ndarray) -> Column:
    clock = _derived(_ratio(cycles.value, busy_s), cycles, scale=1e-9)
    too_idle = ~np.isnan(busy_s) & (busy_s * USER_HZ < MIN_BUSY_TICKS_FOR_GHZ)
    return Column(
        value=np.where(too_idle, NAN, clock.value),
        coverage=np.where(too_idle, NAN, clock.coverage),
        extrapolated=clock.extrapolated & ~too_idle,
        reason=np.where(too_idle, TOO_IDLE_REASON, clock.reason),
    )


def _pick(available: np.ndarray, when: Column, otherwise: Column) -> Column:
    return Column(
        np.where(available, when.value, otherwise.value),
        np.where(available, when.coverage, otherwise.coverage),
        np.where(available, when.extrapolated, otherwise.extrapolated),
        np.where(available, when.reason, otherwise.reason),
    )


def _count(value: np.ndarray, coverage: np.ndarray, extrapolated: np.ndarray, failure: np.ndarray) -> Column:
    """Counts, or n/a with the failure (and still the coverage) where there is no value."""
    missing = np.isnan(value)
    return Column(value, coverage, extrapolated & ~missing, np.where(missing, failure, 0))


def in_order_sum(values: np.ndarray) -> float:
    """The sum, added first to last (as a loop would), so it does not depend on numpy's pairwise order."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


@dataclass(frozen=True, slots=True)
class RoleGroups:
    """The groups of one role that give CPU rows their figures: `groups[i]` for the row `rows[i]`."""

    rows: np.ndarray
    groups: np.ndarray
    # Per member name of the role: its column in each group (-1: not a member), and the failure code
    # the layout records for it (0: none).
    member_index: dict[str, np.ndarray]
    member_failure: dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class EventMembers:
    """One -e event on one PMU (pmutop.model.event_resolve): the group and member column that count it
    on each of its CPUs. A member the kernel refused has column -1 and its failure code."""

    label: str
    pmu: str
    rows: np.ndarray
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
        # Failures by code (code k is _failures[k - 1]); each snapshot gets them as a tuple.
        self._failure_codes: dict[CounterFailure, int] = {}
        self._failures: tuple[CounterFailure, ...] = ()
        self._previous: RawTick | None = None
        self._previous_reads: ReadArrays | None = None
        self._previous_times: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._first_ns: int | None = None
        self.task_model = TaskModel(topology)
        self.set_layouts(layouts)

    def _failure_code(self, failure: CounterFailure) -> int:
        code = self._failure_codes.get(failure)
        if code is None:
            code = self._failure_codes[failure] = len(self._failure_codes) + 1
            self._failures = (*self._failures, failure)
        return code

    def set_layouts(self, layouts: tuple[GroupLayout, ...]) -> None:
        self._layout_list = layouts
        self._keys = tuple(layout.key for layout in layouts)
        self._layout_widths = np.array([len(layout.members) for layout in layouts], np.int64)
        # At least one column, so that every group has a (never counted) member to index.
        self._widest = max((len(layout.members) for layout in layouts), default=1) or 1
        self._key_index = {key: index for index, key in enumerate(self._keys)}
        # A core group that never opened gives the same n/a figures every tick, with no delta, unless lost.
        self._never_opened = np.array(
            [layout.role is GroupRole.CORE and not layout.members for layout in layouts], bool
        )
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
                    cause = next((self._failure_code(c) for member, c in layout.failures if member == name), 0)
                    events.setdefault((layout.pmu, name), []).append((row, index, column, cause))
                    names_of_row[row][event_metric(name)] = None
                continue
            if row is None or layout.role not in by_role:
                continue
            by_role[layout.role][row] = index
            names_of_row[row].update(dict.fromkeys(role_metric_names(layout)))
        # Rows with the same names share one dict.
        shared: dict[tuple[str, ...], dict[str, None]] = {}
        self._row_names = [shared.setdefault(tuple(names), names) for names in names_of_row]
        self._roles = {role: self._role_groups(role, chosen, layouts) for role, chosen in by_role.items()}
        self._events, self._event_roles = _event_members(events)
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

    def _role_groups(self, role: GroupRole, chosen: dict[int, int], layouts: tuple[GroupLayout, ...]) -> RoleGroups:
        rows = np.array(sorted(chosen), np.int64)
        groups = np.array([chosen[row] for row in sorted(chosen)], np.int64)
        member_index, member_failure = {}, {}
        for member in ROLE_MEMBERS[role]:
            member_index[member] = np.array(
                [layouts[g].members.index(member) if member in layouts[g].members else -1 for g in groups.tolist()],
                np.int64,
            )
            member_failure[member] = np.array(
                [
                    next((self._failure_code(cause) for name, cause in layouts[g].failures if name == member), 0)
                    for g in groups.tolist()
                ],
                np.int64,
            )
        return RoleGroups(rows, groups, member_index, member_failure)

    @property
    def layouts(self) -> tuple[GroupLayout, ...]:
        return self._layout_list

    def update(self, tick: RawTick) -> Snapshot | None:
        """Fold in a tick; returns None for the first (baseline) tick."""
        # Divisions by zero and by NaN make NaN (n/a), which the arithmetic below handles: no warnings.
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._update(tick)

    def _update(self, tick: RawTick) -> Snapshot | None:
        if tick.layouts is not None:
            self.set_layouts(tick.layouts)
        previous, self._previous = self._previous, tick
        current_reads = read_arrays(self._keys, self._widest, tick.reads)
        previous_reads, self._previous_reads = self._previous_reads, current_reads
        current_times = self._cpu_times(tick.cpu_times)
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
            previous_reads = read_arrays(self._keys, self._widest, previous.reads)
        interval_s = (tick.monotonic_ns - previous.monotonic_ns) / 1e9
        online = np.fromiter((cpu in tick.online for cpu in self._cpu_numbers), bool, len(self._cpu_numbers))
        busy_s, util_pct = _busy(previous_times, current_times, online)
        lost = np.zeros(len(self._keys), np.int64)
        if tick.lost:
            for key, cause in tick.lost.items():
                index = self._key_index.get(key)
                if index is not None:
                    lost[index] = self._failure_code(cause)
        group = deltas(previous_reads, current_reads, self._layout_widths, ~(self._never_opened & (lost == 0)))
        columns = self._cpu_columns(group, lost, busy_s, util_pct, interval_s)
        for label, role in self._event_roles.items():
            columns[event_metric(label)] = self._member(role, label, group, lost)
        totals = self._event_totals(group, lost)
        cpu_columns = MetricColumns(columns, self._failures, NOTES)
        cpus = tuple(
            CpuRow(
                cpu=cpu.cpu,
                pmu=cpu.core_pmu,
                core_type=cpu.core_type.label if cpu.core_type else None,
                online=is_online,
                metrics=RowMetrics(cpu_columns, row, names),
            )
            for row, (cpu, is_online, names) in enumerate(
                zip(self._cpus, online.tolist(), self._row_names, strict=True)
            )
        )
        snapshot = Snapshot(
            index=tick.index,
            time_s=(tick.monotonic_ns - self._first_ns) / 1e9,
            interval_s=interval_s,
            wall_time=tick.wall_time,
            cpus=cpus,
            pmus=self._pmu_rows(group, columns, online, busy_s, util_pct, interval_s, totals),
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

    def _cpu_times(self, times: dict[int, CpuTimes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        got = [times.get(cpu) for cpu in self._cpu_numbers]
        present = np.fromiter((t is not None for t in got), bool, len(got))
        busy = np.fromiter((t.busy if t is not None else 0 for t in got), np.float64, len(got))
        total = np.fromiter((t.total if t is not None else 0 for t in got), np.float64, len(got))
        return present, busy, total

    def _member(self, role: RoleGroups, member: str, group: Deltas, lost: np.ndarray) -> Column:
        """A member's count on each CPU (a row per CPU; NaN on CPUs without the role's group)."""
        size = len(self._cpus)
        value, coverage = np.full(size, NAN), np.full(size, NAN)
        extrapolated, reason = np.zeros(size, bool), np.zeros(size, np.int64)
        groups = role.groups
        if len(groups):
            column = role.member_index[member]
            cause = np.where(lost[groups] > 0, lost[groups], role.member_failure[member])
            safe = np.maximum(column, 0)
            has = (column >= 0) & group.counted[groups, safe] & (cause == 0)
            value[role.rows] = np.where(has, group.scaled[groups, safe], NAN)
            coverage[role.rows] = group.coverage[groups]
            extrapolated[role.rows] = has & group.extrapolated[groups]
            reason[role.rows] = cause
        return _count(value, coverage, extrapolated, reason)

    def _cpu_columns(
        self, group: Deltas, lost: np.ndarray, busy_s: np.ndarray, util_pct: np.ndarray, interval_s: float
    ) -> dict[str, Column]:
        core, software, msr = (self._roles[role] for role in (GroupRole.CORE, GroupRole.SOFTWARE, GroupRole.MSR))
        size = len(self._cpus)
        columns = {"util_pct": _count(util_pct, np.full(size, NAN), np.zeros(size, bool), np.zeros(size, np.int64))}
        cycles = self._member(core, "cycles", group, lost)
        instructions = self._member(core, "instructions", group, lost)
        available = ~np.isnan(cycles.value)
        failed = _unavailable_like(cycles)
        columns["cycles"] = cycles
        columns["instructions"] = instructions
        columns["ref_cycles"] = self._member(core, "ref-cycles", group, lost)
        columns["ghz"] = _pick(available, _ghz(cycles, busy_s), failed)
        columns["ipc"] = _pick(
            available, _derived(_ratio(instructions.value, cycles.value), cycles, instructions), failed
        )
        columns["instructions_per_s"] = _derived(_ratio(instructions.value, interval_s), instructions)
        for member, name in zip(ROLE_MEMBERS[GroupRole.SOFTWARE], SOFTWARE_COUNTER_METRICS, strict=True):
            count = self._member(software, member, group, lost)
            columns[name] = _derived(_ratio(count.value, interval_s), count)
        tsc = self._member(msr, "tsc", group, lost)
        tsc_ghz = columns["tsc_ghz"] = _derived(_ratio(tsc.value, interval_s), tsc, scale=1e-9)
        aperf = self._member(msr, "aperf", group, lost)
        mperf = self._member(msr, "mperf", group, lost)
        # turbostat's Bzy_MHz: TSC rate × APERF/MPERF, the average frequency while not idle.
        columns["effective_ghz"] = _derived(tsc_ghz.value * _ratio(aperf.value, mperf.value), tsc_ghz, aperf, mperf)
        return columns

    def _event_totals(self, group: Deltas, lost: np.ndarray) -> list[tuple[EventTotal, int]]:
        """Each -e event summed per PMU over the CPUs that counted it (coverage: summed running / enabled),
        with the failure code that explains it when none did."""
        totals = []
        for members in self._events:
            groups = members.groups
            cause = np.where(lost[groups] > 0, lost[groups], members.failure)
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
        columns: dict[str, Column],
        online: np.ndarray,
        busy_s: np.ndarray,
        util_pct: np.ndarray,
        interval_s: float,
        event_totals: list[tuple[EventTotal, int]],
    ) -> tuple[PmuRow, ...]:
        """Sum what was counted on each core PMU's CPUs; say how much of it is extrapolated."""
        count = len(self._pmus)
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
                values = columns[name].value[members]
                values = values[~np.isnan(values)]
                if len(values):
                    software[name][index] = in_order_sum(values)
        cycles = _count(totals["cycles"], np.where(np.isnan(totals["cycles"]), NAN, coverage), extrapolated, failure)
        instructions = _count(
            totals["instructions"], np.where(np.isnan(totals["instructions"]), NAN, coverage), extrapolated, failure
        )
        nothing = np.full(count, NAN)
        plain = np.zeros(count, bool), np.zeros(count, np.int64)
        pmu_columns = {
            "cycles": cycles,
            "instructions": instructions,
            "ghz": _ghz(cycles, busy),
            "ipc": _derived(_ratio(instructions.value, cycles.value), cycles, instructions),
            "instructions_per_s": _derived(_ratio(instructions.value, interval_s), instructions),
            "util_pct": Column(util, nothing, *plain),
            **{name: Column(values, nothing, *plain) for name, values in software.items()},
        }
        # A core PMU's row carries the -e events counted on its CPUs, summed, like cycles.
        index_of = {pmu.name: index for index, pmu in enumerate(self._pmus)}
        event_names: list[dict[str, None]] = [dict.fromkeys(PMU_METRICS) for _ in self._pmus]
        for event_total, reason in event_totals:
            pmu_index = index_of.get(event_total.pmu)
            if pmu_index is None:
                continue
            name = event_metric(event_total.label)
            event_column = pmu_columns.get(name) or Column(
                np.full(count, NAN), np.full(count, NAN), np.zeros(count, bool), np.zeros(count, np.int64)
            )
            figure = event_total.metric
            event_column.value[pmu_index] = figure.value if figure.value is not None else NAN
            event_column.coverage[pmu_index] = figure.coverage if figure.coverage is not None else NAN
            event_column.extrapolated[pmu_index] = figure.extrapolated
            event_column.reason[pmu_index] = reason
            pmu_columns[name] = event_column
            event_names[pmu_index][name] = None
        metrics = MetricColumns(pmu_columns, self._failures, NOTES)
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


def _event_members(
    events: dict[tuple[str, str], list[tuple[int, int, int, int]]],
) -> tuple[list[EventMembers], dict[str, RoleGroups]]:
    """(pmu, label) → [(CPU row, group, member column, failure code)] as arrays: per event and PMU (for
    the totals), and per label over every CPU as one role (for the CPU rows: a label's PMUs cover
    different CPUs)."""
    members = [
        EventMembers(label, pmu, *(np.array(part, np.int64) for part in zip(*entries, strict=True)))
        for (pmu, label), entries in events.items()
    ]
    by_label: dict[str, list[EventMembers]] = {}
    for event in members:
        by_label.setdefault(event.label, []).append(event)
    roles = {
        label: RoleGroups(
            np.concatenate([e.rows for e in parts]),
            np.concatenate([e.groups for e in parts]),
            {label: np.concatenate([e.column for e in parts])},
            {label: np.concatenate([e.failure for e in parts])},
        )
        for label, parts in by_label.items()
    }
    return members, roles


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


def _busy(
    previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    current: tuple[np.ndarray, np.ndarray, np.ndarray],
    online: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Busy seconds and utilisation per CPU (NaN: unknown) from /proc/stat's cumulative ticks."""
    present, busy_now, total_now = current
    if previous is None:
        return np.full(len(present), NAN), np.full(len(present), NAN)
    was_present, busy_before, total_before = previous
    total = total_now - total_before
    busy = busy_now - busy_before
    known = online & present & was_present & (total > 0) & (busy >= 0)
    return (
        np.where(known, busy / USER_HZ, NAN),
        np.where(known, 100.0 * busy / np.where(total > 0, total, 1), NAN),
    )
