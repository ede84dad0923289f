"""What to open on which CPU: counter groups per core PMU, software and msr groups, and encodings.

The encoding chooser follows perf (tools/perf/util/pmus.c, parse-events.c):
- one core PMU: plain PERF_TYPE_HARDWARE, the kernel routes it;
- several core PMUs: PERF_TYPE_HARDWARE with the PMU's type in config bits 32-63 (x86 5.13+,
  arm64 6.6+), and where the kernel refuses that, the PMU's own type with the config built from
  its `events/` aliases (cpu_cycles/inst_retired on Arm, cpu-cycles/instructions on Intel);
- never a group mixing PMUs: the kernel rejects it, and it would count nothing useful.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from pmutop.model.encoding import legacy_hybrid_config
from pmutop.model.perf_abi import EventAttr, EventType, HardwareEvent, SoftwareEvent, config_attr
from pmutop.model.samples import Encoding, GroupRole
from pmutop.model.topology import Pmu, Topology

# Generic event → (hardware id, sysfs alias names in the order perf's PMUs spell them).
CORE_EVENTS = {
    "cycles": (HardwareEvent.CPU_CYCLES, ("cpu-cycles", "cycles", "cpu_cycles")),
    "instructions": (HardwareEvent.INSTRUCTIONS, ("instructions", "inst_retired")),
    "ref-cycles": (HardwareEvent.REF_CPU_CYCLES, ("ref-cycles",)),
}
# cycles leads: a group is scheduled as a whole, and without cycles nothing else is worth having.
REQUIRED_CORE_EVENTS = ("cycles", "instructions")
MSR_EVENTS = ("tsc", "aperf", "mperf")


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One event to open: its name and its perf_event_attr (the reader sets read_format)."""

    name: str
    attr: EventAttr
    # An optional member is dropped from its group when the kernel refuses it.
    optional: bool = False

    def with_flags(self, **flags: bool) -> "CounterSpec":
        """The same event with some of its attr's flags (exclude_kernel, inherit, ...) set otherwise."""
        return replace(self, attr=replace(self.attr, **flags))


def event_tag(group: int, part: int) -> str:
    """The tag of the `part`-th kernel group (one per PMU) of the `group`-th item of a `-e` list."""
    return f"e{group}.{part}"


# `eG` alone (a key written by hand) is the group's part 0.
_EVENT_TAG = re.compile(r"/e([0-9]{1,9})(?:\.([0-9]{1,9}))?\Z")


def event_order(key: str) -> tuple[int, int] | None:
    """Where an events group's key (`cpuN/events/PMU/eG.P`, see event_tag) comes in its `-e` list: (G, P).
    The key is what recordings keep of a layout, so the order is read back from it; None when the key
    has no such tag (a recording's key is untrusted text)."""
    match = _EVENT_TAG.search(key)
    return (int(match[1]), int(match[2] or 0)) if match else None


@dataclass(frozen=True, slots=True)
class GroupPlan:
    role: GroupRole
    pmu: str
    encoding: Encoding | None
    counters: tuple[CounterSpec, ...]
    cpu: int = -1
    # Tells apart several groups of one role on one PMU (the user's -e groups).
    tag: str = ""

    @property
    def key(self) -> str:
        key = f"cpu{self.cpu}/{self.role}/{self.pmu}"
        return f"{key}/{self.tag}" if self.tag else key

    def on_cpu(self, cpu: int) -> "GroupPlan":
        return replace(self, cpu=cpu)

    def user_only(self) -> "GroupPlan":
        """Count user space only (perf's `:u`)."""
        return replace(self, counters=tuple(c.with_flags(exclude_kernel=True, exclude_hv=True) for c in self.counters))

    def for_own_tasks(self) -> "GroupPlan":
        """The fallback when CPU-wide counting is denied: pmutop's own process tree, user space only."""
        plan = self.user_only()
        return replace(plan, counters=tuple(c.with_flags(inherit=True) for c in plan.counters))

    def with_exclude_guest(self) -> "GroupPlan":
        """Apple's PMUs refuse events that would count in guests (EOPNOTSUPP); perf retries like this."""
        return replace(self, counters=tuple(c.with_flags(exclude_guest=True) for c in self.counters))

    def without(self, name: str) -> "GroupPlan":
        return replace(self, counters=tuple(c for c in self.counters if c.name != name))


def alias_config(pmu: Pmu, names: tuple[str, ...]) -> dict[str, int] | None:
    for name in names:
        alias = pmu.events.get(name)
        if alias is not None and alias.config is not None:
            return alias.config_words()
    return None


def core_group_candidates(topology: Topology, pmu: Pmu | None) -> tuple[GroupPlan, ...]:
    """Encodings to try for a core PMU's cycles group, best first.

    `pmu` is None on a machine with no core PMU at all: pmutop still asks the kernel (plain
    PERF_TYPE_HARDWARE), so the failure it shows is the kernel's own answer.
    """
    name = pmu.name if pmu else ""
    hardware = _hardware_group(name, Encoding.HARDWARE, lambda hw_id: hw_id)
    if pmu is None:
        return (hardware,)
    candidates = []
    if topology.is_heterogeneous:
        candidates.append(_hardware_group(name, Encoding.EXTENDED, lambda hw_id: legacy_hybrid_config(hw_id, pmu.type)))
    else:
        candidates.append(hardware)
    raw = _alias_group(pmu)
    if raw is not None:
        candidates.append(raw)
    return tuple(candidates)


def _hardware_group(pmu_name: str, encoding: Encoding, config_of: Callable[[int], int]) -> GroupPlan:
    counters = tuple(
        CounterSpec(name, EventAttr(EventType.HARDWARE, config_of(hw_id)), optional=name not in REQUIRED_CORE_EVENTS)
        for name, (hw_id, _) in CORE_EVENTS.items()
    )
    return GroupPlan(GroupRole.CORE, pmu_name, encoding, counters)


def _alias_group(pmu: Pmu) -> GroupPlan | None:
    counters = []
    for name, (_, aliases) in CORE_EVENTS.items():
        words = alias_config(pmu, aliases)
        if words is None:
            if name in REQUIRED_CORE_EVENTS:
                return None
            continue
        counters.append(CounterSpec(name, config_attr(pmu.type, words), optional=name not in REQUIRED_CORE_EVENTS))
    return GroupPlan(GroupRole.CORE, pmu.name, Encoding.RAW_ALIAS, tuple(counters))


def software_group() -> GroupPlan:
    """Counters every Linux kernel has; software events are never multiplexed.

    cpu-clock is not in this group: it belongs to a different kernel PMU (the hrtimer-driven
    cpu_clock) from context-switches and cpu-migrations, and on 6.18 a group mixing the two reads
    0 for the members of the other PMU (measured; perf stat avoids it by reading each fd).
    """
    counters = (
        CounterSpec("context-switches", EventAttr(EventType.SOFTWARE, SoftwareEvent.CONTEXT_SWITCHES)),
        CounterSpec("cpu-migrations", EventAttr(EventType.SOFTWARE, SoftwareEvent.CPU_MIGRATIONS)),
    )
    return GroupPlan(GroupRole.SOFTWARE, "software", Encoding.PMU_TYPE, counters)


def msr_group(topology: Topology) -> GroupPlan | None:
    """x86's msr PMU: tsc always, aperf/mperf where the CPU has them (effective frequency)."""
    pmu = topology.pmu("msr")
    if pmu is None:
        return None
    counters = []
    for name in MSR_EVENTS:
        words = alias_config(pmu, (name,))
        if words is not None:
            counters.append(CounterSpec(name, EventAttr(pmu.type, words.get("config", 0)), optional=name != "tsc"))
    if not counters or counters[0].name != "tsc":
        return None
    return GroupPlan(GroupRole.MSR, "msr", Encoding.PMU_TYPE, tuple(counters))


def covering_core_pmus(topology: Topology, cpu: int) -> tuple[Pmu, ...]:
    return tuple(p for p in topology.core_pmus if cpu in p.cpus)
