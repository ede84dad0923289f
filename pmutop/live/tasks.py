"""Following tasks live: per-thread counters, thread tracking, and the sched_migrate_task log.

Threads are tracked as the kernel creates them: the tracer's per-CPU rings carry, besides every
sched_migrate_task sample, the kernel's PERF_RECORD_FORK/EXIT/COMM side-band records (attr.task,
attr.comm). Decoded in time order, a thread's creation is known before its first migration, however
short its life, and a thread that exited keeps its migrations until they are read. Counters are
opened with `inherit` on the threads found at the start, so threads created later are counted by
their creator's counters (their counts join it when they exit, as with perf stat); a thread whose
creator was not counted yet when it was made is opened explicitly at the next tick.
"""

import errno
import os
import select
import struct
import time
from dataclasses import dataclass, field

from pmutop.kernel import perf, procfs, sysfs, tracefs
from pmutop.kernel.uevent import CpuHotplugEvents
from pmutop.live.sampler import group_attr
from pmutop.model.cpulist import parse_cpulist
from pmutop.model.failures import Privileges
from pmutop.model.notices import FD_LIMIT_FIX
from pmutop.model.perf_abi import (
    RECORD_MISC_COMM_EXEC,
    EventAttr,
    EventType,
    MalformedRead,
    ReadFormat,
    RecordType,
    SampleFormat,
    SoftwareEvent,
    group_read_words,
    parse_group_read,
    stopped_at,
)
from pmutop.model.plan import CounterSpec, GroupPlan
from pmutop.model.residency import ResidencyMethod
from pmutop.model.tasks import (
    ProcessState,
    RawMigration,
    TaskCounterRead,
    TaskTick,
)
from pmutop.model.topology import Topology
from pmutop.model.tracepoint import TraceFormat, parse_format, read_field

# Bytes per sched_migrate_task sample (header, tid, time, cpu, raw) and what a busy CPU decides per
# second: a ring holds this many seconds of it between two drains.
MIGRATION_RECORD_BYTES = 96
BUSY_MIGRATIONS_PER_CPU_S = 4000
RING_MIN_PAGES = 16
RING_MAX_PAGES = 256
# All rings together stay below this, however many CPUs.
RING_BUDGET_BYTES = 64 << 20
# While waiting for the next tick the rings are drained when half full (wakeup_watermark), and at
# least this often the online CPUs are checked, so a CPU that comes back gets a ring at once.
SERVICE_INTERVAL_S = 0.05
# Below this many fds left under RLIMIT_NOFILE, no more threads are opened.
FD_RESERVE = 64
_SAMPLE_HEAD = struct.Struct("=IIQII I")
# PERF_RECORD_FORK/EXIT: pid, ppid, tid, ptid, time; then the sample_id trailer.
_TASK_RECORD = struct.Struct("=IIIIQ")
# PERF_RECORD_COMM: pid, tid, comm; the sample_id trailer (pid, tid, time, cpu, res) ends it.
_COMM_HEAD = struct.Struct("=II")
_SAMPLE_ID = struct.Struct("=IIQII")
# A read of the tracepoint fd: count, time_enabled.
_ENABLED_READ = struct.Struct("=QQ")


def ring_pages(cpus: int, interval_s: float) -> int:
    """Data pages per CPU ring: one interval of a busy CPU's migrations, a power of two, in budget."""
    page = os.sysconf("SC_PAGESIZE")
    wanted = BUSY_MIGRATIONS_PER_CPU_S * max(interval_s, SERVICE_INTERVAL_S) * MIGRATION_RECORD_BYTES / page
    budget = RING_BUDGET_BYTES // max(cpus, 1) // page
    pages = RING_MIN_PAGES
    while pages < wanted and pages * 2 <= min(RING_MAX_PAGES, budget):
        pages *= 2
    return pages


@dataclass(frozen=True, slots=True)
class Migration:
    time_ns: int
    tid: int
    comm: str
    from_cpu: int
    to_cpu: int


@dataclass(frozen=True, slots=True)
class TaskCreated:
    """PERF_RECORD_FORK: `tid` of process `pid` made by thread `parent_tid` of `parent_pid`."""

    time_ns: int
    pid: int
    tid: int
    parent_pid: int
    parent_tid: int


@dataclass(frozen=True, slots=True)
class TaskExited:
    time_ns: int
    pid: int
    tid: int


@dataclass(frozen=True, slots=True)
class TaskNamed:
    """PERF_RECORD_COMM: a thread's name set by exec or a rename."""

    time_ns: int
    pid: int
    tid: int
    comm: str
    by_exec: bool


TaskRecord = Migration | TaskCreated | TaskExited | TaskNamed


@dataclass
class MigrationTracer:
    """sched:sched_migrate_task and the task side-band on every online CPU, into per-CPU mmap rings.

    A CPU that goes offline has its ring drained and closed; one that comes (back) online gets a
    new ring the next time sync_cpus() sees it. Records wait in `_pending` until take().
    """

    data_pages: int = RING_MIN_PAGES
    layout: TraceFormat | None = None
    rings: dict[int, perf.RingBuffer] = field(default_factory=dict)
    mounted_here: str | None = None
    # Records the kernel reported lost in rings closed since (a CPU went offline).
    lost_in_closed: int = 0
    # Rings opened for a CPU after the start: each says when, and how long the CPU may have gone untraced.
    reopened: list[str] = field(default_factory=list)
    _attr: EventAttr | None = None
    _pending: list[TaskRecord] = field(default_factory=list)
    _poll: "select.poll | None" = None
    # CPU → the last time it was seen offline (monotonic ns), until it has a ring again.
    _last_seen_offline: dict[int, int] = field(default_factory=dict)
    _opened_ns: dict[int, int] = field(default_factory=dict)
    # CPU → (time_enabled, monotonic ns) at the last look.
    _enabled_seen: dict[int, tuple[int, int]] = field(default_factory=dict)
    # Wakes wait() the moment a CPU comes or goes, so a returning CPU gets its ring at once.
    _hotplug: CpuHotplugEvents | None = None

    def start(self, cpus: tuple[int, ...]) -> str | None:
        """Open the tracepoint on these CPUs; a one-line reason when it cannot be used (the caller falls back)."""
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
        ring_bytes = self.data_pages * os.sysconf("SC_PAGESIZE")
        self._attr = EventAttr(
            type=EventType.TRACEPOINT,
            config=self.layout.id,
            sample_period=1,
            sample_type=SampleFormat.TID | SampleFormat.TIME | SampleFormat.CPU | SampleFormat.RAW,
            use_clockid=True,
            clockid=time.CLOCK_MONOTONIC,
            task=True,
            comm=True,
            sample_id_all=True,
            watermark=True,
            wakeup_events=ring_bytes // 2,
            read_format=ReadFormat.TOTAL_TIME_ENABLED,
        )
        for cpu in cpus:
            problem = self._open(cpu)
            if problem:
                self.close()
                return problem
        self._hotplug = CpuHotplugEvents.open()
        self._rebuild_poll()
        return None

    def _open(self, cpu: int) -> str | None:
        if self._attr is None:  # not started
            return None
        fd = perf.open_event(self._attr, -1, cpu)
        # After the open: time_enabled then never runs ahead of the clock, so a slow open is no false stop.
        opened_ns = time.monotonic_ns()
        if isinstance(fd, perf.OpenFailure):
            if fd.errno == errno.ENODEV:
                self._last_seen_offline.setdefault(cpu, time.monotonic_ns())
                return None  # offline: it gets a ring when it comes back
            return f"sched_migrate_task refused ({fd.name}): needs root, CAP_PERFMON or perf_event_paranoid <= -1"
        ring = perf.RingBuffer.map(fd, self.data_pages)
        if isinstance(ring, perf.OpenFailure):
            perf.close(fd)
            return f"cannot map the migration ring buffer ({ring.name})"
        self.rings[cpu] = ring
        self._opened_ns[cpu] = opened_ns
        self._enabled_seen.pop(cpu, None)
        return None

    def _rebuild_poll(self) -> None:
        self._poll = select.poll()
        for ring in self.rings.values():
            self._poll.register(ring.fd, select.POLLIN)
        if self._hotplug is not None:
            self._poll.register(self._hotplug.fileno(), select.POLLIN)

    def _close_ring(self, cpu: int) -> None:
        ring = self.rings.pop(cpu)
        self._collect_ring(ring)
        self.lost_in_closed += ring.lost
        ring.close()
        perf.close(ring.fd)

    def sync_cpus(self, online: frozenset[int]) -> None:
        """Close the rings of CPUs that left (after draining them); open rings on CPUs that are (back) online.

        A CPU that went offline and came back between two calls leaves its ring silent, not hung up:
        such a ring is found by its time_enabled, which stopped when the CPU left.
        """
        changed = False
        now = time.monotonic_ns()
        for cpu in list(self.rings):
            stopped_at = self._stopped_at(cpu, now)
            if cpu not in online or stopped_at is not None:
                self._close_ring(cpu)
                # Gone now, or (a silent ring) back already: then all that is known is when it stopped.
                self._last_seen_offline[cpu] = stopped_at if cpu in online and stopped_at is not None else now
                changed = True
        for cpu in self._last_seen_offline.keys() - online:
            self._last_seen_offline[cpu] = now
        for cpu in sorted(online - set(self.rings)):
            if self._open(cpu) is None and cpu in self.rings:
                since = self._last_seen_offline.pop(cpu, None)
                if since is not None:
                    self.reopened.append(
                        f"cpu{cpu} went offline and came back: its migration ring was reopened at most "
                        f"{(time.monotonic_ns() - since) / 1e6:.1f} ms after it came back; what cpu{cpu} recorded "
                        "in between (moves it decided, threads made on it) was not seen"
                    )
                changed = True
        if changed:
            self._rebuild_poll()

    def _stopped_at(self, cpu: int, now: int) -> int | None:
        """When a ring's event stopped counting time (its CPU left), or None while it runs."""
        ring = self.rings[cpu]
        try:
            _, enabled = _ENABLED_READ.unpack(os.read(ring.fd, _ENABLED_READ.size))
        except OSError:
            return now
        enabled_before, looked_before = self._enabled_seen.get(cpu, (0, self._opened_ns[cpu]))
        self._enabled_seen[cpu] = (enabled, now)
        return stopped_at(enabled_before, looked_before, enabled, now)

    @property
    def lost(self) -> int:
        return self.lost_in_closed + sum(ring.lost for ring in self.rings.values())

    def wait(self, timeout_s: float) -> None:
        """Sleep up to timeout_s, draining any ring that fills past its watermark, and following hotplug."""
        if self._poll is None:
            time.sleep(max(timeout_s, 0))
            return
        ready = self._poll.poll(max(timeout_s, 0) * 1000)
        if self._hotplug is not None and any(fd == self._hotplug.fileno() for fd, _ in ready):
            self._follow_hotplug(self._hotplug.take())
        if ready:
            self.collect()

    def _follow_hotplug(self, events: list[tuple[bool, int | None]]) -> None:
        """CPU uevents in order: an offline one retires the CPU's ring now, an online one opens a new ring."""
        for came_online, cpu in events:
            if cpu is None or not came_online:
                if cpu in self.rings:
                    self._close_ring(cpu)
                if cpu is not None:
                    self._last_seen_offline[cpu] = time.monotonic_ns()
                continue
            if cpu in self.rings and self._opened_ns[cpu] < self._last_seen_offline.get(cpu, -1):
                self._close_ring(cpu)
        online = online_cpus()
        if online is not None:
            self.sync_cpus(online)
        self._rebuild_poll()

    def collect(self) -> None:
        """Move everything the kernel published into the pending list."""
        for ring in self.rings.values():
            self._collect_ring(ring)

    def _collect_ring(self, ring: perf.RingBuffer) -> None:
        layout = self.layout
        if layout is None:  # never started: no rings either
            return
        pending = self._pending
        for record_type, misc, payload in perf.records(ring.drain()):
            if record_type == RecordType.SAMPLE:
                _, _, when, _, _, size = _SAMPLE_HEAD.unpack_from(payload)
                raw = payload[_SAMPLE_HEAD.size : _SAMPLE_HEAD.size + size]
                pending.append(
                    Migration(
                        time_ns=when,
                        tid=int(read_field(layout, raw, "pid")),
                        comm=str(read_field(layout, raw, "comm")),
                        from_cpu=int(read_field(layout, raw, "orig_cpu")),
                        to_cpu=int(read_field(layout, raw, "dest_cpu")),
                    )
                )
            elif record_type == RecordType.FORK:
                pid, ppid, tid, ptid, when = _TASK_RECORD.unpack_from(payload)
                pending.append(TaskCreated(when, pid, tid, ppid, ptid))
            elif record_type == RecordType.EXIT:
                pid, _, tid, _, when = _TASK_RECORD.unpack_from(payload)
                pending.append(TaskExited(when, pid, tid))
            elif record_type == RecordType.COMM and len(payload) >= _COMM_HEAD.size + _SAMPLE_ID.size:
                pid, tid = _COMM_HEAD.unpack_from(payload)
                name = payload[_COMM_HEAD.size : len(payload) - _SAMPLE_ID.size].split(b"\0", 1)[0]
                when = _SAMPLE_ID.unpack_from(payload, len(payload) - _SAMPLE_ID.size)[2]
                comm = name.decode("utf-8", errors="backslashreplace")
                pending.append(TaskNamed(when, pid, tid, comm, bool(misc & RECORD_MISC_COMM_EXEC)))

    def take(self) -> list[TaskRecord]:
        """Everything recorded since the last take, in time order across CPUs."""
        self.collect()
        records, self._pending = self._pending, []
        records.sort(key=_record_time)
        return records

    def close(self) -> None:
        for cpu in list(self.rings):
            ring = self.rings.pop(cpu)
            ring.close()
            perf.close(ring.fd)
        self._poll = None
        if self._hotplug is not None:
            self._hotplug.close()
            self._hotplug = None
        if self.mounted_here:
            tracefs.unmount_tracefs(self.mounted_here)
            self.mounted_here = None


def _record_time(record: TaskRecord) -> int:
    return record.time_ns


def online_cpus() -> frozenset[int] | None:
    """The CPUs online now, from sysfs; None when that cannot be read."""
    text = sysfs.read_attribute("/sys/devices/system/cpu/online")
    if text is None:
        return None
    try:
        return frozenset(parse_cpulist(text))
    except ValueError:
        return None


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
    # Live threads as /proc shows them at the tick: tid → the CPU it last ran on.
    threads: dict[int, int | None] = field(default_factory=dict)


@dataclass
class _Thread:
    """A thread that belonged to a followed process, alive or exited, while its records may still come."""

    pid: int
    # Since when (monotonic ns) counters count it: its own opened then, or its creator's, inherited
    # when it was made; None when nothing counts it yet.
    counted_since: int | None = None
    exited_ns: int | None = None
    # Ticks it has been gone (exited, or its process ended); forgotten after two.
    gone_ticks: int = 0


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
    interval_s: float = 1.0
    notices: list[str] = field(default_factory=list)
    method: ResidencyMethod = ResidencyMethod.CPU_TASK_CLOCK
    # Threads found only by /proc although the tracer was on: their creation record was lost, so
    # their migrations before that tick were not seen (cumulative).
    threads_seen_late: int = 0
    # Counter reads the kernel cut short (cumulative), in a notice.
    malformed_reads: int = 0
    _malformed_notice: str = ""
    _processes: dict[int, _Process] = field(default_factory=dict)
    _threads: dict[int, _Thread] = field(default_factory=dict)
    _counters: dict[int, _ThreadCounters] = field(default_factory=dict)
    _tracer: MigrationTracer | None = None
    _reader: perf.TickReader | None = None
    _reader_index: list[tuple[int, int, str, str]] = field(default_factory=list)
    _budget_hit: bool = False
    _last_cpu: dict[int, int | None] = field(default_factory=dict)
    _ticks: int = 0
    _reopen_notices: int = 0
    # Moves of tids not known yet, held for one more drain (see _apply).
    _unclaimed: list[Migration] = field(default_factory=list)
    # tid → pid: threads /proc showed before their creation record was read (the kernel lists a new
    # thread a moment before it writes that record); settled at the next tick.
    _unconfirmed: dict[int, int] = field(default_factory=dict)

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
        if self.comm is not None:
            # Looked for now, not only at the first tick: one that runs already is no "not yet".
            self._discover_comm()
            if not any(p.comm == self.comm for p in self._processes.values()):
                self.notices.append(self._waiting_for_comm())
        self.method = (
            ResidencyMethod.CORE_PMU_CYCLES
            if self.topology.is_heterogeneous and self.core_plans
            else ResidencyMethod.CPU_TASK_CLOCK
        )
        # The rings open before /proc is listed: a thread made in between is in both, never in neither.
        online = online_cpus() or frozenset(procfs.read_cpu_times())
        self._tracer = MigrationTracer(data_pages=ring_pages(len(self.topology.cpus), self.interval_s))
        problem = self._tracer.start(tuple(sorted(online)))
        if problem:
            self._tracer = None
            self.notices.append(
                f"Migration log from /proc sampling each tick ({problem}): short stays on a CPU may be missed, "
                "and threads that live less than a tick are not counted."
            )
        return None

    @property
    def tracks_threads(self) -> bool:
        """Whether thread creation is known from the kernel's records (and counters may be inherited)."""
        return self._tracer is not None

    # ------------------------------------------------------------------ discovery
    def _waiting_for_comm(self) -> str:
        return f"no process named {self.comm!r} yet; following it when one starts"

    def _discover_comm(self) -> None:
        for pid, comm in procfs.list_processes():
            if comm == self.comm and pid not in self._processes:
                self._processes[pid] = _Process(pid, comm)
                # Found: the notice that it was awaited no longer holds.
                if self._waiting_for_comm() in self.notices:
                    self.notices.remove(self._waiting_for_comm())

    def _discover(self) -> None:
        if self.comm is not None:
            self._discover_comm()
        if self.include_children:
            for process in list(self._processes.values()):
                if process.alive:
                    for child in procfs.list_children(process.pid):
                        if child not in self._processes:
                            child_comm = procfs.read_comm(child)
                            if child_comm is not None:
                                self._processes[child] = _Process(child, child_comm)

    def _apply(self, records: list[TaskRecord]) -> list[RawMigration]:
        """Fold the tracer's records, in time order, into the thread ledger; the followed migrations.

        The rings are read one after another, so a thread's creation record on one CPU can be read a
        drain after its first move on another: a move of a tid nobody knows yet is held for one more
        drain, then dropped as another task's.
        """
        held, self._unclaimed = self._unclaimed, []
        if held:
            records = sorted(held + records, key=_record_time)
        held_ids = {id(record) for record in held}
        migrations = []
        threads, processes = self._threads, self._processes
        for record in records:
            if isinstance(record, Migration):
                thread = threads.get(record.tid)
                if thread is not None:
                    migrations.append(
                        RawMigration(
                            record.time_ns, thread.pid, record.tid, record.comm, record.from_cpu, record.to_cpu
                        )
                    )
                elif id(record) not in held_ids:
                    self._unclaimed.append(record)
            elif isinstance(record, TaskCreated):
                self._created(record)
            elif isinstance(record, TaskExited):
                thread = threads.get(record.tid)
                if thread is not None:
                    thread.exited_ns = record.time_ns
            else:
                process = processes.get(record.pid)
                if process is None and self.comm is not None and record.comm == self.comm and record.tid == record.pid:
                    processes[record.pid] = _Process(record.pid, record.comm)
                    threads.setdefault(record.tid, _Thread(record.pid))
                elif process is not None and record.tid == record.pid:
                    process.comm = record.comm
        return migrations

    def _created(self, record: TaskCreated) -> None:
        threads, processes = self._threads, self._processes
        is_thread = record.pid == record.parent_pid
        follow = record.pid in processes if is_thread else self.include_children and record.parent_pid in processes
        if not follow:
            # A tid used again by a task nobody follows.
            threads.pop(record.tid, None)
            return
        if not is_thread and record.pid not in processes:
            parent = processes[record.parent_pid]
            processes[record.pid] = _Process(record.pid, parent.comm)
        creator = threads.get(record.parent_tid)
        inherited = (
            creator is not None and creator.counted_since is not None and creator.counted_since <= record.time_ns
        )
        threads[record.tid] = _Thread(record.pid, record.time_ns if inherited else None)

    def _thread_specs(self) -> list[tuple[str, str, list[CounterSpec]]]:
        unprivileged = not self.privileges.privileged
        specs = []
        for pmu, plan in self.core_plans.items():
            members = [c for c in plan.counters if c.name in ("cycles", "instructions")]
            specs.append(("core", pmu, members))
        if self.method is ResidencyMethod.CPU_TASK_CLOCK:
            clock = CounterSpec("task-clock", EventAttr(EventType.SOFTWARE, SoftwareEvent.TASK_CLOCK))
            for cpu in self.topology.online_cpus:
                specs.append(("clock", str(cpu), [clock]))
        # Without privilege, per-task counting is allowed only for user space (paranoid 2). With
        # thread tracking, what a thread creates is counted by its counters (inherit).
        inherit = self.tracks_threads
        return [
            (kind, place, [(_user_only(c) if unprivileged else c).with_flags(inherit=inherit) for c in members])
            for kind, place, members in specs
        ]

    def _open_thread(self, pid: int, tid: int) -> bool:
        specs = self._thread_specs()
        needed = sum(len(members) for _, _, members in specs)
        if self.fds_in_use + needed > self.fd_limit - FD_RESERVE:
            if not self._budget_hit:
                self._budget_hit = True
                self.notices.append(
                    f"fd budget reached ({self.fds_in_use} of RLIMIT_NOFILE {self.fd_limit}): later threads "
                    f"are shown but not counted. Fix: {FD_LIMIT_FIX}."
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
        self._reader = perf.TickReader(fds, group_read_words(widest)) if fds else None

    # ------------------------------------------------------------------ between ticks
    def wait(self, timeout_s: float) -> None:
        """Sleep up to timeout_s while keeping the rings drained and every online CPU traced."""
        if self._tracer is None:
            time.sleep(max(timeout_s, 0))
            return
        end = time.monotonic() + timeout_s
        while True:
            self.service()
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self._tracer.wait(min(remaining, SERVICE_INTERVAL_S))

    def service(self) -> None:
        """Drain the rings and follow CPU hotplug now rather than at the next tick."""
        if self._tracer is not None:
            online = online_cpus()
            if online is not None:
                self._tracer.sync_cpus(online)
            self._tracer.collect()

    # ------------------------------------------------------------------ per tick
    def tick(self, online: frozenset[int] | None = None) -> TaskTick:
        first = self._ticks == 0
        self._ticks += 1
        tracer = self._tracer
        if tracer is not None and online is not None:
            tracer.sync_cpus(online)
        # The records first: a process that exec'd into --comm's name is known from them, not seen late.
        migrations = self._apply(tracer.take()) if tracer else []
        self._discover()
        listed = {}
        for process in self._processes.values():
            if process.alive:
                tids = procfs.list_threads(process.pid)
                if tids is None:
                    process.alive = False
                    process.threads = {}
                else:
                    listed[process.pid] = tids
        if tracer is not None:
            # Threads made while /proc was being listed are in the rings now.
            migrations += self._apply(tracer.take())
        # Threads /proc showed last tick whose creation record has still not come: seen late.
        for tid, pid in self._unconfirmed.items():
            if tid not in self._threads:
                self._threads[tid] = _Thread(pid)
                self.threads_seen_late += 1
        self._unconfirmed = {}
        for pid, tids in listed.items():
            process = self._processes[pid]
            if not process.alive:
                continue
            process.threads = {tid: procfs.thread_cpu(pid, tid) for tid in tids}
            # A followed command shows its own name once it has exec'd.
            self.refresh_comm(pid)
            for tid in tids:
                if tid not in self._threads:
                    if tracer is None or first:
                        self._threads[tid] = _Thread(pid)
                    else:
                        self._unconfirmed[tid] = pid
        changed = False
        for pid, tids in listed.items():
            for tid in tids:
                thread = self._threads.get(tid)
                if (
                    thread is not None
                    and thread.counted_since is None
                    and tid not in self._counters
                    and self._processes[pid].alive
                ):
                    opened_at = time.monotonic_ns()
                    if self._open_thread(pid, tid):
                        thread.counted_since = opened_at
                        changed = True
        if changed:
            self._rebuild_reader()
        now = time.monotonic_ns()
        counters = self._read_counters()
        self._let_go(listed)
        if tracer is None:
            migrations = self._sampled_migrations(now)
        if tracer is not None and len(tracer.reopened) > self._reopen_notices:
            self.notices.extend(tracer.reopened[self._reopen_notices :])
            self._reopen_notices = len(tracer.reopened)
        return TaskTick(
            processes=tuple(
                ProcessState(p.pid, p.comm, p.alive, tuple(sorted(p.threads.items())), p.exit_status)
                for p in self._processes.values()
            ),
            counters=counters,
            migrations=tuple(migrations),
            lost_migrations=tracer.lost if tracer else 0,
            method=self.method,
            threads_seen_late=self.threads_seen_late,
        )

    def _let_go(self, listed: dict[int, list[int]]) -> None:
        """After a tick's final reads: close what can count no more, forget threads gone for good."""
        live = {tid for tids in listed.values() for tid in tids}
        if self.tracks_threads:
            # An exited thread's counter still collects what it created (inherit): it stays open as
            # long as its process lives.
            ended = [tid for tid, c in self._counters.items() if not self._processes[c.pid].alive]
        else:
            ended = [tid for tid in self._counters if tid not in live]
        for tid in ended:
            self._close_thread(tid)
        if ended:
            self._rebuild_reader()
        # A dying thread may still be moved after its exit record, even after a drain has seen that
        # record: it is kept one more tick before it is forgotten.
        forgotten = []
        for tid, thread in self._threads.items():
            if tid not in live and (thread.exited_ns is not None or not self._processes[thread.pid].alive):
                thread.gone_ticks += 1
                if thread.gone_ticks > 1:
                    forgotten.append(tid)
        for tid in forgotten:
            del self._threads[tid]

    def _read_counters(self) -> tuple[TaskCounterRead, ...]:
        if self._reader is None:
            return ()
        status, words = self._reader.read()
        width = self._reader.words_per_fd
        reads = []
        for position, (pid, tid, kind, place) in enumerate(self._reader_index):
            if status[position] <= 0:
                continue
            decoded = parse_group_read(words, position * width, status[position] // 8)
            if isinstance(decoded, MalformedRead):
                self._count_malformed(decoded)
                continue
            enabled, running, values = decoded
            reads.append(TaskCounterRead(pid, tid, kind, place, enabled, running, values))
        return tuple(reads)

    def _count_malformed(self, read: MalformedRead) -> None:
        """A read shorter than its header claims is skipped (its thread has no counts that tick), and shown."""
        if self._malformed_notice and self._malformed_notice in self.notices:
            self.notices.remove(self._malformed_notice)
        self.malformed_reads += 1
        self._malformed_notice = (
            f"{self.malformed_reads} per-thread counter reads were shorter than their header claims "
            f"(the last: {read.words} of {read.claimed} words): skipped, what those threads counted then is "
            "missing from their totals"
        )
        self.notices.append(self._malformed_notice)

    def _sampled_migrations(self, now: int) -> list[RawMigration]:
        """Without the tracepoint: a thread seen on another CPU than last tick has migrated (at least once)."""
        result = []
        for process in self._processes.values():
            for tid, cpu in process.threads.items():
                before = self._last_cpu.get(tid)
                if before is not None and cpu is not None and cpu != before:
                    result.append(RawMigration(now, process.pid, tid, process.comm, before, cpu))
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
    return spec.with_flags(exclude_kernel=True, exclude_hv=True)


def _open_group(members: list[CounterSpec], tid: int, cpu: int) -> list[int]:
    """Open a per-thread group; a refused member is left out, a refused leader gives no group."""
    fds: list[int] = []
    for spec in members:
        fd = perf.open_event(group_attr(spec), tid, cpu, fds[0] if fds else -1)
        if isinstance(fd, perf.OpenFailure):
            if not fds:
                return []
            continue
        fds.append(fd)
    return fds
