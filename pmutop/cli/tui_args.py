"""The command line of `pmutop` without a subcommand (the TUI), kept light like the other *_args modules."""

import argparse

from pmutop.cli import errors, stat_args


def add_tui_options(parser: argparse.ArgumentParser) -> None:
    """The TUI's options; `pmutop -h` lists them next to the subcommands."""
    group = parser.add_argument_group("the TUI (pmutop without a subcommand)")
    group.add_argument(
        "-I",
        "--interval",
        type=errors.interval_ms,
        metavar="MS",
        help="refresh every MS ms (default: the last session's, else 1000)",
    )
    stat_args.add_cpu_selector(group, "count only these CPUs, e.g. 0-3,8")
    stat_args.add_event_option(group)
    stat_args.add_task_selectors(group)
    group.add_argument(
        "--sysfs-root",
        default="/",
        metavar="PATH",
        help="only / works live; for a copied tree or snapshot use `pmutop topology --sysfs-root PATH`",
    )


def build_tui_parser() -> argparse.ArgumentParser:
    parser = errors.OneLineParser(
        prog="pmutop",
        usage="pmutop [-I MS] [-C CPULIST] [-p PID,... | --comm NAME] [-- COMMAND ARGS]",
        description="Live PMU counts per CPU and core type, with the topology beside them; follows tasks.",
        epilog="Subcommands: topology, snapshot, stat, record, replay (`pmutop COMMAND -h`).",
    )
    add_tui_options(parser)
    parser.add_argument("command_hint", nargs="*", help=argparse.SUPPRESS)
    return parser
