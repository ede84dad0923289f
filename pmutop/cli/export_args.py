"""The `pmutop export` command line (light: argparse only)."""

import argparse
from typing import TYPE_CHECKING

from pmutop.cli import errors, stat_args

if TYPE_CHECKING:
    from pmutop.export.server import ListenAddress


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="serve counts per CPU, core PMU and followed task as Prometheus/OpenMetrics /metrics",
        description="Serve /metrics (Prometheus text or OpenMetrics, by the Accept header) from the newest tick, "
        "on 127.0.0.1 unless told otherwise, and/or write a .prom file for node_exporter's textfile collector.",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to serve on (default 127.0.0.1:9768; port 0 picks a free one and prints it)",
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a --listen address that is not loopback")
    parser.add_argument(
        "--textfile",
        metavar="DIR",
        help="write DIR/pmutop.prom every interval, replaced atomically (serves HTTP too only with --listen)",
    )
    parser.add_argument(
        "-I", "--interval", type=errors.interval_ms, metavar="MS", help="sample every MS milliseconds (default 1000)"
    )
    stat_args.add_event_option(parser)
    stat_args.add_cpu_selectors(parser)
    stat_args.add_task_selectors(parser)
    parser.add_argument(
        "--input", metavar="FILE", help="export a `pmutop record` file, replayed at its recorded pace, not the kernel"
    )


def checked_address(args: argparse.Namespace) -> "ListenAddress | None":
    """The address to serve on (None: only --textfile), after the checks that make a bad command line a
    usage error (exit 2) before anything is opened."""
    from pmutop.export.server import DEFAULT_LISTEN, is_loopback, parse_listen

    if args.input and (args.cpus or args.user or args.pid or args.comm or args.event):
        raise errors.UsageError("--input replays a recording as it was: -C, --user, -e, -p and --comm do not apply")
    if args.listen is None and args.textfile is not None:
        return None
    try:
        address = parse_listen(args.listen or DEFAULT_LISTEN)
    except ValueError as exc:
        raise errors.UsageError(f"--listen: {exc}") from None
    if not args.allow_remote and not is_loopback(address.host):
        raise errors.UsageError(
            f"{address.host} is not a loopback address: anyone who can reach it can read what this machine runs; "
            "add --allow-remote to serve it anyway (and restrict it with a firewall)"
        )
    return address
