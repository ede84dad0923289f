"""The pmutop recording format: JSON Lines, a header then one line per tick of raw reads.

A recording keeps what the sampler read, never what the model computed, so a replay runs the
same RateModel over the same numbers and shows the same figures as the live view did, on the
recorded machine's topology (not the replaying machine's).

Layout (version 3), one JSON object per line, UTF-8; a name ending in `.gz` is gzip-compressed:

line 1, the header:
    {"format": "pmutop-recording", "version": 3,
     "host": str, "kernel": str, "privileges": str,      # e.g. "root", "CAP_PERFMON", "paranoid 2"
     "interval_s": float,                                # the requested tick interval
     "created": str | null,                              # local ISO time; null in synthetic files
     "sysfs": {"files": {path: text}, "errors": {path: reason},
               "pmu_names": [str], "cpu_names": [str], "source": str},
     "layouts": [layout], "notices": [str], "processes": [[pid, comm]],
     "events": [str]}                                    # the -e arguments as given (version 2)
    where layout = {"key", "cpu", "role" ("core"|"software"|"msr"|"events"), "pmu", "encoding" (null or
    "hardware"|"extended"|"raw-alias"|"pmu-type"), "members": [str],
    "failures": [[member, errno, errno_name, explanation]], "scope" ("cpu"|"self")}.
    An "events" layout (version 2) is one -e group on one PMU and CPU; its members are the events'
    labels (`branch-misses`, `sched:sched_switch`, `cpu_core/event=0x3c/`). Version 1 files have no
    "events" layouts and no "events" field, and replay unchanged.
    `sysfs` is the raw text pmutop read (pmutop.kernel.sysfs.SysfsRead), so a replay rebuilds
    the Topology with the same model code.

each following line is a tick:
    {"type": "tick", "index": int, "monotonic_ns": int, "wall_time": float,
     "reads": {group key: [time_enabled, time_running, generation, [member values]]},
     "cpu_times": {cpu: [busy, total]},                  # cumulative /proc/stat USER_HZ ticks
     "online": [cpu], "lost": {group key: [errno, errno_name, explanation]},
     "layouts": [layout],                                # only when the groups changed (hotplug)
     "tasks": {                                          # only while following tasks
        "processes": [[pid, comm, alive, [[tid, cpu or null]], exit_status or null]],
        "counters": [[pid, tid, kind ("core"|"clock"), place, time_enabled, time_running,
                      generation, [values]]],
        "migrations": [[monotonic_ns, pid, tid, comm, from_cpu, to_cpu]],
        "lost_migrations": int,
        "method": "core-pmu-cycles"|"cpu-task-clock",    # pmutop.model.residency.ResidencyMethod's code
        "threads_seen_late": int}}                      # absent in older files: 0
    Versions 1 and 2 store "method" as the method's display label ("cycles per core PMU",
    "task-clock per CPU"), which still reads.
Counter values are cumulative, exactly as read (64-bit unsigned; JSON integers hold them).

A recording may come from anyone, so the reader is bounded and fails per line. A line is at most
MAX_LINE_BYTES and MAX_DEPTH levels deep; a run of blank lines is skipped and counted; a line that
is not UTF-8, not JSON or not a valid tick is reported with its number and skipped, and every valid
tick is still replayed (a skipped tick only makes the next interval longer, since rates come from
the recorded times). Every field is checked: counters and times within 64 bits, time_running at
most time_enabled, CPUs among the header's, finite times; NaN and Infinity are refused on reading
and never written. A header that cannot be read is one RecordingError, since without the topology
nothing can be shown.
"""

import gzip
import io
import json
import math
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pmutop.kernel.bounded_json import loads_bounded
from pmutop.kernel.sysfs import SysfsRead
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CounterFailure, CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.tasks import ProcessState, RawMigration, TaskCounterRead, TaskTick

FORMAT_NAME = "pmutop-recording"
FORMAT_VERSION = 3
# Version 1 lacks "events" layouts and the header's "events" list; versions 1 and 2 store a task tick's
# residency method as its display label where version 3 stores its code.
READABLE_VERSIONS = (1, 2, 3)
_RESIDENCY_BY_LABEL = {method.label: method for method in ResidencyMethod}
_RESIDENCY_BY_CODE = {method.value: method for method in ResidencyMethod}
# A tick of a 448-CPU machine following a thousand threads is a few MiB; a header a few hundred KiB.
MAX_LINE_BYTES = 16 * 2**20
# The deepest legitimate line is a tick's tasks.processes threads: 5 levels.
MAX_DEPTH = 8
# Damaged lines kept with their reasons; past this they are only counted.
MAX_LINE_ERRORS = 100
U64_MAX = 2**64 - 1
MAX_TEXT = 4096
_CPU_NAME = re.compile(r"cpu([0-9]{1,6})")
_READ_CHUNK = 2**20
_BLANK_RUN = re.compile(rb"(?:[ \t\r]*\n)+")


class RecordingError(Exception):
    """A recording that cannot be replayed at all (missing or unreadable header)."""


@dataclass(frozen=True)
class RecordingHeader:
    host: str
    kernel: str
    privileges: str
    interval_s: float
    sysfs: SysfsRead
    layouts: tuple[GroupLayout, ...]
    notices: tuple[str, ...] = ()
    # Processes followed while recording, as (pid, comm): what a replay's picker can offer.
    processes: tuple[tuple[int, str], ...] = ()
    created: str | None = None
    # The -e arguments as the user gave them.
    events: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str

    def describe(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Recording:
    header: RecordingHeader
    ticks: tuple[RawTick, ...]
    # The first MAX_LINE_ERRORS damaged lines; `damaged_lines` counts them all.
    errors: tuple[LineError, ...] = ()
    damaged_lines: int = 0
    blank_lines: int = 0

    def error_summary(self) -> str | None:
        """One line for the UI: the first damaged line and how many valid ticks were kept."""
        if not self.errors:
            return None
        damaged = max(self.damaged_lines, len(self.errors))
        more = f" (and {damaged - 1} more bad lines)" if damaged > 1 else ""
        return f"recording damaged at {self.errors[0].describe()}{more}; replaying the {len(self.ticks)} valid ticks"


def _failure_json(cause: CounterFailure) -> list[Any]:
    return [cause.errno, cause.errno_name, cause.explanation]


def layout_to_json(layout: GroupLayout) -> dict[str, Any]:
    return {
        "key": layout.key,
        "cpu": layout.cpu,
        "role": str(layout.role),
        "pmu": layout.pmu,
        "encoding": str(layout.encoding) if layout.encoding else None,
        "members": list(layout.members),
        "failures": [[member, *_failure_json(cause)] for member, cause in layout.failures],
        "scope": layout.scope,
    }


def header_to_json(header: RecordingHeader) -> dict[str, Any]:
    sysfs = header.sysfs
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "host": header.host,
        "kernel": header.kernel,
        "privileges": header.privileges,
        "interval_s": header.interval_s,
        "created": header.created,
        "sysfs": {
            "files": sysfs.files,
            "errors": sysfs.errors,
            "pmu_names": list(sysfs.pmu_names),
            "cpu_names": list(sysfs.cpu_names),
            "source": sysfs.source,
        },
        "layouts": [layout_to_json(layout) for layout in header.layouts],
        "notices": list(header.notices),
        "processes": [[pid, comm] for pid, comm in header.processes],
        "events": list(header.events),
    }


def tick_to_json(tick: RawTick) -> dict[str, Any]:
    record = {
        "type": "tick",
        "index": tick.index,
        "monotonic_ns": tick.monotonic_ns,
        "wall_time": tick.wall_time,
        "reads": {key: [r.enabled, r.running, r.generation, list(r.values)] for key, r in tick.reads.items()},
        "cpu_times": {str(cpu): [t.busy, t.total] for cpu, t in tick.cpu_times.items()},
        "online": sorted(tick.online),
        "lost": {key: _failure_json(cause) for key, cause in tick.lost.items()},
    }
    if tick.layouts is not None:
        record["layouts"] = [layout_to_json(layout) for layout in tick.layouts]
    if isinstance(tick.tasks, TaskTick):
        record["tasks"] = task_tick_to_json(tick.tasks)
    return record


def task_tick_to_json(tasks: TaskTick) -> dict[str, Any]:
    return {
        "processes": [
            [p.pid, p.comm, p.alive, [list(thread) for thread in p.threads], p.exit_status] for p in tasks.processes
        ],
        "counters": [
            [c.pid, c.tid, c.kind, c.place, c.enabled, c.running, c.generation, list(c.values)] for c in tasks.counters
        ],
        "migrations": [[m.monotonic_ns, m.pid, m.tid, m.comm, m.from_cpu, m.to_cpu] for m in tasks.migrations],
        "lost_migrations": tasks.lost_migrations,
        "method": tasks.method.value,
        "threads_seen_late": tasks.threads_seen_late,
    }


# Reading: every field through one of these checks, which raise ValueError naming the field.


def _field(record: dict[str, Any], name: str) -> Any:
    if name not in record:
        raise ValueError(f"no {name!r}")
    return record[name]


def _map(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _list(value: Any, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        shape = f"a list of {length}" if length is not None else "a list"
        raise ValueError(f"{what} is not {shape}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} is not a string of at most {MAX_TEXT} characters")
    return value


def _int(value: Any, what: str, low: int, high: int) -> int:
    # bool is an int subclass; a `true` in a count field is damage, not a 1.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{what} is not an integer from {low} to {high}: {value!r:.40}")
    return value


def _u64(value: Any, what: str) -> int:
    return _int(value, what, 0, U64_MAX)


def _finite(value: Any, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number: {value!r:.40}")
    return float(value)


def _string_map(value: Any, what: str) -> dict[str, str]:
    mapping = _map(value, what)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ValueError(f"{what} is not a map of strings")
    return mapping


def _times(enabled: Any, running: Any, what: str) -> tuple[int, int]:
    enabled, running = _u64(enabled, f"{what} time_enabled"), _u64(running, f"{what} time_running")
    if running > enabled:
        raise ValueError(f"{what} time_running {running} is more than time_enabled {enabled}")
    return enabled, running


class _Cpus:
    """The CPUs a recording's header names: every CPU a tick mentions must be one of them."""

    def __init__(self, cpu_names: tuple[str, ...]) -> None:
        self.numbers = frozenset(int(match[1]) for name in cpu_names if (match := _CPU_NAME.fullmatch(name)))

    def check(self, value: Any, what: str) -> int:
        cpu = _int(value, what, 0, U64_MAX)
        if cpu not in self.numbers:
            raise ValueError(f"{what} {cpu} is not a CPU of the recorded machine")
        return cpu


def _failure_from(value: Any, what: str = "failure") -> CounterFailure:
    errno, errno_name, explanation = _list(value, what, 3)
    return CounterFailure(_int(errno, f"{what} errno", 0, 4095), _text(errno_name, what), _text(explanation, what))


def layout_from_json(value: Any, cpus: _Cpus) -> GroupLayout:
    record = _map(value, "layout")
    key = _text(_field(record, "key"), "layout key")
    encoding = record.get("encoding")
    try:
        role = GroupRole(_field(record, "role"))
        encoding = Encoding(encoding) if encoding is not None else None
    except (ValueError, TypeError):
        raise ValueError(f"layout {key!r}: unknown role or encoding") from None
    scope = _text(record.get("scope", "cpu"), "layout scope")
    if scope not in ("cpu", "self"):
        raise ValueError(f"layout {key!r}: unknown scope {scope!r:.40}")
    failures = []
    for item in _list(record.get("failures", []), "layout failures"):
        member, *cause = _list(item, "layout failure", 4)
        failures.append((_text(member, "failure member"), _failure_from(cause)))
    return GroupLayout(
        key=key,
        cpu=cpus.check(_field(record, "cpu"), f"layout {key!r} cpu"),
        role=role,
        pmu=_text(_field(record, "pmu"), "layout pmu"),
        encoding=encoding,
        members=tuple(_text(member, "layout member") for member in _list(_field(record, "members"), "members")),
        failures=tuple(failures),
        scope=scope,
    )


def header_from_json(record: Any) -> RecordingHeader:
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise ValueError("not a pmutop recording (no pmutop-recording header)")
    version = record.get("version")
    # `true` and 2.0 compare equal to 1 and 2: only a JSON integer is a version.
    if type(version) is not int or version not in READABLE_VERSIONS:
        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise ValueError(f"recording format version {version!r:.40}; this pmutop reads versions {readable}")
    sysfs_record = _map(_field(record, "sysfs"), "sysfs")
    cpu_names = tuple(_text(name, "cpu name") for name in _list(_field(sysfs_record, "cpu_names"), "cpu_names"))
    if not all(_CPU_NAME.fullmatch(name) for name in cpu_names):
        raise ValueError("sysfs.cpu_names holds a name that is not cpuN")
    sysfs = SysfsRead(
        files=_string_map(_field(sysfs_record, "files"), "sysfs.files"),
        errors=_string_map(_field(sysfs_record, "errors"), "sysfs.errors"),
        pmu_names=tuple(_text(name, "pmu name") for name in _list(_field(sysfs_record, "pmu_names"), "pmu_names")),
        cpu_names=cpu_names,
        source=_text(sysfs_record.get("source", "recording"), "sysfs.source"),
    )
    cpus = _Cpus(cpu_names)
    interval_s = _finite(_field(record, "interval_s"), "interval_s")
    if interval_s <= 0:
        raise ValueError(f"interval_s is not positive: {interval_s}")
    processes = []
    for item in _list(record.get("processes", []), "processes"):
        pid, comm = _list(item, "process", 2)
        processes.append((_int(pid, "pid", 1, U64_MAX), _text(comm, "comm")))
    created = record.get("created")
    return RecordingHeader(
        host=_text(record.get("host", "?"), "host"),
        kernel=_text(record.get("kernel", "?"), "kernel"),
        privileges=_text(record.get("privileges", "?"), "privileges"),
        interval_s=interval_s,
        sysfs=sysfs,
        layouts=tuple(layout_from_json(item, cpus) for item in _list(_field(record, "layouts"), "layouts")),
        notices=tuple(_text(notice, "notice") for notice in _list(record.get("notices", []), "notices")),
        processes=tuple(processes),
        created=None if created is None else _text(created, "created"),
        events=tuple(_text(text, "event") for text in _list(record.get("events", []), "events")),
    )


def _group_read(key: str, value: Any) -> GroupRead:
    enabled, running, generation, values = _list(value, f"read {key!r}", 4)
    enabled, running = _times(enabled, running, key)
    return GroupRead(
        enabled=enabled,
        running=running,
        values=tuple(_u64(v, f"{key} value") for v in _list(values, f"{key} values")),
        generation=_u64(generation, f"{key} generation"),
    )


def _optional_cpu(value: Any, cpus: _Cpus) -> int | None:
    return None if value is None else cpus.check(value, "thread cpu")


def _process(value: Any, cpus: _Cpus) -> ProcessState:
    pid, comm, alive, threads, exit_status = _list(value, "process", 5)
    if not isinstance(alive, bool):
        raise ValueError("process alive is not true or false")
    return ProcessState(
        pid=_u64(pid, "pid"),
        comm=_text(comm, "comm"),
        alive=alive,
        threads=tuple(
            (_u64(tid, "tid"), _optional_cpu(cpu, cpus))
            for tid, cpu in (_list(thread, "thread", 2) for thread in _list(threads, "threads"))
        ),
        # An exit status may be negative: killed by a signal, as Popen reports it.
        exit_status=None if exit_status is None else _int(exit_status, "exit_status", -255, 255),
    )


def _task_counter(value: Any, cpus: _Cpus) -> TaskCounterRead:
    pid, tid, kind, place, enabled, running, generation, values = _list(value, "task counter", 8)
    kind, place = _text(kind, "counter kind"), _text(place, "counter place")
    if kind == "clock":
        cpus.check(int(place) if place.isdecimal() else -1, "clock counter CPU")
    elif kind != "core":
        raise ValueError(f"unknown task counter kind {kind!r:.40}")
    enabled, running = _times(enabled, running, "task counter")
    return TaskCounterRead(
        pid=_u64(pid, "pid"),
        tid=_u64(tid, "tid"),
        kind=kind,
        place=place,
        enabled=enabled,
        running=running,
        values=tuple(_u64(v, "task counter value") for v in _list(values, "task counter values")),
        generation=_u64(generation, "task counter generation"),
    )


def _migration(value: Any, cpus: _Cpus) -> RawMigration:
    ns, pid, tid, comm, from_cpu, to_cpu = _list(value, "migration", 6)
    return RawMigration(
        _u64(ns, "migration monotonic_ns"),
        _u64(pid, "pid"),
        _u64(tid, "tid"),
        _text(comm, "comm"),
        cpus.check(from_cpu, "from_cpu"),
        cpus.check(to_cpu, "to_cpu"),
    )


def _residency_method(value: Any, version: int) -> ResidencyMethod:
    known = _RESIDENCY_BY_CODE if version >= 3 else _RESIDENCY_BY_LABEL
    method = known.get(_text(value, "method"))
    if method is None:
        raise ValueError(f"unknown residency method {value!r:.40}")
    return method


def task_tick_from_json(value: Any, cpus: _Cpus, version: int) -> TaskTick:
    record = _map(value, "tasks")
    return TaskTick(
        processes=tuple(_process(item, cpus) for item in _list(_field(record, "processes"), "processes")),
        counters=tuple(_task_counter(item, cpus) for item in _list(_field(record, "counters"), "counters")),
        migrations=tuple(_migration(item, cpus) for item in _list(_field(record, "migrations"), "migrations")),
        lost_migrations=_u64(_field(record, "lost_migrations"), "lost_migrations"),
        method=_residency_method(_field(record, "method"), version),
        threads_seen_late=_u64(record.get("threads_seen_late", 0), "threads_seen_late"),
    )


def _cpu_key(key: str, cpus: _Cpus) -> int:
    if not key.isdecimal() or len(key) > 6:
        raise ValueError(f"cpu_times key {key!r:.20} is not a CPU number")
    return cpus.check(int(key), "cpu_times CPU")


def tick_from_json(record: Any, cpus: _Cpus, version: int) -> RawTick:
    record = _map(record, "tick")
    cpu_times = {}
    for key, pair in _map(_field(record, "cpu_times"), "cpu_times").items():
        busy, total = (_u64(v, f"cpu {key} times") for v in _list(pair, f"cpu_times {key!r:.20}", 2))
        if busy > total:
            raise ValueError(f"cpu {key} busy time {busy} is more than its total {total}")
        cpu_times[_cpu_key(key, cpus)] = CpuTimes(busy, total)
    wall_time = _finite(_field(record, "wall_time"), "wall_time")
    return RawTick(
        index=_u64(_field(record, "index"), "index"),
        monotonic_ns=_u64(_field(record, "monotonic_ns"), "monotonic_ns"),
        wall_time=wall_time,
        reads={
            _text(key, "read key"): _group_read(key, value)
            for key, value in _map(_field(record, "reads"), "reads").items()
        },
        cpu_times=cpu_times,
        online=frozenset(cpus.check(cpu, "online CPU") for cpu in _list(_field(record, "online"), "online")),
        lost={
            _text(key, "lost key"): _failure_from(value, f"lost {key!r:.40}")
            for key, value in _map(record.get("lost", {}), "lost").items()
        },
        layouts=tuple(layout_from_json(item, cpus) for item in _list(record["layouts"], "layouts"))
        if "layouts" in record
        else None,
        tasks=task_tick_from_json(record["tasks"], cpus, version) if "tasks" in record else None,
    )


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


class RecordingWriter:
    """Appends a recording line by line, flushing each, so a killed recorder leaves a valid prefix."""

    def __init__(self, path: str | os.PathLike[str], header: RecordingHeader) -> None:
        self.path = Path(path)
        self._out = _open_text(self.path, "w")
        self.ticks_written = 0
        self._write(header_to_json(header))

    def _write(self, record: dict[str, Any]) -> None:
        # allow_nan=False: NaN and Infinity are not JSON, and a reader would refuse the line.
        self._out.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        self._out.flush()

    def write_tick(self, tick: RawTick) -> None:
        self._write(tick_to_json(tick))
        self.ticks_written += 1

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Lines:
    """A recording's lines, bounded: (number, bytes) for each line with text in it, or (number, reason)
    for one that cannot be taken. Runs of blank lines are skipped and counted in one regex match per
    run, so a file of a million newlines costs one pass over its bytes, gzip or not."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        self._stream = stream
        self.blank_lines = 0

    def __iter__(self) -> Iterator[tuple[int, bytes | str]]:
        number = 0
        pending: list[bytes] = []  # the current line's pieces, when it spans chunks
        pending_size = 0
        overlong = False  # inside a line past MAX_LINE_BYTES: dropped up to its newline
        while True:
            try:
                # read1: one decompressed block at a time, so a gzip cut short still yields all before the cut.
                chunk = self._stream.read1(_READ_CHUNK)
            except (EOFError, zlib.error, OSError) as exc:
                yield number + 1, f"unreadable from here on ({exc or type(exc).__name__})"
                return
            if not chunk:
                break
            pos, end = 0, len(chunk)
            while pos < end:
                if not pending and not overlong and (blanks := _BLANK_RUN.match(chunk, pos)):
                    run = chunk.count(b"\n", pos, blanks.end())
                    number += run
                    self.blank_lines += run
                    pos = blanks.end()
                    continue
                newline = chunk.find(b"\n", pos)
                piece_end = end if newline < 0 else newline
                if not overlong:
                    pending_size += piece_end - pos
                    overlong = pending_size > MAX_LINE_BYTES
                    if overlong:
                        pending = []
                    else:
                        pending.append(chunk[pos:piece_end])
                if newline < 0:
                    break
                number += 1
                if overlong:
                    yield number, f"longer than {MAX_LINE_BYTES // 2**20} MiB; skipped"
                else:
                    line = b"".join(pending)
                    if line.strip():
                        yield number, line
                    else:
                        self.blank_lines += 1
                pending, pending_size, overlong = [], 0, False
                pos = newline + 1
        if pending or overlong:
            yield number + 1, "truncated line (no newline at the end of the file)"


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _parse_line(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1})") from None
    return loads_bounded(text, max_depth=MAX_DEPTH)


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Load a recording; raises RecordingError only when the header itself is unusable."""
    path = Path(path)
    try:
        stream = _open_binary(path)
    except OSError as exc:
        raise RecordingError(f"{path}: {exc.strerror or exc}") from exc
    with stream:
        lines = _Lines(stream)
        numbered = iter(lines)
        first = next(numbered, None)
        if first is None:
            raise RecordingError(f"{path}: no header: empty file")
        number, data = first
        try:
            if isinstance(data, str):
                raise ValueError(data)
            header_record = _parse_line(data)
            header = header_from_json(header_record)
        except ValueError as exc:
            raise RecordingError(f"{path}: line {number} (header): {exc}") from None
        cpus = _Cpus(header.sysfs.cpu_names)
        # Checked by header_from_json: one of READABLE_VERSIONS.
        version = header_record["version"]
        ticks: list[RawTick] = []
        errors: list[LineError] = []
        damaged = 0
        last_ns = -1
        for number, data in numbered:
            try:
                if isinstance(data, str):
                    raise ValueError(data)
                record = _parse_line(data)
                kind = record.get("type") if isinstance(record, dict) else None
                if kind != "tick":
                    raise ValueError(f"unknown record type {kind!r:.40}")
                tick = tick_from_json(record, cpus, version)
                if tick.monotonic_ns <= last_ns:
                    raise ValueError("monotonic_ns does not increase")
                last_ns = tick.monotonic_ns
                ticks.append(tick)
            except ValueError as exc:
                damaged += 1
                if len(errors) < MAX_LINE_ERRORS:
                    errors.append(LineError(number, str(exc)[:200]))
    return Recording(header, tuple(ticks), tuple(errors), damaged_lines=damaged, blank_lines=lines.blank_lines)
