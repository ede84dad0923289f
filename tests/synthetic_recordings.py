"""Recordings of a fixture topology made by the product's own Sampler and planner over a scripted kernel.

`synthetic_recording` opens the groups the way `pmutop record` does (pmutop.live.sampler.Sampler, with
the `-e` lists resolved by pmutop.live.event_list), but against scripted_kernel.ScriptedKernel: the
layouts, group keys, encodings, failures and notices are the product's; only the counts are made up.
A followed task's per-task counters and migrations are scripted here (_FollowedTask), in the shape
pmutop.live.tasks.TaskFollower reports them. Everything is a function of the arguments, so the same
call gives byte-identical recordings. For tests, screenshots and benchmarks; never shipped.
"""

import random
from dataclasses import replace

from scripted_kernel import LoadScript, ScriptedKernel, profile_of

from pmutop.kernel.sysfs import SysfsRead
from pmutop.live.event_list import event_groups
from pmutop.live.sampler import Sampler
from pmutop.live.topology_loader import topology_of
from pmutop.model.failures import Privileges
from pmutop.model.residency import ResidencyMethod
from pmutop.model.tasks import ProcessState, RawMigration, TaskCounterRead, TaskTick
from pmutop.model.topology import Topology
from pmutop.recording.format import Recording, RecordingHeader

START_NS = 1_000_000_000_000
START_WALL = 1_700_000_000.0
ROOT = Privileges(is_root=True, has_cap_perfmon=False, paranoid=None)


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
        profile = profile_of(self.topology, self.cpu)
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
            lost_migrations=0,
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
    privileges: Privileges = ROOT,
    processes: tuple[tuple[int, str], ...] = (),
    follow: tuple[int, str] | None = None,
    events: tuple[str, ...] = (),
    cpu_wide: bool = True,
) -> Recording:
    """A recording of `ticks` ticks (the first is the baseline) on the topology of `read`.

    `follow` = (pid, comm) adds a followed task that migrates now and then, across core types too;
    `events` are `-e` arguments (no tracepoints: a fixture tree has no tracefs); `cpu_wide=False` is a
    kernel that refuses CPU-wide counting (perf_event_paranoid 2 without privileges).
    """
    topology = topology_of(read)
    scripted = ScriptedKernel(topology, LoadScript(topology, interval_s, seed), cpu_wide=cpu_wide)
    sampler = Sampler(topology, privileges=privileges, events=event_groups(events, topology, {}), kernel=scripted)
    sampler.open()
    header = RecordingHeader(
        host=host,
        kernel=kernel or (read.files.get("proc/sys/kernel/osrelease") or "unknown").strip(),
        privileges=privileges.describe(),
        interval_s=interval_s,
        sysfs=read,
        layouts=sampler.layouts,
        notices=sampler.notices,
        processes=processes + ((follow,) if follow and follow not in processes else ()),
        events=events,
    )
    task = _FollowedTask(topology, follow[0], follow[1], random.Random(seed + 1)) if follow else None
    interval_ns = round(interval_s * 1e9)
    result = []
    for index in range(ticks):
        if index:
            scripted.advance()
        raw = sampler.read_tick()
        # The script's clock, not this machine's: the same call gives the same recording.
        now_ns = START_NS + index * interval_ns
        raw = replace(
            raw,
            monotonic_ns=now_ns,
            wall_time=START_WALL + index * interval_s,
            tasks=task.advance(now_ns, interval_ns) if task else None,
        )
        result.append(raw)
    sampler.close()
    return Recording(header, tuple(result))
