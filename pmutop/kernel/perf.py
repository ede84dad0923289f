"""perf_event_open(2) for pmutop: opening events, reading counters, sampling ring buffers.

Everything goes through the C shim in pmutop.kernel._perf (built by pmutop/_build.py), which owns the
layout of struct perf_event_attr. Expected kernel refusals (an unsupported event, an offline CPU, no
permission) come back as OpenFailure values carrying the errno; explaining them is the model's job.
Calls into the shim release the GIL.
"""

import errno as _errno
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pmutop.kernel._perf import ffi, lib

# The attribute description is the model's (pmutop.model.perf_abi.EventAttr), which this side may not
# import: open_event() reads from it the fields of the shim's struct pmt_spec and the flags of its enum
# pmt_flag, by the same names (pmt_spec.config3 is attr.config3, PMT_F_EXCLUDE_KERNEL attr.exclude_kernel),
# so the C header is this side's only list of them. tests/test_kernel_perf.py keeps the two sets equal.
_SPEC_FIELDS = tuple(name for name, _ in ffi.typeof("struct pmt_spec").fields if name != "flags")
_FLAG_BITS = tuple(
    (name.removeprefix("PMT_F_").lower(), bit) for bit, name in sorted(ffi.typeof("enum pmt_flag").elements.items())
)


@dataclass(frozen=True, slots=True)
class OpenFailure:
    """A refusal from the kernel, as the errno it returned."""

    errno: int

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, f"errno {self.errno}")


def open_event(attr: object, pid: int = -1, cpu: int = -1, group_fd: int = -1) -> int | OpenFailure:
    """perf_event_open(2) with O_CLOEXEC of a pmutop.model.perf_abi.EventAttr; the new fd, or the errno as a value."""
    spec = ffi.new("struct pmt_spec *")
    for name in _SPEC_FIELDS:
        setattr(spec, name, getattr(attr, name))
    spec.flags = sum(bit for name, bit in _FLAG_BITS if getattr(attr, name))
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


class TickReader:
    """Reads a fixed set of fds (typically group leaders) in one foreign call per tick.

    read() returns (status, words): status[i] is the byte count read from fds[i], 0 when the kernel
    answers end-of-file (an event in error state, e.g. a pinned event it could not schedule), or -errno
    (ENOSPC: words_per_fd too small). fds[i]'s data is words[i * words_per_fd : i * words_per_fd +
    status[i] // 8] and is stale when status[i] <= 0. An event whose task exited still reads its final
    counts; sample(watch_hangups=True) is what tells that it is over.
    """

    __slots__ = (
        "_buf",
        "_fds",
        "_n",
        "_revents",
        "_status",
        "_status_view",
        "_verdict",
        "_verdict_view",
        "_words_view",
        "words_per_fd",
    )

    def __init__(self, fds: Sequence[int], words_per_fd: int) -> None:
        self._n = len(fds)
        self.words_per_fd = words_per_fd
        self._fds = ffi.new("int[]", list(fds))
        self._buf = ffi.new("uint64_t[]", self._n * words_per_fd)
        self._status = ffi.new("int[]", self._n)
        self._revents = ffi.new("int[]", max(self._n, 1))
        self._verdict = np.zeros(self._n, np.uint8)
        self._verdict_view = ffi.from_buffer("uint8_t[]", self._verdict, require_writable=True)
        # memoryview.tolist() converts about twice as fast as ffi.unpack (measured at 512 x 9 words).
        self._words_view = memoryview(ffi.buffer(self._buf)).cast("B").cast("Q")
        self._status_view = memoryview(ffi.buffer(self._status)).cast("B").cast("i")

    def read(self) -> tuple[list[int], list[int]]:
        lib.pmt_read_tick(self._fds, self._n, self._buf, self.words_per_fd, self._status)
        return self._status_view.tolist(), self._words_view.tolist()

    def read_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """As read(), as arrays (int32 status, uint64 words) of their own: what bulk arithmetic takes,
        with no Python int per word on the way (at 448 CPUs a tick is over ten thousand words)."""
        lib.pmt_read_tick(self._fds, self._n, self._buf, self.words_per_fd, self._status)
        return np.array(self._status_view, np.int32), np.array(self._words_view, np.uint64)

    def sample(
        self,
        checks: "GroupChecks",
        watch_hangups: bool,
        stop_check: bool,
        slack_ns: int,
        present: np.ndarray,
        meta: np.ndarray,
        counts: np.ndarray,
    ) -> tuple[int, np.ndarray]:
        """A tick of these groups in one foreign call: with `watch_hangups`, the fds the kernel hung up
        (POLLHUP, POLLERR or POLLNVAL from a poll: task gone, CPU offline; meaningful only for leaders
        with a mapped ring, as the kernel says POLLHUP for any event without one), then the reads,
        between two readings of time.monotonic_ns's clock, decoded into the columns as
        decode_group_reads does. A hung-up group's verdict is READ_NO_ANSWER. (how many groups were not
        whole, a verdict per group: an array of the reader's own, rewritten by the next call)."""
        troubled = lib.pmt_sample_groups(
            self._fds,
            self._n,
            self._buf,
            self.words_per_fd,
            self._status,
            self._revents,
            watch_hangups,
            checks._struct,
            stop_check,
            slack_ns,
            ffi.from_buffer("uint8_t[]", present, require_writable=True),
            ffi.from_buffer("int64_t[]", meta, require_writable=True),
            ffi.from_buffer("uint64_t[]", counts, require_writable=True),
            counts.shape[1],
            self._verdict_view,
        )
        _check(troubled)
        return troubled, self._verdict

    def last_read(self, index: int) -> tuple[int, list[int]]:
        """The status and words of fds[index] at the last read or sample."""
        width = self.words_per_fd
        return self._status[index], self._words_view[index * width : (index + 1) * width].tolist()


# What decode_group_reads says of each group's read (enum pmt_verdict).
READ_WHOLE, READ_NO_ANSWER, READ_MALFORMED, READ_GONE = (
    lib.PMT_READ_WHOLE,
    lib.PMT_READ_NO_ANSWER,
    lib.PMT_READ_MALFORMED,
    lib.PMT_READ_GONE,
)


class GroupChecks:
    """What each of a fixed set of groups' reads is checked against (its row of the columns, member
    count, generation) and its last look (time_enabled, the clock after the read), as int64 arrays
    that decode_group_reads reads and updates in place."""

    __slots__ = ("_struct", "generations", "looked_at", "looked_enabled", "members", "rows")

    @classmethod
    def of(
        cls, rows: list[int], members: list[int], generations: list[int], looks: list[tuple[int, int]]
    ) -> "GroupChecks":
        return cls(
            np.array(rows, np.int64),
            np.array(members, np.int64),
            np.array(generations, np.int64),
            np.array([enabled for enabled, _at in looks], np.int64),
            np.array([at for _enabled, at in looks], np.int64),
        )

    def __init__(
        self, rows: np.ndarray, members: np.ndarray, generations: np.ndarray, looked: np.ndarray, at: np.ndarray
    ) -> None:
        self.rows, self.members, self.generations = rows, members, generations
        self.looked_enabled, self.looked_at = looked, at
        # The pointers into the arrays, made once: the arrays live as long as this object.
        self._struct = ffi.new(
            "struct pmt_groups *",
            {
                "n": len(rows),
                "rows": ffi.from_buffer("int64_t[]", rows),
                "members": ffi.from_buffer("int64_t[]", members),
                "generations": ffi.from_buffer("int64_t[]", generations),
                "looked_enabled": ffi.from_buffer("int64_t[]", looked, require_writable=True),
                "looked_at": ffi.from_buffer("int64_t[]", at, require_writable=True),
            },
        )


def decode_group_reads(
    status: np.ndarray,
    words: np.ndarray,
    words_per_fd: int,
    checks: GroupChecks,
    stop_check: bool,
    before_ns: int,
    after_ns: int,
    slack_ns: int,
    present: np.ndarray,
    meta: np.ndarray,
    counts: np.ndarray,
) -> tuple[int, np.ndarray]:
    """Decode a tick's group reads (TickReader.read_arrays) into the columns, in one foreign call:
    (how many groups were not whole, a verdict per group: READ_*)."""
    verdict = np.zeros(len(checks.rows), np.uint8)
    troubled = lib.pmt_decode_groups(
        ffi.from_buffer("int[]", status),
        ffi.from_buffer("uint64_t[]", words),
        words_per_fd,
        checks._struct,
        stop_check,
        before_ns,
        after_ns,
        slack_ns,
        _columns(present, meta, counts),
        ffi.from_buffer("uint8_t[]", verdict, require_writable=True),
    )
    return troubled, verdict


def _columns(present: np.ndarray, meta: np.ndarray, counts: np.ndarray) -> object:
    """The C view of a tick's columns (GroupReads' arrays), which the decoder fills."""
    return ffi.new(
        "struct pmt_columns *",
        {
            "present": ffi.from_buffer("uint8_t[]", present, require_writable=True),
            "meta": ffi.from_buffer("int64_t[]", meta, require_writable=True),
            "values": ffi.from_buffer("uint64_t[]", counts, require_writable=True),
            "width": counts.shape[1],
        },
    )


# One counter's read with the model's COUNTER_READ_FORMAT: value, enabled, running.
_COUNTER_READ = struct.Struct("=QQQ")


def read_counter(fd: int) -> tuple[int, int, int] | OpenFailure:
    """(value, time_enabled, time_running) of a lone counter read with the model's COUNTER_READ_FORMAT.

    With inherit, the value includes the children that have exited, as perf stat -- CMD reports.
    """
    try:
        data = os.read(fd, _COUNTER_READ.size)
    except OSError as exc:
        return OpenFailure(exc.errno or _errno.EIO)
    if len(data) != _COUNTER_READ.size:
        return OpenFailure(_errno.EIO)
    return _COUNTER_READ.unpack(data)


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
