"""The pmutop recording format: JSON Lines, a header then one line per tick of raw reads.

A recording keeps what the sampler read, never what the model computed, so a replay runs the
same RateModel over the same numbers and shows the same figures as the live view did, on the
recorded machine's topology (not the replaying machine's).

Layout (version 1), one JSON object per line, UTF-8; a name ending in `.gz` is gzip-compressed:

line 1, the header:
    {"format": "pmutop-recording", "version": 1,
     "host": str, "kernel": str, "privileges": str,      # e.g. "root", "CAP_PERFMON", "paranoid 2"
     "interval_s": float,                                # the requested tick interval
     "created": str | null,                              # local ISO time; null in synthetic files
     "sysfs": {"files": {path: text}, "errors": {path: reason},
               "pmu_names": [str], "cpu_names": [str], "source": str},
     "layouts": [layout], "notices": [str], "processes": [[pid, comm]]}
    where layout = {"key", "cpu", "role" ("core"|"software"|"msr"), "pmu", "encoding" (null or
    "hardware"|"extended"|"raw-alias"|"pmu-type"), "members": [str],
    "failures": [[member, errno, errno_name, explanation]], "scope" ("cpu"|"self")}.
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
        "lost_migrations": int, "method": str}}
Counter values are cumulative, exactly as read (64-bit unsigned; JSON integers hold them).

A reader accepts a file cut short or damaged: each line that is not a valid tick is reported
with its line number and skipped, and every valid tick is still replayed (a skipped tick only
makes the next interval longer, since rates come from the recorded times). A header that cannot be
read is fatal, since without the topology nothing can be shown.
"""

import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pmutop.kernel.sysfs import SysfsRead
from pmutop.model.samples import CounterFailure, CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.tasks import ProcessState, RawMigration, TaskCounterRead, TaskTick

FORMAT_NAME = "pmutop-recording"
FORMAT_VERSION = 1


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
    errors: tuple[LineError, ...] = ()

    def error_summary(self) -> str | None:
        """One line for the UI: the first damaged line and how many valid ticks were kept."""
        if not self.errors:
            return None
        more = f" (and {len(self.errors) - 1} more bad lines)" if len(self.errors) > 1 else ""
        return f"recording damaged at {self.errors[0].describe()}{more}; replaying the {len(self.ticks)} valid ticks"


def _failure_json(cause: CounterFailure) -> list[Any]:
    return [cause.errno, cause.errno_name, cause.explanation]


def _failure_from(value: Any) -> CounterFailure:
    errno, errno_name, explanation = value
    if not isinstance(errno, int) or not isinstance(errno_name, str) or not isinstance(explanation, str):
        raise ValueError(f"bad failure {value!r:.80}")
    return CounterFailure(errno, errno_name, explanation)


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


def layout_from_json(record: dict[str, Any]) -> GroupLayout:
    encoding = record.get("encoding")
    return GroupLayout(
        key=str(record["key"]),
        cpu=int(record["cpu"]),
        role=GroupRole(record["role"]),
        pmu=str(record["pmu"]),
        encoding=Encoding(encoding) if encoding is not None else None,
        members=tuple(str(member) for member in record["members"]),
        failures=tuple((str(item[0]), _failure_from(item[1:])) for item in record.get("failures", ())),
        scope=str(record.get("scope", "cpu")),
    )


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
    }


def _string_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{what} is not a map of strings")
    return value


def header_from_json(record: Any) -> RecordingHeader:
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise ValueError("not a pmutop recording (no pmutop-recording header)")
    version = record.get("version")
    if version != FORMAT_VERSION:
        raise ValueError(f"recording format version {version!r}; this pmutop reads version {FORMAT_VERSION}")
    sysfs = record["sysfs"]
    return RecordingHeader(
        host=str(record.get("host", "?")),
        kernel=str(record.get("kernel", "?")),
        privileges=str(record.get("privileges", "?")),
        interval_s=float(record["interval_s"]),
        sysfs=SysfsRead(
            files=_string_map(sysfs["files"], "sysfs.files"),
            errors=_string_map(sysfs["errors"], "sysfs.errors"),
            pmu_names=tuple(str(name) for name in sysfs["pmu_names"]),
            cpu_names=tuple(str(name) for name in sysfs["cpu_names"]),
            source=str(sysfs.get("source", "recording")),
        ),
        layouts=tuple(layout_from_json(item) for item in record["layouts"]),
        notices=tuple(str(notice) for notice in record.get("notices", ())),
        processes=tuple((int(pid), str(comm)) for pid, comm in record.get("processes", ())),
        created=record.get("created"),
    )


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
        "method": tasks.method,
    }


def _optional_int(value: Any, what: str) -> int | None:
    return None if value is None else _non_negative_int(value, what)


def task_tick_from_json(record: dict[str, Any]) -> TaskTick:
    processes = tuple(
        ProcessState(
            pid=_non_negative_int(pid, "pid"),
            comm=str(comm),
            alive=bool(alive),
            threads=tuple((_non_negative_int(tid, "tid"), _optional_int(cpu, "cpu")) for tid, cpu in threads),
            # An exit status may be negative: killed by a signal, as Popen reports it.
            exit_status=int(exit_status) if exit_status is not None else None,
        )
        for pid, comm, alive, threads, exit_status in record["processes"]
    )
    counters = tuple(
        TaskCounterRead(
            pid=_non_negative_int(pid, "pid"),
            tid=_non_negative_int(tid, "tid"),
            kind=str(kind),
            place=str(place),
            enabled=_non_negative_int(enabled, "time_enabled"),
            running=_non_negative_int(running, "time_running"),
            values=tuple(_non_negative_int(v, "value") for v in values),
            generation=_non_negative_int(generation, "generation"),
        )
        for pid, tid, kind, place, enabled, running, generation, values in record["counters"]
    )
    migrations = tuple(
        RawMigration(
            _non_negative_int(ns, "monotonic_ns"),
            _non_negative_int(pid, "pid"),
            _non_negative_int(tid, "tid"),
            str(comm),
            _non_negative_int(from_cpu, "from_cpu"),
            _non_negative_int(to_cpu, "to_cpu"),
        )
        for ns, pid, tid, comm, from_cpu, to_cpu in record["migrations"]
    )
    return TaskTick(
        processes=processes,
        counters=counters,
        migrations=migrations,
        lost_migrations=_non_negative_int(record["lost_migrations"], "lost_migrations"),
        method=str(record["method"]),
    )


def _non_negative_int(value: Any, what: str) -> int:
    # bool is an int subclass; a `true` in a count field is damage, not a 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} is not a non-negative integer: {value!r:.40}")
    return value


def _group_read(key: str, value: Any) -> GroupRead:
    if not isinstance(value, list) or len(value) != 4 or not isinstance(value[3], list):
        raise ValueError(f"read {key!r} is not [enabled, running, generation, [values]]")
    enabled, running, generation, values = value
    return GroupRead(
        enabled=_non_negative_int(enabled, f"{key} time_enabled"),
        running=_non_negative_int(running, f"{key} time_running"),
        values=tuple(_non_negative_int(v, f"{key} value") for v in values),
        generation=_non_negative_int(generation, f"{key} generation"),
    )


def tick_from_json(record: dict[str, Any]) -> RawTick:
    cpu_times = {}
    for cpu, pair in record["cpu_times"].items():
        busy, total = pair
        cpu_times[int(cpu)] = CpuTimes(_non_negative_int(busy, "busy"), _non_negative_int(total, "total"))
    wall_time = record["wall_time"]
    if not isinstance(wall_time, int | float):
        raise ValueError("wall_time is not a number")
    return RawTick(
        index=_non_negative_int(record["index"], "index"),
        monotonic_ns=_non_negative_int(record["monotonic_ns"], "monotonic_ns"),
        wall_time=float(wall_time),
        reads={str(key): _group_read(str(key), value) for key, value in record["reads"].items()},
        cpu_times=cpu_times,
        online=frozenset(int(cpu) for cpu in record["online"]),
        lost={str(key): _failure_from(value) for key, value in record.get("lost", {}).items()},
        layouts=tuple(layout_from_json(item) for item in record["layouts"]) if "layouts" in record else None,
        tasks=task_tick_from_json(record["tasks"]) if "tasks" in record else None,
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
        self._out.write(json.dumps(record, separators=(",", ":")) + "\n")
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


def _numbered_lines(handle: IO[str], errors: list["LineError"]) -> Iterator[tuple[int, str]]:
    """Lines with their numbers; a stream that fails mid-way (gzip cut short, bad UTF-8) ends with an error."""
    number = 0
    try:
        for number, text in enumerate(handle, start=1):
            yield number, text
    except (EOFError, gzip.BadGzipFile, UnicodeDecodeError, OSError) as exc:
        errors.append(LineError(number + 1, f"unreadable from here on: {exc}"))


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Load a recording; raises RecordingError only when the header itself is unusable."""
    path = Path(path)
    try:
        handle = _open_text(path, "r")
    except OSError as exc:
        raise RecordingError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        errors: list[LineError] = []
        lines = _numbered_lines(handle, errors)
        first = next(lines, None)
        if first is None:
            detail = errors[0].reason if errors else "empty file"
            raise RecordingError(f"{path}: no header: {detail}")
        try:
            header = header_from_json(json.loads(first[1]))
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordingError(f"{path}: line 1 (header): {exc}") from exc
        ticks: list[RawTick] = []
        last_ns = -1
        for number, text in lines:
            if not text.endswith("\n"):
                errors.append(LineError(number, "truncated line (no newline at the end of the file)"))
                break
            try:
                record = json.loads(text)
                kind = record.get("type") if isinstance(record, dict) else None
                if kind != "tick":
                    raise ValueError(f"unknown record type {kind!r:.40}")
                tick = tick_from_json(record)
                if tick.monotonic_ns <= last_ns:
                    raise ValueError("monotonic_ns does not increase")
                last_ns = tick.monotonic_ns
                ticks.append(tick)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                errors.append(LineError(number, f"{type(exc).__name__}: {exc}"[:200]))
    return Recording(header, tuple(ticks), tuple(errors))
