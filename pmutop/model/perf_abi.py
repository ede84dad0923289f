"""The perf_event ABI as pmutop uses it: its constants, the attribute description, the group read.

This is the one place these facts are written. The values are those of <linux/perf_event.h>, which
Linux keeps stable as user-space ABI (tests/test_perf_abi.py compiles each against the header). The
kernel side (pmutop.kernel.perf) opens an EventAttr as it is: its C shim's struct and flag names are
EventAttr's field names (a test keeps the two sets equal). The model and the kernel side import
nothing of each other (the import contract); the live layer hands one to the other.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag


class EventType(IntEnum):
    """enum perf_type_id (PERF_TYPE_*); a PMU's dynamic type (its sysfs `type`) is any other number."""

    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4


class HardwareEvent(IntEnum):
    """enum perf_hw_id (PERF_COUNT_HW_*): the config of a PERF_TYPE_HARDWARE event."""

    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class SoftwareEvent(IntEnum):
    """enum perf_sw_ids (PERF_COUNT_SW_*): the config of a PERF_TYPE_SOFTWARE event."""

    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


class ReadFormat(IntFlag):
    """enum perf_event_read_format (PERF_FORMAT_*): what a read() of an event returns."""

    TOTAL_TIME_ENABLED = 1 << 0
    TOTAL_TIME_RUNNING = 1 << 1
    ID = 1 << 2
    GROUP = 1 << 3


class SampleFormat(IntFlag):
    """enum perf_event_sample_format (PERF_SAMPLE_*): the fields of a sample, those pmutop asks for."""

    TID = 1 << 1
    TIME = 1 << 2
    CPU = 1 << 7
    RAW = 1 << 10


class RecordType(IntEnum):
    """enum perf_event_type (PERF_RECORD_*): the ring records pmutop decodes (the shim counts the losses)."""

    COMM = 3
    EXIT = 4
    FORK = 7
    SAMPLE = 9


# PERF_RECORD_MISC_COMM_EXEC: a PERF_RECORD_COMM from exec(), not from a rename.
RECORD_MISC_COMM_EXEC = 1 << 13

# One read of a group leader: nr, time_enabled, time_running, then (value, id) per member, leader first.
GROUP_READ_FORMAT = ReadFormat.GROUP | ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING | ReadFormat.ID
# One read of a lone counter: value, time_enabled, time_running.
COUNTER_READ_FORMAT = ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING


@dataclass(frozen=True, slots=True)
class EventAttr:
    """The fields of struct perf_event_attr that pmutop sets; everything else is zero."""

    type: int
    config: int = 0
    config1: int = 0
    config2: int = 0
    config3: int = 0
    sample_period: int = 0
    sample_type: int = 0
    read_format: int = 0
    # With watermark=True this is wakeup_watermark (bytes of ring before poll() reports POLLIN).
    wakeup_events: int = 0
    disabled: bool = False
    inherit: bool = False
    exclude_user: bool = False
    exclude_kernel: bool = False
    exclude_hv: bool = False
    exclude_idle: bool = False
    exclude_guest: bool = False
    sample_id_all: bool = False
    watermark: bool = False
    enable_on_exec: bool = False
    pinned: bool = False
    # With use_clockid, sample times are on this clock; CLOCK_MONOTONIC lines them up with time.monotonic_ns().
    use_clockid: bool = False
    clockid: int = 0
    # Side-band records in the event's ring: PERF_RECORD_FORK/EXIT (task) and PERF_RECORD_COMM (comm).
    task: bool = False
    comm: bool = False


def config_attr(type_: int, words: Mapping[str, int]) -> EventAttr:
    """An event given as config words (a sysfs alias, `-e` terms): the words it names, zero elsewhere."""
    return EventAttr(
        type_, words.get("config", 0), words.get("config1", 0), words.get("config2", 0), words.get("config3", 0)
    )


def group_read_words(members: int) -> int:
    """u64 words in one GROUP_READ_FORMAT read of a group with this many events (leader included)."""
    return 3 + 2 * members


# A CPU-wide event whose time_enabled fell behind the clock by more than this (and 1% of the time
# between the two looks, for the perf clock's drift from CLOCK_MONOTONIC) has stopped: its CPU went
# offline, and an event stays stopped, detached from its CPU, even once the CPU is back. time_enabled
# lags by a millisecond or more on a loaded machine (measured: a 0.5 ms slack closed and reopened live
# migration rings 22 times a minute), while a CPU's offline and online take 100 ms or more.
STOPPED_SLACK_NS = 20_000_000


def has_stopped(enabled_before: int, looked_before_ns: int, enabled: int, now_ns: int) -> bool:
    """Whether a CPU-wide event stopped counting time between two looks (the shim's pmt_decode_groups
    makes the same test of a tick's groups).

    Between two looks a live event's time_enabled grows as the clock does; one that stopped grows less.
    Only deltas are compared: the perf clock and CLOCK_MONOTONIC drift apart over hours.
    """
    elapsed = now_ns - looked_before_ns
    return elapsed - (enabled - enabled_before) > STOPPED_SLACK_NS + elapsed // 100


def stopped_at(enabled_before: int, looked_before_ns: int, enabled: int, now_ns: int) -> int | None:
    """When a CPU-wide event stopped counting time (by the clock of the looks), or None while it runs."""
    if has_stopped(enabled_before, looked_before_ns, enabled, now_ns):
        return looked_before_ns + enabled - enabled_before
    return None


@dataclass(frozen=True, slots=True)
class MalformedRead:
    """A group read shorter than its own header says: `words` were there, `claimed` were needed."""

    words: int
    claimed: int


def parse_group_read(
    words: Sequence[int], offset: int = 0, length: int | None = None
) -> tuple[int, int, tuple[int, ...]] | MalformedRead:
    """Decode the GROUP_READ_FORMAT read of `length` words (all the rest when None) at words[offset:].

    (time_enabled, time_running, member values in group order), or MalformedRead when the read does
    not hold what its header claims: words past it belong to another read, never to this one. The
    values are raw (scaling by enabled/running is the caller's); the ids are dropped.
    """
    # Per tick for every group on every CPU: kept to a few index operations.
    end = len(words) if length is None else min(offset + length, len(words))
    if end - offset < 3:
        return MalformedRead(max(end - offset, 0), group_read_words(0))
    first = offset + 3
    stop = first + 2 * words[offset]
    if stop > end:
        return MalformedRead(end - offset, stop - offset)
    return words[offset + 1], words[offset + 2], tuple(words[first:stop:2])
