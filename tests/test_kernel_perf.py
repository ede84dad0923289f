"""pmutop.kernel.perf against the real kernel: no mocks, the events are opened for real."""

import errno
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmutop.kernel import perf
from pmutop.kernel.perf import OpenFailure
from pmutop.model.perf_abi import (
    GROUP_READ_FORMAT,
    EventAttr,
    EventType,
    HardwareEvent,
    RecordType,
    SampleFormat,
    SoftwareEvent,
    group_read_words,
    parse_group_read,
)

IS_ROOT = os.geteuid() == 0
TRACEFS = Path("/sys/kernel/tracing")


def needs_root(test):
    reason = "needs root: CPU-wide events, tracepoints and mounting tracefs are refused to normal users"
    return pytest.mark.needs_root(pytest.mark.skipif(not IS_ROOT, reason=reason)(test))


def online_cpus() -> list[int]:
    cpus = []
    for part in Path("/sys/devices/system/cpu/online").read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.fixture
def opened():
    """Opens events for a test and closes whatever it opened afterwards; failures fail the test."""
    fds: list[int] = []

    def open_ok(attr: EventAttr, **where: int) -> int:
        fd = perf.open_event(attr, **where)
        assert not isinstance(fd, OpenFailure), f"{attr} {where}: {fd.name}"
        fds.append(fd)
        return fd

    yield open_ok
    for fd in reversed(fds):
        perf.close(fd)


def sw(config: int, **kw) -> EventAttr:
    return EventAttr(EventType.SOFTWARE, config, read_format=GROUP_READ_FORMAT, **kw)


@needs_root
def test_software_group_per_cpu_reads_in_one_tick(opened):
    cpus = online_cpus()
    members = (SoftwareEvent.CONTEXT_SWITCHES, SoftwareEvent.CPU_MIGRATIONS)
    leaders = []
    for cpu in cpus:
        leader = opened(sw(SoftwareEvent.CPU_CLOCK), cpu=cpu)
        for member in members:
            opened(sw(member), cpu=cpu, group_fd=leader)
        leaders.append(leader)
    words = group_read_words(3)
    reader = perf.TickReader(leaders, words)

    busy_cpu = cpus[0]
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {busy_cpu})
    try:
        before_first = time.monotonic_ns()
        status1, words1 = reader.read()
        after_first = time.monotonic_ns()
        busy(0.3)
        before_second = time.monotonic_ns()
        status2, words2 = reader.read()
        after_second = time.monotonic_ns()
    finally:
        os.sched_setaffinity(0, affinity)

    assert status1 == status2 == [8 * words] * len(cpus)
    for i, cpu in enumerate(cpus):
        enabled1, running1, values1 = parse_group_read(words1, i * words, status1[i] // 8)
        enabled2, running2, values2 = parse_group_read(words2, i * words, status2[i] // 8)
        assert enabled2 > enabled1 and running2 > running1
        assert len(values2) == 3
        assert all(v2 >= v1 for v1, v2 in zip(values1, values2, strict=True))
        if cpu == busy_cpu:
            # A CPU-wide cpu-clock counts elapsed time on its CPU, busy or not, however loaded: between
            # the two reads, so within the clock's times around them (plus a little for the two clocks).
            clock_delta = values2[0] - values1[0]
            assert 0.99 * (before_second - after_first) < clock_delta < 1.01 * (after_second - before_first)


def test_task_clock_follows_this_task_and_enable_disable_work(opened):
    # exclude_kernel keeps this within perf_event_paranoid=2, so it runs unprivileged too.
    leader = opened(sw(SoftwareEvent.TASK_CLOCK, disabled=True, exclude_kernel=True), pid=0)
    opened(sw(SoftwareEvent.PAGE_FAULTS, exclude_kernel=True), pid=0, group_fd=leader)
    reader = perf.TickReader([leader], group_read_words(2))

    def clock() -> int:
        status, words = reader.read()
        assert status == [8 * group_read_words(2)]
        return parse_group_read(words)[2][0]

    busy(0.05)
    assert clock() == 0, "disabled=True must reach the kernel"
    # Bounds from this thread's own times over the same window, not from the busy loop's length: on a
    # loaded machine the loop gets only part of a CPU, and task-clock must say that part. It is at least
    # the scheduler's runtime (CLOCK_THREAD_CPUTIME_ID) and, on a VM, may add the host's steal time,
    # which the scheduler leaves out; it can never pass the wall time.
    wall_before, cpu_before = time.monotonic_ns(), time.thread_time_ns()
    perf.enable(leader)
    busy(0.2)
    perf.disable(leader)
    on_cpu, wall = time.thread_time_ns() - cpu_before, time.monotonic_ns() - wall_before
    counted = clock()
    assert 0.95 * on_cpu < counted <= wall
    busy(0.05)
    assert clock() == counted


def test_hardware_cycles_open_or_enoent(opened):
    attr = EventAttr(EventType.HARDWARE, HardwareEvent.CPU_CYCLES, exclude_kernel=True, exclude_hv=True)
    fd = perf.open_event(attr, pid=0)
    if isinstance(fd, OpenFailure):
        # No hardware PMU (e.g. a VM without PMU passthrough): the kernel finds no PMU for type 0.
        assert fd.name == "ENOENT"
        return
    try:
        busy(0.05)
        status, words = perf.TickReader([fd], 1).read()
        assert status == [8]
        assert words[0] > 0
    finally:
        perf.close(fd)


@needs_root
def test_msr_tsc_ticks_at_gigahertz_rate(opened):
    pmu = Path("/sys/bus/event_source/devices/msr")
    if not (pmu / "events" / "tsc").exists():
        pytest.skip("no msr PMU with a tsc event on this machine")
    assert (pmu / "events" / "tsc").read_text().strip() == "event=0x00"
    msr_type = int((pmu / "type").read_text())
    cpus = online_cpus()
    reader = perf.TickReader([opened(EventAttr(msr_type, 0), cpu=cpu) for cpu in cpus], 1)

    before_first = time.monotonic_ns()
    status1, tsc1 = reader.read()
    after_first = time.monotonic_ns()
    time.sleep(0.2)
    before_second = time.monotonic_ns()
    status2, tsc2 = reader.read()
    after_second = time.monotonic_ns()
    assert status1 == status2 == [8] * len(cpus)
    # The TSC ticks between the reads, which lie within the clock's times around them: the rate is bracketed
    # whatever a loaded machine does between the calls; some rate inside the bracket is a GHz figure.
    for before, after in zip(tsc1, tsc2, strict=True):
        slowest, fastest = (
            (after - before) / (after_second - before_first),
            (after - before) / (before_second - after_first),
        )
        assert slowest < 10 and fastest > 0.5


def test_invalid_cpu_is_a_value_not_an_exception():
    failure = perf.open_event(sw(SoftwareEvent.TASK_CLOCK, exclude_kernel=True), pid=0, cpu=1 << 20)
    assert failure == OpenFailure(errno.EINVAL)
    assert failure.name == "EINVAL"


def test_bad_group_fd_is_ebadf():
    attr = sw(SoftwareEvent.TASK_CLOCK, exclude_kernel=True)
    stale = perf.open_event(attr, pid=0)
    assert isinstance(stale, int)
    perf.close(stale)
    read_end, write_end = os.pipe()
    try:
        assert perf.open_event(attr, pid=0, group_fd=stale) == OpenFailure(errno.EBADF)
        # A live fd that is not a perf event is refused the same way.
        assert perf.open_event(attr, pid=0, group_fd=read_end) == OpenFailure(errno.EBADF)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_pollhup_after_task_exit(opened):
    child = subprocess.Popen(["sleep", "60"])
    try:
        mapped = opened(sw(SoftwareEvent.TASK_CLOCK, exclude_kernel=True), pid=child.pid)
        unmapped = opened(sw(SoftwareEvent.TASK_CLOCK, exclude_kernel=True), pid=child.pid)
        ring = perf.RingBuffer.map(mapped, data_pages=0)
        assert isinstance(ring, perf.RingBuffer), ring
        try:
            reader = perf.TickReader([mapped, unmapped], group_read_words(1))

            def hung_up() -> list[int]:
                checks = perf.GroupChecks.of([0, 1], [1, 1], [0, 0], [(0, 0), (0, 0)])
                columns = np.zeros(3, bool), np.zeros((3, 4), np.int64), np.zeros((3, 1), np.uint64)
                _, verdict = reader.sample(checks, True, False, 0, *columns)
                hung = [index for index, kind in enumerate(verdict.tolist()) if kind == perf.READ_NO_ANSWER]
                assert not columns[0][hung].any()  # a hung-up group's row stays absent
                return hung

            # Without a ring the kernel's perf_poll() reports POLLHUP even for a live task.
            assert hung_up() == [1]
            child.kill()
            child.wait()
            assert hung_up() == [0, 1]
            # The exited task's final counts stay readable.
            status, _ = perf.TickReader([mapped], group_read_words(1)).read()
            assert status == [8 * group_read_words(1)]
        finally:
            ring.close()
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def tracefs():
    mounted = False
    if not (TRACEFS / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
        mounted = True
    try:
        yield TRACEFS
    finally:
        if mounted:
            subprocess.run(["umount", str(TRACEFS)], check=True)


def tracepoint_fields(format_text: str) -> dict[str, tuple[int, int]]:
    """name -> (offset, size) from a tracefs events/<sys>/<name>/format file."""
    fields = {}
    for decl, offset, size in re.findall(r"field:([^;]*);\s*offset:(\d+);\s*size:(\d+);", format_text):
        fields[decl.split()[-1].split("[")[0]] = (int(offset), int(size))
    return fields


SAMPLE_TID_TIME_CPU_RAW = struct.Struct("=IIQIII")
# <linux/perf_event.h>: the losses the shim counts as it drains (pmutop's Python never decodes them).
PERF_RECORD_LOST = 2
PERF_RECORD_LOST_SAMPLES = 13


@needs_root
@pytest.mark.changes_machine
def test_sched_migrate_task_samples_through_a_wrapping_ring(tracefs, opened):
    cpus = online_cpus()
    if len(cpus) < 2:
        pytest.skip("needs two online CPUs to migrate a task between")
    event_dir = tracefs / "events" / "sched" / "sched_migrate_task"
    pid_offset, pid_size = tracepoint_fields((event_dir / "format").read_text())["pid"]
    assert pid_size == 4
    attr = EventAttr(
        EventType.TRACEPOINT,
        int((event_dir / "id").read_text()),
        sample_period=1,
        sample_type=SampleFormat.TID | SampleFormat.TIME | SampleFormat.CPU | SampleFormat.RAW,
        wakeup_events=1,
    )
    # One data page, drained often, so records straddle the end of the ring and exercise the wrap.
    rings = []
    for cpu in cpus:
        ring = perf.RingBuffer.map(opened(attr, cpu=cpu), data_pages=1)
        assert isinstance(ring, perf.RingBuffer), ring
        rings.append(ring)

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    drained = [bytearray() for _ in rings]
    try:
        for i in range(150):
            os.sched_setaffinity(child.pid, {cpus[i % 2]})
            time.sleep(0.003)
            for ring, out in zip(rings, drained, strict=True):
                out += ring.drain()
    finally:
        child.kill()
        child.wait()
        for ring in rings:
            ring.close()

    assert sum(map(len, drained)) > os.sysconf("SC_PAGESIZE"), "the ring never wrapped"
    migrated_child = 0
    for cpu, data in zip(cpus, drained, strict=True):
        last_time = 0
        for rtype, _misc, payload in perf.records(bytes(data)):
            if rtype != RecordType.SAMPLE:
                assert rtype in (PERF_RECORD_LOST, PERF_RECORD_LOST_SAMPLES)
                continue
            _pid, _tid, when, sample_cpu, _res, raw_size = SAMPLE_TID_TIME_CPU_RAW.unpack_from(payload)
            raw = payload[SAMPLE_TID_TIME_CPU_RAW.size :]
            assert sample_cpu == cpu
            assert when >= last_time
            last_time = when
            assert raw_size <= len(raw) < raw_size + 8
            (moved_pid,) = struct.unpack_from("=i", raw, pid_offset)
            migrated_child += moved_pid == child.pid
    assert migrated_child > 0


def test_ring_map_rejects_a_non_power_of_two():
    with pytest.raises(ValueError):
        perf.RingBuffer.map(-1, data_pages=3)


def test_ring_map_failure_is_a_value():
    assert perf.RingBuffer.map(-1, data_pages=1) == OpenFailure(errno.EBADF)


record_st = st.tuples(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 16).map(lambda n: bytes(range(8 * n))),
)


@given(st.lists(record_st, max_size=20))
def test_records_splits_what_it_is_given(recs):
    data = b"".join(struct.pack("=IHH", t, m, 8 + len(p)) + p for t, m, p in recs)
    assert list(perf.records(data)) == recs


def test_records_rejects_a_truncated_record():
    with pytest.raises(ValueError):
        list(perf.records(struct.pack("=IHH", 9, 0, 16) + b"\0" * 4))
