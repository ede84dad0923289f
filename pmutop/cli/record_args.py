"""The `pmutop record` and `pmutop replay` command lines (light: argparse only)."""

import argparse

from pmutop.cli import errors, stat_args


def add_record_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "record",
        prog="pmutop record",
        help="record raw counts to a file for `pmutop replay` (format: pmutop/recording/format.py)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write (.gz compresses)")
    parser.add_argument(
        "-I", "--interval", type=errors.interval_ms, default=1000, metavar="MS", help="tick interval (default 1000)"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("-n", "--count", type=errors.count, metavar="COUNT", help="stop after COUNT intervals")
    length.add_argument("--duration", type=errors.duration_s, metavar="S", help="stop after S seconds")
    stat_args.add_cpu_selector(parser, "record only these CPUs, e.g. 0-3,8")
    stat_args.add_event_option(parser)
    stat_args.add_task_selectors(parser)


def add_replay_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "replay", prog="pmutop replay", help="replay a recording in the TUI (that machine's PMUs and CPUs)"
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--speed", type=errors.speed, default=1.0, metavar="X", help="playback speed (default 1)")
