"""`pmutop stat`: headless counting like `perf stat -I`, per CPU and per core PMU, optionally following tasks."""

import argparse
import shutil
import statistics
import sys
import time
from typing import TextIO

from pmutop.cli import stat_args, stat_output
from pmutop.cli.errors import UsageError, UserError, recording_exit_code
from pmutop.cli.signals import StopSignals
from pmutop.cli.stat_args import parse_pids
from pmutop.kernel import procfs
from pmutop.live.stat_session import COMMAND_GRACE_S, StatSession
from pmutop.model.aggregate import Aggregation, aggregate, cpu_groups
from pmutop.model.cpulist import parse_cpulist
from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import Snapshot
from pmutop.model.task_summary import TaskSummary
from pmutop.model.topology import Topology

# What `perf stat -x` counts when no -e is given (system-wide; perf's task-clock is cpu-clock with -a).
PERF_DEFAULT_EVENTS = "cpu-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,branches,branch-misses"


def _aggregation(args: argparse.Namespace) -> Aggregation | None:
    if args.per_core:
        return Aggregation.CORE
    if args.per_socket:
        return Aggregation.SOCKET
    if args.per_node:
        return Aggregation.NODE
    return None


def _numa_nodes() -> dict[int, int]:
    nodes = {}
    for node, text in procfs.numa_node_cpulists().items():
        try:
            nodes.update(dict.fromkeys(parse_cpulist(text), node))
        except ValueError:
            continue
    return nodes


class _Output:
    """Where and how each interval and the summary are written (text, pmutop JSON/CSV, perf's CSV)."""

    def __init__(self, args: argparse.Namespace, topology: Topology, stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.json = args.json
        self.csv = stat_output.CsvRenderer() if args.csv else None
        self.perf_csv = (
            stat_output.PerfCsvRenderer(args.separator, per_cpu=args.no_aggr) if args.separator is not None else None
        )
        screen = shutil.get_terminal_size().lines if stream.isatty() else None
        self.text = stat_output.TextRenderer(
            per_pmu_only=args.per_pmu,
            per_cpu_events=args.no_aggr,
            screen_lines=screen,
            cpu_absent=stat_output.absent_on_cpu_rows(topology),
        )
        aggregation = _aggregation(args)
        self.groups = (
            cpu_groups(topology, aggregation, _numa_nodes() if live else None) if aggregation is not None else None
        )
        # Notices already printed in a JSON line: an interval line lists only new ones.
        self._notices_printed: set[str] = set()

    def write(self, text: str) -> None:
        if text:
            # One write per interval (print writes the newline on its own).
            self.stream.write(text + "\n")
            self.stream.flush()

    def _aggregates(self, snapshot: Snapshot):
        return aggregate(snapshot, self.groups) if self.groups is not None else None

    def interval(self, snapshot: Snapshot) -> None:
        if self.json:
            new = [notice for notice in snapshot.notices if notice not in self._notices_printed]
            self._notices_printed.update(new)
            self.write(stat_output.json_line(snapshot, notices=new))
        elif self.csv:
            self.write(self.csv.render(snapshot))
        elif self.perf_csv:
            self.write(self.perf_csv.render(snapshot, self._aggregates(snapshot)))
        else:
            self.write(self.text.render(snapshot, aggregates=self._aggregates(snapshot)))

    def summary(self, snapshot: Snapshot, reason: str, task: TaskSummary | None = None) -> None:
        if self.json:
            extra = {"task_summary": task.to_json()} if task is not None else {}
            self.write(stat_output.json_line(snapshot, summary=True, ended=reason, **extra))
        elif self.csv:
            self.write(self.csv.render(snapshot, summary=True))
        elif self.perf_csv:
            self.perf_csv.with_time = False
            if task is not None:
                self.write(self.perf_csv.render_task(task))
            else:
                self.write(self.perf_csv.render(snapshot, self._aggregates(snapshot)))
        elif task is not None:
            self.write("\n".join(stat_output.task_summary_lines(task, self.text.notes, snapshot.tasks)))
        else:
            title = f"summary over {snapshot.time_s:.3f} s ({reason})"
            self.write(self.text.render(snapshot, title=title, aggregates=self._aggregates(snapshot)))


def _check(args: argparse.Namespace, command: list[str]) -> None:
    if args.command_hint:
        raise UsageError("put the command after `--`, e.g. pmutop stat -- make -j4")
    if args.repeat is not None:
        if args.repeat < 1:
            raise UsageError("-r must be at least 1")
        if not command:
            raise UsageError("-r repeats a command: pmutop stat -r 5 -- CMD")
        if args.interval is not None:
            raise UsageError("-r and -I do not go together (perf refuses them too)")
    if args.separator is not None and not args.separator:
        raise UsageError("-x needs a separator, e.g. -x,")


def _followed_pids(args: argparse.Namespace) -> tuple[int, ...]:
    pids = parse_pids(args.pid)
    try:
        tids = parse_pids(args.tid)
    except UsageError as exc:
        raise UsageError(f"-t: {exc}".replace("-p takes process", "it takes thread")) from None
    for tid in tids:
        process = procfs.thread_group(tid)
        if process is None:
            raise UserError(f"-t: no thread {tid}")
        pids += (process,)
    return tuple(dict.fromkeys(pids))


def run_stat(args: argparse.Namespace, command: list[str]) -> int:
    _check(args, command)
    try:
        stream = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise UserError(f"-o {args.output}: {exc.strerror}") from None
    try:
        if args.input:
            return stat_from_recording(args, stream)
        return _run_live(args, command, stream)
    finally:
        if stream is not sys.stdout:
            stream.close()


def _run_live(args: argparse.Namespace, command: list[str], stream: TextIO) -> int:
    following = bool(command or args.pid or args.tid)
    # perf's -x without -e: its default events, system-wide; a followed task gets perf's task set instead.
    texts = args.event or ([PERF_DEFAULT_EVENTS] if args.separator is not None and not following else [])
    selection = stat_args.live_selection(args.cpus, texts)
    topology, cpus, events = selection.topology, selection.cpus, selection.events
    output = _Output(args, topology, stream, live=True)
    pids = _followed_pids(args)
    runs = args.repeat or 1
    summaries = []
    code = 0
    for _ in range(runs):
        session = StatSession.create(
            topology=topology,
            events=events,
            cpus=cpus,
            pids=pids,
            comm=args.comm,
            command=command,
            user_only=args.user,
            task_summary=True,
            interval_s=(args.interval or 1000) / 1000,
        )
        if isinstance(session, str):
            print(f"pmutop stat: {session}", file=sys.stderr)
            return 127 if command else 1
        summary, stopped, code = _one_run(args, session, output, print_summary=args.repeat is None)
        if summary is not None:
            summaries.append((summary, session.task_summary))
        if stopped:
            break
    if args.repeat is not None and summaries:
        last, task = summaries[-1]
        output.summary(last, f"run {len(summaries)} of {runs}", task)
        output.write(repeat_lines(summaries, json=args.json))
    return code


def _one_run(
    args: argparse.Namespace, session: StatSession, output: _Output, print_summary: bool
) -> tuple[Snapshot | None, bool, int]:
    """One counting run: (its summary, whether a stop signal ended it, the exit code)."""
    interval_ms = args.interval or 1000
    print_intervals = args.interval is not None or (not session.child and args.repeat is None)
    reason = "count reached"
    with StopSignals(session.child) as stop:
        try:
            session.start()
            deadline = time.monotonic()
            printed = 0
            while args.count is None or printed < args.count:
                deadline += interval_ms / 1000
                ended = stop.sleep(session.wait_until, deadline)
                # After a stop signal this is the partial last interval, up to the moment it came.
                snapshot = session.tick()
                if snapshot is not None and print_intervals:
                    output.interval(snapshot)
                    printed += 1
                ended = ended or session.followed_ended()
                if ended:
                    reason = ended
                    break
        finally:
            if stop.signum is not None:
                session.stop_command(COMMAND_GRACE_S)
            summary = session.finish()
        if summary is not None and print_summary:
            output.summary(summary, reason, session.task_summary)
    return summary, stop.signum is not None, stop.exit_code() or session.exit_code()


def repeat_lines(summaries: list[tuple[Snapshot, TaskSummary | None]], json: bool = False) -> str:
    """The command's counters over the repeated runs, as mean ± stddev (perf's `( +- 1.23% )`)."""
    series: dict[str, list[float]] = {}
    for snapshot, task in summaries:
        if task is not None:
            for line in task.lines:
                if line.metric.value is not None:
                    series.setdefault(line.name, []).append(line.metric.value)
            series.setdefault("seconds time elapsed", []).append(task.elapsed_s)
            continue
        for total in snapshot.events:
            if total.metric.value is not None:
                series.setdefault(total.name, []).append(total.metric.value)
        for row in snapshot.pmus:
            for key in (MetricKey.CYCLES, MetricKey.INSTRUCTIONS):
                value = row.metric(key).value
                if value is not None:
                    series.setdefault(f"{row.pmu}/{key}/", []).append(value)
        series.setdefault("seconds time elapsed", []).append(snapshot.time_s)
    stats = {
        name: (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
        for name, values in series.items()
    }
    if json:
        import json as json_module

        record = {
            "repeat": len(summaries),
            "figures": [{"name": name, "mean": mean, "stddev": stddev} for name, (mean, stddev) in stats.items()],
        }
        return json_module.dumps(record, separators=(",", ":"))
    lines = [f"# over {len(summaries)} runs: mean ± stddev"]
    for name, (mean, stddev) in stats.items():
        relative = 100 * stddev / mean if mean else 0.0
        number = f"{mean:.6f}" if name == "seconds time elapsed" else f"{mean:,.0f}"
        lines.append(f"{number:>22}  {stat_output.printable(name):<50} ( ± {relative:5.2f}% )")
    return "\n".join(lines)


def stat_from_recording(args: argparse.Namespace, stream: TextIO) -> int:
    """Headless output recomputed from a recording's raw ticks with the same model as a live run."""
    from pmutop.live.topology_loader import topology_of
    from pmutop.model.rates import RateModel, whole_run_summary
    from pmutop.recording.format import RecordingError, read_recording

    path = args.input
    try:
        recording = read_recording(path)
    except RecordingError as exc:
        print(f"pmutop stat: {exc}", file=sys.stderr)
        return 1
    header = recording.header
    topology = topology_of(header.sysfs, source=path)
    output = _Output(args, topology, stream, live=False)
    model = RateModel(topology, header.layouts, header.notices)
    printed = 0
    last_snapshot = None
    for tick in recording.ticks:
        snapshot = model.update(tick)
        if snapshot is not None:
            last_snapshot = snapshot
            if args.count is None or printed < args.count:
                output.interval(snapshot)
                printed += 1
    if recording.ticks:
        summary = whole_run_summary(model, recording.ticks[0], recording.ticks[-1], last_snapshot)
        if summary is not None:
            output.summary(summary, "end of recording")
    for error in recording.errors:
        print(f"pmutop stat: {path}: {error.describe()}", file=sys.stderr)
    if recording.damaged_lines > len(recording.errors):
        print(
            f"pmutop stat: {path}: and {recording.damaged_lines - len(recording.errors)} more bad lines",
            file=sys.stderr,
        )
    if recording.blank_lines:
        print(f"pmutop stat: {path}: skipped {recording.blank_lines} blank lines", file=sys.stderr)
    return recording_exit_code(recording.damaged_lines)
