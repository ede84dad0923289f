"""Counts to honest rates: deltas between ticks, multiplex scaling, coverage, and per-PMU sums.

Pure arithmetic on RawTick values; the same code runs live and on a replayed recording.
"""

from dataclasses import dataclass, replace

from pmutop.model.samples import CounterFailure, CpuTimes, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import NOT_COUNTED, CpuRow, Metric, PmuRow, Snapshot
from pmutop.model.tasks import TaskModel, TaskTick
from pmutop.model.topology import Cpu, Topology

USER_HZ = 100  # /proc/stat ticks per second on every Linux ABI
# GHz divides by busy time, which /proc/stat knows only to a tick (10 ms): below this many busy ticks the
# error would pass 10%, and an idle CPU would show absurd clocks, so GHz is left out instead.
MIN_BUSY_TICKS_FOR_GHZ = 10
TOO_IDLE = "too little busy time this interval to measure a clock"
CORE_COUNTER_METRICS = ("cycles", "instructions", "ref_cycles", "ipc", "ghz", "instructions_per_s")
SOFTWARE_COUNTER_METRICS = ("context_switches_per_s", "migrations_per_s")
MSR_COUNTER_METRICS = ("tsc_ghz", "effective_ghz")
MEMBER_METRIC = {
    "cycles": "cycles",
    "instructions": "instructions",
    "ref-cycles": "ref_cycles",
    "context-switches": "context_switches_per_s",
    "cpu-migrations": "migrations_per_s",
}


@dataclass(frozen=True, slots=True)
class GroupDelta:
    """One group over one interval: member counts scaled for multiplexing, and the raw ones."""

    scaled: dict[str, float]
    raw: dict[str, int]
    enabled: int
    running: int

    @property
    def coverage(self) -> float | None:
        return self.running / self.enabled if self.enabled > 0 else None

    @property
    def extrapolated(self) -> bool:
        return 0 < self.running < self.enabled


def group_delta(layout: GroupLayout, previous: GroupRead, current: GroupRead) -> GroupDelta | None:
    """The interval's counts, or None when there is no honest delta (reopened or reset counter).

    Scaling follows perf_counts_values__scale: value × enabled / running when the group was
    multiplexed off the PMU part of the time; running == 0 means nothing was counted at all.
    """
    if previous.generation != current.generation or len(previous.values) != len(current.values):
        return None
    enabled = current.enabled - previous.enabled
    running = current.running - previous.running
    if enabled < 0 or running < 0:
        return None
    raw = {}
    for name, before, after in zip(layout.members, previous.values, current.values, strict=False):
        # Counts are 64-bit and cumulative: a decrease is a reset or a reopen, never real, and is
        # dropped rather than shown as a 2^64 spike.
        if after < before:
            return None
        raw[name] = after - before
    if running == 0:
        scaled = {}
    elif running < enabled:
        scaled = {name: value * enabled / running for name, value in raw.items()}
    else:
        scaled = {name: float(value) for name, value in raw.items()}
    return GroupDelta(scaled, raw, enabled, running)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _failed(names: tuple[str, ...], cause: CounterFailure | None) -> dict[str, Metric]:
    metric = Metric(None, failure=cause) if cause else NOT_COUNTED
    return dict.fromkeys(names, metric)


@dataclass
class _CpuWork:
    """Per-CPU intermediate sums for one tick."""

    busy_s: float | None = None
    util_pct: float | None = None


class RateModel:
    """Turns successive RawTicks into Snapshots. Holds only the previous tick's raw reads."""

    def __init__(self, topology: Topology, layouts: tuple[GroupLayout, ...], notices: tuple[str, ...] = ()) -> None:
        self.topology = topology
        self.notices = notices
        self._layouts: dict[str, GroupLayout] = {}
        self._by_cpu: dict[int, list[GroupLayout]] = {}
        self.set_layouts(layouts)
        self._previous: RawTick | None = None
        self._first_ns: int | None = None
        self.task_model = TaskModel(topology)

    def set_layouts(self, layouts: tuple[GroupLayout, ...]) -> None:
        self._layouts = {layout.key: layout for layout in layouts}
        self._by_cpu = {}
        for layout in layouts:
            self._by_cpu.setdefault(layout.cpu, []).append(layout)
        # A group that never opened gives the same n/a figures every tick (every core group on a VM
        # without a PMU): work them out once per layout instead of once per tick.
        self._never_opened = {
            layout.key: _core_metrics(layout, None, None, None, 1.0)
            for layout in layouts
            if layout.role is GroupRole.CORE and not layout.members
        }

    @property
    def layouts(self) -> tuple[GroupLayout, ...]:
        return tuple(self._layouts.values())

    def update(self, tick: RawTick) -> Snapshot | None:
        """Fold in a tick; returns None for the first (baseline) tick."""
        if tick.layouts is not None:
            self.set_layouts(tick.layouts)
        previous, self._previous = self._previous, tick
        if self._first_ns is None:
            self._first_ns = tick.monotonic_ns
        if previous is None:
            if isinstance(tick.tasks, TaskTick):
                # The first reads of per-task counters are their baseline too.
                self.task_model.update(tick.tasks, self._first_ns)
            return None
        interval_s = (tick.monotonic_ns - previous.monotonic_ns) / 1e9
        deltas: dict[str, GroupDelta | None] = {}
        for key, current in tick.reads.items():
            before = previous.reads.get(key)
            layout = self._layouts.get(key)
            deltas[key] = group_delta(layout, before, current) if before and layout else None
        rows = tuple(self._cpu_row(cpu, tick, previous, deltas, interval_s) for cpu in self.topology.cpus)
        snapshot = Snapshot(
            index=tick.index,
            time_s=(tick.monotonic_ns - self._first_ns) / 1e9,
            interval_s=interval_s,
            wall_time=tick.wall_time,
            cpus=tuple(row for row, _ in rows),
            pmus=self._pmu_rows(rows, deltas, interval_s),
            notices=self.notices,
        )
        if isinstance(tick.tasks, TaskTick):
            tasks, migrations, lost = self.task_model.update(tick.tasks, self._first_ns)
            snapshot = replace(snapshot, tasks=tasks, migrations=migrations, lost_migrations=lost)
        return snapshot

    def _cpu_row(
        self,
        cpu: Cpu,
        tick: RawTick,
        previous: RawTick,
        deltas: dict[str, GroupDelta | None],
        interval_s: float,
    ) -> tuple[CpuRow, _CpuWork]:
        work = _CpuWork()
        online = cpu.cpu in tick.online
        metrics: dict[str, Metric] = {}
        times_now, times_before = tick.cpu_times.get(cpu.cpu), previous.cpu_times.get(cpu.cpu)
        if online and times_now and times_before:
            work.busy_s, work.util_pct = _busy(times_before, times_now)
        metrics["util_pct"] = Metric(work.util_pct) if work.util_pct is not None else NOT_COUNTED
        for layout in self._by_cpu.get(cpu.cpu, ()):
            lost = tick.lost.get(layout.key)
            delta = deltas.get(layout.key)
            if lost is None and layout.key in self._never_opened:
                metrics.update(self._never_opened[layout.key])
            elif layout.role is GroupRole.CORE:
                metrics.update(_core_metrics(layout, delta, lost, work.busy_s, interval_s))
            elif layout.role is GroupRole.SOFTWARE:
                metrics.update(_member_rates(layout, delta, lost, SOFTWARE_COUNTER_METRICS, interval_s))
            elif layout.role is GroupRole.MSR:
                metrics.update(_msr_metrics(layout, delta, lost, interval_s))
        row = CpuRow(
            cpu=cpu.cpu,
            pmu=cpu.core_pmu,
            core_type=cpu.core_type.label if cpu.core_type else None,
            online=online,
            metrics=metrics,
        )
        return row, work

    def _pmu_rows(
        self, rows: tuple[tuple[CpuRow, _CpuWork], ...], deltas: dict[str, GroupDelta | None], interval_s: float
    ) -> tuple[PmuRow, ...]:
        result = []
        for core_type, pmu in zip(self.topology.core_types, self.topology.core_pmus, strict=True):
            members = [(row, work) for row, work in rows if row.pmu == pmu.name and row.online]
            groups = [
                (layout, deltas.get(layout.key))
                for layout in self._layouts.values()
                if layout.role is GroupRole.CORE and layout.pmu == pmu.name
            ]
            result.append(_aggregate(pmu.name, pmu.type, core_type.label, members, groups, interval_s))
        return tuple(result)


def _busy(before: CpuTimes, now: CpuTimes) -> tuple[float | None, float | None]:
    total = now.total - before.total
    busy = now.busy - before.busy
    if total <= 0 or busy < 0:
        return None, None
    return busy / USER_HZ, 100.0 * busy / total


def _group_failure(layout: GroupLayout, lost: CounterFailure | None, member: str) -> CounterFailure | None:
    if lost:
        return lost
    for name, cause in layout.failures:
        if name == member:
            return cause
    return None


def _member_metric(layout: GroupLayout, delta: GroupDelta | None, lost: CounterFailure | None, member: str) -> Metric:
    cause = _group_failure(layout, lost, member)
    if cause or delta is None or member not in delta.scaled:
        return Metric(None, coverage=delta.coverage if delta else None, failure=cause)
    return Metric(delta.scaled[member], coverage=delta.coverage, extrapolated=delta.extrapolated)


def _core_metrics(
    layout: GroupLayout,
    delta: GroupDelta | None,
    lost: CounterFailure | None,
    busy_s: float | None,
    interval_s: float,
) -> dict[str, Metric]:
    cycles = _member_metric(layout, delta, lost, "cycles")
    instructions = _member_metric(layout, delta, lost, "instructions")
    metrics = {"cycles": cycles, "instructions": instructions}
    if "ref-cycles" in layout.members or any(name == "ref-cycles" for name, _ in layout.failures):
        metrics["ref_cycles"] = _member_metric(layout, delta, lost, "ref-cycles")
    if not cycles.available:
        failed = _failed(("ghz", "ipc"), cycles.failure)
        metrics.update(failed)
    else:
        metrics["ghz"] = _ghz(cycles, busy_s)
        metrics["ipc"] = _derived(_ratio(instructions.value, cycles.value), cycles, instructions)
    metrics["instructions_per_s"] = _derived(_ratio(instructions.value, interval_s), instructions)
    return metrics


def _ghz(cycles: Metric, busy_s: float | None) -> Metric:
    if busy_s is not None and busy_s * USER_HZ < MIN_BUSY_TICKS_FOR_GHZ:
        return Metric(None, note=TOO_IDLE)
    return _derived(_ratio(cycles.value, busy_s), cycles, scale=1e-9)


def _derived(value: float | None, *sources: Metric, scale: float = 1.0) -> Metric:
    """A figure computed from counters inherits their first failure, worst coverage and any extrapolation."""
    # One plain loop, no generators: this runs for every figure of every CPU, every tick.
    failure = coverage = None
    extrapolated = False
    for source in sources:
        if failure is None:
            failure = source.failure
        if source.coverage is not None and (coverage is None or source.coverage < coverage):
            coverage = source.coverage
        extrapolated = extrapolated or source.extrapolated
    if value is None:
        return Metric(None, failure=failure)
    return Metric(value * scale, coverage=coverage, extrapolated=extrapolated)


def _member_rates(
    layout: GroupLayout,
    delta: GroupDelta | None,
    lost: CounterFailure | None,
    names: tuple[str, ...],
    interval_s: float,
) -> dict[str, Metric]:
    metrics = {}
    for member, metric_name in MEMBER_METRIC.items():
        if metric_name not in names:
            continue
        count = _member_metric(layout, delta, lost, member)
        metrics[metric_name] = _derived(_ratio(count.value, interval_s), count)
    return metrics


def _msr_metrics(
    layout: GroupLayout, delta: GroupDelta | None, lost: CounterFailure | None, interval_s: float
) -> dict[str, Metric]:
    tsc = _member_metric(layout, delta, lost, "tsc")
    tsc_ghz = _derived(_ratio(tsc.value, interval_s), tsc, scale=1e-9)
    metrics = {"tsc_ghz": tsc_ghz}
    if "aperf" in layout.members and "mperf" in layout.members:
        aperf = _member_metric(layout, delta, lost, "aperf")
        mperf = _member_metric(layout, delta, lost, "mperf")
        ratio = _ratio(aperf.value, mperf.value)
        # turbostat's Bzy_MHz: TSC rate × APERF/MPERF, the average frequency while not idle.
        metrics["effective_ghz"] = _derived(
            tsc_ghz.value * ratio if tsc_ghz.value is not None and ratio is not None else None, tsc_ghz, aperf, mperf
        )
    return metrics


def _aggregate(
    name: str,
    pmu_type: int,
    label: str,
    members: list[tuple[CpuRow, _CpuWork]],
    groups: list[tuple[GroupLayout, GroupDelta | None]],
    interval_s: float,
) -> PmuRow:
    """Sum what was counted on a core PMU's CPUs; say how much of it is extrapolated."""
    totals = {"cycles": 0.0, "instructions": 0.0, "ref-cycles": 0.0}
    raw_totals = dict.fromkeys(totals, 0)
    counted = dict.fromkeys(totals, False)
    enabled = running = 0
    encoding = None
    failure = None
    for layout, delta in groups:
        encoding = encoding or layout.encoding
        failure = failure or next((cause for member, cause in layout.failures if member == "cycles"), None)
        if delta is None or not delta.scaled:
            continue
        enabled += delta.enabled
        running += delta.running
        for member in totals:
            if member in delta.scaled:
                totals[member] += delta.scaled[member]
                raw_totals[member] += delta.raw[member]
                counted[member] = True
    coverage = running / enabled if enabled else None
    extrapolated = running < enabled

    def count_metric(member: str) -> Metric:
        if not counted[member]:
            return Metric(None, failure=failure)
        return Metric(totals[member], coverage=coverage, extrapolated=extrapolated)

    cycles, instructions = count_metric("cycles"), count_metric("instructions")
    busy_s = sum(work.busy_s or 0.0 for _, work in members)
    utils = [work.util_pct for _, work in members if work.util_pct is not None]
    metrics = {
        "cycles": cycles,
        "instructions": instructions,
        "ghz": _ghz(cycles, busy_s),
        "ipc": _derived(_ratio(instructions.value, cycles.value), cycles, instructions),
        "instructions_per_s": _derived(_ratio(instructions.value, interval_s), instructions),
        "util_pct": Metric(sum(utils) / len(utils)) if utils else NOT_COUNTED,
    }
    for metric_name in SOFTWARE_COUNTER_METRICS:
        values = [row.metric(metric_name).value for row, _ in members]
        present = [v for v in values if v is not None]
        metrics[metric_name] = Metric(sum(present)) if present else NOT_COUNTED
    scaled_sum = totals["cycles"] + totals["instructions"]
    raw_sum = raw_totals["cycles"] + raw_totals["instructions"]
    share = (scaled_sum - raw_sum) / scaled_sum if scaled_sum > 0 else 0.0
    return PmuRow(
        pmu=name,
        type=pmu_type,
        core_type=label,
        encoding=encoding,
        cpus=tuple(row.cpu for row, _ in members),
        metrics=metrics,
        extrapolated_share=share,
    )
