"""A kernel for the Sampler (pmutop.live.kernel_port.CounterKernel) that answers from a fixture topology.

It accepts what a kernel with that topology's PMUs would (the hardware type on core PMU CPUs, with the
PMU's type in config bits 32-63 where there are several; each PMU's own type with its sysfs alias
configs; software events; nothing else) and refuses the rest with the errno a kernel gives: ENOENT
for cycles on a machine without a core PMU, for ref-cycles on a PMU that has none, for a CPU outside
a core PMU's; EOPNOTSUPP for an Apple PMU event that would count in guests; EACCES for CPU-wide
counting when `cpu_wide` is False. So the Sampler and planner decide the groups, keys, encodings,
failures and notices exactly as on such a machine.

The counts follow a seeded load (LoadScript), advanced one interval per `advance()`: cumulative values
with time_enabled/time_running as the kernel reports them, a few CPUs multiplexed.
"""

import errno
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pmutop.kernel import perf
from pmutop.model.encoding import PMU_TYPE_SHIFT
from pmutop.model.event_resolve import HARDWARE_ALIASES, HARDWARE_EVENTS, SOFTWARE_EVENTS, cache_config
from pmutop.model.perf_abi import EventAttr, EventType
from pmutop.model.plan import CORE_EVENTS
from pmutop.model.topology import Pmu, Topology

USER_HZ = 100
TSC_HZ = 2.9e9
LOW_32 = (1 << PMU_TYPE_SHIFT) - 1
# What the fake process has open besides counters, and its RLIMIT_NOFILE: room for 448 CPUs' groups.
FDS_OPEN = 8
FD_LIMIT = 1 << 20
FIRST_FD = 100
# Made-up rates per instruction of the events that are not among pmutop's own counters.
EVENT_PER_INSTRUCTION = {
    "branches": 0.18,
    "branch-instructions": 0.18,
    "branch-misses": 0.004,
    "cache-references": 0.03,
    "cache-misses": 0.008,
    "L1-dcache-loads": 0.3,
    "L1-dcache-load-misses": 0.01,
}
OTHER_PER_INSTRUCTION = 0.01
# Groups after the first on a core PMU of a CPU share its counters with it: they multiplex.
LATER_CORE_GROUP_COVERAGE = 0.75
_HARDWARE_NAMES = {hw_id: name for name, hw_id in reversed(HARDWARE_EVENTS.items())} | {0: "cycles", 4: "branches"}
_SOFTWARE_NAMES = {sw_id: name for name, sw_id in reversed(SOFTWARE_EVENTS.items())}
_CACHE_NAMES = {cache_config(name): name for name in ("L1-dcache-loads", "L1-dcache-load-misses")}
# A core PMU's sysfs alias → the generic event it counts (cpu_cycles → cycles, inst_retired → instructions).
_ALIAS_MEANING = {alias: name for name, (_, aliases) in CORE_EVENTS.items() for alias in aliases} | {
    alias: _HARDWARE_NAMES[hw_id] for hw_id, aliases in HARDWARE_ALIASES.items() for alias in aliases
}


@dataclass(frozen=True, slots=True)
class CoreProfile:
    """How a kind of core behaves under load."""

    busy_ghz: float
    ipc: float


# By core-type rank: 0 = the biggest cores (P-cores, A72), 1 = the next (E-cores, A53), ...
PROFILES = (CoreProfile(4.6, 1.9), CoreProfile(3.2, 1.05), CoreProfile(2.0, 0.8))


def profile_of(topology: Topology, cpu: int) -> CoreProfile:
    core_type = topology.core_type_of(cpu)
    return PROFILES[min(core_type.rank, len(PROFILES) - 1)] if core_type else PROFILES[0]


class LoadScript:
    """A plausible, seeded load per CPU: each interval's true counts, and how much a core group runs.

    Big cores are faster and have higher IPC than small ones; every figure is a function of the seed.
    """

    def __init__(self, topology: Topology, interval_s: float, seed: int) -> None:
        self.topology = topology
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.online = tuple(sorted(topology.online_cpus))
        self.phase = {cpu: self.rng.uniform(0, 2 * math.pi) for cpu in self.online}
        self.base_load = {cpu: self.rng.uniform(0.05, 0.9) for cpu in self.online}

    def interval(self, index: int) -> dict[int, tuple[float, dict[str, float]]]:
        """Interval `index` (from 1): per CPU, (utilisation, true count by event name)."""
        result = {}
        for cpu in self.online:
            util = min(1.0, max(0.01, self.base_load[cpu] + 0.3 * math.sin(index / 4 + self.phase[cpu])))
            busy_s = util * self.interval_s
            profile = profile_of(self.topology, cpu)
            ghz = profile.busy_ghz * self.rng.uniform(0.93, 1.0)
            ipc = profile.ipc * self.rng.uniform(0.8, 1.2)
            cycles = ghz * 1e9 * busy_s
            result[cpu] = (
                util,
                {
                    "cycles": cycles,
                    "instructions": cycles * ipc,
                    "ref-cycles": TSC_HZ * busy_s,
                    "cpu-clock": busy_s * 1e9,
                    "context-switches": (200 + 2500 * util) * self.interval_s * self.rng.uniform(0.8, 1.2),
                    "cpu-migrations": 30 * util * self.interval_s * self.rng.uniform(0.0, 1.5),
                    "tsc": TSC_HZ * self.interval_s,
                    "aperf": cycles,
                    "mperf": TSC_HZ * busy_s,
                },
            )
        return result

    def core_coverage(self, cpu: int) -> float:
        """The share of time the first core group of a CPU runs: the last two of the big cores are
        multiplexed lightly, the last four of the others heavily, so coverage and extrapolation show."""
        core_type = self.topology.core_type_of(cpu)
        if core_type is None:
            return 1.0
        pmu = self.topology.pmu(core_type.pmu)
        members = pmu.cpus if pmu else ()
        if core_type.rank == 0:
            return 0.8 if cpu in members[-2:] else 1.0
        return 0.6 if cpu in members[-4:] else 1.0


@dataclass(slots=True)
class _Counter:
    cpu: int
    counts: str
    pmu: Pmu | None
    leader: int
    members: list[int] = field(default_factory=list)
    value: int = 0
    enabled: int = 0
    running: int = 0
    coverage: float = 1.0


@dataclass(frozen=True, slots=True)
class _Reader:
    kernel: "ScriptedKernel"
    leaders: tuple[int, ...]
    words_per_fd: int

    def read(self) -> tuple[list[int], list[int]]:
        status, words = [], []
        for fd in self.leaders:
            leader = self.kernel.counters[fd]
            fds = [fd, *leader.members]
            block = [len(fds), leader.enabled, leader.running]
            for member in fds:
                block += [self.kernel.counters[member].value, member]
            if len(block) > self.words_per_fd:
                status.append(-errno.ENOSPC)
                block = []
            else:
                status.append(8 * len(block))
            words += block + [0] * (self.words_per_fd - len(block))
        return status, words

    def read_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        status, words = self.read()
        return np.array(status, np.int32), np.array(words, np.uint64)

    def sample(self, checks, watch_hangups, stop_check, slack_ns, present, meta, counts):
        """No group ever hangs up here; the reads are decoded by the shim's decoder, on the script's clock."""
        return sample_in_parts(self, self.kernel.clock_ns, checks, stop_check, slack_ns, present, meta, counts)

    def last_read(self, index: int) -> tuple[int, list[int]]:
        status, words = self.read()
        return status[index], words[index * self.words_per_fd : (index + 1) * self.words_per_fd]


def sample_in_parts(reader, clock, checks, stop_check, slack_ns, present, meta, counts):
    """GroupReader.sample made of its parts, for a reader whose reads are scripted or damaged: its
    read_arrays() between two readings of `clock`, decoded by the shim's decoder (no hangups)."""
    before = clock()
    status, words = reader.read_arrays()
    after = clock()
    return perf.decode_group_reads(
        status, words, reader.words_per_fd, checks, stop_check, before, after, slack_ns, present, meta, counts
    )


class _Unmap:
    def close(self) -> None:
        pass


@dataclass(slots=True)
class _CpuTimes:
    kernel: "ScriptedKernel"

    def read(self) -> dict[int, tuple[int, int]]:
        return dict(self.kernel.cpu_times_now)

    def close(self) -> None:
        pass


class ScriptedKernel:
    """pmutop.live.kernel_port.CounterKernel over a fixture topology, counting a LoadScript."""

    def __init__(self, topology: Topology, load: LoadScript, *, cpu_wide: bool = True) -> None:
        self.topology = topology
        self.load = load
        self.cpu_wide = cpu_wide
        self.counters: dict[int, _Counter] = {}
        self.next_fd = FIRST_FD
        self.intervals = 0
        self.cpu_times_now = {cpu: (5000 + 37 * cpu, 20000) for cpu in load.online}

    # ------------------------------------------------------------------ CounterKernel
    def fd_budget(self) -> tuple[int, int]:
        return FD_LIMIT, FDS_OPEN + len(self.counters)

    def open_event(self, attr: EventAttr, pid: int, cpu: int, group_fd: int = -1) -> int | perf.OpenFailure:
        if pid == -1 and not self.cpu_wide:
            return perf.OpenFailure(errno.EACCES)
        if cpu not in self.load.online:
            return perf.OpenFailure(errno.ENODEV)
        found = self._event(attr, cpu)
        if isinstance(found, int):
            return perf.OpenFailure(found)
        counts, pmu = found
        if pmu is not None and pmu.base_name.startswith("apple_") and not attr.exclude_guest:
            return perf.OpenFailure(errno.EOPNOTSUPP)
        fd = self.next_fd
        self.next_fd += 1
        counter = _Counter(cpu, counts, pmu, leader=fd if group_fd == -1 else group_fd)
        if group_fd == -1:
            counter.coverage = self._coverage(cpu, pmu)
        else:
            self.counters[group_fd].members.append(fd)
        self.counters[fd] = counter
        return fd

    def close(self, fd: int) -> None:
        counter = self.counters.pop(fd)
        if counter.leader != fd and counter.leader in self.counters:
            self.counters[counter.leader].members.remove(fd)

    def hangup_probe(self, leader: int) -> _Unmap:
        return _Unmap()

    def group_reader(self, leaders: Sequence[int], words_per_fd: int) -> _Reader:
        return _Reader(self, tuple(leaders), words_per_fd)

    def cpu_times(self) -> _CpuTimes:
        return _CpuTimes(self)

    def clock_ns(self) -> int:
        """The script's own clock: counters' time_enabled grows with it, an interval per advance()."""
        return self.intervals * round(self.load.interval_s * 1e9)

    # ------------------------------------------------------------------ the script
    def advance(self) -> None:
        """One interval passes: every open counter counts its share of the load."""
        self.intervals += 1
        interval_ns = round(self.load.interval_s * 1e9)
        ticks = round(USER_HZ * self.load.interval_s)
        loads = self.load.interval(self.intervals)
        for cpu, (util, _) in loads.items():
            busy, total = self.cpu_times_now[cpu]
            self.cpu_times_now[cpu] = (busy + round(util * ticks), total + ticks)
        for counter in self.counters.values():
            group = self.counters[counter.leader]
            true_counts = loads[counter.cpu][1]
            if counter.counts in true_counts:
                count = true_counts[counter.counts]
            else:
                rate = EVENT_PER_INSTRUCTION.get(counter.counts, OTHER_PER_INSTRUCTION)
                count = true_counts["instructions"] * rate
            # A multiplexed counter only counts while its group is on the PMU.
            counter.value += round(count * group.coverage)
            counter.enabled += interval_ns
            counter.running += round(interval_ns * group.coverage)

    def _coverage(self, cpu: int, pmu: Pmu | None) -> float:
        if pmu is None or not pmu.is_core:
            return 1.0
        earlier = any(
            c.leader == fd and c.cpu == cpu and c.pmu is not None and c.pmu.name == pmu.name
            for fd, c in self.counters.items()
        )
        return LATER_CORE_GROUP_COVERAGE if earlier else self.load.core_coverage(cpu)

    def _event(self, attr: EventAttr, cpu: int) -> tuple[str, Pmu | None] | int:
        """(the event name the load counts, its PMU), or the errno a kernel refuses it with."""
        if attr.type == EventType.SOFTWARE:
            name = _SOFTWARE_NAMES.get(attr.config)
            return (name, None) if name else errno.ENOENT
        if attr.type in (EventType.HARDWARE, EventType.HW_CACHE):
            pmu = self._core_pmu(attr.config >> PMU_TYPE_SHIFT, cpu)
            if isinstance(pmu, int):
                return pmu
            if attr.type == EventType.HW_CACHE:
                return _CACHE_NAMES.get(attr.config & LOW_32, "cache"), pmu
            name = _HARDWARE_NAMES.get(attr.config & LOW_32)
            if name is None or (name == "ref-cycles" and "ref-cycles" not in pmu.events):
                return errno.ENOENT
            return name, pmu
        owner = next((p for p in self.topology.pmus if p.type == attr.type), None)
        if owner is None or (owner.is_core and cpu not in owner.cpus):
            return errno.ENOENT
        words = {"config": attr.config, "config1": attr.config1, "config2": attr.config2, "config3": attr.config3}
        for alias_name, alias in owner.events.items():
            alias_words = alias.config_words()
            if alias_words is not None and all(alias_words.get(k, 0) == v for k, v in words.items()):
                return _ALIAS_MEANING.get(alias_name, alias_name) if owner.is_core else alias_name, owner
        return "raw", owner

    def _core_pmu(self, extended_type: int, cpu: int) -> Pmu | int:
        """The core PMU a hardware event counts on: the one named in config bits 32-63, else the CPU's."""
        covering = [pmu for pmu in self.topology.core_pmus if cpu in pmu.cpus]
        if extended_type:
            covering = [pmu for pmu in covering if pmu.type == extended_type]
        return covering[0] if covering else errno.ENOENT
