"""The `pmutop stat` command line, kept apart from the command so that `pmutop topology` stays light."""

import argparse

from pmutop.cli import errors
from pmutop.cli.errors import UsageError
from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.topology import Topology


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "stat",
        help="print counts per CPU and per core PMU every interval (like perf stat -I)",
        description="Count per CPU and per core PMU. With -p/--comm/-- CMD, also follow tasks: where they run, "
        "their residency and IPC per core type, and their migrations.",
    )
    parser.add_argument(
        "-I", "--interval", type=errors.interval_ms, metavar="MS", help="print every MS milliseconds (default 1000)"
    )
    parser.add_argument("-n", "--count", type=errors.count, metavar="COUNT", help="stop after COUNT intervals")
    add_cpu_selectors(parser)
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


def add_cpu_selector(parser: argparse._ActionsContainer, help_text: str) -> None:
    parser.add_argument("-C", "--cpus", metavar="CPULIST", help=help_text)


def add_cpu_selectors(parser: argparse._ActionsContainer) -> None:
    add_cpu_selector(parser, "only these CPUs, e.g. 0-3,8")
    parser.add_argument(
        "--user", action="store_true", help="count cycles and instructions in user space only (perf's :u)"
    )


def add_task_selectors(parser: argparse._ActionsContainer) -> None:
    parser.add_argument("-p", "--pid", metavar="PID[,PID...]", help="follow these processes and all their threads")
    parser.add_argument("--comm", metavar="NAME", help="follow every process named NAME, including ones started later")


def select_cpus(text: str | None, topology: Topology) -> tuple[int, ...] | None:
    """The -C list, every CPU of it on this machine (None: all CPUs); else a UsageError."""
    if not text:
        return None
    try:
        cpus = parse_cpulist(text)
    except ValueError as exc:
        raise UsageError(f"-C {text}: {exc}") from None
    known = {cpu.cpu for cpu in topology.cpus}
    missing = [cpu for cpu in cpus if cpu not in known]
    if not cpus:
        raise UsageError(f"-C {text!r} selects no CPU")
    if missing:
        raise UsageError(
            f"-C {text}: no CPU {format_cpulist(missing)} on this machine (it has {format_cpulist(known)})"
        )
    return cpus


def parse_pids(text: str | None) -> tuple[int, ...]:
    """The -p list; a bad one is a UsageError."""
    if not text:
        return ()
    try:
        pids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise errors.UsageError(f"-p takes process ids separated by commas, not {text!r}") from None
    if any(pid <= 0 for pid in pids):
        raise errors.UsageError("process ids are positive numbers")
    return pids
