"""The `pmutop stat` command line, kept apart from the command so that `pmutop topology` stays light."""

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pmutop.cli import errors
from pmutop.cli.errors import UsageError
from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.live.topology_loader import LiveSelection
    from pmutop.model.event_resolve import EventGroupPlan

PERF_DIFFERENCES = """\
where pmutop stat differs from perf stat:
  - counting is system-wide by default (-a is accepted and changes nothing); -- CMD and -p PID also
    follow those tasks, and print perf's task summary (task-clock, CPUs utilized, ...) at the end;
  - the default output is one row per CPU and per core PMU (perf aggregates); -A also prints -e
    events per CPU; --per-core/--per-socket/--per-node sum CPU rows as perf does;
  - -e events print as counts per interval, each with its coverage (perf's run %); a scaled-up count
    ends in ~; an event a PMU lacks is n/a[N] on that PMU only, note N saying why;
  - modifiers p/P, S, W, e, b, R and G are refused (they concern sampling or perf's own machinery);
  - -j prints pmutop's JSON (one object per interval; --json), not perf's one object per counter;
  - -x SEP prints perf's CSV lines (count, unit, event, run time, run %) for the -e events and
    pmutop's own counters; --csv is pmutop's table as CSV;
  - -t TID follows the thread's whole process (pmutop follows processes and all their threads);
  - -r N repeats -- CMD N times and prints each summary figure as mean ± stddev (perf's +- %);
  - -n COUNT and --interval-count COUNT are the same; -I defaults to 1000 ms, and without -I or -n
    a -- CMD run prints only its summary, as perf does.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "stat",
        prog="pmutop stat",
        help="print counts per CPU and per core PMU every interval (like perf stat -I)",
        description="Count per CPU and per core PMU. With -p/--comm/-- CMD, also follow tasks: where they run, "
        "their residency and IPC per core type, and their migrations.",
        epilog=PERF_DIFFERENCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-I", "--interval", type=errors.interval_ms, metavar="MS", help="print every MS milliseconds (default 1000)"
    )
    parser.add_argument(
        "-n",
        "--count",
        "--interval-count",
        type=errors.count,
        metavar="COUNT",
        dest="count",
        help="stop after COUNT intervals",
    )
    add_cpu_selectors(parser)
    parser.add_argument(
        "-a", "--all-cpus", action="store_true", help="system-wide: pmutop's default, accepted for perf"
    )
    add_event_option(parser)
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--per-pmu", action="store_true", help="print only the per core PMU aggregate rows")
    rows.add_argument(
        "-A", "--no-aggr", action="store_true", help="one row per CPU (the default table) and -e events per CPU"
    )
    rows.add_argument("--per-core", action="store_true", help="sum CPUs per physical core (S0-D0-C1)")
    rows.add_argument("--per-socket", action="store_true", help="sum CPUs per socket (S0)")
    rows.add_argument("--per-node", action="store_true", help="sum CPUs per NUMA node (N0)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("-j", "--json", action="store_true", help="one JSON object per interval per line")
    output.add_argument("--csv", action="store_true", help="pmutop's table as CSV rows")
    output.add_argument(
        "-x", "--field-separator", metavar="SEP", dest="separator", help="perf's CSV: one line per counter, SEP between"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument(
        "-r", "--repeat", type=int, metavar="N", help="run -- CMD N times; print the summary as mean ± stddev"
    )
    add_task_selectors(parser)
    parser.add_argument(
        "-t", "--tid", metavar="TID[,TID...]", help="follow the processes these threads belong to (see below)"
    )
    parser.add_argument("--input", metavar="FILE", help="compute from a `pmutop record` file instead of the kernel")
    parser.add_argument("--sysfs-root", default="/", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument(
        "command_hint", nargs="*", metavar="-- COMMAND", help="run COMMAND and follow it until it exits"
    )
    return parser


def add_event_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "-e",
        "--event",
        action="append",
        default=[],
        metavar="LIST",
        help="also count these events, in perf's syntax (repeatable): cycles, branch-misses, L1-dcache-load-misses, "
        "cpu_core/event=0x3c/, r1a8, sched:sched_switch, {a,b} groups, :u/:k/:h/:I/:H/:D modifiers. "
        "A hardware event without a PMU counts on every core PMU, shown per PMU as perf does",
    )


def event_plans(texts: Sequence[str], topology: "Topology") -> "tuple[EventGroupPlan, ...]":
    """The -e lists resolved on `topology`; a bad one is a usage error (exit 2), for every command."""
    from pmutop.live.event_list import EventListError, event_groups

    try:
        return event_groups(texts, topology)
    except EventListError as exc:
        raise errors.UsageError(f"-e: {exc}") from None


def live_selection(cpus_text: str | None, event_texts: Sequence[str]) -> "LiveSelection":
    """This machine's topology with the -C list and -e lists checked on it; a bad one is a usage error."""
    from pmutop.kernel.sysfs import read_sysfs_any
    from pmutop.live.topology_loader import LiveSelection, topology_of

    sysfs = read_sysfs_any("/")
    topology = topology_of(sysfs)
    return LiveSelection(sysfs, topology, select_cpus(cpus_text, topology), event_plans(event_texts, topology))


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
