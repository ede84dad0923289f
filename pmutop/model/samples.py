"""What the sampler hands the model each tick: raw counter reads and CPU times, nothing computed.

Raw values (not rates) are what a recording stores, so a replay recomputes every figure with
the same arithmetic as the live view.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class GroupRole(StrEnum):
    """Why a counter group exists; each role has a fixed set of possible members."""

    CORE = "core"  # cycles-led hardware group on one core PMU
    SOFTWARE = "software"  # context-switches, cpu-migrations
    MSR = "msr"  # tsc, aperf, mperf
    EVENTS = "events"  # events the user named with -e, on one PMU; members are their labels


class Encoding(StrEnum):
    """How generic hardware events were aimed at a core PMU (the kernel decides which works)."""

    HARDWARE = "hardware"  # PERF_TYPE_HARDWARE, one core PMU: the kernel picks it
    EXTENDED = "extended"  # PERF_TYPE_HARDWARE with the PMU type in config bits 32-63
    RAW_ALIAS = "raw-alias"  # attr.type = the PMU's own type, config from its events/ aliases
    PMU_TYPE = "pmu-type"  # attr.type = the PMU's own type, config from format/ (software, msr)


@dataclass(frozen=True, slots=True)
class CounterFailure:
    """A counter that could not be opened or read, with a one-line explanation that names the fix."""

    errno: int
    errno_name: str
    explanation: str


@dataclass(frozen=True, slots=True)
class GroupLayout:
    """One opened (or attempted) counter group: which CPU and PMU, and which members it holds."""

    key: str
    cpu: int
    role: GroupRole
    pmu: str
    encoding: Encoding | None
    members: tuple[str, ...]
    # Members that could not be opened, by counter name (e.g. ref-cycles refused by the PMU),
    # or every wanted member when the whole group failed.
    failures: tuple[tuple[str, CounterFailure], ...] = ()
    # How the group was attributed: "cpu" (system-wide on that CPU) or "self" (pmutop's own
    # process tree with exclude_kernel, the fallback when system-wide counting is denied).
    scope: str = "cpu"


@dataclass(frozen=True, slots=True)
class GroupRead:
    """A PERF_FORMAT_GROUP read: cumulative times and member values since the group was opened.

    `generation` changes whenever the group is reopened (after CPU hotplug), which restarts its
    counts: the model then takes a new baseline instead of computing a delta across the gap.
    """

    enabled: int
    running: int
    values: tuple[int, ...]
    generation: int = 0


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative /proc/stat ticks (USER_HZ) for one CPU."""

    busy: int
    total: int


@dataclass(frozen=True)
class RawTick:
    index: int
    # CLOCK_MONOTONIC nanoseconds when the reads were taken; the interval is the difference.
    monotonic_ns: int
    wall_time: float
    reads: dict[str, GroupRead]
    cpu_times: dict[int, CpuTimes]
    online: frozenset[int]
    # Groups that were not read this tick and why (offline CPU, dead fd), by group key.
    lost: dict[str, CounterFailure] = field(default_factory=dict)
    # The group layouts, present on the first tick and whenever they changed (a CPU came online
    # and its groups opened for the first time); None means "as before".
    layouts: tuple[GroupLayout, ...] | None = None
    # Task-following raw data for the tick (see pmutop.model.tasks); None when not following.
    tasks: object | None = None
