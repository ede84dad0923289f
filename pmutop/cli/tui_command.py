"""`pmutop` without a subcommand: the TUI over a live feed of this machine's counters."""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pmutop.cli import stat_args
from pmutop.cli.errors import UsageError, run_app
from pmutop.cli.stat_args import parse_pids
from pmutop.cli.tui_args import build_tui_parser

if TYPE_CHECKING:
    from pmutop.live.live_feed import LiveFeed
    from pmutop.tui.config import TuiConfig

DEFAULT_INTERVAL_MS = 1000


@contextlib.contextmanager
def _command_io_away_from_terminal(log_path: str) -> Iterator[None]:
    """While the followed command is spawned, point fds 0-2 away from the terminal so that it inherits
    /dev/null and a log file: its output would scribble over the TUI and it would steal keystrokes."""
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    devnull = os.open(os.devnull, os.O_RDONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        yield
    finally:
        for fd, copy in zip((0, 1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)
        os.close(log)


def run_tui(options_argv: list[str], command: list[str]) -> int:
    from pmutop.live.live_feed import LiveFeed
    from pmutop.tui.config import load_config

    args = build_tui_parser().parse_args(options_argv)
    if args.command_hint:
        raise UsageError(
            f"unknown subcommand {args.command_hint[0]!r} (topology, snapshot, stat, record, replay); "
            "to follow a command, put it after `--`, e.g. pmutop -- make -j4"
        )
    if os.path.abspath(args.sysfs_root) != "/":
        raise UsageError(
            "--sysfs-root works only with `/` for live counting; to look at another machine's PMUs use "
            f"`pmutop topology --sysfs-root {args.sysfs_root}`, or `pmutop replay FILE` on a recording made there"
        )
    config = load_config()
    if args.interval is None:
        args.interval = config.interval_ms or DEFAULT_INTERVAL_MS
    selection = stat_args.live_selection(args.cpus, args.event)
    pids = parse_pids(args.pid)
    log_path = None
    if command:
        handle, log_path = tempfile.mkstemp(prefix="pmutop-command-", suffix=".log")
        os.close(handle)
    try:
        with _command_io_away_from_terminal(log_path) if log_path else contextlib.nullcontext():
            feed = LiveFeed.create(
                args.interval / 1000,
                cpus=selection.cpus,
                pids=pids,
                comm=args.comm,
                command=command,
                topology=selection.topology,
                events=selection.events,
            )
        if isinstance(feed, str):
            print(f"pmutop: {feed}", file=sys.stderr)
            return 127 if command else 1
        return _run_app(feed, config)
    finally:
        if log_path:
            _report_command_log(log_path, command)


def _run_app(feed: "LiveFeed", config: "TuiConfig") -> int:
    from pmutop.tui.app import PmutopApp

    try:
        ended_badly = run_app(PmutopApp(feed, config=config), "pmutop", stop=feed.stop)
    finally:
        feed.stop()
    return ended_badly if ended_badly is not None else feed.exit_code()


def _report_command_log(path: str, command: list[str]) -> None:
    if os.path.getsize(path) == 0:
        os.unlink(path)
    else:
        print(f"pmutop: the output of {command[0]} is in {path}", file=sys.stderr)
