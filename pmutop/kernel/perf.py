"""perf_event_open(2) for pmutop: opening events, reading counters, sampling ring buffers.

Everything goes through the C shim in pmutop.kernel._perf (built by _perf_build.py), which owns the
layout of struct perf_event_attr. Expected kernel refusals (an unsupported event, an offline CPU, no
permission) come back as OpenFailure values carrying the errno; explaining them is the model's job.
Calls into the shim release the GIL.
"""

import errno as _errno
import os
import select
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pmutop.kernel._perf import ffi, lib

PERF_TYPE_HARDWARE: int = lib.PERF_TYPE_HARDWARE
PERF_TYPE_SOFTWARE: int = lib.PERF_TYPE_SOFTWARE
PERF_TYPE_TRACEPOINT: int = lib.PERF_TYPE_TRACEPOINT
PERF_TYPE_HW_CACHE: int = lib.PERF_TYPE_HW_CACHE
PERF_TYPE_RAW: int = lib.PERF_TYPE_RAW
PERF_TYPE_BREAKPOINT: int = lib.PERF_TYPE_BREAKPOINT

PERF_COUNT_HW_CPU_CYCLES: int = lib.PERF_COUNT_HW_CPU_CYCLES
PERF_COUNT_HW_INSTRUCTIONS: int = lib.PERF_COUNT_HW_INSTRUCTIONS
PERF_COUNT_HW_CACHE_REFERENCES: int = lib.PERF_COUNT_HW_CACHE_REFERENCES
PERF_COUNT_HW_CACHE_MISSES: int = lib.PERF_COUNT_HW_CACHE_MISSES
PERF_COUNT_HW_BRANCH_INSTRUCTIONS: int = lib.PERF_COUNT_HW_BRANCH_INSTRUCTIONS
PERF_COUNT_HW_BRANCH_MISSES: int = lib.PERF_COUNT_HW_BRANCH_MISSES
PERF_COUNT_HW_BUS_CYCLES: int = lib.PERF_COUNT_HW_BUS_CYCLES
PERF_COUNT_HW_STALLED_CYCLES_FRONTEND: int = lib.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND
PERF_COUNT_HW_STALLED_CYCLES_BACKEND: int = lib.PERF_COUNT_HW_STALLED_CYCLES_BACKEND
PERF_COUNT_HW_REF_CPU_CYCLES: int = lib.PERF_COUNT_HW_REF_CPU_CYCLES

PERF_COUNT_SW_CPU_CLOCK: int = lib.PERF_COUNT_SW_CPU_CLOCK
PERF_COUNT_SW_TASK_CLOCK: int = lib.PERF_COUNT_SW_TASK_CLOCK
PERF_COUNT_SW_PAGE_FAULTS: int = lib.PERF_COUNT_SW_PAGE_FAULTS
PERF_COUNT_SW_CONTEXT_SWITCHES: int = lib.PERF_COUNT_SW_CONTEXT_SWITCHES
PERF_COUNT_SW_CPU_MIGRATIONS: int = lib.PERF_COUNT_SW_CPU_MIGRATIONS
PERF_COUNT_SW_PAGE_FAULTS_MIN: int = lib.PERF_COUNT_SW_PAGE_FAULTS_MIN
PERF_COUNT_SW_PAGE_FAULTS_MAJ: int = lib.PERF_COUNT_SW_PAGE_FAULTS_MAJ
PERF_COUNT_SW_ALIGNMENT_FAULTS: int = lib.PERF_COUNT_SW_ALIGNMENT_FAULTS
PERF_COUNT_SW_EMULATION_FAULTS: int = lib.PERF_COUNT_SW_EMULATION_FAULTS
PERF_COUNT_SW_DUMMY: int = lib.PERF_COUNT_SW_DUMMY

PERF_FORMAT_TOTAL_TIME_ENABLED: int = lib.PERF_FORMAT_TOTAL_TIME_ENABLED
PERF_FORMAT_TOTAL_TIME_RUNNING: int = lib.PERF_FORMAT_TOTAL_TIME_RUNNING
PERF_FORMAT_ID: int = lib.PERF_FORMAT_ID
PERF_FORMAT_GROUP: int = lib.PERF_FORMAT_GROUP

PERF_SAMPLE_IP: int = lib.PERF_SAMPLE_IP
PERF_SAMPLE_TID: int = lib.PERF_SAMPLE_TID
PERF_SAMPLE_TIME: int = lib.PERF_SAMPLE_TIME
PERF_SAMPLE_ADDR: int = lib.PERF_SAMPLE_ADDR
PERF_SAMPLE_READ: int = lib.PERF_SAMPLE_READ
PERF_SAMPLE_CALLCHAIN: int = lib.PERF_SAMPLE_CALLCHAIN
PERF_SAMPLE_ID: int = lib.PERF_SAMPLE_ID
PERF_SAMPLE_CPU: int = lib.PERF_SAMPLE_CPU
PERF_SAMPLE_PERIOD: int = lib.PERF_SAMPLE_PERIOD
PERF_SAMPLE_STREAM_ID: int = lib.PERF_SAMPLE_STREAM_ID
PERF_SAMPLE_RAW: int = lib.PERF_SAMPLE_RAW
PERF_SAMPLE_IDENTIFIER: int = lib.PERF_SAMPLE_IDENTIFIER

PERF_RECORD_MMAP: int = lib.PERF_RECORD_MMAP
PERF_RECORD_LOST: int = lib.PERF_RECORD_LOST
PERF_RECORD_COMM: int = lib.PERF_RECORD_COMM
PERF_RECORD_EXIT: int = lib.PERF_RECORD_EXIT
PERF_RECORD_THROTTLE: int = lib.PERF_RECORD_THROTTLE
PERF_RECORD_UNTHROTTLE: int = lib.PERF_RECORD_UNTHROTTLE
PERF_RECORD_FORK: int = lib.PERF_RECORD_FORK
PERF_RECORD_READ: int = lib.PERF_RECORD_READ
PERF_RECORD_SAMPLE: int = lib.PERF_RECORD_SAMPLE
PERF_RECORD_MMAP2: int = lib.PERF_RECORD_MMAP2
PERF_RECORD_LOST_SAMPLES: int = lib.PERF_RECORD_LOST_SAMPLES
PERF_RECORD_SWITCH: int = lib.PERF_RECORD_SWITCH
PERF_RECORD_SWITCH_CPU_WIDE: int = lib.PERF_RECORD_SWITCH_CPU_WIDE

# The layout TickReader and parse_group_read are built around.
GROUP_READ_FORMAT = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID

_FLAG_BITS = (
    ("disabled", lib.PMT_F_DISABLED),
    ("inherit", lib.PMT_F_INHERIT),
    ("exclude_user", lib.PMT_F_EXCLUDE_USER),
    ("exclude_kernel", lib.PMT_F_EXCLUDE_KERNEL),
    ("exclude_hv", lib.PMT_F_EXCLUDE_HV),
    ("exclude_idle", lib.PMT_F_EXCLUDE_IDLE),
    ("exclude_guest", lib.PMT_F_EXCLUDE_GUEST),
    ("sample_id_all", lib.PMT_F_SAMPLE_ID_ALL),
    ("watermark", lib.PMT_F_WATERMARK),
    ("enable_on_exec", lib.PMT_F_ENABLE_ON_EXEC),
    ("pinned", lib.PMT_F_PINNED),
    ("use_clockid", lib.PMT_F_USE_CLOCKID),
    ("task", lib.PMT_F_TASK),
    ("comm", lib.PMT_F_COMM),
)


@dataclass(frozen=True, slots=True)
class EventAttr:
    """The subset of struct perf_event_attr that pmutop sets; everything else is zero."""

    type: int
    config: int
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


@dataclass(frozen=True, slots=True)
class OpenFailure:
    """A refusal from the kernel, as the errno it returned."""

    errno: int

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, f"errno {self.errno}")


def attr_size() -> int:
    """sizeof(struct perf_event_attr) in the headers the shim was compiled against."""
    return int(lib.pmt_attr_size())


def open_event(attr: EventAttr, pid: int = -1, cpu: int = -1, group_fd: int = -1) -> int | OpenFailure:
    """perf_event_open(2) with O_CLOEXEC; the new fd, or the errno as a value."""
    spec = ffi.new("struct pmt_spec *")
    spec.type = attr.type
    spec.config = attr.config
    spec.config1 = attr.config1
    spec.config2 = attr.config2
    spec.config3 = attr.config3
    spec.sample_period = attr.sample_period
    spec.sample_type = attr.sample_type
    spec.read_format = attr.read_format
    spec.wakeup_events = attr.wakeup_events
    spec.flags = sum(bit for name, bit in _FLAG_BITS if getattr(attr, name))
    spec.clockid = attr.clockid
    fd = lib.pmt_open(spec, pid, cpu, group_fd)
    return fd if fd >= 0 else OpenFailure(-fd)


def _check(rc: int) -> None:
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc))


def close(fd: int) -> None:
    _check(lib.pmt_close(fd))


def enable(fd: int, group: bool = True) -> None:
    _check(lib.pmt_enable(fd, group))


def disable(fd: int, group: bool = True) -> None:
    _check(lib.pmt_disable(fd, group))


def reset(fd: int, group: bool = True) -> None:
    _check(lib.pmt_reset(fd, group))


def event_id(fd: int) -> int:
    """The kernel's id for an event (PERF_EVENT_IOC_ID): what PERF_FORMAT_ID reports next to its value."""
    out = ffi.new("uint64_t *")
    _check(lib.pmt_event_id(fd, out))
    return int(out[0])


def group_read_words(members: int) -> int:
    """u64 words in one GROUP_READ_FORMAT read of a group with this many events (leader included)."""
    return 3 + 2 * members


class TickReader:
    """Reads a fixed set of fds (typically group leaders) in one foreign call per tick.

    read() returns (status, words): status[i] is the byte count read from fds[i], 0 when the kernel
    answers end-of-file (an event in error state, e.g. a pinned event it could not schedule), or -errno
    (ENOSPC: words_per_fd too small). fds[i]'s data is words[i * words_per_fd : i * words_per_fd +
    status[i] // 8] and is stale when status[i] <= 0. An event whose task exited still reads its final
    counts; poll_hup() is what tells that it is over.
    """

    __slots__ = ("_buf", "_fds", "_n", "_status", "_status_view", "_words_view", "words_per_fd")

    def __init__(self, fds: Sequence[int], words_per_fd: int) -> None:
        self._n = len(fds)
        self.words_per_fd = words_per_fd
        self._fds = ffi.new("int[]", list(fds))
        self._buf = ffi.new("uint64_t[]", self._n * words_per_fd)
        self._status = ffi.new("int[]", self._n)
        # memoryview.tolist() converts about twice as fast as ffi.unpack (measured at 512 x 9 words).
        self._words_view = memoryview(ffi.buffer(self._buf)).cast("B").cast("Q")
        self._status_view = memoryview(ffi.buffer(self._status)).cast("B").cast("i")

    def __len__(self) -> int:
        return self._n

    def read(self) -> tuple[list[int], list[int]]:
        lib.pmt_read_tick(self._fds, self._n, self._buf, self.words_per_fd, self._status)
        return self._status_view.tolist(), self._words_view.tolist()


# One counter's read with TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING: value, enabled, running.
COUNTER_READ_FORMAT = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING
_COUNTER_READ = struct.Struct("=QQQ")


def read_counter(fd: int) -> tuple[int, int, int] | OpenFailure:
    """(value, time_enabled, time_running) of a lone counter opened with COUNTER_READ_FORMAT.

    With inherit, the value includes the children that have exited, as perf stat -- CMD reports.
    """
    try:
        data = os.read(fd, _COUNTER_READ.size)
    except OSError as exc:
        return OpenFailure(exc.errno or _errno.EIO)
    if len(data) != _COUNTER_READ.size:
        return OpenFailure(_errno.EIO)
    return _COUNTER_READ.unpack(data)


def parse_group_read(words: Sequence[int], offset: int = 0) -> tuple[int, int, list[tuple[int, int]]]:
    """Decode one GROUP_READ_FORMAT read at words[offset:]: (time_enabled, time_running, [(value, id)]).

    The values are raw: scaling by enabled/running is left to the caller.
    """
    nr = words[offset]
    first = offset + 3
    end = first + 2 * nr
    if end > len(words):
        raise ValueError(f"group read claims {nr} events but only {len(words) - offset} words are present")
    members = [(words[i], words[i + 1]) for i in range(first, end, 2)]
    return words[offset + 1], words[offset + 2], members


# POLLERR/POLLNVAL (a closed fd) mean an event will never count again either.
_DEAD = select.POLLHUP | select.POLLERR | select.POLLNVAL


class HangupPoller:
    """One poll(timeout=0) over a fixed set of fds, with its arrays allocated once; for every tick.

    Only meaningful for fds with a mapped ring (RingBuffer.map, data_pages=0 suffices): the kernel's
    perf_poll() reports POLLHUP unconditionally for an event that has no ring buffer.
    """

    __slots__ = ("_fds", "_n", "_revents")

    def __init__(self, fds: Sequence[int]) -> None:
        self._n = len(fds)
        self._fds = ffi.new("int[]", list(fds))
        self._revents = ffi.new("int[]", max(self._n, 1))

    def hung(self) -> list[int]:
        """Indices of the fds the kernel has hung up (task gone, CPU offline)."""
        ready = lib.pmt_poll_hup(self._fds, self._n, self._revents)
        _check(ready)
        if ready == 0:
            return []
        return [index for index, revents in enumerate(ffi.unpack(self._revents, self._n)) if revents & _DEAD]


def poll_hup(fds: Sequence[int]) -> list[bool]:
    """For each fd, whether the kernel has hung it up: a one-off HangupPoller."""
    hung = set(HangupPoller(fds).hung())
    return [index in hung for index in range(len(fds))]


_HEADER = struct.Struct("=IHH")


def records(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Split drained ring data into (type, misc, payload) by perf_event_header; payload excludes the header."""
    end = len(data)
    pos = 0
    while pos + _HEADER.size <= end:
        rtype, misc, size = _HEADER.unpack_from(data, pos)
        if size < _HEADER.size or pos + size > end:
            raise ValueError(f"malformed perf record at offset {pos}: size {size}, {end - pos} bytes left")
        yield rtype, misc, data[pos + _HEADER.size : pos + size]
        pos += size


class RingBuffer:
    """A mapped sampling ring of one event fd; drain() moves everything the kernel published out of it."""

    __slots__ = ("_base", "_lost", "_out", "_outcap", "data_pages", "fd")

    def __init__(self, fd: int, base: object, data_pages: int) -> None:
        self.fd = fd
        self.data_pages = data_pages
        self._base = base
        # The ring can never hold more than its data area, so one drain always empties it.
        self._outcap = data_pages * os.sysconf("SC_PAGESIZE")
        self._out = ffi.new("uint8_t[]", self._outcap)
        self._lost = ffi.new("uint64_t *")

    @classmethod
    def map(cls, fd: int, data_pages: int = 8) -> "RingBuffer | OpenFailure":
        """mmap the metadata page plus data_pages (0 or a power of two) of ring.

        data_pages=0 maps no ring at all, only the page that makes poll_hup() truthful for the fd.
        """
        if data_pages < 0 or data_pages & (data_pages - 1):
            raise ValueError(f"data_pages must be 0 or a power of two, got {data_pages}")
        base = lib.pmt_ring_map(fd, data_pages)
        if base == ffi.NULL:
            return OpenFailure(ffi.errno)
        return cls(fd, base, data_pages)

    @property
    def lost(self) -> int:
        """Samples the kernel reported dropping (PERF_RECORD_LOST/LOST_SAMPLES) over all drains."""
        return int(self._lost[0])

    def drain(self) -> bytes:
        if self._base is None:
            raise ValueError("ring buffer is unmapped")
        n = lib.pmt_ring_drain(self._base, self._out, self._outcap, self._lost)
        return bytes(ffi.buffer(self._out, n))

    def close(self) -> None:
        """Unmap the ring (the event fd stays open and owned by the caller)."""
        if self._base is not None:
            _check(lib.pmt_ring_unmap(self._base, self.data_pages))
            self._base = None
