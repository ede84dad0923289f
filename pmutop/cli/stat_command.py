"""`pmutop stat`: headless counting like `perf stat -I`, per CPU and per core PMU, optionally following tasks."""

import argparse
import signal
import subprocess
import sys
import time

from pmutop.cli import stat_output
from pmutop.live.stat_session import StatSession
from pmutop.model.cpulist import parse_cpulist


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "stat",
        help="print counts per CPU and per core PMU every interval (like perf stat -I)",
        description="Count per CPU and per core PMU. With -p/--comm/-- CMD, also follow tasks: where they run, "
        "their residency and IPC per core type, and their migrations.",
    )
    parser.add_argument("-I", "--interval", type=int, metavar="MS", help="print every MS milliseconds (default 1000)")
    parser.add_argument("-n", "--count", type=int, metavar="COUNT", help="stop after COUNT intervals")
    parser.add_argument("-C", "--cpus", metavar="CPULIST", help="only these CPUs, e.g. 0-3,8")
    parser.add_argument("--per-pmu", action="store_true", help="print only the per core PMU aggregate rows")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per interval per line")
    output.add_argument("--csv", action="store_true", help="CSV rows")
    add_task_selectors(parser)
    parser.add_argument("--input", metavar="FILE", help="compute from a `pmutop record` file instead of the kernel")
    parser.add_argument("--sysfs-root", default="/", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument(
        "command_hint", nargs="*", metavar="-- COMMAND", help="run COMMAND and follow it until it exits"
    )


def add_task_selectors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--pid", metavar="PID[,PID...]", help="follow these processes and all their threads")
    parser.add_argument("--comm", metavar="NAME", help="follow every process named NAME, including ones started later")


def parse_pids(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        pids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SystemExit(f"pmutop stat: -p takes process ids separated by commas, not {text!r}") from None
    if any(pid <= 0 for pid in pids):
        raise SystemExit("pmutop stat: process ids are positive numbers")
    return pids


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
        raise SystemExit("pmutop stat: put the command after `--`, e.g. pmutop stat -- make -j4")
    if args.interval is not None and args.interval < 10:
        raise SystemExit("pmutop stat: -I must be at least 10 ms")
    if args.input:
        from pmutop.cli.record_command import stat_from_recording

        return stat_from_recording(args, _Output(args))
    try:
        cpus = parse_cpulist(args.cpus) if args.cpus else None
    except ValueError as exc:
        raise SystemExit(f"pmutop stat: -C: {exc}") from None
    session = StatSession.create(
        cpus=cpus,
        pids=parse_pids(args.pid),
        comm=args.comm,
        command=command,
    )
    if isinstance(session, str):
        print(f"pmutop stat: {session}", file=sys.stderr)
        return 127 if command else 1
    output = _Output(args)
    interval_ms = args.interval or 1000
    print_intervals = args.interval is not None or not command
    # SIGTERM ends the run like Ctrl-C does: with a summary, not a traceback.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    reason = "count reached"
    try:
        session.start()
        deadline = time.monotonic()
        printed = 0
        while args.count is None or printed < args.count:
            deadline += interval_ms / 1000
            ended = session.wait_until(deadline)
            snapshot = session.tick()
            if snapshot is not None and print_intervals:
                output.interval(snapshot)
                printed += 1
            if ended:
                reason = ended
                break
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        summary = session.finish()
    if summary is not None:
        output.summary(summary, reason)
    return session.exit_code(reason)


def spawn(command: list[str]) -> subprocess.Popen | str:
    """Start COMMAND for `pmutop stat -- COMMAND`; a message instead of a traceback when it cannot start."""
    try:
        return subprocess.Popen(command)
    except OSError as exc:
        return f"cannot run {command[0]!r}: {exc.strerror}"
