"""The exporter's own cumulative totals, folded from the sampler's raw ticks, published as immutable values.

Prometheus wants counters that only ever go up for the life of the process. The kernel's counts restart
from zero when a group is reopened (a CPU came back online), and a CPU that is offline has no reads at all,
so the exporter keeps its own totals: every series has a slot, and each tick adds the delta since the last
read of the same group generation, or the whole read when the group was (re)opened, since a new group
counted from zero at its open. A slot, once made, is exported for the life of the exporter, so an offline
CPU keeps its series (flat while nothing is counted) and `pmutop_cpu_online` says why.

`fold()` returns an `Exposition`: a frozen value holding one tick's totals and states. The HTTP threads
render only such values, so every scrape sees one whole tick and concurrent scrapes never see a half-updated
one.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pmutop.model.metrics import MetricKey
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CpuTimes, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import Snapshot, TaskRow
from pmutop.model.topology import Topology

NS = 1e9
USER_HZ = 100


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: a name (counters without `_total`, info metrics without `_info`) and its labels."""

    name: str
    kind: str  # "counter", "gauge" or "info"
    help: str
    labels: tuple[str, ...]
    # Stored values are integers in the kernel's units; the exposition divides by this for base units.
    scale: float = 1.0

    @property
    def unit(self) -> str:
        """OpenMetrics' UNIT for names that end in one (the text format has no such line)."""
        return "seconds" if self.name.endswith("_seconds") else ""


CORE_LABELS = ("cpu", "pmu", "core_type")
CPU_LABEL = ("cpu",)
TASK_LABELS = ("pid", "comm")


def family_name(key: MetricKey, of: str = "") -> str:
    """The family that exports the counts behind a snapshot's metric: pmutop_cycles, pmutop_task_cycles."""
    return f"pmutop_{of}{key}"


CYCLES = Family(
    family_name(MetricKey.CYCLES), "counter", "CPU cycles counted on a core PMU (raw, not scaled)", CORE_LABELS
)
INSTRUCTIONS = Family(
    family_name(MetricKey.INSTRUCTIONS),
    "counter",
    "Instructions retired counted on a core PMU (raw, not scaled)",
    CORE_LABELS,
)
REF_CYCLES = Family(
    family_name(MetricKey.REF_CYCLES), "counter", "Reference cycles counted on a core PMU (raw)", CORE_LABELS
)
CORE_ENABLED = Family(
    "pmutop_core_enabled_seconds",
    "counter",
    "Seconds the core PMU group was enabled (time_enabled); scaled = raw * enabled / running",
    CORE_LABELS,
    NS,
)
CORE_RUNNING = Family(
    "pmutop_core_running_seconds",
    "counter",
    "Seconds the core PMU group was on the PMU (time_running); coverage = running / enabled",
    CORE_LABELS,
    NS,
)
EVENT_LABELS = ("cpu", "pmu", "event")
EVENT = Family(
    "pmutop_event", "counter", "Counts of an event named with -e, as perf names it (raw, not scaled)", EVENT_LABELS
)
EVENT_ENABLED = Family(
    "pmutop_event_enabled_seconds",
    "counter",
    "Seconds the -e event's group was enabled (time_enabled); scaled = raw * enabled / running",
    EVENT_LABELS,
    NS,
)
EVENT_RUNNING = Family(
    "pmutop_event_running_seconds",
    "counter",
    "Seconds the -e event's group was on the PMU (time_running); coverage = running / enabled",
    EVENT_LABELS,
    NS,
)
CONTEXT_SWITCHES = Family("pmutop_context_switches", "counter", "Context switches on the CPU", CPU_LABEL)
MIGRATIONS = Family("pmutop_cpu_migrations", "counter", "Task migrations onto the CPU (cpu-migrations)", CPU_LABEL)
TSC = Family("pmutop_msr_tsc", "counter", "Time-stamp counter ticks (msr PMU)", CPU_LABEL)
APERF = Family("pmutop_msr_aperf", "counter", "APERF ticks, actual clock while not idle (msr PMU)", CPU_LABEL)
MPERF = Family("pmutop_msr_mperf", "counter", "MPERF ticks, reference clock while not idle (msr PMU)", CPU_LABEL)
BUSY = Family("pmutop_cpu_busy_seconds", "counter", "Seconds the CPU was not idle (/proc/stat)", CPU_LABEL, USER_HZ)
CPU_TIME = Family(
    "pmutop_cpu_seconds", "counter", "CPU seconds in every state, idle included (/proc/stat)", CPU_LABEL, USER_HZ
)
# Which family each group member's counts go to.
MEMBER_FAMILIES = {
    GroupRole.CORE: {"cycles": CYCLES, "instructions": INSTRUCTIONS, "ref-cycles": REF_CYCLES},
    GroupRole.SOFTWARE: {"context-switches": CONTEXT_SWITCHES, "cpu-migrations": MIGRATIONS},
    GroupRole.MSR: {"tsc": TSC, "aperf": APERF, "mperf": MPERF},
}
COUNTER_FAMILIES = (
    CYCLES,
    INSTRUCTIONS,
    REF_CYCLES,
    CORE_ENABLED,
    CORE_RUNNING,
    EVENT,
    EVENT_ENABLED,
    EVENT_RUNNING,
    CONTEXT_SWITCHES,
    MIGRATIONS,
    TSC,
    APERF,
    MPERF,
    BUSY,
    CPU_TIME,
)

TASK_SECONDS = Family(
    "pmutop_task_seconds",
    "counter",
    "Seconds a followed process ran, per core type (per CPU on machines with one core type)",
    (*TASK_LABELS, "core_pmu", "core_type", "cpu"),
)
TASK_CYCLES = Family(
    family_name(MetricKey.CYCLES, "task_"),
    "counter",
    "Cycles of a followed process per core PMU",
    (*TASK_LABELS, "pmu", "core_type"),
)
TASK_INSTRUCTIONS = Family(
    family_name(MetricKey.INSTRUCTIONS, "task_"),
    "counter",
    "Instructions of a followed process per core PMU",
    (*TASK_LABELS, "pmu", "core_type"),
)
TASK_MIGRATIONS = Family("pmutop_task_migrations", "counter", "Migrations of a followed process", TASK_LABELS)
TASK_CROSS_TYPE = Family(
    "pmutop_task_cross_type_migrations",
    "counter",
    "Migrations of a followed process between CPUs of different core types",
    TASK_LABELS,
)
TASK_FAMILIES = (TASK_SECONDS, TASK_CYCLES, TASK_INSTRUCTIONS, TASK_MIGRATIONS, TASK_CROSS_TYPE)


@dataclass(frozen=True, slots=True)
class GroupState:
    """A wanted counter group on one CPU this tick: "" when it was read, else the errno that stopped it."""

    cpu: int
    group: str
    pmu: str
    errno: str
    # (event, errno) per wanted member that is not counting.
    events: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TaskState:
    pid: int
    comm: str
    alive: bool
    residency_method: ResidencyMethod


@dataclass(frozen=True)
class Exposition:
    """One tick, ready to render: counter totals by slot, group and CPU states, followed tasks."""

    topology: Topology
    # Per counter family, (label values, slot) for every series made so far; values[slot] is its total.
    series: tuple[tuple[Family, tuple[tuple[tuple[str, ...], int], ...]], ...]
    values: tuple[int, ...]
    groups: tuple[GroupState, ...]
    online: frozenset[int]
    tasks: tuple[TaskState, ...]
    # Per task family, (label values, total) in base units.
    task_totals: tuple[tuple[Family, tuple[tuple[tuple[str, ...], float], ...]], ...]
    lost_migrations: int | None
    ticks: int
    wall_time: float
    tick_duration_s: float
    facts: tuple[tuple[str, str], ...] = ()


@dataclass
class _GroupSlots:
    layout: GroupLayout
    # Slot per member name, and the (enabled, running) slot pairs the group's times go to: one for a core
    # group, one per event for an -e group (so that each event's series has its own, with its labels).
    members: dict[str, int]
    times: tuple[tuple[int, int], ...]


@dataclass
class ExportTotals:
    """Folds raw ticks into never-decreasing totals; one instance for the exporter's life."""

    topology: Topology
    layouts: tuple[GroupLayout, ...]
    facts: tuple[tuple[str, str], ...] = ()
    _totals: list[int] = field(default_factory=list)
    _series: dict[Family, list[tuple[tuple[str, ...], int]]] = field(default_factory=dict)
    _slot_by_series: dict[tuple[Family, tuple[str, ...]], int] = field(default_factory=dict)
    _groups: dict[str, _GroupSlots] = field(default_factory=dict)
    _previous: dict[str, GroupRead] = field(default_factory=dict)
    _cpu_slots: dict[int, tuple[int, int]] = field(default_factory=dict)
    _previous_times: dict[int, CpuTimes] = field(default_factory=dict)
    _task_totals: dict[Family, dict[tuple[str, ...], float]] = field(default_factory=dict)
    _tasks_seen: bool = False
    _lost_migrations: int = 0
    _ticks: int = 0
    _series_view: tuple = ()

    def __post_init__(self) -> None:
        self._set_layouts(self.layouts)

    def _slot(self, family: Family, labels: tuple[str, ...]) -> int:
        key = (family, labels)
        slot = self._slot_by_series.get(key)
        if slot is None:
            slot = self._slot_by_series[key] = len(self._totals)
            self._totals.append(0)
            self._series.setdefault(family, []).append((labels, slot))
            self._series_view = ()
        return slot

    def _core_type(self, pmu: str) -> str:
        for core_type in self.topology.core_types:
            if core_type.pmu == pmu:
                return core_type.label
        return ""

    def _set_layouts(self, layouts: Iterable[GroupLayout]) -> None:
        for layout in layouts:
            cpu = str(layout.cpu)
            known = self._groups.get(layout.key)
            members = dict(known.members) if known else {}
            times = known.times if known else ()
            if layout.role is GroupRole.EVENTS:
                for name in layout.members:
                    if name not in members:
                        event = (cpu, layout.pmu, name)
                        members[name] = self._slot(EVENT, event)
                        times += ((self._slot(EVENT_ENABLED, event), self._slot(EVENT_RUNNING, event)),)
            else:
                families = MEMBER_FAMILIES.get(layout.role, {})
                labels = (cpu, layout.pmu, self._core_type(layout.pmu)) if layout.role is GroupRole.CORE else (cpu,)
                for name in layout.members:
                    family = families.get(name)
                    if family is not None and name not in members:
                        members[name] = self._slot(family, labels)
                if layout.role is GroupRole.CORE and layout.members:
                    times = ((self._slot(CORE_ENABLED, labels), self._slot(CORE_RUNNING, labels)),)
            self._groups[layout.key] = _GroupSlots(layout, members, times)

    def fold(self, tick: RawTick, snapshot: Snapshot | None, read_s: float = 0.0) -> Exposition:
        """Add one tick (read in `read_s` seconds); returns what a scrape or textfile shows until the next."""
        started = time.perf_counter()
        if tick.layouts is not None:
            self._set_layouts(tick.layouts)
        self._fold_groups(tick)
        self._fold_cpu_times(tick)
        tasks = self._fold_tasks(snapshot) if snapshot is not None and snapshot.tasks else ()
        if snapshot is not None and (snapshot.tasks or snapshot.lost_migrations):
            self._tasks_seen = True
            self._lost_migrations += snapshot.lost_migrations
        self._ticks += 1
        if not self._series_view:
            self._series_view = tuple((family, tuple(self._series[family])) for family in self._series)
        return Exposition(
            topology=self.topology,
            series=self._series_view,
            values=tuple(self._totals),
            groups=self._group_states(tick),
            online=tick.online,
            tasks=tasks,
            task_totals=tuple((family, tuple(values.items())) for family, values in self._task_totals.items()),
            lost_migrations=self._lost_migrations if self._tasks_seen else None,
            ticks=self._ticks,
            wall_time=tick.wall_time,
            tick_duration_s=read_s + time.perf_counter() - started,
            facts=self.facts,
        )

    def _fold_groups(self, tick: RawTick) -> None:
        totals = self._totals
        for key, read in tick.reads.items():
            slots = self._groups.get(key)
            if slots is None:
                continue
            before = self._previous.get(key)
            self._previous[key] = read
            # A new generation counted from zero at its open: all of its read is new counts.
            same = (
                before is not None and before.generation == read.generation and len(before.values) == len(read.values)
            )
            baseline = before if same and before is not None else None
            priors = baseline.values if baseline is not None else (0,) * len(read.values)
            for name, value, prior in zip(slots.layout.members, read.values, priors, strict=False):
                slot = slots.members.get(name)
                if slot is not None and value > prior:
                    totals[slot] += value - prior
            enabled_before, running_before = (baseline.enabled, baseline.running) if baseline else (0, 0)
            for enabled_slot, running_slot in slots.times:
                totals[enabled_slot] += max(0, read.enabled - enabled_before)
                totals[running_slot] += max(0, read.running - running_before)

    def _fold_cpu_times(self, tick: RawTick) -> None:
        totals = self._totals
        for cpu, times in tick.cpu_times.items():
            slots = self._cpu_slots.get(cpu)
            if slots is None:
                label = (str(cpu),)
                slots = self._cpu_slots[cpu] = (self._slot(BUSY, label), self._slot(CPU_TIME, label))
            before = self._previous_times.get(cpu)
            self._previous_times[cpu] = times
            if before is not None:
                # /proc/stat's idle and iowait can step back a little on NO_HZ kernels: never subtract.
                totals[slots[0]] += max(0, times.busy - before.busy)
                totals[slots[1]] += max(0, times.total - before.total)

    def _group_states(self, tick: RawTick) -> tuple[GroupState, ...]:
        states = []
        for key, slots in self._groups.items():
            layout = slots.layout
            lost = tick.lost.get(key)
            if key in tick.reads:
                group_errno = ""
            elif lost is not None:
                group_errno = lost.errno_name
            elif layout.failures and not layout.members:
                group_errno = layout.failures[0][1].errno_name
            else:
                continue  # not opened yet, with no reason known: nothing true to say this tick
            failed = {name: cause.errno_name for name, cause in layout.failures}
            wanted = (*layout.members, *failed) if group_errno else tuple(failed)
            events = tuple((name, group_errno or failed[name]) for name in wanted)
            states.append(GroupState(layout.cpu, str(layout.role), layout.pmu, group_errno, events))
        return tuple(states)

    def _raise(self, family: Family, labels: tuple[str, ...], value: float) -> None:
        """Task totals come as figures the model recomputes each tick: keep them from ever stepping back."""
        values = self._task_totals.setdefault(family, {})
        if value >= values.get(labels, 0.0):
            values[labels] = value

    def _fold_tasks(self, snapshot: Snapshot) -> tuple[TaskState, ...]:
        for task in snapshot.tasks:
            ids = (str(task.pid), task.comm)
            for place, share in task.residency_total.items():
                self._raise(TASK_SECONDS, (*ids, *self._place_labels(place)), share * task.running_s)
            for family, counts in ((TASK_CYCLES, task.cycles_total), (TASK_INSTRUCTIONS, task.instructions_total)):
                for pmu, metric in counts.items():
                    if metric.value is not None:
                        self._raise(family, (*ids, pmu, self._core_type(pmu)), metric.value)
            self._raise(TASK_MIGRATIONS, ids, task.migrations)
            self._raise(TASK_CROSS_TYPE, ids, task.cross_type_migrations)
        return tuple(_task_state(task) for task in snapshot.tasks)

    def _place_labels(self, place: str) -> tuple[str, str, str]:
        """(core_pmu, core_type, cpu) for a residency key: a core PMU name, or "cpuN" with one core type."""
        if place.startswith("cpu") and place[3:].isdigit():
            cpu = self.topology.cpu(int(place[3:]))
            if cpu is not None:
                return (cpu.core_pmu or "", cpu.core_type.label if cpu.core_type else "", str(cpu.cpu))
            return ("", "", place[3:])
        return (place, self._core_type(place), "")


def _task_state(task: TaskRow) -> TaskState:
    return TaskState(task.pid, task.comm, task.alive, task.residency_method)
