"""Following tasks live: per-thread counters, thread discovery, and the sched_migrate_task log.

Threads are opened explicitly (no `inherit`), so a thread that appears is picked up on the next
tick and nothing is counted twice; one that lives less than a tick is missed (said in the notes).
"""

import errno
import os
import struct
import time
from dataclasses import dataclass, field, replace

from pmutop.kernel import perf, procfs, tracefs
from pmutop.live.sampler import to_attr
from pmutop.model.failures import Privileges
from pmutop.model.plan import PERF_TYPE_SOFTWARE, SW_TASK_CLOCK, CounterSpec, GroupPlan
from pmutop.model.tasks import (
    RESIDENCY_BY_CPU,
    RESIDENCY_BY_PMU,
    ProcessState,
    RawMigration,
    TaskCounterRead,
    TaskTick,
)
from pmutop.model.topology import Topology
from pmutop.model.tracepoint import TraceFormat, parse_format, read_field

PERF_TYPE_TRACEPOINT = 2
CLOCK_MONOTONIC = 1
MIGRATION_RING_PAGES = 16
# Below this many fds left under RLIMIT_NOFILE, no more threads are opened.
FD_RESERVE = 64
_SAMPLE_HEAD = struct.Struct("=IIQII I")


@dataclass
class MigrationTracer:
    """sched:sched_migrate_task on every online CPU into mmap rings; only followed tids are kept."""

    cpus: tuple[int, ...]
    data_pages: int = MIGRATION_RING_PAGES
    layout: TraceFormat | None = None
    rings: list[perf.RingBuffer] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    mounted_here: str | None = None

    def start(self) -> str | None:
        """Open the tracepoint; a one-line reason when it cannot be used (the caller falls back)."""
        mount_point = tracefs.find_tracefs()
        if mount_point is None:
            if os.geteuid() != 0:
                return "tracefs is not mounted and pmutop is not root to mount it"
            error = tracefs.mount_tracefs()
            if error:
                return f"tracefs is not mounted and mounting it failed: {error}"
            mount_point = tracefs.find_tracefs()
            self.mounted_here = mount_point
        text = tracefs.read_event_format(mount_point, "sched", "sched_migrate_task") if mount_point else None
        if text is None:
            return "sched:sched_migrate_task is not readable in tracefs (kernel without it, or no permission)"
        try:
            self.layout = parse_format(text)
        except ValueError as exc:
            return f"sched_migrate_task format unreadable: {exc}"
        missing = {"comm", "pid", "orig_cpu", "dest_cpu"} - set(self.layout.fields)
        if missing:
            return f"sched_migrate_task lacks fields {sorted(missing)} on this kernel"
        attr = perf.EventAttr(
            type=PERF_TYPE_TRACEPOINT,
            config=self.layout.id,
            sample_period=1,
            sample_type=perf.PERF_SAMPLE_TID | perf.PERF_SAMPLE_TIME | perf.PERF_SAMPLE_CPU | perf.PERF_SAMPLE_RAW,
            use_clockid=True,
            clockid=CLOCK_MONOTONIC,
        )
        for cpu in self.cpus:
            fd = perf.open_event(attr, -1, cpu)
            if isinstance(fd, perf.OpenFailure):
                if fd.errno == errno.ENODEV:
                    continue  # offline CPU: no migrations are decided there
                self.close()
                return f"sched_migrate_task refused ({fd.name}): needs root, CAP_PERFMON or perf_event_paranoid <= -1"
            ring = perf.RingBuffer.map(fd, self.data_pages)
            if isinstance(ring, perf.OpenFailure):
                perf.close(fd)
                self.close()
                return f"cannot map the migration ring buffer ({ring.name})"
            self.fds.append(fd)
            self.rings.append(ring)
        return None

    @property
    def lost(self) -> int:
        return sum(ring.lost for ring in self.rings)

    def drain(self, followed: dict[int, int]) -> list[RawMigration]:
        """Migration records since the last drain for tids in `followed` (tid → process pid)."""
        result: list[RawMigration] = []
        layout = self.layout
        if layout is None:  # never opened: no rings either
            return result
        for ring in self.rings:
            for record_type, _, payload in perf.records(ring.drain()):
                if record_type != perf.PERF_RECORD_SAMPLE:
                    continue
                _, _, when, _, _, size = _SAMPLE_HEAD.unpack_from(payload)
                raw = payload[_SAMPLE_HEAD.size : _SAMPLE_HEAD.size + size]
                tid = int(read_field(layout, raw, "pid"))
                if tid not in followed:
                    continue
                result.append(
                    RawMigration(
                        monotonic_ns=when,
                        pid=followed[tid],
                        tid=tid,
                        comm=str(read_field(layout, raw, "comm")),
                        from_cpu=int(read_field(layout, raw, "orig_cpu")),
                        to_cpu=int(read_field(layout, raw, "dest_cpu")),
                    )
                )
        return result

    def close(self) -> None:
        for ring in self.rings:
            ring.close()
        for fd in self.fds:
            perf.close(fd)
        self.rings, self.fds = [], []
        if self.mounted_here:
            tracefs.unmount_tracefs(self.mounted_here)
            self.mounted_here = None


@dataclass
class _ThreadCounters:
    pid: int
    tid: int
    # (kind, place, fds) per counter group; the leader is fds[0].
    groups: list[tuple[str, str, list[int]]] = field(default_factory=list)


@dataclass
class _Process:
    pid: int
    comm: str
    alive: bool = True
    exit_status: int | None = None
    threads: dict[int, int | None] = field(default_factory=dict)


@dataclass
class TaskFollower:
    topology: Topology
    privileges: Privileges
    # Core PMU → the group plan whose encoding the sampler found the kernel accepts.
    core_plans: dict[str, GroupPlan]
    pids: tuple[int, ...] = ()
    comm: str | None = None
    include_children: bool = False
    fd_limit: int = 1024
    fds_in_use: int = 0
    notices: list[str] = field(default_factory=list)
    method: str = RESIDENCY_BY_CPU
    _processes: dict[int, _Process] = field(default_factory=dict)
    _counters: dict[int, _ThreadCounters] = field(default_factory=dict)
    _tracer: MigrationTracer | None = None
    _reader: perf.TickReader | None = None
    _reader_index: list[tuple[int, int, str, str]] = field(default_factory=list)
    _budget_hit: bool = False
    _last_cpu: dict[int, int | None] = field(default_factory=dict)

    def start(self) -> str | None:
        """Begin following; a message when nothing given can be followed."""
        for pid in self.pids:
            comm = procfs.read_comm(pid)
            if comm is None:
                self.notices.append(f"no process {pid}: not followed")
                continue
            self._processes[pid] = _Process(pid, comm)
        if self.pids and not self._processes and not self.comm:
            return "none of the processes " + ",".join(map(str, self.pids)) + " exists"
        if self.comm is not None and not any(p.comm == self.comm for p in self._processes.values()):
            self.notices.append(f"no process named {self.comm!r} yet; following it when one starts")
        self.method = RESIDENCY_BY_PMU if self.topology.is_heterogeneous and self.core_plans else RESIDENCY_BY_CPU
        online = tuple(sorted(procfs.read_cpu_times()))
        self._tracer = MigrationTracer(online)
        problem = self._tracer.start()
        if problem:
            self._tracer = None
            self.notices.append(
                f"Migration log from /proc sampling each tick ({problem}): short stays on a CPU may be missed."
            )
        return None

    # ------------------------------------------------------------------ discovery
    def _discover(self) -> None:
        if self.comm is not None:
            for pid, comm in procfs.list_processes():
                if comm == self.comm and pid not in self._processes:
                    self._processes[pid] = _Process(pid, comm)
        if self.include_children:
            for process in list(self._processes.values()):
                if process.alive:
                    for child in procfs.list_children(process.pid):
                        if child not in self._processes:
                            child_comm = procfs.read_comm(child)
                            if child_comm is not None:
                                self._processes[child] = _Process(child, child_comm)

    def _thread_specs(self) -> list[tuple[str, str, list[CounterSpec]]]:
        unprivileged = not self.privileges.privileged
        specs = []
        for pmu, plan in self.core_plans.items():
            members = [c for c in plan.counters if c.name in ("cycles", "instructions")]
            specs.append(("core", pmu, members))
        if self.method == RESIDENCY_BY_CPU:
            clock = CounterSpec("task-clock", PERF_TYPE_SOFTWARE, SW_TASK_CLOCK)
            for cpu in self.topology.online_cpus:
                specs.append(("clock", str(cpu), [clock]))
        # Without privilege, per-task counting is allowed only for user space (paranoid 2).
        return [
            (kind, place, [_user_only(c) if unprivileged else c for c in members]) for kind, place, members in specs
        ]

    def _open_thread(self, pid: int, tid: int) -> bool:
        specs = self._thread_specs()
        needed = sum(len(members) for _, _, members in specs)
        if self.fds_in_use + needed > self.fd_limit - FD_RESERVE:
            if not self._budget_hit:
                self._budget_hit = True
                self.notices.append(
                    f"fd budget reached ({self.fds_in_use} of RLIMIT_NOFILE {self.fd_limit}): later threads "
                    "are shown but not counted; raise `ulimit -n` to count them"
                )
            return False
        counters = _ThreadCounters(pid, tid)
        for kind, place, members in specs:
            cpu = int(place) if kind == "clock" else -1
            fds = _open_group(members, tid, cpu)
            if fds:
                counters.groups.append((kind, place, fds))
                self.fds_in_use += len(fds)
        self._counters[tid] = counters
        return True

    def _close_thread(self, tid: int) -> None:
        counters = self._counters.pop(tid, None)
        if counters:
            for _, _, fds in counters.groups:
                for fd in reversed(fds):
                    perf.close(fd)
                self.fds_in_use -= len(fds)

    def _rebuild_reader(self) -> None:
        fds, index, widest = [], [], 1
        for counters in self._counters.values():
            for kind, place, group in counters.groups:
                fds.append(group[0])
                index.append((counters.pid, counters.tid, kind, place))
                widest = max(widest, len(group))
        self._reader_index = index
        self._reader = perf.TickReader(fds, perf.group_read_words(widest)) if fds else None

    # ------------------------------------------------------------------ per tick
    def tick(self) -> TaskTick:
        self._discover()
        changed = False
        for process in self._processes.values():
            if not process.alive:
                continue
            tids = procfs.list_threads(process.pid)
            if tids is None:
                process.alive = False
                process.threads = {}
                continue
            process.threads = {tid: procfs.thread_cpu(process.pid, tid) for tid in tids}
            # A followed command shows its own name once it has exec'd.
            self.refresh_comm(process.pid)
            for tid in tids:
                if tid not in self._counters and self._open_thread(process.pid, tid):
                    changed = True
        if changed:
            self._rebuild_reader()
        now = time.monotonic_ns()
        counters = self._read_counters()
        # Threads gone since the last tick: their final counts were just read; now let them go.
        live_tids = {tid for p in self._processes.values() for tid in p.threads}
        ended = [tid for tid in self._counters if tid not in live_tids]
        for tid in ended:
            self._close_thread(tid)
        if ended:
            self._rebuild_reader()
        followed = {tid: p.pid for p in self._processes.values() for tid in p.threads}
        migrations = self._tracer.drain(followed) if self._tracer else self._sampled_migrations(now, followed)
        return TaskTick(
            processes=tuple(
                ProcessState(p.pid, p.comm, p.alive, tuple(sorted(p.threads.items())), p.exit_status)
                for p in self._processes.values()
            ),
            counters=counters,
            migrations=tuple(migrations),
            lost_migrations=self._tracer.lost if self._tracer else 0,
            method=self.method,
        )

    def _read_counters(self) -> tuple[TaskCounterRead, ...]:
        if self._reader is None:
            return ()
        status, words = self._reader.read()
        width = self._reader.words_per_fd
        reads = []
        for position, (pid, tid, kind, place) in enumerate(self._reader_index):
            if status[position] <= 0:
                continue
            offset = position * width
            members = words[offset]
            reads.append(
                TaskCounterRead(
                    pid=pid,
                    tid=tid,
                    kind=kind,
                    place=place,
                    enabled=words[offset + 1],
                    running=words[offset + 2],
                    values=tuple(words[offset + 3 : offset + 3 + 2 * members : 2]),
                )
            )
        return tuple(reads)

    def _sampled_migrations(self, now: int, followed: dict[int, int]) -> list[RawMigration]:
        """Without the tracepoint: a thread seen on another CPU than last tick has migrated (at least once)."""
        result = []
        for process in self._processes.values():
            for tid, cpu in process.threads.items():
                before = self._last_cpu.get(tid)
                if before is not None and cpu is not None and cpu != before:
                    result.append(RawMigration(now, followed.get(tid, process.pid), tid, process.comm, before, cpu))
                self._last_cpu[tid] = cpu
        return result

    def refresh_comm(self, pid: int) -> None:
        process = self._processes.get(pid)
        if process:
            process.comm = procfs.read_comm(pid) or process.comm

    def mark_exited(self, pid: int, status: int) -> None:
        process = self._processes.get(pid)
        if process:
            process.alive = False
            process.exit_status = status
            process.threads = {}

    def processes(self) -> list[int]:
        return list(self._processes)

    def close(self) -> None:
        for tid in list(self._counters):
            self._close_thread(tid)
        self._reader = None
        if self._tracer:
            self._tracer.close()
            self._tracer = None


def _user_only(spec: CounterSpec) -> CounterSpec:
    return replace(spec, exclude_kernel=True, exclude_hv=True)


def _open_group(members: list[CounterSpec], tid: int, cpu: int) -> list[int]:
    """Open a per-thread group; a refused member is left out, a refused leader gives no group."""
    fds: list[int] = []
    for spec in members:
        fd = perf.open_event(to_attr(spec, perf.GROUP_READ_FORMAT), tid, cpu, fds[0] if fds else -1)
        if isinstance(fd, perf.OpenFailure):
            if not fds:
                return []
            continue
        fds.append(fd)
    return fds
