"""`pmutop stat`: headless counting like `perf stat -I`, per CPU and per core PMU, optionally following tasks."""

import argparse
import sys
import time

from pmutop.cli import stat_output
from pmutop.cli.errors import UsageError, recording_exit_code
from pmutop.cli.signals import StopSignals
from pmutop.cli.stat_args import parse_pids, select_cpus
from pmutop.live.stat_session import COMMAND_GRACE_S, StatSession
from pmutop.live.topology_loader import load_topology


class _Output:
    def __init__(self, args: argparse.Namespace) -> None:
        self.json = args.json
        self.csv = stat_output.CsvRenderer() if args.csv else None
        self.text = stat_output.TextRenderer(per_pmu_only=args.per_pmu)
        self._json_line = stat_output.json_line

    def interval(self, snapshot) -> None:
        if self.json:
            print(self._json_line(snapshot), flush=True)
        elif self.csv:
            print(self.csv.render(snapshot), flush=True)
        else:
            print(self.text.render(snapshot), flush=True)

    def summary(self, snapshot, reason: str) -> None:
        if self.json:
            print(self._json_line(snapshot, summary=True, ended=reason), flush=True)
        elif self.csv:
            print(self.csv.render(snapshot), flush=True)
        else:
            print(self.text.render(snapshot, title=f"summary over {snapshot.time_s:.3f} s ({reason})"), flush=True)


def run_stat(args: argparse.Namespace, command: list[str]) -> int:
    if args.command_hint:
        raise UsageError("put the command after `--`, e.g. pmutop stat -- make -j4")
    if args.input:
        return stat_from_recording(args.input, _Output(args), args.count)
    topology = load_topology("/")
    cpus = select_cpus(args.cpus, topology)
    session = StatSession.create(
        topology=topology,
        cpus=cpus,
        pids=parse_pids(args.pid),
        comm=args.comm,
        command=command,
        user_only=args.user,
        interval_s=(args.interval or 1000) / 1000,
    )
    if isinstance(session, str):
        print(f"pmutop stat: {session}", file=sys.stderr)
        return 127 if command else 1
    output = _Output(args)
    interval_ms = args.interval or 1000
    print_intervals = args.interval is not None or not command
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
        if summary is not None:
            output.summary(summary, reason)
    return stop.exit_code() or session.exit_code()


def stat_from_recording(path: str, output: _Output, count: int | None) -> int:
    """Headless output recomputed from a recording's raw ticks with the same model as a live run."""
    from pmutop.live.topology_loader import topology_of
    from pmutop.model.rates import RateModel, whole_run_summary
    from pmutop.recording.format import RecordingError, read_recording

    try:
        recording = read_recording(path)
    except RecordingError as exc:
        print(f"pmutop stat: {exc}", file=sys.stderr)
        return 1
    header = recording.header
    topology = topology_of(header.sysfs, source=path)
    model = RateModel(topology, header.layouts, header.notices)
    printed = 0
    last_snapshot = None
    for tick in recording.ticks:
        snapshot = model.update(tick)
        if snapshot is not None:
            last_snapshot = snapshot
            if count is None or printed < count:
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
