"""Recordings made up from a fixture topology, without the kernel: for tests, screenshots and demos.

The counter groups are the ones the sampler opens (a cycles-led group per core PMU per CPU, the
software group, msr where present) and the counts follow a plausible, seeded load: big cores
faster and with higher IPC than small ones, a few CPUs multiplexed so coverage and extrapolation
show, and cumulative values with time_enabled/time_running exactly as the kernel reports them.
Everything is a function of the arguments, so the same call gives byte-identical recordings.
"""

import errno
import math
import random
from dataclasses import dataclass

from pmutop.kernel.sysfs import SysfsRead
from pmutop.live.topology_loader import topology_of
from pmutop.model.event_resolve import SOFTWARE_EVENTS, resolve_events
from pmutop.model.event_syntax import parse_event_lists
from pmutop.model.failures import OpenContext, Privileges, failure
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.tasks import (
    ProcessState,
    RawMigration,
    TaskCounterRead,
    TaskTick,
)
from pmutop.model.topology import Topology
from pmutop.recording.format import Recording, RecordingHeader

USER_HZ = 100
START_NS = 1_000_000_000_000
START_WALL = 1_700_000_000.0
TSC_HZ = 2.9e9
NO_CORE_PMU_NOTICE = (
    "No core PMU on this machine (a VM without a virtual PMU): cycles, instructions, GHz and IPC cannot be "
    "counted; utilisation, context switches, migrations and msr counters still work. "
    "Fix: enable the hypervisor's vPMU (e.g. QEMU -cpu host, a cloud instance type with PMU access)."
)
SOFTWARE_MEMBERS = ("cpu-clock", "context-switches", "cpu-migrations")
# Made-up rates of -e events per instruction (the ones not among pmutop's own counters).
EVENT_PER_INSTRUCTION = {
    "branches": 0.18,
    "branch-instructions": 0.18,
    "branch-misses": 0.004,
    "cache-references": 0.03,
    "cache-misses": 0.008,
    "L1-dcache-loads": 0.3,
    "L1-dcache-load-misses": 0.01,
}
# Software event ids → the member name pmutop's own groups count them under (for cs, migrations...).
SOFTWARE_NAMES = {0: "cpu-clock", 3: "context-switches", 4: "cpu-migrations"}
# -e events on a core PMU share its counters with pmutop's cycles group: they multiplex.
EVENT_COVERAGE_ON_CORE_PMU = 0.75


@dataclass(frozen=True, slots=True)
class CoreProfile:
    """How a kind of core behaves under load in the made-up counts."""

    busy_ghz: float
    ipc: float


# By core-type rank: 0 = the biggest cores (P-cores, A72), 1 = the next (E-cores, A53), ...
PROFILES = (CoreProfile(4.6, 1.9), CoreProfile(3.2, 1.05), CoreProfile(2.0, 0.8))


def _layouts(topology: Topology, privileges: Privileges) -> tuple[GroupLayout, ...]:
    layouts = []
    encoding = Encoding.EXTENDED if topology.is_heterogeneous else Encoding.HARDWARE
    msr = topology.pmu("msr")
    for cpu in topology.cpus:
        if not cpu.online:
            continue
        n = cpu.cpu
        if cpu.core_pmu is not None:
            pmu = topology.pmu(cpu.core_pmu)
            members = ("cycles", "instructions") + (("ref-cycles",) if pmu and "ref-cycles" in pmu.events else ())
            layouts.append(
                GroupLayout(f"core/{cpu.core_pmu}/cpu{n}", n, GroupRole.CORE, cpu.core_pmu, encoding, members)
            )
        else:
            cause = failure(errno.ENOENT, OpenContext("cycles", cpu=n), privileges)
            layouts.append(
                GroupLayout(
                    f"core/cpu/cpu{n}",
                    n,
                    GroupRole.CORE,
                    "cpu",
                    Encoding.HARDWARE,
                    (),
                    failures=(("cycles", cause), ("instructions", cause)),
                )
            )
        layouts.append(GroupLayout(f"software/cpu{n}", n, GroupRole.SOFTWARE, "software", None, SOFTWARE_MEMBERS))
        if msr is not None:
            members = ("tsc",) + (("aperf", "mperf") if "aperf" in msr.events and "mperf" in msr.events else ())
            layouts.append(GroupLayout(f"msr/cpu{n}", n, GroupRole.MSR, "msr", Encoding.PMU_TYPE, members))
    return tuple(layouts)


def _event_layouts(topology: Topology, events: tuple[str, ...]) -> tuple[GroupLayout, ...]:
    """The groups the sampler opens for `-e events` (no tracepoints: a fixture tree has no tracefs)."""
    layouts = []
    for group in resolve_events(parse_event_lists(events), topology) if events else ():
        encoding = group.encodings[0]
        for cpu in topology.online_cpus:
            if group.cpus is None or cpu in group.cpus:
                members = tuple(counter.label for counter in group.counters)
                key = f"cpu{cpu}/events/{group.pmu}/{group.tag}"
                layouts.append(GroupLayout(key, cpu, GroupRole.EVENTS, group.pmu, encoding, members))
    return tuple(layouts)


def _event_count(label: str, true_counts: dict[str, float]) -> float:
    name = label.split(":", 1)[0]
    name = SOFTWARE_NAMES.get(SOFTWARE_EVENTS.get(name, -1), name)
    if name in true_counts:
        return true_counts[name]
    return true_counts["instructions"] * EVENT_PER_INSTRUCTION.get(name, 0.01)


def _coverage(topology: Topology, cpu: int) -> float:
    """Multiplex a few CPUs: the last two of the big cores lightly, the last four of the others heavily."""
    core_type = topology.core_type_of(cpu)
    if core_type is None:
        return 1.0
    pmu = topology.pmu(core_type.pmu)
    members = pmu.cpus if pmu else ()
    if core_type.rank == 0:
        return 0.8 if cpu in members[-2:] else 1.0
    return 0.6 if cpu in members[-4:] else 1.0


class _FollowedTask:
    """A single-threaded busy task that hops between CPUs, with the per-task counters the follower reads.

    On a machine with core PMUs it has a {cycles, instructions} counter per core PMU that runs
    only while the task is on that PMU's CPUs; without, a task-clock per CPU.
    """

    def __init__(self, topology: Topology, pid: int, comm: str, rng: random.Random) -> None:
        self.topology = topology
        self.pid, self.comm = pid, comm
        self.rng = rng
        self.online = sorted(topology.online_cpus)
        self.cpu = self.online[min(2, len(self.online) - 1)]
        self.by_pmu = bool(topology.core_pmus)
        places = [pmu.name for pmu in topology.core_pmus] if self.by_pmu else [str(cpu) for cpu in self.online]
        self.counters = {
            place: TaskCounterRead(
                pid, pid, "core" if self.by_pmu else "clock", place, 0, 0, (0, 0) if self.by_pmu else (0,)
            )
            for place in places
        }
        self.lost = 0

    def advance(self, now_ns: int, interval_ns: int) -> TaskTick:
        migrations = []
        if self.rng.random() < 0.4:
            target = self.rng.choice(self.online)
            if target != self.cpu:
                at = now_ns - interval_ns + self.rng.randrange(interval_ns)
                migrations.append(RawMigration(at, self.pid, self.pid, self.comm, self.cpu, target))
                self.cpu = target
        run_ns = round(interval_ns * 0.95)
        core_type = self.topology.core_type_of(self.cpu)
        profile = PROFILES[min(core_type.rank, len(PROFILES) - 1)] if core_type else PROFILES[0]
        cycles = round(profile.busy_ghz * run_ns)
        here = (core_type.pmu if core_type else None) if self.by_pmu else str(self.cpu)
        for place, old in self.counters.items():
            on_it = place == here
            values = (
                (old.values[0] + cycles, old.values[1] + round(cycles * profile.ipc))
                if self.by_pmu
                else (old.values[0] + run_ns,)
            )
            self.counters[place] = TaskCounterRead(
                self.pid,
                self.pid,
                old.kind,
                place,
                old.enabled + interval_ns,
                old.running + (run_ns if on_it else 0),
                values if on_it else old.values,
            )
        return TaskTick(
            processes=(ProcessState(self.pid, self.comm, True, ((self.pid, self.cpu),)),),
            counters=tuple(self.counters.values()),
            migrations=tuple(migrations),
            lost_migrations=self.lost,
            method=ResidencyMethod.CORE_PMU_CYCLES if self.by_pmu else ResidencyMethod.CPU_TASK_CLOCK,
        )


def synthetic_recording(
    read: SysfsRead,
    *,
    ticks: int = 30,
    interval_s: float = 1.0,
    seed: int = 1,
    host: str = "synthetic",
    kernel: str | None = None,
    privileges: str = "root",
    processes: tuple[tuple[int, str], ...] = (),
    follow: tuple[int, str] | None = None,
    events: tuple[str, ...] = (),
) -> Recording:
    """A recording of `ticks` ticks (the first is the baseline) on the topology of `read`.

    `follow` = (pid, comm) adds a followed task that migrates now and then, across core types too;
    `events` are `-e` arguments, counted as the sampler would open them.
    """
    topology = topology_of(read)
    rights = Privileges(is_root=privileges == "root", has_cap_perfmon=privileges == "CAP_PERFMON", paranoid=None)
    layouts = _layouts(topology, rights) + _event_layouts(topology, events)
    notices = () if topology.core_pmus else (NO_CORE_PMU_NOTICE,)
    header = RecordingHeader(
        host=host,
        kernel=kernel or (read.files.get("proc/sys/kernel/osrelease") or "unknown").strip(),
        privileges=privileges,
        interval_s=interval_s,
        sysfs=read,
        layouts=layouts,
        notices=notices,
        processes=processes + ((follow,) if follow and follow not in processes else ()),
        events=events,
    )
    rng = random.Random(seed)
    task = _FollowedTask(topology, follow[0], follow[1], random.Random(seed + 1)) if follow else None
    online = frozenset(topology.online_cpus)
    phase = {cpu: rng.uniform(0, 2 * math.pi) for cpu in online}
    base_load = {cpu: rng.uniform(0.05, 0.9) for cpu in online}
    reads = {layout.key: GroupRead(0, 0, (0,) * len(layout.members)) for layout in layouts}
    times = {cpu: CpuTimes(busy=5000 + 37 * cpu, total=20000) for cpu in online}
    interval_ns = round(interval_s * 1e9)
    result = []
    for index in range(ticks):
        if index:
            for cpu in sorted(online):
                util = min(1.0, max(0.01, base_load[cpu] + 0.3 * math.sin(index / 4 + phase[cpu])))
                busy_s = util * interval_s
                core_type = topology.core_type_of(cpu)
                profile = PROFILES[min(core_type.rank, len(PROFILES) - 1)] if core_type else PROFILES[0]
                ghz = profile.busy_ghz * rng.uniform(0.93, 1.0)
                ipc = profile.ipc * rng.uniform(0.8, 1.2)
                cycles = ghz * 1e9 * busy_s
                true_counts = {
                    "cycles": cycles,
                    "instructions": cycles * ipc,
                    "ref-cycles": TSC_HZ * busy_s,
                    "cpu-clock": busy_s * 1e9,
                    "context-switches": (200 + 2500 * util) * interval_s * rng.uniform(0.8, 1.2),
                    "cpu-migrations": 30 * util * interval_s * rng.uniform(0.0, 1.5),
                    "tsc": TSC_HZ * interval_s,
                    "aperf": cycles,
                    "mperf": TSC_HZ * busy_s,
                }
                ticks_total = round(USER_HZ * interval_s)
                before = times[cpu]
                times[cpu] = CpuTimes(before.busy + round(util * ticks_total), before.total + ticks_total)
                for layout in layouts:
                    if layout.cpu != cpu or not layout.members:
                        continue
                    coverage = _coverage(topology, cpu) if layout.role is GroupRole.CORE else 1.0
                    event_pmu = topology.pmu(layout.pmu) if layout.role is GroupRole.EVENTS else None
                    if event_pmu is not None and event_pmu.is_core:
                        coverage = EVENT_COVERAGE_ON_CORE_PMU
                    running_ns = round(interval_ns * coverage)
                    old = reads[layout.key]
                    # A multiplexed counter only counts while it is on the PMU.
                    counted = tuple(round(_event_count(member, true_counts) * coverage) for member in layout.members)
                    reads[layout.key] = GroupRead(
                        enabled=old.enabled + interval_ns,
                        running=old.running + running_ns,
                        values=tuple(v + c for v, c in zip(old.values, counted, strict=True)),
                    )
        result.append(
            RawTick(
                index=index,
                monotonic_ns=START_NS + index * interval_ns,
                wall_time=START_WALL + index * interval_s,
                reads={layout.key: reads[layout.key] for layout in layouts if layout.members},
                cpu_times=dict(times),
                online=online,
                tasks=task.advance(START_NS + index * interval_ns, interval_ns) if task else None,
            )
        )
    return Recording(header, tuple(result))
