"""Following tasks: residency and IPC per core type, current CPU, and migrations, from raw reads.

Two ways to measure residency (pmutop.model.residency), chosen by the live side from what the kernel allows:
- CORE_PMU_CYCLES ("cycles per core PMU"): a per-task {cycles, instructions} group on each core PMU only runs
  while the task is on that PMU's CPUs, so its time_running is exactly the time spent there
  (heterogeneous machines). The counts are real, not extrapolated: low time_running here
  means "elsewhere", not "multiplexed", so they are never scaled up.
- CPU_TASK_CLOCK ("task-clock per CPU"): a per-task task-clock on each CPU (works everywhere, VMs included).
"""

from collections import deque
from dataclasses import dataclass, field

from pmutop.model.residency import ResidencyMethod
from pmutop.model.snapshot import Metric, MigrationEntry, TaskRow
from pmutop.model.topology import Topology

RECENT_MIGRATIONS = 32


@dataclass(frozen=True, slots=True)
class TaskCounterRead:
    """A per-thread counter: `place` is a core PMU name (kind "core") or a CPU number (kind "clock")."""

    pid: int
    tid: int
    kind: str
    place: str
    enabled: int
    running: int
    values: tuple[int, ...]
    generation: int = 0


@dataclass(frozen=True, slots=True)
class ProcessState:
    pid: int
    comm: str
    alive: bool
    # (tid, cpu it last ran on) for each live thread.
    threads: tuple[tuple[int, int | None], ...]
    exit_status: int | None = None


@dataclass(frozen=True, slots=True)
class RawMigration:
    monotonic_ns: int
    pid: int
    tid: int
    comm: str
    from_cpu: int
    to_cpu: int


@dataclass(frozen=True)
class TaskTick:
    processes: tuple[ProcessState, ...]
    counters: tuple[TaskCounterRead, ...]
    migrations: tuple[RawMigration, ...]
    # Cumulative records the kernel dropped (ring overflow): migrations or the thread records
    # that say whose they are.
    lost_migrations: int
    method: ResidencyMethod
    # Cumulative threads found by /proc only, their creation record missed: migrations they made
    # before that were not seen.
    threads_seen_late: int = 0


@dataclass(frozen=True, slots=True)
class TaskInterval:
    rows: tuple[TaskRow, ...]
    migrations: tuple[MigrationEntry, ...]
    # Newly this interval: records the kernel dropped, threads found only by /proc.
    lost_migrations: int
    threads_seen_late: int


@dataclass
class _TaskHistory:
    migrations: int = 0
    cross_type: int = 0
    recent: deque[MigrationEntry] = field(default_factory=lambda: deque(maxlen=RECENT_MIGRATIONS))
    residency_ns: dict[str, int] = field(default_factory=dict)
    running_ns: int = 0
    cycles: dict[str, int] = field(default_factory=dict)
    instructions: dict[str, int] = field(default_factory=dict)


class TaskModel:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._previous: dict[tuple[int, str, str], TaskCounterRead] = {}
        self._history: dict[int, _TaskHistory] = {}
        # Cumulative figures as of the newest tick: records lost, threads seen late.
        self.lost_total = 0
        self.seen_late_total = 0
        self._origin_ns: int | None = None

    def place_of_cpu(self, cpu: int | None) -> str | None:
        if cpu is None:
            return None
        found = self.topology.cpu(cpu)
        return found.core_pmu if found else None

    def _residency_key(self, cpu_place: str) -> str:
        """Per core type on machines that have several, else per CPU."""
        if self.topology.is_heterogeneous:
            return self.place_of_cpu(int(cpu_place)) or f"cpu{cpu_place}"
        return f"cpu{cpu_place}"

    def update(self, tick: TaskTick, origin_ns: int) -> "TaskInterval":
        """Rows for each followed process, this interval's migrations, and what was newly lost."""
        self._origin_ns = origin_ns
        per_task_ns: dict[int, dict[str, int]] = {}
        cycles: dict[int, dict[str, int]] = {}
        instructions: dict[int, dict[str, int]] = {}
        # Core PMUs each process has counters on, counted this interval or not.
        core_places: dict[int, set[str]] = {}
        current_keys = set()
        for read in tick.counters:
            key = (read.tid, read.kind, read.place)
            current_keys.add(key)
            before = self._previous.get(key)
            self._previous[key] = read
            if before is None or before.generation != read.generation:
                continue
            running = read.running - before.running
            deltas = [after - prior for after, prior in zip(read.values, before.values, strict=False)]
            if running < 0 or any(d < 0 for d in deltas):
                continue
            if read.kind == "clock":
                place = self._residency_key(read.place)
                bucket = per_task_ns.setdefault(read.pid, {})
                bucket[place] = bucket.get(place, 0) + deltas[0]
            else:
                core_places.setdefault(read.pid, set()).add(read.place)
                if tick.method is ResidencyMethod.CORE_PMU_CYCLES:
                    bucket = per_task_ns.setdefault(read.pid, {})
                    bucket[read.place] = bucket.get(read.place, 0) + running
                if running == 0:
                    # Never on this PMU's CPUs this interval: "not counted", as perf says, not a zero.
                    continue
                for store, value in zip((cycles, instructions), deltas, strict=False):
                    task_store = store.setdefault(read.pid, {})
                    task_store[read.place] = task_store.get(read.place, 0) + value
        # Threads that ended take their counters with them.
        for key in set(self._previous) - current_keys:
            del self._previous[key]

        entries = self._migrations(tick)
        lost_now = max(0, tick.lost_migrations - self.lost_total)
        self.lost_total = max(self.lost_total, tick.lost_migrations)
        late_now = max(0, tick.threads_seen_late - self.seen_late_total)
        self.seen_late_total = max(self.seen_late_total, tick.threads_seen_late)
        interval_counts: dict[int, tuple[int, int]] = {}
        for entry in entries:
            total, cross = interval_counts.get(entry.pid, (0, 0))
            interval_counts[entry.pid] = (total + 1, cross + int(entry.cross_type))

        rows = []
        for process in tick.processes:
            history = self._history.setdefault(process.pid, _TaskHistory())
            interval_ns = per_task_ns.get(process.pid, {})
            for place, ns in interval_ns.items():
                history.residency_ns[place] = history.residency_ns.get(place, 0) + ns
            history.running_ns += sum(interval_ns.values())
            for run_total, interval in ((history.cycles, cycles), (history.instructions, instructions)):
                for place, count in interval.get(process.pid, {}).items():
                    run_total[place] = run_total.get(place, 0) + count
            total_interval, cross_interval = interval_counts.get(process.pid, (0, 0))
            rows.append(
                self._row(
                    process,
                    history,
                    interval_ns,
                    cycles.get(process.pid, {}),
                    instructions.get(process.pid, {}),
                    core_places.get(process.pid, set()),
                    total_interval,
                    cross_interval,
                    tick.method,
                )
            )
        return TaskInterval(tuple(rows), entries, lost_now, late_now)

    def _migrations(self, tick: TaskTick) -> tuple[MigrationEntry, ...]:
        entries = []
        for raw in sorted(tick.migrations, key=lambda m: m.monotonic_ns):
            from_pmu, to_pmu = self.place_of_cpu(raw.from_cpu), self.place_of_cpu(raw.to_cpu)
            entry = MigrationEntry(
                time_s=(raw.monotonic_ns - (raw.monotonic_ns if self._origin_ns is None else self._origin_ns)) / 1e9,
                pid=raw.pid,
                tid=raw.tid,
                comm=raw.comm,
                from_cpu=raw.from_cpu,
                to_cpu=raw.to_cpu,
                from_pmu=from_pmu,
                to_pmu=to_pmu,
                cross_type=from_pmu is not None and to_pmu is not None and from_pmu != to_pmu,
            )
            history = self._history.setdefault(raw.pid, _TaskHistory())
            history.migrations += 1
            history.cross_type += int(entry.cross_type)
            history.recent.append(entry)
            entries.append(entry)
        return tuple(entries)

    def _row(
        self,
        process: ProcessState,
        history: _TaskHistory,
        interval_ns: dict[str, int],
        cycles: dict[str, int],
        instructions: dict[str, int],
        core_places: set[str],
        migrations_interval: int,
        cross_interval: int,
        method: ResidencyMethod,
    ) -> TaskRow:
        main_cpu = next((cpu for tid, cpu in process.threads if tid == process.pid), None)
        if main_cpu is None and process.threads:
            main_cpu = process.threads[0][1]
        core_pmu = self.place_of_cpu(main_cpu)
        core_type = self.topology.core_type_of(main_cpu) if main_cpu is not None else None
        places = sorted(core_places | set(history.cycles))
        return TaskRow(
            pid=process.pid,
            comm=process.comm,
            alive=process.alive,
            threads=len(process.threads),
            cpu_now=main_cpu if process.alive else None,
            pmu_now=core_pmu if process.alive else None,
            core_type_now=core_type.label if core_type and process.alive else None,
            residency=_shares(interval_ns),
            residency_total=_shares(history.residency_ns),
            ipc=_ipc(places, cycles, instructions),
            cycles=_counts(places, cycles),
            instructions=_counts(places, instructions),
            migrations=history.migrations,
            cross_type_migrations=history.cross_type,
            migrations_interval=migrations_interval,
            cross_type_interval=cross_interval,
            running_s=history.running_ns / 1e9,
            exit_status=process.exit_status,
            residency_method=method,
            thread_cpus=tuple(process.threads),
            recent_migrations=tuple(history.recent),
            ipc_total=_ipc(places, history.cycles, history.instructions),
            cycles_total=_counts(places, history.cycles),
            instructions_total=_counts(places, history.instructions),
        )


def _ipc(places: list[str], cycles: dict[str, int], instructions: dict[str, int]) -> dict[str, Metric]:
    """IPC per core PMU; n/a says why: the task never ran on that PMU's CPUs (perf's "not counted"), or
    it ran there and the PMU counted no cycles."""
    return {
        p: Metric(instructions.get(p, 0) / cycles[p])
        if cycles.get(p)
        else Metric(None, note="no cycles there" if p in cycles else "did not run there")
        for p in places
    }


def _counts(places: list[str], counts: dict[str, int]) -> dict[str, Metric]:
    return {p: Metric(float(counts[p])) if p in counts else Metric(None) for p in places}


def _shares(nanoseconds: dict[str, int]) -> dict[str, float]:
    total = sum(nanoseconds.values())
    if total <= 0:
        return {}
    return {place: ns / total for place, ns in sorted(nanoseconds.items())}
