"""The `pmutop record` and `pmutop replay` command lines (light: argparse only)."""

import argparse


def _pid_list(text: str) -> tuple[int, ...]:
    try:
        pids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a PID list: {text!r}") from None
    if not pids or any(pid <= 0 for pid in pids):
        raise argparse.ArgumentTypeError(f"not a PID list: {text!r}")
    return pids


def add_record_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "record",
        help="record raw counts to a file for `pmutop replay` (format: pmutop/recording/format.py)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write (.gz compresses)")
    parser.add_argument("-I", "--interval", type=int, default=1000, metavar="MS", help="tick interval (default 1000)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("-n", "--count", type=int, metavar="COUNT", help="stop after COUNT intervals")
    length.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("-p", "--pid", type=_pid_list, default=(), metavar="PID,...", help="follow these processes")
    parser.add_argument("--comm", metavar="NAME", help="follow processes with this name")


def add_replay_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("replay", help="replay a recording in the TUI (that machine's PMUs and CPUs)")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X", help="playback speed (default 1)")
